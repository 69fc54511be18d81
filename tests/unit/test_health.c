/*
 * tests/unit/test_health.c - ostor_health_get, self-tests, SMART
 * monitoring and power conditions against the simulated disks: a SCSI
 * disk with log pages, an ATA disk behind SAT (and its faults: failing,
 * a prefail attribute at its threshold, a bridge that drops the registers,
 * one without ATA PASS-THROUGH(16)), a JMicron bridge, over the sim's
 * USB transports too; the control methods health, power and power_set.
 */
#include "core/backend.h"
#include "core/control.h"
#include "sim/backend.h"
#include "sim/target.h"

#include <check.h>
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static ostor_context *ctx;

static void setup(void)
{
	ck_assert_int_eq(ostor_init(&ctx, ""), 0);
	ostor_set_log_level(ctx, OSTOR_LOG_NONE);
}

static void teardown(void)
{
	ostor_exit(ctx);
	ctx = NULL;
}

static ostor_device *open_dev(const char *spec)
{
	ostor_device *dev = NULL;
	int r = ostor_open(ctx, spec, &dev);

	ck_assert_msg(r == 0, "open %s: %s", spec, ostor_last_error());
	return dev;
}

static ostor_health *report(ostor_device *dev, int protocol)
{
	ostor_health *h = NULL;
	int r = ostor_health_get(dev, 0, 0, protocol, 0, &h);

	ck_assert_msg(r == 0, "health %s: %s", ostor_device_spec(dev), ostor_last_error());
	ck_assert_ptr_nonnull(h);
	return h;
}

/* The JSON is valid and says what the accessors say. */
static void check_json(const ostor_health *h)
{
	char *text = ostor_health_json(h);
	struct json_object *o, *v;

	ck_assert_ptr_nonnull(text);
	o = json_tokener_parse(text);
	ck_assert_msg(o != NULL, "not JSON: %s", text);
	ck_assert(json_object_object_get_ex(o, "verdict", &v));
	ck_assert_str_eq(json_object_get_string(v), ostor_health_verdict_name(ostor_health_verdict(h)));
	ck_assert(json_object_object_get_ex(o, "protocol", &v));
	ck_assert_str_eq(json_object_get_string(v), ostor_health_protocol_name(ostor_health_protocol(h)));
	json_object_put(o);
	free(text);
}

START_TEST(names_and_parse)
{
	ck_assert_str_eq(ostor_health_verdict_name(OSTOR_HEALTH_PASSED), "passed");
	ck_assert_str_eq(ostor_health_verdict_name(OSTOR_HEALTH_FAILING), "failing");
	ck_assert_str_eq(ostor_health_verdict_name(42), "unknown");
	ck_assert_int_eq(ostor_health_protocol_parse("sat"), OSTOR_HEALTH_PROTO_SAT16);
	ck_assert_int_eq(ostor_health_protocol_parse("sat12"), OSTOR_HEALTH_PROTO_SAT12);
	ck_assert_int_eq(ostor_health_protocol_parse("jmicron"), OSTOR_HEALTH_PROTO_JMICRON);
	ck_assert_int_eq(ostor_health_protocol_parse("nope"), OSTOR_ERROR_INVALID_PARAM);
	ck_assert_ptr_nonnull(strstr(ostor_last_error(), "expected auto, scsi, sat"));
	ck_assert_str_eq(ostor_power_condition_name(OSTOR_POWER_STANDBY_Y), "standby_y");
	ck_assert_str_eq(ostor_power_action_name(OSTOR_POWER_EJECT), "eject");
}
END_TEST

