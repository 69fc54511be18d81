/*
 * lib/core/stats.c - statistics: the blocks behind the counters (see
 * stats.h), adding them up per scope, percentiles from the histograms,
 * reset by baseline, and the JSON form.
 */
#include "core/backend.h"
#include "util/sized.h"

#include <json-c/json.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#if defined(__x86_64__) || defined(__i386__)
#include <cpuid.h>
#endif

bool ostori_ticks_tsc;

/* Ticks to nanoseconds: a pair of readings taken when the library was
 * loaded, against one taken now (no calibration sleep). */
static uint64_t tick0, mono0;

static uint64_t mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

__attribute__((constructor)) static void ticks_init(void)
{
#if defined(__x86_64__) || defined(__i386__)
	unsigned int a, b, c, d;

	/* Invariant TSC (CPUID 8000_0007h EDX bit 8): constant rate, runs in
	 * every power state, the same on every CPU. */
	if (__get_cpuid(0x80000000u, &a, &b, &c, &d) && a >= 0x80000007u &&
	    __get_cpuid(0x80000007u, &a, &b, &c, &d) && (d & (1u << 8)))
		ostori_ticks_tsc = true;
#endif
	mono0 = mono_ns();
	tick0 = ostori_ticks();
}

/* Nanoseconds per tick, measured over the library's life so far. */
static double ns_per_tick(void)
{
	uint64_t dt, dn;

	if (!ostori_ticks_tsc)
		return 1.0;
	dt = ostori_ticks() - tick0;
	dn = mono_ns() - mono0;
	return dt && dn ? (double)dn / (double)dt : 1.0;
}

uint64_t ostori_ticks_ns(uint64_t ticks)
{
	return (uint64_t)((double)ticks * ns_per_tick());
}

#define R OSTOR_IO_READ
#define W OSTOR_IO_WRITE
const uint8_t ostori_io_kind_of[256] = {
	/* Everything else: 0, OSTOR_IO_OTHER. */
	[OSTOR_SCSI_OP_READ6] = R, [OSTOR_SCSI_OP_READ10] = R, [OSTOR_SCSI_OP_READ12] = R,
	[OSTOR_SCSI_OP_READ16] = R,
	[OSTOR_SCSI_OP_WRITE6] = W, [OSTOR_SCSI_OP_WRITE10] = W, [OSTOR_SCSI_OP_WRITE12] = W,
	[OSTOR_SCSI_OP_WRITE16] = W, [OSTOR_SCSI_OP_WRITE_SAME10] = W, [OSTOR_SCSI_OP_WRITE_SAME16] = W,
	[OSTOR_SCSI_OP_COMPARE_AND_WRITE] = W, [0x2e] = W /* WRITE AND VERIFY(10) */,
	[0x8e] = W /* WRITE AND VERIFY(16) */,
	[OSTOR_SCSI_OP_SYNCHRONIZE_CACHE10] = OSTOR_IO_FLUSH,
	[OSTOR_SCSI_OP_SYNCHRONIZE_CACHE16] = OSTOR_IO_FLUSH,
	[OSTOR_SCSI_OP_UNMAP] = OSTOR_IO_UNMAP,
};
#undef R
#undef W

OSTOR_API const char *ostor_io_kind_name(int kind)
{
	static const char *const names[] = { "other", "read", "write", "flush", "unmap" };

	return kind >= 0 && kind < OSTOR_IO_KINDS ? names[kind] : "unknown";
}

/* ---- writers -------------------------------------------------------------- */

struct ostori_lun_stats *ostori_stats_lun(ostor_device *dev, struct ostori_queue_stats *qs, uint32_t target,
					  uint32_t lun)
{
	struct ostori_lun_stats *ls;

	for (ls = atomic_load_explicit(&qs->luns, memory_order_relaxed); ls; ls = ls->next)
		if (ls->target == target && ls->lun == lun)
			return qs->last = ls;
	ls = calloc(1, sizeof(*ls));
	if (!ls) {
		if (!atomic_exchange(&dev->stats_nomem, true))
			ostor_warn(dev->ctx, "%s: out of memory for statistics of %u:%u; its commands go "
				   "uncounted", dev->spec, target, lun);
		return NULL;
	}
	ls->target = target;
	ls->lun = lun;
	ls->next = atomic_load_explicit(&qs->luns, memory_order_relaxed);
	/* Release: a reader that finds it sees it whole. */
	atomic_store_explicit(&qs->luns, ls, memory_order_release);
	return qs->last = ls;
}

