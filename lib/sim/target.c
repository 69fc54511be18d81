/*
 * lib/sim/target.c - a simulated SCSI target (SPC-4 / SBC-3 subset): its
 * LUs, the dispatch table and the execute entry, the command's data
 * buffer, fault rules and statistics.
 *
 * See target.h for the contract with transport models.  Everything below
 * runs under the target mutex except the fault hook.  Every CDB and every
 * parameter list is treated as hostile: lengths are bounded by what the
 * command defines and by the buffers the transport handed us.  The
 * commands live in spc.c and sbc.c, the medium in store.c.
 *
 * Copyright (C) 2026 The liborionstor authors.  LGPL-2.1-or-later.
 */
#include "sim/target_fast.h"

#include <stdlib.h>
#include <string.h>

static unsigned int next_target_id;

/* ---- data buffers ------------------------------------------------------- */

static size_t iov_total(const struct iovec *iov, int cnt)
{
	size_t total = 0;

	if (!iov || cnt <= 0)
		return 0;
	for (int i = 0; i < cnt; i++) {
		if (iov[i].iov_len > SIZE_MAX - total)
			return SIZE_MAX;
		total += iov[i].iov_len;
	}
	return total;
}

/* Call fn on bytes [off, off + len) of the data buffer, one contiguous
 * piece at a time; done is the offset of the piece from off.  The caller
 * has checked that the buffer holds off + len bytes. */
int sim_iov_walk(const struct sim_cmd *cmd, size_t off, size_t len,
		 seg_fn fn, void *ctx)
{
	size_t done = 0;

	for (int i = 0; i < cmd->iovcnt && done < len; i++) {
		size_t l = cmd->iov[i].iov_len, n;
		int r;

		if (off >= l) {
			off -= l;
			continue;
		}
		n = OSTOR_MIN(l - off, len - done);
		r = fn(ctx, (uint8_t *)cmd->iov[i].iov_base + off, n, done);
		if (r)
			return r;
		done += n;
		off = 0;
	}
	return 0;
}

static int seg_copy_out(void *ctx, uint8_t *p, size_t n, size_t done)
{
	memcpy(p, (const uint8_t *)ctx + done, n);
	return 0;
}

static int seg_copy_in(void *ctx, uint8_t *p, size_t n, size_t done)
{
	memcpy((uint8_t *)ctx + done, p, n);
	return 0;
}

void sim_copy_to_iov(struct exec *x, size_t off, const void *src, size_t len)
{
	sim_iov_walk(x->cmd, off, len, seg_copy_out, (void *)src);
}

void sim_copy_from_iov(struct exec *x, void *dst, size_t len)
{
	sim_iov_walk(x->cmd, 0, len, seg_copy_in, dst);
}

/* A command about to move n bytes to the initiator. */
bool sim_data_in_ok(struct exec *x, size_t n)
{
	if (n && x->cmd->dir != OSTOR_DIR_FROM_DEVICE) {
		bad_cdb(x, x->len_byte, -1);
		return false;
	}
	return true;
}

/* A command about to consume n bytes from the initiator: nothing happens
 * unless all of them are there (see target.h). */
bool sim_data_out_ok(struct exec *x, size_t n)
{
	if (n && (x->cmd->dir != OSTOR_DIR_TO_DEVICE || x->total < n)) {
		bad_cdb(x, x->len_byte, -1);
		return false;
	}
	return true;
}

/* Return a built response, truncated to the allocation length (SPC-4
 * 4.2.5.6) and then to the buffer (overrun). */
void sim_data_in(struct exec *x, const void *buf, size_t resp_len, size_t alloc)
{
	size_t n = OSTOR_MIN(resp_len, alloc), m;

	if (!sim_data_in_ok(x, n))
		return;
	m = OSTOR_MIN(n, x->total);
	sim_copy_to_iov(x, 0, buf, m);
	x->cmd->transferred = m;
	if (n > x->total)
		x->cmd->overrun = true;
}

/* ---- dispatch ----------------------------------------------------------- */

#define F_NO_LU 0x01   /* also runs for a LUN that is not configured */
#define F_NO_UA 0x02   /* neither reports nor clears unit attentions */
#define F_DISK 0x04    /* direct-access block devices only */
#define F_MEDIA 0x08   /* accesses the medium: an idle/standby LU becomes active */
#define F_ATA 0x10     /* a bridge's ATA command: only LUs with that bridge (ata.c) */
#define F_VENDOR 0x20  /* vendor CDB: its last byte is no CONTROL byte */

#define SIM_OP_JMICRON 0xdf   /* JMicron bridge vendor pass-through */

struct op_desc {
	void (*fn)(struct exec *x);
	uint8_t cdb_len;
	uint8_t len_byte;
	uint8_t flags;
};