/* A SCSI disk: log pages 00h, 0Dh, 2Fh, 10h; the verdict from 2Fh. */
START_TEST(scsi_disk)
{
	ostor_device *dev = open_dev("sim:");
	ostor_health *h = report(dev, OSTOR_HEALTH_PROTO_AUTO);
	const struct ostor_scsi_log_page_id *ids;
	size_t n = ostor_health_log_pages(h, &ids);
	bool ie = false, temp = false;
	int c = 0;

	ck_assert_int_eq(ostor_health_protocol(h), OSTOR_HEALTH_PROTO_SCSI);
	ck_assert_int_eq(ostor_health_verdict(h), OSTOR_HEALTH_PASSED);
	for (size_t i = 0; i < n; i++) {
		ie |= ids[i].page == 0x2f;
		temp |= ids[i].page == 0x0d;
	}
	ck_assert(ie && temp);
	ck_assert_ptr_nonnull(ostor_health_scsi_ie(h));
	ck_assert_int_eq(ostor_health_scsi_ie(h)->asc, 0);
	ck_assert_int_eq(ostor_health_temperature(h, &c), 0);
	ck_assert(c > 0 && c < 100);
	ck_assert_ptr_null(ostor_health_ata_identify(h));
	check_json(h);
	ostor_health_free(h);
	/* SAT asked for by name: the disk refuses it, plainly. */
	ck_assert_int_eq(ostor_health_get(dev, 0, 0, OSTOR_HEALTH_PROTO_SAT16, 0, &h), OSTOR_ERROR_NOT_SUPPORTED);
	ck_assert_ptr_null(h);
	ck_assert_ptr_nonnull(strstr(ostor_last_error(), "ATA PASS-THROUGH(16)"));
	/* Bridges known but not spoken. */
	ck_assert_int_eq(ostor_health_get(dev, 0, 0, OSTOR_HEALTH_PROTO_SUNPLUS, 0, &h), OSTOR_ERROR_NOT_SUPPORTED);
	ck_assert_ptr_nonnull(strstr(ostor_last_error(), "Sunplus"));
	/* No such LUN. */
	ck_assert_int_eq(ostor_health_get(dev, 0, 7, OSTOR_HEALTH_PROTO_AUTO, 0, &h), OSTOR_ERROR_NOT_FOUND);
	ck_assert_int_eq(ostor_health_get(dev, 0, 0, 99, 0, &h), OSTOR_ERROR_INVALID_PARAM);
	ck_assert_int_eq(ostor_health_get(dev, 0, 0, 0, 0x80, &h), OSTOR_ERROR_INVALID_PARAM);
	ostor_close(dev);
}
END_TEST

START_TEST(scsi_disk_failing)
{
	ostor_device *dev = open_dev("sim:ie=failing");
	ostor_health *h = report(dev, OSTOR_HEALTH_PROTO_AUTO);

	ck_assert_int_eq(ostor_health_verdict(h), OSTOR_HEALTH_FAILING);
	ck_assert_int_eq(ostor_health_scsi_ie(h)->asc, 0x5d);
	ck_assert_ptr_nonnull(strstr(ostor_health_reason(h), "failure prediction"));
	check_json(h);
	ostor_health_free(h);
	ostor_close(dev);
}
END_TEST

/* A SCSI self-test lands in page 10h. */
START_TEST(scsi_self_test)
{
	ostor_device *dev = open_dev("sim:");
	const struct ostor_scsi_log_self_test *t;
	ostor_health *h;

	ck_assert_int_eq(ostor_health_self_test(dev, 0, 0, OSTOR_HEALTH_PROTO_AUTO, OSTOR_SELF_TEST_SHORT), 0);
	h = report(dev, OSTOR_HEALTH_PROTO_AUTO);
	ck_assert_uint_ge(ostor_health_scsi_self_tests(h, &t), 1);
	ck_assert_int_eq(t[0].code, 1);                /* background short */
	ck_assert_int_eq(ostor_health_self_test(dev, 0, 0, OSTOR_HEALTH_PROTO_AUTO, 9), OSTOR_ERROR_INVALID_PARAM);
	ostor_health_free(h);
	ostor_close(dev);
}
END_TEST

static void check_ata(const char *spec, int protocol, int want_protocol, int want_verdict)
{
	ostor_device *dev = open_dev(spec);
	ostor_health *h = report(dev, protocol);
	const struct ostor_scsi_ata_identify *id = ostor_health_ata_identify(h);
	const struct ostor_scsi_ata_smart_data *sd = ostor_health_ata_smart(h);
	int c;

	ck_assert_msg(ostor_health_protocol(h) == want_protocol, "%s: protocol %s", spec,
		      ostor_health_protocol_name(ostor_health_protocol(h)));
	ck_assert_msg(ostor_health_verdict(h) == want_verdict, "%s: verdict %s (%s)", spec,
		      ostor_health_verdict_name(ostor_health_verdict(h)), ostor_health_reason(h));
	ck_assert_ptr_nonnull(id);
	ck_assert(id->model[0] && id->serial[0] && id->sectors > 0);
	ck_assert_ptr_nonnull(sd);
	ck_assert_uint_ge(sd->count, 5);
	ck_assert(sd->checksum_ok);
	ck_assert_int_eq(ostor_health_temperature(h, &c), 0);
	ck_assert(c > 0 && c < 100);
	ck_assert_ptr_nonnull(ostor_health_ata_self_tests(h));
	check_json(h);
	ostor_health_free(h);
	ostor_close(dev);
}

