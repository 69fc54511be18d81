/*
 * tools/common/power.c - orionstor power: the power condition of a LUN
 * (REQUEST SENSE, ATA CHECK POWER MODE behind SAT) and the timers of its
 * Power Condition mode page (1Ah); --state sends START STOP UNIT, the
 * timer options change page 1Ah.  Transport-neutral; the usb_storage_power_*
 * tools add the USB part (usbpower.c) to the same code.
 *
 * A device another process holds is asked through its control socket:
 * methods "power" (target, lun: the object pw_read makes), "power_set"
 * (state, immed) and "power_timer" (timer idle_a|standby_z, enabled,
 * timer_100ms, save); a holder whose library has none is refused
 * (holder.c).
 */
#include "powertool.h"
#include "subcommands.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

/* START STOP UNIT may wait for a disk to spin up or down. */
#define POWER_TIMEOUT_MS 60000
/* Timers are 32 bits of 100 ms on the page. */
#define TIMER_MS_MAX ((uint64_t)UINT32_MAX * 100)

/* ---- the options that change it --------------------------------------------------- */

enum { K_STATE = 0x100, K_IMMED, K_IDLE, K_STANDBY, K_SAVE };

static const struct argp_option pw_set_options[] = {
	{ "state", K_STATE, "STATE", 0,
	  "START STOP UNIT: active, idle, standby, start, stop, load, eject or lu_control (give control "
	  "back to the timers)", 0 },
	{ "immed", K_IMMED, NULL, 0, "With --state: return before the transition ends (IMMED)", 0 },
	{ "idle-timer", K_IDLE, "MS|off", 0,
	  "Enable the idle timer of page 1Ah with MS milliseconds (rounded up to 100 ms), or disable it", 0 },
	{ "standby-timer", K_STANDBY, "MS|off", 0,
	  "Enable the standby timer of page 1Ah with MS milliseconds (rounded up to 100 ms), or disable it", 0 },
	{ "save", K_SAVE, NULL, 0, "With a timer: save page 1Ah, so the timer outlives a power cycle", 0 },
	{ 0 }
};

/* "off" (0), or MS rounded up to 100 ms units (1, *units). */
static int parse_timer(struct argp_state *state, const char *option, const char *arg, uint32_t *units)
{
	uint64_t ms;
	const char *why;

	if (!strcmp(arg, "off"))
		return 0;
	if (tc_parse_u64(arg, TIMER_MS_MAX, &ms, &why) < 0)
		argp_error(state, "%s: '%s' is not a number of milliseconds or off (%s)", option, arg, why);
	*units = (uint32_t)((ms + 99) / 100);
	return 1;
}

static error_t pw_set_parser(int key, char *arg, struct argp_state *state)
{
	struct pw_args *a = state->input;

	switch (key) {
	case K_STATE:
		for (int i = OSTOR_POWER_GO_ACTIVE; i <= OSTOR_POWER_LU_CONTROL; i++)
			if (!strcmp(arg, ostor_power_action_name(i))) {
				a->action = i;
				return 0;
			}
		argp_error(state, "--state: unknown state '%s'; expected active, idle, standby, start, stop, "
			   "load, eject or lu_control", arg);
		return 0;
	case K_IMMED:
		a->immed = true;
		return 0;
	case K_IDLE:
		a->idle = parse_timer(state, "--idle-timer", arg, &a->idle_100ms);
		return 0;
	case K_STANDBY:
		a->standby = parse_timer(state, "--standby-timer", arg, &a->standby_100ms);
		return 0;
	case K_SAVE:
		a->save = true;
		return 0;
	case ARGP_KEY_END:
		if (a->immed && !a->action)
			argp_error(state, "--immed goes with --state");
		if (a->save && a->idle < 0 && a->standby < 0)
			argp_error(state, "--save goes with --idle-timer or --standby-timer (it saves page 1Ah)");
		return 0;
	default:
		return ARGP_ERR_UNKNOWN;
	}
}

const struct argp pw_set_argp = { pw_set_options, pw_set_parser, NULL, NULL, NULL, NULL, NULL };

bool pw_changes(const struct pw_args *a)
{
	return a->action || a->idle >= 0 || a->standby >= 0;
}

/* ---- changing it ------------------------------------------------------------------- */

static struct json_object *lun_params(const struct tc_common *c)
{
	struct json_object *p = json_object_new_object();

	json_object_object_add(p, "target", json_object_new_int64(c->target));
	json_object_object_add(p, "lun", json_object_new_int64(c->lun));
	return p;
}

