/*
 * tests/unit/test_bcache.c - the block cache: modes and configuration,
 * hits and read-ahead, write-back and flush, sticky write-out errors,
 * loss reported on invalidation, raw commands kept coherent, the memory
 * bound; a model-based randomized test against a plain reference array
 * (seeds printed, ORIONSTOR_TEST_SEED replays one, ORIONSTOR_TEST_SEQUENCES
 * sets how many), and processes killed before their flush.
 */
#include "core/backend.h"
#include "core/bcache.h"
#include "scsi/scsi.h"
#include "sim/backend.h"
#include "sim/target.h"
#if OSTOR_HAVE_USB
#include "usb/sim_device.h"
#endif

#include <check.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#define BS 512

static ostor_context *ctx;
static char image[64];

static void setup(void)
{
	ck_assert_int_eq(ostor_init(&ctx, ""), 0);
	ostor_set_log_level(ctx, OSTOR_LOG_NONE);
	/* A new file each time: the sim creates it at the size asked.  In
	 * memory where there is a tmpfs: every flush is an fdatasync, and
	 * thousands of sequences should not wait for a disk. */
	snprintf(image, sizeof(image), "%s/ostor-bcache-%d.img", access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp",
		 (int)getpid());
	unlink(image);
}

static void teardown(void)
{
	ostor_exit(ctx);
	ctx = NULL;
	unlink(image);
}

