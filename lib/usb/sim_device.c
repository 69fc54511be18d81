/*
 * lib/usb/sim_device.c - simulated USB mass-storage devices (Bulk-Only,
 * CBI, CB) in front of the sim target, at the level of USB transfers, for
 * sim:transport=usb-bot|usb-cbi|usb-cb.
 *
 * The model is the transfer layer (xfer.h) under the real protocol engine
 * (lib/usb/engine.c): the engine sends CBW/ADSC bytes and reads data,
 * CSWs and interrupt reports exactly as over libusb, and the model
 * answers like a device would, stalls, babble, short packets, NAKs and
 * all, plus the injected faults.  Transfers complete only from poll()
 * (the sim backend's event hook) or the engine's synchronous events(), so
 * no completion recurses into a submit.
 */
#include "core/backend.h"
#include "sim/target.h"
#include "sim/transport.h"
#include "usb/sim_device.h"
#include "usb/sim_priv.h"
#include "util/byteorder.h"
#include "usb/engine.h"
#include "usb/suspend.h"
#include "usb/config.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* impl_state of a Bulk-Only transfer the device answered as it was
 * submitted (early-in-*); 1, 2 and 4 are taken below, and sim_uas.c keeps
 * 5 for itself. */
#define IMPL_ANSWERED 6

#define SIM_USB_OPTIONS "size, image, luns, block-size, readonly, type, transport, " \
	"ata, bridge, ata-fault, ie, temperature, power-page, scsi-fault, " \
	"fault=NAME[+NAME], fault-count=N, fault-after=N, usb-timeout=MS, pipeline=on|off|cbw, " \
	"blocking=on|off, " \
	"csw-grace=MS, " \
	"subclass=scsi|ufi|sff8070i|rbc|mmc, quirks=FLAG[+FLAG]"

static const char *const fault_names[SIM_USB_FAULT_COUNT] = {
	[SIM_USB_FAULT_NONE] = "none",
	[SIM_USB_CSW_BAD_SIGNATURE] = "csw-bad-signature",
	[SIM_USB_CSW_STALE_TAG] = "csw-stale-tag",
	[SIM_USB_CSW_SHORT] = "csw-short",
	[SIM_USB_CSW_LONG] = "csw-long",
	[SIM_USB_CSW_512] = "csw-512",
	[SIM_USB_CSW_BAD_STATUS] = "csw-bad-status",
	[SIM_USB_CSW_RESIDUE_BIG] = "csw-residue-big",
	[SIM_USB_PHASE_ERROR] = "phase-error",
	[SIM_USB_DATA_STALL] = "data-stall",
	[SIM_USB_CBW_STALL] = "cbw-stall",
	[SIM_USB_BABBLE] = "babble",
	[SIM_USB_SKIP_DATA] = "skip-data",
	[SIM_USB_CSW_NAK] = "csw-nak",
	[SIM_USB_HANG] = "hang",
	[SIM_USB_ZLP_BEFORE_CSW] = "zlp-before-csw",
	[SIM_USB_CSW_STALL] = "csw-stall",
	[SIM_USB_MAXLUN_STALL] = "maxlun-stall",
	[SIM_USB_MAXLUN_EMPTY] = "maxlun-empty",
	[SIM_USB_MAXLUN_TIMEOUT] = "maxlun-timeout",
	[SIM_USB_MAXLUN_BIG] = "maxlun-big",
	[SIM_USB_RESET_STALL] = "reset-stall",
	[SIM_USB_PORT_RESET_FAIL] = "port-reset-fail",
	[SIM_USB_ADSC_STALL] = "adsc-stall",
	[SIM_USB_INTR_BTYPE] = "intr-btype",
	[SIM_USB_INTR_PHASE] = "intr-phase",
	[SIM_USB_INTR_PERSISTENT] = "intr-persistent",
	[SIM_USB_INTR_SHORT] = "intr-short",
	[SIM_USB_INTR_MISSING] = "intr-missing",
	[SIM_USB_INTR_ASC] = "intr-asc",
	[SIM_USB_CSW_LOST_QUEUED] = "csw-lost-queued",
	[SIM_USB_CSW_AT_CANCEL] = "csw-at-cancel",
	[SIM_USB_UAS_BAD_IU_ID] = "uas-bad-iu-id",
	[SIM_USB_UAS_SHORT_IU] = "uas-short-iu",
	[SIM_USB_UAS_UNKNOWN_TAG] = "uas-unknown-tag",
	[SIM_USB_UAS_SENSE_OVERFLOW] = "uas-sense-overflow",
	[SIM_USB_UAS_OVERRUN] = "uas-overrun",
	[SIM_USB_UAS_NO_STATUS] = "uas-no-status",
	[SIM_USB_UAS_DATA_STALL] = "uas-data-stall",
	[SIM_USB_UAS_REJECT] = "uas-reject",
	[SIM_USB_UAS_LATE_STATUS] = "uas-late-status",
	[SIM_USB_UAS_IN_ORDER] = "uas-in-order",
	[SIM_USB_UAS_TMF_IGNORED] = "uas-tmf-ignored",
	[SIM_USB_UAS_TMF_FAILED] = "uas-tmf-failed",
	[SIM_USB_UAS_TMF_UNSUPPORTED] = "uas-tmf-unsupported",
	[SIM_USB_PORT_RESET_REFUSED] = "port-reset-refused",
	[SIM_USB_EARLY_IN_STALL] = "early-in-stall",
	[SIM_USB_EARLY_IN_ZLP] = "early-in-zlp",
	[SIM_USB_EARLY_IN_STALL_ONCE] = "early-in-stall-once",
};

const char *sim_usb_fault_name(enum sim_usb_fault f)
{
	return (unsigned)f < SIM_USB_FAULT_COUNT ? fault_names[f] : "unknown";
}

int sim_usb_fault_by_name(const char *name)
{
	for (int i = 0; i < SIM_USB_FAULT_COUNT; i++)
		if (!strcmp(fault_names[i], name))
			return i;
	return -1;
}

static pthread_mutex_t live_lock = PTHREAD_MUTEX_INITIALIZER;
static struct sim_usb *live;

/* ---- faults ---------------------------------------------------------------- */

/* Consume one hit of fault f if it is due now. */
bool sim_usb_fault_hit(struct sim_usb *m, enum sim_usb_fault f)
{
	struct fault_arm *a = &m->faults[f];

	if (!a->armed)
		return false;
	if (a->after) {
		a->after--;
		return false;
	}
	if (a->count) {
		if (--a->count == 0)
			a->armed = false;
	}
	return true;
}

static bool cmd_fault(const struct sim_usb *m, enum sim_usb_fault f)
{
	return m->cmd_faults & (UINT64_C(1) << f);
}

/* Decide which per-command faults strike this command. */
void sim_usb_arm_command_faults(struct sim_usb *m)
{
	static const enum sim_usb_fault per_cmd[] = {
		SIM_USB_CSW_BAD_SIGNATURE, SIM_USB_CSW_STALE_TAG, SIM_USB_CSW_SHORT, SIM_USB_CSW_LONG,
		SIM_USB_CSW_512, SIM_USB_CSW_BAD_STATUS, SIM_USB_CSW_RESIDUE_BIG, SIM_USB_PHASE_ERROR,
		SIM_USB_DATA_STALL, SIM_USB_CBW_STALL, SIM_USB_BABBLE, SIM_USB_SKIP_DATA, SIM_USB_CSW_NAK,
		SIM_USB_HANG, SIM_USB_ZLP_BEFORE_CSW, SIM_USB_CSW_STALL, SIM_USB_ADSC_STALL,
		SIM_USB_INTR_BTYPE, SIM_USB_INTR_PHASE, SIM_USB_INTR_PERSISTENT, SIM_USB_INTR_SHORT,
		SIM_USB_INTR_MISSING, SIM_USB_INTR_ASC, SIM_USB_CSW_LOST_QUEUED, SIM_USB_CSW_AT_CANCEL,
		SIM_USB_UAS_BAD_IU_ID, SIM_USB_UAS_SHORT_IU, SIM_USB_UAS_UNKNOWN_TAG, SIM_USB_UAS_SENSE_OVERFLOW,
		SIM_USB_UAS_OVERRUN, SIM_USB_UAS_NO_STATUS, SIM_USB_UAS_DATA_STALL, SIM_USB_UAS_REJECT,
		SIM_USB_UAS_LATE_STATUS,
	};

	m->cmd_faults = 0;
	for (size_t i = 0; i < OSTOR_ARRAY_SIZE(per_cmd); i++)
		if (sim_usb_fault_hit(m, per_cmd[i]))
			m->cmd_faults |= UINT64_C(1) << per_cmd[i];
}

