/*
 * virtio-scsi-device-info: features, configuration, queues and LUNs of a
 * virtio-scsi device (one with -d, else every one the library lists).
 */
#include "virtiotool.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

static const struct argp tool_argp = {
	NULL, NULL, NULL,
	"Describe virtio-scsi devices: PCI address, binding, feature bits, device "
	"configuration, queues, targets and LUNs.\vWithout -d every virtio: device is "
	"opened in turn (they must be bound to vfio-pci or uio_pci_generic)."
};

static void print_text(ostor_device *dev)
{
	struct json_object *o;
	int ff = 0;
	char feat[512];
	struct ostor_virtio_device_info in = OSTOR_VIRTIO_DEVICE_INFO_INIT;

	ostor_virtio_device_info(dev, &in);
	o = vst_device_json(dev, &ff);
	printf("Device %s: PCI %s, bound to %s, %s rings, %s\n", ostor_device_spec(dev), in.pci_address,
	       in.binding, in.packed ? "packed" : "split", in.interrupts ? "interrupt mode" : "polled");
	if (strcmp(in.transport, "sim")) {
		char group[16] = "none";

		if (in.iommu_group >= 0)
			snprintf(group, sizeof(group), "%d", in.iommu_group);
		printf("  transport %s, IOMMU group %s (%s), interrupts %s", in.transport, group, in.iommu,
		       in.interrupt_kind);
		if (in.interrupt_vectors)
			printf(" (%u MSI-X vectors)", in.interrupt_vectors);
		printf(", DMA pool %" PRIu64 " MiB", in.dma_pool_bytes >> 20);
		if (in.dma_address)
			printf(" at IOVA 0x%" PRIx64, in.dma_address);
		printf("\n");
	}
	vst_features_text(in.device_features, feat, sizeof(feat));
	printf("  device features 0x%016" PRIx64 ": %s\n", in.device_features, feat);
	vst_features_text(in.driver_features, feat, sizeof(feat));
	printf("  driver features 0x%016" PRIx64 ": %s\n", in.driver_features, feat);
	printf("  num_queues %u (using %u), seg_max %u, max_sectors %u, cmd_per_lun %u\n",
	       in.device_num_queues, in.num_queues, in.seg_max, in.max_sectors, in.cmd_per_lun);
	printf("  sense_size %u, cdb_size %u, max_channel %u, max_target %u, max_lun %u\n",
	       in.sense_size, in.cdb_size, in.max_channel, in.max_target, in.max_lun);
	json_object_put(o);
	vst_queues_text(dev);
	if (!vst_luns_text(dev, -1))
		printf("No logical units.\n");
}

int main(int argc, char **argv)
{
	struct tc_common c;
	ostor_context *ctx;
	ostor_device *dev;
	int rc, ff = 0;

	tc_set_progname("virtio-scsi-device-info");
	tc_parse(&tool_argp, argc, argv, TC_OPT_DEVICE | TC_OPT_VIRTIO | TC_OPT_JSON | TC_OPT_NO_LUN | TC_OPT_NO_TARGET, &c, NULL);
	if (c.device) {
		if ((rc = vst_open(&c, &ctx, &dev)))
			return rc;
		if (c.json) {
			struct json_object *o = vst_device_json(dev, &ff);

			rc = tc_json_print(o);
			json_object_put(o);
		} else {
			print_text(dev);
		}
		rc = rc ? rc : tc_close(ctx, dev);
		return rc ? rc : ff ? ff : tc_finish_stdout();
	}
	if ((rc = tc_open_context(&c, &ctx)))
		return rc;
	{
		ostor_device_info **list;
		ssize_t n = ostor_get_device_list(ctx, &list);
		struct json_object *root = json_object_new_object(), *arr = json_object_new_array();
		size_t found = 0;

		if (n < 0) {
			tc_lib_error((int)n, "cannot list devices");
			ostor_exit(ctx);
			return tc_exit_from_error((int)n);
		}
		for (ssize_t i = 0; i < n; i++) {
			int err;

			if (strcmp(ostor_device_info_backend(list[i]), "virtio"))
				continue;
			found++;
			err = ostor_open(ctx, ostor_device_info_spec(list[i]), &dev);
			if (err < 0) {
				struct json_object *o = json_object_new_object();

				json_object_object_add(o, "device", json_object_new_string(ostor_device_info_spec(list[i])));
				json_object_object_add(o, "description",
						       json_object_new_string(ostor_device_info_description(list[i])));
				json_object_object_add(o, "error", json_object_new_string(ostor_last_error()));
				json_object_array_add(arr, o);
				if (!c.json)
					printf("Device %s: %s (not opened: %s)\n", ostor_device_info_spec(list[i]),
					       ostor_device_info_description(list[i]), ostor_last_error());
				continue;
			}
			if (c.json)
				json_object_array_add(arr, vst_device_json(dev, &ff));
			else
				print_text(dev);
			ostor_close(dev);
		}
		ostor_free_device_list(list);
		json_object_object_add(root, "devices", arr);
		if (c.json)
			rc = tc_json_print(root);
		else if (!found)
			printf("No virtio-scsi devices found (they must be bound to uio_pci_generic: "
			       "see virtio-scsi-device-bind(1)).\n");
		json_object_put(root);
	}
	ostor_exit(ctx);
	return rc ? rc : ff ? ff : tc_finish_stdout();
}
