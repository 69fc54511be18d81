/*
 * tests/unit/test_sim_health.c - the simulated target's health and power
 * models through the public API: the ATA disk behind a SAT bridge
 * (sim:ata, ata-fault=) and a JMicron bridge (bridge=jmicron), the native
 * log pages and self-tests (ie=, temperature=), power conditions and
 * mode page 1Ah (power-page=).  Every CDB is built by the pure SCSI layer
 * and every answer read back with its decoders, as the health code and
 * smartctl read them; a few run over the simulated USB BOT device too.
 */
#include "orionstor.h"
#include "orionstor/scsi.h"

#include <check.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define IN OSTOR_DIR_FROM_DEVICE
#define NONE OSTOR_DIR_NONE
#define OUT OSTOR_DIR_TO_DEVICE
#define BLOCKS (64u * 1024 * 1024 / 512)   /* the default sim size */

static ostor_context *ctx;
static ostor_device *dev;

static void setup(void)
{
	ck_assert_int_eq(ostor_init(&ctx, NULL), 0);
	ostor_set_log_level(ctx, OSTOR_LOG_NONE);
	dev = NULL;
}

static void teardown(void)
{
	if (dev)
		ostor_close(dev);
	dev = NULL;
	ostor_exit(ctx);
	ctx = NULL;
}

static void open_spec(const char *spec)
{
	int r = ostor_open(ctx, spec, &dev);

	ck_assert_msg(r == 0, "open %s: %s", spec, ostor_last_error());
}

struct res {
	int status;
	enum ostor_result result;
	uint8_t sense[OSTOR_SENSE_MAX];
	size_t sense_len;
	size_t transferred;
	struct ostor_scsi_sense s;     /* decoded when sense_len */
};

static struct res raw(const uint8_t *cdb, size_t cdb_len, int dir, void *buf, size_t len)
{
	struct res r;
	const uint8_t *sense;
	ostor_task *t;

	memset(&r, 0, sizeof(r));
	r.s = (struct ostor_scsi_sense)OSTOR_SCSI_SENSE_INIT;
	ck_assert_int_eq(ostor_task_new(dev, &t), 0);
	ck_assert_int_eq(ostor_task_prepare(t, 0, 0, cdb, cdb_len, dir, buf, len), 0);
	ck_assert_int_eq(ostor_task_execute(t), 0);
	r.status = ostor_task_status(t);
	r.result = ostor_task_result(t);
	r.transferred = ostor_task_transferred(t);
	sense = ostor_task_sense(t, &r.sense_len);
	if (r.sense_len) {
		memcpy(r.sense, sense, r.sense_len);
		ostor_scsi_parse_sense(r.sense, r.sense_len, &r.s);
	}
	ostor_task_free(t);
	return r;
}

static struct res run(const struct ostor_cdb *cdb, int dir, void *buf, size_t len)
{
	return raw(cdb->bytes, cdb->len, dir, buf, len);
}

static void ck_good_(const struct res *r, int line)
{
	ck_assert_msg(r->status == 0, "line %d: status %d sense %x/%02x/%02x", line, r->status,
		      r->s.key, r->s.asc, r->s.ascq);
}
#define ck_good(r) do { struct res r_ = (r); ck_good_(&r_, __LINE__); } while (0)

static void ck_sense_(const struct res *r, int key, int asc, int ascq, int line)
{
	ck_assert_msg(r->status == 2, "line %d: status %d, want CHECK CONDITION", line, r->status);
	ck_assert_msg(r->s.key == key && r->s.asc == asc && r->s.ascq == ascq,
		      "line %d: sense %x/%02x/%02x, want %x/%02x/%02x", line, r->s.key, r->s.asc,
		      r->s.ascq, key, asc, ascq);
}
#define ck_sense(r, k, a, q) do { struct res r_ = (r); ck_sense_(&r_, k, a, q, __LINE__); } while (0)

/* REQUEST SENSE (fixed or descriptor format) as GOOD data. */
static struct ostor_scsi_sense request_sense(int desc, uint8_t *buf, size_t *len)
{
	struct ostor_scsi_sense s = OSTOR_SCSI_SENSE_INIT;
	struct ostor_cdb c;
	struct res r;

	ck_assert_int_eq(ostor_scsi_cdb_request_sense(&c, 252, desc), 0);
	r = run(&c, IN, buf, 252);
	ck_good(r);
	*len = r.transferred;
	ck_assert_int_eq(ostor_scsi_parse_sense(buf, r.transferred, &s), 0);
	return s;
}

static void ck_request_sense_(int key, int asc, int ascq, int line)
{
	uint8_t buf[252];
	size_t len;
	struct ostor_scsi_sense s = request_sense(0, buf, &len);

	ck_assert_msg(s.key == key && s.asc == asc && s.ascq == ascq,
		      "line %d: REQUEST SENSE %x/%02x/%02x, want %x/%02x/%02x", line, s.key, s.asc,
		      s.ascq, key, asc, ascq);
}
#define ck_request_sense(k, a, q) ck_request_sense_(k, a, q, __LINE__)

/* ---- ATA through SAT ------------------------------------------------------ */

static const char *const sat_specs[] = { "sim:ata", "sim:ata,transport=usb-bot,size=4M" };

START_TEST(sat_inquiry_vpd89)
{
	struct ostor_scsi_inquiry inq = OSTOR_SCSI_INQUIRY_INIT;
	struct ostor_scsi_vpd_ata_info info;
	struct ostor_scsi_ata_identify id = OSTOR_SCSI_ATA_IDENTIFY_INIT;
	uint8_t buf[1024], vpd00[64];
	struct ostor_cdb c;
	struct res r;

	open_spec(sat_specs[_i]);
	ck_assert_int_eq(ostor_scsi_cdb_inquiry(&c, 0, 0, 96), 0);
	r = run(&c, IN, buf, 96);
	ck_good(r);
	ck_assert_int_eq(ostor_scsi_parse_inquiry(buf, r.transferred, &inq), 0);
	ck_assert_str_eq(inq.vendor, "ATA");
	ck_assert_str_eq(inq.product, "ORIONSTOR SIM AT");
	ck_assert_int_eq(ostor_scsi_cdb_inquiry(&c, 1, 0x00, sizeof(vpd00)), 0);
	r = run(&c, IN, vpd00, sizeof(vpd00));
	ck_good(r);
	ck_assert_int_eq(ostor_scsi_sat_evidence(&inq, vpd00, r.transferred),
			 OSTOR_SCSI_SAT_VENDOR_ATA | OSTOR_SCSI_SAT_VPD_89);
	ck_assert_int_eq(ostor_scsi_cdb_inquiry(&c, 1, 0x89, sizeof(buf)), 0);
	r = run(&c, IN, buf, sizeof(buf));
	ck_good(r);
	ck_assert_uint_eq(r.transferred, 572);
	ck_assert_int_eq(ostor_scsi_parse_vpd_ata_info(buf, r.transferred, &info), 0);
	ck_assert_str_eq(info.sat_vendor, "ORIONSTR");
	ck_assert_int_eq(ostor_scsi_ata_signature_type(&info), OSTOR_ATA_SIG_ATA);
	ck_assert_uint_eq(info.command_code, 0xec);
	ck_assert(info.identify_valid);
	ck_assert_int_eq(ostor_scsi_parse_ata_identify(info.identify, 512, &id), 0);
	ck_assert_str_eq(id.model, "ORIONSTOR SIM ATA DISK");
	ck_assert(id.checksum_ok);
	/* a short allocation length: the page is cut, its length is not */
	ck_assert_int_eq(ostor_scsi_cdb_inquiry(&c, 1, 0x89, 60), 0);
	r = run(&c, IN, buf, 60);
	ck_good(r);
	ck_assert_uint_eq(r.transferred, 60);
	ck_assert_uint_eq(buf[2] << 8 | buf[3], 568);
}
END_TEST

/* _i: bit 0 PT12 (else PT16), bit 1 over USB BOT. */
static uint8_t pt_len(int i)
{
	return (i & 1) ? 12 : 16;
}