static const struct op_desc ops[256] = {
	[OSTOR_SCSI_OP_TEST_UNIT_READY] = { sim_cmd_test_unit_ready, 6, 4, 0 },
	[OSTOR_SCSI_OP_REQUEST_SENSE] = { sim_cmd_request_sense, 6, 4, F_NO_LU | F_NO_UA },
	[OSTOR_SCSI_OP_READ6] = { sim_cmd_read, 6, 4, F_MEDIA },
	[OSTOR_SCSI_OP_WRITE6] = { sim_cmd_write, 6, 4, F_MEDIA },
	[OSTOR_SCSI_OP_INQUIRY] = { sim_cmd_inquiry, 6, 3, F_NO_LU | F_NO_UA },
	[OSTOR_SCSI_OP_MODE_SELECT6] = { sim_cmd_mode_select, 6, 4, 0 },
	[OSTOR_SCSI_OP_MODE_SENSE6] = { sim_cmd_mode_sense, 6, 4, 0 },
	[OSTOR_SCSI_OP_START_STOP_UNIT] = { sim_cmd_start_stop, 6, 4, 0 },
	[OSTOR_SCSI_OP_SEND_DIAGNOSTIC] = { sim_cmd_send_diagnostic, 6, 3, 0 },
	[OSTOR_SCSI_OP_PREVENT_ALLOW_MEDIUM_REMOVAL] = { sim_cmd_prevent_allow, 6, 4, 0 },
	[OSTOR_SCSI_OP_READ_FORMAT_CAPACITIES] = { sim_cmd_read_format_capacities, 10, 7, 0 },
	[OSTOR_SCSI_OP_READ_CAPACITY10] = { sim_cmd_read_capacity10, 10, 0, 0 },
	[OSTOR_SCSI_OP_READ10] = { sim_cmd_read, 10, 7, F_MEDIA },
	[OSTOR_SCSI_OP_WRITE10] = { sim_cmd_write, 10, 7, F_MEDIA },
	[OSTOR_SCSI_OP_VERIFY10] = { sim_cmd_verify, 10, 7, F_MEDIA },
	[OSTOR_SCSI_OP_SYNCHRONIZE_CACHE10] = { sim_cmd_sync, 10, 7, F_MEDIA },
	[OSTOR_SCSI_OP_WRITE_SAME10] = { sim_cmd_write_same, 10, 7, F_DISK | F_MEDIA },
	[OSTOR_SCSI_OP_UNMAP] = { sim_cmd_unmap, 10, 7, F_DISK | F_MEDIA },
	[OSTOR_SCSI_OP_LOG_SENSE] = { sim_cmd_log_sense, 10, 7, 0 },
	[OSTOR_SCSI_OP_MODE_SELECT10] = { sim_cmd_mode_select, 10, 7, 0 },
	[OSTOR_SCSI_OP_MODE_SENSE10] = { sim_cmd_mode_sense, 10, 7, 0 },
	[OSTOR_SCSI_OP_READ16] = { sim_cmd_read, 16, 10, F_MEDIA },
	[OSTOR_SCSI_OP_COMPARE_AND_WRITE] = { sim_cmd_compare_and_write, 16, 13, F_DISK | F_MEDIA },
	[OSTOR_SCSI_OP_WRITE16] = { sim_cmd_write, 16, 10, F_MEDIA },
	[OSTOR_SCSI_OP_VERIFY16] = { sim_cmd_verify, 16, 10, F_MEDIA },
	[OSTOR_SCSI_OP_SYNCHRONIZE_CACHE16] = { sim_cmd_sync, 16, 10, F_MEDIA },
	[OSTOR_SCSI_OP_WRITE_SAME16] = { sim_cmd_write_same, 16, 10, F_DISK | F_MEDIA },
	[OSTOR_SCSI_OP_SERVICE_ACTION_IN16] = { sim_cmd_service_action_in, 16, 10, 0 },
	[OSTOR_SCSI_OP_REPORT_LUNS] = { sim_cmd_report_luns, 12, 6, F_NO_LU | F_NO_UA },
	[OSTOR_SCSI_OP_READ12] = { sim_cmd_read, 12, 6, F_MEDIA },
	[OSTOR_SCSI_OP_WRITE12] = { sim_cmd_write, 12, 6, F_MEDIA },
	[OSTOR_SCSI_OP_ATA_PASS_THROUGH16] = { sim_cmd_ata_pass_through, 16, 6, F_DISK | F_ATA },
	[OSTOR_SCSI_OP_ATA_PASS_THROUGH12] = { sim_cmd_ata_pass_through, 12, 4, F_DISK | F_ATA },
	[SIM_OP_JMICRON] = { sim_cmd_jmicron, 12, 3, F_DISK | F_ATA | F_VENDOR },
};

