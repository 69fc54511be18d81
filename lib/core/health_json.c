/*
 * lib/core/health_json.c - a health report as JSON: the schema of
 * `orionstor smart --json` and of the control method "health".  Names
 * follow smartctl's --json where one exists (model_name, serial_number,
 * ata_smart_attributes' id/name/value/worst/thresh/when_failed/raw), so
 * the two are easy to compare.
 */
#include "core/health.h"

#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void add_str(json_object *o, const char *key, const char *v)
{
	json_object_object_add(o, key, json_object_new_string(v ? v : ""));
}

static void add_int(json_object *o, const char *key, int64_t v)
{
	json_object_object_add(o, key, json_object_new_int64(v));
}

static void add_bool(json_object *o, const char *key, int v)
{
	json_object_object_add(o, key, json_object_new_boolean(v != 0));
}

/* A tri-state feature (1, 0, -1 not reported): true, false or null. */
static void add_tri(json_object *o, const char *key, int v)
{
	json_object_object_add(o, key, v < 0 ? NULL : json_object_new_boolean(v != 0));
}

static json_object *value_string(int64_t value, const char *text)
{
	json_object *o = json_object_new_object();

	add_int(o, "value", value);
	add_str(o, "string", text);
	return o;
}

static json_object *identify_json(const struct ostor_scsi_ata_identify *id)
{
	json_object *o = json_object_new_object(), *cap;

	add_str(o, "model_name", id->model);
	add_str(o, "serial_number", id->serial);
	add_str(o, "firmware_version", id->firmware);
	add_str(o, "ata_version", ostor_scsi_ata_major_version_name(id->major_version));
	cap = json_object_new_object();
	add_int(cap, "blocks", (int64_t)id->sectors);
	add_int(cap, "bytes", (int64_t)id->capacity_bytes);
	json_object_object_add(o, "user_capacity", cap);
	add_int(o, "logical_block_size", id->logical_sector_size);
	add_int(o, "physical_block_size", id->physical_sector_size);
	add_int(o, "rotation_rate", id->rotation_rate);
	add_tri(o, "smart_supported", id->smart_supported);
	add_tri(o, "smart_enabled", id->smart_enabled);
	add_tri(o, "self_test_supported", id->self_test_supported);
	add_tri(o, "lba48_supported", id->lba48_supported);
	add_tri(o, "write_cache_enabled", id->write_cache_enabled);
	add_bool(o, "trim_supported", id->trim_supported);
	if (id->wwn_valid) {
		char wwn[24];

		snprintf(wwn, sizeof(wwn), "%016llx", (unsigned long long)id->wwn);
		add_str(o, "wwn", wwn);
	}
	return o;
}

static json_object *attr_json(const struct ostor_scsi_ata_smart_attr *a)
{
	json_object *o = json_object_new_object(), *flags, *raw;
	char text[64];

	add_int(o, "id", a->id);
	add_str(o, "name", a->name);
	add_int(o, "value", a->value);
	add_int(o, "worst", a->worst);
	add_int(o, "thresh", a->threshold_valid ? a->threshold : 0);
	add_str(o, "when_failed", a->below_threshold ? "now" : a->failed_past ? "past" : "");
	flags = json_object_new_object();
	add_int(flags, "value", a->flags);
	add_bool(flags, "prefailure", a->prefail);
	add_bool(flags, "updated_online", a->flags & OSTOR_ATA_ATTR_ONLINE);
	json_object_object_add(o, "flags", flags);
	raw = json_object_new_object();
	add_int(raw, "value", (int64_t)a->raw_value);
	add_str(raw, "string", ostor_scsi_ata_attr_raw_text(a, text, sizeof(text)));
	json_object_object_add(o, "raw", raw);
	return o;
}

static json_object *ata_json(const struct ostor_health *hr)
{
	json_object *o = json_object_new_object(), *st, *arr;

	if (hr->have_identify)
		json_object_object_add(o, "identify", identify_json(&hr->identify));
	if (hr->have_status) {
		st = json_object_new_object();
		json_object_object_add(st, "passed", hr->status.verdict == OSTOR_ATA_HEALTH_UNKNOWN ? NULL :
				       json_object_new_boolean(hr->status.verdict == OSTOR_ATA_HEALTH_PASSED));
		add_bool(st, "registers", hr->status.registers_present);
		add_str(st, "text", hr->status.text);
		json_object_object_add(o, "smart_status", st);
	}
	if (hr->have_smart) {
		const struct ostor_scsi_ata_smart_data *d = &hr->smart;

		st = json_object_new_object();
		add_int(st, "revision", d->revision);
		add_bool(st, "checksum_ok", d->checksum_ok);
		add_bool(st, "thresholds_checksum_ok", d->thresholds_checksum_ok);
		arr = json_object_new_array();
		for (size_t i = 0; i < d->count && i < OSTOR_ATA_SMART_ATTRS_MAX; i++)
			json_object_array_add(arr, attr_json(&d->attrs[i]));
		json_object_object_add(st, "table", arr);
		json_object_object_add(o, "attributes", st);
		st = json_object_new_object();
		json_object_object_add(st, "status",
				       value_string(d->self_test_status,
						    ostor_scsi_ata_self_test_status_name(d->self_test_status)));
		add_int(st, "remaining_percent", d->self_test_remaining);
		add_int(st, "short_minutes", d->short_test_minutes);
		add_int(st, "extended_minutes", d->extended_test_minutes);
		json_object_object_add(o, "self_test", st);
	}
	if (hr->have_self_tests) {
		const struct ostor_scsi_ata_self_test_log *l = &hr->self_tests;

		st = json_object_new_object();
		add_int(st, "revision", l->revision);
		add_bool(st, "checksum_ok", l->checksum_ok);
		add_int(st, "error_count_total", (int64_t)l->failed_count);
		arr = json_object_new_array();
		for (size_t i = 0; i < l->count && i < OSTOR_ATA_SELF_TEST_LOG_ENTRIES; i++) {
			const struct ostor_scsi_ata_self_test_entry *e = &l->entries[i];
			json_object *je = json_object_new_object(), *js;

			json_object_object_add(je, "type", value_string(e->test, ostor_scsi_ata_self_test_type_name(e->test)));
			js = value_string(e->status, ostor_scsi_ata_self_test_status_name(e->status));
			add_bool(js, "passed", !e->failed);
			json_object_object_add(je, "status", js);
			add_int(je, "remaining_percent", e->remaining);
			add_int(je, "lifetime_hours", e->lifetime_hours);
			if (e->failing_lba_valid)
				add_int(je, "lba", e->failing_lba);
			json_object_array_add(arr, je);
		}
		json_object_object_add(st, "table", arr);
		json_object_object_add(o, "self_test_log", st);
	}
	return o;
}

