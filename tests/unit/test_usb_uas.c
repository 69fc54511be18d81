/*
 * tests/unit/test_usb_uas.c - the UAS engine (lib/usb/uas.c) against the
 * simulated UAS device (sim:transport=usb-uas), with bulk streams and
 * without (high speed): identity and capacity, data, several LUNs,
 * commands in flight at once, sense, task management (ABORT TASK,
 * LOGICAL UNIT RESET, I_T NEXUS RESET and their escalation), hostile IUs
 * (bad lengths and kinds, unknown tags, oversize sense, overruns), unplug
 * with writes in flight.
 */
#include "usb_test_util.h"

#include <unistd.h>

#define UAS0 "sim:transport=usb-uas,size=4M"
#define UAS UAS0 ",usb-timeout=200"
#define UAS_HS UAS ",streams=0"

/* Both modes: _i 0 streams, 1 none. */
static const char *const modes[] = { UAS, UAS_HS };

struct done_rec {
	int calls;
};

static void on_done(ostor_task *t, void *ud)
{
	((struct done_rec *)ud)->calls++;
}

static void wait_calls(struct done_rec *rec, int n, unsigned int ms)
{
	uint64_t deadline = ostori_now_ms() + ms;

	while (rec->calls < n && ostori_now_ms() < deadline)
		ostor_handle_events(ctx, 20);
	ck_assert_int_eq(rec->calls, n);
}

static ostor_task *submit_rw(uint8_t op, uint32_t lba, uint16_t blocks, void *buf, size_t len,
			     struct done_rec *rec)
{
	uint8_t cdb[10];
	ostor_task *t;

	cdb_rw10(cdb, op, lba, blocks);
	ck_assert_int_eq(ostor_task_new(dev, &t), 0);
	ck_assert_int_eq(ostor_task_set_cdb(t, cdb, 10), 0);
	ck_assert_int_eq(ostor_task_set_buffer(t, op == 0x28 ? OSTOR_DIR_FROM_DEVICE : OSTOR_DIR_TO_DEVICE, buf,
					       len), 0);
	ck_assert_int_eq(ostor_task_submit(t, (struct ostor_completion){ on_done, rec, NULL }), 0);
	return t;
}

/* ---- identity, capacity, data -------------------------------------------------- */

START_TEST(uas_identity_and_capacity)
{
	struct sim_usb *m = open_dev(modes[_i]);
	struct ostor_usb_details d = OSTOR_USB_DETAILS_INIT;
	struct ostor_lun_info li = OSTOR_LUN_INFO_INIT;
	uint8_t inq[96], cdb[6] = { 0x12, 0, 0, 0, sizeof(inq), 0 };
	ostor_task *t;

	ck_assert_int_eq(ostor_usb_get_details(dev, &d), 0);
	ck_assert_str_eq(d.transport, "uas");
	ck_assert_uint_eq(d.protocol, 0x62);
	ck_assert_uint_eq(d.subclass, 0x06);
	ck_assert_str_eq(d.speed, _i ? "high" : "super");
	ck_assert_str_eq(d.product, "simulated UAS device");
	ck_assert_int_eq(d.simulated, 1);
	ck_assert_uint_eq(d.max_lun, 0);
	t = run(0, cdb, 6, OSTOR_DIR_FROM_DEVICE, inq, sizeof(inq));
	ck_assert_int_eq(ostor_task_result(t), OSTOR_RESULT_GOOD);
	ck_assert_uint_ge(ostor_task_transferred(t), 36);
	ck_assert_int_eq(memcmp(inq + 8, "ORIONSTR", 8), 0);
	ostor_task_free(t);
	ck_assert_int_eq(ostor_lun_info(dev, 0, 0, &li), 0);
	ck_assert_uint_eq(li.block_size, 512);
	ck_assert_uint_eq(li.blocks, 8192);
	ck_assert_uint_ge(mstats(m).uas_command_ius, 3);   /* REPORT LUNS, INQUIRY, READ CAPACITY */
	ck_assert_uint_eq(estats(m).uas_bad_ius, 0);
	ck_assert_uint_eq(estats(m).uas_ready_ius, _i ? estats(m).uas_ready_ius : 0);
	if (_i)
		ck_assert_uint_ge(estats(m).uas_ready_ius, 2);   /* READ READY of each data-in */
}
END_TEST

START_TEST(uas_data_round_trip)
{
	struct sim_usb *m = open_dev(modes[_i]);
	uint8_t *w = malloc(256 * 512), *r = malloc(256 * 512);
	uint8_t a[512], b[1024], c[512];
	struct iovec iov[3] = { { a, sizeof(a) }, { b, sizeof(b) }, { c, sizeof(c) } };
	uint8_t cdb[10];
	ostor_task *t;

	fill(w, 256 * 512, 3);
	ck_assert_int_eq(ostor_write_blocks(dev, 0, 0, 100, 256, w), 0);
	memset(r, 0, 256 * 512);
	ck_assert_int_eq(ostor_read_blocks(dev, 0, 0, 100, 256, r), 0);
	ck_assert_mem_eq(w, r, 256 * 512);
	/* scattered buffers go through the tag's bounce buffer */
	cdb_rw10(cdb, 0x28, 100, 4);
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
	ck_assert_uint_gt(mstats(m).medium_writes, 0);
	ck_assert_uint_eq(estats(m).uas_aborts, 0);
	free(w);
	free(r);
}
END_TEST

