/*
 * lib/virtio/virtqueue.c - split and packed virtqueues, driver side.
 *
 * The shadow (slots, free lists, positions) is the only truth about what
 * the driver posted: shared memory is written, never read back, except
 * for the fields the device owns (used ring, used descriptors, event
 * suppression), and those are copied once and validated before use.
 */
#include "virtio/virtio.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#define ALIGN_UP(x, a) (((x) + (a) - 1) & ~((size_t)(a) - 1))

static size_t ring_layout(uint32_t size, bool packed, size_t *drv_off, size_t *dev_off)
{
	if (packed) {
		*drv_off = 16u * size;
		*dev_off = *drv_off + 4;
		return *dev_off + 4;
	}
	*drv_off = vring_desc_bytes(size);
	*dev_off = ALIGN_UP(*drv_off + vring_avail_bytes(size), 64);
	return *dev_off + vring_used_bytes(size);
}

void virtqueue_mark_broken(struct virtqueue *vq, const char *fmt, ...)
{
	va_list ap;

	if (vq->broken)
		return;
	VQ_PUT(vq->broken, true);
	VQ_BUMP(vq->stats.violations);
	va_start(ap, fmt);
	vsnprintf(vq->broken_why, sizeof(vq->broken_why), fmt, ap);
	va_end(ap);
	ostor_err(vq->vd->ctx, "%s: queue %u broken: %s; its requests fail and the device is reset",
		  vq->vd->name, vq->index, vq->broken_why);
}

void virtqueue_reinit(struct virtqueue *vq)
{
	size_t drv, devo;

	ring_layout(vq->size, vq->packed, &drv, &devo);
	memset(vq->ring_mem, 0, vq->ring_bytes);
	for (uint32_t i = 0; i < vq->size; i++) {
		vq->slots[i].cookie = NULL;
		vq->slots[i].ndesc = 0;
		vq->free_next[i] = (uint16_t)(i + 1);
	}
	vq->free_head = 0;
	vq->num_free = vq->size;
	vq->ids_free = vq->size;
	VQ_PUT(vq->inflight, 0);
	VQ_PUT(vq->avail_idx, 0);
	VQ_PUT(vq->last_used, 0);
	VQ_PUT(vq->next_avail, 0);
	VQ_PUT(vq->next_used, 0);
	vq->kicked_idx = vq->kicked_pos = 0;
	vq->avail_wrap = vq->used_wrap = vq->kicked_wrap = true;
	vq->added_since_kick = 0;
	vq->watch_armed = false;
	VQ_PUT(vq->broken, false);
	vq->broken_why[0] = '\0';
	virtqueue_set_interrupts(vq, vq->intr_mode);
}

