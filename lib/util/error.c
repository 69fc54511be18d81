/*
 * lib/util/error.c - error codes, names and the thread-local last-error
 * message that tells the user what went wrong and what to do.
 */
#include "orionstor.h"
#include "util/error.h"

#include <stdarg.h>
#include <stdio.h>

#include <string.h>

static _Thread_local char last_error[1024];

static const struct {
	int code;
	const char *name;
	const char *text;
} error_table[] = {
	{ OSTOR_SUCCESS, "OSTOR_SUCCESS", "Success" },
	{ OSTOR_ERROR_IO, "OSTOR_ERROR_IO", "Input/output error" },
	{ OSTOR_ERROR_INVALID_PARAM, "OSTOR_ERROR_INVALID_PARAM", "Invalid parameter" },
	{ OSTOR_ERROR_ACCESS, "OSTOR_ERROR_ACCESS", "Access denied (insufficient permissions)" },
	{ OSTOR_ERROR_NO_DEVICE, "OSTOR_ERROR_NO_DEVICE", "Device is gone (it may have been disconnected)" },
	{ OSTOR_ERROR_NOT_FOUND, "OSTOR_ERROR_NOT_FOUND", "Entity not found" },
	{ OSTOR_ERROR_BUSY, "OSTOR_ERROR_BUSY", "Resource busy" },
	{ OSTOR_ERROR_TIMEOUT, "OSTOR_ERROR_TIMEOUT", "Operation timed out" },
	{ OSTOR_ERROR_OVERFLOW, "OSTOR_ERROR_OVERFLOW", "Overflow" },
	{ OSTOR_ERROR_PROTOCOL, "OSTOR_ERROR_PROTOCOL", "Device protocol violation" },
	{ OSTOR_ERROR_INTERRUPTED, "OSTOR_ERROR_INTERRUPTED", "Interrupted" },
	{ OSTOR_ERROR_NO_MEM, "OSTOR_ERROR_NO_MEM", "Insufficient memory" },
	{ OSTOR_ERROR_NOT_SUPPORTED, "OSTOR_ERROR_NOT_SUPPORTED", "Operation not supported" },
	{ OSTOR_ERROR_BAD_SPEC, "OSTOR_ERROR_BAD_SPEC", "Malformed or unknown device spec" },
	{ OSTOR_ERROR_CONFIG, "OSTOR_ERROR_CONFIG", "Configuration error" },
	{ OSTOR_ERROR_SCSI, "OSTOR_ERROR_SCSI", "SCSI command failed" },
	{ OSTOR_ERROR_OUT_OF_RANGE, "OSTOR_ERROR_OUT_OF_RANGE", "Block address out of range" },
	{ OSTOR_ERROR_WRITE_PROTECTED, "OSTOR_ERROR_WRITE_PROTECTED", "Medium is write protected" },
	{ OSTOR_ERROR_NO_MEDIUM, "OSTOR_ERROR_NO_MEDIUM", "No medium present" },
	{ OSTOR_ERROR_ABORTED, "OSTOR_ERROR_ABORTED", "Command aborted" },
	{ OSTOR_ERROR_STATE, "OSTOR_ERROR_STATE", "Operation not allowed in this state" },
	{ OSTOR_ERROR_MISCOMPARE, "OSTOR_ERROR_MISCOMPARE", "Data miscompare" },
	{ OSTOR_ERROR_OTHER, "OSTOR_ERROR_OTHER", "Other error" },
};

OSTOR_API const char *ostor_error_name(int error)
{
	for (size_t i = 0; i < OSTOR_ARRAY_SIZE(error_table); i++)
		if (error_table[i].code == error)
			return error_table[i].name;
	return "**UNKNOWN**";
}

OSTOR_API const char *ostor_strerror(int error)
{
	for (size_t i = 0; i < OSTOR_ARRAY_SIZE(error_table); i++)
		if (error_table[i].code == error)
			return error_table[i].text;
	return "Unknown error";
}

OSTOR_API const char *ostor_last_error(void)
{
	return last_error;
}

void ostori_clear_error(void)
{
	last_error[0] = '\0';
}

int ostori_error(int code, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(last_error, sizeof(last_error), fmt, ap);
	va_end(ap);
	return code;
}

int ostori_error_wrap(int code, const char *fmt, ...)
{
	char prev[sizeof(last_error)];
	char head[sizeof(last_error)];
	va_list ap;

	memcpy(prev, last_error, sizeof(prev));
	va_start(ap, fmt);
	vsnprintf(head, sizeof(head), fmt, ap);
	va_end(ap);
	/* Truncation is fine: the head says the most important part. */
	size_t n = strnlen(head, sizeof(last_error) - 1);

	memcpy(last_error, head, n);
	if (prev[0] && n + 2 < sizeof(last_error)) {
		memcpy(last_error + n, ": ", 2);
		n += 2;
		size_t m = OSTOR_MIN(strlen(prev), sizeof(last_error) - 1 - n);
		memcpy(last_error + n, prev, m);
		n += m;
	}
	last_error[n] = '\0';
	return code;
}
