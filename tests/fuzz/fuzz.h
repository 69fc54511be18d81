/*
 * tests/fuzz/fuzz.h - helpers shared by the libFuzzer targets.
 *
 * Every target folds each field of what a decoder returned into a
 * volatile sink, and reads every byte a returned pointer or string
 * covers, so that a result pointing outside the input (or a string left
 * without its terminator) is caught by AddressSanitizer, not just a bad
 * read inside the decoder.
 */
#ifndef OSTOR_TESTS_FUZZ_H
#define OSTOR_TESTS_FUZZ_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static volatile uint64_t fuzz_sink;

#define SINK(v) (fuzz_sink += (uint64_t)(v))

static inline void sink_bytes(const void *p, size_t n)
{
	const volatile uint8_t *b = p;

	for (size_t i = 0; i < n; i++)
		fuzz_sink += b[i];
}

/* A NUL-terminated string of at most max bytes (terminator included). */
static inline void sink_str(const char *s, size_t max)
{
	size_t n;

	if (!s)
		return;
	n = strnlen(s, max);
	if (n == max)
		__builtin_trap(); /* not terminated within its array */
	sink_bytes(s, n + 1);
}

#define SINK_STR(a) sink_str((a), sizeof(a))

#endif
