/*
 * tests/unit/test_nbdkit_plugin.c - nbdkit-orionstor-plugin's device and
 * data path (plugins/nbdkit, all but the nbdkit callback table) against
 * simulated devices, with nbdkit's own functions replaced by stubs that
 * keep the last error: LUN discovery, unaligned and FUA writes (read-
 * modify-write under concurrency), zero, fast zero, trim, errors mapped
 * to the errno NBD knows (an injected MEDIUM ERROR is EIO with the sense
 * logged; a write-protected LUN EROFS; an unplugged device ESHUTDOWN for
 * every later request), the GET LBA STATUS decoder, and extents from
 * the sim's GET LBA STATUS (written, trimmed and never written blocks,
 * also over USB BOT and with writes still in the write-back cache).
 *
 * The nbdkit-loaded plugin itself is tests/tools/test-nbdkit.sh.
 */
#include "build-config.h"
#include "../../plugins/nbdkit/plugin.h"
#include "sim/backend.h"
#include "sim/target.h"
#if OSTOR_HAVE_USB
#include "usb/sim_device.h"
#endif

#include <check.h>
#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define NBDKIT_API_VERSION 2
#include <nbdkit-plugin.h>

/* ---- nbdkit's functions, as the server would provide them ----------- */

static char last_error[1024];
static int nerrors;

void nbdkit_error(const char *fs, ...)
{
	va_list ap;

	va_start(ap, fs);
	vsnprintf(last_error, sizeof(last_error), fs, ap);
	va_end(ap);
	nerrors++;
}

void nbdkit_debug(const char *fs, ...)
{
	(void)fs;
}

struct nbdkit_extents {
	int n;
	uint64_t offset[16], length[16];
	uint32_t type[16];
};

int nbdkit_add_extent(struct nbdkit_extents *e, uint64_t offset, uint64_t length, uint32_t type)
{
	if (e->n < 16) {
		e->offset[e->n] = offset;
		e->length[e->n] = length;
		e->type[e->n] = type;
		e->n++;
	}
	return 0;
}

/* ---- helpers ------------------------------------------------------- */

static void open_dev(const char *spec)
{
	int r = onbd_device_open("", spec, -1, -1);

	ck_assert_msg(r == 0, "open %s: %s", spec, last_error);
}

static void close_dev(void)
{
	ck_assert_int_eq(onbd_device_close(), 0);
}

static void fill(uint8_t *p, size_t n, unsigned seed)
{
	for (size_t i = 0; i < n; i++)
		p[i] = (uint8_t)(seed * 131 + i * 7 + (i >> 9));
}

/* ---- tests --------------------------------------------------------- */

START_TEST(errno_mapping)
{
	ck_assert_int_eq(onbd_errno(0, false), 0);
	ck_assert_int_eq(onbd_errno(OSTOR_ERROR_IO, false), EIO);
	ck_assert_int_eq(onbd_errno(OSTOR_ERROR_SCSI, true), EIO);
	ck_assert_int_eq(onbd_errno(OSTOR_ERROR_TIMEOUT, false), EIO);
	ck_assert_int_eq(onbd_errno(OSTOR_ERROR_NO_MEDIUM, false), EIO);
	ck_assert_int_eq(onbd_errno(OSTOR_ERROR_WRITE_PROTECTED, true), EROFS);
	ck_assert_int_eq(onbd_errno(OSTOR_ERROR_ACCESS, true), EPERM);
	ck_assert_int_eq(onbd_errno(OSTOR_ERROR_NO_DEVICE, false), ESHUTDOWN);
	ck_assert_int_eq(onbd_errno(OSTOR_ERROR_OUT_OF_RANGE, false), EINVAL);
	ck_assert_int_eq(onbd_errno(OSTOR_ERROR_OUT_OF_RANGE, true), ENOSPC);
	ck_assert_int_eq(onbd_errno(OSTOR_ERROR_NOT_SUPPORTED, true), ENOTSUP);
	ck_assert_int_eq(onbd_errno(OSTOR_ERROR_NO_MEM, false), ENOMEM);
	ck_assert_int_eq(onbd_errno(OSTOR_ERROR_INVALID_PARAM, false), EINVAL);
	ck_assert_int_eq(onbd_errno(OSTOR_ERROR_OTHER, false), EIO);
}
END_TEST

