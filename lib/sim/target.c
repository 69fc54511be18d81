/*
 * lib/sim/target.c - a simulated SCSI target (SPC-4 / SBC-3 subset).
 *
 * See target.h for the contract with transport models.  Everything below
 * runs under the target mutex except the fault hook.  Every CDB and every
 * parameter list is treated as hostile: lengths are bounded by what the
 * command defines and by the buffers the transport handed us.
 *
 * Copyright (C) 2026 The liborionstor authors.  LGPL-2.1-or-later.
 */
#include "core/internal.h"
#include "sim/target.h"
#include "util/byteorder.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#ifndef MAP_NORESERVE
#define MAP_NORESERVE 0
#endif

/* Bounce buffer size: holds any 16-bit parameter list and is a multiple
 * of every block size. */
#define SCRATCH_SIZE 65536u

/* Pending unit attentions, reported in this order. */
#define UA_RESET 0x1u     /* 29h/00h POWER ON, RESET, OR BUS DEVICE RESET */
#define UA_MEDIUM 0x2u    /* 28h/00h NOT READY TO READY CHANGE, MEDIUM MAY HAVE CHANGED */
#define UA_CAPACITY 0x4u  /* 2Ah/09h CAPACITY DATA HAS CHANGED */

/* Additional sense codes used here. */
#define ASC_NOT_READY 0x04
#define ASC_WRITE_ERROR 0x0c
#define ASC_UNRECOVERED_READ 0x11
#define ASC_PARAM_LIST_LENGTH 0x1a
#define ASC_MISCOMPARE 0x1d
#define ASC_INVALID_OPCODE 0x20
#define ASC_LBA_OUT_OF_RANGE 0x21
#define ASC_INVALID_FIELD_CDB 0x24
#define ASC_LUN_NOT_SUPPORTED 0x25
#define ASC_INVALID_FIELD_PARAM 0x26
#define ASC_WRITE_PROTECTED 0x27
#define ASC_MEDIUM_CHANGED 0x28
#define ASC_RESET 0x29
#define ASC_PARAMS_CHANGED 0x2a
#define ASC_SAVING_NOT_SUPPORTED 0x39
#define ASC_MEDIUM_NOT_PRESENT 0x3a
#define ASC_REMOVAL_PREVENTED 0x53

struct sim_sense {
	uint8_t key, asc, ascq;
	bool info_valid;
	uint64_t info;
	bool sksv;
	uint8_t sks[3];
};

struct sim_lu {
	uint32_t lun;
	int type;
	uint32_t block_size;
	uint64_t blocks;
	uint32_t max_transfer;
	bool readonly, removable;
	int fd;
	uint64_t fd_offset;
	bool null;                  /* no backing: data is neither stored nor read */
	uint8_t *ram;               /* RAM backing (fd < 0, !null) */
	size_t ram_len;             /* mapping length, page-rounded */
	char vendor[9], product[17], revision[5], serial[33];
	uint64_t naa;
	/* state */
	bool present;               /* a medium is in the device */
	bool loaded;                /* ...and not ejected by START STOP UNIT */
	bool started;
	bool prevent;
	bool wce;
	unsigned int ua;            /* UA_* bits */
	bool held;                  /* sense of the last CHECK CONDITION */
	struct sim_sense held_sense;
};

struct sim_fault {
	uint32_t lun;
	int opcode;
	unsigned int count;
	bool check;
	uint8_t status, key, asc, ascq;
};

struct sim_target {
	pthread_mutex_t lock;
	struct sim_lu **lus;        /* sorted by lun: REPORT LUNS order */
	size_t nlus, lus_cap;
	struct sim_fault *faults;
	size_t nfaults, faults_cap;
	sim_fault_fn hook;
	void *hook_ud;
	bool has_hook;              /* atomic: look under the lock only when set */
	struct sim_stats stats;
	uint8_t *scratch;           /* SCRATCH_SIZE, used under the lock */
	uint8_t *zeros;             /* SCRATCH_SIZE of zeros, never written */
	unsigned int id;
};

/* One command being executed. */
struct exec {
	struct sim_target *t;
	struct sim_lu *lu;          /* NULL: the LUN is not configured */
	struct sim_cmd *cmd;
	const uint8_t *cdb;
	uint8_t op;
	uint8_t len_byte;           /* CDB offset of the transfer/allocation length */
	size_t total;               /* bytes in the data buffer */
	uint8_t status;
	struct sim_sense sense;
};

static unsigned int next_target_id;

static uint32_t sat32(uint64_t v)
{
	return v > 0xffffffffu ? 0xffffffffu : (uint32_t)v;
}

static bool fits_size(uint64_t v)
{
	return v == (uint64_t)(size_t)v;
}

/* ---- sense -------------------------------------------------------------- */

static void fail(struct exec *x, uint8_t key, uint8_t asc, uint8_t ascq)
{
	x->status = OSTOR_SCSI_STATUS_CHECK_CONDITION;
	memset(&x->sense, 0, sizeof(x->sense));
	x->sense.key = key;
	x->sense.asc = asc;
	x->sense.ascq = ascq;
}

static void fail_info(struct exec *x, uint8_t key, uint8_t asc, uint8_t ascq,
		      uint64_t info)
{
	fail(x, key, asc, ascq);
	x->sense.info_valid = true;
	x->sense.info = info;
}

/* INVALID FIELD IN CDB / PARAMETER LIST with the sense-key specific field
 * pointer (SKSV, C/D, BPV + bit pointer, byte). */
static void fail_field(struct exec *x, bool in_cdb, unsigned int byte, int bit)
{
	fail(x, OSTOR_SCSI_SENSE_ILLEGAL_REQUEST,
	     in_cdb ? ASC_INVALID_FIELD_CDB : ASC_INVALID_FIELD_PARAM, 0);
	x->sense.sksv = true;
	x->sense.sks[0] = (uint8_t)(0x80 | (in_cdb ? 0x40 : 0) |
				    (bit >= 0 ? 0x08 | (bit & 7) : 0));
	ostori_put_be16(&x->sense.sks[1], (uint16_t)byte);
}

static void bad_cdb(struct exec *x, unsigned int byte, int bit)
{
	fail_field(x, true, byte, bit);
}

static void bad_param(struct exec *x, unsigned int byte, int bit)
{
	fail_field(x, false, byte, bit);
}

static void bad_param_len(struct exec *x)
{
	fail(x, OSTOR_SCSI_SENSE_ILLEGAL_REQUEST, ASC_PARAM_LIST_LENGTH, 0);
}

/* Fixed format, 18 bytes.  The 4-byte INFORMATION field cannot hold a
 * larger value: then VALID stays 0 (SPC-4 4.5.3). */
static size_t sense_fixed(const struct sim_sense *s, uint8_t *buf)
{
	memset(buf, 0, 18);
	buf[0] = 0x70;
	if (s->info_valid && s->info <= 0xffffffffu) {
		buf[0] |= 0x80;
		ostori_put_be32(buf + 3, (uint32_t)s->info);
	}
	buf[2] = s->key & 0x0f;
	buf[7] = 10;
	buf[12] = s->asc;
	buf[13] = s->ascq;
	if (s->sksv)
		memcpy(buf + 15, s->sks, 3);
	return 18;
}

/* Descriptor format: header, information and sense-key specific
 * descriptors (at most 28 bytes). */
static size_t sense_desc(const struct sim_sense *s, uint8_t *buf)
{
	size_t p = 8;

	memset(buf, 0, 28);
	buf[0] = 0x72;
	buf[1] = s->key & 0x0f;
	buf[2] = s->asc;
	buf[3] = s->ascq;
	if (s->info_valid) {
		buf[p] = 0x00;
		buf[p + 1] = 0x0a;
		buf[p + 2] = 0x80;
		ostori_put_be64(buf + p + 4, s->info);
		p += 12;
	}
	if (s->sksv) {
		buf[p] = 0x02;
		buf[p + 1] = 0x06;
		memcpy(buf + p + 4, s->sks, 3);
		p += 8;
	}
	buf[7] = (uint8_t)(p - 8);
	return p;
}

/* ---- data buffers ------------------------------------------------------- */

static size_t iov_total(const struct iovec *iov, int cnt)
{
	size_t total = 0;

	if (!iov || cnt <= 0)
		return 0;
	for (int i = 0; i < cnt; i++) {
		if (iov[i].iov_len > SIZE_MAX - total)
			return SIZE_MAX;
		total += iov[i].iov_len;
	}
	return total;
}

typedef int (*seg_fn)(void *ctx, uint8_t *p, size_t n, size_t done);

/* Call fn on bytes [off, off + len) of the data buffer, one contiguous
 * piece at a time; done is the offset of the piece from off.  The caller
 * has checked that the buffer holds off + len bytes. */
