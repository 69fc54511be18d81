/*
 * lib/virtio/sim_device.c - a simulated virtio-scsi device for
 * sim:transport=virtio[,packed][,queues=N]: the device side of split and
 * packed rings served from (identity-mapped) shared memory by its own
 * thread, in front of struct sim_target, behind the same transport ops
 * table as virtio-pci.  The driver is the real one (lib/virtio).
 *
 * The device side validates what the driver posts too (descriptor
 * indexes, chain lengths, indirect tables) and counts violations, so the
 * tests also catch driver bugs.  Faults (sim_device.h) make it misbehave
 * on purpose.
 */
#include "sim/transport.h"
#include "sim/target.h"
#include "virtio/sim_device.h"
#include "virtio/scsi.h"
#include "util/byteorder.h"

#include <errno.h>
#include <stdatomic.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#define SIM_VIRTIO_MAGIC 0x76697274u /* "virt" */
#define SIM_VQ_MAX (2 + 16)
#define SIM_MAX_IOV 136
#define SIM_MAX_FAULTS 32
#define SIM_MAX_HELD 128
#define SIM_MAX_EVENTS 64
#define SIM_SENSE_SIZE 96
#define SIM_CDB_SIZE 32
#define SIM_SCRIPT_BUF 8192

#define VIRTIO_OPTIONS "packed, queues=N, queue-size=N, intr, msix, no-indirect, no-event-idx, " \
	"ring-reset, iommu, timeout=MS, busy-backoff=MS, fault=features-ok|config-generation|early-irq"

struct sim_vq {
	bool enabled, packed, event_idx;
	uint32_t size;
	struct vring_desc *desc;
	struct vring_avail *avail;
	struct vring_used *used;
	struct vring_packed_desc *pdesc;
	struct vring_packed_event *drv_ev, *dev_ev;
	uint16_t last_avail, used_idx;       /* split */
	uint16_t avail_pos, used_pos;        /* packed */
	bool avail_wrap, used_wrap;
	uint16_t signalled_used;             /* split: used idx at the last interrupt check */
	uint16_t sig_pos;
	bool sig_wrap;
	bool deaf;                           /* a notification was lost: ignore the ring until the next */
	bool astray;                         /* a fault moved the used position: no longer the driver's */
};

/* A request the device took from a ring. */
struct sim_elem {
	unsigned int q;
	uint16_t id, ndesc;
	struct iovec out[SIM_MAX_IOV], in[SIM_MAX_IOV];
	int nout, nin;
	size_t out_len, in_len;
};

struct sim_held {
	bool used;
	struct sim_elem e;
	uint64_t tag;
	uint32_t target, lun;
	uint32_t mode;
};

struct sim_fault {
	enum sim_virtio_fault kind;
	unsigned int count;
	uint32_t param;
};

struct sim_event {
	uint32_t event, target, lun, reason;
};

struct sim_vdev {
	uint32_t magic;
	struct virtio_dev vd;
	struct vscsi_dev *vs;
	struct sim_target *target;
	ostor_device *dev;

	pthread_mutex_t lock;
	pthread_cond_t cond;
	pthread_t thread;
	bool thread_started, stop, kicked;
	bool idle;                    /* the device thread waits for a notification */
	bool in_target;               /* a command runs in the target, unlocked: it reads or writes
				       * the driver's buffers (a reset waits for it) */
	pthread_cond_t target_cond;   /* in_target cleared */
	pthread_cond_t idle_cond;

	/* registers */
	uint8_t status;
	uint8_t status_or;            /* every status bit the driver ever set */
	uint8_t generation;
	uint64_t offered, acked;
	struct virtio_scsi_config cfg;  /* little-endian fields, as on the wire */
	uint32_t qmax;
	unsigned int nvq;
	struct sim_vq vq[SIM_VQ_MAX];
	int irq_fd;
	/* msix option: each request queue interrupts on its own eventfd, as
	 * MSI-X vectors through VFIO do. */
	bool msix;
	int qirq_fd[SIM_VQ_MAX];
	atomic_uchar isr;
	bool fault_features_ok, fault_generation, fault_early_irq;

	struct sim_fault faults[SIM_MAX_FAULTS];
	unsigned int nfaults;
	struct sim_held held[SIM_MAX_HELD];
	unsigned int nheld;
	bool stalled;                 /* DEVICE_NEEDS_RESET */

	/* event queue: buffers the driver gave us, events waiting */
	struct sim_elem *evbuf;
	unsigned int nevbuf;
	struct sim_event events[SIM_MAX_EVENTS];
	unsigned int nevents;
	bool missed;
	uint32_t hidden[64];          /* removed LUNs (REMOVED events) */
	unsigned int nhidden;

	uint64_t epoch;               /* bumps on every reset: stale work is dropped */
	sim_virtio_script_fn script;  /* sim_virtio_set_script: answers come from it */
	void *script_arg;
	uint8_t script_buf[SIM_SCRIPT_BUF];
	struct sim_virtio_stats st;

	/* iommu option: the device reaches only memory from dma_alloc, at
	 * addresses that are not the driver's pointers. */
	bool iommu;
	pthread_mutex_t dma_lock;
	struct sim_dma_region {
		uint8_t *va;
		uint64_t iova;
		size_t size;
	} *regions;
	size_t nregions, regions_cap;
	uint64_t next_iova;
};

/* ---- memory: identity "DMA", or a window (iommu) ---------------------------------- */

static struct sim_vdev *M(struct virtio_dev *vd);

#define SIM_IOVA_BASE 0x5000000000000ull  /* never a user-space pointer */

static void *m_dma_alloc(struct virtio_dev *vd, size_t size, uint64_t *iova)
{
	struct sim_vdev *m = M(vd);
	size_t sz = (size + 4095) & ~(size_t)4095;
	void *p = aligned_alloc(4096, sz ? sz : 4096);

	if (!p) {
		ostori_error(OSTOR_ERROR_NO_MEM, "out of memory");
		return NULL;
	}
	memset(p, 0, sz);
	*iova = (uint64_t)(uintptr_t)p;
	if (!m->iommu)
		return p;
	pthread_mutex_lock(&m->dma_lock);
	if (m->nregions == m->regions_cap) {
		size_t cap = m->regions_cap ? m->regions_cap * 2 : 16;
		struct sim_dma_region *n = realloc(m->regions, cap * sizeof(*n));

		if (!n) {
			pthread_mutex_unlock(&m->dma_lock);
			free(p);
			ostori_error(OSTOR_ERROR_NO_MEM, "out of memory");
			return NULL;
		}
		m->regions = n;
		m->regions_cap = cap;
	}
	if (!m->next_iova)
		m->next_iova = SIM_IOVA_BASE;
	*iova = m->next_iova;
	m->regions[m->nregions++] = (struct sim_dma_region){ p, *iova, sz ? sz : 4096 };
	m->next_iova += (sz ? sz : 4096) + 4096; /* a hole between windows */
	pthread_mutex_unlock(&m->dma_lock);
	return p;
}

static void m_dma_free(struct virtio_dev *vd, void *p, size_t size)
{
	struct sim_vdev *m = M(vd);

	if (m->iommu) {
		pthread_mutex_lock(&m->dma_lock);
		for (size_t i = 0; i < m->nregions; i++)
			if (m->regions[i].va == p)
				m->regions[i] = m->regions[--m->nregions];
		pthread_mutex_unlock(&m->dma_lock);
	}
	free(p);
}

static int m_translate(struct virtio_dev *vd, const void *p, size_t len, uint64_t *iova, size_t *contig)
{
	struct sim_vdev *m = M(vd);
	const uint8_t *b = p;
	int r = -1;

	if (!m->iommu) {
		*iova = (uint64_t)(uintptr_t)p;
		*contig = len;
		return 0;
	}
	pthread_mutex_lock(&m->dma_lock);
	for (size_t i = 0; i < m->nregions; i++) {
		const struct sim_dma_region *g = &m->regions[i];

		if (b >= g->va && b < g->va + g->size) {
			*iova = g->iova + (uint64_t)(b - g->va);
			*contig = OSTOR_MIN(len, (size_t)(g->va + g->size - b));
			r = 0;
			break;
		}
	}
	pthread_mutex_unlock(&m->dma_lock);
	return r; /* outside every window: the driver bounces */
}

