/*
 * lib/usb/engine.c - the USB mass-storage protocol engine over the
 * transfer seam (xfer.h): the task queue, submit and cancel, the
 * transfers of a command, task completion, the dispatch of every
 * transfer completion to the state machine of the stage, and the
 * engine's life cycle (probe, synchronous resets, unplug, free).
 *
 * The state machines: Bulk-Only, BOT 1.0 (bot.c), CB/CBI, CBI 1.1
 * (cbi.c), transport recovery (recovery.c); commands fitted to the
 * subclass and the quirks in protocol.c; engine_priv.h holds what they
 * share.
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
#include "usb/engine_priv.h"

#include <stdlib.h>
#include <string.h>

#define CSW_GRACE_DEFAULT_MS 5
/* Commands the engine holds beyond the one on the wire; more wait in the
 * core (software queueing). */
#define OUSB_ENGINE_QUEUE 32

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

/* ---- transfers --------------------------------------------------------- */

static unsigned int xbit(struct ousb_engine *e, struct ousb_xfer *x)
{
	if (x == &e->x_out) return X_OUT;
	if (x == &e->x_in) return X_IN;
	if (x == &e->x_csw) return X_CSW;
	if (x == &e->x_ctrl) return X_CTRL;
	if (x == &e->x_intr) return X_INTR;
	if (x == &e->x_tmr) return X_TMR;
	if (x >= e->mg.x && x < e->mg.x + OSTOR_ARRAY_SIZE(e->mg.x)) return X_MERGE;
	return X_OP;
}

static void busy_set(struct ousb_engine *e, struct ousb_xfer *x, unsigned int bit)
{
	if (bit == X_MERGE)
		e->mg.busy |= 1u << (x - e->mg.x);
	e->busy |= bit;
}

static void busy_clear(struct ousb_engine *e, struct ousb_xfer *x, unsigned int bit)
{
	if (bit == X_MERGE) {
		e->mg.busy &= ~(1u << (x - e->mg.x));
		if (e->mg.busy)
			return;
	}
	e->busy &= ~bit;
}

static void xfer_done(struct ousb_xfer *x)
{
	struct ousb_engine *e = x->user;

	pthread_mutex_lock(&e->lock);
	busy_clear(e, x, xbit(e, x));
	if (x->status == OUSB_BABBLE)
		e->stats.babble++;
	if (x->status == OUSB_NO_DEVICE && !e->gone) {
		ostor_warn(e->dev->ctx, "%s: the device is gone", e->dev->spec);
		e->gone = true;
	}
	ousb_advance(e);
	ousb_unlock(e);
}

/* Queue one transfer; a layer that refuses it completes it here as an
 * error so the state machines see one path only. */
void ousb_submit(struct ousb_engine *e, struct ousb_xfer *x, enum ousb_kind kind,
		 uint8_t *buf, size_t len, unsigned int timeout_ms)
{
	unsigned int bit = xbit(e, x);

	x->kind = kind;
	x->pipe = OUSB_PIPE_DATA;
	x->stream = 0;
	x->buf = buf;
	x->len = len;
	x->timeout_ms = timeout_ms;
	x->done = xfer_done;
	x->user = e;
	x->status = OUSB_ERROR;
	x->actual = 0;
	x->may_block = e->blocking && (kind == OUSB_BULK_IN || kind == OUSB_BULK_OUT);
	e->submitted |= bit;
	if (e->gone) {
		x->status = OUSB_NO_DEVICE;
		return;
	}
	busy_set(e, x, bit);
	e->stats.transfers++;
	if (e->ops->submit(e->layer, x) < 0) {
		busy_clear(e, x, bit);
		x->status = OUSB_ERROR;
	}
}

size_t ousb_engine_xfers(struct ousb_engine *e, struct ousb_xfer **out, size_t max)
{
	struct ousb_xfer *xs[] = { &e->x_out, &e->x_in, &e->x_csw, &e->x_ctrl, &e->x_intr, &e->x_op,
				   &e->x_tmr };
	size_t n = 0;

	for (size_t i = 0; i < OSTOR_ARRAY_SIZE(xs); i++, n++)
		if (n < max)
			out[n] = xs[i];
	if (e->cfg.protocol == OUSB_PR_BOT)
		for (size_t i = 0; i < OSTOR_ARRAY_SIZE(e->mg.x); i++, n++)
			if (n < max)
				out[n] = &e->mg.x[i];
	return e->uas ? ousb_uas_xfers(e, out, n, max) : n;
}

