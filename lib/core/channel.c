/*
 * lib/core/channel.c - queues owned by threads ("channels", as SPDK calls
 * them): the fast path of every backend.
 *
 * A thread that acquired a queue of a device submits its tasks to it and
 * reaps them without taking any lock: the tasks it has in flight are on a
 * list only it touches, they complete onto a list only it touches, and
 * their callbacks run on it, in ostor_queue_poll() (or in
 * ostor_handle_events*() called on that thread).  A task that another
 * thread completes (a device reset, a model's own thread, a libusb event
 * handler) is pushed onto a lock-free stack that the owner drains; a
 * cancel from another thread is only a flag and a counter, which the owner
 * acts on.  Threads that own nothing use the shared path (task.c).
 */
#include "core/backend.h"

#include <errno.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>

struct ostori_channel {
	ostor_device *dev;
	unsigned int index;
	atomic_int owned;             /* a thread holds it (changes under dev->lock) */
	_Atomic(struct ostori_tls *) owner; /* that thread's TLS block */
	/* Owner only. */
	ostor_task *inflight_head;
	ostor_task *done_head, *done_tail;
	struct ostori_waitq waitq;    /* found the queue full; in submission order */
	/* Written by the owner, read by counters on any thread. */
	atomic_uint inflight;
	/* Any thread. */
	_Atomic(ostor_task *) remote; /* completed elsewhere, newest first */
	atomic_uint cancels;          /* cancel requests not yet seen by the owner */
	atomic_bool bcache_resume;    /* tasks parked in the block cache may go on */
	void *block_reqs;             /* the owner's recycled block requests (block.c) */
	/* Live management: a request for the owner (manage.c), and the
	 * owner's own state for it. */
	_Atomic(struct ostori_chan_req *) req;
	atomic_bool paused;           /* set by a flush: submissions wait */
	uint64_t tag_seq;             /* owner */
	/* Written by the owner, read anywhere (stats.c). */
	struct ostori_queue_stats stats __attribute__((aligned(64)));
} __attribute__((aligned(64)));

struct ostori_channel *ostori_device_channel(ostor_device *dev, unsigned int i)
{
	return &dev->channels[i];
}

struct ostori_queue_stats *ostori_channel_stats(struct ostori_channel *ch)
{
	return &ch->stats;
}

unsigned int ostori_channel_inflight(struct ostori_channel *ch)
{
	return atomic_load_explicit(&ch->inflight, memory_order_relaxed);
}

bool ostori_channel_owned(struct ostori_channel *ch)
{
	return atomic_load_explicit(&ch->owned, memory_order_relaxed) != 0;
}

void **ostori_channel_block_reqs(struct ostori_channel *ch)
{
	return &ch->block_reqs;
}

/* The channels this thread owns: a small array, searched linearly (the
 * first slot is the one a submit nearly always wants). */
#define TLS_CHANNELS OSTORI_TLS_CHANNELS
_Thread_local struct ostori_tls ostori_tls;
#define tls_chan (ostori_tls.chan)
#define tls_nchan (ostori_tls.nchan)

static pthread_once_t exit_once = PTHREAD_ONCE_INIT;
static pthread_key_t exit_key;


int ostori_channels_init(ostor_device *dev)
{
	unsigned int n = dev->backend->queue_count ? dev->backend->queue_count(dev) : 1;

	if (n == 0)
		n = 1;
	dev->channels = aligned_alloc(64, n * sizeof(*dev->channels));
	if (!dev->channels)
		return ostori_error(OSTOR_ERROR_NO_MEM, "out of memory for %u queues", n);
	memset(dev->channels, 0, n * sizeof(*dev->channels));
	for (unsigned int i = 0; i < n; i++) {
		dev->channels[i].dev = dev;
		dev->channels[i].index = i;
	}
	dev->nchannels = n;
	return 0;
}

void ostori_channels_free(ostor_device *dev)
{
	for (unsigned int i = 0; i < dev->nchannels; i++)
		ostori_queue_stats_free(&dev->channels[i].stats);
	free(dev->channels);
	dev->channels = NULL;
	dev->nchannels = 0;
}

