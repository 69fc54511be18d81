/*
 * lib/core/backend.h - the seam between the core and its backends.
 *
 * Every transport (sim, usb, virtio) is one struct ostor_backend: the core
 * owns handles, task life cycle, completion delivery and the block helpers;
 * a backend only moves CDBs and data and reports how each task ended.
 */
#ifndef OSTOR_CORE_BACKEND_H
#define OSTOR_CORE_BACKEND_H

#include "core/internal.h"
#include "core/manage.h"
#include "core/stats.h"

#include <stdatomic.h>
#include <string.h>

struct ostor_spec;
struct ostori_devlist;

struct ostori_setting;

struct ostor_backend {
	const char *name;          /* "sim", "usb", "virtio" */
	const char *spec_forms;    /* accepted spec forms, for error messages */
	size_t device_priv_size;   /* zeroed, at ostori_device_priv(dev) */
	size_t task_priv_size;     /* zeroed at ostor_task_new */

	/* Per-context set-up (optional).  Data lives in ctx->backend_data. */
	int (*init)(ostor_context *ctx);
	void (*exit)(ostor_context *ctx);

	/* Add every device this backend can see. */
	int (*enumerate)(ostor_context *ctx, struct ostori_devlist *list);

	/* Open: fill dev->description and limits; on failure undo all. */
	int (*open)(ostor_device *dev, const struct ostor_spec *spec);
	/* Every task has completed when close is called. */
	void (*close)(ostor_device *dev);

	/* Start a task.  It must complete exactly once, through
	 * ostori_task_complete(), from any thread; not from inside submit
	 * is fine too (the core defers callbacks).  A negative return means
	 * it was not started and will not complete; OSTORI_SUBMIT_FULL that
	 * the queue it would go to (ring, engine) has no room now: the core
	 * keeps it waiting and submits it again after a completion. */
	int (*submit)(ostor_task *task);
	/* Best effort; the task still completes once.  Called with the
	 * device's lock held (ostor_close): it must not block or wait for
	 * events; completing the task right away is fine. */
	int (*cancel)(ostor_task *task);
	/* Task management below the command level (optional; synchronous,
	 * never from a callback): reset a LUN, a target (I_T nexus) or the
	 * device.  0 done at that level, 1 done by a larger reset (the
	 * transport has nothing finer), or a negative error.  Commands it
	 * ended still complete once each, as aborted. */
	int (*reset)(ostor_device *dev, enum ostor_reset_level level, uint32_t target, uint32_t lun);
	/* Memory the device reaches without a copy (optional; the core
	 * falls back to page-aligned heap memory).  NULL with the error set
	 * when none is left; free with the same device. */
	void *(*dma_alloc)(ostor_device *dev, size_t size);
	void (*dma_free)(ostor_device *dev, void *p, size_t size);
	/* Whether the device reaches [p, p + len) without a copy (optional;
	 * the block helpers then split only by the device's own limits). */
	bool (*is_dma)(ostor_device *dev, const void *p, size_t len);

	/* Queues that threads own (optional; see lib/core/channel.c).
	 * queue_count: request queues (NULL: one).  queue_acquire binds the
	 * calling thread to queue index so that its submits go there (the
	 * core has checked no other thread holds it); queue_release undoes
	 * it; queue_poll reaps the calling owner's queue without locks
	 * (completing its tasks on this thread).  Backends without them
	 * still get channels: their tasks complete inside submit or from
	 * their own threads. */
	unsigned int (*queue_count)(ostor_device *dev);
	int (*queue_acquire)(ostor_device *dev, unsigned int index);
	void (*queue_release)(ostor_device *dev);
	int (*queue_poll)(ostor_device *dev);

	/* Event integration (all optional). */
	int (*get_pollfds)(ostor_context *ctx, struct pollfd *fds, int max);
	int (*next_timeout)(ostor_context *ctx);
	/* Process whatever is ready without blocking. */
	int (*handle_events)(ostor_context *ctx);

	/* The transport's own counters (optional; ostor_transport_counters):
	 * fill at most max, return how many there are. */
	int (*counters)(ostor_device *dev, struct ostor_counter *out, int max);
	/* The settings in effect and where each came from (optional; the
	 * control socket's "tuning"): the same contract. */
	int (*tuning)(ostor_device *dev, struct ostori_setting *out, int max);
	/* What discovery found for a LUN (optional): its block size and the
	 * largest READ / WRITE in bytes (transfer limit, Block Limits VPD).
	 * Called again when the LUN is discovered again. */
	void (*lun_limits)(ostor_device *dev, uint32_t target, uint32_t lun, uint32_t block_size,
			   uint64_t max_bytes);
};

