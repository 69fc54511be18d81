/*
 * lib/core/bcache.h - the block cache's own structures, shared by its two
 * files: bcache.c (lines, replacement, memory bound, invalidation and
 * what it reports) and bcache_io.c (commands through the cache, write-out,
 * read-ahead, tasks waiting for either).
 *
 * One cache per device, one lock.  A line holds line_size bytes of one
 * LUN; per block of the line it knows whether the bytes are valid, dirty
 * (newer than the device) and being written out.  Lines with neither
 * dirty nor writing blocks sit on the replacement list and may be evicted;
 * lines with dirty blocks sit on their LUN's dirty list, oldest first,
 * where write-out starts; lines only being written out are on no list.
 * Data never moves between the device and a line while the lock is not
 * held: write-outs and read-ahead go through buffers of their own
 * ("staging", counted in the bound), so a line can change under a
 * write-out (it is then dirty again) and a block on the device is always
 * one whole version of it.
 */
#ifndef OSTOR_CORE_BCACHE_H
#define OSTOR_CORE_BCACHE_H

#include "core/backend.h"

#define BC_LINE_BLOCKS_MAX 64   /* blocks per line: one bit each in a uint64_t */
#define BC_LUNS_MAX 32          /* LUNs per device the cache serves */
#define BC_STREAMS 4            /* sequential streams followed per LUN */
#define BC_OPS_MAX 256          /* fills, read-aheads and write-outs in flight */
#define BC_RA_KEEP 2            /* read-ahead buffers kept for the next windows */

enum bc_list { BC_LIST_NONE = 0, BC_LIST_CLEAN, BC_LIST_DIRTY };

struct bc_line {
	struct bc_line *hnext;          /* hash chain */
	struct bc_line *prev, *next;    /* its list (enum bc_list) */
	uint64_t no;                    /* line number within the LUN */
	uint64_t valid, dirty, writing; /* one bit per block */
	uint32_t freq;                  /* LFU: hits, aged */
	uint8_t slot;                   /* the LUN's */
	uint8_t list;                   /* enum bc_list */
	bool ra;                        /* filled by read-ahead, not read since */
	bool used;                      /* holds a line (else on the free stack) */
	uint8_t *data;
};

struct bc_list_head {
	struct bc_line *head, *tail;    /* head: newest */
	size_t n;
};

struct bc_stream {
	uint64_t next;                  /* the LBA a sequential read starts at */
	uint64_t ahead;                 /* read ahead up to here (exclusive) */
	uint32_t window;                /* blocks read ahead per step */
	uint64_t last_use;
};

enum bc_op_kind { BC_OP_FILL = 1, BC_OP_READ_AHEAD, BC_OP_WRITEOUT, BC_OP_THROUGH };

/* Something in flight that the cache must know about: a read whose data
 * may fill lines (stale when a write or invalidation overlaps it before
 * it completes), a write-out, a write that went to the device. */
struct bc_op {
	struct ostori_bcache *c;
	enum bc_op_kind kind;
	uint8_t slot;
	bool stale, in_use;
	uint64_t lba;
	uint64_t count;
	uint64_t epoch;                 /* the LUN's, at start */
	uint8_t *buf;                   /* staging (read-ahead, write-out) */
	bool buf_dma;                   /* from the device's memory (ostor_dma_alloc) */
	size_t buf_len;
	/* A read (FILL) over blocks newer in the cache than on the device:
	 * their data as it was at submission, put over the device's answer
	 * (the lines may be written out and gone by then).  Counted in
	 * staging; snap_bits: one bit per block of the op. */
	uint8_t *snap;
	uint64_t *snap_bits;
	ostor_task *waiter;             /* a task completed when a write-out completes (FUA) */
	struct bc_op *next_free;
};

struct bc_lun {
	bool in_use, known;
	uint32_t target, lun;
	uint32_t block_size;
	uint32_t bpl;                   /* blocks per line */
	uint64_t blocks;                /* capacity */
	uint64_t epoch;                 /* advanced by every invalidation */
	struct bc_list_head dirty;      /* lines with dirty blocks, oldest first at tail */
	uint64_t dirty_blocks, writing_blocks, lines;
	bool writeout_failed;           /* since the last good write-out: writes needing room fail */
	int sticky;                     /* a write-out failed or data was lost: every flush fails */
	char sticky_why[320];           /* ... saying this, until acknowledged */
	struct bc_stream streams[BC_STREAMS];
	struct ostor_cache_info st;     /* counters (the info fields that count) */
};

