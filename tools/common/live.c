/*
 * tools/common/live.c - the live tools: statistics, queues, commands in
 * flight, abort and queue flush of a device another process holds, asked
 * through its control socket (orionstor stats, top, queues, commands,
 * abort, queue-flush; virtio-scsi-performance-stats, -queue-stats,
 * -command-info, -command-abort, -queue-flush and
 * usb_storage_performance_stats are the same code).
 */
#include "control_client.h"
#include "subcommands.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* ---- finding the process and calling it -------------------------------------- */

int tc_ctl_exit_from_code(int code)
{
	if (code <= -32000 && code >= -32099)
		return tc_exit_from_error(code + 32000);
	if (code == -32602)
		return TC_EXIT_SYNTAX;
	return TC_EXIT_OTHER;
}

/* Call method on lv's process with params (taken; "device" is added).
 * 0 with *res, or an exit code (message printed). */
int tc_live_call(const struct tc_live *lv, const char *method, struct json_object *params, int timeout_ms,
		 struct json_object **res)
{
	char why[512];
	int code = 0, r;

	if (!params)
		params = json_object_new_object();
	json_object_object_add(params, "device", json_object_new_string(lv->spec));
	r = tc_ctl_call(lv->socket, method, params, timeout_ms, res, &code, why, sizeof(why));
	json_object_put(params);
	if (r == TC_CTL_STALE) {
		tc_msg("process %ld is gone (stale socket %s)", lv->pid, lv->socket);
		return TC_EXIT_NOT_HELD;
	}
	if (r) {
		tc_msg("process %ld: %s", lv->pid, why);
		return tc_ctl_exit_from_code(code);
	}
	return 0;
}

/* The process and device to ask: --pid/--socket (and -d, or its only
 * device), or the holder of -d.  0 or an exit code (message printed). */
int tc_live_resolve(const struct tc_common *c, struct tc_live *lv)
{
	char dir[512];
	int rc;

	memset(lv, 0, sizeof(*lv));
	if ((rc = tc_ctl_live_dir(c, dir, sizeof(dir))) || (rc = tc_ctl_selected(c, dir, lv->socket, sizeof(lv->socket))))
		return rc;
	if (lv->socket[0]) {
		struct json_object *devs = NULL, *ping = NULL;
		char why[512];
		int code;

		lv->pid = tc_ctl_pid_of(lv->socket);
		if (tc_ctl_call(lv->socket, "ping", NULL, TC_CTL_TIMEOUT_MS, &ping, &code, why, sizeof(why)) == 0) {
			snprintf(lv->program, sizeof(lv->program), "%s", tc_jstr(ping, "program"));
			lv->pid = (long)tc_jnum(ping, "pid");
			json_object_put(ping);
		}
		if (c->device) {
			snprintf(lv->spec, sizeof(lv->spec), "%s", c->device);
			return 0;
		}
		rc = tc_ctl_call(lv->socket, "devices", NULL, TC_CTL_TIMEOUT_MS, &devs, &code, why, sizeof(why));
		if (rc == TC_CTL_STALE) {
			tc_msg("nobody listens on %s (the process is gone)", lv->socket);
			return TC_EXIT_NOT_HELD;
		}
		if (rc) {
			tc_msg("%s: %s", lv->socket, why);
			return tc_ctl_exit_from_code(code);
		}
		if (!json_object_is_type(devs, json_type_array) || json_object_array_length(devs) != 1) {
			size_t n = json_object_is_type(devs, json_type_array) ? json_object_array_length(devs) : 0;

			json_object_put(devs);
			if (!n) {
				tc_msg("process %ld has no device open", lv->pid);
				return TC_EXIT_NOT_HELD;
			}
			tc_msg("process %ld has %zu devices open; choose one with -d (orionstor ps --pid %ld lists them)",
			       lv->pid, n, lv->pid);
			return TC_EXIT_SYNTAX;
		}
		snprintf(lv->spec, sizeof(lv->spec), "%s", tc_jstr(json_object_array_get_idx(devs, 0), "spec"));
		json_object_put(devs);
		return 0;
	}
	if (!c->device)
		tc_usage_error("which device? give -d SPEC (or --pid N / --socket PATH)");
	{
		struct tc_ctl_holder h;

		if (!tc_ctl_find_holder(dir, c->device, &h))
			return tc_ctl_not_held(c->device);
		snprintf(lv->socket, sizeof(lv->socket), "%s", h.socket);
		snprintf(lv->program, sizeof(lv->program), "%s", h.program);
		snprintf(lv->spec, sizeof(lv->spec), "%s", tc_jstr(h.device, "spec"));
		lv->pid = h.pid;
		json_object_put(h.device);
	}
	return 0;
}

/* ---- stats ------------------------------------------------------------------------ */

static const char *const kinds[] = { "read", "write", "flush", "unmap", "other" };

struct stats_args {
	double interval;
	uint64_t count;
	bool count_set, reset, quiet;
	int histograms;               /* -1: leave, 0 off, 1 on */
};

enum { K_INTERVAL = 1, K_COUNT, K_RESET, K_HISTOGRAMS };

static const struct argp_option stats_options[] = {
	{ "interval", K_INTERVAL, "SECONDS", 0, "Print a line per interval (like iostat) instead of the totals", 0 },
	{ "count", K_COUNT, "N", 0, "With --interval: stop after N lines (default: until interrupted)", 0 },
	{ "reset", K_RESET, NULL, 0, "Start the holder's counts again from zero after showing them", 0 },
	{ "histograms", K_HISTOGRAMS, "on|off", 0, "Switch the holder's latency histograms", 0 },
	{ 0 }
};

static error_t stats_parser(int key, char *arg, struct argp_state *state)
{
	struct stats_args *a = state->input;
	char *end;

	switch (key) {
	case K_INTERVAL:
		errno = 0;
		a->interval = strtod(arg, &end);
		if (errno || *end || !(a->interval >= 0.01 && a->interval <= 3600))
			argp_error(state, "--interval: '%s' is not a number of seconds from 0.01 to 3600", arg);
		return 0;
	case K_COUNT:
		a->count = tc_argp_u64(state, "--count", arg, UINT32_MAX);
		a->count_set = true;
		return 0;
	case K_RESET:
		a->reset = true;
		return 0;
	case K_HISTOGRAMS:
		if (!strcmp(arg, "on"))
			a->histograms = 1;
		else if (!strcmp(arg, "off"))
			a->histograms = 0;
		else
			argp_error(state, "--histograms takes on or off, not '%s'", arg);
		return 0;
	default:
		return ARGP_ERR_UNKNOWN;
	}
}

