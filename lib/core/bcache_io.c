/*
 * lib/core/bcache_io.c - commands through the block cache.
 *
 * Every task bound for a cached LUN passes here before its backend (the
 * block helpers' and raw ones alike, so nothing reaches the medium around
 * the cache).  A read the lines hold completes at once; a write in
 * write-back mode is copied into lines and completes, up to the dirty
 * limit; anything else goes to the device, after the dirty blocks it
 * could see or overwrite were written out.  What has to wait for a
 * write-out or a read-ahead parks here and is resumed - on the thread that
 * owns its queue - when one completes.
 *
 * Write-out and read-ahead are the cache's own block requests
 * (ostori_block_internal), through staging buffers.  Completions of the
 * device's reads fill lines (bcache complete hook), unless a write or an
 * invalidation overlapped them meanwhile (the op went stale).
 */
#include "core/bcache.h"

#include <sched.h>
#include <stdlib.h>
#include <string.h>

#define PLAN_MAX 32  /* internal requests started per decision */

enum bc_class {
	C_PASS = 0,   /* never touches the medium's data */
	C_READ,       /* READ(6/10/12/16) */
	C_WRITE,      /* WRITE(6/10/12/16) */
	C_READ_RANGE, /* reads the medium in a range (VERIFY, odd READs): dirty blocks first */
	C_STATUS,     /* GET LBA STATUS: reports on the blocks from lba on, dirty ones first */
	C_WRITE_RANGE,/* writes a range otherwise (WRITE SAME, WRITE AND VERIFY, ...) */
	C_UNMAP,
	C_SYNC,       /* SYNCHRONIZE CACHE */
	C_ALL,        /* unknown, or changes everything: write out and drop the LUN */
};

enum bc_act { ACT_PASS = 0, ACT_DONE, ACT_PARKED };

static uint32_t be16(const uint8_t *p) { return (uint32_t)p[0] << 8 | p[1]; }
static uint32_t be32(const uint8_t *p) { return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3]; }
static uint64_t be64(const uint8_t *p) { return (uint64_t)be32(p) << 32 | be32(p + 4); }

/* What a CDB does to the medium, and the range it names. */
static enum bc_class classify(const ostor_task *t, uint64_t *lba, uint64_t *count, bool *fua, bool *plain)
{
	const uint8_t *c = t->cdb;

	*fua = false;
	*plain = true; /* no protection information */
	switch (c[0]) {
	case 0x08: case 0x0a:
		if (t->cdb_len < 6)
			return C_ALL;
		*lba = (uint64_t)(c[1] & 0x1f) << 16 | be16(c + 2);
		*count = c[4] ? c[4] : 256;
		return c[0] == 0x08 ? C_READ : C_WRITE;
	case 0x28: case 0x2a:
		if (t->cdb_len < 10)
			return C_ALL;
		*lba = be32(c + 2);
		*count = be16(c + 7);
		break;
	case 0xa8: case 0xaa:
		if (t->cdb_len < 12)
			return C_ALL;
		*lba = be32(c + 2);
		*count = be32(c + 6);
		break;
	case 0x88: case 0x8a:
		if (t->cdb_len < 16)
			return C_ALL;
		*lba = be64(c + 2);
		*count = be32(c + 10);
		break;
	case 0x2e: case 0x2f: case 0x41:  /* WRITE AND VERIFY, VERIFY, WRITE SAME (10) */
		if (t->cdb_len < 10)
			return C_ALL;
		*lba = be32(c + 2);
		*count = be16(c + 7);
		if (c[0] == 0x41 && !*count)
			return C_ALL; /* to the end of the LUN */
		return c[0] == 0x2f ? C_READ_RANGE : C_WRITE_RANGE;
	case 0xae: case 0xaf:             /* WRITE AND VERIFY, VERIFY (12) */
		if (t->cdb_len < 12)
			return C_ALL;
		*lba = be32(c + 2);
		*count = be32(c + 6);
		return c[0] == 0xaf ? C_READ_RANGE : C_WRITE_RANGE;
	case 0x8e: case 0x8f: case 0x93: case 0x8b: /* WRITE AND VERIFY, VERIFY, WRITE SAME, ORWRITE (16) */
		if (t->cdb_len < 16)
			return C_ALL;
		*lba = be64(c + 2);
		*count = be32(c + 10);
		if (c[0] == 0x93 && !*count)
			return C_ALL;
		return c[0] == 0x8f ? C_READ_RANGE : C_WRITE_RANGE;
	case 0x89:                        /* COMPARE AND WRITE */
		if (t->cdb_len < 16)
			return C_ALL;
		*lba = be64(c + 2);
		*count = c[13];
		return C_WRITE_RANGE;
	case 0x42:
		return C_UNMAP;
	case 0x35: case 0x91:
		return C_SYNC;
	case 0x9e:
		/* GET LBA STATUS: the provisioning of blocks the cache may
		 * hold dirty (never written yet, or trimmed before). */
		if ((c[1] & 0x1f) == 0x12 && t->cdb_len >= 16) {
			*lba = be64(c + 2);
			return C_STATUS;
		}
		return C_PASS;
	case 0x00: case 0x03: case 0x12: case 0x1a: case 0x5a: case 0x25: case 0xa0:
	case 0x4d: case 0x1e: case 0x37: case 0xb7: case 0xa3: case 0x1c: case 0x3c: case 0x23:
	case 0x5e: case 0x46: case 0x4a: case 0x51: case 0x43: case 0xbd: case 0x34: case 0x90:
		/* TEST UNIT READY, REQUEST SENSE, INQUIRY, MODE SENSE, READ
		 * CAPACITY, SERVICE ACTION IN, REPORT LUNS, LOG SENSE, PREVENT
		 * ALLOW, READ DEFECT DATA, MAINTENANCE IN, RECEIVE DIAGNOSTIC,
		 * READ BUFFER, READ FORMAT CAPACITIES, PERSISTENT RESERVE IN,
		 * GET CONFIGURATION, GET EVENT STATUS, READ DISC INFORMATION,
		 * READ TOC, MECHANISM STATUS, PRE-FETCH */
		return C_PASS;
	default:
		return C_ALL;
	}
	/* READ/WRITE (10/12/16): FUA, and RDPROTECT/WRPROTECT (other data). */
	*fua = (c[1] & 0x08) != 0;
	*plain = (c[1] & 0xe0) == 0;
	return c[0] == 0x28 || c[0] == 0xa8 || c[0] == 0x88 ? C_READ : C_WRITE;
}