int virtqueue_create(struct virtio_dev *vd, uint16_t index, uint32_t size, bool packed,
		     uint16_t max_indirect, struct virtqueue **out)
{
	struct virtqueue *vq;
	size_t drv, devo;

	*out = NULL;
	if (size == 0 || size > VIRTQ_MAX_SIZE || (!packed && (size & (size - 1))))
		return ostori_error(OSTOR_ERROR_PROTOCOL,
				    "%s: queue %u: the device offers size %u, which a %s ring cannot use "
				    "(1 to 32768%s); the device is misconfigured",
				    vd->name, index, size, packed ? "packed" : "split",
				    packed ? "" : ", a power of two");
	vq = calloc(1, sizeof(*vq));
	if (!vq)
		return ostori_error(OSTOR_ERROR_NO_MEM, "out of memory");
	vq->vd = vd;
	vq->index = index;
	vq->size = size;
	vq->packed = packed;
	vq->event_idx = virtio_has(vd, VIRTIO_F_EVENT_IDX);
	vq->indirect = max_indirect > 1 && virtio_has(vd, VIRTIO_F_INDIRECT_DESC);
	vq->max_indirect = vq->indirect ? max_indirect : 0;
	vq->slots = calloc(size, sizeof(*vq->slots));
	vq->free_next = calloc(size, sizeof(*vq->free_next));
	if (!vq->slots || !vq->free_next)
		goto nomem;
	vq->ring_bytes = ring_layout(size, packed, &drv, &devo);
	vq->ring_mem = vd->ops->dma_alloc(vd, vq->ring_bytes, &vq->desc_iova);
	if (!vq->ring_mem)
		goto nodma;
	vq->driver_iova = vq->desc_iova + drv;
	vq->device_iova = vq->desc_iova + devo;
	if (packed) {
		vq->pdesc = vq->ring_mem;
		vq->driver_event = (void *)((char *)vq->ring_mem + drv);
		vq->device_event = (void *)((char *)vq->ring_mem + devo);
	} else {
		vq->desc = vq->ring_mem;
		vq->avail = (void *)((char *)vq->ring_mem + drv);
		vq->used = (void *)((char *)vq->ring_mem + devo);
	}
	if (vq->indirect) {
		uint64_t iova;
		size_t per = 16u * vq->max_indirect;

		vq->indirect_bytes = per * size;
		vq->indirect_mem = vd->ops->dma_alloc(vd, vq->indirect_bytes, &iova);
		if (!vq->indirect_mem)
			goto nodma;
		for (uint32_t i = 0; i < size; i++) {
			size_t contig;

			vq->slots[i].indirect = (void *)((char *)vq->indirect_mem + per * i);
			/* A table must be contiguous for the device. */
			if (vd->ops->translate(vd, vq->slots[i].indirect, per,
					       &vq->slots[i].indirect_iova, &contig) < 0 ||
			    contig < per) {
				virtqueue_destroy(vq);
				return ostori_error(OSTOR_ERROR_NO_MEM,
						    "%s: indirect descriptor table not contiguous in DMA memory",
						    vd->name);
			}
		}
	}
	virtqueue_reinit(vq);
	*out = vq;
	return 0;
nodma:
	virtqueue_destroy(vq);
	return ostori_error_wrap(OSTOR_ERROR_NO_MEM, "%s: cannot allocate DMA memory for queue %u "
				 "(%u entries)", vd->name, index, size);
nomem:
	virtqueue_destroy(vq);
	return ostori_error(OSTOR_ERROR_NO_MEM, "out of memory");
}

void virtqueue_destroy(struct virtqueue *vq)
{
	if (!vq)
		return;
	if (vq->indirect_mem)
		vq->vd->ops->dma_free(vq->vd, vq->indirect_mem, vq->indirect_bytes);
	if (vq->ring_mem)
		vq->vd->ops->dma_free(vq->vd, vq->ring_mem, vq->ring_bytes);
	free(vq->slots);
	free(vq->free_next);
	free(vq);
}

static void fill_desc(struct vring_desc *d, const struct vq_buf *b, uint16_t flags, uint16_t next)
{
	d->addr = vq_le64(b->iova);
	d->len = vq_le32(b->len);
	d->flags = vq_le16((uint16_t)(flags | (b->write ? VIRTQ_DESC_F_WRITE : 0)));
	d->next = vq_le16(next);
}

static int add_split(struct virtqueue *vq, const struct vq_buf *bufs, int total,
		     bool use_ind, uint32_t wlen, void *cookie)
{
	uint16_t head = vq->free_head, i = head, last = head;
	uint32_t need = use_ind ? 1 : (uint32_t)total;

	if (vq->num_free < need)
		return OSTOR_ERROR_BUSY;
	if (use_ind) {
		struct vring_desc *t = vq->slots[head].indirect;

		for (int k = 0; k < total; k++)
			fill_desc(&t[k], &bufs[k], k + 1 < total ? VIRTQ_DESC_F_NEXT : 0,
				  (uint16_t)(k + 1 < total ? k + 1 : 0));
		vq->desc[head].addr = vq_le64(vq->slots[head].indirect_iova);
		vq->desc[head].len = vq_le32((uint32_t)(16 * total));
		vq->desc[head].flags = vq_le16(VIRTQ_DESC_F_INDIRECT);
		vq->desc[head].next = 0;
		vq->free_head = vq->free_next[head];
	} else {
		for (int k = 0; k < total; k++) {
			last = i;
			fill_desc(&vq->desc[i], &bufs[k], k + 1 < total ? VIRTQ_DESC_F_NEXT : 0,
				  vq->free_next[i]);
			i = vq->free_next[i];
		}
		vq->free_head = i;
	}
	vq->num_free -= need;
	vq->slots[head].cookie = cookie;
	vq->slots[head].ndesc = (uint16_t)need;
	vq->slots[head].last = last;
	vq->slots[head].write_len = wlen;
	vq->avail->ring[vq->avail_idx & (vq->size - 1)] = vq_le16(head);
	VQ_PUT(vq->avail_idx, (uint16_t)(vq->avail_idx + 1));
	/* Ring entry and descriptors before the index the device reads. */
	vq_store16(&vq->avail->idx, vq->avail_idx);
	return head;
}

