/*
 * lib/scsi/logpage.c - decoders of the LOG SENSE pages a health check
 * reads (SPC-4, SBC-3): supported pages (00h), Temperature (0Dh),
 * Self-Test Results (10h), Background Scan Results (15h), Informational
 * Exceptions (2Fh); informational exception ASC/ASCQ recognition.
 *
 * Every page is read through ostor_scsi_parse_log_sense (PAGE LENGTH
 * bounded by the bytes that arrived) and the log parameter iterator,
 * which never returns a parameter cut short; a parameter shorter than its
 * layout is skipped, never read past its PARAMETER LENGTH.
 */

#include <string.h>

#include "scsi/scsi_priv.h"

static int null_args(const char *what)
{
	return ostori_error(OSTOR_ERROR_INVALID_PARAM,
			    "%s: NULL buffer or output argument", what);
}

/* The header, checked to be page (subpage when spf). */
static int page_header(const uint8_t *buf, size_t len, const char *what,
		       uint8_t page, struct ostor_scsi_log_header *h)
{
	int r = ostor_scsi_parse_log_sense(buf, len, h);

	if (r)
		return ostori_error_wrap(r, "%s", what);
	if (h->page != page)
		return ostori_error(OSTOR_ERROR_PROTOCOL,
				    "%s: the response is log page %02Xh, not %02Xh",
				    what, h->page, page);
	return 0;
}

/* ---- 00h: supported pages ---------------------------------------------- */

/* Entry i of the list into *id; the list is pairs when the response is a
 * subpage list (subpage FFh). */
static void log_supported_entry(const uint8_t *buf, int pairs, size_t i,
				struct ostor_scsi_log_page_id *id)
{
	if (pairs) {
		id->page = buf[4 + 2 * i] & 0x3f;
		id->subpage = buf[4 + 2 * i + 1];
	} else {
		id->page = buf[4 + i] & 0x3f;
		id->subpage = 0;
	}
}

static int log_supported_list(const uint8_t *buf, size_t len, int *pairs,
			      size_t *n)
{
	struct ostor_scsi_log_header h;
	int r;

	r = ostor_scsi_parse_log_sense(buf, len, &h);
	if (r)
		return ostori_error_wrap(r, "LOG SENSE supported pages");
	/* 00h/FFh lists every page and subpage; NNh/FFh the subpages of one
	 * page; 00h/00h the pages, a byte each.  Some devices clear SPF on
	 * the subpage lists: the subpage byte decides. */
	if (h.subpage == 0xff) {
		*pairs = 1;
		*n = h.params_len / 2;
		return 0;
	}
	if (h.page == 0 && h.subpage == 0) {
		*pairs = 0;
		*n = h.params_len;
		return 0;
	}
	return ostori_error(OSTOR_ERROR_PROTOCOL,
			    "LOG SENSE supported pages: the response is page %02Xh/%02Xh, neither 00h/00h nor a subpage list (subpage FFh)",
			    h.page, h.subpage);
}

int ostor_scsi_parse_log_supported(const uint8_t *buf, size_t len,
				   struct ostor_scsi_log_page_id *ids, size_t max,
				   size_t *total)
{
	size_t n, i, stored;
	int pairs, r;

	if (total)
		*total = 0;
	if ((!buf && len) || (!ids && max))
		return null_args("LOG SENSE supported pages");
	r = log_supported_list(buf, len, &pairs, &n);
	if (r)
		return r;
	stored = OSTOR_MIN(n, max);
	for (i = 0; i < stored; i++)
		log_supported_entry(buf, pairs, i, &ids[i]);
	if (total)
		*total = n;
	return (int)OSTOR_MIN(stored, (size_t)INT32_MAX);
}

int ostor_scsi_log_supports(const uint8_t *buf, size_t len, uint8_t page,
			    uint8_t subpage)
{
	struct ostor_scsi_log_page_id id;
	size_t n, i;
	int pairs;

	if (!buf || log_supported_list(buf, len, &pairs, &n))
		return 0;
	for (i = 0; i < n; i++) {
		log_supported_entry(buf, pairs, i, &id);
		if (id.page == page && id.subpage == subpage)
			return 1;
	}
	return 0;
}

/* ---- 0Dh: temperature -------------------------------------------------- */

int ostor_scsi_parse_log_temperature(const uint8_t *buf, size_t len,
				     struct ostor_scsi_log_temperature *out)
{
	struct ostor_scsi_log_header h;
	struct ostor_scsi_log_param p;
	struct ostor_scsi_iter it;
	int r;

