/*
 * tests/unit/test_usb_cbi.c - the CB and CBI engine against the simulated
 * CB/CBI devices: plain I/O on every subclass, UFI command adaptations,
 * and fault 12 of issue 3 (ADSC stall, interrupt status faults, Command
 * Block Reset and its escalation).
 */
#include "usb_test_util.h"

#include <unistd.h>

#define CBI "sim:transport=usb-cbi,size=2M,usb-timeout=100"
#define CB "sim:transport=usb-cb,size=2M,usb-timeout=100"

/* CB and CBI carry no LUN: LUN 0 only, said plainly, and a model of
 * several LUNs is refused at open. */
START_TEST(cb_cbi_lun_zero_only)
{
	static const char *const specs[] = { CBI, CB };
	uint8_t buf[36], cdb[6] = { 0x12, 0, 0, 0, 36, 0 };

	for (int i = 0; i < 2; i++) {
		char spec[128];
		ostor_device *d;
		ostor_task *t;

		snprintf(spec, sizeof(spec), "%s,luns=2", specs[i]);
		ck_assert_int_eq(ostor_open(ctx, spec, &d), OSTOR_ERROR_BAD_SPEC);
		ck_assert_ptr_nonnull(strstr(ostor_last_error(), "addresses LUN 0 only; use transport=usb-bot"));
		open_dev(specs[i]);
		ck_assert_int_eq(ostor_task_new(dev, &t), 0);
		ck_assert_int_eq(ostor_task_prepare(t, 0, 1, cdb, 6, OSTOR_DIR_FROM_DEVICE, buf, sizeof(buf)), 0);
		ck_assert_int_eq(ostor_task_execute(t), OSTOR_ERROR_NOT_FOUND);
		ck_assert_ptr_nonnull(strstr(ostor_last_error(), "no LUN 1: the"));
		ck_assert_ptr_nonnull(strstr(ostor_last_error(), "transport addresses LUN 0 only"));
		ck_assert_int_eq(ostor_task_prepare(t, 0, 0, cdb, 6, OSTOR_DIR_FROM_DEVICE, buf, sizeof(buf)), 0);
		ck_assert_int_eq(ostor_task_execute(t), 0);
		ck_assert_int_eq(ostor_task_result(t), OSTOR_RESULT_GOOD);
		ostor_task_free(t);
		ck_assert_int_eq(ostor_close(dev), 0);
		dev = NULL;
	}
}
END_TEST

START_TEST(cb_plain_io)
{
	static const char *const specs[] = {
		CBI, CBI ",subclass=ufi", CBI ",subclass=scsi", CB, CB ",subclass=ufi", CB ",subclass=rbc",
	};
	struct sim_usb *m = open_dev(specs[_i]);
	struct ostor_lun_info li = OSTOR_LUN_INFO_INIT;
	struct ostor_usb_details d = OSTOR_USB_DETAILS_INIT;

	ck_assert_int_eq(ostor_lun_info(dev, 0, 0, &li), 0);
	ck_assert_uint_eq(li.blocks, 4096);
	ck_assert_str_eq(li.vendor, "ORIONSTR");
	check_io_works(0, 5, (uint32_t)_i);
	check_io_works(0, 4000, (uint32_t)_i + 100);
	ck_assert_int_eq(ostor_usb_get_details(dev, &d), 0);
	ck_assert_str_eq(d.transport, _i < 3 ? "cbi" : "cb");
	ck_assert_uint_eq(d.max_lun, 0);
	ck_assert_uint_eq(mstats(m).cb_resets, 0);
	ck_assert_uint_eq(mstats(m).get_max_lun, 0);
	if (_i < 3)
		ck_assert_uint_ge(mstats(m).intr_reports, 4);
	else
		ck_assert_uint_eq(mstats(m).intr_reports, 0);
}
END_TEST

