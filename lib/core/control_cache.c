/*
 * lib/core/control_cache.c - the control socket's methods for the block
 * cache: cache (what it holds and counted, per LUN and in all), cache_flush
 * (ostor_flush: write out, then SYNCHRONIZE CACHE) and cache_reset (drop
 * what it holds, after a flush or discarding what never reached the
 * device).
 *
 * They hold a reference to the device (flushes wait for the device; the
 * others take the cache's lock), never the registry.
 */
#include "core/control.h"

#include <json-c/json.h>
#include <stdlib.h>
#include <string.h>

/* LUNs a method acts on (the cache serves at most 32; the block helpers
 * keep state for those they used). */
#define LUNS_MAX 256

struct lun_set {
	struct ostor_lun_addr v[LUNS_MAX];
	size_t n;
};

static void lun_add(struct lun_set *s, uint32_t target, uint32_t lun)
{
	for (size_t i = 0; i < s->n; i++)
		if (s->v[i].target == target && s->v[i].lun == lun)
			return;
	if (s->n < LUNS_MAX)
		s->v[s->n++] = (struct ostor_lun_addr){ .target = target, .lun = lun };
}

static int cmp_lun(const void *a, const void *b)
{
	const struct ostor_lun_addr *x = a, *y = b;

	if (x->target != y->target)
		return x->target < y->target ? -1 : 1;
	return x->lun < y->lun ? -1 : x->lun > y->lun;
}

/* "target" and "lun": either given, that LUN (the other 0); *one false
 * when neither is. */
/* The LUNs of dev worth a flush: those its cache serves and those the
 * block helpers used, sorted; when there are none, those the device
 * reports (REPORT LUNS: I/O). */
static void device_luns(ostor_device *dev, struct lun_set *s, bool scan)
{
	struct ostor_lun_addr v[64];
	size_t n = ostori_bcache_luns(dev, v, OSTOR_ARRAY_SIZE(v));

	s->n = 0;
	for (size_t i = 0; i < n && i < OSTOR_ARRAY_SIZE(v); i++)
		lun_add(s, v[i].target, v[i].lun);
	pthread_mutex_lock(&dev->lock);
	for (size_t i = 0; i < dev->nluns; i++)
		if (dev->luns[i].seen || dev->luns[i].dirty || dev->luns[i].sticky_error)
			lun_add(s, dev->luns[i].target, dev->luns[i].lun);
	pthread_mutex_unlock(&dev->lock);
	if (!s->n && scan) {
		struct ostor_lun_addr *all = NULL;
		size_t count = 0;

		if (ostor_device_luns(dev, &all, &count) == 0)
			for (size_t i = 0; i < count; i++)
				lun_add(s, all[i].target, all[i].lun);
		free(all);
	}
	qsort(s->v, s->n, sizeof(s->v[0]), cmp_lun);
}

static struct json_object *lun_json(ostor_device *dev, uint32_t target, uint32_t lun)
{
	struct json_object *o = ostori_cache_json(dev, target, lun);

	json_object_object_add(o, "target", json_object_new_int64(target));
	json_object_object_add(o, "lun", json_object_new_int64(lun));
	return o;
}

static uint64_t unwritten(ostor_device *dev, uint32_t target, uint32_t lun)
{
	struct ostor_cache_info ci = OSTOR_CACHE_INFO_INIT;

	if (ostor_cache_info(dev, target, lun, &ci) < 0)
		return 0;
	return ci.dirty_bytes + ci.writeout_inflight_bytes;
}

/* ---- cache ------------------------------------------------------------------ */

/* {"device", "target"?, "lun"?} -> {"device", "total": the device's cache,
 * "luns": [the same per LUN the cache serves, or the one asked for]} */
