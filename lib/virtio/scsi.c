/*
 * lib/virtio/scsi.c - the virtio-scsi driver (VirtIO 1.1, 5.6): request
 * queues with preallocated per-request slots, the control queue (task
 * management with escalation) and the event queue (hot-plug, parameter
 * changes), polled or interrupt-driven completion, device reset and
 * re-initialisation.
 *
 * Completion rule: a request completes exactly once, when the device hands
 * its slot back (used ring) or when a device reset takes everything back.
 * Timeouts and cancels only start task management; they never complete a
 * request whose buffers the device may still touch.
 *
 * Locks, in order: reset_lock (rw: resets exclude everything) > queue
 * lock > ctrl_lock > topo_lock.  ostori_task_complete takes only the
 * context lock, which never nests the other way.
 *
 * Queue ownership (like SPDK's channels): a thread that acquired a request
 * queue (vscsi_queue_acquire) submits to it and polls it without any lock
 * and without shared atomics; every other thread leaves an owned queue
 * alone.  Resets still need the queue: the owner marks itself active
 * around each operation (one store and a fence on its own cache line) and
 * a reset raises vs->quiesce and waits for active == 0; an owner that sees
 * quiesce falls back to the reset_lock (read side), which the reset holds
 * for writing.  Unowned queues use their mutex as before.
 */
#include "virtio/scsi.h"
#include "util/byteorder.h"

#include <sched.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define VSCSI_TMF_SLOTS 16
#define VSCSI_EVENTS 16
#define VSCSI_MAX_SEGS 128           /* data descriptors per request */
#define VSCSI_POLL_BUDGET 1024       /* completions per queue per poll */
#define VSCSI_STATUS_CHECK_MS 10     /* DEVICE_NEEDS_RESET polling */
#define VSCSI_TOPO_TARGETS 256
#define VSCSI_WATCH_MS 2             /* lost-notification watch period */
#define TMF_ANSWER_DEVICE_RESET 0x100 /* an application's TMF overtaken by a device reset */

enum { RQ_FREE = 0, RQ_QUEUED, RQ_RETRY };

struct vscsi_queue;

struct vscsi_req {
	struct vscsi_queue *q;
	ostor_task *task;
	uint8_t *req, *resp;
	uint64_t req_iova, resp_iova;
	uint8_t *bounce;
	size_t bounce_len;
	bool bounced;
	_Atomic uint64_t tag;
	uint64_t deadline, retry_at, abort_deadline;
	unsigned int busy_tries;
	int state;
	int abort_level;             /* 0 none, 1 ABORT TASK, 2 LU RESET, 3 I_T NEXUS RESET */
	_Atomic int tmf_answer;      /* 0 none, else TMF response + 1 */
	bool timed_out;
	struct vscsi_req *next;      /* free list or retry list */
};

struct vscsi_queue {
	pthread_mutex_t lock;
	unsigned int qindex;         /* among request queues */
	struct virtqueue *vq;
	struct vscsi_req *reqs;
	uint32_t nreqs;
	struct vscsi_req *free, *retry;
	unsigned int owned;          /* 0 or 1: a thread acquired it (atomic) */
	int active;                  /* owner inside an operation (atomic) */
	unsigned int busy;           /* requests owned (in the ring or waiting) */
	bool kick_pending;           /* owner submitted since its last poll (batch_processing) */
	uint64_t tag_seq;            /* tags: queue number in the top bits */
	uint64_t errors, bytes, completed, len_clamped;
	uint64_t bounced;            /* requests whose data went through a bounce buffer */
	void *dma;
	size_t dma_bytes;
	void *bounce_mem;
	size_t bounce_bytes;
	uint64_t last_scan_ms, last_ctrl_ms;
	uint64_t watch_ms;           /* last look of the lost-notification watch */
	uint64_t progress_ms;        /* last completion, or when the queue got busy */
	uint64_t stall_reported;     /* vq completions when a stall was last logged */
};

struct tmf_slot {
	bool busy;
	bool api;                    /* an application's reset waits for the answer */
	int answer;                  /* api: response + 1 once answered (ctrl_lock) */
	uint8_t *req, *resp;
	uint64_t req_iova, resp_iova;
	struct vscsi_req *target_req;
	uint64_t tag;
};

struct vscsi_dev {
	ostor_device *dev;
	struct virtio_dev *vd;
	struct vscsi_options opt;
	struct virtio_scsi_config cfg;
	uint64_t wanted;
	bool packed, intr, dead;
	uint32_t queue_size, cdb_size, sense_size, resp_size;
	atomic_uint resets_in_a_row;        /* reset by any good completion */
	unsigned int retry_count;
	bool abort_enabled;
	bool zero_copy;              /* dma_enabled && zero_copy_enabled: use caller memory */
	bool batch;                  /* batch_processing in polled mode */

	pthread_rwlock_t reset_lock;
	atomic_int need_reset;
	char reset_why[160];

	pthread_mutex_t ctrl_lock;
	struct virtqueue *ctrlq, *eventq;
	struct tmf_slot tmf[VSCSI_TMF_SLOTS];
	void *ctrl_dma;
	size_t ctrl_dma_bytes;
	uint8_t *events;
	uint64_t events_iova;

	struct vscsi_queue *q;
	unsigned int nq;
	uint64_t id;                 /* unique per open: thread ownership records */
	int quiesce;                 /* a reset waits for owners (atomic) */
	uint64_t last_status_ms;
	uint64_t ctrl_watch_ms;      /* control queue watch (ctrl_lock) */
	/* interrupt mode: completions per interrupt, longest wait */
	unsigned int intr_batch, coalesce_ms;

	pthread_mutex_t topo_lock;
	atomic_bool topo_any;        /* fast path: anything absent/gone/detached */
	uint8_t absent[VSCSI_TOPO_TARGETS / 8];
	uint8_t detached[VSCSI_TOPO_TARGETS / 8];
	struct ostor_lun_addr *gone;
	size_t ngone, gone_cap;

	struct vscsi_stats st;        /* updated with atomic adds */
};

struct virtio_dev *vscsi_virtio(struct vscsi_dev *vs)
{
	return vs->vd;
}

static void stat_inc(struct vscsi_dev *vs, uint64_t *field)
{
	__atomic_fetch_add(field, 1, __ATOMIC_RELAXED);
}

_Static_assert(sizeof(struct vscsi_stats) % sizeof(uint64_t) == 0,
	       "struct vscsi_stats is read as an array of uint64_t");

/* Read a counter another thread may be writing (diagnostics only). */
#define PEEK(x) __atomic_load_n(&(x), __ATOMIC_RELAXED)

void vscsi_get_stats(struct vscsi_dev *vs, struct vscsi_stats *out)
{
	const uint64_t *src = (const uint64_t *)&vs->st;
	uint64_t *dst = (uint64_t *)out;

	for (size_t i = 0; i < sizeof(*out) / sizeof(uint64_t); i++)
		dst[i] = __atomic_load_n(&src[i], __ATOMIC_RELAXED);
	/* Clamps on owned queues are counted per queue (no shared writes). */
	for (unsigned int i = 0; i < vs->nq; i++) {
		out->len_clamped += PEEK(vs->q[i].len_clamped);
		out->bounced += PEEK(vs->q[i].bounced);
	}
}

bool vscsi_is_dma(struct vscsi_dev *vs, const void *p, size_t len)
{
	const uint8_t *b = p;
	unsigned int segs = 0, max = vs->dev->max_segments > 0 ? (unsigned int)vs->dev->max_segments : 1;

	if (!vs->zero_copy)
		return false;
	while (len) {
		uint64_t iova;
		size_t contig;

		if (++segs > max || vs->vd->ops->translate(vs->vd, b, len, &iova, &contig) < 0 || !contig)
			return false;
		if (contig > len)
			contig = len;
		b += contig;
		len -= contig;
	}
	return true;
}

/* Requests in flight on every request queue (approximate while owners run). */
static unsigned int total_busy(struct vscsi_dev *vs)
{
	unsigned int n = 0;

	for (unsigned int i = 0; i < vs->nq; i++)
		n += PEEK(vs->q[i].busy);
	return n;
}

/* ---- topology: absent targets, removed LUNs, detached targets ------------- */

static bool bit_get(const uint8_t *m, uint32_t t)
{
	return t < VSCSI_TOPO_TARGETS && (m[t / 8] >> (t % 8)) & 1;
}

static void bit_set(uint8_t *m, uint32_t t, bool on)
{
	if (t >= VSCSI_TOPO_TARGETS)
		return;
	if (on)
		m[t / 8] |= (uint8_t)(1u << (t % 8));
	else
		m[t / 8] &= (uint8_t)~(1u << (t % 8));
}

static void topo_update_any(struct vscsi_dev *vs)
{
	bool any = vs->ngone > 0;

	for (size_t i = 0; i < sizeof(vs->absent) && !any; i++)
		any = vs->absent[i] || vs->detached[i];
	atomic_store(&vs->topo_any, any);
}

static void bump_generation(struct vscsi_dev *vs)
{
	stat_inc(vs, &vs->st.topology_generation);
}

bool vscsi_lun_gone(struct vscsi_dev *vs, uint32_t target, uint32_t lun)
{
	bool gone = false;

	if (!atomic_load(&vs->topo_any))
		return false;
	pthread_mutex_lock(&vs->topo_lock);
	gone = bit_get(vs->absent, target) || bit_get(vs->detached, target);
	for (size_t i = 0; i < vs->ngone && !gone; i++)
		gone = vs->gone[i].target == target && vs->gone[i].lun == lun;
	pthread_mutex_unlock(&vs->topo_lock);
	return gone;
}

static void mark_lun_gone(struct vscsi_dev *vs, uint32_t target, uint32_t lun, bool gone)
{
	pthread_mutex_lock(&vs->topo_lock);
	for (size_t i = 0; i < vs->ngone; i++) {
		if (vs->gone[i].target == target && vs->gone[i].lun == lun) {
			if (!gone)
				vs->gone[i] = vs->gone[--vs->ngone];
			goto out;
		}
	}
	if (gone) {
		if (vs->ngone == vs->gone_cap) {
			size_t cap = vs->gone_cap ? vs->gone_cap * 2 : 8;
			struct ostor_lun_addr *g = realloc(vs->gone, cap * sizeof(*g));

			if (!g)
				goto out; /* best effort: the device answers BAD_TARGET anyway */
			vs->gone = g;
			vs->gone_cap = cap;
		}
		vs->gone[vs->ngone].target = target;
		vs->gone[vs->ngone].lun = lun;
		vs->ngone++;
	}
out:
	if (!gone)
		bit_set(vs->absent, target, false);
	topo_update_any(vs);
	pthread_mutex_unlock(&vs->topo_lock);
}

