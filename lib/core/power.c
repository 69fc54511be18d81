/*
 * lib/core/power.c - power conditions of a LUN: what it is in (REQUEST
 * SENSE, ATA CHECK POWER MODE through SAT), START STOP UNIT, and the
 * timers of the Power Condition mode page (1Ah).
 */
#include "core/backend.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PAGE_POWER 0x1a
/* SPC-4 page 1Ah: 26h bytes after the header (SPC-3: 0Ah, idle and
 * standby timers only). */
#define PAGE_LEN_SPC4 0x26
#define MODE_HDR10 8

OSTOR_API const char *ostor_power_condition_name(int condition)
{
	switch (condition) {
	case OSTOR_POWER_ACTIVE: return "active";
	case OSTOR_POWER_IDLE: return "idle";
	case OSTOR_POWER_IDLE_B: return "idle_b";
	case OSTOR_POWER_IDLE_C: return "idle_c";
	case OSTOR_POWER_STANDBY: return "standby";
	case OSTOR_POWER_STANDBY_Y: return "standby_y";
	case OSTOR_POWER_STOPPED: return "stopped";
	default: return "unknown";
	}
}

OSTOR_API const char *ostor_power_action_name(int action)
{
	switch (action) {
	case OSTOR_POWER_GO_ACTIVE: return "active";
	case OSTOR_POWER_GO_IDLE: return "idle";
	case OSTOR_POWER_GO_STANDBY: return "standby";
	case OSTOR_POWER_START: return "start";
	case OSTOR_POWER_STOP: return "stop";
	case OSTOR_POWER_LOAD: return "load";
	case OSTOR_POWER_EJECT: return "eject";
	case OSTOR_POWER_LU_CONTROL: return "lu_control";
	default: return "unknown";
	}
}

struct pctx {
	ostor_device *dev;
	ostor_task *t;
	uint32_t target, lun;
};

static int pctx_open(struct pctx *p, ostor_device *dev, uint32_t target, uint32_t lun)
{
	p->dev = dev;
	p->target = target;
	p->lun = lun;
	return ostor_task_new(dev, &p->t);
}

/* GOOD only; bytes that arrived in *got. */
static int run_good(struct pctx *p, const struct ostor_cdb *cdb, enum ostor_dir dir, void *buf, size_t len,
		    size_t *got)
{
	int r = ostori_exec(p->t, p->target, p->lun, cdb, len ? dir : OSTOR_DIR_NONE, buf, len);

	if (r < 0)
		return r;
	if (p->t->result != OSTOR_RESULT_GOOD)
		return ostor_task_error(p->t);
	if (got)
		*got = ostor_task_transferred(p->t);
	return 0;
}

/* The last command ended in ILLEGAL REQUEST (the device refuses it). */
static bool illegal_request(const struct pctx *p, struct ostor_scsi_sense *s)
{
	*s = (struct ostor_scsi_sense)OSTOR_SCSI_SENSE_INIT;
	return p->t->result == OSTOR_RESULT_CHECK_CONDITION &&
	       ostor_scsi_parse_sense(p->t->sense, p->t->sense_len, s) == 0 &&
	       s->key == OSTOR_SCSI_SENSE_ILLEGAL_REQUEST;
}

/* SPC-4 5Eh "low power condition on": the condition and whether a timer
 * or a command put the LUN there. */
static void condition_from_5e(uint8_t ascq, struct ostor_power_info *info)
{
	static const struct { uint8_t ascq; int cond; int by_timer; } map[] = {
		{ 0x00, OSTOR_POWER_UNKNOWN, -1 },   /* low power condition on */
		{ 0x01, OSTOR_POWER_IDLE, 1 },
		{ 0x02, OSTOR_POWER_STANDBY, 1 },
		{ 0x03, OSTOR_POWER_IDLE, 0 },
		{ 0x04, OSTOR_POWER_STANDBY, 0 },
		{ 0x05, OSTOR_POWER_IDLE_B, 1 },
		{ 0x06, OSTOR_POWER_IDLE_B, 0 },
		{ 0x07, OSTOR_POWER_IDLE_C, 1 },
		{ 0x08, OSTOR_POWER_IDLE_C, 0 },
		{ 0x09, OSTOR_POWER_STANDBY_Y, 1 },
		{ 0x0a, OSTOR_POWER_STANDBY_Y, 0 },
	};

	for (size_t i = 0; i < sizeof(map) / sizeof(map[0]); i++)
		if (map[i].ascq == ascq) {
			info->condition = map[i].cond;
			info->by_timer = map[i].by_timer;
			return;
		}
	info->condition = OSTOR_POWER_UNKNOWN;
}

