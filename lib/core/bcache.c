/*
 * lib/core/bcache.c - the block cache's store: lines, their hash and lists,
 * replacement (LRU, sampled LFU, FIFO), the memory bound, LUNs, what an
 * invalidation loses and how that is reported, and the public calls that
 * look at or drop the cache.  How commands use it: bcache_io.c.
 */
#include "core/bcache.h"

#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#define LFU_SAMPLE 8

OSTOR_API const char *ostor_cache_mode_name(int mode)
{
	switch (mode) {
	case OSTOR_CACHE_OFF: return "off";
	case OSTOR_CACHE_WRITE_THROUGH: return "write-through";
	case OSTOR_CACHE_WRITE_BACK: return "write-back";
	default: return "unknown";
	}
}

const char *ostori_bcache_policy_name(int policy)
{
	static const char *const names[] = { "lru", "lfu", "fifo" };

	return policy >= 0 && policy < 3 ? names[policy] : "lru";
}

/* ---- lists and hash -------------------------------------------------------- */

static void list_del(struct bc_list_head *h, struct bc_line *l)
{
	if (l->prev)
		l->prev->next = l->next;
	else
		h->head = l->next;
	if (l->next)
		l->next->prev = l->prev;
	else
		h->tail = l->prev;
	l->prev = l->next = NULL;
	h->n--;
}

static void list_push(struct bc_list_head *h, struct bc_line *l)
{
	l->prev = NULL;
	l->next = h->head;
	if (h->head)
		h->head->prev = l;
	else
		h->tail = l;
	h->head = l;
	h->n++;
}

static struct bc_list_head *list_of(struct ostori_bcache *c, struct bc_line *l)
{
	if (l->list == BC_LIST_CLEAN)
		return l->region ? &c->rclean : &c->clean;
	if (l->list == BC_LIST_DIRTY)
		return &c->luns[l->slot].dirty;
	return NULL;
}

static void unlist(struct ostori_bcache *c, struct bc_line *l)
{
	struct bc_list_head *h = list_of(c, l);

	if (h)
		list_del(h, l);
	l->list = BC_LIST_NONE;
}

void ostori_bc_relist(struct ostori_bcache *c, struct bc_line *l)
{
	enum bc_list want = l->dirty ? BC_LIST_DIRTY : l->writing ? BC_LIST_NONE : BC_LIST_CLEAN;

	if (l->list == want)
		return;
	unlist(c, l);
	l->list = (uint8_t)want;
	if (want != BC_LIST_NONE)
		list_push(list_of(c, l), l);
}

static size_t hash_of(const struct ostori_bcache *c, unsigned int slot, uint64_t no)
{
	uint64_t k = (no << 5 | slot) * UINT64_C(0x9e3779b97f4a7c15);

	return (size_t)(k >> c->hash_shift);
}

struct bc_line *ostori_bc_lookup(struct ostori_bcache *c, unsigned int slot, uint64_t no)
{
	for (struct bc_line *l = c->hash[hash_of(c, slot, no)]; l; l = l->hnext)
		if (l->no == no && l->slot == slot)
			return l;
	return NULL;
}

static void hash_add(struct ostori_bcache *c, struct bc_line *l)
{
	size_t h = hash_of(c, l->slot, l->no);

	l->hnext = c->hash[h];
	c->hash[h] = l;
}

static void hash_del(struct ostori_bcache *c, struct bc_line *l)
{
	struct bc_line **pp = &c->hash[hash_of(c, l->slot, l->no)];

	while (*pp != l)
		pp = &(*pp)->hnext;
	*pp = l->hnext;
	l->hnext = NULL;
}

/* ---- replacement ----------------------------------------------------------- */

void ostori_bc_touch(struct ostori_bcache *c, struct bc_line *l)
{
	if (l->ra) {
		/* The first read of what read-ahead brought. */
		c->luns[l->slot].st.read_ahead_used_bytes +=
			(uint64_t)__builtin_popcountll(l->valid) * c->luns[l->slot].block_size;
		l->ra = false;
	}
	if (l->region)
		c->regions[l->region - 1].touched = c->clock;
	switch (c->policy) {
	case OSTORI_BCACHE_LRU:
		if (l->list == BC_LIST_CLEAN && list_of(c, l)->head != l) {
			struct bc_list_head *h = list_of(c, l);

			list_del(h, l);
			list_push(h, l);
		}
		break;
	case OSTORI_BCACHE_LFU:
		if (l->freq < UINT32_MAX)
			l->freq++;
		break;
	default: /* FIFO: the order of arrival only */
		break;
	}
}

static void free_line(struct ostori_bcache *c, struct bc_line *l)
{
	struct bc_lun *L = &c->luns[l->slot];

	if (l->ra)
		L->st.read_ahead_wasted_bytes += (uint64_t)__builtin_popcountll(l->valid) * L->block_size;
	unlist(c, l);
	hash_del(c, l);
	L->lines--;
	l->used = false;
	l->valid = l->dirty = l->writing = 0;
	l->ra = false;
	if (l->region)
		c->regions[l->region - 1].nused--;
	else
		c->free_stack[c->nfree++] = l;
}

/* The clean line the policy gives up, or NULL. */
static struct bc_line *victim(struct ostori_bcache *c)
{
	struct bc_line *best = c->clean.tail, *l = best;