static ostor_device *open_spec(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static ostor_device *open_spec(const char *fmt, ...)
{
	char spec[512];
	ostor_device *dev;
	struct ostor_lun_info li = OSTOR_LUN_INFO_INIT;
	va_list ap;
	int r;

	va_start(ap, fmt);
	vsnprintf(spec, sizeof(spec), fmt, ap);
	va_end(ap);
	r = ostor_open(ctx, spec, &dev);
	ck_assert_msg(r == 0, "open %s: %s", spec, ostor_last_error());
	ck_assert_int_eq(ostor_lun_info(dev, 0, 0, &li), 0);
	return dev;
}

static struct ostor_cache_info info(ostor_device *dev)
{
	struct ostor_cache_info ci = OSTOR_CACHE_INFO_INIT;

	ck_assert_int_eq(ostor_cache_info(dev, 0, 0, &ci), 0);
	ck_assert_uint_eq(ci.size, sizeof(ci));
	return ci;
}

static void read_image(uint64_t lba, uint64_t blocks, uint8_t *out)
{
	int fd = open(image, O_RDONLY);
	ssize_t n;

	ck_assert_int_ge(fd, 0);
	n = pread(fd, out, blocks * BS, (off_t)(lba * BS));
	ck_assert_int_eq(n, (ssize_t)(blocks * BS));
	close(fd);
}

static uint64_t writes_seen(ostor_device *dev)
{
	struct sim_stats st;

	sim_target_get_stats(ostori_sim_device_target(dev), &st);
	return st.per_opcode[OSTOR_SCSI_OP_WRITE10] + st.per_opcode[OSTOR_SCSI_OP_WRITE16];
}

static void fill(uint8_t *p, size_t n, unsigned int seed)
{
	for (size_t i = 0; i < n; i++)
		p[i] = (uint8_t)(seed * 131 + i * 7 + (i >> 9));
}

/* ---- events --------------------------------------------------------------------- */

#define LOST_MAX 4096
static struct { uint64_t lba, blocks; } lost[LOST_MAX];
static int nlost;

static void on_event(const struct ostor_event *ev, void *ud)
{
	(void)ud;
	if (ev->type == OSTOR_EVENT_CACHE_DATA_LOST && nlost < LOST_MAX) {
		ck_assert(OSTOR_HAS_FIELD(ev, blocks));
		lost[nlost].lba = ev->lba;
		lost[nlost].blocks = ev->blocks;
		nlost++;
	}
}

static void watch_events(void)
{
	nlost = 0;
	ck_assert_int_eq(ostor_set_event_handler(ctx, (struct ostor_event_handler){ on_event, NULL, NULL }), 0);
}

static bool in_lost(uint64_t lba)
{
	for (int i = 0; i < nlost; i++)
		if (lba >= lost[i].lba && lba < lost[i].lba + lost[i].blocks)
			return true;
	return false;
}

/* ---- fixed cases ------------------------------------------------------------------ */

START_TEST(modes_and_options)
{
	ostor_device *dev;
	struct ostor_cache_info ci;

	dev = open_spec("sim:size=1M");
	ci = info(dev);
	ck_assert_int_eq(ci.mode, OSTOR_CACHE_OFF);
	ck_assert_uint_eq(ci.capacity_bytes, 0);
	ck_assert_int_eq(ostor_close(dev), 0);

	dev = open_spec("sim:size=1M,cache=wb,cache_size=256K,cache_policy=lfu,read_ahead=64K");
	ci = info(dev);
	ck_assert_int_eq(ci.mode, OSTOR_CACHE_WRITE_BACK);
	ck_assert_str_eq(ci.policy, "lfu");
	ck_assert_uint_eq(ci.capacity_bytes, 256 * 1024);
	ck_assert_uint_eq(ci.line_size, 4096);
	ck_assert_uint_eq(ci.read_ahead_max_bytes, 16 * 1024); /* within the staging share */
	ck_assert_uint_gt(ci.dirty_limit_bytes, 0);
	ck_assert_uint_lt(ci.dirty_limit_bytes, ci.capacity_bytes);
	ck_assert_int_eq(ostor_close(dev), 0);

	dev = open_spec("sim:size=1M,cache_size=1M,cache_line=8K");
	ci = info(dev);
	ck_assert_int_eq(ci.mode, OSTOR_CACHE_WRITE_THROUGH); /* details given: a cache is wanted */
	ck_assert_uint_eq(ci.line_size, 8192);
	ck_assert_int_eq(ostor_close(dev), 0);

	ck_assert_str_eq(ostor_cache_mode_name(OSTOR_CACHE_WRITE_BACK), "write-back");
	ck_assert_int_eq(ostor_open(ctx, "sim:cache=fast", &dev), OSTOR_ERROR_BAD_SPEC);
	ck_assert_ptr_nonnull(strstr(ostor_last_error(), "wb (write-back)"));
	ck_assert_int_eq(ostor_open(ctx, "sim:cache=wb,cache_size=1K", &dev), OSTOR_ERROR_BAD_SPEC);
	ck_assert_int_eq(ostor_open(ctx, "sim:cache=wb,cache_policy=mru", &dev), OSTOR_ERROR_BAD_SPEC);
	ck_assert_int_eq(ostor_open(ctx, "sim:cache=wb,cache_line=3000", &dev), OSTOR_ERROR_BAD_SPEC);
	ck_assert_int_eq(ostor_open(ctx, "sim:cache=wb,read_ahead=1G", &dev), OSTOR_ERROR_BAD_SPEC);
}
END_TEST

#if OSTOR_HAVE_USB
/* [usb_storage] keys turn the cache on for USB devices (here a simulated
 * Bulk-Only one). */
START_TEST(usb_keys)
{
	char conf[64];
	ostor_context *c2;
	ostor_device *dev;
	struct ostor_cache_info ci = OSTOR_CACHE_INFO_INIT;
	FILE *f;

	snprintf(conf, sizeof(conf), "/tmp/ostor-bcache-%d.conf", (int)getpid());
	f = fopen(conf, "w");
	ck_assert_ptr_nonnull(f);
	fprintf(f, "[usb_storage]\ncache_enabled = true\nwrite_back_cache = true\nread_ahead_cache = true\n"
		   "cache_size = \"2MB\"\ncache_policy = \"fifo\"\n");
	fclose(f);
	ck_assert_int_eq(ostor_init(&c2, conf), 0);
	ostor_set_log_level(c2, OSTOR_LOG_NONE);
	ck_assert_int_eq(ostor_open(c2, "sim:transport=usb-bot,size=1M", &dev), 0);
	ck_assert_int_eq(ostor_cache_info(dev, 0, 0, &ci), 0);
	ck_assert_int_eq(ci.mode, OSTOR_CACHE_WRITE_BACK);
	ck_assert_str_eq(ci.policy, "fifo");
	ck_assert_uint_eq(ci.capacity_bytes, 2 << 20);
	ck_assert_uint_gt(ci.read_ahead_max_bytes, 0);
	ck_assert_int_eq(ostor_close(dev), 0);
	/* The spec overrides the file. */
	ck_assert_int_eq(ostor_open(c2, "sim:transport=usb-bot,size=1M,cache=off", &dev), 0);
	ck_assert_int_eq(ostor_cache_info(dev, 0, 0, &ci), 0);
	ck_assert_int_eq(ci.mode, OSTOR_CACHE_OFF);
	ck_assert_int_eq(ostor_close(dev), 0);
	ostor_exit(c2);
	unlink(conf);
}
END_TEST

/* Unplugged with dirty data: the lost ranges are said, flush and close
 * fail. */
START_TEST(unplug_reports_loss)
{
	ostor_device *dev = open_spec("sim:transport=usb-bot,size=1M,cache=wb");
	static uint8_t buf[8 * BS];

	watch_events();
	fill(buf, sizeof(buf), 8);
	ck_assert_int_eq(ostor_write_blocks(dev, 0, 0, 40, 8, buf), 0);
	ck_assert_int_eq(ostor_write_blocks(dev, 0, 0, 900, 2, buf), 0);
	ck_assert_uint_eq(info(dev).dirty_bytes, 10 * BS);
	sim_usb_unplug(sim_usb_of(dev));
	for (int i = 0; i < 100 && nlost < 2; i++)
		ostor_handle_events(ctx, 10);
	ck_assert_int_eq(nlost, 2);
	ck_assert_uint_eq(lost[0].lba, 40);
	ck_assert_uint_eq(lost[0].blocks, 8);
	ck_assert_uint_eq(lost[1].lba, 900);
	ck_assert_uint_eq(lost[1].blocks, 2);
	ck_assert_uint_eq(info(dev).lost_bytes, 10 * BS);
	ck_assert_int_lt(ostor_flush(dev, 0, 0), 0);
	ck_assert_int_lt(ostor_close(dev), 0);
}
END_TEST
#endif

/* What is in flight (read-ahead windows) completes. */
static void settle_inflight(void)
{
	while (ostor_inflight(ctx) > 0)
		ostor_handle_events(ctx, 10);
}

START_TEST(hits_and_read_ahead)
{
	ostor_device *dev = open_spec("sim:size=4M,image=%s,cache=wt,read_ahead=256K", image);
	static uint8_t buf[64 * BS], want[64 * BS];
	struct ostor_cache_info ci;

	fill(want, sizeof(want), 1);
	ck_assert_int_eq(ostor_write_blocks(dev, 0, 0, 0, 64, want), 0);
	ck_assert_int_eq(ostor_read_blocks(dev, 0, 0, 0, 64, buf), 0);
	ck_assert_mem_eq(buf, want, sizeof(buf));
	ci = info(dev);
	ck_assert_uint_eq(ci.read_hits, 1); /* write-allocate */
	ck_assert_uint_eq(ci.writes_through, 1);
	/* A sequential stream: read-ahead brings what comes next. */
	for (uint64_t lba = 1024; lba < 1024 + 64 * 32; lba += 64)
		ck_assert_int_eq(ostor_read_blocks(dev, 0, 0, lba, 64, buf), 0);
	ci = info(dev);
	ck_assert_uint_gt(ci.read_ahead_bytes, 0);
	ck_assert_uint_gt(ci.read_ahead_used_bytes, 0);
	ck_assert_uint_gt(ci.read_hits, 10);
	/* Random single blocks far apart start nothing (the stream's last
	 * windows land first). */
	settle_inflight();
	{
		uint64_t before = info(dev).read_ahead_bytes;

		for (int i = 0; i < 50; i++)
			ck_assert_int_eq(ostor_read_blocks(dev, 0, 0, 4000 + (uint64_t)(i * 37 % 3000), 1, buf), 0);
		ci = info(dev);
		ck_assert_uint_eq(ci.read_ahead_bytes, before);
	}
	/* Never past the end. */
	for (uint64_t lba = 8192 - 256; lba < 8192; lba += 32)
		ck_assert_int_eq(ostor_read_blocks(dev, 0, 0, lba, 32, buf), 0);
	ck_assert_int_eq(ostor_close(dev), 0);
}
END_TEST

/* Write the image: block b holds the pattern of seed b. */
static void make_image(uint64_t blocks)
{
	int fd = open(image, O_RDWR | O_CREAT | O_TRUNC, 0600);
	static uint8_t blk[BS];

	ck_assert_int_ge(fd, 0);
	for (uint64_t b = 0; b < blocks; b++) {
		fill(blk, BS, (unsigned int)b);
		ck_assert_int_eq(pwrite(fd, blk, BS, (off_t)(b * BS)), BS);
	}
	close(fd);
}

/* Read n blocks from lba and check them against make_image's pattern. */
static void read_check(ostor_device *dev, uint64_t lba, uint32_t n)
{
	static uint8_t buf[64 * BS], want[BS];

	ck_assert_uint_le(n, 64);
	ck_assert_msg(ostor_read_blocks(dev, 0, 0, lba, n, buf) == 0, "read %llu+%u: %s",
		      (unsigned long long)lba, n, ostor_last_error());
	for (uint32_t i = 0; i < n; i++) {
		fill(want, BS, (unsigned int)(lba + i));
		ck_assert_msg(!memcmp(buf + (size_t)i * BS, want, BS), "block %llu read wrong",
			      (unsigned long long)(lba + i));
	}
}

/* read_check, answered by the cache (no miss). */
static void read_check_cached(ostor_device *dev, uint64_t lba, uint32_t n)
{
	uint64_t misses = info(dev).read_misses;

	read_check(dev, lba, n);
	ck_assert_uint_eq(info(dev).read_misses, misses);
}

static bool held_in_region(ostor_device *dev, uint64_t lba)
{
	struct ostori_bcache *c = dev->bcache;
	struct bc_lun *L;
	struct bc_line *l;
	bool r;

	pthread_mutex_lock(&c->lock);
	L = ostori_bc_lun_find(c, 0, 0);
	l = ostori_bc_lookup(c, (unsigned int)(L - c->luns), lba / L->bpl);
	r = l && l->region && (l->valid >> (lba % L->bpl) & 1);
	pthread_mutex_unlock(&c->lock);
	return r;
}

/* Read-ahead reads windows into regions whose lines join the cache where
 * they are (the device's memory where it has some, heap on virtio, whose
 * pool is the application's); a scan leaves what was read twice cached;
 * data written into a region's lines survives the region's next window;
 * more streams than regions still read right. */
START_TEST(read_ahead_regions)
{
	ostor_device *dev;
	struct ostori_bcache *c;
	struct ostor_cache_info ci;
	static uint8_t want[16 * BS], got[16 * BS];

	make_image(16384);
	dev = open_spec("sim:size=8M,image=%s,cache=wb,cache_size=1M,read_ahead=64K", image);
	c = dev->bcache;
	ck_assert_ptr_nonnull(c);
	ck_assert_uint_eq(c->read_ahead_max, 64 * 1024);
	/* One stream: every window lands in a region, nothing is wasted. */
	for (uint64_t lba = 0; lba < 4096; lba += 16) {
		read_check(dev, lba, 16);
		if (lba == 2048) {
			settle_inflight();
			ck_assert(held_in_region(dev, lba + 16));
		}
	}
	settle_inflight();
	ci = info(dev);
	ck_assert_uint_gt(ci.read_ahead_used_bytes, 1024 * 1024);
	ck_assert_uint_eq(ci.read_ahead_wasted_bytes, 0);
	pthread_mutex_lock(&c->lock);
	for (int i = 0; i < BC_RA_REGIONS; i++)
		ck_assert(!c->regions[i].mem || c->regions[i].dma); /* the sim backend has device memory */
	pthread_mutex_unlock(&c->lock);

	/* A working set read twice stays cached through a scan of 2 MiB (the
	 * scan's data was read once: its regions drop it). */
	read_check(dev, 12000, 16);
	read_check(dev, 12000, 16);
	read_check(dev, 12000, 16);
	for (uint64_t lba = 4096; lba < 8192; lba += 16)
		read_check(dev, lba, 16);
	settle_inflight();
	read_check_cached(dev, 12000, 16);

	/* Blocks of a stream read again while read-ahead's region held them
	 * stay cached when the region is used again (many small reads of
	 * one line are not that: single blocks below). */
	for (uint64_t lba = 14000; lba < 14512; lba += 16)
		read_check(dev, lba, 16);
	settle_inflight();
	ck_assert(held_in_region(dev, 14512));
	read_check(dev, 14512, 16);
	read_check(dev, 14512, 16);
	for (uint64_t lba = 14528; lba < 16384; lba += 1)
		read_check(dev, lba, 1);
	settle_inflight();
	read_check_cached(dev, 14512, 16);
	ck_assert(!held_in_region(dev, 14600)); /* read once, in single blocks: dropped */

	/* Written into lines read-ahead brought, then the stream goes on and
	 * its regions are used again: the written data moves, is flushed and
	 * reads back. */
	for (uint64_t lba = 8192; lba < 8192 + 256; lba += 16)
		read_check(dev, lba, 16);
	settle_inflight();
	ck_assert(held_in_region(dev, 8192 + 256 + 8));
	fill(want, sizeof(want), 999);
	ck_assert_int_eq(ostor_write_blocks(dev, 0, 0, 8192 + 256 + 8, 16, want), 0);
	for (uint64_t lba = 8192 + 256; lba < 8192 + 2048; lba += 16)
		if (lba + 16 <= 8192 + 256 + 8 || lba >= 8192 + 256 + 24)
			read_check(dev, lba, 16);
	settle_inflight();
	ck_assert_int_eq(ostor_read_blocks(dev, 0, 0, 8192 + 256 + 8, 16, got), 0);
	ck_assert_mem_eq(got, want, sizeof(got));
	ck_assert_int_eq(ostor_flush(dev, 0, 0), 0);
	read_image(8192 + 256 + 8, 16, got);
	ck_assert_mem_eq(got, want, sizeof(got));

	/* More streams than regions, interleaved. */
	for (uint64_t k = 0; k < 512; k += 8)
		for (uint64_t s = 0; s < 5; s++)
			read_check(dev, 10240 + s * 1024 + k, 8);
	ck_assert_int_eq(ostor_close(dev), 0);
#if OSTOR_HAVE_VIRTIO
	/* virtio's DMA pool is the application's: regions on the heap. */
	dev = open_spec("sim:transport=virtio,size=8M,image=%s,cache=wt,cache_size=1M,read_ahead=64K", image);
	c = dev->bcache;
	for (uint64_t lba = 0; lba < 4096; lba += 16)
		read_check(dev, lba, 16);
	settle_inflight();
	ck_assert_uint_gt(info(dev).read_ahead_used_bytes, 0);
	pthread_mutex_lock(&c->lock);
	for (int i = 0; i < BC_RA_REGIONS; i++)
		ck_assert(!c->regions[i].dma);
	pthread_mutex_unlock(&c->lock);
	ck_assert_int_eq(ostor_close(dev), 0);
#endif
}
END_TEST

START_TEST(write_back_and_flush)
{
	ostor_device *dev = open_spec("sim:size=4M,image=%s,cache=wb,cache_size=1M", image);
	static uint8_t buf[16 * BS], got[16 * BS];
	struct ostor_cache_info ci;
	uint64_t w0 = writes_seen(dev);

	for (int i = 0; i < 20; i++) {
		fill(buf, sizeof(buf), (unsigned)i);
		ck_assert_int_eq(ostor_write_blocks(dev, 0, 0, (uint64_t)i * 16, 16, buf), 0);
	}
	ci = info(dev);
	ck_assert_uint_eq(ci.writes_absorbed, 20);
	ck_assert_uint_eq(ci.dirty_bytes, 20 * 16 * BS);
	ck_assert_uint_eq(writes_seen(dev), w0); /* nothing reached the device */
	/* Read back from the cache. */
	ck_assert_int_eq(ostor_read_blocks(dev, 0, 0, 5 * 16, 16, got), 0);
	fill(buf, sizeof(buf), 5);
	ck_assert_mem_eq(got, buf, sizeof(buf));
	ck_assert_int_eq(ostor_flush(dev, 0, 0), 0);
	ci = info(dev);
	ck_assert_uint_eq(ci.dirty_bytes, 0);
	ck_assert_uint_eq(ci.writeout_bytes, 20 * 16 * BS);
	/* Adjacent dirty lines went out together. */
	ck_assert_uint_lt(writes_seen(dev) - w0, 20);
	for (int i = 0; i < 20; i++) {
		fill(buf, sizeof(buf), (unsigned)i);
		read_image((uint64_t)i * 16, 16, got);
		ck_assert_mem_eq(got, buf, sizeof(buf));
	}
	ck_assert_int_eq(ostor_close(dev), 0);
}
END_TEST

START_TEST(writeout_failure_is_sticky)
{
	ostor_device *dev = open_spec("sim:size=4M,image=%s,cache=wb", image);
	struct sim_target *tgt = ostori_sim_device_target(dev);
	static uint8_t buf[8 * BS], got[8 * BS];
	struct ostor_cache_info ci;

	fill(buf, sizeof(buf), 9);
	ck_assert_int_eq(ostor_write_blocks(dev, 0, 0, 800, 8, buf), 0);
	ck_assert_int_eq(sim_target_inject_check(tgt, 0, OSTOR_SCSI_OP_WRITE10, 1, OSTOR_SCSI_SENSE_MEDIUM_ERROR,
						 0x0c, 0x00), 0);
	ck_assert_int_eq(ostor_flush(dev, 0, 0), OSTOR_ERROR_IO);
	ck_assert_ptr_nonnull(strstr(ostor_last_error(), "800..807"));
	ci = info(dev);
	ck_assert_int_eq(ci.sticky_error, OSTOR_ERROR_IO);
	ck_assert_uint_eq(ci.writeout_errors, 1);
	ck_assert_uint_eq(ci.dirty_bytes, 8 * BS); /* kept */
	ck_assert_int_eq(ostor_cache_drop(dev, 0, 0, 0), OSTOR_ERROR_BUSY);
	/* Sticky: the device takes the data now (the flush wrote it out),
	 * the flush still fails. */
	ck_assert_int_eq(ostor_flush(dev, 0, 0), OSTOR_ERROR_IO);
	ck_assert_uint_eq(info(dev).dirty_bytes, 0);
	ck_assert_int_eq(ostor_flush_acknowledge(dev, 0, 0), OSTOR_ERROR_IO);
	ck_assert_int_eq(ostor_flush_acknowledge(dev, 0, 0), 0);
	ck_assert_int_eq(ostor_flush(dev, 0, 0), 0);
	read_image(800, 8, got);
	ck_assert_mem_eq(got, buf, sizeof(buf));
	ci = info(dev);
	ck_assert_int_eq(ci.sticky_error, 0);
	ck_assert_uint_eq(ci.dirty_bytes, 0);
	ck_assert_int_eq(ostor_cache_drop(dev, 0, 0, 0), 0);
	ck_assert_uint_eq(info(dev).used_bytes, 0);
	ck_assert_int_eq(ostor_close(dev), 0);
}
END_TEST

START_TEST(invalidation_reports_loss)
{
	ostor_device *dev = open_spec("sim:size=4M,image=%s,cache=wb", image);
	struct sim_target *tgt = ostori_sim_device_target(dev);
	static uint8_t buf[8 * BS];
	struct ostor_cache_info ci;

	watch_events();
	fill(buf, sizeof(buf), 3);
	ck_assert_int_eq(ostor_write_blocks(dev, 0, 0, 100, 8, buf), 0);
	ck_assert_int_eq(ostor_write_blocks(dev, 0, 0, 108, 4, buf), 0);
	ck_assert_int_eq(ostor_write_blocks(dev, 0, 0, 5000, 1, buf), 0);
	/* The capacity changes under us: what the cache held is for another
	 * geometry, dropped and said so. */
	ck_assert_int_eq(sim_target_set_capacity(tgt, 0, 8192), 0);
	ck_assert_int_eq(ostor_read_blocks(dev, 0, 0, 0, 1, buf), 0);
	ostor_handle_events_nonblock(ctx);
	ck_assert_int_eq(nlost, 2);
	ck_assert_uint_eq(lost[0].lba, 100);
	ck_assert_uint_eq(lost[0].blocks, 12);
	ck_assert_uint_eq(lost[1].lba, 5000);
	ck_assert_uint_eq(lost[1].blocks, 1);
	ci = info(dev);
	ck_assert_uint_eq(ci.lost_ranges, 2);
	ck_assert_uint_eq(ci.lost_bytes, 13 * BS);
	ck_assert_uint_eq(ci.dirty_bytes, 0);
	ck_assert_int_eq(ostor_flush(dev, 0, 0), OSTOR_ERROR_IO);
	ck_assert_ptr_nonnull(strstr(ostor_last_error(), "never reached the device"));
	ck_assert_int_eq(ostor_flush_acknowledge(dev, 0, 0), OSTOR_ERROR_IO);
	ck_assert_int_eq(ostor_flush(dev, 0, 0), 0);
	/* Dropping dirty data on request is a loss too. */
	ck_assert_int_eq(ostor_write_blocks(dev, 0, 0, 7, 1, buf), 0);
	ck_assert_int_eq(ostor_cache_drop(dev, 0, 0, OSTOR_CACHE_DROP_DIRTY), 0);
	ostor_handle_events_nonblock(ctx);
	ck_assert_int_eq(nlost, 3);
	ck_assert_uint_eq(lost[2].lba, 7);
	ck_assert_int_eq(ostor_close(dev), OSTOR_ERROR_IO); /* the loss, reported at close too */
}
END_TEST

/* A reset is no loss: the cache still holds the newer data and writes it. */
START_TEST(reset_keeps_dirty_data)
{
	ostor_device *dev = open_spec("sim:size=4M,image=%s,cache=wb", image);
	static uint8_t buf[8 * BS], got[8 * BS];

	watch_events();
	fill(buf, sizeof(buf), 4);
	ck_assert_int_eq(ostor_write_blocks(dev, 0, 0, 64, 8, buf), 0);
	sim_target_reset(ostori_sim_device_target(dev));
	ck_assert_int_eq(ostor_flush(dev, 0, 0), 0);
	ostor_handle_events_nonblock(ctx);
	ck_assert_int_eq(nlost, 0);
	read_image(64, 8, got);
	ck_assert_mem_eq(got, buf, sizeof(buf));
	ck_assert_int_eq(ostor_close(dev), 0);
}
END_TEST

static int raw(ostor_device *dev, const uint8_t *cdb, size_t len, enum ostor_dir dir, void *buf, size_t n)
{
	ostor_task *t;
	int r;

	ck_assert_int_eq(ostor_task_new(dev, &t), 0);
	/* As an application would: a unit attention (a reset the test made)
	 * is news, the command goes again. */
	for (int attempt = 0; attempt < 3; attempt++) {
		ck_assert_int_eq(ostor_task_prepare(t, 0, 0, cdb, len, dir, buf, n), 0);
		size_t slen = 0;
		const uint8_t *sense;

		r = ostor_task_execute(t);
		if (r == 0 && ostor_task_result(t) != OSTOR_RESULT_GOOD)
			r = ostor_task_error(t);
		sense = ostor_task_sense(t, &slen);
		if (r == 0 || !sense || slen < 3 || (sense[2] & 0x0f) != OSTOR_SCSI_SENSE_UNIT_ATTENTION)
			break;
	}
	ostor_task_free(t);
	return r;
}

START_TEST(raw_commands_are_coherent)
{
	ostor_device *dev = open_spec("sim:size=4M,image=%s,cache=wb", image);
	static uint8_t buf[8 * BS], got[8 * BS], blk[BS];
	struct ostor_cdb cdb;

	fill(buf, sizeof(buf), 5);
	ck_assert_int_eq(ostor_write_blocks(dev, 0, 0, 200, 8, buf), 0);
	/* A raw READ sees the cached data. */
	ostor_scsi_cdb_read10(&cdb, 200, 8, 0);
	ck_assert_int_eq(raw(dev, cdb.bytes, cdb.len, OSTOR_DIR_FROM_DEVICE, got, sizeof(got)), 0);
	ck_assert_mem_eq(got, buf, sizeof(got));
	/* A raw WRITE SAME over part of it: the older cached blocks go out
	 * first, then the device's answer is what reads return. */
	memset(blk, 0xee, sizeof(blk));
	ostor_scsi_cdb_write_same16(&cdb, 202, 3, 0);
	ck_assert_int_eq(raw(dev, cdb.bytes, cdb.len, OSTOR_DIR_TO_DEVICE, blk, sizeof(blk)), 0);
	memset(buf + 2 * BS, 0xee, 3 * BS);
	ck_assert_int_eq(ostor_read_blocks(dev, 0, 0, 200, 8, got), 0);
	ck_assert_mem_eq(got, buf, sizeof(got));
	read_image(200, 8, got);
	ck_assert_mem_eq(got, buf, sizeof(got));
	/* A raw SYNCHRONIZE CACHE writes out first. */
	fill(buf, sizeof(buf), 6);
	ck_assert_int_eq(ostor_write_blocks(dev, 0, 0, 300, 8, buf), 0);
	ostor_scsi_cdb_synchronize_cache10(&cdb, 0, 0);
	ck_assert_int_eq(raw(dev, cdb.bytes, cdb.len, OSTOR_DIR_NONE, NULL, 0), 0);
	read_image(300, 8, got);
	ck_assert_mem_eq(got, buf, sizeof(got));
	ck_assert_uint_eq(info(dev).dirty_bytes, 0);
	/* Something the cache does not know (here WRITE LONG): all written
	 * out and dropped first. */
	ck_assert_int_eq(ostor_write_blocks(dev, 0, 0, 400, 1, buf), 0);
	{
		uint8_t wl[10] = { 0x3f, 0, 0, 0, 0x01, 0x90, 0, 0, 0, 0 };

		(void)raw(dev, wl, sizeof(wl), OSTOR_DIR_NONE, NULL, 0);
	}
	ck_assert_uint_eq(info(dev).dirty_bytes, 0);
	ck_assert_uint_eq(info(dev).used_bytes, 0);
	read_image(400, 1, got);
	ck_assert_mem_eq(got, buf, BS);
	/* GET LBA STATUS reports on the blocks from its LBA on: those dirty
	 * there go out first (else the device calls them deallocated). */
	ck_assert_int_eq(ostor_write_blocks(dev, 0, 0, 100, 1, buf), 0);
	ck_assert_int_eq(ostor_write_blocks(dev, 0, 0, 6000, 2, buf), 0);
	{
		uint8_t gls[16] = { 0x9e, 0x12, 0, 0, 0, 0, 0, 0, 0x17, 0x70, 0, 0, 0, 24, 0, 0 };
		uint8_t st[24];

		ck_assert_int_eq(raw(dev, gls, sizeof(gls), OSTOR_DIR_FROM_DEVICE, st, sizeof(st)), 0);
		ck_assert_uint_eq(st[8 + 6] << 8 | st[8 + 7], 6000);   /* LBA */
		ck_assert_uint_ge(st[8 + 11], 2);     /* blocks (the file system maps whole blocks) */
		ck_assert_uint_eq(st[8 + 12], 0);                      /* mapped */
	}
	read_image(6000, 2, got);
	ck_assert_mem_eq(got, buf, 2 * BS);
	ck_assert_int_eq(ostor_close(dev), 0);
}
END_TEST

static void on_task_done(ostor_task *t, void *ud)
{
	(void)t;
	*(int *)ud = 1;
}

/* A command waiting in the cache (for a read-ahead stuck at the device)
 * is cancelled there: it ends aborted at once, and never reaches the
 * device. */
START_TEST(cancel_while_waiting)
{
	ostor_device *dev = open_spec("sim:size=4M,hold=40,cache=wt,read_ahead=64K");
	static uint8_t buf[8 * BS];
	struct ostor_cdb cdb;
	ostor_task *t;
	int done = 0;
	uint64_t reads;
	struct sim_stats st;

	/* Sequential reads: read-ahead of 16..31, then of 32..63, which
	 * holds at block 40. */
	for (uint64_t lba = 0; lba < 24; lba += 8)
		ck_assert_int_eq(ostor_read_blocks(dev, 0, 0, lba, 8, buf), 0);
	ck_assert_uint_gt(info(dev).read_ahead_bytes, 0);
	sim_target_get_stats(ostori_sim_device_target(dev), &st);
	reads = st.per_opcode[OSTOR_SCSI_OP_READ10];
	ck_assert_int_eq(ostor_task_new(dev, &t), 0);
	ostor_scsi_cdb_read10(&cdb, 32, 8, 0);
	ck_assert_int_eq(ostor_task_prepare(t, 0, 0, cdb.bytes, cdb.len, OSTOR_DIR_FROM_DEVICE, buf, sizeof(buf)), 0);
	ck_assert_int_eq(ostor_task_submit(t, (struct ostor_completion){ on_task_done, &done, NULL }), 0);
	ck_assert_int_eq(ostor_task_cancel(t), 0);
	for (int i = 0; i < 100 && !done; i++)
		ostor_handle_events(ctx, 10);
	ck_assert(done);
	ck_assert_int_eq(ostor_task_result(t), OSTOR_RESULT_ABORTED);
	sim_target_get_stats(ostori_sim_device_target(dev), &st);
	ck_assert_uint_eq(st.per_opcode[OSTOR_SCSI_OP_READ10], reads);
	ostor_task_free(t);
	ck_assert_int_eq(ostor_close(dev), 0);
}
END_TEST

static long rss_kib(void)
{
	FILE *f = fopen("/proc/self/status", "r");
	char line[256];
	long v = -1;

	ck_assert_ptr_nonnull(f);
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "VmRSS: %ld", &v) == 1)
			break;
	fclose(f);
	return v;
}

