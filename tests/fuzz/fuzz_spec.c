/*
 * Device specs (ostori_spec_parse, every backend's BODY parser) and the
 * number parsers they share.  The input is the spec text.
 */
#include "fuzz.h"

#include <stdlib.h>

#include "core/backend.h"

static void sink_option_str(const struct ostor_spec *spec, const char *s)
{
	if (!s)
		return;
	if (s < spec->buf || s >= spec->buf + sizeof(spec->buf))
		__builtin_trap(); /* option strings live in spec->buf */
	sink_str(s, (size_t)(spec->buf + sizeof(spec->buf) - s));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct ostor_spec *spec;
	char *text;
	uint64_t u = 0;
	unsigned h = 0;
	int r;

	if (size > 4 * OSTOR_SPEC_MAX_LEN)
		return 0;
	text = malloc(size + 1);
	spec = malloc(sizeof(*spec));
	if (!text || !spec)
		goto out;
	memcpy(text, data, size);
	text[size] = '\0';

	r = ostori_spec_parse(text, spec);
	SINK(r);
	sink_str(ostor_last_error(), 65536);
	if (r == 0) {
		sink_str(spec->backend, 64);
		if (spec->noptions < 0 || spec->noptions > OSTOR_SPEC_MAX_OPTIONS)
			__builtin_trap();
		for (int i = 0; i < spec->noptions; i++) {
			sink_option_str(spec, spec->options[i].key);
			sink_option_str(spec, spec->options[i].value);
			SINK(spec->options[i].used);
		}
		sink_bytes(spec->parsed, sizeof(spec->parsed));
		SINK(ostori_spec_get(spec, "size") != NULL);
		SINK(ostori_spec_check_unused(spec, "size"));
	}
	SINK(ostori_parse_size(text, &u));
	SINK(u);
	SINK(ostori_parse_u64(text, UINT64_MAX, &u));
	SINK(ostori_parse_u64(text, 65535, &u));
	SINK(u);
	SINK(ostori_parse_hex(text, strlen(text), 0xffff, &h));
	SINK(h);
out:
	free(spec);
	free(text);
	return 0;
}
