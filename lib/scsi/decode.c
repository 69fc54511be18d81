/*
 * lib/scsi/decode.c - decoders for SCSI responses (INQUIRY and VPD pages,
 * READ CAPACITY, MODE SENSE, REPORT LUNS, LOG SENSE, READ FORMAT
 * CAPACITIES) and SAM LUN encoding.
 *
 * Every decoder works on "limit" = the bytes really transferred, further
 * cut down by the response's own length field; a length field is never
 * trusted to extend past what arrived.  A field is decoded only when all
 * its bytes lie below the limit.
 */

#include <string.h>

#include "scsi/scsi_priv.h"

#define HAVE(limit, off, n) ((size_t)(off) + (size_t)(n) <= (limit))

size_t ostori_scsi_copy_ascii(char *out, size_t outlen, const uint8_t *src,
			      size_t srclen)
{
	size_t start = 0, end = srclen, n, i;

	while (start < end && (src[start] == ' ' || src[start] == 0))
		start++;
	while (end > start && (src[end - 1] == ' ' || src[end - 1] == 0))
		end--;
	n = end - start;
	if (!out || outlen == 0)
		return n;
	for (i = 0; i < n && i < outlen - 1; i++) {
		uint8_t c = src[start + i];

		out[i] = (c >= 0x20 && c < 0x7f) ? (char)c : '?';
	}
	out[i] = '\0';
	return n;
}

static int null_args(const char *what)
{
	return ostori_error(OSTOR_ERROR_INVALID_PARAM,
			    "%s: NULL buffer or output argument", what);
}

static int too_short(const char *what, size_t len, size_t need)
{
	return ostori_error(OSTOR_ERROR_PROTOCOL,
			    "%s: response of %zu bytes is shorter than the %zu-byte minimum; the device sent a truncated reply",
			    what, len, need);
}

/*
 * The decoder results that grow (lib/util/sized.h): each decoder fills a
 * whole struct of this build, then copies what fits the caller's .size.
 * When a struct gains fields, add the end of its new last field as the
 * next version and move its check.
 */
static const struct ostori_sized inquiry_sized =
	OSTORI_SIZED(struct ostor_scsi_inquiry, OSTOR_SCSI_INQUIRY_INIT,
		     OSTORI_FIELD_END(struct ostor_scsi_inquiry, valid_len));
OSTORI_SIZED_CHECK(struct ostor_scsi_inquiry, valid_len);
static const struct ostori_sized read_capacity_sized =
	OSTORI_SIZED(struct ostor_scsi_read_capacity, OSTOR_SCSI_READ_CAPACITY_INIT,
		     OSTORI_FIELD_END(struct ostor_scsi_read_capacity, valid_len));
OSTORI_SIZED_CHECK(struct ostor_scsi_read_capacity, valid_len);
static const struct ostori_sized block_limits_sized =
	OSTORI_SIZED(struct ostor_scsi_vpd_block_limits, OSTOR_SCSI_VPD_BLOCK_LIMITS_INIT,
		     OSTORI_FIELD_END(struct ostor_scsi_vpd_block_limits, valid_len));
OSTORI_SIZED_CHECK(struct ostor_scsi_vpd_block_limits, valid_len);
static const struct ostori_sized block_characteristics_sized =
	OSTORI_SIZED(struct ostor_scsi_vpd_block_characteristics,
		     OSTOR_SCSI_VPD_BLOCK_CHARACTERISTICS_INIT,
		     OSTORI_FIELD_END(struct ostor_scsi_vpd_block_characteristics, valid_len));
OSTORI_SIZED_CHECK(struct ostor_scsi_vpd_block_characteristics, valid_len);
static const struct ostori_sized lbp_sized =
	OSTORI_SIZED(struct ostor_scsi_vpd_lbp, OSTOR_SCSI_VPD_LBP_INIT,
		     OSTORI_FIELD_END(struct ostor_scsi_vpd_lbp, valid_len));
OSTORI_SIZED_CHECK(struct ostor_scsi_vpd_lbp, valid_len);
static const struct ostori_sized caching_page_sized =
	OSTORI_SIZED(struct ostor_scsi_caching_page, OSTOR_SCSI_CACHING_PAGE_INIT,
		     OSTORI_FIELD_END(struct ostor_scsi_caching_page, byte12_valid));
OSTORI_SIZED_CHECK(struct ostor_scsi_caching_page, byte12_valid);

/* ---- standard INQUIRY -------------------------------------------------- */