static const struct argp stats_argp = {
	stats_options, stats_parser, NULL,
	"Show the statistics of a device another process holds: commands, bytes, IOPS, MB/s, "
	"latency percentiles, results, queue depth and the transport's counters.\v"
	"The process is the one holding -d SPEC (found through the control sockets), or the one "
	"--pid or --socket names.  Latencies need the holder's histograms: "
	"performance_monitoring_enabled in orionstor.conf(5), or --histograms on."
};

static void print_latency_row(const char *kind, struct json_object *s, struct json_object *lat, double secs)
{
	struct json_object *l = tc_jobj(lat, kind);
	char size[32];

	printf("  %-6s %12llu %10s %10.0f %9.1f", kind, (unsigned long long)tc_ju64(tc_jobj(s, "commands"), kind),
	       tc_human_size(tc_ju64(tc_jobj(s, "bytes"), kind), size, sizeof(size)),
	       secs > 0 ? (double)tc_ju64(tc_jobj(s, "commands"), kind) / secs : 0.0,
	       secs > 0 ? (double)tc_ju64(tc_jobj(s, "bytes"), kind) / secs / 1e6 : 0.0);
	if (l && tc_ju64(l, "count"))
		printf(" %9.1f %9.1f %9.1f %9.1f %9.1f", tc_jnum(l, "mean_us"), tc_jnum(l, "p50_us"), tc_jnum(l, "p99_us"),
		       tc_jnum(l, "p99.9_us"), tc_jnum(l, "max_us"));
	printf("\n");
}

/* One stats object (total, a target, a LUN) as the table of kinds. */
static void print_block(struct json_object *s, bool histograms)
{
	struct json_object *lat = tc_jobj(s, "latency"), *res = tc_jobj(s, "results"), *resets = tc_jobj(s, "resets");
	double secs = tc_jnum(s, "elapsed_s");
	bool first = true;

	printf("  %-6s %12s %10s %10s %9s", "KIND", "COMMANDS", "BYTES", "IOPS", "MB/s");
	if (histograms)
		printf(" %9s %9s %9s %9s %9s  (latency, us)", "MEAN", "P50", "P99", "P99.9", "MAX");
	printf("\n");
	for (size_t k = 0; k < sizeof(kinds) / sizeof(kinds[0]); k++)
		print_latency_row(kinds[k], s, lat, secs);
	printf("  results:");
	json_object_object_foreach(res, name, val) {
		if (!json_object_get_int64(val) && strcmp(name, "good"))
			continue;
		printf("%s %s %lld", first ? "" : ",", name, (long long)json_object_get_int64(val));
		first = false;
	}
	printf("\n  queue depth: %lld now, %lld at most", (long long)tc_ju64(s, "depth"),
	       (long long)tc_ju64(s, "depth_max"));
	if (tc_jobj(s, "depth_avg"))
		printf(", %.1f on average, busy %.1f%% of the time", tc_jnum(s, "depth_avg"),
		       100.0 * tc_jnum(s, "utilisation"));
	printf("\n  retries %llu, aborts %llu, waits for room %llu, resets %llu LUN / %llu target / %llu device\n",
	       (unsigned long long)tc_ju64(s, "retries"), (unsigned long long)tc_ju64(s, "aborts"),
	       (unsigned long long)tc_ju64(s, "queue_full_waits"), (unsigned long long)tc_ju64(resets, "lun"),
	       (unsigned long long)tc_ju64(resets, "target"), (unsigned long long)tc_ju64(resets, "device"));
}

/* The "cache" object of the statistics, in one line. */
static void print_cache_line(struct json_object *cache)
{
	char cap[32], used[32], dirty[32], writing[32], lost[32];
	struct json_object *rate = tc_jobj(cache, "hit_rate");

	if (!cache)
		return;
	printf("\n  cache: %s %s, %s; %s used, %s dirty, %s being written out; hit rate ", tc_jstr(cache, "mode"),
	       tc_jstr(cache, "policy"), tc_human_size(tc_ju64(cache, "capacity_bytes"), cap, sizeof(cap)),
	       tc_human_size(tc_ju64(cache, "used_bytes"), used, sizeof(used)),
	       tc_human_size(tc_ju64(cache, "dirty_bytes"), dirty, sizeof(dirty)),
	       tc_human_size(tc_ju64(cache, "writeout_inflight_bytes"), writing, sizeof(writing)));
	if (rate)
		printf("%.1f%%", 100.0 * json_object_get_double(rate));
	else
		printf("-");
	printf("; %llu write-out(s), %llu failed; %s lost", (unsigned long long)tc_ju64(cache, "writeouts"),
	       (unsigned long long)tc_ju64(cache, "writeout_errors"),
	       tc_human_size(tc_ju64(cache, "lost_bytes"), lost, sizeof(lost)));
	if (*tc_jstr(cache, "sticky_error"))
		printf("; sticky error %s", tc_jstr(cache, "sticky_error"));
	printf("\n");
}