static int add_packed(struct virtqueue *vq, const struct vq_buf *bufs, int total,
		      bool use_ind, uint32_t wlen, void *cookie)
{
	uint32_t need = use_ind ? 1 : (uint32_t)total;
	uint16_t id, pos = vq->next_avail, head_flags = 0;
	bool wrap = vq->avail_wrap;

	if (vq->num_free < need || !vq->ids_free)
		return OSTOR_ERROR_BUSY;
	id = vq->free_head;
	vq->free_head = vq->free_next[id];
	vq->ids_free--;
	if (use_ind) {
		struct vring_desc *t = vq->slots[id].indirect;

		/* Indirect tables of packed rings are arrays of packed
		 * descriptors (struct pvirtq_desc, 2.8.19), read in order. */
		struct vring_packed_desc *pt = (struct vring_packed_desc *)t;

		for (int k = 0; k < total; k++) {
			pt[k].addr = vq_le64(bufs[k].iova);
			pt[k].len = vq_le32(bufs[k].len);
			pt[k].id = 0;
			pt[k].flags = vq_le16(bufs[k].write ? VIRTQ_DESC_F_WRITE : 0);
		}
	}
	for (uint32_t k = 0; k < need; k++) {
		struct vring_packed_desc *d = &vq->pdesc[pos];
		uint16_t fl = (uint16_t)((wrap ? VIRTQ_DESC_F_AVAIL : VIRTQ_DESC_F_USED));

		if (use_ind) {
			d->addr = vq_le64(vq->slots[id].indirect_iova);
			d->len = vq_le32((uint32_t)(16 * total));
			fl |= VIRTQ_DESC_F_INDIRECT;
		} else {
			d->addr = vq_le64(bufs[k].iova);
			d->len = vq_le32(bufs[k].len);
			if (bufs[k].write)
				fl |= VIRTQ_DESC_F_WRITE;
			if (k + 1 < need)
				fl |= VIRTQ_DESC_F_NEXT;
		}
		d->id = vq_le16(id);
		/* The head's flags go last: they hand the chain over. */
		if (k == 0)
			head_flags = fl;
		else
			d->flags = vq_le16(fl);
		if (++pos == vq->size) {
			pos = 0;
			wrap = !wrap;
		}
	}
	vq_store16(&vq->pdesc[vq->next_avail].flags, head_flags);
	VQ_PUT(vq->next_avail, pos);
	vq->avail_wrap = wrap;
	vq->num_free -= need;
	vq->slots[id].cookie = cookie;
	vq->slots[id].ndesc = (uint16_t)need;
	vq->slots[id].write_len = wlen;
	return id;
}

