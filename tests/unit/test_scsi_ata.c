/*
 * tests/unit/test_scsi_ata.c - SAT health helpers (lib/scsi/ata.c): the
 * exact CDB of every ATA PASS-THROUGH builder in both sizes, and the
 * decoders on real-world-shaped sectors built here with correct checksums
 * (IDENTIFY of an SSD and of a 4Kn-physical disk, SMART data and
 * thresholds, the self-test log, returned registers in descriptor and
 * fixed sense), then on hostile ones: every truncation length (each in a
 * heap block of exactly that size, so ASan sees any over-read), bad
 * checksums, descriptor overruns, empty buffers.
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

static void check_cdb(const struct ostor_cdb *cdb, const uint8_t *want, size_t n)
{
	size_t i;

	ck_assert_uint_eq(cdb->len, n);
	for (i = 0; i < n; i++)
		ck_assert_msg(cdb->bytes[i] == want[i], "CDB byte %zu: %02Xh, want %02Xh", i,
			      cdb->bytes[i], want[i]);
	for (; i < sizeof(cdb->bytes); i++)
		ck_assert_uint_eq(cdb->bytes[i], 0);
}

/* ---- builders ------------------------------------------------------------ */

START_TEST(test_builders16)
{
	struct ostor_cdb c;
	static const uint8_t identify[16] = { 0x85, 0x08, 0x0e, 0, 0, 0, 0x01, 0, 0, 0, 0, 0, 0, 0, 0xec, 0 };
	static const uint8_t status[16] = { 0x85, 0x06, 0x2c, 0, 0xda, 0, 0, 0, 0, 0, 0x4f, 0, 0xc2, 0, 0xb0, 0 };
	static const uint8_t data[16] = { 0x85, 0x08, 0x0e, 0, 0xd0, 0, 0x01, 0, 0, 0, 0x4f, 0, 0xc2, 0, 0xb0, 0 };
	static const uint8_t thr[16] = { 0x85, 0x08, 0x0e, 0, 0xd1, 0, 0x01, 0, 0x01, 0, 0x4f, 0, 0xc2, 0, 0xb0, 0 };
	static const uint8_t log6[16] = { 0x85, 0x08, 0x0e, 0, 0xd5, 0, 0x01, 0, 0x06, 0, 0x4f, 0, 0xc2, 0, 0xb0, 0 };
	static const uint8_t log2x51[16] = { 0x85, 0x08, 0x0e, 0, 0xd5, 0, 0x33, 0, 0x02, 0, 0x4f, 0, 0xc2, 0, 0xb0, 0 };
	static const uint8_t shrt[16] = { 0x85, 0x06, 0x0c, 0, 0xd4, 0, 0, 0, 0x01, 0, 0x4f, 0, 0xc2, 0, 0xb0, 0 };
	static const uint8_t ext[16] = { 0x85, 0x06, 0x0c, 0, 0xd4, 0, 0, 0, 0x02, 0, 0x4f, 0, 0xc2, 0, 0xb0, 0 };
	static const uint8_t abrt[16] = { 0x85, 0x06, 0x0c, 0, 0xd4, 0, 0, 0, 0x7f, 0, 0x4f, 0, 0xc2, 0, 0xb0, 0 };
	static const uint8_t power[16] = { 0x85, 0x06, 0x2c, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xe5, 0 };

	ck_assert_int_eq(ostor_scsi_cdb_ata_identify(&c, 16), 0);
	check_cdb(&c, identify, 16);
	ck_assert_int_eq(ostor_scsi_cdb_ata_smart_return_status(&c, 16), 0);
	check_cdb(&c, status, 16);
	ck_assert_int_eq(ostor_scsi_cdb_ata_smart_read_data(&c, 16), 0);
	check_cdb(&c, data, 16);
	ck_assert_int_eq(ostor_scsi_cdb_ata_smart_read_thresholds(&c, 16), 0);
	check_cdb(&c, thr, 16);
	ck_assert_int_eq(ostor_scsi_cdb_ata_smart_read_log(&c, 16, OSTOR_ATA_LOG_SELF_TEST, 1), 0);
	check_cdb(&c, log6, 16);
	ck_assert_int_eq(ostor_scsi_cdb_ata_smart_read_log(&c, 16, 0x02, 51), 0);
	check_cdb(&c, log2x51, 16);
	ck_assert_int_eq(ostor_scsi_cdb_ata_smart_offline_immediate(&c, 16, OSTOR_ATA_TEST_SHORT), 0);
	check_cdb(&c, shrt, 16);
	ck_assert_int_eq(ostor_scsi_cdb_ata_smart_offline_immediate(&c, 16, OSTOR_ATA_TEST_EXTENDED), 0);
	check_cdb(&c, ext, 16);
	ck_assert_int_eq(ostor_scsi_cdb_ata_smart_offline_immediate(&c, 16, OSTOR_ATA_TEST_ABORT), 0);
	check_cdb(&c, abrt, 16);
	ck_assert_int_eq(ostor_scsi_cdb_ata_check_power_mode(&c, 16), 0);
	check_cdb(&c, power, 16);
	/* Every one passes the generic CDB check. */
	ck_assert_int_eq(ostor_scsi_cdb_check(c.bytes, c.len), 0);
}
END_TEST

START_TEST(test_builders12)
{
	struct ostor_cdb c;
	static const uint8_t identify[12] = { 0xa1, 0x08, 0x0e, 0, 0x01, 0, 0, 0, 0, 0xec, 0, 0 };
	static const uint8_t status[12] = { 0xa1, 0x06, 0x2c, 0xda, 0, 0, 0x4f, 0xc2, 0, 0xb0, 0, 0 };
	static const uint8_t data[12] = { 0xa1, 0x08, 0x0e, 0xd0, 0x01, 0, 0x4f, 0xc2, 0, 0xb0, 0, 0 };
	static const uint8_t thr[12] = { 0xa1, 0x08, 0x0e, 0xd1, 0x01, 0x01, 0x4f, 0xc2, 0, 0xb0, 0, 0 };
	static const uint8_t log6[12] = { 0xa1, 0x08, 0x0e, 0xd5, 0x01, 0x06, 0x4f, 0xc2, 0, 0xb0, 0, 0 };
	static const uint8_t ext[12] = { 0xa1, 0x06, 0x0c, 0xd4, 0, 0x02, 0x4f, 0xc2, 0, 0xb0, 0, 0 };
	static const uint8_t captive[12] = { 0xa1, 0x06, 0x0c, 0xd4, 0, 0x81, 0x4f, 0xc2, 0, 0xb0, 0, 0 };
	static const uint8_t power[12] = { 0xa1, 0x06, 0x2c, 0, 0, 0, 0, 0, 0, 0xe5, 0, 0 };

	ck_assert_int_eq(ostor_scsi_cdb_ata_identify(&c, 12), 0);
	check_cdb(&c, identify, 12);
	ck_assert_int_eq(ostor_scsi_cdb_ata_smart_return_status(&c, 12), 0);
	check_cdb(&c, status, 12);
	ck_assert_int_eq(ostor_scsi_cdb_ata_smart_read_data(&c, 12), 0);
	check_cdb(&c, data, 12);
	ck_assert_int_eq(ostor_scsi_cdb_ata_smart_read_thresholds(&c, 12), 0);
	check_cdb(&c, thr, 12);
	ck_assert_int_eq(ostor_scsi_cdb_ata_smart_read_log(&c, 12, OSTOR_ATA_LOG_SELF_TEST, 1), 0);
	check_cdb(&c, log6, 12);
	ck_assert_int_eq(ostor_scsi_cdb_ata_smart_offline_immediate(&c, 12, OSTOR_ATA_TEST_EXTENDED), 0);
	check_cdb(&c, ext, 12);
	ck_assert_int_eq(ostor_scsi_cdb_ata_smart_offline_immediate(&c, 12, OSTOR_ATA_TEST_SHORT_CAPTIVE), 0);
	check_cdb(&c, captive, 12);
	ck_assert_int_eq(ostor_scsi_cdb_ata_check_power_mode(&c, 12), 0);
	check_cdb(&c, power, 12);
	ck_assert_int_eq(ostor_scsi_cdb_check(c.bytes, c.len), 0);
}
END_TEST

START_TEST(test_builders_refuse)
{
	struct ostor_cdb c;
	static const uint8_t lens[] = { 0, 6, 10, 11, 13, 15, 17, 32, 255 };
	size_t i;

	for (i = 0; i < sizeof(lens); i++) {
		memset(&c, 0x5a, sizeof(c));
		ck_assert_int_eq(ostor_scsi_cdb_ata_identify(&c, lens[i]), OSTOR_ERROR_INVALID_PARAM);
		ck_assert_uint_eq(c.len, 0);
		ck_assert_uint_eq(c.bytes[0], 0);
		ck_assert_ptr_nonnull(strstr(ostor_last_error(), "cdb_len"));
		ck_assert_int_eq(ostor_scsi_cdb_ata_smart_return_status(&c, lens[i]),
				 OSTOR_ERROR_INVALID_PARAM);
		ck_assert_int_eq(ostor_scsi_cdb_ata_smart_read_data(&c, lens[i]), OSTOR_ERROR_INVALID_PARAM);
		ck_assert_int_eq(ostor_scsi_cdb_ata_smart_read_thresholds(&c, lens[i]),
				 OSTOR_ERROR_INVALID_PARAM);
		ck_assert_int_eq(ostor_scsi_cdb_ata_smart_read_log(&c, lens[i], 6, 1),
				 OSTOR_ERROR_INVALID_PARAM);
		ck_assert_int_eq(ostor_scsi_cdb_ata_smart_offline_immediate(&c, lens[i], 1),
				 OSTOR_ERROR_INVALID_PARAM);
		ck_assert_int_eq(ostor_scsi_cdb_ata_check_power_mode(&c, lens[i]), OSTOR_ERROR_INVALID_PARAM);
		ck_assert_uint_eq(c.len, 0);
	}
	/* 0 sectors: nothing to read; the CDB is cleared. */
	memset(&c, 0x5a, sizeof(c));
	ck_assert_int_eq(ostor_scsi_cdb_ata_smart_read_log(&c, 16, 6, 0), OSTOR_ERROR_INVALID_PARAM);
	ck_assert_uint_eq(c.len, 0);
	ck_assert_ptr_nonnull(strstr(ostor_last_error(), "0 sectors"));
	ck_assert_int_eq(ostor_scsi_cdb_ata_smart_read_log(&c, 16, 6, 255), 0);
	ck_assert_uint_eq(c.bytes[6], 255);
	/* NULL cdb. */
	ck_assert_int_eq(ostor_scsi_cdb_ata_identify(NULL, 16), OSTOR_ERROR_INVALID_PARAM);
	ck_assert_int_eq(ostor_scsi_cdb_ata_smart_read_log(NULL, 16, 6, 0), OSTOR_ERROR_INVALID_PARAM);
	ck_assert_int_eq(ostor_scsi_cdb_ata_check_power_mode(NULL, 12), OSTOR_ERROR_INVALID_PARAM);
}
END_TEST