int sim_usb_arm_fault(struct sim_usb *m, enum sim_usb_fault f, unsigned int count, unsigned int after)
{
	if ((unsigned)f >= SIM_USB_FAULT_COUNT || f == SIM_USB_FAULT_NONE)
		return ostori_error(OSTOR_ERROR_INVALID_PARAM, "unknown simulated USB fault %d", (int)f);
	pthread_mutex_lock(&m->lock);
	m->faults[f] = (struct fault_arm){ .armed = true, .count = count, .after = after };
	pthread_mutex_unlock(&m->lock);
	return 0;
}

bool sim_usb_fault_pending(struct sim_usb *m)
{
	bool any = false;

	pthread_mutex_lock(&m->lock);
	for (int f = 0; f < SIM_USB_FAULT_COUNT; f++)
		any |= m->faults[f].armed;
	pthread_mutex_unlock(&m->lock);
	return any;
}

void sim_usb_set_bad_status(struct sim_usb *m, uint8_t status)
{
	pthread_mutex_lock(&m->lock);
	m->bad_status = status;
	pthread_mutex_unlock(&m->lock);
}

void sim_usb_clear_faults(struct sim_usb *m)
{
	pthread_mutex_lock(&m->lock);
	memset(m->faults, 0, sizeof(m->faults));
	pthread_mutex_unlock(&m->lock);
}

/* ---- SCSI side ------------------------------------------------------------- */


/* What the command itself wants to move: 'i', 'o', 'n', or '?' for an
 * opcode the model does not know (the host's word is taken). */
char sim_usb_dev_dir(const uint8_t *cdb)
{
	switch (cdb[0]) {
	case 0x03: case 0x12: case 0x1a: case 0x5a: case 0x25: case 0x9e: case 0x28:
	case 0xa8: case 0x88: case 0x08: case 0xa0: case 0x23: case 0x3c: case 0x4d:
	case 0x37: case 0x43: case 0x46: case 0x4a: case 0x51: case 0xa3:
		return 'i';
	case 0x0a: case 0x2a: case 0xaa: case 0x8a: case 0x2e: case 0xae: case 0x8e:
	case 0x15: case 0x55: case 0x42: case 0x41: case 0x93: case 0x3b: case 0x89:
		return 'o';
	case 0x1d:
		return ostori_get_be16(cdb + 3) ? 'o' : 'n';
	case 0x00: case 0x1b: case 0x1e: case 0x35: case 0x91: case 0x2b: case 0x01:
	case 0x2f: case 0x8f:
		return 'n';
	default:
		return '?';
	}
}

/* Bytes a data-out command needs (SIZE_MAX: unknown). */
size_t sim_usb_out_len(struct sim_usb *m, const uint8_t *cdb, uint8_t lun)
{
	size_t bs = lun < SIM_USB_LUNS && m->block_size[lun] ? m->block_size[lun] : 512;

	switch (cdb[0]) {
	case 0x0a: return (cdb[4] ? cdb[4] : 256) * bs;
	case 0x2a: case 0x2e: return ostori_get_be16(cdb + 7) * bs;
	case 0xaa: case 0xae: return (size_t)ostori_get_be32(cdb + 6) * bs;
	case 0x8a: case 0x8e: return (size_t)ostori_get_be32(cdb + 10) * bs;
	case 0x15: return cdb[4];
	case 0x55: case 0x42: return ostori_get_be16(cdb + 7);
	case 0x41: case 0x93: return bs;
	case 0x89: return 2 * cdb[13] * bs;   /* verify data, then write data */
	case 0x1d: return ostori_get_be16(cdb + 3);
	default: return SIZE_MAX;
	}
}

void sim_usb_run_target(struct sim_usb *m, uint8_t lun, const uint8_t *cdb, size_t cdb_len,
		       int dir, uint8_t *buf, size_t len, struct sim_cmd *c)
{
	struct iovec iov = { .iov_base = buf, .iov_len = len };

	memset(c, 0, sizeof(*c));
	c->lun = lun;
	c->cdb = cdb;
	c->cdb_len = cdb_len;
	c->dir = len ? dir : OSTOR_DIR_NONE;
	c->iov = len ? &iov : NULL;
	c->iovcnt = len ? 1 : 0;
	sim_target_execute(m->target, c);
	if (dir == OSTOR_DIR_TO_DEVICE && c->status == 0 && len)
		m->stats.medium_writes++;
	m->last_status = c->status;
	m->asc = m->ascq = 0;
	if (c->status == OSTOR_SCSI_STATUS_CHECK_CONDITION && c->sense_len >= 14) {
		m->asc = c->sense[12];
		m->ascq = c->sense[13];
	}
}

/* ---- Bulk-Only device ------------------------------------------------------ */

/* Build the CSW for the command on hand, faults applied. */
static void bot_make_csw(struct sim_usb *m, uint32_t residue, uint8_t status)
{
	uint32_t tag = ostori_get_le32(m->cbw + 4);

	memset(m->csw, 0, sizeof(m->csw));
	m->csw_len = OUSB_CSW_LEN;
	if (cmd_fault(m, SIM_USB_PHASE_ERROR))
		status = 2;
	if (cmd_fault(m, SIM_USB_CSW_BAD_STATUS))
		status = m->bad_status ? m->bad_status : 3;
	if (cmd_fault(m, SIM_USB_CSW_RESIDUE_BIG))
		residue = ostori_get_le32(m->cbw + 8) + 4096;
	ostori_put_le32(m->csw, cmd_fault(m, SIM_USB_CSW_BAD_SIGNATURE) ? 0x42425355u : OUSB_CSW_SIG);
	ostori_put_le32(m->csw + 4, cmd_fault(m, SIM_USB_CSW_STALE_TAG) ? tag - 1 : tag);
	ostori_put_le32(m->csw + 8, residue);
	m->csw[12] = status;
	if (cmd_fault(m, SIM_USB_CSW_SHORT))
		m->csw_len = 12;
	if (cmd_fault(m, SIM_USB_CSW_LONG))
		m->csw_len = 14;
	if (cmd_fault(m, SIM_USB_CSW_512))
		m->csw_len = SIM_USB_MPS;
	m->zlp_pending = cmd_fault(m, SIM_USB_ZLP_BEFORE_CSW);
	m->csw_stall_pending = cmd_fault(m, SIM_USB_CSW_STALL);
	if (cmd_fault(m, SIM_USB_CSW_NAK))
		m->hung_bulk = true;
	if (cmd_fault(m, SIM_USB_HANG))
		m->hung_all = true;
	m->state = D_STATUS;
}

static uint8_t bot_status(uint8_t scsi)
{
	return scsi == OSTOR_SCSI_STATUS_GOOD || scsi == OSTOR_SCSI_STATUS_CONDITION_MET ? 0 : 1;
}

/* A CBW arrived: decide the thirteen cases and stage what follows. */
static enum ousb_status bot_cbw(struct sim_usb *m, struct ousb_xfer *x)
{
	uint32_t h;
	uint8_t lun, cblen, flags;
	char want;
	struct sim_cmd c;

