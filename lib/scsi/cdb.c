/*
 * lib/scsi/cdb.c - CDB builders (SPC-4, SBC-3, SAT-3, MMC/UFI), CDB
 * length rules and operation code names.
 *
 * Every builder clears the whole struct ostor_cdb first so no stale byte
 * of an earlier command can leak into the new one, and rejects values that
 * do not fit their field instead of truncating them.
 */

#include <string.h>

#include "scsi/scsi_priv.h"

static int cdb_start(struct ostor_cdb *cdb, const char *cmd, uint8_t opcode,
		     uint8_t len)
{
	if (!cdb)
		return ostori_error(OSTOR_ERROR_INVALID_PARAM,
				    "%s: cdb is NULL; pass a struct ostor_cdb to fill",
				    cmd);
	memset(cdb, 0, sizeof(*cdb));
	cdb->bytes[0] = opcode;
	cdb->len = len;
	return 0;
}

#define BAD(cmd, ...) \
	ostori_error(OSTOR_ERROR_INVALID_PARAM, cmd ": " __VA_ARGS__)

/* Only FUA and DPO are settable through the flags of READ/WRITE. */
static int check_rw_flags(const char *cmd, uint8_t flags)
{
	if (flags & ~(OSTOR_SCSI_FUA | OSTOR_SCSI_DPO))
		return ostori_error(OSTOR_ERROR_INVALID_PARAM,
				    "%s: flags 0x%02x has bits other than OSTOR_SCSI_FUA (0x08) and OSTOR_SCSI_DPO (0x10)",
				    cmd, flags);
	return 0;
}

/* The CDB was partially filled when a check fails after cdb_start; clear
 * it so a caller ignoring the error does not send half a command. */
static int fail(struct ostor_cdb *cdb, int err)
{
	memset(cdb, 0, sizeof(*cdb));
	return err;
}

int ostor_scsi_cdb_test_unit_ready(struct ostor_cdb *cdb)
{
	return cdb_start(cdb, "TEST UNIT READY", OSTOR_SCSI_OP_TEST_UNIT_READY, 6);
}

int ostor_scsi_cdb_request_sense(struct ostor_cdb *cdb, uint8_t alloc_len,
				 int descriptor_format)
{
	int r = cdb_start(cdb, "REQUEST SENSE", OSTOR_SCSI_OP_REQUEST_SENSE, 6);

	if (r)
		return r;
	cdb->bytes[1] = descriptor_format ? 0x01 : 0;
	cdb->bytes[4] = alloc_len;
	return 0;
}

int ostor_scsi_cdb_inquiry(struct ostor_cdb *cdb, int evpd, uint8_t page,
			   uint16_t alloc_len)
{
	int r = cdb_start(cdb, "INQUIRY", OSTOR_SCSI_OP_INQUIRY, 6);

	if (r)
		return r;
	if (!evpd && page)
		return fail(cdb, BAD("INQUIRY", "page code %02Xh given without EVPD; "
				     "set evpd=1 to read a VPD page or use page 0", page));
	cdb->bytes[1] = evpd ? 0x01 : 0;
	cdb->bytes[2] = page;
	ostori_put_be16(&cdb->bytes[3], alloc_len);
	return 0;
}

int ostor_scsi_cdb_read_capacity10(struct ostor_cdb *cdb)
{
	return cdb_start(cdb, "READ CAPACITY(10)", OSTOR_SCSI_OP_READ_CAPACITY10, 10);
}

int ostor_scsi_cdb_read_capacity16(struct ostor_cdb *cdb, uint32_t alloc_len)
{
	int r = cdb_start(cdb, "READ CAPACITY(16)",
			  OSTOR_SCSI_OP_SERVICE_ACTION_IN16, 16);

	if (r)
		return r;
	cdb->bytes[1] = OSTOR_SCSI_SAI_READ_CAPACITY16;
	ostori_put_be32(&cdb->bytes[10], alloc_len);
	return 0;
}

/* ---- READ / WRITE ---------------------------------------------------- */

static int rw6(struct ostor_cdb *cdb, const char *cmd, uint8_t op,
	       uint32_t lba, uint16_t blocks)
{
	int r = cdb_start(cdb, cmd, op, 6);

	if (r)
		return r;
	if (lba > 0x1fffff)
		return fail(cdb, ostori_error(OSTOR_ERROR_INVALID_PARAM,
					      "%s: LBA %u does not fit 21 bits (max 2097151); use the 10-byte command",
					      cmd, lba));
	if (blocks < 1 || blocks > 256)
		return fail(cdb, ostori_error(OSTOR_ERROR_INVALID_PARAM,
					      "%s: %u blocks outside 1..256 (0 would mean 256); use the 10-byte command",
					      cmd, blocks));
	ostori_put_be24(&cdb->bytes[1], lba);
	cdb->bytes[4] = (uint8_t)(blocks & 0xff); /* 256 encodes as 0 */
	return 0;
}

