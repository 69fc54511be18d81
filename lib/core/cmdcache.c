/*
 * lib/core/cmdcache.c - the SCSI command cache: answers to identification
 * commands (INQUIRY and its VPD pages, READ CAPACITY, MODE SENSE, REPORT
 * LUNS) kept per device, so a program or a tool that asks again does not
 * wait for a slow device ([usb_storage] scsi_command_cache_size).
 *
 * An answer is kept only when the command completed GOOD with data, and
 * served only to the very same CDB on the same target and LUN with a
 * buffer at least as large.  Everything a LUN said is forgotten when it
 * reports a unit attention (its identity or capacity may have changed),
 * when a command that changes what these commands return goes to it
 * (MODE SELECT, FORMAT UNIT, START STOP UNIT, WRITE BUFFER, SANITIZE,
 * ...), and at any reset.  Other commands never look at the cache: one
 * table lookup per command.
 */
#include "core/backend.h"

#include <stdlib.h>
#include <string.h>

#define CACHE_MAX_DATA 4096 /* larger answers are not kept */

enum { OP_PLAIN = 0, OP_CACHED, OP_CHANGES };

static const uint8_t op_class[256] = {
	[0x12] = OP_CACHED,  /* INQUIRY */
	[0x25] = OP_CACHED,  /* READ CAPACITY(10) */
	[0x1a] = OP_CACHED,  /* MODE SENSE(6) */
	[0x5a] = OP_CACHED,  /* MODE SENSE(10) */
	[0xa0] = OP_CACHED,  /* REPORT LUNS */
	[0x9e] = OP_CACHED,  /* SERVICE ACTION IN(16): READ CAPACITY(16) only, below */
	[0x04] = OP_CHANGES, /* FORMAT UNIT */
	[0x15] = OP_CHANGES, /* MODE SELECT(6) */
	[0x55] = OP_CHANGES, /* MODE SELECT(10) */
	[0x1b] = OP_CHANGES, /* START STOP UNIT (medium) */
	[0x3b] = OP_CHANGES, /* WRITE BUFFER (microcode) */
	[0x48] = OP_CHANGES, /* SANITIZE */
	[0xa4] = OP_CHANGES, /* MAINTENANCE OUT (SET IDENTIFYING INFORMATION) */
	[0xb5] = OP_CHANGES, /* SECURITY PROTOCOL OUT */
	[0x9f] = OP_CHANGES, /* SERVICE ACTION OUT(16) */
	[0x4c] = OP_CHANGES, /* LOG SELECT */
	[0x1d] = OP_CHANGES, /* SEND DIAGNOSTIC */
	[0xa1] = OP_CHANGES, /* ATA PASS-THROUGH(12) */
	[0x85] = OP_CHANGES, /* ATA PASS-THROUGH(16) */
};

struct entry {
	bool used;
	uint32_t target, lun;
	uint8_t cdb[OSTOR_CDB_MAX];
	uint8_t cdb_len;
	size_t len;                 /* answer bytes */
	uint64_t last;              /* LRU stamp */
	uint8_t *data;
};

struct ostori_cmd_cache {
	pthread_mutex_t lock;
	unsigned int n;
	uint64_t clock;
	uint64_t hits, misses;
	struct entry e[];
};

static bool cacheable(const ostor_task *t)
{
	if (op_class[t->cdb[0]] != OP_CACHED || t->dir != OSTOR_DIR_FROM_DEVICE || !t->data_len)
		return false;
	/* 9Eh is only cached for READ CAPACITY(16). */
	return t->cdb[0] != 0x9e || (t->cdb_len >= 2 && (t->cdb[1] & 0x1f) == 0x10);
}

int ostori_cmdcache_init(ostor_device *dev, unsigned int entries)
{
	struct ostori_cmd_cache *c;

	if (!entries)
		return 0;
	c = calloc(1, sizeof(*c) + entries * sizeof(c->e[0]));
	if (!c)
		return ostori_error(OSTOR_ERROR_NO_MEM, "out of memory for a %u-entry command cache", entries);
	pthread_mutex_init(&c->lock, NULL);
	c->n = entries;
	dev->cmd_cache = c;
	return 0;
}

void ostori_cmdcache_free(ostor_device *dev)
{
	struct ostori_cmd_cache *c = dev->cmd_cache;

	if (!c)
		return;
	for (unsigned int i = 0; i < c->n; i++)
		free(c->e[i].data);
	pthread_mutex_destroy(&c->lock);
	free(c);
	dev->cmd_cache = NULL;
}

/* c->lock held.  all: every target and LUN. */
static void forget(struct ostori_cmd_cache *c, bool all, uint32_t target, uint32_t lun)
{
	for (unsigned int i = 0; i < c->n; i++) {
		struct entry *e = &c->e[i];

		if (!e->used || (!all && (e->target != target || e->lun != lun)))
			continue;
		e->used = false;
		free(e->data);
		e->data = NULL;
	}
}

