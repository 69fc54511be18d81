/*
 * tests/unit/test_virtio_scsi.c - the virtio-scsi driver against the
 * simulated device: start-up faults (6, 9), DEVICE_NEEDS_RESET (7),
 * interrupts (8), response codes and BUSY (10), clamping (11), task
 * management (12) and events (13) of issue 4 (fault matrix 25-32 of
 * issue 14); lost notifications under load (issue 16).
 */
#include "core/backend.h"
#include "sim/backend.h"
#include "sim/target.h"
#include "util/byteorder.h"
#include "core/config.h"
#include "virtio/pci.h"
#include "virtio/sim_device.h"
#include "virtio/scsi.h"

#include <check.h>
#include <poll.h>
#include <pthread.h>
#include <semaphore.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "virtio_test_util.h"

static struct vscsi_stats drv_stats(void)
{
	struct vscsi_stats st;

	vscsi_get_stats(sim_virtio_driver(model), &st);
	return st;
}

static void cb(ostor_task *t, void *ud)
{
	(*(int *)ud)++;
}

static void prep_rw(ostor_task *t, bool write, uint64_t lba, void *buf, size_t len)
{
	uint8_t cdb[10] = { write ? 0x2a : 0x28, 0, (uint8_t)(lba >> 24), (uint8_t)(lba >> 16),
			    (uint8_t)(lba >> 8), (uint8_t)lba, 0, (uint8_t)((len / 512) >> 8),
			    (uint8_t)(len / 512), 0 };

	ck_assert_int_eq(ostor_task_reset(t), 0);
	ck_assert_int_eq(ostor_task_set_lun(t, 0, 0), 0);
	ck_assert_int_eq(ostor_task_set_cdb(t, cdb, sizeof(cdb)), 0);
	ck_assert_int_eq(ostor_task_set_buffer(t, write ? OSTOR_DIR_TO_DEVICE : OSTOR_DIR_FROM_DEVICE,
					       buf, len), 0);
}

/* Run one READ(10)/WRITE(10) of len bytes synchronously; returns the result. */
static enum ostor_result run_rw(bool write, uint64_t lba, void *buf, size_t len, ostor_task **keep)
{
	ostor_task *t;
	enum ostor_result r;

	ck_assert_int_eq(ostor_task_new(dev, &t), 0);
	prep_rw(t, write, lba, buf, len);
	ck_assert_int_eq(ostor_task_execute(t), 0);
	r = ostor_task_result(t);
	if (keep)
		*keep = t;
	else
		ostor_task_free(t);
	return r;
}

/* Handle events until cond() holds or ms pass. */
static bool wait_for(bool (*cond)(void), unsigned int ms)
{
	uint64_t end = ostori_now_ms() + ms;

	while (!cond()) {
		if (ostori_now_ms() > end)
			return false;
		ostor_handle_events(ctx, 5);
	}
	return true;
}

/* ---- 6: FEATURES_OK cleared on re-read --------------------------------------- */

START_TEST(fault_25_features_ok_cleared)
{
	int r = ostor_open(ctx, "sim:transport=virtio,fault=features-ok", &dev);

	ck_assert_int_eq(r, OSTOR_ERROR_NOT_SUPPORTED);
	ck_assert_ptr_null(dev);
	ck_assert_ptr_nonnull(strstr(ostor_last_error(), "FEATURES_OK"));
	ck_assert(sim_virtio_last_status & VIRTIO_STATUS_FAILED);
	ck_assert(!(sim_virtio_last_status & VIRTIO_STATUS_DRIVER_OK));
}
END_TEST

/* ---- 9: config_generation never settles ---------------------------------------------- */

START_TEST(fault_28_config_generation_unstable)
{
	int r = ostor_open(ctx, "sim:transport=virtio,fault=config-generation", &dev);

	ck_assert_int_eq(r, OSTOR_ERROR_PROTOCOL);
	ck_assert_ptr_nonnull(strstr(ostor_last_error(), "config_generation"));
	ck_assert(!(sim_virtio_last_status & VIRTIO_STATUS_DRIVER_OK));
}
END_TEST

/* ---- 7: DEVICE_NEEDS_RESET with writes in flight ----------------------------------------- */

START_TEST(fault_26_needs_reset_mid_io)
{
	ostor_task *t[4];
	int calls[4] = { 0 };
	static uint8_t data[4][4096];
	uint8_t back[4096];

	open_spec(_i ? "sim:transport=virtio,packed,intr" : "sim:transport=virtio");
	sim_virtio_inject(model, SIM_VF_NEEDS_RESET, 1, 0);
	for (int i = 0; i < 4; i++) {
		memset(data[i], 0x11 * (i + 1), sizeof(data[i]));
		ck_assert_int_eq(ostor_task_new(dev, &t[i]), 0);
		prep_rw(t[i], true, (uint64_t)i * 8, data[i], 4096);
		ck_assert_int_eq(ostor_task_submit(t[i], (struct ostor_completion){ cb, &calls[i], NULL }), 0);
	}
	for (uint64_t end = ostori_now_ms() + 3000; ostor_inflight(ctx) && ostori_now_ms() < end;)
		ostor_handle_events(ctx, 5);
	for (int i = 0; i < 4; i++) {
		ck_assert_int_eq(calls[i], 1);
		/* Indeterminate, never reported as written. */
		ck_assert_int_eq(ostor_task_result(t[i]), OSTOR_RESULT_ABORTED);
		ostor_task_free(t[i]);
	}
	ck_assert_uint_eq(drv_stats().resets, 1);
	/* I/O resumes. */
	ck_assert_int_eq(ostor_write_blocks(dev, 0, 0, 64, 8, data[2]), 0);
	ck_assert_int_eq(ostor_read_blocks(dev, 0, 0, 64, 8, back), 0);
	ck_assert_int_eq(memcmp(back, data[2], 4096), 0);
}
END_TEST

/* ---- 8: interrupts before DRIVER_OK, interrupt storms ------------------------------------- */

START_TEST(fault_27_interrupts_before_driver_ok)
{
	uint8_t buf[512];
	struct sim_virtio_stats ms;
	struct pollfd pfd[8];
	int nfds;

	open_spec("sim:transport=virtio,intr,fault=early-irq");
	sim_virtio_get_stats(model, &ms);
	ck_assert_uint_ge(ms.interrupts, 50); /* raised before DRIVER_OK */
	ck_assert_int_eq(ostor_read_blocks(dev, 0, 0, 0, 1, buf), 0);
	/* nothing completed twice, no busy loop left over */
	ck_assert_uint_eq(drv_stats().bad_response, 0);
	ostor_handle_events_nonblock(ctx);
	nfds = ostor_get_pollfds(ctx, pfd, 8);
	ck_assert_int_ge(nfds, 1);
	ck_assert_int_eq(poll(pfd, (nfds_t)nfds, 0), 0);
}
END_TEST

START_TEST(fault_27_interrupt_storm)
{
	uint8_t buf[4096];
	struct pollfd pfd[8];
	int rounds = 0, nfds;
	ostor_task *t;
	int calls = 0;

	open_spec(_i ? "sim:transport=virtio,intr,packed" : "sim:transport=virtio,intr");
	sim_virtio_inject(model, SIM_VF_IRQ_STORM, 1, 1000000);
	ck_assert_int_eq(ostor_task_new(dev, &t), 0);
	prep_rw(t, false, 0, buf, sizeof(buf));
	ck_assert_int_eq(ostor_task_submit(t, (struct ostor_completion){ cb, &calls, NULL }), 0);
	while (!calls && rounds < 1000) {
		ostor_handle_events(ctx, 100);
		rounds++;
	}
	ck_assert_int_eq(calls, 1);
	ck_assert_int_eq(ostor_task_result(t), OSTOR_RESULT_GOOD);
	/* A million interrupts were coalesced: a handful of passes, and the
	 * fd is quiet again afterwards (no busy loop). */
	ck_assert_int_lt(rounds, 20);
	ostor_handle_events_nonblock(ctx);
	nfds = ostor_get_pollfds(ctx, pfd, 8);
	ck_assert_int_ge(nfds, 1);
	ck_assert_int_le(nfds, 8);
	ck_assert_int_eq(poll(pfd, (nfds_t)nfds, 0), 0);
	ck_assert_uint_ge(drv_stats().interrupts, 1);
	ostor_task_free(t);
}
END_TEST

