/*
 * lib/usb/sim_uas.c - the device side of the simulated UAS device
 * (sim:transport=usb-uas): Command and Task Management IUs on the command
 * pipe, Sense, Response and READY IUs on the status pipe, data on the
 * data pipes; with bulk streams (the stream is the tag, as at SuperSpeed)
 * or without (high speed: READ READY / WRITE READY say which command's
 * data moves next).  The transfer layer, unplug, hold and the fault
 * switches are sim_device.c's; this file answers the transfers of a UAS
 * interface, under the model's lock.
 *
 * Like QEMU's usb-uas, a data transfer or status read on a stream with
 * nothing for it yet waits (NAK) until the command gets there, and IUs
 * queue until a status read of their stream takes them.
 */
#include "usb/engine_priv.h"
#include "usb/sim_priv.h"
#include "util/byteorder.h"

#include <stdlib.h>
#include <string.h>

#define SIM_UAS_CMDS 288
#define SIM_UAS_IUS 1024
#define SIM_UAS_IU_MAX (16 + OSTOR_SENSE_MAX)

enum { PIPE_CMD = 0, PIPE_STATUS, PIPE_DIN, PIPE_DOUT, PIPE_COUNT };

struct uas_cmd {
	bool used, started, data_moved;
	uint16_t tag;
	uint32_t lun;
	uint8_t cdb[16];
	char dir;                   /* 'i', 'o', 'n' */
	uint8_t *data;
	size_t data_len;            /* staged (in) or expected (out; SIZE_MAX: any) */
	uint64_t faults;
	uint8_t status;
	uint8_t sense[OSTOR_SENSE_MAX];
	size_t sense_len;
	uint64_t seq;               /* arrival order */
};

struct uas_iu {
	uint16_t stream;            /* its tag; the stream it goes on */
	uint16_t len;
	uint8_t b[SIM_UAS_IU_MAX];
};

struct sim_uas {
	unsigned int streams;
	struct uas_cmd cmds[SIM_UAS_CMDS];
	struct uas_iu ius[SIM_UAS_IUS];
	unsigned int iu_head, iu_len;
	int cur_in, cur_out;        /* no streams: whose data the pipes carry (-1: none) */
	bool halted[PIPE_COUNT];
	uint64_t seq;
};

struct sim_uas *sim_uas_new(unsigned int streams)
{
	struct sim_uas *u = calloc(1, sizeof(*u));

	if (!u)
		return NULL;
	u->streams = streams;
	u->cur_in = u->cur_out = -1;
	return u;
}

static void cmd_free(struct uas_cmd *c)
{
	free(c->data);
	memset(c, 0, sizeof(*c));
}

void sim_uas_free(struct sim_uas *u)
{
	if (!u)
		return;
	for (int i = 0; i < SIM_UAS_CMDS; i++)
		free(u->cmds[i].data);
	free(u);
}

unsigned int sim_uas_streams(const struct sim_uas *u)
{
	return u ? u->streams : 0;
}

void sim_uas_reset(struct sim_usb *m)
{
	struct sim_uas *u = m->uas;

	for (int i = 0; i < SIM_UAS_CMDS; i++)
		if (u->cmds[i].used)
			cmd_free(&u->cmds[i]);
	u->iu_head = u->iu_len = 0;
	u->cur_in = u->cur_out = -1;
	memset(u->halted, 0, sizeof(u->halted));
}

static unsigned int outstanding(const struct sim_uas *u)
{
	unsigned int n = 0;

	for (int i = 0; i < SIM_UAS_CMDS; i++)
		n += u->cmds[i].used;
	return n;
}

static struct uas_cmd *find(struct sim_uas *u, uint16_t tag)
{
	for (int i = 0; i < SIM_UAS_CMDS; i++)
		if (u->cmds[i].used && u->cmds[i].tag == tag)
			return &u->cmds[i];
	return NULL;
}

