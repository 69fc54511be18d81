/*
 * lib/usb/config.c - the [usb_storage] table of orionstor.conf(5).
 */
#include "usb/config.h"
#include "core/backend.h"
#include "usb/engine.h"     /* ousb_quirks_check for quirks */

#define T "usb_storage"
#define S struct ostori_usb_config

/* Indexed by enum ostori_cache_policy. */
static const char *const cache_policies[] = { "lru", "lfu", "fifo", NULL };

static const struct ostori_config_key keys[] = {
	OSTORI_K_INT(T, S, storage_device_max_count, 16, 1, 256, ""),
	OSTORI_K_INT(T, S, storage_device_max_luns, 16, 1, 16, ""),
	OSTORI_K_INT(T, S, storage_device_timeout, 30000, 100, 3600000, "milliseconds"),
	OSTORI_K_BOOL(T, S, storage_device_async_enabled, true),
	OSTORI_K_BOOL(T, S, scsi_processing_enabled, true),
	OSTORI_K_INT(T, S, scsi_command_cache_size, 64, 0, 65536, "entries"),
	OSTORI_K_BOOL(T, S, scsi_validation_enabled, true),
	OSTORI_K_BOOL(T, S, multi_lun_support, true),
	OSTORI_K_BOOL(T, S, cache_enabled, false),
	OSTORI_K_BOOL(T, S, write_back_cache, false),
	OSTORI_K_BOOL(T, S, read_ahead_cache, false),
	OSTORI_K_SIZE(T, S, cache_size, 16 * OSTORI_MiB, 64 * OSTORI_KiB, 16 * OSTORI_GiB),
	OSTORI_K_CHOICE(T, S, cache_policy, OSTORI_CACHE_LRU, cache_policies),
	OSTORI_K_BOOL(T, S, async_io_enabled, true),
	OSTORI_K_BOOL(T, S, performance_monitoring_enabled, false),
	OSTORI_K_BOOL(T, S, smart_monitoring_enabled, false),
	OSTORI_K_INT(T, S, smart_check_interval, 3600, 1, 604800, "seconds"),
	OSTORI_K_BOOL(T, S, power_management_enabled, false),
	OSTORI_K_INT(T, S, power_idle_ms, 2000, 10, 3600000, "milliseconds"),
	OSTORI_K_BOOL(T, S, uas_enabled, true),
	OSTORI_K_TEXT(T, S, quirks, ousb_quirks_check),
};

const struct ostori_config_table ostori_usb_config_table = {
	.name = T,
	.size = sizeof(S),
	.keys = keys,
	.nkeys = sizeof(keys) / sizeof(keys[0]),
};

/* USB read-ahead: eight of the largest transfers, 128 KiB to 1 MiB - a
 * few bulk transfers keep a Bulk-Only device streaming without holding
 * much memory. */
#define USB_READ_AHEAD_MIN (128 * OSTORI_KiB)
#define USB_READ_AHEAD_MAX OSTORI_MiB

void ostori_usb_cache_params(const struct ostori_usb_config *uc, ostor_device *dev)
{
	struct ostori_bcache_params *p = &dev->bcache_params;
	uint64_t ra = (uint64_t)dev->max_transfer_bytes * 8;

	p->mode = !uc->cache_enabled ? OSTOR_CACHE_OFF
		  : uc->write_back_cache ? OSTOR_CACHE_WRITE_BACK : OSTOR_CACHE_WRITE_THROUGH;
	p->policy = uc->cache_policy; /* the same order as enum ostori_bcache_policy */
	p->size = uc->cache_size;
	if (!ra || ra > USB_READ_AHEAD_MAX)
		ra = USB_READ_AHEAD_MAX;
	p->read_ahead = uc->read_ahead_cache ? OSTOR_MAX(ra, USB_READ_AHEAD_MIN) : 0;
	p->source = "[usb_storage] cache_enabled, write_back_cache, read_ahead_cache, cache_size, cache_policy";
	if (!uc->cache_enabled && (uc->write_back_cache || uc->read_ahead_cache))
		ostor_warn(dev->ctx, "%s: [usb_storage] write_back_cache and read_ahead_cache have no effect "
			   "without cache_enabled = true", dev->spec);
}
