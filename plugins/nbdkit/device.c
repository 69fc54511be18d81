/*
 * plugins/nbdkit/device.c - the device and what each LUN can do.
 *
 * Opened once per nbdkit process, after nbdkit forked (.after_fork): the
 * USB backend starts libusb's event thread and the library its control
 * socket thread, and threads do not survive a fork.  Every addressable
 * LUN with a medium becomes an export; what NBD advertises for it
 * (trim, fast zero, extents, block sizes) comes from the Logical Block
 * Provisioning and Block Limits VPD pages and READ CAPACITY(16), asked
 * here once rather than per connection.
 *
 * Copyright (C) 2026 The liborionstor authors.  LGPL-2.1-or-later.
 */
#include "plugin.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define NBDKIT_API_VERSION 2
#include <nbdkit-plugin.h>

struct onbd_state onbd;

static void log_to_nbdkit(ostor_context *ctx, enum ostor_log_level level, const char *function,
			  const char *message, void *user_data)
{
	(void)ctx;
	(void)user_data;
	/* nbdkit has errors and debug messages (-v) only. */
	if (level == OSTOR_LOG_ERROR)
		nbdkit_error("liborionstor: %s", message);
	else
		nbdkit_debug("liborionstor: %s: %s", function, message);
}

/* Events arrive inside the library's event handling, on whichever
 * thread polls; all the plugin does is remember and log. */
static void on_event(const struct ostor_event *ev, void *user_data)
{
	(void)user_data;
	switch (ev->type) {
	case OSTOR_EVENT_DEVICE_GONE:
		if (!atomic_exchange(&onbd.gone, true))
			nbdkit_error("%s is gone (unplugged or removed): every request fails from now on; "
				     "restart nbdkit once it is back", ostor_device_spec(onbd.dev));
		break;
	case OSTOR_EVENT_CACHE_DATA_LOST:
		nbdkit_error("%s %" PRIu32 ":%" PRIu32 ": cached writes to %" PRIu64 " blocks at LBA %" PRIu64
			     " never reached the device; flushes fail from now on",
			     ostor_device_spec(onbd.dev), ev->target, ev->lun, ev->blocks, ev->lba);
		break;
	default:
		nbdkit_debug("orionstor: event %s on target %" PRIu32 " lun %" PRIu32,
			     ostor_event_name(ev->type), ev->target, ev->lun);
		break;
	}
}

static int inquiry_vpd(struct onbd_thread *t, const struct onbd_lun *L, uint8_t page, uint8_t *buf,
		       uint16_t len, size_t *got)
{
	struct ostor_cdb cdb;

	ostor_scsi_cdb_inquiry(&cdb, 1, page, len);
	return onbd_exec(t, L, cdb.bytes, cdb.len, OSTOR_DIR_FROM_DEVICE, buf, len, got);
}

static uint32_t pow2_floor(uint64_t v)
{
	uint32_t p = 1;

	while ((uint64_t)p * 2 <= v && p < (1u << 31))
		p *= 2;
	return p;
}

/* What the LUN can do beyond ostor_lun_info: every answer is optional,
 * a LUN that refuses a page simply gets the conservative setting. */
static void probe_features(struct onbd_thread *t, struct onbd_lun *L, int thin)
{
	uint8_t buf[256];
	size_t got = 0;
	bool b0 = false, b2 = false;

	if (inquiry_vpd(t, L, 0x00, buf, sizeof(buf), &got) == 0) {
		b0 = ostor_scsi_vpd_supports(buf, got, 0xb0) > 0;
		b2 = ostor_scsi_vpd_supports(buf, got, 0xb2) > 0;
	}
	if (b0 && inquiry_vpd(t, L, 0xb0, buf, 64, &got) == 0) {
		struct ostor_scsi_vpd_block_limits bl = OSTOR_SCSI_VPD_BLOCK_LIMITS_INIT;

		if (ostor_scsi_parse_vpd_block_limits(buf, got, &bl) == 0) {
			L->granularity = bl.optimal_transfer_granularity > 1 ?
					 pow2_floor((uint64_t)bl.optimal_transfer_granularity * L->block_size) : 0;
			L->max_write_same = bl.max_write_same_len;
		}
	}
	if (b2 && inquiry_vpd(t, L, 0xb2, buf, 64, &got) == 0) {
		struct ostor_scsi_vpd_lbp lbp = OSTOR_SCSI_VPD_LBP_INIT;

		if (ostor_scsi_parse_vpd_lbp(buf, got, &lbp) == 0) {
			L->unmap = lbp.lbpu;
			L->ws_unmap = lbp.lbpws;
			L->lbprz = lbp.lbprz != 0;
		}
	}
	L->physical_block = L->block_size;
	{
		struct ostor_scsi_read_capacity rc = OSTOR_SCSI_READ_CAPACITY_INIT;
		struct ostor_cdb cdb;

		ostor_scsi_cdb_read_capacity16(&cdb, 32);
		if (onbd_exec(t, L, cdb.bytes, cdb.len, OSTOR_DIR_FROM_DEVICE, buf, 32, &got) == 0 &&
		    ostor_scsi_parse_read_capacity16(buf, got, &rc) == 0) {
			if (rc.lbppbe && rc.lbppbe < 16)
				L->physical_block = L->block_size << rc.lbppbe;
			L->lbprz = L->lbprz || rc.lbprz;
		}
	}
	if (thin)
		L->lba_status = onbd_probe_lba_status(t, L);
	ostor_task_reset(t->task);
}

