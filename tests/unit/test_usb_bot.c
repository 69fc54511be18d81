/*
 * tests/unit/test_usb_bot.c - the Bulk-Only engine against the simulated
 * BOT device: plain I/O, multi-LUN, the thirteen cases and every fault of
 * issue 3's list (1-11), recovery escalation, quirks.
 */
#include "usb_test_util.h"

#include <time.h>
#include <unistd.h>

#define BOT0 "sim:transport=usb-bot,size=4M"
#define BOT BOT0 ",usb-timeout=100"

/* ---- plain I/O ------------------------------------------------------------- */

START_TEST(bot_plain_io)
{
	static const char *const specs[] = { BOT, BOT ",pipeline=off", BOT ",quirks=go-slow", BOT ",pipeline=cbw" };
	struct sim_usb *m = open_dev(specs[_i]);
	struct ostor_lun_info li = OSTOR_LUN_INFO_INIT;
	uint8_t *w = malloc(256 * 512), *r = malloc(256 * 512);

	ck_assert_int_eq(ostor_lun_info(dev, 0, 0, &li), 0);
	ck_assert_uint_eq(li.block_size, 512);
	ck_assert_uint_eq(li.blocks, 8192);
	fill(w, 256 * 512, 3);
	ck_assert_int_eq(ostor_write_blocks(dev, 0, 0, 100, 256, w), 0);
	memset(r, 0, 256 * 512);
	ck_assert_int_eq(ostor_read_blocks(dev, 0, 0, 100, 256, r), 0);
	ck_assert_mem_eq(w, r, 256 * 512);
	ck_assert_uint_eq(mstats(m).bot_resets, 0);
	ck_assert_uint_eq(estats(m).csw_invalid, 0);
	ck_assert_uint_ge(mstats(m).cbws, 4);
	free(w);
	free(r);
}
END_TEST

START_TEST(bot_scattered_buffers)
{
	uint8_t a[512], b[1024], c[512], w[2048];
	struct iovec iov[3] = { { a, sizeof(a) }, { b, sizeof(b) }, { c, sizeof(c) } };
	uint8_t cdb[10];
	ostor_task *t;

	open_dev(BOT);
	fill(w, sizeof(w), 9);
	ck_assert_int_eq(ostor_write_blocks(dev, 0, 0, 7, 4, w), 0);
	cdb_rw10(cdb, 0x28, 7, 4);
	ck_assert_int_eq(ostor_task_new(dev, &t), 0);
	ck_assert_int_eq(ostor_task_set_cdb(t, cdb, 10), 0);
	ck_assert_int_eq(ostor_task_set_iov(t, OSTOR_DIR_FROM_DEVICE, iov, 3), 0);
	ck_assert_int_eq(ostor_task_execute(t), 0);
	ck_assert_int_eq(ostor_task_result(t), OSTOR_RESULT_GOOD);
	ck_assert_uint_eq(ostor_task_transferred(t), 2048);
	ck_assert_mem_eq(a, w, 512);
	ck_assert_mem_eq(b, w + 512, 1024);
	ck_assert_mem_eq(c, w + 1536, 512);
	ostor_task_free(t);
}
END_TEST

START_TEST(bot_multi_lun)
{
	struct sim_usb *m = open_dev(BOT ",luns=3");
	struct ostor_lun_addr *luns;
	struct ostor_usb_details d = OSTOR_USB_DETAILS_INIT;
	size_t n;

	ck_assert_uint_eq(mstats(m).get_max_lun, 1);
	ck_assert_uint_eq(dev->max_lun, 2);
	ck_assert_int_eq(ostor_usb_get_details(dev, &d), 0);
	ck_assert_uint_eq(d.max_lun, 2);
	ck_assert_str_eq(d.transport, "bot");
	ck_assert_int_eq(d.simulated, 1);
	/* One mass-storage interface: target 0 only, described twice. */
	ck_assert_uint_eq(d.interfaces, 1);
	ck_assert_uint_eq(d.target_interface[0], d.interface_number);
	ck_assert_uint_eq(d.target_max_lun[0], 2);
	ck_assert_uint_eq(d.target_protocol[0], 0x50);
	ck_assert_uint_eq(d.target_subclass[0], d.subclass);
	ck_assert_uint_eq(d.target_max_lun[1], 0);
	ck_assert_int_eq(ostor_device_luns(dev, &luns, &n), 0);
	ck_assert_uint_eq(n, 3);
	for (size_t i = 0; i < n; i++)
		ck_assert_uint_eq(luns[i].lun, i);
	free(luns);
	check_io_works(2, 10, 1);
	check_io_works(0, 10, 2);
	/* Different LUNs hold different data. */
	{
		uint8_t a[512], b[512];

		ck_assert_int_eq(ostor_read_blocks(dev, 0, 0, 10, 1, a), 0);
		ck_assert_int_eq(ostor_read_blocks(dev, 0, 2, 10, 1, b), 0);
		ck_assert_int_ne(memcmp(a, b, 512), 0);
	}
}
END_TEST

START_TEST(bot_lun_beyond_max_refused)
{
	uint8_t buf[36], cdb[6] = { 0x12, 0, 0, 0, 36, 0 };
	ostor_task *t;

	struct ousb_engine_stats before;
	struct sim_usb *m = open_dev(BOT ",luns=2");

	/* Refused before the wire, with the LUNs the device has. */
	before = estats(m);
	ck_assert_int_eq(ostor_task_new(dev, &t), 0);
	ck_assert_int_eq(ostor_task_prepare(t, 0, 5, cdb, 6, OSTOR_DIR_FROM_DEVICE, buf, sizeof(buf)), 0);
	ck_assert_int_eq(ostor_task_execute(t), OSTOR_ERROR_NOT_FOUND);
	ck_assert_ptr_nonnull(strstr(ostor_last_error(), "no LUN 5 at target 0: its LUNs are 0 to 1"));
	ck_assert_uint_eq(estats(m).commands, before.commands);
	ostor_task_free(t);
	/* LUN 1 is there. */
	t = run(1, cdb, 6, OSTOR_DIR_FROM_DEVICE, buf, sizeof(buf));
	ck_assert_int_eq(ostor_task_result(t), OSTOR_RESULT_GOOD);
	ostor_task_free(t);
}
END_TEST

/* ---- fault matrix 1-3, 5: invalid CSWs ------------------------------------ */

static const char *const bad_csw[] = {
	"csw-bad-signature", "csw-stale-tag", "csw-short", "csw-long", "csw-512", "csw-bad-status",
};

/* The fault hits a read, then a write: each fails with nothing reported
 * transferred, no byte past the buffer, after one Reset Recovery. */
static void invalid_csw_case(const char *fault, uint8_t status)
{
	char spec[256];
	struct sim_usb *m;
	uint8_t buf[4096 + 64];
	size_t got = 99;

	snprintf(spec, sizeof(spec), BOT ",fault=%s", fault);
	m = open_dev(spec);
	sim_usb_set_bad_status(m, status);
	memset(buf, 0xee, sizeof(buf));
	ck_assert_int_eq(rw(0x28, 0, 8, buf, 4096, &got), OSTOR_RESULT_TRANSPORT_ERROR);
	ck_assert_uint_eq(got, 0);
	for (size_t i = 4096; i < sizeof(buf); i++)
		ck_assert_uint_eq(buf[i], 0xee);
	ck_assert_uint_eq(estats(m).csw_invalid, 1);
	ck_assert_uint_eq(mstats(m).bot_resets, 1);
	ck_assert_uint_eq(mstats(m).clear_halt_in, 1);
	ck_assert_uint_eq(mstats(m).clear_halt_out, 1);
	check_io_works(0, 0, 5);

	ck_assert_int_eq(sim_usb_arm_fault(m, (enum sim_usb_fault)sim_usb_fault_by_name(fault), 1, 0), 0);
	got = 99;
	ck_assert_int_eq(rw(0x2a, 0, 8, buf, 4096, &got), OSTOR_RESULT_TRANSPORT_ERROR);
	ck_assert_uint_eq(got, 0);
	ck_assert_uint_eq(estats(m).csw_invalid, 2);
	ck_assert_uint_eq(mstats(m).bot_resets, 2);
	check_io_works(0, 16, 6);
}

START_TEST(fault_01_csw_bad_signature)
{
	invalid_csw_case("csw-bad-signature", 0);
}
END_TEST

START_TEST(fault_02_csw_tag_mismatch)
{
	invalid_csw_case("csw-stale-tag", 0);
}
END_TEST

static const char *const csw_sizes[] = { "csw-short", "csw-long", "csw-512" };

START_TEST(fault_03_csw_wrong_size)
{
	invalid_csw_case(csw_sizes[_i], 0);
}
END_TEST

static const uint8_t bad_statuses[] = { 0x03, 0x04, 0x7f, 0x80, 0xfe, 0xff };

START_TEST(fault_05_csw_bad_status)
{
	invalid_csw_case("csw-bad-status", bad_statuses[_i]);
}
END_TEST

/* The same with reads queued before the CBW completes. */
START_TEST(bot_invalid_csw_cbw_pipelined)
{
	char spec[256];
	struct sim_usb *m;
	uint8_t buf[4096];
	size_t got = 99;

	snprintf(spec, sizeof(spec), BOT ",pipeline=cbw,fault=%s+cbw-stall", bad_csw[_i]);
	m = open_dev(spec);
	ck_assert_int_eq(rw(0x28, 0, 8, buf, sizeof(buf), &got), OSTOR_RESULT_TRANSPORT_ERROR);
	ck_assert_uint_eq(got, 0);
	ck_assert_uint_eq(mstats(m).bot_resets, 1);
	check_io_works(0, 0, 7);
}
END_TEST

/* ---- fault matrix 6: residue > transfer length ------------------------------------ */

START_TEST(fault_06_residue_too_big)
{
	struct sim_usb *m = open_dev(BOT ",fault=csw-residue-big");
	uint8_t buf[4096];
	size_t got = 1;

	ck_assert_int_eq(rw(0x28, 0, 8, buf, sizeof(buf), &got), OSTOR_RESULT_TRANSPORT_ERROR);
	ck_assert_uint_eq(got, 0);
	ck_assert_uint_eq(estats(m).csw_invalid, 1);
	ck_assert_uint_eq(mstats(m).bot_resets, 1);
	check_io_works(0, 0, 1);
}
END_TEST

START_TEST(bot_residue_ignored_by_quirk)
{
	struct sim_usb *m = open_dev(BOT ",fault=csw-residue-big,quirks=ignore-residue");
	uint8_t buf[4096];
	size_t got = 0;

	ck_assert_int_eq(rw(0x28, 0, 8, buf, sizeof(buf), &got), OSTOR_RESULT_GOOD);
	ck_assert_uint_eq(got, sizeof(buf));
	ck_assert_uint_eq(mstats(m).bot_resets, 0);
}
END_TEST

/* ---- fault matrix 7: phase errors, and the thirteen cases ------------------------- */

START_TEST(fault_07_phase_error_injected)
{
	struct sim_usb *m = open_dev(BOT ",fault=phase-error,fault-after=1,fault-count=1");
	uint8_t w[4096], buf[4096];
	size_t got = 7;

	fill(w, sizeof(w), 4);
	ck_assert_int_eq(rw(0x2a, 0, 8, w, sizeof(w), NULL), OSTOR_RESULT_GOOD);
	ck_assert_int_eq(rw(0x28, 0, 8, buf, sizeof(buf), &got), OSTOR_RESULT_TRANSPORT_ERROR);
	ck_assert_uint_eq(got, 0);   /* the residue is ignored */
	ck_assert_uint_eq(estats(m).phase_errors, 1);
	ck_assert_uint_eq(mstats(m).bot_resets, 1);
	ck_assert_int_eq(rw(0x28, 0, 8, buf, sizeof(buf), &got), OSTOR_RESULT_GOOD);
	ck_assert_mem_eq(w, buf, sizeof(buf));
}
END_TEST

/* INQUIRY allocating 96 bytes into a 36-byte buffer: the device has more
 * (BOT case 7 ends in a phase error); the CDB says so, so it is an
 * overrun with the 36 bytes, after the reset recovery. */
START_TEST(bot_overrun_from_allocation_length)
{
	struct sim_usb *m = open_dev(BOT);
	uint8_t inq[6] = { 0x12, 0, 0, 0, 96, 0 }, buf[36];
	ostor_task *t;

	t = run(0, inq, 6, OSTOR_DIR_FROM_DEVICE, buf, sizeof(buf));
	ck_assert_int_eq(ostor_task_result(t), OSTOR_RESULT_OVERRUN);
	ck_assert_uint_eq(ostor_task_transferred(t), 36);
	ck_assert_mem_eq(buf + 8, "ORIONSTR", 8);
	ostor_task_free(t);
	ck_assert_uint_eq(mstats(m).bot_resets, 1);
	check_io_works(0, 0, 9);
}
END_TEST