	if (c->policy != OSTORI_BCACHE_LFU || !best)
		return best;
	/* Sampled LFU: the least used of the oldest few; the others age. */
	for (int i = 0; l && i < LFU_SAMPLE; i++, l = l->prev)
		if (l->freq < best->freq)
			best = l;
	for (l = c->clean.tail; l && l != best;) {
		struct bc_line *prev = l->prev;

		l->freq /= 2;
		l = prev;
	}
	return best;
}

size_t ostori_bc_room(const struct ostori_bcache *c)
{
	return c->nfree + c->clean.n;
}

struct bc_line *ostori_bc_get_line(struct ostori_bcache *c, unsigned int slot, uint64_t no)
{
	struct bc_line *l = ostori_bc_lookup(c, slot, no);

	if (l)
		return l;
	if (!c->nfree) {
		struct bc_line *v = victim(c);

		if (!v)
			return NULL;
		free_line(c, v);
		c->luns[slot].st.evictions++;
	}
	l = c->free_stack[--c->nfree];
	l->used = true;
	l->no = no;
	l->slot = (uint8_t)slot;
	l->freq = 1;
	l->list = BC_LIST_NONE;
	hash_add(c, l);
	c->luns[slot].lines++;
	return l;
}

void ostori_bc_fill_line(struct ostori_bcache *c, struct bc_lun *L, struct bc_line *l, uint64_t mask,
			 const uint8_t *src, bool ra)
{
	uint64_t need = mask & ~l->valid;
	uint32_t first = (uint32_t)__builtin_ctzll(mask);

	(void)c;
	/* A run of needed blocks at a time (all of them, usually). */
	for (uint64_t m = need; m;) {
		uint32_t b = (uint32_t)__builtin_ctzll(m);
		uint64_t run = m >> b, len;

		len = ~run ? (uint64_t)__builtin_ctzll(~run) : 64 - b;
		memcpy(l->data + (size_t)b * L->block_size, src + (size_t)(b - first) * L->block_size,
		       (size_t)len * L->block_size);
		m &= len + b >= 64 ? 0 : ~UINT64_C(0) << (b + len);
	}
	if (need && !l->valid)
		l->ra = ra;
	l->valid |= need;
}

/* ---- read-ahead regions ---------------------------------------------------- */

/* Move what l (a region line) holds into an ordinary line; false when
 * none can be had. */
static bool region_line_move(struct ostori_bcache *c, struct bc_line *l)
{
	struct bc_lun *L = &c->luns[l->slot];
	struct bc_line *n;

	if (!ostori_bc_room(c))
		return false;
	unlist(c, l);
	hash_del(c, l);
	n = ostori_bc_get_line(c, l->slot, l->no); /* room: a free or evictable line */
	memcpy(n->data, l->data, c->line_size);
	n->valid = l->valid;
	n->dirty = l->dirty;
	n->writing = l->writing;
	n->ra = l->ra;
	n->freq = l->freq;
	ostori_bc_relist(c, n);
	L->lines--; /* get_line counted n */
	l->used = false;
	l->valid = l->dirty = l->writing = 0;
	l->ra = false;
	c->regions[l->region - 1].nused--;
	return true;
}

/* Empty r: what is dirty, being written out or was read again moves to
 * ordinary lines (that is the cache's to keep), the rest is dropped.
 * False when dirty data had nowhere to go (r keeps it). */
static bool region_clear(struct ostori_bcache *c, struct bc_region *r)
{
	for (uint32_t i = 0; i < c->region_lines_max && r->nused; i++) {
		struct bc_line *l = &r->lines[i];

		if (!l->used)
			continue;
		if (l->dirty || l->writing) {
			if (!region_line_move(c, l))
				return false;
		} else if (!l->reread || !region_line_move(c, l)) {
			free_line(c, l);
		}
	}
	return true;
}

/* Whether r holds read-ahead data no one has read yet. */
static bool region_unread(const struct ostori_bcache *c, const struct bc_region *r)
{
	for (uint32_t i = 0; i < c->region_lines_max && r->nused; i++)
		if (r->lines[i].used && r->lines[i].ra)
			return true;
	return false;
}

struct bc_region *ostori_bc_region_take(struct ostori_bcache *c)
{
	struct bc_region *pick = NULL;

	if (c->regions_off || !c->region_lines)
		return NULL;
	/* An empty one; else one whose data was all read; else one whose
	 * stream stopped reading it long ago (what it left unread is
	 * wasted).  Otherwise none: read-ahead waits for the reader. */
	for (int i = 0; i < BC_RA_REGIONS && !pick; i++)
		if (!c->regions[i].busy && !c->regions[i].nused)
			pick = &c->regions[i];
	for (int i = 0; i < BC_RA_REGIONS && !pick; i++)
		if (!c->regions[i].busy && !region_unread(c, &c->regions[i]) && region_clear(c, &c->regions[i]))
			pick = &c->regions[i];
	for (int i = 0; i < BC_RA_REGIONS && !pick; i++)
		if (!c->regions[i].busy && c->clock - c->regions[i].touched > BC_RA_IDLE &&
		    region_clear(c, &c->regions[i]))
			pick = &c->regions[i];
	if (!pick)
		return NULL;
	if (!pick->mem) {
		/* The device's memory spares the kernel's copy (usbfs) - unless
		 * it is a pool the application sized for its own buffers. */
		pick->mem = c->dev->dma_pool_fixed ? NULL : ostor_dma_alloc(c->dev, c->region_len);
		pick->dma = pick->mem != NULL;
		if (!pick->mem)
			pick->mem = malloc(c->region_len);
		if (!pick->mem)
			return NULL;
	}
	pick->busy = true;
	return pick;
}

