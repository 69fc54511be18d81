/*
 * plugins/nbdkit/io.c - reads, writes, flush, trim and zero.
 *
 * NBD addresses bytes; SCSI addresses blocks.  The plugin advertises the
 * logical block size as the minimum block size, and clients that ask
 * (qemu, nbdcopy, libnbd) align to it; nbdkit 1.32 does not enforce it,
 * so a client that does not ask may still send any offset.  Such requests
 * are served, not refused: the whole blocks in the middle go straight to
 * the device, and the partial block at each end is read, patched and
 * written back (read-modify-write).  An RMW holds the LUN's rwlock
 * exclusively and every other write holds it shared, so a concurrent
 * aligned write to the same block cannot be lost; reads take no lock.
 *
 * FUA is native: the write goes out as WRITE(16) with its FUA bit (the
 * block cache passes such writes through to the device), not as a write
 * followed by a flush.  Trim and zero with FUA are followed by a flush
 * of the LUN, as SBC has no FUA bit for UNMAP and WRITE SAME.
 *
 * Copyright (C) 2026 The liborionstor authors.  LGPL-2.1-or-later.
 */
#include "plugin.h"

#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#define NBDKIT_API_VERSION 2
#include <nbdkit-plugin.h>

#define MIN(a, b) ((a) < (b) ? (a) : (b))

/* The calling thread, or -1 when the device is gone or no memory. */
#define BEGIN(t)                                    \
	do {                                        \
		if (atomic_load_explicit(&onbd.gone, memory_order_relaxed)) \
			return onbd_gone();         \
		if (!((t) = onbd_thread()))         \
			return -1;                  \
	} while (0)

static uint8_t *block_buffer(struct onbd_thread *t, const struct onbd_lun *L)
{
	if (t->block_len < L->block_size) {
		uint8_t *b = realloc(t->block, L->block_size);

		if (!b) {
			nbdkit_error("out of memory for a %u-byte block", L->block_size);
			errno = ENOMEM;
			return NULL;
		}
		t->block = b;
		t->block_len = L->block_size;
	}
	return t->block;
}

static int read_blocks(const struct onbd_lun *L, uint64_t lba, uint32_t n, void *buf)
{
	int r = ostor_read_blocks(onbd.dev, L->target, L->lun, lba, n, buf);

	if (r < 0)
		return onbd_fail(r, false, "%s: read of %" PRIu32 " blocks at LBA %" PRIu64,
				 L->name, n, lba);
	return 0;
}

/* Write whole blocks; with fua each command carries the FUA bit. */
static int write_blocks(struct onbd_thread *t, const struct onbd_lun *L, uint64_t lba, uint32_t n,
			const void *buf, bool fua)
{
	const uint8_t *p = buf;
	int r = 0;

	if (!fua) {
		r = ostor_write_blocks(onbd.dev, L->target, L->lun, lba, n, buf);
		if (r < 0)
			return onbd_fail(r, true, "%s: write of %" PRIu32 " blocks at LBA %" PRIu64,
					 L->name, n, lba);
		return 0;
	}
	while (n) {
		uint32_t per = MIN(n, L->max_transfer_blocks ? L->max_transfer_blocks : n);
		struct ostor_cdb cdb;

		ostor_scsi_cdb_write16(&cdb, lba, per, OSTOR_SCSI_FUA);
		r = onbd_exec(t, L, cdb.bytes, cdb.len, OSTOR_DIR_TO_DEVICE, (void *)p,
			      (size_t)per * L->block_size, NULL);
		if (r < 0)
			return onbd_fail(r, true, "%s: WRITE(16) FUA of %" PRIu32 " blocks at LBA %" PRIu64,
					 L->name, per, lba);
		lba += per;
		n -= per;
		p += (size_t)per * L->block_size;
	}
	return 0;
}

/* Patch len bytes at byte off of block lba with data (zeros when NULL). */
static int patch_block(struct onbd_thread *t, const struct onbd_lun *L, uint64_t lba, uint32_t off,
		       uint32_t len, const void *data, bool fua)
{
	uint8_t *b = block_buffer(t, L);

	if (!b || read_blocks(L, lba, 1, b) < 0)
		return -1;
	if (data)
		memcpy(b + off, data, len);
	else
		memset(b + off, 0, len);
	return write_blocks(t, L, lba, 1, b, fua);
}

