/*
 * tests/unit/test_alloc_fail.c - fault matrix case 38 of issue 14: the
 * library's allocations (malloc, calloc, realloc, strdup, strndup,
 * aligned_alloc, posix_memalign) and mmaps fail one at a time.  The
 * program is linked with --wrap for each (tests/unit/local.mk), so the
 * library's calls reach the counters below; the Nth one fails, for every
 * N, around init, open, I/O, flush and close on each simulated transport:
 * every call ends with a clean error or success, data that was reported
 * written reads back, and nothing leaks (LeakSanitizer, in the
 * --enable-sanitizers build) or crashes.  Also: libusb failing at init
 * and enumeration, more requests than ring slots and than the USB engine
 * holds.
 */
#include "core/backend.h"

#include <check.h>
#include <errno.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

/* ---- the injector ---------------------------------------------------------- */

static atomic_bool armed;
static atomic_long calls;    /* allocations since armed */
static atomic_long fail_at;  /* the one that fails (1-based) */
static atomic_long injected;

static bool inject(void)
{
	if (!atomic_load(&armed))
		return false;
	if (atomic_fetch_add(&calls, 1) + 1 != atomic_load(&fail_at))
		return false;
	atomic_fetch_add(&injected, 1);
	errno = ENOMEM;
	return true;
}

void *__real_malloc(size_t n);
void *__real_calloc(size_t n, size_t size);
void *__real_realloc(void *p, size_t n);
char *__real_strdup(const char *s);
char *__real_strndup(const char *s, size_t n);
void *__real_aligned_alloc(size_t align, size_t n);
int __real_posix_memalign(void **p, size_t align, size_t n);
void *__real_mmap(void *addr, size_t len, int prot, int flags, int fd, off_t off);
void *__wrap_malloc(size_t n);
void *__wrap_calloc(size_t n, size_t size);
void *__wrap_realloc(void *p, size_t n);
char *__wrap_strdup(const char *s);
char *__wrap_strndup(const char *s, size_t n);
void *__wrap_aligned_alloc(size_t align, size_t n);
int __wrap_posix_memalign(void **p, size_t align, size_t n);
void *__wrap_mmap(void *addr, size_t len, int prot, int flags, int fd, off_t off);

void *__wrap_malloc(size_t n)
{
	return inject() ? NULL : __real_malloc(n);
}

void *__wrap_calloc(size_t n, size_t size)
{
	return inject() ? NULL : __real_calloc(n, size);
}

void *__wrap_realloc(void *p, size_t n)
{
	return inject() ? NULL : __real_realloc(p, n);
}

char *__wrap_strdup(const char *s)
{
	return inject() ? NULL : __real_strdup(s);
}

char *__wrap_strndup(const char *s, size_t n)
{
	return inject() ? NULL : __real_strndup(s, n);
}

void *__wrap_aligned_alloc(size_t align, size_t n)
{
	return inject() ? NULL : __real_aligned_alloc(align, n);
}

int __wrap_posix_memalign(void **p, size_t align, size_t n)
{
	return inject() ? ENOMEM : __real_posix_memalign(p, align, n);
}

void *__wrap_mmap(void *addr, size_t len, int prot, int flags, int fd, off_t off)
{
	return inject() ? MAP_FAILED : __real_mmap(addr, len, prot, flags, fd, off);
}

/* ---- the scenario -------------------------------------------------------------- */

/* 0, or an error code the library defines, with its message. */
static void ck_clean(int r, const char *what, long n)
{
	ck_assert_msg(r <= 0, "%s (allocation %ld failed): returned %d", what, n, r);
	if (r < 0 && getenv("ALLOC_FAIL_VERBOSE"))
		fprintf(stderr, "allocation %ld failed: %s: %s\n", n, what, ostor_last_error());
	if (r < 0) {
		ck_assert_msg(strcmp(ostor_error_name(r), "unknown") != 0, "%s (allocation %ld failed): "
			      "unknown error %d", what, n, r);
		ck_assert_msg(ostor_last_error()[0] != 0, "%s (allocation %ld failed): no message", what, n);
	}
}

static void fill(uint8_t *p, size_t len, unsigned int seed)
{
	for (size_t i = 0; i < len; i++)
		p[i] = (uint8_t)(i * 7 + seed * 13 + (i >> 9));
}

/* Only the library's calls are armed: Check allocates too. */
#define ARMED(stmt) do { \
		atomic_store(&armed, true); \
		stmt; \
		atomic_store(&armed, false); \
	} while (0)

/* Init, open, write, read, a raw command, flush, close and exit with
 * allocation n failing (0: none).  Returns whether it was reached. */
