/*
 * tools/common/cache.c - the block cache of a device: orionstor cache
 * info|flush|reset, and usb_storage_cache_info, usb_storage_cache_flush and
 * usb_storage_cache_reset (the same code).
 *
 * A device another process holds is acted on through that process's
 * control socket (methods cache, cache_flush, cache_reset): its cache is
 * the one that holds the data.  A device nobody holds is opened here, each
 * of its LUNs looked at (ostor_lun_info), and acted on: its cache is new
 * (the configured mode, nothing cached or counted), a flush is SYNCHRONIZE
 * CACHE, a reset has nothing to drop.  The output says which.
 *
 * Both ways give the same JSON: what the library's cache methods answer
 * ("total" and "luns" of cache objects, the flush and reset reports), plus
 * "held_by" (the process, or null when opened here).
 */
#include "control_client.h"
#include "subcommands.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

/* Flushes write out what the cache holds first: give them time. */
#define CACHE_LONG_TIMEOUT_MS 120000

static const char *size_of(uint64_t bytes, char *buf, size_t len)
{
	return tc_human_size(bytes, buf, len);
}

static struct json_object *ratio(uint64_t part, uint64_t whole)
{
	return whole ? json_object_new_double((double)part / (double)whole) : NULL;
}

/* A cache object as the library's control socket gives it (its
 * ostori_cache_json), from the public struct: for a device opened here. */
static struct json_object *cache_object(const struct ostor_cache_info *ci)
{
	struct json_object *o = json_object_new_object();

	json_object_object_add(o, "mode", json_object_new_string(ostor_cache_mode_name(ci->mode)));
	json_object_object_add(o, "policy", json_object_new_string(ci->policy));
	json_object_object_add(o, "line_size", tc_json_u64(ci->line_size));
	json_object_object_add(o, "capacity_bytes", tc_json_u64(ci->capacity_bytes));
	json_object_object_add(o, "dirty_limit_bytes", tc_json_u64(ci->dirty_limit_bytes));
	json_object_object_add(o, "read_ahead_max_bytes", tc_json_u64(ci->read_ahead_max_bytes));
	json_object_object_add(o, "used_bytes", tc_json_u64(ci->used_bytes));
	json_object_object_add(o, "dirty_bytes", tc_json_u64(ci->dirty_bytes));
	json_object_object_add(o, "writeout_inflight_bytes", tc_json_u64(ci->writeout_inflight_bytes));
	json_object_object_add(o, "read_hits", tc_json_u64(ci->read_hits));
	json_object_object_add(o, "read_misses", tc_json_u64(ci->read_misses));
	json_object_object_add(o, "hit_rate", ratio(ci->read_hits, ci->read_hits + ci->read_misses));
	json_object_object_add(o, "read_ahead_bytes", tc_json_u64(ci->read_ahead_bytes));
	json_object_object_add(o, "read_ahead_used_bytes", tc_json_u64(ci->read_ahead_used_bytes));
	json_object_object_add(o, "read_ahead_wasted_bytes", tc_json_u64(ci->read_ahead_wasted_bytes));
	json_object_object_add(o, "read_ahead_efficiency", ratio(ci->read_ahead_used_bytes, ci->read_ahead_bytes));
	json_object_object_add(o, "writes_absorbed", tc_json_u64(ci->writes_absorbed));
	json_object_object_add(o, "writes_through", tc_json_u64(ci->writes_through));
	json_object_object_add(o, "writeouts", tc_json_u64(ci->writeouts));
	json_object_object_add(o, "writeout_bytes", tc_json_u64(ci->writeout_bytes));
	json_object_object_add(o, "writeout_errors", tc_json_u64(ci->writeout_errors));
	json_object_object_add(o, "evictions", tc_json_u64(ci->evictions));
	json_object_object_add(o, "lost_ranges", tc_json_u64(ci->lost_ranges));
	json_object_object_add(o, "lost_bytes", tc_json_u64(ci->lost_bytes));
	json_object_object_add(o, "sticky_error",
			       ci->sticky_error ? json_object_new_string(ostor_error_name(ci->sticky_error)) : NULL);
	json_object_object_add(o, "sticky_message", ci->sticky_error ?
			       json_object_new_string("a flush failed or cached data was lost earlier") : NULL);
	return o;
}

