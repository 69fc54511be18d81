/*
 * tests/bench/virtio-randread.c - random reads of one virtio-scsi LUN
 * through liborionstor (public API only): the reader of the stall test
 * tests/vm/t-virtio-stall.sh (tests/vm/bench-virtio.sh measures with
 * `orionstor bench`).  Not installed.
 *
 *   virtio-randread -d SPEC [-t T] [-l L] [--qd N] [--bs BYTES]
 *                   [--seconds S | --ios N] [--warmup S] [--span-mb M]
 *                   [--threads N | --shared] [--stall-ms MS]
 *
 * Default (owner mode): each of N threads acquires request queue i (no
 * locks on the way), keeps QD reads of BS bytes at random BS-aligned
 * offsets in flight in device (DMA) memory and reaps them with
 * ostor_virtio_queue_poll().  --shared: one thread, no queue of its own,
 * ostor_task_submit() and ostor_handle_events() only (polled or
 * interrupt completion, as the device was opened).
 *
 * Runs S seconds after a warm-up, or until every thread completed N
 * reads.  Prints one line:
 *   randread mode=M threads=N qd=N bs=BS seconds=S ios=... iops=...
 *   avg_lat_us=... errors=... max_gap_ms=... renotifies=...
 * and exits 1 - the measurement is not valid - when a read failed, when
 * nothing completed, when fewer than --ios completed, or when a thread
 * with reads in flight saw no completion for --stall-ms (default 1000):
 * a stall is a failure, never a slow number.
 */
#include "toolcommon.h"

#include <getopt.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

struct worker;

struct slot {
	ostor_task *task;
	uint8_t *buf;
	bool dma;
	atomic_int busy;
	uint64_t start_ns;
	struct worker *w;
};

struct worker {
	pthread_t thread;
	int queue;                     /* -1: shared mode */
	struct slot *slot;
	uint64_t seed;
	atomic_uint_fast64_t done, failed, counted, lat_ns, last_done_ns, max_gap_ns;
	uint64_t submitted;            /* by this worker's thread only */
	bool stalled, setup_failed;
};

static ostor_context *ctx;
static ostor_device *dev;
static uint32_t target, lun, qd = 1, bs = 4096, nthreads = 1;
static uint64_t blocks_per_io, slots_in_span, want_ios, stall_ns = 1000000000ull;
static double seconds, warmup = 1;
static uint64_t t_start, t_count, t_end;
static atomic_bool counting, stop_all;


/* Runs on whichever thread handles events: atomics only. */
static void done_cb(ostor_task *t, void *ud)
{
	struct slot *s = ud;
	struct worker *w = s->w;
	uint64_t now = tc_now_ns();

	if (ostor_task_result(t) == OSTOR_RESULT_GOOD) {
		atomic_fetch_add(&w->done, 1);
		if (atomic_load(&counting)) {
			atomic_fetch_add(&w->counted, 1);
			atomic_fetch_add(&w->lat_ns, now - s->start_ns);
		}
	} else {
		atomic_fetch_add(&w->failed, 1);
	}
	/* The queue is never idle between its first submit and the end:
	 * any gap between two completions is time the device sat on reads. */
	uint64_t prev = atomic_exchange(&w->last_done_ns, now);
	uint64_t gap = now > prev ? now - prev : 0, max = atomic_load(&w->max_gap_ns);

	while (gap > max && !atomic_compare_exchange_weak(&w->max_gap_ns, &max, gap))
		;
	atomic_store_explicit(&s->busy, 0, memory_order_release);
}

static int submit_one(struct worker *w, struct slot *s, uint64_t now)
{
	uint64_t lba = (tc_rand64(&w->seed) % slots_in_span) * blocks_per_io;
	uint8_t cdb[16] = { 0x88 };

	for (int k = 0; k < 8; k++)
		cdb[2 + k] = (uint8_t)(lba >> (56 - 8 * k));
	cdb[10] = (uint8_t)(blocks_per_io >> 24);
	cdb[11] = (uint8_t)(blocks_per_io >> 16);
	cdb[12] = (uint8_t)(blocks_per_io >> 8);
	cdb[13] = (uint8_t)blocks_per_io;
	if (ostor_task_reset(s->task) || ostor_task_set_lun(s->task, target, lun) ||
	    ostor_task_set_cdb(s->task, cdb, 16) ||
	    ostor_task_set_buffer(s->task, OSTOR_DIR_FROM_DEVICE, s->buf, bs))
		return -1;
	atomic_store_explicit(&s->busy, 1, memory_order_relaxed);
	s->start_ns = now;
	if (ostor_task_submit(s->task, (struct ostor_completion){ done_cb, s, NULL }) < 0) {
		atomic_store(&s->busy, 0);
		return -1;
	}
	return 0;
}

static void reap(struct worker *w)
{
	if (w->queue >= 0) {
		ostor_virtio_queue_poll(dev);
		ostor_handle_events_nonblock(ctx); /* callbacks */
	} else {
		ostor_handle_events(ctx, 100);
	}
}