static bool scenario(const char *spec, long n)
{
	static uint8_t w[8 * 512], r[8 * 512], inq[36];
	static const uint8_t inquiry[6] = { 0x12, 0, 0, 0, 36, 0 };
	ostor_context *c = NULL;
	ostor_device *d = NULL;
	ostor_task *t = NULL;
	int rc, wr, rd;

	fill(w, sizeof(w), (unsigned int)n);
	memset(r, 0, sizeof(r));
	atomic_store(&calls, 0);
	atomic_store(&injected, 0);
	atomic_store(&fail_at, n);

	ARMED(rc = ostor_init(&c, ""));
	ck_clean(rc, "ostor_init", n);
	if (rc < 0) {
		ck_assert_ptr_null(c);
		return atomic_load(&injected) > 0;
	}
	ostor_set_log_level(c, OSTOR_LOG_NONE);
	ARMED(rc = ostor_open(c, spec, &d));
	ck_clean(rc, "ostor_open", n);
	if (rc == 0) {
		ARMED(wr = ostor_write_blocks(d, 0, 0, 16, 8, w));
		ck_clean(wr, "ostor_write_blocks", n);
		ARMED(rd = ostor_read_blocks(d, 0, 0, 16, 8, r));
		ck_clean(rd, "ostor_read_blocks", n);
		/* Written and read back: the same bytes. */
		if (wr == 0 && rd == 0)
			ck_assert_msg(memcmp(w, r, sizeof(r)) == 0, "%s: data differs (allocation %ld failed)",
				      spec, n);
		ARMED(rc = ostor_task_new(d, &t));
		ck_clean(rc, "ostor_task_new", n);
		if (rc == 0) {
			ARMED(rc = ostor_task_prepare(t, 0, 0, inquiry, sizeof(inquiry), OSTOR_DIR_FROM_DEVICE,
						      inq, sizeof(inq)));
			ck_clean(rc, "ostor_task_prepare", n);
			if (rc == 0) {
				ARMED(rc = ostor_task_execute(t));
				ck_clean(rc, "ostor_task_execute", n);
			}
			ck_assert_int_eq(ostor_task_free(t), 0);
		}
		ARMED(rc = ostor_flush(d, 0, 0));
		ck_clean(rc, "ostor_flush", n);
		ARMED(rc = ostor_close(d));
		ck_clean(rc, "ostor_close", n);
	} else {
		ck_assert_ptr_null(d);
	}
	ARMED(ostor_exit(c));
	return atomic_load(&injected) > 0;
}

static const char *const specs[] = {
	"sim:size=1M",
	"sim:size=1M,transport=virtio",
	"sim:size=1M,transport=virtio,packed,intr,queues=2",
	"sim:size=1M,transport=usb-bot,usb-timeout=2000",
	"sim:size=1M,transport=usb-cbi,usb-timeout=2000",
	"sim:size=1M,transport=usb-cb,usb-timeout=2000",
	"sim:size=1M,cache=wb",
};

/* Every N from 1 until a run needs no failure: all sites, in turn. */
/* Whether this build has the spec's transport (--disable-usb/virtio). */
static bool transport_built(const char *spec)
{
	ostor_context *c;
	ostor_device *d;
	int r;

	ck_assert_int_eq(ostor_init(&c, ""), 0);
	ostor_set_log_level(c, OSTOR_LOG_NONE);
	r = ostor_open(c, spec, &d);
	ck_assert_msg(r == 0 || r == OSTOR_ERROR_NOT_SUPPORTED, "%s: %s", spec, ostor_last_error());
	if (r == 0)
		ck_assert_int_eq(ostor_close(d), 0);
	ostor_exit(c);
	return r == 0;
}

START_TEST(fault_38_allocation_failure_every_site)
{
	long n;

	if (!transport_built(specs[_i]))
		return;
	ck_assert(!scenario(specs[_i], 0));
	for (n = 1; n < 100000 && scenario(specs[_i], n); n++)
		;
	ck_assert_msg(n > 10, "%s: only %ld allocations (the --wrap link flags missing?)", specs[_i], n - 1);
	if (getenv("ALLOC_FAIL_VERBOSE"))
		fprintf(stderr, "%s: %ld allocation sites\n", specs[_i], n - 1);
	/* And the library works normally afterwards. */
	ck_assert(!scenario(specs[_i], 0));
}
END_TEST

/* ---- libusb failing ---------------------------------------------------------------- */

#ifdef OSTOR_HAVE_USB
#include <libusb.h>

/* Which libusb call fails: none, init, or the device list. */
static atomic_int libusb_fails;
enum { LU_NONE, LU_INIT, LU_LIST };

int __real_libusb_init(libusb_context **c);
ssize_t __real_libusb_get_device_list(libusb_context *c, libusb_device ***list);
int __wrap_libusb_init(libusb_context **c);
ssize_t __wrap_libusb_get_device_list(libusb_context *c, libusb_device ***list);

int __wrap_libusb_init(libusb_context **c)
{
	return atomic_load(&libusb_fails) == LU_INIT ? LIBUSB_ERROR_NO_MEM : __real_libusb_init(c);
}