/* ---- the status queue ------------------------------------------------------ */

static struct uas_iu *iu_push(struct sim_uas *u, uint16_t tag)
{
	struct uas_iu *iu;

	if (u->iu_len == SIM_UAS_IUS)
		return NULL;   /* cannot happen with the host's bounded tags */
	iu = &u->ius[(u->iu_head + u->iu_len) % SIM_UAS_IUS];
	u->iu_len++;
	memset(iu, 0, sizeof(*iu));
	iu->stream = tag;
	ostori_put_be16(iu->b + 2, tag);
	return iu;
}

static void iu_remove(struct sim_uas *u, unsigned int k)
{
	for (unsigned int j = k; j + 1 < u->iu_len; j++)
		u->ius[(u->iu_head + j) % SIM_UAS_IUS] = u->ius[(u->iu_head + j + 1) % SIM_UAS_IUS];
	u->iu_len--;
}

/* Forget the IUs of a tag nobody will read (aborted, reset). */
static void iu_drop(struct sim_uas *u, uint16_t tag)
{
	for (unsigned int k = 0; k < u->iu_len;) {
		if (u->ius[(u->iu_head + k) % SIM_UAS_IUS].stream == tag)
			iu_remove(u, k);
		else
			k++;
	}
}

static void response_iu(struct sim_uas *u, uint16_t tag, uint8_t code)
{
	struct uas_iu *iu = iu_push(u, tag);

	if (!iu)
		return;
	iu->b[0] = 0x04;
	iu->b[7] = code;
	iu->len = 8;
}

static void ready_iu(struct sim_uas *u, uint16_t tag, bool read)
{
	struct uas_iu *iu = iu_push(u, tag);

	if (!iu)
		return;
	iu->b[0] = read ? 0x06 : 0x07;
	iu->len = 4;
}

static bool has(const struct uas_cmd *c, enum sim_usb_fault f)
{
	return c->faults & (UINT64_C(1) << f);
}

/* The command's end: its Sense IU (faults applied); the command is done. */
static void finish(struct sim_usb *m, struct uas_cmd *c)
{
	struct sim_uas *u = m->uas;
	struct uas_iu *iu;
	size_t slen = c->sense_len;
	uint8_t status = c->status;

	if (has(c, SIM_USB_UAS_NO_STATUS) || has(c, SIM_USB_UAS_LATE_STATUS))
		return;   /* held until an abort or reset */
	if (has(c, SIM_USB_UAS_UNKNOWN_TAG) && (iu = iu_push(u, c->tag))) {
		/* On the command's stream, but for a tag nobody used. */
		iu->b[0] = 0x03;
		ostori_put_be16(iu->b + 2, (uint16_t)(c->tag ^ 0x5a00));
		iu->len = 16;
	}
	if (!(iu = iu_push(u, c->tag)))
		return;
	iu->b[0] = has(c, SIM_USB_UAS_BAD_IU_ID) ? 0x7f : 0x03;
	if (has(c, SIM_USB_UAS_SENSE_OVERFLOW)) {
		if (status == 0) {
			static const uint8_t nosense[18] = { 0x70, 0, 0, 0, 0, 0, 0, 10 };

			memcpy(c->sense, nosense, sizeof(nosense));
			slen = sizeof(nosense);
		}
		status = OSTOR_SCSI_STATUS_CHECK_CONDITION;
		slen = OSTOR_MIN(slen, (size_t)18);
	}
	iu->b[6] = status;
	if (status != 0) {
		memcpy(iu->b + 16, c->sense, slen);
		ostori_put_be16(iu->b + 14, (uint16_t)slen);
	}
	if (has(c, SIM_USB_UAS_SENSE_OVERFLOW))
		ostori_put_be16(iu->b + 14, 250);
	iu->len = (uint16_t)(16 + (status ? slen : 0));
	if (has(c, SIM_USB_UAS_SHORT_IU))
		iu->len = 3;
	cmd_free(c);
}

