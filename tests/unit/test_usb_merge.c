/*
 * tests/unit/test_usb_merge.c - adjacent READs and WRITEs queued for one
 * LUN sent as one Bulk-Only command (lib/usb/merge.c), against the
 * simulated BOT device: what merges and what does not, the data of every
 * member, and every way a merged command can end other than whole (CHECK
 * CONDITION on one member's blocks, a unit attention, a data phase that
 * stalls, a CSW that never comes, a member cancelled, the device
 * unplugged) - each member still gets its own result, and no write is
 * acknowledged that a CSW did not cover.
 */
#include "usb_test_util.h"
#include "sim/backend.h"
#include "sim/target.h"

#define BOT0 "sim:transport=usb-bot,size=4M"
#define BOT BOT0 ",usb-timeout=100"

enum { N = 16, BLK = 8, LEN = BLK * 512 };

struct done_rec {
	int calls;
};

static void on_done(ostor_task *t, void *ud)
{
	(void)t;
	((struct done_rec *)ud)->calls++;
}

/* The LUN discovered (merging waits for its block size and limit). */
static void discover(void)
{
	struct ostor_lun_info info = OSTOR_LUN_INFO_INIT;

	ck_assert_int_eq(ostor_lun_info(dev, 0, 0, &info), 0);
}

/* n 4 KiB commands of opcode op queued at once, task i at block lbas[i]
 * with buffer bufs + i * LEN (byte 1 of the CDB: flags). */
static void queue_rw(ostor_task **t, int n, uint8_t op, const uint32_t *lbas, uint8_t flags, uint8_t *bufs,
		     struct done_rec *rec)
{
	uint8_t cdb[10];

	for (int i = 0; i < n; i++) {
		cdb_rw10(cdb, op, lbas[i], BLK);
		cdb[1] = flags;
		ck_assert_int_eq(ostor_task_new(dev, &t[i]), 0);
		ck_assert_int_eq(ostor_task_set_cdb(t[i], cdb, 10), 0);
		ck_assert_int_eq(ostor_task_set_buffer(t[i], op == 0x28 ? OSTOR_DIR_FROM_DEVICE : OSTOR_DIR_TO_DEVICE,
						       bufs + (size_t)i * LEN, LEN), 0);
		ck_assert_int_eq(ostor_task_submit(t[i], (struct ostor_completion){ on_done, rec, NULL }), 0);
	}
}

static void adjacent(uint32_t *lbas, int n, uint32_t base)
{
	for (int i = 0; i < n; i++)
		lbas[i] = base + (uint32_t)i * BLK;
}

static void wait_calls(struct done_rec *rec, int n, unsigned int ms)
{
	uint64_t deadline = ostori_now_ms() + ms;

	while (rec->calls < n && ostori_now_ms() < deadline)
		ostor_handle_events(ctx, 20);
	ck_assert_int_eq(rec->calls, n);
}

/* Run events until the engine put a merged command on the wire. */
static void wait_merged(struct sim_usb *m, uint64_t count)
{
	uint64_t deadline = ostori_now_ms() + 5000;

	while (estats(m).merged_commands < count && ostori_now_ms() < deadline)
		ostor_handle_events(ctx, 5);
	ck_assert_uint_ge(estats(m).merged_commands, count);
}

static void free_all(ostor_task **t, int n)
{
	for (int i = 0; i < n; i++)
		ostor_task_free(t[i]);
}

/* N adjacent blocks written with seed, through the block helpers. */
static void write_ref(uint8_t *ref, uint32_t seed)
{
	fill(ref, (size_t)N * LEN, seed);
	ck_assert_int_eq(ostor_write_blocks(dev, 0, 0, 0, (uint32_t)N * BLK, ref), 0);
}

/* Every one of the n tasks ended GOOD. */
static void assert_all_good(ostor_task **t, int n)
{
	for (int i = 0; i < n; i++)
		ck_assert_msg(ostor_task_result(t[i]) == OSTOR_RESULT_GOOD, "task %d: %s", i,
			      ostor_result_name(ostor_task_result(t[i])));
}