int virtqueue_add(struct virtqueue *vq, const struct vq_buf *bufs, int nout, int nin, void *cookie)
{
	int total = nout + nin, r;
	uint32_t wlen = 0;
	bool use_ind;

	if (vq->broken)
		return ostori_error(OSTOR_ERROR_IO, "%s: queue %u is broken (%s)", vq->vd->name,
				    vq->index, vq->broken_why);
	if (total <= 0 || !cookie)
		return ostori_error(OSTOR_ERROR_INVALID_PARAM, "virtqueue_add: empty request");
	for (int k = nout; k < total; k++)
		wlen += bufs[k].len;
	use_ind = vq->indirect && total > 1 && total <= vq->max_indirect;
	if (!use_ind && (uint32_t)total > vq->size)
		return ostori_error(OSTOR_ERROR_INVALID_PARAM,
				    "%s: a request of %d segments does not fit queue %u (%u entries)",
				    vq->vd->name, total, vq->index, vq->size);
	r = vq->packed ? add_packed(vq, bufs, total, use_ind, wlen, cookie)
		       : add_split(vq, bufs, total, use_ind, wlen, cookie);
	if (r >= 0) {
		VQ_BUMP(vq->inflight);
		vq->added_since_kick++;
		VQ_BUMP(vq->stats.submitted);
	}
	return r;
}

static bool kick_needed(struct virtqueue *vq);

bool virtqueue_kick_prepare(struct virtqueue *vq)
{
	if (!vq->added_since_kick)
		return false;
	vq->added_since_kick = 0;
	if (kick_needed(vq))
		return true;
	/* The device said it does not need one (event index, flags). */
	VQ_BUMP(vq->stats.suppressed);
	return false;
}

static bool kick_needed(struct virtqueue *vq)
{
	bool need;

	/* Our index stores before the device's suppression fields. */
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	if (vq->packed) {
		struct vring_packed_event ev;

		ev.off_wrap = vq_load16(&vq->device_event->off_wrap);
		ev.flags = vq_load16(&vq->device_event->flags);
		if (ev.flags == VIRTQ_EVENT_F_DESC && vq->event_idx) {
			uint16_t off = ev.off_wrap & 0x7fff;
			bool w = ev.off_wrap >> 15;
			int32_t ev_idx = off;

			if (off >= vq->size) {
				need = true; /* nonsense hint: notify, harmless */
			} else {
				if (w != vq->avail_wrap)
					ev_idx -= (int32_t)vq->size;
				need = vring_need_event((uint16_t)ev_idx, vq->next_avail, vq->kicked_pos);
			}
		} else {
			need = ev.flags != VIRTQ_EVENT_F_DISABLE;
		}
		vq->kicked_pos = vq->next_avail;
		vq->kicked_wrap = vq->avail_wrap;
		return need;
	}
	if (vq->event_idx) {
		uint16_t ev = vq_load16((uint16_t *)&vq->used->ring[vq->size]);

		need = vring_need_event(ev, vq->avail_idx, vq->kicked_idx);
	} else {
		need = !(vq_load16(&vq->used->flags) & VIRTQ_USED_F_NO_NOTIFY);
	}
	vq->kicked_idx = vq->avail_idx;
	return need;
}

void virtqueue_notify(struct virtqueue *vq)
{
	VQ_BUMP(vq->stats.notifies);
	vq->vd->ops->notify(vq->vd, vq);
}

/* What the device last said about notifications, as one comparable
 * value, and whether that says it waits for one about requests it has
 * not taken yet. */
static uint32_t device_event(struct virtqueue *vq, bool *waiting)
{
	if (vq->packed) {
		uint16_t flags = vq_load16(&vq->device_event->flags);
		uint16_t off_wrap = vq_load16(&vq->device_event->off_wrap);
		uint16_t ours = (uint16_t)(vq->next_avail | (vq->avail_wrap ? 0x8000 : 0));

		if (flags == VIRTQ_EVENT_F_DESC && vq->event_idx)
			*waiting = off_wrap != ours;
		else
			*waiting = flags != VIRTQ_EVENT_F_DISABLE;
		return (uint32_t)flags << 16 | off_wrap;
	}
	if (vq->event_idx) {
		uint16_t ev = vq_load16((uint16_t *)&vq->used->ring[vq->size]);

		*waiting = ev != vq->avail_idx;
		return ev;
	}
	*waiting = !(vq_load16(&vq->used->flags) & VIRTQ_USED_F_NO_NOTIFY);
	return vq_load16(&vq->used->flags);
}

