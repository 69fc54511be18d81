/* READ FORMAT CAPACITIES data, into lists of every size up to 32. */
#include "fuzz.h"

#include <stdlib.h>

#include <orionstor.h>
#include <orionstor/scsi.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct ostor_scsi_format_capacity *d;
	size_t max, total = 0;
	int n;

	if (size < 1)
		return 0;
	max = data[0] & 0x1f;
	d = malloc((max ? max : 1) * sizeof(*d));
	if (!d)
		return 0;
	n = ostor_scsi_parse_read_format_capacities(data + 1, size - 1, max ? d : NULL, max, &total);
	SINK(n);
	SINK(total);
	if (n > 0) {
		if ((size_t)n > max)
			__builtin_trap();
		for (int i = 0; i < n; i++) {
			SINK(d[i].blocks); SINK(d[i].descriptor_type);
			SINK(d[i].format_type); SINK(d[i].block_length);
		}
	}
	free(d);
	return 0;
}