void vscsi_target_rescan(struct vscsi_dev *vs, uint32_t target)
{
	pthread_mutex_lock(&vs->topo_lock);
	bit_set(vs->absent, target, false);
	bit_set(vs->detached, target, false);
	for (size_t i = 0; i < vs->ngone;) {
		if (vs->gone[i].target == target)
			vs->gone[i] = vs->gone[--vs->ngone];
		else
			i++;
	}
	topo_update_any(vs);
	pthread_mutex_unlock(&vs->topo_lock);
	bump_generation(vs);
}

void vscsi_target_detach(struct vscsi_dev *vs, uint32_t target)
{
	pthread_mutex_lock(&vs->topo_lock);
	bit_set(vs->detached, target, true);
	topo_update_any(vs);
	pthread_mutex_unlock(&vs->topo_lock);
	bump_generation(vs);
}

static void topo_forget_all(struct vscsi_dev *vs)
{
	pthread_mutex_lock(&vs->topo_lock);
	memset(vs->absent, 0, sizeof(vs->absent));
	vs->ngone = 0;
	topo_update_any(vs);
	pthread_mutex_unlock(&vs->topo_lock);
}

/* The block helpers cache capacities: make them read again. */
static void invalidate_lun_cache(struct vscsi_dev *vs, bool all, uint32_t target, uint32_t lun)
{
	ostor_device *dev = vs->dev;

	pthread_mutex_lock(&dev->lock);
	for (size_t i = 0; i < dev->nluns; i++)
		if (all || (dev->luns[i].target == target && dev->luns[i].lun == lun))
			dev->luns[i].known = false;
	pthread_mutex_unlock(&dev->lock);
}

/* ---- queue set-up -------------------------------------------------------- */

static int alloc_dma(struct virtio_dev *vd, size_t bytes, void **mem, uint64_t *iova)
{
	*mem = vd->ops->dma_alloc(vd, bytes, iova);
	if (!*mem)
		return ostori_error_wrap(OSTOR_ERROR_NO_MEM, "%s: cannot allocate %zu bytes of DMA memory",
					 vd->name, bytes);
	memset(*mem, 0, bytes);
	return 0;
}

static int xlate(struct virtio_dev *vd, const void *p, size_t len, uint64_t *iova)
{
	size_t contig;

	if (vd->ops->translate(vd, p, len, iova, &contig) < 0 || contig < len)
		return ostori_error(OSTOR_ERROR_NO_MEM, "%s: DMA buffer not contiguous", vd->name);
	return 0;
}

static int queue_init(struct vscsi_dev *vs, struct vscsi_queue *q, unsigned int qi)
{
	struct virtio_dev *vd = vs->vd;
	uint32_t max = vd->ops->queue_max_size(vd, (uint16_t)(2 + qi));
	uint32_t size = vs->queue_size;
	size_t slot;
	uint64_t iova;
	int r;

	pthread_mutex_init(&q->lock, NULL);
	q->qindex = qi;
	if (max == 0 || max > VIRTQ_MAX_SIZE || (!vs->packed && (max & (max - 1))))
		return virtqueue_create(vd, (uint16_t)(2 + qi), max, vs->packed, 0, &q->vq);
	if (size > max)
		size = max;
	r = virtqueue_create(vd, (uint16_t)(2 + qi), size, vs->packed,
			     vs->opt.no_indirect ? 0 : VSCSI_MAX_SEGS + 2, &q->vq);
	if (r < 0)
		return r;
	q->nreqs = size;
	if (vs->cfg.cmd_per_lun && q->nreqs > vs->cfg.cmd_per_lun)
		q->nreqs = vs->cfg.cmd_per_lun;
	q->reqs = calloc(q->nreqs, sizeof(*q->reqs));
	if (!q->reqs)
		return ostori_error(OSTOR_ERROR_NO_MEM, "out of memory");
	slot = (VIRTIO_SCSI_REQ_HDR + vs->cdb_size + vs->resp_size + 63) & ~(size_t)63;
	q->dma_bytes = slot * q->nreqs;
	if ((r = alloc_dma(vd, q->dma_bytes, &q->dma, &iova)) < 0)
		return r;
	if (vs->opt.bounce_bytes) {
		q->bounce_bytes = vs->opt.bounce_bytes * q->nreqs;
		if ((r = alloc_dma(vd, q->bounce_bytes, &q->bounce_mem, &iova)) < 0)
			return r;
	}
	for (uint32_t i = 0; i < q->nreqs; i++) {
		struct vscsi_req *rq = &q->reqs[i];

		rq->q = q;
		rq->req = (uint8_t *)q->dma + slot * i;
		rq->resp = rq->req + VIRTIO_SCSI_REQ_HDR + vs->cdb_size;
		if ((r = xlate(vd, rq->req, VIRTIO_SCSI_REQ_HDR + vs->cdb_size, &rq->req_iova)) < 0 ||
		    (r = xlate(vd, rq->resp, vs->resp_size, &rq->resp_iova)) < 0)
			return r;
		if (q->bounce_mem) {
			rq->bounce = (uint8_t *)q->bounce_mem + vs->opt.bounce_bytes * i;
			rq->bounce_len = vs->opt.bounce_bytes;
		}
		rq->next = q->free;
		q->free = rq;
	}
	return 0;
}

static void queue_fini(struct vscsi_dev *vs, struct vscsi_queue *q)
{
	if (q->bounce_mem)
		vs->vd->ops->dma_free(vs->vd, q->bounce_mem, q->bounce_bytes);
	if (q->dma)
		vs->vd->ops->dma_free(vs->vd, q->dma, q->dma_bytes);
	virtqueue_destroy(q->vq);
	free(q->reqs);
	pthread_mutex_destroy(&q->lock);
}

static int post_event(struct vscsi_dev *vs, unsigned int i)
{
	struct vq_buf b = {
		.iova = vs->events_iova + (uint64_t)i * VIRTIO_SCSI_EVENT_SIZE,
		.len = VIRTIO_SCSI_EVENT_SIZE,
		.write = true,
	};

	memset(vs->events + i * VIRTIO_SCSI_EVENT_SIZE, 0, VIRTIO_SCSI_EVENT_SIZE);
	return virtqueue_add(vs->eventq, &b, 0, 1, vs->events + i * VIRTIO_SCSI_EVENT_SIZE);
}

/* Give the device its queues, post event buffers, DRIVER_OK. */
static int start_device(struct vscsi_dev *vs)
{
	struct virtio_dev *vd = vs->vd;
	int r;

	virtqueue_reinit(vs->ctrlq);
	virtqueue_reinit(vs->eventq);
	if ((r = vd->ops->setup_queue(vd, vs->ctrlq)) < 0 ||
	    (r = vd->ops->setup_queue(vd, vs->eventq)) < 0)
		return r;
	for (unsigned int i = 0; i < vs->nq; i++) {
		virtqueue_reinit(vs->q[i].vq);
		if ((r = vd->ops->setup_queue(vd, vs->q[i].vq)) < 0)
			return r;
	}
	for (unsigned int i = 0; i < VSCSI_TMF_SLOTS; i++)
		vs->tmf[i].busy = false;
	if ((r = virtio_dev_driver_ok(vd)) < 0)
		return r;
	/* The event queue may be used as soon as DRIVER_OK is set. */
	/* Posted even without HOTPLUG/CHANGE: EVENTS_MISSED needs them. */
	for (unsigned int i = 0; i < VSCSI_EVENTS && i < vs->eventq->size; i++)
		if (post_event(vs, i) < 0)
			break;
	if (virtqueue_kick_prepare(vs->eventq))
		virtqueue_notify(vs->eventq);
	if (vs->intr && vd->ops->intr_enable)
		vd->ops->intr_enable(vd);
	return 0;
}

static int read_config(struct vscsi_dev *vs)
{
	struct virtio_scsi_config c;
	int r = virtio_dev_read_config(vs->vd, 0, &c, sizeof(c));

	if (r < 0)
		return r;
	vs->cfg.num_queues = vq_le32(c.num_queues);
	vs->cfg.seg_max = vq_le32(c.seg_max);
	vs->cfg.max_sectors = vq_le32(c.max_sectors);
	vs->cfg.cmd_per_lun = vq_le32(c.cmd_per_lun);
	vs->cfg.event_info_size = vq_le32(c.event_info_size);
	vs->cfg.sense_size = vq_le32(c.sense_size);
	vs->cfg.cdb_size = vq_le32(c.cdb_size);
	vs->cfg.max_channel = vq_le16(c.max_channel);
	vs->cfg.max_target = vq_le16(c.max_target);
	vs->cfg.max_lun = vq_le32(c.max_lun);
	return 0;
}

int vscsi_open(ostor_device *dev, struct virtio_dev *vd, const struct vscsi_options *opt,
	       struct vscsi_dev **out)
{
	const struct ostor_config *cfg = &dev->ctx->config;
	struct vscsi_dev *vs;
	unsigned int nq;
	uint64_t tmp;
	int r;

	*out = NULL;
	vs = calloc(1, sizeof(*vs));
	if (!vs)
		return ostori_error(OSTOR_ERROR_NO_MEM, "out of memory");
	vs->dev = dev;
	vs->vd = vd;
	vs->opt = *opt;
	if (!vs->opt.tmf_timeout_ms)
		vs->opt.tmf_timeout_ms = 1000;
	if (!vs->opt.busy_backoff_ms)
		vs->opt.busy_backoff_ms = 1;
	vs->retry_count = cfg->virtio_scsi.scsi_retry_count;
	vs->zero_copy = cfg->virtio_scsi.dma_enabled && cfg->virtio_scsi.zero_copy_enabled;
	vs->abort_enabled = cfg->virtio_scsi.scsi_abort_enabled;
	dev->default_timeout_ms = cfg->virtio_scsi.scsi_command_timeout;
	dev->count_class = "virtio-scsi";
	dev->count_limit = cfg->virtio_scsi.device_max_count;
	dev->count_key = "[virtio_scsi] device_max_count";
	dev->max_commands = cfg->virtio_scsi.scsi_max_commands;
	dev->max_commands_key = "[virtio_scsi] scsi_max_commands";
	dev->io_scheduler = cfg->virtio_scsi.io_scheduler;
	pthread_rwlock_init(&vs->reset_lock, NULL);
	pthread_mutex_init(&vs->ctrl_lock, NULL);
	pthread_mutex_init(&vs->topo_lock, NULL);
	{
		static uint64_t next_id = 1;

		vs->id = __atomic_fetch_add(&next_id, 1, __ATOMIC_RELAXED);
	}
	/* Ring kind and completion mode: the caller's choice, else the
	 * configuration file's. */
	if (!vs->opt.ring)
		vs->opt.ring = cfg->virtio_scsi.queue_ring == OSTORI_QUEUE_RING_SPLIT ? 1 :
			       cfg->virtio_scsi.queue_ring == OSTORI_QUEUE_RING_PACKED ? 2 : 0;
	if (!vs->opt.mode)
		vs->opt.mode = cfg->virtio_scsi.queue_completion == OSTORI_QUEUE_COMPLETION_INTERRUPT ? 2 : 1;
	opt = &vs->opt;
	if (cfg->virtio_scsi.queue_interrupt_coalescing) {
		vs->intr_batch = cfg->virtio_scsi.queue_interrupt_coalescing_threshold;
		vs->coalesce_ms = (cfg->virtio_scsi.queue_interrupt_coalescing_time + 999) / 1000;
		if (!vs->coalesce_ms)
			vs->coalesce_ms = 1;
	} else {
		vs->intr_batch = 1;
	}