/* Host expectation vs device intent: the phase-error cases. */
START_TEST(fault_07_phase_error_host_cases)
{
	struct sim_usb *m = open_dev(BOT);
	uint8_t cdb[10], buf[1024];
	uint64_t writes;
	ostor_task *t;
	struct { int hcase; uint8_t op; uint16_t blocks; enum ostor_dir dir; size_t len; } cases[] = {
		{ 2, 0x28, 1, OSTOR_DIR_NONE, 0 },            /* Hn < Di */
		{ 3, 0x2a, 1, OSTOR_DIR_NONE, 0 },            /* Hn < Do */
		{ 7, 0x28, 2, OSTOR_DIR_FROM_DEVICE, 512 },   /* Hi < Di */
		{ 8, 0x2a, 1, OSTOR_DIR_FROM_DEVICE, 512 },   /* Hi <> Do */
		{ 10, 0x28, 1, OSTOR_DIR_TO_DEVICE, 512 },    /* Ho <> Di */
		{ 13, 0x2a, 2, OSTOR_DIR_TO_DEVICE, 512 },    /* Ho < Do */
	};

	for (size_t i = 0; i < OSTOR_ARRAY_SIZE(cases); i++) {
		uint64_t pe = estats(m).phase_errors, resets = mstats(m).bot_resets;

		writes = mstats(m).medium_writes;
		cdb_rw10(cdb, cases[i].op, 0, cases[i].blocks);
		memset(buf, 0x5a, sizeof(buf));
		t = run(0, cdb, 10, cases[i].dir, buf, cases[i].len);
		/* Case 7 of a READ is the device having more than the buffer:
		 * an overrun with what arrived, as on the other transports. */
		ck_assert_msg(ostor_task_result(t) == (cases[i].hcase == 7 ? OSTOR_RESULT_OVERRUN
									  : OSTOR_RESULT_TRANSPORT_ERROR),
			      "case %d: result %s", cases[i].hcase, ostor_result_name(ostor_task_result(t)));
		ck_assert_uint_eq(ostor_task_transferred(t), cases[i].hcase == 7 ? cases[i].len : 0);
		ck_assert_msg(estats(m).phase_errors == pe + 1, "case %d: no phase error", cases[i].hcase);
		ck_assert_uint_eq(mstats(m).bot_resets, resets + 1);
		ck_assert_msg(mstats(m).medium_writes == writes, "case %d wrote the medium", cases[i].hcase);
		ostor_task_free(t);
	}
	check_io_works(0, 0, 8);
}
END_TEST

START_TEST(bot_thirteen_cases_good)
{
	struct sim_usb *m = open_dev(BOT);
	uint8_t inq[6] = { 0x12, 0, 0, 0, 36, 0 }, tur[6] = { 0 }, cdb[10], buf[1024];
	ostor_task *t;

	/* case 5, Hi > Di: short packet, residue */
	t = run(0, inq, 6, OSTOR_DIR_FROM_DEVICE, buf, 100);
	ck_assert_int_eq(ostor_task_result(t), OSTOR_RESULT_GOOD);
	ck_assert_uint_eq(ostor_task_transferred(t), 36);
	ostor_task_free(t);
	/* case 4, Hi > Dn: the device stalls the data phase */
	t = run(0, tur, 6, OSTOR_DIR_FROM_DEVICE, buf, 512);
	ck_assert_int_eq(ostor_task_result(t), OSTOR_RESULT_GOOD);
	ck_assert_uint_eq(ostor_task_transferred(t), 0);
	ck_assert_uint_eq(mstats(m).clear_halt_in, 1);
	ostor_task_free(t);
	/* case 9, Ho > Dn */
	t = run(0, tur, 6, OSTOR_DIR_TO_DEVICE, buf, 512);
	ck_assert_int_eq(ostor_task_result(t), OSTOR_RESULT_GOOD);
	ck_assert_uint_eq(ostor_task_transferred(t), 0);
	ostor_task_free(t);
	/* case 11, Ho > Do: one block written out of two sent */
	fill(buf, sizeof(buf), 11);
	cdb_rw10(cdb, 0x2a, 3, 1);
	t = run(0, cdb, 10, OSTOR_DIR_TO_DEVICE, buf, 1024);
	ck_assert_int_eq(ostor_task_result(t), OSTOR_RESULT_GOOD);
	ck_assert_uint_eq(ostor_task_transferred(t), 512);
	ostor_task_free(t);
	ck_assert_uint_eq(mstats(m).bot_resets, 0);
	ck_assert_uint_eq(estats(m).phase_errors, 0);
	{
		uint8_t r[512];

		ck_assert_int_eq(ostor_read_blocks(dev, 0, 0, 3, 1, r), 0);
		ck_assert_mem_eq(r, buf, 512);
	}
}
END_TEST

/* ---- fault matrix 8: stall mid-read ------------------------------------------------ */

START_TEST(fault_08_data_stall_short_read)
{
	struct sim_usb *m = open_dev(BOT ",fault=data-stall,fault-after=1");
	uint8_t w[8192], r[8192];
	size_t got = 0;

	fill(w, sizeof(w), 12);
	ck_assert_int_eq(rw(0x2a, 0, 16, w, sizeof(w), NULL), OSTOR_RESULT_GOOD);
	memset(r, 0, sizeof(r));
	ck_assert_int_eq(rw(0x28, 0, 16, r, sizeof(r), &got), OSTOR_RESULT_GOOD);
	ck_assert_uint_eq(got, 4096);   /* from the residue */
	ck_assert_mem_eq(r, w, 4096);
	ck_assert_uint_eq(mstats(m).clear_halt_in, 1);
	ck_assert_uint_eq(mstats(m).bot_resets, 0);
	ck_assert_uint_eq(estats(m).clear_halts, 1);
	/* The block helper refuses a short read rather than returning junk. */
	ck_assert_int_eq(sim_usb_arm_fault(m, SIM_USB_DATA_STALL, 1, 0), 0);
	ck_assert_int_lt(ostor_read_blocks(dev, 0, 0, 0, 16, r), 0);
}
END_TEST

/* A write whose data phase the device stalls half-way (a write error):
 * the halt cleared, the CSW says CHECK CONDITION with the residue, the
 * sense is the device's; the write is not acknowledged, the medium keeps
 * what it had. */
START_TEST(fault_08_data_stall_write)
{
	struct sim_usb *m = open_dev(BOT);
	uint8_t w[8192], old[8192], r[8192];
	uint8_t cdb[10];
	ostor_task *t;
	struct ostor_scsi_sense s = OSTOR_SCSI_SENSE_INIT;
	const uint8_t *sense;
	size_t sense_len;

	fill(old, sizeof(old), 16);
	ck_assert_int_eq(rw(0x2a, 0, 16, old, sizeof(old), NULL), OSTOR_RESULT_GOOD);
	fill(w, sizeof(w), 17);
	ck_assert_int_eq(sim_usb_arm_fault(m, SIM_USB_DATA_STALL, 1, 0), 0);
	cdb_rw10(cdb, 0x2a, 0, 16);
	t = run(0, cdb, 10, OSTOR_DIR_TO_DEVICE, w, sizeof(w));
	ck_assert_int_eq(ostor_task_result(t), OSTOR_RESULT_CHECK_CONDITION);
	ck_assert_uint_eq(ostor_task_transferred(t), 4096);   /* taken, from the residue */
	sense = ostor_task_sense(t, &sense_len);
	ck_assert_int_eq(ostor_scsi_parse_sense(sense, sense_len, &s), 0);
	ck_assert_int_eq(s.key, OSTOR_SCSI_SENSE_MEDIUM_ERROR);
	ck_assert_int_eq(s.asc, 0x0c);
	ostor_task_free(t);
	ck_assert_uint_eq(mstats(m).clear_halt_out, 1);
	ck_assert_uint_eq(mstats(m).bot_resets, 0);
	ck_assert_int_eq(rw(0x28, 0, 16, r, sizeof(r), NULL), OSTOR_RESULT_GOOD);
	ck_assert_mem_eq(r, old, sizeof(r));
}
END_TEST

/* ---- fault matrix 9: stall on the CBW ---------------------------------------------- */

START_TEST(fault_09_cbw_stall)
{
	struct sim_usb *m = open_dev(BOT ",fault=cbw-stall");
	uint8_t buf[4096];
	size_t got = 3;

	ck_assert_int_eq(rw(0x28, 0, 8, buf, sizeof(buf), &got), OSTOR_RESULT_TRANSPORT_ERROR);
	ck_assert_uint_eq(got, 0);
	ck_assert_uint_eq(mstats(m).bot_resets, 1);
	ck_assert_uint_eq(mstats(m).clear_halt_out, 1);
	check_io_works(0, 0, 13);
}
END_TEST

/* ---- fault matrix 10: babble ---------------------------------------------------------- */

START_TEST(fault_10_babble)
{
	struct sim_usb *m = open_dev(BOT ",fault=babble");
	uint8_t buf[4096 + 256];
	size_t got = 3;

	memset(buf, 0xee, sizeof(buf));
	ck_assert_int_eq(rw(0x28, 0, 8, buf, 4096, &got), OSTOR_RESULT_TRANSPORT_ERROR);
	ck_assert_uint_eq(got, 0);
	for (size_t i = 4096; i < sizeof(buf); i++)
		ck_assert_uint_eq(buf[i], 0xee);
	/* the CSW was still read: the pipe stayed in step without a reset */
	ck_assert_uint_eq(mstats(m).bot_resets, 0);
	check_io_works(0, 0, 14);
}
END_TEST

/* ---- fault matrix 11: the CSW arrives as data --------------------------------------- */

START_TEST(fault_11_csw_in_data_phase)
{
	struct sim_usb *m = open_dev(BOT ",fault=skip-data");
	uint8_t buf[4096];
	size_t got = 3;
	enum ostor_result res;

	memset(buf, 0xee, sizeof(buf));
	res = rw(0x28, 0, 8, buf, sizeof(buf), &got);
	ck_assert_int_ne(res, OSTOR_RESULT_PENDING);
	ck_assert_uint_eq(got, 0);
	ck_assert_uint_eq(estats(m).csw_in_data, 1);
	/* no trace of the CSW in the caller's buffer */
	ck_assert_int_ne(memcmp(buf, "USBS", 4), 0);
	for (size_t i = 13; i < sizeof(buf); i++)
		ck_assert_uint_eq(buf[i], 0xee);
	check_io_works(0, 0, 15);
	ck_assert_uint_eq(mstats(m).bot_resets, 0);
}
END_TEST

/* ---- fault matrix 12: no CSW ---------------------------------------------------------- */

START_TEST(fault_12_csw_never_sent)
{
	struct sim_usb *m = open_dev(BOT ",fault=csw-nak");
	uint8_t buf[4096];
	uint64_t t0 = ostori_now_ms();

	ck_assert_int_eq(rw(0x28, 0, 8, buf, sizeof(buf), NULL), OSTOR_RESULT_TIMEOUT);
	ck_assert_uint_lt(ostori_now_ms() - t0, 2000);
	ck_assert_uint_eq(mstats(m).bot_resets, 1);
	ck_assert_uint_eq(mstats(m).port_resets, 0);
	check_io_works(0, 0, 16);
}
END_TEST

START_TEST(fault_12_hang_needs_port_reset)
{
	struct sim_usb *m = open_dev(BOT ",fault=hang");
	uint8_t buf[4096];
	uint64_t t0 = ostori_now_ms();

	ck_assert_int_eq(rw(0x28, 0, 8, buf, sizeof(buf), NULL), OSTOR_RESULT_TIMEOUT);
	ck_assert_uint_lt(ostori_now_ms() - t0, 2000);
	/* the BOT reset was tried (and hung), then the port was reset */
	ck_assert_uint_eq(estats(m).reset_recoveries, 1);
	ck_assert_uint_eq(mstats(m).port_resets, 1);
	/* the port reset raised a unit attention; the helpers retry it */
	check_io_works(0, 0, 17);
}
END_TEST

/* ---- fault matrix 4: a zero-length packet where the CSW belongs ----------- */

