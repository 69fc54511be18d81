/*
 * tools/common/bench.c - "orionstor bench": IOPS, bandwidth and latency
 * percentiles of one LUN through the public asynchronous API.
 *
 * Each thread keeps --qd commands in flight on its own region of the span
 * (on a virtio-scsi device it owns a request queue: no lock on its path)
 * and records completion latencies in log-linear histograms.  Nothing
 * before the end of --ramp is counted.  A run that measured nothing, or
 * in which any command failed or any block read back wrong, is not a
 * measurement: the tool says so and exits non-zero.
 */
#include "toolcommon.h"
#include "subcommands.h"
#include "histogram.h"

#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <sched.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

enum {
	KEY_RW = 0x100, KEY_MIX, KEY_BS, KEY_QD, KEY_THREADS, KEY_RUNTIME, KEY_RAMP, KEY_SPAN,
	KEY_VERIFY,
};

enum pattern { P_READ, P_WRITE, P_RANDREAD, P_RANDWRITE, P_RANDRW };
static const char *const pattern_names[] = { "read", "write", "randread", "randwrite", "randrw" };

#define VERIFY_MAGIC 0x48434e4542524f53ull /* "SORBENCH" */
#define VERIFY_MAX_BLOCKS (64ull << 20)     /* 4 bytes of memory per block */

struct bench_args {
	enum pattern rw;
	unsigned int mix;            /* percent reads of randrw */
	uint64_t bs, span;
	unsigned int qd, threads;
	double runtime, ramp;
	bool verify, quiet;
};

struct worker;

struct slot {
	struct worker *w;
	ostor_task *task;
	uint8_t *buf;                /* ostor_dma_alloc */
	atomic_int busy;
	unsigned int index;          /* in w->slots */
	bool write;
	uint64_t lba, start_ns;
	uint32_t seq;
};

struct bench;

struct worker {
	struct bench *b;
	pthread_t thread;
	unsigned int index;
	int queue;                   /* the queue it owns, or -1 (shared path) */
	uint64_t first, blocks;      /* region, in blocks */
	uint64_t next;               /* sequential position in the region */
	uint64_t seed;
	struct slot *slots;
	bool setup_failed;
	/* A queue owner's latencies (its callbacks run on its own thread:
	 * no locked instructions, no cache line shared with the others);
	 * merged into the bench's at the end. */
	struct tc_hist hist[2];
};

struct bench {
	const struct bench_args *a;
	const struct tc_common *c;
	ostor_context *ctx;
	ostor_device *dev;
	uint32_t block_size;
	uint64_t per_io;             /* blocks per command */
	struct worker *workers;
	atomic_bool measuring, stop;
	struct tc_hist hist[2];      /* read, write */
	atomic_uint_fast64_t errors, verify_errors;
	atomic_int first_result;     /* of the first failed command, -1 none */
	_Atomic uint32_t *expected;  /* --verify: sequence number per block, 0 unknown */
	atomic_uint seq;
};


static int parse_seconds(const char *arg, double *out)
{
	char *end;
	double v = strtod(arg, &end);

	if (end == arg || *end || v < 0 || v > 86400)
		return -1;
	*out = v;
	return 0;
}

static error_t bench_parser(int key, char *arg, struct argp_state *state)
{
	struct bench_args *a = state->input;
	const char *why;
	size_t i;

	switch (key) {
	case KEY_RW:
		for (i = 0; i < TC_ARRAY_SIZE(pattern_names); i++)
			if (!strcmp(arg, pattern_names[i]))
				break;
		if (i == TC_ARRAY_SIZE(pattern_names))
			argp_error(state, "--rw %s: expected read, write, randread, randwrite or randrw", arg);
		a->rw = (enum pattern)i;
		return 0;
	case KEY_MIX:
		a->mix = (unsigned int)tc_argp_u64(state, "--mix", arg, 100);
		return 0;
	case KEY_BS:
		if (tc_parse_size(arg, UINT32_MAX, &a->bs, &why) < 0 || !a->bs)
			argp_error(state, "--bs %s: %s", arg, a->bs ? why : "must not be 0");
		return 0;
	case KEY_SPAN:
		if (tc_parse_size(arg, UINT64_MAX, &a->span, &why) < 0 || !a->span)
			argp_error(state, "--span %s: %s", arg, a->span ? why : "must not be 0");
		return 0;
	case KEY_QD:
		a->qd = (unsigned int)tc_argp_u64(state, "--qd", arg, 4096);
		if (!a->qd)
			argp_error(state, "--qd must be at least 1");
		return 0;
	case KEY_THREADS:
		a->threads = (unsigned int)tc_argp_u64(state, "--threads", arg, 64);
		if (!a->threads)
			argp_error(state, "--threads must be at least 1");
		return 0;
	case KEY_RUNTIME:
		if (parse_seconds(arg, &a->runtime) < 0 || a->runtime <= 0)
			argp_error(state, "--runtime %s: expected seconds, more than 0", arg);
		return 0;
	case KEY_RAMP:
		if (parse_seconds(arg, &a->ramp) < 0)
			argp_error(state, "--ramp %s: expected seconds, 0 or more", arg);
		return 0;
	case KEY_VERIFY:
		a->verify = true;
		return 0;
	case 'q':
		a->quiet = true;
		return 0;
	default:
		return ARGP_ERR_UNKNOWN;
	}
}