static struct sim_lu *find_lu(const struct sim_target *t, uint32_t lun, size_t *pos)
{
	size_t lo = 0, hi = t->nlus;

	/* LUNs numbered from 0 without gaps (the usual case): direct. */
	if (!pos && lun < t->nlus && t->lus[lun]->lun == lun)
		return t->lus[lun];

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (t->lus[mid]->lun < lun)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (pos)
		*pos = lo;
	return lo < t->nlus && t->lus[lo]->lun == lun ? t->lus[lo] : NULL;
}

/* Consume the first fault rule matching this command, if any. */
static bool apply_fault(struct exec *x)
{
	struct sim_target *t = x->t;

	for (size_t i = 0; i < t->nfaults; i++) {
		struct sim_fault *f = &t->faults[i];

		if (f->lun != x->cmd->lun || (f->opcode >= 0 && f->opcode != x->op))
			continue;
		if (f->check)
			fail(x, f->key, f->asc, f->ascq);
		else
			x->status = f->status;
		if (f->count != SIM_FAULT_FOREVER && --f->count == 0) {
			memmove(f, f + 1, (t->nfaults - i - 1) * sizeof(*f));
			t->nfaults--;
		}
		t->stats.injected++;
		return true;
	}
	return false;
}

static void execute_locked(struct exec *x)
{
	struct sim_cmd *cmd = x->cmd;
	const struct op_desc *d;

	if (!cmd->cdb || cmd->cdb_len == 0) {
		fail(x, OSTOR_SCSI_SENSE_ILLEGAL_REQUEST, ASC_INVALID_OPCODE, 0);
		return;
	}
	x->cdb = cmd->cdb;
	x->op = cmd->cdb[0];
	x->t->stats.per_opcode[x->op]++;
	x->lu = cmd->lun < SIM_MAX_LUNS ? find_lu(x->t, cmd->lun, NULL) : NULL;
	if (apply_fault(x))
		return;
	d = &ops[x->op];
	/* The held sense only survives until the next command. */
	if (x->lu && x->op != OSTOR_SCSI_OP_REQUEST_SENSE)
		x->lu->held = false;
	if (!x->lu && !(d->flags & F_NO_LU)) {
		fail(x, OSTOR_SCSI_SENSE_ILLEGAL_REQUEST, ASC_LUN_NOT_SUPPORTED, 0);
		return;
	}
	/* An expired power condition timer takes effect now (power.c). */
	if (x->lu)
		sim_power_tick(x->lu);
	if (x->lu && !(d->flags & F_NO_UA) && sim_take_ua(x->lu, &x->sense, true)) {
		x->status = OSTOR_SCSI_STATUS_CHECK_CONDITION;
		x->t->stats.unit_attentions++;
		return;
	}
	if (!d->fn || ((d->flags & F_DISK) && x->lu->type != OSTOR_TYPE_DISK) ||
	    ((d->flags & F_ATA) && !sim_ata_opcode_ok(x->lu, x->op))) {
		fail(x, OSTOR_SCSI_SENSE_ILLEGAL_REQUEST, ASC_INVALID_OPCODE, 0);
		return;
	}
	x->len_byte = d->len_byte;
	if (cmd->cdb_len < d->cdb_len) {
		/* The opcode implies a longer CDB than we were given. */
		bad_cdb(x, 0, -1);
		return;
	}
	/* CONTROL byte: no ACA (NormACA = 0), LINK is obsolete. */
	if (!(d->flags & F_VENDOR) && (x->cdb[d->cdb_len - 1] & 0x05)) {
		bad_cdb(x, d->cdb_len - 1u, (x->cdb[d->cdb_len - 1] & 0x04) ? 2 : 0);
		return;
	}
	/* A started LU spins up for the medium and its power condition
	 * timers restart; a stopped one stays stopped (NOT READY). */
	if ((d->flags & F_MEDIA) && x->lu->started)
		sim_power_access(x->lu, ostori_now_ms());
	d->fn(x);
}

/* ---- the lock-free way (see struct sim_fast_lu) ------------------------- */

/* t->lock held: may commands to this LU take the fast way? */
static void fast_refresh(struct sim_target *t, const struct sim_lu *lu)
{
	struct sim_fast_lu *f;
	bool ok;

	if (!lu || lu->lun >= SIM_FAST_LUNS)
		return;
	f = &t->fast[lu->lun];
	/* Not while idle/standby or a power timer may fire: the fast way
	 * neither wakes the LU nor restarts its timers. */
	ok = lu->null && lu->type == OSTOR_TYPE_DISK && lu->present && lu->loaded && lu->started &&
	     !lu->ua && !lu->held && !t->nfaults && sim_power_fast_ok(lu) &&
	     fits_size((uint64_t)lu->max_transfer * lu->block_size);
	if (!ok) {
		atomic_store_explicit(&f->blocks, 0, memory_order_relaxed);
		return;
	}
	atomic_store_explicit(&f->block_size, lu->block_size, memory_order_relaxed);
	atomic_store_explicit(&f->max_transfer, lu->max_transfer, memory_order_relaxed);
	atomic_store_explicit(&f->writable, !lu->readonly, memory_order_relaxed);
	/* Release: a reader that sees blocks sees the rest. */
	atomic_store_explicit(&f->blocks, lu->blocks, memory_order_release);
}

