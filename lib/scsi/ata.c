/*
 * lib/scsi/ata.c - ATA commands through SCSI/ATA Translation (SAT-3) for
 * health checks: ATA PASS-THROUGH builders for IDENTIFY DEVICE, SMART and
 * CHECK POWER MODE, and decoders of IDENTIFY data, SMART data and
 * thresholds, the SMART self-test log and the returned registers.
 *
 * ATA data is little-endian and comes in 16-bit words; ATA strings hold
 * two characters per word, the first in the high byte.  As everywhere in
 * lib/scsi, a field is decoded only when all its bytes arrived ("limit").
 */

#include <stdio.h>
#include <string.h>

#include "scsi/scsi_priv.h"

#define HAVE(limit, off, n) ((size_t)(off) + (size_t)(n) <= (limit))

/* struct ostor_scsi_ata_* that grow (lib/util/sized.h). */
static const struct ostori_sized identify_sized =
	OSTORI_SIZED(struct ostor_scsi_ata_identify, OSTOR_SCSI_ATA_IDENTIFY_INIT,
		     OSTORI_FIELD_END(struct ostor_scsi_ata_identify, valid_len));
OSTORI_SIZED_CHECK(struct ostor_scsi_ata_identify, valid_len);
static const struct ostori_sized smart_data_sized =
	OSTORI_SIZED(struct ostor_scsi_ata_smart_data, OSTOR_SCSI_ATA_SMART_DATA_INIT,
		     OSTORI_FIELD_END(struct ostor_scsi_ata_smart_data, valid_len));
OSTORI_SIZED_CHECK(struct ostor_scsi_ata_smart_data, valid_len);
static const struct ostori_sized self_test_log_sized =
	OSTORI_SIZED(struct ostor_scsi_ata_self_test_log, OSTOR_SCSI_ATA_SELF_TEST_LOG_INIT,
		     OSTORI_FIELD_END(struct ostor_scsi_ata_self_test_log, failed_count));
OSTORI_SIZED_CHECK(struct ostor_scsi_ata_self_test_log, failed_count);

/* SMART commands carry this signature in LBA mid/high (4Fh/C2h); SMART
 * RETURN STATUS hands it back unchanged when healthy and F4h/2Ch when a
 * threshold was exceeded. */
#define SMART_LBA_SIGNATURE 0xc24f00u
#define SMART_MID_OK 0x4f
#define SMART_HIGH_OK 0xc2
#define SMART_MID_FAIL 0xf4
#define SMART_HIGH_FAIL 0x2c

/* ---- builders ---------------------------------------------------------- */

static int sat_build(struct ostor_cdb *cdb, const char *cmd, uint8_t cdb_len,
		     const struct ostor_scsi_ata_pt *pt)
{
	int r;

	if (!cdb)
		return ostori_error(OSTOR_ERROR_INVALID_PARAM,
				    "%s: cdb is NULL; pass a struct ostor_cdb to fill", cmd);
	if (cdb_len == 16)
		r = ostor_scsi_cdb_ata_pass_through16(cdb, pt);
	else if (cdb_len == 12)
		r = ostor_scsi_cdb_ata_pass_through12(cdb, pt);
	else {
		memset(cdb, 0, sizeof(*cdb));
		return ostori_error(OSTOR_ERROR_INVALID_PARAM,
				    "%s: cdb_len %u is neither 16 (ATA PASS-THROUGH(16)) nor 12 (ATA PASS-THROUGH(12))",
				    cmd, cdb_len);
	}
	if (r)
		return ostori_error_wrap(r, "%s", cmd);
	return 0;
}

/* PIO data-in of count sectors of 512 bytes: length in the count
 * register, in blocks (T_TYPE 0: 512 bytes). */
static void pio_in(struct ostor_scsi_ata_pt *pt, uint8_t count)
{
	pt->protocol = OSTOR_ATA_PROTO_PIO_IN;
	pt->t_dir = 1;
	pt->byt_blok = 1;
	pt->t_length = OSTOR_ATA_TLEN_COUNT;
	pt->count = count;
}

/* Non-data; ck_cond asks for the registers back.  T_DIR and BYT_BLOK are
 * ignored without a transfer; they are set as smartctl sets them, the form
 * bridges have seen most. */
static void non_data(struct ostor_scsi_ata_pt *pt, int ck_cond)
{
	pt->protocol = OSTOR_ATA_PROTO_NON_DATA;
	pt->ck_cond = ck_cond;
	pt->t_dir = 1;
	pt->byt_blok = 1;
	pt->t_length = OSTOR_ATA_TLEN_NONE;
}

int ostor_scsi_cdb_ata_identify(struct ostor_cdb *cdb, uint8_t cdb_len)
{
	struct ostor_scsi_ata_pt pt = { 0 };

	pio_in(&pt, 1);
	pt.command = OSTOR_ATA_CMD_IDENTIFY_DEVICE;
	return sat_build(cdb, "IDENTIFY DEVICE", cdb_len, &pt);
}

static int smart_cmd(struct ostor_cdb *cdb, const char *cmd, uint8_t cdb_len,
		     struct ostor_scsi_ata_pt *pt, uint8_t feature, uint8_t lba_low)
{
	pt->command = OSTOR_ATA_CMD_SMART;
	pt->features = feature;
	pt->lba = SMART_LBA_SIGNATURE | lba_low;
	return sat_build(cdb, cmd, cdb_len, pt);
}

int ostor_scsi_cdb_ata_smart_return_status(struct ostor_cdb *cdb, uint8_t cdb_len)
{
	struct ostor_scsi_ata_pt pt = { 0 };

	non_data(&pt, 1);
	return smart_cmd(cdb, "SMART RETURN STATUS", cdb_len, &pt,
			 OSTOR_ATA_SMART_RETURN_STATUS, 0);
}

int ostor_scsi_cdb_ata_smart_read_data(struct ostor_cdb *cdb, uint8_t cdb_len)
{
	struct ostor_scsi_ata_pt pt = { 0 };

	pio_in(&pt, 1);
	return smart_cmd(cdb, "SMART READ DATA", cdb_len, &pt,
			 OSTOR_ATA_SMART_READ_DATA, 0);
}