int ostor_scsi_cdb_read6(struct ostor_cdb *cdb, uint32_t lba, uint16_t blocks)
{
	return rw6(cdb, "READ(6)", OSTOR_SCSI_OP_READ6, lba, blocks);
}

int ostor_scsi_cdb_write6(struct ostor_cdb *cdb, uint32_t lba, uint16_t blocks)
{
	return rw6(cdb, "WRITE(6)", OSTOR_SCSI_OP_WRITE6, lba, blocks);
}

static int rw10(struct ostor_cdb *cdb, const char *cmd, uint8_t op,
		uint32_t lba, uint16_t blocks, uint8_t flags)
{
	int r = cdb_start(cdb, cmd, op, 10);

	if (r)
		return r;
	r = check_rw_flags(cmd, flags);
	if (r)
		return fail(cdb, r);
	cdb->bytes[1] = flags;
	ostori_put_be32(&cdb->bytes[2], lba);
	ostori_put_be16(&cdb->bytes[7], blocks);
	return 0;
}

int ostor_scsi_cdb_read10(struct ostor_cdb *cdb, uint32_t lba, uint16_t blocks,
			  uint8_t flags)
{
	return rw10(cdb, "READ(10)", OSTOR_SCSI_OP_READ10, lba, blocks, flags);
}

int ostor_scsi_cdb_write10(struct ostor_cdb *cdb, uint32_t lba, uint16_t blocks,
			   uint8_t flags)
{
	return rw10(cdb, "WRITE(10)", OSTOR_SCSI_OP_WRITE10, lba, blocks, flags);
}

static int rw12(struct ostor_cdb *cdb, const char *cmd, uint8_t op,
		uint32_t lba, uint32_t blocks, uint8_t flags)
{
	int r = cdb_start(cdb, cmd, op, 12);

	if (r)
		return r;
	r = check_rw_flags(cmd, flags);
	if (r)
		return fail(cdb, r);
	cdb->bytes[1] = flags;
	ostori_put_be32(&cdb->bytes[2], lba);
	ostori_put_be32(&cdb->bytes[6], blocks);
	return 0;
}

int ostor_scsi_cdb_read12(struct ostor_cdb *cdb, uint32_t lba, uint32_t blocks,
			  uint8_t flags)
{
	return rw12(cdb, "READ(12)", OSTOR_SCSI_OP_READ12, lba, blocks, flags);
}

int ostor_scsi_cdb_write12(struct ostor_cdb *cdb, uint32_t lba, uint32_t blocks,
			   uint8_t flags)
{
	return rw12(cdb, "WRITE(12)", OSTOR_SCSI_OP_WRITE12, lba, blocks, flags);
}

static int rw16(struct ostor_cdb *cdb, const char *cmd, uint8_t op,
		uint64_t lba, uint32_t blocks, uint8_t flags)
{
	int r = cdb_start(cdb, cmd, op, 16);

	if (r)
		return r;
	r = check_rw_flags(cmd, flags);
	if (r)
		return fail(cdb, r);
	cdb->bytes[1] = flags;
	ostori_put_be64(&cdb->bytes[2], lba);
	ostori_put_be32(&cdb->bytes[10], blocks);
	return 0;
}

int ostor_scsi_cdb_read16(struct ostor_cdb *cdb, uint64_t lba, uint32_t blocks,
			  uint8_t flags)
{
	return rw16(cdb, "READ(16)", OSTOR_SCSI_OP_READ16, lba, blocks, flags);
}

int ostor_scsi_cdb_write16(struct ostor_cdb *cdb, uint64_t lba, uint32_t blocks,
			   uint8_t flags)
{
	return rw16(cdb, "WRITE(16)", OSTOR_SCSI_OP_WRITE16, lba, blocks, flags);
}

/* ---- VERIFY ------------------------------------------------------------ */

static int verify_byte1(struct ostor_cdb *cdb, const char *cmd, uint8_t bytchk,
			uint8_t flags)
{
	if (bytchk > 3 || bytchk == 2)
		return fail(cdb, ostori_error(OSTOR_ERROR_INVALID_PARAM,
					      "%s: BYTCHK %u invalid; use 0 (medium only), 1 (compare) or 3 (compare one block)",
					      cmd, bytchk));
	if (flags & ~OSTOR_SCSI_DPO)
		return fail(cdb, ostori_error(OSTOR_ERROR_INVALID_PARAM,
					      "%s: flags 0x%02x invalid; only OSTOR_SCSI_DPO applies to VERIFY",
					      cmd, flags));
	cdb->bytes[1] = (uint8_t)(flags | (bytchk << 1));
	return 0;
}

