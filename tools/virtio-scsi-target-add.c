/*
 * virtio-scsi-target-add: scan and attach a target.
 */
#include "virtiotool.h"

#include <stdlib.h>
#include <string.h>


static const struct argp tool_argp = {
	NULL, NULL, NULL,
	"Forget what is known about --target T (absent, removed LUNs), scan it with REPORT "
	"LUNS and list its LUNs."
};

int main(int argc, char **argv)
{
	struct tc_common c;
	struct tc_report r;
	struct json_object *jl = NULL;
	ostor_context *ctx;
	ostor_device *dev;
	struct ostor_lun_addr *luns = NULL;
	size_t n = 0, k = 0;
	int rc, err;

	tc_set_progname("virtio-scsi-target-add");
	tc_parse(&tool_argp, argc, argv, TC_OPT_DEVICE_REQUIRED | TC_OPT_VIRTIO | TC_OPT_JSON | TC_OPT_NO_LUN, &c, NULL);
	tc_report_begin(&r, &c, "target-add");
	if (c.json) {
		jl = json_object_new_array();
		tc_report_set(&r, "luns", jl);
	}
	if ((rc = vst_open(&c, &ctx, &dev)))
		return tc_report_end(&r, rc);
	if ((rc = vst_check_target(dev, &c))) {
		tc_close(ctx, dev);
		return tc_report_end(&r, rc);
	}
	err = ostor_virtio_target_add(dev, c.target);
	if (err == 0)
		err = ostor_device_luns(dev, &luns, &n);
	if (err < 0) {
		tc_lib_error(err, "target %u of %s", (unsigned)c.target, c.device);
		tc_close(ctx, dev);
		return tc_report_end(&r, tc_exit_from_error(err));
	}
	for (size_t i = 0; i < n; i++)
		if (luns[i].target == c.target) {
			tc_report_step(&r, "lun", "%u:%u", (unsigned)luns[i].target, (unsigned)luns[i].lun);
			if (jl)
				json_object_array_add(jl, tc_lun_json(luns[i].target, luns[i].lun));
			k++;
		}
	free(luns);
	if (!k)
		tc_msg("target %u of %s has no logical units", (unsigned)c.target, c.device);
	rc = tc_close(ctx, dev);
	return tc_report_end(&r, rc ? rc : !k ? TC_EXIT_NOT_FOUND : 0);
}