int ostor_scsi_cdb_ata_smart_read_thresholds(struct ostor_cdb *cdb, uint8_t cdb_len)
{
	struct ostor_scsi_ata_pt pt = { 0 };

	pio_in(&pt, 1);
	return smart_cmd(cdb, "SMART READ THRESHOLDS", cdb_len, &pt,
			 OSTOR_ATA_SMART_READ_THRESHOLDS, 1);
}

int ostor_scsi_cdb_ata_smart_read_log(struct ostor_cdb *cdb, uint8_t cdb_len,
				      uint8_t log_address, uint8_t sectors)
{
	struct ostor_scsi_ata_pt pt = { 0 };

	if (cdb && sectors == 0)
		memset(cdb, 0, sizeof(*cdb));
	if (sectors == 0)
		return ostori_error(OSTOR_ERROR_INVALID_PARAM,
				    "SMART READ LOG: 0 sectors of log %02Xh; read at least 1 (512 bytes)",
				    log_address);
	pio_in(&pt, sectors);
	return smart_cmd(cdb, "SMART READ LOG", cdb_len, &pt,
			 OSTOR_ATA_SMART_READ_LOG, log_address);
}

int ostor_scsi_cdb_ata_smart_offline_immediate(struct ostor_cdb *cdb, uint8_t cdb_len,
					       uint8_t test)
{
	struct ostor_scsi_ata_pt pt = { 0 };

	non_data(&pt, 0);
	return smart_cmd(cdb, "SMART EXECUTE OFFLINE IMMEDIATE", cdb_len, &pt,
			 OSTOR_ATA_SMART_EXECUTE_OFFLINE_IMMEDIATE, test);
}

int ostor_scsi_cdb_ata_check_power_mode(struct ostor_cdb *cdb, uint8_t cdb_len)
{
	struct ostor_scsi_ata_pt pt = { 0 };

	non_data(&pt, 1);
	pt.command = OSTOR_ATA_CMD_CHECK_POWER_MODE;
	return sat_build(cdb, "CHECK POWER MODE", cdb_len, &pt);
}

/* ---- SAT detection ----------------------------------------------------- */

int ostor_scsi_sat_evidence(const struct ostor_scsi_inquiry *inquiry,
			    const uint8_t *vpd00, size_t vpd00_len)
{
	int found = 0;

	/* The vendor field is only trusted when it was decoded (a caller's
	 * older struct ends before it). */
	if (inquiry && OSTOR_HAS_FIELD(inquiry, vendor) &&
	    strcmp(inquiry->vendor, "ATA") == 0)
		found |= OSTOR_SCSI_SAT_VENDOR_ATA;
	if (vpd00 && vpd00_len && ostor_scsi_vpd_supports(vpd00, vpd00_len, 0x89) == 1)
		found |= OSTOR_SCSI_SAT_VPD_89;
	return found;
}

int ostor_scsi_ata_signature_type(const struct ostor_scsi_vpd_ata_info *info)
{
	uint8_t mid, high;

	if (!info || !info->signature_valid)
		return OSTOR_ATA_SIG_UNKNOWN;
	/* Register FIS layout (SATA) and the PATA layout agree here: LBA
	 * mid at byte 41, LBA high at byte 42 of the page. */
	mid = info->signature[5];
	high = info->signature[6];
	if (mid == 0x00 && high == 0x00)
		return OSTOR_ATA_SIG_ATA;
	if (mid == 0x14 && high == 0xeb)
		return OSTOR_ATA_SIG_ATAPI;
	if (mid == 0xcd && high == 0xab)
		return OSTOR_ATA_SIG_ZAC;
	if (mid == 0x3c && high == 0xc3)
		return OSTOR_ATA_SIG_SEMB;
	if (mid == 0x69 && high == 0x96)
		return OSTOR_ATA_SIG_PORT_MULTIPLIER;
	return OSTOR_ATA_SIG_UNKNOWN;
}

/* ---- checksum ---------------------------------------------------------- */

int ostor_scsi_ata_checksum_ok(const uint8_t *sector, size_t len)
{
	uint8_t sum = 0;
	size_t i;

	if (!sector || len < 512)
		return 0;
	for (i = 0; i < 512; i++)
		sum = (uint8_t)(sum + sector[i]);
	return sum == 0;
}

/* ---- IDENTIFY DEVICE --------------------------------------------------- */

/* Word w of IDENTIFY data, 0 when it was not transferred. */
static uint16_t id_word(const uint8_t *buf, size_t limit, unsigned w)
{
	if (!HAVE(limit, 2 * (size_t)w, 2))
		return 0;
	return ostori_get_le16(buf + 2 * (size_t)w);
}

/* Words 82-84 / 85-87 carry "valid" in bits 15:14 = 01b. */
static int word_valid(uint16_t w)
{
	return (w & 0xc000) == 0x4000;
}

static int tri(int valid, uint16_t w, unsigned bit)
{
	if (!valid)
		return -1;
	return (w >> bit) & 1;
}

/* An ATA string of nwords words from word first: bytes swapped in each
 * word, trimmed.  Only whole words that arrived. */
static void id_string(char *out, size_t outlen, const uint8_t *buf, size_t limit,
		      unsigned first, unsigned nwords)
{
	uint8_t tmp[40];
	unsigned i, n = 0;

	for (i = 0; i < nwords && i < sizeof(tmp) / 2; i++) {
		size_t off = 2 * ((size_t)first + i);

		if (!HAVE(limit, off, 2))
			break;
		tmp[2 * i] = buf[off + 1];
		tmp[2 * i + 1] = buf[off];
		n += 2;
	}
	ostori_scsi_copy_ascii(out, outlen, tmp, n);
}

/* A number over nwords words, least significant first; 0 unless every
 * one of its words arrived. */
static uint64_t id_words_le(const uint8_t *buf, size_t limit, unsigned first,
			    unsigned nwords)
{
	uint64_t v = 0;
	unsigned i;

	if (!HAVE(limit, 2 * (size_t)first, 2 * (size_t)nwords))
		return 0;
	for (i = nwords; i-- > 0;)
		v = (v << 16) | id_word(buf, limit, first + i);
	return v;
}

