/*
 * tests/unit/test_stats.c - statistics: exact counts per scope on the
 * owner and shared paths, results, histograms and their percentiles,
 * reset, device events, transport counters, the JSON form, and readers
 * racing writers (for ThreadSanitizer).
 */
#include "core/backend.h"

#include <check.h>
#include <json-c/json.h>
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

static struct ostor_stats get(ostor_device *dev, enum ostor_stats_scope scope, int id, uint32_t lun)
{
	struct ostor_stats st = OSTOR_STATS_INIT;

	ck_assert_int_eq(ostor_stats_get(dev, scope, id, lun, &st), 0);
	ck_assert_uint_eq(st.size, sizeof(st));
	return st;
}

/* reads and writes of 1..4 blocks, flushes: counts kept by the test. */
struct expect {
	uint64_t commands[OSTOR_IO_KINDS], bytes[OSTOR_IO_KINDS];
};

static void io(ostor_device *dev, uint32_t lun, int n, struct expect *e)
{
	uint8_t buf[4 * 512];

	memset(buf, 0x5a, sizeof(buf));
	for (int i = 0; i < n; i++) {
		uint32_t blocks = 1 + (uint32_t)i % 4;

		ck_assert_int_eq(ostor_write_blocks(dev, 0, lun, (uint64_t)i * 4, blocks, buf), 0);
		ck_assert_int_eq(ostor_read_blocks(dev, 0, lun, (uint64_t)i * 4, blocks, buf), 0);
		e->commands[OSTOR_IO_WRITE]++;
		e->commands[OSTOR_IO_READ]++;
		e->bytes[OSTOR_IO_WRITE] += blocks * 512;
		e->bytes[OSTOR_IO_READ] += blocks * 512;
	}
	ck_assert_int_eq(ostor_flush(dev, 0, lun), 0);
	e->commands[OSTOR_IO_FLUSH]++;
}

static void ck_counts(const struct ostor_stats *st, const struct expect *e)
{
	for (int k = OSTOR_IO_READ; k <= OSTOR_IO_FLUSH; k++) {
		ck_assert_msg(st->commands[k] == e->commands[k], "%s: %llu commands, want %llu",
			      ostor_io_kind_name(k), (unsigned long long)st->commands[k],
			      (unsigned long long)e->commands[k]);
		ck_assert_msg(st->bytes[k] == e->bytes[k], "%s: %llu bytes, want %llu", ostor_io_kind_name(k),
			      (unsigned long long)st->bytes[k], (unsigned long long)e->bytes[k]);
	}
}

