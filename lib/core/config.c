/*
 * lib/core/config.c - orionstor.conf(5): a TOML subset read with inih.
 *
 * The components' tables of key descriptors (ostori_config_tables, one
 * per component, each filling its own struct) drive everything:
 * defaults, parsing, range checks, ostori_config_get_text() and the key
 * descriptions the man-page test compares against.  This file knows no key
 * by name.  A file is parsed into a temporary struct and copied out only
 * when all of it is valid.
 *
 * inih runs the line loop and dispatches key = value lines to the handler.
 * Its own lexing is INI's, not TOML's (';' comments, no quoting, 200-byte
 * lines, indented lines continue the previous value), so the reader
 * callback lexes each raw line itself, records the key and the decoded
 * value, and hands inih a short canonical line ("[table]" or "key=v").
 * That also gives exact line numbers for every message.
 */
#include "core/internal.h"

#include <errno.h>
#include <ini.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <pthread.h>

#define KiB OSTORI_KiB
#define MiB OSTORI_MiB
#define GiB OSTORI_GiB
#define TiB OSTORI_TiB

/* Every key of every table, flattened once; a key's index is its place
 * here (the man-page order). */
#define MAX_TABLES 8
#define MAX_KEYS 256

static struct flat_key {
	const struct ostori_config_table *t;
	const struct ostori_config_key *k;
	size_t base;                /* of t's struct in ostor_config.data */
} flat[MAX_KEYS];
static size_t nflat, ntables;
static size_t table_base[MAX_TABLES];
static pthread_once_t flat_once = PTHREAD_ONCE_INIT;

static void flatten(void)
{
	size_t base = 0;

	for (size_t i = 0; ostori_config_tables[i]; i++) {
		const struct ostori_config_table *t = ostori_config_tables[i];

		/* A build-time mistake: fail loudly, once, at the first use. */
		if (i == MAX_TABLES || base + t->size > OSTORI_CONFIG_DATA_MAX ||
		    nflat + t->nkeys > MAX_KEYS) {
			fprintf(stderr, "liborionstor: configuration table [%s] does not fit "
				"(raise OSTORI_CONFIG_DATA_MAX / MAX_KEYS / MAX_TABLES)\n", t->name);
			abort();
		}
		table_base[i] = base;
		for (size_t j = 0; j < t->nkeys; j++)
			flat[nflat++] = (struct flat_key){ t, &t->keys[j], base };
		base += (t->size + 15) & ~(size_t)15;
		ntables = i + 1;
	}
}

static size_t nkeys(void)
{
	pthread_once(&flat_once, flatten);
	return nflat;
}

#define NKEYS nkeys()

static size_t key_index(const struct ostori_config_key *k)
{
	for (size_t i = 0; i < NKEYS; i++)
		if (flat[i].k == k)
			return i;
	return 0; /* not reached: every key comes from the table */
}

static char *field(const struct ostor_config *cfg, const struct ostori_config_key *k)
{
	return (char *)cfg->data + flat[key_index(k)].base + k->offset;
}

const void *ostori_config_data(const struct ostor_config *cfg, const struct ostori_config_table *t)
{
	(void)NKEYS;
	for (size_t i = 0; i < ntables; i++)
		if (ostori_config_tables[i] == t)
			return cfg->data + table_base[i];
	return NULL;
}

static const char *pending_what(const struct ostori_config_key *k)
{
	const struct ostori_config_table *t = flat[key_index(k)].t;

	for (size_t i = 0; i < t->npending; i++)
		if (!strcmp(t->pending[i].key, k->name))
			return t->pending[i].what;
	return NULL;
}

/* "[virtio_scsi], [usb_storage]" */
static void table_names(char *buf, size_t len)
{
	size_t n = 0;

	buf[0] = '\0';
	(void)NKEYS;
	for (size_t i = 0; i < ntables && n < len; i++)
		n += (size_t)snprintf(buf + n, len - n, "%s[%s]", i ? ", " : "", ostori_config_tables[i]->name);
}

static const char *system_path_override;

/* ---- descriptor helpers ------------------------------------------------ */

static const struct ostori_config_key *find_key(const char *table, const char *name)
{
	for (size_t i = 0; i < NKEYS; i++)
		if (!strcmp(flat[i].t->name, table) && !strcmp(flat[i].k->name, name))
			return flat[i].k;
	return NULL;
}