/* Fill L for target:lun; 1 when it is exported, 0 when it is not a
 * block device with a medium (logged), -1 on failure. */
static int probe_lun(struct onbd_thread *t, struct onbd_lun *L, uint32_t target, uint32_t lun)
{
	struct ostor_lun_info info = OSTOR_LUN_INFO_INIT;
	int r;

	memset(L, 0, sizeof(*L));
	L->target = target;
	L->lun = lun;
	snprintf(L->name, sizeof(L->name), "%" PRIu32 ":%" PRIu32, target, lun);
	r = ostor_lun_info(onbd.dev, target, lun, &info);
	if (r < 0) {
		nbdkit_debug("orionstor: LUN %s not exported: %s", L->name, ostor_last_error());
		return 0;
	}
	switch (info.peripheral_type) {
	case OSTOR_TYPE_DISK: case OSTOR_TYPE_RBC: case OSTOR_TYPE_CDROM: case OSTOR_TYPE_OPTICAL:
		break;
	default:
		nbdkit_debug("orionstor: LUN %s not exported: a %s is not a block device", L->name,
			     ostor_peripheral_type_name(info.peripheral_type));
		return 0;
	}
	if (!info.block_size || !info.blocks) {
		nbdkit_debug("orionstor: LUN %s not exported: no medium", L->name);
		return 0;
	}
	L->block_size = info.block_size;
	L->blocks = info.blocks;
	L->max_transfer_blocks = info.max_transfer_blocks;
	L->readonly = info.write_protected || info.peripheral_type == OSTOR_TYPE_CDROM;
	probe_features(t, L, info.thin_provisioned);
	if (L->readonly)
		L->unmap = L->ws_unmap = false;
	snprintf(L->description, sizeof(L->description), "%s %s, %" PRIu64 " x %" PRIu32 " bytes%s",
		 info.vendor, info.product, L->blocks, L->block_size, L->readonly ? ", read-only" : "");
	{
		pthread_rwlockattr_t a;

		/* Writers first: an RMW must not starve behind a stream of
		 * aligned writes. */
		pthread_rwlockattr_init(&a);
		pthread_rwlockattr_setkind_np(&a, PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP);
		pthread_rwlock_init(&L->rmw, &a);
		pthread_rwlockattr_destroy(&a);
	}
	nbdkit_debug("orionstor: export %s: %s; max transfer %" PRIu32 " blocks, physical %" PRIu32
		     ", granularity %" PRIu32 ", unmap %d, ws_unmap %d, lbprz %d, lba_status %d",
		     L->name, L->description, L->max_transfer_blocks, L->physical_block, L->granularity,
		     L->unmap, L->ws_unmap, L->lbprz, L->lba_status);
	return 1;
}

