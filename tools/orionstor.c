/*
 * tools/orionstor.c - the transport-neutral command line tool.
 *
 *   orionstor list | info | read | write | cmd | bench | ps | ping | stats | top | queues |
 *             commands | abort | queue-flush | tuning | cache | smart | power | rpc  [options]
 *
 * This file dispatches to the subcommands and implements the two that
 * only describe devices (list, info); the data movers live in
 * common/blockio.c and common/rawcmd.c.
 */
#include "toolcommon.h"
#include "subcommands.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

/* ---------------------------------------------------------------- list */

static const struct argp list_argp = {
	NULL, NULL, NULL,
	"List the devices of every compiled-in backend.\v"
	"The spec column is what -d takes."
};

int orionstor_cmd_list(int argc, char **argv)
{
	struct tc_common c;
	ostor_context *ctx;
	ostor_device_info **list = NULL;
	ssize_t n;
	int rc;

	tc_parse(&list_argp, argc, argv, TC_OPT_JSON, &c, NULL);
	rc = tc_open_context(&c, &ctx);
	if (rc)
		return rc;
	n = ostor_get_device_list(ctx, &list);
	if (n < 0) {
		tc_lib_error((int)n, "cannot list devices");
		ostor_exit(ctx);
		return tc_exit_from_error((int)n);
	}

	if (c.json) {
		struct json_object *root = json_object_new_object();
		struct json_object *arr = json_object_new_array();

		json_object_object_add(root, "devices", arr);
		for (ssize_t i = 0; i < n; i++) {
			struct json_object *d = json_object_new_object();

			json_object_object_add(d, "device",
				json_object_new_string(ostor_device_info_spec(list[i])));
			json_object_object_add(d, "backend",
				json_object_new_string(ostor_device_info_backend(list[i])));
			json_object_object_add(d, "description",
				json_object_new_string(ostor_device_info_description(list[i])));
			json_object_array_add(arr, d);
		}
		rc = tc_json_print(root);
		json_object_put(root);
	} else if (n == 0) {
		printf("No devices found.\n");
	} else {
		printf("%-28s %-8s %s\n", "SPEC", "BACKEND", "DESCRIPTION");
		for (ssize_t i = 0; i < n; i++)
			printf("%-28s %-8s %s\n", ostor_device_info_spec(list[i]),
			       ostor_device_info_backend(list[i]),
			       ostor_device_info_description(list[i]));
	}
	ostor_free_device_list(list);
	ostor_exit(ctx);
	if (!rc)
		rc = tc_finish_stdout();
	return rc;
}

/* ---------------------------------------------------------------- info */

static const struct argp info_argp = {
	NULL, NULL, NULL,
	"Describe the logical units of a device: identity, capacity and flags.\v"
	"Without --target/--lun every LUN the device reports is described; "
	"with either of them only that one (the other defaults to 0)."
};

