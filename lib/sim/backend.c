/*
 * lib/sim/backend.c - the "sim:" backend: a simulated SCSI target (target.c)
 * behind the core's backend ops table, RAM- or file-backed.
 */
#include "core/backend.h"
#include "sim/backend.h"
#include "sim/target.h"
#include "sim/target_fast.h"
#include "sim/transport.h"
#include "util/byteorder.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#define SIM_OPTIONS "size=SIZE, image=PATH, luns=N (1-256), block-size=512|1024|2048|4096, " \
	"readonly, type=disk|cdrom, null, thick, queues=N (1-64), histograms, hold=LBA, transport=NAME, " \
	"ata, bridge=jmicron, ata-fault=" SIM_ATA_FAULT_NAMES ", ie=failing, " \
	"temperature=C (1-120), power-page=yes|no, scsi-fault=OP/KEY/ASC/ASCQ|OP/STATUS[+...], " \
	OSTORI_BCACHE_SPEC_OPTIONS
#define SIM_ATA_FAULT_NAMES "failing|prefail|no-registers|no-pt16|no-pt12[+...]"

#define SIM_DEFAULT_QUEUES 4
#define SIM_DEFAULT_SIZE (64ull << 20)
#define SIM_MAX_TRANSFER (8u << 20)

struct sim_device {
	struct sim_target *target;
	int fd;
	const struct sim_transport_ops *transport;  /* NULL: CDBs go straight to the target */
	void *transport_priv;
	struct sim_device *next_polled;             /* in sim_context.polled */
	ostor_device *dev;
	unsigned int queues;                        /* without transport= */
	/* hold=LBA: reads and writes of that block are held, not executed,
	 * until cancelled (aborted) or their timeout (a device that hangs
	 * on one command, for task management and the live tools). */
	bool hold;
	uint64_t hold_lba;
	pthread_mutex_t hold_lock;
	struct held *held;
};

struct held {
	ostor_task *task;
	uint64_t deadline_ms;
	struct held *next;
};

/* Per context: the devices whose transport model needs the event loop. */
struct sim_context {
	pthread_mutex_t lock;
	struct sim_device *polled;
};

static struct sim_context *sim_ctx(ostor_context *ctx)
{
	return ctx->backend_data[ostori_backend_index(&ostori_sim_backend)];
}

static int sim_init(ostor_context *ctx)
{
	struct sim_context *sc = calloc(1, sizeof(*sc));

	if (!sc)
		return ostori_error(OSTOR_ERROR_NO_MEM, "out of memory");
	pthread_mutex_init(&sc->lock, NULL);
	ctx->backend_data[ostori_backend_index(&ostori_sim_backend)] = sc;
	return 0;
}

static void sim_exit(ostor_context *ctx)
{
	struct sim_context *sc = sim_ctx(ctx);

	if (!sc)
		return;
	pthread_mutex_destroy(&sc->lock);
	free(sc);
	ctx->backend_data[ostori_backend_index(&ostori_sim_backend)] = NULL;
}

static const struct sim_transport_ops *find_transport(const char *name)
{
	for (int k = 0; ostori_sim_transport_tables[k]; k++)
		for (int i = 0; ostori_sim_transport_tables[k][i]; i++)
			if (!strcmp(ostori_sim_transport_tables[k][i]->name, name))
				return ostori_sim_transport_tables[k][i];
	return NULL;
}

static void transport_names(char *buf, size_t len)
{
	size_t n = 0;

	buf[0] = '\0';
	for (int k = 0; ostori_sim_transport_tables[k]; k++) {
		const struct sim_transport_ops *const *tbl = ostori_sim_transport_tables[k];

		for (int i = 0; tbl[i] && n < len; i++)
			n += (size_t)snprintf(buf + n, len - n, "%s%s", n ? ", " : "", tbl[i]->name);
	}
	if (!buf[0])
		snprintf(buf, len, "none in this version");
}

static int sim_enumerate(ostor_context *ctx, struct ostori_devlist *list)
{
	return ostori_devlist_add(list, "sim", "sim:",
				  "simulated SCSI disk, 64 MiB in RAM (options: %s)", SIM_OPTIONS);
}

static int opt_u64(struct ostor_spec *spec, const char *key, uint64_t max, uint64_t *out, bool size)
{
	const struct ostor_spec_option *o = ostori_spec_get(spec, key);

	if (!o)
		return 0;
	if (!o->value || (size ? ostori_parse_size(o->value, out) : ostori_parse_u64(o->value, UINT64_MAX, out)))
		return ostori_error(OSTOR_ERROR_BAD_SPEC, "sim option %s=%s: expected %s",
				    key, o->value ? o->value : "",
				    size ? "a size such as 64M, 1G or 4096 (K, M, G, T suffixes)"
					 : "a whole number");
	if (*out > max)
		return ostori_error(OSTOR_ERROR_BAD_SPEC, "sim option %s=%s: at most %llu",
				    key, o->value, (unsigned long long)max);
	return 1;
}