bool virtqueue_notify_lost(struct virtqueue *vq)
{
	bool waiting = false;
	uint32_t ev;

	if (vq->broken || !vq->inflight) {
		vq->watch_armed = false;
		return false;
	}
	ev = device_event(vq, &waiting);
	if (!vq->watch_armed || ev != vq->watch_event || vq->stats.completed != vq->watch_completed) {
		/* Something moved: look again next time. */
		vq->watch_armed = true;
		vq->watch_event = ev;
		vq->watch_completed = vq->stats.completed;
		return false;
	}
	vq->watch_armed = false;
	if (waiting)
		VQ_BUMP(vq->stats.renotifies);
	return waiting;
}

bool virtqueue_has_used(struct virtqueue *vq)
{
	if (vq->broken)
		return false;
	if (vq->packed) {
		uint16_t fl = vq_load16(&vq->pdesc[vq->next_used].flags);

		return !!(fl & VIRTQ_DESC_F_AVAIL) == vq->used_wrap &&
		       !!(fl & VIRTQ_DESC_F_USED) == vq->used_wrap;
	}
	return vq_load16(&vq->used->idx) != vq->last_used;
}

static void free_slot(struct virtqueue *vq, uint16_t id)
{
	struct vq_slot *s = &vq->slots[id];

	if (vq->packed) {
		vq->free_next[id] = vq->free_head;
		vq->free_head = id;
		vq->ids_free++;
	} else {
		vq->free_next[s->last] = vq->free_head;
		vq->free_head = id;
	}
	vq->num_free += s->ndesc;
	s->cookie = NULL;
	s->ndesc = 0;
	VQ_PUT(vq->inflight, vq->inflight - 1);
}

static int get_split(struct virtqueue *vq, uint32_t *id, uint32_t *len)
{
	uint16_t idx = vq_load16(&vq->used->idx);
	uint16_t pending = (uint16_t)(idx - vq->last_used);
	struct vring_used_elem e;

	if (!pending)
		return 0;
	if (pending > vq->inflight) {
		/* Backwards moves show up here as huge forward jumps. */
		virtqueue_mark_broken(vq, "used.idx moved from %u to %u with %u request(s) in flight "
				      "(backwards or past the ring)", vq->last_used, idx, vq->inflight);
		return OSTOR_ERROR_PROTOCOL;
	}
	e = vq->used->ring[vq->last_used & (vq->size - 1)];
	*id = vq_le32(e.id);
	*len = vq_le32(e.len);
	return 1;
}

static int get_packed(struct virtqueue *vq, uint32_t *id, uint32_t *len)
{
	struct vring_packed_desc *d = &vq->pdesc[vq->next_used];
	uint16_t fl = vq_load16(&d->flags);
	bool a = fl & VIRTQ_DESC_F_AVAIL, u = fl & VIRTQ_DESC_F_USED;

	if (vq->inflight == 0) {
		/* Stale entries carry the previous lap's wrap; anything of this
		 * lap is a used element nobody asked for. */
		if (a == vq->used_wrap) {
			virtqueue_mark_broken(vq, "used descriptor at %u (flags 0x%04x) with nothing in flight",
					      vq->next_used, fl);
			return OSTOR_ERROR_PROTOCOL;
		}
		return 0;
	}
	if (a != vq->used_wrap) {
		/* We posted this position with avail = the current lap. */
		virtqueue_mark_broken(vq, "descriptor %u has avail bit %d in lap %d (wrong wrap counter)",
				      vq->next_used, a, vq->used_wrap);
		return OSTOR_ERROR_PROTOCOL;
	}
	if (u != vq->used_wrap)
		return 0; /* still the device's */
	*id = vq_le16(d->id);
	*len = vq_le32(d->len);
	return 1;
}

