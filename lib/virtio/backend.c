/*
 * lib/virtio/backend.c - the "virtio:" backend: virtio-scsi PCI functions
 * bound to vfio-pci or uio_pci_generic, driven from userspace.
 *
 * - Discovery with libpciaccess (1AF4:1048 modern, 1AF4:1004 transitional).
 * - Modern virtio-pci transport (4.1.4): vendor capabilities in config
 *   space, BARs mapped (sysfs resource files under UIO, VFIO regions -
 *   or read and written through the VFIO device when it refuses mapping),
 *   every capability checked against its BAR's size.
 * - The function itself: pci_vfio.c (IOMMU, MSI-X per queue) or
 *   pci_uio.c (physical addresses, INTx); DMA memory: dma_pool.c.  User
 *   buffers outside the pool are bounced, never given to the device.
 * - Interrupts: MSI-X vector 0 for configuration changes, 1 for the
 *   control and event queues, 2 + i for request queue i (each an eventfd
 *   that only its owner's event loop waits on); INTx through UIO or VFIO
 *   (one fd, unmasked after every pass, ISR read = acknowledge).
 */
#include "virtio/pci.h"
#include "virtio/config.h"
#include "virtio/spec.h"
#include "virtio/scsi.h"
#include "util/byteorder.h"

#include <dirent.h>
#include <endian.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pciaccess.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define VIRTIO_VENDOR 0x1af4
#define VIRTIO_SCSI_MODERN 0x1048
#define VIRTIO_SCSI_TRANSITIONAL 0x1004
#define BOUNCE_BYTES (64u << 10)

#define PCI_CAP_VNDR 0x09
#define CAP_COMMON 1
#define CAP_NOTIFY 2
#define CAP_ISR 3
#define CAP_DEVICE 4

/* common configuration (4.1.4.3) */
#define CC_DFSELECT 0
#define CC_DF 4
#define CC_GFSELECT 8
#define CC_GF 12
#define CC_MSIX 16
#define CC_NUMQ 18
#define CC_STATUS 20
#define CC_GEN 21
#define CC_QSELECT 22
#define CC_QSIZE 24
#define CC_QMSIX 26
#define CC_QENABLE 28
#define CC_QNOFF 30
#define CC_QDESC 32
#define CC_QDRIVER 40
#define CC_QDEVICE 48
#define CC_QRESET 58
#define NO_VECTOR 0xffff

/* ---- the PCI function ------------------------------------------------------------------------ */

static struct pci_dev *P(struct virtio_dev *vd)
{
	return vd->transport;
}

/* Register access: a store or load when the window is mapped, else one
 * pread/pwrite on the VFIO device (a device that reads as all ones on
 * failure, as a vanished PCI function would).  virtio-pci registers are
 * little-endian (4.1.3.1): a 16- or 32-bit register stays one access of
 * that width, its value swapped on big-endian CPUs (nothing on others).
 * VFIO's region read and write pass the bytes in the device's order too. */
static void mio_read(const struct mmio *m, size_t o, void *v, size_t n)
{
	if (pread(m->fd, v, n, m->off + (off_t)o) != (ssize_t)n)
		memset(v, 0xff, n);
}

static void mio_write(const struct mmio *m, size_t o, const void *v, size_t n)
{
	ssize_t r = pwrite(m->fd, v, n, m->off + (off_t)o);

	(void)r;
}

static uint8_t mr8(const struct mmio *m, size_t o)
{
	uint8_t v;

	if (OSTOR_LIKELY(m->base))
		return *(volatile uint8_t *)(m->base + o);
	mio_read(m, o, &v, 1);
	return v;
}

static uint16_t mr16(const struct mmio *m, size_t o)
{
	uint16_t v;

	if (OSTOR_LIKELY(m->base))
		return le16toh(*(volatile uint16_t *)(m->base + o));
	mio_read(m, o, &v, 2);
	return le16toh(v);
}

static uint32_t mr32(const struct mmio *m, size_t o)
{
	uint32_t v;

	if (OSTOR_LIKELY(m->base))
		return le32toh(*(volatile uint32_t *)(m->base + o));
	mio_read(m, o, &v, 4);
	return le32toh(v);
}

static void mw8(const struct mmio *m, size_t o, uint8_t v)
{
	if (OSTOR_LIKELY(m->base))
		*(volatile uint8_t *)(m->base + o) = v;
	else
		mio_write(m, o, &v, 1);
}

static void mw16(const struct mmio *m, size_t o, uint16_t v)
{
	v = htole16(v);
	if (OSTOR_LIKELY(m->base))
		*(volatile uint16_t *)(m->base + o) = v;
	else
		mio_write(m, o, &v, 2);
}

