/*
 * lib/core/block.c - block helpers over the transport-neutral task API:
 * capacity discovery, bounded and split READ/WRITE, sticky flush errors.
 */
#include "core/backend.h"

#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Unit attentions, BUSY and transport errors are retried this many
 * times per command. */
#define MAX_RETRIES 5

OSTOR_API const char *ostor_peripheral_type_name(int type)
{
	switch (type) {
	case 0x00: return "disk";
	case 0x01: return "tape";
	case 0x02: return "printer";
	case 0x03: return "processor";
	case 0x04: return "worm";
	case 0x05: return "cdrom";
	case 0x06: return "scanner";
	case 0x07: return "optical";
	case 0x08: return "changer";
	case 0x09: return "communications";
	case 0x0c: return "raid";
	case 0x0d: return "enclosure";
	case 0x0e: return "rbc";
	case 0x0f: return "card-reader";
	case 0x11: return "osd";
	case 0x14: return "zbc";
	case 0x1e: return "wlun";
	case 0x1f: return "unknown";
	default: return "reserved";
	}
}

/* The block helpers reuse one cached task per device, so a read or write
 * allocates nothing once the device is warm (several threads at once
 * simply allocate the extra ones). */
static int get_task(ostor_device *dev, ostor_task **t)
{
	pthread_mutex_lock(&dev->lock);
	*t = dev->spare_task;
	dev->spare_task = NULL;
	pthread_mutex_unlock(&dev->lock);
	if (*t)
		return 0;
	return ostor_task_new(dev, t);
}

static void put_task(ostor_device *dev, ostor_task *t)
{
	if (!t)
		return;
	pthread_mutex_lock(&dev->lock);
	if (!dev->spare_task) {
		dev->spare_task = t;
		t = NULL;
	}
	pthread_mutex_unlock(&dev->lock);
	ostor_task_free(t);
}

/* A unit attention as a device event.  "Reset occurred" (29h) also greets
 * the first command after power-on: only news for a LUN already in use. */
static void report_unit_attention(ostor_device *dev, uint32_t target, uint32_t lun,
				  const struct ostor_scsi_sense *s)
{
	if (s->asc == 0x29) {
		struct ostori_lun_state *st;
		bool seen;

		pthread_mutex_lock(&dev->lock);
		st = ostori_lun_state(dev, target, lun);
		seen = st && st->seen;
		pthread_mutex_unlock(&dev->lock);
		if (!seen)
			return;
	}
	ostori_post_unit_attention(dev, target, lun, s->asc, s->ascq);
}

/* A deferred error (sense 71h/73h) reports a command that completed
 * earlier, typically a write the device acknowledged from its cache: the
 * LUN's data may be lost, which flush and close report from now on.  The
 * command that carried the sense was not run (SPC-4 4.5.5): sent again. */
static void note_deferred_error(ostor_device *dev, uint32_t target, uint32_t lun,
				const struct ostor_scsi_sense *s)
{
	struct ostori_lun_state *st;

	ostor_err(dev->ctx, "%s %u:%u: deferred error, sense key %xh %02xh/%02xh: data written earlier "
		  "may be lost", dev->spec, target, lun, s->key, s->asc, s->ascq);
	pthread_mutex_lock(&dev->lock);
	st = ostori_lun_state(dev, target, lun);
	if (st) {
		if (!st->sticky_error) {
			st->sticky_error = OSTOR_ERROR_IO;
			st->sticky_deferred = true;
		}
		st->dirty = true;
	}
	pthread_mutex_unlock(&dev->lock);
}

/* A command that ended in a transport error is sent again: the transport
 * has recovered (reset recovery on USB) or the next submission fails, and
 * what the block helpers and the LUN queries send may be repeated - the
 * kernel's SCSI layer retries them too. */
static void note_transport_retry(ostor_device *dev, uint32_t target, uint32_t lun, uint8_t opcode)
{
	ostor_info(dev->ctx, "%s %u:%u: command %02xh ended in a transport error, sending it again",
		   dev->spec, target, lun, opcode);
}

/*
 * Run one command, retrying unit attentions, deferred errors, BUSY and
 * transport errors.  Returns 0 once the
 * task completed with any other answer (the caller reads its status and
 * sense), or a transport error.
 */
int ostori_exec(ostor_task *t, uint32_t target, uint32_t lun,
		const struct ostor_cdb *cdb, enum ostor_dir dir, void *buf, size_t len)
{
	int r;

	for (int attempt = 0;; attempt++) {
		struct ostor_scsi_sense s = OSTOR_SCSI_SENSE_INIT;

		ostor_task_reset(t);
		ostor_task_set_lun(t, target, lun);
		ostor_task_set_cdb(t, cdb->bytes, cdb->len);
		r = ostor_task_set_buffer(t, len ? dir : OSTOR_DIR_NONE, buf, len);
		if (r < 0)
			return r;
		r = ostor_task_execute(t);
		if (r < 0)
			return r;
		if (t->result == OSTOR_RESULT_GOOD || attempt >= MAX_RETRIES)
			return 0;
		if (t->result == OSTOR_RESULT_BUSY) {
			ostori_stats_event(t->dev, retries);
			usleep(1000u << (attempt < 6 ? attempt : 6));
			continue;
		}
		if (t->result == OSTOR_RESULT_TRANSPORT_ERROR) {
			ostori_stats_event(t->dev, retries);
			note_transport_retry(t->dev, target, lun, cdb->bytes[0]);
			continue;
		}
		if (t->result == OSTOR_RESULT_CHECK_CONDITION &&
		    ostor_scsi_parse_sense(t->sense, t->sense_len, &s) == 0 && s.deferred) {
			ostori_stats_event(t->dev, retries);
			note_deferred_error(t->dev, target, lun, &s);
			continue;
		}
		if (t->result == OSTOR_RESULT_CHECK_CONDITION && s.valid &&
		    s.key == OSTOR_SCSI_SENSE_UNIT_ATTENTION) {
			ostori_stats_event(t->dev, retries);
			ostor_dbg(t->dev->ctx, "%s %u:%u: unit attention %02xh/%02xh, retrying",
				  t->dev->spec, target, lun, s.asc, s.ascq);
			report_unit_attention(t->dev, target, lun, &s);
			if (s.asc == 0x2a && s.ascq == 0x09) {
				/* Capacity changed: rediscover before the next I/O. */
				pthread_mutex_lock(&t->dev->lock);
				struct ostori_lun_state *st = ostori_lun_state(t->dev, target, lun);
				if (st)
					st->known = false;
				pthread_mutex_unlock(&t->dev->lock);
			}
			continue;
		}
		return 0;
	}
}

/* ostori_exec, then anything but GOOD is the error matching how it failed
 * (message set). */
static int exec_cmd(ostor_task *t, uint32_t target, uint32_t lun,
		    const struct ostor_cdb *cdb, enum ostor_dir dir, void *buf, size_t len)
{
	int r = ostori_exec(t, target, lun, cdb, dir, buf, len);

	if (r < 0)
		return r;
	return t->result == OSTOR_RESULT_GOOD ? 0 : ostor_task_error(t);
}

static void trim_copy(char *dst, size_t dstlen, const char *src)
{
	size_t n = strnlen(src, dstlen - 1);

	while (n && (src[n - 1] == ' ' || src[n - 1] == '\0'))
		n--;
	memcpy(dst, src, n);
	dst[n] = '\0';
}

static int discover(ostor_device *dev, ostor_task *t, uint32_t target, uint32_t lun,
		    struct ostor_lun_info *info, struct ostori_provisioning *prov)
{
	uint8_t buf[256];
	struct ostor_cdb cdb;
	struct ostor_scsi_inquiry inq = OSTOR_SCSI_INQUIRY_INIT;
	struct ostor_scsi_read_capacity cap = OSTOR_SCSI_READ_CAPACITY_INIT;
	bool vpd_b0 = false, vpd_80 = false, vpd_b2 = false;
	size_t n;
	int r;

	memset(info, 0, sizeof(*info));
	memset(prov, 0, sizeof(*prov));
	info->target = target;
	info->lun = lun;

