/*
 * lib/virtio/pci_vfio.c - a PCI function bound to vfio-pci: container and
 * group, the device fd and its regions (config space, BARs), the type-1
 * IOMMU mapping of the DMA pool at IOVAs we choose, and interrupts as
 * eventfds (MSI-X: one vector per request queue; INTx otherwise).
 *
 * Why VFIO over UIO: the IOMMU confines the device to the pool we map,
 * IOVAs need no /proc/self/pagemap (so no root: the administrator hands a
 * user /dev/vfio/N), and MSI-X gives each queue its own wake-up.  No-IOMMU
 * mode (/dev/vfio/noiommu-N) gives none of the protection and is refused
 * unless [virtio_scsi] vfio_noiommu is set.
 */
#include "virtio/pci.h"
#include "virtio/config.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/vfio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <unistd.h>

static int open_error(const char *addr, const char *path, int e)
{
	if (e == EACCES || e == EPERM)
		return ostori_error(OSTOR_ERROR_ACCESS,
				    "%s: cannot open %s: %s; give this user the group: chown USER %s "
				    "(or run as root)", addr, path, strerror(e), path);
	if (e == EBUSY)
		return ostori_error(OSTOR_ERROR_BUSY, "%s: %s is open in another process (a VFIO group has "
				    "one user at a time)", addr, path);
	return ostori_error(OSTOR_ERROR_IO, "%s: cannot open %s: %s", addr, path, strerror(e));
}

int pci_vfio_open(struct pci_dev *p, const struct ostor_config *cfg)
{
	struct vfio_group_status status = { .argsz = sizeof(status) };
	struct vfio_region_info reg = { .argsz = sizeof(reg), .index = VFIO_PCI_CONFIG_REGION_INDEX };
	const char *dir = p->vfio_dir ? p->vfio_dir : "/dev/vfio";
	char path[PATH_MAX], container[PATH_MAX];
	int type;

	p->access = PCI_ACCESS_VFIO;
	p->iommu_group = pci_iommu_group(p->sysfs);
	snprintf(path, sizeof(path), "%s/%d", dir, p->iommu_group);
	if (p->iommu_group < 0 || access(path, F_OK)) {
		snprintf(path, sizeof(path), "%s/noiommu-%d", dir, p->iommu_group);
		if (p->iommu_group < 0 || access(path, F_OK))
			return ostori_error(OSTOR_ERROR_NOT_FOUND, "%s is bound to vfio-pci but %s/%d is "
					    "missing", p->addr, dir, p->iommu_group);
		if (!ostori_virtio_config(cfg)->vfio_noiommu)
			return ostori_error(OSTOR_ERROR_ACCESS,
					    "%s: VFIO without an IOMMU (%s) gives no DMA protection: the device "
					    "can write anywhere in memory; refused unless vfio_noiommu = true in "
					    "[virtio_scsi] of orionstor.conf (or bind it to uio_pci_generic)",
					    p->addr, path);
		ostor_warn(p->vd.ctx, "%s: VFIO no-IOMMU mode: the device is not confined (vfio_noiommu = true)",
			   p->addr);
		p->noiommu = true;
	}
	snprintf(container, sizeof(container), "%s/vfio", dir);
	p->container_fd = open(container, O_RDWR | O_CLOEXEC);
	if (p->container_fd < 0)
		return open_error(p->addr, container, errno);
	if (ioctl(p->container_fd, VFIO_GET_API_VERSION) != VFIO_API_VERSION)
		return ostori_error(OSTOR_ERROR_NOT_SUPPORTED, "%s: unknown VFIO API version", p->addr);
	type = p->noiommu ? VFIO_NOIOMMU_IOMMU : VFIO_TYPE1v2_IOMMU;
	if (!p->noiommu && ioctl(p->container_fd, VFIO_CHECK_EXTENSION, type) != 1)
		type = VFIO_TYPE1_IOMMU;
	if (ioctl(p->container_fd, VFIO_CHECK_EXTENSION, type) != 1)
		return ostori_error(OSTOR_ERROR_NOT_SUPPORTED, "%s: the kernel's VFIO has no %s IOMMU driver "
				    "(modprobe vfio_iommu_type1)", p->addr, p->noiommu ? "no-IOMMU" : "type-1");
	p->group_fd = open(path, O_RDWR | O_CLOEXEC);
	if (p->group_fd < 0)
		return open_error(p->addr, path, errno);
	if (ioctl(p->group_fd, VFIO_GROUP_GET_STATUS, &status) < 0)
		return ostori_error(OSTOR_ERROR_IO, "%s: VFIO_GROUP_GET_STATUS: %s", p->addr, strerror(errno));
	if (!(status.flags & VFIO_GROUP_FLAGS_VIABLE))
		return ostori_error(OSTOR_ERROR_BUSY,
				    "%s: IOMMU group %d is not viable: another device in it is bound to a "
				    "host driver; virtio-scsi-device-bind names it", p->addr, p->iommu_group);
	if (ioctl(p->group_fd, VFIO_GROUP_SET_CONTAINER, &p->container_fd) < 0)
		return ostori_error(OSTOR_ERROR_IO, "%s: VFIO_GROUP_SET_CONTAINER: %s", p->addr, strerror(errno));
	if (ioctl(p->container_fd, VFIO_SET_IOMMU, type) < 0)
		return ostori_error(errno == EPERM ? OSTOR_ERROR_ACCESS : OSTOR_ERROR_IO,
				    "%s: VFIO_SET_IOMMU: %s%s", p->addr, strerror(errno),
				    p->noiommu ? " (no-IOMMU mode needs CAP_SYS_RAWIO)" : "");
	p->device_fd = ioctl(p->group_fd, VFIO_GROUP_GET_DEVICE_FD, p->addr);
	if (p->device_fd < 0)
		return ostori_error(errno == EPERM ? OSTOR_ERROR_ACCESS : OSTOR_ERROR_IO,
				    "%s: VFIO_GROUP_GET_DEVICE_FD: %s", p->addr, strerror(errno));
	if (ioctl(p->device_fd, VFIO_DEVICE_GET_REGION_INFO, &reg) < 0 || reg.size < 256)
		return ostori_error(OSTOR_ERROR_IO, "%s: no VFIO config-space region", p->addr);
	p->cfg_fd = p->device_fd;
	p->cfg_off = (off_t)reg.offset;
	return pci_enable_master(p);
}

