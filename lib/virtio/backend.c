/*
 * lib/virtio/backend.c - the "virtio:" backend (virtio-scsi over UIO).
 *
 * This version discovers virtio-scsi PCI functions with libpciaccess and
 * reports their kernel binding; the virtqueue transport arrives with the
 * virtio backend work, and until then opening a virtio: device says so.
 */
#include "core/backend.h"

#include <limits.h>
#include <pciaccess.h>
#include <string.h>
#include <unistd.h>

#define VIRTIO_VENDOR 0x1af4
#define VIRTIO_SCSI_MODERN 0x1048
#define VIRTIO_SCSI_TRANSITIONAL 0x1004

static void binding_of(const struct pci_device *d, char *out, size_t len)
{
	char path[128], link[PATH_MAX];
	ssize_t n;

	snprintf(path, sizeof(path), "/sys/bus/pci/devices/%04x:%02x:%02x.%u/driver",
		 d->domain, d->bus, d->dev, d->func);
	n = readlink(path, link, sizeof(link) - 1);
	if (n < 0) {
		snprintf(out, len, "none");
		return;
	}
	link[n] = '\0';
	{
		const char *base = strrchr(link, '/') ? strrchr(link, '/') + 1 : link;
		size_t m = strnlen(base, len - 1);

		memcpy(out, base, m);
		out[m] = '\0';
	}
}

static int virtio_enumerate(ostor_context *ctx, struct ostori_devlist *list)
{
	struct pci_id_match match = {
		.vendor_id = VIRTIO_VENDOR,
		.device_id = PCI_MATCH_ANY,
		.subvendor_id = PCI_MATCH_ANY,
		.subdevice_id = PCI_MATCH_ANY,
	};
	struct pci_device_iterator *it;
	struct pci_device *d;
	int r = pci_system_init();

	if (r)
		return ostori_error(OSTOR_ERROR_NOT_SUPPORTED, "libpciaccess could not read the PCI bus: %s",
				    strerror(r));
	it = pci_id_match_iterator_create(&match);
	if (!it) {
		pci_system_cleanup();
		return ostori_error(OSTOR_ERROR_NO_MEM, "out of memory");
	}
	r = 0;
	while (r == 0 && (d = pci_device_next(it))) {
		char spec[32], bound[64];
		bool modern = d->device_id == VIRTIO_SCSI_MODERN;

		if (!modern && d->device_id != VIRTIO_SCSI_TRANSITIONAL)
			continue;
		binding_of(d, bound, sizeof(bound));
		snprintf(spec, sizeof(spec), "virtio:%04x:%02x:%02x.%u", d->domain, d->bus, d->dev, d->func);
		r = ostori_devlist_add(list, "virtio", spec, "virtio-scsi (%s, %04x:%04x), bound to %s",
				       modern ? "modern" : "transitional", d->vendor_id, d->device_id, bound);
	}
	pci_iterator_destroy(it);
	pci_system_cleanup();
	return r;
}

static int virtio_open(ostor_device *dev, const struct ostor_spec *spec)
{
	return ostori_error(OSTOR_ERROR_NOT_SUPPORTED,
			    "%s: the virtio-scsi transport is not in this version of liborionstor yet; "
			    "the device can be listed but not opened", dev->spec);
}

static void virtio_close(ostor_device *dev)
{
}

static int virtio_submit(ostor_task *task)
{
	return ostori_error(OSTOR_ERROR_NOT_SUPPORTED, "virtio transport not available");
}

const struct ostor_backend ostori_virtio_backend = {
	.name = "virtio",
	.spec_forms = "virtio:BB:DD.F, virtio:DDDD:BB:DD.F",
	.enumerate = virtio_enumerate,
	.open = virtio_open,
	.close = virtio_close,
	.submit = virtio_submit,
};