static bool known_table(const char *name)
{
	(void)NKEYS;
	for (size_t i = 0; i < ntables; i++)
		if (!strcmp(ostori_config_tables[i]->name, name))
			return true;
	return false;
}

static uint64_t get_value(const struct ostor_config *cfg, const struct ostori_config_key *k)
{
	const char *f = field(cfg, k);
	uint32_t u32;
	uint64_t u64;
	bool b;
	int i;

	switch (k->type) {
	case OSTORI_KEY_INT:
		memcpy(&u32, f, sizeof(u32));
		return u32;
	case OSTORI_KEY_BOOL:
		memcpy(&b, f, sizeof(b));
		return b;
	case OSTORI_KEY_SIZE:
		memcpy(&u64, f, sizeof(u64));
		return u64;
	case OSTORI_KEY_CHOICE:
		memcpy(&i, f, sizeof(i));
		return (uint64_t)i;
	case OSTORI_KEY_TEXT:
		return 0;   /* not a number: see text_field() */
	}
	return 0;
}

/* v is already range-checked against the descriptor. */
static void set_value(struct ostor_config *cfg, const struct ostori_config_key *k, uint64_t v)
{
	char *f = field(cfg, k);
	uint32_t u32 = (uint32_t)v;
	bool b = v != 0;
	int i = (int)v;

	switch (k->type) {
	case OSTORI_KEY_INT:
		memcpy(f, &u32, sizeof(u32));
		break;
	case OSTORI_KEY_BOOL:
		memcpy(f, &b, sizeof(b));
		break;
	case OSTORI_KEY_SIZE:
		memcpy(f, &v, sizeof(v));
		break;
	case OSTORI_KEY_CHOICE:
		memcpy(f, &i, sizeof(i));
		break;
	case OSTORI_KEY_TEXT:
		f[0] = '\0';   /* the only default a text key has */
		break;
	}
}

static char *text_field(struct ostor_config *cfg, const struct ostori_config_key *k)
{
	return field(cfg, k);
}

/* A size in the largest unit that divides it exactly: "64KiB", "0". */
static void format_size(char *buf, size_t len, uint64_t v)
{
	static const struct {
		uint64_t mult;
		const char *unit;
	} units[] = { { TiB, "TiB" }, { GiB, "GiB" }, { MiB, "MiB" }, { KiB, "KiB" } };

	for (size_t i = 0; i < OSTOR_ARRAY_SIZE(units); i++) {
		if (v >= units[i].mult && v % units[i].mult == 0) {
			snprintf(buf, len, "%" PRIu64 "%s", v / units[i].mult,
				 units[i].unit);
			return;
		}
	}
	snprintf(buf, len, "%" PRIu64, v);
}

/* "\"none\", \"fifo\" or \"deadline\"" */
static void format_choices(char *buf, size_t len, const char *const *choices)
{
	size_t used = 0;

	buf[0] = '\0';
	for (size_t i = 0; choices[i] && used < len; i++) {
		const char *sep = i == 0 ? "" : choices[i + 1] ? ", " : " or ";
		int n = snprintf(buf + used, len - used, "%s\"%s\"", sep, choices[i]);

		if (n < 0)
			break;
		used += (size_t)n;
	}
}

/* What a key accepts, for error messages. */
static void format_expected(char *buf, size_t len, const struct ostori_config_key *k)
{
	char lo[32], hi[32], list[96];
	const char *unit = k->unit;

	switch (k->type) {
	case OSTORI_KEY_INT:
		snprintf(buf, len, "expected %s from %" PRIu64 " to %" PRIu64 "%s%s%s",
			 k->pow2 ? "a power of two" : "an integer", k->min, k->max,
			 *unit ? " (" : "", unit, *unit ? ")" : "");
		break;
	case OSTORI_KEY_BOOL:
		snprintf(buf, len, "expected true or false (unquoted)");
		break;
	case OSTORI_KEY_SIZE:
		format_size(lo, sizeof(lo), k->min);
		format_size(hi, sizeof(hi), k->max);
		snprintf(buf, len,
			 "expected a size from %s to %s: a number of bytes or a quoted "
			 "string such as \"256MB\" (units B, KB, MB, GB, TB or KiB, "
			 "MiB, GiB, TiB, all powers of 1024)", lo, hi);
		break;
	case OSTORI_KEY_CHOICE:
		format_choices(list, sizeof(list), k->choices);
		snprintf(buf, len, "expected one of %s (quoted)", list);
		break;
	case OSTORI_KEY_TEXT:
		snprintf(buf, len, "expected a quoted string of at most %" PRIu64 " characters", k->max);
		break;
	}
}

