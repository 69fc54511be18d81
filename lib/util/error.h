/*
 * lib/util/error.h - the thread-local last-error message, at the bottom
 * of the library so that every layer (the pure SCSI one included) can say
 * what went wrong and what to do.
 */
#ifndef OSTOR_UTIL_ERROR_H
#define OSTOR_UTIL_ERROR_H

#include "util/compiler.h"

/* Record a detailed message for ostor_last_error() and return code, so a
 * failure reads: return ostori_error(OSTOR_ERROR_BAD_SPEC, "...", ...); */
int ostori_error(int code, const char *fmt, ...) OSTOR_PRINTF(2, 3);
/* Same, appending ": <previous message>" (adds context to a lower error). */
int ostori_error_wrap(int code, const char *fmt, ...) OSTOR_PRINTF(2, 3);
void ostori_clear_error(void);

#endif /* OSTOR_UTIL_ERROR_H */