START_TEST(ata_disk)
{
	check_ata("sim:ata", OSTOR_HEALTH_PROTO_AUTO, OSTOR_HEALTH_PROTO_SAT16, OSTOR_HEALTH_PASSED);
	check_ata("sim:ata", OSTOR_HEALTH_PROTO_SAT12, OSTOR_HEALTH_PROTO_SAT12, OSTOR_HEALTH_PASSED);
	check_ata("sim:ata,ata-fault=no-pt16", OSTOR_HEALTH_PROTO_AUTO, OSTOR_HEALTH_PROTO_SAT12,
		  OSTOR_HEALTH_PASSED);
}
END_TEST

START_TEST(ata_faults)
{
	ostor_device *dev;
	ostor_health *h;

	check_ata("sim:ata,ata-fault=failing", OSTOR_HEALTH_PROTO_AUTO, OSTOR_HEALTH_PROTO_SAT16,
		  OSTOR_HEALTH_FAILING);
	dev = open_dev("sim:ata,ata-fault=failing");
	h = report(dev, OSTOR_HEALTH_PROTO_AUTO);
	ck_assert_ptr_nonnull(strstr(ostor_health_reason(h), "RETURN STATUS"));
	ostor_health_free(h);
	ostor_close(dev);

	/* A prefail attribute at its threshold: failing, though RETURN STATUS passes. */
	check_ata("sim:ata,ata-fault=prefail", OSTOR_HEALTH_PROTO_AUTO, OSTOR_HEALTH_PROTO_SAT16,
		  OSTOR_HEALTH_FAILING);
	dev = open_dev("sim:ata,ata-fault=prefail");
	h = report(dev, OSTOR_HEALTH_PROTO_AUTO);
	ck_assert_msg(strstr(ostor_health_reason(h), "prefail attribute 5"), "%s", ostor_health_reason(h));
	ck_assert_ptr_nonnull(strstr(ostor_health_reason(h), "still says passed"));
	ostor_health_free(h);
	ostor_close(dev);

	/* Registers dropped: said plainly, the verdict from the attributes. */
	check_ata("sim:ata,ata-fault=no-registers", OSTOR_HEALTH_PROTO_AUTO, OSTOR_HEALTH_PROTO_SAT16,
		  OSTOR_HEALTH_PASSED);
	dev = open_dev("sim:ata,ata-fault=no-registers");
	h = report(dev, OSTOR_HEALTH_PROTO_AUTO);
	ck_assert_msg(strstr(ostor_health_reason(h), "ATA registers") &&
		      strstr(ostor_health_reason(h), "from the attributes"), "%s", ostor_health_reason(h));
	ostor_health_free(h);
	ostor_close(dev);
	/* Both: failing from the attributes alone. */
	check_ata("sim:ata,ata-fault=no-registers+prefail", OSTOR_HEALTH_PROTO_AUTO, OSTOR_HEALTH_PROTO_SAT16,
		  OSTOR_HEALTH_FAILING);
}
END_TEST

START_TEST(ata_self_test)
{
	ostor_device *dev = open_dev("sim:ata");
	const struct ostor_scsi_ata_self_test_log *l;
	ostor_health *h;

	ck_assert_int_eq(ostor_health_self_test(dev, 0, 0, OSTOR_HEALTH_PROTO_AUTO, OSTOR_SELF_TEST_SHORT), 0);
	h = report(dev, OSTOR_HEALTH_PROTO_AUTO);
	l = ostor_health_ata_self_tests(h);
	ck_assert_ptr_nonnull(l);
	ck_assert_uint_ge(l->count, 1);
	ck_assert_int_eq(l->entries[0].test, OSTOR_ATA_TEST_SHORT);
	ostor_health_free(h);
	ostor_close(dev);
}
END_TEST