void ostori_bcache_release_buffers(ostor_device *dev)
{
	struct ostori_bcache *c = dev->bcache;

	if (!c)
		return;
	pthread_mutex_lock(&c->lock);
	c->regions_off = true;
	for (int i = 0; i < BC_RA_REGIONS; i++) {
		struct bc_region *r = &c->regions[i];

		if (!r->mem)
			continue;
		if (!region_clear(c, r)) {
			/* Dirty data with nowhere to go, at close (a flush
			 * failed): lost, as the close would say next. */
			for (uint32_t k = 0; k < c->region_lines_max; k++)
				if (r->lines[k].used && (r->lines[k].dirty || r->lines[k].writing))
					ostori_bc_drop_lun(c, &c->luns[r->lines[k].slot], true,
							   "the device was closed with it unwritten", true);
		}
		if (r->dma)
			ostor_dma_free(c->dev, r->mem, c->region_len);
		else
			free(r->mem);
		r->mem = NULL;
	}
	pthread_mutex_unlock(&c->lock);
}

void ostori_bc_region_fill(struct ostori_bcache *c, struct bc_lun *L, struct bc_region *r, uint64_t lba,
			   uint64_t count)
{
	unsigned int slot = (unsigned int)(L - c->luns);
	uint64_t end = lba + count;
	uint32_t i = 0;

	r->touched = c->clock;
	for (uint64_t no = lba / L->bpl; no * L->bpl < end; no++, i++) {
		uint64_t pos = no * L->bpl;
		uint64_t mask = bc_mask(0, (uint32_t)OSTOR_MIN((uint64_t)L->bpl, end - pos));
		uint8_t *data = r->mem + (size_t)i * c->line_size;
		struct bc_line *l = ostori_bc_lookup(c, slot, no);

		if (l) {
			/* A write or a read got there first: what it holds is as
			 * new or newer. */
			ostori_bc_fill_line(c, L, l, mask, data, true);
			ostori_bc_relist(c, l);
			continue;
		}
		l = &r->lines[i];
		l->used = true;
		l->no = no;
		l->slot = (uint8_t)slot;
		l->freq = 1;
		l->reread = false;
		l->seen = 0;
		l->list = BC_LIST_NONE;
		l->data = data;
		l->valid = mask;
		l->dirty = l->writing = 0;
		l->ra = true;
		hash_add(c, l);
		L->lines++;
		r->nused++;
		ostori_bc_relist(c, l);
	}
}

void ostori_bc_set_dirty(struct ostori_bcache *c, struct bc_lun *L, struct bc_line *l, uint64_t bits)
{
	uint64_t add = bits & ~l->dirty;

	(void)c;
	L->dirty_blocks += (uint64_t)__builtin_popcountll(add);
	l->dirty |= bits;
}

/* ---- staleness and invalidation ------------------------------------------ */

void ostori_bc_stale_fills(struct ostori_bcache *c, struct bc_lun *L, uint64_t lba, uint64_t count)
{
	unsigned int slot = (unsigned int)(L - c->luns);

	if (!c->ops_inflight)
		return;
	for (int i = 0; i < BC_OPS_MAX; i++) {
		struct bc_op *op = &c->ops[i];

		if (op->in_use && op->slot == slot &&
		    (op->kind == BC_OP_FILL || op->kind == BC_OP_READ_AHEAD || op->kind == BC_OP_THROUGH) &&
		    op->lba < lba + count && lba < op->lba + op->count)
			op->stale = true;
	}
}

/* Call fn for every line of L overlapping the range (by lookup when the
 * range is short, else by a walk of the pool). */
static void for_lines(struct ostori_bcache *c, struct bc_lun *L, uint64_t lba, uint64_t count,
		      void (*fn)(struct ostori_bcache *, struct bc_lun *, struct bc_line *, uint64_t mask))
{
	unsigned int slot = (unsigned int)(L - c->luns);
	uint64_t first = lba / L->bpl, last = (lba + count - 1) / L->bpl;

	if (last - first < c->nlines) {
		for (uint64_t no = first; no <= last; no++) {
			struct bc_line *l = ostori_bc_lookup(c, slot, no);
			uint64_t s, e;

			if (!l)
				continue;
			s = no == first ? lba % L->bpl : 0;
			e = no == last ? (lba + count - 1) % L->bpl : L->bpl - 1;
			fn(c, L, l, bc_mask((uint32_t)s, (uint32_t)(e - s + 1)));
		}
		return;
	}
	for (size_t i = 0; i < bc_pool_n(c); i++) {
		struct bc_line *l = bc_pool_line(c, i);

		if (l->used && l->slot == slot && l->no >= first && l->no <= last) {
			uint64_t s = l->no == first ? lba % L->bpl : 0;
			uint64_t e = l->no == last ? (lba + count - 1) % L->bpl : L->bpl - 1;

			fn(c, L, l, bc_mask((uint32_t)s, (uint32_t)(e - s + 1)));
		}
	}
}

