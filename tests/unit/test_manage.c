/*
 * tests/unit/test_manage.c - live management from another thread: the
 * commands in flight on owned queues and the shared path, abort by tag, a
 * queue owner that does not answer, flushing a queue.  A command to the
 * sim device's held block (hold=LBA) stays in flight until aborted.
 */
#include "core/backend.h"

#include <check.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

static ostor_context *ctx;

static void setup(void)
{
	ck_assert_int_eq(ostor_init(&ctx, ""), 0);
	ostor_set_log_level(ctx, OSTOR_LOG_NONE);
}

static void teardown(void)
{
	ostor_exit(ctx);
	ctx = NULL;
}

static const uint8_t rd_held[10] = { 0x28, 0, 0, 0, 0, 5, 0, 0, 1, 0 };  /* LBA 5 */
static const uint8_t rd_other[10] = { 0x28, 0, 0, 0, 0, 9, 0, 0, 1, 0 };

/* A thread that owns a queue: submits a held read, then polls until it
 * completes (or, silent, waits without polling until told to go on). */
struct owner {
	ostor_device *dev;
	bool silent;
	atomic_int queue;          /* -1 until acquired and submitted */
	atomic_bool go_on;
	enum ostor_result result;
	uint8_t buf[512];
};

static void *owner_main(void *arg)
{
	struct owner *o = arg;
	ostor_task *t;
	int q = ostor_queue_acquire(o->dev, -1);

	ck_assert_int_ge(q, 0);
	ck_assert_int_eq(ostor_task_new(o->dev, &t), 0);
	ck_assert_int_eq(ostor_task_prepare(t, 0, 0, rd_held, 10, OSTOR_DIR_FROM_DEVICE, o->buf, 512), 0);
	ck_assert_int_eq(ostor_task_submit(t, (struct ostor_completion){ 0 }), 0);
	atomic_store(&o->queue, q);
	if (o->silent) {
		while (!atomic_load(&o->go_on))
			sched_yield();
	}
	while (ostor_task_result(t) == OSTOR_RESULT_PENDING)
		ck_assert_int_ge(ostor_queue_poll(o->dev), 0);
	o->result = ostor_task_result(t);
	ostor_task_free(t);
	ostor_queue_release(o->dev);
	return NULL;
}

static void start_owner(struct owner *o, pthread_t *th)
{
	atomic_store(&o->queue, -1);
	ck_assert_int_eq(pthread_create(th, NULL, owner_main, o), 0);
	while (atomic_load(&o->queue) < 0)
		sched_yield();
}

