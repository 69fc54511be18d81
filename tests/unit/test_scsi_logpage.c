/*
 * tests/unit/test_scsi_logpage.c - health log pages (lib/scsi/logpage.c):
 * supported pages and subpages (00h), Temperature (0Dh), Informational
 * Exceptions (2Fh), Self-Test Results (10h), Background Scan Results
 * (15h), and informational exception recognition in sense data; each on
 * pages shaped as disks send them, then cut at every length (in heap
 * blocks of exactly that size), with PAGE LENGTH and PARAMETER LENGTH
 * larger than what arrived, short parameters and the wrong page.
 */
#include "core/internal.h"

#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "scsi/scsi_priv.h"

static uint8_t *dup_n(const uint8_t *src, size_t n)
{
	uint8_t *p = malloc(n ? n : 1);

	ck_assert_ptr_nonnull(p);
	if (n)
		memcpy(p, src, n);
	return p;
}

/* A page of the given parameters: header, then the bytes. */
static size_t page(uint8_t *b, uint8_t pg, uint8_t subpage, const uint8_t *params, size_t n)
{
	b[0] = (uint8_t)(pg | (subpage ? 0x40 : 0));
	b[1] = subpage;
	b[2] = (uint8_t)(n >> 8);
	b[3] = (uint8_t)n;
	memcpy(b + 4, params, n);
	return 4 + n;
}

/* ---- 00h ----------------------------------------------------------------- */

START_TEST(test_supported_pages)
{
	static const uint8_t list[] = { 0x00, 0x02, 0x03, 0x05, 0x06, 0x0d, 0x0e, 0x0f,
					0x10, 0x15, 0x18, 0x1a, 0x2f, 0x30 };
	static const uint8_t pairs[] = { 0x00, 0x00, 0x00, 0xff, 0x0d, 0x00, 0x0d, 0x01,
					 0x0d, 0x02, 0x10, 0x00, 0x18, 0x00, 0x18, 0x01,
					 0x2f, 0x00 };
	struct ostor_scsi_log_page_id ids[32];
	uint8_t b[64];
	size_t n, total, i;
	int r;

	n = page(b, 0x00, 0x00, list, sizeof(list));
	r = ostor_scsi_parse_log_supported(b, n, ids, 32, &total);
	ck_assert_int_eq(r, (int)sizeof(list));
	ck_assert_uint_eq(total, sizeof(list));
	for (i = 0; i < sizeof(list); i++) {
		ck_assert_uint_eq(ids[i].page, list[i]);
		ck_assert_uint_eq(ids[i].subpage, 0);
	}
	ck_assert_int_eq(ostor_scsi_log_supports(b, n, 0x2f, 0), 1);
	ck_assert_int_eq(ostor_scsi_log_supports(b, n, 0x15, 0), 1);
	ck_assert_int_eq(ostor_scsi_log_supports(b, n, 0x11, 0), 0);
	ck_assert_int_eq(ostor_scsi_log_supports(b, n, 0x0d, 1), 0);
	/* Fewer slots than pages: the count still says all. */
	r = ostor_scsi_parse_log_supported(b, n, ids, 3, &total);
	ck_assert_int_eq(r, 3);
	ck_assert_uint_eq(total, sizeof(list));
	ck_assert_int_eq(ostor_scsi_parse_log_supported(b, n, NULL, 0, &total), 0);
	ck_assert_uint_eq(total, sizeof(list));

	/* 00h/FFh: page/subpage pairs. */
	n = page(b, 0x00, 0xff, pairs, sizeof(pairs));
	r = ostor_scsi_parse_log_supported(b, n, ids, 32, &total);
	ck_assert_int_eq(r, 9);
	ck_assert_uint_eq(ids[3].page, 0x0d);
	ck_assert_uint_eq(ids[3].subpage, 0x01);
	ck_assert_int_eq(ostor_scsi_log_supports(b, n, 0x0d, 2), 1);
	ck_assert_int_eq(ostor_scsi_log_supports(b, n, 0x18, 1), 1);
	ck_assert_int_eq(ostor_scsi_log_supports(b, n, 0x18, 2), 0);
	/* Same, a device that clears SPF on it. */
	b[0] = 0x00;
	ck_assert_int_eq(ostor_scsi_parse_log_supported(b, n, ids, 32, NULL), 9);
	/* An odd byte at the end is not half a pair. */
	b[3] = (uint8_t)(sizeof(pairs) - 1);
	ck_assert_int_eq(ostor_scsi_parse_log_supported(b, n - 1, ids, 32, &total), 8);
	/* NNh/FFh: the subpages of one page. */
	n = page(b, 0x0d, 0xff, pairs + 4, 6);
	ck_assert_int_eq(ostor_scsi_parse_log_supported(b, n, ids, 32, NULL), 3);
	ck_assert_int_eq(ostor_scsi_log_supports(b, n, 0x0d, 1), 1);

	/* Not a list: refused. */
	n = page(b, 0x0d, 0x00, list, 4);
	ck_assert_int_eq(ostor_scsi_parse_log_supported(b, n, ids, 32, &total), OSTOR_ERROR_PROTOCOL);
	ck_assert_uint_eq(total, 0);
	ck_assert_ptr_nonnull(strstr(ostor_last_error(), "0Dh/00h"));
	ck_assert_int_eq(ostor_scsi_log_supports(b, n, 0x0d, 0), 0);
	/* PAGE LENGTH past the transfer, and every cut. */
	n = page(b, 0x00, 0x00, list, sizeof(list));
	b[3] = 0xff;
	ck_assert_int_eq(ostor_scsi_parse_log_supported(b, n, ids, 32, &total), (int)sizeof(list));
	for (i = 0; i <= n; i++) {
		uint8_t *q = dup_n(b, i);

		r = ostor_scsi_parse_log_supported(q, i, ids, 32, &total);
		if (i < 4) {
			ck_assert_int_eq(r, OSTOR_ERROR_PROTOCOL);
		} else {
			ck_assert_int_eq(r, (int)(i - 4));
			ck_assert_uint_eq(total, i - 4);
		}
		ck_assert_int_eq(ostor_scsi_log_supports(q, i, 0x30, 0), i == n);
		free(q);
	}
	ck_assert_int_eq(ostor_scsi_parse_log_supported(NULL, 8, ids, 32, NULL), OSTOR_ERROR_INVALID_PARAM);
	ck_assert_int_eq(ostor_scsi_parse_log_supported(b, n, NULL, 4, NULL), OSTOR_ERROR_INVALID_PARAM);
	ck_assert_int_eq(ostor_scsi_log_supports(NULL, 8, 0, 0), 0);
}
END_TEST