	vs->wanted = (1ull << VIRTIO_F_VERSION_1) | (1ull << VIRTIO_SCSI_F_HOTPLUG) |
		     (1ull << VIRTIO_SCSI_F_CHANGE) | (1ull << VIRTIO_F_RING_RESET);
	if (!opt->no_indirect)
		vs->wanted |= 1ull << VIRTIO_F_INDIRECT_DESC;
	if (!opt->no_event_idx)
		vs->wanted |= 1ull << VIRTIO_F_EVENT_IDX;
	if (opt->ring != 1)
		vs->wanted |= 1ull << VIRTIO_F_RING_PACKED;
	if ((r = virtio_dev_negotiate(vd, vs->wanted)) < 0)
		goto fail;
	vs->packed = virtio_has(vd, VIRTIO_F_RING_PACKED);
	if (opt->ring == 2 && !vs->packed) {
		virtio_dev_fail(vd);
		r = ostori_error(OSTOR_ERROR_NOT_SUPPORTED,
				 "%s: packed rings were asked for (queue_ring = \"packed\" in orionstor.conf, "
				 "or ORIONSTOR_VIRTIO_RING=packed) but the device does not offer "
				 "VIRTIO_F_RING_PACKED (QEMU: add packed=on to the device)", vd->name);
		goto fail;
	}
	if ((r = read_config(vs)) < 0) {
		virtio_dev_fail(vd);
		goto fail;
	}
	vs->cdb_size = vs->cfg.cdb_size;
	vs->sense_size = vs->cfg.sense_size;
	if (vs->cdb_size < 6 || vs->cdb_size > 256 || vs->sense_size > 4096) {
		virtio_dev_fail(vd);
		r = ostori_error(OSTOR_ERROR_PROTOCOL,
				 "%s: unusable device config: cdb_size %u (6 to 256), sense_size %u (at most 4096)",
				 vd->name, vs->cfg.cdb_size, vs->cfg.sense_size);
		goto fail;
	}
	vs->resp_size = VIRTIO_SCSI_RESP_HDR + vs->sense_size;
	nq = opt->queues ? opt->queues : cfg->virtio_scsi.queue_count;
	if (nq > cfg->virtio_scsi.device_max_queues && !opt->queues)
		nq = cfg->virtio_scsi.device_max_queues;
	if (nq > vs->cfg.num_queues)
		nq = vs->cfg.num_queues;
	if (nq == 0) {
		virtio_dev_fail(vd);
		r = ostori_error(OSTOR_ERROR_PROTOCOL, "%s: the device reports num_queues 0", vd->name);
		goto fail;
	}
	vs->queue_size = opt->depth ? opt->depth : cfg->virtio_scsi.queue_depth;
	vs->intr = opt->mode == 2;
	/* Polled mode only: there the owner's next poll is never far (an
	 * interrupt-mode owner may block in poll() waiting for it). */
	vs->batch = cfg->virtio_scsi.batch_processing && !vs->intr;

	/* control queue with TMF buffers, event queue with event buffers */
	{
		uint32_t cmax = vd->ops->queue_max_size(vd, 0), emax = vd->ops->queue_max_size(vd, 1);
		uint32_t csz = cmax > 64 ? 64 : cmax;
		uint32_t esz = emax > 64 ? 64 : emax;
		uint64_t iova;

		/* Keep the device's size when it is not a power of two so the
		 * refusal below names the device's value. */
		if (!vs->packed && (cmax & (cmax - 1)))
			csz = cmax;
		if (!vs->packed && (emax & (emax - 1)))
			esz = emax;
		if ((r = virtqueue_create(vd, 0, csz, vs->packed, 0, &vs->ctrlq)) < 0 ||
		    (r = virtqueue_create(vd, 1, esz, vs->packed, 0, &vs->eventq)) < 0) {
			virtio_dev_fail(vd);
			goto fail;
		}
		vs->ctrl_dma_bytes = VSCSI_TMF_SLOTS * 64 + VSCSI_EVENTS * VIRTIO_SCSI_EVENT_SIZE;
		if ((r = alloc_dma(vd, vs->ctrl_dma_bytes, &vs->ctrl_dma, &iova)) < 0)
			goto fail;
		for (unsigned int i = 0; i < VSCSI_TMF_SLOTS; i++) {
			vs->tmf[i].req = (uint8_t *)vs->ctrl_dma + 64 * i;
			vs->tmf[i].resp = vs->tmf[i].req + 32;
			if ((r = xlate(vd, vs->tmf[i].req, 32, &vs->tmf[i].req_iova)) < 0 ||
			    (r = xlate(vd, vs->tmf[i].resp, 32, &vs->tmf[i].resp_iova)) < 0)
				goto fail;
		}
		vs->events = (uint8_t *)vs->ctrl_dma + VSCSI_TMF_SLOTS * 64;
		if ((r = xlate(vd, vs->events, VSCSI_EVENTS * VIRTIO_SCSI_EVENT_SIZE, &vs->events_iova)) < 0)
			goto fail;
	}
	vs->q = calloc(nq, sizeof(*vs->q));
	if (!vs->q) {
		r = ostori_error(OSTOR_ERROR_NO_MEM, "out of memory");
		goto fail;
	}
	for (unsigned int i = 0; i < nq; i++) {
		vs->nq = i + 1;
		if ((r = queue_init(vs, &vs->q[i], i)) < 0) {
			virtio_dev_fail(vd);
			goto fail;
		}
	}
	for (unsigned int i = 0; i < nq; i++)
		virtqueue_set_interrupts(vs->q[i].vq, vs->intr);
	virtqueue_set_interrupts(vs->ctrlq, vs->intr);
	virtqueue_set_interrupts(vs->eventq, vs->intr);
	if ((r = start_device(vs)) < 0) {
		virtio_dev_fail(vd);
		goto fail;
	}

	/* Limits for the core. */
	dev->max_target = OSTOR_MIN((uint32_t)vs->cfg.max_target,
				    cfg->virtio_scsi.device_max_targets - 1);
	if (dev->max_target > VSCSI_TOPO_TARGETS - 1)
		dev->max_target = VSCSI_TOPO_TARGETS - 1;
	dev->max_lun = OSTOR_MIN(vs->cfg.max_lun, cfg->virtio_scsi.device_max_luns - 1);
	if (dev->max_lun > 0x3fff)
		dev->max_lun = 0x3fff;
	tmp = vs->cfg.max_sectors ? (uint64_t)vs->cfg.max_sectors * 512 : (8u << 20);
	if (tmp > (8u << 20))
		tmp = 8u << 20;
	/* Device memory needs no bounce buffer: only the device limits it. */
	dev->max_dma_transfer_bytes = vs->zero_copy ? (size_t)tmp : 0;
	if (vs->opt.bounce_bytes && tmp > vs->opt.bounce_bytes)
		tmp = vs->opt.bounce_bytes;
	dev->max_transfer_bytes = (size_t)tmp;
	if (dev->max_dma_transfer_bytes <= dev->max_transfer_bytes)
		dev->max_dma_transfer_bytes = 0;
	{
		uint32_t segs = vs->cfg.seg_max ? vs->cfg.seg_max : 1;

		if (segs > VSCSI_MAX_SEGS)
			segs = VSCSI_MAX_SEGS;
		if (segs > OSTOR_IOV_MAX)
			segs = OSTOR_IOV_MAX;
		dev->max_segments = (int)segs;
	}
	vs->nq = nq;
	*out = vs;
	return 0;
fail:
	vscsi_close(vs);
	return r;
}

void vscsi_close(struct vscsi_dev *vs)
{
	if (!vs)
		return;
	/* After a reset the device owns nothing: buffers can go. */
	if (vs->vd && vs->vd->ops)
		vs->vd->ops->set_status(vs->vd, 0);
	for (unsigned int i = 0; vs->q && i < vs->nq; i++) {
		ostor_task *t;
		struct vscsi_queue *q = &vs->q[i];

		while (q->vq && (t = virtqueue_detach(q->vq)))
			(void)t; /* the core waited for every task: defensive only */
		queue_fini(vs, q);
	}
	free(vs->q);
	if (vs->ctrl_dma)
		vs->vd->ops->dma_free(vs->vd, vs->ctrl_dma, vs->ctrl_dma_bytes);
	virtqueue_destroy(vs->ctrlq);
	virtqueue_destroy(vs->eventq);
	free(vs->gone);
	pthread_rwlock_destroy(&vs->reset_lock);
	pthread_mutex_destroy(&vs->ctrl_lock);
	pthread_mutex_destroy(&vs->topo_lock);
	free(vs);
}

/* ---- submission ------------------------------------------------------------ */

/* Queues this thread holds, by device (vs->id guards against a device
 * closed and another opened at the same address). */
#define VSCSI_TLS_SLOTS 8
static _Thread_local struct {
	struct vscsi_dev *vs;
	uint64_t id;
	int index;
} tls_queue[VSCSI_TLS_SLOTS];
static atomic_uint rr_next;
static _Thread_local unsigned int tls_rr = UINT32_MAX;

/* The queue the calling thread holds on vs, or NULL. */
static struct vscsi_queue *my_queue(struct vscsi_dev *vs)
{
	for (unsigned int i = 0; i < VSCSI_TLS_SLOTS; i++)
		if (tls_queue[i].vs == vs && tls_queue[i].id == vs->id)
			return &vs->q[tls_queue[i].index];
	return NULL;
}

