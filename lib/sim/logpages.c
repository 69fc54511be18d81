/*
 * lib/sim/logpages.c - the simulated target's health as native SCSI
 * reports it: LOG SENSE (supported pages 00h and 00h/FFh, Temperature 0Dh,
 * Self-Test Results 10h, Background Scan Results 15h, Informational
 * Exceptions 2Fh), SEND DIAGNOSTIC self-tests, and the informational
 * exception REQUEST SENSE reports (MRIE 6 in mode page 1Ch).
 *
 * Every disk LU has these, ATA model or not.  Self-tests complete at once
 * (there is no medium to scan): a background or foreground test leaves a
 * "completed" result at the top of page 10h, so there is never one to
 * abort (abort background is accepted and does nothing).  Power-on time
 * runs from the LU's creation, from SIM_POWER_ON_HOURS_BASE.
 *
 * Copyright (C) 2026 The liborionstor authors.  LGPL-2.1-or-later.
 */
#include "sim/target_priv.h"

#include <string.h>

#define TEMP_REFERENCE 65           /* page 0Dh parameter 0001h, Celsius */

uint32_t sim_power_on_minutes(const struct sim_lu *lu)
{
	uint64_t now = ostori_now_ms();
	uint64_t m = now > lu->born_ms ? (now - lu->born_ms) / 60000u : 0;

	return sat32(m + (uint64_t)SIM_POWER_ON_HOURS_BASE * 60u);
}

/* REQUEST SENSE with nothing else to report: an informational exception
 * (MRIE 6, "only report on request": NO SENSE, SPC-4 7.5.8). */
bool sim_ie_sense(const struct sim_lu *lu, struct sim_sense *s)
{
	if (!lu->ie_failing || lu->type != OSTOR_TYPE_DISK)
		return false;
	memset(s, 0, sizeof(*s));
	s->key = OSTOR_SCSI_SENSE_NO_SENSE;
	s->asc = ASC_FAILURE_PREDICTION;
	s->ascq = 0x00;
	return true;
}

/* ---- SEND DIAGNOSTIC ----------------------------------------------------- */

static void add_scsi_test(struct sim_lu *lu, uint8_t code)
{
	memmove(lu->scsi_tests + 1, lu->scsi_tests,
		(SIM_SCSI_TESTS - 1) * sizeof(lu->scsi_tests[0]));
	lu->scsi_tests[0].code = code;
	lu->scsi_tests[0].result = 0;        /* completed without error */
	lu->scsi_tests[0].hours = (uint16_t)OSTOR_MIN(sim_power_on_minutes(lu) / 60u, 0xffffu);
}

void sim_cmd_send_diagnostic(struct exec *x)
{
	struct sim_lu *lu = x->lu;
	uint8_t b1 = x->cdb[1], code = b1 >> 5;
	bool selftest = b1 & 0x04;

	/* No diagnostic pages: nothing may come with the command. */
	if (ostori_get_be16(x->cdb + 3)) {
		bad_cdb(x, 3, -1);
		return;
	}
	/* SELFTEST goes with code 0; codes 1, 2 (background short/extended),
	 * 4 (abort background), 5, 6 (foreground short/extended). */
	if (selftest ? code != 0 : (code == 3 || code == 7)) {
		bad_cdb(x, 1, 7);
		return;
	}
	if (lu->type != OSTOR_TYPE_DISK || code == 4 || (!selftest && code == 0))
		return;
	sim_power_access(lu, ostori_now_ms());
	add_scsi_test(lu, selftest ? 0 : code);
}

/* ---- LOG SENSE ------------------------------------------------------------ */

struct page_out {
	uint8_t *buf;               /* the page, header first */
	size_t len;
	uint16_t ptr;               /* PARAMETER POINTER: codes from here on */
};

/* Append a binary-format parameter (format and linking 11b). */
static void param(struct page_out *o, uint16_t code, const uint8_t *v, uint8_t n)
{
	uint8_t *p = o->buf + o->len;

	if (code < o->ptr)
		return;
	ostori_put_be16(p, code);
	p[2] = 0x03;
	p[3] = n;
	memcpy(p + 4, v, n);
	o->len += 4u + n;
}

static const uint8_t log_pages[] = { 0x00, 0x0d, 0x10, 0x15, 0x2f };

