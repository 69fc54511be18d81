/*
 * tests/unit/test_core.c - the core API on simulated devices: specs,
 * errors, handles, the async model, block helpers, sticky flush errors.
 */
#include "core/backend.h"
#include "usb/spec.h"
#include "virtio/spec.h"
#include "sim/backend.h"
#include "sim/target.h"
#include "util/byteorder.h"

#include <check.h>
#include <sched.h>
#include <stdatomic.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static ostor_context *ctx;

static void fill(uint8_t *p, size_t n, unsigned seed)
{
	for (size_t i = 0; i < n; i++)
		p[i] = (uint8_t)(i * 31 + seed * 7 + (i >> 9));
}

static void setup(void)
{
	ck_assert_int_eq(ostor_init(&ctx, ""), 0);
	ostor_set_log_level(ctx, OSTOR_LOG_NONE);
}

static void teardown(void)
{
	ostor_exit(ctx);
	ctx = NULL;
}

/* ---- specs -------------------------------------------------------------- */

START_TEST(spec_good_forms)
{
	struct ostor_spec s;

	ck_assert_int_eq(ostori_spec_parse("sim:", &s), 0);
	ck_assert_str_eq(s.backend, "sim");
	ck_assert_int_eq(s.noptions, 0);

	ck_assert_int_eq(ostori_spec_parse("sim:size=1G,luns=4,readonly,image=/tmp/x", &s), 0);
	ck_assert_int_eq(s.noptions, 4);
	ck_assert_str_eq(s.options[0].key, "size");
	ck_assert_str_eq(s.options[0].value, "1G");
	ck_assert_str_eq(s.options[2].key, "readonly");
	ck_assert_ptr_null(s.options[2].value);
	ck_assert_str_eq(s.options[3].value, "/tmp/x");

	ck_assert_int_eq(ostori_spec_parse("usb:0781:5567", &s), 0);
	ck_assert_str_eq(s.backend, "usb");
	ck_assert_int_eq(ousb_spec(&s)->kind, OUSB_SPEC_ID);
	ck_assert_uint_eq(ousb_spec(&s)->vendor_id, 0x0781);
	ck_assert_uint_eq(ousb_spec(&s)->product_id, 0x5567);
	ck_assert_str_eq(ousb_spec(&s)->serial, "");

	ck_assert_int_eq(ostori_spec_parse("usb:046d:C52B:ABC123", &s), 0);
	ck_assert_uint_eq(ousb_spec(&s)->product_id, 0xc52b);
	ck_assert_str_eq(ousb_spec(&s)->serial, "ABC123");

	ck_assert_int_eq(ostori_spec_parse("usb:3.12", &s), 0);
	ck_assert_int_eq(ousb_spec(&s)->kind, OUSB_SPEC_BUSDEV);
	ck_assert_uint_eq(ousb_spec(&s)->bus, 3);
	ck_assert_uint_eq(ousb_spec(&s)->devnum, 12);

	ck_assert_int_eq(ostori_spec_parse("virtio:00:04.0", &s), 0);
	ck_assert_str_eq(s.backend, "virtio");
	ck_assert_uint_eq(ovirtio_spec(&s)->domain, 0);
	ck_assert_uint_eq(ovirtio_spec(&s)->bus, 0);
	ck_assert_uint_eq(ovirtio_spec(&s)->dev, 4);
	ck_assert_uint_eq(ovirtio_spec(&s)->func, 0);

	ck_assert_int_eq(ostori_spec_parse("virtio:0001:af:1f.7", &s), 0);
	ck_assert_uint_eq(ovirtio_spec(&s)->domain, 1);
	ck_assert_uint_eq(ovirtio_spec(&s)->bus, 0xaf);
	ck_assert_uint_eq(ovirtio_spec(&s)->dev, 0x1f);
	ck_assert_uint_eq(ovirtio_spec(&s)->func, 7);
}
END_TEST

static const char *const bad_specs[] = {
	"", "disk", "sim;", "sim:,", "sim:size=1G,", "sim:=4", "sim:size=", "sim:a=1,a=2",
	"usb:", "usb:781:5567", "usb:0781", "usb:0781:556", "usb:07g1:5567", "usb:0781:5567:",
	"usb:1", "usb:1.", "usb:.3", "usb:1.0", "usb:256.1", "usb:-1.2", "usb:0x1.2",
	"virtio:", "virtio:00:04", "virtio:00:20.0", "virtio:00:04.8", "virtio:0:04.0",
	"virtio:000:00:04.0", "virtio:00000:00:04.0", "virtio:zz:04.0", "virtio:00:04.0x",
	"virtio:1:2:3:4.0", "nvme:0",
};

START_TEST(spec_bad_forms)
{
	struct ostor_spec s;
	const char *text = bad_specs[_i];

	ck_assert_msg(ostori_spec_parse(text, &s) == OSTOR_ERROR_BAD_SPEC, "accepted '%s'", text);
	/* The message names what is accepted. */
	ck_assert_msg(strstr(ostor_last_error(), "sim:") || strstr(ostor_last_error(), "usb:") ||
		      strstr(ostor_last_error(), "virtio:") || strstr(ostor_last_error(), "option"),
		      "unhelpful message for '%s': %s", text, ostor_last_error());
}
END_TEST

