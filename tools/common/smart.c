/*
 * tools/common/smart.c - orionstor smart: the health of a LUN (SMART over
 * SAT or a bridge protocol, or the SCSI log pages), like smartctl -a, -H,
 * -A, -l selftest and -t.
 *
 * The text is printed from the JSON of the report (ostor_health_json),
 * so a device another process holds reads the same through its control
 * socket (method "health" with target, lun, protocol and status_only;
 * "health_self_test" with test); a holder whose library has neither is
 * refused (holder.c).  The exit status is the verdict's
 * (tc_exit_from_verdict) whenever a report was read.
 */
#include "control_client.h"
#include "subcommands.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

/* A self-test is accepted quickly; reading the report may take a few
 * ATA commands on a slow bridge. */
#define SMART_TIMEOUT_MS 60000

static size_t len_of(struct json_object *arr)
{
	return arr && json_object_is_type(arr, json_type_array) ? json_object_array_length(arr) : 0;
}

/* ---- options ------------------------------------------------------------------------- */

struct smart_args {
	bool health, attributes, selftest_log;
	int test;                     /* enum ostor_self_test, 0 none */
	int protocol;                 /* enum ostor_health_protocol */
};

enum { K_LOG = 'l', K_TEST = 't', K_PROTOCOL = 'P' };

static const struct argp_option smart_options[] = {
	{ "health", 'H', NULL, 0, "The verdict only: SMART overall-health PASSED, FAILING or UNKNOWN, and why", 0 },
	{ "attributes", 'A', NULL, 0,
	  "The ATA attribute table (or, for SCSI, the informational exceptions and log pages)", 0 },
	{ "log", K_LOG, "selftest", 0, "The self-test log (ATA) or results (SCSI log page 10h)", 0 },
	{ "test", K_TEST, "short|long|abort", 0,
	  "Start a background self-test (or abort the running one); its result appears in the self-test log", 0 },
	{ "protocol", K_PROTOCOL, "auto|scsi|sat|sat12|jmicron", 0,
	  "How to read the health (default auto: what the bridge quirks and the device say)", 0 },
	{ 0 }
};

static error_t smart_parser(int key, char *arg, struct argp_state *state)
{
	struct smart_args *a = state->input;

	switch (key) {
	case 'H':
		a->health = true;
		return 0;
	case 'A':
		a->attributes = true;
		return 0;
	case K_LOG:
		if (strcmp(arg, "selftest"))
			argp_error(state, "--log: unknown log '%s'; the one there is: selftest", arg);
		a->selftest_log = true;
		return 0;
	case K_TEST:
		if (!strcmp(arg, "short"))
			a->test = OSTOR_SELF_TEST_SHORT;
		else if (!strcmp(arg, "long"))
			a->test = OSTOR_SELF_TEST_LONG;
		else if (!strcmp(arg, "abort"))
			a->test = OSTOR_SELF_TEST_ABORT;
		else
			argp_error(state, "--test: unknown self-test '%s'; expected short, long or abort", arg);
		return 0;
	case K_PROTOCOL: {
		int p = ostor_health_protocol_parse(arg);

		if (p < 0)
			argp_error(state, "--protocol: %s", ostor_last_error());
		a->protocol = p;
		return 0;
	}
	default:
		return ARGP_ERR_UNKNOWN;
	}
}

static const struct argp smart_argp = {
	smart_options, smart_parser, NULL,
	"Show the health of a logical unit, like smartctl: without -H, -A or -l everything (identity, "
	"verdict, temperature, attributes, self-test log).\v"
	"An ATA disk behind a SCSI-ATA Translation bridge is read with ATA PASS-THROUGH (16, or 12 when "
	"the bridge refuses 16) or the bridge's own protocol; a SCSI disk with its log pages and REQUEST "
	"SENSE.  Exit status: 0 passed, 8 failing (the device predicts its failure), 4 unknown (no "
	"verdict; the output says why), otherwise the error's category (orionstor(1), EXIT STATUS).  A "
	"device another process holds is asked through its control socket."
};

static const char *test_name(int test)
{
	switch (test) {
	case OSTOR_SELF_TEST_SHORT: return "short";
	case OSTOR_SELF_TEST_LONG: return "long";
	case OSTOR_SELF_TEST_ABORT: return "abort";
	default: return "?";
	}
}

/* ---- reading the report -------------------------------------------------------------- */