static void print_stats(const struct tc_live *lv, struct json_object *doc, const struct tc_common *c)
{
	bool hist = json_object_get_boolean(tc_jobj(doc, "histograms"));
	struct json_object *total = tc_jobj(doc, "total"), *luns = tc_jobj(doc, "luns");
	struct json_object *transport = tc_jobj(doc, "transport");

	printf("%s, held by pid %ld (%s): %.1f s counted, latency histograms %s\n", lv->spec, lv->pid,
	       lv->program[0] ? lv->program : "?", tc_jnum(total, "elapsed_s"), hist ? "on" : "off");
	if (c->target_set || c->lun_set) {
		bool found = false;

		for (size_t i = 0; luns && i < json_object_array_length(luns); i++) {
			struct json_object *l = json_object_array_get_idx(luns, i);

			if (tc_ju64(l, "target") != c->target || tc_ju64(l, "lun") != c->lun)
				continue;
			printf("target %u, LUN %u:\n", c->target, c->lun);
			print_block(l, hist);
			found = true;
		}
		if (!found)
			printf("target %u, LUN %u: no commands yet\n", c->target, c->lun);
		print_cache_line(tc_jobj(doc, "cache"));
		return;
	}
	print_block(total, hist);
	if (luns && json_object_array_length(luns) > 1) {
		printf("\n  %-6s %-5s %12s %10s %9s %9s\n", "TARGET", "LUN", "COMMANDS", "IOPS", "MB/s", "P99 us");
		for (size_t i = 0; i < json_object_array_length(luns); i++) {
			struct json_object *l = json_object_array_get_idx(luns, i), *lat = tc_jobj(l, "latency");
			uint64_t n = 0;

			for (size_t k = 0; k < 5; k++)
				n += tc_ju64(tc_jobj(l, "commands"), kinds[k]);
			printf("  %-6llu %-5llu %12llu %10.0f %9.1f", (unsigned long long)tc_ju64(l, "target"),
			       (unsigned long long)tc_ju64(l, "lun"), (unsigned long long)n, tc_jnum(l, "iops"),
			       tc_jnum(l, "read_mbps") + tc_jnum(l, "write_mbps"));
			if (lat)
				printf(" %9.1f", tc_jnum(tc_jobj(lat, "read"), "p99_us"));
			printf("\n");
		}
	}
	if (transport && json_object_object_length(transport)) {
		int col = 0;

		printf("\n  transport:");
		json_object_object_foreach(transport, name, val) {
			printf("%s%s %llu", col % 4 ? ", " : "\n    ", name, (unsigned long long)json_object_get_uint64(val));
			col++;
		}
		printf("\n");
		if (tc_ju64(transport, "usb_commands") && json_object_object_get_ex(transport, "usb_system_calls", NULL))
			printf("    system calls per USB command: %.1f\n",
			       (double)tc_ju64(transport, "usb_system_calls") / (double)tc_ju64(transport, "usb_commands"));
	}
	print_cache_line(tc_jobj(doc, "cache"));
}

/* The sums an interval line needs. */
struct sample {
	double secs;
	uint64_t cmds[2], bytes[2], all, errors;
};

static struct sample sample_of(struct json_object *total)
{
	struct sample s = { .secs = tc_jnum(total, "elapsed_s") };
	struct json_object *res = tc_jobj(total, "results");

	for (int k = 0; k < 2; k++) {
		s.cmds[k] = tc_ju64(tc_jobj(total, "commands"), kinds[k]);
		s.bytes[k] = tc_ju64(tc_jobj(total, "bytes"), kinds[k]);
	}
	for (size_t k = 0; k < 5; k++)
		s.all += tc_ju64(tc_jobj(total, "commands"), kinds[k]);
	json_object_object_foreach(res, name, val)
		if (strcmp(name, "good"))
			s.errors += (uint64_t)json_object_get_int64(val);
	return s;
}

static void sleep_seconds(double s)
{
	struct timespec ts = { (time_t)s, (long)((s - floor(s)) * 1e9) };

	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

/* Shared by orionstor stats, virtio-scsi-performance-stats and
 * usb_storage_performance_stats. */
int orionstor_cmd_stats(int argc, char **argv)
{
	struct stats_args a = { .histograms = -1 };
	struct json_object *doc = NULL, *params;
	struct tc_common c;
	struct tc_live lv;
	struct sample prev;
	int rc;

	tc_parse(&stats_argp, argc, argv, TC_OPT_DEVICE | TC_OPT_JSON | TC_OPT_LIVE, &c, &a);
	if (a.count_set && a.interval <= 0)
		tc_usage_error("--count needs --interval");
	if ((rc = tc_live_resolve(&c, &lv)))
		return rc;
	params = json_object_new_object();
	if (a.histograms >= 0)
		json_object_object_add(params, "histograms", json_object_new_boolean(a.histograms));
	if (a.reset && a.interval <= 0)
		json_object_object_add(params, "reset", json_object_new_boolean(true));
	if ((rc = tc_live_call(&lv, "stats", params, TC_CTL_TIMEOUT_MS, &doc)))
		return rc;
	if (a.interval <= 0) {
		if (c.json) {
			json_object_object_add(doc, "pid", json_object_new_int64(lv.pid));
			json_object_object_add(doc, "program", json_object_new_string(lv.program));
			rc = tc_json_print(doc);
		} else {
			print_stats(&lv, doc, &c);
		}
		json_object_put(doc);
		return rc ? rc : tc_finish_stdout();
	}
	/* iostat-like: one line per interval, from the differences. */
	prev = sample_of(tc_jobj(doc, "total"));
	json_object_put(doc);
	if (!c.json)
		printf("%-8s %10s %10s %9s %9s %8s %6s %7s %9s\n", "TIME", "r/s", "w/s", "rMB/s", "wMB/s", "errors",
		       "depth", "util%", "p99us");
	for (uint64_t i = 0; !a.count_set || i < a.count; i++) {
		struct json_object *total, *lat;
		struct sample s;
		double dt;
		char when[16];
		time_t now;

		sleep_seconds(a.interval);
		if ((rc = tc_live_call(&lv, "stats", NULL, TC_CTL_TIMEOUT_MS, &doc)))
			return rc;
		total = tc_jobj(doc, "total");
		s = sample_of(total);
		dt = s.secs - prev.secs;
		if (dt <= 0 || s.all < prev.all)
			dt = 0; /* reset meanwhile: this line counts from it */
		if (c.json) {
			struct json_object *o = json_object_new_object();

			json_object_object_add(o, "interval_s", json_object_new_double(dt));
			json_object_object_add(o, "read_iops", json_object_new_double(dt > 0 ? (double)(s.cmds[0] - prev.cmds[0]) / dt : 0));
			json_object_object_add(o, "write_iops", json_object_new_double(dt > 0 ? (double)(s.cmds[1] - prev.cmds[1]) / dt : 0));
			json_object_object_add(o, "read_mbps", json_object_new_double(dt > 0 ? (double)(s.bytes[0] - prev.bytes[0]) / dt / 1e6 : 0));
			json_object_object_add(o, "write_mbps", json_object_new_double(dt > 0 ? (double)(s.bytes[1] - prev.bytes[1]) / dt / 1e6 : 0));
			json_object_object_add(o, "errors", json_object_new_int64(dt > 0 ? (int64_t)(s.errors - prev.errors) : 0));
			json_object_object_add(o, "total", json_object_get(total));
			printf("%s\n", json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN));
			json_object_put(o);
		} else {
			now = time(NULL);
			strftime(when, sizeof(when), "%H:%M:%S", localtime(&now));
			lat = tc_jobj(tc_jobj(total, "latency"), "read");
			printf("%-8s %10.0f %10.0f %9.1f %9.1f %8llu %6llu %7.1f ", when,
			       dt > 0 ? (double)(s.cmds[0] - prev.cmds[0]) / dt : 0.0,
			       dt > 0 ? (double)(s.cmds[1] - prev.cmds[1]) / dt : 0.0,
			       dt > 0 ? (double)(s.bytes[0] - prev.bytes[0]) / dt / 1e6 : 0.0,
			       dt > 0 ? (double)(s.bytes[1] - prev.bytes[1]) / dt / 1e6 : 0.0,
			       (unsigned long long)(dt > 0 ? s.errors - prev.errors : 0),
			       (unsigned long long)tc_ju64(total, "depth"), 100.0 * tc_jnum(total, "utilisation"));
			if (lat)
				printf("%9.1f\n", tc_jnum(lat, "p99_us"));
			else
				printf("%9s\n", "-");
		}
		fflush(stdout);
		prev = s;
		json_object_put(doc);
	}
	return tc_finish_stdout();
}

