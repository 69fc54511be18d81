/*
 * The USB mass-storage protocol engines (lib/usb: Bulk-Only, CB, CBI,
 * UAS with and without bulk streams) driven by a device the input
 * controls.  A small transfer layer (the xfer.h seam) completes every
 * transfer the engine submits from the input: which of the transfers
 * that may complete next (the oldest of each endpoint or stream, any
 * cancelled one, any timer), its status, its actual length and the bytes
 * the device wrote (CSWs, data, CBI interrupt status, UAS IUs).  Once the
 * input runs out, every transfer completes OUSB_TIMEOUT (or
 * OUSB_NO_DEVICE, byte 0 bit 6) so that recovery has to end.
 *
 * Input: byte 0 protocol (bits 0-2: BOT, BOT with the CBW pipelined, CB,
 * CBI, UAS without streams, UAS with 4 streams, UAS with 32, BOT without
 * pipelining), subclass (bits 3-5), the end (bit 6), scattered buffers
 * (bit 7); bytes 1-2 quirk flags, byte 3 max-transfer; byte 4 the number
 * of commands (bits 0-1, 1 to 4), the LUNs discovered (bit 2: block size
 * and limit known, so adjacent READs / WRITEs merge) and READs / WRITEs
 * adjacent (bit 3: each starts where the one before ended); three bytes
 * per command (kind, length, LUN); then the completions: per completion one byte picks the
 * transfer, one gives the status (bits 0-2, 7: OK) and flags (bit 3: a
 * well-formed header, the CSW signature and tag or the UAS IU tag; bit 4:
 * the whole length; bit 5: the bytes from the input, else zeros; bit 6:
 * cancel a task, or with bit 6 of the pick unplug the device; bit 7: a
 * 16-bit actual length follows, else one byte); bit 7 of the pick refuses
 * the next submission.  A byte after the tasks ended asks for a reset.
 *
 * Asserted: every task submitted completes exactly once (the completion
 * is caught on its way to the core with the linker's --wrap); a GOOD task
 * never reports more bytes than its buffer; a failed one (transport
 * error, timeout, aborted, gone) reports none; no transfer is submitted
 * twice while in flight; none is left in flight when the engine is
 * freed; the engine finishes every task once the device stops answering
 * (a bounded number of completions; more is a hang: abort).  Task buffers
 * are allocated to their exact size, so AddressSanitizer sees any byte
 * written or read past them.
 */
#include "fuzz.h"

#include <stdio.h>
#include <stdlib.h>

#include "core/backend.h"
#include "usb/engine_priv.h"
#include "util/byteorder.h"

#define MAX_TASKS 4
#define MAX_PENDING 256
/* Completions once the input is spent: recovery and its escalation must
 * end well within this. */
#define AFTER_INPUT_CAP 20000

void __real_ostori_task_complete(ostor_task *t);
void __wrap_ostori_task_complete(ostor_task *t);

struct in {
	const uint8_t *p;
	size_t n;
};

static bool in_left(const struct in *in)
{
	return in->n > 0;
}

static uint8_t in_byte(struct in *in)
{
	uint8_t b;

	if (!in->n)
		return 0;
	b = *in->p++;
	in->n--;
	return b;
}

struct ftask {
	ostor_task *t;
	uint8_t *buf;        /* exactly data_len bytes (split in two with scattered buffers) */
	uint8_t *buf2;
	size_t len;
	bool submitted, queued_full;
	int completions;
};

struct layer {
	struct in in;
	bool end_gone;       /* input spent: NO_DEVICE rather than TIMEOUT */
	struct ousb_xfer *pend[MAX_PENDING];
	bool cancelled[MAX_PENDING];
	int npend;
	unsigned long after_input;
	int cancel_task;     /* -1, or a task the input wants cancelled */
	bool unplug;         /* the input unplugs the device */
	bool gone;           /* unplugged: everything ends OUSB_NO_DEVICE */
	bool refuse_next;    /* the next submission is refused (not queued) */
	uint8_t cbw_tag[4];
	uint16_t uas_tag;
	bool uas;
};