static void invalidate_line(struct ostori_bcache *c, struct bc_lun *L, struct bc_line *l, uint64_t mask)
{
	(void)L;
	/* Dirty and in-flight blocks are the caller's to have written out. */
	mask &= ~(l->dirty | l->writing);
	l->valid &= ~mask;
	if (!l->valid && !l->dirty && !l->writing)
		free_line(c, l);
}

void ostori_bc_invalidate_range(struct ostori_bcache *c, struct bc_lun *L, uint64_t lba, uint64_t count)
{
	if (!count)
		return;
	ostori_bc_stale_fills(c, L, lba, count);
	for_lines(c, L, lba, count, invalidate_line);
}

/* ---- loss ------------------------------------------------------------------ */

struct lost_range {
	uint64_t lba, blocks;
};

static int cmp_range(const void *a, const void *b)
{
	const struct lost_range *x = a, *y = b;

	return x->lba < y->lba ? -1 : x->lba > y->lba;
}

/* Report the dirty ranges of L (sorted and merged): error log, one event
 * each, statistics, and the LUN's sticky flush error.  c->lock held. */
static uint64_t report_lost(struct ostori_bcache *c, struct bc_lun *L, const char *why)
{
	unsigned int slot = (unsigned int)(L - c->luns);
	struct lost_range *v = NULL;
	size_t n = 0, cap = 0, m = 0;
	uint64_t bytes = 0, first = UINT64_MAX, last = 0;

	for (size_t i = 0; i < bc_pool_n(c); i++) {
		struct bc_line *l = bc_pool_line(c, i);
		uint64_t bits;

		if (!l->used || l->slot != slot || !(l->dirty | l->writing))
			continue;
		bits = l->dirty | l->writing;
		for (uint32_t b = 0; b < L->bpl; b++) {
			if (!(bits >> b & 1))
				continue;
			if (n == cap) {
				struct lost_range *nv = realloc(v, (cap ? cap * 2 : 64) * sizeof(*v));

				if (!nv)
					break;
				v = nv;
				cap = cap ? cap * 2 : 64;
			}
			v[n++] = (struct lost_range){ l->no * L->bpl + b, 1 };
		}
	}
	if (!n) {
		free(v);
		return 0;
	}
	qsort(v, n, sizeof(*v), cmp_range);
	for (size_t i = 0; i < n; i++) {
		if (m && v[m - 1].lba + v[m - 1].blocks == v[i].lba)
			v[m - 1].blocks += v[i].blocks;
		else
			v[m++] = v[i];
	}
	for (size_t i = 0; i < m; i++) {
		ostor_err(c->dev->ctx, "%s target %u lun %u: cached writes to blocks %llu..%llu never reached "
			  "the device and are lost (%s)", c->dev->spec, L->target, L->lun,
			  (unsigned long long)v[i].lba, (unsigned long long)(v[i].lba + v[i].blocks - 1), why);
		ostori_post_event_range(c->dev, OSTOR_EVENT_CACHE_DATA_LOST, L->target, L->lun, v[i].lba,
					v[i].blocks);
		bytes += v[i].blocks * L->block_size;
		first = OSTOR_MIN(first, v[i].lba);
		last = OSTOR_MAX(last, v[i].lba + v[i].blocks - 1);
	}
	L->st.lost_ranges += m;
	L->st.lost_bytes += bytes;
	if (!L->sticky) {
		L->sticky = OSTOR_ERROR_IO;
		snprintf(L->sticky_why, sizeof(L->sticky_why),
			 "cached writes to %llu blocks in %zu range%s (LBA %llu..%llu) never reached the device: %s",
			 (unsigned long long)(bytes / L->block_size), m, m == 1 ? "" : "s",
			 (unsigned long long)first, (unsigned long long)last, why);
	}
	free(v);
	return bytes;
}

uint64_t ostori_bc_drop_lun(struct ostori_bcache *c, struct bc_lun *L, bool dirty_too, const char *why,
			    bool locked)
{
	unsigned int slot = (unsigned int)(L - c->luns);
	uint64_t lost = 0;

	if (!locked)
		pthread_mutex_lock(&c->lock);
	if (dirty_too) {
		lost = report_lost(c, L, why);
		/* Whatever is in flight for the old contents is ignored when it
		 * completes; reads in flight fill nothing. */
		L->epoch++;
		ostori_bc_stale_fills(c, L, 0, UINT64_MAX / 2);
	}
	for (size_t i = 0; i < bc_pool_n(c); i++) {
		struct bc_line *l = bc_pool_line(c, i);

		if (!l->used || l->slot != slot)
			continue;
		if (dirty_too) {
			uint64_t d = (uint64_t)__builtin_popcountll(l->dirty);
			uint64_t w = (uint64_t)__builtin_popcountll(l->writing);

			L->dirty_blocks -= d;
			L->writing_blocks -= w;
			c->dirty_bytes -= d * L->block_size;
			c->writing_bytes -= w * L->block_size;
			l->dirty = l->writing = 0;
		}
		if (!l->dirty && !l->writing)
			free_line(c, l);
	}
	if (dirty_too) {
		memset(L->streams, 0, sizeof(L->streams));
		L->writeout_failed = false;
	}
	if (!locked)
		pthread_mutex_unlock(&c->lock);
	return lost;
}

