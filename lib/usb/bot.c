/*
 * lib/usb/bot.c - the Bulk-Only Transport (BOT 1.0): CBW, data phase and
 * CSW, the data-in and CSW reads pipelined, the rescue of a CSW read the
 * device lost, stalls cleared, and the CSW judged (valid: size,
 * signature, tag; meaningful: status, residue).
 *
 * Runs with the engine lock held: ousb_bot_start from engine.c puts a
 * command on the wire, and every transfer completion comes back to
 * ousb_bot_advance through the dispatch of engine.c.
 */
#include "usb/engine_priv.h"
#include "util/byteorder.h"

#include <string.h>

/* ---- Bulk-Only ---------------------------------------------------------- */

/* The data phase: one transfer, or one per member of a merged command
 * queued back to back (merge.c). */
static void bot_submit_data(struct ousb_engine *e, struct ousb_xfer *x, enum ousb_kind kind)
{
	struct wire_cmd *c = &e->cmd;

	if (!ousb_cmd_merged(e)) {
		ousb_submit(e, x, kind, c->buf, c->len, c->timeout_ms);
		return;
	}
	ousb_submit(e, x, kind, c->buf, e->mg.member[0]->data_len, c->timeout_ms);
	ousb_merge_submit_rest(e, kind);
}

/* Queue the data-in and CSW reads back to back: they complete in order
 * on the bulk-in pipe, so the command costs one round trip less. */
static void bot_pipeline_reads(struct ousb_engine *e)
{
	struct wire_cmd *c = &e->cmd;

	if (c->dir == OSTOR_DIR_FROM_DEVICE && c->len && !(e->submitted & X_IN))
		bot_submit_data(e, &e->x_in, OUSB_BULK_IN);
	if (e->csw_after_data && c->dir == OSTOR_DIR_FROM_DEVICE && c->len)
		return;
	if ((c->dir != OSTOR_DIR_TO_DEVICE || !c->len) && !(e->submitted & X_CSW)) {
		ousb_submit(e, &e->x_csw, OUSB_BULK_IN, e->csw, OUSB_CSW_LEN, c->timeout_ms);
		e->stats.pipelined_csws++;
	}
}

void ousb_bot_start(struct ousb_engine *e)
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
	/* Alone on the wire and small: each phase one blocking call (no
	 * pipelining: the phases follow each other anyway). */
	e->blocking = e->block_ok && ousb_waiting(e) == 0 && !ousb_cmd_merged(e) && c->len <= OUSB_BLOCK_MAX &&
		      e->ops->can_block(e->layer);
	if (e->blocking)
		e->stats.blocking_commands++;
	e->stage = S_BOT_CBW;
	ousb_submit(e, &e->x_out, OUSB_BULK_OUT, e->cbw, OUSB_CBW_LEN, e->cfg.timeout_ms);
	if (e->pipeline && e->pipeline_cbw && !e->blocking && !ousb_cmd_merged(e)) {
		bot_pipeline_reads(e);
		e->in_with_cbw = (e->submitted & X_IN) != 0;
		e->csw_with_cbw = !e->in_with_cbw && (e->submitted & X_CSW);
	}
	ousb_advance(e);
}

static bool looks_like_csw(struct ousb_engine *e, const uint8_t *p, size_t n)
{
	return n == OUSB_CSW_LEN && ostori_get_le32(p) == OUSB_CSW_SIG && ostori_get_le32(p + 4) == e->tag;
}

/* A data-in read brought the CSW at p (the device skipped the rest of the
 * data phase): the data is what came before it; judge the CSW. */
static void bot_take_csw_from_data(struct ousb_engine *e, const uint8_t *p)
{
	e->stats.csw_in_data++;
	memcpy(e->csw, p, OUSB_CSW_LEN);
	e->data_actual = e->in_prefix;
	e->csw_from_data = true;
	e->stage = S_BOT_CSW_FROM_DATA;
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
	ousb_submit(e, &e->x_tmr, OUSB_WAIT, NULL, 0, e->cfg.csw_grace_ms);
}

