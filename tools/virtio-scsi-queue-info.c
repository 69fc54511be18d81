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
	tc_parse(&tool_argp, argc, argv, TC_OPT_DEVICE_REQUIRED | TC_OPT_VIRTIO | TC_OPT_JSON, &c, NULL);
	if ((rc = vst_open(&c, &ctx, &dev)))
		return rc;
	n = ostor_virtio_queue_count(dev);
	arr = json_object_new_array();
	if (!c.json)
		printf("%-5s %-8s %6s %-6s %-9s %-8s %9s %9s %8s %12s %8s\n", "QUEUE", "TYPE", "SIZE", "RING",
		       "EVENT_IDX", "INDIRECT", "AVAIL", "USED", "INFLIGHT", "COMPLETED", "ERRORS");
	for (int i = 0; i < n; i++) {
		struct ostor_virtio_queue_info q = OSTOR_VIRTIO_QUEUE_INFO_INIT;

		if (ostor_virtio_queue_info(dev, (unsigned int)i, &q) < 0)
			continue;
		if (c.json)
			json_object_array_add(arr, vst_queue_json(&q));
		else
			printf("%-5u %-8s %6u %-6s %-9s %-8s %9u %9u %8u %12llu %8llu%s\n", q.index,
			       vst_queue_type(q.type), q.queue_size, q.packed ? "packed" : "split",
			       q.event_idx ? "yes" : "no", q.indirect ? "yes" : "no", q.avail_idx, q.used_idx,
			       q.inflight, (unsigned long long)q.completed, (unsigned long long)q.errors,
			       q.broken ? "  BROKEN" : "");
	}
	if (c.json) {
		struct json_object *root = json_object_new_object();

		json_object_object_add(root, "queues", arr);
		rc = tc_json_print(root);
		json_object_put(root);
	} else {
		json_object_put(arr);
	}
	rc = rc ? rc : tc_close(ctx, dev);
	return rc ? rc : tc_finish_stdout();
}
