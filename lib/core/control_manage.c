/*
 * lib/core/control_manage.c - the control socket's methods for statistics
 * and live management: stats, queues, commands, abort, queue_flush.
 *
 * Quick ones run under the device registry (ostori_control_with_device);
 * those that wait for a queue's owner or a command's fate hold a
 * reference instead, which ostor_close waits for (at most their timeout).
 */
#include "core/control.h"

#include <errno.h>
#include <json-c/json.h>
#include <stdlib.h>
#include <string.h>

#define DEFAULT_WAIT_MS 2000
#define MAX_WAIT_MS 60000
#define MAX_LISTED 4096

/* ---- parameters ------------------------------------------------------------- */

int ostori_param_string(struct json_object *params, const char *key, bool required, const char **out)
{
	struct json_object *v;

	*out = NULL;
	if (!params || !json_object_is_type(params, json_type_object) ||
	    !json_object_object_get_ex(params, key, &v) || !v) {
		if (required)
			return ostori_error(OSTOR_ERROR_INVALID_PARAM, "parameter \"%s\" is required", key);
		return 0;
	}
	if (!json_object_is_type(v, json_type_string))
		return ostori_error(OSTOR_ERROR_INVALID_PARAM, "parameter \"%s\" must be a string", key);
	*out = json_object_get_string(v);
	return 0;
}

/* An integer (or a string of one, decimal or 0x hex) in [min, max]; def
 * when absent. */
int ostori_param_int(struct json_object *params, const char *key, int64_t min, int64_t max, int64_t def,
		     int64_t *out)
{
	struct json_object *v;

	*out = def;
	if (!params || !json_object_is_type(params, json_type_object) ||
	    !json_object_object_get_ex(params, key, &v) || !v)
		return 0;
	if (json_object_is_type(v, json_type_int)) {
		*out = json_object_get_int64(v);
	} else if (json_object_is_type(v, json_type_string)) {
		const char *s = json_object_get_string(v);
		char *end;

		errno = 0;
		*out = (int64_t)strtoull(s, &end, 0);
		if (!*s || *end || errno)
			return ostori_error(OSTOR_ERROR_INVALID_PARAM, "parameter \"%s\": '%s' is not a number", key, s);
	} else {
		return ostori_error(OSTOR_ERROR_INVALID_PARAM, "parameter \"%s\" must be a number", key);
	}
	if (*out < min || *out > max)
		return ostori_error(OSTOR_ERROR_INVALID_PARAM, "parameter \"%s\" is %lld; use %lld to %lld", key,
				    (long long)*out, (long long)min, (long long)max);
	return 0;
}

int ostori_param_bool(struct json_object *params, const char *key, int *out)
{
	struct json_object *v;

	*out = -1;
	if (!params || !json_object_is_type(params, json_type_object) ||
	    !json_object_object_get_ex(params, key, &v) || !v)
		return 0;
	if (!json_object_is_type(v, json_type_boolean))
		return ostori_error(OSTOR_ERROR_INVALID_PARAM, "parameter \"%s\" must be true or false", key);
	*out = json_object_get_boolean(v);
	return 0;
}

/* "target" and "lun": either given, that LUN (the other 0); *one false
 * when neither is. */
int ostori_param_lun(struct json_object *params, bool *one, uint32_t *target, uint32_t *lun)
{
	int64_t t, l;
	int r;

	if ((r = ostori_param_int(params, "target", -1, UINT32_MAX, -1, &t)) ||
	    (r = ostori_param_int(params, "lun", -1, UINT32_MAX, -1, &l)))
		return r;
	*one = t >= 0 || l >= 0;
	*target = t >= 0 ? (uint32_t)t : 0;
	*lun = l >= 0 ? (uint32_t)l : 0;
	return 0;
}

/* ---- stats ------------------------------------------------------------------ */

struct stats_call {
	int reset, histograms;
	struct json_object *result;
};

static int stats_on(ostor_device *dev, void *arg)
{
	struct stats_call *c = arg;

	/* The switch first: the answer shows the state it leaves. */
	if (c->histograms >= 0)
		ostor_stats_histograms(dev, c->histograms);
	c->result = ostori_stats_json_object(dev);
	if (c->reset > 0)
		ostor_stats_reset(dev);
	return 0;
}

/* {"device", "reset"?: true (after this answer), "histograms"?: bool} */
int ostori_method_stats(struct json_object *params, struct json_object **result)
{
	struct stats_call c = { 0 };
	const char *spec;
	int r;

	if ((r = ostori_param_string(params, "device", true, &spec)) ||
	    (r = ostori_param_bool(params, "reset", &c.reset)) ||
	    (r = ostori_param_bool(params, "histograms", &c.histograms)))
		return r;
	r = ostori_control_with_device(spec, stats_on, &c);
	if (r < 0)
		return r;
	*result = c.result;
	return 0;
}