/* The medium's first N tasks' worth of blocks hold data (read alone). */
static void assert_medium_holds(const uint8_t *data)
{
	static uint8_t back[N * LEN];

	memset(back, 0, sizeof(back));
	ck_assert_int_eq(ostor_read_blocks(dev, 0, 0, 0, (uint32_t)N * BLK, back), 0);
	ck_assert_mem_eq(back, data, sizeof(back));
}

static const struct ostori_setting *merging_setting(struct sim_usb *m, struct ostori_setting *set, int max)
{
	return engine_setting(m, "merging", set, max);
}

/* ---- what merges ----------------------------------------------------------- */

/* Sixteen adjacent reads queued at once: the first goes alone (the wire
 * was free), the other fifteen as one command; every buffer gets its own
 * blocks. */
START_TEST(merge_adjacent_reads)
{
	struct sim_usb *m = open_dev(BOT);
	static uint8_t ref[N * LEN], got[N * LEN];
	struct ostori_setting set[48];
	ostor_task *t[N];
	uint32_t lbas[N];
	struct done_rec rec = { 0 };
	uint64_t cbws;

	write_ref(ref, 3);
	ck_assert_ptr_nonnull(strstr(merging_setting(m, set, 48)->value, "up to"));
	cbws = mstats(m).cbws;
	adjacent(lbas, N, 0);
	memset(got, 0, sizeof(got));
	queue_rw(t, N, 0x28, lbas, 0, got, &rec);
	wait_calls(&rec, N, 5000);
	for (int i = 0; i < N; i++) {
		ck_assert_int_eq(ostor_task_result(t[i]), OSTOR_RESULT_GOOD);
		ck_assert_uint_eq(ostor_task_transferred(t[i]), LEN);
	}
	ck_assert_mem_eq(got, ref, sizeof(got));
	ck_assert_uint_eq(mstats(m).cbws - cbws, 2);
	ck_assert_uint_eq(estats(m).merged_commands, 1);
	ck_assert_uint_eq(estats(m).merged_tasks, N - 1);
	ck_assert_uint_eq(estats(m).merge_replays, 0);
	ck_assert_uint_eq(estats(m).reset_recoveries, 0);
	free_all(t, N);
	/* Alone: as before. */
	ck_assert_int_eq(rw(0x28, 0, BLK, got, LEN, NULL), OSTOR_RESULT_GOOD);
	ck_assert_uint_eq(estats(m).merged_commands, 1);
}
END_TEST

/* The same for writes: what lands on the medium is each task's data. */
START_TEST(merge_adjacent_writes)
{
	struct sim_usb *m = open_dev(BOT);
	static uint8_t data[N * LEN], back[N * LEN];
	ostor_task *t[N];
	uint32_t lbas[N];
	struct done_rec rec = { 0 };

	write_ref(back, 4);
	adjacent(lbas, N, 0);
	fill(data, sizeof(data), 5);
	queue_rw(t, N, 0x2a, lbas, 0, data, &rec);
	wait_calls(&rec, N, 5000);
	for (int i = 0; i < N; i++) {
		ck_assert_int_eq(ostor_task_result(t[i]), OSTOR_RESULT_GOOD);
		ck_assert_uint_eq(ostor_task_transferred(t[i]), LEN);
	}
	ck_assert_uint_eq(estats(m).merged_commands, 1);
	ck_assert_uint_eq(estats(m).merged_tasks, N - 1);
	assert_medium_holds(data);
	free_all(t, N);
}
END_TEST

/* Only what continues the command merges: after the first (alone), 8
 * stands alone (24 does not follow it), 24 and 32 go together; 40 has
 * FUA and 48 goes the other way (a write), so neither joins. */