static struct layer L;
static struct ousb_engine *volatile dbg_engine; /* for a debugger */
static int trace;   /* FUZZ_USB_TRACE set: each completion and task on stderr */
static struct ftask tasks[MAX_TASKS];
static int ntasks;

/* The core's completion: counted here, never passed on (the tasks never
 * went through the core). */
void __wrap_ostori_task_complete(ostor_task *t)
{
	for (int i = 0; i < ntasks; i++) {
		if (tasks[i].t != t)
			continue;
		if (!tasks[i].submitted || tasks[i].completions)
			__builtin_trap(); /* completed twice, or never submitted */
		tasks[i].completions++;
		if (trace)
			fprintf(stderr, "task %d (%02xh, %zu bytes): result %d, status %d, %zu transferred, "
				"%zu sense\n", i, t->cdb[0], t->data_len, t->result, t->status, t->transferred,
				t->sense_len);
		if (t->result == OSTOR_RESULT_GOOD && t->transferred > t->data_len)
			__builtin_trap(); /* more than the buffer holds */
		if ((t->result == OSTOR_RESULT_TRANSPORT_ERROR || t->result == OSTOR_RESULT_TIMEOUT ||
		     t->result == OSTOR_RESULT_ABORTED || t->result == OSTOR_RESULT_DEVICE_GONE) &&
		    t->transferred)
			__builtin_trap(); /* a failed command moved no data */
		if (t->sense_len > OSTOR_SENSE_MAX)
			__builtin_trap();
		sink_bytes(t->sense, t->sense_len);
		return;
	}
	__real_ostori_task_complete(t);
}

/* ---- the transfer layer -------------------------------------------------- */

static int l_submit(void *layer, struct ousb_xfer *x)
{
	struct layer *l = layer;

	for (int i = 0; i < l->npend; i++)
		if (l->pend[i] == x)
			__builtin_trap(); /* submitted again while in flight */
	if (l->npend == MAX_PENDING)
		__builtin_trap();
	if (x->len && !x->buf)
		__builtin_trap();
	if (l->refuse_next) {
		l->refuse_next = false;
		return -1;
	}
	/* What the host sends: read it all (ASan), note the tags. */
	if (x->kind == OUSB_BULK_OUT || x->kind == OUSB_CONTROL)
		sink_bytes(x->buf, x->len);
	if (x->kind == OUSB_BULK_OUT && x->len == OUSB_CBW_LEN && ostori_get_le32(x->buf) == OUSB_CBW_SIG)
		memcpy(l->cbw_tag, x->buf + 4, 4);
	if (l->uas && x->kind == OUSB_BULK_OUT && x->pipe == OUSB_PIPE_COMMAND && x->len >= 4)
		l->uas_tag = ostori_get_be16(x->buf + 2);
	x->actual = 0;
	l->cancelled[l->npend] = false;
	l->pend[l->npend++] = x;
	return 0;
}

static void l_cancel(void *layer, struct ousb_xfer *x)
{
	struct layer *l = layer;

	for (int i = 0; i < l->npend; i++)
		if (l->pend[i] == x)
			l->cancelled[i] = true;
}

static bool is_in(const struct ousb_xfer *x)
{
	return x->kind == OUSB_BULK_IN || x->kind == OUSB_INTR_IN ||
	       (x->kind == OUSB_CONTROL && (x->setup[0] & 0x80));
}

/* Transfers on one endpoint (or stream) complete in order. */
static uint64_t ep_key(const struct ousb_xfer *x, int i)
{
	switch (x->kind) {
	case OUSB_BULK_IN:
	case OUSB_BULK_OUT:
		return ((uint64_t)x->kind << 40) | ((uint64_t)x->pipe << 32) | x->stream;
	case OUSB_INTR_IN:
		return 1ull << 48;
	case OUSB_WAIT:
		return (2ull << 48) | (uint64_t)i;   /* timers are independent */
	default:
		return 3ull << 48;                   /* control, clear halt, port reset */
	}
}

