/*
 * lib/core/control_methods.c - what the control socket answers: the
 * method table and the methods of the core (ping, devices).
 *
 * To add a method, write an ostori_control_fn (core/control.h) and add
 * it to ostori_control_methods below.
 */
#include "core/control.h"

#include <errno.h>
#include <json-c/json.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* ---- ping ------------------------------------------------------------------- */

/* The name the process runs as ("orionstor", "fio"), not its argv. */
static void program_name(char *buf, size_t len)
{
	FILE *fp = fopen("/proc/self/comm", "re");

	buf[0] = '\0';
	if (fp) {
		if (fgets(buf, (int)len, fp))
			buf[strcspn(buf, "\n")] = '\0';
		fclose(fp);
	}
	if (!buf[0])
		snprintf(buf, len, "%s", program_invocation_short_name);
}

static int method_ping(struct json_object *params, struct json_object **result)
{
	struct json_object *o = json_object_new_object();
	char prog[64];

	(void)params;
	program_name(prog, sizeof(prog));
	json_object_object_add(o, "pid", json_object_new_int64(getpid()));
	json_object_object_add(o, "version", json_object_new_string(ostor_version()));
	json_object_object_add(o, "program", json_object_new_string(prog));
	*result = o;
	return 0;
}

/* ---- devices ---------------------------------------------------------------- */

/*
 * What names the hardware behind dev, the same in every process: a spec
 * of the form the enumerators print (usb:BUS.DEVNUM, virtio:DDDD:BB:DD.F)
 * or, for a file-backed sim device, "file:" and the image's real path.
 * Other sim devices live in their process only: no identity.  Extra
 * details of the transport go into details.
 */
static void identity(ostor_device *dev, char *buf, size_t len, struct json_object *details)
{
	struct ostor_usb_details ud = OSTOR_USB_DETAILS_INIT;
	struct ostor_virtio_device_info vi = OSTOR_VIRTIO_DEVICE_INFO_INIT;
	const char *transport = "";
	struct ostor_spec *spec = NULL;
	bool sim = !strcmp(dev->backend->name, "sim");

	buf[0] = '\0';
	if (sim) {
		const struct ostor_spec_option *o;

		spec = malloc(sizeof(*spec));
		if (!spec || ostori_spec_parse(dev->spec, spec) < 0) {
			free(spec);
			return;
		}
		if ((o = ostori_spec_get(spec, "transport")) && o->value)
			transport = o->value;
		if ((o = ostori_spec_get(spec, "image")) && o->value) {
			char real[PATH_MAX];

			if (realpath(o->value, real) && strlen(real) + 6 <= len)
				snprintf(buf, len, "file:%s", real);
		}
	}
	if ((!sim || !strncmp(transport, "usb", 3)) && ostor_usb_get_details(dev, &ud) == 0) {
		struct json_object *u = json_object_new_object();
		char id[8];

		snprintf(id, sizeof(id), "%04x", ud.vendor_id);
		json_object_object_add(u, "vendor_id", json_object_new_string(id));
		snprintf(id, sizeof(id), "%04x", ud.product_id);
		json_object_object_add(u, "product_id", json_object_new_string(id));
		json_object_object_add(u, "serial", json_object_new_string(ud.serial));
		json_object_object_add(u, "bus", json_object_new_int(ud.bus));
		json_object_object_add(u, "port", json_object_new_int(ud.port));
		json_object_object_add(u, "devnum", json_object_new_int(ud.devnum));
		json_object_object_add(u, "transport", json_object_new_string(ud.transport));
		json_object_object_add(details, "usb", u);
		if (!ud.simulated)
			snprintf(buf, len, "usb:%u.%u", ud.bus, ud.devnum);
	}
	if ((!sim || !strcmp(transport, "virtio")) && ostor_virtio_device_info(dev, &vi) == 0) {
		struct json_object *v = json_object_new_object();

		json_object_object_add(v, "pci_address", json_object_new_string(vi.pci_address));
		json_object_object_add(v, "binding", json_object_new_string(vi.binding));
		json_object_object_add(v, "queues", json_object_new_int64(vi.num_queues));
		json_object_object_add(details, "virtio", v);
		if (!sim)
			snprintf(buf, len, "virtio:%s", vi.pci_address);
	}
	free(spec);
}

static int add_device(ostor_device *dev, void *arg)
{
	struct json_object *o = json_object_new_object(), *details = json_object_new_object();
	char id[PATH_MAX + 8];

	identity(dev, id, sizeof(id), details);
	json_object_object_add(o, "spec", json_object_new_string(dev->spec));
	json_object_object_add(o, "backend", json_object_new_string(dev->backend->name));
	json_object_object_add(o, "description", json_object_new_string(dev->description));
	json_object_object_add(o, "identity", id[0] ? json_object_new_string(id) : NULL);
	json_object_object_add(o, "details", details);
	json_object_array_add(arg, o);
	return 0;
}

static int method_devices(struct json_object *params, struct json_object **result)
{
	struct json_object *arr = json_object_new_array();

	(void)params;
	ostori_device_foreach(add_device, arr);
	*result = arr;
	return 0;
}

/* ---- helpers for methods ------------------------------------------------------- */

struct with_device {
	const char *spec;
	int (*fn)(ostor_device *dev, void *arg);
	void *arg;
	int r;
	bool found;
};

static int match_spec(ostor_device *dev, void *arg)
{
	struct with_device *w = arg;

	if (strcmp(dev->spec, w->spec))
		return 0;
	w->found = true;
	w->r = w->fn(dev, w->arg);
	return 1;
}

int ostori_control_with_device(const char *spec, int (*fn)(ostor_device *dev, void *arg), void *arg)
{
	struct with_device w = { spec, fn, arg, 0, false };

	ostori_device_foreach(match_spec, &w);
	if (!w.found)
		return ostori_error(OSTOR_ERROR_NOT_FOUND, "no device '%s' is open in this process; the "
				    "\"devices\" method lists those that are", spec);
	return w.r;
}

/* ---- the table --------------------------------------------------------------- */

const struct ostori_control_method ostori_control_methods[] = {
	{ "ping", method_ping },
	{ "devices", method_devices },
	{ "stats", ostori_method_stats },
	{ "queues", ostori_method_queues },
	{ "commands", ostori_method_commands },
	{ "abort", ostori_method_abort },
	{ "queue_flush", ostori_method_queue_flush },
	{ "tuning", ostori_method_tuning },
	{ "reset", ostori_method_reset },
	{ "cache", ostori_method_cache },
	{ "cache_flush", ostori_method_cache_flush },
	{ "cache_reset", ostori_method_cache_reset },
	{ "health", ostori_method_health },
	{ "power", ostori_method_power },
	{ "power_set", ostori_method_power_set },
	{ NULL, NULL }
};
