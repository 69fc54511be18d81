/*
 * lib/usb/uas.c - USB Attached SCSI (UAS, T10/2095-D), over the transfer
 * seam of xfer.h like the Bulk-Only and CB/CBI engines.
 *
 * Four bulk pipes: command (Command and Task Management IUs out), status
 * (Sense, Response, READ READY and WRITE READY IUs in), data-in and
 * data-out.  Each command has a tag, 1..depth; task management uses the
 * tag above them.  Two modes:
 * - bulk streams (SuperSpeed): the tag is the stream ID of the command's
 *   status read and data transfer, all queued at once with the Command
 *   IU; up to depth commands are on the device together;
 * - no streams (high speed and below): one command at a time; its status
 *   read says which data pipe moves next (READ READY / WRITE READY), then
 *   gives its Sense IU.
 *
 * Every byte the device sends is checked before use: IU lengths and kinds,
 * tags (an IU for no command of ours is dropped and the status read made
 * again, a few times at most), sense lengths beyond the IU (clamped), data
 * beyond the buffer (babble: an overrun).  A command is reported good
 * only from its Sense IU; one that failed, was cancelled or was caught in
 * a reset reports no data moved.
 *
 * Recovery, one step at a time, new commands held meanwhile: clear the
 * halt of a stalled pipe; ABORT TASK a command that timed out, was
 * cancelled or broke the protocol (once its transfers are back); if that
 * fails, LOGICAL UNIT RESET its LUN; then a port reset; then the device
 * is dead.  ostor_reset() asks for the same steps directly.
 *
 * Everything here runs with e->lock held, except the entry points, which
 * take it, and the synchronous waits, which drop it around the layer's
 * event processing.
 */
#include "usb/engine_priv.h"
#include "util/byteorder.h"

#include <stdlib.h>
#include <string.h>

#define IU_COMMAND 0x01
#define IU_SENSE 0x03
#define IU_RESPONSE 0x04
#define IU_TASK_MGMT 0x05
#define IU_READ_READY 0x06
#define IU_WRITE_READY 0x07

#define RC_TMF_COMPLETE 0x00
#define RC_TMF_SUCCEEDED 0x08

#define TMF_ABORT_TASK 0x01
#define TMF_LUN_RESET 0x08
#define TMF_IT_NEXUS_RESET 0x10

#define CMD_IU_LEN 32
#define TMF_IU_LEN 16
#define SENSE_IU_HDR 16
#define RESPONSE_IU_LEN 8
/* What a status read asks for: the largest IU (16 + 252 bytes of sense)
 * fits, in one packet below SuperSpeed. */
#define STATUS_BUF 512
#define UAS_MAX_DEPTH 64
#define BAD_IU_RETRIES 3
/* A quarantined tag's status read: what the device still has for an
 * ended command comes at once (QEMU queues it before the Response IU of
 * the abort); nothing within this, and the tag is clean. */
#define SWEEP_MS 250
#define SWEEP_ROUNDS 4
#define REPORT_LUNS_LEN 512

/* Pipes, for the halts to clear. */
enum { P_CMD = 0, P_STATUS, P_DIN, P_DOUT, P_COUNT };

enum { B_CMD = 1, B_ST = 2, B_DATA = 4 };

enum rec_step { REC_NONE = 0, REC_CLEAR, REC_TMF, REC_PORT };

struct ousb_uas;

struct uas_slot {
	struct ousb_uas *u;
	uint16_t tag;
	bool used;
	ostor_task *task;          /* NULL: the engine's own REPORT LUNS */
	uint32_t lun;
	int dir;
	uint8_t *buf;
	size_t len;
	unsigned int timeout_ms;
	uint8_t iu[CMD_IU_LEN];
	uint8_t st[STATUS_BUF];
	struct ousb_xfer x_cmd, x_st, x_data;
	unsigned int busy;         /* B_* in flight */
	bool cmd_done, data_sub, data_done, status_done;
	bool failing;              /* its transfers are being pulled */
	bool need_abort;           /* the device may still hold it: ABORT TASK */
	bool doomed;               /* caught in a reset: ends when it is done */
	bool parked;               /* drained, its fate up to task management */
	bool cancelled;
	bool overrun;
	bool cmd_sent;             /* the Command IU may have reached the device */
	int bad_ius;
	enum ostor_result res;
	uint8_t status;
	size_t data_actual;
	uint8_t sense[OSTOR_SENSE_MAX];
	size_t sense_len;
	uint8_t *bounce;           /* scattered buffers, e->bounce_len bytes */
	/* Kept across commands: the tag's previous command ended without
	 * its Sense IU (timed out, cancelled, aborted, caught in a LUN
	 * reset); the device may still have an IU queued for it, which the
	 * tag's next command would take for its own.  The tag is not used
	 * again until a status read of its own (the sweep) finds nothing. */
	bool stale;
	bool sweep_busy;           /* x_st in flight for the sweep */
	unsigned int sweeps;       /* sweep reads of this quarantine */
};

struct ousb_uas {
	struct ousb_engine *e;
	bool streams;
	unsigned int depth;
	uint16_t tmf_tag;
	struct uas_slot *slots;
	unsigned int inflight, next_slot;

	/* recovery */
	enum rec_step rec;
	unsigned int clear_pending;   /* 1 << P_* */
	int clear_pipe;
	uint8_t want_lun[256 / 8];    /* LOGICAL UNIT RESET wanted */
	bool want_nexus, want_port;
	uint8_t tmf_fn;
	uint32_t tmf_lun;
	struct uas_slot *tmf_slot;
	uint8_t tmf_iu[TMF_IU_LEN];
	uint8_t tmf_st[STATUS_BUF];
	struct ousb_xfer x_tmf, x_tmf_st, x_rec;
	unsigned int tmf_busy;        /* B_CMD, B_ST */
	bool rec_busy;                /* x_rec in flight */
	int tmf_rc;                   /* response code; -1 none yet, 0x100 failed */
	int tmf_bad;

	/* one synchronous request (ousb_uas_reset) */
	bool op_active, op_done, op_escalated;
	int op_result;
	enum ostor_reset_level op_level;

	/* the drain of stale IUs at open */
	unsigned int drain_busy, drained;
	/* the probe's REPORT LUNS */
	bool probe_done;
	enum ostor_result probe_res;
	size_t probe_len;
	uint8_t rl[REPORT_LUNS_LEN];
};

static void pump(struct ousb_uas *u);
static void slot_drained(struct uas_slot *s);
static void unquarantine_all(struct ousb_uas *u);
static bool sweep_put(struct ousb_uas *u, struct uas_slot *s);

static struct ousb_engine *E(struct ousb_uas *u)
{
	return u->e;
}

/* SAM-5 single-level LUN: peripheral addressing below 256, flat above. */
static void put_lun(uint8_t *p, uint32_t lun)
{
	memset(p, 0, 8);
	if (lun < 256) {
		p[1] = (uint8_t)lun;
	} else {
		p[0] = (uint8_t)(0x40 | ((lun >> 8) & 0x3f));
		p[1] = (uint8_t)lun;
	}
}

static bool lun_wanted(const struct ousb_uas *u, uint32_t lun)
{
	return lun < 256 && (u->want_lun[lun / 8] & (1u << (lun % 8)));
}

/* ---- transfers ------------------------------------------------------------ */

static void slot_xfer_done(struct ousb_xfer *x);
static void rec_xfer_done(struct ousb_xfer *x);