static int iov_walk(const struct sim_cmd *cmd, size_t off, size_t len,
		    seg_fn fn, void *ctx)
{
	size_t done = 0;

	for (int i = 0; i < cmd->iovcnt && done < len; i++) {
		size_t l = cmd->iov[i].iov_len, n;
		int r;

		if (off >= l) {
			off -= l;
			continue;
		}
		n = OSTOR_MIN(l - off, len - done);
		r = fn(ctx, (uint8_t *)cmd->iov[i].iov_base + off, n, done);
		if (r)
			return r;
		done += n;
		off = 0;
	}
	return 0;
}

static int seg_copy_out(void *ctx, uint8_t *p, size_t n, size_t done)
{
	memcpy(p, (const uint8_t *)ctx + done, n);
	return 0;
}

static int seg_copy_in(void *ctx, uint8_t *p, size_t n, size_t done)
{
	memcpy((uint8_t *)ctx + done, p, n);
	return 0;
}

static void copy_to_iov(struct exec *x, size_t off, const void *src, size_t len)
{
	iov_walk(x->cmd, off, len, seg_copy_out, (void *)src);
}

static void copy_from_iov(struct exec *x, void *dst, size_t len)
{
	iov_walk(x->cmd, 0, len, seg_copy_in, dst);
}

/* A command about to move n bytes to the initiator. */
static bool data_in_ok(struct exec *x, size_t n)
{
	if (n && x->cmd->dir != OSTOR_DIR_FROM_DEVICE) {
		bad_cdb(x, x->len_byte, -1);
		return false;
	}
	return true;
}

/* A command about to consume n bytes from the initiator: nothing happens
 * unless all of them are there (see target.h). */
static bool data_out_ok(struct exec *x, size_t n)
{
	if (n && (x->cmd->dir != OSTOR_DIR_TO_DEVICE || x->total < n)) {
		bad_cdb(x, x->len_byte, -1);
		return false;
	}
	return true;
}

/* Return a built response, truncated to the allocation length (SPC-4
 * 4.2.5.6) and then to the buffer (overrun). */
static void data_in(struct exec *x, const void *buf, size_t resp_len, size_t alloc)
{
	size_t n = OSTOR_MIN(resp_len, alloc), m;

	if (!data_in_ok(x, n))
		return;
	m = OSTOR_MIN(n, x->total);
	copy_to_iov(x, 0, buf, m);
	x->cmd->transferred = m;
	if (n > x->total)
		x->cmd->overrun = true;
}

/* ---- storage ------------------------------------------------------------ */

/* off and len are in bytes relative to block 0 and were range-checked. */
static int store_read(struct sim_lu *lu, uint64_t off, uint8_t *buf, size_t len,
		      uint64_t *bad)
{
	if (lu->null)
		return 0; /* the buffer keeps what it held */
	if (lu->fd < 0) {
		memcpy(buf, lu->ram + off, len);
		return 0;
	}
	while (len) {
		ssize_t r = pread(lu->fd, buf, OSTOR_MIN(len, (size_t)1 << 30),
				  (off_t)(lu->fd_offset + off));

		if (r < 0) {
			if (errno == EINTR)
				continue;
			*bad = off;
			return -1;
		}
		if (r == 0) {
			/* Past the end of the file: a sparse tail. */
			memset(buf, 0, len);
			return 0;
		}
		buf += r;
		off += (uint64_t)r;
		len -= (size_t)r;
	}
	return 0;
}

static int store_write(struct sim_lu *lu, uint64_t off, const uint8_t *buf,
		       size_t len, uint64_t *bad)
{
	if (lu->null)
		return 0;
	if (lu->fd < 0) {
		memcpy(lu->ram + off, buf, len);
		return 0;
	}
	while (len) {
		ssize_t r = pwrite(lu->fd, buf, OSTOR_MIN(len, (size_t)1 << 30),
				   (off_t)(lu->fd_offset + off));

		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0) {
			*bad = off;
			return -1;
		}
		buf += r;
		off += (uint64_t)r;
		len -= (size_t)r;
	}
	return 0;
}

/* Deallocate (punch) or write zeros.  RAM always deallocates: the pages
 * read back as zero, so the result is the same either way, and a huge
 * WRITE SAME of zeros does not commit memory. */
static int store_zero(struct sim_target *t, struct sim_lu *lu, uint64_t off,
		      uint64_t len, bool punch, uint64_t *bad)
{
	if (lu->null)
		return 0;
	if (lu->fd < 0) {
		uintptr_t pg = (uintptr_t)sysconf(_SC_PAGESIZE);
		uint8_t *p = lu->ram + off, *end = p + len;
		uint8_t *a = (uint8_t *)(((uintptr_t)p + pg - 1) & ~(pg - 1));
		uint8_t *b = (uint8_t *)((uintptr_t)end & ~(pg - 1));

		if (a < b && madvise(a, (size_t)(b - a), MADV_DONTNEED) == 0) {
			memset(p, 0, (size_t)(a - p));
			memset(b, 0, (size_t)(end - b));
		} else {
			memset(p, 0, (size_t)len);
		}
		return 0;
	}
#ifdef FALLOC_FL_PUNCH_HOLE
	if (punch && fallocate(lu->fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE,
			       (off_t)(lu->fd_offset + off), (off_t)len) == 0)
		return 0;
	/* Not supported by the file system: write the zeros instead. */
#endif
	while (len) {
		size_t n = (size_t)OSTOR_MIN(len, (uint64_t)SCRATCH_SIZE);

		if (store_write(lu, off, t->zeros, n, bad))
			return -1;
		off += n;
		len -= n;
	}
	return 0;
}

static int store_sync(struct sim_lu *lu)
{
	if (lu->fd < 0)
		return 0;
	while (fdatasync(lu->fd) < 0) {
		if (errno != EINTR)
			return -1;
	}
	return 0;
}

/* ---- common checks ------------------------------------------------------ */

static bool lu_ready(struct exec *x)
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

static bool take_ua(struct sim_lu *lu, struct sim_sense *s, bool consume)
{
	unsigned int bit;

	if (!lu->ua)
		return false;
	memset(s, 0, sizeof(*s));
	s->key = OSTOR_SCSI_SENSE_UNIT_ATTENTION;
	if (lu->ua & UA_RESET) {
		bit = UA_RESET;
		s->asc = ASC_RESET;
	} else if (lu->ua & UA_MEDIUM) {
		bit = UA_MEDIUM;
		s->asc = ASC_MEDIUM_CHANGED;
	} else if (lu->ua & UA_CAPACITY) {
		bit = UA_CAPACITY;
		s->asc = ASC_PARAMS_CHANGED;
		s->ascq = 0x09;
	} else {
		return false;
	}
	if (consume)
		lu->ua &= ~bit;
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

	return store_read(io->lu, io->off + done, p, n, &io->bad) ? IO_FAILED : 0;
}

static int seg_write(void *ctx, uint8_t *p, size_t n, size_t done)
{
	struct io_ctx *io = ctx;

	return store_write(io->lu, io->off + done, p, n, &io->bad) ? IO_FAILED : 0;
}

static int seg_compare(void *ctx, uint8_t *p, size_t n, size_t done)
{
	struct io_ctx *io = ctx;

	for (size_t pos = 0; pos < n;) {
		size_t len = OSTOR_MIN(n - pos, (size_t)SCRATCH_SIZE);
		uint8_t *s = io->t->scratch;

		if (store_read(io->lu, io->off + done + pos, s, len, &io->bad))
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

static void cmd_read(struct exec *x)
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
	if (!lu_ready(x) || !lba_ok(x, lba, count) || !data_in_ok(x, (size_t)bytes))
		return;
	m = OSTOR_MIN((size_t)bytes, x->total);
	io.off = lba * lu->block_size;
	if (iov_walk(x->cmd, 0, m, seg_read, &io)) {
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
	if ((fua || !x->lu->wce) && store_sync(x->lu)) {
		fail(x, OSTOR_SCSI_SENSE_MEDIUM_ERROR, ASC_WRITE_ERROR, 0);
		return false;
	}
	return true;
}

static void cmd_write(struct exec *x)
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
	if (!lu_ready(x) || !lu_writable(x) || !lba_ok(x, lba, count) ||
	    !data_out_ok(x, (size_t)bytes))
		return;
	io.off = lba * lu->block_size;
	if (iov_walk(x->cmd, 0, (size_t)bytes, seg_write, &io)) {
		uint64_t good = io.bad - io.off;

		x->cmd->transferred = (size_t)(good - good % lu->block_size);
		fail_info(x, OSTOR_SCSI_SENSE_MEDIUM_ERROR, ASC_WRITE_ERROR, 0,
			  io.bad / lu->block_size);
		return;
	}
	x->cmd->transferred = (size_t)bytes;
	write_done(x, fua);
}

static void cmd_verify(struct exec *x)
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
	if (!lu_ready(x) || !lba_ok(x, lba, count))
		return;
	io.off = lba * lu->block_size;
	if (!bytchk) {
		/* Medium verification: read the range back (file errors). */
		for (uint64_t pos = 0; lu->fd >= 0 && pos < bytes;) {
			size_t n = (size_t)OSTOR_MIN(bytes - pos, (uint64_t)SCRATCH_SIZE);

			if (store_read(lu, io.off + pos, x->t->scratch, n, &io.bad)) {
				fail_info(x, OSTOR_SCSI_SENSE_MEDIUM_ERROR,
					  ASC_UNRECOVERED_READ, 0,
					  io.bad / lu->block_size);
				return;
			}
			pos += n;
		}
		return;
	}
	if (!data_out_ok(x, (size_t)bytes))
		return;
	x->cmd->transferred = (size_t)bytes;
	r = iov_walk(x->cmd, 0, (size_t)bytes, seg_compare, &io);
	if (r == IO_FAILED)
		fail_info(x, OSTOR_SCSI_SENSE_MEDIUM_ERROR, ASC_UNRECOVERED_READ, 0,
			  io.bad / lu->block_size);
	else if (r == IO_MISCOMPARE)
		/* INFORMATION: offset of the first differing byte (SBC-3). */
		fail_info(x, OSTOR_SCSI_SENSE_MISCOMPARE, ASC_MISCOMPARE, 0,
			  io.miscompare);
}

