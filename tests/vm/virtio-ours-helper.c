/*
 * tests/vm/virtio-ours-helper.c - guest-side driver of the virtio-scsi VM
 * tests (t-virtio-ours-*.sh), over the public API only.
 *
 *   virtio-ours-helper mq -d SPEC [-t T] [-l L] [--threads N] [--acquire]
 *       [--lba BASE] [--blocks K] [--io-blocks B] [--qd Q] [--seed PREFIX]
 *     N threads write, then read back and verify, K blocks each
 *     (thread i at BASE + i*K) with Q commands of B blocks in flight.  The
 *     data is pattern_gen "PREFIXi" (tests/vm/lib/guest-lib.sh), so the
 *     host can find it in the image.  --acquire: thread i owns request
 *     queue i (the lock-free path) and polls it itself; otherwise the
 *     threads share the queues.  A sampler prints the most request queues
 *     seen busy at the same moment.
 *
 *   virtio-ours-helper hotplug -d SPEC -t T --sync DIR
 *   virtio-ours-helper tmf -d SPEC [-t T] [-l L] [--timeout-step]   (abort and resets on a
 *     throttled disk; any transport: t-usb-uas.sh runs it on a UAS device
 *     too, with --timeout-step: a read queued behind the others with an
 *     800 ms timeout must end as a timeout, the others good)
 *     Keeps I/O running on target 0 while the host hot-plugs target T
 *     (device_add) and unplugs it (device_del); each must be seen through
 *     the event queue.  Rendezvous through DIR as guest-lib.sh does:
 *     writes NAME.guest, waits for NAME.host.
 *
 *   virtio-ours-helper confine -d SPEC [-t T] [-l L] [--lba BASE]
 *     Prints how the function is reached (transport, IOMMU, interrupts),
 *     then reads 64 KiB at BASE into ordinary memory and into the
 *     device's DMA memory: the first must be bounced (never handed to
 *     the device: under VFIO it is outside what the IOMMU maps), the
 *     second not; both must hold the same data.
 *
 *   mq also runs against sim:transport=virtio in make check
 *   (tests/tools/test-virtio-scsi.sh).
 *
 * Exit status 0 on success; every failure prints one "FAIL:" line.
 */
#include <orionstor.h>

#include <errno.h>
#include <getopt.h>
#include <stdbool.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static ostor_context *ctx;
static ostor_device *dev;
static uint32_t target, lun, block_size;
static bool tmf_timeout_step;      /* tmf --timeout-step */
static int interrupts;

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

#define FAIL(...)                                                             \
	do {                                                                  \
		printf("FAIL: " __VA_ARGS__);                                 \
		printf(" (%s)\n", ostor_last_error());                        \
		exit(1);                                                      \
	} while (0)

/* The records of pattern_gen SEED BYTES: 32 bytes each, numbered from 0. */
static void pattern(uint8_t *buf, size_t len, const char *seed, uint64_t first_record)
{
	char rec[64];

	for (size_t off = 0; off + 32 <= len; off += 32) {
		snprintf(rec, sizeof(rec), "orionstor %-10.10s %010llu\n", seed,
			 (unsigned long long)(first_record + off / 32));
		memcpy(buf + off, rec, 32);
	}
}

static void rw_cdb(uint8_t cdb[16], bool write, uint64_t lba, uint32_t blocks)
{
	memset(cdb, 0, 16);
	cdb[0] = write ? 0x8a : 0x88; /* READ(16)/WRITE(16): any LBA */
	for (int i = 0; i < 8; i++)
		cdb[2 + i] = (uint8_t)(lba >> (56 - 8 * i));
	cdb[10] = (uint8_t)(blocks >> 24);
	cdb[11] = (uint8_t)(blocks >> 16);
	cdb[12] = (uint8_t)(blocks >> 8);
	cdb[13] = (uint8_t)blocks;
}

/* ---- mq ------------------------------------------------------------------------ */

static int finished;             /* workers done (atomic) */