START_TEST(sat_identify_status_power)
{
	uint8_t len = pt_len(_i), buf[512];
	struct ostor_scsi_ata_identify id = OSTOR_SCSI_ATA_IDENTIFY_INIT;
	struct ostor_scsi_ata_smart_status st;
	struct ostor_scsi_ata_power_mode pm;
	struct ostor_cdb c;
	struct res r;

	open_spec(sat_specs[_i >> 1]);
	ck_assert_int_eq(ostor_scsi_cdb_ata_identify(&c, len), 0);
	r = run(&c, IN, buf, sizeof(buf));
	ck_good(r);
	ck_assert_uint_eq(r.transferred, 512);
	ck_assert_int_eq(ostor_scsi_parse_ata_identify(buf, r.transferred, &id), 0);
	ck_assert_str_eq(id.model, "ORIONSTOR SIM ATA DISK");
	ck_assert_uint_gt(strlen(id.serial), 0);
	ck_assert_str_eq(id.firmware, "OSIM0001");
	ck_assert(id.checksum_present && id.checksum_ok);
	ck_assert_uint_eq(id.sectors, (_i >> 1) ? 8192 : BLOCKS);
	ck_assert_uint_eq(id.logical_sector_size, 512);
	ck_assert_int_eq(id.lba48_supported, 1);
	ck_assert_int_eq(id.smart_supported, 1);
	ck_assert_int_eq(id.smart_enabled, 1);
	ck_assert_int_eq(id.self_test_supported, 1);
	ck_assert_uint_eq(id.sata_gen_max, 3);
	ck_assert_uint_eq(id.sata_gen_current, 3);
	ck_assert_str_eq(ostor_scsi_ata_major_version_name(id.major_version), "ACS-3");

	ck_assert_int_eq(ostor_scsi_cdb_ata_smart_return_status(&c, len), 0);
	r = run(&c, NONE, NULL, 0);
	ck_sense(r, OSTOR_SCSI_SENSE_RECOVERED_ERROR, 0x00, 0x1d);
	ck_assert_int_eq(ostor_scsi_parse_ata_smart_status(r.sense, r.sense_len, &st), 0);
	ck_assert_msg(st.verdict == OSTOR_ATA_HEALTH_PASSED, "%s", st.text);

	ck_assert_int_eq(ostor_scsi_cdb_ata_check_power_mode(&c, len), 0);
	r = run(&c, NONE, NULL, 0);
	ck_sense(r, OSTOR_SCSI_SENSE_RECOVERED_ERROR, 0x00, 0x1d);
	ck_assert_int_eq(ostor_scsi_parse_ata_power_mode(r.sense, r.sense_len, &pm), 0);
	ck_assert_int_eq(pm.mode, OSTOR_ATA_POWER_ACTIVE);
	ck_assert_uint_eq(pm.count, 0xff);
}
END_TEST

static void smart_read(uint8_t len, struct ostor_scsi_ata_smart_data *sd, uint8_t *data, uint8_t *thr)
{
	struct ostor_cdb c;
	struct res r;

	ck_assert_int_eq(ostor_scsi_cdb_ata_smart_read_data(&c, len), 0);
	r = run(&c, IN, data, 512);
	ck_good(r);
	ck_assert_uint_eq(r.transferred, 512);
	ck_assert_int_eq(ostor_scsi_cdb_ata_smart_read_thresholds(&c, len), 0);
	r = run(&c, IN, thr, 512);
	ck_good(r);
	*sd = (struct ostor_scsi_ata_smart_data)OSTOR_SCSI_ATA_SMART_DATA_INIT;
	ck_assert_int_eq(ostor_scsi_parse_ata_smart_data(data, 512, thr, 512, sd), 0);
}

static const struct ostor_scsi_ata_smart_attr *attr(const struct ostor_scsi_ata_smart_data *sd, uint8_t id)
{
	for (size_t i = 0; i < sd->count; i++)
		if (sd->attrs[i].id == id)
			return &sd->attrs[i];
	ck_abort_msg("attribute %u missing", id);
	return NULL;
}

static void self_test_log(uint8_t len, struct ostor_scsi_ata_self_test_log *log)
{
	uint8_t buf[512];
	struct ostor_cdb c;
	struct res r;

	ck_assert_int_eq(ostor_scsi_cdb_ata_smart_read_log(&c, len, OSTOR_ATA_LOG_SELF_TEST, 1), 0);
	r = run(&c, IN, buf, sizeof(buf));
	ck_good(r);
	*log = (struct ostor_scsi_ata_self_test_log)OSTOR_SCSI_ATA_SELF_TEST_LOG_INIT;
	ck_assert_int_eq(ostor_scsi_parse_ata_self_test_log(buf, r.transferred, log), 0);
	ck_assert(log->checksum_ok);
}

static struct res offline(uint8_t len, uint8_t test)
{
	struct ostor_cdb c;

	ck_assert_int_eq(ostor_scsi_cdb_ata_smart_offline_immediate(&c, len, test), 0);
	return run(&c, NONE, NULL, 0);
}