int pci_vfio_map_bar(struct pci_dev *p, unsigned int bar)
{
	struct vfio_region_info reg = { .argsz = sizeof(reg), .index = VFIO_PCI_BAR0_REGION_INDEX + bar };
	struct mmio *m = &p->bar[bar];

	if (ioctl(p->device_fd, VFIO_DEVICE_GET_REGION_INFO, &reg) < 0 || !reg.size)
		return ostori_error(OSTOR_ERROR_PROTOCOL, "%s: BAR %u has no VFIO region", p->addr, bar);
	m->len = (size_t)reg.size;
	m->fd = p->device_fd;
	m->off = (off_t)reg.offset;
	if ((reg.flags & VFIO_REGION_INFO_FLAG_MMAP) && !p->bar_rw) {
		void *b = mmap(NULL, m->len, PROT_READ | PROT_WRITE, MAP_SHARED, p->device_fd, m->off);

		if (b != MAP_FAILED)
			m->base = b;
	}
	/* Not mappable (or refused, or not wanted): registers go through
	 * pread/pwrite, one system call per register access. */
	if (!m->base && p->bar_rw)
		ostor_info(p->vd.ctx, "%s: BAR %u through read/write on the VFIO device (ORIONSTOR_VIRTIO_BAR_ACCESS=rw)",
			   p->addr, bar);
	else if (!m->base)
		ostor_dbg(p->vd.ctx, "%s: BAR %u not mappable through VFIO; using read/write", p->addr, bar);
	return 0;
}

/* The lowest usable IOVA range that holds size bytes at 2 MiB alignment
 * (and above the first 2 MiB: IOVA 0 looks like a NULL pointer). */