/* JMicron: by name on the plain transport; by the quirk over USB. */
START_TEST(jmicron_bridge)
{
	ostor_device *dev = open_dev("sim:bridge=jmicron");
	ostor_health *h;

	h = report(dev, OSTOR_HEALTH_PROTO_AUTO);
	ck_assert_int_eq(ostor_health_protocol(h), OSTOR_HEALTH_PROTO_SCSI); /* no evidence, no quirk */
	ostor_health_free(h);
	ostor_close(dev);
	check_ata("sim:bridge=jmicron", OSTOR_HEALTH_PROTO_JMICRON, OSTOR_HEALTH_PROTO_JMICRON,
		  OSTOR_HEALTH_PASSED);
	check_ata("sim:bridge=jmicron,ata-fault=failing", OSTOR_HEALTH_PROTO_JMICRON, OSTOR_HEALTH_PROTO_JMICRON,
		  OSTOR_HEALTH_FAILING);
#if OSTOR_HAVE_USB
	check_ata("sim:bridge=jmicron,transport=usb-bot", OSTOR_HEALTH_PROTO_AUTO, OSTOR_HEALTH_PROTO_JMICRON,
		  OSTOR_HEALTH_PASSED);
	check_ata("sim:ata,transport=usb-bot", OSTOR_HEALTH_PROTO_AUTO, OSTOR_HEALTH_PROTO_SAT16,
		  OSTOR_HEALTH_PASSED);
	check_ata("sim:ata,transport=usb-cbi,ata-fault=no-pt16", OSTOR_HEALTH_PROTO_AUTO,
		  OSTOR_HEALTH_PROTO_SAT12, OSTOR_HEALTH_PASSED);
#endif
}
END_TEST

/* ---- monitoring ---------------------------------------------------------- */

struct seen {
	int health_events, worse;
};

static void on_event(const struct ostor_event *e, void *ud)
{
	struct seen *s = ud;

	if (e->type == OSTOR_EVENT_HEALTH_CHANGED) {
		s->health_events++;
		s->worse += e->asc == 1;
	}
}

static struct json_object *call(int (*method)(struct json_object *, struct json_object **), const char *params)
{
	struct json_object *p = json_tokener_parse(params), *res = NULL;
	int r = method(p, &res);

	json_object_put(p);
	ck_assert_msg(r == 0, "%s: %s", params, ostor_last_error());
	return res;
}

static struct json_object *path(struct json_object *o, const char *a, const char *b)
{
	struct json_object *v = NULL;

	ck_assert_msg(json_object_object_get_ex(o, a, &v), "no %s in %s", a, json_object_to_json_string(o));
	if (b)
		ck_assert_msg(json_object_object_get_ex(v, b, &v), "no %s.%s", a, b);
	return v;
}

/* A failing disk opened with monitoring: the first check warns and posts
 * the event; the control method shows the last report. */
START_TEST(monitor_reports_failing)
{
	struct seen s = { 0 };
	struct json_object *res, *luns, *rep;
	ostor_device *dev;
	uint64_t deadline = ostori_now_ms() + 60000;

	ck_assert_int_eq(ostor_set_event_handler(ctx, (struct ostor_event_handler){ on_event, &s, NULL }), 0);
	dev = open_dev("sim:ata,ata-fault=failing,smart_check_interval=1");
	while (!s.health_events && ostori_now_ms() < deadline)
		ostor_handle_events(ctx, 100);
	ck_assert_int_eq(s.health_events, 1);
	ck_assert_int_eq(s.worse, 1);
	res = call(ostori_method_health, "{\"device\": \"sim:ata,ata-fault=failing,smart_check_interval=1\"}");
	ck_assert(json_object_get_boolean(path(res, "monitoring", "enabled")));
	ck_assert_int_eq(json_object_get_int(path(res, "monitoring", "interval_s")), 1);
	luns = path(res, "monitoring", "luns");
	ck_assert_uint_ge(json_object_array_length(luns), 1);
	rep = path(json_object_array_get_idx(luns, 0), "report", NULL);
	ck_assert_str_eq(json_object_get_string(path(rep, "verdict", NULL)), "failing");
	json_object_put(res);
	/* A second check of an unchanged disk posts nothing new. */
	deadline = ostori_now_ms() + 2500;
	while (ostori_now_ms() < deadline)
		ostor_handle_events(ctx, 100);
	ck_assert_int_eq(s.health_events, 1);
	ostor_close(dev);
}
END_TEST