/* scsi-fault=OP/KEY/ASC/ASCQ or OP/STATUS (hex bytes), several joined by
 * '+': every command with opcode OP, on every LUN, ends with CHECK
 * CONDITION and that sense, or with that bare status, unexecuted.  With
 * t NULL only checks the option. */
static int scsi_faults(const struct ostor_spec_option *o, struct sim_target *t, uint32_t luns)
{
	char buf[256], *save = NULL;

	if (!o)
		return 0;
	if (!o->value || strlen(o->value) >= sizeof(buf))
		return ostori_error(OSTOR_ERROR_BAD_SPEC, "sim option scsi-fault: expected "
				    "scsi-fault=OP/KEY/ASC/ASCQ or OP/STATUS (hex), joined by +");
	snprintf(buf, sizeof(buf), "%s", o->value);
	for (char *tok = strtok_r(buf, "+", &save); tok; tok = strtok_r(NULL, "+", &save)) {
		unsigned int v[4];
		int n = 0, used = 0, r = 0;

		n = sscanf(tok, "%2x/%2x/%2x/%2x%n", &v[0], &v[1], &v[2], &v[3], &used);
		if (n != 4 || tok[used]) {
			used = 0;
			n = sscanf(tok, "%2x/%2x%n", &v[0], &v[1], &used);
			if (n != 2 || tok[used])
				n = 0;
		}
		if (n == 0)
			return ostori_error(OSTOR_ERROR_BAD_SPEC, "sim option scsi-fault: '%s' is not "
					    "OP/KEY/ASC/ASCQ or OP/STATUS (hex bytes, e.g. 28/03/11/00 or 00/08)", tok);
		for (uint32_t lun = 0; t && lun < luns && r == 0; lun++)
			r = n == 4 ? sim_target_inject_check(t, lun, (int)v[0], SIM_FAULT_FOREVER, (uint8_t)v[1],
							     (uint8_t)v[2], (uint8_t)v[3])
				   : sim_target_inject_status(t, lun, (int)v[0], SIM_FAULT_FOREVER, (uint8_t)v[1]);
		if (r < 0)
			return ostori_error_wrap(r, "sim option scsi-fault=%s", tok);
	}
	return 0;
}

/* The health and power models every LU gets (see struct sim_lu_config). */
struct health_opts {
	int ata;
	unsigned int ata_faults;
	bool ie_failing;
	uint8_t temperature;
	bool no_power_page;
};

static const struct {
	const char *name;
	unsigned int bit;
} ata_faults[] = {
	{ "failing", SIM_ATA_FAULT_FAILING },
	{ "prefail", SIM_ATA_FAULT_PREFAIL },
	{ "no-registers", SIM_ATA_FAULT_NO_REGISTERS },
	{ "no-pt16", SIM_ATA_FAULT_NO_PT16 },
	{ "no-pt12", SIM_ATA_FAULT_NO_PT12 },
};