START_TEST(merge_only_what_continues)
{
	struct sim_usb *m = open_dev(BOT);
	static uint8_t ref[N * LEN], got[N * LEN];
	ostor_task *t[7];
	uint32_t lbas[] = { 0, 8, 24, 32, 40 };
	struct done_rec rec = { 0 };
	uint8_t cdb[10];

	write_ref(ref, 6);
	memset(got, 0, sizeof(got));
	queue_rw(t, 4, 0x28, lbas, 0, got, &rec);
	queue_rw(t + 4, 1, 0x28, lbas + 4, 0x08, got + 4 * LEN, &rec);
	cdb_rw10(cdb, 0x2a, 48, BLK);
	ck_assert_int_eq(ostor_task_new(dev, &t[5]), 0);
	ck_assert_int_eq(ostor_task_set_cdb(t[5], cdb, 10), 0);
	ck_assert_int_eq(ostor_task_set_buffer(t[5], OSTOR_DIR_TO_DEVICE, ref + 6 * LEN, LEN), 0);
	ck_assert_int_eq(ostor_task_submit(t[5], (struct ostor_completion){ on_done, &rec, NULL }), 0);
	wait_calls(&rec, 6, 5000);
	for (int i = 0; i < 6; i++)
		ck_assert_int_eq(ostor_task_result(t[i]), OSTOR_RESULT_GOOD);
	for (int i = 0; i < 5; i++)
		ck_assert_mem_eq(got + i * LEN, ref + lbas[i] * 512, LEN);
	ck_assert_uint_eq(estats(m).merged_commands, 1);
	ck_assert_uint_eq(estats(m).merged_tasks, 2);
	free_all(t, 6);
}
END_TEST

/* READ(16) merges too (its 32-bit length), and the merged command never
 * passes the LUN's limit: 64 KiB here (max-transfer), so sixteen tasks of
 * 4 KiB after the first go as one of 15 (60 KiB) - and no more. */
START_TEST(merge_read16_within_limit)
{
	struct sim_usb *m = open_dev(BOT ",quirks=max-transfer=65536");
	static uint8_t ref[N * LEN], got[N * LEN];
	ostor_task *t[N];
	struct done_rec rec = { 0 };
	uint8_t cdb[16];

	write_ref(ref, 7);
	memset(got, 0, sizeof(got));
	for (int i = 0; i < N; i++) {
		memset(cdb, 0, sizeof(cdb));
		cdb[0] = 0x88;
		cdb[9] = (uint8_t)(i * BLK);
		cdb[13] = BLK;
		ck_assert_int_eq(ostor_task_new(dev, &t[i]), 0);
		ck_assert_int_eq(ostor_task_set_cdb(t[i], cdb, 16), 0);
		ck_assert_int_eq(ostor_task_set_buffer(t[i], OSTOR_DIR_FROM_DEVICE, got + i * LEN, LEN), 0);
		ck_assert_int_eq(ostor_task_submit(t[i], (struct ostor_completion){ on_done, &rec, NULL }), 0);
	}
	wait_calls(&rec, N, 5000);
	assert_all_good(t, N);
	ck_assert_mem_eq(got, ref, sizeof(got));
	ck_assert_uint_eq(estats(m).merged_commands, 1);
	ck_assert_uint_eq(estats(m).merged_tasks, N - 1);
	free_all(t, N);
	/* 24 queued behind one: 16 fit in 64 KiB, the other 7 go next. */
	{
		ostor_task *u[24];
		static uint8_t big[24 * LEN];
		uint32_t lbas[24];

		rec.calls = 0;
		adjacent(lbas, 24, 0);
		queue_rw(u, 24, 0x28, lbas, 0, big, &rec);
		wait_calls(&rec, 24, 5000);
		for (int i = 0; i < 24; i++)
			ck_assert_int_eq(ostor_task_result(u[i]), OSTOR_RESULT_GOOD);
		ck_assert_uint_eq(estats(m).merged_commands, 3);
		ck_assert_uint_eq(estats(m).merged_tasks, N - 1 + 23);
		free_all(u, 24);
	}
}
END_TEST

/* Off: the no-merge quirk, ORIONSTOR_USB_MERGE=off, and a LUN nobody
 * discovered (its block size is not known) - each task its own command. */
static const char *const off_specs[] = { BOT ",quirks=no-merge", BOT, BOT };

