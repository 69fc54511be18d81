/* Standard INQUIRY data (ostor_scsi_parse_inquiry). */
#include "fuzz.h"

#include <orionstor.h>
#include <orionstor/scsi.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct ostor_scsi_inquiry q = OSTOR_SCSI_INQUIRY_INIT;
	int r = ostor_scsi_parse_inquiry(data, size, &q);

	SINK(r);
	SINK(q.size); SINK(q.peripheral_qualifier); SINK(q.peripheral_type);
	SINK(q.removable); SINK(q.version); SINK(q.response_format);
	SINK(q.additional_length); SINK(q.protect); SINK(q.cmdque); SINK(q.hisup);
	SINK(q.normaca); SINK(q.valid_len);
	SINK_STR(q.vendor); SINK_STR(q.product); SINK_STR(q.revision);
	if (q.valid_len > size)
		__builtin_trap();
	return 0;
}