static int health_options(struct ostor_spec *spec, bool cdrom, struct health_opts *h)
{
	const struct ostor_spec_option *o;
	uint64_t temp;
	int r;

	memset(h, 0, sizeof(*h));
	o = ostori_spec_get(spec, "ata");
	if (o) {
		if (o->value)
			return ostori_error(OSTOR_ERROR_BAD_SPEC, "sim option ata takes no value "
					    "(an ATA disk behind a SAT bridge; bridge=jmicron for a JMicron one)");
		h->ata = SIM_ATA_SAT;
	}
	o = ostori_spec_get(spec, "bridge");
	if (o) {
		const char *v = o->value ? o->value : "";

		if (!strcmp(v, "jmicron"))
			h->ata = SIM_ATA_JMICRON;
		else if (!strcmp(v, "sunplus") || !strcmp(v, "cypress"))
			return ostori_error(OSTOR_ERROR_BAD_SPEC, "sim option bridge=%s: the %s bridge is not "
					    "modelled; bridges: jmicron (or ata for a SAT bridge)", v, v);
		else
			return ostori_error(OSTOR_ERROR_BAD_SPEC, "sim option bridge=%s: unknown bridge; "
					    "bridges: jmicron (or ata for a SAT bridge)", v);
	}
	o = ostori_spec_get(spec, "ata-fault");
	if (o) {
		char buf[256], *save = NULL, *tok;

		if (!h->ata)
			return ostori_error(OSTOR_ERROR_BAD_SPEC, "sim option ata-fault needs an ATA disk: "
					    "add ata or bridge=jmicron");
		if (!o->value || !*o->value || strlen(o->value) >= sizeof(buf))
			return ostori_error(OSTOR_ERROR_BAD_SPEC, "sim option ata-fault needs faults: ata-fault=%s",
					    SIM_ATA_FAULT_NAMES);
		snprintf(buf, sizeof(buf), "%s", o->value);
		for (tok = strtok_r(buf, "+", &save); tok; tok = strtok_r(NULL, "+", &save)) {
			size_t i;

			for (i = 0; i < OSTOR_ARRAY_SIZE(ata_faults); i++)
				if (!strcmp(tok, ata_faults[i].name))
					break;
			if (i == OSTOR_ARRAY_SIZE(ata_faults))
				return ostori_error(OSTOR_ERROR_BAD_SPEC, "sim option ata-fault=%s: unknown fault "
						    "'%s'; faults: %s", o->value, tok, SIM_ATA_FAULT_NAMES);
			h->ata_faults |= ata_faults[i].bit;
		}
	}
	o = ostori_spec_get(spec, "ie");
	if (o) {
		if (!o->value || strcmp(o->value, "failing"))
			return ostori_error(OSTOR_ERROR_BAD_SPEC, "sim option ie=%s: expected ie=failing",
					    o->value ? o->value : "");
		h->ie_failing = true;
	}
	if ((r = opt_u64(spec, "temperature", 120, &temp, false)) < 0)
		return r;
	if (r == 1) {
		if (temp == 0)
			return ostori_error(OSTOR_ERROR_BAD_SPEC, "sim option temperature=0: "
					    "expected 1 to 120 (Celsius)");
		h->temperature = (uint8_t)temp;
	}
	o = ostori_spec_get(spec, "power-page");
	if (o) {
		if (o->value && !strcmp(o->value, "no"))
			h->no_power_page = true;
		else if (!o->value || strcmp(o->value, "yes"))
			return ostori_error(OSTOR_ERROR_BAD_SPEC, "sim option power-page=%s: expected yes or no",
					    o->value ? o->value : "");
	}
	if (cdrom && h->ata)
		return ostori_error(OSTOR_ERROR_BAD_SPEC, "sim options ata and bridge= model a disk: "
				    "drop type=cdrom");
	return 0;
}

static int open_image(ostor_device *dev, const char *path, bool readonly, bool size_given,
		      uint64_t *lun_bytes, uint32_t nluns, uint32_t block_size)
{
	struct sim_device *sd = ostori_device_priv(dev);
	struct stat st;
	bool created = false;
	int fd;

	fd = open(path, (readonly ? O_RDONLY : O_RDWR) | O_CLOEXEC);
	if (fd < 0 && errno == ENOENT && !readonly) {
		fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
		created = fd >= 0;
	}
	if (fd < 0)
		return ostori_error(errno == EACCES || errno == EPERM ? OSTOR_ERROR_ACCESS : OSTOR_ERROR_IO,
				    "sim image %s: %s%s", path, strerror(errno),
				    errno != ENOENT ? "" : readonly ? " (a read-only image must already exist)"
								    : " (its directory must exist)");
	/* Two processes writing one image would corrupt it. */
	if (flock(fd, (readonly ? LOCK_SH : LOCK_EX) | LOCK_NB) < 0) {
		close(fd);
		return ostori_error(OSTOR_ERROR_BUSY, "sim image %s is in use by another process", path);
	}
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		close(fd);
		return ostori_error(OSTOR_ERROR_INVALID_PARAM, "sim image %s is not a regular file", path);
	}
	if (created) {
		if (ftruncate(fd, (off_t)(*lun_bytes * nluns)) < 0) {
			int e = errno;

			unlink(path);
			close(fd);
			return ostori_error(OSTOR_ERROR_IO, "cannot size sim image %s to %llu bytes: %s",
					    path, (unsigned long long)(*lun_bytes * nluns), strerror(e));
		}
	} else if (size_given) {
		if ((uint64_t)st.st_size < *lun_bytes * nluns) {
			close(fd);
			return ostori_error(OSTOR_ERROR_INVALID_PARAM,
					    "sim image %s has %llu bytes but size=%llu x luns=%u needs %llu; "
					    "drop size= to use the file as it is, or name a new file",
					    path, (unsigned long long)st.st_size, (unsigned long long)*lun_bytes,
					    nluns, (unsigned long long)(*lun_bytes * nluns));
		}
	} else {
		uint64_t per = (uint64_t)st.st_size / nluns;

		per -= per % block_size;
		if (per == 0) {
			close(fd);
			return ostori_error(OSTOR_ERROR_INVALID_PARAM,
					    "sim image %s (%llu bytes) is smaller than one %u-byte block per LUN; "
					    "give size= to create a fresh image",
					    path, (unsigned long long)st.st_size, block_size);
		}
		*lun_bytes = per;
	}
	sd->fd = fd;
	return 0;
}