/* A healthy disk: no event; a report on request; no monitoring without
 * the option; bad values refused. */
START_TEST(monitor_healthy_and_options)
{
	struct seen s = { 0 };
	struct json_object *res;
	ostor_device *dev;
	uint64_t deadline;

	ck_assert_int_eq(ostor_set_event_handler(ctx, (struct ostor_event_handler){ on_event, &s, NULL }), 0);
	dev = open_dev("sim:ata,smart_check_interval=1");
	deadline = ostori_now_ms() + 2500;
	while (ostori_now_ms() < deadline)
		ostor_handle_events(ctx, 100);
	ck_assert_int_eq(s.health_events, 0);
	res = call(ostori_method_health, "{\"device\": \"sim:ata,smart_check_interval=1\", \"refresh\": true}");
	ck_assert_str_eq(json_object_get_string(path(res, "report", "verdict")), "passed");
	ck_assert_uint_ge(json_object_get_int(path(res, "monitoring", "checks")), 1);
	json_object_put(res);
	ostor_close(dev);

	dev = open_dev("sim:");
	res = call(ostori_method_health, "{\"device\": \"sim:\"}");
	ck_assert(!json_object_get_boolean(path(res, "monitoring", "enabled")));
	json_object_put(res);
	ostor_close(dev);

	dev = NULL;
	ck_assert_int_eq(ostor_open(ctx, "sim:smart_check_interval=0", &dev), OSTOR_ERROR_BAD_SPEC);
	ck_assert_ptr_nonnull(strstr(ostor_last_error(), "expected seconds"));
	ck_assert_int_eq(ostor_open(ctx, "sim:smart_check_interval=x", &dev), OSTOR_ERROR_BAD_SPEC);
}
END_TEST

/* ---- power --------------------------------------------------------------- */

START_TEST(power_conditions)
{
	struct ostor_power_info pi = OSTOR_POWER_INFO_INIT;
	ostor_device *dev = open_dev("sim:");
	uint8_t buf[512];

	ck_assert_int_eq(ostor_power_get(dev, 0, 0, &pi), 0);
	ck_assert_int_eq(pi.condition, OSTOR_POWER_ACTIVE);
	ck_assert_str_eq(pi.condition_source, "request-sense");
	ck_assert(pi.page_present);
	ck_assert_int_eq(ostor_power_set(dev, 0, 0, OSTOR_POWER_GO_STANDBY, 0), 0);
	pi = (struct ostor_power_info)OSTOR_POWER_INFO_INIT;
	ck_assert_int_eq(ostor_power_get(dev, 0, 0, &pi), 0);
	ck_assert_int_eq(pi.condition, OSTOR_POWER_STANDBY);
	ck_assert_int_eq(pi.by_timer, 0);
	/* A read brings it back to active, with the data. */
	ck_assert_int_eq(ostor_read_blocks(dev, 0, 0, 0, 1, buf), 0);
	pi = (struct ostor_power_info)OSTOR_POWER_INFO_INIT;
	ck_assert_int_eq(ostor_power_get(dev, 0, 0, &pi), 0);
	ck_assert_int_eq(pi.condition, OSTOR_POWER_ACTIVE);
	ck_assert_int_eq(ostor_power_set(dev, 0, 0, OSTOR_POWER_GO_IDLE, OSTOR_POWER_IMMED), 0);
	pi = (struct ostor_power_info)OSTOR_POWER_INFO_INIT;
	ck_assert_int_eq(ostor_power_get(dev, 0, 0, &pi), 0);
	ck_assert_int_eq(pi.condition, OSTOR_POWER_IDLE);
	ck_assert_int_eq(ostor_power_set(dev, 0, 0, 99, 0), OSTOR_ERROR_INVALID_PARAM);
	ostor_close(dev);

	/* An ATA disk behind SAT: CHECK POWER MODE agrees. */
	dev = open_dev("sim:ata");
	ck_assert_int_eq(ostor_power_set(dev, 0, 0, OSTOR_POWER_GO_STANDBY, 0), 0);
	pi = (struct ostor_power_info)OSTOR_POWER_INFO_INIT;
	ck_assert_int_eq(ostor_power_get(dev, 0, 0, &pi), 0);
	ck_assert_int_eq(pi.condition, OSTOR_POWER_STANDBY);
	ck_assert_int_eq(pi.ata_mode, OSTOR_ATA_POWER_STANDBY);
	ostor_close(dev);
}
END_TEST

