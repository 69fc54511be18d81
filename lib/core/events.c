/*
 * lib/core/events.c - device events (LUN added or removed, capacity or
 * medium changed, device reset or gone) from every transport, delivered
 * like completions: queued from any thread, the handler runs inside
 * ostor_handle_events*() on the thread handling events.
 *
 * The queue is bounded; past the bound (or when memory runs out) one
 * OSTOR_EVENT_LUNS_CHANGED for all targets stands for everything lost.
 * Without a handler nothing is queued.
 */
#include "core/backend.h"

#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define EVENT_QUEUE_MAX 1024

/* struct ostor_event grows (lib/util/sized.h): .size tells the handler
 * what this library filled, up to the end of its last field (when a field
 * is appended, name it in both lines). */
#define EVENT_SIZE OSTORI_FIELD_END(struct ostor_event, blocks)
OSTORI_SIZED_CHECK(struct ostor_event, blocks);

struct ostori_event_node {
	struct ostor_event ev;
	struct ostori_event_node *next;
};

OSTOR_API const char *ostor_event_name(int type)
{
	switch (type) {
	case OSTOR_EVENT_LUN_ADDED: return "lun-added";
	case OSTOR_EVENT_LUN_REMOVED: return "lun-removed";
	case OSTOR_EVENT_CAPACITY_CHANGED: return "capacity-changed";
	case OSTOR_EVENT_MEDIUM_CHANGED: return "medium-changed";
	case OSTOR_EVENT_LUNS_CHANGED: return "luns-changed";
	case OSTOR_EVENT_DEVICE_RESET: return "device-reset";
	case OSTOR_EVENT_DEVICE_GONE: return "device-gone";
	case OSTOR_EVENT_CACHE_DATA_LOST: return "cache-data-lost";
	case OSTOR_EVENT_HEALTH_CHANGED: return "health-changed";
	default: return "unknown";
	}
}

OSTOR_API int ostor_set_event_handler(ostor_context *ctx, struct ostor_event_handler handler)
{
	struct ostor_event_handler old;

	if (!ctx) {
		if (handler.free)
			handler.free(handler.user_data);
		return ostori_error(OSTOR_ERROR_INVALID_PARAM, "ostor_set_event_handler: NULL context");
	}
	if (ostori_refuse_in_callback(ctx, "ostor_set_event_handler")) {
		if (handler.free)
			handler.free(handler.user_data);
		return OSTOR_ERROR_STATE;
	}
	/* Not while a handler pass runs the old one.  A thread may sit in
	 * ostor_handle_events with no timeout: kick it until the lock is ours. */
	for (;;) {
		struct timespec ts;

		clock_gettime(CLOCK_REALTIME, &ts);
		ts.tv_nsec += 10000000;
		if (ts.tv_nsec >= 1000000000) {
			ts.tv_sec++;
			ts.tv_nsec -= 1000000000;
		}
		if (pthread_mutex_timedlock(&ctx->event_lock, &ts) == 0)
			break;
		ostori_kick_loop(ctx);
	}
	pthread_mutex_lock(&ctx->lock);
	old = ctx->event_handler;
	ctx->event_handler = handler;
	pthread_mutex_unlock(&ctx->lock);
	pthread_mutex_unlock(&ctx->event_lock);
	if (old.free)
		old.free(old.user_data);
	return 0;
}

/* ctx->lock held. */
static bool queue_locked(ostor_context *ctx, const struct ostor_event *ev)
{
	struct ostori_event_node *n;

	if (ctx->events_queued >= EVENT_QUEUE_MAX || !(n = malloc(sizeof(*n)))) {
		ctx->events_missed = true;
		return false;
	}
	n->ev = *ev;
	n->next = NULL;
	if (ctx->event_tail)
		ctx->event_tail->next = n;
	else
		ctx->event_head = n;
	ctx->event_tail = n;
	ctx->events_queued++;
	return true;
}

static void post(ostor_device *dev, const struct ostor_event *ev)
{
	ostor_context *ctx = dev->ctx;

	pthread_mutex_lock(&ctx->lock);
	if (ctx->event_handler.callback)
		queue_locked(ctx, ev);
	pthread_mutex_unlock(&ctx->lock);
	ostori_wake_loop(ctx);
}

void ostori_post_event(ostor_device *dev, enum ostor_event_type type, uint32_t target, uint32_t lun,
		       uint8_t asc, uint8_t ascq)
{
	struct ostor_event ev = { .size = EVENT_SIZE, .type = type, .dev = dev, .target = target,
				  .lun = lun, .asc = asc, .ascq = ascq };

	ostor_dbg(dev->ctx, "%s: event %s for %d:%d", dev->spec, ostor_event_name(type), (int)target, (int)lun);
	/* What the block cache holds may not be the medium's any more (the
	 * loss is reported before this event). */
	ostori_bcache_lun_event(dev, type, target, lun);
	post(dev, &ev);
}