int orionstor_cmd_info(int argc, char **argv)
{
	struct tc_common c;
	ostor_context *ctx;
	ostor_device *dev;
	struct ostor_lun_addr *luns = NULL, one;
	struct json_object *root = NULL, *arr = NULL;
	size_t count = 0, described = 0;
	int rc, err, first_fail = 0;

	tc_parse(&info_argp, argc, argv, TC_OPT_DEVICE_REQUIRED | TC_OPT_JSON | TC_OPT_HEX, &c, NULL);
	rc = tc_open_device(&c, &ctx, &dev);
	if (rc)
		return rc;

	if (c.target_set || c.lun_set) {
		one.target = c.target;
		one.lun = c.lun;
		luns = &one;
		count = 1;
	} else {
		err = ostor_device_luns(dev, &luns, &count);
		if (err < 0) {
			tc_lib_error(err, "cannot list the LUNs of '%s'", c.device);
			tc_close(ctx, dev);
			return tc_exit_from_error(err);
		}
	}

	if (c.json) {
		root = json_object_new_object();
		arr = json_object_new_array();
		json_object_object_add(root, "device", json_object_new_string(c.device));
		json_object_object_add(root, "backend",
			json_object_new_string(ostor_device_backend(dev)));
		json_object_object_add(root, "description",
			json_object_new_string(ostor_device_description(dev)));
		json_object_object_add(root, "luns", arr);
	}

	for (size_t i = 0; i < count; i++) {
		struct ostor_lun_info li = OSTOR_LUN_INFO_INIT;

		err = ostor_lun_info(dev, luns[i].target, luns[i].lun, &li);
		if (err < 0) {
			/* Keep describing the others; the exit code says one failed. */
			tc_lib_error(err, "LUN %" PRIu32 ":%" PRIu32, luns[i].target, luns[i].lun);
			if (!first_fail)
				first_fail = tc_exit_from_error(err);
			if (arr) {
				struct json_object *o = json_object_new_object();

				json_object_object_add(o, "target", json_object_new_int64(luns[i].target));
				json_object_object_add(o, "lun", json_object_new_int64(luns[i].lun));
				json_object_object_add(o, "error",
					json_object_new_string(ostor_error_name(err)));
				json_object_object_add(o, "message",
					json_object_new_string(ostor_last_error()));
				json_object_array_add(arr, o);
			}
			continue;
		}
		if (arr) {
			struct json_object *o = tc_lun_info_json(&li);

			if (c.hex)
				tc_lun_hex(dev, li.target, li.lun, o);
			json_object_array_add(arr, o);
		} else {
			/* The heading with the first LUN described: a run that
			 * describes none prints nothing on standard output. */
			if (!described++) {
				printf("Device %s (%s): %s\n", c.device, ostor_device_backend(dev),
				       ostor_device_description(dev));
				tc_lun_text_header();
			}
			tc_lun_text(&li);
			if (c.hex)
				tc_lun_hex(dev, li.target, li.lun, NULL);
		}
	}
	if (count == 0) {
		tc_msg("device '%s' reports no logical units", c.device);
		first_fail = TC_EXIT_NOT_FOUND;
	}

	if (root) {
		rc = tc_json_print(root);
		json_object_put(root);
	}
	if (luns != &one)
		free(luns);
	err = tc_close(ctx, dev);
	if (!rc)
		rc = tc_finish_stdout();
	if (!rc)
		rc = first_fail;
	if (!rc)
		rc = err;
	return rc;
}

/* ------------------------------------------------------------- dispatch */

struct subcommand {
	const char *name;
	int (*fn)(int argc, char **argv);
};

static const struct subcommand subcommands[] = {
	{ "list", orionstor_cmd_list },
	{ "info", orionstor_cmd_info },
	{ "read", orionstor_cmd_read },
	{ "write", orionstor_cmd_write },
	{ "cmd", orionstor_cmd_raw },
	{ "bench", orionstor_cmd_bench },
	{ "ps", orionstor_cmd_ps },
	{ "ping", orionstor_cmd_ping },
	{ "stats", orionstor_cmd_stats },
	{ "top", orionstor_cmd_top },
	{ "queues", orionstor_cmd_queues },
	{ "commands", orionstor_cmd_commands },
	{ "abort", orionstor_cmd_abort },
	{ "queue-flush", orionstor_cmd_queue_flush },
	{ "tuning", orionstor_cmd_tuning },
	{ "cache", orionstor_cmd_cache },
	{ "smart", orionstor_cmd_smart },
	{ "power", orionstor_cmd_power },
	{ "rpc", orionstor_cmd_rpc },
};

struct top_args {
	int cmd_index;
};