/* ---- sample sectors ------------------------------------------------------ */

static void put_word(uint8_t *s, unsigned w, uint16_t v)
{
	s[2 * w] = (uint8_t)v;
	s[2 * w + 1] = (uint8_t)(v >> 8);
}

/* An ATA string: two characters per word, the first in the high byte,
 * blank padded. */
static void put_string(uint8_t *s, unsigned w, unsigned nwords, const char *str)
{
	size_t n = strlen(str), i;

	for (i = 0; i < 2 * (size_t)nwords; i++) {
		uint8_t c = i < n ? (uint8_t)str[i] : ' ';

		s[2 * w + (i ^ 1)] = c;
	}
}

static void put_words(uint8_t *s, unsigned w, unsigned nwords, uint64_t v)
{
	unsigned i;

	for (i = 0; i < nwords; i++, v >>= 16)
		put_word(s, w + i, (uint16_t)v);
}

/* Byte 511 makes the 512 bytes sum to 0. */
static void seal(uint8_t *s)
{
	uint8_t sum = 0;
	int i;

	for (i = 0; i < 511; i++)
		sum = (uint8_t)(sum + s[i]);
	s[511] = (uint8_t)(0x100 - sum);
}

/* A SATA SSD as a Samsung 860 EVO 500GB reports itself. */
static void identify_ssd(uint8_t *s)
{
	memset(s, 0, 512);
	put_word(s, 0, 0x0040);
	put_string(s, 10, 10, "S3Z2NB0K123456A");
	put_string(s, 23, 4, "RVT02B6Q");
	put_string(s, 27, 20, "Samsung SSD 860 EVO 500GB");
	put_word(s, 49, 0x2f00);
	put_words(s, 60, 2, 0x0fffffff);
	put_word(s, 69, 0x4020);
	put_word(s, 75, 0x001f);
	put_word(s, 76, 0x010e);
	put_word(s, 77, 0x0006);
	put_word(s, 80, 0x0ff0);
	put_word(s, 81, 0x011b);
	put_word(s, 82, 0x7469);
	put_word(s, 83, 0x7401);
	put_word(s, 84, 0x6163);
	put_word(s, 85, 0x7469);
	put_word(s, 86, 0xb401);
	put_word(s, 87, 0x6163);
	put_words(s, 100, 4, 976773168);
	put_word(s, 106, 0x4000);
	put_words(s, 108, 1, 0x5002);
	put_word(s, 109, 0x538e);
	put_word(s, 110, 0x40a1);
	put_word(s, 111, 0xb2c3);
	put_word(s, 128, 0x0029);
	put_word(s, 168, 0x0003);
	put_word(s, 169, 0x0001);
	put_word(s, 206, 0x003d);
	put_word(s, 209, 0x4000);
	put_word(s, 217, 0x0001);
	s[510] = 0xa5;
	seal(s);
}

/* A 4 TB disk with 4096-byte physical sectors (WD Red shaped). */
static void identify_hdd(uint8_t *s)
{
	memset(s, 0, 512);
	put_word(s, 0, 0x427a);
	put_string(s, 10, 10, "     WD-WCC7K0123456");
	put_string(s, 23, 4, "82.00A82");
	put_string(s, 27, 20, "WDC WD40EFRX-68N32N0");
	put_word(s, 49, 0x2f00);
	put_words(s, 60, 2, 0x0fffffff);
	put_word(s, 75, 0x001f);
	put_word(s, 76, 0x070e);
	put_word(s, 77, 0x0004);
	put_word(s, 80, 0x03f8);
	put_word(s, 82, 0x746b);
	put_word(s, 83, 0x7f69); /* APM (bit 3) and PUIS (bit 5) supported */
	put_word(s, 84, 0x6163);
	put_word(s, 85, 0x7469);
	put_word(s, 86, 0xbc49); /* APM enabled */
	put_word(s, 87, 0x6163);
	put_word(s, 91, 0x4080);
	put_words(s, 100, 4, 7814037168ULL);
	put_word(s, 106, 0x6003);
	put_words(s, 108, 4, 0);
	put_word(s, 108, 0x5001);
	put_word(s, 109, 0x4ee0);
	put_word(s, 110, 0x5678);
	put_word(s, 111, 0x9abc);
	put_word(s, 128, 0x0021);
	put_word(s, 168, 0x0002);
	put_word(s, 206, 0x003d);
	put_word(s, 209, 0x4000);
	put_word(s, 217, 5400);
	s[510] = 0xa5;
	seal(s);
}

START_TEST(test_identify_ssd)
{
	struct ostor_scsi_ata_identify id = OSTOR_SCSI_ATA_IDENTIFY_INIT;
	uint8_t s[512];

	identify_ssd(s);
	ck_assert_int_eq(ostor_scsi_ata_checksum_ok(s, sizeof(s)), 1);
	ck_assert_int_eq(ostor_scsi_parse_ata_identify(s, sizeof(s), &id), 0);
	ck_assert_uint_eq(id.size, sizeof(id));
	ck_assert_str_eq(id.model, "Samsung SSD 860 EVO 500GB");
	ck_assert_str_eq(id.serial, "S3Z2NB0K123456A");
	ck_assert_str_eq(id.firmware, "RVT02B6Q");
	ck_assert_int_eq(id.packet_device, 0);
	ck_assert_uint_eq(id.major_version, 0x0ff0);
	ck_assert_str_eq(ostor_scsi_ata_major_version_name(id.major_version), "ACS-4");
	ck_assert_uint_eq(id.minor_version, 0x011b);
	ck_assert_uint_eq(id.sectors_28, 0x0fffffff);
	ck_assert_uint_eq(id.sectors_48, 976773168);
	ck_assert_uint_eq(id.sectors, 976773168);
	ck_assert_uint_eq(id.logical_sector_size, 512);
	ck_assert_uint_eq(id.physical_sector_size, 512);
	ck_assert_uint_eq(id.logical_sector_offset, 0);
	ck_assert_uint_eq(id.capacity_bytes, 500107862016ULL);
	ck_assert_uint_eq(id.rotation_rate, 1);
	ck_assert_uint_eq(id.form_factor, 3);
	ck_assert_int_eq(id.lba_supported, 1);
	ck_assert_int_eq(id.dma_supported, 1);
	ck_assert_int_eq(id.lba48_supported, 1);
	ck_assert_int_eq(id.smart_supported, 1);
	ck_assert_int_eq(id.smart_enabled, 1);
	ck_assert_int_eq(id.self_test_supported, 1);
	ck_assert_int_eq(id.error_log_supported, 1);
	ck_assert_int_eq(id.gp_logging_supported, 1);
	ck_assert_int_eq(id.write_cache_supported, 1);
	ck_assert_int_eq(id.write_cache_enabled, 1);
	ck_assert_int_eq(id.read_look_ahead_supported, 1);
	ck_assert_int_eq(id.read_look_ahead_enabled, 1);
	ck_assert_int_eq(id.apm_supported, 0);
	ck_assert_int_eq(id.apm_enabled, 0);
	ck_assert_uint_eq(id.apm_level, 0);
	ck_assert_int_eq(id.puis_supported, 0);
	ck_assert_int_eq(id.security_supported, 1);
	ck_assert_int_eq(id.security_enabled, 0);
	ck_assert_int_eq(id.security_locked, 0);
	ck_assert_int_eq(id.security_frozen, 1);
	ck_assert_int_eq(id.trim_supported, 1);
	ck_assert_int_eq(id.trim_deterministic, 1);
	ck_assert_int_eq(id.trim_zeroes, 1);
	ck_assert_int_eq(id.ncq_supported, 1);
	ck_assert_uint_eq(id.queue_depth, 32);
	ck_assert_uint_eq(id.sata_gen_max, 3);
	ck_assert_uint_eq(id.sata_gen_current, 3);
	ck_assert_int_eq(id.sct_supported, 1);
	ck_assert_int_eq(id.sct_erc_supported, 1);
	ck_assert_int_eq(id.wwn_valid, 1);
	ck_assert_uint_eq(id.wwn, 0x5002538e40a1b2c3ULL);
	ck_assert_int_eq(id.checksum_present, 1);
	ck_assert_int_eq(id.checksum_ok, 1);
	ck_assert_uint_eq(id.valid_len, 512);
}
END_TEST

START_TEST(test_identify_hdd)
{
	struct ostor_scsi_ata_identify id = OSTOR_SCSI_ATA_IDENTIFY_INIT;
	uint8_t s[512];

	identify_hdd(s);
	ck_assert_int_eq(ostor_scsi_parse_ata_identify(s, sizeof(s), &id), 0);
	ck_assert_str_eq(id.model, "WDC WD40EFRX-68N32N0");
	ck_assert_str_eq(id.serial, "WD-WCC7K0123456"); /* leading blanks trimmed */
	ck_assert_str_eq(id.firmware, "82.00A82");
	ck_assert_str_eq(ostor_scsi_ata_major_version_name(id.major_version), "ACS-2");
	ck_assert_uint_eq(id.sectors, 7814037168ULL);
	ck_assert_uint_eq(id.logical_sector_size, 512);
	ck_assert_uint_eq(id.physical_sector_size, 4096);
	ck_assert_uint_eq(id.capacity_bytes, 4000787030016ULL);
	ck_assert_uint_eq(id.rotation_rate, 5400);
	ck_assert_uint_eq(id.form_factor, 2);
	ck_assert_int_eq(id.apm_supported, 1);
	ck_assert_int_eq(id.apm_enabled, 1);
	ck_assert_uint_eq(id.apm_level, 0x80);
	ck_assert_int_eq(id.puis_supported, 1);
	ck_assert_int_eq(id.puis_enabled, 0);
	ck_assert_int_eq(id.trim_supported, 0);
	ck_assert_int_eq(id.trim_deterministic, 0);
	ck_assert_uint_eq(id.sata_gen_max, 3);
	ck_assert_uint_eq(id.sata_gen_current, 2);
	ck_assert_uint_eq(id.wwn, 0x50014ee056789abcULL);
	ck_assert_int_eq(id.security_frozen, 0);
	/* Logical sector 0 one logical sector into its physical sector. */
	put_word(s, 209, 0x4001);
	seal(s);
	ck_assert_int_eq(ostor_scsi_parse_ata_identify(s, sizeof(s), &id), 0);
	ck_assert_uint_eq(id.logical_sector_offset, 1);
	/* Word 209 not marked valid: no offset. */
	put_word(s, 209, 0x0007);
	seal(s);
	ck_assert_int_eq(ostor_scsi_parse_ata_identify(s, sizeof(s), &id), 0);
	ck_assert_uint_eq(id.logical_sector_offset, 0);
	/* Long logical sectors: 4096 bytes (2048 words in 117-118). */
	put_word(s, 106, 0x5000);
	put_words(s, 117, 2, 2048);
	put_words(s, 100, 4, 976754646);
	seal(s);
	ck_assert_int_eq(ostor_scsi_parse_ata_identify(s, sizeof(s), &id), 0);
	ck_assert_uint_eq(id.logical_sector_size, 4096);
	ck_assert_uint_eq(id.physical_sector_size, 4096);
	ck_assert_uint_eq(id.sectors, 976754646);
	ck_assert_uint_eq(id.capacity_bytes, 976754646ULL * 4096);
	/* Bogus long sector size (less than 512): 512 assumed. */
	put_words(s, 117, 2, 16);
	seal(s);
	ck_assert_int_eq(ostor_scsi_parse_ata_identify(s, sizeof(s), &id), 0);
	ck_assert_uint_eq(id.logical_sector_size, 512);
	/* The largest exponent. */
	put_word(s, 106, 0x600f);
	seal(s);
	ck_assert_int_eq(ostor_scsi_parse_ata_identify(s, sizeof(s), &id), 0);
	ck_assert_uint_eq(id.logical_sector_size, 512);
	ck_assert_uint_eq(id.physical_sector_size, 512u << 15);
	/* A physical size that does not fit 32 bits is not made up. */
	put_word(s, 106, 0x700f);
	put_words(s, 117, 2, 0x7fffffff);
	seal(s);
	ck_assert_int_eq(ostor_scsi_parse_ata_identify(s, sizeof(s), &id), 0);
	ck_assert_uint_eq(id.logical_sector_size, 0xfffffffeu);
	ck_assert_uint_eq(id.physical_sector_size, 0);
	ck_assert_uint_eq(id.capacity_bytes, 976754646ULL * 0xfffffffeu);
}
END_TEST