START_TEST(power_timers)
{
	struct ostor_power_info pi = OSTOR_POWER_INFO_INIT;
	ostor_device *dev = open_dev("sim:");

	ck_assert_int_eq(ostor_power_set_timer(dev, 0, 0, OSTOR_POWER_TIMER_IDLE_A, 1, 50, 0), 0);
	ck_assert_int_eq(ostor_power_set_timer(dev, 0, 0, OSTOR_POWER_TIMER_STANDBY_Z, 1, 600, OSTOR_POWER_SAVE), 0);
	ck_assert_int_eq(ostor_power_get(dev, 0, 0, &pi), 0);
	ck_assert(pi.idle_a.enabled && pi.idle_a.changeable);
	ck_assert_uint_eq(pi.idle_a.timer_100ms, 50);
	ck_assert(pi.standby_z.enabled);
	ck_assert_uint_eq(pi.standby_z.timer_100ms, 600);
	ck_assert_int_eq(ostor_power_set_timer(dev, 0, 0, OSTOR_POWER_TIMER_IDLE_A, 0, 0, 0), 0);
	pi = (struct ostor_power_info)OSTOR_POWER_INFO_INIT;
	ck_assert_int_eq(ostor_power_get(dev, 0, 0, &pi), 0);
	ck_assert(!pi.idle_a.enabled);
	ck_assert_uint_eq(pi.standby_z.timer_100ms, 600);
	ck_assert_int_eq(ostor_power_set_timer(dev, 0, 0, 0, 1, 1, 0), OSTOR_ERROR_INVALID_PARAM);
	ostor_close(dev);

	/* No page 1Ah (as QEMU's scsi-hd): said plainly. */
	dev = open_dev("sim:power-page=no");
	pi = (struct ostor_power_info)OSTOR_POWER_INFO_INIT;
	ck_assert_int_eq(ostor_power_get(dev, 0, 0, &pi), 0);
	ck_assert(!pi.page_present);
	ck_assert_int_eq(ostor_power_set_timer(dev, 0, 0, OSTOR_POWER_TIMER_IDLE_A, 1, 10, 0),
			 OSTOR_ERROR_NOT_SUPPORTED);
	ck_assert_ptr_nonnull(strstr(ostor_last_error(), "no Power Condition mode page"));
	ostor_close(dev);
}
END_TEST

START_TEST(power_methods)
{
	struct json_object *res;
	ostor_device *dev = open_dev("sim:");

	res = call(ostori_method_power_set, "{\"device\": \"sim:\", \"state\": \"standby\", "
		   "\"idle_timer_ms\": 1500}");
	ck_assert_uint_eq(json_object_array_length(path(res, "done", NULL)), 2);
	json_object_put(res);
	res = call(ostori_method_power, "{\"device\": \"sim:\"}");
	ck_assert_str_eq(json_object_get_string(path(res, "scsi", "condition")), "standby");
	ck_assert_int_eq(json_object_get_int(path(path(res, "scsi", "page_1a"), "idle_a", "ms")), 1500);
	json_object_put(res);
	{
		struct json_object *p = json_tokener_parse("{\"device\": \"sim:\", \"state\": \"sleepy\"}"), *r2 = NULL;

		ck_assert_int_eq(ostori_method_power_set(p, &r2), OSTOR_ERROR_INVALID_PARAM);
		json_object_put(p);
	}
	ostor_close(dev);
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("health");
	TCase *tc = tcase_create("health");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 300);
	tcase_add_test(tc, names_and_parse);
	tcase_add_test(tc, scsi_disk);
	tcase_add_test(tc, scsi_disk_failing);
	tcase_add_test(tc, scsi_self_test);
	tcase_add_test(tc, ata_disk);
	tcase_add_test(tc, ata_faults);
	tcase_add_test(tc, ata_self_test);
	tcase_add_test(tc, jmicron_bridge);
	tcase_add_test(tc, monitor_reports_failing);
	tcase_add_test(tc, monitor_healthy_and_options);
	tcase_add_test(tc, power_conditions);
	tcase_add_test(tc, power_timers);
	tcase_add_test(tc, power_methods);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