/* ---- where the cache is ------------------------------------------------------------- */

struct where {
	bool live;
	struct tc_live lv;          /* live: the holder */
	ostor_context *ctx;         /* else: the device opened here */
	ostor_device *dev;
	struct ostor_lun_addr *luns;
	size_t nluns;
};

/* The holder of -d through the control sockets (--pid/--socket: that
 * process, which must answer), else the device opened here with its LUNs
 * (--target/--lun: that one).  0 or an exit code (message printed). */
static int locate(const struct tc_common *c, struct where *w)
{
	struct tc_where tw;
	int rc, err;

	memset(w, 0, sizeof(*w));
	if (c->pid || c->socket) {
		w->live = true;
		return tc_live_resolve(c, &w->lv);
	}
	if (!c->device)
		tc_usage_error("which device? give -d SPEC (or --pid N / --socket PATH)");
	if ((rc = tc_where_locate(c, &tw)))
		return rc;
	w->live = tw.live;
	w->lv = tw.lv;
	w->ctx = tw.ctx;
	w->dev = tw.dev;
	if (w->live)
		return 0;
	if (c->target_set || c->lun_set) {
		w->luns = malloc(sizeof(*w->luns));
		if (!w->luns) {
			tc_msg("out of memory");
			return TC_EXIT_FILE_ERROR;
		}
		w->luns[0] = (struct ostor_lun_addr){ .target = c->target, .lun = c->lun };
		w->nluns = 1;
	} else if ((err = ostor_device_luns(w->dev, &w->luns, &w->nluns)) < 0) {
		tc_lib_error(err, "cannot list the LUNs of '%s'", c->device);
		return tc_exit_from_error(err);
	}
	if (!w->nluns) {
		tc_msg("device '%s' reports no logical units", c->device);
		return TC_EXIT_NOT_FOUND;
	}
	/* What the block helpers do first: the cache learns each LUN. */
	for (size_t i = 0; i < w->nluns; i++) {
		struct ostor_lun_info li = OSTOR_LUN_INFO_INIT;

		err = ostor_lun_info(w->dev, w->luns[i].target, w->luns[i].lun, &li);
		if (err < 0) {
			tc_lib_error(err, "LUN %" PRIu32 ":%" PRIu32 " of '%s'", w->luns[i].target, w->luns[i].lun,
				     c->device);
			return tc_exit_from_error(err);
		}
	}
	return 0;
}

/* Close what locate opened; rc, or the close's exit code when rc is 0. */
static int release(struct where *w, int rc)
{
	int r = 0;

	free(w->luns);
	w->luns = NULL;
	if (w->dev || w->ctx)
		r = tc_close(w->ctx, w->dev);
	w->dev = NULL;
	w->ctx = NULL;
	return rc ? rc : r;
}

/* "held_by": the process, or null. */
static void add_holder(struct json_object *doc, const struct where *w)
{
	struct json_object *h = NULL;

	if (w->live) {
		h = json_object_new_object();
		json_object_object_add(h, "pid", json_object_new_int64(w->lv.pid));
		json_object_object_add(h, "program", json_object_new_string(w->lv.program));
	}
	json_object_object_add(doc, "held_by", h);
}

static const char *device_name(const struct tc_common *c, const struct where *w)
{
	return w->live ? w->lv.spec : c->device;
}

static void print_where(const struct tc_common *c, const struct where *w, const char *what)
{
	if (w->live)
		printf("%s, held by pid %ld (%s): %s through its control socket\n", device_name(c, w), w->lv.pid,
		       w->lv.program[0] ? w->lv.program : "?", what);
	else
		printf("%s: no process holds it; opened here (a new cache: nothing cached or counted yet)\n",
		       device_name(c, w));
}

/* Parameters naming the LUN, when --target or --lun was given. */
static struct json_object *lun_params(const struct tc_common *c)
{
	struct json_object *p = json_object_new_object();

