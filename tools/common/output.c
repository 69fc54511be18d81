/*
 * tools/common/output.c - hex dumps, hex parsing, JSON printing, file I/O.
 */
#include "toolcommon.h"

#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

void tc_hexdump(FILE *out, const void *data, size_t len, uint64_t base)
{
	const uint8_t *p = data;

	for (size_t off = 0; off < len; off += 16) {
		size_t n = len - off < 16 ? len - off : 16;

		fprintf(out, "%08" PRIx64 " ", base + off);
		for (size_t i = 0; i < 16; i++) {
			if (i == 8)
				fputc(' ', out);
			if (i < n)
				fprintf(out, " %02x", p[off + i]);
			else
				fputs("   ", out);
		}
		fputs("  ", out);
		for (size_t i = 0; i < n; i++) {
			uint8_t c = p[off + i];

			fputc(c >= 0x20 && c < 0x7f ? c : '.', out);
		}
		fputc('\n', out);
	}
}

char *tc_hex_string(const void *data, size_t len)
{
	static const char digits[] = "0123456789abcdef";
	const uint8_t *p = data;
	char *s;

	if (len > (SIZE_MAX - 1) / 2)
		return NULL;
	s = malloc(len * 2 + 1);
	if (!s)
		return NULL;
	for (size_t i = 0; i < len; i++) {
		s[2 * i] = digits[p[i] >> 4];
		s[2 * i + 1] = digits[p[i] & 0xf];
	}
	s[len * 2] = '\0';
	return s;
}

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	c = (char)tolower((unsigned char)c);
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

int tc_parse_hex_bytes(const char *text, uint8_t *out, size_t max,
		       char *why, size_t whylen)
{
	const char *s = text;
	size_t n = 0;

	while (*s) {
		const char *tok, *digits;
		size_t len, ndig;
		bool prefixed = false;

		if (isspace((unsigned char)*s) || *s == ',') {
			s++;
			continue;
		}
		tok = s;
		while (*s && !isspace((unsigned char)*s) && *s != ',')
			s++;
		len = (size_t)(s - tok);
		digits = tok;
		if (len > 2 && tok[0] == '0' && (tok[1] == 'x' || tok[1] == 'X')) {
			digits += 2;
			prefixed = true;
		}
		ndig = len - (size_t)(digits - tok);
		for (size_t i = 0; i < ndig; i++) {
			if (hexval(digits[i]) < 0) {
				snprintf(why, whylen, "'%c' at position %zu is not a hex digit",
					 digits[i], (size_t)(digits + i - text) + 1);
				return -1;
			}
		}
		if (prefixed && ndig > 2) {
			snprintf(why, whylen, "'%.*s' does not fit in one byte", (int)len, tok);
			return -1;
		}
		/* One or two digits are one byte; a longer run is byte pairs. */
		if (ndig > 2 && ndig % 2) {
			snprintf(why, whylen,
				 "'%.*s' has an odd number of hex digits; separate the bytes with spaces",
				 (int)len, tok);
			return -1;
		}
		for (size_t i = 0; i < ndig; i += 2) {
			int v;

			if (ndig - i == 1)
				v = hexval(digits[i]);
			else
				v = hexval(digits[i]) * 16 + hexval(digits[i + 1]);
			if (n >= max) {
				snprintf(why, whylen, "more than %zu bytes", max);
				return -1;
			}
			out[n++] = (uint8_t)v;
		}
	}
	if (n == 0) {
		snprintf(why, whylen, "no bytes given");
		return -1;
	}
	return (int)n;
}

/* Paths in specs read better without "\/" (json-c >= 0.13). */
#ifndef JSON_C_TO_STRING_NOSLASHESCAPE
#define JSON_C_TO_STRING_NOSLASHESCAPE 0
#endif

int tc_json_print(struct json_object *obj)
{
	const char *s = json_object_to_json_string_ext(obj,
			JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_SPACED |
			JSON_C_TO_STRING_NOSLASHESCAPE);

	if (!s) {
		tc_msg("out of memory formatting JSON");
		return TC_EXIT_OTHER;
	}
	if (fputs(s, stdout) == EOF || fputc('\n', stdout) == EOF) {
		if (!tc_finish_stdout())
			tc_msg("error writing JSON to standard output");
		return TC_EXIT_FILE_ERROR;
	}
	tc_json_printed();
	return 0;
}