START_TEST(ufi_adaptations)
{
	struct sim_usb *m = open_dev(CBI ",subclass=ufi");
	struct sim_stats ss;
	uint8_t w[512], r[512], inq[96];
	uint8_t read6[6] = { 0x08, 0, 0, 9, 1, 0 }, write6[6] = { 0x0a, 0, 0, 9, 1, 0 };
	uint8_t inqcdb[6] = { 0x12, 0, 0, 0, 96, 0 };
	ostor_task *t;

	fill(w, sizeof(w), 40);
	t = run(0, write6, 6, OSTOR_DIR_TO_DEVICE, w, sizeof(w));
	ck_assert_int_eq(ostor_task_result(t), OSTOR_RESULT_GOOD);
	ostor_task_free(t);
	t = run(0, read6, 6, OSTOR_DIR_FROM_DEVICE, r, sizeof(r));
	ck_assert_int_eq(ostor_task_result(t), OSTOR_RESULT_GOOD);
	ck_assert_mem_eq(r, w, sizeof(r));
	ostor_task_free(t);
	/* INQUIRY goes out with the fixed 36-byte allocation */
	t = run(0, inqcdb, 6, OSTOR_DIR_FROM_DEVICE, inq, sizeof(inq));
	ck_assert_int_eq(ostor_task_result(t), OSTOR_RESULT_GOOD);
	ck_assert_uint_eq(ostor_task_transferred(t), 36);
	ostor_task_free(t);
	sim_target_get_stats(ostori_sim_device_target(dev), &ss);
	ck_assert_uint_eq(ss.per_opcode[0x08], 0);
	ck_assert_uint_eq(ss.per_opcode[0x0a], 0);
	ck_assert_uint_ge(ss.per_opcode[0x28], 1);
	ck_assert_uint_ge(ss.per_opcode[0x2a], 1);
	(void)m;
}
END_TEST

/* A read asking for more than the device has: the device stalls after
 * its data, REQUEST SENSE says NO SENSE - good, with the residual, as on
 * Bulk-Only and virtio (the kernel's usb-storage does the same). */
START_TEST(cb_short_read_is_good)
{
	static uint8_t buf[4096];
	uint8_t read1[10] = { 0x28, 0, 0, 0, 0, 0, 0, 0, 1, 0 };
	ostor_task *t;

	open_dev(_i ? CB : CBI);
	t = run(0, read1, 10, OSTOR_DIR_FROM_DEVICE, buf, sizeof(buf));
	ck_assert_int_eq(ostor_task_result(t), OSTOR_RESULT_GOOD);
	ck_assert_uint_eq(ostor_task_transferred(t), 512);
	ck_assert_uint_eq(ostor_task_residual(t), 4096 - 512);
	ck_assert_ptr_null(ostor_task_sense(t, NULL));
	ostor_task_free(t);
}
END_TEST

/* scsi_processing_enabled = false: commands go out exactly as given
 * (READ(6) stays READ(6); the simulated device takes it). */
START_TEST(ufi_no_adaptation_from_config)
{
	char path[] = "/tmp/ostor-cbi-conf-XXXXXX";
	const char *text = "[usb_storage]\nscsi_processing_enabled = false\n";
	int fd = mkstemp(path);
	struct sim_stats ss;
	uint8_t r[512], read6[6] = { 0x08, 0, 0, 9, 1, 0 };
	ostor_task *t;

	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(write(fd, text, strlen(text)), (ssize_t)strlen(text));
	close(fd);
	ostor_exit(ctx);
	ck_assert_int_eq(ostor_init(&ctx, path), 0);
	ostor_set_log_level(ctx, OSTOR_LOG_NONE);
	unlink(path);
	open_dev(CBI ",subclass=ufi");
	t = run(0, read6, 6, OSTOR_DIR_FROM_DEVICE, r, sizeof(r));
	ck_assert_int_eq(ostor_task_result(t), OSTOR_RESULT_GOOD);
	ostor_task_free(t);
	sim_target_get_stats(ostori_sim_device_target(dev), &ss);
	ck_assert_uint_eq(ss.per_opcode[0x08], 1);
}
END_TEST

/* ---- fault matrix 16: stall on the control pipe during ADSC ------------- */