/* ---- LUNs ------------------------------------------------------------------- */

struct bc_lun *ostori_bc_lun_find(struct ostori_bcache *c, uint32_t target, uint32_t lun)
{
	for (int i = 0; i < BC_LUNS_MAX; i++) {
		struct bc_lun *L = &c->luns[i];

		if (L->in_use && L->target == target && L->lun == lun)
			return L;
	}
	return NULL;
}

static bool regions_used(const struct ostori_bcache *c)
{
	for (int i = 0; i < BC_RA_REGIONS; i++)
		if (c->regions[i].busy || c->regions[i].nused)
			return true;
	return false;
}

/* Cut the slab into lines of another size (none in use). */
static void recarve(struct ostori_bcache *c, uint32_t line_size)
{
	c->line_size = line_size;
	c->nlines = c->slab_len / line_size;
	for (size_t i = 0; i < c->nlines; i++) {
		c->line_pool[i].data = c->slab + i * line_size;
		c->free_stack[c->nlines - 1 - i] = &c->line_pool[i];
	}
	c->nfree = c->nlines;
	c->writeout_max = (uint32_t)OSTOR_MAX(OSTOR_MIN(OSTOR_MIN(c->staging_max / 2, (uint64_t)OSTORI_MiB),
							(uint64_t)c->nlines * line_size / 4), (uint64_t)line_size);
	c->region_lines = (uint32_t)(c->region_len / line_size);
	c->read_ahead_max = (uint64_t)c->region_lines * line_size;
	c->dirty_limit = (uint64_t)c->nlines * line_size / 2;
	c->background = c->dirty_limit / 2;
}

void ostori_bcache_lun_known(ostor_device *dev, uint32_t target, uint32_t lun, uint32_t block_size,
			     uint64_t blocks)
{
	struct ostori_bcache *c = dev->bcache;
	struct bc_lun *L;

	if (!c)
		return;
	pthread_mutex_lock(&c->lock);
	L = ostori_bc_lun_find(c, target, lun);
	if (L && L->known && (L->block_size != block_size || L->blocks != blocks)) {
		ostori_bc_drop_lun(c, L, true, "the LUN's capacity or block size changed", true);
		L->known = false;
	}
	if (!L) {
		for (int i = 0; i < BC_LUNS_MAX && !L; i++)
			if (!c->luns[i].in_use)
				L = &c->luns[i];
		if (!L) {
			pthread_mutex_unlock(&c->lock);
			ostor_warn(dev->ctx, "%s: the block cache serves at most %d LUNs; %u:%u is not cached",
				   dev->spec, BC_LUNS_MAX, target, lun);
			return;
		}
		memset(L, 0, sizeof(*L));
		L->in_use = true;
		L->target = target;
		L->lun = lun;
	}
	if (!L->known && block_size && blocks) {
		/* Lines are max(block size, 4 KiB) unless cache_line= said:
		 * the first LUN with larger blocks, before any line is used,
		 * gets them. */
		if (c->line_auto && block_size > c->line_size && c->nfree == c->nlines && !regions_used(c) &&
		    !(block_size & (block_size - 1)) && block_size <= 256 * OSTORI_KiB)
			recarve(c, block_size);
		if (block_size > c->line_size || c->line_size % block_size ||
		    c->line_size / block_size > BC_LINE_BLOCKS_MAX) {
			ostor_warn(dev->ctx, "%s %u:%u: blocks of %u bytes do not fit cache lines of %u bytes "
				   "(a multiple of the block size, at most %d blocks); the LUN is not cached",
				   dev->spec, target, lun, block_size, c->line_size, BC_LINE_BLOCKS_MAX);
		} else {
			L->known = true;
			L->block_size = block_size;
			L->blocks = blocks;
			L->bpl = c->line_size / block_size;
		}
	}
	pthread_mutex_unlock(&c->lock);
}

void ostori_bcache_lun_event(ostor_device *dev, enum ostor_event_type type, uint32_t target, uint32_t lun)
{
	struct ostori_bcache *c = dev->bcache;
	const char *why;

	if (!c)
		return;
	switch (type) {
	case OSTOR_EVENT_MEDIUM_CHANGED: why = "the medium may have changed"; break;
	case OSTOR_EVENT_CAPACITY_CHANGED: why = "the capacity changed"; break;
	case OSTOR_EVENT_LUN_REMOVED: why = "the LUN was removed"; break;
	case OSTOR_EVENT_DEVICE_GONE: why = "the device is gone"; break;
	default: return;
	}
	pthread_mutex_lock(&c->lock);
	for (int i = 0; i < BC_LUNS_MAX; i++) {
		struct bc_lun *L = &c->luns[i];

		if (!bc_lun_matches(L, target, lun))
			continue;
		ostori_bc_drop_lun(c, L, true, why, true);
		/* Capacity and block size are learned again. */
		L->known = false;
	}
	pthread_mutex_unlock(&c->lock);
}

size_t ostori_bcache_luns(ostor_device *dev, struct ostor_lun_addr *out, size_t max)
{
	struct ostori_bcache *c = dev->bcache;
	size_t n = 0;

	if (!c)
		return 0;
	pthread_mutex_lock(&c->lock);
	for (int i = 0; i < BC_LUNS_MAX; i++) {
		if (!c->luns[i].in_use)
			continue;
		if (n < max)
			out[n] = (struct ostor_lun_addr){ .target = c->luns[i].target, .lun = c->luns[i].lun };
		n++;
	}
	pthread_mutex_unlock(&c->lock);
	return n;
}

