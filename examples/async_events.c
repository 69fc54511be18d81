/*
 * examples/async_events.c - asynchronous tasks driven by your own poll().
 *
 * Submits several WRITE(10) tasks at once, waits for them with poll() on
 * the library's descriptors and its next timeout, then does the same with
 * READ(10) and checks the data.  Callbacks run only from inside
 * ostor_handle_events_nonblock(), never from ostor_task_submit().
 *
 * Build against an installed library:
 *   cc async_events.c $(pkg-config --cflags --libs liborionstor)
 *
 * Exit status 0 when every task completed GOOD and the data matched.
 */
#include <errno.h>
#include <inttypes.h>
#include <poll.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <orionstor.h>

#define NTASKS 8
#define BLOCKS_PER_TASK 4
/* Give up instead of hanging if completions never arrive. */
#define DEADLINE_MS 20000

struct slot {
	int index;
	ostor_task *task;
	uint8_t *buf;
	bool done;
	enum ostor_result result;
};

static bool in_submit;        /* a callback must never see this set */
static int callbacks_run;
static int frees_run;
static int errors;

static void on_complete(ostor_task *task, void *user_data)
{
	struct slot *s = user_data;

	if (in_submit) {
		fprintf(stderr, "async_events: callback ran inside ostor_task_submit\n");
		errors++;
	}
	if (s->done) {
		fprintf(stderr, "async_events: task %d completed twice\n", s->index);
		errors++;
	}
	s->done = true;
	s->result = ostor_task_result(task);
	callbacks_run++;
}

/* The completion's .free: called once the library is done with user_data. */
static void on_free(void *user_data)
{
	(void)user_data;
	frees_run++;
}

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

/* The outside event loop: poll the library's fds until every slot is
 * done, sleeping no longer than ostor_next_timeout() allows. */
static int run_until_done(ostor_context *ctx, struct slot *slots, int n)
{
	struct pollfd *fds = NULL;
	int cap = 0, ret = -1;
	uint64_t deadline = now_ms() + DEADLINE_MS;

	for (;;) {
		int pending = 0, nfds, timeout, err;

		for (int i = 0; i < n; i++)
			pending += !slots[i].done;
		if (!pending) {
			ret = 0;
			break;
		}
		if (now_ms() > deadline) {
			fprintf(stderr, "async_events: %d tasks still pending after %d ms\n",
				pending, DEADLINE_MS);
			break;
		}

		nfds = ostor_get_pollfds(ctx, fds, cap);
		if (nfds < 0) {
			fprintf(stderr, "async_events: ostor_get_pollfds: %s\n",
				ostor_last_error());
			break;
		}
		if (nfds > cap) {
			/* More descriptors than room: grow and ask again. */
			struct pollfd *nf = realloc(fds, (size_t)nfds * sizeof(*fds));

			if (!nf) {
				fprintf(stderr, "async_events: out of memory\n");
				break;
			}
			fds = nf;
			cap = nfds;
			continue;
		}

		timeout = ostor_next_timeout(ctx);
		/* Bound each wait so the deadline above is honoured. */
		if (timeout < 0 || timeout > 1000)
			timeout = 1000;
		if (poll(fds, (nfds_t)nfds, timeout) < 0 && errno != EINTR) {
			perror("async_events: poll");
			break;
		}
		err = ostor_handle_events_nonblock(ctx);
		if (err < 0) {
			fprintf(stderr, "async_events: ostor_handle_events_nonblock: %s\n",
				ostor_last_error());
			break;
		}
	}
	free(fds);
	return ret;
}

static int submit_all(struct slot *slots, int n, bool write, uint32_t block_size)
{
	for (int i = 0; i < n; i++) {
		struct slot *s = &slots[i];
		struct ostor_cdb cdb;
		struct ostor_completion comp = {
			.callback = on_complete,
			.user_data = s,
			.free = on_free,
		};
		uint32_t lba = (uint32_t)(i * BLOCKS_PER_TASK);
		size_t len = (size_t)BLOCKS_PER_TASK * block_size;
		int err;

		err = write ? ostor_scsi_cdb_write10(&cdb, lba, BLOCKS_PER_TASK, 0)
			    : ostor_scsi_cdb_read10(&cdb, lba, BLOCKS_PER_TASK, 0);
		if (err >= 0 && ostor_task_result(s->task) != OSTOR_RESULT_PENDING)
			err = ostor_task_reset(s->task);   /* reuse: no new allocation */
		if (err >= 0)
			err = ostor_task_set_lun(s->task, 0, 0);
		if (err >= 0)
			err = ostor_task_set_cdb(s->task, cdb.bytes, cdb.len);
		if (err >= 0)
			err = ostor_task_set_buffer(s->task, write ? OSTOR_DIR_TO_DEVICE
							     : OSTOR_DIR_FROM_DEVICE,
						    s->buf, len);
		if (err < 0) {
			fprintf(stderr, "async_events: preparing task %d: %s\n", i,
				ostor_last_error());
			return -1;
		}
		s->done = false;
		in_submit = true;
		err = ostor_task_submit(s->task, comp);
		in_submit = false;
		if (err < 0) {
			fprintf(stderr, "async_events: submitting task %d: %s\n", i,
				ostor_last_error());
			return -1;
		}
	}
	return 0;
}

