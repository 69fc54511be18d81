/*
 * lib/core/spec.h - device spec strings, NAME:BODY ("sim:size=1G",
 * "usb:0781:5567", "virtio:0000:00:04.0"), parsed in one place so the
 * tools and the library accept exactly the same forms.  The core splits
 * off NAME; the component that owns NAME parses BODY (struct
 * ostori_spec_parser, listed in lib/backends.c) into the options or its
 * own struct in spec->parsed.
 */
#ifndef OSTOR_CORE_SPEC_H
#define OSTOR_CORE_SPEC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define OSTOR_SPEC_MAX_OPTIONS 32
#define OSTOR_SPEC_MAX_LEN 1024

struct ostor_spec_option {
	const char *key;
	const char *value;       /* NULL for a bare flag ("readonly") */
	bool used;               /* set by ostori_spec_get: unused → error */
};

#define OSTORI_SPEC_PARSED_MAX 320

struct ostor_spec {
	const char *backend;     /* NAME: the backend that opens it */
	/* key=value options (ostori_spec_parse_options) */
	struct ostor_spec_option options[OSTOR_SPEC_MAX_OPTIONS];
	int noptions;
	/* What the owner's parser made of BODY otherwise (its own struct). */
	_Alignas(8) unsigned char parsed[OSTORI_SPEC_PARSED_MAX];

	char buf[OSTOR_SPEC_MAX_LEN]; /* storage for option strings */
};

struct ostori_spec_parser {
	const char *prefix;      /* NAME */
	const char *forms;       /* "'usb:VVVV:PPPP', ...", for messages */
	bool bare;               /* NAME alone is a spec too ("sim") */
	/* text is the whole spec (for messages), body what follows "NAME:".
	 * OSTOR_ERROR_BAD_SPEC with a message naming the forms. */
	int (*parse)(const char *text, const char *body, struct ostor_spec *spec);
};

/* Every component's parser (lib/backends.c), ending with a NULL prefix;
 * also those of backends this build leaves out, so a well-formed spec
 * of one is told apart from a malformed one. */
extern const struct ostori_spec_parser ostori_spec_parsers[];

/* BODY as key[=value] options joined by commas. */
int ostori_spec_parse_options(const char *text, const char *body, struct ostor_spec *spec);

/* Parse; on error returns OSTOR_ERROR_BAD_SPEC with a message naming the
 * accepted forms. */
int ostori_spec_parse(const char *text, struct ostor_spec *spec);
/* Look up an option (marks it used); NULL if absent.  *present tells a
 * bare flag apart from an absent option. */
const struct ostor_spec_option *ostori_spec_get(struct ostor_spec *spec, const char *key);
/* Error for the first option nobody asked for, listing the accepted ones. */
int ostori_spec_check_unused(const struct ostor_spec *spec, const char *accepted);

/* "64M", "1G", "4096", "1.5G" is rejected (whole units only).  Suffixes:
 * K, M, G, T (powers of 1024), optional trailing "B"/"iB". */
int ostori_parse_size(const char *text, uint64_t *out);
/* 1 to 4 hex digits (no prefix), at most max: 0, or -1. */
int ostori_parse_hex(const char *s, size_t len, unsigned max, unsigned *out);
/* Decimal or 0x hex, full-string, range-checked. */
int ostori_parse_u64(const char *text, uint64_t max, uint64_t *out);

#endif