int ostori_method_cache(struct json_object *params, struct json_object **result)
{
	struct json_object *o, *arr;
	struct lun_set s;
	uint32_t target, lun;
	ostor_device *dev;
	const char *spec;
	bool one;
	int r;

	if ((r = ostori_param_string(params, "device", true, &spec)) ||
	    (r = ostori_param_lun(params, &one, &target, &lun)))
		return r;
	if ((r = ostori_control_hold_device(spec, &dev)) < 0)
		return r;
	s.n = 0;
	if (one) {
		lun_add(&s, target, lun);
	} else {
		struct ostor_lun_addr v[64];
		size_t n = ostori_bcache_luns(dev, v, OSTOR_ARRAY_SIZE(v));

		for (size_t i = 0; i < n && i < OSTOR_ARRAY_SIZE(v); i++)
			lun_add(&s, v[i].target, v[i].lun);
		qsort(s.v, s.n, sizeof(s.v[0]), cmp_lun);
	}
	o = json_object_new_object();
	arr = json_object_new_array();
	json_object_object_add(o, "device", json_object_new_string(dev->spec));
	json_object_object_add(o, "total", ostori_cache_json(dev, OSTOR_EVENT_ALL, OSTOR_EVENT_ALL));
	for (size_t i = 0; i < s.n; i++)
		json_object_array_add(arr, lun_json(dev, s.v[i].target, s.v[i].lun));
	json_object_object_add(o, "luns", arr);
	ostori_control_release_device(dev);
	*result = o;
	return 0;
}

/* ---- cache_flush ----------------------------------------------------------- */

/* ostor_flush of one LUN, as an element of cache_flush's "luns". */
static struct json_object *flush_lun(ostor_device *dev, uint32_t target, uint32_t lun, bool *confirmed)
{
	struct json_object *o = json_object_new_object(), *c;
	uint64_t before = unwritten(dev, target, lun);
	int r;

	ostori_clear_error();
	r = ostor_flush(dev, target, lun);
	json_object_object_add(o, "target", json_object_new_int64(target));
	json_object_object_add(o, "lun", json_object_new_int64(lun));
	json_object_object_add(o, "confirmed", json_object_new_boolean(r == 0));
	json_object_object_add(o, "unwritten_bytes_before", json_object_new_uint64(before));
	if (r < 0) {
		const char *msg = ostor_last_error();

		*confirmed = false;
		json_object_object_add(o, "error", json_object_new_string(ostor_error_name(r)));
		json_object_object_add(o, "error_code", json_object_new_int(r));
		json_object_object_add(o, "message", json_object_new_string(*msg ? msg : ostor_strerror(r)));
	}
	/* What stays: the cache's state after the flush, and the sticky
	 * error every later flush reports until the holder acknowledges it. */
	c = ostori_cache_json(dev, target, lun);
	json_object_object_add(o, "unwritten_bytes_after", json_object_new_uint64(unwritten(dev, target, lun)));
	{
		struct json_object *v;

		json_object_object_add(o, "sticky_error", json_object_object_get_ex(c, "sticky_error", &v) ?
				       json_object_get(v) : NULL);
		json_object_object_add(o, "sticky_message", json_object_object_get_ex(c, "sticky_message", &v) ?
				       json_object_get(v) : NULL);
	}
	json_object_put(c);
	return o;
}

/* {"device", "target"?, "lun"?} -> {"device", "confirmed": every LUN's
 * flush confirmed by the device, "luns": [{"target", "lun", "confirmed",
 * "unwritten_bytes_before", "unwritten_bytes_after", "error"?,
 * "error_code"?, "message"?, "sticky_error", "sticky_message"}]}.  A flush
 * that failed is an answer, not an error of the method. */
int ostori_method_cache_flush(struct json_object *params, struct json_object **result)
{
	struct json_object *o, *arr;
	struct lun_set s;
	uint32_t target, lun;
	ostor_device *dev;
	const char *spec;
	bool one, confirmed = true;
	int r;

	if ((r = ostori_param_string(params, "device", true, &spec)) ||
	    (r = ostori_param_lun(params, &one, &target, &lun)))
		return r;
	if ((r = ostori_control_hold_device(spec, &dev)) < 0)
		return r;
	if (one) {
		s.n = 0;
		lun_add(&s, target, lun);
	} else {
		device_luns(dev, &s, true);
	}
	o = json_object_new_object();
	arr = json_object_new_array();
	for (size_t i = 0; i < s.n; i++)
		json_object_array_add(arr, flush_lun(dev, s.v[i].target, s.v[i].lun, &confirmed));
	json_object_object_add(o, "device", json_object_new_string(dev->spec));
	json_object_object_add(o, "confirmed", json_object_new_boolean(confirmed));
	json_object_object_add(o, "luns", arr);
	ostori_control_release_device(dev);
	*result = o;
	return 0;
}

/* ---- cache_reset ------------------------------------------------------------ */

static int refuse_dirty(ostor_device *dev, uint64_t bytes)
{
	return ostori_error(OSTOR_ERROR_BUSY, "the cache of %s holds %llu bytes not yet written to the device; "
			    "use --flush to write them out first, or --discard to throw them away (\"flush\": "
			    "true or \"discard\": true)", dev->spec, (unsigned long long)bytes);
}

