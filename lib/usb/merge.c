/*
 * lib/usb/merge.c - adjacent READs or WRITEs queued for one LUN sent as
 * one Bulk-Only command.
 *
 * Bulk-Only runs one command at a time, and every command costs a CBW and
 * a CSW round trip plus the device's own per-command work: behind QEMU's
 * xHCI a 1 MiB read moves three times the bytes a second of 128 KiB ones
 * do.  The kernel's block layer merges queued requests for the same
 * reason.  Here the engine does it with the tasks waiting in its queue
 * when the wire frees up: the members keep their own buffers (zero copy),
 * the data phase is one transfer per member queued back to back on the
 * pipe, and the CBW carries the sum.
 *
 * A member completes GOOD only when the whole command did: a valid CSW,
 * status GOOD, residue 0, every data transfer full.  Anything else - a
 * short or stalled data transfer, CHECK CONDITION, a residue, a timeout -
 * sends the members again one by one (READ and WRITE are idempotent), so
 * each gets its own status, sense and residual; a write is acknowledged
 * only by a CSW that covered it.  A data phase that broke ends in Reset
 * Recovery first (the pipe's state is unknown).  A CHECK CONDITION's sense
 * is fetched, and a unit attention, NOT READY or deferred error goes to
 * the first member (the one that would have met it alone); ILLEGAL
 * REQUEST turns merging off for the LUN.
 *
 * Only tasks the core discovered the LUN for are merged (its block size
 * and largest command come from ousb_engine_lun_limits), only READ(10),
 * READ(16), WRITE(10), WRITE(16) with equal flags, one buffer each, and
 * every member but the last a multiple of 1024 bytes (a whole number of
 * packets at any speed, so no transfer ends short inside the phase).
 */
#include "usb/engine_priv.h"
#include "util/byteorder.h"

#include <stdlib.h>
#include <string.h>

/* No member but the last may end in a short packet. */
#define MERGE_PACKET_ALIGN 1024u

void ousb_merge_init(struct ousb_engine *e)
{
	const char *env = getenv("ORIONSTOR_USB_MERGE");

	e->mg.source = "default";
	if (e->cfg.protocol != OUSB_PR_BOT || is_ufi_like(e)) {
		e->mg.off = true;
		e->mg.source = e->cfg.protocol != OUSB_PR_BOT ? "transport" : "subclass";
		return;
	}
	if (e->cfg.quirks.flags & (OUSB_Q_NO_MERGE | OUSB_Q_GO_SLOW)) {
		e->mg.off = true;
		e->mg.source = e->cfg.quirks.flags & OUSB_Q_NO_MERGE ? "quirk no-merge" : "quirk go-slow";
	}
	if (env && *env) {
		e->mg.source = "ORIONSTOR_USB_MERGE";
		e->mg.off = !strcmp(env, "0") || !strcmp(env, "off");
	}
	if (e->one_at_a_time) {
		e->mg.off = true;
		e->mg.source = "[usb_storage] async_io_enabled / storage_device_async_enabled";
	}
}

void ousb_engine_lun_limits(struct ousb_engine *e, uint32_t lun, uint32_t block_size, uint64_t max_bytes)
{
	if (lun >= OUSB_MAX_LUNS)
		return;
	pthread_mutex_lock(&e->lock);
	e->mg.block_size[lun] = block_size;
	e->mg.max_bytes[lun] = (uint32_t)OSTOR_MIN(max_bytes, (uint64_t)e->bounce_len);
	pthread_mutex_unlock(&e->lock);
}

/* A READ or WRITE this engine can merge: its LBA, block count and the
 * bytes the CDB means; false for anything else. */
static bool rw_of(const uint8_t *cdb, uint8_t len, uint64_t *lba, uint32_t *blocks)
{
	switch (cdb[0]) {
	case 0x28: case 0x2a:
		if (len != 10)
			return false;
		*lba = ostori_get_be32(cdb + 2);
		*blocks = ostori_get_be16(cdb + 7);
		return true;
	case 0x88: case 0x8a:
		if (len != 16)
			return false;
		*lba = ostori_get_be64(cdb + 2);
		*blocks = ostori_get_be32(cdb + 10);
		return true;
	default:
		return false;
	}
}

/* The fields besides LBA and length that must be equal: flags (byte 1),
 * group number and control. */
static bool same_flags(const uint8_t *a, const uint8_t *b, uint8_t len)
{
	if (a[0] != b[0] || a[1] != b[1])
		return false;
	return len == 10 ? a[6] == b[6] && a[9] == b[9] : a[14] == b[14] && a[15] == b[15];
}