static int request_sense(struct pctx *p, struct ostor_power_info *info)
{
	uint8_t buf[252];
	struct ostor_cdb cdb;
	struct ostor_scsi_sense s = OSTOR_SCSI_SENSE_INIT;
	size_t got = 0;
	int r = ostor_scsi_cdb_request_sense(&cdb, sizeof(buf), 0);

	if (r < 0 || (r = run_good(p, &cdb, OSTOR_DIR_FROM_DEVICE, buf, sizeof(buf), &got)) < 0)
		return r;
	if (ostor_scsi_parse_sense(buf, got, &s) < 0)
		return 0;
	snprintf(info->condition_source, sizeof(info->condition_source), "request-sense");
	if (s.asc == 0x5e) {
		condition_from_5e(s.ascq, info);
	} else if (s.key == OSTOR_SCSI_SENSE_NOT_READY && s.asc == 0x04 && s.ascq == 0x02) {
		info->condition = OSTOR_POWER_STOPPED;   /* initializing command required */
		info->by_timer = 0;
	} else if (s.key == OSTOR_SCSI_SENSE_NOT_READY && s.asc == 0x3a) {
		info->condition = OSTOR_POWER_UNKNOWN;   /* no medium: nothing to spin */
		info->condition_source[0] = '\0';
	} else {
		info->condition = OSTOR_POWER_ACTIVE;
	}
	return 0;
}

/* ATA CHECK POWER MODE through SAT ((16), then (12)). */
static void ata_check_power(struct pctx *p, struct ostor_power_info *info)
{
	uint8_t len = p->dev->health_protocol == OSTOR_HEALTH_PROTO_SAT12 ? 12 : 16;

	for (;; len = 12) {
		struct ostor_cdb cdb;
		struct ostor_scsi_sense s;
		struct ostor_scsi_ata_power_mode pm;

		if (ostor_scsi_cdb_ata_check_power_mode(&cdb, len) < 0 ||
		    ostori_exec(p->t, p->target, p->lun, &cdb, OSTOR_DIR_NONE, NULL, 0) < 0)
			return;
		if (illegal_request(p, &s)) {
			if (len == 16)
				continue;
			return;
		}
		if (p->t->result != OSTOR_RESULT_CHECK_CONDITION)
			return;   /* GOOD without registers: the bridge dropped them */
		ostor_scsi_parse_ata_power_mode(p->t->sense, p->t->sense_len, &pm);
		if (!pm.registers_present)
			return;
		info->ata_mode = pm.mode;
		return;
	}
}

static bool looks_ata(struct pctx *p)
{
	uint8_t buf[256];
	struct ostor_cdb cdb;
	struct ostor_scsi_inquiry inq = OSTOR_SCSI_INQUIRY_INIT;
	size_t got = 0, vgot = 0;
	uint8_t vpd[256];

	if (p->dev->health_protocol == OSTOR_HEALTH_PROTO_SAT16 ||
	    p->dev->health_protocol == OSTOR_HEALTH_PROTO_SAT12)
		return true;
	if (p->dev->health_protocol != OSTOR_HEALTH_PROTO_AUTO)
		return false;   /* a vendor bridge: registers cannot be read back */
	if (ostor_scsi_cdb_inquiry(&cdb, 0, 0, 96) < 0 ||
	    run_good(p, &cdb, OSTOR_DIR_FROM_DEVICE, buf, 96, &got) < 0 ||
	    ostor_scsi_parse_inquiry(buf, got, &inq) < 0)
		return false;
	if (ostor_scsi_cdb_inquiry(&cdb, 1, 0, sizeof(vpd)) < 0 ||
	    run_good(p, &cdb, OSTOR_DIR_FROM_DEVICE, vpd, sizeof(vpd), &vgot) < 0)
		vgot = 0;
	return ostor_scsi_sat_evidence(&inq, vgot ? vpd : NULL, vgot) != 0;
}

