/*
 * virtio-scsi responses, task management answers and events from the
 * device (lib/virtio/scsi_queue.c complete_req, scsi_tmf.c, scsi_events.c)
 * through the whole driver and the core: a simulated virtio-scsi device
 * (sim:transport=virtio) whose answers come from the fuzzer
 * (sim_virtio_set_script): response header (sense_len, resid, status,
 * response code), sense bytes, data, the used.len it reports, TMF
 * response bytes and raw 16-byte events with their used.len (EVENTS_MISSED,
 * TRANSPORT_RESET with RESCAN/REMOVED, PARAM_CHANGE, short buffers).
 *
 * Bytes 0-1 configure; then 2 bytes per command (1 to 4 of them); the
 * rest is the device's script, read by the device thread.  When it runs
 * out, the device answers nothing more: the commands time out (2 ms), the
 * TMF escalation (1 ms per step) ends in a device reset, which gives
 * every command back.  Invariants: every task completes exactly once,
 * transferred <= its buffer, sense <= the sense buffer, and the whole
 * run ends within a bounded number of event-loop passes (else abort()).
 */
#include "fuzz.h"

#include <stdio.h>
#include <stdlib.h>

#include <orionstor.h>

#include "core/backend.h"
#include "virtio/scsi.h"
#include "virtio/sim_device.h"

#define MAX_CMDS 4
/* A bound on event passes too, but one that time reaches first: with a
 * polled queue a pass returns at once while requests are out (a few
 * microseconds), and a cancel, a stall and the resets that follow
 * legitimately take 20,000 passes and more (a corpus input, crash-escalation,
 * ran out of them in 73 ms). */
#define MAX_PASSES 20000000
#define MAX_MS 8000

/* The device's script: only the device thread reads it once set. */
static struct {
	const uint8_t *p;
	size_t n;
} in;

static bool take(void *dst, size_t n)
{
	size_t k = n < in.n ? n : in.n;

	memcpy(dst, in.p, k);
	in.p += k;
	in.n -= k;
	return k == n;
}

static uint8_t u8(void)
{
	uint8_t v = 0;

	take(&v, 1);
	return v;
}

static int64_t script(void *arg, enum sim_virtio_script_kind kind, const uint8_t *req, size_t req_len,
		      uint8_t *buf, size_t buf_len)
{
	uint8_t c;

	(void)arg;
	(void)req;
	(void)req_len;
	if (!in.n)
		return -1; /* out of input: nothing more is answered */
	c = u8();
	switch (kind) {
	case SIM_SCRIPT_COMMAND: {
		size_t s, d;
		uint32_t len;

		if (c == 0xff)
			return -1;
		/* sense_len, resid, status qualifier, status, response */
		take(buf, buf_len < 12 ? buf_len : 12);
		s = u8();               /* sense bytes */
		if (12 + s > buf_len)
			s = buf_len > 12 ? buf_len - 12 : 0;
		take(buf + 12, s);
		d = (size_t)u8() * 32;  /* data-in bytes, after the 12 + 96 */
		if (d && buf_len > 108)
			memset(buf + 108, 0xa5, d < buf_len - 108 ? d : buf_len - 108);
		switch (c & 3) {
		case 0: return (int64_t)buf_len;
		case 1: take(&len, 4); return len;
		case 2: return (int64_t)(c >> 2);
		default: return (int64_t)(108 + d);
		}
	}
	case SIM_SCRIPT_TMF:
		if (c == 0xff)
			return -1;
		if (buf_len)
			buf[0] = u8();
		return (c & 1) ? 1 : (c >> 1);
	case SIM_SCRIPT_EVENT:
		take(buf, buf_len < 16 ? buf_len : 16);
		return (c & 0x80) ? (int64_t)(c & 0x1f) : 16;
	}
	return -1;
}

struct cmd {
	ostor_task *t;
	uint8_t *buf;
	size_t len;
	unsigned int done;
};