START_TEST(uas_multi_lun)
{
	static const char *const specs[] = { UAS ",luns=3", UAS_HS ",luns=3" };
	struct ostor_usb_details d = OSTOR_USB_DETAILS_INIT;
	struct ostor_lun_addr *luns;
	size_t n;

	open_dev(specs[_i]);
	/* REPORT LUNS at open (there is no Get Max LUN) */
	ck_assert_uint_eq(dev->max_lun, 2);
	ck_assert_int_eq(ostor_usb_get_details(dev, &d), 0);
	ck_assert_uint_eq(d.max_lun, 2);
	ck_assert_int_eq(ostor_device_luns(dev, &luns, &n), 0);
	ck_assert_uint_eq(n, 3);
	free(luns);
	for (uint32_t l = 0; l < 3; l++)
		check_io_works(l, 8 * l, 30 + l);
	/* each LUN's data is its own */
	{
		uint8_t x[8 * 512], y[8 * 512];

		fill(x, sizeof(x), 30);
		ck_assert_int_eq(ostor_read_blocks(dev, 0, 0, 0, 8, y), 0);
		ck_assert_mem_eq(x, y, sizeof(x));
		ck_assert_int_eq(ostor_read_blocks(dev, 0, 1, 0, 8, y), 0);
		ck_assert_int_ne(memcmp(x, y, sizeof(x)), 0);
	}
}
END_TEST

START_TEST(uas_sense)
{
	struct sim_usb *m = open_dev(modes[_i]);
	uint8_t buf[4096], cdb[10];
	const uint8_t *sense;
	size_t slen;
	ostor_task *t;

	/* past the end: CHECK CONDITION, ILLEGAL REQUEST, 21h/00h */
	cdb_rw10(cdb, 0x28, 9000, 8);
	t = run(0, cdb, 10, OSTOR_DIR_FROM_DEVICE, buf, sizeof(buf));
	ck_assert_int_eq(ostor_task_result(t), OSTOR_RESULT_CHECK_CONDITION);
	ck_assert_int_eq(ostor_task_status(t), OSTOR_SCSI_STATUS_CHECK_CONDITION);
	sense = ostor_task_sense(t, &slen);
	ck_assert_ptr_nonnull(sense);
	ck_assert_uint_ge(slen, 14);
	ck_assert_uint_eq(sense[2] & 0x0f, 0x05);
	ck_assert_uint_eq(sense[12], 0x21);
	ck_assert_uint_eq(ostor_task_transferred(t), 0);
	ostor_task_free(t);
	/* an unknown opcode */
	{
		uint8_t odd[6] = { 0xc7 };

		t = run(0, odd, 6, OSTOR_DIR_NONE, NULL, 0);
		ck_assert_int_eq(ostor_task_result(t), OSTOR_RESULT_CHECK_CONDITION);
		sense = ostor_task_sense(t, &slen);
		ck_assert_uint_eq(sense[2] & 0x0f, 0x05);
		ostor_task_free(t);
	}
	ck_assert_uint_eq(estats(m).uas_aborts, 0);
	check_io_works(0, 0, 4);
}
END_TEST

/* A command that ends as its abort comes leaves its Sense IU queued on
 * its tag (QEMU's usb-uas): the tag is quarantined until a status read
 * of its own finds nothing, so the next command on it does not take that
 * IU for its own.  One tag (streams=2: one for commands, one for task
 * management; or no streams), aborted by the application or after a
 * timeout. */
