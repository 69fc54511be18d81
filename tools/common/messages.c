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

void tc_msg(const char *fmt, ...)
{
	va_list ap;

	fflush(stdout);
	fprintf(stderr, "%s: ", progname);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

void tc_lib_error(int error, const char *fmt, ...)
{
	const char *detail = ostor_last_error();
	va_list ap;

	fflush(stdout);
	fprintf(stderr, "%s: ", progname);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	/* The detailed message says what failed and what to do; fall back to
	 * the generic text when the library left none. */
	if (!detail || !*detail)
		detail = ostor_strerror(error);
	fprintf(stderr, ": %s (%s)\n", detail, ostor_error_name(error));
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