int ostor_scsi_cdb_verify10(struct ostor_cdb *cdb, uint32_t lba, uint16_t blocks,
			    uint8_t bytchk, uint8_t flags)
{
	int r = cdb_start(cdb, "VERIFY(10)", OSTOR_SCSI_OP_VERIFY10, 10);

	if (r)
		return r;
	r = verify_byte1(cdb, "VERIFY(10)", bytchk, flags);
	if (r)
		return r;
	ostori_put_be32(&cdb->bytes[2], lba);
	ostori_put_be16(&cdb->bytes[7], blocks);
	return 0;
}

int ostor_scsi_cdb_verify16(struct ostor_cdb *cdb, uint64_t lba, uint32_t blocks,
			    uint8_t bytchk, uint8_t flags)
{
	int r = cdb_start(cdb, "VERIFY(16)", OSTOR_SCSI_OP_VERIFY16, 16);

	if (r)
		return r;
	r = verify_byte1(cdb, "VERIFY(16)", bytchk, flags);
	if (r)
		return r;
	ostori_put_be64(&cdb->bytes[2], lba);
	ostori_put_be32(&cdb->bytes[10], blocks);
	return 0;
}

/* ---- SYNCHRONIZE CACHE ------------------------------------------------- */

int ostor_scsi_cdb_synchronize_cache10_ex(struct ostor_cdb *cdb, uint32_t lba,
					  uint16_t blocks, int immed)
{
	int r = cdb_start(cdb, "SYNCHRONIZE CACHE(10)",
			  OSTOR_SCSI_OP_SYNCHRONIZE_CACHE10, 10);

	if (r)
		return r;
	cdb->bytes[1] = immed ? 0x02 : 0;
	ostori_put_be32(&cdb->bytes[2], lba);
	ostori_put_be16(&cdb->bytes[7], blocks);
	return 0;
}

int ostor_scsi_cdb_synchronize_cache16_ex(struct ostor_cdb *cdb, uint64_t lba,
					  uint32_t blocks, int immed)
{
	int r = cdb_start(cdb, "SYNCHRONIZE CACHE(16)",
			  OSTOR_SCSI_OP_SYNCHRONIZE_CACHE16, 16);

	if (r)
		return r;
	cdb->bytes[1] = immed ? 0x02 : 0;
	ostori_put_be64(&cdb->bytes[2], lba);
	ostori_put_be32(&cdb->bytes[10], blocks);
	return 0;
}

int ostor_scsi_cdb_synchronize_cache10(struct ostor_cdb *cdb, uint32_t lba,
				       uint16_t blocks)
{
	return ostor_scsi_cdb_synchronize_cache10_ex(cdb, lba, blocks, 0);
}

int ostor_scsi_cdb_synchronize_cache16(struct ostor_cdb *cdb, uint64_t lba,
				       uint32_t blocks)
{
	return ostor_scsi_cdb_synchronize_cache16_ex(cdb, lba, blocks, 0);
}

/* ---- MODE SENSE / SELECT ----------------------------------------------- */

static int check_pc_page(struct ostor_cdb *cdb, const char *cmd, uint8_t pc,
			 uint8_t page)
{
	if (pc > 3)
		return fail(cdb, ostori_error(OSTOR_ERROR_INVALID_PARAM,
					      "%s: page control %u invalid; use 0 current, 1 changeable, 2 default, 3 saved",
					      cmd, pc));
	if (page > 0x3f)
		return fail(cdb, ostori_error(OSTOR_ERROR_INVALID_PARAM,
					      "%s: page code %02Xh does not fit 6 bits (max 3Fh)",
					      cmd, page));
	return 0;
}

int ostor_scsi_cdb_mode_sense6(struct ostor_cdb *cdb, int dbd, uint8_t pc,
			       uint8_t page, uint8_t subpage, uint8_t alloc_len)
{
	int r = cdb_start(cdb, "MODE SENSE(6)", OSTOR_SCSI_OP_MODE_SENSE6, 6);

	if (r)
		return r;
	r = check_pc_page(cdb, "MODE SENSE(6)", pc, page);
	if (r)
		return r;
	cdb->bytes[1] = dbd ? 0x08 : 0;
	cdb->bytes[2] = (uint8_t)((pc << 6) | page);
	cdb->bytes[3] = subpage;
	cdb->bytes[4] = alloc_len;
	return 0;
}

int ostor_scsi_cdb_mode_sense10(struct ostor_cdb *cdb, int dbd, int llbaa,
				uint8_t pc, uint8_t page, uint8_t subpage,
				uint16_t alloc_len)
{
	int r = cdb_start(cdb, "MODE SENSE(10)", OSTOR_SCSI_OP_MODE_SENSE10, 10);

	if (r)
		return r;
	r = check_pc_page(cdb, "MODE SENSE(10)", pc, page);
	if (r)
		return r;
	cdb->bytes[1] = (uint8_t)((llbaa ? 0x10 : 0) | (dbd ? 0x08 : 0));
	cdb->bytes[2] = (uint8_t)((pc << 6) | page);
	cdb->bytes[3] = subpage;
	ostori_put_be16(&cdb->bytes[7], alloc_len);
	return 0;
}