	ostor_scsi_cdb_inquiry(&cdb, 0, 0, 96);
	memset(buf, 0, sizeof(buf));
	r = exec_cmd(t, target, lun, &cdb, OSTOR_DIR_FROM_DEVICE, buf, 96);
	if (r < 0)
		return ostori_error_wrap(r, "INQUIRY of %s target %u lun %u failed", dev->spec, target, lun);
	r = ostor_scsi_parse_inquiry(buf, ostor_task_transferred(t), &inq);
	if (r < 0)
		return ostori_error_wrap(OSTOR_ERROR_PROTOCOL, "bad INQUIRY data from %s target %u lun %u",
					 dev->spec, target, lun);
	if (inq.peripheral_qualifier != 0)
		return ostori_error(OSTOR_ERROR_NOT_FOUND,
				    "%s has no logical unit at target %u lun %u (peripheral qualifier %u)",
				    dev->spec, target, lun, inq.peripheral_qualifier);
	info->peripheral_type = inq.peripheral_type;
	info->removable = inq.removable;
	trim_copy(info->vendor, sizeof(info->vendor), inq.vendor);
	trim_copy(info->product, sizeof(info->product), inq.product);
	trim_copy(info->revision, sizeof(info->revision), inq.revision);

	/* Supported VPD pages: trust only the transferred list. */
	ostor_scsi_cdb_inquiry(&cdb, 1, 0x00, sizeof(buf));
	if (exec_cmd(t, target, lun, &cdb, OSTOR_DIR_FROM_DEVICE, buf, sizeof(buf)) == 0) {
		n = ostor_task_transferred(t);
		vpd_80 = ostor_scsi_vpd_supports(buf, n, 0x80) > 0;
		vpd_b0 = ostor_scsi_vpd_supports(buf, n, 0xb0) > 0;
		vpd_b2 = ostor_scsi_vpd_supports(buf, n, 0xb2) > 0;
	}
	if (vpd_80) {
		ostor_scsi_cdb_inquiry(&cdb, 1, 0x80, sizeof(buf));
		if (exec_cmd(t, target, lun, &cdb, OSTOR_DIR_FROM_DEVICE, buf, sizeof(buf)) == 0)
			ostor_scsi_parse_vpd_serial(buf, ostor_task_transferred(t),
						    info->serial, sizeof(info->serial));
	}

	/* Media state: NOT READY / MEDIUM NOT PRESENT is not an error here. */
	ostor_scsi_cdb_test_unit_ready(&cdb);
	r = exec_cmd(t, target, lun, &cdb, OSTOR_DIR_NONE, NULL, 0);
	if (r == OSTOR_ERROR_NO_MEDIUM) {
		info->medium_present = 0;
		ostori_clear_error();
		return 0;
	}
	info->medium_present = 1;

	ostor_scsi_cdb_read_capacity10(&cdb);
	memset(buf, 0, 8);
	r = exec_cmd(t, target, lun, &cdb, OSTOR_DIR_FROM_DEVICE, buf, 8);
	if (r == OSTOR_ERROR_NO_MEDIUM) {
		info->medium_present = 0;
		ostori_clear_error();
		return 0;
	}
	if (r < 0)
		return ostori_error_wrap(r, "READ CAPACITY(10) of %s target %u lun %u failed",
					 dev->spec, target, lun);
	r = ostor_scsi_parse_read_capacity10(buf, ostor_task_transferred(t), &cap);
	if (r < 0)
		return ostori_error(OSTOR_ERROR_PROTOCOL,
				    "%s target %u lun %u returned %zu bytes of READ CAPACITY(10) data (8 needed)",
				    dev->spec, target, lun, ostor_task_transferred(t));
	/* (16) when the 10-byte answer saturates, or to learn provisioning
	 * and protection when the device has them. */
	if (cap.last_lba == 0xffffffffu || inq.protect || vpd_b2) {
		struct ostor_scsi_read_capacity cap16 = OSTOR_SCSI_READ_CAPACITY_INIT;

		ostor_scsi_cdb_read_capacity16(&cdb, 32);
		memset(buf, 0, 32);
		r = exec_cmd(t, target, lun, &cdb, OSTOR_DIR_FROM_DEVICE, buf, 32);
		if (r == 0 && ostor_scsi_parse_read_capacity16(buf, ostor_task_transferred(t), &cap16) == 0) {
			cap = cap16;
			info->thin_provisioned = cap16.lbpme;
		} else if (cap.last_lba == 0xffffffffu) {
			return ostori_error_wrap(r < 0 ? r : OSTOR_ERROR_PROTOCOL,
						 "%s target %u lun %u has more than 2^32 blocks but READ CAPACITY(16) failed",
						 dev->spec, target, lun);
		}
		ostori_clear_error();
	}
	if (cap.block_size == 0 || (cap.block_size & (cap.block_size - 1)) || cap.block_size > (1u << 20) ||
	    cap.blocks == 0)
		return ostori_error(OSTOR_ERROR_PROTOCOL,
				    "%s target %u lun %u reports an unusable geometry: %llu blocks of %u bytes",
				    dev->spec, target, lun, (unsigned long long)cap.blocks, cap.block_size);
	info->block_size = cap.block_size;
	info->blocks = cap.blocks;

	/* Transfer limit: backend bytes, Block Limits VPD, 16-bit field of
	 * READ(10) is not a limit since we switch to READ(16). */
	{
		uint64_t max = 0xffffffffu, dma_max;

		if (dev->max_transfer_bytes)
			max = OSTOR_MIN(max, dev->max_transfer_bytes / cap.block_size);
		/* Buffers the device reaches without a copy are bounded by the
		 * device alone, not by the bounce buffers. */
		dma_max = dev->max_dma_transfer_bytes ? dev->max_dma_transfer_bytes / cap.block_size : max;
		if (vpd_b0) {
			struct ostor_scsi_vpd_block_limits bl = OSTOR_SCSI_VPD_BLOCK_LIMITS_INIT;

			ostor_scsi_cdb_inquiry(&cdb, 1, 0xb0, 64);
			if (exec_cmd(t, target, lun, &cdb, OSTOR_DIR_FROM_DEVICE, buf, 64) == 0 &&
			    ostor_scsi_parse_vpd_block_limits(buf, ostor_task_transferred(t), &bl) == 0) {
				if (bl.max_transfer_len) {
					max = OSTOR_MIN(max, bl.max_transfer_len);
					dma_max = OSTOR_MIN(dma_max, bl.max_transfer_len);
				}
				prov->max_unmap_blocks = bl.max_unmap_lba_count;
				prov->max_unmap_descs = bl.max_unmap_descriptor_count;
				prov->max_write_same_blocks = bl.max_write_same_len;
				prov->max_compare_write_blocks = bl.max_compare_write_len;
			}
			ostori_clear_error();
		}
		if (vpd_b2) {
			struct ostor_scsi_vpd_lbp lbp = OSTOR_SCSI_VPD_LBP_INIT;

			ostor_scsi_cdb_inquiry(&cdb, 1, 0xb2, 64);
			if (exec_cmd(t, target, lun, &cdb, OSTOR_DIR_FROM_DEVICE, buf, 64) == 0 &&
			    ostor_scsi_parse_vpd_lbp(buf, ostor_task_transferred(t), &lbp) == 0) {
				prov->unmap = lbp.lbpu;
				prov->ws_unmap = lbp.lbpws;
			}
			ostori_clear_error();
		}
		if (max == 0)
			max = 1;
		info->max_transfer_blocks = (uint32_t)max;
		if (dev->backend->lun_limits)
			dev->backend->lun_limits(dev, target, lun, info->block_size, max * info->block_size);
		prov->max_dma_transfer_blocks = (uint32_t)OSTOR_MAX(OSTOR_MIN(dma_max, 0xffffffffu), max);
	}