/* Queue one transfer; false when the layer refused it (nothing queued). */
static bool put(struct ousb_uas *u, struct ousb_xfer *x, enum ousb_kind kind, enum ousb_pipe pipe,
		uint32_t stream, uint8_t *buf, size_t len, unsigned int timeout_ms, ousb_done_fn done,
		void *user)
{
	struct ousb_engine *e = E(u);

	x->kind = kind;
	x->pipe = (uint8_t)pipe;
	x->stream = u->streams ? stream : 0;
	x->buf = buf;
	x->len = len;
	x->timeout_ms = timeout_ms;
	x->done = done;
	x->user = user;
	x->status = OUSB_ERROR;
	x->actual = 0;
	if (e->gone)
		return false;
	e->stats.transfers++;
	return e->ops->submit(e->layer, x) >= 0;
}

static bool slot_put(struct uas_slot *s, unsigned int bit)
{
	struct ousb_uas *u = s->u;
	bool ok;

	s->busy |= bit;
	if (bit == B_CMD)
		ok = put(u, &s->x_cmd, OUSB_BULK_OUT, OUSB_PIPE_COMMAND, 0, s->iu, CMD_IU_LEN, s->timeout_ms,
			 slot_xfer_done, s);
	else if (bit == B_ST)
		ok = put(u, &s->x_st, OUSB_BULK_IN, OUSB_PIPE_STATUS, s->tag, s->st, sizeof(s->st), s->timeout_ms,
			 slot_xfer_done, s);
	else
		ok = put(u, &s->x_data, s->dir == OSTOR_DIR_FROM_DEVICE ? OUSB_BULK_IN : OUSB_BULK_OUT,
			 OUSB_PIPE_DATA, s->tag, s->buf, s->len, s->timeout_ms, slot_xfer_done, s);
	if (!ok)
		s->busy &= ~bit;
	return ok;
}

static void slot_cancel_all(struct uas_slot *s)
{
	struct ousb_engine *e = E(s->u);

	if (s->busy & B_CMD)
		e->ops->cancel(e->layer, &s->x_cmd);
	if (s->busy & B_ST)
		e->ops->cancel(e->layer, &s->x_st);
	if (s->busy & B_DATA)
		e->ops->cancel(e->layer, &s->x_data);
}

/* ---- the end of a command ------------------------------------------------- */

static void slot_free(struct uas_slot *s)
{
	struct ousb_uas *u = s->u;
	uint8_t *bounce = s->bounce;
	bool stale = s->stale, sweep_busy = s->sweep_busy;
	unsigned int sweeps = s->sweeps;

	memset(&s->cmd_done, 0, sizeof(*s) - offsetof(struct uas_slot, cmd_done));
	s->bounce = bounce;
	s->stale = stale;
	s->sweep_busy = sweep_busy;
	s->sweeps = sweeps;
	s->used = false;
	s->task = NULL;
	u->inflight--;
}

/* Report the command's outcome and free its tag.  res is the outcome of
 * a command that did not end with a Sense IU (or GOOD, CHECK CONDITION,
 * OVERRUN from one). */
static void slot_complete(struct uas_slot *s, enum ostor_result res)
{
	struct ousb_uas *u = s->u;
	ostor_task *t = s->task;
	size_t xfer = s->data_actual;

	if (s->cmd_sent && !s->status_done && !E(u)->gone && !E(u)->dead) {
		s->stale = true;
		s->sweeps = 0;
	}
	if (s->cancelled && res != OSTOR_RESULT_DEVICE_GONE)
		res = OSTOR_RESULT_ABORTED;
	if (res != OSTOR_RESULT_GOOD && res != OSTOR_RESULT_CHECK_CONDITION && res != OSTOR_RESULT_OVERRUN)
		xfer = 0;
	if (!t) {
		u->probe_done = true;
		u->probe_res = res;
		u->probe_len = xfer;
		slot_free(s);
		return;
	}
	if (t->dir == OSTOR_DIR_FROM_DEVICE && t->iovcnt > 1 && xfer)
		ousb_copy_out(t, s->bounce, xfer);
	t->result = res;
	t->status = res == OSTOR_RESULT_GOOD || res == OSTOR_RESULT_OVERRUN ? s->status
		    : res == OSTOR_RESULT_CHECK_CONDITION || res == OSTOR_RESULT_BUSY ||
		      res == OSTOR_RESULT_OTHER_STATUS || res == OSTOR_RESULT_RESERVATION_CONFLICT ? s->status : -1;
	t->transferred = OSTOR_MIN(xfer, t->data_len);
	t->sense_len = 0;
	if (res == OSTOR_RESULT_CHECK_CONDITION && s->sense_len) {
		memcpy(t->sense, s->sense, s->sense_len);
		t->sense_len = s->sense_len;
	}
	slot_free(s);
	ostori_task_complete(t);
}

/* Pull the command's transfers; once they are back it ends with res, or
 * waits for task management (need_abort, doomed). */
static void slot_fail(struct uas_slot *s, enum ostor_result res, bool abort, const char *why)
{
	struct ousb_engine *e = E(s->u);

	if (s->failing)
		return;
	if (res == OSTOR_RESULT_TIMEOUT)
		e->stats.timeouts++;
	ostor_dbg(e->dev->ctx, "%s: uas tag %u (command %02xh, LUN %u): %s%s", e->dev->spec, s->tag,
		  s->iu[16], s->lun, why, abort && !s->status_done && !e->gone ? "; aborting it" : "");
	s->failing = true;
	s->res = res;
	s->need_abort = abort && !s->status_done && !e->gone;
	slot_cancel_all(s);
	if (!s->busy)
		slot_drained(s);
}

static void slot_drained(struct uas_slot *s)
{
	struct ousb_engine *e = E(s->u);

	if (e->gone) {
		slot_complete(s, OSTOR_RESULT_DEVICE_GONE);
		return;
	}
	if (s->doomed || s->need_abort) {
		s->parked = true;
		return;
	}
	slot_complete(s, s->res);
}

/* A reset takes the command with it. */
static void slot_doom(struct uas_slot *s)
{
	s->doomed = true;
	if (!s->failing)
		slot_fail(s, OSTOR_RESULT_ABORTED, false, "ended by a reset");
}

static void maybe_finish(struct uas_slot *s)
{
	struct ousb_engine *e = E(s->u);
	enum ostor_result res;

	if (!s->status_done)
		return;
	/* A command that failed moves no (more) data: the device sends
	 * none after its status, so a data transfer still queued would
	 * wait for ever. */
	if (s->status != OSTOR_SCSI_STATUS_GOOD && (s->busy & B_DATA)) {
		e->ops->cancel(e->layer, &s->x_data);
		return;
	}
	if (s->busy)
		return;
	res = ostori_result_of_status(s->status);
	if (s->overrun && res == OSTOR_RESULT_GOOD)
		res = OSTOR_RESULT_OVERRUN;
	slot_complete(s, res);
}

/* ---- status IUs ------------------------------------------------------------ */

static void bad_iu(struct uas_slot *s, const char *why)
{
	E(s->u)->stats.uas_bad_ius++;
	slot_fail(s, OSTOR_RESULT_TRANSPORT_ERROR, true, why);
}