/* MAXIMUM COMPARE AND WRITE LENGTH (VPD B0h byte 5): SBC-3 wants it no
 * larger than the MAXIMUM TRANSFER LENGTH. */
static uint32_t caw_limit(const struct sim_lu *lu)
{
	return OSTOR_MIN(SIM_MAX_COMPARE_WRITE_LEN, lu->max_transfer);
}

/*
 * COMPARE AND WRITE (SBC-3 5.2): the data-out buffer is the verify data
 * then the write data, count blocks each.  The whole command runs under
 * the target lock, so no other command reads or changes the blocks
 * between the compare and the write (the atomicity SBC asks for); on a
 * miscompare nothing is written.
 */
static void cmd_compare_and_write(struct exec *x)
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
	if (!lu_ready(x) || !lu_writable(x) || !lba_ok(x, lba, count))
		return;
	/* Zero blocks: nothing compared or written, not an error. */
	if (count == 0)
		return;
	bytes = (size_t)count * bs;
	if (!data_out_ok(x, 2 * bytes))
		return;
	x->cmd->transferred = 2 * bytes;
	io.off = lba * bs;
	r = iov_walk(x->cmd, 0, bytes, lu->null ? seg_compare_zero : seg_compare, &io);
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
	if (iov_walk(x->cmd, bytes, bytes, seg_write, &io)) {
		uint64_t good = io.bad - io.off;

		x->cmd->transferred = bytes + (size_t)(good - good % bs);
		fail_info(x, OSTOR_SCSI_SENSE_MEDIUM_ERROR, ASC_WRITE_ERROR, 0,
			  io.bad / bs);
		return;
	}
	write_done(x, fua);
}

static void cmd_sync(struct exec *x)
{
	uint64_t lba;
	uint32_t count;

	decode_lba(x->cdb, x->op, &lba, &count);
	if (!lu_ready(x))
		return;
	/* zero blocks: from lba to the end of the medium */
	if (!lba_ok(x, lba, count ? count : 1))
		return;
	if (store_sync(x->lu))
		fail(x, OSTOR_SCSI_SENSE_MEDIUM_ERROR, ASC_WRITE_ERROR, 0);
}

static bool all_zero(const uint8_t *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (p[i])
			return false;
	return true;
}

static void cmd_write_same(struct exec *x)
{
	struct sim_lu *lu = x->lu;
	uint8_t *s = x->t->scratch, b1 = x->cdb[1];
	bool ndob = x->op == OSTOR_SCSI_OP_WRITE_SAME16 && (b1 & 0x01);
	bool unmap = b1 & 0x08;
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
	if (!lu_ready(x) || !lu_writable(x) || !lba_ok(x, lba, count) ||
	    !data_out_ok(x, ndob ? 0 : bs))
		return;
	off = lba * bs;
	bytes = (uint64_t)count * bs;
	if (!ndob) {
		copy_from_iov(x, s, bs);
		x->cmd->transferred = bs;
	}
	if (ndob || all_zero(s, bs)) {
		if (store_zero(x->t, lu, off, bytes, unmap, &bad))
			goto io_error;
	} else {
		for (uint32_t i = bs; i < SCRATCH_SIZE; i += bs)
			memcpy(s + i, s, bs);
		for (uint64_t pos = 0; pos < bytes;) {
			size_t n = (size_t)OSTOR_MIN(bytes - pos, (uint64_t)SCRATCH_SIZE);

			if (store_write(lu, off + pos, s, n, &bad))
				goto io_error;
			pos += n;
		}
	}
	write_done(x, false);
	return;
io_error:
	fail_info(x, OSTOR_SCSI_SENSE_MEDIUM_ERROR, ASC_WRITE_ERROR, 0, bad / bs);
}

static void cmd_unmap(struct exec *x)
{
	struct sim_lu *lu = x->lu;
	uint8_t *p = x->t->scratch;
	size_t plen = ostori_get_be16(x->cdb + 7), avail, ndesc;
	uint64_t bad = 0;

	if (x->cdb[1] & 0x01) {               /* ANCHOR */
		bad_cdb(x, 1, 0);
		return;
	}
	if (!lu_ready(x) || !lu_writable(x))
		return;
	if (plen == 0)
		return;
	if (plen < 8) {
		bad_param_len(x);
		return;
	}
	if (!data_out_ok(x, plen))
		return;
	copy_from_iov(x, p, plen);
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

		if (cnt && store_zero(x->t, lu, lba * lu->block_size,
				      (uint64_t)cnt * lu->block_size, true, &bad)) {
			fail_info(x, OSTOR_SCSI_SENSE_MEDIUM_ERROR, ASC_WRITE_ERROR,
				  0, bad / lu->block_size);
			return;
		}
	}
	write_done(x, false);
}

/* ---- capacity ----------------------------------------------------------- */

static void cmd_read_capacity10(struct exec *x)
{
	struct sim_lu *lu = x->lu;
	uint8_t buf[8];

	/* PMI = 0 requires LBA 0 (SBC-3 5.16.1). */
	if (!(x->cdb[8] & 0x01) && ostori_get_be32(x->cdb + 2)) {
		bad_cdb(x, 2, -1);
		return;
	}
	if (!lu_ready(x))
		return;
	/* FFFFFFFFh tells the initiator to use READ CAPACITY(16). */
	ostori_put_be32(buf, sat32(lu->blocks - 1));
	ostori_put_be32(buf + 4, lu->block_size);
	data_in(x, buf, sizeof(buf), sizeof(buf));
}

static void cmd_service_action_in(struct exec *x)
{
	struct sim_lu *lu = x->lu;
	uint8_t buf[32];

	if ((x->cdb[1] & 0x1f) != OSTOR_SCSI_SAI_READ_CAPACITY16) {
		bad_cdb(x, 1, 4);
		return;
	}
	if (!(x->cdb[14] & 0x01) && ostori_get_be64(x->cdb + 2)) {
		bad_cdb(x, 2, -1);
		return;
	}
	if (!lu_ready(x))
		return;
	memset(buf, 0, sizeof(buf));
	ostori_put_be64(buf, lu->blocks - 1);
	ostori_put_be32(buf + 8, lu->block_size);
	if (lu->type == OSTOR_TYPE_DISK)
		buf[14] = 0xc0;             /* LBPME (UNMAP supported), LBPRZ */
	data_in(x, buf, sizeof(buf), ostori_get_be32(x->cdb + 10));
}

/* UFI/MMC READ FORMAT CAPACITIES: the current/maximum descriptor only. */
static void cmd_read_format_capacities(struct exec *x)
{
	struct sim_lu *lu = x->lu;
	bool medium = lu->present && lu->loaded;
	uint8_t buf[12];

	memset(buf, 0, sizeof(buf));
	buf[3] = 8;
	ostori_put_be32(buf + 4, sat32(lu->blocks));
	buf[8] = medium ? 0x02 : 0x03;      /* formatted media / no media */
	ostori_put_be24(buf + 9, lu->block_size);
	data_in(x, buf, sizeof(buf), ostori_get_be16(x->cdb + 7));
}

/* ---- INQUIRY, REPORT LUNS, REQUEST SENSE -------------------------------- */

static void pad_copy(uint8_t *dst, const char *src, size_t n)
{
	size_t l = strlen(src);

	memset(dst, ' ', n);
	memcpy(dst, src, OSTOR_MIN(l, n));
}