	/* Write protect: MODE SENSE(6), then (10) for devices without (6). */
	if (info->peripheral_type == OSTOR_TYPE_CDROM) {
		info->write_protected = 1;
	} else {
		struct ostor_scsi_mode_header mh;

		ostor_scsi_cdb_mode_sense6(&cdb, 1, 0, 0x3f, 0, 192);
		r = exec_cmd(t, target, lun, &cdb, OSTOR_DIR_FROM_DEVICE, buf, 192);
		if (r == 0 && ostor_scsi_parse_mode_sense6(buf, ostor_task_transferred(t), &mh) == 0) {
			info->write_protected = mh.write_protected;
		} else {
			ostor_scsi_cdb_mode_sense10(&cdb, 1, 0, 0, 0x3f, 0, 192);
			r = exec_cmd(t, target, lun, &cdb, OSTOR_DIR_FROM_DEVICE, buf, 192);
			if (r == 0 && ostor_scsi_parse_mode_sense10(buf, ostor_task_transferred(t), &mh) == 0)
				info->write_protected = mh.write_protected;
			else
				ostor_dbg(dev->ctx, "%s %u:%u: no MODE SENSE; assuming writable",
					  dev->spec, target, lun);
		}
		ostori_clear_error();
	}
	return 0;
}

/* Cached info for the block helpers, discovering on first use. */
static int lun_info_cached(ostor_device *dev, ostor_task *t, uint32_t target, uint32_t lun,
			   struct ostor_lun_info *info, bool refresh)
{
	struct ostori_provisioning prov;
	struct ostori_lun_state *st;
	int r;

	pthread_mutex_lock(&dev->lock);
	st = ostori_lun_state(dev, target, lun);
	if (!st) {
		pthread_mutex_unlock(&dev->lock);
		return ostori_error(OSTOR_ERROR_NO_MEM, "out of memory");
	}
	if (st->known && !refresh) {
		*info = st->info;
		pthread_mutex_unlock(&dev->lock);
		/* (Again after the cache forgot it: a medium change.) */
		if (OSTOR_UNLIKELY(dev->bcache != NULL))
			ostori_bcache_lun_known(dev, target, lun, info->block_size,
						info->medium_present ? info->blocks : 0);
		return 0;
	}
	pthread_mutex_unlock(&dev->lock);

	r = discover(dev, t, target, lun, info, &prov);
	if (r < 0)
		return r;
	pthread_mutex_lock(&dev->lock);
	st = ostori_lun_state(dev, target, lun);
	if (st) {
		st->prov = prov;
		st->info = *info;
		st->known = info->medium_present;
		st->seen = true;
	}
	pthread_mutex_unlock(&dev->lock);
	if (dev->bcache)
		ostori_bcache_lun_known(dev, target, lun, info->block_size,
					info->medium_present ? info->blocks : 0);
	return 0;
}

/* The handle of an open device: NULL and closed handles are refused (a
 * handle used after ostor_close is found missing from the registry). */
static int check_dev(ostor_device *dev, const char *fn)
{
	if (!dev)
		return ostori_error(OSTOR_ERROR_INVALID_PARAM, "%s: NULL device", fn);
	if (!ostori_device_is_live(dev))
		return ostori_error(OSTOR_ERROR_INVALID_PARAM,
				    "%s: not an open device handle (used after ostor_close?)", fn);
	return 0;
}

/* struct ostor_lun_info grows (lib/util/sized.h): add a version when
 * appending fields. */
static const struct ostori_sized lun_info_sized =
	OSTORI_SIZED(struct ostor_lun_info, OSTOR_LUN_INFO_INIT,
		     OSTORI_FIELD_END(struct ostor_lun_info, thin_provisioned));
OSTORI_SIZED_CHECK(struct ostor_lun_info, thin_provisioned);

OSTOR_API int ostor_lun_info(ostor_device *dev, uint32_t target, uint32_t lun,
			     struct ostor_lun_info *info)
{
	struct ostor_lun_info full;
	ostor_task *t;
	int r;

	if ((r = check_dev(dev, __func__)))
		return r;
	if ((r = ostori_sized_check(&lun_info_sized, info, __func__, "info")))
		return r;
	r = get_task(dev, &t);
	if (r < 0)
		return r;
	memset(&full, 0, sizeof(full));
	r = lun_info_cached(dev, t, target, lun, &full, true);
	put_task(dev, t);
	if (r == 0)
		ostori_sized_put(&lun_info_sized, info, &full);
	return r;
}

/* ---- asynchronous block requests ------------------------------------- */

/* A read or write of whole blocks: split at the transfer limit, one part in
 * flight at a time (parallelism comes from many requests), each part
 * retried on unit attention and BUSY.  Requests are recycled per device,
 * so a warm device allocates nothing per request. */
struct block_req {
	ostor_device *dev;
	ostor_task *task;
	uint32_t target, lun;
	bool write;
	uint64_t lba;               /* of the part in flight */
	uint32_t left;              /* blocks from lba on */
	uint32_t chunk;             /* blocks of the part in flight */
	uint32_t block_size, max_blocks;
	int attempt;
	struct iovec iov[OSTOR_IOV_MAX];
	int iovcnt;
	size_t done_bytes;          /* of the whole request */
	bool bypass;                /* the block cache's own: past it */
	const void *sync_waiter;    /* the thread in ostor_read/write_blocks waiting for it (&tls_self) */
	struct ostor_block_completion completion;
	struct block_req *next;     /* free list */
};

static struct block_req *req_get(ostor_device *dev)
{
	struct ostori_channel *ch = ostori_my_channel(dev);
	struct block_req *rq;

	if (ch) {
		/* An owner's own recycled requests: no lock. */
		void **head = ostori_channel_block_reqs(ch);

		rq = *head;
		if (rq) {
			*head = rq->next;
			return rq;
		}
	} else {
		pthread_mutex_lock(&dev->lock);
		rq = dev->free_block_reqs;
		if (rq)
			dev->free_block_reqs = rq->next;
		pthread_mutex_unlock(&dev->lock);
		if (rq)
			return rq;
	}
	rq = calloc(1, sizeof(*rq));
	if (!rq) {
		ostori_error(OSTOR_ERROR_NO_MEM, "out of memory");
		return NULL;
	}
	if (ostor_task_new(dev, &rq->task) < 0) {
		free(rq);
		return NULL;
	}
	rq->dev = dev;
	return rq;
}

static void req_put(struct block_req *rq)
{
	ostor_device *dev = rq->dev;
	struct ostori_channel *ch = ostori_my_channel(dev);

	memset(&rq->completion, 0, sizeof(rq->completion));
	if (ch) {
		void **head = ostori_channel_block_reqs(ch);

		rq->next = *head;
		*head = rq;
		return;
	}
	pthread_mutex_lock(&dev->lock);
	rq->next = dev->free_block_reqs;
	dev->free_block_reqs = rq;
	pthread_mutex_unlock(&dev->lock);
}

void ostori_block_reqs_give_back(ostor_device *dev, void *list)
{
	struct block_req *rq = list;

	while (rq) {
		struct block_req *next = rq->next;

		pthread_mutex_lock(&dev->lock);
		rq->next = dev->free_block_reqs;
		dev->free_block_reqs = rq;
		pthread_mutex_unlock(&dev->lock);
		rq = next;
	}
}

void ostori_block_reqs_free(ostor_device *dev)
{
	struct block_req *rq;

	while ((rq = dev->free_block_reqs)) {
		dev->free_block_reqs = rq->next;
		ostor_task_free(rq->task);
		free(rq);
	}
}

/* The callback, once; the error message is set on this thread first. */
static void req_finish(struct block_req *rq, int result)
{
	struct ostor_block_completion c = rq->completion;
	ostor_device *dev = rq->dev;

	req_put(rq);
	if (c.callback)
		c.callback(dev, result, c.user_data);
	if (c.free)
		c.free(c.user_data);
}

static void part_done(ostor_task *t, void *ud);

/* Its address names the calling thread (block_req.sync_waiter). */
static _Thread_local char tls_self;

/* Every byte of the buffer is memory the device reaches without a copy. */
static bool device_reaches(ostor_device *dev, const struct iovec *iov, int iovcnt)
{
	if (!dev->backend->is_dma)
		return false;
	for (int i = 0; i < iovcnt; i++)
		if (!dev->backend->is_dma(dev, iov[i].iov_base, iov[i].iov_len))
			return false;
	return true;
}

