/*
 * tests/unit/test_scsi_sense.c - sense data (fixed, descriptor, deferred,
 * truncated, absurd lengths), sense builders, the ASC/ASCQ table (sorted,
 * unique, ranges, vendor specific, unknown), names and ATA returns.
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

/* MEDIUM ERROR, unrecovered read error at 0x12345, 3 retries. */
static const uint8_t fixed_good[18] = {
	0xf0, 0x00, 0x03, 0x00, 0x01, 0x23, 0x45, 0x0a, 0xde, 0xad, 0xbe, 0xef,
	0x11, 0x00, 0x05, 0x80, 0x00, 0x03,
};

START_TEST(test_fixed)
{
	struct ostor_scsi_sense s = OSTOR_SCSI_SENSE_INIT;
	char t[256];

	ck_assert_int_eq(ostor_scsi_parse_sense(fixed_good, 18, &s), 0);
	ck_assert_int_eq(s.valid, 1);
	ck_assert_uint_eq(s.response_code, 0x70);
	ck_assert_int_eq(s.descriptor_format, 0);
	ck_assert_int_eq(s.deferred, 0);
	ck_assert_uint_eq(s.key, OSTOR_SCSI_SENSE_MEDIUM_ERROR);
	ck_assert_uint_eq(s.asc, 0x11);
	ck_assert_uint_eq(s.ascq, 0x00);
	ck_assert_int_eq(s.info_valid, 1);
	ck_assert_uint_eq(s.information, 0x12345);
	ck_assert_int_eq(s.cmd_info_valid, 1);
	ck_assert_uint_eq(s.command_specific, 0xdeadbeef);
	ck_assert_int_eq(s.fru_valid, 1);
	ck_assert_uint_eq(s.fru, 5);
	ck_assert_int_eq(s.sksv, 1);
	ck_assert_uint_eq(s.sks[0], 0);
	ck_assert_uint_eq(s.sks[2], 3);
	ck_assert_uint_eq(s.used_len, 18);
	ck_assert_int_eq(s.filemark | s.eom | s.ili, 0);
	ck_assert_str_eq(ostor_scsi_sense_text(&s, t, sizeof(t)),
			 "MEDIUM ERROR: Unrecovered read error (11h/00h), information 0x12345, actual retry count 3");
	ck_assert_int_eq(ostor_scsi_sense_progress(&s), -1);
}
END_TEST

START_TEST(test_fixed_truncated)
{
	struct ostor_scsi_sense s = OSTOR_SCSI_SENSE_INIT;
	size_t n;

	for (n = 0; n <= sizeof(fixed_good); n++) {
		uint8_t *p = dup_n(fixed_good, n);
		int r = ostor_scsi_parse_sense(p, n, &s);

		if (n < 3) {
			ck_assert_int_eq(r, OSTOR_ERROR_PROTOCOL);
			ck_assert_int_eq(s.valid, 0);
			free(p);
			continue;
		}
		ck_assert_int_eq(r, 0);
		ck_assert_uint_eq(s.key, 3);
		ck_assert_uint_eq(s.used_len, n);
		ck_assert_int_eq(s.info_valid, n >= 7);
		ck_assert_uint_eq(s.information, n >= 7 ? 0x12345 : 0);
		ck_assert_int_eq(s.cmd_info_valid, n >= 12);
		ck_assert_uint_eq(s.asc, n >= 13 ? 0x11 : 0);
		ck_assert_int_eq(s.fru_valid, n >= 15);
		ck_assert_int_eq(s.sksv, n >= 18);
		free(p);
	}
}
END_TEST