struct ostori_hist *ostori_stats_hist_alloc(ostor_device *dev, struct ostori_lun_stats *ls)
{
	struct ostori_hist *h = calloc(OSTOR_IO_KINDS, sizeof(*h));

	if (!h) {
		if (!atomic_exchange(&dev->stats_nomem, true))
			ostor_warn(dev->ctx, "%s: out of memory for latency histograms", dev->spec);
		return NULL;
	}
	atomic_store_explicit(&ls->hist, h, memory_order_release);
	return h;
}

/* ---- set-up ----------------------------------------------------------------- */

void ostori_queue_stats_free(struct ostori_queue_stats *qs)
{
	struct ostori_lun_stats *ls = atomic_load_explicit(&qs->luns, memory_order_relaxed), *next;

	for (; ls; ls = next) {
		next = ls->next;
		free(atomic_load_explicit(&ls->hist, memory_order_relaxed));
		free(ls->base);
		free(ls->hist_base);
		free(ls);
	}
	atomic_store_explicit(&qs->luns, NULL, memory_order_relaxed);
	qs->last = NULL;
}

void ostori_stats_init(ostor_device *dev)
{
	pthread_mutex_init(&dev->stats_lock, NULL);
	dev->stats_epoch_ns = mono_ns();
}

/* The channels' blocks went with them (ostori_channels_free). */
void ostori_stats_free(ostor_device *dev)
{
	ostori_queue_stats_free(&dev->shared_stats);
	pthread_mutex_destroy(&dev->stats_lock);
}

OSTOR_API int ostor_stats_histograms(ostor_device *dev, int enable)
{
	if (!dev)
		return ostori_error(OSTOR_ERROR_INVALID_PARAM, "ostor_stats_histograms: NULL device");
	if (enable < 0)
		return atomic_load(&dev->hist_on);
	return atomic_exchange(&dev->hist_on, enable != 0);
}

/* ---- readers ---------------------------------------------------------------- */

/* What a scope adds up, raw (baselines not yet subtracted). */
struct sum {
	uint64_t commands[OSTOR_IO_KINDS], bytes[OSTOR_IO_KINDS], results[OSTORI_STATS_RESULTS];
	uint64_t *hist;                      /* [OSTOR_IO_KINDS][OSTORI_HIST_BUCKETS] */
	uint64_t hist_sum[OSTOR_IO_KINDS];
};

static uint64_t ld(_Atomic uint64_t *p)
{
	return atomic_load_explicit(p, memory_order_relaxed);
}

/* stats_lock held (the baselines). */
static void add_block(struct sum *s, struct ostori_lun_stats *ls)
{
	struct ostori_hist *h = atomic_load_explicit(&ls->hist, memory_order_acquire);

	for (int k = 0; k < OSTOR_IO_KINDS; k++) {
		s->commands[k] += ld(&ls->io.commands[k]) - (ls->base ? ls->base->commands[k] : 0);
		s->bytes[k] += ld(&ls->io.bytes[k]) - (ls->base ? ls->base->bytes[k] : 0);
	}
	for (int r = 0; r < OSTORI_STATS_RESULTS; r++)
		s->results[r] += ld(&ls->io.results[r]) - (ls->base ? ls->base->results[r] : 0);
	if (!h || !s->hist)
		return;
	for (int k = 0; k < OSTOR_IO_KINDS; k++) {
		const struct ostori_hist *b = ls->hist_base ? &ls->hist_base[k] : NULL;

		for (unsigned int i = 0; i < OSTORI_HIST_BUCKETS; i++)
			s->hist[k * OSTORI_HIST_BUCKETS + i] += ld(&h[k].bucket[i]) - (b ? b->bucket[i] : 0);
		s->hist_sum[k] += ld(&h[k].sum) - (b ? b->sum : 0);
	}
}

static bool in_scope(const struct ostori_lun_stats *ls, enum ostor_stats_scope scope, int id, uint32_t lun)
{
	switch (scope) {
	case OSTOR_STATS_TARGET: return ls->target == (uint32_t)id;
	case OSTOR_STATS_LUN: return ls->target == (uint32_t)id && ls->lun == lun;
	default: return true;
	}
}