START_TEST(luns_become_exports)
{
	open_dev("sim:size=1M,luns=3");
	ck_assert_uint_eq(onbd.nluns, 3);
	ck_assert_str_eq(onbd.luns[0].name, "0:0");
	ck_assert_str_eq(onbd.luns[2].name, "0:2");
	ck_assert_ptr_eq(onbd_find_lun(""), &onbd.luns[0]);
	ck_assert_ptr_eq(onbd_find_lun("0:1"), &onbd.luns[1]);
	ck_assert_ptr_null(onbd_find_lun("0:3"));
	ck_assert_uint_eq(onbd.luns[1].block_size, 512);
	ck_assert_uint_eq(onbd.luns[1].blocks, 2048);
	ck_assert(!onbd.luns[0].readonly);
	/* The sim's LBP VPD: UNMAP, WRITE SAME with UNMAP, zeros after. */
	ck_assert(onbd.luns[0].unmap);
	ck_assert(onbd.luns[0].ws_unmap);
	ck_assert(onbd.luns[0].lbprz);
	close_dev();
	/* target=/lun= pick the default export; a missing one is refused. */
	ck_assert_int_eq(onbd_device_open("", "sim:size=1M,luns=3", 0, 2), 0);
	ck_assert_ptr_eq(onbd_find_lun(""), &onbd.luns[2]);
	close_dev();
	ck_assert_int_eq(onbd_device_open("", "sim:size=1M,luns=3", 0, 7), -1);
	ck_assert_msg(strstr(last_error, "0:0, 0:1, 0:2"), "%s", last_error);
	onbd_device_close();
}
END_TEST

START_TEST(aligned_unaligned_and_fua)
{
	static uint8_t want[64 * 1024], got[64 * 1024], chunk[20000];
	struct onbd_lun *L;

	open_dev("sim:size=1M,block-size=4096");
	L = onbd_find_lun("");
	ck_assert_uint_eq(L->block_size, 4096);
	memset(want, 0, sizeof(want));
	/* Aligned. */
	fill(want, 16384, 1);
	ck_assert_int_eq(onbd_pwrite(L, want, 16384, 0, 0), 0);
	/* Unaligned at both ends, then inside one block, then FUA. */
	fill(chunk, sizeof(chunk), 2);
	memcpy(want + 1000, chunk, 20000);
	ck_assert_int_eq(onbd_pwrite(L, chunk, 20000, 1000, 0), 0);
	fill(chunk, 100, 3);
	memcpy(want + 30000, chunk, 100);
	ck_assert_int_eq(onbd_pwrite(L, chunk, 100, 30000, 0), 0);
	fill(chunk, 12288, 4);
	memcpy(want + 40960, chunk, 12288);
	ck_assert_int_eq(onbd_pwrite(L, chunk, 12288, 40960, NBDKIT_FLAG_FUA), 0);
	fill(chunk, 5000, 5);
	memcpy(want + 55555, chunk, 5000);
	ck_assert_int_eq(onbd_pwrite(L, chunk, 5000, 55555, NBDKIT_FLAG_FUA), 0);
	ck_assert_int_eq(onbd_flush(L, 0), 0);
	/* Read back whole and at odd offsets. */
	ck_assert_int_eq(onbd_pread(L, got, sizeof(got), 0, 0), 0);
	ck_assert_mem_eq(got, want, sizeof(got));
	ck_assert_int_eq(onbd_pread(L, got, 9999, 777, 0), 0);
	ck_assert_mem_eq(got, want + 777, 9999);
	ck_assert_int_eq(onbd_pread(L, got, 10, 4090, 0), 0);
	ck_assert_mem_eq(got, want + 4090, 10);
	close_dev();
}
END_TEST