/* ---- queues ----------------------------------------------------------------------- */

static const struct argp queues_argp = {
	NULL, NULL, NULL,
	"Show the queues of a device another process holds: owner, depth now, at most and on "
	"average, utilisation, commands, completion batches, and for virtio-scsi the ring's "
	"notifications.\v"
	"Queue -1 is the shared path of threads that own no queue."
};

int orionstor_cmd_queues(int argc, char **argv)
{
	struct json_object *arr = NULL;
	struct tc_common c;
	struct tc_live lv;
	int rc;

	tc_parse(&queues_argp, argc, argv, TC_OPT_DEVICE | TC_OPT_JSON | TC_OPT_LIVE, &c, NULL);
	if ((rc = tc_live_resolve(&c, &lv)) || (rc = tc_live_call(&lv, "queues", NULL, TC_CTL_TIMEOUT_MS, &arr)))
		return rc;
	if (c.json) {
		struct json_object *root = json_object_new_object();

		json_object_object_add(root, "device", json_object_new_string(lv.spec));
		json_object_object_add(root, "pid", json_object_new_int64(lv.pid));
		json_object_object_add(root, "queues", arr);
		rc = tc_json_print(root);
		json_object_put(root);
		return rc ? rc : tc_finish_stdout();
	}
	printf("%s, held by pid %ld (%s)\n", lv.spec, lv.pid, lv.program[0] ? lv.program : "?");
	printf("%5s %-5s %6s %6s %7s %6s %12s %10s %10s %12s %10s\n", "QUEUE", "OWNED", "DEPTH", "MAX", "AVG",
	       "UTIL%", "COMMANDS", "IOPS", "BATCHES", "NOTIFIES", "RING");
	for (size_t i = 0; i < json_object_array_length(arr); i++) {
		struct json_object *q = json_object_array_get_idx(arr, i), *vq = tc_jobj(q, "virtqueue");
		uint64_t n = 0;

		for (size_t k = 0; k < 5; k++)
			n += tc_ju64(tc_jobj(q, "commands"), kinds[k]);
		printf("%5lld %-5s %6llu %6llu ", (long long)tc_jnum(q, "queue"),
		       tc_jnum(q, "queue") < 0 ? "-" : json_object_get_boolean(tc_jobj(q, "owned")) ? "yes" : "no",
		       (unsigned long long)tc_ju64(q, "depth"),
		       (unsigned long long)tc_ju64(q, "depth_max"));
		if (tc_jobj(q, "depth_avg"))
			printf("%7.1f %6.1f ", tc_jnum(q, "depth_avg"), 100.0 * tc_jnum(q, "utilisation"));
		else
			printf("%7s %6s ", "-", "-");
		printf("%12llu %10.0f %10llu ", (unsigned long long)n, tc_jnum(q, "iops"),
		       (unsigned long long)tc_ju64(q, "batches"));
		if (vq)
			printf("%12llu %4s/%-5llu\n", (unsigned long long)tc_ju64(vq, "notifications"), tc_jstr(vq, "ring"),
			       (unsigned long long)tc_ju64(vq, "size"));
		else
			printf("%12s %10s\n", "-", "-");
	}
	json_object_put(arr);
	return tc_finish_stdout();
}

/* ---- commands ---------------------------------------------------------------------- */

struct tag_args {
	uint64_t tag;
	bool tag_set;
	int64_t queue;
	bool queue_set;
	uint64_t timeout_ms;
};

enum { K_TAG = 1, K_QUEUE, K_TIMEOUT };

static error_t tag_parser(int key, char *arg, struct argp_state *state)
{
	struct tag_args *a = state->input;

	switch (key) {
	case K_TAG:
		a->tag = tc_argp_u64(state, "--tag", arg, INT64_MAX);
		a->tag_set = true;
		return 0;
	case K_QUEUE:
		if (!strcmp(arg, "-1") || !strcmp(arg, "shared"))
			a->queue = -1;
		else
			a->queue = (int64_t)tc_argp_u64(state, "--queue", arg, 65535);
		a->queue_set = true;
		return 0;
	case K_TIMEOUT:
		a->timeout_ms = tc_argp_u64(state, "--timeout", arg, 60000);
		if (!a->timeout_ms)
			argp_error(state, "--timeout: 1 to 60000 milliseconds");
		return 0;
	default:
		return ARGP_ERR_UNKNOWN;
	}
}