START_TEST(spec_long_and_many)
{
	struct ostor_spec s;
	char big[OSTOR_SPEC_MAX_LEN + 16];
	char many[512] = "sim:";

	memset(big, 'a', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	memcpy(big, "sim:", 4);
	ck_assert_int_eq(ostori_spec_parse(big, &s), OSTOR_ERROR_BAD_SPEC);
	for (int i = 0; i < OSTOR_SPEC_MAX_OPTIONS + 1; i++)
		snprintf(many + strlen(many), sizeof(many) - strlen(many), "%sk%d", i ? "," : "", i);
	ck_assert_int_eq(ostori_spec_parse(many, &s), OSTOR_ERROR_BAD_SPEC);
	ck_assert_int_eq(ostori_spec_parse(NULL, &s), OSTOR_ERROR_BAD_SPEC);
}
END_TEST

START_TEST(parse_sizes)
{
	uint64_t v;

	ck_assert_int_eq(ostori_parse_size("4096", &v), 0);
	ck_assert_uint_eq(v, 4096);
	ck_assert_int_eq(ostori_parse_size("64M", &v), 0);
	ck_assert_uint_eq(v, 64ull << 20);
	ck_assert_int_eq(ostori_parse_size("1G", &v), 0);
	ck_assert_uint_eq(v, 1ull << 30);
	ck_assert_int_eq(ostori_parse_size("3TiB", &v), 0);
	ck_assert_uint_eq(v, 3ull << 40);
	ck_assert_int_eq(ostori_parse_size("2kb", &v), 0);
	ck_assert_uint_eq(v, 2048);
	ck_assert_int_eq(ostori_parse_size("1.5G", &v), OSTOR_ERROR_INVALID_PARAM);
	ck_assert_int_eq(ostori_parse_size("-1", &v), OSTOR_ERROR_INVALID_PARAM);
	ck_assert_int_eq(ostori_parse_size("1X", &v), OSTOR_ERROR_INVALID_PARAM);
	ck_assert_int_eq(ostori_parse_size("", &v), OSTOR_ERROR_INVALID_PARAM);
	ck_assert_int_eq(ostori_parse_size("99999999999T", &v), OSTOR_ERROR_INVALID_PARAM);
	ck_assert_int_eq(ostori_parse_size("18446744073709551616", &v), OSTOR_ERROR_INVALID_PARAM);
}
END_TEST

static void free_counter(void *p);

/* ---- errors and misuse ------------------------------------------------ */

START_TEST(error_names)
{
	ck_assert_str_eq(ostor_error_name(OSTOR_ERROR_BAD_SPEC), "OSTOR_ERROR_BAD_SPEC");
	ck_assert_str_eq(ostor_error_name(0), "OSTOR_SUCCESS");
	ck_assert_str_eq(ostor_error_name(12345), "**UNKNOWN**");
	ck_assert_str_eq(ostor_strerror(OSTOR_ERROR_TIMEOUT), "Operation timed out");
	for (int e = OSTOR_ERROR_MISCOMPARE; e <= 0; e++)
		ck_assert_str_ne(ostor_error_name(e), "**UNKNOWN**");
	ck_assert_str_eq(ostor_error_name(OSTOR_ERROR_MISCOMPARE), "OSTOR_ERROR_MISCOMPARE");
	ck_assert_str_eq(ostor_error_name(OSTOR_ERROR_MISCOMPARE - 1), "**UNKNOWN**");
	ck_assert_str_eq(ostor_result_name(OSTOR_RESULT_DEVICE_GONE), "device-gone");
	ck_assert_str_eq(ostor_peripheral_type_name(5), "cdrom");
}
END_TEST

START_TEST(fault_36_api_misuse)
{
	ostor_device *dev;
	ostor_task *t;
	uint8_t buf[512];

	ck_assert_int_eq(ostor_init(NULL, NULL), OSTOR_ERROR_INVALID_PARAM);
	ck_assert_int_eq(ostor_open(NULL, "sim:", &dev), OSTOR_ERROR_INVALID_PARAM);
	ck_assert_int_eq(ostor_open(ctx, NULL, &dev), OSTOR_ERROR_INVALID_PARAM);
	ck_assert_int_eq(ostor_open(ctx, "sim:", NULL), OSTOR_ERROR_INVALID_PARAM);
	ck_assert_int_eq(ostor_open(ctx, "bogus:", &dev), OSTOR_ERROR_BAD_SPEC);
	ck_assert_ptr_null(dev);
	ck_assert_int_eq(ostor_close(NULL), OSTOR_ERROR_INVALID_PARAM);
	ck_assert_int_eq(ostor_task_new(NULL, &t), OSTOR_ERROR_INVALID_PARAM);
	ck_assert_int_eq(ostor_read_blocks(NULL, 0, 0, 0, 1, buf), OSTOR_ERROR_INVALID_PARAM);

	ck_assert_int_eq(ostor_open(ctx, "sim:size=1M", &dev), 0);
	ck_assert_int_eq(ostor_read_blocks(dev, 0, 0, 0, 1, NULL), OSTOR_ERROR_INVALID_PARAM);
	/* zero length is a no-op */
	ck_assert_int_eq(ostor_read_blocks(dev, 0, 0, 0, 0, buf), 0);
	/* LBA past the end, and a count that runs past it, and wrap-around */
	ck_assert_int_eq(ostor_read_blocks(dev, 0, 0, 2048, 1, buf), OSTOR_ERROR_OUT_OF_RANGE);
	ck_assert_int_eq(ostor_read_blocks(dev, 0, 0, 2047, 2, buf), OSTOR_ERROR_OUT_OF_RANGE);
	ck_assert_int_eq(ostor_write_blocks(dev, 0, 0, UINT64_MAX, 1, buf), OSTOR_ERROR_OUT_OF_RANGE);
	ck_assert_ptr_nonnull(strstr(ostor_last_error(), "past the end"));
	ck_assert_int_eq(ostor_read_blocks(dev, 0, 0, 2047, 1, buf), 0);

	ck_assert_int_eq(ostor_task_new(dev, &t), 0);
	ck_assert_int_eq(ostor_task_set_cdb(t, buf, 0), OSTOR_ERROR_INVALID_PARAM);
	ck_assert_int_eq(ostor_task_set_cdb(t, buf, 33), OSTOR_ERROR_INVALID_PARAM);
	ck_assert_int_eq(ostor_task_set_cdb(t, NULL, 6), OSTOR_ERROR_INVALID_PARAM);
	ck_assert_int_eq(ostor_task_set_buffer(t, OSTOR_DIR_FROM_DEVICE, NULL, 10), OSTOR_ERROR_INVALID_PARAM);
	ck_assert_int_eq(ostor_task_set_buffer(t, OSTOR_DIR_NONE, buf, 10), OSTOR_ERROR_INVALID_PARAM);
	ck_assert_int_eq(ostor_task_set_buffer(t, OSTOR_DIR_FROM_DEVICE, buf, 0), OSTOR_ERROR_INVALID_PARAM);
	ck_assert_int_eq(ostor_task_set_buffer(t, (enum ostor_dir)7, buf, 10), OSTOR_ERROR_INVALID_PARAM);
	ck_assert_int_eq(ostor_task_set_iov(t, OSTOR_DIR_FROM_DEVICE, NULL, 1), OSTOR_ERROR_INVALID_PARAM);
	ck_assert_int_eq(ostor_task_set_iov(t, OSTOR_DIR_FROM_DEVICE, NULL, OSTOR_IOV_MAX + 1),
			 OSTOR_ERROR_INVALID_PARAM);
	/* submit without a CDB: refused, .free still called */
	{
		int freed = 0;

		ck_assert_int_eq(ostor_task_submit(t, (struct ostor_completion){ .user_data = &freed,
										   .free = free_counter }),
				 OSTOR_ERROR_INVALID_PARAM);
		ck_assert_int_eq(freed, 1);
	}
	ck_assert_int_eq(ostor_task_result(t), OSTOR_RESULT_PENDING);
	ck_assert_int_eq(ostor_task_cancel(t), OSTOR_ERROR_STATE);
	ck_assert_int_eq(ostor_task_free(t), 0);

	ck_assert_int_eq(ostor_close(dev), 0);
	/* double close is detected, not a use-after-free */
	ck_assert_int_eq(ostor_close(dev), OSTOR_ERROR_INVALID_PARAM);
	ck_assert_ptr_nonnull(strstr(ostor_last_error(), "closed twice"));
}
END_TEST

static void free_counter(void *p)
{
	(*(int *)p)++;
}

/* sim option hold=LBA: a read of that block is held until aborted or its
 * timeout; others go on. */
START_TEST(sim_hold_option)
{
	ostor_device *dev;
	ostor_task *held, *other;
	uint8_t a[512], b[512];
	static const uint8_t rd5[10] = { 0x28, 0, 0, 0, 0, 4, 0, 0, 2, 0 };  /* LBA 4, 2 blocks */
	static const uint8_t rd0[10] = { 0x28, 0, 0, 0, 0, 0, 0, 0, 1, 0 };

	ck_assert_int_eq(ostor_open(ctx, "sim:size=1M,hold=x", &dev), OSTOR_ERROR_BAD_SPEC);
	ck_assert_int_eq(ostor_open(ctx, "sim:size=1M,hold=5,transport=virtio", &dev), OSTOR_ERROR_BAD_SPEC);
	ck_assert_int_eq(ostor_open(ctx, "sim:size=1M,hold=5", &dev), 0);
	ck_assert_int_eq(ostor_task_new(dev, &held), 0);
	ck_assert_int_eq(ostor_task_new(dev, &other), 0);
	for (int owner = 0; owner < 2; owner++) {
		if (owner)
			ck_assert_int_ge(ostor_queue_acquire(dev, -1), 0);
		/* Timeout. */
		ck_assert_int_eq(ostor_task_prepare(held, 0, 0, rd5, 10, OSTOR_DIR_FROM_DEVICE, a, 512), 0);
		ck_assert_int_eq(ostor_task_set_timeout(held, 200), 0);
		ck_assert_int_eq(ostor_task_submit(held, (struct ostor_completion){ 0 }), 0);
		ck_assert_int_eq(ostor_task_prepare(other, 0, 0, rd0, 10, OSTOR_DIR_FROM_DEVICE, b, 512), 0);
		ck_assert_int_eq(ostor_task_execute(other), 0);
		ck_assert_int_eq(ostor_task_result(other), OSTOR_RESULT_GOOD);
		ck_assert_int_eq(ostor_task_result(held), OSTOR_RESULT_PENDING);
		while (ostor_task_result(held) == OSTOR_RESULT_PENDING)
			ck_assert_int_ge(owner ? ostor_queue_poll(dev) : ostor_handle_events(ctx, 100), 0);
		ck_assert_int_eq(ostor_task_result(held), OSTOR_RESULT_TIMEOUT);
		/* Abort. */
		ck_assert_int_eq(ostor_task_prepare(held, 0, 0, rd5, 10, OSTOR_DIR_FROM_DEVICE, a, 512), 0);
		ck_assert_int_eq(ostor_task_submit(held, (struct ostor_completion){ 0 }), 0);
		ck_assert_int_eq(ostor_task_abort(held), OSTOR_TMF_DONE);
		ck_assert_int_eq(ostor_task_result(held), OSTOR_RESULT_ABORTED);
	}
	ostor_queue_release(dev);
	ck_assert_int_eq(ostor_task_free(held), 0);
	ck_assert_int_eq(ostor_task_free(other), 0);
	ck_assert_int_eq(ostor_close(dev), 0);
}
END_TEST

/* ostor_task_prepare: the same task as the four setters, on the owner's
 * queue and on the shared path; its refusals are theirs. */
START_TEST(task_prepare)
{
	ostor_device *dev;
	ostor_task *t;
	uint8_t wbuf[1024], rbuf[1024];
	static const uint8_t wr10[10] = { 0x2a, 0, 0, 0, 0, 7, 0, 0, 2, 0 };
	static const uint8_t rd16[16] = { 0x88, 0, 0, 0, 0, 0, 0, 0, 0, 7, 0, 0, 0, 2, 0, 0 };
	static const uint8_t rd6[6] = { 0x08, 0, 0, 7, 1, 0 };

	ck_assert_int_eq(ostor_open(ctx, "sim:size=1M", &dev), 0);
	ck_assert_int_eq(ostor_task_new(dev, &t), 0);
	for (int owner = 0; owner < 2; owner++) {
		if (owner)
			ck_assert_int_ge(ostor_queue_acquire(dev, -1), 0);
		for (size_t i = 0; i < sizeof(wbuf); i++)
			wbuf[i] = (uint8_t)(i * 7 + owner);
		ck_assert_int_eq(ostor_task_prepare(t, 0, 0, wr10, sizeof(wr10), OSTOR_DIR_TO_DEVICE,
						    wbuf, sizeof(wbuf)), 0);
		ck_assert_int_eq(ostor_task_execute(t), 0);
		ck_assert_int_eq(ostor_task_result(t), OSTOR_RESULT_GOOD);
		memset(rbuf, 0, sizeof(rbuf));
		ck_assert_int_eq(ostor_task_prepare(t, 0, 0, rd16, sizeof(rd16), OSTOR_DIR_FROM_DEVICE,
						    rbuf, sizeof(rbuf)), 0);
		ck_assert_int_eq(ostor_task_execute(t), 0);
		ck_assert_uint_eq(ostor_task_transferred(t), sizeof(rbuf));
		ck_assert_mem_eq(rbuf, wbuf, sizeof(rbuf));
		/* Other CDB lengths go through the setters. */
		memset(rbuf, 0, sizeof(rbuf));
		ck_assert_int_eq(ostor_task_prepare(t, 0, 0, rd6, sizeof(rd6), OSTOR_DIR_FROM_DEVICE,
						    rbuf, 512), 0);
		ck_assert_int_eq(ostor_task_execute(t), 0);
		ck_assert_mem_eq(rbuf, wbuf, 512);
		/* A LUN that does not exist: the target's answer. */
		ck_assert_int_eq(ostor_task_prepare(t, 0, 5, rd16, sizeof(rd16), OSTOR_DIR_FROM_DEVICE,
						    rbuf, sizeof(rbuf)), 0);
		ostor_task_execute(t);
		ck_assert_int_eq(ostor_task_result(t), OSTOR_RESULT_CHECK_CONDITION);
		/* In flight: refused, the task untouched. */
		ck_assert_int_eq(ostor_task_prepare(t, 0, 0, rd16, sizeof(rd16), OSTOR_DIR_FROM_DEVICE,
						    rbuf, sizeof(rbuf)), 0);
		ck_assert_int_eq(ostor_task_submit(t, (struct ostor_completion){ 0 }), 0);
		ck_assert_int_eq(ostor_task_prepare(t, 0, 0, wr10, sizeof(wr10), OSTOR_DIR_TO_DEVICE,
						    wbuf, sizeof(wbuf)), OSTOR_ERROR_STATE);
		while (ostor_task_result(t) == OSTOR_RESULT_PENDING)
			ck_assert_int_ge(ostor_handle_events(ctx, 1000), 0);
		ck_assert_int_eq(ostor_task_result(t), OSTOR_RESULT_GOOD);
	}
	/* Bad arguments: each setter's refusal. */
	ck_assert_int_eq(ostor_task_prepare(NULL, 0, 0, rd16, 16, OSTOR_DIR_FROM_DEVICE, rbuf, 512),
			 OSTOR_ERROR_INVALID_PARAM);
	ck_assert_int_eq(ostor_task_prepare(t, 0, 0, NULL, 16, OSTOR_DIR_FROM_DEVICE, rbuf, 512),
			 OSTOR_ERROR_INVALID_PARAM);
	ck_assert_int_eq(ostor_task_prepare(t, 0, 0, rd16, 33, OSTOR_DIR_FROM_DEVICE, rbuf, 512),
			 OSTOR_ERROR_INVALID_PARAM);
	ck_assert_int_eq(ostor_task_prepare(t, 0, 0, rd16, 16, OSTOR_DIR_FROM_DEVICE, NULL, 512),
			 OSTOR_ERROR_INVALID_PARAM);
	ck_assert_int_eq(ostor_task_prepare(t, 0, 0, rd16, 16, OSTOR_DIR_NONE, rbuf, 512),
			 OSTOR_ERROR_INVALID_PARAM);
	ck_assert_int_eq(ostor_task_prepare(t, 0, 0, rd16, 16, OSTOR_DIR_FROM_DEVICE, rbuf, 0),
			 OSTOR_ERROR_INVALID_PARAM);
	/* No data: TEST UNIT READY. */
	ck_assert_int_eq(ostor_task_prepare(t, 0, 0, (const uint8_t[6]){ 0 }, 6, OSTOR_DIR_NONE, NULL, 0), 0);
	ck_assert_int_eq(ostor_task_execute(t), 0);
	ck_assert_int_eq(ostor_task_result(t), OSTOR_RESULT_GOOD);
	ck_assert_int_eq(ostor_task_free(t), 0);
	ostor_queue_release(dev);
	ck_assert_int_eq(ostor_close(dev), 0);
}
END_TEST

static const char *const bad_sim_specs[] = {
	"sim:size=0", "sim:size=1000", "sim:size=abc", "sim:luns=0", "sim:luns=257", "sim:luns=x",
	"sim:block-size=100", "sim:block-size=8192", "sim:type=tape", "sim:type", "sim:readonly=1",
	"sim:image", "sim:colour=blue", "sim:transport=bogus", "sim:transport",
};

START_TEST(sim_bad_options)
{
	ostor_device *dev = (void *)1;

	ck_assert_msg(ostor_open(ctx, bad_sim_specs[_i], &dev) == OSTOR_ERROR_BAD_SPEC,
		      "accepted %s", bad_sim_specs[_i]);
	ck_assert_ptr_null(dev);
	ck_assert_msg(strlen(ostor_last_error()) > 20, "no message for %s", bad_sim_specs[_i]);
}
END_TEST

START_TEST(device_list_has_sim)
{
	ostor_device_info **list;
	ssize_t n = ostor_get_device_list(ctx, &list);
	bool found = false;

	ck_assert_int_ge(n, 1);
	for (ssize_t i = 0; i < n; i++)
		if (!strcmp(ostor_device_info_spec(list[i]), "sim:")) {
			found = true;
			ck_assert_str_eq(ostor_device_info_backend(list[i]), "sim");
			ck_assert_ptr_nonnull(strstr(ostor_device_info_description(list[i]), "64 MiB"));
		}
	ck_assert_ptr_null(list[n]);
	ck_assert(found);
	ostor_free_device_list(list);
}
END_TEST

/* ---- async model -------------------------------------------------------- */

struct cb_state {
	int calls;
	int freed;
	ostor_task *seen;
};

static void count_cb(ostor_task *t, void *ud)
{
	struct cb_state *s = ud;

	s->calls++;
	s->seen = t;
}

static void count_free(void *ud)
{
	((struct cb_state *)ud)->freed++;
}

START_TEST(async_callbacks_only_from_event_loop)
{
	ostor_device *dev;
	ostor_task *t[4];
	struct cb_state st[4] = { 0 };
	uint8_t data[4][512];
	struct pollfd fds[8];
	int nfds;

	ck_assert_int_eq(ostor_open(ctx, "sim:size=1M", &dev), 0);
	for (int i = 0; i < 4; i++) {
		struct ostor_cdb cdb;

		ck_assert_int_eq(ostor_task_new(dev, &t[i]), 0);
		ostor_scsi_cdb_read10(&cdb, (uint32_t)i, 1, 0);
		ck_assert_int_eq(ostor_task_set_cdb(t[i], cdb.bytes, cdb.len), 0);
		ck_assert_int_eq(ostor_task_set_buffer(t[i], OSTOR_DIR_FROM_DEVICE, data[i], 512), 0);
		ck_assert_int_eq(ostor_task_submit(t[i], (struct ostor_completion){
			.callback = count_cb, .user_data = &st[i], .free = count_free }), 0);
		/* a task in flight cannot be changed or freed */
		ck_assert_int_eq(ostor_task_set_lun(t[i], 0, 1), OSTOR_ERROR_STATE);
		ck_assert_int_eq(ostor_task_free(t[i]), OSTOR_ERROR_STATE);
	}
	ck_assert_uint_eq(ostor_inflight(ctx), 4);
	for (int i = 0; i < 4; i++)
		ck_assert_int_eq(st[i].calls, 0);
	/* The wake fd is readable and the next timeout is "now". */
	nfds = ostor_get_pollfds(ctx, fds, 8);
	ck_assert_int_ge(nfds, 1);
	ck_assert_int_eq(poll(fds, (nfds_t)nfds, 0), 1);
	ck_assert_int_eq(ostor_next_timeout(ctx), 0);

	ck_assert_int_eq(ostor_handle_events_nonblock(ctx), 4);
	for (int i = 0; i < 4; i++) {
		ck_assert_int_eq(st[i].calls, 1);
		ck_assert_int_eq(st[i].freed, 1);
		ck_assert_ptr_eq(st[i].seen, t[i]);
		ck_assert_int_eq(ostor_task_result(t[i]), OSTOR_RESULT_GOOD);
		ck_assert_int_eq(ostor_task_status(t[i]), 0);
		ck_assert_uint_eq(ostor_task_transferred(t[i]), 512);
		ck_assert_uint_eq(ostor_task_residual(t[i]), 0);
	}
	ck_assert_uint_eq(ostor_inflight(ctx), 0);
	ck_assert_int_eq(poll(fds, 1, 0), 0);
	ck_assert_int_eq(ostor_handle_events_nonblock(ctx), 0);
	for (int i = 0; i < 4; i++)
		ck_assert_int_eq(ostor_task_free(t[i]), 0);
	ck_assert_int_eq(ostor_close(dev), 0);
}
END_TEST

/* Closing with tasks in flight: every callback runs exactly once during
 * ostor_close, for direct sim commands and for a transport model whose
 * requests are really outstanding. */
START_TEST(close_with_tasks_in_flight)
{
	static const char *const specs[] = { "sim:size=1M", "sim:size=1M,transport=virtio" };
	ostor_device *dev;
	ostor_task *t[8];
	struct cb_state st[8] = { 0 };
	uint8_t data[8][512];

	ck_assert_int_eq(ostor_open(ctx, specs[_i], &dev), 0);
	for (int i = 0; i < 8; i++) {
		struct ostor_cdb cdb;

		ck_assert_int_eq(ostor_task_new(dev, &t[i]), 0);
		ostor_scsi_cdb_read10(&cdb, (uint32_t)i, 1, 0);
		ostor_task_set_cdb(t[i], cdb.bytes, cdb.len);
		ostor_task_set_buffer(t[i], OSTOR_DIR_FROM_DEVICE, data[i], 512);
		ck_assert_int_eq(ostor_task_submit(t[i], (struct ostor_completion){
			.callback = count_cb, .user_data = &st[i], .free = count_free }), 0);
	}
	ck_assert_int_eq(ostor_close(dev), 0);
	ck_assert_uint_eq(ostor_inflight(ctx), 0);
	for (int i = 0; i < 8; i++) {
		enum ostor_result r = ostor_task_result(t[i]);

		ck_assert_int_eq(st[i].calls, 1);
		ck_assert_int_eq(st[i].freed, 1);
		ck_assert_msg(r == OSTOR_RESULT_GOOD || r == OSTOR_RESULT_ABORTED, "task %d: %s", i,
			      ostor_result_name(r));
		ck_assert_int_eq(ostor_task_free(t[i]), 0);
	}
}
END_TEST

START_TEST(sync_check_condition_and_residual)
{
	ostor_device *dev;
	ostor_task *t;
	struct ostor_cdb cdb;
	struct ostor_scsi_sense s = OSTOR_SCSI_SENSE_INIT;
	uint8_t buf[100];
	const uint8_t *sense;
	size_t slen;

	ck_assert_int_eq(ostor_open(ctx, "sim:size=1M", &dev), 0);
	ck_assert_int_eq(ostor_task_new(dev, &t), 0);
	/* READ past the end: CHECK CONDITION, ILLEGAL REQUEST 21h/00h */
	ostor_scsi_cdb_read10(&cdb, 4096, 1, 0);
	ostor_task_set_cdb(t, cdb.bytes, cdb.len);
	ostor_task_set_buffer(t, OSTOR_DIR_FROM_DEVICE, buf, 100);
	ck_assert_int_eq(ostor_task_execute(t), 0);
	ck_assert_int_eq(ostor_task_result(t), OSTOR_RESULT_CHECK_CONDITION);
	ck_assert_int_eq(ostor_task_status(t), OSTOR_SCSI_STATUS_CHECK_CONDITION);
	sense = ostor_task_sense(t, &slen);
	ck_assert_ptr_nonnull(sense);
	ck_assert_int_eq(ostor_scsi_parse_sense(sense, slen, &s), 0);
	ck_assert_uint_eq(s.key, OSTOR_SCSI_SENSE_ILLEGAL_REQUEST);
	ck_assert_uint_eq(s.asc, 0x21);
	ck_assert_int_eq(ostor_task_error(t), OSTOR_ERROR_OUT_OF_RANGE);

	/* INQUIRY with a larger buffer: residual is the rest */
	ck_assert_int_eq(ostor_task_reset(t), 0);
	ostor_scsi_cdb_inquiry(&cdb, 0, 0, 100);
	ostor_task_set_cdb(t, cdb.bytes, cdb.len);
	ostor_task_set_buffer(t, OSTOR_DIR_FROM_DEVICE, buf, 100);
	ck_assert_int_eq(ostor_task_execute(t), 0);
	ck_assert_int_eq(ostor_task_result(t), OSTOR_RESULT_GOOD);
	ck_assert_uint_eq(ostor_task_transferred(t) + ostor_task_residual(t), 100);
	ck_assert_uint_ge(ostor_task_transferred(t), 36);
	ck_assert_int_eq(ostor_task_error(t), 0);

	/* a target that does not exist: refused at submit, saying which
	 * targets there are */
	ck_assert_int_eq(ostor_task_reset(t), 0);
	ostor_task_set_lun(t, 3, 0);
	ostor_scsi_cdb_test_unit_ready(&cdb);
	ostor_task_set_cdb(t, cdb.bytes, cdb.len);
	ck_assert_int_eq(ostor_task_execute(t), OSTOR_ERROR_NOT_FOUND);
	ck_assert_ptr_nonnull(strstr(ostor_last_error(), "no target 3 on sim:size=1M: its targets are 0 to 0"));
	ck_assert_int_eq(ostor_task_submit(t, (struct ostor_completion){ 0 }), OSTOR_ERROR_NOT_FOUND);
	ck_assert_int_ge(ostor_queue_acquire(dev, -1), 0);
	ck_assert_int_eq(ostor_task_execute(t), OSTOR_ERROR_NOT_FOUND);   /* the owner's path too */
	ostor_queue_release(dev);

	ostor_task_free(t);
	ck_assert_int_eq(ostor_close(dev), 0);
}
END_TEST

/* Several threads doing sync I/O on one context: one handles events at a
 * time, the others wait and are woken by its completions. */
struct thread_arg {
	ostor_device *dev;
	uint32_t lun;
	int errors;
};

/* Under valgrind every thread runs in turn, and a spinning poller gives
 * the device-model thread little time: scripts/test-all.sh lowers the
 * count there with ORIONSTOR_TEST_ITERATIONS. */
static unsigned io_iterations(void)
{
	const char *e = getenv("ORIONSTOR_TEST_ITERATIONS");
	unsigned long v = e ? strtoul(e, NULL, 10) : 0;

	return v ? (unsigned)v : 300;
}

static void *io_thread(void *p)
{
	struct thread_arg *a = p;
	uint8_t w[4096], r[4096];
	unsigned n = io_iterations();

	for (unsigned i = 0; i < n; i++) {
		fill(w, sizeof(w), i + a->lun * 1000);
		if (ostor_write_blocks(a->dev, 0, a->lun, (i * 8) % 2000, 8, w) < 0 ||
		    ostor_read_blocks(a->dev, 0, a->lun, (i * 8) % 2000, 8, r) < 0 ||
		    memcmp(w, r, sizeof(w)))
			a->errors++;
	}
	return NULL;
}

START_TEST(fault_36_concurrent_calls_on_one_handle)
{
	static const char *const specs[] = { "sim:size=1M,luns=4", "sim:size=1M,luns=4,transport=virtio,queues=4" };
	ostor_device *dev;
	pthread_t th[4];
	struct thread_arg args[4];

	ck_assert_int_eq(ostor_open(ctx, specs[_i], &dev), 0);
	for (uint32_t i = 0; i < 4; i++) {
		args[i] = (struct thread_arg){ .dev = dev, .lun = i };
		ck_assert_int_eq(pthread_create(&th[i], NULL, io_thread, &args[i]), 0);
	}
	for (int i = 0; i < 4; i++) {
		pthread_join(th[i], NULL);
		ck_assert_int_eq(args[i].errors, 0);
	}
	ck_assert_uint_eq(ostor_inflight(ctx), 0);
	ck_assert_int_eq(ostor_close(dev), 0);
}
END_TEST

/* ---- re-entrancy and cancel races (issue 8) ------------------------------ */

struct reentry {
	ostor_device *dev;
	int sync_read, close, handle, handle_nonblock, submit;
	ostor_task *other;
	bool ran;
};

static void nop_cb(ostor_task *t, void *ud)
{
	(*(int *)ud)++;
}

/* From inside a callback, everything that would wait for events says so
 * at once instead of waiting for itself; asynchronous submission works. */
static void reentry_cb(ostor_task *t, void *ud)
{
	struct reentry *r = ud;
	uint8_t buf[512];

	r->sync_read = ostor_read_blocks(r->dev, 0, 0, 0, 1, buf);
	r->close = ostor_close(r->dev);
	r->handle = ostor_handle_events(ctx, 0);
	r->handle_nonblock = ostor_handle_events_nonblock(ctx);
	ck_assert_int_eq(ostor_task_reset(r->other), 0);
	ck_assert_int_eq(ostor_task_set_lun(r->other, 0, 0), 0);
	ck_assert_int_eq(ostor_task_set_cdb(r->other, (const uint8_t[6]){ 0 }, 6), 0);
	r->submit = ostor_task_submit(r->other, (struct ostor_completion){ nop_cb, &r->submit, NULL });
	r->ran = true;
}

START_TEST(sync_calls_from_a_callback_refused)
{
	static const char *const specs[] = { "sim:", "sim:transport=virtio", "sim:transport=usb-bot" };
	/* Static: should an assertion end the test with the task still in
	 * flight, its callback runs at teardown and must find r alive. */
	static struct reentry r;
	ostor_task *t;
	uint8_t buf[512];

	r = (struct reentry){ 0 };
	ck_assert_int_eq(ostor_open(ctx, specs[_i], &r.dev), 0);
	ck_assert_int_eq(ostor_task_new(r.dev, &t), 0);
	ck_assert_int_eq(ostor_task_new(r.dev, &r.other), 0);
	ck_assert_int_eq(ostor_task_set_lun(t, 0, 0), 0);
	ck_assert_int_eq(ostor_task_set_cdb(t, (const uint8_t[6]){ 0 }, 6), 0); /* TEST UNIT READY */
	ck_assert_int_eq(ostor_task_submit(t, (struct ostor_completion){ reentry_cb, &r, NULL }), 0);
	for (uint64_t end = ostori_now_ms() + 60000; !r.ran && ostori_now_ms() < end;)
		ostor_handle_events(ctx, 10);
	ck_assert_msg(r.ran, "%s: the TEST UNIT READY did not complete in 60 s", specs[_i]);
	ck_assert_int_eq(r.sync_read, OSTOR_ERROR_STATE);
	ck_assert_int_eq(r.close, OSTOR_ERROR_STATE);
	ck_assert_int_eq(r.handle, OSTOR_ERROR_STATE);
	ck_assert_int_eq(r.handle_nonblock, OSTOR_ERROR_STATE);
	ck_assert_int_eq(r.submit, 0);
	/* The task submitted from the callback completes; then all is well. */
	for (uint64_t end = ostori_now_ms() + 60000; r.submit == 0 && ostori_now_ms() < end;)
		ostor_handle_events(ctx, 10);
	ck_assert_int_eq(r.submit, 1);
	ck_assert_int_eq(ostor_read_blocks(r.dev, 0, 0, 0, 1, buf), 0);
	ostor_task_free(t);
	ostor_task_free(r.other);
	ck_assert_int_eq(ostor_close(r.dev), 0);
}
END_TEST

struct race {
	ostor_device *dev;
	ostor_task *t;
	_Atomic int stop;
	_Atomic unsigned cancels_ok, cancels_refused;
	unsigned callbacks, submitted, good, aborted, other;
};

static void race_cb(ostor_task *t, void *ud)
{
	struct race *r = ud;

	r->callbacks++;
	switch (ostor_task_result(t)) {
	case OSTOR_RESULT_GOOD: r->good++; break;
	case OSTOR_RESULT_ABORTED: r->aborted++; break;
	default: r->other++; break;
	}
}

static unsigned cancel_tries(struct race *r)
{
	return atomic_load(&r->cancels_ok) + atomic_load(&r->cancels_refused);
}

static void *canceller(void *p)
{
	struct race *r = p;

	while (!atomic_load(&r->stop)) {
		int c = ostor_task_cancel(r->t);

		if (c == 0)
			atomic_fetch_add(&r->cancels_ok, 1);
		else if (c == OSTOR_ERROR_STATE)
			atomic_fetch_add(&r->cancels_refused, 1);
		else
			break;
	}
	return NULL;
}

/* Completion races cancel from another thread: every submission ends in
 * exactly one callback, GOOD or ABORTED, and cancel either acts on a task
 * in flight or refuses one that is not (ThreadSanitizer: no report). */
START_TEST(cancel_races_completion)
{
	static const char *const specs[] = { "sim:", "sim:transport=virtio", "sim:transport=virtio,intr,packed",
					     "sim:transport=usb-bot" };
	struct race r = { 0 };
	unsigned n = io_iterations();
	uint64_t deadline = ostori_now_ms() + 20000;
	uint8_t buf[4096];
	pthread_t th;

	ck_assert_int_eq(ostor_open(ctx, specs[_i], &r.dev), 0);
	ck_assert_int_eq(ostor_task_new(r.dev, &r.t), 0);
	ck_assert_int_eq(pthread_create(&th, NULL, canceller, &r), 0);
	/* At least n rounds, and until the canceller has tried at least once
	 * (it may start late on a loaded machine). */
	for (unsigned i = 0; i < n || (!cancel_tries(&r) && ostori_now_ms() < deadline); i++) {
		uint8_t cdb[10] = { 0x28, 0, 0, 0, 0, (uint8_t)(i % 64), 0, 0, 8, 0 };
		unsigned before = r.callbacks;

		ck_assert_int_eq(ostor_task_reset(r.t), 0);
		ck_assert_int_eq(ostor_task_set_lun(r.t, 0, 0), 0);
		ck_assert_int_eq(ostor_task_set_cdb(r.t, cdb, sizeof(cdb)), 0);
		ck_assert_int_eq(ostor_task_set_buffer(r.t, OSTOR_DIR_FROM_DEVICE, buf, sizeof(buf)), 0);
		ck_assert_int_eq(ostor_task_set_timeout(r.t, 20000), 0);
		ck_assert_int_eq(ostor_task_submit(r.t, (struct ostor_completion){ race_cb, &r, NULL }), 0);
		r.submitted++;
		while (r.callbacks == before)
			ck_assert_int_ge(ostor_handle_events(ctx, 100), 0);
		ck_assert_uint_eq(r.callbacks, before + 1);
	}
	atomic_store(&r.stop, 1);
	pthread_join(th, NULL);
	ck_assert_uint_eq(r.callbacks, r.submitted);
	ck_assert_uint_eq(r.good + r.aborted, r.submitted);
	ck_assert_uint_eq(r.other, 0);
	ck_assert_uint_gt(cancel_tries(&r), 0);
	ck_assert_int_eq(ostor_task_free(r.t), 0);
	/* The device still works after all that. */
	ck_assert_int_eq(ostor_read_blocks(r.dev, 0, 0, 0, 8, buf), 0);
	ck_assert_int_eq(ostor_close(r.dev), 0);
}
END_TEST

/* ---- asynchronous block I/O (issue 8) -------------------------------------- */

struct ablock {
	int calls, frees, result;
	char why[256];
	ostor_device *dev;
	uint8_t *chain_buf;      /* non-NULL: submit a read of block 0 from the callback */
	int chained;
};

static void ablock_done(ostor_device *dev, int result, void *ud)
{
	struct ablock *a = ud;

	a->calls++;
	a->result = result;
	if (result < 0)
		snprintf(a->why, sizeof(a->why), "%s", ostor_last_error());
	if (a->chain_buf) {
		uint8_t *b = a->chain_buf;

		a->chain_buf = NULL;
		/* The LUN is known: no waiting, so allowed from here. */
		a->chained = ostor_read_blocks_async(dev, 0, 0, 0, 1, b,
						     (struct ostor_block_completion){ ablock_done, a, NULL });
	}
}

static void ablock_free(void *ud)
{
	((struct ablock *)ud)->frees++;
}

static void wait_calls(struct ablock *a, int n)
{
	for (uint64_t end = ostori_now_ms() + 20000; a->calls < n && ostori_now_ms() < end;)
		ck_assert_int_ge(ostor_handle_events(ctx, 10), 0);
	ck_assert_int_eq(a->calls, n);
}

/* Scatter/gather writes and reads, one split at the transfer limit, many
 * in flight, a request submitted from a callback; every callback once. */
START_TEST(async_block_io)
{
	static const char *const specs[] = { "sim:size=32M", "sim:size=32M,transport=virtio",
					     "sim:size=32M,transport=usb-bot" };
	const uint32_t big = 20000; /* blocks: more than the 16384-block limit of sim */
	uint8_t *w = malloc((size_t)big * 512), *r = calloc(big, 512), one[512];
	struct ablock a = { 0 }, many[16];
	struct ostor_lun_info li = OSTOR_LUN_INFO_INIT;
	struct iovec wv[3], rv[2];
	ostor_device *dev;

	ck_assert_ptr_nonnull(w);
	ck_assert_ptr_nonnull(r);
	ck_assert_int_eq(ostor_open(ctx, specs[_i], &dev), 0);
	ck_assert_int_eq(ostor_lun_info(dev, 0, 0, &li), 0);
	fill(w, (size_t)big * 512, 3);
	/* Write from three segments, read into two of other sizes. */
	wv[0] = (struct iovec){ w, 512 * 7 };
	wv[1] = (struct iovec){ w + 512 * 7, 512 * 10000 };
	wv[2] = (struct iovec){ w + 512 * 10007, (size_t)512 * (big - 10007) };
	ck_assert_int_eq(ostor_writev_blocks_async(dev, 0, 0, 100, big, wv, 3,
						   (struct ostor_block_completion){ ablock_done, &a, ablock_free }), 0);
	wait_calls(&a, 1);
	ck_assert_int_eq(a.result, 0);
	ck_assert_int_eq(a.frees, 1);
	rv[0] = (struct iovec){ r, 512 * 3 };
	rv[1] = (struct iovec){ r + 512 * 3, (size_t)512 * (big - 3) };
	ck_assert_int_eq(ostor_readv_blocks_async(dev, 0, 0, 100, big, rv, 2,
						  (struct ostor_block_completion){ ablock_done, &a, ablock_free }), 0);
	wait_calls(&a, 2);
	ck_assert_int_eq(a.result, 0);
	ck_assert_int_eq(memcmp(w, r, (size_t)big * 512), 0);
	/* Sixteen in flight at once, each its own 8 blocks. */
	for (int i = 0; i < 16; i++) {
		many[i] = (struct ablock){ 0 };
		ck_assert_int_eq(ostor_write_blocks_async(dev, 0, 0, 30000 + 8 * (uint64_t)i, 8, w + 4096 * i,
							  (struct ostor_block_completion){ ablock_done, &many[i], NULL }), 0);
	}
	for (int i = 0; i < 16; i++) {
		wait_calls(&many[i], 1);
		ck_assert_int_eq(many[i].result, 0);
	}
	ck_assert_int_eq(ostor_read_blocks(dev, 0, 0, 30000, 128, r), 0);
	ck_assert_int_eq(memcmp(w, r, 128 * 512), 0);
	/* From a callback: the chained read completes too. */
	memset(one, 0xa5, sizeof(one));
	a = (struct ablock){ .chain_buf = one };
	ck_assert_int_eq(ostor_read_blocks_async(dev, 0, 0, 100, 1, r,
						 (struct ostor_block_completion){ ablock_done, &a, NULL }), 0);
	wait_calls(&a, 2);
	ck_assert_int_eq(a.chained, 0);
	ck_assert_int_eq(a.result, 0);
	/* LBA 0 was never written: the chained read brought zeros. */
	memset(r, 0, 512);
	ck_assert_int_eq(memcmp(one, r, 512), 0);
	ck_assert_int_eq(ostor_close(dev), 0);
	free(w);
	free(r);
}
END_TEST

/* Refused up front (nothing submitted, .free still runs) or failed in
 * flight (the callback gets the error and its message). */
START_TEST(async_block_errors)
{
	struct ablock a = { 0 };
	struct ostor_block_completion c = { ablock_done, &a, ablock_free };
	uint8_t buf[4096];
	struct iovec iov = { buf, 1000 };
	struct sim_target *tgt;
	ostor_device *dev, *ro;

	ck_assert_int_eq(ostor_open(ctx, "sim:size=1M", &dev), 0);
	ck_assert_int_eq(ostor_read_blocks_async(dev, 0, 0, 2048, 1, buf, c), OSTOR_ERROR_OUT_OF_RANGE);
	ck_assert_int_eq(ostor_read_blocks_async(dev, 0, 0, 0, 0, buf, c), OSTOR_ERROR_INVALID_PARAM);
	ck_assert_int_eq(ostor_read_blocks_async(dev, 0, 0, 0, 1, NULL, c), OSTOR_ERROR_INVALID_PARAM);
	ck_assert_int_eq(ostor_readv_blocks_async(dev, 0, 0, 0, 2, &iov, 1, c), OSTOR_ERROR_INVALID_PARAM);
	ck_assert_ptr_nonnull(strstr(ostor_last_error(), "need 1024 bytes"));
	ck_assert_int_eq(ostor_readv_blocks_async(dev, 0, 0, 0, 2, &iov, 0, c), OSTOR_ERROR_INVALID_PARAM);
	ck_assert_int_eq(a.frees, 5);
	ck_assert_int_eq(ostor_open(ctx, "sim:size=1M,readonly", &ro), 0);
	ck_assert_int_eq(ostor_write_blocks_async(ro, 0, 0, 0, 1, buf, c), OSTOR_ERROR_WRITE_PROTECTED);
	ck_assert_int_eq(a.frees, 6);
	ck_assert_int_eq(a.calls, 0);
	/* A medium error in flight: the callback has the error and why. */
	tgt = ostori_sim_device_target(dev);
	ck_assert_int_eq(sim_target_inject_check(tgt, 0, OSTOR_SCSI_OP_READ10, 1, OSTOR_SCSI_SENSE_MEDIUM_ERROR,
						 0x11, 0x00), 0);
	ck_assert_int_eq(ostor_read_blocks_async(dev, 0, 0, 8, 1, buf, c), 0);
	wait_calls(&a, 1);
	ck_assert_int_eq(a.result, OSTOR_ERROR_IO);
	ck_assert_ptr_nonnull(strstr(a.why, "READ of 1 blocks at LBA 8"));
	ck_assert_int_eq(a.frees, 7);
	/* BUSY a few times is retried. */
	ck_assert_int_eq(sim_target_inject_status(tgt, 0, OSTOR_SCSI_OP_READ10, 2, OSTOR_SCSI_STATUS_BUSY), 0);
	ck_assert_int_eq(ostor_read_blocks_async(dev, 0, 0, 8, 1, buf, c), 0);
	wait_calls(&a, 2);
	ck_assert_int_eq(a.result, 0);
	ck_assert_int_eq(ostor_close(ro), 0);
	ck_assert_int_eq(ostor_close(dev), 0);
}
END_TEST

/* ---- device events from unit attentions (issue 8) --------------------------- */

static struct ostor_event last_event;
static int events_seen;

static void note_event(const struct ostor_event *ev, void *ud)
{
	int *nested = ud;

	last_event = *ev;
	events_seen++;
	/* The same re-entrancy rule as completions. */
	*nested = ostor_set_event_handler(ctx, (struct ostor_event_handler){ NULL, NULL, NULL });
}

START_TEST(device_events_from_unit_attentions)
{
	ostor_device *dev;
	uint8_t buf[512];
	struct sim_target *tgt;
	int nested = 0;

	events_seen = 0;
	ck_assert_int_eq(ostor_open(ctx, "sim:size=1M", &dev), 0);
	ck_assert_int_eq(ostor_set_event_handler(ctx, (struct ostor_event_handler){ note_event, &nested, NULL }), 0);
	/* The power-on unit attention of a LUN not used yet is no news. */
	ck_assert_int_eq(ostor_read_blocks(dev, 0, 0, 0, 1, buf), 0);
	ostor_handle_events(ctx, 0);
	ck_assert_int_eq(events_seen, 0);
	tgt = ostori_sim_device_target(dev);
	ck_assert_int_eq(sim_target_set_capacity(tgt, 0, 4096), 0);
	ck_assert_int_eq(ostor_read_blocks(dev, 0, 0, 0, 1, buf), 0);
	for (int i = 0; i < 100 && !events_seen; i++)
		ostor_handle_events(ctx, 10);
	ck_assert_int_eq(events_seen, 1);
	ck_assert_int_eq(last_event.type, OSTOR_EVENT_CAPACITY_CHANGED);
	ck_assert_ptr_eq(last_event.dev, dev);
	ck_assert_uint_eq(last_event.lun, 0);
	ck_assert_int_eq(nested, OSTOR_ERROR_STATE);
	/* A reset of a LUN in use is. */
	sim_target_reset(tgt);
	ck_assert_int_eq(ostor_read_blocks(dev, 0, 0, 0, 1, buf), 0);
	for (int i = 0; i < 100 && events_seen < 2; i++)
		ostor_handle_events(ctx, 10);
	ck_assert_int_eq(events_seen, 2);
	ck_assert_int_eq(last_event.type, OSTOR_EVENT_DEVICE_RESET);
	ck_assert_str_eq(ostor_event_name(OSTOR_EVENT_DEVICE_GONE), "device-gone");
	ck_assert_int_eq(ostor_close(dev), 0);
}
END_TEST

/* The simulated target runs commands inside submit: nothing is ever in
 * flight to abort; a reset is a target reset (unit attention after). */
START_TEST(tmf_api_sim)
{
	ostor_device *dev;
	ostor_task *t;
	uint8_t buf[512];
	struct cb_state st = { 0 };

	ck_assert_int_eq(ostor_open(ctx, "sim:size=1M", &dev), 0);
	ck_assert_int_eq(ostor_read_blocks(dev, 0, 0, 0, 1, buf), 0);
	ck_assert_int_eq(ostor_task_new(dev, &t), 0);
	ck_assert_int_eq(ostor_task_set_cdb(t, (const uint8_t[6]){ 0 }, 6), 0);
	ck_assert_int_eq(ostor_task_submit(t, (struct ostor_completion){ count_cb, &st, NULL }), 0);
	ck_assert_int_eq(ostor_task_abort(t), OSTOR_TMF_COMMAND_COMPLETED);
	for (int i = 0; i < 100 && !st.calls; i++)
		ostor_handle_events(ctx, 10);
	ck_assert_int_eq(st.calls, 1);
	ck_assert_int_eq(ostor_task_result(t), OSTOR_RESULT_GOOD);
	ck_assert_int_eq(ostor_reset(dev, OSTOR_RESET_LUN, 0, 0), OSTOR_TMF_ESCALATED);
	ck_assert_int_eq(ostor_reset(dev, OSTOR_RESET_DEVICE, 0, 0), OSTOR_TMF_DONE);
	ck_assert_int_eq(ostor_reset(NULL, OSTOR_RESET_DEVICE, 0, 0), OSTOR_ERROR_INVALID_PARAM);
	ck_assert_str_eq(ostor_tmf_outcome_name(OSTOR_TMF_ESCALATED), "escalated");
	/* The reset's unit attention is taken care of by the block helpers. */
	ck_assert_int_eq(ostor_read_blocks(dev, 0, 0, 0, 1, buf), 0);
	ostor_task_free(t);
	ck_assert_int_eq(ostor_close(dev), 0);
}
END_TEST

/* Device memory: page-aligned, usable for I/O on every kind of device. */
START_TEST(dma_alloc_every_backend)
{
	static const char *const specs[] = { "sim:size=1M", "sim:size=1M,transport=virtio",
					     "sim:size=1M,transport=usb-bot" };
	ostor_device *dev;
	uint8_t *w, *r;

	ck_assert_int_eq(ostor_open(ctx, specs[_i], &dev), 0);
	w = ostor_dma_alloc(dev, 65536);
	r = ostor_dma_alloc(dev, 65536);
	ck_assert_ptr_nonnull(w);
	ck_assert_ptr_nonnull(r);
	ck_assert_uint_eq((uintptr_t)w % 4096, 0);
	fill(w, 65536, 9);
	ck_assert_int_eq(ostor_write_blocks(dev, 0, 0, 64, 128, w), 0);
	ck_assert_int_eq(ostor_read_blocks(dev, 0, 0, 64, 128, r), 0);
	ck_assert_int_eq(memcmp(w, r, 65536), 0);
	ostor_dma_free(dev, w, 65536);
	ostor_dma_free(dev, r, 65536);
	ck_assert_ptr_null(ostor_dma_alloc(dev, 0));
	ck_assert_ptr_null(ostor_dma_alloc(NULL, 4096));
	ostor_dma_free(dev, NULL, 0);
	ck_assert_int_eq(ostor_close(dev), 0);
}
END_TEST

/* UNMAP, zeroing and VERIFY helpers on a thin-provisioned simulated LUN,
 * directly and behind the virtio and Bulk-Only models. */
START_TEST(provisioning_helpers)
{
	static const char *const specs[] = { "sim:size=1M", "sim:size=1M,transport=virtio",
					     "sim:size=1M,transport=usb-bot" };
	uint8_t w[64 * 512], r[64 * 512], zero[512] = { 0 };
	struct sim_target *tgt;
	ostor_device *dev, *ro;

	ck_assert_int_eq(ostor_open(ctx, specs[_i], &dev), 0);
	fill(w, sizeof(w), 5);
	ck_assert_int_eq(ostor_write_blocks(dev, 0, 0, 0, 64, w), 0);
	ck_assert_int_eq(ostor_unmap_blocks(dev, 0, 0, 8, 16), 0);
	ck_assert_int_eq(ostor_write_zeroes(dev, 0, 0, 30, 10, 0), 0);
	ck_assert_int_eq(ostor_write_zeroes(dev, 0, 0, 50, 4, 1), 0);
	ck_assert_int_eq(ostor_read_blocks(dev, 0, 0, 0, 64, r), 0);
	for (unsigned b = 0; b < 64; b++) {
		bool zeroed = (b >= 8 && b < 24) || (b >= 30 && b < 40) || (b >= 50 && b < 54);

		ck_assert_msg(!memcmp(r + 512 * b, zeroed ? zero : w + 512 * b, 512), "block %u", b);
	}
	ck_assert_int_eq(ostor_verify_blocks(dev, 0, 0, 0, 2048), 0);
	ck_assert_int_eq(ostor_verify_blocks(dev, 0, 0, 2040, 9), OSTOR_ERROR_OUT_OF_RANGE);
	ck_assert_int_eq(ostor_unmap_blocks(dev, 0, 0, 0, 0), OSTOR_ERROR_INVALID_PARAM);
	ck_assert_int_eq(ostor_write_zeroes(dev, 0, 0, 2048, 1, 0), OSTOR_ERROR_OUT_OF_RANGE);
	/* A medium error found by VERIFY. */
	tgt = ostori_sim_device_target(dev);
	ck_assert_int_eq(sim_target_inject_check(tgt, 0, 0x8f, 1, OSTOR_SCSI_SENSE_MEDIUM_ERROR, 0x11, 0), 0);
	ck_assert_int_eq(ostor_verify_blocks(dev, 0, 0, 0, 8), OSTOR_ERROR_IO);
	/* A device without WRITE SAME: the zeros are written instead. */
	ck_assert_int_eq(sim_target_inject_check(tgt, 0, 0x93, 1, OSTOR_SCSI_SENSE_ILLEGAL_REQUEST, 0x20, 0), 0);
	ck_assert_int_eq(ostor_write_blocks(dev, 0, 0, 100, 4, w), 0);
	ck_assert_int_eq(ostor_write_zeroes(dev, 0, 0, 100, 4, 0), 0);
	ck_assert_int_eq(ostor_read_blocks(dev, 0, 0, 100, 1, r), 0);
	ck_assert_int_eq(memcmp(r, zero, 512), 0);
	ck_assert_int_eq(ostor_close(dev), 0);
	ck_assert_int_eq(ostor_open(ctx, "sim:size=1M,readonly", &ro), 0);
	ck_assert_int_eq(ostor_unmap_blocks(ro, 0, 0, 0, 8), OSTOR_ERROR_WRITE_PROTECTED);
	ck_assert_int_eq(ostor_write_zeroes(ro, 0, 0, 0, 8, 1), OSTOR_ERROR_WRITE_PROTECTED);
	ck_assert_int_eq(ostor_verify_blocks(ro, 0, 0, 0, 8), 0);
	ck_assert_int_eq(ostor_close(ro), 0);
}
END_TEST

static _Atomic int loop_stop;

static void *blocking_loop(void *p)
{
	(void)p;
	while (!atomic_load(&loop_stop))
		ostor_handle_events(ctx, -1);
	return NULL;
}

/* Setting the handler while another thread waits in ostor_handle_events
 * without a timeout does not wait for an event to come. */
START_TEST(event_handler_set_while_loop_blocks)
{
	ostor_device *dev;
	pthread_t th;
	int nested = 0;

	ck_assert_int_eq(ostor_open(ctx, "sim:size=1M", &dev), 0);
	atomic_store(&loop_stop, 0);
	ck_assert_int_eq(pthread_create(&th, NULL, blocking_loop, NULL), 0);
	for (int i = 0; i < 5; i++)
		ck_assert_int_eq(ostor_set_event_handler(ctx, (struct ostor_event_handler){ note_event, &nested, NULL }), 0);
	ck_assert_int_eq(ostor_set_event_handler(ctx, (struct ostor_event_handler){ NULL, NULL, NULL }), 0);
	atomic_store(&loop_stop, 1);
	ostori_kick_loop(ctx);
	pthread_join(th, NULL);
	ck_assert_int_eq(ostor_close(dev), 0);
}
END_TEST

/* A handler still running on another thread keeps its event's device
 * alive: ostor_close waits for it. */
static _Atomic int slow_in, slow_go, slow_done;
static char slow_spec[64];

static void slow_event(const struct ostor_event *ev, void *ud)
{
	uint64_t end;

	(void)ud;
	atomic_store(&slow_in, 1);
	end = ostori_now_ms() + 5000;
	while (!atomic_load(&slow_go) && ostori_now_ms() < end)
		sched_yield();
	/* Let the close run ahead as far as it can. */
	end = ostori_now_ms() + 50;
	while (ostori_now_ms() < end)
		sched_yield();
	snprintf(slow_spec, sizeof(slow_spec), "%s", ostor_device_spec(ev->dev));
	atomic_store(&slow_done, 1);
}

START_TEST(close_waits_for_event_handler)
{
	ostor_device *dev;
	pthread_t th;
	uint8_t buf[512];
	uint64_t end;

	atomic_store(&slow_in, 0);
	atomic_store(&slow_go, 0);
	atomic_store(&slow_done, 0);
	ck_assert_int_eq(ostor_open(ctx, "sim:size=1M", &dev), 0);
	ck_assert_int_eq(ostor_set_event_handler(ctx, (struct ostor_event_handler){ slow_event, NULL, NULL }), 0);
	ck_assert_int_eq(ostor_read_blocks(dev, 0, 0, 0, 1, buf), 0);
	atomic_store(&loop_stop, 0);
	ck_assert_int_eq(pthread_create(&th, NULL, blocking_loop, NULL), 0);
	/* As a capacity change would (this thread must not handle events:
	 * the handler blocks the loop while it runs). */
	ostori_post_event(dev, OSTOR_EVENT_CAPACITY_CHANGED, 0, 0, 0x2a, 0x09);
	end = ostori_now_ms() + 5000;
	while (!atomic_load(&slow_in) && ostori_now_ms() < end)
		sched_yield();
	ck_assert_int_eq(atomic_load(&slow_in), 1);
	atomic_store(&slow_go, 1);
	ck_assert_int_eq(ostor_close(dev), 0);
	ck_assert_int_eq(atomic_load(&slow_done), 1);
	ck_assert_str_eq(slow_spec, "sim:size=1M");
	atomic_store(&loop_stop, 1);
	ostori_kick_loop(ctx);
	pthread_join(th, NULL);
	ck_assert_int_eq(ostor_set_event_handler(ctx, (struct ostor_event_handler){ NULL, NULL, NULL }), 0);
}
END_TEST

/* VERIFY with BYTCHK on a null LUN compares with zeros (what it holds),
 * whatever an earlier command left in the target's scratch memory. */
START_TEST(null_verify_compares_zeros)
{
	ostor_device *dev;
	ostor_task *t;
	static uint8_t data[4096], junk[4096];
	/* VERIFY(16), BYTCHK=01b, LBA 0, 8 blocks */
	const uint8_t verify[16] = { 0x8f, 0x02, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 8, 0, 0 };

	ck_assert_int_eq(ostor_open(ctx, "sim:null,size=1M", &dev), 0);
	ck_assert_int_eq(ostor_read_blocks(dev, 0, 0, 0, 1, junk), 0);
	memset(junk, 0x5a, sizeof(junk));
	ck_assert_int_eq(ostor_write_blocks(dev, 0, 0, 0, 8, junk), 0);
	ck_assert_int_eq(ostor_task_new(dev, &t), 0);
	for (int round = 0; round < 2; round++) {
		memset(data, 0, sizeof(data));
		data[100] = (uint8_t)round;
		ck_assert_int_eq(ostor_task_reset(t), 0);
		ck_assert_int_eq(ostor_task_set_cdb(t, verify, sizeof(verify)), 0);
		ck_assert_int_eq(ostor_task_set_buffer(t, OSTOR_DIR_TO_DEVICE, data, sizeof(data)), 0);
		ck_assert_int_eq(ostor_task_execute(t), 0);
		ck_assert_int_eq(ostor_task_result(t), round ? OSTOR_RESULT_CHECK_CONDITION : OSTOR_RESULT_GOOD);
	}
	ostor_task_free(t);
	ck_assert_int_eq(ostor_close(dev), 0);
}
END_TEST

/* A buffer smaller than what the command returns: OVERRUN, with what
 * fitted, and an error that says so. */
START_TEST(overrun_result)
{
	ostor_device *dev;
	ostor_task *t;
	uint8_t buf[100];
	const uint8_t read1[10] = { 0x28, 0, 0, 0, 0, 0, 0, 0, 1, 0 };

	ck_assert_int_eq(ostor_open(ctx, "sim:size=1M", &dev), 0);
	ck_assert_int_eq(ostor_task_new(dev, &t), 0);
	ck_assert_int_eq(ostor_task_set_cdb(t, read1, sizeof(read1)), 0);
	ck_assert_int_eq(ostor_task_set_buffer(t, OSTOR_DIR_FROM_DEVICE, buf, sizeof(buf)), 0);
	ck_assert_int_eq(ostor_task_execute(t), 0);
	ck_assert_int_eq(ostor_task_result(t), OSTOR_RESULT_OVERRUN);
	ck_assert_str_eq(ostor_result_name(OSTOR_RESULT_OVERRUN), "overrun");
	ck_assert_uint_eq(ostor_task_transferred(t), sizeof(buf));
	ck_assert_int_eq(ostor_task_error(t), OSTOR_ERROR_OVERFLOW);
	ck_assert_ptr_nonnull(strstr(ostor_last_error(), "more data than the 100-byte buffer"));
	ostor_task_free(t);
	ck_assert_int_eq(ostor_close(dev), 0);
}
END_TEST

/* ---- block helpers -------------------------------------------------- */


START_TEST(block_roundtrip_sizes)
{
	static const char *const specs[] = { "sim:size=64M", "sim:block-size=4096,size=16M",
					     "sim:block-size=1024,size=1M" };
	ostor_device *dev;
	struct ostor_lun_info info = OSTOR_LUN_INFO_INIT;
	uint8_t *w, *r;
	uint32_t count;

	ck_assert_int_eq(ostor_open(ctx, specs[_i], &dev), 0);
	ck_assert_int_eq(ostor_lun_info(dev, 0, 0, &info), 0);
	ck_assert_int_eq(info.peripheral_type, OSTOR_TYPE_DISK);
	ck_assert(info.medium_present);
	ck_assert(!info.write_protected);
	ck_assert_uint_gt(info.max_transfer_blocks, 0);
	/* more than one max-transfer chunk to exercise splitting */
	count = OSTOR_MIN((uint32_t)info.blocks, (8u << 20) / info.block_size * 2 + 3);
	w = malloc((size_t)count * info.block_size);
	r = malloc((size_t)count * info.block_size);
	fill(w, (size_t)count * info.block_size, (unsigned)_i);
	ck_assert_int_eq(ostor_write_blocks(dev, 0, 0, info.blocks - count, count, w), 0);
	memset(r, 0, (size_t)count * info.block_size);
	ck_assert_int_eq(ostor_read_blocks(dev, 0, 0, info.blocks - count, count, r), 0);
	ck_assert_mem_eq(w, r, (size_t)count * info.block_size);
	ck_assert_int_eq(ostor_flush(dev, 0, 0), 0);
	free(w);
	free(r);
	ck_assert_int_eq(ostor_close(dev), 0);
}
END_TEST

START_TEST(block_large_capacity_uses_16)
{
	/* A sparse image file rather than RAM: valgrind cannot map 3 TiB. */
	char path[] = "/tmp/ostor-test-bigXXXXXX";
	char spec[128];
	int fd = mkstemp(path);
	ostor_device *dev;
	struct ostor_lun_info info = OSTOR_LUN_INFO_INIT;
	struct sim_stats st;
	uint8_t w[512], r[512];
	uint64_t lba;

	ck_assert_int_ge(fd, 0);
	close(fd);
	unlink(path);
	snprintf(spec, sizeof(spec), "sim:image=%s,size=3T", path);
	ck_assert_int_eq(ostor_open(ctx, spec, &dev), 0);
	ck_assert_int_eq(ostor_lun_info(dev, 0, 0, &info), 0);
	ck_assert_uint_eq(info.blocks, (3ull << 40) / 512);
	ck_assert_uint_eq(info.block_size, 512);
	lba = info.blocks - 1; /* beyond 2^32 */
	fill(w, sizeof(w), 9);
	ck_assert_int_eq(ostor_write_blocks(dev, 0, 0, lba, 1, w), 0);
	ck_assert_int_eq(ostor_read_blocks(dev, 0, 0, lba, 1, r), 0);
	ck_assert_mem_eq(w, r, 512);
	sim_target_get_stats(ostori_sim_device_target(dev), &st);
	ck_assert_uint_ge(st.per_opcode[OSTOR_SCSI_OP_SERVICE_ACTION_IN16], 1);
	ck_assert_uint_eq(st.per_opcode[OSTOR_SCSI_OP_WRITE16], 1);
	ck_assert_uint_eq(st.per_opcode[OSTOR_SCSI_OP_READ16], 1);
	ck_assert_uint_eq(st.per_opcode[OSTOR_SCSI_OP_WRITE10], 0);
	ck_assert_int_eq(ostor_close(dev), 0);
	/* the block is in the file at lba * 512, beyond 2 TiB */
	fd = open(path, O_RDONLY);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(pread(fd, r, 512, (off_t)(lba * 512)), 512);
	close(fd);
	unlink(path);
	ck_assert_mem_eq(w, r, 512);
}
END_TEST

START_TEST(block_readonly_and_cdrom)
{
	ostor_device *dev;
	struct ostor_lun_info info = OSTOR_LUN_INFO_INIT;
	uint8_t buf[2048] = { 0 };

	ck_assert_int_eq(ostor_open(ctx, "sim:readonly,size=1M", &dev), 0);
	ck_assert_int_eq(ostor_lun_info(dev, 0, 0, &info), 0);
	ck_assert(info.write_protected);
	ck_assert_int_eq(ostor_write_blocks(dev, 0, 0, 0, 1, buf), OSTOR_ERROR_WRITE_PROTECTED);
	ck_assert_int_eq(ostor_read_blocks(dev, 0, 0, 0, 1, buf), 0);
	ck_assert_int_eq(ostor_close(dev), 0);

	ck_assert_int_eq(ostor_open(ctx, "sim:type=cdrom,size=2M", &dev), 0);
	ck_assert_int_eq(ostor_lun_info(dev, 0, 0, &info), 0);
	ck_assert_int_eq(info.peripheral_type, OSTOR_TYPE_CDROM);
	ck_assert_uint_eq(info.block_size, 2048);
	ck_assert(info.removable);
	ck_assert(info.write_protected);
	ck_assert_int_eq(ostor_write_blocks(dev, 0, 0, 0, 1, buf), OSTOR_ERROR_WRITE_PROTECTED);
	ck_assert_int_eq(ostor_close(dev), 0);
}
END_TEST

START_TEST(block_write_protect_from_device)
{
	/* The device refuses the write itself (DATA PROTECT): the block
	 * helper must report it, not claim success. */
	ostor_device *dev;
	uint8_t buf[512] = { 1 };

	ck_assert_int_eq(ostor_open(ctx, "sim:size=1M", &dev), 0);
	ck_assert_int_eq(ostor_read_blocks(dev, 0, 0, 0, 1, buf), 0);
	ck_assert_int_eq(sim_target_inject_check(ostori_sim_device_target(dev), 0, OSTOR_SCSI_OP_WRITE10,
						 1, OSTOR_SCSI_SENSE_DATA_PROTECT, 0x27, 0x00), 0);
	ck_assert_int_eq(ostor_write_blocks(dev, 0, 0, 0, 1, buf), OSTOR_ERROR_WRITE_PROTECTED);
	ck_assert_ptr_nonnull(strstr(ostor_last_error(), "WRITE"));
	ck_assert_int_eq(ostor_close(dev), 0);
}
END_TEST

START_TEST(block_unit_attention_retried)
{
	ostor_device *dev;
	uint8_t buf[512];
	struct sim_target *tgt;

	ck_assert_int_eq(ostor_open(ctx, "sim:size=1M", &dev), 0);
	tgt = ostori_sim_device_target(dev);
	ck_assert_int_eq(ostor_read_blocks(dev, 0, 0, 0, 1, buf), 0);
	sim_target_reset(tgt);
	ck_assert_int_eq(ostor_read_blocks(dev, 0, 0, 0, 1, buf), 0);
	/* capacity change: the helper re-reads capacity and sees the growth */
	ck_assert_int_eq(sim_target_set_capacity(tgt, 0, 4096), 0);
	ck_assert_int_eq(ostor_read_blocks(dev, 0, 0, 0, 1, buf), 0);
	ck_assert_int_eq(ostor_read_blocks(dev, 0, 0, 4000, 1, buf), 0);
	/* BUSY is retried a bounded number of times, then reported */
	ck_assert_int_eq(sim_target_inject_status(tgt, 0, OSTOR_SCSI_OP_READ10, 2, OSTOR_SCSI_STATUS_BUSY), 0);
	ck_assert_int_eq(ostor_read_blocks(dev, 0, 0, 0, 1, buf), 0);
	ck_assert_int_eq(sim_target_inject_status(tgt, 0, OSTOR_SCSI_OP_READ10, SIM_FAULT_FOREVER,
						  OSTOR_SCSI_STATUS_BUSY), 0);
	ck_assert_int_eq(ostor_read_blocks(dev, 0, 0, 0, 1, buf), OSTOR_ERROR_BUSY);
	sim_target_clear_faults(tgt);
	ck_assert_int_eq(ostor_close(dev), 0);
}
END_TEST

START_TEST(fault_37_flush_error_is_sticky)
{
	ostor_device *dev;
	uint8_t buf[512] = { 7 };
	struct sim_target *tgt;

	ck_assert_int_eq(ostor_open(ctx, "sim:size=1M", &dev), 0);
	tgt = ostori_sim_device_target(dev);
	ck_assert_int_eq(ostor_write_blocks(dev, 0, 0, 5, 1, buf), 0);
	ck_assert_int_eq(sim_target_inject_check(tgt, 0, OSTOR_SCSI_OP_SYNCHRONIZE_CACHE10, 1,
						 OSTOR_SCSI_SENSE_MEDIUM_ERROR, 0x0c, 0x00), 0);
	ck_assert_int_eq(ostor_flush(dev, 0, 0), OSTOR_ERROR_IO);
	/* The device would now accept a flush, but the data of the failed
	 * one may be lost: the error stays. */
	ck_assert_int_lt(ostor_flush(dev, 0, 0), 0);
	ck_assert_ptr_nonnull(strstr(ostor_last_error(), "earlier SYNCHRONIZE CACHE"));
	ck_assert_int_lt(ostor_flush(dev, 0, 0), 0);
	/* ... and close reports it too, while still closing the device. */
	ck_assert_int_lt(ostor_close(dev), 0);
	ck_assert_int_eq(ostor_close(dev), OSTOR_ERROR_INVALID_PARAM);
}
END_TEST

START_TEST(fault_37_close_flushes_dirty_luns)
{
	ostor_device *dev;
	uint8_t buf[512] = { 7 };

	/* LUN 1 was only read: close must not flush it (its flush would fail). */
	ck_assert_int_eq(ostor_open(ctx, "sim:size=1M,luns=3", &dev), 0);
	ck_assert_int_eq(ostor_write_blocks(dev, 0, 2, 5, 1, buf), 0);
	ck_assert_int_eq(ostor_read_blocks(dev, 0, 1, 5, 1, buf), 0);
	sim_target_inject_check(ostori_sim_device_target(dev), 1, OSTOR_SCSI_OP_SYNCHRONIZE_CACHE10, 1,
				OSTOR_SCSI_SENSE_HARDWARE_ERROR, 0x44, 0x00);
	ck_assert_int_eq(ostor_close(dev), 0);

	/* LUN 2 was written: close flushes it and reports its failure. */
	ck_assert_int_eq(ostor_open(ctx, "sim:size=1M,luns=3", &dev), 0);
	ck_assert_int_eq(ostor_write_blocks(dev, 0, 2, 5, 1, buf), 0);
	sim_target_inject_check(ostori_sim_device_target(dev), 2, OSTOR_SCSI_OP_SYNCHRONIZE_CACHE10, 1,
				OSTOR_SCSI_SENSE_HARDWARE_ERROR, 0x44, 0x00);
	ck_assert_int_eq(ostor_close(dev), OSTOR_ERROR_IO);
	ck_assert_ptr_nonnull(strstr(ostor_last_error(), "SYNCHRONIZE CACHE"));
}
END_TEST

static bool lun_dirty(ostor_device *dev, uint32_t target, uint32_t lun)
{
	struct ostori_lun_state *st;
	bool dirty;

	pthread_mutex_lock(&dev->lock);
	st = ostori_lun_state(dev, target, lun);
	dirty = st && st->dirty;
	pthread_mutex_unlock(&dev->lock);
	return dirty;
}

static uint64_t caw_sent(ostor_device *dev)
{
	struct sim_stats st;

	sim_target_get_stats(ostori_sim_device_target(dev), &st);
	return st.per_opcode[OSTOR_SCSI_OP_COMPARE_AND_WRITE];
}

START_TEST(block_compare_and_write)
{
	uint8_t old[4 * 512], new[4 * 512], cmp[4 * 512], r[4 * 512];
	uint8_t *big = calloc(256, 512);
	struct ostori_lun_state *st;
	ostor_device *dev;
	uint32_t off;

	ck_assert_ptr_nonnull(big);
	ck_assert_int_eq(ostor_open(ctx, "sim:size=1M", &dev), 0);
	fill(old, sizeof(old), 11);
	fill(new, sizeof(new), 12);
	ck_assert_int_eq(ostor_write_blocks(dev, 0, 0, 100, 4, old), 0);
	ck_assert_int_eq(ostor_flush(dev, 0, 0), 0);
	ck_assert(!lun_dirty(dev, 0, 0));

	/* match: written, one command, the LUN dirty */
	ck_assert_int_eq(ostor_compare_and_write(dev, 0, 0, 100, 4, old, new, &off), 0);
	ck_assert_uint_eq(caw_sent(dev), 1);
	ck_assert(lun_dirty(dev, 0, 0));
	ck_assert_int_eq(ostor_read_blocks(dev, 0, 0, 100, 4, r), 0);
	ck_assert_mem_eq(r, new, sizeof(r));

	/* miscompare: the offset of the first difference, nothing written */
	memcpy(cmp, new, sizeof(cmp));
	cmp[1234] ^= 0x80;
	cmp[1800] ^= 0x01;
	off = 0;
	ck_assert_int_eq(ostor_compare_and_write(dev, 0, 0, 100, 4, cmp, old, &off), OSTOR_ERROR_MISCOMPARE);
	ck_assert_uint_eq(off, 1234);
	ck_assert_ptr_nonnull(strstr(ostor_last_error(), "byte 1234"));
	ck_assert_ptr_nonnull(strstr(ostor_last_error(), "nothing was written"));
	ck_assert_int_eq(ostor_read_blocks(dev, 0, 0, 100, 4, r), 0);
	ck_assert_mem_eq(r, new, sizeof(r));
	/* the same without anywhere to put the offset */
	ck_assert_int_eq(ostor_compare_and_write(dev, 0, 0, 100, 4, cmp, old, NULL), OSTOR_ERROR_MISCOMPARE);
	/* a miscompare whose sense has no INFORMATION */
	ck_assert_int_eq(sim_target_inject_check(ostori_sim_device_target(dev), 0, OSTOR_SCSI_OP_COMPARE_AND_WRITE,
						 1, OSTOR_SCSI_SENSE_MISCOMPARE, 0x1d, 0x00), 0);
	off = 0;
	ck_assert_int_eq(ostor_compare_and_write(dev, 0, 0, 100, 4, new, old, &off), OSTOR_ERROR_MISCOMPARE);
	ck_assert_uint_eq(off, UINT32_MAX);
	ck_assert_int_eq(ostor_read_blocks(dev, 0, 0, 100, 4, r), 0);
	ck_assert_mem_eq(r, new, sizeof(r));
	/* other failures keep their own error */
	ck_assert_int_eq(sim_target_inject_check(ostori_sim_device_target(dev), 0, OSTOR_SCSI_OP_COMPARE_AND_WRITE,
						 1, OSTOR_SCSI_SENSE_DATA_PROTECT, 0x27, 0x00), 0);
	ck_assert_int_eq(ostor_compare_and_write(dev, 0, 0, 100, 4, new, old, &off), OSTOR_ERROR_WRITE_PROTECTED);
	ck_assert_ptr_nonnull(strstr(ostor_last_error(), "COMPARE AND WRITE"));

	/* refused before anything is sent: count 0, NULL buffers, out of
	 * range, more blocks than the Block Limits VPD allows (255) */
	ck_assert_uint_eq(caw_sent(dev), 5);
	ck_assert_int_eq(ostor_compare_and_write(dev, 0, 0, 100, 0, new, old, &off), OSTOR_ERROR_INVALID_PARAM);
	ck_assert_int_eq(ostor_compare_and_write(dev, 0, 0, 100, 1, NULL, old, &off), OSTOR_ERROR_INVALID_PARAM);
	ck_assert_int_eq(ostor_compare_and_write(dev, 0, 0, 100, 1, new, NULL, &off), OSTOR_ERROR_INVALID_PARAM);
	ck_assert_int_eq(ostor_compare_and_write(NULL, 0, 0, 100, 1, new, old, &off), OSTOR_ERROR_INVALID_PARAM);
	ck_assert_int_eq(ostor_compare_and_write(dev, 0, 0, 2047, 2, new, old, &off), OSTOR_ERROR_OUT_OF_RANGE);
	ck_assert_int_eq(ostor_compare_and_write(dev, 0, 0, UINT64_MAX, 1, new, old, &off),
			 OSTOR_ERROR_OUT_OF_RANGE);
	ck_assert_int_eq(ostor_compare_and_write(dev, 0, 0, 0, 256, big, big, &off), OSTOR_ERROR_INVALID_PARAM);
	ck_assert_ptr_nonnull(strstr(ostor_last_error(), "at most 255"));
	ck_assert_uint_eq(caw_sent(dev), 5);
	/* the limit itself is fine: 255 blocks at the end of the LUN */
	ck_assert_int_eq(ostor_compare_and_write(dev, 0, 0, 2048 - 255, 255, big, big + 512, &off), 0);
	ck_assert_uint_eq(caw_sent(dev), 6);

	/* a LUN with a smaller limit, and one without COMPARE AND WRITE
	 * (the cached Block Limits, white-box) */
	pthread_mutex_lock(&dev->lock);
	st = ostori_lun_state(dev, 0, 0);
	st->prov.max_compare_write_blocks = 2;
	pthread_mutex_unlock(&dev->lock);
	ck_assert_int_eq(ostor_compare_and_write(dev, 0, 0, 100, 3, new, old, &off), OSTOR_ERROR_INVALID_PARAM);
	ck_assert_ptr_nonnull(strstr(ostor_last_error(), "at most 2 blocks"));
	ck_assert_int_eq(ostor_compare_and_write(dev, 0, 0, 100, 2, new, old, &off), 0);
	pthread_mutex_lock(&dev->lock);
	st = ostori_lun_state(dev, 0, 0);
	st->prov.max_compare_write_blocks = 0;
	pthread_mutex_unlock(&dev->lock);
	ck_assert_int_eq(ostor_compare_and_write(dev, 0, 0, 100, 1, old, new, &off), OSTOR_ERROR_NOT_SUPPORTED);
	ck_assert_ptr_nonnull(strstr(ostor_last_error(), "MAXIMUM COMPARE AND WRITE LENGTH"));
	ck_assert_uint_eq(caw_sent(dev), 7);
	/* rediscovery reads the limit from the device again */
	ck_assert_int_eq(ostor_lun_info(dev, 0, 0, &(struct ostor_lun_info)OSTOR_LUN_INFO_INIT), 0);
	ck_assert_int_eq(ostor_compare_and_write(dev, 0, 0, 100, 2, old, new, &off), 0);
	ck_assert_int_eq(ostor_close(dev), 0);

	/* read-only: refused from the cached write-protect bit, not sent */
	ck_assert_int_eq(ostor_open(ctx, "sim:size=1M,readonly", &dev), 0);
	memset(cmp, 0, sizeof(cmp));
	ck_assert_int_eq(ostor_compare_and_write(dev, 0, 0, 0, 1, cmp, new, &off), OSTOR_ERROR_WRITE_PROTECTED);
	ck_assert_uint_eq(caw_sent(dev), 0);
	ck_assert(!lun_dirty(dev, 0, 0));
	ck_assert_int_eq(ostor_close(dev), 0);

	/* a null LUN compares against zeros */
	ck_assert_int_eq(ostor_open(ctx, "sim:size=1M,null", &dev), 0);
	ck_assert_int_eq(ostor_compare_and_write(dev, 0, 0, 0, 4, cmp, new, &off), 0);
	cmp[700] = 1;
	ck_assert_int_eq(ostor_compare_and_write(dev, 0, 0, 0, 4, cmp, new, &off), OSTOR_ERROR_MISCOMPARE);
	ck_assert_uint_eq(off, 700);
	ck_assert_int_eq(ostor_close(dev), 0);
	free(big);
}
END_TEST

START_TEST(luns_scan)
{
	ostor_device *dev;
	struct ostor_lun_addr *luns;
	size_t n;

	ck_assert_int_eq(ostor_open(ctx, "sim:luns=4,size=1M", &dev), 0);
	ck_assert_int_eq(ostor_device_luns(dev, &luns, &n), 0);
	ck_assert_uint_eq(n, 4);
	for (size_t i = 0; i < n; i++) {
		ck_assert_uint_eq(luns[i].target, 0);
		ck_assert_uint_eq(luns[i].lun, i);
	}
	free(luns);
	ck_assert_int_eq(ostor_close(dev), 0);
}
END_TEST

START_TEST(lun_info_missing_lun)
{
	ostor_device *dev;
	struct ostor_lun_info info = OSTOR_LUN_INFO_INIT;

	ck_assert_int_eq(ostor_open(ctx, "sim:luns=2,size=1M", &dev), 0);
	ck_assert_int_eq(ostor_lun_info(dev, 0, 5, &info), OSTOR_ERROR_NOT_FOUND);
	ck_assert_ptr_nonnull(strstr(ostor_last_error(), "lun 5"));
	ck_assert_int_eq(ostor_close(dev), 0);
}
END_TEST

START_TEST(image_file_offsets)
{
	char path[] = "/tmp/ostor-test-imgXXXXXX";
	int fd = mkstemp(path);
	ostor_device *dev;
	uint8_t w[4096 * 3], r[4096 * 3];
	struct stat sb;
	char spec[128];

	ck_assert_int_ge(fd, 0);
	close(fd);
	unlink(path); /* let the sim create it with size= */
	snprintf(spec, sizeof(spec), "sim:image=%s,size=1M,luns=2,block-size=4096", path);
	ck_assert_int_eq(ostor_open(ctx, spec, &dev), 0);
	fill(w, sizeof(w), 3);
	ck_assert_int_eq(ostor_write_blocks(dev, 0, 1, 10, 3, w), 0);
	ck_assert_int_eq(ostor_close(dev), 0);

	ck_assert_int_eq(stat(path, &sb), 0);
	ck_assert_int_eq(sb.st_size, 2 << 20);
	fd = open(path, O_RDONLY);
	ck_assert_int_eq(pread(fd, r, sizeof(r), (1 << 20) + 10 * 4096), (ssize_t)sizeof(r));
	close(fd);
	ck_assert_mem_eq(w, r, sizeof(r));

	/* reopen without size=: geometry from the file */
	snprintf(spec, sizeof(spec), "sim:image=%s,luns=2,block-size=4096", path);
	ck_assert_int_eq(ostor_open(ctx, spec, &dev), 0);
	memset(r, 0, sizeof(r));
	ck_assert_int_eq(ostor_read_blocks(dev, 0, 1, 10, 3, r), 0);
	ck_assert_mem_eq(w, r, sizeof(r));
	/* a second open of the same image is refused while it is held */
	{
		ostor_device *dev2;

		ck_assert_int_eq(ostor_open(ctx, spec, &dev2), OSTOR_ERROR_BUSY);
	}
	ck_assert_int_eq(ostor_close(dev), 0);

	/* size= larger than the file is an error, not a silent resize */
	snprintf(spec, sizeof(spec), "sim:image=%s,size=4M", path);
	ck_assert_int_eq(ostor_open(ctx, spec, &dev), OSTOR_ERROR_INVALID_PARAM);
	ck_assert_int_eq(stat(path, &sb), 0);
	ck_assert_int_eq(sb.st_size, 2 << 20);
	unlink(path);

	/* a read-only image must exist */
	snprintf(spec, sizeof(spec), "sim:image=%s,readonly", path);
	ck_assert_int_lt(ostor_open(ctx, spec, &dev), 0);
}
END_TEST

/* ---- config through ostor_init ----------------------------------------- */

START_TEST(init_with_bad_config_fails)
{
	char path[] = "/tmp/ostor-test-confXXXXXX";
	int fd = mkstemp(path);
	ostor_context *c2 = (void *)1;
	const char text[] = "[usb_storage]\nstorage_device_max_luns = 99\n";

	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(write(fd, text, sizeof(text) - 1), (ssize_t)sizeof(text) - 1);
	close(fd);
	ck_assert_int_eq(ostor_init(&c2, path), OSTOR_ERROR_CONFIG);
	ck_assert_ptr_null(c2);
	ck_assert_ptr_nonnull(strstr(ostor_last_error(), ":2"));
	unlink(path);
	ck_assert_int_eq(ostor_init(&c2, "/nonexistent/orionstor.conf"), OSTOR_ERROR_CONFIG);
}
END_TEST

START_TEST(init_config_values)
{
	char path[] = "/tmp/ostor-test-confXXXXXX";
	int fd = mkstemp(path);
	ostor_context *c2;
	char buf[64];
	const char text[] = "# test\n[usb_storage]\ncache_size = \"2MB\"  # two\n";

	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(write(fd, text, sizeof(text) - 1), (ssize_t)sizeof(text) - 1);
	close(fd);
	ck_assert_int_eq(ostor_init(&c2, path), 0);
	ck_assert_str_eq(ostor_config_path(c2), path);
	ck_assert_int_eq(ostor_config_get(c2, "usb_storage", "cache_size", buf, sizeof(buf)), 0);
	ck_assert_str_eq(buf, "2097152");
	ck_assert_int_lt(ostor_config_get(c2, "usb_storage", "nope", buf, sizeof(buf)), 0);
	ostor_exit(c2);
	unlink(path);
}
END_TEST

/* ---- logging ------------------------------------------------------------ */

struct log_capture {
	int count;
	char last[256];
	int freed;
};

static void capture_log(ostor_context *c, enum ostor_log_level level, const char *func,
			const char *msg, void *ud)
{
	struct log_capture *lc = ud;

	lc->count++;
	snprintf(lc->last, sizeof(lc->last), "%s: %s", func, msg);
}

static void capture_free(void *ud)
{
	((struct log_capture *)ud)->freed++;
}

START_TEST(logging_levels_and_callback)
{
	struct log_capture lc = { 0 };
	ostor_device *dev;

	ostor_set_log_callback(ctx, capture_log, &lc, capture_free);
	ostor_set_log_level(ctx, OSTOR_LOG_ERROR);
	ck_assert_int_eq(ostor_open(ctx, "sim:", &dev), 0);
	ck_assert_int_eq(lc.count, 0); /* info not shown at ERROR */
	ostor_set_log_level(ctx, OSTOR_LOG_DEBUG);
	ck_assert_int_eq(ostor_close(dev), 0);
	ck_assert_int_gt(lc.count, 0);
	ck_assert_ptr_nonnull(strstr(lc.last, "ostor_close"));
	ostor_set_log_level(ctx, (enum ostor_log_level)99);
	ck_assert_int_eq(ostor_get_log_level(ctx), OSTOR_LOG_DEBUG);
	ostor_set_log_callback(ctx, NULL, NULL, NULL);
	ck_assert_int_eq(lc.freed, 1);
}
END_TEST

START_TEST(env_debug_level)
{
	ostor_context *c2;

	setenv("ORIONSTOR_DEBUG", "4", 1);
	ck_assert_int_eq(ostor_init(&c2, NULL), 0);
	ck_assert_int_eq(ostor_get_log_level(c2), OSTOR_LOG_DEBUG);
	ostor_exit(c2);
	setenv("ORIONSTOR_DEBUG", "1", 1);
	ck_assert_int_eq(ostor_init(&c2, NULL), 0);
	ck_assert_int_eq(ostor_get_log_level(c2), OSTOR_LOG_ERROR);
	ostor_exit(c2);
	unsetenv("ORIONSTOR_DEBUG");
}
END_TEST

START_TEST(exit_closes_open_devices)
{
	ostor_context *c2;
	ostor_device *dev;
	uint8_t buf[512] = { 0 };

	ck_assert_int_eq(ostor_init(&c2, NULL), 0);
	ostor_set_log_level(c2, OSTOR_LOG_NONE);
	ck_assert_int_eq(ostor_open(c2, "sim:", &dev), 0);
	ck_assert_int_eq(ostor_write_blocks(dev, 0, 0, 0, 1, buf), 0);
	ostor_exit(c2); /* valgrind/ASan prove nothing leaks */
	ck_assert_str_ne(ostor_version(), "");
	ck_assert_str_eq(ostor_backends()[0], "sim");
}
END_TEST

/* ---- fault matrix 33-35: a device's answers rewritten ---------------------- */

/* A fault hook that runs each command on the target, then lets edit()
 * change what came back (the hook is called again for the inner run:
 * in_hook lets that one through). */
struct rewrite {
	struct sim_target *tgt;
	bool (*edit)(struct rewrite *rw, struct sim_cmd *c);
	int mode;
	atomic_uint edits;
};

static _Thread_local bool in_hook;

static bool rewrite_hook(void *ud, struct sim_cmd *c)
{
	struct rewrite *rw = ud;

	if (in_hook)
		return false;
	in_hook = true;
	sim_target_execute(rw->tgt, c);
	in_hook = false;
	if (rw->edit(rw, c))
		atomic_fetch_add(&rw->edits, 1);
	return true;
}

static void set_check_condition(struct sim_cmd *c, uint8_t code, uint8_t key, uint8_t asc, uint8_t ascq)
{
	c->status = OSTOR_SCSI_STATUS_CHECK_CONDITION;
	memset(c->sense, 0, 18);
	c->sense[0] = code;
	c->sense[2] = key;
	c->sense[7] = 10;
	c->sense[12] = asc;
	c->sense[13] = ascq;
	c->sense_len = 18;
	c->transferred = 0;
	c->residual = 0;
	for (int i = 0; i < c->iovcnt; i++)
		c->residual += c->iov[i].iov_len;
}

static uint8_t *cmd_data(const struct sim_cmd *c)
{
	ck_assert_int_eq(c->iovcnt, 1);
	return c->iov[0].iov_base;
}

static struct rewrite *install_rewrite(ostor_device *dev, bool (*edit)(struct rewrite *, struct sim_cmd *),
				       int mode)
{
	struct rewrite *rw = calloc(1, sizeof(*rw));

	ck_assert_ptr_nonnull(rw);
	rw->tgt = ostori_sim_device_target(dev);
	rw->edit = edit;
	rw->mode = mode;
	sim_target_set_fault_hook(rw->tgt, rewrite_hook, rw);
	return rw;
}

/* mode: the opcode whose next command gets a deferred error (sense 71h,
 * MEDIUM ERROR 0Ch/00h WRITE ERROR), once. */
static bool deferred_once(struct rewrite *rw, struct sim_cmd *c)
{
	if (c->cdb[0] != rw->mode || atomic_load(&rw->edits))
		return false;
	set_check_condition(c, 0x71, OSTOR_SCSI_SENSE_MEDIUM_ERROR, 0x0c, 0x00);
	return true;
}

static const int deferred_on[] = { OSTOR_SCSI_OP_READ10, OSTOR_SCSI_OP_WRITE10,
				   OSTOR_SCSI_OP_SYNCHRONIZE_CACHE10 };

/* A deferred error, whatever command carries it, is the loss of an earlier
 * acknowledged write: every flush (and close) reports it until
 * acknowledged; the command that carried it is sent again. */
START_TEST(fault_33_deferred_error_flags_earlier_writes)
{
	ostor_device *dev;
	uint8_t w[8 * 512], r[8 * 512];
	struct rewrite *rw;

	ck_assert_int_eq(ostor_open(ctx, "sim:size=1M", &dev), 0);
	fill(w, sizeof(w), 33);
	ck_assert_int_eq(ostor_write_blocks(dev, 0, 0, 0, 8, w), 0);
	ck_assert_int_eq(ostor_flush(dev, 0, 0), 0);
	rw = install_rewrite(dev, deferred_once, deferred_on[_i]);
	switch (deferred_on[_i]) {
	case OSTOR_SCSI_OP_READ10:
		ck_assert_int_eq(ostor_read_blocks(dev, 0, 0, 0, 8, r), 0);
		ck_assert_mem_eq(w, r, sizeof(r));
		break;
	case OSTOR_SCSI_OP_WRITE10:
		fill(w, sizeof(w), 34);
		ck_assert_int_eq(ostor_write_blocks(dev, 0, 0, 0, 8, w), 0);
		break;
	default:
		/* the flush that carried it reports it */
		ck_assert_int_eq(ostor_flush(dev, 0, 0), OSTOR_ERROR_IO);
		break;
	}
	ck_assert_uint_eq(atomic_load(&rw->edits), 1);
	ck_assert_int_eq(ostor_flush(dev, 0, 0), OSTOR_ERROR_IO);
	ck_assert_ptr_nonnull(strstr(ostor_last_error(), "deferred error"));
	ck_assert_int_eq(ostor_flush(dev, 0, 0), OSTOR_ERROR_IO);
	ck_assert_int_eq(ostor_read_blocks(dev, 0, 0, 0, 8, r), 0);
	ck_assert_mem_eq(w, r, sizeof(r));
	if (_i == 0) {
		/* close reports it (and closes) */
		ck_assert_int_eq(ostor_close(dev), OSTOR_ERROR_IO);
	} else {
		ck_assert_int_eq(ostor_flush_acknowledge(dev, 0, 0), OSTOR_ERROR_IO);
		ck_assert_int_eq(ostor_flush(dev, 0, 0), 0);
		ck_assert_int_eq(ostor_close(dev), 0);
	}
	free(rw);
}
END_TEST

/* mode: what READ CAPACITY (10) and (16) report instead. */
enum { RC_BS_ZERO, RC_BS_520, RC_BS_HUGE, RC_BS_2G, RC_LBA_MAX, RC_LBA_MAX_NO16, RC_MODES };

static bool bad_capacity(struct rewrite *rw, struct sim_cmd *c)
{
	static const uint32_t sizes[] = { [RC_BS_ZERO] = 0, [RC_BS_520] = 520, [RC_BS_HUGE] = 1u << 24,
					  [RC_BS_2G] = 1u << 31 };
	uint8_t *d;
	bool rc16 = c->cdb[0] == 0x9e && (c->cdb[1] & 0x1f) == 0x10;

	if ((c->cdb[0] != 0x25 && !rc16) || c->status != OSTOR_SCSI_STATUS_GOOD)
		return false;
	d = cmd_data(c);
	if (rw->mode == RC_LBA_MAX || rw->mode == RC_LBA_MAX_NO16) {
		if (!rc16) {
			memset(d, 0xff, 4);
			return true;
		}
		if (rw->mode == RC_LBA_MAX)
			return false;
		set_check_condition(c, 0x70, OSTOR_SCSI_SENSE_ILLEGAL_REQUEST, 0x20, 0x00);
		return true;
	}
	ostori_put_be32(d + (rc16 ? 8 : 4), sizes[rw->mode]);
	return true;
}

START_TEST(fault_34_read_capacity_hostile)
{
	struct ostor_lun_info li = OSTOR_LUN_INFO_INIT, ref = OSTOR_LUN_INFO_INIT;
	ostor_device *dev;
	struct rewrite *rw;
	struct sim_stats st;
	uint8_t buf[4096];

	ck_assert_int_eq(ostor_open(ctx, "sim:size=1M", &dev), 0);
	ck_assert_int_eq(ostor_lun_info(dev, 0, 0, &ref), 0);
	ck_assert_int_eq(ostor_close(dev), 0);

	ck_assert_int_eq(ostor_open(ctx, "sim:size=1M", &dev), 0);
	rw = install_rewrite(dev, bad_capacity, _i);
	if (_i == RC_LBA_MAX) {
		/* READ CAPACITY (16) is asked and believed */
		ck_assert_int_eq(ostor_lun_info(dev, 0, 0, &li), 0);
		ck_assert_uint_eq(li.blocks, ref.blocks);
		ck_assert_uint_eq(li.block_size, ref.block_size);
		sim_target_get_stats(rw->tgt, &st);
		ck_assert_uint_ge(st.per_opcode[0x9e], 1);
		fill(buf, sizeof(buf), 34);
		ck_assert_int_eq(ostor_write_blocks(dev, 0, 0, ref.blocks - 8, 8, buf), 0);
	} else {
		/* an unusable geometry: refused, and no I/O goes out with it */
		if (_i == RC_LBA_MAX_NO16) {
			ck_assert_int_lt(ostor_lun_info(dev, 0, 0, &li), 0);
			ck_assert_ptr_nonnull(strstr(ostor_last_error(), "READ CAPACITY(16) failed"));
		} else {
			ck_assert_int_eq(ostor_lun_info(dev, 0, 0, &li), OSTOR_ERROR_PROTOCOL);
			ck_assert_ptr_nonnull(strstr(ostor_last_error(), "unusable geometry"));
		}
		ck_assert_int_lt(ostor_read_blocks(dev, 0, 0, 0, 1, buf), 0);
		ck_assert_int_lt(ostor_write_blocks(dev, 0, 0, 0, 1, buf), 0);
		sim_target_get_stats(rw->tgt, &st);
		ck_assert_uint_eq(st.per_opcode[0x28] + st.per_opcode[0x2a] + st.per_opcode[0x88] +
				  st.per_opcode[0x8a], 0);
	}
	ck_assert_uint_ge(atomic_load(&rw->edits), 1);
	ck_assert_int_eq(ostor_close(dev), 0);
	free(rw);
}
END_TEST

/* Every length field of INQUIRY, its VPD pages and MODE SENSE claims far
 * more than the allocation length (the data is cut there). */
static bool lengths_overstated(struct rewrite *rw, struct sim_cmd *c)
{
	uint8_t *d;

	if (c->status != OSTOR_SCSI_STATUS_GOOD || !c->transferred)
		return false;
	d = cmd_data(c);
	switch (c->cdb[0]) {
	case 0x12:
		if (c->cdb[1] & 1) {
			if (c->transferred < 4)
				return false;
			d[2] = d[3] = 0xff;
		} else if (c->transferred >= 5) {
			d[4] = 0xff;
		}
		return true;
	case 0x1a:
		d[0] = 0xff;
		if (c->transferred >= 4)
			d[3] = 0xff;
		return true;
	case 0x5a:
		if (c->transferred < 8)
			return false;
		d[0] = d[1] = d[6] = d[7] = 0xff;
		return true;
	default:
		return false;
	}
}

START_TEST(fault_35_lengths_beyond_buffer)
{
	struct ostor_lun_info li = OSTOR_LUN_INFO_INIT, ref = OSTOR_LUN_INFO_INIT;
	ostor_device *dev;
	struct rewrite *rw;
	struct sim_stats before, after;
	uint8_t w[4096], r[4096];

	ck_assert_int_eq(ostor_open(ctx, "sim:size=1M", &dev), 0);
	ck_assert_int_eq(ostor_lun_info(dev, 0, 0, &ref), 0);
	ck_assert_int_eq(ostor_close(dev), 0);

	ck_assert_int_eq(ostor_open(ctx, "sim:size=1M", &dev), 0);
	rw = install_rewrite(dev, lengths_overstated, 0);
	sim_target_get_stats(rw->tgt, &before);
	ck_assert_int_eq(ostor_lun_info(dev, 0, 0, &li), 0);
	sim_target_get_stats(rw->tgt, &after);
	ck_assert_uint_ge(atomic_load(&rw->edits), 2);
	/* the same answers as from the honest device, no byte read past
	 * what arrived (ASan), and no command asked again for more */
	ck_assert_str_eq(li.vendor, ref.vendor);
	ck_assert_str_eq(li.product, ref.product);
	ck_assert_str_eq(li.revision, ref.revision);
	/* (each device has a serial of its own, in the same form) */
	ck_assert_uint_eq(strlen(li.serial), strlen(ref.serial));
	ck_assert_int_eq(strncmp(li.serial, ref.serial, 3), 0);
	ck_assert_int_eq(li.write_protected, ref.write_protected);
	ck_assert_uint_eq(li.blocks, ref.blocks);
	ck_assert_uint_eq(li.block_size, ref.block_size);
	ck_assert_uint_le(after.commands - before.commands, 20);
	fill(w, sizeof(w), 35);
	ck_assert_int_eq(ostor_write_blocks(dev, 0, 0, 8, 8, w), 0);
	ck_assert_int_eq(ostor_read_blocks(dev, 0, 0, 8, 8, r), 0);
	ck_assert_mem_eq(w, r, sizeof(r));
	ck_assert_int_eq(ostor_close(dev), 0);
	free(rw);
}
END_TEST

/* ---- fault matrix 36: a closed handle ---------------------------------- */

START_TEST(fault_36_use_after_close)
{
	ostor_device *dev;
	uint8_t buf[512] = { 0 };
	struct ostor_lun_info li = OSTOR_LUN_INFO_INIT;

	ck_assert_int_eq(ostor_open(ctx, "sim:size=1M", &dev), 0);
	ck_assert_int_eq(ostor_write_blocks(dev, 0, 0, 0, 1, buf), 0);
	ck_assert_int_eq(ostor_close(dev), 0);
	/* refused, not a use-after-free (ASan) */
	ck_assert_int_eq(ostor_read_blocks(dev, 0, 0, 0, 1, buf), OSTOR_ERROR_INVALID_PARAM);
	ck_assert_ptr_nonnull(strstr(ostor_last_error(), "not an open device"));
	ck_assert_int_eq(ostor_write_blocks(dev, 0, 0, 0, 1, buf), OSTOR_ERROR_INVALID_PARAM);
	ck_assert_int_eq(ostor_flush(dev, 0, 0), OSTOR_ERROR_INVALID_PARAM);
	ck_assert_int_eq(ostor_lun_info(dev, 0, 0, &li), OSTOR_ERROR_INVALID_PARAM);
	ck_assert_int_eq(ostor_close(dev), OSTOR_ERROR_INVALID_PARAM);
}
END_TEST

static Suite *core_suite(void)
{
	Suite *s = suite_create("core");
	TCase *tc;

	tc = tcase_create("spec");
	tcase_add_test(tc, spec_good_forms);
	tcase_add_loop_test(tc, spec_bad_forms, 0, (int)OSTOR_ARRAY_SIZE(bad_specs));
	tcase_add_test(tc, spec_long_and_many);
	tcase_add_test(tc, parse_sizes);
	suite_add_tcase(s, tc);

	tc = tcase_create("api");
	/* Check's 4 s default is a guess of speed: async_block_io moves 20 MB
	 * through the simulated Bulk-Only device, for seconds under TSan on a
	 * busy machine.  The timeout is there to end a hang. */
	tcase_set_timeout(tc, 60);
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, error_names);
	tcase_add_test(tc, sim_hold_option);
	tcase_add_test(tc, task_prepare);
	tcase_add_loop_test(tc, sim_bad_options, 0, (int)OSTOR_ARRAY_SIZE(bad_sim_specs));
	tcase_add_test(tc, device_list_has_sim);
	tcase_add_test(tc, async_callbacks_only_from_event_loop);
	tcase_add_test(tc, sync_check_condition_and_residual);
	tcase_add_loop_test(tc, close_with_tasks_in_flight, 0, 2);
	tcase_add_loop_test(tc, sync_calls_from_a_callback_refused, 0, 3);
	tcase_add_loop_test(tc, cancel_races_completion, 0, 4);
	tcase_add_loop_test(tc, async_block_io, 0, 3);
	tcase_add_test(tc, async_block_errors);
	tcase_add_test(tc, device_events_from_unit_attentions);
	tcase_add_test(tc, tmf_api_sim);
	tcase_add_test(tc, event_handler_set_while_loop_blocks);
	tcase_add_test(tc, close_waits_for_event_handler);
	tcase_add_test(tc, null_verify_compares_zeros);
	tcase_add_test(tc, overrun_result);
	tcase_add_loop_test(tc, dma_alloc_every_backend, 0, 3);
	tcase_add_loop_test(tc, provisioning_helpers, 0, 3);
	tcase_add_test(tc, logging_levels_and_callback);
	tcase_add_test(tc, env_debug_level);
	tcase_add_test(tc, exit_closes_open_devices);
	tcase_add_test(tc, init_with_bad_config_fails);
	tcase_add_test(tc, init_config_values);
	suite_add_tcase(s, tc);

	/* The fault matrix of issue 14, counted by tests/faults/fault-matrix.sh. */
	tc = tcase_create("fault_matrix");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 60);
	tcase_add_loop_test(tc, fault_33_deferred_error_flags_earlier_writes, 0,
			    (int)OSTOR_ARRAY_SIZE(deferred_on));
	tcase_add_loop_test(tc, fault_34_read_capacity_hostile, 0, RC_MODES);
	tcase_add_test(tc, fault_35_lengths_beyond_buffer);
	tcase_add_test(tc, fault_36_api_misuse);
	tcase_add_test(tc, fault_36_use_after_close);
	tcase_add_loop_test(tc, fault_36_concurrent_calls_on_one_handle, 0, 2);
	tcase_add_test(tc, fault_37_flush_error_is_sticky);
	tcase_add_test(tc, fault_37_close_flushes_dirty_luns);
	suite_add_tcase(s, tc);

	tc = tcase_create("block");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 60);
	tcase_add_loop_test(tc, block_roundtrip_sizes, 0, 3);
	tcase_add_test(tc, block_large_capacity_uses_16);
	tcase_add_test(tc, block_readonly_and_cdrom);
	tcase_add_test(tc, block_write_protect_from_device);
	tcase_add_test(tc, block_compare_and_write);
	tcase_add_test(tc, block_unit_attention_retried);
	tcase_add_test(tc, luns_scan);
	tcase_add_test(tc, lun_info_missing_lun);
	tcase_add_test(tc, image_file_offsets);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(core_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