START_TEST(zero_trim_fast_zero)
{
	static uint8_t buf[32 * 512], zero[32 * 512];
	struct onbd_lun *L;

	open_dev("sim:size=1M");
	L = onbd_find_lun("");
	fill(buf, sizeof(buf), 6);
	ck_assert_int_eq(onbd_pwrite(L, buf, sizeof(buf), 0, 0), 0);
	/* Unaligned zero: partial blocks patched, the middle WRITE SAME. */
	ck_assert_int_eq(onbd_zero(L, 3000, 100, 0), 0);
	memset(buf + 100, 0, 3000);
	/* Fast zero: WRITE SAME works on the sim, and is remembered. */
	ck_assert_int_eq(onbd_zero(L, 2048, 4096, NBDKIT_FLAG_FAST_ZERO | NBDKIT_FLAG_MAY_TRIM), 0);
	memset(buf + 4096, 0, 2048);
	ck_assert_int_eq(atomic_load(&L->write_same), 1);
	ck_assert_int_eq(onbd_zero(L, 1024, 8192, NBDKIT_FLAG_FUA), 0);
	memset(buf + 8192, 0, 1024);
	ck_assert_int_eq(onbd_pread(L, zero, sizeof(zero), 0, 0), 0);
	ck_assert_mem_eq(zero, buf, sizeof(buf));
	/* Trim: whole blocks only; the sim reads them back as zeros. */
	ck_assert_int_eq(onbd_trim(L, 2048 + 200, 10240 - 100, NBDKIT_FLAG_FUA), 0);
	memset(buf + 10240, 0, 2048);
	ck_assert_int_eq(onbd_pread(L, zero, sizeof(zero), 0, 0), 0);
	ck_assert_mem_eq(zero, buf, sizeof(buf));
	close_dev();
}
END_TEST

START_TEST(medium_error_is_eio)
{
	static uint8_t buf[4096];
	struct sim_target *tgt;
	struct onbd_lun *L;

	open_dev("sim:size=1M");
	L = onbd_find_lun("");
	ck_assert_int_eq(onbd_pread(L, buf, sizeof(buf), 0, 0), 0);
	tgt = ostori_sim_device_target(onbd.dev);
	/* Every command fails with MEDIUM ERROR, unrecovered read error,
	 * for longer than any retry. */
	ck_assert_int_eq(sim_target_inject_check(tgt, 0, -1, 64, OSTOR_SCSI_SENSE_MEDIUM_ERROR, 0x11, 0), 0);
	nerrors = 0;
	errno = 0;
	ck_assert_int_eq(onbd_pread(L, buf, sizeof(buf), 0, 0), -1);
	ck_assert_int_eq(errno, EIO);
	ck_assert_int_ge(nerrors, 1);
	/* The log names what failed and what the device said. */
	ck_assert_msg(strstr(last_error, "0:0: read of 8 blocks at LBA 0"), "%s", last_error);
	ck_assert_msg(strcasestr(last_error, "medium error"), "%s", last_error);
	ck_assert_msg(strcasestr(last_error, "unrecovered read error"), "%s", last_error);
	errno = 0;
	ck_assert_int_eq(onbd_pwrite(L, buf, 512, 0, NBDKIT_FLAG_FUA), -1);
	ck_assert_int_eq(errno, EIO);
	sim_target_clear_faults(tgt);
	ck_assert_int_eq(onbd_pread(L, buf, sizeof(buf), 0, 0), 0);
	close_dev();
}
END_TEST

START_TEST(write_protected_is_erofs)
{
	static uint8_t buf[512];
	struct onbd_lun *L;

	open_dev("sim:size=1M,readonly");
	L = onbd_find_lun("");
	ck_assert(L->readonly);
	ck_assert(!L->unmap);
	ck_assert_int_eq(onbd_pread(L, buf, sizeof(buf), 0, 0), 0);
	/* nbdkit never sends a write to a read-only export; if one came,
	 * the device's DATA PROTECT becomes EROFS (NBD_EPERM). */
	errno = 0;
	ck_assert_int_eq(onbd_pwrite(L, buf, sizeof(buf), 0, 0), -1);
	ck_assert_int_eq(errno, EROFS);
	errno = 0;
	ck_assert_int_eq(onbd_pwrite(L, buf, 100, 7, NBDKIT_FLAG_FUA), -1);
	ck_assert_int_eq(errno, EROFS);
	close_dev();
}
END_TEST