static void add_queue(struct sum *s, struct ostori_queue_stats *qs, enum ostor_stats_scope scope, int id,
		      uint32_t lun)
{
	for (struct ostori_lun_stats *ls = atomic_load_explicit(&qs->luns, memory_order_acquire); ls; ls = ls->next)
		if (in_scope(ls, scope, id, lun))
			add_block(s, ls);
}

/* Lower and upper bound, in ticks, of histogram bucket i. */
static uint64_t bucket_low(unsigned int i)
{
	unsigned int e, m;

	if (i < OSTORI_HIST_SUB)
		return i;
	e = i / OSTORI_HIST_SUB + OSTORI_HIST_SUB_BITS - 1;
	m = i % OSTORI_HIST_SUB;
	return (1ull << e) + ((uint64_t)m << (e - OSTORI_HIST_SUB_BITS));
}

static uint64_t bucket_high(unsigned int i)
{
	return i + 1 < OSTORI_HIST_BUCKETS ? bucket_low(i + 1) : bucket_low(i) * 2;
}

static void latency_of(const uint64_t *b, uint64_t sum, double npt, struct ostor_latency *lat)
{
	static const double q[] = { 0.5, 0.9, 0.99, 0.999 };
	uint64_t *out[] = { &lat->p50_ns, &lat->p90_ns, &lat->p99_ns, &lat->p999_ns };
	uint64_t n = 0, seen = 0;
	unsigned int lo = OSTORI_HIST_BUCKETS, hi = 0, qi = 0;

	memset(lat, 0, sizeof(*lat));
	for (unsigned int i = 0; i < OSTORI_HIST_BUCKETS; i++) {
		if (!b[i])
			continue;
		n += b[i];
		if (lo == OSTORI_HIST_BUCKETS)
			lo = i;
		hi = i;
	}
	lat->count = n;
	if (!n)
		return;
	lat->min_ns = (uint64_t)llround((double)bucket_low(lo) * npt);
	lat->max_ns = (uint64_t)llround((double)bucket_high(hi) * npt);
	lat->mean_ns = (uint64_t)llround((double)sum / (double)n * npt);
	for (unsigned int i = lo; i <= hi && qi < 4; i++) {
		seen += b[i];
		/* The bucket holding the q-th value (nearest rank). */
		while (qi < 4 && (double)seen >= ceil(q[qi] * (double)n)) {
			*out[qi] = (uint64_t)llround((double)bucket_high(i) * npt);
			qi++;
		}
	}
}

static int check_scope(ostor_device *dev, enum ostor_stats_scope scope, int id)
{
	if (scope < OSTOR_STATS_DEVICE || scope > OSTOR_STATS_QUEUE)
		return ostori_error(OSTOR_ERROR_INVALID_PARAM, "ostor_stats_get: scope %d is not one of "
				    "OSTOR_STATS_DEVICE, _TARGET, _LUN or _QUEUE", (int)scope);
	if (scope == OSTOR_STATS_QUEUE && (id < -1 || (id >= 0 && (unsigned int)id >= dev->nchannels)))
		return ostori_error(OSTOR_ERROR_INVALID_PARAM, "ostor_stats_get: %s has queues 0 to %u "
				    "(and -1, the shared path); not %d", dev->spec, dev->nchannels - 1, id);
	if ((scope == OSTOR_STATS_TARGET || scope == OSTOR_STATS_LUN) && id < 0)
		return ostori_error(OSTOR_ERROR_INVALID_PARAM, "ostor_stats_get: target %d is negative", id);
	return 0;
}

/* A queue's depth figures (raw minus baseline). */
/* Depths add up over queues; the busy time is the busiest queue's. */
static void add_depth(struct ostor_stats *st, struct ostori_queue_stats *qs, uint32_t depth_now,
		      uint64_t *depth_ticks, uint64_t *busy_ticks)
{
	uint32_t mx = atomic_load_explicit(&qs->depth_max, memory_order_relaxed);
	uint64_t busy = ld(&qs->busy_ticks) - qs->base_busy_ticks;

	st->depth += depth_now;
	st->depth_max += mx;
	*depth_ticks += ld(&qs->depth_ticks) - qs->base_depth_ticks;
	if (busy > *busy_ticks)
		*busy_ticks = busy;
	st->batches += ld(&qs->batches) - qs->base_batches;
}

static const struct ostori_sized stats_sized =
	OSTORI_SIZED(struct ostor_stats, OSTOR_STATS_INIT, OSTORI_FIELD_END(struct ostor_stats, latency));
OSTORI_SIZED_CHECK(struct ostor_stats, latency);