static int parse_inquiry(const uint8_t *buf, size_t len, struct ostor_scsi_inquiry *out)
{
	size_t limit;

	memset(out, 0, sizeof(*out));
	if (len < 5)
		return too_short("INQUIRY", len, 5);
	out->peripheral_qualifier = buf[0] >> 5;
	out->peripheral_type = buf[0] & 0x1f;
	out->removable = !!(buf[1] & 0x80);
	out->version = buf[2];
	out->normaca = !!(buf[3] & 0x20);
	out->hisup = !!(buf[3] & 0x10);
	out->response_format = buf[3] & 0x0f;
	out->additional_length = buf[4];
	/*
	 * Plenty of USB bridges under-report ADDITIONAL LENGTH while sending
	 * the full 36 bytes; those bytes did arrive, so they are used (as
	 * Linux does).  Nothing beyond what arrived is ever read.
	 */
	limit = 5 + (size_t)buf[4];
	if (limit < 36)
		limit = 36;
	if (limit > len)
		limit = len;
	out->valid_len = limit;
	if (HAVE(limit, 5, 1))
		out->protect = buf[5] & 0x01;
	if (HAVE(limit, 7, 1))
		out->cmdque = !!(buf[7] & 0x02);
	if (limit > 8)
		ostori_scsi_copy_ascii(out->vendor, sizeof(out->vendor), buf + 8,
				       OSTOR_MIN(limit - 8, (size_t)8));
	if (limit > 16)
		ostori_scsi_copy_ascii(out->product, sizeof(out->product),
				       buf + 16, OSTOR_MIN(limit - 16, (size_t)16));
	if (limit > 32)
		ostori_scsi_copy_ascii(out->revision, sizeof(out->revision),
				       buf + 32, OSTOR_MIN(limit - 32, (size_t)4));
	return 0;
}

int ostor_scsi_parse_inquiry(const uint8_t *buf, size_t len,
			     struct ostor_scsi_inquiry *out)
{
	struct ostor_scsi_inquiry full;
	int r;

	if (!out || (!buf && len))
		return null_args("INQUIRY");
	if ((r = ostori_sized_check(&inquiry_sized, out, __func__, "out")))
		return r;
	r = parse_inquiry(buf, len, &full);
	ostori_sized_put(&inquiry_sized, out, &full);
	return r;
}

/* ---- VPD --------------------------------------------------------------- */

int ostor_scsi_parse_vpd_header(const uint8_t *buf, size_t len,
				uint8_t expected_page,
				struct ostor_scsi_vpd_header *out)
{
	if (!out || (!buf && len))
		return null_args("VPD page");
	memset(out, 0, sizeof(*out));
	if (len < 4)
		return too_short("VPD page", len, 4);
	out->peripheral_qualifier = buf[0] >> 5;
	out->peripheral_type = buf[0] & 0x1f;
	out->page_code = buf[1];
	out->page_length = ostori_get_be16(&buf[2]);
	out->data_len = OSTOR_MIN((size_t)out->page_length, len - 4);
	if (buf[1] != expected_page)
		return ostori_error(OSTOR_ERROR_PROTOCOL,
				    "VPD page: asked for page %02Xh, the device returned page %02Xh",
				    expected_page, buf[1]);
	return 0;
}

int ostor_scsi_parse_vpd_supported(const uint8_t *buf, size_t len,
				   uint8_t *pages, size_t max, size_t *total)
{
	struct ostor_scsi_vpd_header h;
	size_t i, n;
	int r;

	if (total)
		*total = 0;
	if (!pages && max)
		return null_args("VPD 00h");
	r = ostor_scsi_parse_vpd_header(buf, len, 0x00, &h);
	if (r)
		return r;
	n = OSTOR_MIN(h.data_len, max);
	for (i = 0; i < n; i++)
		pages[i] = buf[4 + i];
	if (total)
		*total = h.data_len;
	return (int)n;
}

int ostor_scsi_vpd_supports(const uint8_t *buf, size_t len, uint8_t page)
{
	struct ostor_scsi_vpd_header h;
	size_t i;

	if (ostor_scsi_parse_vpd_header(buf, len, 0x00, &h))
		return 0;
	for (i = 0; i < h.data_len; i++)
		if (buf[4 + i] == page)
			return 1;
	return 0;
}

int ostor_scsi_parse_vpd_serial(const uint8_t *buf, size_t len, char *out,
				size_t outlen)
{
	struct ostor_scsi_vpd_header h;
	size_t n;
	int r;

	if (!out || outlen == 0)
		return null_args("VPD 80h");
	out[0] = '\0';
	r = ostor_scsi_parse_vpd_header(buf, len, 0x80, &h);
	if (r)
		return r;
	n = ostori_scsi_copy_ascii(out, outlen, buf + 4, h.data_len);
	return (int)n;
}