/* The device's view: the memory at iova for len bytes, NULL when any of
 * it is outside the windows (a driver bug the device refuses). */
static void *ptr_len(struct sim_vdev *m, uint64_t iova, size_t len)
{
	void *r = NULL;

	if (!m->iommu)
		return (void *)(uintptr_t)iova;
	pthread_mutex_lock(&m->dma_lock);
	for (size_t i = 0; i < m->nregions; i++) {
		const struct sim_dma_region *g = &m->regions[i];

		if (iova >= g->iova && iova - g->iova <= g->size && len <= g->size - (iova - g->iova)) {
			r = g->va + (iova - g->iova);
			break;
		}
	}
	pthread_mutex_unlock(&m->dma_lock);
	return r;
}

static struct sim_vdev *M(struct virtio_dev *vd)
{
	return vd->transport;
}

/* ---- registers ------------------------------------------------------------------------ */

static int m_read_config(struct virtio_dev *vd, size_t off, void *buf, size_t len)
{
	struct sim_vdev *m = M(vd);

	if (off > sizeof(m->cfg) || len > sizeof(m->cfg) - off)
		return ostori_error(OSTOR_ERROR_INVALID_PARAM, "config read past the end");
	pthread_mutex_lock(&m->lock);
	memcpy(buf, (uint8_t *)&m->cfg + off, len);
	pthread_mutex_unlock(&m->lock);
	return 0;
}

static int m_write_config(struct virtio_dev *vd, size_t off, const void *buf, size_t len)
{
	return ostori_error(OSTOR_ERROR_NOT_SUPPORTED, "config writes are not modelled");
}

static uint8_t m_generation(struct virtio_dev *vd)
{
	struct sim_vdev *m = M(vd);
	uint8_t g;

	pthread_mutex_lock(&m->lock);
	if (m->fault_generation)
		m->generation++;
	g = m->generation;
	pthread_mutex_unlock(&m->lock);
	return g;
}

static uint8_t m_get_status(struct virtio_dev *vd)
{
	struct sim_vdev *m = M(vd);
	uint8_t s;

	pthread_mutex_lock(&m->lock);
	s = m->status;
	pthread_mutex_unlock(&m->lock);
	return s;
}

static void raise_irq(struct sim_vdev *m, uint8_t bits, unsigned int count)
{
	uint64_t v = count;
	ssize_t n;

	atomic_fetch_or(&m->isr, bits);
	m->st.interrupts += count;
	n = write(m->irq_fd, &v, sizeof(v));
	(void)n;
}

/* A reset is done when the device no longer touches the driver's memory
 * (as the status 0 the driver reads back promises): a command running in
 * the target, whose buffers the driver takes back now, ends first. */
static void wait_target_locked(struct sim_vdev *m)
{
	while (m->in_target)
		pthread_cond_wait(&m->target_cond, &m->lock);
}

static void device_reset_locked(struct sim_vdev *m)
{
	wait_target_locked(m);
	m->status = 0;
	m->acked = 0;
	m->stalled = false;
	m->nheld = 0;
	for (unsigned int i = 0; i < SIM_MAX_HELD; i++)
		m->held[i].used = false;
	m->nevbuf = 0;
	memset(m->vq, 0, sizeof(m->vq));
	atomic_store(&m->isr, 0);
	m->epoch++;
	m->st.resets++;
}

static void m_set_status(struct virtio_dev *vd, uint8_t s)
{
	struct sim_vdev *m = M(vd);

	pthread_mutex_lock(&m->lock);
	if (s == 0) {
		device_reset_locked(m);
	} else {
		if ((s & VIRTIO_STATUS_FEATURES_OK) && !(m->status & VIRTIO_STATUS_FEATURES_OK)) {
			/* FEATURES_OK only for a subset of what was offered. */
			if (m->fault_features_ok || (m->acked & ~m->offered))
				s &= (uint8_t)~VIRTIO_STATUS_FEATURES_OK;
		}
		if ((s & VIRTIO_STATUS_DRIVER) && m->fault_early_irq)
			raise_irq(m, 1, 50);
		m->status = (uint8_t)(s | (m->status & VIRTIO_STATUS_DEVICE_NEEDS_RESET));
		m->status_or |= s;
	}
	pthread_cond_broadcast(&m->cond);
	pthread_mutex_unlock(&m->lock);
}

static uint64_t m_get_features(struct virtio_dev *vd)
{
	return M(vd)->offered;
}

static void m_set_features(struct virtio_dev *vd, uint64_t f)
{
	struct sim_vdev *m = M(vd);

	pthread_mutex_lock(&m->lock);
	m->acked = f;
	pthread_mutex_unlock(&m->lock);
}

static uint32_t m_queue_max(struct virtio_dev *vd, uint16_t index)
{
	struct sim_vdev *m = M(vd);

	return index < m->nvq ? m->qmax : 0;
}

static int m_setup_queue(struct virtio_dev *vd, struct virtqueue *q)
{
	struct sim_vdev *m = M(vd);
	struct sim_vq *v;

	if (q->index >= m->nvq)
		return ostori_error(OSTOR_ERROR_INVALID_PARAM, "no queue %u", q->index);
	pthread_mutex_lock(&m->lock);
	v = &m->vq[q->index];
	memset(v, 0, sizeof(*v));
	v->size = q->size;
	v->packed = (m->acked >> VIRTIO_F_RING_PACKED) & 1;
	v->event_idx = (m->acked >> VIRTIO_F_EVENT_IDX) & 1;
	if (v->packed) {
		v->pdesc = ptr_len(m, q->desc_iova, (size_t)q->size * 16);
		v->drv_ev = ptr_len(m, q->driver_iova, 4);
		v->dev_ev = ptr_len(m, q->device_iova, 4);
		v->avail_wrap = v->used_wrap = v->sig_wrap = true;
		if (!v->pdesc || !v->drv_ev || !v->dev_ev)
			goto bad;
	} else {
		v->desc = ptr_len(m, q->desc_iova, (size_t)q->size * 16);
		v->avail = ptr_len(m, q->driver_iova, 6 + (size_t)q->size * 2);
		v->used = ptr_len(m, q->device_iova, 6 + (size_t)q->size * 8);
		if (!v->desc || !v->avail || !v->used)
			goto bad;
	}
	v->enabled = true;
	pthread_mutex_unlock(&m->lock);
	return 0;
bad:
	memset(v, 0, sizeof(*v));
	pthread_mutex_unlock(&m->lock);
	return ostori_error(OSTOR_ERROR_PROTOCOL, "sim virtio: queue %u rings are outside the DMA windows",
			    q->index);
}

static void m_del_queue(struct virtio_dev *vd, struct virtqueue *q)
{
	struct sim_vdev *m = M(vd);

	pthread_mutex_lock(&m->lock);
	if (q->index < m->nvq)
		m->vq[q->index].enabled = false;
	pthread_mutex_unlock(&m->lock);
}

static int m_reset_queue(struct virtio_dev *vd, struct virtqueue *q)
{
	struct sim_vdev *m = M(vd);

	pthread_mutex_lock(&m->lock);
	wait_target_locked(m);
	if (q->index < m->nvq) {
		m->epoch++;
		memset(&m->vq[q->index], 0, sizeof(m->vq[q->index]));
		for (unsigned int i = 0; i < SIM_MAX_HELD; i++)
			if (m->held[i].used && m->held[i].e.q == q->index) {
				m->held[i].used = false;
				m->nheld--;
			}
	}
	pthread_mutex_unlock(&m->lock);
	return 0;
}

static bool take_fault(struct sim_vdev *m, enum sim_virtio_fault kind, uint32_t *param);