/* Counts on the shared path and on an owned queue, and each scope. */
START_TEST(exact_counts_by_scope)
{
	ostor_device *dev;
	struct expect shared = { 0 }, owned = { 0 }, lun1 = { 0 }, all;
	struct ostor_stats st;
	uint64_t other;
	int q;

	ck_assert_int_eq(ostor_open(ctx, "sim:size=1M,luns=2", &dev), 0);
	/* Discovery (INQUIRY, READ CAPACITY...) is "other". */
	io(dev, 0, 10, &shared);
	q = ostor_queue_acquire(dev, -1);
	ck_assert_int_ge(q, 0);
	io(dev, 0, 7, &owned);
	io(dev, 1, 3, &lun1);
	all = owned;
	for (int k = 0; k < OSTOR_IO_KINDS; k++) {
		all.commands[k] += shared.commands[k] + lun1.commands[k];
		all.bytes[k] += shared.bytes[k] + lun1.bytes[k];
	}
	st = get(dev, OSTOR_STATS_DEVICE, 0, 0);
	ck_counts(&st, &all);
	other = st.commands[OSTOR_IO_OTHER];
	ck_assert_uint_gt(other, 0);
	ck_assert_uint_eq(st.results[OSTOR_RESULT_GOOD],
			  st.commands[0] + st.commands[1] + st.commands[2] + st.commands[3] + st.commands[4]);
	ck_assert_uint_eq(st.queues, (uint32_t)ostor_queue_count(dev));
	ck_assert_uint_eq(st.depth, 0);
	ck_assert_uint_ge(st.depth_max, 1);
	ck_assert_int_eq(st.histograms, 0);
	ck_assert_uint_eq(st.latency[OSTOR_IO_READ].count, 0);
	ck_assert_uint_gt(st.elapsed_ns, 0);

	st = get(dev, OSTOR_STATS_QUEUE, -1, 0);
	ck_counts(&st, &shared);
	st = get(dev, OSTOR_STATS_QUEUE, q, 0);
	for (int k = 0; k < OSTOR_IO_KINDS; k++) {
		owned.commands[k] += lun1.commands[k];
		owned.bytes[k] += lun1.bytes[k];
	}
	ck_counts(&st, &owned);
	st = get(dev, OSTOR_STATS_QUEUE, q == 0 ? 1 : 0, 0);
	ck_assert_uint_eq(st.commands[OSTOR_IO_READ] + st.commands[OSTOR_IO_OTHER], 0);

	st = get(dev, OSTOR_STATS_LUN, 0, 1);
	ck_counts(&st, &lun1);
	st = get(dev, OSTOR_STATS_TARGET, 0, 0);
	ck_counts(&st, &all);
	ck_assert_uint_eq(st.commands[OSTOR_IO_OTHER], other);
	st = get(dev, OSTOR_STATS_TARGET, 3, 0);
	ck_assert_uint_eq(st.commands[OSTOR_IO_READ], 0);

	/* Refusals. */
	ck_assert_int_eq(ostor_stats_get(dev, OSTOR_STATS_QUEUE, 99, 0, &st), OSTOR_ERROR_INVALID_PARAM);
	ck_assert_int_eq(ostor_stats_get(dev, (enum ostor_stats_scope)9, 0, 0, &st), OSTOR_ERROR_INVALID_PARAM);
	ck_assert_int_eq(ostor_stats_get(dev, OSTOR_STATS_TARGET, -1, 0, &st), OSTOR_ERROR_INVALID_PARAM);
	st.size = 0;
	ck_assert_int_eq(ostor_stats_get(dev, OSTOR_STATS_DEVICE, 0, 0, &st), OSTOR_ERROR_INVALID_PARAM);
	ck_assert_int_eq(ostor_stats_get(NULL, OSTOR_STATS_DEVICE, 0, 0, &st), OSTOR_ERROR_INVALID_PARAM);
	ostor_queue_release(dev);
	ck_assert_int_eq(ostor_close(dev), 0);
}
END_TEST

/* Results other than GOOD, and device events. */
START_TEST(results_and_events)
{
	ostor_device *dev;
	ostor_task *t;
	uint8_t buf[512];
	static const uint8_t past_end[10] = { 0x28, 0, 0, 0x10, 0, 0, 0, 0, 1, 0 };
	struct ostor_stats st;

	ck_assert_int_eq(ostor_open(ctx, "sim:size=1M", &dev), 0);
	ck_assert_int_eq(ostor_task_new(dev, &t), 0);
	for (int i = 0; i < 3; i++) {
		ck_assert_int_eq(ostor_task_prepare(t, 0, 0, past_end, sizeof(past_end), OSTOR_DIR_FROM_DEVICE,
						    buf, sizeof(buf)), 0);
		ck_assert_int_eq(ostor_task_execute(t), 0);
		ck_assert_int_eq(ostor_task_result(t), OSTOR_RESULT_CHECK_CONDITION);
	}
	ck_assert_int_ge(ostor_reset(dev, OSTOR_RESET_LUN, 0, 0), 0); /* 1: a target reset did it */
	ck_assert_int_eq(ostor_reset(dev, OSTOR_RESET_DEVICE, 0, 0), 0);
	/* The unit attention of the reset: the block helper retries. */
	ck_assert_int_eq(ostor_read_blocks(dev, 0, 0, 0, 1, buf), 0);
	st = get(dev, OSTOR_STATS_DEVICE, 0, 0);
	ck_assert_uint_eq(st.results[OSTOR_RESULT_CHECK_CONDITION], 4);
	/* (The unit attention went to the rediscovery's READ CAPACITY.) */
	ck_assert_uint_eq(st.commands[OSTOR_IO_READ], 4);
	ck_assert_uint_eq(st.results[OSTOR_RESULT_GOOD] + 4,
			  st.commands[0] + st.commands[1] + st.commands[2] + st.commands[3] + st.commands[4]);
	ck_assert_uint_eq(st.resets[OSTOR_RESET_LUN], 1);
	ck_assert_uint_eq(st.resets[OSTOR_RESET_DEVICE], 1);
	ck_assert_uint_eq(st.resets[OSTOR_RESET_TARGET], 0);
	ck_assert_uint_eq(st.retries, 1);
	ck_assert_int_eq(ostor_task_free(t), 0);
	ck_assert_int_eq(ostor_close(dev), 0);
}
END_TEST