	if (x->len != OUSB_CBW_LEN || ostori_get_le32(x->buf) != OUSB_CBW_SIG || (x->buf[14] & 0x1f) == 0 ||
	    (x->buf[14] & 0x1f) > 16) {
		/* Not a valid CBW: stall both pipes until Reset Recovery. */
		m->stats.invalid_cbws++;
		m->in_halted = m->out_halted = m->need_reset = true;
		return OUSB_STALL;
	}
	m->stats.cbws++;
	m->early_answered = false;
	sim_usb_arm_command_faults(m);
	if (cmd_fault(m, SIM_USB_CBW_STALL)) {
		m->out_halted = m->need_reset = true;
		return OUSB_STALL;
	}
	memcpy(m->cbw, x->buf, OUSB_CBW_LEN);
	h = ostori_get_le32(m->cbw + 8);
	flags = m->cbw[12];
	lun = m->cbw[13] & 0x0f;
	cblen = m->cbw[14] & 0x1f;
	want = sim_usb_dev_dir(m->cbw + 15);
	m->data_len = m->data_pos = 0;
	m->stall_after_data = m->babble_data = false;
	if (lun >= m->nluns) {
		/* No such LUN: the command fails, the host asks why. */
		sim_usb_run_target(m, lun, m->cbw + 15, cblen, OSTOR_DIR_NONE, NULL, 0, &c);
		bot_make_csw(m, h, 1);
		if (h && (flags & 0x80)) {
			m->stall_after_data = true;
			m->state = D_DATA_IN;
		} else if (h) {
			m->expect_out = OSTOR_MIN(h, SIM_USB_MAX_TRANSFER);
			m->state = D_DATA_OUT;
		}
		return OUSB_OK;
	}
	if (h == 0) {
		/* Hn: cases 1-3 */
		if (want == 'o' && sim_usb_out_len(m, m->cbw + 15, lun) && sim_usb_out_len(m, m->cbw + 15, lun) != SIZE_MAX) {
			bot_make_csw(m, 0, 2);
			return OUSB_OK;
		}
		if (want == 'i') {
			/* Would it send anything?  One scratch byte tells. */
			uint8_t scratch;

			sim_usb_run_target(m, lun, m->cbw + 15, cblen, OSTOR_DIR_FROM_DEVICE, &scratch, 1, &c);
			bot_make_csw(m, 0, c.overrun || c.transferred ? 2 : bot_status(c.status));
			return OUSB_OK;
		}
		sim_usb_run_target(m, lun, m->cbw + 15, cblen, OSTOR_DIR_NONE, NULL, 0, &c);
		bot_make_csw(m, 0, bot_status(c.status));
		return OUSB_OK;
	}
	if (flags & 0x80) {
		/* Hi: cases 4-8 */
		size_t n = OSTOR_MIN(h, SIM_USB_MAX_TRANSFER);
		uint32_t residue;
		uint8_t st;

		if (want == 'o') {
			/* case 8: Hi <> Do */
			m->stall_after_data = true;
			m->state = D_DATA_IN;
			bot_make_csw(m, h, 2);
			m->state = D_DATA_IN;
			return OUSB_OK;
		}
		sim_usb_run_target(m, lun, m->cbw + 15, cblen, OSTOR_DIR_FROM_DEVICE, m->data, n, &c);
		st = bot_status(c.status);
		if (c.overrun) {
			st = 2;                       /* case 7: Hi < Di */
			m->data_len = n;
		} else {
			m->data_len = c.transferred;  /* case 4 (Dn), 5, 6 */
		}
		residue = (uint32_t)(h - m->data_len);
		if (cmd_fault(m, SIM_USB_SKIP_DATA)) {
			m->data_len = 0;
			residue = h;
			bot_make_csw(m, residue, st);
			return OUSB_OK;
		}
		if (cmd_fault(m, SIM_USB_DATA_STALL)) {
			/* Half the data, then a stall mid-transfer. */
			m->data_len = (m->data_len / 2) & ~(size_t)(SIM_USB_MPS - 1);
			residue = (uint32_t)(h - m->data_len);
			m->stall_after_data = true;
		} else if (m->data_len < h && m->data_len % SIM_USB_MPS == 0) {
			/* No short packet can end it: the device stalls. */
			m->stall_after_data = true;
		}
		m->babble_data = cmd_fault(m, SIM_USB_BABBLE);
		bot_make_csw(m, residue, st);
		m->state = D_DATA_IN;
		return OUSB_OK;
	}
	/* Ho: cases 9-13, data first */
	m->expect_out = OSTOR_MIN(h, SIM_USB_MAX_TRANSFER);
	m->out_stall_at = 0;
	if (cmd_fault(m, SIM_USB_DATA_STALL))
		m->out_stall_at = OSTOR_MAX((m->expect_out / 2) & ~(size_t)(SIM_USB_MPS - 1), (size_t)SIM_USB_MPS);
	m->state = D_DATA_OUT;
	return OUSB_OK;
}

static void bot_data_out_done(struct sim_usb *m)
{
	uint32_t h = ostori_get_le32(m->cbw + 8);
	uint8_t lun = m->cbw[13] & 0x0f, cblen = m->cbw[14] & 0x1f;
	char want = sim_usb_dev_dir(m->cbw + 15);
	struct sim_cmd c;
	size_t need;

	if (lun >= m->nluns) {
		bot_make_csw(m, h, 1);
		return;
	}
	if (want == 'i') {                        /* case 10: Ho <> Di */
		bot_make_csw(m, h, 2);
		return;
	}
	if (want == 'n') {                        /* case 9: Ho > Dn */
		sim_usb_run_target(m, lun, m->cbw + 15, cblen, OSTOR_DIR_NONE, NULL, 0, &c);
		bot_make_csw(m, h, bot_status(c.status));
		return;
	}
	need = sim_usb_out_len(m, m->cbw + 15, lun);
	if (need == SIZE_MAX)
		need = m->data_len;
	if (need > m->data_len) {                 /* case 13: Ho < Do */
		bot_make_csw(m, h, 2);
		return;
	}
	sim_usb_run_target(m, lun, m->cbw + 15, cblen, OSTOR_DIR_TO_DEVICE, m->data, need, &c);
	bot_make_csw(m, (uint32_t)(h - need), bot_status(c.status)); /* 11, 12 */
}

/* ---- CB / CBI device -------------------------------------------------------- */

static void cb_set_status(struct sim_usb *m)
{
	bool ufi = m->subclass == OUSB_SC_UFI;
	bool fail = m->last_status != OSTOR_SCSI_STATUS_GOOD;

	m->intr_len = 2;
	m->intr_never = false;
	if (ufi) {
		m->intr[0] = fail ? (m->asc ? m->asc : 0x44) : 0;
		m->intr[1] = fail ? m->ascq : 0;
	} else {
		m->intr[0] = 0;
		m->intr[1] = fail ? 1 : 0;
	}
	if (cmd_fault(m, SIM_USB_INTR_BTYPE))
		m->intr[0] = 1;
	if (cmd_fault(m, SIM_USB_INTR_PHASE))
		m->intr[1] = 2;
	if (cmd_fault(m, SIM_USB_INTR_PERSISTENT))
		m->intr[1] = 3;
	if (cmd_fault(m, SIM_USB_INTR_ASC)) {
		m->intr[0] = 0x28;
		m->intr[1] = 0;
	}
	if (cmd_fault(m, SIM_USB_INTR_SHORT))
		m->intr_len = 1;
	if (cmd_fault(m, SIM_USB_INTR_MISSING))
		m->intr_never = true;
}

static void cb_finish_phase(struct sim_usb *m)
{
	if (m->protocol == OUSB_PR_CBI) {
		cb_set_status(m);
		m->state = D_STATUS;
	} else {
		m->state = D_IDLE;
	}
}

static enum ousb_status cb_adsc(struct sim_usb *m, struct ousb_xfer *x)
{
	struct sim_cmd c;
	char want;