static void m_notify(struct virtio_dev *vd, struct virtqueue *q)
{
	struct sim_vdev *m = M(vd);

	pthread_mutex_lock(&m->lock);
	m->st.notifies++;
	if (q->index >= 2 && q->index < SIM_VQ_MAX && take_fault(m, SIM_VF_LOST_NOTIFY, NULL)) {
		/* Still deaf (since the fault was injected): as if our last
		 * look at the ring had crossed the driver's publish. */
		m->vq[q->index].deaf = true;
		m->st.lost_notifies++;
		pthread_mutex_unlock(&m->lock);
		return;
	}
	if (q->index < SIM_VQ_MAX)
		m->vq[q->index].deaf = false;
	m->kicked = true;
	pthread_cond_signal(&m->cond);
	pthread_mutex_unlock(&m->lock);
}

static int m_intr_fd(struct virtio_dev *vd)
{
	return M(vd)->irq_fd;
}

static int m_intr_enable(struct virtio_dev *vd)
{
	return 0;
}

static uint8_t m_intr_ack(struct virtio_dev *vd)
{
	struct sim_vdev *m = M(vd);
	uint64_t v;
	ssize_t n = read(m->irq_fd, &v, sizeof(v)); /* one read drains any storm */

	(void)n;
	return atomic_exchange(&m->isr, 0);
}

static int m_queue_intr_fd(struct virtio_dev *vd, struct virtqueue *q)
{
	struct sim_vdev *m = M(vd);

	return m->msix && q->index >= 2 && q->index < SIM_VQ_MAX ? m->qirq_fd[q->index] : -1;
}

static bool m_queue_intr_ack(struct virtio_dev *vd, struct virtqueue *q)
{
	int fd = m_queue_intr_fd(vd, q);
	uint64_t v;

	return fd >= 0 && read(fd, &v, sizeof(v)) == (ssize_t)sizeof(v);
}

static const struct virtio_dev_ops sim_ops = {
	.name = "sim",
	.read_config = m_read_config,
	.write_config = m_write_config,
	.config_generation = m_generation,
	.get_status = m_get_status,
	.set_status = m_set_status,
	.get_features = m_get_features,
	.set_features = m_set_features,
	.queue_max_size = m_queue_max,
	.setup_queue = m_setup_queue,
	.del_queue = m_del_queue,
	.reset_queue = m_reset_queue,
	.notify = m_notify,
	.intr_fd = m_intr_fd,
	.intr_enable = m_intr_enable,
	.intr_ack = m_intr_ack,
	.queue_intr_fd = m_queue_intr_fd,
	.queue_intr_ack = m_queue_intr_ack,
	.dma_alloc = m_dma_alloc,
	.dma_free = m_dma_free,
	.translate = m_translate,
};

/* ---- faults ------------------------------------------------------------------------------ */

static bool take_fault(struct sim_vdev *m, enum sim_virtio_fault kind, uint32_t *param)
{
	for (unsigned int i = 0; i < m->nfaults; i++) {
		struct sim_fault *f = &m->faults[i];

		if (f->kind != kind || !f->count)
			continue;
		if (f->count != SIM_FAULT_FOREVER)
			f->count--;
		if (param)
			*param = f->param;
		return true;
	}
	return false;
}

void sim_virtio_inject(struct sim_vdev *m, enum sim_virtio_fault f, unsigned int count, uint32_t param)
{
	unsigned int i;

	pthread_mutex_lock(&m->lock);
	/* A spent slot is taken again (else the table fills for good). */
	for (i = 0; i < m->nfaults && m->faults[i].count; i++)
		;
	if (i < SIM_MAX_FAULTS) {
		m->faults[i] = (struct sim_fault){ f, count, param };
		if (i == m->nfaults)
			m->nfaults++;
	}
	/* From now on the request rings are ignored until a notification
	 * that is not lost: deterministic whatever else wakes the device. */
	for (unsigned int q = 2; f == SIM_VF_LOST_NOTIFY && q < m->nvq; q++)
		m->vq[q].deaf = true;
	pthread_mutex_unlock(&m->lock);
}

unsigned int sim_virtio_faults_pending(struct sim_vdev *m)
{
	unsigned int n = 0;

	pthread_mutex_lock(&m->lock);
	for (unsigned int i = 0; i < m->nfaults; i++)
		n += m->faults[i].count != 0;
	pthread_mutex_unlock(&m->lock);
	return n;
}

void sim_virtio_clear_faults(struct sim_vdev *m)
{
	pthread_mutex_lock(&m->lock);
	m->nfaults = 0;
	pthread_mutex_unlock(&m->lock);
}

/* ---- ring access, device side ---------------------------------------------------------------- */

/* A split descriptor (or an entry of an indirect table) as read from
 * the ring, in the CPU's byte order: ring fields are little-endian. */
static struct vring_desc desc_to_cpu(struct vring_desc d)
{
	d.addr = vq_le64(d.addr);
	d.len = vq_le32(d.len);
	d.flags = vq_le16(d.flags);
	d.next = vq_le16(d.next);
	return d;
}

/* The same for a packed descriptor. */
static struct vring_packed_desc pdesc_to_cpu(struct vring_packed_desc d)
{
	d.addr = vq_le64(d.addr);
	d.len = vq_le32(d.len);
	d.id = vq_le16(d.id);
	d.flags = vq_le16(d.flags);
	return d;
}

static bool add_iov(struct sim_vdev *m, struct sim_elem *e, uint64_t addr, uint32_t len, bool write)
{
	void *p = ptr_len(m, addr, len);

	if (!p)
		return false; /* outside the DMA windows */
	if (write) {
		if (e->nin == SIM_MAX_IOV)
			return false;
		e->in[e->nin++] = (struct iovec){ p, len };
		e->in_len += len;
	} else {
		if (e->nout == SIM_MAX_IOV || e->nin)
			return false; /* readable after writable is a driver bug */
		e->out[e->nout++] = (struct iovec){ p, len };
		e->out_len += len;
	}
	return true;
}

static bool walk_indirect(struct sim_vdev *m, struct sim_elem *e, uint64_t addr, uint32_t len, bool packed)
{
	const struct vring_desc *t = ptr_len(m, addr, len);
	uint32_t n = len / 16;

	if (!t || len % 16 || n == 0 || n > SIM_MAX_IOV)
		return false;
	for (uint32_t i = 0, k = 0; k < n; k++) {
		struct vring_desc d;

		if (packed) {
			/* struct pvirtq_desc: flags where split has next */
			struct vring_packed_desc pd = pdesc_to_cpu(((const struct vring_packed_desc *)(const void *)t)[i]);

			d = (struct vring_desc){ .addr = pd.addr, .len = pd.len, .flags = pd.flags };
		} else {
			d = desc_to_cpu(t[i]);
		}
		if (d.flags & VIRTQ_DESC_F_INDIRECT)
			return false;
		if (!add_iov(m, e, d.addr, d.len, d.flags & VIRTQ_DESC_F_WRITE))
			return false;
		if (packed) {
			i++;
		} else {
			if (!(d.flags & VIRTQ_DESC_F_NEXT))
				return k + 1 == n;
			if (d.next >= n)
				return false;
			i = d.next;
		}
	}
	return packed;
}

/* Take the next available element of queue q (split). 1 got, 0 none, -1 bad. */
static int pop_split(struct sim_vdev *m, struct sim_vq *v, struct sim_elem *e)
{
	uint16_t idx = vq_load16(&v->avail->idx), head, i;

	if (idx == v->last_avail)
		return 0;
	head = vq_le16(v->avail->ring[v->last_avail & (v->size - 1)]);
	v->last_avail++;
	if (head >= v->size)
		return -1;
	e->id = head;
	e->ndesc = 0;
	i = head;
	for (uint32_t k = 0; k < v->size; k++) {
		struct vring_desc d = desc_to_cpu(v->desc[i]);

		e->ndesc++;
		if (d.flags & VIRTQ_DESC_F_INDIRECT) {
			if (k || (d.flags & VIRTQ_DESC_F_NEXT))
				return -1;
			return walk_indirect(m, e, d.addr, d.len, false) ? 1 : -1;
		}
		if (!add_iov(m, e, d.addr, d.len, d.flags & VIRTQ_DESC_F_WRITE))
			return -1;
		if (!(d.flags & VIRTQ_DESC_F_NEXT))
			return 1;
		if (d.next >= v->size)
			return -1;
		i = d.next;
	}
	return -1; /* a loop */
}

