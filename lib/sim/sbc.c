/*
 * lib/sim/sbc.c - the simulated target's block commands (SBC-3): READ,
 * WRITE, VERIFY, COMPARE AND WRITE, SYNCHRONIZE CACHE, WRITE SAME, UNMAP,
 * READ CAPACITY(10/16), GET LBA STATUS and UFI/MMC READ FORMAT CAPACITIES, PREVENT ALLOW
 * MEDIUM REMOVAL (START STOP UNIT is in power.c); and the checks they
 * share (medium ready, write protection, LBA range).
 *
 * The handlers run under the target mutex, called from the dispatch table
 * of target.c.  A command touches the medium (store.c) only after every
 * field, the range and the data buffer passed, so a refused command
 * leaves the medium as it was.
 *
 * Copyright (C) 2026 The liborionstor authors.  LGPL-2.1-or-later.
 */
#include "sim/target_priv.h"

#include <string.h>

/* ---- common checks ------------------------------------------------------ */

bool sim_lu_ready(struct exec *x)
{
	struct sim_lu *lu = x->lu;

	if (!lu->present || !lu->loaded) {
		fail(x, OSTOR_SCSI_SENSE_NOT_READY, ASC_MEDIUM_NOT_PRESENT, 0);
		return false;
	}
	if (!lu->started) {
		/* 04h/02h: LOGICAL UNIT NOT READY, INITIALIZING COMMAND REQUIRED */
		fail(x, OSTOR_SCSI_SENSE_NOT_READY, ASC_NOT_READY, 0x02);
		return false;
	}
	return true;
}

static bool lu_writable(struct exec *x)
{
	if (x->lu->readonly) {
		fail(x, OSTOR_SCSI_SENSE_DATA_PROTECT, ASC_WRITE_PROTECTED, 0);
		return false;
	}
	return true;
}

/* An LBA past the last one is out of range even with zero blocks; so is
 * a range whose end overflows. */
static bool lba_ok(struct exec *x, uint64_t lba, uint64_t count)
{
	uint64_t blocks = x->lu->blocks;

	if (lba >= blocks || count > blocks - lba) {
		fail(x, OSTOR_SCSI_SENSE_ILLEGAL_REQUEST, ASC_LBA_OUT_OF_RANGE, 0);
		return false;
	}
	return true;
}

/* ---- READ / WRITE / VERIFY ---------------------------------------------- */

static void decode_lba(const uint8_t *c, uint8_t op, uint64_t *lba, uint32_t *count)
{
	switch (op) {
	case OSTOR_SCSI_OP_READ6:
	case OSTOR_SCSI_OP_WRITE6:
		*lba = ostori_get_be24(c + 1) & 0x1fffff;
		*count = c[4] ? c[4] : 256;
		break;
	case OSTOR_SCSI_OP_READ12:
	case OSTOR_SCSI_OP_WRITE12:
		*lba = ostori_get_be32(c + 2);
		*count = ostori_get_be32(c + 6);
		break;
	case OSTOR_SCSI_OP_READ16:
	case OSTOR_SCSI_OP_WRITE16:
	case OSTOR_SCSI_OP_VERIFY16:
	case OSTOR_SCSI_OP_SYNCHRONIZE_CACHE16:
	case OSTOR_SCSI_OP_WRITE_SAME16:
		*lba = ostori_get_be64(c + 2);
		*count = ostori_get_be32(c + 10);
		break;
	default: /* the 10-byte ones */
		*lba = ostori_get_be32(c + 2);
		*count = ostori_get_be16(c + 7);
		break;
	}
}

static bool is_6byte(uint8_t op)
{
	return op == OSTOR_SCSI_OP_READ6 || op == OSTOR_SCSI_OP_WRITE6;
}

struct io_ctx {
	struct sim_target *t;
	struct sim_lu *lu;
	uint64_t off;               /* medium byte offset of the buffer start */
	uint64_t bad;               /* failing medium byte offset */
	size_t miscompare;          /* buffer offset of the first difference */
};

#define IO_FAILED 1
#define IO_MISCOMPARE 2

static int seg_read(void *ctx, uint8_t *p, size_t n, size_t done)
{
	struct io_ctx *io = ctx;

	return sim_store_read(io->lu, io->off + done, p, n, &io->bad) ? IO_FAILED : 0;
}