#if OSTOR_HAVE_USB
START_TEST(unplug_is_eshutdown)
{
	static uint8_t buf[4096];
	struct onbd_lun *L;

	open_dev("sim:transport=usb-bot,size=1M");
	L = onbd_find_lun("");
	ck_assert_int_eq(onbd_pwrite(L, buf, sizeof(buf), 0, 0), 0);
	sim_usb_unplug(sim_usb_of(onbd.dev));
	errno = 0;
	ck_assert_int_eq(onbd_pread(L, buf, sizeof(buf), 0, 0), -1);
	ck_assert_int_eq(errno, ESHUTDOWN);
	ck_assert(atomic_load(&onbd.gone));
	/* Every later request fails the same way, at once. */
	errno = 0;
	ck_assert_int_eq(onbd_pwrite(L, buf, sizeof(buf), 0, 0), -1);
	ck_assert_int_eq(errno, ESHUTDOWN);
	errno = 0;
	ck_assert_int_eq(onbd_flush(L, 0), -1);
	ck_assert_int_eq(errno, ESHUTDOWN);
	onbd_device_close();
}
END_TEST
#endif

/* Threads patch disjoint byte ranges that share blocks: a read-modify-
 * write that lost another's bytes would show. */
#define RMW_THREADS 4
#define RMW_ROUNDS 200
struct rmw_arg {
	struct onbd_lun *L;
	int id;
	int failed;
};

static void *rmw_thread(void *p)
{
	struct rmw_arg *a = p;
	uint8_t bytes[100];

	for (int round = 0; round < RMW_ROUNDS && !a->failed; round++) {
		memset(bytes, (a->id << 5) | (round & 31), sizeof(bytes));
		/* Thread k owns bytes [k*128, k*128+100) of blocks 0 and 1;
		 * thread 0 also writes block 2 whole, aligned. */
		if (onbd_pwrite(a->L, bytes, sizeof(bytes), (uint64_t)a->id * 128, 0) < 0 ||
		    onbd_pwrite(a->L, bytes, sizeof(bytes), 512 + (uint64_t)a->id * 128, NBDKIT_FLAG_FUA) < 0)
			a->failed = 1;
	}
	return NULL;
}

START_TEST(concurrent_read_modify_write)
{
	pthread_t th[RMW_THREADS];
	struct rmw_arg args[RMW_THREADS];
	static uint8_t got[1024];
	struct onbd_lun *L;

	open_dev("sim:size=1M,queues=2");
	L = onbd_find_lun("");
	for (int i = 0; i < RMW_THREADS; i++) {
		args[i] = (struct rmw_arg){ L, i, 0 };
		ck_assert_int_eq(pthread_create(&th[i], NULL, rmw_thread, &args[i]), 0);
	}
	for (int i = 0; i < RMW_THREADS; i++) {
		pthread_join(th[i], NULL);
		ck_assert_int_eq(args[i].failed, 0);
	}
	ck_assert_int_eq(onbd_pread(L, got, sizeof(got), 0, 0), 0);
	for (int i = 0; i < RMW_THREADS; i++)
		for (int b = 0; b < 2; b++)
			for (int k = 0; k < 100; k++)
				ck_assert_msg(got[b * 512 + i * 128 + k] == ((i << 5) | ((RMW_ROUNDS - 1) & 31)),
					      "thread %d block %d byte %d lost its last write", i, b, k);
	close_dev();
}
END_TEST