static int pop_packed(struct sim_vdev *m, struct sim_vq *v, struct sim_elem *e)
{
	uint16_t fl = vq_load16(&v->pdesc[v->avail_pos].flags);
	bool a = fl & VIRTQ_DESC_F_AVAIL, u = fl & VIRTQ_DESC_F_USED;

	if (a == u || a != v->avail_wrap)
		return 0;
	e->ndesc = 0;
	for (uint32_t k = 0; k < v->size; k++) {
		struct vring_packed_desc d = pdesc_to_cpu(v->pdesc[v->avail_pos]);

		/* Past the first, the flags with the ordering the first had. */
		if (k)
			d.flags = vq_load16(&v->pdesc[v->avail_pos].flags);
		e->ndesc++;
		if (++v->avail_pos == v->size) {
			v->avail_pos = 0;
			v->avail_wrap = !v->avail_wrap;
		}
		if (d.flags & VIRTQ_DESC_F_INDIRECT) {
			e->id = d.id;
			if (k || (d.flags & VIRTQ_DESC_F_NEXT))
				return -1;
			return walk_indirect(m, e, d.addr, d.len, true) ? 1 : -1;
		}
		if (!add_iov(m, e, d.addr, d.len, d.flags & VIRTQ_DESC_F_WRITE))
			return -1;
		if (!(d.flags & VIRTQ_DESC_F_NEXT)) {
			e->id = d.id;
			return 1;
		}
	}
	return -1;
}

static void maybe_irq(struct sim_vdev *m, struct sim_vq *v)
{
	bool need;

	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	if (v->packed) {
		uint16_t flags = vq_load16(&v->drv_ev->flags);

		if (flags == VIRTQ_EVENT_F_DESC) {
			uint16_t ow = vq_load16(&v->drv_ev->off_wrap);
			int32_t ev = ow & 0x7fff;

			if ((bool)(ow >> 15) != v->used_wrap)
				ev -= (int32_t)v->size;
			need = vring_need_event((uint16_t)ev, v->used_pos, v->sig_pos);
		} else {
			need = flags == VIRTQ_EVENT_F_ENABLE;
		}
		v->sig_pos = v->used_pos;
	} else if (v->event_idx) {
		uint16_t ev = vq_load16(&v->avail->ring[v->size]);

		need = vring_need_event(ev, v->used_idx, v->signalled_used);
		v->signalled_used = v->used_idx;
	} else {
		need = !(vq_load16(&v->avail->flags) & VIRTQ_AVAIL_F_NO_INTERRUPT);
	}
	if (need) {
		size_t qi = (size_t)(v - m->vq);

		if (m->msix && qi >= 2 && qi < SIM_VQ_MAX) {
			uint64_t one = 1;
			ssize_t n = write(m->qirq_fd[qi], &one, sizeof(one));

			(void)n;
			m->st.interrupts++;
		} else {
			raise_irq(m, 1, 1);
		}
	}
}

/* One used element at the device's position. */
static void write_used(struct sim_vq *v, const struct sim_elem *e, uint32_t id, uint32_t len, bool badwrap)
{
	if (v->packed) {
		struct vring_packed_desc *d = &v->pdesc[v->used_pos];
		bool w = badwrap ? !v->used_wrap : v->used_wrap;
		uint16_t fl = (uint16_t)(w ? (VIRTQ_DESC_F_AVAIL | VIRTQ_DESC_F_USED) : 0);

		if (badwrap)
			fl = (uint16_t)(v->used_wrap ? VIRTQ_DESC_F_USED : VIRTQ_DESC_F_AVAIL);
		d->id = vq_le16((uint16_t)id);
		d->len = vq_le32(len);
		vq_store16(&d->flags, fl);
		v->used_pos = (uint16_t)(v->used_pos + e->ndesc);
		if (v->used_pos >= v->size) {
			v->used_pos = (uint16_t)(v->used_pos - v->size);
			v->used_wrap = !v->used_wrap;
		}
	} else {
		struct vring_used_elem *u = &v->used->ring[v->used_idx & (v->size - 1)];

		u->id = vq_le32(id);
		u->len = vq_le32(len);
		v->used_idx++;
		vq_store16(&v->used->idx, v->used_idx);
	}
}

/* SIM_VF_USED_ID_TWICE: the same element again, into ring memory the
 * device no longer owns - a race with the driver by design, which
 * tests/tsan.supp names (hostile_*) so that ThreadSanitizer runs keep
 * reporting every other race. */
static void __attribute__((noinline)) hostile_write_used_again(struct sim_vq *v, const struct sim_elem *e,
							       uint32_t id, uint32_t len, bool badwrap)
{
	write_used(v, e, id, len, badwrap);
}

/* Once SIM_VF_USED_IDX_BACK or SIM_VF_USED_ID_TWICE moved the device's
 * used position off the driver's, every used element it writes lands on
 * ring memory the driver owns (entries it read already, descriptors it
 * posted again): a race by design as well (tests/tsan.supp), until a
 * reset. */
static void __attribute__((noinline)) hostile_write_used_astray(struct sim_vq *v, const struct sim_elem *e,
								uint32_t id, uint32_t len, bool badwrap)
{
	write_used(v, e, id, len, badwrap);
}

/* Return an element: the used ring entry, with ring faults applied. */
static void push_used(struct sim_vdev *m, const struct sim_elem *e, uint32_t len, bool is_request)
{
	struct sim_vq *v = &m->vq[e->q];
	uint32_t id = e->id, p = 0;
	bool twice = false, back = false, jump = false, badwrap = false;
	uint32_t back_by = 0, jump_by = 0;

	if (!v->enabled)
		return;
	if (is_request) {
		if (take_fault(m, SIM_VF_USED_ID_RANGE, &p))
			id = v->size + p;
		if (take_fault(m, SIM_VF_USED_LEN_BIG, &p))
			len = (uint32_t)e->in_len + p;
		twice = take_fault(m, SIM_VF_USED_ID_TWICE, NULL);
		back = take_fault(m, SIM_VF_USED_IDX_BACK, &back_by);
		jump = take_fault(m, SIM_VF_USED_IDX_JUMP, &jump_by);
		badwrap = take_fault(m, SIM_VF_PACKED_BAD_WRAP, NULL);
	}
	if (v->astray)
		hostile_write_used_astray(v, e, id, len, badwrap);
	else
		write_used(v, e, id, len, badwrap);
	if (twice) {
		hostile_write_used_again(v, e, id, len, badwrap);
		v->astray = true;
	}
	if (!v->packed && back) {
		v->astray = true;
		v->used_idx = (uint16_t)(v->used_idx - (back_by ? back_by : 2));
		vq_store16(&v->used->idx, v->used_idx);
	}
	if (!v->packed && jump) {
		v->used_idx = (uint16_t)(v->used_idx + v->size + jump_by);
		vq_store16(&v->used->idx, v->used_idx);
	}
	if (is_request && take_fault(m, SIM_VF_IRQ_STORM, &p))
		raise_irq(m, 1, p ? p : 1000);
	maybe_irq(m, v);
}

/* ---- virtio-scsi, device side ------------------------------------------------------------ */

static size_t gather(const struct iovec *iov, int n, size_t skip, void *dst, size_t len)
{
	size_t done = 0;

	for (int i = 0; i < n && done < len; i++) {
		size_t l = iov[i].iov_len;

		if (skip >= l) {
			skip -= l;
			continue;
		}
		l -= skip;
		if (l > len - done)
			l = len - done;
		memcpy((uint8_t *)dst + done, (uint8_t *)iov[i].iov_base + skip, l);
		done += l;
		skip = 0;
	}
	return done;
}

static size_t scatter(const struct iovec *iov, int n, const void *src, size_t len)
{
	size_t done = 0;

	for (int i = 0; i < n && done < len; i++) {
		size_t l = OSTOR_MIN(iov[i].iov_len, len - done);

		memcpy(iov[i].iov_base, (const uint8_t *)src + done, l);
		done += l;
	}
	return done;
}

