/*
 * lib/usb/engine.c - Bulk-Only (BOT 1.0) and CB/CBI (CBI 1.1) protocol
 * engines over the transfer seam (xfer.h).
 *
 * One command is on the wire at a time (the class allows no more); tasks
 * queue behind it.  Every step is asynchronous: a transfer completion
 * moves the state machine on, so the same code runs over libusb and over
 * the simulated devices.  Rules kept throughout:
 * - nothing moves on while a transfer of the command is still in flight
 *   (a failure cancels the others and waits for them: no buffer is reused
 *   or freed under the layer);
 * - data is reported good only from a valid, meaningful CSW (BOT) or
 *   status (CBI/CB); a failed command reports 0 bytes transferred;
 * - every failure whose device state is unknown goes through Reset
 *   Recovery / Command Block Reset, escalating to a port reset, then to
 *   "dead".
 */
#include "usb/engine.h"
#include "util/byteorder.h"

#include <stdlib.h>
#include <string.h>

enum { X_OUT = 1, X_IN = 2, X_CSW = 4, X_CTRL = 8, X_INTR = 16, X_OP = 32, X_TMR = 64 };

#define CSW_GRACE_DEFAULT_MS 5
/* Commands the engine holds beyond the one on the wire; more wait in the
 * core (software queueing). */
#define OUSB_ENGINE_QUEUE 32

/* The rescue of a pipelined CSW read (see bot_arm_rescue). */
enum rescue { RESCUE_NONE, RESCUE_ARMED, RESCUE_CANCEL };

enum stage {
	S_IDLE = 0,
	/* Bulk-Only */
	S_BOT_CBW, S_BOT_DIN, S_BOT_DOUT, S_BOT_CLEAR, S_BOT_CSW,
	S_BOT_CSW_FROM_DATA,
	/* CB / CBI */
	S_CB_ADSC, S_CB_DATA, S_CB_CLEAR, S_CB_INTR,
	/* common */
	S_DRAIN,             /* wait for the wire to empty, then e->after */
	S_REC_RESET, S_REC_CLR_IN, S_REC_CLR_OUT, S_REC_PORT,
	S_MAXLUN,
};

/* What to do once a failed command's transfers have drained. */
enum after { AFTER_DONE, AFTER_RECOVER };

struct outcome {
	enum ostor_result res;
	int status;
	size_t transferred;
	bool recover;        /* device state unknown: reset it */
	bool sense;          /* CHECK CONDITION: fetch the sense */
};

/* The command on the wire: the caller's task or our REQUEST SENSE. */
struct wire_cmd {
	uint8_t cdb[16];
	uint8_t cdb_len;
	int dir;
	uint8_t *buf;
	size_t len;
	uint8_t lun;
	unsigned int timeout_ms;
	bool is_sense;
};

struct ousb_engine {
	pthread_mutex_t lock;
	ostor_device *dev;
	const struct ousb_ops *ops;
	void *layer;
	struct ousb_engine_config cfg;
	uint8_t max_lun;
	uint32_t tag;
	bool dead, gone, pipeline, pipeline_cbw;
	bool adapt;                 /* scsi_processing_enabled: fit commands to the subclass */
	bool one_at_a_time;         /* async_io_enabled / storage_device_async_enabled false */
	/* The device lost a CSW read queued behind a data-in: from then on
	 * such reads wait for the data (unless pipelining is forced). */
	bool csw_after_data, keep_pipelining;

	/* tasks waiting for the wire (ring) */
	ostor_task **q;
	size_t qcap, qhead, qlen;

	ostor_task *task;            /* task being executed, or NULL */
	bool task_cancelled;
	struct wire_cmd cmd;
	enum stage stage;
	unsigned int busy;           /* X_* bits of transfers in flight */
	unsigned int submitted;      /* X_* bits submitted for this command */
	struct ousb_xfer x_out, x_in, x_csw, x_ctrl, x_intr, x_op, x_tmr;

	uint8_t cbw[OUSB_CBW_LEN];
	uint8_t csw[OUSB_CSW_LEN];
	uint8_t adsc[16];
	uint8_t intr[4];
	uint8_t ctrl_buf[4];
	uint8_t sense_buf[18];
	uint8_t rc16[32];            /* READ CAPACITY(16) for the quirk */

	/* per wire command */
	size_t data_actual;
	bool babble, data_stalled, csw_from_data, after_clear_csw;
	int csw_stall_tries, zlp_tries;
	enum rescue rescue;
	bool rescue_logged;
	enum after after;

	struct outcome out;          /* the task's outcome so far */
	struct outcome pending;      /* outcome to apply after a drain */
	uint8_t sense[OSTOR_SENSE_MAX];
	size_t sense_len;
	bool rc16_translate;

	/* synchronous operations (probe, tool reset) */
	bool sync_busy, sync_done;
	int sync_result;
	bool rec_port_only;
	bool recovering;

	uint8_t *bounce;
	size_t bounce_len;
	struct ousb_engine_stats stats;
};

static void advance(struct ousb_engine *e);
static void start_next(struct ousb_engine *e);

const char *ousb_status_name(enum ousb_status s)
{
	switch (s) {
	case OUSB_OK: return "ok";
	case OUSB_STALL: return "stall";
	case OUSB_TIMEOUT: return "timeout";
	case OUSB_BABBLE: return "babble";
	case OUSB_CANCELLED: return "cancelled";
	case OUSB_NO_DEVICE: return "no device";
	default: return "error";
	}
}

const char *ousb_transport_name(uint8_t protocol)
{
	switch (protocol) {
	case OUSB_PR_CBI: return "cbi";
	case OUSB_PR_CB: return "cb";
	case OUSB_PR_BOT: return "bot";
	case OUSB_PR_UAS: return "uas";
	default: return "unknown";
	}
}

const char *ousb_subclass_name(uint8_t sc)
{
	switch (sc) {
	case OUSB_SC_RBC: return "rbc";
	case OUSB_SC_MMC: return "mmc";
	case OUSB_SC_QIC: return "qic157";
	case OUSB_SC_UFI: return "ufi";
	case OUSB_SC_SFF: return "sff8070i";
	case OUSB_SC_SCSI: return "scsi";
	default: return "unknown";
	}
}

static bool is_ufi_like(const struct ousb_engine *e)
{
	return e->cfg.subclass == OUSB_SC_UFI || e->cfg.subclass == OUSB_SC_SFF;
}

/* ---- transfers --------------------------------------------------------- */

static unsigned int xbit(struct ousb_engine *e, struct ousb_xfer *x)
{
	if (x == &e->x_out) return X_OUT;
	if (x == &e->x_in) return X_IN;
	if (x == &e->x_csw) return X_CSW;
	if (x == &e->x_ctrl) return X_CTRL;
	if (x == &e->x_intr) return X_INTR;
	if (x == &e->x_tmr) return X_TMR;
	return X_OP;
}

static void xfer_done(struct ousb_xfer *x)
{
	struct ousb_engine *e = x->user;

	pthread_mutex_lock(&e->lock);
	e->busy &= ~xbit(e, x);
	if (x->status == OUSB_NO_DEVICE && !e->gone) {
		ostor_warn(e->dev->ctx, "%s: the device is gone", e->dev->spec);
		e->gone = true;
	}
	advance(e);
	pthread_mutex_unlock(&e->lock);
}

/* Queue one transfer; a layer that refuses it completes it here as an
 * error so the state machines see one path only. */
static void submit(struct ousb_engine *e, struct ousb_xfer *x, enum ousb_kind kind,
		   uint8_t *buf, size_t len, unsigned int timeout_ms)
{
	unsigned int bit = xbit(e, x);

	x->kind = kind;
	x->buf = buf;
	x->len = len;
	x->timeout_ms = timeout_ms;
	x->done = xfer_done;
	x->user = e;
	x->status = OUSB_ERROR;
	x->actual = 0;
	e->submitted |= bit;
	if (e->gone) {
		x->status = OUSB_NO_DEVICE;
		return;
	}
	e->busy |= bit;
	if (e->ops->submit(e->layer, x) < 0) {
		e->busy &= ~bit;
		x->status = OUSB_ERROR;
	}
}

