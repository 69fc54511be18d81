/*
 * tests/vm/cache-writer.c - guest side of tests/vm/t-cache.sh: random
 * writes through a device's block cache (open it with ",cache=wb"), with
 * flushes every --flush-every writes, then a last flush and close - or a
 * SIGKILL of itself after --kill-after writes, before any flush after it.
 *
 * What it writes follows from the seed alone (tests/vm/lib/cachecheck.py
 * replays it on the host against the disk image): write i goes to LBA
 * x % region, 1 + y % max_blocks blocks, with x, y from xorshift64; each
 * 8-byte word j of block b of that write holds mix(seed, i, lba + b) + j.
 *
 * Public API only.
 */
#include <orionstor.h>

#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static uint64_t xorshift(uint64_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return *s;
}

static uint64_t mix(uint64_t seed, uint64_t i, uint64_t lba)
{
	uint64_t z = seed * 0x9e3779b97f4a7c15u ^ i * 0xbf58476d1ce4e5b9u ^ lba * 0x94d049bb133111ebu;

	z ^= z >> 31;
	return z * 0x9e3779b97f4a7c15u;
}

static void usage(void)
{
	fprintf(stderr, "usage: cache-writer SPEC SEED WRITES MAX_BLOCKS REGION FLUSH_EVERY KILL_AFTER "
			"[TARGET LUN]\n  (FLUSH_EVERY 0: none before the end; KILL_AFTER 0: do not kill)\n");
	exit(2);
}

int main(int argc, char **argv)
{
	struct ostor_lun_info li = OSTOR_LUN_INFO_INIT;
	uint64_t seed, writes, max_blocks, region, flush_every, kill_after, s;
	ostor_context *ctx;
	ostor_device *dev;
	uint32_t target = 0, lun = 0;
	uint64_t *buf;
	int r;

	if (argc != 8 && argc != 10)
		usage();
	if (argc == 10) {
		target = (uint32_t)strtoul(argv[8], NULL, 0);
		lun = (uint32_t)strtoul(argv[9], NULL, 0);
	}
	seed = strtoull(argv[2], NULL, 0);
	writes = strtoull(argv[3], NULL, 0);
	max_blocks = strtoull(argv[4], NULL, 0);
	region = strtoull(argv[5], NULL, 0);
	flush_every = strtoull(argv[6], NULL, 0);
	kill_after = strtoull(argv[7], NULL, 0);
	if (!seed || !max_blocks || region < max_blocks)
		usage();
	if ((r = ostor_init(&ctx, NULL)) < 0 || (r = ostor_open(ctx, argv[1], &dev)) < 0 ||
	    (r = ostor_lun_info(dev, target, lun, &li)) < 0) {
		fprintf(stderr, "cache-writer: %s: %s\n", argv[1], ostor_last_error());
		return 1;
	}
	if (li.blocks < region || li.block_size % 8) {
		fprintf(stderr, "cache-writer: the LUN has %llu blocks of %u bytes\n",
			(unsigned long long)li.blocks, li.block_size);
		return 1;
	}
	buf = malloc(max_blocks * li.block_size);
	if (!buf)
		return 1;
	s = seed;
	for (uint64_t i = 0; i < writes; i++) {
		uint64_t lba = xorshift(&s) % (region - max_blocks + 1);
		uint64_t n = 1 + xorshift(&s) % max_blocks;
		size_t words = li.block_size / 8;

		if (kill_after && i == kill_after)
			raise(SIGKILL);
		for (uint64_t b = 0; b < n; b++)
			for (size_t j = 0; j < words; j++)
				buf[b * words + j] = mix(seed, i, lba + b) + j;
		if ((r = ostor_write_blocks(dev, target, lun, lba, (uint32_t)n, buf)) < 0) {
			fprintf(stderr, "cache-writer: write %llu: %s\n", (unsigned long long)i, ostor_last_error());
			return 1;
		}
		if (flush_every && (i + 1) % flush_every == 0 && (r = ostor_flush(dev, target, lun)) < 0) {
			fprintf(stderr, "cache-writer: flush after %llu: %s\n", (unsigned long long)i + 1,
				ostor_last_error());
			return 1;
		}
	}
	if (kill_after)
		raise(SIGKILL);
	{
		struct ostor_cache_info ci = OSTOR_CACHE_INFO_INIT;

		if (ostor_cache_info(dev, target, lun, &ci) == 0)
			printf("cache: mode=%s absorbed=%llu dirty=%llu writeouts=%llu writeout_bytes=%llu\n",
			       ostor_cache_mode_name(ci.mode), (unsigned long long)ci.writes_absorbed,
			       (unsigned long long)ci.dirty_bytes, (unsigned long long)ci.writeouts,
			       (unsigned long long)ci.writeout_bytes);
	}
	if ((r = ostor_close(dev)) < 0) {
		fprintf(stderr, "cache-writer: close: %s\n", ostor_last_error());
		return 1;
	}
	ostor_exit(ctx);
	free(buf);
	return 0;
}