/* stats_lock held. */
static int stats_get_locked(ostor_device *dev, enum ostor_stats_scope scope, int id, uint32_t lun,
			    struct ostor_stats *out)
{
	struct ostor_stats st;
	struct sum s;
	uint64_t depth_ticks = 0, busy_ticks = 0, elapsed_ticks = 0;
	double npt = ns_per_tick();
	unsigned int first = 0, last = dev->nchannels;
	bool shared = true;

	memset(&st, 0, sizeof(st));
	memset(&s, 0, sizeof(s));
	s.hist = calloc((size_t)OSTOR_IO_KINDS * OSTORI_HIST_BUCKETS, sizeof(uint64_t));
	if (!s.hist)
		return ostori_error(OSTOR_ERROR_NO_MEM, "out of memory adding up statistics");
	if (scope == OSTOR_STATS_QUEUE) {
		shared = id < 0;
		first = id < 0 ? 0 : (unsigned int)id;
		last = id < 0 ? 0 : first + 1;
	}
	for (unsigned int i = first; i < last; i++) {
		struct ostori_channel *ch = ostori_device_channel(dev, i);
		struct ostori_queue_stats *qs = ostori_channel_stats(ch);

		add_queue(&s, qs, scope, id, lun);
		add_depth(&st, qs, ostori_channel_inflight(ch), &depth_ticks, &busy_ticks);
		st.queues++;
	}
	if (shared) {
		add_queue(&s, &dev->shared_stats, scope, id, lun);
		add_depth(&st, &dev->shared_stats, __atomic_load_n(&dev->inflight, __ATOMIC_RELAXED), &depth_ticks,
			  &busy_ticks);
		if (scope == OSTOR_STATS_QUEUE)
			st.queues++;
	}
	memcpy(st.commands, s.commands, sizeof(st.commands));
	memcpy(st.bytes, s.bytes, sizeof(st.bytes));
	memcpy(st.results, s.results, sizeof(st.results));
	/* Writers count every result but GOOD (see ostori_stats_complete). */
	{
		uint64_t all = 0, failed = 0;

		for (int k = 0; k < OSTOR_IO_KINDS; k++)
			all += st.commands[k];
		for (int r = 1; r < OSTORI_STATS_RESULTS; r++)
			failed += st.results[r];
		/* (Read while counting goes on, failed may be ahead.) */
		st.results[OSTOR_RESULT_GOOD] = all > failed ? all - failed : 0;
	}
	st.retries = ld(&dev->counts.retries) - dev->counts_base.retries;
	st.aborts = ld(&dev->counts.aborts) - dev->counts_base.aborts;
	st.queue_full_waits = ld(&dev->counts.queue_full_waits) - dev->counts_base.queue_full_waits;
	for (int i = 0; i < 4; i++)
		st.resets[i] = ld(&dev->counts.resets[i]) - dev->counts_base.resets[i];
	st.elapsed_ns = mono_ns() - dev->stats_epoch_ns;
	elapsed_ticks = (uint64_t)((double)st.elapsed_ns / npt);
	if (elapsed_ticks) {
		st.depth_avg = (double)depth_ticks / (double)elapsed_ticks;
		st.utilisation = (double)busy_ticks / (double)elapsed_ticks;
		if (st.utilisation > 1.0)
			st.utilisation = 1.0;
	}
	st.histograms = atomic_load(&dev->hist_on);
	for (int k = 0; k < OSTOR_IO_KINDS; k++)
		latency_of(s.hist + (size_t)k * OSTORI_HIST_BUCKETS, s.hist_sum[k], npt, &st.latency[k]);
	free(s.hist);
	ostori_sized_put(&stats_sized, out, &st);
	return 0;
}

OSTOR_API int ostor_stats_get(ostor_device *dev, enum ostor_stats_scope scope, int id, uint32_t lun,
			      struct ostor_stats *out)
{
	int r;

	if (!dev)
		return ostori_error(OSTOR_ERROR_INVALID_PARAM, "ostor_stats_get: NULL device");
	if ((r = ostori_sized_check(&stats_sized, out, __func__, "stats")) < 0 ||
	    (r = check_scope(dev, scope, id)) < 0)
		return r;
	pthread_mutex_lock(&dev->stats_lock);
	r = stats_get_locked(dev, scope, id, lun, out);
	pthread_mutex_unlock(&dev->stats_lock);
	return r;
}

/* ---- reset -------------------------------------------------------------------- */

