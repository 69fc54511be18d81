/*
 * virtio-scsi-device-reset: device reset and re-initialisation, then what was found.
 */
#include "virtiotool.h"

#include <stdlib.h>
#include <string.h>


static const struct argp tool_argp = {
	NULL, NULL, NULL,
	"Reset a virtio-scsi device and initialise it again, then list what it offers.\vTasks "
	"in flight complete as aborted; a write among them has an unknown outcome."
};

int main(int argc, char **argv)
{
	struct tc_common c;
	ostor_context *ctx;
	ostor_device *dev;
	struct ostor_virtio_device_info in = OSTOR_VIRTIO_DEVICE_INFO_INIT;
	int rc, err, ff = 0;

	tc_set_progname("virtio-scsi-device-reset");
	tc_parse(&tool_argp, argc, argv, TC_OPT_DEVICE_REQUIRED | TC_OPT_VIRTIO | TC_OPT_JSON | TC_OPT_NO_LUN | TC_OPT_NO_TARGET, &c, NULL);
	if ((rc = vst_open(&c, &ctx, &dev)))
		return rc;
	err = ostor_virtio_reset(dev);
	if (err < 0) {
		tc_lib_error(err, "reset of %s failed", c.device);
		tc_close(ctx, dev);
		return tc_exit_from_error(err);
	}
	ostor_virtio_device_info(dev, &in);
	{
		struct json_object *o = vst_device_json(dev, &ff);

		json_object_object_add(o, "resets", tc_json_u64(in.resets));
		if (c.json) {
			rc = tc_json_print(o);
		} else {
			struct json_object *l = json_object_object_get(o, "luns");

			printf("%s: reset and re-initialised (%s rings, %u request queue(s)); %zu LUN(s):\n",
			       c.device, in.packed ? "packed" : "split", in.num_queues, json_object_array_length(l));
			vst_luns_text(dev, -1);
		}
		json_object_put(o);
	}
	rc = rc ? rc : tc_close(ctx, dev);
	return rc ? rc : ff ? ff : tc_finish_stdout();
}