	if (x->len >= 2 && x->buf[0] == 0x1d && x->buf[1] == 0x04) {
		bool cbr = x->len >= 12;

		for (size_t i = 2; i < 12 && i < x->len; i++)
			cbr = cbr && x->buf[i] == 0xff;
		if (cbr) {
			/* Command Block Reset */
			m->stats.cb_resets++;
			if (sim_usb_fault_hit(m, SIM_USB_RESET_STALL))
				return OUSB_STALL;
			m->state = D_IDLE;
			m->hung_bulk = false;
			m->data_len = m->data_pos = 0;
			return OUSB_OK;
		}
	}
	m->stats.adscs++;
	sim_usb_arm_command_faults(m);
	memset(m->cdb, 0, sizeof(m->cdb));
	memcpy(m->cdb, x->buf, OSTOR_MIN(x->len, sizeof(m->cdb)));
	m->data_len = m->data_pos = 0;
	m->stall_after_data = false;
	m->stall_in_next = false;
	if (cmd_fault(m, SIM_USB_ADSC_STALL)) {
		/* Refuse it; REQUEST SENSE will say why. */
		sim_target_inject_check(m->target, 0, m->cdb[0], 1, OSTOR_SCSI_SENSE_ILLEGAL_REQUEST, 0x20, 0);
		sim_usb_run_target(m, 0, m->cdb, x->len, OSTOR_DIR_NONE, NULL, 0, &c);
		m->state = D_IDLE;
		return OUSB_STALL;
	}
	if (cmd_fault(m, SIM_USB_INTR_PERSISTENT))
		sim_target_inject_check(m->target, 0, m->cdb[0], 1, OSTOR_SCSI_SENSE_MEDIUM_ERROR, 0x11, 0);
	want = sim_usb_dev_dir(m->cdb);
	if (want == 'o') {
		m->state = D_DATA_OUT;
		m->expect_out = sim_usb_out_len(m, m->cdb, 0);
		return OUSB_OK;
	}
	if (want == 'i' || want == '?') {
		sim_usb_run_target(m, 0, m->cdb, x->len, OSTOR_DIR_FROM_DEVICE, m->data, SIM_USB_MAX_TRANSFER, &c);
		m->data_len = c.transferred;
		if (m->data_len) {
			m->state = D_DATA_IN;
			if (cmd_fault(m, SIM_USB_DATA_STALL)) {
				m->data_len = (m->data_len / 2) & ~(size_t)63;
				m->stall_after_data = true;
			}
			return OUSB_OK;
		}
		/* Nothing to send (failed, or empty): a read gets a stall. */
		m->stall_in_next = true;
	} else {
		sim_usb_run_target(m, 0, m->cdb, x->len, OSTOR_DIR_NONE, NULL, 0, &c);
	}
	cb_finish_phase(m);
	return OUSB_OK;
}

/* ---- transfers ------------------------------------------------------------ */

static enum ep ep_of(const struct ousb_xfer *x)
{
	switch (x->kind) {
	case OUSB_BULK_IN: return EP_IN;
	case OUSB_BULK_OUT: return EP_OUT;
	case OUSB_INTR_IN: return EP_INTR;
	case OUSB_WAIT: return EP_TMR;
	default: return EP_CTRL;
	}
}

/* Port reset: power-on state. */
static void device_reset(struct sim_usb *m)
{
	m->state = D_IDLE;
	m->in_halted = m->out_halted = m->need_reset = false;
	m->feed_at_cancel = false;
	m->hung_bulk = m->hung_all = false;
	m->data_len = m->data_pos = 0;
	sim_target_reset(m->target);
}


static int do_control(struct sim_usb *m, struct ousb_xfer *x)
{
	uint8_t type = x->setup[0], req = x->setup[1];

	if (x->kind == OUSB_PORT_RESET) {
		m->stats.port_resets++;
		if (sim_usb_fault_hit(m, SIM_USB_PORT_RESET_FAIL))
			return OUSB_ERROR;
		device_reset(m);
		return OUSB_OK;
	}
	if (m->hung_all)
		return PENDING;
	if (x->kind == OUSB_CLEAR_HALT_IN || x->kind == OUSB_CLEAR_HALT_OUT) {
		if (x->kind == OUSB_CLEAR_HALT_IN) {
			m->stats.clear_halt_in++;
			m->in_halted = m->need_reset;
		} else {
			m->stats.clear_halt_out++;
			m->out_halted = m->need_reset;
		}
		return OUSB_OK;
	}
	if (type == 0xa1 && req == OUSB_REQ_GET_MAX_LUN && m->protocol == OUSB_PR_BOT) {
		m->stats.get_max_lun++;
		if (sim_usb_fault_hit(m, SIM_USB_MAXLUN_STALL))
			return OUSB_STALL;
		if (sim_usb_fault_hit(m, SIM_USB_MAXLUN_EMPTY))
			return OUSB_OK;
		if (sim_usb_fault_hit(m, SIM_USB_MAXLUN_TIMEOUT)) {
			x->impl_state = 1;   /* never answered: times out */
			return PENDING;
		}
		if (x->len < 1)
			return OUSB_STALL;
		x->buf[0] = sim_usb_fault_hit(m, SIM_USB_MAXLUN_BIG) ? 16 : (uint8_t)(m->nluns - 1);
		x->actual = 1;
		return OUSB_OK;
	}
	if (type == 0x21 && req == OUSB_REQ_BOMS_RESET && m->protocol == OUSB_PR_BOT) {
		m->stats.bot_resets++;
		if (sim_usb_fault_hit(m, SIM_USB_RESET_STALL))
			return OUSB_STALL;
		/* Ready for a CBW; the halts stay until the host clears them. */
		m->state = D_IDLE;
		m->need_reset = false;
		m->hung_bulk = false;
		m->data_len = m->data_pos = 0;
		return OUSB_OK;
	}
	if (type == 0x21 && req == OUSB_REQ_ADSC && m->protocol != OUSB_PR_BOT) {
		enum ousb_status st;

		if (!x->len || !x->buf)
			return OUSB_STALL;
		st = cb_adsc(m, x);
		if (st == OUSB_OK)
			x->actual = x->len;
		return st;
	}
	return OUSB_STALL;
}

/* QEMU's usb-storage (7.2) loses a CSW read that is already queued when
 * the data phase ends: the host controller fires it from inside the
 * completion of the data, the device parks it and never answers it.  A
 * read issued later is answered. */
static void lose_queued_csw(struct sim_usb *m, struct ousb_xfer *data)
{
	if (!cmd_fault(m, SIM_USB_CSW_LOST_QUEUED))
		return;
	for (struct ousb_xfer *x = data->impl_next; x; x = x->impl_next) {
		if (ep_of(x) == EP_IN) {
			x->impl_state = 1;
			return;
		}
	}
}

static int do_bulk_in(struct sim_usb *m, struct ousb_xfer *x)
{
	if (m->in_halted)
		return OUSB_STALL;
	if (m->hung_bulk || m->hung_all)
		return PENDING;
	if (m->protocol != OUSB_PR_BOT && m->stall_in_next) {
		m->stall_in_next = false;
		m->in_halted = true;
		return OUSB_STALL;
	}
	if (m->state == D_DATA_IN) {
		size_t left = m->data_len - m->data_pos;

		if (m->babble_data) {
			/* The device keeps sending past what was asked. */
			size_t n = OSTOR_MIN(left, x->len);

			memcpy(x->buf, m->data + m->data_pos, n);
			memset(x->buf + n, 0xa5, x->len - n);
			x->actual = x->len;
			m->data_pos = m->data_len;
			m->state = m->protocol == OUSB_PR_BOT ? D_STATUS : D_IDLE;
			if (m->protocol != OUSB_PR_BOT)
				cb_finish_phase(m);
			return OUSB_BABBLE;
		}
		if (left >= x->len) {
			memcpy(x->buf, m->data + m->data_pos, x->len);
			x->actual = x->len;
			m->data_pos += x->len;
			if (m->data_pos == m->data_len) {
				if (m->protocol == OUSB_PR_BOT) {
					m->state = D_STATUS;
					lose_queued_csw(m, x);
				} else {
					cb_finish_phase(m);
				}
			}
			return OUSB_OK;
		}
		memcpy(x->buf, m->data + m->data_pos, left);
		x->actual = left;
		m->data_pos = m->data_len;
		if (m->protocol == OUSB_PR_BOT)
			m->state = D_STATUS;
		else
			cb_finish_phase(m);
		if (m->stall_after_data || left % (m->protocol == OUSB_PR_BOT ? SIM_USB_MPS : 64) == 0) {
			m->stall_after_data = false;
			m->in_halted = true;
			return OUSB_STALL;
		}
		return OUSB_OK;
	}
	if (m->state == D_STATUS && m->protocol == OUSB_PR_BOT) {
		if (m->csw_stall_pending) {
			m->csw_stall_pending = false;
			m->in_halted = true;
			return OUSB_STALL;
		}
		if (m->zlp_pending) {
			m->zlp_pending = false;
			x->actual = 0;
			return OUSB_OK;
		}
		m->state = D_IDLE;
		memcpy(x->buf, m->csw, OSTOR_MIN(x->len, m->csw_len));
		x->actual = OSTOR_MIN(x->len, m->csw_len);
		return m->csw_len > x->len ? OUSB_BABBLE : OUSB_OK;
	}
	return PENDING;   /* nothing to send: NAK */
}