static bool may_complete(const struct layer *l, int i)
{
	if (l->cancelled[i] || l->pend[i]->kind == OUSB_WAIT)
		return true;
	for (int j = 0; j < i; j++)
		if (!l->cancelled[j] && ep_key(l->pend[j], j) == ep_key(l->pend[i], i))
			return false;
	return true;
}

static void complete_at(struct layer *l, int i, enum ousb_status st)
{
	struct ousb_xfer *x = l->pend[i];
	bool was_cancelled = l->cancelled[i];

	memmove(&l->pend[i], &l->pend[i + 1], (size_t)(l->npend - i - 1) * sizeof(l->pend[0]));
	memmove(&l->cancelled[i], &l->cancelled[i + 1], (size_t)(l->npend - i - 1) * sizeof(l->cancelled[0]));
	l->npend--;
	x->status = st;
	if (x->actual > x->len)
		__builtin_trap();
	if (trace)
		fprintf(stderr, "xfer kind %d pipe %u stream %u len %zu%s -> %s, %zu bytes\n", x->kind, x->pipe,
			x->stream, x->len, was_cancelled ? " (cancelled)" : "", ousb_status_name(st),
			x->actual);
	x->done(x);
}

/* Complete one transfer from the input (or, the input spent, time it
 * out); 0 when nothing is in flight. */
static int l_events(void *layer, int timeout_ms)
{
	struct layer *l = layer;
	int elig[MAX_PENDING], ne = 0, i;
	struct ousb_xfer *x;
	uint8_t pick, sb;
	enum ousb_status st;
	size_t actual;

	(void)timeout_ms;
	if (!l->npend)
		return 0;
	for (i = 0; i < l->npend; i++)
		if (may_complete(l, i))
			elig[ne++] = i;
	if (!ne)
		__builtin_trap();
	if (!in_left(&l->in)) {
		if (++l->after_input > AFTER_INPUT_CAP) {
			fprintf(stderr, "fuzz_usb_engine: the engine still submits transfers after %d "
				"completions without a device\n", AFTER_INPUT_CAP);
			abort();
		}
		i = elig[0];
		x = l->pend[i];
		x->actual = 0;
		st = l->cancelled[i] ? OUSB_CANCELLED : x->kind == OUSB_WAIT ? OUSB_TIMEOUT :
		     l->end_gone ? OUSB_NO_DEVICE : OUSB_TIMEOUT;
		complete_at(l, i, st);
		return 1;
	}
	pick = in_byte(&l->in);
	sb = in_byte(&l->in);
	i = elig[(pick & 0x7f) % ne];
	x = l->pend[i];
	st = (sb & 7) == 7 ? OUSB_OK : (enum ousb_status)(sb & 7);
	if (pick & 0x80)
		l->refuse_next = true;
	if ((sb & 0x40) && (pick & 0x40))
		l->unplug = true;
	else if (sb & 0x40)
		l->cancel_task = pick % MAX_TASKS;
	if (l->gone) {
		x->actual = 0;
		complete_at(l, i, l->cancelled[i] && st == OUSB_CANCELLED ? OUSB_CANCELLED : OUSB_NO_DEVICE);
		return 1;
	}
	if (x->kind == OUSB_WAIT) {
		/* A timer: it fires, or it was cancelled. */
		x->actual = 0;
		complete_at(l, i, l->cancelled[i] && st == OUSB_CANCELLED ? OUSB_CANCELLED : OUSB_TIMEOUT);
		return 1;
	}
	if (sb & 0x10) {
		actual = x->len;
	} else if (sb & 0x80) {
		actual = in_byte(&l->in);
		actual |= (size_t)in_byte(&l->in) << 8;
	} else {
		actual = in_byte(&l->in);
	}
	if (actual > x->len)
		actual = x->len;
	if (x->kind == OUSB_CLEAR_HALT_IN || x->kind == OUSB_CLEAR_HALT_OUT || x->kind == OUSB_PORT_RESET)
		actual = 0;
	if (is_in(x) && actual) {
		if (sb & 0x20) {
			size_t k = OSTOR_MIN(actual, l->in.n);

			memcpy(x->buf, l->in.p, k);
			l->in.p += k;
			l->in.n -= k;
			memset(x->buf + k, 0, actual - k);
		} else {
			memset(x->buf, 0, actual);
		}
	}
	if (is_in(x) && (sb & 0x08) && x->kind == OUSB_BULK_IN) {
		if (!l->uas && x->len >= OUSB_CSW_LEN) {
			/* A valid CSW for the last CBW; status and residue
			 * stay the input's. */
			if (actual < OUSB_CSW_LEN) {
				memset(x->buf + actual, 0, OUSB_CSW_LEN - actual);
				actual = OUSB_CSW_LEN;
			}
			ostori_put_le32(x->buf, OUSB_CSW_SIG);
			memcpy(x->buf + 4, l->cbw_tag, 4);
			x->buf[12] %= 3;
		} else if (l->uas && x->pipe == OUSB_PIPE_STATUS && actual >= 4) {
			ostori_put_be16(x->buf + 2, x->stream ? (uint16_t)x->stream : l->uas_tag);
		}
	}
	x->actual = actual;
	complete_at(l, i, st);
	return 1;
}