/* ---- value parsing ------------------------------------------------------ */

/*
 * Unsigned integer: decimal or 0x hex, optional sign.  Returns false when
 * it is not a number at all; *range_error when it is one but negative or
 * too large for 64 bits (reported as out of range).
 */
static bool parse_number(const char *s, uint64_t *out, bool *range_error)
{
	unsigned int base = 10;
	bool neg = false;
	uint64_t v = 0;
	bool overflow = false;

	*range_error = false;
	if (*s == '+' || *s == '-')
		neg = *s++ == '-';
	if (s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) {
		base = 16;
		s += 2;
	}
	if (!*s)
		return false;
	for (; *s; s++) {
		unsigned int d;

		if (*s >= '0' && *s <= '9')
			d = (unsigned int)(*s - '0');
		else if (base == 16 && *s >= 'a' && *s <= 'f')
			d = (unsigned int)(*s - 'a' + 10);
		else if (base == 16 && *s >= 'A' && *s <= 'F')
			d = (unsigned int)(*s - 'A' + 10);
		else
			return false;
		if (v > (UINT64_MAX - d) / base)
			overflow = true;
		else
			v = v * base + d;
	}
	*range_error = overflow || (neg && v != 0);
	*out = v;
	return true;
}

static bool ascii_ieq(const char *a, const char *b)
{
	for (; *a && *b; a++, b++) {
		char ca = (char)(*a >= 'A' && *a <= 'Z' ? *a - 'A' + 'a' : *a);
		char cb = (char)(*b >= 'A' && *b <= 'Z' ? *b - 'A' + 'a' : *b);

		if (ca != cb)
			return false;
	}
	return *a == *b;
}

/* "256MB", "4 KiB", "512": decimal digits, optional spaces, optional unit. */
static bool parse_size_string(const char *s, uint64_t *out, bool *range_error)
{
	static const struct {
		const char *unit;
		uint64_t mult;
	} units[] = {
		{ "B", 1 }, { "KB", KiB }, { "MB", MiB }, { "GB", GiB }, { "TB", TiB },
		{ "KiB", KiB }, { "MiB", MiB }, { "GiB", GiB }, { "TiB", TiB },
	};
	char digits[32];
	size_t n = 0;
	uint64_t v, mult = 1;
	const char *unit;
	char ubuf[8];
	size_t ulen = 0;

	*range_error = false;
	while (*s == ' ' || *s == '\t')
		s++;
	while (*s >= '0' && *s <= '9') {
		if (n + 1 >= sizeof(digits)) {
			*range_error = true;
			return true;
		}
		digits[n++] = *s++;
	}
	digits[n] = '\0';
	if (n == 0)
		return false;
	while (*s == ' ' || *s == '\t')
		s++;
	unit = s;
	while (*s && *s != ' ' && *s != '\t') {
		if (ulen + 1 >= sizeof(ubuf))
			return false;
		ubuf[ulen++] = *s++;
	}
	ubuf[ulen] = '\0';
	while (*s == ' ' || *s == '\t')
		s++;
	if (*s)
		return false;
	if (*unit) {
		size_t i;

		for (i = 0; i < OSTOR_ARRAY_SIZE(units); i++)
			if (ascii_ieq(ubuf, units[i].unit))
				break;
		if (i == OSTOR_ARRAY_SIZE(units))
			return false;
		mult = units[i].mult;
	}
	if (!parse_number(digits, &v, range_error))
		return false;
	if (*range_error)
		return true;
	if (v > UINT64_MAX / mult)
		*range_error = true;
	else
		*out = v * mult;
	return true;
}

/* ---- the parser --------------------------------------------------------- */

struct parser {
	const char *path;
	FILE *fp;
	ostor_context *ctx;
	struct ostor_config *cfg;   /* the temporary being filled */
	unsigned int lineno;
	char *line;                 /* getline buffer, holds key and value */
	size_t cap;
	bool failed;                /* message already in ostor_last_error */

