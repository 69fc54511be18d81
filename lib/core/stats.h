/*
 * lib/core/stats.h - statistics of every device: commands, bytes and
 * results by kind, per (queue, target, LUN), rolled up when read; latency
 * histograms; queue depth and utilisation.
 *
 * Each block has one writer at a time: a queue's owner (in dispatch) or,
 * for the shared path, whoever holds dev->lock.  Writers use relaxed
 * loads and stores (no atomic read-modify-write, no lock); readers on any
 * thread use relaxed loads and add the blocks up.  Blocks are allocated
 * the first time a queue sees a LUN, published on the queue's list with a
 * release store, and freed with the device.  A reset records a baseline
 * that readers subtract (a writer's counters cannot be zeroed from
 * another thread).
 *
 * The types; backend.h, which includes this, has the writers that look
 * into a task.  Only the core uses it.
 */
#ifndef OSTOR_CORE_STATS_H
#define OSTOR_CORE_STATS_H

#include "core/internal.h"

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <time.h>

#if defined(__x86_64__) || defined(__i386__)
#include <x86intrin.h>
#endif

/* Results counted: enum ostor_result GOOD .. OVERRUN. */
#define OSTORI_STATS_RESULTS 10

/* Log-linear latency buckets (as SPDK's histogram): values below 2^SUB
 * have a bucket each; above, every power of two is cut in 2^SUB buckets
 * (6% wide).  Values are ticks, clamped at 2^MAX_EXP. */
#define OSTORI_HIST_SUB_BITS 4
#define OSTORI_HIST_SUB (1u << OSTORI_HIST_SUB_BITS)
#define OSTORI_HIST_MAX_EXP 44
#define OSTORI_HIST_BUCKETS ((OSTORI_HIST_MAX_EXP - OSTORI_HIST_SUB_BITS + 2) * OSTORI_HIST_SUB)

struct ostori_hist {
	_Atomic uint64_t bucket[OSTORI_HIST_BUCKETS];
	_Atomic uint64_t sum;          /* ticks, for the mean */
};

struct ostori_io_counts {
	_Atomic uint64_t commands[OSTOR_IO_KINDS];
	_Atomic uint64_t bytes[OSTOR_IO_KINDS];
	_Atomic uint64_t results[OSTORI_STATS_RESULTS];
};

struct ostori_lun_stats {
	struct ostori_lun_stats *next; /* set before publication, then fixed */
	uint32_t target, lun;
	struct ostori_io_counts io;
	_Atomic(struct ostori_hist *) hist;   /* [OSTOR_IO_KINDS] once histograms are on */
	/* The baseline of the last reset (under dev->stats_lock). */
	struct ostori_io_counts *base;
	struct ostori_hist *hist_base;        /* [OSTOR_IO_KINDS] */
};

/* One writer's blocks: a queue's, or the shared path's. */
struct ostori_queue_stats {
	_Atomic(struct ostori_lun_stats *) luns;
	struct ostori_lun_stats *last; /* the writer's: the block used last */
	_Atomic uint32_t depth_max;
	/* Time-weighted depth, measured at each completion batch while
	 * histograms are on: sum of depth x ticks, ticks with depth > 0, and
	 * the tick and depth of the last batch. */
	_Atomic uint64_t depth_ticks, busy_ticks, last_tick;
	_Atomic uint32_t last_depth;
	_Atomic uint64_t batches;      /* completion batches dispatched */
	/* Their baseline (under dev->stats_lock). */
	uint64_t base_depth_ticks, base_busy_ticks, base_batches, base_tick;
};

/* Events of the device as a whole, rare: atomic additions. */
struct ostori_dev_counts {
	_Atomic uint64_t retries;          /* commands the block helpers sent again */
	_Atomic uint64_t aborts;           /* ostor_task_abort() calls */
	_Atomic uint64_t resets[4];        /* by enum ostor_reset_level */
	_Atomic uint64_t queue_full_waits; /* tasks that waited for room */
};
struct ostori_dev_counts_base {
	uint64_t retries, aborts, resets[4], queue_full_waits;
};
/* Count a device event. */
#define ostori_stats_event(dev, field) \
	atomic_fetch_add_explicit(&(dev)->counts.field, 1, memory_order_relaxed)

