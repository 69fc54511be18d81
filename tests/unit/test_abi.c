/*
 * tests/unit/test_abi.c - structures that grow (liborionstor(3)): every
 * public struct with a .size is filled for a caller built against the
 * same or a newer header without a byte written past the caller's .size
 * or past the library's last field, .size 0 or too small is refused with
 * a message and nothing written, and the mechanism keeps a caller built
 * against an older (smaller) version working (lib/util/sized.c, on a
 * struct that has two versions).
 */
#include "core/backend.h"
#include "sim/backend.h"
#include "sim/target.h"
#include "util/sized.h"

#include <check.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#define CANARY 0xa5
#define EXTRA 64 /* bytes past the struct: the fields of a newer header */

static ostor_context *ctx;
static ostor_device *sim, *usb, *virtio;

static void setup(void)
{
	ck_assert_int_eq(ostor_init(&ctx, ""), 0);
	ostor_set_log_level(ctx, OSTOR_LOG_NONE);
	ck_assert_int_eq(ostor_open(ctx, "sim:size=1M", &sim), 0);
	ck_assert_int_eq(ostor_open(ctx, "sim:transport=usb-bot,size=1M", &usb), 0);
	ck_assert_int_eq(ostor_open(ctx, "sim:transport=virtio,size=1M", &virtio), 0);
}

static void teardown(void)
{
	ostor_exit(ctx);
	ctx = NULL;
}

/* ---- every public struct that grows ----------------------------------- */

static const uint8_t inquiry_data[36] = {
	0x00, 0x80, 0x06, 0x02, 0x1f, 0x00, 0x00, 0x02,
	'A', 'C', 'M', 'E', ' ', ' ', ' ', ' ',
	'D', 'i', 's', 'k', ' ', ' ', ' ', ' ', ' ', ' ', ' ', ' ', ' ', ' ', ' ', ' ',
	'1', '.', '0', ' ',
};
static const uint8_t capacity10_data[8] = { 0x00, 0x00, 0x07, 0xff, 0x00, 0x00, 0x02, 0x00 };
static const uint8_t capacity16_data[32] = {
	0, 0, 0, 0, 0, 0, 0x07, 0xff, 0x00, 0x00, 0x10, 0x00, 0x00, 0x03, 0x80, 0x00,
};
static const uint8_t block_limits_data[64] = { 0x00, 0xb0, 0x00, 0x3c, 0x00, 0x08, 0x00, 0x01,
					       0x00, 0x00, 0x01, 0x00 };
static const uint8_t block_char_data[64] = { 0x00, 0xb1, 0x00, 0x3c, 0x00, 0x01, 0x00, 0x03 };
static const uint8_t lbp_data[8] = { 0x00, 0xb2, 0x00, 0x04, 0x00, 0xc0, 0x02, 0x00 };
static const uint8_t caching_data[20] = { 0x08, 0x12, 0x04 };

static int call_lun_info(void *out)
{
	return ostor_lun_info(sim, 0, 0, out);
}

static void check_lun_info(const void *p)
{
	const struct ostor_lun_info *li = p;

	ck_assert_uint_eq(li->block_size, 512);
	ck_assert_uint_eq(li->blocks, 2048);
	ck_assert_int_eq(li->medium_present, 1);
	ck_assert_uint_gt(li->max_transfer_blocks, 0);
}

static int call_power_info(void *out)
{
	return ostor_power_get(sim, 0, 0, out);
}

static void check_power_info(const void *p)
{
	const struct ostor_power_info *pi = p;

	ck_assert_int_eq(pi->condition, OSTOR_POWER_ACTIVE);
	ck_assert_str_eq(pi->condition_source, "request-sense");
}

static int call_usb_details(void *out)
{
	return ostor_usb_get_details(usb, out);
}

static void check_usb_details(const void *p)
{
	const struct ostor_usb_details *d = p;

	ck_assert_uint_ne(d->vendor_id, 0);
	ck_assert_str_eq(d->transport, "bot");
	ck_assert_int_eq(d->simulated, 1);
	ck_assert_uint_eq(d->interfaces, 1);
	ck_assert_uint_eq(d->target_protocol[0], 0x50);
}