/* ---- 0Dh ----------------------------------------------------------------- */

START_TEST(test_temperature)
{
	static const uint8_t params[] = {
		0x00, 0x00, 0x03, 0x02, 0x00, 0x24, /* current 36 */
		0x00, 0x01, 0x03, 0x02, 0x00, 0x41, /* reference 65 */
	};
	struct ostor_scsi_log_temperature t;
	uint8_t b[32];
	size_t n, i;

	n = page(b, 0x0d, 0, params, sizeof(params));
	ck_assert_int_eq(ostor_scsi_parse_log_temperature(b, n, &t), 0);
	ck_assert_int_eq(t.current_valid, 1);
	ck_assert_uint_eq(t.current, 36);
	ck_assert_int_eq(t.reference_valid, 1);
	ck_assert_uint_eq(t.reference, 65);
	/* FFh: not available. */
	b[9] = 0xff;
	ck_assert_int_eq(ostor_scsi_parse_log_temperature(b, n, &t), 0);
	ck_assert_int_eq(t.current_valid, 0);
	ck_assert_int_eq(t.reference_valid, 1);
	/* A parameter too short for the temperature byte: skipped. */
	n = page(b, 0x0d, 0, params, sizeof(params));
	b[7] = 1;
	b[3] = 11;
	memmove(b + 9, b + 10, 6);
	n = 15;
	ck_assert_int_eq(ostor_scsi_parse_log_temperature(b, n, &t), 0);
	ck_assert_int_eq(t.current_valid, 0);
	ck_assert_int_eq(t.reference_valid, 1);
	ck_assert_uint_eq(t.reference, 65);
	/* Every cut: a parameter counts only whole. */
	n = page(b, 0x0d, 0, params, sizeof(params));
	for (i = 0; i <= n; i++) {
		uint8_t *q = dup_n(b, i);
		int r = ostor_scsi_parse_log_temperature(q, i, &t);

		ck_assert_int_eq(r, i < 4 ? OSTOR_ERROR_PROTOCOL : 0);
		ck_assert_int_eq(t.current_valid, i >= 10);
		ck_assert_int_eq(t.reference_valid, i >= 16);
		free(q);
	}
	/* PARAMETER LENGTH past PAGE LENGTH. */
	b[7] = 0x40;
	ck_assert_int_eq(ostor_scsi_parse_log_temperature(b, n, &t), 0);
	ck_assert_int_eq(t.current_valid, 0);
	/* Wrong page. */
	n = page(b, 0x2f, 0, params, sizeof(params));
	ck_assert_int_eq(ostor_scsi_parse_log_temperature(b, n, &t), OSTOR_ERROR_PROTOCOL);
	ck_assert_ptr_nonnull(strstr(ostor_last_error(), "not 0Dh"));
	ck_assert_int_eq(ostor_scsi_parse_log_temperature(NULL, 4, &t), OSTOR_ERROR_INVALID_PARAM);
	ck_assert_int_eq(ostor_scsi_parse_log_temperature(b, n, NULL), OSTOR_ERROR_INVALID_PARAM);
}
END_TEST

