/*
 * lib/core/control_health.c - the control socket's methods for health and
 * power: health (what SMART monitoring last saw, or a check now), power
 * (the power condition and page 1Ah timers of a LUN, and the USB runtime
 * power state) and power_set (START STOP UNIT, a timer, USB autosuspend).
 *
 * They send commands, so they hold a reference to the device, never the
 * registry.
 */
#include "core/control.h"
#include "core/health.h"

#include <json-c/json.h>
#include <stdlib.h>
#include <string.h>

static int lun_params(struct json_object *params, bool *one, uint32_t *target, uint32_t *lun)
{
	int64_t t, l;
	int r;

	if ((r = ostori_param_int(params, "target", -1, UINT32_MAX, -1, &t)) ||
	    (r = ostori_param_int(params, "lun", -1, UINT32_MAX, -1, &l)))
		return r;
	*one = t >= 0 || l >= 0;
	*target = t >= 0 ? (uint32_t)t : 0;
	*lun = l >= 0 ? (uint32_t)l : 0;
	return 0;
}

static void add_error(struct json_object *o, int r)
{
	const char *msg = ostor_last_error();

	json_object_object_add(o, "error", json_object_new_string(ostor_error_name(r)));
	json_object_object_add(o, "error_code", json_object_new_int(r));
	json_object_object_add(o, "message", json_object_new_string(*msg ? msg : ostor_strerror(r)));
}

/* ---- health ---------------------------------------------------------------- */

/* {"device", "target"?, "lun"?, "refresh"?, "protocol"?} -> {"device",
 * "monitoring": the monitor's state and last reports (enabled false when
 * off), "report"?: a full report read now (with target/lun, or refresh:
 * LUN 0:0 by default), or "error"/"message" when that failed}. */
int ostori_method_health(struct json_object *params, struct json_object **result)
{
	struct json_object *o;
	const char *spec, *pname;
	uint32_t target, lun;
	ostor_device *dev;
	int refresh, protocol = OSTOR_HEALTH_PROTO_AUTO, r;
	bool one;

	if ((r = ostori_param_string(params, "device", true, &spec)) ||
	    (r = lun_params(params, &one, &target, &lun)) || (r = ostori_param_bool(params, "refresh", &refresh)) ||
	    (r = ostori_param_string(params, "protocol", false, &pname)))
		return r;
	if (pname && (protocol = ostor_health_protocol_parse(pname)) < 0)
		return protocol;
	if ((r = ostori_control_hold_device(spec, &dev)) < 0)
		return r;
	o = json_object_new_object();
	json_object_object_add(o, "device", json_object_new_string(dev->spec));
	json_object_object_add(o, "monitoring", ostori_health_monitor_json(dev));
	if (one || refresh > 0 || pname) {
		ostor_health *h = NULL;

		ostori_clear_error();
		r = ostor_health_get(dev, target, lun, protocol, 0, &h);
		if (r == 0)
			json_object_object_add(o, "report", ostori_health_json_object(h));
		else
			add_error(o, r);
		ostor_health_free(h);
	}
	ostori_control_release_device(dev);
	*result = o;
	return 0;
}

/* ---- power ----------------------------------------------------------------- */

static struct json_object *timer_json(const struct ostor_power_timer *t)
{
	struct json_object *o = json_object_new_object();

	json_object_object_add(o, "enabled", json_object_new_boolean(t->enabled));
	json_object_object_add(o, "changeable", json_object_new_boolean(t->changeable));
	json_object_object_add(o, "ms", json_object_new_uint64((uint64_t)t->timer_100ms * 100));
	return o;
}

/* The JSON of a power report: the schema of orionstor power --json. */
static struct json_object *power_json(const struct ostor_power_info *pi)
{
	struct json_object *o = json_object_new_object(), *page;