	if (c->target_set || c->lun_set) {
		json_object_object_add(p, "target", json_object_new_int64(c->target));
		json_object_object_add(p, "lun", json_object_new_int64(c->lun));
	}
	return p;
}

/* ---- info ----------------------------------------------------------------------------- */

static const struct argp info_argp = {
	NULL, NULL, NULL,
	"Show the block cache of a device: mode, policy, size, what is cached and dirty, hit rate, "
	"read-ahead efficiency, write-out backlog and errors, lost data and the sticky flush error.\v"
	"A device another process holds is asked through its control socket; one nobody holds is "
	"opened here (its cache is then new: the configured mode, nothing counted).  --target/--lun: "
	"that logical unit only."
};

/* The cache of a device opened here, as the cache method answers. */
static struct json_object *own_info(const struct where *w)
{
	struct json_object *doc = json_object_new_object(), *arr = json_object_new_array();
	struct ostor_cache_info ci = OSTOR_CACHE_INFO_INIT;

	ostor_cache_info(w->dev, OSTOR_EVENT_ALL, OSTOR_EVENT_ALL, &ci);
	json_object_object_add(doc, "device", json_object_new_string(ostor_device_spec(w->dev)));
	json_object_object_add(doc, "total", cache_object(&ci));
	for (size_t i = 0; i < w->nluns; i++) {
		struct json_object *o;

		ci = (struct ostor_cache_info)OSTOR_CACHE_INFO_INIT;
		ostor_cache_info(w->dev, w->luns[i].target, w->luns[i].lun, &ci);
		o = cache_object(&ci);
		json_object_object_add(o, "target", json_object_new_int64(w->luns[i].target));
		json_object_object_add(o, "lun", json_object_new_int64(w->luns[i].lun));
		json_object_array_add(arr, o);
	}
	json_object_object_add(doc, "luns", arr);
	return doc;
}

static void print_percent(struct json_object *o, const char *key)
{
	struct json_object *v = tc_jobj(o, key);

	if (v)
		printf("%.1f%%", 100.0 * json_object_get_double(v));
	else
		printf("-");
}

static void print_info_block(struct json_object *o)
{
	char a[32], b[32], d[32];

	if (!strcmp(tc_jstr(o, "mode"), "off")) {
		printf("  mode          off: no block cache (cache=wt or cache=wb in the spec, or the transport's "
		       "keys in orionstor.conf(5))\n");
	} else {
		printf("  mode          %s, policy %s, lines of %" PRIu64 " bytes\n", tc_jstr(o, "mode"),
		       tc_jstr(o, "policy"), tc_ju64(o, "line_size"));
		printf("  size          %s (writes wait beyond %s dirty), ",
		       size_of(tc_ju64(o, "capacity_bytes"), a, sizeof(a)),
		       size_of(tc_ju64(o, "dirty_limit_bytes"), b, sizeof(b)));
		if (tc_ju64(o, "read_ahead_max_bytes"))
			printf("read-ahead up to %s\n", size_of(tc_ju64(o, "read_ahead_max_bytes"), a, sizeof(a)));
		else
			printf("no read-ahead\n");
		printf("  used          %s\n", size_of(tc_ju64(o, "used_bytes"), a, sizeof(a)));
		printf("  dirty         %s not yet written to the device\n",
		       size_of(tc_ju64(o, "dirty_bytes"), a, sizeof(a)));
		printf("  hit rate      ");
		if (tc_jobj(o, "hit_rate")) {
			print_percent(o, "hit_rate");
			printf(" (%" PRIu64 " of %" PRIu64 " reads answered from the cache)\n", tc_ju64(o, "read_hits"),
			       tc_ju64(o, "read_hits") + tc_ju64(o, "read_misses"));
		} else {
			printf("- (no reads yet)\n");
		}
		printf("  read-ahead    ");
		if (tc_jobj(o, "read_ahead_efficiency")) {
			print_percent(o, "read_ahead_efficiency");
			printf(" used (%s read of %s read ahead, %s evicted unread)\n",
			       size_of(tc_ju64(o, "read_ahead_used_bytes"), a, sizeof(a)),
			       size_of(tc_ju64(o, "read_ahead_bytes"), b, sizeof(b)),
			       size_of(tc_ju64(o, "read_ahead_wasted_bytes"), d, sizeof(d)));
		} else {
			printf("- (nothing read ahead)\n");
		}
		printf("  write-out     %s in flight (the backlog); %" PRIu64 " write-out(s) of %s, %" PRIu64
		       " failed\n", size_of(tc_ju64(o, "writeout_inflight_bytes"), a, sizeof(a)), tc_ju64(o, "writeouts"),
		       size_of(tc_ju64(o, "writeout_bytes"), b, sizeof(b)), tc_ju64(o, "writeout_errors"));
		if (tc_ju64(o, "lost_bytes"))
			printf("  lost data     %s in %" PRIu64 " range(s) never reached the device\n",
			       size_of(tc_ju64(o, "lost_bytes"), a, sizeof(a)), tc_ju64(o, "lost_ranges"));
		else
			printf("  lost data     none\n");
	}
	if (*tc_jstr(o, "sticky_error"))
		printf("  sticky error  %s: %s (every flush reports it until the holder acknowledges it)\n",
		       tc_jstr(o, "sticky_error"), tc_jstr(o, "sticky_message"));
	else
		printf("  sticky error  none\n");
}