/* ---- queues ----------------------------------------------------------------- */

/* A virtio-scsi device's request queue q is virtqueue 2 + q: its ring. */
static void add_virtqueue(ostor_device *dev, unsigned int q, struct json_object *o)
{
	struct ostor_virtio_queue_info vi = OSTOR_VIRTIO_QUEUE_INFO_INIT;
	struct json_object *v;

	if (ostor_virtio_queue_info(dev, 2 + q, &vi) < 0)
		return;
	v = json_object_new_object();
	json_object_object_add(v, "index", json_object_new_int((int)vi.index));
	json_object_object_add(v, "ring", json_object_new_string(vi.packed ? "packed" : "split"));
	json_object_object_add(v, "size", json_object_new_int((int)vi.queue_size));
	json_object_object_add(v, "inflight", json_object_new_int((int)vi.inflight));
	json_object_object_add(v, "submitted", json_object_new_uint64(vi.submitted));
	json_object_object_add(v, "completed", json_object_new_uint64(vi.completed));
	json_object_object_add(v, "notifications", json_object_new_uint64(vi.notifies));
	json_object_object_add(v, "renotifications", json_object_new_uint64(vi.renotifies));
	json_object_object_add(v, "errors", json_object_new_uint64(vi.errors));
	json_object_object_add(o, "virtqueue", v);
}

static int queues_on(ostor_device *dev, void *arg)
{
	struct json_object *arr = json_object_new_array();
	int nq = ostor_queue_count(dev);

	for (int q = -1; q < nq; q++) {
		struct ostor_stats st = OSTOR_STATS_INIT;
		struct json_object *o;

		if (ostor_stats_get(dev, OSTOR_STATS_QUEUE, q, 0, &st) < 0)
			continue;
		o = ostori_stats_object(&st);
		json_object_object_add(o, "queue", json_object_new_int(q));
		json_object_object_add(o, "owned", json_object_new_boolean(
					       q < 0 || ostori_channel_owned(ostori_device_channel(dev, (unsigned int)q))));
		if (q >= 0)
			add_virtqueue(dev, (unsigned int)q, o);
		json_object_array_add(arr, o);
	}
	*(struct json_object **)arg = arr;
	return 0;
}

/* {"device"} -> the queues' statistics, the shared path first (-1). */
int ostori_method_queues(struct json_object *params, struct json_object **result)
{
	struct json_object *arr = NULL;
	const char *spec;
	int r;

	if ((r = ostori_param_string(params, "device", true, &spec)))
		return r;
	r = ostori_control_with_device(spec, queues_on, &arr);
	if (r < 0)
		return r;
	*result = arr;
	return 0;
}

/* ---- commands, abort, queue_flush: with a reference ---------------------------- */

static struct json_object *tag_json(uint64_t tag)
{
	char buf[24];

	snprintf(buf, sizeof(buf), "%#llx", (unsigned long long)tag);
	return json_object_new_string(buf);
}

static struct json_object *command_json(const struct ostori_cmd_info *c)
{
	struct json_object *o = json_object_new_object();
	char hex[3 * sizeof(c->cdb) + 1] = "";
	size_t pos = 0;

	for (unsigned int i = 0; i < c->cdb_len; i++)
		pos += (size_t)snprintf(hex + pos, sizeof(hex) - pos, "%s%02x", i ? " " : "", c->cdb[i]);
	json_object_object_add(o, "queue", json_object_new_int(c->queue));
	json_object_object_add(o, "tag", tag_json(c->tag));
	json_object_object_add(o, "target", json_object_new_int64(c->target));
	json_object_object_add(o, "lun", json_object_new_int64(c->lun));
	json_object_object_add(o, "cdb", json_object_new_string(hex));
	json_object_object_add(o, "command", json_object_new_string(ostor_scsi_opcode_name(c->cdb[0])));
	json_object_object_add(o, "state", json_object_new_string(c->cancelling ? "aborting" :
								    c->waiting ? "waiting" : "at-device"));
	json_object_object_add(o, "age_ms", c->age_ns >= 0 ? json_object_new_double((double)c->age_ns / 1e6)
							    : NULL);
	json_object_object_add(o, "listed_ms", json_object_new_double((double)c->listed_ns / 1e6));
	return o;
}

