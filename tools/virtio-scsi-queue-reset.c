/*
 * virtio-scsi-queue-reset: VirtIO 1.2 reset of one virtqueue.
 */
#include "virtiotool.h"

#include <stdlib.h>
#include <string.h>


struct args {
	long queue;
};

static error_t parser(int key, char *arg, struct argp_state *state)
{
	struct args *a = state->input;

	if (key == 0x100) {
		a->queue = (long)tc_argp_u64(state, "--queue", arg, 65535);
		return 0;
	}
	if (key == ARGP_KEY_END && a->queue < 0)
		argp_error(state, "--queue N is required");
	return ARGP_ERR_UNKNOWN;
}

static const struct argp_option options[] = {
	{ "queue", 0x100, "N", 0, "Virtqueue index (2 and up are request queues)", 0 },
	{ 0 }
};

static const struct argp tool_argp = {
	options, parser, NULL,
	"Reset one request queue (VIRTIO_F_RING_RESET); its requests in flight complete as aborted."
};

int main(int argc, char **argv)
{
	struct tc_common c;
	struct tc_report r;
	struct args a = { -1 };
	ostor_context *ctx;
	ostor_device *dev;
	int rc, err;

	tc_set_progname("virtio-scsi-queue-reset");
	tc_parse(&tool_argp, argc, argv, TC_OPT_DEVICE_REQUIRED | TC_OPT_VIRTIO | TC_OPT_JSON | TC_OPT_NO_LUN | TC_OPT_NO_TARGET, &c, &a);
	tc_report_begin(&r, &c, "queue-reset");
	if ((rc = vst_open(&c, &ctx, &dev)))
		return tc_report_end(&r, rc);
	err = ostor_virtio_queue_reset(dev, (unsigned int)a.queue);
	if (err < 0) {
		tc_lib_error(err, "queue %ld of %s", a.queue, c.device);
		tc_close(ctx, dev);
		return tc_report_end(&r, tc_exit_from_error(err));
	}
	/* Show the queue works again: scan the LUNs through it. */
	if (a.queue >= 2 && ostor_virtio_queue_acquire(dev, (int)a.queue - 2) == (int)a.queue - 2) {
		struct ostor_lun_addr *luns = NULL;
		size_t n = 0;

		err = ostor_device_luns(dev, &luns, &n);
		ostor_virtio_queue_release(dev);
		free(luns);
		if (err < 0) {
			tc_lib_error(err, "queue %ld of %s was reset but does not work", a.queue, c.device);
			tc_close(ctx, dev);
			return tc_report_end(&r, tc_exit_from_error(err));
		}
		tc_report_step(&r, "reset", "queue %ld of %s reset; a LUN scan through it found %zu LUN(s)", a.queue,
		       c.device, n);
	} else {
		tc_report_step(&r, "reset", "queue %ld of %s reset", a.queue, c.device);
	}
	rc = tc_close(ctx, dev);
	return tc_report_end(&r, rc);
}
