/*
 * lib/virtio/scsi_tmf.c - virtio-scsi task management on the control
 * queue: the escalation a timeout or a cancel starts (ABORT TASK, LOGICAL
 * UNIT RESET, I_T NEXUS RESET, then a device reset), and the application's
 * resets (ostor_reset).
 *
 * A task management function never completes a request: the command
 * still comes back through the used ring, or a device reset takes it
 * back (the completion rule of scsi.c).
 */
#include "virtio/scsi_priv.h"
#include "util/byteorder.h"

#include <sched.h>
#include <string.h>

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
		vscsi_request_reset(vs, "task management did not get a command back");
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
void vscsi_scan_queue(struct vscsi_dev *vs, struct vscsi_queue *q, uint64_t now)
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