/* ---- the task's buffer ------------------------------------------------------ */

struct cursor {
	const struct iovec *iov;
	int i, n;
	size_t off;
};

static void cur_init(struct cursor *k, const ostor_task *t)
{
	*k = (struct cursor){ t->iov, 0, t->iovcnt, 0 };
}

/* Copy len bytes between the task's buffer (from the cursor on) and p. */
static void cur_copy(struct cursor *k, uint8_t *p, size_t len, bool to_task)
{
	while (len && k->i < k->n) {
		size_t room = k->iov[k->i].iov_len - k->off, n = OSTOR_MIN(room, len);
		uint8_t *b = (uint8_t *)k->iov[k->i].iov_base + k->off;

		if (to_task)
			memcpy(b, p, n);
		else
			memcpy(p, b, n);
		p += n;
		len -= n;
		k->off += n;
		if (k->off == k->iov[k->i].iov_len) {
			k->i++;
			k->off = 0;
		}
	}
}

static void cur_skip(struct cursor *k, size_t len)
{
	while (len && k->i < k->n) {
		size_t room = k->iov[k->i].iov_len - k->off, n = OSTOR_MIN(room, len);

		len -= n;
		k->off += n;
		if (k->off == k->iov[k->i].iov_len) {
			k->i++;
			k->off = 0;
		}
	}
}

/* Walk the lines of lba..lba+count-1: for each, its number, the mask of
 * the range's blocks in it, and the first block's index in the line. */
#define FOR_RANGE_LINES(L, lba, count, no, mask, first, nblk)                              \
	for (uint64_t no = (lba) / (L)->bpl, _end = (lba) + (count), _pos = (lba); _pos < _end; \
	     no++, _pos = no * (L)->bpl)                                                     \
		for (uint32_t first = (uint32_t)(_pos % (L)->bpl),                              \
			      nblk = (uint32_t)OSTOR_MIN((uint64_t)(L)->bpl - first, _end - _pos), \
			      _once = 1; _once; _once = 0)                                      \
			for (uint64_t mask = bc_mask(first, nblk), _m = 1; _m; _m = 0)

/* ---- ops ------------------------------------------------------------------------ */

static struct bc_op *op_get(struct ostori_bcache *c, enum bc_op_kind kind, struct bc_lun *L, uint64_t lba,
			    uint64_t count)
{
	struct bc_op *op = c->free_ops;

	if (!op)
		return NULL;
	c->free_ops = op->next_free;
	op->kind = kind;
	op->slot = (uint8_t)(L - c->luns);
	op->stale = false;
	op->in_use = true;
	op->lba = lba;
	op->count = count;
	op->epoch = L->epoch;
	op->buf = NULL;
	op->region = NULL;
	op->buf_len = 0;
	op->snap = NULL;
	op->snap_bits = NULL;
	op->waiter = NULL;
	c->ops_inflight++;
	return op;
}

static void op_put(struct ostori_bcache *c, struct bc_op *op)
{
	if (op->snap) {
		c->staging_used -= op->buf_len;
		free(op->snap);
		free(op->snap_bits);
		op->snap = NULL;
		op->snap_bits = NULL;
	}
	op->in_use = false;
	op->next_free = c->free_ops;
	c->free_ops = op;
	c->ops_inflight--;
}

/* Internal requests (read-ahead, write-out) in flight: what resumes
 * parked tasks. */
static unsigned int internal_inflight(const struct ostori_bcache *c)
{
	unsigned int n = 0;

	for (int i = 0; i < BC_OPS_MAX; i++)
		n += c->ops[i].in_use && (c->ops[i].kind == BC_OP_WRITEOUT || c->ops[i].kind == BC_OP_READ_AHEAD);
	return n;
}

static bool overlaps_op(const struct ostori_bcache *c, const struct bc_lun *L, enum bc_op_kind kind,
			uint64_t lba, uint64_t count)
{
	unsigned int slot = (unsigned int)(L - c->luns);

	for (int i = 0; i < BC_OPS_MAX; i++) {
		const struct bc_op *op = &c->ops[i];

		if (op->in_use && op->kind == kind && op->slot == slot && !op->stale &&
		    op->epoch == L->epoch && op->lba < lba + count && lba < op->lba + op->count)
			return true;
	}
	return false;
}

/* Dirty or being-written blocks of L inside the range. */
static bool range_busy(struct ostori_bcache *c, struct bc_lun *L, uint64_t lba, uint64_t count)
{
	if (!L->dirty_blocks && !L->writing_blocks)
		return false;
	if (L->dirty.n <= 1024 || count / L->bpl > 1024) {
		for (struct bc_line *l = L->dirty.head; l; l = l->next) {
			uint64_t s = l->no * L->bpl;

			if (s < lba + count && lba < s + L->bpl)
				return true;
		}
		return L->writing_blocks && overlaps_op(c, L, BC_OP_WRITEOUT, lba, count);
	}
	FOR_RANGE_LINES(L, lba, count, no, mask, first, nblk) {
		struct bc_line *l = ostori_bc_lookup(c, (unsigned int)(L - c->luns), no);

		(void)first;
		(void)nblk;
		if (l && ((l->dirty | l->writing) & mask))
			return true;
	}
	return false;
}

