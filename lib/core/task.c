/*
 * lib/core/task.c - tasks and completion delivery.
 *
 * Async first: a backend completes a task from any thread through
 * ostori_task_complete(), which only queues it; callbacks run inside
 * ostor_handle_events*() so the caller's code never re-enters from a
 * submit or from a backend thread.  The sync API (ostor_task_execute)
 * submits and drives the event loop until its task is done.
 */
#include "core/backend.h"

#include <errno.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

OSTOR_API const char *ostor_result_name(int result)
{
	switch (result) {
	case OSTOR_RESULT_PENDING: return "pending";
	case OSTOR_RESULT_GOOD: return "good";
	case OSTOR_RESULT_CHECK_CONDITION: return "check-condition";
	case OSTOR_RESULT_BUSY: return "busy";
	case OSTOR_RESULT_RESERVATION_CONFLICT: return "reservation-conflict";
	case OSTOR_RESULT_TRANSPORT_ERROR: return "transport-error";
	case OSTOR_RESULT_TIMEOUT: return "timeout";
	case OSTOR_RESULT_ABORTED: return "aborted";
	case OSTOR_RESULT_DEVICE_GONE: return "device-gone";
	case OSTOR_RESULT_OTHER_STATUS: return "other-status";
	case OSTOR_RESULT_OVERRUN: return "overrun";
	default: return "unknown";
	}
}

/* dev->lock held. */
static void unlink_inflight(ostor_device *dev, ostor_task *t)
{
	if (t->inflight_prev)
		t->inflight_prev->inflight_next = t->inflight_next;
	else if (dev->inflight_head == t)
		dev->inflight_head = t->inflight_next;
	if (t->inflight_next)
		t->inflight_next->inflight_prev = t->inflight_prev;
	t->inflight_prev = t->inflight_next = NULL;
}

/* ostor_close: ask the backend to cancel every task still in flight.  The
 * list is walked under dev->lock, which also keeps each task from being
 * dispatched (and freed by its callback) meanwhile. */
void ostori_device_cancel_all(ostor_device *dev)
{
	ostor_task *t;

	/* Waiting ones never reached the device: they end aborted. */
	pthread_mutex_lock(&dev->lock);
	while ((t = ostori_waitq_pop(&dev->waitq)) != NULL) {
		atomic_store(&t->cancel_requested, true);
		pthread_mutex_unlock(&dev->lock);
		ostori_task_finish(t, OSTOR_RESULT_ABORTED, -1, NULL, 0, 0);
		pthread_mutex_lock(&dev->lock);
	}
	for (t = dev->inflight_head; t; t = t->inflight_next) {
		if (ostori_task_state(t) != OSTORI_TASK_INFLIGHT || ostori_task_cancelled(t))
			continue;
		atomic_store(&t->cancel_requested, true);
		ostori_backend_cancel(t);
	}
	pthread_mutex_unlock(&dev->lock);
}

static void clear_results(ostor_task *t)
{
	t->from_cache = false;
	t->result = OSTOR_RESULT_PENDING;
	t->status = -1;
	t->sense_len = 0;
	t->transferred = 0;
	atomic_store_explicit(&t->cancel_requested, false, memory_order_relaxed);
}

OSTOR_API int ostor_task_new(ostor_device *dev, ostor_task **out)
{
	ostor_task *t;
	size_t priv = 0;

	if (out)
		*out = NULL;
	if (!dev || !out)
		return ostori_error(OSTOR_ERROR_INVALID_PARAM, "ostor_task_new: NULL argument");
	priv = dev->backend->task_priv_size;
	/* Backend data sits after the task, aligned for any type. */
	t = aligned_alloc(64, (sizeof(*t) + priv + 63) & ~(size_t)63);
	if (!t)
		return ostori_error(OSTOR_ERROR_NO_MEM, "out of memory allocating a task");
	memset(t, 0, sizeof(*t) + priv);
	t->dev = dev;
	t->priv = priv ? (void *)(t + 1) : NULL;
	clear_results(t);
	*out = t;
	return 0;
}

OSTOR_API int ostor_task_free(ostor_task *t)
{
	if (!t)
		return 0;
	if (ostori_task_state(t) == OSTORI_TASK_INFLIGHT)
		return ostori_error(OSTOR_ERROR_STATE,
				    "ostor_task_free: the task is still in flight; wait for its completion "
				    "(or cancel it) first");
	free(t);
	return 0;
}

static int __attribute__((noinline)) not_idle(ostor_task *t, const char *fn)
{
	if (!t)
		return ostori_error(OSTOR_ERROR_INVALID_PARAM, "%s: NULL task", fn);
	return ostori_error(OSTOR_ERROR_STATE, "%s: the task is in flight", fn);
}

/* Inlined into every setter: they run once per command. */
static inline int check_idle(ostor_task *t, const char *fn)
{
	if (OSTOR_UNLIKELY(!t || ostori_task_state(t) == OSTORI_TASK_INFLIGHT))
		return not_idle(t, fn);
	return 0;
}

