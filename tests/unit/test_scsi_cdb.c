/*
 * tests/unit/test_scsi_cdb.c - CDB builders against byte vectors worked
 * out by hand from SPC-4 / SBC-3 / SAT-3 / MMC, plus every out-of-range
 * parameter.
 */
#include "core/internal.h"

#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "scsi/scsi_priv.h"

#define EXPECT_CDB(cdb, ...)                                                 \
	do {                                                                 \
		static const uint8_t exp_[] = { __VA_ARGS__ };               \
		expect_cdb(cdb, exp_, sizeof(exp_), __LINE__);               \
	} while (0)

static void expect_cdb(const struct ostor_cdb *cdb, const uint8_t *exp,
		       size_t n, int line)
{
	size_t i;

	ck_assert_msg(cdb->len == n, "line %d: length %u, expected %zu", line,
		      cdb->len, n);
	for (i = 0; i < n; i++)
		ck_assert_msg(cdb->bytes[i] == exp[i],
			      "line %d: byte %zu is %02x, expected %02x", line,
			      i, cdb->bytes[i], exp[i]);
	/* Nothing stale after the command. */
	for (; i < sizeof(cdb->bytes); i++)
		ck_assert_msg(cdb->bytes[i] == 0, "line %d: byte %zu not zero",
			      line, i);
}

/* A rejected builder returns INVALID_PARAM, clears the CDB and leaves a
 * message. */
#define EXPECT_REJECT(call, cdbp)                                            \
	do {                                                                 \
		memset((cdbp), 0xa5, sizeof(*(cdbp)));                       \
		ostori_clear_error();                                        \
		ck_assert_int_eq((call), OSTOR_ERROR_INVALID_PARAM);         \
		ck_assert_uint_eq((cdbp)->len, 0);                           \
		ck_assert_uint_eq((cdbp)->bytes[0], 0);                      \
		ck_assert(ostor_last_error()[0] != '\0');                    \
	} while (0)

START_TEST(test_simple)
{
	struct ostor_cdb c;

	memset(&c, 0xee, sizeof(c));
	ck_assert_int_eq(ostor_scsi_cdb_test_unit_ready(&c), 0);
	EXPECT_CDB(&c, 0x00, 0, 0, 0, 0, 0);

	ck_assert_int_eq(ostor_scsi_cdb_request_sense(&c, 252, 1), 0);
	EXPECT_CDB(&c, 0x03, 0x01, 0, 0, 0xfc, 0);
	ck_assert_int_eq(ostor_scsi_cdb_request_sense(&c, 18, 0), 0);
	EXPECT_CDB(&c, 0x03, 0x00, 0, 0, 0x12, 0);

	ck_assert_int_eq(ostor_scsi_cdb_read_capacity10(&c), 0);
	EXPECT_CDB(&c, 0x25, 0, 0, 0, 0, 0, 0, 0, 0, 0);

	ck_assert_int_eq(ostor_scsi_cdb_read_capacity16(&c, 32), 0);
	EXPECT_CDB(&c, 0x9e, 0x10, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x20, 0, 0);
	ck_assert_int_eq(ostor_scsi_cdb_read_capacity16(&c, 0x01020304), 0);
	EXPECT_CDB(&c, 0x9e, 0x10, 0, 0, 0, 0, 0, 0, 0, 0, 1, 2, 3, 4, 0, 0);

	ck_assert_int_eq(ostor_scsi_cdb_report_luns(&c, 0x02, 0x1000), 0);
	EXPECT_CDB(&c, 0xa0, 0, 0x02, 0, 0, 0, 0, 0, 0x10, 0, 0, 0);

	ck_assert_int_eq(ostor_scsi_cdb_read_format_capacities(&c, 0xfc), 0);
	EXPECT_CDB(&c, 0x23, 0, 0, 0, 0, 0, 0, 0, 0xfc, 0);
	ck_assert_int_eq(ostor_scsi_cdb_pad(&c, 12), 0);
	EXPECT_CDB(&c, 0x23, 0, 0, 0, 0, 0, 0, 0, 0xfc, 0, 0, 0);
	ck_assert_int_eq(ostor_scsi_cdb_pad(&c, 10), OSTOR_ERROR_INVALID_PARAM);
	ck_assert_int_eq(ostor_scsi_cdb_pad(&c, 33), OSTOR_ERROR_INVALID_PARAM);
	ck_assert_int_eq(ostor_scsi_cdb_pad(NULL, 12), OSTOR_ERROR_INVALID_PARAM);
	ck_assert_uint_eq(c.len, 12);
}
END_TEST

START_TEST(test_inquiry)
{
	struct ostor_cdb c;

	ck_assert_int_eq(ostor_scsi_cdb_inquiry(&c, 0, 0, 36), 0);
	EXPECT_CDB(&c, 0x12, 0, 0, 0, 0x24, 0);
	ck_assert_int_eq(ostor_scsi_cdb_inquiry(&c, 1, 0x83, 0x1000), 0);
	EXPECT_CDB(&c, 0x12, 0x01, 0x83, 0x10, 0x00, 0);
	/* Any page, including vendor ones. */
	ck_assert_int_eq(ostor_scsi_cdb_inquiry(&c, 1, 0xc0, 0xffff), 0);
	EXPECT_CDB(&c, 0x12, 0x01, 0xc0, 0xff, 0xff, 0);
	EXPECT_REJECT(ostor_scsi_cdb_inquiry(&c, 0, 0x80, 255), &c);
	ck_assert(strstr(ostor_last_error(), "EVPD") != NULL);
}
END_TEST