	if (!out || (!buf && len))
		return null_args("LOG SENSE temperature page");
	memset(out, 0, sizeof(*out));
	r = page_header(buf, len, "LOG SENSE temperature page", OSTOR_SCSI_LOG_TEMPERATURE, &h);
	if (r)
		return r;
	if (ostor_scsi_log_param_iter_init(&it, buf, len))
		return ostori_error_wrap(OSTOR_ERROR_PROTOCOL, "LOG SENSE temperature page");
	while (ostor_scsi_log_param_next(&it, &p) == 1) {
		/* Byte 4 reserved, byte 5 the temperature; FFh: none. */
		if (p.len < 2 || p.value[1] == 0xff)
			continue;
		if (p.code == 0x0000) {
			out->current_valid = 1;
			out->current = p.value[1];
		} else if (p.code == 0x0001) {
			out->reference_valid = 1;
			out->reference = p.value[1];
		}
	}
	return 0;
}

/* ---- informational exceptions ------------------------------------------ */

int ostor_scsi_informational_exception(uint8_t asc, uint8_t ascq)
{
	if (asc == 0x5d)
		return ascq == 0xff ? OSTOR_SCSI_IE_FALSE : OSTOR_SCSI_IE_FAILURE_PREDICTED;
	if (asc == 0x0b)
		return OSTOR_SCSI_IE_WARNING;
	return OSTOR_SCSI_IE_NONE;
}

int ostor_scsi_parse_log_ie(const uint8_t *buf, size_t len, struct ostor_scsi_log_ie *out)
{
	struct ostor_scsi_log_header h;
	struct ostor_scsi_log_param p;
	struct ostor_scsi_iter it;
	int r;

	if (!out || (!buf && len))
		return null_args("LOG SENSE informational exceptions page");
	memset(out, 0, sizeof(*out));
	r = page_header(buf, len, "LOG SENSE informational exceptions page",
			OSTOR_SCSI_LOG_INFORMATIONAL_EXCEPTIONS, &h);
	if (r)
		return r;
	if (ostor_scsi_log_param_iter_init(&it, buf, len))
		return ostori_error_wrap(OSTOR_ERROR_PROTOCOL,
					 "LOG SENSE informational exceptions page");
	while (ostor_scsi_log_param_next(&it, &p) == 1) {
		if (p.code != 0x0000 || p.len < 2)
			continue;
		out->present = 1;
		out->asc = p.value[0];
		out->ascq = p.value[1];
		out->exception = ostor_scsi_informational_exception(out->asc, out->ascq);
		if (p.len > 2 && p.value[2] != 0xff) {
			out->temperature_valid = 1;
			out->temperature = p.value[2];
		}
		if (p.len > 3 && p.value[3] != 0xff && p.value[3] != 0) {
			out->trip_temperature_valid = 1;
			out->trip_temperature = p.value[3];
		}
		break;
	}
	return 0;
}

/* ---- 10h: self-test results -------------------------------------------- */

const char *ostor_scsi_self_test_result_name(uint8_t result)
{
	static const char *const names[] = {
		"Completed",
		"Aborted (by user command)",
		"Aborted (device reset ?)",
		"Unknown error, incomplete",
		"Completed, segment failed",
		"Failed in first segment",
		"Failed in second segment",
		"Failed in segment",
	};

	if (result < OSTOR_ARRAY_SIZE(names))
		return names[result];
	if (result == 0xf)
		return "Self test in progress";
	return "Reserved";
}

int ostor_scsi_self_test_result_failed(uint8_t result)
{
	return result >= 3 && result <= 7;
}

const char *ostor_scsi_self_test_code_name(uint8_t code)
{
	static const char *const names[] = {
		"Default", "Background short", "Background long", "Reserved",
		"Abort background", "Foreground short", "Foreground long",
		"Reserved",
	};

	return names[code & 7];
}

static int all_ff(const uint8_t *p, size_t n)
{
	while (n--)
		if (*p++ != 0xff)
			return 0;
	return 1;
}