static const struct argp_option bench_options[] = {
	{ "rw", KEY_RW, "PATTERN", 0, "read, write, randread (default), randwrite or randrw", 1 },
	{ "mix", KEY_MIX, "PERCENT", 0, "Share of reads in randrw (default 50)", 1 },
	{ "bs", KEY_BS, "SIZE", 0, "Bytes per command, a multiple of the block size (default 4k)", 1 },
	{ "qd", KEY_QD, "N", 0, "Commands in flight per thread (default 32)", 1 },
	{ "threads", KEY_THREADS, "N", 0, "Threads, each with its own region and queue (default 1)", 1 },
	{ "runtime", KEY_RUNTIME, "SECONDS", 0, "Measured time in seconds (default 10)", 1 },
	{ "ramp", KEY_RAMP, "SECONDS", 0, "Unmeasured warm-up first, in seconds (default 1)", 1 },
	{ "span", KEY_SPAN, "SIZE", 0, "Bytes of the LUN used from LBA 0 (default: all of it)", 1 },
	{ "verify", KEY_VERIFY, NULL, 0,
	  "Stamp every written block with its LBA and a sequence number and check every block read "
	  "that this run wrote", 1 },
	{ "quiet", 'q', NULL, 0, "No progress line", 1 },
	{ NULL }
};

static const struct argp bench_argp = {
	bench_options, bench_parser, NULL,
	"Measure IOPS, bandwidth and latency of a logical unit.\v"
	"Writes destroy the data in the span.  SIZE takes k, M, G and T suffixes (powers of 1024).  "
	"Exit status 0 only for a valid measurement: every command succeeded, every checked block "
	"matched, and something was measured."
};

/* --verify: the stamp of one block. */
static void stamp(uint8_t *p, uint32_t block_size, uint64_t lba, uint32_t seq)
{
	uint64_t magic = VERIFY_MAGIC;

	memcpy(p, &magic, 8);
	memcpy(p + 8, &lba, 8);
	memcpy(p + 16, &seq, 4);
	for (uint32_t i = 20; i < block_size; i++)
		p[i] = (uint8_t)(lba * 7 + seq * 13 + i);
}

static bool stamp_ok(const uint8_t *p, uint32_t block_size, uint64_t lba, uint32_t seq)
{
	uint64_t magic, l;
	uint32_t s;

	memcpy(&magic, p, 8);
	memcpy(&l, p + 8, 8);
	memcpy(&s, p + 16, 4);
	if (magic != VERIFY_MAGIC || l != lba || s != seq)
		return false;
	for (uint32_t i = 20; i < block_size; i++)
		if (p[i] != (uint8_t)(lba * 7 + seq * 13 + i))
			return false;
	return true;
}

/* Runs on whichever thread handles events: atomics only. */
static int submit(struct bench *b, struct worker *w, struct slot *s, unsigned int slot_index, uint64_t start_ns);

