/*
 * lib/core/health.c - one health report of a LUN (ostor_health_get):
 * ATA SMART through SCSI-ATA Translation (ATA PASS-THROUGH (16), (12) when
 * the bridge refuses (16)) or a vendor bridge protocol, else the SCSI log
 * pages and REQUEST SENSE; and device self-tests.  The commands and their
 * decoders are lib/scsi's; this file chooses what to send and turns the
 * answers into a verdict with its reason.
 */
#include "core/backend.h"
#include "core/health.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

OSTOR_API const char *ostor_health_verdict_name(int verdict)
{
	switch (verdict) {
	case OSTOR_HEALTH_PASSED: return "passed";
	case OSTOR_HEALTH_FAILING: return "failing";
	default: return "unknown";
	}
}

static const char *const protocol_names[] = {
	[OSTOR_HEALTH_PROTO_AUTO] = "auto",
	[OSTOR_HEALTH_PROTO_SCSI] = "scsi",
	[OSTOR_HEALTH_PROTO_SAT16] = "sat16",
	[OSTOR_HEALTH_PROTO_SAT12] = "sat12",
	[OSTOR_HEALTH_PROTO_JMICRON] = "jmicron",
	[OSTOR_HEALTH_PROTO_SUNPLUS] = "sunplus",
	[OSTOR_HEALTH_PROTO_CYPRESS] = "cypress",
};
#define NPROTOCOLS (sizeof(protocol_names) / sizeof(protocol_names[0]))

OSTOR_API const char *ostor_health_protocol_name(int protocol)
{
	if (protocol < 0 || (size_t)protocol >= NPROTOCOLS)
		return "unknown";
	return protocol_names[protocol];
}

OSTOR_API int ostor_health_protocol_parse(const char *name)
{
	if (!name)
		return ostori_error(OSTOR_ERROR_INVALID_PARAM, "health protocol: no name");
	if (!strcmp(name, "sat"))
		return OSTOR_HEALTH_PROTO_SAT16;
	for (size_t i = 0; i < NPROTOCOLS; i++)
		if (!strcmp(name, protocol_names[i]))
			return (int)i;
	return ostori_error(OSTOR_ERROR_INVALID_PARAM,
			    "unknown health protocol '%s'; expected auto, scsi, sat (sat16), sat12, jmicron "
			    "(sunplus and cypress bridges are known but not supported)", name);
}

/* ---- running commands ------------------------------------------------- */

struct hctx {
	ostor_device *dev;
	ostor_task *t;
	uint32_t target, lun;
	struct ostor_scsi_sense sense;    /* of the last CHECK CONDITION */
	bool checked;                     /* the last command ended in one */
};

/* 0: the command ran (GOOD, or CHECK CONDITION with its sense in h->sense);
 * a transport error otherwise. */
static int run(struct hctx *h, const struct ostor_cdb *cdb, enum ostor_dir dir, void *buf, size_t len)
{
	int r = ostori_exec(h->t, h->target, h->lun, cdb, dir, buf, len);

	h->checked = false;
	h->sense = (struct ostor_scsi_sense)OSTOR_SCSI_SENSE_INIT;
	if (r < 0)
		return r;
	if (h->t->result == OSTOR_RESULT_GOOD)
		return 0;
	if (h->t->result == OSTOR_RESULT_CHECK_CONDITION &&
	    ostor_scsi_parse_sense(h->t->sense, h->t->sense_len, &h->sense) == 0) {
		h->checked = true;
		return 0;
	}
	return ostor_task_error(h->t);
}

/* run(), and only GOOD counts: the bytes that arrived in *got. */
static int run_good(struct hctx *h, const struct ostor_cdb *cdb, void *buf, size_t len, size_t *got)
{
	int r = run(h, cdb, len ? OSTOR_DIR_FROM_DEVICE : OSTOR_DIR_NONE, buf, len);

	if (r < 0)
		return r;
	if (h->checked)
		return ostor_task_error(h->t);
	if (got)
		*got = ostor_task_transferred(h->t);
	return 0;
}

static bool refused(const struct hctx *h)
{
	return h->checked && h->sense.key == OSTOR_SCSI_SENSE_ILLEGAL_REQUEST;
}

/* ---- ATA commands through SAT or a bridge ----------------------------- */

/* One ATA command of a health check: its builder (SAT CDB of a length),
 * the argument some take, and its data-in length. */
struct ata_cmd {
	const char *name;
	int (*build)(struct ostor_cdb *cdb, uint8_t cdb_len, uint8_t arg);
	uint8_t arg;
	size_t len;                       /* bytes in; 0: non-data */
	bool registers;                   /* the answer is in the registers */
};

static int b_identify(struct ostor_cdb *c, uint8_t l, uint8_t a)
{
	(void)a;
	return ostor_scsi_cdb_ata_identify(c, l);
}