/* {"device", "timeout_ms"?} -> {"commands": [...], "total", "silent_queues"} */
int ostori_method_commands(struct json_object *params, struct json_object **result)
{
	struct ostori_cmd_list l;
	struct json_object *o, *arr;
	ostor_device *dev;
	const char *spec;
	int64_t wait;
	int r;

	if ((r = ostori_param_string(params, "device", true, &spec)) ||
	    (r = ostori_param_int(params, "timeout_ms", 1, MAX_WAIT_MS, DEFAULT_WAIT_MS, &wait)))
		return r;
	if ((r = ostori_control_hold_device(spec, &dev)) < 0)
		return r;
	r = ostori_manage_commands(dev, &l, MAX_LISTED, (int)wait);
	ostori_control_release_device(dev);
	if (r < 0)
		return r;
	o = json_object_new_object();
	arr = json_object_new_array();
	for (size_t i = 0; i < l.n && i < l.cap; i++)
		json_object_array_add(arr, command_json(&l.cmds[i]));
	json_object_object_add(o, "commands", arr);
	json_object_object_add(o, "total", json_object_new_int64((int64_t)l.n));
	json_object_object_add(o, "silent_queues", json_object_new_int((int)l.queues_silent));
	free(l.cmds);
	*result = o;
	return 0;
}

/* {"device", "tag", "timeout_ms"?} -> {"tag", "outcome"} */
int ostori_method_abort(struct json_object *params, struct json_object **result)
{
	struct json_object *o;
	ostor_device *dev;
	const char *spec;
	int64_t tag, wait;
	int r;

	if ((r = ostori_param_string(params, "device", true, &spec)) ||
	    (r = ostori_param_int(params, "tag", 1, INT64_MAX, 0, &tag)) ||
	    (r = ostori_param_int(params, "timeout_ms", 1, MAX_WAIT_MS, 30000, &wait)))
		return r;
	if (!tag)
		return ostori_error(OSTOR_ERROR_INVALID_PARAM, "parameter \"tag\" is required (see the "
				    "\"commands\" method)");
	if ((r = ostori_control_hold_device(spec, &dev)) < 0)
		return r;
	r = ostori_manage_abort(dev, (uint64_t)tag, (int)wait);
	ostori_control_release_device(dev);
	if (r < 0)
		return r;
	o = json_object_new_object();
	json_object_object_add(o, "tag", tag_json((uint64_t)tag));
	json_object_object_add(o, "outcome", json_object_new_string(ostor_tmf_outcome_name(r)));
	*result = o;
	return 0;
}

/* {"device", "queue", "timeout_ms"?} -> the flush report */
int ostori_method_queue_flush(struct json_object *params, struct json_object **result)
{
	struct ostori_flush_report rep;
	struct json_object *o;
	ostor_device *dev;
	const char *spec;
	int64_t queue, wait;
	int r;

	if ((r = ostori_param_string(params, "device", true, &spec)) ||
	    (r = ostori_param_int(params, "queue", -1, 65535, -2, &queue)) ||
	    (r = ostori_param_int(params, "timeout_ms", 1, MAX_WAIT_MS, 10000, &wait)))
		return r;
	if (queue == -2)
		return ostori_error(OSTOR_ERROR_INVALID_PARAM, "parameter \"queue\" is required (-1: the "
				    "shared path)");
	if ((r = ostori_control_hold_device(spec, &dev)) < 0)
		return r;
	r = ostori_manage_flush(dev, (int)queue, (int)wait, &rep);
	ostori_control_release_device(dev);
	if (r < 0)
		return r;
	o = json_object_new_object();
	json_object_object_add(o, "queue", json_object_new_int((int)queue));
	json_object_object_add(o, "inflight_before", json_object_new_int((int)rep.inflight_before));
	json_object_object_add(o, "held_back", json_object_new_int((int)rep.held_back));
	json_object_object_add(o, "remaining", json_object_new_int((int)rep.remaining));
	json_object_object_add(o, "waited_ms", json_object_new_double((double)rep.waited_ns / 1e6));
	json_object_object_add(o, "timed_out", json_object_new_boolean(rep.timed_out));
	*result = o;
	return 0;
}

/* ---- tuning -------------------------------------------------------------------- */

/* "write-back, lru, 16777216 bytes, read-ahead up to 131072 bytes" or "off":
 * the block cache (a command cache of identification answers is another). */
