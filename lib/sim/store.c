/*
 * lib/sim/store.c - the medium behind a simulated LU: an anonymous RAM
 * mapping, a borrowed image file, or nothing at all (null LUs); reads,
 * writes, zeroing and flushes of byte ranges, and the mapping's size.
 *
 * RAM is a MAP_NORESERVE mapping so that huge capacities are sparse and
 * cost only what is written; a file is read and written in place at its
 * offset and reads zeros past its end; a null LU moves no data (for
 * benchmarks of the layers above).  Callers hold the target mutex and
 * have range-checked every offset.
 *
 * Provisioning (GET LBA STATUS): RAM disks keep an allocation bitmap,
 * itself a sparse mapping, set by writes and cleared by deallocation;
 * file LUs ask the file system (SEEK_DATA/SEEK_HOLE: holes and the tail
 * past the end of the file are deallocated, they read as zeros); null
 * LUs (and anything else) report every block mapped, which is always
 * true to the data.  The lock-free way only serves null LUs, so every
 * write to a tracked LU passes here.
 *
 * Copyright (C) 2026 The liborionstor authors.  LGPL-2.1-or-later.
 */
#include "sim/target_priv.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#ifndef MAP_NORESERVE
#define MAP_NORESERVE 0
#endif

/* Set (mapped) or clear bits first..first+n-1 of the allocation bitmap. */
static void map_set(uint64_t *map, uint64_t first, uint64_t n, bool on)
{
	while (n) {
		uint64_t w = first / 64, b = first % 64, k = OSTOR_MIN(n, 64 - b);
		uint64_t mask = k == 64 ? ~(uint64_t)0 : (((uint64_t)1 << k) - 1) << b;

		if (on)
			map[w] |= mask;
		else
			map[w] &= ~mask;
		first += k;
		n -= k;
	}
}

/* The blocks touched by the byte range off..off+len-1 (len > 0). */
static void map_bytes(struct sim_lu *lu, uint64_t off, uint64_t len, bool on)
{
	uint64_t first = off / lu->block_size;

	if (lu->map && len)
		map_set(lu->map, first, (off + len - 1) / lu->block_size - first + 1, on);
}