static int b_status(struct ostor_cdb *c, uint8_t l, uint8_t a)
{
	(void)a;
	return ostor_scsi_cdb_ata_smart_return_status(c, l);
}

static int b_data(struct ostor_cdb *c, uint8_t l, uint8_t a)
{
	(void)a;
	return ostor_scsi_cdb_ata_smart_read_data(c, l);
}

static int b_thresholds(struct ostor_cdb *c, uint8_t l, uint8_t a)
{
	(void)a;
	return ostor_scsi_cdb_ata_smart_read_thresholds(c, l);
}

static int b_log(struct ostor_cdb *c, uint8_t l, uint8_t a)
{
	return ostor_scsi_cdb_ata_smart_read_log(c, l, a, 1);
}

static int b_offline(struct ostor_cdb *c, uint8_t l, uint8_t a)
{
	return ostor_scsi_cdb_ata_smart_offline_immediate(c, l, a);
}

static const struct ata_cmd cmd_identify = { "IDENTIFY DEVICE", b_identify, 0, ATA_SECTOR, false };
static const struct ata_cmd cmd_status = { "SMART RETURN STATUS", b_status, 0, 0, true };
static const struct ata_cmd cmd_data = { "SMART READ DATA", b_data, 0, ATA_SECTOR, false };
static const struct ata_cmd cmd_thresholds = { "SMART READ THRESHOLDS", b_thresholds, 0, ATA_SECTOR, false };
static const struct ata_cmd cmd_self_test_log = { "SMART READ LOG (self-test)", b_log,
						  OSTOR_ATA_LOG_SELF_TEST, ATA_SECTOR, false };

/* What an ATA command returned: the data (GOOD or with its registers),
 * and the sense carrying the registers when there was one. */
struct ata_result {
	size_t got;
	const uint8_t *sense;
	size_t sense_len;
	int jmicron_status;               /* JMicron SMART status byte, -1 none */
};

/* The JMicron vendor command (DFh, 12 bytes) carrying the registers of a
 * SAT(16) CDB for 28-bit commands: byte 1 10h for data-in and non-data,
 * 3-4 the length, 5 features, 6 count, 7-9 LBA low/mid/high, 10 device
 * (A0h: the bridge's port 0), 11 the command. */
static void jmicron_cdb(const struct ostor_cdb *pt16, size_t len, struct ostor_cdb *out)
{
	memset(out, 0, sizeof(*out));
	out->len = 12;
	out->bytes[0] = 0xdf;
	out->bytes[1] = 0x10;
	out->bytes[3] = (uint8_t)(len >> 8);
	out->bytes[4] = (uint8_t)len;
	out->bytes[5] = pt16->bytes[4];
	out->bytes[6] = pt16->bytes[6];
	out->bytes[7] = pt16->bytes[8];
	out->bytes[8] = pt16->bytes[10];
	out->bytes[9] = pt16->bytes[12];
	out->bytes[10] = (uint8_t)(pt16->bytes[13] | 0xa0);
	out->bytes[11] = pt16->bytes[14];
}

static int bridge_refused(int protocol)
{
	return ostori_error(OSTOR_ERROR_NOT_SUPPORTED,
			    "%s USB bridges have their own ATA pass-through, which liborionstor does not "
			    "speak yet; try protocol sat (some of them also translate ATA PASS-THROUGH) "
			    "or scsi", protocol == OSTOR_HEALTH_PROTO_SUNPLUS ? "Sunplus (F8h)" :
			    "Cypress ATACB (24h)");
}

/*
 * Send one ATA command by protocol.  0 with *res (data in buf): the device
 * ran it, possibly returning an ATA error in the registers;
 * OSTOR_ERROR_NOT_SUPPORTED when the device refuses the pass-through
 * command itself (ILLEGAL REQUEST).
 */
static int ata_run(struct hctx *h, int protocol, const struct ata_cmd *c, uint8_t *buf,
		   struct ata_result *res)
{
	struct ostor_cdb cdb, pt;
	uint8_t status_byte = 0;
	int r;

