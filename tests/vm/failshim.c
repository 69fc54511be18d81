/*
 * tests/vm/failshim.c - an LD_PRELOAD library for t-fault-setup.sh (fault
 * matrix case 38): calls that opening a real device makes, to the system
 * and to libusb, fail on request, so the guest can show what the library
 * and its tools do when they do - on QEMU's real devices, not simulated
 * ones.
 *
 * ORIONSTOR_FAILSHIM=CALL[,CALL...][:MATCH][@N]
 *   CALL   open (open, open64, openat, openat64), mmap (mmap, mmap64), or
 *          a libusb function: libusb_wrap_sys_device, libusb_open,
 *          libusb_claim_interface, libusb_set_configuration,
 *          libusb_alloc_transfer, libusb_submit_transfer,
 *          libusb_dev_mem_alloc
 *   MATCH  open: a substring of the path; mmap: of the path of the file
 *          mapped (anonymous mappings are "anon", of huge pages
 *          "anon-huge")
 *   N      fail only the Nth matching call (default: every one)
 * A failing open or mmap sets errno to ORIONSTOR_FAILSHIM_ERRNO (default
 * EACCES); a failing libusb call returns ORIONSTOR_FAILSHIM_LIBUSB (default
 * LIBUSB_ERROR_ACCESS, -3), or NULL.
 * Each failure is said on standard error ("failshim: failing ..."), so the
 * test knows the call was reached.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/types.h>
#include <unistd.h>

#define LIBUSB_ERROR_ACCESS (-3)

static char want_call[400], want_match[384];
static long want_nth;            /* 0: every matching call */
static atomic_long seen;
static int fail_errno = EACCES, fail_libusb = LIBUSB_ERROR_ACCESS;
static atomic_int parsed;

static void parse(void)
{
	const char *v, *e;
	char buf[384], *at, *colon;

	if (atomic_load(&parsed))
		return;
	v = getenv("ORIONSTOR_FAILSHIM");
	e = getenv("ORIONSTOR_FAILSHIM_ERRNO");
	if (e && *e)
		fail_errno = atoi(e);
	e = getenv("ORIONSTOR_FAILSHIM_LIBUSB");
	if (e && *e)
		fail_libusb = atoi(e);
	if (v && *v) {
		snprintf(buf, sizeof(buf), "%s", v);
		if ((at = strrchr(buf, '@'))) {
			*at = 0;
			want_nth = atol(at + 1);
		}
		if ((colon = strchr(buf, ':'))) {
			*colon = 0;
			snprintf(want_match, sizeof(want_match), "%s", colon + 1);
		}
		snprintf(want_call, sizeof(want_call), ",%s,", buf);
	}
	atomic_store(&parsed, 1);
}

/* Whether this call (a family name, and what it concerns) fails now. */
static int should_fail(const char *call, const char *what)
{
	long n;

	char key[80];

	parse();
	snprintf(key, sizeof(key), ",%s,", call);
	if (!want_call[0] || !strstr(want_call, key))
		return 0;
	if (want_match[0] && (!what || !strstr(what, want_match)))
		return 0;
	n = atomic_fetch_add(&seen, 1) + 1;
	if (want_nth && n != want_nth)
		return 0;
	fprintf(stderr, "failshim: failing %s (%s), call %ld\n", call, what ? what : "", n);
	return 1;
}

static void *next(const char *name)
{
	void *f = dlsym(RTLD_NEXT, name);

	if (!f) {
		fprintf(stderr, "failshim: no %s to call\n", name);
		abort();
	}
	return f;
}

/* ---- open --------------------------------------------------------------------- */

/* The mode argument, when the flags say there is one. */
#define MODE_ARG(flags, mode)                               \
	do {                                                \
		if ((flags) & (O_CREAT | O_TMPFILE)) {      \
			va_list ap;                         \
			va_start(ap, flags);                \
			mode = (mode_t)va_arg(ap, int);     \
			va_end(ap);                         \
		}                                           \
	} while (0)

#define NO_DIRFD (-1000)

static int open_via(const char *sym, int dirfd, const char *path, int flags, mode_t mode)
{
	if (should_fail("open", path)) {
		errno = fail_errno;
		return -1;
	}
	if (dirfd == NO_DIRFD)
		return ((int (*)(const char *, int, ...))next(sym))(path, flags, mode);
	return ((int (*)(int, const char *, int, ...))next(sym))(dirfd, path, flags, mode);
}