static void print_info(const struct tc_common *c, const struct where *w, struct json_object *doc)
{
	struct json_object *luns = tc_jobj(doc, "luns");
	size_t n = luns ? json_object_array_length(luns) : 0;

	print_where(c, w, "asked");
	if (c->target_set || c->lun_set) {
		printf("target %" PRIu32 ", LUN %" PRIu32 ":\n", c->target, c->lun);
		if (n)
			print_info_block(json_object_array_get_idx(luns, 0));
		return;
	}
	print_info_block(tc_jobj(doc, "total"));
	if (n > 1 || (n == 1 && (tc_ju64(json_object_array_get_idx(luns, 0), "target") ||
				 tc_ju64(json_object_array_get_idx(luns, 0), "lun")))) {
		printf("\n  %-7s %10s %10s %9s %10s %10s  %s\n", "T:L", "USED", "DIRTY", "HIT%", "WO-ERRORS", "LOST",
		       "STICKY");
		for (size_t i = 0; i < n; i++) {
			struct json_object *l = json_object_array_get_idx(luns, i);
			char tl[24], a[32], b[32], d[32];

			snprintf(tl, sizeof(tl), "%" PRIu64 ":%" PRIu64, tc_ju64(l, "target"), tc_ju64(l, "lun"));
			printf("  %-7s %10s %10s ", tl, size_of(tc_ju64(l, "used_bytes"), a, sizeof(a)),
			       size_of(tc_ju64(l, "dirty_bytes"), b, sizeof(b)));
			if (tc_jobj(l, "hit_rate"))
				printf("%8.1f%% ", 100.0 * json_object_get_double(tc_jobj(l, "hit_rate")));
			else
				printf("%9s ", "-");
			printf("%10" PRIu64 " %10s  %s\n", tc_ju64(l, "writeout_errors"),
			       size_of(tc_ju64(l, "lost_bytes"), d, sizeof(d)),
			       *tc_jstr(l, "sticky_error") ? tc_jstr(l, "sticky_error") : "-");
		}
	}
}

/* Shared by orionstor cache info and usb_storage_cache_info. */
int orionstor_cmd_cache_info(int argc, char **argv)
{
	struct json_object *doc = NULL;
	struct tc_common c;
	struct where w;
	int rc;

	tc_parse(&info_argp, argc, argv, TC_OPT_DEVICE | TC_OPT_JSON | TC_OPT_LIVE, &c, NULL);
	if ((rc = locate(&c, &w)))
		return release(&w, rc);
	if (w.live)
		rc = tc_live_call(&w.lv, "cache", lun_params(&c), TC_CTL_TIMEOUT_MS, &doc);
	else
		doc = own_info(&w);
	if (rc)
		return release(&w, rc);
	if (c.json) {
		add_holder(doc, &w);
		rc = tc_json_print(doc);
	} else {
		print_info(&c, &w, doc);
	}
	json_object_put(doc);
	rc = release(&w, rc);
	return rc ? rc : tc_finish_stdout();
}