/* Iterators over lists of variable-length items. */
static void iter_init(struct ostor_scsi_iter *it, const uint8_t *buf,
		      size_t start, size_t end)
{
	it->buf = buf;
	it->pos = start;
	it->end = end < start ? start : end;
	it->truncated = 0;
}

int ostor_scsi_vpd_devid_iter_init(struct ostor_scsi_iter *it,
				   const uint8_t *buf, size_t len)
{
	struct ostor_scsi_vpd_header h;
	int r;

	if (!it)
		return null_args("VPD 83h");
	memset(it, 0, sizeof(*it));
	r = ostor_scsi_parse_vpd_header(buf, len, 0x83, &h);
	if (r)
		return r;
	iter_init(it, buf, 4, 4 + h.data_len);
	/* The device announced more than it sent. */
	if (h.data_len < h.page_length)
		it->truncated = 1;
	return 0;
}

int ostor_scsi_vpd_devid_next(struct ostor_scsi_iter *it,
			      struct ostor_scsi_designator *d)
{
	const uint8_t *p;
	size_t dlen;

	if (!it || !d || !it->buf || it->pos >= it->end)
		return 0;
	if (!HAVE(it->end, it->pos, 4)) {
		it->truncated = 1;
		it->pos = it->end;
		return 0;
	}
	p = it->buf + it->pos;
	dlen = p[3];
	if (!HAVE(it->end, it->pos + 4, dlen)) {
		it->truncated = 1;
		it->pos = it->end;
		return 0;
	}
	d->protocol_id = p[0] >> 4;
	d->code_set = p[0] & 0x0f;
	d->piv = !!(p[1] & 0x80);
	d->association = (p[1] >> 4) & 0x03;
	d->type = p[1] & 0x0f;
	d->len = (uint8_t)dlen;
	d->data = p + 4;
	it->pos += 4 + dlen;
	return 1;
}

int ostor_scsi_parse_vpd_devid(const uint8_t *buf, size_t len,
			       struct ostor_scsi_designator *d, size_t max,
			       size_t *total)
{
	struct ostor_scsi_iter it;
	struct ostor_scsi_designator tmp;
	size_t n = 0, stored = 0;
	int r;

	if (total)
		*total = 0;
	if (!d && max)
		return null_args("VPD 83h");
	r = ostor_scsi_vpd_devid_iter_init(&it, buf, len);
	if (r)
		return r;
	while (ostor_scsi_vpd_devid_next(&it, &tmp) == 1) {
		if (stored < max)
			d[stored++] = tmp;
		n++;
	}
	if (total)
		*total = n;
	return (int)stored;
}

const char *ostor_scsi_designator_type_name(uint8_t type)
{
	static const char *const names[] = {
		"vendor specific", "T10 vendor ID", "EUI-64", "NAA",
		"relative target port", "target port group",
		"logical unit group", "MD5 logical unit identifier",
		"SCSI name string", "protocol specific port identifier",
		"UUID",
	};

	if (type < OSTOR_ARRAY_SIZE(names))
		return names[type];
	return "reserved";
}

int ostor_scsi_parse_vpd_ata_info(const uint8_t *buf, size_t len,
				  struct ostor_scsi_vpd_ata_info *out)
{
	struct ostor_scsi_vpd_header h;
	size_t limit;
	int r;

	if (!out)
		return null_args("VPD 89h");
	memset(out, 0, sizeof(*out));
	r = ostor_scsi_parse_vpd_header(buf, len, 0x89, &h);
	if (r)
		return r;
	limit = 4 + h.data_len;
	out->valid_len = limit;
	if (limit > 8)
		ostori_scsi_copy_ascii(out->sat_vendor, sizeof(out->sat_vendor),
				       buf + 8, OSTOR_MIN(limit - 8, (size_t)8));
	if (limit > 16)
		ostori_scsi_copy_ascii(out->sat_product, sizeof(out->sat_product),
				       buf + 16, OSTOR_MIN(limit - 16, (size_t)16));
	if (limit > 32)
		ostori_scsi_copy_ascii(out->sat_revision, sizeof(out->sat_revision),
				       buf + 32, OSTOR_MIN(limit - 32, (size_t)4));
	if (HAVE(limit, 36, 20)) {
		memcpy(out->signature, buf + 36, 20);
		out->signature_valid = 1;
	}
	if (HAVE(limit, 56, 1))
		out->command_code = buf[56];
	if (HAVE(limit, 60, 512)) {
		memcpy(out->identify, buf + 60, 512);
		out->identify_valid = 1;
	}
	return 0;
}

static int parse_block_limits(const uint8_t *buf, size_t len,
			      struct ostor_scsi_vpd_block_limits *out)
{
	struct ostor_scsi_vpd_header h;
	size_t limit;
	int r;