/* Histograms: off by default, switched on live; each read has its value;
 * the percentiles are ordered; reset starts from zero. */
START_TEST(histograms_and_reset)
{
	ostor_device *dev;
	struct expect e = { 0 };
	struct ostor_stats st;
	const struct ostor_latency *l;
	int q;

	ck_assert_int_eq(ostor_open(ctx, "sim:size=1M", &dev), 0);
	ck_assert_int_eq(ostor_stats_histograms(dev, -1), 0);
	io(dev, 0, 5, &e);
	ck_assert_int_eq(ostor_stats_histograms(dev, 1), 0);
	ck_assert_int_eq(ostor_stats_histograms(dev, -1), 1);
	q = ostor_queue_acquire(dev, -1);
	ck_assert_int_ge(q, 0);
	memset(&e, 0, sizeof(e));
	io(dev, 0, 40, &e);
	st = get(dev, OSTOR_STATS_DEVICE, 0, 0);
	ck_assert_int_eq(st.histograms, 1);
	l = &st.latency[OSTOR_IO_READ];
	ck_assert_uint_eq(l->count, 40);
	ck_assert_uint_eq(st.latency[OSTOR_IO_WRITE].count, 40);
	ck_assert_uint_eq(st.latency[OSTOR_IO_FLUSH].count, 1);
	ck_assert_uint_le(l->min_ns, l->p50_ns);
	ck_assert_uint_le(l->p50_ns, l->p90_ns);
	ck_assert_uint_le(l->p90_ns, l->p99_ns);
	ck_assert_uint_le(l->p99_ns, l->p999_ns);
	ck_assert_uint_le(l->p999_ns, l->max_ns);
	ck_assert_uint_le(l->min_ns, l->mean_ns);
	ck_assert_uint_le(l->mean_ns, l->max_ns);
	ck_assert_uint_gt(st.batches, 0);
	ck_assert(st.utilisation >= 0.0 && st.utilisation <= 1.0);

	ck_assert_int_eq(ostor_stats_reset(dev), 0);
	st = get(dev, OSTOR_STATS_DEVICE, 0, 0);
	for (int k = 0; k < OSTOR_IO_KINDS; k++) {
		ck_assert_uint_eq(st.commands[k], 0);
		ck_assert_uint_eq(st.bytes[k], 0);
		ck_assert_uint_eq(st.latency[k].count, 0);
	}
	ck_assert_uint_eq(st.results[OSTOR_RESULT_GOOD], 0);
	ck_assert_uint_eq(st.depth_max, 0);
	memset(&e, 0, sizeof(e));
	io(dev, 0, 3, &e);
	st = get(dev, OSTOR_STATS_DEVICE, 0, 0);
	ck_counts(&st, &e);
	ck_assert_uint_eq(st.latency[OSTOR_IO_READ].count, 3);
	ck_assert_uint_ge(st.depth_max, 1);
	ck_assert_int_eq(ostor_stats_histograms(dev, 0), 1);
	ck_assert_int_eq(ostor_stats_histograms(NULL, 0), OSTOR_ERROR_INVALID_PARAM);
	ostor_queue_release(dev);
	ck_assert_int_eq(ostor_close(dev), 0);
}
END_TEST