static void on_done(ostor_task *t, void *ud)
{
	struct slot *s = ud;
	struct bench *b = s->w->b;
	uint64_t now = tc_now_ns(), lat = now - s->start_ns;
	int result = ostor_task_result(t);

	if (result != OSTOR_RESULT_GOOD || ostor_task_transferred(t) != b->a->bs) {
		int none = -1;

		atomic_fetch_add(&b->errors, 1);
		atomic_compare_exchange_strong(&b->first_result, &none,
					       result == OSTOR_RESULT_GOOD ? OSTOR_RESULT_OTHER_STATUS : result);
	} else if (b->expected) {
		for (uint64_t i = 0; i < b->per_io; i++) {
			_Atomic uint32_t *e = &b->expected[s->lba + i];

			if (s->write) {
				atomic_store_explicit(e, s->seq, memory_order_relaxed);
			} else {
				uint32_t want = atomic_load_explicit(e, memory_order_relaxed);

				if (want && !stamp_ok(s->buf + i * b->block_size, b->block_size, s->lba + i, want))
					atomic_fetch_add(&b->verify_errors, 1);
			}
		}
	}
	if (atomic_load_explicit(&b->measuring, memory_order_relaxed)) {
		if (s->w->queue >= 0)
			tc_hist_add_mine(&s->w->hist[s->write], lat);
		else
			tc_hist_add(&b->hist[s->write], lat);
	}
	/* An owner's callbacks run on its own thread: the next command goes
	 * out at once, so the queue stays as deep as asked (fio does the
	 * same), its clock reading the one that ended this command (the
	 * latency then counts this callback too, never less than the
	 * truth).  Shared-path callbacks may run on another thread; the loop
	 * resubmits those. */
	if (s->w->queue >= 0 && !atomic_load(&b->stop)) {
		if (submit(b, s->w, s, s->index, now) == 0)
			return;
		tc_lib_error(OSTOR_ERROR_OTHER, "cannot submit");
		s->w->setup_failed = true;
		atomic_store(&b->stop, true);
	}
	atomic_store_explicit(&s->busy, 0, memory_order_release);
}

static int submit(struct bench *b, struct worker *w, struct slot *s, unsigned int slot_index, uint64_t start_ns)
{
	const struct bench_args *a = b->a;
	uint64_t lba, nslots;
	bool write;
	uint8_t cdb[16];

	switch (a->rw) {
	case P_READ: case P_RANDREAD: write = false; break;
	case P_WRITE: case P_RANDWRITE: write = true; break;
	default: write = tc_rand64(&w->seed) % 100 >= a->mix; break;
	}
	if (b->expected && a->rw != P_READ && a->rw != P_WRITE) {
		/* Random: each slot has its own blocks, so no two commands
		 * of a run ever touch one block at the same time.
		 * (Sequential: one cursor; the commands in flight are its
		 * last --qd positions, distinct as the span holds at least
		 * --qd commands - checked at the start.) */
		uint64_t per_slot = w->blocks / a->qd / b->per_io;

		lba = w->first + (uint64_t)slot_index * per_slot * b->per_io;
		lba += (a->rw == P_READ || a->rw == P_WRITE ? w->next++ % per_slot :
			tc_rand64(&w->seed) % per_slot) * b->per_io;
	} else {
		nslots = w->blocks / b->per_io;
		lba = w->first + (a->rw == P_READ || a->rw == P_WRITE ? w->next++ % nslots :
				  tc_rand64(&w->seed) % nslots) * b->per_io;
	}
	s->write = write;
	s->lba = lba;
	if (write && b->expected) {
		s->seq = atomic_fetch_add(&b->seq, 1) + 1;
		if (!s->seq)
			s->seq = atomic_fetch_add(&b->seq, 1) + 1;
		for (uint64_t i = 0; i < b->per_io; i++)
			stamp(s->buf + i * b->block_size, b->block_size, lba + i, s->seq);
	}
	memset(cdb, 0, sizeof(cdb));
	cdb[0] = write ? 0x8a : 0x88; /* WRITE(16) / READ(16) */
	for (int k = 0; k < 8; k++)
		cdb[2 + k] = (uint8_t)(lba >> (56 - 8 * k));
	for (int k = 0; k < 4; k++)
		cdb[10 + k] = (uint8_t)(b->per_io >> (24 - 8 * k));
	if (ostor_task_prepare(s->task, b->c->target, b->c->lun, cdb, sizeof(cdb),
			       write ? OSTOR_DIR_TO_DEVICE : OSTOR_DIR_FROM_DEVICE, s->buf, (size_t)a->bs) < 0)
		return -1;
	atomic_store_explicit(&s->busy, 1, memory_order_relaxed);
	s->start_ns = start_ns ? start_ns : tc_now_ns();
	if (ostor_task_submit(s->task, (struct ostor_completion){ on_done, s, NULL }) < 0) {
		atomic_store(&s->busy, 0);
		return -1;
	}
	return 0;
}