/* ---- write-out -------------------------------------------------------------- */

static bool block_ready(struct ostori_bcache *c, struct bc_lun *L, uint64_t lba)
{
	struct bc_line *l = ostori_bc_lookup(c, (unsigned int)(L - c->luns), lba / L->bpl);
	uint64_t bit = UINT64_C(1) << (lba % L->bpl);

	return l && (l->dirty & ~l->writing & bit);
}

void ostori_bc_writeout_plan(struct ostori_bcache *c, struct bc_lun *L, bool all, struct bc_op **out,
			     int *n, int max)
{
	unsigned int slot = (unsigned int)(L - c->luns);
	uint64_t maxb = OSTOR_MAX(1u, c->writeout_max / L->block_size);
	struct bc_line *l = L->dirty.tail;

	while (l && *n < max) {
		uint64_t avail = l->dirty & ~l->writing, start, end;
		struct bc_line *prev = l->prev;
		struct bc_op *op;
		size_t bytes;

		if (!all && c->dirty_bytes <= c->background)
			break;
		if (!avail) {
			l = prev;
			continue;
		}
		/* The run of ready blocks around the oldest dirty one. */
		start = l->no * L->bpl + (uint64_t)__builtin_ctzll(avail);
		end = start + 1;
		while (start > 0 && end - start < maxb && block_ready(c, L, start - 1))
			start--;
		while (end < L->blocks && end - start < maxb && block_ready(c, L, end))
			end++;
		bytes = (size_t)(end - start) * L->block_size;
		if (c->staging_used + bytes > c->staging_max && c->staging_used)
			break;
		op = op_get(c, BC_OP_WRITEOUT, L, start, end - start);
		if (!op)
			break;
		op->buf = malloc(bytes);
		if (!op->buf) {
			op_put(c, op);
			break;
		}
		op->buf_len = bytes;
		c->staging_used += bytes;
		FOR_RANGE_LINES(L, start, end - start, no, mask, first, nblk) {
			struct bc_line *x = ostori_bc_lookup(c, slot, no);
			uint64_t k = no * L->bpl + first - start;

			memcpy(op->buf + k * L->block_size, x->data + (size_t)first * L->block_size,
			       (size_t)nblk * L->block_size);
			x->writing |= mask;
			x->dirty &= ~mask;
			ostori_bc_relist(c, x);
		}
		L->dirty_blocks -= end - start;
		L->writing_blocks += end - start;
		c->dirty_bytes -= bytes;
		c->writing_bytes += bytes;
		out[(*n)++] = op;
		/* prev may have left the list (all its blocks taken): then
		 * start again from the oldest. */
		l = prev && prev->list == BC_LIST_DIRTY ? prev : L->dirty.tail;
	}
}

/* Background write-out of every LUN while the total is past the mark. */
static void plan_background(struct ostori_bcache *c, struct bc_op **out, int *n)
{
	for (int i = 0; i < BC_LUNS_MAX && c->dirty_bytes > c->background; i++)
		if (c->luns[i].in_use && c->luns[i].dirty_blocks)
			ostori_bc_writeout_plan(c, &c->luns[i], false, out, n, PLAN_MAX);
}

/* ---- read-ahead ------------------------------------------------------------- */

static void readahead_note(struct ostori_bcache *c, struct bc_lun *L, uint64_t lba, uint64_t count,
			   struct bc_op **out, int *n)
{
	uint64_t max_blocks = c->read_ahead_max / L->block_size;
	struct bc_stream *s = NULL, *old = &L->streams[0];
	struct bc_region *r;
	uint64_t from, want;
	struct bc_op *op;

	if (!max_blocks)
		return;
	/* A stream's next read starts where its furthest ended; with several
	 * in flight, or one that waited for a window and comes back, a read
	 * may also start a little before. */
	for (int i = 0; i < BC_STREAMS; i++) {
		struct bc_stream *x = &L->streams[i];

		if (x->last_use && lba <= x->next && lba + count + x->window >= x->next) {
			s = x;
			break;
		}
		if (x->last_use < old->last_use)
			old = x;
	}
	if (!s) {
		/* A new stream (or random access): followed, nothing read ahead. */
		*old = (struct bc_stream){ lba + count, lba + count, (uint32_t)OSTOR_MIN(count, max_blocks),
					   ++c->clock };
		return;
	}
	s->last_use = ++c->clock;
	if (lba + count > s->next) {
		s->next = lba + count;
		s->window = (uint32_t)OSTOR_MIN(OSTOR_MAX((uint64_t)s->window * 2, count), max_blocks);
	}
	if (s->ahead < s->next)
		s->ahead = s->next;
	/* Keep up to two windows ahead of the reader (the device reads one
	 * while the reader copies from the other): the next when a window's
	 * worth or less is left. */
	if (s->ahead - s->next > s->window || s->ahead >= L->blocks || *n >= PLAN_MAX)
		return;
	/* Whole lines from the one holding s->ahead: the region's lines
	 * become the cache's as they are. */
	from = s->ahead - s->ahead % L->bpl;
	want = s->ahead - from + s->window;
	want = OSTOR_MIN(OSTOR_MIN((want + L->bpl - 1) / L->bpl * L->bpl, max_blocks), L->blocks - from);
	op = op_get(c, BC_OP_READ_AHEAD, L, from, want);
	if (!op)
		return;
	r = ostori_bc_region_take(c);
	if (!r) {
		op_put(c, op);
		return;
	}
	op->region = r;
	op->buf = r->mem;
	s->ahead = from + want;
	out[(*n)++] = op;
}

/* Copy blocks lba.. (count) from buf into lines, where the lines do not
 * hold them (what they hold is as new or newer). */
