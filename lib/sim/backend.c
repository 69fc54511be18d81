/*
 * lib/sim/backend.c - the "sim:" backend: a simulated SCSI target (target.c)
 * behind the core's backend ops table, RAM- or file-backed.
 */
#include "core/backend.h"
#include "sim/backend.h"
#include "sim/target.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#define SIM_OPTIONS "size=SIZE, image=PATH, luns=N (1-256), block-size=512|1024|2048|4096, " \
	"readonly, type=disk|cdrom"
#define SIM_DEFAULT_SIZE (64ull << 20)
#define SIM_MAX_TRANSFER (8u << 20)

struct sim_device {
	struct sim_target *target;
	int fd;
};

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
	if (!o->value || (size ? ostori_parse_size(o->value, out) : ostori_parse_u64(o->value, max, out)) ||
	    *out > max)
		return ostori_error(OSTOR_ERROR_BAD_SPEC, "sim option %s=%s: expected %s",
				    key, o->value ? o->value : "",
				    size ? "a size such as 64M, 1G or 4096 (K, M, G, T suffixes)"
					 : "a whole number");
	return 1;
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
				    errno == ENOENT ? " (a read-only image must already exist)" : "");
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
	const struct ostor_spec_option *o;
	uint64_t size = SIM_DEFAULT_SIZE, luns = 1, bs = 0;
	bool readonly = false, size_given, cdrom = false;
	const char *image = NULL;
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
	o = ostori_spec_get(&spec, "readonly");
	if (o) {
		if (o->value)
			return ostori_error(OSTOR_ERROR_BAD_SPEC, "sim option readonly takes no value");
		readonly = true;
	}
	o = ostori_spec_get(&spec, "image");
	if (o) {
		if (!o->value)
			return ostori_error(OSTOR_ERROR_BAD_SPEC, "sim option image needs a path: image=PATH");
		image = o->value;
	}
	r = ostori_spec_check_unused(&spec, SIM_OPTIONS);
	if (r < 0)
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
		r = sim_target_add_lu(sd->target, i, &lc);
		if (r < 0) {
			r = ostori_error_wrap(r, "cannot create simulated LUN %u", i);
			goto fail;
		}
	}
	dev->max_target = 0;
	dev->max_lun = (uint32_t)luns - 1;
	dev->max_transfer_bytes = SIM_MAX_TRANSFER;
	dev->max_segments = OSTOR_IOV_MAX;
	snprintf(dev->description, sizeof(dev->description),
		 "simulated %s, %u LUN%s of %llu x %llu-byte blocks%s%s%s",
		 cdrom ? "CD-ROM" : "disk", (unsigned)luns, luns > 1 ? "s" : "",
		 (unsigned long long)(size / bs), (unsigned long long)bs,
		 readonly ? ", read-only" : "", image ? ", image " : ", in RAM", image ? image : "");
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

	sim_target_free(sd->target);
	if (sd->fd >= 0)
		close(sd->fd);
}

static enum ostor_result result_of_status(uint8_t status)
{
	switch (status) {
	case OSTOR_SCSI_STATUS_GOOD:
	case OSTOR_SCSI_STATUS_CONDITION_MET:
		return OSTOR_RESULT_GOOD;
	case OSTOR_SCSI_STATUS_CHECK_CONDITION:
		return OSTOR_RESULT_CHECK_CONDITION;
	case OSTOR_SCSI_STATUS_BUSY:
	case OSTOR_SCSI_STATUS_TASK_SET_FULL:
		return OSTOR_RESULT_BUSY;
	case OSTOR_SCSI_STATUS_RESERVATION_CONFLICT:
		return OSTOR_RESULT_RESERVATION_CONFLICT;
	case OSTOR_SCSI_STATUS_TASK_ABORTED:
		return OSTOR_RESULT_ABORTED;
	default:
		return OSTOR_RESULT_OTHER_STATUS;
	}
}

/* The target runs the command to completion right here; the core defers
 * the callback to the event loop, so this is still asynchronous to the
 * caller. */
static int sim_submit(ostor_task *t)
{
	struct sim_device *sd = ostori_device_priv(t->dev);
	struct sim_cmd cmd;

	if (t->target != 0) {
		ostor_dbg(t->dev->ctx, "%s: no target %u (only target 0)", t->dev->spec, t->target);
		ostori_task_finish(t, OSTOR_RESULT_TRANSPORT_ERROR, -1, NULL, 0, 0);
		return 0;
	}
	memset(&cmd, 0, sizeof(cmd));
	cmd.lun = t->lun;
	cmd.cdb = t->cdb;
	cmd.cdb_len = t->cdb_len;
	cmd.dir = t->dir;
	cmd.iov = t->iov;
	cmd.iovcnt = t->iovcnt;
	sim_target_execute(sd->target, &cmd);
	ostori_task_finish(t, result_of_status(cmd.status), cmd.status,
			   cmd.sense, cmd.sense_len, cmd.transferred);
	return 0;
}

struct sim_target *ostori_sim_device_target(ostor_device *dev)
{
	if (!dev || dev->backend != &ostori_sim_backend)
		return NULL;
	return ((struct sim_device *)ostori_device_priv(dev))->target;
}

const struct ostor_backend ostori_sim_backend = {
	.name = "sim",
	.spec_forms = "sim:[" SIM_OPTIONS "]",
	.device_priv_size = sizeof(struct sim_device),
	.enumerate = sim_enumerate,
	.open = sim_open,
	.close = sim_close,
	.submit = sim_submit,
};
