/*
 * lib/util/compiler.h - small macros every layer uses.
 */
#ifndef OSTOR_UTIL_COMPILER_H
#define OSTOR_UTIL_COMPILER_H

#define OSTOR_ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))
#define OSTOR_MIN(a, b) ((a) < (b) ? (a) : (b))
#define OSTOR_MAX(a, b) ((a) > (b) ? (a) : (b))

#if defined(__GNUC__)
#define OSTOR_PRINTF(f, a) __attribute__((format(printf, f, a)))
#define OSTOR_LIKELY(x) __builtin_expect(!!(x), 1)
#define OSTOR_UNLIKELY(x) __builtin_expect(!!(x), 0)
#else
#define OSTOR_PRINTF(f, a)
#define OSTOR_LIKELY(x) (x)
#define OSTOR_UNLIKELY(x) (x)
#endif

#endif /* OSTOR_UTIL_COMPILER_H */