static const struct argp_option commands_options[] = {
	{ "tag", K_TAG, "TAG", 0, "Only the command with this tag", 0 },
	{ "timeout", K_TIMEOUT, "MS", 0, "How long a queue's owner may take to answer, in milliseconds (default 2000)", 0 },
	{ 0 }
};

static const struct argp commands_argp = {
	commands_options, tag_parser, NULL,
	"List the commands in flight on a device another process holds: queue, tag, target, "
	"LUN, command, CDB, state and age.\v"
	"Tags name commands for --tag here and for the abort command.  A queue whose owning "
	"thread does not poll within --timeout cannot answer: it is reported.  Ages need the "
	"holder's latency histograms; without them, the time since a command was first listed "
	"is shown."
};

int orionstor_cmd_commands(int argc, char **argv)
{
	struct tag_args a = { .timeout_ms = 2000 };
	struct json_object *res = NULL, *params, *cmds, *out;
	struct tc_common c;
	struct tc_live lv;
	size_t shown = 0;
	int rc;

	tc_parse(&commands_argp, argc, argv, TC_OPT_DEVICE | TC_OPT_JSON | TC_OPT_LIVE, &c, &a);
	if ((rc = tc_live_resolve(&c, &lv)))
		return rc;
	params = json_object_new_object();
	json_object_object_add(params, "timeout_ms", json_object_new_int64((int64_t)a.timeout_ms));
	if ((rc = tc_live_call(&lv, "commands", params, (int)a.timeout_ms + TC_CTL_TIMEOUT_MS, &res)))
		return rc;
	cmds = tc_jobj(res, "commands");
	out = json_object_new_array();
	for (size_t i = 0; cmds && i < json_object_array_length(cmds); i++) {
		struct json_object *cmd = json_object_array_get_idx(cmds, i);

		if (a.tag_set && strtoull(tc_jstr(cmd, "tag"), NULL, 0) != a.tag)
			continue;
		json_object_array_add(out, json_object_get(cmd));
	}
	if (c.json) {
		struct json_object *root = json_object_new_object();

		json_object_object_add(root, "device", json_object_new_string(lv.spec));
		json_object_object_add(root, "pid", json_object_new_int64(lv.pid));
		json_object_object_add(root, "commands", json_object_get(out));
		json_object_object_add(root, "total", json_object_get(tc_jobj(res, "total")));
		json_object_object_add(root, "silent_queues", json_object_get(tc_jobj(res, "silent_queues")));
		rc = tc_json_print(root);
		json_object_put(root);
	} else {
		for (size_t i = 0; i < json_object_array_length(out); i++) {
			struct json_object *cmd = json_object_array_get_idx(out, i), *age = tc_jobj(cmd, "age_ms");

			if (!shown++)
				printf("%5s %-18s %6s %5s %-22s %-10s %11s  %s\n", "QUEUE", "TAG", "TARGET", "LUN",
				       "COMMAND", "STATE", "AGE ms", "CDB");
			printf("%5lld %-18s %6llu %5llu %-22s %-10s %11.1f%s %s\n", (long long)tc_jnum(cmd, "queue"),
			       tc_jstr(cmd, "tag"), (unsigned long long)tc_ju64(cmd, "target"),
			       (unsigned long long)tc_ju64(cmd, "lun"), tc_jstr(cmd, "command"), tc_jstr(cmd, "state"),
			       age ? json_object_get_double(age) : tc_jnum(cmd, "listed_ms"), age ? " " : "+",
			       tc_jstr(cmd, "cdb"));
		}
		if (!shown && a.tag_set)
			printf("No command with tag %#llx is in flight on %s.\n", (unsigned long long)a.tag, lv.spec);
		else if (!shown)
			printf("No command is in flight on %s.\n", lv.spec);
		if (tc_ju64(res, "silent_queues"))
			printf("%llu queue(s) did not answer: their owning threads are not polling.\n",
			       (unsigned long long)tc_ju64(res, "silent_queues"));
	}
	json_object_put(out);
	json_object_put(res);
	if (!rc && a.tag_set && !shown)
		rc = TC_EXIT_NOT_FOUND;
	return rc ? rc : tc_finish_stdout();
}

/* ---- abort -------------------------------------------------------------------------- */

static const struct argp_option abort_options[] = {
	{ "tag", K_TAG, "TAG", 0, "The command to abort (see the commands command)", 0 },
	{ "timeout", K_TIMEOUT, "MS", 0, "How long to wait for its fate, in milliseconds (default 30000)", 0 },
	{ 0 }
};

static const struct argp abort_argp = {
	abort_options, tag_parser, NULL,
	"Abort one command in flight on a device another process holds, and say what became "
	"of it.\v"
	"Outcomes: done (aborted: ABORT TASK, or the sim device), escalated (aborted by a larger "
	"reset: USB has no per-command abort), command-completed (it completed first), unknown "
	"(no answer within --timeout).  Exit status 36 when no such command is in flight."
};

int orionstor_cmd_abort(int argc, char **argv)
{
	struct tag_args a = { .timeout_ms = 30000 };
	struct json_object *res = NULL, *params;
	struct tc_common c;
	struct tc_live lv;
	char tag[24];
	int rc;

	tc_parse(&abort_argp, argc, argv, TC_OPT_DEVICE | TC_OPT_JSON | TC_OPT_LIVE, &c, &a);
	if (!a.tag_set)
		tc_usage_error("which command? give --tag TAG (the commands command lists them)");
	if ((rc = tc_live_resolve(&c, &lv)))
		return rc;
	snprintf(tag, sizeof(tag), "%#llx", (unsigned long long)a.tag);
	params = json_object_new_object();
	json_object_object_add(params, "tag", json_object_new_string(tag));
	json_object_object_add(params, "timeout_ms", json_object_new_int64((int64_t)a.timeout_ms));
	if ((rc = tc_live_call(&lv, "abort", params, (int)a.timeout_ms + TC_CTL_TIMEOUT_MS, &res)))
		return rc;
	if (c.json)
		rc = tc_json_print(res);
	else
		printf("%s: command %s: %s\n", lv.spec, tag, tc_jstr(res, "outcome"));
	if (!rc && !strcmp(tc_jstr(res, "outcome"), "unknown"))
		rc = TC_EXIT_TIMEOUT;
	json_object_put(res);
	return rc ? rc : tc_finish_stdout();
}

