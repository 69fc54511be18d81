/*
 * lib/core/spec.c - device spec parsing.
 */
#include "core/internal.h"

#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

/* "accepted forms: 'sim:[key=value,...]', 'usb:VVVV:PPPP', ..." from the
 * parsers of every component. */
static const char *spec_forms(char *buf, size_t len)
{
	size_t n = (size_t)snprintf(buf, len, "accepted forms: ");

	for (size_t i = 0; ostori_spec_parsers[i].prefix && n < len; i++)
		n += (size_t)snprintf(buf + n, len - n, "%s%s", i ? ", " : "", ostori_spec_parsers[i].forms);
	return buf;
}

int ostori_parse_u64(const char *text, uint64_t max, uint64_t *out)
{
	unsigned long long v;
	char *end;

	if (!text || !*text || isspace((unsigned char)*text) || *text == '-' || *text == '+')
		return OSTOR_ERROR_INVALID_PARAM;
	errno = 0;
	v = strtoull(text, &end, 0);
	if (errno || *end || v > max)
		return OSTOR_ERROR_INVALID_PARAM;
	*out = v;
	return 0;
}

int ostori_parse_hex(const char *s, size_t len, unsigned max, unsigned *out)
{
	unsigned v = 0;

	if (len == 0 || len > 4)
		return -1;
	for (size_t i = 0; i < len; i++) {
		if (!isxdigit((unsigned char)s[i]))
			return -1;
		v = v * 16 + (unsigned)(isdigit((unsigned char)s[i]) ? s[i] - '0'
					 : tolower((unsigned char)s[i]) - 'a' + 10);
	}
	if (v > max)
		return -1;
	*out = v;
	return 0;
}

int ostori_parse_size(const char *text, uint64_t *out)
{
	unsigned long long v;
	unsigned shift = 0;
	char *end;

	if (!text || !isdigit((unsigned char)*text))
		return OSTOR_ERROR_INVALID_PARAM;
	errno = 0;
	v = strtoull(text, &end, 10);
	if (errno)
		return OSTOR_ERROR_INVALID_PARAM;
	switch (toupper((unsigned char)*end)) {
	case 'K': shift = 10; end++; break;
	case 'M': shift = 20; end++; break;
	case 'G': shift = 30; end++; break;
	case 'T': shift = 40; end++; break;
	default: break;
	}
	if (shift && (end[0] == 'i' || end[0] == 'I') && toupper((unsigned char)end[1]) == 'B')
		end += 2;
	else if (toupper((unsigned char)end[0]) == 'B')
		end++;
	if (*end)
		return OSTOR_ERROR_INVALID_PARAM;
	if (shift && v > (UINT64_MAX >> shift))
		return OSTOR_ERROR_INVALID_PARAM;
	*out = (uint64_t)v << shift;
	return 0;
}

int ostori_spec_parse_options(const char *text, const char *body, struct ostor_spec *spec)
{
	char *p;

	if (strlen(body) >= sizeof(spec->buf))
		return ostori_error(OSTOR_ERROR_BAD_SPEC, "device spec '%.40s...' is too long (at most %d characters)",
				    text, OSTOR_SPEC_MAX_LEN - 1);
	strcpy(spec->buf, body);
	p = spec->buf;
	while (*p) {
		char *comma = strchr(p, ',');
		char *eq;

		if (comma)
			*comma = '\0';
		if (!*p)
			return ostori_error(OSTOR_ERROR_BAD_SPEC,
					    "device spec '%s': empty option (stray comma); options are key=value joined by commas",
					    text);
		if (spec->noptions >= OSTOR_SPEC_MAX_OPTIONS)
			return ostori_error(OSTOR_ERROR_BAD_SPEC, "device spec '%s': more than %d options",
					    text, OSTOR_SPEC_MAX_OPTIONS);
		eq = strchr(p, '=');
		if (eq) {
			*eq = '\0';
			if (!*p || !eq[1])
				return ostori_error(OSTOR_ERROR_BAD_SPEC,
						    "device spec '%s': option '%s=%s' needs both a key and a value",
						    text, p, eq + 1);
		}
		for (int i = 0; i < spec->noptions; i++)
			if (!strcmp(spec->options[i].key, p))
				return ostori_error(OSTOR_ERROR_BAD_SPEC,
						    "device spec '%s': option '%s' given twice", text, p);
		spec->options[spec->noptions].key = p;
		spec->options[spec->noptions].value = eq ? eq + 1 : NULL;
		spec->noptions++;
		if (!comma)
			break;
		p = comma + 1;
		if (!*p)
			return ostori_error(OSTOR_ERROR_BAD_SPEC,
					    "device spec '%s': trailing comma", text);
	}
	return 0;
}

int ostori_spec_parse(const char *text, struct ostor_spec *spec)
{
	char forms[512];
	const char *colon, *body, *comma;
	size_t plen;

	if (!spec)
		return ostori_error(OSTOR_ERROR_INVALID_PARAM, "no spec structure given");
	memset(spec, 0, sizeof(*spec));
	if (!text || !*text)
		return ostori_error(OSTOR_ERROR_BAD_SPEC, "empty device spec; %s", spec_forms(forms, sizeof(forms)));
	/* NAME:BODY, or a bare NAME (an empty body). */
	colon = strchr(text, ':');
	plen = colon ? (size_t)(colon - text) : strlen(text);
	for (size_t i = 0; ostori_spec_parsers[i].prefix; i++) {
		const struct ostori_spec_parser *ps = &ostori_spec_parsers[i];

		if (strlen(ps->prefix) != plen || strncmp(ps->prefix, text, plen))
			continue;
		if (!colon && !ps->bare)
			break;
		spec->backend = ps->prefix;
		body = colon ? colon + 1 : "";
		/* Options after the address (",cache=wb"), for backends whose
		 * body is not options already. */
		if (ps->parse != ostori_spec_parse_options && (comma = strchr(body, ','))) {
			char addr[OSTOR_SPEC_MAX_LEN];
			int r;

			if ((size_t)(comma - body) >= sizeof(addr))
				return ostori_error(OSTOR_ERROR_BAD_SPEC, "device spec '%.40s...' is too long", text);
			memcpy(addr, body, (size_t)(comma - body));
			addr[comma - body] = '\0';
			if ((r = ps->parse(text, addr, spec)) < 0)
				return r;
			return ostori_spec_parse_options(text, comma + 1, spec);
		}
		return ps->parse(text, body, spec);
	}
	return ostori_error(OSTOR_ERROR_BAD_SPEC, "unknown device spec '%s'; %s", text,
			    spec_forms(forms, sizeof(forms)));
}

const struct ostor_spec_option *ostori_spec_get(struct ostor_spec *spec, const char *key)
{
	for (int i = 0; i < spec->noptions; i++) {
		if (!strcmp(spec->options[i].key, key)) {
			spec->options[i].used = true;
			return &spec->options[i];
		}
	}
	return NULL;
}

int ostori_spec_check_unused(const struct ostor_spec *spec, const char *accepted)
{
	for (int i = 0; i < spec->noptions; i++)
		if (!spec->options[i].used)
			return ostori_error(OSTOR_ERROR_BAD_SPEC,
					    "unknown %s option '%s'; accepted options: %s",
					    spec->backend, spec->options[i].key, accepted);
	return 0;
}
