/*
 * tests/unit/test_usb_power.c - USB selective suspend (ostor_usb_power_*,
 * lib/usb/suspend.c) on the simulated USB devices: the fields, the
 * in-memory attributes, the idle timer, the resume before a command, many
 * threads racing the timer, unplug while suspended, the configuration
 * keys.  A transfer the model sees while suspend is allowed fails and is
 * counted (io_while_suspended): the engine must always resume first.
 */
#include "usb_test_util.h"
#include "usb/suspend.h"

#include <pthread.h>
#include <time.h>
#include <unistd.h>

#define BOT "sim:transport=usb-bot,size=4M,usb-timeout=1000"

/* Run the event loop until the model says suspend is allowed (or not),
 * bounded: the timer lives in the loop. */
static bool loop_until_allowed(struct sim_usb *m, bool want, unsigned int budget_ms)
{
	uint64_t deadline = ostori_now_ms() + budget_ms;

	while (sim_usb_suspend_allowed(m) != want) {
		if (ostori_now_ms() > deadline)
			return false;
		ostor_handle_events(ctx, 10);
	}
	return true;
}

START_TEST(power_get_fields)
{
	struct ostor_usb_power p = OSTOR_USB_POWER_INIT;

	open_dev(BOT);
	ck_assert_int_eq(ostor_usb_power_get(dev, &p), 0);
	ck_assert_uint_eq(p.size, sizeof(p));
	ck_assert_str_eq(p.control, "on");
	ck_assert_int_eq(p.autosuspend_delay_ms, 2000);
	ck_assert_str_eq(p.runtime_status, "unsupported");
	ck_assert_uint_eq(p.runtime_suspended_ms, 0);
	ck_assert_uint_eq(p.max_power_ma, 500);       /* bMaxPower 250, high speed: x2 */
	ck_assert_str_eq(p.speed, "high");
	ck_assert_int_eq(p.suspend_allowed, 0);
	ck_assert_uint_eq(p.idle_ms, 0);
	ck_assert_uint_eq(p.suspends_allowed, 0);
	ck_assert_uint_eq(p.resumes, 0);
	ck_assert_str_eq(p.sysfs_path, "");
	ostor_close(dev);

	open_dev("sim:transport=usb-cbi,size=1M");
	ck_assert_int_eq(ostor_usb_power_get(dev, &p), 0);
	ck_assert_uint_eq(p.max_power_ma, 100);
	ck_assert_str_eq(p.speed, "full");
}
END_TEST

/* Structures that grow: a caller of an older, smaller struct gets only
 * what fits; .size 0 is refused. */
START_TEST(power_get_sizes)
{
	struct ostor_usb_power p = OSTOR_USB_POWER_INIT;

	open_dev(BOT);
	p.size = 0;
	ck_assert_int_eq(ostor_usb_power_get(dev, &p), OSTOR_ERROR_INVALID_PARAM);
	ck_assert_int_eq(ostor_usb_power_get(dev, NULL), OSTOR_ERROR_INVALID_PARAM);
	ck_assert_int_eq(ostor_usb_power_get(NULL, &p), OSTOR_ERROR_INVALID_PARAM);
}
END_TEST

START_TEST(power_set_in_memory)
{
	struct ostor_usb_power p = OSTOR_USB_POWER_INIT;

	open_dev(BOT);
	ck_assert_int_eq(ostor_usb_power_set(dev, 1, 150), 0);
	ck_assert_int_eq(ostor_usb_power_get(dev, &p), 0);
	ck_assert_str_eq(p.control, "auto");
	ck_assert_int_eq(p.autosuspend_delay_ms, 150);
	/* -1 leaves a value as it is */
	ck_assert_int_eq(ostor_usb_power_set(dev, -1, 0), 0);
	ck_assert_int_eq(ostor_usb_power_get(dev, &p), 0);
	ck_assert_str_eq(p.control, "auto");
	ck_assert_int_eq(p.autosuspend_delay_ms, 0);
	ck_assert_int_eq(ostor_usb_power_set(dev, 0, -1), 0);
	ck_assert_int_eq(ostor_usb_power_get(dev, &p), 0);
	ck_assert_str_eq(p.control, "on");
	ck_assert_int_eq(p.autosuspend_delay_ms, 0);
	ck_assert_int_eq(ostor_usb_power_set(dev, 2, -1), OSTOR_ERROR_INVALID_PARAM);
	ck_assert_int_eq(ostor_usb_power_set(dev, 1, -5), OSTOR_ERROR_INVALID_PARAM);
	ck_assert_int_eq(ostor_usb_power_manage(dev, 5, 10), OSTOR_ERROR_INVALID_PARAM);
}
END_TEST