static int call_usb_power(void *out)
{
	return ostor_usb_power_get(usb, out);
}

static void check_usb_power(const void *p)
{
	const struct ostor_usb_power *pw = p;

	ck_assert_str_eq(pw->runtime_status, "unsupported");
	ck_assert_uint_eq(pw->max_power_ma, 500);
	ck_assert_str_eq(pw->speed, "high");
}

static int call_virtio_device_info(void *out)
{
	return ostor_virtio_device_info(virtio, out);
}

static void check_virtio_device_info(const void *p)
{
	const struct ostor_virtio_device_info *in = p;

	ck_assert_str_eq(in->pci_address, "sim");
	ck_assert_str_eq(in->transport, "sim");
	ck_assert_int_eq(in->iommu_group, -1);
	ck_assert_uint_ge(in->num_queues, 1);
	ck_assert_uint_ne(in->driver_features, 0);
}

static int call_virtio_queue_info(void *out)
{
	return ostor_virtio_queue_info(virtio, 2, out);
}

static void check_virtio_queue_info(const void *p)
{
	const struct ostor_virtio_queue_info *qi = p;

	ck_assert_uint_eq(qi->index, 2);
	ck_assert_int_eq(qi->type, OSTOR_VIRTIO_QUEUE_REQUEST);
	ck_assert_uint_gt(qi->queue_size, 0);
	ck_assert_int_eq(qi->interrupt_vector, -1);
}

static int call_inquiry(void *out)
{
	return ostor_scsi_parse_inquiry(inquiry_data, sizeof(inquiry_data), out);
}

static void check_inquiry(const void *p)
{
	const struct ostor_scsi_inquiry *inq = p;

	ck_assert_str_eq(inq->vendor, "ACME");
	ck_assert_str_eq(inq->revision, "1.0");
	ck_assert_uint_eq(inq->valid_len, 36);
}

static int call_capacity10(void *out)
{
	return ostor_scsi_parse_read_capacity10(capacity10_data, sizeof(capacity10_data), out);
}

static int call_capacity16(void *out)
{
	return ostor_scsi_parse_read_capacity16(capacity16_data, sizeof(capacity16_data), out);
}

static void check_capacity(const void *p)
{
	const struct ostor_scsi_read_capacity *cap = p;

	ck_assert_uint_eq(cap->blocks, 2048);
	ck_assert_uint_gt(cap->block_size, 0);
	ck_assert_uint_gt(cap->valid_len, 0);
}

static int call_block_limits(void *out)
{
	return ostor_scsi_parse_vpd_block_limits(block_limits_data, sizeof(block_limits_data), out);
}

static void check_block_limits(const void *p)
{
	const struct ostor_scsi_vpd_block_limits *bl = p;

	ck_assert_uint_eq(bl->max_compare_write_len, 8);
	ck_assert_uint_eq(bl->max_transfer_len, 256);
	ck_assert_uint_eq(bl->valid_len, 64);
}

static int call_block_characteristics(void *out)
{
	return ostor_scsi_parse_vpd_block_characteristics(block_char_data, sizeof(block_char_data),
							   out);
}

static void check_block_characteristics(const void *p)
{
	const struct ostor_scsi_vpd_block_characteristics *bc = p;

	ck_assert_int_eq(bc->non_rotating, 1);
	ck_assert_uint_eq(bc->form_factor, 3);
	ck_assert_uint_eq(bc->valid_len, 64);
}

static int call_lbp(void *out)
{
	return ostor_scsi_parse_vpd_lbp(lbp_data, sizeof(lbp_data), out);
}

static void check_lbp(const void *p)
{
	const struct ostor_scsi_vpd_lbp *lbp = p;

	ck_assert_int_eq(lbp->lbpu, 1);
	ck_assert_int_eq(lbp->lbpws, 1);
	ck_assert_uint_eq(lbp->provisioning_type, OSTOR_SCSI_PROV_THIN);
	ck_assert_uint_eq(lbp->valid_len, 8);
}