static void status_iu(struct uas_slot *s)
{
	struct ousb_uas *u = s->u;
	struct ousb_engine *e = E(u);
	size_t n = s->x_st.actual;
	uint8_t id;
	uint16_t tag;

	if (n < 4) {
		bad_iu(s, "a status IU shorter than its header");
		return;
	}
	id = s->st[0];
	tag = ostori_get_be16(s->st + 2);
	if (tag != s->tag) {
		/* Not ours (a stale IU, or the device's confusion): drop it
		 * and read again, a few times at most. */
		e->stats.uas_bad_tags++;
		ostor_dbg(e->dev->ctx, "%s: uas: IU %02xh for tag %u on the status read of tag %u; dropped",
			  e->dev->spec, id, tag, s->tag);
		if (++s->bad_ius > BAD_IU_RETRIES || !slot_put(s, B_ST))
			slot_fail(s, OSTOR_RESULT_TRANSPORT_ERROR, true, "IUs for unknown tags");
		return;
	}
	switch (id) {
	case IU_SENSE: {
		size_t slen;

		if (n < SENSE_IU_HDR) {
			bad_iu(s, "a Sense IU shorter than 16 bytes");
			return;
		}
		slen = ostori_get_be16(s->st + 14);
		if (slen > n - SENSE_IU_HDR) {
			e->stats.uas_sense_clamped++;
			ostor_dbg(e->dev->ctx, "%s: uas tag %u: the Sense IU claims %zu sense bytes and carries %zu",
				  e->dev->spec, s->tag, slen, n - SENSE_IU_HDR);
			slen = n - SENSE_IU_HDR;
		}
		s->status = s->st[6];
		s->sense_len = 0;
		if (s->status != OSTOR_SCSI_STATUS_GOOD) {
			s->sense_len = OSTOR_MIN(slen, sizeof(s->sense));
			memcpy(s->sense, s->st + SENSE_IU_HDR, s->sense_len);
		}
		s->status_done = true;
		maybe_finish(s);
		return;
	}
	case IU_RESPONSE:
		if (n < RESPONSE_IU_LEN) {
			bad_iu(s, "a Response IU shorter than 8 bytes");
			return;
		}
		/* The device turned the command down (invalid IU, tag in
		 * use, no such LUN): it holds nothing to abort. */
		e->stats.uas_rejected++;
		s->status_done = true;
		{
			char why[64];

			snprintf(why, sizeof(why), "refused with response code %02xh", s->st[7]);
			slot_fail(s, OSTOR_RESULT_TRANSPORT_ERROR, false, why);
		}
		return;
	case IU_READ_READY:
	case IU_WRITE_READY: {
		int want = id == IU_READ_READY ? OSTOR_DIR_FROM_DEVICE : OSTOR_DIR_TO_DEVICE;

		e->stats.uas_ready_ius++;
		if (!s->len || s->dir != want) {
			bad_iu(s, id == IU_READ_READY ? "READ READY for a command that reads nothing"
						      : "WRITE READY for a command that writes nothing");
			return;
		}
		if (!u->streams) {
			if (s->data_sub) {
				bad_iu(s, "a second READY IU");
				return;
			}
			s->data_sub = true;
			if (!slot_put(s, B_DATA)) {
				slot_fail(s, OSTOR_RESULT_TRANSPORT_ERROR, true, "the data transfer was refused");
				return;
			}
		}
		/* With streams the data transfer is queued already. */
		if (!slot_put(s, B_ST))
			slot_fail(s, OSTOR_RESULT_TRANSPORT_ERROR, true, "the status read was refused");
		return;
	}
	default:
		bad_iu(s, "a status IU of an unknown kind");
		return;
	}
}

/* ---- transfer completions ------------------------------------------------- */

static void slot_handle(struct uas_slot *s, struct ousb_xfer *x)
{
	struct ousb_uas *u = s->u;
	struct ousb_engine *e = E(u);

	if (s->failing) {
		/* A status read that got its IU as it was pulled: the device
		 * has nothing more for the tag (the outcome stays the
		 * failure's: the command was given up). */
		if (x == &s->x_st && x->status == OUSB_OK && x->actual >= 4 && ostori_get_be16(s->st + 2) == s->tag &&
		    (s->st[0] == IU_SENSE || s->st[0] == IU_RESPONSE))
			s->status_done = true;
		if (!s->busy)
			slot_drained(s);
		return;
	}
	if (e->gone) {
		slot_fail(s, OSTOR_RESULT_DEVICE_GONE, false, "the device is gone");
		return;
	}
	if (x == &s->x_cmd) {
		if (x->status == OUSB_OK && x->actual == CMD_IU_LEN) {
			s->cmd_done = true;
			maybe_finish(s);
		} else if (x->status == OUSB_STALL) {
			u->clear_pending |= 1u << P_CMD;
			s->cmd_sent = false;   /* the device did not take it */
			slot_fail(s, OSTOR_RESULT_TRANSPORT_ERROR, false, "the command pipe stalled the Command IU");
		} else {
			slot_fail(s, ousb_result_of(x->status == OUSB_OK ? OUSB_ERROR : x->status), true,
				  "the Command IU did not go out");
		}
		return;
	}
	if (x == &s->x_data) {
		s->data_done = true;
		s->data_actual = OSTOR_MIN(x->actual, s->len);
		switch (x->status) {
		case OUSB_OK:
			break;
		case OUSB_CANCELLED:
			/* Pulled by maybe_finish: the command failed. */
			if (!s->status_done)
				slot_fail(s, OSTOR_RESULT_ABORTED, true, "data transfer cancelled");
			break;
		case OUSB_STALL:
			/* The device ends the data phase early; its Sense IU
			 * follows. */
			u->clear_pending |= 1u << (s->dir == OSTOR_DIR_FROM_DEVICE ? P_DIN : P_DOUT);
			break;
		case OUSB_BABBLE:
			e->stats.uas_overruns++;
			s->overrun = true;
			u->clear_pending |= 1u << (s->dir == OSTOR_DIR_FROM_DEVICE ? P_DIN : P_DOUT);
			break;
		default:
			slot_fail(s, ousb_result_of(x->status), true, "the data transfer failed");
			return;
		}
		maybe_finish(s);
		return;
	}
	/* the status read */
	switch (x->status) {
	case OUSB_OK:
		status_iu(s);
		return;
	case OUSB_STALL:
		u->clear_pending |= 1u << P_STATUS;
		slot_fail(s, OSTOR_RESULT_TRANSPORT_ERROR, true, "the status pipe stalled");
		return;
	case OUSB_BABBLE:
		e->stats.uas_bad_ius++;
		u->clear_pending |= 1u << P_STATUS;
		slot_fail(s, OSTOR_RESULT_TRANSPORT_ERROR, true, "a status IU longer than 512 bytes");
		return;
	default:
		slot_fail(s, ousb_result_of(x->status), true, "no status");
		return;
	}
}

static void note_gone(struct ousb_engine *e, const struct ousb_xfer *x)
{
	if (x->status == OUSB_BABBLE)
		e->stats.babble++;
	if (x->status == OUSB_NO_DEVICE && !e->gone) {
		ostor_warn(e->dev->ctx, "%s: the device is gone", e->dev->spec);
		e->gone = true;
	}
}

static void slot_xfer_done(struct ousb_xfer *x)
{
	struct uas_slot *s = x->user;
	struct ousb_uas *u = s->u;
	struct ousb_engine *e = E(u);

	pthread_mutex_lock(&e->lock);
	s->busy &= ~(x == &s->x_cmd ? B_CMD : x == &s->x_st ? B_ST : B_DATA);
	note_gone(e, x);
	slot_handle(s, x);
	pump(u);
	pthread_mutex_unlock(&e->lock);
}

/* ---- starting commands ----------------------------------------------------- */

static bool recovery_pending(const struct ousb_uas *u)
{
	if (u->rec != REC_NONE || u->want_port || u->want_nexus || u->clear_pending)
		return true;
	for (size_t i = 0; i < sizeof(u->want_lun); i++)
		if (u->want_lun[i])
			return true;
	for (unsigned int i = 0; i < u->depth; i++)
		if (u->slots[i].used && u->slots[i].parked)
			return true;
	return false;
}

static struct uas_slot *free_slot(struct ousb_uas *u)
{
	for (unsigned int k = 0; k < u->depth; k++) {
		unsigned int i = (u->next_slot + k) % u->depth;

		if (!u->slots[i].used && !u->slots[i].stale && !u->slots[i].sweep_busy) {
			u->next_slot = (i + 1) % u->depth;
			return &u->slots[i];
		}
	}
	return NULL;
}

