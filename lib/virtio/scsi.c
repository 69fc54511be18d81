/*
 * lib/virtio/scsi.c - the virtio-scsi driver (VirtIO 1.1, 5.6), its
 * device life cycle: feature negotiation and the configuration, request
 * queues with preallocated per-request slots, the control and event
 * queues, open and close, device and queue resets with re-initialisation,
 * statistics and introspection.
 *
 * The rest of the driver: submission, completion and polling of the
 * request queues (scsi_queue.c), task management with escalation
 * (scsi_tmf.c), the event queue and the topology it reports
 * (scsi_events.c); scsi_priv.h holds what they share.
 *
 * Completion rule: a request completes exactly once, when the device hands
 * its slot back (used ring) or when a device reset takes everything back.
 * Timeouts and cancels only start task management; they never complete a
 * request whose buffers the device may still touch.
 */
#include "virtio/scsi_priv.h"

#include <stdlib.h>
#include <string.h>

struct virtio_dev *vscsi_virtio(struct vscsi_dev *vs)
{
	return vs->vd;
}

_Static_assert(sizeof(struct vscsi_stats) % sizeof(uint64_t) == 0,
	       "struct vscsi_stats is read as an array of uint64_t");

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

int vscsi_counters(struct vscsi_dev *vs, struct ostor_counter *out, int max)
{
	struct vscsi_stats st;
	int n = 0;

	vscsi_get_stats(vs, &st);
	/* The request queues' rings. */
	for (unsigned int i = 0; i < vs->nq; i++) {
		struct virtqueue *vq = vs->q[i].vq;

		ostori_counter_add(out, max, &n, "virtio_submitted", PEEK(vq->stats.submitted));
		ostori_counter_add(out, max, &n, "virtio_completed", PEEK(vq->stats.completed));
		ostori_counter_add(out, max, &n, "virtio_notifications", PEEK(vq->stats.notifies));
		ostori_counter_add(out, max, &n, "virtio_renotifications", PEEK(vq->stats.renotifies));
		ostori_counter_add(out, max, &n, "virtio_notifications_suppressed", PEEK(vq->stats.suppressed));
		ostori_counter_add(out, max, &n, "virtio_ring_violations", PEEK(vq->stats.violations));
		ostori_counter_add(out, max, &n, "virtio_errors", PEEK(vq->stats.errors));
	}
	ostori_counter_add(out, max, &n, "virtio_interrupts", st.interrupts);
	ostori_counter_add(out, max, &n, "virtio_spurious_interrupts", st.spurious_interrupts);
	ostori_counter_add(out, max, &n, "virtio_bounced", st.bounced);
	/* The DMA memory the queues took at set-up (rings, requests, bounce). */
	{
		uint64_t dma = 0;

		for (unsigned int i = 0; i < vs->nq; i++)
			dma += vs->q[i].dma_bytes + vs->q[i].bounce_bytes;
		ostori_counter_add(out, max, &n, "virtio_dma_bytes", dma);
	}
	ostori_counter_add(out, max, &n, "virtio_busy_retries", st.busy_retries);
	ostori_counter_add(out, max, &n, "virtio_resets", st.resets);
	ostori_counter_add(out, max, &n, "virtio_tmfs", st.tmfs);
	ostori_counter_add(out, max, &n, "virtio_tmf_rejected", st.tmf_rejected);
	ostori_counter_add(out, max, &n, "virtio_escalations", st.escalations);
	ostori_counter_add(out, max, &n, "virtio_events", st.events);
	ostori_counter_add(out, max, &n, "virtio_events_missed", st.events_missed);
	ostori_counter_add(out, max, &n, "virtio_rescans", st.rescans);
	ostori_counter_add(out, max, &n, "virtio_bad_responses", st.bad_response);
	ostori_counter_add(out, max, &n, "virtio_clamped", st.sense_clamped + st.resid_clamped + st.len_clamped);
	return n;
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
		if (vscsi_post_event(vs, i) < 0)
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
	vs->retry_count = ostori_virtio_config(cfg)->scsi_retry_count;
	vs->zero_copy = ostori_virtio_config(cfg)->dma_enabled && ostori_virtio_config(cfg)->zero_copy_enabled;
	vs->abort_enabled = ostori_virtio_config(cfg)->scsi_abort_enabled;
	dev->default_timeout_ms = ostori_virtio_config(cfg)->scsi_command_timeout;
	dev->count_class = "virtio-scsi";
	dev->count_limit = ostori_virtio_config(cfg)->device_max_count;
	dev->count_key = "[virtio_scsi] device_max_count";
	atomic_store(&dev->hist_on, ostori_virtio_config(cfg)->performance_monitoring_enabled);
	ostori_virtio_cache_params(ostori_virtio_config(cfg), dev);
	dev->max_commands = ostori_virtio_config(cfg)->scsi_max_commands;
	dev->max_commands_key = "[virtio_scsi] scsi_max_commands";
	dev->io_scheduler = ostori_virtio_config(cfg)->io_scheduler;
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
		vs->opt.ring = ostori_virtio_config(cfg)->queue_ring == OSTORI_QUEUE_RING_SPLIT ? 1 :
			       ostori_virtio_config(cfg)->queue_ring == OSTORI_QUEUE_RING_PACKED ? 2 : 0;
	if (!vs->opt.mode)
		vs->opt.mode = ostori_virtio_config(cfg)->queue_completion == OSTORI_QUEUE_COMPLETION_INTERRUPT ? 2 : 1;
	opt = &vs->opt;
	if (ostori_virtio_config(cfg)->queue_interrupt_coalescing) {
		vs->intr_batch = ostori_virtio_config(cfg)->queue_interrupt_coalescing_threshold;
		vs->coalesce_ms = (ostori_virtio_config(cfg)->queue_interrupt_coalescing_time + 999) / 1000;
		if (!vs->coalesce_ms)
			vs->coalesce_ms = 1;
	} else {
		vs->intr_batch = 1;
	}

	vs->wanted = (1ull << VIRTIO_F_VERSION_1) | (1ull << VIRTIO_SCSI_F_HOTPLUG) |
		     (1ull << VIRTIO_SCSI_F_CHANGE) | (1ull << VIRTIO_F_RING_RESET) |
		     /* Behind an IOMMU the device offers it: our addresses are
		      * then the platform's (IOVAs under VFIO, physical ones
		      * where the IOMMU passes them through). */
		     (1ull << VIRTIO_F_ACCESS_PLATFORM);
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
	nq = opt->queues ? opt->queues : ostori_virtio_config(cfg)->queue_count;
	if (nq > ostori_virtio_config(cfg)->device_max_queues && !opt->queues)
		nq = ostori_virtio_config(cfg)->device_max_queues;
	if (nq > vs->cfg.num_queues)
		nq = vs->cfg.num_queues;
	if (nq == 0) {
		virtio_dev_fail(vd);
		r = ostori_error(OSTOR_ERROR_PROTOCOL, "%s: the device reports num_queues 0", vd->name);
		goto fail;
	}
	vs->queue_size = opt->depth ? opt->depth : ostori_virtio_config(cfg)->queue_depth;
	vs->intr = opt->mode == 2;
	/* Polled mode only: there the owner's next poll is never far (an
	 * interrupt-mode owner may block in poll() waiting for it). */
	vs->batch = ostori_virtio_config(cfg)->batch_processing && !vs->intr;

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
				    ostori_virtio_config(cfg)->device_max_targets - 1);
	if (dev->max_target > VSCSI_TOPO_TARGETS - 1)
		dev->max_target = VSCSI_TOPO_TARGETS - 1;
	dev->max_lun = OSTOR_MIN(vs->cfg.max_lun, ostori_virtio_config(cfg)->device_max_luns - 1);
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

