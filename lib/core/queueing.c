/*
 * lib/core/queueing.c - software queueing: commands that find their queue
 * full (a virtio ring, the USB engine) wait in the core instead of
 * failing, in the order io_scheduler says, and are submitted again as
 * completions free room.  Waiting costs nothing per command on the fast
 * path: the lists are intrusive and only touched when a backend answered
 * OSTORI_SUBMIT_FULL.  scsi_max_commands bounds what a device holds in
 * flight plus waiting.
 */
#include "core/backend.h"

#include <string.h>

/* Tasks the device holds (in flight or waiting), summed without locks. */
unsigned int ostori_device_held(const ostor_device *dev)
{
	return __atomic_load_n(&dev->inflight, __ATOMIC_RELAXED) + ostori_device_channels_inflight(dev);
}

int ostori_waitq_park(ostor_device *dev, struct ostori_waitq *q, ostor_task *t)
{
	ostor_task **pp;
	unsigned int held;

	if (dev->max_commands && (held = ostori_device_held(dev)) > dev->max_commands)
		return ostori_error(OSTOR_ERROR_BUSY, "%s: %u commands are in flight or waiting, the limit "
				    "(%s = %u); wait for some to complete or raise the limit in orionstor.conf",
				    dev->spec, held - 1, dev->max_commands_key ? dev->max_commands_key
				    : "scsi_max_commands", dev->max_commands);
	t->waiting = true;
	ostori_stats_event(dev, queue_full_waits);
	t->wait_deadline_ms = ostori_now_ms() + t->timeout_ms;
	t->wait_next = NULL;
	if (dev->io_scheduler == OSTORI_IO_SCHED_DEADLINE) {
		/* Nearest timeout first; equal ones in arrival order. */
		for (pp = &q->head; *pp && (*pp)->wait_deadline_ms <= t->wait_deadline_ms;
		     pp = &(*pp)->wait_next)
			;
		t->wait_next = *pp;
		*pp = t;
		if (!t->wait_next)
			q->tail = t;
	} else {
		if (q->tail)
			q->tail->wait_next = t;
		else
			q->head = t;
		q->tail = t;
	}
	q->n++;
	return 0;
}

ostor_task *ostori_waitq_pop(struct ostori_waitq *q)
{
	ostor_task *t = q->head;

	if (!t)
		return NULL;
	q->head = t->wait_next;
	if (!q->head)
		q->tail = NULL;
	t->wait_next = NULL;
	t->waiting = false;
	q->n--;
	return t;
}

void ostori_waitq_push_front(struct ostori_waitq *q, ostor_task *t)
{
	t->waiting = true;
	t->wait_next = q->head;
	q->head = t;
	if (!q->tail)
		q->tail = t;
	q->n++;
}

bool ostori_waitq_remove(struct ostori_waitq *q, ostor_task *t)
{
	ostor_task *prev = NULL;

	for (ostor_task *i = q->head; i; prev = i, i = i->wait_next) {
		if (i != t)
			continue;
		if (prev)
			prev->wait_next = t->wait_next;
		else
			q->head = t->wait_next;
		if (q->tail == t)
			q->tail = prev;
		t->wait_next = NULL;
		t->waiting = false;
		q->n--;
		return true;
	}
	return false;
}

/* A waiting task that cannot be submitted any more ends here (it never
 * reached the device, so nothing about it is indeterminate). */
static void end_waiting(ostor_task *t, int err)
{
	enum ostor_result res = err == OSTOR_ERROR_NO_DEVICE ? OSTOR_RESULT_DEVICE_GONE
			      : err == OSTOR_ERROR_TIMEOUT ? OSTOR_RESULT_TIMEOUT
			      : OSTOR_RESULT_TRANSPORT_ERROR;

	if (err != OSTOR_ERROR_TIMEOUT)
		ostor_warn(t->dev->ctx, "%s: a queued command could not be submitted: %s", t->dev->spec,
			   ostor_last_error());
	ostori_task_finish(t, res, -1, NULL, 0, 0);
}

/* Submit one waiting task again.  true: go on with the next one. */
static bool resubmit(ostor_task *t, uint64_t *now)
{
	int r;

	if (!*now)
		*now = ostori_now_ms();
	if (*now > t->wait_deadline_ms) {
		end_waiting(t, OSTOR_ERROR_TIMEOUT);
		return true;
	}
	r = ostori_backend_submit(t);
	if (r == OSTORI_SUBMIT_FULL)
		return false;
	if (r < 0)
		end_waiting(t, r);
	return true;
}

void ostori_waitq_run(struct ostori_waitq *q)
{
	uint64_t now = 0;
	ostor_task *t;

	while ((t = ostori_waitq_pop(q)) != NULL) {
		if (!resubmit(t, &now)) {
			ostori_waitq_push_front(q, t);
			break;
		}
	}
}

/* A task is off the list while it is submitted again, without the lock:
 * a completion delivered then (ostori_task_deliver) finds the list empty
 * and would run nothing, and if it was the last one in flight the task,
 * refused and put back, would wait for a delivery that never comes.  So
 * such a delivery leaves a note (waitq_room) and the task is tried once
 * more. */
void ostori_device_waitq_run(ostor_device *dev)
{
	uint64_t now = 0;
	bool taken = false;

	for (;;) {
		ostor_task *t;
		bool again;

		pthread_mutex_lock(&dev->lock);
		if (taken)
			dev->waitq_taken--;
		/* A flush holds them back until it ends. */
		t = dev->paused ? NULL : ostori_waitq_pop(&dev->waitq);
		taken = t != NULL;
		if (taken)
			dev->waitq_taken++;
		pthread_mutex_unlock(&dev->lock);
		if (!t)
			return;
		if (resubmit(t, &now))
			continue;
		pthread_mutex_lock(&dev->lock);
		ostori_waitq_push_front(&dev->waitq, t);
		dev->waitq_taken--;
		again = dev->waitq_room;
		dev->waitq_room = false;
		pthread_mutex_unlock(&dev->lock);
		if (!again)
			return;
		taken = false;
	}
}

int ostori_device_park(ostor_device *dev, ostor_task *t)
{
	int r;

	pthread_mutex_lock(&dev->lock);
	r = ostori_waitq_park(dev, &dev->waitq, t);
	pthread_mutex_unlock(&dev->lock);
	/* Room freed meanwhile would wake nobody: look once more. */
	if (r == 0)
		ostori_device_waitq_run(dev);
	return r;
}
