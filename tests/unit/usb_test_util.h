/*
 * tests/unit/usb_test_util.h - shared helpers of the USB protocol tests
 * (test_usb_bot.c, test_usb_cbi.c): open a simulated USB device, run raw
 * commands, look at the model's counters.
 */
#ifndef USB_TEST_UTIL_H
#define USB_TEST_UTIL_H

#include "core/backend.h"
#include "sim/backend.h"
#include "sim/target.h"
#include "usb/sim_device.h"
#include "usb/engine.h"

#include <check.h>
#include <stdlib.h>
#include <string.h>

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
		ostor_close(dev);
	dev = NULL;
	ostor_exit(ctx);
	ctx = NULL;
}

static struct sim_usb *open_dev(const char *spec)
{
	int r = ostor_open(ctx, spec, &dev);
	struct sim_usb *m;

	ck_assert_msg(r == 0, "open %s: %s", spec, ostor_last_error());
	m = sim_usb_of(dev);
	ck_assert_ptr_nonnull(m);
	return m;
}

static struct sim_usb_stats mstats(struct sim_usb *m)
{
	struct sim_usb_stats s;

	sim_usb_get_stats(m, &s);
	return s;
}

static struct ousb_engine_stats estats(struct sim_usb *m)
{
	struct ousb_engine_stats s;

	ousb_engine_get_stats(sim_usb_engine(m), &s);
	return s;
}

/* The engine's setting called name (its tuning output), in set[max]. */
static inline const struct ostori_setting *engine_setting(struct sim_usb *m, const char *name,
							  struct ostori_setting *set, int max)
{
	int n = 0;

	ousb_engine_tuning(sim_usb_engine(m), set, max, &n);
	for (int i = 0; i < n && i < max; i++)
		if (!strcmp(set[i].name, name))
			return &set[i];
	ck_abort_msg("no %s setting", name);
	return NULL;
}

/* Run one raw command; returns the task (caller frees). */
static ostor_task *run(uint32_t lun, const uint8_t *cdb, size_t cdb_len, enum ostor_dir dir,
		       void *buf, size_t len)
{
	ostor_task *t;

	ck_assert_int_eq(ostor_task_new(dev, &t), 0);
	ck_assert_int_eq(ostor_task_set_lun(t, 0, lun), 0);
	ck_assert_int_eq(ostor_task_set_cdb(t, cdb, cdb_len), 0);
	ck_assert_int_eq(ostor_task_set_buffer(t, len ? dir : OSTOR_DIR_NONE, buf, len), 0);
	ck_assert_msg(ostor_task_execute(t) == 0, "execute: %s", ostor_last_error());
	return t;
}

static void cdb_rw10(uint8_t *cdb, uint8_t op, uint32_t lba, uint16_t blocks)
{
	memset(cdb, 0, 10);
	cdb[0] = op;
	cdb[2] = (uint8_t)(lba >> 24);
	cdb[3] = (uint8_t)(lba >> 16);
	cdb[4] = (uint8_t)(lba >> 8);
	cdb[5] = (uint8_t)lba;
	cdb[7] = (uint8_t)(blocks >> 8);
	cdb[8] = (uint8_t)blocks;
}

/* READ(10)/WRITE(10) as a raw task; returns the result. */
static enum ostor_result rw(uint8_t op, uint32_t lba, uint16_t blocks, void *buf, size_t len,
			    size_t *transferred)
{
	uint8_t cdb[10];
	ostor_task *t;
	enum ostor_result res;

	cdb_rw10(cdb, op, lba, blocks);
	t = run(0, cdb, 10, op == 0x28 ? OSTOR_DIR_FROM_DEVICE : OSTOR_DIR_TO_DEVICE, buf, len);
	res = ostor_task_result(t);
	if (transferred)
		*transferred = ostor_task_transferred(t);
	ostor_task_free(t);
	return res;
}

static void fill(uint8_t *p, size_t n, uint32_t seed)
{
	for (size_t i = 0; i < n; i++)
		p[i] = (uint8_t)((i * 131u + seed * 7u + (i >> 9)) ^ seed);
}

/* A write then a read-back through the block helpers must round-trip. */
static void check_io_works(uint32_t lun, uint64_t lba, uint32_t seed)
{
	uint8_t w[8 * 512], r[8 * 512];
	int rc;

	fill(w, sizeof(w), seed);
	memset(r, 0, sizeof(r));
	rc = ostor_write_blocks(dev, 0, lun, lba, 8, w);
	ck_assert_msg(rc == 0, "write: %s", ostor_last_error());
	rc = ostor_read_blocks(dev, 0, lun, lba, 8, r);
	ck_assert_msg(rc == 0, "read: %s", ostor_last_error());
	ck_assert_mem_eq(w, r, sizeof(w));
}

#endif