static int seg_write(void *ctx, uint8_t *p, size_t n, size_t done)
{
	struct io_ctx *io = ctx;

	return sim_store_write(io->lu, io->off + done, p, n, &io->bad) ? IO_FAILED : 0;
}

static int seg_compare(void *ctx, uint8_t *p, size_t n, size_t done)
{
	struct io_ctx *io = ctx;

	for (size_t pos = 0; pos < n;) {
		size_t len = OSTOR_MIN(n - pos, (size_t)SCRATCH_SIZE);
		uint8_t *s = io->t->scratch;

		if (sim_store_read(io->lu, io->off + done + pos, s, len, &io->bad))
			return IO_FAILED;
		if (memcmp(p + pos, s, len)) {
			size_t i = 0;

			while (p[pos + i] == s[i])
				i++;
			io->miscompare = done + pos + i;
			return IO_MISCOMPARE;
		}
		pos += len;
	}
	return 0;
}

/* A null LU stores nothing, so it has nothing to compare with: it compares
 * against zeros, what a fresh thin LU reads (LBPRZ).  Deterministic: zeros
 * match, anything else miscompares at its first non-zero byte. */
static int seg_compare_zero(void *ctx, uint8_t *p, size_t n, size_t done)
{
	struct io_ctx *io = ctx;

	for (size_t i = 0; i < n; i++) {
		if (p[i]) {
			io->miscompare = done + i;
			return IO_MISCOMPARE;
		}
	}
	return 0;
}

/* The RDPROTECT/WRPROTECT/VRPROTECT field: no protection information. */
static bool no_protect(struct exec *x)
{
	if (x->cdb[1] & 0xe0) {
		bad_cdb(x, 1, 7);
		return false;
	}
	return true;
}

void sim_cmd_read(struct exec *x)
{
	struct sim_lu *lu = x->lu;
	struct io_ctx io = { .t = x->t, .lu = lu };
	uint64_t lba, bytes;
	uint32_t count;
	size_t m;

	decode_lba(x->cdb, x->op, &lba, &count);
	if (!is_6byte(x->op) && !no_protect(x))
		return;
	bytes = (uint64_t)count * lu->block_size;
	if (count > lu->max_transfer || !fits_size(bytes)) {
		bad_cdb(x, x->len_byte, -1);
		return;
	}
	if (!sim_lu_ready(x) || !lba_ok(x, lba, count) || !sim_data_in_ok(x, (size_t)bytes))
		return;
	m = OSTOR_MIN((size_t)bytes, x->total);
	io.off = lba * lu->block_size;
	/* A null LU stores nothing: no walk over the buffer. */
	if (!lu->null && sim_iov_walk(x->cmd, 0, m, seg_read, &io)) {
		uint64_t good = io.bad - io.off;

		x->cmd->transferred = (size_t)(good - good % lu->block_size);
		fail_info(x, OSTOR_SCSI_SENSE_MEDIUM_ERROR, ASC_UNRECOVERED_READ,
			  0, io.bad / lu->block_size);
		return;
	}
	x->cmd->transferred = m;
	if (bytes > x->total)
		x->cmd->overrun = true;
}

/* Write-through when the initiator asks (FUA) or the cache is off. */
static bool write_done(struct exec *x, bool fua)
{
	if ((fua || !x->lu->wce) && sim_store_sync(x->lu)) {
		fail(x, OSTOR_SCSI_SENSE_MEDIUM_ERROR, ASC_WRITE_ERROR, 0);
		return false;
	}
	return true;
}