static size_t vpd_page(struct exec *x, uint8_t page, uint8_t *buf)
{
	struct sim_lu *lu = x->lu;
	bool disk = lu->type == OSTOR_TYPE_DISK;
	size_t len, slen = strlen(lu->serial);
	uint8_t *d;

	memset(buf, 0, 4);
	buf[0] = (uint8_t)lu->type;
	buf[1] = page;
	switch (page) {
	case 0x00:
		len = 0;
		buf[4 + len++] = 0x00;
		buf[4 + len++] = 0x80;
		buf[4 + len++] = 0x83;
		if (disk) {
			buf[4 + len++] = 0xb0;
			buf[4 + len++] = 0xb1;
			buf[4 + len++] = 0xb2;
		}
		break;
	case 0x80:
		len = slen;
		memcpy(buf + 4, lu->serial, slen);
		break;
	case 0x83:
		d = buf + 4;
		/* NAA 3 (locally assigned), binary, associated with the LU */
		d[0] = 0x01;
		d[1] = 0x03;
		d[2] = 0;
		d[3] = 8;
		ostori_put_be64(d + 4, lu->naa);
		d += 12;
		/* T10 vendor ID: vendor, product, serial, ASCII */
		d[0] = 0x02;
		d[1] = 0x01;
		d[2] = 0;
		d[3] = (uint8_t)(24 + slen);
		pad_copy(d + 4, lu->vendor, 8);
		pad_copy(d + 12, lu->product, 16);
		memcpy(d + 28, lu->serial, slen);
		len = 12 + 4 + 24 + slen;
		break;
	case 0xb0:
		if (!disk)
			return 0;
		len = 0x3c;
		memset(buf + 4, 0, len);
		buf[4] = 0x01;                         /* WSNZ */
		buf[5] = (uint8_t)caw_limit(lu);       /* MAXIMUM COMPARE AND WRITE LENGTH */
		ostori_put_be16(buf + 6, 1);                  /* optimal granularity */
		ostori_put_be32(buf + 8, lu->max_transfer);
		ostori_put_be32(buf + 20, SIM_MAX_UNMAP_LBA_COUNT);
		ostori_put_be32(buf + 24, SIM_MAX_UNMAP_DESCRIPTORS);
		ostori_put_be32(buf + 28, 1);                 /* unmap granularity */
		ostori_put_be32(buf + 32, 0x80000000u);       /* UGAVALID, alignment 0 */
		ostori_put_be64(buf + 36, SIM_MAX_WRITE_SAME_LEN);
		break;
	case 0xb1:
		if (!disk)
			return 0;
		len = 0x3c;
		memset(buf + 4, 0, len);
		ostori_put_be16(buf + 4, 1);                  /* non-rotating medium */
		break;
	case 0xb2:
		if (!disk)
			return 0;
		len = 4;
		memset(buf + 4, 0, len);
		buf[5] = 0x80 | 0x40 | 0x20 | 0x04;    /* LBPU LBPWS LBPWS10 LBPRZ */
		buf[6] = 0x02;                         /* thin provisioned */
		break;
	default:
		return 0;
	}
	ostori_put_be16(buf + 2, (uint16_t)len);
	return 4 + len;
}

static void cmd_inquiry(struct exec *x)
{
	const uint8_t *c = x->cdb;
	struct sim_lu *lu = x->lu;
	uint8_t buf[256];
	size_t len;

	if (c[1] & 0x02) {                    /* CMDDT (obsolete) */
		bad_cdb(x, 1, 1);
		return;
	}
	if (c[1] & 0x01) {
		if (!lu) {
			fail(x, OSTOR_SCSI_SENSE_ILLEGAL_REQUEST,
			     ASC_LUN_NOT_SUPPORTED, 0);
			return;
		}
		len = vpd_page(x, c[2], buf);
		if (!len) {
			bad_cdb(x, 2, -1);
			return;
		}
		data_in(x, buf, len, ostori_get_be16(c + 3));
		return;
	}
	if (c[2]) {
		bad_cdb(x, 2, -1);
		return;
	}
	len = 96;
	memset(buf, 0, len);
	/* No LU: peripheral qualifier 3, type 1Fh (SPC-4 6.4.2). */
	buf[0] = lu ? (uint8_t)lu->type : 0x7f;
	buf[1] = lu && lu->removable ? 0x80 : 0;
	buf[2] = 0x06;                        /* SPC-4 */
	buf[3] = 0x02;                        /* response data format 2 */
	buf[4] = (uint8_t)(len - 5);
	buf[7] = 0x02;                        /* CMDQUE */
	pad_copy(buf + 8, lu ? lu->vendor : "ORIONSTR", 8);
	pad_copy(buf + 16, lu ? lu->product : "SIM TARGET", 16);
	pad_copy(buf + 32, lu ? lu->revision : "0001", 4);
	ostori_put_be16(buf + 58, 0x00a0);           /* SAM-5 */
	ostori_put_be16(buf + 60, 0x0460);           /* SPC-4 */
	if (lu)
		ostori_put_be16(buf + 62, lu->type == OSTOR_TYPE_DISK ?
			 0x04c0 : 0x04e0);    /* SBC-3 / MMC-6 */
	data_in(x, buf, len, ostori_get_be16(c + 3));
}

static void encode_lun(uint32_t lun, uint8_t *e)
{
	memset(e, 0, 8);
	if (lun < 256) {
		e[1] = (uint8_t)lun;          /* peripheral device addressing */
	} else {
		e[0] = (uint8_t)(0x40 | (lun >> 8)); /* flat space addressing */
		e[1] = (uint8_t)lun;
	}
}

static void cmd_report_luns(struct exec *x)
{
	struct sim_target *t = x->t;
	uint8_t sel = x->cdb[2], e[8];
	size_t n, resp, len, m;

	/* 00h all, 01h well-known only (we have none), 02h all */
	if (sel > 2) {
		bad_cdb(x, 2, -1);
		return;
	}
	n = sel == 1 ? 0 : t->nlus;
	resp = 8 + 8 * n;
	len = OSTOR_MIN(resp, (size_t)ostori_get_be32(x->cdb + 6));
	if (!data_in_ok(x, len))
		return;
	m = OSTOR_MIN(len, x->total);
	/* The LUN LIST LENGTH is always the full list (SPC-4 6.33). */
	memset(e, 0, sizeof(e));
	ostori_put_be32(e, (uint32_t)(8 * n));
	copy_to_iov(x, 0, e, OSTOR_MIN(m, (size_t)8));
	for (size_t i = 0; i < n && 8 + 8 * i < m; i++) {
		encode_lun(t->lus[i]->lun, e);
		copy_to_iov(x, 8 + 8 * i, e, OSTOR_MIN(m - (8 + 8 * i), (size_t)8));
	}
	x->cmd->transferred = m;
	if (len > x->total)
		x->cmd->overrun = true;
}

static void cmd_request_sense(struct exec *x)
{
	struct sim_lu *lu = x->lu;
	bool desc = x->cdb[1] & 0x01;
	struct sim_sense s;
	uint8_t buf[32];
	size_t len;
	int src = 0;

	memset(&s, 0, sizeof(s));
	if (!lu) {
		/* GOOD status with the reason (SPC-4 6.39). */
		s.key = OSTOR_SCSI_SENSE_ILLEGAL_REQUEST;
		s.asc = ASC_LUN_NOT_SUPPORTED;
	} else if (lu->held) {
		s = lu->held_sense;
		src = 1;
	} else if (take_ua(lu, &s, false)) {
		src = 2;
	}
	len = desc ? sense_desc(&s, buf) : sense_fixed(&s, buf);
	/* Check the buffer before consuming anything. */
	if (!data_in_ok(x, OSTOR_MIN(len, (size_t)x->cdb[4])))
		return;
	if (src == 1) {
		lu->held = false;
	} else if (src == 2) {
		take_ua(lu, &s, true);
		x->t->stats.unit_attentions++;
	}
	data_in(x, buf, len, x->cdb[4]);
}

/* ---- mode pages --------------------------------------------------------- */

#define PC_CURRENT 0
#define PC_CHANGEABLE 1
#define PC_DEFAULT 2

/* Build one page; returns its length or 0 for an unsupported page. */
static size_t mode_page(const struct sim_lu *lu, uint8_t page, int pc, uint8_t *p)
{
	switch (page) {
	case 0x08:                             /* caching */
		memset(p, 0, 20);
		p[0] = 0x08;
		p[1] = 0x12;
		if (pc == PC_CHANGEABLE || pc == PC_DEFAULT ||
		    (pc == PC_CURRENT && lu->wce))
			p[2] = 0x04;           /* WCE */
		return 20;
	case 0x0a:                             /* control */
		memset(p, 0, 12);
		p[0] = 0x0a;
		p[1] = 0x0a;
		if (pc != PC_CHANGEABLE) {
			p[2] = 0x02;           /* GLTSD, D_SENSE 0 */
			p[3] = 0x10;           /* unrestricted reordering */
		}
		return 12;
	case 0x1c:                             /* informational exceptions */
		memset(p, 0, 12);
		p[0] = 0x1c;
		p[1] = 0x0a;
		if (pc != PC_CHANGEABLE)
			p[2] = 0x08;           /* DEXCPT: none reported */
		return 12;
	default:
		return 0;
	}
}