START_TEST(test_rw6)
{
	struct ostor_cdb c;

	ck_assert_int_eq(ostor_scsi_cdb_read6(&c, 0x1fffff, 256), 0);
	EXPECT_CDB(&c, 0x08, 0x1f, 0xff, 0xff, 0x00, 0);
	ck_assert_int_eq(ostor_scsi_cdb_read6(&c, 0x012345, 1), 0);
	EXPECT_CDB(&c, 0x08, 0x01, 0x23, 0x45, 0x01, 0);
	ck_assert_int_eq(ostor_scsi_cdb_write6(&c, 0, 255), 0);
	EXPECT_CDB(&c, 0x0a, 0, 0, 0, 0xff, 0);

	EXPECT_REJECT(ostor_scsi_cdb_read6(&c, 0x200000, 1), &c);
	EXPECT_REJECT(ostor_scsi_cdb_read6(&c, 0, 0), &c);
	EXPECT_REJECT(ostor_scsi_cdb_read6(&c, 0, 257), &c);
	EXPECT_REJECT(ostor_scsi_cdb_write6(&c, 0xffffffff, 1), &c);
	EXPECT_REJECT(ostor_scsi_cdb_write6(&c, 0, 0), &c);
	EXPECT_REJECT(ostor_scsi_cdb_write6(&c, 0, 0xffff), &c);
}
END_TEST

START_TEST(test_rw10_12_16)
{
	struct ostor_cdb c;

	ck_assert_int_eq(ostor_scsi_cdb_read10(&c, 0x12345678, 0x100,
					       OSTOR_SCSI_DPO | OSTOR_SCSI_FUA), 0);
	EXPECT_CDB(&c, 0x28, 0x18, 0x12, 0x34, 0x56, 0x78, 0, 0x01, 0x00, 0);
	ck_assert_int_eq(ostor_scsi_cdb_write10(&c, 0xffffffff, 0xffff,
						OSTOR_SCSI_FUA), 0);
	EXPECT_CDB(&c, 0x2a, 0x08, 0xff, 0xff, 0xff, 0xff, 0, 0xff, 0xff, 0);

	ck_assert_int_eq(ostor_scsi_cdb_read12(&c, 1, 0x10000, 0), 0);
	EXPECT_CDB(&c, 0xa8, 0, 0, 0, 0, 1, 0, 1, 0, 0, 0, 0);
	ck_assert_int_eq(ostor_scsi_cdb_write12(&c, 0xa1b2c3d4, 0xffffffff,
						OSTOR_SCSI_DPO), 0);
	EXPECT_CDB(&c, 0xaa, 0x10, 0xa1, 0xb2, 0xc3, 0xd4, 0xff, 0xff, 0xff,
		   0xff, 0, 0);

	/* READ(16) of LBA 0x123456789, 8 blocks, FUA. */
	ck_assert_int_eq(ostor_scsi_cdb_read16(&c, 0x123456789ULL, 8,
					       OSTOR_SCSI_FUA), 0);
	EXPECT_CDB(&c, 0x88, 0x08, 0x00, 0x00, 0x00, 0x01, 0x23, 0x45, 0x67,
		   0x89, 0x00, 0x00, 0x00, 0x08, 0x00, 0x00);
	ck_assert_int_eq(ostor_scsi_cdb_write16(&c, UINT64_MAX, UINT32_MAX, 0), 0);
	EXPECT_CDB(&c, 0x8a, 0, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
		   0xff, 0xff, 0xff, 0xff, 0, 0);

	/* Only FUA and DPO exist as flags. */
	EXPECT_REJECT(ostor_scsi_cdb_read10(&c, 0, 1, 0x04), &c);
	EXPECT_REJECT(ostor_scsi_cdb_write10(&c, 0, 1, 0x01), &c);
	EXPECT_REJECT(ostor_scsi_cdb_read12(&c, 0, 1, 0x20), &c);
	EXPECT_REJECT(ostor_scsi_cdb_write12(&c, 0, 1, 0x80), &c);
	EXPECT_REJECT(ostor_scsi_cdb_read16(&c, 0, 1, 0x02), &c);
	EXPECT_REJECT(ostor_scsi_cdb_write16(&c, 0, 1, 0xff), &c);
}
END_TEST