void sim_cmd_write(struct exec *x)
{
	struct sim_lu *lu = x->lu;
	struct io_ctx io = { .t = x->t, .lu = lu };
	uint64_t lba, bytes;
	uint32_t count;
	bool fua = false;

	decode_lba(x->cdb, x->op, &lba, &count);
	if (!is_6byte(x->op)) {
		if (!no_protect(x))
			return;
		fua = x->cdb[1] & 0x08;
	}
	bytes = (uint64_t)count * lu->block_size;
	if (count > lu->max_transfer || !fits_size(bytes)) {
		bad_cdb(x, x->len_byte, -1);
		return;
	}
	if (!sim_lu_ready(x) || !lu_writable(x) || !lba_ok(x, lba, count) ||
	    !sim_data_out_ok(x, (size_t)bytes))
		return;
	io.off = lba * lu->block_size;
	if (!lu->null && sim_iov_walk(x->cmd, 0, (size_t)bytes, seg_write, &io)) {
		uint64_t good = io.bad - io.off;

		x->cmd->transferred = (size_t)(good - good % lu->block_size);
		fail_info(x, OSTOR_SCSI_SENSE_MEDIUM_ERROR, ASC_WRITE_ERROR, 0,
			  io.bad / lu->block_size);
		return;
	}
	x->cmd->transferred = (size_t)bytes;
	write_done(x, fua);
}

void sim_cmd_verify(struct exec *x)
{
	struct sim_lu *lu = x->lu;
	struct io_ctx io = { .t = x->t, .lu = lu };
	unsigned int bytchk = (x->cdb[1] >> 1) & 3;
	uint64_t lba, bytes;
	uint32_t count;
	int r;

	decode_lba(x->cdb, x->op, &lba, &count);
	if (!no_protect(x))
		return;
	if (bytchk > 1) {
		/* 10b reserved, 11b (one block against all) not supported */
		bad_cdb(x, 1, 2);
		return;
	}
	bytes = (uint64_t)count * lu->block_size;
	if (bytchk && (count > lu->max_transfer || !fits_size(bytes))) {
		bad_cdb(x, x->len_byte, -1);
		return;
	}
	if (!sim_lu_ready(x) || !lba_ok(x, lba, count))
		return;
	io.off = lba * lu->block_size;
	if (!bytchk) {
		/* Medium verification: read the range back (file errors). */
		for (uint64_t pos = 0; lu->fd >= 0 && pos < bytes;) {
			size_t n = (size_t)OSTOR_MIN(bytes - pos, (uint64_t)SCRATCH_SIZE);

			if (sim_store_read(lu, io.off + pos, x->t->scratch, n, &io.bad)) {
				fail_info(x, OSTOR_SCSI_SENSE_MEDIUM_ERROR,
					  ASC_UNRECOVERED_READ, 0,
					  io.bad / lu->block_size);
				return;
			}
			pos += n;
		}
		return;
	}
	if (!sim_data_out_ok(x, (size_t)bytes))
		return;
	x->cmd->transferred = (size_t)bytes;
	/* A null LU holds zeros, as for COMPARE AND WRITE (its store read
	 * leaves the scratch buffer as it was: not an answer). */
	r = sim_iov_walk(x->cmd, 0, (size_t)bytes, lu->null ? seg_compare_zero : seg_compare, &io);
	if (r == IO_FAILED)
		fail_info(x, OSTOR_SCSI_SENSE_MEDIUM_ERROR, ASC_UNRECOVERED_READ, 0,
			  io.bad / lu->block_size);
	else if (r == IO_MISCOMPARE)
		/* INFORMATION: offset of the first differing byte (SBC-3). */
		fail_info(x, OSTOR_SCSI_SENSE_MISCOMPARE, ASC_MISCOMPARE, 0,
			  io.miscompare);
}

/*
 * COMPARE AND WRITE (SBC-3 5.2): the data-out buffer is the verify data
 * then the write data, count blocks each.  The whole command runs under
 * the target lock, so no other command reads or changes the blocks
 * between the compare and the write (the atomicity SBC asks for); on a
 * miscompare nothing is written.
 */