static void set_blocks(uint8_t *cdb, uint32_t blocks)
{
	if (cdb[0] == 0x28 || cdb[0] == 0x2a)
		ostori_put_be16(cdb + 7, (uint16_t)blocks);
	else
		ostori_put_be32(cdb + 10, blocks);
}

void ousb_merge_gather(struct ousb_engine *e, ostor_task *t)
{
	struct wire_cmd *c = &e->cmd;
	uint32_t bs, blocks, max_blocks;
	uint64_t lba, next;
	size_t total;

	e->mg.n = 0;
	e->mg.cancelled = 0;
	if (e->mg.off || !e->qlen || t->lun >= OUSB_MAX_LUNS || t->iovcnt != 1 || e->rc16_translate)
		return;
	bs = e->mg.block_size[t->lun];
	if (!bs || c->len != t->data_len || c->cdb_len != t->cdb_len || memcmp(c->cdb, t->cdb, t->cdb_len) ||
	    !rw_of(c->cdb, c->cdb_len, &lba, &blocks) || !blocks || (uint64_t)blocks * bs != c->len ||
	    c->len % MERGE_PACKET_ALIGN)
		return;
	max_blocks = e->mg.max_bytes[t->lun] / bs;
	if (c->cdb_len == 10)
		max_blocks = OSTOR_MIN(max_blocks, 0xffffu);
	next = lba + blocks;
	total = c->len;
	e->mg.member[0] = t;
	e->mg.n = 1;
	while (e->qlen && e->mg.n < OUSB_MERGE_MAX) {
		ostor_task *u = e->q[e->qhead];
		uint64_t ulba;
		uint32_t ublocks;

		if (u->lun != t->lun || u->target != t->target || u->dir != t->dir || u->iovcnt != 1 ||
		    u->cdb_len != t->cdb_len || !same_flags(u->cdb, t->cdb, t->cdb_len) ||
		    !rw_of(u->cdb, u->cdb_len, &ulba, &ublocks) || ulba != next || !ublocks ||
		    (uint64_t)ublocks * bs != u->data_len || ublocks > max_blocks - (next - lba) ||
		    ostori_task_cancelled(u) || (c->cdb_len == 10 && next + ublocks - 1 > 0xffffffffu))
			break;
		/* Every member before the last ends on a packet boundary. */
		if (total % MERGE_PACKET_ALIGN)
			break;
		e->qhead = (e->qhead + 1) % e->qcap;
		e->qlen--;
		e->mg.member[e->mg.n++] = u;
		next += ublocks;
		total += u->data_len;
		c->timeout_ms = c->timeout_ms && u->timeout_ms ? OSTOR_MAX(c->timeout_ms, u->timeout_ms) : 0;
	}
	if (e->mg.n < 2) {
		e->mg.n = 0;
		return;
	}
	set_blocks(c->cdb, (uint32_t)(next - lba));
	c->len = total;
	e->stats.merged_commands++;
	e->stats.merged_tasks += e->mg.n;
}

void ousb_merge_submit_rest(struct ousb_engine *e, enum ousb_kind kind)
{
	for (unsigned int i = 1; i < e->mg.n; i++) {
		ostor_task *u = e->mg.member[i];

		ousb_submit(e, &e->mg.x[i - 1], kind, u->iov[0].iov_base, u->data_len, e->cmd.timeout_ms);
	}
}

/* One data transfer of the phase that completed, and not in full. */
static bool broken(const struct ousb_xfer *x, size_t len, enum ousb_status *why)
{
	if (x->status == OUSB_OK && x->actual == len)
		return false;
	*why = x->status;
	return true;
}

enum ousb_merge_data ousb_merge_data(struct ousb_engine *e, struct ousb_xfer *first, unsigned int first_bit,
				     enum ousb_status *why)
{
	/* Stop at the first transfer that came back short: the ones queued
	 * behind it would take the CSW, or wait on a halted pipe. */
	if (!(e->busy & first_bit) && broken(first, e->mg.member[0]->data_len, why))
		return MD_BROKEN;
	for (unsigned int i = 1; i < e->mg.n; i++)
		if (!(e->mg.busy & (1u << (i - 1))) && broken(&e->mg.x[i - 1], e->mg.member[i]->data_len, why))
			return MD_BROKEN;
	return e->busy & (first_bit | X_MERGE) ? MD_WAIT : MD_WHOLE;
}

int ousb_merge_member(const struct ousb_engine *e, const ostor_task *t)
{
	for (unsigned int i = 0; i < e->mg.n; i++)
		if (e->mg.member[i] == t)
			return (int)i;
	return -1;
}