static const struct ousb_ops fuzz_ops = {
	.submit = l_submit,
	.cancel = l_cancel,
	.events = l_events,
};

/* ---- commands -------------------------------------------------------------- */

static ostor_context *ctx;
static ostor_device *dev;

/* READs and WRITEs at block 8, or (adjacent) each where the last ended. */
static bool adjacent_rw;
static uint32_t next_lba;

static void cdb_rw(uint8_t *cdb, uint8_t op, size_t blocks)
{
	uint32_t lba = adjacent_rw ? next_lba : 8;

	memset(cdb, 0, 10);
	cdb[0] = op;
	ostori_put_be32(cdb + 2, lba);
	cdb[7] = (uint8_t)(blocks >> 8);
	cdb[8] = (uint8_t)blocks;
	next_lba = lba + (uint32_t)blocks;
}

static bool make_task(struct ftask *ft, uint8_t kind, uint8_t lenb, uint8_t lun, bool scatter)
{
	uint8_t cdb[16] = { 0 };
	uint8_t cdb_len = 6;
	enum ostor_dir dir = OSTOR_DIR_FROM_DEVICE;
	size_t len;

	switch (kind % 8) {
	case 0: /* READ(10) */
	case 1: /* WRITE(10) */
		len = (size_t)(lenb % 9) * 512 + (lenb >= 0xf0 ? lenb & 0x0f : 0);
		cdb_rw(cdb, kind % 8 ? 0x2a : 0x28, len / 512);
		cdb_len = 10;
		dir = kind % 8 ? OSTOR_DIR_TO_DEVICE : OSTOR_DIR_FROM_DEVICE;
		break;
	case 2: /* INQUIRY */
		len = lenb;
		cdb[0] = 0x12;
		cdb[4] = lenb;
		break;
	case 3: /* REQUEST SENSE */
		len = lenb % 253;
		cdb[0] = 0x03;
		cdb[4] = (uint8_t)len;
		break;
	case 4: /* READ CAPACITY(10) */
		len = lenb & 0x80 ? 8 : lenb % 9;
		cdb[0] = 0x25;
		cdb_len = 10;
		break;
	case 5: /* TEST UNIT READY */
		len = 0;
		cdb[0] = 0x00;
		break;
	case 6: /* SYNCHRONIZE CACHE(10) */
		len = 0;
		cdb[0] = 0x35;
		cdb_len = 10;
		break;
	default: /* MODE SENSE(6) */
		len = lenb;
		cdb[0] = 0x1a;
		cdb[2] = 0x3f;
		cdb[4] = lenb;
		break;
	}
	memset(ft, 0, sizeof(*ft));
	if (ostor_task_new(dev, &ft->t) < 0)
		return false;
	ft->len = len;
	if (ostor_task_set_lun(ft->t, 0, lun) < 0 || ostor_task_set_cdb(ft->t, cdb, cdb_len) < 0)
		return false;
	if (!len)
		return ostor_task_set_buffer(ft->t, OSTOR_DIR_NONE, NULL, 0) == 0;
	if (scatter && len >= 2) {
		size_t a = len / 3 + 1;
		struct iovec iov[2];

		ft->buf = malloc(a);
		ft->buf2 = malloc(len - a);
		if (!ft->buf || !ft->buf2)
			return false;
		memset(ft->buf, 0xa5, a);
		memset(ft->buf2, 0xa5, len - a);
		iov[0] = (struct iovec){ ft->buf, a };
		iov[1] = (struct iovec){ ft->buf2, len - a };
		return ostor_task_set_iov(ft->t, dir, iov, 2) == 0;
	}
	ft->buf = malloc(len);
	if (!ft->buf)
		return false;
	memset(ft->buf, 0xa5, len);
	return ostor_task_set_buffer(ft->t, dir, ft->buf, len) == 0;
}