START_TEST(list_and_abort_by_tag)
{
	ostor_device *dev;
	struct owner o = { 0 };
	struct ostori_cmd_list l;
	ostor_task *shared;
	uint8_t buf[512];
	pthread_t th;
	uint64_t owned_tag = 0, shared_tag = 0;

	ck_assert_int_eq(ostor_open(ctx, "sim:size=1M,hold=5", &dev), 0);
	o.dev = dev;
	start_owner(&o, &th);
	/* One on the shared path too. */
	ck_assert_int_eq(ostor_task_new(dev, &shared), 0);
	ck_assert_int_eq(ostor_task_prepare(shared, 0, 0, rd_held, 10, OSTOR_DIR_FROM_DEVICE, buf, 512), 0);
	ck_assert_int_eq(ostor_task_submit(shared, (struct ostor_completion){ 0 }), 0);

	ck_assert_int_eq(ostori_manage_commands(dev, &l, 16, 5000), 0);
	ck_assert_uint_eq(l.n, 2);
	ck_assert_uint_eq(l.queues_silent, 0);
	for (size_t i = 0; i < l.n; i++) {
		ck_assert_uint_eq(l.cmds[i].cdb[0], 0x28);
		ck_assert_uint_eq(l.cmds[i].cdb_len, 10);
		ck_assert_uint_ne(l.cmds[i].tag, 0);
		ck_assert(!l.cmds[i].waiting && !l.cmds[i].cancelling);
		ck_assert_int_eq(l.cmds[i].age_ns, -1);      /* histograms off */
		if (l.cmds[i].queue < 0)
			shared_tag = l.cmds[i].tag;
		else
			owned_tag = l.cmds[i].tag;
		ck_assert(l.cmds[i].queue == -1 || l.cmds[i].queue == atomic_load(&o.queue));
	}
	ck_assert(owned_tag && shared_tag && owned_tag != shared_tag);
	free(l.cmds);
	/* Listed again: the same tags. */
	ck_assert_int_eq(ostori_manage_commands(dev, &l, 1, 5000), 0);
	ck_assert_uint_eq(l.n, 2);               /* counted beyond the cap */
	ck_assert(l.cmds[0].tag == owned_tag || l.cmds[0].tag == shared_tag);
	free(l.cmds);

	ck_assert_int_eq(ostori_manage_abort(dev, owned_tag, 5000), OSTOR_TMF_DONE);
	pthread_join(th, NULL);
	ck_assert_int_eq(o.result, OSTOR_RESULT_ABORTED);
	ck_assert_int_eq(ostori_manage_abort(dev, owned_tag, 1000), OSTOR_ERROR_NOT_FOUND);
	ck_assert_int_eq(ostori_manage_abort(dev, 0, 1000), OSTOR_ERROR_NOT_FOUND);
	ck_assert_int_eq(ostori_manage_abort(dev, (uint64_t)77 << 48 | 1, 1000), OSTOR_ERROR_NOT_FOUND);

	/* The shared one: completes once this thread handles events. */
	ck_assert_int_eq(ostori_manage_abort(dev, shared_tag, 1), OSTOR_TMF_UNKNOWN);
	while (ostor_task_result(shared) == OSTOR_RESULT_PENDING)
		ck_assert_int_ge(ostor_handle_events(ctx, 100), 0);
	ck_assert_int_eq(ostor_task_result(shared), OSTOR_RESULT_ABORTED);
	ck_assert_int_eq(ostori_manage_commands(dev, &l, 16, 5000), 0);
	ck_assert_uint_eq(l.n, 0);
	free(l.cmds);
	ck_assert_int_eq(ostor_task_free(shared), 0);
	ck_assert_int_eq(ostor_close(dev), 0);
}
END_TEST

/* An owner that does not poll is reported, not waited for. */
START_TEST(silent_owner)
{
	ostor_device *dev;
	struct owner o = { .silent = true };
	struct ostori_cmd_list l;
	pthread_t th;

	ck_assert_int_eq(ostor_open(ctx, "sim:size=1M,hold=5", &dev), 0);
	o.dev = dev;
	start_owner(&o, &th);
	ck_assert_int_eq(ostori_manage_commands(dev, &l, 16, 200), 0);
	ck_assert_uint_eq(l.n, 0);
	ck_assert_uint_eq(l.queues_silent, 1);
	free(l.cmds);
	ck_assert_int_eq(ostori_manage_abort(dev, (uint64_t)(atomic_load(&o.queue) + 1) << 48 | 1, 200),
			 OSTOR_ERROR_TIMEOUT);
	atomic_store(&o.go_on, true);
	/* Polling again, it answers. */
	ck_assert_int_eq(ostori_manage_commands(dev, &l, 16, 5000), 0);
	ck_assert_uint_eq(l.n, 1);
	ck_assert_int_eq(ostori_manage_abort(dev, l.cmds[0].tag, 5000), OSTOR_TMF_DONE);
	free(l.cmds);
	pthread_join(th, NULL);
	ck_assert_int_eq(o.result, OSTOR_RESULT_ABORTED);
	ck_assert_int_eq(ostor_close(dev), 0);
}
END_TEST

/* Flush: waits for the commands at the device, holds new ones back
 * meanwhile, and lets them go after. */
struct flusher {
	ostor_device *dev;
	int queue, timeout_ms, r;
	struct ostori_flush_report rep;
};

static void *flush_main(void *arg)
{
	struct flusher *f = arg;

	f->r = ostori_manage_flush(f->dev, f->queue, f->timeout_ms, &f->rep);
	return NULL;
}

