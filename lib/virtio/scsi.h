/*
 * lib/virtio/scsi.h - the virtio-scsi driver on top of the virtio core:
 * request, control and event queues, shared by the PCI backend and the
 * simulated device (sim:transport=virtio).
 */
#ifndef OSTOR_VIRTIO_SCSI_H
#define OSTOR_VIRTIO_SCSI_H

#include "core/backend.h"
#include "virtio/config.h"
#include "virtio/virtio.h"

#include <stdio.h>

/* virtio-scsi wire format (5.6) */
#define VIRTIO_SCSI_CDB_DEFAULT 32
#define VIRTIO_SCSI_SENSE_DEFAULT 96

#define VIRTIO_SCSI_S_OK 0
#define VIRTIO_SCSI_S_OVERRUN 1
#define VIRTIO_SCSI_S_ABORTED 2
#define VIRTIO_SCSI_S_BAD_TARGET 3
#define VIRTIO_SCSI_S_RESET 4
#define VIRTIO_SCSI_S_BUSY 5
#define VIRTIO_SCSI_S_TRANSPORT_FAILURE 6
#define VIRTIO_SCSI_S_TARGET_FAILURE 7
#define VIRTIO_SCSI_S_NEXUS_FAILURE 8
#define VIRTIO_SCSI_S_FAILURE 9
#define VIRTIO_SCSI_S_FUNCTION_SUCCEEDED 10
#define VIRTIO_SCSI_S_FUNCTION_REJECTED 11
#define VIRTIO_SCSI_S_INCORRECT_LUN 12

#define VIRTIO_SCSI_T_TMF 0
#define VIRTIO_SCSI_T_TMF_ABORT_TASK 0
#define VIRTIO_SCSI_T_TMF_I_T_NEXUS_RESET 4
#define VIRTIO_SCSI_T_TMF_LOGICAL_UNIT_RESET 5

#define VIRTIO_SCSI_T_NO_EVENT 0
#define VIRTIO_SCSI_T_TRANSPORT_RESET 1
#define VIRTIO_SCSI_T_ASYNC_NOTIFY 2
#define VIRTIO_SCSI_T_PARAM_CHANGE 3
#define VIRTIO_SCSI_T_EVENTS_MISSED 0x80000000u
#define VIRTIO_SCSI_EVT_RESET_HARD 0
#define VIRTIO_SCSI_EVT_RESET_RESCAN 1
#define VIRTIO_SCSI_EVT_RESET_REMOVED 2

#define VIRTIO_SCSI_REQ_HDR 19          /* lun, tag, attr, prio, crn */
#define VIRTIO_SCSI_RESP_HDR 12         /* sense_len, resid, sq, status, response */
#define VIRTIO_SCSI_TMF_REQ 24
#define VIRTIO_SCSI_TMF_RESP 1
#define VIRTIO_SCSI_EVENT_SIZE 16

struct virtio_scsi_config {
	uint32_t num_queues;
	uint32_t seg_max;
	uint32_t max_sectors;
	uint32_t cmd_per_lun;
	uint32_t event_info_size;
	uint32_t sense_size;
	uint32_t cdb_size;
	uint16_t max_channel;
	uint16_t max_target;
	uint32_t max_lun;
} __attribute__((packed));

/* {1, target, (lun >> 8) | 0x40, lun & 0xff, 0...} */
static inline void virtio_scsi_lun(uint8_t out[8], uint32_t target, uint32_t lun)
{
	out[0] = 1;
	out[1] = (uint8_t)target;
	out[2] = (uint8_t)(((lun >> 8) & 0x3f) | (lun > 0xff ? 0x40 : 0));
	out[3] = (uint8_t)lun;
	out[4] = out[5] = out[6] = out[7] = 0;
}

struct vscsi_options {
	int ring;                   /* 0 config queue_ring, 1 force split, 2 force packed */
	unsigned int queues;        /* request queues wanted; 0: config queue_count */
	unsigned int depth;         /* 0: config queue_depth (capped by the device) */
	int mode;                   /* 0 config queue_completion, 1 polled, 2 interrupt */
	bool no_indirect, no_event_idx;
	unsigned int tmf_timeout_ms;   /* 0: 1000 */
	unsigned int busy_backoff_ms;  /* 0: 1 (doubles per retry) */
	size_t bounce_bytes;        /* per request; 0: no bouncing (identity DMA) */
};