START_TEST(memory_bound)
{
	ostor_device *dev = open_spec("sim:size=64M,image=%s,cache=wb,cache_size=4M,read_ahead=1M", image);
	static uint8_t buf[64 * BS];
	struct ostor_cache_info ci;
	long before = rss_kib();

	for (int i = 0; i < 2048; i++) {
		uint64_t lba = ((uint64_t)i * 7919 * 64) % (131072 - 64);

		fill(buf, sizeof(buf), (unsigned)i);
		ck_assert_int_eq(ostor_write_blocks(dev, 0, 0, lba, 64, buf), 0);
		ci = info(dev);
		ck_assert_uint_le(ci.used_bytes, ci.capacity_bytes);
		ck_assert_uint_le(ci.dirty_bytes + ci.writeout_inflight_bytes, ci.dirty_limit_bytes);
	}
	for (uint64_t lba = 0; lba < 131072; lba += 64)
		ck_assert_int_eq(ostor_read_blocks(dev, 0, 0, lba, 64, buf), 0);
	ci = info(dev);
	ck_assert_uint_gt(ci.evictions, 0);
	/* 64 MiB went through a 4 MiB cache; the process grew by less than
	 * the bound (plus a little for everything else) - sanitizers' shadow
	 * memory aside. */
#if !defined(__SANITIZE_ADDRESS__) && !defined(__SANITIZE_THREAD__)
	ck_assert_msg(rss_kib() - before < 4096 + 1024, "RSS grew by %ld KiB", rss_kib() - before);
#else
	(void)before;
#endif
	ck_assert_int_eq(ostor_close(dev), 0);
}
END_TEST