struct slot {
	ostor_task *task;
	uint8_t *buf;
	bool dma;                    /* buf from ostor_virtio_dma_alloc */
	int busy;                    /* atomic: set by the submitter, cleared by the callback */
	int failed;                  /* atomic */
	uint64_t lba;
};

struct worker {
	pthread_t th;
	int index, queue;
	bool acquire;
	uint64_t lba;
	uint32_t blocks, io_blocks, qd;
	char seed[16];
	struct slot *slots;
	int errors;
};

static void slot_done(ostor_task *t, void *ud)
{
	struct slot *s = ud;

	if (ostor_task_result(t) != OSTOR_RESULT_GOOD)
		__atomic_store_n(&s->failed, 1, __ATOMIC_RELAXED);
	__atomic_store_n(&s->busy, 0, __ATOMIC_RELEASE);
}

/* Drive the event side once: the owner polls its queue, the others wait
 * in the event loop (interrupt mode: in poll() on the UIO descriptor). */
static void progress(struct worker *w)
{
	if (w->acquire) {
		if (ostor_virtio_queue_poll(dev) < 0)
			w->errors++;
		if (interrupts)
			ostor_handle_events(ctx, 2);
		else
			ostor_handle_events_nonblock(ctx);
	} else {
		ostor_handle_events(ctx, 20);
	}
}

/* One pass over the region: write it, or read it back and compare. */
static void pass(struct worker *w, bool write)
{
	uint32_t next = 0, unit = w->io_blocks;
	size_t bytes = (size_t)unit * block_size;
	uint64_t deadline = now_ms() + 120000;

	for (;;) {
		bool idle = true;

		for (uint32_t k = 0; k < w->qd; k++) {
			struct slot *s = &w->slots[k];
			uint8_t cdb[16];

			if (__atomic_load_n(&s->busy, __ATOMIC_ACQUIRE)) {
				idle = false;
				continue;
			}
			if (__atomic_load_n(&s->failed, __ATOMIC_RELAXED)) {
				printf("FAIL: thread %d: %s at LBA %llu: %s\n", w->index, write ? "write" : "read",
				       (unsigned long long)s->lba, ostor_result_name(ostor_task_result(s->task)));
				w->errors++;
				s->failed = 0;
			}
			if (!write && s->lba != UINT64_MAX) {
				uint8_t *want = malloc(bytes);

				pattern(want, bytes, w->seed, (s->lba - w->lba) * block_size / 32);
				if (memcmp(want, s->buf, bytes)) {
					printf("FAIL: thread %d: data read back at LBA %llu differs\n", w->index,
					       (unsigned long long)s->lba);
					w->errors++;
				}
				free(want);
			}
			s->lba = UINT64_MAX;
			if (next >= w->blocks)
				continue;
			s->lba = w->lba + next;
			if (write)
				pattern(s->buf, bytes, w->seed, (uint64_t)next * block_size / 32);
			else
				memset(s->buf, 0, bytes);
			rw_cdb(cdb, write, s->lba, unit);
			if (ostor_task_reset(s->task) || ostor_task_set_lun(s->task, target, lun) ||
			    ostor_task_set_cdb(s->task, cdb, 16) ||
			    ostor_task_set_buffer(s->task, write ? OSTOR_DIR_TO_DEVICE : OSTOR_DIR_FROM_DEVICE,
						  s->buf, bytes))
				FAIL("thread %d: task set-up", w->index);
			__atomic_store_n(&s->busy, 1, __ATOMIC_RELAXED);
			if (ostor_task_submit(s->task, (struct ostor_completion){ slot_done, s, NULL }) < 0)
				FAIL("thread %d: submit", w->index);
			next += unit;
			idle = false;
		}
		if (idle)
			return;
		if (now_ms() > deadline)
			FAIL("thread %d: commands did not complete within 120 s", w->index);
		progress(w);
	}
}