void sim_cmd_compare_and_write(struct exec *x)
{
	struct sim_lu *lu = x->lu;
	struct io_ctx io = { .t = x->t, .lu = lu };
	uint64_t lba = ostori_get_be64(x->cdb + 2);
	uint32_t count = x->cdb[13], bs = lu->block_size;
	bool fua = x->cdb[1] & 0x08;
	size_t bytes;
	int r;

	if (!no_protect(x))
		return;
	if (count > caw_limit(lu)) {
		bad_cdb(x, 13, -1);
		return;
	}
	if (!sim_lu_ready(x) || !lu_writable(x) || !lba_ok(x, lba, count))
		return;
	/* Zero blocks: nothing compared or written, not an error. */
	if (count == 0)
		return;
	bytes = (size_t)count * bs;
	if (!sim_data_out_ok(x, 2 * bytes))
		return;
	x->cmd->transferred = 2 * bytes;
	io.off = lba * bs;
	r = sim_iov_walk(x->cmd, 0, bytes, lu->null ? seg_compare_zero : seg_compare, &io);
	if (r == IO_FAILED) {
		fail_info(x, OSTOR_SCSI_SENSE_MEDIUM_ERROR, ASC_UNRECOVERED_READ, 0,
			  io.bad / bs);
		return;
	}
	if (r == IO_MISCOMPARE) {
		/* INFORMATION: offset of the first differing byte in the
		 * data-out buffer, which starts with the verify data. */
		fail_info(x, OSTOR_SCSI_SENSE_MISCOMPARE, ASC_MISCOMPARE, 0,
			  io.miscompare);
		return;
	}
	if (sim_iov_walk(x->cmd, bytes, bytes, seg_write, &io)) {
		uint64_t good = io.bad - io.off;

		x->cmd->transferred = bytes + (size_t)(good - good % bs);
		fail_info(x, OSTOR_SCSI_SENSE_MEDIUM_ERROR, ASC_WRITE_ERROR, 0,
			  io.bad / bs);
		return;
	}
	write_done(x, fua);
}

void sim_cmd_sync(struct exec *x)
{
	uint64_t lba;
	uint32_t count;

	decode_lba(x->cdb, x->op, &lba, &count);
	if (!sim_lu_ready(x))
		return;
	/* zero blocks: from lba to the end of the medium */
	if (!lba_ok(x, lba, count ? count : 1))
		return;
	if (sim_store_sync(x->lu))
		fail(x, OSTOR_SCSI_SENSE_MEDIUM_ERROR, ASC_WRITE_ERROR, 0);
}

static bool all_zero(const uint8_t *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (p[i])
			return false;
	return true;
}

void sim_cmd_write_same(struct exec *x)
{
	struct sim_lu *lu = x->lu;
	uint8_t *s = x->t->scratch, b1 = x->cdb[1];
	bool ndob = x->op == OSTOR_SCSI_OP_WRITE_SAME16 && (b1 & 0x01);
	bool unmap = (b1 & 0x08) && !lu->thick;   /* LBPWS 0: the bit is ignored */
	uint32_t count, bs = lu->block_size;
	uint64_t lba, off, bytes, bad = 0;

	decode_lba(x->cdb, x->op, &lba, &count);
	if (!no_protect(x))
		return;
	if (b1 & 0x10) {                      /* ANCHOR: ANC_SUP is 0 */
		bad_cdb(x, 1, 4);
		return;
	}
	if (b1 & 0x06) {                      /* obsolete PBDATA/LBDATA */
		bad_cdb(x, 1, (b1 & 0x04) ? 2 : 1);
		return;
	}
	if (x->op == OSTOR_SCSI_OP_WRITE_SAME10 && (b1 & 0x01)) {
		bad_cdb(x, 1, 0);
		return;
	}
	/* WSNZ is set in the Block Limits page: zero blocks is not "to the
	 * end of the medium" here. */
	if (count == 0 || count > SIM_MAX_WRITE_SAME_LEN) {
		bad_cdb(x, x->len_byte, -1);
		return;
	}
	if (!sim_lu_ready(x) || !lu_writable(x) || !lba_ok(x, lba, count) ||
	    !sim_data_out_ok(x, ndob ? 0 : bs))
		return;
	off = lba * bs;
	bytes = (uint64_t)count * bs;
	if (!ndob) {
		sim_copy_from_iov(x, s, bs);
		x->cmd->transferred = bs;
	}
	if (ndob || all_zero(s, bs)) {
		if (sim_store_zero(x->t, lu, off, bytes, unmap, &bad))
			goto io_error;
	} else {
		for (uint32_t i = bs; i < SCRATCH_SIZE; i += bs)
			memcpy(s + i, s, bs);
		for (uint64_t pos = 0; pos < bytes;) {
			size_t n = (size_t)OSTOR_MIN(bytes - pos, (uint64_t)SCRATCH_SIZE);

			if (sim_store_write(lu, off + pos, s, n, &bad))
				goto io_error;
			pos += n;
		}
	}
	write_done(x, false);
	return;
io_error:
	fail_info(x, OSTOR_SCSI_SENSE_MEDIUM_ERROR, ASC_WRITE_ERROR, 0, bad / bs);
}