	json_object_object_add(o, "condition", json_object_new_string(ostor_power_condition_name(pi->condition)));
	json_object_object_add(o, "source", json_object_new_string(pi->condition_source));
	json_object_object_add(o, "by_timer", pi->by_timer < 0 ? NULL : json_object_new_boolean(pi->by_timer));
	json_object_object_add(o, "ata_mode", pi->ata_mode < 0 ? NULL :
			       json_object_new_string(ostor_scsi_ata_power_mode_name(pi->ata_mode)));
	if (!pi->page_present) {
		json_object_object_add(o, "page_1a", NULL);
		return o;
	}
	page = json_object_new_object();
	json_object_object_add(page, "saveable", json_object_new_boolean(pi->page_saveable));
	json_object_object_add(page, "idle_a", timer_json(&pi->idle_a));
	json_object_object_add(page, "idle_b", timer_json(&pi->idle_b));
	json_object_object_add(page, "idle_c", timer_json(&pi->idle_c));
	json_object_object_add(page, "standby_y", timer_json(&pi->standby_y));
	json_object_object_add(page, "standby_z", timer_json(&pi->standby_z));
	json_object_object_add(o, "page_1a", page);
	return o;
}

static struct json_object *usb_power_json(ostor_device *dev)
{
	struct ostor_usb_power up = OSTOR_USB_POWER_INIT;
	struct json_object *o;

	if (ostor_usb_power_get(dev, &up) < 0)
		return NULL;
	o = json_object_new_object();
	json_object_object_add(o, "control", json_object_new_string(up.control));
	json_object_object_add(o, "autosuspend_delay_ms", up.autosuspend_delay_ms < 0 ? NULL :
			       json_object_new_int(up.autosuspend_delay_ms));
	json_object_object_add(o, "runtime_status", json_object_new_string(up.runtime_status));
	json_object_object_add(o, "runtime_suspended_ms", json_object_new_uint64(up.runtime_suspended_ms));
	json_object_object_add(o, "runtime_active_ms", json_object_new_uint64(up.runtime_active_ms));
	json_object_object_add(o, "max_power_ma", json_object_new_uint64(up.max_power_ma));
	json_object_object_add(o, "speed", json_object_new_string(up.speed));
	json_object_object_add(o, "suspend_allowed", json_object_new_boolean(up.suspend_allowed));
	json_object_object_add(o, "idle_ms", json_object_new_uint64(up.idle_ms));
	json_object_object_add(o, "suspends_allowed", json_object_new_uint64(up.suspends_allowed));
	json_object_object_add(o, "resumes", json_object_new_uint64(up.resumes));
	json_object_object_add(o, "sysfs_path", json_object_new_string(up.sysfs_path));
	return o;
}

/* {"device", "target"?, "lun"?} -> {"device", "target", "lun", "scsi": the
 * power report or "error"/"message", "usb": the USB runtime power state
 * (null when the device is not USB)} */
int ostori_method_power(struct json_object *params, struct json_object **result)
{
	struct ostor_power_info pi = OSTOR_POWER_INFO_INIT;
	struct json_object *o, *s;
	const char *spec;
	uint32_t target, lun;
	ostor_device *dev;
	bool one;
	int r;

	if ((r = ostori_param_string(params, "device", true, &spec)) ||
	    (r = lun_params(params, &one, &target, &lun)))
		return r;
	if ((r = ostori_control_hold_device(spec, &dev)) < 0)
		return r;
	o = json_object_new_object();
	json_object_object_add(o, "device", json_object_new_string(dev->spec));
	json_object_object_add(o, "target", json_object_new_int64(target));
	json_object_object_add(o, "lun", json_object_new_int64(lun));
	ostori_clear_error();
	r = ostor_power_get(dev, target, lun, &pi);
	if (r == 0) {
		s = power_json(&pi);
	} else {
		s = json_object_new_object();
		add_error(s, r);
	}
	json_object_object_add(o, "scsi", s);
	json_object_object_add(o, "usb", usb_power_json(dev));
	ostori_control_release_device(dev);
	*result = o;
	return 0;
}