#define OSTORI_SUBMIT_FULL 1

#define OSTOR_MAX_BACKENDS 4
/* Every backend of this build, and their names (lib/backends.c, the one
 * place that names them). */
extern const struct ostor_backend *const ostori_backends[];
extern const char *const ostori_backend_names[];

struct ostor_context {
	pthread_mutex_t lock;          /* devices, completion queue, counters */
	enum ostor_log_level log_level;
	ostor_log_fn log_fn;
	void *log_user_data;
	void (*log_free)(void *);

	struct ostor_config config;
	unsigned int default_timeout_ms;

	void *backend_data[OSTOR_MAX_BACKENDS];
	ostor_device *devices;         /* open devices, linked by next */

	/* Completed tasks waiting for their callbacks (FIFO). */
	ostor_task *done_head, *done_tail;
	atomic_uint inflight;          /* submitted, callback not yet run */
	atomic_uint event_waiters;     /* threads in wait_for_other_handler */
	int wake_fd;                   /* eventfd: readable while done queue non-empty */
	bool wake_pending;             /* wake_fd was written and not drained yet */
	atomic_ulong wake_writes;      /* system calls spent on wake-ups (tests) */
	/* poll() calls of ostor_handle_events (a backend that counts its
	 * system calls charges them to its devices). */
	atomic_ulong event_polls;

	/* Device events waiting for the handler (lib/core/events.c). */
	struct ostor_event_handler event_handler;
	struct ostori_event_node *event_head, *event_tail;
	struct ostori_event_node *event_dispatching; /* taken, not yet delivered (ctx->lock) */
	unsigned int events_queued;
	bool events_missed;

	/* ostor_task_abort() waiting for the outcome of tasks (ctx->lock). */
	struct ostori_abort_watch *abort_watch;
	atomic_uint abort_watchers;

	/* One thread handles events at a time; others wait on event_cond. */
	pthread_mutex_t event_lock;
	pthread_cond_t event_cond;
	pthread_mutex_t event_wait_lock;
	uint64_t event_generation;
};

/* Tasks waiting for room in a full queue (lib/core/queueing.c). */
struct ostori_waitq {
	ostor_task *head, *tail;
	unsigned int n;
};

/* Cached per-LUN state for the block helpers. */
/* Block cache settings, by the backend from its configuration table. */
enum ostori_bcache_policy { OSTORI_BCACHE_LRU = 0, OSTORI_BCACHE_LFU, OSTORI_BCACHE_FIFO };
struct ostori_bcache_params {
	int mode;                      /* enum ostor_cache_mode */
	int policy;                    /* enum ostori_bcache_policy */
	uint64_t size;                 /* bytes, the whole bound */
	uint64_t read_ahead;           /* bytes at most; 0: none */
	uint32_t line_size;            /* 0: 4 KiB */
	const char *source;            /* static: the keys that decided it, for messages */
};

struct ostori_lun_state {
	uint32_t target, lun;
	bool known;                    /* capacity discovered */
	bool seen;                     /* discovered at least once (in use) */
	struct ostor_lun_info info;
	bool dirty;                    /* written since the last good flush */
	int sticky_error;              /* first failed flush, reported until acknowledged */
	bool sticky_deferred;          /* ... or a deferred error (sense 71h/73h) */
	struct ostori_provisioning {   /* Logical Block Provisioning and Block Limits VPD */
		bool unmap;                /* LBPU */
		bool ws_unmap;             /* LBPWS: WRITE SAME(16) may unmap */
		uint32_t max_unmap_blocks, max_unmap_descs;
		uint64_t max_write_same_blocks;
		uint32_t max_dma_transfer_blocks; /* for buffers the device reaches (is_dma) */
		uint32_t max_compare_write_blocks; /* MAXIMUM COMPARE AND WRITE LENGTH, 0: none */
	} prov;
};

struct ostor_device {
	uint32_t magic;
	ostor_context *ctx;
	const struct ostor_backend *backend;
	ostor_device *next;
	char *spec;
	char description[256];

