/*
 * plugins/nbdkit/extents.c - NBD block status from GET LBA STATUS.
 *
 * The library has no helper for GET LBA STATUS (SBC-3 5.7), so the plugin
 * builds the CDB and decodes the answer itself.  A LUN answers it only
 * when it is thin provisioned (LBPME); the plugin asks once at open and
 * offers extents only when that probe succeeded, so every other LUN is
 * reported by nbdkit as one allocated data extent.  Deallocated and
 * anchored blocks are holes; they read as zeros only where the LUN says
 * so (LBPRZ).
 *
 * Copyright (C) 2026 The liborionstor authors.  LGPL-2.1-or-later.
 */
#include "plugin.h"

#include <errno.h>
#include <inttypes.h>
#include <string.h>

#define NBDKIT_API_VERSION 2
#include <nbdkit-plugin.h>

#define LBA_STATUS_MAX 64             /* descriptors per command */

static uint64_t be64(const uint8_t *p)
{
	uint64_t v = 0;

	for (int i = 0; i < 8; i++)
		v = v << 8 | p[i];
	return v;
}

static uint32_t be32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

void onbd_cdb_get_lba_status(uint8_t cdb[16], uint64_t lba, uint32_t alloc_len)
{
	memset(cdb, 0, 16);
	cdb[0] = OSTOR_SCSI_OP_SERVICE_ACTION_IN16;
	cdb[1] = OSTOR_SCSI_SAI_GET_LBA_STATUS;
	for (int i = 0; i < 8; i++)
		cdb[2 + i] = (uint8_t)(lba >> (56 - 8 * i));
	for (int i = 0; i < 4; i++)
		cdb[10 + i] = (uint8_t)(alloc_len >> (24 - 8 * i));
}

/* Parameter data: a 4-byte PARAMETER DATA LENGTH (the bytes after it),
 * 4 reserved, then 16-byte descriptors: LBA (8), number of blocks (4),
 * provisioning status in the low nibble of byte 12. */
int onbd_parse_lba_status(const uint8_t *buf, size_t len, struct onbd_lba_status *out, int max)
{
	size_t avail;
	int n = 0;

	if (len < 8)
		return -1;
	avail = (size_t)be32(buf) + 4;
	if (avail < 8 || (avail - 8) % 16)
		return -1;
	if (avail > len)
		avail = len - (len - 8) % 16;  /* truncated by the allocation length */
	for (size_t o = 8; o + 16 <= avail && n < max; o += 16, n++) {
		out[n].lba = be64(buf + o);
		out[n].blocks = be32(buf + o + 8);
		out[n].status = buf[o + 12] & 0x0f;
		if (out[n].blocks == 0)
			return -1;
	}
	return n;
}

bool onbd_probe_lba_status(struct onbd_thread *t, const struct onbd_lun *L)
{
	uint8_t cdb[16], buf[8 + 16];
	struct onbd_lba_status d;
	size_t got = 0;

	onbd_cdb_get_lba_status(cdb, 0, sizeof(buf));
	if (onbd_exec(t, L, cdb, sizeof(cdb), OSTOR_DIR_FROM_DEVICE, buf, sizeof(buf), &got) < 0)
		return false;
	return onbd_parse_lba_status(buf, got, &d, 1) == 1 && d.lba == 0;
}

int onbd_extents(struct onbd_lun *L, uint32_t count, uint64_t offset, uint32_t flags,
		 struct nbdkit_extents *extents)
{
	const uint32_t bs = L->block_size;
	uint8_t buf[8 + 16 * LBA_STATUS_MAX];
	struct onbd_lba_status d[LBA_STATUS_MAX];
	struct onbd_thread *t;
	uint64_t lba = offset / bs, end = (offset + count + bs - 1) / bs;

	if (atomic_load_explicit(&onbd.gone, memory_order_relaxed))
		return onbd_gone();
	if (!(t = onbd_thread()))
		return -1;
	while (lba < end) {
		uint8_t cdb[16];
		uint64_t before;
		size_t got;
		int n, r;

		onbd_cdb_get_lba_status(cdb, lba, sizeof(buf));
		r = onbd_exec(t, L, cdb, sizeof(cdb), OSTOR_DIR_FROM_DEVICE, buf, sizeof(buf), &got);
		if (r < 0)
			return onbd_fail(r, false, "%s: GET LBA STATUS at LBA %" PRIu64, L->name, lba);
		n = onbd_parse_lba_status(buf, got, d, LBA_STATUS_MAX);
		if (n <= 0 || d[0].lba > lba) {
			nbdkit_error("%s: GET LBA STATUS at LBA %" PRIu64 " returned no usable descriptor",
				     L->name, lba);
			errno = EIO;
			return -1;
		}
		before = lba;
		for (int i = 0; i < n && lba < end; i++) {
			uint64_t dend = d[i].lba + d[i].blocks;
			uint32_t type = 0;

			if (d[i].lba > lba || dend <= lba)
				break;        /* not contiguous: ask again from lba */
			if (d[i].status == 1 || d[i].status == 2)
				type = NBDKIT_EXTENT_HOLE | (L->lbprz ? NBDKIT_EXTENT_ZERO : 0);
			if (nbdkit_add_extent(extents, lba * bs, (dend - lba) * bs, type) < 0)
				return -1;
			lba = dend;
			if (flags & NBDKIT_FLAG_REQ_ONE)
				return 0;
		}
		if (lba == before) {
			nbdkit_error("%s: GET LBA STATUS at LBA %" PRIu64 " does not cover that LBA",
				     L->name, lba);
			errno = EIO;
			return -1;
		}
	}
	return 0;
}