void sim_cmd_unmap(struct exec *x)
{
	struct sim_lu *lu = x->lu;
	uint8_t *p = x->t->scratch;
	size_t plen = ostori_get_be16(x->cdb + 7), avail, ndesc;
	uint64_t bad = 0;

	/* A fully provisioned LU has no UNMAP (LBPU 0). */
	if (lu->thick) {
		fail(x, OSTOR_SCSI_SENSE_ILLEGAL_REQUEST, ASC_INVALID_OPCODE, 0);
		return;
	}
	if (x->cdb[1] & 0x01) {               /* ANCHOR */
		bad_cdb(x, 1, 0);
		return;
	}
	if (!sim_lu_ready(x) || !lu_writable(x))
		return;
	if (plen == 0)
		return;
	if (plen < 8) {
		bad_param_len(x);
		return;
	}
	if (!sim_data_out_ok(x, plen))
		return;
	sim_copy_from_iov(x, p, plen);
	x->cmd->transferred = plen;
	/* A partial trailing descriptor is ignored (SBC-3 5.28.2). */
	avail = OSTOR_MIN((size_t)ostori_get_be16(p + 2), plen - 8);
	ndesc = avail / 16;
	if (ndesc > SIM_MAX_UNMAP_DESCRIPTORS) {
		bad_param(x, 2, -1);
		return;
	}
	/* Validate every descriptor before touching the medium. */
	for (size_t i = 0; i < ndesc; i++) {
		const uint8_t *d = p + 8 + 16 * i;
		uint64_t lba = ostori_get_be64(d);
		uint32_t cnt = ostori_get_be32(d + 8);

		if (cnt > SIM_MAX_UNMAP_LBA_COUNT) {
			bad_param(x, (unsigned int)(8 + 16 * i + 8), -1);
			return;
		}
		if (cnt && !lba_ok(x, lba, cnt))
			return;
	}
	for (size_t i = 0; i < ndesc; i++) {
		const uint8_t *d = p + 8 + 16 * i;
		uint64_t lba = ostori_get_be64(d);
		uint32_t cnt = ostori_get_be32(d + 8);

		if (cnt && sim_store_zero(x->t, lu, lba * lu->block_size,
					  (uint64_t)cnt * lu->block_size, true, &bad)) {
			fail_info(x, OSTOR_SCSI_SENSE_MEDIUM_ERROR, ASC_WRITE_ERROR,
				  0, bad / lu->block_size);
			return;
		}
	}
	write_done(x, false);
}

/* ---- capacity ----------------------------------------------------------- */

void sim_cmd_read_capacity10(struct exec *x)
{
	struct sim_lu *lu = x->lu;
	uint8_t buf[8];

	/* PMI = 0 requires LBA 0 (SBC-3 5.16.1). */
	if (!(x->cdb[8] & 0x01) && ostori_get_be32(x->cdb + 2)) {
		bad_cdb(x, 2, -1);
		return;
	}
	if (!sim_lu_ready(x))
		return;
	/* FFFFFFFFh tells the initiator to use READ CAPACITY(16). */
	ostori_put_be32(buf, sat32(lu->blocks - 1));
	ostori_put_be32(buf + 4, lu->block_size);
	sim_data_in(x, buf, sizeof(buf), sizeof(buf));
}

/*
 * GET LBA STATUS (SBC-3 5.7): from the starting LBA on, runs of mapped
 * (0) and deallocated (1) blocks, as many 16-byte descriptors as fit the
 * allocation length (no partial descriptor: below 24 bytes only the
 * header), the last one possibly ending at the end of the LU.  The
 * PARAMETER DATA LENGTH counts the descriptors built, at least one, so
 * a short allocation length tells the initiator there is more.  Disks
 * only (the command is SBC's); every sim disk is thin provisioned
 * (LBPME), an untracked one reports all blocks mapped.
 */