int ostor_scsi_cdb_mode_select6(struct ostor_cdb *cdb, int pf, int sp,
				uint8_t param_len)
{
	int r = cdb_start(cdb, "MODE SELECT(6)", OSTOR_SCSI_OP_MODE_SELECT6, 6);

	if (r)
		return r;
	cdb->bytes[1] = (uint8_t)((pf ? 0x10 : 0) | (sp ? 0x01 : 0));
	cdb->bytes[4] = param_len;
	return 0;
}

int ostor_scsi_cdb_mode_select10(struct ostor_cdb *cdb, int pf, int sp,
				 uint16_t param_len)
{
	int r = cdb_start(cdb, "MODE SELECT(10)", OSTOR_SCSI_OP_MODE_SELECT10, 10);

	if (r)
		return r;
	cdb->bytes[1] = (uint8_t)((pf ? 0x10 : 0) | (sp ? 0x01 : 0));
	ostori_put_be16(&cdb->bytes[7], param_len);
	return 0;
}

int ostor_scsi_cdb_report_luns(struct ostor_cdb *cdb, uint8_t select_report,
			       uint32_t alloc_len)
{
	int r = cdb_start(cdb, "REPORT LUNS", OSTOR_SCSI_OP_REPORT_LUNS, 12);

	if (r)
		return r;
	cdb->bytes[2] = select_report;
	ostori_put_be32(&cdb->bytes[6], alloc_len);
	return 0;
}

/* ---- medium handling --------------------------------------------------- */

int ostor_scsi_cdb_start_stop_unit(struct ostor_cdb *cdb, int immed,
				   uint8_t power_condition, uint8_t pc_modifier,
				   int loej, int start)
{
	int r = cdb_start(cdb, "START STOP UNIT", OSTOR_SCSI_OP_START_STOP_UNIT, 6);

	if (r)
		return r;
	if (power_condition > 0x0f)
		return fail(cdb, BAD("START STOP UNIT",
				     "power condition %u does not fit 4 bits (0..15)",
				     power_condition));
	if (pc_modifier > 0x0f)
		return fail(cdb, BAD("START STOP UNIT",
				     "power condition modifier %u does not fit 4 bits (0..15)",
				     pc_modifier));
	cdb->bytes[1] = immed ? 0x01 : 0;
	cdb->bytes[3] = pc_modifier;
	cdb->bytes[4] = (uint8_t)((power_condition << 4) | (loej ? 0x02 : 0) |
				  (start ? 0x01 : 0));
	return 0;
}

int ostor_scsi_cdb_prevent_allow(struct ostor_cdb *cdb, uint8_t prevent)
{
	int r = cdb_start(cdb, "PREVENT ALLOW MEDIUM REMOVAL",
			  OSTOR_SCSI_OP_PREVENT_ALLOW_MEDIUM_REMOVAL, 6);

	if (r)
		return r;
	if (prevent > 3)
		return fail(cdb, BAD("PREVENT ALLOW MEDIUM REMOVAL",
				     "PREVENT %u does not fit 2 bits; use 0 allow or 1 prevent",
				     prevent));
	cdb->bytes[4] = prevent;
	return 0;
}

int ostor_scsi_cdb_log_sense(struct ostor_cdb *cdb, int sp, uint8_t pc,
			     uint8_t page, uint8_t subpage, uint16_t param_ptr,
			     uint16_t alloc_len)
{
	int r = cdb_start(cdb, "LOG SENSE", OSTOR_SCSI_OP_LOG_SENSE, 10);

	if (r)
		return r;
	r = check_pc_page(cdb, "LOG SENSE", pc, page);
	if (r)
		return r;
	cdb->bytes[1] = sp ? 0x01 : 0;
	cdb->bytes[2] = (uint8_t)((pc << 6) | page);
	cdb->bytes[3] = subpage;
	ostori_put_be16(&cdb->bytes[5], param_ptr);
	ostori_put_be16(&cdb->bytes[7], alloc_len);
	return 0;
}

/* ---- WRITE SAME, UNMAP ------------------------------------------------- */