/* ---- submission and completion (owner) ------------------------------------ */

static inline void link_task(struct ostori_channel *ch, ostor_task *t)
{
	unsigned int n;

	t->inflight_prev = NULL;
	t->inflight_next = ch->inflight_head;
	if (ch->inflight_head)
		ch->inflight_head->inflight_prev = t;
	ch->inflight_head = t;
	n = atomic_load_explicit(&ch->inflight, memory_order_relaxed) + 1;
	atomic_store_explicit(&ch->inflight, n, memory_order_relaxed);
	ostori_stats_depth(&ch->stats, n);
}

static inline void unlink_task(struct ostori_channel *ch, ostor_task *t)
{
	if (t->inflight_prev)
		t->inflight_prev->inflight_next = t->inflight_next;
	else if (ch->inflight_head == t)
		ch->inflight_head = t->inflight_next;
	if (t->inflight_next)
		t->inflight_next->inflight_prev = t->inflight_prev;
	t->inflight_prev = t->inflight_next = NULL;
	atomic_store_explicit(&ch->inflight, atomic_load_explicit(&ch->inflight, memory_order_relaxed) - 1,
			      memory_order_relaxed);
}

unsigned int ostori_device_channels_inflight(const ostor_device *dev)
{
	unsigned int n = 0;

	for (unsigned int i = 0; i < dev->nchannels; i++)
		n += atomic_load_explicit(&dev->channels[i].inflight, memory_order_relaxed);
	return n;
}

int ostori_channel_submit(struct ostori_channel *ch, ostor_task *t)
{
	int r;

	__atomic_store_n(&t->chan, ch, __ATOMIC_RELAXED);
	t->cancel_sent = false;
	link_task(ch, t);
	ostori_task_set_state(t, OSTORI_TASK_INFLIGHT);
	/* Behind tasks already waiting, or a flush: no overtaking. */
	if (OSTOR_UNLIKELY(ch->waitq.n | atomic_load_explicit(&ch->paused, memory_order_relaxed)))
		r = OSTORI_SUBMIT_FULL;
	else
		r = ostori_backend_submit(t);
	if (OSTOR_UNLIKELY(r == OSTORI_SUBMIT_FULL))
		r = ostori_waitq_park(t->dev, &ch->waitq, t);
	if (OSTOR_UNLIKELY(r < 0)) {
		unlink_task(ch, t);
		ostori_task_set_state(t, OSTORI_TASK_IDLE);
		__atomic_store_n(&t->chan, NULL, __ATOMIC_RELAXED);
	}
	return r;
}

void ostori_channel_complete(ostor_task *t)
{
	struct ostori_channel *ch = t->chan;
	ostor_task *head;

	t->next_done = NULL;
	if (OSTOR_LIKELY(atomic_load_explicit(&ch->owner, memory_order_relaxed) == &ostori_tls)) {
		if (ch->done_tail)
			ch->done_tail->next_done = t;
		else
			ch->done_head = t;
		ch->done_tail = t;
		return;
	}
	/* Another thread: push for the owner (release: the results). */
	head = atomic_load_explicit(&ch->remote, memory_order_relaxed);
	do
		t->next_done = head;
	while (!atomic_compare_exchange_weak_explicit(&ch->remote, &head, t, memory_order_release,
						      memory_order_relaxed));
	/* The owner may be blocked in ostor_handle_events. */
	ostori_kick_loop(t->dev->ctx);
}

/* Owner: cancel one task - a waiting one ends here, aborted (it never
 * reached the device); one in the backend is passed on. */
static int owner_cancel_one(struct ostori_channel *ch, ostor_task *t)
{
	ostor_device *dev = ch->dev;
	int r = 0;

	t->cancel_sent = true;
	if (t->waiting && ostori_waitq_remove(&ch->waitq, t)) {
		ostori_task_finish(t, OSTOR_RESULT_ABORTED, -1, NULL, 0, 0);
		return 0;
	}
	pthread_mutex_lock(&dev->lock);
	r = ostori_backend_cancel(t);
	pthread_mutex_unlock(&dev->lock);
	return r;
}