static const char *block_cache_text(ostor_device *dev, char *buf, size_t len)
{
	struct ostor_cache_info ci = OSTOR_CACHE_INFO_INIT;

	if (ostor_cache_info(dev, OSTOR_EVENT_ALL, OSTOR_EVENT_ALL, &ci) < 0 || ci.mode == OSTOR_CACHE_OFF)
		return "off";
	if (ci.read_ahead_max_bytes)
		snprintf(buf, len, "%s, %s, %llu bytes, read-ahead up to %llu bytes", ostor_cache_mode_name(ci.mode),
			 ci.policy, (unsigned long long)ci.capacity_bytes, (unsigned long long)ci.read_ahead_max_bytes);
	else
		snprintf(buf, len, "%s, %s, %llu bytes, no read-ahead", ostor_cache_mode_name(ci.mode), ci.policy,
			 (unsigned long long)ci.capacity_bytes);
	return buf;
}

static int tuning_on(ostor_device *dev, void *arg)
{
	struct ostori_setting set[48];
	char text[160];
	struct json_object *arr = json_object_new_array();
	int n = dev->backend->tuning ? dev->backend->tuning(dev, set, (int)OSTOR_ARRAY_SIZE(set)) : 0;

	/* What the core decides for every device. */
	for (int i = 0; i < n && i < (int)OSTOR_ARRAY_SIZE(set); i++) {
		struct json_object *o = json_object_new_object();

		json_object_object_add(o, "name", json_object_new_string(set[i].name));
		json_object_object_add(o, "value", json_object_new_string(set[i].value));
		json_object_object_add(o, "source", json_object_new_string(set[i].source));
		json_object_array_add(arr, o);
	}
	{
		struct json_object *o = json_object_new_object();

		json_object_object_add(o, "name", json_object_new_string("queues"));
		json_object_object_add(o, "value", json_object_new_int(ostor_queue_count(dev)));
		json_object_object_add(o, "source", json_object_new_string("the device"));
		json_object_array_add(arr, o);
		o = json_object_new_object();
		json_object_object_add(o, "name", json_object_new_string("block_cache"));
		json_object_object_add(o, "value", json_object_new_string(block_cache_text(dev, text, sizeof(text))));
		json_object_object_add(o, "source", json_object_new_string(
			dev->bcache_params.source && *dev->bcache_params.source ? dev->bcache_params.source :
			"[usb_storage] cache_enabled, [virtio_scsi] write_back_cache or the spec's cache="));
		json_object_array_add(arr, o);
		o = json_object_new_object();
		json_object_object_add(o, "name", json_object_new_string("latency_histograms"));
		json_object_object_add(o, "value", json_object_new_string(ostor_stats_histograms(dev, -1) == 1 ? "on" : "off"));
		json_object_object_add(o, "source", json_object_new_string("performance_monitoring_enabled, or switched live"));
		json_object_array_add(arr, o);
	}
	*(struct json_object **)arg = arr;
	return 0;
}

/* {"device"} -> [{"name", "value", "source"}] */
int ostori_method_tuning(struct json_object *params, struct json_object **result)
{
	struct json_object *arr = NULL;
	const char *spec;
	int r;

	if ((r = ostori_param_string(params, "device", true, &spec)))
		return r;
	r = ostori_control_with_device(spec, tuning_on, &arr);
	if (r < 0)
		return r;
	*result = arr;
	return 0;
}

/* ---- reset ---------------------------------------------------------------------- */

/* {"device", "level": "lun" | "target" | "device", "target"?, "lun"?}
 * -> {"level", "done_by": the level asked for, or "a larger reset"} */
int ostori_method_reset(struct json_object *params, struct json_object **result)
{
	static const char *const names[] = { "", "lun", "target", "device" };
	enum ostor_reset_level level = 0;
	struct json_object *o;
	ostor_device *dev;
	const char *spec, *lv;
	int64_t target, lun;
	int r;

	if ((r = ostori_param_string(params, "device", true, &spec)) ||
	    (r = ostori_param_string(params, "level", true, &lv)) ||
	    (r = ostori_param_int(params, "target", 0, UINT32_MAX, 0, &target)) ||
	    (r = ostori_param_int(params, "lun", 0, UINT32_MAX, 0, &lun)))
		return r;
	for (int i = 1; i < 4; i++)
		if (!strcmp(lv, names[i]))
			level = (enum ostor_reset_level)i;
	if (!level)
		return ostori_error(OSTOR_ERROR_INVALID_PARAM, "parameter \"level\": '%s' is not lun, target or "
				    "device", lv);
	if ((r = ostori_control_hold_device(spec, &dev)) < 0)
		return r;
	r = ostor_reset(dev, level, (uint32_t)target, (uint32_t)lun);
	ostori_control_release_device(dev);
	if (r < 0)
		return r;
	o = json_object_new_object();
	json_object_object_add(o, "level", json_object_new_string(lv));
	json_object_object_add(o, "done_by", json_object_new_string(r == 0 ? lv : "a larger reset"));
	*result = o;
	return 0;
}
