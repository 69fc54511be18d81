/*
 * lib/core/internal.h - what the core shares with the backends and tests.
 *
 * Internal names start with ostori_ (functions) so the public ostor_
 * namespace stays clean; none of them is exported (-fvisibility=hidden).
 */
#ifndef OSTOR_CORE_INTERNAL_H
#define OSTOR_CORE_INTERNAL_H

#include "build-config.h"

#include <pthread.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "orionstor.h"
#include "util/compiler.h"
#include "util/error.h"
#include "util/sized.h"
#include "core/config.h"
#include "core/spec.h"

/* ---- logging ----------------------------------------------------------- */

void ostori_log_impl(ostor_context *ctx, enum ostor_log_level level,
		     const char *func, const char *fmt, ...) OSTOR_PRINTF(4, 5);
bool ostori_log_enabled(const ostor_context *ctx, enum ostor_log_level level);

/* The one logging macro: the level is checked before anything is
 * formatted.  ctx may be NULL (then $ORIONSTOR_DEBUG decides). */
#define ostor_log(ctx, level, ...)                                          \
	do {                                                                \
		if (ostori_log_enabled((ctx), (level)))                     \
			ostori_log_impl((ctx), (level), __func__, __VA_ARGS__); \
	} while (0)
#define ostor_err(ctx, ...) ostor_log(ctx, OSTOR_LOG_ERROR, __VA_ARGS__)
#define ostor_warn(ctx, ...) ostor_log(ctx, OSTOR_LOG_WARNING, __VA_ARGS__)
#define ostor_info(ctx, ...) ostor_log(ctx, OSTOR_LOG_INFO, __VA_ARGS__)
#define ostor_dbg(ctx, ...) ostor_log(ctx, OSTOR_LOG_DEBUG, __VA_ARGS__)

/* ---- time -------------------------------------------------------------- */
uint64_t ostori_now_ms(void);

#endif /* OSTOR_CORE_INTERNAL_H */