OSTOR_API int ostor_task_reset(ostor_task *t)
{
	int r = check_idle(t, __func__);

	if (r)
		return r;
	t->cdb_len = 0;
	t->dir = OSTOR_DIR_NONE;
	t->iovcnt = 0;
	t->data_len = 0;
	t->timeout_ms = 0;
	ostori_task_set_state(t, OSTORI_TASK_IDLE);
	clear_results(t);
	return 0;
}

OSTOR_API int ostor_task_set_lun(ostor_task *t, uint32_t target, uint32_t lun)
{
	int r = check_idle(t, __func__);

	if (r)
		return r;
	t->target = target;
	t->lun = lun;
	return 0;
}

OSTOR_API int ostor_task_set_cdb(ostor_task *t, const uint8_t *cdb, size_t len)
{
	int r = check_idle(t, __func__);

	if (r)
		return r;
	if (!cdb || len == 0 || len > OSTOR_CDB_MAX)
		return ostori_error(OSTOR_ERROR_INVALID_PARAM,
				    "ostor_task_set_cdb: a CDB is 1 to %d bytes (got %zu%s)",
				    OSTOR_CDB_MAX, len, cdb ? "" : ", NULL pointer");
	/* The common sizes as fixed copies (no memcpy call per command). */
	if (len == 16)
		memcpy(t->cdb, cdb, 16);
	else if (len == 10)
		memcpy(t->cdb, cdb, 10);
	else
		memcpy(t->cdb, cdb, len);
	t->cdb_len = (uint8_t)len;
	return 0;
}

OSTOR_API int ostor_task_set_iov(ostor_task *t, enum ostor_dir dir,
				 const struct iovec *iov, int iovcnt)
{
	size_t total = 0;
	int r = check_idle(t, __func__);

	if (r)
		return r;
	if (dir != OSTOR_DIR_NONE && dir != OSTOR_DIR_FROM_DEVICE && dir != OSTOR_DIR_TO_DEVICE)
		return ostori_error(OSTOR_ERROR_INVALID_PARAM, "invalid data direction %d", (int)dir);
	if (iovcnt < 0 || iovcnt > OSTOR_IOV_MAX || (iovcnt && !iov))
		return ostori_error(OSTOR_ERROR_INVALID_PARAM,
				    "a task takes 0 to %d iovec entries (got %d)", OSTOR_IOV_MAX, iovcnt);
	for (int i = 0; i < iovcnt; i++) {
		if (iov[i].iov_len && !iov[i].iov_base)
			return ostori_error(OSTOR_ERROR_INVALID_PARAM, "iovec %d has a NULL base", i);
		if (total + iov[i].iov_len < total)
			return ostori_error(OSTOR_ERROR_OVERFLOW, "iovec lengths overflow");
		total += iov[i].iov_len;
	}
	if (dir == OSTOR_DIR_NONE && total)
		return ostori_error(OSTOR_ERROR_INVALID_PARAM,
				    "a buffer of %zu bytes was given with direction NONE", total);
	if (dir != OSTOR_DIR_NONE && !total)
		return ostori_error(OSTOR_ERROR_INVALID_PARAM,
				    "a data direction was given with an empty buffer; use OSTOR_DIR_NONE");
	if (iovcnt)
		memcpy(t->iov, iov, (size_t)iovcnt * sizeof(*iov));
	t->iovcnt = iovcnt;
	t->dir = dir;
	t->data_len = total;
	return 0;
}

OSTOR_API int ostor_task_set_buffer(ostor_task *t, enum ostor_dir dir, void *buf, size_t len)
{
	int r;

	/* The common case, one buffer, without the iovec walk. */
	if (OSTOR_LIKELY(t && buf && len && (dir == OSTOR_DIR_FROM_DEVICE || dir == OSTOR_DIR_TO_DEVICE))) {
		if ((r = check_idle(t, __func__)))
			return r;
		t->iov[0].iov_base = buf;
		t->iov[0].iov_len = len;
		t->iovcnt = 1;
		t->dir = dir;
		t->data_len = len;
		return 0;
	}
	if (dir == OSTOR_DIR_NONE && len == 0)
		return ostor_task_set_iov(t, dir, NULL, 0);
	if (!buf && len)
		return ostori_error(OSTOR_ERROR_INVALID_PARAM, "ostor_task_set_buffer: NULL buffer of %zu bytes", len);
	{
		struct iovec iov = { .iov_base = buf, .iov_len = len };

		return ostor_task_set_iov(t, dir, &iov, len ? 1 : 0);
	}
}

/* Everything but the common case, one setter at a time (their checks and
 * messages). */
static int __attribute__((noinline)) prepare_each(ostor_task *t, uint32_t target, uint32_t lun,
						  const uint8_t *cdb, size_t cdb_len, enum ostor_dir dir,
						  void *buf, size_t len)
{
	int r;

	if ((r = ostor_task_reset(t)) || (r = ostor_task_set_lun(t, target, lun)) ||
	    (r = ostor_task_set_cdb(t, cdb, cdb_len)) || (r = ostor_task_set_buffer(t, dir, buf, len)))
		return r;
	return 0;
}