	char table[64];             /* current table as written, for messages */
	unsigned int table_line[MAX_TABLES];

	/* The current key = value line, valid during the handler call. */
	const char *key;
	const char *value;          /* decoded */
	bool quoted;
	unsigned int seen[MAX_KEYS]; /* line a key was set on, 0 = not yet */
};

static void fail(struct parser *p, const char *fmt, ...) OSTOR_PRINTF(2, 3);
static void fail(struct parser *p, const char *fmt, ...)
{
	char msg[768];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	ostori_error(OSTOR_ERROR_CONFIG, "%s:%u: %s", p->path, p->lineno, msg);
	p->failed = true;
}

static bool is_name_char(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	       (c >= '0' && c <= '9') || c == '_' || c == '-';
}

static bool is_bare_value_char(char c)
{
	return is_name_char(c) || c == '+' || c == '.';
}

static char *skip_blank(char *s)
{
	while (*s == ' ' || *s == '\t')
		s++;
	return s;
}

/* After a value or header: only blanks and an optional comment. */
static bool at_line_end(const char *s)
{
	while (*s == ' ' || *s == '\t')
		s++;
	return *s == '\0' || *s == '#';
}

/* Excerpt of a line for messages. */
#define EXCERPT "%.40s%s"
#define EXCERPT_ARGS(s) (s), strlen(s) > 40 ? "..." : ""

enum line_kind { LINE_BLANK, LINE_TABLE, LINE_KEY, LINE_ERROR };

static enum line_kind lex_table(struct parser *p, char *s)
{
	char *name, *end;

	if (s[1] == '[') {
		fail(p, "arrays of tables ([[...]]) are not supported; use [virtio_scsi] or [usb_storage]");
		return LINE_ERROR;
	}
	name = skip_blank(s + 1);
	end = name;
	while (is_name_char(*end))
		end++;
	if (end == name || *skip_blank(end) != ']' || !at_line_end(skip_blank(end) + 1)) {
		fail(p, "malformed table header '" EXCERPT "'; expected [virtio_scsi] or [usb_storage]",
		     EXCERPT_ARGS(s));
		return LINE_ERROR;
	}
	*end = '\0';
	snprintf(p->table, sizeof(p->table), "%s", name);
	return LINE_TABLE;
}

/* Decode "..." in place starting at the opening quote; returns the
 * character after the closing quote, or NULL (message set). */
static char *lex_string(struct parser *p, char *q)
{
	char *r = q + 1, *w = q + 1;

	for (;;) {
		if (*r == '\0') {
			fail(p, "unterminated string for '%s'; add the closing '\"'", p->key);
			return NULL;
		}
		if (*r == '"')
			break;
		if (*r == '\\') {
			if (r[1] != '"' && r[1] != '\\') {
				fail(p, "unsupported escape '\\%c' in the string for '%s'; only \\\" and \\\\ are allowed",
				     r[1] ? r[1] : ' ', p->key);
				return NULL;
			}
			r++;
		}
		*w++ = *r++;
	}
	*w = '\0';
	p->value = q + 1;
	return r + 1;
}

static enum line_kind lex_line(struct parser *p, char *s)
{
	char *key_end, *v, *rest;

	s = skip_blank(s);
	if (*s == '\0' || *s == '#')
		return LINE_BLANK;
	if (*s == '[')
		return lex_table(p, s);

