/*
 * SAT health decoders (lib/scsi/ata.c).  Byte 0 picks the decoder
 * (IDENTIFY data, SMART data with thresholds, the self-test log, the SMART
 * RETURN STATUS verdict and CHECK POWER MODE from sense data, VPD 89h with
 * the signature and its embedded IDENTIFY, SAT evidence from INQUIRY and
 * VPD 00h, the builders); byte 1 a split point, buffer size or argument;
 * the rest is what the device sent.
 */
#include "fuzz.h"

#include <stdlib.h>

#include <orionstor.h>
#include <orionstor/scsi.h>

static void identify(const uint8_t *buf, size_t len)
{
	struct ostor_scsi_ata_identify id = OSTOR_SCSI_ATA_IDENTIFY_INIT;

	SINK(ostor_scsi_parse_ata_identify(buf, len, &id));
	SINK(id.size);
	SINK_STR(id.model); SINK_STR(id.serial); SINK_STR(id.firmware);
	SINK(id.packet_device); SINK(id.major_version); SINK(id.minor_version);
	SINK(id.sectors); SINK(id.sectors_28); SINK(id.sectors_48);
	SINK(id.logical_sector_size); SINK(id.physical_sector_size);
	SINK(id.logical_sector_offset); SINK(id.capacity_bytes); SINK(id.rotation_rate);
	SINK(id.form_factor); SINK(id.lba_supported); SINK(id.dma_supported);
	SINK(id.lba48_supported); SINK(id.smart_supported); SINK(id.smart_enabled);
	SINK(id.self_test_supported); SINK(id.error_log_supported);
	SINK(id.gp_logging_supported); SINK(id.write_cache_supported);
	SINK(id.write_cache_enabled); SINK(id.read_look_ahead_supported);
	SINK(id.read_look_ahead_enabled); SINK(id.apm_supported); SINK(id.apm_enabled);
	SINK(id.apm_level); SINK(id.puis_supported); SINK(id.puis_enabled);
	SINK(id.security_supported); SINK(id.security_enabled); SINK(id.security_locked);
	SINK(id.security_frozen); SINK(id.trim_supported); SINK(id.trim_deterministic);
	SINK(id.trim_zeroes); SINK(id.ncq_supported); SINK(id.queue_depth);
	SINK(id.sata_gen_max); SINK(id.sata_gen_current); SINK(id.sct_supported);
	SINK(id.sct_erc_supported); SINK(id.wwn_valid); SINK(id.wwn);
	SINK(id.checksum_present); SINK(id.checksum_ok); SINK(id.valid_len);
	if (id.valid_len > len || id.valid_len > 512)
		__builtin_trap();
	if (id.logical_sector_size && id.sectors &&
	    id.capacity_bytes && id.capacity_bytes / id.logical_sector_size != id.sectors)
		__builtin_trap();
	sink_str(ostor_scsi_ata_major_version_name(id.major_version), 256);
}

static void smart_data(const uint8_t *buf, size_t len, uint8_t sel)
{
	struct ostor_scsi_ata_smart_data *d = malloc(sizeof(*d));
	size_t split = (size_t)sel * 4 < len ? (size_t)sel * 4 : len, i;
	char text[64];

	if (!d)
		return;
	*d = (struct ostor_scsi_ata_smart_data)OSTOR_SCSI_ATA_SMART_DATA_INIT;
	/* Data first, thresholds after (none when split is the end). */
	SINK(ostor_scsi_parse_ata_smart_data(buf, split, len > split ? buf + split : NULL,
					     len - split, d));
	SINK(d->size); SINK(d->revision); SINK(d->checksum_ok); SINK(d->thresholds_present);
	SINK(d->thresholds_checksum_ok); SINK(d->count); SINK(d->any_failing_now);
	SINK(d->any_below_threshold); SINK(d->any_failed_past); SINK(d->offline_status);
	SINK(d->self_test_status); SINK(d->self_test_remaining); SINK(d->offline_seconds);
	SINK(d->offline_capability); SINK(d->smart_capability);
	SINK(d->error_logging_supported); SINK(d->self_test_supported);
	SINK(d->conveyance_test_supported); SINK(d->selective_test_supported);
	SINK(d->short_test_minutes); SINK(d->extended_test_minutes);
	SINK(d->conveyance_test_minutes); SINK(d->temperature); SINK(d->temperature_id);
	SINK(d->valid_len);
	if (d->count > OSTOR_ATA_SMART_ATTRS_MAX || d->valid_len > split)
		__builtin_trap();
	if (d->temperature < 0 || d->temperature > 127)
		__builtin_trap();
	for (i = 0; i < d->count; i++) {
		const struct ostor_scsi_ata_smart_attr *a = &d->attrs[i];
		size_t tl = (sel + i) % sizeof(text);

		SINK(a->id); SINK(a->flags); SINK(a->prefail); SINK(a->value); SINK(a->worst);
		SINK(a->threshold_valid); SINK(a->threshold); sink_bytes(a->raw, sizeof(a->raw));
		SINK(a->raw_value); SINK(a->below_threshold); SINK(a->failing_now);
		SINK(a->failed_past);
		if (!a->id || (a->failing_now && !a->prefail))
			__builtin_trap();
		sink_str(a->name, 256);
		sink_str(ostor_scsi_ata_attr_raw_text(a, text, sizeof(text)), sizeof(text));
		if (tl)
			sink_str(ostor_scsi_ata_attr_raw_text(a, text, tl), tl);
	}
	free(d);
}