/* ---- 2Fh and sense ------------------------------------------------------- */

START_TEST(test_informational_exceptions)
{
	static const uint8_t ok[] = { 0x00, 0x00, 0x03, 0x04, 0x00, 0x00, 0x26, 0x44 };
	static const uint8_t failing[] = { 0x00, 0x00, 0x03, 0x03, 0x5d, 0x10, 0x2a,
					   0x00, 0x01, 0x03, 0x02, 0x12, 0x34 };
	struct ostor_scsi_log_ie ie;
	struct ostor_scsi_sense s = OSTOR_SCSI_SENSE_INIT;
	uint8_t b[64], sense[32];
	char text[128];
	size_t n, i;

	n = page(b, 0x2f, 0, ok, sizeof(ok));
	ck_assert_int_eq(ostor_scsi_parse_log_ie(b, n, &ie), 0);
	ck_assert_int_eq(ie.present, 1);
	ck_assert_uint_eq(ie.asc, 0);
	ck_assert_uint_eq(ie.ascq, 0);
	ck_assert_int_eq(ie.exception, OSTOR_SCSI_IE_NONE);
	ck_assert_int_eq(ie.temperature_valid, 1);
	ck_assert_uint_eq(ie.temperature, 38);
	ck_assert_int_eq(ie.trip_temperature_valid, 1);
	ck_assert_uint_eq(ie.trip_temperature, 68);

	n = page(b, 0x2f, 0, failing, sizeof(failing));
	ck_assert_int_eq(ostor_scsi_parse_log_ie(b, n, &ie), 0);
	ck_assert_int_eq(ie.present, 1);
	ck_assert_uint_eq(ie.asc, 0x5d);
	ck_assert_uint_eq(ie.ascq, 0x10);
	ck_assert_int_eq(ie.exception, OSTOR_SCSI_IE_FAILURE_PREDICTED);
	ck_assert_uint_eq(ie.temperature, 42);
	ck_assert_int_eq(ie.trip_temperature_valid, 0);
	ck_assert_ptr_nonnull(strstr(ostor_scsi_asc_ascq_text(ie.asc, ie.ascq, text, sizeof(text)),
				     "impending failure"));
	/* Temperature FFh: none. */
	b[10] = 0xff;
	ck_assert_int_eq(ostor_scsi_parse_log_ie(b, n, &ie), 0);
	ck_assert_int_eq(ie.temperature_valid, 0);
	/* Parameter 0000h shorter than ASC/ASCQ: not present. */
	n = page(b, 0x2f, 0, (const uint8_t[]){ 0x00, 0x00, 0x03, 0x01, 0x5d }, 5);
	ck_assert_int_eq(ostor_scsi_parse_log_ie(b, n, &ie), 0);
	ck_assert_int_eq(ie.present, 0);
	/* Only vendor parameters: not present. */
	n = page(b, 0x2f, 0, failing + 7, 6);
	ck_assert_int_eq(ostor_scsi_parse_log_ie(b, n, &ie), 0);
	ck_assert_int_eq(ie.present, 0);
	/* Every cut. */
	n = page(b, 0x2f, 0, failing, sizeof(failing));
	for (i = 0; i <= n; i++) {
		uint8_t *q = dup_n(b, i);

		ck_assert_int_eq(ostor_scsi_parse_log_ie(q, i, &ie), i < 4 ? OSTOR_ERROR_PROTOCOL : 0);
		ck_assert_int_eq(ie.present, i >= 11);
		ck_assert_int_eq(ie.temperature_valid, i >= 11);
		free(q);
	}
	n = page(b, 0x0d, 0, failing, sizeof(failing));
	ck_assert_int_eq(ostor_scsi_parse_log_ie(b, n, &ie), OSTOR_ERROR_PROTOCOL);
	ck_assert_int_eq(ostor_scsi_parse_log_ie(b, n, NULL), OSTOR_ERROR_INVALID_PARAM);

	/* The recognition itself. */
	ck_assert_int_eq(ostor_scsi_informational_exception(0x5d, 0x00), OSTOR_SCSI_IE_FAILURE_PREDICTED);
	ck_assert_int_eq(ostor_scsi_informational_exception(0x5d, 0x64), OSTOR_SCSI_IE_FAILURE_PREDICTED);
	ck_assert_int_eq(ostor_scsi_informational_exception(0x5d, 0xff), OSTOR_SCSI_IE_FALSE);
	ck_assert_int_eq(ostor_scsi_informational_exception(0x0b, 0x01), OSTOR_SCSI_IE_WARNING);
	ck_assert_int_eq(ostor_scsi_informational_exception(0x00, 0x00), OSTOR_SCSI_IE_NONE);
	ck_assert_int_eq(ostor_scsi_informational_exception(0x04, 0x00), OSTOR_SCSI_IE_NONE);
	/* REQUEST SENSE after an IE (MRIE 6): NO SENSE / 5Dh in fixed... */
	n = ostor_scsi_build_sense_fixed(sense, sizeof(sense), OSTOR_SCSI_SENSE_NO_SENSE, 0x5d, 0x00);
	ck_assert_int_eq(ostor_scsi_parse_sense(sense, n, &s), 0);
	ck_assert_int_eq(ostor_scsi_informational_exception(s.asc, s.ascq), OSTOR_SCSI_IE_FAILURE_PREDICTED);
	/* ...and descriptor format, RECOVERED ERROR (MRIE 4), the test. */
	n = ostor_scsi_build_sense_descriptor(sense, sizeof(sense), OSTOR_SCSI_SENSE_RECOVERED_ERROR,
					      0x5d, 0xff, 0, 0);
	ck_assert_int_eq(ostor_scsi_parse_sense(sense, n, &s), 0);
	ck_assert_int_eq(ostor_scsi_informational_exception(s.asc, s.ascq), OSTOR_SCSI_IE_FALSE);
}
END_TEST