	memset(out, 0, sizeof(*out));
	r = ostor_scsi_parse_vpd_header(buf, len, 0xb0, &h);
	if (r)
		return r;
	limit = 4 + h.data_len;
	out->valid_len = limit;
	if (HAVE(limit, 4, 1))
		out->wsnz = buf[4] & 0x01;
	if (HAVE(limit, 5, 1))
		out->max_compare_write_len = buf[5];
	if (HAVE(limit, 6, 2))
		out->optimal_transfer_granularity = ostori_get_be16(&buf[6]);
	if (HAVE(limit, 8, 4))
		out->max_transfer_len = ostori_get_be32(&buf[8]);
	if (HAVE(limit, 12, 4))
		out->optimal_transfer_len = ostori_get_be32(&buf[12]);
	if (HAVE(limit, 16, 4))
		out->max_prefetch_len = ostori_get_be32(&buf[16]);
	if (HAVE(limit, 20, 4))
		out->max_unmap_lba_count = ostori_get_be32(&buf[20]);
	if (HAVE(limit, 24, 4))
		out->max_unmap_descriptor_count = ostori_get_be32(&buf[24]);
	if (HAVE(limit, 28, 4))
		out->optimal_unmap_granularity = ostori_get_be32(&buf[28]);
	if (HAVE(limit, 32, 4)) {
		out->ugavalid = !!(buf[32] & 0x80);
		out->unmap_granularity_alignment =
			ostori_get_be32(&buf[32]) & 0x7fffffff;
	}
	if (HAVE(limit, 36, 8))
		out->max_write_same_len = ostori_get_be64(&buf[36]);
	return 0;
}

int ostor_scsi_parse_vpd_block_limits(const uint8_t *buf, size_t len,
				      struct ostor_scsi_vpd_block_limits *out)
{
	struct ostor_scsi_vpd_block_limits full;
	int r;

	if (!out)
		return null_args("VPD B0h");
	if ((r = ostori_sized_check(&block_limits_sized, out, __func__, "out")))
		return r;
	r = parse_block_limits(buf, len, &full);
	ostori_sized_put(&block_limits_sized, out, &full);
	return r;
}

static int parse_block_characteristics(const uint8_t *buf, size_t len,
				       struct ostor_scsi_vpd_block_characteristics *out)
{
	struct ostor_scsi_vpd_header h;
	size_t limit;
	int r;

	memset(out, 0, sizeof(*out));
	r = ostor_scsi_parse_vpd_header(buf, len, 0xb1, &h);
	if (r)
		return r;
	limit = 4 + h.data_len;
	out->valid_len = limit;
	if (HAVE(limit, 4, 2)) {
		out->rotation_rate = ostori_get_be16(&buf[4]);
		out->non_rotating = out->rotation_rate == 1;
	}
	if (HAVE(limit, 6, 1))
		out->product_type = buf[6];
	if (HAVE(limit, 7, 1)) {
		out->wabereq = buf[7] >> 6;
		out->wacereq = (buf[7] >> 4) & 0x03;
		out->form_factor = buf[7] & 0x0f;
	}
	if (HAVE(limit, 8, 1)) {
		out->zoned = (buf[8] >> 4) & 0x03;
		out->fuab = !!(buf[8] & 0x02);
		out->vbuls = buf[8] & 0x01;
	}
	return 0;
}

int ostor_scsi_parse_vpd_block_characteristics(const uint8_t *buf, size_t len,
					       struct ostor_scsi_vpd_block_characteristics *out)
{
	struct ostor_scsi_vpd_block_characteristics full;
	int r;

	if (!out)
		return null_args("VPD B1h");
	if ((r = ostori_sized_check(&block_characteristics_sized, out, __func__, "out")))
		return r;
	r = parse_block_characteristics(buf, len, &full);
	ostori_sized_put(&block_characteristics_sized, out, &full);
	return r;
}

const char *ostor_scsi_form_factor_name(uint8_t form_factor)
{
	static const char *const names[] = {
		"not reported", "5.25 inch", "3.5 inch", "2.5 inch",
		"1.8 inch", "less than 1.8 inch",
	};

	if (form_factor < OSTOR_ARRAY_SIZE(names))
		return names[form_factor];
	return "reserved";
}