START_TEST(fault_16_adsc_stall_is_check_condition)
{
	struct sim_usb *m = open_dev(CBI ",fault=adsc-stall");
	uint8_t tur[6] = { 0 };
	const uint8_t *s;
	size_t n;
	ostor_task *t = run(0, tur, 6, OSTOR_DIR_NONE, NULL, 0);

	ck_assert_int_eq(ostor_task_result(t), OSTOR_RESULT_CHECK_CONDITION);
	s = ostor_task_sense(t, &n);
	ck_assert_ptr_nonnull(s);
	ck_assert_uint_ge(n, 14);
	ck_assert_uint_eq(s[2] & 0x0f, OSTOR_SCSI_SENSE_ILLEGAL_REQUEST);
	ck_assert_uint_eq(s[12], 0x20);
	ck_assert_uint_eq(estats(m).auto_sense, 1);
	ck_assert_uint_eq(mstats(m).cb_resets, 0);   /* not a transport error */
	ostor_task_free(t);
	check_io_works(0, 0, 41);
}
END_TEST

/* A read whose interrupt status is bad: failed with nothing transferred,
 * after a Command Block Reset; the device works again. */
static void status_fault_case(const char *fault)
{
	char spec[256];
	struct sim_usb *m;
	uint8_t buf[2048];
	size_t got = 1;

	snprintf(spec, sizeof(spec), CBI ",fault=%s,fault-after=1", fault);
	m = open_dev(spec);
	fill(buf, sizeof(buf), 42);
	ck_assert_int_eq(rw(0x2a, 0, 4, buf, sizeof(buf), NULL), OSTOR_RESULT_GOOD);
	ck_assert_int_eq(rw(0x28, 0, 4, buf, sizeof(buf), &got), OSTOR_RESULT_TRANSPORT_ERROR);
	ck_assert_uint_eq(got, 0);
	ck_assert_uint_eq(mstats(m).cb_resets, 1);
	ck_assert_uint_eq(mstats(m).clear_halt_in, 1);
	ck_assert_uint_eq(mstats(m).clear_halt_out, 1);
	check_io_works(0, 0, 43);
}

/* ---- fault matrix 17: interrupt status phase error, bType != 0 ---------- */

static const char *const reset_faults[] = { "intr-btype", "intr-phase" };

START_TEST(fault_17_intr_status_reset)
{
	status_fault_case(reset_faults[_i]);
}
END_TEST

/* ---- fault matrix 19: interrupt transfer short / never completes -------- */

START_TEST(fault_19_intr_short_resets)
{
	status_fault_case("intr-short");
}
END_TEST

START_TEST(fault_19_intr_missing_times_out)
{
	struct sim_usb *m = open_dev(CBI ",fault=intr-missing");
	uint8_t buf[2048];
	uint64_t t0 = ostori_now_ms();

	ck_assert_int_eq(rw(0x28, 0, 4, buf, sizeof(buf), NULL), OSTOR_RESULT_TIMEOUT);
	ck_assert_uint_lt(ostori_now_ms() - t0, 2000);
	ck_assert_uint_eq(mstats(m).cb_resets, 1);
	check_io_works(0, 0, 44);
}
END_TEST

START_TEST(cbi_persistent_failure_senses)
{
	struct sim_usb *m = open_dev(CBI ",fault=intr-persistent");
	uint8_t buf[2048];
	const uint8_t *s;
	size_t n;
	uint8_t cdb[10], tur[6] = { 0 };
	ostor_task *t;

	/* bValue 3 on a command without data */
	t = run(0, tur, 6, OSTOR_DIR_NONE, NULL, 0);
	ck_assert_int_eq(ostor_task_result(t), OSTOR_RESULT_CHECK_CONDITION);
	s = ostor_task_sense(t, &n);
	ck_assert_ptr_nonnull(s);
	ck_assert_uint_eq(s[2] & 0x0f, OSTOR_SCSI_SENSE_MEDIUM_ERROR);
	ostor_task_free(t);
	/* a failed read: the device stalls the data phase instead */
	ck_assert_int_eq(sim_usb_arm_fault(m, SIM_USB_INTR_PERSISTENT, 1, 0), 0);
	cdb_rw10(cdb, 0x28, 0, 4);
	t = run(0, cdb, 10, OSTOR_DIR_FROM_DEVICE, buf, sizeof(buf));
	ck_assert_int_eq(ostor_task_result(t), OSTOR_RESULT_CHECK_CONDITION);
	s = ostor_task_sense(t, &n);
	ck_assert_ptr_nonnull(s);
	ck_assert_uint_eq(s[2] & 0x0f, OSTOR_SCSI_SENSE_MEDIUM_ERROR);
	ck_assert_uint_eq(s[12], 0x11);
	ck_assert_uint_eq(mstats(m).cb_resets, 0);
	ostor_task_free(t);
}
END_TEST

