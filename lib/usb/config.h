/*
 * lib/usb/config.h - the [usb_storage] table of orionstor.conf(5): the
 * keys the USB backend, its engine and the simulated USB devices read.
 */
#ifndef OSTOR_USB_CONFIG_H
#define OSTOR_USB_CONFIG_H

#include "core/config.h"

/* cache_policy */
enum ostori_cache_policy {
	OSTORI_CACHE_LRU = 0,
	OSTORI_CACHE_LFU,
	OSTORI_CACHE_FIFO,
};

/* Field types follow the key types (checked at compile time). */
struct ostori_usb_config {
	uint32_t storage_device_max_count;
	uint32_t storage_device_max_luns;
	uint32_t storage_device_timeout;               /* ms */
	bool storage_device_async_enabled;
	bool scsi_processing_enabled;
	uint32_t scsi_command_cache_size;              /* entries */
	bool scsi_validation_enabled;
	bool multi_lun_support;
	bool cache_enabled;
	bool write_back_cache;
	bool read_ahead_cache;
	uint64_t cache_size;                           /* bytes */
	int cache_policy;                              /* enum ostori_cache_policy */
	bool async_io_enabled;
	bool performance_monitoring_enabled;
	bool smart_monitoring_enabled;
	uint32_t smart_check_interval; /* seconds */
	bool power_management_enabled;
	uint32_t power_idle_ms;                        /* ms without commands before suspend is allowed */
	bool uas_enabled;                              /* false: the Bulk-Only alternate setting */
	/* "VVVV:PPPP:flag+flag,...", see ousb_quirks_resolve() */
	char quirks[OSTORI_CONFIG_TEXT_MAX];
};

extern const struct ostori_config_table ostori_usb_config_table;

static inline const struct ostori_usb_config *ostori_usb_config(const struct ostor_config *cfg)
{
	return (const struct ostori_usb_config *)ostori_config_data(cfg, &ostori_usb_config_table);
}

/* The block cache as [usb_storage] asks for it (cache_enabled,
 * write_back_cache, read_ahead_cache, cache_size, cache_policy). */
void ostori_usb_cache_params(const struct ostori_usb_config *uc, ostor_device *dev);

#endif /* OSTOR_USB_CONFIG_H */
