/*
 * lib/util/sized.h - public structs that grow (liborionstor(3),
 * "Structures that grow").
 *
 * Such a struct starts with uint32_t size, set by the caller to the sizeof
 * it was compiled with.  The library writes only the fields of its
 * versions that end within that size, never a byte at or past it, and
 * leaves in .size the bytes it filled; a .size below the first version is
 * refused (OSTOR_ERROR_INVALID_PARAM) before anything is written.
 *
 * Each such struct has one struct ostori_sized, beside the code that fills
 * it, listing where each published version's last field ends.  Appending
 * fields to a public struct means appending the end of its new last field
 * to that list and moving its OSTORI_SIZED_CHECK to that field.
 */
#ifndef OSTOR_UTIL_SIZED_H
#define OSTOR_UTIL_SIZED_H

#include <stddef.h>
#include <stdint.h>

#define OSTORI_SIZED_MAX_VERSIONS 8

struct ostori_sized {
	const char *type;        /* "struct ostor_lun_info", for messages */
	const char *init;        /* "OSTOR_LUN_INFO_INIT" */
	/* Where the last field of each version ends, ascending; 0 after the
	 * last one.  versions[0] is the smallest .size accepted. */
	uint32_t versions[OSTORI_SIZED_MAX_VERSIONS];
};

#define OSTORI_FIELD_END(T, field) ((uint32_t)(offsetof(T, field) + sizeof(((T *)0)->field)))

/* OSTORI_SIZED(struct ostor_lun_info, OSTOR_LUN_INFO_INIT,
 *              OSTORI_FIELD_END(struct ostor_lun_info, thin_provisioned))
 * (not from inside another macro: INIT would be expanded before it is
 * turned into its name). */
#define OSTORI_SIZED(T, INIT, ...) { #T, #INIT, { __VA_ARGS__ } }

/* The last version reaches the end of T: nothing but tail padding follows
 * field last (a field appended without a version fails the build, unless
 * it fits in the old tail padding: add the version anyway). */
#define OSTORI_SIZED_CHECK(T, last)                                        \
	_Static_assert(sizeof(T) - OSTORI_FIELD_END(T, last) < _Alignof(T), \
		       #T " has fields after " #last ": add a version to its struct ostori_sized")

/* 0 when p, argument arg of fn, is not NULL and its .size reaches the
 * first version; else OSTOR_ERROR_INVALID_PARAM with a message saying how
 * to set .size.  Nothing is written. */
int ostori_sized_check(const struct ostori_sized *t, const void *p, const char *fn,
		       const char *arg);
/* The bytes filled for a caller's .size: where the last version that fits
 * ends (0 when none does; UINT32_MAX gives the current version's end). */
uint32_t ostori_sized_len(const struct ostori_sized *t, uint32_t size);
/* Copy src, a whole struct of this build, into the caller's dst (its .size
 * checked): the fields of the versions that fit, nothing else; then
 * dst->size = the bytes filled. */
void ostori_sized_put(const struct ostori_sized *t, void *dst, const void *src);
/* The other way, for a struct the caller hands in: fill full (a whole
 * struct of this build, full_size bytes) from src (its .size checked),
 * zero where src is older; full->size = the bytes taken from src. */
void ostori_sized_get(const struct ostori_sized *t, void *full, size_t full_size,
		      const void *src);

#endif /* OSTOR_UTIL_SIZED_H */