static void mw32(const struct mmio *m, size_t o, uint32_t v)
{
	v = htole32(v);
	if (OSTOR_LIKELY(m->base))
		*(volatile uint32_t *)(m->base + o) = v;
	else
		mio_write(m, o, &v, 4);
}

static void mw64(const struct mmio *m, size_t o, uint64_t v)
{
	mw32(m, o, (uint32_t)v);
	mw32(m, o + 4, (uint32_t)(v >> 32));
}

static int p_read_config(struct virtio_dev *vd, size_t off, void *buf, size_t len)
{
	struct pci_dev *p = P(vd);

	if (off > p->devcfg.len || len > p->devcfg.len - off)
		return ostori_error(OSTOR_ERROR_PROTOCOL, "%s: device config read [%zu, +%zu) past its %zu bytes",
				    vd->name, off, len, p->devcfg.len);
	for (size_t i = 0; i < len; i++)
		((uint8_t *)buf)[i] = mr8(&p->devcfg, off + i);
	return 0;
}

static int p_write_config(struct virtio_dev *vd, size_t off, const void *buf, size_t len)
{
	struct pci_dev *p = P(vd);

	if (off > p->devcfg.len || len > p->devcfg.len - off)
		return ostori_error(OSTOR_ERROR_PROTOCOL, "%s: device config write past the end", vd->name);
	for (size_t i = 0; i < len; i++)
		mw8(&p->devcfg, off + i, ((const uint8_t *)buf)[i]);
	return 0;
}

static uint8_t p_generation(struct virtio_dev *vd) { return mr8(&P(vd)->common, CC_GEN); }
static uint8_t p_get_status(struct virtio_dev *vd) { return mr8(&P(vd)->common, CC_STATUS); }

static void p_set_status(struct virtio_dev *vd, uint8_t s)
{
	struct pci_dev *p = P(vd);

	/* After a reset the device forgets its MSI-X configuration vector;
	 * give it back before the driver goes on (4.1.5.1.2). */
	mw8(&p->common, CC_STATUS, s);
	if (p->irq == PCI_IRQ_MSIX && s == VIRTIO_STATUS_ACKNOWLEDGE)
		mw16(&p->common, CC_MSIX, PCI_VEC_CONFIG);
}

static uint64_t p_get_features(struct virtio_dev *vd)
{
	struct pci_dev *p = P(vd);
	uint64_t lo, hi;

	mw32(&p->common, CC_DFSELECT, 0);
	lo = mr32(&p->common, CC_DF);
	mw32(&p->common, CC_DFSELECT, 1);
	hi = mr32(&p->common, CC_DF);
	return lo | hi << 32;
}

static void p_set_features(struct virtio_dev *vd, uint64_t f)
{
	struct pci_dev *p = P(vd);

	mw32(&p->common, CC_GFSELECT, 0);
	mw32(&p->common, CC_GF, (uint32_t)f);
	mw32(&p->common, CC_GFSELECT, 1);
	mw32(&p->common, CC_GF, (uint32_t)(f >> 32));
}

static uint32_t p_queue_max(struct virtio_dev *vd, uint16_t index)
{
	struct pci_dev *p = P(vd);

	if (index >= mr16(&p->common, CC_NUMQ))
		return 0;
	mw16(&p->common, CC_QSELECT, index);
	return mr16(&p->common, CC_QSIZE);
}

static int p_setup_queue(struct virtio_dev *vd, struct virtqueue *q)
{
	struct pci_dev *p = P(vd);
	int vec = pci_queue_vector(p, q->index);
	uint32_t noff;

	mw16(&p->common, CC_QSELECT, q->index);
	noff = mr16(&p->common, CC_QNOFF);
	/* The doorbell must lie inside the notify capability. */
	if ((uint64_t)noff * p->notify_mult + 2 > p->notify.len)
		return ostori_error(OSTOR_ERROR_PROTOCOL,
				    "%s: queue %u notify offset %u x %u is outside the %zu-byte notify region",
				    vd->name, q->index, noff, p->notify_mult, p->notify.len);
	q->notify_off = (uint32_t)noff * p->notify_mult;
	q->notify_addr = p->notify.base ? p->notify.base + q->notify_off : NULL;
	mw16(&p->common, CC_QSIZE, (uint16_t)q->size);
	mw16(&p->common, CC_QMSIX, vec < 0 ? NO_VECTOR : (uint16_t)vec);
	if (vec >= 0 && mr16(&p->common, CC_QMSIX) != vec)
		return ostori_error(OSTOR_ERROR_PROTOCOL, "%s: the device refused MSI-X vector %d for queue %u "
				    "(reads back 0x%x)", vd->name, vec, q->index, mr16(&p->common, CC_QMSIX));
	mw64(&p->common, CC_QDESC, q->desc_iova);
	mw64(&p->common, CC_QDRIVER, q->driver_iova);
	mw64(&p->common, CC_QDEVICE, q->device_iova);
	mw16(&p->common, CC_QENABLE, 1);
	return 0;
}