static void cancel_all(struct ousb_engine *e)
{
	struct ousb_xfer *xs[] = { &e->x_out, &e->x_in, &e->x_csw, &e->x_ctrl, &e->x_intr, &e->x_op,
				   &e->x_tmr };

	for (size_t i = 0; i < OSTOR_ARRAY_SIZE(xs); i++)
		if (e->busy & xbit(e, xs[i]))
			e->ops->cancel(e->layer, xs[i]);
	for (size_t i = 0; i < OSTOR_ARRAY_SIZE(e->mg.x); i++)
		if (e->mg.busy & (1u << i))
			e->ops->cancel(e->layer, &e->mg.x[i]);
}

enum ostor_result ousb_result_of(enum ousb_status s)
{
	switch (s) {
	case OUSB_TIMEOUT: return OSTOR_RESULT_TIMEOUT;
	case OUSB_NO_DEVICE: return OSTOR_RESULT_DEVICE_GONE;
	case OUSB_CANCELLED: return OSTOR_RESULT_ABORTED;
	default: return OSTOR_RESULT_TRANSPORT_ERROR;
	}
}

/* Fail the wire command: stop everything, wait, then recover (or not). */
void ousb_fail(struct ousb_engine *e, enum ostor_result res, bool recover, const char *why)
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
		ousb_advance(e);
}

/* ---- completion of tasks ----------------------------------------------- */

/* Scatter the bounce buffer (or the READ CAPACITY(16) answer) back. */
size_t ousb_copy_out(ostor_task *t, const uint8_t *src, size_t n)
{
	size_t done = 0;

	for (int i = 0; i < t->iovcnt && done < n; i++) {
		size_t k = OSTOR_MIN(n - done, t->iov[i].iov_len);

		memcpy(t->iov[i].iov_base, src + done, k);
		done += k;
	}
	return done;
}

void ousb_hand_over(struct ousb_engine *e, ostor_task *t)
{
	if (e->nhanded < OSTOR_ARRAY_SIZE(e->handed))
		e->handed[e->nhanded++] = t;
	else
		ostori_task_hand_over(t);
}

void ousb_unlock(struct ousb_engine *e)
{
	ostor_task *done[OUSB_HANDED_MAX];
	unsigned int n = e->nhanded;

	memcpy(done, e->handed, n * sizeof(done[0]));
	e->nhanded = 0;
	pthread_mutex_unlock(&e->lock);
	for (unsigned int i = 0; i < n; i++)
		ostori_task_hand_over(done[i]);
}

void ousb_finish_task(struct ousb_engine *e)
{
	ostor_task *t = e->task;
	struct outcome *o = &e->out;
	size_t xfer = o->transferred;

	if (e->mg.n > 1) {
		ousb_merge_finish(e);
		return;
	}
	e->task = NULL;
	e->stage = S_IDLE;
	if (!t)
		return;
	if (e->task_cancelled && o->res != OSTOR_RESULT_DEVICE_GONE)
		o->res = OSTOR_RESULT_ABORTED;
	if (o->res != OSTOR_RESULT_GOOD && o->res != OSTOR_RESULT_CHECK_CONDITION &&
	    o->res != OSTOR_RESULT_OVERRUN)
		xfer = 0;
	if (e->rc16_translate && o->res == OSTOR_RESULT_GOOD)
		xfer = ousb_rc16_to_rc10(e, t, xfer);
	else if (t->dir == OSTOR_DIR_FROM_DEVICE && t->iovcnt > 1 && xfer)
		ousb_copy_out(t, e->bounce, xfer);
	t->result = o->res;
	t->status = o->res == OSTOR_RESULT_GOOD ? 0 : o->res == OSTOR_RESULT_CHECK_CONDITION ? 2 : -1;
	t->transferred = xfer;
	if (o->res == OSTOR_RESULT_GOOD && (e->cfg.quirks.flags & OUSB_Q_FIX_CAPACITY))
		ousb_fix_capacity_data(e, t);
	t->sense_len = 0;
	if (o->res == OSTOR_RESULT_CHECK_CONDITION && e->sense_len) {
		memcpy(t->sense, e->sense, e->sense_len);
		t->sense_len = e->sense_len;
	}
	ousb_hand_over(e, t);
}

