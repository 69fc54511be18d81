/*
 * tools/common/messages.c - program name, diagnostics, number parsing.
 */
#include "toolcommon.h"

#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static const char *progname = "orionstor";

void tc_set_progname(const char *name)
{
	if (name && *name)
		progname = name;
}

const char *tc_progname(void)
{
	return progname;
}

static const char *device_spec;
static bool json_errors, json_done;
static char last_message[1024];
static const char *last_code;

const char *tc_last_message(const char **code)
{
	if (code)
		*code = last_code;
	return last_message;
}

void tc_set_device(const char *spec)
{
	device_spec = spec && *spec ? spec : NULL;
}

void tc_json_printed(void)
{
	json_done = true;
}

static void remember(const char *code, const char *fmt, va_list ap)
{
	vsnprintf(last_message, sizeof(last_message), fmt, ap);
	last_code = code;
}

/* on_exit: a failing run with --json and nothing on stdout still prints
 * one JSON document, the error. */
static void json_error_at_exit(int status, void *unused)
{
	struct json_object *o, *e;

	(void)unused;
	if (!json_errors || json_done || status == 0)
		return;
	if (!last_message[0] && status == TC_EXIT_SYNTAX)
		snprintf(last_message, sizeof(last_message), "usage error (see standard error and --help)");
	if (!last_message[0])
		return;
	o = json_object_new_object();
	e = json_object_new_object();
	json_object_object_add(o, "device", device_spec ? json_object_new_string(device_spec) : NULL);
	json_object_object_add(e, "message", json_object_new_string(last_message));
	json_object_object_add(e, "code", last_code ? json_object_new_string(last_code) : NULL);
	json_object_object_add(e, "exit_status", json_object_new_int(status));
	json_object_object_add(o, "error", e);
	tc_json_print(o);
	json_object_put(o);
	fflush(stdout);
}

void tc_json_errors(bool on)
{
	static bool registered;

	json_errors = on;
	if (on && !registered)
		registered = on_exit(json_error_at_exit, NULL) == 0;
}

void tc_msg(const char *fmt, ...)
{
	va_list ap;

	fflush(stdout);
	fprintf(stderr, "%s: ", progname);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	va_start(ap, fmt);
	remember(NULL, fmt, ap);
	va_end(ap);
}

/* Drop the mentions of the spec from text (" device 'S'", " of S",
 * "S: " ...), so a message chained from several layers names it once. */
static void drop_spec(char *text, const char *spec)
{
	static const char *const around[][2] = {
		{ " device '", "'" }, { " of '", "'" }, { " on '", "'" }, { " for '", "'" },
		{ " of ", "" }, { " on ", "" }, { " for ", "" }, { "'", "': " }, { "", ": " }, { "", " " },
	};
	size_t sl = strlen(spec);

	for (size_t k = 0; k < TC_ARRAY_SIZE(around); k++) {
		size_t bl = strlen(around[k][0]), al = strlen(around[k][1]);
		char *p = text;

		while ((p = strstr(p, spec))) {
			char *start = p - bl, *end = p + sl + al;

			if (p - text >= (ptrdiff_t)bl && !strncmp(start, around[k][0], bl) &&
			    !strncmp(p + sl, around[k][1], al) &&
			    /* a whole spec, not the start of a longer one */
			    (al || !(isalnum((unsigned char)*end) || *end == ',' || *end == '=')) &&
			    /* "S: " only where a message part starts */
			    (bl || p == text || (p - text >= 2 && p[-2] == ':' && p[-1] == ' '))) {
				memmove(start, end, strlen(end) + 1);
				p = start;
			} else {
				p += sl;
			}
		}
	}
}

/* "SPEC: ", or "SPEC " for a spec that ends in a colon ("sim:"). */
static const char *spec_sep(const char *spec)
{
	size_t n = strlen(spec);

	return n && spec[n - 1] == ':' ? " " : ": ";
}

static void remember_text(const char *spec, const char *text)
{
	size_t n = 0;

	last_message[0] = '\0';
	if (spec)
		n = (size_t)snprintf(last_message, sizeof(last_message), "%.500s%s", spec, spec_sep(spec));
	snprintf(last_message + n, sizeof(last_message) - n, "%.*s", (int)(sizeof(last_message) - n - 1), text);
}

