/*
 * tools/usb_storage_device_info.c - describe USB mass-storage devices:
 * descriptors, transport, quirks, and every LUN.
 */
#include "usbtool.h"

#include <stdlib.h>
#include <string.h>

static const struct argp info_argp = {
	NULL, NULL, NULL,
	"Describe USB mass-storage devices: ids, strings, bus, speed, interface, subclass, "
	"protocol, quirks and every logical unit.\v"
	"Without -d every USB mass-storage device is opened in turn (its kernel driver is "
	"detached while it is examined and given back after)."
};

/* One device: text to stdout or a JSON object in *out. */
static int describe(ostor_context *ctx, const char *spec, bool json, struct json_object **out)
{
	ostor_device *dev;
	struct ostor_usb_details d = OSTOR_USB_DETAILS_INIT;
	struct ostor_lun_addr *luns = NULL;
	struct json_object *o = NULL, *arr = NULL;
	size_t n = 0;
	int err, rc;

	*out = NULL;
	err = ostor_open(ctx, spec, &dev);
	if (err < 0) {
		tc_lib_error(err, "cannot open '%s'", spec);
		if (json) {
			/* Listed anyway, with the reason: a listing must show
			 * every device, the ones we cannot drive included. */
			o = json_object_new_object();
			json_object_object_add(o, "device", json_object_new_string(spec));
			json_object_object_add(o, "error", json_object_new_string(ostor_error_name(err)));
			json_object_object_add(o, "message", json_object_new_string(ostor_last_error()));
			*out = o;
		} else {
			printf("%s: cannot be examined: %s\n", spec, ostor_last_error());
		}
		return tc_exit_from_open_error(err);
	}
	rc = us_details(dev, spec, &d);
	if (rc) {
		ostor_close(dev);
		return rc;
	}
	if (json) {
		o = us_details_json(&d);
		json_object_object_add(o, "device", json_object_new_string(spec));
		json_object_object_add(o, "description", json_object_new_string(ostor_device_description(dev)));
		arr = json_object_new_array();
		json_object_object_add(o, "luns", arr);
	} else {
		printf("%s: %s\n", spec, ostor_device_description(dev));
		us_details_text(&d);
	}
	err = ostor_device_luns(dev, &luns, &n);
	if (err < 0) {
		tc_lib_error(err, "cannot list the LUNs of '%s'", spec);
		rc = tc_exit_from_error(err);
	}
	for (size_t i = 0; i < n; i++) {
		struct ostor_lun_info li = OSTOR_LUN_INFO_INIT;

		err = ostor_lun_info(dev, luns[i].target, luns[i].lun, &li);
		if (err < 0 && err != OSTOR_ERROR_NO_DEVICE &&
		    us_lun_info_removable_fallback(dev, luns[i].target, luns[i].lun, &li) == 0)
			err = 0;
		if (err < 0) {
			/* A LUN without medium still is listed (the helper
			 * reports it as such); other failures are shown. */
			tc_lib_error(err, "LUN %u", luns[i].lun);
			if (arr) {
				struct json_object *e = json_object_new_object();

				json_object_object_add(e, "target", json_object_new_int64(luns[i].target));
				json_object_object_add(e, "lun", json_object_new_int64(luns[i].lun));
				json_object_object_add(e, "error", json_object_new_string(ostor_error_name(err)));
				json_object_object_add(e, "message", json_object_new_string(ostor_last_error()));
				json_object_array_add(arr, e);
			}
			if (!rc)
				rc = tc_exit_from_error(err);
			continue;
		}
		if (arr)
			json_object_array_add(arr, us_lun_json(&li));
		else
			us_lun_text(&li);
	}
	free(luns);
	err = ostor_close(dev);
	if (err < 0 && !rc) {
		tc_lib_error(err, "closing '%s'", spec);
		rc = tc_exit_from_error(err);
	}
	*out = o;
	return rc;
}

int main(int argc, char **argv)
{
	struct tc_common c;
	ostor_context *ctx;
	struct json_object *root = NULL;
	int rc, first = 0;

	tc_set_progname("usb_storage_device_info");
	tc_parse(&info_argp, argc, argv, TC_OPT_DEVICE | TC_OPT_USB | TC_OPT_JSON | TC_OPT_NO_LUN | TC_OPT_NO_TARGET, &c, NULL);
	rc = tc_open_context(&c, &ctx);
	if (rc)
		return rc;
	if (c.device) {
		first = describe(ctx, c.device, c.json, &root);
	} else {
		ostor_device_info **list;
		ssize_t n = ostor_get_device_list(ctx, &list);
		struct json_object *arr = NULL;
		int found = 0;

		if (n < 0) {
			tc_lib_error((int)n, "cannot list devices");
			ostor_exit(ctx);
			return tc_exit_from_error((int)n);
		}
		if (c.json) {
			root = json_object_new_object();
			arr = json_object_new_array();
			json_object_object_add(root, "devices", arr);
		}
		for (ssize_t i = 0; i < n; i++) {
			struct json_object *o;

			if (strcmp(ostor_device_info_backend(list[i]), "usb"))
				continue;
			found++;
			/* A device that cannot be examined is listed with its
			 * error and does not fail the listing. */
			describe(ctx, ostor_device_info_spec(list[i]), c.json, &o);
			if (o)
				json_object_array_add(arr, o);
		}
		ostor_free_device_list(list);
		if (!found && !c.json)
			printf("no USB mass-storage devices\n");
	}
	if (root) {
		rc = tc_json_print(root);
		json_object_put(root);
		if (rc && !first)
			first = rc;
	}
	ostor_exit(ctx);
	rc = tc_finish_stdout();
	return first ? first : rc;
}