static void fail_queue(struct ousb_engine *e, enum ostor_result res)
{
	ostor_task *r;

	while ((r = ousb_merge_next_replay(e)) != NULL)
		ostori_task_finish(r, res, -1, NULL, 0, 0);
	while (e->qlen) {
		ostor_task *t = e->q[e->qhead];

		e->qhead = (e->qhead + 1) % e->qcap;
		e->qlen--;
		ostori_task_finish(t, res, -1, NULL, 0, 0);
	}
}

/* ---- wire commands ----------------------------------------------------- */

static void wire_start(struct ousb_engine *e)
{
	e->busy = 0;
	e->submitted = 0;
	e->data_actual = e->in_prefix = 0;
	e->babble = e->data_stalled = e->csw_from_data = e->after_clear_csw = false;
	e->in_with_cbw = e->csw_with_cbw = e->in_answered_early = false;
	e->reread = RR_NONE;
	e->csw_stall_tries = e->zlp_tries = 0;
	e->rescue = RESCUE_NONE;
	e->mg.stopping = false;
	e->stats.commands++;
	if (e->cfg.protocol == OUSB_PR_BOT)
		ousb_bot_start(e);
	else
		ousb_cb_start(e);
}

void ousb_start_sense(struct ousb_engine *e)
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

/* The CB auto-sense of a command that went through: its sense decides. */
static bool cb_sense_says_good(struct ousb_engine *e)
{
	return e->cfg.protocol == OUSB_PR_CB && e->out.res == OSTOR_RESULT_GOOD;
}

/* The automatic REQUEST SENSE's answer, decoded by the SCSI layer; false
 * when it is too short or not sense data at all. */
static bool sense_of(const uint8_t *s, size_t n, struct ostor_scsi_sense *out)
{
	*out = (struct ostor_scsi_sense)OSTOR_SCSI_SENSE_INIT;
	return n >= 3 && ostor_scsi_parse_sense(s, n, out) == 0;
}

/* The wire command ended (nothing in flight) with outcome o. */
void ousb_wire_done(struct ousb_engine *e, struct outcome o)
{
	struct ostor_scsi_sense sense;
	bool sensed;

	if (e->gone) {
		e->out = (struct outcome){ .res = OSTOR_RESULT_DEVICE_GONE, .status = -1 };
		ousb_finish_task(e);
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
		sensed = sense_of(e->sense, e->sense_len, &sense);
		if (cb_sense_says_good(e) && sensed && sense.key != OSTOR_SCSI_SENSE_NO_SENSE) {
			/* CB: the automatic REQUEST SENSE is the status. */
			e->out.res = OSTOR_RESULT_CHECK_CONDITION;
			e->out.status = 2;
		}
		if (e->out.short_data && o.res == OSTOR_RESULT_GOOD && sensed &&
		    sense.key == OSTOR_SCSI_SENSE_NO_SENSE && !sense.asc && !sense.ascq) {
			/* A short read the device stalled after: good, with
			 * the residual, as on every other transport. */
			e->out.res = OSTOR_RESULT_GOOD;
			e->out.status = 0;
			e->sense_len = 0;
		}
		if (o.recover) {
			ousb_start_recovery(e);
			return;
		}
		ousb_finish_task(e);
		return;
	}
	e->out = o;
	e->sense_len = 0;
	if (o.recover) {
		ousb_start_recovery(e);
		return;
	}
	if (o.res == OSTOR_RESULT_CHECK_CONDITION && o.sense && !e->task_cancelled) {
		ousb_start_sense(e);
		return;
	}
	ousb_finish_task(e);
}

/* ---- dispatch ------------------------------------------------------------ */