START_TEST(power_not_usb)
{
	struct ostor_usb_power p = OSTOR_USB_POWER_INIT;

	ck_assert_int_eq(ostor_open(ctx, "sim:null", &dev), 0);
	ck_assert_int_eq(ostor_usb_power_get(dev, &p), OSTOR_ERROR_NOT_SUPPORTED);
	ck_assert(strstr(ostor_last_error(), "not a USB device") != NULL);
	ck_assert_int_eq(ostor_usb_power_set(dev, 1, 100), OSTOR_ERROR_NOT_SUPPORTED);
	ck_assert_int_eq(ostor_usb_power_manage(dev, 1, 100), OSTOR_ERROR_NOT_SUPPORTED);
	ostor_close(dev);
	ck_assert_int_eq(ostor_open(ctx, "sim:size=1M", &dev), 0);
	ck_assert_int_eq(ostor_usb_power_get(dev, &p), OSTOR_ERROR_NOT_SUPPORTED);
}
END_TEST

/* Idle: the timer allows suspend; the next command resumes first and
 * succeeds. */
START_TEST(power_manage_idle_then_resume)
{
	struct ostor_usb_power p = OSTOR_USB_POWER_INIT;
	struct ostor_counter c[64];
	uint8_t w[8 * 512], r[8 * 512];
	uint64_t resumes = 0, allowed = 0;
	struct sim_usb *m = open_dev(BOT);
	int n;

	for (size_t i = 0; i < sizeof(w); i++)
		w[i] = (uint8_t)(i * 7 + 1);
	ck_assert_int_eq(ostor_write_blocks(dev, 0, 0, 16, 8, w), 0);
	ck_assert_int_eq(ostor_usb_power_manage(dev, 1, 20), 0);
	ck_assert_int_eq(ostor_usb_power_get(dev, &p), 0);
	ck_assert_int_eq(p.suspend_allowed, 1);
	ck_assert_uint_eq(p.idle_ms, 20);
	ck_assert(!sim_usb_suspend_allowed(m));
	ck_assert_msg(loop_until_allowed(m, true, 5000), "the idle device was never allowed to suspend");
	ck_assert_int_eq(ostor_usb_power_get(dev, &p), 0);
	ck_assert_uint_eq(p.suspends_allowed, 1);
	ck_assert_uint_eq(p.resumes, 0);

	/* The command wakes it, then goes out. */
	memset(r, 0, sizeof(r));
	ck_assert_msg(ostor_read_blocks(dev, 0, 0, 16, 8, r) == 0, "read: %s", ostor_last_error());
	ck_assert_mem_eq(w, r, sizeof(r));
	ck_assert(!sim_usb_suspend_allowed(m));
	ck_assert_int_eq(ostor_usb_power_get(dev, &p), 0);
	ck_assert_uint_eq(p.resumes, 1);
	ck_assert_uint_eq(mstats(m).io_while_suspended, 0);

	/* ...and it idles again. */
	ck_assert(loop_until_allowed(m, true, 5000));
	ck_assert_int_eq(ostor_usb_power_get(dev, &p), 0);
	ck_assert_uint_eq(p.suspends_allowed, 2);

	/* The counters of ostor_transport_counters. */
	n = ostor_transport_counters(dev, c, 64);
	ck_assert_int_gt(n, 0);
	for (int i = 0; i < n && i < 64; i++) {
		if (!strcmp(c[i].name, "usb_power_resumes"))
			resumes = c[i].value;
		if (!strcmp(c[i].name, "usb_power_suspends_allowed"))
			allowed = c[i].value;
	}
	ck_assert_uint_eq(resumes, 1);
	ck_assert_uint_eq(allowed, 2);

	/* Off: the device is resumed at once (not counted as a command's
	 * resume) and stays awake. */
	ck_assert_int_eq(ostor_usb_power_manage(dev, 0, 0), 0);
	ck_assert(!sim_usb_suspend_allowed(m));
	ck_assert_int_eq(ostor_usb_power_get(dev, &p), 0);
	ck_assert_int_eq(p.suspend_allowed, 0);
	ck_assert_uint_eq(p.resumes, 1);
	for (int i = 0; i < 10; i++)
		ostor_handle_events(ctx, 10);
	ck_assert(!sim_usb_suspend_allowed(m));
	ck_assert_uint_eq(mstats(m).io_while_suspended, 0);
}
END_TEST

