/*
 * lib/usb/recovery.c - transport recovery after a command that left the
 * device in an unknown state (and the synchronous ousb_engine_reset):
 * Bulk-Only Reset Recovery (class reset, then CLEAR_FEATURE(HALT) of
 * bulk-in and bulk-out) or the CB/CBI Command Block Reset, escalating to
 * a port reset, then to a device marked dead.
 *
 * Runs with the engine lock held, every step on the completion of the
 * previous one (through the dispatch of engine.c).
 */
#include "usb/engine_priv.h"

#include <string.h>

/* ---- recovery ------------------------------------------------------------ */

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
	ousb_finish_task(e);
}

static void rec_port(struct ousb_engine *e)
{
	e->stats.port_resets++;
	e->stage = S_REC_PORT;
	ostor_warn(e->dev->ctx, "%s: resetting the USB port", e->dev->spec);
	ousb_submit(e, &e->x_op, OUSB_PORT_RESET, NULL, 0, e->cfg.timeout_ms);
}

void ousb_start_recovery(struct ousb_engine *e)
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
		ousb_advance(e);
		return;
	}
	e->stats.reset_recoveries++;
	e->stage = S_REC_RESET;
	if (e->cfg.protocol == OUSB_PR_BOT) {
		ousb_setup(&e->x_ctrl, 0x21, OUSB_REQ_BOMS_RESET, 0, e->cfg.interface, 0);
		ousb_submit(e, &e->x_ctrl, OUSB_CONTROL, NULL, 0, e->cfg.timeout_ms);
	} else {
		/* Command Block Reset: SEND DIAGNOSTIC 1D 04, padded with FFh. */
		memset(e->adsc, 0xff, 12);
		e->adsc[0] = 0x1d;
		e->adsc[1] = 0x04;
		ousb_setup(&e->x_ctrl, 0x21, OUSB_REQ_ADSC, 0, e->cfg.interface, 12);
		ousb_submit(e, &e->x_ctrl, OUSB_CONTROL, e->adsc, 12, e->cfg.timeout_ms);
	}
	ousb_advance(e);
}

void ousb_rec_advance(struct ousb_engine *e)
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
			ousb_submit(e, &e->x_op, OUSB_CLEAR_HALT_IN, NULL, 0, e->cfg.timeout_ms);
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
				ousb_submit(e, &e->x_op, OUSB_CLEAR_HALT_OUT, NULL, 0, e->cfg.timeout_ms);
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