static void p_del_queue(struct virtio_dev *vd, struct virtqueue *q)
{
}

static int p_reset_queue(struct virtio_dev *vd, struct virtqueue *q)
{
	struct pci_dev *p = P(vd);
	uint64_t deadline = ostori_now_ms() + 1000;

	if (p->common.len < CC_QRESET + 2)
		return ostori_error(OSTOR_ERROR_NOT_SUPPORTED, "%s: no queue_reset register", vd->name);
	mw16(&p->common, CC_QSELECT, q->index);
	mw16(&p->common, CC_QRESET, 1);
	/* VirtIO 1.2 has the device show 1 in queue_reset once done; QEMU
	 * (and Linux, which waits for 0) reset synchronously and show 0.
	 * Both disable the queue: that is the completion we wait for. */
	while (mr16(&p->common, CC_QENABLE)) {
		struct timespec ts = { 0, 100000 };

		if (ostori_now_ms() > deadline)
			return ostori_error(OSTOR_ERROR_TIMEOUT, "%s: queue %u reset did not complete "
					    "(queue_enable stays 1, queue_reset reads %u)", vd->name,
					    q->index, mr16(&p->common, CC_QRESET));
		nanosleep(&ts, NULL);
	}
	return 0;
}

static void p_notify(struct virtio_dev *vd, struct virtqueue *q)
{
	/* The doorbell address was found at set-up: going through
	 * queue_select here would race between threads notifying different
	 * queues (and cost two more register accesses). */
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	if (OSTOR_LIKELY(q->notify_addr))
		*(volatile uint16_t *)q->notify_addr = htole16(q->index);
	else
		mw16(&P(vd)->notify, q->notify_off, q->index);
}

/* The shared interrupt fd: INTx's, or MSI-X's configuration vector. */
static int p_intr_fd(struct virtio_dev *vd)
{
	struct pci_dev *p = P(vd);

	return p->access == PCI_ACCESS_UIO ? p->uio_fd : p->irq != PCI_IRQ_NONE ? p->efd[0] : -1;
}

static int p_intr_enable(struct virtio_dev *vd)
{
	struct pci_dev *p = P(vd);
	uint32_t one = 1;

	if (p->access == PCI_ACCESS_UIO)
		return write(p->uio_fd, &one, sizeof(one)) == sizeof(one) ? 0 : OSTOR_ERROR_IO;
	if (p->irq == PCI_IRQ_INTX)
		return pci_vfio_intx_unmask(p);
	return 0; /* MSI-X needs no re-arming */
}

static bool drain(int fd)
{
	uint64_t count;

	return fd >= 0 && read(fd, &count, sizeof(count)) == (ssize_t)sizeof(count);
}

static uint8_t p_intr_ack(struct virtio_dev *vd)
{
	struct pci_dev *p = P(vd);
	uint8_t isr = 0;

	if (p->irq == PCI_IRQ_MSIX) {
		/* No ISR with MSI-X: the vector says what happened. */
		if (drain(p->efd[PCI_VEC_CONFIG]))
			isr |= 2;
		if (p->nvec > PCI_VEC_CTRL && drain(p->efd[PCI_VEC_CTRL]))
			isr |= 1;
		return isr;
	}
	if (p->access == PCI_ACCESS_UIO) {
		uint32_t count;
		ssize_t n = read(p->uio_fd, &count, sizeof(count));

		(void)n;
	} else {
		drain(p->efd[0]);
	}
	return mr8(&p->isr, 0); /* reading ISR acknowledges (INTx deasserts) */
}

/* A queue's MSI-X vector fd, -1 when it shares the configuration's. */
static int p_queue_intr_fd(struct virtio_dev *vd, struct virtqueue *q)
{
	struct pci_dev *p = P(vd);
	int vec = pci_queue_vector(p, q->index);

	return vec > PCI_VEC_CONFIG ? p->efd[vec] : -1;
}

/* Only a vector of its own: the shared ones are p_intr_ack's. */
static bool p_queue_intr_ack(struct virtio_dev *vd, struct virtqueue *q)
{
	struct pci_dev *p = P(vd);
	int vec = pci_queue_vector(p, q->index);

	return vec > PCI_VEC_CTRL && drain(p->efd[vec]);
}