static void slot_start(struct uas_slot *s)
{
	struct ousb_uas *u = s->u;
	struct ousb_engine *e = E(u);
	const uint8_t *cdb = s->task ? s->task->cdb : NULL;

	s->used = true;
	u->inflight++;
	if (u->inflight > e->stats.uas_inflight_max)
		e->stats.uas_inflight_max = u->inflight;
	e->stats.commands++;
	memset(s->iu, 0, sizeof(s->iu));
	s->iu[0] = IU_COMMAND;
	ostori_put_be16(s->iu + 2, s->tag);
	s->iu[4] = 0;   /* SIMPLE task attribute, priority 0 */
	put_lun(s->iu + 8, s->lun);
	if (cdb)
		memcpy(s->iu + 16, cdb, s->task->cdb_len);
	else {
		/* REPORT LUNS, SELECT REPORT 0 */
		s->iu[16] = 0xa0;
		ostori_put_be32(s->iu + 16 + 6, REPORT_LUNS_LEN);
	}
	if (!slot_put(s, B_ST)) {
		slot_fail(s, e->gone ? OSTOR_RESULT_DEVICE_GONE : OSTOR_RESULT_TRANSPORT_ERROR, false,
			  "the status read was refused");
		return;
	}
	if (u->streams && s->len) {
		s->data_sub = true;
		if (!slot_put(s, B_DATA)) {
			slot_fail(s, OSTOR_RESULT_TRANSPORT_ERROR, false, "the data transfer was refused");
			return;
		}
	}
	s->cmd_sent = true;
	if (!slot_put(s, B_CMD)) {
		s->cmd_sent = false;
		slot_fail(s, OSTOR_RESULT_TRANSPORT_ERROR, false, "the Command IU was refused");
	}
}

/* Fill a slot from a task; false when the task ended here. */
static bool slot_take(struct ousb_uas *u, struct uas_slot *s, ostor_task *t)
{
	struct ousb_engine *e = E(u);

	if (ostori_task_cancelled(t)) {
		ostori_task_finish(t, OSTOR_RESULT_ABORTED, -1, NULL, 0, 0);
		return false;
	}
	if (t->cdb[0] == 0x35 && (e->cfg.quirks.flags & OUSB_Q_NO_SYNC_CACHE)) {
		ostori_task_finish(t, OSTOR_RESULT_GOOD, 0, NULL, 0, 0);
		return false;
	}
	s->task = t;
	s->lun = t->lun;
	s->dir = t->data_len ? (int)t->dir : OSTOR_DIR_NONE;
	s->len = t->data_len;
	s->timeout_ms = t->timeout_ms ? t->timeout_ms : e->cfg.timeout_ms;
	if (t->iovcnt == 1) {
		s->buf = t->iov[0].iov_base;
	} else if (t->iovcnt > 1) {
		if (!s->bounce && !(s->bounce = malloc(e->bounce_len))) {
			ostori_task_finish(t, OSTOR_RESULT_TRANSPORT_ERROR, -1, NULL, 0, 0);
			return false;
		}
		s->buf = s->bounce;
		if (t->dir == OSTOR_DIR_TO_DEVICE) {
			size_t off = 0;

			for (int i = 0; i < t->iovcnt; i++) {
				memcpy(s->bounce + off, t->iov[i].iov_base, t->iov[i].iov_len);
				off += t->iov[i].iov_len;
			}
		}
	} else {
		s->buf = NULL;
	}
	return true;
}

static void start_next(struct ousb_uas *u)
{
	struct ousb_engine *e = E(u);

	while (e->qlen && !recovery_pending(u)) {
		struct uas_slot *s;
		ostor_task *t;

		if (e->dead || e->gone) {
			t = e->q[e->qhead];
			e->qhead = (e->qhead + 1) % e->qcap;
			e->qlen--;
			ostori_task_finish(t, OSTOR_RESULT_DEVICE_GONE, -1, NULL, 0, 0);
			continue;
		}
		if (!(s = free_slot(u)))
			return;
		t = e->q[e->qhead];
		e->qhead = (e->qhead + 1) % e->qcap;
		e->qlen--;
		if (slot_take(u, s, t))
			slot_start(s);
	}
}

/* ---- task management and other recovery ------------------------------------- */

static bool any_busy(struct ousb_uas *u, bool all, uint32_t lun)
{
	for (unsigned int i = 0; i < u->depth; i++) {
		struct uas_slot *s = &u->slots[i];

		if (s->used && (all || s->lun == lun) && s->busy)
			return true;
	}
	return false;
}

static void doom(struct ousb_uas *u, bool all, uint32_t lun)
{
	for (unsigned int i = 0; i < u->depth; i++) {
		struct uas_slot *s = &u->slots[i];

		if (s->used && (all || s->lun == lun))
			slot_doom(s);
	}
}

/* The parked commands a reset ended: report them. */
static void settle(struct ousb_uas *u, bool all, uint32_t lun, enum ostor_result res)
{
	for (unsigned int i = 0; i < u->depth; i++) {
		struct uas_slot *s = &u->slots[i];

		if (s->used && s->parked && (all || s->lun == lun))
			slot_complete(s, res != OSTOR_RESULT_GOOD ? res : s->res);
	}
}

static unsigned int tmf_timeout(struct ousb_engine *e)
{
	return OSTOR_MIN(e->cfg.timeout_ms, 10000u);
}

/* Streams: before task management, a status read on each tag that may
 * have an IU coming or waiting and none being read: the commands it
 * ends that had no Sense IU yet (a command that ended as it was pulled
 * has it queued), and quarantined tags.  An IU queued for a stream
 * nobody reads stalls QEMU's delivery of the IUs behind it, the
 * Response IU included. */
static void presweep(struct ousb_uas *u, uint8_t fn, uint32_t lun, const struct uas_slot *target)
{
	if (!u->streams)
		return;
	for (unsigned int i = 0; i < u->depth; i++) {
		struct uas_slot *s = &u->slots[i];
		bool want;

		if (s->sweep_busy)
			continue;
		if (!s->used)
			want = s->stale;
		else
			want = s->parked && !s->status_done && s->cmd_sent &&
			       (fn == TMF_ABORT_TASK ? s == target : fn == TMF_LUN_RESET ? s->lun == lun : true);
		if (want && !sweep_put(u, s))
			return;
	}
}

static void tmf_start(struct ousb_uas *u, uint8_t fn, uint32_t lun, struct uas_slot *s)
{
	struct ousb_engine *e = E(u);

	u->rec = REC_TMF;
	u->tmf_fn = fn;
	u->tmf_lun = lun;
	u->tmf_slot = s;
	u->tmf_rc = -1;
	u->tmf_bad = 0;
	memset(u->tmf_iu, 0, sizeof(u->tmf_iu));
	u->tmf_iu[0] = IU_TASK_MGMT;
	ostori_put_be16(u->tmf_iu + 2, u->tmf_tag);
	u->tmf_iu[4] = fn;
	if (s)
		ostori_put_be16(u->tmf_iu + 6, s->tag);
	put_lun(u->tmf_iu + 8, lun);
	if (fn == TMF_ABORT_TASK)
		e->stats.uas_aborts++;
	else if (fn == TMF_LUN_RESET)
		e->stats.uas_lun_resets++;
	else
		e->stats.uas_nexus_resets++;
	ostor_info(e->dev->ctx, "%s: uas: %s%s (LUN %u%s)", e->dev->spec,
		   fn == TMF_ABORT_TASK ? "ABORT TASK" : fn == TMF_LUN_RESET ? "LOGICAL UNIT RESET" : "I_T NEXUS RESET",
		   s ? " of a command" : "", lun, "");
	presweep(u, fn, lun, s);
	/* The status read goes out once the device has the IU: QEMU's
	 * usb-uas hands a queued IU to a status read that comes later
	 * whatever stands before it, but one already waiting only in order
	 * (a stale IU ahead, for a stream nobody reads, holds it back). */
	u->tmf_busy = B_CMD;
	if (!put(u, &u->x_tmf, OUSB_BULK_OUT, OUSB_PIPE_COMMAND, 0, u->tmf_iu, TMF_IU_LEN, tmf_timeout(e),
		 rec_xfer_done, u)) {
		u->tmf_busy = 0;
		u->tmf_rc = 0x100;
	}
}