	/* Limits set by the backend at open (0 = no limit). */
	uint32_t max_target;           /* highest target id to scan */
	uint32_t max_lun;              /* highest LUN to probe without REPORT LUNS */
	size_t max_transfer_bytes;
	size_t max_dma_transfer_bytes; /* for buffers is_dma accepts, when larger (0: same) */
	int max_segments;
	/* Set by the backend at open from its own configuration keys. */
	unsigned int default_timeout_ms; /* tasks without their own (0: the context's) */
	const char *count_class;       /* devices counted together ("virtio-scsi"), or NULL */
	unsigned int count_limit;      /* at most this many of the class per context */
	const char *count_key;         /* the key that sets it, for the message */
	bool abort_is_reset;           /* no per-command abort: cancel resets the transport */
	/* Identification answers kept (lib/core/cmdcache.c): entries the
	 * backend asks for at open, and the cache (NULL: none). */
	unsigned int cmd_cache_entries;
	struct ostori_cmd_cache *cmd_cache;
	/* The block cache (lib/core/bcache*.c): what the backend's keys ask
	 * for (set at open, the spec's cache options override), and the
	 * cache (NULL: none). */
	struct ostori_bcache_params bcache_params;
	struct ostori_bcache *bcache;
	/* dma_alloc draws on a fixed pool sized for the application
	 * (virtio's): the cache takes its read-ahead buffers from the heap. */
	bool dma_pool_fixed;
	/* SMART monitoring (lib/core/health_monitor.c): the interval the
	 * backend's keys or the spec's smart_check_interval= ask for (0: off),
	 * and the monitor (NULL: none). */
	unsigned int health_interval_ms;
	struct ostori_health_monitor *health_monitor;
	/* Software queueing (set by the backend at open; 0: no limit). */
	unsigned int max_commands;     /* in flight plus waiting */
	const char *max_commands_key;  /* the key that sets it, for the message */
	int io_scheduler;              /* enum ostori_io_scheduler: order of waiting tasks */
	/* How health is read when the caller says AUTO (enum
	 * ostor_health_protocol; set by the backend at open, e.g. from USB
	 * quirks naming a bridge; 0: detect). */
	int health_protocol;

	pthread_mutex_t lock;          /* lun states, in-flight list */
	struct ostori_lun_state *luns;
	size_t nluns;
	unsigned int inflight;         /* submitted, callback not yet run */
	ostor_task *inflight_head;     /* those tasks, for cancel at close */
	ostor_task *spare_task;        /* reused by the block helpers */
	struct block_req *free_block_reqs; /* recycled block requests (lock) */
	struct ostori_waitq waitq;     /* shared-path tasks waiting for room (lock) */
	unsigned int waitq_taken;      /* of them, off the list to be submitted again (lock) */
	bool waitq_room;               /* a task was delivered while waitq_taken (lock) */
	bool closing;
	/* Queues threads can own (lib/core/channel.c), fixed at open. */
	struct ostori_channel *channels;
	unsigned int nchannels;

	/* Statistics (lib/core/stats.c): the shared path's blocks (written
	 * under lock), device events, histograms on, and what reset keeps. */
	struct ostori_queue_stats shared_stats;
	struct ostori_dev_counts counts;
	atomic_bool hist_on;
	atomic_bool stats_nomem;           /* warned once */
	pthread_mutex_t stats_lock;        /* readers, reset: the baselines */
	struct ostori_dev_counts_base counts_base;
	uint64_t stats_epoch_ns;           /* open or last reset */

	/* Live management (manage.c): one requester at a time, and where it
	 * waits for an owner's answer; the shared path's tags and pause. */
	atomic_uint control_refs;          /* control methods using it (device.c) */
	pthread_mutex_t manage_lock;
	pthread_mutex_t manage_wait;
	pthread_cond_t manage_cond;
	uint64_t tag_seq;                  /* dev->lock */
	bool paused;                       /* dev->lock: submissions wait (a flush) */

	void *priv;                    /* backend's, device_priv_size bytes */
};

enum ostori_task_state {
	OSTORI_TASK_IDLE = 0,
	OSTORI_TASK_INFLIGHT,
	OSTORI_TASK_DONE,              /* completed, callback pending or run */
};

struct ostor_task {
	ostor_device *dev;
	uint32_t target, lun;
	uint8_t cdb[OSTOR_CDB_MAX];
	uint8_t cdb_len;
	enum ostor_dir dir;
	int iovcnt;
	size_t data_len;
	unsigned int timeout_ms;
	struct iovec iov[OSTOR_IOV_MAX];
	struct ostor_completion completion;

	/* enum ostori_task_state: changes under dev->lock (submit, dispatch),
	 * read anywhere through ostori_task_state() (acquire: the results
	 * written before DONE are visible). */
	int state;
	_Atomic bool cancel_requested; /* read by the backends' pollers */

	/* results, written by the backend before ostori_task_complete */
	enum ostor_result result;
	int status;
	size_t sense_len;
	size_t transferred;
	uint8_t sense[OSTOR_SENSE_MAX];