int ostor_scsi_cdb_write_same10(struct ostor_cdb *cdb, uint32_t lba,
				uint16_t blocks, uint8_t flags)
{
	int r = cdb_start(cdb, "WRITE SAME(10)", OSTOR_SCSI_OP_WRITE_SAME10, 10);

	if (r)
		return r;
	if (flags & ~(OSTOR_SCSI_WS_UNMAP | OSTOR_SCSI_WS_ANCHOR))
		return fail(cdb, BAD("WRITE SAME(10)",
				     "flags 0x%02x invalid; only UNMAP and ANCHOR exist (NDOB needs WRITE SAME(16))",
				     flags));
	cdb->bytes[1] = flags;
	ostori_put_be32(&cdb->bytes[2], lba);
	ostori_put_be16(&cdb->bytes[7], blocks);
	return 0;
}

int ostor_scsi_cdb_write_same16(struct ostor_cdb *cdb, uint64_t lba,
				uint32_t blocks, uint8_t flags)
{
	int r = cdb_start(cdb, "WRITE SAME(16)", OSTOR_SCSI_OP_WRITE_SAME16, 16);

	if (r)
		return r;
	if (flags & ~(OSTOR_SCSI_WS_UNMAP | OSTOR_SCSI_WS_ANCHOR |
		      OSTOR_SCSI_WS_NDOB))
		return fail(cdb, BAD("WRITE SAME(16)",
				     "flags 0x%02x invalid; only UNMAP, ANCHOR and NDOB exist",
				     flags));
	cdb->bytes[1] = flags;
	ostori_put_be64(&cdb->bytes[2], lba);
	ostori_put_be32(&cdb->bytes[10], blocks);
	return 0;
}

int ostor_scsi_cdb_unmap(struct ostor_cdb *cdb, int anchor, uint16_t param_len)
{
	int r = cdb_start(cdb, "UNMAP", OSTOR_SCSI_OP_UNMAP, 10);

	if (r)
		return r;
	cdb->bytes[1] = anchor ? 0x01 : 0;
	ostori_put_be16(&cdb->bytes[7], param_len);
	return 0;
}

int ostor_scsi_build_unmap_params(uint8_t *buf, size_t buflen,
				  const struct ostor_scsi_unmap_desc *descs,
				  size_t count)
{
	/* UNMAP DATA LENGTH (16 bits) counts everything after itself. */
	const size_t max_count = (0xffff - 6) / 16;
	size_t need, i;

	if (!buf || (count && !descs))
		return ostori_error(OSTOR_ERROR_INVALID_PARAM,
				    "UNMAP parameter list: NULL %s",
				    !buf ? "buffer" : "descriptor array");
	if (count > max_count)
		return ostori_error(OSTOR_ERROR_INVALID_PARAM,
				    "UNMAP parameter list: %zu descriptors exceed the %zu the 16-bit length fields can describe; split the request",
				    count, max_count);
	need = 8 + 16 * count;
	if (buflen < need)
		return ostori_error(OSTOR_ERROR_OVERFLOW,
				    "UNMAP parameter list: needs %zu bytes for %zu descriptors, buffer has %zu",
				    need, count, buflen);
	memset(buf, 0, need);
	ostori_put_be16(&buf[0], (uint16_t)(need - 2));
	ostori_put_be16(&buf[2], (uint16_t)(16 * count));
	for (i = 0; i < count; i++) {
		ostori_put_be64(&buf[8 + 16 * i], descs[i].lba);
		ostori_put_be32(&buf[8 + 16 * i + 8], descs[i].blocks);
	}
	return (int)need;
}

/* ---- COMPARE AND WRITE ------------------------------------------------- */

int ostor_scsi_cdb_compare_and_write(struct ostor_cdb *cdb, uint64_t lba,
				     uint8_t blocks, uint8_t flags)
{
	int r = cdb_start(cdb, "COMPARE AND WRITE",
			  OSTOR_SCSI_OP_COMPARE_AND_WRITE, 16);

	if (r)
		return r;
	/* DPO and FUA sit where READ/WRITE have them; WRPROTECT stays 0. */
	r = check_rw_flags("COMPARE AND WRITE", flags);
	if (r)
		return fail(cdb, r);
	cdb->bytes[1] = flags;
	ostori_put_be64(&cdb->bytes[2], lba);
	cdb->bytes[13] = blocks;
	return 0;
}

/* ---- ATA PASS-THROUGH (SAT-3) ------------------------------------------ */