START_TEST(sat_smart)
{
	uint8_t len = pt_len(_i), data[512], thr[512], buf[512];
	struct ostor_scsi_ata_smart_data sd;
	struct ostor_scsi_ata_self_test_log log;
	struct ostor_scsi_ata_smart_status st;
	struct ostor_scsi_ata_return regs;
	struct ostor_cdb c;
	char text[64];
	struct res r;

	open_spec("sim:ata");
	smart_read(len, &sd, data, thr);
	ck_assert(sd.checksum_ok && sd.thresholds_checksum_ok);
	ck_assert_uint_eq(sd.revision, 0x10);
	ck_assert_uint_eq(sd.count, 12);
	ck_assert(!sd.any_failing_now && !sd.any_below_threshold && !sd.any_failed_past);
	ck_assert_str_eq(attr(&sd, 5)->name, "Reallocated_Sector_Ct");
	ck_assert(attr(&sd, 5)->prefail);
	ck_assert_uint_eq(attr(&sd, 5)->threshold, 10);
	ck_assert_uint_eq(attr(&sd, 9)->raw_value, 1000);
	ck_assert_int_eq(sd.temperature, 35);
	ck_assert_str_eq(ostor_scsi_ata_attr_raw_text(attr(&sd, 194), text, sizeof(text)),
			 "35 (Min/Max 18/47)");
	ck_assert(sd.self_test_supported);
	ck_assert_uint_eq(sd.self_test_status, 0);
	ck_assert_uint_eq(sd.short_test_minutes, 2);
	ck_assert_uint_eq(sd.extended_test_minutes, 200);

	/* log directory: log 06h has one sector */
	ck_assert_int_eq(ostor_scsi_cdb_ata_smart_read_log(&c, len, 0x00, 1), 0);
	r = run(&c, IN, buf, sizeof(buf));
	ck_good(r);
	ck_assert_uint_eq(buf[12] | buf[13] << 8, 1);
	/* a log the drive does not have, more sectors than the log: aborted */
	ck_assert_int_eq(ostor_scsi_cdb_ata_smart_read_log(&c, len, 0x01, 1), 0);
	r = run(&c, IN, buf, sizeof(buf));
	ck_sense(r, OSTOR_SCSI_SENSE_ABORTED_COMMAND, 0x00, 0x1d);
	ck_assert_int_eq(ostor_scsi_parse_ata_return(r.sense, r.sense_len, &regs), 0);
	ck_assert_uint_eq(regs.status & 0x01, 0x01);
	ck_assert_uint_eq(regs.error, 0x04);

	self_test_log(len, &log);
	ck_assert_uint_eq(log.index, 0);
	ck_assert_uint_eq(log.count, 0);
	/* short, then extended captive, then abort */
	r = offline(len, OSTOR_ATA_TEST_SHORT);
	ck_good(r);
	ck_assert_uint_eq(r.sense_len, 0);
	self_test_log(len, &log);
	ck_assert_uint_eq(log.count, 1);
	ck_assert_uint_eq(log.entries[0].test, OSTOR_ATA_TEST_SHORT);
	ck_assert_uint_eq(log.entries[0].status, 0);
	ck_assert_uint_eq(log.entries[0].lifetime_hours, 1000);
	r = offline(len, OSTOR_ATA_TEST_EXTENDED_CAPTIVE);
	ck_good(r);
	r = offline(len, OSTOR_ATA_TEST_ABORT);
	ck_good(r);
	self_test_log(len, &log);
	ck_assert_uint_eq(log.count, 3);
	ck_assert_uint_eq(log.index, 3);
	ck_assert_uint_eq(log.entries[0].status, 1);
	ck_assert_str_eq(ostor_scsi_ata_self_test_status_name(log.entries[0].status), "Aborted by host");
	ck_assert_uint_eq(log.entries[1].test, OSTOR_ATA_TEST_EXTENDED_CAPTIVE);
	ck_assert_uint_eq(log.entries[2].test, OSTOR_ATA_TEST_SHORT);
	smart_read(len, &sd, data, thr);
	ck_assert_uint_eq(sd.self_test_status, 1);
	/* the ring of 21 wraps */
	for (int i = 0; i < 20; i++)
		ck_good(offline(len, OSTOR_ATA_TEST_SHORT));
	self_test_log(len, &log);
	ck_assert_uint_eq(log.count, 21);
	ck_assert_uint_eq(log.index, 2);
	ck_assert_uint_eq(log.entries[0].status, 0);
	/* conveyance and selective are not supported: aborted */
	r = offline(len, OSTOR_ATA_TEST_CONVEYANCE);
	ck_sense(r, OSTOR_SCSI_SENSE_ABORTED_COMMAND, 0x00, 0x1d);

	/* SMART DISABLE: RETURN STATUS aborted; ENABLE brings it back */
	{
		struct ostor_scsi_ata_pt pt = { .protocol = OSTOR_ATA_PROTO_NON_DATA, .t_dir = 1,
						.byt_blok = 1, .features = 0xd9, .lba = 0xc24f00,
						.command = 0xb0 };

		ck_assert_int_eq(len == 16 ? ostor_scsi_cdb_ata_pass_through16(&c, &pt)
					   : ostor_scsi_cdb_ata_pass_through12(&c, &pt), 0);
		ck_good(run(&c, NONE, NULL, 0));
		ck_assert_int_eq(ostor_scsi_cdb_ata_smart_return_status(&c, len), 0);
		r = run(&c, NONE, NULL, 0);
		ck_sense(r, OSTOR_SCSI_SENSE_ABORTED_COMMAND, 0x00, 0x1d);
		ck_assert_int_eq(ostor_scsi_parse_ata_smart_status(r.sense, r.sense_len, &st), 0);
		ck_assert_int_eq(st.verdict, OSTOR_ATA_HEALTH_UNKNOWN);
		ck_assert(st.registers_present);
		ck_assert_int_eq(ostor_scsi_cdb_ata_identify(&c, len), 0);
		ck_good(run(&c, IN, buf, sizeof(buf)));
		ck_assert_uint_eq(buf[170] & 1, 0);          /* word 85 bit 0 */
		pt.features = 0xd8;
		ck_assert_int_eq(len == 16 ? ostor_scsi_cdb_ata_pass_through16(&c, &pt)
					   : ostor_scsi_cdb_ata_pass_through12(&c, &pt), 0);
		ck_good(run(&c, NONE, NULL, 0));
		/* SMART without the 4Fh/C2h signature: aborted */
		pt.lba = 0;
		ck_assert_int_eq(len == 16 ? ostor_scsi_cdb_ata_pass_through16(&c, &pt)
					   : ostor_scsi_cdb_ata_pass_through12(&c, &pt), 0);
		r = run(&c, NONE, NULL, 0);
		ck_sense(r, OSTOR_SCSI_SENSE_ABORTED_COMMAND, 0x00, 0x1d);
		/* an unknown ATA command: aborted */
		pt.lba = 0;
		pt.features = 0;
		pt.command = 0x2f;
		ck_assert_int_eq(len == 16 ? ostor_scsi_cdb_ata_pass_through16(&c, &pt)
					   : ostor_scsi_cdb_ata_pass_through12(&c, &pt), 0);
		r = run(&c, NONE, NULL, 0);
		ck_sense(r, OSTOR_SCSI_SENSE_ABORTED_COMMAND, 0x00, 0x1d);
	}
	ck_assert_int_eq(ostor_scsi_cdb_ata_smart_return_status(&c, len), 0);
	r = run(&c, NONE, NULL, 0);
	ck_assert_int_eq(ostor_scsi_parse_ata_smart_status(r.sense, r.sense_len, &st), 0);
	ck_assert_int_eq(st.verdict, OSTOR_ATA_HEALTH_PASSED);
}
END_TEST

/* The bridge checks the CDB against the command. */
START_TEST(sat_bad_cdbs)
{
	struct ostor_scsi_ata_pt pt;
	uint8_t buf[1024];
	struct ostor_cdb c;
	struct res r;

	open_spec("sim:ata");
	/* IDENTIFY as non-data, with 2 blocks, toward the device, in bytes
	 * (count 0), with T_LENGTH in STPSIU */
	ck_assert_int_eq(ostor_scsi_cdb_ata_identify(&c, 16), 0);
	c.bytes[1] = (uint8_t)(OSTOR_ATA_PROTO_NON_DATA << 1);
	r = run(&c, IN, buf, 512);
	ck_sense(r, OSTOR_SCSI_SENSE_ILLEGAL_REQUEST, 0x24, 0x00);
	ck_assert_uint_eq(r.s.sks[1] << 8 | r.s.sks[2], 1);
	ck_assert_int_eq(ostor_scsi_cdb_ata_identify(&c, 16), 0);
	c.bytes[6] = 2;
	r = run(&c, IN, buf, 1024);
	ck_sense(r, OSTOR_SCSI_SENSE_ILLEGAL_REQUEST, 0x24, 0x00);
	ck_assert_uint_eq(r.s.sks[1] << 8 | r.s.sks[2], 6);
	ck_assert_int_eq(ostor_scsi_cdb_ata_identify(&c, 12), 0);
	c.bytes[4] = 2;
	r = run(&c, IN, buf, 1024);
	ck_sense(r, OSTOR_SCSI_SENSE_ILLEGAL_REQUEST, 0x24, 0x00);
	ck_assert_uint_eq(r.s.sks[1] << 8 | r.s.sks[2], 4);
	ck_assert_int_eq(ostor_scsi_cdb_ata_identify(&c, 16), 0);
	c.bytes[2] &= (uint8_t)~0x08;                /* T_DIR to the device */
	r = run(&c, IN, buf, 512);
	ck_sense(r, OSTOR_SCSI_SENSE_ILLEGAL_REQUEST, 0x24, 0x00);
	ck_assert_int_eq(ostor_scsi_cdb_ata_identify(&c, 16), 0);
	c.bytes[2] &= (uint8_t)~0x04;                /* BYT_BLOK 0: count 1 = 1 byte */
	r = run(&c, IN, buf, 512);
	ck_sense(r, OSTOR_SCSI_SENSE_ILLEGAL_REQUEST, 0x24, 0x00);
	ck_assert_int_eq(ostor_scsi_cdb_ata_identify(&c, 16), 0);
	c.bytes[2] |= 0x03;                          /* STPSIU */
	r = run(&c, IN, buf, 512);
	ck_sense(r, OSTOR_SCSI_SENSE_ILLEGAL_REQUEST, 0x24, 0x00);
	/* T_TYPE 1 on a 512-byte disk: the same length, accepted */
	ck_assert_int_eq(ostor_scsi_cdb_ata_identify(&c, 16), 0);
	c.bytes[2] |= 0x10;
	ck_good(run(&c, IN, buf, 512));
	/* a data-in command without a data-in buffer */
	ck_assert_int_eq(ostor_scsi_cdb_ata_identify(&c, 16), 0);
	r = run(&c, NONE, NULL, 0);
	ck_sense(r, OSTOR_SCSI_SENSE_ILLEGAL_REQUEST, 0x24, 0x00);
	/* RETURN STATUS as PIO data-in; with a transfer length */
	ck_assert_int_eq(ostor_scsi_cdb_ata_smart_return_status(&c, 16), 0);
	c.bytes[1] = (uint8_t)(OSTOR_ATA_PROTO_PIO_IN << 1);
	r = run(&c, NONE, NULL, 0);
	ck_sense(r, OSTOR_SCSI_SENSE_ILLEGAL_REQUEST, 0x24, 0x00);
	ck_assert_int_eq(ostor_scsi_cdb_ata_smart_return_status(&c, 16), 0);
	c.bytes[2] |= OSTOR_ATA_TLEN_COUNT;
	r = run(&c, NONE, NULL, 0);
	ck_sense(r, OSTOR_SCSI_SENSE_ILLEGAL_REQUEST, 0x24, 0x00);
	/* protocols a bridge does not pass: hard reset, FPDMA */
	memset(&pt, 0, sizeof(pt));
	pt.protocol = OSTOR_ATA_PROTO_HARD_RESET;
	pt.command = 0xe5;
	ck_assert_int_eq(ostor_scsi_cdb_ata_pass_through16(&c, &pt), 0);
	r = run(&c, NONE, NULL, 0);
	ck_sense(r, OSTOR_SCSI_SENSE_ILLEGAL_REQUEST, 0x24, 0x00);
	pt.protocol = OSTOR_ATA_PROTO_FPDMA;
	ck_assert_int_eq(ostor_scsi_cdb_ata_pass_through12(&c, &pt), 0);
	r = run(&c, NONE, NULL, 0);
	ck_sense(r, OSTOR_SCSI_SENSE_ILLEGAL_REQUEST, 0x24, 0x00);
}
END_TEST

