/*
 * lib/core/log.c - per-context logging with one macro (ostor_log) that
 * checks the level before formatting anything.
 */
#include "core/backend.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

static const char *const level_names[] = { "none", "error", "warning", "info", "debug" };

/* $ORIONSTOR_DEBUG: 0..4; anything else is ignored with a warning. */
enum ostor_log_level ostori_env_log_level(enum ostor_log_level fallback);
enum ostor_log_level ostori_env_log_level(enum ostor_log_level fallback)
{
	const char *env = getenv("ORIONSTOR_DEBUG");
	char *end;
	long v;

	if (!env || !*env)
		return fallback;
	v = strtol(env, &end, 10);
	if (*end || v < OSTOR_LOG_NONE || v > OSTOR_LOG_DEBUG) {
		fprintf(stderr, "liborionstor: warning: ignoring ORIONSTOR_DEBUG=%s (expected 0..4)\n", env);
		return fallback;
	}
	return (enum ostor_log_level)v;
}

bool ostori_log_enabled(const ostor_context *ctx, enum ostor_log_level level)
{
	if (ctx)
		return level <= ctx->log_level;
	return level <= ostori_env_log_level(OSTOR_LOG_WARNING);
}

void ostori_log_impl(ostor_context *ctx, enum ostor_log_level level,
		     const char *func, const char *fmt, ...)
{
	char msg[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);

	if (ctx && ctx->log_fn) {
		ctx->log_fn(ctx, level, func, msg, ctx->log_user_data);
		return;
	}
	if (level >= OSTOR_LOG_DEBUG) {
		struct timespec ts;

		clock_gettime(CLOCK_MONOTONIC, &ts);
		fprintf(stderr, "liborionstor: [%ld.%06ld] %s: %s: %s\n",
			(long)ts.tv_sec, ts.tv_nsec / 1000L,
			level_names[level], func, msg);
	} else {
		fprintf(stderr, "liborionstor: %s: %s\n", level_names[level], msg);
	}
}

OSTOR_API void ostor_set_log_level(ostor_context *ctx, enum ostor_log_level level)
{
	if (!ctx)
		return;
	if (level < OSTOR_LOG_NONE)
		level = OSTOR_LOG_NONE;
	if (level > OSTOR_LOG_DEBUG)
		level = OSTOR_LOG_DEBUG;
	ctx->log_level = level;
}

OSTOR_API enum ostor_log_level ostor_get_log_level(const ostor_context *ctx)
{
	return ctx ? ctx->log_level : OSTOR_LOG_NONE;
}

OSTOR_API void ostor_set_log_callback(ostor_context *ctx, ostor_log_fn fn,
				      void *user_data, void (*free_fn)(void *))
{
	if (!ctx)
		return;
	if (ctx->log_free)
		ctx->log_free(ctx->log_user_data);
	ctx->log_fn = fn;
	ctx->log_user_data = user_data;
	ctx->log_free = free_fn;
}

uint64_t ostori_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}