static void fill_lines(struct ostori_bcache *c, struct bc_lun *L, uint64_t lba, uint64_t count,
		       const uint8_t *buf)
{
	unsigned int slot = (unsigned int)(L - c->luns);

	FOR_RANGE_LINES(L, lba, count, no, mask, first, nblk) {
		struct bc_line *l = ostori_bc_get_line(c, slot, no);

		(void)nblk;
		if (!l)
			return; /* every line dirty: no room to keep more */
		ostori_bc_fill_line(c, L, l, mask, buf + (no * L->bpl + first - lba) * L->block_size, false);
		ostori_bc_relist(c, l);
	}
}

/* ---- decisions ----------------------------------------------------------------- */

struct plan {
	struct bc_op *ops[PLAN_MAX];
	int n;
};

static void park(struct ostori_bcache *c, ostor_task *t)
{
	t->bcache_parked = true;
	t->wait_next = NULL;
	if (c->parked_tail)
		c->parked_tail->wait_next = t;
	else
		c->parked_head = t;
	c->parked_tail = t;
}

/* Copy a read the lines hold wholly; false when they do not. */
static bool read_hit(struct ostori_bcache *c, struct bc_lun *L, ostor_task *t, uint64_t lba, uint64_t count)
{
	unsigned int slot = (unsigned int)(L - c->luns);
	struct bc_line *seen[16];
	struct cursor k;
	unsigned int i = 0;

	FOR_RANGE_LINES(L, lba, count, no, mask, first, nblk) {
		struct bc_line *l = ostori_bc_lookup(c, slot, no);

		(void)first;
		(void)nblk;
		if (!l || (l->valid & mask) != mask)
			return false;
		if (i < 16)
			seen[i] = l;
		i++;
	}
	/* The common case, one segment and one line: no cursor. */
	if (i == 1 && t->iovcnt == 1) {
		memcpy(t->iov[0].iov_base, seen[0]->data + (size_t)(lba % L->bpl) * L->block_size,
		       (size_t)count * L->block_size);
		bc_note_read(seen[0], bc_mask((uint32_t)(lba % L->bpl), (uint32_t)count));
		ostori_bc_touch(c, seen[0]);
		return true;
	}
	cur_init(&k, t);
	i = 0;
	FOR_RANGE_LINES(L, lba, count, no, mask, first, nblk) {
		struct bc_line *l = i < 16 ? seen[i] : ostori_bc_lookup(c, slot, no);

		i++;
		cur_copy(&k, l->data + (size_t)first * L->block_size, (size_t)nblk * L->block_size, true);
		bc_note_read(l, mask);
		ostori_bc_touch(c, l);
	}
	return true;
}

/* A FILL op for t with the dirty and being-written blocks of the range
 * copied aside: 1 (t->bcache_op set), 0 when there is no room for the
 * copy (or no op) and write-outs in flight will make some. */
static int snapshot(struct ostori_bcache *c, struct bc_lun *L, ostor_task *t, uint64_t lba, uint64_t count)
{
	unsigned int slot = (unsigned int)(L - c->luns);
	size_t bytes = (size_t)count * L->block_size, words = (size_t)(count + 63) / 64;
	struct bc_op *op;

	if (c->staging_used + bytes > c->staging_max && internal_inflight(c))
		return 0;
	op = op_get(c, BC_OP_FILL, L, lba, count);
	if (!op)
		return 0;
	op->snap = malloc(bytes);
	op->snap_bits = calloc(words, sizeof(uint64_t));
	if (!op->snap || !op->snap_bits) {
		free(op->snap);
		free(op->snap_bits);
		op->snap = NULL;
		op->snap_bits = NULL;
		op_put(c, op);
		return 0;
	}
	op->buf_len = bytes;
	c->staging_used += bytes;
	FOR_RANGE_LINES(L, lba, count, no, mask, first, nblk) {
		struct bc_line *l = ostori_bc_lookup(c, slot, no);
		uint64_t busy = l ? (l->dirty | l->writing) & mask : 0;

		(void)nblk;
		for (uint64_t m = busy; m; m &= m - 1) {
			uint32_t b = (uint32_t)__builtin_ctzll(m);
			uint64_t k = no * L->bpl + b - lba;

			memcpy(op->snap + k * L->block_size, l->data + (size_t)b * L->block_size, L->block_size);
			op->snap_bits[k / 64] |= UINT64_C(1) << (k % 64);
		}
		(void)first;
	}
	t->bcache_op = op;
	return 1;
}

/* Room for a write-back write of these lines, within the dirty limit. */
static bool write_fits(struct ostori_bcache *c, struct bc_lun *L, uint64_t lba, uint64_t count)
{
	uint64_t lines = (lba + count - 1) / L->bpl - lba / L->bpl + 1;

	return c->dirty_bytes + c->writing_bytes + count * L->block_size <= c->dirty_limit &&
	       ostori_bc_room(c) >= lines;
}

static void write_absorb(struct ostori_bcache *c, struct bc_lun *L, ostor_task *t, uint64_t lba, uint64_t count)
{
	unsigned int slot = (unsigned int)(L - c->luns);
	struct cursor k;

	cur_init(&k, t);
	FOR_RANGE_LINES(L, lba, count, no, mask, first, nblk) {
		struct bc_line *l = ostori_bc_get_line(c, slot, no);
		uint64_t added = mask & ~l->dirty;

		cur_copy(&k, l->data + (size_t)first * L->block_size, (size_t)nblk * L->block_size, false);
		l->valid |= mask;
		l->ra = false;
		ostori_bc_set_dirty(c, L, l, mask);
		c->dirty_bytes += (uint64_t)__builtin_popcountll(added) * L->block_size;
		ostori_bc_relist(c, l);
		ostori_bc_touch(c, l);
	}
	ostori_bc_stale_fills(c, L, lba, count);
}

