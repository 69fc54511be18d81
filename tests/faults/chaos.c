/*
 * tests/faults/chaos.c - the randomized fault campaign of issue 14.
 *
 * On each simulated transport, rounds of: open, CHAOS_THREADS threads run
 * verified block I/O (writes, reads, flushes) on regions of their own
 * while an injector thread fires faults of the fault matrix at random (the
 * transport's own and the SCSI target's), one at a time, each once it saw
 * the last one fire; then the faults stop, every block is read back and
 * close.  Checked: a write reported done reads back (a failed one leaves
 * the old or the new data, nothing else); a read reported good returns
 * what was written; no call outlives the timeouts (a watchdog); file
 * descriptors and heap are flat from round to round.
 *
 * Environment: CHAOS_SECONDS (total, default 10), CHAOS_SEED (replay; the
 * thread interleaving is not replayed), CHAOS_THREADS (default 4),
 * CHAOS_TRANSPORTS (default "sim virtio usb-bot usb-cbi usb-cb"),
 * CHAOS_FAULTS (only these, by the names printed), CHAOS_HANG_MS,
 * CHAOS_GDB=1 (the threads' stacks on a hang).  Prints
 * one line per transport and "chaos: PASS" or "chaos: FAIL"; exit 0 on
 * PASS.
 */
#include "core/backend.h"
#include "sim/backend.h"
#include "sim/target.h"
#include "usb/sim_device.h"
#include "usb/engine.h"
#include "virtio/sim_device.h"
#include "virtio/scsi.h"

#include <dirent.h>
#include <inttypes.h>
#include <malloc.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define BS 512
#define REGION 1024            /* blocks per thread */
#define MAX_IO 16              /* blocks per command */
#define CANDS 8                /* possible contents a block may have */
#define HANG_MS 90000          /* no call takes longer (CHAOS_HANG_MS) */
#define MAX_THREADS 16

/* ---- what each block may hold ----------------------------------------------- */

/* A block written with tag: header (magic, lba, tag), then bytes from both. */
static void pattern(uint8_t *b, uint64_t lba, uint32_t tag)
{
	uint64_t x = (lba * 0x9e3779b97f4a7c15ull) ^ ((uint64_t)tag << 17) ^ 0x5851f42d4c957f2dull;

	memcpy(b, "CHAO", 4);
	memcpy(b + 4, &lba, 8);
	memcpy(b + 12, &tag, 4);
	for (size_t i = 16; i < BS; i += 8) {
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		memcpy(b + i, &x, 8);
	}
}

/* tags[0..n-1]: what the block may hold (0: never written, zeros).
 * n == 0: anything ever written to it (too many failed writes). */
struct block_state {
	uint32_t tags[CANDS];
	uint8_t n;
};

static bool block_matches(const uint8_t *b, uint64_t lba, uint32_t tag)
{
	uint8_t want[BS];

	if (!tag) {
		memset(want, 0, BS);
		return !memcmp(b, want, BS);
	}
	pattern(want, lba, tag);
	return !memcmp(b, want, BS);
}

/* The tag the block holds if it is one of ours for lba, else -1. */
static int64_t block_tag(const uint8_t *b, uint64_t lba)
{
	uint32_t tag;

	if (block_matches(b, lba, 0))
		return 0;
	memcpy(&tag, b + 12, 4);
	return block_matches(b, lba, tag) ? (int64_t)tag : -1;
}

/* ---- the run ------------------------------------------------------------------ */

struct totals {
	atomic_ullong writes, writes_ok, reads, reads_ok, flushes, flushes_ok, blocks_verified;
	atomic_ullong errors;
};

struct worker {
	pthread_t th;
	int id;
	ostor_device *dev;
	uint64_t base;
	unsigned int seed;
	struct block_state st[REGION];
	uint32_t next_tag;
	atomic_ullong op_start;    /* ms, 0: between calls */
	atomic_bool done;
	atomic_int op;             /* enum op, for the watchdog */
	struct totals *tot;
};