static void run(struct sim_usb *m, struct uas_cmd *c, uint8_t *buf, size_t len)
{
	struct sim_cmd r;

	sim_usb_run_target(m, (uint8_t)OSTOR_MIN(c->lun, 255u), c->cdb, 16,
			   c->dir == 'i' ? OSTOR_DIR_FROM_DEVICE : c->dir == 'o' ? OSTOR_DIR_TO_DEVICE : OSTOR_DIR_NONE,
			   buf, len, &r);
	c->status = r.status;
	c->sense_len = r.status ? OSTOR_MIN(r.sense_len, sizeof(c->sense)) : 0;
	memcpy(c->sense, r.sense, c->sense_len);
	if (c->dir == 'i')
		c->data_len = r.transferred;
}

/* Bytes a data-in command produces at most. */
static size_t in_len(struct sim_usb *m, const uint8_t *cdb, uint32_t lun)
{
	size_t bs = lun < SIM_USB_LUNS && m->block_size[lun] ? m->block_size[lun] : 512;
	size_t n = ousb_cdb_alloc_len(cdb, 16);

	switch (cdb[0]) {
	case 0x08: case 0x28: case 0xa8: case 0x88:
		n = n / 512 * bs;
		break;
	case 0x25:
		n = 8;
		break;
	default:
		if (!n)
			n = 65536;
		break;
	}
	return OSTOR_MIN(n, (size_t)SIM_USB_MAX_TRANSFER);
}

/* No streams: the next command whose data may move gets its READY IU. */
static void next_ready(struct sim_usb *m)
{
	struct sim_uas *u = m->uas;
	struct uas_cmd *best;

	if (u->streams)
		return;
	for (int pass = 0; pass < 2; pass++) {
		char dir = pass ? 'o' : 'i';
		int *cur = pass ? &u->cur_out : &u->cur_in;

		if (*cur >= 0)
			continue;
		best = NULL;
		for (int i = 0; i < SIM_UAS_CMDS; i++) {
			struct uas_cmd *c = &u->cmds[i];

			if (c->used && c->started && c->dir == dir && !c->data_moved && c->data_len &&
			    (!best || c->seq < best->seq))
				best = c;
		}
		if (best) {
			*cur = (int)(best - u->cmds);
			ready_iu(u, best->tag, dir == 'i');
		}
	}
}

/* A command the device starts working on (once not held). */
static void start(struct sim_usb *m, struct uas_cmd *c)
{
	c->started = true;
	if (has(c, SIM_USB_UAS_NO_STATUS) || has(c, SIM_USB_UAS_LATE_STATUS))
		return;
	if (c->dir == 'i') {
		size_t n = in_len(m, c->cdb, c->lun);

		c->data = malloc(n + 512);
		if (!c->data) {
			c->status = OSTOR_SCSI_STATUS_BUSY;
			finish(m, c);
			return;
		}
		run(m, c, c->data, n);
		if (has(c, SIM_USB_UAS_OVERRUN)) {
			memset(c->data + c->data_len, 0xee, 512);
			c->data_len += 512;
		}
		if (!c->data_len) {
			c->data_moved = true;
			finish(m, c);
		}
	} else if (c->dir == 'o') {
		size_t n = sim_usb_out_len(m, c->cdb, (uint8_t)OSTOR_MIN(c->lun, 255u));

		if (n == 0) {
			c->dir = 'n';
			run(m, c, NULL, 0);
			finish(m, c);
			return;
		}
		c->data_len = n == SIZE_MAX ? SIM_USB_MAX_TRANSFER : OSTOR_MIN(n, (size_t)SIM_USB_MAX_TRANSFER);
		if (!(c->data = malloc(c->data_len))) {
			c->status = OSTOR_SCSI_STATUS_BUSY;
			finish(m, c);
		}
	} else {
		run(m, c, NULL, 0);
		finish(m, c);
	}
}