static void reap(struct bench *b, struct worker *w)
{
	/* An owner's callbacks run right here; polling is the fast path.
	 * (On USB every poll is a system call - counter usb_system_calls;
	 * waiting in ostor_handle_events instead was measured: better on a
	 * loaded machine, slower on a quiet one, see the ChangeLog.) */
	if (w->queue >= 0) {
		if (ostor_queue_poll(b->dev) == 0)
			sched_yield();
	} else {
		ostor_handle_events(b->ctx, 10);
	}
}

static bool any_busy(const struct bench *b, const struct worker *w)
{
	for (unsigned int i = 0; i < b->a->qd; i++)
		if (atomic_load_explicit(&w->slots[i].busy, memory_order_acquire))
			return true;
	return false;
}

static void *run(void *arg)
{
	struct worker *w = arg;
	struct bench *b = w->b;
	uint64_t drain_end;

	/* A queue of our own, while there are free ones; else the shared
	 * path. */
	w->queue = ostor_queue_acquire(b->dev, -1);
	while (!atomic_load(&b->stop)) {
		for (unsigned int i = 0; i < b->a->qd && !atomic_load(&b->stop); i++) {
			if (atomic_load_explicit(&w->slots[i].busy, memory_order_acquire))
				continue;
			if (submit(b, w, &w->slots[i], i, 0) < 0) {
				tc_lib_error(OSTOR_ERROR_OTHER, "cannot submit");
				w->setup_failed = true;
				atomic_store(&b->stop, true);
			}
		}
		reap(b, w);
	}
	drain_end = tc_now_ns() + 60ull * 1000000000u;
	while (any_busy(b, w) && tc_now_ns() < drain_end)
		reap(b, w);
	if (any_busy(b, w)) {
		tc_msg("thread %u: commands still in flight after 60 s", w->index);
		w->setup_failed = true;
	}
	if (w->queue >= 0)
		ostor_queue_release(b->dev);
	return NULL;
}

static struct json_object *dir_json(const struct tc_hist *h, double secs, uint64_t bs)
{
	struct json_object *o = json_object_new_object(), *lat = json_object_new_object();
	struct json_object *pct = json_object_new_object();
	uint64_t n = atomic_load(&h->count);

	json_object_object_add(o, "total_ios", tc_json_u64(n));
	json_object_object_add(o, "io_bytes", tc_json_u64(n * bs));
	json_object_object_add(o, "iops", json_object_new_double(secs > 0 ? (double)n / secs : 0));
	json_object_object_add(o, "bw_bytes", json_object_new_double(secs > 0 ? (double)(n * bs) / secs : 0));
	json_object_object_add(lat, "min", tc_json_u64(n ? atomic_load(&h->min) : 0));
	json_object_object_add(lat, "max", tc_json_u64(atomic_load(&h->max)));
	json_object_object_add(lat, "mean", json_object_new_double(n ? (double)atomic_load(&h->sum) / (double)n : 0));
	json_object_object_add(pct, "50.000000", tc_json_u64(tc_hist_quantile(h, 0.50)));
	json_object_object_add(pct, "99.000000", tc_json_u64(tc_hist_quantile(h, 0.99)));
	json_object_object_add(pct, "99.900000", tc_json_u64(tc_hist_quantile(h, 0.999)));
	json_object_object_add(lat, "percentile", pct);
	json_object_object_add(o, "clat_ns", lat);
	return o;
}

static void dir_text(const char *name, const struct tc_hist *h, double secs, uint64_t bs)
{
	uint64_t n = atomic_load(&h->count);

	if (!n)
		return;
	printf("  %-5s %12.0f IOPS %10.1f MB/s   latency us: mean %.1f  p50 %.1f  p99 %.1f  "
	       "p99.9 %.1f  max %.1f\n", name, (double)n / secs, (double)(n * bs) / secs / 1e6,
	       (double)atomic_load(&h->sum) / (double)n / 1000.0, (double)tc_hist_quantile(h, 0.50) / 1000.0,
	       (double)tc_hist_quantile(h, 0.99) / 1000.0, (double)tc_hist_quantile(h, 0.999) / 1000.0,
	       (double)atomic_load(&h->max) / 1000.0);
}

/* The transport's counters since the open (probing and ramp included):
 * as JSON, or as a line of what a USB device's commands cost in system
 * calls. */