START_TEST(test_verify_sync)
{
	struct ostor_cdb c;

	ck_assert_int_eq(ostor_scsi_cdb_verify10(&c, 0x1000, 8, 1,
						 OSTOR_SCSI_DPO), 0);
	EXPECT_CDB(&c, 0x2f, 0x12, 0, 0, 0x10, 0, 0, 0, 0x08, 0);
	ck_assert_int_eq(ostor_scsi_cdb_verify16(&c, 0x100000000ULL, 0x20000,
						 3, 0), 0);
	EXPECT_CDB(&c, 0x8f, 0x06, 0, 0, 0, 0x01, 0, 0, 0, 0, 0, 0x02, 0, 0,
		   0, 0);
	ck_assert_int_eq(ostor_scsi_cdb_verify10(&c, 0, 0, 0, 0), 0);
	EXPECT_CDB(&c, 0x2f, 0, 0, 0, 0, 0, 0, 0, 0, 0);
	EXPECT_REJECT(ostor_scsi_cdb_verify10(&c, 0, 1, 2, 0), &c);
	EXPECT_REJECT(ostor_scsi_cdb_verify10(&c, 0, 1, 4, 0), &c);
	EXPECT_REJECT(ostor_scsi_cdb_verify16(&c, 0, 1, 0, OSTOR_SCSI_FUA), &c);
	EXPECT_REJECT(ostor_scsi_cdb_verify16(&c, 0, 1, 0xff, 0), &c);

	ck_assert_int_eq(ostor_scsi_cdb_synchronize_cache10_ex(&c, 0, 0, 1), 0);
	EXPECT_CDB(&c, 0x35, 0x02, 0, 0, 0, 0, 0, 0, 0, 0);
	ck_assert_int_eq(ostor_scsi_cdb_synchronize_cache10(&c, 0x01020304,
							    0x0506), 0);
	EXPECT_CDB(&c, 0x35, 0, 1, 2, 3, 4, 0, 5, 6, 0);
	ck_assert_int_eq(ostor_scsi_cdb_synchronize_cache16(&c, 5, 7), 0);
	EXPECT_CDB(&c, 0x91, 0, 0, 0, 0, 0, 0, 0, 0, 5, 0, 0, 0, 7, 0, 0);
	ck_assert_int_eq(ostor_scsi_cdb_synchronize_cache16_ex(&c,
				0x0102030405060708ULL, 0x0a0b0c0d, 1), 0);
	EXPECT_CDB(&c, 0x91, 0x02, 1, 2, 3, 4, 5, 6, 7, 8, 0x0a, 0x0b, 0x0c,
		   0x0d, 0, 0);
}
END_TEST

START_TEST(test_mode)
{
	struct ostor_cdb c;

	ck_assert_int_eq(ostor_scsi_cdb_mode_sense6(&c, 1, 0, 0x3f, 0xff, 0xff), 0);
	EXPECT_CDB(&c, 0x1a, 0x08, 0x3f, 0xff, 0xff, 0);
	ck_assert_int_eq(ostor_scsi_cdb_mode_sense6(&c, 0, 1, 0x08, 0, 0x14), 0);
	EXPECT_CDB(&c, 0x1a, 0x00, 0x48, 0x00, 0x14, 0);
	ck_assert_int_eq(ostor_scsi_cdb_mode_sense10(&c, 1, 1, 3, 0x1c, 0,
						     0x1234), 0);
	EXPECT_CDB(&c, 0x5a, 0x18, 0xdc, 0, 0, 0, 0, 0x12, 0x34, 0);
	ck_assert_int_eq(ostor_scsi_cdb_mode_sense10(&c, 0, 0, 2, 0x0a, 0xf1,
						     8), 0);
	EXPECT_CDB(&c, 0x5a, 0, 0x8a, 0xf1, 0, 0, 0, 0, 8, 0);
	EXPECT_REJECT(ostor_scsi_cdb_mode_sense6(&c, 0, 4, 0, 0, 0xff), &c);
	EXPECT_REJECT(ostor_scsi_cdb_mode_sense6(&c, 0, 0, 0x40, 0, 0xff), &c);
	EXPECT_REJECT(ostor_scsi_cdb_mode_sense10(&c, 0, 0, 7, 0, 0, 0xff), &c);
	EXPECT_REJECT(ostor_scsi_cdb_mode_sense10(&c, 0, 0, 0, 0xff, 0, 0xff), &c);

	ck_assert_int_eq(ostor_scsi_cdb_mode_select6(&c, 1, 1, 0x1c), 0);
	EXPECT_CDB(&c, 0x15, 0x11, 0, 0, 0x1c, 0);
	ck_assert_int_eq(ostor_scsi_cdb_mode_select6(&c, 0, 0, 0), 0);
	EXPECT_CDB(&c, 0x15, 0, 0, 0, 0, 0);
	ck_assert_int_eq(ostor_scsi_cdb_mode_select10(&c, 1, 0, 0x0204), 0);
	EXPECT_CDB(&c, 0x55, 0x10, 0, 0, 0, 0, 0, 0x02, 0x04, 0);
	ck_assert_int_eq(ostor_scsi_cdb_mode_select10(&c, 0, 1, 0xffff), 0);
	EXPECT_CDB(&c, 0x55, 0x01, 0, 0, 0, 0, 0, 0xff, 0xff, 0);
}
END_TEST