static int parse_lbp(const uint8_t *buf, size_t len, struct ostor_scsi_vpd_lbp *out)
{
	struct ostor_scsi_vpd_header h;
	size_t limit;
	int r;

	memset(out, 0, sizeof(*out));
	r = ostor_scsi_parse_vpd_header(buf, len, 0xb2, &h);
	if (r)
		return r;
	limit = 4 + h.data_len;
	out->valid_len = limit;
	if (HAVE(limit, 4, 1))
		out->threshold_exponent = buf[4];
	if (HAVE(limit, 5, 1)) {
		out->lbpu = !!(buf[5] & 0x80);
		out->lbpws = !!(buf[5] & 0x40);
		out->lbpws10 = !!(buf[5] & 0x20);
		out->lbprz = (buf[5] >> 2) & 0x07;
		out->anc_sup = !!(buf[5] & 0x02);
		out->dp = buf[5] & 0x01;
	}
	if (HAVE(limit, 6, 1)) {
		out->minimum_percentage = buf[6] >> 3;
		out->provisioning_type = buf[6] & 0x07;
	}
	if (HAVE(limit, 7, 1))
		out->threshold_percentage = buf[7];
	return 0;
}

int ostor_scsi_parse_vpd_lbp(const uint8_t *buf, size_t len,
			     struct ostor_scsi_vpd_lbp *out)
{
	struct ostor_scsi_vpd_lbp full;
	int r;

	if (!out)
		return null_args("VPD B2h");
	if ((r = ostori_sized_check(&lbp_sized, out, __func__, "out")))
		return r;
	r = parse_lbp(buf, len, &full);
	ostori_sized_put(&lbp_sized, out, &full);
	return r;
}

/* ---- READ CAPACITY ----------------------------------------------------- */

static int parse_read_capacity10(const uint8_t *buf, size_t len,
				 struct ostor_scsi_read_capacity *out)
{
	memset(out, 0, sizeof(*out));
	if (len < 8)
		return too_short("READ CAPACITY(10)", len, 8);
	out->last_lba = ostori_get_be32(&buf[0]);
	out->block_size = ostori_get_be32(&buf[4]);
	out->blocks = out->last_lba + 1;
	/* FFFFFFFFh means "more than 32 bits: ask READ CAPACITY(16)". */
	out->rc16_needed = out->last_lba == 0xffffffffu;
	out->valid_len = 8;
	return 0;
}

static int parse_read_capacity16(const uint8_t *buf, size_t len,
				 struct ostor_scsi_read_capacity *out)
{
	memset(out, 0, sizeof(*out));
	if (len < 12)
		return too_short("READ CAPACITY(16)", len, 12);
	out->last_lba = ostori_get_be64(&buf[0]);
	out->block_size = ostori_get_be32(&buf[8]);
	out->blocks = out->last_lba == UINT64_MAX ? 0 : out->last_lba + 1;
	out->valid_len = OSTOR_MIN(len, (size_t)32);
	if (len > 12) {
		out->p_type = (buf[12] >> 1) & 0x07;
		out->prot_en = buf[12] & 0x01;
	}
	if (len > 13) {
		out->p_i_exponent = buf[13] >> 4;
		out->lbppbe = buf[13] & 0x0f;
	}
	if (len > 15) {
		out->lbpme = !!(buf[14] & 0x80);
		out->lbprz = !!(buf[14] & 0x40);
		out->lowest_aligned_lba = ostori_get_be16(&buf[14]) & 0x3fff;
	}
	return 0;
}

int ostor_scsi_parse_read_capacity10(const uint8_t *buf, size_t len,
				     struct ostor_scsi_read_capacity *out)
{
	struct ostor_scsi_read_capacity full;
	int r;

	if (!out || (!buf && len))
		return null_args("READ CAPACITY(10)");
	if ((r = ostori_sized_check(&read_capacity_sized, out, __func__, "out")))
		return r;
	r = parse_read_capacity10(buf, len, &full);
	ostori_sized_put(&read_capacity_sized, out, &full);
	return r;
}

int ostor_scsi_parse_read_capacity16(const uint8_t *buf, size_t len,
				     struct ostor_scsi_read_capacity *out)
{
	struct ostor_scsi_read_capacity full;
	int r;

	if (!out || (!buf && len))
		return null_args("READ CAPACITY(16)");
	if ((r = ostori_sized_check(&read_capacity_sized, out, __func__, "out")))
		return r;
	r = parse_read_capacity16(buf, len, &full);
	ostori_sized_put(&read_capacity_sized, out, &full);
	return r;
}

/* ---- MODE SENSE -------------------------------------------------------- */

static void mode_finish(size_t len, struct ostor_scsi_mode_header *out)
{
	size_t bd_end;

	/* MODE DATA LENGTH excludes itself. */
	out->data_len = OSTOR_MIN(len, (size_t)out->mode_data_length +
				  (out->header_len == 4 ? 1 : 2));
	if (out->data_len < out->header_len)
		out->data_len = out->header_len;
	bd_end = out->header_len + out->block_descriptor_length;
	out->block_descriptors_len = OSTOR_MIN(bd_end, out->data_len) -
				     out->header_len;
	out->pages_offset = OSTOR_MIN(bd_end, out->data_len);
	out->pages_len = out->data_len - out->pages_offset;
}