void ostori_cmdcache_forget_all(ostor_device *dev)
{
	struct ostori_cmd_cache *c = dev->cmd_cache;

	if (!c)
		return;
	pthread_mutex_lock(&c->lock);
	forget(c, true, 0, 0);
	pthread_mutex_unlock(&c->lock);
}

static struct entry *find(struct ostori_cmd_cache *c, const ostor_task *t)
{
	for (unsigned int i = 0; i < c->n; i++) {
		struct entry *e = &c->e[i];

		if (e->used && e->target == t->target && e->lun == t->lun && e->cdb_len == t->cdb_len &&
		    !memcmp(e->cdb, t->cdb, t->cdb_len))
			return e;
	}
	return NULL;
}

/* Copy len bytes into the task's buffers. */
static void to_iov(ostor_task *t, const uint8_t *src, size_t len)
{
	for (int i = 0; i < t->iovcnt && len; i++) {
		size_t n = OSTOR_MIN(len, t->iov[i].iov_len);

		memcpy(t->iov[i].iov_base, src, n);
		src += n;
		len -= n;
	}
}

static size_t from_iov(const ostor_task *t, uint8_t *dst, size_t len)
{
	size_t done = 0;

	for (int i = 0; i < t->iovcnt && done < len; i++) {
		size_t n = OSTOR_MIN(len - done, t->iov[i].iov_len);

		memcpy(dst + done, t->iov[i].iov_base, n);
		done += n;
	}
	return done;
}

bool ostori_cmdcache_serve(ostor_task *t)
{
	struct ostori_cmd_cache *c = t->dev->cmd_cache;
	struct entry *e;

	if (!cacheable(t))
		return false;
	pthread_mutex_lock(&c->lock);
	e = find(c, t);
	if (!e || e->len > t->data_len) {
		c->misses++;
		pthread_mutex_unlock(&c->lock);
		return false;
	}
	e->last = ++c->clock;
	c->hits++;
	to_iov(t, e->data, e->len);
	t->result = OSTOR_RESULT_GOOD;
	t->status = OSTOR_SCSI_STATUS_GOOD;
	t->sense_len = 0;
	t->transferred = e->len;
	t->from_cache = true;
	pthread_mutex_unlock(&c->lock);
	ostor_dbg(t->dev->ctx, "%s: %02xh answered from the command cache", t->dev->spec, t->cdb[0]);
	ostori_task_complete(t);
	return true;
}

void ostori_cmdcache_note(ostor_task *t)
{
	struct ostori_cmd_cache *c = t->dev->cmd_cache;
	uint8_t cls = op_class[t->cdb[0]];
	struct entry *e, *victim = NULL;
	uint8_t *copy;

	/* A unit attention: whatever this LUN said may have changed. */
	if (t->result == OSTOR_RESULT_CHECK_CONDITION && t->sense_len >= 3) {
		struct ostor_scsi_sense s = OSTOR_SCSI_SENSE_INIT;

		if (ostor_scsi_parse_sense(t->sense, t->sense_len, &s) == 0 &&
		    s.key == OSTOR_SCSI_SENSE_UNIT_ATTENTION)
			cls = OP_CHANGES;
	}
	if (cls == OP_CHANGES) {
		pthread_mutex_lock(&c->lock);
		forget(c, false, t->target, t->lun);
		pthread_mutex_unlock(&c->lock);
		return;
	}
	if (cls != OP_CACHED || !cacheable(t) || t->result != OSTOR_RESULT_GOOD || !t->transferred ||
	    t->transferred > CACHE_MAX_DATA)
		return;
	copy = malloc(t->transferred);
	if (!copy)
		return; /* not kept: nothing is lost */
	from_iov(t, copy, t->transferred);
	pthread_mutex_lock(&c->lock);
	e = find(c, t);
	if (!e) {
		for (unsigned int i = 0; i < c->n && !e; i++)
			if (!c->e[i].used)
				e = &c->e[i];
		for (unsigned int i = 0; i < c->n && !e; i++)
			if (!victim || c->e[i].last < victim->last)
				victim = &c->e[i];
		if (!e)
			e = victim;
	}
	free(e->data);
	e->used = true;
	e->target = t->target;
	e->lun = t->lun;
	memcpy(e->cdb, t->cdb, t->cdb_len);
	e->cdb_len = t->cdb_len;
	e->len = t->transferred;
	e->data = copy;
	e->last = ++c->clock;
	pthread_mutex_unlock(&c->lock);
}

void ostori_cmdcache_stats(const ostor_device *dev, uint64_t *hits, uint64_t *misses)
{
	struct ostori_cmd_cache *c = dev->cmd_cache;

	*hits = *misses = 0;
	if (!c)
		return;
	pthread_mutex_lock(&c->lock);
	*hits = c->hits;
	*misses = c->misses;
	pthread_mutex_unlock(&c->lock);
}