static void cmd_mode_sense(struct exec *x)
{
	static const uint8_t all[] = { 0x08, 0x0a, 0x1c };
	const uint8_t *c = x->cdb;
	struct sim_lu *lu = x->lu;
	bool six = x->op == OSTOR_SCSI_OP_MODE_SENSE6;
	bool dbd = c[1] & 0x08, llbaa = !six && (c[1] & 0x10);
	int pc = c[2] >> 6;
	uint8_t page = c[2] & 0x3f, sub = c[3], buf[128], *p;
	size_t hdr = six ? 4 : 8, bdlen = dbd ? 0 : llbaa ? 16 : 8, total;
	uint64_t blocks = lu->present && lu->loaded ? lu->blocks : 0;

	if (pc == 3) {
		fail(x, OSTOR_SCSI_SENSE_ILLEGAL_REQUEST, ASC_SAVING_NOT_SUPPORTED, 0);
		return;
	}
	if (sub != 0 && sub != 0xff) {        /* no subpages here */
		bad_cdb(x, 3, -1);
		return;
	}
	memset(buf, 0, hdr + bdlen);
	p = buf + hdr + bdlen;
	if (page == 0x3f) {
		for (size_t i = 0; i < OSTOR_ARRAY_SIZE(all); i++)
			p += mode_page(lu, all[i], pc, p);
	} else {
		size_t n = mode_page(lu, page, pc, p);

		if (!n) {
			bad_cdb(x, 2, 5);
			return;
		}
		p += n;
	}
	total = (size_t)(p - buf);
	if (bdlen && pc != PC_CHANGEABLE) {   /* nothing in it is changeable */
		uint8_t *bd = buf + hdr;

		if (bdlen == 16) {
			ostori_put_be64(bd, blocks);
			ostori_put_be32(bd + 12, lu->block_size);
		} else {
			ostori_put_be32(bd, sat32(blocks));
			ostori_put_be24(bd + 5, lu->block_size);
		}
	}
	/* WP for read-only media (cdrom included); DPOFUA: FUA honoured. */
	if (six) {
		buf[0] = (uint8_t)(total - 1);
		buf[2] = (uint8_t)((lu->readonly ? 0x80 : 0) | 0x10);
		buf[3] = (uint8_t)bdlen;
	} else {
		ostori_put_be16(buf, (uint16_t)(total - 2));
		buf[3] = (uint8_t)((lu->readonly ? 0x80 : 0) | 0x10);
		buf[4] = bdlen == 16 ? 0x01 : 0;      /* LONGLBA */
		ostori_put_be16(buf + 6, (uint16_t)bdlen);
	}
	data_in(x, buf, total, six ? c[4] : ostori_get_be16(c + 7));
}

static void cmd_mode_select(struct exec *x)
{
	const uint8_t *c = x->cdb;
	struct sim_lu *lu = x->lu;
	bool six = x->op == OSTOR_SCSI_OP_MODE_SELECT6;
	size_t plen = six ? c[4] : ostori_get_be16(c + 7), hdr = six ? 4 : 8, bdlen, off;
	uint8_t *p = x->t->scratch, cur[32], mask[32];
	int new_wce = -1;

	if (c[1] & 0x01) {                    /* SP: no saved pages */
		bad_cdb(x, 1, 0);
		return;
	}
	if (plen == 0)
		return;
	if (!(c[1] & 0x10)) {                 /* PF = 0: vendor format */
		bad_cdb(x, 1, 4);
		return;
	}
	if (!data_out_ok(x, plen))
		return;
	copy_from_iov(x, p, plen);
	x->cmd->transferred = plen;
	if (plen < hdr) {
		bad_param_len(x);
		return;
	}
	if (p[six ? 1 : 2]) {                 /* medium type */
		bad_param(x, six ? 1 : 2, -1);
		return;
	}
	bdlen = six ? p[3] : ostori_get_be16(p + 6);
	if (bdlen != 0 && bdlen != ((!six && (p[4] & 0x01)) ? 16u : 8u)) {
		bad_param(x, six ? 3 : 6, -1);
		return;
	}
	if (plen - hdr < bdlen) {
		bad_param_len(x);
		return;
	}
	if (bdlen) {
		const uint8_t *bd = p + hdr;
		uint64_t nb = bdlen == 16 ? ostori_get_be64(bd) : ostori_get_be32(bd);
		uint32_t bl = bdlen == 16 ? ostori_get_be32(bd + 12) : ostori_get_be24(bd + 5);
		uint64_t cur_nb = bdlen == 16 ? lu->blocks : sat32(lu->blocks);

		/* 0 keeps the capacity; resizing is not supported. */
		if (nb != 0 && nb != cur_nb) {
			bad_param(x, (unsigned int)hdr, -1);
			return;
		}
		if (bl != lu->block_size) {
			bad_param(x, (unsigned int)(hdr + (bdlen == 16 ? 12 : 5)), -1);
			return;
		}
	}
	/* Validate every page before applying anything. */
	for (off = hdr + bdlen; off < plen;) {
		uint8_t pg = p[off] & 0x3f;
		size_t len, n;

		if (plen - off < 2) {
			bad_param_len(x);
			return;
		}
		if (p[off] & 0x40) {          /* SPF: no subpages here */
			bad_param(x, (unsigned int)off, 6);
			return;
		}
		len = (size_t)p[off + 1] + 2;
		if (plen - off < len) {
			bad_param_len(x);
			return;
		}
		n = mode_page(lu, pg, PC_CURRENT, cur);
		if (!n) {
			bad_param(x, (unsigned int)off, 5);
			return;
		}
		if (n != len) {
			bad_param(x, (unsigned int)off + 1, -1);
			return;
		}
		mode_page(lu, pg, PC_CHANGEABLE, mask);
		for (size_t i = 2; i < len; i++) {
			uint8_t diff = (uint8_t)((p[off + i] ^ cur[i]) & ~mask[i]);

			if (diff) {
				int bit = 7;

				while (!(diff & (1u << bit)))
					bit--;
				bad_param(x, (unsigned int)(off + i), bit);
				return;
			}
		}
		if (pg == 0x08)
			new_wce = !!(p[off + 2] & 0x04);
		off += len;
	}
	if (new_wce >= 0)
		lu->wce = new_wce;
}

/* ---- the rest ----------------------------------------------------------- */

static void cmd_test_unit_ready(struct exec *x)
{
	lu_ready(x);
}

static void cmd_start_stop(struct exec *x)
{
	struct sim_lu *lu = x->lu;
	uint8_t b4 = x->cdb[4];
	bool loej = b4 & 0x02, start = b4 & 0x01;

	if (b4 >> 4) {                        /* power conditions: not supported */
		bad_cdb(x, 4, 7);
		return;
	}
	if (loej && !lu->removable) {
		bad_cdb(x, 4, 1);
		return;
	}
	if (start) {
		lu->started = true;
		if (loej)
			lu->loaded = true;
		return;
	}
	if (loej) {
		if (lu->prevent) {
			fail(x, OSTOR_SCSI_SENSE_ILLEGAL_REQUEST,
			     ASC_REMOVAL_PREVENTED, 0x02);
			return;
		}
		lu->loaded = false;
	}
	lu->started = false;
}

static void cmd_prevent_allow(struct exec *x)
{
	uint8_t prevent = x->cdb[4] & 0x03;

	if (prevent > 1) {                    /* obsolete in SBC-3 */
		bad_cdb(x, 4, 1);
		return;
	}
	x->lu->prevent = prevent;
}

static void cmd_send_diagnostic(struct exec *x)
{
	uint8_t b1 = x->cdb[1], code = b1 >> 5;

	/* No diagnostic pages: nothing may come with the command. */
	if (ostori_get_be16(x->cdb + 3)) {
		bad_cdb(x, 3, -1);
		return;
	}
	/* SELFTEST with code 0, or a foreground short/extended self-test:
	 * they pass.  Background tests are not implemented. */
	if ((b1 & 0x04) ? code != 0 : (code != 0 && code != 5 && code != 6))
		bad_cdb(x, 1, 7);
}

static void cmd_log_sense(struct exec *x)
{
	const uint8_t *c = x->cdb;
	uint8_t buf[5];

	if (c[1] & 0x03) {                    /* SP, PPC */
		bad_cdb(x, 1, (c[1] & 0x01) ? 0 : 1);
		return;
	}
	if ((c[2] & 0x3f) != 0x00) {
		bad_cdb(x, 2, 5);
		return;
	}
	if (c[3]) {
		bad_cdb(x, 3, -1);
		return;
	}
	/* Supported log pages: just this one. */
	memset(buf, 0, sizeof(buf));
	ostori_put_be16(buf + 2, 1);
	buf[4] = 0x00;
	data_in(x, buf, sizeof(buf), ostori_get_be16(c + 7));
}

/* ---- dispatch ----------------------------------------------------------- */

#define F_NO_LU 0x01   /* also runs for a LUN that is not configured */
#define F_NO_UA 0x02   /* neither reports nor clears unit attentions */
#define F_DISK 0x04    /* direct-access block devices only */