static void self_test_log(const uint8_t *buf, size_t len)
{
	struct ostor_scsi_ata_self_test_log *l = malloc(sizeof(*l));
	size_t i;

	if (!l)
		return;
	*l = (struct ostor_scsi_ata_self_test_log)OSTOR_SCSI_ATA_SELF_TEST_LOG_INIT;
	SINK(ostor_scsi_parse_ata_self_test_log(buf, len, l));
	SINK(l->size); SINK(l->revision); SINK(l->checksum_ok); SINK(l->index);
	SINK(l->count); SINK(l->failed_count);
	if (l->count > OSTOR_ATA_SELF_TEST_LOG_ENTRIES || l->failed_count > l->count)
		__builtin_trap();
	for (i = 0; i < l->count; i++) {
		const struct ostor_scsi_ata_self_test_entry *e = &l->entries[i];

		SINK(e->number); SINK(e->test); SINK(e->status); SINK(e->remaining);
		SINK(e->lifetime_hours); SINK(e->checkpoint); SINK(e->failing_lba);
		SINK(e->failed); SINK(e->failing_lba_valid);
		if (e->number < 1 || e->number > OSTOR_ATA_SELF_TEST_LOG_ENTRIES)
			__builtin_trap();
		sink_str(ostor_scsi_ata_self_test_status_name(e->status), 256);
		sink_str(ostor_scsi_ata_self_test_type_name(e->test), 256);
	}
	free(l);
}

static void smart_status(const uint8_t *buf, size_t len)
{
	struct ostor_scsi_ata_smart_status st;

	SINK(ostor_scsi_parse_ata_smart_status(buf, len, &st));
	SINK(st.verdict); SINK(st.registers_present); SINK(st.regs.status);
	SINK(st.regs.error); SINK(st.regs.count); SINK(st.regs.lba); SINK(st.lba_mid);
	SINK(st.lba_high); SINK(st.mid_only_verdict);
	if (!st.text || (st.verdict != OSTOR_ATA_HEALTH_UNKNOWN && !st.registers_present))
		__builtin_trap();
	sink_str(st.text, 512);
	sink_str(ostor_scsi_ata_health_name(st.verdict), 64);
}

static void power_mode(const uint8_t *buf, size_t len)
{
	struct ostor_scsi_ata_power_mode pm;

	SINK(ostor_scsi_parse_ata_power_mode(buf, len, &pm));
	SINK(pm.mode); SINK(pm.registers_present); SINK(pm.count);
	if (!pm.text)
		__builtin_trap();
	sink_str(pm.text, 512);
	sink_str(ostor_scsi_ata_power_mode_name(pm.mode), 64);
}

static void vpd89(const uint8_t *buf, size_t len)
{
	struct ostor_scsi_vpd_ata_info *a = calloc(1, sizeof(*a));

	if (!a)
		return;
	SINK(ostor_scsi_parse_vpd_ata_info(buf, len, a));
	SINK(ostor_scsi_ata_signature_type(a));
	if (a->identify_valid)
		identify(a->identify, sizeof(a->identify));
	free(a);
}

static void evidence(const uint8_t *buf, size_t len, uint8_t sel)
{
	struct ostor_scsi_inquiry inq = OSTOR_SCSI_INQUIRY_INIT;
	size_t split = sel < len ? sel : len;

	SINK(ostor_scsi_parse_inquiry(buf, split, &inq));
	SINK(ostor_scsi_sat_evidence(&inq, buf + split, len - split));
	SINK(ostor_scsi_sat_evidence(NULL, buf, len));
}

static void builders(const uint8_t *buf, size_t len, uint8_t sel)
{
	struct ostor_cdb c;
	uint8_t cdb_len = sel, a = len > 0 ? buf[0] : 0, b = len > 1 ? buf[1] : 0;

	SINK(ostor_scsi_cdb_ata_identify(&c, cdb_len)); sink_bytes(&c, sizeof(c));
	SINK(ostor_scsi_cdb_ata_smart_return_status(&c, cdb_len)); sink_bytes(&c, sizeof(c));
	SINK(ostor_scsi_cdb_ata_smart_read_data(&c, cdb_len)); sink_bytes(&c, sizeof(c));
	SINK(ostor_scsi_cdb_ata_smart_read_thresholds(&c, cdb_len)); sink_bytes(&c, sizeof(c));
	SINK(ostor_scsi_cdb_ata_smart_read_log(&c, cdb_len, a, b)); sink_bytes(&c, sizeof(c));
	if (c.len && ostor_scsi_cdb_check(c.bytes, c.len) != 0)
		__builtin_trap(); /* a built CDB the library itself rejects */
	SINK(ostor_scsi_cdb_ata_smart_offline_immediate(&c, cdb_len, a)); sink_bytes(&c, sizeof(c));
	SINK(ostor_scsi_cdb_ata_check_power_mode(&c, cdb_len)); sink_bytes(&c, sizeof(c));
	sink_str(ostor_scsi_ata_attr_name(a), 256);
	sink_str(ostor_scsi_ata_self_test_type_name(a), 256);
	sink_str(ostor_scsi_ata_self_test_status_name(b), 256);
	SINK(ostor_scsi_ata_power_mode_from_count(a));
	SINK(ostor_scsi_ata_checksum_ok(buf, len));
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
	case 0: identify(buf, len); break;
	case 1: smart_data(buf, len, sel); break;
	case 2: self_test_log(buf, len); break;
	case 3: smart_status(buf, len); break;
	case 4: power_mode(buf, len); break;
	case 5: vpd89(buf, len); break;
	case 6: evidence(buf, len, sel); break;
	case 7: builders(buf, len, sel); break;
	}
	return 0;
}
