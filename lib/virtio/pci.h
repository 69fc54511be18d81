/*
 * lib/virtio/pci.h - the modern virtio-pci transport over UIO, its DMA
 * memory (hugetlbfs + /proc/self/pagemap) and the PCI binding helpers.
 */
#ifndef OSTOR_VIRTIO_PCI_H
#define OSTOR_VIRTIO_PCI_H

#include "core/backend.h"

struct vscsi_dev;

#ifdef OSTOR_HAVE_VIRTIO
extern const struct ostor_backend ostori_virtio_backend;
#endif

/* PCI address and kernel binding of an open virtio: device. */
void ostori_pci_address_binding(ostor_device *dev, char *addr, size_t alen, char *bind, size_t blen);

#endif
