/*
 * tests/unit/test_scsi_decode.c - response decoders on good vectors and on
 * hostile ones: every truncation length from 0 to the full response (each
 * copied into a heap block of exactly that size, so ASan catches any read
 * past it), absurd length fields, zero lengths.
 */
#include "core/internal.h"

#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "scsi/scsi_priv.h"

/* A heap copy of exactly n bytes (ASan/valgrind see every over-read). */
static uint8_t *dup_n(const uint8_t *src, size_t n)
{
	uint8_t *p = malloc(n ? n : 1);

	ck_assert_ptr_nonnull(p);
	if (n)
		memcpy(p, src, n);
	return p;
}

static int is_prefix(const char *s, const char *full)
{
	return strncmp(s, full, strlen(s)) == 0;
}

/* ---- INQUIRY ------------------------------------------------------------ */

static const uint8_t inq_good[] = {
	0x00, 0x80, 0x06, 0x12, 0x1f, 0x01, 0x00, 0x02,
	'A', 'T', 'A', ' ', ' ', ' ', ' ', ' ',
	'S', 'a', 'm', 's', 'u', 'n', 'g', ' ', 'S', 'S', 'D', ' ', '8', '6',
	'0', ' ',
	'1', 'B', '6', 'Q',
};

START_TEST(test_inquiry_good)
{
	struct ostor_scsi_inquiry inq = OSTOR_SCSI_INQUIRY_INIT;

	ck_assert_int_eq(ostor_scsi_parse_inquiry(inq_good, sizeof(inq_good), &inq), 0);
	ck_assert_uint_eq(inq.peripheral_qualifier, 0);
	ck_assert_uint_eq(inq.peripheral_type, 0);
	ck_assert_int_eq(inq.removable, 1);
	ck_assert_uint_eq(inq.version, 6);
	ck_assert_uint_eq(inq.response_format, 2);
	ck_assert_int_eq(inq.hisup, 1);
	ck_assert_int_eq(inq.normaca, 0);
	ck_assert_int_eq(inq.protect, 1);
	ck_assert_int_eq(inq.cmdque, 1);
	ck_assert_uint_eq(inq.additional_length, 31);
	ck_assert_str_eq(inq.vendor, "ATA");
	ck_assert_str_eq(inq.product, "Samsung SSD 860");
	ck_assert_str_eq(inq.revision, "1B6Q");
	ck_assert_uint_eq(inq.valid_len, 36);
}
END_TEST

START_TEST(test_inquiry_truncated)
{
	struct ostor_scsi_inquiry inq = OSTOR_SCSI_INQUIRY_INIT;
	size_t n;

	for (n = 0; n <= sizeof(inq_good); n++) {
		uint8_t *b = dup_n(inq_good, n);
		int r = ostor_scsi_parse_inquiry(b, n, &inq);

		if (n < 5) {
			ck_assert_int_eq(r, OSTOR_ERROR_PROTOCOL);
			ck_assert_str_eq(inq.vendor, "");
		} else {
			ck_assert_int_eq(r, 0);
			ck_assert_uint_eq(inq.valid_len, n);
			ck_assert_int_eq(inq.protect, n > 5);
			ck_assert_int_eq(inq.cmdque, n > 7);
			ck_assert(is_prefix(inq.vendor, "ATA"));
			ck_assert(is_prefix(inq.product, "Samsung SSD 860"));
			ck_assert(is_prefix(inq.revision, "1B6Q"));
			if (n <= 8)
				ck_assert_str_eq(inq.vendor, "");
			if (n <= 16)
				ck_assert_str_eq(inq.product, "");
			if (n <= 32)
				ck_assert_str_eq(inq.revision, "");
			if (n == 34)
				ck_assert_str_eq(inq.revision, "1B");
		}
		free(b);
	}
}
END_TEST

START_TEST(test_inquiry_hostile)
{
	struct ostor_scsi_inquiry inq = OSTOR_SCSI_INQUIRY_INIT;
	uint8_t b[40];

	/* ADDITIONAL LENGTH 255 with 36 bytes: only 36 used. */
	memcpy(b, inq_good, 36);
	b[4] = 0xff;
	ck_assert_int_eq(ostor_scsi_parse_inquiry(b, 36, &inq), 0);
	ck_assert_uint_eq(inq.valid_len, 36);
	ck_assert_str_eq(inq.revision, "1B6Q");
	/* Understated ADDITIONAL LENGTH but 36 bytes arrived: used. */
	b[4] = 0;
	ck_assert_int_eq(ostor_scsi_parse_inquiry(b, 36, &inq), 0);
	ck_assert_str_eq(inq.vendor, "ATA");
	ck_assert_uint_eq(inq.valid_len, 36);
	/* ...and bytes past 36 beyond ADDITIONAL LENGTH are not. */
	memset(b + 36, 'X', 4);
	ck_assert_int_eq(ostor_scsi_parse_inquiry(b, 40, &inq), 0);
	ck_assert_uint_eq(inq.valid_len, 36);
	/* Control characters and high bytes never reach the strings. */
	b[8] = 0x07;
	b[9] = 0xff;
	ck_assert_int_eq(ostor_scsi_parse_inquiry(b, 36, &inq), 0);
	ck_assert_str_eq(inq.vendor, "??A");
	/* Qualifier 3, type 1Fh: no LU. */
	b[0] = 0x7f;
	ck_assert_int_eq(ostor_scsi_parse_inquiry(b, 36, &inq), 0);
	ck_assert_uint_eq(inq.peripheral_qualifier, 3);
	ck_assert_uint_eq(inq.peripheral_type, 0x1f);
	ck_assert_int_eq(ostor_scsi_parse_inquiry(NULL, 36, &inq), OSTOR_ERROR_INVALID_PARAM);
	ck_assert_int_eq(ostor_scsi_parse_inquiry(b, 36, NULL), OSTOR_ERROR_INVALID_PARAM);
}
END_TEST

START_TEST(test_copy_ascii)
{
	char out[8];
	static const uint8_t s[] = { ' ', ' ', 'a', 'b', ' ', 'c', ' ', 0, 0 };

	ck_assert_uint_eq(ostori_scsi_copy_ascii(out, sizeof(out), s, sizeof(s)), 4);
	ck_assert_str_eq(out, "ab c");
	ck_assert_uint_eq(ostori_scsi_copy_ascii(out, 3, s, sizeof(s)), 4);
	ck_assert_str_eq(out, "ab");
	ck_assert_uint_eq(ostori_scsi_copy_ascii(out, sizeof(out), s, 0), 0);
	ck_assert_str_eq(out, "");
}
END_TEST

/* ---- VPD ---------------------------------------------------------------- */

static const uint8_t vpd00[] = {
	0x00, 0x00, 0x00, 0x06, 0x00, 0x80, 0x83, 0x89, 0xb0, 0xb1,
};

