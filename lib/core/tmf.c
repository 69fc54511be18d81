/*
 * lib/core/tmf.c - task management for every transport: abort one
 * command and report its fate, reset a LUN, a target or the device.
 *
 * Abort goes through the cancel path every backend has (virtio-scsi
 * escalates ABORT TASK, LOGICAL UNIT RESET, I_T NEXUS RESET, device reset;
 * USB resets the transport), then waits for the command to come back.
 * The task may be reused or freed by its callback, so its result is
 * recorded at dispatch, before the callback, for the waiter.
 */
#include "core/backend.h"

#include <sched.h>
#include <stdlib.h>

#define ABORT_WAIT_MS 60000
#define MAX_WATCHES 16

struct ostori_abort_watch {
	const ostor_task *task;
	bool done;
	enum ostor_result result;
};

OSTOR_API const char *ostor_tmf_outcome_name(int outcome)
{
	switch (outcome) {
	case OSTOR_TMF_DONE: return "done";
	case OSTOR_TMF_ESCALATED: return "escalated";
	case OSTOR_TMF_COMMAND_COMPLETED: return "command-completed";
	case OSTOR_TMF_UNKNOWN: return "unknown";
	default: return "invalid";
	}
}

/* dispatch_completions, before the callback: note the result of a task an
 * ostor_task_abort() waits for. */
void ostori_abort_watch_note(ostor_context *ctx, const ostor_task *t)
{
	if (OSTOR_LIKELY(!atomic_load_explicit(&ctx->abort_watchers, memory_order_relaxed)))
		return;
	pthread_mutex_lock(&ctx->lock);
	for (unsigned int i = 0; ctx->abort_watch && i < MAX_WATCHES; i++) {
		struct ostori_abort_watch *w = &ctx->abort_watch[i];

		if (w->task == t && !w->done) {
			w->done = true;
			w->result = t->result;
		}
	}
	pthread_mutex_unlock(&ctx->lock);
}

static struct ostori_abort_watch *watch_add(ostor_context *ctx, const ostor_task *t)
{
	struct ostori_abort_watch *w = NULL;

	pthread_mutex_lock(&ctx->lock);
	if (!ctx->abort_watch)
		ctx->abort_watch = calloc(MAX_WATCHES, sizeof(*ctx->abort_watch));
	for (unsigned int i = 0; ctx->abort_watch && i < MAX_WATCHES && !w; i++)
		if (!ctx->abort_watch[i].task)
			w = &ctx->abort_watch[i];
	if (w) {
		*w = (struct ostori_abort_watch){ .task = t };
		atomic_fetch_add(&ctx->abort_watchers, 1);
	}
	pthread_mutex_unlock(&ctx->lock);
	return w;
}

static bool watch_done(ostor_context *ctx, struct ostori_abort_watch *w, enum ostor_result *result)
{
	bool done;

	pthread_mutex_lock(&ctx->lock);
	done = w->done;
	*result = w->result;
	pthread_mutex_unlock(&ctx->lock);
	return done;
}

static void watch_remove(ostor_context *ctx, struct ostori_abort_watch *w)
{
	pthread_mutex_lock(&ctx->lock);
	w->task = NULL;
	atomic_fetch_sub(&ctx->abort_watchers, 1);
	pthread_mutex_unlock(&ctx->lock);
}

OSTOR_API int ostor_task_abort(ostor_task *t)
{
	struct ostori_abort_watch *w;
	enum ostor_result result = OSTOR_RESULT_PENDING;
	ostor_context *ctx;
	ostor_device *dev;
	uint64_t deadline;
	bool done = false;
	int r;

	if (!t)
		return ostori_error(OSTOR_ERROR_INVALID_PARAM, "ostor_task_abort: NULL task");
	dev = t->dev;
	ctx = dev->ctx;
	if ((r = ostori_refuse_in_callback(ctx, "ostor_task_abort")))
		return r;
	ostori_stats_event(dev, aborts);
	w = watch_add(ctx, t);
	if (!w)
		return ostori_error(OSTOR_ERROR_BUSY, "ostor_task_abort: %d aborts are waiting already in this "
				    "context; wait for one to return", MAX_WATCHES);
	r = ostor_task_cancel(t);
	if (r == OSTOR_ERROR_STATE) {
		watch_remove(ctx, w);
		return OSTOR_TMF_COMMAND_COMPLETED; /* not in flight (any more) */
	}
	if (r < 0) {
		watch_remove(ctx, w);
		return r;
	}
	ostor_info(ctx, "%s: aborting a command to %u:%u", dev->spec, t->target, t->lun);
	deadline = ostori_now_ms() + ABORT_WAIT_MS;
	while (!(done = watch_done(ctx, w, &result)) && ostori_now_ms() < deadline)
		if (ostori_wait_step(ctx, 10) == 0)
			sched_yield();
	watch_remove(ctx, w);
	if (!done)
		return OSTOR_TMF_UNKNOWN;
	if (result == OSTOR_RESULT_ABORTED || result == OSTOR_RESULT_TIMEOUT)
		return dev->abort_is_reset ? OSTOR_TMF_ESCALATED : OSTOR_TMF_DONE;
	return OSTOR_TMF_COMMAND_COMPLETED;
}

OSTOR_API int ostor_reset(ostor_device *dev, enum ostor_reset_level level, uint32_t target,
			  uint32_t lun)
{
	static const char *const names[] = { "", "LUN", "target", "device" };
	int r;

	if (!dev)
		return ostori_error(OSTOR_ERROR_INVALID_PARAM, "ostor_reset: NULL device");
	if (level < OSTOR_RESET_LUN || level > OSTOR_RESET_DEVICE)
		return ostori_error(OSTOR_ERROR_INVALID_PARAM, "ostor_reset: level %d is not "
				    "OSTOR_RESET_LUN, _TARGET or _DEVICE", (int)level);
	if ((r = ostori_refuse_in_callback(dev->ctx, "ostor_reset")))
		return r;
	if (!dev->backend->reset)
		return ostori_error(OSTOR_ERROR_NOT_SUPPORTED, "%s: the %s backend cannot reset", dev->spec,
				    dev->backend->name);
	ostor_info(dev->ctx, "%s: %s reset (%u:%u) requested", dev->spec, names[level], target, lun);
	atomic_fetch_add_explicit(&dev->counts.resets[level], 1, memory_order_relaxed);
	r = dev->backend->reset(dev, level, target, lun);
	ostori_cmdcache_forget_all(dev);
	if (r < 0)
		return r;
	/* What the LUNs were is not known any more. */
	pthread_mutex_lock(&dev->lock);
	for (size_t i = 0; i < dev->nluns; i++) {
		struct ostori_lun_state *st = &dev->luns[i];

		if (level == OSTOR_RESET_DEVICE ||
		    (st->target == target && (level == OSTOR_RESET_TARGET || st->lun == lun)))
			st->known = false;
	}
	pthread_mutex_unlock(&dev->lock);
	return r ? OSTOR_TMF_ESCALATED : OSTOR_TMF_DONE;
}