/* MODE SENSE(10) of page 1Ah with page control pc: the page (header
 * included) in page/plen, or 0 with plen 0 when the device has none. */
static int power_page(struct pctx *p, uint8_t pc, uint8_t *buf, size_t buflen, const uint8_t **page,
		      size_t *plen, int *ps)
{
	struct ostor_cdb cdb;
	struct ostor_scsi_mode_header mh;
	struct ostor_scsi_iter it;
	struct ostor_scsi_mode_page mp;
	struct ostor_scsi_sense s;
	size_t got = 0;
	int r;

	*plen = 0;
	if ((r = ostor_scsi_cdb_mode_sense10(&cdb, 1, 0, pc, PAGE_POWER, 0, (uint16_t)buflen)) < 0)
		return r;
	r = run_good(p, &cdb, OSTOR_DIR_FROM_DEVICE, buf, buflen, &got);
	if (r < 0)
		return illegal_request(p, &s) ? 0 : r;
	if ((r = ostor_scsi_parse_mode_sense10(buf, got, &mh)) < 0 ||
	    (r = ostor_scsi_mode_page_iter_init(&it, buf, got, &mh)) < 0)
		return r;
	while (ostor_scsi_mode_page_next(&it, &mp) == 1)
		if (mp.page == PAGE_POWER && !mp.spf && mp.len >= 12) {
			*page = mp.data;
			*plen = mp.len;
			*ps = mp.ps;
			return 0;
		}
	return 0;
}

static uint32_t be32(const uint8_t *b)
{
	return (uint32_t)b[0] << 24 | (uint32_t)b[1] << 16 | (uint32_t)b[2] << 8 | b[3];
}

static void put_be32(uint8_t *b, uint32_t v)
{
	b[0] = (uint8_t)(v >> 24);
	b[1] = (uint8_t)(v >> 16);
	b[2] = (uint8_t)(v >> 8);
	b[3] = (uint8_t)v;
}

/* Where each timer lives on the page: its enable bit (byte, mask) and its
 * 32-bit timer (offset from the page start, header included). */
struct timer_loc {
	uint8_t byte, mask, offset;
};

static const struct timer_loc timer_locs[] = {
	[OSTOR_POWER_TIMER_IDLE_A] = { 3, 0x02, 4 },
	[OSTOR_POWER_TIMER_STANDBY_Z] = { 3, 0x01, 8 },
	[OSTOR_POWER_TIMER_IDLE_B] = { 3, 0x04, 12 },
	[OSTOR_POWER_TIMER_IDLE_C] = { 3, 0x08, 16 },
	[OSTOR_POWER_TIMER_STANDBY_Y] = { 2, 0x01, 20 },
};

static void read_timer(const uint8_t *page, size_t plen, const uint8_t *chg, size_t clen, int id,
		       struct ostor_power_timer *t)
{
	const struct timer_loc *l = &timer_locs[id];

	memset(t, 0, sizeof(*t));
	if ((size_t)l->offset + 4 > plen)
		return;
	t->enabled = (page[l->byte] & l->mask) != 0;
	t->timer_100ms = be32(page + l->offset);
	if (chg && (size_t)l->offset + 4 <= clen)
		t->changeable = (chg[l->byte] & l->mask) && be32(chg + l->offset) != 0;
}

static const struct ostori_sized power_info_sized =
	OSTORI_SIZED(struct ostor_power_info, OSTOR_POWER_INFO_INIT,
		     OSTORI_FIELD_END(struct ostor_power_info, standby_z));
OSTORI_SIZED_CHECK(struct ostor_power_info, standby_z);

