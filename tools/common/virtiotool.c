/*
 * tools/common/virtiotool.c - shared bits of the virtio-scsi-* tools.
 */
#include "virtiotool.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

int vst_open(const struct tc_common *c, ostor_context **ctx, ostor_device **dev)
{
	struct ostor_virtio_device_info info = OSTOR_VIRTIO_DEVICE_INFO_INIT;
	int rc = tc_open_device(c, ctx, dev), err;

	if (rc)
		return rc;
	err = ostor_virtio_device_info(*dev, &info);
	if (err < 0) {
		tc_lib_error(err, "'%s'", c->device);
		tc_close(*ctx, *dev);
		return tc_exit_from_error(err);
	}
	return 0;
}

int vst_check_target(ostor_device *dev, const struct tc_common *c)
{
	struct ostor_virtio_device_info in = OSTOR_VIRTIO_DEVICE_INFO_INIT;

	if (ostor_virtio_device_info(dev, &in) < 0 || c->target <= in.max_target)
		return 0;
	tc_msg("%s: no target %u: its targets are 0 to %u (max_target)", c->device, (unsigned)c->target,
	       (unsigned)in.max_target);
	return TC_EXIT_NOT_FOUND;
}

struct json_object *vst_hex64(uint64_t v)
{
	char buf[24];

	snprintf(buf, sizeof(buf), "0x%016" PRIx64, v);
	return json_object_new_string(buf);
}

void vst_features_text(uint64_t f, char *buf, size_t len)
{
	static const char *const names[64] = {
		[0] = "SCSI_INOUT", [1] = "SCSI_HOTPLUG", [2] = "SCSI_CHANGE", [3] = "SCSI_T10_PI",
		[24] = "NOTIFY_ON_EMPTY", [27] = "ANY_LAYOUT", [28] = "INDIRECT_DESC",
		[29] = "EVENT_IDX", [32] = "VERSION_1", [33] = "ACCESS_PLATFORM",
		[34] = "RING_PACKED", [35] = "IN_ORDER", [36] = "ORDER_PLATFORM",
		[37] = "SR_IOV", [38] = "NOTIFICATION_DATA", [40] = "RING_RESET",
	};
	size_t n = 0;

	buf[0] = '\0';
	for (unsigned int b = 0; b < 64 && n < len; b++) {
		if (!((f >> b) & 1))
			continue;
		if (names[b])
			n += (size_t)snprintf(buf + n, len - n, "%s%s", n ? " " : "", names[b]);
		else
			n += (size_t)snprintf(buf + n, len - n, "%sbit%u", n ? " " : "", b);
	}
}

const char *vst_queue_type(int type)
{
	return type == OSTOR_VIRTIO_QUEUE_CONTROL ? "control" :
	       type == OSTOR_VIRTIO_QUEUE_EVENT ? "event" : "request";
}

struct json_object *vst_queue_json(const struct ostor_virtio_queue_info *q)
{
	struct json_object *o = json_object_new_object();

	json_object_object_add(o, "index", json_object_new_int64(q->index));
	json_object_object_add(o, "type", json_object_new_string(vst_queue_type(q->type)));
	json_object_object_add(o, "size", json_object_new_int64(q->queue_size));
	json_object_object_add(o, "ring", json_object_new_string(q->packed ? "packed" : "split"));
	json_object_object_add(o, "event_idx", json_object_new_boolean(q->event_idx));
	json_object_object_add(o, "indirect", json_object_new_boolean(q->indirect));
	json_object_object_add(o, "broken", json_object_new_boolean(q->broken));
	json_object_object_add(o, "avail_idx", json_object_new_int64(q->avail_idx));
	json_object_object_add(o, "used_idx", json_object_new_int64(q->used_idx));
	json_object_object_add(o, "inflight", json_object_new_int64(q->inflight));
	json_object_object_add(o, "submitted", tc_json_u64(q->submitted));
	json_object_object_add(o, "completed", tc_json_u64(q->completed));
	json_object_object_add(o, "errors", tc_json_u64(q->errors));
	json_object_object_add(o, "bytes", tc_json_u64(q->bytes));
	json_object_object_add(o, "notifies", tc_json_u64(q->notifies));
	json_object_object_add(o, "renotifies", tc_json_u64(q->renotifies));
	json_object_object_add(o, "interrupt_vector",
			       q->interrupt_vector < 0 ? NULL : json_object_new_int(q->interrupt_vector));
	return o;
}

struct json_object *vst_device_json(ostor_device *dev, int *first_fail)
{
	struct ostor_virtio_device_info in = OSTOR_VIRTIO_DEVICE_INFO_INIT;
	struct json_object *o = json_object_new_object(), *qa = json_object_new_array();
	struct json_object *la = json_object_new_array();
	struct ostor_lun_addr *luns = NULL;
	size_t n = 0;
	int nq, err;