/* ---- queue-flush -------------------------------------------------------------------- */

static const struct argp_option flush_options[] = {
	{ "queue", K_QUEUE, "N", 0, "The queue (-1 or shared: the shared path)", 0 },
	{ "timeout", K_TIMEOUT, "MS", 0, "How long to wait for its commands, in milliseconds (default 10000)", 0 },
	{ 0 }
};

static const struct argp flush_argp = {
	flush_options, tag_parser, NULL,
	"Flush a queue of a device another process holds: hold its new commands back, wait until "
	"those at the device complete, then let the held ones go; report.\v"
	"Exit status 33 when commands were still at the device after --timeout."
};

int orionstor_cmd_queue_flush(int argc, char **argv)
{
	struct tag_args a = { .timeout_ms = 10000 };
	struct json_object *res = NULL, *params;
	struct tc_common c;
	struct tc_live lv;
	int rc;

	tc_parse(&flush_argp, argc, argv, TC_OPT_DEVICE | TC_OPT_JSON | TC_OPT_LIVE, &c, &a);
	if (!a.queue_set)
		tc_usage_error("which queue? give --queue N (-1: the shared path)");
	if ((rc = tc_live_resolve(&c, &lv)))
		return rc;
	params = json_object_new_object();
	json_object_object_add(params, "queue", json_object_new_int64(a.queue));
	json_object_object_add(params, "timeout_ms", json_object_new_int64((int64_t)a.timeout_ms));
	if ((rc = tc_live_call(&lv, "queue_flush", params, (int)a.timeout_ms + TC_CTL_TIMEOUT_MS, &res)))
		return rc;
	if (c.json)
		rc = tc_json_print(res);
	else
		printf("%s queue %lld: %llu command(s) at the device when the flush began, %llu still there "
		       "after %.1f ms%s; %llu new command(s) held back meanwhile\n", lv.spec, (long long)a.queue,
		       (unsigned long long)tc_ju64(res, "inflight_before"), (unsigned long long)tc_ju64(res, "remaining"),
		       tc_jnum(res, "waited_ms"), json_object_get_boolean(tc_jobj(res, "timed_out")) ? " (timed out)" : "",
		       (unsigned long long)tc_ju64(res, "held_back"));
	if (!rc && json_object_get_boolean(tc_jobj(res, "timed_out")))
		rc = TC_EXIT_TIMEOUT;
	json_object_put(res);
	return rc ? rc : tc_finish_stdout();
}

/* ---- top ------------------------------------------------------------------------------ */

static const struct argp top_argp = {
	stats_options, stats_parser, NULL,
	"Show every device of every process, refreshed: IOPS, MB/s, queue depth, utilisation, "
	"p99 read latency and errors (like top or iostat -x).\v"
	"On a terminal it refreshes every --interval seconds (default 1) until interrupted or "
	"--count frames; otherwise, or with --json, it prints one frame."
};

struct top_row {
	long pid;
	char program[64], spec[256];
	struct sample now, before;
	bool have_before;
	double depth, util, p99;
	bool hist;
};

/* One frame: every process's devices (rows carry the previous sample). */
static int top_frame(const char *dir, struct top_row **rows, size_t *nrows, struct json_object *json)
{
	char **paths, why[512];
	size_t n;
	struct top_row *old = *rows;
	size_t nold = *nrows;

	if (tc_ctl_list(dir, &paths, &n) < 0) {
		tc_msg("cannot list %s: %s", dir, strerror(errno));
		return TC_EXIT_FILE_ERROR;
	}
	*rows = NULL;
	*nrows = 0;
	for (size_t i = 0; i < n; i++) {
		struct json_object *ping = NULL, *devs = NULL;
		int code;

		if (tc_ctl_call(paths[i], "ping", NULL, TC_CTL_TIMEOUT_MS, &ping, &code, why, sizeof(why)) ||
		    tc_ctl_call(paths[i], "devices", NULL, TC_CTL_TIMEOUT_MS, &devs, &code, why, sizeof(why))) {
			json_object_put(ping);
			continue;
		}
		for (size_t k = 0; json_object_is_type(devs, json_type_array) && k < json_object_array_length(devs); k++) {
			struct json_object *d = json_object_array_get_idx(devs, k), *params, *doc = NULL, *total;
			struct top_row *r, *nr = realloc(*rows, (*nrows + 1) * sizeof(**rows));

			if (!nr)
				break;
			*rows = nr;
			r = memset(&nr[*nrows], 0, sizeof(*r));
			params = json_object_new_object();
			json_object_object_add(params, "device", json_object_new_string(tc_jstr(d, "spec")));
			if (tc_ctl_call(paths[i], "stats", params, TC_CTL_TIMEOUT_MS, &doc, &code, why, sizeof(why))) {
				json_object_put(params);
				continue;
			}
			json_object_put(params);
			total = tc_jobj(doc, "total");
			r->pid = (long)tc_jnum(ping, "pid");
			snprintf(r->program, sizeof(r->program), "%s", tc_jstr(ping, "program"));
			snprintf(r->spec, sizeof(r->spec), "%s", tc_jstr(d, "spec"));
			r->now = sample_of(total);
			r->depth = tc_jnum(total, "depth");
			r->util = tc_jnum(total, "utilisation");
			r->hist = tc_jobj(total, "latency") != NULL;
			r->p99 = tc_jnum(tc_jobj(tc_jobj(total, "latency"), "read"), "p99_us");
			for (size_t j = 0; j < nold; j++)
				if (old[j].pid == r->pid && !strcmp(old[j].spec, r->spec)) {
					r->before = old[j].now;
					r->have_before = true;
				}
			if (json) {
				struct json_object *o = json_object_new_object();

				json_object_object_add(o, "pid", json_object_new_int64(r->pid));
				json_object_object_add(o, "program", json_object_new_string(r->program));
				json_object_object_add(o, "device", json_object_new_string(r->spec));
				json_object_object_add(o, "stats", json_object_get(total));
				json_object_array_add(json, o);
			}
			json_object_put(doc);
			(*nrows)++;
		}
		json_object_put(ping);
		json_object_put(devs);
	}
	tc_ctl_list_free(paths, n);
	free(old);
	return 0;
}