/* ---- 10: response codes -------------------------------------------------------------------- */

static const struct {
	uint32_t code;
	enum ostor_result want;
} codes[] = {
	{ VIRTIO_SCSI_S_OVERRUN, OSTOR_RESULT_OVERRUN },
	{ VIRTIO_SCSI_S_ABORTED, OSTOR_RESULT_ABORTED },
	{ VIRTIO_SCSI_S_BAD_TARGET, OSTOR_RESULT_DEVICE_GONE },
	{ VIRTIO_SCSI_S_RESET, OSTOR_RESULT_ABORTED },
	{ VIRTIO_SCSI_S_TRANSPORT_FAILURE, OSTOR_RESULT_TRANSPORT_ERROR },
	{ VIRTIO_SCSI_S_TARGET_FAILURE, OSTOR_RESULT_TRANSPORT_ERROR },
	{ VIRTIO_SCSI_S_NEXUS_FAILURE, OSTOR_RESULT_TRANSPORT_ERROR },
	{ VIRTIO_SCSI_S_FAILURE, OSTOR_RESULT_TRANSPORT_ERROR },
	{ VIRTIO_SCSI_S_FUNCTION_SUCCEEDED, OSTOR_RESULT_TRANSPORT_ERROR },
	{ VIRTIO_SCSI_S_FUNCTION_REJECTED, OSTOR_RESULT_TRANSPORT_ERROR },
	{ VIRTIO_SCSI_S_INCORRECT_LUN, OSTOR_RESULT_TRANSPORT_ERROR },
	{ 200, OSTOR_RESULT_TRANSPORT_ERROR },
	{ VIRTIO_SCSI_S_OK, OSTOR_RESULT_GOOD },
};

START_TEST(fault_29_response_codes)
{
	uint8_t buf[512];

	open_spec("sim:transport=virtio");
	for (size_t i = 0; i < OSTOR_ARRAY_SIZE(codes); i++) {
		enum ostor_result got;

		sim_virtio_inject(model, SIM_VF_RESPONSE, 1, codes[i].code);
		/* Writes too: a failed response never reads as written. */
		got = run_rw(i % 2, 8, buf, sizeof(buf), NULL);
		ck_assert_msg(got == codes[i].want, "response %u: result %s, want %s", codes[i].code,
			      ostor_result_name(got), ostor_result_name(codes[i].want));
		if (codes[i].code == VIRTIO_SCSI_S_BAD_TARGET) {
			/* The target is now believed absent until a rescan. */
			ck_assert_int_eq(run_rw(false, 8, buf, sizeof(buf), NULL), OSTOR_RESULT_DEVICE_GONE);
			ck_assert_int_eq(ostor_virtio_target_add(dev, 0), 0);
		}
	}
	/* the TMF codes (FUNCTION_SUCCEEDED, _REJECTED, INCORRECT_LUN) and
	 * 200 are not command codes */
	ck_assert_uint_eq(drv_stats().bad_response, 4);
}
END_TEST

START_TEST(fault_29_busy_retried_with_backoff)
{
	uint8_t buf[512];
	uint64_t t0;

	/* Backoff 20 ms, doubling: retries after 20, 40, 80 ms. */
	open_spec("sim:transport=virtio,busy-backoff=20");
	/* scsi_retry_count is 3 by default: two BUSY answers are absorbed. */
	sim_virtio_inject(model, SIM_VF_RESPONSE, 2, VIRTIO_SCSI_S_BUSY);
	t0 = ostori_now_ms();
	ck_assert_int_eq(run_rw(true, 3, buf, sizeof(buf), NULL), OSTOR_RESULT_GOOD);
	ck_assert_uint_ge(ostori_now_ms() - t0, 20 + 40);
	ck_assert_uint_eq(drv_stats().busy_retries, 2);
	/* Persistently busy: reported as BUSY after the retries. */
	sim_virtio_inject(model, SIM_VF_RESPONSE, 10, VIRTIO_SCSI_S_BUSY);
	t0 = ostori_now_ms();
	ck_assert_int_eq(run_rw(true, 3, buf, sizeof(buf), NULL), OSTOR_RESULT_BUSY);
	ck_assert_uint_ge(ostori_now_ms() - t0, 20 + 40 + 80);
	ck_assert_uint_eq(drv_stats().busy_retries, 5);
}
END_TEST

/* COMPARE AND WRITE through virtio-scsi: one request of 2 x N blocks of
 * data-out; the miscompare's INFORMATION field arrives in the response's
 * sense. */
START_TEST(compare_and_write_round_trip)
{
	uint8_t old[3 * 512], new[3 * 512], cmp[3 * 512], r[3 * 512];
	uint32_t off = 0;

	open_spec("sim:transport=virtio");
	for (size_t i = 0; i < sizeof(old); i++) {
		old[i] = (uint8_t)(i * 13 + 1);
		new[i] = (uint8_t)(i * 29 + 5);
	}
	ck_assert_int_eq(ostor_write_blocks(dev, 0, 0, 70, 3, old), 0);
	ck_assert_int_eq(ostor_compare_and_write(dev, 0, 0, 70, 3, old, new, &off), 0);
	ck_assert_int_eq(ostor_read_blocks(dev, 0, 0, 70, 3, r), 0);
	ck_assert_mem_eq(r, new, sizeof(r));
	memcpy(cmp, new, sizeof(cmp));
	cmp[1025] ^= 0x04;
	ck_assert_int_eq(ostor_compare_and_write(dev, 0, 0, 70, 3, cmp, old, &off), OSTOR_ERROR_MISCOMPARE);
	ck_assert_uint_eq(off, 1025);
	ck_assert_int_eq(ostor_read_blocks(dev, 0, 0, 70, 3, r), 0);
	ck_assert_mem_eq(r, new, sizeof(r));
	ck_assert_uint_eq(drv_stats().bad_response, 0);
}
END_TEST

/* ---- 11: sense length and residual clamped ------------------------------------------------------ */

START_TEST(fault_30_sense_and_resid_clamped)
{
	uint8_t buf[4096];
	const uint8_t *sense;
	size_t slen;
	ostor_task *t;

	open_spec(_i ? "sim:transport=virtio,packed" : "sim:transport=virtio");
	ck_assert_int_eq(sim_target_inject_check(ostori_sim_device_target(dev), 0, 0x28, 1, 0x03, 0x11, 0x00), 0);
	sim_virtio_inject(model, SIM_VF_SENSE_LEN, 1, 100000);
	ck_assert_int_eq(run_rw(false, 0, buf, sizeof(buf), &t), OSTOR_RESULT_CHECK_CONDITION);
	sense = ostor_task_sense(t, &slen);
	ck_assert_ptr_nonnull(sense);
	ck_assert_uint_eq(slen, 96); /* the device's sense_size, not 100000 */
	ck_assert_uint_eq(sense[2] & 0x0f, 0x03);
	ck_assert_uint_eq(sense[12], 0x11);
	ck_assert_uint_eq(drv_stats().sense_clamped, 1);
	ostor_task_free(t);

	sim_virtio_inject(model, SIM_VF_RESID, 1, 1u << 30);
	ck_assert_int_eq(run_rw(false, 0, buf, sizeof(buf), &t), OSTOR_RESULT_GOOD);
	ck_assert_uint_eq(ostor_task_transferred(t), 0);
	ck_assert_uint_eq(ostor_task_residual(t), sizeof(buf));
	ck_assert_uint_eq(drv_stats().resid_clamped, 1);
	ostor_task_free(t);
}
END_TEST

/* ---- 12: task management ------------------------------------------------------------------------- */

static const struct {
	uint32_t mode;
	bool lun_reset, device_reset;
} tmf_cases[] = {
	{ SIM_TMF_ANSWER_FIRST, false, false },
	{ SIM_TMF_COMMAND_FIRST, false, false },
	{ SIM_TMF_REJECT_ABORT, true, false },
	{ SIM_TMF_COMPLETE_NOTHING, true, true },
	{ SIM_TMF_IGNORE, false, true },
};