static void replay_push(struct ousb_engine *e, ostor_task *t)
{
	e->mg.replay[(e->mg.replay_head + e->mg.replay_len) % OUSB_MERGE_MAX] = t;
	e->mg.replay_len++;
	e->stats.merge_replays++;
}

ostor_task *ousb_merge_next_replay(struct ousb_engine *e)
{
	ostor_task *t;

	if (!e->mg.replay_len)
		return NULL;
	t = e->mg.replay[e->mg.replay_head];
	e->mg.replay_head = (e->mg.replay_head + 1) % OUSB_MERGE_MAX;
	e->mg.replay_len--;
	return t;
}

bool ousb_merge_unreplay(struct ousb_engine *e, const ostor_task *t)
{
	for (unsigned int i = 0; i < e->mg.replay_len; i++) {
		if (e->mg.replay[(e->mg.replay_head + i) % OUSB_MERGE_MAX] != t)
			continue;
		for (unsigned int j = i; j + 1 < e->mg.replay_len; j++)
			e->mg.replay[(e->mg.replay_head + j) % OUSB_MERGE_MAX] =
				e->mg.replay[(e->mg.replay_head + j + 1) % OUSB_MERGE_MAX];
		e->mg.replay_len--;
		return true;
	}
	return false;
}

void ousb_merge_finish(struct ousb_engine *e)
{
	const struct outcome *o = &e->out;
	struct ostor_scsi_sense s = OSTOR_SCSI_SENSE_INIT;
	unsigned int n = e->mg.n;
	size_t total = 0;
	bool whole, sensed, first_gets_sense = false;

	for (unsigned int i = 0; i < n; i++)
		total += e->mg.member[i]->data_len;
	whole = o->res == OSTOR_RESULT_GOOD && o->transferred == total;
	sensed = o->res == OSTOR_RESULT_CHECK_CONDITION && e->sense_len &&
		 ostor_scsi_parse_sense(e->sense, e->sense_len, &s) == 0;
	if (sensed) {
		/* Not about the blocks: the first member would have met it
		 * alone (and the device reports it once). */
		first_gets_sense = s.deferred || s.key == OSTOR_SCSI_SENSE_UNIT_ATTENTION ||
				   s.key == OSTOR_SCSI_SENSE_NOT_READY;
		if (s.key == OSTOR_SCSI_SENSE_ILLEGAL_REQUEST && e->mg.max_bytes[e->cmd.lun]) {
			e->mg.max_bytes[e->cmd.lun] = 0;
			ostor_info(e->dev->ctx, "%s: LUN %u refused a merged command (%zu bytes, sense %02xh/%02xh); "
				   "no longer merging commands for it", e->dev->spec, e->cmd.lun, total, s.asc, s.ascq);
		}
	}
	if (!whole)
		ostor_dbg(e->dev->ctx, "%s: merged command of %u tasks ended %s (%zu of %zu bytes); sending them "
			  "again one by one", e->dev->spec, n, ostor_result_name(o->res), o->transferred, total);
	e->task = NULL;
	e->stage = S_IDLE;
	e->mg.n = 0;
	for (unsigned int i = 0; i < n; i++) {
		ostor_task *t = e->mg.member[i];

		if (e->mg.cancelled & (1u << i))
			ostori_task_set_results(t, OSTOR_RESULT_ABORTED, -1, NULL, 0, 0);
		else if (whole)
			ostori_task_set_results(t, OSTOR_RESULT_GOOD, 0, NULL, 0, t->data_len);
		else if (i == 0 && first_gets_sense)
			ostori_task_set_results(t, OSTOR_RESULT_CHECK_CONDITION, 2, e->sense, e->sense_len, 0);
		else {
			replay_push(e, t);
			continue;
		}
		ousb_hand_over(e, t);
	}
}

void ousb_merge_tuning(struct ousb_engine *e, struct ostori_setting *out, int max, int *n)
{
	uint32_t most = 0;

	for (unsigned int l = 0; l <= e->max_lun && l < OUSB_MAX_LUNS; l++)
		most = OSTOR_MAX(most, e->mg.max_bytes[l]);
	if (e->mg.off)
		ostori_setting_add(out, max, n, "merging", e->mg.source, "off");
	else if (most)
		ostori_setting_add(out, max, n, "merging", e->mg.source,
				   "adjacent queued READs / WRITEs of a LUN as one command, up to %u KiB", most / 1024);
	else
		ostori_setting_add(out, max, n, "merging", e->mg.source,
				   "on, once the LUN's block size and limit are known (ostor_lun_info)");
}