static void start_held(struct sim_usb *m)
{
	struct sim_uas *u = m->uas;
	bool any;

	do {
		struct uas_cmd *first = NULL;

		any = false;
		for (int i = 0; i < SIM_UAS_CMDS; i++) {
			struct uas_cmd *c = &u->cmds[i];

			if (c->used && !c->started && (!first || c->seq < first->seq))
				first = c;
		}
		if (first) {
			start(m, first);
			any = true;
		}
	} while (any);
	next_ready(m);
}

/* ---- the command pipe ------------------------------------------------------ */

static int command_iu(struct sim_usb *m, struct ousb_xfer *x)
{
	struct sim_uas *u = m->uas;
	const uint8_t *b = x->buf;
	uint16_t tag;
	struct uas_cmd *c = NULL;
	uint32_t lun;

	if (x->len < 4 || (b[0] != 0x01 && b[0] != 0x05)) {
		u->halted[PIPE_CMD] = true;   /* not an IU it knows: stall */
		return OUSB_STALL;
	}
	x->actual = x->len;
	tag = ostori_get_be16(b + 2);
	if (b[0] == 0x05) {
		uint8_t fn;
		uint16_t ttag;

		m->stats.uas_tmf_ius++;
		if (x->len < 16 || !tag || (u->streams && tag > u->streams)) {
			response_iu(u, tag, 0x02);
			return OUSB_OK;
		}
		if (find(u, tag)) {
			response_iu(u, tag, 0x0a);
			return OUSB_OK;
		}
		fn = b[4];
		ttag = ostori_get_be16(b + 6);
		lun = b[8] == 0 ? b[9] : ((uint32_t)(b[8] & 0x3f) << 8) | b[9];
		if (fn == 0x01)
			m->stats.uas_aborts++;
		else if (fn == 0x08)
			m->stats.uas_lun_resets++;
		else if (fn == 0x10)
			m->stats.uas_nexus_resets++;
		if (sim_usb_fault_hit(m, SIM_USB_UAS_TMF_IGNORED))
			return OUSB_OK;
		if (sim_usb_fault_hit(m, SIM_USB_UAS_TMF_FAILED)) {
			response_iu(u, tag, 0x05);
			return OUSB_OK;
		}
		if (sim_usb_fault_hit(m, SIM_USB_UAS_TMF_UNSUPPORTED)) {
			response_iu(u, tag, 0x04);
			return OUSB_OK;
		}
		for (int i = 0; i < SIM_UAS_CMDS; i++) {
			struct uas_cmd *k = &u->cmds[i];
			bool hit = k->used && ((fn == 0x01 && k->tag == ttag && k->lun == lun) ||
					       (fn == 0x08 && k->lun == lun) || fn == 0x10);

			if (!hit)
				continue;
			if (fn == 0x01 && has(k, SIM_USB_UAS_LATE_STATUS)) {
				/* It ended as the abort came: its Sense IU is
				 * queued, the abort finds nothing to abort. */
				struct uas_iu *iu = iu_push(u, k->tag);

				if (iu) {
					iu->b[0] = 0x03;
					iu->len = 16;
				}
				cmd_free(k);
				continue;
			}
			iu_drop(u, k->tag);
			if (u->cur_in == i)
				u->cur_in = -1;
			if (u->cur_out == i)
				u->cur_out = -1;
			cmd_free(k);
		}
		response_iu(u, tag, fn == 0x01 || fn == 0x08 || fn == 0x10 ? 0x00 : 0x04);
		if (!m->held)
			next_ready(m);
		return OUSB_OK;
	}
	/* Command IU */
	m->stats.uas_command_ius++;
	if (x->len < 32 || !tag || (u->streams && tag > u->streams)) {
		response_iu(u, tag, 0x02);
		return OUSB_OK;
	}
	if (find(u, tag)) {
		response_iu(u, tag, 0x0a);
		return OUSB_OK;
	}
	for (int i = 0; i < SIM_UAS_CMDS && !c; i++)
		if (!u->cmds[i].used)
			c = &u->cmds[i];
	if (!c) {
		response_iu(u, tag, 0x02);
		return OUSB_OK;
	}
	memset(c, 0, sizeof(*c));
	c->used = true;
	c->tag = tag;
	c->lun = b[8] == 0 ? b[9] : ((uint32_t)(b[8] & 0x3f) << 8) | b[9];
	memcpy(c->cdb, b + 16, 16);
	c->seq = ++u->seq;
	sim_usb_arm_command_faults(m);
	c->faults = m->cmd_faults;
	if (has(c, SIM_USB_UAS_REJECT)) {
		cmd_free(c);
		response_iu(u, tag, 0x02);
		return OUSB_OK;
	}
	c->dir = sim_usb_dev_dir(c->cdb);
	if (c->dir == '?')
		c->dir = 'n';
	if (outstanding(u) > m->stats.uas_outstanding_max)
		m->stats.uas_outstanding_max = outstanding(u);
	if (!m->held) {
		start(m, c);
		next_ready(m);
	}
	return OUSB_OK;
}