static int sim_open(ostor_device *dev, const struct ostor_spec *cspec)
{
	struct sim_device *sd = ostori_device_priv(dev);
	struct ostor_spec spec = *cspec;
	const struct ostor_spec_option *o, *scsi_fault;
	uint64_t size = SIM_DEFAULT_SIZE, luns = 1, bs = 0, queues = SIM_DEFAULT_QUEUES;
	bool readonly = false, size_given, cdrom = false, null = false, histograms = false, thick = false;
	const char *image = NULL;
	struct health_opts health;
	int r;

	sd->fd = -1;
	if ((r = opt_u64(&spec, "size", UINT64_MAX, &size, true)) < 0)
		return r;
	size_given = r == 1;
	if ((r = opt_u64(&spec, "luns", 256, &luns, false)) < 0)
		return r;
	if (luns == 0)
		return ostori_error(OSTOR_ERROR_BAD_SPEC, "sim option luns=0: a device needs 1 to 256 LUNs");
	if ((r = opt_u64(&spec, "block-size", 4096, &bs, false)) < 0)
		return r;
	o = ostori_spec_get(&spec, "type");
	if (o) {
		if (o->value && !strcmp(o->value, "cdrom"))
			cdrom = true;
		else if (!o->value || strcmp(o->value, "disk"))
			return ostori_error(OSTOR_ERROR_BAD_SPEC,
					    "sim option type=%s: expected type=disk or type=cdrom",
					    o->value ? o->value : "");
	}
	if (!bs)
		bs = cdrom ? 2048 : 512;
	if (bs != 512 && bs != 1024 && bs != 2048 && bs != 4096)
		return ostori_error(OSTOR_ERROR_BAD_SPEC,
				    "sim option block-size=%llu: expected 512, 1024, 2048 or 4096",
				    (unsigned long long)bs);
	if ((r = health_options(&spec, cdrom, &health)) < 0)
		return r;
	o = ostori_spec_get(&spec, "readonly");
	if (o) {
		if (o->value)
			return ostori_error(OSTOR_ERROR_BAD_SPEC, "sim option readonly takes no value");
		readonly = true;
	}
	o = ostori_spec_get(&spec, "null");
	if (o) {
		if (o->value)
			return ostori_error(OSTOR_ERROR_BAD_SPEC, "sim option null takes no value");
		null = true;
	}
	o = ostori_spec_get(&spec, "thick");
	if (o) {
		if (o->value)
			return ostori_error(OSTOR_ERROR_BAD_SPEC, "sim option thick takes no value");
		thick = true;
	}
	o = ostori_spec_get(&spec, "histograms");
	if (o) {
		if (o->value)
			return ostori_error(OSTOR_ERROR_BAD_SPEC, "sim option histograms takes no value");
		histograms = true;
	}
	o = ostori_spec_get(&spec, "image");
	if (o) {
		if (null)
			return ostori_error(OSTOR_ERROR_BAD_SPEC, "sim options null and image exclude each other: "
					    "a null device stores nothing");
		if (!o->value)
			return ostori_error(OSTOR_ERROR_BAD_SPEC, "sim option image needs a path: image=PATH");
		image = o->value;
	}
	o = ostori_spec_get(&spec, "transport");
	if (o) {
		char names[256];

		transport_names(names, sizeof(names));
		if (!o->value)
			return ostori_error(OSTOR_ERROR_BAD_SPEC,
					    "sim option transport needs a value; transports: %s", names);
		sd->transport = find_transport(o->value);
		if (!sd->transport)
			return ostori_error(OSTOR_ERROR_BAD_SPEC,
					    "sim option transport=%s: unknown transport; transports: %s",
					    o->value, names);
	}
	o = ostori_spec_get(&spec, "hold");
	if (o) {
		char *end;

		if (sd->transport)
			return ostori_error(OSTOR_ERROR_BAD_SPEC, "sim option hold works on the plain simulated "
					    "device, not with transport=%s", sd->transport->name);
		errno = 0;
		sd->hold_lba = o->value ? strtoull(o->value, &end, 0) : 0;
		if (!o->value || !*o->value || *end || errno)
			return ostori_error(OSTOR_ERROR_BAD_SPEC, "sim option hold needs a block number: hold=LBA");
		sd->hold = true;
	}
	/* Queues of the plain sim (a model has its own queues= or none). */
	if (!sd->transport) {
		if ((r = opt_u64(&spec, "queues", 64, &queues, false)) < 0)
			return r;
		if (queues == 0)
			return ostori_error(OSTOR_ERROR_BAD_SPEC, "sim option queues=0: 1 to 64 queues");
		sd->queues = (unsigned int)queues;
	}
	scsi_fault = ostori_spec_get(&spec, "scsi-fault");
	if ((r = scsi_faults(scsi_fault, NULL, 0)) < 0)
		return r;
	/* Without a model every option is known now: refuse typos before an
	 * image file gets created. */
	if (!sd->transport && (r = ostori_spec_check_unused(&spec, SIM_OPTIONS)) < 0)
		return r;
	if (size < bs || size % bs)
		return ostori_error(OSTOR_ERROR_BAD_SPEC,
				    "sim option size=%llu: must be a non-zero multiple of the %llu-byte block size",
				    (unsigned long long)size, (unsigned long long)bs);
	if (luns > 1 && size > UINT64_MAX / luns)
		return ostori_error(OSTOR_ERROR_BAD_SPEC, "sim: size x luns overflows");
	if (image) {
		r = open_image(dev, image, readonly || cdrom, size_given, &size, (uint32_t)luns, (uint32_t)bs);
		if (r < 0)
			return r;
	}

	sd->target = sim_target_new();
	if (!sd->target) {
		r = ostori_error(OSTOR_ERROR_NO_MEM, "out of memory creating the simulated target");
		goto fail;
	}
	for (uint32_t i = 0; i < luns; i++) {
		struct sim_lu_config lc;

		sim_lu_config_init(&lc);
		lc.type = cdrom ? OSTOR_TYPE_CDROM : OSTOR_TYPE_DISK;
		lc.block_size = (uint32_t)bs;
		lc.blocks = size / bs;
		lc.readonly = readonly || cdrom;
		lc.removable = cdrom;
		lc.fd = sd->fd;
		lc.fd_offset = image ? size * i : 0;
		lc.null = null;
		lc.thick = thick;
		lc.ata = health.ata;
		lc.ata_faults = health.ata_faults;
		lc.ie_failing = health.ie_failing;
		lc.temperature = health.temperature;
		lc.no_power_page = health.no_power_page;
		r = sim_target_add_lu(sd->target, i, &lc);
		if (r < 0) {
			r = ostori_error_wrap(r, "cannot create simulated LUN %u", i);
			goto fail;
		}
	}
	if ((r = scsi_faults(scsi_fault, sd->target, (uint32_t)luns)) < 0)
		goto fail;
	/* Over a USB model the device is the bridge (JMicron JM20337). */
	if (health.ata == SIM_ATA_JMICRON)
		sim_target_set_usb_ids(sd->target, SIM_JMICRON_USB_VID, SIM_JMICRON_USB_PID);
	dev->max_target = 0;
	dev->max_lun = (uint32_t)luns - 1;
	dev->max_transfer_bytes = SIM_MAX_TRANSFER;
	dev->max_segments = OSTOR_IOV_MAX;
	sd->dev = dev;
	if (sd->transport) {
		/* The model takes its own options; report leftovers after. */
		r = sd->transport->open(dev, sd->target, &spec, &sd->transport_priv);
		if (r < 0)
			goto fail;
	}
	/* Latency histograms from the start (else as the model's
	 * configuration says; ostor_stats_histograms() switches them). */
	if (histograms)
		ostor_stats_histograms(dev, 1);
	r = ostori_spec_check_unused(&spec, sd->transport && sd->transport->options ?
				     sd->transport->options : SIM_OPTIONS);
	if (r < 0) {
		if (sd->transport)
			sd->transport->close(dev, sd->transport_priv);
		goto fail;
	}
	pthread_mutex_init(&sd->hold_lock, NULL);
	if (sd->hold || (sd->transport && (sd->transport->poll || sd->transport->pollfds || sd->transport->next_timeout))) {
		struct sim_context *sc = sim_ctx(dev->ctx);

		pthread_mutex_lock(&sc->lock);
		sd->next_polled = sc->polled;
		sc->polled = sd;
		pthread_mutex_unlock(&sc->lock);
	}
	snprintf(dev->description, sizeof(dev->description),
		 "simulated %s, %u LUN%s of %llu x %llu-byte blocks%s%s%s%s%s",
		 cdrom ? "CD-ROM" : health.ata == SIM_ATA_SAT ? "ATA disk behind SAT" :
		 health.ata == SIM_ATA_JMICRON ? "ATA disk behind JMicron" : "disk", (unsigned)luns, luns > 1 ? "s" : "",
		 (unsigned long long)(size / bs), (unsigned long long)bs,
		 readonly ? ", read-only" : "", image ? ", image " : null ? ", null (no data stored)" : ", in RAM",
		 image ? image : "",
		 sd->transport ? ", behind a simulated " : "", sd->transport ? sd->transport->name : "");
	return 0;
fail:
	if (sd->target)
		sim_target_free(sd->target);
	sd->target = NULL;
	if (sd->fd >= 0)
		close(sd->fd);
	sd->fd = -1;
	return r;
}