static int ata_common(struct ostor_cdb *cdb, const char *cmd,
		      const struct ostor_scsi_ata_pt *pt)
{
	if (!pt)
		return fail(cdb, BAD("ATA PASS-THROUGH", "pt is NULL"));
	if (pt->protocol > 15)
		return fail(cdb, ostori_error(OSTOR_ERROR_INVALID_PARAM,
					      "%s: protocol %u does not fit 4 bits", cmd, pt->protocol));
	if (pt->multiple_count > 7)
		return fail(cdb, ostori_error(OSTOR_ERROR_INVALID_PARAM,
					      "%s: multiple count %u does not fit 3 bits", cmd,
					      pt->multiple_count));
	if (pt->off_line > 3)
		return fail(cdb, ostori_error(OSTOR_ERROR_INVALID_PARAM,
					      "%s: off_line %u does not fit 2 bits", cmd, pt->off_line));
	if (pt->t_length > 3)
		return fail(cdb, ostori_error(OSTOR_ERROR_INVALID_PARAM,
					      "%s: t_length %u does not fit 2 bits", cmd, pt->t_length));
	cdb->bytes[1] = (uint8_t)((pt->multiple_count << 5) | (pt->protocol << 1) |
				  (pt->extend ? 0x01 : 0));
	cdb->bytes[2] = (uint8_t)((pt->off_line << 6) | (pt->ck_cond ? 0x20 : 0) |
				  (pt->t_type ? 0x10 : 0) | (pt->t_dir ? 0x08 : 0) |
				  (pt->byt_blok ? 0x04 : 0) | pt->t_length);
	return 0;
}

int ostor_scsi_cdb_ata_pass_through12(struct ostor_cdb *cdb,
				      const struct ostor_scsi_ata_pt *pt)
{
	static const char cmd[] = "ATA PASS-THROUGH(12)";
	int r = cdb_start(cdb, cmd, OSTOR_SCSI_OP_ATA_PASS_THROUGH12, 12);

	if (r)
		return r;
	r = ata_common(cdb, cmd, pt);
	if (r)
		return r;
	/* The 12-byte CDB has no room for the 48-bit (extend) registers. */
	if (pt->extend || pt->features > 0xff || pt->count > 0xff ||
	    pt->lba > 0xffffff)
		return fail(cdb, BAD("ATA PASS-THROUGH(12)",
				     "48-bit registers requested (extend=%d features=%04Xh count=%04Xh lba=%llXh); use ATA PASS-THROUGH(16)",
				     pt->extend, pt->features, pt->count,
				     (unsigned long long)pt->lba));
	cdb->bytes[1] &= 0xfe;
	cdb->bytes[3] = (uint8_t)pt->features;
	cdb->bytes[4] = (uint8_t)pt->count;
	cdb->bytes[5] = (uint8_t)pt->lba;
	cdb->bytes[6] = (uint8_t)(pt->lba >> 8);
	cdb->bytes[7] = (uint8_t)(pt->lba >> 16);
	cdb->bytes[8] = pt->device;
	cdb->bytes[9] = pt->command;
	return 0;
}

int ostor_scsi_cdb_ata_pass_through16(struct ostor_cdb *cdb,
				      const struct ostor_scsi_ata_pt *pt)
{
	static const char cmd[] = "ATA PASS-THROUGH(16)";
	int r = cdb_start(cdb, cmd, OSTOR_SCSI_OP_ATA_PASS_THROUGH16, 16);

	if (r)
		return r;
	r = ata_common(cdb, cmd, pt);
	if (r)
		return r;
	if (!pt->extend && (pt->features > 0xff || pt->count > 0xff ||
			    pt->lba > 0xffffff))
		return fail(cdb, BAD("ATA PASS-THROUGH(16)",
				     "features %04Xh / count %04Xh / lba %llXh need the 48-bit registers; set extend",
				     pt->features, pt->count,
				     (unsigned long long)pt->lba));
	if (pt->lba > 0xffffffffffffULL)
		return fail(cdb, BAD("ATA PASS-THROUGH(16)",
				     "lba %llXh does not fit 48 bits",
				     (unsigned long long)pt->lba));
	/* Register layout: odd bytes carry the "previous" (HOB) values. */
	cdb->bytes[3] = (uint8_t)(pt->features >> 8);
	cdb->bytes[4] = (uint8_t)pt->features;
	cdb->bytes[5] = (uint8_t)(pt->count >> 8);
	cdb->bytes[6] = (uint8_t)pt->count;
	cdb->bytes[7] = (uint8_t)(pt->lba >> 24);
	cdb->bytes[8] = (uint8_t)pt->lba;
	cdb->bytes[9] = (uint8_t)(pt->lba >> 32);
	cdb->bytes[10] = (uint8_t)(pt->lba >> 8);
	cdb->bytes[11] = (uint8_t)(pt->lba >> 40);
	cdb->bytes[12] = (uint8_t)(pt->lba >> 16);
	cdb->bytes[13] = pt->device;
	cdb->bytes[14] = pt->command;
	return 0;
}

/* ---- diagnostics, UFI/MMC ---------------------------------------------- */

