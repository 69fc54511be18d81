/* REPORT LUNS parameter data, into lists of every size up to 64. */
#include "fuzz.h"

#include <stdlib.h>

#include <orionstor.h>
#include <orionstor/scsi.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint64_t *luns;
	size_t max, total = 0;
	int n;

	if (size < 1)
		return 0;
	max = data[0] & 0x3f;
	luns = malloc((max ? max : 1) * sizeof(*luns));
	if (!luns)
		return 0;
	n = ostor_scsi_parse_report_luns(data + 1, size - 1, max ? luns : NULL, max, &total);
	SINK(n);
	SINK(total);
	if (n > 0) {
		if ((size_t)n > max)
			__builtin_trap();
		sink_bytes(luns, (size_t)n * sizeof(*luns));
	}
	free(luns);
	/* Each 8-byte entry through the single-LUN decoder too. */
	for (size_t off = 9; off + 8 <= size; off += 8)
		SINK(ostor_scsi_lun_decode(data + off));
	return 0;
}