START_TEST(test_fixed_lengths)
{
	struct ostor_scsi_sense s = OSTOR_SCSI_SENSE_INIT;
	uint8_t b[64];
	char t[256];

	/* Absurd ADDITIONAL SENSE LENGTH: bounded by the transfer. */
	memcpy(b, fixed_good, 18);
	b[7] = 0xff;
	ck_assert_int_eq(ostor_scsi_parse_sense(b, 18, &s), 0);
	ck_assert_uint_eq(s.used_len, 18);
	ck_assert_uint_eq(s.asc, 0x11);
	ck_assert_int_eq(s.sksv, 1);
	/* ADDITIONAL SENSE LENGTH 0: the bytes after it are not sense. */
	memset(b + 18, 0x77, sizeof(b) - 18);
	b[7] = 0;
	ck_assert_int_eq(ostor_scsi_parse_sense(b, 18, &s), 0);
	ck_assert_uint_eq(s.used_len, 8);
	ck_assert_uint_eq(s.asc, 0);
	ck_assert_int_eq(s.cmd_info_valid, 0);
	ck_assert_int_eq(s.sksv, 0);
	ck_assert_int_eq(s.info_valid, 1);
	/* ADDITIONAL SENSE LENGTH 6: ASC/ASCQ yes, FRU and SKS no. */
	b[7] = 6;
	ck_assert_int_eq(ostor_scsi_parse_sense(b, sizeof(b), &s), 0);
	ck_assert_uint_eq(s.used_len, 14);
	ck_assert_uint_eq(s.asc, 0x11);
	ck_assert_int_eq(s.fru_valid, 0);
	ck_assert_int_eq(s.sksv, 0);
	/* VALID clear: INFORMATION ignored. */
	b[0] = 0x70;
	ck_assert_int_eq(ostor_scsi_parse_sense(b, 18, &s), 0);
	ck_assert_int_eq(s.info_valid, 0);
	ck_assert_uint_eq(s.information, 0);

	/* Deferred (71h). */
	memset(b, 0, sizeof(b));
	b[0] = 0x71;
	b[2] = 0x06;
	b[7] = 10;
	b[12] = 0x29;
	ck_assert_int_eq(ostor_scsi_parse_sense(b, 18, &s), 0);
	ck_assert_int_eq(s.deferred, 1);
	ck_assert_str_eq(ostor_scsi_sense_text(&s, t, sizeof(t)),
			 "UNIT ATTENTION: Power on, reset, or bus device reset occurred (29h/00h), deferred error");

	/* Filemark, EOM, ILI. */
	b[0] = 0x70;
	b[2] = 0xe0;
	ck_assert_int_eq(ostor_scsi_parse_sense(b, 18, &s), 0);
	ck_assert_int_eq(s.filemark, 1);
	ck_assert_int_eq(s.eom, 1);
	ck_assert_int_eq(s.ili, 1);
	ck_assert_uint_eq(s.key, 0);
	ck_assert(strstr(ostor_scsi_sense_text(&s, t, sizeof(t)), "filemark") != NULL);

	/* ILLEGAL REQUEST with a field pointer into the CDB, bit 5. */
	memset(b, 0, sizeof(b));
	b[0] = 0x70;
	b[2] = 0x05;
	b[7] = 10;
	b[12] = 0x24;
	b[15] = 0xcd;
	b[16] = 0x00;
	b[17] = 0x02;
	ck_assert_int_eq(ostor_scsi_parse_sense(b, 18, &s), 0);
	ck_assert_int_eq(s.sksv, 1);
	ck_assert_str_eq(ostor_scsi_sense_text(&s, t, sizeof(t)),
			 "ILLEGAL REQUEST: Invalid field in CDB (24h/00h), error in CDB byte 2 bit 5");
	/* ... and into the parameter list, no bit pointer. */
	b[15] = 0x80;
	b[17] = 0x10;
	ck_assert_int_eq(ostor_scsi_parse_sense(b, 18, &s), 0);
	ck_assert(strstr(ostor_scsi_sense_text(&s, t, sizeof(t)),
			 "error in parameter data byte 16") != NULL);
	ck_assert(strstr(t, " bit ") == NULL);

	/* NOT READY, format in progress at 50%. */
	memset(b, 0, sizeof(b));
	b[0] = 0x70;
	b[2] = 0x02;
	b[7] = 10;
	b[12] = 0x04;
	b[13] = 0x04;
	b[15] = 0x80;
	b[16] = 0x80;
	ck_assert_int_eq(ostor_scsi_parse_sense(b, 18, &s), 0);
	ck_assert_int_eq(ostor_scsi_sense_progress(&s), 0x8000);
	ck_assert(strstr(ostor_scsi_sense_text(&s, t, sizeof(t)), "progress 50.0%") != NULL);
}
END_TEST

/* ILLEGAL REQUEST / invalid field in CDB with information, SKS,
 * command-specific, FRU and stream descriptors. */
static const uint8_t desc_good[48] = {
	0x72, 0x05, 0x24, 0x00, 0x00, 0x00, 0x00, 0x28,
	0x00, 0x0a, 0x80, 0x00, 0x00, 0x00, 0x00, 0x01, 0x23, 0x45, 0x67, 0x89,
	0x02, 0x06, 0x00, 0x00, 0xc0, 0x00, 0x05, 0x00,
	0x01, 0x0a, 0x00, 0x00, 0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77, 0x88,
	0x03, 0x02, 0x00, 0x07,
	0x04, 0x02, 0x00, 0xe0,
};