static void bot_submit_csw(struct ousb_engine *e)
{
	e->stage = S_BOT_CSW;
	if (!(e->submitted & X_CSW) || e->after_clear_csw) {
		e->after_clear_csw = false;
		ousb_submit(e, &e->x_csw, OUSB_BULK_IN, e->csw, OUSB_CSW_LEN, e->cmd.timeout_ms);
	}
}

static void bot_clear(struct ousb_engine *e, bool in)
{
	e->stats.clear_halts++;
	e->stage = S_BOT_CLEAR;
	e->after_clear_csw = true;
	ousb_submit(e, &e->x_op, in ? OUSB_CLEAR_HALT_IN : OUSB_CLEAR_HALT_OUT, NULL, 0, e->cfg.timeout_ms);
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
		ousb_wire_done(e, o);
		return;
	}
	residue = ostori_get_le32(p + 8);
	status = p[12];
	if (status == 2) {
		/* Phase error: the residue means nothing.  After a data-in
		 * phase that filled a buffer smaller than the command's own
		 * allocation length, it is the device having more than the
		 * host asked for (BOT case 7, Hi < Di): an overrun, with what
		 * arrived, as on the other transports. */
		e->stats.phase_errors++;
		if (!c->is_sense && c->dir == OSTOR_DIR_FROM_DEVICE && c->len && e->data_actual == c->len &&
		    !e->babble && ousb_cdb_alloc_len(c->cdb, c->cdb_len) > c->len) {
			ostor_dbg(e->dev->ctx, "%s: command %02xh had more data than the %zu-byte buffer",
				  e->dev->spec, c->cdb[0], c->len);
			o.res = OSTOR_RESULT_OVERRUN;
			o.transferred = e->data_actual;
		} else {
			ostor_warn(e->dev->ctx, "%s: phase error on command %02xh", e->dev->spec, c->cdb[0]);
			o.res = OSTOR_RESULT_TRANSPORT_ERROR;
		}
		o.recover = true;
		ousb_wire_done(e, o);
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
		ousb_wire_done(e, o);
		return;
	} else {
		moved = OSTOR_MIN(e->data_actual, c->len - residue);
	}
	if (e->babble) {
		/* The CSW is read so the pipe stays in step, but the data
		 * cannot be trusted. */
		o.res = OSTOR_RESULT_TRANSPORT_ERROR;
		ousb_wire_done(e, o);
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
	ousb_wire_done(e, o);
}

/* The device answered a read that reached it before its command block:
 * from now on such reads wait for the CBW. */
static void bot_early_answer(struct ousb_engine *e)
{
	e->stats.early_in_answers++;
	if (e->pipeline_cbw) {
		e->pipeline_cbw = false;
		ostor_info(e->dev->ctx, "%s: the device answered a read queued before its command block "
			   "(a stall or an empty packet); from now on reads wait for the command block",
			   e->dev->spec);
	}
}

/* The CSW read queued behind a stalled data read got the CSW: no data
 * came, judge the status. */
static void bot_take_early_csw(struct ousb_engine *e)
{
	e->reread = RR_DONE;
	e->in_with_cbw = false;
	e->data_actual = 0;
	e->stage = S_BOT_CSW_FROM_DATA;
}

/*
 * A data-in read queued with its CBW came back empty: stalled, or a
 * zero-length packet before the CBW went through.  A device may stall
 * such a read for good reason (no data: the CSW follows), but QEMU's
 * usb-storage stalls any IN that reaches it before the command, and a
 * device could answer one with a zero-length packet.  Either way the
 * next read on the pipe is safe: after clearing the halt, read the data
 * again - what comes is the data (the read was early: from now on it
 * waits for the CBW, on this device) or the CSW (a real stall, taken as a
 * CSW found in the data phase).  Into the bounce buffer when the data is
 * no longer than a CSW, so a CSW always fits.
 * Returns -1 to wait for a transfer, 1 when the stage moved on, 0 when
 * there is nothing to read again.
 */
