/*
 * tools/common/jsonget.c - reading fields of the JSON the tools print and
 * the control sockets answer: a missing field reads as NULL, "", 0 or
 * false, so printing code needs no check per field.
 */
#include "toolcommon.h"

#include <json-c/json.h>

struct json_object *tc_jobj(struct json_object *o, const char *key)
{
	struct json_object *v;

	return o && json_object_object_get_ex(o, key, &v) ? v : NULL;
}

const char *tc_jstr(struct json_object *o, const char *key)
{
	struct json_object *v = tc_jobj(o, key);

	return v ? json_object_get_string(v) : "";
}

int64_t tc_jint(struct json_object *o, const char *key)
{
	struct json_object *v = tc_jobj(o, key);

	return v ? json_object_get_int64(v) : 0;
}

uint64_t tc_ju64(struct json_object *o, const char *key)
{
	struct json_object *v = tc_jobj(o, key);

	return v ? (uint64_t)json_object_get_uint64(v) : 0;
}

double tc_jnum(struct json_object *o, const char *key)
{
	struct json_object *v = tc_jobj(o, key);

	return v ? json_object_get_double(v) : 0.0;
}

bool tc_jbool(struct json_object *o, const char *key)
{
	struct json_object *v = tc_jobj(o, key);

	return v && json_object_get_boolean(v);
}