void tc_lib_error(int error, const char *fmt, ...)
{
	const char *detail = ostor_last_error();
	char what[1024], text[2048];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(what, sizeof(what), fmt, ap);
	va_end(ap);
	/* The detailed message says what failed and what to do; fall back to
	 * the generic text when the library left none. */
	if (!detail || !*detail)
		detail = ostor_strerror(error);
	snprintf(text, sizeof(text), "%s%s%s", what, *what ? ": " : "", detail);
	if (device_spec && strstr(text, device_spec)) {
		drop_spec(text, device_spec);
		fflush(stdout);
		fprintf(stderr, "%s: %s%s%s (%s)\n", progname, device_spec, spec_sep(device_spec), text,
			ostor_error_name(error));
		remember_text(device_spec, text);
	} else {
		fflush(stdout);
		fprintf(stderr, "%s: %s (%s)\n", progname, text, ostor_error_name(error));
		remember_text(NULL, text);
	}
	last_code = ostor_error_name(error);
}

void tc_usage_error(const char *fmt, ...)
{
	va_list ap;

	fflush(stdout);
	fprintf(stderr, "%s: ", progname);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\nTry '%s --help' for more information.\n", progname);
	va_start(ap, fmt);
	remember(NULL, fmt, ap);
	va_end(ap);
	exit(TC_EXIT_SYNTAX);
}

int tc_parse_u64(const char *text, uint64_t max, uint64_t *out, const char **why)
{
	unsigned long long v;
	const char *digits;
	char *end;
	int base = 10;

	*why = NULL;
	if (!text || !*text) {
		*why = "empty number";
		return -1;
	}
	/* strtoull would accept leading blanks and negate "-1" silently. */
	if (*text == '-') {
		*why = "negative numbers are not allowed";
		return -1;
	}
	digits = text;
	if (text[0] == '0' && (text[1] == 'x' || text[1] == 'X')) {
		base = 16;
		digits = text + 2;
	}
	if (base == 16 ? !isxdigit((unsigned char)*digits)
		       : !isdigit((unsigned char)*digits)) {
		*why = "not a number (decimal or 0x hex expected)";
		return -1;
	}
	errno = 0;
	v = strtoull(digits, &end, base);
	if (*end) {
		*why = "trailing garbage after the number";
		return -1;
	}
	if (errno == ERANGE || v > max) {
		*why = "out of range";
		return -1;
	}
	*out = v;
	return 0;
}

int tc_parse_size(const char *text, uint64_t max, uint64_t *out, const char **why)
{
	static const char suffixes[] = "kmgt";
	char num[32];
	size_t n = text ? strlen(text) : 0;
	unsigned int shift = 0;
	const char *p;
	uint64_t v;

	*why = NULL;
	if (n && (p = strchr(suffixes, tolower((unsigned char)text[n - 1]))) && *p) {
		shift = 10u * (unsigned int)(p - suffixes + 1);
		n--;
	}
	if (n == 0 || n >= sizeof(num)) {
		*why = n ? "too long" : "empty size";
		return -1;
	}
	memcpy(num, text, n);
	num[n] = '\0';
	if (tc_parse_u64(num, UINT64_MAX >> shift, &v, why) < 0)
		return -1;
	v <<= shift;
	if (v > max) {
		*why = "out of range";
		return -1;
	}
	*out = v;
	return 0;
}

const char *tc_human_size(uint64_t bytes, char *buf, size_t buflen)
{
	static const char *const units[] = { "B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB" };
	double v = (double)bytes;
	size_t u = 0;

	while (v >= 1024.0 && u + 1 < TC_ARRAY_SIZE(units)) {
		v /= 1024.0;
		u++;
	}
	if (u == 0)
		snprintf(buf, buflen, "%" PRIu64 " B", bytes);
	else
		snprintf(buf, buflen, "%.1f %s", v, units[u]);
	return buf;
}

uint64_t tc_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* xorshift64*: cheap, and good enough to spread offsets. */
uint64_t tc_rand64(uint64_t *state)
{
	*state ^= *state >> 12;
	*state ^= *state << 25;
	*state ^= *state >> 27;
	return *state * 0x2545f4914f6cdd1dull;
}

uint64_t tc_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}