static int set_timer(const struct tc_common *c, const struct tc_where *w, const struct pw_args *a, int id,
		     int enable, uint32_t units, struct json_object *changed)
{
	const char *name = id == OSTOR_POWER_TIMER_IDLE_A ? "idle_a" : "standby_z";
	struct json_object *o, *res = NULL;
	int err, rc;

	if (w->live) {
		o = lun_params(c);
		json_object_object_add(o, "timer", json_object_new_string(name));
		json_object_object_add(o, "enabled", json_object_new_boolean(enable));
		json_object_object_add(o, "timer_100ms", json_object_new_int64(units));
		json_object_object_add(o, "save", json_object_new_boolean(a->save));
		if ((rc = tc_where_call(w, "power_timer", o, POWER_TIMEOUT_MS, "set its power timers", &res)))
			return rc;
		json_object_put(res);
	} else if ((err = ostor_power_set_timer(w->dev, c->target, c->lun, id, enable, units,
						a->save ? OSTOR_POWER_SAVE : 0)) < 0) {
		tc_lib_error(err, "cannot %s the %s timer", enable ? "set" : "disable", name);
		return tc_exit_from_error(err);
	}
	o = json_object_new_object();
	json_object_object_add(o, "timer", json_object_new_string(name));
	json_object_object_add(o, "enabled", json_object_new_boolean(enable));
	json_object_object_add(o, "timer_100ms", enable ? json_object_new_int64(units) : NULL);
	json_object_object_add(o, "saved", json_object_new_boolean(a->save));
	json_object_array_add(changed, o);
	return 0;
}

int pw_apply(const struct tc_common *c, const struct tc_where *w, const struct pw_args *a,
	     struct json_object *changed)
{
	struct json_object *o, *res = NULL;
	int err, rc;

	/* Timers first: a state asked for afterwards is the last word. */
	if (a->idle >= 0 &&
	    (rc = set_timer(c, w, a, OSTOR_POWER_TIMER_IDLE_A, a->idle, a->idle_100ms, changed)))
		return rc;
	if (a->standby >= 0 &&
	    (rc = set_timer(c, w, a, OSTOR_POWER_TIMER_STANDBY_Z, a->standby, a->standby_100ms, changed)))
		return rc;
	if (!a->action)
		return 0;
	if (w->live) {
		o = lun_params(c);
		json_object_object_add(o, "state", json_object_new_string(ostor_power_action_name(a->action)));
		json_object_object_add(o, "immed", json_object_new_boolean(a->immed));
		if ((rc = tc_where_call(w, "power_set", o, POWER_TIMEOUT_MS, "change its power condition", &res)))
			return rc;
		json_object_put(res);
	} else if ((err = ostor_power_set(w->dev, c->target, c->lun, a->action,
					  a->immed ? OSTOR_POWER_IMMED : 0)) < 0) {
		tc_lib_error(err, "--state %s", ostor_power_action_name(a->action));
		return tc_exit_from_error(err);
	}
	o = json_object_new_object();
	json_object_object_add(o, "state", json_object_new_string(ostor_power_action_name(a->action)));
	json_object_object_add(o, "immed", json_object_new_boolean(a->immed));
	json_object_array_add(changed, o);
	return 0;
}

/* ---- reading it -------------------------------------------------------------------- */

/* The object of the "power" method, from the public struct: the library's
 * schema (ostor_power_json), the same both ways. */
static struct json_object *info_json(const char *spec, const struct tc_common *c, const struct ostor_power_info *pi)
{
	char *text = ostor_power_json(spec, c->target, c->lun, pi);
	struct json_object *o = text ? json_tokener_parse(text) : NULL;

	free(text);
	return o;
}

int pw_read(const struct tc_common *c, const struct tc_where *w, struct json_object **doc)
{
	struct ostor_power_info pi = OSTOR_POWER_INFO_INIT;
	int err;

	if (w->live)
		return tc_where_call(w, "power", lun_params(c), POWER_TIMEOUT_MS, "read its power condition", doc);
	err = ostor_power_get(w->dev, c->target, c->lun, &pi);
	if (err < 0) {
		tc_lib_error(err, "%s %" PRIu32 ":%" PRIu32 ": cannot read the power condition", c->device,
			     c->target, c->lun);
		return tc_exit_from_error(err);
	}
	*doc = info_json(c->device, c, &pi);
	if (!*doc) {
		tc_msg("out of memory");
		return TC_EXIT_FILE_ERROR;
	}
	return 0;
}

/* ---- text ---------------------------------------------------------------------------- */

static void print_changed(struct json_object *changed)
{
	for (size_t i = 0; changed && i < json_object_array_length(changed); i++) {
		struct json_object *e = json_object_array_get_idx(changed, i);

		if (tc_jobj(e, "autosuspend") && !tc_jbool(e, "autosuspend"))
			printf("Done: USB autosuspend off (power/control on)\n");
		else if (tc_jobj(e, "autosuspend") && tc_jobj(e, "delay_ms"))
			printf("Done: USB autosuspend on (power/control auto), after %" PRId64 " ms idle\n",
			       tc_jint(e, "delay_ms"));
		else if (tc_jobj(e, "autosuspend"))
			printf("Done: USB autosuspend on (power/control auto)\n");
		else if (tc_jobj(e, "state"))
			printf("Done: START STOP UNIT %s%s\n", tc_jstr(e, "state"),
			       tc_jbool(e, "immed") ? " (IMMED: the transition may still be under way)" : "");
		else if (tc_jbool(e, "enabled"))
			printf("Done: %s timer set to %" PRId64 " ms and enabled%s\n", tc_jstr(e, "timer"),
			       tc_jint(e, "timer_100ms") * 100, tc_jbool(e, "saved") ? ", saved" : "");
		else
			printf("Done: %s timer disabled%s\n", tc_jstr(e, "timer"), tc_jbool(e, "saved") ? ", saved" : "");
	}
}