static void cancel_all(struct ousb_engine *e)
{
	struct ousb_xfer *xs[] = { &e->x_out, &e->x_in, &e->x_csw, &e->x_ctrl, &e->x_intr, &e->x_op,
				   &e->x_tmr };

	for (size_t i = 0; i < OSTOR_ARRAY_SIZE(xs); i++)
		if (e->busy & xbit(e, xs[i]))
			e->ops->cancel(e->layer, xs[i]);
}

static enum ostor_result result_of(enum ousb_status s)
{
	switch (s) {
	case OUSB_TIMEOUT: return OSTOR_RESULT_TIMEOUT;
	case OUSB_NO_DEVICE: return OSTOR_RESULT_DEVICE_GONE;
	case OUSB_CANCELLED: return OSTOR_RESULT_ABORTED;
	default: return OSTOR_RESULT_TRANSPORT_ERROR;
	}
}

/* Fail the wire command: stop everything, wait, then recover (or not). */
static void fail(struct ousb_engine *e, enum ostor_result res, bool recover, const char *why)
{
	if (res == OSTOR_RESULT_TIMEOUT)
		e->stats.timeouts++;
	ostor_dbg(e->dev->ctx, "%s: %s command %02xh failed: %s%s", e->dev->spec,
		  ousb_transport_name(e->cfg.protocol), e->cmd.cdb[0], why,
		  recover ? "; resetting the transport" : "");
	e->pending = (struct outcome){ .res = res, .status = -1, .recover = recover };
	e->after = recover ? AFTER_RECOVER : AFTER_DONE;
	e->stage = S_DRAIN;
	cancel_all(e);
	if (!e->busy)
		advance(e);
}

/* ---- completion of tasks ----------------------------------------------- */

static void fix_capacity_data(struct ousb_engine *e, ostor_task *t)
{
	/* READ CAPACITY(10) answered with the block count instead of the
	 * last LBA: take one off. */
	if (t->cdb[0] == 0x25 && t->transferred >= 8 && t->iovcnt >= 1 && t->iov[0].iov_len >= 8) {
		uint8_t *p = t->iov[0].iov_base;
		uint32_t last = (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];

		if (last && last != 0xffffffffu) {
			last--;
			p[0] = (uint8_t)(last >> 24);
			p[1] = (uint8_t)(last >> 16);
			p[2] = (uint8_t)(last >> 8);
			p[3] = (uint8_t)last;
		}
	}
	/* The kernel takes it off whichever READ CAPACITY was used. */
	if (t->cdb[0] == 0x9e && (t->cdb[1] & 0x1f) == 0x10 && t->transferred >= 8 &&
	    t->iovcnt >= 1 && t->iov[0].iov_len >= 8) {
		uint8_t *p = t->iov[0].iov_base;
		uint64_t last = 0;

		for (int i = 0; i < 8; i++)
			last = last << 8 | p[i];
		if (last) {
			last--;
			for (int i = 7; i >= 0; i--, last >>= 8)
				p[i] = (uint8_t)last;
		}
	}
	(void)e;
}

/* Scatter the bounce buffer (or the READ CAPACITY(16) answer) back. */
static size_t copy_out(ostor_task *t, const uint8_t *src, size_t n)
{
	size_t done = 0;

	for (int i = 0; i < t->iovcnt && done < n; i++) {
		size_t k = OSTOR_MIN(n - done, t->iov[i].iov_len);

		memcpy(t->iov[i].iov_base, src + done, k);
		done += k;
	}
	return done;
}

static void finish_task(struct ousb_engine *e)
{
	ostor_task *t = e->task;
	struct outcome *o = &e->out;
	size_t xfer = o->transferred;

	e->task = NULL;
	e->stage = S_IDLE;
	if (!t)
		return;
	if (e->task_cancelled && o->res != OSTOR_RESULT_DEVICE_GONE)
		o->res = OSTOR_RESULT_ABORTED;
	if (o->res != OSTOR_RESULT_GOOD && o->res != OSTOR_RESULT_CHECK_CONDITION)
		xfer = 0;
	if (e->rc16_translate && o->res == OSTOR_RESULT_GOOD) {
		/* Answer READ CAPACITY(10) from the (16) data, saturating. */
		uint8_t rc10[8];
		uint64_t last = 0;

		if (xfer >= 12) {
			for (int i = 0; i < 8; i++)
				last = last << 8 | e->rc16[i];
			if (last > 0xffffffffu)
				last = 0xffffffffu;
			rc10[0] = (uint8_t)(last >> 24);
			rc10[1] = (uint8_t)(last >> 16);
			rc10[2] = (uint8_t)(last >> 8);
			rc10[3] = (uint8_t)last;
			memcpy(rc10 + 4, e->rc16 + 8, 4);
			xfer = copy_out(t, rc10, OSTOR_MIN(sizeof(rc10), t->data_len));
		} else {
			o->res = OSTOR_RESULT_TRANSPORT_ERROR;
			xfer = 0;
		}
	} else if (t->dir == OSTOR_DIR_FROM_DEVICE && t->iovcnt > 1 && xfer) {
		copy_out(t, e->bounce, xfer);
	}
	t->result = o->res;
	t->status = o->res == OSTOR_RESULT_GOOD ? 0 : o->res == OSTOR_RESULT_CHECK_CONDITION ? 2 : -1;
	t->transferred = xfer;
	if (o->res == OSTOR_RESULT_GOOD && (e->cfg.quirks.flags & OUSB_Q_FIX_CAPACITY))
		fix_capacity_data(e, t);
	t->sense_len = 0;
	if (o->res == OSTOR_RESULT_CHECK_CONDITION && e->sense_len) {
		memcpy(t->sense, e->sense, e->sense_len);
		t->sense_len = e->sense_len;
	}
	ostori_task_complete(t);
}

static void fail_queue(struct ousb_engine *e, enum ostor_result res)
{
	while (e->qlen) {
		ostor_task *t = e->q[e->qhead];

		e->qhead = (e->qhead + 1) % e->qcap;
		e->qlen--;
		ostori_task_finish(t, res, -1, NULL, 0, 0);
	}
}

/* ---- wire commands ----------------------------------------------------- */

static void bot_start(struct ousb_engine *e);
static void cb_start(struct ousb_engine *e);

static void wire_start(struct ousb_engine *e)
{
	e->busy = 0;
	e->submitted = 0;
	e->data_actual = 0;
	e->babble = e->data_stalled = e->csw_from_data = e->after_clear_csw = false;
	e->csw_stall_tries = e->zlp_tries = 0;
	e->rescue = RESCUE_NONE;
	e->stats.commands++;
	if (e->cfg.protocol == OUSB_PR_BOT)
		bot_start(e);
	else
		cb_start(e);
}

static void start_sense(struct ousb_engine *e)
{
	struct wire_cmd *c = &e->cmd;
	uint8_t lun = c->lun;
	unsigned int tmo = c->timeout_ms;

	e->stats.auto_sense++;
	memset(c, 0, sizeof(*c));
	c->cdb[0] = 0x03;
	c->cdb[4] = sizeof(e->sense_buf);
	c->cdb_len = 6;
	c->dir = OSTOR_DIR_FROM_DEVICE;
	c->buf = e->sense_buf;
	c->len = sizeof(e->sense_buf);
	c->lun = lun;
	c->timeout_ms = tmo;
	c->is_sense = true;
	wire_start(e);
}

static void start_recovery(struct ousb_engine *e);

/* The CB auto-sense of a command that went through: its sense decides. */
static bool cb_sense_says_good(struct ousb_engine *e)
{
	return e->cfg.protocol == OUSB_PR_CB && e->out.res == OSTOR_RESULT_GOOD;
}

