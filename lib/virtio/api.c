/*
 * lib/virtio/api.c - the public ostor_virtio_* functions, for virtio:
 * devices and sim:transport=virtio alike.
 */
#include "virtio/scsi.h"
#include "virtio/pci.h"

#include <string.h>

struct vscsi_dev *ostori_vscsi_of(ostor_device *dev)
{
	if (!dev)
		return NULL;
#ifdef OSTOR_HAVE_VIRTIO
	if (dev->backend == &ostori_virtio_backend)
		return ostori_pci_virtio_vscsi(dev);
#endif
	return ostori_sim_virtio_vscsi(dev);
}

static int lookup(ostor_device *dev, const char *fn, struct vscsi_dev **vs)
{
	if (!dev)
		return ostori_error(OSTOR_ERROR_INVALID_PARAM, "%s: NULL device", fn);
	*vs = ostori_vscsi_of(dev);
	if (!*vs)
		return ostori_error(OSTOR_ERROR_NOT_SUPPORTED,
				    "%s: %s is not a virtio-scsi device (use a virtio: spec or "
				    "sim:transport=virtio)", fn, dev->spec);
	return 0;
}

/* Both info structs grow (lib/util/sized.h): add a version when appending
 * fields. */
static const struct ostori_sized device_info_sized =
	OSTORI_SIZED(struct ostor_virtio_device_info, OSTOR_VIRTIO_DEVICE_INFO_INIT,
		     OSTORI_FIELD_END(struct ostor_virtio_device_info, topology_generation),
		     OSTORI_FIELD_END(struct ostor_virtio_device_info, dma_pool_bytes));
OSTORI_SIZED_CHECK(struct ostor_virtio_device_info, dma_pool_bytes);
static const struct ostori_sized queue_info_sized =
	OSTORI_SIZED(struct ostor_virtio_queue_info, OSTOR_VIRTIO_QUEUE_INFO_INIT,
		     OSTORI_FIELD_END(struct ostor_virtio_queue_info, renotifies),
		     OSTORI_FIELD_END(struct ostor_virtio_queue_info, interrupt_vector));
OSTORI_SIZED_CHECK(struct ostor_virtio_queue_info, interrupt_vector);

OSTOR_API int ostor_virtio_device_info(ostor_device *dev, struct ostor_virtio_device_info *caller)
{
	struct ostor_virtio_device_info full, *info = &full;
	struct vscsi_dev *vs;
	int r = lookup(dev, __func__, &vs);

	if (r)
		return r;
	if ((r = ostori_sized_check(&device_info_sized, caller, __func__, "info")))
		return r;
	memset(info, 0, sizeof(*info));
#ifdef OSTOR_HAVE_VIRTIO
	if (dev->backend == &ostori_virtio_backend)
		ostori_pci_device_info(dev, info);
	else
#endif
	{
		snprintf(info->pci_address, sizeof(info->pci_address), "sim");
		snprintf(info->binding, sizeof(info->binding), "sim");
		snprintf(info->transport, sizeof(info->transport), "sim");
		info->iommu_group = -1;
		snprintf(info->iommu, sizeof(info->iommu), "none");
		snprintf(info->interrupt_kind, sizeof(info->interrupt_kind), "none");
	}
	vscsi_device_info(vs, info);
	ostori_sized_put(&device_info_sized, caller, info);
	return 0;
}

OSTOR_API int ostor_virtio_queue_count(ostor_device *dev)
{
	struct vscsi_dev *vs;
	int r = lookup(dev, __func__, &vs);

	return r ? r : vscsi_queue_count(vs);
}

OSTOR_API int ostor_virtio_queue_info(ostor_device *dev, unsigned int index,
				      struct ostor_virtio_queue_info *info)
{
	struct ostor_virtio_queue_info full;
	struct vscsi_dev *vs;
	int r = lookup(dev, __func__, &vs);

	if (r)
		return r;
	if ((r = ostori_sized_check(&queue_info_sized, info, __func__, "info")))
		return r;
	r = vscsi_queue_info(vs, index, &full);
	if (r)
		return r;
	full.interrupt_vector = -1;
#ifdef OSTOR_HAVE_VIRTIO
	if (dev->backend == &ostori_virtio_backend && vscsi_interrupts(vs))
		full.interrupt_vector = ostori_pci_queue_vector(dev, index);
#endif
	ostori_sized_put(&queue_info_sized, info, &full);
	return 0;
}

/* The generic queues (lib/core/channel.c) are the virtio request queues;
 * these stay for programs written before them. */