static void top_print(const struct top_row *rows, size_t n)
{
	char when[16];
	time_t now = time(NULL);

	strftime(when, sizeof(when), "%H:%M:%S", localtime(&now));
	printf("orionstor top - %s, %zu device(s)\n\n", when, n);
	printf("%-8s %-14s %-30s %10s %9s %6s %6s %9s %7s\n", "PID", "PROGRAM", "DEVICE", "IOPS", "MB/s", "DEPTH",
	       "UTIL%", "P99 us", "ERRORS");
	for (size_t i = 0; i < n; i++) {
		const struct top_row *r = &rows[i];
		struct sample b = r->have_before ? r->before : (struct sample){ 0 };
		double dt = r->now.secs - b.secs;
		uint64_t cmds = r->now.all >= b.all ? r->now.all - b.all : r->now.all;
		uint64_t bytes = r->now.bytes[0] + r->now.bytes[1] - b.bytes[0] - b.bytes[1];

		if (dt <= 0)
			dt = r->now.secs;
		printf("%-8ld %-14.14s %-30.30s %10.0f %9.1f %6.0f ", r->pid, r->program, r->spec,
		       dt > 0 ? (double)cmds / dt : 0.0, dt > 0 ? (double)bytes / dt / 1e6 : 0.0, r->depth);
		if (r->hist)
			printf("%6.1f %9.1f", 100.0 * r->util, r->p99);
		else
			printf("%6s %9s", "-", "-");
		printf(" %7llu\n", (unsigned long long)r->now.errors);
	}
	if (!n)
		printf("(no process has a device open)\n");
}

int orionstor_cmd_top(int argc, char **argv)
{
	struct stats_args a = { .histograms = -1 };
	struct top_row *rows = NULL;
	struct tc_common c;
	size_t n = 0;
	char dir[512];
	bool tty;
	int rc;

	tc_parse(&top_argp, argc, argv, TC_OPT_JSON, &c, &a);
	if (a.reset || a.histograms >= 0)
		tc_usage_error("top only looks; use the stats command to reset or switch histograms");
	if ((rc = tc_ctl_live_dir(&c, dir, sizeof(dir))))
		return rc;
	tty = isatty(STDOUT_FILENO) && !c.json;
	if (a.interval <= 0)
		a.interval = 1.0;
	if (!tty && !a.count_set)
		a.count = 1, a.count_set = true;
	for (uint64_t i = 0; !a.count_set || i < a.count; i++) {
		struct json_object *json = c.json ? json_object_new_array() : NULL;

		if (i)
			sleep_seconds(a.interval);
		if ((rc = top_frame(dir, &rows, &n, json))) {
			json_object_put(json);
			break;
		}
		if (json) {
			struct json_object *root = json_object_new_object();

			json_object_object_add(root, "devices", json);
			rc = tc_json_print(root);
			json_object_put(root);
			if (rc)
				break;
			continue;
		}
		if (tty)
			printf("\033[H\033[2J");
		top_print(rows, n);
		fflush(stdout);
	}
	free(rows);
	return rc ? rc : tc_finish_stdout();
}

/* ---- tuning (usb_storage_optimization_info) ---------------------------------- */

static const struct argp tuning_argp = {
	NULL, NULL, NULL,
	"Show the tuning in effect for a device another process holds, where each value came "
	"from, and advice computed from its statistics.\v"
	"Settings: transfer size limit, pipelining of the Bulk-Only phases and why, quirks, "
	"queueing, timeouts, link speed, queues, block cache, latency histograms."
};

static const char *setting_of(struct json_object *settings, const char *name)
{
	for (size_t i = 0; settings && i < json_object_array_length(settings); i++) {
		struct json_object *o = json_object_array_get_idx(settings, i);

		if (!strcmp(tc_jstr(o, "name"), name))
			return tc_jstr(o, "value");
	}
	return NULL;
}

/* Advice from the counters and settings: what a person would tell you. */
static void advise(struct json_object *settings, struct json_object *stats, struct json_object *advice)
{
	struct json_object *t = tc_jobj(stats, "transport"), *total = tc_jobj(stats, "total");
	const char *speed = setting_of(settings, "link_speed");
	char buf[512];

#define ADVICE(...) do { snprintf(buf, sizeof(buf), __VA_ARGS__); \
		json_object_array_add(advice, json_object_new_string(buf)); } while (0)
	if (tc_ju64(t, "usb_reset_recoveries") + tc_ju64(t, "usb_port_resets"))
		ADVICE("%llu reset recoveries and %llu port resets: check the cable and the port; if they keep "
		       "coming, add the go-slow quirk for this device ([usb_storage] quirks in orionstor.conf)",
		       (unsigned long long)tc_ju64(t, "usb_reset_recoveries"), (unsigned long long)tc_ju64(t, "usb_port_resets"));
	if (tc_ju64(t, "usb_lost_csw_rescues"))
		ADVICE("the device lost %llu queued status (CSW) reads: status reads now wait for the data; "
		       "ORIONSTOR_USB_PIPELINE=0 skips the first loss", (unsigned long long)tc_ju64(t, "usb_lost_csw_rescues"));
	if (tc_ju64(t, "usb_phase_errors") || tc_ju64(t, "usb_csw_invalid"))
		ADVICE("%llu phase errors and %llu invalid status blocks: a flaky bridge; the go-slow quirk "
		       "runs one phase at a time", (unsigned long long)tc_ju64(t, "usb_phase_errors"),
		       (unsigned long long)tc_ju64(t, "usb_csw_invalid"));
	if (tc_ju64(t, "usb_timeouts") || tc_ju64(tc_jobj(total, "results"), "timeout"))
		ADVICE("commands timed out: the device may be failing or too slow for the timeout "
		       "([usb_storage] storage_device_timeout)");
	if (speed && (!strcmp(speed, "full") || !strcmp(speed, "low")))
		ADVICE("the link runs at %s speed (12 Mbit/s at most): use a USB 2 or 3 port and cable", speed);
	if (tc_ju64(t, "virtio_renotifications"))
		ADVICE("%llu lost notifications were recovered by the watch: the device (or QEMU before 8.1 "
		       "under TCG) misses notifications", (unsigned long long)tc_ju64(t, "virtio_renotifications"));
	if (tc_ju64(t, "virtio_bounced"))
		ADVICE("%llu requests were bounced through the driver's buffers: allocate I/O buffers with "
		       "ostor_dma_alloc() for zero copy", (unsigned long long)tc_ju64(t, "virtio_bounced"));
	if (tc_ju64(total, "queue_full_waits"))
		ADVICE("%llu commands waited for room: raise scsi_max_commands or lower the queue depth",
		       (unsigned long long)tc_ju64(total, "queue_full_waits"));
	if (!json_object_get_boolean(tc_jobj(stats, "histograms")))
		ADVICE("latency histograms are off: orionstor stats --histograms on (or "
		       "performance_monitoring_enabled) gives percentiles");
	if (!json_object_array_length(advice))
		ADVICE("nothing to change: no errors, recoveries or waits counted");
