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
	json_object_object_add(o, "spec", json_object_new_string(ostor_device_spec(dev)));
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
		struct json_object *l = json_object_new_object();

		json_object_object_add(l, "target", json_object_new_int64(luns[i].target));
		json_object_object_add(l, "lun", json_object_new_int64(luns[i].lun));
		if (ostor_lun_info(dev, luns[i].target, luns[i].lun, &li) == 0) {
			json_object_object_add(l, "peripheral_type",
					       json_object_new_string(ostor_peripheral_type_name(li.peripheral_type)));
			json_object_object_add(l, "vendor", json_object_new_string(li.vendor));
			json_object_object_add(l, "product", json_object_new_string(li.product));
			json_object_object_add(l, "revision", json_object_new_string(li.revision));
			json_object_object_add(l, "serial", json_object_new_string(li.serial));
			json_object_object_add(l, "block_size", json_object_new_int64(li.block_size));
			json_object_object_add(l, "blocks", tc_json_u64(li.blocks));
			json_object_object_add(l, "write_protected", json_object_new_boolean(li.write_protected));
			json_object_object_add(l, "removable", json_object_new_boolean(li.removable));
		} else {
			json_object_object_add(l, "error", json_object_new_string(ostor_last_error()));
		}
		json_object_array_add(la, l);
	}
	free(luns);
	json_object_object_add(o, "luns", la);
	return o;
}