/* off and len are in bytes relative to block 0 and were range-checked. */
int sim_store_read(struct sim_lu *lu, uint64_t off, uint8_t *buf, size_t len,
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

int sim_store_write(struct sim_lu *lu, uint64_t off, const uint8_t *buf,
		    size_t len, uint64_t *bad)
{
	if (lu->null)
		return 0;
	if (lu->fd < 0) {
		memcpy(lu->ram + off, buf, len);
		map_bytes(lu, off, len, true);
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
int sim_store_zero(struct sim_target *t, struct sim_lu *lu, uint64_t off,
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
		/* Zeros written without UNMAP are still written blocks. */
		map_bytes(lu, off, len, !punch);
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

		if (sim_store_write(lu, off, t->zeros, n, bad))
			return -1;
		off += n;
		len -= n;
	}
	return 0;
}

int sim_store_sync(struct sim_lu *lu)
{
	if (lu->fd < 0)
		return 0;
	while (fdatasync(lu->fd) < 0) {
		if (errno != EINTR)
			return -1;
	}
	return 0;
}

static size_t page_round(uint64_t bytes)
{
	size_t pg = (size_t)sysconf(_SC_PAGESIZE);

	return (size_t)((bytes + pg - 1) & ~(uint64_t)(pg - 1));
}

/* The byte size of `blocks` fits the backing store. */
int sim_store_check_size(const struct sim_lu *lu, uint64_t blocks)
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

static size_t map_bytes_for(uint64_t blocks)
{
	return page_round((blocks + 63) / 64 * 8);
}

/* The RAM of a new LU: sparse, so a huge capacity costs what is written;
 * a disk also gets its allocation bitmap (all deallocated). */
int sim_store_map(struct sim_lu *lu)
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
	if (lu->type == OSTOR_TYPE_DISK && !lu->thick) {
		size_t mlen = map_bytes_for(lu->blocks);

		p = mmap(NULL, mlen, PROT_READ | PROT_WRITE,
			 MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
		if (p == MAP_FAILED) {
			munmap(lu->ram, lu->ram_len);
			lu->ram = NULL;
			return ostori_error(OSTOR_ERROR_NO_MEM,
					    "cannot map the allocation bitmap of simulated LU %u: %s",
					    lu->lun, strerror(errno));
		}
		lu->map = p;
		lu->map_len = mlen;
	}
	return 0;
}

/* Resize the allocation bitmap for `blocks`; the blocks past the new end
 * become deallocated, so regrown blocks are deallocated as they read. */
static int map_resize(struct sim_lu *lu, uint64_t blocks)
{
	size_t mlen = map_bytes_for(blocks);
	uint64_t old = lu->blocks;
	void *p;

	if (mlen != lu->map_len) {
#ifdef MREMAP_MAYMOVE
		p = mremap(lu->map, lu->map_len, mlen, MREMAP_MAYMOVE);
#else
		p = mmap(NULL, mlen, PROT_READ | PROT_WRITE,
			 MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
		if (p != MAP_FAILED) {
			memcpy(p, lu->map, OSTOR_MIN(mlen, lu->map_len));
			munmap(lu->map, lu->map_len);
		}
#endif
		if (p == MAP_FAILED)
			return ostori_error(OSTOR_ERROR_NO_MEM,
					    "cannot resize the allocation bitmap of simulated LUN %u: %s",
					    lu->lun, strerror(errno));
		lu->map = p;
		lu->map_len = mlen;
	}
	if (blocks < old)
		map_set(lu->map, blocks, OSTOR_MIN(old, (uint64_t)mlen * 8) - blocks, false);
	return 0;
}

/* Resize the RAM (contents kept up to the smaller size); file and null
 * LUs have nothing to resize.  The size was checked. */
int sim_store_resize(struct sim_lu *lu, uint64_t blocks)
{
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
			if (p == MAP_FAILED)
				return ostori_error(OSTOR_ERROR_NO_MEM,
						    "cannot resize simulated LUN %u to %zu bytes: %s",
						    lu->lun, len, strerror(errno));
			lu->ram = p;
			lu->ram_len = len;
		}
		/* Blocks cut off and later regrown must read as zero. */
		if (bytes < len)
			memset(lu->ram + bytes, 0, (size_t)(len - bytes));
		if (lu->map)
			return map_resize(lu, blocks);
	}
	return 0;
}

void sim_store_unmap(struct sim_lu *lu)
{
	if (lu->ram)
		munmap(lu->ram, lu->ram_len);
	if (lu->map)
		munmap(lu->map, lu->map_len);
}

/* How many bits from `first`, at most max, equal bit `first`. */
static uint64_t map_run(const uint64_t *map, uint64_t first, uint64_t max, bool *on)
{
	uint64_t n = 0, fill;

	*on = map[first / 64] >> (first % 64) & 1;
	fill = *on ? ~(uint64_t)0 : 0;
	while (n < max) {
		uint64_t i = first + n, w = map[i / 64] ^ fill, b = i % 64;

		w >>= b;                 /* bits of the other state, from i on */
		if (w) {
			n += (uint64_t)__builtin_ctzll(w);
			break;
		}
		n += 64 - b;
	}
	return OSTOR_MIN(n, max);
}

uint64_t sim_store_lba_status(struct sim_lu *lu, uint64_t lba, uint64_t max, bool *mapped)
{
	*mapped = true;
	if (lu->thick)
		return max;
	if (lu->map)
		return map_run(lu->map, lba, max, mapped);
#if defined(SEEK_DATA) && defined(SEEK_HOLE)
	if (lu->fd >= 0 && !lu->null) {
		uint64_t bs = lu->block_size;
		off_t pos = (off_t)(lu->fd_offset + lba * bs), d, h;

		d = lseek(lu->fd, pos, SEEK_DATA);
		if (d < 0 && errno == ENXIO) {
			*mapped = false;        /* a hole up to the end of the file, then the tail */
			return max;
		}
		if (d < 0)
			return max;             /* no answer: mapped is always true */
		if ((uint64_t)(d - pos) >= bs) {
			*mapped = false;        /* whole blocks of hole before the data */
			return OSTOR_MIN((uint64_t)(d - pos) / bs, max);
		}
		/* Data in this block: mapped up to the block that holds the
		 * next hole's start. */
		h = lseek(lu->fd, pos, SEEK_HOLE);
		if (h < 0 || h <= pos)
			return 1;
		return OSTOR_MIN(OSTOR_MAX(((uint64_t)(h - pos) + bs - 1) / bs, (uint64_t)1), max);
	}
#endif
	return max;
}