struct vscsi_dev;

/* Negotiate, read the config, set up queues and start the device. */
int vscsi_open(ostor_device *dev, struct virtio_dev *vd, const struct vscsi_options *opt,
	       struct vscsi_dev **out);
/* Reset the device (nothing in flight any more) and free. */
void vscsi_close(struct vscsi_dev *vs);
int vscsi_submit(struct vscsi_dev *vs, ostor_task *t);
int vscsi_cancel(struct vscsi_dev *vs, ostor_task *t);
int vscsi_poll(struct vscsi_dev *vs);
/* Descriptors the calling thread's event loop waits on (see
 * ostor_get_pollfds); returns how many, filling at most max. */
int vscsi_pollfds(struct vscsi_dev *vs, struct pollfd *fds, int max);
bool vscsi_interrupts(const struct vscsi_dev *vs);
int vscsi_next_timeout(struct vscsi_dev *vs);
/* Device reset and re-initialisation (in-flight requests: aborted). */
int vscsi_reset(struct vscsi_dev *vs, const char *why);
int vscsi_queue_reset(struct vscsi_dev *vs, unsigned int index);
/* ostor_reset: LOGICAL UNIT RESET / I_T NEXUS RESET (waiting for the
 * answer), a device reset when refused, unanswered, or asked for. */
int vscsi_reset_level(struct vscsi_dev *vs, enum ostor_reset_level level, uint32_t target, uint32_t lun);
struct virtio_dev *vscsi_virtio(struct vscsi_dev *vs);

/* Driver-side counters (tests and tools). */
struct vscsi_stats {
	uint64_t resets, busy_retries, tmfs, tmf_rejected, escalations;
	uint64_t events, events_missed, rescans, removed, param_changes, short_events;
	uint64_t sense_clamped, resid_clamped, len_clamped, bad_response;
	uint64_t interrupts, spurious_interrupts, topology_generation;
	uint64_t bounced;             /* summed over the request queues */
};
void vscsi_get_stats(struct vscsi_dev *vs, struct vscsi_stats *out);
/* The driver's and its virtqueues' counters (a backend's counters op). */
int vscsi_counters(struct vscsi_dev *vs, struct ostor_counter *out, int max);
/* Diagnostics (a hang report): every request slot, descriptor and TMF
 * slot the driver holds, read without locks (a snapshot, racy). */
void vscsi_debug_dump(struct vscsi_dev *vs, FILE *f);
/* [p, p + len) is reachable by the device without a copy. */
bool vscsi_is_dma(struct vscsi_dev *vs, const void *p, size_t len);
/* Whether the target/LUN was reported removed (and not back since). */
bool vscsi_lun_gone(struct vscsi_dev *vs, uint32_t target, uint32_t lun);
/* Forget what is known about a target (absent, removed LUNs): the next
 * commands go to the device again. */
void vscsi_target_rescan(struct vscsi_dev *vs, uint32_t target);
/* Refuse new commands to target (OSTOR_RESULT_DEVICE_GONE) until rescan. */
void vscsi_target_detach(struct vscsi_dev *vs, uint32_t target);

/* Introspection for the public ostor_virtio_* API. */
struct ostor_virtio_device_info;
struct ostor_virtio_queue_info;
void vscsi_device_info(struct vscsi_dev *vs, struct ostor_virtio_device_info *info);
int vscsi_queue_count(struct vscsi_dev *vs);
int vscsi_queue_info(struct vscsi_dev *vs, unsigned int index, struct ostor_virtio_queue_info *qi);
int vscsi_queue_acquire(struct vscsi_dev *vs, int index);
void vscsi_queue_release(struct vscsi_dev *vs);
/* The owner's poll of its own queue (lock-free); OSTOR_ERROR_STATE when
 * the calling thread holds no queue of vs. */
int vscsi_queue_poll(struct vscsi_dev *vs);

/* The vscsi_dev behind an open device (virtio: or sim:transport=virtio),
 * NULL for others.  Defined by lib/virtio/api.c from the two lookups. */
struct vscsi_dev *ostori_vscsi_of(ostor_device *dev);
struct vscsi_dev *ostori_sim_virtio_vscsi(ostor_device *dev);
struct vscsi_dev *ostori_pci_virtio_vscsi(ostor_device *dev);

#endif /* OSTOR_VIRTIO_SCSI_H */
