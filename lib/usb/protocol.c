/*
 * lib/usb/protocol.c - commands fitted to the device before they go on
 * the wire, and answers fixed after: the rules of the UFI and SFF-8070i
 * subclasses (12-byte packets, no 6-byte READ/WRITE, the allocation
 * lengths they insist on) and the quirks (SYNCHRONIZE CACHE completed
 * locally, READ CAPACITY(10) answered from (16), capacities one block
 * too large).
 *
 * Runs with the engine lock held, from the task entry and the task
 * completion of engine.c.
 */
#include "usb/engine_priv.h"
#include "util/byteorder.h"

#include <string.h>

/* ---- fitting commands to the device ------------------------------------- */

/* Turn a task into the wire command, applying subclass rules and quirks.
 * Returns false when the task was completed here. */
bool ousb_prepare(struct ousb_engine *e, ostor_task *t)
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

/* ---- fixing answers ----------------------------------------------------- */

/* Answer READ CAPACITY(10) from the (16) data, saturating (the
 * read-cap-16 quirk).  Returns the bytes given to the task: 0, and the
 * outcome failed, when the device sent too little. */
size_t ousb_rc16_to_rc10(struct ousb_engine *e, ostor_task *t, size_t xfer)
{
	struct outcome *o = &e->out;
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
		xfer = ousb_copy_out(t, rc10, OSTOR_MIN(sizeof(rc10), t->data_len));
	} else {
		o->res = OSTOR_RESULT_TRANSPORT_ERROR;
		xfer = 0;
	}
	return xfer;
}

void ousb_fix_capacity_data(struct ousb_engine *e, ostor_task *t)
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

size_t ousb_cdb_alloc_len(const uint8_t *cdb, size_t len)
{
	switch (cdb[0]) {
	case 0x03: /* REQUEST SENSE */
	case 0x1a: /* MODE SENSE(6) */
		return len >= 6 ? cdb[4] : 0;
	case 0x12: /* INQUIRY */
		return len >= 6 ? ostori_get_be16(cdb + 3) : 0;
	case 0x5a: /* MODE SENSE(10) */
	case 0x4d: /* LOG SENSE */
		return len >= 10 ? ostori_get_be16(cdb + 7) : 0;
	case 0xa0: /* REPORT LUNS */
		return len >= 12 ? ostori_get_be32(cdb + 6) : 0;
	case 0x9e: /* SERVICE ACTION IN(16): READ CAPACITY(16) */
		return len >= 16 && (cdb[1] & 0x1f) == 0x10 ? ostori_get_be32(cdb + 10) : 0;
	/* READ: blocks of at least 512 bytes, a lower bound of the bytes
	 * (enough to tell a buffer too small for them). */
	case 0x08: /* READ(6): 0 means 256 blocks */
		return len >= 6 ? (size_t)(cdb[4] ? cdb[4] : 256) * 512 : 0;
	case 0x28: /* READ(10) */
		return len >= 10 ? (size_t)ostori_get_be16(cdb + 7) * 512 : 0;
	case 0xa8: /* READ(12) */
		return len >= 12 ? (size_t)ostori_get_be32(cdb + 6) * 512 : 0;
	case 0x88: /* READ(16) */
		return len >= 16 ? (size_t)ostori_get_be32(cdb + 10) * 512 : 0;
	default:
		return 0;
	}
}
