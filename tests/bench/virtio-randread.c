/*
 * tests/bench/virtio-randread.c - random-read IOPS of one virtio-scsi LUN
 * through liborionstor's polled fast path (public API only), for
 * tests/vm/bench-virtio.sh.  Not installed; a measurement, not a test.
 *
 *   virtio-randread -d SPEC [-t T] [-l L] [--qd N] [--bs BYTES]
 *                   [--seconds S] [--warmup S] [--span-mb M]
 *
 * The calling thread acquires request queue 0 (no locks on the way),
 * keeps N reads of BS bytes at random BS-aligned offsets in flight in
 * device (DMA) memory, and reaps them with ostor_virtio_queue_poll() for
 * S seconds after a warm-up.  Prints one line:
 *   randread qd=N bs=BS seconds=S ios=... iops=... avg_lat_us=...
 */
#include <orionstor.h>

#include <getopt.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

struct slot {
	ostor_task *task;
	uint8_t *buf;
	bool dma;
	int busy;
	uint64_t start_ns;
};

static uint64_t done_ios, failed_ios, lat_ns_sum;
static bool counting;

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* xorshift64*: cheap and good enough to spread the offsets. */
static uint64_t rnd(uint64_t *s)
{
	*s ^= *s >> 12;
	*s ^= *s << 25;
	*s ^= *s >> 27;
	return *s * 0x2545f4914f6cdd1dull;
}

static void done(ostor_task *t, void *ud)
{
	struct slot *s = ud;

	if (counting) {
		if (ostor_task_result(t) == OSTOR_RESULT_GOOD) {
			done_ios++;
			lat_ns_sum += now_ns() - s->start_ns;
		} else {
			failed_ios++;
		}
	}
	s->busy = 0;
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "device", required_argument, NULL, 'd' }, { "target", required_argument, NULL, 't' },
		{ "lun", required_argument, NULL, 'l' }, { "qd", required_argument, NULL, 'q' },
		{ "bs", required_argument, NULL, 'b' }, { "seconds", required_argument, NULL, 's' },
		{ "warmup", required_argument, NULL, 'w' }, { "span-mb", required_argument, NULL, 'm' },
		{ NULL, 0, NULL, 0 },
	};
	const char *spec = NULL;
	uint32_t target = 0, lun = 0, qd = 1, bs = 4096;
	double seconds = 10, warmup = 1;
	uint64_t span_mb = 0, seed = 0x9e3779b97f4a7c15ull, blocks_per_io, slots_in_span;
	ostor_context *ctx;
	ostor_device *dev;
	struct ostor_lun_info li;
	struct slot *slot;
	uint64_t t_start, t_end, t_count = 0;
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
		default: return 2;
		}
	}
	if (!spec || !qd || qd > 1024 || !bs || seconds <= 0 || warmup < 0) {
		fprintf(stderr, "usage: %s -d SPEC [-t T] [-l L] [--qd N] [--bs BYTES] [--seconds S] "
			"[--warmup S] [--span-mb M]\n", argv[0]);
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
	/* Our queue: the lock-free path (a sim device or a build without
	 * virtio would fail here, which is fine for a benchmark). */
	if (ostor_virtio_queue_acquire(dev, 0) < 0) {
		fprintf(stderr, "virtio-randread: %s\n", ostor_last_error());
		return 1;
	}
	slot = calloc(qd, sizeof(*slot));
	for (uint32_t i = 0; slot && i < qd; i++) {
		slot[i].buf = ostor_virtio_dma_alloc(dev, bs);
		slot[i].dma = slot[i].buf != NULL;
		if (!slot[i].buf)
			slot[i].buf = aligned_alloc(4096, (bs + 4095) & ~4095u); /* bounced */
		if (!slot[i].buf || ostor_task_new(dev, &slot[i].task) < 0) {
			fprintf(stderr, "virtio-randread: allocation: %s\n", ostor_last_error());
			return 1;
		}
	}
	t_start = now_ns();
	t_end = t_start + (uint64_t)((warmup + seconds) * 1e9);
	for (;;) {
		uint64_t now = now_ns();

		if (!counting && now >= t_start + (uint64_t)(warmup * 1e9)) {
			counting = true;
			t_count = now;
		}
		if (now >= t_end)
			break;
		for (uint32_t i = 0; i < qd; i++) {
			uint64_t lba = (rnd(&seed) % slots_in_span) * blocks_per_io;
			uint8_t cdb[16] = { 0x88 };

			if (slot[i].busy)
				continue;
			for (int k = 0; k < 8; k++)
				cdb[2 + k] = (uint8_t)(lba >> (56 - 8 * k));
			cdb[10] = (uint8_t)(blocks_per_io >> 24);
			cdb[11] = (uint8_t)(blocks_per_io >> 16);
			cdb[12] = (uint8_t)(blocks_per_io >> 8);
			cdb[13] = (uint8_t)blocks_per_io;
			if (ostor_task_reset(slot[i].task) || ostor_task_set_lun(slot[i].task, target, lun) ||
			    ostor_task_set_cdb(slot[i].task, cdb, 16) ||
			    ostor_task_set_buffer(slot[i].task, OSTOR_DIR_FROM_DEVICE, slot[i].buf, bs)) {
				fprintf(stderr, "virtio-randread: task: %s\n", ostor_last_error());
				return 1;
			}
			slot[i].busy = 1;
			slot[i].start_ns = now;
			if (ostor_task_submit(slot[i].task, (struct ostor_completion){ done, &slot[i], NULL }) < 0) {
				fprintf(stderr, "virtio-randread: submit: %s\n", ostor_last_error());
				return 1;
			}
		}
		ostor_virtio_queue_poll(dev);
		ostor_handle_events_nonblock(ctx); /* runs the callbacks, on this thread */
	}
	counting = false;
	{
		double secs = (double)(now_ns() - t_count) / 1e9;

		printf("randread qd=%u bs=%u seconds=%.1f ios=%llu iops=%.0f avg_lat_us=%.1f errors=%llu\n", qd,
		       bs, secs, (unsigned long long)done_ios, (double)done_ios / secs,
		       done_ios ? (double)lat_ns_sum / (double)done_ios / 1000.0 : 0.0,
		       (unsigned long long)failed_ios);
	}
	/* Let what is in flight finish before closing. */
	t_end = now_ns() + 30000000000ull;
	while (ostor_inflight(ctx) && now_ns() < t_end) {
		ostor_virtio_queue_poll(dev);
		ostor_handle_events_nonblock(ctx);
	}
	for (uint32_t i = 0; i < qd; i++) {
		ostor_task_free(slot[i].task);
		if (slot[i].dma)
			ostor_virtio_dma_free(dev, slot[i].buf, bs);
		else
			free(slot[i].buf);
	}
	free(slot);
	ostor_virtio_queue_release(dev);
	ostor_close(dev);
	ostor_exit(ctx);
	return failed_ios ? 1 : 0;
}