START_TEST(test_descriptor)
{
	struct ostor_scsi_sense s = OSTOR_SCSI_SENSE_INIT;
	char t[256];
	size_t n;

	ck_assert_int_eq(ostor_scsi_parse_sense(desc_good, sizeof(desc_good), &s), 0);
	ck_assert_int_eq(s.valid, 1);
	ck_assert_int_eq(s.descriptor_format, 1);
	ck_assert_int_eq(s.deferred, 0);
	ck_assert_uint_eq(s.key, 5);
	ck_assert_uint_eq(s.asc, 0x24);
	ck_assert_int_eq(s.info_valid, 1);
	ck_assert_uint_eq(s.information, 0x123456789ULL);
	ck_assert_int_eq(s.cmd_info_valid, 1);
	ck_assert_uint_eq(s.command_specific, 0x1122334455667788ULL);
	ck_assert_int_eq(s.sksv, 1);
	ck_assert_uint_eq(s.sks[0], 0x40);
	ck_assert_uint_eq(s.sks[2], 5);
	ck_assert_int_eq(s.fru_valid, 1);
	ck_assert_uint_eq(s.fru, 7);
	ck_assert_int_eq(s.filemark, 1);
	ck_assert_int_eq(s.eom, 1);
	ck_assert_int_eq(s.ili, 1);
	ck_assert_uint_eq(s.used_len, 48);
	ck_assert(strstr(ostor_scsi_sense_text(&s, t, sizeof(t)),
			 "ILLEGAL REQUEST: Invalid field in CDB (24h/00h), information 0x123456789") == t);

	for (n = 0; n <= sizeof(desc_good); n++) {
		uint8_t *p = dup_n(desc_good, n);
		int r = ostor_scsi_parse_sense(p, n, &s);

		if (n < 2) {
			ck_assert_int_eq(r, OSTOR_ERROR_PROTOCOL);
			free(p);
			continue;
		}
		ck_assert_int_eq(r, 0);
		ck_assert_uint_eq(s.key, 5);
		ck_assert_uint_eq(s.asc, n >= 3 ? 0x24 : 0);
		ck_assert_uint_eq(s.used_len, n);
		ck_assert_int_eq(s.info_valid, n >= 20);
		ck_assert_int_eq(s.sksv, n >= 28);
		ck_assert_int_eq(s.cmd_info_valid, n >= 40);
		ck_assert_int_eq(s.fru_valid, n >= 44);
		ck_assert_int_eq(s.filemark, n >= 48);
		free(p);
	}
}
END_TEST

START_TEST(fault_33_descriptors_overrunning)
{
	struct ostor_scsi_sense s = OSTOR_SCSI_SENSE_INIT;
	uint8_t b[64];

	/* Deferred (73h). */
	memcpy(b, desc_good, sizeof(desc_good));
	b[0] = 0x73;
	ck_assert_int_eq(ostor_scsi_parse_sense(b, sizeof(desc_good), &s), 0);
	ck_assert_int_eq(s.deferred, 1);
	ck_assert_int_eq(s.descriptor_format, 1);
	/* ADDITIONAL SENSE LENGTH cuts the list after the information
	 * descriptor; the rest of the buffer is ignored. */
	b[0] = 0x72;
	b[7] = 12;
	ck_assert_int_eq(ostor_scsi_parse_sense(b, sizeof(desc_good), &s), 0);
	ck_assert_int_eq(s.info_valid, 1);
	ck_assert_int_eq(s.sksv, 0);
	ck_assert_uint_eq(s.used_len, 20);
	/* Absurd ADDITIONAL SENSE LENGTH. */
	b[7] = 0xff;
	ck_assert_int_eq(ostor_scsi_parse_sense(b, sizeof(desc_good), &s), 0);
	ck_assert_uint_eq(s.used_len, sizeof(desc_good));
	ck_assert_int_eq(s.filemark, 1);
	/* A descriptor whose length runs past the end is ignored. */
	b[7] = 0x28;
	b[9] = 0xf0;
	ck_assert_int_eq(ostor_scsi_parse_sense(b, sizeof(desc_good), &s), 0);
	ck_assert_int_eq(s.info_valid, 0);
	ck_assert_int_eq(s.sksv, 0);
	ck_assert_uint_eq(s.key, 5);
	/* Information descriptor without VALID; a too-short one. */
	memcpy(b, desc_good, sizeof(desc_good));
	b[10] = 0x00;
	ck_assert_int_eq(ostor_scsi_parse_sense(b, sizeof(desc_good), &s), 0);
	ck_assert_int_eq(s.info_valid, 0);
	ck_assert_int_eq(s.sksv, 1);
	memset(b, 0, sizeof(b));
	b[0] = 0x72;
	b[1] = 0x03;
	b[7] = 4;
	b[8] = 0x00;
	b[9] = 0x02; /* information descriptor of 4 bytes: no room */
	b[10] = 0x80;
	ck_assert_int_eq(ostor_scsi_parse_sense(b, 12, &s), 0);
	ck_assert_int_eq(s.info_valid, 0);
	/* Zero-length descriptors do not loop forever. */
	memset(b, 0, sizeof(b));
	b[0] = 0x72;
	b[7] = 56;
	b[8] = 0x80;
	ck_assert_int_eq(ostor_scsi_parse_sense(b, sizeof(b), &s), 0);
	ck_assert_uint_eq(s.used_len, 64);
}
END_TEST