static bool owned(struct vscsi_queue *q)
{
	return __atomic_load_n(&q->owned, __ATOMIC_ACQUIRE) != 0;
}

/* Owner side of the reset handshake (see the top of the file). */
static bool owner_enter(struct vscsi_dev *vs, struct vscsi_queue *q)
{
	/* Sequentially consistent store and load (as cheap as a store and a
	 * fence): each side sees the other's flag; and the load acquires
	 * what a reset that just ended wrote (quiesce_end releases). */
	__atomic_store_n(&q->active, 1, __ATOMIC_SEQ_CST);
	if (OSTOR_LIKELY(!__atomic_load_n(&vs->quiesce, __ATOMIC_SEQ_CST)))
		return true;
	__atomic_store_n(&q->active, 0, __ATOMIC_RELEASE);
	return false;
}

static void owner_exit(struct vscsi_queue *q)
{
	__atomic_store_n(&q->active, 0, __ATOMIC_RELEASE);
}

/* Exclusive access to every queue, owned ones included. */
static void quiesce_begin(struct vscsi_dev *vs)
{
	pthread_rwlock_wrlock(&vs->reset_lock);
	__atomic_store_n(&vs->quiesce, 1, __ATOMIC_SEQ_CST);
	for (unsigned int i = 0; i < vs->nq; i++)
		while (__atomic_load_n(&vs->q[i].active, __ATOMIC_SEQ_CST))
			sched_yield();
}

static void quiesce_end(struct vscsi_dev *vs)
{
	__atomic_store_n(&vs->quiesce, 0, __ATOMIC_RELEASE);
	pthread_rwlock_unlock(&vs->reset_lock);
}

/* An unowned queue for a thread that holds none, locked; NULL when every
 * queue is held by some thread. */
static struct vscsi_queue *lock_shared_queue(struct vscsi_dev *vs)
{
	if (tls_rr == UINT32_MAX)
		tls_rr = atomic_fetch_add(&rr_next, 1);
	for (unsigned int k = 0; k < vs->nq; k++) {
		struct vscsi_queue *q = &vs->q[(tls_rr + k) % vs->nq];

		if (owned(q))
			continue;
		pthread_mutex_lock(&q->lock);
		/* Checked again under the lock: acquire takes it too. */
		if (!owned(q))
			return q;
		pthread_mutex_unlock(&q->lock);
	}
	return NULL;
}

int vscsi_queue_acquire(struct vscsi_dev *vs, int index)
{
	struct vscsi_queue *mine = my_queue(vs);
	int slot = -1;

	if (index >= 0 && (unsigned int)index >= vs->nq)
		return ostori_error(OSTOR_ERROR_INVALID_PARAM,
				    "request queue %d does not exist: the device has %u (0 to %u)",
				    index, vs->nq, vs->nq - 1);
	if (mine) {
		if (index < 0 || mine->qindex == (unsigned int)index)
			return (int)mine->qindex;
		vscsi_queue_release(vs);
	}
	for (unsigned int i = 0; i < VSCSI_TLS_SLOTS && slot < 0; i++)
		if (!tls_queue[i].vs)
			slot = (int)i;
	if (slot < 0)
		return ostori_error(OSTOR_ERROR_BUSY, "this thread already holds queues of %d devices; "
				    "release one first", VSCSI_TLS_SLOTS);
	for (unsigned int i = 0; i < vs->nq; i++) {
		unsigned int k = index < 0 ? i : (unsigned int)index, exp = 0;

		if (__atomic_compare_exchange_n(&vs->q[k].owned, &exp, 1, false,
						__ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE)) {
			/* Wait out a thread polling it under the lock right now;
			 * later ones see owned under the lock and leave it. */
			pthread_mutex_lock(&vs->q[k].lock);
			pthread_mutex_unlock(&vs->q[k].lock);
			tls_queue[slot].vs = vs;
			tls_queue[slot].id = vs->id;
			tls_queue[slot].index = (int)k;
			return (int)k;
		}
		if (index >= 0)
			return ostori_error(OSTOR_ERROR_BUSY, "request queue %d is held by another thread",
					    index);
	}
	return ostori_error(OSTOR_ERROR_BUSY,
			    "every one of the %u request queues is held by another thread", vs->nq);
}

void vscsi_queue_release(struct vscsi_dev *vs)
{
	for (unsigned int i = 0; i < VSCSI_TLS_SLOTS; i++) {
		if (tls_queue[i].vs != vs || tls_queue[i].id != vs->id)
			continue;
		/* Release: everything the owner wrote is seen by the next
		 * thread that locks or acquires the queue. */
		__atomic_store_n(&vs->q[tls_queue[i].index].owned, 0, __ATOMIC_RELEASE);
		tls_queue[i].vs = NULL;
		tls_queue[i].id = 0;
		tls_queue[i].index = -1;
	}
}

/* Build the descriptors of a request; bounce when the data is not in
 * device-visible memory.  Called with the queue lock or as its owner. */
static int post_req(struct vscsi_dev *vs, struct vscsi_queue *q, struct vscsi_req *rq)
{
	ostor_task *t = rq->task;
	struct vq_buf bufs[VSCSI_MAX_SEGS + 2];
	struct vq_buf data[VSCSI_MAX_SEGS];
	int nd = 0, nout, nin, r;
	bool out = t->dir == OSTOR_DIR_TO_DEVICE;
	/* Unique per device without a shared counter: queue in the top bits. */
	uint64_t tag = ((uint64_t)(q->qindex + 1) << 48) | (++q->tag_seq & 0xffffffffffffull);

	memset(rq->req, 0, VIRTIO_SCSI_REQ_HDR + vs->cdb_size);
	virtio_scsi_lun(rq->req, t->target, t->lun);
	ostori_put_le64(rq->req + 8, tag);
	atomic_store(&rq->tag, tag);
	memcpy(rq->req + VIRTIO_SCSI_REQ_HDR, t->cdb, t->cdb_len);
	memset(rq->resp, 0, VIRTIO_SCSI_RESP_HDR);

	rq->bounced = false;
	if (t->dir != OSTOR_DIR_NONE && t->data_len) {
		if (OSTOR_UNLIKELY(!vs->zero_copy))
			nd = -1; /* configured to copy everything */
		for (int i = 0; i < t->iovcnt && nd >= 0; i++) {
			const uint8_t *p = t->iov[i].iov_base;
			size_t left = t->iov[i].iov_len;

			while (left) {
				uint64_t iova;
				size_t contig;

				if (nd == VSCSI_MAX_SEGS ||
				    vs->vd->ops->translate(vs->vd, p, left, &iova, &contig) < 0 || !contig) {
					nd = -1;
					break;
				}
				if (contig > left)
					contig = left;
				if (contig > UINT32_MAX)
					contig = UINT32_MAX;
				data[nd].iova = iova;
				data[nd].len = (uint32_t)contig;
				data[nd].write = !out;
				nd++;
				p += contig;
				left -= contig;
			}
		}
		if (nd < 0 || (vs->cfg.seg_max && (uint32_t)nd > vs->cfg.seg_max)) {
			/* Outside DMA memory or too fragmented: bounce. */
			size_t off = 0;

			if (!rq->bounce || t->data_len > rq->bounce_len)
				return ostori_error(OSTOR_ERROR_INVALID_PARAM,
						    "%s: a %zu-byte buffer outside DMA memory cannot be bounced "
						    "(limit %zu bytes per command); use ostor_virtio_dma_alloc() "
						    "or smaller transfers", vs->vd->name, t->data_len, rq->bounce_len);
			rq->bounced = true;
			__atomic_store_n(&q->bounced, q->bounced + 1, __ATOMIC_RELAXED);
			if (out) {
				for (int i = 0; i < t->iovcnt; i++) {
					memcpy(rq->bounce + off, t->iov[i].iov_base, t->iov[i].iov_len);
					off += t->iov[i].iov_len;
				}
			}
			nd = 0;
			off = 0;
			while (off < t->data_len) {
				uint64_t iova;
				size_t contig;

				if (nd == VSCSI_MAX_SEGS ||
				    vs->vd->ops->translate(vs->vd, rq->bounce + off, t->data_len - off,
							   &iova, &contig) < 0 || !contig)
					return ostori_error(OSTOR_ERROR_NO_MEM, "%s: bounce buffer not in DMA memory",
							    vs->vd->name);
				if (contig > t->data_len - off)
					contig = t->data_len - off;
				data[nd].iova = iova;
				data[nd].len = (uint32_t)contig;
				data[nd].write = !out;
				nd++;
				off += contig;
			}
		}
	}
	bufs[0] = (struct vq_buf){ rq->req_iova, VIRTIO_SCSI_REQ_HDR + vs->cdb_size, false };
	if (out) {
		memcpy(bufs + 1, data, (size_t)nd * sizeof(*data));
		bufs[1 + nd] = (struct vq_buf){ rq->resp_iova, vs->resp_size, true };
		nout = 1 + nd;
		nin = 1;
	} else {
		bufs[1] = (struct vq_buf){ rq->resp_iova, vs->resp_size, true };
		memcpy(bufs + 2, data, (size_t)nd * sizeof(*data));
		nout = 1;
		nin = 1 + nd;
	}
	r = virtqueue_add(q->vq, bufs, nout, nin, rq);
	if (r < 0)
		return r;
	rq->state = RQ_QUEUED;
	return 0;
}

/* Take a request slot and post it (queue lock held, or as the owner). */
static int submit_on(struct vscsi_dev *vs, struct vscsi_queue *q, ostor_task *t, bool owner)
{
	struct vscsi_req *rq = q->free;
	uint64_t now;
	int r;

	/* Full: the core keeps the task waiting (software queueing). */
	if (!rq)
		return OSTORI_SUBMIT_FULL;
	rq->task = t;
	rq->busy_tries = 0;
	rq->abort_level = 0;
	atomic_store_explicit(&rq->tmf_answer, 0, memory_order_relaxed);
	rq->timed_out = false;
	now = ostori_now_ms();
	rq->deadline = now + t->timeout_ms;
	r = post_req(vs, q, rq);
	if (r < 0) {
		rq->task = NULL;
		/* Out of descriptors while others hold them: room will come. */
		return r == OSTOR_ERROR_BUSY && q->busy ? OSTORI_SUBMIT_FULL : r;
	}
	q->free = rq->next;
	if (!q->busy)
		q->progress_ms = now;
	__atomic_store_n(&q->busy, q->busy + 1, __ATOMIC_RELAXED);
	/* batch_processing: an owner announces what it submitted between
	 * two polls with one notification, at its next poll. */
	if (owner && vs->batch) {
		q->kick_pending = true;
		return 0;
	}
	if (virtqueue_kick_prepare(q->vq))
		virtqueue_notify(q->vq);
	return 0;
}