/* ---- flush ---------------------------------------------------------------------------- */

static const struct argp flush_argp = {
	NULL, NULL, NULL,
	"Flush the block cache of a device: write out the data it holds dirty, then SYNCHRONIZE "
	"CACHE, on every LUN the cache serves (or --target/--lun); exit status 0 only when the "
	"device confirmed every one.\v"
	"A device another process holds is flushed through its control socket (its cache holds the "
	"data); one nobody holds is opened here and sent SYNCHRONIZE CACHE.  A failure exits with "
	"the status of its category (orionstor(1), EXIT STATUS) and says the sticky error, which "
	"every flush reports until the holder acknowledges it."
};

/* ostor_flush of each LUN opened here, reported as cache_flush does. */
static struct json_object *own_flush(const struct where *w)
{
	struct json_object *doc = json_object_new_object(), *arr = json_object_new_array();
	bool confirmed = true;

	for (size_t i = 0; i < w->nluns; i++) {
		struct ostor_cache_info before = OSTOR_CACHE_INFO_INIT, after = OSTOR_CACHE_INFO_INIT;
		uint32_t t = w->luns[i].target, l = w->luns[i].lun;
		struct json_object *o = json_object_new_object();
		int err;

		ostor_cache_info(w->dev, t, l, &before);
		err = ostor_flush(w->dev, t, l);
		json_object_object_add(o, "target", json_object_new_int64(t));
		json_object_object_add(o, "lun", json_object_new_int64(l));
		json_object_object_add(o, "confirmed", json_object_new_boolean(err == 0));
		json_object_object_add(o, "unwritten_bytes_before",
				       tc_json_u64(before.dirty_bytes + before.writeout_inflight_bytes));
		if (err < 0) {
			confirmed = false;
			json_object_object_add(o, "error", json_object_new_string(ostor_error_name(err)));
			json_object_object_add(o, "error_code", json_object_new_int(err));
			json_object_object_add(o, "message", json_object_new_string(ostor_last_error()));
		}
		ostor_cache_info(w->dev, t, l, &after);
		json_object_object_add(o, "unwritten_bytes_after",
				       tc_json_u64(after.dirty_bytes + after.writeout_inflight_bytes));
		json_object_object_add(o, "sticky_error", after.sticky_error ?
				       json_object_new_string(ostor_error_name(after.sticky_error)) : NULL);
		json_object_object_add(o, "sticky_message", after.sticky_error ?
				       json_object_new_string("the flush failed; every flush reports it until "
							      "acknowledged") : NULL);
		json_object_array_add(arr, o);
	}
	json_object_object_add(doc, "device", json_object_new_string(ostor_device_spec(w->dev)));
	json_object_object_add(doc, "confirmed", json_object_new_boolean(confirmed));
	json_object_object_add(doc, "luns", arr);
	return doc;
}

/* The exit status of a flush report: 0 when every LUN was confirmed, else
 * the category of the first failure. */
static int flush_status(struct json_object *doc)
{
	struct json_object *luns = tc_jobj(doc, "luns");

	for (size_t i = 0; luns && i < json_object_array_length(luns); i++) {
		struct json_object *l = json_object_array_get_idx(luns, i), *code = tc_jobj(l, "error_code");

		if (!tc_jbool(l, "confirmed"))
			return code ? tc_exit_from_error(json_object_get_int(code)) : TC_EXIT_OTHER;
	}
	return tc_jbool(doc, "confirmed") ? TC_EXIT_OK : TC_EXIT_OTHER;
}