	key_end = s;
	while (is_name_char(*key_end))
		key_end++;
	if (key_end == s) {
		fail(p, "expected 'key = value' or '[table]', not '" EXCERPT "'", EXCERPT_ARGS(s));
		return LINE_ERROR;
	}
	v = skip_blank(key_end);
	if (*v != '=') {
		char c = *key_end;

		*key_end = '\0';
		if (c == '\0' || c == ' ' || c == '\t' || c == '#')
			fail(p, "missing '=' after '%s'; write '%s = value'", s, s);
		else
			fail(p, "unexpected '%c' in key '%s'; keys are letters, digits, '_' and '-'",
			     c, s);
		return LINE_ERROR;
	}
	/* The key may end right at '=': terminate it only after looking. */
	*key_end = '\0';
	p->key = s;
	v = skip_blank(v + 1);
	if (*v == '\0' || *v == '#') {
		fail(p, "missing value for '%s'", p->key);
		return LINE_ERROR;
	}
	if (*v == '"') {
		p->quoted = true;
		rest = lex_string(p, v);
		if (!rest)
			return LINE_ERROR;
	} else {
		p->quoted = false;
		rest = v;
		while (is_bare_value_char(*rest))
			rest++;
		if (rest == v) {
			fail(p, "malformed value '" EXCERPT "' for '%s'; expected a number, true, false or a \"quoted string\"",
			     EXCERPT_ARGS(v), p->key);
			return LINE_ERROR;
		}
		p->value = v;
	}
	if (!at_line_end(rest)) {
		fail(p, "unexpected text '" EXCERPT "' after the value of '%s'; use '#' for comments",
		     EXCERPT_ARGS(skip_blank(rest)), p->key);
		return LINE_ERROR;
	}
	if (!p->quoted)
		*rest = '\0';
	return LINE_KEY;
}

/* A new table header: remember it, warn if unknown, refuse a repeat. */
static bool enter_table(struct parser *p)
{
	char known[128];

	for (size_t i = 0; i < ntables; i++) {
		if (strcmp(ostori_config_tables[i]->name, p->table))
			continue;
		if (p->table_line[i]) {
			fail(p, "table [%s] appears twice (first on line %u); keep all its keys under one header",
			     p->table, p->table_line[i]);
			return false;
		}
		p->table_line[i] = p->lineno;
		return true;
	}
	p->cfg->warnings++;
	table_names(known, sizeof(known));
	ostor_warn(p->ctx, "%s:%u: unknown table [%s]; its keys are ignored (known: %s)",
		   p->path, p->lineno, p->table, known);
	return true;
}

/* inih's reader: one raw line in, one canonical line out. */
static char *reader(char *str, int num, void *stream)
{
	struct parser *p = stream;
	ssize_t len;
	char *s;

	if (p->failed)
		return NULL;
	if (num < 64) {
		fail(p, "internal error: inih line buffer of %d bytes is too small", num);
		return NULL;
	}
	errno = 0;
	len = getline(&p->line, &p->cap, p->fp);
	if (len < 0) {
		if (ferror(p->fp))
			ostori_error(OSTOR_ERROR_CONFIG, "%s: read error after line %u: %s",
				     p->path, p->lineno, strerror(errno ? errno : EIO));
		p->failed = ferror(p->fp) != 0;
		return NULL;
	}
	p->lineno++;
	if (memchr(p->line, '\0', (size_t)len)) {
		fail(p, "NUL byte in the line; is this a text file?");
		return NULL;
	}
	while (len > 0 && (p->line[len - 1] == '\n' || p->line[len - 1] == '\r'))
		p->line[--len] = '\0';
	s = p->line;
	if (p->lineno == 1 && !strncmp(s, "\xEF\xBB\xBF", 3))
		s += 3;

	switch (lex_line(p, s)) {
	case LINE_BLANK:
		snprintf(str, (size_t)num, "\n");
		break;
	case LINE_TABLE:
		if (!enter_table(p))
			return NULL;
		/* Unknown (or over-long) names become "*", which no key
		 * matches. */
		snprintf(str, (size_t)num, "[%s]\n", known_table(p->table) ? p->table : "*");
		break;
	case LINE_KEY:
		/* inih keeps at most 49 characters of a name; longer ones
		 * are unknown anyway and are reported from p->key. */
		snprintf(str, (size_t)num, "%s=v\n", strlen(p->key) < 48 ? p->key : "*");
		break;
	case LINE_ERROR:
		return NULL;
	}
	return str;
}