void ousb_advance(struct ousb_engine *e)
{
	if (e->stage == S_DRAIN) {
		struct outcome o;

		if (e->busy)
			return;
		o = e->pending;
		if (e->gone) {
			ousb_wire_done(e, o);
		} else if (e->cmd.is_sense) {
			/* A failed REQUEST SENSE: the task fails as a whole. */
			e->out.res = o.res;
			e->sense_len = 0;
			if (o.recover)
				ousb_start_recovery(e);
			else
				ousb_finish_task(e);
		} else {
			ousb_wire_done(e, o);
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
		ousb_rec_advance(e);
	} else if (e->gone && e->stage != S_IDLE) {
		/* Unplugged mid-command: stop and wait for the wire. */
		e->pending = (struct outcome){ .res = OSTOR_RESULT_DEVICE_GONE, .status = -1 };
		e->stage = S_DRAIN;
		cancel_all(e);
		if (!e->busy)
			ousb_advance(e);
		return;
	} else if (e->stage >= S_BOT_CBW && e->stage <= S_BOT_CSW_FROM_DATA) {
		ousb_bot_advance(e);
	} else if (e->stage >= S_CB_ADSC && e->stage <= S_CB_INTR) {
		ousb_cb_advance(e);
	}
	if (e->stage == S_IDLE && !e->task && !e->sync_busy)
		start_next(e);
}

/* ---- task entry ---------------------------------------------------------- */

static void start_next(struct ousb_engine *e)
{
	while (!e->task && ousb_waiting(e) && !e->sync_busy) {
		/* Members of a merged command that did not end whole go
		 * first, alone. */
		ostor_task *t = ousb_merge_next_replay(e);
		bool replayed = t != NULL;

		if (!replayed) {
			t = e->q[e->qhead];
			e->qhead = (e->qhead + 1) % e->qcap;
			e->qlen--;
		}
		if (e->dead || e->gone) {
			ostori_task_finish(t, OSTOR_RESULT_DEVICE_GONE, -1, NULL, 0, 0);
			continue;
		}
		e->mg.n = 0;
		if (!ousb_prepare(e, t))
			continue;
		if (!replayed)
			ousb_merge_gather(e, t);
		e->task = t;
		e->out = (struct outcome){ .res = OSTOR_RESULT_TRANSPORT_ERROR, .status = -1 };
		e->sense_len = 0;
		wire_start(e);
	}
}

int ousb_engine_submit(struct ousb_engine *e, ostor_task *t)
{
	int r = 0;

	if (e->uas)
		return ousb_uas_submit(e, t);
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
	/* A LUN the interface cannot address never goes on the wire. */
	if (t->lun > e->max_lun) {
		if (e->cfg.protocol != OUSB_PR_BOT)
			return ostori_error(OSTOR_ERROR_NOT_FOUND, "%s: no LUN %u: the %s transport addresses "
					    "LUN 0 only", e->dev->spec, t->lun, ousb_transport_name(e->cfg.protocol));
		return ostori_error(OSTOR_ERROR_NOT_FOUND, "%s: no LUN %u at target %u: its LUNs are 0 to %u "
				    "(Get Max LUN)", e->dev->spec, t->lun, t->target, e->max_lun);
	}
	if ((r = ousb_lock_awake(e)) == 0) {
		/* A fixed ring, allocated at open: when it is full the core
		 * keeps the task waiting (no allocation per command). */
		if (e->qlen == e->qcap || (e->one_at_a_time && (e->qlen || e->task || e->stage != S_IDLE))) {
			ousb_unlock(e);
			return OSTORI_SUBMIT_FULL;
		}
		if (e->qlen + 1 > e->stats.queued_max)
			e->stats.queued_max = e->qlen + 1;
		e->q[(e->qhead + e->qlen) % e->qcap] = t;
		e->qlen++;
		if (e->stage == S_IDLE && !e->task && !e->sync_busy)
			start_next(e);
	}
	ousb_unlock(e);
	return r;
}

bool ousb_dequeue_aborted(struct ousb_engine *e, ostor_task *t)
{
	if (ousb_merge_unreplay(e, t)) {
		ostori_task_finish(t, OSTOR_RESULT_ABORTED, -1, NULL, 0, 0);
		return true;
	}
	for (size_t i = 0; i < e->qlen; i++) {
		if (e->q[(e->qhead + i) % e->qcap] != t)
			continue;
		for (size_t j = i; j + 1 < e->qlen; j++)
			e->q[(e->qhead + j) % e->qcap] = e->q[(e->qhead + j + 1) % e->qcap];
		e->qlen--;
		ostori_task_finish(t, OSTOR_RESULT_ABORTED, -1, NULL, 0, 0);
		return true;
	}
	return false;
}

int ousb_lock_awake(struct ousb_engine *e)
{
	pthread_mutex_lock(&e->lock);
	/* Suspend allowed (the device idled): wake it before anything goes
	 * out.  Rare; the flag is read under the lock the timer sets it
	 * with, so it cannot be set behind our back until we queued. */
	while (OSTOR_UNLIKELY(e->suspend != NULL) && ousb_suspend_allowed(e->suspend) && !e->gone) {
		pthread_mutex_unlock(&e->lock);
		ousb_suspend_wake(e->suspend);
		pthread_mutex_lock(&e->lock);
	}
	if (e->gone)
		return ostori_error(OSTOR_ERROR_NO_DEVICE, "%s: the device was unplugged", e->dev->spec);
	if (e->dead)
		return ostori_error(OSTOR_ERROR_NO_DEVICE, "%s: the device stopped responding and a port "
				    "reset did not revive it; unplug and replug it", e->dev->spec);
	return 0;
}

int ousb_engine_cancel(struct ousb_engine *e, ostor_task *t)
{
	if (e->uas)
		return ousb_uas_cancel(e, t);
	pthread_mutex_lock(&e->lock);
	if (ousb_dequeue_aborted(e, t)) {
		ousb_unlock(e);
		return 0;
	}
	if (e->mg.n > 1 && e->task && ousb_merge_member(e, t) >= 0) {
		/* A member of a merged command: it ends ABORTED, the others
		 * are sent again (the command goes as a whole). */
		e->mg.cancelled |= 1u << ousb_merge_member(e, t);
		t = e->task;
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
			ousb_advance(e);
		}
	}
	ousb_unlock(e);
	return 0;
}