static void *worker_main(void *arg)
{
	struct worker *w = arg;

	if (w->acquire) {
		w->queue = ostor_virtio_queue_acquire(dev, w->index);
		if (w->queue != w->index) {
			printf("FAIL: thread %d: acquire queue %d: %s\n", w->index, w->index, ostor_last_error());
			w->errors++;
			__atomic_fetch_add(&finished, 1, __ATOMIC_RELEASE);
			return NULL;
		}
	}
	pass(w, true);
	pass(w, false);
	if (w->acquire)
		ostor_virtio_queue_release(dev);
	__atomic_fetch_add(&finished, 1, __ATOMIC_RELEASE);
	return NULL;
}

/* The most request queues with commands in flight at one moment. */
static unsigned int sample_busy_queues(int nq, int threads)
{
	unsigned int best = 0;

	while (__atomic_load_n(&finished, __ATOMIC_ACQUIRE) < threads) {
		unsigned int busy = 0;

		for (int q = 0; q < nq; q++) {
			struct ostor_virtio_queue_info qi = OSTOR_VIRTIO_QUEUE_INFO_INIT;

			if (ostor_virtio_queue_info(dev, (unsigned int)q + 2, &qi) == 0 && qi.inflight)
				busy++;
		}
		if (busy > best)
			best = busy;
		usleep(200);
	}
	return best;
}

static int run_mq(int threads, bool acquire, uint64_t base, uint32_t blocks, uint32_t io_blocks,
		  uint32_t qd, const char *prefix)
{
	struct ostor_virtio_device_info in = OSTOR_VIRTIO_DEVICE_INFO_INIT;
	struct worker *w = calloc((size_t)threads, sizeof(*w));
	unsigned int best;
	int errors = 0, nq;

	if (!w || ostor_virtio_device_info(dev, &in) < 0)
		FAIL("device info");
	nq = (int)in.num_queues;
	printf("device: %s rings, %s, %u request queue(s) of %u offered\n", in.packed ? "packed" : "split",
	       in.interrupts ? "interrupt mode" : "polled", in.num_queues, in.device_num_queues);
	if (acquire && threads > nq)
		FAIL("--acquire with %d threads needs %d request queues, the device uses %d", threads, threads, nq);
	for (int i = 0; i < threads; i++) {
		w[i].index = i;
		w[i].acquire = acquire;
		w[i].lba = base + (uint64_t)i * blocks;
		w[i].blocks = blocks;
		w[i].io_blocks = io_blocks;
		w[i].qd = qd;
		snprintf(w[i].seed, sizeof(w[i].seed), "%s%d", prefix, i);
		w[i].slots = calloc(qd, sizeof(*w[i].slots));
		if (!w[i].slots)
			FAIL("out of memory");
		for (uint32_t k = 0; k < qd; k++) {
			size_t bytes = (size_t)io_blocks * block_size;

			/* Device memory: zero-copy; fall back to bouncing. */
			w[i].slots[k].buf = ostor_virtio_dma_alloc(dev, bytes);
			w[i].slots[k].dma = w[i].slots[k].buf != NULL;
			if (!w[i].slots[k].buf)
				w[i].slots[k].buf = malloc(bytes);
			w[i].slots[k].lba = UINT64_MAX;
			if (!w[i].slots[k].buf || ostor_task_new(dev, &w[i].slots[k].task) < 0)
				FAIL("allocation");
		}
	}
	for (int i = 0; i < threads; i++)
		if (pthread_create(&w[i].th, NULL, worker_main, &w[i]))
			FAIL("pthread_create");
	best = sample_busy_queues(nq, threads);
	for (int i = 0; i < threads; i++) {
		pthread_join(w[i].th, NULL);
		errors += w[i].errors;
		printf("thread %d%s: %u blocks at LBA %llu written and verified%s\n", i,
		       acquire ? " (owns its queue)" : "", blocks, (unsigned long long)w[i].lba,
		       w[i].errors ? " WITH ERRORS" : "");
	}
	for (int q = 0; q < nq; q++) {
		struct ostor_virtio_queue_info qi = OSTOR_VIRTIO_QUEUE_INFO_INIT;

		if (ostor_virtio_queue_info(dev, (unsigned int)q + 2, &qi) < 0)
			FAIL("queue info %d", q + 2);
		printf("queue %u: completed=%llu errors=%llu bytes=%llu\n", qi.index,
		       (unsigned long long)qi.completed, (unsigned long long)qi.errors,
		       (unsigned long long)qi.bytes);
	}
	printf("max_busy_queues=%u\n", best);
	for (int i = 0; i < threads; i++) {
		for (uint32_t k = 0; k < qd; k++) {
			struct slot *sl = &w[i].slots[k];

			ostor_task_free(sl->task);
			if (sl->dma)
				ostor_virtio_dma_free(dev, sl->buf, (size_t)io_blocks * block_size);
			else
				free(sl->buf);
		}
		free(w[i].slots);
	}
	free(w);
	return errors ? 1 : 0;
}