static void print_flush(const struct tc_common *c, const struct where *w, struct json_object *doc)
{
	struct json_object *luns = tc_jobj(doc, "luns");

	print_where(c, w, "flushed");
	for (size_t i = 0; luns && i < json_object_array_length(luns); i++) {
		struct json_object *l = json_object_array_get_idx(luns, i);
		char a[32];

		printf("  LUN %" PRIu64 ":%" PRIu64 ": ", tc_ju64(l, "target"), tc_ju64(l, "lun"));
		if (tc_jbool(l, "confirmed")) {
			printf("confirmed by the device");
			if (tc_ju64(l, "unwritten_bytes_before"))
				printf(" (%s written out of the cache first)",
				       size_of(tc_ju64(l, "unwritten_bytes_before"), a, sizeof(a)));
			printf("\n");
			continue;
		}
		printf("NOT confirmed: %s: %s\n", tc_jstr(l, "error"), tc_jstr(l, "message"));
		if (tc_ju64(l, "unwritten_bytes_after"))
			printf("           %s stay dirty in the cache\n",
			       size_of(tc_ju64(l, "unwritten_bytes_after"), a, sizeof(a)));
		if (*tc_jstr(l, "sticky_error"))
			printf("           sticky error %s: every flush reports it until the %s acknowledges it "
			       "(ostor_flush_acknowledge)\n", tc_jstr(l, "sticky_error"),
			       w->live ? "holder" : "program");
	}
}

/* Shared by orionstor cache flush and usb_storage_cache_flush. */
int orionstor_cmd_cache_flush(int argc, char **argv)
{
	struct json_object *doc = NULL;
	struct tc_common c;
	struct where w;
	int rc, status;

	tc_parse(&flush_argp, argc, argv, TC_OPT_DEVICE | TC_OPT_JSON | TC_OPT_LIVE, &c, NULL);
	if ((rc = locate(&c, &w)))
		return release(&w, rc);
	if (w.live)
		rc = tc_live_call(&w.lv, "cache_flush", lun_params(&c), CACHE_LONG_TIMEOUT_MS, &doc);
	else
		doc = own_flush(&w);
	if (rc)
		return release(&w, rc);
	status = flush_status(doc);
	if (!json_object_array_length(tc_jobj(doc, "luns"))) {
		tc_msg("%s reports no logical units: nothing to flush", device_name(&c, &w));
		status = TC_EXIT_NOT_FOUND;
	}
	if (c.json) {
		add_holder(doc, &w);
		rc = tc_json_print(doc);
	} else {
		print_flush(&c, &w, doc);
	}
	if (status && !c.json)
		tc_msg("the device did not confirm the flush of %s", device_name(&c, &w));
	json_object_put(doc);
	rc = release(&w, rc);
	if (!rc)
		rc = tc_finish_stdout();
	return rc ? rc : status;
}

/* ---- reset ----------------------------------------------------------------------------- */

struct reset_args {
	bool flush, discard;
};

enum { K_FLUSH = 1, K_DISCARD };

static const struct argp_option reset_options[] = {
	{ "flush", K_FLUSH, NULL, 0, "Write dirty data out (and SYNCHRONIZE CACHE) first, then drop", 0 },
	{ "discard", K_DISCARD, NULL, 0, "Drop dirty data too: those writes never reach the device", 0 },
	{ 0 }
};

static error_t reset_parser(int key, char *arg, struct argp_state *state)
{
	struct reset_args *a = state->input;

	(void)arg;
	switch (key) {
	case K_FLUSH:
		a->flush = true;
		return 0;
	case K_DISCARD:
		a->discard = true;
		return 0;
	case ARGP_KEY_END:
		if (a->flush && a->discard)
			argp_error(state, "--flush and --discard exclude each other: --flush writes the dirty data "
				   "out, --discard throws it away");
		return 0;
	default:
		return ARGP_ERR_UNKNOWN;
	}
}

static const struct argp reset_argp = {
	reset_options, reset_parser, NULL,
	"Empty the block cache of a device (all LUNs, or --target/--lun).  While it holds data not yet "
	"written to the device it refuses (exit status 26) unless --flush writes that out first or "
	"--discard throws it away.\v"
	"--discard loses those writes: the holder is told as of any loss (OSTOR_EVENT_CACHE_DATA_LOST, "
	"its log) and every flush it does fails until it acknowledges that.  A device nobody holds is "
	"opened here: its cache is new and has nothing to drop."
};