START_TEST(test_vpd_supported)
{
	uint8_t pages[16];
	size_t total, n;
	uint8_t b[10];

	ck_assert_int_eq(ostor_scsi_parse_vpd_supported(vpd00, sizeof(vpd00), pages,
							16, &total), 6);
	ck_assert_uint_eq(total, 6);
	ck_assert_uint_eq(pages[0], 0x00);
	ck_assert_uint_eq(pages[5], 0xb1);
	ck_assert_int_eq(ostor_scsi_parse_vpd_supported(vpd00, sizeof(vpd00), pages,
							2, &total), 2);
	ck_assert_uint_eq(total, 6);
	ck_assert_int_eq(ostor_scsi_vpd_supports(vpd00, sizeof(vpd00), 0xb0), 1);
	ck_assert_int_eq(ostor_scsi_vpd_supports(vpd00, sizeof(vpd00), 0xb2), 0);

	for (n = 0; n <= sizeof(vpd00); n++) {
		uint8_t *p = dup_n(vpd00, n);
		int r = ostor_scsi_parse_vpd_supported(p, n, pages, 16, &total);

		if (n < 4) {
			ck_assert_int_eq(r, OSTOR_ERROR_PROTOCOL);
			ck_assert_uint_eq(total, 0);
		} else {
			ck_assert_int_eq(r, (int)(n - 4));
			ck_assert_uint_eq(total, n - 4);
		}
		/* B1h is the last byte: only when it arrived. */
		ck_assert_int_eq(ostor_scsi_vpd_supports(p, n, 0xb1), n == sizeof(vpd00));
		free(p);
	}
	/* Absurd PAGE LENGTH. */
	memcpy(b, vpd00, sizeof(b));
	b[2] = 0xff;
	b[3] = 0xff;
	ck_assert_int_eq(ostor_scsi_parse_vpd_supported(b, 6, pages, 16, &total), 2);
	ck_assert_uint_eq(total, 2);
	/* Wrong page. */
	b[1] = 0x80;
	ck_assert_int_eq(ostor_scsi_parse_vpd_supported(b, 10, pages, 16, &total),
			 OSTOR_ERROR_PROTOCOL);
}
END_TEST

static const uint8_t vpd80[] = {
	0x00, 0x80, 0x00, 0x0a, ' ', ' ', 'S', '1', '2', '3', '4', ' ', ' ', ' ',
};

START_TEST(test_vpd_serial)
{
	char s[65];
	size_t n;
	uint8_t b[14];

	ck_assert_int_eq(ostor_scsi_parse_vpd_serial(vpd80, sizeof(vpd80), s, sizeof(s)), 5);
	ck_assert_str_eq(s, "S1234");
	/* Too small an output: truncated, NUL-terminated, full length back. */
	ck_assert_int_eq(ostor_scsi_parse_vpd_serial(vpd80, sizeof(vpd80), s, 3), 5);
	ck_assert_str_eq(s, "S1");
	for (n = 0; n <= sizeof(vpd80); n++) {
		uint8_t *p = dup_n(vpd80, n);
		int r = ostor_scsi_parse_vpd_serial(p, n, s, sizeof(s));

		if (n < 4) {
			ck_assert_int_eq(r, OSTOR_ERROR_PROTOCOL);
			ck_assert_str_eq(s, "");
		} else {
			ck_assert_int_ge(r, 0);
			ck_assert(is_prefix(s, "S1234"));
			ck_assert_uint_eq(strlen(s), (size_t)r);
		}
		free(p);
	}
	memcpy(b, vpd80, sizeof(b));
	b[3] = 0xff;
	ck_assert_int_eq(ostor_scsi_parse_vpd_serial(b, sizeof(b), s, sizeof(s)), 5);
	b[3] = 3; /* page says 3 bytes: "  S" */
	ck_assert_int_eq(ostor_scsi_parse_vpd_serial(b, sizeof(b), s, sizeof(s)), 1);
	ck_assert_str_eq(s, "S");
	ck_assert_int_eq(ostor_scsi_parse_vpd_serial(b, sizeof(b), NULL, 4),
			 OSTOR_ERROR_INVALID_PARAM);
}
END_TEST

static const uint8_t vpd83[] = {
	0x00, 0x83, 0x00, 0x28,
	/* NAA, binary, LU */
	0x01, 0x03, 0x00, 0x08, 0x50, 0x00, 0xc5, 0x00, 0x12, 0x34, 0x56, 0x78,
	/* T10 vendor id, ASCII, LU */
	0x02, 0x01, 0x00, 0x0c, 'A', 'T', 'A', ' ', ' ', ' ', ' ', ' ', 'A',
	'B', 'C', 'D',
	/* SCSI name string, UTF-8, SAS (6), PIV, target port */
	0x63, 0x98, 0x00, 0x08, 'n', 'a', 'a', '.', '5', '0', '0', '0',
};

