/*
 * Health log pages (lib/scsi/logpage.c).  Byte 0 picks the decoder
 * (supported pages and subpages, 0Dh temperature, 2Fh informational
 * exceptions, 10h self-test results, 15h background scan results); byte
 * 1 the number of entries the caller has room for; the rest is the LOG
 * SENSE response.
 */
#include "fuzz.h"

#include <stdlib.h>

#include <orionstor.h>
#include <orionstor/scsi.h>

static void supported(const uint8_t *buf, size_t len, uint8_t sel)
{
	struct ostor_scsi_log_page_id *ids = malloc((sel ? sel : 1) * sizeof(*ids));
	size_t total = 0;
	int n;

	if (!ids)
		return;
	n = ostor_scsi_parse_log_supported(buf, len, sel ? ids : NULL, sel, &total);
	SINK(n); SINK(total);
	if (n > 0) {
		if ((size_t)n > sel || (size_t)n > total || total + 4 > len)
			__builtin_trap();
		for (int i = 0; i < n; i++) {
			SINK(ids[i].page); SINK(ids[i].subpage);
			if (ids[i].page > 0x3f)
				__builtin_trap();
		}
	}
	SINK(ostor_scsi_log_supports(buf, len, sel & 0x3f, sel >> 6));
	free(ids);
}

static void temperature(const uint8_t *buf, size_t len)
{
	struct ostor_scsi_log_temperature t;

	SINK(ostor_scsi_parse_log_temperature(buf, len, &t));
	SINK(t.current_valid); SINK(t.current); SINK(t.reference_valid); SINK(t.reference);
	if ((t.current_valid && t.current == 0xff) || (t.reference_valid && t.reference == 0xff))
		__builtin_trap();
}

static void ie(const uint8_t *buf, size_t len)
{
	struct ostor_scsi_log_ie e;
	char text[96];

	SINK(ostor_scsi_parse_log_ie(buf, len, &e));
	SINK(e.present); SINK(e.asc); SINK(e.ascq); SINK(e.exception);
	SINK(e.temperature_valid); SINK(e.temperature); SINK(e.trip_temperature_valid);
	SINK(e.trip_temperature);
	if (e.exception != ostor_scsi_informational_exception(e.asc, e.ascq))
		__builtin_trap();
	sink_str(ostor_scsi_asc_ascq_text(e.asc, e.ascq, text, sizeof(text)), sizeof(text));
}

static void self_test(const uint8_t *buf, size_t len, uint8_t sel)
{
	size_t max = sel % 24, total = 0;
	struct ostor_scsi_log_self_test *r = malloc((max ? max : 1) * sizeof(*r));
	int n;

	if (!r)
		return;
	n = ostor_scsi_parse_log_self_test(buf, len, max ? r : NULL, max, &total);
	SINK(n); SINK(total);
	if (n > 0) {
		/* total counts parameters, each 20 bytes of the page (a device
		 * may repeat a parameter code: all are decoded). */
		if ((size_t)n > max || (size_t)n > total || 4 + 20 * total > len)
			__builtin_trap();
		for (int i = 0; i < n; i++) {
			SINK(r[i].param_code); SINK(r[i].code); SINK(r[i].result); SINK(r[i].number);
			SINK(r[i].power_on_hours); SINK(r[i].lba_valid); SINK(r[i].first_failure_lba);
			SINK(r[i].sense_key); SINK(r[i].asc); SINK(r[i].ascq); SINK(r[i].vendor);
			if (r[i].param_code < 1 || r[i].param_code > 20)
				__builtin_trap();
			sink_str(ostor_scsi_self_test_result_name(r[i].result), 256);
			sink_str(ostor_scsi_self_test_code_name(r[i].code), 256);
			SINK(ostor_scsi_self_test_result_failed(r[i].result));
		}
	}
	free(r);
}

static void bg_scan(const uint8_t *buf, size_t len, uint8_t sel)
{
	struct ostor_scsi_log_bg_scan_status st;
	size_t max = sel, total = 0;
	struct ostor_scsi_log_bg_scan_entry *e = malloc((max ? max : 1) * sizeof(*e));
	int n;

	if (!e)
		return;
	n = ostor_scsi_parse_log_bg_scan(buf, len, (sel & 1) ? NULL : &st, max ? e : NULL, max, &total);
	SINK(n); SINK(total);
	if (!(sel & 1)) {
		SINK(st.present); SINK(st.power_on_minutes); SINK(st.status);
		SINK(st.scans_performed); SINK(st.progress); SINK(st.medium_scans_performed);
		sink_str(ostor_scsi_bg_scan_status_name(st.status), 256);
	}
	if (n > 0) {
		if ((size_t)n > max || (size_t)n > total)
			__builtin_trap();
		for (int i = 0; i < n; i++) {
			SINK(e[i].param_code); SINK(e[i].power_on_minutes); SINK(e[i].reassign_status);
			SINK(e[i].sense_key); SINK(e[i].asc); SINK(e[i].ascq); SINK(e[i].lba);
			if (e[i].param_code < 1 || e[i].param_code > 0x800)
				__builtin_trap();
			sink_str(ostor_scsi_bg_scan_reassign_name(e[i].reassign_status), 256);
		}
	}
	free(e);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const uint8_t *buf;
	size_t len;
	uint8_t sel;

	if (size < 2)
		return 0;
	sel = data[1];
	buf = data + 2;
	len = size - 2;
	switch (data[0] % 5) {
	case 0: supported(buf, len, sel); break;
	case 1: temperature(buf, len); break;
	case 2: ie(buf, len); break;
	case 3: self_test(buf, len, sel); break;
	case 4: bg_scan(buf, len, sel); break;
	}
	return 0;
}