/* ---- the model ----------------------------------------------------------------------- */

#define M_BLOCKS 256

struct rng {
	uint64_t s;
};

static uint64_t rnd(struct rng *r)
{
	r->s ^= r->s << 13;
	r->s ^= r->s >> 7;
	r->s ^= r->s << 17;
	return r->s;
}

static unsigned int rnd_below(struct rng *r, unsigned int n)
{
	return (unsigned int)(rnd(r) % n);
}

static uint64_t env_u64(const char *name, uint64_t def)
{
	const char *v = getenv(name);

	return v && *v ? strtoull(v, NULL, 0) : def;
}

/* Let what is in flight (background write-outs) finish and be seen. */
static void settle(void)
{
	while (ostor_inflight(ctx) > 0)
		ostor_handle_events(ctx, 10);
	ostor_handle_events_nonblock(ctx);
}

static uint64_t model_read_ahead_bytes; /* over the sequences: read-ahead was exercised */

/* One sequence: random steps against the reference array. */
static void run_sequence(uint64_t seed, int steps)
{
	static const char *const modes[] = { "wb", "wt" };
	static const char *const policies[] = { "lru", "lfu", "fifo" };
	static const unsigned int lines[] = { 512, 4096, 16384, 32768 };
	unsigned int line;
	static uint8_t model[M_BLOCKS * BS], img[M_BLOCKS * BS], buf[32 * BS], old[32 * BS];
	struct rng r = { seed * 2654435761u + 1 };
	struct sim_target *tgt;
	ostor_device *dev;
	bool fault_since_ack = false;
	uint64_t read_end = 0;
	int fd;

	fd = open(image, O_RDWR | O_CREAT | O_TRUNC, 0600);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(ftruncate(fd, M_BLOCKS * BS), 0);
	close(fd);
	memset(model, 0, sizeof(model));
	/* Lines of 1, 8, 32 and 64 blocks (the whole bit mask). */
	line = lines[rnd_below(&r, 4)];
	dev = open_spec("sim:size=%d,image=%s,cache=%s,cache_size=%u,cache_line=%u,cache_policy=%s,read_ahead=%s",
			M_BLOCKS * BS, image, modes[rnd_below(&r, 2)], line > 4096 ? 16 * line : 65536, line,
			policies[rnd_below(&r, 3)], rnd_below(&r, 2) ? "16K" : "0");
	tgt = ostori_sim_device_target(dev);
	watch_events();
	for (int step = 0; step < steps; step++) {
		unsigned int what = rnd_below(&r, 100);
		uint64_t lba = rnd_below(&r, M_BLOCKS);
		uint32_t n = 1 + rnd_below(&r, 24);
		int rc;

		if (lba + n > M_BLOCKS)
			n = (uint32_t)(M_BLOCKS - lba);
		if (what < 40) {
			/* Half the reads go on from the last: streams, read-ahead. */
			if (rnd_below(&r, 2) && read_end < M_BLOCKS) {
				lba = read_end;
				n = (uint32_t)OSTOR_MIN((uint64_t)n, M_BLOCKS - lba);
			}
			read_end = lba + n;
			rc = ostor_read_blocks(dev, 0, 0, lba, n, buf);
			ck_assert_msg(rc == 0, "seed %llu step %d: read %llu+%u: %s", (unsigned long long)seed, step,
				      (unsigned long long)lba, n, ostor_last_error());
			ck_assert_msg(!memcmp(buf, model + lba * BS, n * BS),
				      "seed %llu step %d: read %llu+%u returned other data than was written",
				      (unsigned long long)seed, step, (unsigned long long)lba, n);
		} else if (what < 76) {
			for (uint32_t i = 0; i < n * BS; i++)
				buf[i] = (uint8_t)rnd(&r);
			memcpy(old, model + lba * BS, n * BS);
			rc = ostor_write_blocks(dev, 0, 0, lba, n, buf);
			if (rc == 0) {
				memcpy(model + lba * BS, buf, n * BS);
			} else {
				/* Only under injected faults; each block is then
				 * one version or the other, whichever reads back. */
				ck_assert_msg(fault_since_ack, "seed %llu step %d: write failed: %s",
					      (unsigned long long)seed, step, ostor_last_error());
				ck_assert_int_eq(ostor_read_blocks(dev, 0, 0, lba, n, model + lba * BS), 0);
				for (uint32_t b = 0; b < n; b++)
					ck_assert(!memcmp(model + (lba + b) * BS, old + b * BS, BS) ||
						  !memcmp(model + (lba + b) * BS, buf + b * BS, BS));
			}
		} else if (what < 86) {
			rc = ostor_flush(dev, 0, 0);
			if (rc == 0) {
				read_image(0, M_BLOCKS, img);
				for (int b = 0; b < M_BLOCKS; b++)
					ck_assert_msg(!memcmp(img + b * BS, model + b * BS, BS),
						      "seed %llu step %d: block %d on the device differs after a "
						      "good flush", (unsigned long long)seed, step, b);
			} else {
				ck_assert_msg(fault_since_ack, "seed %llu step %d: flush failed without a fault: %s",
					      (unsigned long long)seed, step, ostor_last_error());
				/* Rules not used up yet are dropped with it. */
				sim_target_clear_faults(tgt);
				settle();
				ostor_flush_acknowledge(dev, 0, 0);
				fault_since_ack = false;
			}
		} else if (what < 90) {
			sim_target_inject_check(tgt, 0, OSTOR_SCSI_OP_WRITE10, 1 + rnd_below(&r, 3),
						OSTOR_SCSI_SENSE_MEDIUM_ERROR, 0x0c, 0x00);
			fault_since_ack = true;
		} else if (what < 93) {
			sim_target_reset(tgt);
		} else if (what < 95) {
			/* Capacity "changes" (to the same): cached data dropped,
			 * dirty blocks reported lost, exactly those. */
			int before = nlost;

			uint8_t tur[6] = { 0 };

			ck_assert_int_eq(sim_target_set_capacity(tgt, 0, M_BLOCKS), 0);
			/* The next command to reach the device hears of it (a
			 * read might be answered by the cache). */
			(void)raw(dev, tur, sizeof(tur), OSTOR_DIR_NONE, NULL, 0);
			ostor_handle_events_nonblock(ctx);
			read_image(0, M_BLOCKS, img);
			for (int b = 0; b < M_BLOCKS; b++) {
				if (memcmp(img + b * BS, model + b * BS, BS)) {
					ck_assert_msg(in_lost((uint64_t)b), "seed %llu step %d: block %d lost "
						      "silently", (unsigned long long)seed, step, b);
					memcpy(model + b * BS, img + b * BS, BS);
				}
			}
			if (nlost > before)
				fault_since_ack = true;
			nlost = 0;
		} else if (what < 97) {
			rc = ostor_cache_drop(dev, 0, 0, 0);
			ck_assert(rc == 0 || rc == OSTOR_ERROR_BUSY);
		} else {
			/* Raw commands through the task API. */
			struct ostor_cdb cdb;

			if (rnd_below(&r, 2)) {
				ostor_scsi_cdb_read10(&cdb, (uint32_t)lba, (uint16_t)n, 0);
				ck_assert_int_eq(raw(dev, cdb.bytes, cdb.len, OSTOR_DIR_FROM_DEVICE, buf, n * BS), 0);
				ck_assert_msg(!memcmp(buf, model + lba * BS, n * BS), "seed %llu step %d: raw "
					      "READ differs", (unsigned long long)seed, step);
			} else {
				memset(buf, (int)rnd(&r), BS);
				ostor_scsi_cdb_write_same16(&cdb, lba, n, 0);
				rc = raw(dev, cdb.bytes, cdb.len, OSTOR_DIR_TO_DEVICE, buf, BS);
				if (rc == 0) {
					for (uint32_t b = 0; b < n; b++)
						memcpy(model + (lba + b) * BS, buf, BS);
				} else {
					ck_assert_msg(fault_since_ack, "seed %llu step %d: WRITE SAME failed: %s",
						      (unsigned long long)seed, step, ostor_last_error());
					ck_assert_int_eq(ostor_read_blocks(dev, 0, 0, lba, n, model + lba * BS), 0);
				}
			}
		}
	}
	/* The end: everything acknowledged reaches the device. */
	sim_target_clear_faults(tgt);
	settle();
	ostor_flush_acknowledge(dev, 0, 0);
	ck_assert_msg(ostor_flush(dev, 0, 0) == 0, "seed %llu: final flush: %s", (unsigned long long)seed,
		      ostor_last_error());
	read_image(0, M_BLOCKS, img);
	ck_assert_msg(!memcmp(img, model, sizeof(img)), "seed %llu: the device differs at the end",
		      (unsigned long long)seed);
	model_read_ahead_bytes += info(dev).read_ahead_bytes;
	ck_assert_int_eq(ostor_close(dev), 0);
}