/* t->lock held. */
static void fast_clear_all(struct sim_target *t)
{
	for (unsigned int i = 0; i < SIM_FAST_LUNS; i++)
		atomic_store_explicit(&t->fast[i].blocks, 0, memory_order_relaxed);
}

static void fast_clear(struct sim_target *t, uint32_t lun)
{
	if (lun < SIM_FAST_LUNS)
		atomic_store_explicit(&t->fast[lun].blocks, 0, memory_order_relaxed);
}

static bool execute_fast(struct sim_target *t, struct sim_cmd *cmd, size_t total)
{
	size_t n;

	if (!sim_target_execute_fast(t, cmd->lun, cmd->cdb, cmd->cdb_len, cmd->dir, total, &n))
		return false;
	cmd->status = OSTOR_SCSI_STATUS_GOOD;
	cmd->sense_len = 0;
	cmd->transferred = n;
	cmd->residual = total - n;
	cmd->overrun = false;
	return true;
}

static const uint8_t fast_opcodes[SIM_FAST_OPS] = {
	OSTOR_SCSI_OP_READ10, OSTOR_SCSI_OP_WRITE10, OSTOR_SCSI_OP_READ16, OSTOR_SCSI_OP_WRITE16,
};

/* ---- execute ------------------------------------------------------------ */

static void __attribute__((noinline)) execute_slow(struct sim_target *t, struct sim_cmd *cmd, size_t total);

void sim_target_execute(struct sim_target *t, struct sim_cmd *cmd)
{
	size_t total;

	if (!cmd)
		return;
	total = iov_total(cmd->iov, cmd->iovcnt);
	if (OSTOR_LIKELY(t != NULL) && execute_fast(t, cmd, total))
		return;
	execute_slow(t, cmd, total);
}

/* Under the lock: everything but the fast way. */
static void execute_slow(struct sim_target *t, struct sim_cmd *cmd, size_t total)
{
	struct exec x;
	sim_fault_fn hook;
	void *ud;

	memset(&x, 0, sizeof(x));
	x.t = t;
	x.cmd = cmd;
	x.total = total;
	cmd->status = OSTOR_SCSI_STATUS_GOOD;
	cmd->sense_len = 0;
	cmd->transferred = 0;
	cmd->residual = x.total;
	cmd->overrun = false;
	if (!t) {
		fail(&x, OSTOR_SCSI_SENSE_ILLEGAL_REQUEST, ASC_LUN_NOT_SUPPORTED, 0);
		cmd->status = x.status;
		cmd->sense_len = sim_sense_fixed(&x.sense, cmd->sense);
		return;
	}

	hook = NULL;
	ud = NULL;
	if (__atomic_load_n(&t->has_hook, __ATOMIC_ACQUIRE)) {
		pthread_mutex_lock(&t->lock);
		hook = t->hook;
		ud = t->hook_ud;
		pthread_mutex_unlock(&t->lock);
	}
	if (hook && hook(ud, cmd)) {
		/* Keep the hook's results self-consistent. */
		if (cmd->transferred > x.total)
			cmd->transferred = x.total;
		if (cmd->sense_len > sizeof(cmd->sense))
			cmd->sense_len = sizeof(cmd->sense);
		cmd->residual = x.total - cmd->transferred;
		pthread_mutex_lock(&t->lock);
		t->stats.commands++;
		t->stats.injected++;
		if (cmd->cdb && cmd->cdb_len)
			t->stats.per_opcode[cmd->cdb[0]]++;
		pthread_mutex_unlock(&t->lock);
		return;
	}

	pthread_mutex_lock(&t->lock);
	t->stats.commands++;
	execute_locked(&x);
	cmd->status = x.status;
	if (x.status == OSTOR_SCSI_STATUS_CHECK_CONDITION) {
		cmd->sense_len = sim_sense_fixed(&x.sense, cmd->sense);
		if (x.lu) {
			x.lu->held = true;
			x.lu->held_sense = x.sense;
		}
		t->stats.check_condition++;
	} else if (x.status == OSTOR_SCSI_STATUS_GOOD) {
		t->stats.good++;
	} else {
		t->stats.other_status++;
	}
	if (cmd->overrun)
		t->stats.overruns++;
	if (cmd->dir == OSTOR_DIR_FROM_DEVICE)
		t->stats.bytes_in += cmd->transferred;
	else
		t->stats.bytes_out += cmd->transferred;
	fast_refresh(t, x.lu);
	pthread_mutex_unlock(&t->lock);
	cmd->residual = x.total - cmd->transferred;
}

