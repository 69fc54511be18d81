/*
 * lib/sim/power.c - the simulated target's power conditions (SPC-4 5.12,
 * SBC-3 4.20): START STOP UNIT with its POWER CONDITION field, the Power
 * Condition mode page (1Ah) and its timers, what REQUEST SENSE says about
 * the power condition (5Eh).
 *
 * States: active, idle_a/b/c, standby_y/z, each entered by command (START
 * STOP UNIT, ATA IDLE/STANDBY IMMEDIATE) or by a timer; "stopped" stays the
 * separate lu->started of SBC (START = 0), which media access does not
 * undo.  A media access command (dispatch flag F_MEDIA) brings an idle or
 * standby LU back to active.
 *
 * Timers do not fire on their own (the target has no thread): an enabled
 * timer that expired moves the LU to its condition when the next command
 * reaches the LU, which is all an initiator can observe.  A START STOP
 * UNIT power condition (ACTIVE, IDLE, STANDBY) stops the timers until
 * LU_CONTROL, FORCE_IDLE_0/FORCE_STANDBY_0 or a reset hands control back.
 * Without the page (power-page=no) there are no timers, but START STOP
 * UNIT power conditions still work (QEMU's scsi-hd accepts them too).
 *
 * Runs under the target mutex, as every command does; the lock-free way
 * of target_fast.h is off while the LU is not active or has a timer that
 * could fire (sim_power_fast_ok), since it neither wakes the LU nor
 * restarts the timers.
 *
 * Copyright (C) 2026 The liborionstor authors.  LGPL-2.1-or-later.
 */
#include "sim/target_priv.h"

#include <string.h>

#define POWER_PAGE_LEN 40u          /* page length 26h + 2 */

/* Timer slots in page order and the condition each one leads to; the
 * enable bit of each: byte 3 bits 1 (idle_a), 0 (standby_z), 2 (idle_b),
 * 3 (idle_c), byte 2 bit 0 (standby_y). */
enum { T_IDLE_A, T_STANDBY_Z, T_IDLE_B, T_IDLE_C, T_STANDBY_Y, T_COUNT };

static const enum sim_power timer_state[T_COUNT] = {
	SIM_POWER_IDLE_A, SIM_POWER_STANDBY_Z, SIM_POWER_IDLE_B, SIM_POWER_IDLE_C,
	SIM_POWER_STANDBY_Y,
};

static bool timer_enabled(const struct sim_power_page *pg, int i)
{
	static const uint8_t b3_bit[T_COUNT] = { 0x02, 0x01, 0x04, 0x08, 0 };

	return i == T_STANDBY_Y ? (pg->b2 & 0x01) : (pg->b3 & b3_bit[i]);
}

static const struct sim_power_page power_default = {
	.b2 = 0x00,
	.b3 = 0x00,                 /* every timer off: the LU stays active */
	/* 2 s, 15 min, 2 min, 10 min, 20 min */
	.timer = { 20, 9000, 1200, 6000, 12000 },
};

void sim_power_init(struct sim_lu *lu)
{
	lu->pcp = lu->pcp_saved = power_default;
	sim_power_reset(lu, ostori_now_ms());
}

/* Power on / reset: the saved page becomes current, the LU is active and
 * its timers run. */
void sim_power_reset(struct sim_lu *lu, uint64_t now_ms)
{
	lu->pcp = lu->pcp_saved;
	lu->power = SIM_POWER_ACTIVE;
	lu->power_by_timer = false;
	lu->timers_held = false;
	lu->active_ms = now_ms;
}

void sim_power_set(struct sim_lu *lu, enum sim_power p, bool by_timer)
{
	lu->power = p;
	lu->power_by_timer = p != SIM_POWER_ACTIVE && by_timer;
}

static bool timers_run(const struct sim_lu *lu)
{
	if (!lu->power_page || lu->timers_held || !lu->started)
		return false;
	for (int i = 0; i < T_COUNT; i++)
		if (timer_enabled(&lu->pcp, i))
			return true;
	return false;
}

/* Before a command reaches the LU: the deepest expired timer wins. */
void sim_power_tick(struct sim_lu *lu)
{
	static const int deepest_first[T_COUNT] = {
		T_STANDBY_Z, T_STANDBY_Y, T_IDLE_C, T_IDLE_B, T_IDLE_A,
	};
	uint64_t now_ms, elapsed;

	if (!timers_run(lu))
		return;
	now_ms = ostori_now_ms();
	elapsed = now_ms >= lu->active_ms ? now_ms - lu->active_ms : 0;
	for (int k = 0; k < T_COUNT; k++) {
		int i = deepest_first[k];

		if (!timer_enabled(&lu->pcp, i) || elapsed < (uint64_t)lu->pcp.timer[i] * 100u)
			continue;
		if (timer_state[i] > lu->power)
			sim_power_set(lu, timer_state[i], true);
		return;
	}
}

/* A command that needs the medium: active again, timers restart. */
void sim_power_access(struct sim_lu *lu, uint64_t now_ms)
{
	sim_power_set(lu, SIM_POWER_ACTIVE, false);
	lu->active_ms = now_ms;
}

bool sim_power_fast_ok(const struct sim_lu *lu)
{
	return lu->power == SIM_POWER_ACTIVE && !timers_run(lu);
}

/* REQUEST SENSE without anything else to report: the low power condition
 * (SPC-4 table of 5Eh ASCQs), NO SENSE. */