	memset(res, 0, sizeof(*res));
	res->jmicron_status = -1;
	switch (protocol) {
	case OSTOR_HEALTH_PROTO_SAT16:
	case OSTOR_HEALTH_PROTO_SAT12:
		r = c->build(&cdb, protocol == OSTOR_HEALTH_PROTO_SAT16 ? 16 : 12, c->arg);
		if (r < 0)
			return r;
		break;
	case OSTOR_HEALTH_PROTO_JMICRON:
		if ((r = c->build(&pt, 16, c->arg)) < 0)
			return r;
		/* SMART RETURN STATUS comes back as one status byte; other
		 * registers cannot be read reliably through these bridges. */
		jmicron_cdb(&pt, c == &cmd_status ? 1 : c->len, &cdb);
		break;
	default:
		return bridge_refused(protocol);
	}
	if (c == &cmd_status && protocol == OSTOR_HEALTH_PROTO_JMICRON)
		r = run(h, &cdb, OSTOR_DIR_FROM_DEVICE, &status_byte, 1);
	else
		r = run(h, &cdb, c->len ? OSTOR_DIR_FROM_DEVICE : OSTOR_DIR_NONE, buf, c->len);
	if (r < 0)
		return r;
	if (refused(h))
		return ostori_error(OSTOR_ERROR_NOT_SUPPORTED, "%s: the device refuses %s (%02xh/%02xh)",
				    c->name, protocol == OSTOR_HEALTH_PROTO_JMICRON ? "the JMicron pass-through (DFh)" :
				    protocol == OSTOR_HEALTH_PROTO_SAT16 ? "ATA PASS-THROUGH(16)" :
				    "ATA PASS-THROUGH(12)", h->sense.asc, h->sense.ascq);
	res->got = ostor_task_transferred(h->t);
	if (h->checked) {
		/* The registers ride on RECOVERED ERROR 00h/1Dh (CK_COND) or
		 * ABORTED COMMAND (an ATA error); anything else failed. */
		struct ostor_scsi_ata_return regs;

		if (ostor_scsi_parse_ata_return(h->t->sense, h->t->sense_len, &regs) != 0 &&
		    h->sense.key != OSTOR_SCSI_SENSE_RECOVERED_ERROR)
			return ostor_task_error(h->t);
		res->sense = h->t->sense;
		res->sense_len = h->t->sense_len;
		if (c->len && h->sense.key != OSTOR_SCSI_SENSE_RECOVERED_ERROR &&
		    h->sense.key != OSTOR_SCSI_SENSE_NO_SENSE)
			return ostori_error(OSTOR_ERROR_IO, "%s: the drive returned an ATA error (%s)",
					    c->name, "sense key ABORTED COMMAND");
	}
	if (protocol == OSTOR_HEALTH_PROTO_JMICRON && c == &cmd_status)
		res->jmicron_status = res->got == 1 ? status_byte : -1;
	return 0;
}

/* ---- the ATA report ---------------------------------------------------- */

static void set_reason(struct ostor_health *hr, const char *fmt, ...) OSTOR_PRINTF(2, 3);
static void set_reason(struct ostor_health *hr, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(hr->reason, sizeof(hr->reason), fmt, ap);
	va_end(ap);
}

static void jmicron_status(struct ostor_health *hr, int byte)
{
	memset(&hr->status, 0, sizeof(hr->status));
	if (byte == 0xc2) {
		hr->status.verdict = OSTOR_ATA_HEALTH_PASSED;
		hr->status.registers_present = 1;
		hr->status.lba_mid = 0x4f;
		hr->status.lba_high = 0xc2;
		hr->status.text = "PASSED: the bridge reports no threshold exceeded (status byte C2h)";
	} else if (byte == 0x2c) {
		hr->status.verdict = OSTOR_ATA_HEALTH_FAILING;
		hr->status.registers_present = 1;
		hr->status.lba_mid = 0xf4;
		hr->status.lba_high = 0x2c;
		hr->status.text = "FAILING: the bridge reports a threshold exceeded (status byte 2Ch)";
	} else if (byte < 0) {
		hr->status.text = "the bridge returned no SMART status byte";
	} else {
		hr->status.text = "unknown: the bridge's SMART status byte is neither C2h nor 2Ch "
				  "(some JMicron bridges always return 01h)";
	}
}

/* IDENTIFY DEVICE by protocol: 0 when the LUN answered as an ATA device. */
static int ata_identify(struct hctx *h, struct ostor_health *hr, int protocol, uint8_t *buf)
{
	struct ata_result res;
	int r = ata_run(h, protocol, &cmd_identify, buf, &res);

	if (r < 0)
		return r;
	if (res.got < ATA_SECTOR)
		return ostori_error(OSTOR_ERROR_PROTOCOL, "IDENTIFY DEVICE: %zu of 512 bytes arrived", res.got);
	hr->identify = (struct ostor_scsi_ata_identify)OSTOR_SCSI_ATA_IDENTIFY_INIT;
	if ((r = ostor_scsi_parse_ata_identify(buf, res.got, &hr->identify)) < 0)
		return r;
	if (hr->identify.packet_device)
		return ostori_error(OSTOR_ERROR_NOT_SUPPORTED, "the device behind the bridge is ATAPI: no SMART");
	hr->have_identify = true;
	return 0;
}

/* The first prefail attribute failing now, or NULL. */
static const struct ostor_scsi_ata_smart_attr *failing_attr(const struct ostor_scsi_ata_smart_data *d)
{
	for (size_t i = 0; i < d->count && i < OSTOR_ATA_SMART_ATTRS_MAX; i++)
		if (d->attrs[i].failing_now)
			return &d->attrs[i];
	return NULL;
}