/* Whether an internal request will come back to resume what parks now. */
static bool progress_ahead(const struct ostori_bcache *c, const struct plan *p)
{
	return p->n || internal_inflight(c);
}

/* The SCSI answer a failing cache gives a command (CHECK CONDITION,
 * MEDIUM ERROR, WRITE ERROR), for raw tasks and block helpers alike. */
static void finish_write_error(ostor_task *t)
{
	static const uint8_t sense[18] = { 0x70, 0, 0x03, 0, 0, 0, 0, 10, 0, 0, 0, 0, 0x0c, 0x00 };

	ostori_task_finish(t, OSTOR_RESULT_CHECK_CONDITION, OSTOR_SCSI_STATUS_CHECK_CONDITION, sense,
			   sizeof(sense), 0);
}

/* Decide for t (c->lock held).  ACT_DONE: *fail says how it ends (0: GOOD
 * from the cache). */
static enum bc_act decide(struct ostori_bcache *c, struct bc_lun *L, ostor_task *t, struct plan *p,
			  int *fail)
{
	uint64_t lba = 0, count = 0, bytes;
	bool fua, plain;
	enum bc_class cls = classify(t, &lba, &count, &fua, &plain);

	*fail = 0;
	if (cls == C_PASS)
		return ACT_PASS;
	if ((cls == C_READ || cls == C_WRITE || cls == C_READ_RANGE || cls == C_WRITE_RANGE) &&
	    (!count || lba >= L->blocks || count > L->blocks - lba))
		return ACT_PASS; /* nothing, or out of range: the device answers */
	bytes = count * L->block_size;
	if (cls == C_READ && (!plain || t->dir != OSTOR_DIR_FROM_DEVICE || t->data_len != bytes))
		cls = C_READ_RANGE;
	if (cls == C_WRITE && (!plain || t->dir != OSTOR_DIR_TO_DEVICE || t->data_len != bytes))
		cls = C_WRITE_RANGE;

	switch (cls) {
	case C_READ:
		if (read_hit(c, L, t, lba, count)) {
			L->st.read_hits++;
			readahead_note(c, L, lba, count, p->ops, &p->n);
			return ACT_DONE;
		}
		/* What read-ahead is bringing: wait for it rather than read twice
		 * (the stream goes on meanwhile). */
		if (overlaps_op(c, L, BC_OP_READ_AHEAD, lba, count)) {
			readahead_note(c, L, lba, count, p->ops, &p->n);
			park(c, t);
			return ACT_PARKED;
		}
		/* Blocks newer in the cache than on the device: the device
		 * answers for them with older data, and the lines may be
		 * written out and gone by then - their data now goes over its
		 * answer.  Without room for that copy they go out first. */
		if (range_busy(c, L, lba, count)) {
			if (!snapshot(c, L, t, lba, count))
				goto drain;
			L->st.read_misses++;
			readahead_note(c, L, lba, count, p->ops, &p->n);
			return ACT_PASS;
		}
		L->st.read_misses++;
		t->bcache_op = op_get(c, BC_OP_FILL, L, lba, count);
		readahead_note(c, L, lba, count, p->ops, &p->n);
		return ACT_PASS;

	case C_WRITE:
		if (c->mode == OSTOR_CACHE_WRITE_BACK && !fua && bytes <= c->dirty_limit) {
			if (write_fits(c, L, lba, count)) {
				write_absorb(c, L, t, lba, count);
				L->st.writes_absorbed++;
				if (c->dirty_bytes > c->background)
					plan_background(c, p->ops, &p->n);
				return ACT_DONE;
			}
			/* Wait for room, unless the device refuses write-outs and
			 * nothing in flight could make any. */
			if (!L->writeout_failed) {
				ostori_bc_writeout_plan(c, L, true, p->ops, &p->n, PLAN_MAX);
				plan_background(c, p->ops, &p->n);
			}
			if (progress_ahead(c, p)) {
				park(c, t);
				return ACT_PARKED;
			}
			if (L->writeout_failed) {
				ostor_warn(c->dev->ctx, "%s %u:%u: a write cannot wait for room in the cache: writing "
					   "cached data out fails (%s)", c->dev->spec, L->target, L->lun, L->sticky_why);
				*fail = OSTOR_ERROR_IO;
				return ACT_DONE;
			}
		}
		/* Write-through, FUA, or too large to absorb: to the device,
		 * after any older version of these blocks. */
		if (range_busy(c, L, lba, count))
			goto drain;
		ostori_bc_invalidate_range(c, L, lba, count);
		L->st.writes_through++;
		t->bcache_op = op_get(c, BC_OP_THROUGH, L, lba, count);
		return ACT_PASS;

	case C_READ_RANGE:
		if (range_busy(c, L, lba, count))
			goto drain;
		return ACT_PASS;

	case C_WRITE_RANGE:
		if (range_busy(c, L, lba, count))
			goto drain;
		ostori_bc_invalidate_range(c, L, lba, count);
		/* Reads that started before and complete after it fill nothing. */
		t->bcache_op = op_get(c, BC_OP_THROUGH, L, lba, count);
		return ACT_PASS;

	case C_STATUS:
		if (lba < L->blocks && range_busy(c, L, lba, L->blocks - lba)) {
			count = L->blocks - lba;
			goto drain;
		}
		return ACT_PASS;

	case C_SYNC:
		if (L->dirty_blocks || L->writing_blocks) {
			lba = 0;
			count = L->blocks;
			goto drain;
		}
		if (L->sticky) {
			*fail = L->sticky;
			return ACT_DONE;
		}
		return ACT_PASS;

	case C_UNMAP:
	case C_ALL:
	default:
		if (L->dirty_blocks || L->writing_blocks) {
			lba = 0;
			count = L->blocks;
			goto drain;
		}
		ostori_bc_invalidate_range(c, L, 0, L->blocks);
		t->bcache_op = op_get(c, BC_OP_THROUGH, L, 0, L->blocks);
		return ACT_PASS;
	}

drain:
	/* Older data of the range goes to the device first - unless the
	 * device refuses it and nothing in flight may change that. */
	if (!L->writeout_failed)
		ostori_bc_writeout_plan(c, L, true, p->ops, &p->n, PLAN_MAX);
	if (!progress_ahead(c, p)) {
		ostor_warn(c->dev->ctx, "%s %u:%u: command %02xh fails: cached data it depends on cannot be "
			   "written out (%s)", c->dev->spec, L->target, L->lun, t->cdb[0], L->sticky_why);
		*fail = L->sticky ? L->sticky : OSTOR_ERROR_IO;
		return ACT_DONE;
	}
	park(c, t);
	return ACT_PARKED;
}

