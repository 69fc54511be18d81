/*
 * lib/scsi/sense.c - sense data (SPC-4 fixed and descriptor formats),
 * ASC/ASCQ text, status and sense key names, ATA PASS-THROUGH returns.
 *
 * Sense data is bounded twice: by the bytes received and by the device's
 * ADDITIONAL SENSE LENGTH, whichever is smaller.
 */

#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "scsi/scsi_priv.h"

const char *ostor_scsi_status_name(int status)
{
	switch (status) {
	case 0x00: return "GOOD";
	case 0x02: return "CHECK CONDITION";
	case 0x04: return "CONDITION MET";
	case 0x08: return "BUSY";
	case 0x10: return "INTERMEDIATE";
	case 0x14: return "INTERMEDIATE-CONDITION MET";
	case 0x18: return "RESERVATION CONFLICT";
	case 0x22: return "COMMAND TERMINATED";
	case 0x28: return "TASK SET FULL";
	case 0x30: return "ACA ACTIVE";
	case 0x40: return "TASK ABORTED";
	default: return "UNKNOWN STATUS";
	}
}

const char *ostor_scsi_sense_key_name(int key)
{
	static const char *const names[16] = {
		"NO SENSE", "RECOVERED ERROR", "NOT READY", "MEDIUM ERROR",
		"HARDWARE ERROR", "ILLEGAL REQUEST", "UNIT ATTENTION",
		"DATA PROTECT", "BLANK CHECK", "VENDOR SPECIFIC",
		"COPY ABORTED", "ABORTED COMMAND", "EQUAL (obsolete)",
		"VOLUME OVERFLOW", "MISCOMPARE", "COMPLETED",
	};

	if (key < 0 || key > 15)
		return "INVALID SENSE KEY";
	return names[key];
}

/* ---- ASC / ASCQ text --------------------------------------------------- */

const char *ostori_scsi_asc_lookup(uint8_t asc, uint8_t ascq)
{
	unsigned key = (unsigned)(asc << 8 | ascq);
	size_t lo = 0, hi = ostori_scsi_asc_table_len;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		const struct ostori_scsi_asc_entry *e = &ostori_scsi_asc_table[mid];
		unsigned k = (unsigned)(e->asc << 8 | e->ascq);

		if (k == key)
			return e->text;
		if (k < key)
			lo = mid + 1;
		else
			hi = mid;
	}
	return NULL;
}

/* Expand "NN" in a range text with the ASCQ in hex. */
static void expand_range(char *buf, size_t buflen, const char *text,
			 uint8_t ascq)
{
	const char *nn = strstr(text, "NN");

	if (!nn) {
		snprintf(buf, buflen, "%s", text);
		return;
	}
	snprintf(buf, buflen, "%.*s%02X%s", (int)(nn - text), text, ascq, nn + 2);
}

const char *ostor_scsi_asc_ascq_text(uint8_t asc, uint8_t ascq, char *buf,
				     size_t buflen)
{
	const char *t;
	size_t i;

	if (!buf || buflen == 0)
		return "";
	t = ostori_scsi_asc_lookup(asc, ascq);
	if (t) {
		snprintf(buf, buflen, "%s", t);
		return buf;
	}
	for (i = 0; i < ostori_scsi_asc_ranges_len; i++) {
		const struct ostori_scsi_asc_range *r = &ostori_scsi_asc_ranges[i];

		if (r->asc == asc && ascq >= r->ascq_min && ascq <= r->ascq_max) {
			expand_range(buf, buflen, r->text, ascq);
			return buf;
		}
	}
	if (asc >= 0x80 || ascq >= 0x80)
		snprintf(buf, buflen, "vendor specific ASC=%02Xh ASCQ=%02Xh",
			 asc, ascq);
	else
		snprintf(buf, buflen, "ASC=%02Xh ASCQ=%02Xh (unknown)", asc, ascq);
	return buf;
}

/* ---- parsing ----------------------------------------------------------- */

/* struct ostor_scsi_sense grows (lib/util/sized.h): add a version when
 * appending fields. */
static const struct ostori_sized sense_sized =
	OSTORI_SIZED(struct ostor_scsi_sense, OSTOR_SCSI_SENSE_INIT,
		     OSTORI_FIELD_END(struct ostor_scsi_sense, ata_return_present));
OSTORI_SIZED_CHECK(struct ostor_scsi_sense, ata_return_present);

static void parse_fixed(const uint8_t *buf, size_t len,
			struct ostor_scsi_sense *out)
{
	size_t limit = OSTOR_MIN(len, (size_t)8 + (len > 7 ? buf[7] : 0));