static int ata_report(struct hctx *h, struct ostor_health *hr, int protocol, unsigned int flags)
{
	uint8_t buf[ATA_SECTOR], thr[ATA_SECTOR];
	struct ata_result res, tres;
	const struct ostor_scsi_ata_smart_attr *bad;
	int r;

	hr->protocol = protocol;
	if ((r = ata_run(h, protocol, &cmd_status, buf, &res)) < 0)
		return r;
	if (protocol == OSTOR_HEALTH_PROTO_JMICRON)
		jmicron_status(hr, res.jmicron_status);
	else
		ostor_scsi_parse_ata_smart_status(res.sense, res.sense_len, &hr->status);
	hr->have_status = true;

	/* Attributes, for the temperature and prefail attributes even when
	 * only the verdict is asked for (two sectors). */
	memset(buf, 0, sizeof(buf));
	memset(thr, 0, sizeof(thr));
	r = ata_run(h, protocol, &cmd_data, buf, &res);
	if (r == 0 && res.got) {
		size_t tlen = 0;

		if (ata_run(h, protocol, &cmd_thresholds, thr, &tres) == 0)
			tlen = tres.got;
		hr->smart = (struct ostor_scsi_ata_smart_data)OSTOR_SCSI_ATA_SMART_DATA_INIT;
		if (ostor_scsi_parse_ata_smart_data(buf, res.got, tlen ? thr : NULL, tlen, &hr->smart) == 0) {
			hr->have_smart = true;
			if (hr->smart.temperature > 0) {
				hr->temperature = hr->smart.temperature;
				hr->have_temperature = true;
			}
		}
	} else if (r < 0 && r != OSTOR_ERROR_NOT_SUPPORTED && r != OSTOR_ERROR_IO &&
		   r != OSTOR_ERROR_PROTOCOL) {
		return r;
	}
	if (!(flags & OSTOR_HEALTH_STATUS_ONLY)) {
		memset(buf, 0, sizeof(buf));
		r = ata_run(h, protocol, &cmd_self_test_log, buf, &res);
		if (r == 0 && res.got >= ATA_SECTOR) {
			hr->self_tests = (struct ostor_scsi_ata_self_test_log)OSTOR_SCSI_ATA_SELF_TEST_LOG_INIT;
			hr->have_self_tests = ostor_scsi_parse_ata_self_test_log(buf, res.got, &hr->self_tests) == 0;
		} else if (r < 0 && r != OSTOR_ERROR_NOT_SUPPORTED && r != OSTOR_ERROR_IO &&
			   r != OSTOR_ERROR_PROTOCOL) {
			return r;
		}
	}

	/* The drive's own verdict first; a prefail attribute at or below its
	 * threshold means the drive predicts its failure even when RETURN
	 * STATUS missed it (or could not be read). */
	bad = hr->have_smart ? failing_attr(&hr->smart) : NULL;
	if (hr->status.verdict == OSTOR_ATA_HEALTH_FAILING) {
		hr->verdict = OSTOR_HEALTH_FAILING;
		set_reason(hr, "SMART RETURN STATUS: %s", hr->status.text);
	} else if (bad) {
		hr->verdict = OSTOR_HEALTH_FAILING;
		set_reason(hr, "prefail attribute %u %s is at or below its threshold (value %u, threshold %u)%s",
			   bad->id, bad->name, bad->value, bad->threshold,
			   hr->status.verdict == OSTOR_ATA_HEALTH_PASSED ?
			   "; SMART RETURN STATUS still says passed" : "");
	} else if (hr->status.verdict == OSTOR_ATA_HEALTH_PASSED) {
		hr->verdict = OSTOR_HEALTH_PASSED;
		set_reason(hr, "SMART RETURN STATUS: %s", hr->status.text);
	} else if (hr->have_smart && hr->smart.thresholds_present) {
		hr->verdict = OSTOR_HEALTH_PASSED;
		set_reason(hr, "%s; no prefail attribute is at or below its threshold, so the verdict "
			   "comes from the attributes", hr->status.text);
	} else {
		hr->verdict = OSTOR_HEALTH_UNKNOWN;
		set_reason(hr, "%s; and no attribute thresholds to judge by", hr->status.text);
	}
	return 0;
}

/* ---- the SCSI report --------------------------------------------------- */

static int log_sense(struct hctx *h, uint8_t page, uint8_t subpage, uint8_t *buf, size_t len, size_t *got)
{
	struct ostor_cdb cdb;
	int r = ostor_scsi_cdb_log_sense(&cdb, 0, 1, page, subpage, 0, (uint16_t)len);

	if (r < 0)
		return r;
	return run_good(h, &cdb, buf, len, got);
}

static bool has_page(const struct ostor_health *hr, uint8_t page)
{
	for (size_t i = 0; i < hr->npages; i++)
		if (hr->pages[i].page == page && hr->pages[i].subpage == 0)
			return true;
	return false;
}