struct op_desc {
	void (*fn)(struct exec *x);
	uint8_t cdb_len;
	uint8_t len_byte;
	uint8_t flags;
};

static const struct op_desc ops[256] = {
	[OSTOR_SCSI_OP_TEST_UNIT_READY] = { cmd_test_unit_ready, 6, 4, 0 },
	[OSTOR_SCSI_OP_REQUEST_SENSE] = { cmd_request_sense, 6, 4, F_NO_LU | F_NO_UA },
	[OSTOR_SCSI_OP_READ6] = { cmd_read, 6, 4, 0 },
	[OSTOR_SCSI_OP_WRITE6] = { cmd_write, 6, 4, 0 },
	[OSTOR_SCSI_OP_INQUIRY] = { cmd_inquiry, 6, 3, F_NO_LU | F_NO_UA },
	[OSTOR_SCSI_OP_MODE_SELECT6] = { cmd_mode_select, 6, 4, 0 },
	[OSTOR_SCSI_OP_MODE_SENSE6] = { cmd_mode_sense, 6, 4, 0 },
	[OSTOR_SCSI_OP_START_STOP_UNIT] = { cmd_start_stop, 6, 4, 0 },
	[OSTOR_SCSI_OP_SEND_DIAGNOSTIC] = { cmd_send_diagnostic, 6, 3, 0 },
	[OSTOR_SCSI_OP_PREVENT_ALLOW_MEDIUM_REMOVAL] = { cmd_prevent_allow, 6, 4, 0 },
	[OSTOR_SCSI_OP_READ_FORMAT_CAPACITIES] = { cmd_read_format_capacities, 10, 7, 0 },
	[OSTOR_SCSI_OP_READ_CAPACITY10] = { cmd_read_capacity10, 10, 0, 0 },
	[OSTOR_SCSI_OP_READ10] = { cmd_read, 10, 7, 0 },
	[OSTOR_SCSI_OP_WRITE10] = { cmd_write, 10, 7, 0 },
	[OSTOR_SCSI_OP_VERIFY10] = { cmd_verify, 10, 7, 0 },
	[OSTOR_SCSI_OP_SYNCHRONIZE_CACHE10] = { cmd_sync, 10, 7, 0 },
	[OSTOR_SCSI_OP_WRITE_SAME10] = { cmd_write_same, 10, 7, F_DISK },
	[OSTOR_SCSI_OP_UNMAP] = { cmd_unmap, 10, 7, F_DISK },
	[OSTOR_SCSI_OP_LOG_SENSE] = { cmd_log_sense, 10, 7, 0 },
	[OSTOR_SCSI_OP_MODE_SELECT10] = { cmd_mode_select, 10, 7, 0 },
	[OSTOR_SCSI_OP_MODE_SENSE10] = { cmd_mode_sense, 10, 7, 0 },
	[OSTOR_SCSI_OP_READ16] = { cmd_read, 16, 10, 0 },
	[OSTOR_SCSI_OP_COMPARE_AND_WRITE] = { cmd_compare_and_write, 16, 13, F_DISK },
	[OSTOR_SCSI_OP_WRITE16] = { cmd_write, 16, 10, 0 },
	[OSTOR_SCSI_OP_VERIFY16] = { cmd_verify, 16, 10, 0 },
	[OSTOR_SCSI_OP_SYNCHRONIZE_CACHE16] = { cmd_sync, 16, 10, 0 },
	[OSTOR_SCSI_OP_WRITE_SAME16] = { cmd_write_same, 16, 10, F_DISK },
	[OSTOR_SCSI_OP_SERVICE_ACTION_IN16] = { cmd_service_action_in, 16, 10, 0 },
	[OSTOR_SCSI_OP_REPORT_LUNS] = { cmd_report_luns, 12, 6, F_NO_LU | F_NO_UA },
	[OSTOR_SCSI_OP_READ12] = { cmd_read, 12, 6, 0 },
	[OSTOR_SCSI_OP_WRITE12] = { cmd_write, 12, 6, 0 },
};

static struct sim_lu *find_lu(const struct sim_target *t, uint32_t lun, size_t *pos)
{
	size_t lo = 0, hi = t->nlus;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (t->lus[mid]->lun < lun)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (pos)
		*pos = lo;
	return lo < t->nlus && t->lus[lo]->lun == lun ? t->lus[lo] : NULL;
}

/* Consume the first fault rule matching this command, if any. */
static bool apply_fault(struct exec *x)
{
	struct sim_target *t = x->t;

	for (size_t i = 0; i < t->nfaults; i++) {
		struct sim_fault *f = &t->faults[i];

		if (f->lun != x->cmd->lun || (f->opcode >= 0 && f->opcode != x->op))
			continue;
		if (f->check)
			fail(x, f->key, f->asc, f->ascq);
		else
			x->status = f->status;
		if (f->count != SIM_FAULT_FOREVER && --f->count == 0) {
			memmove(f, f + 1, (t->nfaults - i - 1) * sizeof(*f));
			t->nfaults--;
		}
		t->stats.injected++;
		return true;
	}
	return false;
}

static void execute_locked(struct exec *x)
{
	struct sim_cmd *cmd = x->cmd;
	const struct op_desc *d;

	if (!cmd->cdb || cmd->cdb_len == 0) {
		fail(x, OSTOR_SCSI_SENSE_ILLEGAL_REQUEST, ASC_INVALID_OPCODE, 0);
		return;
	}
	x->cdb = cmd->cdb;
	x->op = cmd->cdb[0];
	x->t->stats.per_opcode[x->op]++;
	x->lu = cmd->lun < SIM_MAX_LUNS ? find_lu(x->t, cmd->lun, NULL) : NULL;
	if (apply_fault(x))
		return;
	d = &ops[x->op];
	/* The held sense only survives until the next command. */
	if (x->lu && x->op != OSTOR_SCSI_OP_REQUEST_SENSE)
		x->lu->held = false;
	if (!x->lu && !(d->flags & F_NO_LU)) {
		fail(x, OSTOR_SCSI_SENSE_ILLEGAL_REQUEST, ASC_LUN_NOT_SUPPORTED, 0);
		return;
	}
	if (x->lu && !(d->flags & F_NO_UA) && take_ua(x->lu, &x->sense, true)) {
		x->status = OSTOR_SCSI_STATUS_CHECK_CONDITION;
		x->t->stats.unit_attentions++;
		return;
	}
	if (!d->fn || ((d->flags & F_DISK) && x->lu->type != OSTOR_TYPE_DISK)) {
		fail(x, OSTOR_SCSI_SENSE_ILLEGAL_REQUEST, ASC_INVALID_OPCODE, 0);
		return;
	}
	x->len_byte = d->len_byte;
	if (cmd->cdb_len < d->cdb_len) {
		/* The opcode implies a longer CDB than we were given. */
		bad_cdb(x, 0, -1);
		return;
	}
	/* CONTROL byte: no ACA (NormACA = 0), LINK is obsolete. */
	if (x->cdb[d->cdb_len - 1] & 0x05) {
		bad_cdb(x, d->cdb_len - 1u, (x->cdb[d->cdb_len - 1] & 0x04) ? 2 : 0);
		return;
	}
	d->fn(x);
}

void sim_target_execute(struct sim_target *t, struct sim_cmd *cmd)
{
	struct exec x;
	sim_fault_fn hook;
	void *ud;

	if (!cmd)
		return;
	memset(&x, 0, sizeof(x));
	x.t = t;
	x.cmd = cmd;
	x.total = iov_total(cmd->iov, cmd->iovcnt);
	cmd->status = OSTOR_SCSI_STATUS_GOOD;
	cmd->sense_len = 0;
	cmd->transferred = 0;
	cmd->residual = x.total;
	cmd->overrun = false;
	if (!t) {
		fail(&x, OSTOR_SCSI_SENSE_ILLEGAL_REQUEST, ASC_LUN_NOT_SUPPORTED, 0);
		cmd->status = x.status;
		cmd->sense_len = sense_fixed(&x.sense, cmd->sense);
		return;
	}

	hook = NULL;
	ud = NULL;
	if (__atomic_load_n(&t->has_hook, __ATOMIC_ACQUIRE)) {
		pthread_mutex_lock(&t->lock);
		hook = t->hook;
		ud = t->hook_ud;
		pthread_mutex_unlock(&t->lock);
	}
	if (hook && hook(ud, cmd)) {
		/* Keep the hook's results self-consistent. */
		if (cmd->transferred > x.total)
			cmd->transferred = x.total;
		if (cmd->sense_len > sizeof(cmd->sense))
			cmd->sense_len = sizeof(cmd->sense);
		cmd->residual = x.total - cmd->transferred;
		pthread_mutex_lock(&t->lock);
		t->stats.commands++;
		t->stats.injected++;
		if (cmd->cdb && cmd->cdb_len)
			t->stats.per_opcode[cmd->cdb[0]]++;
		pthread_mutex_unlock(&t->lock);
		return;
	}

	pthread_mutex_lock(&t->lock);
	t->stats.commands++;
	execute_locked(&x);
	cmd->status = x.status;
	if (x.status == OSTOR_SCSI_STATUS_CHECK_CONDITION) {
		cmd->sense_len = sense_fixed(&x.sense, cmd->sense);
		if (x.lu) {
			x.lu->held = true;
			x.lu->held_sense = x.sense;
		}
		t->stats.check_condition++;
	} else if (x.status == OSTOR_SCSI_STATUS_GOOD) {
		t->stats.good++;
	} else {
		t->stats.other_status++;
	}
	if (cmd->overrun)
		t->stats.overruns++;
	if (cmd->dir == OSTOR_DIR_FROM_DEVICE)
		t->stats.bytes_in += cmd->transferred;
	else
		t->stats.bytes_out += cmd->transferred;
	pthread_mutex_unlock(&t->lock);
	cmd->residual = x.total - cmd->transferred;
}