static void tmf_finish(struct ousb_uas *u)
{
	struct ousb_engine *e = E(u);
	bool ok = u->tmf_rc == RC_TMF_COMPLETE || u->tmf_rc == RC_TMF_SUCCEEDED;
	struct uas_slot *s = u->tmf_slot;

	u->rec = REC_NONE;
	u->tmf_slot = NULL;
	if (!ok) {
		e->stats.uas_tmf_failed++;
		ostor_warn(e->dev->ctx, "%s: uas: task management %02xh %s%s", e->dev->spec, u->tmf_fn,
			   u->tmf_rc >= 0 && u->tmf_rc < 0x100 ? "refused" : "failed",
			   u->tmf_fn == TMF_ABORT_TASK ? "; resetting the LUN" : "; resetting the port");
	}
	if (e->gone)
		return;
	switch (u->tmf_fn) {
	case TMF_ABORT_TASK:
		if (ok && s && s->used && s->parked) {
			s->need_abort = false;
			if (!s->doomed)
				slot_complete(s, s->res);
		} else if (s && s->used) {
			u->want_lun[s->lun / 8] |= (uint8_t)(1u << (s->lun % 8));
		}
		break;
	case TMF_LUN_RESET:
		if (ok)
			settle(u, false, u->tmf_lun, OSTOR_RESULT_GOOD);
		else
			u->want_port = true;
		break;
	default:
		if (ok)
			settle(u, true, 0, OSTOR_RESULT_GOOD);
		else
			u->want_port = true;
		break;
	}
}

/* Read the task management function's answer from the status pipe; a
 * transfer that cannot be queued ends the TMF as failed. */
static void tmf_read_status(struct ousb_uas *u)
{
	u->tmf_busy |= B_ST;
	if (!put(u, &u->x_tmf_st, OUSB_BULK_IN, OUSB_PIPE_STATUS, u->tmf_tag, u->tmf_st, sizeof(u->tmf_st),
		 tmf_timeout(E(u)), rec_xfer_done, u)) {
		u->tmf_busy &= ~B_ST;
		u->tmf_rc = 0x100;
	}
}

static void tmf_handle(struct ousb_uas *u, struct ousb_xfer *x)
{
	struct ousb_engine *e = E(u);

	if (x == &u->x_tmf) {
		if (x->status != OUSB_OK || x->actual != TMF_IU_LEN) {
			if (x->status == OUSB_STALL)
				u->clear_pending |= 1u << P_CMD;
			u->tmf_rc = 0x100;
		} else {
			tmf_read_status(u);
		}
	} else if (u->tmf_rc < 0) {
		size_t n = x->actual;

		if (x->status != OUSB_OK) {
			if (x->status == OUSB_STALL || x->status == OUSB_BABBLE)
				u->clear_pending |= 1u << P_STATUS;
			u->tmf_rc = 0x100;
		} else if (n >= 4 && ostori_get_be16(u->tmf_st + 2) != u->tmf_tag) {
			/* A command's late IU (no streams), or nonsense. */
			e->stats.uas_bad_tags++;
			if (++u->tmf_bad > BAD_IU_RETRIES) {
				u->tmf_rc = 0x100;
			} else {
				tmf_read_status(u);
			}
		} else if (n >= RESPONSE_IU_LEN && u->tmf_st[0] == IU_RESPONSE) {
			u->tmf_rc = u->tmf_st[7];
		} else {
			e->stats.uas_bad_ius++;
			u->tmf_rc = 0x100;
		}
		if (u->tmf_rc >= 0 && (u->tmf_busy & B_CMD) && u->tmf_rc == 0x100)
			e->ops->cancel(e->layer, &u->x_tmf);
	}
	if (!u->tmf_busy && u->tmf_rc >= 0)
		tmf_finish(u);
}