static int do_bulk_out(struct sim_usb *m, struct ousb_xfer *x)
{
	if (m->out_halted)
		return OUSB_STALL;
	if (m->hung_all)
		return PENDING;
	if (m->protocol == OUSB_PR_BOT && m->state == D_IDLE) {
		enum ousb_status st = bot_cbw(m, x);

		if (st == OUSB_OK)
			x->actual = x->len;
		return st;
	}
	if (m->state == D_DATA_OUT && m->out_stall_at && m->protocol == OUSB_PR_BOT &&
	    m->data_len + x->len > m->out_stall_at) {
		/* data-stall: a write error half-way - the device takes what
		 * fits before the stall, writes nothing and fails the command
		 * (CHECK CONDITION, MEDIUM ERROR / WRITE ERROR held for REQUEST
		 * SENSE, the residue the rest). */
		uint32_t h = ostori_get_le32(m->cbw + 8);
		uint8_t lun = m->cbw[13] & 0x0f;
		struct sim_cmd c;

		x->actual = m->out_stall_at - m->data_len;
		m->data_len = m->out_stall_at;
		m->out_stall_at = 0;
		sim_target_inject_check(m->target, lun, m->cbw[15], 1, OSTOR_SCSI_SENSE_MEDIUM_ERROR, 0x0c, 0x00);
		sim_usb_run_target(m, lun, m->cbw + 15, m->cbw[14] & 0x1f, OSTOR_DIR_TO_DEVICE, m->data, m->data_len, &c);
		bot_make_csw(m, (uint32_t)(h - m->data_len), bot_status(c.status));
		m->out_halted = true;
		return OUSB_STALL;
	}
	if (m->state == D_DATA_OUT) {
		size_t room = SIM_USB_MAX_TRANSFER - m->data_len;
		size_t n = OSTOR_MIN(room, x->len);

		memcpy(m->data + m->data_len, x->buf, n);
		m->data_len += n;
		x->actual = n;
		if (m->protocol == OUSB_PR_BOT) {
			if (m->data_len >= m->expect_out)
				bot_data_out_done(m);
		} else {
			struct sim_cmd c;
			size_t need = m->expect_out == SIZE_MAX ? m->data_len : m->expect_out;

			if (m->data_len >= need) {
				sim_usb_run_target(m, 0, m->cdb, 12, OSTOR_DIR_TO_DEVICE, m->data, need, &c);
				cb_finish_phase(m);
			}
		}
		return OUSB_OK;
	}
	if (m->protocol == OUSB_PR_BOT && m->state == D_DATA_IN) {
		/* Data-out while the device wants to send: stall. */
		m->out_halted = true;
		return OUSB_STALL;
	}
	return PENDING;
}

static int do_intr(struct sim_usb *m, struct ousb_xfer *x)
{
	if (m->hung_all || m->protocol != OUSB_PR_CBI || m->state != D_STATUS || m->intr_never)
		return PENDING;
	m->stats.intr_reports++;
	memcpy(x->buf, m->intr, OSTOR_MIN(x->len, m->intr_len));
	x->actual = OSTOR_MIN(x->len, m->intr_len);
	m->state = D_IDLE;
	return OUSB_OK;
}

/* Try to finish x now: a status, or PENDING (the device NAKs). */
static int process(struct sim_usb *m, struct ousb_xfer *x)
{
	if (m->unplugged)
		return OUSB_NO_DEVICE;
	if (x->impl_state == 2)
		return OUSB_CANCELLED;
	if (x->impl_state == 1)
		return PENDING;
	if (m->uas)
		return sim_uas_process(m, x);
	if (m->held && x->kind != OUSB_PORT_RESET)
		return PENDING;
	switch (ep_of(x)) {
	case EP_CTRL: return do_control(m, x);
	case EP_IN: return do_bulk_in(m, x);
	case EP_OUT: return do_bulk_out(m, x);
	case EP_TMR: return PENDING;   /* only its deadline ends it */
	default: return do_intr(m, x);
	}
}

static void unlink_xfer(struct sim_usb *m, struct ousb_xfer *x)
{
	struct ousb_xfer **pp, *prev = NULL;

	for (pp = &m->head; *pp; prev = *pp, pp = &(*pp)->impl_next) {
		if (*pp == x) {
			*pp = x->impl_next;
			if (m->tail == x)
				m->tail = prev;
			x->impl_next = NULL;
			return;
		}
	}
}

/* Complete at most one transfer that is ready; true if one was. */
static bool poll_one(struct sim_usb *m)
{
	uint64_t now = ostori_now_ms();
	unsigned int seen = 0;
	struct ousb_xfer *x;
	int st = PENDING;

	pthread_mutex_lock(&m->lock);
	/* Answered at submission (early-in-*, no data): ahead of everything.
	 * (UAS keeps states of its own in impl_state.) */
	for (x = m->uas ? NULL : m->head; x; x = x->impl_next)
		if (x->impl_state == IMPL_ANSWERED) {
			st = x->status;
			x->actual = 0;
			goto found;
		}
	for (x = m->head; x; x = x->impl_next) {
		unsigned int bit = 1u << ep_of(x);

		/* Only the oldest transfer of each endpoint can move, except
		 * that cancellations and timeouts hit any of them. */
		if (x->impl_state == 2 || m->unplugged) {
			st = m->unplugged ? OUSB_NO_DEVICE : OUSB_CANCELLED;
			break;
		}
		if (x->impl_state == 4) {
			st = OUSB_ERROR;   /* sent to a suspended device */
			break;
		}
		/* UAS: the model orders its pipes and streams itself. */
		if (m->uas || !(seen & bit)) {
			/* A late poll must not turn a ready answer into a
			 * timeout: try the device first. */
			seen |= bit;
			st = process(m, x);
			if (st != PENDING)
				break;
		}
		if (x->impl_deadline && now >= x->impl_deadline) {
			st = OUSB_TIMEOUT;
			break;
		}
	}
found:
	if (x) {
		unlink_xfer(m, x);
		x->status = (enum ousb_status)st;
		if (st == OUSB_TIMEOUT && ep_of(x) == EP_IN)
			x->actual = 0;
	} else {
		m->work = false;
	}
	pthread_mutex_unlock(&m->lock);
	if (!x)
		return false;
	x->done(x);
	return true;
}

static int model_poll(struct sim_usb *m)
{
	int n = 0;

	/* Bounded: a broken state machine cannot spin forever here. */
	while (n < 100000 && poll_one(m))
		n++;
	return n;
}

static int layer_submit(void *layer, struct ousb_xfer *x)
{
	struct sim_usb *m = layer;

	pthread_mutex_lock(&m->lock);
	if (x->kind == OUSB_PORT_RESET && sim_usb_fault_hit(m, SIM_USB_PORT_RESET_REFUSED)) {
		/* Not queued: the engine sees the refusal at once. */
		pthread_mutex_unlock(&m->lock);
		return -1;
	}
	x->impl_next = NULL;
	x->impl_state = 0;
	if (m->suspend_allowed) {
		/* The engine resumes before it submits: this must not happen. */
		m->stats.io_while_suspended++;
		x->impl_state = 4;
	}
	x->impl_deadline = x->timeout_ms ? ostori_now_ms() + x->timeout_ms : 0;
	/* A read ahead of the command block (CBW pipelining): answered at
	 * once, before the CBW queued ahead of it, as the faults say. */
	if (!m->uas && m->protocol == OUSB_PR_BOT && x->kind == OUSB_BULK_IN && m->state == D_IDLE &&
	    !m->early_answered && !x->impl_state) {
		if (sim_usb_fault_hit(m, SIM_USB_EARLY_IN_STALL)) {
			m->in_halted = true;
			x->status = OUSB_STALL;
			x->impl_state = IMPL_ANSWERED;
		} else if (sim_usb_fault_hit(m, SIM_USB_EARLY_IN_STALL_ONCE)) {
			x->status = OUSB_STALL;
			x->impl_state = IMPL_ANSWERED;
			m->feed_at_cancel = true;
		} else if (sim_usb_fault_hit(m, SIM_USB_EARLY_IN_ZLP)) {
			x->status = OUSB_OK;
			x->impl_state = IMPL_ANSWERED;
		}
		m->early_answered = x->impl_state == IMPL_ANSWERED;
	}
	if (m->tail)
		m->tail->impl_next = x;
	else
		m->head = x;
	m->tail = x;
	m->work = true;
	pthread_mutex_unlock(&m->lock);
	return 0;
}

