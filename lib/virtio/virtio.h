/*
 * lib/virtio/virtio.h - the transport-neutral virtio core: device status
 * and feature negotiation, the transport ops table, split and packed
 * virtqueues.
 *
 * Two transports implement struct virtio_dev_ops: modern virtio-pci over
 * UIO or VFIO (lib/virtio/backend.c, pci_uio.c, pci_vfio.c) and the
 * simulated device (lib/virtio/sim_device.c, sim:transport=virtio).
 * Everything above the ops table (rings, virtio-scsi) is shared, so the
 * sim exercises the real driver code.
 *
 * Trust model: the device is hostile.  The driver keeps a shadow copy of
 * everything it posted and never reads a descriptor back from shared
 * memory; every used element is checked against that shadow.
 */
#ifndef OSTOR_VIRTIO_VIRTIO_H
#define OSTOR_VIRTIO_VIRTIO_H

#include "core/internal.h"

#include <endian.h>
#include <stdbool.h>
#include <stdint.h>

/* ---- VirtIO 1.1 constants ---------------------------------------------- */

#define VIRTIO_STATUS_ACKNOWLEDGE 0x01
#define VIRTIO_STATUS_DRIVER 0x02
#define VIRTIO_STATUS_DRIVER_OK 0x04
#define VIRTIO_STATUS_FEATURES_OK 0x08
#define VIRTIO_STATUS_DEVICE_NEEDS_RESET 0x40
#define VIRTIO_STATUS_FAILED 0x80

#define VIRTIO_F_INDIRECT_DESC 28
#define VIRTIO_F_EVENT_IDX 29
#define VIRTIO_F_VERSION_1 32
#define VIRTIO_F_ACCESS_PLATFORM 33
#define VIRTIO_F_RING_PACKED 34
#define VIRTIO_F_IN_ORDER 35
#define VIRTIO_F_RING_RESET 40

#define VIRTIO_SCSI_F_INOUT 0
#define VIRTIO_SCSI_F_HOTPLUG 1
#define VIRTIO_SCSI_F_CHANGE 2
#define VIRTIO_SCSI_F_T10_PI 3

#define VIRTQ_DESC_F_NEXT 1
#define VIRTQ_DESC_F_WRITE 2
#define VIRTQ_DESC_F_INDIRECT 4
#define VIRTQ_DESC_F_AVAIL (1u << 7)
#define VIRTQ_DESC_F_USED (1u << 15)

#define VIRTQ_AVAIL_F_NO_INTERRUPT 1
#define VIRTQ_USED_F_NO_NOTIFY 1

#define VIRTQ_EVENT_F_ENABLE 0
#define VIRTQ_EVENT_F_DISABLE 1
#define VIRTQ_EVENT_F_DESC 2

#define VIRTQ_MAX_SIZE 32768u

/* Ring layouts.  Every multi-byte field is little-endian in memory (VirtIO
 * 1.x, 2.7 and 2.8), whatever the CPU: both sides - this driver and the
 * simulated device - read and write them only through vq_le16/32/64 and
 * vq_load16/vq_store16 below, which swap bytes on big-endian CPUs and
 * compile to nothing on little-endian ones. */
struct vring_desc {
	uint64_t addr;
	uint32_t len;
	uint16_t flags;
	uint16_t next;
};

struct vring_avail {
	uint16_t flags;
	uint16_t idx;
	uint16_t ring[];       /* then le16 used_event */
};

struct vring_used_elem {
	uint32_t id;
	uint32_t len;
};

struct vring_used {
	uint16_t flags;
	uint16_t idx;
	struct vring_used_elem ring[];  /* then le16 avail_event */
};

struct vring_packed_desc {
	uint64_t addr;
	uint32_t len;
	uint16_t id;
	uint16_t flags;
};

struct vring_packed_event {
	uint16_t off_wrap;
	uint16_t flags;
};

/* Byte sizes of the split ring parts for a queue of n entries. */
static inline size_t vring_desc_bytes(unsigned int n) { return 16u * n; }
static inline size_t vring_avail_bytes(unsigned int n) { return 6u + 2u * n; }
static inline size_t vring_used_bytes(unsigned int n) { return 6u + 8u * n; }