static void free_tasks(void)
{
	for (int i = 0; i < ntasks; i++) {
		if (tasks[i].t) {
			if (tasks[i].completions) {
				sink_bytes(tasks[i].buf, tasks[i].buf2 ? tasks[i].len / 3 + 1 : tasks[i].len);
				SINK(tasks[i].t->transferred);
			}
			ostor_task_free(tasks[i].t);
		}
		free(tasks[i].buf);
		free(tasks[i].buf2);
	}
	memset(tasks, 0, sizeof(tasks));
	ntasks = 0;
}

static bool all_done(void)
{
	for (int i = 0; i < ntasks; i++)
		if (tasks[i].t && (!tasks[i].submitted || !tasks[i].completions))
			return false;
	return true;
}

static void submit_waiting(struct ousb_engine *e)
{
	for (int i = 0; i < ntasks; i++) {
		int r;

		if (!tasks[i].t || tasks[i].submitted)
			continue;
		tasks[i].submitted = true;   /* a completion inside submit counts */
		r = ousb_engine_submit(e, tasks[i].t);
		if (trace)
			fprintf(stderr, "submit task %d (%02xh, %zu bytes, LUN %u): %d\n", i, tasks[i].t->cdb[0],
				tasks[i].t->data_len, tasks[i].t->lun, r);
		if (r == OSTORI_SUBMIT_FULL) {
			if (tasks[i].completions)
				__builtin_trap(); /* "full" yet completed */
			tasks[i].submitted = false;
		} else if (r < 0) {
			if (tasks[i].completions)
				__builtin_trap(); /* refused yet completed */
			ostor_task_free(tasks[i].t);
			tasks[i].t = NULL;
		}
	}
}

