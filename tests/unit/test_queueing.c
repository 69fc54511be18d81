/*
 * tests/unit/test_queueing.c - software queueing (lib/core/queueing.c) on
 * the simulated virtio-scsi device: commands that find their ring full
 * wait instead of failing, on owned queues and on the shared path;
 * scsi_max_commands; a waiting command cancelled or timed out never
 * reaches the device; io_scheduler order.
 */
#include "core/backend.h"
#include "virtio/sim_device.h"
#include "virtio/scsi.h"

#include <check.h>
#include <pthread.h>
#include <semaphore.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "virtio_test_util.h"

#define N 96

struct counter {
	int calls, good;
};

static void count_cb(ostor_task *t, void *ud)
{
	struct counter *c = ud;

	c->calls++;
	c->good += ostor_task_result(t) == OSTOR_RESULT_GOOD;
}

static void prep_read(ostor_task *t, uint64_t lba, void *buf, size_t len)
{
	uint8_t cdb[10] = { 0x28, 0, (uint8_t)(lba >> 24), (uint8_t)(lba >> 16), (uint8_t)(lba >> 8),
			    (uint8_t)lba, 0, (uint8_t)((len / 512) >> 8), (uint8_t)(len / 512), 0 };

	ck_assert_int_eq(ostor_task_reset(t), 0);
	ck_assert_int_eq(ostor_task_set_lun(t, 0, 0), 0);
	ck_assert_int_eq(ostor_task_set_cdb(t, cdb, sizeof(cdb)), 0);
	ck_assert_int_eq(ostor_task_set_buffer(t, OSTOR_DIR_FROM_DEVICE, buf, len), 0);
}

static void pump(bool owner, unsigned int ms, bool (*done)(void *), void *arg)
{
	uint64_t end = ostori_now_ms() + ms;

	while (!done(arg) && ostori_now_ms() < end) {
		if (owner)
			ostor_queue_poll(dev);
		else
			ostor_handle_events(ctx, 5);
	}
}

static bool all_called(void *arg)
{
	return ((struct counter *)arg)->calls >= N;
}

/* Many more commands than the ring holds: every one completes, with the
 * right data, in the order submitted to the device. */
START_TEST(full_ring_waits)
{
	static uint8_t bufs[N][4096];
	uint8_t ref[4096];
	ostor_task *t[N];
	struct counter c = { 0 };
	bool owner = _i & 1;
	struct ostor_virtio_queue_info qi = OSTOR_VIRTIO_QUEUE_INFO_INIT;

	open_spec(_i & 2 ? "sim:transport=virtio,packed,queue-size=8" : "sim:transport=virtio,queue-size=8");
	for (int i = 0; i < 16; i++) {
		memset(ref, i + 1, sizeof(ref));
		ck_assert_int_eq(ostor_write_blocks(dev, 0, 0, (uint64_t)i * 8, 8, ref), 0);
	}
	if (owner)
		ck_assert_int_eq(ostor_queue_acquire(dev, 0), 0);
	for (int i = 0; i < N; i++) {
		ck_assert_int_eq(ostor_task_new(dev, &t[i]), 0);
		prep_read(t[i], (uint64_t)(i % 16) * 8, bufs[i], 4096);
		ck_assert_msg(ostor_task_submit(t[i], (struct ostor_completion){ count_cb, &c, NULL }) == 0,
			      "submit %d: %s", i, ostor_last_error());
	}
	ck_assert_uint_eq(ostor_inflight(ctx), N - (unsigned int)c.calls);
	pump(owner, 10000, all_called, &c);
	ck_assert_int_eq(c.calls, N);
	ck_assert_int_eq(c.good, N);
	for (int i = 0; i < N; i++) {
		ck_assert_int_eq(bufs[i][0], (i % 16) + 1);
		ck_assert_int_eq(bufs[i][4095], (i % 16) + 1);
		ostor_task_free(t[i]);
	}
	/* They went through a ring of 8. */
	ck_assert_int_eq(ostor_virtio_queue_info(dev, 2, &qi), 0);
	ck_assert_uint_eq(qi.queue_size, 8);
	ck_assert_uint_ge(qi.completed, N);
	if (owner)
		ostor_queue_release(dev);
}
END_TEST

static char conf_path[64];

static void conf_setup(const char *text)
{
	int fd;

	strcpy(conf_path, "/tmp/ostor-queueing-XXXXXX");
	fd = mkstemp(conf_path);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(write(fd, text, strlen(text)), (ssize_t)strlen(text));
	close(fd);
	ostor_exit(ctx);
	ck_assert_int_eq(ostor_init(&ctx, conf_path), 0);
	ostor_set_log_level(ctx, getenv("VDEBUG") ? OSTOR_LOG_DEBUG : OSTOR_LOG_NONE);
	unlink(conf_path);
}

/* scsi_max_commands counts in flight plus waiting; one more is refused
 * with the limit named.  Closing ends the waiting ones at once. */