/* The registers in both sense formats: fixed (SAT layout, D_SENSE 0),
 * descriptor (REQUEST SENSE with DESC). */
START_TEST(sat_sense_formats)
{
	struct ostor_scsi_ata_smart_status st;
	struct ostor_scsi_ata_power_mode pm;
	struct ostor_scsi_sense s;
	uint8_t buf[252];
	struct ostor_cdb c;
	size_t len;
	struct res r;

	open_spec("sim:ata");
	ck_assert_int_eq(ostor_scsi_cdb_ata_smart_return_status(&c, 16), 0);
	r = run(&c, NONE, NULL, 0);
	ck_assert_uint_eq(r.sense_len, 18);
	ck_assert_uint_eq(r.sense[0] & 0x7f, 0x70);
	ck_assert_int_eq(ostor_scsi_parse_ata_smart_status(r.sense, r.sense_len, &st), 0);
	ck_assert(!st.regs.descriptor_format);
	ck_assert_int_eq(st.verdict, OSTOR_ATA_HEALTH_PASSED);
	/* the sense is held for REQUEST SENSE; DESC asks for descriptors */
	s = request_sense(1, buf, &len);
	ck_assert(s.descriptor_format);
	ck_assert(s.ata_return_present);
	ck_assert_int_eq(ostor_scsi_parse_ata_smart_status(buf, len, &st), 0);
	ck_assert(st.regs.descriptor_format);
	ck_assert_int_eq(st.verdict, OSTOR_ATA_HEALTH_PASSED);
	ck_assert_int_eq(ostor_scsi_cdb_ata_check_power_mode(&c, 12), 0);
	run(&c, NONE, NULL, 0);
	request_sense(1, buf, &len);
	ck_assert_int_eq(ostor_scsi_parse_ata_power_mode(buf, len, &pm), 0);
	ck_assert_int_eq(pm.mode, OSTOR_ATA_POWER_ACTIVE);
	/* consumed: nothing the next time */
	s = request_sense(0, buf, &len);
	ck_assert_uint_eq(s.key, 0);
	ck_assert_uint_eq(s.asc, 0);
}
END_TEST

START_TEST(sat_faults)
{
	struct ostor_scsi_ata_smart_data sd;
	struct ostor_scsi_ata_smart_status st;
	struct ostor_scsi_ata_power_mode pm;
	uint8_t data[512], thr[512];
	struct ostor_cdb c;
	struct res r;

	/* failing: verdict and attribute 5 */
	open_spec("sim:ata,ata-fault=failing");
	ck_assert_int_eq(ostor_scsi_cdb_ata_smart_return_status(&c, 16), 0);
	r = run(&c, NONE, NULL, 0);
	ck_assert_int_eq(ostor_scsi_parse_ata_smart_status(r.sense, r.sense_len, &st), 0);
	ck_assert_int_eq(st.verdict, OSTOR_ATA_HEALTH_FAILING);
	smart_read(16, &sd, data, thr);
	ck_assert(sd.any_failing_now);
	ck_assert(attr(&sd, 5)->failing_now);
	ck_assert_uint_eq(attr(&sd, 5)->raw_value, 1800);
	ostor_close(dev);
	/* prefail: attribute at its threshold, the verdict still PASSED */
	open_spec("sim:ata,ata-fault=prefail");
	ck_assert_int_eq(ostor_scsi_cdb_ata_smart_return_status(&c, 12), 0);
	r = run(&c, NONE, NULL, 0);
	ck_assert_int_eq(ostor_scsi_parse_ata_smart_status(r.sense, r.sense_len, &st), 0);
	ck_assert_int_eq(st.verdict, OSTOR_ATA_HEALTH_PASSED);
	smart_read(12, &sd, data, thr);
	ck_assert(attr(&sd, 5)->failing_now);
	ck_assert(attr(&sd, 5)->failed_past);
	ostor_close(dev);
	/* no-registers: GOOD without sense, the decoders say why */
	open_spec("sim:ata,ata-fault=no-registers+prefail");
	ck_assert_int_eq(ostor_scsi_cdb_ata_smart_return_status(&c, 16), 0);
	r = run(&c, NONE, NULL, 0);
	ck_good(r);
	ck_assert_uint_eq(r.sense_len, 0);
	ck_assert_int_eq(ostor_scsi_parse_ata_smart_status(r.sense, r.sense_len, &st), 0);
	ck_assert_int_eq(st.verdict, OSTOR_ATA_HEALTH_UNKNOWN);
	ck_assert(!st.registers_present);
	ck_assert_int_eq(ostor_scsi_cdb_ata_check_power_mode(&c, 16), 0);
	r = run(&c, NONE, NULL, 0);
	ck_good(r);
	ck_assert_int_eq(ostor_scsi_parse_ata_power_mode(r.sense, r.sense_len, &pm), 0);
	ck_assert_int_eq(pm.mode, OSTOR_ATA_POWER_UNKNOWN);
	smart_read(16, &sd, data, thr);           /* data still comes */
	ck_assert(attr(&sd, 5)->failing_now);
	ostor_close(dev);
	/* no-pt16: 85h is not an opcode, A1h works */
	open_spec("sim:ata,ata-fault=no-pt16");
	ck_assert_int_eq(ostor_scsi_cdb_ata_identify(&c, 16), 0);
	r = run(&c, IN, data, 512);
	ck_sense(r, OSTOR_SCSI_SENSE_ILLEGAL_REQUEST, 0x20, 0x00);
	ck_assert_int_eq(ostor_scsi_cdb_ata_identify(&c, 12), 0);
	ck_good(run(&c, IN, data, 512));
	ostor_close(dev);
	open_spec("sim:ata,ata-fault=no-pt12");
	ck_assert_int_eq(ostor_scsi_cdb_ata_identify(&c, 12), 0);
	r = run(&c, IN, data, 512);
	ck_sense(r, OSTOR_SCSI_SENSE_ILLEGAL_REQUEST, 0x20, 0x00);
	ck_assert_int_eq(ostor_scsi_cdb_ata_identify(&c, 16), 0);
	ck_good(run(&c, IN, data, 512));
	ostor_close(dev);
	/* a plain sim disk has no pass-through at all */
	open_spec("sim:");
	ck_assert_int_eq(ostor_scsi_cdb_ata_identify(&c, 16), 0);
	r = run(&c, IN, data, 512);
	ck_sense(r, OSTOR_SCSI_SENSE_ILLEGAL_REQUEST, 0x20, 0x00);
}
END_TEST

/* ---- JMicron ---------------------------------------------------------------- */

