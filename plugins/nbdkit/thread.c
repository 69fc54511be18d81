/*
 * plugins/nbdkit/thread.c - each nbdkit worker thread owns a queue.
 *
 * The thread model is PARALLEL: nbdkit runs requests on several worker
 * threads per connection.  The first time a worker calls in, it acquires
 * a queue of the device (ostor_queue_acquire, "Queues owned by threads"
 * in liborionstor(3)): from then on its commands go to that queue and are
 * submitted and reaped without a lock, as the library's fast path wants.
 * Workers take queues while more than one is left unowned (nbdkit starts
 * 16 workers per connection; a USB device has one queue); the others use
 * the shared path, which works the same behind a lock on the last
 * unowned queue.  The state is a thread-local pointer, so the
 * data path pays one load for it; a key destructor gives the queue and
 * the task back when nbdkit ends the thread.
 *
 * Copyright (C) 2026 The liborionstor authors.  LGPL-2.1-or-later.
 */
#include "plugin.h"

#include <errno.h>
#include <stdlib.h>

#define NBDKIT_API_VERSION 2
#include <nbdkit-plugin.h>

static _Thread_local struct onbd_thread *self;
static pthread_key_t exit_key;
static pthread_once_t exit_once = PTHREAD_ONCE_INIT;

static void thread_free(struct onbd_thread *t)
{
	if (t->task)
		ostor_task_free(t->task);
	/* ostor_close refuses while another thread holds a queue; nbdkit
	 * ends its workers before unload, and this runs as each one ends. */
	if (t->queue >= 0 && onbd.dev) {
		ostor_queue_release(onbd.dev);
		atomic_fetch_sub(&onbd.owned, 1);
	}
	free(t->block);
	free(t);
}

/* The thread is ending: self is not cleared, since its thread-local
 * block (dynamic TLS of a dlopen()ed plugin) is freed by another thread
 * right after, and a write to it here would race with that free. */
static void thread_exit(void *p)
{
	thread_free(p);
}

static void make_key(void)
{
	pthread_key_create(&exit_key, thread_exit);
}

static struct onbd_thread *thread_new(void)
{
	struct onbd_thread *t = calloc(1, sizeof(*t));
	int r, nq;

	if (!t) {
		nbdkit_error("out of memory for the state of a worker thread");
		errno = ENOMEM;
		return NULL;
	}
	t->queue = -1;
	r = ostor_task_new(onbd.dev, &t->task);
	if (r < 0) {
		free(t);
		onbd_fail(r, false, "cannot make a task for a worker thread");
		return NULL;
	}
	/* One queue always stays unowned: once every queue of a device is
	 * held, the library refuses (OSTOR_ERROR_BUSY) the tasks of threads
	 * that hold none (virtio-scsi), and nbdkit runs more workers than a
	 * device has queues.  So a one-queue device is all shared path. */
	nq = ostor_queue_count(onbd.dev);
	if (nq > 1 && atomic_fetch_add(&onbd.owned, 1) < nq - 1) {
		r = ostor_queue_acquire(onbd.dev, -1);
		if (r >= 0) {
			t->queue = r;
		} else {
			atomic_fetch_sub(&onbd.owned, 1);
			nbdkit_debug("orionstor: no queue for this thread (%s: %s); it uses the shared path",
				     ostor_error_name(r), ostor_last_error());
		}
	} else {
		if (nq > 1)
			atomic_fetch_sub(&onbd.owned, 1);
		nbdkit_debug("orionstor: %s: the last unowned queue stays shared; this thread uses the shared path",
			     ostor_device_spec(onbd.dev));
	}
	pthread_once(&exit_once, make_key);
	pthread_setspecific(exit_key, t);
	self = t;
	return t;
}

struct onbd_thread *onbd_thread(void)
{
	if (__builtin_expect(self != NULL, 1))
		return self;
	return thread_new();
}

void onbd_thread_exit_self(void)
{
	if (!self)
		return;
	pthread_setspecific(exit_key, NULL);
	thread_free(self);
	self = NULL;
}

int onbd_exec(struct onbd_thread *t, const struct onbd_lun *L, const uint8_t *cdb, size_t cdb_len,
	      enum ostor_dir dir, void *buf, size_t len, size_t *transferred)
{
	int r;

	if (transferred)
		*transferred = 0;
	r = ostor_task_prepare(t->task, L->target, L->lun, cdb, cdb_len, dir, buf, len);
	if (r == 0)
		r = ostor_task_execute(t->task);
	if (r == 0) {
		if (transferred)
			*transferred = ostor_task_transferred(t->task);
		r = ostor_task_error(t->task);
	}
	return r;
}
