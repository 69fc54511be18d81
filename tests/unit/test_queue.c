/*
 * tests/unit/test_queue.c - queues owned by threads (lib/core/channel.c)
 * on the plain simulated device: ownership rules, callbacks on the owner,
 * synchronous calls on an owner, several owners moving data at once,
 * release at thread exit, and ostor_close against held queues.
 * (Virtio request queues as channels: test_virtio_ring.c.)
 */
#include "core/backend.h"

#include <check.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static ostor_context *ctx;
static ostor_device *dev;

static void setup(void)
{
	ck_assert_int_eq(ostor_init(&ctx, ""), 0);
	ostor_set_log_level(ctx, OSTOR_LOG_NONE);
	dev = NULL;
}

static void teardown(void)
{
	if (dev)
		ck_assert_int_eq(ostor_close(dev), 0);
	ostor_exit(ctx);
	ctx = NULL;
}

static void open_spec(const char *spec)
{
	int r = ostor_open(ctx, spec, &dev);

	ck_assert_msg(r == 0, "open %s: %s", spec, ostor_last_error());
}

static void fill(uint8_t *p, size_t n, unsigned int seed)
{
	for (size_t i = 0; i < n; i++)
		p[i] = (uint8_t)(i * 13 + seed * 101 + (i >> 9));
}

static void set_read(ostor_task *t, uint64_t lba, void *buf, uint32_t blocks)
{
	uint8_t cdb[10] = { 0x28, 0, (uint8_t)(lba >> 24), (uint8_t)(lba >> 16), (uint8_t)(lba >> 8),
			    (uint8_t)lba, 0, (uint8_t)(blocks >> 8), (uint8_t)blocks, 0 };

	ck_assert_int_eq(ostor_task_reset(t), 0);
	ck_assert_int_eq(ostor_task_set_lun(t, 0, 0), 0);
	ck_assert_int_eq(ostor_task_set_cdb(t, cdb, sizeof(cdb)), 0);
	ck_assert_int_eq(ostor_task_set_buffer(t, OSTOR_DIR_FROM_DEVICE, buf, (size_t)blocks * 512), 0);
}

START_TEST(queue_rules)
{
	open_spec("sim:queues=3");
	ck_assert_int_eq(ostor_queue_count(dev), 3);
	ck_assert_int_eq(ostor_queue_acquire(dev, 3), OSTOR_ERROR_INVALID_PARAM);
	ck_assert_ptr_nonnull(strstr(ostor_last_error(), "0 to 2"));
	ck_assert_int_eq(ostor_queue_acquire(dev, -2), OSTOR_ERROR_INVALID_PARAM);
	/* Not an owner: nothing to poll. */
	ck_assert_int_eq(ostor_queue_poll(dev), OSTOR_ERROR_STATE);
	ck_assert_ptr_nonnull(strstr(ostor_last_error(), "ostor_queue_acquire"));
	ck_assert_int_eq(ostor_queue_acquire(dev, 1), 1);
	ck_assert_int_eq(ostor_queue_acquire(dev, 1), 1);   /* again: the same */
	ck_assert_int_eq(ostor_queue_acquire(dev, -1), 1);  /* any: the one we hold */
	ck_assert_int_eq(ostor_queue_acquire(dev, 2), 2);   /* another: the first is let go */
	ck_assert_int_eq(ostor_queue_poll(dev), 0);
	ostor_queue_release(dev);
	ostor_queue_release(dev);                           /* nothing held: harmless */
	ck_assert_int_eq(ostor_queue_poll(dev), OSTOR_ERROR_STATE);
	ck_assert_int_eq(ostor_queue_count(NULL), OSTOR_ERROR_INVALID_PARAM);
	ostor_close(dev);
	dev = NULL;
	/* The option is checked. */
	ck_assert_int_eq(ostor_open(ctx, "sim:queues=0", &dev), OSTOR_ERROR_BAD_SPEC);
	ck_assert_int_eq(ostor_open(ctx, "sim:queues=65", &dev), OSTOR_ERROR_BAD_SPEC);
	dev = NULL;
	open_spec("sim:");
	ck_assert_int_eq(ostor_queue_count(dev), 4);
}
END_TEST