static void layer_cancel(void *layer, struct ousb_xfer *x)
{
	struct sim_usb *m = layer;

	pthread_mutex_lock(&m->lock);
	for (struct ousb_xfer *p = m->head; p; p = p->impl_next) {
		if (p != x)
			continue;
		if (ep_of(x) == EP_IN && m->state == D_STATUS && m->protocol == OUSB_PR_BOT &&
		    cmd_fault(m, SIM_USB_CSW_AT_CANCEL) && x->len >= m->csw_len) {
			/* The CSW was on the wire as the host cancelled:
			 * the bytes arrive with the cancellation. */
			memcpy(x->buf, m->csw, m->csw_len);
			x->actual = m->csw_len;
			m->state = D_IDLE;
		}
		if (ep_of(x) == EP_IN && m->feed_at_cancel && m->state == D_DATA_IN && m->protocol == OUSB_PR_BOT) {
			/* early-in-stall-once: the read queued behind the
			 * stalled one was answered before the cancellation
			 * reached it - with the first bytes of the data. */
			size_t n = OSTOR_MIN(m->data_len - m->data_pos, x->len);

			memcpy(x->buf, m->data + m->data_pos, n);
			m->data_pos += n;
			x->actual = n;
			if (m->data_pos == m->data_len)
				m->state = D_STATUS;
			m->feed_at_cancel = false;
		}
		x->impl_state = 2;
		m->work = true;
	}
	pthread_mutex_unlock(&m->lock);
}

static int model_next_timeout(struct sim_usb *m)
{
	uint64_t now = ostori_now_ms(), best = 0;
	int r = -1;

	pthread_mutex_lock(&m->lock);
	if (m->work) {
		r = 0;
	} else {
		for (struct ousb_xfer *x = m->head; x; x = x->impl_next)
			if (x->impl_deadline && (!best || x->impl_deadline < best))
				best = x->impl_deadline;
		if (best)
			r = best <= now ? 0 : (int)OSTOR_MIN(best - now, 60000u);
	}
	pthread_mutex_unlock(&m->lock);
	return r;
}

static int layer_events(void *layer, int timeout_ms)
{
	struct sim_usb *m = layer;
	int n = model_poll(m), t;

	if (n || timeout_ms <= 0)
		return n;
	t = model_next_timeout(m);
	if (t < 0 || t > timeout_ms)
		t = timeout_ms;
	if (t > 0) {
		struct timespec ts = { .tv_sec = t / 1000, .tv_nsec = (long)(t % 1000) * 1000000L };

		nanosleep(&ts, NULL);
	}
	return model_poll(m);
}

static const struct ousb_ops sim_layer_ops = {
	.submit = layer_submit,
	.cancel = layer_cancel,
	.events = layer_events,
};

/* blocking=on: the engine takes the layer for one that runs small
 * commands' transfers blocking (as the libusb layer does on the only
 * device open), so its choices are tested here; the model still answers
 * them from its events, in order. */
static bool layer_can_block(void *layer)
{
	(void)layer;
	return true;
}

static const struct ousb_ops sim_layer_blocking_ops = {
	.submit = layer_submit,
	.cancel = layer_cancel,
	.events = layer_events,
	.can_block = layer_can_block,
};

/* ---- public white-box API ------------------------------------------------- */

void sim_usb_unplug(struct sim_usb *m)
{
	pthread_mutex_lock(&m->lock);
	m->unplugged = true;
	m->work = true;
	pthread_mutex_unlock(&m->lock);
	/* What is not on the wire must not wait for a poll either. */
	ousb_engine_gone(m->engine);
}

void sim_usb_hold(struct sim_usb *m, bool hold)
{
	pthread_mutex_lock(&m->lock);
	m->held = hold;
	m->work = true;
	pthread_mutex_unlock(&m->lock);
}

void sim_usb_get_stats(struct sim_usb *m, struct sim_usb_stats *s)
{
	pthread_mutex_lock(&m->lock);
	*s = m->stats;
	pthread_mutex_unlock(&m->lock);
}

struct sim_usb *sim_usb_of(ostor_device *dev)
{
	void *priv = ostori_sim_transport_priv(dev);
	struct sim_usb *m;

	if (!priv)
		return NULL;
	pthread_mutex_lock(&live_lock);
	for (m = live; m && m != priv; m = m->next_live)
		;
	pthread_mutex_unlock(&live_lock);
	return m;
}

struct ousb_engine *sim_usb_engine(struct sim_usb *m)
{
	return m->engine;
}

/* ---- selective suspend ------------------------------------------------------ */

static int model_set_suspend(void *arg, bool allow)
{
	struct sim_usb *m = arg;
	int r = 0;

	pthread_mutex_lock(&m->lock);
	if (m->unplugged)
		r = -ENODEV;
	else
		m->suspend_allowed = allow;
	pthread_mutex_unlock(&m->lock);
	return r;
}

struct ousb_suspend *sim_usb_suspend(struct sim_usb *m)
{
	return &m->suspend;
}

bool sim_usb_suspend_allowed(struct sim_usb *m)
{
	bool r;

	pthread_mutex_lock(&m->lock);
	r = m->suspend_allowed;
	pthread_mutex_unlock(&m->lock);
	return r;
}

/* bMaxPower of the models' configuration: 500 mA (Bulk-Only, high speed)
 * and 100 mA (CB/CBI, full speed), in 2 mA units. */
static uint8_t sim_max_power(const struct sim_usb *m)
{
	return m->protocol == OUSB_PR_BOT || m->protocol == OUSB_PR_UAS ? 250 : 50;
}

void sim_usb_power_attrs(struct sim_usb *m, struct sim_usb_power_attrs *a)
{
	pthread_mutex_lock(&m->lock);
	a->autosuspend = m->pm_auto;
	a->delay_ms = m->pm_delay_ms;
	a->max_power_ma = sim_max_power(m) * 2u;
	pthread_mutex_unlock(&m->lock);
}

void sim_usb_power_set_attrs(struct sim_usb *m, int autosuspend, int delay_ms)
{
	pthread_mutex_lock(&m->lock);
	if (autosuspend >= 0)
		m->pm_auto = autosuspend != 0;
	if (delay_ms >= 0)
		m->pm_delay_ms = delay_ms;
	pthread_mutex_unlock(&m->lock);
}

/* pid.codes test VID; one PID per transport. */
#define SIM_USB_VID 0x1209
static uint16_t sim_pid(uint8_t protocol)
{
	return protocol == OUSB_PR_BOT ? 0x0b07 : protocol == OUSB_PR_UAS ? 0x0a55
	       : protocol == OUSB_PR_CBI ? 0x0cb1 : 0x0cb0;
}

/* The target may stand for a bridge with ids of its own (sim:bridge=). */
static void sim_ids(struct sim_target *t, uint8_t protocol, uint16_t *vid, uint16_t *pid)
{
	if (!sim_target_usb_ids(t, vid, pid)) {
		*vid = SIM_USB_VID;
		*pid = sim_pid(protocol);
	}
}

void sim_usb_details(struct sim_usb *m, struct ostor_usb_details *d)
{
	sim_ids(m->target, m->protocol, &d->vendor_id, &d->product_id);
	snprintf(d->manufacturer, sizeof(d->manufacturer), "liborionstor");
	snprintf(d->product, sizeof(d->product), "simulated %s device",
		 m->protocol == OUSB_PR_BOT ? "Bulk-Only" : m->protocol == OUSB_PR_UAS ? "UAS"
		 : m->protocol == OUSB_PR_CBI ? "CBI" : "CB");
	snprintf(d->serial, sizeof(d->serial), "SIM%04X", (unsigned)(d->product_id));
	d->bus = 0;
	d->port = 0;
	d->devnum = 0;
	snprintf(d->speed, sizeof(d->speed), "%s", m->protocol == OUSB_PR_BOT ? "high"
		 : m->protocol == OUSB_PR_UAS ? (sim_uas_streams(m->uas) ? "super" : "high") : "full");
	d->max_packet_in = d->max_packet_out = m->protocol == OUSB_PR_BOT ? SIM_USB_MPS
		: m->protocol == OUSB_PR_UAS ? (sim_uas_streams(m->uas) ? 1024 : SIM_USB_MPS) : 64;
	d->simulated = 1;
}

