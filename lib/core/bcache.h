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
 * held: write-outs go through buffers of their own ("staging", counted in
 * the bound), so a line can change under a write-out (it is then dirty
 * again) and a block on the device is always one whole version of it.
 *
 * Read-ahead reads a window into a region: contiguous memory (the
 * device's, where it has some) carved into lines that no lookup finds
 * while the window is in flight.  When it lands, those lines join the
 * cache where they are - no copy - on a list of their own: ordinary
 * replacement never takes them, and the next window that needs the
 * region drops the lines a stream read once (a scan does not push the
 * working set out) and copies into ordinary lines only what is dirty or
 * was read again.
 */
#ifndef OSTOR_CORE_BCACHE_H
#define OSTOR_CORE_BCACHE_H

#include "core/backend.h"

#define BC_LINE_BLOCKS_MAX 64   /* blocks per line: one bit each in a uint64_t */
#define BC_LUNS_MAX 32          /* LUNs per device the cache serves */
#define BC_STREAMS 4            /* sequential streams followed per LUN */
#define BC_OPS_MAX 256          /* fills, read-aheads and write-outs in flight */
#define BC_RA_REGIONS 3         /* read-ahead windows: one being read, one in flight, one spare */
#define BC_RA_IDLE 256          /* reads of streams after which a region left unread is given up */

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
	uint8_t region;                 /* 1 + the read-ahead region holding data; 0: the slab */
	bool reread;                    /* a region line: a block of it was read twice */
	uint64_t seen;                  /* a region line: blocks read (one bit each) */
	uint8_t *data;
};

/* Memory one read-ahead window is read into (see the top). */
struct bc_region {
	uint8_t *mem;                   /* region_lines_max lines; NULL until first used */
	bool dma;                       /* from the device's memory (ostor_dma_alloc) */
	bool busy;                      /* a window is being read into it */
	uint32_t nused;                 /* its lines holding data */
	uint64_t touched;               /* c->clock when it was last filled or read */
	struct bc_line *lines;          /* region_lines_max, in c->region_pool */
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
	uint8_t *buf;                   /* staging (write-out), the region's memory (read-ahead) */
	struct bc_region *region;       /* read-ahead's */
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
	uint64_t read_ahead_max;        /* bytes per window: region_lines lines; 0: none */
	uint64_t staging_max, staging_used;
	/* Read-ahead's regions: memory allocated at first use, given back
	 * before the backend closes (regions_off from then on). */
	struct bc_region regions[BC_RA_REGIONS];
	struct bc_line *region_pool;
	uint32_t region_lines, region_lines_max; /* per region: now (lines may grow), as allocated */
	size_t region_len;              /* bytes per region */
	bool regions_off;
	struct bc_list_head rclean;     /* clean region lines, replacement order */
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
/* Every line struct: the slab's, then the regions'. */
static inline size_t bc_pool_n(const struct ostori_bcache *c)
{
	return c->nlines + (size_t)BC_RA_REGIONS * c->region_lines_max;
}

static inline struct bc_line *bc_pool_line(struct ostori_bcache *c, size_t i)
{
	return i < c->nlines ? &c->line_pool[i] : &c->region_pool[i - c->nlines];
}

/* A region for the next window, its lines all free, marked busy; NULL
 * when every region holds what must stay (in flight, or dirty lines with
 * no room to move them to). */
struct bc_region *ostori_bc_region_take(struct ostori_bcache *c);
/* A window landed in r: blocks lba..lba+count-1 (lba at a line's start)
 * become cached where the lines do not hold them yet. */
void ostori_bc_region_fill(struct ostori_bcache *c, struct bc_lun *L, struct bc_region *r, uint64_t lba,
			   uint64_t count);
/* Copy into l the blocks of mask (one run) it does not hold valid; src:
 * the data of mask's first block.  ra: read-ahead brought them. */
void ostori_bc_fill_line(struct ostori_bcache *c, struct bc_lun *L, struct bc_line *l, uint64_t mask,
			 const uint8_t *src, bool ra);
/* A hit: the policy's bookkeeping. */
void ostori_bc_touch(struct ostori_bcache *c, struct bc_line *l);
/* A read of the blocks of mask in l (a hit): a region line notes whether
 * it is read again (many small reads of one line are one read). */
static inline void bc_note_read(struct bc_line *l, uint64_t mask)
{
	if (l->region) {
		l->reread |= (l->seen & mask) != 0;
		l->seen |= mask;
	}
}
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