/* ---- the status and data pipes ----------------------------------------------- */

/* A status read of the stream is queued (not cancelled). */
static bool status_read_waiting(struct sim_usb *m, uint16_t stream)
{
	for (struct ousb_xfer *x = m->head; x; x = x->impl_next)
		if (x->kind == OUSB_BULK_IN && x->pipe == OUSB_PIPE_STATUS && x->stream == stream && x->impl_state != 2)
			return true;
	return false;
}

static int status_read(struct sim_usb *m, struct ousb_xfer *x)
{
	struct sim_uas *u = m->uas;
	/* uas-in-order: a read seen waiting before (impl_state 5) is
	 * answered in queue order only; a new one finds its IU anywhere. */
	bool in_order = u->streams && m->faults[SIM_USB_UAS_IN_ORDER].armed;
	bool waited = x->impl_state == 5;

	for (unsigned int k = 0; k < u->iu_len; k++) {
		struct uas_iu *iu = &u->ius[(u->iu_head + k) % SIM_UAS_IUS];
		int st = OUSB_OK;

		if (u->streams && iu->stream != x->stream) {
			if (in_order && waited && !status_read_waiting(m, iu->stream))
				return PENDING;   /* held back behind it */
			continue;
		}
		x->actual = OSTOR_MIN((size_t)iu->len, x->len);
		memcpy(x->buf, iu->b, x->actual);
		if (iu->len > x->len)
			st = OUSB_BABBLE;
		iu_remove(u, k);
		return st;
	}
	if (in_order)
		x->impl_state = 5;
	return PENDING;
}

static struct uas_cmd *data_cmd(struct sim_uas *u, const struct ousb_xfer *x, char dir)
{
	int cur = dir == 'i' ? u->cur_in : u->cur_out;

	if (!u->streams)
		return cur >= 0 ? &u->cmds[cur] : NULL;
	for (int i = 0; i < SIM_UAS_CMDS; i++) {
		struct uas_cmd *c = &u->cmds[i];

		if (c->used && c->started && c->tag == x->stream && c->dir == dir && !c->data_moved && c->data)
			return c;
	}
	return NULL;
}

static int data_stall(struct sim_usb *m, struct uas_cmd *c, int pipe)
{
	static const uint8_t medium_error[18] = { 0x70, 0, 0x03, 0, 0, 0, 0, 10, 0, 0, 0, 0, 0x11, 0x00 };

	m->uas->halted[pipe] = true;
	c->data_moved = true;
	c->status = OSTOR_SCSI_STATUS_CHECK_CONDITION;
	memcpy(c->sense, medium_error, sizeof(medium_error));
	c->sense_len = sizeof(medium_error);
	return OUSB_STALL;
}