/* ---- callbacks run on the owner, and only there ------------------------- */

struct owner {
	pthread_t self;
	atomic_int calls, wrong_thread, bad;
	atomic_int phase;          /* 1: submitted, 2: may reap, 3: done */
	int queue;
	uint8_t buf[16][4096];
};

static void owner_cb(ostor_task *t, void *ud)
{
	struct owner *o = ud;

	if (!pthread_equal(pthread_self(), o->self))
		atomic_fetch_add(&o->wrong_thread, 1);
	if (ostor_task_result(t) != OSTOR_RESULT_GOOD || ostor_task_transferred(t) != 4096)
		atomic_fetch_add(&o->bad, 1);
	atomic_fetch_add(&o->calls, 1);
}

static void *owner_main(void *arg)
{
	struct owner *o = arg;
	ostor_task *t[16];

	o->self = pthread_self();
	o->queue = ostor_queue_acquire(dev, -1);
	for (int i = 0; i < 16; i++) {
		ck_assert_int_eq(ostor_task_new(dev, &t[i]), 0);
		set_read(t[i], (uint64_t)i * 8, o->buf[i], 8);
		ck_assert_int_eq(ostor_task_submit(t[i], (struct ostor_completion){ owner_cb, o, NULL }), 0);
	}
	atomic_store(&o->phase, 1);
	while (atomic_load(&o->phase) < 2)
		sched_yield();
	while (atomic_load(&o->calls) < 16)
		ck_assert_int_ge(ostor_queue_poll(dev), 0);
	for (int i = 0; i < 16; i++)
		ostor_task_free(t[i]);
	ostor_queue_release(dev);
	atomic_store(&o->phase, 3);
	return NULL;
}

START_TEST(callbacks_on_owner)
{
	static struct owner o;
	pthread_t th;

	memset(&o, 0, sizeof(o));
	open_spec("sim:queues=2");
	ck_assert_int_eq(pthread_create(&th, NULL, owner_main, &o), 0);
	while (atomic_load(&o.phase) < 1)
		sched_yield();
	/* The tasks have completed (the plain sim finishes inside submit),
	 * they count as in flight, and this thread's event handling does
	 * not run their callbacks. */
	ck_assert_uint_eq(ostor_inflight(ctx), 16);
	for (int i = 0; i < 20; i++)
		ostor_handle_events(ctx, 1);
	ck_assert_int_eq(atomic_load(&o.calls), 0);
	atomic_store(&o.phase, 2);
	pthread_join(th, NULL);
	ck_assert_int_eq(o.queue, 0);
	ck_assert_int_eq(atomic_load(&o.calls), 16);
	ck_assert_int_eq(atomic_load(&o.wrong_thread), 0);
	ck_assert_int_eq(atomic_load(&o.bad), 0);
	ck_assert_uint_eq(ostor_inflight(ctx), 0);
}
END_TEST

/* ---- several owners moving data at once ------------------------------------ */

struct mover {
	int index, errors, got;
};

static void *mover_main(void *arg)
{
	struct mover *m = arg;
	uint8_t out[4096], in[4096];

	m->got = ostor_queue_acquire(dev, m->index);
	if (m->got != m->index) {
		m->errors++;
		return NULL;
	}
	for (int k = 0; k < 300; k++) {
		uint64_t lba = (uint64_t)m->index * 4096 + (uint64_t)(k % 64) * 8;

		fill(out, sizeof(out), (unsigned int)(m->index * 1000 + k));
		if (ostor_write_blocks(dev, 0, 0, lba, 8, out) || ostor_read_blocks(dev, 0, 0, lba, 8, in) ||
		    memcmp(out, in, sizeof(in)))
			m->errors++;
	}
	ostor_queue_release(dev);
	return NULL;
}