ssize_t __wrap_libusb_get_device_list(libusb_context *c, libusb_device ***list)
{
	return atomic_load(&libusb_fails) == LU_LIST ? LIBUSB_ERROR_NO_MEM : __real_libusb_get_device_list(c, list);
}

/* libusb failing at init or enumeration: usb: devices fail to open with
 * an error that says why, the rest of the library works on. */
START_TEST(fault_38_libusb_failures)
{
	ostor_context *c;
	ostor_device *d = NULL;
	ostor_device_info **list = NULL;
	ssize_t n;
	int r;

	atomic_store(&libusb_fails, _i ? LU_LIST : LU_INIT);
	ck_assert_int_eq(ostor_init(&c, ""), 0);
	ostor_set_log_level(c, OSTOR_LOG_NONE);
	r = ostor_open(c, "usb:0781:5567", &d);
	ck_assert_int_eq(r, _i ? OSTOR_ERROR_IO : OSTOR_ERROR_NOT_SUPPORTED);
	ck_assert_ptr_null(d);
	ck_assert_ptr_nonnull(strstr(ostor_last_error(), _i ? "libusb_get_device_list" : "libusb"));
	/* listing reports the USB part failing or leaves it out, no crash */
	n = ostor_get_device_list(c, &list);
	ck_clean(n < 0 ? (int)n : 0, "ostor_get_device_list", 0);
	if (n >= 0)
		ostor_free_device_list(list);
	ck_assert(!scenario("sim:size=1M", 0));
	ostor_exit(c);
	atomic_store(&libusb_fails, LU_NONE);
}
END_TEST
#endif

/* ---- more requests than ring slots / than the USB engine holds ------------------ */

struct done {
	atomic_int calls;
};

static void on_done(ostor_task *t, void *ud)
{
	atomic_fetch_add(&((struct done *)ud)->calls, 1);
}

static const char *const small_queues[] = {
	"sim:size=1M,transport=virtio,queue-size=8",
	"sim:size=1M,transport=virtio,packed,queue-size=4,no-indirect",
	"sim:size=1M,transport=usb-bot",
};

START_TEST(fault_38_more_requests_than_ring_slots)
{
	enum { N = 96 };
	static uint8_t bufs[N][1024], back[N * 1024];
	ostor_context *c;
	ostor_device *d;
	ostor_task *t[N];
	struct done done = { 0 };
	uint64_t deadline;

	if (!transport_built(small_queues[_i]))
		return;
	ck_assert_int_eq(ostor_init(&c, ""), 0);
	ostor_set_log_level(c, OSTOR_LOG_NONE);
	ck_assert_int_eq(ostor_open(c, small_queues[_i], &d), 0);
	for (int i = 0; i < N; i++) {
		uint8_t cdb[10] = { 0x2a, 0, 0, 0, (uint8_t)((i * 2) >> 8), (uint8_t)(i * 2), 0, 0, 2, 0 };

		fill(bufs[i], sizeof(bufs[i]), (unsigned int)i);
		ck_assert_int_eq(ostor_task_new(d, &t[i]), 0);
		ck_assert_int_eq(ostor_task_prepare(t[i], 0, 0, cdb, 10, OSTOR_DIR_TO_DEVICE, bufs[i],
						    sizeof(bufs[i])), 0);
		/* accepted (queued in software when the ring is full) */
		ck_assert_int_eq(ostor_task_submit(t[i], (struct ostor_completion){ on_done, &done, NULL }), 0);
	}
	deadline = ostori_now_ms() + 60000;
	while (atomic_load(&done.calls) < N && ostori_now_ms() < deadline)
		ostor_handle_events(c, 100);
	ck_assert_int_eq(atomic_load(&done.calls), N);
	for (int i = 0; i < N; i++) {
		ck_assert_int_eq(ostor_task_result(t[i]), OSTOR_RESULT_GOOD);
		ck_assert_int_eq(ostor_task_free(t[i]), 0);
	}
	ck_assert_int_eq(ostor_read_blocks(d, 0, 0, 0, N * 2, back), 0);
	for (int i = 0; i < N; i++)
		ck_assert_mem_eq(back + i * 1024, bufs[i], 1024);
	ck_assert_int_eq(ostor_close(d), 0);
	ostor_exit(c);
}
END_TEST

static Suite *alloc_suite(void)
{
	Suite *s = suite_create("alloc_fail");
	/* The fault matrix of issue 14, counted by tests/faults/fault-matrix.sh. */
	TCase *tc = tcase_create("fault_matrix");

	tcase_set_timeout(tc, 600);
	tcase_add_loop_test(tc, fault_38_allocation_failure_every_site, 0, (int)OSTOR_ARRAY_SIZE(specs));
	tcase_add_loop_test(tc, fault_38_more_requests_than_ring_slots, 0, (int)OSTOR_ARRAY_SIZE(small_queues));
#ifdef OSTOR_HAVE_USB
	tcase_add_loop_test(tc, fault_38_libusb_failures, 0, 2);
#endif
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(alloc_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