static void page_supported(struct page_out *o, bool subpages)
{
	uint8_t *p = o->buf + 4;

	if (!subpages) {
		memcpy(p, log_pages, sizeof(log_pages));
		o->len += sizeof(log_pages);
		return;
	}
	o->buf[0] |= 0x40;                   /* SPF */
	o->buf[1] = 0xff;
	/* 00h/00h, 00h/FFh, then the others' subpage 00h. */
	*p++ = 0x00;
	*p++ = 0x00;
	*p++ = 0x00;
	*p++ = 0xff;
	for (size_t i = 1; i < sizeof(log_pages); i++) {
		*p++ = log_pages[i];
		*p++ = 0x00;
	}
	o->len = (size_t)(p - o->buf);
}

static void page_temperature(const struct sim_lu *lu, struct page_out *o)
{
	uint8_t v[2] = { 0, lu->temperature };

	param(o, 0x0000, v, 2);
	v[1] = TEMP_REFERENCE;
	param(o, 0x0001, v, 2);
}

static void page_ie(const struct sim_lu *lu, struct page_out *o)
{
	/* IE ASC, IE ASCQ, most recent temperature, vendor: trip point */
	uint8_t v[4] = { lu->ie_failing ? ASC_FAILURE_PREDICTION : 0, 0,
			 lu->temperature, TEMP_REFERENCE };

	param(o, 0x0000, v, sizeof(v));
}

static void page_self_test(const struct sim_lu *lu, struct page_out *o)
{
	for (unsigned int i = 0; i < SIM_SCSI_TESTS; i++) {
		const struct sim_self_test *t = &lu->scsi_tests[i];
		uint8_t v[16];

		memset(v, 0, sizeof(v));
		if (t->hours || t->code || t->result) {
			v[0] = (uint8_t)(t->code << 5 | (t->result & 0x0f));
			ostori_put_be16(v + 2, t->hours);
			memset(v + 4, 0xff, 8);      /* no failing LBA */
		}
		param(o, (uint16_t)(i + 1), v, sizeof(v));
	}
}

static void page_bg_scan(const struct sim_lu *lu, struct page_out *o)
{
	uint8_t v[12];

	memset(v, 0, sizeof(v));
	ostori_put_be32(v, sim_power_on_minutes(lu));
	v[5] = 0x08;                         /* waiting for the BMS interval timer */
	ostori_put_be16(v + 6, 3);           /* background scans performed */
	ostori_put_be16(v + 10, 3);          /* medium scans performed */
	param(o, 0x0000, v, sizeof(v));
}

void sim_cmd_log_sense(struct exec *x)
{
	const uint8_t *c = x->cdb;
	struct sim_lu *lu = x->lu;
	uint8_t page = c[2] & 0x3f, sub = c[3], pc = c[2] >> 6;
	struct page_out o = { .buf = x->t->scratch, .len = 4, .ptr = ostori_get_be16(c + 5) };
	uint16_t last;                       /* highest parameter code of the page */
	bool disk = lu->type == OSTOR_TYPE_DISK;

	if (c[1] & 0x03) {                    /* SP, PPC */
		bad_cdb(x, 1, (c[1] & 0x01) ? 0 : 1);
		return;
	}
	/* Cumulative values (01b) and their defaults (11b) read the same;
	 * no thresholds are kept. */
	if (!(pc & 1)) {
		bad_cdb(x, 2, 7);
		return;
	}
	if (page != 0x00 && (!disk || !memchr(log_pages, page, sizeof(log_pages)))) {
		bad_cdb(x, 2, 5);
		return;
	}
	if (sub && !(page == 0x00 && sub == 0xff && disk)) {
		bad_cdb(x, 3, -1);
		return;
	}
	memset(o.buf, 0, 4);
	o.buf[0] = page;
	switch (page) {
	case 0x0d: last = 0x0001; break;
	case 0x10: last = SIM_SCSI_TESTS; break;
	default: last = 0x0000; break;
	}
	/* Supported pages have no parameters: the pointer means nothing. */
	if (page != 0x00 && o.ptr > last) {
		bad_cdb(x, 5, -1);
		return;
	}
	switch (page) {
	case 0x00:
		if (disk) {
			page_supported(&o, sub == 0xff);
		} else {
			o.buf[4] = 0x00;          /* just this page */
			o.len = 5;
		}
		break;
	case 0x0d: page_temperature(lu, &o); break;
	case 0x10: page_self_test(lu, &o); break;
	case 0x15: page_bg_scan(lu, &o); break;
	case 0x2f: page_ie(lu, &o); break;
	}
	ostori_put_be16(o.buf + 2, (uint16_t)(o.len - 4));
	sim_data_in(x, o.buf, o.len, ostori_get_be16(c + 7));
}