/* ---- set-up ----------------------------------------------------------------- */

/* The spec's cache options, for any backend: read before the backend
 * opens (so it does not call them unknown), applied after it set the
 * defaults from its keys. */
int ostori_bcache_spec(const char *text, struct ostor_spec *spec, struct ostori_bcache_spec *o)
{
	static const char *const policies[] = { "lru", "lfu", "fifo" };
	const struct ostor_spec_option *v;

	memset(o, 0, sizeof(*o));
	if ((v = ostori_spec_get(spec, "cache"))) {
		const char *m = v->value ? v->value : "";

		o->mode_set = true;
		if (!strcmp(m, "off"))
			o->mode = OSTOR_CACHE_OFF;
		else if (!strcmp(m, "wt") || !strcmp(m, "write-through"))
			o->mode = OSTOR_CACHE_WRITE_THROUGH;
		else if (!strcmp(m, "wb") || !strcmp(m, "write-back"))
			o->mode = OSTOR_CACHE_WRITE_BACK;
		else
			return ostori_error(OSTOR_ERROR_BAD_SPEC, "%s: cache=%s: the cache modes are off, wt "
					    "(write-through) and wb (write-back)", text, m);
	}
	if ((v = ostori_spec_get(spec, "cache_policy"))) {
		o->policy = -1;
		for (int i = 0; i < 3; i++)
			if (v->value && !strcmp(v->value, policies[i]))
				o->policy = i;
		if (o->policy < 0)
			return ostori_error(OSTOR_ERROR_BAD_SPEC, "%s: cache_policy=%s: the policies are lru, lfu "
					    "and fifo", text, v->value ? v->value : "");
		o->policy_set = true;
	}
	if ((v = ostori_spec_get(spec, "cache_size"))) {
		if (!v->value || ostori_parse_size(v->value, &o->size) || o->size < 64 * OSTORI_KiB ||
		    o->size > 16 * OSTORI_GiB)
			return ostori_error(OSTOR_ERROR_BAD_SPEC, "%s: cache_size=%s: a size from 64K to 16G "
					    "(K, M, G suffixes)", text, v->value ? v->value : "");
	}
	if ((v = ostori_spec_get(spec, "read_ahead"))) {
		if (!v->value || ostori_parse_size(v->value, &o->read_ahead) || o->read_ahead > 64 * OSTORI_MiB)
			return ostori_error(OSTOR_ERROR_BAD_SPEC, "%s: read_ahead=%s: a size up to 64M, 0 for "
					    "none", text, v->value ? v->value : "");
		o->read_ahead_set = true;
	}
	if ((v = ostori_spec_get(spec, "cache_line"))) {
		uint64_t n = 0;

		if (!v->value || ostori_parse_size(v->value, &n) || n < 512 || n > 256 * OSTORI_KiB ||
		    (n & (n - 1)))
			return ostori_error(OSTOR_ERROR_BAD_SPEC, "%s: cache_line=%s: a power of two from 512 "
					    "to 256K bytes", text, v->value ? v->value : "");
		o->line_size = (uint32_t)n;
	}
	return 0;
}

void ostori_bcache_spec_apply(ostor_device *dev, const struct ostori_bcache_spec *o)
{
	struct ostori_bcache_params *p = &dev->bcache_params;
	bool any = o->mode_set || o->policy_set || o->size || o->read_ahead_set || o->line_size;

	if (!any)
		return;
	if (o->mode_set)
		p->mode = o->mode;
	else if (p->mode == OSTOR_CACHE_OFF && (o->size || o->read_ahead_set || o->policy_set || o->line_size))
		/* Cache details given: a cache is wanted. */
		p->mode = OSTOR_CACHE_WRITE_THROUGH;
	if (o->policy_set)
		p->policy = o->policy;
	if (o->size)
		p->size = o->size;
	if (o->read_ahead_set)
		p->read_ahead = o->read_ahead;
	if (o->line_size)
		p->line_size = o->line_size;
	if (!p->size)
		p->size = 16 * OSTORI_MiB;
	p->source = "the device spec's cache options";
}