START_TEST(fault_04_zlp_before_csw)
{
	struct sim_usb *m = open_dev(BOT ",fault=zlp-before-csw,fault-count=2");
	uint8_t w[4096], r[4096];
	size_t got = 0;

	fill(w, sizeof(w), 22);
	ck_assert_int_eq(rw(0x2a, 0, 8, w, sizeof(w), &got), OSTOR_RESULT_GOOD);
	ck_assert_uint_eq(got, sizeof(w));
	ck_assert_uint_eq(estats(m).zlp_retries, 1);
	memset(r, 0, sizeof(r));
	ck_assert_int_eq(rw(0x28, 0, 8, r, sizeof(r), &got), OSTOR_RESULT_GOOD);
	ck_assert_uint_eq(got, sizeof(r));
	ck_assert_mem_eq(w, r, sizeof(r));
	/* one retry per command, no recovery */
	ck_assert_uint_eq(estats(m).zlp_retries, 2);
	ck_assert_uint_eq(estats(m).csw_invalid, 0);
	ck_assert_uint_eq(mstats(m).bot_resets, 0);
	ck_assert_uint_eq(mstats(m).clear_halt_in, 0);
}
END_TEST

START_TEST(bot_zlp_and_csw_stall_retried)
{
	struct sim_usb *m = open_dev(BOT ",fault=zlp-before-csw+csw-stall,fault-count=1");
	uint8_t buf[4096];
	size_t got = 0;

	ck_assert_int_eq(rw(0x28, 0, 8, buf, sizeof(buf), &got), OSTOR_RESULT_GOOD);
	ck_assert_uint_eq(got, sizeof(buf));
	ck_assert_uint_eq(estats(m).csw_stall_retries, 1);
	ck_assert_uint_eq(estats(m).zlp_retries, 1);
	ck_assert_uint_eq(mstats(m).clear_halt_in, 1);
	ck_assert_uint_eq(mstats(m).bot_resets, 0);
}
END_TEST

START_TEST(bot_csw_stall_each_command_retried)
{
	struct sim_usb *m = open_dev(BOT ",fault=csw-stall,fault-count=2");
	uint8_t buf[512];

	/* The retry also stalls: the next command is the second hit. */
	ck_assert_int_eq(rw(0x28, 0, 1, buf, sizeof(buf), NULL), OSTOR_RESULT_GOOD);
	ck_assert_int_eq(rw(0x28, 0, 1, buf, sizeof(buf), NULL), OSTOR_RESULT_GOOD);
	ck_assert_uint_eq(estats(m).csw_stall_retries, 2);
	ck_assert_uint_eq(mstats(m).bot_resets, 0);
}
END_TEST

/* ---- fault matrix 13: Get Max LUN ----------------------------------------------------- */

static const char *const maxlun_faults[] = { "maxlun-stall", "maxlun-empty", "maxlun-timeout", "maxlun-big" };

START_TEST(fault_13_get_max_lun)
{
	char spec[256];
	struct sim_usb *m;
	struct ostor_lun_addr *luns;
	size_t n;
	uint64_t t0 = ostori_now_ms();

	snprintf(spec, sizeof(spec), BOT ",luns=4,fault=%s", maxlun_faults[_i]);
	m = open_dev(spec);
	ck_assert_uint_lt(ostori_now_ms() - t0, 2000);
	ck_assert_uint_eq(mstats(m).get_max_lun, 1);
	ck_assert_uint_eq(dev->max_lun, 0);
	ck_assert_int_eq(ostor_device_luns(dev, &luns, &n), 0);
	ck_assert_uint_eq(n, 1);
	free(luns);
	check_io_works(0, 0, 18);
}
END_TEST

START_TEST(bot_single_lun_quirk)
{
	struct sim_usb *m = open_dev(BOT ",luns=4,quirks=single-lun");

	ck_assert_uint_eq(mstats(m).get_max_lun, 0);
	ck_assert_uint_eq(dev->max_lun, 0);
}
END_TEST

/* ---- fault matrix 14: the reset itself fails ------------------------------------------ */

START_TEST(fault_14_reset_stall_port_reset)
{
	struct sim_usb *m = open_dev(BOT ",fault=csw-bad-signature+reset-stall");
	uint8_t buf[4096];

	ck_assert_int_eq(rw(0x28, 0, 8, buf, sizeof(buf), NULL), OSTOR_RESULT_TRANSPORT_ERROR);
	ck_assert_uint_eq(mstats(m).bot_resets, 1);
	ck_assert_uint_eq(mstats(m).port_resets, 1);
	ck_assert(!ousb_engine_is_dead(sim_usb_engine(m)));
	check_io_works(0, 0, 19);
}
END_TEST

START_TEST(fault_14_port_reset_fails_dead)
{
	struct sim_usb *m = open_dev(BOT ",fault=csw-bad-signature+reset-stall+port-reset-fail");
	struct ostor_usb_details d = OSTOR_USB_DETAILS_INIT;
	uint8_t buf[4096], cdb[10];
	ostor_task *t;

	ck_assert_int_eq(rw(0x28, 0, 8, buf, sizeof(buf), NULL), OSTOR_RESULT_TRANSPORT_ERROR);
	ck_assert_uint_eq(mstats(m).port_resets, 1);
	ck_assert(ousb_engine_is_dead(sim_usb_engine(m)));
	ck_assert_int_eq(ostor_usb_get_details(dev, &d), 0);
	ck_assert_int_eq(d.dead, 1);
	/* later calls fail cleanly */
	cdb_rw10(cdb, 0x28, 0, 1);
	ck_assert_int_eq(ostor_task_new(dev, &t), 0);
	ck_assert_int_eq(ostor_task_set_cdb(t, cdb, 10), 0);
	ck_assert_int_eq(ostor_task_set_buffer(t, OSTOR_DIR_FROM_DEVICE, buf, 512), 0);
	ck_assert_int_eq(ostor_task_execute(t), OSTOR_ERROR_NO_DEVICE);
	ostor_task_free(t);
	ck_assert_int_lt(ostor_read_blocks(dev, 0, 0, 0, 1, buf), 0);
}
END_TEST

/* ---- fault matrix 15: unplug mid-write ------------------------------------------------ */

struct done_rec {
	int calls;
};

static void on_done(ostor_task *t, void *ud)
{
	((struct done_rec *)ud)->calls++;
}

START_TEST(fault_15_unplug_mid_write)
{
	struct sim_usb *m = open_dev(BOT);
	enum { N = 6 };
	ostor_task *t[N];
	uint8_t *bufs = malloc(N * 4096), cdb[10];
	struct done_rec rec = { 0 };
	uint64_t deadline;

	fill(bufs, N * 4096, 20);
	sim_usb_hold(m, true);  /* the device takes the CBW but answers nothing */
	for (int i = 0; i < N; i++) {
		cdb_rw10(cdb, 0x2a, (uint32_t)i * 8, 8);
		ck_assert_int_eq(ostor_task_new(dev, &t[i]), 0);
		ck_assert_int_eq(ostor_task_set_cdb(t[i], cdb, 10), 0);
		ck_assert_int_eq(ostor_task_set_buffer(t[i], OSTOR_DIR_TO_DEVICE, bufs + i * 4096, 4096), 0);
		ck_assert_int_eq(ostor_task_submit(t[i], (struct ostor_completion){ on_done, &rec, NULL }), 0);
	}
	ostor_handle_events_nonblock(ctx);
	ck_assert_int_eq(rec.calls, 0);
	sim_usb_unplug(m);
	deadline = ostori_now_ms() + 2000;
	while (rec.calls < N && ostori_now_ms() < deadline)
		ostor_handle_events(ctx, 50);
	ck_assert_int_eq(rec.calls, N);
	for (int i = 0; i < N; i++) {
		ck_assert_int_eq(ostor_task_result(t[i]), OSTOR_RESULT_DEVICE_GONE);
		ck_assert_uint_eq(ostor_task_transferred(t[i]), 0);
		ck_assert_int_eq(ostor_task_error(t[i]), OSTOR_ERROR_NO_DEVICE);
		/* and a completed task can be reused or freed safely */
		ck_assert_int_eq(ostor_task_submit(t[i], (struct ostor_completion){ 0 }), OSTOR_ERROR_NO_DEVICE);
		ck_assert_int_eq(ostor_task_free(t[i]), 0);
	}
	ck_assert_uint_eq(mstats(m).medium_writes, 0);
	ck_assert_int_lt(ostor_write_blocks(dev, 0, 0, 0, 1, bufs), 0);
	free(bufs);
}
END_TEST

START_TEST(fault_15_unplug_after_data_before_csw)
{
	struct sim_usb *m = open_dev(BOT0 ",fault=csw-nak,usb-timeout=5000");
	struct done_rec rec = { 0 };
	uint8_t buf[4096], cdb[10];
	ostor_task *t;
	uint64_t deadline;

	fill(buf, sizeof(buf), 21);
	cdb_rw10(cdb, 0x2a, 0, 8);
	ck_assert_int_eq(ostor_task_new(dev, &t), 0);
	ck_assert_int_eq(ostor_task_set_cdb(t, cdb, 10), 0);
	ck_assert_int_eq(ostor_task_set_buffer(t, OSTOR_DIR_TO_DEVICE, buf, sizeof(buf)), 0);
	ck_assert_int_eq(ostor_task_submit(t, (struct ostor_completion){ on_done, &rec, NULL }), 0);
	/* Run until the data reached the medium; the CSW never comes. */
	deadline = ostori_now_ms() + 2000;
	while (mstats(m).medium_writes == 0 && ostori_now_ms() < deadline)
		ostor_handle_events(ctx, 10);
	ck_assert_uint_eq(mstats(m).medium_writes, 1);
	ck_assert_int_eq(rec.calls, 0);
	sim_usb_unplug(m);
	while (rec.calls < 1 && ostori_now_ms() < deadline)
		ostor_handle_events(ctx, 50);
	ck_assert_int_eq(rec.calls, 1);
	/* Without a CSW the write is not reported done. */
	ck_assert_int_eq(ostor_task_result(t), OSTOR_RESULT_DEVICE_GONE);
	ck_assert_uint_eq(ostor_task_transferred(t), 0);
	ostor_task_free(t);
}
END_TEST

/* ---- more commands than the engine holds: they wait in the core ---------------- */

START_TEST(bot_engine_full_waits)
{
	enum { N = 80 };
	struct sim_usb *m = open_dev(BOT);
	bool owner = _i;
	ostor_task *t[N];
	uint8_t *bufs = malloc(N * 4096), ref[4096], cdb[10];
	struct done_rec rec = { 0 };
	uint64_t deadline;

	for (int i = 0; i < 8; i++) {
		fill(ref, sizeof(ref), (unsigned int)(40 + i));
		ck_assert_int_eq(ostor_write_blocks(dev, 0, 0, (uint64_t)i * 8, 8, ref), 0);
	}
	if (owner)
		ck_assert_int_eq(ostor_queue_acquire(dev, -1), 0);
	for (int i = 0; i < N; i++) {
		cdb_rw10(cdb, 0x28, (uint32_t)(i % 8) * 8, 8);
		ck_assert_int_eq(ostor_task_new(dev, &t[i]), 0);
		ck_assert_int_eq(ostor_task_set_cdb(t[i], cdb, 10), 0);
		ck_assert_int_eq(ostor_task_set_buffer(t[i], OSTOR_DIR_FROM_DEVICE, bufs + i * 4096, 4096), 0);
		ck_assert_int_eq(ostor_task_submit(t[i], (struct ostor_completion){ on_done, &rec, NULL }), 0);
	}
	deadline = ostori_now_ms() + 10000;
	while (rec.calls < N && ostori_now_ms() < deadline) {
		if (owner)
			ostor_queue_poll(dev);
		else
			ostor_handle_events(ctx, 50);
	}
	ck_assert_int_eq(rec.calls, N);
	for (int i = 0; i < N; i++) {
		fill(ref, sizeof(ref), (unsigned int)(40 + i % 8));
		ck_assert_int_eq(ostor_task_result(t[i]), OSTOR_RESULT_GOOD);
		ck_assert_int_eq(memcmp(bufs + i * 4096, ref, 4096), 0);
		ostor_task_free(t[i]);
	}
	/* Every task went to the device (adjacent ones merged: a CBW for
	 * several). */
	ck_assert_uint_ge(mstats(m).cbws + estats(m).merged_tasks - estats(m).merged_commands, N);
	if (owner)
		ostor_queue_release(dev);
	free(bufs);
}
END_TEST

/* Unplugged with commands in the engine and waiting behind it: every one
 * ends once, DEVICE_GONE, and none was written. */