/* ---- fault matrix 18: UFI ASC/ASCQ in the interrupt status ------------- */

START_TEST(fault_18_ufi_asc_ignored_for_inquiry_and_sense)
{
	struct sim_usb *m = open_dev(CBI ",subclass=ufi,fault=intr-asc,fault-count=0");
	uint8_t inq[6] = { 0x12, 0, 0, 0, 36, 0 }, rs[6] = { 0x03, 0, 0, 0, 18, 0 }, tur[6] = { 0 };
	uint8_t buf[36];
	ostor_task *t;

	t = run(0, inq, 6, OSTOR_DIR_FROM_DEVICE, buf, sizeof(buf));
	ck_assert_int_eq(ostor_task_result(t), OSTOR_RESULT_GOOD);
	ck_assert_uint_eq(ostor_task_transferred(t), 36);
	ostor_task_free(t);
	t = run(0, rs, 6, OSTOR_DIR_FROM_DEVICE, buf, 18);
	ck_assert_int_eq(ostor_task_result(t), OSTOR_RESULT_GOOD);
	ostor_task_free(t);
	/* the same report on another command means it failed */
	t = run(0, tur, 6, OSTOR_DIR_NONE, NULL, 0);
	ck_assert_int_eq(ostor_task_result(t), OSTOR_RESULT_CHECK_CONDITION);
	ostor_task_free(t);
	/* ... and on a READ: reported, with its sense, never as good data */
	{
		uint8_t cdb[10], data[2048];
		uint64_t sense_before = estats(m).auto_sense;

		cdb_rw10(cdb, 0x28, 0, 4);
		t = run(0, cdb, 10, OSTOR_DIR_FROM_DEVICE, data, sizeof(data));
		ck_assert_int_eq(ostor_task_result(t), OSTOR_RESULT_CHECK_CONDITION);
		ck_assert_uint_eq(estats(m).auto_sense, sense_before + 1);
		ostor_task_free(t);
		ck_assert_int_lt(ostor_read_blocks(dev, 0, 0, 0, 4, data), 0);
	}
	ck_assert_uint_eq(mstats(m).cb_resets, 0);
}
END_TEST

/* A read the device stalls part way, with nothing in its sense: a short
 * read (good, with the residual), as Bulk-Only reports it from the CSW
 * residue; the block helpers refuse it rather than return junk. */
START_TEST(cbi_data_stall_short_read)
{
	struct sim_usb *m = open_dev(CBI ",fault=data-stall,fault-after=1");
	uint8_t buf[8192];
	size_t got = 0;

	fill(buf, sizeof(buf), 45);
	ck_assert_int_eq(rw(0x2a, 0, 16, buf, sizeof(buf), NULL), OSTOR_RESULT_GOOD);
	ck_assert_int_eq(rw(0x28, 0, 16, buf, sizeof(buf), &got), OSTOR_RESULT_GOOD);
	ck_assert_uint_lt(got, sizeof(buf));
	ck_assert_uint_eq(mstats(m).clear_halt_in, 1);
	ck_assert_uint_eq(estats(m).auto_sense, 1);
	ck_assert_int_eq(sim_usb_arm_fault(m, SIM_USB_DATA_STALL, 1, 0), 0);
	ck_assert_int_lt(ostor_read_blocks(dev, 0, 0, 0, 16, buf), 0);
	check_io_works(0, 0, 46);
}
END_TEST