/* ADDITIONAL SENSE LENGTH 244 (the most a 252-byte sense can claim) with
 * 18 bytes received, fixed and descriptor format: parsed from the 18
 * bytes, not one more (the copy is exactly 18 bytes long: ASan). */
START_TEST(fault_33_sense_length_244_in_18_bytes)
{
	struct ostor_scsi_sense s = OSTOR_SCSI_SENSE_INIT;
	uint8_t b[18], *p;
	char t[256];

	memcpy(b, fixed_good, 18);
	b[7] = 244;
	p = dup_n(b, 18);
	ck_assert_int_eq(ostor_scsi_parse_sense(p, 18, &s), 0);
	ck_assert_uint_eq(s.used_len, 18);
	ck_assert_uint_eq(s.key, 3);
	ck_assert_uint_eq(s.asc, 0x11);
	ck_assert_int_eq(s.sksv, 1);
	ck_assert_ptr_nonnull(strstr(ostor_scsi_sense_text(&s, t, sizeof(t)), "MEDIUM ERROR"));
	free(p);

	memcpy(b, desc_good, 18);
	b[7] = 244;
	p = dup_n(b, 18);
	ck_assert_int_eq(ostor_scsi_parse_sense(p, 18, &s), 0);
	ck_assert_uint_eq(s.used_len, 18);
	ck_assert_int_eq(s.descriptor_format, 1);
	/* the information descriptor (bytes 8-19) is cut: not used */
	ck_assert_int_eq(s.info_valid, 0);
	free(p);
}
END_TEST

START_TEST(test_invalid_codes)
{
	struct ostor_scsi_sense s = OSTOR_SCSI_SENSE_INIT;
	static const uint8_t zero[18];
	static const uint8_t vendor[18] = { 0x7f, 0x00, 0x05 };
	char t[128];

	ck_assert_int_eq(ostor_scsi_parse_sense(zero, 18, &s), OSTOR_ERROR_PROTOCOL);
	ck_assert_int_eq(s.valid, 0);
	ck_assert_str_eq(ostor_scsi_sense_text(&s, t, sizeof(t)),
			 "invalid sense data (response code 00h)");
	ck_assert_int_eq(ostor_scsi_parse_sense(vendor, 18, &s), OSTOR_ERROR_PROTOCOL);
	ck_assert_uint_eq(s.response_code, 0x7f);
	ck_assert_uint_eq(s.key, 0);
	ck_assert_int_eq(ostor_scsi_parse_sense(NULL, 18, &s), OSTOR_ERROR_PROTOCOL);
	ck_assert_int_eq(ostor_scsi_parse_sense(zero, 0, &s), OSTOR_ERROR_PROTOCOL);
	ck_assert_int_eq(ostor_scsi_parse_sense(zero, 18, NULL), OSTOR_ERROR_INVALID_PARAM);
	ck_assert_str_eq(ostor_scsi_sense_text(NULL, t, sizeof(t)),
			 "invalid sense data (response code 00h)");
	ck_assert_str_eq(ostor_scsi_sense_text(&s, NULL, 10), "");
}
END_TEST