START_TEST(test_identify_capacity_rules)
{
	struct ostor_scsi_ata_identify id = OSTOR_SCSI_ATA_IDENTIFY_INIT;
	uint8_t s[512];

	/* A 28-bit-only device (an old CompactFlash card). */
	memset(s, 0, sizeof(s));
	put_word(s, 0, 0x848a);
	put_string(s, 27, 20, "SanDisk SDCFB-256");
	put_word(s, 49, 0x0200);
	put_words(s, 60, 2, 500736);
	put_word(s, 83, 0x4000);
	ck_assert_int_eq(ostor_scsi_parse_ata_identify(s, sizeof(s), &id), 0);
	ck_assert_int_eq(id.lba48_supported, 0);
	ck_assert_uint_eq(id.sectors, 500736);
	ck_assert_uint_eq(id.sectors_48, 0);
	ck_assert_uint_eq(id.logical_sector_size, 512);
	ck_assert_int_eq(id.checksum_present, 0);
	ck_assert_int_eq(id.checksum_ok, 0);
	ck_assert_str_eq(ostor_scsi_ata_major_version_name(id.major_version), "not reported");
	/* 48-bit words set but the feature set not supported: ignored. */
	put_words(s, 100, 4, 999999999);
	ck_assert_int_eq(ostor_scsi_parse_ata_identify(s, sizeof(s), &id), 0);
	ck_assert_uint_eq(id.sectors, 500736);
	/* Words 82-87 not marked valid: every tri-state feature unknown. */
	put_word(s, 82, 0xffff);
	put_word(s, 83, 0x8000);
	put_word(s, 84, 0xffff);
	put_word(s, 85, 0xffff);
	put_word(s, 87, 0x0000);
	ck_assert_int_eq(ostor_scsi_parse_ata_identify(s, sizeof(s), &id), 0);
	ck_assert_int_eq(id.smart_supported, -1);
	ck_assert_int_eq(id.smart_enabled, -1);
	ck_assert_int_eq(id.lba48_supported, -1);
	ck_assert_int_eq(id.self_test_supported, -1);
	ck_assert_int_eq(id.error_log_supported, -1);
	ck_assert_int_eq(id.gp_logging_supported, -1);
	ck_assert_int_eq(id.write_cache_supported, -1);
	ck_assert_int_eq(id.write_cache_enabled, -1);
	ck_assert_int_eq(id.apm_supported, -1);
	ck_assert_int_eq(id.wwn_valid, 0);
	/* Word 84 invalid, 87 valid: the copy in 87 is used. */
	put_word(s, 87, 0x4003);
	ck_assert_int_eq(ostor_scsi_parse_ata_identify(s, sizeof(s), &id), 0);
	ck_assert_int_eq(id.self_test_supported, 1);
	ck_assert_int_eq(id.error_log_supported, 1);
	ck_assert_int_eq(id.smart_enabled, 1);
	ck_assert_int_eq(id.smart_supported, -1);
	/* No LBA: no capacity. */
	put_word(s, 49, 0x0000);
	ck_assert_int_eq(ostor_scsi_parse_ata_identify(s, sizeof(s), &id), 0);
	ck_assert_uint_eq(id.sectors, 0);
	ck_assert_uint_eq(id.logical_sector_size, 0);
	ck_assert_uint_eq(id.capacity_bytes, 0);
	/* Early 4 KiB disks with a bogus 28-bit count larger than the
	 * 48-bit one: 48-bit wins only with long sectors. */
	memset(s, 0, sizeof(s));
	put_word(s, 49, 0x0200);
	put_word(s, 83, 0x4400);
	put_words(s, 60, 2, 0x0fffffff);
	put_words(s, 100, 4, 1000);
	ck_assert_int_eq(ostor_scsi_parse_ata_identify(s, sizeof(s), &id), 0);
	ck_assert_uint_eq(id.sectors, 0x0fffffff);
	put_word(s, 106, 0x5000);
	put_words(s, 117, 2, 2048);
	ck_assert_int_eq(ostor_scsi_parse_ata_identify(s, sizeof(s), &id), 0);
	ck_assert_uint_eq(id.sectors, 1000);
	/* Words 230-233 when word 69 bit 3 says so and they are larger. */
	put_word(s, 106, 0);
	put_words(s, 100, 4, 0xffffffff);
	put_words(s, 230, 4, 0x1d1c0beb0ULL);
	ck_assert_int_eq(ostor_scsi_parse_ata_identify(s, sizeof(s), &id), 0);
	ck_assert_uint_eq(id.sectors, 0xffffffff);
	put_word(s, 69, 0x0008);
	ck_assert_int_eq(ostor_scsi_parse_ata_identify(s, sizeof(s), &id), 0);
	ck_assert_uint_eq(id.sectors, 0x1d1c0beb0ULL);
	ck_assert_uint_eq(id.sectors_48, 0x1d1c0beb0ULL);
	/* An IDENTIFY PACKET DEVICE answer (an optical drive). */
	memset(s, 0, sizeof(s));
	put_word(s, 0, 0x85c0);
	put_string(s, 27, 20, "HL-DT-ST DVDRAM GH24NSD1");
	ck_assert_int_eq(ostor_scsi_parse_ata_identify(s, sizeof(s), &id), 0);
	ck_assert_int_eq(id.packet_device, 1);
	ck_assert_str_eq(id.model, "HL-DT-ST DVDRAM GH24NSD1");
	ck_assert_uint_eq(id.sectors, 0);
	/* Reserved rotation rates and 0xffff version words. */
	put_word(s, 217, 0x0400);
	put_word(s, 80, 0xffff);
	put_word(s, 81, 0xffff);
	ck_assert_int_eq(ostor_scsi_parse_ata_identify(s, sizeof(s), &id), 0);
	ck_assert_uint_eq(id.rotation_rate, 0);
	ck_assert_uint_eq(id.major_version, 0);
	ck_assert_uint_eq(id.minor_version, 0);
}
END_TEST

START_TEST(test_identify_checksum_and_strings)
{
	struct ostor_scsi_ata_identify id = OSTOR_SCSI_ATA_IDENTIFY_INIT;
	uint8_t s[512];

	identify_ssd(s);
	s[100] ^= 0x01; /* corrupt a byte: reported, still decoded */
	ck_assert_int_eq(ostor_scsi_ata_checksum_ok(s, sizeof(s)), 0);
	ck_assert_int_eq(ostor_scsi_parse_ata_identify(s, sizeof(s), &id), 0);
	ck_assert_int_eq(id.checksum_present, 1);
	ck_assert_int_eq(id.checksum_ok, 0);
	ck_assert_str_eq(id.model, "Samsung SSD 860 EVO 500GB");
	/* Control characters never reach the strings; a full-width model
	 * (40 characters) keeps all of them. */
	identify_ssd(s);
	put_string(s, 27, 20, "0123456789012345678901234567890123456789");
	s[2 * 27 + 1] = 0x07;
	ck_assert_int_eq(ostor_scsi_parse_ata_identify(s, sizeof(s), &id), 0);
	ck_assert_str_eq(id.model, "?123456789012345678901234567890123456789");
	ck_assert_int_eq(id.checksum_ok, 0);
	/* More than 512 bytes (a bridge that pads): only 512 used. */
	{
		uint8_t big[600];

		identify_ssd(big);
		memset(big + 512, 0xee, sizeof(big) - 512);
		ck_assert_int_eq(ostor_scsi_parse_ata_identify(big, sizeof(big), &id), 0);
		ck_assert_uint_eq(id.valid_len, 512);
		ck_assert_int_eq(id.checksum_ok, 1);
	}
	/* Bad arguments, .size. */
	ck_assert_int_eq(ostor_scsi_parse_ata_identify(NULL, 512, &id), OSTOR_ERROR_INVALID_PARAM);
	ck_assert_int_eq(ostor_scsi_parse_ata_identify(s, 512, NULL), OSTOR_ERROR_INVALID_PARAM);
	id.size = 0;
	ck_assert_int_eq(ostor_scsi_parse_ata_identify(s, 512, &id), OSTOR_ERROR_INVALID_PARAM);
	ck_assert_ptr_nonnull(strstr(ostor_last_error(), ".size"));
	id.size = sizeof(id);
	ck_assert_int_eq(ostor_scsi_parse_ata_identify(NULL, 0, &id), OSTOR_ERROR_PROTOCOL);
	ck_assert_int_eq(id.smart_supported, -1);
	ck_assert_str_eq(id.model, "");
}
END_TEST