START_TEST(merge_off)
{
	struct sim_usb *m;
	static uint8_t ref[N * LEN], got[N * LEN];
	struct ostori_setting set[48];
	ostor_task *t[N];
	uint32_t lbas[N];
	struct done_rec rec = { 0 };

	if (_i == 1)
		setenv("ORIONSTOR_USB_MERGE", "off", 1);
	m = open_dev(off_specs[_i]);
	unsetenv("ORIONSTOR_USB_MERGE");
	if (_i == 0)
		ck_assert_str_eq(merging_setting(m, set, 48)->source, "quirk no-merge");
	if (_i == 1)
		ck_assert_str_eq(merging_setting(m, set, 48)->source, "ORIONSTOR_USB_MERGE");
	if (_i == 2)
		ck_assert_ptr_nonnull(strstr(merging_setting(m, set, 48)->value, "once the LUN"));
	else
		write_ref(ref, 8);
	adjacent(lbas, N, 0);
	queue_rw(t, N, 0x28, lbas, 0, got, &rec);
	wait_calls(&rec, N, 5000);
	assert_all_good(t, N);
	if (_i != 2)
		ck_assert_mem_eq(got, ref, sizeof(got));
	ck_assert_uint_eq(estats(m).merged_commands, 0);
	free_all(t, N);
}
END_TEST

/* ---- a merged command that does not end whole -------------------------------- */

static uint32_t bad_lba;

/* A medium error on one block: any READ(10) over it fails as a disk would. */
static bool medium_error_at(void *ud, struct sim_cmd *cmd)
{
	uint32_t lba, n;

	if (cmd->cdb_len < 10 || cmd->cdb[0] != 0x28)
		return false;
	lba = (uint32_t)cmd->cdb[2] << 24 | (uint32_t)cmd->cdb[3] << 16 | (uint32_t)cmd->cdb[4] << 8 | cmd->cdb[5];
	n = (uint32_t)cmd->cdb[7] << 8 | cmd->cdb[8];
	if (bad_lba >= lba && bad_lba < lba + n)
		sim_target_inject_check(ud, cmd->lun, 0x28, 1, 0x03, 0x11, 0x00);
	return false;
}

/* N adjacent reads queued at once, the target's fault hook set meanwhile. */
static void read_through_hook(sim_fault_fn hook, ostor_task **t, uint8_t *got)
{
	struct sim_target *tg = ostori_sim_device_target(dev);
	struct done_rec rec = { 0 };
	uint32_t lbas[N];

	sim_target_set_fault_hook(tg, hook, tg);
	adjacent(lbas, N, 0);
	memset(got, 0, (size_t)N * LEN);
	queue_rw(t, N, 0x28, lbas, 0, got, &rec);
	wait_calls(&rec, N, 5000);
	sim_target_set_fault_hook(tg, NULL, NULL);
}

static void assert_sense(ostor_task *t, int key, int asc)
{
	struct ostor_scsi_sense s = OSTOR_SCSI_SENSE_INIT;
	const uint8_t *sense;
	size_t sense_len;

	ck_assert_int_eq(ostor_task_result(t), OSTOR_RESULT_CHECK_CONDITION);
	sense = ostor_task_sense(t, &sense_len);
	ck_assert_int_eq(ostor_scsi_parse_sense(sense, sense_len, &s), 0);
	ck_assert_int_eq(s.key, key);
	ck_assert_int_eq(s.asc, asc);
}

/* CHECK CONDITION on the merged command: every member is sent again
 * alone, and only the one holding the bad block fails, with its sense;
 * no transport reset (the CSW was valid). */
START_TEST(merge_check_condition_replayed)
{
	struct sim_usb *m = open_dev(BOT);
	static uint8_t ref[N * LEN], got[N * LEN];
	ostor_task *t[N];
	const int bad = 9;

	write_ref(ref, 9);
	bad_lba = (uint32_t)bad * BLK + 3;
	read_through_hook(medium_error_at, t, got);
	for (int i = 0; i < N; i++) {
		if (i == bad)
			continue;
		ck_assert_msg(ostor_task_result(t[i]) == OSTOR_RESULT_GOOD, "task %d: %s", i,
			      ostor_result_name(ostor_task_result(t[i])));
		ck_assert_mem_eq(got + i * LEN, ref + i * LEN, LEN);
	}
	assert_sense(t[bad], OSTOR_SCSI_SENSE_MEDIUM_ERROR, 0x11);
	ck_assert_uint_eq(ostor_task_transferred(t[bad]), 0);
	ck_assert_uint_eq(estats(m).merged_commands, 1);
	ck_assert_uint_eq(estats(m).merge_replays, N - 1);
	ck_assert_uint_eq(mstats(m).bot_resets, 0);
	free_all(t, N);
}
END_TEST