static void complete(ostor_task *t, void *user_data)
{
	struct cmd *c = user_data;
	size_t sl = 0;
	const uint8_t *sense = ostor_task_sense(t, &sl);

	c->done++;
	if (c->done > 1)
		__builtin_trap(); /* completed twice */
	if (ostor_task_transferred(t) > c->len)
		__builtin_trap();
	if (sl > OSTOR_SENSE_MAX || (sl && !sense))
		__builtin_trap();
	if (sense)
		sink_bytes(sense, sl);
	SINK(ostor_task_result(t));
	SINK(ostor_task_status(t));
	if (getenv("FUZZ_VERBOSE")) /* reproducing one input: what happened */
		fprintf(stderr, "task %p: result %d status %d transferred %zu sense %zu\n", (void *)t,
			(int)ostor_task_result(t), ostor_task_status(t), ostor_task_transferred(t), sl);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static ostor_context *ctx;
	struct cmd cmds[MAX_CMDS];
	ostor_device *dev;
	struct sim_vdev *m;
	char spec[160];
	unsigned int ncmd, nev, done, passes = 0;
	uint8_t cfg, evcfg;
	uint64_t end;

	if (size < 2)
		return 0;
	if (!ctx) {
		if (ostor_init(&ctx, "") < 0)
			abort();
		ostor_set_log_level(ctx, OSTOR_LOG_NONE);
	}
	cfg = data[0];
	evcfg = data[1];
	ncmd = 1 + (cfg >> 3 & 3);
	if (size < 2 + 2 * ncmd)
		return 0;
	snprintf(spec, sizeof(spec), "sim:transport=virtio,timeout=1,busy-backoff=1%s%s%s%s",
		 cfg & 1 ? ",packed" : "", cfg & 2 ? ",intr" : "", cfg & 4 ? ",no-indirect" : "",
		 cfg & 0x80 ? ",queue-size=4" : "");
	if (ostor_open(ctx, spec, &dev) < 0)
		abort();
	m = sim_virtio_of(dev);
	if (!m)
		abort();

	memset(cmds, 0, sizeof(cmds));
	for (unsigned int i = 0; i < ncmd; i++) {
		uint8_t kind = data[2 + 2 * i], blocks = data[3 + 2 * i] & 7;
		struct cmd *c = &cmds[i];
		enum ostor_dir dir = kind % 3 == 0 ? OSTOR_DIR_NONE :
				     kind % 3 == 1 ? OSTOR_DIR_FROM_DEVICE : OSTOR_DIR_TO_DEVICE;
		uint8_t cdb[10] = { 0 };

		if (dir == OSTOR_DIR_NONE)
			blocks = 0;
		else if (!blocks)
			blocks = 1;
		c->len = (size_t)blocks * 512;
		c->buf = ostor_dma_alloc(dev, c->len ? c->len : 512);
		if (!c->buf)
			abort();
		memset(c->buf, 0x5a, c->len ? c->len : 512);
		cdb[0] = dir == OSTOR_DIR_NONE ? 0x00 : dir == OSTOR_DIR_FROM_DEVICE ? 0x28 : 0x2a;
		cdb[5] = (uint8_t)i;
		cdb[8] = blocks;
		if (ostor_task_new(dev, &c->t) < 0 ||
		    ostor_task_prepare(c->t, 0, 0, cdb, dir == OSTOR_DIR_NONE ? 6 : 10, dir,
				       c->len ? c->buf : NULL, c->len) < 0 ||
		    ostor_task_set_timeout(c->t, 2 + (kind >> 4)) < 0)
			abort();
	}
	in.p = data + 2 + 2 * ncmd;
	in.n = size - 2 - 2 * ncmd;
	sim_virtio_set_script(m, script, NULL);

	/* Events first (the script rewrites them; more than the model
	 * keeps set EVENTS_MISSED on the next one). */
	nev = evcfg & 7;
	if (evcfg & 8)
		nev += 64;
	for (unsigned int i = 0; i < nev; i++)
		sim_virtio_post_event(m, (evcfg >> 4) & 3, 0, i & 3, (evcfg >> 6) & 3);

	for (unsigned int i = 0; i < ncmd; i++) {
		struct ostor_completion comp = { complete, &cmds[i], NULL };

		if (ostor_task_submit(cmds[i].t, comp) < 0)
			cmds[i].done = 1; /* refused: never in flight */
		if ((cfg & 0x40) && i == 0)
			ostor_task_cancel(cmds[i].t);
	}

	end = ostori_now_ms() + MAX_MS;
	do {
		done = 0;
		for (unsigned int i = 0; i < ncmd; i++)
			done += cmds[i].done != 0;
		if (done == ncmd)
			break;
		ostor_handle_events(ctx, 1);
		if (++passes > MAX_PASSES || ostori_now_ms() > end)
			abort(); /* the driver did not terminate */
	} while (1);
	/* A few more passes: a late second completion would show now. */
	for (int k = 0; k < 3; k++)
		ostor_handle_events_nonblock(ctx);

	sim_virtio_set_script(m, NULL, NULL);
	for (unsigned int i = 0; i < ncmd; i++) {
		ostor_task_free(cmds[i].t);
		ostor_dma_free(dev, cmds[i].buf, cmds[i].len ? cmds[i].len : 512);
	}
	ostor_close(dev);
	return 0;
}