static void rec_xfer_done(struct ousb_xfer *x)
{
	struct ousb_uas *u = x->user;
	struct ousb_engine *e = E(u);

	pthread_mutex_lock(&e->lock);
	note_gone(e, x);
	if (x == &u->x_rec) {
		u->rec_busy = false;
		if (u->rec == REC_CLEAR) {
			u->rec = REC_NONE;
			e->stats.clear_halts++;
			if (x->status != OUSB_OK && !e->gone) {
				ostor_warn(e->dev->ctx, "%s: uas: clearing the halt of a pipe failed (%s); resetting "
					   "the port", e->dev->spec, ousb_status_name(x->status));
				u->want_port = true;
			}
		} else if (u->rec == REC_PORT) {
			u->rec = REC_NONE;
			u->want_port = false;
			u->want_nexus = false;
			memset(u->want_lun, 0, sizeof(u->want_lun));
			u->clear_pending = 0;
			e->stats.port_resets++;
			if (u->op_active && u->op_level != OSTOR_RESET_DEVICE)
				u->op_escalated = true;
			if (x->status == OUSB_OK) {
				e->dead = false;
				settle(u, true, 0, OSTOR_RESULT_GOOD);
				/* The device forgot every command and IU. */
				unquarantine_all(u);
			} else if (!e->gone) {
				ostor_err(e->dev->ctx, "%s: uas: the port reset failed (%s); the device is dead: "
					  "unplug and replug it", e->dev->spec, ousb_status_name(x->status));
				e->dead = true;
				settle(u, true, 0, OSTOR_RESULT_DEVICE_GONE);
			}
		}
	} else {
		u->tmf_busy &= ~(x == &u->x_tmf ? B_CMD : B_ST);
		tmf_handle(u, x);
	}
	pump(u);
	pthread_mutex_unlock(&e->lock);
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

static bool recovery_wanted_lun(const struct ousb_uas *u)
{
	for (size_t i = 0; i < sizeof(u->want_lun); i++)
		if (u->want_lun[i])
			return true;
	return false;
}

static bool any_abort_wanted(const struct ousb_uas *u)
{
	for (unsigned int i = 0; i < u->depth; i++)
		if (u->slots[i].used && u->slots[i].parked && u->slots[i].need_abort && !u->slots[i].doomed)
			return true;
	return false;
}

/* ---- quarantined tags ----------------------------------------------------------- */

static bool sweeps_busy(const struct ousb_uas *u)
{
	for (unsigned int i = 0; i < u->depth; i++)
		if (u->slots[i].sweep_busy)
			return true;
	return false;
}

static void sweep_done(struct ousb_xfer *x)
{
	struct uas_slot *s = x->user;
	struct ousb_uas *u = s->u;
	struct ousb_engine *e = E(u);

	pthread_mutex_lock(&e->lock);
	s->sweep_busy = false;
	note_gone(e, x);
	if (s->used) {
		/* Before task management that ends the command: its Sense
		 * IU, when it came, is the last the device sends for it. */
		if (x->status == OUSB_OK && x->actual >= 4 && ostori_get_be16(s->st + 2) == s->tag) {
			e->stats.uas_stale_ius++;
			ostor_dbg(e->dev->ctx, "%s: uas tag %u: dropped IU %02xh of a command given up",
				  e->dev->spec, s->tag, s->st[0]);
			if (s->st[0] == IU_SENSE || s->st[0] == IU_RESPONSE)
				s->status_done = true;
		}
		pump(u);
		pthread_mutex_unlock(&e->lock);
		return;
	}
	switch (x->status) {
	case OUSB_OK:
		/* Something came: drop it and look again. */
		if (x->actual >= 4 && ostori_get_be16(s->st + 2) == s->tag) {
			e->stats.uas_stale_ius++;
			ostor_dbg(e->dev->ctx, "%s: uas tag %u: dropped IU %02xh of a command that had ended",
				  e->dev->spec, s->tag, s->st[0]);
		} else {
			e->stats.uas_bad_tags++;
			ostor_dbg(e->dev->ctx, "%s: uas tag %u: dropped a %zu-byte IU (tag %u) found by the sweep",
				  e->dev->spec, s->tag, x->actual, x->actual >= 4 ? ostori_get_be16(s->st + 2) : 0);
		}
		if (s->sweeps >= SWEEP_ROUNDS) {
			ostor_warn(e->dev->ctx, "%s: uas: tag %u keeps getting IUs for no command; resetting the port",
				   e->dev->spec, s->tag);
			u->want_port = true;
		}
		break;
	case OUSB_TIMEOUT:
		s->stale = false;   /* nothing was left: the tag is clean */
		break;
	case OUSB_STALL:
	case OUSB_BABBLE:
		u->clear_pending |= 1u << P_STATUS;
		break;
	case OUSB_CANCELLED:
		break;              /* a port reset or the close: it says */
	default:
		if (!e->gone) {
			ostor_warn(e->dev->ctx, "%s: uas: the status read of quarantined tag %u failed (%s); "
				   "resetting the port", e->dev->spec, s->tag, ousb_status_name(x->status));
			u->want_port = true;
		}
		break;
	}
	pump(u);
	pthread_mutex_unlock(&e->lock);
}

/* A status read of s's tag; false (a port reset wanted) when refused. */
static bool sweep_put(struct ousb_uas *u, struct uas_slot *s)
{
	if (!s->used)
		s->sweeps++;
	s->sweep_busy = true;
	if (put(u, &s->x_st, OUSB_BULK_IN, OUSB_PIPE_STATUS, s->tag, s->st, sizeof(s->st), SWEEP_MS, sweep_done, s))
		return true;
	s->sweep_busy = false;
	if (!E(u)->gone)
		u->want_port = true;
	return false;
}

/* A status read of each quarantined tag not being read. */
static void sweep(struct ousb_uas *u)
{
	for (unsigned int i = 0; i < u->depth; i++) {
		struct uas_slot *s = &u->slots[i];

		if (!s->stale || s->used || s->sweep_busy)
			continue;
		if (!sweep_put(u, s))
			return;
	}
}

static void unquarantine_all(struct ousb_uas *u)
{
	for (unsigned int i = 0; i < u->depth; i++)
		u->slots[i].stale = false;
}

/* Move recovery on, then start waiting commands when there is none. */
static void pump(struct ousb_uas *u)
{
	struct ousb_engine *e = E(u);

	if (u->rec != REC_NONE)
		return;
	if (e->gone || e->dead) {
		/* Nothing more goes out: what is parked ends here. */
		u->want_port = u->want_nexus = false;
		memset(u->want_lun, 0, sizeof(u->want_lun));
		u->clear_pending = 0;
		settle(u, true, 0, OSTOR_RESULT_DEVICE_GONE);
		unquarantine_all(u);
		fail_queue(e, OSTOR_RESULT_DEVICE_GONE);
		goto op;
	}
	/* A sweep's status read would take the IU task management waits
	 * for (without streams there is one status pipe): sweeps first,
	 * they are short. */
	if (sweeps_busy(u) && (u->want_port || u->want_nexus || recovery_wanted_lun(u) || any_abort_wanted(u)))
		return;
	if (u->want_port) {
		doom(u, true, 0);
		if (any_busy(u, true, 0) || u->tmf_busy)
			return;
		u->rec = REC_PORT;
		u->rec_busy = true;
		ostor_warn(e->dev->ctx, "%s: uas: resetting the port", e->dev->spec);
		if (!put(u, &u->x_rec, OUSB_PORT_RESET, OUSB_PIPE_DATA, 0, NULL, 0, e->cfg.timeout_ms,
			 rec_xfer_done, u)) {
			ostor_err(e->dev->ctx, "%s: uas: the port reset could not be started; the device is "
				  "dead: unplug and replug it", e->dev->spec);
			u->rec_busy = false;
			u->rec = REC_NONE;
			u->want_port = false;
			e->dead = true;
			/* Dead: the commands queued behind end too, and a
			 * synchronous reset learns the outcome (nothing else
			 * would come back here to do it). */
			pump(u);
		}
		return;
	}
	if (u->clear_pending) {
		static const enum ousb_pipe pipes[P_COUNT] = { OUSB_PIPE_COMMAND, OUSB_PIPE_STATUS, OUSB_PIPE_DATA,
							       OUSB_PIPE_DATA };
		int p = __builtin_ctz(u->clear_pending);

		u->clear_pending &= ~(1u << p);
		u->rec = REC_CLEAR;
		u->rec_busy = true;
		if (!put(u, &u->x_rec, p == P_CMD || p == P_DOUT ? OUSB_CLEAR_HALT_OUT : OUSB_CLEAR_HALT_IN, pipes[p],
			 0, NULL, 0, e->cfg.timeout_ms, rec_xfer_done, u)) {
			u->rec_busy = false;
			u->rec = REC_NONE;
			u->want_port = true;
			pump(u);
		}
		return;
	}
	for (uint32_t lun = 0; lun < 256; lun++) {
		if (!lun_wanted(u, lun))
			continue;
		doom(u, false, lun);
		if (any_busy(u, false, lun))
			return;
		u->want_lun[lun / 8] &= (uint8_t)~(1u << (lun % 8));
		tmf_start(u, TMF_LUN_RESET, lun, NULL);
		if (!u->tmf_busy)
			tmf_finish(u), pump(u);
		return;
	}
	if (u->want_nexus) {
		doom(u, true, 0);
		if (any_busy(u, true, 0))
			return;
		u->want_nexus = false;
		tmf_start(u, TMF_IT_NEXUS_RESET, 0, NULL);
		if (!u->tmf_busy)
			tmf_finish(u), pump(u);
		return;
	}
	for (unsigned int i = 0; i < u->depth; i++) {
		struct uas_slot *s = &u->slots[i];

		if (s->used && s->parked && s->need_abort && !s->doomed) {
			tmf_start(u, TMF_ABORT_TASK, s->lun, s);
			if (!u->tmf_busy)
				tmf_finish(u), pump(u);
			return;
		}
	}
	sweep(u);
	if (u->want_port) {
		pump(u);
		return;
	}
	start_next(u);
op:
	if (u->op_active && !u->op_done && !recovery_pending(u)) {
		u->op_done = true;
		u->op_result = e->gone ? OSTOR_ERROR_NO_DEVICE : e->dead ? OSTOR_ERROR_IO : u->op_escalated ? 1 : 0;
	}
}

/* ---- entry points ------------------------------------------------------------- */

size_t ousb_uas_xfers(struct ousb_engine *e, struct ousb_xfer **out, size_t n, size_t max)
{
	struct ousb_uas *u = e->uas;
	struct ousb_xfer *own[] = { &u->x_tmf, &u->x_tmf_st, &u->x_rec };

	for (unsigned int i = 0; i < u->depth; i++) {
		struct ousb_xfer *xs[] = { &u->slots[i].x_cmd, &u->slots[i].x_st, &u->slots[i].x_data };

		for (size_t k = 0; k < OSTOR_ARRAY_SIZE(xs); k++, n++)
			if (n < max)
				out[n] = xs[k];
	}
	for (size_t k = 0; k < OSTOR_ARRAY_SIZE(own); k++, n++)
		if (n < max)
			out[n] = own[k];
	return n;
}

int ousb_uas_new(struct ousb_engine *e)
{
	struct ousb_uas *u = calloc(1, sizeof(*u));

	if (!u)
		return ostori_error(OSTOR_ERROR_NO_MEM, "out of memory");
	u->e = e;
	u->streams = e->cfg.streams > 1;
	/* Streams: one tag per stream, the last one for task management
	 * (its Response IU comes on that stream).  Without: one command at
	 * a time. */
	u->depth = u->streams ? OSTOR_MIN(e->cfg.streams - 1, (unsigned int)UAS_MAX_DEPTH) : 1;
	if (e->one_at_a_time)
		u->depth = 1;
	u->tmf_tag = (uint16_t)(u->depth + 1);
	u->slots = calloc(u->depth, sizeof(*u->slots));
	if (!u->slots) {
		free(u);
		return ostori_error(OSTOR_ERROR_NO_MEM, "out of memory");
	}
	for (unsigned int i = 0; i < u->depth; i++) {
		u->slots[i].u = u;
		u->slots[i].tag = (uint16_t)(i + 1);
	}
	e->uas = u;
	e->dev->abort_is_reset = false;   /* ABORT TASK exists */
	return 0;
}

static bool engine_busy(struct ousb_uas *u)
{
	if (u->tmf_busy || u->rec_busy)
		return true;
	for (unsigned int i = 0; i < u->depth; i++)
		if (u->slots[i].busy || u->slots[i].sweep_busy)
			return true;
	return false;
}

void ousb_uas_free(struct ousb_engine *e)
{
	struct ousb_uas *u = e->uas;
	uint64_t deadline;

	if (!u)
		return;
	pthread_mutex_lock(&e->lock);
	for (unsigned int i = 0; i < u->depth; i++) {
		slot_cancel_all(&u->slots[i]);
		if (u->slots[i].sweep_busy)
			e->ops->cancel(e->layer, &u->slots[i].x_st);
	}
	if (u->tmf_busy & B_CMD)
		e->ops->cancel(e->layer, &u->x_tmf);
	if (u->tmf_busy & B_ST)
		e->ops->cancel(e->layer, &u->x_tmf_st);
	if (u->rec_busy)
		e->ops->cancel(e->layer, &u->x_rec);
	pthread_mutex_unlock(&e->lock);
	/* The layer hands every transfer back before they are freed. */
	deadline = ostori_now_ms() + 10000;
	for (;;) {
		bool busy;

		pthread_mutex_lock(&e->lock);
		busy = engine_busy(u);
		pthread_mutex_unlock(&e->lock);
		if (!busy || ostori_now_ms() > deadline)
			break;
		e->ops->events(e->layer, 20);
	}
	for (unsigned int i = 0; i < u->depth; i++)
		free(u->slots[i].bounce);
	free(u->slots);
	free(u);
	e->uas = NULL;
}

/* Run the layer until done() holds (checked under the lock), bounded. */
static bool wait_for(struct ousb_engine *e, bool (*done)(struct ousb_uas *), unsigned int budget_ms)
{
	uint64_t deadline = ostori_now_ms() + budget_ms;

	for (;;) {
		bool d;

		pthread_mutex_lock(&e->lock);
		d = done(e->uas);
		pthread_mutex_unlock(&e->lock);
		if (d)
			return true;
		if (ostori_now_ms() > deadline)
			return false;
		e->ops->events(e->layer, 20);
	}
}

static bool probe_finished(struct ousb_uas *u)
{
	return u->probe_done;
}

static void drain_done(struct ousb_xfer *x)
{
	struct ousb_uas *u = x->user;
	struct ousb_engine *e = E(u);

	pthread_mutex_lock(&e->lock);
	note_gone(e, x);
	u->drain_busy--;
	if (x->status == OUSB_OK && x->actual)
		u->drained++;
	pthread_mutex_unlock(&e->lock);
}

static bool drain_finished(struct ousb_uas *u)
{
	return !u->drain_busy;
}

/* Status IUs a previous owner left on the device (the kernel's driver
 * unbound, a process killed with commands out) would be taken for ours:
 * read every stream's once, briefly, and drop what comes. */
static void drain_stale(struct ousb_engine *e)
{
	struct ousb_uas *u = e->uas;
	unsigned int rounds = u->streams ? 1 : 8;

	for (unsigned int r = 0; r < rounds; r++) {
		unsigned int before;

		pthread_mutex_lock(&e->lock);
		before = u->drained;
		for (unsigned int i = 0; i <= u->depth; i++) {
			struct ousb_xfer *x = i < u->depth ? &u->slots[i].x_st : &u->x_tmf_st;
			uint8_t *buf = i < u->depth ? u->slots[i].st : u->tmf_st;
			uint16_t tag = i < u->depth ? u->slots[i].tag : u->tmf_tag;

			if (!u->streams && i)
				break;
			u->drain_busy++;
			if (!put(u, x, OUSB_BULK_IN, OUSB_PIPE_STATUS, tag, buf, STATUS_BUF, 50, drain_done, u))
				u->drain_busy--;
		}
		pthread_mutex_unlock(&e->lock);
		wait_for(e, drain_finished, 5000);
		pthread_mutex_lock(&e->lock);
		if (u->drain_busy || u->drained == before || e->gone) {
			pthread_mutex_unlock(&e->lock);
			break;
		}
		pthread_mutex_unlock(&e->lock);
	}
	if (u->drained)
		ostor_info(e->dev->ctx, "%s: uas: dropped %u status IU(s) a previous owner left", e->dev->spec,
			   u->drained);
}

/* REPORT LUNS on LUN 0 (there is no Get Max LUN): the highest LUN the
 * device lists, 0 when it lists none or fails. */
int ousb_uas_probe(struct ousb_engine *e)
{
	struct ousb_uas *u = e->uas;
	const struct ostori_usb_config *uc = ostori_usb_config(&e->dev->ctx->config);
	uint32_t max = 0;

	e->max_lun = 0;
	drain_stale(e);
	if ((e->cfg.quirks.flags & OUSB_Q_SINGLE_LUN) || !uc->multi_lun_support)
		return 0;
	for (int attempt = 0; attempt < 3; attempt++) {
		struct uas_slot *s;

		pthread_mutex_lock(&e->lock);
		u->probe_done = false;
		s = free_slot(u);
		if (!s || e->gone) {
			pthread_mutex_unlock(&e->lock);
			break;
		}
		s->task = NULL;
		s->lun = 0;
		s->dir = OSTOR_DIR_FROM_DEVICE;
		s->buf = u->rl;
		s->len = sizeof(u->rl);
		s->timeout_ms = OSTOR_MIN(e->cfg.timeout_ms, 5000u);
		memset(u->rl, 0, sizeof(u->rl));
		slot_start(s);
		pump(u);
		pthread_mutex_unlock(&e->lock);
		if (!wait_for(e, probe_finished, 4 * s->timeout_ms + 2000))
			break;
		if (u->probe_res == OSTOR_RESULT_GOOD && u->probe_len >= 8) {
			size_t list = ostori_get_be32(u->rl);
			size_t n = OSTOR_MIN(list, u->probe_len - 8) / 8;

			for (size_t i = 0; i < n; i++) {
				const uint8_t *p = u->rl + 8 + 8 * i;
				uint32_t lun;

				if ((p[0] & 0xc0) == 0x00 && p[0] == 0)
					lun = p[1];
				else if ((p[0] & 0xc0) == 0x40)
					lun = ((uint32_t)(p[0] & 0x3f) << 8) | p[1];
				else
					continue;   /* other addressing: not ours to guess */
				if (lun > max && lun < 256)
					max = lun;
			}
			break;
		}
		if (u->probe_res != OSTOR_RESULT_CHECK_CONDITION)
			break;
	}
	if (uc->storage_device_max_luns && max >= uc->storage_device_max_luns)
		max = uc->storage_device_max_luns - 1;
	e->max_lun = (uint8_t)max;
	ostor_dbg(e->dev->ctx, "%s: uas: REPORT LUNS -> max LUN %u", e->dev->spec, e->max_lun);
	return e->gone ? OSTOR_ERROR_NO_DEVICE : 0;
}

int ousb_uas_submit(struct ousb_engine *e, ostor_task *t)
{
	struct ousb_uas *u = e->uas;
	int r = 0;

	if (t->cdb_len > 16)
		return ostori_error(OSTOR_ERROR_INVALID_PARAM, "%s: this UAS driver carries CDBs of at most 16 "
				    "bytes (got %u)", e->dev->spec, t->cdb_len);
	if (t->iovcnt > 1 && t->data_len > e->bounce_len)
		return ostori_error(OSTOR_ERROR_INVALID_PARAM,
				    "%s: a scattered buffer of %zu bytes exceeds the %zu-byte transfer limit; "
				    "split the command or pass one buffer", e->dev->spec, t->data_len, e->bounce_len);
	if (t->data_len > UINT32_MAX)
		return ostori_error(OSTOR_ERROR_INVALID_PARAM, "%s: more than 4 GiB in one command", e->dev->spec);
	if (t->lun > 255)
		return ostori_error(OSTOR_ERROR_NOT_FOUND, "%s: no LUN %u: this UAS driver addresses LUNs 0 "
				    "to 255", e->dev->spec, t->lun);
	if (t->target != e->cfg.target) {
		ostori_task_finish(t, OSTOR_RESULT_TRANSPORT_ERROR, -1, NULL, 0, 0);
		return 0;
	}
	r = ousb_lock_awake(e);
	if (r == 0 && e->qlen == e->qcap) {
		r = OSTORI_SUBMIT_FULL;
	} else if (r == 0) {
		e->q[(e->qhead + e->qlen) % e->qcap] = t;
		e->qlen++;
		if (e->qlen + u->inflight > e->stats.queued_max)
			e->stats.queued_max = e->qlen + u->inflight;
		start_next(u);
	}
	pthread_mutex_unlock(&e->lock);
	return r;
}

int ousb_uas_cancel(struct ousb_engine *e, ostor_task *t)
{
	struct ousb_uas *u = e->uas;

	pthread_mutex_lock(&e->lock);
	if (ousb_dequeue_aborted(e, t)) {
		pthread_mutex_unlock(&e->lock);
		return 0;
	}
	for (unsigned int i = 0; i < u->depth; i++) {
		struct uas_slot *s = &u->slots[i];

		if (s->used && s->task == t && !s->cancelled) {
			/* On the device: pull its transfers, then ABORT TASK. */
			s->cancelled = true;
			slot_fail(s, OSTOR_RESULT_ABORTED, true, "cancelled");
			pump(u);
			break;
		}
	}
	pthread_mutex_unlock(&e->lock);
	return 0;
}

bool ousb_uas_is_idle(struct ousb_engine *e)
{
	struct ousb_uas *u = e->uas;
	bool r;

	pthread_mutex_lock(&e->lock);
	r = !u->inflight && !e->qlen && !recovery_pending(u) && !engine_busy(u);
	pthread_mutex_unlock(&e->lock);
	return r;
}

/* With e->lock held: the device was unplugged. */
void ousb_uas_gone(struct ousb_engine *e)
{
	struct ousb_uas *u = e->uas;

	for (unsigned int i = 0; i < u->depth; i++) {
		struct uas_slot *s = &u->slots[i];

		if (s->used)
			slot_fail(s, OSTOR_RESULT_DEVICE_GONE, false, "the device is gone");
	}
	if (u->tmf_busy & B_CMD)
		e->ops->cancel(e->layer, &u->x_tmf);
	if (u->tmf_busy & B_ST)
		e->ops->cancel(e->layer, &u->x_tmf_st);
	pump(u);
	fail_queue(e, OSTOR_RESULT_DEVICE_GONE);
}

static bool op_finished(struct ousb_uas *u)
{
	return u->op_done;
}

int ousb_uas_reset(struct ousb_engine *e, enum ostor_reset_level level, uint32_t lun)
{
	struct ousb_uas *u = e->uas;
	int r;

	if (!u)
		return ostori_error(OSTOR_ERROR_NOT_SUPPORTED, "%s: not a UAS interface", e->dev->spec);
	if (level == OSTOR_RESET_LUN && lun > 255)
		return ostori_error(OSTOR_ERROR_NOT_FOUND, "%s: no LUN %u", e->dev->spec, lun);
	pthread_mutex_lock(&e->lock);
	while (e->suspend && ousb_suspend_allowed(e->suspend) && !e->gone) {
		pthread_mutex_unlock(&e->lock);
		ousb_suspend_wake(e->suspend);
		pthread_mutex_lock(&e->lock);
	}
	if (e->gone) {
		pthread_mutex_unlock(&e->lock);
		return ostori_error(OSTOR_ERROR_NO_DEVICE, "%s: the device was unplugged", e->dev->spec);
	}
	if (u->op_active) {
		pthread_mutex_unlock(&e->lock);
		return ostori_error(OSTOR_ERROR_BUSY, "%s: another reset is running", e->dev->spec);
	}
	u->op_active = true;
	u->op_done = false;
	u->op_escalated = false;
	u->op_level = level;
	e->dead = false;   /* an explicit reset is a fresh attempt */
	if (level == OSTOR_RESET_LUN)
		u->want_lun[lun / 8] |= (uint8_t)(1u << (lun % 8));
	else if (level == OSTOR_RESET_TARGET)
		u->want_nexus = true;
	else
		u->want_port = true;
	pump(u);
	pthread_mutex_unlock(&e->lock);
	if (!wait_for(e, op_finished, 6 * e->cfg.timeout_ms + 5000)) {
		pthread_mutex_lock(&e->lock);
		u->op_active = false;
		pthread_mutex_unlock(&e->lock);
		return ostori_error(OSTOR_ERROR_TIMEOUT, "%s: the reset did not finish; unplug and replug the "
				    "device", e->dev->spec);
	}
	pthread_mutex_lock(&e->lock);
	r = u->op_result;
	u->op_active = false;
	pthread_mutex_unlock(&e->lock);
	if (r == OSTOR_ERROR_NO_DEVICE)
		return ostori_error(r, "%s: the device was unplugged", e->dev->spec);
	if (r < 0)
		return ostori_error(r, "%s: the reset failed; the device is marked dead (unplug and replug it)",
				    e->dev->spec);
	return r;
}

void ousb_uas_tuning(struct ousb_engine *e, struct ostori_setting *out, int max, int *n)
{
	struct ousb_uas *u = e->uas;

	ostori_setting_add(out, max, n, "uas_streams", u->streams ? "bulk streams the host allocated"
			   : "no streams below SuperSpeed", "%u", u->streams ? e->cfg.streams : 0);
	ostori_setting_add(out, max, n, "uas_queue_depth",
			   e->one_at_a_time ? "[usb_storage] async_io_enabled / storage_device_async_enabled"
			   : u->streams ? "streams less the task-management tag (at most 64)"
			   : "one command at a time without streams", "%u", u->depth);
}
