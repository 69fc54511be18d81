/*
 * lib/sim/spc.c - the simulated target's SPC-4 commands: INQUIRY and its
 * VPD pages, REPORT LUNS, REQUEST SENSE, MODE SENSE/SELECT with the mode
 * pages, TEST UNIT READY; and the sense data every CHECK CONDITION returns
 * (fixed and descriptor format, the ATA registers of a SAT bridge, unit
 * attentions).  LOG SENSE and SEND DIAGNOSTIC are in logpages.c.
 *
 * The handlers run under the target mutex, called from the dispatch table
 * of target.c once the LU, unit attentions and CDB length are checked.
 * CDBs and parameter lists are hostile: lengths are bounded by what the
 * command defines and by the buffers the transport handed us.
 *
 * Copyright (C) 2026 The liborionstor authors.  LGPL-2.1-or-later.
 */
#include "sim/target_priv.h"

#include <string.h>

/* ---- sense -------------------------------------------------------------- */

/* Fixed format, 18 bytes.  The 4-byte INFORMATION field cannot hold a
 * larger value: then VALID stays 0 (SPC-4 4.5.3). */
size_t sim_sense_fixed(const struct sim_sense *s, uint8_t *buf)
{
	memset(buf, 0, 18);
	buf[0] = 0x70;
	if (s->ata) {
		/* SAT-3 fixed format: ERROR, STATUS, DEVICE, COUNT in the
		 * INFORMATION field, LBA in COMMAND-SPECIFIC INFORMATION
		 * (28-bit registers: EXTEND and the upper-nonzero bits 0). */
		buf[0] |= 0x80;
		buf[3] = s->regs.error;
		buf[4] = s->regs.status;
		buf[5] = s->regs.device;
		buf[6] = s->regs.count;
		buf[9] = s->regs.lba_low;
		buf[10] = s->regs.lba_mid;
		buf[11] = s->regs.lba_high;
	} else if (s->info_valid && s->info <= 0xffffffffu) {
		buf[0] |= 0x80;
		ostori_put_be32(buf + 3, (uint32_t)s->info);
	}
	buf[2] = s->key & 0x0f;
	buf[7] = 10;
	buf[12] = s->asc;
	buf[13] = s->ascq;
	if (s->sksv)
		memcpy(buf + 15, s->sks, 3);
	return 18;
}

/* Descriptor format: header, information, sense-key specific and ATA
 * status return descriptors (at most 42 bytes). */
size_t sim_sense_desc(const struct sim_sense *s, uint8_t *buf)
{
	size_t p = 8;

	memset(buf, 0, 42);
	buf[0] = 0x72;
	buf[1] = s->key & 0x0f;
	buf[2] = s->asc;
	buf[3] = s->ascq;
	if (s->info_valid) {
		buf[p] = 0x00;
		buf[p + 1] = 0x0a;
		buf[p + 2] = 0x80;
		ostori_put_be64(buf + p + 4, s->info);
		p += 12;
	}
	if (s->sksv) {
		buf[p] = 0x02;
		buf[p + 1] = 0x06;
		memcpy(buf + p + 4, s->sks, 3);
		p += 8;
	}
	if (s->ata) {
		/* ATA Status Return (SAT-3 12.2.2.7), EXTEND 0 */
		buf[p] = 0x09;
		buf[p + 1] = 0x0c;
		buf[p + 3] = s->regs.error;
		buf[p + 5] = s->regs.count;
		buf[p + 7] = s->regs.lba_low;
		buf[p + 9] = s->regs.lba_mid;
		buf[p + 11] = s->regs.lba_high;
		buf[p + 12] = s->regs.device;
		buf[p + 13] = s->regs.status;
		p += 14;
	}
	buf[7] = (uint8_t)(p - 8);
	return p;
}

/* The pending unit attention to report first (UA_* order) as sense in s;
 * consume clears it. */
bool sim_take_ua(struct sim_lu *lu, struct sim_sense *s, bool consume)
{
	unsigned int bit;

	if (!lu->ua)
		return false;
	memset(s, 0, sizeof(*s));
	s->key = OSTOR_SCSI_SENSE_UNIT_ATTENTION;
	if (lu->ua & UA_RESET) {
		bit = UA_RESET;
		s->asc = ASC_RESET;
	} else if (lu->ua & UA_MEDIUM) {
		bit = UA_MEDIUM;
		s->asc = ASC_MEDIUM_CHANGED;
	} else if (lu->ua & UA_CAPACITY) {
		bit = UA_CAPACITY;
		s->asc = ASC_PARAMS_CHANGED;
		s->ascq = 0x09;
	} else {
		return false;
	}
	if (consume)
		lu->ua &= ~bit;
	return true;
}