START_TEST(fault_31_tmf_escalation)
{
	uint8_t buf[4096];
	ostor_task *t;
	int calls = 0;
	struct sim_virtio_stats ms;
	struct vscsi_stats ds;
	char spec[64];

	/* The task management timeout: short where the device never answers
	 * (waiting it out is the point), long where it answers (a late device
	 * thread on a loaded machine must not turn an answer into escalation). */
	snprintf(spec, sizeof(spec), "sim:transport=virtio,%stimeout=%u", _i % 2 ? "packed," : "",
		 tmf_cases[_i].device_reset ? 50u : 10000u);
	open_spec(spec);
	sim_virtio_inject(model, SIM_VF_HOLD, 1, tmf_cases[_i].mode);
	ck_assert_int_eq(ostor_task_new(dev, &t), 0);
	prep_rw(t, true, 16, buf, sizeof(buf));
	ck_assert_int_eq(ostor_task_set_timeout(t, 100), 0);
	ck_assert_int_eq(ostor_task_submit(t, (struct ostor_completion){ cb, &calls, NULL }), 0);
	for (uint64_t end = ostori_now_ms() + 3000; !calls && ostori_now_ms() < end;)
		ostor_handle_events(ctx, 5);
	/* Let late answers arrive: they must not complete anything again. */
	for (uint64_t end = ostori_now_ms() + 150; ostori_now_ms() < end;)
		ostor_handle_events(ctx, 5);
	ck_assert_int_eq(calls, 1);
	ck_assert_int_eq(ostor_task_result(t), OSTOR_RESULT_TIMEOUT);
	sim_virtio_get_stats(model, &ms);
	ds = drv_stats();
	if (tmf_cases[_i].mode != SIM_TMF_IGNORE)
		ck_assert_uint_ge(ms.tmf_abort, 1);
	if (tmf_cases[_i].lun_reset)
		ck_assert_uint_ge(ms.tmf_lun_reset, 1);
	ck_assert_uint_eq(ds.resets, tmf_cases[_i].device_reset ? 1 : 0);
	if (tmf_cases[_i].mode == SIM_TMF_REJECT_ABORT)
		ck_assert_uint_ge(ds.tmf_rejected, 1);
	ck_assert_uint_eq(sim_virtio_held(model), 0);
	ostor_task_free(t);
	/* Still usable. */
	ck_assert_int_eq(run_rw(false, 16, buf, sizeof(buf), NULL), OSTOR_RESULT_GOOD);
}
END_TEST

START_TEST(fault_31_cancel_aborts_once)
{
	uint8_t buf[512];
	ostor_task *t;
	int calls = 0;

	open_spec("sim:transport=virtio,timeout=50");
	sim_virtio_inject(model, SIM_VF_HOLD, 1, SIM_TMF_ANSWER_FIRST);
	ck_assert_int_eq(ostor_task_new(dev, &t), 0);
	prep_rw(t, false, 0, buf, sizeof(buf));
	ck_assert_int_eq(ostor_task_submit(t, (struct ostor_completion){ cb, &calls, NULL }), 0);
	for (uint64_t end = ostori_now_ms() + 1000; sim_virtio_held(model) == 0 && ostori_now_ms() < end;)
		ostor_handle_events(ctx, 1);
	ck_assert_uint_eq(sim_virtio_held(model), 1);
	ck_assert_int_eq(ostor_task_cancel(t), 0);
	for (uint64_t end = ostori_now_ms() + 2000; !calls && ostori_now_ms() < end;)
		ostor_handle_events(ctx, 5);
	ck_assert_int_eq(calls, 1);
	ck_assert_int_eq(ostor_task_result(t), OSTOR_RESULT_ABORTED);
	ostor_task_free(t);
}
END_TEST

/* ---- 13: events ------------------------------------------------------------------------------------ */

static uint64_t want_count;
static bool rescans_reached(void) { return drv_stats().rescans >= want_count; }
static bool removed_reached(void) { return drv_stats().removed >= want_count; }
static bool param_reached(void) { return drv_stats().param_changes >= want_count; }
static bool missed_reached(void) { return drv_stats().events_missed >= want_count; }
static bool short_reached(void) { return drv_stats().short_events >= want_count; }

START_TEST(fault_32_event_hotplug_and_remove)
{
	struct ostor_lun_addr *luns;
	size_t n;
	uint8_t buf[512];

	open_spec(_i ? "sim:transport=virtio,packed,intr" : "sim:transport=virtio");
	ck_assert_int_eq(ostor_device_luns(dev, &luns, &n), 0);
	ck_assert_uint_eq(n, 1);
	free(luns);
	ck_assert_int_eq(sim_virtio_hotplug(model, 3, true, 4096), 0);
	want_count = 1;
	ck_assert(wait_for(rescans_reached, 2000));
	ck_assert_int_eq(ostor_device_luns(dev, &luns, &n), 0);
	ck_assert_uint_eq(n, 2);
	ck_assert_uint_eq(luns[1].lun, 3);
	free(luns);
	ck_assert_int_eq(ostor_read_blocks(dev, 0, 3, 0, 1, buf), 0);

	ck_assert_int_eq(sim_virtio_hotplug(model, 3, false, 0), 0);
	ck_assert(wait_for(removed_reached, 2000));
	ck_assert(vscsi_lun_gone(sim_virtio_driver(model), 0, 3));
	ck_assert_int_eq(ostor_read_blocks(dev, 0, 3, 0, 1, buf), OSTOR_ERROR_NO_DEVICE);
	ck_assert_int_eq(ostor_read_blocks(dev, 0, 0, 0, 1, buf), 0);

	ck_assert_int_eq(sim_virtio_hotplug(model, 3, true, 4096), 0);
	want_count = 2;
	ck_assert(wait_for(rescans_reached, 2000));
	ck_assert_int_eq(ostor_read_blocks(dev, 0, 3, 0, 1, buf), 0);
}
END_TEST

START_TEST(fault_32_event_param_change)
{
	struct ostor_lun_info li = OSTOR_LUN_INFO_INIT;

	open_spec("sim:transport=virtio");
	ck_assert_int_eq(ostor_lun_info(dev, 0, 0, &li), 0);
	ck_assert_uint_eq(li.blocks, 131072);
	ck_assert_int_eq(sim_virtio_resize(model, 0, 262144), 0);
	want_count = 1;
	ck_assert(wait_for(param_reached, 2000));
	/* The cached capacity was dropped by the event: read again. */
	ck_assert_int_eq(ostor_lun_info(dev, 0, 0, &li), 0);
	ck_assert_uint_eq(li.blocks, 262144);
}
END_TEST

START_TEST(fault_32_event_missed_and_short)
{
	struct vscsi_stats st;
	uint8_t buf[512];

	open_spec("sim:transport=virtio");
	/* A removed-then-missed sequence: the missed flag forgets all. */
	sim_virtio_post_event(model, VIRTIO_SCSI_T_TRANSPORT_RESET, 0, 0, VIRTIO_SCSI_EVT_RESET_REMOVED);
	want_count = 1;
	ck_assert(wait_for(removed_reached, 2000));
	ck_assert_int_eq(ostor_read_blocks(dev, 0, 0, 0, 1, buf), OSTOR_ERROR_NO_DEVICE);
	sim_virtio_post_event(model, VIRTIO_SCSI_T_NO_EVENT | VIRTIO_SCSI_T_EVENTS_MISSED, 0, 0, 0);
	ck_assert(wait_for(missed_reached, 2000));
	ck_assert_int_eq(ostor_read_blocks(dev, 0, 0, 0, 1, buf), 0);

	/* A short event is ignored, its buffer posted again: 20 more events
	 * than buffers still all arrive. */
	sim_virtio_inject(model, SIM_VF_SHORT_EVENT, 1, 4);
	sim_virtio_post_event(model, VIRTIO_SCSI_T_TRANSPORT_RESET, 0, 0, VIRTIO_SCSI_EVT_RESET_REMOVED);
	ck_assert(wait_for(short_reached, 2000));
	st = drv_stats();
	ck_assert_uint_eq(st.removed, 1); /* the short one was not acted on */
	ck_assert_int_eq(ostor_read_blocks(dev, 0, 0, 0, 1, buf), 0);
	for (int i = 0; i < 36; i++)
		sim_virtio_post_event(model, VIRTIO_SCSI_T_PARAM_CHANGE, 0, 0, 0x2a | (0x09 << 8));
	want_count = 36;
	ck_assert(wait_for(param_reached, 3000));
}
END_TEST