int onbd_pread(struct onbd_lun *L, void *buf, uint32_t count, uint64_t offset, uint32_t flags)
{
	const uint32_t bs = L->block_size;
	struct onbd_thread *t;
	uint8_t *p = buf;
	uint32_t off;

	(void)flags;
	BEGIN(t);
	off = (uint32_t)(offset % bs);
	if (off == 0 && count % bs == 0)
		return read_blocks(L, offset / bs, count / bs, buf);
	/* Unaligned: the partial blocks through the thread's block buffer. */
	if (off) {
		uint32_t n = MIN(count, bs - off);
		uint8_t *b = block_buffer(t, L);

		if (!b || read_blocks(L, offset / bs, 1, b) < 0)
			return -1;
		memcpy(p, b + off, n);
		p += n;
		offset += n;
		count -= n;
	}
	if (count >= bs) {
		uint32_t whole = count / bs;

		if (read_blocks(L, offset / bs, whole, p) < 0)
			return -1;
		p += (size_t)whole * bs;
		offset += (uint64_t)whole * bs;
		count -= whole * bs;
	}
	if (count) {
		uint8_t *b = block_buffer(t, L);

		if (!b || read_blocks(L, offset / bs, 1, b) < 0)
			return -1;
		memcpy(p, b, count);
	}
	return 0;
}

/* A write of bytes (data NULL: zeros, the middle by WRITE SAME) that may
 * start or end inside a block. */
static int write_range(struct onbd_thread *t, struct onbd_lun *L, const void *data, uint32_t count,
		       uint64_t offset, uint32_t flags, int (*middle)(struct onbd_thread *, struct onbd_lun *,
								      const void *, uint64_t, uint32_t, uint32_t))
{
	const uint32_t bs = L->block_size;
	const bool fua = flags & NBDKIT_FLAG_FUA;
	const uint8_t *p = data;
	uint32_t off = (uint32_t)(offset % bs);
	bool rmw = off != 0 || count % bs != 0;
	int r = 0;

	if (rmw)
		pthread_rwlock_wrlock(&L->rmw);
	else
		pthread_rwlock_rdlock(&L->rmw);
	if (off) {
		uint32_t n = MIN(count, bs - off);

		r = patch_block(t, L, offset / bs, off, n, p, fua);
		if (p)
			p += n;
		offset += n;
		count -= n;
	}
	if (r == 0 && count >= bs) {
		uint32_t whole = count / bs;

		r = middle(t, L, p, offset / bs, whole, flags);
		if (p)
			p += (size_t)whole * bs;
		offset += (uint64_t)whole * bs;
		count -= whole * bs;
	}
	if (r == 0 && count)
		r = patch_block(t, L, offset / bs, 0, count, p, fua);
	pthread_rwlock_unlock(&L->rmw);
	return r;
}

static int write_middle(struct onbd_thread *t, struct onbd_lun *L, const void *data, uint64_t lba,
			uint32_t n, uint32_t flags)
{
	return write_blocks(t, L, lba, n, data, flags & NBDKIT_FLAG_FUA);
}

int onbd_pwrite(struct onbd_lun *L, const void *buf, uint32_t count, uint64_t offset, uint32_t flags)
{
	struct onbd_thread *t;

	BEGIN(t);
	return write_range(t, L, buf, count, offset, flags, write_middle);
}

int onbd_flush(struct onbd_lun *L, uint32_t flags)
{
	int r;

	(void)flags;
	if (atomic_load_explicit(&onbd.gone, memory_order_relaxed))
		return onbd_gone();
	if (!onbd_thread())
		return -1;
	/* Writes out the block cache, then SYNCHRONIZE CACHE.  A failure is
	 * sticky in the library: every later flush fails too, as data that
	 * never reached the device stays lost. */
	r = ostor_flush(onbd.dev, L->target, L->lun);
	if (r < 0)
		return onbd_fail(r, true, "%s: flush", L->name);
	return 0;
}