int ostor_scsi_parse_mode_sense6(const uint8_t *buf, size_t len,
				 struct ostor_scsi_mode_header *out)
{
	if (!out || (!buf && len))
		return null_args("MODE SENSE(6)");
	memset(out, 0, sizeof(*out));
	if (len < 4)
		return too_short("MODE SENSE(6)", len, 4);
	out->header_len = 4;
	out->mode_data_length = buf[0];
	out->medium_type = buf[1];
	out->device_specific = buf[2];
	out->write_protected = !!(buf[2] & 0x80);
	out->dpofua = !!(buf[2] & 0x10);
	out->block_descriptor_length = buf[3];
	mode_finish(len, out);
	return 0;
}

int ostor_scsi_parse_mode_sense10(const uint8_t *buf, size_t len,
				  struct ostor_scsi_mode_header *out)
{
	if (!out || (!buf && len))
		return null_args("MODE SENSE(10)");
	memset(out, 0, sizeof(*out));
	if (len < 8)
		return too_short("MODE SENSE(10)", len, 8);
	out->header_len = 8;
	out->mode_data_length = ostori_get_be16(&buf[0]);
	out->medium_type = buf[2];
	out->device_specific = buf[3];
	out->write_protected = !!(buf[3] & 0x80);
	out->dpofua = !!(buf[3] & 0x10);
	out->longlba = buf[4] & 0x01;
	out->block_descriptor_length = ostori_get_be16(&buf[6]);
	mode_finish(len, out);
	return 0;
}

/* A header not produced by our parser for this buffer could point
 * anywhere: re-check it against len before using its offsets. */
static int mode_header_sane(size_t len, const struct ostor_scsi_mode_header *h)
{
	return (h->header_len == 4 || h->header_len == 8) &&
	       h->data_len <= len && h->pages_offset <= h->data_len &&
	       h->pages_offset + h->pages_len <= h->data_len &&
	       h->header_len + h->block_descriptors_len <= h->data_len;
}

int ostor_scsi_mode_block_descriptor(const uint8_t *buf, size_t len,
				     const struct ostor_scsi_mode_header *h,
				     size_t index,
				     struct ostor_scsi_block_descriptor *out)
{
	size_t dsz, off;
	const uint8_t *p;

	if (!buf || !h || !out)
		return null_args("MODE SENSE block descriptor");
	memset(out, 0, sizeof(*out));
	if (!mode_header_sane(len, h))
		return ostori_error(OSTOR_ERROR_INVALID_PARAM,
				    "MODE SENSE block descriptor: header does not match this buffer; parse the same buffer first");
	dsz = h->longlba ? 16 : 8;
	if (index >= h->block_descriptors_len / dsz)
		return ostori_error(OSTOR_ERROR_NOT_FOUND,
				    "MODE SENSE: block descriptor %zu not present (%zu bytes of descriptors transferred)",
				    index, h->block_descriptors_len);
	off = h->header_len + index * dsz;
	p = buf + off;
	if (h->longlba) {
		out->blocks = ostori_get_be64(p);
		out->block_length = ostori_get_be32(p + 12);
	} else {
		out->density_code = p[0];
		out->blocks = ostori_get_be32(p);
		out->block_length = ostori_get_be24(p + 5);
	}
	return 0;
}

int ostor_scsi_mode_page_iter_init(struct ostor_scsi_iter *it,
				   const uint8_t *buf, size_t len,
				   const struct ostor_scsi_mode_header *h)
{
	if (!it || !buf || !h)
		return null_args("MODE SENSE page iterator");
	memset(it, 0, sizeof(*it));
	if (!mode_header_sane(len, h))
		return ostori_error(OSTOR_ERROR_INVALID_PARAM,
				    "MODE SENSE page iterator: header does not match this buffer; parse the same buffer first");
	iter_init(it, buf, h->pages_offset, h->pages_offset + h->pages_len);
	return 0;
}

int ostor_scsi_mode_page_next(struct ostor_scsi_iter *it,
			      struct ostor_scsi_mode_page *p)
{
	const uint8_t *q;
	size_t hdr, plen;