/* Sequences per run: seeds differ every run, so coverage adds up across
 * runs.  Under the sanitizers half as many. */
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define MODEL_SEQUENCES 1000
#else
#define MODEL_SEQUENCES 2000
#endif

START_TEST(model_random)
{
	uint64_t seed = env_u64("ORIONSTOR_TEST_SEED", 0), n = env_u64("ORIONSTOR_TEST_SEQUENCES", MODEL_SEQUENCES);
	uint64_t base = seed ? seed : (uint64_t)time(NULL);

	if (seed) {
		printf("model_random: replaying seed %llu\n", (unsigned long long)seed);
		run_sequence(seed, 120);
		return;
	}
	printf("model_random: %llu sequences, seeds %llu..%llu (replay one with ORIONSTOR_TEST_SEED)\n",
	       (unsigned long long)n, (unsigned long long)base, (unsigned long long)(base + n - 1));
	for (uint64_t i = 0; i < n; i++)
		run_sequence(base + i, 120);
	if (n >= 100)
		ck_assert_uint_gt(model_read_ahead_bytes, 0);
	printf("model_random: read-ahead brought %llu bytes\n", (unsigned long long)model_read_ahead_bytes);
}
END_TEST

/* ---- threads ------------------------------------------------------------------------- */

struct worker {
	ostor_device *dev;
	int index;
	uint64_t seed;
	int errors;
};