START_TEST(test_medium)
{
	struct ostor_cdb c;

	/* Eject, immediate. */
	ck_assert_int_eq(ostor_scsi_cdb_start_stop_unit(&c, 1, 0, 0, 1, 0), 0);
	EXPECT_CDB(&c, 0x1b, 0x01, 0, 0, 0x02, 0);
	/* Load and start. */
	ck_assert_int_eq(ostor_scsi_cdb_start_stop_unit(&c, 0, 0, 0, 1, 1), 0);
	EXPECT_CDB(&c, 0x1b, 0, 0, 0, 0x03, 0);
	ck_assert_int_eq(ostor_scsi_cdb_start_stop_unit(&c, 0,
				OSTOR_SCSI_PC_STANDBY, 0, 0, 0), 0);
	EXPECT_CDB(&c, 0x1b, 0, 0, 0, 0x30, 0);
	ck_assert_int_eq(ostor_scsi_cdb_start_stop_unit(&c, 0,
				OSTOR_SCSI_PC_FORCE_IDLE_0, 1, 0, 0), 0);
	EXPECT_CDB(&c, 0x1b, 0, 0, 0x01, 0xa0, 0);
	EXPECT_REJECT(ostor_scsi_cdb_start_stop_unit(&c, 0, 16, 0, 0, 0), &c);
	EXPECT_REJECT(ostor_scsi_cdb_start_stop_unit(&c, 0, 0, 16, 0, 0), &c);

	ck_assert_int_eq(ostor_scsi_cdb_prevent_allow(&c, 1), 0);
	EXPECT_CDB(&c, 0x1e, 0, 0, 0, 0x01, 0);
	ck_assert_int_eq(ostor_scsi_cdb_prevent_allow(&c, 0), 0);
	EXPECT_CDB(&c, 0x1e, 0, 0, 0, 0, 0);
	EXPECT_REJECT(ostor_scsi_cdb_prevent_allow(&c, 4), &c);

	ck_assert_int_eq(ostor_scsi_cdb_log_sense(&c, 0, 1, 0x2f, 0, 0x0102,
						  0x0400), 0);
	EXPECT_CDB(&c, 0x4d, 0, 0x6f, 0, 0, 0x01, 0x02, 0x04, 0x00, 0);
	ck_assert_int_eq(ostor_scsi_cdb_log_sense(&c, 1, 3, 0x0d, 0xff, 0,
						  0xffff), 0);
	EXPECT_CDB(&c, 0x4d, 0x01, 0xcd, 0xff, 0, 0, 0, 0xff, 0xff, 0);
	EXPECT_REJECT(ostor_scsi_cdb_log_sense(&c, 0, 4, 0, 0, 0, 0xff), &c);
	EXPECT_REJECT(ostor_scsi_cdb_log_sense(&c, 0, 0, 0x40, 0, 0, 0xff), &c);

	ck_assert_int_eq(ostor_scsi_cdb_send_diagnostic(&c, 0, 1, 1, 0, 0, 0), 0);
	EXPECT_CDB(&c, 0x1d, 0x14, 0, 0, 0, 0);
	ck_assert_int_eq(ostor_scsi_cdb_send_diagnostic(&c, 1, 0, 0, 0, 0, 0), 0);
	EXPECT_CDB(&c, 0x1d, 0x20, 0, 0, 0, 0);
	ck_assert_int_eq(ostor_scsi_cdb_send_diagnostic(&c, 6, 0, 0, 0, 0, 0), 0);
	EXPECT_CDB(&c, 0x1d, 0xc0, 0, 0, 0, 0);
	ck_assert_int_eq(ostor_scsi_cdb_send_diagnostic(&c, 0, 0, 1, 1, 1, 0), 0);
	EXPECT_CDB(&c, 0x1d, 0x07, 0, 0, 0, 0);
	ck_assert_int_eq(ostor_scsi_cdb_send_diagnostic(&c, 0, 1, 0, 0, 0,
							0x0102), 0);
	EXPECT_CDB(&c, 0x1d, 0x10, 0, 0x01, 0x02, 0);
	EXPECT_REJECT(ostor_scsi_cdb_send_diagnostic(&c, 8, 0, 0, 0, 0, 0), &c);
	EXPECT_REJECT(ostor_scsi_cdb_send_diagnostic(&c, 1, 0, 1, 0, 0, 0), &c);
}
END_TEST

START_TEST(test_write_same_unmap)
{
	struct ostor_cdb c;

	ck_assert_int_eq(ostor_scsi_cdb_write_same10(&c, 0x10, 0x20,
				OSTOR_SCSI_WS_UNMAP | OSTOR_SCSI_WS_ANCHOR), 0);
	EXPECT_CDB(&c, 0x41, 0x18, 0, 0, 0, 0x10, 0, 0, 0x20, 0);
	EXPECT_REJECT(ostor_scsi_cdb_write_same10(&c, 0, 1, OSTOR_SCSI_WS_NDOB), &c);
	EXPECT_REJECT(ostor_scsi_cdb_write_same10(&c, 0, 1, 0x80), &c);

	ck_assert_int_eq(ostor_scsi_cdb_write_same16(&c, 0x100000000ULL, 0x800,
				OSTOR_SCSI_WS_UNMAP | OSTOR_SCSI_WS_NDOB), 0);
	EXPECT_CDB(&c, 0x93, 0x09, 0, 0, 0, 0x01, 0, 0, 0, 0, 0, 0, 0x08, 0,
		   0, 0);
	EXPECT_REJECT(ostor_scsi_cdb_write_same16(&c, 0, 1, 0x02), &c);

	ck_assert_int_eq(ostor_scsi_cdb_unmap(&c, 1, 24), 0);
	EXPECT_CDB(&c, 0x42, 0x01, 0, 0, 0, 0, 0, 0, 0x18, 0);
	ck_assert_int_eq(ostor_scsi_cdb_unmap(&c, 0, 0x1008), 0);
	EXPECT_CDB(&c, 0x42, 0, 0, 0, 0, 0, 0, 0x10, 0x08, 0);
}
END_TEST