/* ---- hotplug --------------------------------------------------------------------- */

static const char *sync_dir;

static void signal_host(const char *name)
{
	char path[512];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s.guest", sync_dir, name);
	f = fopen(path, "w");
	if (!f)
		FAIL("cannot create %s: %s", path, strerror(errno));
	fclose(f);
}

static bool lun_listed(uint32_t t)
{
	struct ostor_lun_addr *luns = NULL;
	size_t n = 0;
	bool found = false;

	if (ostor_device_luns(dev, &luns, &n) < 0)
		return false;
	for (size_t i = 0; i < n; i++)
		found |= luns[i].target == t;
	free(luns);
	return found;
}

/* The public device events (ostor_set_event_handler): the last LUN
 * added and removed, as "T:L". */
static char event_added[32] = "none", event_removed[32] = "none";

static void on_device_event(const struct ostor_event *ev, void *ud)
{
	(void)ud;
	if (ev->type == OSTOR_EVENT_LUN_ADDED)
		snprintf(event_added, sizeof(event_added), "%u:%u", ev->target, ev->lun);
	else if (ev->type == OSTOR_EVENT_LUN_REMOVED)
		snprintf(event_removed, sizeof(event_removed), "%u:%u", ev->target, ev->lun);
}

/* Handle events until the public event s is no longer "none". */
static void wait_public_event(const char *s)
{
	for (uint64_t end = now_ms() + 10000; !strcmp(s, "none") && now_ms() < end;)
		ostor_handle_events(ctx, 10);
}

/* I/O on target 0 and the event loop until the event count moves past
 * from (then true) or timeout_ms passes. */
static bool io_until_event(uint64_t from, uint64_t timeout_ms, uint64_t *reads)
{
	uint64_t end = now_ms() + timeout_ms;
	uint8_t *buf = malloc(8 * block_size);
	struct ostor_virtio_device_info in = OSTOR_VIRTIO_DEVICE_INFO_INIT;

	while (now_ms() < end) {
		if (ostor_read_blocks(dev, 0, lun, (*reads * 8) % 1024, 8, buf) < 0)
			FAIL("read from target 0 while waiting for the event");
		(*reads)++;
		ostor_handle_events(ctx, 10);
		if (ostor_virtio_device_info(dev, &in) == 0 && in.events > from) {
			free(buf);
			return true;
		}
	}
	free(buf);
	return false;
}