START_TEST(uas_stale_status_after_abort)
{
	static const char *const specs[] = {
		UAS0 ",usb-timeout=5000,streams=2", UAS0 ",usb-timeout=5000,streams=0",
		UAS0 ",usb-timeout=300,streams=2", UAS0 ",usb-timeout=300,streams=0",
	};
	bool by_timeout = _i >= 2;
	struct sim_usb *m = open_dev(specs[_i]);
	struct done_rec rec = { 0 };
	uint8_t buf[4096], cdb[10];
	const uint8_t *sense;
	size_t slen;
	ostor_task *t;

	check_io_works(0, 64, 13);
	ck_assert_int_eq(sim_usb_arm_fault(m, SIM_USB_UAS_LATE_STATUS, 1, 0), 0);
	if (by_timeout) {
		ck_assert_int_eq(rw(0x28, 0, 8, buf, sizeof(buf), NULL), OSTOR_RESULT_TIMEOUT);
	} else {
		uint64_t want = mstats(m).uas_command_ius + 1;

		t = submit_rw(0x28, 0, 8, buf, sizeof(buf), &rec);
		for (uint64_t end = ostori_now_ms() + 2000; mstats(m).uas_command_ius < want && ostori_now_ms() < end;)
			ostor_handle_events(ctx, 5);
		ck_assert_int_eq(ostor_task_abort(t), OSTOR_TMF_DONE);
		ck_assert_int_eq(ostor_task_result(t), OSTOR_RESULT_ABORTED);
		ostor_task_free(t);
	}
	ck_assert_uint_eq(estats(m).uas_aborts, 1);
	ck_assert_uint_eq(estats(m).uas_lun_resets, 0);
	/* The tag's next command fails: its own CHECK CONDITION, not the
	 * GOOD the aborted one left. */
	cdb_rw10(cdb, 0x28, 9000, 8);
	t = run(0, cdb, 10, OSTOR_DIR_FROM_DEVICE, buf, sizeof(buf));
	ck_assert_int_eq(ostor_task_result(t), OSTOR_RESULT_CHECK_CONDITION);
	sense = ostor_task_sense(t, &slen);
	ck_assert_ptr_nonnull(sense);
	ck_assert_uint_eq(sense[2] & 0x0f, 0x05);
	ostor_task_free(t);
	/* With streams the sweep of the tag drops it; without, the abort's
	 * own status read finds it first (one pipe) and drops it. */
	ck_assert_uint_eq(estats(m).uas_stale_ius, _i % 2 ? 0 : 1);
	ck_assert_uint_eq(estats(m).uas_bad_tags, _i % 2 ? 1 : 0);
	ck_assert_uint_eq(estats(m).port_resets, 0);
	check_io_works(0, 16, 14);
	if (by_timeout) {
		/* A command aborted while the device still held it
		 * (uas-no-status) leaves nothing: the sweep finds the tag
		 * clean. */
		ck_assert_int_eq(sim_usb_arm_fault(m, SIM_USB_UAS_NO_STATUS, 1, 0), 0);
		ck_assert_int_eq(rw(0x28, 0, 8, buf, sizeof(buf), NULL), OSTOR_RESULT_TIMEOUT);
		check_io_works(0, 16, 15);
		ck_assert_uint_eq(estats(m).uas_aborts, 2);
		ck_assert_uint_eq(estats(m).uas_stale_ius, _i % 2 ? 0 : 1);
	}
}
END_TEST

/* QEMU's usb-uas hands IUs to status reads already waiting in queue
 * order only, so the Sense IU of a command that ended as it was aborted,
 * on a stream nobody reads, would hold back the abort's Response IU and
 * every IU behind it: the aborted tag is read before the ABORT TASK goes
 * out, and the Response's read only after the device has the IU.  The
 * abort is done at its level (no LUN or port reset) and the other tags'
 * commands go on. */
START_TEST(uas_abort_with_in_order_delivery)
{
	struct sim_usb *m = open_dev(UAS0 ",usb-timeout=5000");
	struct done_rec rec = { 0 };
	uint8_t buf[4096];
	ostor_task *t;
	uint64_t want;

	check_io_works(0, 64, 16);
	ck_assert_int_eq(sim_usb_arm_fault(m, SIM_USB_UAS_IN_ORDER, 0, 0), 0);
	ck_assert_int_eq(sim_usb_arm_fault(m, SIM_USB_UAS_LATE_STATUS, 1, 0), 0);
	want = mstats(m).uas_command_ius + 1;
	t = submit_rw(0x28, 0, 8, buf, sizeof(buf), &rec);
	for (uint64_t end = ostori_now_ms() + 2000; mstats(m).uas_command_ius < want && ostori_now_ms() < end;)
		ostor_handle_events(ctx, 5);
	ck_assert_int_eq(ostor_task_abort(t), OSTOR_TMF_DONE);
	ck_assert_int_eq(ostor_task_result(t), OSTOR_RESULT_ABORTED);
	ostor_task_free(t);
	ck_assert_uint_eq(estats(m).uas_aborts, 1);
	ck_assert_uint_eq(estats(m).uas_tmf_failed, 0);
	ck_assert_uint_eq(estats(m).uas_lun_resets, 0);
	ck_assert_uint_eq(estats(m).port_resets, 0);
	ck_assert_uint_eq(estats(m).uas_stale_ius, 1);
	for (int i = 0; i < 4; i++)
		check_io_works(0, 16 + 8 * (uint64_t)i, 17 + (uint32_t)i);
	ck_assert_uint_eq(estats(m).timeouts, 0);
}
END_TEST

/* ---- queued commands ------------------------------------------------------------ */