static void op_done(ostor_device *dev, int result, void *ud);

void ostori_bc_ops_submit(struct ostori_bcache *c, struct bc_op **ops, int n)
{
	for (int i = 0; i < n; i++) {
		struct bc_op *op = ops[i];
		struct bc_lun *L = &c->luns[op->slot];
		bool write = op->kind == BC_OP_WRITEOUT;
		int r;

		r = ostori_block_internal(c->dev, L->target, L->lun, op->lba, (uint32_t)op->count, op->buf, write,
					  (struct ostor_block_completion){ op_done, op, NULL });
		if (r < 0) {
			ostor_warn(c->dev->ctx, "%s %u:%u: cache %s of blocks %llu..%llu could not start: %s",
				   c->dev->spec, L->target, L->lun, write ? "write-out" : "read-ahead",
				   (unsigned long long)op->lba, (unsigned long long)(op->lba + op->count - 1),
				   ostor_last_error());
			op_done(c->dev, r, op);
		}
	}
}

/* The task's way on after a decision outside the cache lock. */
static int act(struct ostori_bcache *c, ostor_task *t, enum bc_act a, int fail)
{
	int r;

	if (a == ACT_DONE) {
		if (fail) {
			finish_write_error(t);
		} else if (OSTOR_LIKELY(t->chan != NULL)) {
			/* Answered here: nothing for the caches' completion
			 * hooks to learn, straight to the owner. */
			t->result = OSTOR_RESULT_GOOD;
			t->status = OSTOR_SCSI_STATUS_GOOD;
			t->sense_len = 0;
			t->transferred = t->data_len;
			ostori_channel_complete(t);
		} else {
			ostori_task_finish(t, OSTOR_RESULT_GOOD, OSTOR_SCSI_STATUS_GOOD, NULL, 0, t->data_len);
		}
		return 0;
	}
	if (a == ACT_PARKED)
		return 0;
	r = ostori_backend_submit_direct(t);
	if (OSTOR_UNLIKELY(r != 0) && t->bcache_op) {
		/* Not submitted (full: it comes back through here later). */
		pthread_mutex_lock(&c->lock);
		op_put(c, t->bcache_op);
		pthread_mutex_unlock(&c->lock);
		t->bcache_op = NULL;
	}
	return r;
}

int ostori_bcache_submit(ostor_task *t)
{
	struct ostori_bcache *c = t->dev->bcache;
	struct bc_lun *L;
	struct plan p;
	enum bc_act a;
	int fail = 0;

	p.n = 0;
	pthread_mutex_lock(&c->lock);
	L = ostori_bc_lun_find(c, t->target, t->lun);
	if (!L || !L->known) {
		pthread_mutex_unlock(&c->lock);
		return ostori_backend_submit_direct(t);
	}
	a = decide(c, L, t, &p, &fail);
	pthread_mutex_unlock(&c->lock);
	if (a == ACT_PASS && p.n) {
		/* The command first, read-ahead behind it (a Bulk-Only device
		 * runs one at a time). */
		int r = act(c, t, a, fail);

		ostori_bc_ops_submit(c, p.ops, p.n);
		return r;
	}
	ostori_bc_ops_submit(c, p.ops, p.n);
	return act(c, t, a, fail);
}

/* ---- resuming parked tasks ------------------------------------------------------- */

/* Resume what this thread may submit (shared-path tasks, and those of
 * queues it owns; with `only`, that queue's alone).  The others stay on
 * the list, in order, and - without `only` - their owners are asked to
 * resume them: asked while they are on the list, under the lock, so an
 * owner that looks at once finds them (a task taken off the list and put
 * back later was missed by an owner that looked meanwhile, and waited
 * forever once nothing else was in flight). */
static void resume_parked(struct ostori_bcache *c, struct ostori_channel *only)
{
	ostor_task *list = NULL, **tail = &list, **pp, *last_kept = NULL;
	bool kick = false;

	pthread_mutex_lock(&c->lock);
	for (pp = &c->parked_head; *pp;) {
		ostor_task *t = *pp;
		struct ostori_channel *ch = t->chan;

		if (only ? ch != only : ch && !ostori_channel_is_mine(ch)) {
			if (!only && ostori_channel_want_resume(ch))
				kick = true;
			last_kept = t;
			pp = &t->wait_next;
			continue;
		}
		*pp = t->wait_next;
		t->bcache_parked = false;
		t->wait_next = NULL;
		*tail = t;
		tail = &t->wait_next;
	}
	c->parked_tail = last_kept;
	pthread_mutex_unlock(&c->lock);
	/* The owner blocked in the event loop wakes (outside the cache's
	 * lock: the wake takes the context's). */
	if (kick)
		ostori_kick_loop(c->dev->ctx);
	while (list) {
		ostor_task *t = list;
		struct ostori_channel *ch = t->chan;
		int r;

		list = t->wait_next;
		t->wait_next = NULL;
		if (OSTOR_UNLIKELY(ostori_task_cancelled(t))) {
			/* Cancelled while it waited: it never reached the device. */
			ostori_task_finish(t, OSTOR_RESULT_ABORTED, -1, NULL, 0, 0);
			continue;
		}
		r = ostori_bcache_submit(t);
		if (r == OSTORI_SUBMIT_FULL)
			r = ch ? ostori_channel_park(ch, t) : ostori_device_park(t->dev, t);
		if (r < 0)
			ostori_task_finish(t, OSTOR_RESULT_TRANSPORT_ERROR, -1, NULL, 0, 0);
	}
}