static int call_caching_page(void *out)
{
	struct ostor_scsi_mode_page pg = { .page = 0x08, .page_length = 0x12,
					   .data = caching_data, .len = sizeof(caching_data) };

	return ostor_scsi_parse_caching_page(&pg, out);
}

static void check_caching_page(const void *p)
{
	const struct ostor_scsi_caching_page *cp = p;

	ck_assert_int_eq(cp->wce, 1);
	ck_assert_int_eq(cp->rcd, 0);
	ck_assert_int_eq(cp->byte12_valid, 1);
}

static int call_sense(void *out)
{
	uint8_t sense[18];

	ostor_scsi_build_sense_fixed_info(sense, sizeof(sense), OSTOR_SCSI_SENSE_MEDIUM_ERROR, 0x11,
					  0x00, 1234);
	return ostor_scsi_parse_sense(sense, sizeof(sense), out);
}

static void check_sense(const void *p)
{
	const struct ostor_scsi_sense *s = p;

	ck_assert_int_eq(s->valid, 1);
	ck_assert_uint_eq(s->key, OSTOR_SCSI_SENSE_MEDIUM_ERROR);
	ck_assert_uint_eq(s->asc, 0x11);
	ck_assert_uint_eq(s->information, 1234);
	ck_assert_int_eq(s->fru_valid, 1);
}

/* IDENTIFY DEVICE, SMART data and the self-test log: a word or two set. */
static int call_ata_identify(void *out)
{
	uint8_t id[512] = { 0 };

	memcpy(id + 54, "CAEMD si k", 10); /* "ACME Disk", byte-swapped */
	id[98] = 0x00;
	id[99] = 0x02;                   /* word 49: LBA */
	id[120] = 0x00;
	id[121] = 0x10;                  /* words 60-61: 4096 sectors */
	return ostor_scsi_parse_ata_identify(id, sizeof(id), out);
}

static void check_ata_identify(const void *p)
{
	const struct ostor_scsi_ata_identify *id = p;

	ck_assert_str_eq(id->model, "ACME Disk");
	ck_assert_uint_eq(id->sectors, 4096);
	ck_assert_int_eq(id->smart_supported, -1);
	ck_assert_uint_eq(id->valid_len, 512);
}

static int call_ata_smart_data(void *out)
{
	uint8_t data[512] = { 0x10, 0x00, 194, 0x22, 0x00, 100, 100, 40 };

	return ostor_scsi_parse_ata_smart_data(data, sizeof(data), NULL, 0, out);
}

static void check_ata_smart_data(const void *p)
{
	const struct ostor_scsi_ata_smart_data *d = p;

	ck_assert_uint_eq(d->count, 1);
	ck_assert_str_eq(d->attrs[0].name, "Temperature_Celsius");
	ck_assert_int_eq(d->temperature, 40);
	ck_assert_uint_eq(d->valid_len, 512);
}

static int call_ata_self_test_log(void *out)
{
	uint8_t log[512] = { 0x01, 0x00, 0x01, 0x00, 0x10, 0x00 };

	log[508] = 1;
	return ostor_scsi_parse_ata_self_test_log(log, sizeof(log), out);
}

static void check_ata_self_test_log(const void *p)
{
	const struct ostor_scsi_ata_self_test_log *l = p;

	ck_assert_uint_eq(l->count, 1);
	ck_assert_uint_eq(l->entries[0].lifetime_hours, 16);
	ck_assert_uint_eq(l->failed_count, 0);
}

struct grow_case {
	const char *type;             /* "struct ostor_lun_info" */
	const char *init;             /* its initializer */
	size_t size;                  /* sizeof */
	size_t end;                   /* where its last field ends */
	size_t first_end;             /* where the first version's last field ends */
	int (*call)(void *out);
	void (*check)(const void *out);
};

#define CASE(T, INIT, last, call, check)                                                   \
	{ "struct " #T, #INIT, sizeof(struct T), OSTORI_FIELD_END(struct T, last),        \
	  OSTORI_FIELD_END(struct T, last), call, check }
