/*
 * lib/virtio/scsi_events.c - the virtio-scsi event queue and the topology
 * it reports: LUNs removed and added, parameter changes, missed events;
 * absent targets, removed LUNs and detached targets, which the submission
 * path consults; and the poll of the control and event queues (task
 * management answers, events).
 */
#include "virtio/scsi_priv.h"
#include "util/byteorder.h"

#include <stdlib.h>
#include <string.h>

/* ---- topology: absent targets, removed LUNs, detached targets ------------- */

void vscsi_topo_update_any(struct vscsi_dev *vs)
{
	bool any = vs->ngone > 0;

	for (size_t i = 0; i < sizeof(vs->absent) && !any; i++)
		any = vs->absent[i] || vs->detached[i];
	atomic_store(&vs->topo_any, any);
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
	vscsi_topo_update_any(vs);
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
	vscsi_topo_update_any(vs);
	pthread_mutex_unlock(&vs->topo_lock);
	bump_generation(vs);
}

void vscsi_target_detach(struct vscsi_dev *vs, uint32_t target)
{
	pthread_mutex_lock(&vs->topo_lock);
	bit_set(vs->detached, target, true);
	vscsi_topo_update_any(vs);
	pthread_mutex_unlock(&vs->topo_lock);
	bump_generation(vs);
}

void vscsi_topo_forget_all(struct vscsi_dev *vs)
{
	pthread_mutex_lock(&vs->topo_lock);
	memset(vs->absent, 0, sizeof(vs->absent));
	vs->ngone = 0;
	vscsi_topo_update_any(vs);
	pthread_mutex_unlock(&vs->topo_lock);
}

/* The block helpers cache capacities: make them read again. */
void vscsi_invalidate_lun_cache(struct vscsi_dev *vs, bool all, uint32_t target, uint32_t lun)
{
	ostor_device *dev = vs->dev;

	pthread_mutex_lock(&dev->lock);
	for (size_t i = 0; i < dev->nluns; i++)
		if (all || (dev->luns[i].target == target && dev->luns[i].lun == lun))
			dev->luns[i].known = false;
	pthread_mutex_unlock(&dev->lock);
}

/* Give event buffer i (back) to the device. */
int vscsi_post_event(struct vscsi_dev *vs, unsigned int i)
{
	struct vq_buf b = {
		.iova = vs->events_iova + (uint64_t)i * VIRTIO_SCSI_EVENT_SIZE,
		.len = VIRTIO_SCSI_EVENT_SIZE,
		.write = true,
	};

	memset(vs->events + i * VIRTIO_SCSI_EVENT_SIZE, 0, VIRTIO_SCSI_EVENT_SIZE);
	return virtqueue_add(vs->eventq, &b, 0, 1, vs->events + i * VIRTIO_SCSI_EVENT_SIZE);
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
		vscsi_topo_forget_all(vs);
		vscsi_invalidate_lun_cache(vs, true, 0, 0);
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
			vscsi_invalidate_lun_cache(vs, false, target, lun);
			ostori_post_event(vs->dev, OSTOR_EVENT_LUN_REMOVED, target, lun, 0, 0);
		} else if (reason == VIRTIO_SCSI_EVT_RESET_RESCAN) {
			ostor_info(vs->dev->ctx, "%s: target %u LUN %u appeared", vs->vd->name, target, lun);
			stat_inc(vs, &vs->st.rescans);
			mark_lun_gone(vs, target, lun, false);
			vscsi_invalidate_lun_cache(vs, false, target, lun);
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
			vscsi_invalidate_lun_cache(vs, false, target, lun);
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

int vscsi_poll_ctrl(struct vscsi_dev *vs)
{
	void *cookie;
	uint32_t len;
	bool clamped, again;
	int r = 0, n = 0, pass = 0;

	pthread_mutex_lock(&vs->ctrl_lock);
	do {
		/* Bounded per pass like the request queues: a device that hands
		 * each reposted event buffer straight back would otherwise
		 * keep this call for itself. */
		int budget = n + VSCSI_POLL_BUDGET;

		while (n < budget && (r = virtqueue_get(vs->ctrlq, &cookie, &len, &clamped)) > 0) {
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
			vscsi_request_reset(vs, vs->ctrlq->broken_why);
		while (n < budget && (r = virtqueue_get(vs->eventq, &cookie, &len, &clamped)) > 0) {
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
			if (vscsi_post_event(vs, i) < 0)
				break;
			n++;
		}
		if (r < 0)
			vscsi_request_reset(vs, vs->eventq->broken_why);
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