int open(const char *path, int flags, ...)
{
	mode_t mode = 0;

	MODE_ARG(flags, mode);
	return open_via("open", NO_DIRFD, path, flags, mode);
}

int open64(const char *path, int flags, ...)
{
	mode_t mode = 0;

	MODE_ARG(flags, mode);
	return open_via("open64", NO_DIRFD, path, flags, mode);
}

int openat(int dirfd, const char *path, int flags, ...)
{
	mode_t mode = 0;

	MODE_ARG(flags, mode);
	return open_via("openat", dirfd, path, flags, mode);
}

int openat64(int dirfd, const char *path, int flags, ...)
{
	mode_t mode = 0;

	MODE_ARG(flags, mode);
	return open_via("openat64", dirfd, path, flags, mode);
}

/* ---- mmap --------------------------------------------------------------------- */

static int mmap_fails(int fd, int flags)
{
	char link[64], path[512];
	ssize_t n;

	if (fd < 0 || (flags & MAP_ANONYMOUS))
		return should_fail("mmap", flags & MAP_HUGETLB ? "anon-huge" : "anon");
	snprintf(link, sizeof(link), "/proc/self/fd/%d", fd);
	n = readlink(link, path, sizeof(path) - 1);
	path[n > 0 ? n : 0] = 0;
	return should_fail("mmap", path);
}

static void *mmap_via(const char *sym, void *addr, size_t len, int prot, int flags, int fd, off_t off)
{
	if (mmap_fails(fd, flags)) {
		errno = fail_errno;
		return MAP_FAILED;
	}
	return ((void *(*)(void *, size_t, int, int, int, off_t))next(sym))(addr, len, prot, flags, fd, off);
}

void *mmap(void *addr, size_t len, int prot, int flags, int fd, off_t off)
{
	return mmap_via("mmap", addr, len, prot, flags, fd, off);
}

void *mmap64(void *addr, size_t len, int prot, int flags, int fd, off_t off)
{
	return mmap_via("mmap64", addr, len, prot, flags, fd, off);
}

/* ---- libusb ------------------------------------------------------------------- */

/* Declared here, not from libusb.h: the shim needs no libusb to build,
 * only the same symbols (pointers stand for libusb's types). */
int libusb_wrap_sys_device(void *ctx, intptr_t fd, void **handle);
int libusb_open(void *dev, void **handle);
int libusb_claim_interface(void *handle, int intf);
int libusb_set_configuration(void *handle, int config);
void *libusb_alloc_transfer(int iso_packets);
int libusb_submit_transfer(void *transfer);
unsigned char *libusb_dev_mem_alloc(void *handle, size_t len);

int libusb_wrap_sys_device(void *ctx, intptr_t fd, void **handle)
{
	if (should_fail("libusb_wrap_sys_device", NULL))
		return fail_libusb;
	return ((int (*)(void *, intptr_t, void **))next("libusb_wrap_sys_device"))(ctx, fd, handle);
}

int libusb_open(void *dev, void **handle)
{
	if (should_fail("libusb_open", NULL))
		return fail_libusb;
	return ((int (*)(void *, void **))next("libusb_open"))(dev, handle);
}

int libusb_claim_interface(void *handle, int intf)
{
	if (should_fail("libusb_claim_interface", NULL))
		return fail_libusb;
	return ((int (*)(void *, int))next("libusb_claim_interface"))(handle, intf);
}

int libusb_set_configuration(void *handle, int config)
{
	if (should_fail("libusb_set_configuration", NULL))
		return fail_libusb;
	return ((int (*)(void *, int))next("libusb_set_configuration"))(handle, config);
}

void *libusb_alloc_transfer(int iso_packets)
{
	if (should_fail("libusb_alloc_transfer", NULL))
		return NULL;
	return ((void *(*)(int))next("libusb_alloc_transfer"))(iso_packets);
}

int libusb_submit_transfer(void *transfer)
{
	if (should_fail("libusb_submit_transfer", NULL))
		return fail_libusb;
	return ((int (*)(void *))next("libusb_submit_transfer"))(transfer);
}

unsigned char *libusb_dev_mem_alloc(void *handle, size_t len)
{
	if (should_fail("libusb_dev_mem_alloc", NULL))
		return NULL;
	return ((unsigned char *(*)(void *, size_t))next("libusb_dev_mem_alloc"))(handle, len);
}