/* Submit the part at rq->lba (or the same part again after a retry). */
static int part_submit(struct block_req *rq)
{
	ostor_task *t = rq->task;
	struct iovec part[OSTOR_IOV_MAX];
	size_t skip = rq->done_bytes, bytes, want;
	struct ostor_cdb cdb;
	int n = 0, r;

	rq->chunk = OSTOR_MIN(rq->left, rq->max_blocks);
	bytes = (size_t)rq->chunk * rq->block_size;
	/* The caller's segments that hold bytes [done, done + bytes). */
	want = bytes;
	for (int i = 0; i < rq->iovcnt && want; i++) {
		size_t len = rq->iov[i].iov_len;

		if (skip >= len) {
			skip -= len;
			continue;
		}
		part[n].iov_base = (uint8_t *)rq->iov[i].iov_base + skip;
		part[n].iov_len = OSTOR_MIN(len - skip, want);
		want -= part[n].iov_len;
		skip = 0;
		n++;
	}
	if (rq->lba + rq->chunk - 1 <= 0xffffffffu && rq->chunk <= 0xffff)
		r = rq->write ? ostor_scsi_cdb_write10(&cdb, (uint32_t)rq->lba, (uint16_t)rq->chunk, 0)
			      : ostor_scsi_cdb_read10(&cdb, (uint32_t)rq->lba, (uint16_t)rq->chunk, 0);
	else
		r = rq->write ? ostor_scsi_cdb_write16(&cdb, rq->lba, rq->chunk, 0)
			      : ostor_scsi_cdb_read16(&cdb, rq->lba, rq->chunk, 0);
	if (r < 0)
		return r;
	ostor_task_reset(t);
	ostor_task_set_lun(t, rq->target, rq->lun);
	ostor_task_set_cdb(t, cdb.bytes, cdb.len);
	r = ostor_task_set_iov(t, rq->write ? OSTOR_DIR_TO_DEVICE : OSTOR_DIR_FROM_DEVICE, part, n);
	if (r < 0)
		return r;
	t->bcache_bypass = rq->bypass;
	/* The parts of a synchronous block helper's request, submitted by
	 * the thread that waits for it (from the helper, or from part_done
	 * run by its settle or its own event handling), complete inside
	 * their submit straight to it (ostori_sync_*): it settles before it
	 * waits again.  Not on any other thread: part_done runs wherever
	 * events are handled, on a thread that may be inside a synchronous
	 * call of its own (ostor_task_execute, the discovery of a LUN) that
	 * would never settle another thread's task. */
	if (rq->sync_waiter == &tls_self)
		return ostori_sync_submit(t, (struct ostor_completion){ part_done, rq, NULL });
	return ostor_task_submit(t, (struct ostor_completion){ part_done, rq, NULL });
}

/* Whether a failed part is worth sending again (unit attention, BUSY,
 * a transport error). */
static bool part_retry(struct block_req *rq)
{
	ostor_task *t = rq->task;
	struct ostor_scsi_sense s = OSTOR_SCSI_SENSE_INIT;

	if (rq->attempt++ >= MAX_RETRIES)
		return false;
	if (t->result == OSTOR_RESULT_BUSY)
		return true;
	if (t->result == OSTOR_RESULT_TRANSPORT_ERROR) {
		note_transport_retry(rq->dev, rq->target, rq->lun, t->cdb[0]);
		return true;
	}
	if (t->result != OSTOR_RESULT_CHECK_CONDITION ||
	    ostor_scsi_parse_sense(t->sense, t->sense_len, &s) < 0)
		return false;
	if (s.deferred) {
		note_deferred_error(rq->dev, rq->target, rq->lun, &s);
		return true;
	}
	if (s.key != OSTOR_SCSI_SENSE_UNIT_ATTENTION)
		return false;
	report_unit_attention(rq->dev, rq->target, rq->lun, &s);
	/* The cache's write-out or read-ahead is for the medium it had: not
	 * sent to another one (the cache dropped its lines already). */
	if (rq->bypass && (s.asc == 0x28 || (s.asc == 0x2a && s.ascq == 0x09)))
		return false;
	ostor_dbg(rq->dev->ctx, "%s %u:%u: unit attention %02xh/%02xh, retrying", rq->dev->spec,
		  rq->target, rq->lun, s.asc, s.ascq);
	if (s.asc == 0x2a && s.ascq == 0x09) {
		/* Capacity changed: rediscover before the next request. */
		pthread_mutex_lock(&rq->dev->lock);
		struct ostori_lun_state *st = ostori_lun_state(rq->dev, rq->target, rq->lun);
		if (st)
			st->known = false;
		pthread_mutex_unlock(&rq->dev->lock);
	}
	return true;
}

static void part_done(ostor_task *t, void *ud)
{
	struct block_req *rq = ud;
	size_t bytes = (size_t)rq->chunk * rq->block_size;
	const char *what = rq->write ? "WRITE" : "READ";
	int r;

	if (t->result != OSTOR_RESULT_GOOD) {
		if (part_retry(rq)) {
			ostori_stats_event(rq->dev, retries);
			if ((r = part_submit(rq)) == 0)
				return;
			/* The task was reset for the retry: the reason is the
			 * submission's (a device gone, say), not its last result. */
			req_finish(rq, ostori_error_wrap(r, "%s of %u blocks at LBA %llu on %s target %u lun %u "
							 "failed", what, rq->chunk, (unsigned long long)rq->lba,
							 rq->dev->spec, rq->target, rq->lun));
			return;
		}
		r = ostor_task_error(t);
		req_finish(rq, ostori_error_wrap(r, "%s of %u blocks at LBA %llu on %s target %u lun %u failed",
						 what, rq->chunk, (unsigned long long)rq->lba, rq->dev->spec,
						 rq->target, rq->lun));
		return;
	}
	if (ostor_task_transferred(t) != bytes) {
		/* Never report a short transfer as done. */
		req_finish(rq, ostori_error(OSTOR_ERROR_IO,
					    "%s of %u blocks at LBA %llu on %s target %u lun %u: the device %s "
					    "only %zu of %zu bytes", what, rq->chunk, (unsigned long long)rq->lba,
					    rq->dev->spec, rq->target, rq->lun,
					    rq->write ? "confirmed" : "returned", ostor_task_transferred(t), bytes));
		return;
	}
	rq->done_bytes += bytes;
	rq->lba += rq->chunk;
	rq->left -= rq->chunk;
	rq->attempt = 0;
	if (!rq->left) {
		req_finish(rq, 0);
		return;
	}
	r = part_submit(rq);
	if (r < 0)
		req_finish(rq, r);
}

/* The LUN's capacity (learned on first use) and provisioning, and the
 * checks every block helper makes: medium present, lba..lba+count-1 inside
 * (count > 0, checked by the caller), not write-protected for a write. */
static int check_range(ostor_device *dev, ostor_task *t, uint32_t target, uint32_t lun, uint64_t lba,
		       uint64_t count, bool write, struct ostor_lun_info *info,
		       struct ostori_provisioning *prov)
{
	struct ostori_lun_state *st;
	int r = lun_info_cached(dev, t, target, lun, info, false);

	if (r < 0)
		return r;
	if (!info->medium_present)
		return ostori_error(OSTOR_ERROR_NO_MEDIUM, "%s target %u lun %u: no medium present",
				    dev->spec, target, lun);
	if (lba >= info->blocks || count > info->blocks - lba)
		return ostori_error(OSTOR_ERROR_OUT_OF_RANGE,
				    "%s target %u lun %u: blocks %llu..%llu are past the end (the LUN has %llu blocks)",
				    dev->spec, target, lun, (unsigned long long)lba,
				    (unsigned long long)(lba + count - 1), (unsigned long long)info->blocks);
	if (write && info->write_protected)
		return ostori_error(OSTOR_ERROR_WRITE_PROTECTED, "%s target %u lun %u is write protected",
				    dev->spec, target, lun);
	if (prov) {
		pthread_mutex_lock(&dev->lock);
		st = ostori_lun_state(dev, target, lun);
		if (st)
			*prov = st->prov;
		pthread_mutex_unlock(&dev->lock);
		if (!st)
			return ostori_error(OSTOR_ERROR_NO_MEM, "out of memory");
	}
	return 0;
}