START_TEST(test_identify_truncated)
{
	struct ostor_scsi_ata_identify id = OSTOR_SCSI_ATA_IDENTIFY_INIT;
	uint8_t s[512];
	size_t n;

	identify_ssd(s);
	for (n = 0; n <= sizeof(s); n++) {
		uint8_t *b = dup_n(s, n);
		int r = ostor_scsi_parse_ata_identify(b, n, &id);

		if (n < 2) {
			ck_assert_int_eq(r, OSTOR_ERROR_PROTOCOL);
			free(b);
			continue;
		}
		ck_assert_int_eq(r, 0);
		ck_assert_uint_eq(id.valid_len, n & ~(size_t)1);
		ck_assert(strncmp(id.serial, "S3Z2NB0K123456A", strlen(id.serial)) == 0);
		ck_assert(strncmp(id.model, "Samsung SSD 860 EVO 500GB", strlen(id.model)) == 0);
		if (n < 2 * 40) /* the 25 characters end in word 39 */
			ck_assert_uint_lt(strlen(id.model), 25);
		else
			ck_assert_str_eq(id.model, "Samsung SSD 860 EVO 500GB");
		/* Features need their words. */
		ck_assert_int_eq(id.smart_supported, n >= 2 * 84 ? 1 : -1);
		ck_assert_int_eq(id.smart_enabled, n >= 2 * 88 ? 1 : -1);
		/* A count is used only when all its words arrived. */
		ck_assert_uint_eq(id.sectors, n >= 2 * 104 ? 976773168 : n >= 2 * 62 ? 0x0fffffff : 0);
		ck_assert_int_eq(id.trim_supported, n >= 2 * 170);
		ck_assert_uint_eq(id.rotation_rate, n >= 2 * 218 ? 1 : 0);
		ck_assert_int_eq(id.checksum_present, n == 512);
		free(b);
	}
}
END_TEST

START_TEST(test_version_names)
{
	ck_assert_str_eq(ostor_scsi_ata_major_version_name(0), "not reported");
	ck_assert_str_eq(ostor_scsi_ata_major_version_name(0xffff), "not reported");
	ck_assert_str_eq(ostor_scsi_ata_major_version_name(0x0001), "not reported");
	ck_assert_str_eq(ostor_scsi_ata_major_version_name(0x0002), "ATA-1");
	ck_assert_str_eq(ostor_scsi_ata_major_version_name(0x01f0), "ATA8-ACS");
	ck_assert_str_eq(ostor_scsi_ata_major_version_name(0x07f0), "ACS-3");
	ck_assert_str_eq(ostor_scsi_ata_major_version_name(0x1ff0), "ACS-5");
	ck_assert_str_eq(ostor_scsi_ata_major_version_name(0x8000), "newer than ACS-7");
}
END_TEST

/* ---- returned registers --------------------------------------------------- */

/* Descriptor sense (72h) with an ATA Return descriptor. */
static size_t sense_desc(uint8_t *b, uint8_t status, uint8_t error, uint16_t count,
			 uint64_t lba, int extend)
{
	memset(b, 0, 22);
	b[0] = 0x72;
	b[1] = OSTOR_SCSI_SENSE_RECOVERED_ERROR;
	b[2] = 0x00;
	b[3] = 0x1d;
	b[7] = 14;
	b[8] = 0x09;
	b[9] = 0x0c;
	b[10] = extend ? 1 : 0;
	b[11] = error;
	b[12] = (uint8_t)(count >> 8);
	b[13] = (uint8_t)count;
	b[14] = (uint8_t)(lba >> 24);
	b[15] = (uint8_t)lba;
	b[16] = (uint8_t)(lba >> 32);
	b[17] = (uint8_t)(lba >> 8);
	b[18] = (uint8_t)(lba >> 40);
	b[19] = (uint8_t)(lba >> 16);
	b[20] = 0x40;
	b[21] = status;
	return 22;
}

/* SAT fixed format (70h): registers in INFORMATION and COMMAND-SPECIFIC
 * INFORMATION. */
static size_t sense_fixed(uint8_t *b, uint8_t status, uint8_t error, uint8_t count,
			  uint32_t lba)
{
	memset(b, 0, 18);
	b[0] = 0x70;
	b[2] = OSTOR_SCSI_SENSE_RECOVERED_ERROR;
	b[3] = error;
	b[4] = status;
	b[5] = 0x40;
	b[6] = count;
	b[7] = 10;
	b[9] = (uint8_t)lba;
	b[10] = (uint8_t)(lba >> 8);
	b[11] = (uint8_t)(lba >> 16);
	b[13] = 0x1d;
	return 18;
}

START_TEST(test_smart_status)
{
	struct ostor_scsi_ata_smart_status st;
	uint8_t b[32];
	size_t n;

	n = sense_desc(b, 0x50, 0, 0, 0xc24f00, 0);
	ck_assert_int_eq(ostor_scsi_parse_ata_smart_status(b, n, &st), 0);
	ck_assert_int_eq(st.verdict, OSTOR_ATA_HEALTH_PASSED);
	ck_assert_int_eq(st.registers_present, 1);
	ck_assert_int_eq(st.regs.descriptor_format, 1);
	ck_assert_uint_eq(st.lba_mid, 0x4f);
	ck_assert_uint_eq(st.lba_high, 0xc2);
	ck_assert_ptr_nonnull(strstr(st.text, "PASSED"));
	ck_assert_str_eq(ostor_scsi_ata_health_name(st.verdict), "PASSED");

	n = sense_desc(b, 0x50, 0, 0, 0x2cf400, 0);
	ck_assert_int_eq(ostor_scsi_parse_ata_smart_status(b, n, &st), 0);
	ck_assert_int_eq(st.verdict, OSTOR_ATA_HEALTH_FAILING);
	ck_assert_ptr_nonnull(strstr(st.text, "threshold exceeded"));
	ck_assert_str_eq(ostor_scsi_ata_health_name(st.verdict), "FAILING");

	/* Fixed format: the same verdicts. */
	n = sense_fixed(b, 0x50, 0, 0, 0xc24f00);
	ck_assert_int_eq(ostor_scsi_parse_ata_smart_status(b, n, &st), 0);
	ck_assert_int_eq(st.verdict, OSTOR_ATA_HEALTH_PASSED);
	ck_assert_int_eq(st.regs.descriptor_format, 0);
	n = sense_fixed(b, 0x50, 0, 0, 0x2cf400);
	ck_assert_int_eq(ostor_scsi_parse_ata_smart_status(b, n, &st), 0);
	ck_assert_int_eq(st.verdict, OSTOR_ATA_HEALTH_FAILING);
	/* F4h/2Ch with ERR set too: still failing (only a drive that checked
	 * its thresholds writes it). */
	n = sense_fixed(b, 0x51, 0x04, 0, 0x2cf400);
	ck_assert_int_eq(ostor_scsi_parse_ata_smart_status(b, n, &st), 0);
	ck_assert_int_eq(st.verdict, OSTOR_ATA_HEALTH_FAILING);

	/* Half the registers (a truncating bridge): unknown, with the hint. */
	n = sense_desc(b, 0x50, 0, 0, 0x004f00, 0);
	ck_assert_int_eq(ostor_scsi_parse_ata_smart_status(b, n, &st), 0);
	ck_assert_int_eq(st.verdict, OSTOR_ATA_HEALTH_UNKNOWN);
	ck_assert_int_eq(st.mid_only_verdict, OSTOR_ATA_HEALTH_PASSED);
	ck_assert_ptr_nonnull(strstr(st.text, "truncates"));
	n = sense_desc(b, 0x50, 0, 0, 0x00f400, 0);
	ck_assert_int_eq(ostor_scsi_parse_ata_smart_status(b, n, &st), 0);
	ck_assert_int_eq(st.verdict, OSTOR_ATA_HEALTH_UNKNOWN);
	ck_assert_int_eq(st.mid_only_verdict, OSTOR_ATA_HEALTH_FAILING);
	/* Empty registers. */
	n = sense_desc(b, 0x50, 0, 0, 0, 0);
	ck_assert_int_eq(ostor_scsi_parse_ata_smart_status(b, n, &st), 0);
	ck_assert_int_eq(st.verdict, OSTOR_ATA_HEALTH_UNKNOWN);
	ck_assert_int_eq(st.mid_only_verdict, OSTOR_ATA_HEALTH_UNKNOWN);
	ck_assert_ptr_nonnull(strstr(st.text, "00h/00h"));
	/* Something else entirely. */
	n = sense_desc(b, 0x50, 0, 0, 0x123400, 0);
	ck_assert_int_eq(ostor_scsi_parse_ata_smart_status(b, n, &st), 0);
	ck_assert_int_eq(st.verdict, OSTOR_ATA_HEALTH_UNKNOWN);
	ck_assert_ptr_nonnull(strstr(st.text, "neither"));
	/* Aborted (SMART disabled): ERR in status, ABRT in error. */
	n = sense_desc(b, 0x51, 0x04, 0, 0xc24f00, 0);
	ck_assert_int_eq(ostor_scsi_parse_ata_smart_status(b, n, &st), 0);
	ck_assert_int_eq(st.verdict, OSTOR_ATA_HEALTH_UNKNOWN);
	ck_assert_ptr_nonnull(strstr(st.text, "SMART is disabled"));
	/* No sense at all: the bridge ignored CK_COND. */
	ck_assert_int_eq(ostor_scsi_parse_ata_smart_status(NULL, 0, &st), 0);
	ck_assert_int_eq(st.verdict, OSTOR_ATA_HEALTH_UNKNOWN);
	ck_assert_int_eq(st.registers_present, 0);
	ck_assert_ptr_nonnull(strstr(st.text, "CK_COND"));
	ck_assert_str_eq(ostor_scsi_ata_health_name(st.verdict), "UNKNOWN");
	/* Sense without registers (ILLEGAL REQUEST: no pass-through). */
	n = ostor_scsi_build_sense_fixed(b, sizeof(b), OSTOR_SCSI_SENSE_ILLEGAL_REQUEST, 0x20, 0x00);
	ck_assert_int_eq(ostor_scsi_parse_ata_smart_status(b, n, &st), 0);
	ck_assert_int_eq(st.verdict, OSTOR_ATA_HEALTH_UNKNOWN);
	ck_assert_int_eq(st.registers_present, 0);
	ck_assert_ptr_nonnull(strstr(st.text, "no ATA registers"));
	/* Descriptor overrun: the ATA descriptor claims more than the
	 * additional length holds, or the additional length more than
	 * arrived. */
	n = sense_desc(b, 0x50, 0, 0, 0xc24f00, 0);
	b[9] = 0x20;
	ck_assert_int_eq(ostor_scsi_parse_ata_smart_status(b, n, &st), 0);
	ck_assert_int_eq(st.registers_present, 0);
	n = sense_desc(b, 0x50, 0, 0, 0xc24f00, 0);
	b[7] = 0xf0;
	{
		uint8_t *q = dup_n(b, n);

		ck_assert_int_eq(ostor_scsi_parse_ata_smart_status(q, n, &st), 0);
		ck_assert_int_eq(st.verdict, OSTOR_ATA_HEALTH_PASSED);
		free(q);
	}
	/* Every truncation of both forms: never read past, never PASSED
	 * without the registers. */
	for (int form = 0; form < 2; form++) {
		size_t full = form ? sense_fixed(b, 0x50, 0, 0, 0xc24f00)
				   : sense_desc(b, 0x50, 0, 0, 0xc24f00, 0);

		for (n = 0; n <= full; n++) {
			uint8_t *q = dup_n(b, n);

			ck_assert_int_eq(ostor_scsi_parse_ata_smart_status(q, n, &st), 0);
			ck_assert_int_eq(st.verdict, n == full || (form && n >= 14)
					 ? OSTOR_ATA_HEALTH_PASSED : OSTOR_ATA_HEALTH_UNKNOWN);
			ck_assert_ptr_nonnull(st.text);
			free(q);
		}
	}
	ck_assert_int_eq(ostor_scsi_parse_ata_smart_status(b, n, NULL), OSTOR_ERROR_INVALID_PARAM);
}
END_TEST