/* ---- reset --------------------------------------------------------------------------- */

/* Ask for a device reset, done by the next poll; the first reason is kept. */
void vscsi_request_reset(struct vscsi_dev *vs, const char *why)
{
	if (atomic_exchange(&vs->need_reset, 1) == 0)
		snprintf(vs->reset_why, sizeof(vs->reset_why), "%s", why);
}

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
			vscsi_finish_req(vs, q, rq, OSTOR_RESULT_ABORTED, -1, NULL, 0, 0);
			aborted++;
		}
		while ((rq = q->retry)) {
			q->retry = rq->next;
			vscsi_finish_req(vs, q, rq, OSTOR_RESULT_ABORTED, -1, NULL, 0, 0);
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
	vscsi_topo_forget_all(vs);
	vscsi_invalidate_lun_cache(vs, true, 0, 0);
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

	vscsi_quiesce_begin(vs);
	ostor_info(vs->dev->ctx, "%s: resetting the device: %s", vs->vd->name, why);
	r = reset_quiesced(vs, why);
	vscsi_quiesce_end(vs);
	return r;
}

/* The reset a broken queue or DEVICE_NEEDS_RESET asked for; once, even
 * when several threads notice at the same time. */
void vscsi_reset_if_needed(struct vscsi_dev *vs)
{
	char why[sizeof(vs->reset_why)];

	if (OSTOR_LIKELY(!atomic_load_explicit(&vs->need_reset, memory_order_relaxed)))
		return;
	vscsi_quiesce_begin(vs);
	if (atomic_load(&vs->need_reset) && !vs->dead) {
		memcpy(why, vs->reset_why, sizeof(why));
		ostor_warn(vs->dev->ctx, "%s: resetting the device: %s", vs->vd->name, why);
		reset_quiesced(vs, why);
	}
	vscsi_quiesce_end(vs);
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
	vscsi_quiesce_begin(vs);
	pthread_mutex_lock(&q->lock);
	vq = q->vq;
	r = vs->vd->ops->reset_queue(vs->vd, vq);
	if (r == 0) {
		struct vscsi_req *rq;

		while ((rq = virtqueue_detach(vq)))
			vscsi_finish_req(vs, q, rq, OSTOR_RESULT_ABORTED, -1, NULL, 0, 0);
		virtqueue_reinit(vq);
		r = vs->vd->ops->setup_queue(vs->vd, vq);
	}
	pthread_mutex_unlock(&q->lock);
	vscsi_quiesce_end(vs);
	return r;
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

/* ---- diagnostics ------------------------------------------------------------------------------ */

void vscsi_debug_dump(struct vscsi_dev *vs, FILE *f)
{
	uint64_t now = ostori_now_ms();

	fprintf(f, "vscsi %s: need_reset %d dead %d quiesce %d resets_in_a_row %u packed %d intr %d\n",
		vs->vd->name, atomic_load(&vs->need_reset), vs->dead, PEEK(vs->quiesce),
		atomic_load(&vs->resets_in_a_row), vs->packed, vs->intr);
	for (unsigned int i = 0; i < vs->nq; i++) {
		struct vscsi_queue *q = &vs->q[i];
		struct virtqueue *vq = q->vq;
		unsigned int nfree = 0, nretry = 0, ncookies = 0;

		for (struct vscsi_req *rq = q->free; rq && nfree <= q->nreqs; rq = rq->next)
			nfree++;
		for (struct vscsi_req *rq = q->retry; rq && nretry <= q->nreqs; rq = rq->next)
			nretry++;
		for (uint32_t k = 0; k < vq->size; k++)
			ncookies += vq->slots[k].cookie != NULL;
		fprintf(f, "  queue %u: owned %u active %d nreqs %u free %u busy %u retry %u; vq size %u "
			"inflight %u num_free %u ids_free %u cookies %u avail %u used %u broken %d (%s) "
			"submitted %llu completed %llu\n",
			i, PEEK(q->owned), PEEK(q->active), q->nreqs, nfree, PEEK(q->busy), nretry, vq->size,
			PEEK(vq->inflight), vq->num_free, vq->ids_free, ncookies,
			vq->packed ? PEEK(vq->next_avail) : PEEK(vq->avail_idx),
			vq->packed ? PEEK(vq->next_used) : PEEK(vq->last_used), PEEK(vq->broken), vq->broken_why,
			(unsigned long long)PEEK(vq->stats.submitted), (unsigned long long)PEEK(vq->stats.completed));
		for (uint32_t k = 0; k < q->nreqs; k++) {
			struct vscsi_req *rq = &q->reqs[k];
			bool in_ring = false;

			if (rq->state == RQ_FREE && !rq->task)
				continue;
			for (uint32_t s = 0; s < vq->size; s++)
				in_ring |= vq->slots[s].cookie == rq;
			fprintf(f, "    req %u: state %d task %p in_ring %d tag %#llx abort_level %d tmf_answer %d "
				"timed_out %d busy_tries %u deadline %+lld ms abort_deadline %+lld ms\n",
				k, rq->state, (void *)rq->task, in_ring, (unsigned long long)atomic_load(&rq->tag),
				rq->abort_level, atomic_load(&rq->tmf_answer), rq->timed_out, rq->busy_tries,
				(long long)(rq->deadline - now), (long long)(rq->abort_deadline - now));
		}
	}
	fprintf(f, "  ctrlq inflight %u num_free %u broken %d\n", PEEK(vs->ctrlq->inflight), vs->ctrlq->num_free,
		PEEK(vs->ctrlq->broken));
	for (unsigned int i = 0; i < VSCSI_TMF_SLOTS; i++)
		if (vs->tmf[i].busy)
			fprintf(f, "    tmf %u: busy api %d answer %d target_req %p tag %#llx\n", i, vs->tmf[i].api,
				vs->tmf[i].answer, (void *)vs->tmf[i].target_req, (unsigned long long)vs->tmf[i].tag);
}