#define T_SLICE 512   /* blocks each thread owns */

/* Each thread writes and reads back its own slice, on a queue of its own
 * or the shared path, while the slices share the cache (and its lines). */
static void *worker_main(void *arg)
{
	struct worker *w = arg;
	static _Thread_local uint8_t mine[T_SLICE * BS], buf[16 * BS];
	struct rng r = { w->seed };
	bool owned = w->index % 2 == 0;

	memset(mine, 0, sizeof(mine));
	if (owned && ostor_queue_acquire(w->dev, -1) < 0)
		owned = false;
	for (int i = 0; i < 3000; i++) {
		uint64_t off = rnd_below(&r, T_SLICE - 16), lba = (uint64_t)w->index * T_SLICE + off;
		uint32_t n = 1 + rnd_below(&r, 16);

		if (rnd_below(&r, 2)) {
			for (uint32_t k = 0; k < n * BS; k++)
				buf[k] = (uint8_t)rnd(&r);
			if (ostor_write_blocks(w->dev, 0, 0, lba, n, buf) != 0) {
				fprintf(stderr, "thread %d op %d: write %llu+%u: %s\n", w->index, i,
					(unsigned long long)lba, n, ostor_last_error());
				w->errors++;
			} else {
				memcpy(mine + off * BS, buf, n * BS);
			}
		} else {
			int rc = ostor_read_blocks(w->dev, 0, 0, lba, n, buf);

			if (rc != 0 || memcmp(buf, mine + off * BS, n * BS)) {
				fprintf(stderr, "thread %d op %d: read %llu+%u: %s\n", w->index, i,
					(unsigned long long)lba, n, rc ? ostor_last_error() : "other data than written");
				w->errors++;
			}
		}
		if (i % 500 == 499 && ostor_flush(w->dev, 0, 0) != 0) {
			fprintf(stderr, "thread %d op %d: flush: %s\n", w->index, i, ostor_last_error());
			w->errors++;
		}
	}
	if (owned)
		ostor_queue_release(w->dev);
	return NULL;
}