START_TEST(test_power_mode)
{
	static const struct {
		uint8_t count;
		int mode;
		const char *text;
	} cases[] = {
		{ 0xff, OSTOR_ATA_POWER_ACTIVE, "active or idle" },
		{ 0x80, OSTOR_ATA_POWER_IDLE, "idle" },
		{ 0x81, OSTOR_ATA_POWER_IDLE, "idle_a (EPC)" },
		{ 0x82, OSTOR_ATA_POWER_IDLE, "idle_b (EPC)" },
		{ 0x83, OSTOR_ATA_POWER_IDLE, "idle_c (EPC)" },
		{ 0x00, OSTOR_ATA_POWER_STANDBY, "standby" },
		{ 0x01, OSTOR_ATA_POWER_STANDBY, "standby_y (EPC)" },
		{ 0x40, OSTOR_ATA_POWER_STANDBY, "standby (NV cache power mode, spindle spun down)" },
		{ 0x41, OSTOR_ATA_POWER_ACTIVE, "active (NV cache power mode, spindle spun up)" },
		{ 0x10, OSTOR_ATA_POWER_UNKNOWN, "unknown: the count register holds a reserved value" },
	};
	struct ostor_scsi_ata_power_mode pm;
	uint8_t b[32];
	size_t i, n;

	for (i = 0; i < OSTOR_ARRAY_SIZE(cases); i++) {
		n = sense_desc(b, 0x50, 0, cases[i].count, 0, 0);
		ck_assert_int_eq(ostor_scsi_parse_ata_power_mode(b, n, &pm), 0);
		ck_assert_int_eq(pm.registers_present, 1);
		ck_assert_uint_eq(pm.count, cases[i].count);
		ck_assert_int_eq(pm.mode, cases[i].mode);
		ck_assert_str_eq(pm.text, cases[i].text);
		ck_assert_int_eq(ostor_scsi_ata_power_mode_from_count(cases[i].count), cases[i].mode);
		n = sense_fixed(b, 0x50, 0, cases[i].count, 0);
		ck_assert_int_eq(ostor_scsi_parse_ata_power_mode(b, n, &pm), 0);
		ck_assert_int_eq(pm.mode, cases[i].mode);
	}
	ck_assert_str_eq(ostor_scsi_ata_power_mode_name(OSTOR_ATA_POWER_ACTIVE), "active");
	ck_assert_str_eq(ostor_scsi_ata_power_mode_name(OSTOR_ATA_POWER_IDLE), "idle");
	ck_assert_str_eq(ostor_scsi_ata_power_mode_name(OSTOR_ATA_POWER_STANDBY), "standby");
	ck_assert_str_eq(ostor_scsi_ata_power_mode_name(OSTOR_ATA_POWER_UNKNOWN), "unknown");
	ck_assert_str_eq(ostor_scsi_ata_power_mode_name(77), "unknown");
	/* Registers missing. */
	ck_assert_int_eq(ostor_scsi_parse_ata_power_mode(b, 0, &pm), 0);
	ck_assert_int_eq(pm.mode, OSTOR_ATA_POWER_UNKNOWN);
	ck_assert_int_eq(pm.registers_present, 0);
	ck_assert_ptr_nonnull(strstr(pm.text, "CK_COND"));
	/* Refused. */
	n = sense_desc(b, 0x51, 0x04, 0xff, 0, 0);
	ck_assert_int_eq(ostor_scsi_parse_ata_power_mode(b, n, &pm), 0);
	ck_assert_int_eq(pm.mode, OSTOR_ATA_POWER_UNKNOWN);
	ck_assert_ptr_nonnull(strstr(pm.text, "refused"));
	/* Truncations. */
	n = sense_desc(b, 0x50, 0, 0x80, 0, 0);
	for (i = 0; i <= n; i++) {
		uint8_t *q = dup_n(b, i);

		ck_assert_int_eq(ostor_scsi_parse_ata_power_mode(q, i, &pm), 0);
		ck_assert_int_eq(pm.mode, i == n ? OSTOR_ATA_POWER_IDLE : OSTOR_ATA_POWER_UNKNOWN);
		free(q);
	}
	ck_assert_int_eq(ostor_scsi_parse_ata_power_mode(b, n, NULL), OSTOR_ERROR_INVALID_PARAM);
}
END_TEST

/* ---- SMART data and thresholds ---------------------------------------------- */

struct sample_attr {
	uint8_t id;
	uint16_t flags;
	uint8_t value, worst, threshold;
	uint64_t raw;
};

/* A WD Red after four years. */
static const struct sample_attr wd_red[] = {
	{ 1, 0x002f, 200, 200, 51, 0 },
	{ 3, 0x0027, 181, 176, 21, 7916 },
	{ 4, 0x0032, 100, 100, 0, 1234 },
	{ 5, 0x0033, 200, 200, 140, 0 },
	{ 7, 0x002e, 200, 200, 0, 0 },
	{ 9, 0x0032, 52, 52, 0, 35171 },
	{ 10, 0x0032, 100, 253, 0, 0 },
	{ 11, 0x0032, 100, 253, 0, 0 },
	{ 12, 0x0032, 100, 100, 0, 120 },
	{ 192, 0x0032, 200, 200, 0, 87 },
	{ 193, 0x0032, 200, 200, 0, 1533 },
	{ 194, 0x0022, 118, 95, 0, 0x000037140020ULL },
	{ 196, 0x0032, 200, 200, 0, 0 },
	{ 197, 0x0032, 200, 200, 0, 2 },
	{ 198, 0x0030, 100, 253, 0, 0 },
	{ 199, 0x0032, 200, 200, 0, 0 },
	{ 200, 0x0008, 100, 253, 0, 0 },
};

static void put_attr(uint8_t *e, const struct sample_attr *a)
{
	int i;

	e[0] = a->id;
	e[1] = (uint8_t)a->flags;
	e[2] = (uint8_t)(a->flags >> 8);
	e[3] = a->value;
	e[4] = a->worst;
	for (i = 0; i < 6; i++)
		e[5 + i] = (uint8_t)(a->raw >> (8 * i));
}

static void smart_sectors(uint8_t *data, uint8_t *thr, const struct sample_attr *attrs,
			  size_t n)
{
	size_t i;

	memset(data, 0, 512);
	memset(thr, 0, 512);
	data[0] = 0x10;
	thr[0] = 0x10;
	for (i = 0; i < n; i++) {
		put_attr(data + 2 + 12 * i, &attrs[i]);
		thr[2 + 12 * i] = attrs[i].id;
		thr[2 + 12 * i + 1] = attrs[i].threshold;
	}
	data[362] = 0x82;
	data[363] = 0x00;
	data[364] = 0x20;
	data[365] = 0xa4; /* 42016 s */
	data[367] = 0x7b;
	data[368] = 0x03;
	data[370] = 0x01;
	data[372] = 2;
	data[373] = 0xff;
	data[374] = 5;
	data[375] = 0xeb;
	data[376] = 0x01; /* 491 minutes */
	seal(data);
	seal(thr);
}

static const struct ostor_scsi_ata_smart_attr *attr_by_id(const struct ostor_scsi_ata_smart_data *d,
							  uint8_t id)
{
	size_t i;

	for (i = 0; i < d->count; i++)
		if (d->attrs[i].id == id)
			return &d->attrs[i];
	return NULL;
}

START_TEST(test_smart_data)
{
	struct ostor_scsi_ata_smart_data *d = malloc(sizeof(*d));
	const struct ostor_scsi_ata_smart_attr *a;
	uint8_t data[512], thr[512];
	char text[64];
	size_t i;

	ck_assert_ptr_nonnull(d);
	smart_sectors(data, thr, wd_red, OSTOR_ARRAY_SIZE(wd_red));
	*d = (struct ostor_scsi_ata_smart_data)OSTOR_SCSI_ATA_SMART_DATA_INIT;
	ck_assert_int_eq(ostor_scsi_parse_ata_smart_data(data, 512, thr, 512, d), 0);
	ck_assert_uint_eq(d->size, sizeof(*d));
	ck_assert_uint_eq(d->revision, 0x10);
	ck_assert_int_eq(d->checksum_ok, 1);
	ck_assert_int_eq(d->thresholds_present, 1);
	ck_assert_int_eq(d->thresholds_checksum_ok, 1);
	ck_assert_uint_eq(d->count, OSTOR_ARRAY_SIZE(wd_red));
	for (i = 0; i < d->count; i++) {
		a = &d->attrs[i];
		ck_assert_uint_eq(a->id, wd_red[i].id);
		ck_assert_uint_eq(a->flags, wd_red[i].flags);
		ck_assert_int_eq(a->prefail, wd_red[i].flags & 1);
		ck_assert_uint_eq(a->value, wd_red[i].value);
		ck_assert_uint_eq(a->worst, wd_red[i].worst);
		ck_assert_int_eq(a->threshold_valid, 1);
		ck_assert_uint_eq(a->threshold, wd_red[i].threshold);
		ck_assert_uint_eq(a->raw_value, wd_red[i].raw);
		ck_assert_int_eq(a->failing_now, 0);
		ck_assert_int_eq(a->below_threshold, 0);
		ck_assert_int_eq(a->failed_past, 0);
		ck_assert_str_eq(a->name, ostor_scsi_ata_attr_name(a->id));
	}
	ck_assert_int_eq(d->any_failing_now, 0);
	ck_assert_int_eq(d->any_failed_past, 0);
	a = attr_by_id(d, 5);
	ck_assert_str_eq(a->name, "Reallocated_Sector_Ct");
	ck_assert_int_eq(a->prefail, 1);
	a = attr_by_id(d, 9);
	ck_assert_str_eq(a->name, "Power_On_Hours");
	ck_assert_str_eq(ostor_scsi_ata_attr_raw_text(a, text, sizeof(text)), "35171");
	a = attr_by_id(d, 194);
	ck_assert_str_eq(a->name, "Temperature_Celsius");
	ck_assert_uint_eq(a->raw[0], 32);
	ck_assert_str_eq(ostor_scsi_ata_attr_raw_text(a, text, sizeof(text)), "32 (Min/Max 20/55)");
	ck_assert_int_eq(d->temperature, 32);
	ck_assert_uint_eq(d->temperature_id, 194);
	a = attr_by_id(d, 3);
	ck_assert_str_eq(ostor_scsi_ata_attr_raw_text(a, text, sizeof(text)), "7916");
	ck_assert_uint_eq(d->offline_status, 0x82);
	ck_assert_uint_eq(d->self_test_status, 0);
	ck_assert_uint_eq(d->self_test_remaining, 0);
	ck_assert_uint_eq(d->offline_seconds, 42016);
	ck_assert_uint_eq(d->offline_capability, 0x7b);
	ck_assert_int_eq(d->self_test_supported, 1);
	ck_assert_int_eq(d->conveyance_test_supported, 1);
	ck_assert_int_eq(d->selective_test_supported, 1);
	ck_assert_uint_eq(d->smart_capability, 3);
	ck_assert_int_eq(d->error_logging_supported, 1);
	ck_assert_uint_eq(d->short_test_minutes, 2);
	ck_assert_uint_eq(d->extended_test_minutes, 491);
	ck_assert_uint_eq(d->conveyance_test_minutes, 5);
	ck_assert_uint_eq(d->valid_len, 512);

	/* A self-test running, 70% left; extended time in its byte. */
	data[363] = 0xf7;
	data[373] = 0x6e;
	seal(data);
	ck_assert_int_eq(ostor_scsi_parse_ata_smart_data(data, 512, thr, 512, d), 0);
	ck_assert_uint_eq(d->self_test_status, 0xf);
	ck_assert_uint_eq(d->self_test_remaining, 70);
	ck_assert_uint_eq(d->extended_test_minutes, 110);
	free(d);
}
END_TEST