static void identify_sizes(const uint8_t *buf, size_t limit,
			   struct ostor_scsi_ata_identify *o)
{
	uint16_t w83 = id_word(buf, limit, 83);
	uint16_t w69 = id_word(buf, limit, 69), w106 = id_word(buf, limit, 106);
	uint16_t w209 = id_word(buf, limit, 209);
	uint64_t lba28, lba48 = 0, ext;
	uint32_t lss = 512, pss = 512;

	o->sectors_28 = lba28 = id_words_le(buf, limit, 60, 2);
	/* 48-bit feature set supported (word 83 valid and bit 10). */
	if ((w83 & 0xc400) == 0x4400)
		lba48 = id_words_le(buf, limit, 100, 4);
	/* Word 69 bit 3: words 230-233 hold the count when 100-103 is
	 * limited (ACS-3). */
	if (w69 & 0x0008) {
		ext = id_words_le(buf, limit, 230, 4);
		if (ext > lba48)
			lba48 = ext;
	}
	o->sectors_48 = lba48;
	if (!o->lba_supported || !(lba28 || lba48))
		return;
	if (word_valid(w106)) {
		if (w106 & 0x1000) /* long logical sectors: size in words */
			lss = pss = (uint32_t)id_words_le(buf, limit, 117, 2) << 1;
		if (w106 & 0x2000) { /* 2^N logical sectors per physical */
			unsigned exp = w106 & 0x0f;

			pss = exp < 16 && pss <= (UINT32_MAX >> exp) ? pss << exp : 0;
		}
		if (word_valid(w209))
			o->logical_sector_offset = w209 & 0x3fff;
	}
	if (lss < 512) /* not a size a disk has: a bogus word 117-118 */
		lss = pss = 512;
	o->logical_sector_size = lss;
	o->physical_sector_size = pss;
	/* Some early 4 KiB-sector disks report a bogus 28-bit count. */
	if (lba48 >= lba28 || (lba48 && lss > 512))
		o->sectors = lba48;
	else
		o->sectors = lba28;
	if (o->sectors <= UINT64_MAX / lss)
		o->capacity_bytes = o->sectors * lss;
}

static int parse_identify(const uint8_t *buf, size_t len,
			  struct ostor_scsi_ata_identify *o)
{
	size_t limit;
	uint16_t w0, w49, w69, w75, w76, w77, w80, w82, w83, w84, w85, w86, w87;
	uint16_t w128, w206;
	int v8283, v84, v8587;

	memset(o, 0, sizeof(*o));
	o->lba48_supported = o->smart_supported = o->smart_enabled = -1;
	o->self_test_supported = o->error_log_supported = o->gp_logging_supported = -1;
	o->write_cache_supported = o->write_cache_enabled = -1;
	o->read_look_ahead_supported = o->read_look_ahead_enabled = -1;
	o->apm_supported = o->apm_enabled = o->puis_supported = o->puis_enabled = -1;
	if (len < 2)
		return ostori_error(OSTOR_ERROR_PROTOCOL,
				    "IDENTIFY DEVICE: %zu bytes arrived, not even word 0; the device sent no identify data",
				    len);
	limit = OSTOR_MIN(len, (size_t)512) & ~(size_t)1;
	o->valid_len = limit;

	w0 = id_word(buf, limit, 0);
	o->packet_device = !!(w0 & 0x8000);
	id_string(o->serial, sizeof(o->serial), buf, limit, 10, 10);
	id_string(o->firmware, sizeof(o->firmware), buf, limit, 23, 4);
	id_string(o->model, sizeof(o->model), buf, limit, 27, 20);

	w49 = id_word(buf, limit, 49);
	o->dma_supported = !!(w49 & 0x0100);
	o->lba_supported = !!(w49 & 0x0200);

	w80 = id_word(buf, limit, 80);
	o->major_version = (w80 == 0xffff) ? 0 : w80;
	w82 = id_word(buf, limit, 82);
	w83 = id_word(buf, limit, 83);
	w84 = id_word(buf, limit, 84);
	w85 = id_word(buf, limit, 85);
	w86 = id_word(buf, limit, 86);
	w87 = id_word(buf, limit, 87);
	o->minor_version = id_word(buf, limit, 81);
	if (o->minor_version == 0xffff)
		o->minor_version = 0;
	v8283 = word_valid(w83);
	v84 = word_valid(w84);
	v8587 = word_valid(w87);

	o->smart_supported = tri(v8283, w82, 0);
	o->write_cache_supported = tri(v8283, w82, 5);
	o->read_look_ahead_supported = tri(v8283, w82, 6);
	o->apm_supported = tri(v8283, w83, 3);
	o->puis_supported = tri(v8283, w83, 5);
	o->lba48_supported = tri(v8283, w83, 10);
	o->smart_enabled = tri(v8587, w85, 0);
	o->write_cache_enabled = tri(v8587, w85, 5);
	o->read_look_ahead_enabled = tri(v8587, w85, 6);
	o->apm_enabled = tri(v8587, w86, 3);
	o->puis_enabled = tri(v8587, w86, 5);
	/* Word 84 says what is supported; word 87 (its copy among the
	 * "enabled" words) when 84 is not valid. */
	if (v84) {
		o->error_log_supported = w84 & 1;
		o->self_test_supported = (w84 >> 1) & 1;
		o->gp_logging_supported = (w84 >> 5) & 1;
		o->wwn_valid = (w84 >> 8) & 1;
	} else if (v8587) {
		o->error_log_supported = w87 & 1;
		o->self_test_supported = (w87 >> 1) & 1;
		o->gp_logging_supported = (w87 >> 5) & 1;
		o->wwn_valid = (w87 >> 8) & 1;
	}
	if (o->wwn_valid) {
		if (HAVE(limit, 2 * 108, 8))
			o->wwn = (uint64_t)id_word(buf, limit, 108) << 48 |
				 (uint64_t)id_word(buf, limit, 109) << 32 |
				 (uint64_t)id_word(buf, limit, 110) << 16 |
				 id_word(buf, limit, 111);
		else
			o->wwn_valid = 0;
	}
	if (o->apm_enabled == 1)
		o->apm_level = (uint8_t)id_word(buf, limit, 91);