OSTOR_API int ostor_task_prepare(ostor_task *t, uint32_t target, uint32_t lun,
				 const uint8_t *cdb, size_t cdb_len, enum ostor_dir dir,
				 void *buf, size_t len)
{
	/* The common case: an idle task, a 10- or 16-byte CDB, one buffer. */
	if (OSTOR_LIKELY(t && cdb && (cdb_len == 16 || cdb_len == 10) && buf && len &&
			 (dir == OSTOR_DIR_FROM_DEVICE || dir == OSTOR_DIR_TO_DEVICE) &&
			 ostori_task_state(t) != OSTORI_TASK_INFLIGHT)) {
		if (cdb_len == 16)
			memcpy(t->cdb, cdb, 16);
		else
			memcpy(t->cdb, cdb, 10);
		t->cdb_len = (uint8_t)cdb_len;
		t->target = target;
		t->lun = lun;
		t->iov[0].iov_base = buf;
		t->iov[0].iov_len = len;
		t->iovcnt = 1;
		t->dir = dir;
		t->data_len = len;
		t->timeout_ms = 0;
		ostori_task_set_state(t, OSTORI_TASK_IDLE);
		return 0;
	}
	return prepare_each(t, target, lun, cdb, cdb_len, dir, buf, len);
}

OSTOR_API int ostor_task_set_timeout(ostor_task *t, unsigned int timeout_ms)
{
	int r = check_idle(t, __func__);

	if (r)
		return r;
	t->timeout_ms = timeout_ms;
	return 0;
}

static inline void submit_begin(ostor_task *t, const struct ostor_completion *c)
{
	clear_results(t);
	t->completion = *c;
	t->submit_tick = atomic_load_explicit(&t->dev->hist_on, memory_order_relaxed) ? ostori_ticks() : 0;
	t->tag = 0;
	if (!t->timeout_ms)
		t->timeout_ms = t->dev->default_timeout_ms ? t->dev->default_timeout_ms
							   : t->dev->ctx->default_timeout_ms;
}

static int __attribute__((noinline)) submit_shared(ostor_task *t, struct ostor_completion c);

/* A submission that failed: the completion is not called, its free is. */
static int __attribute__((noinline)) submit_failed(ostor_task *t, struct ostor_completion c, int r)
{
	t->completion.callback = NULL;
	t->completion.free = NULL;
	if (c.free)
		c.free(c.user_data);
	return r;
}

OSTOR_API int ostor_task_submit(ostor_task *t, struct ostor_completion c)
{
	struct ostori_channel *ch;
	int r;

	/* The fast path: a queue this thread owns, no lock at all (a device
	 * is not closed while others hold its queues). */
	if (OSTOR_LIKELY(t && t->cdb_len && ostori_task_state(t) != OSTORI_TASK_INFLIGHT &&
			 t->target <= t->dev->max_target && (ch = ostori_my_channel(t->dev)) != NULL)) {
		submit_begin(t, &c);
		r = ostori_channel_submit(ch, t);
		if (OSTOR_UNLIKELY(r < 0))
			return submit_failed(t, c, r);
		return 0;
	}
	return submit_shared(t, c);
}

/* Threads that own no queue of the device: under dev->lock. */
static int submit_shared(ostor_task *t, struct ostor_completion c)
{
	ostor_device *dev;
	ostor_context *ctx;
	int r = check_idle(t, "ostor_task_submit");

	if (r)
		goto fail;
	dev = t->dev;
	ctx = dev->ctx;
	if (!t->cdb_len) {
		r = ostori_error(OSTOR_ERROR_INVALID_PARAM, "ostor_task_submit: no CDB set");
		goto fail;
	}
	/* An address the device does not have never reaches it. */
	if (t->target > dev->max_target) {
		r = ostori_error(OSTOR_ERROR_NOT_FOUND, "no target %u on %s: its targets are 0 to %u",
				 t->target, dev->spec, dev->max_target);
		goto fail;
	}
	submit_begin(t, &c);

	pthread_mutex_lock(&dev->lock);
	if (dev->closing) {
		pthread_mutex_unlock(&dev->lock);
		r = ostori_error(OSTOR_ERROR_STATE, "device %s is being closed", dev->spec);
		goto fail;
	}
	__atomic_store_n(&t->chan, NULL, __ATOMIC_RELAXED);
	__atomic_store_n(&dev->inflight, dev->inflight + 1, __ATOMIC_RELAXED);
	ostori_stats_depth(&dev->shared_stats, dev->inflight);
	t->inflight_prev = NULL;
	t->inflight_next = dev->inflight_head;
	if (dev->inflight_head)
		dev->inflight_head->inflight_prev = t;
	dev->inflight_head = t;
	/* In flight exactly while linked, both under dev->lock: what
	 * ostor_task_cancel validates against. */
	ostori_task_set_state(t, OSTORI_TASK_INFLIGHT);
	atomic_fetch_add_explicit(&ctx->inflight, 1, memory_order_relaxed);
	/* Behind tasks already waiting for room, or a flush: no overtaking. */
	if (OSTOR_UNLIKELY(dev->waitq.n || dev->paused)) {
		r = ostori_waitq_park(dev, &dev->waitq, t);
		pthread_mutex_unlock(&dev->lock);
		if (r < 0)
			goto undo;
		return 0;
	}
	pthread_mutex_unlock(&dev->lock);

	r = ostori_backend_submit(t);
	if (OSTOR_UNLIKELY(r == OSTORI_SUBMIT_FULL)) {
		pthread_mutex_lock(&dev->lock);
		r = ostori_waitq_park(dev, &dev->waitq, t);
		pthread_mutex_unlock(&dev->lock);
		if (r < 0)
			goto undo;
		/* Room freed between the refusal and the parking would wake
		 * nobody: look once more (still full: a completion to come
		 * will run the list). */
		ostori_device_waitq_run(dev);
		return 0;
	}
	if (r < 0)
		goto undo;
	return 0;
undo:
	atomic_fetch_sub_explicit(&ctx->inflight, 1, memory_order_relaxed);
	pthread_mutex_lock(&dev->lock);
	__atomic_store_n(&dev->inflight, dev->inflight - 1, __ATOMIC_RELAXED);
	unlink_inflight(dev, t);
	ostori_task_set_state(t, OSTORI_TASK_IDLE);
	pthread_mutex_unlock(&dev->lock);
	t->completion.callback = NULL;
	goto fail;
fail:
	if (c.free)
		c.free(c.user_data);
	return r;
}