START_TEST(test_compare_and_write)
{
	struct ostor_cdb c;

	/* LBA in bytes 2-9, NUMBER OF LOGICAL BLOCKS in byte 13 */
	ck_assert_int_eq(ostor_scsi_cdb_compare_and_write(&c, 0x0102030405060708ULL,
							  0xff, 0), 0);
	EXPECT_CDB(&c, 0x89, 0, 1, 2, 3, 4, 5, 6, 7, 8, 0, 0, 0, 0xff, 0, 0);
	ck_assert_int_eq(ostor_scsi_cdb_compare_and_write(&c, 0x10, 1,
							  OSTOR_SCSI_FUA), 0);
	EXPECT_CDB(&c, 0x89, 0x08, 0, 0, 0, 0, 0, 0, 0, 0x10, 0, 0, 0, 1, 0, 0);
	ck_assert_int_eq(ostor_scsi_cdb_compare_and_write(&c, 0, 0,
				OSTOR_SCSI_FUA | OSTOR_SCSI_DPO), 0);
	EXPECT_CDB(&c, 0x89, 0x18, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0);
	ck_assert_int_eq(ostor_scsi_cdb_check(c.bytes, c.len), 0);
	/* WRPROTECT and the reserved bits are not settable through flags */
	EXPECT_REJECT(ostor_scsi_cdb_compare_and_write(&c, 0, 1, 0x20), &c);
	EXPECT_REJECT(ostor_scsi_cdb_compare_and_write(&c, 0, 1, 0x02), &c);
}
END_TEST

START_TEST(test_unmap_params)
{
	static const uint8_t exp[40] = {
		0x00, 0x26, 0x00, 0x20, 0, 0, 0, 0,
		0, 0, 0, 0, 0, 0, 0x10, 0x00, 0, 0, 0, 0x08, 0, 0, 0, 0,
		0, 0, 0, 0x12, 0x34, 0x56, 0x78, 0x9a, 0, 0, 0xff, 0xff, 0, 0, 0, 0,
	};
	const struct ostor_scsi_unmap_desc d[2] = {
		{ 0x1000, 8 }, { 0x123456789aULL, 0xffff },
	};
	uint8_t buf[48];
	struct ostor_scsi_unmap_desc *many;
	uint8_t *big;
	size_t i;

	memset(buf, 0xcc, sizeof(buf));
	ck_assert_int_eq(ostor_scsi_build_unmap_params(buf, sizeof(buf), d, 2), 40);
	ck_assert_mem_eq(buf, exp, sizeof(exp));
	ck_assert_uint_eq(buf[40], 0xcc); /* nothing written past the list */

	/* Bounds: one byte short is refused and nothing is written. */
	memset(buf, 0xcc, sizeof(buf));
	ck_assert_int_eq(ostor_scsi_build_unmap_params(buf, 39, d, 2),
			 OSTOR_ERROR_OVERFLOW);
	for (i = 0; i < sizeof(buf); i++)
		ck_assert_uint_eq(buf[i], 0xcc);
	ck_assert_int_eq(ostor_scsi_build_unmap_params(buf, 7, d, 0),
			 OSTOR_ERROR_OVERFLOW);
	ck_assert_int_eq(ostor_scsi_build_unmap_params(buf, 8, d, 0), 8);
	ck_assert_uint_eq(buf[0], 0x00);
	ck_assert_uint_eq(buf[1], 0x06);
	ck_assert_uint_eq(buf[3], 0x00);
	ck_assert_int_eq(ostor_scsi_build_unmap_params(NULL, 64, d, 1),
			 OSTOR_ERROR_INVALID_PARAM);
	ck_assert_int_eq(ostor_scsi_build_unmap_params(buf, 64, NULL, 1),
			 OSTOR_ERROR_INVALID_PARAM);

	/* The 16-bit length fields allow 4095 descriptors, not 4096. */
	many = calloc(4096, sizeof(*many));
	big = malloc(8 + 16 * 4096);
	ck_assert_ptr_nonnull(many);
	ck_assert_ptr_nonnull(big);
	many[4094].lba = 42;
	ck_assert_int_eq(ostor_scsi_build_unmap_params(big, 8 + 16 * 4096, many,
						       4096),
			 OSTOR_ERROR_INVALID_PARAM);
	ck_assert_int_eq(ostor_scsi_build_unmap_params(big, 8 + 16 * 4095, many,
						       4095), 8 + 16 * 4095);
	ck_assert_uint_eq(ostori_get_be16(big), 0xfff6);
	ck_assert_uint_eq(ostori_get_be16(big + 2), 0xfff0);
	ck_assert_uint_eq(ostori_get_be64(big + 8 + 16 * 4094), 42);
	free(many);
	free(big);
}
END_TEST