/* iov minus its first skip bytes, into out (at most max entries). */
static int sub_iov(const struct iovec *iov, int n, size_t skip, struct iovec *out, int max)
{
	int k = 0;

	for (int i = 0; i < n && k < max; i++) {
		if (skip >= iov[i].iov_len) {
			skip -= iov[i].iov_len;
			continue;
		}
		out[k].iov_base = (uint8_t *)iov[i].iov_base + skip;
		out[k].iov_len = iov[i].iov_len - skip;
		skip = 0;
		k++;
	}
	return k;
}

static void respond(struct sim_vdev *m, struct sim_elem *e, uint8_t response, uint8_t status,
		    const uint8_t *sense, uint32_t sense_len, uint32_t resid, size_t data_in)
{
	uint8_t r[VIRTIO_SCSI_RESP_HDR + SIM_SENSE_SIZE];
	uint32_t p, slen = OSTOR_MIN(sense_len, (uint32_t)SIM_SENSE_SIZE);

	memset(r, 0, sizeof(r));
	if (take_fault(m, SIM_VF_SENSE_LEN, &p))
		sense_len = p;
	if (take_fault(m, SIM_VF_RESID, &p))
		resid = (uint32_t)(e->in_len + e->out_len + p);
	if (take_fault(m, SIM_VF_RESPONSE, &p))
		response = (uint8_t)p;
	ostori_put_le32(r, sense_len);
	ostori_put_le32(r + 4, resid);
	r[10] = status;
	r[11] = response;
	if (sense && slen)
		memcpy(r + VIRTIO_SCSI_RESP_HDR, sense, slen);
	scatter(e->in, e->nin, r, sizeof(r));
	push_used(m, e, (uint32_t)(OSTOR_MIN(e->in_len, sizeof(r)) + data_in), true);
}

static bool lun_hidden(struct sim_vdev *m, uint32_t lun)
{
	for (unsigned int i = 0; i < m->nhidden; i++)
		if (m->hidden[i] == lun)
			return true;
	return false;
}

/* sim_virtio_set_script: the script writes the answer and picks used.len;
 * false when it wants a command or TMF held (never answered: only a
 * reset takes it back). */
static bool script_answer(struct sim_vdev *m, enum sim_virtio_script_kind kind, struct sim_elem *e,
			 const uint8_t *req, size_t req_len, bool is_request)
{
	size_t n = OSTOR_MIN(e->in_len, sizeof(m->script_buf));
	int64_t len;

	memset(m->script_buf, 0, n);
	len = m->script(m->script_arg, kind, req, req_len, m->script_buf, n);
	if (len < 0) {
		if (kind == SIM_SCRIPT_COMMAND) {
			uint64_t tag = ostori_get_le64(req + 8);

			for (unsigned int i = 0; i < SIM_MAX_HELD; i++) {
				if (m->held[i].used)
					continue;
				m->held[i] = (struct sim_held){ true, *e, tag, req[1],
								((uint32_t)(req[2] & 0x3f) << 8) | req[3],
								SIM_TMF_COMPLETE_NOTHING };
				m->nheld++;
				m->st.held++;
				break;
			}
		}
		return true; /* a TMF: dropped, never answered */
	}
	scatter(e->in, e->nin, m->script_buf, n);
	push_used(m, e, (uint32_t)OSTOR_MIN(len, (int64_t)UINT32_MAX), is_request);
	return true;
}

static void do_command(struct sim_vdev *m, struct sim_elem *e)
{
	uint8_t hdr[VIRTIO_SCSI_REQ_HDR + SIM_CDB_SIZE];
	struct iovec data[SIM_MAX_IOV];
	struct sim_cmd cmd;
	uint32_t target, lun, p = 0;
	uint64_t tag, epoch;
	bool datain;
	int nd;

	m->st.requests++;
	if (gather(e->out, e->nout, 0, hdr, sizeof(hdr)) < sizeof(hdr) ||
	    e->in_len < VIRTIO_SCSI_RESP_HDR) {
		m->st.bad_descriptors++;
		push_used(m, e, 0, true);
		return;
	}
	if (m->script && script_answer(m, SIM_SCRIPT_COMMAND, e, hdr, sizeof(hdr), true))
		return;
	if (take_fault(m, SIM_VF_NEEDS_RESET, NULL)) {
		m->status |= VIRTIO_STATUS_DEVICE_NEEDS_RESET;
		m->stalled = true;
		raise_irq(m, 2, 1);
	}
	target = hdr[1];
	lun = ((uint32_t)(hdr[2] & 0x3f) << 8) | hdr[3];
	tag = ostori_get_le64(hdr + 8);
	if (m->stalled || take_fault(m, SIM_VF_HOLD, &p)) {
		for (unsigned int i = 0; i < SIM_MAX_HELD; i++) {
			if (m->held[i].used)
				continue;
			m->held[i] = (struct sim_held){ true, *e, tag, target, lun,
							m->stalled ? SIM_TMF_IGNORE : p };
			m->nheld++;
			m->st.held++;
			return;
		}
	}
	if (hdr[0] != 1 || target != 0) {
		respond(m, e, VIRTIO_SCSI_S_BAD_TARGET, 0, NULL, 0, 0, 0);
		return;
	}
	datain = e->nin > 0 && e->in_len > VIRTIO_SCSI_RESP_HDR + SIM_SENSE_SIZE;
	memset(&cmd, 0, sizeof(cmd));
	cmd.lun = lun;
	cmd.cdb = hdr + VIRTIO_SCSI_REQ_HDR;
	cmd.cdb_len = SIM_CDB_SIZE;
	if (e->out_len > sizeof(hdr)) {
		nd = sub_iov(e->out, e->nout, sizeof(hdr), data, SIM_MAX_IOV);
		cmd.dir = OSTOR_DIR_TO_DEVICE;
	} else if (datain) {
		nd = sub_iov(e->in, e->nin, VIRTIO_SCSI_RESP_HDR + SIM_SENSE_SIZE, data, SIM_MAX_IOV);
		cmd.dir = OSTOR_DIR_FROM_DEVICE;
	} else {
		nd = 0;
		cmd.dir = OSTOR_DIR_NONE;
	}
	cmd.iov = data;
	cmd.iovcnt = nd;
	if (lun_hidden(m, lun)) {
		static const uint8_t s[18] = { 0x70, 0, 0x05, 0, 0, 0, 0, 10, 0, 0, 0, 0, 0x25, 0 };

		respond(m, e, VIRTIO_SCSI_S_OK, OSTOR_SCSI_STATUS_CHECK_CONDITION, s, sizeof(s), 0, 0);
		return;
	}
	/* The target may take a while (file I/O): not under our lock. */
	epoch = m->epoch;
	m->in_target = true;
	pthread_mutex_unlock(&m->lock);
	sim_target_execute(m->target, &cmd);
	pthread_mutex_lock(&m->lock);
	m->in_target = false;
	pthread_cond_broadcast(&m->target_cond);
	if (m->epoch != epoch || !m->vq[e->q].enabled)
		return; /* reset meanwhile: the driver took everything back */
	/* More data than the driver's buffers: QEMU answers OVERRUN. */
	if (cmd.overrun && cmd.status == OSTOR_SCSI_STATUS_GOOD) {
		respond(m, e, VIRTIO_SCSI_S_OVERRUN, 0, NULL, 0, 0, 0);
		return;
	}
	respond(m, e, VIRTIO_SCSI_S_OK, cmd.status, cmd.sense, (uint32_t)cmd.sense_len,
		(uint32_t)cmd.residual, cmd.dir == OSTOR_DIR_FROM_DEVICE ? cmd.transferred : 0);
}

static void release_held(struct sim_vdev *m, unsigned int i, uint8_t response)
{
	struct sim_held *h = &m->held[i];

	h->used = false;
	m->nheld--;
	respond(m, &h->e, response, 0, NULL, 0, (uint32_t)(h->e.in_len + h->e.out_len), 0);
}

static void tmf_answer(struct sim_vdev *m, struct sim_elem *e, uint8_t resp)
{
	scatter(e->in, e->nin, &resp, 1);
	push_used(m, e, 1, false);
}