static int scan(int64_t want_target, int64_t want_lun)
{
	struct ostor_lun_addr *addrs = NULL;
	struct onbd_thread *t;
	uint32_t largest = 0;
	size_t count = 0;
	int r;

	r = ostor_device_luns(onbd.dev, &addrs, &count);
	if (r < 0) {
		nbdkit_error("cannot list the LUNs of %s: %s", ostor_device_spec(onbd.dev), ostor_last_error());
		return -1;
	}
	onbd.luns = calloc(count ? count : 1, sizeof(*onbd.luns));
	if (!onbd.luns || !(t = onbd_thread())) {
		free(addrs);
		nbdkit_error("out of memory");
		return -1;
	}
	for (size_t i = 0; i < count; i++) {
		struct onbd_lun *L = &onbd.luns[onbd.nluns];

		if (probe_lun(t, L, addrs[i].target, addrs[i].lun) == 1) {
			if (L->block_size > largest)
				largest = L->block_size;
			onbd.nluns++;
		}
	}
	free(addrs);
	/* The main thread's queue goes back: the workers want them. */
	onbd_thread_exit_self();
	if (onbd.nluns == 0) {
		nbdkit_error("%s has no LUN to export (no disk with a medium); see nbdkit -v for why",
			     ostor_device_spec(onbd.dev));
		return -1;
	}
	if (!(onbd.zero_block = calloc(1, largest))) {
		nbdkit_error("out of memory");
		return -1;
	}
	onbd.default_lun = 0;
	if (want_target >= 0 || want_lun >= 0) {
		uint32_t tg = want_target >= 0 ? (uint32_t)want_target : 0;
		uint32_t ln = want_lun >= 0 ? (uint32_t)want_lun : 0;
		size_t i;

		for (i = 0; i < onbd.nluns; i++)
			if (onbd.luns[i].target == tg && onbd.luns[i].lun == ln)
				break;
		if (i == onbd.nluns) {
			char list[256];
			size_t n = 0;

			list[0] = '\0';
			for (size_t k = 0; k < onbd.nluns && n < sizeof(list); k++)
				n += (size_t)snprintf(list + n, sizeof(list) - n, "%s%s", k ? ", " : "",
						      onbd.luns[k].name);
			nbdkit_error("%s has no exportable LUN %" PRIu32 ":%" PRIu32 "; its exports are %s",
				     ostor_device_spec(onbd.dev), tg, ln, list);
			return -1;
		}
		onbd.default_lun = i;
	}
	return 0;
}

int onbd_device_open(const char *config, const char *spec, int64_t want_target, int64_t want_lun)
{
	struct ostor_event_handler h = { on_event, NULL, NULL };
	int r;

	r = ostor_init(&onbd.ctx, config);
	if (r < 0) {
		nbdkit_error("cannot initialise liborionstor%s%s: %s", config ? " with " : "",
			     config ? config : "", ostor_last_error());
		onbd.ctx = NULL;
		return -1;
	}
	ostor_set_log_callback(onbd.ctx, log_to_nbdkit, NULL, NULL);
	ostor_set_event_handler(onbd.ctx, h);
	r = ostor_open(onbd.ctx, spec, &onbd.dev);
	if (r < 0) {
		nbdkit_error("cannot open device '%s': %s", spec, ostor_last_error());
		onbd.dev = NULL;
		return -1;
	}
	nbdkit_debug("orionstor: opened %s: %s", spec, ostor_device_description(onbd.dev));
	return scan(want_target, want_lun);
}

int onbd_device_close(void)
{
	int r = 0;

	onbd_thread_exit_self();
	if (onbd.dev) {
		char spec[256];

		snprintf(spec, sizeof(spec), "%s", ostor_device_spec(onbd.dev));
		r = ostor_close(onbd.dev);
		if (r < 0)
			nbdkit_error("closing %s: %s (data written may not have reached the device)",
				     spec, ostor_last_error());
		onbd.dev = NULL;
	}
	if (onbd.ctx)
		ostor_exit(onbd.ctx);
	onbd.ctx = NULL;
	for (size_t i = 0; i < onbd.nluns; i++)
		pthread_rwlock_destroy(&onbd.luns[i].rmw);
	free(onbd.luns);
	free(onbd.zero_block);
	onbd.luns = NULL;
	onbd.zero_block = NULL;
	onbd.nluns = 0;
	atomic_store(&onbd.gone, false);
	return r < 0 ? -1 : 0;
}

struct onbd_lun *onbd_find_lun(const char *name)
{
	if (!name || !*name)
		return onbd.nluns ? &onbd.luns[onbd.default_lun] : NULL;
	for (size_t i = 0; i < onbd.nluns; i++)
		if (!strcmp(onbd.luns[i].name, name))
			return &onbd.luns[i];
	return NULL;
}