static bool reset_done;

/* The target reset (a unit attention raised) as the merged READ arrives. */
static bool reset_on_merged(void *ud, struct sim_cmd *cmd)
{
	if (cmd->cdb_len >= 10 && cmd->cdb[0] == 0x28 && cmd->cdb[8] > BLK && !reset_done) {
		reset_done = true;
		sim_target_reset(ud);
	}
	return false;
}

/* A unit attention meets the merged command: the first member gets it
 * (alone it would have), the others are read again and succeed. */
START_TEST(merge_unit_attention_to_first)
{
	struct sim_usb *m = open_dev(BOT);
	static uint8_t ref[N * LEN], got[N * LEN];
	ostor_task *t[N];

	write_ref(ref, 10);
	reset_done = false;
	read_through_hook(reset_on_merged, t, got);
	ck_assert(reset_done);
	ck_assert_int_eq(ostor_task_result(t[0]), OSTOR_RESULT_GOOD);
	assert_sense(t[1], OSTOR_SCSI_SENSE_UNIT_ATTENTION, 0x29);
	for (int i = 2; i < N; i++) {
		ck_assert_int_eq(ostor_task_result(t[i]), OSTOR_RESULT_GOOD);
		ck_assert_mem_eq(got + i * LEN, ref + i * LEN, LEN);
	}
	ck_assert_uint_eq(estats(m).merge_replays, N - 2);
	free_all(t, N);
}
END_TEST

/* The data phase ends early (a stall half-way: the halt cleared, the CSW
 * read, its residue; the CSW in place of the data) or the CSW never comes
 * (Reset Recovery): every member again alone - reads and writes end GOOD
 * with the right data. */
static const enum sim_usb_fault broken_faults[] = { SIM_USB_DATA_STALL, SIM_USB_CSW_NAK, SIM_USB_SKIP_DATA };

START_TEST(merge_broken_data_phase_replayed)
{
	struct sim_usb *m = open_dev(BOT);
	static uint8_t ref[N * LEN], got[N * LEN];
	ostor_task *t[N];
	uint32_t lbas[N];
	struct done_rec rec = { 0 };
	uint64_t resets = broken_faults[_i] == SIM_USB_CSW_NAK;

	write_ref(ref, 11);
	adjacent(lbas, N, 0);
	ck_assert_int_eq(sim_usb_arm_fault(m, broken_faults[_i], 1, 1), 0);
	memset(got, 0, sizeof(got));
	queue_rw(t, N, 0x28, lbas, 0, got, &rec);
	wait_calls(&rec, N, 5000);
	assert_all_good(t, N);
	ck_assert_mem_eq(got, ref, sizeof(got));
	ck_assert_uint_eq(estats(m).merged_commands, 1);
	ck_assert_uint_eq(estats(m).merge_replays, N - 1);
	ck_assert_uint_eq(mstats(m).bot_resets, resets);
	if (broken_faults[_i] == SIM_USB_DATA_STALL)
		ck_assert_uint_eq(estats(m).clear_halts, 1);
	if (broken_faults[_i] == SIM_USB_SKIP_DATA)
		ck_assert_uint_eq(estats(m).csw_in_data, 1);
	free_all(t, N);
	if (broken_faults[_i] == SIM_USB_SKIP_DATA)
		return;   /* a data-in fault */

	/* Writes: the same, and the medium holds every task's data. */
	rec.calls = 0;
	fill(ref, sizeof(ref), 12);
	ck_assert_int_eq(sim_usb_arm_fault(m, broken_faults[_i], 1, 1), 0);
	queue_rw(t, N, 0x2a, lbas, 0, ref, &rec);
	wait_calls(&rec, N, 5000);
	assert_all_good(t, N);
	ck_assert_uint_eq(estats(m).merge_replays, 2 * (N - 1));
	ck_assert_uint_eq(mstats(m).bot_resets, 2 * resets);
	if (!resets)
		ck_assert_uint_eq(estats(m).clear_halts, 2);
	assert_medium_holds(ref);
	free_all(t, N);
}
END_TEST