START_TEST(test_text_small_buffers)
{
	struct ostor_scsi_sense s = OSTOR_SCSI_SENSE_INIT;
	char t[300];
	size_t len;

	ck_assert_int_eq(ostor_scsi_parse_sense(desc_good, sizeof(desc_good), &s), 0);
	for (len = 1; len < sizeof(t); len++) {
		memset(t, 'Z', sizeof(t));
		ostor_scsi_sense_text(&s, t, len);
		ck_assert_uint_lt(strlen(t), len);
		ck_assert(t[len - 1] == '\0' || strlen(t) < len - 1);
		if (len < sizeof(t))
			ck_assert(t[len] == 'Z');
	}
}
END_TEST

START_TEST(test_builders)
{
	static const uint8_t exp_fixed[18] = {
		0x70, 0, 0x05, 0, 0, 0, 0, 0x0a, 0, 0, 0, 0, 0x24, 0x00, 0, 0, 0, 0,
	};
	static const uint8_t exp_info[18] = {
		0xf0, 0, 0x03, 0x01, 0x02, 0x03, 0x04, 0x0a, 0, 0, 0, 0, 0x11, 0x00,
		0, 0, 0, 0,
	};
	static const uint8_t exp_desc[20] = {
		0x72, 0x03, 0x11, 0x00, 0, 0, 0, 0x0c,
		0x00, 0x0a, 0x80, 0x00, 0x00, 0x00, 0x00, 0x01, 0x23, 0x45, 0x67, 0x89,
	};
	uint8_t b[32];
	struct ostor_scsi_sense s = OSTOR_SCSI_SENSE_INIT;

	memset(b, 0xee, sizeof(b));
	ck_assert_uint_eq(ostor_scsi_build_sense_fixed(b, sizeof(b), 5, 0x24, 0), 18);
	ck_assert_mem_eq(b, exp_fixed, 18);
	ck_assert_uint_eq(b[18], 0xee);
	ck_assert_int_eq(ostor_scsi_parse_sense(b, 18, &s), 0);
	ck_assert_uint_eq(s.key, 5);
	ck_assert_uint_eq(s.asc, 0x24);
	ck_assert_int_eq(s.info_valid, 0);
	/* A short buffer gets what fits. */
	memset(b, 0xee, sizeof(b));
	ck_assert_uint_eq(ostor_scsi_build_sense_fixed(b, 8, 5, 0x24, 0), 8);
	ck_assert_mem_eq(b, exp_fixed, 8);
	ck_assert_uint_eq(b[8], 0xee);
	ck_assert_uint_eq(ostor_scsi_build_sense_fixed(b, sizeof(b), 0x10, 0, 0), 0);
	ck_assert_uint_eq(ostor_scsi_build_sense_fixed(NULL, 18, 5, 0, 0), 0);

	ck_assert_uint_eq(ostor_scsi_build_sense_fixed_info(b, sizeof(b), 3, 0x11, 0,
							    0x01020304), 18);
	ck_assert_mem_eq(b, exp_info, 18);
	ck_assert_int_eq(ostor_scsi_parse_sense(b, 18, &s), 0);
	ck_assert_int_eq(s.info_valid, 1);
	ck_assert_uint_eq(s.information, 0x01020304);

	memset(b, 0xee, sizeof(b));
	ck_assert_uint_eq(ostor_scsi_build_sense_descriptor(b, sizeof(b), 3, 0x11, 0,
							    1, 0x123456789ULL), 20);
	ck_assert_mem_eq(b, exp_desc, 20);
	ck_assert_uint_eq(b[20], 0xee);
	ck_assert_int_eq(ostor_scsi_parse_sense(b, 20, &s), 0);
	ck_assert_int_eq(s.descriptor_format, 1);
	ck_assert_int_eq(s.info_valid, 1);
	ck_assert_uint_eq(s.information, 0x123456789ULL);
	ck_assert_uint_eq(s.key, 3);
	ck_assert_uint_eq(s.asc, 0x11);
	ck_assert_uint_eq(ostor_scsi_build_sense_descriptor(b, sizeof(b), 6, 0x28, 0,
							    0, 0), 8);
	ck_assert_mem_eq(b, ((uint8_t[8]){ 0x72, 0x06, 0x28, 0, 0, 0, 0, 0 }), 8);
	ck_assert_uint_eq(ostor_scsi_build_sense_descriptor(b, 19, 3, 0x11, 0, 1, 1), 0);
	ck_assert_uint_eq(ostor_scsi_build_sense_descriptor(b, 7, 3, 0x11, 0, 0, 0), 0);
	ck_assert_uint_eq(ostor_scsi_build_sense_descriptor(b, 32, 0x10, 0, 0, 0, 0), 0);
}
END_TEST