	ostor_task *next_done;
	ostor_task *inflight_prev, *inflight_next; /* dev->inflight_head or chan list */
	/* The owned queue it went to (NULL: the shared path), and whether
	 * the owner passed a cancel request on to the backend yet. */
	struct ostori_channel *chan;
	bool cancel_sent;
	bool from_cache;               /* answered by the command cache */
	bool bcache_bypass;            /* the block cache's own request: straight to the backend */
	bool bcache_parked;            /* waiting in the block cache (its lock) */
	struct bc_op *bcache_op;       /* the block cache's note on it while in flight */
	/* Waiting for room (queueing.c): on its channel's or device's list. */
	bool waiting;
	uint64_t wait_deadline_ms;
	ostor_task *wait_next;
	uint64_t submit_tick;          /* ostori_ticks() at submit, histograms on; else 0 */
	/* Live management (manage.c): a tag once listed (0 before), and
	 * when it was first listed (ticks). */
	uint64_t tag, listed_tick;
	void *priv;                    /* backend's, task_priv_size bytes */
};

static inline int ostori_task_state(const ostor_task *t)
{
	return __atomic_load_n(&t->state, __ATOMIC_ACQUIRE);
}
static inline void ostori_task_set_state(ostor_task *t, int state)
{
	__atomic_store_n(&t->state, state, __ATOMIC_RELEASE);
}
static inline bool ostori_task_cancelled(const ostor_task *t)
{
	return atomic_load_explicit(&t->cancel_requested, memory_order_relaxed);
}

/* One setting in effect, for a tuning op. */
struct ostori_setting {
	const char *name;      /* static */
	const char *source;    /* static: what decided it */
	char value[96];
};
void ostori_setting_add(struct ostori_setting *out, int max, int *n, const char *name, const char *source,
			const char *fmt, ...) __attribute__((format(printf, 6, 7)));

/* A backend's counters op: add v to counter name (static) in out, which
 * holds *n of them (at most max are stored; *n counts them all). */
void ostori_counter_add(struct ostor_counter *out, int max, int *n, const char *name, uint64_t v);

/* ---- statistics writers (see stats.h) ----------------------------------- */
/* Writer: the block of (target, lun), created on first use (NULL when
 * out of memory: the command goes uncounted, logged once). */
struct ostori_lun_stats *ostori_stats_lun(ostor_device *dev, struct ostori_queue_stats *qs, uint32_t target,
					  uint32_t lun);
struct ostori_hist *ostori_stats_hist_alloc(ostor_device *dev, struct ostori_lun_stats *ls);

/* Writer: count one completed task.  now: ticks at its completion batch,
 * or 0 when histograms are off. */
static inline void ostori_stats_complete(ostor_device *dev, struct ostori_queue_stats *qs, const ostor_task *t,
					 uint64_t now)
{
	struct ostori_lun_stats *ls = qs->last;
	unsigned int kind = ostori_io_kind_of[t->cdb[0]];
	unsigned int res = (unsigned int)t->result;

	if (OSTOR_UNLIKELY(!ls || ls->lun != t->lun || ls->target != t->target)) {
		ls = ostori_stats_lun(dev, qs, t->target, t->lun);
		if (!ls)
			return;
	}
	ostori_stat_add(&ls->io.commands[kind], 1);
	ostori_stat_add(&ls->io.bytes[kind], t->transferred);
	/* GOOD is what the other results leave of the commands. */
	if (OSTOR_UNLIKELY(res != OSTOR_RESULT_GOOD))
		ostori_stat_add(&ls->io.results[res < OSTORI_STATS_RESULTS ? res : OSTOR_RESULT_OTHER_STATUS], 1);
	if (now && t->submit_tick) {
		struct ostori_hist *h = atomic_load_explicit(&ls->hist, memory_order_relaxed);
		uint64_t v = now > t->submit_tick ? now - t->submit_tick : 0;

		if (OSTOR_UNLIKELY(!h) && !(h = ostori_stats_hist_alloc(dev, ls)))
			return;
		ostori_stat_add(&h[kind].bucket[ostori_hist_bucket(v)], 1);
		ostori_stat_add(&h[kind].sum, v);
	}
}


/* ---- channels: queues owned by threads (lib/core/channel.c) ---------- */
struct ostori_channel;
/* The channel of dev the calling thread owns, or NULL (inline: it runs
 * twice per command). */
#define OSTORI_TLS_CHANNELS 8
/* What the fast path keeps per thread, in one block: one TLS address
 * computation per function instead of one per variable. */
