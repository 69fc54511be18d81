/*
 * tests/bench/usb-qd1-latency.c - per-command latency of small reads at
 * queue depth 1 through liborionstor (public API only), waiting in
 * ostor_handle_events() rather than polling an owned queue.  Any spec
 * works (usb:, sim:...); not installed; a measurement, not a test.
 * (tests/vm/bench-usb.sh measures with `orionstor bench` now.)
 *
 *   usb-qd1-latency -d SPEC [-l LUN] [--bs BYTES] [--count N | --seconds S]
 *                   [--warmup N] [--span-mb M] [--sequential]
 *
 * One task is reused: READ(10) of BS bytes at random BS-aligned offsets in
 * the first M MiB (default: 16, or the whole LUN when smaller), submitted
 * only after the previous one completed; the latency of each is the time
 * from ostor_task_submit() to its completion callback.  Prints one line:
 *   qd1-read bs=BS ios=N failed=F mean_us=.. median_us=.. p99_us=.. min_us=.. max_us=..
 */
#include "toolcommon.h"

#include <getopt.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>


static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

struct one {
	int done;
	uint64_t end_ns;
};

static void on_done(ostor_task *t, void *ud)
{
	struct one *o = ud;

	(void)t;
	o->end_ns = tc_now_ns();
	o->done = 1;
}

static void usage(const char *argv0)
{
	fprintf(stderr, "usage: %s -d SPEC [-l LUN] [--bs BYTES] [--count N | --seconds S] "
		"[--warmup N] [--span-mb M] [--sequential]\n", argv0);
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "device", required_argument, NULL, 'd' }, { "lun", required_argument, NULL, 'l' },
		{ "bs", required_argument, NULL, 'b' }, { "count", required_argument, NULL, 'n' },
		{ "seconds", required_argument, NULL, 's' }, { "warmup", required_argument, NULL, 'w' },
		{ "span-mb", required_argument, NULL, 'm' }, { "sequential", no_argument, NULL, 'S' },
		{ "help", no_argument, NULL, 'h' }, { NULL, 0, NULL, 0 },
	};
	const char *spec = NULL;
	uint32_t lun = 0, bs = 4096;
	uint64_t count = 0, warmup = 20, span_mb = 16, seed = 0x9e3779b97f4a7c15ull;
	double seconds = 0;
	bool sequential = false;
	struct ostor_lun_info li = OSTOR_LUN_INFO_INIT;
	ostor_context *ctx;
	ostor_device *dev;
	ostor_task *t;
	uint8_t *buf;
	uint64_t *lat, cap, n = 0, failed = 0, span_ios, next = 0, t_end = 0, sum = 0;
	int c, r, rc = 0;

	while ((c = getopt_long(argc, argv, "d:l:h", opts, NULL)) != -1) {
		switch (c) {
		case 'd': spec = optarg; break;
		case 'l': lun = (uint32_t)strtoul(optarg, NULL, 0); break;
		case 'b': bs = (uint32_t)strtoul(optarg, NULL, 0); break;
		case 'n': count = strtoull(optarg, NULL, 0); break;
		case 's': seconds = strtod(optarg, NULL); break;
		case 'w': warmup = strtoull(optarg, NULL, 0); break;
		case 'm': span_mb = strtoull(optarg, NULL, 0); break;
		case 'S': sequential = true; break;
		default: usage(argv[0]); return c == 'h' ? 0 : 2;
		}
	}
	if (!spec || optind != argc || !bs || (!count && seconds <= 0) || !span_mb) {
		usage(argv[0]);
		return 2;
	}
	if (ostor_init(&ctx, NULL) < 0 || ostor_open(ctx, spec, &dev) < 0) {
		fprintf(stderr, "usb-qd1-latency: %s\n", ostor_last_error());
		return 1;
	}
	if (ostor_lun_info(dev, 0, lun, &li) < 0 || !li.block_size || bs % li.block_size ||
	    bs / li.block_size > 0xffff) {
		fprintf(stderr, "usb-qd1-latency: LUN %u: %s\n", lun,
			li.block_size ? "--bs must be a multiple of the block size" : ostor_last_error());
		ostor_close(dev);
		ostor_exit(ctx);
		return 1;
	}
	span_ios = span_mb * 1048576u / bs;
	if (span_ios > li.blocks * li.block_size / bs)
		span_ios = li.blocks * li.block_size / bs;
	cap = count ? count : (uint64_t)(seconds * 100000) + 1;  /* <= 100k IOPS */
	lat = malloc(cap * sizeof(*lat));
	buf = malloc(bs);
	if (!lat || !buf || !span_ios || ostor_task_new(dev, &t) < 0) {
		fprintf(stderr, "usb-qd1-latency: setup failed\n");
		return 1;
	}
	for (uint64_t i = 0; i < warmup + cap; i++) {
		uint64_t slot = sequential ? next++ % span_ios : tc_rand64(&seed) % span_ios;
		uint64_t lba = slot * (bs / li.block_size), start;
		uint16_t nb = (uint16_t)(bs / li.block_size);
		uint8_t cdb[10] = { 0x28, 0, (uint8_t)(lba >> 24), (uint8_t)(lba >> 16),
				    (uint8_t)(lba >> 8), (uint8_t)lba, 0, (uint8_t)(nb >> 8), (uint8_t)nb, 0 };
		struct one o = { 0, 0 };

		if (i == warmup && seconds > 0)
			t_end = tc_now_ns() + (uint64_t)(seconds * 1e9);
		if (i >= warmup && t_end && tc_now_ns() >= t_end)
			break;
		if (ostor_task_reset(t) < 0 || ostor_task_set_lun(t, 0, lun) < 0 ||
		    ostor_task_set_cdb(t, cdb, sizeof(cdb)) < 0 ||
		    ostor_task_set_buffer(t, OSTOR_DIR_FROM_DEVICE, buf, bs) < 0) {
			fprintf(stderr, "usb-qd1-latency: %s\n", ostor_last_error());
			rc = 1;
			break;
		}
		start = tc_now_ns();
		r = ostor_task_submit(t, (struct ostor_completion){ on_done, &o, NULL });
		if (r < 0) {
			fprintf(stderr, "usb-qd1-latency: submit: %s\n", ostor_last_error());
			rc = 1;
			break;
		}
		while (!o.done)
			ostor_handle_events(ctx, 1000);
		if (i < warmup)
			continue;
		if (ostor_task_result(t) != OSTOR_RESULT_GOOD || ostor_task_transferred(t) != bs) {
			failed++;
			continue;
		}
		lat[n++] = o.end_ns - start;
	}
	ostor_task_free(t);
	ostor_close(dev);
	ostor_exit(ctx);
	if (!n) {
		fprintf(stderr, "usb-qd1-latency: no read completed (%llu failed)\n", (unsigned long long)failed);
		return 1;
	}
	qsort(lat, n, sizeof(*lat), cmp_u64);
	for (uint64_t i = 0; i < n; i++)
		sum += lat[i];
	printf("qd1-read bs=%u ios=%llu failed=%llu mean_us=%.1f median_us=%.1f p99_us=%.1f "
	       "min_us=%.1f max_us=%.1f\n", bs, (unsigned long long)n, (unsigned long long)failed,
	       (double)sum / (double)n / 1000.0, (double)lat[n / 2] / 1000.0,
	       (double)lat[n - 1 - n / 100] / 1000.0, (double)lat[0] / 1000.0, (double)lat[n - 1] / 1000.0);
	free(lat);
	free(buf);
	return rc || failed ? 1 : 0;
}
