/*
 * lib/virtio/dma_pool.c - DMA memory of the virtio-pci transport: one
 * hugepage pool per device.  Device addresses are physical (UIO, VFIO
 * without IOMMU: from /proc/self/pagemap, root only; 2 MiB pages are
 * physically contiguous, so allocations never straddle one unless they
 * are larger) or IOVAs (VFIO type-1: the whole pool is mapped at one IOVA
 * range we choose, contiguous).  Buffers outside the pool are bounced by
 * the caller, never handed to the device.
 */
#include "virtio/pci.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#define HUGE_2M PCI_HUGE_2M

int pci_pool_create(struct dma_pool *p, size_t size, const char *name, bool locked)
{
	size_t pages;

	memset(p, 0, sizeof(*p));
	size = (size + HUGE_2M - 1) & ~(size_t)(HUGE_2M - 1);
	pages = size / HUGE_2M;
	p->base = mmap(NULL, size, PROT_READ | PROT_WRITE,
		       MAP_SHARED | MAP_ANONYMOUS | MAP_HUGETLB | MAP_POPULATE | (locked ? MAP_LOCKED : 0),
		       -1, 0);
	if (p->base == MAP_FAILED) {
		int e = errno;

		p->base = NULL;
		if (e == EAGAIN && locked)
			return ostori_error(OSTOR_ERROR_NO_MEM,
					    "%s: cannot lock %zu MiB of DMA memory: the locked-memory limit "
					    "is too low; raise it (ulimit -l %zu, or memlock in "
					    "/etc/security/limits.conf)", name, size >> 20, (size >> 10) + 65536);
		return ostori_error(OSTOR_ERROR_NO_MEM,
				    "%s: cannot get %zu MiB of hugepage DMA memory (%zu pages of 2 MiB): %s; "
				    "reserve them first, e.g. 'echo %zu > /proc/sys/vm/nr_hugepages' as root "
				    "(see HugePages_Free in /proc/meminfo)", name, size >> 20, pages, strerror(e),
				    pages + 8);
	}
	p->size = size;
	p->capblk = 64;
	p->blk = calloc(p->capblk, sizeof(*p->blk));
	if (!p->blk)
		return ostori_error(OSTOR_ERROR_NO_MEM, "out of memory");
	p->blk[0] = (struct dma_block){ 0, size, false };
	p->nblk = 1;
	pthread_mutex_init(&p->lock, NULL);
	return 0;
}

int pci_pool_resolve_phys(struct dma_pool *p, const char *name)
{
	size_t pages = p->size / HUGE_2M;
	int fd;

	p->phys = calloc(pages, sizeof(*p->phys));
	if (!p->phys)
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
					    "without an IOMMU the userspace virtio driver must run as root "
					    "(CAP_SYS_ADMIN); with one, bind the function to vfio-pci", name);
		}
		p->phys[i] = (ent & ((1ull << 55) - 1)) * 4096;
	}
	close(fd);
	return 0;
}

void pci_pool_destroy(struct dma_pool *p)
{
	if (p->base) {
		munmap(p->base, p->size);
		pthread_mutex_destroy(&p->lock);
	}
	free(p->phys);
	free(p->blk);
	memset(p, 0, sizeof(*p));
}

uint64_t pci_pool_addr(const struct dma_pool *p, size_t off, size_t len, size_t *contig)
{
	uint64_t addr;
	size_t run;

	if (!p->phys) {
		*contig = OSTOR_MIN(len, p->size - off);
		return p->iova + off;
	}
	addr = p->phys[off / HUGE_2M] + off % HUGE_2M;
	run = HUGE_2M - off % HUGE_2M;
	/* Neighbouring hugepages may happen to be physically adjacent. */
	while (run < len && (off + run) / HUGE_2M < p->size / HUGE_2M &&
	       p->phys[(off + run) / HUGE_2M] == addr + run)
		run += HUGE_2M;
	if (run > p->size - off)
		run = p->size - off;
	*contig = OSTOR_MIN(run, len);
	return addr;
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
void *pci_pool_alloc(struct dma_pool *p, size_t len)
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

void pci_pool_free(struct dma_pool *p, void *ptr)
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