	w128 = id_word(buf, limit, 128);
	o->security_supported = w128 & 1;
	o->security_enabled = (w128 >> 1) & 1;
	o->security_locked = (w128 >> 2) & 1;
	o->security_frozen = (w128 >> 3) & 1;

	w69 = id_word(buf, limit, 69);
	o->trim_supported = id_word(buf, limit, 169) & 1;
	o->trim_deterministic = o->trim_supported && (w69 & 0x4000);
	o->trim_zeroes = o->trim_supported && (w69 & 0x0020);

	/* Words 75-77: SATA; 0000h and FFFFh mean not reported. */
	w75 = id_word(buf, limit, 75);
	w76 = id_word(buf, limit, 76);
	w77 = id_word(buf, limit, 77);
	if (w76 != 0 && w76 != 0xffff) {
		if (w76 & 0x0008)
			o->sata_gen_max = 3;
		else if (w76 & 0x0004)
			o->sata_gen_max = 2;
		else if (w76 & 0x0002)
			o->sata_gen_max = 1;
		o->ncq_supported = !!(w76 & 0x0100);
		if (o->ncq_supported)
			o->queue_depth = (uint8_t)((w75 & 0x1f) + 1);
		if (w77 != 0xffff)
			o->sata_gen_current = (w77 >> 1) & 0x07;
	}

	o->form_factor = id_word(buf, limit, 168) & 0x0f;
	o->rotation_rate = id_word(buf, limit, 217);
	if (o->rotation_rate == 0xffff || (o->rotation_rate > 1 && o->rotation_rate < 0x0401))
		o->rotation_rate = 0; /* reserved values */
	w206 = id_word(buf, limit, 206);
	o->sct_supported = w206 & 1;
	o->sct_erc_supported = o->sct_supported && (w206 & 0x0008);

	identify_sizes(buf, limit, o);

	if (limit == 512 && buf[510] == 0xa5) {
		o->checksum_present = 1;
		o->checksum_ok = ostor_scsi_ata_checksum_ok(buf, len);
	}
	return 0;
}

int ostor_scsi_parse_ata_identify(const uint8_t *buf, size_t len,
				  struct ostor_scsi_ata_identify *out)
{
	struct ostor_scsi_ata_identify full;
	int r;

	if (!out || (!buf && len))
		return ostori_error(OSTOR_ERROR_INVALID_PARAM,
				    "IDENTIFY DEVICE: NULL buffer or output argument");
	if ((r = ostori_sized_check(&identify_sized, out, __func__, "out")))
		return r;
	r = parse_identify(buf, len, &full);
	ostori_sized_put(&identify_sized, out, &full);
	return r;
}

const char *ostor_scsi_ata_major_version_name(uint16_t major_version)
{
	static const char *const names[] = {
		NULL, "ATA-1", "ATA-2", "ATA-3", "ATA/ATAPI-4", "ATA/ATAPI-5",
		"ATA/ATAPI-6", "ATA/ATAPI-7", "ATA8-ACS", "ACS-2", "ACS-3",
		"ACS-4", "ACS-5", "ACS-6", "ACS-7",
	};
	int bit;

	if (major_version == 0 || major_version == 0xffff)
		return "not reported";
	for (bit = 15; bit > 0; bit--)
		if (major_version & (1u << bit))
			return bit < (int)OSTOR_ARRAY_SIZE(names) ? names[bit] : "newer than ACS-7";
	return "not reported"; /* bit 0 alone: reserved */
}

/* ---- registers: SMART RETURN STATUS, CHECK POWER MODE -------------------- */

/* The registers from the sense, or why there are none (static text). */
static const char *read_registers(const uint8_t *sense, size_t len,
				  struct ostor_scsi_ata_return *regs, int *present)
{
	*present = 0;
	if (!sense || len == 0)
		return "no sense data: the bridge did not return the ATA registers (it ignored CK_COND)";
	if (ostor_scsi_parse_ata_return(sense, len, regs) != 0)
		return "the sense data carries no ATA registers (neither an ATA Return descriptor nor SAT fixed-format 00h/1Dh)";
	*present = 1;
	return NULL;
}

int ostor_scsi_parse_ata_smart_status(const uint8_t *sense, size_t len,
				      struct ostor_scsi_ata_smart_status *out)
{
	const char *why;

	if (!out)
		return ostori_error(OSTOR_ERROR_INVALID_PARAM,
				    "SMART RETURN STATUS: out is NULL");
	memset(out, 0, sizeof(*out));
	out->verdict = OSTOR_ATA_HEALTH_UNKNOWN;
	why = read_registers(sense, len, &out->regs, &out->registers_present);
	if (why) {
		out->text = why;
		return 0;
	}
	out->lba_mid = (uint8_t)(out->regs.lba >> 8);
	out->lba_high = (uint8_t)(out->regs.lba >> 16);
	/* F4h/2Ch can only come from a drive that evaluated its thresholds:
	 * failing, whatever else the status says.  An aborted command (ERR)
	 * leaves the 4Fh/C2h it was sent with, which proves nothing. */
	if (out->lba_mid == SMART_MID_FAIL && out->lba_high == SMART_HIGH_FAIL) {
		out->verdict = OSTOR_ATA_HEALTH_FAILING;
		out->text = "FAILING: the drive reports a threshold exceeded (LBA mid/high F4h/2Ch)";
	} else if (out->regs.status & 0x01) {
		out->text = "the drive refused SMART RETURN STATUS (ATA status ERR): SMART is disabled or not supported";
	} else if (out->lba_mid == SMART_MID_OK && out->lba_high == SMART_HIGH_OK) {
		out->verdict = OSTOR_ATA_HEALTH_PASSED;
		out->text = "PASSED: the drive reports no threshold exceeded (LBA mid/high 4Fh/C2h)";
	} else if (out->lba_mid == SMART_MID_OK || out->lba_mid == SMART_MID_FAIL) {
		out->mid_only_verdict = out->lba_mid == SMART_MID_OK ?
			OSTOR_ATA_HEALTH_PASSED : OSTOR_ATA_HEALTH_FAILING;
		out->text = "unknown: only LBA mid has the SMART status value, LBA high does not (a bridge that truncates the returned registers)";
	} else if (out->lba_mid == 0 && out->lba_high == 0) {
		out->text = "unknown: LBA mid/high came back 00h/00h (the bridge returned empty registers)";
	} else {
		out->text = "unknown: LBA mid/high hold neither 4Fh/C2h (passed) nor F4h/2Ch (failing)";
	}
	return 0;
}