/* ---- ASC/ASCQ table -------------------------------------------------- */

START_TEST(test_asc_table_sorted)
{
	size_t i;

	ck_assert_uint_gt(ostori_scsi_asc_table_len, 700);
	for (i = 1; i < ostori_scsi_asc_table_len; i++) {
		const struct ostori_scsi_asc_entry *a = &ostori_scsi_asc_table[i - 1];
		const struct ostori_scsi_asc_entry *b = &ostori_scsi_asc_table[i];

		ck_assert_msg((a->asc << 8 | a->ascq) < (b->asc << 8 | b->ascq),
			      "table not sorted/unique at %02x/%02x", b->asc, b->ascq);
	}
	for (i = 0; i < ostori_scsi_asc_table_len; i++) {
		const struct ostori_scsi_asc_entry *e = &ostori_scsi_asc_table[i];
		char t[128];

		ck_assert_ptr_nonnull(e->text);
		ck_assert_uint_gt(strlen(e->text), 0);
		/* The binary search reaches every entry. */
		ck_assert_ptr_eq(ostori_scsi_asc_lookup(e->asc, e->ascq), e->text);
		ck_assert_str_eq(ostor_scsi_asc_ascq_text(e->asc, e->ascq, t, sizeof(t)),
				 e->text);
	}
	/* Ranges do not shadow table entries (or vice versa). */
	for (i = 0; i < ostori_scsi_asc_ranges_len; i++) {
		const struct ostori_scsi_asc_range *r = &ostori_scsi_asc_ranges[i];
		unsigned q;

		ck_assert(strstr(r->text, "NN") != NULL);
		for (q = r->ascq_min; q <= r->ascq_max; q++)
			ck_assert_ptr_null(ostori_scsi_asc_lookup(r->asc, (uint8_t)q));
	}
}
END_TEST

START_TEST(test_asc_text)
{
	char t[128];

	ck_assert_str_eq(ostor_scsi_asc_ascq_text(0x00, 0x00, t, sizeof(t)),
			 "No additional sense information");
	ck_assert_str_eq(ostor_scsi_asc_ascq_text(0x21, 0x00, t, sizeof(t)),
			 "Logical block address out of range");
	ck_assert_str_eq(ostor_scsi_asc_ascq_text(0x24, 0x00, t, sizeof(t)),
			 "Invalid field in CDB");
	ck_assert_str_eq(ostor_scsi_asc_ascq_text(0x3a, 0x00, t, sizeof(t)),
			 "Medium not present");
	ck_assert_str_eq(ostor_scsi_asc_ascq_text(0x04, 0x01, t, sizeof(t)),
			 "Logical unit is in process of becoming ready");
	ck_assert_str_eq(ostor_scsi_asc_ascq_text(0x29, 0x00, t, sizeof(t)),
			 "Power on, reset, or bus device reset occurred");
	ck_assert_str_eq(ostor_scsi_asc_ascq_text(0x27, 0x00, t, sizeof(t)),
			 "Write protected");
	ck_assert_str_eq(ostor_scsi_asc_ascq_text(0x00, 0x1d, t, sizeof(t)),
			 "ATA pass through information available");
	/* In the table even though ASCQ >= 80h. */
	ck_assert_str_eq(ostor_scsi_asc_ascq_text(0x5d, 0xff, t, sizeof(t)),
			 "Failure prediction threshold exceeded (false)");
	ck_assert_str_eq(ostor_scsi_asc_ascq_text(0x40, 0x00, t, sizeof(t)),
			 "RAM failure (should use 40 NN)");

	/* Ranges. */
	ck_assert_str_eq(ostor_scsi_asc_ascq_text(0x40, 0x81, t, sizeof(t)),
			 "Diagnostic failure on component 81h");
	ck_assert_str_eq(ostor_scsi_asc_ascq_text(0x40, 0xff, t, sizeof(t)),
			 "Diagnostic failure on component FFh");
	ck_assert_str_eq(ostor_scsi_asc_ascq_text(0x4d, 0x2a, t, sizeof(t)),
			 "Tagged overlapped commands (task tag 2Ah)");
	ck_assert_str_eq(ostor_scsi_asc_ascq_text(0x4d, 0x00, t, sizeof(t)),
			 "Tagged overlapped commands (task tag 00h)");
	ck_assert_str_eq(ostor_scsi_asc_ascq_text(0x70, 0x05, t, sizeof(t)),
			 "Decompression exception short algorithm id of 05h");

	/* Vendor specific. */
	ck_assert_ptr_null(ostori_scsi_asc_lookup(0x80, 0x00));
	ck_assert_str_eq(ostor_scsi_asc_ascq_text(0x80, 0x00, t, sizeof(t)),
			 "vendor specific ASC=80h ASCQ=00h");
	ck_assert_ptr_null(ostori_scsi_asc_lookup(0x04, 0x80));
	ck_assert_str_eq(ostor_scsi_asc_ascq_text(0x04, 0x80, t, sizeof(t)),
			 "vendor specific ASC=04h ASCQ=80h");
	ck_assert_str_eq(ostor_scsi_asc_ascq_text(0xff, 0xff, t, sizeof(t)),
			 "vendor specific ASC=FFh ASCQ=FFh");
	/* Unknown. */
	ck_assert_ptr_null(ostori_scsi_asc_lookup(0x4c, 0x01));
	ck_assert_str_eq(ostor_scsi_asc_ascq_text(0x4c, 0x01, t, sizeof(t)),
			 "ASC=4Ch ASCQ=01h (unknown)");
	ck_assert_ptr_null(ostori_scsi_asc_lookup(0x7f, 0x7f));
	ck_assert_str_eq(ostor_scsi_asc_ascq_text(0x7f, 0x7f, t, sizeof(t)),
			 "ASC=7Fh ASCQ=7Fh (unknown)");

	/* Small buffers. */
	ck_assert_str_eq(ostor_scsi_asc_ascq_text(0x21, 0x00, t, 5), "Logi");
	ck_assert_str_eq(ostor_scsi_asc_ascq_text(0x40, 0x81, t, 3), "Di");
	ck_assert_str_eq(ostor_scsi_asc_ascq_text(0x21, 0x00, t, 1), "");
	ck_assert_str_eq(ostor_scsi_asc_ascq_text(0x21, 0x00, NULL, 10), "");
	ck_assert_str_eq(ostor_scsi_asc_ascq_text(0x21, 0x00, t, 0), "");
}
END_TEST