/* Cancels asked by other threads: pass them to the backend now, as the
 * owner (the task cannot complete meanwhile: only we complete it). */
static void owner_cancels(struct ostori_channel *ch)
{
	atomic_store_explicit(&ch->cancels, 0, memory_order_relaxed);
	for (ostor_task *t = ch->inflight_head; t; t = t->inflight_next)
		if (ostori_task_cancelled(t) && !t->cancel_sent)
			owner_cancel_one(ch, t);
}

int ostori_channel_cancel(ostor_task *t, struct ostori_channel *ch)
{
	if (ostori_task_state(t) != OSTORI_TASK_INFLIGHT)
		return ostori_error(OSTOR_ERROR_STATE, "ostor_task_cancel: the task is not in flight "
				    "(it completed, or was never submitted)");
	if (atomic_exchange(&t->cancel_requested, true))
		return 0;
	if (ostori_my_channel(t->dev) == ch)
		return owner_cancel_one(ch, t);
	/* The owner passes it on in its next poll; backends that watch the
	 * flag themselves (virtio) act on it even sooner. */
	atomic_fetch_add_explicit(&ch->cancels, 1, memory_order_release);
	return 0;
}

/* Take what other threads completed, oldest first, onto the done list. */
static void take_remote(struct ostori_channel *ch)
{
	ostor_task *list = atomic_exchange_explicit(&ch->remote, NULL, memory_order_acquire);
	ostor_task *rev = NULL;

	while (list) {
		ostor_task *next = list->next_done;

		list->next_done = rev;
		rev = list;
		list = next;
	}
	while (rev) {
		ostor_task *next = rev->next_done;

		rev->next_done = NULL;
		if (ch->done_tail)
			ch->done_tail->next_done = rev;
		else
			ch->done_head = rev;
		ch->done_tail = rev;
		rev = next;
	}
}

/* Run the callbacks of the channel's completed tasks.  Tasks that
 * complete from inside a callback (resubmitted ones) wait for the next
 * call, so one call is bounded. */
static int dispatch(struct ostori_channel *ch)
{
	ostor_context *ctx = ch->dev->ctx;
	struct ostori_tls *tls;
	ostor_context *outer;
	ostor_task *list;
	uint64_t now = 0;
	int n = 0;

	/* Tasks waiting in the block cache that may go on now. */
	if (OSTOR_UNLIKELY(atomic_load_explicit(&ch->bcache_resume, memory_order_relaxed)) &&
	    atomic_exchange_explicit(&ch->bcache_resume, false, memory_order_acquire))
		ostori_bcache_resume_channel(ch->dev, ch);
	if (OSTOR_UNLIKELY(atomic_load_explicit(&ch->remote, memory_order_relaxed) != NULL))
		take_remote(ch);
	list = ch->done_head;
	if (!list)
		goto waiting;
	ch->done_head = ch->done_tail = NULL;
	/* One clock reading per batch, with histograms on. */
	if (atomic_load_explicit(&ch->dev->hist_on, memory_order_relaxed)) {
		now = ostori_ticks();
		ostori_stats_batch(&ch->stats, now);
	}
	/* The callbacks run as the user's code (for the re-entrancy
	 * refusals); marked once for the batch. */
	tls = &ostori_tls;
	outer = tls->callback_ctx;
	tls->callback_ctx = ctx;
	while (list) {
		ostor_task *t = list;
		struct ostor_completion c = t->completion;

		list = t->next_done;
		t->next_done = NULL;
		t->completion.callback = NULL;
		t->completion.free = NULL;
		unlink_task(ch, t);
		__atomic_store_n(&t->chan, NULL, __ATOMIC_RELAXED);
		ostori_stats_complete(ch->dev, &ch->stats, t, now);
		if (OSTOR_UNLIKELY(atomic_load_explicit(&ctx->abort_watchers, memory_order_relaxed)))
			ostori_abort_watch_note(ctx, t);
		ostori_task_set_state(t, OSTORI_TASK_DONE);
		if (c.callback)
			c.callback(t, c.user_data);
		if (c.free)
			c.free(c.user_data);
		n++;
	}
	tls->callback_ctx = outer;
	if (now)
		ostori_stats_batch_end(&ch->stats, atomic_load_explicit(&ch->inflight, memory_order_relaxed));
waiting:
	/* Room was freed: tasks waiting for it go now (after a flush). */
	if (OSTOR_UNLIKELY(ch->waitq.n) && !atomic_load_explicit(&ch->paused, memory_order_relaxed))
		ostori_waitq_run(&ch->waitq);
	return n;
}

