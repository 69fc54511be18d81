/*
 * lib/virtio/scsi_queue.c - the virtio-scsi request queues: which thread
 * owns which queue, submission (descriptors, bounce buffers, tags),
 * completion (responses, BUSY retries) and polling, polled or
 * interrupt-driven, with the watch for lost notifications.
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
#include "virtio/scsi_priv.h"
#include "util/byteorder.h"

#include <sched.h>
#include <string.h>

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

/* Owner side of the reset handshake (see the top of the file). */
static bool owner_enter(struct vscsi_dev *vs, struct vscsi_queue *q)
{
	/* Sequentially consistent store and load (as cheap as a store and a
	 * fence): each side sees the other's flag; and the load acquires
	 * what a reset that just ended wrote (vscsi_quiesce_end releases). */
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
void vscsi_quiesce_begin(struct vscsi_dev *vs)
{
	pthread_rwlock_wrlock(&vs->reset_lock);
	__atomic_store_n(&vs->quiesce, 1, __ATOMIC_SEQ_CST);
	for (unsigned int i = 0; i < vs->nq; i++)
		while (__atomic_load_n(&vs->q[i].active, __ATOMIC_SEQ_CST))
			sched_yield();
}

void vscsi_quiesce_end(struct vscsi_dev *vs)
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
void vscsi_finish_req(struct vscsi_dev *vs, struct vscsi_queue *q, struct vscsi_req *rq,
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
		vscsi_finish_req(vs, q, rq, OSTOR_RESULT_TRANSPORT_ERROR, -1, NULL, 0, 0);
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
		vscsi_finish_req(vs, q, rq, OSTOR_RESULT_BUSY, -1, NULL, 0, 0);
		return;
	case VIRTIO_SCSI_S_ABORTED:
	case VIRTIO_SCSI_S_RESET:
		/* Retryable, but a write's effect is unknown: never GOOD. */
		vscsi_finish_req(vs, q, rq, OSTOR_RESULT_ABORTED, -1, NULL, 0, 0);
		return;
	case VIRTIO_SCSI_S_BAD_TARGET:
		pthread_mutex_lock(&vs->topo_lock);
		bit_set(vs->absent, t->target, true);
		vscsi_topo_update_any(vs);
		pthread_mutex_unlock(&vs->topo_lock);
		vscsi_finish_req(vs, q, rq, OSTOR_RESULT_DEVICE_GONE, -1, NULL, 0, 0);
		return;
	case VIRTIO_SCSI_S_OVERRUN:
		/* The command wanted more than the buffer; QEMU refuses it
		 * before it runs, so nothing it sent is trusted. */
		vscsi_finish_req(vs, q, rq, OSTOR_RESULT_OVERRUN, -1, NULL, 0, 0);
		return;
	case VIRTIO_SCSI_S_TRANSPORT_FAILURE:
	case VIRTIO_SCSI_S_TARGET_FAILURE:
	case VIRTIO_SCSI_S_NEXUS_FAILURE:
	case VIRTIO_SCSI_S_FAILURE:
		ostor_dbg(vs->dev->ctx, "%s: response %u for %u:%u", vs->vd->name, response,
			  t->target, t->lun);
		vscsi_finish_req(vs, q, rq, OSTOR_RESULT_TRANSPORT_ERROR, -1, NULL, 0, 0);
		return;
	default:
		stat_inc(vs, &vs->st.bad_response);
		ostor_warn(vs->dev->ctx, "%s: unknown virtio-scsi response code %u; failing the command",
			   vs->vd->name, response);
		vscsi_finish_req(vs, q, rq, OSTOR_RESULT_TRANSPORT_ERROR, -1, NULL, 0, 0);
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
	vscsi_finish_req(vs, q, rq, ostori_result_of_status(status), status,
			 status == OSTOR_SCSI_STATUS_CHECK_CONDITION ? sense : NULL,
			 status == OSTOR_SCSI_STATUS_CHECK_CONDITION ? sense_len : 0, transferred);
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
	/* A vector of its own (MSI-X): consumed before the ring is read, so
	 * that a completion after this read wakes the next poll(). */
	if (vs->intr && vs->vd->ops->queue_intr_ack)
		vs->vd->ops->queue_intr_ack(vs->vd, q->vq);
again:
	while (n < VSCSI_POLL_BUDGET && (r = virtqueue_get(q->vq, &cookie, &len, &clamped)) > 0) {
		if (clamped)
			__atomic_store_n(&q->len_clamped, q->len_clamped + 1, __ATOMIC_RELAXED);
		complete_req(vs, q, cookie, len);
		n++;
	}
	if (r < 0)
		vscsi_request_reset(vs, q->vq->broken_why);
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
				vscsi_finish_req(vs, q, rq, OSTOR_RESULT_BUSY, -1, NULL, 0, 0);
				continue;
			}
		}
		if (virtqueue_kick_prepare(q->vq))
			virtqueue_notify(q->vq);
	}
	if (q->busy && now != q->last_scan_ms) {
		q->last_scan_ms = now;
		vscsi_scan_queue(vs, q, now);
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
	vscsi_reset_if_needed(vs);
	if (vs->dead)
		return 0;
	pthread_rwlock_rdlock(&vs->reset_lock);
	for (unsigned int i = 0; i < vs->nq; i++) {
		struct vscsi_queue *q = &vs->q[i];

		/* Our own queue: the read lock already keeps resets out. */
		n += q == mine ? poll_queue(vs, q, now) : poll_shared_queue(vs, q, now);
	}
	n += vscsi_poll_ctrl(vs);
	/* DEVICE_NEEDS_RESET has no interrupt of its own in polled mode. */
	if (config_changed || (now - vs->last_status_ms >= VSCSI_STATUS_CHECK_MS && total_busy(vs))) {
		uint8_t st = vs->vd->ops->get_status(vs->vd);

		vs->last_status_ms = now;
		if (st & VIRTIO_STATUS_DEVICE_NEEDS_RESET)
			vscsi_request_reset(vs, "the device set DEVICE_NEEDS_RESET");
	}
	pthread_rwlock_unlock(&vs->reset_lock);
	if (irq && n == 0)
		stat_inc(vs, &vs->st.spurious_interrupts);
	if (vs->intr && vs->vd->ops->intr_enable)
		vs->vd->ops->intr_enable(vs->vd);
	vscsi_reset_if_needed(vs);
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
	vscsi_reset_if_needed(vs);
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
			vscsi_poll_ctrl(vs);
		}
		owner_exit(q);
	} else {
		pthread_rwlock_rdlock(&vs->reset_lock);
		n = poll_queue(vs, q, now);
		pthread_rwlock_unlock(&vs->reset_lock);
	}
	vscsi_reset_if_needed(vs);
	return n;
}