int virtqueue_get(struct virtqueue *vq, void **cookie, uint32_t *len, bool *clamped)
{
	uint32_t id = 0, l = 0;
	struct vq_slot *s;
	int r;

	*clamped = false;
	if (vq->broken)
		return OSTOR_ERROR_PROTOCOL;
	r = vq->packed ? get_packed(vq, &id, &l) : get_split(vq, &id, &l);
	if (r <= 0)
		return r;
	if (id >= vq->size) {
		virtqueue_mark_broken(vq, "used id %u out of range (queue size %u)", id, vq->size);
		return OSTOR_ERROR_PROTOCOL;
	}
	s = &vq->slots[id];
	if (!s->cookie) {
		virtqueue_mark_broken(vq, "used id %u is not in flight (double or forged completion)", id);
		return OSTOR_ERROR_PROTOCOL;
	}
	if (l > s->write_len) {
		/* QEMU counts data-out bytes in used.len too: common, so debug only. */
		ostor_dbg(vq->vd->ctx, "%s: queue %u: device claims %u bytes written into a %u-byte buffer; clamped",
			   vq->vd->name, vq->index, l, s->write_len);
		l = s->write_len;
		*clamped = true;
	}
	*cookie = s->cookie;
	*len = l;
	if (vq->packed) {
		uint32_t pos = vq->next_used + s->ndesc;

		if (pos >= vq->size) {
			pos -= vq->size;
			vq->used_wrap = !vq->used_wrap;
		}
		VQ_PUT(vq->next_used, (uint16_t)pos);
	} else {
		VQ_PUT(vq->last_used, (uint16_t)(vq->last_used + 1));
	}
	free_slot(vq, (uint16_t)id);
	VQ_BUMP(vq->stats.completed);
	return 1;
}

void *virtqueue_detach(struct virtqueue *vq)
{
	for (uint32_t i = 0; i < vq->size; i++) {
		void *c = vq->slots[i].cookie;

		if (c) {
			free_slot(vq, (uint16_t)i);
			return c;
		}
	}
	return NULL;
}

void virtqueue_set_interrupts(struct virtqueue *vq, bool on)
{
	vq->intr_mode = on;
	if (vq->packed) {
		if (!on) {
			vq_store16(&vq->driver_event->flags, VIRTQ_EVENT_F_DISABLE);
		} else if (vq->event_idx) {
			vq_store16(&vq->driver_event->off_wrap,
				   (uint16_t)(vq->next_used | (vq->used_wrap ? 0x8000 : 0)));
			vq_store16(&vq->driver_event->flags, VIRTQ_EVENT_F_DESC);
		} else {
			vq_store16(&vq->driver_event->flags, VIRTQ_EVENT_F_ENABLE);
		}
	} else {
		vq_store16(&vq->avail->flags, on ? 0 : VIRTQ_AVAIL_F_NO_INTERRUPT);
		/* With EVENT_IDX the device ignores the flag: used_event = the
		 * next index asks for the next completion; polling puts it half
		 * a lap away (at most one interrupt per 32K completions). */
		if (vq->event_idx)
			vq_store16(&vq->avail->ring[vq->size],
				   (uint16_t)(vq->last_used + (on ? 0 : 0x8000)));
	}
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
}

bool virtqueue_arm_interrupts(struct virtqueue *vq, unsigned int batch)
{
	uint32_t k = batch;

	if (k > vq->inflight)
		k = vq->inflight;
	if (k == 0)
		k = 1;
	vq->intr_mode = true;
	if (vq->packed) {
		if (vq->event_idx) {
			/* Each completion moves the used position by at least
			 * one descriptor: k-1 positions on is reached by the
			 * k-th completion at the latest. */
			uint32_t pos = vq->next_used + k - 1;
			bool w = vq->used_wrap;

			if (pos >= vq->size) {
				pos -= vq->size;
				w = !w;
			}
			vq_store16(&vq->driver_event->off_wrap, (uint16_t)(pos | (w ? 0x8000u : 0)));
			vq_store16(&vq->driver_event->flags, VIRTQ_EVENT_F_DESC);
		} else {
			vq_store16(&vq->driver_event->flags, VIRTQ_EVENT_F_ENABLE);
		}
	} else {
		vq_store16(&vq->avail->flags, 0);
		if (vq->event_idx)
			vq_store16(&vq->avail->ring[vq->size], (uint16_t)(vq->last_used + k - 1));
	}
	/* The event index store before the re-check of the used ring. */
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	return virtqueue_has_used(vq);
}