/* A struct that grew: first is the last field of its first version. */
#define CASE2(T, INIT, first, last, call, check)                                         \
	{ "struct " #T, #INIT, sizeof(struct T), OSTORI_FIELD_END(struct T, last),        \
	  OSTORI_FIELD_END(struct T, first), call, check }

static const struct grow_case cases[] = {
	CASE(ostor_lun_info, OSTOR_LUN_INFO_INIT, thin_provisioned, call_lun_info, check_lun_info),
	CASE(ostor_power_info, OSTOR_POWER_INFO_INIT, standby_z, call_power_info, check_power_info),
	CASE(ostor_usb_details, OSTOR_USB_DETAILS_INIT, target_max_lun, call_usb_details,
	     check_usb_details),
	CASE(ostor_usb_power, OSTOR_USB_POWER_INIT, sysfs_path, call_usb_power, check_usb_power),
	CASE2(ostor_virtio_device_info, OSTOR_VIRTIO_DEVICE_INFO_INIT, topology_generation, dma_pool_bytes,
	     call_virtio_device_info, check_virtio_device_info),
	CASE2(ostor_virtio_queue_info, OSTOR_VIRTIO_QUEUE_INFO_INIT, renotifies, interrupt_vector,
	     call_virtio_queue_info, check_virtio_queue_info),
	CASE(ostor_scsi_inquiry, OSTOR_SCSI_INQUIRY_INIT, valid_len, call_inquiry, check_inquiry),
	CASE(ostor_scsi_read_capacity, OSTOR_SCSI_READ_CAPACITY_INIT, valid_len, call_capacity10,
	     check_capacity),
	CASE(ostor_scsi_read_capacity, OSTOR_SCSI_READ_CAPACITY_INIT, valid_len, call_capacity16,
	     check_capacity),
	CASE(ostor_scsi_vpd_block_limits, OSTOR_SCSI_VPD_BLOCK_LIMITS_INIT, valid_len,
	     call_block_limits, check_block_limits),
	CASE(ostor_scsi_vpd_block_characteristics, OSTOR_SCSI_VPD_BLOCK_CHARACTERISTICS_INIT,
	     valid_len, call_block_characteristics, check_block_characteristics),
	CASE(ostor_scsi_vpd_lbp, OSTOR_SCSI_VPD_LBP_INIT, valid_len, call_lbp, check_lbp),
	CASE(ostor_scsi_caching_page, OSTOR_SCSI_CACHING_PAGE_INIT, byte12_valid,
	     call_caching_page, check_caching_page),
	CASE(ostor_scsi_sense, OSTOR_SCSI_SENSE_INIT, ata_return_present, call_sense, check_sense),
	CASE(ostor_scsi_ata_identify, OSTOR_SCSI_ATA_IDENTIFY_INIT, valid_len, call_ata_identify,
	     check_ata_identify),
	CASE(ostor_scsi_ata_smart_data, OSTOR_SCSI_ATA_SMART_DATA_INIT, valid_len,
	     call_ata_smart_data, check_ata_smart_data),
	CASE(ostor_scsi_ata_self_test_log, OSTOR_SCSI_ATA_SELF_TEST_LOG_INIT, failed_count,
	     call_ata_self_test_log, check_ata_self_test_log),
};

/* A caller's struct of size bytes inside a larger canary-filled block
 * (8-byte aligned, as the structs want). */
static uint8_t *canary_block(size_t total, uint32_t size)
{
	uint8_t *p = aligned_alloc(8, (total + 7) & ~(size_t)7);

	ck_assert_ptr_nonnull(p);
	memset(p, CANARY, total);
	memcpy(p, &size, sizeof(size));
	return p;
}

static uint32_t size_field(const uint8_t *p)
{
	uint32_t size;

	memcpy(&size, p, sizeof(size));
	return size;
}

static void assert_canary(const uint8_t *p, size_t from, size_t to, const char *what)
{
	for (size_t i = from; i < to; i++)
		ck_assert_msg(p[i] == CANARY, "%s: byte %zu was written", what, i);
}

/* .size = sizeof (the program was built against this header), and larger
 * (a newer header): filled up to the library's last field, nothing after;
 * .size says so, and the struct can be passed again as it is. */