/* ---- life cycle and synchronous operations -------------------------------- */

int ousb_engine_new(ostor_device *dev, const struct ousb_ops *ops, void *layer,
		    const struct ousb_engine_config *cfg, struct ousb_engine **out)
{
	struct ousb_engine *e;
	const char *env;

	*out = NULL;
	if (cfg->protocol != OUSB_PR_BOT && cfg->protocol != OUSB_PR_CB && cfg->protocol != OUSB_PR_CBI &&
	    cfg->protocol != OUSB_PR_UAS)
		return ostori_error(OSTOR_ERROR_NOT_SUPPORTED,
				    "%s: interface protocol %02xh is not Bulk-Only (50h), CB (01h), CBI (00h) or UAS (62h)",
				    dev->spec, cfg->protocol);
	e = calloc(1, sizeof(*e));
	if (!e)
		return ostori_error(OSTOR_ERROR_NO_MEM, "out of memory");
	pthread_mutex_init(&e->lock, NULL);
	e->dev = dev;
	e->ops = ops;
	e->layer = layer;
	e->cfg = *cfg;
	e->suspend = cfg->suspend;
	if (!e->cfg.timeout_ms)
		e->cfg.timeout_ms = ostori_usb_config(&dev->ctx->config)->storage_device_timeout;
	if (!e->cfg.timeout_ms)
		e->cfg.timeout_ms = 30000;
	dev->default_timeout_ms = e->cfg.timeout_ms;
	dev->abort_is_reset = true; /* a cancel is a reset recovery */
	dev->count_class = "USB mass-storage";
	dev->count_limit = ostori_usb_config(&dev->ctx->config)->storage_device_max_count;
	dev->count_key = "[usb_storage] storage_device_max_count";
	atomic_store(&dev->hist_on, ostori_usb_config(&dev->ctx->config)->performance_monitoring_enabled);
	dev->cmd_cache_entries = ostori_usb_config(&dev->ctx->config)->scsi_command_cache_size;
	ostori_usb_cache_params(ostori_usb_config(&dev->ctx->config), dev);
	dev->health_interval_ms = ostori_usb_config(&dev->ctx->config)->smart_monitoring_enabled ?
				  ostori_usb_config(&dev->ctx->config)->smart_check_interval * 1000u : 0;
	if (!e->cfg.csw_grace_ms)
		e->cfg.csw_grace_ms = CSW_GRACE_DEFAULT_MS;
	e->pipeline = cfg->pipeline && !(cfg->quirks.flags & OUSB_Q_GO_SLOW);
	e->pipeline_cbw = e->pipeline && (cfg->pipeline_cbw || (cfg->quirks.flags & OUSB_Q_QUEUE_CBW));
	e->pipeline_source = cfg->quirks.flags & OUSB_Q_GO_SLOW ? "quirk go-slow"
			     : cfg->quirks.flags & OUSB_Q_QUEUE_CBW ? "quirk queue-cbw" : "default";
	/* Reads queued with the CBW (ORIONSTOR_USB_PIPELINE=cbw) are safe on
	 * a device that NAKs them until it has the command, as the Bulk-Only
	 * specification has it; one that answers them early (QEMU's
	 * usb-storage stalls them) is found out at its first early answer
	 * and from then on gets them after the CBW (bot.c, bot_reread).
	 * Opt-in: see backend.c.  "force" keeps the data-in and CSW reads
	 * together even on a device that loses CSW reads (and ignores
	 * go-slow): for latency measurements. */
	env = getenv("ORIONSTOR_USB_PIPELINE");
	if (env && *env)
		e->pipeline_source = "ORIONSTOR_USB_PIPELINE";
	if (env && (!strcmp(env, "0") || !strcmp(env, "off")))
		e->pipeline = e->pipeline_cbw = false;
	else if (env && (!strcmp(env, "1") || !strcmp(env, "on"))) {
		e->pipeline = !(cfg->quirks.flags & OUSB_Q_GO_SLOW);
		e->pipeline_cbw = false;
	} else if (env && !strcmp(env, "force")) {
		e->pipeline = e->keep_pipelining = true;   /* measurements only */
		e->pipeline_cbw = false;
	}
	else if (env && !strcmp(env, "cbw"))
		e->pipeline = e->pipeline_cbw = !(cfg->quirks.flags & OUSB_Q_GO_SLOW);
	/* Blocking small commands: on where the layer can (real devices:
	 * our own usbfs descriptor, the only device open). */
	e->block_ok = cfg->protocol == OUSB_PR_BOT && ops->can_block && !(cfg->quirks.flags & OUSB_Q_GO_SLOW);
	e->block_source = cfg->quirks.flags & OUSB_Q_GO_SLOW ? "quirk go-slow" : "default";
	env = getenv("ORIONSTOR_USB_BLOCKING");
	if (env && *env) {
		e->block_source = "ORIONSTOR_USB_BLOCKING";
		if (!strcmp(env, "0") || !strcmp(env, "off"))
			e->block_ok = false;
	}
	/* The configuration file's [usb_storage] switches. */
	{
		const struct ostor_config *c = &dev->ctx->config;

		e->adapt = ostori_usb_config(c)->scsi_processing_enabled;
		if (!ostori_usb_config(c)->scsi_validation_enabled)
			e->cfg.quirks.flags |= OUSB_Q_IGNORE_RESIDUE;
		e->one_at_a_time = !ostori_usb_config(c)->async_io_enabled ||
				   !ostori_usb_config(c)->storage_device_async_enabled;
		if (!ostori_usb_config(c)->storage_device_async_enabled) {
			e->pipeline = e->pipeline_cbw = e->keep_pipelining = false;
			e->pipeline_source = "[usb_storage] storage_device_async_enabled";
		}
	}
	ousb_merge_init(e);
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
	if (cfg->protocol == OUSB_PR_UAS) {
		int r = ousb_uas_new(e);

		if (r < 0) {
			free(e->bounce);
			free(e->q);
			pthread_mutex_destroy(&e->lock);
			free(e);
			return r;
		}
		e->pipeline = e->pipeline_cbw = false;
		e->pipeline_source = "UAS (no CSW)";
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

	if (e->uas)
		return ousb_uas_probe(e);
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
	ousb_submit(e, &e->x_ctrl, OUSB_CONTROL, e->ctrl_buf, 1, OSTOR_MIN(e->cfg.timeout_ms, 5000u));
	ousb_advance(e);
	pthread_mutex_unlock(&e->lock);
	r = sync_wait(e, OSTOR_MIN(e->cfg.timeout_ms, 5000u) + 1000);
	if (ostori_usb_config(&e->dev->ctx->config)->storage_device_max_luns &&
	    e->max_lun >= ostori_usb_config(&e->dev->ctx->config)->storage_device_max_luns)
		e->max_lun = (uint8_t)(ostori_usb_config(&e->dev->ctx->config)->storage_device_max_luns - 1);
	return r;
}

int ousb_engine_reset(struct ousb_engine *e, bool port)
{
	if (e->uas) {
		/* No class reset: I_T NEXUS RESET (a port reset when the
		 * device refuses it), or the port reset itself. */
		int r = ousb_uas_reset(e, port ? OSTOR_RESET_DEVICE : OSTOR_RESET_TARGET, 0);

		return r < 0 ? r : 0;
	}
	pthread_mutex_lock(&e->lock);
	/* A reset talks to the device: it must be awake (as in submit). */
	while (e->suspend && ousb_suspend_allowed(e->suspend) && !e->gone) {
		pthread_mutex_unlock(&e->lock);
		ousb_suspend_wake(e->suspend);
		pthread_mutex_lock(&e->lock);
	}
	if (e->gone) {
		pthread_mutex_unlock(&e->lock);
		return ostori_error(OSTOR_ERROR_NO_DEVICE, "%s: the device was unplugged", e->dev->spec);
	}
	if (e->task || ousb_waiting(e) || e->stage != S_IDLE || e->sync_busy) {
		pthread_mutex_unlock(&e->lock);
		return ostori_error(OSTOR_ERROR_BUSY, "%s: commands are in flight; reset when idle",
				    e->dev->spec);
	}
	e->sync_busy = true;
	e->sync_done = false;
	e->rec_port_only = port;
	e->dead = false;   /* an explicit reset is a fresh attempt */
	ousb_start_recovery(e);
	pthread_mutex_unlock(&e->lock);
	if (sync_wait(e, 4 * e->cfg.timeout_ms + 2000) < 0)
		return ostori_error(e->gone ? OSTOR_ERROR_NO_DEVICE : OSTOR_ERROR_IO,
				    "%s: the %s failed%s", e->dev->spec, port ? "port reset" : "transport reset",
				    e->dead ? "; the device is marked dead (unplug and replug it)" : "");
	return 0;
}

bool ousb_engine_is_uas(const struct ousb_engine *e)
{
	return e->uas != NULL;
}

bool ousb_engine_is_idle(struct ousb_engine *e)
{
	bool r;

	if (e->uas)
		return ousb_uas_is_idle(e);
	pthread_mutex_lock(&e->lock);
	r = !e->task && !ousb_waiting(e) && e->stage == S_IDLE && !e->sync_busy;
	pthread_mutex_unlock(&e->lock);
	return r;
}

void ousb_engine_gone(struct ousb_engine *e)
{
	pthread_mutex_lock(&e->lock);
	if (!e->gone)
		ostori_post_event(e->dev, OSTOR_EVENT_DEVICE_GONE, OSTOR_EVENT_ALL, OSTOR_EVENT_ALL, 0, 0);
	e->gone = true;
	if (e->uas) {
		ousb_uas_gone(e);
		ousb_unlock(e);
		return;
	}
	if (e->busy)
		cancel_all(e);
	ousb_advance(e);
	fail_queue(e, OSTOR_RESULT_DEVICE_GONE);
	ousb_unlock(e);
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

void ousb_engine_counters(struct ousb_engine *e, struct ostor_counter *out, int max, int *n)
{
	struct ousb_engine_stats st;

	ousb_engine_get_stats(e, &st);
	ostori_counter_add(out, max, n, "usb_commands", st.commands);
	ostori_counter_add(out, max, n, "usb_auto_sense", st.auto_sense);
	ostori_counter_add(out, max, n, "usb_reset_recoveries", st.reset_recoveries);
	ostori_counter_add(out, max, n, "usb_port_resets", st.port_resets);
	ostori_counter_add(out, max, n, "usb_clear_halts", st.clear_halts);
	ostori_counter_add(out, max, n, "usb_csw_invalid", st.csw_invalid);
	ostori_counter_add(out, max, n, "usb_phase_errors", st.phase_errors);
	ostori_counter_add(out, max, n, "usb_csw_in_data", st.csw_in_data);
	ostori_counter_add(out, max, n, "usb_zlp_retries", st.zlp_retries);
	ostori_counter_add(out, max, n, "usb_csw_stall_retries", st.csw_stall_retries);
	ostori_counter_add(out, max, n, "usb_timeouts", st.timeouts);
	ostori_counter_add(out, max, n, "usb_lost_csw_rescues", st.csw_rescues);
	ostori_counter_add(out, max, n, "usb_transfers", st.transfers);
	ostori_counter_add(out, max, n, "usb_pipelined_csws", st.pipelined_csws);
	ostori_counter_add(out, max, n, "usb_early_in_answers", st.early_in_answers);
	ostori_counter_add(out, max, n, "usb_early_data_in_status_read", st.early_data_in_status_read);
	ostori_counter_add(out, max, n, "usb_blocking_commands", st.blocking_commands);
	ostori_counter_add(out, max, n, "usb_babble", st.babble);
	ostori_counter_add(out, max, n, "usb_queued_max", st.queued_max);
	if (e->cfg.protocol == OUSB_PR_BOT) {
		ostori_counter_add(out, max, n, "usb_merged_commands", st.merged_commands);
		ostori_counter_add(out, max, n, "usb_merged_tasks", st.merged_tasks);
		ostori_counter_add(out, max, n, "usb_merge_replays", st.merge_replays);
	}
	if (!e->uas)
		return;
	ostori_counter_add(out, max, n, "usb_uas_inflight_max", st.uas_inflight_max);
	ostori_counter_add(out, max, n, "usb_uas_bad_ius", st.uas_bad_ius);
	ostori_counter_add(out, max, n, "usb_uas_bad_tags", st.uas_bad_tags);
	ostori_counter_add(out, max, n, "usb_uas_sense_clamped", st.uas_sense_clamped);
	ostori_counter_add(out, max, n, "usb_uas_ready_ius", st.uas_ready_ius);
	ostori_counter_add(out, max, n, "usb_uas_rejected", st.uas_rejected);
	ostori_counter_add(out, max, n, "usb_uas_overruns", st.uas_overruns);
	ostori_counter_add(out, max, n, "usb_uas_aborts", st.uas_aborts);
	ostori_counter_add(out, max, n, "usb_uas_lun_resets", st.uas_lun_resets);
	ostori_counter_add(out, max, n, "usb_uas_nexus_resets", st.uas_nexus_resets);
	ostori_counter_add(out, max, n, "usb_uas_tmf_failed", st.uas_tmf_failed);
	ostori_counter_add(out, max, n, "usb_uas_stale_ius", st.uas_stale_ius);
}

void ousb_engine_tuning(struct ousb_engine *e, struct ostori_setting *out, int max, int *n)
{
	char quirks[128];

	pthread_mutex_lock(&e->lock);
	ostori_setting_add(out, max, n, "transport", "interface descriptor", "%s",
			   ousb_transport_name(e->cfg.protocol));
	ostori_setting_add(out, max, n, "subclass", "interface descriptor", "%s", ousb_subclass_name(e->cfg.subclass));
	if (e->uas) {
		ousb_uas_tuning(e, out, max, n);
		goto common;
	}
	ostori_setting_add(out, max, n, "pipelining",
			   e->csw_after_data ? "turned down after a lost CSW read"
			   : e->stats.early_in_answers && !e->pipeline_cbw ? "turned down after a data read answered "
			   "before its CBW" : e->pipeline_source, "%s",
			   !e->pipeline ? "off (one phase at a time)" : e->pipeline_cbw ? "CBW, data and CSW queued together"
			   : e->csw_after_data ? "data, then CSW" : "data and CSW queued together");
	if (e->block_ok && e->ops->can_block(e->layer))
		ostori_setting_add(out, max, n, "blocking transfers", e->block_source,
				   "commands up to %u KiB alone on the wire: a blocking call per phase",
				   OUSB_BLOCK_MAX / 1024);
	else if (e->block_ok)
		ostori_setting_add(out, max, n, "blocking transfers", e->block_source,
				   "not here: needs xHCI, the only device open, one interface");
	else
		ostori_setting_add(out, max, n, "blocking transfers", e->block_source, "off (every transfer queued)");
	if (e->cfg.protocol == OUSB_PR_BOT)
		ousb_merge_tuning(e, out, max, n);
common:
	ousb_quirks_text(&e->cfg.quirks, quirks, sizeof(quirks));
	ostori_setting_add(out, max, n, "quirks", "built-in table, [usb_storage] quirks, ORIONSTOR_USB_QUIRKS",
			   "%s", quirks[0] ? quirks : "none");
	if (e->uas)
		goto tail;
	ostori_setting_add(out, max, n, "queueing",
			   e->one_at_a_time ? "[usb_storage] async_io_enabled / storage_device_async_enabled"
					    : "default", "%s",
			   e->one_at_a_time ? "one command at a time" : "queued in the engine (32 commands)");
tail:
	ostori_setting_add(out, max, n, "command_timeout_ms", "[usb_storage] storage_device_timeout", "%u",
			   e->cfg.timeout_ms);
	ostori_setting_add(out, max, n, "max_lun", e->uas ? "REPORT LUNS" : "Get Max LUN", "%u", e->max_lun);
	ostori_setting_add(out, max, n, "adapt_commands", "[usb_storage] scsi_processing_enabled", "%s",
			   e->adapt ? "on" : "off");
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
	ousb_uas_free(e);
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
	free(e->drain);
	free(e);
}