OSTOR_API int ostor_task_cancel(ostor_task *t)
{
	struct ostori_channel *ch;
	ostor_device *dev;
	int r = 0;

	if (!t)
		return ostori_error(OSTOR_ERROR_INVALID_PARAM, "ostor_task_cancel: NULL task");
	/* A task on an owned queue: only its owner completes it. */
	ch = __atomic_load_n(&t->chan, __ATOMIC_RELAXED);
	if (ch)
		return ostori_channel_cancel(t, ch);
	dev = t->dev;
	/* Checked and acted on under dev->lock: the task cannot complete
	 * (be unlinked, its callback run, the task freed) in between. */
	pthread_mutex_lock(&dev->lock);
	if (ostori_task_state(t) != OSTORI_TASK_INFLIGHT) {
		pthread_mutex_unlock(&dev->lock);
		return ostori_error(OSTOR_ERROR_STATE, "ostor_task_cancel: the task is not in flight "
				    "(it completed, or was never submitted)");
	}
	if (!ostori_task_cancelled(t)) {
		atomic_store(&t->cancel_requested, true);
		if (t->waiting && ostori_waitq_remove(&dev->waitq, t)) {
			/* Never reached the device: ends here. */
			pthread_mutex_unlock(&dev->lock);
			ostori_task_finish(t, OSTOR_RESULT_ABORTED, -1, NULL, 0, 0);
			return 0;
		}
		r = ostori_backend_cancel(t);
	}
	pthread_mutex_unlock(&dev->lock);
	return r;
}

/* The context whose events this thread is handling right now: its
 * completions are dispatched before the handler returns, so they need no
 * wake-up (two system calls saved per command). */
static _Thread_local ostor_context *handling_ctx;
/* The task a synchronous call on this thread is submitting (delivered
 * inline if it completes before submit returns), only while that submit
 * runs (ostori_sync_submit); and the one that did, until settled. */
static _Thread_local ostor_task *tls_sync_task, *tls_sync_done;

int ostori_refuse_in_callback(ostor_context *ctx, const char *fn)
{
	if (OSTOR_LIKELY(ostori_callback_ctx != ctx))
		return 0;
	return ostori_error(OSTOR_ERROR_STATE, "%s called from inside a completion callback of the same "
			    "context: it would wait for events that only this callback's return lets "
			    "happen; submit asynchronously (ostor_task_submit) or call it after the "
			    "callback returns", fn);
}

/* Threads waiting for another thread's event handling (their sync call
 * may be done): only when there are any, which a waiter re-checks after
 * announcing itself (wait_for_other_handler). */
static void wake_waiters(ostor_context *ctx)
{
	if (!atomic_load(&ctx->event_waiters))
		return;
	pthread_mutex_lock(&ctx->event_wait_lock);
	ctx->event_generation++;
	pthread_cond_broadcast(&ctx->event_cond);
	pthread_mutex_unlock(&ctx->event_wait_lock);
}

/* ctx->lock held: signal the wake fd unless it is pending already. */
static bool need_wake_locked(ostor_context *ctx)
{
	if (ctx->wake_pending || (!ctx->done_head && !ostori_events_pending(ctx)))
		return false;
	ctx->wake_pending = true;
	return true;
}