START_TEST(test_names)
{
	ck_assert_str_eq(ostor_scsi_sense_key_name(0), "NO SENSE");
	ck_assert_str_eq(ostor_scsi_sense_key_name(5), "ILLEGAL REQUEST");
	ck_assert_str_eq(ostor_scsi_sense_key_name(6), "UNIT ATTENTION");
	ck_assert_str_eq(ostor_scsi_sense_key_name(0xf), "COMPLETED");
	ck_assert_str_eq(ostor_scsi_sense_key_name(16), "INVALID SENSE KEY");
	ck_assert_str_eq(ostor_scsi_sense_key_name(-1), "INVALID SENSE KEY");
	ck_assert_str_eq(ostor_scsi_status_name(0x00), "GOOD");
	ck_assert_str_eq(ostor_scsi_status_name(0x02), "CHECK CONDITION");
	ck_assert_str_eq(ostor_scsi_status_name(0x08), "BUSY");
	ck_assert_str_eq(ostor_scsi_status_name(0x18), "RESERVATION CONFLICT");
	ck_assert_str_eq(ostor_scsi_status_name(0x28), "TASK SET FULL");
	ck_assert_str_eq(ostor_scsi_status_name(0x40), "TASK ABORTED");
	ck_assert_str_eq(ostor_scsi_status_name(0x01), "UNKNOWN STATUS");
	ck_assert_str_eq(ostor_scsi_status_name(-1), "UNKNOWN STATUS");
}
END_TEST

/* ---- ATA PASS-THROUGH return ------------------------------------------ */

static const uint8_t ata_desc[22] = {
	0x72, 0x01, 0x00, 0x1d, 0x00, 0x00, 0x00, 0x0e,
	0x09, 0x0c, 0x01, 0x04, 0x00, 0x01, 0x44, 0x11, 0x55, 0x22, 0x66, 0x33,
	0x40, 0x51,
};