/* ---- INQUIRY, REPORT LUNS, REQUEST SENSE -------------------------------- */

static void pad_copy(uint8_t *dst, const char *src, size_t n)
{
	size_t l = strlen(src);

	memset(dst, ' ', n);
	memcpy(dst, src, OSTOR_MIN(l, n));
}

static size_t vpd_page(struct exec *x, uint8_t page, uint8_t *buf)
{
	struct sim_lu *lu = x->lu;
	bool disk = lu->type == OSTOR_TYPE_DISK;
	size_t len, slen = strlen(lu->serial);
	uint8_t *d;

	memset(buf, 0, 4);
	buf[0] = (uint8_t)lu->type;
	buf[1] = page;
	switch (page) {
	case 0x00:
		len = 0;
		buf[4 + len++] = 0x00;
		buf[4 + len++] = 0x80;
		buf[4 + len++] = 0x83;
		if (lu->ata == SIM_ATA_SAT)
			buf[4 + len++] = 0x89;
		if (disk) {
			buf[4 + len++] = 0xb0;
			buf[4 + len++] = 0xb1;
			buf[4 + len++] = 0xb2;
		}
		break;
	case 0x80:
		len = slen;
		memcpy(buf + 4, lu->serial, slen);
		break;
	case 0x83:
		d = buf + 4;
		/* NAA 3 (locally assigned), binary, associated with the LU */
		d[0] = 0x01;
		d[1] = 0x03;
		d[2] = 0;
		d[3] = 8;
		ostori_put_be64(d + 4, lu->naa);
		d += 12;
		/* T10 vendor ID: vendor, product, serial, ASCII */
		d[0] = 0x02;
		d[1] = 0x01;
		d[2] = 0;
		d[3] = (uint8_t)(24 + slen);
		pad_copy(d + 4, lu->vendor, 8);
		pad_copy(d + 12, lu->product, 16);
		memcpy(d + 28, lu->serial, slen);
		len = 12 + 4 + 24 + slen;
		break;
	case 0x89:
		if (lu->ata != SIM_ATA_SAT)
			return 0;
		return sim_vpd_ata_info(x, buf);
	case 0xb0:
		if (!disk)
			return 0;
		len = 0x3c;
		memset(buf + 4, 0, len);
		buf[4] = 0x01;                         /* WSNZ */
		buf[5] = (uint8_t)caw_limit(lu);       /* MAXIMUM COMPARE AND WRITE LENGTH */
		ostori_put_be16(buf + 6, 1);                  /* optimal granularity */
		ostori_put_be32(buf + 8, lu->max_transfer);
		if (!lu->thick) {                             /* no UNMAP when fully provisioned */
			ostori_put_be32(buf + 20, SIM_MAX_UNMAP_LBA_COUNT);
			ostori_put_be32(buf + 24, SIM_MAX_UNMAP_DESCRIPTORS);
			ostori_put_be32(buf + 28, 1);         /* unmap granularity */
			ostori_put_be32(buf + 32, 0x80000000u); /* UGAVALID, alignment 0 */
		}
		ostori_put_be64(buf + 36, SIM_MAX_WRITE_SAME_LEN);
		break;
	case 0xb1:
		if (!disk)
			return 0;
		len = 0x3c;
		memset(buf + 4, 0, len);
		ostori_put_be16(buf + 4, 1);                  /* non-rotating medium */
		break;
	case 0xb2:
		if (!disk)
			return 0;
		len = 4;
		memset(buf + 4, 0, len);
		if (!lu->thick) {
			buf[5] = 0x80 | 0x40 | 0x20 | 0x04; /* LBPU LBPWS LBPWS10 LBPRZ */
			buf[6] = 0x02;                      /* thin provisioned */
		}                                           /* else fully provisioned: all 0 */
		break;
	default:
		return 0;
	}
	ostori_put_be16(buf + 2, (uint16_t)len);
	return 4 + len;
}

