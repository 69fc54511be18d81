/*
 * lib/core/control_health.c - the control socket's methods for health and
 * power, what the tools call on a process that holds the device: health
 * (a report now, and what SMART monitoring last saw), health_self_test,
 * power (condition and page 1Ah timers), power_set (START STOP UNIT),
 * power_timer (one timer of page 1Ah), usb_power and usb_power_set (USB
 * runtime power management).  Failures are the methods' errors, with the
 * library's message.
 *
 * They send commands, so they hold a reference to the device, never the
 * registry.
 */
#include "core/control.h"
#include "core/health.h"

#include <json-c/json.h>
#include <stdlib.h>
#include <string.h>

static int protocol_param(struct json_object *params, int *protocol)
{
	const char *name;
	int r;

	*protocol = OSTOR_HEALTH_PROTO_AUTO;
	if ((r = ostori_param_string(params, "protocol", false, &name)) || !name)
		return r;
	r = ostor_health_protocol_parse(name);
	if (r < 0)
		return r;
	*protocol = r;
	return 0;
}

/* ---- health ---------------------------------------------------------------- */

/* {"device", "target"?, "lun"?, "protocol"?, "status_only"?} -> the
 * report of ostor_health_json read now, plus "monitoring": SMART
 * monitoring's state and the last report of each LUN it watches. */
int ostori_method_health(struct json_object *params, struct json_object **result)
{
	struct json_object *o;
	const char *spec;
	uint32_t target, lun;
	ostor_device *dev;
	ostor_health *h = NULL;
	int status_only, protocol, r;
	bool one;

	if ((r = ostori_param_string(params, "device", true, &spec)) ||
	    (r = ostori_param_lun(params, &one, &target, &lun)) ||
	    (r = ostori_param_bool(params, "status_only", &status_only)) || (r = protocol_param(params, &protocol)))
		return r;
	if ((r = ostori_control_hold_device(spec, &dev)) < 0)
		return r;
	r = ostor_health_get(dev, target, lun, protocol, status_only > 0 ? OSTOR_HEALTH_STATUS_ONLY : 0, &h);
	if (r == 0) {
		o = ostori_health_json_object(h);
		json_object_object_add(o, "monitoring", ostori_health_monitor_json(dev));
		*result = o;
	}
	ostor_health_free(h);
	ostori_control_release_device(dev);
	return r;
}

/* {"device", "target"?, "lun"?, "protocol"?, "test": "short" | "long" |
 * "abort"} -> {"device", "test"} once the device accepted it. */
int ostori_method_health_self_test(struct json_object *params, struct json_object **result)
{
	static const char *const names[] = { [OSTOR_SELF_TEST_SHORT] = "short",
					     [OSTOR_SELF_TEST_LONG] = "long",
					     [OSTOR_SELF_TEST_ABORT] = "abort" };
	const char *spec, *name;
	uint32_t target, lun;
	ostor_device *dev;
	int protocol, test = 0, r;
	bool one;

	if ((r = ostori_param_string(params, "device", true, &spec)) ||
	    (r = ostori_param_lun(params, &one, &target, &lun)) || (r = protocol_param(params, &protocol)) ||
	    (r = ostori_param_string(params, "test", true, &name)))
		return r;
	for (int i = OSTOR_SELF_TEST_SHORT; i <= OSTOR_SELF_TEST_ABORT; i++)
		if (!strcmp(name, names[i]))
			test = i;
	if (!test)
		return ostori_error(OSTOR_ERROR_INVALID_PARAM, "parameter \"test\" %s: expected short, long or abort",
				    name);
	if ((r = ostori_control_hold_device(spec, &dev)) < 0)
		return r;
	r = ostor_health_self_test(dev, target, lun, protocol, test);
	if (r == 0) {
		*result = json_object_new_object();
		json_object_object_add(*result, "device", json_object_new_string(dev->spec));
		json_object_object_add(*result, "test", json_object_new_string(names[test]));
	}
	ostori_control_release_device(dev);
	return r;
}

/* ---- power ----------------------------------------------------------------- */

/* {"device", "target"?, "lun"?} -> the object of ostor_power_json. */
int ostori_method_power(struct json_object *params, struct json_object **result)
{
	struct ostor_power_info pi = OSTOR_POWER_INFO_INIT;
	const char *spec;
	uint32_t target, lun;
	ostor_device *dev;
	bool one;
	int r;

	if ((r = ostori_param_string(params, "device", true, &spec)) ||
	    (r = ostori_param_lun(params, &one, &target, &lun)))
		return r;
	if ((r = ostori_control_hold_device(spec, &dev)) < 0)
		return r;
	r = ostor_power_get(dev, target, lun, &pi);
	if (r == 0)
		*result = ostori_power_json_object(dev->spec, target, lun, &pi);
	ostori_control_release_device(dev);
	return r;
}

/* {"device", "target"?, "lun"?, "state": an ostor_power_action_name,
 * "immed"?} -> {"device", "state"} once the device accepted it. */