static void jm_cdb(uint8_t *c, uint8_t dir, uint16_t len, uint8_t features, uint8_t count,
		   uint32_t lba, uint8_t device, uint8_t command)
{
	memset(c, 0, 12);
	c[0] = 0xdf;
	c[1] = dir;
	c[3] = (uint8_t)(len >> 8);
	c[4] = (uint8_t)len;
	c[5] = features;
	c[6] = count;
	c[7] = (uint8_t)lba;
	c[8] = (uint8_t)(lba >> 8);
	c[9] = (uint8_t)(lba >> 16);
	c[10] = device;
	c[11] = command;
}

static void jm_register_cdb(uint8_t *c, uint16_t addr, uint16_t len)
{
	jm_cdb(c, 0x10, len, 0, 0, 0, 0, 0xfd);
	c[6] = (uint8_t)(addr >> 8);
	c[7] = (uint8_t)addr;
}

static const char *const jm_specs[] = {
	"sim:bridge=jmicron", "sim:bridge=jmicron,transport=usb-bot,size=4M",
};

START_TEST(jmicron)
{
	struct ostor_scsi_inquiry inq = OSTOR_SCSI_INQUIRY_INIT;
	struct ostor_scsi_ata_identify id = OSTOR_SCSI_ATA_IDENTIFY_INIT;
	struct ostor_scsi_ata_smart_data sd = OSTOR_SCSI_ATA_SMART_DATA_INIT;
	uint8_t c[12], buf[512], data[512];
	struct ostor_cdb oc;
	struct res r;

	open_spec(jm_specs[_i]);
	ck_assert_int_eq(ostor_scsi_cdb_inquiry(&oc, 0, 0, 96), 0);
	r = run(&oc, IN, buf, 96);
	ck_good(r);
	ck_assert_int_eq(ostor_scsi_parse_inquiry(buf, r.transferred, &inq), 0);
	ck_assert_str_eq(inq.vendor, "JMicron");
	ck_assert_int_eq(ostor_scsi_cdb_inquiry(&oc, 1, 0x89, 255), 0);
	r = run(&oc, IN, buf, 255);
	ck_sense(r, OSTOR_SCSI_SENSE_ILLEGAL_REQUEST, 0x24, 0x00);
	/* no SAT */
	ck_assert_int_eq(ostor_scsi_cdb_ata_identify(&oc, 16), 0);
	r = run(&oc, IN, buf, 512);
	ck_sense(r, OSTOR_SCSI_SENSE_ILLEGAL_REQUEST, 0x20, 0x00);
	ck_assert_int_eq(ostor_scsi_cdb_ata_identify(&oc, 12), 0);
	r = run(&oc, IN, buf, 512);
	ck_sense(r, OSTOR_SCSI_SENSE_ILLEGAL_REQUEST, 0x20, 0x00);
	/* which ports have a disk */
	jm_register_cdb(c, 0x720f, 1);
	r = raw(c, 12, IN, buf, 1);
	ck_good(r);
	ck_assert_uint_eq(r.transferred, 1);
	ck_assert_uint_eq(buf[0] & 0x44, 0x04);
	/* SMART RETURN STATUS: one byte, LBA high */
	jm_cdb(c, 0x10, 1, 0xda, 0, 0xc24f00, 0xa0, 0xb0);
	r = raw(c, 12, IN, buf, 1);
	ck_good(r);
	ck_assert_uint_eq(buf[0], 0xc2);
	/* IDENTIFY, SMART READ DATA */
	jm_cdb(c, 0x10, 512, 0, 1, 0, 0xa0, 0xec);
	r = raw(c, 12, IN, buf, 512);
	ck_good(r);
	ck_assert_int_eq(ostor_scsi_parse_ata_identify(buf, r.transferred, &id), 0);
	ck_assert_str_eq(id.model, "ORIONSTOR SIM ATA DISK");
	ck_assert(id.checksum_ok);
	jm_cdb(c, 0x10, 512, 0xd0, 1, 0xc24f00, 0xa0, 0xb0);
	r = raw(c, 12, IN, data, 512);
	ck_good(r);
	ck_assert_int_eq(ostor_scsi_parse_ata_smart_data(data, 512, NULL, 0, &sd), 0);
	ck_assert(sd.checksum_ok);
	ck_assert_uint_eq(sd.count, 12);
	/* CHECK POWER MODE non-data; the registers at 8000h (count at 0) */
	jm_cdb(c, 0x10, 0, 0, 0, 0, 0xa0, 0xe5);
	ck_good(raw(c, 12, NONE, NULL, 0));
	jm_register_cdb(c, 0x8000, 16);
	r = raw(c, 12, IN, buf, 16);
	ck_good(r);
	ck_assert_uint_eq(buf[0], 0xff);
	ck_assert_uint_eq(buf[10], 0x50);
	/* wrong length, port 1, data-out for a data-in command */
	jm_cdb(c, 0x10, 256, 0, 1, 0, 0xa0, 0xec);
	r = raw(c, 12, IN, buf, 256);
	ck_sense(r, OSTOR_SCSI_SENSE_ILLEGAL_REQUEST, 0x24, 0x00);
	jm_cdb(c, 0x10, 512, 0, 1, 0, 0xb0, 0xec);
	r = raw(c, 12, IN, buf, 512);
	ck_sense(r, OSTOR_SCSI_SENSE_ILLEGAL_REQUEST, 0x24, 0x00);
	jm_cdb(c, 0x00, 512, 0, 1, 0, 0xa0, 0xec);
	r = raw(c, 12, OUT, buf, 512);
	ck_sense(r, OSTOR_SCSI_SENSE_ILLEGAL_REQUEST, 0x24, 0x00);
	/* an aborted command: no SAT sense, the error register at 800Dh */
	jm_cdb(c, 0x10, 0, 0xda, 0, 0, 0xa0, 0xb0);  /* no signature */
	r = raw(c, 12, NONE, NULL, 0);
	ck_sense(r, OSTOR_SCSI_SENSE_ABORTED_COMMAND, 0x00, 0x00);
	jm_register_cdb(c, 0x8000, 16);
	r = raw(c, 12, IN, buf, 16);
	ck_good(r);
	ck_assert_uint_eq(buf[13], 0x04);
	ck_assert_uint_eq(buf[10] & 1, 1);
	if (_i) {
		struct ostor_usb_details d = OSTOR_USB_DETAILS_INIT;

		ck_assert_int_eq(ostor_usb_get_details(dev, &d), 0);
		ck_assert_uint_eq(d.vendor_id, 0x152d);
		ck_assert_uint_eq(d.product_id, 0x2338);
	}
}
END_TEST

START_TEST(jmicron_failing)
{
	uint8_t c[12], buf[1];

	open_spec("sim:bridge=jmicron,ata-fault=failing");
	jm_cdb(c, 0x10, 1, 0xda, 0, 0xc24f00, 0xa0, 0xb0);
	ck_good(raw(c, 12, IN, buf, 1));
	ck_assert_uint_eq(buf[0], 0x2c);
}
END_TEST

START_TEST(bad_options)
{
	static const struct {
		const char *spec, *needle;
	} bad[] = {
		{ "sim:bridge=sunplus", "jmicron" },
		{ "sim:bridge=cypress", "jmicron" },
		{ "sim:bridge=other", "jmicron" },
		{ "sim:bridge", "jmicron" },
		{ "sim:ata=1", "no value" },
		{ "sim:ata-fault=failing", "ata or bridge=jmicron" },
		{ "sim:ata,ata-fault=bogus", "no-pt16" },
		{ "sim:ata,ata-fault=", "ata-fault" },
		{ "sim:ie=maybe", "ie=failing" },
		{ "sim:temperature=0", "1 to 120" },
		{ "sim:temperature=200", "temperature" },
		{ "sim:power-page=maybe", "yes or no" },
		{ "sim:ata,type=cdrom", "type=cdrom" },
		{ "sim:ata,transport=usb-bot,ata-fault=x", "failing" },
	};

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		ck_assert_msg(ostor_open(ctx, bad[i].spec, &dev) < 0, "%s opened", bad[i].spec);
		dev = NULL;
		ck_assert_msg(strstr(ostor_last_error(), bad[i].needle), "%s: \"%s\" lacks \"%s\"",
			      bad[i].spec, ostor_last_error(), bad[i].needle);
	}
}
END_TEST