/* No suspend while commands keep coming. */
START_TEST(power_busy_device_stays_awake)
{
	uint8_t r[512];
	struct sim_usb *m = open_dev(BOT);
	uint64_t end;

	ck_assert_int_eq(ostor_usb_power_manage(dev, 1, 200), 0);
	end = ostori_now_ms() + 600;
	while (ostori_now_ms() < end) {
		ck_assert_int_eq(ostor_read_blocks(dev, 0, 0, 0, 1, r), 0);
		ck_assert(!sim_usb_suspend_allowed(m));
		usleep(20000);
	}
	ck_assert_uint_eq(sim_usb_suspend(m)->suspends_allowed, 0);
}
END_TEST

/* The other reason to wake: a transport reset talks to the device. */
START_TEST(power_reset_wakes)
{
	struct sim_usb *m = open_dev(BOT);

	ck_assert_int_eq(ostor_usb_power_manage(dev, 1, 10), 0);
	ck_assert(loop_until_allowed(m, true, 5000));
	ck_assert_int_eq(ostor_usb_reset(dev, OSTOR_USB_RESET_TRANSPORT), 0);
	ck_assert_uint_eq(mstats(m).io_while_suspended, 0);
	check_io_works(0, 0, 5);
}
END_TEST

/* Unplugged while suspended: the next command fails as it does today. */
START_TEST(power_unplug_while_suspended)
{
	uint8_t r[512];
	struct sim_usb *m = open_dev(BOT);
	int rc;

	ck_assert_int_eq(ostor_usb_power_manage(dev, 1, 10), 0);
	ck_assert(loop_until_allowed(m, true, 5000));
	sim_usb_unplug(m);
	rc = ostor_read_blocks(dev, 0, 0, 0, 1, r);
	ck_assert_msg(rc == OSTOR_ERROR_NO_DEVICE || rc == OSTOR_ERROR_IO, "read: %d %s", rc,
		      ostor_last_error());
	ck_assert_uint_eq(mstats(m).io_while_suspended, 0);
}
END_TEST

/* The configuration keys turn it on at open. */
START_TEST(power_from_config)
{
	char path[] = "/tmp/ostor-usb-power-XXXXXX";
	const char *text = "[usb_storage]\npower_management_enabled = true\npower_idle_ms = 15\n";
	struct ostor_usb_power p = OSTOR_USB_POWER_INIT;
	ostor_context *c;
	ostor_device *d;
	struct sim_usb *m;
	int fd = mkstemp(path);

	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(write(fd, text, strlen(text)), (ssize_t)strlen(text));
	close(fd);
	ck_assert_int_eq(ostor_init(&c, path), 0);
	unlink(path);
	ostor_set_log_level(c, OSTOR_LOG_NONE);
	ck_assert_int_eq(ostor_open(c, BOT, &d), 0);
	ck_assert_int_eq(ostor_usb_power_get(d, &p), 0);
	ck_assert_int_eq(p.suspend_allowed, 1);
	ck_assert_uint_eq(p.idle_ms, 15);
	m = sim_usb_of(d);
	for (uint64_t end = ostori_now_ms() + 5000; !sim_usb_suspend_allowed(m) && ostori_now_ms() < end;)
		ostor_handle_events(c, 10);
	ck_assert(sim_usb_suspend_allowed(m));
	/* idle_ms 0: the configured idle time */
	ck_assert_int_eq(ostor_usb_power_manage(d, 1, 0), 0);
	ck_assert_int_eq(ostor_usb_power_get(d, &p), 0);
	ck_assert_uint_eq(p.idle_ms, 15);
	ostor_close(d);
	ostor_exit(c);
}
END_TEST

