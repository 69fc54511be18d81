/*
 * MODE SENSE (6) and (10) parameter data: the header, every block
 * descriptor, every page through the iterator, and each page through the
 * caching page decoder.  Byte 0 bit 0 picks (6) or (10).
 */
#include "fuzz.h"

#include <orionstor.h>
#include <orionstor/scsi.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct ostor_scsi_mode_header h;
	struct ostor_scsi_block_descriptor bd;
	struct ostor_scsi_iter it;
	struct ostor_scsi_mode_page p;
	const uint8_t *buf;
	size_t len;
	unsigned guard = 0;
	int r;

	if (size < 1)
		return 0;
	buf = data + 1;
	len = size - 1;
	memset(&h, 0, sizeof(h));
	r = (data[0] & 1) ? ostor_scsi_parse_mode_sense10(buf, len, &h)
			  : ostor_scsi_parse_mode_sense6(buf, len, &h);
	SINK(r);
	SINK(h.mode_data_length); SINK(h.medium_type); SINK(h.device_specific);
	SINK(h.write_protected); SINK(h.dpofua); SINK(h.block_descriptor_length);
	SINK(h.pages_offset); SINK(h.pages_len); SINK(h.longlba); SINK(h.header_len);
	SINK(h.data_len); SINK(h.block_descriptors_len);
	if (r < 0)
		return 0;
	if (h.data_len > len || h.pages_offset + h.pages_len > len ||
	    h.header_len + h.block_descriptors_len > len)
		__builtin_trap();
	if (h.pages_len)
		sink_bytes(buf + h.pages_offset, h.pages_len);

	for (size_t i = 0; i < 4096; i++) {
		memset(&bd, 0, sizeof(bd));
		if (ostor_scsi_mode_block_descriptor(buf, len, &h, i, &bd) < 0)
			break;
		SINK(bd.density_code); SINK(bd.blocks); SINK(bd.block_length);
	}

	if (ostor_scsi_mode_page_iter_init(&it, buf, len, &h) < 0)
		return 0;
	while (ostor_scsi_mode_page_next(&it, &p) == 1) {
		struct ostor_scsi_caching_page c = OSTOR_SCSI_CACHING_PAGE_INIT;

		if (++guard > len + 1)
			__builtin_trap(); /* the iterator does not advance */
		SINK(p.page); SINK(p.subpage); SINK(p.ps); SINK(p.spf); SINK(p.page_length);
		SINK(p.len);
		if (!p.data || p.data < buf || p.data + p.len > buf + len)
			__builtin_trap();
		sink_bytes(p.data, p.len);
		SINK(ostor_scsi_parse_caching_page(&p, &c));
		SINK(c.size); SINK(c.ic); SINK(c.abpf); SINK(c.cap); SINK(c.disc);
		SINK(c.size_enable); SINK(c.wce); SINK(c.mf); SINK(c.rcd);
		SINK(c.demand_read_retention); SINK(c.write_retention); SINK(c.fsw);
		SINK(c.lbcss); SINK(c.dra); SINK(c.nv_dis); SINK(c.byte12_valid);
	}
	SINK(it.truncated);
	return 0;
}