const char *ostor_scsi_ata_health_name(int verdict)
{
	switch (verdict) {
	case OSTOR_ATA_HEALTH_PASSED: return "PASSED";
	case OSTOR_ATA_HEALTH_FAILING: return "FAILING";
	default: return "UNKNOWN";
	}
}

int ostor_scsi_ata_power_mode_from_count(uint8_t count)
{
	switch (count) {
	case 0x00: case 0x01: case 0x40:
		return OSTOR_ATA_POWER_STANDBY;
	case 0x80: case 0x81: case 0x82: case 0x83:
		return OSTOR_ATA_POWER_IDLE;
	case 0xff: case 0x41:
		return OSTOR_ATA_POWER_ACTIVE;
	default:
		return OSTOR_ATA_POWER_UNKNOWN;
	}
}

static const char *power_count_text(uint8_t count)
{
	switch (count) {
	case 0x00: return "standby";
	case 0x01: return "standby_y (EPC)";
	case 0x40: return "standby (NV cache power mode, spindle spun down)";
	case 0x41: return "active (NV cache power mode, spindle spun up)";
	case 0x80: return "idle";
	case 0x81: return "idle_a (EPC)";
	case 0x82: return "idle_b (EPC)";
	case 0x83: return "idle_c (EPC)";
	case 0xff: return "active or idle";
	default: return "unknown: the count register holds a reserved value";
	}
}

int ostor_scsi_parse_ata_power_mode(const uint8_t *sense, size_t len,
				    struct ostor_scsi_ata_power_mode *out)
{
	struct ostor_scsi_ata_return regs;
	const char *why;

	if (!out)
		return ostori_error(OSTOR_ERROR_INVALID_PARAM,
				    "CHECK POWER MODE: out is NULL");
	memset(out, 0, sizeof(*out));
	why = read_registers(sense, len, &regs, &out->registers_present);
	if (why) {
		out->text = why;
		return 0;
	}
	if (regs.status & 0x01) {
		out->text = "the drive refused CHECK POWER MODE (ATA status ERR)";
		return 0;
	}
	out->count = (uint8_t)regs.count;
	out->mode = ostor_scsi_ata_power_mode_from_count(out->count);
	out->text = power_count_text(out->count);
	return 0;
}

const char *ostor_scsi_ata_power_mode_name(int mode)
{
	switch (mode) {
	case OSTOR_ATA_POWER_ACTIVE: return "active";
	case OSTOR_ATA_POWER_IDLE: return "idle";
	case OSTOR_ATA_POWER_STANDBY: return "standby";
	default: return "unknown";
	}
}

/* ---- SMART attributes -------------------------------------------------- */

enum raw_format {
	RAW48 = 0,
	RAW16_RAW16,   /* word 0, then "(w2 w1)" when set */
	RAW16_AVG16,   /* word 0, then "(Average w1)" */
	RAW24_RAW8,    /* 24 bits, then "(b5 b4 b3)" */
	TEMPMINMAX,    /* temperature and the min/max the drive keeps */
};

struct attr_def {
	uint8_t id;
	uint8_t format;
	const char *name;
};

/* smartctl's defaults (its drive database's "DEFAULT" entry), sorted by
 * id. */