static void sim_close(ostor_device *dev)
{
	struct sim_device *sd = ostori_device_priv(dev);
	struct sim_context *sc = sim_ctx(dev->ctx);
	struct sim_device **pp;

	pthread_mutex_lock(&sc->lock);
	for (pp = &sc->polled; *pp; pp = &(*pp)->next_polled) {
		if (*pp == sd) {
			*pp = sd->next_polled;
			break;
		}
	}
	pthread_mutex_unlock(&sc->lock);
	if (sd->transport)
		sd->transport->close(dev, sd->transport_priv);
	pthread_mutex_destroy(&sd->hold_lock);
	sim_target_free(sd->target);
	if (sd->fd >= 0)
		close(sd->fd);
}

/* ---- held commands (hold=LBA) ---------------------------------------------- */

/* A READ or WRITE whose blocks include the held one. */
static bool hits_hold(const struct sim_device *sd, const ostor_task *t)
{
	const uint8_t *c = t->cdb;
	uint64_t lba;
	uint32_t n;

	switch (c[0]) {
	case OSTOR_SCSI_OP_READ6: case OSTOR_SCSI_OP_WRITE6:
		lba = ostori_get_be24(c + 1) & 0x1fffff;
		n = c[4] ? c[4] : 256;
		break;
	case OSTOR_SCSI_OP_READ10: case OSTOR_SCSI_OP_WRITE10:
		lba = ostori_get_be32(c + 2);
		n = ostori_get_be16(c + 7);
		break;
	case OSTOR_SCSI_OP_READ12: case OSTOR_SCSI_OP_WRITE12:
		lba = ostori_get_be32(c + 2);
		n = ostori_get_be32(c + 6);
		break;
	case OSTOR_SCSI_OP_READ16: case OSTOR_SCSI_OP_WRITE16:
		lba = ostori_get_be64(c + 2);
		n = ostori_get_be32(c + 10);
		break;
	default:
		return false;
	}
	return sd->hold_lba >= lba && sd->hold_lba - lba < n;
}