static bool sense_reports_error(const uint8_t *s, size_t n)
{
	uint8_t code;

	if (n < 3)
		return false;
	code = s[0] & 0x7f;
	if (code == 0x72 || code == 0x73)
		return (s[1] & 0x0f) != 0;
	if (code == 0x70 || code == 0x71)
		return (s[2] & 0x0f) != 0;
	return false;
}

/* The wire command ended (nothing in flight) with outcome o. */
static void wire_done(struct ousb_engine *e, struct outcome o)
{
	if (e->gone) {
		e->out = (struct outcome){ .res = OSTOR_RESULT_DEVICE_GONE, .status = -1 };
		finish_task(e);
		return;
	}
	if (e->cmd.is_sense) {
		/* The task's outcome stays CHECK CONDITION; keep the sense
		 * the device gave, however short. */
		if (o.res == OSTOR_RESULT_GOOD) {
			e->sense_len = OSTOR_MIN(o.transferred, sizeof(e->sense_buf));
			memcpy(e->sense, e->sense_buf, e->sense_len);
		} else {
			e->sense_len = 0;
			if (o.res != OSTOR_RESULT_CHECK_CONDITION)
				e->out.res = o.res;
		}
		if (cb_sense_says_good(e) && sense_reports_error(e->sense, e->sense_len)) {
			/* CB: the automatic REQUEST SENSE is the status. */
			e->out.res = OSTOR_RESULT_CHECK_CONDITION;
			e->out.status = 2;
		}
		if (o.recover) {
			start_recovery(e);
			return;
		}
		finish_task(e);
		return;
	}
	e->out = o;
	e->sense_len = 0;
	if (o.recover) {
		start_recovery(e);
		return;
	}
	if (o.res == OSTOR_RESULT_CHECK_CONDITION && o.sense && !e->task_cancelled) {
		start_sense(e);
		return;
	}
	finish_task(e);
}

/* The transport reset at the end of a failed command finished. */
static void recovery_done(struct ousb_engine *e, bool ok)
{
	e->recovering = false;
	e->stage = S_IDLE;
	if (!ok && !e->gone) {
		e->dead = true;
		ostor_err(e->dev->ctx, "%s: the port reset failed; the device is marked dead "
			  "(unplug and replug it)", e->dev->spec);
	} else if (ok) {
		ostori_post_event(e->dev, OSTOR_EVENT_DEVICE_RESET, OSTOR_EVENT_ALL, OSTOR_EVENT_ALL, 0, 0);
	}
	if (e->sync_busy) {
		e->sync_busy = false;
		e->sync_done = true;
		e->sync_result = e->gone ? OSTOR_ERROR_NO_DEVICE : ok ? 0 : OSTOR_ERROR_IO;
		return;
	}
	if (e->gone)
		e->out.res = OSTOR_RESULT_DEVICE_GONE;
	finish_task(e);
}

/* ---- Bulk-Only ---------------------------------------------------------- */

/* Queue the data-in and CSW reads back to back: they complete in order
 * on the bulk-in pipe, so the command costs one round trip less. */
static void bot_pipeline_reads(struct ousb_engine *e)
{
	struct wire_cmd *c = &e->cmd;

	if (c->dir == OSTOR_DIR_FROM_DEVICE && c->len && !(e->submitted & X_IN))
		submit(e, &e->x_in, OUSB_BULK_IN, c->buf, c->len, c->timeout_ms);
	if (e->csw_after_data && c->dir == OSTOR_DIR_FROM_DEVICE && c->len)
		return;
	if ((c->dir != OSTOR_DIR_TO_DEVICE || !c->len) && !(e->submitted & X_CSW))
		submit(e, &e->x_csw, OUSB_BULK_IN, e->csw, OUSB_CSW_LEN, c->timeout_ms);
}

static void bot_start(struct ousb_engine *e)
{
	struct wire_cmd *c = &e->cmd;
	uint8_t *p = e->cbw;

	e->tag++;
	ostori_put_le32(p, OUSB_CBW_SIG);
	ostori_put_le32(p + 4, e->tag);
	ostori_put_le32(p + 8, (uint32_t)c->len);
	p[12] = c->dir == OSTOR_DIR_FROM_DEVICE ? 0x80 : 0x00;
	p[13] = c->lun & 0x0f;
	p[14] = c->cdb_len;
	memset(p + 15, 0, 16);
	memcpy(p + 15, c->cdb, c->cdb_len);
	e->stage = S_BOT_CBW;
	submit(e, &e->x_out, OUSB_BULK_OUT, e->cbw, OUSB_CBW_LEN, e->cfg.timeout_ms);
	if (e->pipeline && e->pipeline_cbw)
		bot_pipeline_reads(e);
	advance(e);
}

static bool looks_like_csw(struct ousb_engine *e, const uint8_t *p, size_t n)
{
	return n == OUSB_CSW_LEN && ostori_get_le32(p) == OUSB_CSW_SIG && ostori_get_le32(p + 4) == e->tag;
}

/*
 * The data-in of a pipelined command completed while its CSW read is still
 * queued.  A device normally sends the CSW right after the data, but
 * QEMU's usb-storage (through 7.2 at least) loses a CSW read that reaches
 * it while the command is completing: usb_msd_command_complete() finishes
 * the data packet before it clears s->req, the host controller fires the
 * queued CSW packet from inside that completion, the device parks it as
 * "still in flight", and nothing ever completes it.  A CSW read issued
 * again is answered at once.  So: a short timer; if the CSW has not come
 * when it fires, cancel the read (bytes that raced in are kept) and issue
 * it again.  On a device that is merely slow this costs one cancel.
 */
static void bot_arm_rescue(struct ousb_engine *e)
{
	if (!(e->busy & X_CSW) || e->rescue != RESCUE_NONE || (e->submitted & X_TMR))
		return;
	e->rescue = RESCUE_ARMED;
	submit(e, &e->x_tmr, OUSB_WAIT, NULL, 0, e->cfg.csw_grace_ms);
}

static void bot_submit_csw(struct ousb_engine *e)
{
	e->stage = S_BOT_CSW;
	if (!(e->submitted & X_CSW) || e->after_clear_csw) {
		e->after_clear_csw = false;
		submit(e, &e->x_csw, OUSB_BULK_IN, e->csw, OUSB_CSW_LEN, e->cmd.timeout_ms);
	}
}

static void bot_clear(struct ousb_engine *e, bool in)
{
	e->stats.clear_halts++;
	e->stage = S_BOT_CLEAR;
	e->after_clear_csw = true;
	submit(e, &e->x_op, in ? OUSB_CLEAR_HALT_IN : OUSB_CLEAR_HALT_OUT, NULL, 0, e->cfg.timeout_ms);
}