static unsigned int in_flight(const struct worker *w)
{
	unsigned int n = 0;

	for (uint32_t i = 0; i < qd; i++)
		n += atomic_load_explicit(&w->slot[i].busy, memory_order_acquire) != 0;
	return n;
}

static void *run(void *arg)
{
	struct worker *w = arg;
	uint64_t drain_end;

	if (w->queue >= 0 && ostor_virtio_queue_acquire(dev, w->queue) < 0) {
		fprintf(stderr, "virtio-randread: queue %d: %s\n", w->queue, ostor_last_error());
		w->setup_failed = true;
		return NULL;
	}
	atomic_store(&w->last_done_ns, tc_now_ns());
	for (;;) {
		uint64_t now = tc_now_ns(), last;

		if (w->queue <= 0 && !atomic_load(&counting) && now >= t_start + (uint64_t)(warmup * 1e9)) {
			t_count = now;
			atomic_store(&counting, true);
		}
		if (atomic_load(&stop_all) || (seconds > 0 && now >= t_end) ||
		    (want_ios && atomic_load(&w->done) + atomic_load(&w->failed) >= want_ios))
			break;
		for (uint32_t i = 0; i < qd; i++) {
			if (atomic_load_explicit(&w->slot[i].busy, memory_order_acquire))
				continue;
			/* Counted at submission: completions run on any thread. */
			if (want_ios && w->submitted >= want_ios)
				break;
			w->submitted++;
			if (submit_one(w, &w->slot[i], now) < 0) {
				fprintf(stderr, "virtio-randread: submit: %s\n", ostor_last_error());
				w->setup_failed = true;
				atomic_store(&stop_all, true);
				break;
			}
		}
		reap(w);
		last = atomic_load(&w->last_done_ns);
		now = tc_now_ns();
		if (in_flight(w) && now > last) {
			if (now - last > stall_ns) {
				fprintf(stderr, "virtio-randread: STALL: queue %d: %u read(s) in flight, no completion "
					"for %.0f ms\n", w->queue, in_flight(w), (double)(now - last) / 1e6);
				w->stalled = true;
				atomic_store(&stop_all, true);
				break;
			}
		}
	}
	/* Let what is in flight finish (or time out) before the queue goes. */
	drain_end = tc_now_ns() + 40000000000ull;
	while (in_flight(w) && tc_now_ns() < drain_end)
		reap(w);
	if (in_flight(w))
		fprintf(stderr, "virtio-randread: queue %d: %u read(s) never came back\n", w->queue, in_flight(w));
	if (w->queue >= 0)
		ostor_virtio_queue_release(dev);
	return NULL;
}