/* ---- target management -------------------------------------------------- */

void sim_lu_config_init(struct sim_lu_config *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	cfg->type = OSTOR_TYPE_DISK;
	cfg->fd = -1;
}

struct sim_target *sim_target_new(void)
{
	struct sim_target *t = calloc(1, sizeof(*t));

	if (!t) {
		ostori_error(OSTOR_ERROR_NO_MEM, "cannot allocate a simulated target");
		return NULL;
	}
	t->scratch = malloc(SCRATCH_SIZE);
	t->zeros = calloc(1, SCRATCH_SIZE);
	if (!t->scratch || !t->zeros || pthread_mutex_init(&t->lock, NULL)) {
		free(t->scratch);
		free(t->zeros);
		free(t);
		ostori_error(OSTOR_ERROR_NO_MEM,
			     "cannot allocate the simulated target's buffers");
		return NULL;
	}
	t->id = __atomic_fetch_add(&next_target_id, 1, __ATOMIC_RELAXED);
	return t;
}

static void lu_free(struct sim_lu *lu)
{
	sim_store_unmap(lu);
	free(lu);
}

void sim_target_free(struct sim_target *t)
{
	if (!t)
		return;
	for (size_t i = 0; i < t->nlus; i++)
		lu_free(t->lus[i]);
	free(t->lus);
	free(t->faults);
	free(t->scratch);
	free(t->zeros);
	pthread_mutex_destroy(&t->lock);
	free(t);
}

static int set_string(char *dst, size_t max, const char *src, const char *def,
		      const char *what)
{
	const char *s = src ? src : def;
	size_t l = strlen(s);

	if (l > max)
		return ostori_error(OSTOR_ERROR_INVALID_PARAM,
				    "simulated LU %s \"%s\" is longer than %zu characters; shorten it",
				    what, s, max);
	for (size_t i = 0; i < l; i++)
		if (s[i] < 0x20 || s[i] > 0x7e)
			return ostori_error(OSTOR_ERROR_INVALID_PARAM,
					    "simulated LU %s has a non-printable character at %zu; use printable ASCII",
					    what, i);
	memcpy(dst, s, l + 1);
	return 0;
}

static uint64_t fnv1a(uint64_t h, const void *data, size_t len)
{
	const uint8_t *p = data;

	for (size_t i = 0; i < len; i++) {
		h ^= p[i];
		h *= 0x100000001b3ull;
	}
	return h;
}