START_TEST(bot_unplug_with_waiting)
{
	enum { N = 50 };
	struct sim_usb *m = open_dev(BOT);
	ostor_task *t[N];
	uint8_t *bufs = calloc(N, 4096), cdb[10];
	struct done_rec rec = { 0 };
	uint64_t deadline;

	sim_usb_hold(m, true);
	for (int i = 0; i < N; i++) {
		cdb_rw10(cdb, 0x2a, (uint32_t)i * 8, 8);
		ck_assert_int_eq(ostor_task_new(dev, &t[i]), 0);
		ck_assert_int_eq(ostor_task_set_cdb(t[i], cdb, 10), 0);
		ck_assert_int_eq(ostor_task_set_buffer(t[i], OSTOR_DIR_TO_DEVICE, bufs + i * 4096, 4096), 0);
		ck_assert_int_eq(ostor_task_submit(t[i], (struct ostor_completion){ on_done, &rec, NULL }), 0);
	}
	ck_assert_uint_eq(ostor_inflight(ctx), N);
	sim_usb_unplug(m);
	deadline = ostori_now_ms() + 5000;
	while (rec.calls < N && ostori_now_ms() < deadline)
		ostor_handle_events(ctx, 50);
	ck_assert_int_eq(rec.calls, N);
	for (int i = 0; i < N; i++) {
		ck_assert_int_eq(ostor_task_result(t[i]), OSTOR_RESULT_DEVICE_GONE);
		ostor_task_free(t[i]);
	}
	ck_assert_uint_eq(mstats(m).medium_writes, 0);
	free(bufs);
}
END_TEST

/* ---- cancel, explicit resets, spec errors, quirks ------------------------------ */

START_TEST(bot_cancel_in_flight)
{
	struct sim_usb *m = open_dev(BOT0 ",usb-timeout=5000");
	struct done_rec rec = { 0 };
	uint8_t buf[4096], cdb[10];
	ostor_task *t;
	uint64_t deadline;

	sim_usb_hold(m, true);
	cdb_rw10(cdb, 0x28, 0, 8);
	ck_assert_int_eq(ostor_task_new(dev, &t), 0);
	ck_assert_int_eq(ostor_task_set_cdb(t, cdb, 10), 0);
	ck_assert_int_eq(ostor_task_set_buffer(t, OSTOR_DIR_FROM_DEVICE, buf, sizeof(buf)), 0);
	ck_assert_int_eq(ostor_task_submit(t, (struct ostor_completion){ on_done, &rec, NULL }), 0);
	ostor_handle_events_nonblock(ctx);
	ck_assert_int_eq(ostor_task_cancel(t), 0);
	sim_usb_hold(m, false);
	deadline = ostori_now_ms() + 2000;
	while (rec.calls < 1 && ostori_now_ms() < deadline)
		ostor_handle_events(ctx, 50);
	ck_assert_int_eq(rec.calls, 1);
	ck_assert_int_eq(ostor_task_result(t), OSTOR_RESULT_ABORTED);
	ck_assert_uint_eq(ostor_task_transferred(t), 0);
	ck_assert_uint_eq(mstats(m).bot_resets, 1);
	ostor_task_free(t);
	check_io_works(0, 0, 22);
}
END_TEST

START_TEST(bot_explicit_resets)
{
	struct sim_usb *m = open_dev(BOT);

	ck_assert_int_eq(ostor_usb_reset(dev, OSTOR_USB_RESET_TRANSPORT), 0);
	ck_assert_uint_eq(mstats(m).bot_resets, 1);
	ck_assert_uint_eq(mstats(m).clear_halt_in, 1);
	ck_assert_uint_eq(mstats(m).clear_halt_out, 1);
	ck_assert_int_eq(ostor_usb_reset(dev, OSTOR_USB_RESET_PORT), 0);
	ck_assert_uint_eq(mstats(m).port_resets, 1);
	check_io_works(0, 0, 23);
	ck_assert_int_eq(ostor_usb_reset(dev, (enum ostor_usb_reset_kind)7), OSTOR_ERROR_INVALID_PARAM);
	ck_assert_int_eq(sim_usb_arm_fault(m, SIM_USB_PORT_RESET_FAIL, 1, 0), 0);
	ck_assert_int_eq(ostor_usb_reset(dev, OSTOR_USB_RESET_PORT), OSTOR_ERROR_IO);
	ck_assert(ousb_engine_is_dead(sim_usb_engine(m)));
}
END_TEST

START_TEST(bot_spec_errors)
{
	ostor_device *d = NULL;

	ck_assert_int_eq(ostor_open(ctx, "sim:transport=usb-bot,fault=bogus", &d), OSTOR_ERROR_BAD_SPEC);
	ck_assert_ptr_nonnull(strstr(ostor_last_error(), "csw-bad-signature"));
	ck_assert_int_eq(ostor_open(ctx, "sim:transport=usb-bot,subclass=floppy", &d), OSTOR_ERROR_BAD_SPEC);
	ck_assert_int_eq(ostor_open(ctx, "sim:transport=usb-bot,quirks=fast", &d), OSTOR_ERROR_BAD_SPEC);
	ck_assert_int_eq(ostor_open(ctx, "sim:transport=usb-bot,usb-timeout=2", &d), OSTOR_ERROR_BAD_SPEC);
	ck_assert_int_eq(ostor_open(ctx, "sim:transport=usb-bot,nonsense=1", &d), OSTOR_ERROR_BAD_SPEC);
	ck_assert_ptr_null(d);
	/* a non-USB device has no USB details */
	ck_assert_int_eq(ostor_open(ctx, "sim:", &d), 0);
	{
		struct ostor_usb_details det = OSTOR_USB_DETAILS_INIT;

		ck_assert_int_eq(ostor_usb_get_details(d, &det), OSTOR_ERROR_NOT_SUPPORTED);
		ck_assert_int_eq(ostor_usb_reset(d, OSTOR_USB_RESET_TRANSPORT), OSTOR_ERROR_NOT_SUPPORTED);
	}
	ostor_close(d);
}
END_TEST

START_TEST(bot_fault_after)
{
	struct sim_usb *m = open_dev(BOT ",fault=csw-bad-signature,fault-after=3,fault-count=2");
	uint8_t buf[512];

	for (int i = 0; i < 3; i++)
		ck_assert_int_eq(rw(0x28, 0, 1, buf, sizeof(buf), NULL), OSTOR_RESULT_GOOD);
	ck_assert_int_eq(rw(0x28, 0, 1, buf, sizeof(buf), NULL), OSTOR_RESULT_TRANSPORT_ERROR);
	ck_assert_int_eq(rw(0x28, 0, 1, buf, sizeof(buf), NULL), OSTOR_RESULT_TRANSPORT_ERROR);
	ck_assert_int_eq(rw(0x28, 0, 1, buf, sizeof(buf), NULL), OSTOR_RESULT_GOOD);
	ck_assert_uint_eq(mstats(m).bot_resets, 2);
}
END_TEST

START_TEST(bot_check_condition_sense)
{
	struct sim_usb *m = open_dev(BOT ",readonly");
	uint8_t buf[512] = { 0 };
	uint8_t cdb[10];
	const uint8_t *sense;
	size_t n;
	ostor_task *t;

	cdb_rw10(cdb, 0x2a, 0, 1);
	t = run(0, cdb, 10, OSTOR_DIR_TO_DEVICE, buf, sizeof(buf));
	ck_assert_int_eq(ostor_task_result(t), OSTOR_RESULT_CHECK_CONDITION);
	ck_assert_int_eq(ostor_task_status(t), 2);
	sense = ostor_task_sense(t, &n);
	ck_assert_ptr_nonnull(sense);
	ck_assert_uint_ge(n, 14);
	ck_assert_uint_eq(sense[2] & 0x0f, OSTOR_SCSI_SENSE_DATA_PROTECT);
	ck_assert_int_eq(ostor_task_error(t), OSTOR_ERROR_WRITE_PROTECTED);
	ck_assert_uint_eq(estats(m).auto_sense, 1);
	ostor_task_free(t);
	ck_assert_int_eq(ostor_write_blocks(dev, 0, 0, 0, 1, buf), OSTOR_ERROR_WRITE_PROTECTED);
}
END_TEST

/* COMPARE AND WRITE through Bulk-Only: 2 x N blocks of data-out, and the
 * miscompare's INFORMATION field comes back through REQUEST SENSE. */
START_TEST(bot_compare_and_write)
{
	struct sim_usb *m = open_dev(BOT);
	uint8_t old[2 * 512], new[2 * 512], cmp[2 * 512], r[2 * 512];
	uint8_t *big;
	uint32_t off = 0;

	fill(old, sizeof(old), 21);
	fill(new, sizeof(new), 22);
	ck_assert_int_eq(ostor_write_blocks(dev, 0, 0, 40, 2, old), 0);
	ck_assert_int_eq(ostor_compare_and_write(dev, 0, 0, 40, 2, old, new, &off), 0);
	ck_assert_int_eq(ostor_read_blocks(dev, 0, 0, 40, 2, r), 0);
	ck_assert_mem_eq(r, new, sizeof(r));
	memcpy(cmp, new, sizeof(cmp));
	cmp[777] ^= 0x10;
	ck_assert_int_eq(ostor_compare_and_write(dev, 0, 0, 40, 2, cmp, old, &off), OSTOR_ERROR_MISCOMPARE);
	ck_assert_uint_eq(off, 777);
	ck_assert_int_eq(ostor_read_blocks(dev, 0, 0, 40, 2, r), 0);
	ck_assert_mem_eq(r, new, sizeof(r));
	ck_assert_uint_eq(mstats(m).bot_resets, 0);
	ck_assert_uint_eq(estats(m).csw_invalid, 0);
	ostor_close(dev);
	dev = NULL;

	/* 4096-byte blocks: one command moves at most 1 MiB here, so at
	 * most 128 blocks (twice that of data-out), not the VPD's 255 */
	open_dev(BOT0 ",block-size=4096,usb-timeout=100");
	big = calloc(2 * 129, 4096);
	ck_assert_ptr_nonnull(big);
	ck_assert_int_eq(ostor_compare_and_write(dev, 0, 0, 0, 129, big, big + 129 * 4096, &off),
			 OSTOR_ERROR_INVALID_PARAM);
	ck_assert_ptr_nonnull(strstr(ostor_last_error(), "at most 128"));
	memset(big + 128 * 4096, 0x3c, 128 * 4096);
	ck_assert_int_eq(ostor_compare_and_write(dev, 0, 0, 0, 128, big, big + 128 * 4096, &off), 0);
	ck_assert_int_eq(ostor_read_blocks(dev, 0, 0, 0, 128, big), 0);
	ck_assert_mem_eq(big, big + 128 * 4096, 128 * 4096);
	free(big);
}
END_TEST

START_TEST(quirks_table_and_env)
{
	struct ousb_quirks q;
	char text[256];

	ck_assert_int_eq(ousb_quirks_lookup(0x0781, 0x5406, NULL, &q), 0);
	ck_assert(q.flags & OUSB_Q_IGNORE_RESIDUE);
	ck_assert_int_eq(ousb_quirks_lookup(0x1234, 0x5678, "1234:5678:fix-capacity,max-transfer=64K", &q), 0);
	ck_assert_uint_eq(q.flags, OUSB_Q_FIX_CAPACITY | OUSB_Q_MAX_TRANSFER);
	ck_assert_uint_eq(q.max_transfer, 65536);
	ousb_quirks_text(&q, text, sizeof(text));
	ck_assert_str_eq(text, "fix-capacity,max-transfer=65536");
	/* an override replaces the built-in entry */
	ck_assert_int_eq(ousb_quirks_lookup(0x0781, 0x5406, "0781:5406:none", &q), 0);
	ck_assert_uint_eq(q.flags, 0);
	ck_assert_int_eq(ousb_quirks_lookup(1, 2, "1234:5678:bogus", &q), OSTOR_ERROR_CONFIG);
	ck_assert_int_eq(ousb_quirks_lookup(1, 2, "zz", &q), OSTOR_ERROR_CONFIG);
	ck_assert_int_eq(ousb_quirks_lookup(1, 2, "1:2:max-transfer=1", &q), OSTOR_ERROR_CONFIG);
}
END_TEST