START_TEST(max_commands_refuses)
{
	ostor_task *t[13];
	static uint8_t bufs[13][512];
	struct counter c = { 0 };

	conf_setup("[virtio_scsi]\nscsi_max_commands = 12\n");
	open_spec("sim:transport=virtio,queue-size=4");
	sim_virtio_inject(model, SIM_VF_HOLD, 1000, SIM_TMF_ANSWER_FIRST);
	for (int i = 0; i < 13; i++) {
		ck_assert_int_eq(ostor_task_new(dev, &t[i]), 0);
		prep_read(t[i], (uint64_t)i, bufs[i], 512);
	}
	for (int i = 0; i < 12; i++)
		ck_assert_int_eq(ostor_task_submit(t[i], (struct ostor_completion){ count_cb, &c, NULL }), 0);
	ck_assert_int_eq(ostor_task_submit(t[12], (struct ostor_completion){ count_cb, &c, NULL }),
			 OSTOR_ERROR_BUSY);
	ck_assert_ptr_nonnull(strstr(ostor_last_error(), "scsi_max_commands = 12"));
	ck_assert_int_eq(ostor_task_result(t[12]), OSTOR_RESULT_PENDING);
	ck_assert_uint_eq(ostor_inflight(ctx), 12);
	/* The device thread takes the ring's four. */
	for (uint64_t end = ostori_now_ms() + 5000; sim_virtio_held(model) < 4 && ostori_now_ms() < end;)
		ostor_handle_events(ctx, 1);
	/* A waiting one, cancelled: aborted now, while the ring stays held. */
	ck_assert_int_eq(ostor_task_cancel(t[11]), 0);
	for (int k = 0; k < 5; k++)
		ostor_handle_events(ctx, 1);
	ck_assert_int_eq(c.calls, 1);
	ck_assert_int_eq(ostor_task_result(t[11]), OSTOR_RESULT_ABORTED);
	ck_assert_uint_eq(sim_virtio_held(model), 4);
	/* Room for one more again. */
	ck_assert_int_eq(ostor_task_submit(t[12], (struct ostor_completion){ count_cb, &c, NULL }), 0);
	ck_assert_int_eq(ostor_close(dev), 0);
	dev = NULL;
	ck_assert_int_eq(c.calls, 13);
	for (int i = 0; i < 13; i++) {
		ck_assert_int_eq(ostor_task_result(t[i]), OSTOR_RESULT_ABORTED);
		ostor_task_free(t[i]);
	}
}
END_TEST

static bool first_two_called(void *arg)
{
	return ((struct counter *)arg)->calls >= 3;
}

/* A command whose timeout passes while it waits ends with TIMEOUT without
 * ever reaching the device; the ones ahead of it time out in the ring. */
START_TEST(waiting_times_out)
{
	ostor_task *t[3];
	static uint8_t bufs[3][512];
	struct counter c = { 0 };
	bool owner = _i;

	open_spec("sim:transport=virtio,queue-size=2");
	sim_virtio_inject(model, SIM_VF_HOLD, 2, SIM_TMF_ANSWER_FIRST);
	if (owner)
		ck_assert_int_eq(ostor_queue_acquire(dev, 0), 0);
	for (int i = 0; i < 3; i++) {
		ck_assert_int_eq(ostor_task_new(dev, &t[i]), 0);
		prep_read(t[i], (uint64_t)i, bufs[i], 512);
		ck_assert_int_eq(ostor_task_set_timeout(t[i], i < 2 ? 300 : 100), 0);
		ck_assert_int_eq(ostor_task_submit(t[i], (struct ostor_completion){ count_cb, &c, NULL }), 0);
	}
	pump(owner, 10000, first_two_called, &c);
	ck_assert_int_eq(c.calls, 3);
	ck_assert_int_eq(ostor_task_result(t[2]), OSTOR_RESULT_TIMEOUT);
	for (int i = 0; i < 2; i++)
		ck_assert_int_ne(ostor_task_result(t[i]), OSTOR_RESULT_GOOD);
	/* Only two requests ever reached the device. */
	{
		struct sim_virtio_stats st;

		sim_virtio_get_stats(model, &st);
		ck_assert_uint_eq(st.requests, 2);
	}
	for (int i = 0; i < 3; i++)
		ostor_task_free(t[i]);
	if (owner)
		ostor_queue_release(dev);
}
END_TEST

/* The order of waiting tasks: arrival (none, fifo) or nearest timeout
 * first (deadline), equal timeouts in arrival order. */