	out->key = buf[2] & 0x0f;
	out->filemark = !!(buf[2] & 0x80);
	out->eom = !!(buf[2] & 0x40);
	out->ili = !!(buf[2] & 0x20);
	/* INFORMATION sits before ADDITIONAL SENSE LENGTH: only len bounds it. */
	if (len >= 7 && (buf[0] & 0x80)) {
		out->info_valid = 1;
		out->information = ostori_get_be32(&buf[3]);
	}
	if (limit >= 12) {
		out->cmd_info_valid = 1;
		out->command_specific = ostori_get_be32(&buf[8]);
	}
	if (limit >= 13)
		out->asc = buf[12];
	if (limit >= 14)
		out->ascq = buf[13];
	if (limit >= 15) {
		out->fru_valid = 1;
		out->fru = buf[14];
	}
	if (limit >= 18 && (buf[15] & 0x80)) {
		out->sksv = 1;
		memcpy(out->sks, &buf[15], 3);
		out->sks[0] &= 0x7f;
	}
	out->used_len = OSTOR_MAX(limit, OSTOR_MIN(len, (size_t)8));
}

static void parse_descriptor(const uint8_t *buf, size_t len,
			     struct ostor_scsi_sense *out)
{
	size_t limit = OSTOR_MIN(len, (size_t)8 + (len > 7 ? buf[7] : 0));
	size_t pos = 8;

	out->key = buf[1] & 0x0f;
	if (len > 2)
		out->asc = buf[2];
	if (len > 3)
		out->ascq = buf[3];
	while (pos + 2 <= limit) {
		const uint8_t *d = buf + pos;
		size_t dlen = 2 + (size_t)d[1];

		if (pos + dlen > limit)
			break; /* truncated descriptor: ignore it */
		switch (d[0]) {
		case 0x00: /* information */
			if (dlen >= 12 && (d[2] & 0x80)) {
				out->info_valid = 1;
				out->information = ostori_get_be64(d + 4);
			}
			break;
		case 0x01: /* command-specific information */
			if (dlen >= 12) {
				out->cmd_info_valid = 1;
				out->command_specific = ostori_get_be64(d + 4);
			}
			break;
		case 0x02: /* sense key specific */
			if (dlen >= 7 && (d[4] & 0x80)) {
				out->sksv = 1;
				memcpy(out->sks, d + 4, 3);
				out->sks[0] &= 0x7f;
			}
			break;
		case 0x03: /* field replaceable unit */
			if (dlen >= 4) {
				out->fru_valid = 1;
				out->fru = d[3];
			}
			break;
		case 0x04: /* stream commands */
			if (dlen >= 4) {
				out->filemark = !!(d[3] & 0x80);
				out->eom = !!(d[3] & 0x40);
				out->ili = !!(d[3] & 0x20);
			}
			break;
		case 0x05: /* block commands */
			if (dlen >= 4)
				out->ili = !!(d[3] & 0x20);
			break;
		case 0x09: /* ATA status return */
			if (dlen >= 14)
				out->ata_return_present = 1;
			break;
		default:
			break;
		}
		pos += dlen;
	}
	out->used_len = OSTOR_MAX(limit, OSTOR_MIN(len, (size_t)8));
}

static int parse_sense(const uint8_t *buf, size_t len, struct ostor_scsi_sense *out)
{
	uint8_t code;

	memset(out, 0, sizeof(*out));
	if (!buf || len == 0)
		return ostori_error(OSTOR_ERROR_PROTOCOL,
				    "sense: no sense data was received");
	code = buf[0] & 0x7f;
	out->response_code = code;
	switch (code) {
	case 0x70:
	case 0x71:
		if (len < 3)
			return ostori_error(OSTOR_ERROR_PROTOCOL,
					    "sense: fixed-format sense of %zu bytes has no sense key (needs 3)",
					    len);
		out->valid = 1;
		out->deferred = code == 0x71;
		parse_fixed(buf, len, out);
		return 0;
	case 0x72:
	case 0x73:
		if (len < 2)
			return ostori_error(OSTOR_ERROR_PROTOCOL,
					    "sense: descriptor-format sense of %zu byte has no sense key (needs 2)",
					    len);
		out->valid = 1;
		out->descriptor_format = 1;
		out->deferred = code == 0x73;
		parse_descriptor(buf, len, out);
		return 0;
	default:
		return ostori_error(OSTOR_ERROR_PROTOCOL,
				    "sense: unrecognised response code %02Xh (expected 70h-73h)",
				    code);
	}
}

int ostor_scsi_parse_sense(const uint8_t *buf, size_t len,
			   struct ostor_scsi_sense *out)
{
	struct ostor_scsi_sense full;
	int r;