bool ostori_bcache_cancel(ostor_task *t)
{
	struct ostori_bcache *c = t->dev->bcache;
	ostor_task **pp, *prev = NULL;
	bool found = false;

	pthread_mutex_lock(&c->lock);
	if (t->bcache_parked) {
		for (pp = &c->parked_head; *pp; prev = *pp, pp = &(*pp)->wait_next) {
			if (*pp != t)
				continue;
			*pp = t->wait_next;
			if (c->parked_tail == t)
				c->parked_tail = prev;
			t->wait_next = NULL;
			t->bcache_parked = false;
			found = true;
			break;
		}
	}
	pthread_mutex_unlock(&c->lock);
	return found;
}

void ostori_bcache_resume_channel(ostor_device *dev, struct ostori_channel *ch)
{
	if (dev->bcache)
		resume_parked(dev->bcache, ch);
}

/* ---- completions ---------------------------------------------------------------- */

static void writeout_done(struct ostori_bcache *c, struct bc_lun *L, struct bc_op *op, int result)
{
	unsigned int slot = (unsigned int)(L - c->luns);
	uint64_t bytes = (uint64_t)op->count * L->block_size;

	if (op->epoch != L->epoch)
		return; /* the LUN was dropped meanwhile (and the loss reported) */
	/* Reads that were at the device meanwhile may have seen either
	 * version: they fill nothing. */
	ostori_bc_stale_fills(c, L, op->lba, op->count);
	FOR_RANGE_LINES(L, op->lba, op->count, no, mask, first, nblk) {
		struct bc_line *l = ostori_bc_lookup(c, slot, no);

		(void)first;
		(void)nblk;
		if (!l)
			continue;
		l->writing &= ~mask;
		if (result < 0) {
			/* Still newer than the device: dirty again (unless a
			 * later write already made it so). */
			uint64_t again = mask & ~l->dirty;

			ostori_bc_set_dirty(c, L, l, mask);
			c->dirty_bytes += (uint64_t)__builtin_popcountll(again) * L->block_size;
		}
		ostori_bc_relist(c, l);
	}
	L->writing_blocks -= op->count;
	c->writing_bytes -= bytes;
	if (result < 0) {
		L->st.writeout_errors++;
		L->writeout_failed = true;
		if (!L->sticky) {
			L->sticky = result;
			snprintf(L->sticky_why, sizeof(L->sticky_why),
				 "writing cached blocks %llu..%llu out to the device failed (%s); they stay "
				 "cached and are written again by the next flush after ostor_flush_acknowledge",
				 (unsigned long long)op->lba, (unsigned long long)(op->lba + op->count - 1),
				 ostor_last_error());
		}
		ostor_err(c->dev->ctx, "%s target %u lun %u: %s", c->dev->spec, L->target, L->lun, L->sticky_why);
	} else {
		L->st.writeouts++;
		L->st.writeout_bytes += bytes;
		L->writeout_failed = false;
	}
}

static void op_done(ostor_device *dev, int result, void *ud)
{
	struct bc_op *op = ud;
	struct ostori_bcache *c = op->c;
	struct bc_lun *L = &c->luns[op->slot];
	struct plan p;

	(void)dev;
	p.n = 0;
	pthread_mutex_lock(&c->lock);
	if (op->kind == BC_OP_WRITEOUT) {
		c->staging_used -= op->buf_len;
		writeout_done(c, L, op, result);
		free(op->buf);
	} else if (op->kind == BC_OP_READ_AHEAD) {
		if (result == 0) {
			L->st.read_ahead_bytes += (uint64_t)op->count * L->block_size;
			if (!op->stale && op->epoch == L->epoch)
				ostori_bc_region_fill(c, L, op->region, op->lba, op->count);
		}
		op->region->busy = false;
	}
	op_put(c, op);
	/* Writes that wait for room need more write-outs; so does a total
	 * still past the mark. */
	if (c->parked_head)
		for (int i = 0; i < BC_LUNS_MAX; i++)
			if (c->luns[i].in_use && c->luns[i].dirty_blocks && !c->luns[i].writeout_failed)
				ostori_bc_writeout_plan(c, &c->luns[i], true, p.ops, &p.n, PLAN_MAX);
	plan_background(c, p.ops, &p.n);
	pthread_mutex_unlock(&c->lock);
	ostori_bc_ops_submit(c, p.ops, p.n);
	resume_parked(c, NULL);
}

/* After the device answered a task that went through the cache (any
 * thread, possibly under backend locks: no submissions here). */