int ostori_method_power_set(struct json_object *params, struct json_object **result)
{
	const char *spec, *state;
	uint32_t target, lun;
	ostor_device *dev;
	int immed, action = 0, r;
	bool one;

	if ((r = ostori_param_string(params, "device", true, &spec)) ||
	    (r = ostori_param_lun(params, &one, &target, &lun)) ||
	    (r = ostori_param_string(params, "state", true, &state)) ||
	    (r = ostori_param_bool(params, "immed", &immed)))
		return r;
	for (int a = OSTOR_POWER_GO_ACTIVE; a <= OSTOR_POWER_LU_CONTROL; a++)
		if (!strcmp(state, ostor_power_action_name(a)))
			action = a;
	if (!action)
		return ostori_error(OSTOR_ERROR_INVALID_PARAM, "parameter \"state\" %s: expected active, idle, "
				    "standby, start, stop, load, eject or lu_control", state);
	if ((r = ostori_control_hold_device(spec, &dev)) < 0)
		return r;
	r = ostor_power_set(dev, target, lun, action, immed > 0 ? OSTOR_POWER_IMMED : 0);
	if (r == 0) {
		*result = json_object_new_object();
		json_object_object_add(*result, "device", json_object_new_string(dev->spec));
		json_object_object_add(*result, "state", json_object_new_string(state));
	}
	ostori_control_release_device(dev);
	return r;
}

/* {"device", "target"?, "lun"?, "timer": "idle_a" | "idle_b" | "idle_c" |
 * "standby_y" | "standby_z", "enabled", "timer_100ms"?, "save"?} ->
 * {"device", "timer"} once MODE SELECT was accepted. */
int ostori_method_power_timer(struct json_object *params, struct json_object **result)
{
	static const char *const names[] = { [OSTOR_POWER_TIMER_IDLE_A] = "idle_a",
					     [OSTOR_POWER_TIMER_IDLE_B] = "idle_b",
					     [OSTOR_POWER_TIMER_IDLE_C] = "idle_c",
					     [OSTOR_POWER_TIMER_STANDBY_Y] = "standby_y",
					     [OSTOR_POWER_TIMER_STANDBY_Z] = "standby_z" };
	const char *spec, *name;
	uint32_t target, lun;
	ostor_device *dev;
	int64_t units;
	int enabled, save, timer = 0, r;
	bool one;

	if ((r = ostori_param_string(params, "device", true, &spec)) ||
	    (r = ostori_param_lun(params, &one, &target, &lun)) ||
	    (r = ostori_param_string(params, "timer", true, &name)) ||
	    (r = ostori_param_bool(params, "enabled", &enabled)) ||
	    (r = ostori_param_bool(params, "save", &save)) ||
	    (r = ostori_param_int(params, "timer_100ms", 0, UINT32_MAX, 0, &units)))
		return r;
	for (int i = OSTOR_POWER_TIMER_IDLE_A; i <= OSTOR_POWER_TIMER_STANDBY_Z; i++)
		if (!strcmp(name, names[i]))
			timer = i;
	if (!timer)
		return ostori_error(OSTOR_ERROR_INVALID_PARAM, "parameter \"timer\" %s: expected idle_a, idle_b, "
				    "idle_c, standby_y or standby_z", name);
	if (enabled < 0)
		return ostori_error(OSTOR_ERROR_INVALID_PARAM, "parameter \"enabled\" is required (true or false)");
	if ((r = ostori_control_hold_device(spec, &dev)) < 0)
		return r;
	r = ostor_power_set_timer(dev, target, lun, timer, enabled, (uint32_t)units, save > 0 ? OSTOR_POWER_SAVE : 0);
	if (r == 0) {
		*result = json_object_new_object();
		json_object_object_add(*result, "device", json_object_new_string(dev->spec));
		json_object_object_add(*result, "timer", json_object_new_string(name));
	}
	ostori_control_release_device(dev);
	return r;
}

/* {"device"} -> the object of ostor_usb_power_json. */
int ostori_method_usb_power(struct json_object *params, struct json_object **result)
{
	struct ostor_usb_power up = OSTOR_USB_POWER_INIT;
	const char *spec;
	ostor_device *dev;
	int r;

	if ((r = ostori_param_string(params, "device", true, &spec)))
		return r;
	if ((r = ostori_control_hold_device(spec, &dev)) < 0)
		return r;
	r = ostor_usb_power_get(dev, &up);
	if (r == 0)
		*result = ostori_usb_power_json_object(&up);
	ostori_control_release_device(dev);
	return r;
}

/* {"device", "autosuspend"?: 1 | 0 | -1, "delay_ms"?: -1 or more} ->
 * {"device"} once sysfs took it (ostor_usb_power_set). */
int ostori_method_usb_power_set(struct json_object *params, struct json_object **result)
{
	const char *spec;
	ostor_device *dev;
	int64_t autosuspend, delay;
	int r;

	if ((r = ostori_param_string(params, "device", true, &spec)) ||
	    (r = ostori_param_int(params, "autosuspend", -1, 1, -1, &autosuspend)) ||
	    (r = ostori_param_int(params, "delay_ms", -1, INT32_MAX, -1, &delay)))
		return r;
	if ((r = ostori_control_hold_device(spec, &dev)) < 0)
		return r;
	r = ostor_usb_power_set(dev, (int)autosuspend, (int)delay);
	if (r == 0) {
		*result = json_object_new_object();
		json_object_object_add(*result, "device", json_object_new_string(dev->spec));
	}
	ostori_control_release_device(dev);
	return r;
}
