/*
 * tests/unit/virtio_test_util.h - the fixture both virtio test programs
 * share: a context per test, one device on the simulated virtio-scsi
 * model, closed at teardown.  VDEBUG=1 in the environment logs at debug.
 */
#ifndef OSTOR_VIRTIO_TEST_UTIL_H
#define OSTOR_VIRTIO_TEST_UTIL_H

#include <check.h>
#include <stdlib.h>

static ostor_context *ctx;
static ostor_device *dev;
static struct sim_vdev *model;

static void setup(void)
{
	ck_assert_int_eq(ostor_init(&ctx, ""), 0);
	ostor_set_log_level(ctx, getenv("VDEBUG") ? OSTOR_LOG_DEBUG : OSTOR_LOG_NONE);
	dev = NULL;
	model = NULL;
}

static void teardown(void)
{
	if (dev)
		ostor_close(dev);
	ostor_exit(ctx);
	ctx = NULL;
}

static void open_spec(const char *spec)
{
	int r = ostor_open(ctx, spec, &dev);

	ck_assert_msg(r == 0, "open %s: %s", spec, ostor_last_error());
	model = sim_virtio_of(dev);
	ck_assert_ptr_nonnull(model);
}

#endif
