/*
 * lib/virtio/scsi_priv.h - what the parts of the virtio-scsi driver share
 * (scsi.c, scsi_queue.c, scsi_tmf.c, scsi_events.c): the device, request
 * queue, request and TMF slot structures, and the helpers one part calls
 * in another.  Only lib/virtio includes it; the rest of the library goes
 * through scsi.h.
 *
 * Locks, in order: reset_lock (rw: resets exclude everything) > queue
 * lock > ctrl_lock > topo_lock.  ostori_task_complete takes only the
 * context lock, which never nests the other way.
 */
#ifndef OSTOR_VIRTIO_SCSI_PRIV_H
#define OSTOR_VIRTIO_SCSI_PRIV_H

#include "virtio/scsi.h"

#include <stdatomic.h>

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

static inline void stat_inc(struct vscsi_dev *vs, uint64_t *field)
{
	__atomic_fetch_add(field, 1, __ATOMIC_RELAXED);
}

/* Read a counter another thread may be writing (diagnostics only). */
#define PEEK(x) __atomic_load_n(&(x), __ATOMIC_RELAXED)

/* A thread acquired q: only that thread touches it (scsi_queue.c). */
static inline bool owned(struct vscsi_queue *q)
{
	return __atomic_load_n(&q->owned, __ATOMIC_ACQUIRE) != 0;
}

/* The target bitmaps of the topology (absent, detached). */
static inline bool bit_get(const uint8_t *m, uint32_t t)
{
	return t < VSCSI_TOPO_TARGETS && (m[t / 8] >> (t % 8)) & 1;
}

static inline void bit_set(uint8_t *m, uint32_t t, bool on)
{
	if (t >= VSCSI_TOPO_TARGETS)
		return;
	if (on)
		m[t / 8] |= (uint8_t)(1u << (t % 8));
	else
		m[t / 8] &= (uint8_t)~(1u << (t % 8));
}

static inline void bump_generation(struct vscsi_dev *vs)
{
	stat_inc(vs, &vs->st.topology_generation);
}

/* ---- scsi.c: device reset ----------------------------------------------- */

void vscsi_request_reset(struct vscsi_dev *vs, const char *why);
void vscsi_reset_if_needed(struct vscsi_dev *vs);

/* ---- scsi_queue.c: the reset handshake, completion ---------------------- */

void vscsi_quiesce_begin(struct vscsi_dev *vs);
void vscsi_quiesce_end(struct vscsi_dev *vs);
void vscsi_finish_req(struct vscsi_dev *vs, struct vscsi_queue *q, struct vscsi_req *rq,
		      enum ostor_result res, int status, const uint8_t *sense, size_t sense_len,
		      size_t transferred);

/* ---- scsi_tmf.c: timeouts, cancels and TMF answers ---------------------- */

void vscsi_scan_queue(struct vscsi_dev *vs, struct vscsi_queue *q, uint64_t now);

/* ---- scsi_events.c: topology, the control and event queues -------------- */

void vscsi_topo_update_any(struct vscsi_dev *vs);
void vscsi_topo_forget_all(struct vscsi_dev *vs);
void vscsi_invalidate_lun_cache(struct vscsi_dev *vs, bool all, uint32_t target, uint32_t lun);
int vscsi_post_event(struct vscsi_dev *vs, unsigned int i);
int vscsi_poll_ctrl(struct vscsi_dev *vs);

#endif /* OSTOR_VIRTIO_SCSI_PRIV_H */