/* ---- lost notifications (issue 16) --------------------------------------------------------- */

static const char *const lost_specs[] = {
	"sim:transport=virtio", "sim:transport=virtio,packed",
	"sim:transport=virtio,intr", "sim:transport=virtio,packed,intr",
	"sim:transport=virtio,no-event-idx", "sim:transport=virtio,packed,no-event-idx",
};

static uint64_t request_queue_renotifies(void)
{
	struct ostor_virtio_queue_info qi = OSTOR_VIRTIO_QUEUE_INFO_INIT;

	ck_assert_int_eq(ostor_virtio_queue_info(dev, 2, &qi), 0);
	return qi.renotifies;
}

/* A notification the device never gets (QEMU before 8.1 under one-vCPU
 * TCG loses them: the guest's fences are dropped, so the driver's avail
 * publish and the device's event-index publish can cross).  The device
 * model looks at the ring only when notified, as QEMU does: without the
 * driver's watch the read would sit there until its timeout. */
START_TEST(lost_notification_recovered)
{
	static uint8_t buf[4096];
	struct sim_virtio_stats st;
	ostor_task *t;

	open_spec(lost_specs[_i]);
	ck_assert_int_eq(ostor_task_new(dev, &t), 0);
	sim_virtio_wait_idle(model);
	sim_virtio_inject(model, SIM_VF_LOST_NOTIFY, 1, 0);
	prep_rw(t, false, 8, buf, sizeof(buf));
	/* Far below the 30 s default, far above the watch's milliseconds:
	 * only a stall reaches it. */
	ck_assert_int_eq(ostor_task_set_timeout(t, 10000), 0);
	ck_assert_int_eq(ostor_task_execute(t), 0);
	ck_assert_int_eq(ostor_task_result(t), OSTOR_RESULT_GOOD);
	ck_assert_uint_eq(ostor_task_transferred(t), sizeof(buf));
	ostor_task_free(t);
	sim_virtio_get_stats(model, &st);
	ck_assert_uint_eq(st.lost_notifies, 1);
	ck_assert_uint_ge(request_queue_renotifies(), 1);
	ck_assert_uint_eq(drv_stats().resets, 0);
	ck_assert_uint_eq(drv_stats().tmfs, 0);
}
END_TEST

struct stress_slot {
	ostor_task *t;
	uint8_t buf[4096];
	uint64_t lba;
	bool busy;
};

static unsigned int stress_bad, stress_done;

static void stress_done_cb(ostor_task *t, void *ud)
{
	struct stress_slot *s = ud;
	uint64_t want = s->lba * 0x9e3779b97f4a7c15ull;

	if (ostor_task_result(t) != OSTOR_RESULT_GOOD || memcmp(s->buf, &want, sizeof(want)))
		stress_bad++;
	stress_done++;
	s->busy = false;
}

/* QD32 and QD128 random reads with data checks, the first notifications
 * lost, on split and packed rings, polled and interrupts, through the
 * shared queue and as the queue's owner (the benchmark's path). */
START_TEST(lost_notifications_under_load)
{
	static const char *const specs[] = {
		"sim:transport=virtio,queue-size=256,size=8M", "sim:transport=virtio,packed,queue-size=256,size=8M",
		"sim:transport=virtio,intr,queue-size=256,size=8M",
		"sim:transport=virtio,packed,intr,queue-size=256,size=8M",
	};
	const unsigned int qd = (_i & 4) ? 128 : 32, total = 4000;
	const bool owner = _i & 8;
	struct stress_slot *slot = calloc(qd, sizeof(*slot));
	uint64_t seed = 88172645463325252ull, end;
	static uint8_t blocks[64 * 512];
	unsigned int submitted = 0;

	ck_assert_ptr_nonnull(slot);
	open_spec(specs[_i & 3]);
	/* Every block starts with its LBA times a constant (64 blocks a write:
	 * one at a time made the fill most of the test under TSan). */
	for (uint64_t lba = 0; lba < 16384; lba += 64) {
		for (uint64_t k = 0; k < 64; k++) {
			uint64_t v = (lba + k) * 0x9e3779b97f4a7c15ull;

			memcpy(blocks + k * 512, &v, sizeof(v));
		}
		ck_assert_int_eq(ostor_write_blocks(dev, 0, 0, lba, 64, blocks), 0);
	}
	if (owner)
		ck_assert_int_eq(ostor_virtio_queue_acquire(dev, 0), 0);
	sim_virtio_inject(model, SIM_VF_LOST_NOTIFY, 40, 0);
	stress_bad = stress_done = 0;
	for (unsigned int i = 0; i < qd; i++)
		ck_assert_int_eq(ostor_task_new(dev, &slot[i].t), 0);
	end = ostori_now_ms() + 60000;
	while (stress_done < total && ostori_now_ms() < end) {
		for (unsigned int i = 0; i < qd && submitted < total; i++) {
			if (slot[i].busy)
				continue;
			seed ^= seed << 13;
			seed ^= seed >> 7;
			seed ^= seed << 17;
			slot[i].lba = (seed % 2048) * 8;
			prep_rw(slot[i].t, false, slot[i].lba, slot[i].buf, sizeof(slot[i].buf));
			slot[i].busy = true;
			ck_assert_int_eq(ostor_task_submit(slot[i].t,
							   (struct ostor_completion){ stress_done_cb, &slot[i], NULL }), 0);
			submitted++;
		}
		if (owner)
			ck_assert_int_ge(ostor_virtio_queue_poll(dev), 0);
		ostor_handle_events(ctx, owner ? 0 : 5);
	}
	ck_assert_uint_eq(stress_done, total);
	ck_assert_uint_eq(stress_bad, 0);
	ck_assert_uint_eq(drv_stats().resets, 0);
	ck_assert_uint_ge(request_queue_renotifies(), 1);
	for (unsigned int i = 0; i < qd; i++)
		ostor_task_free(slot[i].t);
	if (owner)
		ostor_virtio_queue_release(dev);
	free(slot);
}
END_TEST

/* ---- configuration keys of [virtio_scsi] (issue 8) --------------------------------------- */

/* A context reading text as its configuration file. */
static void init_with_config(const char *text)
{
	char path[] = "/tmp/ostor-vscsi-confXXXXXX";
	int fd = mkstemp(path);

	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(write(fd, text, strlen(text)), (ssize_t)strlen(text));
	close(fd);
	ostor_exit(ctx);
	ck_assert_int_eq(ostor_init(&ctx, path), 0);
	ostor_set_log_level(ctx, getenv("VDEBUG") ? OSTOR_LOG_DEBUG : OSTOR_LOG_NONE);
	unlink(path);
}

/* scsi_command_timeout is the timeout of every command that sets none. */
START_TEST(config_command_timeout)
{
	uint8_t buf[4096];
	ostor_task *t;

	init_with_config("[virtio_scsi]\nscsi_command_timeout = 200\n");
	open_spec("sim:transport=virtio,timeout=50");
	sim_virtio_inject(model, SIM_VF_HOLD, 1, SIM_TMF_ANSWER_FIRST);
	ck_assert_int_eq(ostor_task_new(dev, &t), 0);
	prep_rw(t, false, 16, buf, sizeof(buf));
	ck_assert_int_eq(ostor_task_execute(t), 0);
	ck_assert_uint_eq(t->timeout_ms, 200);
	ck_assert_int_eq(ostor_task_result(t), OSTOR_RESULT_TIMEOUT);
	/* One with its own timeout keeps it. */
	prep_rw(t, false, 16, buf, sizeof(buf));
	ck_assert_int_eq(ostor_task_set_timeout(t, 5000), 0);
	ck_assert_int_eq(ostor_task_execute(t), 0);
	ck_assert_uint_eq(t->timeout_ms, 5000);
	ck_assert_int_eq(ostor_task_result(t), OSTOR_RESULT_GOOD);
	ostor_task_free(t);
}
END_TEST