START_TEST(test_vpd_devid)
{
	struct ostor_scsi_designator d[4];
	struct ostor_scsi_iter it;
	size_t total, n;
	uint8_t b[sizeof(vpd83)];

	ck_assert_int_eq(ostor_scsi_parse_vpd_devid(vpd83, sizeof(vpd83), d, 4, &total), 3);
	ck_assert_uint_eq(total, 3);
	ck_assert_uint_eq(d[0].type, OSTOR_SCSI_DESIG_NAA);
	ck_assert_uint_eq(d[0].code_set, OSTOR_SCSI_CODESET_BINARY);
	ck_assert_uint_eq(d[0].association, OSTOR_SCSI_ASSOC_LU);
	ck_assert_uint_eq(d[0].len, 8);
	ck_assert_uint_eq(ostori_get_be64(d[0].data), 0x5000c50012345678ULL);
	ck_assert_uint_eq(d[1].type, OSTOR_SCSI_DESIG_T10);
	ck_assert_uint_eq(d[1].code_set, OSTOR_SCSI_CODESET_ASCII);
	ck_assert_mem_eq(d[1].data, "ATA     ABCD", 12);
	ck_assert_uint_eq(d[2].type, OSTOR_SCSI_DESIG_SCSI_NAME);
	ck_assert_uint_eq(d[2].code_set, OSTOR_SCSI_CODESET_UTF8);
	ck_assert_uint_eq(d[2].association, OSTOR_SCSI_ASSOC_TARGET_PORT);
	ck_assert_int_eq(d[2].piv, 1);
	ck_assert_uint_eq(d[2].protocol_id, 6);
	ck_assert_str_eq(ostor_scsi_designator_type_name(3), "NAA");
	ck_assert_str_eq(ostor_scsi_designator_type_name(0xf), "reserved");
	/* Fewer slots than designators. */
	ck_assert_int_eq(ostor_scsi_parse_vpd_devid(vpd83, sizeof(vpd83), d, 1, &total), 1);
	ck_assert_uint_eq(total, 3);

	for (n = 0; n <= sizeof(vpd83); n++) {
		uint8_t *p = dup_n(vpd83, n);
		struct ostor_scsi_designator x;
		size_t got = 0, want;

		if (n < 4) {
			ck_assert_int_eq(ostor_scsi_vpd_devid_iter_init(&it, p, n),
					 OSTOR_ERROR_PROTOCOL);
			ck_assert_int_eq(ostor_scsi_vpd_devid_next(&it, &x), 0);
			free(p);
			continue;
		}
		ck_assert_int_eq(ostor_scsi_vpd_devid_iter_init(&it, p, n), 0);
		while (ostor_scsi_vpd_devid_next(&it, &x) == 1) {
			/* Every byte of a returned designator arrived. */
			ck_assert(x.data + x.len <= p + n);
			got++;
		}
		want = n >= 44 ? 3 : n >= 32 ? 2 : n >= 16 ? 1 : 0;
		ck_assert_uint_eq(got, want);
		ck_assert_int_eq(it.truncated, n < sizeof(vpd83));
		free(p);
	}

	/* A designator claiming more bytes than the page holds. */
	memcpy(b, vpd83, sizeof(b));
	b[16 + 3] = 0xff;
	ck_assert_int_eq(ostor_scsi_parse_vpd_devid(b, sizeof(b), d, 4, &total), 1);
	ck_assert_uint_eq(total, 1);
	ck_assert_int_eq(ostor_scsi_vpd_devid_iter_init(&it, b, sizeof(b)), 0);
	ck_assert_int_eq(ostor_scsi_vpd_devid_next(&it, &d[0]), 1);
	ck_assert_int_eq(ostor_scsi_vpd_devid_next(&it, &d[0]), 0);
	ck_assert_int_eq(it.truncated, 1);
	ck_assert_int_eq(ostor_scsi_vpd_devid_next(&it, &d[0]), 0);
	/* Absurd page length: bounded by what arrived. */
	memcpy(b, vpd83, sizeof(b));
	b[2] = 0xff;
	ck_assert_int_eq(ostor_scsi_parse_vpd_devid(b, sizeof(b), d, 4, &total), 3);
	/* Page length 0: nothing, even though bytes follow. */
	b[2] = 0;
	b[3] = 0;
	ck_assert_int_eq(ostor_scsi_parse_vpd_devid(b, sizeof(b), d, 4, &total), 0);
	/* Wrong page. */
	b[1] = 0x80;
	ck_assert_int_eq(ostor_scsi_parse_vpd_devid(b, sizeof(b), d, 4, &total),
			 OSTOR_ERROR_PROTOCOL);
}
END_TEST

static void make_vpd89(uint8_t *b)
{
	size_t i;

	memset(b, 0, 572);
	b[1] = 0x89;
	b[2] = 0x02;
	b[3] = 0x38;
	memcpy(b + 8, "linux   ", 8);
	memcpy(b + 16, "libata          ", 16);
	memcpy(b + 32, "3.00", 4);
	b[36] = 0x34;
	b[37] = 0x00;
	b[40] = 0x01; /* signature bytes */
	b[55] = 0x5a;
	b[56] = 0xec;
	for (i = 0; i < 512; i++)
		b[60 + i] = (uint8_t)(i * 7);
}

START_TEST(test_vpd_ata_info)
{
	struct ostor_scsi_vpd_ata_info *ai = malloc(sizeof(*ai));
	uint8_t full[572];
	size_t n;

	ck_assert_ptr_nonnull(ai);
	make_vpd89(full);
	ck_assert_int_eq(ostor_scsi_parse_vpd_ata_info(full, sizeof(full), ai), 0);
	ck_assert_str_eq(ai->sat_vendor, "linux");
	ck_assert_str_eq(ai->sat_product, "libata");
	ck_assert_str_eq(ai->sat_revision, "3.00");
	ck_assert_int_eq(ai->signature_valid, 1);
	ck_assert_uint_eq(ai->signature[0], 0x34);
	ck_assert_uint_eq(ai->signature[19], 0x5a);
	ck_assert_uint_eq(ai->command_code, 0xec);
	ck_assert_int_eq(ai->identify_valid, 1);
	ck_assert_uint_eq(ai->identify[511], (uint8_t)(511 * 7));
	ck_assert_uint_eq(ai->valid_len, 572);

	for (n = 0; n <= sizeof(full); n++) {
		uint8_t *p = dup_n(full, n);
		int r = ostor_scsi_parse_vpd_ata_info(p, n, ai);

		if (n < 4) {
			ck_assert_int_eq(r, OSTOR_ERROR_PROTOCOL);
		} else {
			ck_assert_int_eq(r, 0);
			ck_assert(is_prefix(ai->sat_vendor, "linux"));
			ck_assert(is_prefix(ai->sat_product, "libata"));
			ck_assert_int_eq(ai->signature_valid, n >= 56);
			ck_assert_uint_eq(ai->command_code, n > 56 ? 0xec : 0);
			ck_assert_int_eq(ai->identify_valid, n == 572);
			if (n < 572)
				ck_assert_uint_eq(ai->identify[0], 0);
		}
		free(p);
	}
	/* PAGE LENGTH too short for IDENTIFY although the bytes are there. */
	full[2] = 0;
	full[3] = 0x10;
	ck_assert_int_eq(ostor_scsi_parse_vpd_ata_info(full, sizeof(full), ai), 0);
	ck_assert_int_eq(ai->identify_valid, 0);
	ck_assert_int_eq(ai->signature_valid, 0);
	ck_assert_str_eq(ai->sat_vendor, "linux");
	ck_assert_str_eq(ai->sat_product, "liba");
	free(ai);
}
END_TEST

static const uint8_t vpdb0[64] = {
	0x00, 0xb0, 0x00, 0x3c, 0x01, 0x08, 0x00, 0x08,
	0x00, 0x01, 0x00, 0x00, 0x00, 0x00, 0x08, 0x00,
	0x00, 0x00, 0x00, 0x00, 0x00, 0x40, 0x00, 0x00,
	0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00, 0x08,
	0x80, 0x00, 0x00, 0x04, 0x00, 0x00, 0x00, 0x00,
	0x00, 0x40, 0x00, 0x00,
};