static int reset_on(ostor_device *dev, bool one, uint32_t target, uint32_t lun, int flush, int discard,
		    struct json_object *o)
{
	struct ostor_cache_info before = OSTOR_CACHE_INFO_INIT, after = OSTOR_CACHE_INFO_INIT;
	uint32_t t = one ? target : OSTOR_EVENT_ALL, l = one ? lun : OSTOR_EVENT_ALL;
	struct lun_set s;
	int r;

	if ((r = ostor_cache_info(dev, t, l, &before)) < 0)
		return r;
	if (flush > 0) {
		if (one) {
			s.n = 0;
			lun_add(&s, target, lun);
		} else {
			device_luns(dev, &s, false);
		}
		for (size_t i = 0; i < s.n; i++) {
			ostori_clear_error();
			if ((r = ostor_flush(dev, s.v[i].target, s.v[i].lun)) < 0) {
				char msg[512];

				snprintf(msg, sizeof(msg), "%s", ostor_last_error());
				return ostori_error(r, "the cache of %s was not dropped: the flush of %u:%u failed: %s",
						    dev->spec, s.v[i].target, s.v[i].lun,
						    *msg ? msg : ostor_strerror(r));
			}
		}
	} else if (discard <= 0 && before.dirty_bytes + before.writeout_inflight_bytes) {
		return refuse_dirty(dev, before.dirty_bytes + before.writeout_inflight_bytes);
	}
	r = ostor_cache_drop(dev, t, l, discard > 0 ? OSTOR_CACHE_DROP_DIRTY : 0);
	if (r == OSTOR_ERROR_BUSY)
		/* Written to since the flush (or the look above). */
		return refuse_dirty(dev, unwritten(dev, t, l));
	if (r < 0)
		return r;
	ostor_cache_info(dev, t, l, &after);
	json_object_object_add(o, "device", json_object_new_string(dev->spec));
	json_object_object_add(o, "mode", json_object_new_string(ostor_cache_mode_name(before.mode)));
	json_object_object_add(o, "flushed", json_object_new_boolean(flush > 0));
	json_object_object_add(o, "dropped_bytes", json_object_new_uint64(
		before.used_bytes > after.used_bytes ? before.used_bytes - after.used_bytes : 0));
	json_object_object_add(o, "discarded_bytes", json_object_new_uint64(
		after.lost_bytes > before.lost_bytes ? after.lost_bytes - before.lost_bytes : 0));
	json_object_object_add(o, "used_bytes_after", json_object_new_uint64(after.used_bytes));
	json_object_object_add(o, "sticky_error", after.sticky_error ?
			       json_object_new_string(ostor_error_name(after.sticky_error)) : NULL);
	return 0;
}

/* {"device", "target"?, "lun"?, "flush"?: bool, "discard"?: bool} ->
 * {"device", "mode", "flushed", "dropped_bytes", "discarded_bytes",
 * "used_bytes_after", "sticky_error"}.  Without flush or discard, dirty
 * data is refused (OSTOR_ERROR_BUSY); flush: ostor_flush, then the drop;
 * discard: ostor_cache_drop(OSTOR_CACHE_DROP_DIRTY), the loss reported as
 * any (event, log, the holder's sticky flush error). */
int ostori_method_cache_reset(struct json_object *params, struct json_object **result)
{
	struct json_object *o;
	uint32_t target, lun;
	ostor_device *dev;
	const char *spec;
	int flush, discard, r;
	bool one;

	if ((r = ostori_param_string(params, "device", true, &spec)) ||
	    (r = ostori_param_lun(params, &one, &target, &lun)) || (r = ostori_param_bool(params, "flush", &flush)) ||
	    (r = ostori_param_bool(params, "discard", &discard)))
		return r;
	if (flush > 0 && discard > 0)
		return ostori_error(OSTOR_ERROR_INVALID_PARAM, "\"flush\" and \"discard\" exclude each other: "
				    "flush writes the dirty data out, discard throws it away");
	if ((r = ostori_control_hold_device(spec, &dev)) < 0)
		return r;
	o = json_object_new_object();
	r = reset_on(dev, one, target, lun, flush, discard, o);
	ostori_control_release_device(dev);
	if (r < 0) {
		json_object_put(o);
		return r;
	}
	*result = o;
	return 0;
}
