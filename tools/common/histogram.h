/*
 * tools/common/histogram.h - a log-linear latency histogram (as SPDK's and
 * HdrHistogram's): values in nanoseconds, 16 linear buckets per power of
 * two, so every percentile is within 1/16 (6.25 %) of the true value.
 * Buckets are atomic counters: any thread may add (tc_hist_add), or the one
 * thread that owns the histogram, cheaper (tc_hist_add_mine).
 */
#ifndef ORIONSTOR_TOOL_HISTOGRAM_H
#define ORIONSTOR_TOOL_HISTOGRAM_H

#include <stdatomic.h>
#include <stdint.h>

#define TC_HIST_SUB_BITS 4
#define TC_HIST_SUB (1u << TC_HIST_SUB_BITS)
#define TC_HIST_BUCKETS (64u * TC_HIST_SUB)

struct tc_hist {
	atomic_uint_fast64_t bucket[TC_HIST_BUCKETS];
	atomic_uint_fast64_t count, sum, min, max;
};

void tc_hist_init(struct tc_hist *h);
void tc_hist_add(struct tc_hist *h, uint64_t ns);
/* The same when only the calling thread ever adds to h (others may read
 * it): no locked instructions. */
void tc_hist_add_mine(struct tc_hist *h, uint64_t ns);
/* into += from (both quiet). */
void tc_hist_merge(struct tc_hist *into, const struct tc_hist *from);
/* The value at quantile q (0..1): the upper bound of its bucket, capped
 * by the largest value seen; 0 when empty. */
uint64_t tc_hist_quantile(const struct tc_hist *h, double q);

#endif