/* ---- native log pages, self-tests, informational exceptions ----------------- */

static struct res log_sense(uint8_t page, uint8_t sub, uint16_t ptr, uint16_t alloc, uint8_t *buf)
{
	struct ostor_cdb c;

	ck_assert_int_eq(ostor_scsi_cdb_log_sense(&c, 0, 1, page, sub, ptr, alloc), 0);
	return run(&c, IN, buf, alloc);
}

START_TEST(log_pages)
{
	struct ostor_scsi_log_page_id ids[16];
	struct ostor_scsi_log_temperature temp;
	struct ostor_scsi_log_self_test st[20];
	struct ostor_scsi_log_bg_scan_status bg;
	struct ostor_scsi_log_ie ie;
	uint8_t buf[1024];
	size_t total;
	struct res r;

	open_spec(_i ? "sim:ata,temperature=50" : "sim:");
	r = log_sense(0x00, 0x00, 0, sizeof(buf), buf);
	ck_good(r);
	ck_assert_int_eq(ostor_scsi_parse_log_supported(buf, r.transferred, ids, 16, &total), 5);
	ck_assert_uint_eq(ids[1].page, 0x0d);
	ck_assert_uint_eq(ids[4].page, 0x2f);
	r = log_sense(0x00, 0xff, 0, sizeof(buf), buf);
	ck_good(r);
	ck_assert_int_eq(ostor_scsi_parse_log_supported(buf, r.transferred, ids, 16, &total), 6);
	ck_assert_int_eq(ostor_scsi_log_supports(buf, r.transferred, 0x00, 0xff), 1);
	ck_assert_int_eq(ostor_scsi_log_supports(buf, r.transferred, 0x15, 0x00), 1);

	r = log_sense(0x0d, 0, 0, sizeof(buf), buf);
	ck_good(r);
	ck_assert_int_eq(ostor_scsi_parse_log_temperature(buf, r.transferred, &temp), 0);
	ck_assert(temp.current_valid && temp.reference_valid);
	ck_assert_uint_eq(temp.current, _i ? 50 : 35);
	ck_assert_uint_eq(temp.reference, 65);
	/* parameter pointer: from 0001h on; past the last: refused */
	r = log_sense(0x0d, 0, 1, sizeof(buf), buf);
	ck_good(r);
	ck_assert_int_eq(ostor_scsi_parse_log_temperature(buf, r.transferred, &temp), 0);
	ck_assert(!temp.current_valid && temp.reference_valid);
	r = log_sense(0x0d, 0, 2, sizeof(buf), buf);
	ck_sense(r, OSTOR_SCSI_SENSE_ILLEGAL_REQUEST, 0x24, 0x00);
	ck_assert_uint_eq(r.s.sks[1] << 8 | r.s.sks[2], 5);

	r = log_sense(0x2f, 0, 0, sizeof(buf), buf);
	ck_good(r);
	ck_assert_int_eq(ostor_scsi_parse_log_ie(buf, r.transferred, &ie), 0);
	ck_assert(ie.present);
	ck_assert_int_eq(ie.exception, OSTOR_SCSI_IE_NONE);
	ck_assert(ie.temperature_valid);
	ck_assert_uint_eq(ie.temperature, _i ? 50 : 35);
	r = log_sense(0x2f, 0, 1, sizeof(buf), buf);
	ck_sense(r, OSTOR_SCSI_SENSE_ILLEGAL_REQUEST, 0x24, 0x00);

	r = log_sense(0x10, 0, 0, sizeof(buf), buf);
	ck_good(r);
	ck_assert_uint_eq(r.transferred, 4 + 20 * 20);
	ck_assert_int_eq(ostor_scsi_parse_log_self_test(buf, r.transferred, st, 20, &total), 0);
	/* short allocation length: cut, PAGE LENGTH still whole */
	r = log_sense(0x10, 0, 0, 10, buf);
	ck_good(r);
	ck_assert_uint_eq(r.transferred, 10);
	ck_assert_uint_eq(buf[2] << 8 | buf[3], 400);
	r = log_sense(0x10, 0, 5, sizeof(buf), buf);
	ck_good(r);
	ck_assert_uint_eq(r.transferred, 4 + 16 * 20);
	ck_assert_uint_eq(buf[4] << 8 | buf[5], 5);
	r = log_sense(0x10, 0, 0x14, sizeof(buf), buf);
	ck_good(r);
	ck_assert_uint_eq(r.transferred, 4 + 20);
	r = log_sense(0x10, 0, 0x15, sizeof(buf), buf);
	ck_sense(r, OSTOR_SCSI_SENSE_ILLEGAL_REQUEST, 0x24, 0x00);

	r = log_sense(0x15, 0, 0, sizeof(buf), buf);
	ck_good(r);
	ck_assert_int_eq(ostor_scsi_parse_log_bg_scan(buf, r.transferred, &bg, NULL, 0, &total), 0);
	ck_assert(bg.present);
	ck_assert_uint_ge(bg.power_on_minutes, 60000);
	ck_assert_uint_eq(bg.scans_performed, 3);

	/* unsupported page and subpage */
	r = log_sense(0x30, 0, 0, sizeof(buf), buf);
	ck_sense(r, OSTOR_SCSI_SENSE_ILLEGAL_REQUEST, 0x24, 0x00);
	r = log_sense(0x0d, 0x01, 0, sizeof(buf), buf);
	ck_sense(r, OSTOR_SCSI_SENSE_ILLEGAL_REQUEST, 0x24, 0x00);
}
END_TEST

static struct res send_diag(uint8_t code, int selftest)
{
	struct ostor_cdb c;

	ck_assert_int_eq(ostor_scsi_cdb_send_diagnostic(&c, code, 0, selftest, 0, 0, 0), 0);
	return run(&c, NONE, NULL, 0);
}

START_TEST(self_tests)
{
	struct ostor_scsi_log_self_test st[20];
	uint8_t buf[1024];
	size_t total;
	struct res r;

	open_spec("sim:");
	ck_good(send_diag(1, 0));                  /* background short */
	ck_good(send_diag(6, 0));                  /* foreground extended */
	ck_good(send_diag(0, 1));                  /* default self-test */
	ck_good(send_diag(4, 0));                  /* abort: nothing runs */
	r = send_diag(3, 0);
	ck_sense(r, OSTOR_SCSI_SENSE_ILLEGAL_REQUEST, 0x24, 0x00);
	{
		static const uint8_t cdb[6] = { 0x1d, 0x24, 0, 0, 0, 0 }; /* SELFTEST with a code */

		r = raw(cdb, 6, NONE, NULL, 0);
		ck_sense(r, OSTOR_SCSI_SENSE_ILLEGAL_REQUEST, 0x24, 0x00);
	}
	r = log_sense(0x10, 0, 0, sizeof(buf), buf);
	ck_good(r);
	ck_assert_int_eq(ostor_scsi_parse_log_self_test(buf, r.transferred, st, 20, &total), 3);
	ck_assert_uint_eq(st[0].param_code, 1);
	ck_assert_uint_eq(st[0].code, 0);
	ck_assert_uint_eq(st[1].code, 6);
	ck_assert_uint_eq(st[2].code, 1);
	ck_assert_uint_eq(st[2].result, 0);
	ck_assert_uint_eq(st[2].power_on_hours, 1000);
	ck_assert(!st[2].lba_valid);
	ck_assert_str_eq(ostor_scsi_self_test_code_name(st[1].code), "Foreground long");
	/* the 20 parameters keep the newest */
	for (int i = 0; i < 25; i++)
		ck_good(send_diag(5, 0));
	r = log_sense(0x10, 0, 0, sizeof(buf), buf);
	ck_assert_int_eq(ostor_scsi_parse_log_self_test(buf, r.transferred, st, 20, &total), 20);
	ck_assert_uint_eq(st[19].code, 5);
}
END_TEST

