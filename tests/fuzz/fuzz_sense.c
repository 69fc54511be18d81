/*
 * Sense data: fixed (70h), deferred (71h), descriptor (72h/73h) format;
 * then ostor_scsi_sense_text into buffers of every size, the progress
 * indication, and the ATA PASS-THROUGH return (descriptor 09h or the SAT
 * fixed layout).  Byte 0 picks the text buffer size and the .size the
 * caller announces (an older, smaller struct); the rest is the sense.
 */
#include "fuzz.h"

#include <stdlib.h>

#include <orionstor.h>
#include <orionstor/scsi.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct ostor_scsi_sense s = OSTOR_SCSI_SENSE_INIT;
	struct ostor_scsi_ata_return a;
	const uint8_t *buf;
	size_t len, textlen, ssize;
	char *text;
	const char *t;
	int r;

	if (size < 1)
		return 0;
	textlen = data[0] & 0x7f;
	buf = data + 1;
	len = size - 1;

	r = ostor_scsi_parse_sense(buf, len, &s);
	SINK(r);
	SINK(s.size); SINK(s.valid); SINK(s.response_code); SINK(s.descriptor_format);
	SINK(s.deferred); SINK(s.key); SINK(s.asc); SINK(s.ascq); SINK(s.info_valid);
	SINK(s.information); SINK(s.cmd_info_valid); SINK(s.command_specific);
	SINK(s.sksv); sink_bytes(s.sks, sizeof(s.sks)); SINK(s.filemark); SINK(s.eom);
	SINK(s.ili); SINK(s.used_len); SINK(s.fru_valid); SINK(s.fru);
	SINK(s.ata_return_present);
	if (s.used_len > len)
		__builtin_trap(); /* decoded more than was transferred */

	/* The text, into a buffer of exactly textlen bytes (0 included). */
	text = malloc(textlen ? textlen : 1);
	if (!text)
		return 0;
	t = ostor_scsi_sense_text(&s, textlen ? text : NULL, textlen);
	if (t)
		sink_str(t, t == text ? textlen : 4096);
	SINK(ostor_scsi_sense_progress(&s));

	/* An older caller's smaller struct: read only as far as .size says. */
	if (data[0] & 0x80) {
		struct ostor_scsi_sense *old;

		ssize = offsetof(struct ostor_scsi_sense, used_len) + (len % 8);
		old = malloc(ssize);
		if (old) {
			memcpy(old, &s, ssize);
			old->size = (uint32_t)ssize;
			t = ostor_scsi_sense_text(old, textlen ? text : NULL, textlen);
			if (t)
				sink_str(t, t == text ? textlen : 4096);
			SINK(ostor_scsi_sense_progress(old));
			memset(old, 0, ssize);
			old->size = (uint32_t)ssize;
			SINK(ostor_scsi_parse_sense(buf, len, old));
			sink_bytes(old, ssize);
			free(old);
		}
	}
	if (textlen) {
		t = ostor_scsi_asc_ascq_text(s.asc, s.ascq, text, textlen);
		if (t)
			sink_str(t, t == text ? textlen : 4096);
	}
	free(text);

	memset(&a, 0, sizeof(a));
	r = ostor_scsi_parse_ata_return(buf, len, &a);
	SINK(r);
	SINK(a.descriptor_format); SINK(a.extend); SINK(a.error); SINK(a.status);
	SINK(a.device); SINK(a.count); SINK(a.lba); SINK(a.count_upper_nonzero);
	SINK(a.lba_upper_nonzero);
	SINK(ostor_scsi_sense_key_name(s.key)[0]);
	return 0;
}