/* device_max_count: one more open fails and names the key. */
START_TEST(config_device_max_count)
{
	ostor_device *d[3] = { NULL };

	init_with_config("[virtio_scsi]\ndevice_max_count = 2\n");
	ck_assert_int_eq(ostor_open(ctx, "sim:transport=virtio", &d[0]), 0);
	ck_assert_int_eq(ostor_open(ctx, "sim:transport=virtio,packed", &d[1]), 0);
	ck_assert_int_eq(ostor_open(ctx, "sim:transport=virtio", &d[2]), OSTOR_ERROR_BUSY);
	ck_assert_ptr_nonnull(strstr(ostor_last_error(), "device_max_count"));
	ck_assert_ptr_null(d[2]);
	/* Other kinds of devices do not count. */
	ck_assert_int_eq(ostor_open(ctx, "sim:", &d[2]), 0);
	ck_assert_int_eq(ostor_close(d[2]), 0);
	ck_assert_int_eq(ostor_close(d[1]), 0);
	ck_assert_int_eq(ostor_open(ctx, "sim:transport=virtio", &d[1]), 0);
	ck_assert_int_eq(ostor_close(d[1]), 0);
	ck_assert_int_eq(ostor_close(d[0]), 0);
}
END_TEST

/* ---- device events (issue 8) --------------------------------------------------------------- */

#define MAX_SEEN 64
static struct ostor_event seen[MAX_SEEN];
static int nseen, handler_frees;

static void on_event(const struct ostor_event *ev, void *ud)
{
	(void)ud;
	if (nseen < MAX_SEEN)
		seen[nseen] = *ev;
	nseen++;
}

static void on_event_free(void *ud)
{
	(void)ud;
	handler_frees++;
}

static int count_seen(enum ostor_event_type type, uint32_t target, uint32_t lun)
{
	int n = 0;

	for (int i = 0; i < nseen && i < MAX_SEEN; i++)
		n += seen[i].type == type && seen[i].target == target && seen[i].lun == lun &&
		     (seen[i].dev == dev || (!seen[i].dev && type == OSTOR_EVENT_LUNS_CHANGED));
	return n;
}

static int want_type, want_target, want_lun, want_n;

static bool event_seen(void)
{
	return count_seen(want_type, want_target, want_lun) >= want_n;
}

static void expect_event(enum ostor_event_type type, uint32_t target, uint32_t lun, int n)
{
	want_type = type;
	want_target = (int)target;
	want_lun = (int)lun;
	want_n = n;
	ck_assert_msg(wait_for(event_seen, 5000), "no %s event for %d:%d (%d seen)", ostor_event_name(type),
		      (int)target, (int)lun, nseen);
}

/* Hot-plug, removal, capacity change, LUN inventory change, lost events
 * and a device reset reach the handler, on the event loop. */
START_TEST(device_events_virtio)
{
	uint8_t buf[512];

	nseen = handler_frees = 0;
	open_spec(_i ? "sim:transport=virtio,packed,intr" : "sim:transport=virtio");
	ck_assert_int_eq(ostor_set_event_handler(ctx, (struct ostor_event_handler){ on_event, NULL, on_event_free }), 0);
	ck_assert_int_eq(sim_virtio_hotplug(model, 3, true, 4096), 0);
	expect_event(OSTOR_EVENT_LUN_ADDED, 0, 3, 1);
	ck_assert_int_eq(sim_virtio_hotplug(model, 3, false, 0), 0);
	expect_event(OSTOR_EVENT_LUN_REMOVED, 0, 3, 1);
	ck_assert_int_eq(sim_virtio_resize(model, 0, 8192), 0);
	expect_event(OSTOR_EVENT_CAPACITY_CHANGED, 0, 0, 1);
	ck_assert_uint_eq(seen[nseen - 1].asc, 0x2a);
	ck_assert_uint_eq(seen[nseen - 1].ascq, 0x09);
	sim_virtio_post_event(model, VIRTIO_SCSI_T_PARAM_CHANGE, 0, 0, 0x3f | (0x0e << 8));
	expect_event(OSTOR_EVENT_LUNS_CHANGED, 0, OSTOR_EVENT_ALL, 1);
	sim_virtio_post_event(model, VIRTIO_SCSI_T_NO_EVENT | VIRTIO_SCSI_T_EVENTS_MISSED, 0, 0, 0);
	expect_event(OSTOR_EVENT_LUNS_CHANGED, OSTOR_EVENT_ALL, OSTOR_EVENT_ALL, 1);
	ck_assert_int_eq(ostor_virtio_reset(dev), 0);
	expect_event(OSTOR_EVENT_DEVICE_RESET, OSTOR_EVENT_ALL, OSTOR_EVENT_ALL, 1);
	ck_assert_int_eq(ostor_read_blocks(dev, 0, 0, 0, 1, buf), 0);
	/* Replacing the handler frees the old one; without one nothing is kept. */
	ck_assert_int_eq(ostor_set_event_handler(ctx, (struct ostor_event_handler){ NULL, NULL, NULL }), 0);
	ck_assert_int_eq(handler_frees, 1);
	nseen = 0;
	ck_assert_int_eq(sim_virtio_hotplug(model, 4, true, 4096), 0);
	for (uint64_t end = ostori_now_ms() + 300; ostori_now_ms() < end;)
		ostor_handle_events(ctx, 10);
	ck_assert_int_eq(nseen, 0);
}
END_TEST

/* ---- task management API (issue 8) ------------------------------------------------------------ */

static const struct {
	enum sim_virtio_tmf_mode mode;
	int outcome;
} abort_cases[] = {
	{ SIM_TMF_ANSWER_FIRST, OSTOR_TMF_DONE },      /* ABORT TASK does it */
	{ SIM_TMF_COMMAND_FIRST, OSTOR_TMF_DONE },
	{ SIM_TMF_REJECT_ABORT, OSTOR_TMF_DONE },      /* LOGICAL UNIT RESET does it */
	{ SIM_TMF_COMPLETE_NOTHING, OSTOR_TMF_DONE },  /* a device reset gives it back */
	{ SIM_TMF_IGNORE, OSTOR_TMF_DONE },
};

/* ostor_task_abort on a command the device sits on: it comes back once,
 * aborted, whatever it takes. */
START_TEST(tmf_api_abort)
{
	uint8_t buf[4096];
	ostor_task *t;
	int calls = 0;
	char spec[64];
	/* The task management timeout: short where the device never answers
	 * (waiting it out is the point), long where it answers (a late device
	 * thread on a loaded machine must not turn an answer into escalation). */
	bool unanswered = abort_cases[_i].mode == SIM_TMF_COMPLETE_NOTHING || abort_cases[_i].mode == SIM_TMF_IGNORE;

	snprintf(spec, sizeof(spec), "sim:transport=virtio,%stimeout=%u", _i % 2 ? "packed," : "",
		 unanswered ? 50u : 10000u);
	open_spec(spec);
	ck_assert_int_eq(ostor_task_new(dev, &t), 0);
	/* Not in flight: nothing to abort. */
	prep_rw(t, false, 16, buf, sizeof(buf));
	ck_assert_int_eq(ostor_task_abort(t), OSTOR_TMF_COMMAND_COMPLETED);
	sim_virtio_inject(model, SIM_VF_HOLD, 1, abort_cases[_i].mode);
	ck_assert_int_eq(ostor_task_submit(t, (struct ostor_completion){ cb, &calls, NULL }), 0);
	ck_assert_int_eq(ostor_task_abort(t), abort_cases[_i].outcome);
	ck_assert_int_eq(calls, 1);
	ck_assert_int_eq(ostor_task_result(t), OSTOR_RESULT_ABORTED);
	for (uint64_t end = ostori_now_ms() + 200; ostori_now_ms() < end;)
		ostor_handle_events(ctx, 5);
	ck_assert_int_eq(calls, 1); /* never twice */
	ck_assert_uint_eq(sim_virtio_held(model), 0);
	{
		struct sim_virtio_stats ms;

		sim_virtio_get_stats(model, &ms);
		ck_assert_uint_ge(ms.tmf_abort, abort_cases[_i].mode == SIM_TMF_IGNORE ? 0 : 1);
		if (abort_cases[_i].mode == SIM_TMF_REJECT_ABORT)
			ck_assert_uint_ge(ms.tmf_lun_reset, 1);
		ck_assert_uint_eq(drv_stats().resets, unanswered ? 1 : 0);
	}
	ostor_task_free(t);
	ck_assert_int_eq(run_rw(false, 16, buf, sizeof(buf), NULL), OSTOR_RESULT_GOOD);
}
END_TEST