START_TEST(test_ata_pt)
{
	struct ostor_cdb c;
	struct ostor_scsi_ata_pt pt;

	/* IDENTIFY DEVICE: PIO data-in, one 512-byte block, length in COUNT. */
	memset(&pt, 0, sizeof(pt));
	pt.protocol = OSTOR_ATA_PROTO_PIO_IN;
	pt.t_dir = 1;
	pt.byt_blok = 1;
	pt.t_length = OSTOR_ATA_TLEN_COUNT;
	pt.count = 1;
	pt.command = 0xec;
	ck_assert_int_eq(ostor_scsi_cdb_ata_pass_through12(&c, &pt), 0);
	EXPECT_CDB(&c, 0xa1, 0x08, 0x0e, 0x00, 0x01, 0, 0, 0, 0x00, 0xec, 0, 0);
	ck_assert_int_eq(ostor_scsi_cdb_ata_pass_through16(&c, &pt), 0);
	EXPECT_CDB(&c, 0x85, 0x08, 0x0e, 0, 0, 0, 0x01, 0, 0, 0, 0, 0, 0, 0,
		   0xec, 0);

	/* 28-bit registers in the 12-byte CDB. */
	pt.features = 0xd0;
	pt.lba = 0xc24f00;
	pt.device = 0xa0;
	pt.multiple_count = 7;
	pt.off_line = 3;
	pt.ck_cond = 1;
	pt.t_type = 1;
	pt.command = 0xb0;
	ck_assert_int_eq(ostor_scsi_cdb_ata_pass_through12(&c, &pt), 0);
	EXPECT_CDB(&c, 0xa1, 0xe8, 0xfe, 0xd0, 0x01, 0x00, 0x4f, 0xc2, 0xa0,
		   0xb0, 0, 0);

	/* READ DMA EXT: 48-bit registers, HOB bytes first. */
	memset(&pt, 0, sizeof(pt));
	pt.protocol = OSTOR_ATA_PROTO_DMA;
	pt.extend = 1;
	pt.ck_cond = 1;
	pt.t_dir = 1;
	pt.byt_blok = 1;
	pt.t_length = OSTOR_ATA_TLEN_COUNT;
	pt.features = 0xabcd;
	pt.count = 0x0102;
	pt.lba = 0x123456789abcULL;
	pt.device = 0x40;
	pt.command = 0x25;
	ck_assert_int_eq(ostor_scsi_cdb_ata_pass_through16(&c, &pt), 0);
	EXPECT_CDB(&c, 0x85, 0x0d, 0x2e, 0xab, 0xcd, 0x01, 0x02, 0x56, 0xbc,
		   0x34, 0x9a, 0x12, 0x78, 0x40, 0x25, 0);

	/* The 12-byte CDB has no 48-bit registers. */
	EXPECT_REJECT(ostor_scsi_cdb_ata_pass_through12(&c, &pt), &c);
	pt.extend = 0;
	pt.features = 0;
	pt.count = 0x100;
	pt.lba = 0;
	EXPECT_REJECT(ostor_scsi_cdb_ata_pass_through12(&c, &pt), &c);
	EXPECT_REJECT(ostor_scsi_cdb_ata_pass_through16(&c, &pt), &c);
	pt.count = 0;
	pt.features = 0x100;
	EXPECT_REJECT(ostor_scsi_cdb_ata_pass_through16(&c, &pt), &c);
	pt.features = 0;
	pt.lba = 0x1000000;
	EXPECT_REJECT(ostor_scsi_cdb_ata_pass_through12(&c, &pt), &c);
	EXPECT_REJECT(ostor_scsi_cdb_ata_pass_through16(&c, &pt), &c);
	pt.extend = 1;
	ck_assert_int_eq(ostor_scsi_cdb_ata_pass_through16(&c, &pt), 0);
	pt.lba = 0x1000000000000ULL;
	EXPECT_REJECT(ostor_scsi_cdb_ata_pass_through16(&c, &pt), &c);
	pt.lba = 0;
	pt.protocol = 16;
	EXPECT_REJECT(ostor_scsi_cdb_ata_pass_through16(&c, &pt), &c);
	pt.protocol = 0;
	pt.multiple_count = 8;
	EXPECT_REJECT(ostor_scsi_cdb_ata_pass_through16(&c, &pt), &c);
	pt.multiple_count = 0;
	pt.off_line = 4;
	EXPECT_REJECT(ostor_scsi_cdb_ata_pass_through16(&c, &pt), &c);
	pt.off_line = 0;
	pt.t_length = 4;
	EXPECT_REJECT(ostor_scsi_cdb_ata_pass_through12(&c, &pt), &c);
	EXPECT_REJECT(ostor_scsi_cdb_ata_pass_through12(&c, NULL), &c);
}
END_TEST