static void data_done(struct sim_usb *m, struct uas_cmd *c)
{
	struct sim_uas *u = m->uas;
	int idx = (int)(c - u->cmds);

	if (u->cur_in == idx)
		u->cur_in = -1;
	if (u->cur_out == idx)
		u->cur_out = -1;
	finish(m, c);
	next_ready(m);
}

static int data_in(struct sim_usb *m, struct ousb_xfer *x)
{
	struct uas_cmd *c = data_cmd(m->uas, x, 'i');
	int st = OUSB_OK;

	if (!c)
		return m->uas->streams ? PENDING : OUSB_STALL;
	if (has(c, SIM_USB_UAS_DATA_STALL)) {
		st = data_stall(m, c, PIPE_DIN);
		data_done(m, c);
		return st;
	}
	x->actual = OSTOR_MIN(c->data_len, x->len);
	memcpy(x->buf, c->data, x->actual);
	if (c->data_len > x->len)
		st = OUSB_BABBLE;
	c->data_moved = true;
	data_done(m, c);
	return st;
}

static int data_out(struct sim_usb *m, struct ousb_xfer *x)
{
	struct uas_cmd *c = data_cmd(m->uas, x, 'o');
	size_t n;

	if (!c)
		return m->uas->streams ? PENDING : OUSB_STALL;
	if (has(c, SIM_USB_UAS_DATA_STALL)) {
		int st = data_stall(m, c, PIPE_DOUT);

		data_done(m, c);
		return st;
	}
	n = OSTOR_MIN(c->data_len, x->len);
	memcpy(c->data, x->buf, n);
	x->actual = x->len;
	c->data_moved = true;
	run(m, c, c->data, n);
	data_done(m, c);
	return OUSB_OK;
}

int sim_uas_process(struct sim_usb *m, struct ousb_xfer *x)
{
	struct sim_uas *u = m->uas;
	int pipe;

	switch (x->kind) {
	case OUSB_PORT_RESET:
		m->stats.port_resets++;
		if (sim_usb_fault_hit(m, SIM_USB_PORT_RESET_FAIL))
			return OUSB_ERROR;
		sim_uas_reset(m);
		sim_target_reset(m->target);
		return OUSB_OK;
	case OUSB_WAIT:
		return PENDING;
	case OUSB_CLEAR_HALT_IN:
	case OUSB_CLEAR_HALT_OUT:
		if (m->held)
			return PENDING;
		pipe = x->pipe == OUSB_PIPE_COMMAND ? PIPE_CMD : x->pipe == OUSB_PIPE_STATUS ? PIPE_STATUS
		       : x->kind == OUSB_CLEAR_HALT_IN ? PIPE_DIN : PIPE_DOUT;
		if (x->kind == OUSB_CLEAR_HALT_IN)
			m->stats.clear_halt_in++;
		else
			m->stats.clear_halt_out++;
		u->halted[pipe] = false;
		return OUSB_OK;
	case OUSB_BULK_OUT:
		if (x->pipe == OUSB_PIPE_COMMAND) {
			if (u->halted[PIPE_CMD])
				return OUSB_STALL;
			if (!m->held)
				start_held(m);
			return command_iu(m, x);
		}
		if (m->held)
			return PENDING;
		start_held(m);
		return u->halted[PIPE_DOUT] ? OUSB_STALL : data_out(m, x);
	case OUSB_BULK_IN:
		if (m->held)
			return PENDING;
		start_held(m);
		if (x->pipe == OUSB_PIPE_STATUS)
			return u->halted[PIPE_STATUS] ? OUSB_STALL : status_read(m, x);
		return u->halted[PIPE_DIN] ? OUSB_STALL : data_in(m, x);
	default:
		return OUSB_STALL;   /* no class requests */
	}
}