/* LUN, target and device resets: the right task management function, the
 * held command given back once as aborted, an unanswered TMF escalated. */
START_TEST(tmf_api_resets)
{
	struct sim_virtio_stats ms;
	uint8_t buf[4096];
	ostor_task *t;
	int calls = 0;

	/* Answered resets: a timeout no loaded machine reaches (50 ms made
	 * the answered LUN reset escalate when the device thread was late). */
	open_spec("sim:transport=virtio,timeout=10000");
	ck_assert_int_eq(ostor_task_new(dev, &t), 0);
	sim_virtio_inject(model, SIM_VF_HOLD, 1, SIM_TMF_ANSWER_FIRST);
	prep_rw(t, false, 16, buf, sizeof(buf));
	ck_assert_int_eq(ostor_task_submit(t, (struct ostor_completion){ cb, &calls, NULL }), 0);
	sim_virtio_wait_idle(model);
	ck_assert_int_eq(ostor_reset(dev, OSTOR_RESET_LUN, 0, 0), OSTOR_TMF_DONE);
	for (uint64_t end = ostori_now_ms() + 3000; !calls && ostori_now_ms() < end;)
		ostor_handle_events(ctx, 5);
	ck_assert_int_eq(calls, 1);
	ck_assert_int_eq(ostor_task_result(t), OSTOR_RESULT_ABORTED);
	sim_virtio_get_stats(model, &ms);
	ck_assert_uint_eq(ms.tmf_lun_reset, 1);
	ck_assert_int_eq(ostor_reset(dev, OSTOR_RESET_TARGET, 0, 0), OSTOR_TMF_DONE);
	sim_virtio_get_stats(model, &ms);
	ck_assert_uint_eq(ms.tmf_nexus_reset, 1);
	ck_assert_uint_eq(drv_stats().resets, 0);
	ck_assert_int_eq(ostor_reset(dev, OSTOR_RESET_DEVICE, 0, 0), OSTOR_TMF_DONE);
	ck_assert_uint_eq(drv_stats().resets, 1);
	/* A device that never answers: the LUN reset becomes a device reset
	 * (a short timeout: waiting for it is the point). */
	ostor_task_free(t);
	ck_assert_int_eq(ostor_close(dev), 0);
	dev = NULL;
	open_spec("sim:transport=virtio,timeout=50");
	ck_assert_int_eq(ostor_task_new(dev, &t), 0);
	calls = 1;
	sim_virtio_inject(model, SIM_VF_HOLD, 1, SIM_TMF_IGNORE);
	prep_rw(t, false, 16, buf, sizeof(buf));
	ck_assert_int_eq(ostor_task_submit(t, (struct ostor_completion){ cb, &calls, NULL }), 0);
	sim_virtio_wait_idle(model);
	ck_assert_int_eq(ostor_reset(dev, OSTOR_RESET_LUN, 0, 0), OSTOR_TMF_ESCALATED);
	for (uint64_t end = ostori_now_ms() + 3000; calls < 2 && ostori_now_ms() < end;)
		ostor_handle_events(ctx, 5);
	ck_assert_int_eq(calls, 2);
	ck_assert_int_eq(ostor_task_result(t), OSTOR_RESULT_ABORTED);
	ck_assert_uint_eq(drv_stats().resets, 1);
	ck_assert_int_eq(ostor_reset(dev, 7, 0, 0), OSTOR_ERROR_INVALID_PARAM);
	ostor_task_free(t);
	ck_assert_int_eq(run_rw(false, 16, buf, sizeof(buf), NULL), OSTOR_RESULT_GOOD);
}
END_TEST

/* ---- MSI-X style: one interrupt fd per request queue ---------------------------------- */

/* Whether fd is in the first n of fds. */
static bool has_fd(const struct pollfd *fds, int n, int fd)
{
	for (int i = 0; i < n; i++)
		if (fds[i].fd == fd)
			return true;
	return false;
}

struct owner_run {
	pthread_barrier_t both_own;    /* both threads hold their queue */
	pthread_barrier_t looked;      /* the other has taken its fd set */
	struct pollfd fds[16];
	int nfds, calls, polls;
	enum ostor_result result;
	uint8_t buf[4096];
};

/* Owns request queue 0: reads one block, waiting in poll() on the
 * descriptors the library gives this thread only. */
static void *queue0_owner(void *arg)
{
	struct owner_run *o = arg;
	ostor_task *t;

	if (ostor_queue_acquire(dev, 0) != 0) {
		pthread_barrier_wait(&o->both_own);
		pthread_barrier_wait(&o->looked);
		return NULL;
	}
	o->nfds = ostor_get_pollfds(ctx, o->fds, 16);
	pthread_barrier_wait(&o->both_own);
	pthread_barrier_wait(&o->looked);
	if (ostor_task_new(dev, &t) == 0) {
		prep_rw(t, false, 0, o->buf, sizeof(o->buf));
		if (ostor_task_submit(t, (struct ostor_completion){ cb, &o->calls, NULL }) == 0) {
			for (uint64_t end = ostori_now_ms() + 30000; !o->calls && ostori_now_ms() < end;) {
				struct pollfd p[16];

				memcpy(p, o->fds, sizeof(p));
				if (poll(p, (nfds_t)o->nfds, 1000) > 0)
					o->polls++;
				ostor_queue_poll(dev);
			}
			o->result = ostor_task_result(t);
		}
		ostor_task_free(t);
	}
	ostor_queue_release(dev);
	return NULL;
}

START_TEST(per_queue_interrupts)
{
	struct pollfd all[16], mine[16];
	struct owner_run o = { .result = OSTOR_RESULT_TRANSPORT_ERROR };
	int nall, nmine, q0fd = -1, q1fd = -1;
	pthread_t th;

	open_spec(_i ? "sim:transport=virtio,packed,intr,msix,queues=2" :
		       "sim:transport=virtio,intr,msix,queues=2");
	ck_assert_int_eq(ostor_queue_count(dev), 2);
	/* Nobody owns a queue: the shared fd and both queues' own (the
	 * core adds descriptors of its own: compare sets, not counts). */
	nall = ostor_get_pollfds(ctx, all, 16);
	ck_assert_int_ge(nall, 3);
	ck_assert_int_le(nall, 16);
	/* This thread takes queue 1, another queue 0: exactly one fd, queue
	 * 0's, leaves this thread's set. */
	ck_assert_int_eq(ostor_queue_acquire(dev, 1), 1);
	pthread_barrier_init(&o.both_own, NULL, 2);
	pthread_barrier_init(&o.looked, NULL, 2);
	ck_assert_int_eq(pthread_create(&th, NULL, queue0_owner, &o), 0);
	pthread_barrier_wait(&o.both_own);
	nmine = ostor_get_pollfds(ctx, mine, 16);
	pthread_barrier_wait(&o.looked);
	ck_assert_int_eq(pthread_join(th, NULL), 0);
	pthread_barrier_destroy(&o.both_own);
	pthread_barrier_destroy(&o.looked);
	ck_assert_int_le(nmine, 16);
	for (int i = 0; i < nall; i++)
		if (!has_fd(mine, nmine, all[i].fd)) {
			ck_assert_int_eq(q0fd, -1);
			q0fd = all[i].fd;
		}
	ck_assert_int_ge(q0fd, 0);
	/* The owner of queue 0 waited on its own fd, not on queue 1's. */
	ck_assert_int_le(o.nfds, 16);
	ck_assert(has_fd(o.fds, o.nfds, q0fd));
	for (int i = 0; i < nall; i++)
		if (!has_fd(o.fds, o.nfds, all[i].fd)) {
			ck_assert_int_eq(q1fd, -1);
			q1fd = all[i].fd;
		}
	ck_assert_int_ge(q1fd, 0);
	ck_assert(has_fd(mine, nmine, q1fd));
	ck_assert_int_eq(o.calls, 1);
	ck_assert_int_eq(o.result, OSTOR_RESULT_GOOD);
	ck_assert_int_ge(o.polls, 1);
	/* Queue 0's completion did not touch queue 1's fd. */
	ck_assert_int_eq(poll(&(struct pollfd){ .fd = q1fd, .events = POLLIN }, 1, 0), 0);
	ostor_queue_release(dev);
}
END_TEST

