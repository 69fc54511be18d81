/*
 * tools/common/usbtool.h - what the usb_storage_* tools share: USB
 * details and LUN descriptions as text and JSON, raw commands.
 */
#ifndef OSTOR_TOOL_USBTOOL_H
#define OSTOR_TOOL_USBTOOL_H

#include "toolcommon.h"

/* The device must be USB mass storage; prints why not (exit code). */
int us_details(ostor_device *dev, const char *spec, struct ostor_usb_details *d);
struct json_object *us_details_json(const struct ostor_usb_details *d);
void us_details_text(const struct ostor_usb_details *d);
/* The element keys of "orionstor info --json". */
struct json_object *us_lun_json(const struct ostor_lun_info *li);
void us_lun_text(const struct ostor_lun_info *li);
/* A removable LUN whose capacity cannot be read (no medium, or a device
 * that reports even that wrongly: QEMU's REQUEST SENSE on LUNs above 0
 * answers "LUN not supported" whatever happened) is described from its
 * INQUIRY data as having no medium, as the kernel's sd/sr do.  0, or <0
 * when the LUN is not such a unit. */
int us_lun_info_removable_fallback(ostor_device *dev, uint32_t target, uint32_t lun,
				   struct ostor_lun_info *li);
/* Run one CDB synchronously on target:lun (the target is the device's
 * mass-storage interface, 0 but on devices with several); returns 0 with
 * *task done (caller frees), or a negative library error. */
int us_exec(ostor_device *dev, uint32_t target, uint32_t lun, const uint8_t *cdb, size_t cdb_len,
	    enum ostor_dir dir, void *buf, size_t len, ostor_task **task);

#endif