/* REQUEST SENSE: an informational exception the device holds (MRIE 6). */
static int request_sense_ie(struct hctx *h, struct ostor_health *hr)
{
	uint8_t buf[252];
	struct ostor_cdb cdb;
	struct ostor_scsi_sense s = OSTOR_SCSI_SENSE_INIT;
	size_t got = 0;
	int r = ostor_scsi_cdb_request_sense(&cdb, sizeof(buf), 0);

	if (r < 0)
		return r;
	if ((r = run_good(h, &cdb, buf, sizeof(buf), &got)) < 0)
		return r;
	if (ostor_scsi_parse_sense(buf, got, &s) < 0)
		return OSTOR_ERROR_NOT_FOUND;
	memset(&hr->ie, 0, sizeof(hr->ie));
	hr->ie.present = 1;
	hr->ie.asc = s.asc;
	hr->ie.ascq = s.ascq;
	hr->ie.exception = ostor_scsi_informational_exception(s.asc, s.ascq);
	hr->ie_source = "REQUEST SENSE";
	hr->have_ie = true;
	return 0;
}

/* Whether the device has the Informational Exceptions Control mode page
 * (1Ch): then REQUEST SENSE is where it reports exceptions. */
static bool has_iec_page(struct hctx *h)
{
	uint8_t buf[64];
	struct ostor_cdb cdb;
	struct ostor_scsi_mode_header mh;
	struct ostor_scsi_iter it;
	struct ostor_scsi_mode_page p;
	size_t got = 0;

	if (ostor_scsi_cdb_mode_sense10(&cdb, 1, 0, 0, 0x1c, 0, sizeof(buf)) < 0 ||
	    run_good(h, &cdb, buf, sizeof(buf), &got) < 0 ||
	    ostor_scsi_parse_mode_sense10(buf, got, &mh) < 0 ||
	    ostor_scsi_mode_page_iter_init(&it, buf, got, &mh) < 0)
		return false;
	while (ostor_scsi_mode_page_next(&it, &p) == 1)
		if (p.page == 0x1c)
			return true;
	return false;
}

static int scsi_report(struct hctx *h, struct ostor_health *hr, unsigned int flags)
{
	uint8_t buf[LOG_BUF];
	size_t got = 0, total = 0;
	int r, n;

	hr->protocol = OSTOR_HEALTH_PROTO_SCSI;
	r = log_sense(h, 0x00, 0x00, buf, sizeof(buf), &got);
	if (r < 0 && r != OSTOR_ERROR_SCSI && r != OSTOR_ERROR_NOT_SUPPORTED)
		return r;
	if (r == 0 && (n = ostor_scsi_parse_log_supported(buf, got, hr->pages, LOG_PAGES_MAX, &total)) > 0)
		hr->npages = (size_t)n;

	if (has_page(hr, OSTOR_SCSI_LOG_INFORMATIONAL_EXCEPTIONS) &&
	    log_sense(h, OSTOR_SCSI_LOG_INFORMATIONAL_EXCEPTIONS, 0, buf, sizeof(buf), &got) == 0 &&
	    ostor_scsi_parse_log_ie(buf, got, &hr->ie) == 0 && hr->ie.present) {
		hr->have_ie = true;
		hr->ie_source = "log page 2Fh";
		if (hr->ie.temperature_valid && hr->ie.temperature != 0xff) {
			hr->temperature = hr->ie.temperature;
			hr->have_temperature = true;
		}
	}
	if (has_page(hr, OSTOR_SCSI_LOG_TEMPERATURE) &&
	    log_sense(h, OSTOR_SCSI_LOG_TEMPERATURE, 0, buf, sizeof(buf), &got) == 0 &&
	    ostor_scsi_parse_log_temperature(buf, got, &hr->temp_page) == 0) {
		hr->have_temp_page = true;
		if (hr->temp_page.current_valid) {
			hr->temperature = hr->temp_page.current;
			hr->have_temperature = true;
		}
	}
	if (!hr->have_ie && has_iec_page(h)) {
		r = request_sense_ie(h, hr);
		if (r < 0 && r != OSTOR_ERROR_NOT_FOUND && r != OSTOR_ERROR_SCSI)
			return r;
	}
	if (!(flags & OSTOR_HEALTH_STATUS_ONLY)) {
		if (has_page(hr, OSTOR_SCSI_LOG_SELF_TEST) &&
		    log_sense(h, OSTOR_SCSI_LOG_SELF_TEST, 0, buf, sizeof(buf), &got) == 0 &&
		    (n = ostor_scsi_parse_log_self_test(buf, got, hr->scsi_tests, SCSI_SELF_TESTS, NULL)) > 0)
			hr->nscsi_tests = (size_t)n;
		if (has_page(hr, OSTOR_SCSI_LOG_BACKGROUND_SCAN) &&
		    log_sense(h, OSTOR_SCSI_LOG_BACKGROUND_SCAN, 0, buf, sizeof(buf), &got) == 0 &&
		    ostor_scsi_parse_log_bg_scan(buf, got, &hr->bg, NULL, 0, NULL) >= 0 && hr->bg.present)
			hr->have_bg = true;
	}

	if (!hr->have_ie) {
		hr->verdict = OSTOR_HEALTH_UNKNOWN;
		set_reason(hr, "the device reports no informational exceptions (no log page 2Fh, "
			   "no Informational Exceptions Control mode page)");
	} else if (hr->ie.exception == OSTOR_SCSI_IE_FAILURE_PREDICTED) {
		hr->verdict = OSTOR_HEALTH_FAILING;
		set_reason(hr, "%s: failure prediction threshold exceeded (%02xh/%02xh)",
			   hr->ie_source, hr->ie.asc, hr->ie.ascq);
	} else {
		hr->verdict = OSTOR_HEALTH_PASSED;
		if (hr->ie.exception == OSTOR_SCSI_IE_WARNING)
			set_reason(hr, "%s: a warning (%02xh/%02xh), no failure predicted",
				   hr->ie_source, hr->ie.asc, hr->ie.ascq);
		else
			set_reason(hr, "%s: no failure predicted", hr->ie_source);
	}
	return 0;
}