/* The notification an owner's submits left for its poll. */
static void flush_kick(struct vscsi_queue *q)
{
	if (OSTOR_LIKELY(!q->kick_pending))
		return;
	q->kick_pending = false;
	if (virtqueue_kick_prepare(q->vq))
		virtqueue_notify(q->vq);
}

int vscsi_submit(struct vscsi_dev *vs, ostor_task *t)
{
	struct vscsi_queue *q;
	int r;

	if (t->cdb_len > vs->cdb_size)
		return ostori_error(OSTOR_ERROR_INVALID_PARAM,
				    "%s: a %u-byte CDB is longer than the device's cdb_size %u",
				    vs->vd->name, t->cdb_len, vs->cdb_size);
	if (t->iovcnt > vs->dev->max_segments && !vs->opt.bounce_bytes)
		return ostori_error(OSTOR_ERROR_INVALID_PARAM,
				    "%s: %d segments exceed the device's limit of %d",
				    vs->vd->name, t->iovcnt, vs->dev->max_segments);
	if (vs->dead)
		return ostori_error(OSTOR_ERROR_NO_DEVICE, "%s: the device failed to re-initialise after "
				    "a reset; close and reopen it", vs->vd->name);
	if (t->target > vs->cfg.max_target || t->target >= VSCSI_TOPO_TARGETS || t->lun > 0x3fff ||
	    vscsi_lun_gone(vs, t->target, t->lun)) {
		ostori_task_finish(t, OSTOR_RESULT_DEVICE_GONE, -1, NULL, 0, 0);
		return 0;
	}
	q = my_queue(vs);
	if (OSTOR_LIKELY(q != NULL)) {
		/* The fast path: our own queue, no lock. */
		if (owner_enter(vs, q)) {
			r = submit_on(vs, q, t, true);
			owner_exit(q);
			return r;
		}
		pthread_rwlock_rdlock(&vs->reset_lock);
		r = submit_on(vs, q, t, false);
		pthread_rwlock_unlock(&vs->reset_lock);
		return r;
	}
	pthread_rwlock_rdlock(&vs->reset_lock);
	q = lock_shared_queue(vs);
	if (!q) {
		pthread_rwlock_unlock(&vs->reset_lock);
		return ostori_error(OSTOR_ERROR_BUSY,
				    "%s: every request queue is held by a thread (ostor_virtio_queue_acquire); "
				    "submit from one of those threads, or release a queue", vs->vd->name);
	}
	r = submit_on(vs, q, t, false);
	pthread_mutex_unlock(&q->lock);
	pthread_rwlock_unlock(&vs->reset_lock);
	return r;
}

/* ---- completion -------------------------------------------------------------- */

static void release_req(struct vscsi_dev *vs, struct vscsi_queue *q, struct vscsi_req *rq)
{
	rq->task = NULL;
	rq->state = RQ_FREE;
	rq->next = q->free;
	q->free = rq;
	__atomic_store_n(&q->busy, q->busy - 1, __ATOMIC_RELAXED);
}

/* Finish a request the device no longer owns (queue lock held). */
static void finish_req(struct vscsi_dev *vs, struct vscsi_queue *q, struct vscsi_req *rq,
		       enum ostor_result res, int status, const uint8_t *sense, size_t sense_len,
		       size_t transferred)
{
	ostor_task *t = rq->task;

	if (rq->timed_out && res != OSTOR_RESULT_GOOD)
		res = OSTOR_RESULT_TIMEOUT;
	else if (ostori_task_cancelled(t) && res != OSTOR_RESULT_GOOD)
		res = OSTOR_RESULT_ABORTED;
	if (rq->bounced && t->dir == OSTOR_DIR_FROM_DEVICE && transferred) {
		size_t off = 0;

		for (int i = 0; i < t->iovcnt && off < transferred; i++) {
			size_t n = OSTOR_MIN(t->iov[i].iov_len, transferred - off);

			memcpy(t->iov[i].iov_base, rq->bounce + off, n);
			off += n;
		}
	}
	__atomic_store_n(&q->completed, q->completed + 1, __ATOMIC_RELAXED);
	__atomic_store_n(&q->bytes, q->bytes + transferred, __ATOMIC_RELAXED);
	/* Read first: no shared write on the fast path. */
	if (res == OSTOR_RESULT_GOOD && atomic_load_explicit(&vs->resets_in_a_row, memory_order_relaxed))
		atomic_store(&vs->resets_in_a_row, 0);
	if (res != OSTOR_RESULT_GOOD)
		__atomic_store_n(&q->errors, q->errors + 1, __ATOMIC_RELAXED);
	release_req(vs, q, rq);
	ostori_task_finish(t, res, status, sense, sense_len, transferred);
}

static void complete_req(struct vscsi_dev *vs, struct vscsi_queue *q, struct vscsi_req *rq,
			 uint32_t len)
{
	ostor_task *t = rq->task;
	uint8_t hdr[VIRTIO_SCSI_RESP_HDR];
	uint8_t sense[OSTOR_SENSE_MAX];
	uint32_t sense_len, resid, written_resp;
	uint8_t status, response;
	size_t transferred;

	/* Copy once: the device may still scribble on shared memory. */
	memcpy(hdr, rq->resp, sizeof(hdr));
	response = hdr[11];
	status = hdr[10];
	if (len < VIRTIO_SCSI_RESP_HDR) {
		stat_inc(vs, &vs->st.bad_response);
		ostor_warn(vs->dev->ctx, "%s: response of %u bytes, shorter than the %d-byte header",
			   vs->vd->name, len, VIRTIO_SCSI_RESP_HDR);
		finish_req(vs, q, rq, OSTOR_RESULT_TRANSPORT_ERROR, -1, NULL, 0, 0);
		return;
	}
	written_resp = OSTOR_MIN(len, vs->resp_size);
	switch (response) {
	case VIRTIO_SCSI_S_OK:
		break;
	case VIRTIO_SCSI_S_BUSY:
		if (rq->busy_tries < vs->retry_count && !rq->timed_out && !ostori_task_cancelled(t)) {
			unsigned int shift = OSTOR_MIN(rq->busy_tries, 6u);

			rq->busy_tries++;
			rq->state = RQ_RETRY;
			rq->retry_at = ostori_now_ms() + ((uint64_t)vs->opt.busy_backoff_ms << shift);
			rq->next = q->retry;
			q->retry = rq;
			stat_inc(vs, &vs->st.busy_retries);
			return;
		}
		finish_req(vs, q, rq, OSTOR_RESULT_BUSY, -1, NULL, 0, 0);
		return;
	case VIRTIO_SCSI_S_ABORTED:
	case VIRTIO_SCSI_S_RESET:
		/* Retryable, but a write's effect is unknown: never GOOD. */
		finish_req(vs, q, rq, OSTOR_RESULT_ABORTED, -1, NULL, 0, 0);
		return;
	case VIRTIO_SCSI_S_BAD_TARGET:
		pthread_mutex_lock(&vs->topo_lock);
		bit_set(vs->absent, t->target, true);
		topo_update_any(vs);
		pthread_mutex_unlock(&vs->topo_lock);
		finish_req(vs, q, rq, OSTOR_RESULT_DEVICE_GONE, -1, NULL, 0, 0);
		return;
	case VIRTIO_SCSI_S_OVERRUN:
	case VIRTIO_SCSI_S_TRANSPORT_FAILURE:
	case VIRTIO_SCSI_S_TARGET_FAILURE:
	case VIRTIO_SCSI_S_NEXUS_FAILURE:
	case VIRTIO_SCSI_S_FAILURE:
		ostor_dbg(vs->dev->ctx, "%s: response %u for %u:%u", vs->vd->name, response,
			  t->target, t->lun);
		finish_req(vs, q, rq, OSTOR_RESULT_TRANSPORT_ERROR, -1, NULL, 0, 0);
		return;
	default:
		stat_inc(vs, &vs->st.bad_response);
		ostor_warn(vs->dev->ctx, "%s: unknown virtio-scsi response code %u; failing the command",
			   vs->vd->name, response);
		finish_req(vs, q, rq, OSTOR_RESULT_TRANSPORT_ERROR, -1, NULL, 0, 0);
		return;
	}
	sense_len = ostori_get_le32(hdr);
	resid = ostori_get_le32(hdr + 4);
	if (sense_len > written_resp - VIRTIO_SCSI_RESP_HDR || sense_len > OSTOR_SENSE_MAX) {
		stat_inc(vs, &vs->st.sense_clamped);
		sense_len = OSTOR_MIN(written_resp - VIRTIO_SCSI_RESP_HDR, (uint32_t)OSTOR_SENSE_MAX);
	}
	memcpy(sense, rq->resp + VIRTIO_SCSI_RESP_HDR, sense_len);
	if (resid > t->data_len) {
		stat_inc(vs, &vs->st.resid_clamped);
		resid = (uint32_t)OSTOR_MIN(t->data_len, (size_t)UINT32_MAX);
	}
	transferred = t->data_len - resid;
	/* Data-in: never claim bytes beyond what the device wrote. */
	if (t->dir == OSTOR_DIR_FROM_DEVICE && transferred > len - written_resp) {
		stat_inc(vs, &vs->st.len_clamped);
		transferred = len - written_resp;
	}
	finish_req(vs, q, rq, ostori_result_of_status(status), status,
		   status == OSTOR_SCSI_STATUS_CHECK_CONDITION ? sense : NULL,
		   status == OSTOR_SCSI_STATUS_CHECK_CONDITION ? sense_len : 0, transferred);
}

/* ---- task management ----------------------------------------------------------- */

static const char *tmf_name(int level)
{
	switch (level) {
	case 1: return "ABORT TASK";
	case 2: return "LOGICAL UNIT RESET";
	case 3: return "I_T NEXUS RESET";
	default: return "device reset";
	}
}