/* ---- 10h ----------------------------------------------------------------- */

static void self_test_param(uint8_t *p, uint16_t code, uint8_t stc, uint8_t result,
			    uint8_t number, uint16_t hours, uint64_t lba, uint8_t sk,
			    uint8_t asc, uint8_t ascq)
{
	int i;

	memset(p, 0, 20);
	p[0] = (uint8_t)(code >> 8);
	p[1] = (uint8_t)code;
	p[2] = 0x03;
	p[3] = 0x10;
	p[4] = (uint8_t)(stc << 5 | result);
	p[5] = number;
	p[6] = (uint8_t)(hours >> 8);
	p[7] = (uint8_t)hours;
	for (i = 0; i < 8; i++)
		p[8 + i] = (uint8_t)(lba >> (56 - 8 * i));
	p[16] = sk;
	p[17] = asc;
	p[18] = ascq;
}

START_TEST(test_self_test_results)
{
	uint8_t params[20 * 20], b[4 + sizeof(params)];
	struct ostor_scsi_log_self_test r[20];
	size_t n, total, i;
	int got;

	memset(params, 0, sizeof(params));
	for (i = 0; i < 20; i++)
		self_test_param(params + 20 * i, (uint16_t)(i + 1), 0, 0, 0, 0, 0, 0, 0, 0);
	self_test_param(params, 1, 1, 0, 0, 41235, ~0ULL, 0, 0, 0);
	self_test_param(params + 20, 2, 2, 7, 3, 41200, 0x12345678ULL, 3, 0x11, 0x04);
	self_test_param(params + 40, 3, 1, 0xf, 0, 0, ~0ULL, 0, 0, 0);
	self_test_param(params + 60, 4, 6, 0, 0, 40000, 0, 0, 0, 0);
	n = page(b, 0x10, 0, params, sizeof(params));
	got = ostor_scsi_parse_log_self_test(b, n, r, 20, &total);
	ck_assert_int_eq(got, 4);
	ck_assert_uint_eq(total, 4);
	ck_assert_uint_eq(r[0].param_code, 1);
	ck_assert_uint_eq(r[0].code, 1);
	ck_assert_str_eq(ostor_scsi_self_test_code_name(r[0].code), "Background short");
	ck_assert_uint_eq(r[0].result, 0);
	ck_assert_str_eq(ostor_scsi_self_test_result_name(r[0].result), "Completed");
	ck_assert_uint_eq(r[0].power_on_hours, 41235);
	ck_assert_int_eq(r[0].lba_valid, 0);
	ck_assert_uint_eq(r[1].code, 2);
	ck_assert_uint_eq(r[1].result, 7);
	ck_assert_int_eq(ostor_scsi_self_test_result_failed(r[1].result), 1);
	ck_assert_uint_eq(r[1].number, 3);
	ck_assert_int_eq(r[1].lba_valid, 1);
	ck_assert_uint_eq(r[1].first_failure_lba, 0x12345678ULL);
	ck_assert_uint_eq(r[1].sense_key, 3);
	ck_assert_uint_eq(r[1].asc, 0x11);
	ck_assert_uint_eq(r[1].ascq, 0x04);
	ck_assert_uint_eq(r[2].result, 0xf);
	ck_assert_uint_eq(r[2].power_on_hours, 0);
	ck_assert_int_eq(r[2].lba_valid, 0);
	ck_assert_str_eq(ostor_scsi_self_test_result_name(r[2].result), "Self test in progress");
	ck_assert_str_eq(ostor_scsi_self_test_code_name(r[3].code), "Foreground long");
	/* Fewer slots. */
	ck_assert_int_eq(ostor_scsi_parse_log_self_test(b, n, r, 2, &total), 2);
	ck_assert_uint_eq(total, 4);
	ck_assert_int_eq(ostor_scsi_parse_log_self_test(b, n, NULL, 0, &total), 0);
	ck_assert_uint_eq(total, 4);
	/* All 20 used. */
	for (i = 4; i < 20; i++)
		self_test_param(params + 20 * i, (uint16_t)(i + 1), 1, 0, 0, (uint16_t)(1000 - i), 0, 0, 0, 0);
	n = page(b, 0x10, 0, params, sizeof(params));
	ck_assert_int_eq(ostor_scsi_parse_log_self_test(b, n, r, 20, &total), 20);
	ck_assert_uint_eq(r[19].power_on_hours, 981);
	/* A short parameter and an out-of-range code are skipped, not read
	 * past. */
	params[23] = 0x08;
	memmove(params + 32, params + 40, sizeof(params) - 40);
	n = page(b, 0x10, 0, params, sizeof(params) - 8);
	ck_assert_int_eq(ostor_scsi_parse_log_self_test(b, n, r, 20, &total), 19);
	ck_assert_uint_eq(r[1].param_code, 3);
	self_test_param(params, 0x8000, 1, 0, 0, 5, 0, 0, 0, 0);
	n = page(b, 0x10, 0, params, sizeof(params) - 8);
	ck_assert_int_eq(ostor_scsi_parse_log_self_test(b, n, r, 20, &total), 18);
	/* Every cut: only whole parameters. */
	memset(params, 0, sizeof(params));
	for (i = 0; i < 20; i++)
		self_test_param(params + 20 * i, (uint16_t)(i + 1), 1, 0, 0, (uint16_t)(100 + i), 0, 0, 0, 0);
	n = page(b, 0x10, 0, params, sizeof(params));
	for (i = 0; i <= n; i++) {
		uint8_t *q = dup_n(b, i);

		got = ostor_scsi_parse_log_self_test(q, i, r, 20, &total);
		if (i < 4)
			ck_assert_int_eq(got, OSTOR_ERROR_PROTOCOL);
		else
			ck_assert_int_eq(got, (int)((i - 4) / 20));
		free(q);
	}
	/* PAGE LENGTH past the transfer. */
	b[2] = 0xff;
	ck_assert_int_eq(ostor_scsi_parse_log_self_test(b, 4 + 45, r, 20, &total), 2);
	n = page(b, 0x15, 0, params, 20);
	ck_assert_int_eq(ostor_scsi_parse_log_self_test(b, n, r, 20, &total), OSTOR_ERROR_PROTOCOL);
	ck_assert_int_eq(ostor_scsi_parse_log_self_test(b, n, NULL, 3, &total), OSTOR_ERROR_INVALID_PARAM);

	ck_assert_str_eq(ostor_scsi_self_test_result_name(3), "Unknown error, incomplete");
	ck_assert_str_eq(ostor_scsi_self_test_result_name(9), "Reserved");
	ck_assert_int_eq(ostor_scsi_self_test_result_failed(2), 0);
	ck_assert_int_eq(ostor_scsi_self_test_result_failed(3), 1);
	ck_assert_int_eq(ostor_scsi_self_test_result_failed(0xf), 0);
	ck_assert_str_eq(ostor_scsi_self_test_code_name(0xff), "Reserved");
}
END_TEST