void sim_cmd_inquiry(struct exec *x)
{
	const uint8_t *c = x->cdb;
	struct sim_lu *lu = x->lu;
	uint8_t buf[SIM_VPD89_LEN];
	size_t len;

	if (c[1] & 0x02) {                    /* CMDDT (obsolete) */
		bad_cdb(x, 1, 1);
		return;
	}
	if (c[1] & 0x01) {
		if (!lu) {
			fail(x, OSTOR_SCSI_SENSE_ILLEGAL_REQUEST,
			     ASC_LUN_NOT_SUPPORTED, 0);
			return;
		}
		len = vpd_page(x, c[2], buf);
		if (!len) {
			bad_cdb(x, 2, -1);
			return;
		}
		sim_data_in(x, buf, len, ostori_get_be16(c + 3));
		return;
	}
	if (c[2]) {
		bad_cdb(x, 2, -1);
		return;
	}
	len = 96;
	memset(buf, 0, len);
	/* No LU: peripheral qualifier 3, type 1Fh (SPC-4 6.4.2). */
	buf[0] = lu ? (uint8_t)lu->type : 0x7f;
	buf[1] = lu && lu->removable ? 0x80 : 0;
	buf[2] = 0x06;                        /* SPC-4 */
	buf[3] = 0x02;                        /* response data format 2 */
	buf[4] = (uint8_t)(len - 5);
	buf[7] = 0x02;                        /* CMDQUE */
	pad_copy(buf + 8, lu ? lu->vendor : "ORIONSTR", 8);
	pad_copy(buf + 16, lu ? lu->product : "SIM TARGET", 16);
	pad_copy(buf + 32, lu ? lu->revision : "0001", 4);
	ostori_put_be16(buf + 58, 0x00a0);           /* SAM-5 */
	ostori_put_be16(buf + 60, 0x0460);           /* SPC-4 */
	if (lu)
		ostori_put_be16(buf + 62, lu->type == OSTOR_TYPE_DISK ?
			 0x04c0 : 0x04e0);    /* SBC-3 / MMC-6 */
	sim_data_in(x, buf, len, ostori_get_be16(c + 3));
}

static void encode_lun(uint32_t lun, uint8_t *e)
{
	memset(e, 0, 8);
	if (lun < 256) {
		e[1] = (uint8_t)lun;          /* peripheral device addressing */
	} else {
		e[0] = (uint8_t)(0x40 | (lun >> 8)); /* flat space addressing */
		e[1] = (uint8_t)lun;
	}
}

void sim_cmd_report_luns(struct exec *x)
{
	struct sim_target *t = x->t;
	uint8_t sel = x->cdb[2], e[8];
	size_t n, resp, len, m;

	/* 00h all, 01h well-known only (we have none), 02h all */
	if (sel > 2) {
		bad_cdb(x, 2, -1);
		return;
	}
	n = sel == 1 ? 0 : t->nlus;
	resp = 8 + 8 * n;
	len = OSTOR_MIN(resp, (size_t)ostori_get_be32(x->cdb + 6));
	if (!sim_data_in_ok(x, len))
		return;
	m = OSTOR_MIN(len, x->total);
	/* The LUN LIST LENGTH is always the full list (SPC-4 6.33). */
	memset(e, 0, sizeof(e));
	ostori_put_be32(e, (uint32_t)(8 * n));
	sim_copy_to_iov(x, 0, e, OSTOR_MIN(m, (size_t)8));
	for (size_t i = 0; i < n && 8 + 8 * i < m; i++) {
		encode_lun(t->lus[i]->lun, e);
		sim_copy_to_iov(x, 8 + 8 * i, e, OSTOR_MIN(m - (8 + 8 * i), (size_t)8));
	}
	x->cmd->transferred = m;
	if (len > x->total)
		x->cmd->overrun = true;
}

void sim_cmd_request_sense(struct exec *x)
{
	struct sim_lu *lu = x->lu;
	bool desc = x->cdb[1] & 0x01;
	struct sim_sense s;
	uint8_t buf[48];
	size_t len;
	int src = 0;

	memset(&s, 0, sizeof(s));
	if (!lu) {
		/* GOOD status with the reason (SPC-4 6.39). */
		s.key = OSTOR_SCSI_SENSE_ILLEGAL_REQUEST;
		s.asc = ASC_LUN_NOT_SUPPORTED;
	} else if (lu->held) {
		s = lu->held_sense;
		src = 1;
	} else if (sim_take_ua(lu, &s, false)) {
		src = 2;
	} else if (!sim_ie_sense(lu, &s)) {
		/* Else the low power condition, if any (SPC-4 5.12.1). */
		sim_power_sense(lu, &s);
	}
	len = desc ? sim_sense_desc(&s, buf) : sim_sense_fixed(&s, buf);
	/* Check the buffer before consuming anything. */
	if (!sim_data_in_ok(x, OSTOR_MIN(len, (size_t)x->cdb[4])))
		return;
	if (src == 1) {
		lu->held = false;
	} else if (src == 2) {
		sim_take_ua(lu, &s, true);
		x->t->stats.unit_attentions++;
	}
	sim_data_in(x, buf, len, x->cdb[4]);
}