START_TEST(test_vpd_block_limits)
{
	struct ostor_scsi_vpd_block_limits bl = OSTOR_SCSI_VPD_BLOCK_LIMITS_INIT;
	size_t n;
	uint8_t b[64];

	ck_assert_int_eq(ostor_scsi_parse_vpd_block_limits(vpdb0, sizeof(vpdb0), &bl), 0);
	ck_assert_int_eq(bl.wsnz, 1);
	ck_assert_uint_eq(bl.max_compare_write_len, 8);
	ck_assert_uint_eq(bl.optimal_transfer_granularity, 8);
	ck_assert_uint_eq(bl.max_transfer_len, 0x10000);
	ck_assert_uint_eq(bl.optimal_transfer_len, 0x800);
	ck_assert_uint_eq(bl.max_prefetch_len, 0);
	ck_assert_uint_eq(bl.max_unmap_lba_count, 0x400000);
	ck_assert_uint_eq(bl.max_unmap_descriptor_count, 0x100);
	ck_assert_uint_eq(bl.optimal_unmap_granularity, 8);
	ck_assert_int_eq(bl.ugavalid, 1);
	ck_assert_uint_eq(bl.unmap_granularity_alignment, 4);
	ck_assert_uint_eq(bl.max_write_same_len, 0x400000);
	ck_assert_uint_eq(bl.valid_len, 64);

	for (n = 0; n <= sizeof(vpdb0); n++) {
		uint8_t *p = dup_n(vpdb0, n);
		int r = ostor_scsi_parse_vpd_block_limits(p, n, &bl);

		if (n < 4) {
			ck_assert_int_eq(r, OSTOR_ERROR_PROTOCOL);
			ck_assert_uint_eq(bl.max_transfer_len, 0);
			free(p);
			continue;
		}
		ck_assert_int_eq(r, 0);
		ck_assert_int_eq(bl.wsnz, n >= 5);
		ck_assert_uint_eq(bl.optimal_transfer_granularity, n >= 8 ? 8 : 0);
		ck_assert_uint_eq(bl.max_transfer_len, n >= 12 ? 0x10000 : 0);
		ck_assert_uint_eq(bl.optimal_transfer_len, n >= 16 ? 0x800 : 0);
		ck_assert_uint_eq(bl.max_unmap_lba_count, n >= 24 ? 0x400000 : 0);
		ck_assert_int_eq(bl.ugavalid, n >= 36);
		ck_assert_uint_eq(bl.max_write_same_len, n >= 44 ? 0x400000 : 0);
		free(p);
	}
	/* An SBC-2 page (length 0Ch) followed by garbage: garbage ignored. */
	memcpy(b, vpdb0, sizeof(b));
	b[3] = 0x0c;
	memset(b + 16, 0xff, 48);
	ck_assert_int_eq(ostor_scsi_parse_vpd_block_limits(b, sizeof(b), &bl), 0);
	ck_assert_uint_eq(bl.optimal_transfer_len, 0x800);
	ck_assert_uint_eq(bl.max_unmap_lba_count, 0);
	ck_assert_uint_eq(bl.max_write_same_len, 0);
	ck_assert_uint_eq(bl.valid_len, 16);
	b[1] = 0xb1;
	ck_assert_int_eq(ostor_scsi_parse_vpd_block_limits(b, sizeof(b), &bl),
			 OSTOR_ERROR_PROTOCOL);
}
END_TEST

START_TEST(test_vpd_b1_b2)
{
	static const uint8_t b1[64] = {
		0x00, 0xb1, 0x00, 0x3c, 0x00, 0x01, 0x00, 0x03, 0x02,
	};
	static const uint8_t b1_hdd[9] = {
		0x00, 0xb1, 0x00, 0x3c, 0x1c, 0x20, 0x00, 0x42, 0x11,
	};
	static const uint8_t b2[8] = {
		0x00, 0xb2, 0x00, 0x04, 0x00, 0xe6, 0x02, 0x00,
	};
	struct ostor_scsi_vpd_block_characteristics bc = OSTOR_SCSI_VPD_BLOCK_CHARACTERISTICS_INIT;
	struct ostor_scsi_vpd_lbp lbp = OSTOR_SCSI_VPD_LBP_INIT;
	size_t n;

	ck_assert_int_eq(ostor_scsi_parse_vpd_block_characteristics(b1, sizeof(b1), &bc), 0);
	ck_assert_uint_eq(bc.rotation_rate, 1);
	ck_assert_int_eq(bc.non_rotating, 1);
	ck_assert_uint_eq(bc.form_factor, 3);
	ck_assert_str_eq(ostor_scsi_form_factor_name(bc.form_factor), "2.5 inch");
	ck_assert_int_eq(bc.fuab, 1);
	ck_assert_int_eq(bc.vbuls, 0);
	/* Page says 60 bytes, only 9 arrived. */
	ck_assert_int_eq(ostor_scsi_parse_vpd_block_characteristics(b1_hdd, sizeof(b1_hdd), &bc), 0);
	ck_assert_uint_eq(bc.rotation_rate, 7200);
	ck_assert_int_eq(bc.non_rotating, 0);
	ck_assert_uint_eq(bc.wabereq, 1);
	ck_assert_uint_eq(bc.form_factor, 2);
	ck_assert_uint_eq(bc.zoned, 1);
	ck_assert_int_eq(bc.vbuls, 1);
	ck_assert_uint_eq(bc.valid_len, 9);
	ck_assert_str_eq(ostor_scsi_form_factor_name(9), "reserved");
	for (n = 0; n <= sizeof(b1_hdd); n++) {
		uint8_t *p = dup_n(b1_hdd, n);
		int r = ostor_scsi_parse_vpd_block_characteristics(p, n, &bc);

		ck_assert_int_eq(r, n < 4 ? OSTOR_ERROR_PROTOCOL : 0);
		ck_assert_uint_eq(bc.rotation_rate, n >= 6 ? 7200 : 0);
		ck_assert_uint_eq(bc.form_factor, n >= 8 ? 2 : 0);
		ck_assert_int_eq(bc.vbuls, n >= 9);
		free(p);
	}

	ck_assert_int_eq(ostor_scsi_parse_vpd_lbp(b2, sizeof(b2), &lbp), 0);
	ck_assert_int_eq(lbp.lbpu, 1);
	ck_assert_int_eq(lbp.lbpws, 1);
	ck_assert_int_eq(lbp.lbpws10, 1);
	ck_assert_uint_eq(lbp.lbprz, 1);
	ck_assert_int_eq(lbp.anc_sup, 1);
	ck_assert_int_eq(lbp.dp, 0);
	ck_assert_uint_eq(lbp.provisioning_type, OSTOR_SCSI_PROV_THIN);
	for (n = 0; n <= sizeof(b2); n++) {
		uint8_t *p = dup_n(b2, n);
		int r = ostor_scsi_parse_vpd_lbp(p, n, &lbp);

		ck_assert_int_eq(r, n < 4 ? OSTOR_ERROR_PROTOCOL : 0);
		ck_assert_int_eq(lbp.lbpu, n >= 6);
		ck_assert_uint_eq(lbp.provisioning_type, n >= 7 ? 2 : 0);
		free(p);
	}
	/* B2h page with page length 1: provisioning type not trusted. */
	{
		uint8_t b[8];

		memcpy(b, b2, 8);
		b[3] = 1;
		ck_assert_int_eq(ostor_scsi_parse_vpd_lbp(b, 8, &lbp), 0);
		ck_assert_uint_eq(lbp.provisioning_type, 0);
		ck_assert_int_eq(lbp.lbpu, 0);
	}
}
END_TEST