static int choose_iova(struct pci_dev *p, size_t size, uint64_t *iova)
{
	struct vfio_iommu_type1_info probe = { .argsz = sizeof(probe) }, *info;
	size_t argsz;
	uint64_t best = UINT64_MAX;

	*iova = PCI_HUGE_2M; /* without information: the IOMMU takes what it can */
	if (ioctl(p->container_fd, VFIO_IOMMU_GET_INFO, &probe) < 0)
		return 0;
	argsz = OSTOR_MAX(probe.argsz, (uint32_t)sizeof(probe));
	info = calloc(1, argsz);
	if (!info)
		return ostori_error(OSTOR_ERROR_NO_MEM, "out of memory");
	info->argsz = (uint32_t)argsz;
	if (ioctl(p->container_fd, VFIO_IOMMU_GET_INFO, info) < 0 || info->argsz > argsz) {
		free(info);
		return 0;
	}
	if ((info->flags & VFIO_IOMMU_INFO_CAPS) && info->cap_offset) {
		uint32_t off = info->cap_offset;

		while (off && off + sizeof(struct vfio_info_cap_header) <= argsz) {
			struct vfio_info_cap_header *h = (void *)((uint8_t *)info + off);

			if (h->id == VFIO_IOMMU_TYPE1_INFO_CAP_IOVA_RANGE &&
			    off + sizeof(struct vfio_iommu_type1_info_cap_iova_range) <= argsz) {
				struct vfio_iommu_type1_info_cap_iova_range *r = (void *)h;

				for (uint32_t i = 0; i < r->nr_iovas &&
				     off + sizeof(*r) + (i + 1) * sizeof(r->iova_ranges[0]) <= argsz; i++) {
					uint64_t s = r->iova_ranges[i].start, e = r->iova_ranges[i].end;

					if (s < PCI_HUGE_2M)
						s = PCI_HUGE_2M;
					s = (s + PCI_HUGE_2M - 1) & ~(uint64_t)(PCI_HUGE_2M - 1);
					if (s <= e && e - s + 1 >= size && s < best)
						best = s;
				}
				free(info);
				if (best == UINT64_MAX)
					return ostori_error(OSTOR_ERROR_NO_MEM, "%s: no IOVA range of the IOMMU "
							    "holds the %zu MiB DMA pool", p->addr, size >> 20);
				*iova = best;
				return 0;
			}
			off = h->next;
		}
	}
	free(info);
	return 0;
}

int pci_vfio_map_pool(struct pci_dev *p)
{
	struct vfio_iommu_type1_dma_map map = { .argsz = sizeof(map) };
	uint64_t iova = 0;
	int r;

	if (p->noiommu)
		return pci_pool_resolve_phys(&p->pool, p->addr);
	if ((r = choose_iova(p, p->pool.size, &iova)) < 0)
		return r;
	map.flags = VFIO_DMA_MAP_FLAG_READ | VFIO_DMA_MAP_FLAG_WRITE;
	map.vaddr = (uint64_t)(uintptr_t)p->pool.base;
	map.iova = iova;
	map.size = p->pool.size;
	if (ioctl(p->container_fd, VFIO_IOMMU_MAP_DMA, &map) < 0) {
		int e = errno;
		struct rlimit rl = { 0, 0 };

		getrlimit(RLIMIT_MEMLOCK, &rl);
		if (e == ENOMEM && rl.rlim_cur != RLIM_INFINITY)
			return ostori_error(OSTOR_ERROR_NO_MEM,
					    "%s: cannot pin the %zu MiB DMA pool for the IOMMU: the locked-memory "
					    "limit is %llu KiB; raise it to at least %zu KiB (ulimit -l, or "
					    "memlock in /etc/security/limits.conf)", p->addr, p->pool.size >> 20,
					    (unsigned long long)(rl.rlim_cur >> 10), (p->pool.size >> 10) + 1024);
		return ostori_error(OSTOR_ERROR_IO, "%s: VFIO_IOMMU_MAP_DMA of %zu MiB at IOVA 0x%llx: %s",
				    p->addr, p->pool.size >> 20, (unsigned long long)iova, strerror(e));
	}
	p->pool.iova = iova;
	p->pool.mapped = true;
	return 0;
}