/* The event-index rule of the spec (2.7.10): notify when new_idx moved
 * past event since old. */
static inline bool vring_need_event(uint16_t event, uint16_t new_idx, uint16_t old)
{
	return (uint16_t)(new_idx - event - 1) < (uint16_t)(new_idx - old);
}

/* ---- the transport seam -------------------------------------------------- */

struct virtio_dev;
struct virtqueue;

struct virtio_dev_ops {
	const char *name;                   /* "pci", "sim" */
	/* Device-specific configuration space, bytes [off, off+len). */
	int (*read_config)(struct virtio_dev *vd, size_t off, void *buf, size_t len);
	int (*write_config)(struct virtio_dev *vd, size_t off, const void *buf, size_t len);
	uint8_t (*config_generation)(struct virtio_dev *vd);
	uint8_t (*get_status)(struct virtio_dev *vd);
	void (*set_status)(struct virtio_dev *vd, uint8_t status); /* 0: reset */
	uint64_t (*get_features)(struct virtio_dev *vd);
	void (*set_features)(struct virtio_dev *vd, uint64_t features);
	/* Largest size the device allows for queue index (0: no such queue). */
	uint32_t (*queue_max_size)(struct virtio_dev *vd, uint16_t index);
	/* Tell the device the ring addresses (vq->*_iova) and size, enable. */
	int (*setup_queue)(struct virtio_dev *vd, struct virtqueue *vq);
	void (*del_queue)(struct virtio_dev *vd, struct virtqueue *vq);
	/* VirtIO 1.2 queue reset; NULL when the transport cannot. */
	int (*reset_queue)(struct virtio_dev *vd, struct virtqueue *vq);
	void (*notify)(struct virtio_dev *vd, struct virtqueue *vq);
	/* Interrupt: a pollable fd (-1: none), arm it (UIO re-enables INTx),
	 * and acknowledge: returns the ISR bits (1 queue, 2 config) and
	 * consumes the pending event count. */
	int (*intr_fd)(struct virtio_dev *vd);
	int (*intr_enable)(struct virtio_dev *vd);
	uint8_t (*intr_ack)(struct virtio_dev *vd);
	/* A queue's own interrupt (MSI-X vector): its pollable fd, -1 when
	 * it has none (intr_fd covers it); ack consumes a pending one.
	 * NULL: the transport has one interrupt for everything. */
	int (*queue_intr_fd)(struct virtio_dev *vd, struct virtqueue *vq);
	bool (*queue_intr_ack)(struct virtio_dev *vd, struct virtqueue *vq);
	/* Memory the device can reach: allocation and address translation.
	 * translate returns 0 with the device address of p and how many bytes
	 * from p are contiguous for the device (<= len), or a negative error
	 * when p is outside device-visible memory (the caller bounces). */
	void *(*dma_alloc)(struct virtio_dev *vd, size_t size, uint64_t *iova);
	void (*dma_free)(struct virtio_dev *vd, void *p, size_t size);
	int (*translate)(struct virtio_dev *vd, const void *p, size_t len,
			 uint64_t *iova, size_t *contig);
};

struct virtio_dev {
	const struct virtio_dev_ops *ops;
	void *transport;                    /* the ops' own state */
	ostor_context *ctx;
	char name[96];                      /* for messages: the spec */
	uint64_t device_features;
	uint64_t driver_features;
	unsigned int config_retries;        /* generation loop bound */
};

/* Reset and wait (bounded) until the device reads status 0. */
int virtio_dev_reset(struct virtio_dev *vd);
/* ACKNOWLEDGE, DRIVER, negotiate (VERSION_1 required; "wanted" bits the
 * device offers are taken), FEATURES_OK and its re-read (cleared: FAILED
 * and an error).  Leaves the device ready for queue set-up. */