static error_t top_parser(int key, char *arg, struct argp_state *state)
{
	struct top_args *t = state->input;

	switch (key) {
	case 'h':
		argp_state_help(state, stdout, ARGP_HELP_STD_HELP);
		return 0;
	case ARGP_KEY_ARG:
		/* Everything from the subcommand on belongs to it. */
		t->cmd_index = state->next - 1;
		state->next = state->argc;
		return 0;
	case ARGP_KEY_NO_ARGS:
		argp_error(state, "a command is required");
		return 0;
	default:
		return ARGP_ERR_UNKNOWN;
	}
}

static const struct argp_option top_options[] = {
	{ NULL, 'h', NULL, 0, "Give this help list (as --help)", 0 },
	{ NULL }
};

static const struct argp top_argp = {
	top_options, top_parser, "COMMAND [OPTION...]",
	"Talk SCSI to USB mass storage, virtio-scsi and simulated devices.\v"
	"Commands:\n"
	"  list    list the devices of every backend\n"
	"  info    describe the logical units of a device\n"
	"  read    read blocks to a file or standard output\n"
	"  write   write a file to blocks, then flush the cache\n"
	"  cmd     send a raw CDB and show status, sense and data\n"
	"  bench   measure IOPS, bandwidth and latency\n"
	"  ps      list the processes that have devices open\n"
	"  ping    check that such a process answers\n"
	"  stats   statistics of a device another process holds\n"
	"  top     every device of every process, refreshed\n"
	"  queues  the queues of a device another process holds\n"
	"  commands  its commands in flight\n"
	"  abort   abort one of them (--tag)\n"
	"  queue-flush  wait for a queue's commands, holding new ones back\n"
	"  tuning  the settings in effect, where they came from, and advice\n"
	"  cache   the block cache of a device: info, flush or reset\n"
	"  smart   health of a LUN: verdict, attributes, self-test log, self-tests\n"
	"  power   power condition and timers of a LUN; change them\n"
	"  rpc     call any method of a process's control socket\n"
	"  help    show the options of a command\n"
	"\n'orionstor COMMAND --help' lists the options of COMMAND; "
	"see orionstor(1) for device specs and exit codes."
};

int main(int argc, char **argv)
{
	struct top_args t = { 0 };
	const char *name;
	char *full;
	int rc;

	tc_set_progname("orionstor");
	tc_argp_setup();
	argp_parse(&top_argp, argc, argv, ARGP_IN_ORDER, NULL, &t);
	if (t.cmd_index <= 0 || t.cmd_index >= argc)
		tc_usage_error("a command is required");

	name = argv[t.cmd_index];
	if (strcmp(name, "help") == 0) {
		/* "orionstor help read" == "orionstor read --help" */
		static char help_opt[] = "--help";
		char *hargv[3];

		if (t.cmd_index + 1 >= argc) {
			char *targv[] = { argv[0], help_opt, NULL };

			argp_parse(&top_argp, 2, targv, ARGP_IN_ORDER, NULL, &t);
			return TC_EXIT_OK;
		}
		name = argv[t.cmd_index + 1];
		for (size_t i = 0; i < TC_ARRAY_SIZE(subcommands); i++) {
			if (strcmp(subcommands[i].name, name) != 0)
				continue;
			if (asprintf(&full, "orionstor %s", name) < 0)
				return TC_EXIT_OTHER;
			hargv[0] = full;
			hargv[1] = help_opt;
			hargv[2] = NULL;
			rc = subcommands[i].fn(2, hargv);
			free(full);
			return rc;
		}
		tc_usage_error("unknown command '%s'", name);
	}

	for (size_t i = 0; i < TC_ARRAY_SIZE(subcommands); i++) {
		if (strcmp(subcommands[i].name, name) != 0)
			continue;
		if (asprintf(&full, "orionstor %s", name) < 0)
			return TC_EXIT_OTHER;
		tc_set_progname(full);
		argv[t.cmd_index] = full;
		rc = subcommands[i].fn(argc - t.cmd_index, argv + t.cmd_index);
		free(full);
		return rc;
	}
	tc_usage_error("unknown command '%s' (try list, info, read, write, cmd, bench, ps or ping)", name);
}