static struct json_object *lun_params(const struct tc_common *c, const struct smart_args *a)
{
	struct json_object *p = json_object_new_object();

	json_object_object_add(p, "target", json_object_new_int64(c->target));
	json_object_object_add(p, "lun", json_object_new_int64(c->lun));
	json_object_object_add(p, "protocol", json_object_new_string(ostor_health_protocol_name(a->protocol)));
	return p;
}

static int start_test(const struct tc_common *c, const struct smart_args *a, const struct tc_where *w)
{
	struct json_object *res = NULL, *p;
	int err, rc;

	if (w->live) {
		p = lun_params(c, a);
		json_object_object_add(p, "test", json_object_new_string(test_name(a->test)));
		rc = tc_where_call(w, "health_self_test", p, SMART_TIMEOUT_MS, "start a self-test", &res);
		json_object_put(res);
		return rc;
	}
	err = ostor_health_self_test(w->dev, c->target, c->lun, a->protocol, a->test);
	if (err < 0) {
		tc_lib_error(err, "%s %" PRIu32 ":%" PRIu32 ": cannot %s", c->device, c->target, c->lun,
			     a->test == OSTOR_SELF_TEST_ABORT ? "abort the self-test" : "start the self-test");
		return tc_exit_from_error(err);
	}
	return 0;
}

static int read_report(const struct tc_common *c, const struct smart_args *a, const struct tc_where *w,
		       bool status_only, struct json_object **doc)
{
	ostor_health *hr = NULL;
	char *text;
	int err;

	if (w->live) {
		struct json_object *p = lun_params(c, a);

		json_object_object_add(p, "status_only", json_object_new_boolean(status_only));
		return tc_where_call(w, "health", p, SMART_TIMEOUT_MS, "read the health", doc);
	}
	err = ostor_health_get(w->dev, c->target, c->lun, a->protocol, status_only ? OSTOR_HEALTH_STATUS_ONLY : 0,
			       &hr);
	if (err < 0) {
		tc_lib_error(err, "%s %" PRIu32 ":%" PRIu32 ": cannot read the health", c->device, c->target,
			     c->lun);
		return tc_exit_from_error(err);
	}
	text = ostor_health_json(hr);
	ostor_health_free(hr);
	*doc = text ? json_tokener_parse(text) : NULL;
	free(text);
	if (!*doc) {
		tc_msg("out of memory");
		return TC_EXIT_FILE_ERROR;
	}
	return 0;
}

static int verdict_of(struct json_object *doc)
{
	const char *v = tc_jstr(doc, "verdict");

	if (!strcmp(v, "passed"))
		return OSTOR_HEALTH_PASSED;
	if (!strcmp(v, "failing"))
		return OSTOR_HEALTH_FAILING;
	return OSTOR_HEALTH_UNKNOWN;
}

/* ---- text ----------------------------------------------------------------------------- */

static const char *protocol_text(const char *p)
{
	if (!strcmp(p, "scsi"))
		return "SCSI log pages and REQUEST SENSE";
	if (!strcmp(p, "sat16"))
		return "ATA through SAT, ATA PASS-THROUGH(16)";
	if (!strcmp(p, "sat12"))
		return "ATA through SAT, ATA PASS-THROUGH(12)";
	if (!strcmp(p, "jmicron"))
		return "ATA through the JMicron bridge command (DFh)";
	return "";
}

static const char *tri_text(struct json_object *o, const char *key, const char *yes, const char *no)
{
	struct json_object *v = tc_jobj(o, key);

	return !v ? "not reported" : json_object_get_boolean(v) ? yes : no;
}