/* Send the TMF of rq->abort_level; false when no control slot was free. */
static bool send_tmf(struct vscsi_dev *vs, struct vscsi_req *rq)
{
	static const uint32_t subtype[] = { 0, VIRTIO_SCSI_T_TMF_ABORT_TASK,
					    VIRTIO_SCSI_T_TMF_LOGICAL_UNIT_RESET,
					    VIRTIO_SCSI_T_TMF_I_T_NEXUS_RESET };
	bool sent = false;

	pthread_mutex_lock(&vs->ctrl_lock);
	for (unsigned int i = 0; i < VSCSI_TMF_SLOTS && !vs->ctrlq->broken; i++) {
		struct tmf_slot *s = &vs->tmf[i];
		struct vq_buf b[2];

		if (s->busy)
			continue;
		memset(s->req, 0, VIRTIO_SCSI_TMF_REQ);
		ostori_put_le32(s->req, VIRTIO_SCSI_T_TMF);
		ostori_put_le32(s->req + 4, subtype[rq->abort_level]);
		virtio_scsi_lun(s->req + 8, rq->task->target, rq->task->lun);
		ostori_put_le64(s->req + 16, atomic_load(&rq->tag));
		s->resp[0] = 0xff;
		b[0] = (struct vq_buf){ s->req_iova, VIRTIO_SCSI_TMF_REQ, false };
		b[1] = (struct vq_buf){ s->resp_iova, VIRTIO_SCSI_TMF_RESP, true };
		if (virtqueue_add(vs->ctrlq, b, 1, 1, s) < 0)
			break;
		s->busy = true;
		s->target_req = rq;
		s->tag = atomic_load(&rq->tag);
		if (virtqueue_kick_prepare(vs->ctrlq))
			virtqueue_notify(vs->ctrlq);
		sent = true;
		break;
	}
	pthread_mutex_unlock(&vs->ctrl_lock);
	if (sent)
		stat_inc(vs, &vs->st.tmfs);
	return sent;
}

static void request_reset(struct vscsi_dev *vs, const char *why)
{
	if (atomic_exchange(&vs->need_reset, 1) == 0)
		snprintf(vs->reset_why, sizeof(vs->reset_why), "%s", why);
}

/* Next step of the escalation for rq (queue lock held). */
static void escalate(struct vscsi_dev *vs, struct vscsi_req *rq, uint64_t now)
{
	rq->abort_level++;
	if (rq->abort_level == 1 && !vs->abort_enabled)
		rq->abort_level = 2;
	if (rq->abort_level > 1)
		stat_inc(vs, &vs->st.escalations);
	atomic_store(&rq->tmf_answer, 0);
	rq->abort_deadline = now + vs->opt.tmf_timeout_ms;
	if (rq->abort_level > 3) {
		request_reset(vs, "task management did not get a command back");
		return;
	}
	ostor_info(vs->dev->ctx, "%s: %s for %u:%u tag %llu", vs->vd->name, tmf_name(rq->abort_level),
		   rq->task->target, rq->task->lun, (unsigned long long)atomic_load(&rq->tag));
	if (!send_tmf(vs, rq))
		rq->abort_deadline = now; /* no room: go on next scan */
}

/* A command timed out: say so once per stall when the whole queue stopped
 * (nothing completed for longer than a command timeout), with what the
 * ring shows, so that a silent device is not mistaken for a slow one. */
static void report_stall(struct vscsi_dev *vs, struct vscsi_queue *q, const struct vscsi_req *rq,
			 uint64_t now)
{
	struct virtqueue *vq = q->vq;

	if (now - q->progress_ms < rq->task->timeout_ms ||
	    (q->stall_reported && vq->stats.completed + 1 == q->stall_reported))
		return;
	q->stall_reported = vq->stats.completed + 1; /* 0: never */
	ostor_warn(vs->dev->ctx, "%s: request queue %u stalled: no completion for %llu ms with %u "
		   "request(s) in flight (%s %u published, %u used; %llu notifications, %llu repeated); "
		   "aborting them", vs->vd->name, q->qindex, (unsigned long long)(now - q->progress_ms),
		   q->busy, vq->packed ? "position" : "avail.idx", vq->packed ? vq->next_avail : vq->avail_idx,
		   vq->packed ? vq->next_used : vq->last_used, (unsigned long long)vq->stats.notifies,
		   (unsigned long long)vq->stats.renotifies);
}

/* Timeouts, cancels and TMF answers (queue lock held). */
static void scan_queue(struct vscsi_dev *vs, struct vscsi_queue *q, uint64_t now)
{
	for (uint32_t i = 0; i < q->nreqs; i++) {
		struct vscsi_req *rq = &q->reqs[i];
		int ans;

		if (rq->state != RQ_QUEUED)
			continue;
		if (rq->abort_level == 0) {
			if (now >= rq->deadline) {
				rq->timed_out = true;
				report_stall(vs, q, rq, now);
				escalate(vs, rq, now);
			} else if (ostori_task_cancelled(rq->task)) {
				escalate(vs, rq, now);
			}
			continue;
		}
		ans = atomic_exchange(&rq->tmf_answer, 0);
		if (ans) {
			int resp = ans - 1;

			if (resp == VIRTIO_SCSI_S_OK || resp == VIRTIO_SCSI_S_FUNCTION_SUCCEEDED) {
				/* Done on the device side: wait for the command. */
				rq->abort_deadline = now + vs->opt.tmf_timeout_ms;
			} else {
				if (resp == VIRTIO_SCSI_S_FUNCTION_REJECTED)
					stat_inc(vs, &vs->st.tmf_rejected);
				escalate(vs, rq, now);
				continue;
			}
		}
		if (now >= rq->abort_deadline)
			escalate(vs, rq, now);
	}
}

int vscsi_cancel(struct vscsi_dev *vs, ostor_task *t)
{
	/* cancel_requested is set by the core; the next scan aborts (an
	 * owner's scan runs at least once per millisecond anyway). */
	for (unsigned int i = 0; i < vs->nq; i++) {
		struct vscsi_queue *q = &vs->q[i];

		if (owned(q))
			continue;
		pthread_mutex_lock(&q->lock);
		if (owned(q)) {
			pthread_mutex_unlock(&q->lock);
			continue;
		}
		for (uint32_t k = 0; k < q->nreqs; k++)
			if (q->reqs[k].task == t)
				q->last_scan_ms = 0;
		pthread_mutex_unlock(&q->lock);
	}
	return 0;
}

/* ---- control and event queues ------------------------------------------------------ */

static void handle_event(struct vscsi_dev *vs, const uint8_t *ev)
{
	uint32_t event = ostori_get_le32(ev), reason = ostori_get_le32(ev + 12);
	uint32_t target = ev[5];
	uint32_t lun = ((uint32_t)(ev[6] & 0x3f) << 8) | ev[7];
	bool lun_ok = ev[4] == 1;

	stat_inc(vs, &vs->st.events);
	if (event & VIRTIO_SCSI_T_EVENTS_MISSED) {
		/* Something was lost: forget everything we believed. */
		stat_inc(vs, &vs->st.events_missed);
		stat_inc(vs, &vs->st.rescans);
		topo_forget_all(vs);
		invalidate_lun_cache(vs, true, 0, 0);
		bump_generation(vs);
		ostori_post_event(vs->dev, OSTOR_EVENT_LUNS_CHANGED, OSTOR_EVENT_ALL, OSTOR_EVENT_ALL, 0, 0);
		event &= ~VIRTIO_SCSI_T_EVENTS_MISSED;
	}
	switch (event) {
	case VIRTIO_SCSI_T_NO_EVENT:
		break;
	case VIRTIO_SCSI_T_TRANSPORT_RESET:
		if (!lun_ok)
			break;
		if (reason == VIRTIO_SCSI_EVT_RESET_REMOVED) {
			ostor_info(vs->dev->ctx, "%s: target %u LUN %u removed", vs->vd->name, target, lun);
			stat_inc(vs, &vs->st.removed);
			mark_lun_gone(vs, target, lun, true);
			invalidate_lun_cache(vs, false, target, lun);
			ostori_post_event(vs->dev, OSTOR_EVENT_LUN_REMOVED, target, lun, 0, 0);
		} else if (reason == VIRTIO_SCSI_EVT_RESET_RESCAN) {
			ostor_info(vs->dev->ctx, "%s: target %u LUN %u appeared", vs->vd->name, target, lun);
			stat_inc(vs, &vs->st.rescans);
			mark_lun_gone(vs, target, lun, false);
			invalidate_lun_cache(vs, false, target, lun);
			ostori_post_event(vs->dev, OSTOR_EVENT_LUN_ADDED, target, lun, 0, 0);
		}
		bump_generation(vs);
		break;
	case VIRTIO_SCSI_T_PARAM_CHANGE: {
		uint8_t asc = reason & 0xff, ascq = (reason >> 8) & 0xff;

		stat_inc(vs, &vs->st.param_changes);
		ostor_info(vs->dev->ctx, "%s: parameters of %u:%u changed (ASC %02Xh/%02Xh)",
			   vs->vd->name, target, lun, asc, ascq);
		if (lun_ok)
			invalidate_lun_cache(vs, false, target, lun);
		if (asc == 0x3f && ascq == 0x0e) /* REPORTED LUNS DATA HAS CHANGED */
			vscsi_target_rescan(vs, target);
		if (lun_ok)
			ostori_post_unit_attention(vs->dev, target, lun, asc, ascq);
		break;
	}
	default:
		ostor_dbg(vs->dev->ctx, "%s: event %u ignored", vs->vd->name, event);
		break;
	}
}

static int poll_ctrl(struct vscsi_dev *vs)
{
	void *cookie;
	uint32_t len;
	bool clamped, again;
	int r, n = 0, pass = 0;

	pthread_mutex_lock(&vs->ctrl_lock);
	do {
		while ((r = virtqueue_get(vs->ctrlq, &cookie, &len, &clamped)) > 0) {
			struct tmf_slot *s = cookie;
			struct vscsi_req *rq = s->target_req;
			uint8_t resp = len >= 1 ? s->resp[0] : VIRTIO_SCSI_S_FAILURE;

			/* An application's slot is freed by the waiter. */
			if (s->api)
				s->answer = resp + 1;
			else
				s->busy = false;
			/* Only if the request is still the one the TMF was about. */
			if (rq && atomic_load(&rq->tag) == s->tag)
				atomic_store(&rq->tmf_answer, resp + 1);
			n++;
		}
		if (r < 0)
			request_reset(vs, vs->ctrlq->broken_why);
		while ((r = virtqueue_get(vs->eventq, &cookie, &len, &clamped)) > 0) {
			uint8_t ev[VIRTIO_SCSI_EVENT_SIZE];
			unsigned int i = (unsigned int)(((uint8_t *)cookie - vs->events) /
							VIRTIO_SCSI_EVENT_SIZE);

			memcpy(ev, cookie, sizeof(ev));
			if (len < VIRTIO_SCSI_EVENT_SIZE) {
				stat_inc(vs, &vs->st.short_events);
				ostor_warn(vs->dev->ctx, "%s: short event (%u of %d bytes) ignored",
					   vs->vd->name, len, VIRTIO_SCSI_EVENT_SIZE);
			} else {
				pthread_mutex_unlock(&vs->ctrl_lock);
				handle_event(vs, ev);
				pthread_mutex_lock(&vs->ctrl_lock);
			}
			if (post_event(vs, i) < 0)
				break;
			n++;
		}
		if (r < 0)
			request_reset(vs, vs->eventq->broken_why);
		if (virtqueue_kick_prepare(vs->eventq))
			virtqueue_notify(vs->eventq);
		if (!n && vs->ctrlq->inflight) {
			/* A task management function waits: the same watch as
			 * request queues (the event queue always holds buffers). */
			uint64_t now = ostori_now_ms();

			if (now - vs->ctrl_watch_ms >= VSCSI_WATCH_MS) {
				vs->ctrl_watch_ms = now;
				if (virtqueue_notify_lost(vs->ctrlq))
					virtqueue_notify(vs->ctrlq);
			}
		}
		again = false;
		if (vs->intr && !vs->ctrlq->broken && !vs->eventq->broken) {
			/* Both armed before either is re-checked. */
			bool c = virtqueue_arm_interrupts(vs->ctrlq, 1);
			bool e = virtqueue_arm_interrupts(vs->eventq, 1);

			again = c || e;
		}
	} while (again && ++pass < 4);
	pthread_mutex_unlock(&vs->ctrl_lock);
	return n;
}