struct ostori_bcache {
	pthread_mutex_t lock;
	ostor_device *dev;
	int mode;                       /* enum ostor_cache_mode */
	int policy;                     /* enum ostori_cache_policy */
	uint32_t line_size;
	bool line_auto;                 /* not set by cache_line=: follows large blocks */
	uint64_t capacity;              /* bytes: the bound */
	uint64_t dirty_limit;           /* bytes dirty or being written out */
	uint64_t background;            /* write-out starts beyond this */
	uint64_t read_ahead_max;        /* bytes; 0: none */
	uint64_t staging_max, staging_used;
	/* Read-ahead buffers (read_ahead_max bytes each) between windows,
	 * counted in staging_used: a window costs no allocation, no page
	 * faults and, in the device's memory, no copy by the kernel or a
	 * bounce buffer.  Given back before the backend closes. */
	uint8_t *ra_keep[BC_RA_KEEP];
	bool ra_keep_dma[BC_RA_KEEP];
	int ra_nkeep;
	bool ra_keep_off;               /* the device is closing: keep nothing */
	uint64_t dirty_bytes, writing_bytes; /* all LUNs */
	uint32_t writeout_max;          /* bytes per write-out command */
	char source[64];                /* what configured it */

	struct bc_line *line_pool;
	uint8_t *slab;                  /* nlines * line_size, mapped lazily */
	size_t slab_len;
	size_t nlines, nfree;
	struct bc_line **free_stack;
	struct bc_line **hash;
	unsigned int hash_shift;
	struct bc_list_head clean;      /* replacement order, head newest */

	struct bc_lun luns[BC_LUNS_MAX];
	struct bc_op ops[BC_OPS_MAX];
	struct bc_op *free_ops;
	unsigned int ops_inflight;
	uint64_t clock;

	ostor_task *parked_head, *parked_tail; /* waiting for a write-out or read-ahead */
};

/* ---- bcache.c: the store (c->lock held unless said) -------------------- */

struct bc_lun *ostori_bc_lun_find(struct ostori_bcache *c, uint32_t target, uint32_t lun);
struct bc_line *ostori_bc_lookup(struct ostori_bcache *c, unsigned int slot, uint64_t no);
/* A line for (slot, no), evicting a clean one if needed; NULL when every
 * line is dirty or being written out. */
struct bc_line *ostori_bc_get_line(struct ostori_bcache *c, unsigned int slot, uint64_t no);
/* Put l where its bits say it belongs (clean list, dirty list or none). */
void ostori_bc_relist(struct ostori_bcache *c, struct bc_line *l);
/* A hit: the policy's bookkeeping. */
void ostori_bc_touch(struct ostori_bcache *c, struct bc_line *l);
/* Lines that can be had without waiting: free plus evictable. */
size_t ostori_bc_room(const struct ostori_bcache *c);
/* Dirty bits set / cleared: counts and lists follow. */
void ostori_bc_set_dirty(struct ostori_bcache *c, struct bc_lun *L, struct bc_line *l, uint64_t bits);
/* Drop the valid blocks of lba..lba+count-1 (no dirty ones may be there:
 * the caller wrote them out first) and mark overlapping reads stale. */
void ostori_bc_invalidate_range(struct ostori_bcache *c, struct bc_lun *L, uint64_t lba, uint64_t count);
/* Mark in-flight reads overlapping the range stale (a newer version). */
void ostori_bc_stale_fills(struct ostori_bcache *c, struct bc_lun *L, uint64_t lba, uint64_t count);
/* Drop every line of L; dirty ones are reported lost (why: the cause,
 * for the log).  Returns the dirty bytes lost.  Takes and releases
 * c->lock itself when locked is false. */
uint64_t ostori_bc_drop_lun(struct ostori_bcache *c, struct bc_lun *L, bool dirty_too, const char *why,
			    bool locked);
/* L is (target, lun); either may be OSTOR_EVENT_ALL. */
static inline bool bc_lun_matches(const struct bc_lun *L, uint32_t target, uint32_t lun)
{
	return L->in_use && (target == OSTOR_EVENT_ALL || L->target == target) &&
	       (lun == OSTOR_EVENT_ALL || L->lun == lun);
}

/* A bit mask of blocks first..first+n-1 of a line. */
static inline uint64_t bc_mask(uint32_t first, uint32_t n)
{
	return (n >= 64 ? ~UINT64_C(0) : ((UINT64_C(1) << n) - 1)) << first;
}

/* ---- bcache_io.c ---------------------------------------------------------- */

/* Start write-outs of L's dirty blocks (c->lock held): all of them, or
 * until the background threshold is met.  Ops to submit once the lock is
 * released are appended to out[*n] (at most max). */
void ostori_bc_writeout_plan(struct ostori_bcache *c, struct bc_lun *L, bool all, struct bc_op **out,
			     int *n, int max);
void ostori_bc_ops_submit(struct ostori_bcache *c, struct bc_op **ops, int n);

#endif /* OSTOR_CORE_BCACHE_H */