/* ---- sim transport ops ----------------------------------------------------- */

static int parse_subclass(const char *v, uint8_t *out)
{
	static const struct { const char *n; uint8_t v; } t[] = {
		{ "rbc", OUSB_SC_RBC }, { "mmc", OUSB_SC_MMC }, { "ufi", OUSB_SC_UFI },
		{ "sff8070i", OUSB_SC_SFF }, { "scsi", OUSB_SC_SCSI },
	};

	for (size_t i = 0; i < OSTOR_ARRAY_SIZE(t); i++) {
		if (!strcmp(v, t[i].n)) {
			*out = t[i].v;
			return 0;
		}
	}
	return ostori_error(OSTOR_ERROR_BAD_SPEC,
			    "sim option subclass=%s: expected scsi, ufi, sff8070i, rbc or mmc", v);
}

static int opt_num(struct ostor_spec *spec, const char *key, uint64_t max, uint64_t *out)
{
	const struct ostor_spec_option *o = ostori_spec_get(spec, key);

	if (!o)
		return 0;
	if (!o->value || ostori_parse_u64(o->value, max, out) < 0)
		return ostori_error(OSTOR_ERROR_BAD_SPEC, "sim option %s=%s: expected a number up to %llu",
				    key, o->value ? o->value : "", (unsigned long long)max);
	return 1;
}

static void model_free(struct sim_usb *m)
{
	struct sim_usb **pp;

	pthread_mutex_lock(&live_lock);
	for (pp = &live; *pp; pp = &(*pp)->next_live) {
		if (*pp == m) {
			*pp = m->next_live;
			break;
		}
	}
	pthread_mutex_unlock(&live_lock);
	pthread_mutex_destroy(&m->lock);
	sim_uas_free(m->uas);
	free(m->data);
	free(m);
}

static int model_open(ostor_device *dev, struct sim_target *target, struct ostor_spec *spec,
		      void **priv, uint8_t protocol)
{
	struct ousb_engine_config ec = { .protocol = protocol, .subclass = OUSB_SC_SCSI,
					 .interface = 0, .pipeline = true };
	const struct ostor_spec_option *o;
	uint64_t count = 1, after = 0, tmo = 0, grace = 0, streams = 32;
	bool blocking = false;
	int faults[8], nfaults = 0;
	struct sim_usb *m;
	uint32_t luns[SIM_USB_LUNS];
	size_t nl;
	int r;

	if (protocol != OUSB_PR_BOT && protocol != OUSB_PR_UAS)
		ec.subclass = OUSB_SC_SFF;
	/* CB and CBI carry no LUN: a device of several has no way to say
	 * which one a command is for. */
	if (protocol != OUSB_PR_BOT && protocol != OUSB_PR_UAS && sim_target_lu_count(target) > 1)
		return ostori_error(OSTOR_ERROR_BAD_SPEC, "sim option luns=%zu: the %s transport addresses LUN 0 "
				    "only; use transport=usb-bot for several LUNs", sim_target_lu_count(target),
				    protocol == OUSB_PR_CBI ? "usb-cbi" : "usb-cb");
	if ((o = ostori_spec_get(spec, "subclass")) &&
	    (r = parse_subclass(o->value ? o->value : "", &ec.subclass)) < 0)
		return r;
	if ((o = ostori_spec_get(spec, "fault"))) {
		char buf[256], *save = NULL, *tok;

		snprintf(buf, sizeof(buf), "%s", o->value ? o->value : "");
		for (tok = strtok_r(buf, "+", &save); tok; tok = strtok_r(NULL, "+", &save)) {
			int f = sim_usb_fault_by_name(tok);

			if (f <= 0 || nfaults == (int)OSTOR_ARRAY_SIZE(faults)) {
				char names[1024];
				size_t n = 0;

				for (int i = 1; i < SIM_USB_FAULT_COUNT && n < sizeof(names); i++)
					n += (size_t)snprintf(names + n, sizeof(names) - n, "%s%s",
							      i > 1 ? ", " : "", fault_names[i]);
				return ostori_error(OSTOR_ERROR_BAD_SPEC,
						    "sim option fault=%s: unknown fault '%s' (up to 8, joined "
						    "with +); faults: %s", o->value ? o->value : "", tok, names);
			}
			faults[nfaults++] = f;
		}
	}
	if ((r = opt_num(spec, "fault-count", 1000000, &count)) < 0 ||
	    (r = opt_num(spec, "fault-after", 1000000, &after)) < 0 ||
	    (r = opt_num(spec, "usb-timeout", 3600000, &tmo)) < 0 ||
	    (r = opt_num(spec, "csw-grace", 600000, &grace)) < 0)
		return r;
	if (protocol == OUSB_PR_UAS) {
		if ((r = opt_num(spec, "streams", 256, &streams)) < 0)
			return r;
		if (streams == 1)
			return ostori_error(OSTOR_ERROR_BAD_SPEC, "sim option streams=1: 0 (none, high speed) or "
					    "2 to 256 (one for task management)");
		ec.streams = (unsigned int)streams;
	}
	ec.csw_grace_ms = (unsigned int)grace;
	if (tmo && tmo < 10)
		return ostori_error(OSTOR_ERROR_BAD_SPEC, "sim option usb-timeout=%llu: at least 10 ms",
				    (unsigned long long)tmo);
	ec.timeout_ms = (unsigned int)tmo;
	if ((o = ostori_spec_get(spec, "blocking"))) {
		if (o->value && (!strcmp(o->value, "on") || !strcmp(o->value, "1")))
			blocking = true;
		else if (!o->value || (strcmp(o->value, "off") && strcmp(o->value, "0")))
			return ostori_error(OSTOR_ERROR_BAD_SPEC, "sim option blocking=%s: expected on or off",
					    o->value ? o->value : "");
	}
	if ((o = ostori_spec_get(spec, "pipeline"))) {
		if (o->value && (!strcmp(o->value, "off") || !strcmp(o->value, "0")))
			ec.pipeline = false;
		else if (o->value && !strcmp(o->value, "cbw"))
			ec.pipeline_cbw = true;
		else if (!o->value || (strcmp(o->value, "on") && strcmp(o->value, "1")))
			return ostori_error(OSTOR_ERROR_BAD_SPEC, "sim option pipeline=%s: expected on, off or cbw",
					    o->value ? o->value : "");
	}
	/* The configuration file and the environment name devices by
	 * VID:PID: the models have theirs (see sim_usb_details). */
	{
		uint16_t vid, pid;

		sim_ids(target, protocol, &vid, &pid);
		r = ousb_quirks_resolve(vid, pid, ostori_usb_config(&dev->ctx->config)->quirks,
					getenv("ORIONSTOR_USB_QUIRKS"), &ec.quirks);
	}
	if (r < 0)
		return r;
	if ((o = ostori_spec_get(spec, "quirks"))) {
		char buf[256];

		snprintf(buf, sizeof(buf), "%s", o->value ? o->value : "");
		for (char *p = buf; *p; p++)
			if (*p == '+')
				*p = ',';
		if ((r = ousb_quirks_parse(buf, &ec.quirks)) < 0)
			return ostori_error_wrap(OSTOR_ERROR_BAD_SPEC, "sim option quirks=%s",
						 o->value ? o->value : "");
	}

	m = calloc(1, sizeof(*m));
	if (!m)
		return ostori_error(OSTOR_ERROR_NO_MEM, "out of memory");
	m->data = malloc(SIM_USB_MAX_TRANSFER);
	if (protocol == OUSB_PR_UAS && m->data && !(m->uas = sim_uas_new((unsigned int)streams))) {
		free(m->data);
		m->data = NULL;
	}
	if (!m->data) {
		free(m);
		return ostori_error(OSTOR_ERROR_NO_MEM, "out of memory");
	}
	pthread_mutex_init(&m->lock, NULL);
	m->dev = dev;
	m->target = target;
	m->protocol = protocol;
	m->subclass = ec.subclass;
	nl = sim_target_luns(target, luns, SIM_USB_LUNS);
	m->nluns = (uint8_t)OSTOR_MIN(nl, SIM_USB_LUNS);
	for (size_t i = 0; i < m->nluns; i++) {
		/* Cache block sizes so the model knows Do for writes. */
		uint8_t cdb[10] = { 0x25 }, rc[8];
		struct sim_cmd c;

		sim_usb_run_target(m, (uint8_t)i, cdb, sizeof(cdb), OSTOR_DIR_FROM_DEVICE, rc, sizeof(rc), &c);
		m->block_size[i] = c.status == 0 && c.transferred == 8 ? ostori_get_be32(rc + 4) : 512;
	}
	m->last_status = 0;
	for (int i = 0; i < nfaults; i++)
		m->faults[faults[i]] = (struct fault_arm){ .armed = true, .count = (unsigned)count,
							   .after = (unsigned)after };
	pthread_mutex_lock(&live_lock);
	m->next_live = live;
	live = m;
	pthread_mutex_unlock(&live_lock);

	dev->max_transfer_bytes = SIM_USB_MAX_TRANSFER;
	if (ec.quirks.flags & OUSB_Q_MAX_TRANSFER)
		dev->max_transfer_bytes = OSTOR_MIN(ec.quirks.max_transfer, SIM_USB_MAX_TRANSFER);
	dev->max_segments = OSTOR_IOV_MAX;
	dev->max_target = 0;
	dev->health_protocol = ousb_quirks_health_protocol(&ec.quirks);
	/* Like a fresh kernel device: power/control "on", 2 s delay. */
	m->pm_delay_ms = 2000;
	ousb_suspend_init(&m->suspend, dev, model_set_suspend, m);
	ec.suspend = &m->suspend;
	r = ousb_engine_new(dev, blocking ? &sim_layer_blocking_ops : &sim_layer_ops, m, &ec, &m->engine);
	if (r < 0) {
		ousb_suspend_destroy(&m->suspend);
		model_free(m);
		return r;
	}
	ousb_suspend_add_engine(&m->suspend, m->engine);
	r = ousb_engine_probe(m->engine);
	if (r < 0) {
		ousb_suspend_destroy(&m->suspend);
		ousb_engine_free(m->engine);
		model_free(m);
		return r;
	}
	dev->max_lun = ousb_engine_max_lun(m->engine);
	if (ostori_usb_config(&dev->ctx->config)->power_management_enabled)
		ousb_suspend_manage(&m->suspend, true, ostori_usb_config(&dev->ctx->config)->power_idle_ms);
	*priv = m;
	return 0;
}