/* ---- reset --------------------------------------------------------------------------- */

/* Reset and re-initialise, every queue quiesced. */
static int reset_quiesced(struct vscsi_dev *vs, const char *why)
{
	struct virtio_dev *vd = vs->vd;
	uint64_t had = vd->driver_features;
	unsigned int aborted = 0;
	int r;

	vd->ops->set_status(vd, 0);
	/* The device owns nothing now: every request comes back here. */
	for (unsigned int i = 0; i < vs->nq; i++) {
		struct vscsi_queue *q = &vs->q[i];
		struct vscsi_req *rq;

		pthread_mutex_lock(&q->lock);
		while ((rq = virtqueue_detach(q->vq))) {
			finish_req(vs, q, rq, OSTOR_RESULT_ABORTED, -1, NULL, 0, 0);
			aborted++;
		}
		while ((rq = q->retry)) {
			q->retry = rq->next;
			finish_req(vs, q, rq, OSTOR_RESULT_ABORTED, -1, NULL, 0, 0);
			aborted++;
		}
		pthread_mutex_unlock(&q->lock);
	}
	pthread_mutex_lock(&vs->ctrl_lock);
	while (virtqueue_detach(vs->ctrlq))
		;
	while (virtqueue_detach(vs->eventq))
		;
	/* The device owns no TMF any more: free the slots (an application
	 * waiting on one sees no answer and escalates). */
	for (unsigned int i = 0; i < VSCSI_TMF_SLOTS; i++) {
		if (!vs->tmf[i].api)
			vs->tmf[i].busy = false;
		else if (!vs->tmf[i].answer)
			vs->tmf[i].answer = TMF_ANSWER_DEVICE_RESET;
	}
	pthread_mutex_unlock(&vs->ctrl_lock);
	stat_inc(vs, &vs->st.resets);
	/* A device that breaks again right after every reset is given up
	 * on instead of being reset forever. */
	if (++vs->resets_in_a_row > 8) {
		vs->dead = true;
		ostor_err(vs->dev->ctx, "%s: %u resets without a single completed command in between; "
			  "giving up on the device (close and reopen it)", vd->name, atomic_load(&vs->resets_in_a_row));
		atomic_store(&vs->need_reset, 0);
		return ostori_error(OSTOR_ERROR_NO_DEVICE, "%s: the device keeps failing after resets", vd->name);
	}
	topo_forget_all(vs);
	invalidate_lun_cache(vs, true, 0, 0);
	bump_generation(vs);

	r = virtio_dev_negotiate(vd, vs->wanted);
	if (r == 0 && vd->driver_features != had) {
		virtio_dev_fail(vd);
		r = ostori_error(OSTOR_ERROR_PROTOCOL, "%s: after reset the device negotiated features "
				 "0x%llx instead of 0x%llx", vd->name,
				 (unsigned long long)vd->driver_features, (unsigned long long)had);
	}
	if (r == 0)
		r = start_device(vs);
	if (r < 0) {
		vs->dead = true;
		ostor_err(vs->dev->ctx, "%s: re-initialisation failed: %s", vd->name, ostor_last_error());
	} else {
		ostor_info(vs->dev->ctx, "%s: reset done, %u request(s) reported aborted", vd->name, aborted);
		ostori_post_event(vs->dev, OSTOR_EVENT_DEVICE_RESET, OSTOR_EVENT_ALL, OSTOR_EVENT_ALL, 0, 0);
	}
	atomic_store(&vs->need_reset, 0);
	return r;
}

int vscsi_reset(struct vscsi_dev *vs, const char *why)
{
	int r;

	quiesce_begin(vs);
	ostor_info(vs->dev->ctx, "%s: resetting the device: %s", vs->vd->name, why);
	r = reset_quiesced(vs, why);
	quiesce_end(vs);
	return r;
}

/* The reset a broken queue or DEVICE_NEEDS_RESET asked for; once, even
 * when several threads notice at the same time. */
static void reset_if_needed(struct vscsi_dev *vs)
{
	char why[sizeof(vs->reset_why)];

	if (OSTOR_LIKELY(!atomic_load_explicit(&vs->need_reset, memory_order_relaxed)))
		return;
	quiesce_begin(vs);
	if (atomic_load(&vs->need_reset) && !vs->dead) {
		memcpy(why, vs->reset_why, sizeof(why));
		ostor_warn(vs->dev->ctx, "%s: resetting the device: %s", vs->vd->name, why);
		reset_quiesced(vs, why);
	}
	quiesce_end(vs);
}

int vscsi_queue_reset(struct vscsi_dev *vs, unsigned int index)
{
	struct virtqueue *vq = NULL;
	struct vscsi_queue *q = NULL;
	int r;

	if (!virtio_has(vs->vd, VIRTIO_F_RING_RESET) || !vs->vd->ops->reset_queue)
		return ostori_error(OSTOR_ERROR_NOT_SUPPORTED,
				    "%s: queue reset (VIRTIO_F_RING_RESET) is not offered by this device",
				    vs->vd->name);
	if (index < 2 || index - 2 >= vs->nq)
		return ostori_error(OSTOR_ERROR_INVALID_PARAM,
				    "%s: queue %u is not a request queue (request queues are 2 to %u)",
				    vs->vd->name, index, vs->nq + 1);
	q = &vs->q[index - 2];
	quiesce_begin(vs);
	pthread_mutex_lock(&q->lock);
	vq = q->vq;
	r = vs->vd->ops->reset_queue(vs->vd, vq);
	if (r == 0) {
		struct vscsi_req *rq;

		while ((rq = virtqueue_detach(vq)))
			finish_req(vs, q, rq, OSTOR_RESULT_ABORTED, -1, NULL, 0, 0);
		virtqueue_reinit(vq);
		r = vs->vd->ops->setup_queue(vs->vd, vq);
	}
	pthread_mutex_unlock(&q->lock);
	quiesce_end(vs);
	return r;
}

/* ---- the application's resets (ostor_reset) ------------------------------------------------ */

/* A task management function for no command of ours; 1 + the device's
 * response, 0 when no answer came in time. */
static int tmf_sync(struct vscsi_dev *vs, uint32_t subtype, uint32_t target, uint32_t lun)
{
	struct tmf_slot *s = NULL;
	struct vq_buf b[2];
	uint64_t deadline;
	int answer = 0;

	pthread_mutex_lock(&vs->ctrl_lock);
	for (unsigned int i = 0; i < VSCSI_TMF_SLOTS && !s && !vs->ctrlq->broken; i++)
		if (!vs->tmf[i].busy)
			s = &vs->tmf[i];
	if (s) {
		memset(s->req, 0, VIRTIO_SCSI_TMF_REQ);
		ostori_put_le32(s->req, VIRTIO_SCSI_T_TMF);
		ostori_put_le32(s->req + 4, subtype);
		virtio_scsi_lun(s->req + 8, target, lun);
		s->resp[0] = 0xff;
		b[0] = (struct vq_buf){ s->req_iova, VIRTIO_SCSI_TMF_REQ, false };
		b[1] = (struct vq_buf){ s->resp_iova, VIRTIO_SCSI_TMF_RESP, true };
		if (virtqueue_add(vs->ctrlq, b, 1, 1, s) < 0) {
			s = NULL;
		} else {
			s->busy = s->api = true;
			s->answer = 0;
			s->target_req = NULL;
			s->tag = 0;
			if (virtqueue_kick_prepare(vs->ctrlq))
				virtqueue_notify(vs->ctrlq);
		}
	}
	pthread_mutex_unlock(&vs->ctrl_lock);
	if (!s)
		return 0;
	stat_inc(vs, &vs->st.tmfs);
	deadline = ostori_now_ms() + vs->opt.tmf_timeout_ms;
	for (;;) {
		pthread_mutex_lock(&vs->ctrl_lock);
		answer = s->answer;
		pthread_mutex_unlock(&vs->ctrl_lock);
		if (answer || ostori_now_ms() >= deadline)
			break;
		if (ostor_handle_events(vs->dev->ctx, 5) == 0)
			sched_yield();
	}
	pthread_mutex_lock(&vs->ctrl_lock);
	s->api = false;
	if (s->answer)
		s->busy = false; /* else the late answer frees it */
	answer = s->answer;
	pthread_mutex_unlock(&vs->ctrl_lock);
	return answer;
}

int vscsi_reset_level(struct vscsi_dev *vs, enum ostor_reset_level level, uint32_t target, uint32_t lun)
{
	int answer;

	if (level != OSTOR_RESET_DEVICE) {
		answer = tmf_sync(vs, level == OSTOR_RESET_LUN ? VIRTIO_SCSI_T_TMF_LOGICAL_UNIT_RESET
							 : VIRTIO_SCSI_T_TMF_I_T_NEXUS_RESET, target, lun);
		if (answer == VIRTIO_SCSI_S_OK + 1 || answer == VIRTIO_SCSI_S_FUNCTION_SUCCEEDED + 1)
			return 0;
		if (answer == TMF_ANSWER_DEVICE_RESET)
			return 1; /* the whole device was reset meanwhile */
		if (answer == VIRTIO_SCSI_S_FUNCTION_REJECTED + 1)
			stat_inc(vs, &vs->st.tmf_rejected);
		stat_inc(vs, &vs->st.escalations);
		ostor_warn(vs->dev->ctx, "%s: %s of %u:%u %s; resetting the device instead", vs->vd->name,
			   level == OSTOR_RESET_LUN ? "LOGICAL UNIT RESET" : "I_T NEXUS RESET", target, lun,
			   answer ? "was refused" : "got no answer");
	}
	answer = vscsi_reset(vs, "requested by the application");
	if (answer < 0)
		return answer;
	return level == OSTOR_RESET_DEVICE ? 0 : 1;
}