int virtio_dev_negotiate(struct virtio_dev *vd, uint64_t wanted);
int virtio_dev_driver_ok(struct virtio_dev *vd);
void virtio_dev_fail(struct virtio_dev *vd);
/* Read device config under the config_generation loop (bounded). */
int virtio_dev_read_config(struct virtio_dev *vd, size_t off, void *buf, size_t len);
static inline bool virtio_has(const struct virtio_dev *vd, unsigned int bit)
{
	return (vd->driver_features >> bit) & 1;
}
/* "VERSION_1 RING_PACKED ..." */
void virtio_features_text(uint64_t features, bool scsi, char *buf, size_t len);

/* ---- virtqueues ----------------------------------------------------------- */

/* One buffer of a request: device address and length; write = the device
 * writes it (data-in, responses). */
struct vq_buf {
	uint64_t iova;
	uint32_t len;
	bool write;
};

struct vq_slot {
	void *cookie;          /* NULL: free */
	uint32_t write_len;    /* writable bytes posted: the used.len limit */
	uint16_t ndesc;        /* ring descriptors it took */
	uint16_t last;         /* split: last descriptor of the chain */
	struct vring_desc *indirect;  /* preallocated table, or NULL */
	uint64_t indirect_iova;
};

struct vq_stats {
	uint64_t submitted, completed, errors, bytes;
	uint64_t notifies, interrupts, spurious, violations;
	uint64_t renotifies;               /* notifications repeated by the watch */
	uint64_t suppressed;               /* notifications the device said it did not need */
};

/* Fields that other threads read for statistics (ostor_virtio_queue_info)
 * while the queue's one writer - its owner, or whoever holds its lock -
 * updates them: relaxed atomic stores, plain moves on every CPU we
 * support, so that the readers are not data races. */
#define VQ_PUT(field, value) __atomic_store_n(&(field), (value), __ATOMIC_RELAXED)
#define VQ_BUMP(field) VQ_PUT(field, (field) + 1)

struct virtqueue {
	struct virtio_dev *vd;
	uint16_t index;
	uint32_t size;
	bool packed, event_idx, indirect, intr_mode;
	bool broken;
	char broken_why[160];
	uint16_t max_indirect;             /* entries per indirect table */

	/* shared memory */
	void *ring_mem;
	size_t ring_bytes;
	uint64_t desc_iova, driver_iova, device_iova;
	struct vring_desc *desc;           /* split */
	struct vring_avail *avail;
	struct vring_used *used;
	struct vring_packed_desc *pdesc;   /* packed */
	struct vring_packed_event *driver_event, *device_event;
	void *indirect_mem;
	size_t indirect_bytes;

	/* driver-side shadow: the only truth about what is in flight */
	struct vq_slot *slots;             /* by id: split head, packed buffer id */
	uint16_t *free_next;               /* split descriptor free list / packed id stack */
	uint16_t free_head;
	uint32_t num_free;                 /* ring descriptors free */
	uint32_t ids_free;                 /* packed: buffer ids free */
	uint32_t inflight;
	uint16_t avail_idx;                /* split: next avail.idx we publish */
	uint16_t last_used;                /* split: next used.idx we expect */
	uint16_t kicked_idx;               /* avail idx at the last notify check */
	/* packed */
	uint16_t next_avail, next_used;    /* ring positions */
	bool avail_wrap, used_wrap;
	uint16_t kicked_pos;
	bool kicked_wrap;
	uint32_t added_since_kick;
	/* The lost-notification watch (virtqueue_notify_lost). */
	bool watch_armed;
	uint32_t watch_event;              /* device's event field at the last look */
	uint64_t watch_completed;          /* completions at the last look */

	/* The transport's doorbell for this queue, found once at set-up so
	 * that a notify is one store (no shared queue_select register). */
	volatile void *notify_addr;
	uint32_t notify_off;               /* its offset, when it is not mapped */

	struct vq_stats stats;
};

/* Allocate rings (through the transport's DMA memory) and the shadow;
 * the queue is not yet known to the device: call ops->setup_queue.
 * Refuses sizes 0, > 32768, and non powers of two for split rings. */
int virtqueue_create(struct virtio_dev *vd, uint16_t index, uint32_t size,
		     bool packed, uint16_t max_indirect, struct virtqueue **out);