static void print_identity(struct json_object *doc)
{
	struct json_object *ata = tc_jobj(doc, "ata"), *id = tc_jobj(ata, "identify"), *inq = tc_jobj(doc, "inquiry");
	char size[32];

	printf("=== identity ===\n");
	printf("Protocol:          %s (%s)\n", tc_jstr(doc, "protocol"), protocol_text(tc_jstr(doc, "protocol")));
	if (!id) {
		printf("Vendor:            %s\n", tc_jstr(inq, "vendor"));
		printf("Product:           %s\n", tc_jstr(inq, "product"));
		printf("Revision:          %s\n", tc_jstr(inq, "revision"));
		return;
	}
	printf("Model:             %s\n", tc_jstr(id, "model_name"));
	printf("Serial number:     %s\n", tc_jstr(id, "serial_number"));
	printf("Firmware version:  %s\n", tc_jstr(id, "firmware_version"));
	if (*tc_jstr(id, "wwn"))
		printf("WWN:               %s\n", tc_jstr(id, "wwn"));
	printf("Capacity:          %" PRId64 " bytes (%s), %" PRId64 " blocks\n",
	       tc_jint(tc_jobj(id, "user_capacity"), "bytes"),
	       tc_human_size((uint64_t)tc_jint(tc_jobj(id, "user_capacity"), "bytes"), size, sizeof(size)),
	       tc_jint(tc_jobj(id, "user_capacity"), "blocks"));
	printf("Sector sizes:      %" PRId64 " bytes logical, %" PRId64 " bytes physical\n",
	       tc_jint(id, "logical_block_size"), tc_jint(id, "physical_block_size"));
	if (tc_jint(id, "rotation_rate") == 1)
		printf("Rotation rate:     solid state device\n");
	else if (tc_jint(id, "rotation_rate") > 1)
		printf("Rotation rate:     %" PRId64 " rpm\n", tc_jint(id, "rotation_rate"));
	printf("ATA version:       %s\n", tc_jstr(id, "ata_version"));
	printf("Bridge (INQUIRY):  %s %s %s\n", tc_jstr(inq, "vendor"), tc_jstr(inq, "product"), tc_jstr(inq, "revision"));
	printf("SMART support:     %s, %s\n", tri_text(id, "smart_supported", "available", "unavailable"),
	       tri_text(id, "smart_enabled", "enabled", "disabled"));
}

static void print_verdict(struct json_object *doc)
{
	struct json_object *t = tc_jobj(doc, "temperature");
	const char *v = tc_jstr(doc, "verdict");

	printf("SMART overall-health: %s\n",
	       !strcmp(v, "passed") ? "PASSED" : !strcmp(v, "failing") ? "FAILING" : "UNKNOWN");
	printf("Reason:            %s\n", tc_jstr(doc, "reason"));
	if (t)
		printf("Temperature:       %" PRId64 " Celsius\n", tc_jint(t, "current"));
	else
		printf("Temperature:       not reported\n");
}

static void print_ata_attributes(struct json_object *ata)
{
	struct json_object *attrs = tc_jobj(ata, "attributes"), *table = tc_jobj(attrs, "table"), *st;

	if (!attrs) {
		printf("The device gave no SMART data (READ DATA failed or is not supported).\n");
		return;
	}
	printf("SMART attributes (data structure revision %" PRId64 "):\n", tc_jint(attrs, "revision"));
	if (!tc_jbool(attrs, "checksum_ok"))
		printf("  WARNING: the SMART data has a bad checksum; the values below may be wrong\n");
	if (!tc_jbool(attrs, "thresholds_checksum_ok"))
		printf("  WARNING: the thresholds are missing or have a bad checksum\n");
	printf("ID# %-24s FLAG     VALUE WORST THRESH TYPE     UPDATED  WHEN_FAILED RAW_VALUE\n", "ATTRIBUTE_NAME");
	for (size_t i = 0; i < len_of(table); i++) {
		struct json_object *e = json_object_array_get_idx(table, i), *f = tc_jobj(e, "flags");
		const char *wf = tc_jstr(e, "when_failed");

		printf("%3" PRId64 " %-24s 0x%04" PRIx64 "   %03" PRId64 "   %03" PRId64 "   %03" PRId64 "    %-8s %-8s %-11s %s\n",
		       tc_jint(e, "id"), tc_jstr(e, "name"), (uint64_t)tc_jint(f, "value"), tc_jint(e, "value"),
		       tc_jint(e, "worst"), tc_jint(e, "thresh"), tc_jbool(f, "prefailure") ? "Pre-fail" : "Old_age",
		       tc_jbool(f, "updated_online") ? "Always" : "Offline",
		       !strcmp(wf, "now") ? "FAILING_NOW" : !strcmp(wf, "past") ? "In_the_past" : "-",
		       tc_jstr(tc_jobj(e, "raw"), "string"));
	}
	if (!len_of(table))
		printf("  (no attributes)\n");
	if ((st = tc_jobj(ata, "self_test"))) {
		printf("Self-test execution status: %s", tc_jstr(tc_jobj(st, "status"), "string"));
		if (tc_jint(st, "remaining_percent"))
			printf(", %" PRId64 "%% remaining", tc_jint(st, "remaining_percent"));
		printf("\nSelf-test durations: short about %" PRId64 " minutes, long about %" PRId64 " minutes\n",
		       tc_jint(st, "short_minutes"), tc_jint(st, "extended_minutes"));
	}
}

