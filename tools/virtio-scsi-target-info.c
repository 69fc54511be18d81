/*
 * virtio-scsi-target-info: LUNs of a target with identity, capacity, the
 * transfer limit and a VPD summary (the pages the LUN supports).
 */
#include "virtiotool.h"

#include <stdlib.h>
#include <string.h>


/* VPD summary: supported pages (00h), transfer limit, provisioning. */
static void add_vpd(ostor_device *dev, uint32_t target, struct json_object *e)
{
	uint32_t lun = (uint32_t)json_object_get_int64(json_object_object_get(e, "lun"));
	struct json_object *pages = json_object_new_array();
	struct ostor_lun_info li = OSTOR_LUN_INFO_INIT;
	struct ostor_cdb cdb;
	ostor_task *t = NULL;
	uint8_t buf[256], codes[252];
	int n;

	if (ostor_scsi_cdb_inquiry(&cdb, 1, 0x00, sizeof(buf)) == 0 && ostor_task_new(dev, &t) == 0 &&
	    ostor_task_set_lun(t, target, lun) == 0 && ostor_task_set_cdb(t, cdb.bytes, cdb.len) == 0 &&
	    ostor_task_set_buffer(t, OSTOR_DIR_FROM_DEVICE, buf, sizeof(buf)) == 0 &&
	    ostor_task_execute(t) == 0 && ostor_task_result(t) == OSTOR_RESULT_GOOD &&
	    (n = ostor_scsi_parse_vpd_supported(buf, ostor_task_transferred(t), codes, sizeof(codes),
						NULL)) > 0) {
		for (int i = 0; i < n; i++)
			json_object_array_add(pages, json_object_new_int(codes[i]));
	}
	ostor_task_free(t);
	json_object_object_add(e, "vpd_pages", pages);
	if (ostor_lun_info(dev, target, lun, &li) == 0) {
		json_object_object_add(e, "max_transfer_blocks", json_object_new_int64(li.max_transfer_blocks));
		json_object_object_add(e, "thin_provisioned", json_object_new_boolean(li.thin_provisioned));
	}
}

static const struct argp tool_argp = {
	NULL, NULL, NULL,
	"List the LUNs of --target T (default 0) with identity, capacity, transfer limit and "
	"the VPD pages each supports."
};

int main(int argc, char **argv)
{
	struct tc_common c;
	ostor_context *ctx;
	ostor_device *dev;
	struct json_object *o, *l, *out;
	size_t nluns;
	int rc, ff = 0;

	tc_set_progname("virtio-scsi-target-info");
	tc_parse(&tool_argp, argc, argv, TC_OPT_DEVICE_REQUIRED | TC_OPT_VIRTIO | TC_OPT_JSON | TC_OPT_NO_LUN, &c, NULL);
	if ((rc = vst_open(&c, &ctx, &dev)))
		return rc;
	if ((rc = vst_check_target(dev, &c))) {
		if (c.json) {
			struct json_object *root = json_object_new_object();

			json_object_object_add(root, "device", json_object_new_string(c.device));
			json_object_object_add(root, "target", json_object_new_int64(c.target));
			tc_json_add_error(root, rc);
			tc_json_print(root);
			json_object_put(root);
		}
		tc_close(ctx, dev);
		return rc;
	}
	o = vst_device_json(dev, &ff);
	l = json_object_object_get(o, "luns");
	out = json_object_new_array();
	for (size_t i = 0; i < json_object_array_length(l); i++) {
		struct json_object *e = json_object_array_get_idx(l, i);

		if ((uint32_t)json_object_get_int64(json_object_object_get(e, "target")) == c.target) {
			add_vpd(dev, c.target, e);
			json_object_array_add(out, json_object_get(e));
		}
	}
	nluns = json_object_array_length(out);
	/* A target with nothing there is not found, in text and JSON alike. */
	if (!nluns) {
		tc_msg("target %u has no logical units", (unsigned)c.target);
		rc = TC_EXIT_NOT_FOUND;
	}
	if (c.json) {
		struct json_object *root = json_object_new_object();

		json_object_object_add(root, "device", json_object_new_string(c.device));
		json_object_object_add(root, "target", json_object_new_int64(c.target));
		json_object_object_add(root, "luns", out);
		tc_json_add_error(root, rc);
		rc = tc_json_print(root) ? TC_EXIT_FILE_ERROR : rc;
		json_object_put(root);
	} else {
		if (nluns)
			vst_luns_text(dev, c.target);
		json_object_put(out);
	}
	json_object_put(o);
	ff = ff ? ff : tc_close(ctx, dev);
	return rc ? rc : ff ? ff : tc_finish_stdout();
}