void virtqueue_destroy(struct virtqueue *vq);
/* Back to the empty state (after a device or queue reset). */
void virtqueue_reinit(struct virtqueue *vq);
/* Post one request: out buffers first, then in (write) buffers.  Returns
 * the id, OSTOR_ERROR_BUSY when the ring is full, OSTOR_ERROR_IO when
 * the queue is broken. */
int virtqueue_add(struct virtqueue *vq, const struct vq_buf *bufs, int nout,
		  int nin, void *cookie);
/* Whether the device wants a notification for what was added since the
 * last call (event idx / suppression rules); resets the batch. */
bool virtqueue_kick_prepare(struct virtqueue *vq);
void virtqueue_notify(struct virtqueue *vq);
/* The lost-notification watch, for a queue that made no progress since
 * the caller's previous look (call it at most every millisecond or so,
 * while requests are in flight).  True when the device looks idle and
 * waiting for a notification of requests it has not taken: the event
 * index it published is behind what we published (or, without event
 * index, notifications are enabled) and neither that index nor the
 * completions moved since the previous look.  The caller then notifies
 * again, which is harmless when it was not needed.  Why a notification
 * can be lost with both sides correct on paper: QEMU before 8.1 under
 * single-vCPU TCG drops the guest's memory fences, so our "publish
 * avail.idx, fence, read avail_event" and its "write avail_event, fence,
 * read avail.idx" can cross; real devices can drop a doorbell too. */
bool virtqueue_notify_lost(struct virtqueue *vq);
/* One used element: 1 with *cookie and the clamped *len (and *clamped
 * set when the device claimed more than the writable buffer), 0 when
 * none, OSTOR_ERROR_PROTOCOL when the device broke the ring (the queue is
 * then marked broken; use virtqueue_detach to fail what is in flight). */
int virtqueue_get(struct virtqueue *vq, void **cookie, uint32_t *len, bool *clamped);
/* Any used element pending (cheap check, no validation). */
bool virtqueue_has_used(struct virtqueue *vq);
/* Take back every in-flight cookie (after broken/reset): returns the next
 * one or NULL; the slots become free. */
void *virtqueue_detach(struct virtqueue *vq);
/* Interrupt suppression: enable (interrupt mode) or disable (polling). */
void virtqueue_set_interrupts(struct virtqueue *vq, bool on);
/* Interrupt mode, after a poll pass: ask for the next interrupt once
 * batch more requests completed (at most what is in flight, so that one
 * always comes; batch 1: the next completion).  Event idx does the
 * counting on the device side; without it every completion interrupts.
 * Returns true when used elements are already waiting, whose interrupt
 * may have been missed: poll again. */
bool virtqueue_arm_interrupts(struct virtqueue *vq, unsigned int batch);
void virtqueue_mark_broken(struct virtqueue *vq, const char *fmt, ...) OSTOR_PRINTF(2, 3);
/* The shadow cookie of id, for cancel look-ups. */
static inline void *virtqueue_cookie(struct virtqueue *vq, uint32_t id)
{
	return id < vq->size ? vq->slots[id].cookie : NULL;
}

/* A ring field between the CPU's byte order and little endian, either
 * way (the swap is its own inverse): the value to store in a ring field,
 * or the value of one read from it.  Identity on little-endian CPUs. */
static inline uint16_t vq_le16(uint16_t v) { return htole16(v); }
static inline uint32_t vq_le32(uint32_t v) { return htole32(v); }
static inline uint64_t vq_le64(uint64_t v) { return htole64(v); }

/* The ring indexes and flags the other side polls: one atomic access of
 * the field (acquire, release), the value in CPU order - converted after
 * the load, before the store.  Pass them CPU values, never vq_le16's. */
static inline uint16_t vq_load16(const volatile uint16_t *p)
{
	return le16toh(__atomic_load_n(p, __ATOMIC_ACQUIRE));
}
static inline void vq_store16(volatile uint16_t *p, uint16_t v)
{
	__atomic_store_n(p, htole16(v), __ATOMIC_RELEASE);
}

#endif /* OSTOR_VIRTIO_VIRTIO_H */