	if (!it || !p || !it->buf || it->pos >= it->end)
		return 0;
	q = it->buf + it->pos;
	hdr = (q[0] & 0x40) ? 4 : 2;
	if (!HAVE(it->end, it->pos, hdr))
		goto truncated;
	plen = hdr == 4 ? ostori_get_be16(q + 2) : q[1];
	if (!HAVE(it->end, it->pos + hdr, plen))
		goto truncated;
	memset(p, 0, sizeof(*p));
	p->ps = !!(q[0] & 0x80);
	p->spf = hdr == 4;
	p->page = q[0] & 0x3f;
	p->subpage = hdr == 4 ? q[1] : 0;
	p->page_length = (uint16_t)plen;
	p->data = q;
	p->len = hdr + plen;
	it->pos += p->len;
	return 1;
truncated:
	it->truncated = 1;
	it->pos = it->end;
	return 0;
}

static int parse_caching_page(const struct ostor_scsi_mode_page *p,
			      struct ostor_scsi_caching_page *out)
{
	const uint8_t *d;

	memset(out, 0, sizeof(*out));
	if (p->page != 0x08 || p->subpage != 0 || p->spf)
		return ostori_error(OSTOR_ERROR_INVALID_PARAM,
				    "caching mode page: got page %02Xh/%02Xh, expected 08h/00h",
				    p->page, p->subpage);
	if (p->len < 3)
		return ostori_error(OSTOR_ERROR_PROTOCOL,
				    "caching mode page: %zu bytes, too short for WCE/RCD",
				    p->len);
	d = p->data;
	out->ic = !!(d[2] & 0x80);
	out->abpf = !!(d[2] & 0x40);
	out->cap = !!(d[2] & 0x20);
	out->disc = !!(d[2] & 0x10);
	out->size_enable = !!(d[2] & 0x08);
	out->wce = !!(d[2] & 0x04);
	out->mf = !!(d[2] & 0x02);
	out->rcd = d[2] & 0x01;
	if (p->len > 3) {
		out->demand_read_retention = d[3] >> 4;
		out->write_retention = d[3] & 0x0f;
	}
	if (p->len > 12) {
		out->fsw = !!(d[12] & 0x80);
		out->lbcss = !!(d[12] & 0x40);
		out->dra = !!(d[12] & 0x20);
		out->nv_dis = d[12] & 0x01;
		out->byte12_valid = 1;
	}
	return 0;
}

int ostor_scsi_parse_caching_page(const struct ostor_scsi_mode_page *p,
				  struct ostor_scsi_caching_page *out)
{
	struct ostor_scsi_caching_page full;
	int r;

	if (!p || !out || !p->data)
		return null_args("caching mode page");
	if ((r = ostori_sized_check(&caching_page_sized, out, __func__, "out")))
		return r;
	r = parse_caching_page(p, &full);
	ostori_sized_put(&caching_page_sized, out, &full);
	return r;
}

/* ---- REPORT LUNS, LUN addressing --------------------------------------- */

int64_t ostor_scsi_lun_decode(const uint8_t lun[8])
{
	int i;

	if (!lun)
		return -1;
	/* Only single-level LUNs: the second to fourth levels must be 0. */
	for (i = 2; i < 8; i++)
		if (lun[i])
			return -1;
	switch (lun[0] >> 6) {
	case 0: /* peripheral device addressing, bus 0 */
		if (lun[0] & 0x3f)
			return -1;
		return lun[1];
	case 1: /* flat space addressing */
		return ((int64_t)(lun[0] & 0x3f) << 8) | lun[1];
	default:
		return -1;
	}
}

int ostor_scsi_lun_encode_checked(uint32_t lun, uint8_t out[8])
{
	if (!out)
		return ostori_error(OSTOR_ERROR_INVALID_PARAM, "LUN encode: out is NULL");
	memset(out, 0, 8);
	if (lun < 256) {
		out[1] = (uint8_t)lun;
		return 0;
	}
	if (lun < 16384) {
		out[0] = (uint8_t)(0x40 | (lun >> 8));
		out[1] = (uint8_t)lun;
		return 0;
	}
	memset(out, 0xff, 8);
	return ostori_error(OSTOR_ERROR_INVALID_PARAM,
			    "LUN %u cannot be encoded with peripheral or flat addressing (max 16383)",
			    lun);
}

void ostor_scsi_lun_encode(uint32_t lun, uint8_t out[8])
{
	if (!out)
		return;
	if (lun >= 16384) {
		/* Not an error-reporting path: make the address unusable
		 * rather than silently pointing at LUN 0. */
		memset(out, 0xff, 8);
		return;
	}
	(void)ostor_scsi_lun_encode_checked(lun, out);
}