START_TEST(uas_commands_in_flight_at_once)
{
	enum { N = 24 };
	struct sim_usb *m = open_dev(UAS0 ",usb-timeout=5000,streams=32");
	uint8_t *bufs = malloc(N * 4096), ref[4096];
	struct done_rec rec = { 0 };
	ostor_task *t[N];

	for (int i = 0; i < 8; i++) {
		fill(ref, sizeof(ref), (unsigned int)(40 + i));
		ck_assert_int_eq(ostor_write_blocks(dev, 0, 0, (uint64_t)i * 8, 8, ref), 0);
	}
	/* The device takes every Command IU and sits on them: all N are on
	 * the device together, each on its own stream. */
	sim_usb_hold(m, true);
	for (int i = 0; i < N; i++)
		t[i] = submit_rw(0x28, (uint32_t)(i % 8) * 8, 8, bufs + i * 4096, 4096, &rec);
	for (uint64_t end = ostori_now_ms() + 60000; mstats(m).uas_outstanding_max < N && ostori_now_ms() < end;)
		ostor_handle_events(ctx, 5);
	ck_assert_uint_eq(mstats(m).uas_outstanding_max, N);
	ck_assert_uint_ge(estats(m).uas_inflight_max, N);
	ck_assert_int_eq(rec.calls, 0);
	sim_usb_hold(m, false);
	wait_calls(&rec, N, 60000);
	for (int i = 0; i < N; i++) {
		fill(ref, sizeof(ref), (unsigned int)(40 + i % 8));
		ck_assert_int_eq(ostor_task_result(t[i]), OSTOR_RESULT_GOOD);
		ck_assert_int_eq(memcmp(bufs + i * 4096, ref, 4096), 0);
		ostor_task_free(t[i]);
	}
	free(bufs);
}
END_TEST

/* More than the tags: the engine and the core keep the rest waiting; the
 * queue depth is the streams less the task-management tag. */
START_TEST(uas_more_than_the_tags)
{
	enum { N = 100 };
	/* A transfer timeout long enough for a loaded machine (a TSan build
	 * beside other builds once took more than the usual 200 ms to get
	 * to the last of the 100): the point here is the queueing. */
	static const char *const specs[] = { UAS0 ",usb-timeout=5000,streams=8", UAS0 ",usb-timeout=5000,streams=0" };
	struct sim_usb *m = open_dev(specs[_i]);
	uint8_t *bufs = malloc(N * 4096), ref[4096];
	struct done_rec rec = { 0 };
	ostor_task *t[N];

	fill(ref, sizeof(ref), 77);
	ck_assert_int_eq(ostor_write_blocks(dev, 0, 0, 0, 8, ref), 0);
	for (int i = 0; i < N; i++)
		t[i] = submit_rw(0x28, 0, 8, bufs + i * 4096, 4096, &rec);
	wait_calls(&rec, N, 60000);
	for (int i = 0; i < N; i++) {
		ck_assert_int_eq(ostor_task_result(t[i]), OSTOR_RESULT_GOOD);
		ck_assert_int_eq(memcmp(bufs + i * 4096, ref, 4096), 0);
		ostor_task_free(t[i]);
	}
	ck_assert_uint_le(estats(m).uas_inflight_max, _i ? 1 : 7);
	ck_assert_uint_le(mstats(m).uas_outstanding_max, _i ? 1 : 7);
	free(bufs);
}
END_TEST

/* ---- task management -------------------------------------------------------------- */

START_TEST(uas_abort_task)
{
	static const char *const specs[] = { UAS0 ",usb-timeout=5000", UAS0 ",usb-timeout=5000,streams=0" };
	struct sim_usb *m;
	struct done_rec rec = { 0 }, rec2 = { 0 };
	uint8_t buf[4096], buf2[4096];
	ostor_task *t, *u = NULL;

	m = open_dev(specs[_i]);
	check_io_works(0, 64, 9);
	ck_assert_int_eq(sim_usb_arm_fault(m, SIM_USB_UAS_NO_STATUS, 1, 0), 0);
	t = submit_rw(0x28, 0, 8, buf, sizeof(buf), &rec);   /* never ends on its own */
	if (!_i)
		u = submit_rw(0x28, 8, 8, buf2, sizeof(buf2), &rec2);   /* a neighbour on another tag */
	{
		uint64_t want = mstats(m).uas_command_ius + (_i ? 1u : 2u);

		for (uint64_t end = ostori_now_ms() + 2000; mstats(m).uas_command_ius < want && ostori_now_ms() < end;)
			ostor_handle_events(ctx, 5);
	}
	ck_assert_int_eq(ostor_task_abort(t), OSTOR_TMF_DONE);
	ck_assert_int_eq(ostor_task_result(t), OSTOR_RESULT_ABORTED);
	ck_assert_uint_eq(ostor_task_transferred(t), 0);
	ck_assert_uint_eq(estats(m).uas_aborts, 1);
	ck_assert_uint_eq(mstats(m).uas_aborts, 1);
	ck_assert_uint_eq(estats(m).uas_lun_resets, 0);
	if (u) {
		wait_calls(&rec2, 1, 2000);
		ck_assert_int_eq(ostor_task_result(u), OSTOR_RESULT_GOOD);
		ostor_task_free(u);
	}
	ostor_task_free(t);
	check_io_works(0, 16, 10);
}
END_TEST