static int bot_reread(struct ousb_engine *e)
{
	struct wire_cmd *c = &e->cmd;

	if (e->reread == RR_NONE && e->in_with_cbw && e->x_in.actual == 0 &&
	    (e->x_in.status == OUSB_STALL || (e->x_in.status == OUSB_OK && e->in_answered_early))) {
		e->reread = e->x_in.status == OUSB_STALL ? RR_CLEAR : RR_READ;
		e->after_clear_csw = true;   /* the queued CSW read goes; a new one follows the data */
	}
	if (e->reread != RR_CLEAR && e->reread != RR_READ)
		return 0;
	if (e->busy & X_CSW) {
		e->ops->cancel(e->layer, &e->x_csw);
		return -1;
	}
	/* The CSW read queued behind it may have been answered meanwhile
	 * (the stall ended only that one read: QEMU's usb-storage behind
	 * EHCI): a CSW - the stall was real, the status is in hand - or the
	 * start of the data.  That start stays in place and the read again
	 * goes after it (the device sends its data as one stream, whatever
	 * reads take it).  Never data out of place: what cannot be the
	 * start (an overflow, more than the command's buffer) fails the
	 * command with recovery.  Either way reads wait for the CBW from now
	 * on. */
	if (e->x_csw.actual || e->x_csw.status == OUSB_BABBLE) {
		bool whole = e->x_csw.status == OUSB_OK || e->x_csw.status == OUSB_CANCELLED;

		if (whole && e->x_csw.actual == OUSB_CSW_LEN && looks_like_csw(e, e->csw, OUSB_CSW_LEN)) {
			e->stats.csw_in_data++;
			if (e->reread == RR_CLEAR) {
				e->reread = RR_CSW;
				bot_clear(e, true);
				return 1;
			}
			bot_take_early_csw(e);
			return 1;
		}
		bot_early_answer(e);
		if (!whole || e->x_csw.actual > c->len) {
			e->reread = RR_DONE;
			e->in_with_cbw = false;
			ousb_fail(e, OSTOR_RESULT_TRANSPORT_ERROR, true,
				  "the data of a read queued before its command block went to the status read");
			return -1;
		}
		memcpy(c->buf, e->csw, e->x_csw.actual);
		e->in_prefix = e->x_csw.actual;
		e->x_csw.actual = 0;
		e->stats.early_data_in_status_read++;
	}
	if (e->reread == RR_CLEAR) {
		e->reread = RR_READ;
		bot_clear(e, true);
		return 1;
	}
	e->reread = RR_DONE;
	if (e->in_prefix == c->len) {
		/* The status read got all the data: the CSW is next. */
		e->in_with_cbw = false;
		e->data_actual = e->in_prefix;
		bot_submit_csw(e);
		return 1;
	}
	if (c->len - e->in_prefix <= OUSB_CSW_LEN)
		ousb_submit(e, &e->x_in, OUSB_BULK_IN, e->bounce, OUSB_CSW_LEN, c->timeout_ms);
	else
		ousb_submit(e, &e->x_in, OUSB_BULK_IN, c->buf + e->in_prefix, c->len - e->in_prefix,
			    c->timeout_ms);
	return 1;
}

/* What the read again brought (bot_reread): the data, or the CSW (true:
 * taken, the stage moved on). */
static bool bot_reread_done(struct ousb_engine *e)
{
	struct wire_cmd *c = &e->cmd;
	size_t rest = c->len - e->in_prefix;
	bool small = rest <= OUSB_CSW_LEN;
	uint8_t *at = c->buf + e->in_prefix;

	if (e->x_in.status != OUSB_OK || e->x_in.actual == 0)
		return false;
	if (e->x_in.actual == OUSB_CSW_LEN && looks_like_csw(e, small ? e->bounce : at, OUSB_CSW_LEN)) {
		if (!small)
			return false;   /* the data phase's own check takes it */
		bot_take_csw_from_data(e, e->bounce);
		return true;
	}
	if (small) {
		if (e->x_in.actual > rest) {
			e->x_in.status = OUSB_BABBLE;
			e->x_in.actual = rest;
		}
		memcpy(at, e->bounce, e->x_in.actual);
	}
	/* Data: the device answered a read that reached it before its
	 * command (counted already when its start went to the status
	 * read). */
	if (!e->in_prefix)
		bot_early_answer(e);
	return false;
}