static int run_hotplug(uint32_t t)
{
	struct ostor_virtio_device_info in = OSTOR_VIRTIO_DEVICE_INFO_INIT;
	struct ostor_lun_info li = OSTOR_LUN_INFO_INIT;
	uint64_t reads = 0, ev0;
	uint8_t *w, *r;
	int err;

	if (ostor_virtio_device_info(dev, &in) < 0)
		FAIL("device info");
	printf("hotplug: %s, %s; features %s hot-plug\n", in.packed ? "packed" : "split",
	       in.interrupts ? "interrupt mode" : "polled",
	       (in.driver_features & 2) ? "with" : "WITHOUT");
	if (lun_listed(t))
		FAIL("target %u is there before the hot-plug", t);
	if (ostor_set_event_handler(ctx, (struct ostor_event_handler){ on_device_event, NULL, NULL }) < 0)
		FAIL("event handler: %s", ostor_last_error());
	ev0 = in.events;
	signal_host("hp-ready");
	if (!io_until_event(ev0, 90000, &reads))
		FAIL("no event after the host's device_add (target %u)", t);
	/* QEMU may need a moment before the new LUN answers. */
	for (int i = 0; i < 50 && !lun_listed(t); i++)
		ostor_handle_events(ctx, 20);
	if (!lun_listed(t))
		FAIL("the event came but target %u is not listed", t);
	if (ostor_lun_info(dev, t, 0, &li) < 0)
		FAIL("lun info %u:0", t);
	ostor_virtio_device_info(dev, &in);
	wait_public_event(event_added);
	printf("plugged: event seen (events=%llu generation=%llu) after %llu reads; %u:0 %s %s serial=%s bs=%u blocks=%llu; "
	       "public event lun-added %s\n",
	       (unsigned long long)in.events, (unsigned long long)in.topology_generation,
	       (unsigned long long)reads, t, li.vendor, li.product, li.serial, li.block_size,
	       (unsigned long long)li.blocks, event_added);
	w = malloc(li.block_size);
	r = malloc(li.block_size);
	pattern(w, li.block_size, "hotplug", 0);
	if (ostor_write_blocks(dev, t, 0, 1, 1, w) < 0 || ostor_read_blocks(dev, t, 0, 1, 1, r) < 0 ||
	    memcmp(w, r, li.block_size))
		FAIL("I/O on the hot-plugged LUN");
	if (ostor_flush(dev, t, 0) < 0)
		FAIL("flush of the hot-plugged LUN");
	ev0 = in.events;
	signal_host("hp-plugged");
	if (!io_until_event(ev0, 90000, &reads))
		FAIL("no event after the host's device_del (target %u)", t);
	err = ostor_read_blocks(dev, t, 0, 1, 1, r);
	ostor_virtio_device_info(dev, &in);
	wait_public_event(event_removed);
	printf("unplugged: event seen (events=%llu generation=%llu); read from %u:0 -> %s; listed=%d; "
	       "public event lun-removed %s\n",
	       (unsigned long long)in.events, (unsigned long long)in.topology_generation, t,
	       ostor_error_name(err), lun_listed(t), event_removed);
	if (err != OSTOR_ERROR_NO_DEVICE)
		FAIL("I/O to the removed LUN gave %s, not OSTOR_ERROR_NO_DEVICE", ostor_error_name(err));
	free(w);
	free(r);
	return 0;
}

/* ---- task management on a throttled disk ----------------------------------------------- */

#define TMF_TASKS 6

struct tmf_slot {
	ostor_task *t;
	int calls;
};

static void tmf_cb(ostor_task *t, void *ud)
{
	((struct tmf_slot *)ud)->calls++;
}

/* Submit TMF_TASKS reads of target:lun (the drive is throttled to a few
 * IOPS: they stay in flight). */
static void tmf_submit(struct tmf_slot *s, uint8_t *buf)
{
	for (int i = 0; i < TMF_TASKS; i++) {
		uint8_t cdb[10] = { 0x28, 0, 0, 0, 0, (uint8_t)(i * 8), 0, 0, 1, 0 };

		s[i].calls = 0;
		if (ostor_task_reset(s[i].t) < 0 || ostor_task_set_lun(s[i].t, target, lun) < 0 ||
		    ostor_task_set_cdb(s[i].t, cdb, sizeof(cdb)) < 0 ||
		    ostor_task_set_buffer(s[i].t, OSTOR_DIR_FROM_DEVICE, buf + (size_t)i * block_size, block_size) < 0 ||
		    ostor_task_submit(s[i].t, (struct ostor_completion){ tmf_cb, &s[i], NULL }) < 0)
			FAIL("submit %d: %s", i, ostor_last_error());
	}
	/* Let the device take them. */
	for (uint64_t end = now_ms() + 300; now_ms() < end;)
		ostor_handle_events(ctx, 10);
}