/* A command that never answers times out: ABORT TASK; unanswered too,
 * LOGICAL UNIT RESET; refused too, a port reset. */
START_TEST(uas_timeout_escalates)
{
	static const char *const specs[] = { UAS, UAS, UAS_HS };
	struct sim_usb *m = open_dev(specs[_i]);
	uint8_t buf[4096];
	size_t got = 99;

	check_io_works(0, 64, 11);
	ck_assert_int_eq(sim_usb_arm_fault(m, SIM_USB_UAS_NO_STATUS, 1, 0), 0);
	if (_i >= 1)
		ck_assert_int_eq(sim_usb_arm_fault(m, SIM_USB_UAS_TMF_IGNORED, 1, 0), 0);
	if (_i >= 2)
		ck_assert_int_eq(sim_usb_arm_fault(m, SIM_USB_UAS_TMF_FAILED, 1, 0), 0);
	ck_assert_int_eq(rw(0x28, 0, 8, buf, sizeof(buf), &got), OSTOR_RESULT_TIMEOUT);
	ck_assert_uint_eq(got, 0);
	ck_assert_uint_eq(estats(m).timeouts, 1);
	ck_assert_uint_eq(estats(m).uas_aborts, 1);
	ck_assert_uint_eq(estats(m).uas_lun_resets, _i >= 1 ? 1 : 0);
	ck_assert_uint_eq(estats(m).port_resets, _i == 2 ? 1 : 0);
	ck_assert_uint_eq(mstats(m).port_resets, _i == 2 ? 1 : 0);
	ck_assert_uint_eq(estats(m).uas_tmf_failed, (uint64_t)_i);
	check_io_works(0, 16, 12);
}
END_TEST

START_TEST(uas_lun_reset_and_more)
{
	enum { N = 6 };
	struct sim_usb *m = open_dev(UAS0 ",usb-timeout=5000,luns=2");
	uint8_t *bufs = calloc(N, 4096);
	struct done_rec rec = { 0 };
	ostor_task *t[N];
	int aborted = 0, good = 0;

	/* Writes held on LUN 0 and LUN 1; the LUN reset ends LUN 0's only. */
	sim_usb_hold(m, true);
	for (int i = 0; i < N; i++) {
		uint8_t cdb[10];

		cdb_rw10(cdb, 0x2a, (uint32_t)i * 8, 8);
		ck_assert_int_eq(ostor_task_new(dev, &t[i]), 0);
		ck_assert_int_eq(ostor_task_set_lun(t[i], 0, (uint32_t)(i & 1)), 0);
		ck_assert_int_eq(ostor_task_set_cdb(t[i], cdb, 10), 0);
		ck_assert_int_eq(ostor_task_set_buffer(t[i], OSTOR_DIR_TO_DEVICE, bufs + i * 4096, 4096), 0);
		ck_assert_int_eq(ostor_task_submit(t[i], (struct ostor_completion){ on_done, &rec, NULL }), 0);
	}
	for (uint64_t end = ostori_now_ms() + 3000; mstats(m).uas_outstanding_max < N && ostori_now_ms() < end;)
		ostor_handle_events(ctx, 5);
	ck_assert_uint_eq(mstats(m).uas_outstanding_max, N);
	sim_usb_hold(m, false);
	/* (the released device may finish some first: that is fine) */
	ck_assert_int_eq(ostor_reset(dev, OSTOR_RESET_LUN, 0, 0), OSTOR_TMF_DONE);
	wait_calls(&rec, N, 5000);
	for (int i = 0; i < N; i++) {
		enum ostor_result r = ostor_task_result(t[i]);

		ck_assert(r == OSTOR_RESULT_GOOD || r == OSTOR_RESULT_ABORTED);
		if (i & 1)
			ck_assert_int_eq(r, OSTOR_RESULT_GOOD);
		if (r == OSTOR_RESULT_ABORTED)
			ck_assert_uint_eq(ostor_task_transferred(t[i]), 0);
		aborted += r == OSTOR_RESULT_ABORTED;
		good += r == OSTOR_RESULT_GOOD;
		ostor_task_free(t[i]);
	}
	ck_assert_int_eq(aborted + good, N);
	ck_assert_uint_eq(mstats(m).uas_lun_resets, 1);
	/* target level: I_T NEXUS RESET; refused (as QEMU does), a port reset */
	ck_assert_int_eq(ostor_reset(dev, OSTOR_RESET_TARGET, 0, 0), OSTOR_TMF_DONE);
	ck_assert_uint_eq(mstats(m).uas_nexus_resets, 1);
	ck_assert_int_eq(sim_usb_arm_fault(m, SIM_USB_UAS_TMF_UNSUPPORTED, 1, 0), 0);
	ck_assert_int_eq(ostor_reset(dev, OSTOR_RESET_TARGET, 0, 0), OSTOR_TMF_ESCALATED);
	ck_assert_uint_eq(mstats(m).port_resets, 1);
	ck_assert_int_eq(ostor_reset(dev, OSTOR_RESET_DEVICE, 0, 0), OSTOR_TMF_DONE);
	ck_assert_uint_eq(mstats(m).port_resets, 2);
	check_io_works(0, 0, 13);
	check_io_works(1, 0, 14);
	free(bufs);
}
END_TEST

