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

/* The RAM of a new LU: sparse, so a huge capacity costs what is written. */
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
	}
	return 0;
}

void sim_store_unmap(struct sim_lu *lu)
{
	if (lu->ram)
		munmap(lu->ram, lu->ram_len);
}