struct ostori_tls {
	const ostor_device *chan_dev[OSTORI_TLS_CHANNELS];
	struct ostori_channel *chan[OSTORI_TLS_CHANNELS];
	unsigned int nchan;
	/* The context whose completion (or event) callback this thread is
	 * running: waiting for events from there would wait for ourselves. */
	ostor_context *callback_ctx;
};
extern _Thread_local struct ostori_tls ostori_tls;
static inline struct ostori_channel *ostori_my_channel(const ostor_device *dev)
{
	struct ostori_tls *tls = &ostori_tls;

	for (unsigned int i = 0; i < tls->nchan; i++)
		if (tls->chan_dev[i] == dev)
			return tls->chan[i];
	return NULL;
}
int ostori_channels_init(ostor_device *dev);        /* ostor_open, after the backend */
void ostori_channels_free(ostor_device *dev);       /* ostor_close */
/* ostor_close: release the caller's channel of dev (its tasks cancelled
 * and drained); BUSY when another thread holds one. */
int ostori_channels_close(ostor_device *dev);
/* ostor_task_submit on a channel the caller owns. */
int ostori_channel_submit(struct ostori_channel *ch, ostor_task *t);
void ostori_channel_complete(ostor_task *t);
int ostori_channel_cancel(ostor_task *t, struct ostori_channel *ch);
/* Run the callbacks of the caller's channels of ctx that have
 * completions (no backend polling): from ostor_handle_events*. */
int ostori_channels_dispatch_mine(ostor_context *ctx);
/* The caller owns a channel of ctx with completions to deliver. */
bool ostori_channels_ready_mine(const ostor_context *ctx);
/* Tasks in flight on the channels of every device of ctx (ctx->lock). */
unsigned int ostori_channels_inflight(ostor_context *ctx);
/* One step of a synchronous wait: reap the caller's channels, else
 * handle events for at most timeout_ms (never waiting for another
 * thread's handler while the caller owns a queue).  >0: something
 * completed. */
int ostori_wait_step(ostor_context *ctx, int timeout_ms);
/* Handle events with ctx->event_lock held by the caller. */
int ostori_handle_events_locked(ostor_context *ctx, int timeout_ms);
/* A synchronous caller's own task on the shared path, submitted by the
 * thread that waits for it: when it completes on this thread inside this
 * submit, the next settle on this thread delivers it (no done queue, no
 * wake-up, no system call).  Only completions inside the submit call are
 * kept back; any later one (the caller's own poll, another thread's)
 * takes the done queue.  The caller settles before it submits or waits
 * again.  settle: true when it delivered one. */
int ostori_sync_submit(ostor_task *t, struct ostor_completion c);
bool ostori_sync_settle(void);
/* The shared-path end of a task (unlink, DONE, callback): used by the
 * dispatcher and, for a sync caller's own task, inline. */
void ostori_task_deliver(ostor_context *ctx, ostor_task *t);

unsigned int ostori_device_channels_inflight(const ostor_device *dev);

/* ---- software queueing (lib/core/queueing.c) --------------------------- */
/* Tasks held by dev, in flight or waiting (approximate, lock-free). */
unsigned int ostori_device_held(const ostor_device *dev);
/* Keep t waiting on q (order by dev->io_scheduler); BUSY past max_commands. */
int ostori_waitq_park(ostor_device *dev, struct ostori_waitq *q, ostor_task *t);
/* Park a task the block cache resumed and its backend found full: on its
 * queue's list (the owner only) or the device's. */
int ostori_channel_park(struct ostori_channel *ch, ostor_task *t);
int ostori_device_park(ostor_device *dev, ostor_task *t);
/* This thread owns ch. */
bool ostori_channel_is_mine(const struct ostori_channel *ch);
/* Ask ch's owner to resume its tasks parked in the block cache at its
 * next poll; true when it was not asked yet (the caller then wakes the
 * event loop: ostori_kick_loop). */
bool ostori_channel_want_resume(struct ostori_channel *ch);
ostor_task *ostori_waitq_pop(struct ostori_waitq *q);
void ostori_waitq_push_front(struct ostori_waitq *q, ostor_task *t);
bool ostori_waitq_remove(struct ostori_waitq *q, ostor_task *t);
/* Submit waiting tasks until the backend is full again (the owner's q). */
void ostori_waitq_run(struct ostori_waitq *q);
/* The same for dev->waitq (takes dev->lock around list changes). */
void ostori_device_waitq_run(ostor_device *dev);

/* ---- the SCSI command cache (lib/core/cmdcache.c) ----------------------- */
struct ostori_cmd_cache;
int ostori_cmdcache_init(ostor_device *dev, unsigned int entries);
void ostori_cmdcache_free(ostor_device *dev);
/* Complete t from the cache (true), or leave it to the device. */
bool ostori_cmdcache_serve(ostor_task *t);
/* Learn from a completing task: keep an answer, or forget a LUN's. */
void ostori_cmdcache_note(ostor_task *t);
void ostori_cmdcache_forget_all(ostor_device *dev);
void ostori_cmdcache_stats(const ostor_device *dev, uint64_t *hits, uint64_t *misses);