/* The tick source, chosen once: the invariant TSC where the CPU has one,
 * else CLOCK_MONOTONIC in nanoseconds. */
extern bool ostori_ticks_tsc;
static inline uint64_t ostori_ticks(void)
{
	struct timespec ts;

#if defined(__x86_64__) || defined(__i386__)
	if (ostori_ticks_tsc)
		return __rdtsc();
#endif
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* A tick count in nanoseconds. */
uint64_t ostori_ticks_ns(uint64_t ticks);

/* Relaxed single-writer increment (plain load, add, store). */
static inline void ostori_stat_add(_Atomic uint64_t *c, uint64_t v)
{
	atomic_store_explicit(c, atomic_load_explicit(c, memory_order_relaxed) + v, memory_order_relaxed);
}

static inline unsigned int ostori_hist_bucket(uint64_t v)
{
	unsigned int e;

	if (v < OSTORI_HIST_SUB)
		return (unsigned int)v;
	if (v >= (1ull << OSTORI_HIST_MAX_EXP))
		v = (1ull << OSTORI_HIST_MAX_EXP) - 1;
	e = 63u - (unsigned int)__builtin_clzll(v);
	return (e - OSTORI_HIST_SUB_BITS + 1) * OSTORI_HIST_SUB +
	       (unsigned int)((v >> (e - OSTORI_HIST_SUB_BITS)) & (OSTORI_HIST_SUB - 1));
}

/* The kind of a command by its opcode. */
extern const uint8_t ostori_io_kind_of[256];

/* Writer: a completion batch begins at now (histograms on): the depth
 * until now was the one the last batch left. */
static inline void ostori_stats_batch(struct ostori_queue_stats *qs, uint64_t now)
{
	uint64_t last = atomic_load_explicit(&qs->last_tick, memory_order_relaxed);
	uint32_t depth = atomic_load_explicit(&qs->last_depth, memory_order_relaxed);

	if (last && now > last && depth) {
		ostori_stat_add(&qs->depth_ticks, (now - last) * depth);
		ostori_stat_add(&qs->busy_ticks, now - last);
	}
	atomic_store_explicit(&qs->last_tick, now, memory_order_relaxed);
	ostori_stat_add(&qs->batches, 1);
}

static inline void ostori_stats_batch_end(struct ostori_queue_stats *qs, uint32_t depth)
{
	atomic_store_explicit(&qs->last_depth, depth, memory_order_relaxed);
}

/* Writer: a submission made the depth n. */
static inline void ostori_stats_depth(struct ostori_queue_stats *qs, uint32_t n)
{
	if (OSTOR_UNLIKELY(n > atomic_load_explicit(&qs->depth_max, memory_order_relaxed)))
		atomic_store_explicit(&qs->depth_max, n, memory_order_relaxed);
}

struct ostori_channel;
/* Device set-up and tear-down (ostor_open / ostor_close). */
void ostori_stats_init(ostor_device *dev);
void ostori_stats_free(ostor_device *dev);
void ostori_queue_stats_free(struct ostori_queue_stats *qs);
/* The JSON form (ostor_stats_json), and one snapshot as an object. */
struct json_object;
struct json_object *ostori_stats_json_object(ostor_device *dev);
struct json_object *ostori_stats_object(const struct ostor_stats *st);
/* The block cache of a LUN (or, with OSTOR_EVENT_ALL, of the device) as
 * an object: ostor_cache_info's fields, the hit rate and read-ahead
 * efficiency (null until there is something to divide), the sticky error's
 * name and message (null without one).  The "cache" of
 * ostor_stats_json() and of the control socket's cache methods. */
struct json_object *ostori_cache_json(ostor_device *dev, uint32_t target, uint32_t lun);

/* Channels, for the readers (channel.c). */
struct ostori_channel *ostori_device_channel(ostor_device *dev, unsigned int i);
struct ostori_queue_stats *ostori_channel_stats(struct ostori_channel *ch);
unsigned int ostori_channel_inflight(struct ostori_channel *ch);
bool ostori_channel_owned(struct ostori_channel *ch);

#endif /* OSTOR_CORE_STATS_H */