/* Judge a 13-byte CSW: valid (size, signature, tag), then meaningful. */
static void bot_eval_csw(struct ousb_engine *e, const uint8_t *p, size_t n)
{
	struct wire_cmd *c = &e->cmd;
	struct outcome o = { .status = -1 };
	uint32_t residue;
	uint8_t status;
	size_t moved;

	if (n != OUSB_CSW_LEN || ostori_get_le32(p) != OUSB_CSW_SIG ||
	    (ostori_get_le32(p + 4) != e->tag && !(e->cfg.quirks.flags & OUSB_Q_IGNORE_TAG)) || p[12] > 2) {
		e->stats.csw_invalid++;
		ostor_warn(e->dev->ctx, "%s: invalid CSW (%zu bytes, signature %08x, tag %u for %u, "
			   "status %u)", e->dev->spec, n, n >= 4 ? ostori_get_le32(p) : 0,
			   n >= 8 ? ostori_get_le32(p + 4) : 0, e->tag, n >= 13 ? p[12] : 0);
		o.res = OSTOR_RESULT_TRANSPORT_ERROR;
		o.recover = true;
		wire_done(e, o);
		return;
	}
	residue = ostori_get_le32(p + 8);
	status = p[12];
	if (status == 2) {
		/* Phase error: the residue means nothing. */
		e->stats.phase_errors++;
		ostor_warn(e->dev->ctx, "%s: phase error on command %02xh", e->dev->spec, c->cdb[0]);
		o.res = OSTOR_RESULT_TRANSPORT_ERROR;
		o.recover = true;
		wire_done(e, o);
		return;
	}
	if (e->cfg.quirks.flags & OUSB_Q_IGNORE_RESIDUE) {
		moved = e->data_actual;
	} else if (residue > c->len) {
		e->stats.csw_invalid++;
		ostor_warn(e->dev->ctx, "%s: CSW residue %u exceeds the %zu-byte transfer: not meaningful",
			   e->dev->spec, residue, c->len);
		o.res = OSTOR_RESULT_TRANSPORT_ERROR;
		o.recover = true;
		wire_done(e, o);
		return;
	} else {
		moved = OSTOR_MIN(e->data_actual, c->len - residue);
	}
	if (e->babble) {
		/* The CSW is read so the pipe stays in step, but the data
		 * cannot be trusted. */
		o.res = OSTOR_RESULT_TRANSPORT_ERROR;
		wire_done(e, o);
		return;
	}
	o.transferred = moved;
	if (status == 0) {
		o.res = OSTOR_RESULT_GOOD;
	} else {
		o.res = OSTOR_RESULT_CHECK_CONDITION;
		o.status = 2;
		o.sense = true;
	}
	wire_done(e, o);
}

static void bot_advance(struct ousb_engine *e)
{
	struct wire_cmd *c = &e->cmd;

	for (;;) {
		switch (e->stage) {
		case S_BOT_CBW:
			if (e->busy & X_OUT)
				return;
			if (e->x_out.status != OUSB_OK || e->x_out.actual != OUSB_CBW_LEN) {
				fail(e, result_of(e->x_out.status), true, "CBW not accepted");
				return;
			}
			if (e->pipeline)
				bot_pipeline_reads(e);
			if (c->dir == OSTOR_DIR_TO_DEVICE && c->len) {
				e->stage = S_BOT_DOUT;
				submit(e, &e->x_out, OUSB_BULK_OUT, c->buf, c->len, c->timeout_ms);
			} else if (c->dir == OSTOR_DIR_FROM_DEVICE && c->len) {
				e->stage = S_BOT_DIN;
				if (!(e->submitted & X_IN))
					submit(e, &e->x_in, OUSB_BULK_IN, c->buf, c->len, c->timeout_ms);
			} else {
				bot_submit_csw(e);
			}
			continue;
		case S_BOT_DIN:
			if (e->busy & X_IN)
				return;
			e->data_actual = e->x_in.actual;
			switch (e->x_in.status) {
			case OUSB_OK:
				if (e->data_actual < c->len && looks_like_csw(e, c->buf, e->data_actual)) {
					/* The device skipped the data phase:
					 * take the CSW, leave no trace of it. */
					e->stats.csw_in_data++;
					memcpy(e->csw, c->buf, OUSB_CSW_LEN);
					memset(c->buf, 0, OUSB_CSW_LEN);
					e->data_actual = 0;
					e->csw_from_data = true;
					if (e->busy & X_CSW)
						e->ops->cancel(e->layer, &e->x_csw);
					e->stage = S_BOT_CSW_FROM_DATA;
					continue;
				}
				bot_arm_rescue(e);
				bot_submit_csw(e);
				continue;
			case OUSB_BABBLE:
				e->babble = true;
				bot_arm_rescue(e);
				bot_submit_csw(e);
				continue;
			case OUSB_STALL:
				/* Short read ended by a stall: the pipelined
				 * CSW read cannot complete on a halted pipe. */
				e->data_stalled = true;
				if (e->busy & X_CSW) {
					e->ops->cancel(e->layer, &e->x_csw);
					return;
				}
				bot_clear(e, true);
				continue;
			default:
				fail(e, result_of(e->x_in.status), true, "data-in transfer failed");
				return;
			}
		case S_BOT_DOUT:
			if (e->busy & X_OUT)
				return;
			e->data_actual = e->x_out.actual;
			if (e->x_out.status == OUSB_OK) {
				bot_submit_csw(e);
				continue;
			}
			if (e->x_out.status == OUSB_STALL) {
				e->data_stalled = true;
				bot_clear(e, false);
				continue;
			}
			fail(e, result_of(e->x_out.status), true, "data-out transfer failed");
			return;
		case S_BOT_CLEAR:
			if (e->busy & (X_OP | X_CSW))
				return;
			if (e->x_op.status != OUSB_OK) {
				fail(e, result_of(e->x_op.status), true, "CLEAR_FEATURE(HALT) failed");
				return;
			}
			bot_submit_csw(e);
			continue;
		case S_BOT_CSW_FROM_DATA:
			if (e->busy & X_CSW)
				return;
			bot_eval_csw(e, e->csw, OUSB_CSW_LEN);
			return;
		case S_BOT_CSW:
			if (e->busy & (X_CSW | X_IN)) {
				if (e->rescue == RESCUE_ARMED && !(e->busy & (X_TMR | X_IN)) &&
				    e->x_tmr.status == OUSB_TIMEOUT) {
					e->rescue = RESCUE_CANCEL;
					e->ops->cancel(e->layer, &e->x_csw);
				}
				return;
			}
			if (e->busy & X_TMR) {
				/* The CSW is in: stop the timer, and wait for
				 * it, as its transfer is reused. */
				e->ops->cancel(e->layer, &e->x_tmr);
				return;
			}
			if (e->rescue == RESCUE_CANCEL && e->x_csw.status == OUSB_CANCELLED) {
				e->rescue = RESCUE_NONE;
				if (e->x_csw.actual == 0) {
					e->stats.csw_rescues++;
					if (!e->rescue_logged)
						ostor_info(e->dev->ctx, "%s: the CSW read queued behind the data "
							   "was not answered within %u ms; reading it again%s "
							   "(QEMU's usb-storage loses such reads)",
							   e->dev->spec, e->cfg.csw_grace_ms,
							   e->keep_pipelining ? "" : ", and from now on only "
							   "after the data");
					else
						ostor_dbg(e->dev->ctx, "%s: CSW read issued again", e->dev->spec);
					e->rescue_logged = true;
					if (!e->keep_pipelining)
						e->csw_after_data = true;
					e->after_clear_csw = true;
					bot_submit_csw(e);
					continue;
				}
				/* It arrived as we cancelled: judge what came. */
				e->x_csw.status = OUSB_OK;
			}
			switch (e->x_csw.status) {
			case OUSB_OK:
				if (e->x_csw.actual == 0 && e->zlp_tries == 0) {
					/* A zero-length packet ended the data
					 * phase late: the CSW is next. */
					e->zlp_tries++;
					e->stats.zlp_retries++;
					e->after_clear_csw = true;
					bot_submit_csw(e);
					continue;
				}
				bot_eval_csw(e, e->csw, e->x_csw.actual);
				return;
			case OUSB_STALL:
				if (e->csw_stall_tries++ == 0) {
					e->stats.csw_stall_retries++;
					bot_clear(e, true);
					continue;
				}
				fail(e, OSTOR_RESULT_TRANSPORT_ERROR, true, "CSW read stalled twice");
				return;
			case OUSB_BABBLE:
				e->stats.csw_invalid++;
				fail(e, OSTOR_RESULT_TRANSPORT_ERROR, true, "CSW longer than 13 bytes");
				return;
			default:
				fail(e, result_of(e->x_csw.status), true, "CSW read failed");
				return;
			}
		default:
			return;
		}
	}
}

/* ---- CB / CBI ------------------------------------------------------------ */

