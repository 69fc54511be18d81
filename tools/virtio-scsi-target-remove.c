/*
 * virtio-scsi-target-remove: flush and detach a target.
 */
#include "virtiotool.h"

#include <stdlib.h>
#include <string.h>


static const struct argp tool_argp = {
	NULL, NULL, NULL,
	"Flush the written LUNs of --target T and detach it: commands to it then fail as "
	"\"device gone\" until virtio-scsi-target-add."
};

int main(int argc, char **argv)
{
	struct tc_common c;
	struct tc_report r;
	ostor_context *ctx;
	ostor_device *dev;
	int rc, err;

	tc_set_progname("virtio-scsi-target-remove");
	tc_parse(&tool_argp, argc, argv, TC_OPT_DEVICE_REQUIRED | TC_OPT_VIRTIO | TC_OPT_JSON | TC_OPT_NO_LUN, &c, NULL);
	tc_report_begin(&r, &c, "target-remove");
	if ((rc = vst_open(&c, &ctx, &dev)))
		return tc_report_end(&r, rc);
	if ((rc = vst_check_target(dev, &c))) {
		tc_close(ctx, dev);
		return tc_report_end(&r, rc);
	}
	err = ostor_virtio_target_remove(dev, c.target);
	if (err < 0) {
		tc_lib_error(err, "target %u of %s", (unsigned)c.target, c.device);
		tc_close(ctx, dev);
		return tc_report_end(&r, tc_exit_from_error(err));
	}
	tc_report_step(&r, "detach", "target %u of %s detached", (unsigned)c.target, c.device);
	rc = tc_close(ctx, dev);
	return tc_report_end(&r, rc);
}