int ostor_scsi_cdb_send_diagnostic(struct ostor_cdb *cdb, uint8_t self_test_code,
				   int pf, int selftest, int devoffl,
				   int unitoffl, uint16_t param_len)
{
	int r = cdb_start(cdb, "SEND DIAGNOSTIC", OSTOR_SCSI_OP_SEND_DIAGNOSTIC, 6);

	if (r)
		return r;
	if (self_test_code > 7)
		return fail(cdb, BAD("SEND DIAGNOSTIC",
				     "self-test code %u does not fit 3 bits", self_test_code));
	if (self_test_code && selftest)
		return fail(cdb, BAD("SEND DIAGNOSTIC",
				     "self-test code %u with SELFTEST=1 is invalid (SPC-4); choose one",
				     self_test_code));
	cdb->bytes[1] = (uint8_t)((self_test_code << 5) | (pf ? 0x10 : 0) |
				  (selftest ? 0x04 : 0) | (devoffl ? 0x02 : 0) |
				  (unitoffl ? 0x01 : 0));
	ostori_put_be16(&cdb->bytes[3], param_len);
	return 0;
}

int ostor_scsi_cdb_read_format_capacities(struct ostor_cdb *cdb,
					  uint16_t alloc_len)
{
	int r = cdb_start(cdb, "READ FORMAT CAPACITIES",
			  OSTOR_SCSI_OP_READ_FORMAT_CAPACITIES, 10);

	if (r)
		return r;
	ostori_put_be16(&cdb->bytes[7], alloc_len);
	return 0;
}

int ostor_scsi_cdb_pad(struct ostor_cdb *cdb, uint8_t len)
{
	if (!cdb)
		return ostori_error(OSTOR_ERROR_INVALID_PARAM, "CDB pad: cdb is NULL");
	if (len < cdb->len || len > OSTOR_CDB_MAX)
		return ostori_error(OSTOR_ERROR_INVALID_PARAM,
				    "CDB pad: cannot pad a %u-byte CDB to %u bytes (must be >= its length and <= %d)",
				    cdb->len, len, OSTOR_CDB_MAX);
	memset(&cdb->bytes[cdb->len], 0, (size_t)(len - cdb->len));
	cdb->len = len;
	return 0;
}

/* ---- lengths and names ------------------------------------------------- */

int ostor_scsi_cdb_length(uint8_t opcode)
{
	switch (opcode >> 5) {
	case 0:
		return 6;
	case 1:
	case 2:
		return 10;
	case 3:
		if (opcode == OSTOR_SCSI_OP_VARIABLE_LENGTH ||
		    opcode == OSTOR_SCSI_OP_EXTENDED_CDB)
			return OSTOR_SCSI_CDB_LEN_VARIABLE;
		return OSTOR_ERROR_NOT_SUPPORTED;
	case 4:
		return 16;
	case 5:
		return 12;
	default:
		return OSTOR_ERROR_NOT_SUPPORTED;
	}
}

int ostor_scsi_cdb_check(const uint8_t *cdb, size_t len)
{
	int want;

	if (!cdb)
		return ostori_error(OSTOR_ERROR_INVALID_PARAM, "malformed CDB: NULL");
	if (len == 0)
		return ostori_error(OSTOR_ERROR_INVALID_PARAM,
				    "malformed CDB: length 0");
	want = ostor_scsi_cdb_length(cdb[0]);
	if (want > 0) {
		if ((size_t)want != len)
			return ostori_error(OSTOR_ERROR_INVALID_PARAM,
					    "malformed CDB: opcode %02Xh (%s, group %u) is a %d-byte command, got %zu bytes",
					    cdb[0], ostor_scsi_opcode_name(cdb[0]),
					    cdb[0] >> 5, want, len);
		return 0;
	}
	if (want == OSTOR_SCSI_CDB_LEN_VARIABLE) {
		size_t expect;

		if (cdb[0] == OSTOR_SCSI_OP_EXTENDED_CDB)
			return ostori_error(OSTOR_ERROR_INVALID_PARAM,
					    "malformed CDB: extended CDB (7Eh) is not supported");
		if (len < 8)
			return ostori_error(OSTOR_ERROR_INVALID_PARAM,
					    "malformed CDB: variable-length CDB (7Fh) of %zu bytes is shorter than its 8-byte header",
					    len);
		expect = 8 + (size_t)cdb[7];
		if (len != expect || expect > 260)
			return ostori_error(OSTOR_ERROR_INVALID_PARAM,
					    "malformed CDB: variable-length CDB (7Fh) announces %zu bytes (8 + %u), got %zu",
					    expect, cdb[7], len);
		return 0;
	}
	if (cdb[0] >= 0xc0) {
		if (len < 6 || len > OSTOR_CDB_MAX)
			return ostori_error(OSTOR_ERROR_INVALID_PARAM,
					    "malformed CDB: vendor-specific opcode %02Xh with %zu bytes (expected 6..%d)",
					    cdb[0], len, OSTOR_CDB_MAX);
		return 0;
	}
	return ostori_error(OSTOR_ERROR_INVALID_PARAM,
			    "malformed CDB: opcode %02Xh is in reserved group 3; its length is undefined",
			    cdb[0]);
}