START_TEST(cbi_reset_stall_escalates)
{
	struct sim_usb *m = open_dev(CBI ",fault=intr-btype+reset-stall");
	uint8_t buf[512];

	ck_assert_int_eq(rw(0x28, 0, 1, buf, sizeof(buf), NULL), OSTOR_RESULT_TRANSPORT_ERROR);
	ck_assert_uint_eq(mstats(m).cb_resets, 1);
	ck_assert_uint_eq(mstats(m).port_resets, 1);
	check_io_works(0, 0, 47);
}
END_TEST

START_TEST(cb_auto_sense_reports_errors)
{
	struct sim_usb *m = open_dev(CB ",readonly");
	uint8_t buf[512] = { 0 }, cdb[10];
	const uint8_t *s;
	size_t n;
	ostor_task *t;

	cdb_rw10(cdb, 0x2a, 0, 1);
	t = run(0, cdb, 10, OSTOR_DIR_TO_DEVICE, buf, sizeof(buf));
	ck_assert_int_eq(ostor_task_result(t), OSTOR_RESULT_CHECK_CONDITION);
	s = ostor_task_sense(t, &n);
	ck_assert_ptr_nonnull(s);
	ck_assert_uint_eq(s[2] & 0x0f, OSTOR_SCSI_SENSE_DATA_PROTECT);
	ostor_task_free(t);
	/* a good non-read command also gets its REQUEST SENSE, and passes */
	{
		uint8_t tur[6] = { 0 };
		uint64_t before = estats(m).auto_sense;

		t = run(0, tur, 6, OSTOR_DIR_NONE, NULL, 0);
		ck_assert_int_eq(ostor_task_result(t), OSTOR_RESULT_GOOD);
		ck_assert_uint_eq(estats(m).auto_sense, before + 1);
		ostor_task_free(t);
	}
	ck_assert_int_eq(ostor_read_blocks(dev, 0, 0, 0, 1, buf), 0);
}
END_TEST

START_TEST(cb_explicit_reset_and_unplug)
{
	struct sim_usb *m = open_dev(CB);
	uint8_t buf[512];

	ck_assert_int_eq(ostor_usb_reset(dev, OSTOR_USB_RESET_TRANSPORT), 0);
	ck_assert_uint_eq(mstats(m).cb_resets, 1);
	ck_assert_uint_eq(mstats(m).clear_halt_in, 1);
	ck_assert_uint_eq(mstats(m).clear_halt_out, 1);
	check_io_works(0, 0, 48);
	sim_usb_unplug(m);
	ck_assert_int_lt(ostor_read_blocks(dev, 0, 0, 0, 1, buf), 0);
	ck_assert_int_eq(ostor_usb_reset(dev, OSTOR_USB_RESET_TRANSPORT), OSTOR_ERROR_NO_DEVICE);
}
END_TEST

static Suite *cbi_suite(void)
{
	Suite *s = suite_create("usb_cbi");
	TCase *tc = tcase_create("cbi");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 30);
	tcase_add_loop_test(tc, cb_plain_io, 0, 6);
	tcase_add_test(tc, cb_cbi_lun_zero_only);
	tcase_add_test(tc, ufi_adaptations);
	tcase_add_test(tc, ufi_no_adaptation_from_config);
	tcase_add_loop_test(tc, cb_short_read_is_good, 0, 2);
	tcase_add_test(tc, cbi_persistent_failure_senses);
	tcase_add_test(tc, cbi_data_stall_short_read);
	tcase_add_test(tc, cbi_reset_stall_escalates);
	tcase_add_test(tc, cb_auto_sense_reports_errors);
	tcase_add_test(tc, cb_explicit_reset_and_unplug);
	suite_add_tcase(s, tc);

	/* The fault matrix of issue 14, counted by tests/faults/fault-matrix.sh. */
	tc = tcase_create("fault_matrix");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, fault_16_adsc_stall_is_check_condition);
	tcase_add_loop_test(tc, fault_17_intr_status_reset, 0, (int)OSTOR_ARRAY_SIZE(reset_faults));
	tcase_add_test(tc, fault_18_ufi_asc_ignored_for_inquiry_and_sense);
	tcase_add_test(tc, fault_19_intr_short_resets);
	tcase_add_test(tc, fault_19_intr_missing_times_out);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(cbi_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
