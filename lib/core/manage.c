/*
 * lib/core/manage.c - live management from another thread: list the
 * commands in flight, abort one by tag, flush a queue (see manage.h).
 * The owners' side is in channel.c; the shared path's list is read here
 * under dev->lock.
 */
#include "core/backend.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

void ostori_manage_init(ostor_device *dev)
{
	pthread_mutex_init(&dev->manage_lock, NULL);
	pthread_mutex_init(&dev->manage_wait, NULL);
	pthread_cond_init(&dev->manage_cond, NULL);
}

void ostori_manage_free(ostor_device *dev)
{
	pthread_cond_destroy(&dev->manage_cond);
	pthread_mutex_destroy(&dev->manage_wait);
	pthread_mutex_destroy(&dev->manage_lock);
}

void ostori_manage_describe(const ostor_task *t, struct ostori_cmd_info *c, uint64_t now_tick)
{
	c->tag = t->tag;
	c->target = t->target;
	c->lun = t->lun;
	c->cdb_len = t->cdb_len < sizeof(c->cdb) ? t->cdb_len : (uint8_t)sizeof(c->cdb);
	memcpy(c->cdb, t->cdb, c->cdb_len);
	c->waiting = t->waiting;
	c->cancelling = ostori_task_cancelled(t);
	c->age_ns = t->submit_tick && now_tick >= t->submit_tick ? (int64_t)ostori_ticks_ns(now_tick - t->submit_tick)
								   : -1;
	c->listed_ns = now_tick >= t->listed_tick ? (int64_t)ostori_ticks_ns(now_tick - t->listed_tick) : 0;
}

/* dev->lock held: the shared path's tasks. */
static void list_shared(ostor_device *dev, struct ostori_cmd_list *l)
{
	uint64_t now = ostori_ticks();

	for (ostor_task *t = dev->inflight_head; t; t = t->inflight_next) {
		struct ostori_cmd_info *c = l->n < l->cap ? &l->cmds[l->n] : NULL;

		if (!t->tag) {
			t->tag = ++dev->tag_seq;  /* queue bits 0: the shared path */
			t->listed_tick = now;
		}
		l->n++;
		if (!c)
			continue;
		c->queue = -1;
		ostori_manage_describe(t, c, now);
	}
}

int ostori_manage_commands(ostor_device *dev, struct ostori_cmd_list *list, size_t cap, int timeout_ms)
{
	memset(list, 0, sizeof(*list));
	list->cmds = calloc(cap ? cap : 1, sizeof(*list->cmds));
	if (!list->cmds)
		return ostori_error(OSTOR_ERROR_NO_MEM, "out of memory listing commands");
	list->cap = cap;
	pthread_mutex_lock(&dev->manage_lock);
	pthread_mutex_lock(&dev->lock);
	list_shared(dev, list);
	pthread_mutex_unlock(&dev->lock);
	for (unsigned int i = 0; i < dev->nchannels; i++) {
		struct ostori_chan_req req = { .kind = OSTORI_REQ_LIST, .list = list };
		int r = ostori_channel_request(dev, i, &req, timeout_ms);

		if (r == OSTOR_ERROR_TIMEOUT)
			list->queues_silent++;
	}
	pthread_mutex_unlock(&dev->manage_lock);
	return 0;
}

/* Wait for a watched task's fate (other threads complete it; this one
 * only looks). */
static int await_watch(ostor_device *dev, struct ostori_abort_watch *w, int timeout_ms)
{
	uint64_t deadline = ostori_now_ms() + (uint64_t)timeout_ms;
	enum ostor_result result = OSTOR_RESULT_PENDING;
	bool done;

	while (!(done = ostori_abort_watch_done(dev->ctx, w, &result)) && ostori_now_ms() < deadline)
		nanosleep(&(struct timespec){ .tv_nsec = 1000000 }, NULL);
	ostori_abort_watch_remove(dev->ctx, w);
	if (!done)
		return OSTOR_TMF_UNKNOWN;
	if (result == OSTOR_RESULT_ABORTED || result == OSTOR_RESULT_TIMEOUT)
		return dev->abort_is_reset ? OSTOR_TMF_ESCALATED : OSTOR_TMF_DONE;
	return OSTOR_TMF_COMMAND_COMPLETED;
}

