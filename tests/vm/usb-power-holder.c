/*
 * tests/vm/usb-power-holder.c - guest side of t-usb-power.sh: hold a USB
 * device open and idle, the way a program that integrates liborionstor's
 * event loop does (poll on ostor_get_pollfds and its own descriptor, with
 * ostor_next_timeout), and run commands read from stdin:
 *
 *   read LBA COUNT FILE    read COUNT blocks at LBA into FILE
 *   status                 print the power state
 *   quit
 *
 * Each command answers with one line on stdout ("ok ..." or "error ...")
 * followed by the power state line, flushed at once.
 *
 *   usb-power-holder SPEC [--manage IDLE_MS] [--set auto|on DELAY_MS]
 *
 * --set writes power/control and power/autosuspend_delay_ms through
 * ostor_usb_power_set before anything else; --manage turns selective
 * suspend on with that idle time (ostor_usb_power_manage).
 */
#include <orionstor.h>

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static ostor_context *ctx;
static ostor_device *dev;

static void print_power(void)
{
	struct ostor_usb_power p = OSTOR_USB_POWER_INIT;

	if (ostor_usb_power_get(dev, &p) < 0) {
		printf("power error %s\n", ostor_last_error());
		return;
	}
	printf("power control=%s delay=%d status=%s suspended_ms=%llu active_ms=%llu max_power_ma=%u "
	       "speed=%s manage=%d idle_ms=%u suspends_allowed=%llu resumes=%llu sysfs=%s\n",
	       p.control, p.autosuspend_delay_ms, p.runtime_status,
	       (unsigned long long)p.runtime_suspended_ms, (unsigned long long)p.runtime_active_ms,
	       p.max_power_ma, p.speed, p.suspend_allowed, p.idle_ms,
	       (unsigned long long)p.suspends_allowed, (unsigned long long)p.resumes, p.sysfs_path);
}

static int do_read(unsigned long long lba, unsigned int count, const char *path)
{
	struct ostor_lun_info li = OSTOR_LUN_INFO_INIT;
	unsigned char *buf;
	FILE *f;
	int r;

	if ((r = ostor_lun_info(dev, 0, 0, &li)) < 0)
		return r;
	buf = malloc((size_t)count * li.block_size);
	if (!buf)
		return OSTOR_ERROR_NO_MEM;
	r = ostor_read_blocks(dev, 0, 0, lba, count, buf);
	if (r == 0) {
		f = fopen(path, "wb");
		if (!f || fwrite(buf, li.block_size, count, f) != count)
			r = OSTOR_ERROR_IO;
		if (f)
			fclose(f);
	}
	free(buf);
	return r;
}

/* One command line; 1 to quit. */
static int command(char *line)
{
	unsigned long long lba;
	unsigned int count;
	char path[512];
	int r;

	line[strcspn(line, "\n")] = '\0';
	if (!strcmp(line, "quit"))
		return 1;
	if (sscanf(line, "read %llu %u %511s", &lba, &count, path) == 3) {
		r = do_read(lba, count, path);
		if (r < 0)
			printf("error read: %s\n", ostor_last_error());
		else
			printf("ok read\n");
	} else if (!strcmp(line, "status")) {
		printf("ok status\n");
	} else {
		printf("error unknown command '%s'\n", line);
	}
	print_power();
	fflush(stdout);
	return 0;
}

int main(int argc, char **argv)
{
	int manage_ms = -1, set_auto = -1, set_delay = -1;
	char line[1024];
	size_t used = 0;

	if (argc < 2) {
		fprintf(stderr, "usage: %s SPEC [--manage IDLE_MS] [--set auto|on DELAY_MS]\n", argv[0]);
		return 2;
	}
	for (int i = 2; i < argc; i++) {
		if (!strcmp(argv[i], "--manage") && i + 1 < argc) {
			manage_ms = atoi(argv[++i]);
		} else if (!strcmp(argv[i], "--set") && i + 2 < argc) {
			set_auto = !strcmp(argv[++i], "auto");
			set_delay = atoi(argv[++i]);
		} else {
			fprintf(stderr, "unknown argument %s\n", argv[i]);
			return 2;
		}
	}
	if (ostor_init(&ctx, NULL) < 0 || ostor_open(ctx, argv[1], &dev) < 0) {
		fprintf(stderr, "open %s: %s\n", argv[1], ostor_last_error());
		return 1;
	}
	if (set_auto >= 0 && ostor_usb_power_set(dev, set_auto, set_delay) < 0) {
		fprintf(stderr, "ostor_usb_power_set: %s\n", ostor_last_error());
		return 1;
	}
	if (manage_ms >= 0 && ostor_usb_power_manage(dev, 1, (unsigned int)manage_ms) < 0) {
		fprintf(stderr, "ostor_usb_power_manage: %s\n", ostor_last_error());
		return 1;
	}
	printf("ok open\n");
	print_power();
	fflush(stdout);

	for (;;) {
		struct pollfd fds[32];
		int n = ostor_get_pollfds(ctx, fds + 1, 31), t = ostor_next_timeout(ctx);
		ssize_t got;

		if (n < 0 || n > 31) {
			fprintf(stderr, "ostor_get_pollfds: %d\n", n);
			return 1;
		}
		fds[0].fd = 0;
		fds[0].events = POLLIN;
		fds[0].revents = 0;
		if (poll(fds, (nfds_t)n + 1, t) < 0 && errno != EINTR)
			return 1;
		ostor_handle_events_nonblock(ctx);
		if (!(fds[0].revents & (POLLIN | POLLHUP)))
			continue;
		got = read(0, line + used, sizeof(line) - 1 - used);
		if (got <= 0)
			break;
		used += (size_t)got;
		line[used] = '\0';
		for (char *nl; (nl = strchr(line, '\n'));) {
			size_t len = (size_t)(nl - line) + 1;
			char one[1024];

			memcpy(one, line, len);
			one[len] = '\0';
			memmove(line, line + len, used - len + 1);
			used -= len;
			if (command(one))
				goto out;
		}
	}
out:
	ostor_close(dev);
	ostor_exit(ctx);
	return 0;
}
