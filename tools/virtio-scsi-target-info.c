/*
 * virtio-scsi-target-info: LUNs of a target with identity and capacity.
 */
#include "virtio-scsi-common.h"

#include <stdlib.h>
#include <string.h>


static const struct argp tool_argp = {
	NULL, NULL, NULL,
	"List the LUNs of --target T (default 0) with identity, capacity and limits."
};

int main(int argc, char **argv)
{
	struct tc_common c;
	ostor_context *ctx;
	ostor_device *dev;
	struct json_object *o, *l, *out;
	int rc, ff = 0;

	tc_set_progname("virtio-scsi-target-info");
	tc_parse(&tool_argp, argc, argv, TC_OPT_DEVICE_REQUIRED | TC_OPT_JSON, &c, NULL);
	if ((rc = vst_open(&c, &ctx, &dev)))
		return rc;
	o = vst_device_json(dev, &ff);
	l = json_object_object_get(o, "luns");
	out = json_object_new_array();
	for (size_t i = 0; i < json_object_array_length(l); i++) {
		struct json_object *e = json_object_array_get_idx(l, i);

		if ((uint32_t)json_object_get_int64(json_object_object_get(e, "target")) == c.target)
			json_object_array_add(out, json_object_get(e));
	}
	if (c.json) {
		struct json_object *root = json_object_new_object();

		json_object_object_add(root, "target", json_object_new_int64(c.target));
		json_object_object_add(root, "luns", out);
		rc = tc_json_print(root);
		json_object_put(root);
	} else {
		for (size_t i = 0; i < json_object_array_length(out); i++)
			printf("%s\n", json_object_to_json_string_ext(json_object_array_get_idx(out, i),
								  JSON_C_TO_STRING_PLAIN));
		if (!json_object_array_length(out))
			tc_msg("target %u has no logical units", (unsigned)c.target);
		json_object_put(out);
	}
	json_object_put(o);
	rc = rc ? rc : tc_close(ctx, dev);
	return rc ? rc : ff ? ff : tc_finish_stdout();
}