	ostor_virtio_device_info(dev, &in);
	json_object_object_add(o, "device", json_object_new_string(ostor_device_spec(dev)));
	json_object_object_add(o, "pci_address", json_object_new_string(in.pci_address));
	json_object_object_add(o, "binding", json_object_new_string(in.binding));
	json_object_object_add(o, "transport", json_object_new_string(in.transport));
	json_object_object_add(o, "iommu_group", in.iommu_group < 0 ? NULL : json_object_new_int(in.iommu_group));
	json_object_object_add(o, "iommu", json_object_new_string(in.iommu));
	json_object_object_add(o, "interrupts", json_object_new_string(in.interrupt_kind));
	json_object_object_add(o, "interrupt_vectors", json_object_new_int64(in.interrupt_vectors));
	json_object_object_add(o, "device_features", vst_hex64(in.device_features));
	json_object_object_add(o, "driver_features", vst_hex64(in.driver_features));
	json_object_object_add(o, "ring", json_object_new_string(in.packed ? "packed" : "split"));
	json_object_object_add(o, "mode", json_object_new_string(in.interrupts ? "interrupt" : "polled"));
	json_object_object_add(o, "num_queues", json_object_new_int64(in.num_queues));
	json_object_object_add(o, "device_num_queues", json_object_new_int64(in.device_num_queues));
	json_object_object_add(o, "seg_max", json_object_new_int64(in.seg_max));
	json_object_object_add(o, "max_sectors", json_object_new_int64(in.max_sectors));
	json_object_object_add(o, "cmd_per_lun", json_object_new_int64(in.cmd_per_lun));
	json_object_object_add(o, "event_info_size", json_object_new_int64(in.event_info_size));
	json_object_object_add(o, "sense_size", json_object_new_int64(in.sense_size));
	json_object_object_add(o, "cdb_size", json_object_new_int64(in.cdb_size));
	json_object_object_add(o, "max_channel", json_object_new_int64(in.max_channel));
	json_object_object_add(o, "max_target", json_object_new_int64(in.max_target));
	json_object_object_add(o, "max_lun", json_object_new_int64(in.max_lun));
	nq = ostor_virtio_queue_count(dev);
	for (int i = 0; i < nq; i++) {
		struct ostor_virtio_queue_info q = OSTOR_VIRTIO_QUEUE_INFO_INIT;

		if (ostor_virtio_queue_info(dev, (unsigned int)i, &q) == 0)
			json_object_array_add(qa, vst_queue_json(&q));
	}
	json_object_object_add(o, "queues", qa);
	err = ostor_device_luns(dev, &luns, &n);
	if (err < 0 && !*first_fail)
		*first_fail = tc_exit_from_error(err);
	for (size_t i = 0; i < n; i++) {
		struct ostor_lun_info li = OSTOR_LUN_INFO_INIT;
		struct json_object *l;

		if (ostor_lun_info(dev, luns[i].target, luns[i].lun, &li) == 0) {
			l = tc_lun_info_json(&li);
		} else {
			l = tc_lun_json(luns[i].target, luns[i].lun);
			json_object_object_add(l, "error", json_object_new_string(ostor_last_error()));
		}
		json_object_array_add(la, l);
	}
	free(luns);
	json_object_object_add(o, "luns", la);
	return o;
}

void vst_queues_text(ostor_device *dev)
{
	int n = ostor_virtio_queue_count(dev);

	printf("%-5s %-8s %6s %-6s %-9s %-8s %9s %9s %8s %12s %8s %6s\n", "QUEUE", "TYPE", "SIZE", "RING",
	       "EVENT_IDX", "INDIRECT", "AVAIL", "USED", "INFLIGHT", "COMPLETED", "ERRORS", "VECTOR");
	for (int i = 0; i < n; i++) {
		struct ostor_virtio_queue_info q = OSTOR_VIRTIO_QUEUE_INFO_INIT;
		char vector[16] = "-";

		if (ostor_virtio_queue_info(dev, (unsigned int)i, &q) < 0)
			continue;
		/* the MSI-X vector of the queue; "-" polled, INTx or none */
		if (q.interrupt_vector >= 0)
			snprintf(vector, sizeof(vector), "%d", q.interrupt_vector);
		printf("%-5u %-8s %6u %-6s %-9s %-8s %9u %9u %8u %12llu %8llu %6s%s\n", q.index,
		       vst_queue_type(q.type), q.queue_size, q.packed ? "packed" : "split",
		       q.event_idx ? "yes" : "no", q.indirect ? "yes" : "no", q.avail_idx, q.used_idx,
		       q.inflight, (unsigned long long)q.completed, (unsigned long long)q.errors, vector,
		       q.broken ? "  BROKEN" : "");
	}
}

size_t vst_luns_text(ostor_device *dev, int64_t target)
{
	struct ostor_lun_addr *luns = NULL;
	size_t n = 0, shown = 0;

	if (ostor_device_luns(dev, &luns, &n) < 0)
		return 0;
	for (size_t i = 0; i < n; i++) {
		struct ostor_lun_info li = OSTOR_LUN_INFO_INIT;

		if (target >= 0 && luns[i].target != (uint64_t)target)
			continue;
		if (!shown++)
			tc_lun_text_header();
		if (ostor_lun_info(dev, luns[i].target, luns[i].lun, &li) == 0)
			tc_lun_text(&li);
		else
			printf("%u:%-5u %s\n", (unsigned)luns[i].target, (unsigned)luns[i].lun, ostor_last_error());
	}
	free(luns);
	return shown;
}