int sim_target_add_lu(struct sim_target *t, uint32_t lun, const struct sim_lu_config *cfg)
{
	struct sim_lu *lu;
	size_t pos;
	int r;

	if (!t || !cfg)
		return ostori_error(OSTOR_ERROR_INVALID_PARAM,
				    "sim_target_add_lu: target and config are required");
	if (lun >= SIM_MAX_LUNS)
		return ostori_error(OSTOR_ERROR_INVALID_PARAM,
				    "simulated LUN %u is out of range; use 0..%u",
				    lun, SIM_MAX_LUNS - 1);
	if (cfg->type != OSTOR_TYPE_DISK && cfg->type != OSTOR_TYPE_CDROM)
		return ostori_error(OSTOR_ERROR_INVALID_PARAM,
				    "simulated LU %u: type %d is not supported; use disk (0) or cdrom (5)",
				    lun, cfg->type);
	lu = calloc(1, sizeof(*lu));
	if (!lu)
		return ostori_error(OSTOR_ERROR_NO_MEM, "cannot allocate simulated LU %u", lun);
	lu->lun = lun;
	lu->type = cfg->type;
	lu->fd = cfg->fd;
	lu->fd_offset = cfg->fd_offset;
	lu->null = cfg->null;
	lu->thick = cfg->thick && cfg->type == OSTOR_TYPE_DISK;
	lu->block_size = cfg->block_size ? cfg->block_size :
			 cfg->type == OSTOR_TYPE_CDROM ? 2048 : 512;
	lu->blocks = cfg->blocks;
	lu->max_transfer = cfg->max_transfer ? cfg->max_transfer : SIM_DEFAULT_MAX_TRANSFER;
	lu->readonly = cfg->readonly || cfg->type == OSTOR_TYPE_CDROM;
	lu->removable = cfg->removable || cfg->type == OSTOR_TYPE_CDROM;
	lu->present = lu->loaded = lu->started = lu->wce = lu->wce_saved = true;
	lu->ata = cfg->ata;
	lu->ata_faults = cfg->ata_faults;
	lu->ie_failing = cfg->ie_failing;
	lu->temperature = cfg->temperature ? cfg->temperature : SIM_DEFAULT_TEMPERATURE;
	lu->power_page = !cfg->no_power_page;
	lu->born_ms = ostori_now_ms();
	sim_power_init(lu);
	sim_ata_init(lu);

	if (lu->block_size != 512 && lu->block_size != 1024 &&
	    lu->block_size != 2048 && lu->block_size != 4096) {
		r = ostori_error(OSTOR_ERROR_INVALID_PARAM,
				 "simulated LU %u: block size %u is not supported; use 512, 1024, 2048 or 4096",
				 lun, lu->block_size);
		goto fail;
	}
	if (cfg->null && cfg->fd >= 0) {
		r = ostori_error(OSTOR_ERROR_INVALID_PARAM,
				 "simulated LU %u: a null LU has no backing file", lun);
		goto fail;
	}
	if (cfg->fd < -1 || (cfg->fd < 0 && cfg->fd_offset)) {
		r = ostori_error(OSTOR_ERROR_INVALID_PARAM,
				 "simulated LU %u: bad backing fd %d / offset; pass -1 (and offset 0) for RAM",
				 lun, cfg->fd);
		goto fail;
	}
	if (cfg->ata < SIM_ATA_NONE || cfg->ata > SIM_ATA_JMICRON ||
	    (cfg->ata && cfg->type != OSTOR_TYPE_DISK)) {
		r = ostori_error(OSTOR_ERROR_INVALID_PARAM,
				 "simulated LU %u: ATA model %d is not supported; use SIM_ATA_NONE, SIM_ATA_SAT or SIM_ATA_JMICRON, on a disk",
				 lun, cfg->ata);
		goto fail;
	}
	if (cfg->ata_faults & ~(unsigned int)(SIM_ATA_FAULT_FAILING | SIM_ATA_FAULT_PREFAIL |
					      SIM_ATA_FAULT_NO_REGISTERS | SIM_ATA_FAULT_NO_PT16 |
					      SIM_ATA_FAULT_NO_PT12)) {
		r = ostori_error(OSTOR_ERROR_INVALID_PARAM,
				 "simulated LU %u: unknown ATA fault bits %#x; use SIM_ATA_FAULT_*",
				 lun, cfg->ata_faults);
		goto fail;
	}
	r = sim_store_check_size(lu, lu->blocks);
	if (r)
		goto fail;
	/* Behind a SAT bridge the INQUIRY strings are the drive's (SAT-3:
	 * vendor "ATA", the model's first 16 characters); a JMicron bridge
	 * has its own. */
	r = set_string(lu->vendor, 8, cfg->vendor,
		       cfg->ata == SIM_ATA_SAT ? "ATA" : cfg->ata == SIM_ATA_JMICRON ? "JMicron" : "ORIONSTR",
		       "vendor");
	if (!r)
		r = set_string(lu->product, 16, cfg->product,
			       cfg->type == OSTOR_TYPE_CDROM ? "SIM CDROM" :
			       cfg->ata == SIM_ATA_SAT ? "ORIONSTOR SIM AT" :
			       cfg->ata == SIM_ATA_JMICRON ? "Generic" : "SIM DISK",
			       "product");
	if (!r)
		r = set_string(lu->revision, 4, cfg->revision, "0001", "revision");
	if (!r && cfg->serial) {
		r = set_string(lu->serial, 32, cfg->serial, NULL, "serial");
	} else if (!r) {
		snprintf(lu->serial, sizeof(lu->serial), "ORS%08X%04X", t->id, lun);
	}
	if (r)
		goto fail;
	lu->naa = fnv1a(0xcbf29ce484222325ull, lu->vendor, strlen(lu->vendor));
	lu->naa = fnv1a(lu->naa, lu->product, strlen(lu->product));
	lu->naa = fnv1a(lu->naa, lu->serial, strlen(lu->serial));
	lu->naa = fnv1a(lu->naa, &lun, sizeof(lun));
	lu->naa = (3ull << 60) | (lu->naa & 0x0fffffffffffffffull);

	pthread_mutex_lock(&t->lock);
	if (find_lu(t, lun, &pos)) {
		pthread_mutex_unlock(&t->lock);
		r = ostori_error(OSTOR_ERROR_INVALID_PARAM,
				 "simulated LUN %u already exists; pick another number", lun);
		goto fail;
	}
	if (t->nlus == t->lus_cap) {
		size_t cap = t->lus_cap ? t->lus_cap * 2 : 4;
		struct sim_lu **n = realloc(t->lus, cap * sizeof(*n));

		if (!n) {
			pthread_mutex_unlock(&t->lock);
			r = ostori_error(OSTOR_ERROR_NO_MEM, "cannot grow the LU table");
			goto fail;
		}
		t->lus = n;
		t->lus_cap = cap;
	}
	if (lu->fd < 0 && !lu->null) {
		r = sim_store_map(lu);
		if (r) {
			pthread_mutex_unlock(&t->lock);
			goto fail;
		}
	}
	memmove(t->lus + pos + 1, t->lus + pos, (t->nlus - pos) * sizeof(*t->lus));
	t->lus[pos] = lu;
	t->nlus++;
	pthread_mutex_unlock(&t->lock);
	return 0;
fail:
	lu_free(lu);
	return r;
}

