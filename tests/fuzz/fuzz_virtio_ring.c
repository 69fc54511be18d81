/*
 * Split and packed virtqueues (lib/virtio/virtqueue.c), driver side, with
 * the fuzzer as the device: it writes the used ring (ids, lengths,
 * used.idx jumps) or the packed descriptors (ids, lengths, flags, wrap
 * bits), and may scribble on any byte of the shared ring memory, while
 * the library posts buffers, harvests completions (virtqueue_get), checks
 * notifications and takes everything back after a break (detach, reinit).
 *
 * Byte 0: bit 0 packed, bit 1 indirect tables (4 entries), bits 2-4 the
 * queue size (split 1 << (n % 5): 1 to 16, packed n + 1: 1 to 8), bit 5
 * event index.  Then operations of a few bytes each (see the switch).
 * No transport: a local ops table gives identity-mapped heap memory and
 * the negotiated features, so the ring is all there is.
 *
 * Invariants: a completion is always a cookie we posted and have in
 * flight (so never an out-of-range id, never twice); its len is at most
 * the writable bytes of that request; a failed get leaves the queue
 * broken and detach then returns exactly what was in flight, once each;
 * the library's inflight count matches ours; every loop is bounded.
 */
#include "fuzz.h"

#include <stdlib.h>

#include "virtio/virtio.h"

#define MAX_OPS 96
#define NTOK 64

struct tok {
	bool inflight;
	uint32_t wlen;
};

static struct tok toks[NTOK];
static unsigned int ninflight;

static void *f_dma_alloc(struct virtio_dev *vd, size_t size, uint64_t *iova)
{
	size_t sz = (size + 4095) & ~(size_t)4095;
	void *p = aligned_alloc(4096, sz ? sz : 4096);

	(void)vd;
	if (p) {
		memset(p, 0, sz ? sz : 4096);
		*iova = (uint64_t)(uintptr_t)p;
	}
	return p;
}

static void f_dma_free(struct virtio_dev *vd, void *p, size_t size)
{
	(void)vd;
	(void)size;
	free(p);
}

static int f_translate(struct virtio_dev *vd, const void *p, size_t len, uint64_t *iova, size_t *contig)
{
	(void)vd;
	*iova = (uint64_t)(uintptr_t)p;
	*contig = len;
	return 0;
}

static void f_notify(struct virtio_dev *vd, struct virtqueue *vq)
{
	(void)vd;
	(void)vq;
}

static const struct virtio_dev_ops fops = {
	.name = "fuzz",
	.notify = f_notify,
	.dma_alloc = f_dma_alloc,
	.dma_free = f_dma_free,
	.translate = f_translate,
};

struct in {
	const uint8_t *p;
	size_t n;
};

static uint8_t u8(struct in *in)
{
	if (!in->n)
		return 0;
	in->n--;
	return *in->p++;
}

static uint16_t u16(struct in *in)
{
	uint16_t v = u8(in);

	return (uint16_t)(v | u8(in) << 8);
}

static uint32_t u32(struct in *in)
{
	uint32_t v = u16(in);

	return v | (uint32_t)u16(in) << 16;
}

static void check_counts(struct virtqueue *vq)
{
	if (vq->inflight != ninflight || vq->num_free > vq->size || vq->ids_free > vq->size)
		__builtin_trap();
}

/* Everything back (after a break or as a reset would): exactly our set. */
static void detach_all(struct virtqueue *vq)
{
	void *c;
	unsigned int n = 0;

	while ((c = virtqueue_detach(vq))) {
		struct tok *t = c;

		if (t < toks || t >= toks + NTOK || !t->inflight || ++n > vq->size)
			__builtin_trap();
		t->inflight = false;
		ninflight--;
	}
	if (ninflight)
		__builtin_trap(); /* something in flight was lost */
	check_counts(vq);
	virtqueue_reinit(vq);
	if (vq->num_free != vq->size)
		__builtin_trap();
}