static bool cbi_status_ignored(const struct ousb_engine *e)
{
	/* UFI: the interrupt data is ASC/ASCQ, meaningless for these. */
	return e->cfg.subclass == OUSB_SC_UFI && (e->cmd.cdb[0] == 0x12 || e->cmd.cdb[0] == 0x03);
}

static void cb_start(struct ousb_engine *e)
{
	struct wire_cmd *c = &e->cmd;
	size_t n = c->cdb_len;

	memset(e->adsc, 0, sizeof(e->adsc));
	memcpy(e->adsc, c->cdb, c->cdb_len);
	if (is_ufi_like(e))
		n = 12;   /* fixed 12-byte packets */
	e->stage = S_CB_ADSC;
	ousb_setup(&e->x_ctrl, 0x21, OUSB_REQ_ADSC, 0, e->cfg.interface, (uint16_t)n);
	submit(e, &e->x_ctrl, OUSB_CONTROL, e->adsc, n, e->cfg.timeout_ms);
	advance(e);
}

static void cb_after_data(struct ousb_engine *e)
{
	struct wire_cmd *c = &e->cmd;

	if (e->cfg.protocol == OUSB_PR_CBI) {
		e->stage = S_CB_INTR;
		memset(e->intr, 0, sizeof(e->intr));
		submit(e, &e->x_intr, OUSB_INTR_IN, e->intr, 2, c->timeout_ms);
		return;
	}
	/* CB has no status phase: the command passed as far as the bus can
	 * tell; a REQUEST SENSE tells the rest (except for reads, whose
	 * data already proves them, as the kernel does). */
	if (c->is_sense || c->dir == OSTOR_DIR_FROM_DEVICE) {
		wire_done(e, (struct outcome){ .res = OSTOR_RESULT_GOOD, .status = 0,
					       .transferred = e->data_actual });
		return;
	}
	e->out = (struct outcome){ .res = OSTOR_RESULT_GOOD, .status = 0, .transferred = e->data_actual };
	e->sense_len = 0;
	start_sense(e);
}

static void cb_advance(struct ousb_engine *e)
{
	struct wire_cmd *c = &e->cmd;
	struct outcome o = { .status = -1 };

	for (;;) {
		switch (e->stage) {
		case S_CB_ADSC:
			if (e->busy & X_CTRL)
				return;
			if (e->x_ctrl.status == OUSB_STALL) {
				/* The device refused the command: a failed
				 * command, not a broken transport. */
				o.res = OSTOR_RESULT_CHECK_CONDITION;
				o.status = 2;
				o.sense = true;
				if (c->is_sense)
					o.res = OSTOR_RESULT_TRANSPORT_ERROR;
				wire_done(e, o);
				return;
			}
			if (e->x_ctrl.status != OUSB_OK) {
				fail(e, result_of(e->x_ctrl.status), true, "ADSC failed");
				return;
			}
			if (c->len && c->dir != OSTOR_DIR_NONE) {
				e->stage = S_CB_DATA;
				if (c->dir == OSTOR_DIR_FROM_DEVICE)
					submit(e, &e->x_in, OUSB_BULK_IN, c->buf, c->len, c->timeout_ms);
				else
					submit(e, &e->x_out, OUSB_BULK_OUT, c->buf, c->len, c->timeout_ms);
				continue;
			}
			cb_after_data(e);
			continue;
		case S_CB_DATA: {
			struct ousb_xfer *x = c->dir == OSTOR_DIR_FROM_DEVICE ? &e->x_in : &e->x_out;

			if (e->busy & (X_IN | X_OUT))
				return;
			e->data_actual = x->actual;
			if (x->status == OUSB_OK) {
				cb_after_data(e);
				continue;
			}
			if (x->status == OUSB_STALL) {
				e->data_stalled = true;
				e->stats.clear_halts++;
				e->stage = S_CB_CLEAR;
				submit(e, &e->x_op, c->dir == OSTOR_DIR_FROM_DEVICE ? OUSB_CLEAR_HALT_IN
						   : OUSB_CLEAR_HALT_OUT, NULL, 0, e->cfg.timeout_ms);
				continue;
			}
			fail(e, result_of(x->status), true, "data transfer failed");
			return;
		}
		case S_CB_CLEAR:
			if (e->busy & X_OP)
				return;
			if (e->x_op.status != OUSB_OK) {
				fail(e, result_of(e->x_op.status), true, "CLEAR_FEATURE(HALT) failed");
				return;
			}
			/* A stalled data phase is a failed command (the
			 * kernel does not wait for the status either). */
			o.res = c->is_sense ? OSTOR_RESULT_TRANSPORT_ERROR : OSTOR_RESULT_CHECK_CONDITION;
			o.status = 2;
			o.sense = true;
			o.transferred = e->data_actual;
			wire_done(e, o);
			return;
		case S_CB_INTR: {
			uint8_t type, value;

			if (e->busy & X_INTR)
				return;
			if (e->x_intr.status != OUSB_OK || e->x_intr.actual < 2) {
				fail(e, e->x_intr.status == OUSB_OK ? OSTOR_RESULT_TRANSPORT_ERROR
				     : result_of(e->x_intr.status), true,
				     e->x_intr.status == OUSB_OK ? "short interrupt status" : "no interrupt status");
				return;
			}
			type = e->intr[0];
			value = e->intr[1];
			o.transferred = e->data_actual;
			if (e->cfg.subclass == OUSB_SC_UFI) {
				if (cbi_status_ignored(e) || (type == 0 && value == 0)) {
					o.res = OSTOR_RESULT_GOOD;
					o.status = 0;
				} else {
					o.res = OSTOR_RESULT_CHECK_CONDITION;
					o.status = 2;
					o.sense = true;
				}
				if (c->is_sense)
					o.res = OSTOR_RESULT_GOOD;
				wire_done(e, o);
				return;
			}
			if (type != 0 || (value & 3) == 2) {
				e->stats.phase_errors++;
				fail(e, OSTOR_RESULT_TRANSPORT_ERROR, true,
				     type ? "interrupt status bType is not 0" : "CBI phase error");
				return;
			}
			if ((value & 3) == 0 || c->is_sense) {
				o.res = OSTOR_RESULT_GOOD;
				o.status = 0;
			} else {
				/* 1 failed, 3 persistent failure: ask why. */
				o.res = OSTOR_RESULT_CHECK_CONDITION;
				o.status = 2;
				o.sense = true;
			}
			wire_done(e, o);
			return;
		}
		default:
			return;
		}
	}
}

/* ---- recovery ------------------------------------------------------------ */

static void rec_port(struct ousb_engine *e)
{
	e->stats.port_resets++;
	e->stage = S_REC_PORT;
	ostor_warn(e->dev->ctx, "%s: resetting the USB port", e->dev->spec);
	submit(e, &e->x_op, OUSB_PORT_RESET, NULL, 0, e->cfg.timeout_ms);
}

static void start_recovery(struct ousb_engine *e)
{
	e->busy = 0;
	e->submitted = 0;
	e->recovering = true;
	if (e->gone) {
		recovery_done(e, false);
		return;
	}
	if (e->rec_port_only) {
		e->rec_port_only = false;
		rec_port(e);
		advance(e);
		return;
	}
	e->stats.reset_recoveries++;
	e->stage = S_REC_RESET;
	if (e->cfg.protocol == OUSB_PR_BOT) {
		ousb_setup(&e->x_ctrl, 0x21, OUSB_REQ_BOMS_RESET, 0, e->cfg.interface, 0);
		submit(e, &e->x_ctrl, OUSB_CONTROL, NULL, 0, e->cfg.timeout_ms);
	} else {
		/* Command Block Reset: SEND DIAGNOSTIC 1D 04, padded with FFh. */
		memset(e->adsc, 0xff, 12);
		e->adsc[0] = 0x1d;
		e->adsc[1] = 0x04;
		ousb_setup(&e->x_ctrl, 0x21, OUSB_REQ_ADSC, 0, e->cfg.interface, 12);
		submit(e, &e->x_ctrl, OUSB_CONTROL, e->adsc, 12, e->cfg.timeout_ms);
	}
	advance(e);
}