/* ---- the block cache (lib/core/bcache.c, bcache_io.c) --------------------- */
struct ostori_bcache;
struct bc_op;
/* The device spec's cache options (cache=off|wt|wb, cache_size=,
 * cache_policy=, read_ahead=, cache_line=): parsed before the backend
 * opens, applied over its defaults after. */
struct ostori_bcache_spec {
	bool mode_set, policy_set, read_ahead_set;
	int mode, policy;
	uint64_t size, read_ahead;
	uint32_t line_size;
};
#define OSTORI_BCACHE_SPEC_OPTIONS "cache=off|wt|wb, cache_size=SIZE, cache_policy=lru|lfu|fifo, " \
	"read_ahead=SIZE, cache_line=SIZE"
int ostori_bcache_spec(const char *text, struct ostor_spec *spec, struct ostori_bcache_spec *o);
void ostori_bcache_spec_apply(ostor_device *dev, const struct ostori_bcache_spec *o);
/* From dev->bcache_params, at open (nothing when the mode is off). */
int ostori_bcache_open(ostor_device *dev);
/* Give back the device memory the cache keeps (before the backend closes,
 * with nothing in flight). */
void ostori_bcache_release_buffers(ostor_device *dev);
void ostori_bcache_close(ostor_device *dev);
const char *ostori_bcache_policy_name(int policy);
/* A task for a LUN of a cached device, before its backend: answered,
 * parked or passed on (returns as a backend's submit). */
int ostori_bcache_submit(ostor_task *t);
/* A task of a cached device completed (before delivery). */
void ostori_bcache_complete(ostor_task *t);
/* The block helpers learned a LUN's geometry. */
void ostori_bcache_lun_known(ostor_device *dev, uint32_t target, uint32_t lun, uint32_t block_size,
			     uint64_t blocks);
/* An event that invalidates what the cache holds (medium or capacity
 * changed, LUN removed, device gone); others are ignored. */
void ostori_bcache_lun_event(ostor_device *dev, enum ostor_event_type type, uint32_t target, uint32_t lun);
/* Write out every dirty block of the LUN and wait for it (a flush's first
 * half).  Returns when nothing is dirty, or when a write-out failed. */
int ostori_bcache_writeout_wait(ostor_device *dev, uint32_t target, uint32_t lun);
/* The LUN has cached data to write out or a sticky error to report. */
bool ostori_bcache_dirty(ostor_device *dev, uint32_t target, uint32_t lun);
/* The cache's sticky error of a LUN (or the first of all, OSTOR_EVENT_ALL)
 * and why, or 0. */
int ostori_bcache_sticky(ostor_device *dev, uint32_t target, uint32_t lun, char *why, size_t len);
/* Clear it (ostor_flush_acknowledge); returns the error cleared. */
int ostori_bcache_acknowledge(ostor_device *dev, uint32_t target, uint32_t lun);
/* The LUNs the cache serves (the first max into out, in slot order);
 * returns how many there are. */
size_t ostori_bcache_luns(ostor_device *dev, struct ostor_lun_addr *out, size_t max);
/* The owner of ch resumes its tasks parked in the cache. */
void ostori_bcache_resume_channel(ostor_device *dev, struct ostori_channel *ch);

/* Hand a task to its backend, past the block cache (the command cache may
 * answer instead). */
static inline int ostori_backend_submit_direct(ostor_task *t)
{
	if (OSTOR_UNLIKELY(t->dev->cmd_cache != NULL) && ostori_cmdcache_serve(t))
		return 0;
	return t->dev->backend->submit(t);
}

/* Take t out of the block cache's waiting list (true), before it
 * reached its backend; the caller ends it. */
bool ostori_bcache_cancel(ostor_task *t);

/* Hand a task to its backend (the caches may answer instead). */
static inline int ostori_backend_submit(ostor_task *t)
{
	if (OSTOR_UNLIKELY(t->dev->bcache != NULL) && !t->bcache_bypass)
		return ostori_bcache_submit(t);
	return ostori_backend_submit_direct(t);
}

/* Complete a task: result, status, sense and transferred must be set.
 * Thread-safe; the callback runs later in ostor_handle_events*. */
void ostori_task_complete(ostor_task *task);
/* OSTOR_ERROR_STATE (with the why) when called from inside a completion
 * callback of ctx, where waiting for events would wait for ourselves. */