START_TEST(scheduler_order)
{
	static const unsigned int timeouts[5] = { 500, 100, 300, 100, 200 };
	static const int by_deadline[5] = { 1, 3, 4, 2, 0 };
	struct ostori_waitq q = { 0 };
	ostor_task *t[5];

	open_spec("sim:transport=virtio");
	for (int s = OSTORI_IO_SCHED_NONE; s <= OSTORI_IO_SCHED_DEADLINE; s++) {
		dev->io_scheduler = s;
		for (int i = 0; i < 5; i++) {
			ck_assert_int_eq(ostor_task_new(dev, &t[i]), 0);
			t[i]->timeout_ms = timeouts[i];
			ck_assert_int_eq(ostori_waitq_park(dev, &q, t[i]), 0);
		}
		ck_assert_uint_eq(q.n, 5);
		for (int i = 0; i < 5; i++) {
			ostor_task *p = ostori_waitq_pop(&q);

			ck_assert_ptr_eq(p, t[s == OSTORI_IO_SCHED_DEADLINE ? by_deadline[i] : i]);
			ck_assert(!p->waiting);
		}
		ck_assert_ptr_null(ostori_waitq_pop(&q));
		ck_assert_ptr_null(q.tail);
		for (int i = 0; i < 5; i++)
			ostor_task_free(t[i]);
	}
}
END_TEST

/* The window of ostori_device_waitq_run: a waiting task it took off the
 * list is refused again (the ring still full) while, on another thread,
 * the commands in flight complete and are delivered - all of them, so
 * no later delivery will look at the list - before the task is back on
 * it.  It must not stay there with nothing in flight to run the list.
 * vscsi_submit is wrapped at link time (-Wl,--wrap): armed with n, its
 * n-th FULL answer waits until the test delivered everything. */
int __real_vscsi_submit(struct vscsi_dev *vs, ostor_task *t);
int __wrap_vscsi_submit(struct vscsi_dev *vs, ostor_task *t);

static atomic_int window_after;          /* FULL answers until the window; 0: off */
static sem_t window_open, window_close;

int __wrap_vscsi_submit(struct vscsi_dev *vs, ostor_task *t)
{
	int r = __real_vscsi_submit(vs, t);

	if (r == OSTORI_SUBMIT_FULL && atomic_load(&window_after) > 0 &&
	    atomic_fetch_sub(&window_after, 1) == 1) {
		sem_post(&window_open);
		sem_wait(&window_close);
	}
	return r;
}

struct late_submit {
	ostor_task *t;
	struct counter *c;
	int r;
};

static void *late_submitter(void *arg)
{
	struct late_submit *ls = arg;

	ls->r = ostor_task_submit(ls->t, (struct ostor_completion){ count_cb, ls->c, NULL });
	return NULL;
}

static bool two_called(void *arg)
{
	return ((struct counter *)arg)->calls >= 2;
}

static bool three_called(void *arg)
{
	return ((struct counter *)arg)->calls >= 3;
}

START_TEST(room_freed_while_resubmitting)
{
	static uint8_t bufs[3][512];
	ostor_task *t[3];
	struct counter c = { 0 };
	struct late_submit ls = { 0 };
	pthread_t th;

	ck_assert_int_eq(sem_init(&window_open, 0, 0), 0);
	ck_assert_int_eq(sem_init(&window_close, 0, 0), 0);
	open_spec("sim:transport=virtio,queue-size=2");
	for (int i = 0; i < 3; i++) {
		ck_assert_int_eq(ostor_task_new(dev, &t[i]), 0);
		prep_read(t[i], (uint64_t)i, bufs[i], 512);
	}
	/* The ring's two slots: answered by the device, not yet polled. */
	for (int i = 0; i < 2; i++)
		ck_assert_int_eq(ostor_task_submit(t[i], (struct ostor_completion){ count_cb, &c, NULL }), 0);
	sim_virtio_wait_idle(model);
	/* The third: refused (1), parked, taken off the list and refused
	 * again (2) - where it waits for us. */
	atomic_store(&window_after, 2);
	ls.t = t[2];
	ls.c = &c;
	ck_assert_int_eq(pthread_create(&th, NULL, late_submitter, &ls), 0);
	sem_wait(&window_open);
	pump(false, 5000, two_called, &c);
	ck_assert_int_eq(c.calls, 2);
	sem_post(&window_close);
	pthread_join(th, NULL);
	ck_assert_int_eq(ls.r, 0);
	pump(false, 3000, three_called, &c);
	ck_assert_msg(c.calls == 3, "the waiting command was never submitted again (%d of 3 completed)", c.calls);
	ck_assert_int_eq(ostor_task_result(t[2]), OSTOR_RESULT_GOOD);
	for (int i = 0; i < 3; i++)
		ostor_task_free(t[i]);
	sem_destroy(&window_open);
	sem_destroy(&window_close);
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("queueing");
	TCase *tc = tcase_create("waiting");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 60);
	tcase_add_loop_test(tc, full_ring_waits, 0, 4);
	tcase_add_test(tc, max_commands_refuses);
	tcase_add_loop_test(tc, waiting_times_out, 0, 2);
	tcase_add_test(tc, scheduler_order);
	tcase_add_test(tc, room_freed_while_resubmitting);
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