static void wake(ostor_context *ctx)
{
	uint64_t one = 1;
	ssize_t n = write(ctx->wake_fd, &one, sizeof(one));

	(void)n;
	atomic_fetch_add_explicit(&ctx->wake_writes, 1, memory_order_relaxed);
}

void ostori_kick_loop(ostor_context *ctx)
{
	bool need;

	pthread_mutex_lock(&ctx->lock);
	need = !ctx->wake_pending;
	ctx->wake_pending = true; /* the next pass drains the eventfd */
	pthread_mutex_unlock(&ctx->lock);
	if (need)
		wake(ctx);
}

void ostori_wake_loop(ostor_context *ctx)
{
	bool need;

	if (handling_ctx == ctx)
		return; /* the handler looks before it returns */
	pthread_mutex_lock(&ctx->lock);
	need = need_wake_locked(ctx);
	pthread_mutex_unlock(&ctx->lock);
	if (need)
		wake(ctx);
	wake_waiters(ctx);
}

void ostori_task_complete(ostor_task *t)
{
	ostor_context *ctx = t->dev->ctx;
	bool need_wake = false;

	if (t->sense_len > OSTOR_SENSE_MAX)
		t->sense_len = OSTOR_SENSE_MAX;
	if (t->transferred > t->data_len)
		t->transferred = t->data_len;
	if (OSTOR_UNLIKELY(t->dev->cmd_cache != NULL) && !t->from_cache)
		ostori_cmdcache_note(t);
	if (OSTOR_UNLIKELY(t->dev->bcache != NULL))
		ostori_bcache_complete(t);
	if (OSTOR_LIKELY(t->chan != NULL)) {
		ostori_channel_complete(t);
		return;
	}
	/* A synchronous caller's own task, completed inside its submit: it
	 * is delivered right here, with no queue, wake-up or system call. */
	if (t == tls_sync_task && !tls_sync_done) {
		tls_sync_done = t; /* delivered once submit returns, outside backend locks */
		return;
	}
	pthread_mutex_lock(&ctx->lock);
	t->next_done = NULL;
	if (ctx->done_tail)
		ctx->done_tail->next_done = t;
	else
		ctx->done_head = t;
	ctx->done_tail = t;
	/* One wake-up per batch, and none from inside the handler. */
	if (handling_ctx != ctx)
		need_wake = need_wake_locked(ctx);
	pthread_mutex_unlock(&ctx->lock);
	if (need_wake)
		wake(ctx);
	/* Inside the handler its pass ends with the broadcast anyway. */
	if (handling_ctx != ctx)
		wake_waiters(ctx);
}


void ostori_task_deliver(ostor_context *ctx, ostor_task *t)
{
	ostor_device *dev = t->dev;
	struct ostor_completion c = t->completion;
	uint64_t now;
	bool waiting;

	t->next_done = NULL;
	t->completion.callback = NULL;
	t->completion.free = NULL;
	atomic_fetch_sub_explicit(&ctx->inflight, 1, memory_order_relaxed);
	ostori_abort_watch_note(ctx, t);
	/* DONE before the callback (it may reuse or free the task), with the
	 * unlinking: cancel then sees either state. */
	now = atomic_load_explicit(&dev->hist_on, memory_order_relaxed) ? ostori_ticks() : 0;
	pthread_mutex_lock(&dev->lock);
	/* The shared path's statistics have one writer: whoever holds the
	 * lock. */
	if (now)
		ostori_stats_batch(&dev->shared_stats, now);
	ostori_stats_complete(dev, &dev->shared_stats, t, now);
	__atomic_store_n(&dev->inflight, dev->inflight - 1, __ATOMIC_RELAXED);
	if (now)
		ostori_stats_batch_end(&dev->shared_stats, dev->inflight);
	unlink_inflight(dev, t);
	ostori_task_set_state(t, OSTORI_TASK_DONE);
	waiting = dev->waitq.n != 0;
	/* A task off the list right now is tried again (queueing.c). */
	if (OSTOR_UNLIKELY(dev->waitq_taken))
		dev->waitq_room = true;
	pthread_mutex_unlock(&dev->lock);
	/* Room was freed: tasks waiting for it go now. */
	if (OSTOR_UNLIKELY(waiting))
		ostori_device_waitq_run(dev);
	ostori_run_completion(ctx, t, c);
}

/* Run the callbacks of every completed task.  Called with event_lock. */
static int dispatch_completions(ostor_context *ctx)
{
	ostor_task *list;
	uint64_t v;
	int n = 0;
	ssize_t rd;

	pthread_mutex_lock(&ctx->lock);
	list = ctx->done_head;
	ctx->done_head = ctx->done_tail = NULL;
	if (ctx->wake_pending) {
		rd = read(ctx->wake_fd, &v, sizeof(v));
		(void)rd;
		ctx->wake_pending = false;
	}
	pthread_mutex_unlock(&ctx->lock);

	while (list) {
		ostor_task *t = list;

		list = t->next_done;
		ostori_task_deliver(ctx, t);
		n++;
	}
	return n;
}