/* Wait for every task; count how each ended; each exactly once. */
static void tmf_collect(struct tmf_slot *s, const char *what)
{
	int good = 0, aborted = 0, ua = 0, other = 0;

	for (uint64_t end = now_ms() + 120000; now_ms() < end;) {
		int done = 0;

		for (int i = 0; i < TMF_TASKS; i++)
			done += s[i].calls > 0;
		if (done == TMF_TASKS)
			break;
		ostor_handle_events(ctx, 20);
	}
	for (int i = 0; i < TMF_TASKS; i++) {
		if (s[i].calls != 1)
			FAIL("%s: task %d completed %d times", what, i, s[i].calls);
		switch (ostor_task_result(s[i].t)) {
		case OSTOR_RESULT_GOOD: good++; break;
		case OSTOR_RESULT_ABORTED: aborted++; break;
		case OSTOR_RESULT_CHECK_CONDITION: {
			/* The reset's unit attention, reported by the first
			 * command after it (raw tasks are not retried). */
			struct ostor_scsi_sense sn = OSTOR_SCSI_SENSE_INIT;
			size_t n;
			const uint8_t *sb = ostor_task_sense(s[i].t, &n);

			if (sb && ostor_scsi_parse_sense(sb, n, &sn) == 0 &&
			    sn.key == OSTOR_SCSI_SENSE_UNIT_ATTENTION)
				ua++;
			else
				other++;
			break;
		}
		default: other++; break;
		}
	}
	printf("%s: good=%d aborted=%d unit-attention=%d other=%d\n", what, good, aborted, ua, other);
}

static int run_tmf(void)
{
	struct tmf_slot s[TMF_TASKS];
	uint8_t *buf = calloc(TMF_TASKS, block_size);
	int r;

	for (int i = 0; i < TMF_TASKS; i++)
		if (ostor_task_new(dev, &s[i].t) < 0)
			FAIL("task");
	tmf_submit(s, buf);
	r = ostor_task_abort(s[TMF_TASKS - 1].t);
	printf("abort: outcome=%s result=%s\n", r < 0 ? ostor_error_name(r) : ostor_tmf_outcome_name(r),
	       ostor_result_name(ostor_task_result(s[TMF_TASKS - 1].t)));
	tmf_collect(s, "after abort");
	tmf_submit(s, buf);
	r = ostor_reset(dev, OSTOR_RESET_LUN, target, lun);
	printf("lun-reset: outcome=%s\n", r < 0 ? ostor_error_name(r) : ostor_tmf_outcome_name(r));
	tmf_collect(s, "after lun-reset");
	tmf_submit(s, buf);
	r = ostor_reset(dev, OSTOR_RESET_TARGET, target, lun);
	printf("target-reset: outcome=%s\n", r < 0 ? ostor_error_name(r) : ostor_tmf_outcome_name(r));
	tmf_collect(s, "after target-reset");
	tmf_submit(s, buf);
	r = ostor_reset(dev, OSTOR_RESET_DEVICE, target, lun);
	printf("device-reset: outcome=%s\n", r < 0 ? ostor_error_name(r) : ostor_tmf_outcome_name(r));
	tmf_collect(s, "after device-reset");
	if (tmf_timeout_step) {
		/* One more read, behind the others on the throttled disk,
		 * with an 800 ms timeout: it must end as a timeout soon after
		 * (its transfers cancelled at their deadline, then ABORT
		 * TASK), never wait for the disk; the others end good. */
		struct tmf_slot late = { 0 };
		uint8_t *lbuf = calloc(1, block_size);
		uint8_t cdb[10] = { 0x28, 0, 0, 0, 0, (uint8_t)(TMF_TASKS * 8), 0, 0, 1, 0 };
		uint64_t t0;

		tmf_submit(s, buf);
		if (!lbuf || ostor_task_new(dev, &late.t) < 0 || ostor_task_set_lun(late.t, target, lun) < 0 ||
		    ostor_task_set_cdb(late.t, cdb, sizeof(cdb)) < 0 ||
		    ostor_task_set_buffer(late.t, OSTOR_DIR_FROM_DEVICE, lbuf, block_size) < 0 ||
		    ostor_task_set_timeout(late.t, 800) < 0)
			FAIL("the late read: %s", ostor_last_error());
		t0 = now_ms();
		if (ostor_task_submit(late.t, (struct ostor_completion){ tmf_cb, &late, NULL }) < 0)
			FAIL("submit the late read: %s", ostor_last_error());
		while (!late.calls && now_ms() < t0 + 120000)
			ostor_handle_events(ctx, 20);
		printf("timeout: result=%s after %llu ms (800 ms timeout)\n",
		       late.calls ? ostor_result_name(ostor_task_result(late.t)) : "none",
		       (unsigned long long)(now_ms() - t0));
		tmf_collect(s, "after timeout");
		ostor_task_free(late.t);
		free(lbuf);
	}
	if (ostor_read_blocks(dev, target, lun, 0, 1, buf) < 0)
		FAIL("read after the resets: %s", ostor_last_error());
	printf("tmf: read after the resets ok\n");
	for (int i = 0; i < TMF_TASKS; i++)
		ostor_task_free(s[i].t);
	free(buf);
	return 0;
}