static void hold_task(struct sim_device *sd, ostor_task *t, struct held *h)
{
	h->task = t;
	h->deadline_ms = ostori_now_ms() + t->timeout_ms;
	pthread_mutex_lock(&sd->hold_lock);
	h->next = sd->held;
	sd->held = h;
	pthread_mutex_unlock(&sd->hold_lock);
	ostor_dbg(t->dev->ctx, "%s: holding a command to LBA %llu (hold=)", t->dev->spec,
		  (unsigned long long)sd->hold_lba);
}

/* Take t (or, t NULL, one whose deadline passed) off the held list. */
static ostor_task *unhold(struct sim_device *sd, ostor_task *t, uint64_t now_ms)
{
	ostor_task *found = NULL;

	pthread_mutex_lock(&sd->hold_lock);
	for (struct held **pp = &sd->held; *pp; pp = &(*pp)->next) {
		if (t ? (*pp)->task == t : (*pp)->deadline_ms <= now_ms) {
			found = (*pp)->task;
			*pp = (*pp)->next;
			break;
		}
	}
	pthread_mutex_unlock(&sd->hold_lock);
	return found;
}

/* Held commands whose timeout passed: TIMEOUT. */
static int expire_held(struct sim_device *sd)
{
	uint64_t now = ostori_now_ms();
	ostor_task *t;
	int n = 0;

	while ((t = unhold(sd, NULL, now)) != NULL) {
		ostor_info(t->dev->ctx, "%s: a held command timed out", t->dev->spec);
		ostori_task_finish(t, OSTOR_RESULT_TIMEOUT, -1, NULL, 0, 0);
		n++;
	}
	return n;
}

/* Milliseconds until the first held command times out, or -1. */
static int held_timeout(struct sim_device *sd)
{
	uint64_t now = ostori_now_ms(), first = UINT64_MAX;

	pthread_mutex_lock(&sd->hold_lock);
	for (struct held *h = sd->held; h; h = h->next)
		if (h->deadline_ms < first)
			first = h->deadline_ms;
	pthread_mutex_unlock(&sd->hold_lock);
	if (first == UINT64_MAX)
		return -1;
	return first <= now ? 0 : (int)OSTOR_MIN(first - now, (uint64_t)INT32_MAX);
}

/* The target runs the command to completion right here; the core defers
 * the callback to the event loop, so this is still asynchronous to the
 * caller. */