OSTOR_API int ostor_virtio_queue_acquire(ostor_device *dev, int index)
{
	struct vscsi_dev *vs;
	int r = lookup(dev, __func__, &vs);

	return r ? r : ostor_queue_acquire(dev, index);
}

OSTOR_API void ostor_virtio_queue_release(ostor_device *dev)
{
	struct vscsi_dev *vs;

	if (lookup(dev, __func__, &vs) == 0)
		ostor_queue_release(dev);
}

OSTOR_API int ostor_virtio_queue_poll(ostor_device *dev)
{
	struct vscsi_dev *vs;
	int r = lookup(dev, __func__, &vs);

	return r ? r : ostor_queue_poll(dev);
}

OSTOR_API int ostor_virtio_queue_reset(ostor_device *dev, unsigned int index)
{
	struct vscsi_dev *vs;
	int r = lookup(dev, __func__, &vs);

	return r ? r : vscsi_queue_reset(vs, index);
}

OSTOR_API int ostor_virtio_reset(ostor_device *dev)
{
	struct vscsi_dev *vs;
	int r = lookup(dev, __func__, &vs);

	return r ? r : vscsi_reset(vs, "requested by the application");
}

OSTOR_API int ostor_virtio_target_add(ostor_device *dev, uint32_t target)
{
	struct vscsi_dev *vs;
	int r = lookup(dev, __func__, &vs);

	if (r)
		return r;
	if (target > dev->max_target)
		return ostori_error(OSTOR_ERROR_INVALID_PARAM, "target %u is beyond the device's max_target %u",
				    target, dev->max_target);
	vscsi_target_rescan(vs, target);
	return 0;
}

OSTOR_API int ostor_virtio_target_remove(ostor_device *dev, uint32_t target)
{
	struct vscsi_dev *vs;
	int r = lookup(dev, __func__, &vs), first = 0;

	if (r)
		return r;
	if (target > dev->max_target)
		return ostori_error(OSTOR_ERROR_INVALID_PARAM, "target %u is beyond the device's max_target %u",
				    target, dev->max_target);
	/* Flush what was written to its LUNs before detaching. */
	for (size_t i = 0;; i++) {
		uint32_t lun;
		bool dirty;

		pthread_mutex_lock(&dev->lock);
		if (i >= dev->nluns) {
			pthread_mutex_unlock(&dev->lock);
			break;
		}
		lun = dev->luns[i].lun;
		dirty = dev->luns[i].target == target && dev->luns[i].dirty;
		pthread_mutex_unlock(&dev->lock);
		if (dirty && (r = ostor_flush(dev, target, lun)) < 0 && !first)
			first = r;
	}
	vscsi_target_detach(vs, target);
	return first;
}

OSTOR_API void *ostor_virtio_dma_alloc(ostor_device *dev, size_t size)
{
	struct vscsi_dev *vs;
	struct virtio_dev *vd;
	uint64_t iova;

	if (lookup(dev, __func__, &vs) < 0)
		return NULL;
	if (!size) {
		ostori_error(OSTOR_ERROR_INVALID_PARAM, "%s: size 0", __func__);
		return NULL;
	}
	vd = vscsi_virtio(vs);
	return vd->ops->dma_alloc(vd, size, &iova);
}

OSTOR_API void ostor_virtio_dma_free(ostor_device *dev, void *buf, size_t size)
{
	struct vscsi_dev *vs;
	struct virtio_dev *vd;

	if (!buf || lookup(dev, __func__, &vs) < 0)
		return;
	vd = vscsi_virtio(vs);
	vd->ops->dma_free(vd, buf, size);
}

#ifndef OSTOR_HAVE_VIRTIO
OSTOR_API int ostor_virtio_pci_bind_driver(ostor_context *ctx, const char *pci_address, const char *driver,
					   int force)
{
	return ostori_error(OSTOR_ERROR_NOT_SUPPORTED, "this liborionstor was built without the virtio "
			    "backend (--disable-virtio)");
}

OSTOR_API int ostor_virtio_pci_bind(ostor_context *ctx, const char *pci_address, int force)
{
	return ostori_error(OSTOR_ERROR_NOT_SUPPORTED, "this liborionstor was built without the virtio "
			    "backend (--disable-virtio)");
}

OSTOR_API int ostor_virtio_pci_unbind(ostor_context *ctx, const char *pci_address)
{
	return ostori_error(OSTOR_ERROR_NOT_SUPPORTED, "this liborionstor was built without the virtio "
			    "backend (--disable-virtio)");
}
#endif
