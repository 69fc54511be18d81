/* READ CAPACITY (10) and (16) parameter data. */
#include "fuzz.h"

#include <orionstor.h>
#include <orionstor/scsi.h>

static void sink_rc(const struct ostor_scsi_read_capacity *c, size_t size)
{
	SINK(c->size); SINK(c->last_lba); SINK(c->block_size); SINK(c->blocks);
	SINK(c->prot_en); SINK(c->p_type); SINK(c->lbppbe); SINK(c->lbpme);
	SINK(c->lbprz); SINK(c->lowest_aligned_lba); SINK(c->p_i_exponent);
	SINK(c->rc16_needed); SINK(c->valid_len);
	if (c->valid_len > size)
		__builtin_trap();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct ostor_scsi_read_capacity c10 = OSTOR_SCSI_READ_CAPACITY_INIT;
	struct ostor_scsi_read_capacity c16 = OSTOR_SCSI_READ_CAPACITY_INIT;

	SINK(ostor_scsi_parse_read_capacity10(data, size, &c10));
	sink_rc(&c10, size);
	SINK(ostor_scsi_parse_read_capacity16(data, size, &c16));
	sink_rc(&c16, size);
	return 0;
}
