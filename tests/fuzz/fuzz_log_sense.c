/* LOG SENSE: the page header and every parameter through the iterator,
 * each as a counter value. */
#include "fuzz.h"

#include <orionstor.h>
#include <orionstor/scsi.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct ostor_scsi_log_header h;
	struct ostor_scsi_log_param p;
	struct ostor_scsi_iter it;
	unsigned guard = 0;
	int r;

	memset(&h, 0, sizeof(h));
	r = ostor_scsi_parse_log_sense(data, size, &h);
	SINK(r);
	SINK(h.page); SINK(h.subpage); SINK(h.ds); SINK(h.spf); SINK(h.page_length);
	SINK(h.params_len);
	if (r < 0)
		return 0;
	if (h.params_len + 4 > size)
		__builtin_trap();
	if (ostor_scsi_log_param_iter_init(&it, data, size) < 0)
		return 0;
	while (ostor_scsi_log_param_next(&it, &p) == 1) {
		uint64_t v = 0;

		if (++guard > size + 1)
			__builtin_trap(); /* the iterator does not advance */
		SINK(p.code); SINK(p.control); SINK(p.du); SINK(p.tsd); SINK(p.etc);
		SINK(p.tmc); SINK(p.format_linking); SINK(p.len);
		if (p.len && (!p.value || p.value < data || p.value + p.len > data + size))
			__builtin_trap();
		if (p.value)
			sink_bytes(p.value, p.len);
		SINK(ostor_scsi_log_param_value(&p, &v));
		SINK(v);
	}
	SINK(it.truncated);
	return 0;
}
