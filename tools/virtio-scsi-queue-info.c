/*
 * virtio-scsi-queue-info: per virtqueue type, size, ring kind, indexes,
 * event-index state, requests in flight and counters.
 */
#include "virtiotool.h"

static const struct argp tool_argp = {
	NULL, NULL, NULL,
	"Show the virtqueues of a virtio-scsi device: type, size, ring kind, avail/used "
	"indexes, event index, in flight and counters."
};

int main(int argc, char **argv)
{
	struct tc_common c;
	ostor_context *ctx;
	ostor_device *dev;
	struct json_object *arr;
	int rc, n;

	tc_set_progname("virtio-scsi-queue-info");
	tc_parse(&tool_argp, argc, argv, TC_OPT_DEVICE_REQUIRED | TC_OPT_VIRTIO | TC_OPT_JSON | TC_OPT_NO_LUN | TC_OPT_NO_TARGET, &c, NULL);
	if ((rc = vst_open(&c, &ctx, &dev)))
		return rc;
	n = ostor_virtio_queue_count(dev);
	if (c.json) {
		struct json_object *root = json_object_new_object();

		arr = json_object_new_array();
		for (int i = 0; i < n; i++) {
			struct ostor_virtio_queue_info q = OSTOR_VIRTIO_QUEUE_INFO_INIT;

			if (ostor_virtio_queue_info(dev, (unsigned int)i, &q) == 0)
				json_object_array_add(arr, vst_queue_json(&q));
		}
		json_object_object_add(root, "device", json_object_new_string(c.device));
		json_object_object_add(root, "queues", arr);
		rc = tc_json_print(root);
		json_object_put(root);
	} else {
		vst_queues_text(dev);
	}
	rc = rc ? rc : tc_close(ctx, dev);
	return rc ? rc : tc_finish_stdout();
}