#undef ADVICE
}

int orionstor_cmd_tuning(int argc, char **argv)
{
	struct json_object *settings = NULL, *stats = NULL, *advice;
	struct tc_common c;
	struct tc_live lv;
	int rc;

	tc_parse(&tuning_argp, argc, argv, TC_OPT_DEVICE | TC_OPT_JSON | TC_OPT_LIVE, &c, NULL);
	if ((rc = tc_live_resolve(&c, &lv)) || (rc = tc_live_call(&lv, "tuning", NULL, TC_CTL_TIMEOUT_MS, &settings)))
		return rc;
	if ((rc = tc_live_call(&lv, "stats", NULL, TC_CTL_TIMEOUT_MS, &stats))) {
		json_object_put(settings);
		return rc;
	}
	advice = json_object_new_array();
	advise(settings, stats, advice);
	if (c.json) {
		struct json_object *root = json_object_new_object();

		json_object_object_add(root, "device", json_object_new_string(lv.spec));
		json_object_object_add(root, "pid", json_object_new_int64(lv.pid));
		json_object_object_add(root, "settings", json_object_get(settings));
		json_object_object_add(root, "advice", json_object_get(advice));
		rc = tc_json_print(root);
		json_object_put(root);
	} else {
		printf("%s, held by pid %ld (%s)\n", lv.spec, lv.pid, lv.program[0] ? lv.program : "?");
		printf("  %-22s %-36s %s\n", "SETTING", "VALUE", "FROM");
		for (size_t i = 0; i < json_object_array_length(settings); i++) {
			struct json_object *o = json_object_array_get_idx(settings, i);

			printf("  %-22s %-36s %s\n", tc_jstr(o, "name"), tc_jstr(o, "value"), tc_jstr(o, "source"));
		}
		printf("advice:\n");
		for (size_t i = 0; i < json_object_array_length(advice); i++)
			printf("  - %s\n", json_object_get_string(json_object_array_get_idx(advice, i)));
	}
	json_object_put(advice);
	json_object_put(settings);
	json_object_put(stats);
	return rc ? rc : tc_finish_stdout();
}

/* ---- rpc: any method, for scripts and debugging --------------------------------- */

struct rpc_args {
	const char *method, *params;
};

static error_t rpc_parser(int key, char *arg, struct argp_state *state)
{
	struct rpc_args *a = state->input;

	switch (key) {
	case ARGP_KEY_ARG:
		if (!a->method)
			a->method = arg;
		else if (!a->params)
			a->params = arg;
		else
			argp_error(state, "too many arguments: METHOD [PARAMS]");
		return 0;
	case ARGP_KEY_END:
		if (!a->method)
			argp_error(state, "which method? (ping and devices list what there is)");
		return 0;
	default:
		return ARGP_ERR_UNKNOWN;
	}
}

static const struct argp rpc_argp = {
	NULL, rpc_parser, "METHOD [PARAMS]",
	"Call a method of a process's control socket and print its result (JSON).\v"
	"PARAMS is a JSON object; with -d, \"device\" is added to it.  Methods: ping, devices, "
	"stats, queues, commands, abort, queue_flush, tuning, reset, cache, cache_flush, cache_reset (see "
	"liborionstor(3))."
};

int orionstor_cmd_rpc(int argc, char **argv)
{
	struct rpc_args a = { 0 };
	struct json_object *params = NULL, *res = NULL;
	struct tc_common c;
	char dir[512], path[512], why[512];
	int rc, code = 0, r;

	tc_parse(&rpc_argp, argc, argv, TC_OPT_DEVICE | TC_OPT_LIVE, &c, &a);
	if (a.params && !(params = json_tokener_parse(a.params)))
		tc_usage_error("PARAMS is not JSON: %s", a.params);
	if (params && !json_object_is_type(params, json_type_object)) {
		json_object_put(params);
		tc_usage_error("PARAMS must be a JSON object");
	}
	if (c.device) {
		struct tc_live lv;

		if ((rc = tc_live_resolve(&c, &lv))) {
			json_object_put(params);
			return rc;
		}
		rc = tc_live_call(&lv, a.method, params, 120000, &res);
		if (rc)
			return rc;
	} else {
		if ((rc = tc_ctl_live_dir(&c, dir, sizeof(dir))) || (rc = tc_ctl_selected(&c, dir, path, sizeof(path)))) {
			json_object_put(params);
			return rc;
		}
		if (!path[0]) {
			json_object_put(params);
			tc_usage_error("which process? give --pid N, --socket PATH or -d SPEC");
		}
		r = tc_ctl_call(path, a.method, params, 120000, &res, &code, why, sizeof(why));
		json_object_put(params);
		if (r) {
			tc_msg("%s", why);
			return r == TC_CTL_STALE ? TC_EXIT_NOT_HELD : tc_ctl_exit_from_code(code);
		}
	}
	rc = res ? tc_json_print(res) : (printf("null\n") < 0 ? TC_EXIT_FILE_ERROR : 0);
	json_object_put(res);
	return rc ? rc : tc_finish_stdout();
}