static void rec_advance(struct ousb_engine *e)
{
	for (;;) {
		switch (e->stage) {
		case S_REC_RESET:
			if (e->busy & X_CTRL)
				return;
			if (e->gone) {
				recovery_done(e, false);
				return;
			}
			if (e->x_ctrl.status != OUSB_OK) {
				ostor_warn(e->dev->ctx, "%s: the %s reset failed (%s)", e->dev->spec,
					   e->cfg.protocol == OUSB_PR_BOT ? "Bulk-Only Mass Storage" : "Command Block",
					   ousb_status_name(e->x_ctrl.status));
				rec_port(e);
				continue;
			}
			e->stats.clear_halts++;
			e->stage = S_REC_CLR_IN;
			submit(e, &e->x_op, OUSB_CLEAR_HALT_IN, NULL, 0, e->cfg.timeout_ms);
			continue;
		case S_REC_CLR_IN:
		case S_REC_CLR_OUT:
			if (e->busy & X_OP)
				return;
			if (e->gone) {
				recovery_done(e, false);
				return;
			}
			if (e->x_op.status != OUSB_OK) {
				rec_port(e);
				continue;
			}
			if (e->stage == S_REC_CLR_IN) {
				e->stats.clear_halts++;
				e->stage = S_REC_CLR_OUT;
				submit(e, &e->x_op, OUSB_CLEAR_HALT_OUT, NULL, 0, e->cfg.timeout_ms);
				continue;
			}
			recovery_done(e, true);
			return;
		case S_REC_PORT:
			if (e->busy & X_OP)
				return;
			recovery_done(e, e->x_op.status == OUSB_OK);
			return;
		default:
			return;
		}
	}
}

/* ---- dispatch ------------------------------------------------------------ */

static void advance(struct ousb_engine *e)
{
	if (e->stage == S_DRAIN) {
		struct outcome o;

		if (e->busy)
			return;
		o = e->pending;
		if (e->gone) {
			wire_done(e, o);
		} else if (e->cmd.is_sense) {
			/* A failed REQUEST SENSE: the task fails as a whole. */
			e->out.res = o.res;
			e->sense_len = 0;
			if (o.recover)
				start_recovery(e);
			else
				finish_task(e);
		} else {
			wire_done(e, o);
		}
	} else if (e->stage == S_MAXLUN) {
		if (e->busy & X_CTRL)
			return;
		e->stage = S_IDLE;
		if (e->x_ctrl.status == OUSB_OK && e->x_ctrl.actual == 1 && e->ctrl_buf[0] <= 15)
			e->max_lun = e->ctrl_buf[0];
		else
			e->max_lun = 0;
		ostor_dbg(e->dev->ctx, "%s: Get Max LUN: %s, %zu byte(s), value %u -> max LUN %u",
			  e->dev->spec, ousb_status_name(e->x_ctrl.status), e->x_ctrl.actual,
			  e->x_ctrl.actual ? e->ctrl_buf[0] : 0, e->max_lun);
		e->sync_busy = false;
		e->sync_done = true;
		e->sync_result = e->gone ? OSTOR_ERROR_NO_DEVICE : 0;
	} else if (e->stage >= S_REC_RESET && e->stage <= S_REC_PORT) {
		rec_advance(e);
	} else if (e->gone && e->stage != S_IDLE) {
		/* Unplugged mid-command: stop and wait for the wire. */
		e->pending = (struct outcome){ .res = OSTOR_RESULT_DEVICE_GONE, .status = -1 };
		e->stage = S_DRAIN;
		cancel_all(e);
		if (!e->busy)
			advance(e);
		return;
	} else if (e->stage >= S_BOT_CBW && e->stage <= S_BOT_CSW_FROM_DATA) {
		bot_advance(e);
	} else if (e->stage >= S_CB_ADSC && e->stage <= S_CB_INTR) {
		cb_advance(e);
	}
	if (e->stage == S_IDLE && !e->task && !e->sync_busy)
		start_next(e);
}

/* ---- task entry ---------------------------------------------------------- */

/* Turn a task into the wire command, applying subclass rules and quirks.
 * Returns false when the task was completed here. */
static bool prepare(struct ousb_engine *e, ostor_task *t)
{
	struct wire_cmd *c = &e->cmd;

	memset(c, 0, sizeof(*c));
	e->rc16_translate = false;
	e->task_cancelled = ostori_task_cancelled(t);
	if (ostori_task_cancelled(t)) {
		ostori_task_finish(t, OSTOR_RESULT_ABORTED, -1, NULL, 0, 0);
		return false;
	}
	if (t->target != e->cfg.target || t->lun > e->max_lun) {
		ostor_dbg(e->dev->ctx, "%s: no LUN %u:%u (max LUN %u)", e->dev->spec,
			  t->target, t->lun, e->max_lun);
		ostori_task_finish(t, OSTOR_RESULT_TRANSPORT_ERROR, -1, NULL, 0, 0);
		return false;
	}
	if (t->cdb[0] == 0x35 && (e->cfg.quirks.flags & OUSB_Q_NO_SYNC_CACHE)) {
		/* The quirk says the device chokes on it. */
		ostori_task_finish(t, OSTOR_RESULT_GOOD, 0, NULL, 0, 0);
		return false;
	}
	memcpy(c->cdb, t->cdb, t->cdb_len);
	c->cdb_len = t->cdb_len;
	c->dir = t->dir;
	c->len = t->data_len;
	c->lun = (uint8_t)t->lun;
	c->timeout_ms = t->timeout_ms;
	if (t->iovcnt == 1)
		c->buf = t->iov[0].iov_base;
	else if (t->iovcnt > 1) {
		c->buf = e->bounce;
		if (t->dir == OSTOR_DIR_TO_DEVICE) {
			size_t off = 0;

			for (int i = 0; i < t->iovcnt; i++) {
				memcpy(e->bounce + off, t->iov[i].iov_base, t->iov[i].iov_len);
				off += t->iov[i].iov_len;
			}
		}
	}
	if (c->cdb[0] == 0x25 && (e->cfg.quirks.flags & OUSB_Q_READ_CAP_16) && c->dir == OSTOR_DIR_FROM_DEVICE) {
		memset(c->cdb, 0, sizeof(c->cdb));
		c->cdb[0] = 0x9e;
		c->cdb[1] = 0x10;
		c->cdb[13] = sizeof(e->rc16);
		c->cdb_len = 16;
		c->buf = e->rc16;
		c->len = sizeof(e->rc16);
		e->rc16_translate = true;
	}
	if (is_ufi_like(e)) {
		/* UFI / SFF-8070i: no 6-byte READ/WRITE, fixed allocation
		 * lengths the devices insist on (unless the configuration
		 * asks for commands exactly as given). */
		if (!e->adapt) {
			/* as given */
		} else if (c->cdb[0] == 0x08 || c->cdb[0] == 0x0a) {
			uint32_t lba = ((uint32_t)(c->cdb[1] & 0x1f) << 16) | (uint32_t)c->cdb[2] << 8 | c->cdb[3];
			uint32_t n = c->cdb[4] ? c->cdb[4] : 256;
			uint8_t op = c->cdb[0] == 0x08 ? 0x28 : 0x2a;

			memset(c->cdb, 0, sizeof(c->cdb));
			c->cdb[0] = op;
			c->cdb[2] = (uint8_t)(lba >> 24);
			c->cdb[3] = (uint8_t)(lba >> 16);
			c->cdb[4] = (uint8_t)(lba >> 8);
			c->cdb[5] = (uint8_t)lba;
			c->cdb[7] = (uint8_t)(n >> 8);
			c->cdb[8] = (uint8_t)n;
			c->cdb_len = 10;
		} else if (c->cdb[0] == 0x12 && c->dir == OSTOR_DIR_FROM_DEVICE) {
			c->cdb[3] = 0;
			c->cdb[4] = 36;
			c->len = OSTOR_MIN(c->len, 36);
		} else if (c->cdb[0] == 0x03 && c->dir == OSTOR_DIR_FROM_DEVICE) {
			c->cdb[3] = 0;
			c->cdb[4] = 18;
			c->len = OSTOR_MIN(c->len, 18);
		}
		if (c->cdb_len > 12) {
			ostor_dbg(e->dev->ctx, "%s: a %u-byte CDB does not fit a %s packet",
				  e->dev->spec, c->cdb_len, ousb_subclass_name(e->cfg.subclass));
			ostori_task_finish(t, OSTOR_RESULT_TRANSPORT_ERROR, -1, NULL, 0, 0);
			return false;
		}
	}
	return true;
}