OSTOR_API int ostor_get_pollfds(ostor_context *ctx, struct pollfd *fds, int max)
{
	int n = 0;

	if (!ctx || max < 0 || (max && !fds))
		return ostori_error(OSTOR_ERROR_INVALID_PARAM, "ostor_get_pollfds: bad argument");
	if (n < max) {
		fds[n].fd = ctx->wake_fd;
		fds[n].events = POLLIN;
		fds[n].revents = 0;
	}
	n++;
	for (int i = 0; ostori_backends[i]; i++) {
		int r;

		if (!ostori_backends[i]->get_pollfds)
			continue;
		r = ostori_backends[i]->get_pollfds(ctx, n < max ? fds + n : NULL,
						    n < max ? max - n : 0);
		if (r < 0)
			return r;
		n += r;
	}
	return n;
}

OSTOR_API int ostor_next_timeout(ostor_context *ctx)
{
	int best = -1;

	if (!ctx)
		return -1;
	/* The caller's own queues first: their completions need no wait. */
	if (ostori_channels_ready_mine(ctx))
		return 0;
	pthread_mutex_lock(&ctx->lock);
	if (ctx->done_head || ostori_events_pending(ctx))
		best = 0;
	pthread_mutex_unlock(&ctx->lock);
	for (int i = 0; ostori_backends[i] && best != 0; i++) {
		int t;

		if (!ostori_backends[i]->next_timeout)
			continue;
		t = ostori_backends[i]->next_timeout(ctx);
		if (t >= 0 && (best < 0 || t < best))
			best = t;
	}
	return best;
}

static void run_backends(ostor_context *ctx)
{
	for (int i = 0; ostori_backends[i]; i++)
		if (ostori_backends[i]->handle_events)
			ostori_backends[i]->handle_events(ctx);
}

/* Called with event_lock: let the backends work, then run callbacks. */
static int process_events(ostor_context *ctx)
{
	bool need_wake;
	int n;

	handling_ctx = ctx;
	run_backends(ctx);
	n = dispatch_completions(ctx);
	n += ostori_channels_dispatch_mine(ctx);
	n += ostori_dispatch_events(ctx);
	handling_ctx = NULL;
	/* Completions made by callbacks (a resubmitted task) wait for the
	 * next pass: make sure an outside loop wakes up for them. */
	pthread_mutex_lock(&ctx->lock);
	need_wake = need_wake_locked(ctx);
	pthread_mutex_unlock(&ctx->lock);
	if (need_wake)
		wake(ctx);
	return n;
}

OSTOR_API int ostor_handle_events_nonblock(ostor_context *ctx)
{
	int n;

	if (!ctx)
		return ostori_error(OSTOR_ERROR_INVALID_PARAM, "ostor_handle_events_nonblock: NULL context");
	if ((n = ostori_refuse_in_callback(ctx, "ostor_handle_events_nonblock")))
		return n;
	if (pthread_mutex_trylock(&ctx->event_lock))
		return 0; /* another thread is handling events right now */
	n = process_events(ctx);
	pthread_mutex_unlock(&ctx->event_lock);
	if (n)
		wake_waiters(ctx);
	return n;
}

static void wait_for_other_handler(ostor_context *ctx, int timeout_ms)
{
	struct timespec ts;
	uint64_t gen;

	clock_gettime(CLOCK_REALTIME, &ts);
	if (timeout_ms < 0 || timeout_ms > 100)
		timeout_ms = 100; /* re-check periodically: the handler may leave */
	ts.tv_nsec += (long)timeout_ms * 1000000L;
	ts.tv_sec += ts.tv_nsec / 1000000000L;
	ts.tv_nsec %= 1000000000L;
	pthread_mutex_lock(&ctx->event_wait_lock);
	gen = ctx->event_generation;
	atomic_fetch_add(&ctx->event_waiters, 1);
	/* Announced: a handler that leaves from now on broadcasts.  One that
	 * left before may have seen no waiter - then its lock is free. */
	if (pthread_mutex_trylock(&ctx->event_lock) == 0) {
		pthread_mutex_unlock(&ctx->event_lock);
	} else {
		while (gen == ctx->event_generation)
			if (pthread_cond_timedwait(&ctx->event_cond, &ctx->event_wait_lock, &ts))
				break;
	}
	atomic_fetch_sub(&ctx->event_waiters, 1);
	pthread_mutex_unlock(&ctx->event_wait_lock);
}

#define POLLFDS_STACK 16