/* ---- READ CAPACITY ---------------------------------------------------- */

START_TEST(test_read_capacity)
{
	static const uint8_t rc10[8] = { 0x00, 0x01, 0xff, 0xff, 0x00, 0x00, 0x02, 0x00 };
	static const uint8_t rc16[32] = {
		0x00, 0x00, 0x00, 0x00, 0x74, 0x70, 0x6d, 0xaf,
		0x00, 0x00, 0x10, 0x00, 0x05, 0x13, 0xc0, 0x07,
	};
	struct ostor_scsi_read_capacity rc = OSTOR_SCSI_READ_CAPACITY_INIT;
	uint8_t b[32];
	size_t n;

	ck_assert_int_eq(ostor_scsi_parse_read_capacity10(rc10, 8, &rc), 0);
	ck_assert_uint_eq(rc.last_lba, 0x1ffff);
	ck_assert_uint_eq(rc.blocks, 0x20000);
	ck_assert_uint_eq(rc.block_size, 512);
	ck_assert_int_eq(rc.rc16_needed, 0);
	for (n = 0; n < 8; n++) {
		uint8_t *p = dup_n(rc10, n);

		ck_assert_int_eq(ostor_scsi_parse_read_capacity10(p, n, &rc),
				 OSTOR_ERROR_PROTOCOL);
		ck_assert_uint_eq(rc.blocks, 0);
		ck_assert_uint_eq(rc.block_size, 0);
		free(p);
	}
	memset(b, 0xff, 4);
	memcpy(b + 4, rc10 + 4, 4);
	ck_assert_int_eq(ostor_scsi_parse_read_capacity10(b, 8, &rc), 0);
	ck_assert_int_eq(rc.rc16_needed, 1);
	ck_assert_uint_eq(rc.blocks, 0x100000000ULL);

	ck_assert_int_eq(ostor_scsi_parse_read_capacity16(rc16, 32, &rc), 0);
	ck_assert_uint_eq(rc.last_lba, 0x74706dafULL);
	ck_assert_uint_eq(rc.blocks, 0x74706db0ULL);
	ck_assert_uint_eq(rc.block_size, 4096);
	ck_assert_uint_eq(rc.p_type, 2);
	ck_assert_int_eq(rc.prot_en, 1);
	ck_assert_uint_eq(rc.p_i_exponent, 1);
	ck_assert_uint_eq(rc.lbppbe, 3);
	ck_assert_int_eq(rc.lbpme, 1);
	ck_assert_int_eq(rc.lbprz, 1);
	ck_assert_uint_eq(rc.lowest_aligned_lba, 7);
	for (n = 0; n <= 32; n++) {
		uint8_t *p = dup_n(rc16, n);
		int r = ostor_scsi_parse_read_capacity16(p, n, &rc);

		if (n < 12) {
			ck_assert_int_eq(r, OSTOR_ERROR_PROTOCOL);
			ck_assert_uint_eq(rc.blocks, 0);
		} else {
			ck_assert_int_eq(r, 0);
			ck_assert_uint_eq(rc.block_size, 4096);
			ck_assert_int_eq(rc.prot_en, n > 12);
			ck_assert_uint_eq(rc.lbppbe, n > 13 ? 3 : 0);
			ck_assert_int_eq(rc.lbpme, n > 15);
			ck_assert_uint_eq(rc.lowest_aligned_lba, n > 15 ? 7 : 0);
		}
		free(p);
	}
	memset(b, 0xff, 8);
	ck_assert_int_eq(ostor_scsi_parse_read_capacity16(b, 12, &rc), 0);
	ck_assert_uint_eq(rc.last_lba, UINT64_MAX);
	ck_assert_uint_eq(rc.blocks, 0);
}
END_TEST

/* ---- MODE SENSE ------------------------------------------------------- */

static const uint8_t ms6[32] = {
	0x1f, 0x00, 0x90, 0x08,
	0x00, 0x00, 0x10, 0x00, 0x00, 0x00, 0x02, 0x00,
	0x08, 0x12, 0x04, 0x00, 0xff, 0xff, 0x00, 0x00, 0xff, 0xff, 0xff, 0xff,
	0x20, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
};

START_TEST(test_mode_sense6)
{
	struct ostor_scsi_mode_header h;
	struct ostor_scsi_block_descriptor bd;
	struct ostor_scsi_iter it;
	struct ostor_scsi_mode_page pg;
	struct ostor_scsi_caching_page cp = OSTOR_SCSI_CACHING_PAGE_INIT;
	size_t n;

	ck_assert_int_eq(ostor_scsi_parse_mode_sense6(ms6, sizeof(ms6), &h), 0);
	ck_assert_uint_eq(h.mode_data_length, 31);
	ck_assert_int_eq(h.write_protected, 1);
	ck_assert_int_eq(h.dpofua, 1);
	ck_assert_uint_eq(h.block_descriptor_length, 8);
	ck_assert_uint_eq(h.pages_offset, 12);
	ck_assert_uint_eq(h.pages_len, 20);
	ck_assert_int_eq(ostor_scsi_mode_block_descriptor(ms6, sizeof(ms6), &h, 0, &bd), 0);
	ck_assert_uint_eq(bd.blocks, 0x1000);
	ck_assert_uint_eq(bd.block_length, 512);
	ck_assert_int_eq(ostor_scsi_mode_block_descriptor(ms6, sizeof(ms6), &h, 1, &bd),
			 OSTOR_ERROR_NOT_FOUND);
	ck_assert_int_eq(ostor_scsi_mode_page_iter_init(&it, ms6, sizeof(ms6), &h), 0);
	ck_assert_int_eq(ostor_scsi_mode_page_next(&it, &pg), 1);
	ck_assert_uint_eq(pg.page, 8);
	ck_assert_uint_eq(pg.page_length, 0x12);
	ck_assert_uint_eq(pg.len, 20);
	ck_assert_int_eq(ostor_scsi_parse_caching_page(&pg, &cp), 0);
	ck_assert_int_eq(cp.wce, 1);
	ck_assert_int_eq(cp.rcd, 0);
	ck_assert_int_eq(cp.byte12_valid, 1);
	ck_assert_int_eq(cp.dra, 1);
	ck_assert_int_eq(ostor_scsi_mode_page_next(&it, &pg), 0);
	ck_assert_int_eq(it.truncated, 0);

	for (n = 0; n <= sizeof(ms6); n++) {
		uint8_t *p = dup_n(ms6, n);
		int r = ostor_scsi_parse_mode_sense6(p, n, &h), pages = 0;

		if (n < 4) {
			ck_assert_int_eq(r, OSTOR_ERROR_PROTOCOL);
			free(p);
			continue;
		}
		ck_assert_int_eq(r, 0);
		ck_assert_uint_eq(h.data_len, n);
		ck_assert_uint_le(h.pages_offset + h.pages_len, n);
		ck_assert_int_eq(ostor_scsi_mode_block_descriptor(p, n, &h, 0, &bd),
				 n >= 12 ? 0 : OSTOR_ERROR_NOT_FOUND);
		ck_assert_int_eq(ostor_scsi_mode_page_iter_init(&it, p, n, &h), 0);
		while (ostor_scsi_mode_page_next(&it, &pg) == 1) {
			ck_assert(pg.data + pg.len <= p + n);
			pages++;
		}
		ck_assert_int_eq(pages, n == sizeof(ms6));
		ck_assert_int_eq(it.truncated, n > 12 && n < sizeof(ms6));
		free(p);
	}
}
END_TEST

