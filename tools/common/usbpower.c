/*
 * tools/common/usbpower.c - usb_storage_power_info and
 * usb_storage_power_set: the power condition of a LUN as orionstor power
 * shows and changes it (power.c), plus the USB runtime power management
 * of the device (selective suspend: ostor_usb_power_get/_set).
 *
 * A device another process holds is asked through its control socket:
 * the methods of power.c, and "usb_power" (the object usb_json makes) and
 * "usb_power_set" (autosuspend 1|0|-1, delay_ms, -1 unchanged); a holder
 * whose library has none is refused (holder.c).
 *
 * Kept apart from power.c so that orionstor links without lib/usb's
 * selective-suspend functions.
 */
#include "powertool.h"
#include "subcommands.h"

#include <inttypes.h>
#include <limits.h>
#include <string.h>

#define USB_POWER_TIMEOUT_MS 10000

/* ---- options --------------------------------------------------------------------------- */

struct usb_power_args {
	struct pw_args pw;
	int autosuspend;              /* 1 auto, 0 on, -1 unchanged */
	int delay_ms;                 /* -1 unchanged */
};

enum { K_AUTOSUSPEND = 0x200 };

static const struct argp_option set_options[] = {
	{ "autosuspend", K_AUTOSUSPEND, "on|off|MS", 0,
	  "USB selective suspend: on lets the kernel suspend the idle device (power/control auto), off "
	  "keeps it awake (on), MS: on, after MS milliseconds idle (power/autosuspend_delay_ms)", 0 },
	{ 0 }
};

static error_t set_parser(int key, char *arg, struct argp_state *state)
{
	struct usb_power_args *a = state->input;
	uint64_t ms;
	const char *why;

	switch (key) {
	case ARGP_KEY_INIT:
		state->child_inputs[0] = &a->pw;
		return 0;
	case K_AUTOSUSPEND:
		if (!strcmp(arg, "on")) {
			a->autosuspend = 1;
		} else if (!strcmp(arg, "off")) {
			a->autosuspend = 0;
		} else if (tc_parse_u64(arg, INT_MAX, &ms, &why) == 0) {
			a->autosuspend = 1;
			a->delay_ms = (int)ms;
		} else {
			argp_error(state, "--autosuspend: '%s' is not on, off or a delay in milliseconds (%s)", arg, why);
		}
		return 0;
	case ARGP_KEY_END:
		if (!pw_changes(&a->pw) && a->autosuspend < 0)
			argp_error(state, "nothing to change: give --state, --idle-timer, --standby-timer or "
				   "--autosuspend (usb_storage_power_info shows the settings)");
		return 0;
	default:
		return ARGP_ERR_UNKNOWN;
	}
}

static const struct argp_child set_children[] = {
	{ &pw_set_argp, 0, NULL, 0 },
	{ 0 }
};

static const struct argp set_argp = {
	set_options, set_parser, NULL,
	"Change the power settings of a USB mass-storage device: its LUN's power condition and Power "
	"Condition mode page timers (as orionstor power), and USB selective suspend; then show them "
	"all.\v"
	"--autosuspend writes the device's power/control and power/autosuspend_delay_ms in sysfs, "
	"which needs the right to write there (root, or a udev rule).  A device another process holds "
	"is changed through its control socket.",
	set_children, NULL, NULL
};

static const struct argp info_argp = {
	NULL, NULL, NULL,
	"Show the power of a USB mass-storage device: the power condition of its LUN and the Power "
	"Condition mode page timers (as orionstor power), and USB runtime power management: whether "
	"the kernel may suspend it, after how long, whether it is suspended now, for how long it was, "
	"its maximum power, and whether the process holding it lets it suspend.\v"
	"A device another process holds is asked through its control socket.",
	NULL, NULL, NULL
};

/* ---- the USB part ------------------------------------------------------------------------ */

/* The object of the "usb_power" method: the library's schema. */
static struct json_object *usb_json(const struct ostor_usb_power *p)
{
	char *text = ostor_usb_power_json(p);
	struct json_object *o = text ? json_tokener_parse(text) : NULL;

	free(text);
	return o;
}

/* --autosuspend, appended to changed when done. */
static int usb_set(const struct tc_common *c, const struct tc_where *w, const struct usb_power_args *a,
		   struct json_object *changed)
{
	struct json_object *p, *res = NULL;
	int err, rc;