START_TEST(informational_exceptions)
{
	struct ostor_scsi_log_ie ie;
	uint8_t buf[256];
	struct ostor_cdb c;
	struct res r;

	open_spec("sim:ie=failing");
	r = log_sense(0x2f, 0, 0, sizeof(buf), buf);
	ck_good(r);
	ck_assert_int_eq(ostor_scsi_parse_log_ie(buf, r.transferred, &ie), 0);
	ck_assert_uint_eq(ie.asc, 0x5d);
	ck_assert_int_eq(ie.exception, OSTOR_SCSI_IE_FAILURE_PREDICTED);
	ck_assert_uint_eq(ie.temperature, 35);
	/* MRIE 6: reported on request */
	ck_assert_int_eq(ostor_scsi_cdb_mode_sense10(&c, 1, 0, 0, 0x1c, 0, sizeof(buf)), 0);
	r = run(&c, IN, buf, sizeof(buf));
	ck_good(r);
	ck_assert_uint_eq(buf[8] & 0x3f, 0x1c);
	ck_assert_uint_eq(buf[10] & 0x08, 0);      /* DEXCPT 0 */
	ck_assert_uint_eq(buf[11] & 0x0f, 6);
	ck_request_sense(OSTOR_SCSI_SENSE_NO_SENSE, 0x5d, 0x00);
	ck_request_sense(OSTOR_SCSI_SENSE_NO_SENSE, 0x5d, 0x00);   /* stays */
	ck_good(send_diag(1, 0));                  /* commands still work */
	ostor_close(dev);
	open_spec("sim:");
	ck_request_sense(OSTOR_SCSI_SENSE_NO_SENSE, 0x00, 0x00);
}
END_TEST

/* ---- power conditions --------------------------------------------------------- */

static struct res start_stop(uint8_t pc, uint8_t mod, int start)
{
	struct ostor_cdb c;

	ck_assert_int_eq(ostor_scsi_cdb_start_stop_unit(&c, 1, pc, mod, 0, start), 0);
	return run(&c, NONE, NULL, 0);
}

static struct res read1(void)
{
	static uint8_t buf[512];
	struct ostor_cdb c;

	ck_assert_int_eq(ostor_scsi_cdb_read10(&c, 7, 1, 0), 0);
	return run(&c, IN, buf, sizeof(buf));
}

static int ata_power(void)
{
	struct ostor_scsi_ata_power_mode pm;
	struct ostor_cdb c;
	struct res r;

	ck_assert_int_eq(ostor_scsi_cdb_ata_check_power_mode(&c, 16), 0);
	r = run(&c, NONE, NULL, 0);
	ck_assert_int_eq(ostor_scsi_parse_ata_power_mode(r.sense, r.sense_len, &pm), 0);
	return pm.mode;
}

static const char *const power_specs[] = { "sim:", "sim:ata", "sim:null", "sim:ata,power-page=no" };

START_TEST(power_conditions)
{
	static const struct {
		uint8_t pc, mod, ascq;
		int ata;
	} cases[] = {
		{ 2, 0, 0x03, OSTOR_ATA_POWER_IDLE },     /* idle_a by command */
		{ 2, 1, 0x06, OSTOR_ATA_POWER_IDLE },     /* idle_b */
		{ 2, 2, 0x08, OSTOR_ATA_POWER_IDLE },     /* idle_c */
		{ 3, 0, 0x04, OSTOR_ATA_POWER_STANDBY },  /* standby_z */
		{ 3, 1, 0x0a, OSTOR_ATA_POWER_STANDBY },  /* standby_y */
		{ 0xa, 0, 0x01, OSTOR_ATA_POWER_IDLE },   /* FORCE_IDLE_0: idle_a by timer */
		{ 0xb, 0, 0x02, OSTOR_ATA_POWER_STANDBY }, /* FORCE_STANDBY_0 */
	};
	bool ata = _i & 1;
	struct res r;

	open_spec(power_specs[_i]);
	ck_request_sense(OSTOR_SCSI_SENSE_NO_SENSE, 0x00, 0x00);
	for (size_t k = 0; k < sizeof(cases) / sizeof(cases[0]); k++) {
		ck_good(start_stop(cases[k].pc, cases[k].mod, 0));
		ck_request_sense(OSTOR_SCSI_SENSE_NO_SENSE, 0x5e, cases[k].ascq);
		if (ata)
			ck_assert_int_eq(ata_power(), cases[k].ata);
		/* a read brings it back to active */
		ck_good(read1());
		ck_request_sense(OSTOR_SCSI_SENSE_NO_SENSE, 0x00, 0x00);
		if (ata)
			ck_assert_int_eq(ata_power(), OSTOR_ATA_POWER_ACTIVE);
	}
	/* ACTIVE, LU_CONTROL */
	ck_good(start_stop(3, 0, 0));
	ck_good(start_stop(1, 0, 0));
	ck_request_sense(OSTOR_SCSI_SENSE_NO_SENSE, 0x00, 0x00);
	ck_good(start_stop(2, 0, 0));
	ck_good(start_stop(7, 0, 0));
	ck_request_sense(OSTOR_SCSI_SENSE_NO_SENSE, 0x00, 0x00);
	/* TEST UNIT READY and INQUIRY do not wake it */
	ck_good(start_stop(3, 0, 0));
	{
		struct ostor_cdb c;
		uint8_t buf[96];

		ck_assert_int_eq(ostor_scsi_cdb_test_unit_ready(&c), 0);
		ck_good(run(&c, NONE, NULL, 0));
		ck_assert_int_eq(ostor_scsi_cdb_inquiry(&c, 0, 0, 96), 0);
		ck_good(run(&c, IN, buf, 96));
	}
	ck_request_sense(OSTOR_SCSI_SENSE_NO_SENSE, 0x5e, 0x04);
	ck_good(read1());
	/* stopped: NOT READY until started */
	ck_good(start_stop(0, 0, 0));
	r = read1();
	ck_sense(r, OSTOR_SCSI_SENSE_NOT_READY, 0x04, 0x02);
	if (ata)
		ck_assert_int_eq(ata_power(), OSTOR_ATA_POWER_STANDBY);
	ck_good(start_stop(0, 0, 1));
	ck_good(read1());
	/* refused: reserved condition, modifiers out of range */
	r = start_stop(4, 0, 0);
	ck_sense(r, OSTOR_SCSI_SENSE_ILLEGAL_REQUEST, 0x24, 0x00);
	r = start_stop(2, 3, 0);
	ck_sense(r, OSTOR_SCSI_SENSE_ILLEGAL_REQUEST, 0x24, 0x00);
	r = start_stop(3, 2, 0);
	ck_sense(r, OSTOR_SCSI_SENSE_ILLEGAL_REQUEST, 0x24, 0x00);
	r = start_stop(1, 1, 0);
	ck_sense(r, OSTOR_SCSI_SENSE_ILLEGAL_REQUEST, 0x24, 0x00);
	if (ata) {
		/* ATA STANDBY IMMEDIATE / IDLE IMMEDIATE: the same states */
		struct ostor_scsi_ata_pt pt = { .protocol = OSTOR_ATA_PROTO_NON_DATA, .command = 0xe0 };
		struct ostor_cdb c;

		ck_assert_int_eq(ostor_scsi_cdb_ata_pass_through16(&c, &pt), 0);
		ck_good(run(&c, NONE, NULL, 0));
		ck_request_sense(OSTOR_SCSI_SENSE_NO_SENSE, 0x5e, 0x04);
		ck_assert_int_eq(ata_power(), OSTOR_ATA_POWER_STANDBY);
		pt.command = 0xe1;
		ck_assert_int_eq(ostor_scsi_cdb_ata_pass_through12(&c, &pt), 0);
		ck_good(run(&c, NONE, NULL, 0));
		ck_request_sense(OSTOR_SCSI_SENSE_NO_SENSE, 0x5e, 0x03);
		ck_assert_int_eq(ata_power(), OSTOR_ATA_POWER_IDLE);
	}
}
END_TEST

START_TEST(power_over_usb)
{
	open_spec("sim:ata,transport=usb-bot,size=4M");
	ck_good(start_stop(3, 0, 0));
	ck_request_sense(OSTOR_SCSI_SENSE_NO_SENSE, 0x5e, 0x04);
	ck_assert_int_eq(ata_power(), OSTOR_ATA_POWER_STANDBY);
	ck_good(read1());
	ck_assert_int_eq(ata_power(), OSTOR_ATA_POWER_ACTIVE);
}
END_TEST