static int base_block(struct ostori_lun_stats *ls)
{
	struct ostori_hist *h = atomic_load_explicit(&ls->hist, memory_order_acquire);

	if (!ls->base && !(ls->base = calloc(1, sizeof(*ls->base))))
		return -1;
	for (int k = 0; k < OSTOR_IO_KINDS; k++) {
		ls->base->commands[k] = ld(&ls->io.commands[k]);
		ls->base->bytes[k] = ld(&ls->io.bytes[k]);
	}
	for (int r = 0; r < OSTORI_STATS_RESULTS; r++)
		ls->base->results[r] = ld(&ls->io.results[r]);
	if (!h)
		return 0;
	if (!ls->hist_base && !(ls->hist_base = calloc(OSTOR_IO_KINDS, sizeof(*ls->hist_base))))
		return -1;
	for (int k = 0; k < OSTOR_IO_KINDS; k++) {
		for (unsigned int i = 0; i < OSTORI_HIST_BUCKETS; i++)
			ls->hist_base[k].bucket[i] = ld(&h[k].bucket[i]);
		ls->hist_base[k].sum = ld(&h[k].sum);
	}
	return 0;
}

static int base_queue(struct ostori_queue_stats *qs)
{
	for (struct ostori_lun_stats *ls = atomic_load_explicit(&qs->luns, memory_order_acquire); ls; ls = ls->next)
		if (base_block(ls) < 0)
			return -1;
	qs->base_depth_ticks = ld(&qs->depth_ticks);
	qs->base_busy_ticks = ld(&qs->busy_ticks);
	qs->base_batches = ld(&qs->batches);
	return 0;
}

OSTOR_API int ostor_stats_reset(ostor_device *dev)
{
	int r = 0;

	if (!dev)
		return ostori_error(OSTOR_ERROR_INVALID_PARAM, "ostor_stats_reset: NULL device");
	pthread_mutex_lock(&dev->stats_lock);
	for (unsigned int i = 0; i < dev->nchannels && !r; i++)
		r = base_queue(ostori_channel_stats(ostori_device_channel(dev, i)));
	if (!r)
		r = base_queue(&dev->shared_stats);
	dev->counts_base.retries = ld(&dev->counts.retries);
	dev->counts_base.aborts = ld(&dev->counts.aborts);
	dev->counts_base.queue_full_waits = ld(&dev->counts.queue_full_waits);
	for (int i = 0; i < 4; i++)
		dev->counts_base.resets[i] = ld(&dev->counts.resets[i]);
	dev->stats_epoch_ns = mono_ns();
	/* The largest depths start again from the depth now (a writer that
	 * raced this stores a depth it saw after the reset, also right). */
	for (unsigned int i = 0; i < dev->nchannels; i++)
		atomic_store_explicit(&ostori_channel_stats(ostori_device_channel(dev, i))->depth_max,
				      ostori_channel_inflight(ostori_device_channel(dev, i)), memory_order_relaxed);
	atomic_store_explicit(&dev->shared_stats.depth_max, __atomic_load_n(&dev->inflight, __ATOMIC_RELAXED),
			      memory_order_relaxed);
	pthread_mutex_unlock(&dev->stats_lock);
	if (r)
		return ostori_error(OSTOR_ERROR_NO_MEM, "out of memory resetting the statistics of %s",
				    dev->spec);
	return 0;
}

/* ---- transport counters and JSON ---------------------------------------------- */

void ostori_counter_add(struct ostor_counter *out, int max, int *n, const char *name, uint64_t v)
{
	for (int i = 0; i < *n && i < max; i++)
		if (!strcmp(out[i].name, name)) {
			out[i].value += v;
			return;
		}
	if (*n < max)
		out[*n] = (struct ostor_counter){ .name = name, .value = v };
	(*n)++;
}

void ostori_setting_add(struct ostori_setting *out, int max, int *n, const char *name, const char *source,
			const char *fmt, ...)
{
	va_list ap;

	if (*n < max) {
		out[*n].name = name;
		out[*n].source = source;
		va_start(ap, fmt);
		vsnprintf(out[*n].value, sizeof(out[*n].value), fmt, ap);
		va_end(ap);
	}
	(*n)++;
}

OSTOR_API int ostor_transport_counters(ostor_device *dev, struct ostor_counter *counters, int max)
{
	if (!dev || max < 0 || (max && !counters))
		return ostori_error(OSTOR_ERROR_INVALID_PARAM, "ostor_transport_counters: bad argument");
	if (!dev->backend->counters)
		return 0;
	return dev->backend->counters(dev, counters, max);
}