static int sim_submit(ostor_task *t)
{
	struct sim_device *sd = ostori_device_priv(t->dev);
	enum ostor_result res;
	struct sim_cmd cmd;

	if (sd->transport)
		return sd->transport->submit(t, sd->transport_priv);
	if (OSTOR_UNLIKELY(sd->hold) && hits_hold(sd, t)) {
		/* The task's backend data holds the list entry. */
		hold_task(sd, t, ostori_task_priv(t));
		return 0;
	}
	/* One buffer, a null LU's READ or WRITE: no command block at all. */
	if (OSTOR_LIKELY(t->iovcnt == 1 && t->target == 0)) {
		size_t n;

		if (sim_target_execute_fast(sd->target, t->lun, t->cdb, t->cdb_len, t->dir, t->data_len, &n)) {
			ostori_task_finish(t, OSTOR_RESULT_GOOD, OSTOR_SCSI_STATUS_GOOD, NULL, 0, n);
			return 0;
		}
	}

	if (t->target != 0) {
		ostor_dbg(t->dev->ctx, "%s: no target %u (only target 0)", t->dev->spec, t->target);
		ostori_task_finish(t, OSTOR_RESULT_TRANSPORT_ERROR, -1, NULL, 0, 0);
		return 0;
	}
	/* Only the inputs: the target sets every result (no memset of the
	 * sense buffer per command). */
	cmd.lun = t->lun;
	cmd.cdb = t->cdb;
	cmd.cdb_len = t->cdb_len;
	cmd.dir = t->dir;
	cmd.iov = t->iov;
	cmd.iovcnt = t->iovcnt;
	sim_target_execute(sd->target, &cmd);
	res = ostori_result_of_status(cmd.status);
	/* More data than the buffer: not GOOD, on every transport. */
	if (OSTOR_UNLIKELY(cmd.overrun) && res == OSTOR_RESULT_GOOD)
		res = OSTOR_RESULT_OVERRUN;
	ostori_task_finish(t, res, cmd.status, cmd.sense, cmd.sense_len, cmd.transferred);
	return 0;
}

static int sim_cancel(ostor_task *t)
{
	struct sim_device *sd = ostori_device_priv(t->dev);

	if (sd->transport && sd->transport->cancel)
		return sd->transport->cancel(t, sd->transport_priv);
	/* Direct commands complete inside submit, but a held one waits. */
	if (sd->hold && unhold(sd, t, 0))
		ostori_task_finish(t, OSTOR_RESULT_ABORTED, -1, NULL, 0, 0);
	return 0;
}

static int sim_reset(ostor_device *dev, enum ostor_reset_level level, uint32_t target, uint32_t lun)
{
	struct sim_device *sd = ostori_device_priv(dev);

	if (sd->transport)
		return sd->transport->reset ? sd->transport->reset(dev, sd->transport_priv, level, target, lun)
					    : ostori_error(OSTOR_ERROR_NOT_SUPPORTED, "%s: the %s model cannot reset",
							   dev->spec, sd->transport->name);
	/* Direct commands complete inside submit: only the target's state
	 * (and its unit attention) changes.  It has no per-LU reset. */
	sim_target_reset(sd->target);
	return level == OSTOR_RESET_LUN ? 1 : 0;
}

/* Queues: the plain sim completes inside submit, so a queue is only the
 * core's channel; a model may have real ones (virtio request queues). */
static unsigned int sim_queue_count(ostor_device *dev)
{
	struct sim_device *sd = ostori_device_priv(dev);

	if (sd->transport)
		return sd->transport->queue_count ? sd->transport->queue_count(dev, sd->transport_priv) : 1;
	return sd->queues;
}

static int sim_queue_acquire(ostor_device *dev, unsigned int index)
{
	struct sim_device *sd = ostori_device_priv(dev);

	if (sd->transport && sd->transport->queue_acquire)
		return sd->transport->queue_acquire(dev, sd->transport_priv, index);
	return (int)index;
}

static void sim_queue_release(ostor_device *dev)
{
	struct sim_device *sd = ostori_device_priv(dev);

	if (sd->transport && sd->transport->queue_release)
		sd->transport->queue_release(dev, sd->transport_priv);
}

static int sim_queue_poll(ostor_device *dev)
{
	struct sim_device *sd = ostori_device_priv(dev);

	if (!sd->transport)
		return sd->hold ? expire_held(sd) : 0;
	if (sd->transport->queue_poll)
		return sd->transport->queue_poll(dev, sd->transport_priv);
	/* A model with one queue reaps through its event-loop poll. */
	return sd->transport->poll ? sd->transport->poll(dev, sd->transport_priv) : 0;
}

static void *sim_dma_alloc(ostor_device *dev, size_t size)
{
	struct sim_device *sd = ostori_device_priv(dev);

	if (sd->transport && sd->transport->dma_alloc)
		return sd->transport->dma_alloc(dev, sd->transport_priv, size);
	return ostori_page_alloc(size);
}

static bool sim_is_dma(ostor_device *dev, const void *p, size_t len)
{
	struct sim_device *sd = ostori_device_priv(dev);

	return sd->transport && sd->transport->is_dma && sd->transport->is_dma(dev, sd->transport_priv, p, len);
}

static void sim_dma_free(ostor_device *dev, void *p, size_t size)
{
	struct sim_device *sd = ostori_device_priv(dev);

	if (sd->transport && sd->transport->dma_free)
		sd->transport->dma_free(dev, sd->transport_priv, p, size);
	else
		free(p);
}

static int sim_get_pollfds(ostor_context *ctx, struct pollfd *fds, int max)
{
	struct sim_context *sc = sim_ctx(ctx);
	int n = 0;

	pthread_mutex_lock(&sc->lock);
	for (struct sim_device *sd = sc->polled; sd; sd = sd->next_polled)
		if (sd->transport && sd->transport->pollfds)
			n += sd->transport->pollfds(sd->dev, sd->transport_priv, fds && n < max ? fds + n : NULL,
						    n < max ? max - n : 0);
	pthread_mutex_unlock(&sc->lock);
	return n;
}