/* The bridge quirks: parsed, shown, and the health protocol they name. */
START_TEST(quirks_bridges)
{
	static const struct { uint16_t vid, pid; int proto; const char *text; } builtin[] = {
		{ 0x152d, 0x2338, OSTOR_HEALTH_PROTO_JMICRON, "bridge=jmicron" },   /* JM20337/8 */
		{ 0x152d, 0x2336, OSTOR_HEALTH_PROTO_JMICRON, "bridge=jmicron" },   /* JM20336 */
		{ 0x04fc, 0x0c25, OSTOR_HEALTH_PROTO_SUNPLUS, "bridge=sunplus" },   /* SPDIF225 */
		{ 0x059b, 0x0370, OSTOR_HEALTH_PROTO_SUNPLUS, "bridge=sunplus" },   /* Iomega LDHD-UP */
		{ 0x04b4, 0x6830, OSTOR_HEALTH_PROTO_CYPRESS, "bridge=cypress" },   /* CY7C68300 */
		{ 0x0781, 0x5406, OSTOR_HEALTH_PROTO_AUTO, "ignore-residue" },      /* no bridge */
	};
	struct ousb_quirks q;
	char text[256];

	for (size_t i = 0; i < sizeof(builtin) / sizeof(builtin[0]); i++) {
		ck_assert_int_eq(ousb_quirks_lookup(builtin[i].vid, builtin[i].pid, NULL, &q), 0);
		ck_assert_int_eq(ousb_quirks_health_protocol(&q), builtin[i].proto);
		ousb_quirks_text(&q, text, sizeof(text));
		ck_assert_str_eq(text, builtin[i].text);
	}
	ck_assert_int_eq(ousb_quirks_lookup(0x1234, 0x5678, "1234:5678:sat-12", &q), 0);
	ck_assert_uint_eq(q.flags, OUSB_Q_SAT12);
	ck_assert_int_eq(ousb_quirks_health_protocol(&q), OSTOR_HEALTH_PROTO_SAT12);
	ousb_quirks_text(&q, text, sizeof(text));
	ck_assert_str_eq(text, "sat-12");
	/* A value quirk like max-transfer=, shown last; the bridge wins over sat-12. */
	ck_assert_int_eq(ousb_quirks_lookup(0x1234, 0x5678, "1234:5678:bridge=cypress+sat-12+max-transfer=64K",
					    &q), 0);
	ck_assert_int_eq(ousb_quirks_health_protocol(&q), OSTOR_HEALTH_PROTO_CYPRESS);
	ousb_quirks_text(&q, text, sizeof(text));
	ck_assert_str_eq(text, "sat-12,max-transfer=65536,bridge=cypress");
	/* "none" clears the bridge of a built-in entry too; an override replaces it. */
	ck_assert_int_eq(ousb_quirks_lookup(0x152d, 0x2338, "152d:2338:none", &q), 0);
	ck_assert_int_eq(ousb_quirks_health_protocol(&q), OSTOR_HEALTH_PROTO_AUTO);
	ck_assert_int_eq(ousb_quirks_lookup(0x152d, 0x2338, "152d:2338:bridge=sunplus", &q), 0);
	ck_assert_int_eq(ousb_quirks_health_protocol(&q), OSTOR_HEALTH_PROTO_SUNPLUS);
	/* Unknown bridges and empty values are errors naming the choices. */
	ck_assert_int_eq(ousb_quirks_lookup(1, 2, "1:2:bridge=genesys", &q), OSTOR_ERROR_CONFIG);
	ck_assert(strstr(ostor_last_error(), "bridge=jmicron") != NULL);
	ck_assert_int_eq(ousb_quirks_lookup(1, 2, "1:2:bridge=", &q), OSTOR_ERROR_CONFIG);
	ck_assert_int_eq(ousb_quirks_lookup(1, 2, "1:2:sat12", &q), OSTOR_ERROR_CONFIG);
	ck_assert(strstr(ostor_last_error(), "sat-12") != NULL);
	ck_assert_int_eq(ousb_quirks_check("152d:2338:bridge=jmicron,04b4:6830:sat-12"), 0);
}
END_TEST

/* Through $ORIONSTOR_USB_QUIRKS and the spec on a simulated device: the
 * details show them and dev->health_protocol carries them to health. */
START_TEST(bot_quirks_bridge_on_device)
{
	struct ostor_usb_details d = OSTOR_USB_DETAILS_INIT;
	int r;

	setenv("ORIONSTOR_USB_QUIRKS", "1209:0b07:bridge=jmicron", 1);
	r = ostor_open(ctx, BOT, &dev);
	unsetenv("ORIONSTOR_USB_QUIRKS");
	ck_assert_msg(r == 0, "open: %s", ostor_last_error());
	ck_assert_int_eq(ostor_usb_get_details(dev, &d), 0);
	ck_assert_str_eq(d.quirks, "bridge=jmicron");
	ck_assert_int_eq(dev->health_protocol, OSTOR_HEALTH_PROTO_JMICRON);
	check_io_works(0, 0, 3);   /* a bridge quirk changes nothing on the wire */
	ostor_close(dev);

	setenv("ORIONSTOR_USB_QUIRKS", "1209:0b07:sat-12", 1);
	r = ostor_open(ctx, BOT, &dev);
	unsetenv("ORIONSTOR_USB_QUIRKS");
	ck_assert_int_eq(r, 0);
	ck_assert_int_eq(dev->health_protocol, OSTOR_HEALTH_PROTO_SAT12);
	ck_assert_int_eq(ostor_usb_get_details(dev, &d), 0);
	ck_assert_str_eq(d.quirks, "sat-12");
	ostor_close(dev);

	open_dev(BOT ",quirks=bridge=sunplus");
	ck_assert_int_eq(dev->health_protocol, OSTOR_HEALTH_PROTO_SUNPLUS);
	ostor_close(dev);
	open_dev(BOT ",quirks=bridge=cypress+go-slow");
	ck_assert_int_eq(dev->health_protocol, OSTOR_HEALTH_PROTO_CYPRESS);
	ck_assert_int_eq(ostor_usb_get_details(dev, &d), 0);
	ck_assert_str_eq(d.quirks, "go-slow,bridge=cypress");
	ostor_close(dev);
	/* No quirk: 0, detect. */
	open_dev(BOT);
	ck_assert_int_eq(dev->health_protocol, OSTOR_HEALTH_PROTO_AUTO);
	ck_assert_int_eq(ostor_open(ctx, BOT ",quirks=bridge=acme", &(ostor_device *){ NULL }),
			 OSTOR_ERROR_BAD_SPEC);
}
END_TEST

START_TEST(bot_quirks_capacity_and_sync)
{
	struct sim_usb *m = open_dev(BOT ",quirks=fix-capacity+no-sync-cache+read-capacity-16");
	struct sim_stats ss;
	struct ostor_lun_info li = OSTOR_LUN_INFO_INIT;
	struct ostor_usb_details d = OSTOR_USB_DETAILS_INIT;
	uint8_t cdb[10] = { 0x35 };
	ostor_task *t;

	ck_assert_int_eq(ostor_lun_info(dev, 0, 0, &li), 0);
	ck_assert_uint_eq(li.blocks, 8191);   /* one taken off, as the quirk says */
	ck_assert_int_eq(ostor_usb_get_details(dev, &d), 0);
	ck_assert_str_eq(d.quirks, "fix-capacity,no-sync-cache,read-capacity-16");
	t = run(0, cdb, 10, OSTOR_DIR_NONE, NULL, 0);
	ck_assert_int_eq(ostor_task_result(t), OSTOR_RESULT_GOOD);
	ostor_task_free(t);
	sim_target_get_stats(ostori_sim_device_target(dev), &ss);
	ck_assert_uint_eq(ss.per_opcode[0x35], 0);
	ck_assert_uint_eq(ss.per_opcode[0x25], 1);  /* the model's own probe at open */
	ck_assert_uint_ge(ss.per_opcode[0x9e], 1);
	(void)m;
}
END_TEST

/* n one-block reads queued at once (block base + k, in reverse order when
 * asked), each checked against w + k blocks. */
static void read_queued(uint32_t base, int n, bool reverse, const uint8_t *w)
{
	enum { MAXQ = 16 };
	static uint8_t bufs[MAXQ * 512];
	ostor_task *t[MAXQ];
	struct done_rec rec = { 0 };
	uint8_t cdb[10];

	ck_assert_int_le(n, MAXQ);
	for (int i = 0; i < n; i++) {
		int k = reverse ? n - 1 - i : i;

		cdb_rw10(cdb, 0x28, base + (uint32_t)k, 1);
		ck_assert_int_eq(ostor_task_new(dev, &t[i]), 0);
		ck_assert_int_eq(ostor_task_set_cdb(t[i], cdb, 10), 0);
		ck_assert_int_eq(ostor_task_set_buffer(t[i], OSTOR_DIR_FROM_DEVICE, bufs + i * 512, 512), 0);
		ck_assert_int_eq(ostor_task_submit(t[i], (struct ostor_completion){ on_done, &rec, NULL }), 0);
	}
	while (rec.calls < n)
		ostor_handle_events(ctx, 100);
	for (int i = 0; i < n; i++) {
		int k = reverse ? n - 1 - i : i;

		ck_assert_int_eq(ostor_task_result(t[i]), OSTOR_RESULT_GOOD);
		ck_assert_mem_eq(bufs + i * 512, w + k * 512, 512);
		ostor_task_free(t[i]);
	}
}

START_TEST(bot_pipelining_saves_nothing_in_correctness)
{
	/* Many small reads interleaved with writes, queued several deep. */
	struct sim_usb *m = open_dev(BOT);
	enum { N = 16 };
	uint8_t w[N * 512];

	fill(w, sizeof(w), 30);
	ck_assert_int_eq(ostor_write_blocks(dev, 0, 0, 0, N, w), 0);
	read_queued(0, N, true, w);
	ck_assert_uint_eq(mstats(m).bot_resets, 0);
}
END_TEST

/* ---- blocking small commands (the libusb layer on the only device) ------- */

START_TEST(bot_blocking_small_commands)
{
	/* Alone on the wire and up to 16 KiB: the three phases one after
	 * the other (no CSW read queued early); bigger ones, and those with
	 * others waiting behind them, pipelined as before.  Data right. */
	struct sim_usb *m = open_dev(BOT ",blocking=on");
	enum { N = 8 };
	static uint8_t w[64 * 1024], r[64 * 1024];
	uint64_t b0, p0;

	fill(w, sizeof(w), 60);
	ck_assert_int_eq(ostor_write_blocks(dev, 0, 0, 100, 128, w), 0);
	b0 = estats(m).blocking_commands;
	p0 = estats(m).pipelined_csws;
	ck_assert_uint_gt(b0, 0);   /* the 64 KiB write is not, its flush was */
	for (int i = 0; i < 4; i++) {
		memset(r, 0, 4096);
		ck_assert_int_eq(rw(0x28, 100 + 8 * (uint32_t)i, 8, r, 4096, NULL), OSTOR_RESULT_GOOD);
		ck_assert_mem_eq(w + 4096 * i, r, 4096);
	}
	ck_assert_uint_eq(estats(m).blocking_commands, b0 + 4);
	ck_assert_uint_eq(estats(m).pipelined_csws, p0);
	memset(r, 0, sizeof(r));
	ck_assert_int_eq(rw(0x28, 100, 128, r, sizeof(r), NULL), OSTOR_RESULT_GOOD);
	ck_assert_mem_eq(w, r, sizeof(r));
	ck_assert_uint_eq(estats(m).blocking_commands, b0 + 4);
	ck_assert_uint_eq(estats(m).pipelined_csws, p0 + 1);
	/* Queued several deep: the first goes out alone (blocking), the
	 * rest find others waiting until the last. */
	b0 = estats(m).blocking_commands;
	read_queued(100, N, false, w);
	ck_assert_uint_lt(estats(m).blocking_commands - b0, N);
	ck_assert_uint_gt(estats(m).pipelined_csws, p0 + 1);
	ck_assert_uint_eq(mstats(m).bot_resets, 0);
}
END_TEST

START_TEST(bot_blocking_faults_recovered)
{
	/* The faults of a small command take the same recovery without
	 * pipelining: a stall mid-read, a phase error, a wrong CSW tag. */
	static const int faults[] = { SIM_USB_DATA_STALL, SIM_USB_PHASE_ERROR, SIM_USB_CSW_STALE_TAG };
	struct sim_usb *m = open_dev(BOT ",blocking=on");
	uint8_t w[4096], r[4096];

	fill(w, sizeof(w), 61);
	ck_assert_int_eq(ostor_write_blocks(dev, 0, 0, 8, 8, w), 0);
	for (size_t k = 0; k < sizeof(faults) / sizeof(faults[0]); k++) {
		ck_assert_int_eq(sim_usb_arm_fault(m, faults[k], 1, 0), 0);
		(void)rw(0x28, 8, 8, r, sizeof(r), NULL);
		memset(r, 0, sizeof(r));
		ck_assert_int_eq(rw(0x28, 8, 8, r, sizeof(r), NULL), OSTOR_RESULT_GOOD);
		ck_assert_mem_eq(w, r, sizeof(r));
	}
	ck_assert_uint_gt(estats(m).blocking_commands, 6);
	check_io_works(0, 0, 62);
}
END_TEST

/* ---- the pipelined CSW read lost by the device (QEMU usb-storage) -------- */

static const char *const lost_csw_specs[] = {
	BOT, BOT ",pipeline=cbw", BOT ",csw-grace=2",
};