START_TEST(owners_move_data)
{
	pthread_t th[4];
	struct mover m[4];
	uint8_t buf[4096], out[4096];

	open_spec("sim:queues=4,size=64M");
	for (int i = 0; i < 4; i++) {
		m[i] = (struct mover){ .index = i };
		ck_assert_int_eq(pthread_create(&th[i], NULL, mover_main, &m[i]), 0);
	}
	/* This thread owns nothing once they hold every queue: the shared
	 * path keeps working beside them. */
	for (int k = 0; k < 100; k++) {
		fill(out, sizeof(out), (unsigned int)k);
		ck_assert_int_eq(ostor_write_blocks(dev, 0, 0, 100000, 8, out), 0);
		ck_assert_int_eq(ostor_read_blocks(dev, 0, 0, 100000, 8, buf), 0);
		ck_assert_int_eq(memcmp(buf, out, sizeof(buf)), 0);
	}
	for (int i = 0; i < 4; i++) {
		pthread_join(th[i], NULL);
		ck_assert_int_eq(m[i].errors, 0);
	}
}
END_TEST

/* ---- a thread that exits holding a queue gives it back ---------------------- */

static ostor_task *left_task;

static void *hold_and_exit(void *arg)
{
	ostor_task *t;
	static uint8_t buf[4096];
	int *got = arg;

	*got = ostor_queue_acquire(dev, 0);
	/* A task still waiting for this thread's poll when it exits. */
	ck_assert_int_eq(ostor_task_new(dev, &t), 0);
	left_task = t;
	set_read(t, 0, buf, 8);
	ck_assert_int_eq(ostor_task_submit(t, (struct ostor_completion){ NULL, NULL, NULL }), 0);
	return NULL;
}

START_TEST(released_at_thread_exit)
{
	pthread_t th;
	int got = -100;

	open_spec("sim:queues=1");
	ck_assert_int_eq(pthread_create(&th, NULL, hold_and_exit, &got), 0);
	pthread_join(th, NULL);
	ck_assert_int_eq(got, 0);
	ck_assert_uint_eq(ostor_inflight(ctx), 0);
	ck_assert_int_eq(ostor_task_result(left_task), OSTOR_RESULT_GOOD);
	ostor_task_free(left_task);
	ck_assert_int_eq(ostor_queue_acquire(dev, 0), 0);
	ostor_queue_release(dev);
}
END_TEST

/* ---- ostor_close against held queues ---------------------------------------- */

static atomic_int hold_go;

static void *holder(void *arg)
{
	int *got = arg;

	*got = ostor_queue_acquire(dev, -1);
	atomic_store(&hold_go, 1);
	while (atomic_load(&hold_go) != 2)
		ostor_queue_poll(dev);
	ostor_queue_release(dev);
	return NULL;
}

START_TEST(close_with_held_queues)
{
	pthread_t th;
	int got = -100;
	ostor_task *t;
	uint8_t buf[4096];

	open_spec("sim:queues=2");
	atomic_store(&hold_go, 0);
	ck_assert_int_eq(pthread_create(&th, NULL, holder, &got), 0);
	while (atomic_load(&hold_go) != 1)
		sched_yield();
	ck_assert_int_eq(got, 0);
	/* Another thread's queue: refused, nothing changed. */
	ck_assert_int_eq(ostor_close(dev), OSTOR_ERROR_BUSY);
	ck_assert_ptr_nonnull(strstr(ostor_last_error(), "ostor_queue_release"));
	ck_assert_int_eq(ostor_read_blocks(dev, 0, 0, 0, 1, buf), 0);
	atomic_store(&hold_go, 2);
	pthread_join(th, NULL);
	/* Our own queue, with a task whose callback has not run: closed,
	 * and the task delivered first. */
	ck_assert_int_eq(ostor_queue_acquire(dev, 1), 1);
	ck_assert_int_eq(ostor_task_new(dev, &t), 0);
	set_read(t, 0, buf, 8);
	ck_assert_int_eq(ostor_task_submit(t, (struct ostor_completion){ NULL, NULL, NULL }), 0);
	ck_assert_int_eq(ostor_close(dev), 0);
	dev = NULL;
	ck_assert_int_eq(ostor_task_result(t), OSTOR_RESULT_GOOD);
	ostor_task_free(t);
}
END_TEST