static struct json_object *transport_json(const struct ostor_counter *ctr, int n)
{
	struct json_object *o = json_object_new_object();

	for (int i = 0; i < n; i++)
		json_object_object_add(o, ctr[i].name, tc_json_u64(ctr[i].value));
	return o;
}

static void transport_text(const struct ostor_counter *ctr, int n)
{
	uint64_t cmds = 0, calls = 0;
	bool counted = false;   /* a real USB device (the sim makes no system calls) */

	for (int i = 0; i < n; i++) {
		if (!strcmp(ctr[i].name, "usb_commands")) {
			cmds = ctr[i].value;
		} else if (!strcmp(ctr[i].name, "usb_system_calls")) {
			calls = ctr[i].value;
			counted = true;
		}
	}
	if (cmds && counted)
		printf("  usb: %" PRIu64 " commands, %" PRIu64 " system calls (%.1f a command, since the open)\n",
		       cmds, calls, (double)calls / (double)cmds);
}

static int report(struct bench *b, double secs)
{
	const struct bench_args *a = b->a;
	uint64_t errors = atomic_load(&b->errors), bad = atomic_load(&b->verify_errors);
	uint64_t total = atomic_load(&b->hist[0].count) + atomic_load(&b->hist[1].count);
	struct ostor_counter ctr[64];
	int nctr = ostor_transport_counters(b->dev, ctr, (int)TC_ARRAY_SIZE(ctr));
	int rc = 0;

	if (nctr > (int)TC_ARRAY_SIZE(ctr))
		nctr = (int)TC_ARRAY_SIZE(ctr);
	if (nctr < 0)
		nctr = 0;

	if (b->c->json) {
		struct json_object *root = json_object_new_object(), *jobs = json_object_new_array();
		struct json_object *job = json_object_new_object(), *opts = json_object_new_object();

		json_object_object_add(opts, "rw", json_object_new_string(pattern_names[a->rw]));
		json_object_object_add(opts, "bs", tc_json_u64(a->bs));
		json_object_object_add(opts, "iodepth", tc_json_u64(a->qd));
		json_object_object_add(opts, "numjobs", tc_json_u64(a->threads));
		json_object_object_add(opts, "runtime", json_object_new_double(a->runtime));
		json_object_object_add(opts, "ramp_time", json_object_new_double(a->ramp));
		json_object_object_add(opts, "span", tc_json_u64(b->workers[0].blocks * a->threads * b->block_size));
		json_object_object_add(opts, "verify", json_object_new_boolean(a->verify));
		json_object_object_add(root, "device", json_object_new_string(b->c->device));
		json_object_object_add(root, "global options", opts);
		json_object_object_add(job, "jobname", json_object_new_string("bench"));
		json_object_object_add(job, "elapsed", json_object_new_double(secs));
		json_object_object_add(job, "read", dir_json(&b->hist[0], secs, a->bs));
		json_object_object_add(job, "write", dir_json(&b->hist[1], secs, a->bs));
		json_object_object_add(job, "error", tc_json_u64(errors));
		json_object_object_add(job, "verify_errors", tc_json_u64(bad));
		json_object_array_add(jobs, job);
		json_object_object_add(root, "jobs", jobs);
		json_object_object_add(root, "transport", transport_json(ctr, nctr));
		rc = tc_json_print(root);
		json_object_put(root);
	} else {
		printf("%s %u:%u %s bs=%" PRIu64 " qd=%u threads=%u: %.1f s measured\n", b->c->device,
		       b->c->target, b->c->lun, pattern_names[a->rw], a->bs, a->qd, a->threads, secs);
		dir_text("read", &b->hist[0], secs, a->bs);
		dir_text("write", &b->hist[1], secs, a->bs);
		transport_text(ctr, nctr);
		if (errors || bad)
			printf("  errors %" PRIu64 ", blocks that read back wrong %" PRIu64 "\n", errors, bad);
	}
	if (errors) {
		int first = atomic_load(&b->first_result);

		tc_msg("%" PRIu64 " command%s failed (the first: %s): not a valid measurement", errors,
		       errors == 1 ? "" : "s", ostor_result_name(first));
		return tc_exit_from_result(first, -1, NULL, 0);
	}
	if (bad) {
		tc_msg("%" PRIu64 " block%s read back different from what this run wrote", bad,
		       bad == 1 ? "" : "s");
		return TC_EXIT_MISCOMPARE;
	}
	if (!total) {
		tc_msg("nothing completed in the measured time: not a measurement");
		return TC_EXIT_OTHER;
	}
	return rc ? rc : tc_finish_stdout();
}