int ostor_scsi_parse_log_self_test(const uint8_t *buf, size_t len,
				   struct ostor_scsi_log_self_test *out, size_t max,
				   size_t *total)
{
	struct ostor_scsi_log_header h;
	struct ostor_scsi_log_param p;
	struct ostor_scsi_iter it;
	size_t n = 0, stored = 0;
	int r;

	if (total)
		*total = 0;
	if ((!buf && len) || (!out && max))
		return null_args("LOG SENSE self-test results page");
	r = page_header(buf, len, "LOG SENSE self-test results page", OSTOR_SCSI_LOG_SELF_TEST, &h);
	if (r)
		return r;
	if (ostor_scsi_log_param_iter_init(&it, buf, len))
		return ostori_error_wrap(OSTOR_ERROR_PROTOCOL, "LOG SENSE self-test results page");
	while (ostor_scsi_log_param_next(&it, &p) == 1) {
		const uint8_t *v = p.value;
		struct ostor_scsi_log_self_test e;

		if (p.code < 0x0001 || p.code > 0x0014 || p.len < 0x10)
			continue;
		/* Unused: no power-on hours and no code/result (the standard
		 * says all zero; some devices leave the rest set). */
		if (v[0] == 0 && v[2] == 0 && v[3] == 0)
			break;
		memset(&e, 0, sizeof(e));
		e.param_code = p.code;
		e.code = v[0] >> 5;
		e.result = v[0] & 0x0f;
		e.number = v[1];
		e.power_on_hours = ostori_get_be16(v + 2);
		e.first_failure_lba = ostori_get_be64(v + 4);
		e.lba_valid = e.result > 0 && e.result < 0xf && !all_ff(v + 4, 8);
		e.sense_key = v[12] & 0x0f;
		e.asc = v[13];
		e.ascq = v[14];
		e.vendor = v[15];
		if (stored < max)
			out[stored++] = e;
		n++;
	}
	if (total)
		*total = n;
	return (int)stored;
}

/* ---- 15h: background scan results -------------------------------------- */

const char *ostor_scsi_bg_scan_status_name(uint8_t status)
{
	static const char *const names[] = {
		"no scans active",
		"scan is active",
		"pre-scan is active",
		"halted due to fatal error",
		"halted due to a vendor specific pattern of error",
		"halted due to medium formatted without P-List",
		"halted - vendor specific cause",
		"halted due to temperature out of range",
		"waiting until BMS interval timer expires",
	};

	if (status < OSTOR_ARRAY_SIZE(names))
		return names[status];
	return "reserved";
}

const char *ostor_scsi_bg_scan_reassign_name(uint8_t reassign_status)
{
	static const char *const names[] = {
		"Reserved",
		"Require Write or Reassign Blocks command",
		"Successfully reassigned",
		"Reserved",
		"Reassignment by disk failed",
		"Recovered via rewrite in-place",
		"Reassigned by app, has valid data",
		"Reassigned by app, has no valid data",
		"Unsuccessfully reassigned by app",
	};

	if (reassign_status < OSTOR_ARRAY_SIZE(names))
		return names[reassign_status];
	return "Reserved";
}

int ostor_scsi_parse_log_bg_scan(const uint8_t *buf, size_t len,
				 struct ostor_scsi_log_bg_scan_status *status,
				 struct ostor_scsi_log_bg_scan_entry *entries, size_t max,
				 size_t *total)
{
	struct ostor_scsi_log_header h;
	struct ostor_scsi_log_param p;
	struct ostor_scsi_iter it;
	size_t n = 0, stored = 0;
	int r;

	if (total)
		*total = 0;
	if (status)
		memset(status, 0, sizeof(*status));
	if ((!buf && len) || (!entries && max))
		return null_args("LOG SENSE background scan results page");
	r = page_header(buf, len, "LOG SENSE background scan results page",
			OSTOR_SCSI_LOG_BACKGROUND_SCAN, &h);
	if (r)
		return r;
	if (ostor_scsi_log_param_iter_init(&it, buf, len))
		return ostori_error_wrap(OSTOR_ERROR_PROTOCOL,
					 "LOG SENSE background scan results page");
	while (ostor_scsi_log_param_next(&it, &p) == 1) {
		const uint8_t *v = p.value;

		if (p.code == 0x0000) {
			/* Background scanning status: 12 bytes. */
			if (p.len < 0x0c || !status)
				continue;
			status->present = 1;
			status->power_on_minutes = ostori_get_be32(v);
			status->status = v[5];
			status->scans_performed = ostori_get_be16(v + 6);
			status->progress = ostori_get_be16(v + 8);
			status->medium_scans_performed = ostori_get_be16(v + 10);
		} else if (p.code <= 0x0800) {
			struct ostor_scsi_log_bg_scan_entry e;

			/* Background medium scan: 20 bytes. */
			if (p.len < 0x14)
				continue;
			memset(&e, 0, sizeof(e));
			e.param_code = p.code;
			e.power_on_minutes = ostori_get_be32(v);
			e.reassign_status = v[4] >> 4;
			e.sense_key = v[4] & 0x0f;
			e.asc = v[5];
			e.ascq = v[6];
			e.lba = ostori_get_be64(v + 12);
			if (stored < max)
				entries[stored++] = e;
			n++;
		}
		/* 8000h-AFFFh vendor specific, the rest reserved. */
	}
	if (total)
		*total = n;
	return (int)stored;
}