START_TEST(test_mode_sense10)
{
	static const uint8_t ms10[] = {
		0x00, 0x21, 0x00, 0x00, 0x01, 0x00, 0x00, 0x10,
		0x00, 0x00, 0x00, 0x01, 0x23, 0x45, 0x67, 0x89,
		0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x10, 0x00,
		0x4a, 0x01, 0x00, 0x04, 0xaa, 0xbb, 0xcc, 0xdd,
		0x08, 0x01, 0x05,
	};
	struct ostor_scsi_mode_header h;
	struct ostor_scsi_block_descriptor bd;
	struct ostor_scsi_iter it;
	struct ostor_scsi_mode_page pg;
	struct ostor_scsi_caching_page cp = OSTOR_SCSI_CACHING_PAGE_INIT;
	uint8_t b[sizeof(ms10)];

	ck_assert_uint_eq(sizeof(ms10), 0x21 + 2);
	ck_assert_int_eq(ostor_scsi_parse_mode_sense10(ms10, sizeof(ms10), &h), 0);
	ck_assert_int_eq(h.longlba, 1);
	ck_assert_int_eq(h.write_protected, 0);
	ck_assert_uint_eq(h.block_descriptor_length, 16);
	ck_assert_uint_eq(h.pages_offset, 24);
	ck_assert_int_eq(ostor_scsi_mode_block_descriptor(ms10, sizeof(ms10), &h, 0, &bd), 0);
	ck_assert_uint_eq(bd.blocks, 0x123456789ULL);
	ck_assert_uint_eq(bd.block_length, 4096);
	ck_assert_int_eq(ostor_scsi_mode_page_iter_init(&it, ms10, sizeof(ms10), &h), 0);
	ck_assert_int_eq(ostor_scsi_mode_page_next(&it, &pg), 1);
	ck_assert_uint_eq(pg.page, 0x0a);
	ck_assert_uint_eq(pg.subpage, 0x01);
	ck_assert_int_eq(pg.spf, 1);
	ck_assert_int_eq(pg.ps, 0);
	ck_assert_uint_eq(pg.len, 8);
	ck_assert_int_eq(ostor_scsi_parse_caching_page(&pg, &cp), OSTOR_ERROR_INVALID_PARAM);
	ck_assert_int_eq(ostor_scsi_mode_page_next(&it, &pg), 1);
	ck_assert_uint_eq(pg.page, 0x08);
	ck_assert_uint_eq(pg.len, 3);
	ck_assert_int_eq(ostor_scsi_parse_caching_page(&pg, &cp), 0);
	ck_assert_int_eq(cp.wce, 1);
	ck_assert_int_eq(cp.rcd, 1);
	ck_assert_int_eq(cp.byte12_valid, 0);
	ck_assert_int_eq(cp.dra, 0);
	ck_assert_int_eq(ostor_scsi_mode_page_next(&it, &pg), 0);

	/* Caching page 2 bytes long: no WCE. */
	pg.len = 2;
	ck_assert_int_eq(ostor_scsi_parse_caching_page(&pg, &cp), OSTOR_ERROR_PROTOCOL);

	/* Absurd MODE DATA LENGTH / BLOCK DESCRIPTOR LENGTH. */
	memcpy(b, ms10, sizeof(b));
	b[0] = 0xff;
	b[1] = 0xff;
	b[6] = 0xff;
	b[7] = 0xff;
	ck_assert_int_eq(ostor_scsi_parse_mode_sense10(b, sizeof(b), &h), 0);
	ck_assert_uint_eq(h.data_len, sizeof(b));
	ck_assert_uint_eq(h.pages_len, 0);
	ck_assert_uint_eq(h.block_descriptors_len, sizeof(b) - 8);
	ck_assert_int_eq(ostor_scsi_mode_block_descriptor(b, sizeof(b), &h, 0, &bd), 0);
	ck_assert_int_eq(ostor_scsi_mode_block_descriptor(b, sizeof(b), &h, 1, &bd),
			 OSTOR_ERROR_NOT_FOUND);
	/* MODE DATA LENGTH 0: nothing after the header is trusted. */
	memcpy(b, ms10, sizeof(b));
	b[1] = 0;
	ck_assert_int_eq(ostor_scsi_parse_mode_sense10(b, sizeof(b), &h), 0);
	ck_assert_uint_eq(h.data_len, 8);
	ck_assert_uint_eq(h.pages_len, 0);
	ck_assert_int_eq(ostor_scsi_mode_block_descriptor(b, sizeof(b), &h, 0, &bd),
			 OSTOR_ERROR_NOT_FOUND);
	/* A page claiming 0xffff bytes. */
	memcpy(b, ms10, sizeof(b));
	b[26] = 0xff;
	ck_assert_int_eq(ostor_scsi_parse_mode_sense10(b, sizeof(b), &h), 0);
	ck_assert_int_eq(ostor_scsi_mode_page_iter_init(&it, b, sizeof(b), &h), 0);
	ck_assert_int_eq(ostor_scsi_mode_page_next(&it, &pg), 0);
	ck_assert_int_eq(it.truncated, 1);
	/* A header that does not belong to the buffer is refused. */
	ck_assert_int_eq(ostor_scsi_parse_mode_sense10(ms10, sizeof(ms10), &h), 0);
	ck_assert_int_eq(ostor_scsi_mode_page_iter_init(&it, ms10, 10, &h),
			 OSTOR_ERROR_INVALID_PARAM);
	ck_assert_int_eq(ostor_scsi_mode_block_descriptor(ms10, 10, &h, 0, &bd),
			 OSTOR_ERROR_INVALID_PARAM);
	{
		size_t n;

		for (n = 0; n <= sizeof(ms10); n++) {
			uint8_t *p = dup_n(ms10, n);
			int pages = 0;

			if (ostor_scsi_parse_mode_sense10(p, n, &h) == 0) {
				ck_assert_int_eq(ostor_scsi_mode_page_iter_init(&it, p, n, &h), 0);
				while (ostor_scsi_mode_page_next(&it, &pg) == 1)
					pages++;
				ck_assert_int_eq(pages, n >= 35 ? 2 : n >= 32 ? 1 : 0);
			} else {
				ck_assert_uint_lt(n, 8);
			}
			free(p);
		}
	}
}
END_TEST