/* ---- confine ------------------------------------------------------------------- */

static uint64_t counter(const char *name)
{
	struct ostor_counter c[128];
	int n = ostor_transport_counters(dev, c, 128);

	for (int i = 0; i < n && i < 128; i++)
		if (!strcmp(c[i].name, name))
			return c[i].value;
	FAIL("no transport counter %s", name);
}

static int run_confine(uint64_t lba)
{
	struct ostor_virtio_device_info in = OSTOR_VIRTIO_DEVICE_INFO_INIT;
	size_t len = 65536;
	uint8_t *plain = malloc(len), *dma = ostor_virtio_dma_alloc(dev, len);
	uint64_t before;

	if (!plain || !dma)
		FAIL("buffers");
	if (ostor_virtio_device_info(dev, &in) < 0)
		FAIL("device info");
	printf("transport=%s iommu=%s group=%d interrupts=%s vectors=%u access_platform=%d\n", in.transport,
	       in.iommu, in.iommu_group, in.interrupt_kind, in.interrupt_vectors,
	       (int)((in.driver_features >> 33) & 1));
	if ((uintptr_t)plain >= (uintptr_t)dma && (uintptr_t)plain < (uintptr_t)dma + len)
		FAIL("malloc returned DMA memory");
	memset(plain, 0xa5, len);
	memset(dma, 0x5a, len);
	before = counter("virtio_bounced");
	if (ostor_read_blocks(dev, target, lun, lba, (uint32_t)(len / block_size), plain) < 0)
		FAIL("read into ordinary memory");
	if (counter("virtio_bounced") != before + 1)
		FAIL("a read into ordinary memory was not bounced (%llu -> %llu)",
		     (unsigned long long)before, (unsigned long long)counter("virtio_bounced"));
	before = counter("virtio_bounced");
	if (ostor_read_blocks(dev, target, lun, lba, (uint32_t)(len / block_size), dma) < 0)
		FAIL("read into DMA memory");
	if (counter("virtio_bounced") != before)
		FAIL("a read into DMA memory was bounced");
	if (memcmp(plain, dma, len))
		FAIL("the two reads differ");
	printf("confine: ordinary memory bounced, DMA memory direct, same data\n");
	ostor_virtio_dma_free(dev, dma, len);
	free(plain);
	return 0;
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "device", required_argument, NULL, 'd' }, { "target", required_argument, NULL, 't' },
		{ "lun", required_argument, NULL, 'l' }, { "threads", required_argument, NULL, 'n' },
		{ "acquire", no_argument, NULL, 'a' }, { "lba", required_argument, NULL, 'b' },
		{ "blocks", required_argument, NULL, 'k' }, { "io-blocks", required_argument, NULL, 'i' },
		{ "qd", required_argument, NULL, 'q' }, { "seed", required_argument, NULL, 's' },
		{ "sync", required_argument, NULL, 'y' }, { "timeout-step", no_argument, NULL, 'T' },
		{ NULL, 0, NULL, 0 },
	};
	const char *spec = NULL, *prefix = "mq", *mode = argc > 1 ? argv[1] : "";
	int threads = 4, c, rc;
	bool acquire = false;
	uint64_t base = 0;
	uint32_t blocks = 256, io_blocks = 8, qd = 8;
	struct ostor_virtio_device_info in = OSTOR_VIRTIO_DEVICE_INFO_INIT;
	struct ostor_lun_info li = OSTOR_LUN_INFO_INIT;

	optind = 2;
	while ((c = getopt_long(argc, argv, "d:t:l:", opts, NULL)) != -1) {
		switch (c) {
		case 'd': spec = optarg; break;
		case 't': target = (uint32_t)strtoul(optarg, NULL, 0); break;
		case 'l': lun = (uint32_t)strtoul(optarg, NULL, 0); break;
		case 'n': threads = atoi(optarg); break;
		case 'a': acquire = true; break;
		case 'b': base = strtoull(optarg, NULL, 0); break;
		case 'k': blocks = (uint32_t)strtoul(optarg, NULL, 0); break;
		case 'i': io_blocks = (uint32_t)strtoul(optarg, NULL, 0); break;
		case 'q': qd = (uint32_t)strtoul(optarg, NULL, 0); break;
		case 's': prefix = optarg; break;
		case 'y': sync_dir = optarg; break;
		case 'T': tmf_timeout_step = true; break;
		default: return 2;
		}
	}
	if (!spec || (strcmp(mode, "mq") && strcmp(mode, "hotplug") && strcmp(mode, "tmf") &&
		      strcmp(mode, "confine")) ||
	    threads < 1 || threads > 64 ||
	    !qd || !io_blocks || blocks % io_blocks || (!strcmp(mode, "hotplug") && !sync_dir)) {
		fprintf(stderr, "usage: %s mq|hotplug|tmf|confine -d SPEC [options]; see the source\n", argv[0]);
		return 2;
	}
	if (ostor_init(&ctx, NULL) < 0 || ostor_open(ctx, spec, &dev) < 0)
		FAIL("open %s", spec);
	/* tmf is the public task-management API only: any transport (the
	 * UAS test uses it on usb: too). */
	if (strcmp(mode, "tmf") && ostor_virtio_device_info(dev, &in) < 0)
		FAIL("%s is not a virtio-scsi device", spec);
	interrupts = in.interrupts;
	if (!strcmp(mode, "hotplug")) {
		if (ostor_lun_info(dev, 0, 0, &li) < 0)
			FAIL("lun info 0:0");
		block_size = li.block_size;
		rc = run_hotplug(target);
	} else if (!strcmp(mode, "confine")) {
		if (ostor_lun_info(dev, target, lun, &li) < 0)
			FAIL("lun info %u:%u", target, lun);
		block_size = li.block_size;
		rc = run_confine(base);
	} else if (!strcmp(mode, "tmf")) {
		if (ostor_lun_info(dev, target, lun, &li) < 0)
			FAIL("lun info %u:%u", target, lun);
		block_size = li.block_size;
		rc = run_tmf();
	} else {
		if (ostor_lun_info(dev, target, lun, &li) < 0)
			FAIL("lun info %u:%u", target, lun);
		block_size = li.block_size;
		if (base + (uint64_t)threads * blocks > li.blocks)
			FAIL("the regions end past the LUN's %llu blocks", (unsigned long long)li.blocks);
		rc = run_mq(threads, acquire, base, blocks, io_blocks, qd, prefix);
	}
	/* The kernel's interrupt counts while our vectors are still set
	 * up (they go away with the device). */
	if (getenv("HELPER_INTERRUPTS_TO")) {
		FILE *irqs = fopen("/proc/interrupts", "re"), *out = fopen(getenv("HELPER_INTERRUPTS_TO"), "we");
		char line[512];

		while (irqs && out && fgets(line, sizeof(line), irqs))
			if (strstr(line, "vfio"))
				fputs(line, out);
		if (irqs)
			fclose(irqs);
		if (out)
			fclose(out);
	}
	if (ostor_close(dev) < 0) {
		printf("FAIL: close (flush): %s\n", ostor_last_error());
		rc = 1;
	}
	ostor_exit(ctx);
	return rc;
}