static int sim_next_timeout(ostor_context *ctx)
{
	struct sim_context *sc = sim_ctx(ctx);
	int best = -1;

	pthread_mutex_lock(&sc->lock);
	for (struct sim_device *sd = sc->polled; sd; sd = sd->next_polled) {
		int t;

		if (!sd->transport) {
			t = held_timeout(sd);
		} else {
			if (!sd->transport->next_timeout)
				continue;
			t = sd->transport->next_timeout(sd->dev, sd->transport_priv);
		}
		if (t >= 0 && (best < 0 || t < best))
			best = t;
	}
	pthread_mutex_unlock(&sc->lock);
	return best;
}

static int sim_handle_events(ostor_context *ctx)
{
	struct sim_context *sc = sim_ctx(ctx);
	int total = 0;

	/* Models complete tasks through ostori_task_complete (ctx->lock),
	 * never under sc->lock from elsewhere, so holding it is safe. */
	pthread_mutex_lock(&sc->lock);
	for (struct sim_device *sd = sc->polled; sd; sd = sd->next_polled) {
		int r;

		if (!sd->transport)
			r = expire_held(sd);
		else if (!sd->transport->poll)
			continue;
		else
			r = sd->transport->poll(sd->dev, sd->transport_priv);
		if (r > 0)
			total += r;
	}
	pthread_mutex_unlock(&sc->lock);
	return total;
}

void *ostori_sim_transport_priv(ostor_device *dev)
{
	if (!dev || dev->backend != &ostori_sim_backend)
		return NULL;
	return ((struct sim_device *)ostori_device_priv(dev))->transport_priv;
}

struct sim_target *ostori_sim_device_target(ostor_device *dev)
{
	if (!dev || dev->backend != &ostori_sim_backend)
		return NULL;
	return ((struct sim_device *)ostori_device_priv(dev))->target;
}

/* The model's counters, then the simulated target's. */
static int sim_counters(ostor_device *dev, struct ostor_counter *out, int max)
{
	struct sim_device *sd = ostori_device_priv(dev);
	struct sim_stats st;
	int n = 0;

	if (sd->transport && sd->transport->counters)
		n = sd->transport->counters(dev, sd->transport_priv, out, max);
	sim_target_get_stats(sd->target, &st);
	ostori_counter_add(out, max, &n, "sim_commands", st.commands);
	ostori_counter_add(out, max, &n, "sim_injected_faults", st.injected);
	ostori_counter_add(out, max, &n, "sim_unit_attentions", st.unit_attentions);
	ostori_counter_add(out, max, &n, "sim_check_conditions", st.check_condition);
	ostori_counter_add(out, max, &n, "sim_overruns", st.overruns);
	ostori_counter_add(out, max, &n, "sim_bytes_in", st.bytes_in);
	ostori_counter_add(out, max, &n, "sim_bytes_out", st.bytes_out);
	return n;
}

static int sim_tuning(ostor_device *dev, struct ostori_setting *out, int max)
{
	struct sim_device *sd = ostori_device_priv(dev);

	if (sd->transport && sd->transport->tuning)
		return sd->transport->tuning(dev, sd->transport_priv, out, max);
	return 0;
}

static void sim_lun_limits(ostor_device *dev, uint32_t target, uint32_t lun, uint32_t block_size,
			   uint64_t max_bytes)
{
	struct sim_device *sd = ostori_device_priv(dev);

	if (sd->transport && sd->transport->lun_limits)
		sd->transport->lun_limits(dev, sd->transport_priv, target, lun, block_size, max_bytes);
}

const struct ostor_backend ostori_sim_backend = {
	.name = "sim",
	.spec_forms = "sim:[" SIM_OPTIONS "]",
	.device_priv_size = sizeof(struct sim_device),
	.task_priv_size = sizeof(struct held),
	.init = sim_init,
	.exit = sim_exit,
	.enumerate = sim_enumerate,
	.open = sim_open,
	.close = sim_close,
	.submit = sim_submit,
	.cancel = sim_cancel,
	.reset = sim_reset,
	.queue_count = sim_queue_count,
	.queue_acquire = sim_queue_acquire,
	.queue_release = sim_queue_release,
	.queue_poll = sim_queue_poll,
	.dma_alloc = sim_dma_alloc,
	.dma_free = sim_dma_free,
	.is_dma = sim_is_dma,
	.get_pollfds = sim_get_pollfds,
	.next_timeout = sim_next_timeout,
	.handle_events = sim_handle_events,
	.counters = sim_counters,
	.tuning = sim_tuning,
	.lun_limits = sim_lun_limits,
};