/* ---- REPORT LUNS, LUN encoding ---------------------------------------- */

static const uint8_t rluns[40] = {
	0x00, 0x00, 0x00, 0x20, 0, 0, 0, 0,
	0x00, 0x00, 0, 0, 0, 0, 0, 0,
	0x00, 0x05, 0, 0, 0, 0, 0, 0,
	0x41, 0x23, 0, 0, 0, 0, 0, 0,
	0xc1, 0x01, 0x02, 0x03, 0, 0, 0, 0,
};

START_TEST(test_report_luns)
{
	uint64_t l[8];
	size_t total, n;
	uint8_t b[40];

	ck_assert_int_eq(ostor_scsi_parse_report_luns(rluns, sizeof(rluns), l, 8, &total), 4);
	ck_assert_uint_eq(total, 4);
	ck_assert_uint_eq(l[0], 0);
	ck_assert_uint_eq(l[1], 5);
	ck_assert_uint_eq(l[2], 0x123);
	ck_assert_uint_eq(l[3], 0xc101020300000000ULL);
	ck_assert_int_eq(ostor_scsi_parse_report_luns(rluns, sizeof(rluns), l, 2, &total), 2);
	ck_assert_uint_eq(total, 4);
	for (n = 0; n <= sizeof(rluns); n++) {
		uint8_t *p = dup_n(rluns, n);
		int r;

		memset(l, 0xee, sizeof(l));
		r = ostor_scsi_parse_report_luns(p, n, l, 8, &total);
		if (n < 8) {
			ck_assert_int_eq(r, OSTOR_ERROR_PROTOCOL);
			ck_assert_uint_eq(total, 0);
		} else {
			ck_assert_int_eq(r, (int)((n - 8) / 8));
			ck_assert_uint_eq(total, (n - 8) / 8);
			/* Slots for LUNs that did not arrive are untouched. */
			ck_assert_uint_eq(l[r], 0xeeeeeeeeeeeeeeeeULL);
		}
		free(p);
	}
	memcpy(b, rluns, sizeof(b));
	memset(b, 0xff, 4);
	ck_assert_int_eq(ostor_scsi_parse_report_luns(b, 16, l, 8, &total), 1);
	ck_assert_uint_eq(total, 1);
	b[3] = 0x0c; /* not a multiple of 8 */
	b[0] = b[1] = b[2] = 0;
	ck_assert_int_eq(ostor_scsi_parse_report_luns(b, sizeof(b), l, 8, &total), 1);
	b[3] = 0;
	ck_assert_int_eq(ostor_scsi_parse_report_luns(b, sizeof(b), l, 8, &total), 0);
	ck_assert_int_eq(ostor_scsi_parse_report_luns(b, sizeof(b), NULL, 8, &total),
			 OSTOR_ERROR_INVALID_PARAM);
}
END_TEST

START_TEST(test_lun_encoding)
{
	uint8_t e[8];
	uint32_t lun;
	static const uint8_t bus1[8] = { 0x01, 0x00 };
	static const uint8_t level2[8] = { 0x00, 0x01, 0x00, 0x02 };
	static const uint8_t ext[8] = { 0xd2, 0x00 };

	ostor_scsi_lun_encode(0, e);
	ck_assert_mem_eq(e, ((uint8_t[8]){ 0 }), 8);
	ostor_scsi_lun_encode(255, e);
	ck_assert_mem_eq(e, ((uint8_t[8]){ 0x00, 0xff }), 8);
	ostor_scsi_lun_encode(256, e);
	ck_assert_mem_eq(e, ((uint8_t[8]){ 0x41, 0x00 }), 8);
	ostor_scsi_lun_encode(16383, e);
	ck_assert_mem_eq(e, ((uint8_t[8]){ 0x7f, 0xff }), 8);
	ostor_scsi_lun_encode(16384, e);
	ck_assert_mem_eq(e, ((uint8_t[8]){ 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff }), 8);
	ck_assert_int_eq(ostor_scsi_lun_decode(e), -1);
	ck_assert_int_eq(ostor_scsi_lun_encode_checked(16384, e), OSTOR_ERROR_INVALID_PARAM);
	ck_assert_int_eq(ostor_scsi_lun_encode_checked(0xffffffff, e), OSTOR_ERROR_INVALID_PARAM);
	ck_assert_int_eq(ostor_scsi_lun_encode_checked(300, e), 0);
	ck_assert_uint_eq(e[0], 0x41);
	ck_assert_uint_eq(e[1], 0x2c);
	for (lun = 0; lun < 16384; lun++) {
		ck_assert_int_eq(ostor_scsi_lun_encode_checked(lun, e), 0);
		ck_assert_int_eq(ostor_scsi_lun_decode(e), (int64_t)lun);
	}
	/* Flat addressing may also express small LUNs. */
	ck_assert_int_eq(ostor_scsi_lun_decode((const uint8_t[8]){ 0x40, 0x07 }), 7);
	ck_assert_int_eq(ostor_scsi_lun_decode(bus1), -1);
	ck_assert_int_eq(ostor_scsi_lun_decode(level2), -1);
	ck_assert_int_eq(ostor_scsi_lun_decode(ext), -1);
	ck_assert_int_eq(ostor_scsi_lun_decode(NULL), -1);
}
END_TEST

/* ---- LOG SENSE -------------------------------------------------------- */

static const uint8_t logp[16] = {
	0xcd, 0x00, 0x00, 0x0c,
	0x00, 0x00, 0x03, 0x02, 0x00, 0x23,
	0x00, 0x01, 0x83, 0x02, 0x00, 0x46,
};