bool sim_power_sense(const struct sim_lu *lu, struct sim_sense *s)
{
	/* [state][by timer] */
	static const uint8_t ascq[][2] = {
		[SIM_POWER_IDLE_A] = { 0x03, 0x01 },
		[SIM_POWER_IDLE_B] = { 0x06, 0x05 },
		[SIM_POWER_IDLE_C] = { 0x08, 0x07 },
		[SIM_POWER_STANDBY_Y] = { 0x0a, 0x09 },
		[SIM_POWER_STANDBY_Z] = { 0x04, 0x02 },
	};

	if (lu->power == SIM_POWER_ACTIVE)
		return false;
	memset(s, 0, sizeof(*s));
	s->key = OSTOR_SCSI_SENSE_NO_SENSE;
	s->asc = ASC_LOW_POWER;
	s->ascq = ascq[lu->power][lu->power_by_timer];
	return true;
}

/* ---- mode page 1Ah ------------------------------------------------------- */

/* pc: 0 current, 1 changeable, 2 default, 3 saved.  0 without the page. */
size_t sim_power_mode_page(const struct sim_lu *lu, int pc, uint8_t *p)
{
	const struct sim_power_page *pg;
	struct sim_power_page mask;

	if (!lu->power_page || lu->type != OSTOR_TYPE_DISK)
		return 0;
	memset(p, 0, POWER_PAGE_LEN);
	p[0] = 0x80 | 0x1a;                  /* PS: the page can be saved */
	p[1] = POWER_PAGE_LEN - 2;
	if (pc == 1) {
		mask.b2 = 0xc1;              /* PM_BG_PRECEDENCE, STANDBY_Y */
		mask.b3 = 0x0f;
		for (int i = 0; i < T_COUNT; i++)
			mask.timer[i] = 0xffffffffu;
		pg = &mask;
	} else {
		pg = pc == 0 ? &lu->pcp : pc == 2 ? &power_default : &lu->pcp_saved;
		/* CCF IDLE/STANDBY/STOPPED 01b: no check condition on the
		 * transitions (the 5Eh sense comes only from REQUEST SENSE). */
		p[39] = 0x54;
	}
	p[2] = pg->b2;
	p[3] = pg->b3;
	for (int i = 0; i < T_COUNT; i++)
		ostori_put_be32(p + 4 + 4 * i, pg->timer[i]);
	return POWER_PAGE_LEN;
}

/* A validated page (only changeable bits differ from the current page). */
void sim_power_mode_select(struct sim_lu *lu, const uint8_t *p, bool save)
{
	lu->pcp.b2 = p[2];
	lu->pcp.b3 = p[3];
	for (int i = 0; i < T_COUNT; i++)
		lu->pcp.timer[i] = ostori_get_be32(p + 4 + 4 * i);
	if (save)
		lu->pcp_saved = lu->pcp;
	/* New timers count from now. */
	lu->active_ms = ostori_now_ms();
}

/* ---- START STOP UNIT ------------------------------------------------------ */

void sim_cmd_start_stop(struct exec *x)
{
	struct sim_lu *lu = x->lu;
	const uint8_t *c = x->cdb;
	uint8_t b4 = c[4], pc = b4 >> 4, mod = c[3] & 0x0f;
	bool loej = b4 & 0x02, start = b4 & 0x01;
	uint64_t now = ostori_now_ms();

	if (pc != 0 && lu->type != OSTOR_TYPE_DISK) {
		/* MMC power conditions are not modelled. */
		bad_cdb(x, 4, 7);
		return;
	}
	/* The modifier goes with IDLE (0 idle_a, 1 idle_b, 2 idle_c) and
	 * STANDBY (0 standby_z, 1 standby_y) only. */
	if (mod && !(pc == 2 && mod <= 2) && !(pc == 3 && mod <= 1)) {
		bad_cdb(x, 3, 3);
		return;
	}
	switch (pc) {
	case 0x0:                             /* START and LOEJ */
		break;
	case 0x1:                             /* ACTIVE */
		lu->started = true;
		lu->timers_held = true;
		sim_power_access(lu, now);
		return;
	case 0x2:                             /* IDLE */
		lu->started = true;
		lu->timers_held = true;
		sim_power_set(lu, mod == 0 ? SIM_POWER_IDLE_A :
				  mod == 1 ? SIM_POWER_IDLE_B : SIM_POWER_IDLE_C, false);
		return;
	case 0x3:                             /* STANDBY */
		lu->started = true;
		lu->timers_held = true;
		sim_power_set(lu, mod == 0 ? SIM_POWER_STANDBY_Z : SIM_POWER_STANDBY_Y, false);
		return;
	case 0x7:                             /* LU_CONTROL: the timers decide again */
		lu->started = true;
		lu->timers_held = false;
		sim_power_access(lu, now);
		return;
	case 0xa:                             /* FORCE_IDLE_0: idle_a timer expired */
	case 0xb:                             /* FORCE_STANDBY_0: standby_z timer expired */
		lu->started = true;
		lu->timers_held = false;
		sim_power_set(lu, pc == 0xa ? SIM_POWER_IDLE_A : SIM_POWER_STANDBY_Z, true);
		return;
	default:
		bad_cdb(x, 4, 7);
		return;
	}
	if (loej && !lu->removable) {
		bad_cdb(x, 4, 1);
		return;
	}
	if (start) {
		lu->started = true;
		if (loej)
			lu->loaded = true;
		sim_power_access(lu, now);
		return;
	}
	if (loej) {
		if (lu->prevent) {
			fail(x, OSTOR_SCSI_SENSE_ILLEGAL_REQUEST,
			     ASC_REMOVAL_PREVENTED, 0x02);
			return;
		}
		lu->loaded = false;
	}
	lu->started = false;
}