/* The data transfer of member k of the merged command on the wire. */
static struct ousb_xfer *merged_xfer(struct ousb_engine *e, struct ousb_xfer *first, unsigned int k)
{
	return k ? &e->mg.x[k - 1] : first;
}

/*
 * A merged command's data phase ended early, and its transfers have
 * drained: finish it as Bulk-Only has it.  The data ran up to the first
 * transfer that came back short or stalled (a short one may be the CSW
 * itself: the device skipped the rest); after a short one the next bytes
 * on the pipe are the CSW (a later transfer, or the status read queued
 * behind, may hold it); after a stall the halt is cleared and the CSW
 * read.  Anything else there is not the protocol: recovery.  The CSW
 * is judged as any (a CHECK CONDITION fetches the sense), and the
 * members are sent again unless it covered all of them (merge.c).
 * False when it failed the command.
 */
static bool bot_merged_settle(struct ousb_engine *e, struct ousb_xfer *first, bool in)
{
	size_t moved = 0;
	bool ended = false, stalled = false;
	uint8_t *csw = NULL;

	for (unsigned int k = 0; k < e->mg.n; k++) {
		struct ousb_xfer *x = merged_xfer(e, first, k);

		if (!ended) {
			stalled = x->status == OUSB_STALL;
			ended = stalled || x->actual < e->mg.member[k]->data_len;
			if (in && !stalled && ended && looks_like_csw(e, x->buf, x->actual)) {
				/* The device skipped the rest of the data. */
				csw = x->buf;
				continue;
			}
			moved += x->actual;
			continue;
		}
		if (!x->actual)
			continue;
		if (in && !stalled && !csw && looks_like_csw(e, x->buf, x->actual)) {
			csw = x->buf;
			continue;
		}
		ousb_fail(e, OSTOR_RESULT_TRANSPORT_ERROR, true, "a merged data phase went on past its end");
		return false;
	}
	e->data_actual = moved;
	if (csw) {
		bot_take_csw_from_data(e, csw);
		e->data_actual = moved;
		memset(csw, 0, OUSB_CSW_LEN);
		return true;
	}
	if (in && e->x_csw.actual) {
		if (stalled || !looks_like_csw(e, e->csw, e->x_csw.actual)) {
			ousb_fail(e, OSTOR_RESULT_TRANSPORT_ERROR, true, "the status read of a merged command got data");
			return false;
		}
		e->stage = S_BOT_CSW_FROM_DATA;
		return true;
	}
	if (stalled) {
		e->data_stalled = true;
		bot_clear(e, in);
		return true;
	}
	e->after_clear_csw = true;   /* the queued status read was cancelled: a new one */
	bot_submit_csw(e);
	return true;
}

/* The data phase of a merged command: whole, the CSW is next (true, the
 * stage moved on); ended early, stop its other transfers and finish it
 * by the rules (bot_merged_settle); failed, recovery. */
static bool bot_merged_data_done(struct ousb_engine *e, struct ousb_xfer *first, unsigned int first_bit)
{
	enum ousb_status why = OUSB_OK;
	bool in = first_bit == X_IN;

	switch (ousb_merge_data(e, first, first_bit, &why)) {
	case MD_WAIT:
		return false;
	case MD_BROKEN:
		if (why != OUSB_OK && why != OUSB_STALL) {
			ousb_fail(e, why == OUSB_BABBLE ? OSTOR_RESULT_TRANSPORT_ERROR : ousb_result_of(why), true,
				  "a data transfer of a merged command failed");
			return false;
		}
		if (!e->mg.stopping) {
			e->mg.stopping = true;
			for (unsigned int k = 0; k < e->mg.n; k++) {
				struct ousb_xfer *x = merged_xfer(e, first, k);

				if (k ? e->mg.busy & (1u << (k - 1)) : e->busy & first_bit)
					e->ops->cancel(e->layer, x);
			}
			if (e->busy & X_CSW)
				e->ops->cancel(e->layer, &e->x_csw);
		}
		if (e->busy & (first_bit | X_MERGE | X_CSW))
			return false;
		return bot_merged_settle(e, first, in);
	default:
		e->data_actual = e->cmd.len;
		if (in)
			bot_arm_rescue(e);
		bot_submit_csw(e);
		return true;
	}
}