/* Drop the cache of a device opened here, as cache_reset does. */
static int own_reset(const struct where *w, const struct tc_common *c, const struct reset_args *a,
		     struct json_object **out)
{
	struct ostor_cache_info before = OSTOR_CACHE_INFO_INIT, after = OSTOR_CACHE_INFO_INIT;
	uint32_t t = OSTOR_EVENT_ALL, l = OSTOR_EVENT_ALL;
	struct json_object *doc;
	int err;

	if (c->target_set || c->lun_set) {
		t = c->target;
		l = c->lun;
	}
	ostor_cache_info(w->dev, t, l, &before);
	for (size_t i = 0; a->flush && i < w->nluns; i++) {
		err = ostor_flush(w->dev, w->luns[i].target, w->luns[i].lun);
		if (err < 0) {
			tc_lib_error(err, "the cache was not dropped: the flush of %" PRIu32 ":%" PRIu32 " failed",
				     w->luns[i].target, w->luns[i].lun);
			return tc_exit_from_error(err);
		}
	}
	err = ostor_cache_drop(w->dev, t, l, a->discard ? OSTOR_CACHE_DROP_DIRTY : 0);
	if (err < 0) {
		tc_lib_error(err, "cannot drop the cache of '%s'", c->device);
		return tc_exit_from_error(err);
	}
	ostor_cache_info(w->dev, t, l, &after);
	doc = json_object_new_object();
	json_object_object_add(doc, "device", json_object_new_string(ostor_device_spec(w->dev)));
	json_object_object_add(doc, "mode", json_object_new_string(ostor_cache_mode_name(before.mode)));
	json_object_object_add(doc, "flushed", json_object_new_boolean(a->flush));
	json_object_object_add(doc, "dropped_bytes",
			       tc_json_u64(before.used_bytes > after.used_bytes ? before.used_bytes - after.used_bytes : 0));
	json_object_object_add(doc, "discarded_bytes",
			       tc_json_u64(after.lost_bytes > before.lost_bytes ? after.lost_bytes - before.lost_bytes : 0));
	json_object_object_add(doc, "used_bytes_after", tc_json_u64(after.used_bytes));
	json_object_object_add(doc, "sticky_error", after.sticky_error ?
			       json_object_new_string(ostor_error_name(after.sticky_error)) : NULL);
	*out = doc;
	return 0;
}

/* Unwritten bytes in the holder's cache (of the LUN asked for, or all). */
static uint64_t live_unwritten(const struct tc_common *c, const struct where *w)
{
	struct json_object *doc = NULL, *o;
	uint64_t n;

	if (tc_live_call(&w->lv, "cache", lun_params(c), TC_CTL_TIMEOUT_MS, &doc))
		return 0;
	o = (c->target_set || c->lun_set) ? json_object_array_get_idx(tc_jobj(doc, "luns"), 0) : tc_jobj(doc, "total");
	n = tc_ju64(o, "dirty_bytes") + tc_ju64(o, "writeout_inflight_bytes");
	json_object_put(doc);
	return n;
}

static void warn_discard(const struct tc_common *c, const struct where *w, uint64_t bytes, bool done)
{
	char a[32];

	tc_msg("WARNING: %s %s (%" PRIu64 " bytes) of data written to %s that NEVER REACHED THE DEVICE: "
	       "those writes are LOST", done ? "discarded" : "discarding", size_of(bytes, a, sizeof(a)), bytes,
	       device_name(c, w));
	if (w->live)
		tc_msg("WARNING: pid %ld (%s) is told (OSTOR_EVENT_CACHE_DATA_LOST, its log), and every flush it "
		       "does fails until it acknowledges the loss", w->lv.pid, w->lv.program[0] ? w->lv.program : "?");
}