/* Dirty before the first byte goes out: a failed write still needs the
 * flush at close to report. */
static void mark_dirty(ostor_device *dev, uint32_t target, uint32_t lun)
{
	struct ostori_lun_state *st;

	pthread_mutex_lock(&dev->lock);
	st = ostori_lun_state(dev, target, lun);
	if (st)
		st->dirty = true;
	pthread_mutex_unlock(&dev->lock);
}

/* iov/iovcnt, or one buffer (single) whose length follows from the
 * block size once the LUN is known. */
static int block_submit(ostor_device *dev, uint32_t target, uint32_t lun, uint64_t lba,
			uint32_t count, const struct iovec *iov, int iovcnt, void *single, bool write,
			bool bypass, bool sync, struct ostor_block_completion c)
{
	const char *fn = write ? "ostor_write_blocks" : "ostor_read_blocks";
	struct ostori_provisioning prov = { 0 };
	struct ostor_lun_info info;
	struct block_req *rq = NULL;
	size_t total = 0;
	int r;

	/* The cache's own I/O (bypass) also runs while the device closes. */
	if (!bypass && (r = check_dev(dev, fn)))
		goto fail;
	if (count == 0) {
		r = ostori_error(OSTOR_ERROR_INVALID_PARAM, "%s: no blocks to transfer (count 0)", fn);
		goto fail;
	}
	if (single) {
		iov = NULL;
		iovcnt = 0;
	} else if (iovcnt < 1 || iovcnt > OSTOR_IOV_MAX || !iov) {
		r = ostori_error(OSTOR_ERROR_INVALID_PARAM, "%s: 1 to %d buffer segments (got %d)", fn,
				 OSTOR_IOV_MAX, iovcnt);
		goto fail;
	}
	for (int i = 0; i < iovcnt; i++) {
		if (!iov[i].iov_base && iov[i].iov_len) {
			r = ostori_error(OSTOR_ERROR_INVALID_PARAM, "%s: segment %d has a NULL base", fn, i);
			goto fail;
		}
		total += iov[i].iov_len;
	}
	rq = req_get(dev);
	if (!rq) {
		r = OSTOR_ERROR_NO_MEM;
		goto fail;
	}
	/* The first request on a LUN learns its capacity (synchronously:
	 * ostor_lun_info beforehand keeps this path free of waiting). */
	r = check_range(dev, rq->task, target, lun, lba, count, write, &info,
			dev->max_dma_transfer_bytes ? &prov : NULL);
	if (r < 0)
		goto fail;
	if (single)
		total = (size_t)count * info.block_size;
	if (total != (size_t)count * info.block_size) {
		r = ostori_error(OSTOR_ERROR_INVALID_PARAM, "%s: %u blocks of %u bytes need %llu bytes of "
				 "buffer, not %zu", fn, count, info.block_size,
				 (unsigned long long)count * info.block_size, total);
		goto fail;
	}
	if (write)
		mark_dirty(dev, target, lun);
	rq->target = target;
	rq->lun = lun;
	rq->write = write;
	rq->lba = lba;
	rq->left = count;
	rq->block_size = info.block_size;
	rq->max_blocks = info.max_transfer_blocks ? info.max_transfer_blocks : count;
	if (dev->max_dma_transfer_bytes && prov.max_dma_transfer_blocks > rq->max_blocks &&
	    device_reaches(dev, single ? &(struct iovec){ single, total } : iov, single ? 1 : iovcnt))
		rq->max_blocks = prov.max_dma_transfer_blocks;
	rq->attempt = 0;
	rq->done_bytes = 0;
	rq->bypass = bypass;
	rq->sync_waiter = sync ? &tls_self : NULL;
	if (single) {
		rq->iov[0] = (struct iovec){ single, total };
		rq->iovcnt = 1;
	} else {
		memcpy(rq->iov, iov, (size_t)iovcnt * sizeof(*iov));
		rq->iovcnt = iovcnt;
	}
	rq->completion = c;
	r = part_submit(rq);
	if (r < 0) {
		memset(&rq->completion, 0, sizeof(rq->completion));
		goto fail;
	}
	return 0;
fail:
	if (rq)
		req_put(rq);
	if (c.free)
		c.free(c.user_data);
	return r;
}

OSTOR_API int ostor_readv_blocks_async(ostor_device *dev, uint32_t target, uint32_t lun, uint64_t lba,
				       uint32_t count, const struct iovec *iov, int iovcnt,
				       struct ostor_block_completion done)
{
	return block_submit(dev, target, lun, lba, count, iov, iovcnt, NULL, false, false, false, done);
}

OSTOR_API int ostor_writev_blocks_async(ostor_device *dev, uint32_t target, uint32_t lun, uint64_t lba,
					uint32_t count, const struct iovec *iov, int iovcnt,
					struct ostor_block_completion done)
{
	return block_submit(dev, target, lun, lba, count, iov, iovcnt, NULL, true, false, false, done);
}

static int block_submit_buf(ostor_device *dev, uint32_t target, uint32_t lun, uint64_t lba,
			    uint32_t count, void *buf, bool write, bool sync, struct ostor_block_completion c)
{
	if (!buf) {
		if (c.free)
			c.free(c.user_data);
		return ostori_error(OSTOR_ERROR_INVALID_PARAM, "NULL buffer for %u blocks", count);
	}
	return block_submit(dev, target, lun, lba, count, NULL, 0, buf, write, false, sync, c);
}

int ostori_block_internal(ostor_device *dev, uint32_t target, uint32_t lun, uint64_t lba, uint32_t count,
			  void *buf, bool write, struct ostor_block_completion c)
{
	return block_submit(dev, target, lun, lba, count, NULL, 0, buf, write, true, false, c);
}

OSTOR_API int ostor_read_blocks_async(ostor_device *dev, uint32_t target, uint32_t lun, uint64_t lba,
				      uint32_t count, void *buf, struct ostor_block_completion done)
{
	return block_submit_buf(dev, target, lun, lba, count, buf, false, false, done);
}

OSTOR_API int ostor_write_blocks_async(ostor_device *dev, uint32_t target, uint32_t lun, uint64_t lba,
				       uint32_t count, const void *buf, struct ostor_block_completion done)
{
	return block_submit_buf(dev, target, lun, lba, count, (void *)buf, true, false, done);
}

/* ---- the synchronous helpers, on the asynchronous ones ---------------- */

struct sync_wait {
	int done, result;
	char why[512];
};

static void sync_block_done(ostor_device *dev, int result, void *ud)
{
	struct sync_wait *w = ud;

	/* The message was set on the thread running us, which may not be
	 * the waiting one: carry it over. */
	if (result < 0)
		snprintf(w->why, sizeof(w->why), "%s", ostor_last_error());
	w->result = result;
	__atomic_store_n(&w->done, 1, __ATOMIC_RELEASE);
}

static int block_io(ostor_device *dev, uint32_t target, uint32_t lun, uint64_t lba,
		    uint32_t count, void *buf, bool write)
{
	struct sync_wait w = { 0 };
	int r;

	if ((r = check_dev(dev, write ? "ostor_write_blocks" : "ostor_read_blocks")))
		return r;
	if ((r = ostori_refuse_in_callback(dev->ctx, write ? "ostor_write_blocks" : "ostor_read_blocks")))
		return r;
	if (!buf && count)
		return ostori_error(OSTOR_ERROR_INVALID_PARAM, "NULL buffer for %u blocks", count);
	if (count == 0)
		return 0;
	r = block_submit_buf(dev, target, lun, lba, count, buf, write, true,
			     (struct ostor_block_completion){ sync_block_done, &w, NULL });
	if (r < 0) {
		ostori_sync_settle();
		return r;
	}
	while (!__atomic_load_n(&w.done, __ATOMIC_ACQUIRE)) {
		/* A part that completed inside its submit (its delivery may
		 * submit the next part: loop). */
		if (ostori_sync_settle())
			continue;
		r = ostori_wait_step(dev->ctx, 100);
		if (r == 0)
			sched_yield(); /* let the thread that completes us run */
	}
	ostori_sync_settle();
	if (w.result < 0)
		return ostori_error(w.result, "%s", w.why);
	return 0;
}