/* ---- synchronous calls on an owner; re-entrancy ---------------------------- */

static void poll_in_callback(ostor_task *t, void *ud)
{
	int *r = ud;

	r[0] = ostor_queue_poll(ostor_task_device(t));
	r[1] = ostor_read_blocks(ostor_task_device(t), 0, 0, 0, 1, (uint8_t[512]){ 0 });
}

START_TEST(owner_sync_and_reentry)
{
	uint8_t out[8192], in[8192];
	int r[2] = { 1, 1 };
	ostor_task *t;

	open_spec("sim:");
	ck_assert_int_eq(ostor_queue_acquire(dev, -1), 0);
	fill(out, sizeof(out), 5);
	ck_assert_int_eq(ostor_write_blocks(dev, 0, 0, 10, 16, out), 0);
	ck_assert_int_eq(ostor_read_blocks(dev, 0, 0, 10, 16, in), 0);
	ck_assert_int_eq(memcmp(in, out, sizeof(in)), 0);
	ck_assert_int_eq(ostor_task_new(dev, &t), 0);
	set_read(t, 0, in, 8);
	ck_assert_int_eq(ostor_task_execute(t), 0);
	ck_assert_int_eq(ostor_task_result(t), OSTOR_RESULT_GOOD);
	/* From a callback: refused at once, with the reason. */
	set_read(t, 0, in, 8);
	ck_assert_int_eq(ostor_task_submit(t, (struct ostor_completion){ poll_in_callback, r, NULL }), 0);
	while (ostor_queue_poll(dev) == 0)
		;
	ck_assert_int_eq(r[0], OSTOR_ERROR_STATE);
	ck_assert_int_eq(r[1], OSTOR_ERROR_STATE);
	ostor_task_free(t);
	ostor_queue_release(dev);
}
END_TEST

/* Synchronous calls on the shared path that the device answers at once
 * make no system call: no wake-up is ever written for them. */
START_TEST(sync_calls_without_wakeups)
{
	uint8_t buf[4096];
	uint64_t v;
	unsigned long writes;
	ostor_task *t;

	open_spec("sim:");
	ck_assert_int_eq(ostor_task_new(dev, &t), 0);
	ck_assert_int_eq(ostor_read_blocks(dev, 0, 0, 0, 8, buf), 0); /* discovery */
	writes = atomic_load(&ctx->wake_writes);
	for (int i = 0; i < 1000; i++) {
		ck_assert_int_eq(ostor_read_blocks(dev, 0, 0, (uint64_t)i, 8, buf), 0);
		ck_assert_int_eq(ostor_write_blocks(dev, 0, 0, (uint64_t)i, 8, buf), 0);
		set_read(t, (uint64_t)i, buf, 8);
		ck_assert_int_eq(ostor_task_execute(t), 0);
		ck_assert_int_eq(ostor_task_result(t), OSTOR_RESULT_GOOD);
	}
	ostor_task_free(t);
	ck_assert_uint_eq(atomic_load(&ctx->wake_writes), writes);
	ck_assert(!ctx->wake_pending);
	ck_assert_int_lt(read(ctx->wake_fd, &v, sizeof(v)), 0); /* nothing written: EAGAIN */
	ck_assert_uint_eq(ostor_inflight(ctx), 0);
}
END_TEST

static Suite *queue_suite(void)
{
	Suite *s = suite_create("queue");
	TCase *tc = tcase_create("channels");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, queue_rules);
	tcase_add_test(tc, callbacks_on_owner);
	tcase_add_test(tc, owners_move_data);
	tcase_add_test(tc, released_at_thread_exit);
	tcase_add_test(tc, close_with_held_queues);
	tcase_add_test(tc, owner_sync_and_reentry);
	tcase_add_test(tc, sync_calls_without_wakeups);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(queue_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