static void start_next(struct ousb_engine *e)
{
	while (!e->task && e->qlen && !e->sync_busy) {
		ostor_task *t = e->q[e->qhead];

		e->qhead = (e->qhead + 1) % e->qcap;
		e->qlen--;
		if (e->dead || e->gone) {
			ostori_task_finish(t, OSTOR_RESULT_DEVICE_GONE, -1, NULL, 0, 0);
			continue;
		}
		if (!prepare(e, t))
			continue;
		e->task = t;
		e->out = (struct outcome){ .res = OSTOR_RESULT_TRANSPORT_ERROR, .status = -1 };
		e->sense_len = 0;
		wire_start(e);
	}
}

int ousb_engine_submit(struct ousb_engine *e, ostor_task *t)
{
	int r = 0;

	if (t->cdb_len > 16)
		return ostori_error(OSTOR_ERROR_INVALID_PARAM,
				    "%s: USB mass storage carries CDBs of at most 16 bytes (got %u)",
				    e->dev->spec, t->cdb_len);
	if (t->iovcnt > 1 && t->data_len > e->bounce_len)
		return ostori_error(OSTOR_ERROR_INVALID_PARAM,
				    "%s: a scattered buffer of %zu bytes exceeds the %zu-byte transfer limit; "
				    "split the command or pass one buffer",
				    e->dev->spec, t->data_len, e->bounce_len);
	if (t->data_len > UINT32_MAX)
		return ostori_error(OSTOR_ERROR_INVALID_PARAM, "%s: more than 4 GiB in one command",
				    e->dev->spec);
	pthread_mutex_lock(&e->lock);
	if (e->gone) {
		r = ostori_error(OSTOR_ERROR_NO_DEVICE, "%s: the device was unplugged", e->dev->spec);
	} else if (e->dead) {
		r = ostori_error(OSTOR_ERROR_NO_DEVICE, "%s: the device stopped responding and a port "
				 "reset did not revive it; unplug and replug it", e->dev->spec);
	} else {
		/* A fixed ring, allocated at open: when it is full the core
		 * keeps the task waiting (no allocation per command). */
		if (e->qlen == e->qcap || (e->one_at_a_time && (e->qlen || e->task || e->stage != S_IDLE))) {
			pthread_mutex_unlock(&e->lock);
			return OSTORI_SUBMIT_FULL;
		}
		if (e->qlen + 1 > e->stats.queued_max)
			e->stats.queued_max = e->qlen + 1;
		e->q[(e->qhead + e->qlen) % e->qcap] = t;
		e->qlen++;
		if (e->stage == S_IDLE && !e->task && !e->sync_busy)
			start_next(e);
	}
	pthread_mutex_unlock(&e->lock);
	return r;
}

int ousb_engine_cancel(struct ousb_engine *e, ostor_task *t)
{
	pthread_mutex_lock(&e->lock);
	for (size_t i = 0; i < e->qlen; i++) {
		size_t k = (e->qhead + i) % e->qcap;

		if (e->q[k] != t)
			continue;
		/* Not on the wire yet: take it out and complete it. */
		for (size_t j = i; j + 1 < e->qlen; j++)
			e->q[(e->qhead + j) % e->qcap] = e->q[(e->qhead + j + 1) % e->qcap];
		e->qlen--;
		ostori_task_finish(t, OSTOR_RESULT_ABORTED, -1, NULL, 0, 0);
		pthread_mutex_unlock(&e->lock);
		return 0;
	}
	if (e->task == t && !e->task_cancelled) {
		/* On the wire: the device state is unknown once we pull the
		 * transfers, so the transport is reset before completing. */
		e->task_cancelled = true;
		if (!e->recovering && e->stage != S_DRAIN && e->stage != S_IDLE) {
			e->pending = (struct outcome){ .res = OSTOR_RESULT_ABORTED, .status = -1, .recover = true };
			e->after = AFTER_RECOVER;
			e->stage = S_DRAIN;
			cancel_all(e);
			advance(e);
		}
	}
	pthread_mutex_unlock(&e->lock);
	return 0;
}

/* ---- life cycle and synchronous operations -------------------------------- */

int ousb_engine_new(ostor_device *dev, const struct ousb_ops *ops, void *layer,
		    const struct ousb_engine_config *cfg, struct ousb_engine **out)
{
	struct ousb_engine *e;
	const char *env;

	*out = NULL;
	if (cfg->protocol != OUSB_PR_BOT && cfg->protocol != OUSB_PR_CB && cfg->protocol != OUSB_PR_CBI)
		return ostori_error(OSTOR_ERROR_NOT_SUPPORTED,
				    "%s: interface protocol %02xh is not Bulk-Only (50h), CB (01h) or CBI (00h)",
				    dev->spec, cfg->protocol);
	e = calloc(1, sizeof(*e));
	if (!e)
		return ostori_error(OSTOR_ERROR_NO_MEM, "out of memory");
	pthread_mutex_init(&e->lock, NULL);
	e->dev = dev;
	e->ops = ops;
	e->layer = layer;
	e->cfg = *cfg;
	if (!e->cfg.timeout_ms)
		e->cfg.timeout_ms = ostori_usb_config(&dev->ctx->config)->storage_device_timeout;
	if (!e->cfg.timeout_ms)
		e->cfg.timeout_ms = 30000;
	dev->default_timeout_ms = e->cfg.timeout_ms;
	dev->abort_is_reset = true; /* a cancel is a reset recovery */
	dev->count_class = "USB mass-storage";
	dev->count_limit = ostori_usb_config(&dev->ctx->config)->storage_device_max_count;
	dev->count_key = "[usb_storage] storage_device_max_count";
	if (!e->cfg.csw_grace_ms)
		e->cfg.csw_grace_ms = CSW_GRACE_DEFAULT_MS;
	e->pipeline = cfg->pipeline && !(cfg->quirks.flags & OUSB_Q_GO_SLOW);
	e->pipeline_cbw = e->pipeline && cfg->pipeline_cbw;
	/* Reads queued before the CBW reached the device are safe on real
	 * hardware (it NAKs) but QEMU's usb-storage stalls them, so that
	 * level is opt-in: ORIONSTOR_USB_PIPELINE=cbw.  "force" keeps the
	 * data-in and CSW reads together even on a device that loses CSW
	 * reads (and ignores go-slow): for latency measurements. */
	env = getenv("ORIONSTOR_USB_PIPELINE");
	if (env && (!strcmp(env, "0") || !strcmp(env, "off")))
		e->pipeline = e->pipeline_cbw = false;
	else if (env && (!strcmp(env, "1") || !strcmp(env, "on")))
		e->pipeline = !(cfg->quirks.flags & OUSB_Q_GO_SLOW);
	else if (env && !strcmp(env, "force"))
		e->pipeline = e->keep_pipelining = true;   /* measurements only */
	else if (env && !strcmp(env, "cbw"))
		e->pipeline = e->pipeline_cbw = !(cfg->quirks.flags & OUSB_Q_GO_SLOW);
	/* The configuration file's [usb_storage] switches. */
	{
		const struct ostor_config *c = &dev->ctx->config;

		e->adapt = ostori_usb_config(c)->scsi_processing_enabled;
		if (!ostori_usb_config(c)->scsi_validation_enabled)
			e->cfg.quirks.flags |= OUSB_Q_IGNORE_RESIDUE;
		e->one_at_a_time = !ostori_usb_config(c)->async_io_enabled ||
				   !ostori_usb_config(c)->storage_device_async_enabled;
		if (!ostori_usb_config(c)->storage_device_async_enabled)
			e->pipeline = e->pipeline_cbw = e->keep_pipelining = false;
	}
	/* The device tolerates tag 0 fine, but a fresh random-ish start
	 * makes a stale CSW from an earlier session easy to spot. */
	e->tag = (uint32_t)(ostori_now_ms() & 0xffff) << 8;
	e->bounce_len = dev->max_transfer_bytes ? dev->max_transfer_bytes : (1u << 20);
	e->bounce = malloc(e->bounce_len);
	e->qcap = OUSB_ENGINE_QUEUE;
	e->q = calloc(e->qcap, sizeof(*e->q));
	if (!e->bounce || !e->q) {
		free(e->bounce);
		free(e->q);
		pthread_mutex_destroy(&e->lock);
		free(e);
		return ostori_error(OSTOR_ERROR_NO_MEM, "out of memory");
	}
	*out = e;
	return 0;
}