static int open_bot(ostor_device *dev, struct sim_target *t, struct ostor_spec *s, void **p)
{
	return model_open(dev, t, s, p, OUSB_PR_BOT);
}

static int open_cbi(ostor_device *dev, struct sim_target *t, struct ostor_spec *s, void **p)
{
	return model_open(dev, t, s, p, OUSB_PR_CBI);
}

static int open_cb(ostor_device *dev, struct sim_target *t, struct ostor_spec *s, void **p)
{
	return model_open(dev, t, s, p, OUSB_PR_CB);
}

static int open_uas(ostor_device *dev, struct sim_target *t, struct ostor_spec *s, void **p)
{
	return model_open(dev, t, s, p, OUSB_PR_UAS);
}

static void model_close(ostor_device *dev, void *priv)
{
	struct sim_usb *m = priv;

	ousb_suspend_destroy(&m->suspend);
	ousb_engine_free(m->engine);
	model_free(m);
}

static int model_submit(ostor_task *t, void *priv)
{
	return ousb_engine_submit(((struct sim_usb *)priv)->engine, t);
}

static int model_cancel(ostor_task *t, void *priv)
{
	return ousb_engine_cancel(((struct sim_usb *)priv)->engine, t);
}

static void model_lun_limits(ostor_device *dev, void *priv, uint32_t target, uint32_t lun, uint32_t block_size,
			     uint64_t max_bytes)
{
	(void)dev;
	(void)target;
	ousb_engine_lun_limits(((struct sim_usb *)priv)->engine, lun, block_size, max_bytes);
}

static int hook_poll(ostor_device *dev, void *priv)
{
	struct sim_usb *m = priv;

	ousb_suspend_tick(&m->suspend, ostori_now_ms());
	return model_poll(m);
}

static int hook_next_timeout(ostor_device *dev, void *priv)
{
	struct sim_usb *m = priv;
	int t = model_next_timeout(m), p = ousb_suspend_next_ms(&m->suspend, ostori_now_ms());

	return t < 0 ? p : p < 0 ? t : OSTOR_MIN(t, p);
}

static int model_reset(ostor_device *dev, void *priv, enum ostor_reset_level level, uint32_t target,
		       uint32_t lun)
{
	return ousb_device_reset(dev, level, target, lun);
}

static int model_counters(ostor_device *dev, void *priv, struct ostor_counter *out, int max)
{
	struct sim_usb *m = priv;
	struct sim_usb_stats st;
	int n = 0;

	struct ousb_suspend_state ss;

	ousb_engine_counters(m->engine, out, max, &n);
	ousb_suspend_get(&m->suspend, &ss);
	ostori_counter_add(out, max, &n, "usb_power_suspends_allowed", ss.suspends_allowed);
	ostori_counter_add(out, max, &n, "usb_power_resumes", ss.resumes);
	sim_usb_get_stats(m, &st);
	ostori_counter_add(out, max, &n, "sim_usb_bot_resets", st.bot_resets);
	ostori_counter_add(out, max, &n, "sim_usb_cb_resets", st.cb_resets);
	ostori_counter_add(out, max, &n, "sim_usb_clear_halts", st.clear_halt_in + st.clear_halt_out);
	ostori_counter_add(out, max, &n, "sim_usb_port_resets", st.port_resets);
	ostori_counter_add(out, max, &n, "sim_usb_invalid_cbws", st.invalid_cbws);
	if (m->uas) {
		ostori_counter_add(out, max, &n, "sim_usb_uas_command_ius", st.uas_command_ius);
		ostori_counter_add(out, max, &n, "sim_usb_uas_tmf_ius", st.uas_tmf_ius);
		ostori_counter_add(out, max, &n, "sim_usb_uas_outstanding_max", st.uas_outstanding_max);
	}
	return n;
}

static int model_tuning(ostor_device *dev, void *priv, struct ostori_setting *out, int max)
{
	int n = 0;

	ostori_setting_add(out, max, &n, "max_transfer_bytes", "the simulated device's limit, quirk max-transfer",
			   "%zu", dev->max_transfer_bytes);
	ousb_engine_tuning(((struct sim_usb *)priv)->engine, out, max, &n);
	return n;
}

static const struct sim_transport_ops usb_bot = {
	.name = "usb-bot", .options = SIM_USB_OPTIONS, .open = open_bot, .close = model_close,
	.submit = model_submit, .cancel = model_cancel, .reset = model_reset, .poll = hook_poll,
	.next_timeout = hook_next_timeout, .counters = model_counters, .tuning = model_tuning,
	.lun_limits = model_lun_limits,
};
static const struct sim_transport_ops usb_cbi = {
	.name = "usb-cbi", .options = SIM_USB_OPTIONS, .open = open_cbi, .close = model_close,
	.submit = model_submit, .cancel = model_cancel, .reset = model_reset, .poll = hook_poll,
	.next_timeout = hook_next_timeout, .counters = model_counters, .tuning = model_tuning,
	.lun_limits = model_lun_limits,
};
static const struct sim_transport_ops usb_cb = {
	.name = "usb-cb", .options = SIM_USB_OPTIONS, .open = open_cb, .close = model_close,
	.submit = model_submit, .cancel = model_cancel, .reset = model_reset, .poll = hook_poll,
	.next_timeout = hook_next_timeout, .counters = model_counters, .tuning = model_tuning,
	.lun_limits = model_lun_limits,
};

static const struct sim_transport_ops usb_uas = {
	.name = "usb-uas", .options = SIM_USB_OPTIONS ", streams=N", .open = open_uas, .close = model_close,
	.submit = model_submit, .cancel = model_cancel, .reset = model_reset, .poll = hook_poll,
	.next_timeout = hook_next_timeout, .counters = model_counters, .tuning = model_tuning,
	.lun_limits = model_lun_limits,
};

const struct sim_transport_ops *const ostori_sim_usb_transports[] = { &usb_bot, &usb_cbi, &usb_cb, &usb_uas,
								       NULL };