START_TEST(test_null_cdb)
{
	struct ostor_scsi_ata_pt pt = { 0 };

	ck_assert_int_eq(ostor_scsi_cdb_test_unit_ready(NULL), OSTOR_ERROR_INVALID_PARAM);
	ck_assert_int_eq(ostor_scsi_cdb_request_sense(NULL, 18, 0), OSTOR_ERROR_INVALID_PARAM);
	ck_assert_int_eq(ostor_scsi_cdb_inquiry(NULL, 0, 0, 36), OSTOR_ERROR_INVALID_PARAM);
	ck_assert_int_eq(ostor_scsi_cdb_read_capacity10(NULL), OSTOR_ERROR_INVALID_PARAM);
	ck_assert_int_eq(ostor_scsi_cdb_read_capacity16(NULL, 32), OSTOR_ERROR_INVALID_PARAM);
	ck_assert_int_eq(ostor_scsi_cdb_read6(NULL, 0, 1), OSTOR_ERROR_INVALID_PARAM);
	ck_assert_int_eq(ostor_scsi_cdb_write6(NULL, 0, 1), OSTOR_ERROR_INVALID_PARAM);
	ck_assert_int_eq(ostor_scsi_cdb_read10(NULL, 0, 1, 0), OSTOR_ERROR_INVALID_PARAM);
	ck_assert_int_eq(ostor_scsi_cdb_write10(NULL, 0, 1, 0), OSTOR_ERROR_INVALID_PARAM);
	ck_assert_int_eq(ostor_scsi_cdb_read12(NULL, 0, 1, 0), OSTOR_ERROR_INVALID_PARAM);
	ck_assert_int_eq(ostor_scsi_cdb_write12(NULL, 0, 1, 0), OSTOR_ERROR_INVALID_PARAM);
	ck_assert_int_eq(ostor_scsi_cdb_read16(NULL, 0, 1, 0), OSTOR_ERROR_INVALID_PARAM);
	ck_assert_int_eq(ostor_scsi_cdb_write16(NULL, 0, 1, 0), OSTOR_ERROR_INVALID_PARAM);
	ck_assert_int_eq(ostor_scsi_cdb_verify10(NULL, 0, 1, 0, 0), OSTOR_ERROR_INVALID_PARAM);
	ck_assert_int_eq(ostor_scsi_cdb_verify16(NULL, 0, 1, 0, 0), OSTOR_ERROR_INVALID_PARAM);
	ck_assert_int_eq(ostor_scsi_cdb_synchronize_cache10(NULL, 0, 0), OSTOR_ERROR_INVALID_PARAM);
	ck_assert_int_eq(ostor_scsi_cdb_synchronize_cache16(NULL, 0, 0), OSTOR_ERROR_INVALID_PARAM);
	ck_assert_int_eq(ostor_scsi_cdb_mode_sense6(NULL, 0, 0, 0, 0, 4), OSTOR_ERROR_INVALID_PARAM);
	ck_assert_int_eq(ostor_scsi_cdb_mode_sense10(NULL, 0, 0, 0, 0, 0, 8), OSTOR_ERROR_INVALID_PARAM);
	ck_assert_int_eq(ostor_scsi_cdb_mode_select6(NULL, 1, 0, 4), OSTOR_ERROR_INVALID_PARAM);
	ck_assert_int_eq(ostor_scsi_cdb_mode_select10(NULL, 1, 0, 8), OSTOR_ERROR_INVALID_PARAM);
	ck_assert_int_eq(ostor_scsi_cdb_report_luns(NULL, 0, 16), OSTOR_ERROR_INVALID_PARAM);
	ck_assert_int_eq(ostor_scsi_cdb_start_stop_unit(NULL, 0, 0, 0, 0, 1), OSTOR_ERROR_INVALID_PARAM);
	ck_assert_int_eq(ostor_scsi_cdb_prevent_allow(NULL, 0), OSTOR_ERROR_INVALID_PARAM);
	ck_assert_int_eq(ostor_scsi_cdb_log_sense(NULL, 0, 1, 0, 0, 0, 4), OSTOR_ERROR_INVALID_PARAM);
	ck_assert_int_eq(ostor_scsi_cdb_write_same10(NULL, 0, 1, 0), OSTOR_ERROR_INVALID_PARAM);
	ck_assert_int_eq(ostor_scsi_cdb_write_same16(NULL, 0, 1, 0), OSTOR_ERROR_INVALID_PARAM);
	ck_assert_int_eq(ostor_scsi_cdb_compare_and_write(NULL, 0, 1, 0), OSTOR_ERROR_INVALID_PARAM);
	ck_assert_int_eq(ostor_scsi_cdb_unmap(NULL, 0, 24), OSTOR_ERROR_INVALID_PARAM);
	ck_assert_int_eq(ostor_scsi_cdb_ata_pass_through12(NULL, &pt), OSTOR_ERROR_INVALID_PARAM);
	ck_assert_int_eq(ostor_scsi_cdb_ata_pass_through16(NULL, &pt), OSTOR_ERROR_INVALID_PARAM);
	ck_assert_int_eq(ostor_scsi_cdb_send_diagnostic(NULL, 0, 0, 1, 0, 0, 0), OSTOR_ERROR_INVALID_PARAM);
	ck_assert_int_eq(ostor_scsi_cdb_read_format_capacities(NULL, 252), OSTOR_ERROR_INVALID_PARAM);
}
END_TEST

START_TEST(test_cdb_length)
{
	ck_assert_int_eq(ostor_scsi_cdb_length(0x00), 6);
	ck_assert_int_eq(ostor_scsi_cdb_length(0x1f), 6);
	ck_assert_int_eq(ostor_scsi_cdb_length(0x20), 10);
	ck_assert_int_eq(ostor_scsi_cdb_length(0x28), 10);
	ck_assert_int_eq(ostor_scsi_cdb_length(0x5a), 10);
	ck_assert_int_eq(ostor_scsi_cdb_length(0x5f), 10);
	ck_assert_int_eq(ostor_scsi_cdb_length(0x60), OSTOR_ERROR_NOT_SUPPORTED);
	ck_assert_int_eq(ostor_scsi_cdb_length(0x7d), OSTOR_ERROR_NOT_SUPPORTED);
	ck_assert_int_eq(ostor_scsi_cdb_length(0x7e), OSTOR_SCSI_CDB_LEN_VARIABLE);
	ck_assert_int_eq(ostor_scsi_cdb_length(0x7f), OSTOR_SCSI_CDB_LEN_VARIABLE);
	ck_assert_int_eq(ostor_scsi_cdb_length(0x80), 16);
	ck_assert_int_eq(ostor_scsi_cdb_length(0x9f), 16);
	ck_assert_int_eq(ostor_scsi_cdb_length(0xa0), 12);
	ck_assert_int_eq(ostor_scsi_cdb_length(0xbf), 12);
	ck_assert_int_eq(ostor_scsi_cdb_length(0xc0), OSTOR_ERROR_NOT_SUPPORTED);
	ck_assert_int_eq(ostor_scsi_cdb_length(0xff), OSTOR_ERROR_NOT_SUPPORTED);
}
END_TEST