static void *p_dma_alloc(struct virtio_dev *vd, size_t size, uint64_t *iova)
{
	struct pci_dev *p = P(vd);
	void *m = pci_pool_alloc(&p->pool, size);
	size_t contig;

	if (!m)
		return NULL;
	*iova = pci_pool_addr(&p->pool, (size_t)((uint8_t *)m - p->pool.base), size, &contig);
	return m;
}

static void p_dma_free(struct virtio_dev *vd, void *m, size_t size)
{
	pci_pool_free(&P(vd)->pool, m);
}

/* Only pool memory has a device address: anything else is refused here
 * (and bounced by the caller), so the device never sees it - under VFIO
 * the IOMMU would refuse it too. */
static int p_translate(struct virtio_dev *vd, const void *ptr, size_t len, uint64_t *iova, size_t *contig)
{
	struct pci_dev *p = P(vd);
	const uint8_t *b = ptr;

	if (b < p->pool.base || b >= p->pool.base + p->pool.size)
		return OSTOR_ERROR_NOT_FOUND;
	*iova = pci_pool_addr(&p->pool, (size_t)(b - p->pool.base), len, contig);
	return 0;
}

static const struct virtio_dev_ops pci_ops = {
	.name = "pci",
	.read_config = p_read_config,
	.write_config = p_write_config,
	.config_generation = p_generation,
	.get_status = p_get_status,
	.set_status = p_set_status,
	.get_features = p_get_features,
	.set_features = p_set_features,
	.queue_max_size = p_queue_max,
	.setup_queue = p_setup_queue,
	.del_queue = p_del_queue,
	.reset_queue = p_reset_queue,
	.notify = p_notify,
	.intr_fd = p_intr_fd,
	.intr_enable = p_intr_enable,
	.intr_ack = p_intr_ack,
	.queue_intr_fd = p_queue_intr_fd,
	.queue_intr_ack = p_queue_intr_ack,
	.dma_alloc = p_dma_alloc,
	.dma_free = p_dma_free,
	.translate = p_translate,
};

/* ---- what the API reports ---------------------------------------------------------------------- */

void ostori_pci_device_info(ostor_device *dev, struct ostor_virtio_device_info *info)
{
	struct pci_dev *p = ostori_device_priv(dev);

	snprintf(info->pci_address, sizeof(info->pci_address), "%s", p->addr);
	pci_binding_of(p->sysfs, info->binding, sizeof(info->binding));
	snprintf(info->transport, sizeof(info->transport), "%s", p->access == PCI_ACCESS_VFIO ? "vfio" : "uio");
	info->iommu_group = p->iommu_group;
	snprintf(info->iommu, sizeof(info->iommu), "%s",
		 p->access == PCI_ACCESS_UIO ? "none" : p->noiommu ? "no-iommu" : "type1");
	snprintf(info->interrupt_kind, sizeof(info->interrupt_kind), "%s",
		 p->irq == PCI_IRQ_MSIX ? "msix" : p->irq == PCI_IRQ_INTX && p->vs && vscsi_interrupts(p->vs) ?
		 "intx" : "none");
	info->interrupt_vectors = p->irq == PCI_IRQ_MSIX ? (uint32_t)p->nvec : 0;
	info->dma_address = p->access == PCI_ACCESS_VFIO && !p->noiommu ? p->pool.iova : 0;
	info->dma_pool_bytes = p->pool.size;
}

int ostori_pci_queue_vector(ostor_device *dev, unsigned int qindex)
{
	return pci_queue_vector(ostori_device_priv(dev), qindex);
}

static int virtio_counters(ostor_device *dev, struct ostor_counter *out, int max)
{
	return vscsi_counters(((struct pci_dev *)ostori_device_priv(dev))->vs, out, max);
}

struct vscsi_dev *ostori_pci_virtio_vscsi(ostor_device *dev)
{
	return ((struct pci_dev *)ostori_device_priv(dev))->vs;
}

/* ---- enumerate, open, close -------------------------------------------------------------------- */

/* What kind of virtio function: "modern", "transitional", or
 * "legacy-only" when the config space (readable in full by root only)
 * carries no common-configuration capability. */