START_TEST(grows_filled_up_to_size)
{
	const struct grow_case *c = &cases[_i];
	const size_t sizes[] = { c->size, c->size + EXTRA };

	for (size_t k = 0; k < OSTOR_ARRAY_SIZE(sizes); k++) {
		size_t total = c->size + EXTRA;
		uint8_t *p = canary_block(total, (uint32_t)sizes[k]);

		ck_assert_msg(c->call(p) == 0, "%s: %s", c->type, ostor_last_error());
		ck_assert_uint_eq(size_field(p), c->end);
		c->check(p);
		/* The tail padding, and every field of a newer header. */
		assert_canary(p, c->end, total, c->type);
		ck_assert_msg(c->call(p) == 0, "%s again: %s", c->type, ostor_last_error());
		ck_assert_uint_eq(size_field(p), c->end);
		c->check(p);
		free(p);
	}
}
END_TEST

/* .size 0, or smaller than any version (here: cutting a field in the
 * middle, or just the last one): refused with a message saying to set
 * .size, and not a byte written. */
START_TEST(grows_size_not_set)
{
	const struct grow_case *c = &cases[_i];
	const size_t sizes[] = { 0, 4, c->first_end / 2 + 1, c->first_end - 1 };

	for (size_t k = 0; k < OSTOR_ARRAY_SIZE(sizes); k++) {
		size_t total = c->size + EXTRA;
		uint8_t *p = canary_block(total, (uint32_t)sizes[k]);
		char want[160];

		ck_assert_int_eq(c->call(p), OSTOR_ERROR_INVALID_PARAM);
		snprintf(want, sizeof(want), "set .size = sizeof(%s)", c->type);
		ck_assert_msg(strstr(ostor_last_error(), want) && strstr(ostor_last_error(), c->init),
			      "%s, .size %zu: message \"%s\"", c->type, sizes[k], ostor_last_error());
		if (sizes[k] == 0)
			ck_assert_ptr_nonnull(strstr(ostor_last_error(), "size is 0"));
		ck_assert_uint_eq(size_field(p), sizes[k]);
		assert_canary(p, sizeof(uint32_t), total, c->type);
		free(p);
	}
}
END_TEST

/* The initializers set .size to sizeof and zero the rest. */
START_TEST(initializers)
{
	struct ostor_lun_info li = OSTOR_LUN_INFO_INIT;
	struct ostor_scsi_sense s = OSTOR_SCSI_SENSE_INIT;
	struct ostor_virtio_queue_info qi = OSTOR_VIRTIO_QUEUE_INFO_INIT;

	ck_assert_uint_eq(li.size, sizeof(li));
	ck_assert_uint_eq(li.blocks, 0);
	ck_assert_uint_eq(s.size, sizeof(s));
	ck_assert_int_eq(s.ata_return_present, 0);
	ck_assert_uint_eq(qi.size, sizeof(qi));
	ck_assert(OSTOR_HAS_FIELD(&li, thin_provisioned));
	ck_assert(OSTOR_HAS_FIELD(&qi, renotifies));
	/* What a newer program sees from an older library. */
	qi.size = (uint32_t)offsetof(struct ostor_virtio_queue_info, renotifies);
	ck_assert(OSTOR_HAS_FIELD(&qi, notifies));
	ck_assert(!OSTOR_HAS_FIELD(&qi, renotifies));
}
END_TEST

/* Sense handed back to the library is read only as far as its .size. */
START_TEST(sense_in_needs_size)
{
	struct ostor_scsi_sense s = OSTOR_SCSI_SENSE_INIT;
	uint8_t sense[18];
	char text[160];

	ostor_scsi_build_sense_fixed(sense, sizeof(sense), OSTOR_SCSI_SENSE_NOT_READY, 0x04, 0x04);
	sense[15] = 0x80;
	sense[16] = 0x80;
	ck_assert_int_eq(ostor_scsi_parse_sense(sense, sizeof(sense), &s), 0);
	ck_assert_int_eq(ostor_scsi_sense_progress(&s), 0x8000);
	ck_assert_ptr_nonnull(strstr(ostor_scsi_sense_text(&s, text, sizeof(text)), "NOT READY"));
	s.size = 0;
	ck_assert_int_eq(ostor_scsi_sense_progress(&s), -1);
	ck_assert_ptr_nonnull(strstr(ostor_last_error(), "set .size = sizeof(struct ostor_scsi_sense)"));
	ck_assert_ptr_nonnull(strstr(ostor_scsi_sense_text(&s, text, sizeof(text)), "invalid sense data"));
}
END_TEST

