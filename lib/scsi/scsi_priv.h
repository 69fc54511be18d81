/*
 * lib/scsi/scsi_priv.h - helpers shared by the pure SCSI layer and its
 * white-box tests.  Nothing here is exported.
 */
#ifndef OSTOR_SCSI_PRIV_H
#define OSTOR_SCSI_PRIV_H

#include <stddef.h>
#include <stdint.h>

#include "orionstor.h"
#include "util/byteorder.h"
#include "util/compiler.h"
#include "util/error.h"
#include "util/sized.h"

/* ---- ASC/ASCQ table (asc_table.c, generated) --------------------------- */

struct ostori_scsi_asc_entry {
	uint8_t asc;
	uint8_t ascq;
	const char *text;
};

/* Sorted by (asc, ascq), no duplicates. */
extern const struct ostori_scsi_asc_entry ostori_scsi_asc_table[];
extern const size_t ostori_scsi_asc_table_len;

/* ASCQ ranges whose text embeds the ASCQ ("NN" is replaced by it). */
struct ostori_scsi_asc_range {
	uint8_t asc;
	uint8_t ascq_min;
	uint8_t ascq_max;
	const char *text;
};
extern const struct ostori_scsi_asc_range ostori_scsi_asc_ranges[];
extern const size_t ostori_scsi_asc_ranges_len;

/* Exact table entry or NULL (binary search). */
const char *ostori_scsi_asc_lookup(uint8_t asc, uint8_t ascq);

/* Copy a fixed-width ASCII field from a response: leading and trailing
 * blanks/NULs trimmed, other non-printable bytes replaced by '?', always
 * NUL-terminated (out must hold outlen >= 1).  Returns the length of the
 * trimmed field (may exceed outlen - 1 when truncated). */
size_t ostori_scsi_copy_ascii(char *out, size_t outlen, const uint8_t *src, size_t srclen);

#endif /* OSTOR_SCSI_PRIV_H */
