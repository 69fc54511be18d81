/*
 * tools/common/ps.c - orionstor ps and orionstor ping: the processes that
 * have devices open, seen through their control sockets.
 */
#include "control_client.h"
#include "subcommands.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

/* Exit code for a failed call: the library's error category when the
 * process answered with one (-32000 + enum ostor_error), else 99. */
static int exit_from_call(int code)
{
	if (code <= -32000 && code >= -32099)
		return tc_exit_from_error(code + 32000);
	return TC_EXIT_OTHER;
}

/* The sockets to look at: the one --pid/--socket chose, the holder of
 * -d SPEC, or all of dir.  0 or an exit code (message printed). */
static int sockets_to_ask(const struct tc_common *c, const char *dir, char ***paths, size_t *n)
{
	char path[512];
	int rc;

	*paths = NULL;
	*n = 0;
	if ((rc = tc_ctl_selected(c, dir, path, sizeof(path))))
		return rc;
	if (!path[0] && c->device) {
		struct tc_ctl_holder h;

		if (!tc_ctl_find_holder(dir, c->device, &h))
			return tc_ctl_not_held(c->device);
		json_object_put(h.device);
		snprintf(path, sizeof(path), "%s", h.socket);
	}
	if (!path[0]) {
		if (tc_ctl_list(dir, paths, n) < 0) {
			tc_msg("cannot list %s: %s", dir, strerror(errno));
			return TC_EXIT_FILE_ERROR;
		}
		return 0;
	}
	*paths = malloc(sizeof(**paths));
	if (!*paths || !((*paths)[0] = strdup(path))) {
		free(*paths);
		*paths = NULL;
		return TC_EXIT_OTHER;
	}
	*n = 1;
	return 0;
}

static const char *str_member(struct json_object *o, const char *key)
{
	struct json_object *v;

	return json_object_object_get_ex(o, key, &v) && v ? json_object_get_string(v) : "";
}

/* ------------------------------------------------------------------ ps */

static const struct argp ps_argp = {
	NULL, NULL, NULL,
	"List the processes that have devices open, and their devices.\v"
	"Every process using liborionstor with a device open serves a control "
	"socket (see orionstor.conf(5), [control]); this asks each one.  With -d "
	"only the process holding that device is shown (exit 38 if none does)."
};