static int check_results(const struct slot *slots, int n, const char *what)
{
	for (int i = 0; i < n; i++) {
		if (slots[i].result != OSTOR_RESULT_GOOD) {
			fprintf(stderr, "async_events: %s task %d: %s (%s)\n", what, i,
				ostor_result_name(slots[i].result),
				ostor_task_error(slots[i].task) < 0 ? ostor_last_error() : "");
			return -1;
		}
	}
	return 0;
}

int main(int argc, char **argv)
{
	const char *spec = argc > 1 ? argv[1] : "sim:size=4M";
	struct slot slots[NTASKS];
	struct ostor_lun_info info = OSTOR_LUN_INFO_INIT;
	ostor_context *ctx;
	ostor_device *dev;
	size_t len = 0;
	int err, rc = 1, expected_callbacks = 0;

	memset(slots, 0, sizeof(slots));
	err = ostor_init(&ctx, NULL);
	if (err < 0) {
		fprintf(stderr, "async_events: ostor_init: %s\n", ostor_last_error());
		return 1;
	}
	err = ostor_open(ctx, spec, &dev);
	if (err < 0) {
		fprintf(stderr, "async_events: %s: %s\n", spec, ostor_last_error());
		ostor_exit(ctx);
		return 1;
	}
	err = ostor_lun_info(dev, 0, 0, &info);
	if (err < 0 || info.block_size == 0 ||
	    info.blocks < (uint64_t)NTASKS * BLOCKS_PER_TASK) {
		fprintf(stderr, "async_events: %s is unusable: %s\n", spec,
			err < 0 ? ostor_last_error() : "too small or no medium");
		goto out;
	}

	len = (size_t)BLOCKS_PER_TASK * info.block_size;
	for (int i = 0; i < NTASKS; i++) {
		slots[i].index = i;
		slots[i].buf = malloc(len);
		if (!slots[i].buf || ostor_task_new(dev, &slots[i].task) < 0) {
			fprintf(stderr, "async_events: cannot set up task %d: %s\n", i,
				ostor_last_error());
			goto out;
		}
		memset(slots[i].buf, 0xa0 + i, len);
	}

	/* Round 1: all writes in flight at once. */
	if (submit_all(slots, NTASKS, true, info.block_size) < 0)
		goto out;
	expected_callbacks += NTASKS;
	printf("submitted %d writes, %u in flight\n", NTASKS, ostor_inflight(ctx));
	if (run_until_done(ctx, slots, NTASKS) < 0 ||
	    check_results(slots, NTASKS, "write") < 0)
		goto out;

	/* Round 2: read everything back into cleared buffers. */
	for (int i = 0; i < NTASKS; i++)
		memset(slots[i].buf, 0, len);
	if (submit_all(slots, NTASKS, false, info.block_size) < 0)
		goto out;
	expected_callbacks += NTASKS;
	if (run_until_done(ctx, slots, NTASKS) < 0 ||
	    check_results(slots, NTASKS, "read") < 0)
		goto out;
	for (int i = 0; i < NTASKS; i++) {
		for (size_t j = 0; j < len; j++) {
			if (slots[i].buf[j] != (uint8_t)(0xa0 + i)) {
				fprintf(stderr, "async_events: task %d byte %zu is %02x, "
					"expected %02x\n", i, j, slots[i].buf[j], 0xa0 + i);
				goto out;
			}
		}
	}
	if (errors || callbacks_run != expected_callbacks ||
	    frees_run != expected_callbacks || ostor_inflight(ctx) != 0) {
		fprintf(stderr, "async_events: %d errors, %d callbacks and %d frees "
			"(expected %d), %u still in flight\n", errors, callbacks_run,
			frees_run, expected_callbacks, ostor_inflight(ctx));
		goto out;
	}
	printf("%d writes and %d reads completed through poll(); data verified\n",
	       NTASKS, NTASKS);
	rc = 0;
out:
	for (int i = 0; i < NTASKS; i++) {
		if (slots[i].task)
			ostor_task_free(slots[i].task);
		free(slots[i].buf);
	}
	err = ostor_close(dev);
	if (err < 0 && rc == 0) {
		fprintf(stderr, "async_events: ostor_close: %s\n", ostor_last_error());
		rc = 1;
	}
	ostor_exit(ctx);
	return rc;
}