static const char *function_kind(const char *sysfs, bool modern_id)
{
	uint8_t cfg[256];
	char path[128];
	ssize_t n;
	int fd;
	unsigned int pos, hops = 0;

	if (modern_id)
		return "modern";
	snprintf(path, sizeof(path), "%s/config", sysfs);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return "transitional";
	n = pread(fd, cfg, sizeof(cfg), 0);
	close(fd);
	/* Without root only the first 64 bytes come back: cannot tell. */
	if (n < (ssize_t)sizeof(cfg) || !(cfg[0x06] & 0x10))
		return n == (ssize_t)sizeof(cfg) ? "legacy-only, not supported" : "transitional";
	for (pos = cfg[0x34] & 0xfc; pos >= 0x40 && pos + 4 <= sizeof(cfg) && hops < 48;
	     pos = cfg[pos + 1] & 0xfc, hops++) {
		/* vendor capability, cfg_type 1 = VIRTIO_PCI_CAP_COMMON_CFG */
		if (cfg[pos] == 0x09 && cfg[pos + 3] == 1)
			return "transitional";
	}
	return "legacy-only, not supported";
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
		char spec[32], sysfs[96], bound[64], disks[16][32];
		bool modern = d->device_id == VIRTIO_SCSI_MODERN;
		int n = 0;

		if (!modern && d->device_id != VIRTIO_SCSI_TRANSITIONAL)
			continue;
		snprintf(sysfs, sizeof(sysfs), "/sys/bus/pci/devices/%04x:%02x:%02x.%u",
			 d->domain, d->bus, d->dev, d->func);
		pci_binding_of(sysfs, bound, sizeof(bound));
		pci_find_disks(sysfs, 0, disks, &n, 16);
		snprintf(spec, sizeof(spec), "virtio:%04x:%02x:%02x.%u", d->domain, d->bus, d->dev, d->func);
		r = ostori_devlist_add(list, "virtio", spec,
				       "virtio-scsi (%s, %04x:%04x), bound to %s%s%s",
				       function_kind(sysfs, modern), d->vendor_id, d->device_id, bound,
				       n ? ", kernel disks: " : "", n ? disks[0] : "");
	}
	pci_iterator_destroy(it);
	pci_system_cleanup();
	return r;
}