/* ---- a retried block request, completed on a thread in a synchronous discovery ---- */

/* The chaos campaign's lost request (ChangeLog): thread B reads a LUN it
 * does not know yet, so its synchronous block helper first discovers it
 * (INQUIRY ... READ CAPACITY, each a synchronous task).  While B handles
 * events in there, it runs the completion of A's block request, which the
 * block layer retries from its callback (UNIT ATTENTION).  B's poll then
 * finds the retry done; its completion must reach A's callback, however
 * many synchronous commands B still sends.  One thread plays both parts:
 * A is an asynchronous read; H, right behind it, lets the device finish
 * what is in the ring from its callback, so the retry is answered before
 * B's next poll; a lost notification keeps B's INQUIRY in the ring until
 * then. */
static int retried_done, retried_result;

static void retried_cb(ostor_device *d, int result, void *ud)
{
	retried_result = result;
	retried_done++;
}

static void let_device_finish(ostor_task *t, void *ud)
{
	sim_virtio_wait_idle(model);
	(*(int *)ud)++;
}

static bool retried_finished(void)
{
	return retried_done > 0;
}

START_TEST(retry_completed_during_discovery)
{
	static uint8_t a[512], b[512];
	static const uint8_t tur[6] = { 0 };
	ostor_task *h;
	int h_done = 0;

	retried_done = 0;
	retried_result = 1;
	open_spec("sim:transport=virtio,size=8M,luns=2");
	/* LUN 0 known: A goes out at once. */
	ck_assert_int_eq(ostor_read_blocks(dev, 0, 0, 0, 1, a), 0);
	ck_assert_int_eq(sim_target_inject_check(ostori_sim_device_target(dev), 0, -1, 1, 0x06, 0x29, 0x00), 0);
	ck_assert_int_eq(ostor_read_blocks_async(dev, 0, 0, 8, 1, a,
						 (struct ostor_block_completion){ retried_cb, NULL, NULL }), 0);
	ck_assert_int_eq(ostor_task_new(dev, &h), 0);
	ck_assert_int_eq(ostor_task_set_lun(h, 0, 0), 0);
	ck_assert_int_eq(ostor_task_set_cdb(h, tur, sizeof(tur)), 0);
	ck_assert_int_eq(ostor_task_submit(h, (struct ostor_completion){ let_device_finish, &h_done }), 0);
	/* A (UNIT ATTENTION) and H answered, not polled yet. */
	sim_virtio_wait_idle(model);
	sim_virtio_inject(model, SIM_VF_LOST_NOTIFY, 1, 0);
	/* B: LUN 1 is discovered first. */
	ck_assert_msg(ostor_read_blocks(dev, 0, 1, 0, 1, b) == 0, "%s", ostor_last_error());
	ck_assert_int_eq(h_done, 1);
	ck_assert_msg(wait_for(retried_finished, 3000), "the retried read never completed");
	ck_assert_int_eq(retried_done, 1);
	ck_assert_int_eq(retried_result, 0);
	ck_assert_uint_eq(ostor_inflight(ctx), 0);
	ostor_task_free(h);
}
END_TEST

/* ---- a device reset and the command running in the target --------------------- */

/* A reset is done when the device no longer touches the driver's memory:
 * the driver then takes every buffer back.  The model used to run a
 * command in the target (unlocked) through a reset and go on writing the
 * READ's data into a buffer whose task had completed (ABORTED) and was
 * being reused - the chaos campaign's garbage read.  A fault hook holds
 * a READ in the target while another thread resets the device. */
static sem_t in_target, target_go;
static atomic_bool hold_read;

static bool hold_in_target(void *ud, struct sim_cmd *cmd)
{
	if (cmd->cdb[0] == 0x28 && atomic_exchange(&hold_read, false)) {
		sem_post(&in_target);
		sem_wait(&target_go);
	}
	return false; /* then run as usual: the data goes into the buffer */
}

static void *reset_device(void *arg)
{
	*(int *)arg = ostor_reset(dev, OSTOR_RESET_DEVICE, 0, 0);
	return NULL;
}

static void *release_target(void *arg)
{
	usleep(300 * 1000);
	sem_post(&target_go);
	return NULL;
}

static bool task_done;

static void note_done(ostor_task *t, void *ud)
{
	task_done = true;
}

static bool read_done(void)
{
	return task_done;
}

START_TEST(reset_waits_for_target)
{
	static uint8_t buf[4096], reuse[4096];
	pthread_t rt, gt;
	ostor_task *t;
	int rr = -1;

	ck_assert_int_eq(sem_init(&in_target, 0, 0), 0);
	ck_assert_int_eq(sem_init(&target_go, 0, 0), 0);
	task_done = false;
	open_spec("sim:transport=virtio,size=8M");
	sim_target_set_fault_hook(ostori_sim_device_target(dev), hold_in_target, NULL);
	ck_assert_int_eq(ostor_task_new(dev, &t), 0);
	prep_rw(t, false, 8, buf, sizeof(buf));
	atomic_store(&hold_read, true);
	ck_assert_int_eq(ostor_task_submit(t, (struct ostor_completion){ note_done, NULL }), 0);
	sem_wait(&in_target);
	ck_assert_int_eq(pthread_create(&rt, NULL, reset_device, &rr), 0);
	ck_assert_int_eq(pthread_create(&gt, NULL, release_target, NULL), 0);
	ck_assert(wait_for(read_done, 5000));
	/* Completed: the buffer is the caller's again, who reuses it. */
	memset(reuse, 0x11, sizeof(reuse));
	memcpy(buf, reuse, sizeof(buf));
	pthread_join(gt, NULL);
	pthread_join(rt, NULL);
	ck_assert_int_eq(rr, OSTOR_TMF_DONE);
	sim_virtio_wait_idle(model);
	ck_assert_msg(!memcmp(buf, reuse, sizeof(buf)), "the device wrote into the buffer after its task "
		      "completed (%s)", ostor_result_name(ostor_task_result(t)));
	ostor_task_free(t);
	sim_target_set_fault_hook(ostori_sim_device_target(dev), NULL, NULL);
	sem_destroy(&in_target);
	sem_destroy(&target_go);
}
END_TEST

/* ---- sim_virtio_set_script: answers written by the test (the fuzzer's seam) ---- */

static int64_t hostile_script(void *arg, enum sim_virtio_script_kind kind, const uint8_t *req,
			      size_t req_len, uint8_t *buf, size_t buf_len)
{
	int *calls = arg;

	(*calls)++;
	if (kind != SIM_SCRIPT_COMMAND || req_len < VIRTIO_SCSI_REQ_HDR + 1 || buf_len < 108)
		return -1;
	if (req[VIRTIO_SCSI_REQ_HDR] == 0x28) {
		/* READ(10): GOOD with resid 0, but a used.len of 4 GiB - 1 */
		memset(buf + 108, 0xc3, buf_len - 108);
		return UINT32_MAX;
	}
	/* CHECK CONDITION, sense_len 5000 of a 96-byte sense area */
	ostori_put_le32(buf, 5000);
	buf[10] = OSTOR_SCSI_STATUS_CHECK_CONDITION;
	buf[11] = VIRTIO_SCSI_S_OK;
	buf[12] = 0x70;
	buf[14] = 0x05;
	buf[19] = 10;
	buf[24] = 0x24;
	return (int64_t)buf_len;
}