/* ---- target management -------------------------------------------------- */

void sim_lu_config_init(struct sim_lu_config *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	cfg->type = OSTOR_TYPE_DISK;
	cfg->fd = -1;
}

struct sim_target *sim_target_new(void)
{
	struct sim_target *t = calloc(1, sizeof(*t));

	if (!t) {
		ostori_error(OSTOR_ERROR_NO_MEM, "cannot allocate a simulated target");
		return NULL;
	}
	t->scratch = malloc(SCRATCH_SIZE);
	t->zeros = calloc(1, SCRATCH_SIZE);
	if (!t->scratch || !t->zeros || pthread_mutex_init(&t->lock, NULL)) {
		free(t->scratch);
		free(t->zeros);
		free(t);
		ostori_error(OSTOR_ERROR_NO_MEM,
			     "cannot allocate the simulated target's buffers");
		return NULL;
	}
	t->id = __atomic_fetch_add(&next_target_id, 1, __ATOMIC_RELAXED);
	return t;
}

static void lu_free(struct sim_lu *lu)
{
	if (lu->ram)
		munmap(lu->ram, lu->ram_len);
	free(lu);
}

void sim_target_free(struct sim_target *t)
{
	if (!t)
		return;
	for (size_t i = 0; i < t->nlus; i++)
		lu_free(t->lus[i]);
	free(t->lus);
	free(t->faults);
	free(t->scratch);
	free(t->zeros);
	pthread_mutex_destroy(&t->lock);
	free(t);
}

static int set_string(char *dst, size_t max, const char *src, const char *def,
		      const char *what)
{
	const char *s = src ? src : def;
	size_t l = strlen(s);

	if (l > max)
		return ostori_error(OSTOR_ERROR_INVALID_PARAM,
				    "simulated LU %s \"%s\" is longer than %zu characters; shorten it",
				    what, s, max);
	for (size_t i = 0; i < l; i++)
		if (s[i] < 0x20 || s[i] > 0x7e)
			return ostori_error(OSTOR_ERROR_INVALID_PARAM,
					    "simulated LU %s has a non-printable character at %zu; use printable ASCII",
					    what, i);
	memcpy(dst, s, l + 1);
	return 0;
}

static uint64_t fnv1a(uint64_t h, const void *data, size_t len)
{
	const uint8_t *p = data;

	for (size_t i = 0; i < len; i++) {
		h ^= p[i];
		h *= 0x100000001b3ull;
	}
	return h;
}

static size_t page_round(uint64_t bytes)
{
	size_t pg = (size_t)sysconf(_SC_PAGESIZE);

	return (size_t)((bytes + pg - 1) & ~(uint64_t)(pg - 1));
}

/* The byte size of `blocks` fits the backing store. */
static int check_size(const struct sim_lu *lu, uint64_t blocks)
{
	uint64_t bytes;

	if (blocks == 0)
		return ostori_error(OSTOR_ERROR_INVALID_PARAM,
				    "simulated LU %u: capacity must be at least one block",
				    lu->lun);
	if (blocks > UINT64_MAX / lu->block_size)
		goto too_big;
	bytes = blocks * lu->block_size;
	if (lu->fd >= 0) {
		if (bytes > (uint64_t)INT64_MAX - lu->fd_offset)
			goto too_big;
	} else if (!fits_size(bytes) || bytes > SIZE_MAX / 2) {
		goto too_big;
	}
	return 0;
too_big:
	return ostori_error(OSTOR_ERROR_INVALID_PARAM,
			    "simulated LU %u: %llu blocks of %u bytes do not fit the %s; use a smaller capacity",
			    lu->lun, (unsigned long long)blocks, lu->block_size,
			    lu->fd >= 0 ? "file offset range" : "address space");
}

static int ram_map(struct sim_lu *lu)
{
	size_t len = page_round(lu->blocks * lu->block_size);
	void *p = mmap(NULL, len, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);

	if (p == MAP_FAILED)
		return ostori_error(OSTOR_ERROR_NO_MEM,
				    "cannot map %zu bytes for simulated LU %u: %s; use a smaller capacity or a backing file",
				    len, lu->lun, strerror(errno));
	lu->ram = p;
	lu->ram_len = len;
	return 0;
}

int sim_target_add_lu(struct sim_target *t, uint32_t lun, const struct sim_lu_config *cfg)
{
	struct sim_lu *lu;
	size_t pos;
	int r;

	if (!t || !cfg)
		return ostori_error(OSTOR_ERROR_INVALID_PARAM,
				    "sim_target_add_lu: target and config are required");
	if (lun >= SIM_MAX_LUNS)
		return ostori_error(OSTOR_ERROR_INVALID_PARAM,
				    "simulated LUN %u is out of range; use 0..%u",
				    lun, SIM_MAX_LUNS - 1);
	if (cfg->type != OSTOR_TYPE_DISK && cfg->type != OSTOR_TYPE_CDROM)
		return ostori_error(OSTOR_ERROR_INVALID_PARAM,
				    "simulated LU %u: type %d is not supported; use disk (0) or cdrom (5)",
				    lun, cfg->type);
	lu = calloc(1, sizeof(*lu));
	if (!lu)
		return ostori_error(OSTOR_ERROR_NO_MEM, "cannot allocate simulated LU %u", lun);
	lu->lun = lun;
	lu->type = cfg->type;
	lu->fd = cfg->fd;
	lu->fd_offset = cfg->fd_offset;
	lu->null = cfg->null;
	lu->block_size = cfg->block_size ? cfg->block_size :
			 cfg->type == OSTOR_TYPE_CDROM ? 2048 : 512;
	lu->blocks = cfg->blocks;
	lu->max_transfer = cfg->max_transfer ? cfg->max_transfer : SIM_DEFAULT_MAX_TRANSFER;
	lu->readonly = cfg->readonly || cfg->type == OSTOR_TYPE_CDROM;
	lu->removable = cfg->removable || cfg->type == OSTOR_TYPE_CDROM;
	lu->present = lu->loaded = lu->started = lu->wce = true;

	if (lu->block_size != 512 && lu->block_size != 1024 &&
	    lu->block_size != 2048 && lu->block_size != 4096) {
		r = ostori_error(OSTOR_ERROR_INVALID_PARAM,
				 "simulated LU %u: block size %u is not supported; use 512, 1024, 2048 or 4096",
				 lun, lu->block_size);
		goto fail;
	}
	if (cfg->null && cfg->fd >= 0) {
		r = ostori_error(OSTOR_ERROR_INVALID_PARAM,
				 "simulated LU %u: a null LU has no backing file", lun);
		goto fail;
	}
	if (cfg->fd < -1 || (cfg->fd < 0 && cfg->fd_offset)) {
		r = ostori_error(OSTOR_ERROR_INVALID_PARAM,
				 "simulated LU %u: bad backing fd %d / offset; pass -1 (and offset 0) for RAM",
				 lun, cfg->fd);
		goto fail;
	}
	r = check_size(lu, lu->blocks);
	if (r)
		goto fail;
	r = set_string(lu->vendor, 8, cfg->vendor, "ORIONSTR", "vendor");
	if (!r)
		r = set_string(lu->product, 16, cfg->product,
			       cfg->type == OSTOR_TYPE_CDROM ? "SIM CDROM" : "SIM DISK",
			       "product");
	if (!r)
		r = set_string(lu->revision, 4, cfg->revision, "0001", "revision");
	if (!r && cfg->serial) {
		r = set_string(lu->serial, 32, cfg->serial, NULL, "serial");
	} else if (!r) {
		snprintf(lu->serial, sizeof(lu->serial), "ORS%08X%04X", t->id, lun);
	}
	if (r)
		goto fail;
	lu->naa = fnv1a(0xcbf29ce484222325ull, lu->vendor, strlen(lu->vendor));
	lu->naa = fnv1a(lu->naa, lu->product, strlen(lu->product));
	lu->naa = fnv1a(lu->naa, lu->serial, strlen(lu->serial));
	lu->naa = fnv1a(lu->naa, &lun, sizeof(lun));
	lu->naa = (3ull << 60) | (lu->naa & 0x0fffffffffffffffull);

	pthread_mutex_lock(&t->lock);
	if (find_lu(t, lun, &pos)) {
		pthread_mutex_unlock(&t->lock);
		r = ostori_error(OSTOR_ERROR_INVALID_PARAM,
				 "simulated LUN %u already exists; pick another number", lun);
		goto fail;
	}
	if (t->nlus == t->lus_cap) {
		size_t cap = t->lus_cap ? t->lus_cap * 2 : 4;
		struct sim_lu **n = realloc(t->lus, cap * sizeof(*n));

		if (!n) {
			pthread_mutex_unlock(&t->lock);
			r = ostori_error(OSTOR_ERROR_NO_MEM, "cannot grow the LU table");
			goto fail;
		}
		t->lus = n;
		t->lus_cap = cap;
	}
	if (lu->fd < 0 && !lu->null) {
		r = ram_map(lu);
		if (r) {
			pthread_mutex_unlock(&t->lock);
			goto fail;
		}
	}
	memmove(t->lus + pos + 1, t->lus + pos, (t->nlus - pos) * sizeof(*t->lus));
	t->lus[pos] = lu;
	t->nlus++;
	pthread_mutex_unlock(&t->lock);
	return 0;
fail:
	lu_free(lu);
	return r;
}