START_TEST(lba_status_decoding)
{
	uint8_t cdb[16], buf[8 + 3 * 16];
	struct onbd_lba_status d[4];

	onbd_cdb_get_lba_status(cdb, 0x0102030405060708ull, 0x1000);
	ck_assert_uint_eq(cdb[0], 0x9e);
	ck_assert_uint_eq(cdb[1], 0x12);
	ck_assert_uint_eq(cdb[2], 0x01);
	ck_assert_uint_eq(cdb[9], 0x08);
	ck_assert_uint_eq(cdb[12], 0x10);
	ck_assert_uint_eq(cdb[13], 0x00);
	memset(buf, 0, sizeof(buf));
	buf[3] = 4 + 3 * 16;                  /* parameter data length */
	/* mapped 0..99, deallocated 100..149, anchored 150..150 */
	buf[8 + 11] = 100;
	buf[24 + 7] = 100; buf[24 + 11] = 50; buf[24 + 12] = 1;
	buf[40 + 7] = 150; buf[40 + 11] = 1; buf[40 + 12] = 2;
	ck_assert_int_eq(onbd_parse_lba_status(buf, sizeof(buf), d, 4), 3);
	ck_assert_uint_eq(d[0].lba, 0);
	ck_assert_uint_eq(d[0].blocks, 100);
	ck_assert_uint_eq(d[0].status, 0);
	ck_assert_uint_eq(d[1].lba, 100);
	ck_assert_uint_eq(d[1].status, 1);
	ck_assert_uint_eq(d[2].lba, 150);
	ck_assert_uint_eq(d[2].status, 2);
	/* Truncated by the allocation length: the whole descriptors. */
	ck_assert_int_eq(onbd_parse_lba_status(buf, 8 + 16 + 5, d, 4), 1);
	ck_assert_int_eq(onbd_parse_lba_status(buf, sizeof(buf), d, 2), 2);
	/* Malformed: a length that is not whole descriptors, a 0-block one. */
	buf[3] = 4 + 3 * 16 - 1;
	ck_assert_int_eq(onbd_parse_lba_status(buf, sizeof(buf), d, 4), -1);
	buf[3] = 4 + 3 * 16;
	buf[40 + 11] = 0;
	ck_assert_int_eq(onbd_parse_lba_status(buf, sizeof(buf), d, 4), -1);
	ck_assert_int_eq(onbd_parse_lba_status(buf, 4, d, 4), -1);
}
END_TEST

#define HOLE_ZERO (NBDKIT_EXTENT_HOLE | NBDKIT_EXTENT_ZERO)

static void ck_extent_(const struct nbdkit_extents *e, int i, uint64_t off, uint64_t len,
		       uint32_t type, int line)
{
	ck_assert_msg(i < e->n, "line %d: extent %d missing (%d)", line, i, e->n);
	ck_assert_msg(e->offset[i] == off && e->length[i] == len && e->type[i] == type,
		      "line %d: extent %d is %llu+%llu type %u, want %llu+%llu type %u", line, i,
		      (unsigned long long)e->offset[i], (unsigned long long)e->length[i], e->type[i],
		      (unsigned long long)off, (unsigned long long)len, type);
}
#define ck_extent(e, i, off, len, type) ck_extent_(&(e), i, off, len, type, __LINE__)

/* Extents of a sim LUN: never written and trimmed blocks are holes that
 * read as zeros, written ones data (GET LBA STATUS of the sim). */