void ousb_bot_advance(struct ousb_engine *e)
{
	struct wire_cmd *c = &e->cmd;

	for (;;) {
		switch (e->stage) {
		case S_BOT_CBW:
			if (e->busy & X_OUT) {
				if (e->in_with_cbw && !(e->busy & X_IN))
					e->in_answered_early = true;
				/* A CSW read answered before the CBW: its stall
				 * (or empty packet) is recovered as any (the CSW
				 * is read again), but reads wait from now on. */
				if (e->csw_with_cbw && !(e->busy & X_CSW)) {
					e->csw_with_cbw = false;
					bot_early_answer(e);
				}
				return;
			}
			if (e->x_out.status != OUSB_OK || e->x_out.actual != OUSB_CBW_LEN) {
				ousb_fail(e, ousb_result_of(e->x_out.status), true, "CBW not accepted");
				return;
			}
			if (e->pipeline && !e->blocking)
				bot_pipeline_reads(e);
			if (c->dir == OSTOR_DIR_TO_DEVICE && c->len) {
				e->stage = S_BOT_DOUT;
				bot_submit_data(e, &e->x_out, OUSB_BULK_OUT);
			} else if (c->dir == OSTOR_DIR_FROM_DEVICE && c->len) {
				e->stage = S_BOT_DIN;
				if (!(e->submitted & X_IN))
					bot_submit_data(e, &e->x_in, OUSB_BULK_IN);
			} else {
				bot_submit_csw(e);
			}
			continue;
		case S_BOT_DIN:
			if (ousb_cmd_merged(e)) {
				if (bot_merged_data_done(e, &e->x_in, X_IN))
					continue;
				return;
			}
			if (e->busy & X_IN)
				return;
			switch (bot_reread(e)) {
			case -1: return;
			case 1: continue;
			default: break;
			}
			if (e->reread == RR_DONE && e->in_with_cbw) {
				e->in_with_cbw = false;
				if (bot_reread_done(e))
					continue;
			}
			e->data_actual = e->in_prefix + e->x_in.actual;
			switch (e->x_in.status) {
			case OUSB_OK:
				if (e->data_actual < c->len &&
				    looks_like_csw(e, c->buf + e->in_prefix, e->x_in.actual)) {
					/* The device skipped (the rest of) the
					 * data phase: take the CSW, leave no
					 * trace of it. */
					bot_take_csw_from_data(e, c->buf + e->in_prefix);
					memset(c->buf + e->in_prefix, 0, OUSB_CSW_LEN);
					if (e->busy & X_CSW)
						e->ops->cancel(e->layer, &e->x_csw);
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
				ousb_fail(e, ousb_result_of(e->x_in.status), true, "data-in transfer failed");
				return;
			}
		case S_BOT_DOUT:
			if (ousb_cmd_merged(e)) {
				if (bot_merged_data_done(e, &e->x_out, X_OUT))
					continue;
				return;
			}
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
			ousb_fail(e, ousb_result_of(e->x_out.status), true, "data-out transfer failed");
			return;
		case S_BOT_CLEAR:
			if (e->busy & (X_OP | X_CSW))
				return;
			if (e->x_op.status != OUSB_OK) {
				ousb_fail(e, ousb_result_of(e->x_op.status), true, "CLEAR_FEATURE(HALT) failed");
				return;
			}
			if (e->reread == RR_READ) {
				e->stage = S_BOT_DIN;
				continue;
			}
			if (e->reread == RR_CSW) {
				/* A real stall whose CSW came early: judge it. */
				bot_take_early_csw(e);
				continue;
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
				ousb_fail(e, OSTOR_RESULT_TRANSPORT_ERROR, true, "CSW read stalled twice");
				return;
			case OUSB_BABBLE:
				e->stats.csw_invalid++;
				ousb_fail(e, OSTOR_RESULT_TRANSPORT_ERROR, true, "CSW longer than 13 bytes");
				return;
			default:
				ousb_fail(e, ousb_result_of(e->x_csw.status), true, "CSW read failed");
				return;
			}
		default:
			return;
		}
	}
}