/* ---- mode pages --------------------------------------------------------- */

#define PC_CURRENT 0
#define PC_CHANGEABLE 1
#define PC_DEFAULT 2
#define PC_SAVED 3

/* Build one page; returns its length or 0 for an unsupported page.
 * Saved values: the caching and power condition pages keep theirs (in
 * memory, for the life of the target); the others cannot change, so
 * their saved values are the current ones.  PS is set on every page. */
static size_t mode_page(const struct sim_lu *lu, uint8_t page, int pc, uint8_t *p)
{
	switch (page) {
	case 0x08:                             /* caching */
		memset(p, 0, 20);
		p[0] = 0x80 | 0x08;
		p[1] = 0x12;
		if (pc == PC_CHANGEABLE || pc == PC_DEFAULT ||
		    (pc == PC_CURRENT && lu->wce) || (pc == PC_SAVED && lu->wce_saved))
			p[2] = 0x04;           /* WCE */
		return 20;
	case 0x0a:                             /* control */
		memset(p, 0, 12);
		p[0] = 0x80 | 0x0a;
		p[1] = 0x0a;
		if (pc != PC_CHANGEABLE) {
			p[2] = 0x02;           /* GLTSD, D_SENSE 0 */
			p[3] = 0x10;           /* unrestricted reordering */
		}
		return 12;
	case 0x1a:                             /* power condition (power.c) */
		return sim_power_mode_page(lu, pc, p);
	case 0x1c:                             /* informational exceptions */
		memset(p, 0, 12);
		p[0] = 0x80 | 0x1c;
		p[1] = 0x0a;
		/* DEXCPT 0, MRIE 6: report on request only (REQUEST
		 * SENSE, logpages.c), nothing changeable. */
		if (pc != PC_CHANGEABLE)
			p[3] = 0x06;
		return 12;
	default:
		return 0;
	}
}

void sim_cmd_mode_sense(struct exec *x)
{
	static const uint8_t all[] = { 0x08, 0x0a, 0x1a, 0x1c };
	const uint8_t *c = x->cdb;
	struct sim_lu *lu = x->lu;
	bool six = x->op == OSTOR_SCSI_OP_MODE_SENSE6;
	bool dbd = c[1] & 0x08, llbaa = !six && (c[1] & 0x10);
	int pc = c[2] >> 6;
	uint8_t page = c[2] & 0x3f, sub = c[3], buf[160], *p;
	size_t hdr = six ? 4 : 8, bdlen = dbd ? 0 : llbaa ? 16 : 8, total;
	uint64_t blocks = lu->present && lu->loaded ? lu->blocks : 0;

	if (sub != 0 && sub != 0xff) {        /* no subpages here */
		bad_cdb(x, 3, -1);
		return;
	}
	memset(buf, 0, hdr + bdlen);
	p = buf + hdr + bdlen;
	if (page == 0x3f) {
		for (size_t i = 0; i < OSTOR_ARRAY_SIZE(all); i++)
			p += mode_page(lu, all[i], pc, p);
	} else {
		size_t n = mode_page(lu, page, pc, p);

		if (!n) {
			bad_cdb(x, 2, 5);
			return;
		}
		p += n;
	}
	total = (size_t)(p - buf);
	if (bdlen && pc != PC_CHANGEABLE) {   /* nothing in it is changeable */
		uint8_t *bd = buf + hdr;

		if (bdlen == 16) {
			ostori_put_be64(bd, blocks);
			ostori_put_be32(bd + 12, lu->block_size);
		} else {
			ostori_put_be32(bd, sat32(blocks));
			ostori_put_be24(bd + 5, lu->block_size);
		}
	}
	/* WP for read-only media (cdrom included); DPOFUA: FUA honoured. */
	if (six) {
		buf[0] = (uint8_t)(total - 1);
		buf[2] = (uint8_t)((lu->readonly ? 0x80 : 0) | 0x10);
		buf[3] = (uint8_t)bdlen;
	} else {
		ostori_put_be16(buf, (uint16_t)(total - 2));
		buf[3] = (uint8_t)((lu->readonly ? 0x80 : 0) | 0x10);
		buf[4] = bdlen == 16 ? 0x01 : 0;      /* LONGLBA */
		ostori_put_be16(buf + 6, (uint16_t)bdlen);
	}
	sim_data_in(x, buf, total, six ? c[4] : ostori_get_be16(c + 7));
}