static json_object *latency_json(const struct ostor_latency *l)
{
	json_object *o = json_object_new_object();

	json_object_object_add(o, "count", json_object_new_uint64(l->count));
	json_object_object_add(o, "min_us", json_object_new_double((double)l->min_ns / 1000.0));
	json_object_object_add(o, "mean_us", json_object_new_double((double)l->mean_ns / 1000.0));
	json_object_object_add(o, "p50_us", json_object_new_double((double)l->p50_ns / 1000.0));
	json_object_object_add(o, "p90_us", json_object_new_double((double)l->p90_ns / 1000.0));
	json_object_object_add(o, "p99_us", json_object_new_double((double)l->p99_ns / 1000.0));
	json_object_object_add(o, "p99.9_us", json_object_new_double((double)l->p999_ns / 1000.0));
	json_object_object_add(o, "max_us", json_object_new_double((double)l->max_ns / 1000.0));
	return o;
}

json_object *ostori_stats_object(const struct ostor_stats *st)
{
	static const char *const reset_names[] = { "", "lun", "target", "device" };
	json_object *o = json_object_new_object(), *cmds = json_object_new_object(),
		    *bytes = json_object_new_object(), *res = json_object_new_object(),
		    *resets = json_object_new_object(), *lat = json_object_new_object();
	double secs = (double)st->elapsed_ns / 1e9;
	uint64_t total = 0;

	for (int k = 0; k < OSTOR_IO_KINDS; k++) {
		json_object_object_add(cmds, ostor_io_kind_name(k), json_object_new_uint64(st->commands[k]));
		json_object_object_add(bytes, ostor_io_kind_name(k), json_object_new_uint64(st->bytes[k]));
		total += st->commands[k];
		if (st->histograms)
			json_object_object_add(lat, ostor_io_kind_name(k), latency_json(&st->latency[k]));
	}
	for (int r = 0; r < OSTORI_STATS_RESULTS; r++)
		json_object_object_add(res, ostor_result_name(r), json_object_new_uint64(st->results[r]));
	for (int i = 1; i < 4; i++)
		json_object_object_add(resets, reset_names[i], json_object_new_uint64(st->resets[i]));
	json_object_object_add(o, "elapsed_s", json_object_new_double(secs));
	json_object_object_add(o, "commands", cmds);
	json_object_object_add(o, "bytes", bytes);
	json_object_object_add(o, "iops", json_object_new_double(secs > 0 ? (double)total / secs : 0));
	json_object_object_add(o, "read_mbps", json_object_new_double(
				       secs > 0 ? (double)st->bytes[OSTOR_IO_READ] / secs / 1e6 : 0));
	json_object_object_add(o, "write_mbps", json_object_new_double(
				       secs > 0 ? (double)st->bytes[OSTOR_IO_WRITE] / secs / 1e6 : 0));
	json_object_object_add(o, "results", res);
	json_object_object_add(o, "retries", json_object_new_uint64(st->retries));
	json_object_object_add(o, "aborts", json_object_new_uint64(st->aborts));
	json_object_object_add(o, "queue_full_waits", json_object_new_uint64(st->queue_full_waits));
	json_object_object_add(o, "resets", resets);
	json_object_object_add(o, "queues", json_object_new_int((int)st->queues));
	json_object_object_add(o, "depth", json_object_new_int((int)st->depth));
	json_object_object_add(o, "depth_max", json_object_new_int((int)st->depth_max));
	json_object_object_add(o, "batches", json_object_new_uint64(st->batches));
	if (st->histograms) {
		json_object_object_add(o, "depth_avg", json_object_new_double(st->depth_avg));
		json_object_object_add(o, "utilisation", json_object_new_double(st->utilisation));
		json_object_object_add(o, "latency", lat);
	} else {
		json_object_put(lat);
	}
	return o;
}

/* ---- the block cache ------------------------------------------------------- */

static json_object *ratio_json(uint64_t part, uint64_t whole)
{
	return whole ? json_object_new_double((double)part / (double)whole) : NULL;
}