static uint64_t renotifies(void)
{
	struct ostor_virtio_queue_info qi = OSTOR_VIRTIO_QUEUE_INFO_INIT;
	uint64_t n = 0;
	int count = ostor_virtio_queue_count(dev);

	for (int i = 0; i < count; i++)
		if (ostor_virtio_queue_info(dev, (unsigned int)i, &qi) == 0)
			n += qi.renotifies;
	return n;
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "device", required_argument, NULL, 'd' }, { "target", required_argument, NULL, 't' },
		{ "lun", required_argument, NULL, 'l' }, { "qd", required_argument, NULL, 'q' },
		{ "bs", required_argument, NULL, 'b' }, { "seconds", required_argument, NULL, 's' },
		{ "warmup", required_argument, NULL, 'w' }, { "span-mb", required_argument, NULL, 'm' },
		{ "threads", required_argument, NULL, 'T' }, { "shared", no_argument, NULL, 'S' },
		{ "ios", required_argument, NULL, 'n' }, { "stall-ms", required_argument, NULL, 'g' },
		{ NULL, 0, NULL, 0 },
	};
	const char *spec = NULL;
	uint64_t span_mb = 0, done = 0, failed = 0, counted = 0, lat = 0, gap = 0;
	bool shared = false, bad = false;
	struct ostor_lun_info li = OSTOR_LUN_INFO_INIT;
	struct worker *w;
	double secs;
	int c;

	while ((c = getopt_long(argc, argv, "d:t:l:", opts, NULL)) != -1) {
		switch (c) {
		case 'd': spec = optarg; break;
		case 't': target = (uint32_t)strtoul(optarg, NULL, 0); break;
		case 'l': lun = (uint32_t)strtoul(optarg, NULL, 0); break;
		case 'q': qd = (uint32_t)strtoul(optarg, NULL, 0); break;
		case 'b': bs = (uint32_t)strtoul(optarg, NULL, 0); break;
		case 's': seconds = atof(optarg); break;
		case 'w': warmup = atof(optarg); break;
		case 'm': span_mb = strtoull(optarg, NULL, 0); break;
		case 'T': nthreads = (uint32_t)strtoul(optarg, NULL, 0); break;
		case 'S': shared = true; break;
		case 'n': want_ios = strtoull(optarg, NULL, 0); break;
		case 'g': stall_ns = strtoull(optarg, NULL, 0) * 1000000ull; break;
		default: return 2;
		}
	}
	if (!seconds && !want_ios)
		seconds = 10;
	if (want_ios)
		warmup = 0;
	if (!spec || !qd || qd > 1024 || !bs || seconds < 0 || warmup < 0 || !nthreads || nthreads > 16 ||
	    (shared && nthreads != 1) || !stall_ns) {
		fprintf(stderr, "usage: %s -d SPEC [-t T] [-l L] [--qd N] [--bs BYTES] [--seconds S | --ios N] "
			"[--warmup S] [--span-mb M] [--threads N | --shared] [--stall-ms MS]\n", argv[0]);
		return 2;
	}
	if (ostor_init(&ctx, NULL) < 0 || ostor_open(ctx, spec, &dev) < 0 ||
	    ostor_lun_info(dev, target, lun, &li) < 0) {
		fprintf(stderr, "virtio-randread: %s: %s\n", spec, ostor_last_error());
		return 1;
	}
	if (!li.block_size || bs % li.block_size) {
		fprintf(stderr, "virtio-randread: --bs %u is not a multiple of the %u-byte blocks\n", bs,
			li.block_size);
		return 1;
	}
	blocks_per_io = bs / li.block_size;
	slots_in_span = li.blocks / blocks_per_io;
	if (span_mb && span_mb * (1u << 20) / bs < slots_in_span)
		slots_in_span = span_mb * (1u << 20) / bs;
	w = calloc(nthreads, sizeof(*w));
	for (uint32_t k = 0; w && k < nthreads; k++) {
		w[k].queue = shared ? -1 : (int)k;
		w[k].seed = 0x9e3779b97f4a7c15ull * (k + 1);
		w[k].slot = calloc(qd, sizeof(*w[k].slot));
		for (uint32_t i = 0; w[k].slot && i < qd; i++) {
			struct slot *s = &w[k].slot[i];

			s->w = &w[k];
			s->buf = ostor_virtio_dma_alloc(dev, bs);
			s->dma = s->buf != NULL;
			if (!s->buf)
				s->buf = aligned_alloc(4096, (bs + 4095) & ~4095u); /* bounced */
			if (!s->buf || ostor_task_new(dev, &s->task) < 0) {
				fprintf(stderr, "virtio-randread: allocation: %s\n", ostor_last_error());
				return 1;
			}
		}
		if (!w[k].slot)
			return 1;
	}
	if (!w)
		return 1;
	t_start = tc_now_ns();
	t_end = t_start + (uint64_t)((warmup + seconds) * 1e9);
	if (want_ios) { /* the whole run is measured */
		t_count = t_start;
		atomic_store(&counting, true);
	}
	for (uint32_t k = 0; k < nthreads; k++)
		if (pthread_create(&w[k].thread, NULL, run, &w[k]) != 0) {
			fprintf(stderr, "virtio-randread: cannot start a thread\n");
			return 1;
		}
	for (uint32_t k = 0; k < nthreads; k++)
		pthread_join(w[k].thread, NULL);
	secs = t_count ? (double)(tc_now_ns() - t_count) / 1e9 : 0;
	for (uint32_t k = 0; k < nthreads; k++) {
		done += atomic_load(&w[k].done);
		failed += atomic_load(&w[k].failed);
		counted += atomic_load(&w[k].counted);
		lat += atomic_load(&w[k].lat_ns);
		if (atomic_load(&w[k].max_gap_ns) > gap)
			gap = atomic_load(&w[k].max_gap_ns);
		bad |= w[k].stalled || w[k].setup_failed;
		if (want_ios && atomic_load(&w[k].done) < want_ios) {
			fprintf(stderr, "virtio-randread: queue %d completed %llu of %llu reads\n", w[k].queue,
				(unsigned long long)atomic_load(&w[k].done), (unsigned long long)want_ios);
			bad = true;
		}
	}
	printf("randread mode=%s threads=%u qd=%u bs=%u seconds=%.1f ios=%llu iops=%.0f avg_lat_us=%.1f "
	       "errors=%llu max_gap_ms=%.1f renotifies=%llu\n", shared ? "shared" : "owner", nthreads, qd, bs,
	       secs, (unsigned long long)counted, secs > 0 ? (double)counted / secs : 0.0,
	       counted ? (double)lat / (double)counted / 1000.0 : 0.0, (unsigned long long)failed,
	       (double)gap / 1e6, (unsigned long long)renotifies());
	if (failed || !counted || bad) {
		fprintf(stderr, "virtio-randread: not a valid measurement (%s)\n",
			bad ? "stalled or incomplete" : failed ? "reads failed" : "nothing completed");
		bad = true;
	}
	for (uint32_t k = 0; k < nthreads; k++) {
		for (uint32_t i = 0; i < qd; i++) {
			ostor_task_free(w[k].slot[i].task);
			if (w[k].slot[i].dma)
				ostor_virtio_dma_free(dev, w[k].slot[i].buf, bs);
			else
				free(w[k].slot[i].buf);
		}
		free(w[k].slot);
	}
	free(w);
	ostor_close(dev);
	ostor_exit(ctx);
	return bad ? 1 : 0;
}