static json_object *scsi_json(const struct ostor_health *hr)
{
	json_object *o = json_object_new_object(), *arr, *e;
	char text[16];

	arr = json_object_new_array();
	for (size_t i = 0; i < hr->npages; i++) {
		if (hr->pages[i].subpage)
			snprintf(text, sizeof(text), "%02Xh/%02Xh", hr->pages[i].page, hr->pages[i].subpage);
		else
			snprintf(text, sizeof(text), "%02Xh", hr->pages[i].page);
		json_object_array_add(arr, json_object_new_string(text));
	}
	json_object_object_add(o, "log_pages", arr);
	if (hr->have_ie) {
		e = json_object_new_object();
		add_str(e, "source", hr->ie_source);
		add_int(e, "asc", hr->ie.asc);
		add_int(e, "ascq", hr->ie.ascq);
		add_bool(e, "failure_predicted", hr->ie.exception == OSTOR_SCSI_IE_FAILURE_PREDICTED);
		json_object_object_add(o, "informational_exception", e);
	}
	if (hr->have_temp_page && hr->temp_page.reference_valid)
		add_int(o, "reference_temperature", hr->temp_page.reference);
	arr = json_object_new_array();
	for (size_t i = 0; i < hr->nscsi_tests; i++) {
		const struct ostor_scsi_log_self_test *t = &hr->scsi_tests[i];

		e = json_object_new_object();
		json_object_object_add(e, "code", value_string(t->code, ostor_scsi_self_test_code_name(t->code)));
		json_object_object_add(e, "result", value_string(t->result, ostor_scsi_self_test_result_name(t->result)));
		add_bool(e, "failed", ostor_scsi_self_test_result_failed(t->result));
		add_int(e, "number", t->number);
		add_int(e, "power_on_hours", t->power_on_hours);
		if (t->lba_valid)
			add_int(e, "lba", (int64_t)t->first_failure_lba);
		json_object_array_add(arr, e);
	}
	json_object_object_add(o, "self_test_results", arr);
	if (hr->have_bg) {
		e = json_object_new_object();
		json_object_object_add(e, "status", value_string(hr->bg.status, ostor_scsi_bg_scan_status_name(hr->bg.status)));
		add_int(e, "power_on_minutes", hr->bg.power_on_minutes);
		add_int(e, "scans_performed", hr->bg.scans_performed);
		add_int(e, "medium_scans_performed", hr->bg.medium_scans_performed);
		json_object_object_add(o, "background_scan", e);
	}
	return o;
}

json_object *ostori_health_json_object(const struct ostor_health *hr)
{
	json_object *o = json_object_new_object(), *dev, *inq, *t;

	if (!o)
		return NULL;
	dev = json_object_new_object();
	add_str(dev, "spec", hr->spec);
	add_int(dev, "target", hr->target);
	add_int(dev, "lun", hr->lun);
	json_object_object_add(o, "device", dev);
	inq = json_object_new_object();
	add_str(inq, "vendor", hr->inquiry.vendor);
	add_str(inq, "product", hr->inquiry.product);
	add_str(inq, "revision", hr->inquiry.revision);
	add_str(inq, "serial_number", hr->serial);
	json_object_object_add(o, "inquiry", inq);
	add_str(o, "protocol", ostor_health_protocol_name(hr->protocol));
	add_str(o, "verdict", ostor_health_verdict_name(hr->verdict));
	add_str(o, "reason", hr->reason);
	if (hr->have_temperature) {
		t = json_object_new_object();
		add_int(t, "current", hr->temperature);
		json_object_object_add(o, "temperature", t);
	}
	if (hr->protocol == OSTOR_HEALTH_PROTO_SCSI)
		json_object_object_add(o, "scsi", scsi_json(hr));
	else
		json_object_object_add(o, "ata", ata_json(hr));
	return o;
}

OSTOR_API char *ostor_health_json(const ostor_health *report)
{
	json_object *o;
	char *s;

	if (!report)
		return NULL;
	o = ostori_health_json_object(report);
	if (!o)
		return NULL;
	s = strdup(json_object_to_json_string_ext(o, JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_NOSLASHESCAPE));
	json_object_put(o);
	return s;
}
