/*
 * tools/common/histogram.c - log-linear latency histogram (histogram.h).
 */
#include "histogram.h"

/* Bucket of v: below 16 one bucket per value; above, the power of two
 * (exponent e) and the next four bits below the top one. */
static unsigned int bucket_of(uint64_t v)
{
	unsigned int e;

	if (v < TC_HIST_SUB)
		return (unsigned int)v;
	e = 63u - (unsigned int)__builtin_clzll(v);
	return (e - TC_HIST_SUB_BITS + 1) * TC_HIST_SUB +
	       (unsigned int)((v >> (e - TC_HIST_SUB_BITS)) & (TC_HIST_SUB - 1));
}

/* The largest value that falls into bucket b. */
static uint64_t bucket_top(unsigned int b)
{
	unsigned int e, sub;

	if (b < TC_HIST_SUB)
		return b;
	e = b / TC_HIST_SUB + TC_HIST_SUB_BITS - 1;
	sub = b % TC_HIST_SUB;
	if (e >= 63)
		return UINT64_MAX;
	return ((uint64_t)(TC_HIST_SUB + sub + 1) << (e - TC_HIST_SUB_BITS)) - 1;
}

void tc_hist_init(struct tc_hist *h)
{
	for (unsigned int i = 0; i < TC_HIST_BUCKETS; i++)
		atomic_init(&h->bucket[i], 0);
	atomic_init(&h->count, 0);
	atomic_init(&h->sum, 0);
	atomic_init(&h->min, UINT64_MAX);
	atomic_init(&h->max, 0);
}

void tc_hist_add(struct tc_hist *h, uint64_t ns)
{
	uint64_t m;

	atomic_fetch_add_explicit(&h->bucket[bucket_of(ns)], 1, memory_order_relaxed);
	atomic_fetch_add_explicit(&h->count, 1, memory_order_relaxed);
	atomic_fetch_add_explicit(&h->sum, ns, memory_order_relaxed);
	m = atomic_load_explicit(&h->max, memory_order_relaxed);
	while (ns > m && !atomic_compare_exchange_weak_explicit(&h->max, &m, ns, memory_order_relaxed,
								 memory_order_relaxed))
		;
	m = atomic_load_explicit(&h->min, memory_order_relaxed);
	while (ns < m && !atomic_compare_exchange_weak_explicit(&h->min, &m, ns, memory_order_relaxed,
								 memory_order_relaxed))
		;
}

/* A relaxed load and store: one writer, so no increment is lost. */
static inline void add_mine(atomic_uint_fast64_t *c, uint64_t v)
{
	atomic_store_explicit(c, atomic_load_explicit(c, memory_order_relaxed) + v, memory_order_relaxed);
}

void tc_hist_add_mine(struct tc_hist *h, uint64_t ns)
{
	add_mine(&h->bucket[bucket_of(ns)], 1);
	add_mine(&h->count, 1);
	add_mine(&h->sum, ns);
	if (ns > atomic_load_explicit(&h->max, memory_order_relaxed))
		atomic_store_explicit(&h->max, ns, memory_order_relaxed);
	if (ns < atomic_load_explicit(&h->min, memory_order_relaxed))
		atomic_store_explicit(&h->min, ns, memory_order_relaxed);
}

void tc_hist_merge(struct tc_hist *into, const struct tc_hist *from)
{
	for (unsigned int i = 0; i < TC_HIST_BUCKETS; i++)
		atomic_fetch_add(&into->bucket[i], atomic_load(&from->bucket[i]));
	atomic_fetch_add(&into->count, atomic_load(&from->count));
	atomic_fetch_add(&into->sum, atomic_load(&from->sum));
	if (atomic_load(&from->max) > atomic_load(&into->max))
		atomic_store(&into->max, atomic_load(&from->max));
	if (atomic_load(&from->min) < atomic_load(&into->min))
		atomic_store(&into->min, atomic_load(&from->min));
}

uint64_t tc_hist_quantile(const struct tc_hist *h, double q)
{
	uint64_t n = atomic_load(&h->count), want, seen = 0, max = atomic_load(&h->max);

	if (!n)
		return 0;
	want = (uint64_t)(q * (double)n + 0.5);
	if (want < 1)
		want = 1;
	if (want > n)
		want = n;
	for (unsigned int b = 0; b < TC_HIST_BUCKETS; b++) {
		seen += atomic_load(&h->bucket[b]);
		if (seen >= want)
			return bucket_top(b) < max ? bucket_top(b) : max;
	}
	return max;
}
