/*
 * tools/common/virtiotool.h - shared bits of the virtio-scsi-* tools.
 */
#ifndef OSTOR_TOOL_VIRTIOTOOL_H
#define OSTOR_TOOL_VIRTIOTOOL_H

#include "toolcommon.h"

#include <json-c/json.h>

/* Open -d SPEC and check it is a virtio-scsi device; 0 or an exit code. */
int vst_open(const struct tc_common *c, ostor_context **ctx, ostor_device **dev);
/* --target within the device's max_target: 0, or TC_EXIT_NOT_FOUND with
 * the message every tool gives for a target that is not there. */
int vst_check_target(ostor_device *dev, const struct tc_common *c);
/* Feature bits as "0x..." and decoded names. */
struct json_object *vst_hex64(uint64_t v);
void vst_features_text(uint64_t f, char *buf, size_t len);
/* The device-info JSON object of one open device (luns included). */
struct json_object *vst_device_json(ostor_device *dev, int *first_fail);
struct json_object *vst_queue_json(const struct ostor_virtio_queue_info *q);
const char *vst_queue_type(int type);
/* The text tables: every queue of the device; the LUNs of one target (or
 * of all when target < 0), returning how many were shown. */
void vst_queues_text(ostor_device *dev);
size_t vst_luns_text(ostor_device *dev, int64_t target);

#endif