START_TEST(test_smart_failing)
{
	struct ostor_scsi_ata_smart_data *d = malloc(sizeof(*d));
	struct sample_attr attrs[OSTOR_ARRAY_SIZE(wd_red)];
	const struct ostor_scsi_ata_smart_attr *a;
	uint8_t data[512], thr[512], swapped[12];

	ck_assert_ptr_nonnull(d);
	memcpy(attrs, wd_red, sizeof(attrs));
	attrs[3].value = 130;   /* 5: prefail, 130 <= 140: failing now */
	attrs[3].worst = 130;
	attrs[3].raw = 1936;
	attrs[0].worst = 40;    /* 1: worst 40 <= 51 in the past, fine now */
	attrs[9].threshold = 150; /* 192: old age, 200 > 150 */
	attrs[9].value = 140;   /* ...now 140 <= 150: below, not failing */
	attrs[6].threshold = 0; /* 10: threshold 0 = always passing */
	attrs[6].value = 0;
	smart_sectors(data, thr, attrs, OSTOR_ARRAY_SIZE(attrs));
	/* Move the threshold of id 3 to another slot (found by id). */
	memcpy(swapped, thr + 2 + 12 * 1, 12);
	memcpy(thr + 2 + 12 * 1, thr + 2 + 12 * 20, 12);
	memcpy(thr + 2 + 12 * 20, swapped, 12);
	seal(thr);
	*d = (struct ostor_scsi_ata_smart_data)OSTOR_SCSI_ATA_SMART_DATA_INIT;
	ck_assert_int_eq(ostor_scsi_parse_ata_smart_data(data, 512, thr, 512, d), 0);
	a = attr_by_id(d, 5);
	ck_assert_int_eq(a->below_threshold, 1);
	ck_assert_int_eq(a->failing_now, 1);
	ck_assert_int_eq(a->failed_past, 1);
	ck_assert_str_eq(ostor_scsi_ata_attr_raw_text(a, (char[32]){ 0 }, 32), "1936");
	a = attr_by_id(d, 1);
	ck_assert_int_eq(a->below_threshold, 0);
	ck_assert_int_eq(a->failing_now, 0);
	ck_assert_int_eq(a->failed_past, 1);
	a = attr_by_id(d, 192);
	ck_assert_int_eq(a->below_threshold, 1);
	ck_assert_int_eq(a->failing_now, 0);
	a = attr_by_id(d, 10);
	ck_assert_int_eq(a->threshold_valid, 1);
	ck_assert_int_eq(a->below_threshold, 0);
	ck_assert_int_eq(a->failed_past, 0);
	a = attr_by_id(d, 3);
	ck_assert_int_eq(a->threshold_valid, 1);
	ck_assert_uint_eq(a->threshold, 21);
	ck_assert_int_eq(d->any_failing_now, 1);
	ck_assert_int_eq(d->any_below_threshold, 1);
	ck_assert_int_eq(d->any_failed_past, 1);

	/* A threshold sector without the id: no threshold, no verdict. */
	thr[2 + 12 * 3] = 0x55;
	seal(thr);
	ck_assert_int_eq(ostor_scsi_parse_ata_smart_data(data, 512, thr, 512, d), 0);
	a = attr_by_id(d, 5);
	ck_assert_int_eq(a->threshold_valid, 0);
	ck_assert_int_eq(a->failing_now, 0);
	ck_assert_int_eq(d->any_failing_now, 0);
	/* No thresholds at all. */
	ck_assert_int_eq(ostor_scsi_parse_ata_smart_data(data, 512, NULL, 0, d), 0);
	ck_assert_int_eq(d->thresholds_present, 0);
	ck_assert_int_eq(d->thresholds_checksum_ok, 0);
	ck_assert_uint_eq(d->count, OSTOR_ARRAY_SIZE(attrs));
	ck_assert_int_eq(attr_by_id(d, 1)->threshold_valid, 0);
	/* Bad checksums: reported, decoded anyway. */
	data[100] ^= 0x80;
	thr[100] ^= 0x80;
	ck_assert_int_eq(ostor_scsi_parse_ata_smart_data(data, 512, thr, 512, d), 0);
	ck_assert_int_eq(d->checksum_ok, 0);
	ck_assert_int_eq(d->thresholds_checksum_ok, 0);
	ck_assert_uint_eq(d->count, OSTOR_ARRAY_SIZE(attrs));
	free(d);
}
END_TEST

START_TEST(test_smart_temperature)
{
	struct ostor_scsi_ata_smart_data *d = malloc(sizeof(*d));
	struct sample_attr attrs[3] = {
		{ 190, 0x0022, 62, 45, 40, 0x2d1a0026ULL }, /* 38, min/max 26/45 */
		{ 194, 0x0022, 38, 55, 0, 0 },              /* raw 0: not a reading */
		{ 9, 0x0032, 99, 99, 0, 100 },
	};
	uint8_t data[512], thr[512];

	ck_assert_ptr_nonnull(d);
	*d = (struct ostor_scsi_ata_smart_data)OSTOR_SCSI_ATA_SMART_DATA_INIT;
	smart_sectors(data, thr, attrs, 3);
	ck_assert_int_eq(ostor_scsi_parse_ata_smart_data(data, 512, thr, 512, d), 0);
	ck_assert_int_eq(d->temperature, 38);
	ck_assert_uint_eq(d->temperature_id, 190);
	ck_assert_str_eq(attr_by_id(d, 190)->name, "Airflow_Temperature_Cel");
	attrs[1].raw = 0xc8; /* 200: out of 1..127 */
	smart_sectors(data, thr, attrs, 3);
	ck_assert_int_eq(ostor_scsi_parse_ata_smart_data(data, 512, thr, 512, d), 0);
	ck_assert_uint_eq(d->temperature_id, 190);
	attrs[1].raw = 41;
	smart_sectors(data, thr, attrs, 3);
	ck_assert_int_eq(ostor_scsi_parse_ata_smart_data(data, 512, thr, 512, d), 0);
	ck_assert_int_eq(d->temperature, 41);
	ck_assert_uint_eq(d->temperature_id, 194);
	/* Neither: none. */
	attrs[0].id = 191;
	attrs[1].id = 195;
	smart_sectors(data, thr, attrs, 3);
	ck_assert_int_eq(ostor_scsi_parse_ata_smart_data(data, 512, thr, 512, d), 0);
	ck_assert_int_eq(d->temperature, 0);
	ck_assert_uint_eq(d->temperature_id, 0);
	free(d);
}
END_TEST

START_TEST(test_smart_truncated)
{
	struct ostor_scsi_ata_smart_data *d = malloc(sizeof(*d));
	uint8_t data[512], thr[512];
	size_t n;

	ck_assert_ptr_nonnull(d);
	smart_sectors(data, thr, wd_red, OSTOR_ARRAY_SIZE(wd_red));
	for (n = 0; n <= 512; n++) {
		uint8_t *q = dup_n(data, n), *t = dup_n(thr, n);
		size_t whole = n >= 2 ? (n - 2) / 12 : 0;
		int r;

		*d = (struct ostor_scsi_ata_smart_data)OSTOR_SCSI_ATA_SMART_DATA_INIT;
		r = ostor_scsi_parse_ata_smart_data(q, n, t, n, d);
		if (n < 2) {
			ck_assert_int_eq(r, OSTOR_ERROR_PROTOCOL);
			ck_assert_uint_eq(d->count, 0);
		} else {
			ck_assert_int_eq(r, 0);
			ck_assert_uint_eq(d->count, OSTOR_MIN(whole, OSTOR_ARRAY_SIZE(wd_red)));
			ck_assert_uint_eq(d->valid_len, n);
			ck_assert_int_eq(d->checksum_ok, n == 512);
			ck_assert_uint_eq(d->offline_capability, n > 367 ? 0x7b : 0);
			ck_assert_uint_eq(d->extended_test_minutes, n >= 377 ? 491 : n > 373 ? 0xff : 0);
			if (d->count)
				ck_assert_int_eq(d->attrs[0].threshold_valid, n >= 4);
		}
		/* Data whole, thresholds cut: thresholds only where they came. */
		r = ostor_scsi_parse_ata_smart_data(data, 512, t, n, d);
		ck_assert_int_eq(r, 0);
		ck_assert_uint_eq(d->count, OSTOR_ARRAY_SIZE(wd_red));
		for (size_t i = 0; i < d->count; i++)
			ck_assert_int_eq(d->attrs[i].threshold_valid, n >= 2 + 12 * i + 2);
		free(q);
		free(t);
	}
	ck_assert_int_eq(ostor_scsi_parse_ata_smart_data(NULL, 512, NULL, 0, d), OSTOR_ERROR_INVALID_PARAM);
	ck_assert_int_eq(ostor_scsi_parse_ata_smart_data(data, 512, NULL, 512, d), OSTOR_ERROR_INVALID_PARAM);
	ck_assert_int_eq(ostor_scsi_parse_ata_smart_data(data, 512, thr, 512, NULL), OSTOR_ERROR_INVALID_PARAM);
	d->size = 4;
	ck_assert_int_eq(ostor_scsi_parse_ata_smart_data(data, 512, thr, 512, d), OSTOR_ERROR_INVALID_PARAM);
	free(d);
}
END_TEST