START_TEST(bot_csw_lost_when_queued)
{
	struct sim_usb *m = open_dev(lost_csw_specs[_i]);
	uint8_t w[16 * 512], r[16 * 512];
	size_t got = 0;

	fill(w, sizeof(w), 40);
	ck_assert_int_eq(ostor_write_blocks(dev, 0, 0, 50, 16, w), 0);
	ck_assert_uint_eq(estats(m).csw_rescues, 0);
	ck_assert_int_eq(sim_usb_arm_fault(m, SIM_USB_CSW_LOST_QUEUED, 1, 0), 0);
	memset(r, 0, sizeof(r));
	ck_assert_int_eq(rw(0x28, 50, 16, r, sizeof(r), &got), OSTOR_RESULT_GOOD);
	ck_assert_uint_eq(got, sizeof(r));
	ck_assert_mem_eq(w, r, sizeof(r));
	/* Re-read after the grace, not after the 100 ms timeout, and no
	 * reset needed. */
	ck_assert_uint_eq(estats(m).csw_rescues, 1);
	ck_assert_uint_eq(estats(m).timeouts, 0);
	ck_assert_uint_eq(mstats(m).bot_resets, 0);
	ck_assert_uint_eq(mstats(m).port_resets, 0);
	/* From now on the device gets its CSW reads after the data: the
	 * fault can no longer strike. */
	ck_assert_int_eq(sim_usb_arm_fault(m, SIM_USB_CSW_LOST_QUEUED, 0, 0), 0);
	for (int i = 0; i < 5; i++) {
		memset(r, 0, sizeof(r));
		ck_assert_int_eq(rw(0x28, 50, 16, r, sizeof(r), NULL), OSTOR_RESULT_GOOD);
		ck_assert_mem_eq(w, r, sizeof(r));
	}
	ck_assert_uint_eq(estats(m).csw_rescues, 1);
	ck_assert_uint_eq(mstats(m).bot_resets, 0);
	check_io_works(0, 0, 41);
}
END_TEST

START_TEST(bot_csw_lost_forced_pipelining)
{
	/* ORIONSTOR_USB_PIPELINE=force keeps queuing: every read is rescued
	 * and good. */
	struct sim_usb *m;
	uint8_t w[4096], r[4096];

	setenv("ORIONSTOR_USB_PIPELINE", "force", 1);
	m = open_dev(BOT ",csw-grace=2,quirks=go-slow");
	unsetenv("ORIONSTOR_USB_PIPELINE");
	fill(w, sizeof(w), 44);
	ck_assert_int_eq(ostor_write_blocks(dev, 0, 0, 3, 8, w), 0);
	ck_assert_int_eq(sim_usb_arm_fault(m, SIM_USB_CSW_LOST_QUEUED, 0, 0), 0);
	for (int i = 0; i < 4; i++) {
		memset(r, 0, sizeof(r));
		ck_assert_int_eq(rw(0x28, 3, 8, r, sizeof(r), NULL), OSTOR_RESULT_GOOD);
		ck_assert_mem_eq(w, r, sizeof(r));
	}
	ck_assert_uint_eq(estats(m).csw_rescues, 4);
	ck_assert_uint_eq(mstats(m).bot_resets, 0);
}
END_TEST

START_TEST(bot_csw_lost_unpipelined_unaffected)
{
	/* Read one phase at a time, the CSW is never queued early. */
	struct sim_usb *m = open_dev(BOT ",pipeline=off,fault=csw-lost-queued,fault-count=0");
	uint8_t r[4096];

	for (int i = 0; i < 3; i++)
		ck_assert_int_eq(rw(0x28, 0, 8, r, sizeof(r), NULL), OSTOR_RESULT_GOOD);
	ck_assert_uint_eq(estats(m).csw_rescues, 0);
	ck_assert_uint_eq(mstats(m).bot_resets, 0);
}
END_TEST

/* ---- CBW pipelining: data-in reads answered before their CBW ------------------------ */

static const enum sim_usb_fault early_faults[] = { SIM_USB_EARLY_IN_STALL, SIM_USB_EARLY_IN_ZLP };

/* QEMU's usb-storage stalls a read that reaches it before the command
 * block (another device might answer it empty): the read is made again,
 * the data is right, no reset, and from then on the read waits for the
 * CBW on this device - the fault can no longer strike. */
/* 16 blocks written at lba, the fault armed count times, then reads of
 * them (raw READ(10)) that must all come back whole and right. */
static void reads_through_early_fault(struct sim_usb *m, enum sim_usb_fault f, unsigned int count,
				      uint32_t lba, uint32_t seed, int reads)
{
	uint8_t w[16 * 512], r[16 * 512];

	fill(w, sizeof(w), seed);
	ck_assert_int_eq(ostor_write_blocks(dev, 0, 0, lba, 16, w), 0);
	ck_assert_uint_eq(estats(m).early_in_answers, 0);
	ck_assert_int_eq(sim_usb_arm_fault(m, f, count, 0), 0);
	for (int i = 0; i < reads; i++) {
		size_t got = 0;

		memset(r, 0, sizeof(r));
		ck_assert_int_eq(rw(0x28, lba, 16, r, sizeof(r), &got), OSTOR_RESULT_GOOD);
		ck_assert_uint_eq(got, sizeof(r));
		ck_assert_mem_eq(w, r, sizeof(r));
	}
}

START_TEST(bot_early_in_answer_detected)
{
	struct sim_usb *m = open_dev(BOT ",pipeline=cbw");

	reads_through_early_fault(m, early_faults[_i], 3, 50, 60, 4);
	ck_assert_uint_eq(estats(m).early_in_answers, 1);
	ck_assert_uint_eq(mstats(m).bot_resets, 0);
	ck_assert_uint_eq(mstats(m).port_resets, 0);
	check_io_works(0, 0, 61);
}
END_TEST

/* The same for a command whose data is shorter than a CSW (read again
 * into the bounce buffer): READ CAPACITY(10). */
START_TEST(bot_early_in_answer_small)
{
	struct sim_usb *m = open_dev(BOT ",pipeline=cbw");
	uint8_t cdb[10] = { 0x25 }, cap[8];
	ostor_task *t;

	ck_assert_int_eq(sim_usb_arm_fault(m, early_faults[_i], 1, 0), 0);
	memset(cap, 0xee, sizeof(cap));
	t = run(0, cdb, 10, OSTOR_DIR_FROM_DEVICE, cap, sizeof(cap));
	ck_assert_int_eq(ostor_task_result(t), OSTOR_RESULT_GOOD);
	ck_assert_uint_eq(ostor_task_transferred(t), 8);
	ostor_task_free(t);
	/* 4 MiB of 512-byte blocks: last LBA 8191. */
	ck_assert_uint_eq((uint32_t)cap[0] << 24 | (uint32_t)cap[1] << 16 | (uint32_t)cap[2] << 8 | cap[3], 8191);
	ck_assert_uint_eq((uint32_t)cap[4] << 24 | (uint32_t)cap[5] << 16 | (uint32_t)cap[6] << 8 | cap[7], 512);
	ck_assert_uint_eq(estats(m).early_in_answers, 1);
	ck_assert_uint_eq(mstats(m).bot_resets, 0);
}
END_TEST

/* QEMU's usb-storage behind EHCI: the early read alone is stalled, and the
 * status read queued behind it gets the first 13 bytes of the data.  Those
 * bytes stay in place, the read again brings the rest after them: the
 * command succeeds with the right data, no reset, and reads wait for the
 * CBW from then on. */
START_TEST(bot_early_stall_data_in_status_read)
{
	struct sim_usb *m = open_dev(BOT ",pipeline=cbw");

	reads_through_early_fault(m, SIM_USB_EARLY_IN_STALL_ONCE, 3, 70, 63, 3);
	ck_assert_uint_eq(estats(m).early_in_answers, 1);
	ck_assert_uint_eq(estats(m).early_data_in_status_read, 1);
	ck_assert_uint_eq(mstats(m).bot_resets, 0);
	check_io_works(0, 0, 64);
}
END_TEST

/* The same for raw commands, which nothing sends again: REQUEST SENSE
 * (not from the command cache) of 18 bytes - 13 in the status read, the
 * other 5 read again into the bounce buffer - and of 8 - all of it in
 * the status read, the CSW next. */
START_TEST(bot_early_stall_raw_commands)
{
	struct sim_usb *m = open_dev(BOT ",pipeline=cbw");
	static const size_t lens[] = { 18, 8 };
	uint8_t cdb[6] = { 0x03 }, got[18], ref[18];
	ostor_task *t;

	for (size_t i = 0; i < OSTOR_ARRAY_SIZE(lens); i++) {
		if (i) {
			/* CBW queuing was turned down on the first device. */
			ostor_close(dev);
			dev = NULL;
			m = open_dev(BOT ",pipeline=cbw");
		}
		cdb[4] = (uint8_t)lens[i];
		t = run(0, cdb, 6, OSTOR_DIR_FROM_DEVICE, ref, lens[i]);
		ck_assert_int_eq(ostor_task_result(t), OSTOR_RESULT_GOOD);
		ck_assert_uint_eq(ostor_task_transferred(t), lens[i]);
		ostor_task_free(t);
		ck_assert_int_eq(sim_usb_arm_fault(m, SIM_USB_EARLY_IN_STALL_ONCE, 1, 0), 0);
		memset(got, 0xee, sizeof(got));
		t = run(0, cdb, 6, OSTOR_DIR_FROM_DEVICE, got, lens[i]);
		ck_assert_int_eq(ostor_task_result(t), OSTOR_RESULT_GOOD);
		ck_assert_uint_eq(ostor_task_transferred(t), lens[i]);
		ck_assert_mem_eq(got, ref, lens[i]);
		ostor_task_free(t);
		ck_assert_uint_eq(estats(m).early_in_answers, 1);
		ck_assert_uint_eq(estats(m).early_data_in_status_read, 1);
		ck_assert_uint_eq(mstats(m).bot_resets, 0);
		check_io_works(0, 0, 65);
	}
}
END_TEST

/* The pipelining setting as the tuning report shows it. */
static const struct ostori_setting *pipelining_setting(struct sim_usb *m, struct ostori_setting *set, int max)
{
	return engine_setting(m, "pipelining", set, max);
}

/* The queue-cbw quirk queues the reads with the CBW on one device (what
 * ORIONSTOR_USB_PIPELINE=cbw does for all): the tuning says so and where
 * it came from, and an early answer still turns it down. */
START_TEST(bot_queue_cbw_quirk)
{
	struct sim_usb *m = open_dev(BOT ",quirks=queue-cbw");
	struct ostori_setting set[48];
	const struct ostori_setting *p = pipelining_setting(m, set, 48);
	uint8_t w[8 * 512], r[8 * 512];

	ck_assert_str_eq(p->source, "quirk queue-cbw");
	ck_assert_str_eq(p->value, "CBW, data and CSW queued together");
	fill(w, sizeof(w), 66);
	ck_assert_int_eq(ostor_write_blocks(dev, 0, 0, 90, 8, w), 0);
	ck_assert_int_eq(sim_usb_arm_fault(m, SIM_USB_EARLY_IN_STALL, 1, 0), 0);
	memset(r, 0, sizeof(r));
	ck_assert_int_eq(rw(0x28, 90, 8, r, sizeof(r), NULL), OSTOR_RESULT_GOOD);
	ck_assert_mem_eq(w, r, sizeof(r));
	ck_assert_uint_eq(estats(m).early_in_answers, 1);
	p = pipelining_setting(m, set, 48);
	ck_assert_str_eq(p->value, "data and CSW queued together");
	ck_assert_str_eq(p->source, "turned down after a data read answered before its CBW");
	ostor_close(dev);
	dev = NULL;
	/* Without it: the default. */
	m = open_dev(BOT);
	p = pipelining_setting(m, set, 48);
	ck_assert_str_eq(p->source, "default");
	ck_assert_str_eq(p->value, "data and CSW queued together");
}
END_TEST

/* A command without data has its CSW read queued with the CBW: answered
 * early, it is recovered as any stalled or empty CSW read, and reads wait
 * for the CBW from then on. */
START_TEST(bot_early_csw_answer)
{
	struct sim_usb *m = open_dev(BOT ",pipeline=cbw");
	uint8_t tur[6] = { 0 };
	ostor_task *t;

	ck_assert_int_eq(sim_usb_arm_fault(m, early_faults[_i], 2, 0), 0);
	for (int i = 0; i < 3; i++) {
		t = run(0, tur, 6, OSTOR_DIR_NONE, NULL, 0);
		ck_assert_int_eq(ostor_task_result(t), OSTOR_RESULT_GOOD);
		ostor_task_free(t);
	}
	ck_assert_uint_eq(estats(m).early_in_answers, 1);
	ck_assert_uint_eq(mstats(m).bot_resets, 0);
	check_io_works(0, 0, 62);
}
END_TEST