static int init(void)
{
	setenv("ORIONSTOR_CONF", "/dev/null", 0);
	trace = getenv("FUZZ_USB_TRACE") != NULL;
	unsetenv("ORIONSTOR_USB_PIPELINE");
	unsetenv("ORIONSTOR_USB_QUIRKS");
	if (ostor_init(&ctx, "") < 0)
		return -1;
	ostor_set_log_level(ctx, OSTOR_LOG_NONE);
	/* A simulated device: the ostor_device the engine serves. */
	if (ostor_open(ctx, "sim:size=1M", &dev) < 0)
		return -1;
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const uint8_t protos[8] = { OUSB_PR_BOT, OUSB_PR_BOT, OUSB_PR_CB, OUSB_PR_CBI,
					   OUSB_PR_UAS, OUSB_PR_UAS, OUSB_PR_UAS, OUSB_PR_BOT };
	static const uint8_t subclasses[8] = { OUSB_SC_SCSI, OUSB_SC_SCSI, OUSB_SC_UFI, OUSB_SC_SFF,
					       OUSB_SC_RBC, OUSB_SC_MMC, OUSB_SC_QIC, OUSB_SC_SCSI };
	static int ready;
	struct ousb_engine_config cfg = { 0 };
	struct ousb_engine *e;
	struct in in = { data, size };
	uint8_t b0, b4, nt;
	unsigned long rounds = 0;
	bool scatter;

	if (!ready)
		ready = init() == 0 ? 1 : -1;
	if (ready < 0)
		abort();
	if (size < 5)
		return 0;
	b0 = in_byte(&in);
	cfg.protocol = protos[b0 & 7];
	cfg.subclass = subclasses[(b0 >> 3) & 7];
	cfg.timeout_ms = 1000;
	cfg.pipeline = (b0 & 7) != 7;
	cfg.pipeline_cbw = (b0 & 7) == 1;
	cfg.csw_grace_ms = 5;
	cfg.streams = (b0 & 7) == 5 ? 4 : (b0 & 7) == 6 ? 32 : 0;
	cfg.quirks.flags = (uint32_t)in_byte(&in);
	cfg.quirks.flags |= (uint32_t)(in_byte(&in) & 0x03) << 8;
	cfg.quirks.max_transfer = 512u * ((uint32_t)in_byte(&in) + 1);
	scatter = b0 & 0x80;
	b4 = in_byte(&in);
	nt = (uint8_t)((b4 & 3) + 1);
	adjacent_rw = b4 & 0x08;
	next_lba = 8;

	memset(&L, 0, sizeof(L));
	L.end_gone = b0 & 0x40;
	L.cancel_task = -1;
	L.uas = cfg.protocol == OUSB_PR_UAS;
	dev->max_transfer_bytes = 64 * 1024;
	if (ousb_engine_new(dev, &fuzz_ops, &L, &cfg, &e) < 0)
		abort();
	dbg_engine = e;
	e->tag = 0x100;   /* deterministic (the engine seeds it from the clock) */
	if (b4 & 0x04)
		for (uint32_t l = 0; l < OUSB_MAX_LUNS; l++)
			ousb_engine_lun_limits(e, l, 512, 64 * 1024);
	for (int i = 0; i < nt; i++) {
		uint8_t kind = in_byte(&in), lenb = in_byte(&in), lun = in_byte(&in);

		ntasks = i + 1;
		if (!make_task(&tasks[i], kind, lenb, lun & (lun & 0x80 ? 0x0f : 0x01), scatter))
			abort();
	}
	L.in = in;

	/* Get Max LUN (BOT) or REPORT LUNS (UAS), from the input too. */
	SINK(ousb_engine_probe(e));
	submit_waiting(e);
	while (!all_done()) {
		if (++rounds > size + AFTER_INPUT_CAP + 100) {
			fprintf(stderr, "fuzz_usb_engine: tasks still pending after %lu rounds\n", rounds);
			abort();
		}
		if (!l_events(&L, 0)) {
			submit_waiting(e);
			if (!L.npend && !all_done()) {
				/* Nothing on the wire, tasks not done: hung. */
				fprintf(stderr, "fuzz_usb_engine: tasks pending with no transfer in flight\n");
				abort();
			}
			continue;
		}
		if (L.unplug && !L.gone) {
			L.gone = true;
			ousb_engine_gone(e);
		}
		if (L.cancel_task >= 0) {
			int k = L.cancel_task;

			L.cancel_task = -1;
			if (k < ntasks && tasks[k].t && tasks[k].submitted && !tasks[k].completions)
				SINK(ousb_engine_cancel(e, tasks[k].t));
		}
		submit_waiting(e);
	}
	/* Then maybe a reset asked for (ostor_reset): the transport's, a
	 * port reset, or UAS task management, answered by the input too. */
	if (in_left(&L.in) && !L.gone) {
		uint8_t op = in_byte(&L.in);

		if (op & 1)
			SINK(ousb_engine_reset(e, op & 2));
		else if ((op & 2) && L.uas)
			SINK(ousb_uas_reset(e, OSTOR_RESET_LUN, 0));
		if (trace)
			for (int i = 0; i < L.npend; i++)
				fprintf(stderr, "after reset: kind %d pipe %u stream %u%s\n", L.pend[i]->kind,
					L.pend[i]->pipe, L.pend[i]->stream, L.cancelled[i] ? " (cancelled)" : "");
	}
	ousb_engine_free(e);
	if (L.npend)
		__builtin_trap(); /* freed with transfers in flight */
	free_tasks();
	return 0;
}
