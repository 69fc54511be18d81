/*
 * lib/virtio/backend.c - the "virtio:" backend: virtio-scsi PCI functions
 * bound to uio_pci_generic, driven from userspace.
 *
 * - Discovery with libpciaccess (1AF4:1048 modern, 1AF4:1004 transitional).
 * - Modern virtio-pci transport (4.1.4): vendor capabilities in config
 *   space (read through sysfs), BARs mapped from the sysfs resource files,
 *   every capability checked against its BAR's size.
 * - DMA memory: one hugetlbfs pool per device, pinned (MAP_LOCKED), with
 *   physical addresses from /proc/self/pagemap (root only); 2 MiB pages
 *   are physically contiguous, allocations never straddle one unless they
 *   are larger.  User buffers outside the pool are bounced.
 * - Interrupts: INTx through /dev/uioN (read = wait, write 1 = unmask),
 *   ISR read = acknowledge.
 * - Binding helpers with the in-use checks (mounts, swap, holders).
 */
#include "virtio/pci.h"
#include "virtio/spec.h"
#include "virtio/scsi.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pciaccess.h>
#include <spawn.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define VIRTIO_VENDOR 0x1af4
#define VIRTIO_SCSI_MODERN 0x1048
#define VIRTIO_SCSI_TRANSITIONAL 0x1004
#define HUGE_2M (2u << 20)
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

extern char **environ;

/* ---- the DMA pool ---------------------------------------------------------------- */

struct dma_block {
	size_t off, len;
	bool used;
};

struct dma_pool {
	uint8_t *base;
	size_t size;
	uint64_t *phys;              /* per 2 MiB page */
	struct dma_block *blk;
	size_t nblk, capblk;
	pthread_mutex_t lock;
};