int ostori_refuse_in_callback(ostor_context *ctx, const char *fn);
/* Set around every user callback (completions, events). */
#define ostori_callback_ctx (ostori_tls.callback_ctx)
/* Run a completion's callback as the user's code (marked, for the
 * re-entrancy refusals), then its free. */
static inline void ostori_run_completion(ostor_context *ctx, ostor_task *t, struct ostor_completion c)
{
	if (c.callback) {
		struct ostori_tls *tls = &ostori_tls;
		ostor_context *outer = tls->callback_ctx;

		tls->callback_ctx = ctx;
		c.callback(t, c.user_data);
		tls->callback_ctx = outer;
	}
	if (c.free)
		c.free(c.user_data);
}
/* Device events (lib/core/events.c): post from any thread; the handler
 * runs in ostor_handle_events*.  target/lun OSTOR_EVENT_ALL: all. */
void ostori_post_event(ostor_device *dev, enum ostor_event_type type, uint32_t target, uint32_t lun,
		       uint8_t asc, uint8_t ascq);
/* OSTOR_EVENT_CACHE_DATA_LOST for blocks lba..lba+blocks-1. */
void ostori_post_event_range(ostor_device *dev, enum ostor_event_type type, uint32_t target, uint32_t lun,
			     uint64_t lba, uint64_t blocks);
/* The event a unit attention stands for, if any (2Ah/09h capacity, 28h
 * medium, 29h reset, 3Fh/0Eh LUN inventory). */
void ostori_post_unit_attention(ostor_device *dev, uint32_t target, uint32_t lun, uint8_t asc,
				uint8_t ascq);
bool ostori_events_pending(const ostor_context *ctx);      /* ctx->lock held */
int ostori_dispatch_events(ostor_context *ctx);             /* with event_lock */
void ostori_drop_device_events(ostor_device *dev);          /* ostor_close */
void ostori_events_free(ostor_context *ctx);                /* ostor_exit */
/* Task management (lib/core/tmf.c): record a completing task's result
 * for an ostor_task_abort() waiting for it (before its callback). */
void ostori_abort_watch_note(ostor_context *ctx, const ostor_task *t);
/* Watch t's completion (NULL when all watches are taken); done says
 * whether it completed and how; remove frees the watch. */
struct ostori_abort_watch;
struct ostori_abort_watch *ostori_abort_watch_add(ostor_context *ctx, const ostor_task *t);
bool ostori_abort_watch_done(ostor_context *ctx, struct ostori_abort_watch *w, enum ostor_result *result);
void ostori_abort_watch_remove(ostor_context *ctx, struct ostori_abort_watch *w);
/* Make a thread blocked in ostor_handle_events return (eventfd), work or
 * not: for callers that need the event lock. */
void ostori_kick_loop(ostor_context *ctx);
/* Make the event loop look (eventfd) unless it is doing so already. */
void ostori_wake_loop(ostor_context *ctx);
/* Page-aligned heap memory (free()), the fallback of ostor_dma_alloc. */
void *ostori_page_alloc(size_t size);
/* Free the recycled block requests of dev (ostor_close, nothing in flight). */
void ostori_block_reqs_free(ostor_device *dev);
/* A released channel's recycled block requests, to the device's list. */
void ostori_block_reqs_give_back(ostor_device *dev, void *list);
/* The owner's list head of recycled block requests (owner only). */
void **ostori_channel_block_reqs(struct ostori_channel *ch);
/* Cancel every task in flight on dev (ostor_close). */
void ostori_device_cancel_all(ostor_device *dev);
/* Map a SCSI status byte to a transport-neutral result. */
static inline enum ostor_result ostori_result_of_status(int status)
{
	switch (status) {
	case OSTOR_SCSI_STATUS_GOOD:
	case OSTOR_SCSI_STATUS_CONDITION_MET:
		return OSTOR_RESULT_GOOD;
	case OSTOR_SCSI_STATUS_CHECK_CONDITION:
		return OSTOR_RESULT_CHECK_CONDITION;
	case OSTOR_SCSI_STATUS_BUSY:
	case OSTOR_SCSI_STATUS_TASK_SET_FULL:
		return OSTOR_RESULT_BUSY;
	case OSTOR_SCSI_STATUS_RESERVATION_CONFLICT:
		return OSTOR_RESULT_RESERVATION_CONFLICT;
	case OSTOR_SCSI_STATUS_TASK_ABORTED:
		return OSTOR_RESULT_ABORTED;
	default:
		return OSTOR_RESULT_OTHER_STATUS;
	}
}