START_TEST(test_attr_names)
{
	static const struct {
		uint8_t id;
		const char *name;
	} common[] = {
		{ 1, "Raw_Read_Error_Rate" }, { 2, "Throughput_Performance" },
		{ 3, "Spin_Up_Time" }, { 4, "Start_Stop_Count" },
		{ 5, "Reallocated_Sector_Ct" }, { 7, "Seek_Error_Rate" },
		{ 8, "Seek_Time_Performance" }, { 9, "Power_On_Hours" },
		{ 10, "Spin_Retry_Count" }, { 11, "Calibration_Retry_Count" },
		{ 12, "Power_Cycle_Count" }, { 13, "Read_Soft_Error_Rate" },
		{ 177, "Wear_Leveling_Count" }, { 179, "Used_Rsvd_Blk_Cnt_Tot" },
		{ 181, "Program_Fail_Cnt_Total" }, { 182, "Erase_Fail_Count_Total" },
		{ 183, "Runtime_Bad_Block" }, { 184, "End-to-End_Error" },
		{ 187, "Reported_Uncorrect" }, { 188, "Command_Timeout" },
		{ 189, "High_Fly_Writes" }, { 190, "Airflow_Temperature_Cel" },
		{ 191, "G-Sense_Error_Rate" }, { 192, "Power-Off_Retract_Count" },
		{ 193, "Load_Cycle_Count" }, { 194, "Temperature_Celsius" },
		{ 195, "Hardware_ECC_Recovered" }, { 196, "Reallocated_Event_Count" },
		{ 197, "Current_Pending_Sector" }, { 198, "Offline_Uncorrectable" },
		{ 199, "UDMA_CRC_Error_Count" }, { 200, "Multi_Zone_Error_Rate" },
		{ 220, "Disk_Shift" }, { 222, "Loaded_Hours" },
		{ 233, "Media_Wearout_Indicator" }, { 240, "Head_Flying_Hours" },
		{ 241, "Total_LBAs_Written" }, { 242, "Total_LBAs_Read" },
		{ 254, "Free_Fall_Sensor" },
	};
	size_t i;
	int id, named = 0;

	for (i = 0; i < OSTOR_ARRAY_SIZE(common); i++)
		ck_assert_str_eq(ostor_scsi_ata_attr_name(common[i].id), common[i].name);
	ck_assert_str_eq(ostor_scsi_ata_attr_name(0), "Unknown_Attribute");
	ck_assert_str_eq(ostor_scsi_ata_attr_name(100), "Unknown_Attribute");
	ck_assert_str_eq(ostor_scsi_ata_attr_name(255), "Unknown_Attribute");
	for (id = 0; id < 256; id++) {
		const char *n = ostor_scsi_ata_attr_name((uint8_t)id);

		ck_assert_ptr_nonnull(n);
		named += strcmp(n, "Unknown_Attribute") != 0;
	}
	ck_assert_int_ge(named, 60);
}
END_TEST

static const char *raw_text(uint8_t id, uint64_t raw, char *buf, size_t len)
{
	struct ostor_scsi_ata_smart_attr a;
	int i;

	memset(&a, 0, sizeof(a));
	a.id = id;
	for (i = 0; i < 6; i++)
		a.raw[i] = (uint8_t)(raw >> (8 * i));
	a.raw_value = raw & 0xffffffffffffULL;
	return ostor_scsi_ata_attr_raw_text(&a, buf, len);
}

START_TEST(test_attr_raw_text)
{
	char b[64];

	/* raw48 */
	ck_assert_str_eq(raw_text(1, 0, b, sizeof(b)), "0");
	ck_assert_str_eq(raw_text(241, 0xffffffffffffULL, b, sizeof(b)), "281474976710655");
	ck_assert_str_eq(raw_text(100, 0x010203040506ULL, b, sizeof(b)), "1108152157446");
	/* raw16(raw16) */
	ck_assert_str_eq(raw_text(5, 8, b, sizeof(b)), "8");
	ck_assert_str_eq(raw_text(5, 0x000200010008ULL, b, sizeof(b)), "8 (2 1)");
	/* raw16(avg16) */
	ck_assert_str_eq(raw_text(3, 0x00000fa00bb8ULL, b, sizeof(b)), "3000 (Average 4000)");
	/* raw24(raw8) */
	ck_assert_str_eq(raw_text(9, 0x0000000101d0ULL, b, sizeof(b)), "66000");
	ck_assert_str_eq(raw_text(9, 0x0a0b0c0101d0ULL, b, sizeof(b)), "66000 (10 11 12)");
	/* tempminmax, the layouts drives use */
	ck_assert_str_eq(raw_text(194, 36, b, sizeof(b)), "36");
	ck_assert_str_eq(raw_text(194, 0x000037140024ULL, b, sizeof(b)), "36 (Min/Max 20/55)");
	ck_assert_str_eq(raw_text(194, 0x000000371424ULL, b, sizeof(b)), "36 (Min/Max 20/55)");
	ck_assert_str_eq(raw_text(194, 0x003700140024ULL, b, sizeof(b)), "36 (Min/Max 20/55)");
	ck_assert_str_eq(raw_text(194, 0x000537140024ULL, b, sizeof(b)), "36 (Min/Max 20/55 #5)");
	ck_assert_str_eq(raw_text(190, 0x000000008000ULL, b, sizeof(b)), "0 (0 0 0 0 128)");
	ck_assert_str_eq(raw_text(190, 0x00000000ffffULL, b, sizeof(b)), "-1");
	ck_assert_str_eq(raw_text(194, 0x0000000000f6ULL, b, sizeof(b)), "-10");
	/* Small buffers: cut, terminated. */
	ck_assert_str_eq(raw_text(5, 0x000200010008ULL, b, 4), "8 (");
	ck_assert_str_eq(raw_text(5, 0x000200010008ULL, b, 1), "");
	ck_assert_str_eq(raw_text(194, 0x000037140024ULL, b, 3), "36");
	ck_assert_str_eq(ostor_scsi_ata_attr_raw_text(NULL, b, sizeof(b)), "");
	ck_assert_str_eq(ostor_scsi_ata_attr_raw_text(NULL, NULL, 0), "");
}
END_TEST

/* ---- self-test log ---------------------------------------------------------- */

static void put_desc(uint8_t *log, unsigned number, uint8_t test, uint8_t status_byte,
		     uint16_t hours, uint32_t lba)
{
	uint8_t *d = log + 2 + 24 * (number - 1);

	d[0] = test;
	d[1] = status_byte;
	d[2] = (uint8_t)hours;
	d[3] = (uint8_t)(hours >> 8);
	d[5] = (uint8_t)lba;
	d[6] = (uint8_t)(lba >> 8);
	d[7] = (uint8_t)(lba >> 16);
	d[8] = (uint8_t)(lba >> 24);
}

START_TEST(test_self_test_log)
{
	struct ostor_scsi_ata_self_test_log *l = malloc(sizeof(*l));
	uint8_t s[512];
	size_t n;

	ck_assert_ptr_nonnull(l);
	memset(s, 0, sizeof(s));
	s[0] = 1;
	put_desc(s, 1, OSTOR_ATA_TEST_EXTENDED, 0x00, 30000, 0);
	put_desc(s, 2, OSTOR_ATA_TEST_SHORT, 0x79, 30010, 123456);
	put_desc(s, 3, OSTOR_ATA_TEST_SHORT, 0x00, 30020, 0);
	s[508] = 3;
	seal(s);
	*l = (struct ostor_scsi_ata_self_test_log)OSTOR_SCSI_ATA_SELF_TEST_LOG_INIT;
	ck_assert_int_eq(ostor_scsi_parse_ata_self_test_log(s, sizeof(s), l), 0);
	ck_assert_uint_eq(l->size, sizeof(*l));
	ck_assert_uint_eq(l->revision, 1);
	ck_assert_int_eq(l->checksum_ok, 1);
	ck_assert_uint_eq(l->index, 3);
	ck_assert_uint_eq(l->count, 3);
	ck_assert_uint_eq(l->failed_count, 1);
	ck_assert_uint_eq(l->entries[0].number, 3);
	ck_assert_uint_eq(l->entries[0].test, OSTOR_ATA_TEST_SHORT);
	ck_assert_uint_eq(l->entries[0].lifetime_hours, 30020);
	ck_assert_int_eq(l->entries[0].failed, 0);
	ck_assert_uint_eq(l->entries[1].number, 2);
	ck_assert_uint_eq(l->entries[1].status, 7);
	ck_assert_uint_eq(l->entries[1].remaining, 90);
	ck_assert_int_eq(l->entries[1].failed, 1);
	ck_assert_int_eq(l->entries[1].failing_lba_valid, 1);
	ck_assert_uint_eq(l->entries[1].failing_lba, 123456);
	ck_assert_str_eq(ostor_scsi_ata_self_test_status_name(l->entries[1].status),
			 "Completed: read failure");
	ck_assert_uint_eq(l->entries[2].number, 1);
	ck_assert_str_eq(ostor_scsi_ata_self_test_type_name(l->entries[2].test), "Extended offline");
	ck_assert_uint_eq(l->entries[2].lifetime_hours, 30000);

	/* Wrapped around: newest at 2, then 1, then 21, 20; 3-19 unused. */
	memset(s, 0, sizeof(s));
	s[0] = 1;
	put_desc(s, 20, OSTOR_ATA_TEST_SHORT, 0x00, 100, 0);
	put_desc(s, 21, OSTOR_ATA_TEST_EXTENDED, 0x70, 110, 0xffffffff);
	put_desc(s, 1, OSTOR_ATA_TEST_ABORT, 0x10, 120, 0);
	put_desc(s, 2, OSTOR_ATA_TEST_SHORT, 0xf9, 130, 0);
	s[508] = 2;
	seal(s);
	ck_assert_int_eq(ostor_scsi_parse_ata_self_test_log(s, sizeof(s), l), 0);
	ck_assert_uint_eq(l->count, 4);
	ck_assert_uint_eq(l->entries[0].number, 2);
	ck_assert_uint_eq(l->entries[0].status, 0xf);
	ck_assert_uint_eq(l->entries[0].remaining, 90);
	ck_assert_uint_eq(l->entries[1].number, 1);
	ck_assert_uint_eq(l->entries[2].number, 21);
	ck_assert_int_eq(l->entries[2].failed, 1);
	ck_assert_int_eq(l->entries[2].failing_lba_valid, 0); /* FFFFFFFFh: none */
	ck_assert_uint_eq(l->entries[3].number, 20);
	ck_assert_uint_eq(l->failed_count, 1);
	/* An index past 21 still names a descriptor (mod 21). */
	s[508] = 23;
	seal(s);
	ck_assert_int_eq(ostor_scsi_parse_ata_self_test_log(s, sizeof(s), l), 0);
	ck_assert_uint_eq(l->count, 4);
	ck_assert_uint_eq(l->entries[0].number, 2);
	/* Index 0: an empty log whatever the descriptors hold. */
	s[508] = 0;
	seal(s);
	ck_assert_int_eq(ostor_scsi_parse_ata_self_test_log(s, sizeof(s), l), 0);
	ck_assert_uint_eq(l->count, 0);
	/* Every descriptor used. */
	for (n = 1; n <= 21; n++)
		put_desc(s, (unsigned)n, 1, 0, (uint16_t)n, 0);
	s[508] = 21;
	seal(s);
	ck_assert_int_eq(ostor_scsi_parse_ata_self_test_log(s, sizeof(s), l), 0);
	ck_assert_uint_eq(l->count, 21);
	for (n = 0; n < 21; n++)
		ck_assert_uint_eq(l->entries[n].lifetime_hours, 21 - n);
	/* A bad checksum is reported. */
	s[200] ^= 1;
	ck_assert_int_eq(ostor_scsi_parse_ata_self_test_log(s, sizeof(s), l), 0);
	ck_assert_int_eq(l->checksum_ok, 0);
	ck_assert_uint_eq(l->count, 21);
	/* Short: refused, whatever arrived. */
	for (n = 0; n < 512; n++) {
		uint8_t *q = dup_n(s, n);

		ck_assert_int_eq(ostor_scsi_parse_ata_self_test_log(q, n, l), OSTOR_ERROR_PROTOCOL);
		ck_assert_uint_eq(l->count, 0);
		free(q);
	}
	ck_assert_ptr_nonnull(strstr(ostor_last_error(), "byte 508"));
	ck_assert_int_eq(ostor_scsi_parse_ata_self_test_log(NULL, 512, l), OSTOR_ERROR_INVALID_PARAM);
	ck_assert_int_eq(ostor_scsi_parse_ata_self_test_log(s, 512, NULL), OSTOR_ERROR_INVALID_PARAM);
	free(l);
}
END_TEST

