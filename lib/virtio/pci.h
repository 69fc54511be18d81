/*
 * lib/virtio/pci.h - the modern virtio-pci transport (backend.c) and what
 * it stands on: a PCI function reached through VFIO (pci_vfio.c) or UIO
 * (pci_uio.c), its DMA memory pool (dma_pool.c) and the binding helpers
 * (pci_bind.c).
 */
#ifndef OSTOR_VIRTIO_PCI_H
#define OSTOR_VIRTIO_PCI_H

#include "core/backend.h"

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

struct vscsi_dev;

#ifdef OSTOR_HAVE_VIRTIO
extern const struct ostor_backend ostori_virtio_backend;

#include "virtio/virtio.h"

#define PCI_HUGE_2M (2u << 20)

/* ---- DMA memory: hugepages, device addresses physical or IOVAs ---------------- */

struct dma_block {
	size_t off, len;
	bool used;
};

struct dma_pool {
	uint8_t *base;
	size_t size;
	uint64_t *phys;              /* per 2 MiB page; NULL when by IOVA */
	uint64_t iova;               /* IOVA of base (VFIO type-1) */
	bool mapped;                 /* iova is mapped in the IOMMU */
	struct dma_block *blk;
	size_t nblk, capblk;
	pthread_mutex_t lock;
};

/* Hugepage memory of at least size bytes (locked: pinned by mlock, for
 * physical addresses; VFIO pins what it maps itself). */
int pci_pool_create(struct dma_pool *p, size_t size, const char *name, bool locked);
/* Physical addresses from /proc/self/pagemap (root only). */
int pci_pool_resolve_phys(struct dma_pool *p, const char *name);
void pci_pool_destroy(struct dma_pool *p);
void *pci_pool_alloc(struct dma_pool *p, size_t len);
void pci_pool_free(struct dma_pool *p, void *ptr);
/* Device address of base + off, and how many bytes from there are
 * contiguous for the device (at most len). */
uint64_t pci_pool_addr(const struct dma_pool *p, size_t off, size_t len, size_t *contig);

/* ---- the PCI function ------------------------------------------------------------ */

/* A register window: mapped (base), or reached with pread/pwrite on fd at
 * off when VFIO does not allow mapping it. */
struct mmio {
	volatile uint8_t *base;
	size_t len;
	int fd;
	off_t off;
};

enum pci_access { PCI_ACCESS_UIO, PCI_ACCESS_VFIO };
enum pci_irq { PCI_IRQ_NONE, PCI_IRQ_INTX, PCI_IRQ_MSIX };

#define PCI_MSIX_MAX 66              /* config, control + event, 64 request queues */
#define PCI_VEC_CONFIG 0
#define PCI_VEC_CTRL 1

struct pci_dev {
	char addr[16];                /* "0000:00:04.0" */
	char sysfs[96];
	enum pci_access access;
	int cfg_fd;                   /* sysfs config file, or the VFIO device */
	off_t cfg_off;                /* where config space starts in cfg_fd */
	int uio_fd;
	/* VFIO */
	const char *vfio_dir;         /* "/dev/vfio" (tests point it elsewhere) */
	int container_fd, group_fd, device_fd;
	int iommu_group;              /* -1: none */
	bool noiommu;
	bool bar_rw;                  /* BARs through read/write on the device fd, never mmap */
	/* interrupts: INTx through UIO or VFIO (one eventfd), or MSI-X
	 * vectors (config, control + event, then one per request queue) */
	enum pci_irq irq;
	int nvec;
	int efd[PCI_MSIX_MAX];
	struct mmio bar[6];
	struct mmio common, isr, devcfg, notify;
	uint32_t notify_mult;
	struct dma_pool pool;
	struct virtio_dev vd;
	struct vscsi_dev *vs;
};

int pci_cfg_read(struct pci_dev *p, void *buf, size_t len, off_t off);
int pci_cfg_write(struct pci_dev *p, const void *buf, size_t len, off_t off);
/* Memory space and bus mastering on (INTx left enabled). */
int pci_enable_master(struct pci_dev *p);

/* UIO: /dev/uioN of the function (INTx). */
int pci_uio_open(struct pci_dev *p);
/* VFIO: container, group and device; the BAR regions; the IOMMU mapping
 * of the pool; the interrupts (MSI-X, else INTx; none when polled). */
int pci_vfio_open(struct pci_dev *p, const struct ostor_config *cfg);
int pci_vfio_map_bar(struct pci_dev *p, unsigned int bar);
int pci_vfio_map_pool(struct pci_dev *p);
int pci_vfio_irqs(struct pci_dev *p, bool want_msix);
int pci_vfio_intx_unmask(struct pci_dev *p);
void pci_vfio_close(struct pci_dev *p);
/* The MSI-X vector a virtqueue uses. */
static inline int pci_queue_vector(const struct pci_dev *p, unsigned int qindex)
{
	if (p->irq != PCI_IRQ_MSIX)
		return -1;
	if (qindex >= 2 && qindex < (unsigned int)p->nvec)
		return (int)qindex;      /* request queue i = virtqueue 2 + i = vector 2 + i */
	return p->nvec > PCI_VEC_CTRL ? PCI_VEC_CTRL : PCI_VEC_CONFIG;
}

/* Binding helpers (pci_bind.c). */
void pci_binding_of(const char *sysfs, char *out, size_t len);
/* The function's IOMMU group number, -1 without one. */
int pci_iommu_group(const char *sysfs);
void pci_find_disks(const char *dir, int depth, char names[][32], int *n, int max);
int pci_check_virtio_scsi(const char *sysfs, const char *addr);
int pci_run_modprobe(const char *module);
#endif

/* PCI address, kernel binding, transport ("vfio", "uio"), IOMMU group
 * (-1 none) and mode, and interrupt kind of an open virtio: device. */
struct ostor_virtio_device_info;
void ostori_pci_device_info(ostor_device *dev, struct ostor_virtio_device_info *info);
int ostori_pci_queue_vector(ostor_device *dev, unsigned int qindex);

#endif