/* ---- choosing the protocol -------------------------------------------- */

static int inquire(struct hctx *h, struct ostor_health *hr, int *evidence)
{
	uint8_t buf[256];
	struct ostor_cdb cdb;
	size_t got = 0;
	int r;

	if ((r = ostor_scsi_cdb_inquiry(&cdb, 0, 0, 96)) < 0 ||
	    (r = run_good(h, &cdb, buf, 96, &got)) < 0)
		return r;
	hr->inquiry = (struct ostor_scsi_inquiry)OSTOR_SCSI_INQUIRY_INIT;
	if ((r = ostor_scsi_parse_inquiry(buf, got, &hr->inquiry)) < 0)
		return r;
	if (hr->inquiry.peripheral_qualifier != 0)
		return ostori_error(OSTOR_ERROR_NOT_FOUND, "%s: no logical unit %u:%u",
				    h->dev->spec, h->target, h->lun);
	/* VPD 00h, for page 89h; a device without VPD pages is fine. */
	got = 0;
	if (ostor_scsi_cdb_inquiry(&cdb, 1, 0x00, sizeof(buf)) == 0 &&
	    run_good(h, &cdb, buf, sizeof(buf), &got) < 0)
		got = 0;
	*evidence = ostor_scsi_sat_evidence(&hr->inquiry, got ? buf : NULL, got);
	/* The unit serial number (VPD 80h), where the device lists it. */
	if (got > 4 && memchr(buf + 4, 0x80, got - 4)) {
		uint8_t sbuf[256];
		size_t sgot = 0;

		if (ostor_scsi_cdb_inquiry(&cdb, 1, 0x80, sizeof(sbuf)) == 0 &&
		    run_good(h, &cdb, sbuf, sizeof(sbuf), &sgot) == 0 &&
		    ostor_scsi_parse_vpd_serial(sbuf, sgot, hr->serial, sizeof(hr->serial)) < 0)
			hr->serial[0] = '\0';
	}
	return 0;
}

/* SAT: (16), then (12) when (16) fails: refused by the bridge, or a
 * transport that carries 12-byte command blocks only (CB/CBI). */
static int try_sat(struct hctx *h, struct ostor_health *hr, uint8_t *buf, int *protocol)
{
	int r = ata_identify(h, hr, OSTOR_HEALTH_PROTO_SAT16, buf), r12;

	*protocol = OSTOR_HEALTH_PROTO_SAT16;
	if (r == 0 || r == OSTOR_ERROR_NO_DEVICE || hr->identify.packet_device)
		return r;
	ostor_dbg(h->dev->ctx, "%s %u:%u: ATA PASS-THROUGH(16) failed (%s), trying (12)",
		  h->dev->spec, h->target, h->lun, ostor_last_error());
	r12 = ata_identify(h, hr, OSTOR_HEALTH_PROTO_SAT12, buf);
	if (r12 == 0)
		*protocol = OSTOR_HEALTH_PROTO_SAT12;
	return r12 == 0 || r12 == OSTOR_ERROR_NO_DEVICE ? r12 : r;
}