/* ---- live management: the owner's side (see manage.h) ----------------------- */

static void owner_list(struct ostori_channel *ch, struct ostori_chan_req *req)
{
	struct ostori_cmd_list *l = req->list;
	uint64_t now = ostori_ticks();

	for (ostor_task *t = ch->inflight_head; t; t = t->inflight_next) {
		struct ostori_cmd_info *c = l->n < l->cap ? &l->cmds[l->n] : NULL;

		if (!t->tag) {
			t->tag = ((uint64_t)(ch->index + 1) << 48) | ++ch->tag_seq;
			t->listed_tick = now;
		}
		l->n++;
		if (!c)
			continue;
		c->queue = (int)ch->index;
		ostori_manage_describe(t, c, now);
	}
}

static void owner_abort(struct ostori_channel *ch, struct ostori_chan_req *req)
{
	ostor_task *t;

	for (t = ch->inflight_head; t && t->tag != req->tag; t = t->inflight_next)
		;
	if (!t) {
		req->result = OSTOR_ERROR_NOT_FOUND;
		return;
	}
	req->watch = ostori_abort_watch_add(ch->dev->ctx, t);
	if (!req->watch) {
		req->result = OSTOR_ERROR_BUSY;
		return;
	}
	req->result = 0;
	if (!atomic_exchange(&t->cancel_requested, true))
		owner_cancel_one(ch, t);
}

static void owner_count(struct ostori_channel *ch, struct ostori_chan_req *req)
{
	unsigned int n = 0;

	for (ostor_task *t = ch->inflight_head; t; t = t->inflight_next)
		n += !t->waiting;
	req->inflight = n;
	req->waiting = ch->waitq.n;
}

/* A request from another thread (manage.c): answer it now. */
static void owner_request(struct ostori_channel *ch)
{
	struct ostori_chan_req *req = atomic_exchange_explicit(&ch->req, NULL, memory_order_acquire);
	ostor_device *dev = ch->dev;

	if (!req)
		return;
	switch (req->kind) {
	case OSTORI_REQ_LIST: owner_list(ch, req); break;
	case OSTORI_REQ_ABORT: owner_abort(ch, req); break;
	case OSTORI_REQ_COUNT: owner_count(ch, req); break;
	}
	pthread_mutex_lock(&dev->manage_wait);
	atomic_store_explicit(&req->done, 1, memory_order_release);
	pthread_cond_broadcast(&dev->manage_cond);
	pthread_mutex_unlock(&dev->manage_wait);
}

/* A flush: hold submissions of channel i back, or let them go again (the
 * owner sends those waiting at its next poll). */
void ostori_channel_pause(ostor_device *dev, unsigned int i, bool pause)
{
	atomic_store_explicit(&dev->channels[i].paused, pause, memory_order_relaxed);
	if (!pause)
		ostori_kick_loop(dev->ctx);
}