static bool convert(struct parser *p, const struct ostori_config_key *k, uint64_t *v)
{
	const char *val = p->value;
	bool range_error = false;
	bool ok = false;

	switch (k->type) {
	case OSTORI_KEY_INT:
		ok = !p->quoted && parse_number(val, v, &range_error) &&
		     !range_error && *v >= k->min && *v <= k->max &&
		     (!k->pow2 || (*v & (*v - 1)) == 0);
		break;
	case OSTORI_KEY_BOOL:
		ok = !p->quoted && (!strcmp(val, "true") || !strcmp(val, "false"));
		*v = !strcmp(val, "true");
		break;
	case OSTORI_KEY_SIZE:
		if (p->quoted)
			ok = parse_size_string(val, v, &range_error);
		else
			ok = parse_number(val, v, &range_error);
		ok = ok && !range_error && *v >= k->min && *v <= k->max;
		break;
	case OSTORI_KEY_CHOICE:
		if (!p->quoted)
			break;
		for (size_t i = 0; k->choices[i]; i++) {
			if (!strcmp(k->choices[i], val)) {
				*v = i;
				ok = true;
			}
		}
		break;
	case OSTORI_KEY_TEXT:
		ok = p->quoted && strlen(val) <= k->max;
		if (ok && k->check && k->check(val) < 0) {
			char why[512];

			snprintf(why, sizeof(why), "%s", ostor_last_error());
			fail(p, "%s.%s = \"%.40s%s\": %s", k->table, k->name, val,
			     strlen(val) > 40 ? "..." : "", why);
			return false;
		}
		break;
	}
	if (!ok) {
		char expected[256];

		format_expected(expected, sizeof(expected), k);
		fail(p, "%s.%s = %s%.40s%s%s: %s", k->table, k->name,
		     p->quoted ? "\"" : "", val, strlen(val) > 40 ? "..." : "",
		     p->quoted ? "\"" : "", expected);
	}
	return ok;
}

static int handler(void *user, const char *section, const char *name, const char *value)
{
	struct parser *p = user;
	const struct ostori_config_key *k;
	uint64_t v = 0;

	(void)value; /* the real value is p->value, lexed by the reader */
	if (p->failed)
		return 0;
	if (!*section) {
		fail(p, "'%s' is outside any table; put it under [virtio_scsi] or [usb_storage]",
		     p->key);
		return 0;
	}
	if (!strcmp(section, "*"))
		return 1; /* unknown table: warned once at its header */
	k = find_key(section, name);
	if (!k) {
		p->cfg->warnings++;
		ostor_warn(p->ctx, "%s:%u: unknown key '%s' in [%s]", p->path, p->lineno,
			   p->key, section);
		return 1;
	}
	if (p->seen[key_index(k)]) {
		fail(p, "duplicate key '%s' in [%s] (first set on line %u)", k->name,
		     k->table, p->seen[key_index(k)]);
		return 0;
	}
	if (!convert(p, k, &v))
		return 0;
	if (pending_what(k) && (k->type == OSTORI_KEY_TEXT || v != k->def)) {
		p->cfg->warnings++;
		ostor_warn(p->ctx, "%s:%u: [%s] %s has no effect yet: %s is not available in this "
			   "version", p->path, p->lineno, k->table, k->name, pending_what(k));
	}
	if (k->type == OSTORI_KEY_TEXT)
		snprintf(text_field(p->cfg, k), (size_t)k->max + 1, "%s", p->value);
	else
		set_value(p->cfg, k, v);
	p->seen[key_index(k)] = p->lineno;
	return 1;
}

/* Relations between keys, checked once the whole file is read. */
static bool check_limits(struct parser *p)
{
	for (size_t t = 0; t < ntables; t++) {
		const struct ostori_config_table *tb = ostori_config_tables[t];

		for (size_t i = 0; i < tb->nlimits; i++) {
			const struct ostori_config_key *s = find_key(tb->name, tb->limits[i].small);
			const struct ostori_config_key *b = find_key(tb->name, tb->limits[i].big);
			uint64_t sv = get_value(p->cfg, s), bv = get_value(p->cfg, b);

			if (sv <= bv)
				continue;
			/* Blame the later of the two lines: it broke the relation. */
			p->lineno = OSTOR_MAX(p->seen[key_index(s)], p->seen[key_index(b)]);
			fail(p, "%s.%s = %" PRIu64 " is larger than %s.%s = %" PRIu64 "; lower %s or raise %s",
			     s->table, s->name, sv, b->table, b->name, bv, s->name, b->name);
			return false;
		}
	}
	return true;
}

/* ---- public (internal) API ---------------------------------------------- */

void ostori_config_defaults(struct ostor_config *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	for (size_t i = 0; i < NKEYS; i++)
		set_value(cfg, flat[i].k, flat[i].k->def);
}