void sim_cmd_mode_select(struct exec *x)
{
	const uint8_t *c = x->cdb;
	struct sim_lu *lu = x->lu;
	bool six = x->op == OSTOR_SCSI_OP_MODE_SELECT6;
	size_t plen = six ? c[4] : ostori_get_be16(c + 7), hdr = six ? 4 : 8, bdlen, off;
	uint8_t *p = x->t->scratch, cur[64], mask[64];
	bool save = c[1] & 0x01;
	int new_wce = -1;
	size_t power_off = 0;

	if (plen == 0)
		return;
	if (!(c[1] & 0x10)) {                 /* PF = 0: vendor format */
		bad_cdb(x, 1, 4);
		return;
	}
	if (!sim_data_out_ok(x, plen))
		return;
	sim_copy_from_iov(x, p, plen);
	x->cmd->transferred = plen;
	if (plen < hdr) {
		bad_param_len(x);
		return;
	}
	if (p[six ? 1 : 2]) {                 /* medium type */
		bad_param(x, six ? 1 : 2, -1);
		return;
	}
	bdlen = six ? p[3] : ostori_get_be16(p + 6);
	if (bdlen != 0 && bdlen != ((!six && (p[4] & 0x01)) ? 16u : 8u)) {
		bad_param(x, six ? 3 : 6, -1);
		return;
	}
	if (plen - hdr < bdlen) {
		bad_param_len(x);
		return;
	}
	if (bdlen) {
		const uint8_t *bd = p + hdr;
		uint64_t nb = bdlen == 16 ? ostori_get_be64(bd) : ostori_get_be32(bd);
		uint32_t bl = bdlen == 16 ? ostori_get_be32(bd + 12) : ostori_get_be24(bd + 5);
		uint64_t cur_nb = bdlen == 16 ? lu->blocks : sat32(lu->blocks);

		/* 0 keeps the capacity; resizing is not supported. */
		if (nb != 0 && nb != cur_nb) {
			bad_param(x, (unsigned int)hdr, -1);
			return;
		}
		if (bl != lu->block_size) {
			bad_param(x, (unsigned int)(hdr + (bdlen == 16 ? 12 : 5)), -1);
			return;
		}
	}
	/* Validate every page before applying anything. */
	for (off = hdr + bdlen; off < plen;) {
		uint8_t pg = p[off] & 0x3f;
		size_t len, n;

		if (plen - off < 2) {
			bad_param_len(x);
			return;
		}
		if (p[off] & 0x40) {          /* SPF: no subpages here */
			bad_param(x, (unsigned int)off, 6);
			return;
		}
		len = (size_t)p[off + 1] + 2;
		if (plen - off < len) {
			bad_param_len(x);
			return;
		}
		n = mode_page(lu, pg, PC_CURRENT, cur);
		if (!n) {
			bad_param(x, (unsigned int)off, 5);
			return;
		}
		if (n != len) {
			bad_param(x, (unsigned int)off + 1, -1);
			return;
		}
		mode_page(lu, pg, PC_CHANGEABLE, mask);
		for (size_t i = 2; i < len; i++) {
			uint8_t diff = (uint8_t)((p[off + i] ^ cur[i]) & ~mask[i]);

			if (diff) {
				int bit = 7;

				while (!(diff & (1u << bit)))
					bit--;
				bad_param(x, (unsigned int)(off + i), bit);
				return;
			}
		}
		if (pg == 0x08)
			new_wce = !!(p[off + 2] & 0x04);
		if (pg == 0x1a)
			power_off = off;
		off += len;
	}
	/* SP: the pages sent become the saved ones too. */
	if (new_wce >= 0) {
		lu->wce = new_wce;
		if (save)
			lu->wce_saved = new_wce;
	}
	if (power_off)
		sim_power_mode_select(lu, p + power_off, save);
}

/* ---- TEST UNIT READY ---------------------------------------------------- */

void sim_cmd_test_unit_ready(struct exec *x)
{
	sim_lu_ready(x);
}