START_TEST(flush_queue)
{
	ostor_device *dev;
	struct owner o = { 0 };
	struct ostori_flush_report rep;
	struct flusher f = { .queue = -1, .timeout_ms = 30000 };
	ostor_task *held, *later;
	uint8_t a[512], b[512];
	pthread_t th, ft;

	ck_assert_int_eq(ostor_open(ctx, "sim:size=1M,hold=5", &dev), 0);
	/* An owned queue with a held command: the flush times out. */
	o.dev = dev;
	start_owner(&o, &th);
	ck_assert_int_eq(ostori_manage_flush(dev, atomic_load(&o.queue), 200, &rep), 0);
	ck_assert(rep.timed_out);
	ck_assert_uint_eq(rep.inflight_before, 1);
	ck_assert_uint_eq(rep.remaining, 1);
	ck_assert_uint_ge(rep.waited_ns, 200000000u);
	{
		struct ostori_cmd_list l;

		ck_assert_int_eq(ostori_manage_commands(dev, &l, 4, 5000), 0);
		ck_assert_uint_eq(l.n, 1);
		ck_assert_int_eq(ostori_manage_abort(dev, l.cmds[0].tag, 5000), OSTOR_TMF_DONE);
		free(l.cmds);
	}
	pthread_join(th, NULL);
	/* Nothing in flight: done at once. */
	ck_assert_int_eq(ostori_manage_flush(dev, 0, 5000, &rep), 0);
	ck_assert(!rep.timed_out);
	ck_assert_uint_eq(rep.inflight_before, 0);
	ck_assert_int_eq(ostori_manage_flush(dev, 99, 100, &rep), OSTOR_ERROR_INVALID_PARAM);

	/* The shared path: a held command keeps the flush waiting; a command
	 * submitted meanwhile waits too; aborting the held one ends the
	 * flush, and the waiting one goes. */
	ck_assert_int_eq(ostor_task_new(dev, &held), 0);
	ck_assert_int_eq(ostor_task_new(dev, &later), 0);
	ck_assert_int_eq(ostor_task_prepare(held, 0, 0, rd_held, 10, OSTOR_DIR_FROM_DEVICE, a, 512), 0);
	ck_assert_int_eq(ostor_task_submit(held, (struct ostor_completion){ 0 }), 0);
	f.dev = dev;
	ck_assert_int_eq(pthread_create(&ft, NULL, flush_main, &f), 0);
	for (;;) {
		bool paused;

		pthread_mutex_lock(&dev->lock);
		paused = dev->paused;
		pthread_mutex_unlock(&dev->lock);
		if (paused)
			break;
		sched_yield();
	}
	ck_assert_int_eq(ostor_task_prepare(later, 0, 0, rd_other, 10, OSTOR_DIR_FROM_DEVICE, b, 512), 0);
	ck_assert_int_eq(ostor_task_submit(later, (struct ostor_completion){ 0 }), 0);
	ck_assert_int_eq(ostor_task_abort(held), OSTOR_TMF_DONE);
	pthread_join(ft, NULL);
	ck_assert_int_eq(f.r, 0);
	ck_assert(!f.rep.timed_out);
	ck_assert_uint_eq(f.rep.inflight_before, 1);
	ck_assert_uint_eq(f.rep.remaining, 0);
	ck_assert_uint_eq(f.rep.held_back, 1);
	while (ostor_task_result(later) == OSTOR_RESULT_PENDING)
		ck_assert_int_ge(ostor_handle_events(ctx, 100), 0);
	ck_assert_int_eq(ostor_task_result(later), OSTOR_RESULT_GOOD);
	ck_assert_int_eq(ostor_task_free(held), 0);
	ck_assert_int_eq(ostor_task_free(later), 0);
	ck_assert_int_eq(ostor_close(dev), 0);
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("manage");
	TCase *tc = tcase_create("manage");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, list_and_abort_by_tag);
	tcase_add_test(tc, silent_owner);
	tcase_add_test(tc, flush_queue);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