START_TEST(threads_share_the_cache)
{
	ostor_device *dev = open_spec("sim:size=2M,image=%s,cache=wb,cache_size=256K,read_ahead=32K", image);
	struct worker w[4];
	pthread_t th[4];

	for (int i = 0; i < 4; i++) {
		w[i] = (struct worker){ dev, i, 77 + (uint64_t)i, 0 };
		ck_assert_int_eq(pthread_create(&th[i], NULL, worker_main, &w[i]), 0);
	}
	for (int i = 0; i < 4; i++) {
		pthread_join(th[i], NULL);
		ck_assert_msg(w[i].errors == 0, "thread %d: %d errors", i, w[i].errors);
	}
	ck_assert_int_eq(ostor_flush(dev, 0, 0), 0);
	ck_assert_int_eq(ostor_close(dev), 0);
}
END_TEST

/* ---- queues released while their writes wait in the cache ------------------------------ */

#define P_THREADS 3
#define P_WRITES 16  /* per round, each in a slot of its own */
#define P_BLOCKS 16  /* per write: 8 KiB */
#define P_SLICE (P_WRITES * P_BLOCKS)

struct parker {
	ostor_device *dev;
	int index, rounds, errors;
	uint64_t seed;
	int done, failed;
	uint8_t model[P_SLICE * BS], buf[P_WRITES][P_BLOCKS * BS];
};

static void parker_write_done(ostor_device *dev, int result, void *ud)
{
	struct parker *p = ud;

	(void)dev;
	p->done++;
	p->failed += result != 0;
}

/* Rounds of: take a queue, write more than the cache has room for, and
 * let the queue go at once - the release waits for writes parked in the
 * cache, woken by write-outs that other threads' queues complete. */
static void *parker_main(void *arg)
{
	struct parker *p = arg;
	struct rng r = { p->seed };
	uint64_t base = (uint64_t)p->index * P_SLICE;

	for (int round = 0; round < p->rounds; round++) {
		if (ostor_queue_acquire(p->dev, -1) < 0) {
			fprintf(stderr, "parker %d round %d: acquire: %s\n", p->index, round, ostor_last_error());
			p->errors++;
			break;
		}
		p->done = p->failed = 0;
		for (int i = 0; i < P_WRITES; i++) {
			for (int k = 0; k < P_BLOCKS * BS; k++)
				p->buf[i][k] = (uint8_t)rnd(&r);
			if (ostor_write_blocks_async(p->dev, 0, 0, base + (uint64_t)i * P_BLOCKS, P_BLOCKS, p->buf[i],
						     (struct ostor_block_completion){ parker_write_done, p, NULL })) {
				fprintf(stderr, "parker %d: submit: %s\n", p->index, ostor_last_error());
				p->errors++;
				p->done++;
			}
		}
		ostor_queue_release(p->dev);
		if (p->done != P_WRITES || p->failed) {
			fprintf(stderr, "parker %d round %d: %d of %d writes completed, %d failed\n", p->index, round,
				p->done, P_WRITES, p->failed);
			p->errors++;
			break;
		}
		memcpy(p->model, p->buf, sizeof(p->model));
	}
	return NULL;
}