/* Run the layer until the synchronous operation finishes, bounded. */
static int sync_wait(struct ousb_engine *e, unsigned int budget_ms)
{
	uint64_t deadline = ostori_now_ms() + budget_ms;
	bool done;

	for (;;) {
		pthread_mutex_lock(&e->lock);
		done = e->sync_done;
		pthread_mutex_unlock(&e->lock);
		if (done)
			break;
		if (ostori_now_ms() > deadline) {
			/* The layer enforces timeouts; this is a safety net. */
			pthread_mutex_lock(&e->lock);
			cancel_all(e);
			pthread_mutex_unlock(&e->lock);
			deadline = ostori_now_ms() + 5000;
		}
		e->ops->events(e->layer, 20);
	}
	pthread_mutex_lock(&e->lock);
	e->sync_done = false;
	pthread_mutex_unlock(&e->lock);
	return e->sync_result;
}

int ousb_engine_probe(struct ousb_engine *e)
{
	int r;

	pthread_mutex_lock(&e->lock);
	if (e->cfg.protocol != OUSB_PR_BOT || (e->cfg.quirks.flags & OUSB_Q_SINGLE_LUN) ||
	    !ostori_usb_config(&e->dev->ctx->config)->multi_lun_support) {
		e->max_lun = 0;
		pthread_mutex_unlock(&e->lock);
		return 0;
	}
	e->sync_busy = true;
	e->sync_done = false;
	e->busy = 0;
	e->submitted = 0;
	e->stage = S_MAXLUN;
	e->ctrl_buf[0] = 0;
	ousb_setup(&e->x_ctrl, 0xa1, OUSB_REQ_GET_MAX_LUN, 0, e->cfg.interface, 1);
	submit(e, &e->x_ctrl, OUSB_CONTROL, e->ctrl_buf, 1, OSTOR_MIN(e->cfg.timeout_ms, 5000u));
	advance(e);
	pthread_mutex_unlock(&e->lock);
	r = sync_wait(e, OSTOR_MIN(e->cfg.timeout_ms, 5000u) + 1000);
	if (ostori_usb_config(&e->dev->ctx->config)->storage_device_max_luns &&
	    e->max_lun >= ostori_usb_config(&e->dev->ctx->config)->storage_device_max_luns)
		e->max_lun = (uint8_t)(ostori_usb_config(&e->dev->ctx->config)->storage_device_max_luns - 1);
	return r;
}

int ousb_engine_reset(struct ousb_engine *e, bool port)
{
	pthread_mutex_lock(&e->lock);
	if (e->gone) {
		pthread_mutex_unlock(&e->lock);
		return ostori_error(OSTOR_ERROR_NO_DEVICE, "%s: the device was unplugged", e->dev->spec);
	}
	if (e->task || e->qlen || e->stage != S_IDLE || e->sync_busy) {
		pthread_mutex_unlock(&e->lock);
		return ostori_error(OSTOR_ERROR_BUSY, "%s: commands are in flight; reset when idle",
				    e->dev->spec);
	}
	e->sync_busy = true;
	e->sync_done = false;
	e->rec_port_only = port;
	e->dead = false;   /* an explicit reset is a fresh attempt */
	start_recovery(e);
	pthread_mutex_unlock(&e->lock);
	if (sync_wait(e, 4 * e->cfg.timeout_ms + 2000) < 0)
		return ostori_error(e->gone ? OSTOR_ERROR_NO_DEVICE : OSTOR_ERROR_IO,
				    "%s: the %s failed%s", e->dev->spec, port ? "port reset" : "transport reset",
				    e->dead ? "; the device is marked dead (unplug and replug it)" : "");
	return 0;
}

bool ousb_engine_is_idle(struct ousb_engine *e)
{
	bool r;

	pthread_mutex_lock(&e->lock);
	r = !e->task && !e->qlen && e->stage == S_IDLE && !e->sync_busy;
	pthread_mutex_unlock(&e->lock);
	return r;
}

void ousb_engine_gone(struct ousb_engine *e)
{
	pthread_mutex_lock(&e->lock);
	if (!e->gone)
		ostori_post_event(e->dev, OSTOR_EVENT_DEVICE_GONE, OSTOR_EVENT_ALL, OSTOR_EVENT_ALL, 0, 0);
	e->gone = true;
	if (e->busy)
		cancel_all(e);
	advance(e);
	fail_queue(e, OSTOR_RESULT_DEVICE_GONE);
	pthread_mutex_unlock(&e->lock);
}

bool ousb_engine_is_dead(struct ousb_engine *e)
{
	bool r;

	pthread_mutex_lock(&e->lock);
	r = e->dead;
	pthread_mutex_unlock(&e->lock);
	return r;
}

bool ousb_engine_is_gone(struct ousb_engine *e)
{
	bool r;

	pthread_mutex_lock(&e->lock);
	r = e->gone;
	pthread_mutex_unlock(&e->lock);
	return r;
}

uint8_t ousb_engine_max_lun(const struct ousb_engine *e)
{
	return e->max_lun;
}

void ousb_engine_get_stats(struct ousb_engine *e, struct ousb_engine_stats *s)
{
	pthread_mutex_lock(&e->lock);
	*s = e->stats;
	pthread_mutex_unlock(&e->lock);
}

void ousb_engine_details(struct ousb_engine *e, struct ostor_usb_details *d)
{
	pthread_mutex_lock(&e->lock);
	d->interface_number = e->cfg.interface;
	d->subclass = e->cfg.subclass;
	d->protocol = e->cfg.protocol;
	snprintf(d->transport, sizeof(d->transport), "%.3s", ousb_transport_name(e->cfg.protocol));
	d->max_lun = e->max_lun;
	ousb_quirks_text(&e->cfg.quirks, d->quirks, sizeof(d->quirks));
	d->dead = e->dead;
	pthread_mutex_unlock(&e->lock);
}

void ousb_engine_free(struct ousb_engine *e)
{
	uint64_t deadline;

	if (!e)
		return;
	pthread_mutex_lock(&e->lock);
	cancel_all(e);
	pthread_mutex_unlock(&e->lock);
	/* The layer must hand every transfer back before it is freed. */
	deadline = ostori_now_ms() + 10000;
	for (;;) {
		unsigned int busy;

		pthread_mutex_lock(&e->lock);
		busy = e->busy;
		pthread_mutex_unlock(&e->lock);
		if (!busy || ostori_now_ms() > deadline)
			break;
		e->ops->events(e->layer, 20);
	}
	free(e->q);
	free(e->bounce);
	pthread_mutex_destroy(&e->lock);
	free(e);
}