static void print_ata_selftests(struct json_object *ata)
{
	struct json_object *log = tc_jobj(ata, "self_test_log"), *table = tc_jobj(log, "table");

	if (!log) {
		printf("The device gave no self-test log (READ LOG 06h failed or is not supported).\n");
		return;
	}
	printf("SMART self-test log (revision %" PRId64 ")%s:\n", tc_jint(log, "revision"),
	       tc_jbool(log, "checksum_ok") ? "" : ", WARNING: bad checksum");
	if (!len_of(table)) {
		printf("  No self-tests have been logged.\n");
		return;
	}
	printf("Num  %-20s %-32s Remaining  LifeTime(hours)  LBA_of_first_error\n", "Test_Description", "Status");
	for (size_t i = 0; i < len_of(table); i++) {
		struct json_object *e = json_object_array_get_idx(table, i);
		char lba[24] = "-";

		if (tc_jobj(e, "lba"))
			snprintf(lba, sizeof(lba), "%" PRId64, tc_jint(e, "lba"));
		printf("#%2zu  %-20s %-32s %8" PRId64 "%%  %15" PRId64 "  %s\n", i + 1,
		       tc_jstr(tc_jobj(e, "type"), "string"), tc_jstr(tc_jobj(e, "status"), "string"),
		       tc_jint(e, "remaining_percent"), tc_jint(e, "lifetime_hours"), lba);
	}
	if (tc_jint(log, "error_count_total"))
		printf("%" PRId64 " of them failed.\n", tc_jint(log, "error_count_total"));
}

static void print_scsi_attributes(struct json_object *scsi)
{
	struct json_object *ie = tc_jobj(scsi, "informational_exception"), *pages = tc_jobj(scsi, "log_pages"),
			   *bg = tc_jobj(scsi, "background_scan");

	if (ie)
		printf("Informational exceptions: %s (%s: ASC/ASCQ %02" PRIx64 "h/%02" PRIx64 "h)\n",
		       tc_jbool(ie, "failure_predicted") ? "FAILURE PREDICTED" :
		       tc_jint(ie, "asc") ? "a warning, no failure predicted" : "none",
		       tc_jstr(ie, "source"), (uint64_t)tc_jint(ie, "asc"), (uint64_t)tc_jint(ie, "ascq"));
	else
		printf("Informational exceptions: not reported (no log page 2Fh, no Informational Exceptions "
		       "Control mode page)\n");
	if (tc_jobj(scsi, "reference_temperature"))
		printf("Reference temperature: %" PRId64 " Celsius\n", tc_jint(scsi, "reference_temperature"));
	if (bg)
		printf("Background scan: %s, %" PRId64 " scans, %" PRId64 " medium scans, at %" PRId64
		       " power-on minutes\n", tc_jstr(tc_jobj(bg, "status"), "string"), tc_jint(bg, "scans_performed"),
		       tc_jint(bg, "medium_scans_performed"), tc_jint(bg, "power_on_minutes"));
	printf("Log pages supported:");
	for (size_t i = 0; i < len_of(pages); i++)
		printf(" %s", json_object_get_string(json_object_array_get_idx(pages, i)));
	printf("%s\n", len_of(pages) ? "" : " none reported (LOG SENSE page 00h refused)");
}

static bool has_log_page(struct json_object *scsi, const char *page)
{
	struct json_object *pages = tc_jobj(scsi, "log_pages");

	for (size_t i = 0; i < len_of(pages); i++)
		if (!strcmp(json_object_get_string(json_object_array_get_idx(pages, i)), page))
			return true;
	return false;
}

static void print_scsi_selftests(struct json_object *scsi)
{
	struct json_object *table = tc_jobj(scsi, "self_test_results");

	if (!len_of(table)) {
		printf("Self-test results: %s\n", has_log_page(scsi, "10h") ? "none logged (log page 10h)" :
		       "the device has no self-test results log page (10h)");
		return;
	}
	printf("Self-test results (log page 10h):\n");
	printf("Num  %-28s %-40s %8s  %s\n", "Test", "Result", "Hours", "LBA_of_first_failure");
	for (size_t i = 0; i < len_of(table); i++) {
		struct json_object *e = json_object_array_get_idx(table, i);
		char lba[24] = "-";

		if (tc_jobj(e, "lba"))
			snprintf(lba, sizeof(lba), "%" PRId64, tc_jint(e, "lba"));
		printf("#%2" PRId64 "  %-28s %-40s %8" PRId64 "  %s\n", tc_jint(e, "number"),
		       tc_jstr(tc_jobj(e, "code"), "string"), tc_jstr(tc_jobj(e, "result"), "string"),
		       tc_jint(e, "power_on_hours"), lba);
	}
}