OSTOR_API int ostor_read_blocks(ostor_device *dev, uint32_t target, uint32_t lun,
				uint64_t lba, uint32_t count, void *buf)
{
	return block_io(dev, target, lun, lba, count, buf, false);
}

OSTOR_API int ostor_write_blocks(ostor_device *dev, uint32_t target, uint32_t lun,
				 uint64_t lba, uint32_t count, const void *buf)
{
	return block_io(dev, target, lun, lba, count, (void *)buf, true);
}

/* ---- provisioning and verification -------------------------------------- */

/* The start of a range helper: a task (*t, NULL on failure) and the
 * checks of check_range; a write marks the LUN dirty. */
static int range_begin(ostor_device *dev, const char *fn, uint32_t target, uint32_t lun, uint64_t lba,
		       uint64_t count, bool write, ostor_task **t, struct ostor_lun_info *info,
		       struct ostori_provisioning *prov)
{
	int r;

	*t = NULL;
	if ((r = check_dev(dev, fn)) || (r = ostori_refuse_in_callback(dev->ctx, fn)))
		return r;
	if (count == 0)
		return ostori_error(OSTOR_ERROR_INVALID_PARAM, "%s: no blocks (count 0)", fn);
	if ((r = get_task(dev, t)) < 0)
		return r;
	r = check_range(dev, *t, target, lun, lba, count, write, info, prov);
	if (r == 0 && write)
		mark_dirty(dev, target, lun);
	if (r < 0) {
		put_task(dev, *t);
		*t = NULL;
	}
	return r;
}

OSTOR_API int ostor_unmap_blocks(ostor_device *dev, uint32_t target, uint32_t lun, uint64_t lba,
				 uint64_t count)
{
	struct ostor_scsi_unmap_desc descs[16];
	struct ostori_provisioning prov;
	struct ostor_lun_info info;
	uint8_t params[8 + 16 * 16];
	ostor_task *t;
	int r;

	r = range_begin(dev, __func__, target, lun, lba, count, true, &t, &info, &prov);
	if (r == 0 && !prov.unmap)
		r = ostori_error(OSTOR_ERROR_NOT_SUPPORTED, "%s target %u lun %u does not support UNMAP "
				 "(Logical Block Provisioning VPD: LBPU 0)", dev->spec, target, lun);
	while (r == 0 && count) {
		uint32_t per = prov.max_unmap_blocks && prov.max_unmap_blocks != 0xffffffffu ?
			       prov.max_unmap_blocks : 0xffffffffu;
		size_t ndesc = prov.max_unmap_descs && prov.max_unmap_descs != 0xffffffffu ?
			       OSTOR_MIN((size_t)prov.max_unmap_descs, OSTOR_ARRAY_SIZE(descs)) :
			       OSTOR_ARRAY_SIZE(descs), n = 0;
		struct ostor_cdb cdb;
		int len;

		/* The per-command LBA limit bounds the sum of the descriptors. */
		for (uint64_t left = per; n < ndesc && count && left; n++) {
			uint32_t b = (uint32_t)OSTOR_MIN(OSTOR_MIN(count, left), (uint64_t)0xffffffffu);

			descs[n] = (struct ostor_scsi_unmap_desc){ lba, b };
			lba += b;
			count -= b;
			left -= b;
		}
		len = ostor_scsi_build_unmap_params(params, sizeof(params), descs, n);
		if (len < 0 || (r = ostor_scsi_cdb_unmap(&cdb, 0, (uint16_t)len)) < 0) {
			r = len < 0 ? len : r;
			break;
		}
		r = exec_cmd(t, target, lun, &cdb, OSTOR_DIR_TO_DEVICE, params, (size_t)len);
		if (r < 0)
			r = ostori_error_wrap(r, "UNMAP of %s target %u lun %u failed", dev->spec, target, lun);
	}
	put_task(dev, t);
	return r;
}

OSTOR_API int ostor_write_zeroes(ostor_device *dev, uint32_t target, uint32_t lun, uint64_t lba,
				 uint64_t count, int unmap)
{
	struct ostori_provisioning prov;
	struct ostor_lun_info info;
	uint8_t *zero = NULL;
	ostor_task *t;
	int r;

	r = range_begin(dev, __func__, target, lun, lba, count, true, &t, &info, &prov);
	if (r == 0 && !(zero = calloc(1, info.block_size)))
		r = ostori_error(OSTOR_ERROR_NO_MEM, "out of memory");
	while (r == 0 && count) {
		uint64_t max = prov.max_write_same_blocks ? prov.max_write_same_blocks : 0xffffffffu;
		uint32_t n = (uint32_t)OSTOR_MIN(OSTOR_MIN(count, max), (uint64_t)0xffffffffu);
		struct ostor_cdb cdb;

		/* WRITE SAME(16) of a zero block; UNMAP bit only where the
		 * device says it deallocates that way (and reads zeros back
		 * is what WRITE SAME of zeros guarantees either way). */
		ostor_scsi_cdb_write_same16(&cdb, lba, n, unmap && prov.ws_unmap ? OSTOR_SCSI_WS_UNMAP : 0);
		r = exec_cmd(t, target, lun, &cdb, OSTOR_DIR_TO_DEVICE, zero, info.block_size);
		if (r == OSTOR_ERROR_SCSI || r == OSTOR_ERROR_NOT_SUPPORTED) {
			/* No WRITE SAME: write the zeros. */
			ostori_clear_error();
			r = 0;
			break;
		}
		if (r < 0) {
			r = ostori_error_wrap(r, "WRITE SAME of %u blocks at LBA %llu on %s target %u lun %u failed",
					      n, (unsigned long long)lba, dev->spec, target, lun);
			break;
		}
		lba += n;
		count -= n;
	}
	put_task(dev, t);
	if (r == 0 && count) {
		uint32_t chunk = OSTOR_MAX(1u, (uint32_t)((1u << 20) / info.block_size));
		uint8_t *buf = calloc(chunk, info.block_size);

		if (!buf)
			r = ostori_error(OSTOR_ERROR_NO_MEM, "out of memory");
		while (r == 0 && count) {
			uint32_t n = (uint32_t)OSTOR_MIN(count, (uint64_t)chunk);

			r = ostor_write_blocks(dev, target, lun, lba, n, buf);
			lba += n;
			count -= n;
		}
		free(buf);
	}
	free(zero);
	return r;
}

OSTOR_API int ostor_verify_blocks(ostor_device *dev, uint32_t target, uint32_t lun, uint64_t lba,
				  uint64_t count)
{
	struct ostori_provisioning prov;
	struct ostor_lun_info info;
	ostor_task *t;
	int r;

	r = range_begin(dev, __func__, target, lun, lba, count, false, &t, &info, &prov);
	while (r == 0 && count) {
		uint32_t n = (uint32_t)OSTOR_MIN(count, (uint64_t)0xffffffffu);
		struct ostor_cdb cdb;

		/* BYTCHK 0: the device checks the medium, no data moves. */
		ostor_scsi_cdb_verify16(&cdb, lba, n, 0, 0);
		r = exec_cmd(t, target, lun, &cdb, OSTOR_DIR_NONE, NULL, 0);
		if (r < 0)
			r = ostori_error_wrap(r, "VERIFY of %u blocks at LBA %llu on %s target %u lun %u failed",
					      n, (unsigned long long)lba, dev->spec, target, lun);
		lba += n;
		count -= n;
	}
	put_task(dev, t);
	return r;
}

/* Blocks one COMPARE AND WRITE may carry on this LUN: the Block Limits
 * value, the transfer limit (SBC-3 bounds the former by the latter), and
 * what the transport moves in one command (twice the blocks: verify data
 * and write data).  0 when the LUN or the transport cannot do one. */
