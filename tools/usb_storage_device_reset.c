/*
 * tools/usb_storage_device_reset.c - reset a USB mass-storage device:
 * Reset Recovery (Bulk-Only) or Command Block Reset (CB/CBI), or a USB
 * port reset with --port; then report the state of the device.
 */
#include "usbtool.h"

enum { KEY_PORT = 0x100 };

struct reset_args {
	bool port;
};

static error_t parser(int key, char *arg, struct argp_state *state)
{
	struct reset_args *a = state->input;

	(void)arg;
	if (key == KEY_PORT) {
		a->port = true;
		return 0;
	}
	return ARGP_ERR_UNKNOWN;
}

static const struct argp_option options[] = {
	{ "port", KEY_PORT, NULL, 0, "Reset the USB port (re-enumeration) instead of the transport", 1 },
	{ NULL }
};

static const struct argp reset_argp = {
	options, parser, NULL,
	"Reset a USB mass-storage device and report its state after.\v"
	"Without --port: Bulk-Only Reset Recovery (class reset, then clearing both bulk halts) "
	"or, for CB/CBI, Command Block Reset; a failed reset escalates to a port reset."
};

int main(int argc, char **argv)
{
	struct reset_args a = { false };
	struct tc_common c;
	struct tc_report r;
	ostor_context *ctx;
	ostor_device *dev;
	struct ostor_usb_details d = OSTOR_USB_DETAILS_INIT;
	uint8_t tur[6] = { 0 };
	ostor_task *t;
	int rc, err;

	tc_set_progname("usb_storage_device_reset");
	tc_parse(&reset_argp, argc, argv, TC_OPT_DEVICE_REQUIRED | TC_OPT_USB | TC_OPT_JSON | TC_OPT_NO_LUN | TC_OPT_NO_TARGET, &c, &a);
	tc_report_begin(&r, &c, a.port ? "port-reset" : "transport-reset");
	rc = tc_open_device(&c, &ctx, &dev);
	if (rc)
		return tc_report_end(&r, rc);
	rc = us_details(dev, c.device, &d);
	if (rc) {
		tc_close(ctx, dev);
		return tc_report_end(&r, rc);
	}
	err = ostor_usb_reset(dev, a.port ? OSTOR_USB_RESET_PORT : OSTOR_USB_RESET_TRANSPORT);
	if (err < 0) {
		tc_lib_error(err, "%s failed on '%s'", a.port ? "the port reset" : "the transport reset",
			     c.device);
		rc = tc_exit_from_error(err);
	} else {
		tc_report_step(&r, "reset", "%s: %s done", c.device,
		       a.port ? "USB port reset" :
		       d.protocol == 0x50 ? "Bulk-Only Reset Recovery (reset, clear halt in and out)" :
		       "Command Block Reset (clear halt in and out)");
	}
	ostor_usb_get_details(dev, &d);
	if (d.dead) {
		tc_report_step(&r, "state", "state: dead (unplug and replug the device)");
		tc_report_set(&r, "state", json_object_new_string("dead"));
	} else if (us_exec(dev, 0, 0, tur, 6, OSTOR_DIR_NONE, NULL, 0, &t) == 0) {
		/* The first answer after a reset is often a unit attention. */
		int res = ostor_task_result(t);

		tc_report_step(&r, "state", "state: responding; TEST UNIT READY on LUN 0: %s", ostor_result_name(res));
		tc_report_set(&r, "state", json_object_new_string("responding"));
		ostor_task_free(t);
	} else {
		tc_report_step(&r, "state", "state: not responding (%s)", ostor_last_error());
		tc_report_set(&r, "state", json_object_new_string("not-responding"));
	}
	err = tc_close(ctx, dev);
	return tc_report_end(&r, rc ? rc : err);
}