/* The sim option histograms, the transport counters and the JSON form. */
START_TEST(json_and_transport_counters)
{
	ostor_device *dev;
	struct expect e = { 0 };
	struct ostor_counter c[64];
	struct json_object *root, *total, *o, *q;
	struct ostor_stats st;
	uint64_t sim_commands = 0;
	char *text;
	int n;

	ck_assert_int_eq(ostor_open(ctx, "sim:size=1M,histograms", &dev), 0);
	ck_assert_int_eq(ostor_stats_histograms(dev, -1), 1);
	io(dev, 0, 6, &e);
	st = get(dev, OSTOR_STATS_DEVICE, 0, 0);
	n = ostor_transport_counters(dev, c, 64);
	ck_assert_int_gt(n, 0);
	ck_assert_int_eq(ostor_transport_counters(dev, NULL, 0), n);
	ck_assert_int_eq(ostor_transport_counters(dev, NULL, 1), OSTOR_ERROR_INVALID_PARAM);
	for (int i = 0; i < n; i++)
		if (!strcmp(c[i].name, "sim_commands"))
			sim_commands = c[i].value;
	ck_assert_uint_eq(sim_commands, st.commands[0] + st.commands[1] + st.commands[2] + st.commands[3] +
			  st.commands[4]);

	text = ostor_stats_json(dev);
	ck_assert_ptr_nonnull(text);
	root = json_tokener_parse(text);
	ck_assert_ptr_nonnull(root);
	ck_assert(json_object_object_get_ex(root, "total", &total));
	ck_assert(json_object_object_get_ex(total, "commands", &o));
	ck_assert(json_object_object_get_ex(o, "read", &o));
	ck_assert_int_eq(json_object_get_int64(o), 6);
	ck_assert(json_object_object_get_ex(total, "latency", &o));
	ck_assert(json_object_object_get_ex(o, "read", &o));
	ck_assert(json_object_object_get_ex(o, "count", &o));
	ck_assert_int_eq(json_object_get_int64(o), 6);
	ck_assert(json_object_object_get_ex(root, "queues", &q));
	ck_assert_int_eq((int)json_object_array_length(q), ostor_queue_count(dev) + 1);
	ck_assert(json_object_object_get_ex(root, "luns", &o));
	ck_assert_int_eq((int)json_object_array_length(o), 1);
	ck_assert(json_object_object_get_ex(root, "transport", &o));
	ck_assert(json_object_object_get_ex(o, "sim_commands", &o));
	ck_assert_int_eq(json_object_get_int64(o), (int64_t)sim_commands);
	json_object_put(root);
	free(text);
	ck_assert_ptr_null(ostor_stats_json(NULL));
	ck_assert_int_eq(ostor_close(dev), 0);
	ck_assert_str_eq(ostor_io_kind_name(OSTOR_IO_UNMAP), "unmap");
	ck_assert_str_eq(ostor_io_kind_name(99), "unknown");
}
END_TEST

/* The virtio-scsi and USB engines under the simulated devices have
 * counters of their own. */
