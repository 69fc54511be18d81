/*
 * lib/core/health_monitor.c - SMART monitoring of an open device
 * (smart_monitoring_enabled, smart_check_interval, the spec's
 * smart_check_interval=): a thread per monitored device reads the health
 * of each LUN when the device is opened and every interval after, logs a
 * warning and posts OSTOR_EVENT_HEALTH_CHANGED when the verdict or the set
 * of failing prefail attributes changes, and keeps the last report for
 * the control method "health".
 *
 * The thread only issues the same synchronous commands any application
 * thread may; it is stopped (and joined) before the device closes.
 */
#include "core/health.h"

#include <errno.h>
#include <json-c/json.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define MONITOR_LUNS_MAX 64
/* Shortest interval: a check costs a few commands per LUN. */
#define MONITOR_MIN_MS 1000u
#define MONITOR_MAX_MS (7u * 24 * 3600 * 1000)

struct monitored_lun {
	uint32_t target, lun;
	bool checked;                     /* a report or an error came */
	int verdict;
	uint32_t failing[8];              /* bitmap of failing prefail attribute ids */
	ostor_health *last;               /* NULL until a check succeeded */
	int error;                        /* the last check's error, or 0 */
	char message[160];
	uint64_t when_ms;                 /* ostori_now_ms of the last check */
};

struct ostori_health_monitor {
	ostor_device *dev;
	pthread_t thread;
	pthread_mutex_t lock;             /* everything below */
	pthread_cond_t cond;
	bool stop;
	unsigned int interval_ms;
	uint64_t checks, changes;
	struct monitored_lun luns[MONITOR_LUNS_MAX];
	size_t nluns;
};

int ostori_health_spec(const char *text, struct ostor_spec *spec, unsigned int *interval_ms)
{
	const struct ostor_spec_option *o = ostori_spec_get(spec, "smart_check_interval");
	unsigned long long v;
	char *end;

	if (!o)
		return 0;
	errno = 0;
	v = o->value ? strtoull(o->value, &end, 10) : 0;
	if (!o->value || !*o->value || errno || *end || v < 1 || v > MONITOR_MAX_MS / 1000)
		return ostori_error(OSTOR_ERROR_BAD_SPEC, "%s: smart_check_interval=%s: expected seconds "
				    "from 1 to %u (SMART monitoring: a health check of every LUN that often)",
				    text, o->value ? o->value : "", MONITOR_MAX_MS / 1000);
	*interval_ms = (unsigned int)(v * 1000);
	return 0;
}

static void failing_set(const ostor_health *h, uint32_t set[8])
{
	const struct ostor_scsi_ata_smart_data *d = ostor_health_ata_smart(h);

	memset(set, 0, 8 * sizeof(set[0]));
	if (!d)
		return;
	for (size_t i = 0; i < d->count && i < OSTOR_ATA_SMART_ATTRS_MAX; i++)
		if (d->attrs[i].failing_now)
			set[d->attrs[i].id / 32] |= 1u << (d->attrs[i].id % 32);
}

/* One LUN: read its health, compare, report.  Called without m->lock (it
 * issues commands); the LUN's entry is only written by this thread. */
static void check_lun(struct ostori_health_monitor *m, struct monitored_lun *ml)
{
	ostor_device *dev = m->dev;
	ostor_health *h = NULL, *old;
	uint32_t set[8];
	bool changed, worse;
	int r;

	ostori_clear_error();
	r = ostor_health_get(dev, ml->target, ml->lun, OSTOR_HEALTH_PROTO_AUTO, OSTOR_HEALTH_STATUS_ONLY, &h);
	pthread_mutex_lock(&m->lock);
	m->checks++;
	ml->when_ms = ostori_now_ms();
	if (r < 0) {
		if (ml->error != r)
			ostor_dbg(dev->ctx, "%s %u:%u: SMART check failed: %s", dev->spec, ml->target, ml->lun,
				  ostor_last_error());
		ml->error = r;
		snprintf(ml->message, sizeof(ml->message), "%s", ostor_last_error());
		pthread_mutex_unlock(&m->lock);
		return;
	}
	ml->error = 0;
	ml->message[0] = '\0';
	failing_set(h, set);
	changed = !ml->checked ? ostor_health_verdict(h) == OSTOR_HEALTH_FAILING :
		  ostor_health_verdict(h) != ml->verdict || memcmp(set, ml->failing, sizeof(set));
	worse = ostor_health_verdict(h) == OSTOR_HEALTH_FAILING &&
		(!ml->checked || ml->verdict != OSTOR_HEALTH_FAILING || memcmp(set, ml->failing, sizeof(set)));
	ml->checked = true;
	ml->verdict = ostor_health_verdict(h);
	memcpy(ml->failing, set, sizeof(set));
	old = ml->last;
	ml->last = h;
	if (changed)
		m->changes++;
	pthread_mutex_unlock(&m->lock);
	ostor_health_free(old);
	if (worse)
		ostor_warn(dev->ctx, "%s %u:%u: SMART health %s: %s", dev->spec, ml->target, ml->lun,
			   ostor_health_verdict_name(ostor_health_verdict(h)), ostor_health_reason(h));
	else if (changed)
		ostor_info(dev->ctx, "%s %u:%u: SMART health now %s: %s", dev->spec, ml->target, ml->lun,
			   ostor_health_verdict_name(ostor_health_verdict(h)), ostor_health_reason(h));
	if (changed)
		ostori_post_event(dev, OSTOR_EVENT_HEALTH_CHANGED, ml->target, ml->lun, worse ? 1 : 0, 0);
}