#define LBA_STATUS_MAX_DESC ((SCRATCH_SIZE - 8) / 16)

static void get_lba_status(struct exec *x)
{
	struct sim_lu *lu = x->lu;
	uint64_t lba = ostori_get_be64(x->cdb + 2);
	uint32_t alloc = ostori_get_be32(x->cdb + 10);
	uint8_t *buf = x->t->scratch;
	size_t want, n = 0, send;

	if (lu->type != OSTOR_TYPE_DISK) {
		bad_cdb(x, 1, 4);
		return;
	}
	if (!sim_lu_ready(x) || !lba_ok(x, lba, 1))
		return;
	want = alloc >= 24 ? OSTOR_MIN((size_t)(alloc - 8) / 16, (size_t)LBA_STATUS_MAX_DESC) : 1;
	memset(buf, 0, 8);
	while (n < want && lba < lu->blocks) {
		uint8_t *d = buf + 8 + 16 * n;
		uint64_t run = 0, limit = OSTOR_MIN(lu->blocks - lba, (uint64_t)UINT32_MAX);
		bool mapped = true, m;

		/* Merge the store's runs into one of at most 2^32-1 blocks. */
		while (run < limit) {
			uint64_t k = sim_store_lba_status(lu, lba + run, limit - run, &m);

			if (run && m != mapped)
				break;
			mapped = m;
			run += k;
		}
		memset(d, 0, 16);
		ostori_put_be64(d, lba);
		ostori_put_be32(d + 8, (uint32_t)run);
		d[12] = mapped ? 0 : 1;
		lba += run;
		n++;
	}
	ostori_put_be32(buf, (uint32_t)(4 + 16 * n));
	/* Whole descriptors only. */
	send = alloc < 8 ? alloc : 8 + 16 * OSTOR_MIN(n, (size_t)(alloc - 8) / 16);
	sim_data_in(x, buf, 8 + 16 * n, send);
}

void sim_cmd_service_action_in(struct exec *x)
{
	struct sim_lu *lu = x->lu;
	uint8_t buf[32];

	if ((x->cdb[1] & 0x1f) == OSTOR_SCSI_SAI_GET_LBA_STATUS) {
		get_lba_status(x);
		return;
	}
	if ((x->cdb[1] & 0x1f) != OSTOR_SCSI_SAI_READ_CAPACITY16) {
		bad_cdb(x, 1, 4);
		return;
	}
	if (!(x->cdb[14] & 0x01) && ostori_get_be64(x->cdb + 2)) {
		bad_cdb(x, 2, -1);
		return;
	}
	if (!sim_lu_ready(x))
		return;
	memset(buf, 0, sizeof(buf));
	ostori_put_be64(buf, lu->blocks - 1);
	ostori_put_be32(buf + 8, lu->block_size);
	if (lu->type == OSTOR_TYPE_DISK && !lu->thick)
		buf[14] = 0xc0;             /* LBPME (UNMAP supported), LBPRZ */
	sim_data_in(x, buf, sizeof(buf), ostori_get_be32(x->cdb + 10));
}

/* UFI/MMC READ FORMAT CAPACITIES: the current/maximum descriptor only. */
void sim_cmd_read_format_capacities(struct exec *x)
{
	struct sim_lu *lu = x->lu;
	bool medium = lu->present && lu->loaded;
	uint8_t buf[12];

	memset(buf, 0, sizeof(buf));
	buf[3] = 8;
	ostori_put_be32(buf + 4, sat32(lu->blocks));
	buf[8] = medium ? 0x02 : 0x03;      /* formatted media / no media */
	ostori_put_be24(buf + 9, lu->block_size);
	sim_data_in(x, buf, sizeof(buf), ostori_get_be16(x->cdb + 7));
}

/* ---- PREVENT ALLOW MEDIUM REMOVAL (START STOP UNIT: power.c) ----------- */

void sim_cmd_prevent_allow(struct exec *x)
{
	uint8_t prevent = x->cdb[4] & 0x03;

	if (prevent > 1) {                    /* obsolete in SBC-3 */
		bad_cdb(x, 4, 1);
		return;
	}
	x->lu->prevent = prevent;
}