START_TEST(script_answers_clamped)
{
	uint8_t cdb[10] = { 0x28, 0, 0, 0, 0, 0, 0, 0, 2, 0 }, tur[6] = { 0 };
	uint8_t buf[1024];
	size_t sl = 0;
	ostor_task *t;
	int calls = 0;

	open_spec("sim:transport=virtio");
	sim_virtio_set_script(model, hostile_script, &calls);
	ck_assert_int_eq(ostor_task_new(dev, &t), 0);
	ck_assert_int_eq(ostor_task_prepare(t, 0, 0, tur, sizeof(tur), OSTOR_DIR_NONE, NULL, 0), 0);
	ck_assert_int_eq(ostor_task_execute(t), 0);
	ck_assert_int_eq(ostor_task_result(t), OSTOR_RESULT_CHECK_CONDITION);
	ck_assert_ptr_nonnull(ostor_task_sense(t, &sl));
	ck_assert_uint_eq(sl, 96);
	ck_assert_uint_ge(drv_stats().sense_clamped, 1);
	ck_assert_int_eq(ostor_task_prepare(t, 0, 0, cdb, sizeof(cdb), OSTOR_DIR_FROM_DEVICE, buf,
					    sizeof(buf)), 0);
	ck_assert_int_eq(ostor_task_execute(t), 0);
	ck_assert_int_eq(ostor_task_result(t), OSTOR_RESULT_GOOD);
	ck_assert_uint_eq(ostor_task_transferred(t), sizeof(buf));
	ck_assert_uint_eq(buf[0], 0xc3);
	ck_assert_uint_ge(drv_stats().len_clamped, 1);
	ck_assert_int_eq(calls, 2);
	sim_virtio_set_script(model, NULL, NULL);
	ck_assert_int_eq(ostor_task_prepare(t, 0, 0, tur, sizeof(tur), OSTOR_DIR_NONE, NULL, 0), 0);
	ck_assert_int_eq(ostor_task_execute(t), 0);
	ck_assert_int_eq(ostor_task_result(t), OSTOR_RESULT_GOOD);
	ck_assert_int_eq(calls, 2);
	ostor_task_free(t);
}
END_TEST

#ifdef OSTOR_HAVE_VIRTIO   /* the PCI transport: not in a build without it */
/* VFIO's no-IOMMU mode (/dev/vfio/noiommu-N) confines nothing: refused
 * unless [virtio_scsi] vfio_noiommu = true, then taken with a warning.
 * Debian's kernel has no such mode (CONFIG_VFIO_NOIOMMU), so directories
 * stand for the function's sysfs node and /dev/vfio. */
START_TEST(vfio_noiommu_refused_unless_configured)
{
	char root[] = "/tmp/ostor-vfio-XXXXXX", sysfs[64], vdir[64], group[96], link[96], conf[96];
	struct ostor_config cfg;
	struct pci_dev p;
	FILE *f;

	ck_assert_ptr_nonnull(mkdtemp(root));
	snprintf(sysfs, sizeof(sysfs), "%s/fn", root);
	snprintf(vdir, sizeof(vdir), "%s/vfio", root);
	snprintf(group, sizeof(group), "%s/noiommu-42", vdir);
	snprintf(link, sizeof(link), "%s/iommu_group", sysfs);
	snprintf(conf, sizeof(conf), "%s/orionstor.conf", root);
	ck_assert_int_eq(mkdir(sysfs, 0700), 0);
	ck_assert_int_eq(mkdir(vdir, 0700), 0);
	ck_assert_int_eq(symlink("../../../kernel/iommu_groups/42", link), 0);
	ck_assert_ptr_nonnull(f = fopen(group, "w"));
	fclose(f);
	memset(&p, 0, sizeof(p));
	p.cfg_fd = p.uio_fd = p.container_fd = p.group_fd = p.device_fd = -1;
	snprintf(p.addr, sizeof(p.addr), "0000:00:04.0");
	snprintf(p.sysfs, sizeof(p.sysfs), "%s", sysfs);
	p.vfio_dir = vdir;
	p.vd.ctx = ctx;

	/* By default: refused before anything is opened, saying why and how. */
	ostori_config_defaults(&cfg);
	ck_assert_int_eq(pci_vfio_open(&p, &cfg), OSTOR_ERROR_ACCESS);
	ck_assert_ptr_nonnull(strstr(ostor_last_error(), "gives no DMA protection"));
	ck_assert_ptr_nonnull(strstr(ostor_last_error(), "vfio_noiommu = true"));
	ck_assert(!p.noiommu);
	ck_assert_int_eq(p.container_fd, -1);
	ck_assert_int_eq(p.iommu_group, 42);

	/* Configured: past the refusal, on to the container (absent here). */
	ck_assert_ptr_nonnull(f = fopen(conf, "w"));
	fputs("[virtio_scsi]\nvfio_noiommu = true\n", f);
	fclose(f);
	ck_assert_int_eq(ostori_config_load_file(&cfg, conf, NULL), 0);
	ck_assert_int_eq(pci_vfio_open(&p, &cfg), OSTOR_ERROR_IO);
	ck_assert(p.noiommu);
	ck_assert_ptr_nonnull(strstr(ostor_last_error(), "/vfio/vfio"));
	pci_vfio_close(&p);

	/* No group node at all: not found, naming it. */
	ck_assert_int_eq(unlink(group), 0);
	p.noiommu = false;
	ck_assert_int_eq(pci_vfio_open(&p, &cfg), OSTOR_ERROR_NOT_FOUND);
	ck_assert_ptr_nonnull(strstr(ostor_last_error(), "/vfio/42 is missing"));
	pci_vfio_close(&p);

	unlink(conf);
	unlink(link);
	rmdir(sysfs);
	rmdir(vdir);
	rmdir(root);
}
END_TEST
#endif

static Suite *suite(void)
{
	Suite *s = suite_create("virtio_scsi");
	TCase *tc = tcase_create("scsi");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, compare_and_write_round_trip);
	tcase_add_loop_test(tc, device_events_virtio, 0, 2);
	tcase_add_loop_test(tc, tmf_api_abort, 0, (int)OSTOR_ARRAY_SIZE(abort_cases));
	tcase_add_test(tc, tmf_api_resets);
	tcase_add_test(tc, config_command_timeout);
	tcase_add_test(tc, config_device_max_count);
	tcase_add_loop_test(tc, lost_notification_recovered, 0, (int)OSTOR_ARRAY_SIZE(lost_specs));
	tcase_add_loop_test(tc, lost_notifications_under_load, 0, 16);
	tcase_add_loop_test(tc, per_queue_interrupts, 0, 2);
	tcase_add_test(tc, retry_completed_during_discovery);
	tcase_add_test(tc, reset_waits_for_target);
	tcase_add_test(tc, script_answers_clamped);
#ifdef OSTOR_HAVE_VIRTIO
	tcase_add_test(tc, vfio_noiommu_refused_unless_configured);
#endif
	suite_add_tcase(s, tc);

	/* The fault matrix of issue 14, counted by tests/faults/fault-matrix.sh. */
	tc = tcase_create("fault_matrix");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, fault_25_features_ok_cleared);
	tcase_add_loop_test(tc, fault_26_needs_reset_mid_io, 0, 2);
	tcase_add_test(tc, fault_27_interrupts_before_driver_ok);
	tcase_add_loop_test(tc, fault_27_interrupt_storm, 0, 2);
	tcase_add_test(tc, fault_28_config_generation_unstable);
	tcase_add_test(tc, fault_29_response_codes);
	tcase_add_test(tc, fault_29_busy_retried_with_backoff);
	tcase_add_loop_test(tc, fault_30_sense_and_resid_clamped, 0, 2);
	tcase_add_loop_test(tc, fault_31_tmf_escalation, 0, (int)OSTOR_ARRAY_SIZE(tmf_cases));
	tcase_add_test(tc, fault_31_cancel_aborts_once);
	tcase_add_loop_test(tc, fault_32_event_hotplug_and_remove, 0, 2);
	tcase_add_test(tc, fault_32_event_param_change);
	tcase_add_test(tc, fault_32_event_missed_and_short);
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