int onbd_trim(struct onbd_lun *L, uint32_t count, uint64_t offset, uint32_t flags)
{
	const uint32_t bs = L->block_size;
	struct onbd_thread *t;
	uint64_t first, end;
	int r = 0;

	BEGIN(t);
	if (!L->unmap) {
		errno = ENOTSUP;
		return -1;
	}
	/* Trim is advisory: only the whole blocks inside the range go. */
	first = (offset + bs - 1) / bs;
	end = (offset + count) / bs;
	if (end > first) {
		pthread_rwlock_rdlock(&L->rmw);
		r = ostor_unmap_blocks(onbd.dev, L->target, L->lun, first, end - first);
		pthread_rwlock_unlock(&L->rmw);
		if (r < 0)
			return onbd_fail(r, true, "%s: UNMAP of %" PRIu64 " blocks at LBA %" PRIu64,
					 L->name, end - first, first);
	}
	if (flags & NBDKIT_FLAG_FUA)
		return onbd_flush(L, 0);
	return 0;
}

/* Zeros by WRITE SAME(16) only: a fast zero must not turn into writes.
 * A refusal (the LUN has no WRITE SAME) is remembered and is ENOTSUP. */
static int write_same_only(struct onbd_thread *t, struct onbd_lun *L, uint64_t lba, uint32_t n,
			   bool unmap)
{
	while (n) {
		uint32_t per = (uint32_t)MIN((uint64_t)n, L->max_write_same ? L->max_write_same : n);
		struct ostor_cdb cdb;
		int r;

		ostor_scsi_cdb_write_same16(&cdb, lba, per, unmap && L->ws_unmap ? OSTOR_SCSI_WS_UNMAP : 0);
		r = onbd_exec(t, L, cdb.bytes, cdb.len, OSTOR_DIR_TO_DEVICE, onbd.zero_block,
			      L->block_size, NULL);
		if (r == OSTOR_ERROR_SCSI || r == OSTOR_ERROR_NOT_SUPPORTED) {
			/* ILLEGAL REQUEST: no WRITE SAME here. */
			atomic_store(&L->write_same, -1);
			nbdkit_debug("orionstor: %s refuses WRITE SAME(16) (%s): fast zero is off",
				     L->name, ostor_last_error());
			errno = ENOTSUP;
			return -1;
		}
		if (r < 0)
			return onbd_fail(r, true, "%s: WRITE SAME(16) of %" PRIu32 " blocks at LBA %" PRIu64,
					 L->name, per, lba);
		atomic_store_explicit(&L->write_same, 1, memory_order_relaxed);
		lba += per;
		n -= per;
	}
	return 0;
}

static int zero_middle(struct onbd_thread *t, struct onbd_lun *L, const void *data, uint64_t lba,
		       uint32_t n, uint32_t flags)
{
	bool unmap = flags & NBDKIT_FLAG_MAY_TRIM;
	int r;

	(void)data;
	if (flags & NBDKIT_FLAG_FAST_ZERO)
		return write_same_only(t, L, lba, n, unmap);
	/* WRITE SAME(16) (with UNMAP where allowed), else writes of zeros. */
	r = ostor_write_zeroes(onbd.dev, L->target, L->lun, lba, n, unmap);
	if (r < 0)
		return onbd_fail(r, true, "%s: zeroing %" PRIu32 " blocks at LBA %" PRIu64, L->name, n, lba);
	return 0;
}

int onbd_zero(struct onbd_lun *L, uint32_t count, uint64_t offset, uint32_t flags)
{
	struct onbd_thread *t;
	int r;

	BEGIN(t);
	if ((flags & NBDKIT_FLAG_FAST_ZERO) && atomic_load(&L->write_same) < 0) {
		errno = ENOTSUP;
		return -1;
	}
	/* Partial blocks are patched with FUA themselves; the middle gets a
	 * flush below instead (WRITE SAME has no FUA bit). */
	r = write_range(t, L, NULL, count, offset, flags, zero_middle);
	if (r == 0 && (flags & NBDKIT_FLAG_FUA) && count >= L->block_size)
		r = onbd_flush(L, 0);
	return r;
}