struct opname {
	uint8_t op;
	const char *name;
};

/* Sorted by opcode (binary search). */
static const struct opname opnames[] = {
	{ 0x00, "TEST UNIT READY" },
	{ 0x01, "REZERO UNIT" },
	{ 0x03, "REQUEST SENSE" },
	{ 0x04, "FORMAT UNIT" },
	{ 0x05, "READ BLOCK LIMITS" },
	{ 0x07, "REASSIGN BLOCKS" },
	{ 0x08, "READ(6)" },
	{ 0x0a, "WRITE(6)" },
	{ 0x0b, "SEEK(6)" },
	{ 0x12, "INQUIRY" },
	{ 0x15, "MODE SELECT(6)" },
	{ 0x16, "RESERVE(6)" },
	{ 0x17, "RELEASE(6)" },
	{ 0x1a, "MODE SENSE(6)" },
	{ 0x1b, "START STOP UNIT" },
	{ 0x1c, "RECEIVE DIAGNOSTIC RESULTS" },
	{ 0x1d, "SEND DIAGNOSTIC" },
	{ 0x1e, "PREVENT ALLOW MEDIUM REMOVAL" },
	{ 0x23, "READ FORMAT CAPACITIES" },
	{ 0x25, "READ CAPACITY(10)" },
	{ 0x28, "READ(10)" },
	{ 0x2a, "WRITE(10)" },
	{ 0x2b, "SEEK(10)" },
	{ 0x2e, "WRITE AND VERIFY(10)" },
	{ 0x2f, "VERIFY(10)" },
	{ 0x34, "PRE-FETCH(10)" },
	{ 0x35, "SYNCHRONIZE CACHE(10)" },
	{ 0x37, "READ DEFECT DATA(10)" },
	{ 0x3b, "WRITE BUFFER" },
	{ 0x3c, "READ BUFFER" },
	{ 0x3e, "READ LONG(10)" },
	{ 0x3f, "WRITE LONG(10)" },
	{ 0x41, "WRITE SAME(10)" },
	{ 0x42, "UNMAP" },
	{ 0x43, "READ TOC/PMA/ATIP" },
	{ 0x46, "GET CONFIGURATION" },
	{ 0x4a, "GET EVENT STATUS NOTIFICATION" },
	{ 0x4c, "LOG SELECT" },
	{ 0x4d, "LOG SENSE" },
	{ 0x51, "READ DISC INFORMATION" },
	{ 0x55, "MODE SELECT(10)" },
	{ 0x56, "RESERVE(10)" },
	{ 0x57, "RELEASE(10)" },
	{ 0x5a, "MODE SENSE(10)" },
	{ 0x5e, "PERSISTENT RESERVE IN" },
	{ 0x5f, "PERSISTENT RESERVE OUT" },
	{ 0x7e, "EXTENDED CDB" },
	{ 0x7f, "VARIABLE LENGTH" },
	{ 0x83, "THIRD-PARTY COPY OUT" },
	{ 0x84, "THIRD-PARTY COPY IN" },
	{ 0x85, "ATA PASS-THROUGH(16)" },
	{ 0x86, "ACCESS CONTROL IN" },
	{ 0x87, "ACCESS CONTROL OUT" },
	{ 0x88, "READ(16)" },
	{ 0x89, "COMPARE AND WRITE" },
	{ 0x8a, "WRITE(16)" },
	{ 0x8e, "WRITE AND VERIFY(16)" },
	{ 0x8f, "VERIFY(16)" },
	{ 0x90, "PRE-FETCH(16)" },
	{ 0x91, "SYNCHRONIZE CACHE(16)" },
	{ 0x93, "WRITE SAME(16)" },
	{ 0x9e, "SERVICE ACTION IN(16)" },
	{ 0x9f, "SERVICE ACTION OUT(16)" },
	{ 0xa0, "REPORT LUNS" },
	{ 0xa1, "ATA PASS-THROUGH(12)" },
	{ 0xa2, "SECURITY PROTOCOL IN" },
	{ 0xa3, "MAINTENANCE IN" },
	{ 0xa4, "MAINTENANCE OUT" },
	{ 0xa8, "READ(12)" },
	{ 0xaa, "WRITE(12)" },
	{ 0xaf, "VERIFY(12)" },
	{ 0xb5, "SECURITY PROTOCOL OUT" },
	{ 0xbe, "READ CD" },
};

const char *ostor_scsi_opcode_name(uint8_t opcode)
{
	size_t lo = 0, hi = OSTOR_ARRAY_SIZE(opnames);

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (opnames[mid].op == opcode)
			return opnames[mid].name;
		if (opnames[mid].op < opcode)
			lo = mid + 1;
		else
			hi = mid;
	}
	return opcode >= 0xc0 ? "VENDOR SPECIFIC" : "UNKNOWN";
}
