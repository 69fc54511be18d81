/*
 * VPD pages.  Byte 0 picks the decoder (header, 00h supported pages, 83h
 * device identification through the iterator and the convenience
 * function, B0h block limits, B1h block device characteristics, B2h
 * logical block provisioning, 89h ATA information, 80h unit serial
 * number) and a list or buffer size; the rest is the page.
 */
#include "fuzz.h"

#include <stdlib.h>

#include <orionstor.h>
#include <orionstor/scsi.h>

static void sink_designator(const struct ostor_scsi_designator *d, const uint8_t *buf, size_t len)
{
	SINK(d->protocol_id); SINK(d->code_set); SINK(d->piv); SINK(d->association);
	SINK(d->type); SINK(d->len);
	if (d->len && (d->data < buf || d->data + d->len > buf + len))
		__builtin_trap(); /* points outside the page */
	if (d->data)
		sink_bytes(d->data, d->len);
	sink_str(ostor_scsi_designator_type_name(d->type), 256);
}

static void vpd_header(const uint8_t *buf, size_t len, uint8_t sel)
{
	struct ostor_scsi_vpd_header h;

	memset(&h, 0, sizeof(h));
	SINK(ostor_scsi_parse_vpd_header(buf, len, sel, &h));
	SINK(h.peripheral_qualifier); SINK(h.peripheral_type); SINK(h.page_code);
	SINK(h.page_length); SINK(h.data_len);
	if (h.data_len + (h.data_len ? 4 : 0) > len)
		__builtin_trap();
}

static void vpd_supported(const uint8_t *buf, size_t len, uint8_t sel)
{
	size_t max = sel, total = 0;
	uint8_t *pages = malloc(max ? max : 1);
	int n;

	if (!pages)
		return;
	n = ostor_scsi_parse_vpd_supported(buf, len, max ? pages : NULL, max, &total);
	SINK(n); SINK(total);
	if (n > 0) {
		if ((size_t)n > max)
			__builtin_trap();
		sink_bytes(pages, (size_t)n);
	}
	free(pages);
	SINK(ostor_scsi_vpd_supports(buf, len, sel));
}

static void vpd_devid(const uint8_t *buf, size_t len, uint8_t sel)
{
	struct ostor_scsi_iter it;
	struct ostor_scsi_designator d, *arr;
	size_t max = sel % 16, total = 0;
	int n;

	if (ostor_scsi_vpd_devid_iter_init(&it, buf, len) == 0) {
		unsigned guard = 0;

		while (ostor_scsi_vpd_devid_next(&it, &d) == 1) {
			sink_designator(&d, buf, len);
			if (++guard > len + 1)
				__builtin_trap(); /* the iterator does not advance */
		}
		SINK(it.truncated); SINK(it.pos); SINK(it.end);
	}
	arr = malloc((max ? max : 1) * sizeof(*arr));
	if (!arr)
		return;
	n = ostor_scsi_parse_vpd_devid(buf, len, max ? arr : NULL, max, &total);
	SINK(n); SINK(total);
	if (n > 0) {
		if ((size_t)n > max)
			__builtin_trap();
		for (int i = 0; i < n; i++)
			sink_designator(&arr[i], buf, len);
	}
	free(arr);
}

static void vpd_block_limits(const uint8_t *buf, size_t len)
{
	struct ostor_scsi_vpd_block_limits b = OSTOR_SCSI_VPD_BLOCK_LIMITS_INIT;

	SINK(ostor_scsi_parse_vpd_block_limits(buf, len, &b));
	SINK(b.size); SINK(b.wsnz); SINK(b.max_compare_write_len);
	SINK(b.optimal_transfer_granularity); SINK(b.max_transfer_len);
	SINK(b.optimal_transfer_len); SINK(b.max_prefetch_len);
	SINK(b.max_unmap_lba_count); SINK(b.max_unmap_descriptor_count);
	SINK(b.optimal_unmap_granularity); SINK(b.ugavalid);
	SINK(b.unmap_granularity_alignment); SINK(b.max_write_same_len);
	SINK(b.valid_len);
	if (b.valid_len > len)
		__builtin_trap();
}

static void vpd_block_characteristics(const uint8_t *buf, size_t len)
{
	struct ostor_scsi_vpd_block_characteristics b = OSTOR_SCSI_VPD_BLOCK_CHARACTERISTICS_INIT;

	SINK(ostor_scsi_parse_vpd_block_characteristics(buf, len, &b));
	SINK(b.size); SINK(b.rotation_rate); SINK(b.non_rotating); SINK(b.product_type);
	SINK(b.wabereq); SINK(b.wacereq); SINK(b.form_factor); SINK(b.zoned);
	SINK(b.fuab); SINK(b.vbuls); SINK(b.valid_len);
	sink_str(ostor_scsi_form_factor_name(b.form_factor), 256);
	if (b.valid_len > len)
		__builtin_trap();
}

static void vpd_lbp(const uint8_t *buf, size_t len)
{
	struct ostor_scsi_vpd_lbp l = OSTOR_SCSI_VPD_LBP_INIT;

	SINK(ostor_scsi_parse_vpd_lbp(buf, len, &l));
	SINK(l.size); SINK(l.threshold_exponent); SINK(l.lbpu); SINK(l.lbpws);
	SINK(l.lbpws10); SINK(l.lbprz); SINK(l.anc_sup); SINK(l.dp);
	SINK(l.minimum_percentage); SINK(l.provisioning_type);
	SINK(l.threshold_percentage); SINK(l.valid_len);
	if (l.valid_len > len)
		__builtin_trap();
}

static void vpd_ata_info(const uint8_t *buf, size_t len)
{
	struct ostor_scsi_vpd_ata_info *a = calloc(1, sizeof(*a));

	if (!a)
		return;
	SINK(ostor_scsi_parse_vpd_ata_info(buf, len, a));
	SINK_STR(a->sat_vendor); SINK_STR(a->sat_product); SINK_STR(a->sat_revision);
	SINK(a->signature_valid); sink_bytes(a->signature, sizeof(a->signature));
	SINK(a->command_code); SINK(a->identify_valid);
	sink_bytes(a->identify, sizeof(a->identify)); SINK(a->valid_len);
	if (a->valid_len > len)
		__builtin_trap();
	free(a);
}

static void vpd_serial(const uint8_t *buf, size_t len, uint8_t sel)
{
	size_t outlen = sel;
	char *out = malloc(outlen ? outlen : 1);
	int r;

	if (!out)
		return;
	r = ostor_scsi_parse_vpd_serial(buf, len, outlen ? out : NULL, outlen);
	SINK(r);
	if (r >= 0 && outlen)
		sink_str(out, outlen);
	free(out);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const uint8_t *buf;
	size_t len;
	uint8_t sel;

	if (size < 2)
		return 0;
	sel = data[1];
	buf = data + 2;
	len = size - 2;
	switch (data[0] % 8) {
	case 0: vpd_header(buf, len, sel); break;
	case 1: vpd_supported(buf, len, sel); break;
	case 2: vpd_devid(buf, len, sel); break;
	case 3: vpd_block_limits(buf, len); break;
	case 4: vpd_block_characteristics(buf, len); break;
	case 5: vpd_lbp(buf, len); break;
	case 6: vpd_ata_info(buf, len); break;
	case 7: vpd_serial(buf, len, sel); break;
	}
	return 0;
}