int ostori_channel_request(ostor_device *dev, unsigned int i, struct ostori_chan_req *req, int timeout_ms)
{
	struct ostori_channel *ch = &dev->channels[i];
	struct ostori_chan_req *expected = req;
	struct timespec dl;

	if (!atomic_load_explicit(&ch->owned, memory_order_acquire))
		return OSTOR_ERROR_NOT_FOUND;
	atomic_store_explicit(&req->done, 0, memory_order_relaxed);
	atomic_store_explicit(&ch->req, req, memory_order_release);
	/* An owner blocked in ostor_handle_events looks at once. */
	ostori_kick_loop(dev->ctx);
	clock_gettime(CLOCK_REALTIME, &dl);
	dl.tv_sec += timeout_ms / 1000;
	dl.tv_nsec += (long)(timeout_ms % 1000) * 1000000L;
	if (dl.tv_nsec >= 1000000000L) {
		dl.tv_sec++;
		dl.tv_nsec -= 1000000000L;
	}
	pthread_mutex_lock(&dev->manage_wait);
	while (!atomic_load_explicit(&req->done, memory_order_acquire))
		if (pthread_cond_timedwait(&dev->manage_cond, &dev->manage_wait, &dl) == ETIMEDOUT)
			break;
	pthread_mutex_unlock(&dev->manage_wait);
	if (atomic_load_explicit(&req->done, memory_order_acquire))
		return 0;
	/* Not taken yet: take it back (the owner then never sees it). */
	if (atomic_compare_exchange_strong(&ch->req, &expected, NULL))
		return OSTOR_ERROR_TIMEOUT;
	/* Taken: the answer is moments away. */
	pthread_mutex_lock(&dev->manage_wait);
	while (!atomic_load_explicit(&req->done, memory_order_acquire))
		pthread_cond_wait(&dev->manage_cond, &dev->manage_wait);
	pthread_mutex_unlock(&dev->manage_wait);
	return 0;
}

/* Poll the backend for the owner's queue, then dispatch. */
static int poll_channel(struct ostori_channel *ch, int *backend_error)
{
	ostor_device *dev = ch->dev;

	if (OSTOR_UNLIKELY(atomic_load_explicit(&ch->cancels, memory_order_acquire)))
		owner_cancels(ch);
	if (OSTOR_UNLIKELY(atomic_load_explicit(&ch->req, memory_order_relaxed) != NULL))
		owner_request(ch);
	if (dev->backend->queue_poll) {
		int r = dev->backend->queue_poll(dev);

		if (r < 0 && backend_error)
			*backend_error = r;
	}
	return dispatch(ch);
}

int ostori_channels_dispatch_mine(ostor_context *ctx)
{
	int n = 0;

	for (unsigned int i = 0; i < tls_nchan; i++) {
		struct ostori_channel *ch = tls_chan[i];

		if (ch->dev->ctx != ctx)
			continue;
		if (OSTOR_UNLIKELY(atomic_load_explicit(&ch->cancels, memory_order_acquire)))
			owner_cancels(ch);
		n += dispatch(ch);
	}
	return n;
}

bool ostori_channels_ready_mine(const ostor_context *ctx)
{
	for (unsigned int i = 0; i < tls_nchan; i++)
		if (tls_chan[i]->dev->ctx == ctx &&
		    (tls_chan[i]->done_head || atomic_load_explicit(&tls_chan[i]->remote, memory_order_relaxed) ||
		     atomic_load_explicit(&tls_chan[i]->bcache_resume, memory_order_relaxed)))
			return true;
	return false;
}

bool ostori_channel_is_mine(const struct ostori_channel *ch)
{
	return atomic_load_explicit(&ch->owner, memory_order_relaxed) == &ostori_tls;
}

bool ostori_channel_want_resume(struct ostori_channel *ch)
{
	return !atomic_exchange_explicit(&ch->bcache_resume, true, memory_order_release);
}

int ostori_channel_park(struct ostori_channel *ch, ostor_task *t)
{
	return ostori_waitq_park(ch->dev, &ch->waitq, t);
}

unsigned int ostori_channels_inflight(ostor_context *ctx)
{
	unsigned int n = 0;

	for (ostor_device *d = ctx->devices; d; d = d->next)
		n += ostori_device_channels_inflight(d);
	return n;
}