int orionstor_cmd_ps(int argc, char **argv)
{
	struct json_object *root = NULL, *procs = NULL, *stale = NULL, *unreachable = NULL;
	struct tc_common c;
	char dir[512], why[512], **paths;
	size_t n, shown = 0;
	int rc, fail = 0;

	tc_parse(&ps_argp, argc, argv, TC_OPT_DEVICE | TC_OPT_JSON | TC_OPT_LIVE, &c, NULL);
	if ((rc = tc_ctl_live_dir(&c, dir, sizeof(dir))) || (rc = sockets_to_ask(&c, dir, &paths, &n)))
		return rc;
	if (c.json) {
		root = json_object_new_object();
		json_object_object_add(root, "socket_dir", json_object_new_string(dir));
		json_object_object_add(root, "processes", procs = json_object_new_array());
		json_object_object_add(root, "stale", stale = json_object_new_array());
		json_object_object_add(root, "unreachable", unreachable = json_object_new_array());
	}
	for (size_t i = 0; i < n; i++) {
		struct json_object *ping = NULL, *devs = NULL;
		long pid = tc_ctl_pid_of(paths[i]);
		int code, r;

		r = tc_ctl_call(paths[i], "ping", NULL, TC_CTL_TIMEOUT_MS, &ping, &code, why, sizeof(why));
		if (!r)
			r = tc_ctl_call(paths[i], "devices", NULL, TC_CTL_TIMEOUT_MS, &devs, &code, why,
					sizeof(why));
		if (r == TC_CTL_STALE) {
			/* Killed before it could clean up; the next process with
			 * that pid replaces the socket. */
			if (stale) {
				struct json_object *o = json_object_new_object();

				json_object_object_add(o, "pid", json_object_new_int64(pid));
				json_object_object_add(o, "socket", json_object_new_string(paths[i]));
				json_object_array_add(stale, o);
			} else {
				printf("%-8ld %-16s (stale socket %s: the process is gone)\n", pid, "-", paths[i]);
			}
		} else if (r) {
			tc_msg("process %ld (%s): %s", pid, paths[i], why);
			if (!fail)
				fail = exit_from_call(code);
			if (unreachable) {
				struct json_object *o = json_object_new_object();

				json_object_object_add(o, "pid", json_object_new_int64(pid));
				json_object_object_add(o, "socket", json_object_new_string(paths[i]));
				json_object_object_add(o, "error", json_object_new_string(why));
				json_object_array_add(unreachable, o);
			}
		} else if (procs) {
			json_object_object_add(ping, "socket", json_object_new_string(paths[i]));
			json_object_object_add(ping, "devices", json_object_get(devs));
			json_object_array_add(procs, json_object_get(ping));
		} else {
			size_t nd = json_object_is_type(devs, json_type_array) ? json_object_array_length(devs) : 0;

			if (!shown++)
				printf("%-8s %-16s %-28s %s\n", "PID", "PROGRAM", "SPEC", "DESCRIPTION");
			for (size_t k = 0; k < nd; k++) {
				struct json_object *d = json_object_array_get_idx(devs, k);

				printf("%-8ld %-16s %-28s %s\n", pid, str_member(ping, "program"),
				       str_member(d, "spec"), str_member(d, "description"));
			}
			if (!nd)
				printf("%-8ld %-16s %-28s %s\n", pid, str_member(ping, "program"), "-",
				       "(closing its last device)");
		}
		json_object_put(ping);
		json_object_put(devs);
	}
	if (root) {
		rc = tc_json_print(root);
		json_object_put(root);
	} else if (!n) {
		printf("No process has a control socket in %s.\n", dir);
	}
	tc_ctl_list_free(paths, n);
	if (!rc)
		rc = tc_finish_stdout();
	return rc ? rc : fail;
}

/* ---------------------------------------------------------------- ping */

static const struct argp ping_argp = {
	NULL, NULL, NULL,
	"Check that a process with devices open answers on its control socket.\v"
	"Choose the process with --pid, --socket or -d (the one holding that "
	"device)."
};

int orionstor_cmd_ping(int argc, char **argv)
{
	struct json_object *res = NULL;
	struct tc_common c;
	char dir[512], why[512], **paths;
	uint64_t t0, ns;
	size_t n;
	int rc, code;

	tc_parse(&ping_argp, argc, argv, TC_OPT_DEVICE | TC_OPT_JSON | TC_OPT_LIVE, &c, NULL);
	if (!c.pid && !c.socket && !c.device)
		tc_usage_error("which process? give --pid N, --socket PATH or -d SPEC");
	if ((rc = tc_ctl_live_dir(&c, dir, sizeof(dir))) || (rc = sockets_to_ask(&c, dir, &paths, &n)))
		return rc;
	t0 = tc_now_ns();
	rc = tc_ctl_call(paths[0], "ping", NULL, TC_CTL_TIMEOUT_MS, &res, &code, why, sizeof(why));
	ns = tc_now_ns() - t0;
	if (rc == TC_CTL_STALE) {
		tc_msg("nobody answers on %s: the process is gone (stale socket)", paths[0]);
		rc = TC_EXIT_NOT_FOUND;
	} else if (rc) {
		tc_msg("%s: %s", paths[0], why);
		rc = exit_from_call(code);
	} else if (c.json) {
		json_object_object_add(res, "socket", json_object_new_string(paths[0]));
		json_object_object_add(res, "rtt_ms", json_object_new_double((double)ns / 1e6));
		rc = tc_json_print(res);
	} else {
		printf("pid %s (%s, liborionstor %s) answered in %.3f ms\n", str_member(res, "pid"),
		       str_member(res, "program"), str_member(res, "version"), (double)ns / 1e6);
	}
	json_object_put(res);
	tc_ctl_list_free(paths, n);
	if (!rc)
		rc = tc_finish_stdout();
	return rc;
}