/* A member cancelled while the merged command waits for its CSW: it ends
 * ABORTED, the others are sent again and end GOOD. */
START_TEST(merge_member_cancelled)
{
	struct sim_usb *m = open_dev(BOT0 ",usb-timeout=5000");
	static uint8_t ref[N * LEN], got[N * LEN];
	ostor_task *t[N];
	uint32_t lbas[N];
	struct done_rec rec = { 0 };

	write_ref(ref, 13);
	adjacent(lbas, N, 0);
	ck_assert_int_eq(sim_usb_arm_fault(m, SIM_USB_CSW_NAK, 1, 1), 0);
	memset(got, 0, sizeof(got));
	queue_rw(t, N, 0x28, lbas, 0, got, &rec);
	wait_merged(m, 1);
	ck_assert_int_eq(ostor_task_cancel(t[5]), 0);
	wait_calls(&rec, N, 5000);
	for (int i = 0; i < N; i++) {
		if (i == 5)
			continue;
		ck_assert_int_eq(ostor_task_result(t[i]), OSTOR_RESULT_GOOD);
		ck_assert_mem_eq(got + i * LEN, ref + i * LEN, LEN);
	}
	ck_assert_int_eq(ostor_task_result(t[5]), OSTOR_RESULT_ABORTED);
	ck_assert_uint_eq(ostor_task_transferred(t[5]), 0);
	ck_assert_uint_eq(estats(m).merge_replays, N - 2);
	ck_assert_uint_eq(mstats(m).bot_resets, 1);
	free_all(t, N);
	check_io_works(0, 200, 15);
}
END_TEST

/* Unplugged while a merged write waits for its CSW: the data may be on
 * the medium, but no member is acknowledged. */
START_TEST(merge_unplug_mid_write)
{
	struct sim_usb *m = open_dev(BOT0 ",usb-timeout=5000");
	static uint8_t data[N * LEN];
	ostor_task *t[N];
	uint32_t lbas[N];
	struct done_rec rec = { 0 };

	discover();
	adjacent(lbas, N, 0);
	fill(data, sizeof(data), 14);
	ck_assert_int_eq(sim_usb_arm_fault(m, SIM_USB_CSW_NAK, 1, 1), 0);
	queue_rw(t, N, 0x2a, lbas, 0, data, &rec);
	wait_merged(m, 1);
	sim_usb_unplug(m);
	wait_calls(&rec, N, 5000);
	ck_assert_int_eq(ostor_task_result(t[0]), OSTOR_RESULT_GOOD);
	for (int i = 1; i < N; i++) {
		ck_assert_int_eq(ostor_task_result(t[i]), OSTOR_RESULT_DEVICE_GONE);
		ck_assert_uint_eq(ostor_task_transferred(t[i]), 0);
	}
	free_all(t, N);
}
END_TEST

static Suite *merge_suite(void)
{
	Suite *s = suite_create("usb-merge");
	TCase *tc = tcase_create("merge");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, merge_adjacent_reads);
	tcase_add_test(tc, merge_adjacent_writes);
	tcase_add_test(tc, merge_only_what_continues);
	tcase_add_test(tc, merge_read16_within_limit);
	tcase_add_loop_test(tc, merge_off, 0, (int)OSTOR_ARRAY_SIZE(off_specs));
	tcase_add_test(tc, merge_check_condition_replayed);
	tcase_add_test(tc, merge_unit_attention_to_first);
	tcase_add_loop_test(tc, merge_broken_data_phase_replayed, 0, (int)OSTOR_ARRAY_SIZE(broken_faults));
	tcase_add_test(tc, merge_member_cancelled);
	tcase_add_test(tc, merge_unplug_mid_write);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(merge_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
