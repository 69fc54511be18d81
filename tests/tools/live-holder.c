/*
 * tests/tools/live-holder.c - a process holding a device for the live
 * tools' tests: it writes and reads a known amount, prints its own
 * statistics (one JSON line), optionally leaves one command in flight to
 * the sim device's held block, then handles events until its standard
 * input ends, and prints what became of the held command, how many
 * ranges of cached writes it was told were lost (OSTOR_EVENT_CACHE_DATA_LOST)
 * and what closing the device (its final flush) returned.  Writes are
 * never flushed before that: with a write-back cache (cache=wb) they stay
 * dirty for the cache tools to find.
 *
 *   live-holder SPEC WRITES READS [HELD_LBA]
 *
 * Public API only.
 */
#include <orionstor.h>

#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static int lost_ranges;

static void on_event(const struct ostor_event *ev, void *ud)
{
	(void)ud;
	if (ev->type == OSTOR_EVENT_CACHE_DATA_LOST)
		lost_ranges++;
}

int main(int argc, char **argv)
{
	ostor_context *ctx;
	ostor_device *dev;
	ostor_task *held = NULL;
	static uint8_t buf[8 * 512], hbuf[512];
	int writes, reads, r;
	char *json;

	if (argc < 4) {
		fprintf(stderr, "usage: live-holder SPEC WRITES READS [HELD_LBA]\n");
		return 2;
	}
	writes = atoi(argv[2]);
	reads = atoi(argv[3]);
	if ((r = ostor_init(&ctx, NULL)) < 0 || (r = ostor_open(ctx, argv[1], &dev)) < 0) {
		fprintf(stderr, "live-holder: %s: %s\n", argv[1], ostor_last_error());
		return 1;
	}
	ostor_stats_histograms(dev, 1);
	if (ostor_set_event_handler(ctx, (struct ostor_event_handler){ on_event, NULL, NULL }) < 0)
		goto fail;
	memset(buf, 0xa5, sizeof(buf));
	for (int i = 0; i < writes; i++)
		if (ostor_write_blocks(dev, 0, 0, (uint64_t)(i % 64) * 8, 8, buf) < 0)
			goto fail;
	for (int i = 0; i < reads; i++)
		if (ostor_read_blocks(dev, 0, 0, (uint64_t)(i % 64) * 8, 1 + (uint32_t)(i % 8), buf) < 0)
			goto fail;
	json = ostor_stats_json(dev);
	if (!json)
		goto fail;
	printf("%s\n", json);
	free(json);
	if (argc > 4) {
		uint64_t lba = strtoull(argv[4], NULL, 0);
		uint8_t cdb[10] = { 0x28, 0, (uint8_t)(lba >> 24), (uint8_t)(lba >> 16), (uint8_t)(lba >> 8),
				    (uint8_t)lba, 0, 0, 1, 0 };

		if (ostor_task_new(dev, &held) < 0 ||
		    ostor_task_prepare(held, 0, 0, cdb, sizeof(cdb), OSTOR_DIR_FROM_DEVICE, hbuf, sizeof(hbuf)) < 0 ||
		    ostor_task_set_timeout(held, 600000) < 0 ||
		    ostor_task_submit(held, (struct ostor_completion){ 0 }) < 0)
			goto fail;
	}
	printf("ready\n");
	fflush(stdout);
	for (;;) {
		struct pollfd p = { .fd = STDIN_FILENO, .events = POLLIN };
		char c;

		if (ostor_handle_events(ctx, 0) < 0)
			goto fail;
		if (poll(&p, 1, 20) > 0 && read(STDIN_FILENO, &c, 1) <= 0)
			break;
	}
	if (held) {
		if (ostor_task_result(held) == OSTOR_RESULT_PENDING)
			ostor_task_cancel(held);
		while (ostor_task_result(held) == OSTOR_RESULT_PENDING)
			if (ostor_handle_events(ctx, 100) < 0)
				goto fail;
		printf("held: %s\n", ostor_result_name(ostor_task_result(held)));
		ostor_task_free(held);
	}
	ostor_handle_events(ctx, 0);
	printf("lost: %d\n", lost_ranges);
	r = ostor_close(dev);
	printf("close: %s\n", r < 0 ? ostor_error_name(r) : "ok");
	ostor_exit(ctx);
	return 0;
fail:
	fprintf(stderr, "live-holder: %s\n", ostor_last_error());
	return 1;
}
