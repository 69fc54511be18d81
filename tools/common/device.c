/*
 * tools/common/device.c - opening the context and the device.
 */
#include "toolcommon.h"

int tc_open_context(const struct tc_common *common, ostor_context **ctx)
{
	int err;

	*ctx = NULL;
	err = ostor_init(ctx, common->config);
	if (err < 0) {
		if (common->config)
			tc_lib_error(err, "cannot initialise liborionstor with '%s'",
				     common->config);
		else
			tc_lib_error(err, "cannot initialise liborionstor");
		*ctx = NULL;
		return tc_exit_from_error(err);
	}
	if (common->verbose > 0) {
		int level = (int)ostor_get_log_level(*ctx) + common->verbose;

		if (level > OSTOR_LOG_DEBUG)
			level = OSTOR_LOG_DEBUG;
		ostor_set_log_level(*ctx, (enum ostor_log_level)level);
	}
	return 0;
}

int tc_open_device(const struct tc_common *common, ostor_context **ctx,
		   ostor_device **dev)
{
	int rc, err;

	*dev = NULL;
	if (!common->device) {
		tc_msg("no device given: use -d SPEC (e.g. %s)", tc_spec_example(common->groups));
		return TC_EXIT_SYNTAX;
	}
	rc = tc_open_context(common, ctx);
	if (rc)
		return rc;
	err = ostor_open(*ctx, common->device, dev);
	if (err < 0) {
		tc_lib_error(err, "cannot open device '%s'", common->device);
		ostor_exit(*ctx);
		*ctx = NULL;
		*dev = NULL;
		return tc_exit_from_open_error(err);
	}
	return 0;
}

int tc_close(ostor_context *ctx, ostor_device *dev)
{
	int rc = 0;

	if (dev) {
		int err = ostor_close(dev);

		/* Closing flushes written LUNs: a failure here means data the
		 * device accepted may not be on the medium. */
		if (err < 0) {
			tc_lib_error(err, "closing the device failed (cached writes may be lost)");
			rc = tc_exit_from_error(err);
		}
	}
	if (ctx)
		ostor_exit(ctx);
	return rc;
}