static int set_irqs(struct pci_dev *p, uint32_t index, int n, const int *fds)
{
	size_t sz = sizeof(struct vfio_irq_set) + sizeof(int) * (size_t)n;
	struct vfio_irq_set *set = calloc(1, sz);
	int r;

	if (!set)
		return ostori_error(OSTOR_ERROR_NO_MEM, "out of memory");
	set->argsz = (uint32_t)sz;
	set->flags = (n ? VFIO_IRQ_SET_DATA_EVENTFD : VFIO_IRQ_SET_DATA_NONE) | VFIO_IRQ_SET_ACTION_TRIGGER;
	set->index = index;
	set->start = 0;
	set->count = (uint32_t)n;
	if (n)
		memcpy(set->data, fds, sizeof(int) * (size_t)n);
	r = ioctl(p->device_fd, VFIO_DEVICE_SET_IRQS, set);
	free(set);
	return r < 0 ? -errno : 0;
}

int pci_vfio_irqs(struct pci_dev *p, bool want_msix)
{
	struct vfio_irq_info msix = { .argsz = sizeof(msix), .index = VFIO_PCI_MSIX_IRQ_INDEX };
	struct vfio_irq_info intx = { .argsz = sizeof(intx), .index = VFIO_PCI_INTX_IRQ_INDEX };
	int n = 0, r;

	if (want_msix && ioctl(p->device_fd, VFIO_DEVICE_GET_IRQ_INFO, &msix) == 0 && msix.count > 0)
		n = (int)OSTOR_MIN(msix.count, (uint32_t)PCI_MSIX_MAX);
	if (!n && (ioctl(p->device_fd, VFIO_DEVICE_GET_IRQ_INFO, &intx) < 0 || intx.count == 0))
		return ostori_error(OSTOR_ERROR_NOT_SUPPORTED, "%s: neither MSI-X nor INTx interrupts are "
				    "available through VFIO; use polled mode (queue_completion = \"polled\")",
				    p->addr);
	p->nvec = n ? n : 1;
	for (int i = 0; i < p->nvec; i++) {
		p->efd[i] = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
		if (p->efd[i] < 0)
			return ostori_error(OSTOR_ERROR_IO, "%s: eventfd: %s", p->addr, strerror(errno));
	}
	r = set_irqs(p, n ? VFIO_PCI_MSIX_IRQ_INDEX : VFIO_PCI_INTX_IRQ_INDEX, p->nvec, p->efd);
	if (r < 0)
		return ostori_error(OSTOR_ERROR_IO, "%s: VFIO_DEVICE_SET_IRQS (%s, %d vectors): %s", p->addr,
				    n ? "MSI-X" : "INTx", p->nvec, strerror(-r));
	p->irq = n ? PCI_IRQ_MSIX : PCI_IRQ_INTX;
	return 0;
}

int pci_vfio_intx_unmask(struct pci_dev *p)
{
	struct vfio_irq_set set = {
		.argsz = sizeof(set),
		.flags = VFIO_IRQ_SET_DATA_NONE | VFIO_IRQ_SET_ACTION_UNMASK,
		.index = VFIO_PCI_INTX_IRQ_INDEX,
		.start = 0,
		.count = 1,
	};

	return ioctl(p->device_fd, VFIO_DEVICE_SET_IRQS, &set) < 0 ? OSTOR_ERROR_IO : 0;
}

void pci_vfio_close(struct pci_dev *p)
{
	if (p->device_fd >= 0 && p->irq != PCI_IRQ_NONE)
		set_irqs(p, p->irq == PCI_IRQ_MSIX ? VFIO_PCI_MSIX_IRQ_INDEX : VFIO_PCI_INTX_IRQ_INDEX, 0, NULL);
	if (p->pool.mapped) {
		struct vfio_iommu_type1_dma_unmap unmap = {
			.argsz = sizeof(unmap), .iova = p->pool.iova, .size = p->pool.size,
		};

		ioctl(p->container_fd, VFIO_IOMMU_UNMAP_DMA, &unmap);
		p->pool.mapped = false;
	}
	if (p->device_fd >= 0)
		close(p->device_fd);
	if (p->group_fd >= 0)
		close(p->group_fd);
	if (p->container_fd >= 0)
		close(p->container_fd);
	p->device_fd = p->group_fd = p->container_fd = -1;
	p->cfg_fd = -1;
}