/* ---- many threads racing the idle timer -------------------------------------- */

#define THREADS 4
#define ROUNDS 60

static atomic_bool stop_loop;
static atomic_uint failures;

static void *event_loop(void *arg)
{
	(void)arg;
	while (!atomic_load(&stop_loop))
		ostor_handle_events(ctx, 5);
	return NULL;
}

static void *reader(void *arg)
{
	unsigned int id = (unsigned int)(uintptr_t)arg, seed = id * 2654435761u;
	uint8_t buf[4 * 512];

	for (int i = 0; i < ROUNDS; i++) {
		uint32_t lba = (uint32_t)(id * 64 + (unsigned)(i % 8) * 4);
		int rc;

		rc = ostor_read_blocks(dev, 0, 0, lba, 4, buf);
		if (rc != 0 || buf[0] != (uint8_t)lba || buf[512] != (uint8_t)(lba + 1))
			atomic_fetch_add(&failures, 1);
		/* Gaps around the idle time: some commands find the device
		 * awake, some find it allowed to suspend, some race the timer. */
		seed = seed * 1103515245u + 12345u;
		usleep((seed >> 16) % 12000);
	}
	return NULL;
}

START_TEST(power_threads_race_the_timer)
{
	struct ostor_usb_power p = OSTOR_USB_POWER_INIT;
	pthread_t loop, th[THREADS];
	static uint8_t img[THREADS * 64 * 512 + 64 * 512];
	struct sim_usb *m = open_dev(BOT);

	/* Block k starts with k: every read checks it got its own data. */
	for (size_t b = 0; b < sizeof(img) / 512; b++)
		img[b * 512] = (uint8_t)b;
	ck_assert_int_eq(ostor_write_blocks(dev, 0, 0, 0, (uint32_t)(sizeof(img) / 512), img), 0);
	ck_assert_int_eq(ostor_usb_power_manage(dev, 1, 3), 0);
	atomic_store(&stop_loop, false);
	atomic_store(&failures, 0);
	ck_assert_int_eq(pthread_create(&loop, NULL, event_loop, NULL), 0);
	for (uintptr_t i = 0; i < THREADS; i++)
		ck_assert_int_eq(pthread_create(&th[i], NULL, reader, (void *)i), 0);
	for (int i = 0; i < THREADS; i++)
		pthread_join(th[i], NULL);
	atomic_store(&stop_loop, true);
	pthread_join(loop, NULL);

	ck_assert_uint_eq(atomic_load(&failures), 0);
	ck_assert_uint_eq(mstats(m).io_while_suspended, 0);
	ck_assert_int_eq(ostor_usb_power_get(dev, &p), 0);
	/* The gaps make both happen; the exact numbers depend on timing. */
	ck_assert_uint_gt(p.suspends_allowed, 0);
	ck_assert_uint_gt(p.resumes, 0);
	ck_assert_uint_le(p.resumes, p.suspends_allowed);
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("usb_power");
	TCase *tc = tcase_create("core");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, power_get_fields);
	tcase_add_test(tc, power_get_sizes);
	tcase_add_test(tc, power_set_in_memory);
	tcase_add_test(tc, power_not_usb);
	tcase_add_test(tc, power_manage_idle_then_resume);
	tcase_add_test(tc, power_busy_device_stays_awake);
	tcase_add_test(tc, power_reset_wakes);
	tcase_add_test(tc, power_unplug_while_suspended);
	tcase_add_test(tc, power_from_config);
	tcase_add_test(tc, power_threads_race_the_timer);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(suite());
	int failed;

	(void)rw;       /* shared helpers this file does not need */
	(void)estats;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