START_TEST(test_cdb_check)
{
	struct ostor_cdb c;
	uint8_t v[40];

	/* Every builder's output passes the validator. */
	ostor_scsi_cdb_read10(&c, 1, 1, 0);
	ck_assert_int_eq(ostor_scsi_cdb_check(c.bytes, c.len), 0);
	ostor_scsi_cdb_read16(&c, 1, 1, 0);
	ck_assert_int_eq(ostor_scsi_cdb_check(c.bytes, c.len), 0);
	ostor_scsi_cdb_report_luns(&c, 0, 16);
	ck_assert_int_eq(ostor_scsi_cdb_check(c.bytes, c.len), 0);
	ostor_scsi_cdb_inquiry(&c, 0, 0, 36);
	ck_assert_int_eq(ostor_scsi_cdb_check(c.bytes, c.len), 0);

	ostor_scsi_cdb_read10(&c, 1, 1, 0);
	ostori_clear_error();
	ck_assert_int_eq(ostor_scsi_cdb_check(c.bytes, 6), OSTOR_ERROR_INVALID_PARAM);
	ck_assert(strstr(ostor_last_error(), "malformed CDB") != NULL);
	ck_assert(strstr(ostor_last_error(), "READ(10)") != NULL);
	ck_assert_int_eq(ostor_scsi_cdb_check(c.bytes, 12), OSTOR_ERROR_INVALID_PARAM);
	ostor_scsi_cdb_pad(&c, 12);
	ck_assert_int_eq(ostor_scsi_cdb_check(c.bytes, c.len), OSTOR_ERROR_INVALID_PARAM);
	ck_assert_int_eq(ostor_scsi_cdb_check(c.bytes, 0), OSTOR_ERROR_INVALID_PARAM);
	ck_assert_int_eq(ostor_scsi_cdb_check(NULL, 10), OSTOR_ERROR_INVALID_PARAM);

	/* Variable length: 8 + ADDITIONAL CDB LENGTH. */
	memset(v, 0, sizeof(v));
	v[0] = 0x7f;
	v[7] = 0x18;
	ck_assert_int_eq(ostor_scsi_cdb_check(v, 32), 0);
	ck_assert_int_eq(ostor_scsi_cdb_check(v, 31), OSTOR_ERROR_INVALID_PARAM);
	ck_assert_int_eq(ostor_scsi_cdb_check(v, 7), OSTOR_ERROR_INVALID_PARAM);
	v[0] = 0x7e;
	ck_assert_int_eq(ostor_scsi_cdb_check(v, 32), OSTOR_ERROR_INVALID_PARAM);
	/* Reserved group 3, vendor specific groups. */
	v[0] = 0x60;
	ck_assert_int_eq(ostor_scsi_cdb_check(v, 10), OSTOR_ERROR_INVALID_PARAM);
	v[0] = 0xc1;
	ck_assert_int_eq(ostor_scsi_cdb_check(v, 6), 0);
	ck_assert_int_eq(ostor_scsi_cdb_check(v, 16), 0);
	ck_assert_int_eq(ostor_scsi_cdb_check(v, 5), OSTOR_ERROR_INVALID_PARAM);
	ck_assert_int_eq(ostor_scsi_cdb_check(v, 33), OSTOR_ERROR_INVALID_PARAM);
}
END_TEST

START_TEST(test_opcode_names)
{
	static const uint8_t known[] = {
		0x00, 0x03, 0x04, 0x08, 0x0a, 0x12, 0x15, 0x1a, 0x1b, 0x1d,
		0x1e, 0x23, 0x25, 0x28, 0x2a, 0x2f, 0x35, 0x41, 0x42, 0x4d,
		0x55, 0x5a, 0x85, 0x88, 0x8a, 0x8f, 0x91, 0x93, 0x9e, 0xa0,
		0xa1, 0xa8, 0xaa, 0xbe, 0x7f,
	};
	size_t i;
	int op;

	ck_assert_str_eq(ostor_scsi_opcode_name(0x28), "READ(10)");
	ck_assert_str_eq(ostor_scsi_opcode_name(0x00), "TEST UNIT READY");
	ck_assert_str_eq(ostor_scsi_opcode_name(0xbe), "READ CD");
	ck_assert_str_eq(ostor_scsi_opcode_name(0x85), "ATA PASS-THROUGH(16)");
	ck_assert_str_eq(ostor_scsi_opcode_name(0xa1), "ATA PASS-THROUGH(12)");
	ck_assert_str_eq(ostor_scsi_opcode_name(0xc5), "VENDOR SPECIFIC");
	ck_assert_str_eq(ostor_scsi_opcode_name(0x02), "UNKNOWN");
	/* The binary search finds every known opcode (table sorted). */
	for (i = 0; i < OSTOR_ARRAY_SIZE(known); i++)
		ck_assert_msg(strcmp(ostor_scsi_opcode_name(known[i]), "UNKNOWN"),
			      "opcode %02x has no name", known[i]);
	for (op = 0; op < 256; op++)
		ck_assert_ptr_nonnull(ostor_scsi_opcode_name((uint8_t)op));
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("scsi_cdb");
	TCase *tc = tcase_create("builders");

	tcase_add_test(tc, test_simple);
	tcase_add_test(tc, test_inquiry);
	tcase_add_test(tc, test_rw6);
	tcase_add_test(tc, test_rw10_12_16);
	tcase_add_test(tc, test_verify_sync);
	tcase_add_test(tc, test_mode);
	tcase_add_test(tc, test_medium);
	tcase_add_test(tc, test_write_same_unmap);
	tcase_add_test(tc, test_compare_and_write);
	tcase_add_test(tc, test_unmap_params);
	tcase_add_test(tc, test_ata_pt);
	tcase_add_test(tc, test_null_cdb);
	tcase_add_test(tc, test_cdb_length);
	tcase_add_test(tc, test_cdb_check);
	tcase_add_test(tc, test_opcode_names);
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