static const struct attr_def attr_defs[] = {
	{ 1, RAW48, "Raw_Read_Error_Rate" },
	{ 2, RAW48, "Throughput_Performance" },
	{ 3, RAW16_AVG16, "Spin_Up_Time" },
	{ 4, RAW48, "Start_Stop_Count" },
	{ 5, RAW16_RAW16, "Reallocated_Sector_Ct" },
	{ 6, RAW48, "Read_Channel_Margin" },
	{ 7, RAW48, "Seek_Error_Rate" },
	{ 8, RAW48, "Seek_Time_Performance" },
	{ 9, RAW24_RAW8, "Power_On_Hours" },
	{ 10, RAW48, "Spin_Retry_Count" },
	{ 11, RAW48, "Calibration_Retry_Count" },
	{ 12, RAW48, "Power_Cycle_Count" },
	{ 13, RAW48, "Read_Soft_Error_Rate" },
	{ 22, RAW16_RAW16, "Helium_Level" },
	{ 23, RAW48, "Helium_Condition_Lower" },
	{ 24, RAW48, "Helium_Condition_Upper" },
	{ 175, RAW48, "Program_Fail_Count_Chip" },
	{ 176, RAW48, "Erase_Fail_Count_Chip" },
	{ 177, RAW48, "Wear_Leveling_Count" },
	{ 178, RAW48, "Used_Rsvd_Blk_Cnt_Chip" },
	{ 179, RAW48, "Used_Rsvd_Blk_Cnt_Tot" },
	{ 180, RAW48, "Unused_Rsvd_Blk_Cnt_Tot" },
	{ 181, RAW48, "Program_Fail_Cnt_Total" },
	{ 182, RAW48, "Erase_Fail_Count_Total" },
	{ 183, RAW48, "Runtime_Bad_Block" },
	{ 184, RAW48, "End-to-End_Error" },
	{ 187, RAW48, "Reported_Uncorrect" },
	{ 188, RAW48, "Command_Timeout" },
	{ 189, RAW48, "High_Fly_Writes" },
	{ 190, TEMPMINMAX, "Airflow_Temperature_Cel" },
	{ 191, RAW48, "G-Sense_Error_Rate" },
	{ 192, RAW48, "Power-Off_Retract_Count" },
	{ 193, RAW48, "Load_Cycle_Count" },
	{ 194, TEMPMINMAX, "Temperature_Celsius" },
	{ 195, RAW48, "Hardware_ECC_Recovered" },
	{ 196, RAW16_RAW16, "Reallocated_Event_Count" },
	{ 197, RAW48, "Current_Pending_Sector" },
	{ 198, RAW48, "Offline_Uncorrectable" },
	{ 199, RAW48, "UDMA_CRC_Error_Count" },
	{ 200, RAW48, "Multi_Zone_Error_Rate" },
	{ 201, RAW48, "Soft_Read_Error_Rate" },
	{ 202, RAW48, "Data_Address_Mark_Errs" },
	{ 203, RAW48, "Run_Out_Cancel" },
	{ 204, RAW48, "Soft_ECC_Correction" },
	{ 205, RAW48, "Thermal_Asperity_Rate" },
	{ 206, RAW48, "Flying_Height" },
	{ 207, RAW48, "Spin_High_Current" },
	{ 208, RAW48, "Spin_Buzz" },
	{ 209, RAW48, "Offline_Seek_Performnce" },
	{ 220, RAW48, "Disk_Shift" },
	{ 221, RAW48, "G-Sense_Error_Rate" },
	{ 222, RAW48, "Loaded_Hours" },
	{ 223, RAW48, "Load_Retry_Count" },
	{ 224, RAW48, "Load_Friction" },
	{ 225, RAW48, "Load_Cycle_Count" },
	{ 226, RAW48, "Load-in_Time" },
	{ 227, RAW48, "Torq-amp_Count" },
	{ 228, RAW48, "Power-off_Retract_Count" },
	{ 230, RAW48, "Head_Amplitude" },
	{ 231, RAW48, "Temperature_Celsius" },
	{ 232, RAW48, "Available_Reservd_Space" },
	{ 233, RAW48, "Media_Wearout_Indicator" },
	{ 240, RAW24_RAW8, "Head_Flying_Hours" },
	{ 241, RAW48, "Total_LBAs_Written" },
	{ 242, RAW48, "Total_LBAs_Read" },
	{ 250, RAW48, "Read_Error_Retry_Rate" },
	{ 254, RAW48, "Free_Fall_Sensor" },
};

static const struct attr_def *attr_def(uint8_t id)
{
	size_t lo = 0, hi = OSTOR_ARRAY_SIZE(attr_defs);

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (attr_defs[mid].id == id)
			return &attr_defs[mid];
		if (attr_defs[mid].id < id)
			lo = mid + 1;
		else
			hi = mid;
	}
	return NULL;
}

const char *ostor_scsi_ata_attr_name(uint8_t id)
{
	const struct attr_def *d = attr_def(id);

	return d ? d->name : "Unknown_Attribute";
}

/* tempminmax helpers: which signed widths a word can be read as
 * (bit 0: a byte, bit 4: a word). */
static int temp_word_kind(unsigned w)
{
	if (w <= 0x7f)
		return 0x11;
	if (w <= 0xff)
		return 0x01;
	if (w >= 0xff80)
		return 0x10;
	return 0;
}

/* Whether two bytes are a plausible min/max around t; sets lo, hi. */
static int temp_range(int t, uint8_t a, uint8_t b, int *lo, int *hi)
{
	int t1 = (int8_t)a, t2 = (int8_t)b, x;

	if (t1 > t2) {
		x = t1;
		t1 = t2;
		t2 = x;
	}
	if (-60 <= t1 && t1 <= t && t <= t2 && t2 <= 120 && !(t1 == -1 && t2 <= 0)) {
		*lo = t1;
		*hi = t2;
		return 1;
	}
	return 0;
}

static void temp_text(const uint8_t *r, char *buf, size_t buflen)
{
	unsigned w0 = r[0] | r[1] << 8, w1 = r[2] | r[3] << 8, w2 = r[4] | r[5] << 8;
	int t = (int8_t)r[0], lo = 0, hi = 0, k0 = temp_word_kind(w0), form;

	/* The layouts drives use: 00 00 00 00 xx TT; 00 00 HL LH xx TT;
	 * 00 00 00 HL LH TT; xx HL xx LH xx TT; CC CC HL LH xx TT (CCCC an
	 * over-temperature count). */
	if (!w2) {
		if (!w1 && k0)
			form = 0;
		else if (k0 && temp_range(t, r[2], r[3], &lo, &hi))
			form = 1;
		else if (!r[3] && temp_range(t, r[1], r[2], &lo, &hi))
			form = 1;
		else
			form = -1;
	} else if (k0) {
		if ((k0 & temp_word_kind(w1) & temp_word_kind(w2)) &&
		    temp_range(t, r[2], r[4], &lo, &hi))
			form = 1;
		else if (w2 < 0x7fff && temp_range(t, r[2], r[3], &lo, &hi) && hi >= 40)
			form = 2;
		else
			form = -1;
	} else {
		form = -1;
	}
	switch (form) {
	case 0:
		snprintf(buf, buflen, "%d", t);
		break;
	case 1:
		snprintf(buf, buflen, "%d (Min/Max %d/%d)", t, lo, hi);
		break;
	case 2:
		snprintf(buf, buflen, "%d (Min/Max %d/%d #%u)", t, lo, hi, w2);
		break;
	default:
		snprintf(buf, buflen, "%u (%u %u %u %u %u)", r[0], r[5], r[4], r[3],
			 r[2], r[1]);
		break;
	}
}