/* Mode page 1Ah through MODE SENSE(10)/(6): pc 0..3. */
static struct res power_page(int ten, uint8_t pc, uint8_t *buf, uint8_t **page)
{
	struct ostor_cdb c;
	struct res r;

	if (ten)
		ck_assert_int_eq(ostor_scsi_cdb_mode_sense10(&c, 1, 0, pc, 0x1a, 0, 255), 0);
	else
		ck_assert_int_eq(ostor_scsi_cdb_mode_sense6(&c, 1, pc, 0x1a, 0, 255), 0);
	r = run(&c, IN, buf, 255);
	*page = buf + (ten ? 8 : 4);
	return r;
}

static uint32_t be32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static void sleep_ms(long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000 };

	nanosleep(&ts, NULL);
}

START_TEST(power_mode_page)
{
	uint8_t buf[256], sel[64], *p;
	struct ostor_cdb c;
	struct res r;

	open_spec(_i ? "sim:null" : "sim:");
	r = power_page(1, 0, buf, &p);
	ck_good(r);
	ck_assert_uint_eq(p[0], 0x80 | 0x1a);        /* PS */
	ck_assert_uint_eq(p[1], 0x26);
	ck_assert_uint_eq(p[3] & 0x0f, 0);           /* no timer enabled */
	ck_assert_uint_eq(be32(p + 4), 20);          /* idle_a 2 s */
	ck_assert_uint_eq(be32(p + 8), 9000);        /* standby_z 15 min */
	r = power_page(0, 1, buf, &p);               /* changeable, MODE SENSE(6) */
	ck_good(r);
	ck_assert_uint_eq(p[2], 0xc1);
	ck_assert_uint_eq(p[3], 0x0f);
	ck_assert_uint_eq(be32(p + 20), 0xffffffffu);
	/* MODE SELECT(10) with SP: idle_a after 300 ms */
	r = power_page(1, 0, buf, &p);
	memset(sel, 0, 8);
	memcpy(sel + 8, p, 40);
	sel[8] &= 0x3f;                              /* PS is reserved here */
	sel[11] = 0x02;                              /* IDLE_A */
	sel[12] = 0;
	sel[13] = 0;
	sel[14] = 0;
	sel[15] = 3;
	ck_assert_int_eq(ostor_scsi_cdb_mode_select10(&c, 1, 1, 48), 0);
	r = run(&c, OUT, sel, 48);
	ck_good(r);
	r = power_page(1, 3, buf, &p);               /* saved */
	ck_good(r);
	ck_assert_uint_eq(p[3], 0x02);
	ck_assert_uint_eq(be32(p + 4), 3);
	r = power_page(1, 2, buf, &p);               /* default unchanged */
	ck_assert_uint_eq(p[3], 0);
	ck_assert_uint_eq(be32(p + 4), 20);
	r = power_page(0, 0, buf, &p);
	ck_assert_uint_eq(p[3], 0x02);
	/* the timer moves the LU at the next command; a read wakes it */
	sleep_ms(400);
	ck_request_sense(OSTOR_SCSI_SENSE_NO_SENSE, 0x5e, 0x01);
	ck_good(read1());
	{
		uint8_t s[252];
		size_t len;
		struct ostor_scsi_sense sn = request_sense(0, s, &len);

		/* right after the read it is active (unless this machine took
		 * the whole 300 ms in between) */
		ck_assert(sn.asc == 0 || sn.asc == 0x5e);
	}
	/* a START STOP UNIT power condition stops the timers */
	ck_good(start_stop(1, 0, 0));
	sleep_ms(400);
	ck_request_sense(OSTOR_SCSI_SENSE_NO_SENSE, 0x00, 0x00);
	/* a changed unchangeable byte is refused */
	sel[9] = 0x20;
	r = run(&c, OUT, sel, 48);
	ck_sense(r, OSTOR_SCSI_SENSE_ILLEGAL_REQUEST, 0x26, 0x00);
	/* a reset brings back the saved values (the timer runs again) */
	ck_assert_int_eq(ostor_reset(dev, OSTOR_RESET_TARGET, 0, 0), 0);
	r = power_page(1, 0, buf, &p);
	r = power_page(1, 0, buf, &p);               /* after the unit attention */
	ck_assert_uint_eq(p[3], 0x02);
}
END_TEST

START_TEST(no_power_page)
{
	uint8_t buf[256], *p;
	struct ostor_cdb c;
	struct res r;

	open_spec("sim:power-page=no");
	r = power_page(1, 0, buf, &p);
	ck_sense(r, OSTOR_SCSI_SENSE_ILLEGAL_REQUEST, 0x24, 0x00);
	r = power_page(0, 1, buf, &p);
	ck_sense(r, OSTOR_SCSI_SENSE_ILLEGAL_REQUEST, 0x24, 0x00);
	ck_assert_int_eq(ostor_scsi_cdb_mode_sense10(&c, 1, 0, 0, 0x3f, 0, 255), 0);
	r = run(&c, IN, buf, 255);
	ck_good(r);
	for (size_t off = 8; off + 2 <= r.transferred; off += 2u + buf[off + 1])
		ck_assert_uint_ne(buf[off] & 0x3f, 0x1a);
	/* the conditions themselves still work */
	ck_good(start_stop(2, 0, 0));
	ck_request_sense(OSTOR_SCSI_SENSE_NO_SENSE, 0x5e, 0x03);
}
END_TEST

/* Random CDBs at the new commands: every one completes, GOOD or CHECK
 * CONDITION, within its buffer (the sanitizer build checks the rest). */
START_TEST(hostile_cdbs)
{
	static const char *const specs[] = { "sim:ata", "sim:bridge=jmicron", "sim:null" };
	static const uint8_t ops[] = { 0x85, 0xa1, 0xdf, 0x4d, 0x1b, 0x1d, 0x03, 0x1a, 0x5a, 0x15, 0x55 };
	static uint8_t buf[2048];
	unsigned int seed = 12345u + (unsigned int)_i;

	open_spec(specs[_i]);
	for (int n = 0; n < 20000; n++) {
		uint8_t cdb[16];
		size_t len = (rand_r(&seed) & 1) ? 16 : 12, blen = (size_t)rand_r(&seed) % sizeof(buf);
		int dir = rand_r(&seed) % 3;
		struct res r;

		for (size_t i = 0; i < sizeof(cdb); i++)
			cdb[i] = (uint8_t)rand_r(&seed);
		cdb[0] = ops[(size_t)rand_r(&seed) % sizeof(ops)];
		if (dir == 0)
			blen = 0;
		else if (blen == 0)
			blen = 1;
		r = raw(cdb, len, dir == 0 ? NONE : dir == 1 ? IN : OUT, dir ? buf : NULL, blen);
		ck_assert_msg(r.status == 0 || r.status == 2, "status %d", r.status);
		ck_assert_uint_le(r.transferred, blen);
	}
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("sim_health");
	TCase *tc = tcase_create("sat");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 60);
	tcase_add_loop_test(tc, sat_inquiry_vpd89, 0, 2);
	tcase_add_loop_test(tc, sat_identify_status_power, 0, 4);
	tcase_add_loop_test(tc, sat_smart, 0, 2);
	tcase_add_test(tc, sat_bad_cdbs);
	tcase_add_test(tc, sat_sense_formats);
	tcase_add_test(tc, sat_faults);
	tcase_add_loop_test(tc, jmicron, 0, 2);
	tcase_add_test(tc, jmicron_failing);
	tcase_add_test(tc, bad_options);
	tcase_add_loop_test(tc, hostile_cdbs, 0, 3);
	suite_add_tcase(s, tc);

	tc = tcase_create("native");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 60);
	tcase_add_loop_test(tc, log_pages, 0, 2);
	tcase_add_test(tc, self_tests);
	tcase_add_test(tc, informational_exceptions);
	suite_add_tcase(s, tc);

	tc = tcase_create("power");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 60);
	tcase_add_loop_test(tc, power_conditions, 0, 4);
	tcase_add_test(tc, power_over_usb);
	tcase_add_loop_test(tc, power_mode_page, 0, 2);
	tcase_add_test(tc, no_power_page);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