struct json_object *tc_json_u64(uint64_t v)
{
#if defined(JSON_C_VERSION_NUM) && JSON_C_VERSION_NUM >= ((0 << 16) | (14 << 8))
	return json_object_new_uint64(v);
#else
	return json_object_new_int64(v > INT64_MAX ? INT64_MAX : (int64_t)v);
#endif
}

struct json_object *tc_json_hex(const void *data, size_t len)
{
	char *s = tc_hex_string(data, len);
	struct json_object *o;

	if (!s)
		return NULL;
	o = json_object_new_string(s);
	free(s);
	return o;
}

int tc_write_all(int fd, const void *buf, size_t len)
{
	const uint8_t *p = buf;

	while (len > 0) {
		ssize_t n = write(fd, p, len);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		if (n == 0) {
			errno = EIO;
			return -1;
		}
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

ssize_t tc_read_full(int fd, void *buf, size_t len)
{
	uint8_t *p = buf;
	size_t got = 0;

	while (got < len) {
		ssize_t n = read(fd, p + got, len - got);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		if (n == 0)
			break;
		got += (size_t)n;
	}
	return (ssize_t)got;
}

int tc_finish_stdout(void)
{
	/* A full disk or closed pipe must not look like success. */
	if (fflush(stdout) == EOF || ferror(stdout)) {
		int e = errno;

		fprintf(stderr, "%s: error writing standard output: %s\n",
			tc_progname(), e ? strerror(e) : "write error");
		return TC_EXIT_FILE_ERROR;
	}
	return 0;
}

void tc_report_begin(struct tc_report *r, const struct tc_common *c, const char *action)
{
	r->json = c->json;
	r->root = r->steps = NULL;
	if (!r->json)
		return;
	r->root = json_object_new_object();
	r->steps = json_object_new_array();
	json_object_object_add(r->root, "device", c->device ? json_object_new_string(c->device) : NULL);
	json_object_object_add(r->root, "action", json_object_new_string(action));
	json_object_object_add(r->root, "steps", r->steps);
}

void tc_report_step(struct tc_report *r, const char *step, const char *fmt, ...)
{
	char text[1024];
	struct json_object *o;
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(text, sizeof(text), fmt, ap);
	va_end(ap);
	if (!r->json) {
		printf("%s\n", text);
		return;
	}
	o = json_object_new_object();
	json_object_object_add(o, "step", json_object_new_string(step));
	json_object_object_add(o, "message", json_object_new_string(text));
	json_object_array_add(r->steps, o);
}

void tc_report_set(struct tc_report *r, const char *key, struct json_object *value)
{
	if (r->json)
		json_object_object_add(r->root, key, value);
	else
		json_object_put(value);
}

void tc_json_add_error(struct json_object *o, int rc)
{
	const char *code, *msg = tc_last_message(&code);
	struct json_object *e;

	if (!rc)
		return;
	e = json_object_new_object();
	json_object_object_add(e, "message", json_object_new_string(msg));
	json_object_object_add(e, "code", code ? json_object_new_string(code) : NULL);
	json_object_object_add(e, "exit_status", json_object_new_int(rc));
	json_object_object_add(o, "error", e);
}

int tc_report_end(struct tc_report *r, int rc)
{
	int prc = 0;

	if (r->json) {
		json_object_object_add(r->root, "exit_status", json_object_new_int(rc));
		tc_json_add_error(r->root, rc);
		prc = tc_json_print(r->root);
		json_object_put(r->root);
		r->root = r->steps = NULL;
	}
	if (rc)
		return rc;
	return prc ? prc : tc_finish_stdout();
}

struct json_object *tc_lun_json(uint32_t target, uint32_t lun)
{
	struct json_object *o = json_object_new_object();

	json_object_object_add(o, "target", json_object_new_int64(target));
	json_object_object_add(o, "lun", json_object_new_int64(lun));
	return o;
}