static void print_report(const struct tc_common *c, const struct tc_where *w, const struct smart_args *a,
			 struct json_object *doc)
{
	struct json_object *ata = tc_jobj(doc, "ata"), *scsi = tc_jobj(doc, "scsi");
	bool all = !a->health && !a->attributes && !a->selftest_log;

	printf("%s, target %" PRIu32 ", LUN %" PRIu32, tc_where_spec(c, w), c->target, c->lun);
	if (w->live)
		printf(", held by pid %ld (%s): asked through its control socket\n", w->lv.pid,
		       w->lv.program[0] ? w->lv.program : "?");
	else
		printf("\n");
	if (all) {
		print_identity(doc);
		printf("\n=== health ===\n");
	}
	if (all || a->health)
		print_verdict(doc);
	if (all || a->attributes) {
		if (all)
			printf("\n");
		if (ata)
			print_ata_attributes(ata);
		else
			print_scsi_attributes(scsi);
	}
	if (all || a->selftest_log) {
		if (all || a->attributes)
			printf("\n");
		if (ata)
			print_ata_selftests(ata);
		else
			print_scsi_selftests(scsi);
	}
}

/* ---- orionstor smart ------------------------------------------------------------------- */

int orionstor_cmd_smart(int argc, char **argv)
{
	struct smart_args a = { .protocol = OSTOR_HEALTH_PROTO_AUTO };
	struct json_object *doc = NULL;
	struct tc_common c;
	struct tc_where w;
	bool status_only;
	int rc, status;

	tc_parse(&smart_argp, argc, argv, TC_OPT_DEVICE_REQUIRED | TC_OPT_JSON, &c, &a);
	if ((rc = tc_where_locate(&c, &w)))
		return tc_where_release(&w, rc);
	if (a.test && (rc = start_test(&c, &a, &w)))
		return tc_where_release(&w, rc);
	/* The verdict alone skips the self-test log: two commands fewer. */
	status_only = a.health && !a.attributes && !a.selftest_log && !c.json;
	if ((rc = read_report(&c, &a, &w, status_only, &doc)))
		return tc_where_release(&w, rc);
	if (c.json) {
		if (a.test)
			json_object_object_add(doc, "self_test_started", json_object_new_string(test_name(a.test)));
		tc_where_add_holder(doc, &w);
		rc = tc_json_print(doc);
	} else {
		if (a.test == OSTOR_SELF_TEST_ABORT) {
			printf("The running self-test of %s %" PRIu32 ":%" PRIu32 " was aborted.\n",
			       tc_where_spec(&c, &w), c.target, c.lun);
		} else if (a.test) {
			struct json_object *st = tc_jobj(tc_jobj(doc, "ata"), "self_test");
			int64_t minutes = tc_jint(st, a.test == OSTOR_SELF_TEST_SHORT ? "short_minutes" : "extended_minutes");

			printf("A %s self-test was started on %s %" PRIu32 ":%" PRIu32 "; the device runs it in the "
			       "background", test_name(a.test), tc_where_spec(&c, &w), c.target, c.lun);
			if (minutes > 0)
				printf(" (about %" PRId64 " minutes)", minutes);
			printf(".\nSee its result with: %s -d %s", tc_progname(), tc_where_spec(&c, &w));
			if (c.target_set || c.lun_set)
				printf(" --target %" PRIu32 " --lun %" PRIu32, c.target, c.lun);
			printf(" -l selftest\n");
		}
		if (!a.test || a.health || a.attributes || a.selftest_log) {
			if (a.test)
				printf("\n");
			print_report(&c, &w, &a, doc);
		}
	}
	status = tc_exit_from_verdict(verdict_of(doc));
	json_object_put(doc);
	rc = tc_where_release(&w, rc);
	if (!rc)
		rc = tc_finish_stdout();
	return rc ? rc : status;
}