START_TEST(uas_port_reset_fails_dead)
{
	struct sim_usb *m = open_dev(UAS);
	uint8_t buf[4096];

	check_io_works(0, 64, 15);
	ck_assert_int_eq(sim_usb_arm_fault(m, SIM_USB_UAS_NO_STATUS, 1, 0), 0);
	ck_assert_int_eq(sim_usb_arm_fault(m, SIM_USB_UAS_TMF_FAILED, 2, 0), 0);
	ck_assert_int_eq(sim_usb_arm_fault(m, SIM_USB_PORT_RESET_FAIL, 1, 0), 0);
	/* the device is dead: what was on it is gone */
	ck_assert_int_eq(rw(0x28, 0, 8, buf, sizeof(buf), NULL), OSTOR_RESULT_DEVICE_GONE);
	ck_assert_uint_eq(mstats(m).port_resets, 1);
	ck_assert_int_lt(ostor_read_blocks(dev, 0, 0, 0, 1, buf), 0);
	/* an explicit reset is a fresh attempt */
	ck_assert_int_eq(ostor_reset(dev, OSTOR_RESET_DEVICE, 0, 0), OSTOR_TMF_DONE);
	check_io_works(0, 0, 16);
}
END_TEST

/* A port reset the transfer layer refuses to queue: the device is dead,
 * and the command queued behind the one that broke ends too (it waited
 * forever: found by fuzz_usb_engine). */
START_TEST(uas_port_reset_refused_dead)
{
	struct sim_usb *m = open_dev(UAS_HS);
	uint8_t a[4096], b[4096];
	struct done_rec rec = { 0 };
	ostor_task *t1, *t2;

	check_io_works(0, 64, 17);
	ck_assert_int_eq(sim_usb_arm_fault(m, SIM_USB_UAS_NO_STATUS, 1, 0), 0);
	ck_assert_int_eq(sim_usb_arm_fault(m, SIM_USB_UAS_TMF_FAILED, 2, 0), 0);
	ck_assert_int_eq(sim_usb_arm_fault(m, SIM_USB_PORT_RESET_REFUSED, 1, 0), 0);
	/* no streams: one command at a time, the second waits in the engine */
	t1 = submit_rw(0x28, 0, 8, a, sizeof(a), &rec);
	t2 = submit_rw(0x28, 8, 8, b, sizeof(b), &rec);
	wait_calls(&rec, 2, 5000);
	ck_assert_int_ne(ostor_task_result(t1), OSTOR_RESULT_GOOD);
	ck_assert_int_eq(ostor_task_result(t2), OSTOR_RESULT_DEVICE_GONE);
	ck_assert_uint_eq(ostor_task_transferred(t1), 0);
	ck_assert_uint_eq(ostor_task_transferred(t2), 0);
	ck_assert_uint_eq(mstats(m).port_resets, 0);
	ck_assert(ousb_engine_is_dead(sim_usb_engine(m)));
	ostor_task_free(t1);
	ostor_task_free(t2);
	/* an explicit reset is a fresh attempt */
	ck_assert_int_eq(ostor_reset(dev, OSTOR_RESET_DEVICE, 0, 0), OSTOR_TMF_DONE);
	check_io_works(0, 0, 18);
}
END_TEST

/* ---- hostile IUs ------------------------------------------------------------------ */

START_TEST(uas_hostile_ius)
{
	static const struct {
		const char *fault;
		enum ostor_result res;
	} cases[] = {
		{ "uas-bad-iu-id", OSTOR_RESULT_TRANSPORT_ERROR },
		{ "uas-short-iu", OSTOR_RESULT_TRANSPORT_ERROR },
		{ "uas-reject", OSTOR_RESULT_TRANSPORT_ERROR },
	};
	struct sim_usb *m;
	uint8_t buf[4096], ref[4096];
	size_t got = 99;
	int k = _i % 3;
	char spec[160];

	snprintf(spec, sizeof(spec), "%s", _i < 3 ? UAS : UAS_HS);
	m = open_dev(spec);
	check_io_works(0, 0, 20);
	fill(ref, sizeof(ref), 20);
	ck_assert_int_eq(sim_usb_arm_fault(m, (enum sim_usb_fault)sim_usb_fault_by_name(cases[k].fault), 1, 0), 0);
	memset(buf, 0, sizeof(buf));
	ck_assert_int_eq(rw(0x28, 0, 8, buf, sizeof(buf), &got), cases[k].res);
	ck_assert_uint_eq(got, 0);
	if (k == 2) {
		ck_assert_uint_eq(estats(m).uas_rejected, 1);
		ck_assert_uint_eq(estats(m).uas_aborts, 0);   /* the device holds nothing */
	} else {
		ck_assert_uint_eq(estats(m).uas_bad_ius, 1);
		ck_assert_uint_eq(estats(m).uas_aborts, 1);
	}
	/* a write never reported done unless the device said so */
	ck_assert_int_eq(sim_usb_arm_fault(m, (enum sim_usb_fault)sim_usb_fault_by_name(cases[k].fault), 1, 0), 0);
	got = 99;
	ck_assert_int_eq(rw(0x2a, 32, 8, ref, sizeof(ref), &got), cases[k].res);
	ck_assert_uint_eq(got, 0);
	check_io_works(0, 16, 21);
}
END_TEST