/* Parse an open file into *cfg (all or nothing). */
static int load_stream(struct ostor_config *cfg, FILE *fp, const char *path,
		       ostor_context *ctx)
{
	struct ostor_config tmp;
	struct parser p;
	int rc;

	if (strlen(path) >= sizeof(cfg->path))
		return ostori_error(OSTOR_ERROR_CONFIG,
				    "configuration path is longer than %zu bytes: %.64s...",
				    sizeof(cfg->path) - 1, path);
	ostori_config_defaults(&tmp);
	memset(&p, 0, sizeof(p));
	p.path = path;
	p.fp = fp;
	p.ctx = ctx;
	p.cfg = &tmp;

	rc = ini_parse_stream(reader, &p, handler, &p);
	free(p.line);
	if (!p.failed && rc != 0)
		/* inih refused a canonical line: a bug here, not in the file. */
		return ostori_error(OSTOR_ERROR_CONFIG,
				    "%s:%d: internal parser error (inih returned %d)",
				    path, rc > 0 ? rc : 0, rc);
	if (p.failed || !check_limits(&p))
		return OSTOR_ERROR_CONFIG;

	snprintf(tmp.path, sizeof(tmp.path), "%s", path);
	*cfg = tmp;
	ostor_info(ctx, "configuration loaded from %s (%u warning%s)", path,
		   tmp.warnings, tmp.warnings == 1 ? "" : "s");
	return 0;
}

/*
 * Open and load path.  origin says who named it, for the message; when
 * missing_ok, a file that does not exist means built-in defaults.
 */
static int load_path(struct ostor_config *cfg, const char *path, ostor_context *ctx,
		     const char *origin, bool missing_ok)
{
	struct stat st;
	FILE *fp;
	int rc;

	fp = fopen(path, "r");
	if (!fp) {
		int err = errno;

		if (missing_ok && (err == ENOENT || err == ENOTDIR)) {
			ostor_dbg(ctx, "no %s; using built-in defaults", path);
			ostori_config_defaults(cfg);
			return 0;
		}
		return ostori_error(OSTOR_ERROR_CONFIG,
				    "cannot open configuration file %s%s: %s; check the path and its permissions",
				    path, origin, strerror(err));
	}
	if (fstat(fileno(fp), &st) == 0 && S_ISDIR(st.st_mode)) {
		fclose(fp);
		return ostori_error(OSTOR_ERROR_CONFIG,
				    "configuration file %s%s is a directory; name a file",
				    path, origin);
	}
	rc = load_stream(cfg, fp, path, ctx);
	fclose(fp);
	return rc;
}

int ostori_config_load_file(struct ostor_config *cfg, const char *path,
			    ostor_context *ctx)
{
	if (!cfg || !path || !*path)
		return ostori_error(OSTOR_ERROR_INVALID_PARAM,
				    "ostori_config_load_file: cfg and a non-empty path are required");
	return load_path(cfg, path, ctx, "", false);
}

int ostori_config_load(struct ostor_config *cfg, const char *explicit_path,
		       ostor_context *ctx)
{
	const char *env;

	if (!cfg)
		return ostori_error(OSTOR_ERROR_INVALID_PARAM, "ostori_config_load: cfg is NULL");
	if (explicit_path) {
		/* "" asks for the built-in defaults, skipping every file. */
		if (!*explicit_path) {
			ostori_config_defaults(cfg);
			return 0;
		}
		return load_path(cfg, explicit_path, ctx, "", false);
	}
	env = getenv(OSTORI_CONFIG_ENV);
	if (env && *env)
		return load_path(cfg, env, ctx, " (named by $" OSTORI_CONFIG_ENV ")", false);
	return load_path(cfg, system_path_override ? system_path_override
						    : OSTORI_CONFIG_SYSTEM_PATH,
			 ctx, "", true);
}