static void extents_of(const char *spec, uint64_t bs)
{
	const uint64_t last = (1 << 20) - bs;

	static uint8_t buf[16384];
	struct nbdkit_extents e;
	struct onbd_lun *L;

	open_dev(spec);
	L = onbd_find_lun("");
	ck_assert_msg(L->lba_status, "%s: the GET LBA STATUS probe failed", spec);
	ck_assert(L->lbprz);
	memset(&e, 0, sizeof(e));
	ck_assert_int_eq(onbd_extents(L, 1 << 20, 0, 0, &e), 0);
	ck_assert_int_eq(e.n, 1);
	ck_extent(e, 0, 0, 1 << 20, HOLE_ZERO);

	fill(buf, sizeof(buf), 8);
	ck_assert_int_eq(onbd_pwrite(L, buf, 16384, 4096, 0), 0);
	ck_assert_int_eq(onbd_pwrite(L, buf, 512, (1 << 20) - 512, 0), 0);
	ck_assert_int_eq(onbd_trim(L, 4096, 8192, 0), 0);
	memset(&e, 0, sizeof(e));
	ck_assert_int_eq(onbd_extents(L, 1 << 20, 0, 0, &e), 0);
	ck_assert_int_eq(e.n, 6);
	ck_extent(e, 0, 0, 4096, HOLE_ZERO);
	ck_extent(e, 1, 4096, 4096, 0);
	ck_extent(e, 2, 8192, 4096, HOLE_ZERO);
	ck_extent(e, 3, 12288, 8192, 0);
	ck_extent(e, 4, 20480, last - 20480, HOLE_ZERO);
	ck_extent(e, 5, last, bs, 0);
	/* The last block is there too, asked for from inside the hole. */
	memset(&e, 0, sizeof(e));
	ck_assert_int_eq(onbd_extents(L, (1 << 20) - 30000, 30000, 0, &e), 0);
	ck_assert_int_eq(e.n, 2);
	ck_extent(e, 0, 30000 / bs * bs, last - 30000 / bs * bs, HOLE_ZERO);
	ck_extent(e, 1, last, bs, 0);
	/* REQ_ONE: the first extent only. */
	memset(&e, 0, sizeof(e));
	ck_assert_int_eq(onbd_extents(L, 1 << 20, 5000, NBDKIT_FLAG_REQ_ONE, &e), 0);
	ck_assert_int_eq(e.n, 1);
	ck_extent(e, 0, 5000 / bs * bs, 8192 - 5000 / bs * bs, 0);
	/* The holes read as zeros. */
	ck_assert_int_eq(onbd_pread(L, buf, 4096, 8192, 0), 0);
	for (int i = 0; i < 4096; i++)
		ck_assert_uint_eq(buf[i], 0);
	/* A write and nothing after it that would write the cache out. */
	fill(buf, 8192, 9);
	ck_assert_int_eq(onbd_pwrite(L, buf, 8192, 65536, 0), 0);
	memset(&e, 0, sizeof(e));
	ck_assert_int_eq(onbd_extents(L, 16384, 61440, 0, &e), 0);
	ck_assert_int_eq(e.n, 3);
	ck_extent(e, 0, 61440, 4096, HOLE_ZERO);
	ck_extent(e, 1, 65536, 8192, 0);
	ck_extent(e, 2, 73728, last - 73728, HOLE_ZERO);
	close_dev();
}

START_TEST(extents_from_sim)
{
	extents_of("sim:size=1M", 512);
	extents_of("sim:size=1M,block-size=4096,queues=2", 4096);
#if OSTOR_HAVE_USB
	extents_of("sim:transport=usb-bot,size=1M", 512);
#endif
	/* Written blocks still in the write-back cache: GET LBA STATUS
	 * writes them out first, or they would be holes of zeros. */
	extents_of("sim:size=1M,cache=wb", 512);
}
END_TEST

/* A null LUN tracks nothing: one data extent. */
START_TEST(extents_null_sim)
{
	struct nbdkit_extents e;
	struct onbd_lun *L;

	open_dev("sim:size=1M,null");
	L = onbd_find_lun("");
	ck_assert(L->lba_status);
	memset(&e, 0, sizeof(e));
	ck_assert_int_eq(onbd_extents(L, 65536, 1024, 0, &e), 0);
	ck_assert_int_eq(e.n, 1);
	ck_extent(e, 0, 1024, (1 << 20) - 1024, 0);
	close_dev();
}
END_TEST

/* A fully provisioned LUN: not probed, no extents (nbdkit calls it all
 * data), no trim. */
START_TEST(extents_thick_sim)
{
	struct onbd_lun *L;

	open_dev("sim:size=1M,thick");
	L = onbd_find_lun("");
	ck_assert(!L->lba_status);
	ck_assert(!L->unmap);
	ck_assert(!L->ws_unmap);
	ck_assert(!L->lbprz);
	close_dev();
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("nbdkit_plugin");
	TCase *tc = tcase_create("plugin");

	tcase_set_timeout(tc, 300);
	tcase_add_test(tc, errno_mapping);
	tcase_add_test(tc, luns_become_exports);
	tcase_add_test(tc, aligned_unaligned_and_fua);
	tcase_add_test(tc, zero_trim_fast_zero);
	tcase_add_test(tc, medium_error_is_eio);
	tcase_add_test(tc, write_protected_is_erofs);
#if OSTOR_HAVE_USB
	tcase_add_test(tc, unplug_is_eshutdown);
#endif
	tcase_add_test(tc, concurrent_read_modify_write);
	tcase_add_test(tc, lba_status_decoding);
	tcase_add_test(tc, extents_from_sim);
	tcase_add_test(tc, extents_null_sim);
	tcase_add_test(tc, extents_thick_sim);
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