static void harvest(struct virtqueue *vq)
{
	/* At most one completion per request in flight, plus the 0 or the
	 * error that ends it. */
	for (unsigned int k = 0; k <= NTOK + 1; k++) {
		void *c = NULL;
		uint32_t len = 0;
		bool clamped = false;
		int r = virtqueue_get(vq, &c, &len, &clamped);
		struct tok *t = c;

		if (r == 0)
			return;
		if (r < 0) {
			if (!vq->broken)
				__builtin_trap();
			return;
		}
		if (r != 1 || t < toks || t >= toks + NTOK || !t->inflight)
			__builtin_trap(); /* forged or double completion accepted */
		if (len > t->wlen || (clamped && len != t->wlen))
			__builtin_trap();
		t->inflight = false;
		ninflight--;
		check_counts(vq);
	}
	__builtin_trap(); /* more completions than requests */
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static ostor_context *ctx;
	struct virtio_dev vd = { .ops = &fops, .name = "fuzz" };
	struct virtqueue *vq;
	struct in in = { data, size };
	uint8_t cfg;
	bool packed;
	uint32_t qsize;
	uint16_t dev_idx = 0; /* split: the device's used.idx */

	if (size < 1)
		return 0;
	if (!ctx) {
		if (ostor_init(&ctx, "") < 0)
			abort();
		ostor_set_log_level(ctx, OSTOR_LOG_NONE);
	}
	vd.ctx = ctx;
	cfg = u8(&in);
	packed = cfg & 1;
	qsize = packed ? 1u + ((cfg >> 2) & 7) : 1u << ((cfg >> 2) % 5);
	/* The features the ring code looks at, as negotiated. */
	vd.driver_features = (1ull << VIRTIO_F_VERSION_1) |
			     ((cfg & 2) ? 1ull << VIRTIO_F_INDIRECT_DESC : 0) |
			     ((cfg & 0x20) ? 1ull << VIRTIO_F_EVENT_IDX : 0) |
			     (packed ? 1ull << VIRTIO_F_RING_PACKED : 0);
	if (virtqueue_create(&vd, 2, qsize, packed, (cfg & 2) ? 4 : 0, &vq) < 0)
		abort();
	if (vq->indirect != !!(cfg & 2) || vq->event_idx != !!(cfg & 0x20))
		abort();
	memset(toks, 0, sizeof(toks));
	ninflight = 0;

	for (int op = 0; op < MAX_OPS && in.n; op++) {
		uint8_t o = u8(&in);

		switch (o % 8) {
		case 0:
		case 1: { /* post a request: 1-2 out, 0-3 in buffers */
			struct vq_buf b[5];
			int nout = 1 + (o >> 3 & 1), nin = o >> 4 & 3, r;
			uint32_t wlen = 0;
			struct tok *t = NULL;

			for (int k = 0; k < NTOK; k++)
				if (!toks[k].inflight) {
					t = &toks[k];
					break;
				}
			if (!t)
				break;
			for (int k = 0; k < nout + nin; k++) {
				b[k].iova = 0x10000u * (uint64_t)(k + 1);
				b[k].len = 1 + u8(&in) * 16u;
				b[k].write = k >= nout;
				if (b[k].write)
					wlen += b[k].len;
			}
			r = virtqueue_add(vq, b, nout, nin, t);
			if (r >= 0) {
				if ((uint32_t)r >= qsize)
					__builtin_trap();
				t->inflight = true;
				t->wlen = wlen;
				ninflight++;
			} else if (r != OSTOR_ERROR_BUSY && r != OSTOR_ERROR_IO &&
				   r != OSTOR_ERROR_INVALID_PARAM) {
				__builtin_trap();
			}
			check_counts(vq);
			break;
		}
		case 2:
		case 3: { /* the device returns a used element */
			uint32_t id = (o & 0x80) ? u32(&in) : u8(&in);
			uint32_t len = (o & 0x40) ? u32(&in) : u8(&in) * 8u;
			uint8_t how = u8(&in);

			if (packed) {
				uint16_t pos = (uint16_t)(how % qsize);
				uint16_t fl = u16(&in);

				if (!(how & 0x80)) {
					/* A plausible one: at the driver's position, this lap. */
					pos = vq->next_used;
					fl = vq->used_wrap ? (VIRTQ_DESC_F_AVAIL | VIRTQ_DESC_F_USED) : 0;
				}
				vq->pdesc[pos].id = vq_le16((uint16_t)id);
				vq->pdesc[pos].len = vq_le32(len);
				vq->pdesc[pos].flags = vq_le16(fl);
			} else {
				vq->used->ring[dev_idx & (qsize - 1)].id = vq_le32(id);
				vq->used->ring[dev_idx & (qsize - 1)].len = vq_le32(len);
				if (how & 0x80)
					dev_idx = (uint16_t)(dev_idx + (int8_t)u8(&in)); /* any jump */
				else
					dev_idx++;
				vq->used->idx = vq_le16(dev_idx);
			}
			break;
		}
		case 4: /* harvest */
			harvest(vq);
			break;
		case 5: { /* scribble on shared memory */
			size_t off = u16(&in) % vq->ring_bytes;

			((uint8_t *)vq->ring_mem)[off] = u8(&in);
			break;
		}
		case 6: /* the notification and interrupt paths */
			SINK(virtqueue_kick_prepare(vq));
			SINK(virtqueue_notify_lost(vq));
			SINK(virtqueue_has_used(vq));
			if (o & 0x10)
				SINK(virtqueue_arm_interrupts(vq, o >> 5));
			else
				virtqueue_set_interrupts(vq, o & 0x20);
			break;
		case 7: /* reset: everything back */
			detach_all(vq);
			dev_idx = 0;
			break;
		}
		if (vq->broken && (o & 0x08)) {
			detach_all(vq);
			dev_idx = 0;
		}
	}
	harvest(vq);
	detach_all(vq);
	virtqueue_destroy(vq);
	return 0;
}