int ostori_bcache_open(ostor_device *dev)
{
	const struct ostori_bcache_params *p = &dev->bcache_params;
	struct ostori_bcache *c;
	uint64_t per_line, budget;
	size_t buckets = 1;

	if (p->mode == OSTOR_CACHE_OFF)
		return 0;
	c = calloc(1, sizeof(*c));
	if (!c)
		return ostori_error(OSTOR_ERROR_NO_MEM, "out of memory for the block cache");
	pthread_mutex_init(&c->lock, NULL);
	c->dev = dev;
	c->mode = p->mode;
	c->policy = p->policy;
	c->line_size = p->line_size ? p->line_size : 4096;
	c->line_auto = !p->line_size;
	c->capacity = p->size;
	snprintf(c->source, sizeof(c->source), "%s", p->source ? p->source : "");
	/* Of the bound: an eighth (at most 8 MiB) for write-out buffers;
	 * read-ahead's regions, each at most a sixteenth of the bound (and
	 * all of them at most a quarter of the rest); the rest for lines with
	 * their metadata and hash slot (the fixed part, this struct, is the
	 * device's like its other state). */
	c->staging_max = OSTOR_MIN(c->capacity / 8, 8 * OSTORI_MiB);
	c->staging_max = OSTOR_MAX(c->staging_max, (uint64_t)c->line_size);
	per_line = c->line_size + sizeof(struct bc_line) + 2 * sizeof(struct bc_line *) +
		   sizeof(struct bc_line *);
	budget = c->capacity > c->staging_max ? c->capacity - c->staging_max : 0;
	if (p->read_ahead) {
		uint64_t want = (p->read_ahead + c->line_size - 1) / c->line_size;
		uint64_t fit = OSTOR_MIN(c->capacity / 16 / c->line_size,
					 budget / 4 / BC_RA_REGIONS / (c->line_size + sizeof(struct bc_line)));

		c->region_lines = (uint32_t)OSTOR_MIN(want, fit);
	}
	c->region_lines_max = c->region_lines;
	c->region_len = (size_t)c->region_lines * c->line_size;
	c->read_ahead_max = c->region_len;
	budget -= (uint64_t)BC_RA_REGIONS * c->region_lines * (c->line_size + sizeof(struct bc_line));
	c->nlines = (size_t)(budget / per_line);
	if (c->nlines < 4) {
		pthread_mutex_destroy(&c->lock);
		free(c);
		return ostori_error(OSTOR_ERROR_CONFIG, "%s: a block cache of %llu bytes holds fewer than 4 "
				    "lines of %u bytes; give it more (cache_size, write_back_cache_size or "
				    "the spec's cache_size=)", dev->spec, (unsigned long long)p->size,
				    p->line_size ? p->line_size : 4096);
	}
	c->writeout_max = (uint32_t)OSTOR_MIN(OSTOR_MIN(c->staging_max / 2, (uint64_t)OSTORI_MiB),
					      (uint64_t)c->nlines * c->line_size / 4);
	c->writeout_max = OSTOR_MAX(c->writeout_max, c->line_size);
	c->dirty_limit = (uint64_t)c->nlines * c->line_size / 2;
	c->background = c->dirty_limit / 2;
	while (buckets < bc_pool_n(c) * 2)
		buckets <<= 1;
	c->hash_shift = 64 - (unsigned int)__builtin_ctzll(buckets);
	c->hash = calloc(buckets, sizeof(*c->hash));
	c->line_pool = calloc(c->nlines, sizeof(*c->line_pool));
	c->region_pool = calloc(OSTOR_MAX((size_t)BC_RA_REGIONS * c->region_lines_max, 1), sizeof(*c->region_pool));
	c->free_stack = calloc(c->nlines, sizeof(*c->free_stack));
	/* Pages are touched as lines are first used: memory grows with use,
	 * never past the bound. */
	c->slab_len = c->nlines * c->line_size;
	c->slab = mmap(NULL, c->slab_len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE,
		       -1, 0);
#ifdef MADV_HUGEPAGE
	/* Hits land anywhere in it: huge pages spare a TLB miss per hit (the
	 * bound holds either way - the mapping is no larger than it). */
	if (c->slab != MAP_FAILED && c->slab_len >= 4 * OSTORI_MiB)
		(void)madvise(c->slab, c->slab_len, MADV_HUGEPAGE);
#endif
	if (!c->hash || !c->line_pool || !c->region_pool || !c->free_stack || c->slab == MAP_FAILED) {
		if (c->slab != MAP_FAILED && c->slab)
			munmap(c->slab, c->slab_len);
		free(c->hash);
		free(c->line_pool);
		free(c->region_pool);
		free(c->free_stack);
		pthread_mutex_destroy(&c->lock);
		free(c);
		return ostori_error(OSTOR_ERROR_NO_MEM, "out of memory for a block cache of %llu bytes",
				    (unsigned long long)p->size);
	}
	for (size_t i = 0; i < c->nlines; i++) {
		c->line_pool[i].data = c->slab + i * c->line_size;
		c->free_stack[c->nlines - 1 - i] = &c->line_pool[i];
	}
	c->nfree = c->nlines;
	for (int i = 0; i < BC_RA_REGIONS; i++) {
		c->regions[i].lines = c->region_pool + (size_t)i * c->region_lines_max;
		for (uint32_t k = 0; k < c->region_lines_max; k++)
			c->regions[i].lines[k].region = (uint8_t)(i + 1);
	}
	for (int i = BC_OPS_MAX - 1; i >= 0; i--) {
		c->ops[i].c = c;
		c->ops[i].next_free = c->free_ops;
		c->free_ops = &c->ops[i];
	}
	dev->bcache = c;
	ostor_info(dev->ctx, "%s: block cache %s, %s, %llu bytes (%zu lines of %u), read-ahead up to %llu "
		   "bytes (%s)", dev->spec, ostor_cache_mode_name(c->mode), ostori_bcache_policy_name(c->policy),
		   (unsigned long long)c->capacity, c->nlines, c->line_size,
		   (unsigned long long)c->read_ahead_max, c->source);
	return 0;
}

