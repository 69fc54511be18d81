/*
 * The control socket's request handling: one request line through
 * ostori_control_handle_line (what the server does with a line it read),
 * no socket and no device open.  Every reply must be one JSON object per
 * line.
 */
#include "fuzz.h"

#include <json-c/json.h>
#include <stdlib.h>

#include "core/control.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	size_t n = 0, start = 0;
	char *reply;

	if (size > OSTORI_CONTROL_REQUEST_MAX || memchr(data, '\n', size))
		return 0; /* the server never hands such a line over */
	reply = ostori_control_handle_line((const char *)data, size, &n);
	if (!reply) {
		if (n)
			__builtin_trap();
		return 0;
	}
	sink_bytes(reply, n);
	for (size_t i = 0; i < n; i++) {
		struct json_tokener *tok;
		struct json_object *o;

		if (reply[i] != '\n')
			continue;
		tok = json_tokener_new();
		o = json_tokener_parse_ex(tok, reply + start, (int)(i - start));
		if (json_tokener_get_error(tok) != json_tokener_success ||
		    !json_object_is_type(o, json_type_object))
			__builtin_trap(); /* a reply that is not a JSON object */
		json_object_put(o);
		json_tokener_free(tok);
		start = i + 1;
	}
	if (start != n)
		__builtin_trap(); /* the last reply has no '\n' */
	free(reply);
	return 0;
}