const char *ostor_scsi_ata_attr_raw_text(const struct ostor_scsi_ata_smart_attr *attr,
					 char *buf, size_t buflen)
{
	const struct attr_def *d;
	const uint8_t *r;
	unsigned w0, w1, w2;
	int n;

	if (!buf || buflen == 0)
		return "";
	if (!attr) {
		buf[0] = '\0';
		return buf;
	}
	r = attr->raw;
	w0 = r[0] | r[1] << 8;
	w1 = r[2] | r[3] << 8;
	w2 = r[4] | r[5] << 8;
	d = attr_def(attr->id);
	switch (d ? d->format : RAW48) {
	case RAW16_RAW16:
		n = snprintf(buf, buflen, "%u", w0);
		if ((w1 || w2) && n >= 0 && (size_t)n < buflen)
			snprintf(buf + n, buflen - (size_t)n, " (%u %u)", w2, w1);
		break;
	case RAW16_AVG16:
		n = snprintf(buf, buflen, "%u", w0);
		if (w1 && n >= 0 && (size_t)n < buflen)
			snprintf(buf + n, buflen - (size_t)n, " (Average %u)", w1);
		break;
	case RAW24_RAW8:
		n = snprintf(buf, buflen, "%u", (unsigned)(r[0] | r[1] << 8 | (unsigned)r[2] << 16));
		if ((r[3] || r[4] || r[5]) && n >= 0 && (size_t)n < buflen)
			snprintf(buf + n, buflen - (size_t)n, " (%u %u %u)", r[5], r[4], r[3]);
		break;
	case TEMPMINMAX:
		temp_text(r, buf, buflen);
		break;
	default:
		snprintf(buf, buflen, "%llu", (unsigned long long)attr->raw_value);
		break;
	}
	return buf;
}

/* ---- SMART READ DATA / THRESHOLDS ------------------------------------- */

#define SMART_ATTR_OFF 2
#define SMART_ATTR_LEN 12

static void decode_attr(const uint8_t *e, struct ostor_scsi_ata_smart_attr *a)
{
	int i;

	memset(a, 0, sizeof(*a));
	a->id = e[0];
	a->flags = ostori_get_le16(e + 1);
	a->prefail = a->flags & OSTOR_ATA_ATTR_PREFAIL;
	a->value = e[3];
	a->worst = e[4];
	memcpy(a->raw, e + 5, 6);
	for (i = 5; i >= 0; i--)
		a->raw_value = (a->raw_value << 8) | a->raw[i];
	a->name = ostor_scsi_ata_attr_name(a->id);
}

/* The threshold entry for id: the same slot first (the usual layout),
 * else any slot. */
static const uint8_t *find_threshold(const uint8_t *thr, size_t thr_limit,
				     size_t slot, uint8_t id)
{
	size_t i, off = SMART_ATTR_OFF + slot * SMART_ATTR_LEN;

	if (!thr)
		return NULL;
	if (HAVE(thr_limit, off, 2) && thr[off] == id)
		return thr + off;
	for (i = 0; i < OSTOR_ATA_SMART_ATTRS_MAX; i++) {
		off = SMART_ATTR_OFF + i * SMART_ATTR_LEN;
		if (!HAVE(thr_limit, off, 2))
			break;
		if (thr[off] == id)
			return thr + off;
	}
	return NULL;
}

static void smart_temperature(struct ostor_scsi_ata_smart_data *o)
{
	static const uint8_t ids[] = { 194, 190 };
	size_t i, k;

	for (k = 0; k < OSTOR_ARRAY_SIZE(ids); k++)
		for (i = 0; i < o->count; i++) {
			uint8_t t = o->attrs[i].raw[0];

			if (o->attrs[i].id != ids[k])
				continue;
			if (t > 0 && t < 128) {
				o->temperature = t;
				o->temperature_id = ids[k];
				return;
			}
		}
}

static int parse_smart_data(const uint8_t *data, size_t data_len,
			    const uint8_t *thr, size_t thr_len,
			    struct ostor_scsi_ata_smart_data *o)
{
	size_t limit, thr_limit, i;

	memset(o, 0, sizeof(*o));
	if (data_len < 2)
		return ostori_error(OSTOR_ERROR_PROTOCOL,
				    "SMART READ DATA: %zu bytes arrived, fewer than the 2-byte revision; the device sent no SMART data",
				    data_len);
	limit = OSTOR_MIN(data_len, (size_t)512);
	thr_limit = thr ? OSTOR_MIN(thr_len, (size_t)512) : 0;
	o->valid_len = limit;
	o->revision = ostori_get_le16(data);
	o->checksum_ok = ostor_scsi_ata_checksum_ok(data, data_len);
	if (thr && thr_len) {
		o->thresholds_present = 1;
		o->thresholds_checksum_ok = ostor_scsi_ata_checksum_ok(thr, thr_len);
	}
	for (i = 0; i < OSTOR_ATA_SMART_ATTRS_MAX; i++) {
		size_t off = SMART_ATTR_OFF + i * SMART_ATTR_LEN;
		struct ostor_scsi_ata_smart_attr *a = &o->attrs[o->count];
		const uint8_t *t;

		if (!HAVE(limit, off, SMART_ATTR_LEN))
			break;
		if (data[off] == 0)
			continue; /* unused slot */
		decode_attr(data + off, a);
		t = find_threshold(thr, thr_limit, i, a->id);
		if (t) {
			a->threshold_valid = 1;
			a->threshold = t[1];
		}
		if (a->threshold_valid && a->threshold) {
			a->below_threshold = a->value <= a->threshold;
			a->failing_now = a->below_threshold && a->prefail;
			a->failed_past = a->worst <= a->threshold;
		}
		o->any_failing_now |= a->failing_now;
		o->any_below_threshold |= a->below_threshold;
		o->any_failed_past |= a->failed_past;
		o->count++;
	}
	if (HAVE(limit, 362, 1))
		o->offline_status = data[362];
	if (HAVE(limit, 363, 1)) {
		o->self_test_status = data[363] >> 4;
		o->self_test_remaining = (uint8_t)((data[363] & 0x0f) * 10);
	}
	if (HAVE(limit, 364, 2))
		o->offline_seconds = ostori_get_le16(data + 364);
	if (HAVE(limit, 367, 1)) {
		o->offline_capability = data[367];
		o->self_test_supported = !!(data[367] & 0x10);
		o->conveyance_test_supported = !!(data[367] & 0x20);
		o->selective_test_supported = !!(data[367] & 0x40);
	}
	if (HAVE(limit, 368, 2))
		o->smart_capability = ostori_get_le16(data + 368);
	if (HAVE(limit, 370, 1))
		o->error_logging_supported = data[370] & 1;
	if (HAVE(limit, 372, 1))
		o->short_test_minutes = data[372];
	if (HAVE(limit, 373, 1)) {
		o->extended_test_minutes = data[373];
		/* FFh: the time is in the word at 375-376. */
		if (data[373] == 0xff && HAVE(limit, 375, 2))
			o->extended_test_minutes = ostori_get_le16(data + 375);
	}
	if (HAVE(limit, 374, 1))
		o->conveyance_test_minutes = data[374];
	smart_temperature(o);
	return 0;
}

