/*
 * lib/virtio/device.c - device status handshake, feature negotiation and
 * configuration reads under the config_generation loop.
 */
#include "virtio/virtio.h"

#include <string.h>
#include <time.h>

#define CONFIG_RETRIES_DEFAULT 16
#define RESET_WAIT_MS 1000

int virtio_dev_reset(struct virtio_dev *vd)
{
	uint64_t deadline = ostori_now_ms() + RESET_WAIT_MS;

	vd->ops->set_status(vd, 0);
	/* 4.1.4.3.2: the reset completes when status reads back 0. */
	while (vd->ops->get_status(vd) != 0) {
		struct timespec ts = { 0, 100000 };

		if (ostori_now_ms() > deadline)
			return ostori_error(OSTOR_ERROR_TIMEOUT,
					    "%s: the device did not complete a reset within %d ms "
					    "(status stays 0x%02x); reset the VM or rebind the device",
					    vd->name, RESET_WAIT_MS, vd->ops->get_status(vd));
		nanosleep(&ts, NULL);
	}
	return 0;
}

void virtio_dev_fail(struct virtio_dev *vd)
{
	vd->ops->set_status(vd, (uint8_t)(vd->ops->get_status(vd) | VIRTIO_STATUS_FAILED));
}

int virtio_dev_negotiate(struct virtio_dev *vd, uint64_t wanted)
{
	uint8_t st;
	int r = virtio_dev_reset(vd);

	if (r < 0)
		return r;
	vd->ops->set_status(vd, VIRTIO_STATUS_ACKNOWLEDGE);
	vd->ops->set_status(vd, VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER);
	vd->device_features = vd->ops->get_features(vd);
	if (!(vd->device_features & (1ull << VIRTIO_F_VERSION_1))) {
		virtio_dev_fail(vd);
		return ostori_error(OSTOR_ERROR_NOT_SUPPORTED,
				    "%s: the device does not offer VIRTIO_F_VERSION_1 (legacy-only virtio); "
				    "use a modern device, e.g. QEMU -device virtio-scsi-pci,disable-legacy=on",
				    vd->name);
	}
	vd->driver_features = vd->device_features & (wanted | (1ull << VIRTIO_F_VERSION_1));
	vd->ops->set_features(vd, vd->driver_features);
	vd->ops->set_status(vd, VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER |
			    VIRTIO_STATUS_FEATURES_OK);
	st = vd->ops->get_status(vd);
	if (!(st & VIRTIO_STATUS_FEATURES_OK)) {
		char text[256];

		virtio_dev_fail(vd);
		virtio_features_text(vd->driver_features, true, text, sizeof(text));
		return ostori_error(OSTOR_ERROR_NOT_SUPPORTED,
				    "%s: the device refused our feature set (FEATURES_OK cleared on re-read; "
				    "asked for 0x%llx: %s); status set to FAILED",
				    vd->name, (unsigned long long)vd->driver_features, text);
	}
	return 0;
}

int virtio_dev_driver_ok(struct virtio_dev *vd)
{
	uint8_t st = vd->ops->get_status(vd);

	if (st & (VIRTIO_STATUS_FAILED | VIRTIO_STATUS_DEVICE_NEEDS_RESET) ||
	    !(st & VIRTIO_STATUS_FEATURES_OK))
		return ostori_error(OSTOR_ERROR_PROTOCOL,
				    "%s: device status 0x%02x before DRIVER_OK; not starting it", vd->name, st);
	vd->ops->set_status(vd, (uint8_t)(st | VIRTIO_STATUS_DRIVER_OK));
	return 0;
}

int virtio_dev_read_config(struct virtio_dev *vd, size_t off, void *buf, size_t len)
{
	unsigned int tries = vd->config_retries ? vd->config_retries : CONFIG_RETRIES_DEFAULT;

	/* 4.1.4.3: a multi-field read is consistent only when the generation
	 * did not change across it. */
	for (unsigned int i = 0; i < tries; i++) {
		uint8_t g0 = vd->ops->config_generation(vd), g1;
		int r = vd->ops->read_config(vd, off, buf, len);

		if (r < 0)
			return r;
		g1 = vd->ops->config_generation(vd);
		if (g0 == g1)
			return 0;
	}
	return ostori_error(OSTOR_ERROR_PROTOCOL,
			    "%s: device configuration kept changing while being read "
			    "(config_generation never settled in %u tries); the device is misbehaving",
			    vd->name, tries);
}

static const struct {
	unsigned int bit;
	bool scsi;
	const char *name;
} feature_names[] = {
	{ VIRTIO_SCSI_F_INOUT, true, "SCSI_INOUT" },
	{ VIRTIO_SCSI_F_HOTPLUG, true, "SCSI_HOTPLUG" },
	{ VIRTIO_SCSI_F_CHANGE, true, "SCSI_CHANGE" },
	{ VIRTIO_SCSI_F_T10_PI, true, "SCSI_T10_PI" },
	{ 24, false, "NOTIFY_ON_EMPTY" },
	{ 27, false, "ANY_LAYOUT" },
	{ VIRTIO_F_INDIRECT_DESC, false, "RING_INDIRECT_DESC" },
	{ VIRTIO_F_EVENT_IDX, false, "RING_EVENT_IDX" },
	{ VIRTIO_F_VERSION_1, false, "VERSION_1" },
	{ VIRTIO_F_ACCESS_PLATFORM, false, "ACCESS_PLATFORM" },
	{ VIRTIO_F_RING_PACKED, false, "RING_PACKED" },
	{ VIRTIO_F_IN_ORDER, false, "IN_ORDER" },
	{ 36, false, "ORDER_PLATFORM" },
	{ 37, false, "SR_IOV" },
	{ 38, false, "NOTIFICATION_DATA" },
	{ VIRTIO_F_RING_RESET, false, "RING_RESET" },
};

void virtio_features_text(uint64_t features, bool scsi, char *buf, size_t len)
{
	size_t n = 0;

	if (!len)
		return;
	buf[0] = '\0';
	for (unsigned int bit = 0; bit < 64; bit++) {
		const char *name = NULL;
		char tmp[16];

		if (!((features >> bit) & 1))
			continue;
		for (size_t i = 0; i < OSTOR_ARRAY_SIZE(feature_names); i++)
			if (feature_names[i].bit == bit && (scsi || !feature_names[i].scsi))
				name = feature_names[i].name;
		if (!name) {
			snprintf(tmp, sizeof(tmp), "bit%u", bit);
			name = tmp;
		}
		if (n < len)
			n += (size_t)snprintf(buf + n, len - n, "%s%s", n ? " " : "", name);
	}
}
