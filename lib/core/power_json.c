/*
 * lib/core/power_json.c - power reports as JSON: the schema of orionstor
 * power --json, usb_storage_power_info --json and the control methods
 * power and usb_power (one builder, so the tools and a holder agree).
 */
#include "core/backend.h"

#include <json-c/json.h>
#include <stdlib.h>
#include <string.h>

static struct json_object *timer_json(const struct ostor_power_timer *t)
{
	struct json_object *o = json_object_new_object();

	json_object_object_add(o, "enabled", json_object_new_boolean(t->enabled));
	json_object_object_add(o, "changeable", json_object_new_boolean(t->changeable));
	json_object_object_add(o, "timer_100ms", json_object_new_int64(t->timer_100ms));
	json_object_object_add(o, "timer_ms", json_object_new_int64((int64_t)t->timer_100ms * 100));
	return o;
}

struct json_object *ostori_power_json_object(const char *spec, uint32_t target, uint32_t lun,
					     const struct ostor_power_info *pi)
{
	struct json_object *o = json_object_new_object(), *d = json_object_new_object(), *p, *t = NULL;

	json_object_object_add(d, "spec", json_object_new_string(spec ? spec : ""));
	json_object_object_add(d, "target", json_object_new_int64(target));
	json_object_object_add(d, "lun", json_object_new_int64(lun));
	json_object_object_add(o, "device", d);
	json_object_object_add(o, "condition", json_object_new_string(ostor_power_condition_name(pi->condition)));
	json_object_object_add(o, "condition_source", json_object_new_string(pi->condition_source));
	json_object_object_add(o, "by_timer", pi->by_timer < 0 ? NULL : json_object_new_boolean(pi->by_timer));
	json_object_object_add(o, "ata_mode", pi->ata_mode < 0 ? NULL :
			       json_object_new_string(ostor_scsi_ata_power_mode_name(pi->ata_mode)));
	p = json_object_new_object();
	json_object_object_add(p, "present", json_object_new_boolean(pi->page_present));
	json_object_object_add(p, "saveable", json_object_new_boolean(pi->page_saveable));
	if (pi->page_present) {
		t = json_object_new_object();
		json_object_object_add(t, "idle_a", timer_json(&pi->idle_a));
		json_object_object_add(t, "idle_b", timer_json(&pi->idle_b));
		json_object_object_add(t, "idle_c", timer_json(&pi->idle_c));
		json_object_object_add(t, "standby_y", timer_json(&pi->standby_y));
		json_object_object_add(t, "standby_z", timer_json(&pi->standby_z));
	}
	json_object_object_add(p, "timers", t);
	json_object_object_add(o, "power_condition_page", p);
	return o;
}

struct json_object *ostori_usb_power_json_object(const struct ostor_usb_power *p)
{
	struct json_object *o = json_object_new_object();

	json_object_object_add(o, "control", json_object_new_string(p->control));
	json_object_object_add(o, "autosuspend_delay_ms",
			       p->autosuspend_delay_ms < 0 ? NULL : json_object_new_int(p->autosuspend_delay_ms));
	json_object_object_add(o, "runtime_status", json_object_new_string(p->runtime_status));
	json_object_object_add(o, "runtime_suspended_ms", json_object_new_uint64(p->runtime_suspended_ms));
	json_object_object_add(o, "runtime_active_ms", json_object_new_uint64(p->runtime_active_ms));
	json_object_object_add(o, "max_power_ma", json_object_new_int64(p->max_power_ma));
	json_object_object_add(o, "speed", json_object_new_string(p->speed));
	json_object_object_add(o, "suspend_allowed", json_object_new_boolean(p->suspend_allowed));
	json_object_object_add(o, "idle_ms", json_object_new_int64(p->idle_ms));
	json_object_object_add(o, "suspends_allowed", json_object_new_uint64(p->suspends_allowed));
	json_object_object_add(o, "resumes", json_object_new_uint64(p->resumes));
	json_object_object_add(o, "sysfs_path", json_object_new_string(p->sysfs_path));
	return o;
}

static char *to_text(struct json_object *o)
{
	char *s;

	if (!o)
		return NULL;
	s = strdup(json_object_to_json_string_ext(o, JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_NOSLASHESCAPE));
	json_object_put(o);
	return s;
}

OSTOR_API char *ostor_power_json(const char *spec, uint32_t target, uint32_t lun,
				 const struct ostor_power_info *info)
{
	return info ? to_text(ostori_power_json_object(spec, target, lun, info)) : NULL;
}

OSTOR_API char *ostor_usb_power_json(const struct ostor_usb_power *power)
{
	return power ? to_text(ostori_usb_power_json_object(power)) : NULL;
}