int ostori_manage_abort(ostor_device *dev, uint64_t tag, int timeout_ms)
{
	struct ostori_abort_watch *w = NULL;
	unsigned int q = (unsigned int)(tag >> 48);
	int r = 0;

	if (!tag)
		return ostori_error(OSTOR_ERROR_NOT_FOUND, "tag 0 names no command");
	if (q > dev->nchannels)
		return ostori_error(OSTOR_ERROR_NOT_FOUND, "%s has no queue %u (tag %#llx)", dev->spec, q - 1,
				    (unsigned long long)tag);
	pthread_mutex_lock(&dev->manage_lock);
	ostori_stats_event(dev, aborts);
	if (q == 0) {
		ostor_task *t;

		/* The shared path: found and cancelled under dev->lock, so it
		 * cannot complete (and be freed) in between. */
		pthread_mutex_lock(&dev->lock);
		for (t = dev->inflight_head; t && t->tag != tag; t = t->inflight_next)
			;
		if (!t) {
			r = OSTOR_ERROR_NOT_FOUND;
		} else if (!(w = ostori_abort_watch_add(dev->ctx, t))) {
			r = OSTOR_ERROR_BUSY;
		} else if (!atomic_exchange(&t->cancel_requested, true)) {
			if (t->waiting && ostori_waitq_remove(&dev->waitq, t)) {
				pthread_mutex_unlock(&dev->lock);
				ostori_task_finish(t, OSTOR_RESULT_ABORTED, -1, NULL, 0, 0);
				pthread_mutex_lock(&dev->lock);
			} else if (dev->backend->cancel) {
				dev->backend->cancel(t);
			}
		}
		pthread_mutex_unlock(&dev->lock);
	} else {
		struct ostori_chan_req req = { .kind = OSTORI_REQ_ABORT, .tag = tag };

		r = ostori_channel_request(dev, q - 1, &req, timeout_ms);
		if (r == 0)
			r = req.result;
		w = req.watch;
	}
	pthread_mutex_unlock(&dev->manage_lock);
	if (r == OSTOR_ERROR_NOT_FOUND)
		return ostori_error(r, "%s: no command with tag %#llx is in flight (it completed, or the tag "
				    "is wrong)", dev->spec, (unsigned long long)tag);
	if (r == OSTOR_ERROR_TIMEOUT)
		return ostori_error(r, "%s: the thread that owns queue %u did not answer within %d ms (it is "
				    "not polling its queue)", dev->spec, q - 1, timeout_ms);
	if (r == OSTOR_ERROR_BUSY)
		return ostori_error(r, "%s: too many aborts are waiting already; try again", dev->spec);
	if (r < 0)
		return r;
	ostor_info(dev->ctx, "%s: aborting command %#llx (control socket)", dev->spec, (unsigned long long)tag);
	return await_watch(dev, w, timeout_ms);
}

/* The shared path: pause, count; the device's waiting list holds back. */
static void pause_shared(ostor_device *dev, bool pause, unsigned int *inflight, unsigned int *waiting)
{
	pthread_mutex_lock(&dev->lock);
	dev->paused = pause;
	*waiting = dev->waitq.n;
	*inflight = dev->inflight - dev->waitq.n;
	pthread_mutex_unlock(&dev->lock);
	if (!pause)
		ostori_device_waitq_run(dev);
}

int ostori_manage_flush(ostor_device *dev, int queue, int timeout_ms, struct ostori_flush_report *rep)
{
	uint64_t start = ostori_now_ms(), deadline = start + (uint64_t)timeout_ms;
	unsigned int inflight = 0, waiting = 0;
	int r = 0;

	memset(rep, 0, sizeof(*rep));
	if (queue < -1 || (queue >= 0 && (unsigned int)queue >= dev->nchannels))
		return ostori_error(OSTOR_ERROR_INVALID_PARAM, "%s has queues 0 to %u (and -1, the shared path); "
				    "not %d", dev->spec, dev->nchannels - 1, queue);
	pthread_mutex_lock(&dev->manage_lock);
	if (queue >= 0)
		ostori_channel_pause(dev, (unsigned int)queue, true);
	for (bool first = true;; first = false) {
		if (queue < 0) {
			pause_shared(dev, true, &inflight, &waiting);
		} else {
			struct ostori_chan_req req = { .kind = OSTORI_REQ_COUNT };

			r = ostori_channel_request(dev, (unsigned int)queue, &req, timeout_ms);
			if (r == OSTOR_ERROR_NOT_FOUND) {
				/* Nobody owns it: nothing is in flight on it. */
				r = 0;
				break;
			}
			if (r < 0)
				break;
			inflight = req.inflight;
			waiting = req.waiting;
		}
		if (first)
			rep->inflight_before = inflight;
		rep->held_back = waiting;
		rep->remaining = inflight;
		if (!inflight)
			break;
		if (ostori_now_ms() >= deadline) {
			rep->timed_out = true;
			break;
		}
		/* Completions come on their own threads; look again shortly. */
		nanosleep(&(struct timespec){ .tv_nsec = 1000000 }, NULL);
	}
	if (queue < 0)
		pause_shared(dev, false, &inflight, &waiting);
	else
		ostori_channel_pause(dev, (unsigned int)queue, false);
	pthread_mutex_unlock(&dev->manage_lock);
	rep->waited_ns = (ostori_now_ms() - start) * 1000000u;
	if (r == OSTOR_ERROR_TIMEOUT)
		return ostori_error(r, "%s: the thread that owns queue %d did not answer within %d ms (it is not "
				    "polling its queue)", dev->spec, queue, timeout_ms);
	return r;
}