/* The event handler gets .size = what the library filled. */
static struct ostor_event seen;
static int events;

static void on_event(const struct ostor_event *ev, void *ud)
{
	(void)ud;
	seen = *ev;
	events++;
}

START_TEST(event_has_size)
{
	uint8_t buf[512];

	events = 0;
	ck_assert_int_eq(ostor_set_event_handler(ctx, (struct ostor_event_handler){ on_event, NULL,
										    NULL }), 0);
	ck_assert_int_eq(ostor_read_blocks(sim, 0, 0, 0, 1, buf), 0);
	ck_assert_int_eq(sim_target_set_capacity(ostori_sim_device_target(sim), 0, 4096), 0);
	ck_assert_int_eq(ostor_read_blocks(sim, 0, 0, 0, 1, buf), 0);
	for (int i = 0; i < 100 && !events; i++)
		ostor_handle_events(ctx, 10);
	ck_assert_int_eq(events, 1);
	ck_assert_int_eq(seen.type, OSTOR_EVENT_CAPACITY_CHANGED);
	ck_assert_uint_eq(seen.size, OSTORI_FIELD_END(struct ostor_event, blocks));
	ck_assert(OSTOR_HAS_FIELD(&seen, ascq));
	ck_assert_uint_eq(seen.asc, 0x2a);
}
END_TEST

/* ---- the mechanism, on a struct with two versions ------------------------ */

/* Version 1 as an old program was built with it, and version 2 as the
 * library knows it: v2 appended c, which starts in v1's tail padding and
 * runs past it, and d. */
struct old_v1 {
	uint32_t size;
	uint32_t a;
	uint16_t b;
};
struct new_v2 {
	uint32_t size;
	uint32_t a;
	uint16_t b;
	uint8_t c[5];
	uint64_t d;
};
static const struct ostori_sized v2_sized =
	OSTORI_SIZED(struct new_v2, NEW_V2_INIT, OSTORI_FIELD_END(struct new_v2, b),
		     OSTORI_FIELD_END(struct new_v2, d));
OSTORI_SIZED_CHECK(struct new_v2, d);

static const struct new_v2 v2_full = { .size = sizeof(struct new_v2), .a = 0x11111111,
				       .b = 0x2222, .c = { 3, 3, 3, 3, 3 },
				       .d = 0x4444444444444444u };

START_TEST(sized_older_caller)
{
	size_t total = sizeof(struct new_v2) + EXTRA;
	uint8_t *p = canary_block(total, sizeof(struct old_v1));
	struct old_v1 v1;

	ck_assert_int_eq(ostori_sized_check(&v2_sized, p, "f", "arg"), 0);
	ostori_sized_put(&v2_sized, p, &v2_full);
	memcpy(&v1, p, sizeof(v1));
	ck_assert_uint_eq(v1.size, offsetof(struct old_v1, b) + 2);
	ck_assert_uint_eq(v1.a, 0x11111111);
	ck_assert_uint_eq(v1.b, 0x2222);
	/* c would fit the old tail padding only in part: not written. */
	assert_canary(p, offsetof(struct old_v1, b) + 2, total, "v1 caller");
	free(p);
}
END_TEST