void ostori_bcache_complete(ostor_task *t)
{
	struct ostori_bcache *c = t->dev->bcache;
	struct bc_op *op = t->bcache_op;
	bool good = t->result == OSTOR_RESULT_GOOD && t->transferred == t->data_len;

	if (op) {
		struct bc_lun *L = &c->luns[op->slot];

		t->bcache_op = NULL;
		pthread_mutex_lock(&c->lock);
		if (op->epoch == L->epoch) {
			if (op->kind == BC_OP_FILL && good) {
				/* Blocks the cache holds are as new or newer than what
				 * the device returned (dirty ones certainly). */
				unsigned int slot = op->slot;
				struct cursor k;

				if (op->snap) {
					/* What was newer than the device at submission. */
					cur_init(&k, t);
					for (uint64_t b = 0; b < op->count; b++) {
						if (op->snap_bits[b / 64] >> (b % 64) & 1)
							cur_copy(&k, op->snap + b * L->block_size, L->block_size, true);
						else
							cur_skip(&k, L->block_size);
					}
				}
				cur_init(&k, t);
				FOR_RANGE_LINES(L, op->lba, op->count, no, mask, first, nblk) {
					struct bc_line *l = ostori_bc_lookup(c, slot, no);

					if (!l || !(l->valid & mask)) {
						cur_skip(&k, (size_t)nblk * L->block_size);
						continue;
					}
					for (uint32_t b = first; b < first + nblk; b++) {
						if (l->valid >> b & 1)
							cur_copy(&k, l->data + (size_t)b * L->block_size, L->block_size, true);
						else
							cur_skip(&k, L->block_size);
					}
				}
				if (!op->stale) {
					/* Fill from the task's buffer, a block at a time. */
					uint8_t *tmp = NULL;

					if (t->iovcnt == 1)
						fill_lines(c, L, op->lba, op->count, t->iov[0].iov_base);
					else if ((tmp = malloc(t->data_len))) {
						cur_init(&k, t);
						cur_copy(&k, tmp, t->data_len, false);
						fill_lines(c, L, op->lba, op->count, tmp);
						free(tmp);
					}
				}
			} else if (op->kind == BC_OP_THROUGH) {
				bool newer = op->stale; /* a later write overlapped it */

				/* Reads in flight may have seen either version. */
				ostori_bc_stale_fills(c, L, op->lba, op->count);
				if (good && !newer && t->dir == OSTOR_DIR_TO_DEVICE && (t->cdb[0] == 0x0a ||
				    t->cdb[0] == 0x2a || t->cdb[0] == 0xaa || t->cdb[0] == 0x8a) &&
				    t->data_len == (size_t)op->count * L->block_size && t->iovcnt == 1)
					/* Write-allocate: read back from the cache next time. */
					fill_lines(c, L, op->lba, op->count, t->iov[0].iov_base);
			}
		}
		op_put(c, op);
		pthread_mutex_unlock(&c->lock);
	}
	if (t->result == OSTOR_RESULT_CHECK_CONDITION && t->sense_len >= 3) {
		struct ostor_scsi_sense s = OSTOR_SCSI_SENSE_INIT;

		if (ostor_scsi_parse_sense(t->sense, t->sense_len, &s) == 0 &&
		    s.key == OSTOR_SCSI_SENSE_UNIT_ATTENTION) {
			if (s.asc == 0x28)
				ostori_bcache_lun_event(t->dev, OSTOR_EVENT_MEDIUM_CHANGED, t->target, t->lun);
			else if (s.asc == 0x2a && s.ascq == 0x09)
				ostori_bcache_lun_event(t->dev, OSTOR_EVENT_CAPACITY_CHANGED, t->target, t->lun);
		}
	}
}

/* ---- flush ----------------------------------------------------------------------- */

int ostori_bcache_writeout_wait(ostor_device *dev, uint32_t target, uint32_t lun)
{
	struct ostori_bcache *c = dev->bcache;
	struct bc_lun *L;
	uint64_t errors0;

	if (!c)
		return 0;
	pthread_mutex_lock(&c->lock);
	L = ostori_bc_lun_find(c, target, lun);
	errors0 = L ? L->st.writeout_errors : 0;
	pthread_mutex_unlock(&c->lock);
	if (!L)
		return 0;
	for (;;) {
		struct plan p;
		bool busy, failed;

		p.n = 0;
		pthread_mutex_lock(&c->lock);
		failed = L->st.writeout_errors != errors0;
		busy = L->writing_blocks || (!failed && L->dirty_blocks);
		if (busy && !failed)
			ostori_bc_writeout_plan(c, L, true, p.ops, &p.n, PLAN_MAX);
		pthread_mutex_unlock(&c->lock);
		if (!busy)
			break;
		ostori_bc_ops_submit(c, p.ops, p.n);
		if (ostori_wait_step(dev->ctx, 100) == 0)
			sched_yield();
	}
	return 0;
}

bool ostori_bcache_dirty(ostor_device *dev, uint32_t target, uint32_t lun)
{
	struct ostori_bcache *c = dev->bcache;
	struct bc_lun *L;
	bool dirty;

	if (!c)
		return false;
	pthread_mutex_lock(&c->lock);
	L = ostori_bc_lun_find(c, target, lun);
	dirty = L && (L->dirty_blocks || L->writing_blocks || L->sticky);
	pthread_mutex_unlock(&c->lock);
	return dirty;
}

int ostori_bcache_sticky(ostor_device *dev, uint32_t target, uint32_t lun, char *why, size_t len)
{
	struct ostori_bcache *c = dev->bcache;
	int r = 0;

	if (!c)
		return 0;
	pthread_mutex_lock(&c->lock);
	for (int i = 0; i < BC_LUNS_MAX && !r; i++) {
		struct bc_lun *L = &c->luns[i];

		if (!bc_lun_matches(L, target, lun) || !L->sticky)
			continue;
		r = L->sticky;
		if (why && len)
			snprintf(why, len, "%s", L->sticky_why);
	}
	pthread_mutex_unlock(&c->lock);
	return r;
}

int ostori_bcache_acknowledge(ostor_device *dev, uint32_t target, uint32_t lun)
{
	struct ostori_bcache *c = dev->bcache;
	int r = 0;

	if (!c)
		return 0;
	pthread_mutex_lock(&c->lock);
	for (int i = 0; i < BC_LUNS_MAX; i++) {
		struct bc_lun *L = &c->luns[i];

		if (!bc_lun_matches(L, target, lun))
			continue;
		if (L->sticky && !r)
			r = L->sticky;
		L->sticky = 0;
		L->sticky_why[0] = 0;
		L->writeout_failed = false;
	}
	pthread_mutex_unlock(&c->lock);
	return r;
}