int ostor_scsi_parse_ata_smart_data(const uint8_t *data, size_t data_len,
				    const uint8_t *thresholds, size_t thr_len,
				    struct ostor_scsi_ata_smart_data *out)
{
	struct ostor_scsi_ata_smart_data full;
	int r;

	if (!out || (!data && data_len) || (!thresholds && thr_len))
		return ostori_error(OSTOR_ERROR_INVALID_PARAM,
				    "SMART READ DATA: NULL buffer or output argument");
	if ((r = ostori_sized_check(&smart_data_sized, out, __func__, "out")))
		return r;
	r = parse_smart_data(data, data_len, thresholds, thr_len, &full);
	ostori_sized_put(&smart_data_sized, out, &full);
	return r;
}

/* ---- self-test log ----------------------------------------------------- */

const char *ostor_scsi_ata_self_test_status_name(uint8_t status)
{
	switch (status) {
	case 0x0: return "Completed without error";
	case 0x1: return "Aborted by host";
	case 0x2: return "Interrupted (host reset)";
	case 0x3: return "Fatal or unknown error";
	case 0x4: return "Completed: unknown failure";
	case 0x5: return "Completed: electrical failure";
	case 0x6: return "Completed: servo/seek failure";
	case 0x7: return "Completed: read failure";
	case 0x8: return "Completed: handling damage??";
	case 0xf: return "Self-test routine in progress";
	default: return "Unknown status";
	}
}

const char *ostor_scsi_ata_self_test_type_name(uint8_t test)
{
	switch (test) {
	case OSTOR_ATA_TEST_OFFLINE: return "Offline";
	case OSTOR_ATA_TEST_SHORT: return "Short offline";
	case OSTOR_ATA_TEST_EXTENDED: return "Extended offline";
	case OSTOR_ATA_TEST_CONVEYANCE: return "Conveyance offline";
	case OSTOR_ATA_TEST_SELECTIVE: return "Selective offline";
	case OSTOR_ATA_TEST_ABORT: return "Abort offline test";
	case OSTOR_ATA_TEST_SHORT_CAPTIVE: return "Short captive";
	case OSTOR_ATA_TEST_EXTENDED_CAPTIVE: return "Extended captive";
	case OSTOR_ATA_TEST_CONVEYANCE_CAPTIVE: return "Conveyance captive";
	case OSTOR_ATA_TEST_SELECTIVE_CAPTIVE: return "Selective captive";
	default:
		if ((test >= 0x40 && test <= 0x7e) || test >= 0x90)
			return "Vendor specific";
		return "Reserved";
	}
}

static int all_zero(const uint8_t *p, size_t n)
{
	while (n--)
		if (*p++)
			return 0;
	return 1;
}

#define SELF_TEST_DESC_OFF 2
#define SELF_TEST_DESC_LEN 24

static int parse_self_test_log(const uint8_t *buf, size_t len,
			       struct ostor_scsi_ata_self_test_log *o)
{
	unsigned i;

	memset(o, 0, sizeof(*o));
	if (len < 512)
		return ostori_error(OSTOR_ERROR_PROTOCOL,
				    "SMART self-test log: %zu bytes arrived of the 512-byte sector; without its index (byte 508) the entries cannot be ordered",
				    len);
	o->revision = ostori_get_le16(buf);
	o->checksum_ok = ostor_scsi_ata_checksum_ok(buf, len);
	o->index = buf[508];
	if (o->index == 0)
		return 0;
	/* Newest first: descriptor index (1-based), then backwards around
	 * the 21 descriptors.  An index past 21 still names one (mod 21),
	 * as smartctl reads it. */
	for (i = 0; i < OSTOR_ATA_SELF_TEST_LOG_ENTRIES; i++) {
		unsigned j = (OSTOR_ATA_SELF_TEST_LOG_ENTRIES - 1 - i + o->index) %
			     OSTOR_ATA_SELF_TEST_LOG_ENTRIES;
		const uint8_t *d = buf + SELF_TEST_DESC_OFF + j * SELF_TEST_DESC_LEN;
		struct ostor_scsi_ata_self_test_entry *e = &o->entries[o->count];

		if (all_zero(d, SELF_TEST_DESC_LEN))
			continue;
		memset(e, 0, sizeof(*e));
		e->number = (uint8_t)(j + 1);
		e->test = d[0];
		e->status = d[1] >> 4;
		e->remaining = (uint8_t)((d[1] & 0x0f) * 10);
		e->lifetime_hours = ostori_get_le16(d + 2);
		e->checkpoint = d[4];
		e->failing_lba = ostori_get_le32(d + 5);
		e->failed = e->status >= 0x3 && e->status <= 0x8;
		e->failing_lba_valid = e->failed && e->failing_lba != 0xffffffffu;
		o->failed_count += (size_t)e->failed;
		o->count++;
	}
	return 0;
}

int ostor_scsi_parse_ata_self_test_log(const uint8_t *buf, size_t len,
				       struct ostor_scsi_ata_self_test_log *out)
{
	struct ostor_scsi_ata_self_test_log full;
	int r;

	if (!out || (!buf && len))
		return ostori_error(OSTOR_ERROR_INVALID_PARAM,
				    "SMART self-test log: NULL buffer or output argument");
	if ((r = ostori_sized_check(&self_test_log_sized, out, __func__, "out")))
		return r;
	r = parse_self_test_log(buf, len, &full);
	ostori_sized_put(&self_test_log_sized, out, &full);
	return r;
}