void sim_target_set_usb_ids(struct sim_target *t, uint16_t vid, uint16_t pid)
{
	if (!t)
		return;
	pthread_mutex_lock(&t->lock);
	t->usb_vid = vid;
	t->usb_pid = vid ? pid : 0;
	pthread_mutex_unlock(&t->lock);
}

bool sim_target_usb_ids(struct sim_target *t, uint16_t *vid, uint16_t *pid)
{
	bool set;

	if (!t)
		return false;
	pthread_mutex_lock(&t->lock);
	set = t->usb_vid != 0;
	if (set) {
		*vid = t->usb_vid;
		*pid = t->usb_pid;
	}
	pthread_mutex_unlock(&t->lock);
	return set;
}

size_t sim_target_lu_count(struct sim_target *t)
{
	return sim_target_luns(t, NULL, 0);
}

size_t sim_target_luns(struct sim_target *t, uint32_t *luns, size_t max)
{
	size_t n;

	if (!t)
		return 0;
	pthread_mutex_lock(&t->lock);
	n = t->nlus;
	for (size_t i = 0; i < n && i < max && luns; i++)
		luns[i] = t->lus[i]->lun;
	pthread_mutex_unlock(&t->lock);
	return n;
}

void sim_target_set_fault_hook(struct sim_target *t, sim_fault_fn fn, void *ud)
{
	if (!t)
		return;
	pthread_mutex_lock(&t->lock);
	t->hook = fn;
	t->hook_ud = ud;
	__atomic_store_n(&t->has_hook, fn != NULL, __ATOMIC_RELEASE);
	pthread_mutex_unlock(&t->lock);
}

static int add_fault(struct sim_target *t, const struct sim_fault *f)
{
	if (!t)
		return ostori_error(OSTOR_ERROR_INVALID_PARAM, "no simulated target");
	if (f->lun >= SIM_MAX_LUNS || f->opcode < -1 || f->opcode > 255 || !f->count)
		return ostori_error(OSTOR_ERROR_INVALID_PARAM,
				    "bad fault rule (LUN %u, opcode %d, count %u): LUN < %u, opcode -1..255, count >= 1",
				    f->lun, f->opcode, f->count, SIM_MAX_LUNS);
	pthread_mutex_lock(&t->lock);
	if (t->nfaults == t->faults_cap) {
		size_t cap = t->faults_cap ? t->faults_cap * 2 : 4;
		struct sim_fault *n = realloc(t->faults, cap * sizeof(*n));

		if (!n) {
			pthread_mutex_unlock(&t->lock);
			return ostori_error(OSTOR_ERROR_NO_MEM, "cannot grow the fault table");
		}
		t->faults = n;
		t->faults_cap = cap;
	}
	t->faults[t->nfaults++] = *f;
	fast_clear_all(t);
	pthread_mutex_unlock(&t->lock);
	return 0;
}

int sim_target_inject_check(struct sim_target *t, uint32_t lun, int opcode,
			    unsigned int count, uint8_t key, uint8_t asc, uint8_t ascq)
{
	struct sim_fault f = {
		.lun = lun, .opcode = opcode, .count = count, .check = true,
		.key = key, .asc = asc, .ascq = ascq,
	};

	if (key > 0x0f)
		return ostori_error(OSTOR_ERROR_INVALID_PARAM,
				    "sense key %#x is not a 4-bit value", key);
	return add_fault(t, &f);
}

int sim_target_inject_status(struct sim_target *t, uint32_t lun, int opcode,
			     unsigned int count, uint8_t status)
{
	struct sim_fault f = {
		.lun = lun, .opcode = opcode, .count = count, .status = status,
	};

	if (status == OSTOR_SCSI_STATUS_GOOD ||
	    status == OSTOR_SCSI_STATUS_CHECK_CONDITION)
		return ostori_error(OSTOR_ERROR_INVALID_PARAM,
				    "inject status %#x: GOOD cannot fail a command and CHECK CONDITION needs sense; use sim_target_inject_check",
				    status);
	return add_fault(t, &f);
}

void sim_target_clear_faults(struct sim_target *t)
{
	if (!t)
		return;
	pthread_mutex_lock(&t->lock);
	t->nfaults = 0;
	pthread_mutex_unlock(&t->lock);
}