OSTOR_API int ostor_power_get(ostor_device *dev, uint32_t target, uint32_t lun, struct ostor_power_info *info)
{
	struct ostor_power_info full;
	struct pctx p;
	uint8_t cur[128], chg[128];
	const uint8_t *page = NULL, *cpage = NULL;
	size_t plen = 0, clen = 0;
	int ps = 0, cps = 0, r;

	if (!dev || !info)
		return ostori_error(OSTOR_ERROR_INVALID_PARAM, "ostor_power_get: NULL argument");
	if ((r = ostori_sized_check(&power_info_sized, info, __func__, "info")))
		return r;
	memset(&full, 0, sizeof(full));
	full.by_timer = -1;
	full.ata_mode = -1;
	if ((r = pctx_open(&p, dev, target, lun)) < 0)
		return r;
	if ((r = request_sense(&p, &full)) < 0)
		goto out;
	if (looks_ata(&p)) {
		ata_check_power(&p, &full);
		/* The drive knows better than a bridge that may not translate
		 * its power modes into REQUEST SENSE. */
		if (full.condition == OSTOR_POWER_ACTIVE && full.ata_mode == OSTOR_ATA_POWER_STANDBY) {
			full.condition = OSTOR_POWER_STANDBY;
			snprintf(full.condition_source, sizeof(full.condition_source), "ata");
		} else if (full.condition == OSTOR_POWER_ACTIVE && full.ata_mode == OSTOR_ATA_POWER_IDLE) {
			full.condition = OSTOR_POWER_IDLE;
			snprintf(full.condition_source, sizeof(full.condition_source), "ata");
		}
	}
	if ((r = power_page(&p, 0, cur, sizeof(cur), &page, &plen, &ps)) < 0)
		goto out;
	if (plen) {
		if (power_page(&p, 1, chg, sizeof(chg), &cpage, &clen, &cps) < 0)
			clen = 0;
		full.page_present = 1;
		full.page_saveable = ps;
		read_timer(page, plen, clen ? cpage : NULL, clen, OSTOR_POWER_TIMER_IDLE_A, &full.idle_a);
		read_timer(page, plen, clen ? cpage : NULL, clen, OSTOR_POWER_TIMER_IDLE_B, &full.idle_b);
		read_timer(page, plen, clen ? cpage : NULL, clen, OSTOR_POWER_TIMER_IDLE_C, &full.idle_c);
		read_timer(page, plen, clen ? cpage : NULL, clen, OSTOR_POWER_TIMER_STANDBY_Y, &full.standby_y);
		read_timer(page, plen, clen ? cpage : NULL, clen, OSTOR_POWER_TIMER_STANDBY_Z, &full.standby_z);
	}
	ostori_sized_put(&power_info_sized, info, &full);
	r = 0;
out:
	ostor_task_free(p.t);
	return r;
}

OSTOR_API int ostor_power_set(ostor_device *dev, uint32_t target, uint32_t lun, int action, unsigned int flags)
{
	struct pctx p;
	struct ostor_cdb cdb;
	struct ostor_scsi_sense s;
	uint8_t pc = 0, mod = 0;
	int loej = 0, start = 0, r;

	if (!dev)
		return ostori_error(OSTOR_ERROR_INVALID_PARAM, "ostor_power_set: dev is NULL");
	if (flags & ~OSTOR_POWER_IMMED)
		return ostori_error(OSTOR_ERROR_INVALID_PARAM, "ostor_power_set: unknown flags %#x", flags);
	switch (action) {
	case OSTOR_POWER_GO_ACTIVE: pc = 0x1; break;
	case OSTOR_POWER_GO_IDLE: pc = 0x2; break;
	case OSTOR_POWER_GO_STANDBY: pc = 0x3; break;
	case OSTOR_POWER_LU_CONTROL: pc = 0x7; break;
	case OSTOR_POWER_START: start = 1; break;
	case OSTOR_POWER_STOP: break;
	case OSTOR_POWER_LOAD: loej = 1; start = 1; break;
	case OSTOR_POWER_EJECT: loej = 1; break;
	default:
		return ostori_error(OSTOR_ERROR_INVALID_PARAM,
				    "power action %d: expected active, idle, standby, start, stop, load, eject "
				    "or lu_control", action);
	}
	if ((r = ostor_scsi_cdb_start_stop_unit(&cdb, (flags & OSTOR_POWER_IMMED) != 0, pc, mod, loej, start)) < 0)
		return r;
	if ((r = pctx_open(&p, dev, target, lun)) < 0)
		return r;
	r = run_good(&p, &cdb, OSTOR_DIR_NONE, NULL, 0, NULL);
	if (r < 0 && illegal_request(&p, &s))
		r = ostori_error(OSTOR_ERROR_NOT_SUPPORTED,
				 "%s %u:%u: power condition %s not supported by this device (START STOP "
				 "UNIT refused: %02xh/%02xh)", dev->spec, target, lun,
				 ostor_power_action_name(action), s.asc, s.ascq);
	ostor_task_free(p.t);
	return r;
}