static uint32_t caw_max_blocks(const ostor_device *dev, const struct ostor_lun_info *info,
			       const struct ostori_provisioning *prov)
{
	uint32_t max = prov->max_compare_write_blocks;

	if (info->max_transfer_blocks)
		max = OSTOR_MIN(max, info->max_transfer_blocks);
	if (dev->max_transfer_bytes)
		max = (uint32_t)OSTOR_MIN((size_t)max, dev->max_transfer_bytes / (2 * (size_t)info->block_size));
	return max;
}

/* A failed COMPARE AND WRITE: a miscompare (with where, when the device
 * says) or whatever else went wrong. */
static int caw_error(ostor_device *dev, ostor_task *t, uint32_t target, uint32_t lun, uint64_t lba,
		     uint32_t count, int r, uint32_t *miscompare_offset)
{
	struct ostor_scsi_sense s = OSTOR_SCSI_SENSE_INIT;
	const uint8_t *sb;
	size_t slen = 0;
	uint32_t off;

	sb = ostor_task_sense(t, &slen);
	if (t->result != OSTOR_RESULT_CHECK_CONDITION || !sb ||
	    ostor_scsi_parse_sense(sb, slen, &s) < 0 || s.key != OSTOR_SCSI_SENSE_MISCOMPARE)
		return ostori_error_wrap(r, "COMPARE AND WRITE of %u blocks at LBA %llu on %s target %u lun %u failed",
					 count, (unsigned long long)lba, dev->spec, target, lun);
	/* INFORMATION: offset of the first differing byte in the data-out
	 * buffer, whose first half is the compare data (SBC-3 5.2). */
	off = s.info_valid && s.information < UINT32_MAX ? (uint32_t)s.information : UINT32_MAX;
	if (miscompare_offset)
		*miscompare_offset = off;
	if (off == UINT32_MAX)
		return ostori_error(OSTOR_ERROR_MISCOMPARE,
				    "COMPARE AND WRITE of %u blocks at LBA %llu on %s target %u lun %u: the blocks "
				    "differ from the compare data (the device did not say where); nothing was written: "
				    "read them again before retrying", count, (unsigned long long)lba, dev->spec,
				    target, lun);
	return ostori_error(OSTOR_ERROR_MISCOMPARE,
			    "COMPARE AND WRITE of %u blocks at LBA %llu on %s target %u lun %u: the blocks differ "
			    "from the compare data at byte %u; nothing was written: read them again before retrying",
			    count, (unsigned long long)lba, dev->spec, target, lun, off);
}

OSTOR_API int ostor_compare_and_write(ostor_device *dev, uint32_t target, uint32_t lun, uint64_t lba,
				      uint32_t count, const void *compare, const void *write,
				      uint32_t *miscompare_offset)
{
	struct ostori_provisioning prov;
	struct ostor_lun_info info;
	struct ostor_cdb cdb;
	uint8_t *buf = NULL;
	size_t bytes = 0;
	uint32_t max = 0;
	ostor_task *t;
	int r;

	if (!compare || !write)
		return ostori_error(OSTOR_ERROR_INVALID_PARAM, "%s: NULL %s buffer", __func__,
				    !compare ? "compare" : "write");
	/* Checked as a read: the LUN becomes dirty only once the command
	 * goes out, not when it is refused below. */
	r = range_begin(dev, __func__, target, lun, lba, count, false, &t, &info, &prov);
	if (r == 0 && info.write_protected)
		r = ostori_error(OSTOR_ERROR_WRITE_PROTECTED, "%s target %u lun %u is write protected",
				 dev->spec, target, lun);
	if (r == 0 && !prov.max_compare_write_blocks)
		r = ostori_error(OSTOR_ERROR_NOT_SUPPORTED, "%s target %u lun %u does not support COMPARE AND "
				 "WRITE (no Block Limits VPD page, or its MAXIMUM COMPARE AND WRITE LENGTH is 0)",
				 dev->spec, target, lun);
	if (r == 0 && !(max = caw_max_blocks(dev, &info, &prov)))
		r = ostori_error(OSTOR_ERROR_NOT_SUPPORTED, "%s moves at most %zu bytes per command, less than "
				 "the two %u-byte blocks of the smallest COMPARE AND WRITE", dev->spec,
				 dev->max_transfer_bytes, info.block_size);
	/* One command or none: split, the compare would no longer be
	 * atomic with the write. */
	if (r == 0 && count > max)
		r = ostori_error(OSTOR_ERROR_INVALID_PARAM, "%s: %s target %u lun %u takes at most %u blocks in "
				 "one COMPARE AND WRITE, not %u; compare and write at most %u blocks at a time",
				 __func__, dev->spec, target, lun, max, count, max);
	if (r == 0) {
		bytes = (size_t)count * info.block_size;
		if (!(buf = malloc(2 * bytes)))
			r = ostori_error(OSTOR_ERROR_NO_MEM, "out of memory");
	}
	if (r == 0) {
		/* The data-out buffer: verify data, then write data. */
		memcpy(buf, compare, bytes);
		memcpy(buf + bytes, write, bytes);
		r = ostor_scsi_cdb_compare_and_write(&cdb, lba, (uint8_t)count, 0);
	}
	if (r == 0) {
		mark_dirty(dev, target, lun);
		r = exec_cmd(t, target, lun, &cdb, OSTOR_DIR_TO_DEVICE, buf, 2 * bytes);
		if (r < 0)
			r = caw_error(dev, t, target, lun, lba, count, r, miscompare_offset);
		else if (ostor_task_transferred(t) != 2 * bytes)
			/* Never report a short transfer as done. */
			r = ostori_error(OSTOR_ERROR_IO, "COMPARE AND WRITE of %u blocks at LBA %llu on %s target "
					 "%u lun %u: the device confirmed only %zu of %zu bytes", count,
					 (unsigned long long)lba, dev->spec, target, lun,
					 ostor_task_transferred(t), 2 * bytes);
	}
	put_task(dev, t);
	free(buf);
	return r;
}

int ostori_lun_sticky(ostor_device *dev, uint32_t target, uint32_t lun)
{
	int r = 0;

	pthread_mutex_lock(&dev->lock);
	for (size_t i = 0; i < dev->nluns && !r; i++)
		if ((target == OSTOR_EVENT_ALL || dev->luns[i].target == target) &&
		    (lun == OSTOR_EVENT_ALL || dev->luns[i].lun == lun))
			r = dev->luns[i].sticky_error;
	pthread_mutex_unlock(&dev->lock);
	return r;
}

/* The LUN's sticky error, as flush reports it. */
static int sticky_report(ostor_device *dev, uint32_t target, uint32_t lun)
{
	struct ostori_lun_state *st;
	bool deferred;
	int sticky;

	pthread_mutex_lock(&dev->lock);
	st = ostori_lun_state(dev, target, lun);
	sticky = st ? st->sticky_error : 0;
	deferred = st && st->sticky_deferred;
	pthread_mutex_unlock(&dev->lock);
	if (!sticky)
		return 0;
	return ostori_error(sticky,
			    "%s on %s target %u lun %u: data written before it may be lost (this error "
			    "stays until ostor_flush_acknowledge)",
			    deferred ? "a deferred error" : "an earlier SYNCHRONIZE CACHE failed",
			    dev->spec, target, lun);
}