static int add_fd(struct pollfd *fds, int max, int n, int fd)
{
	for (int i = 0; fds && i < n && i < max; i++)
		if (fds[i].fd == fd)
			return n;
	if (fds && n < max)
		fds[n] = (struct pollfd){ .fd = fd, .events = POLLIN };
	return n + 1;
}

/* The shared interrupt fd, the control queue's, and the fd of every
 * request queue with a vector of its own that this thread owns or that
 * nobody owns: an owner's event loop never wakes for another owner's
 * completions. */
int vscsi_pollfds(struct vscsi_dev *vs, struct pollfd *fds, int max)
{
	const struct virtio_dev_ops *ops = vs->vd->ops;
	struct vscsi_queue *mine;
	int n = 0, fd;

	if (!vs->intr || !ops->intr_fd || (fd = ops->intr_fd(vs->vd)) < 0)
		return 0;
	n = add_fd(fds, max, n, fd);
	if (!ops->queue_intr_fd)
		return n;
	if ((fd = ops->queue_intr_fd(vs->vd, vs->ctrlq)) >= 0)
		n = add_fd(fds, max, n, fd);
	mine = my_queue(vs);
	for (unsigned int i = 0; i < vs->nq; i++) {
		struct vscsi_queue *q = &vs->q[i];

		if ((q == mine || !owned(q)) && (fd = ops->queue_intr_fd(vs->vd, q->vq)) >= 0)
			n = add_fd(fds, max, n, fd);
	}
	return n;
}

bool vscsi_interrupts(const struct vscsi_dev *vs)
{
	return vs->intr;
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