/* A real stall of a read queued with its CBW (a command without data,
 * MEDIUM ERROR): read again, the CSW comes, the command fails as the
 * device said - and CBW pipelining stays on (the next early answer is
 * still seen). */
START_TEST(bot_stall_with_cbw_pipelining)
{
	struct sim_usb *m = open_dev(BOT ",pipeline=cbw,scsi-fault=28/03/11/00");
	uint8_t r[8 * 512], inq[36], small[4], cdb6[6] = { 0x1a, 0, 0x3f, 0, sizeof(small), 0 };
	uint8_t inq_cdb[6] = { 0x12, 0, 0, 0, sizeof(inq), 0 };
	ostor_task *t;

	ck_assert_int_eq(rw(0x28, 0, 8, r, sizeof(r), NULL), OSTOR_RESULT_CHECK_CONDITION);
	ck_assert_uint_eq(estats(m).early_in_answers, 0);
	ck_assert_uint_ge(estats(m).csw_in_data, 1);
	ck_assert_uint_eq(mstats(m).bot_resets, 0);
	/* Data shorter than a CSW, the stall real: MODE SENSE(6) of 4 bytes
	 * still answers. */
	t = run(0, cdb6, 6, OSTOR_DIR_FROM_DEVICE, small, sizeof(small));
	ck_assert_int_eq(ostor_task_result(t), OSTOR_RESULT_GOOD);
	ostor_task_free(t);
	ck_assert_uint_eq(estats(m).early_in_answers, 0);
	ck_assert_int_eq(sim_usb_arm_fault(m, SIM_USB_EARLY_IN_STALL, 1, 0), 0);
	t = run(0, inq_cdb, 6, OSTOR_DIR_FROM_DEVICE, inq, sizeof(inq));
	ck_assert_int_eq(ostor_task_result(t), OSTOR_RESULT_GOOD);
	ck_assert_uint_eq(ostor_task_transferred(t), sizeof(inq));
	ck_assert_uint_eq(inq[0] & 0x1f, 0);
	ostor_task_free(t);
	ck_assert_uint_eq(estats(m).early_in_answers, 1);
	ck_assert_uint_eq(mstats(m).bot_resets, 0);
}
END_TEST

START_TEST(bot_csw_arrives_as_cancelled)
{
	/* The rescue cancels the CSW read just as the CSW lands in it: the
	 * bytes are taken as the CSW, nothing is read twice. */
	struct sim_usb *m = open_dev(BOT ",fault=csw-lost-queued+csw-at-cancel,fault-after=0");
	uint8_t w[4096], r[4096];
	size_t got = 0;

	sim_usb_clear_faults(m);
	fill(w, sizeof(w), 42);
	ck_assert_int_eq(ostor_write_blocks(dev, 0, 0, 9, 8, w), 0);
	ck_assert_int_eq(sim_usb_arm_fault(m, SIM_USB_CSW_LOST_QUEUED, 1, 0), 0);
	ck_assert_int_eq(sim_usb_arm_fault(m, SIM_USB_CSW_AT_CANCEL, 1, 0), 0);
	ck_assert_int_eq(rw(0x28, 9, 8, r, sizeof(r), &got), OSTOR_RESULT_GOOD);
	ck_assert_uint_eq(got, sizeof(r));
	ck_assert_mem_eq(w, r, sizeof(r));
	ck_assert_uint_eq(estats(m).csw_rescues, 0);
	ck_assert_uint_eq(estats(m).csw_invalid, 0);
	ck_assert_uint_eq(mstats(m).bot_resets, 0);
	check_io_works(0, 100, 43);
}
END_TEST

/* ---- the configuration file: quirks and storage_device_timeout ---------- */

/* A context reading the given configuration text. */
static ostor_context *ctx_with_config(const char *text, int *err)
{
	char path[] = "/tmp/ostor-usb-conf-XXXXXX";
	int fd = mkstemp(path);
	ostor_context *c = NULL;

	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(write(fd, text, strlen(text)), (ssize_t)strlen(text));
	close(fd);
	*err = ostor_init(&c, path);
	unlink(path);
	if (c)
		ostor_set_log_level(c, OSTOR_LOG_NONE);
	return c;
}

START_TEST(bot_quirks_from_config)
{
	int err;
	ostor_context *c = ctx_with_config("[usb_storage]\n"
					   "quirks = \"0781:5406:none, 1209:0b07:fix-capacity+no-sync-cache\"\n", &err);
	ostor_device *d;
	struct ostor_usb_details det = OSTOR_USB_DETAILS_INIT;
	struct ostor_lun_info li = OSTOR_LUN_INFO_INIT;

	ck_assert_int_eq(err, 0);
	ck_assert_int_eq(ostor_open(c, BOT, &d), 0);
	ck_assert_int_eq(ostor_usb_get_details(d, &det), 0);
	ck_assert_str_eq(det.quirks, "fix-capacity,no-sync-cache");
	ck_assert_int_eq(ostor_lun_info(d, 0, 0, &li), 0);
	ck_assert_uint_eq(li.blocks, 8191);   /* the quirk took effect */
	ostor_close(d);
	/* A spec's quirks add to the file's. */
	ck_assert_int_eq(ostor_open(c, BOT ",quirks=go-slow", &d), 0);
	ck_assert_int_eq(ostor_usb_get_details(d, &det), 0);
	ck_assert_str_eq(det.quirks, "fix-capacity,no-sync-cache,go-slow");
	ostor_close(d);
	/* The environment wins over the file. */
	setenv("ORIONSTOR_USB_QUIRKS", "1209:0b07:none", 1);
	err = ostor_open(c, BOT, &d);
	unsetenv("ORIONSTOR_USB_QUIRKS");
	ck_assert_int_eq(err, 0);
	ck_assert_int_eq(ostor_usb_get_details(d, &det), 0);
	ck_assert_str_eq(det.quirks, "");
	ck_assert_int_eq(ostor_lun_info(d, 0, 0, &li), 0);
	ck_assert_uint_eq(li.blocks, 8192);
	ostor_close(d);
	/* The CB/CBI models have their own ids: the entry is not theirs. */
	ck_assert_int_eq(ostor_open(c, "sim:transport=usb-cbi,size=4M", &d), 0);
	ck_assert_int_eq(ostor_usb_get_details(d, &det), 0);
	ck_assert_str_eq(det.quirks, "");
	ostor_close(d);
	ostor_exit(c);
}
END_TEST

/* ---- the SCSI command cache (scsi_command_cache_size) --------------------- */

static uint64_t target_ops(uint8_t op)
{
	struct sim_stats ss;

	sim_target_get_stats(ostori_sim_device_target(dev), &ss);
	return ss.per_opcode[op];
}

/* Identification answers come from the cache the second time; a unit
 * attention, MODE SELECT or a reset makes the LUN's be asked again;
 * 0 entries: no cache. */
START_TEST(bot_command_cache)
{
	static const uint8_t inq[6] = { 0x12, 0, 0, 0, 96, 0 }, inq36[6] = { 0x12, 0, 0, 0, 36, 0 };
	static const uint8_t rc10[10] = { 0x25 };
	uint8_t a[96], b[96], cap[8];
	uint64_t hits, misses, before;
	ostor_task *t;
	int err;

	if (_i) {
		ostor_exit(ctx);
		ctx = ctx_with_config("[usb_storage]\nscsi_command_cache_size = 0\n", &err);
		ck_assert_int_eq(err, 0);
	}
	open_dev(BOT);
	before = target_ops(0x12);
	t = run(0, inq, 6, OSTOR_DIR_FROM_DEVICE, a, sizeof(a));
	ck_assert_int_eq(ostor_task_result(t), OSTOR_RESULT_GOOD);
	ostor_task_free(t);
	memset(b, 0, sizeof(b));
	t = run(0, inq, 6, OSTOR_DIR_FROM_DEVICE, b, sizeof(b));
	ck_assert_int_eq(ostor_task_result(t), OSTOR_RESULT_GOOD);
	ck_assert_uint_eq(ostor_task_transferred(t), 96);
	ostor_task_free(t);
	ck_assert_mem_eq(a, b, sizeof(a));
	ostori_cmdcache_stats(dev, &hits, &misses);
	if (_i) {
		ck_assert_uint_eq(target_ops(0x12) - before, 2);
		ck_assert_uint_eq(hits, 0);
		return;
	}
	ck_assert_uint_eq(target_ops(0x12) - before, 1);
	ck_assert_uint_eq(hits, 1);
	/* Another CDB (allocation length) is another question. */
	t = run(0, inq36, 6, OSTOR_DIR_FROM_DEVICE, b, 36);
	ostor_task_free(t);
	ck_assert_uint_eq(target_ops(0x12) - before, 2);
	/* READ CAPACITY, then the capacity changes: the unit attention
	 * makes the next READ CAPACITY go to the device and see it. */
	t = run(0, rc10, 10, OSTOR_DIR_FROM_DEVICE, cap, sizeof(cap));
	ck_assert_int_eq(ostor_task_result(t), OSTOR_RESULT_GOOD);
	ostor_task_free(t);
	ck_assert_int_eq(sim_target_set_capacity(ostori_sim_device_target(dev), 0, 4096), 0);
	before = target_ops(0x25);
	/* Until the device says so (a unit attention, here on a READ), the
	 * cache does not know. */
	t = run(0, rc10, 10, OSTOR_DIR_FROM_DEVICE, cap, sizeof(cap));
	ck_assert_int_eq(ostor_task_result(t), OSTOR_RESULT_GOOD);
	ostor_task_free(t);
	ck_assert_uint_eq(target_ops(0x25) - before, 0);
	t = run(0, (const uint8_t[10]){ 0x28, 0, 0, 0, 0, 0, 0, 0, 1, 0 }, 10, OSTOR_DIR_FROM_DEVICE, a, 512);
	ck_assert_int_eq(ostor_task_result(t), OSTOR_RESULT_CHECK_CONDITION); /* the UA */
	ostor_task_free(t);
	t = run(0, rc10, 10, OSTOR_DIR_FROM_DEVICE, cap, sizeof(cap));
	ck_assert_int_eq(ostor_task_result(t), OSTOR_RESULT_GOOD);
	ostor_task_free(t);
	ck_assert_uint_eq(target_ops(0x25) - before, 1);
	ck_assert_uint_eq(((uint32_t)cap[0] << 24 | cap[1] << 16 | cap[2] << 8 | cap[3]), 4095);
	/* A reset forgets everything. */
	before = target_ops(0x12);
	ck_assert_int_ge(ostor_reset(dev, OSTOR_RESET_DEVICE, 0, 0), 0);
	t = run(0, inq, 6, OSTOR_DIR_FROM_DEVICE, b, sizeof(b));
	ostor_task_free(t);
	ck_assert_uint_ge(target_ops(0x12) - before, 1);
}
END_TEST

/* Keep N reads in flight; how many did the engine hold at once? */
static uint64_t engine_depth(struct sim_usb *m)
{
	enum { N = 12 };
	ostor_task *t[N];
	static uint8_t bufs[N][4096];
	uint8_t cdb[10];
	struct done_rec rec = { 0 };
	uint64_t deadline = ostori_now_ms() + 5000;

	for (int i = 0; i < N; i++) {
		cdb_rw10(cdb, 0x28, (uint32_t)i * 8, 8);
		ck_assert_int_eq(ostor_task_new(dev, &t[i]), 0);
		ck_assert_int_eq(ostor_task_set_cdb(t[i], cdb, 10), 0);
		ck_assert_int_eq(ostor_task_set_buffer(t[i], OSTOR_DIR_FROM_DEVICE, bufs[i], 4096), 0);
		ck_assert_int_eq(ostor_task_submit(t[i], (struct ostor_completion){ on_done, &rec, NULL }), 0);
	}
	while (rec.calls < N && ostori_now_ms() < deadline)
		ostor_handle_events(ctx, 50);
	ck_assert_int_eq(rec.calls, N);
	for (int i = 0; i < N; i++) {
		ck_assert_int_eq(ostor_task_result(t[i]), OSTOR_RESULT_GOOD);
		ostor_task_free(t[i]);
	}
	return estats(m).queued_max;
}

/* async_io_enabled / storage_device_async_enabled = false: one command in
 * the engine at a time (the rest wait in the core), and the second also
 * stops pipelining; by default the engine queues them. */