static int map_bar(struct pci_dev *p, unsigned int bar)
{
	struct mmio *m = &p->bar[bar];
	char path[160];
	struct stat st;
	void *b;
	int fd;

	if (m->len)
		return 0;
	if (p->access == PCI_ACCESS_VFIO)
		return pci_vfio_map_bar(p, bar);
	snprintf(path, sizeof(path), "%s/resource%u", p->sysfs, bar);
	fd = open(path, O_RDWR | O_CLOEXEC | O_SYNC);
	if (fd < 0)
		return ostori_error(errno == EACCES ? OSTOR_ERROR_ACCESS : OSTOR_ERROR_IO,
				    "%s: cannot open %s: %s", p->addr, path, strerror(errno));
	if (fstat(fd, &st) < 0 || st.st_size <= 0) {
		close(fd);
		return ostori_error(OSTOR_ERROR_PROTOCOL, "%s: BAR %u has no memory resource", p->addr, bar);
	}
	b = mmap(NULL, (size_t)st.st_size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	close(fd);
	if (b == MAP_FAILED)
		return ostori_error(OSTOR_ERROR_IO, "%s: cannot map BAR %u: %s", p->addr, bar, strerror(errno));
	m->base = b;
	m->len = (size_t)st.st_size;
	m->fd = -1;
	return 0;
}

/* Walk the vendor capabilities (4.1.4) and map what they point at. */
static int find_caps(struct pci_dev *p)
{
	uint8_t cfg[256];
	uint8_t pos;
	int seen = 0, guard = 0;

	if (pci_cfg_read(p, cfg, sizeof(cfg), 0) < 0)
		return ostori_error(OSTOR_ERROR_IO, "%s: cannot read PCI config space", p->addr);
	if (!(cfg[6] & 0x10))
		return ostori_error(OSTOR_ERROR_NOT_SUPPORTED, "%s: no PCI capability list: a legacy-only "
				    "virtio device, which this driver does not support", p->addr);
	for (pos = cfg[0x34] & 0xfc; pos && guard < 48; pos = cfg[pos + 1] & 0xfc, guard++) {
		uint8_t type, bar;
		uint32_t off, len, mult = 0;
		struct mmio w;
		int r;

		if (pos > 256 - 16)
			break;
		if (cfg[pos] != PCI_CAP_VNDR || cfg[pos + 2] < 16)
			continue;
		type = cfg[pos + 3];
		bar = cfg[pos + 4];
		/* struct virtio_pci_cap (4.1.4): little-endian, as all of
		 * PCI config space. */
		off = ostori_get_le32(cfg + pos + 8);
		len = ostori_get_le32(cfg + pos + 12);
		if (type < CAP_COMMON || type > CAP_DEVICE || (seen & (1 << type)))
			continue;
		if (bar > 5)
			return ostori_error(OSTOR_ERROR_PROTOCOL, "%s: virtio capability %u names BAR %u", p->addr,
					    type, bar);
		if (type == CAP_NOTIFY) {
			if (cfg[pos + 2] < 20 || pos > 256 - 20)
				return ostori_error(OSTOR_ERROR_PROTOCOL, "%s: short notify capability", p->addr);
			mult = ostori_get_le32(cfg + pos + 16);
		}
		if ((r = map_bar(p, bar)) < 0)
			return r;
		if ((uint64_t)off + len > p->bar[bar].len || len == 0)
			return ostori_error(OSTOR_ERROR_PROTOCOL,
					    "%s: virtio capability %u [0x%x, +0x%x) does not fit BAR %u (%zu bytes)",
					    p->addr, type, off, len, bar, p->bar[bar].len);
		w = (struct mmio){
			.base = p->bar[bar].base ? p->bar[bar].base + off : NULL,
			.len = len,
			.fd = p->bar[bar].fd,
			.off = p->bar[bar].off + (off_t)off,
		};
		switch (type) {
		case CAP_COMMON:
			if (len < 56)
				return ostori_error(OSTOR_ERROR_PROTOCOL, "%s: common config of %u bytes (< 56)",
						    p->addr, len);
			p->common = w;
			break;
		case CAP_NOTIFY:
			p->notify = w;
			p->notify_mult = mult;
			break;
		case CAP_ISR:
			p->isr = w;
			break;
		case CAP_DEVICE:
			p->devcfg = w;
			break;
		}
		seen |= 1 << type;
	}
	if ((seen & 0x1e) != 0x1e)
		return ostori_error(OSTOR_ERROR_NOT_SUPPORTED,
				    "%s: missing modern virtio capabilities (found mask 0x%x, need common, "
				    "notify, ISR, device): a legacy-only device; use disable-legacy=on or a "
				    "modern device", p->addr, seen);
	return 0;
}

static void pci_teardown(struct pci_dev *p)
{
	if (p->vs)
		vscsi_close(p->vs);
	p->vs = NULL;
	if (p->access == PCI_ACCESS_VFIO)
		pci_vfio_close(p);
	pci_pool_destroy(&p->pool);
	for (int i = 0; i < 6; i++)
		if (p->bar[i].base)
			munmap((void *)p->bar[i].base, p->bar[i].len);
	for (int i = 0; i < PCI_MSIX_MAX; i++)
		if (p->efd[i] >= 0)
			close(p->efd[i]);
	if (p->uio_fd >= 0)
		close(p->uio_fd);
	if (p->cfg_fd >= 0)
		close(p->cfg_fd);
	p->uio_fd = p->cfg_fd = -1;
}

/* Devices with the event loop: one list per context. */
struct virtio_ctx {
	pthread_mutex_t lock;
	ostor_device *devs[64];
	int n;
};

static struct virtio_ctx *vctx(ostor_context *ctx)
{
	return ctx->backend_data[ostori_backend_index(&ostori_virtio_backend)];
}

static int virtio_init(ostor_context *ctx)
{
	struct virtio_ctx *v = calloc(1, sizeof(*v));

	if (!v)
		return ostori_error(OSTOR_ERROR_NO_MEM, "out of memory");
	pthread_mutex_init(&v->lock, NULL);
	ctx->backend_data[ostori_backend_index(&ostori_virtio_backend)] = v;
	return 0;
}

static void virtio_exit(ostor_context *ctx)
{
	struct virtio_ctx *v = vctx(ctx);

	if (v) {
		pthread_mutex_destroy(&v->lock);
		free(v);
	}
}

static int virtio_open(ostor_device *dev, const struct ostor_spec *cspec)
{
	const struct ostor_config *cfg = &dev->ctx->config;
	struct pci_dev *p = ostori_device_priv(dev);
	struct ostor_spec spec = *cspec;
	struct vscsi_options o = { 0 };
	const struct ostori_virtio_config *vc = ostori_virtio_config(cfg);
	struct virtio_ctx *v = vctx(dev->ctx);
	const char *env;
	char bound[64];
	size_t pool;
	bool vfio;
	int r;

	dev->dma_pool_fixed = true;
	p->cfg_fd = p->uio_fd = p->container_fd = p->group_fd = p->device_fd = -1;
	p->iommu_group = -1;
	for (int i = 0; i < PCI_MSIX_MAX; i++)
		p->efd[i] = -1;
	for (int i = 0; i < 6; i++)
		p->bar[i].fd = -1;
	p->vd.ctx = dev->ctx;
	snprintf(p->addr, sizeof(p->addr), "%04x:%02x:%02x.%x", ovirtio_spec(&spec)->domain, ovirtio_spec(&spec)->bus,
		 ovirtio_spec(&spec)->dev, ovirtio_spec(&spec)->func);
	snprintf(p->sysfs, sizeof(p->sysfs), "/sys/bus/pci/devices/%s", p->addr);
	if ((r = pci_check_virtio_scsi(p->sysfs, p->addr)) < 0)
		return r;
	pci_binding_of(p->sysfs, bound, sizeof(bound));
	vfio = !strcmp(bound, "vfio-pci");
	/* Completion mode (queue_completion; the variable overrides it for
	 * one process) decides the interrupts the function is set up for. */
	env = getenv("ORIONSTOR_VIRTIO_INTERRUPTS");
	o.mode = env && !strcmp(env, "1") ? 2 : env && !strcmp(env, "0") ? 1 :
		 vc->queue_completion == OSTORI_QUEUE_COMPLETION_INTERRUPT ? 2 : 1;
	/* How the registers are reached: mapped (the default), or with
	 * read/write on the VFIO device - for an IOMMU or platform that
	 * refuses the mapping, and to test that path. */
	env = getenv("ORIONSTOR_VIRTIO_BAR_ACCESS");
	if (env && strcmp(env, "mmap") && strcmp(env, "rw")) {
		r = ostori_error(OSTOR_ERROR_CONFIG, "ORIONSTOR_VIRTIO_BAR_ACCESS=%s: expected mmap or rw", env);
		goto fail;
	}
	p->bar_rw = env && !strcmp(env, "rw");
	if (p->bar_rw && !vfio) {
		r = ostori_error(OSTOR_ERROR_CONFIG, "%s: ORIONSTOR_VIRTIO_BAR_ACCESS=rw needs the function on vfio-pci "
				 "(it is on %s; virtio-scsi-device-bind --driver vfio-pci)", p->addr,
				 bound[0] ? bound : "no driver");
		goto fail;
	}
	if ((r = vfio ? pci_vfio_open(p, cfg) : pci_uio_open(p)) < 0 || (r = find_caps(p)) < 0)
		goto fail;
	if (vfio && o.mode == 2) {
		env = getenv("ORIONSTOR_VIRTIO_IRQ");
		if ((r = pci_vfio_irqs(p, env ? strcmp(env, "intx") != 0 :
				       vc->vfio_interrupts == OSTORI_VFIO_IRQ_MSIX)) < 0)
			goto fail;
	}
	/* Rings, headers and bounce buffers of every queue, plus room for
	 * the application's zero-copy buffers. */
	pool = (size_t)vc->device_max_queues * (vc->queue_depth * (BOUNCE_BYTES + 4096) + (1u << 20)) +
	       (size_t)vc->shared_memory_size + (2u << 20);
	/* VFIO pins the pool itself when it maps it into the IOMMU. */
	if ((r = pci_pool_create(&p->pool, pool, p->addr, !vfio || p->noiommu)) < 0)
		goto fail;
	if ((r = vfio ? pci_vfio_map_pool(p) : pci_pool_resolve_phys(&p->pool, p->addr)) < 0)
		goto fail;
	p->vd.ops = &pci_ops;
	p->vd.transport = p;
	p->vd.ctx = dev->ctx;
	snprintf(p->vd.name, sizeof(p->vd.name), "virtio:%s", p->addr);
	/* Ring kind, completion mode and queue count come from the
	 * configuration file (queue_ring, queue_completion, queue_count);
	 * these variables override it for one process. */
	env = getenv("ORIONSTOR_VIRTIO_RING");
	o.ring = env && !strcmp(env, "split") ? 1 : env && !strcmp(env, "packed") ? 2 : 0;
	o.queues = 0;
	env = getenv("ORIONSTOR_VIRTIO_QUEUES");
	if (env && atoi(env) > 0)
		o.queues = (unsigned int)atoi(env);
	o.bounce_bytes = BOUNCE_BYTES;
	if ((r = vscsi_open(dev, &p->vd, &o, &p->vs)) < 0)
		goto fail;
	snprintf(dev->description, sizeof(dev->description), "virtio-scsi %s (%s rings, %s%s%s)", p->addr,
		 virtio_has(&p->vd, VIRTIO_F_RING_PACKED) ? "packed" : "split",
		 vfio ? (p->noiommu ? "VFIO without IOMMU" : "VFIO") : "UIO",
		 p->irq == PCI_IRQ_MSIX ? ", MSI-X" : "", p->bar_rw ? ", registers by read/write" : "");
	pthread_mutex_lock(&v->lock);
	if (v->n == (int)OSTOR_ARRAY_SIZE(v->devs)) {
		pthread_mutex_unlock(&v->lock);
		r = ostori_error(OSTOR_ERROR_BUSY, "too many open virtio devices");
		goto fail;
	}
	v->devs[v->n++] = dev;
	pthread_mutex_unlock(&v->lock);
	return 0;
fail:
	pci_teardown(p);
	return r;
}

static void virtio_close(ostor_device *dev)
{
	struct pci_dev *p = ostori_device_priv(dev);
	struct virtio_ctx *v = vctx(dev->ctx);

	pthread_mutex_lock(&v->lock);
	for (int i = 0; i < v->n; i++)
		if (v->devs[i] == dev)
			v->devs[i] = v->devs[--v->n];
	pthread_mutex_unlock(&v->lock);
	pci_teardown(p);
}

static int virtio_submit(ostor_task *t)
{
	return vscsi_submit(((struct pci_dev *)ostori_device_priv(t->dev))->vs, t);
}

static int virtio_cancel(ostor_task *t)
{
	return vscsi_cancel(((struct pci_dev *)ostori_device_priv(t->dev))->vs, t);
}

static int virtio_reset(ostor_device *dev, enum ostor_reset_level level, uint32_t target, uint32_t lun)
{
	return vscsi_reset_level(((struct pci_dev *)ostori_device_priv(dev))->vs, level, target, lun);
}

static void *virtio_dma_alloc(ostor_device *dev, size_t size)
{
	return ostor_virtio_dma_alloc(dev, size);
}

static void virtio_dma_free(ostor_device *dev, void *p, size_t size)
{
	ostor_virtio_dma_free(dev, p, size);
}

static struct vscsi_dev *vs_of(ostor_device *dev)
{
	return ((struct pci_dev *)ostori_device_priv(dev))->vs;
}

static bool virtio_is_dma(ostor_device *dev, const void *p, size_t len)
{
	return vscsi_is_dma(vs_of(dev), p, len);
}

static unsigned int virtio_queue_count(ostor_device *dev)
{
	return (unsigned int)vscsi_queue_count(vs_of(dev)) - 2;
}

static int virtio_queue_acquire(ostor_device *dev, unsigned int index)
{
	return vscsi_queue_acquire(vs_of(dev), (int)index);
}

static void virtio_queue_release(ostor_device *dev)
{
	vscsi_queue_release(vs_of(dev));
}

static int virtio_queue_poll(ostor_device *dev)
{
	return vscsi_queue_poll(vs_of(dev));
}

static int virtio_get_pollfds(ostor_context *ctx, struct pollfd *fds, int max)
{
	struct virtio_ctx *v = vctx(ctx);
	int n = 0;

	pthread_mutex_lock(&v->lock);
	for (int i = 0; i < v->n; i++) {
		struct pci_dev *p = ostori_device_priv(v->devs[i]);

		n += vscsi_pollfds(p->vs, fds && n < max ? fds + n : NULL, n < max ? max - n : 0);
	}
	pthread_mutex_unlock(&v->lock);
	return n;
}

static int virtio_next_timeout(ostor_context *ctx)
{
	struct virtio_ctx *v = vctx(ctx);
	int best = -1;

	pthread_mutex_lock(&v->lock);
	for (int i = 0; i < v->n; i++) {
		int t = vscsi_next_timeout(((struct pci_dev *)ostori_device_priv(v->devs[i]))->vs);

		if (t >= 0 && (best < 0 || t < best))
			best = t;
	}
	pthread_mutex_unlock(&v->lock);
	return best;
}

static int virtio_handle_events(ostor_context *ctx)
{
	struct virtio_ctx *v = vctx(ctx);
	int n = 0;

	pthread_mutex_lock(&v->lock);
	for (int i = 0; i < v->n; i++)
		n += vscsi_poll(((struct pci_dev *)ostori_device_priv(v->devs[i]))->vs);
	pthread_mutex_unlock(&v->lock);
	return n;
}

const struct ostor_backend ostori_virtio_backend = {
	.name = "virtio",
	.spec_forms = OVIRTIO_SPEC_FORMS,
	.device_priv_size = sizeof(struct pci_dev),
	.init = virtio_init,
	.exit = virtio_exit,
	.enumerate = virtio_enumerate,
	.open = virtio_open,
	.close = virtio_close,
	.submit = virtio_submit,
	.cancel = virtio_cancel,
	.reset = virtio_reset,
	.dma_alloc = virtio_dma_alloc,
	.dma_free = virtio_dma_free,
	.is_dma = virtio_is_dma,
	.queue_count = virtio_queue_count,
	.queue_acquire = virtio_queue_acquire,
	.queue_release = virtio_queue_release,
	.queue_poll = virtio_queue_poll,
	.get_pollfds = virtio_get_pollfds,
	.next_timeout = virtio_next_timeout,
	.handle_events = virtio_handle_events,
	.counters = virtio_counters,
};