	if (a->autosuspend < 0)
		return 0;
	if (w->live) {
		p = json_object_new_object();
		json_object_object_add(p, "autosuspend", json_object_new_int(a->autosuspend));
		json_object_object_add(p, "delay_ms", json_object_new_int(a->delay_ms));
		rc = tc_where_call(w, "usb_power_set", p, USB_POWER_TIMEOUT_MS, "change its USB power settings", &res);
		json_object_put(res);
		if (rc)
			return rc;
	} else if ((err = ostor_usb_power_set(w->dev, a->autosuspend, a->delay_ms)) < 0) {
		tc_lib_error(err, "--autosuspend on '%s'", c->device);
		return tc_exit_from_error(err);
	}
	p = json_object_new_object();
	json_object_object_add(p, "autosuspend", json_object_new_boolean(a->autosuspend));
	json_object_object_add(p, "delay_ms", a->delay_ms < 0 ? NULL : json_object_new_int(a->delay_ms));
	json_object_array_add(changed, p);
	return 0;
}

static int usb_read(const struct tc_common *c, const struct tc_where *w, struct json_object **out)
{
	struct ostor_usb_power p = OSTOR_USB_POWER_INIT;
	int err;

	if (w->live)
		return tc_where_call(w, "usb_power", NULL, USB_POWER_TIMEOUT_MS, "read its USB power state", out);
	err = ostor_usb_power_get(w->dev, &p);
	if (err < 0) {
		tc_lib_error(err, "'%s': cannot read its USB power state", c->device);
		return tc_exit_from_error(err);
	}
	*out = usb_json(&p);
	if (!*out) {
		tc_msg("out of memory");
		return TC_EXIT_FILE_ERROR;
	}
	return 0;
}

static void usb_print(struct json_object *u)
{
	const char *control = tc_jstr(u, "control");

	printf("USB runtime power management:\n");
	printf("  control          %s\n", !strcmp(control, "auto") ? "auto (the kernel may suspend the idle device)" :
	       !strcmp(control, "on") ? "on (never suspended)" : "unknown");
	if (tc_jobj(u, "autosuspend_delay_ms"))
		printf("  autosuspend      after %" PRId64 " ms idle\n", tc_jint(u, "autosuspend_delay_ms"));
	else
		printf("  autosuspend      delay unknown\n");
	printf("  runtime status   %s\n", *tc_jstr(u, "runtime_status") ? tc_jstr(u, "runtime_status") : "unknown");
	printf("  time             %" PRId64 " ms suspended, %" PRId64 " ms active\n", tc_jint(u, "runtime_suspended_ms"),
	       tc_jint(u, "runtime_active_ms"));
	printf("  max power        %" PRId64 " mA (bMaxPower)\n", tc_jint(u, "max_power_ma"));
	printf("  speed            %s\n", *tc_jstr(u, "speed") ? tc_jstr(u, "speed") : "unknown");
	if (tc_jbool(u, "suspend_allowed"))
		printf("  holder           lets it suspend after %" PRId64 " ms without commands\n", tc_jint(u, "idle_ms"));
	else
		printf("  holder           does not let it suspend (power_management_enabled in orionstor.conf(5))\n");
	printf("  counters         %" PRId64 " suspends allowed while idle, %" PRId64 " resumes by a command\n",
	       tc_jint(u, "suspends_allowed"), tc_jint(u, "resumes"));
	printf("  sysfs            %s\n", *tc_jstr(u, "sysfs_path") ? tc_jstr(u, "sysfs_path") : "none (simulated)");
}

/* ---- the tools --------------------------------------------------------------------------- */

static int usb_power(int argc, char **argv, bool set)
{
	struct usb_power_args a = { .pw = PW_ARGS_INIT, .autosuspend = -1, .delay_ms = -1 };
	struct json_object *doc = NULL, *usb = NULL, *changed;
	struct tc_common c;
	struct tc_where w;
	int rc;

	tc_parse(set ? &set_argp : &info_argp, argc, argv, TC_OPT_DEVICE_REQUIRED | TC_OPT_JSON, &c, &a);
	if ((rc = tc_where_locate(&c, &w)))
		return tc_where_release(&w, rc);
	changed = json_object_new_array();
	/* The USB part first: it says at once whether this is a USB device. */
	if ((rc = usb_set(&c, &w, &a, changed)) || (rc = usb_read(&c, &w, &usb)) ||
	    (rc = pw_apply(&c, &w, &a.pw, changed)) || (rc = pw_read(&c, &w, &doc))) {
		json_object_put(changed);
		json_object_put(usb);
		return tc_where_release(&w, rc);
	}
	if (set)
		json_object_object_add(doc, "changed", changed);
	else
		json_object_put(changed);
	json_object_object_add(doc, "usb_power", usb);
	if (c.json) {
		tc_where_add_holder(doc, &w);
		rc = tc_json_print(doc);
	} else {
		pw_print(&c, &w, doc);
		usb_print(usb);
	}
	json_object_put(doc);
	rc = tc_where_release(&w, rc);
	return rc ? rc : tc_finish_stdout();
}

int orionstor_cmd_usb_power_info(int argc, char **argv)
{
	return usb_power(argc, argv, false);
}

int orionstor_cmd_usb_power_set(int argc, char **argv)
{
	return usb_power(argc, argv, true);
}
