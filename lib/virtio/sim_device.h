/*
 * lib/virtio/sim_device.h - white-box control of the simulated virtio-scsi
 * device behind sim:transport=virtio: fault injection, events, hot-plug.
 *
 * Spec options of the model (besides the sim's own):
 *   packed              offer VIRTIO_F_RING_PACKED (the driver then uses it)
 *   queues=N            request queues offered (1-16, default 1); the driver
 *                       uses them all
 *   queue-size=N        largest queue size offered (default 128; 0, non
 *                       powers of two and > 32768 test the refusals)
 *   intr                interrupt mode (eventfd) instead of polling
 *   no-indirect, no-event-idx   do not offer these features
 *   ring-reset          offer VIRTIO_F_RING_RESET
 *   timeout=MS          TMF answer timeout of the driver (default 1000)
 *   fault=features-ok | config-generation | early-irq   faults of the
 *                       start-up sequence, which a test cannot reach later
 */
#ifndef OSTOR_SIM_VIRTIO_SIM_H
#define OSTOR_SIM_VIRTIO_SIM_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "orionstor.h"

struct sim_vdev;
struct vscsi_dev;

/* The model behind an open sim:transport=virtio device, else NULL. */
struct sim_vdev *sim_virtio_of(ostor_device *dev);
struct vscsi_dev *sim_virtio_driver(struct sim_vdev *m);

enum sim_virtio_fault {
	SIM_VF_NONE = 0,
	SIM_VF_USED_ID_RANGE,      /* used.id = size + param */
	SIM_VF_USED_ID_TWICE,      /* the element is pushed twice (double completion) */
	SIM_VF_USED_LEN_BIG,       /* used.len = writable + param */
	SIM_VF_USED_IDX_BACK,      /* used.idx moves back by param after the element */
	SIM_VF_USED_IDX_JUMP,      /* used.idx jumps by size + param */
	SIM_VF_PACKED_BAD_WRAP,    /* used descriptor written with the wrong wrap bits */
	SIM_VF_RESPONSE,           /* virtio-scsi response code = param */
	SIM_VF_SENSE_LEN,          /* sense_len field = param (with CHECK CONDITION) */
	SIM_VF_RESID,              /* resid = data length + param */
	SIM_VF_HOLD,               /* do not complete; param: enum sim_virtio_tmf_mode */
	SIM_VF_NEEDS_RESET,        /* set DEVICE_NEEDS_RESET and stall everything */
	SIM_VF_IRQ_STORM,          /* param interrupts with every completion */
	SIM_VF_SHORT_EVENT,        /* the next event is returned with used.len = param */
	SIM_VF_LOST_NOTIFY,        /* the next count notifications of request queues never
				    * arrive; until one does, the device ignores those rings */
};

/* How held commands react to task management. */
enum sim_virtio_tmf_mode {
	SIM_TMF_ANSWER_FIRST = 0,  /* TMF answered, then the command (ABORTED) */
	SIM_TMF_COMMAND_FIRST = 1, /* command (ABORTED) first, then the TMF */
	SIM_TMF_REJECT_ABORT = 2,  /* ABORT TASK: FUNCTION_REJECTED; LU RESET works */
	SIM_TMF_IGNORE = 3,        /* no TMF is ever answered: only a reset helps */
	SIM_TMF_COMPLETE_NOTHING = 4, /* TMFs succeed but the command never returns */
};

/* Apply to the next count requests on request queues (queue -1: any). */
void sim_virtio_inject(struct sim_vdev *m, enum sim_virtio_fault f, unsigned int count,
		       uint32_t param);
void sim_virtio_clear_faults(struct sim_vdev *m);
/* Injected faults with hits left. */
unsigned int sim_virtio_faults_pending(struct sim_vdev *m);
/* Wait until the device thread has taken everything and sleeps until the
 * next notification (tests that need the next one to matter). */
void sim_virtio_wait_idle(struct sim_vdev *m);

/* Tests and fuzzers: the device's answers written by a script instead of
 * the target.  The device thread calls fn (under the model's lock; it
 * must not call into the library) for every command (kind COMMAND: req
 * is the request header and CDB; buf the driver's writable bytes -
 * response header, sense, data-in - up to 8192), every task management
 * function (TMF: req the TMF request; buf the response) and every event
 * it delivers (EVENT: buf holds the event it would send).  fn fills buf
 * and returns the used.len to report (any value: a hostile device), or
 * -1: a command or TMF is never answered (until a device reset), an
 * event goes out unchanged.  NULL: back to normal.  Without a script the
 * model behaves as before. */
enum sim_virtio_script_kind {
	SIM_SCRIPT_COMMAND = 0,
	SIM_SCRIPT_TMF = 1,
	SIM_SCRIPT_EVENT = 2,
};
typedef int64_t (*sim_virtio_script_fn)(void *arg, enum sim_virtio_script_kind kind, const uint8_t *req,
					size_t req_len, uint8_t *buf, size_t buf_len);
void sim_virtio_set_script(struct sim_vdev *m, sim_virtio_script_fn fn, void *arg);

/* Queue an event for the event queue (delivered when a buffer is free;
 * none free: the next one carries EVENTS_MISSED). */
void sim_virtio_post_event(struct sim_vdev *m, uint32_t event, uint32_t target, uint32_t lun,
			   uint32_t reason);
/* Hot-plug a LUN of target 0 (RESCAN event) or remove it (REMOVED event;
 * commands to it then get BAD_TARGET... as QEMU: ILLEGAL REQUEST 25h). */
int sim_virtio_hotplug(struct sim_vdev *m, uint32_t lun, bool add, uint64_t blocks);
/* Resize a LUN and post PARAM_CHANGE 2Ah/09h. */
int sim_virtio_resize(struct sim_vdev *m, uint32_t lun, uint64_t blocks);

struct sim_virtio_stats {
	uint64_t requests, tmfs, tmf_abort, tmf_lun_reset, tmf_nexus_reset;
	uint64_t notifies, interrupts, resets, held, events_delivered;
	uint64_t bad_descriptors;  /* device-side validation failures */
	uint64_t lost_notifies;    /* notifications dropped by SIM_VF_LOST_NOTIFY */
};
void sim_virtio_get_stats(struct sim_vdev *m, struct sim_virtio_stats *out);
/* Every status bit the driver set on the last model freed (tests of
 * failed opens: FAILED set, DRIVER_OK never). */
extern uint8_t sim_virtio_last_status;

/* Requests the device holds right now (SIM_VF_HOLD, stalls). */
unsigned int sim_virtio_held(struct sim_vdev *m);
/* Diagnostics (a hang report): the device's view of its rings, what it
 * holds and the faults still armed. */
void sim_virtio_debug_dump(struct sim_vdev *m, FILE *f);

/* The models of this folder, for sim:transport= (lib/backends.c). */
struct sim_transport_ops;
extern const struct sim_transport_ops *const ostori_sim_virtio_transports[];

#endif /* OSTOR_SIM_VIRTIO_SIM_H */