int ostori_handle_events_locked(ostor_context *ctx, int timeout_ms)
{
	struct pollfd stack_fds[POLLFDS_STACK];
	struct pollfd *fds = stack_fds;
	int nfds, next;

	next = ostor_next_timeout(ctx);
	if (next >= 0 && (timeout_ms < 0 || next < timeout_ms))
		timeout_ms = next;
	/* Nothing to wait for when work is ready (done tasks, busy-polled
	 * queues): the backends look at their own descriptors without
	 * blocking, so skip the poll system call. */
	if (timeout_ms != 0) {
		nfds = ostor_get_pollfds(ctx, fds, POLLFDS_STACK);
		if (nfds > POLLFDS_STACK) {
			fds = calloc((size_t)nfds, sizeof(*fds));
			if (!fds)
				return ostori_error(OSTOR_ERROR_NO_MEM, "out of memory");
			nfds = ostor_get_pollfds(ctx, fds, nfds);
		}
		if (nfds < 0) {
			if (fds != stack_fds)
				free(fds);
			return nfds;
		}
		atomic_fetch_add_explicit(&ctx->event_polls, 1, memory_order_relaxed);
		if (poll(fds, (nfds_t)nfds, timeout_ms) < 0 && errno != EINTR) {
			int e = errno;

			if (fds != stack_fds)
				free(fds);
			return ostori_error(OSTOR_ERROR_IO, "poll failed: %s", strerror(e));
		}
		if (fds != stack_fds)
			free(fds);
	}
	return process_events(ctx);
}

OSTOR_API int ostor_handle_events(ostor_context *ctx, int timeout_ms)
{
	int n;

	if (!ctx)
		return ostori_error(OSTOR_ERROR_INVALID_PARAM, "ostor_handle_events: NULL context");
	if ((n = ostori_refuse_in_callback(ctx, "ostor_handle_events")))
		return n;
	if (pthread_mutex_trylock(&ctx->event_lock)) {
		/* This thread's own queues need no other handler. */
		if ((n = ostori_channels_dispatch_mine(ctx)) > 0)
			return n;
		wait_for_other_handler(ctx, timeout_ms);
		return 0;
	}
	n = ostori_handle_events_locked(ctx, timeout_ms);
	pthread_mutex_unlock(&ctx->event_lock);
	wake_waiters(ctx);
	return n;
}

OSTOR_API unsigned int ostor_inflight(ostor_context *ctx)
{
	unsigned int n;

	if (!ctx)
		return 0;
	pthread_mutex_lock(&ctx->lock);
	n = atomic_load(&ctx->inflight) + ostori_channels_inflight(ctx);
	pthread_mutex_unlock(&ctx->lock);
	return n;
}

/* ---- sync API on top of the async one ------------------------------ */

static void sync_done(ostor_task *t, void *user_data)
{
	/* May run on another thread that is handling events. */
	__atomic_store_n((int *)user_data, 1, __ATOMIC_RELEASE);
}

int ostori_sync_submit(ostor_task *t, struct ostor_completion c)
{
	ostor_task *outer = tls_sync_task;
	int r;

	/* Adopted for the submit only: a task still adopted after it would
	 * divert a completion this thread's poll finds later to
	 * tls_sync_done, where only this thread can deliver it - and the
	 * next adoption used to drop it (a request lost for good). */
	tls_sync_task = t;
	r = ostor_task_submit(t, c);
	tls_sync_task = outer;
	return r;
}

bool ostori_sync_settle(void)
{
	ostor_task *t = tls_sync_done;

	tls_sync_done = NULL;
	if (!t)
		return false;
	ostori_task_deliver(t->dev->ctx, t);
	return true;
}

OSTOR_API int ostor_task_execute(ostor_task *t)
{
	int done = 0;
	ostor_context *ctx;
	uint64_t deadline;
	bool cancelled = false;
	int r;

	if (!t)
		return ostori_error(OSTOR_ERROR_INVALID_PARAM, "ostor_task_execute: NULL task");
	ctx = t->dev->ctx;
	if ((r = ostori_refuse_in_callback(ctx, "a synchronous call (ostor_task_execute)")))
		return r;
	r = ostori_sync_submit(t, (struct ostor_completion){ .callback = sync_done, .user_data = &done });
	ostori_sync_settle();
	if (r < 0)
		return r;
	/* The backend enforces the timeout; this is a safety net so a
	 * broken backend cannot hang the caller forever. */
	deadline = ostori_now_ms() + t->timeout_ms + 5000;
	while (!__atomic_load_n(&done, __ATOMIC_ACQUIRE)) {
		r = ostori_wait_step(ctx, 100);
		if (r < 0 && r != OSTOR_ERROR_INTERRUPTED)
			ostor_warn(ctx, "event handling failed: %s", ostor_last_error());
		/* Busy polling (nothing completed, nothing to wait on): let
		 * the thread that will complete us run - a device model
		 * thread, or another submitter on a loaded machine. */
		if (r == 0)
			sched_yield();
		if (!__atomic_load_n(&done, __ATOMIC_ACQUIRE) && !cancelled &&
		    ostori_now_ms() > deadline) {
			ostor_err(ctx, "task on %s exceeded its timeout by 5 s without completing: cancelling",
				  t->dev->spec);
			ostor_task_cancel(t);
			cancelled = true;
		}
	}
	return 0;
}

/* ---- result accessors ---------------------------------------------- */

OSTOR_API ostor_device *ostor_task_device(const ostor_task *t)
{
	return t ? t->dev : NULL;
}