START_TEST(test_self_test_names)
{
	ck_assert_str_eq(ostor_scsi_ata_self_test_status_name(0), "Completed without error");
	ck_assert_str_eq(ostor_scsi_ata_self_test_status_name(1), "Aborted by host");
	ck_assert_str_eq(ostor_scsi_ata_self_test_status_name(8), "Completed: handling damage??");
	ck_assert_str_eq(ostor_scsi_ata_self_test_status_name(0xf), "Self-test routine in progress");
	ck_assert_str_eq(ostor_scsi_ata_self_test_status_name(0xa), "Unknown status");
	ck_assert_str_eq(ostor_scsi_ata_self_test_type_name(0x01), "Short offline");
	ck_assert_str_eq(ostor_scsi_ata_self_test_type_name(0x7f), "Abort offline test");
	ck_assert_str_eq(ostor_scsi_ata_self_test_type_name(0x82), "Extended captive");
	ck_assert_str_eq(ostor_scsi_ata_self_test_type_name(0x40), "Vendor specific");
	ck_assert_str_eq(ostor_scsi_ata_self_test_type_name(0xfe), "Vendor specific");
	ck_assert_str_eq(ostor_scsi_ata_self_test_type_name(0x05), "Reserved");
	ck_assert_str_eq(ostor_scsi_ata_self_test_type_name(0x85), "Reserved");
}
END_TEST

/* ---- checksum, SAT detection ------------------------------------------------ */

START_TEST(test_checksum)
{
	uint8_t s[513];

	memset(s, 0, sizeof(s));
	ck_assert_int_eq(ostor_scsi_ata_checksum_ok(s, 512), 1);
	s[0] = 1;
	ck_assert_int_eq(ostor_scsi_ata_checksum_ok(s, 512), 0);
	s[511] = 0xff;
	ck_assert_int_eq(ostor_scsi_ata_checksum_ok(s, 512), 1);
	s[512] = 7; /* only the first 512 bytes count */
	ck_assert_int_eq(ostor_scsi_ata_checksum_ok(s, 513), 1);
	ck_assert_int_eq(ostor_scsi_ata_checksum_ok(s, 511), 0);
	ck_assert_int_eq(ostor_scsi_ata_checksum_ok(s, 0), 0);
	ck_assert_int_eq(ostor_scsi_ata_checksum_ok(NULL, 512), 0);
}
END_TEST

START_TEST(test_sat_detection)
{
	static const uint8_t inq_ata[36] = {
		0x00, 0x00, 0x05, 0x02, 0x1f, 0x00, 0x00, 0x02,
		'A', 'T', 'A', ' ', ' ', ' ', ' ', ' ',
		'S', 'a', 'm', 's', 'u', 'n', 'g', ' ', 'S', 'S', 'D', ' ', '8', '6', '0', ' ',
		'2', 'B', '6', 'Q',
	};
	static const uint8_t vpd00[] = { 0x00, 0x00, 0x00, 0x05, 0x00, 0x80, 0x83, 0x89, 0xb0 };
	static const uint8_t vpd00_no89[] = { 0x00, 0x00, 0x00, 0x03, 0x00, 0x80, 0x83 };
	struct ostor_scsi_inquiry inq = OSTOR_SCSI_INQUIRY_INIT;
	struct ostor_scsi_vpd_ata_info *info = calloc(1, sizeof(*info));
	uint8_t page[572];

	ck_assert_ptr_nonnull(info);
	ck_assert_int_eq(ostor_scsi_parse_inquiry(inq_ata, sizeof(inq_ata), &inq), 0);
	ck_assert_int_eq(ostor_scsi_sat_evidence(&inq, vpd00, sizeof(vpd00)),
			 OSTOR_SCSI_SAT_VENDOR_ATA | OSTOR_SCSI_SAT_VPD_89);
	ck_assert_int_eq(ostor_scsi_sat_evidence(&inq, NULL, 0), OSTOR_SCSI_SAT_VENDOR_ATA);
	ck_assert_int_eq(ostor_scsi_sat_evidence(NULL, vpd00, sizeof(vpd00)), OSTOR_SCSI_SAT_VPD_89);
	ck_assert_int_eq(ostor_scsi_sat_evidence(NULL, vpd00_no89, sizeof(vpd00_no89)), 0);
	/* VPD 00h cut before 89h. */
	ck_assert_int_eq(ostor_scsi_sat_evidence(NULL, vpd00, 7), 0);
	/* A USB bridge that names the drive maker. */
	memcpy(inq.vendor, "Samsung", 8);
	ck_assert_int_eq(ostor_scsi_sat_evidence(&inq, NULL, 0), 0);
	/* "ATAPI" is not "ATA". */
	memcpy(inq.vendor, "ATAPI", 6);
	ck_assert_int_eq(ostor_scsi_sat_evidence(&inq, NULL, 0), 0);

	/* VPD 89h of libata: SATA signature of a disk, IDENTIFY embedded. */
	memset(page, 0, sizeof(page));
	page[1] = 0x89;
	page[2] = 0x02;
	page[3] = 0x38;
	memcpy(page + 8, "linux   ", 8);
	memcpy(page + 16, "libata          ", 16);
	memcpy(page + 32, "3.00", 4);
	page[36] = 0x34;
	page[38] = 0x50;
	page[39] = 0x01;
	page[40] = 0x01;
	page[48] = 0x01;
	page[56] = 0xec;
	identify_ssd(page + 60);
	ck_assert_int_eq(ostor_scsi_parse_vpd_ata_info(page, sizeof(page), info), 0);
	ck_assert_int_eq(ostor_scsi_ata_signature_type(info), OSTOR_ATA_SIG_ATA);
	ck_assert_int_eq(info->identify_valid, 1);
	{
		struct ostor_scsi_ata_identify id = OSTOR_SCSI_ATA_IDENTIFY_INIT;

		ck_assert_int_eq(ostor_scsi_parse_ata_identify(info->identify, sizeof(info->identify), &id), 0);
		ck_assert_str_eq(id.model, "Samsung SSD 860 EVO 500GB");
		ck_assert_int_eq(id.checksum_ok, 1);
	}
	page[41] = 0x14;
	page[42] = 0xeb;
	ck_assert_int_eq(ostor_scsi_parse_vpd_ata_info(page, sizeof(page), info), 0);
	ck_assert_int_eq(ostor_scsi_ata_signature_type(info), OSTOR_ATA_SIG_ATAPI);
	page[41] = 0xcd;
	page[42] = 0xab;
	ck_assert_int_eq(ostor_scsi_parse_vpd_ata_info(page, sizeof(page), info), 0);
	ck_assert_int_eq(ostor_scsi_ata_signature_type(info), OSTOR_ATA_SIG_ZAC);
	page[41] = 0x3c;
	page[42] = 0xc3;
	ck_assert_int_eq(ostor_scsi_parse_vpd_ata_info(page, sizeof(page), info), 0);
	ck_assert_int_eq(ostor_scsi_ata_signature_type(info), OSTOR_ATA_SIG_SEMB);
	page[41] = 0x69;
	page[42] = 0x96;
	ck_assert_int_eq(ostor_scsi_parse_vpd_ata_info(page, sizeof(page), info), 0);
	ck_assert_int_eq(ostor_scsi_ata_signature_type(info), OSTOR_ATA_SIG_PORT_MULTIPLIER);
	page[41] = 0x12;
	ck_assert_int_eq(ostor_scsi_parse_vpd_ata_info(page, sizeof(page), info), 0);
	ck_assert_int_eq(ostor_scsi_ata_signature_type(info), OSTOR_ATA_SIG_UNKNOWN);
	/* Signature not transferred. */
	ck_assert_int_eq(ostor_scsi_parse_vpd_ata_info(page, 50, info), 0);
	ck_assert_int_eq(ostor_scsi_ata_signature_type(info), OSTOR_ATA_SIG_UNKNOWN);
	ck_assert_int_eq(ostor_scsi_ata_signature_type(NULL), OSTOR_ATA_SIG_UNKNOWN);
	free(info);
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("scsi_ata");
	TCase *tc = tcase_create("sat");

	tcase_add_test(tc, test_builders16);
	tcase_add_test(tc, test_builders12);
	tcase_add_test(tc, test_builders_refuse);
	tcase_add_test(tc, test_identify_ssd);
	tcase_add_test(tc, test_identify_hdd);
	tcase_add_test(tc, test_identify_capacity_rules);
	tcase_add_test(tc, test_identify_checksum_and_strings);
	tcase_add_test(tc, test_identify_truncated);
	tcase_add_test(tc, test_version_names);
	tcase_add_test(tc, test_smart_status);
	tcase_add_test(tc, test_power_mode);
	tcase_add_test(tc, test_smart_data);
	tcase_add_test(tc, test_smart_failing);
	tcase_add_test(tc, test_smart_temperature);
	tcase_add_test(tc, test_smart_truncated);
	tcase_add_test(tc, test_attr_names);
	tcase_add_test(tc, test_attr_raw_text);
	tcase_add_test(tc, test_self_test_log);
	tcase_add_test(tc, test_self_test_names);
	tcase_add_test(tc, test_checksum);
	tcase_add_test(tc, test_sat_detection);
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