/* ---- 15h ----------------------------------------------------------------- */

START_TEST(test_background_scan)
{
	static const uint8_t params[] = {
		/* 0000h: status, 12 bytes */
		0x00, 0x00, 0x03, 0x0c, 0x00, 0x25, 0x9a, 0x4c, 0x00, 0x01, 0x00, 0x2a, 0x40, 0x00,
		0x00, 0x2b,
		/* 0001h: a medium error reassigned, 20 bytes */
		0x00, 0x01, 0x03, 0x14, 0x00, 0x25, 0x90, 0x00, 0x23, 0x11, 0x00, 0, 0, 0, 0, 0,
		0x00, 0x00, 0x00, 0x00, 0x00, 0x12, 0x34, 0x56,
		/* 8000h: vendor specific */
		0x80, 0x00, 0x03, 0x02, 0xaa, 0xbb,
		/* 0002h: recovered, not reassigned */
		0x00, 0x02, 0x03, 0x14, 0x00, 0x25, 0x91, 0x00, 0x11, 0x17, 0x01, 0, 0, 0, 0, 0,
		0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00,
	};
	struct ostor_scsi_log_bg_scan_status st;
	struct ostor_scsi_log_bg_scan_entry e[8];
	uint8_t b[128];
	size_t n, total, i;
	int got;

	n = page(b, 0x15, 0, params, sizeof(params));
	got = ostor_scsi_parse_log_bg_scan(b, n, &st, e, 8, &total);
	ck_assert_int_eq(got, 2);
	ck_assert_uint_eq(total, 2);
	ck_assert_int_eq(st.present, 1);
	ck_assert_uint_eq(st.power_on_minutes, 0x259a4c);
	ck_assert_uint_eq(st.status, 1);
	ck_assert_str_eq(ostor_scsi_bg_scan_status_name(st.status), "scan is active");
	ck_assert_uint_eq(st.scans_performed, 42);
	ck_assert_uint_eq(st.progress, 0x4000);
	ck_assert_uint_eq(st.medium_scans_performed, 43);
	ck_assert_uint_eq(e[0].param_code, 1);
	ck_assert_uint_eq(e[0].power_on_minutes, 0x259000);
	ck_assert_uint_eq(e[0].reassign_status, 2);
	ck_assert_str_eq(ostor_scsi_bg_scan_reassign_name(e[0].reassign_status), "Successfully reassigned");
	ck_assert_uint_eq(e[0].sense_key, 3);
	ck_assert_uint_eq(e[0].asc, 0x11);
	ck_assert_uint_eq(e[0].ascq, 0x00);
	ck_assert_uint_eq(e[0].lba, 0x123456);
	ck_assert_uint_eq(e[1].param_code, 2);
	ck_assert_uint_eq(e[1].reassign_status, 1);
	ck_assert_uint_eq(e[1].sense_key, 1);
	ck_assert_uint_eq(e[1].asc, 0x17);
	ck_assert_uint_eq(e[1].lba, 0x100000000ULL);
	/* No status wanted, fewer slots. */
	ck_assert_int_eq(ostor_scsi_parse_log_bg_scan(b, n, NULL, e, 1, &total), 1);
	ck_assert_uint_eq(total, 2);
	ck_assert_int_eq(ostor_scsi_parse_log_bg_scan(b, n, &st, NULL, 0, NULL), 0);
	ck_assert_int_eq(st.present, 1);
	/* Every cut. */
	for (i = 0; i <= n; i++) {
		uint8_t *q = dup_n(b, i);

		got = ostor_scsi_parse_log_bg_scan(q, i, &st, e, 8, &total);
		if (i < 4) {
			ck_assert_int_eq(got, OSTOR_ERROR_PROTOCOL);
		} else {
			ck_assert_int_eq(got, i >= n ? 2 : i >= 4 + 40 ? 1 : 0);
			ck_assert_int_eq(st.present, i >= 20);
		}
		free(q);
	}
	/* Short status (11 bytes) and entry (19 bytes) parameters: skipped,
	 * never read past their length. */
	{
		static const uint8_t shortp[] = {
			0x00, 0x00, 0x03, 0x0b,
			0, 0, 0, 1, 0, 1, 0, 1, 0, 1, 0,
			0x00, 0x01, 0x03, 0x13,
			0, 0, 0, 1, 0x23, 0x11, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
		};

		n = page(b, 0x15, 0, shortp, sizeof(shortp));
		ck_assert_uint_eq(n, 4 + 15 + 23);
	}
	{
		uint8_t *q = dup_n(b, n);

		ck_assert_int_eq(ostor_scsi_parse_log_bg_scan(q, n, &st, e, 8, &total), 0);
		free(q);
	}
	ck_assert_int_eq(st.present, 0);
	ck_assert_uint_eq(total, 0);
	n = page(b, 0x10, 0, params, sizeof(params));
	ck_assert_int_eq(ostor_scsi_parse_log_bg_scan(b, n, &st, e, 8, &total), OSTOR_ERROR_PROTOCOL);
	ck_assert_int_eq(ostor_scsi_parse_log_bg_scan(b, n, &st, NULL, 2, &total), OSTOR_ERROR_INVALID_PARAM);

	ck_assert_str_eq(ostor_scsi_bg_scan_status_name(0), "no scans active");
	ck_assert_str_eq(ostor_scsi_bg_scan_status_name(8), "waiting until BMS interval timer expires");
	ck_assert_str_eq(ostor_scsi_bg_scan_status_name(9), "reserved");
	ck_assert_str_eq(ostor_scsi_bg_scan_reassign_name(8), "Unsuccessfully reassigned by app");
	ck_assert_str_eq(ostor_scsi_bg_scan_reassign_name(15), "Reserved");
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("scsi_logpage");
	TCase *tc = tcase_create("pages");

	tcase_add_test(tc, test_supported_pages);
	tcase_add_test(tc, test_temperature);
	tcase_add_test(tc, test_informational_exceptions);
	tcase_add_test(tc, test_self_test_results);
	tcase_add_test(tc, test_background_scan);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