OSTOR_API int ostor_power_set_timer(ostor_device *dev, uint32_t target, uint32_t lun, int timer, int enable,
				    uint32_t timer_100ms, unsigned int flags)
{
	struct pctx p;
	uint8_t cur[128], chg[128], param[MODE_HDR10 + 64];
	const uint8_t *page = NULL, *cpage = NULL;
	size_t plen = 0, clen = 0;
	const struct timer_loc *l;
	struct ostor_cdb cdb;
	struct ostor_scsi_sense s;
	int ps = 0, cps = 0, r;

	if (!dev)
		return ostori_error(OSTOR_ERROR_INVALID_PARAM, "ostor_power_set_timer: dev is NULL");
	if (timer < OSTOR_POWER_TIMER_IDLE_A || timer > OSTOR_POWER_TIMER_STANDBY_Z)
		return ostori_error(OSTOR_ERROR_INVALID_PARAM,
				    "power timer %d: expected idle_a, idle_b, idle_c, standby_y or standby_z", timer);
	if (flags & ~OSTOR_POWER_SAVE)
		return ostori_error(OSTOR_ERROR_INVALID_PARAM, "ostor_power_set_timer: unknown flags %#x", flags);
	l = &timer_locs[timer];
	if ((r = pctx_open(&p, dev, target, lun)) < 0)
		return r;
	if ((r = power_page(&p, 0, cur, sizeof(cur), &page, &plen, &ps)) < 0)
		goto out;
	if (!plen) {
		r = ostori_error(OSTOR_ERROR_NOT_SUPPORTED, "%s %u:%u has no Power Condition mode page (1Ah): "
				 "its power timers cannot be set", dev->spec, target, lun);
		goto out;
	}
	if ((size_t)l->offset + 4 > plen || plen > sizeof(param) - MODE_HDR10) {
		r = ostori_error(OSTOR_ERROR_NOT_SUPPORTED, "%s %u:%u: the Power Condition mode page "
				 "(%zu bytes) has no such timer (an SPC-3 page: idle and standby only)",
				 dev->spec, target, lun, plen);
		goto out;
	}
	if ((r = power_page(&p, 1, chg, sizeof(chg), &cpage, &clen, &cps)) < 0)
		goto out;
	if (!clen || (size_t)l->offset + 4 > clen || !(cpage[l->byte] & l->mask) ||
	    (enable && be32(cpage + l->offset) == 0)) {
		r = ostori_error(OSTOR_ERROR_NOT_SUPPORTED, "%s %u:%u: the device does not let this power "
				 "timer be changed (changeable values of page 1Ah)", dev->spec, target, lun);
		goto out;
	}
	if ((flags & OSTOR_POWER_SAVE) && !ps) {
		r = ostori_error(OSTOR_ERROR_NOT_SUPPORTED, "%s %u:%u: the device cannot save page 1Ah "
				 "(PS 0): set it without saving", dev->spec, target, lun);
		goto out;
	}
	/* MODE SELECT(10): an 8-byte header (mode data length reserved, no
	 * block descriptors) and the current page with only this timer
	 * changed; PS is reserved in MODE SELECT. */
	memset(param, 0, sizeof(param));
	memcpy(param + MODE_HDR10, page, plen);
	param[MODE_HDR10] &= 0x3f;
	if (enable) {
		param[MODE_HDR10 + l->byte] |= l->mask;
		put_be32(param + MODE_HDR10 + l->offset, timer_100ms);
	} else {
		param[MODE_HDR10 + l->byte] &= (uint8_t)~l->mask;
	}
	if ((r = ostor_scsi_cdb_mode_select10(&cdb, 1, (flags & OSTOR_POWER_SAVE) != 0,
					      (uint16_t)(MODE_HDR10 + plen))) < 0)
		goto out;
	r = run_good(&p, &cdb, OSTOR_DIR_TO_DEVICE, param, MODE_HDR10 + plen, NULL);
	if (r < 0 && illegal_request(&p, &s))
		r = ostori_error(OSTOR_ERROR_NOT_SUPPORTED, "%s %u:%u: MODE SELECT of page 1Ah refused "
				 "(%02xh/%02xh): the device does not accept this timer value",
				 dev->spec, target, lun, s.asc, s.ascq);
out:
	ostor_task_free(p.t);
	return r;
}