START_TEST(bot_one_at_a_time_from_config)
{
	static const char *const conf[] = { "", "[usb_storage]\nasync_io_enabled = false\n",
					    "[usb_storage]\nstorage_device_async_enabled = false\n" };
	int err;
	struct sim_usb *m;
	struct ostor_usb_details det = OSTOR_USB_DETAILS_INIT;

	ostor_exit(ctx);
	ctx = ctx_with_config(conf[_i], &err);
	ck_assert_int_eq(err, 0);
	m = open_dev(BOT);
	if (_i == 0)
		ck_assert_uint_ge(engine_depth(m), 2);
	else
		ck_assert_uint_eq(engine_depth(m), 1);
	ck_assert_int_eq(ostor_usb_get_details(dev, &det), 0);
	check_io_works(0, 0, 50);
}
END_TEST

/* scsi_validation_enabled = false: a residue beyond the transfer is
 * ignored, as with the ignore-residue quirk (the data length still comes
 * from what moved). */
START_TEST(bot_validation_off_ignores_residue)
{
	int err;
	struct sim_usb *m;
	uint8_t buf[4096];
	size_t got = 0;

	ostor_exit(ctx);
	ctx = ctx_with_config("[usb_storage]\nscsi_validation_enabled = false\n", &err);
	ck_assert_int_eq(err, 0);
	m = open_dev(BOT ",fault=csw-residue-big");
	ck_assert_int_eq(rw(0x28, 0, 8, buf, sizeof(buf), &got), OSTOR_RESULT_GOOD);
	ck_assert_uint_eq(got, sizeof(buf));
	ck_assert_uint_eq(mstats(m).bot_resets, 0);
}
END_TEST

START_TEST(bot_quirks_config_errors)
{
	static const struct {
		const char *text, *needle;
	} bad[] = {
		{ "[usb_storage]\nquirks = \"1209:0b07:turbo\"\n", "unknown USB quirk 'turbo'" },
		{ "[usb_storage]\nquirks = \"go-slow\"\n", "expected VVVV:PPPP:FLAG" },
		{ "[usb_storage]\nquirks = \"1209:0b07:max-transfer=1\"\n", "max-transfer" },
		{ "[usb_storage]\nquirks = go-slow\n", "quoted string" },
	};
	int err;

	for (size_t i = 0; i < OSTOR_ARRAY_SIZE(bad); i++) {
		ostor_context *c = ctx_with_config(bad[i].text, &err);

		ck_assert_msg(err == OSTOR_ERROR_CONFIG, "%s: %d", bad[i].text, err);
		ck_assert_ptr_null(c);
		ck_assert_msg(strstr(ostor_last_error(), bad[i].needle) &&
			      strstr(ostor_last_error(), ":2:"),
			      "%s: %s", bad[i].text, ostor_last_error());
	}
	/* The environment is checked when a device opens. */
	setenv("ORIONSTOR_USB_QUIRKS", "1209:0b07:bogus", 1);
	err = ostor_open(ctx, BOT, &dev);
	unsetenv("ORIONSTOR_USB_QUIRKS");
	ck_assert_int_eq(err, OSTOR_ERROR_CONFIG);
	ck_assert_ptr_nonnull(strstr(ostor_last_error(), "ORIONSTOR_USB_QUIRKS"));
	dev = NULL;
}
END_TEST

START_TEST(bot_device_max_count_from_config)
{
	int err;
	ostor_context *c = ctx_with_config("[usb_storage]\nstorage_device_max_count = 1\n", &err);
	ostor_device *d, *d2 = NULL, *v;

	ck_assert_int_eq(err, 0);
	ck_assert_int_eq(ostor_open(c, BOT0, &d), 0);
	ck_assert_uint_eq(d->default_timeout_ms, 30000);
	ck_assert_int_eq(ostor_open(c, "sim:transport=usb-cbi", &d2), OSTOR_ERROR_BUSY);
	ck_assert_ptr_nonnull(strstr(ostor_last_error(), "storage_device_max_count"));
	ck_assert_ptr_null(d2);
#ifdef OSTOR_HAVE_VIRTIO
	/* A virtio device is not a USB one. */
	ck_assert_int_eq(ostor_open(c, "sim:transport=virtio", &v), 0);
	ostor_close(v);
#else
	(void)v;
#endif
	ostor_close(d);
	ck_assert_int_eq(ostor_open(c, "sim:transport=usb-cbi", &d2), 0);
	ostor_close(d2);
	ostor_exit(c);
}
END_TEST

/* Task management on Bulk-Only: no per-command abort, so aborting a
 * command the device sits on resets the transport and says so; every
 * reset level is the reset recovery. */
START_TEST(bot_abort_and_resets)
{
	struct sim_usb *m = open_dev(BOT0 ",fault=csw-nak,fault-count=1");
	uint8_t buf[4096], cdb[10];
	struct ousb_engine_stats before;
	uint64_t cbws;
	ostor_task *t;

	cdb_rw10(cdb, 0x28, 0, 8);
	ck_assert_int_eq(ostor_task_new(dev, &t), 0);
	ck_assert_int_eq(ostor_task_set_cdb(t, cdb, 10), 0);
	ck_assert_int_eq(ostor_task_set_buffer(t, OSTOR_DIR_FROM_DEVICE, buf, sizeof(buf)), 0);
	cbws = mstats(m).cbws;
	ck_assert_int_eq(ostor_task_submit(t, (struct ostor_completion){ NULL, NULL, NULL }), 0);
	/* On the wire (the device took the CBW and sits on the CSW). */
	for (uint64_t end = ostori_now_ms() + 5000; mstats(m).cbws == cbws && ostori_now_ms() < end;)
		ostor_handle_events(ctx, 5);
	ck_assert_uint_gt(mstats(m).cbws, cbws);
	before = estats(m);
	ck_assert_int_eq(ostor_task_abort(t), OSTOR_TMF_ESCALATED);
	ck_assert_int_eq(ostor_task_result(t), OSTOR_RESULT_ABORTED);
	ck_assert_uint_gt(estats(m).reset_recoveries, before.reset_recoveries);
	before = estats(m);
	ck_assert_int_eq(ostor_reset(dev, OSTOR_RESET_LUN, 0, 0), OSTOR_TMF_ESCALATED);
	ck_assert_int_eq(ostor_reset(dev, OSTOR_RESET_DEVICE, 0, 0), OSTOR_TMF_DONE);
	ck_assert_uint_eq(estats(m).reset_recoveries, before.reset_recoveries + 2);
	ck_assert_int_eq(ostor_read_blocks(dev, 0, 0, 0, 8, buf), 0);
	ostor_task_free(t);
}
END_TEST

START_TEST(bot_timeout_from_config)
{
	/* No usb-timeout in the spec: storage_device_timeout decides. */
	int err;
	ostor_context *c = ctx_with_config("[usb_storage]\nstorage_device_timeout = 200\n", &err);
	ostor_device *d;
	uint8_t buf[4096], cdb[10];
	ostor_task *t;
	uint64_t t0;

	ck_assert_int_eq(err, 0);
	ck_assert_int_eq(ostor_open(c, BOT0 ",fault=csw-nak", &d), 0);
	cdb_rw10(cdb, 0x28, 0, 8);
	ck_assert_int_eq(ostor_task_new(d, &t), 0);
	ck_assert_int_eq(ostor_task_set_cdb(t, cdb, 10), 0);
	ck_assert_int_eq(ostor_task_set_buffer(t, OSTOR_DIR_FROM_DEVICE, buf, sizeof(buf)), 0);
	t0 = ostori_now_ms();
	ck_assert_int_eq(ostor_task_execute(t), 0);
	ck_assert_int_eq(ostor_task_result(t), OSTOR_RESULT_TIMEOUT);
	/* 200 ms, not the 30 s default (bounded; a slow machine may add). */
	ck_assert_uint_ge(ostori_now_ms() - t0, 150);
	ck_assert_uint_lt(ostori_now_ms() - t0, 5000);
	ostor_task_free(t);
	ostor_close(d);
	ostor_exit(c);
}
END_TEST

static Suite *bot_suite(void)
{
	Suite *s = suite_create("usb_bot");
	TCase *tc = tcase_create("bot");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 30);
	tcase_add_loop_test(tc, bot_plain_io, 0, 4);
	tcase_add_loop_test(tc, bot_invalid_csw_cbw_pipelined, 0, (int)OSTOR_ARRAY_SIZE(bad_csw));
	tcase_add_test(tc, bot_scattered_buffers);
	tcase_add_test(tc, bot_multi_lun);
	tcase_add_test(tc, bot_lun_beyond_max_refused);
	tcase_add_test(tc, bot_residue_ignored_by_quirk);
	tcase_add_test(tc, bot_overrun_from_allocation_length);
	tcase_add_test(tc, bot_thirteen_cases_good);
	tcase_add_test(tc, bot_zlp_and_csw_stall_retried);
	tcase_add_test(tc, bot_csw_stall_each_command_retried);
	tcase_add_test(tc, bot_single_lun_quirk);
	tcase_add_test(tc, bot_cancel_in_flight);
	tcase_add_loop_test(tc, bot_engine_full_waits, 0, 2);
	tcase_add_test(tc, bot_unplug_with_waiting);
	tcase_add_loop_test(tc, bot_one_at_a_time_from_config, 0, 3);
	tcase_add_test(tc, bot_validation_off_ignores_residue);
	tcase_add_loop_test(tc, bot_command_cache, 0, 2);
	tcase_add_test(tc, bot_explicit_resets);
	tcase_add_test(tc, bot_spec_errors);
	tcase_add_test(tc, bot_fault_after);
	tcase_add_test(tc, bot_check_condition_sense);
	tcase_add_test(tc, bot_compare_and_write);
	tcase_add_test(tc, quirks_table_and_env);
	tcase_add_test(tc, quirks_bridges);
	tcase_add_test(tc, bot_quirks_bridge_on_device);
	tcase_add_test(tc, bot_quirks_capacity_and_sync);
	tcase_add_test(tc, bot_pipelining_saves_nothing_in_correctness);
	tcase_add_test(tc, bot_blocking_small_commands);
	tcase_add_test(tc, bot_blocking_faults_recovered);
	tcase_add_loop_test(tc, bot_csw_lost_when_queued, 0, (int)OSTOR_ARRAY_SIZE(lost_csw_specs));
	tcase_add_test(tc, bot_csw_lost_forced_pipelining);
	tcase_add_test(tc, bot_csw_lost_unpipelined_unaffected);
	tcase_add_test(tc, bot_csw_arrives_as_cancelled);
	tcase_add_loop_test(tc, bot_early_in_answer_detected, 0, 2);
	tcase_add_loop_test(tc, bot_early_in_answer_small, 0, 2);
	tcase_add_loop_test(tc, bot_early_csw_answer, 0, 2);
	tcase_add_test(tc, bot_early_stall_data_in_status_read);
	tcase_add_test(tc, bot_early_stall_raw_commands);
	tcase_add_test(tc, bot_queue_cbw_quirk);
	tcase_add_test(tc, bot_stall_with_cbw_pipelining);
	tcase_add_test(tc, bot_quirks_from_config);
	tcase_add_test(tc, bot_quirks_config_errors);
	tcase_add_test(tc, bot_timeout_from_config);
	tcase_add_test(tc, bot_device_max_count_from_config);
	tcase_add_test(tc, bot_abort_and_resets);
	suite_add_tcase(s, tc);

	/* The fault matrix of issue 14, counted by tests/faults/fault-matrix.sh. */
	tc = tcase_create("fault_matrix");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, fault_01_csw_bad_signature);
	tcase_add_test(tc, fault_02_csw_tag_mismatch);
	tcase_add_loop_test(tc, fault_03_csw_wrong_size, 0, (int)OSTOR_ARRAY_SIZE(csw_sizes));
	tcase_add_test(tc, fault_04_zlp_before_csw);
	tcase_add_loop_test(tc, fault_05_csw_bad_status, 0, (int)OSTOR_ARRAY_SIZE(bad_statuses));
	tcase_add_test(tc, fault_06_residue_too_big);
	tcase_add_test(tc, fault_07_phase_error_injected);
	tcase_add_test(tc, fault_07_phase_error_host_cases);
	tcase_add_test(tc, fault_08_data_stall_short_read);
	tcase_add_test(tc, fault_08_data_stall_write);
	tcase_add_test(tc, fault_09_cbw_stall);
	tcase_add_test(tc, fault_10_babble);
	tcase_add_test(tc, fault_11_csw_in_data_phase);
	tcase_add_test(tc, fault_12_csw_never_sent);
	tcase_add_test(tc, fault_12_hang_needs_port_reset);
	tcase_add_loop_test(tc, fault_13_get_max_lun, 0, (int)OSTOR_ARRAY_SIZE(maxlun_faults));
	tcase_add_test(tc, fault_14_reset_stall_port_reset);
	tcase_add_test(tc, fault_14_port_reset_fails_dead);
	tcase_add_test(tc, fault_15_unplug_mid_write);
	tcase_add_test(tc, fault_15_unplug_after_data_before_csw);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(bot_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