size_t sim_target_lu_count(struct sim_target *t)
{
	return sim_target_luns(t, NULL, 0);
}

size_t sim_target_luns(struct sim_target *t, uint32_t *luns, size_t max)
{
	size_t n;

	if (!t)
		return 0;
	pthread_mutex_lock(&t->lock);
	n = t->nlus;
	for (size_t i = 0; i < n && i < max && luns; i++)
		luns[i] = t->lus[i]->lun;
	pthread_mutex_unlock(&t->lock);
	return n;
}

void sim_target_set_fault_hook(struct sim_target *t, sim_fault_fn fn, void *ud)
{
	if (!t)
		return;
	pthread_mutex_lock(&t->lock);
	t->hook = fn;
	t->hook_ud = ud;
	__atomic_store_n(&t->has_hook, fn != NULL, __ATOMIC_RELEASE);
	pthread_mutex_unlock(&t->lock);
}

static int add_fault(struct sim_target *t, const struct sim_fault *f)
{
	if (!t)
		return ostori_error(OSTOR_ERROR_INVALID_PARAM, "no simulated target");
	if (f->lun >= SIM_MAX_LUNS || f->opcode < -1 || f->opcode > 255 || !f->count)
		return ostori_error(OSTOR_ERROR_INVALID_PARAM,
				    "bad fault rule (LUN %u, opcode %d, count %u): LUN < %u, opcode -1..255, count >= 1",
				    f->lun, f->opcode, f->count, SIM_MAX_LUNS);
	pthread_mutex_lock(&t->lock);
	if (t->nfaults == t->faults_cap) {
		size_t cap = t->faults_cap ? t->faults_cap * 2 : 4;
		struct sim_fault *n = realloc(t->faults, cap * sizeof(*n));

		if (!n) {
			pthread_mutex_unlock(&t->lock);
			return ostori_error(OSTOR_ERROR_NO_MEM, "cannot grow the fault table");
		}
		t->faults = n;
		t->faults_cap = cap;
	}
	t->faults[t->nfaults++] = *f;
	pthread_mutex_unlock(&t->lock);
	return 0;
}

int sim_target_inject_check(struct sim_target *t, uint32_t lun, int opcode,
			    unsigned int count, uint8_t key, uint8_t asc, uint8_t ascq)
{
	struct sim_fault f = {
		.lun = lun, .opcode = opcode, .count = count, .check = true,
		.key = key, .asc = asc, .ascq = ascq,
	};

	if (key > 0x0f)
		return ostori_error(OSTOR_ERROR_INVALID_PARAM,
				    "sense key %#x is not a 4-bit value", key);
	return add_fault(t, &f);
}

int sim_target_inject_status(struct sim_target *t, uint32_t lun, int opcode,
			     unsigned int count, uint8_t status)
{
	struct sim_fault f = {
		.lun = lun, .opcode = opcode, .count = count, .status = status,
	};

	if (status == OSTOR_SCSI_STATUS_GOOD ||
	    status == OSTOR_SCSI_STATUS_CHECK_CONDITION)
		return ostori_error(OSTOR_ERROR_INVALID_PARAM,
				    "inject status %#x: GOOD cannot fail a command and CHECK CONDITION needs sense; use sim_target_inject_check",
				    status);
	return add_fault(t, &f);
}

void sim_target_clear_faults(struct sim_target *t)
{
	if (!t)
		return;
	pthread_mutex_lock(&t->lock);
	t->nfaults = 0;
	pthread_mutex_unlock(&t->lock);
}

void sim_target_reset(struct sim_target *t)
{
	if (!t)
		return;
	pthread_mutex_lock(&t->lock);
	for (size_t i = 0; i < t->nlus; i++) {
		struct sim_lu *lu = t->lus[i];

		lu->ua = UA_RESET;
		lu->held = false;
		lu->started = true;
		lu->prevent = false;
		lu->wce = true;
	}
	pthread_mutex_unlock(&t->lock);
}

static struct sim_lu *lookup(struct sim_target *t, uint32_t lun, int *err)
{
	struct sim_lu *lu = t ? find_lu(t, lun, NULL) : NULL;

	if (!lu)
		*err = ostori_error(OSTOR_ERROR_NOT_FOUND,
				    "simulated LUN %u does not exist; add it first", lun);
	return lu;
}

int sim_target_set_medium(struct sim_target *t, uint32_t lun, bool present)
{
	struct sim_lu *lu;
	int r = 0;

	if (!t)
		return ostori_error(OSTOR_ERROR_INVALID_PARAM, "no simulated target");
	pthread_mutex_lock(&t->lock);
	lu = lookup(t, lun, &r);
	if (!lu)
		goto out;
	if (!lu->removable) {
		r = ostori_error(OSTOR_ERROR_INVALID_PARAM,
				 "simulated LUN %u has no removable medium; configure it removable",
				 lun);
	} else if (!present) {
		if (lu->prevent)
			r = ostori_error(OSTOR_ERROR_BUSY,
					 "simulated LUN %u: the initiator prevents medium removal; send PREVENT ALLOW MEDIUM REMOVAL (allow) first",
					 lun);
		else
			lu->present = false;
	} else if (!lu->present || !lu->loaded) {
		lu->present = lu->loaded = true;
		lu->ua |= UA_MEDIUM;
	}
out:
	pthread_mutex_unlock(&t->lock);
	return r;
}

int sim_target_set_capacity(struct sim_target *t, uint32_t lun, uint64_t blocks)
{
	struct sim_lu *lu;
	int r = 0;

	if (!t)
		return ostori_error(OSTOR_ERROR_INVALID_PARAM, "no simulated target");
	pthread_mutex_lock(&t->lock);
	lu = lookup(t, lun, &r);
	if (!lu)
		goto out;
	r = check_size(lu, blocks);
	if (r)
		goto out;
	if (lu->fd < 0 && !lu->null) {
		uint64_t bytes = blocks * lu->block_size;
		size_t len = page_round(bytes);
		void *p;

		if (len != lu->ram_len) {
#ifdef MREMAP_MAYMOVE
			p = mremap(lu->ram, lu->ram_len, len, MREMAP_MAYMOVE);
#else
			p = mmap(NULL, len, PROT_READ | PROT_WRITE,
				 MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
			if (p != MAP_FAILED) {
				memcpy(p, lu->ram, OSTOR_MIN(len, lu->ram_len));
				munmap(lu->ram, lu->ram_len);
			}
#endif
			if (p == MAP_FAILED) {
				r = ostori_error(OSTOR_ERROR_NO_MEM,
						 "cannot resize simulated LUN %u to %zu bytes: %s",
						 lun, len, strerror(errno));
				goto out;
			}
			lu->ram = p;
			lu->ram_len = len;
		}
		/* Blocks cut off and later regrown must read as zero. */
		if (bytes < len)
			memset(lu->ram + bytes, 0, (size_t)(len - bytes));
	}
	lu->blocks = blocks;
	lu->ua |= UA_CAPACITY;
out:
	pthread_mutex_unlock(&t->lock);
	return r;
}

void sim_target_get_stats(struct sim_target *t, struct sim_stats *out)
{
	if (!t || !out)
		return;
	pthread_mutex_lock(&t->lock);
	*out = t->stats;
	pthread_mutex_unlock(&t->lock);
}

void sim_target_reset_stats(struct sim_target *t)
{
	if (!t)
		return;
	pthread_mutex_lock(&t->lock);
	memset(&t->stats, 0, sizeof(t->stats));
	pthread_mutex_unlock(&t->lock);
}