START_TEST(model_counters)
{
	static const char *const specs[] = { "sim:size=1M,transport=virtio", "sim:size=1M,transport=usb-bot" };
	static const char *const names[] = { "virtio_submitted", "usb_commands" };

	for (int m = 0; m < 2; m++) {
		ostor_device *dev;
		struct expect e = { 0 };
		struct ostor_counter c[64];
		struct ostor_stats st;
		uint64_t v = UINT64_MAX;
		int n;

		ck_assert_int_eq(ostor_open(ctx, specs[m], &dev), 0);
		io(dev, 0, 4, &e);
		st = get(dev, OSTOR_STATS_DEVICE, 0, 0);
		ck_counts(&st, &e);
		n = ostor_transport_counters(dev, c, 64);
		for (int i = 0; i < n && i < 64; i++)
			if (!strcmp(c[i].name, names[m]))
				v = c[i].value;
		ck_assert_msg(v != UINT64_MAX, "%s: no counter %s", specs[m], names[m]);
		/* Every command reached the wire (USB: plus automatic REQUEST SENSE). */
		ck_assert_uint_ge(v, st.commands[0] + st.commands[1] + st.commands[2]);
		if (m == 1) {
			uint64_t transfers = 0;

			for (int i = 0; i < n && i < 64; i++)
				if (!strcmp(c[i].name, "usb_transfers"))
					transfers = c[i].value;
			/* A CBW and a CSW at least per command. */
			ck_assert_uint_ge(transfers, 2 * v);
		}
		ck_assert_int_eq(ostor_close(dev), 0);
	}
}
END_TEST

/* Writers on their own queues while a reader adds up and resets: the
 * totals are exact at the end (and ThreadSanitizer sees the accesses). */
struct worker {
	ostor_device *dev;
	int n;
};

static void *write_read(void *arg)
{
	struct worker *w = arg;
	uint8_t buf[512];

	ck_assert_int_ge(ostor_queue_acquire(w->dev, -1), 0);
	for (int i = 0; i < w->n; i++)
		ck_assert_int_eq(ostor_read_blocks(w->dev, 0, 0, (uint64_t)i, 1, buf), 0);
	ostor_queue_release(w->dev);
	return NULL;
}

static atomic_bool stop_reading;

static void *reader(void *arg)
{
	ostor_device *dev = arg;
	char *text;

	while (!atomic_load(&stop_reading)) {
		struct ostor_stats st = OSTOR_STATS_INIT;

		ck_assert_int_eq(ostor_stats_get(dev, OSTOR_STATS_DEVICE, 0, 0, &st), 0);
		text = ostor_stats_json(dev);
		ck_assert_ptr_nonnull(text);
		free(text);
	}
	return NULL;
}

START_TEST(readers_race_writers)
{
	ostor_device *dev;
	pthread_t th[3], rd;
	struct worker w = { .n = 2000 };
	struct ostor_stats st;

	ck_assert_int_eq(ostor_open(ctx, "sim:size=1M,queues=4,histograms", &dev), 0);
	w.dev = dev;
	ck_assert_int_eq(ostor_stats_reset(dev), 0);
	atomic_store(&stop_reading, false);
	ck_assert_int_eq(pthread_create(&rd, NULL, reader, dev), 0);
	for (int i = 0; i < 3; i++)
		ck_assert_int_eq(pthread_create(&th[i], NULL, write_read, &w), 0);
	for (int i = 0; i < 3; i++)
		pthread_join(th[i], NULL);
	atomic_store(&stop_reading, true);
	pthread_join(rd, NULL);
	st = get(dev, OSTOR_STATS_DEVICE, 0, 0);
	/* Discovery's READ CAPACITY and INQUIRYs are "other". */
	ck_assert_uint_eq(st.commands[OSTOR_IO_READ], 3 * 2000);
	ck_assert_uint_eq(st.bytes[OSTOR_IO_READ], 3 * 2000 * 512);
	ck_assert_uint_eq(st.latency[OSTOR_IO_READ].count, 3 * 2000);
	ck_assert_int_eq(ostor_close(dev), 0);
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("stats");
	TCase *tc = tcase_create("stats");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, exact_counts_by_scope);
	tcase_add_test(tc, results_and_events);
	tcase_add_test(tc, histograms_and_reset);
	tcase_add_test(tc, json_and_transport_counters);
	tcase_add_test(tc, model_counters);
	tcase_add_test(tc, readers_race_writers);
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