static int flush_one(ostor_device *dev, ostor_task *t, uint32_t target, uint32_t lun)
{
	struct ostori_lun_state *st;
	struct ostor_cdb cdb;
	char why[320];
	int sticky;
	int r;

	/* What the block cache holds goes to the device first. */
	ostori_bcache_writeout_wait(dev, target, lun);
	sticky = ostori_bcache_sticky(dev, target, lun, why, sizeof(why));
	if (sticky)
		return ostori_error(sticky, "flush of %s target %u lun %u: %s", dev->spec, target, lun, why);
	if ((r = sticky_report(dev, target, lun)))
		return r;

	ostor_scsi_cdb_synchronize_cache10(&cdb, 0, 0);
	r = exec_cmd(t, target, lun, &cdb, OSTOR_DIR_NONE, NULL, 0);
	if (r < 0) {
		size_t slen;
		const uint8_t *sb = ostor_task_sense(t, &slen);
		struct ostor_scsi_sense s = OSTOR_SCSI_SENSE_INIT;

		/* A device without SYNCHRONIZE CACHE has no volatile cache
		 * to lose: its writes were already confirmed with GOOD. */
		if (sb && ostor_scsi_parse_sense(sb, slen, &s) == 0 &&
		    s.key == OSTOR_SCSI_SENSE_ILLEGAL_REQUEST && s.asc == 0x20) {
			ostor_info(dev->ctx, "%s %u:%u does not support SYNCHRONIZE CACHE; nothing to flush",
				   dev->spec, target, lun);
			r = 0;
		} else {
			r = ostori_error_wrap(r, "SYNCHRONIZE CACHE on %s target %u lun %u failed",
					      dev->spec, target, lun);
			pthread_mutex_lock(&dev->lock);
			st = ostori_lun_state(dev, target, lun);
			if (st && !st->sticky_error)
				st->sticky_error = r;
			pthread_mutex_unlock(&dev->lock);
			return r;
		}
	}
	/* A deferred error may have come with it. */
	if ((r = sticky_report(dev, target, lun)))
		return r;
	pthread_mutex_lock(&dev->lock);
	st = ostori_lun_state(dev, target, lun);
	if (st)
		st->dirty = false;
	pthread_mutex_unlock(&dev->lock);
	return 0;
}

OSTOR_API int ostor_flush(ostor_device *dev, uint32_t target, uint32_t lun)
{
	ostor_task *t;
	int r;

	if ((r = check_dev(dev, __func__)))
		return r;
	r = get_task(dev, &t);
	if (r < 0)
		return r;
	r = flush_one(dev, t, target, lun);
	put_task(dev, t);
	return r;
}

OSTOR_API int ostor_flush_acknowledge(ostor_device *dev, uint32_t target, uint32_t lun)
{
	int first;

	if ((first = check_dev(dev, __func__)))
		return first;
	first = ostori_bcache_acknowledge(dev, target, lun);
	pthread_mutex_lock(&dev->lock);
	for (size_t i = 0; i < dev->nluns; i++) {
		struct ostori_lun_state *st = &dev->luns[i];

		if ((target != OSTOR_EVENT_ALL && st->target != target) ||
		    (lun != OSTOR_EVENT_ALL && st->lun != lun))
			continue;
		if (st->sticky_error && !first)
			first = st->sticky_error;
		st->sticky_error = 0;
		st->sticky_deferred = false;
	}
	pthread_mutex_unlock(&dev->lock);
	if (first)
		ostor_info(dev->ctx, "%s: flush error of %u:%u acknowledged (%s)", dev->spec, target, lun,
			   ostor_error_name(first));
	return first;
}

/* At close: flush every LUN written since its last good flush, and report
 * sticky errors of LUNs whose flush failed earlier. */
int ostori_flush_all(ostor_device *dev);
int ostori_flush_all(ostor_device *dev)
{
	ostor_task *t = NULL;
	int first = 0;

	for (size_t i = 0;; i++) {
		uint32_t target, lun;
		bool need;
		int r;

		pthread_mutex_lock(&dev->lock);
		if (i >= dev->nluns) {
			pthread_mutex_unlock(&dev->lock);
			break;
		}
		target = dev->luns[i].target;
		lun = dev->luns[i].lun;
		need = dev->luns[i].dirty || dev->luns[i].sticky_error;
		pthread_mutex_unlock(&dev->lock);
		need = need || ostori_bcache_dirty(dev, target, lun);
		if (!need)
			continue;
		if (!t && get_task(dev, &t) < 0)
			return OSTOR_ERROR_NO_MEM;
		r = flush_one(dev, t, target, lun);
		if (r < 0 && !first)
			first = r;
	}
	put_task(dev, t);
	if (first)
		ostori_error_wrap(first, "closing %s", dev->spec);
	return first;
}

/* ---- LUN scan ---------------------------------------------------------- */

static int add_lun(struct ostor_lun_addr **v, size_t *n, size_t *cap, uint32_t target, uint32_t lun)
{
	for (size_t i = 0; i < *n; i++)
		if ((*v)[i].target == target && (*v)[i].lun == lun)
			return 0;
	if (*n == *cap) {
		size_t c = *cap ? *cap * 2 : 8;
		struct ostor_lun_addr *nv = realloc(*v, c * sizeof(*nv));

		if (!nv)
			return OSTOR_ERROR_NO_MEM;
		*v = nv;
		*cap = c;
	}
	(*v)[*n].target = target;
	(*v)[*n].lun = lun;
	(*n)++;
	return 0;
}

static int cmp_lun(const void *a, const void *b)
{
	const struct ostor_lun_addr *x = a, *y = b;

	if (x->target != y->target)
		return x->target < y->target ? -1 : 1;
	return x->lun < y->lun ? -1 : x->lun > y->lun;
}

static bool lun_exists(ostor_task *t, uint32_t target, uint32_t lun)
{
	uint8_t buf[36];
	struct ostor_cdb cdb;
	struct ostor_scsi_inquiry inq = OSTOR_SCSI_INQUIRY_INIT;

	ostor_scsi_cdb_inquiry(&cdb, 0, 0, sizeof(buf));
	if (exec_cmd(t, target, lun, &cdb, OSTOR_DIR_FROM_DEVICE, buf, sizeof(buf)) < 0)
		return false;
	if (ostor_scsi_parse_inquiry(buf, ostor_task_transferred(t), &inq) < 0)
		return false;
	return inq.peripheral_qualifier == 0 && inq.peripheral_type != 0x1f;
}

OSTOR_API int ostor_device_luns(ostor_device *dev, struct ostor_lun_addr **out, size_t *count)
{
	struct ostor_lun_addr *v = NULL;
	size_t n = 0, cap = 0;
	ostor_task *t;
	uint8_t *buf;
	const size_t buflen = 8 + 8 * 512;
	int r;

	if (out)
		*out = NULL;
	if (count)
		*count = 0;
	if ((r = check_dev(dev, __func__)))
		return r;
	if (!out || !count)
		return ostori_error(OSTOR_ERROR_INVALID_PARAM, "ostor_device_luns: NULL argument");
	buf = malloc(buflen);
	if (!buf)
		return ostori_error(OSTOR_ERROR_NO_MEM, "out of memory");
	r = get_task(dev, &t);
	if (r < 0) {
		free(buf);
		return r;
	}
	for (uint32_t target = 0; target <= dev->max_target; target++) {
		struct ostor_cdb cdb;
		uint64_t luns[512];
		size_t total = 0;
		int got = -1;

		ostor_scsi_cdb_report_luns(&cdb, 0, (uint32_t)buflen);
		if (exec_cmd(t, target, 0, &cdb, OSTOR_DIR_FROM_DEVICE, buf, buflen) == 0)
			got = ostor_scsi_parse_report_luns(buf, ostor_task_transferred(t), luns, 512, &total);
		else if (ostor_task_result(t) == OSTOR_RESULT_DEVICE_GONE)
			continue; /* no such target (virtio BAD_TARGET): no LUN to probe */
		if (got > 0) {
			for (int i = 0; i < got; i++) {
				/* Other addressing methods are not ours to guess. */
				if (luns[i] > 0x3fff)
					continue;
				if (lun_exists(t, target, (uint32_t)luns[i]) &&
				    add_lun(&v, &n, &cap, target, (uint32_t)luns[i]) < 0)
					goto nomem;
			}
		} else {
			/* INQUIRY fallback for devices without REPORT LUNS. */
			for (uint32_t lun = 0; lun <= dev->max_lun; lun++)
				if (lun_exists(t, target, lun) && add_lun(&v, &n, &cap, target, lun) < 0)
					goto nomem;
		}
	}
	ostori_clear_error();
	put_task(dev, t);
	free(buf);
	if (n)
		qsort(v, n, sizeof(*v), cmp_lun);
	*out = v;
	*count = n;
	return 0;
nomem:
	put_task(dev, t);
	free(buf);
	free(v);
	return ostori_error(OSTOR_ERROR_NO_MEM, "out of memory scanning LUNs");
}
