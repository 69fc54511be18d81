/*
 * lib/util/sized.c - filling public structs that grow, for callers built
 * against older (smaller) or newer (larger) versions of them.
 */
#include "orionstor.h"
#include "util/error.h"
#include "util/sized.h"

#include <string.h>

static uint32_t size_of(const void *p)
{
	uint32_t size;

	memcpy(&size, p, sizeof(size));
	return size;
}

int ostori_sized_check(const struct ostori_sized *t, const void *p, const char *fn,
		       const char *arg)
{
	uint32_t size;

	if (!p)
		return ostori_error(OSTOR_ERROR_INVALID_PARAM, "%s: NULL %s", fn, arg);
	size = size_of(p);
	if (size == 0)
		return ostori_error(OSTOR_ERROR_INVALID_PARAM,
				    "%s: %s->size is 0: set .size = sizeof(%s) before the call "
				    "(initialize it with %s)", fn, arg, t->type, t->init);
	if (size < t->versions[0])
		return ostori_error(OSTOR_ERROR_INVALID_PARAM,
				    "%s: %s->size is %u, smaller than any %s (at least %u bytes): "
				    "set .size = sizeof(%s) before the call (initialize it with %s)",
				    fn, arg, size, t->type, t->versions[0], t->type, t->init);
	return 0;
}

uint32_t ostori_sized_len(const struct ostori_sized *t, uint32_t size)
{
	uint32_t n = 0;

	for (size_t i = 0; i < OSTORI_SIZED_MAX_VERSIONS && t->versions[i]; i++)
		if (t->versions[i] <= size)
			n = t->versions[i];
	return n;
}

void ostori_sized_put(const struct ostori_sized *t, void *dst, const void *src)
{
	uint32_t n = ostori_sized_len(t, size_of(dst));

	/* Everything after the caller's own .size, which becomes n. */
	if (n > sizeof(uint32_t))
		memcpy((char *)dst + sizeof(uint32_t), (const char *)src + sizeof(uint32_t),
		       n - sizeof(uint32_t));
	memcpy(dst, &n, sizeof(n));
}

void ostori_sized_get(const struct ostori_sized *t, void *full, size_t full_size,
		      const void *src)
{
	uint32_t n = ostori_sized_len(t, size_of(src));

	if (n > full_size)
		n = (uint32_t)full_size;
	memset(full, 0, full_size);
	memcpy(full, src, n);
	memcpy(full, &n, sizeof(n));
}