int ostor_scsi_parse_report_luns(const uint8_t *buf, size_t len, uint64_t *luns,
				 size_t max, size_t *total)
{
	size_t n, i, stored;

	if (total)
		*total = 0;
	if ((!buf && len) || (!luns && max))
		return null_args("REPORT LUNS");
	if (len < 8)
		return too_short("REPORT LUNS", len, 8);
	n = OSTOR_MIN((size_t)ostori_get_be32(buf), len - 8) / 8;
	stored = OSTOR_MIN(n, max);
	for (i = 0; i < stored; i++) {
		const uint8_t *e = buf + 8 + 8 * i;
		int64_t v = ostor_scsi_lun_decode(e);

		luns[i] = v >= 0 ? (uint64_t)v : ostori_get_be64(e);
	}
	if (total)
		*total = n;
	return (int)stored;
}

/* ---- LOG SENSE --------------------------------------------------------- */

int ostor_scsi_parse_log_sense(const uint8_t *buf, size_t len,
			       struct ostor_scsi_log_header *out)
{
	if (!out || (!buf && len))
		return null_args("LOG SENSE");
	memset(out, 0, sizeof(*out));
	if (len < 4)
		return too_short("LOG SENSE", len, 4);
	out->ds = !!(buf[0] & 0x80);
	out->spf = !!(buf[0] & 0x40);
	out->page = buf[0] & 0x3f;
	out->subpage = buf[1];
	out->page_length = ostori_get_be16(&buf[2]);
	out->params_len = OSTOR_MIN((size_t)out->page_length, len - 4);
	return 0;
}

int ostor_scsi_log_param_iter_init(struct ostor_scsi_iter *it,
				   const uint8_t *buf, size_t len)
{
	struct ostor_scsi_log_header h;
	int r;

	if (!it)
		return null_args("LOG SENSE parameter iterator");
	memset(it, 0, sizeof(*it));
	r = ostor_scsi_parse_log_sense(buf, len, &h);
	if (r)
		return r;
	iter_init(it, buf, 4, 4 + h.params_len);
	if (h.params_len < h.page_length)
		it->truncated = 1;
	return 0;
}

int ostor_scsi_log_param_next(struct ostor_scsi_iter *it,
			      struct ostor_scsi_log_param *p)
{
	const uint8_t *q;
	size_t plen;

	if (!it || !p || !it->buf || it->pos >= it->end)
		return 0;
	if (!HAVE(it->end, it->pos, 4))
		goto truncated;
	q = it->buf + it->pos;
	plen = q[3];
	if (!HAVE(it->end, it->pos + 4, plen))
		goto truncated;
	memset(p, 0, sizeof(*p));
	p->code = ostori_get_be16(q);
	p->control = q[2];
	p->du = !!(q[2] & 0x80);
	p->tsd = !!(q[2] & 0x20);
	p->etc = !!(q[2] & 0x10);
	p->tmc = (q[2] >> 2) & 0x03;
	p->format_linking = q[2] & 0x03;
	p->len = (uint8_t)plen;
	p->value = q + 4;
	it->pos += 4 + plen;
	return 1;
truncated:
	it->truncated = 1;
	it->pos = it->end;
	return 0;
}

int ostor_scsi_log_param_value(const struct ostor_scsi_log_param *p,
			       uint64_t *value)
{
	uint64_t v = 0;
	size_t i;

	if (!p || !value || (p->len && !p->value))
		return null_args("LOG SENSE parameter value");
	*value = 0;
	if (p->len > 8)
		return ostori_error(OSTOR_ERROR_OVERFLOW,
				    "LOG SENSE parameter %04Xh: %u-byte value does not fit 64 bits",
				    p->code, p->len);
	for (i = 0; i < p->len; i++)
		v = (v << 8) | p->value[i];
	*value = v;
	return 0;
}

/* ---- READ FORMAT CAPACITIES -------------------------------------------- */

int ostor_scsi_parse_read_format_capacities(const uint8_t *buf, size_t len,
					    struct ostor_scsi_format_capacity *descs,
					    size_t max, size_t *total)
{
	size_t n, i, stored;

	if (total)
		*total = 0;
	if ((!buf && len) || (!descs && max))
		return null_args("READ FORMAT CAPACITIES");
	if (len < 4)
		return too_short("READ FORMAT CAPACITIES", len, 4);
	n = OSTOR_MIN((size_t)buf[3], len - 4) / 8;
	stored = OSTOR_MIN(n, max);
	for (i = 0; i < stored; i++) {
		const uint8_t *d = buf + 4 + 8 * i;

		memset(&descs[i], 0, sizeof(descs[i]));
		descs[i].blocks = ostori_get_be32(d);
		if (i == 0)
			descs[i].descriptor_type = d[4] & 0x03;
		else
			descs[i].format_type = d[4] >> 2;
		descs[i].block_length = ostori_get_be24(d + 5);
	}
	if (total)
		*total = n;
	return (int)stored;
}