int ostori_wait_step(ostor_context *ctx, int timeout_ms)
{
	bool owner = false;
	int n = 0;

	for (unsigned int i = 0; i < tls_nchan; i++) {
		if (tls_chan[i]->dev->ctx != ctx)
			continue;
		owner = true;
		n += poll_channel(tls_chan[i], NULL);
	}
	if (n)
		return n;
	if (!owner)
		return ostor_handle_events(ctx, timeout_ms);
	/* An owner never waits for another thread's event handling: its
	 * completions only come from its own polling. */
	if (pthread_mutex_trylock(&ctx->event_lock) == 0) {
		n = ostori_handle_events_locked(ctx, timeout_ms);
		pthread_mutex_unlock(&ctx->event_lock);
		return n;
	}
	sched_yield();
	return 0;
}

/* ---- acquire and release (public) ------------------------------------------ */

static void release_slot(unsigned int slot)
{
	struct ostori_channel *ch = tls_chan[slot];
	ostor_device *dev = ch->dev;

	if (dev->backend->queue_release)
		dev->backend->queue_release(dev);
	--tls_nchan;
	tls_chan[slot] = tls_chan[tls_nchan];
	ostori_tls.chan_dev[slot] = ostori_tls.chan_dev[tls_nchan];
	tls_chan[tls_nchan] = NULL;
	ostori_tls.chan_dev[tls_nchan] = NULL;
	atomic_store_explicit(&ch->owner, NULL, memory_order_relaxed);
	pthread_mutex_lock(&dev->lock);
	atomic_store_explicit(&ch->owned, 0, memory_order_release);
	pthread_mutex_unlock(&dev->lock);
}

/* Reap until nothing of ch is in flight, then let it go. */
static void drain_and_release(struct ostori_channel *ch)
{
	ostor_context *ctx = ch->dev->ctx;

	if (ostori_callback_ctx == ctx) {
		ostor_err(ctx, "ostor_queue_release called from inside a completion callback: it would wait "
			  "for its own queue; release it after the callback returns");
		return;
	}
	while (atomic_load_explicit(&ch->inflight, memory_order_relaxed) || ch->done_head ||
	       atomic_load_explicit(&ch->remote, memory_order_relaxed))
		if (ostori_wait_step(ctx, 10) == 0)
			sched_yield();
	/* Its recycled block requests go to the device's list. */
	ostori_block_reqs_give_back(ch->dev, ch->block_reqs);
	ch->block_reqs = NULL;
	for (unsigned int i = 0; i < tls_nchan; i++)
		if (tls_chan[i] == ch) {
			release_slot(i);
			break;
		}
}

/* A thread that exits holding queues gives them back (after its tasks). */
static void thread_exit(void *unused)
{
	(void)unused;
	while (tls_nchan)
		drain_and_release(tls_chan[tls_nchan - 1]);
}

static void exit_key_init(void)
{
	pthread_key_create(&exit_key, thread_exit);
}

static int check_device(ostor_device *dev, const char *fn)
{
	if (!dev)
		return ostori_error(OSTOR_ERROR_INVALID_PARAM, "%s: NULL device", fn);
	return 0;
}

OSTOR_API int ostor_queue_count(ostor_device *dev)
{
	int r = check_device(dev, __func__);

	return r ? r : (int)dev->nchannels;
}