json_object *ostori_cache_json(ostor_device *dev, uint32_t target, uint32_t lun)
{
	struct ostor_cache_info ci = OSTOR_CACHE_INFO_INIT;
	json_object *o = json_object_new_object();
	char why[320] = "";

	if (ostor_cache_info(dev, target, lun, &ci) < 0) {
		json_object_object_add(o, "error", json_object_new_string(ostor_last_error()));
		return o;
	}
	json_object_object_add(o, "mode", json_object_new_string(ostor_cache_mode_name(ci.mode)));
	json_object_object_add(o, "policy", json_object_new_string(ci.policy));
	json_object_object_add(o, "line_size", json_object_new_uint64(ci.line_size));
	json_object_object_add(o, "capacity_bytes", json_object_new_uint64(ci.capacity_bytes));
	json_object_object_add(o, "dirty_limit_bytes", json_object_new_uint64(ci.dirty_limit_bytes));
	json_object_object_add(o, "read_ahead_max_bytes", json_object_new_uint64(ci.read_ahead_max_bytes));
	json_object_object_add(o, "used_bytes", json_object_new_uint64(ci.used_bytes));
	json_object_object_add(o, "dirty_bytes", json_object_new_uint64(ci.dirty_bytes));
	json_object_object_add(o, "writeout_inflight_bytes", json_object_new_uint64(ci.writeout_inflight_bytes));
	json_object_object_add(o, "read_hits", json_object_new_uint64(ci.read_hits));
	json_object_object_add(o, "read_misses", json_object_new_uint64(ci.read_misses));
	json_object_object_add(o, "hit_rate", ratio_json(ci.read_hits, ci.read_hits + ci.read_misses));
	json_object_object_add(o, "read_ahead_bytes", json_object_new_uint64(ci.read_ahead_bytes));
	json_object_object_add(o, "read_ahead_used_bytes", json_object_new_uint64(ci.read_ahead_used_bytes));
	json_object_object_add(o, "read_ahead_wasted_bytes", json_object_new_uint64(ci.read_ahead_wasted_bytes));
	json_object_object_add(o, "read_ahead_efficiency", ratio_json(ci.read_ahead_used_bytes, ci.read_ahead_bytes));
	json_object_object_add(o, "writes_absorbed", json_object_new_uint64(ci.writes_absorbed));
	json_object_object_add(o, "writes_through", json_object_new_uint64(ci.writes_through));
	json_object_object_add(o, "writeouts", json_object_new_uint64(ci.writeouts));
	json_object_object_add(o, "writeout_bytes", json_object_new_uint64(ci.writeout_bytes));
	json_object_object_add(o, "writeout_errors", json_object_new_uint64(ci.writeout_errors));
	json_object_object_add(o, "evictions", json_object_new_uint64(ci.evictions));
	json_object_object_add(o, "lost_ranges", json_object_new_uint64(ci.lost_ranges));
	json_object_object_add(o, "lost_bytes", json_object_new_uint64(ci.lost_bytes));
	json_object_object_add(o, "sticky_error",
			       ci.sticky_error ? json_object_new_string(ostor_error_name(ci.sticky_error)) : NULL);
	if (ci.sticky_error && !ostori_bcache_sticky(dev, target, lun, why, sizeof(why)))
		snprintf(why, sizeof(why), "an earlier SYNCHRONIZE CACHE failed: data written before it may "
			 "not be on the medium");
	json_object_object_add(o, "sticky_message", ci.sticky_error ? json_object_new_string(why) : NULL);
	return o;
}

/* The LUNs any queue has seen, sorted (stats_lock held). */
static int seen_luns(ostor_device *dev, struct ostor_lun_addr **out, size_t *n)
{
	struct ostor_lun_addr *v = NULL;
	size_t cap = 0;

	*n = 0;
	for (unsigned int i = 0; i <= dev->nchannels; i++) {
		struct ostori_queue_stats *qs = i < dev->nchannels
			? ostori_channel_stats(ostori_device_channel(dev, i)) : &dev->shared_stats;

		for (struct ostori_lun_stats *ls = atomic_load_explicit(&qs->luns, memory_order_acquire); ls;
		     ls = ls->next) {
			size_t k;

			for (k = 0; k < *n && (v[k].target != ls->target || v[k].lun != ls->lun); k++)
				;
			if (k < *n)
				continue;
			if (*n == cap) {
				struct ostor_lun_addr *nv = realloc(v, (cap = cap ? cap * 2 : 8) * sizeof(*v));

				if (!nv) {
					free(v);
					return -1;
				}
				v = nv;
			}
			v[(*n)++] = (struct ostor_lun_addr){ .target = ls->target, .lun = ls->lun };
		}
	}
	for (size_t a = 1; a < *n; a++)
		for (size_t b = a; b > 0 && (v[b - 1].target > v[b].target ||
					     (v[b - 1].target == v[b].target && v[b - 1].lun > v[b].lun)); b--) {
			struct ostor_lun_addr x = v[b];

			v[b] = v[b - 1];
			v[b - 1] = x;
		}
	*out = v;
	return 0;
}