void ostori_bcache_close(ostor_device *dev)
{
	struct ostori_bcache *c = dev->bcache;

	if (!c)
		return;
	/* Already done unless the open failed (the backend is still there). */
	ostori_bcache_release_buffers(dev);
	/* What a failed flush left dirty is lost now: said once more. */
	for (int i = 0; i < BC_LUNS_MAX; i++)
		if (c->luns[i].in_use && c->luns[i].dirty_blocks)
			ostori_bc_drop_lun(c, &c->luns[i], true, "the device was closed with it unwritten", false);
	dev->bcache = NULL;
	munmap(c->slab, c->slab_len);
	free(c->hash);
	free(c->line_pool);
	free(c->region_pool);
	free(c->free_stack);
	pthread_mutex_destroy(&c->lock);
	free(c);
}

/* ---- the public calls ----------------------------------------------------- */

/* struct ostor_cache_info grows (lib/util/sized.h). */
static const struct ostori_sized cache_info_sized =
	OSTORI_SIZED(struct ostor_cache_info, OSTOR_CACHE_INFO_INIT,
		     OSTORI_FIELD_END(struct ostor_cache_info, lost_bytes));
OSTORI_SIZED_CHECK(struct ostor_cache_info, lost_bytes);

static void add_counts(struct ostor_cache_info *sum, const struct ostor_cache_info *a)
{
	sum->read_hits += a->read_hits;
	sum->read_misses += a->read_misses;
	sum->read_ahead_bytes += a->read_ahead_bytes;
	sum->read_ahead_used_bytes += a->read_ahead_used_bytes;
	sum->read_ahead_wasted_bytes += a->read_ahead_wasted_bytes;
	sum->writes_absorbed += a->writes_absorbed;
	sum->writes_through += a->writes_through;
	sum->writeouts += a->writeouts;
	sum->writeout_bytes += a->writeout_bytes;
	sum->writeout_errors += a->writeout_errors;
	sum->evictions += a->evictions;
	sum->lost_ranges += a->lost_ranges;
	sum->lost_bytes += a->lost_bytes;
}

OSTOR_API int ostor_cache_info(ostor_device *dev, uint32_t target, uint32_t lun, struct ostor_cache_info *info)
{
	struct ostor_cache_info full;
	struct ostori_bcache *c;
	int r;

	if (!dev || !info)
		return ostori_error(OSTOR_ERROR_INVALID_PARAM, "ostor_cache_info: NULL argument");
	if ((r = ostori_sized_check(&cache_info_sized, info, __func__, "info")))
		return r;
	memset(&full, 0, sizeof(full));
	snprintf(full.policy, sizeof(full.policy), "%s", "");
	c = dev->bcache;
	if (c) {
		pthread_mutex_lock(&c->lock);
		full.mode = c->mode;
		snprintf(full.policy, sizeof(full.policy), "%s", ostori_bcache_policy_name(c->policy));
		full.line_size = c->line_size;
		full.capacity_bytes = c->capacity;
		full.dirty_limit_bytes = c->dirty_limit;
		full.read_ahead_max_bytes = c->read_ahead_max;
		for (int i = 0; i < BC_LUNS_MAX; i++) {
			struct bc_lun *L = &c->luns[i];

			if (!bc_lun_matches(L, target, lun))
				continue;
			add_counts(&full, &L->st);
			full.used_bytes += L->lines * c->line_size;
			full.dirty_bytes += L->dirty_blocks * L->block_size;
			full.writeout_inflight_bytes += L->writing_blocks * L->block_size;
		}
		pthread_mutex_unlock(&c->lock);
	}
	full.sticky_error = ostori_lun_sticky(dev, target, lun);
	if (!full.sticky_error)
		full.sticky_error = ostori_bcache_sticky(dev, target, lun, NULL, 0);
	ostori_sized_put(&cache_info_sized, info, &full);
	return 0;
}

OSTOR_API int ostor_cache_drop(ostor_device *dev, uint32_t target, uint32_t lun, unsigned int flags)
{
	struct ostori_bcache *c;
	uint64_t dirty = 0;

	if (!dev)
		return ostori_error(OSTOR_ERROR_INVALID_PARAM, "ostor_cache_drop: NULL device");
	if (flags & ~OSTOR_CACHE_DROP_DIRTY)
		return ostori_error(OSTOR_ERROR_INVALID_PARAM, "ostor_cache_drop: unknown flags %#x", flags);
	c = dev->bcache;
	if (!c)
		return 0;
	pthread_mutex_lock(&c->lock);
	for (int i = 0; i < BC_LUNS_MAX; i++) {
		struct bc_lun *L = &c->luns[i];

		if (bc_lun_matches(L, target, lun))
			dirty += (L->dirty_blocks + L->writing_blocks) * L->block_size;
	}
	if (dirty && !(flags & OSTOR_CACHE_DROP_DIRTY)) {
		pthread_mutex_unlock(&c->lock);
		return ostori_error(OSTOR_ERROR_BUSY, "%s: the cache holds %llu bytes not yet written to the "
				    "device; flush first (ostor_flush), or drop them with OSTOR_CACHE_DROP_DIRTY",
				    dev->spec, (unsigned long long)dirty);
	}
	for (int i = 0; i < BC_LUNS_MAX; i++) {
		struct bc_lun *L = &c->luns[i];

		if (bc_lun_matches(L, target, lun))
			ostori_bc_drop_lun(c, L, dirty != 0, "dropped on request (OSTOR_CACHE_DROP_DIRTY)", true);
	}
	pthread_mutex_unlock(&c->lock);
	return 0;
}