void ostori_post_event_range(ostor_device *dev, enum ostor_event_type type, uint32_t target, uint32_t lun,
			     uint64_t lba, uint64_t blocks)
{
	struct ostor_event ev = { .size = EVENT_SIZE, .type = type, .dev = dev, .target = target,
				  .lun = lun, .lba = lba, .blocks = blocks };

	post(dev, &ev);
}

bool ostori_events_pending(const ostor_context *ctx)
{
	return ctx->event_head || ctx->events_missed;
}

/* An event of dev taken by a dispatch still running on another thread. */
static bool dispatching_for(const ostor_context *ctx, const ostor_device *dev)
{
	for (const struct ostori_event_node *n = ctx->event_dispatching; n; n = n->next)
		if (n->ev.dev == dev)
			return true;
	return false;
}

void ostori_drop_device_events(ostor_device *dev)
{
	ostor_context *ctx = dev->ctx;
	struct ostori_event_node **pp, *n;

	pthread_mutex_lock(&ctx->lock);
	/* A handler running on another thread may hold an event of dev: the
	 * device outlives it (the caller frees it right after). */
	while (dispatching_for(ctx, dev)) {
		pthread_mutex_unlock(&ctx->lock);
		sched_yield();
		pthread_mutex_lock(&ctx->lock);
	}
	ctx->event_tail = NULL;
	for (pp = &ctx->event_head; (n = *pp);) {
		if (n->ev.dev == dev) {
			*pp = n->next;
			ctx->events_queued--;
			free(n);
		} else {
			ctx->event_tail = n;
			pp = &n->next;
		}
	}
	pthread_mutex_unlock(&ctx->lock);
}

void ostori_events_free(ostor_context *ctx)
{
	struct ostori_event_node *n;

	while ((n = ctx->event_head)) {
		ctx->event_head = n->next;
		free(n);
	}
	ctx->event_tail = NULL;
	if (ctx->event_handler.free)
		ctx->event_handler.free(ctx->event_handler.user_data);
	memset(&ctx->event_handler, 0, sizeof(ctx->event_handler));
}

static void deliver(ostor_context *ctx, const struct ostor_event_handler *h, const struct ostor_event *ev)
{
	ostor_context *outer = ostori_callback_ctx;

	ostori_callback_ctx = ctx;
	h->callback(ev, h->user_data);
	ostori_callback_ctx = outer;
}

int ostori_dispatch_events(ostor_context *ctx)
{
	struct ostori_event_node *list, *n;
	struct ostor_event_handler h;
	bool missed;
	int count = 0;

	pthread_mutex_lock(&ctx->lock);
	list = ctx->event_head;
	ctx->event_head = ctx->event_tail = NULL;
	ctx->events_queued = 0;
	missed = ctx->events_missed;
	ctx->events_missed = false;
	h = ctx->event_handler;
	ctx->event_dispatching = list;
	pthread_mutex_unlock(&ctx->lock);
	while ((n = list)) {
		list = n->next;
		if (h.callback)
			deliver(ctx, &h, &n->ev);
		/* Delivered: a close waiting for it may go on. */
		pthread_mutex_lock(&ctx->lock);
		ctx->event_dispatching = list;
		pthread_mutex_unlock(&ctx->lock);
		free(n);
		count++;
	}
	if (missed && h.callback) {
		/* What was lost is unknown: everything may have changed. */
		struct ostor_event ev = { .size = EVENT_SIZE, .type = OSTOR_EVENT_LUNS_CHANGED,
					  .target = OSTOR_EVENT_ALL, .lun = OSTOR_EVENT_ALL };

		deliver(ctx, &h, &ev);
		count++;
	}
	return count;
}

void ostori_post_unit_attention(ostor_device *dev, uint32_t target, uint32_t lun, uint8_t asc,
				uint8_t ascq)
{
	switch (asc) {
	case 0x2a:
		if (ascq == 0x09)
			ostori_post_event(dev, OSTOR_EVENT_CAPACITY_CHANGED, target, lun, asc, ascq);
		break;
	case 0x28:
		ostori_post_event(dev, OSTOR_EVENT_MEDIUM_CHANGED, target, lun, asc, ascq);
		break;
	case 0x29:
		ostori_post_event(dev, OSTOR_EVENT_DEVICE_RESET, target, lun, asc, ascq);
		break;
	case 0x3f:
		if (ascq == 0x0e)
			ostori_post_event(dev, OSTOR_EVENT_LUNS_CHANGED, target, OSTOR_EVENT_ALL, asc, ascq);
		break;
	default:
		break;
	}
}