json_object *ostori_stats_json_object(ostor_device *dev)
{
	json_object *root = json_object_new_object(), *targets = json_object_new_array(),
		    *luns = json_object_new_array(), *queues = json_object_new_array(),
		    *transport = json_object_new_object(), *o;
	struct ostor_stats st = OSTOR_STATS_INIT;
	struct ostor_counter ctr[64];
	struct ostor_lun_addr *seen = NULL;
	size_t nseen = 0;
	int n;

	pthread_mutex_lock(&dev->stats_lock);
	json_object_object_add(root, "device", json_object_new_string(dev->spec));
	json_object_object_add(root, "backend", json_object_new_string(dev->backend->name));
	json_object_object_add(root, "histograms", json_object_new_boolean(atomic_load(&dev->hist_on)));
	json_object_object_add(root, "tick_source", json_object_new_string(ostori_ticks_tsc ? "tsc" : "clock"));
	if (stats_get_locked(dev, OSTOR_STATS_DEVICE, 0, 0, &st) == 0)
		json_object_object_add(root, "total", ostori_stats_object(&st));
	if (seen_luns(dev, &seen, &nseen) == 0) {
		for (size_t i = 0; i < nseen; i++) {
			if (i == 0 || seen[i].target != seen[i - 1].target) {
				st = (struct ostor_stats)OSTOR_STATS_INIT;
				if (stats_get_locked(dev, OSTOR_STATS_TARGET, (int)seen[i].target, 0, &st) == 0) {
					o = ostori_stats_object(&st);
					json_object_object_add(o, "target", json_object_new_int64(seen[i].target));
					json_object_array_add(targets, o);
				}
			}
			st = (struct ostor_stats)OSTOR_STATS_INIT;
			if (stats_get_locked(dev, OSTOR_STATS_LUN, (int)seen[i].target, seen[i].lun, &st) == 0) {
				o = ostori_stats_object(&st);
				json_object_object_add(o, "target", json_object_new_int64(seen[i].target));
				json_object_object_add(o, "lun", json_object_new_int64(seen[i].lun));
				json_object_array_add(luns, o);
			}
		}
		free(seen);
	}
	for (int q = -1; q < (int)dev->nchannels; q++) {
		st = (struct ostor_stats)OSTOR_STATS_INIT;
		if (stats_get_locked(dev, OSTOR_STATS_QUEUE, q, 0, &st) < 0)
			continue;
		o = ostori_stats_object(&st);
		json_object_object_add(o, "queue", json_object_new_int(q));
		json_object_object_add(o, "owned", json_object_new_boolean(
					       q < 0 || ostori_channel_owned(ostori_device_channel(dev, (unsigned int)q))));
		json_object_array_add(queues, o);
	}
	pthread_mutex_unlock(&dev->stats_lock);
	json_object_object_add(root, "targets", targets);
	json_object_object_add(root, "luns", luns);
	json_object_object_add(root, "queues", queues);
	n = ostor_transport_counters(dev, ctr, (int)OSTOR_ARRAY_SIZE(ctr));
	for (int i = 0; i < n && i < (int)OSTOR_ARRAY_SIZE(ctr); i++)
		json_object_object_add(transport, ctr[i].name, json_object_new_uint64(ctr[i].value));
	json_object_object_add(root, "transport", transport);
	if (dev->bcache)
		json_object_object_add(root, "cache", ostori_cache_json(dev, OSTOR_EVENT_ALL, OSTOR_EVENT_ALL));
	return root;
}

OSTOR_API char *ostor_stats_json(ostor_device *dev)
{
	json_object *o;
	char *s;

	if (!dev) {
		ostori_error(OSTOR_ERROR_INVALID_PARAM, "ostor_stats_json: NULL device");
		return NULL;
	}
	o = ostori_stats_json_object(dev);
	s = strdup(json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN));
	json_object_put(o);
	if (!s)
		ostori_error(OSTOR_ERROR_NO_MEM, "out of memory for the statistics' JSON");
	return s;
}