/* Shared by orionstor cache reset and usb_storage_cache_reset. */
int orionstor_cmd_cache_reset(int argc, char **argv)
{
	struct reset_args a = { 0 };
	struct json_object *doc = NULL, *params;
	struct tc_common c;
	struct where w;
	uint64_t warned = 0;
	int rc;

	tc_parse(&reset_argp, argc, argv, TC_OPT_DEVICE | TC_OPT_JSON | TC_OPT_LIVE, &c, &a);
	if ((rc = locate(&c, &w)))
		return release(&w, rc);
	if (w.live) {
		if (a.discard && (warned = live_unwritten(&c, &w)))
			warn_discard(&c, &w, warned, false);
		params = lun_params(&c);
		if (a.flush)
			json_object_object_add(params, "flush", json_object_new_boolean(true));
		if (a.discard)
			json_object_object_add(params, "discard", json_object_new_boolean(true));
		rc = tc_live_call(&w.lv, "cache_reset", params, CACHE_LONG_TIMEOUT_MS, &doc);
	} else {
		rc = own_reset(&w, &c, &a, &doc);
	}
	if (rc)
		return release(&w, rc);
	if (tc_ju64(doc, "discarded_bytes") > warned)
		/* More than announced (written meanwhile), or a holder that
		 * could not be asked first. */
		warn_discard(&c, &w, tc_ju64(doc, "discarded_bytes"), true);
	if (c.json) {
		add_holder(doc, &w);
		rc = tc_json_print(doc);
	} else {
		char d[32], x[32];

		print_where(&c, &w, "reset");
		if (!strcmp(tc_jstr(doc, "mode"), "off"))
			printf("  no block cache: nothing to drop\n");
		else
			printf("  dropped %s from the cache%s%s%s\n", size_of(tc_ju64(doc, "dropped_bytes"), d, sizeof(d)),
			       tc_jbool(doc, "flushed") ? ", after a flush the device confirmed" : "",
			       tc_ju64(doc, "discarded_bytes") ? "; DISCARDED unwritten: " : "",
			       tc_ju64(doc, "discarded_bytes") ? size_of(tc_ju64(doc, "discarded_bytes"), x, sizeof(x)) : "");
		if (*tc_jstr(doc, "sticky_error"))
			printf("  sticky error %s: every flush reports it until the %s acknowledges it\n",
			       tc_jstr(doc, "sticky_error"), w.live ? "holder" : "program");
	}
	json_object_put(doc);
	rc = release(&w, rc);
	return rc ? rc : tc_finish_stdout();
}

/* ---- orionstor cache ACTION ------------------------------------------------------------- */

int orionstor_cmd_cache(int argc, char **argv)
{
	static const struct {
		const char *name;
		int (*fn)(int argc, char **argv);
	} actions[] = {
		{ "info", orionstor_cmd_cache_info },
		{ "flush", orionstor_cmd_cache_flush },
		{ "reset", orionstor_cmd_cache_reset },
	};
	char *full;
	int rc;

	tc_argp_setup();
	if (argc < 2 || !strcmp(argv[1], "-h") || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-?")) {
		if (argc < 2)
			tc_usage_error("which action? info, flush or reset");
		printf("Usage: %s info|flush|reset [OPTION...]\n"
		       "The block cache of a device (held by another process, or opened here).\n\n"
		       "  info    mode, size, what is cached and dirty, hit rate, read-ahead, write-out, losses\n"
		       "  flush   write out dirty data and SYNCHRONIZE CACHE; 0 only when the device confirmed\n"
		       "  reset   drop what is cached (--flush first, or --discard dirty data)\n\n"
		       "'%s ACTION --help' lists the options of ACTION; see orionstor(1).\n", argv[0], argv[0]);
		return TC_EXIT_OK;
	}
	for (size_t i = 0; i < TC_ARRAY_SIZE(actions); i++) {
		if (strcmp(actions[i].name, argv[1]))
			continue;
		if (asprintf(&full, "%s %s", argv[0], argv[1]) < 0)
			return TC_EXIT_OTHER;
		tc_set_progname(full);
		argv[1] = full;
		rc = actions[i].fn(argc - 1, argv + 1);
		free(full);
		return rc;
	}
	tc_usage_error("unknown action '%s': info, flush or reset", argv[1]);
}
