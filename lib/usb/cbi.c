/*
 * lib/usb/cbi.c - the Control/Bulk/Interrupt transports (CBI 1.1): the
 * command block sent by ADSC, the data phase, and the status from the
 * interrupt pipe (CBI; UFI's interrupt data is ASC/ASCQ) or, without one
 * (CB), from an automatic REQUEST SENSE.
 *
 * Runs with the engine lock held: ousb_cb_start from engine.c puts a
 * command on the wire, and every transfer completion comes back to
 * ousb_cb_advance through the dispatch of engine.c.
 */
#include "usb/engine_priv.h"

#include <stdlib.h>
#include <string.h>

/* The most a CB/CBI data-in overrun is read on to get to the status. */
#define OUSB_DRAIN_MAX (1u << 20)

/* ---- CB / CBI ------------------------------------------------------------ */

static bool cbi_status_ignored(const struct ousb_engine *e)
{
	/* UFI: the interrupt data is ASC/ASCQ, meaningless for these. */
	return e->cfg.subclass == OUSB_SC_UFI && (e->cmd.cdb[0] == 0x12 || e->cmd.cdb[0] == 0x03);
}

void ousb_cb_start(struct ousb_engine *e)
{
	struct wire_cmd *c = &e->cmd;
	size_t n = c->cdb_len;

	e->overrun = false;
	memset(e->adsc, 0, sizeof(e->adsc));
	memcpy(e->adsc, c->cdb, c->cdb_len);
	if (is_ufi_like(e))
		n = 12;   /* fixed 12-byte packets */
	e->stage = S_CB_ADSC;
	ousb_setup(&e->x_ctrl, 0x21, OUSB_REQ_ADSC, 0, e->cfg.interface, (uint16_t)n);
	ousb_submit(e, &e->x_ctrl, OUSB_CONTROL, e->adsc, n, e->cfg.timeout_ms);
	ousb_advance(e);
}

static void cb_after_data(struct ousb_engine *e)
{
	struct wire_cmd *c = &e->cmd;

	if (e->cfg.protocol == OUSB_PR_CBI) {
		e->stage = S_CB_INTR;
		memset(e->intr, 0, sizeof(e->intr));
		ousb_submit(e, &e->x_intr, OUSB_INTR_IN, e->intr, 2, c->timeout_ms);
		return;
	}
	/* CB has no status phase: the command passed as far as the bus can
	 * tell; a REQUEST SENSE tells the rest (except for reads, whose
	 * data already proves them, as the kernel does). */
	if (c->is_sense || c->dir == OSTOR_DIR_FROM_DEVICE) {
		ousb_wire_done(e, (struct outcome){ .res = e->overrun ? OSTOR_RESULT_OVERRUN : OSTOR_RESULT_GOOD,
						    .status = e->overrun ? -1 : 0, .transferred = e->data_actual });
		return;
	}
	e->out = (struct outcome){ .res = OSTOR_RESULT_GOOD, .status = 0, .transferred = e->data_actual };
	e->sense_len = 0;
	ousb_start_sense(e);
}

/* The buffer filled and the CDB asks for more: read the rest into the
 * drain buffer (the device only sends its status once its data is out).
 * Returns true when a drain was started. */
static bool start_drain(struct ousb_engine *e)
{
	struct wire_cmd *c = &e->cmd;
	size_t want = ousb_cdb_alloc_len(c->cdb, c->cdb_len), more;

	if (c->is_sense || c->dir != OSTOR_DIR_FROM_DEVICE || !c->len || e->data_actual != c->len || want <= c->len)
		return false;
	more = want - c->len;
	if (more > OUSB_DRAIN_MAX)
		return false;
	if (e->drain_len < more) {
		uint8_t *p = realloc(e->drain, more);

		if (!p)
			return false;
		e->drain = p;
		e->drain_len = more;
	}
	e->overrun = true;
	e->stage = S_CB_DRAIN;
	ousb_submit(e, &e->x_in, OUSB_BULK_IN, e->drain, more, c->timeout_ms);
	return true;
}