START_TEST(test_log_sense)
{
	struct ostor_scsi_log_header h;
	struct ostor_scsi_log_param p;
	struct ostor_scsi_iter it;
	uint64_t v;
	size_t n;
	uint8_t b[16];

	ck_assert_int_eq(ostor_scsi_parse_log_sense(logp, sizeof(logp), &h), 0);
	ck_assert_uint_eq(h.page, 0x0d);
	ck_assert_int_eq(h.ds, 1);
	ck_assert_int_eq(h.spf, 1);
	ck_assert_uint_eq(h.page_length, 12);
	ck_assert_uint_eq(h.params_len, 12);
	ck_assert_int_eq(ostor_scsi_log_param_iter_init(&it, logp, sizeof(logp)), 0);
	ck_assert_int_eq(ostor_scsi_log_param_next(&it, &p), 1);
	ck_assert_uint_eq(p.code, 0);
	ck_assert_uint_eq(p.format_linking, 3);
	ck_assert_int_eq(p.du, 0);
	ck_assert_int_eq(ostor_scsi_log_param_value(&p, &v), 0);
	ck_assert_uint_eq(v, 0x23);
	ck_assert_int_eq(ostor_scsi_log_param_next(&it, &p), 1);
	ck_assert_uint_eq(p.code, 1);
	ck_assert_int_eq(p.du, 1);
	ck_assert_int_eq(ostor_scsi_log_param_value(&p, &v), 0);
	ck_assert_uint_eq(v, 0x46);
	ck_assert_int_eq(ostor_scsi_log_param_next(&it, &p), 0);
	ck_assert_int_eq(it.truncated, 0);

	for (n = 0; n <= sizeof(logp); n++) {
		uint8_t *q = dup_n(logp, n);
		int got = 0;

		if (n < 4) {
			ck_assert_int_eq(ostor_scsi_log_param_iter_init(&it, q, n),
					 OSTOR_ERROR_PROTOCOL);
			ck_assert_int_eq(ostor_scsi_log_param_next(&it, &p), 0);
			free(q);
			continue;
		}
		ck_assert_int_eq(ostor_scsi_log_param_iter_init(&it, q, n), 0);
		while (ostor_scsi_log_param_next(&it, &p) == 1) {
			ck_assert(p.value + p.len <= q + n);
			got++;
		}
		ck_assert_int_eq(got, n >= 16 ? 2 : n >= 10 ? 1 : 0);
		ck_assert_int_eq(it.truncated, n < 16);
		free(q);
	}
	/* Parameter longer than the page. */
	memcpy(b, logp, sizeof(b));
	b[7] = 0xfe;
	ck_assert_int_eq(ostor_scsi_log_param_iter_init(&it, b, sizeof(b)), 0);
	ck_assert_int_eq(ostor_scsi_log_param_next(&it, &p), 0);
	ck_assert_int_eq(it.truncated, 1);
	/* Absurd PAGE LENGTH: bounded by the transfer. */
	memcpy(b, logp, sizeof(b));
	b[2] = 0xff;
	ck_assert_int_eq(ostor_scsi_parse_log_sense(b, sizeof(b), &h), 0);
	ck_assert_uint_eq(h.params_len, 12);
	/* Value too wide for 64 bits. */
	p.len = 9;
	p.value = logp;
	ck_assert_int_eq(ostor_scsi_log_param_value(&p, &v), OSTOR_ERROR_OVERFLOW);
}
END_TEST

/* ---- READ FORMAT CAPACITIES ------------------------------------------- */

static const uint8_t rfc[20] = {
	0x00, 0x00, 0x00, 0x10,
	0x00, 0x03, 0xc0, 0x00, 0x02, 0x00, 0x02, 0x00,
	0x00, 0x00, 0x0b, 0x40, 0x04, 0x00, 0x02, 0x00,
};

START_TEST(test_read_format_capacities)
{
	struct ostor_scsi_format_capacity d[4];
	size_t total, n;
	uint8_t b[20];

	ck_assert_int_eq(ostor_scsi_parse_read_format_capacities(rfc, sizeof(rfc), d, 4, &total), 2);
	ck_assert_uint_eq(total, 2);
	ck_assert_uint_eq(d[0].blocks, 0x3c000);
	ck_assert_uint_eq(d[0].descriptor_type, 2);
	ck_assert_uint_eq(d[0].block_length, 512);
	ck_assert_uint_eq(d[1].blocks, 2880);
	ck_assert_uint_eq(d[1].format_type, 1);
	ck_assert_uint_eq(d[1].descriptor_type, 0);
	for (n = 0; n <= sizeof(rfc); n++) {
		uint8_t *p = dup_n(rfc, n);
		int r = ostor_scsi_parse_read_format_capacities(p, n, d, 4, &total);

		if (n < 4)
			ck_assert_int_eq(r, OSTOR_ERROR_PROTOCOL);
		else
			ck_assert_int_eq(r, (int)((n - 4) / 8));
		free(p);
	}
	memcpy(b, rfc, sizeof(b));
	b[3] = 0xff;
	ck_assert_int_eq(ostor_scsi_parse_read_format_capacities(b, 12, d, 4, &total), 1);
	b[3] = 0x0c;
	ck_assert_int_eq(ostor_scsi_parse_read_format_capacities(b, sizeof(b), d, 4, &total), 1);
	b[11] = 0x03; /* no medium */
	b[8] = 0x03;
	ck_assert_int_eq(ostor_scsi_parse_read_format_capacities(b, sizeof(b), d, 4, &total), 1);
	ck_assert_uint_eq(d[0].descriptor_type, 3);
	ck_assert_int_eq(ostor_scsi_parse_read_format_capacities(b, sizeof(b), d, 0, &total), 0);
	ck_assert_uint_eq(total, 1);
}
END_TEST

START_TEST(test_vpd_header)
{
	struct ostor_scsi_vpd_header h;
	static const uint8_t b[4] = { 0x7f, 0xb0, 0x00, 0x3c };

	ck_assert_int_eq(ostor_scsi_parse_vpd_header(b, 4, 0xb0, &h), 0);
	ck_assert_uint_eq(h.peripheral_qualifier, 3);
	ck_assert_uint_eq(h.peripheral_type, 0x1f);
	ck_assert_uint_eq(h.page_length, 0x3c);
	ck_assert_uint_eq(h.data_len, 0);
	ck_assert_int_eq(ostor_scsi_parse_vpd_header(b, 3, 0xb0, &h), OSTOR_ERROR_PROTOCOL);
	ostori_clear_error();
	ck_assert_int_eq(ostor_scsi_parse_vpd_header(b, 4, 0x80, &h), OSTOR_ERROR_PROTOCOL);
	ck_assert(strstr(ostor_last_error(), "B0h") != NULL);
	ck_assert_int_eq(ostor_scsi_parse_vpd_header(NULL, 0, 0x80, &h), OSTOR_ERROR_PROTOCOL);
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("scsi_decode");
	TCase *tc = tcase_create("decoders");

	tcase_add_test(tc, test_inquiry_good);
	tcase_add_test(tc, test_inquiry_truncated);
	tcase_add_test(tc, test_inquiry_hostile);
	tcase_add_test(tc, test_copy_ascii);
	tcase_add_test(tc, test_vpd_header);
	tcase_add_test(tc, test_vpd_supported);
	tcase_add_test(tc, test_vpd_serial);
	tcase_add_test(tc, test_vpd_devid);
	tcase_add_test(tc, test_vpd_ata_info);
	tcase_add_test(tc, test_vpd_block_limits);
	tcase_add_test(tc, test_vpd_b1_b2);
	tcase_add_test(tc, test_read_capacity);
	tcase_add_test(tc, test_mode_sense6);
	tcase_add_test(tc, test_mode_sense10);
	tcase_add_test(tc, test_report_luns);
	tcase_add_test(tc, test_lun_encoding);
	tcase_add_test(tc, test_log_sense);
	tcase_add_test(tc, test_read_format_capacities);
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