int ostori_config_get_text(const struct ostor_config *cfg, const char *table,
			   const char *key, char *buf, size_t buflen)
{
	const struct ostori_config_key *k;
	char text[32];
	uint64_t v;
	size_t n;

	if (!cfg || !table || !key || (!buf && buflen))
		return ostori_error(OSTOR_ERROR_INVALID_PARAM,
				    "ostor_config_get: cfg, table, key and buf are required");
	k = find_key(table, key);
	if (!k && !known_table(table))
		return ostori_error(OSTOR_ERROR_NOT_FOUND,
				    "no configuration key '%s': there is no table [%s]; see orionstor.conf(5)",
				    key, table);
	if (!k)
		return ostori_error(OSTOR_ERROR_NOT_FOUND,
				    "no configuration key '%s' in [%s]; see orionstor.conf(5)",
				    key, table);
	if (k->type == OSTORI_KEY_TEXT) {
		const char *t = field(cfg, k);

		n = strlen(t);
		if (n >= buflen) {
			if (buflen)
				buf[0] = '\0';
			return ostori_error(OSTOR_ERROR_OVERFLOW, "%s.%s needs a buffer of %zu bytes, got %zu",
					    table, key, n + 1, buflen);
		}
		memcpy(buf, t, n + 1);
		return 0;
	}
	v = get_value(cfg, k);
	switch (k->type) {
	case OSTORI_KEY_TEXT:
		break;
	case OSTORI_KEY_INT:
	case OSTORI_KEY_SIZE:
		snprintf(text, sizeof(text), "%" PRIu64, v);
		break;
	case OSTORI_KEY_BOOL:
		snprintf(text, sizeof(text), "%s", v ? "true" : "false");
		break;
	case OSTORI_KEY_CHOICE: {
		size_t count = (size_t)k->max + 1;

		snprintf(text, sizeof(text), "%s", v < count ? k->choices[v] : "?");
		break;
	}
	}
	n = strlen(text);
	if (n >= buflen) {
		if (buflen)
			buf[0] = '\0';
		return ostori_error(OSTOR_ERROR_OVERFLOW,
				    "%s.%s needs a buffer of %zu bytes, got %zu", table, key,
				    n + 1, buflen);
	}
	memcpy(buf, text, n + 1);
	return 0;
}

size_t ostori_config_key_count(void)
{
	return NKEYS;
}

int ostori_config_key_info(size_t index, struct ostori_config_keyinfo *info)
{
	static const char *const type_names[] = {
		[OSTORI_KEY_INT] = "integer", [OSTORI_KEY_BOOL] = "boolean",
		[OSTORI_KEY_SIZE] = "size", [OSTORI_KEY_CHOICE] = "string", [OSTORI_KEY_TEXT] = "text",
	};
	const struct ostori_config_key *k;
	char lo[32], hi[32];

	if (!info)
		return ostori_error(OSTOR_ERROR_INVALID_PARAM, "info is NULL");
	if (index >= NKEYS)
		return ostori_error(OSTOR_ERROR_NOT_FOUND, "no configuration key number %zu (there are %zu)",
				    index, NKEYS);
	k = flat[index].k;
	memset(info, 0, sizeof(*info));
	info->table = k->table;
	info->key = k->name;
	info->type = type_names[k->type];
	info->unit = k->unit;
	info->pow2 = k->pow2;
	info->pending = pending_what(k);
	switch (k->type) {
	case OSTORI_KEY_INT:
		snprintf(info->def, sizeof(info->def), "%" PRIu64, k->def);
		snprintf(info->range, sizeof(info->range), "%" PRIu64 " to %" PRIu64,
			 k->min, k->max);
		break;
	case OSTORI_KEY_BOOL:
		snprintf(info->def, sizeof(info->def), "%s", k->def ? "true" : "false");
		snprintf(info->range, sizeof(info->range), "true or false");
		break;
	case OSTORI_KEY_SIZE:
		format_size(lo, sizeof(lo), k->def);
		if (k->def)
			snprintf(info->def, sizeof(info->def), "\"%.28s\"", lo);
		else
			snprintf(info->def, sizeof(info->def), "0");
		format_size(lo, sizeof(lo), k->min);
		format_size(hi, sizeof(hi), k->max);
		snprintf(info->range, sizeof(info->range), "%s to %s", lo, hi);
		break;
	case OSTORI_KEY_CHOICE:
		snprintf(info->def, sizeof(info->def), "\"%s\"", k->choices[k->def]);
		format_choices(info->range, sizeof(info->range), k->choices);
		break;
	case OSTORI_KEY_TEXT:
		snprintf(info->def, sizeof(info->def), "\"\"");
		snprintf(info->range, sizeof(info->range), "up to %" PRIu64 " characters", k->max);
		break;
	}
	return 0;
}

void ostori_config_set_system_path(const char *path)
{
	system_path_override = path;
}