/* Hand a task whose results are set to the core: an owned queue's task,
 * no cache to tell, straight to its owner. */
static inline void ostori_task_hand_over(ostor_task *t)
{
	if (OSTOR_LIKELY(t->chan != NULL && t->dev->cmd_cache == NULL && t->dev->bcache == NULL))
		ostori_channel_complete(t);
	else
		ostori_task_complete(t);
}

/* Set the results (sense and transferred bounded) without completing. */
static inline void ostori_task_set_results(ostor_task *t, enum ostor_result result, int status,
					   const uint8_t *sense, size_t sense_len, size_t transferred)
{
	t->result = result;
	t->status = status;
	if (sense_len > OSTOR_SENSE_MAX)
		sense_len = OSTOR_SENSE_MAX;
	if (sense && sense_len)
		memcpy(t->sense, sense, sense_len);
	t->sense_len = sense && sense_len ? sense_len : 0;
	t->transferred = transferred <= t->data_len ? transferred : t->data_len;
}

/* Convenience for backends: set the results and complete. */
static inline void ostori_task_finish(ostor_task *t, enum ostor_result result, int status,
				      const uint8_t *sense, size_t sense_len, size_t transferred)
{
	ostori_task_set_results(t, result, status, sense, sense_len, transferred);
	ostori_task_hand_over(t);
}

/* Cancel t where it is: waiting in the block cache (it ends aborted
 * here), else at its backend. */
static inline int ostori_backend_cancel(ostor_task *t)
{
	if (OSTOR_UNLIKELY(t->dev->bcache != NULL) && ostori_bcache_cancel(t)) {
		ostori_task_finish(t, OSTOR_RESULT_ABORTED, -1, NULL, 0, 0);
		return 0;
	}
	return t->dev->backend->cancel ? t->dev->backend->cancel(t) : 0;
}

static inline void *ostori_device_priv(ostor_device *dev) { return dev->priv; }
static inline void *ostori_task_priv(ostor_task *task) { return task->priv; }
static inline void *ostori_backend_data(ostor_context *ctx, int index)
{
	return ctx->backend_data[index];
}
int ostori_backend_index(const struct ostor_backend *backend);

/* Enumeration list being built. */
struct ostor_device_info {
	char *spec;
	const char *backend;
	char *description;
};
struct ostori_devlist {
	ostor_device_info **items;
	size_t count, cap;
};
int ostori_devlist_add(struct ostori_devlist *list, const char *backend,
		       const char *spec, const char *fmt, ...) OSTOR_PRINTF(4, 5);

/* The cache's own block requests (read-ahead, write-out): as
 * ostor_*_blocks_async, past the cache. */
int ostori_block_internal(ostor_device *dev, uint32_t target, uint32_t lun, uint64_t lba, uint32_t count,
			  void *buf, bool write, struct ostor_block_completion c);
/* The sticky SYNCHRONIZE CACHE error of a LUN (OSTOR_EVENT_ALL: any), or 0. */
int ostori_lun_sticky(ostor_device *dev, uint32_t target, uint32_t lun);

/* SMART monitoring (health_monitor.c): the spec option (before the
 * backend opens: 0 or OSTOR_ERROR_BAD_SPEC), start after open, stop
 * before close; the last reports as JSON for the control method. */
#define OSTORI_HEALTH_SPEC_OPTIONS "smart_check_interval=SECONDS"
int ostori_health_spec(const char *text, struct ostor_spec *spec, unsigned int *interval_ms);
int ostori_health_monitor_start(ostor_device *dev);
void ostori_health_monitor_stop(ostor_device *dev);
struct json_object;
struct json_object *ostori_health_monitor_json(ostor_device *dev);
/* Power reports as json-c objects (power_json.c). */
struct json_object *ostori_power_json_object(const char *spec, uint32_t target, uint32_t lun,
					     const struct ostor_power_info *pi);
struct json_object *ostori_usb_power_json_object(const struct ostor_usb_power *p);

/* Block-helper state lookup (creates the entry). */
struct ostori_lun_state *ostori_lun_state(ostor_device *dev, uint32_t target, uint32_t lun);
/* Run one command synchronously on t, retrying unit attentions and BUSY:
 * 0 once it completed with any other answer (status and sense in t), or
 * a transport error (lib/core/block.c). */
int ostori_exec(ostor_task *t, uint32_t target, uint32_t lun, const struct ostor_cdb *cdb,
		enum ostor_dir dir, void *buf, size_t len);

/* Whether dev is an open device handle (lib/core/device.c's registry). */
bool ostori_device_is_live(const ostor_device *dev);

#endif /* OSTOR_CORE_BACKEND_H */