void sim_target_reset(struct sim_target *t)
{
	if (!t)
		return;
	pthread_mutex_lock(&t->lock);
	fast_clear_all(t);
	for (size_t i = 0; i < t->nlus; i++) {
		struct sim_lu *lu = t->lus[i];

		lu->ua = UA_RESET;
		lu->held = false;
		lu->started = true;
		lu->prevent = false;
		lu->wce = lu->wce_saved;
		sim_power_reset(lu, ostori_now_ms());
	}
	pthread_mutex_unlock(&t->lock);
}

static struct sim_lu *lookup(struct sim_target *t, uint32_t lun, int *err)
{
	struct sim_lu *lu = t ? find_lu(t, lun, NULL) : NULL;

	if (!lu)
		*err = ostori_error(OSTOR_ERROR_NOT_FOUND,
				    "simulated LUN %u does not exist; add it first", lun);
	return lu;
}

int sim_target_set_medium(struct sim_target *t, uint32_t lun, bool present)
{
	struct sim_lu *lu;
	int r = 0;

	if (!t)
		return ostori_error(OSTOR_ERROR_INVALID_PARAM, "no simulated target");
	pthread_mutex_lock(&t->lock);
	lu = lookup(t, lun, &r);
	if (!lu)
		goto out;
	fast_clear(t, lun);
	if (!lu->removable) {
		r = ostori_error(OSTOR_ERROR_INVALID_PARAM,
				 "simulated LUN %u has no removable medium; configure it removable",
				 lun);
	} else if (!present) {
		if (lu->prevent)
			r = ostori_error(OSTOR_ERROR_BUSY,
					 "simulated LUN %u: the initiator prevents medium removal; send PREVENT ALLOW MEDIUM REMOVAL (allow) first",
					 lun);
		else
			lu->present = false;
	} else if (!lu->present || !lu->loaded) {
		lu->present = lu->loaded = true;
		lu->ua |= UA_MEDIUM;
	}
out:
	pthread_mutex_unlock(&t->lock);
	return r;
}

int sim_target_set_health(struct sim_target *t, uint32_t lun, unsigned int ata_faults, bool ie_failing)
{
	struct sim_lu *lu;
	int r = 0;

	if (!t)
		return ostori_error(OSTOR_ERROR_INVALID_PARAM, "no simulated target");
	pthread_mutex_lock(&t->lock);
	lu = lookup(t, lun, &r);
	if (lu) {
		lu->ata_faults = ata_faults;
		lu->ie_failing = ie_failing;
	}
	pthread_mutex_unlock(&t->lock);
	return r;
}

int sim_target_set_capacity(struct sim_target *t, uint32_t lun, uint64_t blocks)
{
	struct sim_lu *lu;
	int r = 0;

	if (!t)
		return ostori_error(OSTOR_ERROR_INVALID_PARAM, "no simulated target");
	pthread_mutex_lock(&t->lock);
	lu = lookup(t, lun, &r);
	if (!lu)
		goto out;
	fast_clear(t, lun);
	r = sim_store_check_size(lu, blocks);
	if (r)
		goto out;
	r = sim_store_resize(lu, blocks);
	if (r)
		goto out;
	lu->blocks = blocks;
	lu->ua |= UA_CAPACITY;
out:
	pthread_mutex_unlock(&t->lock);
	return r;
}

void sim_target_get_stats(struct sim_target *t, struct sim_stats *out)
{
	if (!t || !out)
		return;
	pthread_mutex_lock(&t->lock);
	*out = t->stats;
	pthread_mutex_unlock(&t->lock);
	for (unsigned int i = 0; i < SIM_FAST_OPS; i++) {
		uint64_t n = atomic_load_explicit(&t->fast_ops[i], memory_order_relaxed);

		out->commands += n;
		out->good += n;
		out->per_opcode[fast_opcodes[i]] += n;
	}
	out->bytes_in += atomic_load_explicit(&t->fast_bytes_in, memory_order_relaxed);
	out->bytes_out += atomic_load_explicit(&t->fast_bytes_out, memory_order_relaxed);
}

void sim_target_reset_stats(struct sim_target *t)
{
	if (!t)
		return;
	pthread_mutex_lock(&t->lock);
	memset(&t->stats, 0, sizeof(t->stats));
	for (unsigned int i = 0; i < SIM_FAST_OPS; i++)
		atomic_store_explicit(&t->fast_ops[i], 0, memory_order_relaxed);
	atomic_store_explicit(&t->fast_bytes_in, 0, memory_order_relaxed);
	atomic_store_explicit(&t->fast_bytes_out, 0, memory_order_relaxed);
	pthread_mutex_unlock(&t->lock);
}