static int health_read(struct hctx *h, struct ostor_health *hr, int protocol, unsigned int flags)
{
	uint8_t buf[ATA_SECTOR];
	int evidence = 0, r;

	if ((r = inquire(h, hr, &evidence)) < 0)
		return r;
	if (protocol == OSTOR_HEALTH_PROTO_AUTO)
		protocol = h->dev->health_protocol;
	switch (protocol) {
	case OSTOR_HEALTH_PROTO_SCSI:
		return scsi_report(h, hr, flags);
	case OSTOR_HEALTH_PROTO_SAT16:
	case OSTOR_HEALTH_PROTO_SAT12:
	case OSTOR_HEALTH_PROTO_JMICRON:
		if ((r = ata_identify(h, hr, protocol, buf)) < 0)
			return r;
		return ata_report(h, hr, protocol, flags);
	case OSTOR_HEALTH_PROTO_SUNPLUS:
	case OSTOR_HEALTH_PROTO_CYPRESS:
		return bridge_refused(protocol);
	case OSTOR_HEALTH_PROTO_AUTO:
		break;
	default:
		return ostori_error(OSTOR_ERROR_INVALID_PARAM, "health protocol %d unknown", protocol);
	}
	/* AUTO: an ATA device behind SAT is read as ATA (smartctl -d sat);
	 * without evidence, the native pages first, and SAT only when the
	 * device has no informational exceptions of its own. */
	if (evidence) {
		r = try_sat(h, hr, buf, &protocol);
		if (r == 0)
			return ata_report(h, hr, protocol, flags);
		if (r != OSTOR_ERROR_NOT_SUPPORTED && r != OSTOR_ERROR_IO && r != OSTOR_ERROR_SCSI &&
		    r != OSTOR_ERROR_PROTOCOL)
			return r;
		ostor_dbg(h->dev->ctx, "%s %u:%u: looks like SAT but ATA PASS-THROUGH failed (%s)",
			  h->dev->spec, h->target, h->lun, ostor_last_error());
		return scsi_report(h, hr, flags);
	}
	if ((r = scsi_report(h, hr, flags)) < 0 || hr->verdict != OSTOR_HEALTH_UNKNOWN)
		return r;
	{
		struct ostor_health *ata = calloc(1, sizeof(*ata));

		if (!ata)
			return ostori_error(OSTOR_ERROR_NO_MEM, "health report: out of memory");
		ata->inquiry = hr->inquiry;
		r = try_sat(h, ata, buf, &protocol);
		if (r == 0 && (r = ata_report(h, ata, protocol, flags)) == 0) {
			/* Keep what the log pages said next to the ATA report. */
			memcpy(ata->pages, hr->pages, sizeof(hr->pages));
			ata->npages = hr->npages;
			*hr = *ata;
		}
		free(ata);
	}
	return 0;
}

OSTOR_API int ostor_health_get(ostor_device *dev, uint32_t target, uint32_t lun, int protocol,
			       unsigned int flags, ostor_health **report)
{
	struct ostor_health *hr;
	struct hctx h = { .dev = dev, .target = target, .lun = lun };
	int r;

	if (!report)
		return ostori_error(OSTOR_ERROR_INVALID_PARAM, "ostor_health_get: report is NULL");
	*report = NULL;
	if (!dev)
		return ostori_error(OSTOR_ERROR_INVALID_PARAM, "ostor_health_get: dev is NULL");
	if (protocol < 0 || (size_t)protocol >= NPROTOCOLS)
		return ostori_error(OSTOR_ERROR_INVALID_PARAM, "ostor_health_get: protocol %d unknown", protocol);
	if (flags & ~OSTOR_HEALTH_STATUS_ONLY)
		return ostori_error(OSTOR_ERROR_INVALID_PARAM, "ostor_health_get: unknown flags %#x", flags);
	hr = calloc(1, sizeof(*hr));
	if (!hr)
		return ostori_error(OSTOR_ERROR_NO_MEM, "health report: out of memory");
	if ((r = ostor_task_new(dev, &h.t)) < 0) {
		free(hr);
		return r;
	}
	snprintf(hr->spec, sizeof(hr->spec), "%s", dev->spec);
	hr->target = target;
	hr->lun = lun;
	r = health_read(&h, hr, protocol, flags);
	ostor_task_free(h.t);
	if (r < 0) {
		free(hr);
		return r;
	}
	*report = hr;
	return 0;
}

OSTOR_API void ostor_health_free(ostor_health *report)
{
	free(report);
}

OSTOR_API int ostor_health_verdict(const ostor_health *report)
{
	return report ? report->verdict : OSTOR_HEALTH_UNKNOWN;
}

OSTOR_API const char *ostor_health_reason(const ostor_health *report)
{
	return report ? report->reason : "";
}

OSTOR_API int ostor_health_protocol(const ostor_health *report)
{
	return report ? report->protocol : OSTOR_HEALTH_PROTO_AUTO;
}

OSTOR_API int ostor_health_temperature(const ostor_health *report, int *celsius)
{
	if (!report || !celsius)
		return ostori_error(OSTOR_ERROR_INVALID_PARAM, "ostor_health_temperature: NULL argument");
	if (!report->have_temperature)
		return OSTOR_ERROR_NOT_FOUND;
	*celsius = report->temperature;
	return 0;
}

OSTOR_API const struct ostor_scsi_ata_identify *ostor_health_ata_identify(const ostor_health *report)
{
	return report && report->have_identify ? &report->identify : NULL;
}

OSTOR_API const struct ostor_scsi_ata_smart_data *ostor_health_ata_smart(const ostor_health *report)
{
	return report && report->have_smart ? &report->smart : NULL;
}