START_TEST(uas_unknown_tag_dropped)
{
	struct sim_usb *m = open_dev(modes[_i]);
	uint8_t buf[4096], ref[4096];
	size_t got = 0;

	fill(ref, sizeof(ref), 5);
	ck_assert_int_eq(ostor_write_blocks(dev, 0, 0, 0, 8, ref), 0);
	ck_assert_int_eq(sim_usb_arm_fault(m, SIM_USB_UAS_UNKNOWN_TAG, 1, 0), 0);
	ck_assert_int_eq(rw(0x28, 0, 8, buf, sizeof(buf), &got), OSTOR_RESULT_GOOD);
	ck_assert_uint_eq(got, sizeof(buf));
	ck_assert_mem_eq(buf, ref, sizeof(buf));
	ck_assert_uint_eq(estats(m).uas_bad_tags, 1);
	ck_assert_uint_eq(estats(m).uas_aborts, 0);
	/* every status IU for a stranger: given up after a few */
	ck_assert_int_eq(sim_usb_arm_fault(m, SIM_USB_UAS_UNKNOWN_TAG, 0, 0), 0);
	ck_assert_int_eq(sim_usb_arm_fault(m, SIM_USB_UAS_NO_STATUS, 0, 0), 0);
	ck_assert_int_eq(rw(0x28, 0, 8, buf, sizeof(buf), &got), OSTOR_RESULT_TIMEOUT);
	sim_usb_clear_faults(m);
	check_io_works(0, 8, 6);
}
END_TEST

START_TEST(uas_oversize_sense_clamped)
{
	struct sim_usb *m = open_dev(modes[_i]);
	uint8_t buf[4096];
	const uint8_t *sense;
	size_t slen;
	uint8_t cdb[10];
	ostor_task *t;

	ck_assert_int_eq(sim_usb_arm_fault(m, SIM_USB_UAS_SENSE_OVERFLOW, 1, 0), 0);
	cdb_rw10(cdb, 0x28, 0, 8);
	t = run(0, cdb, 10, OSTOR_DIR_FROM_DEVICE, buf, sizeof(buf));
	ck_assert_int_eq(ostor_task_result(t), OSTOR_RESULT_CHECK_CONDITION);
	sense = ostor_task_sense(t, &slen);
	ck_assert_ptr_nonnull(sense);
	ck_assert_uint_eq(slen, 18);   /* what the IU carried, not the 250 it claimed */
	ck_assert_uint_eq(estats(m).uas_sense_clamped, 1);
	ostor_task_free(t);
	check_io_works(0, 0, 7);
}
END_TEST

START_TEST(uas_overrun_and_data_stall)
{
	struct sim_usb *m = open_dev(modes[_i]);
	uint8_t buf[4096 + 512], ref[4096];
	size_t got = 0;

	fill(ref, sizeof(ref), 8);
	ck_assert_int_eq(ostor_write_blocks(dev, 0, 0, 0, 8, ref), 0);
	/* the device sends 512 bytes more than the command asked for */
	ck_assert_int_eq(sim_usb_arm_fault(m, SIM_USB_UAS_OVERRUN, 1, 0), 0);
	memset(buf, 0xcc, sizeof(buf));
	ck_assert_int_eq(rw(0x28, 0, 8, buf, 4096, &got), OSTOR_RESULT_OVERRUN);
	ck_assert_uint_le(got, 4096);
	for (size_t i = 4096; i < sizeof(buf); i++)
		ck_assert_uint_eq(buf[i], 0xcc);
	ck_assert_uint_eq(estats(m).uas_overruns, 1);
	ck_assert_uint_ge(mstats(m).clear_halt_in, 1);
	/* a stalled data pipe, then the device's sense: cleared, reported */
	ck_assert_int_eq(sim_usb_arm_fault(m, SIM_USB_UAS_DATA_STALL, 1, 0), 0);
	ck_assert_int_eq(rw(0x28, 0, 8, buf, 4096, &got), OSTOR_RESULT_CHECK_CONDITION);
	ck_assert_int_eq(sim_usb_arm_fault(m, SIM_USB_UAS_DATA_STALL, 1, 0), 0);
	ck_assert_int_eq(rw(0x2a, 0, 8, ref, 4096, &got), OSTOR_RESULT_CHECK_CONDITION);
	ck_assert_uint_ge(mstats(m).clear_halt_out, 1);
	check_io_works(0, 0, 9);
}
END_TEST