	if (!out)
		return ostori_error(OSTOR_ERROR_INVALID_PARAM,
				    "sense: out is NULL");
	if ((r = ostori_sized_check(&sense_sized, out, __func__, "out")))
		return r;
	r = parse_sense(buf, len, &full);
	ostori_sized_put(&sense_sized, out, &full);
	return r;
}

/* The caller's sense as a whole struct of this build (fields it has not
 * are 0); false, with the error set, when its .size is not set. */
static bool sense_in(const struct ostor_scsi_sense *s, const char *fn,
		     struct ostor_scsi_sense *full)
{
	if (ostori_sized_check(&sense_sized, s, fn, "sense"))
		return false;
	ostori_sized_get(&sense_sized, full, sizeof(*full), s);
	return true;
}

int ostor_scsi_sense_progress(const struct ostor_scsi_sense *caller)
{
	struct ostor_scsi_sense full, *sense = &full;

	if (!caller || !sense_in(caller, __func__, &full))
		return -1;
	if (!sense->valid || !sense->sksv)
		return -1;
	if (sense->key != OSTOR_SCSI_SENSE_NOT_READY &&
	    sense->key != OSTOR_SCSI_SENSE_NO_SENSE)
		return -1;
	return (sense->sks[1] << 8) | sense->sks[2];
}

/* Append formatted text at *pos, never past buflen. */
static void append(char *buf, size_t buflen, size_t *pos, const char *fmt, ...)
	OSTOR_PRINTF(4, 5);