START_TEST(test_ata_return)
{
	static const uint8_t ata_fixed[18] = {
		0x70, 0x00, 0x01, 0x04, 0x51, 0x40, 0x01, 0x0a,
		0xe0, 0x11, 0x22, 0x33, 0x00, 0x1d, 0, 0, 0, 0,
	};
	struct ostor_scsi_ata_return a;
	struct ostor_scsi_sense s = OSTOR_SCSI_SENSE_INIT;
	uint8_t b[22];
	size_t n;

	ck_assert_int_eq(ostor_scsi_parse_ata_return(ata_desc, sizeof(ata_desc), &a), 0);
	ck_assert_int_eq(a.descriptor_format, 1);
	ck_assert_int_eq(a.extend, 1);
	ck_assert_uint_eq(a.error, 0x04);
	ck_assert_uint_eq(a.count, 0x0001);
	ck_assert_uint_eq(a.lba, 0x665544332211ULL);
	ck_assert_uint_eq(a.device, 0x40);
	ck_assert_uint_eq(a.status, 0x51);
	ck_assert_int_eq(ostor_scsi_parse_sense(ata_desc, sizeof(ata_desc), &s), 0);
	ck_assert_int_eq(s.ata_return_present, 1);

	/* Without EXTEND only the 28-bit registers count. */
	memcpy(b, ata_desc, sizeof(b));
	b[10] = 0;
	b[12] = 0x12;
	ck_assert_int_eq(ostor_scsi_parse_ata_return(b, sizeof(b), &a), 0);
	ck_assert_int_eq(a.extend, 0);
	ck_assert_uint_eq(a.lba, 0x332211);
	ck_assert_uint_eq(a.count, 0x01);

	for (n = 0; n <= sizeof(ata_desc); n++) {
		uint8_t *p = dup_n(ata_desc, n);

		ck_assert_int_eq(ostor_scsi_parse_ata_return(p, n, &a),
				 n == sizeof(ata_desc) ? 0 : OSTOR_ERROR_NOT_FOUND);
		if (n < sizeof(ata_desc))
			ck_assert_uint_eq(a.status, 0);
		free(p);
	}

	ck_assert_int_eq(ostor_scsi_parse_ata_return(ata_fixed, sizeof(ata_fixed), &a), 0);
	ck_assert_int_eq(a.descriptor_format, 0);
	ck_assert_uint_eq(a.error, 0x04);
	ck_assert_uint_eq(a.status, 0x51);
	ck_assert_uint_eq(a.device, 0x40);
	ck_assert_uint_eq(a.count, 1);
	ck_assert_int_eq(a.extend, 1);
	ck_assert_int_eq(a.count_upper_nonzero, 1);
	ck_assert_int_eq(a.lba_upper_nonzero, 1);
	ck_assert_uint_eq(a.lba, 0x332211);
	/* Fixed sense that is not ATA information. */
	ck_assert_int_eq(ostor_scsi_parse_ata_return(fixed_good, sizeof(fixed_good), &a),
			 OSTOR_ERROR_NOT_FOUND);
	/* Descriptor sense without descriptor 09h. */
	ck_assert_int_eq(ostor_scsi_parse_ata_return(desc_good, sizeof(desc_good), &a),
			 OSTOR_ERROR_NOT_FOUND);
	ck_assert_int_eq(ostor_scsi_parse_ata_return(NULL, 0, &a), OSTOR_ERROR_NOT_FOUND);
	ck_assert_int_eq(ostor_scsi_parse_ata_return(ata_desc, 22, NULL),
			 OSTOR_ERROR_INVALID_PARAM);
	/* 09h with a short additional length is not decoded. */
	memcpy(b, ata_desc, sizeof(b));
	b[9] = 0x0a;
	b[7] = 0x0c;
	ck_assert_int_eq(ostor_scsi_parse_ata_return(b, 20, &a), OSTOR_ERROR_NOT_FOUND);
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("scsi_sense");
	TCase *tc = tcase_create("sense");

	tcase_add_test(tc, test_fixed);
	tcase_add_test(tc, test_fixed_truncated);
	tcase_add_test(tc, test_fixed_lengths);
	tcase_add_test(tc, test_descriptor);
	tcase_add_test(tc, test_invalid_codes);
	tcase_add_test(tc, test_text_small_buffers);
	tcase_add_test(tc, test_builders);
	tcase_add_test(tc, test_asc_table_sorted);
	tcase_add_test(tc, test_asc_text);
	tcase_add_test(tc, test_names);
	tcase_add_test(tc, test_ata_return);
	suite_add_tcase(s, tc);

	/* The fault matrix of issue 14, counted by tests/faults/fault-matrix.sh. */
	tc = tcase_create("fault_matrix");
	tcase_add_test(tc, fault_33_sense_length_244_in_18_bytes);
	tcase_add_test(tc, fault_33_descriptors_overrunning);
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