/* ---- unplug, cancel, spec --------------------------------------------------------- */

START_TEST(uas_unplug_mid_write)
{
	enum { N = 8 };
	struct sim_usb *m = open_dev(modes[_i]);
	uint8_t *bufs = malloc(N * 4096);
	struct done_rec rec = { 0 };
	ostor_task *t[N];

	fill(bufs, N * 4096, 20);
	sim_usb_hold(m, true);
	for (int i = 0; i < N; i++)
		t[i] = submit_rw(0x2a, (uint32_t)i * 8, 8, bufs + i * 4096, 4096, &rec);
	ostor_handle_events_nonblock(ctx);
	ck_assert_int_eq(rec.calls, 0);
	sim_usb_unplug(m);
	wait_calls(&rec, N, 3000);
	for (int i = 0; i < N; i++) {
		ck_assert_int_eq(ostor_task_result(t[i]), OSTOR_RESULT_DEVICE_GONE);
		ck_assert_uint_eq(ostor_task_transferred(t[i]), 0);
		ostor_task_free(t[i]);
	}
	ck_assert_uint_eq(mstats(m).medium_writes, 0);
	ck_assert_int_lt(ostor_write_blocks(dev, 0, 0, 0, 1, bufs), 0);
	free(bufs);
}
END_TEST

START_TEST(uas_cancel_waiting_and_spec)
{
	struct sim_usb *m = open_dev(UAS_HS);
	struct done_rec rec = { 0 };
	uint8_t b1[4096], b2[4096];
	ostor_task *t1, *t2;
	ostor_device *other;

	sim_usb_hold(m, true);
	t1 = submit_rw(0x28, 0, 8, b1, sizeof(b1), &rec);
	t2 = submit_rw(0x28, 8, 8, b2, sizeof(b2), &rec);   /* waits: one command at a time */
	ostor_handle_events_nonblock(ctx);
	ck_assert_int_eq(ostor_task_cancel(t2), 0);
	sim_usb_hold(m, false);
	wait_calls(&rec, 2, 3000);
	ck_assert_int_eq(ostor_task_result(t1), OSTOR_RESULT_GOOD);
	ck_assert_int_eq(ostor_task_result(t2), OSTOR_RESULT_ABORTED);
	ck_assert_uint_eq(estats(m).uas_aborts, 0);
	ostor_task_free(t1);
	ostor_task_free(t2);
	ck_assert_int_eq(ostor_open(ctx, UAS ",streams=1", &other), OSTOR_ERROR_BAD_SPEC);
	ck_assert_int_eq(ostor_open(ctx, "sim:transport=usb-bot,streams=4", &other), OSTOR_ERROR_BAD_SPEC);
	ck_assert_int_eq(ostor_open(ctx, UAS ",fault=uas-nonsense", &other), OSTOR_ERROR_BAD_SPEC);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("usb-uas");
	TCase *tc = tcase_create("uas");
	SRunner *sr;
	int failed;

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 60);
	tcase_add_loop_test(tc, uas_identity_and_capacity, 0, 2);
	tcase_add_loop_test(tc, uas_data_round_trip, 0, 2);
	tcase_add_loop_test(tc, uas_multi_lun, 0, 2);
	tcase_add_loop_test(tc, uas_sense, 0, 2);
	tcase_add_test(tc, uas_commands_in_flight_at_once);
	tcase_add_loop_test(tc, uas_more_than_the_tags, 0, 2);
	tcase_add_loop_test(tc, uas_abort_task, 0, 2);
	tcase_add_loop_test(tc, uas_timeout_escalates, 0, 3);
	tcase_add_loop_test(tc, uas_stale_status_after_abort, 0, 4);
	tcase_add_test(tc, uas_abort_with_in_order_delivery);
	tcase_add_test(tc, uas_lun_reset_and_more);
	tcase_add_test(tc, uas_port_reset_fails_dead);
	tcase_add_test(tc, uas_port_reset_refused_dead);
	tcase_add_loop_test(tc, uas_hostile_ius, 0, 6);
	tcase_add_loop_test(tc, uas_unknown_tag_dropped, 0, 2);
	tcase_add_loop_test(tc, uas_oversize_sense_clamped, 0, 2);
	tcase_add_loop_test(tc, uas_overrun_and_data_stall, 0, 2);
	tcase_add_loop_test(tc, uas_unplug_mid_write, 0, 2);
	tcase_add_test(tc, uas_cancel_waiting_and_spec);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? 1 : 0;
}