static void do_control(struct sim_vdev *m, struct sim_elem *e)
{
	uint8_t req[VIRTIO_SCSI_TMF_REQ];
	uint32_t type, sub, target, lun;
	unsigned int match[SIM_MAX_HELD], nmatch = 0;
	uint32_t mode = SIM_TMF_ANSWER_FIRST;
	uint64_t tag;

	if (gather(e->out, e->nout, 0, req, sizeof(req)) < sizeof(req) || e->in_len < 1) {
		m->st.bad_descriptors++;
		push_used(m, e, 0, false);
		return;
	}
	type = ostori_get_le32(req);
	sub = ostori_get_le32(req + 4);
	tag = ostori_get_le64(req + 16);
	target = req[9];
	lun = ((uint32_t)(req[10] & 0x3f) << 8) | req[11];
	if (m->script && script_answer(m, SIM_SCRIPT_TMF, e, req, sizeof(req), false))
		return;
	if (type != VIRTIO_SCSI_T_TMF) {
		tmf_answer(m, e, VIRTIO_SCSI_S_FUNCTION_REJECTED);
		return;
	}
	m->st.tmfs++;
	if (sub == VIRTIO_SCSI_T_TMF_ABORT_TASK)
		m->st.tmf_abort++;
	else if (sub == VIRTIO_SCSI_T_TMF_LOGICAL_UNIT_RESET)
		m->st.tmf_lun_reset++;
	else if (sub == VIRTIO_SCSI_T_TMF_I_T_NEXUS_RESET)
		m->st.tmf_nexus_reset++;
	for (unsigned int i = 0; i < SIM_MAX_HELD; i++) {
		struct sim_held *h = &m->held[i];
		bool hit;

		if (!h->used)
			continue;
		if (h->mode == SIM_TMF_IGNORE)
			return; /* never answered */
		switch (sub) {
		case VIRTIO_SCSI_T_TMF_ABORT_TASK:
			hit = h->tag == tag && h->target == target && h->lun == lun;
			break;
		case VIRTIO_SCSI_T_TMF_LOGICAL_UNIT_RESET:
			hit = h->target == target && h->lun == lun;
			break;
		case VIRTIO_SCSI_T_TMF_I_T_NEXUS_RESET:
			hit = h->target == target;
			break;
		default:
			hit = false;
		}
		if (hit) {
			if (!nmatch)
				mode = h->mode;
			match[nmatch++] = i;
		}
	}
	if (nmatch && mode == SIM_TMF_REJECT_ABORT && sub == VIRTIO_SCSI_T_TMF_ABORT_TASK) {
		tmf_answer(m, e, VIRTIO_SCSI_S_FUNCTION_REJECTED);
		return;
	}
	if (mode != SIM_TMF_COMMAND_FIRST)
		tmf_answer(m, e, VIRTIO_SCSI_S_OK);
	if (mode != SIM_TMF_COMPLETE_NOTHING)
		for (unsigned int k = 0; k < nmatch; k++)
			release_held(m, match[k], sub == VIRTIO_SCSI_T_TMF_ABORT_TASK ? VIRTIO_SCSI_S_ABORTED
										   : VIRTIO_SCSI_S_RESET);
	if (mode == SIM_TMF_COMMAND_FIRST)
		tmf_answer(m, e, VIRTIO_SCSI_S_OK);
}

static void deliver_events(struct sim_vdev *m)
{
	while (m->nevents && m->nevbuf) {
		struct sim_elem *e = &m->evbuf[--m->nevbuf];
		struct sim_event ev = m->events[0];
		uint8_t b[VIRTIO_SCSI_EVENT_SIZE] = { 0 };
		uint32_t evt = ev.event | (m->missed ? VIRTIO_SCSI_T_EVENTS_MISSED : 0), p;
		uint32_t len = VIRTIO_SCSI_EVENT_SIZE;

		memmove(m->events, m->events + 1, --m->nevents * sizeof(m->events[0]));
		m->missed = false;
		ostori_put_le32(b, evt);
		b[4] = 1;
		b[5] = (uint8_t)ev.target;
		b[6] = (uint8_t)(0x40 | (ev.lun >> 8));
		b[7] = (uint8_t)ev.lun;
		ostori_put_le32(b + 12, ev.reason);
		if (m->script) {
			int64_t l = m->script(m->script_arg, SIM_SCRIPT_EVENT, NULL, 0, b, sizeof(b));

			if (l >= 0)
				len = (uint32_t)OSTOR_MIN(l, (int64_t)UINT32_MAX);
		}
		scatter(e->in, e->nin, b, sizeof(b));
		if (take_fault(m, SIM_VF_SHORT_EVENT, &p))
			len = p;
		m->st.events_delivered++;
		push_used(m, e, len, false);
	}
}

/* One pass over every queue.  Called with the lock. */
static bool process(struct sim_vdev *m)
{
	bool did = false;

	if (!(m->status & VIRTIO_STATUS_DRIVER_OK))
		return false;
	for (unsigned int q = 0; q < m->nvq; q++) {
		struct sim_vq *v = &m->vq[q];

		for (int budget = 0; v->enabled && !v->deaf && budget < 256; budget++) {
			struct sim_elem *e = q == 1 && m->nevbuf < m->vq[1].size ? &m->evbuf[m->nevbuf] : NULL;
			struct sim_elem tmp;
			int r;

			if (!e)
				e = &tmp;
			memset(e, 0, offsetof(struct sim_elem, out));
			e->nout = e->nin = 0;
			e->out_len = e->in_len = 0;
			e->q = q;
			r = v->packed ? pop_packed(m, v, e) : pop_split(m, v, e);
			if (r == 0)
				break;
			did = true;
			if (r < 0) {
				m->st.bad_descriptors++;
				continue;
			}
			if (q == 0)
				do_control(m, e);
			else if (q == 1)
				m->nevbuf += e != &tmp;
			else
				do_command(m, e);
			if (!(m->status & VIRTIO_STATUS_DRIVER_OK))
				return did; /* reset from inside */
		}
		/* Event index / suppression: ask for a notify of what comes next. */
		if (v->enabled && v->event_idx) {
			if (v->packed) {
				vq_store16(&v->dev_ev->off_wrap,
					   (uint16_t)(v->avail_pos | (v->avail_wrap ? 0x8000 : 0)));
				vq_store16(&v->dev_ev->flags, VIRTQ_EVENT_F_DESC);
			} else {
				vq_store16((uint16_t *)&v->used->ring[v->size], v->last_avail);
			}
		}
	}
	deliver_events(m);
	return did;
}

/* Whether the driver made anything available that process() has not
 * taken (event queue buffers aside: those wait for events). */
static bool anything_available(struct sim_vdev *m)
{
	for (unsigned int q = 0; q < m->nvq; q++) {
		struct sim_vq *v = &m->vq[q];

		if (!v->enabled || v->deaf || q == 1)
			continue;
		if (v->packed) {
			uint16_t fl = vq_load16(&v->pdesc[v->avail_pos].flags);
			bool a = fl & VIRTQ_DESC_F_AVAIL, u = fl & VIRTQ_DESC_F_USED;

			if (a != u && a == v->avail_wrap)
				return true;
		} else if (vq_load16(&v->avail->idx) != v->last_avail) {
			return true;
		}
	}
	return false;
}

static void *device_thread(void *arg)
{
	struct sim_vdev *m = arg;

	pthread_mutex_lock(&m->lock);
	while (!m->stop) {
		m->kicked = false;
		if (process(m))
			continue;
		/* As strict as QEMU: the device looks at the rings only when
		 * notified.  process() published its event index after its
		 * last look; the spec's re-check after that (2.7.10) is what
		 * makes a skipped notification safe. */
		__atomic_thread_fence(__ATOMIC_SEQ_CST);
		if (m->kicked || ((m->status & VIRTIO_STATUS_DRIVER_OK) && anything_available(m)))
			continue;
		m->idle = true;
		pthread_cond_broadcast(&m->idle_cond);
		pthread_cond_wait(&m->cond, &m->lock);
		m->idle = false;
	}
	pthread_mutex_unlock(&m->lock);
	return NULL;
}

/* ---- test controls --------------------------------------------------------------------------- */

