/* ostor_scsi_cdb_check (a CDB from a caller), with the opcode helpers. */
#include "fuzz.h"

#include <orionstor.h>
#include <orionstor/scsi.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	SINK(ostor_scsi_cdb_check(data, size));
	if (size) {
		const char *name = ostor_scsi_opcode_name(data[0]);

		SINK(ostor_scsi_cdb_length(data[0]));
		sink_str(name, 256);
	}
	return 0;
}