OSTOR_API int ostor_queue_acquire(ostor_device *dev, int index)
{
	struct ostori_channel *mine;
	int r;

	if ((r = check_device(dev, __func__)))
		return r;
	if (index < -1 || (index >= 0 && (unsigned int)index >= dev->nchannels))
		return ostori_error(OSTOR_ERROR_INVALID_PARAM,
				    "queue %d does not exist: %s has %u (0 to %u, or -1 for any free one)",
				    index, dev->spec, dev->nchannels, dev->nchannels - 1);
	mine = ostori_my_channel(dev);
	if (mine) {
		if (index < 0 || mine->index == (unsigned int)index)
			return (int)mine->index;
		ostor_queue_release(dev);
	}
	if (tls_nchan == TLS_CHANNELS)
		return ostori_error(OSTOR_ERROR_BUSY, "this thread already holds queues of %d devices; "
				    "release one first", TLS_CHANNELS);
	pthread_once(&exit_once, exit_key_init);
	pthread_mutex_lock(&dev->lock);
	if (dev->closing) {
		pthread_mutex_unlock(&dev->lock);
		return ostori_error(OSTOR_ERROR_STATE, "device %s is being closed", dev->spec);
	}
	for (unsigned int i = 0; i < dev->nchannels; i++) {
		unsigned int k = index < 0 ? i : (unsigned int)index;
		struct ostori_channel *ch = &dev->channels[k];

		if (!atomic_load_explicit(&ch->owned, memory_order_relaxed)) {
			atomic_store_explicit(&ch->owned, 1, memory_order_relaxed);
			pthread_mutex_unlock(&dev->lock);
			if (dev->backend->queue_acquire && (r = dev->backend->queue_acquire(dev, k)) < 0) {
				pthread_mutex_lock(&dev->lock);
				atomic_store_explicit(&ch->owned, 0, memory_order_relaxed);
				pthread_mutex_unlock(&dev->lock);
				return r;
			}
			ostori_tls.chan_dev[tls_nchan] = dev;
			tls_chan[tls_nchan++] = ch;
			atomic_store_explicit(&ch->owner, &ostori_tls, memory_order_relaxed);
			pthread_setspecific(exit_key, (void *)1);
			return (int)k;
		}
		if (index >= 0)
			break;
	}
	pthread_mutex_unlock(&dev->lock);
	if (index >= 0)
		return ostori_error(OSTOR_ERROR_BUSY, "queue %d of %s is held by another thread", index,
				    dev->spec);
	return ostori_error(OSTOR_ERROR_BUSY, "every one of the %u queues of %s is held by another thread",
			    dev->nchannels, dev->spec);
}

OSTOR_API void ostor_queue_release(ostor_device *dev)
{
	struct ostori_channel *ch;

	if (!dev || !(ch = ostori_my_channel(dev)))
		return;
	drain_and_release(ch);
}

OSTOR_API int ostor_queue_poll(ostor_device *dev)
{
	struct ostori_channel *ch;
	int err = 0, n;

	if (!dev)
		return ostori_error(OSTOR_ERROR_INVALID_PARAM, "ostor_queue_poll: NULL device");
	ch = ostori_my_channel(dev);
	if (OSTOR_UNLIKELY(!ch))
		return ostori_error(OSTOR_ERROR_STATE, "ostor_queue_poll: this thread holds no queue of %s; "
				    "ostor_queue_acquire() one first", dev->spec);
	if (OSTOR_UNLIKELY(ostori_callback_ctx == dev->ctx))
		return ostori_refuse_in_callback(dev->ctx, "ostor_queue_poll");
	n = poll_channel(ch, &err);
	return n ? n : err;
}

int ostori_channels_close(ostor_device *dev)
{
	struct ostori_channel *mine = ostori_my_channel(dev);

	pthread_mutex_lock(&dev->lock);
	for (unsigned int i = 0; i < dev->nchannels; i++) {
		if (&dev->channels[i] == mine || !atomic_load_explicit(&dev->channels[i].owned,
								       memory_order_relaxed))
			continue;
		pthread_mutex_unlock(&dev->lock);
		return ostori_error(OSTOR_ERROR_BUSY, "ostor_close: queue %u of %s is held by another thread; "
				    "it must ostor_queue_release() it first", i, dev->spec);
	}
	/* In the same section: no thread acquires a queue from now on. */
	dev->closing = true;
	pthread_mutex_unlock(&dev->lock);
	if (mine) {
		for (ostor_task *t = mine->inflight_head; t; t = t->inflight_next)
			if (ostori_task_state(t) == OSTORI_TASK_INFLIGHT)
				ostori_channel_cancel(t, mine);
		drain_and_release(mine);
	}
	return 0;
}