START_TEST(sized_cut_in_the_middle)
{
	size_t total = sizeof(struct new_v2) + EXTRA;
	/* Inside d: c ends within .size, but only whole versions are
	 * filled (v2 ends after d). */
	uint32_t cut = (uint32_t)offsetof(struct new_v2, d) + 3;
	uint8_t *p = canary_block(total, cut);
	struct new_v2 got;

	ostori_sized_put(&v2_sized, p, &v2_full);
	memcpy(&got, p, offsetof(struct new_v2, c));
	ck_assert_uint_eq(size_field(p), OSTORI_FIELD_END(struct new_v2, b));
	ck_assert_uint_eq(got.a, 0x11111111);
	ck_assert_uint_eq(got.b, 0x2222);
	assert_canary(p, OSTORI_FIELD_END(struct new_v2, b), total, "cut caller");
	free(p);
}
END_TEST

START_TEST(sized_same_and_newer_caller)
{
	size_t total = sizeof(struct new_v2) + EXTRA;
	const uint32_t sizes[] = { sizeof(struct new_v2), sizeof(struct new_v2) + 16 };

	for (size_t k = 0; k < OSTOR_ARRAY_SIZE(sizes); k++) {
		uint8_t *p = canary_block(total, sizes[k]);
		struct new_v2 got;

		ostori_sized_put(&v2_sized, p, &v2_full);
		memcpy(&got, p, sizeof(got));
		ck_assert_uint_eq(got.size, OSTORI_FIELD_END(struct new_v2, d));
		ck_assert_uint_eq(got.a, 0x11111111);
		ck_assert_uint_eq(got.c[4], 3);
		ck_assert_uint_eq(got.d, 0x4444444444444444u);
		assert_canary(p, sizeof(struct new_v2), total, "newer caller");
		free(p);
	}
}
END_TEST

START_TEST(sized_check_and_get)
{
	struct old_v1 v1 = { .size = sizeof(struct old_v1), .a = 7, .b = 8 };
	struct new_v2 full;

	ck_assert_int_eq(ostori_sized_check(&v2_sized, NULL, "f", "arg"), OSTOR_ERROR_INVALID_PARAM);
	ck_assert_str_eq(ostor_last_error(), "f: NULL arg");
	v1.size = 9;
	ck_assert_int_eq(ostori_sized_check(&v2_sized, &v1, "f", "arg"), OSTOR_ERROR_INVALID_PARAM);
	ck_assert_ptr_nonnull(strstr(ostor_last_error(),
				     "arg->size is 9, smaller than any struct new_v2 (at least 10 "
				     "bytes): set .size = sizeof(struct new_v2)"));
	ck_assert_ptr_nonnull(strstr(ostor_last_error(), "NEW_V2_INIT"));
	/* An older caller's struct handed in: what it lacks reads as 0. */
	v1.size = sizeof(struct old_v1);
	ck_assert_int_eq(ostori_sized_check(&v2_sized, &v1, "f", "arg"), 0);
	memset(&full, 0xff, sizeof(full));
	ostori_sized_get(&v2_sized, &full, sizeof(full), &v1);
	ck_assert_uint_eq(full.size, 10);
	ck_assert_uint_eq(full.a, 7);
	ck_assert_uint_eq(full.b, 8);
	ck_assert_uint_eq(full.c[0], 0);
	ck_assert_uint_eq(full.d, 0);
	ck_assert_uint_eq(ostori_sized_len(&v2_sized, 9), 0);
	ck_assert_uint_eq(ostori_sized_len(&v2_sized, UINT32_MAX), 24);
}
END_TEST

static Suite *abi_suite(void)
{
	Suite *s = suite_create("abi");
	TCase *tc;

	tc = tcase_create("grow");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_loop_test(tc, grows_filled_up_to_size, 0, (int)OSTOR_ARRAY_SIZE(cases));
	tcase_add_loop_test(tc, grows_size_not_set, 0, (int)OSTOR_ARRAY_SIZE(cases));
	tcase_add_test(tc, initializers);
	tcase_add_test(tc, sense_in_needs_size);
	tcase_add_test(tc, event_has_size);
	suite_add_tcase(s, tc);

	tc = tcase_create("sized");
	tcase_add_test(tc, sized_older_caller);
	tcase_add_test(tc, sized_cut_in_the_middle);
	tcase_add_test(tc, sized_same_and_newer_caller);
	tcase_add_test(tc, sized_check_and_get);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(abi_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