/* ---- polling ------------------------------------------------------------------------- */

/* Completions, BUSY retries, timeouts and, in interrupt mode, the next
 * interrupt of one request queue (queue lock held, or as its owner). */
static int poll_queue(struct vscsi_dev *vs, struct vscsi_queue *q, uint64_t now)
{
	void *cookie;
	uint32_t len;
	bool clamped;
	int r = 0, n = 0;

	flush_kick(q);
again:
	while (n < VSCSI_POLL_BUDGET && (r = virtqueue_get(q->vq, &cookie, &len, &clamped)) > 0) {
		if (clamped)
			__atomic_store_n(&q->len_clamped, q->len_clamped + 1, __ATOMIC_RELAXED);
		complete_req(vs, q, cookie, len);
		n++;
	}
	if (r < 0)
		request_reset(vs, q->vq->broken_why);
	if (n) {
		q->progress_ms = now;
	} else if (q->vq->inflight && now - q->watch_ms >= VSCSI_WATCH_MS) {
		q->watch_ms = now;
		if (virtqueue_notify_lost(q->vq)) {
			ostor_dbg(vs->dev->ctx, "%s: request queue %u: the device seems to have missed a "
				  "notification; notifying again", vs->vd->name, q->qindex);
			virtqueue_notify(q->vq);
		}
	}
	if (q->retry) {
		struct vscsi_req **pp = &q->retry;

		while (*pp) {
			struct vscsi_req *rq = *pp;

			if (now < rq->retry_at) {
				pp = &rq->next;
				continue;
			}
			*pp = rq->next;
			if (post_req(vs, q, rq) < 0) {
				finish_req(vs, q, rq, OSTOR_RESULT_BUSY, -1, NULL, 0, 0);
				continue;
			}
		}
		if (virtqueue_kick_prepare(q->vq))
			virtqueue_notify(q->vq);
	}
	if (q->busy && now != q->last_scan_ms) {
		q->last_scan_ms = now;
		scan_queue(vs, q, now);
	}
	/* Coalescing: the device interrupts after intr_batch completions
	 * (or all in flight); the timer of vscsi_next_timeout bounds the
	 * wait.  Completions that slipped in while arming are taken now. */
	if (vs->intr && !q->vq->broken && n < VSCSI_POLL_BUDGET &&
	    virtqueue_arm_interrupts(q->vq, vs->intr_batch))
		goto again;
	return n;
}

/* Poll a queue this thread does not own, unless another thread does. */
static int poll_shared_queue(struct vscsi_dev *vs, struct vscsi_queue *q, uint64_t now)
{
	int n = 0;

	if (owned(q))
		return 0;
	pthread_mutex_lock(&q->lock);
	if (!owned(q))
		n = poll_queue(vs, q, now);
	pthread_mutex_unlock(&q->lock);
	return n;
}

int vscsi_poll(struct vscsi_dev *vs)
{
	uint64_t now = ostori_now_ms();
	struct vscsi_queue *mine = my_queue(vs);
	bool config_changed = false, irq = false;
	int n = 0;

	if (vs->intr && vs->vd->ops->intr_ack) {
		uint8_t isr = vs->vd->ops->intr_ack(vs->vd);

		if (isr) {
			irq = true;
			stat_inc(vs, &vs->st.interrupts);
			config_changed = isr & 2;
		}
	}
	reset_if_needed(vs);
	if (vs->dead)
		return 0;
	pthread_rwlock_rdlock(&vs->reset_lock);
	for (unsigned int i = 0; i < vs->nq; i++) {
		struct vscsi_queue *q = &vs->q[i];

		/* Our own queue: the read lock already keeps resets out. */
		n += q == mine ? poll_queue(vs, q, now) : poll_shared_queue(vs, q, now);
	}
	n += poll_ctrl(vs);
	/* DEVICE_NEEDS_RESET has no interrupt of its own in polled mode. */
	if (config_changed || (now - vs->last_status_ms >= VSCSI_STATUS_CHECK_MS && total_busy(vs))) {
		uint8_t st = vs->vd->ops->get_status(vs->vd);

		vs->last_status_ms = now;
		if (st & VIRTIO_STATUS_DEVICE_NEEDS_RESET)
			request_reset(vs, "the device set DEVICE_NEEDS_RESET");
	}
	pthread_rwlock_unlock(&vs->reset_lock);
	if (irq && n == 0)
		stat_inc(vs, &vs->st.spurious_interrupts);
	if (vs->intr && vs->vd->ops->intr_enable)
		vs->vd->ops->intr_enable(vs->vd);
	reset_if_needed(vs);
	return n;
}

int vscsi_queue_poll(struct vscsi_dev *vs)
{
	struct vscsi_queue *q = my_queue(vs);
	uint64_t now;
	int n;

	if (OSTOR_UNLIKELY(!q))
		return ostori_error(OSTOR_ERROR_STATE, "%s: this thread holds no request queue of the "
				    "device; ostor_virtio_queue_acquire() one first", vs->vd->name);
	reset_if_needed(vs);
	if (vs->dead)
		return ostori_error(OSTOR_ERROR_NO_DEVICE, "%s: the device failed to re-initialise after "
				    "a reset; close and reopen it", vs->vd->name);
	now = ostori_now_ms();
	if (OSTOR_LIKELY(owner_enter(vs, q))) {
		n = poll_queue(vs, q, now);
		/* Task management answers arrive on the control queue: look
		 * at it while something of ours waits for one. */
		if (q->busy && now != q->last_ctrl_ms) {
			q->last_ctrl_ms = now;
			poll_ctrl(vs);
		}
		owner_exit(q);
	} else {
		pthread_rwlock_rdlock(&vs->reset_lock);
		n = poll_queue(vs, q, now);
		pthread_rwlock_unlock(&vs->reset_lock);
	}
	reset_if_needed(vs);
	return n;
}

int vscsi_fd(struct vscsi_dev *vs)
{
	return vs->intr && vs->vd->ops->intr_fd ? vs->vd->ops->intr_fd(vs->vd) : -1;
}

int vscsi_next_timeout(struct vscsi_dev *vs)
{
	if (atomic_load(&vs->need_reset))
		return 0;
	if (!total_busy(vs))
		return vs->intr ? -1 : 100; /* polled: look at the event queue now and then */
	/* Polling: spin while requests are out.  Interrupts: wake up for the
	 * coalescing delay, deadlines and the status check. */
	if (!vs->intr)
		return 0;
	return vs->coalesce_ms ? (int)OSTOR_MIN(vs->coalesce_ms, (unsigned int)VSCSI_STATUS_CHECK_MS)
			       : VSCSI_STATUS_CHECK_MS;
}

/* ---- introspection ----------------------------------------------------------------------- */

void vscsi_device_info(struct vscsi_dev *vs, struct ostor_virtio_device_info *info)
{
	struct vscsi_stats st;

	vscsi_get_stats(vs, &st);
	info->device_features = vs->vd->device_features;
	info->driver_features = vs->vd->driver_features;
	info->packed = vs->packed;
	info->interrupts = vs->intr;
	info->num_queues = vs->nq;
	info->device_num_queues = vs->cfg.num_queues;
	info->seg_max = vs->cfg.seg_max;
	info->max_sectors = vs->cfg.max_sectors;
	info->cmd_per_lun = vs->cfg.cmd_per_lun;
	info->event_info_size = vs->cfg.event_info_size;
	info->sense_size = vs->cfg.sense_size;
	info->cdb_size = vs->cfg.cdb_size;
	info->max_channel = vs->cfg.max_channel;
	info->max_target = vs->cfg.max_target;
	info->max_lun = vs->cfg.max_lun;
	info->resets = st.resets;
	info->events = st.events;
	info->topology_generation = st.topology_generation;
}

int vscsi_queue_count(struct vscsi_dev *vs)
{
	return (int)vs->nq + 2;
}

int vscsi_queue_info(struct vscsi_dev *vs, unsigned int index, struct ostor_virtio_queue_info *qi)
{
	struct virtqueue *vq;
	pthread_mutex_t *lock = NULL;
	struct vscsi_queue *q = NULL;

	if (index >= vs->nq + 2)
		return ostori_error(OSTOR_ERROR_NOT_FOUND, "%s: no queue %u (the device has %u)",
				    vs->vd->name, index, vs->nq + 2);
	memset(qi, 0, sizeof(*qi));
	if (index < 2) {
		vq = index ? vs->eventq : vs->ctrlq;
		lock = &vs->ctrl_lock;
		qi->type = index ? OSTOR_VIRTIO_QUEUE_EVENT : OSTOR_VIRTIO_QUEUE_CONTROL;
	} else {
		q = &vs->q[index - 2];
		vq = q->vq;
		qi->type = OSTOR_VIRTIO_QUEUE_REQUEST;
		/* An owned queue is read without its owner's cooperation: the
		 * numbers are a snapshot, each one a value it really had. */
		if (!owned(q)) {
			pthread_mutex_lock(&q->lock);
			if (owned(q))
				pthread_mutex_unlock(&q->lock);
			else
				lock = &q->lock;
		}
	}
	if (lock && index < 2)
		pthread_mutex_lock(lock);
	qi->index = index;
	qi->queue_size = vq->size;
	qi->packed = vq->packed;
	qi->event_idx = vq->event_idx;
	qi->indirect = vq->indirect;
	qi->broken = PEEK(vq->broken);
	qi->avail_idx = vq->packed ? PEEK(vq->next_avail) : PEEK(vq->avail_idx);
	qi->used_idx = vq->packed ? PEEK(vq->next_used) : PEEK(vq->last_used);
	qi->inflight = q ? PEEK(q->busy) : PEEK(vq->inflight);
	qi->submitted = PEEK(vq->stats.submitted);
	qi->completed = q ? PEEK(q->completed) : PEEK(vq->stats.completed);
	qi->errors = q ? PEEK(q->errors) : 0;
	qi->bytes = q ? PEEK(q->bytes) : 0;
	qi->notifies = PEEK(vq->stats.notifies);
	qi->renotifies = PEEK(vq->stats.renotifies);
	if (lock)
		pthread_mutex_unlock(lock);
	return 0;
}