void ousb_cb_advance(struct ousb_engine *e)
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
				ousb_wire_done(e, o);
				return;
			}
			if (e->x_ctrl.status != OUSB_OK) {
				ousb_fail(e, ousb_result_of(e->x_ctrl.status), true, "ADSC failed");
				return;
			}
			if (c->len && c->dir != OSTOR_DIR_NONE) {
				e->stage = S_CB_DATA;
				if (c->dir == OSTOR_DIR_FROM_DEVICE)
					ousb_submit(e, &e->x_in, OUSB_BULK_IN, c->buf, c->len, c->timeout_ms);
				else
					ousb_submit(e, &e->x_out, OUSB_BULK_OUT, c->buf, c->len, c->timeout_ms);
				continue;
			}
			cb_after_data(e);
			continue;
		case S_CB_DATA: {
			struct ousb_xfer *x = c->dir == OSTOR_DIR_FROM_DEVICE ? &e->x_in : &e->x_out;

			if (e->busy & (X_IN | X_OUT))
				return;
			e->data_actual = x->actual;
			if (x->status == OUSB_OK && start_drain(e))
				continue;
			if (x->status == OUSB_OK) {
				cb_after_data(e);
				continue;
			}
			if (x->status == OUSB_STALL) {
				e->data_stalled = true;
				e->stats.clear_halts++;
				e->stage = S_CB_CLEAR;
				ousb_submit(e, &e->x_op, c->dir == OSTOR_DIR_FROM_DEVICE ? OUSB_CLEAR_HALT_IN
							: OUSB_CLEAR_HALT_OUT, NULL, 0, e->cfg.timeout_ms);
				continue;
			}
			ousb_fail(e, ousb_result_of(x->status), true, "data transfer failed");
			return;
		}
		case S_CB_DRAIN:
			/* Whatever the drain got, the status comes next. */
			if (e->busy & X_IN)
				return;
			cb_after_data(e);
			continue;
		case S_CB_CLEAR:
			if (e->busy & X_OP)
				return;
			if (e->x_op.status != OUSB_OK) {
				ousb_fail(e, ousb_result_of(e->x_op.status), true, "CLEAR_FEATURE(HALT) failed");
				return;
			}
			/* A stalled data phase is a failed command (the
			 * kernel does not wait for the status either). */
			o.res = c->is_sense ? OSTOR_RESULT_TRANSPORT_ERROR : OSTOR_RESULT_CHECK_CONDITION;
			o.status = 2;
			o.sense = true;
			o.transferred = e->data_actual;
			/* Many devices stall when they have less data than the
			 * host asked for: the sense tells (NO SENSE: it was
			 * only short, as Bulk-Only reports with a residue). */
			o.short_data = c->dir == OSTOR_DIR_FROM_DEVICE && e->data_actual < c->len;
			ousb_wire_done(e, o);
			return;
		case S_CB_INTR: {
			uint8_t type, value;

			if (e->busy & X_INTR)
				return;
			if (e->x_intr.status != OUSB_OK || e->x_intr.actual < 2) {
				ousb_fail(e, e->x_intr.status == OUSB_OK ? OSTOR_RESULT_TRANSPORT_ERROR
					  : ousb_result_of(e->x_intr.status), true,
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
				ousb_wire_done(e, o);
				return;
			}
			if (type != 0 || (value & 3) == 2) {
				e->stats.phase_errors++;
				ousb_fail(e, OSTOR_RESULT_TRANSPORT_ERROR, true,
					  type ? "interrupt status bType is not 0" : "CBI phase error");
				return;
			}
			if (((value & 3) == 0 || c->is_sense) && e->overrun) {
				o.res = OSTOR_RESULT_OVERRUN;
			} else if ((value & 3) == 0 || c->is_sense) {
				o.res = OSTOR_RESULT_GOOD;
				o.status = 0;
			} else {
				/* 1 failed, 3 persistent failure: ask why. */
				o.res = OSTOR_RESULT_CHECK_CONDITION;
				o.status = 2;
				o.sense = true;
			}
			ousb_wire_done(e, o);
			return;
		}
		default:
			return;
		}
	}
}