void sim_virtio_wait_idle(struct sim_vdev *m)
{
	pthread_mutex_lock(&m->lock);
	/* Asleep with no notification pending (one sent just now has not
	 * woken the thread yet: then it is not idle). */
	while ((!m->idle || m->kicked) && !m->stop)
		pthread_cond_wait(&m->idle_cond, &m->lock);
	pthread_mutex_unlock(&m->lock);
}

void sim_virtio_set_script(struct sim_vdev *m, sim_virtio_script_fn fn, void *arg)
{
	pthread_mutex_lock(&m->lock);
	m->script = fn;
	m->script_arg = arg;
	pthread_mutex_unlock(&m->lock);
}

void sim_virtio_post_event(struct sim_vdev *m, uint32_t event, uint32_t target, uint32_t lun,
			   uint32_t reason)
{
	pthread_mutex_lock(&m->lock);
	if (m->nevents < SIM_MAX_EVENTS)
		m->events[m->nevents++] = (struct sim_event){ event, target, lun, reason };
	else
		m->missed = true;
	m->kicked = true;
	pthread_cond_signal(&m->cond);
	pthread_mutex_unlock(&m->lock);
}

int sim_virtio_hotplug(struct sim_vdev *m, uint32_t lun, bool add, uint64_t blocks)
{
	int r = 0;

	pthread_mutex_lock(&m->lock);
	if (add) {
		bool was_hidden = false;

		for (unsigned int i = 0; i < m->nhidden; i++)
			if (m->hidden[i] == lun) {
				m->hidden[i] = m->hidden[--m->nhidden];
				was_hidden = true;
			}
		if (!was_hidden) {
			struct sim_lu_config c;

			sim_lu_config_init(&c);
			c.type = OSTOR_TYPE_DISK;
			c.blocks = blocks;
			pthread_mutex_unlock(&m->lock);
			r = sim_target_add_lu(m->target, lun, &c);
			pthread_mutex_lock(&m->lock);
		}
	} else if (m->nhidden < OSTOR_ARRAY_SIZE(m->hidden)) {
		m->hidden[m->nhidden++] = lun;
	}
	pthread_mutex_unlock(&m->lock);
	if (r == 0)
		sim_virtio_post_event(m, VIRTIO_SCSI_T_TRANSPORT_RESET, 0, lun,
				      add ? VIRTIO_SCSI_EVT_RESET_RESCAN : VIRTIO_SCSI_EVT_RESET_REMOVED);
	return r;
}

int sim_virtio_resize(struct sim_vdev *m, uint32_t lun, uint64_t blocks)
{
	int r = sim_target_set_capacity(m->target, lun, blocks);

	if (r == 0)
		sim_virtio_post_event(m, VIRTIO_SCSI_T_PARAM_CHANGE, 0, lun, 0x2a | (0x09 << 8));
	return r;
}

void sim_virtio_get_stats(struct sim_vdev *m, struct sim_virtio_stats *out)
{
	pthread_mutex_lock(&m->lock);
	*out = m->st;
	pthread_mutex_unlock(&m->lock);
}

unsigned int sim_virtio_held(struct sim_vdev *m)
{
	unsigned int n;

	pthread_mutex_lock(&m->lock);
	n = m->nheld;
	pthread_mutex_unlock(&m->lock);
	return n;
}

struct vscsi_dev *sim_virtio_driver(struct sim_vdev *m)
{
	return m->vs;
}

struct sim_vdev *sim_virtio_of(ostor_device *dev)
{
	struct sim_vdev *m = ostori_sim_transport_priv(dev);

	if (!m || !strstr(dev->description, "simulated virtio") || m->magic != SIM_VIRTIO_MAGIC)
		return NULL;
	return m;
}

struct vscsi_dev *ostori_sim_virtio_vscsi(ostor_device *dev)
{
	struct sim_vdev *m = sim_virtio_of(dev);

	return m ? m->vs : NULL;
}

/* ---- the sim transport ------------------------------------------------------------------------ */

static int opt_num(struct ostor_spec *spec, const char *key, uint64_t max, uint64_t *out)
{
	const struct ostor_spec_option *o = ostori_spec_get(spec, key);

	if (!o)
		return 0;
	if (!o->value || ostori_parse_u64(o->value, max, out))
		return ostori_error(OSTOR_ERROR_BAD_SPEC, "sim virtio option %s=%s: expected a number up to %llu",
				    key, o->value ? o->value : "", (unsigned long long)max);
	return 1;
}

static bool opt_flag(struct ostor_spec *spec, const char *key)
{
	return ostori_spec_get(spec, key) != NULL;
}

uint8_t sim_virtio_last_status;

static void model_free(struct sim_vdev *m)
{
	sim_virtio_last_status = m->status_or;
	if (m->thread_started) {
		pthread_mutex_lock(&m->lock);
		m->stop = true;
		pthread_cond_broadcast(&m->cond);
		pthread_cond_broadcast(&m->idle_cond);
		pthread_mutex_unlock(&m->lock);
		pthread_join(m->thread, NULL);
	}
	if (m->irq_fd >= 0)
		close(m->irq_fd);
	for (unsigned int i = 0; i < SIM_VQ_MAX; i++)
		if (m->qirq_fd[i] >= 0)
			close(m->qirq_fd[i]);
	free(m->evbuf);
	pthread_mutex_destroy(&m->lock);
	pthread_mutex_destroy(&m->dma_lock);
	pthread_cond_destroy(&m->cond);
	pthread_cond_destroy(&m->idle_cond);
	pthread_cond_destroy(&m->target_cond);
	free(m->regions);
	free(m);
}