static int pool_create(struct dma_pool *p, size_t size, const char *name)
{
	int fd;
	size_t pages;

	size = (size + HUGE_2M - 1) & ~(size_t)(HUGE_2M - 1);
	pages = size / HUGE_2M;
	p->base = mmap(NULL, size, PROT_READ | PROT_WRITE,
		       MAP_SHARED | MAP_ANONYMOUS | MAP_HUGETLB | MAP_POPULATE | MAP_LOCKED, -1, 0);
	if (p->base == MAP_FAILED) {
		int e = errno;

		p->base = NULL;
		return ostori_error(OSTOR_ERROR_NO_MEM,
				    "%s: cannot get %zu MiB of hugepage DMA memory (%zu pages of 2 MiB): %s; "
				    "reserve them first, e.g. 'echo %zu > /proc/sys/vm/nr_hugepages' as root "
				    "(see HugePages_Free in /proc/meminfo)", name, size >> 20, pages, strerror(e),
				    pages + 8);
	}
	p->size = size;
	p->phys = calloc(pages, sizeof(*p->phys));
	p->capblk = 64;
	p->blk = calloc(p->capblk, sizeof(*p->blk));
	if (!p->phys || !p->blk)
		return ostori_error(OSTOR_ERROR_NO_MEM, "out of memory");
	fd = open("/proc/self/pagemap", O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return ostori_error(OSTOR_ERROR_ACCESS, "%s: cannot open /proc/self/pagemap: %s", name,
				    strerror(errno));
	for (size_t i = 0; i < pages; i++) {
		uint64_t ent, va = (uint64_t)(uintptr_t)(p->base + i * HUGE_2M);

		if (pread(fd, &ent, sizeof(ent), (off_t)((va / 4096) * 8)) != sizeof(ent) ||
		    !(ent >> 63) || !(ent & ((1ull << 55) - 1))) {
			close(fd);
			return ostori_error(OSTOR_ERROR_ACCESS,
					    "%s: no physical address for DMA memory in /proc/self/pagemap; "
					    "the userspace virtio driver must run as root (CAP_SYS_ADMIN)", name);
		}
		p->phys[i] = (ent & ((1ull << 55) - 1)) * 4096;
	}
	close(fd);
	p->blk[0] = (struct dma_block){ 0, size, false };
	p->nblk = 1;
	pthread_mutex_init(&p->lock, NULL);
	return 0;
}

static void pool_destroy(struct dma_pool *p)
{
	if (p->base) {
		munmap(p->base, p->size);
		pthread_mutex_destroy(&p->lock);
	}
	free(p->phys);
	free(p->blk);
	memset(p, 0, sizeof(*p));
}

static int pool_split(struct dma_pool *p, size_t i, size_t at)
{
	if (p->nblk == p->capblk) {
		struct dma_block *b = realloc(p->blk, 2 * p->capblk * sizeof(*b));

		if (!b)
			return -1;
		p->blk = b;
		p->capblk *= 2;
	}
	memmove(&p->blk[i + 2], &p->blk[i + 1], (p->nblk - i - 1) * sizeof(*p->blk));
	p->blk[i + 1] = (struct dma_block){ p->blk[i].off + at, p->blk[i].len - at, false };
	p->blk[i].len = at;
	p->nblk++;
	return 0;
}

static void *pool_alloc(struct dma_pool *p, size_t len)
{
	void *ret = NULL;

	len = (len + 63) & ~(size_t)63;
	pthread_mutex_lock(&p->lock);
	for (size_t i = 0; i < p->nblk && !ret; i++) {
		struct dma_block *b = &p->blk[i];
		size_t start = (b->off + 4095) & ~(size_t)4095, end;

		if (b->used)
			continue;
		/* Keep an allocation inside one 2 MiB page when it fits in one. */
		if (len > HUGE_2M)
			start = (b->off + HUGE_2M - 1) & ~(size_t)(HUGE_2M - 1);
		else if (start / HUGE_2M != (start + len - 1) / HUGE_2M)
			start = (start + HUGE_2M - 1) & ~(size_t)(HUGE_2M - 1);
		end = start + len;
		if (end > b->off + b->len)
			continue;
		if (start > b->off) {
			if (pool_split(p, i, start - b->off) < 0)
				break;
			continue; /* the next block starts at start */
		}
		if (b->len > len && pool_split(p, i, len) < 0)
			break;
		p->blk[i].used = true;
		ret = p->base + p->blk[i].off;
	}
	pthread_mutex_unlock(&p->lock);
	if (!ret)
		ostori_error(OSTOR_ERROR_NO_MEM, "the DMA memory pool (%zu MiB) is exhausted; raise "
			     "shared_memory_size in orionstor.conf", p->size >> 20);
	return ret;
}

static void pool_free(struct dma_pool *p, void *ptr)
{
	size_t off = (size_t)((uint8_t *)ptr - p->base);

	pthread_mutex_lock(&p->lock);
	for (size_t i = 0; i < p->nblk; i++) {
		if (p->blk[i].off != off || !p->blk[i].used)
			continue;
		p->blk[i].used = false;
		if (i + 1 < p->nblk && !p->blk[i + 1].used) {
			p->blk[i].len += p->blk[i + 1].len;
			memmove(&p->blk[i + 1], &p->blk[i + 2], (p->nblk - i - 2) * sizeof(*p->blk));
			p->nblk--;
		}
		if (i > 0 && !p->blk[i - 1].used) {
			p->blk[i - 1].len += p->blk[i].len;
			memmove(&p->blk[i], &p->blk[i + 1], (p->nblk - i - 1) * sizeof(*p->blk));
			p->nblk--;
		}
		break;
	}
	pthread_mutex_unlock(&p->lock);
}

/* ---- the PCI function ------------------------------------------------------------------------ */

struct pci_dev {
	char addr[16];                /* "0000:00:04.0" */
	char sysfs[96];
	int cfg_fd, uio_fd;
	void *bar[6];
	size_t bar_len[6];
	volatile uint8_t *common, *isr, *devcfg, *notify;
	size_t common_len, isr_len, devcfg_len, notify_len;
	uint32_t notify_mult;
	struct dma_pool pool;
	struct virtio_dev vd;
	struct vscsi_dev *vs;
};

static struct pci_dev *P(struct virtio_dev *vd)
{
	return vd->transport;
}

static uint8_t mr8(volatile uint8_t *b, size_t o) { return *(volatile uint8_t *)(b + o); }
static uint16_t mr16(volatile uint8_t *b, size_t o) { return *(volatile uint16_t *)(b + o); }
static uint32_t mr32(volatile uint8_t *b, size_t o) { return *(volatile uint32_t *)(b + o); }
static void mw8(volatile uint8_t *b, size_t o, uint8_t v) { *(volatile uint8_t *)(b + o) = v; }
static void mw16(volatile uint8_t *b, size_t o, uint16_t v) { *(volatile uint16_t *)(b + o) = v; }
static void mw32(volatile uint8_t *b, size_t o, uint32_t v) { *(volatile uint32_t *)(b + o) = v; }
static void mw64(volatile uint8_t *b, size_t o, uint64_t v)
{
	mw32(b, o, (uint32_t)v);
	mw32(b, o + 4, (uint32_t)(v >> 32));
}

static int p_read_config(struct virtio_dev *vd, size_t off, void *buf, size_t len)
{
	struct pci_dev *p = P(vd);

	if (off > p->devcfg_len || len > p->devcfg_len - off)
		return ostori_error(OSTOR_ERROR_PROTOCOL, "%s: device config read [%zu, +%zu) past its %zu bytes",
				    vd->name, off, len, p->devcfg_len);
	for (size_t i = 0; i < len; i++)
		((uint8_t *)buf)[i] = mr8(p->devcfg, off + i);
	return 0;
}

static int p_write_config(struct virtio_dev *vd, size_t off, const void *buf, size_t len)
{
	struct pci_dev *p = P(vd);

	if (off > p->devcfg_len || len > p->devcfg_len - off)
		return ostori_error(OSTOR_ERROR_PROTOCOL, "%s: device config write past the end", vd->name);
	for (size_t i = 0; i < len; i++)
		mw8(p->devcfg, off + i, ((const uint8_t *)buf)[i]);
	return 0;
}

static uint8_t p_generation(struct virtio_dev *vd) { return mr8(P(vd)->common, CC_GEN); }
static uint8_t p_get_status(struct virtio_dev *vd) { return mr8(P(vd)->common, CC_STATUS); }
static void p_set_status(struct virtio_dev *vd, uint8_t s) { mw8(P(vd)->common, CC_STATUS, s); }

static uint64_t p_get_features(struct virtio_dev *vd)
{
	struct pci_dev *p = P(vd);
	uint64_t lo, hi;

	mw32(p->common, CC_DFSELECT, 0);
	lo = mr32(p->common, CC_DF);
	mw32(p->common, CC_DFSELECT, 1);
	hi = mr32(p->common, CC_DF);
	return lo | hi << 32;
}

static void p_set_features(struct virtio_dev *vd, uint64_t f)
{
	struct pci_dev *p = P(vd);

	mw32(p->common, CC_GFSELECT, 0);
	mw32(p->common, CC_GF, (uint32_t)f);
	mw32(p->common, CC_GFSELECT, 1);
	mw32(p->common, CC_GF, (uint32_t)(f >> 32));
}

static uint32_t p_queue_max(struct virtio_dev *vd, uint16_t index)
{
	struct pci_dev *p = P(vd);

	if (index >= mr16(p->common, CC_NUMQ))
		return 0;
	mw16(p->common, CC_QSELECT, index);
	return mr16(p->common, CC_QSIZE);
}

static int p_setup_queue(struct virtio_dev *vd, struct virtqueue *q)
{
	struct pci_dev *p = P(vd);
	uint32_t noff;

	mw16(p->common, CC_QSELECT, q->index);
	noff = mr16(p->common, CC_QNOFF);
	/* The doorbell must lie inside the notify capability. */
	if ((uint64_t)noff * p->notify_mult + 2 > p->notify_len)
		return ostori_error(OSTOR_ERROR_PROTOCOL,
				    "%s: queue %u notify offset %u x %u is outside the %zu-byte notify region",
				    vd->name, q->index, noff, p->notify_mult, p->notify_len);
	q->notify_addr = p->notify + (size_t)noff * p->notify_mult;
	mw16(p->common, CC_QSIZE, (uint16_t)q->size);
	mw16(p->common, CC_QMSIX, 0xffff); /* INTx through UIO, no MSI-X */
	mw64(p->common, CC_QDESC, q->desc_iova);
	mw64(p->common, CC_QDRIVER, q->driver_iova);
	mw64(p->common, CC_QDEVICE, q->device_iova);
	mw16(p->common, CC_QENABLE, 1);
	return 0;
}

static void p_del_queue(struct virtio_dev *vd, struct virtqueue *q)
{
}

static int p_reset_queue(struct virtio_dev *vd, struct virtqueue *q)
{
	struct pci_dev *p = P(vd);
	uint64_t deadline = ostori_now_ms() + 1000;

	if (p->common_len < CC_QRESET + 2)
		return ostori_error(OSTOR_ERROR_NOT_SUPPORTED, "%s: no queue_reset register", vd->name);
	mw16(p->common, CC_QSELECT, q->index);
	mw16(p->common, CC_QRESET, 1);
	/* VirtIO 1.2 has the device show 1 in queue_reset once done; QEMU
	 * (and Linux, which waits for 0) reset synchronously and show 0.
	 * Both disable the queue: that is the completion we wait for. */
	while (mr16(p->common, CC_QENABLE)) {
		struct timespec ts = { 0, 100000 };

		if (ostori_now_ms() > deadline)
			return ostori_error(OSTOR_ERROR_TIMEOUT, "%s: queue %u reset did not complete "
					    "(queue_enable stays 1, queue_reset reads %u)", vd->name,
					    q->index, mr16(p->common, CC_QRESET));
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
	*(volatile uint16_t *)q->notify_addr = q->index;
}

static int p_intr_fd(struct virtio_dev *vd)
{
	return P(vd)->uio_fd;
}

static int p_intr_enable(struct virtio_dev *vd)
{
	uint32_t one = 1;

	return write(P(vd)->uio_fd, &one, sizeof(one)) == sizeof(one) ? 0 : OSTOR_ERROR_IO;
}

static uint8_t p_intr_ack(struct virtio_dev *vd)
{
	struct pci_dev *p = P(vd);
	uint32_t count;
	ssize_t n = read(p->uio_fd, &count, sizeof(count));

	(void)n;
	return mr8(p->isr, 0); /* reading ISR acknowledges (INTx deasserts) */
}

static void *p_dma_alloc(struct virtio_dev *vd, size_t size, uint64_t *iova)
{
	struct pci_dev *p = P(vd);
	void *m = pool_alloc(&p->pool, size);
	size_t off;

	if (!m)
		return NULL;
	off = (size_t)((uint8_t *)m - p->pool.base);
	*iova = p->pool.phys[off / HUGE_2M] + off % HUGE_2M;
	return m;
}

static void p_dma_free(struct virtio_dev *vd, void *m, size_t size)
{
	pool_free(&P(vd)->pool, m);
}

static int p_translate(struct virtio_dev *vd, const void *ptr, size_t len, uint64_t *iova, size_t *contig)
{
	struct pci_dev *p = P(vd);
	const uint8_t *b = ptr;
	size_t off, run;

	if (b < p->pool.base || b >= p->pool.base + p->pool.size)
		return OSTOR_ERROR_NOT_FOUND;
	off = (size_t)(b - p->pool.base);
	*iova = p->pool.phys[off / HUGE_2M] + off % HUGE_2M;
	run = HUGE_2M - off % HUGE_2M;
	/* Neighbouring hugepages may happen to be physically adjacent. */
	while (run < len && off / HUGE_2M + 1 < p->pool.size / HUGE_2M &&
	       p->pool.phys[(off + run) / HUGE_2M] == *iova + run)
		run += HUGE_2M;
	if (run > p->pool.size - off)
		run = p->pool.size - off;
	*contig = OSTOR_MIN(run, len);
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
	.dma_alloc = p_dma_alloc,
	.dma_free = p_dma_free,
	.translate = p_translate,
};

/* ---- sysfs helpers ----------------------------------------------------------------------------- */

static int sysfs_write(const char *path, const char *text)
{
	int fd = open(path, O_WRONLY | O_CLOEXEC);
	ssize_t n;

	if (fd < 0)
		return -errno;
	n = write(fd, text, strlen(text));
	n = n < 0 ? -errno : 0;
	close(fd);
	return (int)n;
}

static void binding_of_path(const char *sysfs, char *out, size_t len)
{
	char path[160], link[PATH_MAX];
	ssize_t n;
	const char *base;

	snprintf(path, sizeof(path), "%s/driver", sysfs);
	n = readlink(path, link, sizeof(link) - 1);
	if (n < 0) {
		snprintf(out, len, "none");
		return;
	}
	link[n] = '\0';
	base = strrchr(link, '/') ? strrchr(link, '/') + 1 : link;
	snprintf(out, len, "%s", base);
}

void ostori_pci_address_binding(ostor_device *dev, char *addr, size_t alen, char *bind, size_t blen)
{
	struct pci_dev *p = ostori_device_priv(dev);

	snprintf(addr, alen, "%s", p->addr);
	binding_of_path(p->sysfs, bind, blen);
}

static int virtio_counters(ostor_device *dev, struct ostor_counter *out, int max)
{
	return vscsi_counters(((struct pci_dev *)ostori_device_priv(dev))->vs, out, max);
}

struct vscsi_dev *ostori_pci_virtio_vscsi(ostor_device *dev)
{
	return ((struct pci_dev *)ostori_device_priv(dev))->vs;
}

/* Find the block devices (sdX) below a PCI function in sysfs. */
static void find_disks(const char *dir, int depth, char names[][32], int *n, int max)
{
	DIR *d;
	struct dirent *e;

	if (depth > 8 || !(d = opendir(dir)))
		return;
	while ((e = readdir(d)) && *n < max) {
		char sub[PATH_MAX];

		if (e->d_name[0] == '.' || e->d_type == DT_LNK)
			continue;
		if (snprintf(sub, sizeof(sub), "%s/%s", dir, e->d_name) >= (int)sizeof(sub))
			continue;
		if (!strcmp(e->d_name, "block")) {
			DIR *b = opendir(sub);
			struct dirent *be;

			while (b && (be = readdir(b)) && *n < max)
				if (be->d_name[0] != '.' && strlen(be->d_name) < 32)
					memcpy(names[(*n)++], be->d_name, strlen(be->d_name) + 1);
			if (b)
				closedir(b);
			continue;
		}
		if (e->d_type == DT_DIR)
			find_disks(sub, depth + 1, names, n, max);
	}
	closedir(d);
}

static bool file_mentions(const char *path, const char *dev)
{
	FILE *f = fopen(path, "re");
	char line[512];
	size_t l = strlen(dev);
	bool hit = false;

	if (!f)
		return false;
	while (!hit && fgets(line, sizeof(line), f))
		/* "/dev/sda" or "/dev/sda1" at the start of a line */
		hit = !strncmp(line, dev, l) && (line[l] == ' ' || line[l] == '\t' ||
						  (line[l] >= '0' && line[l] <= '9') || line[l] == 'p');
	fclose(f);
	return hit;
}

static bool has_holders(const char *disk)
{
	char path[PATH_MAX];
	DIR *d;
	struct dirent *e;
	bool any = false;

	snprintf(path, sizeof(path), "/sys/block/%s/holders", disk);
	if ((d = opendir(path))) {
		while ((e = readdir(d)))
			any |= e->d_name[0] != '.';
		closedir(d);
	}
	/* partitions: /sys/block/sdX/sdXN/holders */
	snprintf(path, sizeof(path), "/sys/block/%s", disk);
	if (!any && (d = opendir(path))) {
		while (!any && (e = readdir(d))) {
			char hp[PATH_MAX];
			DIR *h;
			struct dirent *he;

			if (strncmp(e->d_name, disk, strlen(disk)))
				continue;
			snprintf(hp, sizeof(hp), "/sys/block/%s/%s/holders", disk, e->d_name);
			if ((h = opendir(hp))) {
				while ((he = readdir(h)))
					any |= he->d_name[0] != '.';
				closedir(h);
			}
		}
		closedir(d);
	}
	return any;
}

static int normalise_addr(const char *in, char *out, size_t len)
{
	struct ostor_spec s;
	char spec[64];

	snprintf(spec, sizeof(spec), "virtio:%s", in ? in : "");
	if (ostori_spec_parse(spec, &s) < 0)
		return OSTOR_ERROR_BAD_SPEC;
	snprintf(out, len, "%04x:%02x:%02x.%x", ovirtio_spec(&s)->domain, ovirtio_spec(&s)->bus,
		 ovirtio_spec(&s)->dev, ovirtio_spec(&s)->func);
	return 0;
}

static int check_virtio_scsi(const char *sysfs, const char *addr)
{
	char path[160], buf[16] = "";
	FILE *f;
	unsigned long ven = 0, devid = 0;

	snprintf(path, sizeof(path), "%s/vendor", sysfs);
	if ((f = fopen(path, "re"))) {
		if (fgets(buf, sizeof(buf), f))
			ven = strtoul(buf, NULL, 16);
		fclose(f);
	} else {
		return ostori_error(OSTOR_ERROR_NOT_FOUND, "no PCI function %s (%s missing); lspci -D lists them",
				    addr, sysfs);
	}
	snprintf(path, sizeof(path), "%s/device", sysfs);
	if ((f = fopen(path, "re"))) {
		if (fgets(buf, sizeof(buf), f))
			devid = strtoul(buf, NULL, 16);
		fclose(f);
	}
	if (ven != VIRTIO_VENDOR || (devid != VIRTIO_SCSI_MODERN && devid != VIRTIO_SCSI_TRANSITIONAL))
		return ostori_error(OSTOR_ERROR_NOT_FOUND, "PCI function %s is %04lx:%04lx, not a virtio-scsi "
				    "controller (1af4:1048 or 1af4:1004)", addr, ven, devid);
	return 0;
}

static int run_modprobe(const char *module)
{
	char *argv[] = { (char *)"modprobe", (char *)"-q", (char *)module, NULL };
	pid_t pid;
	int st;

	if (posix_spawnp(&pid, "modprobe", NULL, NULL, argv, environ))
		return -1;
	if (waitpid(pid, &st, 0) < 0 || !WIFEXITED(st) || WEXITSTATUS(st))
		return -1;
	return 0;
}

static int rebind(const char *addr, const char *sysfs, const char *driver)
{
	char path[160];
	int r;

	snprintf(path, sizeof(path), "%s/driver_override", sysfs);
	if ((r = sysfs_write(path, driver ? driver : "\n")) < 0)
		return ostori_error(r == -EACCES || r == -EPERM ? OSTOR_ERROR_ACCESS : OSTOR_ERROR_IO,
				    "cannot write %s: %s (root needed)", path, strerror(-r));
	snprintf(path, sizeof(path), "%s/driver/unbind", sysfs);
	r = sysfs_write(path, addr);
	if (r < 0 && r != -ENOENT)
		return ostori_error(OSTOR_ERROR_IO, "cannot unbind %s from its driver: %s", addr, strerror(-r));
	if ((r = sysfs_write("/sys/bus/pci/drivers_probe", addr)) < 0)
		return ostori_error(OSTOR_ERROR_IO, "cannot probe drivers for %s: %s", addr, strerror(-r));
	return 0;
}

OSTOR_API int ostor_virtio_pci_bind(ostor_context *ctx, const char *pci_address, int force)
{
	char addr[16], sysfs[96], bound[64], disks[64][32], why[512] = "";
	int n = 0, r;
	size_t w = 0;

	if (normalise_addr(pci_address, addr, sizeof(addr)) < 0)
		return ostori_error(OSTOR_ERROR_BAD_SPEC, "bad PCI address '%s': use [DDDD:]BB:DD.F as lspci -D "
				    "prints it", pci_address ? pci_address : "");
	snprintf(sysfs, sizeof(sysfs), "/sys/bus/pci/devices/%s", addr);
	if ((r = check_virtio_scsi(sysfs, addr)) < 0)
		return r;
	binding_of_path(sysfs, bound, sizeof(bound));
	if (!strcmp(bound, "uio_pci_generic"))
		return 0;
	find_disks(sysfs, 0, disks, &n, 64);
	for (int i = 0; i < n; i++) {
		char dev[48];

		snprintf(dev, sizeof(dev), "/dev/%s", disks[i]);
		if (file_mentions("/proc/mounts", dev) && w < sizeof(why))
			w += (size_t)snprintf(why + w, sizeof(why) - w, "%s%s is mounted", w ? "; " : "", dev);
		if (file_mentions("/proc/swaps", dev) && w < sizeof(why))
			w += (size_t)snprintf(why + w, sizeof(why) - w, "%s%s is used as swap", w ? "; " : "", dev);
		if (has_holders(disks[i]) && w < sizeof(why))
			w += (size_t)snprintf(why + w, sizeof(why) - w, "%s%s is held by another block device "
					      "(RAID, LVM, dm)", w ? "; " : "", dev);
	}
	if (w && !force)
		return ostori_error(OSTOR_ERROR_BUSY, "refusing to take %s from %s: %s; unmount/swapoff/"
				    "deactivate first, or force it (data loss likely)", addr, bound, why);
	if (w)
		ostor_warn(ctx, "taking %s although %s (forced)", addr, why);
	if (access("/sys/bus/pci/drivers/uio_pci_generic", F_OK) && run_modprobe("uio_pci_generic") < 0)
		return ostori_error(OSTOR_ERROR_NOT_SUPPORTED,
				    "the uio_pci_generic kernel module is not available: install it "
				    "(linux-modules-extra on some distributions) and run 'modprobe uio_pci_generic'");
	if ((r = rebind(addr, sysfs, "uio_pci_generic")) < 0)
		return r;
	binding_of_path(sysfs, bound, sizeof(bound));
	if (strcmp(bound, "uio_pci_generic"))
		return ostori_error(OSTOR_ERROR_IO, "%s is bound to %s after the rebind, not uio_pci_generic "
				    "(see dmesg: uio_pci_generic refuses devices without INTx)", addr, bound);
	return 0;
}

OSTOR_API int ostor_virtio_pci_unbind(ostor_context *ctx, const char *pci_address)
{
	char addr[16], sysfs[96], bound[64];
	int r;

	if (normalise_addr(pci_address, addr, sizeof(addr)) < 0)
		return ostori_error(OSTOR_ERROR_BAD_SPEC, "bad PCI address '%s'", pci_address ? pci_address : "");
	snprintf(sysfs, sizeof(sysfs), "/sys/bus/pci/devices/%s", addr);
	if ((r = check_virtio_scsi(sysfs, addr)) < 0)
		return r;
	if (access("/sys/bus/pci/drivers/virtio-pci", F_OK))
		run_modprobe("virtio_pci");
	if ((r = rebind(addr, sysfs, NULL)) < 0)
		return r;
	binding_of_path(sysfs, bound, sizeof(bound));
	if (strcmp(bound, "virtio-pci"))
		return ostori_error(OSTOR_ERROR_IO, "%s is bound to %s, not virtio-pci, after giving it back",
				    addr, bound);
	return 0;
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
		binding_of_path(sysfs, bound, sizeof(bound));
		find_disks(sysfs, 0, disks, &n, 16);
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
	char path[160];
	struct stat st;
	int fd;

	if (p->bar[bar])
		return 0;
	snprintf(path, sizeof(path), "%s/resource%u", p->sysfs, bar);
	fd = open(path, O_RDWR | O_CLOEXEC | O_SYNC);
	if (fd < 0)
		return ostori_error(errno == EACCES ? OSTOR_ERROR_ACCESS : OSTOR_ERROR_IO,
				    "%s: cannot open %s: %s", p->addr, path, strerror(errno));
	if (fstat(fd, &st) < 0 || st.st_size <= 0) {
		close(fd);
		return ostori_error(OSTOR_ERROR_PROTOCOL, "%s: BAR %u has no memory resource", p->addr, bar);
	}
	p->bar_len[bar] = (size_t)st.st_size;
	p->bar[bar] = mmap(NULL, p->bar_len[bar], PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	close(fd);
	if (p->bar[bar] == MAP_FAILED) {
		p->bar[bar] = NULL;
		return ostori_error(OSTOR_ERROR_IO, "%s: cannot map BAR %u: %s", p->addr, bar, strerror(errno));
	}
	return 0;
}

/* Walk the vendor capabilities (4.1.4) and map what they point at. */
static int find_caps(struct pci_dev *p)
{
	uint8_t cfg[256];
	uint8_t pos;
	int seen = 0, guard = 0;

	if (pread(p->cfg_fd, cfg, sizeof(cfg), 0) != (ssize_t)sizeof(cfg))
		return ostori_error(OSTOR_ERROR_IO, "%s: cannot read PCI config space", p->addr);
	if (!(cfg[6] & 0x10))
		return ostori_error(OSTOR_ERROR_NOT_SUPPORTED, "%s: no PCI capability list: a legacy-only "
				    "virtio device, which this driver does not support", p->addr);
	for (pos = cfg[0x34] & 0xfc; pos && guard < 48; pos = cfg[pos + 1] & 0xfc, guard++) {
		uint8_t type, bar;
		uint32_t off, len, mult = 0;
		volatile uint8_t *base;
		int r;

		if (pos > 256 - 16)
			break;
		if (cfg[pos] != PCI_CAP_VNDR || cfg[pos + 2] < 16)
			continue;
		type = cfg[pos + 3];
		bar = cfg[pos + 4];
		memcpy(&off, cfg + pos + 8, 4);
		memcpy(&len, cfg + pos + 12, 4);
		if (type < CAP_COMMON || type > CAP_DEVICE || (seen & (1 << type)))
			continue;
		if (bar > 5)
			return ostori_error(OSTOR_ERROR_PROTOCOL, "%s: virtio capability %u names BAR %u", p->addr,
					    type, bar);
		if (type == CAP_NOTIFY) {
			if (cfg[pos + 2] < 20 || pos > 256 - 20)
				return ostori_error(OSTOR_ERROR_PROTOCOL, "%s: short notify capability", p->addr);
			memcpy(&mult, cfg + pos + 16, 4);
		}
		if ((r = map_bar(p, bar)) < 0)
			return r;
		if ((uint64_t)off + len > p->bar_len[bar] || len == 0)
			return ostori_error(OSTOR_ERROR_PROTOCOL,
					    "%s: virtio capability %u [0x%x, +0x%x) does not fit BAR %u (%zu bytes)",
					    p->addr, type, off, len, bar, p->bar_len[bar]);
		base = (volatile uint8_t *)p->bar[bar] + off;
		switch (type) {
		case CAP_COMMON:
			if (len < 56)
				return ostori_error(OSTOR_ERROR_PROTOCOL, "%s: common config of %u bytes (< 56)",
						    p->addr, len);
			p->common = base;
			p->common_len = len;
			break;
		case CAP_NOTIFY:
			p->notify = base;
			p->notify_len = len;
			p->notify_mult = mult;
			break;
		case CAP_ISR:
			p->isr = base;
			p->isr_len = len;
			break;
		case CAP_DEVICE:
			p->devcfg = base;
			p->devcfg_len = len;
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

static int open_uio(struct pci_dev *p)
{
	char path[160];
	DIR *d;
	struct dirent *e;
	int n = -1;
	uint8_t cmd[2];

	snprintf(path, sizeof(path), "%s/uio", p->sysfs);
	if ((d = opendir(path))) {
		while ((e = readdir(d)))
			if (!strncmp(e->d_name, "uio", 3))
				n = atoi(e->d_name + 3);
		closedir(d);
	}
	if (n < 0) {
		char bound[64];

		binding_of_path(p->sysfs, bound, sizeof(bound));
		return ostori_error(OSTOR_ERROR_BUSY,
				    "%s is bound to %s, not uio_pci_generic; hand it over first: "
				    "virtio-scsi-device-bind -d %s", p->addr, bound, p->addr);
	}
	snprintf(path, sizeof(path), "/dev/uio%d", n);
	p->uio_fd = open(path, O_RDWR | O_CLOEXEC | O_NONBLOCK);
	if (p->uio_fd < 0)
		return ostori_error(errno == EACCES ? OSTOR_ERROR_ACCESS : OSTOR_ERROR_IO,
				    "%s: cannot open %s: %s", p->addr, path, strerror(errno));
	/* Memory space and bus mastering on, INTx not disabled. */
	if (pread(p->cfg_fd, cmd, 2, 4) == 2) {
		cmd[0] |= 0x06;
		cmd[1] &= (uint8_t)~0x04;
		if (pwrite(p->cfg_fd, cmd, 2, 4) != 2)
			return ostori_error(OSTOR_ERROR_IO, "%s: cannot enable bus mastering", p->addr);
	}
	return 0;
}

static void pci_teardown(struct pci_dev *p)
{
	if (p->vs)
		vscsi_close(p->vs);
	p->vs = NULL;
	pool_destroy(&p->pool);
	for (int i = 0; i < 6; i++)
		if (p->bar[i])
			munmap(p->bar[i], p->bar_len[i]);
	if (p->uio_fd >= 0)
		close(p->uio_fd);
	if (p->cfg_fd >= 0)
		close(p->cfg_fd);
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
	struct virtio_ctx *v = vctx(dev->ctx);
	const char *env;
	char path[160];
	size_t pool;
	int r;

	p->cfg_fd = p->uio_fd = -1;
	snprintf(p->addr, sizeof(p->addr), "%04x:%02x:%02x.%x", ovirtio_spec(&spec)->domain, ovirtio_spec(&spec)->bus,
		 ovirtio_spec(&spec)->dev, ovirtio_spec(&spec)->func);
	snprintf(p->sysfs, sizeof(p->sysfs), "/sys/bus/pci/devices/%s", p->addr);
	if ((r = check_virtio_scsi(p->sysfs, p->addr)) < 0)
		return r;
	snprintf(path, sizeof(path), "%s/config", p->sysfs);
	p->cfg_fd = open(path, O_RDWR | O_CLOEXEC);
	if (p->cfg_fd < 0) {
		r = ostori_error(errno == EACCES ? OSTOR_ERROR_ACCESS : OSTOR_ERROR_IO,
				 "%s: cannot open %s: %s (root needed)", p->addr, path, strerror(errno));
		goto fail;
	}
	if ((r = open_uio(p)) < 0 || (r = find_caps(p)) < 0)
		goto fail;
	/* Rings, headers and bounce buffers of every queue, plus room for
	 * the application's zero-copy buffers. */
	pool = (size_t)ostori_virtio_config(cfg)->device_max_queues * (ostori_virtio_config(cfg)->queue_depth * (BOUNCE_BYTES + 4096) + (1u << 20)) +
	       (size_t)ostori_virtio_config(cfg)->shared_memory_size + (2u << 20);
	if ((r = pool_create(&p->pool, pool, p->addr)) < 0)
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
	env = getenv("ORIONSTOR_VIRTIO_INTERRUPTS");
	o.mode = env && !strcmp(env, "1") ? 2 : env && !strcmp(env, "0") ? 1 : 0;
	o.queues = 0;
	env = getenv("ORIONSTOR_VIRTIO_QUEUES");
	if (env && atoi(env) > 0)
		o.queues = (unsigned int)atoi(env);
	o.bounce_bytes = BOUNCE_BYTES;
	if ((r = vscsi_open(dev, &p->vd, &o, &p->vs)) < 0)
		goto fail;
	snprintf(dev->description, sizeof(dev->description), "virtio-scsi %s (%s rings)", p->addr,
		 virtio_has(&p->vd, VIRTIO_F_RING_PACKED) ? "packed" : "split");
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
		int fd = vscsi_fd(p->vs);

		if (fd < 0)
			continue;
		if (fds && n < max)
			fds[n] = (struct pollfd){ .fd = fd, .events = POLLIN };
		n++;
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