static void find_luns(struct ostori_health_monitor *m)
{
	struct ostor_lun_addr *all = NULL;
	size_t count = 0;

	if (ostor_device_luns(m->dev, &all, &count) < 0 || count == 0) {
		free(all);
		all = NULL;
		count = 0;
	}
	pthread_mutex_lock(&m->lock);
	if (count == 0) {
		m->luns[0] = (struct monitored_lun){ .target = 0, .lun = 0 };
		m->nluns = 1;
	}
	for (size_t i = 0; i < count && i < MONITOR_LUNS_MAX; i++) {
		m->luns[i] = (struct monitored_lun){ .target = all[i].target, .lun = all[i].lun };
		m->nluns = i + 1;
	}
	pthread_mutex_unlock(&m->lock);
	free(all);
}

static void *monitor_main(void *arg)
{
	struct ostori_health_monitor *m = arg;
	struct timespec until;

	find_luns(m);
	for (;;) {
		for (size_t i = 0; i < m->nluns; i++) {
			pthread_mutex_lock(&m->lock);
			bool stop = m->stop;
			pthread_mutex_unlock(&m->lock);
			if (stop)
				return NULL;
			check_lun(m, &m->luns[i]);
		}
		clock_gettime(CLOCK_MONOTONIC, &until);
		until.tv_sec += m->interval_ms / 1000;
		until.tv_nsec += (long)(m->interval_ms % 1000) * 1000000L;
		if (until.tv_nsec >= 1000000000L) {
			until.tv_sec++;
			until.tv_nsec -= 1000000000L;
		}
		pthread_mutex_lock(&m->lock);
		while (!m->stop && pthread_cond_timedwait(&m->cond, &m->lock, &until) != ETIMEDOUT)
			;
		bool stop = m->stop;
		pthread_mutex_unlock(&m->lock);
		if (stop)
			return NULL;
	}
}

int ostori_health_monitor_start(ostor_device *dev)
{
	struct ostori_health_monitor *m;
	pthread_condattr_t ca;
	int e;

	if (!dev->health_interval_ms)
		return 0;
	m = calloc(1, sizeof(*m));
	if (!m)
		return ostori_error(OSTOR_ERROR_NO_MEM, "SMART monitoring: out of memory");
	m->dev = dev;
	m->interval_ms = dev->health_interval_ms < MONITOR_MIN_MS ? MONITOR_MIN_MS : dev->health_interval_ms;
	pthread_mutex_init(&m->lock, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&m->cond, &ca);
	pthread_condattr_destroy(&ca);
	if ((e = pthread_create(&m->thread, NULL, monitor_main, m)) != 0) {
		pthread_cond_destroy(&m->cond);
		pthread_mutex_destroy(&m->lock);
		free(m);
		return ostori_error(OSTOR_ERROR_NO_MEM, "SMART monitoring: cannot start its thread (%s)",
				    strerror(e));
	}
	dev->health_monitor = m;
	ostor_dbg(dev->ctx, "%s: SMART monitoring every %u s", dev->spec, m->interval_ms / 1000);
	return 0;
}

void ostori_health_monitor_stop(ostor_device *dev)
{
	struct ostori_health_monitor *m = dev->health_monitor;

	if (!m)
		return;
	pthread_mutex_lock(&m->lock);
	m->stop = true;
	pthread_cond_broadcast(&m->cond);
	pthread_mutex_unlock(&m->lock);
	pthread_join(m->thread, NULL);
	dev->health_monitor = NULL;
	for (size_t i = 0; i < m->nluns; i++)
		ostor_health_free(m->luns[i].last);
	pthread_cond_destroy(&m->cond);
	pthread_mutex_destroy(&m->lock);
	free(m);
}

/* {"enabled", "interval_s", "checks", "changes", "luns": [{"target",
 * "lun", "checked_ms_ago", "error"?, "message"?, "report"?}]} */
struct json_object *ostori_health_monitor_json(ostor_device *dev)
{
	struct ostori_health_monitor *m = dev->health_monitor;
	struct json_object *o = json_object_new_object(), *arr;
	uint64_t now = ostori_now_ms();

	json_object_object_add(o, "enabled", json_object_new_boolean(m != NULL));
	if (!m)
		return o;
	arr = json_object_new_array();
	pthread_mutex_lock(&m->lock);
	json_object_object_add(o, "interval_s", json_object_new_int64(m->interval_ms / 1000));
	json_object_object_add(o, "checks", json_object_new_uint64(m->checks));
	json_object_object_add(o, "changes", json_object_new_uint64(m->changes));
	for (size_t i = 0; i < m->nluns; i++) {
		const struct monitored_lun *ml = &m->luns[i];
		struct json_object *l = json_object_new_object();

		json_object_object_add(l, "target", json_object_new_int64(ml->target));
		json_object_object_add(l, "lun", json_object_new_int64(ml->lun));
		json_object_object_add(l, "checked_ms_ago", ml->when_ms ?
				       json_object_new_uint64(now - ml->when_ms) : NULL);
		if (ml->error) {
			json_object_object_add(l, "error", json_object_new_string(ostor_error_name(ml->error)));
			json_object_object_add(l, "message", json_object_new_string(ml->message));
		}
		json_object_object_add(l, "report", ml->last ? ostori_health_json_object(ml->last) : NULL);
		json_object_array_add(arr, l);
	}
	pthread_mutex_unlock(&m->lock);
	json_object_object_add(o, "luns", arr);
	return o;
}