static atomic_bool stop_io, stop_faults;
static uint64_t hang_ms = HANG_MS;
static const char *transport_name;
static uint64_t round_no;

static void fail(struct totals *t, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void fail(struct totals *t, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	fprintf(stderr, "chaos: %s round %" PRIu64 ": FAIL: ", transport_name, round_no);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
	atomic_fetch_add(&t->errors, 1);
}

enum op { OP_WRITE, OP_READ, OP_FLUSH, OP_FINAL_READ };
static const char *const op_names[] = { "write", "read", "flush", "final read" };

static void op_begin(struct worker *w, enum op op)
{
	atomic_store(&w->op, (int)op);
	atomic_store(&w->op_start, ostori_now_ms());
}

static void op_end(struct worker *w)
{
	atomic_store(&w->op_start, 0);
}

/* A good read: each block one of its candidates (then it is that one). */
static void check_blocks(struct worker *w, uint64_t first, uint32_t count, const uint8_t *buf)
{
	for (uint32_t i = 0; i < count; i++) {
		struct block_state *s = &w->st[first + i];
		uint64_t lba = w->base + first + i;
		int64_t tag = block_tag(buf + (size_t)i * BS, lba);
		bool ok = false;

		if (tag >= 0 && s->n == 0)
			ok = tag == 0 || ((uint32_t)tag >> 24) == (uint32_t)w->id + 1;
		for (int k = 0; k < s->n && !ok; k++)
			ok = s->tags[k] == (uint32_t)tag;
		if (!ok) {
			const uint8_t *b = buf + (size_t)i * BS;
			uint64_t hlba;
			uint32_t htag;
			size_t fill = 0;

			/* What is there: a header (another LBA's block?), or
			 * how much of the 0xa5 the read started with. */
			memcpy(&hlba, b + 4, 8);
			memcpy(&htag, b + 12, 4);
			while (fill < BS && b[fill] == 0xa5)
				fill++;
			fail(w->tot, "thread %d: LBA %" PRIu64 " reads as %s%" PRId64 ", expected one of %d "
			     "candidates (first %u); the block starts %02x%02x%02x%02x, header LBA %" PRIu64
			     " tag %u, %zu bytes of 0xa5 first", w->id, lba, tag < 0 ? "garbage " : "tag ", tag,
			     s->n, s->n ? s->tags[0] : 0, b[0], b[1], b[2], b[3], hlba, htag, fill);
			continue;
		}
		s->tags[0] = (uint32_t)tag;
		s->n = 1;
		atomic_fetch_add(&w->tot->blocks_verified, 1);
	}
}

static void do_write(struct worker *w, uint64_t first, uint32_t count)
{
	static _Thread_local uint8_t buf[MAX_IO * BS];
	uint32_t tag = ((uint32_t)(w->id + 1) << 24) | (++w->next_tag & 0xffffff);
	int r;

	for (uint32_t i = 0; i < count; i++)
		pattern(buf + (size_t)i * BS, w->base + first + i, tag);
	op_begin(w, OP_WRITE);
	r = ostor_write_blocks(w->dev, 0, 0, w->base + first, count, buf);
	op_end(w);
	atomic_fetch_add(&w->tot->writes, 1);
	if (r == 0)
		atomic_fetch_add(&w->tot->writes_ok, 1);
	for (uint32_t i = 0; i < count; i++) {
		struct block_state *s = &w->st[first + i];

		if (r == 0) {
			s->tags[0] = tag;
			s->n = 1;
		} else if (s->n && s->n < CANDS) {
			s->tags[s->n++] = tag;    /* old or new */
		} else {
			s->n = 0;
		}
	}
}

static void do_read(struct worker *w, uint64_t first, uint32_t count)
{
	static _Thread_local uint8_t buf[MAX_IO * BS];
	int r;

	memset(buf, 0xa5, sizeof(buf));
	op_begin(w, OP_READ);
	r = ostor_read_blocks(w->dev, 0, 0, w->base + first, count, buf);
	op_end(w);
	atomic_fetch_add(&w->tot->reads, 1);
	if (r == 0) {
		atomic_fetch_add(&w->tot->reads_ok, 1);
		check_blocks(w, first, count, buf);
	}
}

static void do_flush(struct worker *w)
{
	int r;

	op_begin(w, OP_FLUSH);
	r = ostor_flush(w->dev, 0, 0);
	op_end(w);
	atomic_fetch_add(&w->tot->flushes, 1);
	if (r == 0)
		atomic_fetch_add(&w->tot->flushes_ok, 1);
	else
		ostor_flush_acknowledge(w->dev, 0, 0);  /* the sim loses nothing: checked on */
}

static void *worker_main(void *p)
{
	struct worker *w = p;

	while (!atomic_load(&stop_io)) {
		unsigned int x = (unsigned int)rand_r(&w->seed) % 100;
		uint32_t count = 1 + (uint32_t)rand_r(&w->seed) % MAX_IO;
		uint64_t first = (uint64_t)rand_r(&w->seed) % (REGION - count + 1);

		if (x < 47)
			do_write(w, first, count);
		else if (x < 97)
			do_read(w, first, count);
		else
			do_flush(w);
	}
	atomic_store(&w->done, true);
	return NULL;
}

/* Every block of the region, after the faults. */
static void verify_region(struct worker *w)
{
	for (uint64_t first = 0; first < REGION; first += MAX_IO) {
		static _Thread_local uint8_t buf[MAX_IO * BS];
		int r;

		op_begin(w, OP_FINAL_READ);
		r = ostor_read_blocks(w->dev, 0, 0, w->base + first, MAX_IO, buf);
		op_end(w);
		if (r < 0) {
			fail(w->tot, "thread %d: final read of LBA %" PRIu64 ": %s", w->id, w->base + first,
			     ostor_last_error());
			continue;
		}
		check_blocks(w, first, MAX_IO, buf);
	}
}

/* ---- faults --------------------------------------------------------------------- */

enum kind { T_SIM, T_VIRTIO, T_BOT, T_CBI, T_CB };

static const struct transport {
	const char *name;
	enum kind kind;
	const char *specs[2];   /* alternated per round */
} transports[] = {
	{ "sim", T_SIM, { "sim:size=64M", "sim:size=64M,queues=2" } },
	{ "virtio", T_VIRTIO, { "sim:size=64M,transport=virtio,timeout=100",
				"sim:size=64M,transport=virtio,packed,intr,queues=2,timeout=100" } },
	{ "usb-bot", T_BOT, { "sim:size=64M,transport=usb-bot,usb-timeout=300,blocking=on",
			      "sim:size=64M,transport=usb-bot,usb-timeout=300,pipeline=cbw" } },
	{ "usb-cbi", T_CBI, { "sim:size=64M,transport=usb-cbi,usb-timeout=300",
			      "sim:size=64M,transport=usb-cbi,usb-timeout=300" } },
	{ "usb-cb", T_CB, { "sim:size=64M,transport=usb-cb,usb-timeout=300",
			    "sim:size=64M,transport=usb-cb,usb-timeout=300" } },
};

static const char *const bot_faults[] = {
	"csw-bad-signature", "csw-stale-tag", "csw-short", "csw-long", "csw-512", "csw-bad-status",
	"csw-residue-big", "phase-error", "data-stall", "cbw-stall", "babble", "skip-data", "csw-nak",
	"hang", "zlp-before-csw", "csw-stall", "early-in-stall", "early-in-zlp", "early-in-stall-once",
};
static const char *const cbi_faults[] = {
	"adsc-stall", "intr-btype", "intr-phase", "intr-persistent", "intr-short", "intr-missing", "data-stall",
};
static const char *const cb_faults[] = { "adsc-stall", "data-stall" };

static const struct { const char *name; enum sim_virtio_fault f; uint32_t param; int only; } virtio_faults[] = {
	{ "used-id-range", SIM_VF_USED_ID_RANGE, 3, 0 },
	{ "used-id-twice", SIM_VF_USED_ID_TWICE, 0, 0 },
	{ "used-len-big", SIM_VF_USED_LEN_BIG, 1u << 20, 0 },
	{ "used-idx-back", SIM_VF_USED_IDX_BACK, 2, 1 },
	{ "used-idx-jump", SIM_VF_USED_IDX_JUMP, 1, 1 },
	{ "packed-bad-wrap", SIM_VF_PACKED_BAD_WRAP, 0, 2 },
	{ "response-busy", SIM_VF_RESPONSE, VIRTIO_SCSI_S_BUSY, 0 },
	{ "response-aborted", SIM_VF_RESPONSE, VIRTIO_SCSI_S_ABORTED, 0 },
	{ "response-reset", SIM_VF_RESPONSE, VIRTIO_SCSI_S_RESET, 0 },
	{ "response-failure", SIM_VF_RESPONSE, VIRTIO_SCSI_S_FAILURE, 0 },
	{ "response-target-failure", SIM_VF_RESPONSE, VIRTIO_SCSI_S_TARGET_FAILURE, 0 },
	{ "response-unknown", SIM_VF_RESPONSE, 200, 0 },
	{ "sense-len", SIM_VF_SENSE_LEN, 100000, 0 },
	{ "resid", SIM_VF_RESID, 1u << 30, 0 },
	{ "needs-reset", SIM_VF_NEEDS_RESET, 0, 0 },
	{ "irq-storm", SIM_VF_IRQ_STORM, 10000, 3 },
	{ "hold-answer-first", SIM_VF_HOLD, SIM_TMF_ANSWER_FIRST, 0 },
	{ "hold-reject-abort", SIM_VF_HOLD, SIM_TMF_REJECT_ABORT, 0 },
	{ "hold-tmf-ignored", SIM_VF_HOLD, SIM_TMF_IGNORE, 0 },
	{ "lost-notify", SIM_VF_LOST_NOTIFY, 0, 0 },
};

static const struct { const char *name; uint8_t key, asc, ascq, status; } target_faults[] = {
	{ "medium-error", 0x03, 0x11, 0x00, 0 },
	{ "write-error", 0x03, 0x0c, 0x00, 0 },
	{ "hardware-error", 0x04, 0x44, 0x00, 0 },
	{ "aborted-command", 0x0b, 0x47, 0x00, 0 },
	{ "unit-attention", 0x06, 0x29, 0x00, 0 },
	{ "not-ready", 0x02, 0x04, 0x01, 0 },
	{ "status-busy", 0, 0, 0, 0x08 },
	{ "status-task-set-full", 0, 0, 0, 0x28 },
	{ "status-reservation-conflict", 0, 0, 0, 0x18 },
};

#define MAX_NAMES 64
struct fault_count {
	const char *name;
	uint64_t fired;
};

struct injector {
	pthread_t th;
	const struct transport *tp;
	ostor_device *dev;
	bool packed, intr;
	unsigned int seed;
	struct fault_count counts[MAX_NAMES];
	uint64_t fired;
};

/* The last faults fired, for the report of a hang. */
#define RECENT 32
static pthread_mutex_t recent_lock = PTHREAD_MUTEX_INITIALIZER;
static struct { const char *name; uint64_t at; } recent[RECENT];
static unsigned int recent_n;

static void print_recent(void)
{
	pthread_mutex_lock(&recent_lock);
	for (unsigned int k = recent_n > RECENT ? recent_n - RECENT : 0; k < recent_n; k++)
		fprintf(stderr, "chaos:   fault %s fired %" PRIu64 " ms ago\n", recent[k % RECENT].name,
			ostori_now_ms() - recent[k % RECENT].at);
	pthread_mutex_unlock(&recent_lock);
}

static void count_fired(struct injector *in, const char *name)
{
	int i;

	pthread_mutex_lock(&recent_lock);
	recent[recent_n % RECENT].name = name;
	recent[recent_n % RECENT].at = ostori_now_ms();
	recent_n++;
	pthread_mutex_unlock(&recent_lock);

	for (i = 0; i < MAX_NAMES && in->counts[i].name && strcmp(in->counts[i].name, name); i++)
		;
	if (i == MAX_NAMES)
		return;
	in->counts[i].name = name;
	in->counts[i].fired++;
	in->fired++;
}

static const char *only_faults;
static bool selected(const char *list, const char *name);

static bool allowed(const char *name)
{
	return !only_faults || selected(only_faults, name);
}

/* Arm a transport fault; its name, or NULL if the transport has none (or
 * none is allowed). */
static const char *arm_transport_fault(struct injector *in)
{
	const char *const *names = NULL;
	size_t n = 0;

	switch (in->tp->kind) {
	case T_SIM:
		return NULL;
	case T_VIRTIO:
		for (int tries = 0; tries < 1000; tries++) {
			size_t i = (size_t)rand_r(&in->seed) % OSTOR_ARRAY_SIZE(virtio_faults);
			int only = virtio_faults[i].only;

			if ((only == 1 && in->packed) || (only == 2 && !in->packed) || (only == 3 && !in->intr) ||
			    !allowed(virtio_faults[i].name))
				continue;
			sim_virtio_inject(sim_virtio_of(in->dev), virtio_faults[i].f, 1, virtio_faults[i].param);
			return virtio_faults[i].name;
		}
		return NULL;
	case T_BOT:
		names = bot_faults;
		n = OSTOR_ARRAY_SIZE(bot_faults);
		break;
	case T_CBI:
		names = cbi_faults;
		n = OSTOR_ARRAY_SIZE(cbi_faults);
		break;
	case T_CB:
		names = cb_faults;
		n = OSTOR_ARRAY_SIZE(cb_faults);
		break;
	}
	for (int tries = 0; tries < 1000; tries++) {
		const char *name = names[(size_t)rand_r(&in->seed) % n];

		if (!allowed(name))
			continue;
		sim_usb_arm_fault(sim_usb_of(in->dev), (enum sim_usb_fault)sim_usb_fault_by_name(name), 1, 0);
		return name;
	}
	return NULL;
}

static bool transport_fault_pending(struct injector *in)
{
	if (in->tp->kind == T_VIRTIO)
		return sim_virtio_faults_pending(sim_virtio_of(in->dev)) > 0;
	return sim_usb_fault_pending(sim_usb_of(in->dev));
}

static uint64_t target_injected(struct sim_target *t)
{
	struct sim_stats st;

	sim_target_get_stats(t, &st);
	return st.injected;
}

/* One fault of each source at a time; the next once it fired. */
static void *injector_main(void *p)
{
	struct injector *in = p;
	struct sim_target *tgt = ostori_sim_device_target(in->dev);
	const char *tr_armed = NULL, *tg_armed = NULL;
	uint64_t tg_seen = target_injected(tgt);

	while (!atomic_load(&stop_faults)) {
		struct timespec ts = { 0, (long)(1 + rand_r(&in->seed) % 20) * 1000000L };
		uint64_t now_injected;

		nanosleep(&ts, NULL);  /* pacing only */
		if (tr_armed && !transport_fault_pending(in)) {
			count_fired(in, tr_armed);
			tr_armed = NULL;
		}
		now_injected = target_injected(tgt);
		if (tg_armed && now_injected != tg_seen) {
			count_fired(in, tg_armed);
			tg_armed = NULL;
		}
		tg_seen = now_injected;
		if (rand_r(&in->seed) % 2) {
			if (!tr_armed)
				tr_armed = arm_transport_fault(in);
		} else if (!tg_armed) {
			size_t i = (size_t)rand_r(&in->seed) % OSTOR_ARRAY_SIZE(target_faults);

			/* CB has no status phase: a command failed with a bare
			 * status and no sense looks good to any host. */
			if (!allowed(target_faults[i].name) || (target_faults[i].status && in->tp->kind == T_CB))
				continue;
			if (target_faults[i].status)
				sim_target_inject_status(tgt, 0, -1, 1, target_faults[i].status);
			else
				sim_target_inject_check(tgt, 0, -1, 1, target_faults[i].key, target_faults[i].asc,
							target_faults[i].ascq);
			tg_armed = target_faults[i].name;
		}
	}
	/* What did not fire is taken back. */
	if (in->tp->kind == T_VIRTIO)
		sim_virtio_clear_faults(sim_virtio_of(in->dev));
	else if (in->tp->kind != T_SIM)
		sim_usb_clear_faults(sim_usb_of(in->dev));
	sim_target_clear_faults(tgt);
	return NULL;
}

/* ---- resources ----------------------------------------------------------------- */

static int open_fds(void)
{
	DIR *d = opendir("/proc/self/fd");
	struct dirent *e;
	int n = 0;

	if (!d)
		return -1;
	while ((e = readdir(d)))
		n += e->d_name[0] != '.';
	closedir(d);
	return n - 1;  /* the directory's own */
}

static size_t heap_in_use(void)
{
	struct mallinfo2 mi = mallinfo2();

	return mi.uordblks + mi.hblkhd;
}

/* ---- driver --------------------------------------------------------------------- */

static unsigned long env_ul(const char *name, unsigned long def)
{
	const char *e = getenv(name);

	return e && *e ? strtoul(e, NULL, 0) : def;
}

/* The state of the device behind a hang: the core's in-flight and
 * waiting tasks, and for virtio the driver's slots and the model's view
 * (read without locks: a snapshot). */
static void dump_device(ostor_device *dev)
{
	ostor_context *ctx = dev->ctx;

	fprintf(stderr, "chaos: core: dev inflight %u waitq %u paused %d closing %d; ctx inflight %u done %s "
		"wake_pending %d nchannels %u\n", dev->inflight, dev->waitq.n, dev->paused, dev->closing,
		atomic_load(&ctx->inflight), ctx->done_head ? "non-empty" : "empty", ctx->wake_pending,
		dev->nchannels);
	for (ostor_task *t = dev->inflight_head; t; t = t->inflight_next)
		fprintf(stderr, "chaos:   task %p: state %d waiting %d cancel %d cdb %02x result %d chan %p "
			"timeout %u\n", (void *)t, t->state, t->waiting, atomic_load(&t->cancel_requested),
			t->cdb[0], t->result, (void *)t->chan, t->timeout_ms);
	for (ostor_task *t = dev->waitq.head; t; t = t->wait_next)
		fprintf(stderr, "chaos:   waiting: %p\n", (void *)t);
	if (sim_virtio_of(dev)) {
		vscsi_debug_dump(sim_virtio_driver(sim_virtio_of(dev)), stderr);
		sim_virtio_debug_dump(sim_virtio_of(dev), stderr);
	}
}

/* Watch the workers until the round's end (until == 0: until they all
 * stopped); false on a hang. */
static bool watch(struct worker *w, int n, uint64_t until)
{
	for (;;) {
		struct timespec ts = { 0, 20 * 1000000L };
		bool all_done = true;

		for (int i = 0; i < n; i++)
			all_done &= atomic_load(&w[i].done);
		if (until ? ostori_now_ms() >= until : all_done)
			return true;
		nanosleep(&ts, NULL);
		for (int i = 0; i < n; i++) {
			uint64_t s = atomic_load(&w[i].op_start);

			if (s && ostori_now_ms() - s > hang_ms) {
				fprintf(stderr, "chaos: %s round %" PRIu64 ": FAIL: thread %d hangs in %s for %" PRIu64
					" ms\n", transport_name, round_no, i, op_names[atomic_load(&w[i].op)],
					ostori_now_ms() - s);
				print_recent();
				dump_device(w[i].dev);
				if (getenv("CHAOS_GDB")) {
					char cmd[128];

					snprintf(cmd, sizeof(cmd), "gdb -p %d -batch -ex 'thread apply all bt' >&2",
						 (int)getpid());
					if (system(cmd) != 0)
						fprintf(stderr, "chaos: gdb failed\n");
				}
				return false;
			}
		}
	}
	return true;
}

static int run_transport(ostor_context *ctx, const struct transport *tp, unsigned int seed, int nthreads,
			 uint64_t ms)
{
	struct totals tot = { 0 };
	struct injector in = { 0 };
	struct worker *w = calloc((size_t)nthreads, sizeof(*w));
	int rounds = ms >= 9000 ? 3 : 2;
	int fds0 = -1;
	size_t heap0 = 0, heap_max = 0;
	uint64_t t0 = ostori_now_ms();
	char faults[2048] = "";
	size_t pos = 0;

	if (!w)
		return 1;
	transport_name = tp->name;
	in.tp = tp;
	for (int r = 0; r < rounds && !atomic_load(&tot.errors); r++) {
		const char *spec = tp->specs[r % 2];
		ostor_device *dev;
		bool hang;
		int cr;

		round_no = (uint64_t)r;
		if (ostor_open(ctx, spec, &dev) < 0) {
			fail(&tot, "open %s: %s", spec, ostor_last_error());
			break;
		}
		in.dev = dev;
		in.packed = strstr(spec, "packed") != NULL;
		in.intr = strstr(spec, "intr") != NULL;
		in.seed = seed ^ (unsigned int)(r * 7919);
		atomic_store(&stop_io, false);
		atomic_store(&stop_faults, false);
		for (int i = 0; i < nthreads; i++) {
			w[i].id = i;
			w[i].dev = dev;
			w[i].base = (uint64_t)i * REGION * 2;
			w[i].seed = seed + (unsigned int)(i * 104729 + r * 1299709);
			w[i].tot = &tot;
			atomic_store(&w[i].done, false);
			/* A new device: zeros everywhere. */
			for (int b = 0; b < REGION; b++)
				w[i].st[b] = (struct block_state){ .tags = { 0 }, .n = 1 };
			pthread_create(&w[i].th, NULL, worker_main, &w[i]);
		}
		pthread_create(&in.th, NULL, injector_main, &in);
		hang = !watch(w, nthreads, ostori_now_ms() + ms / (uint64_t)rounds);
		atomic_store(&stop_faults, true);
		pthread_join(in.th, NULL);
		atomic_store(&stop_io, true);
		if (hang || !watch(w, nthreads, 0)) {
			atomic_fetch_add(&tot.errors, 1);
			fflush(stderr);
			_exit(1);  /* threads stuck in the library: no clean way out */
		}
		for (int i = 0; i < nthreads; i++)
			pthread_join(w[i].th, NULL);
		/* The faults are over: everything reads back. */
		for (int i = 0; i < nthreads; i++)
			verify_region(&w[i]);
		cr = ostor_close(dev);
		if (cr < 0 && cr != OSTOR_ERROR_IO)
			fail(&tot, "close: %s", ostor_last_error());
		if (r == 0) {
			fds0 = open_fds();
			heap0 = heap_in_use();
		} else {
			int fds = open_fds();
			size_t heap = heap_in_use();

			if (fds != fds0)
				fail(&tot, "%d file descriptors open after the round, %d after the first", fds, fds0);
			if (heap > heap_max)
				heap_max = heap;
		}
	}
	/* A leak grows with the rounds; allocator noise stays within 4 MiB. */
	if (heap_max > heap0 + (4u << 20))
		fail(&tot, "heap grew from %zu to %zu bytes over the rounds", heap0, heap_max);
	for (int i = 0; i < MAX_NAMES && in.counts[i].name && pos < sizeof(faults) - 64; i++)
		pos += (size_t)snprintf(faults + pos, sizeof(faults) - pos, "%s%s %" PRIu64, i ? ", " : "",
					in.counts[i].name, in.counts[i].fired);
	printf("chaos: %s: %.1f s, %d rounds, %d threads: %llu writes (%llu acknowledged), %llu reads (%llu good), "
	       "%llu flushes (%llu good), %llu blocks verified; %" PRIu64 " faults fired (%s); %llu errors\n",
	       tp->name, (double)(ostori_now_ms() - t0) / 1000.0, rounds, nthreads,
	       (unsigned long long)tot.writes, (unsigned long long)tot.writes_ok,
	       (unsigned long long)tot.reads, (unsigned long long)tot.reads_ok,
	       (unsigned long long)tot.flushes, (unsigned long long)tot.flushes_ok,
	       (unsigned long long)tot.blocks_verified, in.fired, faults, (unsigned long long)tot.errors);
	fflush(stdout);
	free(w);
	if (!in.fired)
		fprintf(stderr, "chaos: %s: FAIL: no fault fired\n", tp->name);
	return tot.errors || !in.fired;
}

/* name is a word of the space-separated list */
static bool selected(const char *list, const char *name)
{
	size_t len = strlen(name);

	for (const char *p = strstr(list, name); p; p = strstr(p + 1, name))
		if ((p == list || p[-1] == ' ') && (p[len] == 0 || p[len] == ' '))
			return true;
	return false;
}

int main(void)
{
	unsigned long seconds = env_ul("CHAOS_SECONDS", 10);
	unsigned int seed = (unsigned int)env_ul("CHAOS_SEED", (unsigned long)time(NULL) ^ (unsigned long)getpid());
	int nthreads = (int)env_ul("CHAOS_THREADS", 4);
	const char *which = getenv("CHAOS_TRANSPORTS");
	ostor_context *ctx;
	char conf[] = "/tmp/ostor-chaos-conf-XXXXXX";
	static const char conf_text[] = "[virtio_scsi]\nscsi_command_timeout = 2000\n";
	int fd, failed = 0, n = 0;

	if (!which || !*which)
		which = "sim virtio usb-bot usb-cbi usb-cb";
	hang_ms = env_ul("CHAOS_HANG_MS", HANG_MS);
	only_faults = getenv("CHAOS_FAULTS");
	if (only_faults && !*only_faults)
		only_faults = NULL;
	if (nthreads < 1 || nthreads > MAX_THREADS)
		nthreads = 4;
	for (size_t i = 0; i < OSTOR_ARRAY_SIZE(transports); i++)
		n += selected(which, transports[i].name);
	printf("chaos: seed %u (replay: CHAOS_SEED=%u), %lu s over %d transport%s, %d threads\n", seed, seed,
	       seconds, n, n == 1 ? "" : "s", nthreads);
	fflush(stdout);
	if (!n)
		return 1;
	fd = mkstemp(conf);
	if (fd < 0 || write(fd, conf_text, sizeof(conf_text) - 1) != (ssize_t)sizeof(conf_text) - 1)
		return 1;
	close(fd);
	if (ostor_init(&ctx, conf) < 0) {
		fprintf(stderr, "chaos: ostor_init: %s\n", ostor_last_error());
		unlink(conf);
		return 1;
	}
	unlink(conf);
	ostor_set_log_level(ctx, getenv("CHAOS_DEBUG") ? OSTOR_LOG_DEBUG : OSTOR_LOG_NONE);
	for (size_t i = 0; i < OSTOR_ARRAY_SIZE(transports); i++)
		if (selected(which, transports[i].name))
			failed |= run_transport(ctx, &transports[i], seed + (unsigned int)i, nthreads,
						seconds * 1000 / (uint64_t)n);
	ostor_exit(ctx);
	printf("chaos: %s\n", failed ? "FAIL" : "PASS");
	return failed;
}