OSTOR_API const struct ostor_scsi_ata_self_test_log *ostor_health_ata_self_tests(const ostor_health *report)
{
	return report && report->have_self_tests ? &report->self_tests : NULL;
}

OSTOR_API const struct ostor_scsi_log_ie *ostor_health_scsi_ie(const ostor_health *report)
{
	return report && report->have_ie ? &report->ie : NULL;
}

OSTOR_API size_t ostor_health_scsi_self_tests(const ostor_health *report,
					      const struct ostor_scsi_log_self_test **entries)
{
	if (entries)
		*entries = report ? report->scsi_tests : NULL;
	return report ? report->nscsi_tests : 0;
}

OSTOR_API size_t ostor_health_log_pages(const ostor_health *report,
					const struct ostor_scsi_log_page_id **ids)
{
	if (ids)
		*ids = report ? report->pages : NULL;
	return report ? report->npages : 0;
}

/* ---- self-tests -------------------------------------------------------- */

OSTOR_API int ostor_health_self_test(ostor_device *dev, uint32_t target, uint32_t lun, int protocol,
				     int test)
{
	struct ostor_health *hr;
	struct hctx h = { .dev = dev, .target = target, .lun = lun };
	uint8_t buf[ATA_SECTOR];
	struct ata_result res;
	int evidence = 0, r;

	if (!dev)
		return ostori_error(OSTOR_ERROR_INVALID_PARAM, "ostor_health_self_test: dev is NULL");
	if (test < OSTOR_SELF_TEST_SHORT || test > OSTOR_SELF_TEST_ABORT)
		return ostori_error(OSTOR_ERROR_INVALID_PARAM, "self-test %d: expected short, long or abort", test);
	if (protocol < 0 || (size_t)protocol >= NPROTOCOLS)
		return ostori_error(OSTOR_ERROR_INVALID_PARAM, "ostor_health_self_test: protocol %d unknown", protocol);
	hr = calloc(1, sizeof(*hr));
	if (!hr)
		return ostori_error(OSTOR_ERROR_NO_MEM, "self-test: out of memory");
	if ((r = ostor_task_new(dev, &h.t)) < 0) {
		free(hr);
		return r;
	}
	if ((r = inquire(&h, hr, &evidence)) < 0)
		goto out;
	if (protocol == OSTOR_HEALTH_PROTO_AUTO)
		protocol = dev->health_protocol;
	if (protocol == OSTOR_HEALTH_PROTO_AUTO && evidence) {
		if (try_sat(&h, hr, buf, &protocol) < 0)
			protocol = OSTOR_HEALTH_PROTO_SCSI;
	} else if (protocol == OSTOR_HEALTH_PROTO_AUTO) {
		protocol = OSTOR_HEALTH_PROTO_SCSI;
	}
	if (protocol == OSTOR_HEALTH_PROTO_SCSI) {
		/* SEND DIAGNOSTIC: background short 1, extended 2, abort 4. */
		static const uint8_t codes[] = { 0, 1, 2, 4 };
		struct ostor_cdb cdb;

		if ((r = ostor_scsi_cdb_send_diagnostic(&cdb, codes[test], 0, 0, 0, 0, 0)) < 0 ||
		    (r = run_good(&h, &cdb, NULL, 0, NULL)) < 0) {
			const char *what = test == OSTOR_SELF_TEST_ABORT ? "abort" :
					   test == OSTOR_SELF_TEST_SHORT ? "short" : "extended";

			if (refused(&h))
				r = ostori_error(OSTOR_ERROR_NOT_SUPPORTED, "%s %u:%u: the %s self-test is not "
						 "supported by this device (SEND DIAGNOSTIC refused: %02xh/%02xh)",
						 dev->spec, target, lun, what, h.sense.asc, h.sense.ascq);
			else
				r = ostori_error_wrap(r, "SEND DIAGNOSTIC (%s self-test)", what);
		}
	} else {
		static const uint8_t subs[] = { 0, OSTOR_ATA_TEST_SHORT, OSTOR_ATA_TEST_EXTENDED,
						OSTOR_ATA_TEST_ABORT };
		struct ata_cmd c = { "SMART EXECUTE OFFLINE IMMEDIATE", b_offline, subs[test], 0, false };

		r = ata_run(&h, protocol, &c, buf, &res);
		if (r == 0 && res.sense_len) {
			struct ostor_scsi_ata_return regs;

			if (ostor_scsi_parse_ata_return(res.sense, res.sense_len, &regs) == 0 && (regs.status & 1))
				r = ostori_error(OSTOR_ERROR_NOT_SUPPORTED,
						 "the drive refused the self-test (ATA error %02xh): SMART "
						 "self-tests disabled or not supported", regs.error);
		}
	}
out:
	ostor_task_free(h.t);
	free(hr);
	return r;
}