void pw_print(const struct tc_common *c, const struct tc_where *w, struct json_object *doc)
{
	static const char *const timers[] = { "idle_a", "idle_b", "idle_c", "standby_y", "standby_z" };
	struct json_object *page = tc_jobj(doc, "power_condition_page"), *t = tc_jobj(page, "timers");
	const char *src = tc_jstr(doc, "condition_source");

	printf("%s, target %" PRIu32 ", LUN %" PRIu32, tc_where_spec(c, w), c->target, c->lun);
	if (w->live)
		printf(", held by pid %ld (%s): asked through its control socket\n", w->lv.pid,
		       w->lv.program[0] ? w->lv.program : "?");
	else
		printf("\n");
	print_changed(tc_jobj(doc, "changed"));
	printf("Power condition:   %s", tc_jstr(doc, "condition"));
	if (!strcmp(src, "request-sense"))
		printf(" (REQUEST SENSE)");
	else if (!strcmp(src, "ata"))
		printf(" (ATA CHECK POWER MODE)");
	else
		printf(" (the device did not say)");
	if (tc_jobj(doc, "by_timer"))
		printf(", entered by %s", tc_jbool(doc, "by_timer") ? "a timer" : "a command");
	printf("\n");
	if (tc_jobj(doc, "ata_mode"))
		printf("ATA power mode:    %s (CHECK POWER MODE)\n", tc_jstr(doc, "ata_mode"));
	if (!tc_jbool(page, "present")) {
		printf("Power timers:      this device has no Power Condition mode page (1Ah): no timers to "
		       "show or set\n");
		return;
	}
	printf("Power timers:      page 1Ah, %s\n", tc_jbool(page, "saveable") ? "saveable (--save keeps changes)" :
	       "not saveable (changes last until a power cycle)");
	printf("  %-10s %-8s %14s  %s\n", "TIMER", "ENABLED", "TIME", "CHANGEABLE");
	for (size_t i = 0; i < TC_ARRAY_SIZE(timers); i++) {
		struct json_object *e = tc_jobj(t, timers[i]);
		char ms[32];

		snprintf(ms, sizeof(ms), "%" PRId64 " ms", tc_jint(e, "timer_ms"));
		printf("  %-10s %-8s %14s  %s\n", timers[i], tc_jbool(e, "enabled") ? "yes" : "no", ms,
		       tc_jbool(e, "changeable") ? "yes" : "no");
	}
}

/* ---- orionstor power ----------------------------------------------------------------------- */

static error_t power_parser(int key, char *arg, struct argp_state *state)
{
	(void)arg;
	if (key == ARGP_KEY_INIT)
		state->child_inputs[0] = state->input;
	return ARGP_ERR_UNKNOWN;
}

static const struct argp_child power_children[] = {
	{ &pw_set_argp, 0, NULL, 0 },
	{ 0 }
};

static const struct argp power_argp = {
	NULL, power_parser, NULL,
	"Show the power condition of a logical unit (active, idle, standby, stopped; what put it there) "
	"and the timers of its Power Condition mode page (1Ah); with options, change them first.\v"
	"MS is milliseconds, rounded up to the page's 100 ms units.  A device that refuses a power "
	"condition or has no changeable timer exits 9 with the device's reason.  A device another "
	"process holds is asked through its control socket.",
	power_children, NULL, NULL
};

int orionstor_cmd_power(int argc, char **argv)
{
	struct pw_args a = PW_ARGS_INIT;
	struct json_object *doc = NULL, *changed;
	struct tc_common c;
	struct tc_where w;
	int rc;

	tc_parse(&power_argp, argc, argv, TC_OPT_DEVICE_REQUIRED | TC_OPT_JSON, &c, &a);
	if ((rc = tc_where_locate(&c, &w)))
		return tc_where_release(&w, rc);
	changed = json_object_new_array();
	if ((rc = pw_apply(&c, &w, &a, changed)) || (rc = pw_read(&c, &w, &doc))) {
		json_object_put(changed);
		return tc_where_release(&w, rc);
	}
	if (pw_changes(&a))
		json_object_object_add(doc, "changed", changed);
	else
		json_object_put(changed);
	if (c.json) {
		tc_where_add_holder(doc, &w);
		rc = tc_json_print(doc);
	} else {
		pw_print(&c, &w, doc);
	}
	json_object_put(doc);
	rc = tc_where_release(&w, rc);
	return rc ? rc : tc_finish_stdout();
}