static void append(char *buf, size_t buflen, size_t *pos, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (*pos >= buflen)
		return;
	va_start(ap, fmt);
	n = vsnprintf(buf + *pos, buflen - *pos, fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	*pos += (size_t)n;
	if (*pos >= buflen)
		*pos = buflen - 1;
}

const char *ostor_scsi_sense_text(const struct ostor_scsi_sense *caller, char *buf,
				  size_t buflen)
{
	struct ostor_scsi_sense full, *s = caller ? &full : NULL;
	char asc[128];
	size_t pos = 0;

	if (!buf || buflen == 0)
		return "";
	buf[0] = '\0';
	if (caller && !sense_in(caller, __func__, &full)) {
		append(buf, buflen, &pos,
		       "invalid sense data (.size of struct ostor_scsi_sense not set)");
		return buf;
	}
	if (!s || !s->valid) {
		append(buf, buflen, &pos, "invalid sense data (response code %02Xh)",
		       s ? s->response_code : 0);
		return buf;
	}
	ostor_scsi_asc_ascq_text(s->asc, s->ascq, asc, sizeof(asc));
	append(buf, buflen, &pos, "%s: %s (%02Xh/%02Xh)",
	       ostor_scsi_sense_key_name(s->key), asc, s->asc, s->ascq);
	if (s->deferred)
		append(buf, buflen, &pos, ", deferred error");
	if (s->info_valid)
		append(buf, buflen, &pos, ", information 0x%llx",
		       (unsigned long long)s->information);
	if (s->filemark)
		append(buf, buflen, &pos, ", filemark");
	if (s->eom)
		append(buf, buflen, &pos, ", end of medium");
	if (s->ili)
		append(buf, buflen, &pos, ", incorrect length");
	if (s->sksv) {
		unsigned v = (unsigned)(s->sks[1] << 8 | s->sks[2]);

		switch (s->key) {
		case OSTOR_SCSI_SENSE_ILLEGAL_REQUEST:
			append(buf, buflen, &pos, ", error in %s byte %u",
			       (s->sks[0] & 0x40) ? "CDB" : "parameter data", v);
			if (s->sks[0] & 0x08)
				append(buf, buflen, &pos, " bit %u", s->sks[0] & 0x07);
			break;
		case OSTOR_SCSI_SENSE_NOT_READY:
		case OSTOR_SCSI_SENSE_NO_SENSE:
			append(buf, buflen, &pos, ", progress %u.%u%%",
			       v * 100 / 65536, (v * 1000 / 65536) % 10);
			break;
		case OSTOR_SCSI_SENSE_RECOVERED_ERROR:
		case OSTOR_SCSI_SENSE_MEDIUM_ERROR:
		case OSTOR_SCSI_SENSE_HARDWARE_ERROR:
			append(buf, buflen, &pos, ", actual retry count %u", v);
			break;
		default:
			append(buf, buflen, &pos, ", sense key specific %02X %02X %02X",
			       s->sks[0], s->sks[1], s->sks[2]);
			break;
		}
	}
	return buf;
}

/* ---- building ---------------------------------------------------------- */

static size_t build_fixed(uint8_t *buf, size_t buflen, uint8_t key,
			  uint8_t asc, uint8_t ascq, int info_valid,
			  uint32_t information)
{
	uint8_t s[18];
	size_t n;

	if (!buf || key > 0x0f)
		return 0;
	memset(s, 0, sizeof(s));
	s[0] = (uint8_t)(0x70 | (info_valid ? 0x80 : 0));
	s[2] = key;
	ostori_put_be32(&s[3], information);
	s[7] = 10;
	s[12] = asc;
	s[13] = ascq;
	n = OSTOR_MIN(buflen, sizeof(s));
	memcpy(buf, s, n);
	return n;
}

size_t ostor_scsi_build_sense_fixed(uint8_t *buf, size_t buflen, uint8_t key,
				    uint8_t asc, uint8_t ascq)
{
	return build_fixed(buf, buflen, key, asc, ascq, 0, 0);
}

size_t ostor_scsi_build_sense_fixed_info(uint8_t *buf, size_t buflen,
					 uint8_t key, uint8_t asc, uint8_t ascq,
					 uint32_t information)
{
	return build_fixed(buf, buflen, key, asc, ascq, 1, information);
}

size_t ostor_scsi_build_sense_descriptor(uint8_t *buf, size_t buflen,
					 uint8_t key, uint8_t asc, uint8_t ascq,
					 int info_valid, uint64_t information)
{
	size_t n = info_valid ? 20 : 8;

	if (!buf || key > 0x0f || buflen < n)
		return 0;
	memset(buf, 0, n);
	buf[0] = 0x72;
	buf[1] = key;
	buf[2] = asc;
	buf[3] = ascq;
	buf[7] = (uint8_t)(n - 8);
	if (info_valid) {
		buf[8] = 0x00;   /* information descriptor */
		buf[9] = 0x0a;
		buf[10] = 0x80;  /* VALID */
		ostori_put_be64(&buf[12], information);
	}
	return n;
}

/* ---- ATA PASS-THROUGH return ------------------------------------------- */

int ostor_scsi_parse_ata_return(const uint8_t *sense, size_t len,
				struct ostor_scsi_ata_return *out)
{
	struct ostor_scsi_sense s = OSTOR_SCSI_SENSE_INIT;
	size_t limit, pos;

	if (!out)
		return ostori_error(OSTOR_ERROR_INVALID_PARAM,
				    "ATA return: out is NULL");
	memset(out, 0, sizeof(*out));
	if (ostor_scsi_parse_sense(sense, len, &s))
		return ostori_error_wrap(OSTOR_ERROR_NOT_FOUND,
					 "ATA return: no usable sense data");
	limit = OSTOR_MIN(len, (size_t)8 + (len > 7 ? sense[7] : 0));
	if (s.descriptor_format) {
		for (pos = 8; pos + 2 <= limit; pos += 2 + (size_t)sense[pos + 1]) {
			const uint8_t *d = sense + pos;

			if (pos + 2 + (size_t)d[1] > limit)
				break;
			if (d[0] != 0x09 || d[1] < 0x0c)
				continue;
			out->descriptor_format = 1;
			out->extend = d[2] & 0x01;
			out->error = d[3];
			out->count = d[5];
			out->lba = (uint64_t)d[7] | (uint64_t)d[9] << 8 |
				   (uint64_t)d[11] << 16;
			if (out->extend) {
				out->count |= (uint16_t)(d[4] << 8);
				out->lba |= (uint64_t)d[6] << 24 |
					    (uint64_t)d[8] << 32 |
					    (uint64_t)d[10] << 40;
			}
			out->device = d[12];
			out->status = d[13];
			return 0;
		}
		return ostori_error(OSTOR_ERROR_NOT_FOUND,
				    "ATA return: descriptor sense has no ATA status return descriptor (09h)");
	}
	/* SAT fixed format: ASC/ASCQ 00h/1Dh and the registers in the
	 * INFORMATION and COMMAND-SPECIFIC INFORMATION fields. */
	if (s.asc != 0x00 || s.ascq != 0x1d || limit < 12)
		return ostori_error(OSTOR_ERROR_NOT_FOUND,
				    "ATA return: fixed sense %02Xh/%02Xh is not ATA PASS-THROUGH information (00h/1Dh)",
				    s.asc, s.ascq);
	out->error = sense[3];
	out->status = sense[4];
	out->device = sense[5];
	out->count = sense[6];
	out->extend = !!(sense[8] & 0x80);
	out->count_upper_nonzero = !!(sense[8] & 0x40);
	out->lba_upper_nonzero = !!(sense[8] & 0x20);
	out->lba = (uint64_t)sense[9] | (uint64_t)sense[10] << 8 |
		   (uint64_t)sense[11] << 16;
	return 0;
}