static int action_of(const char *name)
{
	for (int a = OSTOR_POWER_GO_ACTIVE; a <= OSTOR_POWER_LU_CONTROL; a++)
		if (!strcmp(name, ostor_power_action_name(a)))
			return a;
	return ostori_error(OSTOR_ERROR_INVALID_PARAM, "parameter \"state\" %s: expected active, idle, "
			    "standby, start, stop, load, eject or lu_control", name);
}

/* {"device", "target"?, "lun"?, "state"?, "immed"?, "idle_timer_ms"?,
 * "standby_timer_ms"? (-1: disable), "save"?, "autosuspend"? ("on",
 * "off" or milliseconds as a string)} -> {"device", "done": [what was
 * changed]}.  The first refusal is the method's error (message set);
 * what was done before it stays done. */
int ostori_method_power_set(struct json_object *params, struct json_object **result)
{
	struct json_object *o, *done;
	const char *spec, *state, *autosuspend;
	uint32_t target, lun;
	ostor_device *dev;
	int64_t idle, standby;
	int immed, save, action = 0, r;
	bool one;

	if ((r = ostori_param_string(params, "device", true, &spec)) ||
	    (r = lun_params(params, &one, &target, &lun)) ||
	    (r = ostori_param_string(params, "state", false, &state)) ||
	    (r = ostori_param_bool(params, "immed", &immed)) ||
	    (r = ostori_param_bool(params, "save", &save)) ||
	    (r = ostori_param_int(params, "idle_timer_ms", -1, 429496729500LL, -2, &idle)) ||
	    (r = ostori_param_int(params, "standby_timer_ms", -1, 429496729500LL, -2, &standby)) ||
	    (r = ostori_param_string(params, "autosuspend", false, &autosuspend)))
		return r;
	if (state && (action = action_of(state)) < 0)
		return action;
	if ((r = ostori_control_hold_device(spec, &dev)) < 0)
		return r;
	o = json_object_new_object();
	done = json_object_new_array();
	json_object_object_add(o, "device", json_object_new_string(dev->spec));
	if (state && (r = ostor_power_set(dev, target, lun, action, immed > 0 ? OSTOR_POWER_IMMED : 0)) == 0)
		json_object_array_add(done, json_object_new_string("state"));
	if (r == 0 && idle != -2 &&
	    (r = ostor_power_set_timer(dev, target, lun, OSTOR_POWER_TIMER_IDLE_A, idle >= 0,
				       idle >= 0 ? (uint32_t)((idle + 99) / 100) : 0,
				       save > 0 ? OSTOR_POWER_SAVE : 0)) == 0)
		json_object_array_add(done, json_object_new_string("idle_timer"));
	if (r == 0 && standby != -2 &&
	    (r = ostor_power_set_timer(dev, target, lun, OSTOR_POWER_TIMER_STANDBY_Z, standby >= 0,
				       standby >= 0 ? (uint32_t)((standby + 99) / 100) : 0,
				       save > 0 ? OSTOR_POWER_SAVE : 0)) == 0)
		json_object_array_add(done, json_object_new_string("standby_timer"));
	if (r == 0 && autosuspend) {
		char *end;
		long ms = strtol(autosuspend, &end, 10);

		if (!strcmp(autosuspend, "on"))
			r = ostor_usb_power_set(dev, 1, -1);
		else if (!strcmp(autosuspend, "off"))
			r = ostor_usb_power_set(dev, 0, -1);
		else if (*autosuspend && !*end && ms >= 0 && ms <= 86400000)
			r = ostor_usb_power_set(dev, 1, (int)ms);
		else
			r = ostori_error(OSTOR_ERROR_INVALID_PARAM, "parameter \"autosuspend\" %s: expected on, "
					 "off or a delay in milliseconds", autosuspend);
		if (r == 0)
			json_object_array_add(done, json_object_new_string("autosuspend"));
	}
	ostori_control_release_device(dev);
	json_object_object_add(o, "done", done);
	if (r < 0) {
		json_object_put(o);
		return r;
	}
	*result = o;
	return 0;
}