START_TEST(queues_released_while_writes_wait)
{
	ostor_device *dev = open_spec("sim:size=1M,image=%s,queues=%d,cache=wb,cache_size=64K", image, P_THREADS);
	static struct parker p[P_THREADS];
	static uint8_t got[P_SLICE * BS];
	pthread_t th[P_THREADS];

	for (int i = 0; i < P_THREADS; i++) {
		p[i].dev = dev;
		p[i].index = i;
		p[i].rounds = 300;
		p[i].errors = 0;
		p[i].seed = 0x5eed + (uint64_t)i;
		ck_assert_int_eq(pthread_create(&th[i], NULL, parker_main, &p[i]), 0);
	}
	for (int i = 0; i < P_THREADS; i++)
		ck_assert_int_eq(pthread_join(th[i], NULL), 0);
	for (int i = 0; i < P_THREADS; i++)
		ck_assert_msg(p[i].errors == 0, "thread %d: %d errors", i, p[i].errors);
	ck_assert_uint_gt(info(dev).writeouts, 0);
	ck_assert_int_eq(ostor_flush(dev, 0, 0), 0);
	for (int i = 0; i < P_THREADS; i++) {
		ck_assert_int_eq(ostor_read_blocks(dev, 0, 0, (uint64_t)i * P_SLICE, P_SLICE, got), 0);
		ck_assert_msg(!memcmp(got, p[i].model, sizeof(got)), "thread %d: other data than written", i);
		read_image((uint64_t)i * P_SLICE, P_SLICE, got);
		ck_assert_msg(!memcmp(got, p[i].model, sizeof(got)), "thread %d: the image differs", i);
	}
	ck_assert_int_eq(ostor_close(dev), 0);
}
END_TEST

/* ---- killed before the flush ----------------------------------------------------------- */

/* The child (this program again, exec'd: a fresh process, as a real
 * application would be): writes each block once in the order given by
 * the seed, flushing every 16 and reporting each good flush on fd, and
 * kills itself before block kill_at. */
static int killed_child(const char *img, unsigned int kill_at, uint64_t seed, int fd)
{
	uint32_t order[M_BLOCKS];
	struct rng r = { seed };
	ostor_context *c;
	ostor_device *d;
	uint8_t blk[BS];
	char spec[256];

	for (uint32_t i = 0; i < M_BLOCKS; i++)
		order[i] = i;
	for (uint32_t i = M_BLOCKS - 1; i > 0; i--) {
		uint32_t j = rnd_below(&r, i + 1), x = order[i];

		order[i] = order[j];
		order[j] = x;
	}
	snprintf(spec, sizeof(spec), "sim:size=%d,image=%s,cache=wb,cache_size=64K", M_BLOCKS * BS, img);
	if (ostor_init(&c, "") || ostor_open(c, spec, &d))
		return 2;
	for (unsigned int i = 0; i < M_BLOCKS; i++) {
		if (i == kill_at)
			kill(getpid(), SIGKILL);
		memset(blk, (int)(order[i] & 0x7f), BS);
		if (ostor_write_blocks(d, 0, 0, order[i], 1, blk))
			return 3;
		if (i % 16 == 15) {
			uint32_t done = i + 1;

			if (ostor_flush(d, 0, 0))
				return 4;
			if (write(fd, &done, sizeof(done)) != sizeof(done))
				return 5;
		}
	}
	return 6;
}

/* Every block is then its old or its new content, and everything written
 * before the last good flush is new. */
START_TEST(killed_before_flush)
{
	for (int round = 0; round < 8; round++) {
		static uint8_t img[M_BLOCKS * BS], blk[BS];
		uint32_t order[M_BLOCKS], flushed = 0, v;
		unsigned int kill_at = 20 + (unsigned int)round * 29;
		uint64_t seed = 1234 + (uint64_t)round;
		struct rng r = { seed };
		int fd, status, pfd[2];
		pid_t pid;

		fd = open(image, O_RDWR | O_CREAT | O_TRUNC, 0600);
		ck_assert_int_ge(fd, 0);
		for (int b = 0; b < M_BLOCKS; b++) {
			memset(blk, 0xa0, BS);
			ck_assert_int_eq(pwrite(fd, blk, BS, (off_t)b * BS), BS);
		}
		close(fd);
		for (uint32_t i = 0; i < M_BLOCKS; i++)
			order[i] = i;
		for (uint32_t i = M_BLOCKS - 1; i > 0; i--) {
			uint32_t j = rnd_below(&r, i + 1), x = order[i];

			order[i] = order[j];
			order[j] = x;
		}
		ck_assert_int_eq(pipe(pfd), 0);
		pid = fork();
		ck_assert_int_ge(pid, 0);
		if (pid == 0) {
			char a_kill[16], a_seed[32], a_fd[16];

			close(pfd[0]);
			snprintf(a_kill, sizeof(a_kill), "%u", kill_at);
			snprintf(a_seed, sizeof(a_seed), "%llu", (unsigned long long)seed);
			snprintf(a_fd, sizeof(a_fd), "%d", pfd[1]);
			execl("/proc/self/exe", "test_bcache", "--killed-child", image, a_kill, a_seed, a_fd,
			      (char *)NULL);
			_exit(127);
		}
		close(pfd[1]);
		while (read(pfd[0], &v, sizeof(v)) == sizeof(v))
			flushed = v;
		close(pfd[0]);
		ck_assert_int_eq(waitpid(pid, &status, 0), pid);
		ck_assert_msg(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL, "child status %d", status);
		ck_assert_uint_gt(flushed, 0);
		read_image(0, M_BLOCKS, img);
		for (unsigned int i = 0; i < M_BLOCKS; i++) {
			uint8_t *p = img + (size_t)order[i] * BS;
			bool is_new = true, is_old = true;

			for (int k = 0; k < BS; k++) {
				is_new &= p[k] == (order[i] & 0x7f);
				is_old &= p[k] == 0xa0;
			}
			ck_assert_msg(is_new || is_old, "round %d: block %u is neither old nor new", round, order[i]);
			if (i < flushed)
				ck_assert_msg(is_new, "round %d: block %u flushed but old", round, order[i]);
		}
	}
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("bcache");
	TCase *tc = tcase_create("bcache");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 1200);
	tcase_add_test(tc, modes_and_options);
#if OSTOR_HAVE_USB
	tcase_add_test(tc, usb_keys);
	tcase_add_test(tc, unplug_reports_loss);
#endif
	tcase_add_test(tc, hits_and_read_ahead);
	tcase_add_test(tc, read_ahead_regions);
	tcase_add_test(tc, write_back_and_flush);
	tcase_add_test(tc, writeout_failure_is_sticky);
	tcase_add_test(tc, invalidation_reports_loss);
	tcase_add_test(tc, reset_keeps_dirty_data);
	tcase_add_test(tc, raw_commands_are_coherent);
	tcase_add_test(tc, memory_bound);
	tcase_add_test(tc, cancel_while_waiting);
	tcase_add_test(tc, model_random);
	tcase_add_test(tc, threads_share_the_cache);
	suite_add_tcase(s, tc);
	/* Tagged "reexec": it runs itself again through /proc/self/exe, which
	 * a foreign-CPU run under qemu-user without binfmt_misc cannot
	 * (scripts/cross-check.sh sets CK_EXCLUDE_TAGS=reexec). */
	tc = tcase_create("bcache_reexec");
	tcase_set_tags(tc, "reexec");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 1200);
	tcase_add_test(tc, killed_before_flush);
	suite_add_tcase(s, tc);
	/* A hang here (writes parked with nothing to resume them) fails
	 * within minutes, not at the suite's limit. */
	tc = tcase_create("bcache_release");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 240);
	tcase_add_test(tc, queues_released_while_writes_wait);
	suite_add_tcase(s, tc);
	return s;
}

int main(int argc, char **argv)
{
	SRunner *sr;
	int failed;

	if (argc == 6 && !strcmp(argv[1], "--killed-child"))
		return killed_child(argv[2], (unsigned int)atoi(argv[3]), strtoull(argv[4], NULL, 10), atoi(argv[5]));
	sr = srunner_create(suite());

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