/* SIGINT (unless ignored, as for a background job) and SIGTERM end the
 * run early; the workers stop and the measurement so far is reported. */
/* Atomic, not volatile sig_atomic_t: the signal may be taken on another
 * thread (libusb's event thread), and lock-free atomics are
 * async-signal-safe. */
static atomic_int interrupted;

static void on_stop_signal(int sig)
{
	(void)sig;
	atomic_store_explicit(&interrupted, 1, memory_order_relaxed);
}

static void stop_on_signals(void)
{
	struct sigaction sa, old;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_stop_signal;
	sigemptyset(&sa.sa_mask);
	if (sigaction(SIGINT, NULL, &old) == 0 && old.sa_handler != SIG_IGN)
		sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
}

int orionstor_cmd_bench(int argc, char **argv)
{
	struct bench_args a = { .rw = P_RANDREAD, .mix = 50, .bs = 4096, .qd = 32, .threads = 1,
				.runtime = 10, .ramp = 1 };
	struct tc_common c;
	struct bench b;
	struct ostor_lun_info li = OSTOR_LUN_INFO_INIT;
	uint64_t span_blocks, t_measure, t_end, next_progress, end;
	unsigned int started = 0;
	bool progress;
	int rc, err;

	tc_parse(&bench_argp, argc, argv, TC_OPT_DEVICE_REQUIRED | TC_OPT_JSON, &c, &a);
	memset(&b, 0, sizeof(b));
	b.a = &a;
	b.c = &c;
	atomic_init(&b.first_result, -1);
	tc_hist_init(&b.hist[0]);
	tc_hist_init(&b.hist[1]);
	rc = tc_open_device(&c, &b.ctx, &b.dev);
	if (rc)
		return rc;
	err = ostor_lun_info(b.dev, c.target, c.lun, &li);
	if (err < 0) {
		tc_lib_error(err, "cannot query LUN %" PRIu32 ":%" PRIu32, c.target, c.lun);
		tc_close(b.ctx, b.dev);
		return tc_exit_from_error(err);
	}
	rc = TC_EXIT_SYNTAX;
	if (!li.block_size || a.bs % li.block_size) {
		tc_msg("--bs %" PRIu64 " is not a multiple of the %u-byte blocks", a.bs, li.block_size);
		goto out;
	}
	if (a.rw != P_READ && a.rw != P_RANDREAD && li.write_protected) {
		tc_msg("the LUN is write-protected: use --rw read or randread");
		rc = TC_EXIT_DATA_PROTECT;
		goto out;
	}
	b.block_size = li.block_size;
	b.per_io = a.bs / li.block_size;
	span_blocks = a.span ? a.span / li.block_size : li.blocks;
	if (span_blocks > li.blocks) {
		tc_msg("--span is larger than the LUN (%" PRIu64 " blocks)", li.blocks);
		goto out;
	}
	if (a.verify && span_blocks > VERIFY_MAX_BLOCKS) {
		if (a.span) {
			tc_msg("--verify keeps 4 bytes per block: at most %llu blocks (use a smaller --span)",
			       (unsigned long long)VERIFY_MAX_BLOCKS);
			goto out;
		}
		span_blocks = VERIFY_MAX_BLOCKS;
	}
	/* Every slot of every thread needs a command's worth of blocks. */
	if (span_blocks / a.threads / (a.verify ? a.qd : 1) < b.per_io) {
		tc_msg("the span (%" PRIu64 " blocks) is too small for %u thread%s%s of %" PRIu64 "-block commands",
		       span_blocks, a.threads, a.threads == 1 ? "" : "s", a.verify ? " x --qd with --verify" : "",
		       b.per_io);
		goto out;
	}
	if (a.verify) {
		b.expected = calloc(span_blocks, sizeof(*b.expected));
		if (!b.expected) {
			tc_msg("out of memory for the --verify table");
			rc = TC_EXIT_OTHER;
			goto out;
		}
	}
	b.workers = calloc(a.threads, sizeof(*b.workers));
	if (!b.workers) {
		rc = TC_EXIT_OTHER;
		goto out;
	}
	for (unsigned int k = 0; k < a.threads; k++) {
		struct worker *w = &b.workers[k];

		w->b = &b;
		w->index = k;
		w->blocks = span_blocks / a.threads;
		w->first = (uint64_t)k * w->blocks;
		w->seed = 0x9e3779b97f4a7c15ull * (k + 1);
		tc_hist_init(&w->hist[0]);
		tc_hist_init(&w->hist[1]);
		w->slots = calloc(a.qd, sizeof(*w->slots));
		if (!w->slots) {
			rc = TC_EXIT_OTHER;
			goto out;
		}
		for (unsigned int i = 0; i < a.qd; i++) {
			struct slot *s = &w->slots[i];

			s->w = w;
			s->index = i;
			/* Memory the device reaches without a copy. */
			s->buf = ostor_dma_alloc(b.dev, (size_t)a.bs);
			if (!s->buf || ostor_task_new(b.dev, &s->task) < 0) {
				tc_lib_error(OSTOR_ERROR_NO_MEM, "cannot allocate buffers and tasks");
				rc = TC_EXIT_OTHER;
				goto out;
			}
			memset(s->buf, 0, (size_t)a.bs);
		}
	}
	progress = !a.quiet && !c.json && isatty(STDERR_FILENO);
	stop_on_signals();
	t_measure = tc_now_ns() + (uint64_t)(a.ramp * 1e9);
	t_end = t_measure + (uint64_t)(a.runtime * 1e9);
	rc = 0;
	if (a.ramp == 0)
		atomic_store(&b.measuring, true);
	for (; started < a.threads; started++)
		if (pthread_create(&b.workers[started].thread, NULL, run, &b.workers[started]) != 0) {
			tc_msg("cannot start thread %u", started);
			atomic_store(&b.stop, true);
			rc = TC_EXIT_OTHER;
			break;
		}
	next_progress = tc_now_ns() + 1000000000u;
	while (!atomic_load(&b.stop)) {
		uint64_t now = tc_now_ns();
		struct timespec nap = { 0, 20000000 };

		if (!atomic_load(&b.measuring) && now >= t_measure)
			atomic_store(&b.measuring, true);
		if (now >= t_end)
			break;
		if (atomic_load_explicit(&interrupted, memory_order_relaxed)) {
			/* Ctrl-C or kill: what was measured so far is the result. */
			if (!c.json)
				tc_msg("interrupted: reporting the %.1f s measured", now > t_measure
				       ? (double)(now - t_measure) / 1e9 : 0.0);
			break;
		}
		if (progress && now >= next_progress) {
			uint64_t n = atomic_load(&b.hist[0].count) + atomic_load(&b.hist[1].count);

			for (unsigned int k = 0; k < started; k++)
				n += atomic_load(&b.workers[k].hist[0].count) + atomic_load(&b.workers[k].hist[1].count);
			double el = now > t_measure ? (double)(now - t_measure) / 1e9 : 0;

			fprintf(stderr, "\r[%5.1f/%.1f s] %s%12.0f IOPS ", el, a.runtime,
				atomic_load(&b.measuring) ? "" : "ramp ", el > 0 ? (double)n / el : 0);
			next_progress = now + 1000000000u;
		}
		nanosleep(&nap, NULL); /* a clock for the threads, not a synchronisation */
	}
	end = tc_now_ns();
	atomic_store(&b.measuring, false);
	atomic_store(&b.stop, true);
	for (unsigned int k = 0; k < started; k++) {
		pthread_join(b.workers[k].thread, NULL);
		if (b.workers[k].setup_failed && !rc)
			rc = TC_EXIT_OTHER;
		tc_hist_merge(&b.hist[0], &b.workers[k].hist[0]);
		tc_hist_merge(&b.hist[1], &b.workers[k].hist[1]);
	}
	if (progress)
		fprintf(stderr, "\r%60s\r", "");
	if (!rc)
		rc = report(&b, end > t_measure ? (double)(end - t_measure) / 1e9 : 0);
	else
		tc_msg("the run did not complete: not a measurement");
out:
	for (unsigned int k = 0; b.workers && k < a.threads; k++) {
		for (unsigned int i = 0; b.workers[k].slots && i < a.qd; i++) {
			struct slot *s = &b.workers[k].slots[i];

			ostor_task_free(s->task);
			ostor_dma_free(b.dev, s->buf, (size_t)a.bs);
		}
		free(b.workers[k].slots);
	}
	free(b.workers);
	free(b.expected);
	err = tc_close(b.ctx, b.dev);
	return rc ? rc : err;
}