static int vt_open(ostor_device *dev, struct sim_target *target, struct ostor_spec *spec, void **priv)
{
	struct vscsi_options o = { 0 };
	struct sim_vdev *m;
	const struct ostor_spec_option *f;
	uint64_t queues = 1, qsize = 128, tmo = 0, backoff = 0;
	int r;

	dev->dma_pool_fixed = true; /* as the PCI transport's */
	if ((r = opt_num(spec, "queues", 16, &queues)) < 0 ||
	    (r = opt_num(spec, "queue-size", 65536, &qsize)) < 0 ||
	    (r = opt_num(spec, "timeout", 600000, &tmo)) < 0 ||
	    (r = opt_num(spec, "busy-backoff", 60000, &backoff)) < 0)
		return r;
	if (queues == 0)
		return ostori_error(OSTOR_ERROR_BAD_SPEC, "sim virtio option queues=0: use 1 to 16");
	m = calloc(1, sizeof(*m));
	if (!m)
		return ostori_error(OSTOR_ERROR_NO_MEM, "out of memory");
	m->magic = SIM_VIRTIO_MAGIC;
	m->irq_fd = -1;
	for (unsigned int i = 0; i < SIM_VQ_MAX; i++)
		m->qirq_fd[i] = -1;
	pthread_mutex_init(&m->lock, NULL);
	pthread_mutex_init(&m->dma_lock, NULL);
	pthread_cond_init(&m->cond, NULL);
	pthread_cond_init(&m->idle_cond, NULL);
	pthread_cond_init(&m->target_cond, NULL);
	m->target = target;
	m->dev = dev;
	m->nvq = (unsigned int)(2 + queues);
	m->qmax = (uint32_t)qsize;
	m->offered = (1ull << VIRTIO_F_VERSION_1) | (1ull << VIRTIO_SCSI_F_HOTPLUG) |
		     (1ull << VIRTIO_SCSI_F_CHANGE) | (1ull << VIRTIO_F_INDIRECT_DESC) |
		     (1ull << VIRTIO_F_EVENT_IDX);
	if (opt_flag(spec, "packed"))
		m->offered |= 1ull << VIRTIO_F_RING_PACKED;
	if (opt_flag(spec, "no-indirect"))
		m->offered &= ~(1ull << VIRTIO_F_INDIRECT_DESC);
	if (opt_flag(spec, "no-event-idx"))
		m->offered &= ~(1ull << VIRTIO_F_EVENT_IDX);
	if (opt_flag(spec, "ring-reset"))
		m->offered |= 1ull << VIRTIO_F_RING_RESET;
	/* The device reaches only memory from dma_alloc, at other addresses:
	 * the driver translates, and bounces everything else. */
	m->iommu = opt_flag(spec, "iommu");
	if (m->iommu || !ostori_virtio_config(&dev->ctx->config)->dma_enabled ||
	    !ostori_virtio_config(&dev->ctx->config)->zero_copy_enabled)
		o.bounce_bytes = 64 * 1024;
	o.mode = opt_flag(spec, "intr") ? 2 : 0;
	o.tmf_timeout_ms = (unsigned int)tmo;
	o.busy_backoff_ms = (unsigned int)backoff;
	o.queues = (unsigned int)queues;
	f = ostori_spec_get(spec, "fault");
	if (f) {
		if (f->value && !strcmp(f->value, "features-ok"))
			m->fault_features_ok = true;
		else if (f->value && !strcmp(f->value, "config-generation"))
			m->fault_generation = true;
		else if (f->value && !strcmp(f->value, "early-irq"))
			m->fault_early_irq = true;
		else {
			r = ostori_error(OSTOR_ERROR_BAD_SPEC, "sim virtio option fault=%s: expected "
					 "features-ok, config-generation or early-irq", f->value ? f->value : "");
			goto fail;
		}
	}
	/* The config space as the driver reads it: little-endian fields. */
	m->cfg.num_queues = vq_le32((uint32_t)queues);
	m->cfg.seg_max = vq_le32(126);
	m->cfg.max_sectors = vq_le32(0xffff);
	m->cfg.cmd_per_lun = vq_le32(128);
	m->cfg.event_info_size = vq_le32(VIRTIO_SCSI_EVENT_SIZE);
	m->cfg.sense_size = vq_le32(SIM_SENSE_SIZE);
	m->cfg.cdb_size = vq_le32(SIM_CDB_SIZE);
	m->cfg.max_channel = vq_le16(0);
	m->cfg.max_target = vq_le16(0);
	m->cfg.max_lun = vq_le32(16383);
	m->evbuf = calloc(qsize && qsize <= VIRTQ_MAX_SIZE ? qsize : 1, sizeof(*m->evbuf));
	m->irq_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	m->msix = opt_flag(spec, "msix");
	for (unsigned int i = 2; m->msix && i < SIM_VQ_MAX; i++)
		if ((m->qirq_fd[i] = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC)) < 0)
			break;
	if (!m->evbuf || m->irq_fd < 0 || (m->msix && m->qirq_fd[SIM_VQ_MAX - 1] < 0)) {
		r = ostori_error(OSTOR_ERROR_NO_MEM, "cannot set up the simulated virtio device: %s",
				 strerror(errno));
		goto fail;
	}
	m->vd.ops = &sim_ops;
	m->vd.transport = m;
	m->vd.ctx = dev->ctx;
	snprintf(m->vd.name, sizeof(m->vd.name), "%s", dev->spec);
	if (pthread_create(&m->thread, NULL, device_thread, m)) {
		r = ostori_error(OSTOR_ERROR_NO_MEM, "cannot start the simulated virtio device thread");
		goto fail;
	}
	m->thread_started = true;
	r = vscsi_open(dev, &m->vd, &o, &m->vs);
	if (r < 0)
		goto fail;
	*priv = m;
	return 0;
fail:
	model_free(m);
	return r;
}

static void vt_close(ostor_device *dev, void *priv)
{
	struct sim_vdev *m = priv;

	vscsi_close(m->vs);
	model_free(m);
}

static int vt_submit(ostor_task *t, void *priv)
{
	return vscsi_submit(((struct sim_vdev *)priv)->vs, t);
}

static int vt_cancel(ostor_task *t, void *priv)
{
	return vscsi_cancel(((struct sim_vdev *)priv)->vs, t);
}

static int vt_reset(ostor_device *dev, void *priv, enum ostor_reset_level level, uint32_t target,
		    uint32_t lun)
{
	return vscsi_reset_level(((struct sim_vdev *)priv)->vs, level, target, lun);
}

static void *vt_dma_alloc(ostor_device *dev, void *priv, size_t size)
{
	return ostor_virtio_dma_alloc(dev, size);
}

static void vt_dma_free(ostor_device *dev, void *priv, void *p, size_t size)
{
	ostor_virtio_dma_free(dev, p, size);
}

static int vt_poll(ostor_device *dev, void *priv)
{
	return vscsi_poll(((struct sim_vdev *)priv)->vs);
}

static bool vt_is_dma(ostor_device *dev, void *priv, const void *p, size_t len)
{
	return vscsi_is_dma(((struct sim_vdev *)priv)->vs, p, len);
}

static unsigned int vt_queue_count(ostor_device *dev, void *priv)
{
	return (unsigned int)vscsi_queue_count(((struct sim_vdev *)priv)->vs) - 2;
}

static int vt_queue_acquire(ostor_device *dev, void *priv, unsigned int index)
{
	return vscsi_queue_acquire(((struct sim_vdev *)priv)->vs, (int)index);
}

static void vt_queue_release(ostor_device *dev, void *priv)
{
	vscsi_queue_release(((struct sim_vdev *)priv)->vs);
}

static int vt_queue_poll(ostor_device *dev, void *priv)
{
	return vscsi_queue_poll(((struct sim_vdev *)priv)->vs);
}

static int vt_pollfds(ostor_device *dev, void *priv, struct pollfd *fds, int max)
{
	return vscsi_pollfds(((struct sim_vdev *)priv)->vs, fds, max);
}

static int vt_next_timeout(ostor_device *dev, void *priv)
{
	return vscsi_next_timeout(((struct sim_vdev *)priv)->vs);
}

static int vt_counters(ostor_device *dev, void *priv, struct ostor_counter *out, int max)
{
	return vscsi_counters(((struct sim_vdev *)priv)->vs, out, max);
}

static const struct sim_transport_ops virtio_transport = {
	.name = "virtio",
	.options = "size=SIZE, image=PATH, luns=N, block-size=N, readonly, type=disk|cdrom, null, histograms, "
		   "transport=virtio, " VIRTIO_OPTIONS,
	.open = vt_open,
	.close = vt_close,
	.submit = vt_submit,
	.cancel = vt_cancel,
	.reset = vt_reset,
	.dma_alloc = vt_dma_alloc,
	.dma_free = vt_dma_free,
	.is_dma = vt_is_dma,
	.queue_count = vt_queue_count,
	.queue_acquire = vt_queue_acquire,
	.queue_release = vt_queue_release,
	.queue_poll = vt_queue_poll,
	.poll = vt_poll,
	.pollfds = vt_pollfds,
	.next_timeout = vt_next_timeout,
	.counters = vt_counters,
};

const struct sim_transport_ops *const ostori_sim_virtio_transports[] = { &virtio_transport, NULL };

void sim_virtio_debug_dump(struct sim_vdev *m, FILE *f)
{
	pthread_mutex_lock(&m->lock);
	fprintf(f, "sim virtio: status %#x stalled %d held %u idle %d kicked %d epoch %llu isr %u\n", m->status,
		m->stalled, m->nheld, m->idle, m->kicked, (unsigned long long)m->epoch, atomic_load(&m->isr));
	for (unsigned int q = 0; q < m->nvq; q++) {
		struct sim_vq *v = &m->vq[q];

		if (!v->enabled)
			continue;
		if (v->packed)
			fprintf(f, "  vq %u: packed deaf %d avail_pos %u/%d used_pos %u/%d\n", q, v->deaf, v->avail_pos,
				v->avail_wrap, v->used_pos, v->used_wrap);
		else
			fprintf(f, "  vq %u: split deaf %d avail.idx %u last_avail %u used_idx %u\n", q, v->deaf,
				vq_load16(&v->avail->idx), v->last_avail, v->used_idx);
	}
	for (unsigned int i = 0; i < SIM_MAX_HELD; i++)
		if (m->held[i].used)
			fprintf(f, "  held: q %u id %u tag %#llx mode %u\n", m->held[i].e.q, m->held[i].e.id,
				(unsigned long long)m->held[i].tag, m->held[i].mode);
	for (unsigned int i = 0; i < m->nfaults; i++)
		if (m->faults[i].count)
			fprintf(f, "  fault armed: kind %d count %u param %u\n", m->faults[i].kind, m->faults[i].count,
				m->faults[i].param);
	pthread_mutex_unlock(&m->lock);
}