OSTOR_API enum ostor_result ostor_task_result(const ostor_task *t)
{
	if (!t || ostori_task_state(t) != OSTORI_TASK_DONE)
		return OSTOR_RESULT_PENDING;
	return t->result;
}

OSTOR_API int ostor_task_status(const ostor_task *t)
{
	return t && ostori_task_state(t) == OSTORI_TASK_DONE ? t->status : -1;
}

OSTOR_API const uint8_t *ostor_task_sense(const ostor_task *t, size_t *len)
{
	if (!t || ostori_task_state(t) != OSTORI_TASK_DONE || !t->sense_len) {
		if (len)
			*len = 0;
		return NULL;
	}
	if (len)
		*len = t->sense_len;
	return t->sense;
}

OSTOR_API size_t ostor_task_transferred(const ostor_task *t)
{
	return t && ostori_task_state(t) == OSTORI_TASK_DONE ? t->transferred : 0;
}

OSTOR_API size_t ostor_task_residual(const ostor_task *t)
{
	if (!t || ostori_task_state(t) != OSTORI_TASK_DONE)
		return 0;
	return t->data_len - t->transferred;
}

OSTOR_API int ostor_task_error(const ostor_task *t)
{
	struct ostor_scsi_sense s = OSTOR_SCSI_SENSE_INIT;
	char text[256];

	if (!t)
		return ostori_error(OSTOR_ERROR_INVALID_PARAM, "NULL task");
	if (ostori_task_state(t) != OSTORI_TASK_DONE)
		return ostori_error(OSTOR_ERROR_STATE, "the task has not completed");
	switch (t->result) {
	case OSTOR_RESULT_GOOD:
		return 0;
	case OSTOR_RESULT_CHECK_CONDITION:
		if (ostor_scsi_parse_sense(t->sense, t->sense_len, &s) < 0)
			return ostori_error(OSTOR_ERROR_SCSI,
					    "CHECK CONDITION without usable sense data (%zu bytes)", t->sense_len);
		ostor_scsi_sense_text(&s, text, sizeof(text));
		switch (s.key) {
		case OSTOR_SCSI_SENSE_ILLEGAL_REQUEST:
			if (s.asc == 0x21)
				return ostori_error(OSTOR_ERROR_OUT_OF_RANGE, "%s", text);
			return ostori_error(OSTOR_ERROR_SCSI, "%s", text);
		case OSTOR_SCSI_SENSE_DATA_PROTECT:
			return ostori_error(OSTOR_ERROR_WRITE_PROTECTED, "%s", text);
		case OSTOR_SCSI_SENSE_NOT_READY:
			if (s.asc == 0x3a)
				return ostori_error(OSTOR_ERROR_NO_MEDIUM, "%s", text);
			return ostori_error(OSTOR_ERROR_SCSI, "%s", text);
		case OSTOR_SCSI_SENSE_ABORTED_COMMAND:
			return ostori_error(OSTOR_ERROR_ABORTED, "%s", text);
		case OSTOR_SCSI_SENSE_MEDIUM_ERROR:
		case OSTOR_SCSI_SENSE_HARDWARE_ERROR:
			return ostori_error(OSTOR_ERROR_IO, "%s", text);
		default:
			return ostori_error(OSTOR_ERROR_SCSI, "%s", text);
		}
	case OSTOR_RESULT_BUSY:
		return ostori_error(OSTOR_ERROR_BUSY, "the device is busy (status %s)",
				    ostor_scsi_status_name(t->status));
	case OSTOR_RESULT_RESERVATION_CONFLICT:
		return ostori_error(OSTOR_ERROR_BUSY, "reservation conflict: another initiator holds a reservation");
	case OSTOR_RESULT_TRANSPORT_ERROR:
		/* Not IO: nothing says the medium failed, and callers (tools,
		 * exit codes) tell a broken link from a bad block. */
		return ostori_error(OSTOR_ERROR_PROTOCOL, "transport error on %s: the command's outcome is "
				    "unknown (the device or its link broke the protocol)", t->dev->spec);
	case OSTOR_RESULT_TIMEOUT:
		return ostori_error(OSTOR_ERROR_TIMEOUT, "command timed out after %u ms on %s",
				    t->timeout_ms, t->dev->spec);
	case OSTOR_RESULT_ABORTED:
		return ostori_error(OSTOR_ERROR_ABORTED, "command aborted on %s", t->dev->spec);
	case OSTOR_RESULT_DEVICE_GONE:
		return ostori_error(OSTOR_ERROR_NO_DEVICE, "device %s is gone", t->dev->spec);
	case OSTOR_RESULT_OVERRUN:
		return ostori_error(OSTOR_ERROR_OVERFLOW, "%s had more data than the %zu-byte buffer (%zu bytes "
				    "arrived); give a buffer as large as the command's transfer length",
				    t->dev->spec, t->data_len, t->transferred);
	default:
		return ostori_error(OSTOR_ERROR_SCSI, "SCSI status %s (0x%02x)",
				    ostor_scsi_status_name(t->status), (unsigned)t->status);
	}
}
