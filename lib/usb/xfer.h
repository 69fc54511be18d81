/*
 * lib/usb/xfer.h - the transfer-layer seam under the USB mass-storage
 * protocol engines.
 *
 * The Bulk-Only and CB/CBI engines (engine.c, bot.c, cbi.c) are written
 * once against this ops table.  Two layers implement it: libusb-1.0's
 * async API for real devices (backend.c) and the simulated device models
 * in lib/usb/sim_device.c.  Contract for every layer:
 * - submit() only queues; the completion callback runs later, from the
 *   layer's event processing (never from inside submit or cancel), with
 *   no layer lock held, so it may submit again;
 * - every submitted transfer completes exactly once (cancel makes it
 *   complete with OUSB_CANCELLED unless it already finished);
 * - halts and port resets are transfers too (kinds CLEAR_HALT_*,
 *   PORT_RESET), so recovery never blocks inside a callback;
 * - OUSB_WAIT is the engine's timer: no traffic, it completes with
 *   OUSB_TIMEOUT after timeout_ms (or OUSB_CANCELLED when cancelled);
 * - a bulk transfer marked may_block may be carried out synchronously
 *   (one blocking system call) from the layer's event processing; the
 *   engine marks every bulk transfer of a command or none, and only when
 *   nothing else of its interface is in flight, so order is kept.
 */
#ifndef OSTOR_USB_XFER_H
#define OSTOR_USB_XFER_H

#include <stddef.h>
#include <stdint.h>

enum ousb_kind {
	OUSB_CONTROL = 0,     /* setup[8] + optional data stage in buf */
	OUSB_BULK_IN,
	OUSB_BULK_OUT,
	OUSB_INTR_IN,
	OUSB_CLEAR_HALT_IN,   /* CLEAR_FEATURE(ENDPOINT_HALT) + host toggle reset */
	OUSB_CLEAR_HALT_OUT,
	OUSB_PORT_RESET,      /* re-enumerate the device on its port */
	OUSB_WAIT,            /* a timer: no bus traffic */
};

/* Which bulk pipe a BULK_IN/BULK_OUT/CLEAR_HALT_* transfer uses: the
 * data pipes (the only ones of Bulk-Only and CB/CBI), or UAS's command
 * (bulk-out) and status (bulk-in) pipes. */
enum ousb_pipe {
	OUSB_PIPE_DATA = 0,
	OUSB_PIPE_COMMAND,
	OUSB_PIPE_STATUS,
};

enum ousb_status {
	OUSB_OK = 0,
	OUSB_STALL,           /* endpoint halted (control: request refused) */
	OUSB_TIMEOUT,
	OUSB_BABBLE,          /* the device sent more than asked */
	OUSB_CANCELLED,
	OUSB_NO_DEVICE,       /* unplugged */
	OUSB_ERROR,           /* anything else */
};

struct ousb_xfer;
typedef void (*ousb_done_fn)(struct ousb_xfer *x);

struct ousb_xfer {
	enum ousb_kind kind;
	uint8_t setup[8];     /* OUSB_CONTROL; direction from bmRequestType */
	uint8_t *buf;
	size_t len;
	unsigned int timeout_ms;  /* 0: none */
	uint8_t pipe;             /* enum ousb_pipe (bulk transfers, clear halt) */
	uint32_t stream;          /* bulk stream ID (UAS at SuperSpeed); 0: none */
	bool may_block;           /* bulk: may run as one blocking call (see above) */
	ousb_done_fn done;
	void *user;
	/* results */
	enum ousb_status status;
	size_t actual;
	/* the layer's bookkeeping */
	void *impl;
	struct ousb_xfer *impl_next;
	uint64_t impl_deadline;
	int impl_state;
};

struct ousb_ops {
	int (*submit)(void *layer, struct ousb_xfer *x);   /* <0: not queued */
	void (*cancel)(void *layer, struct ousb_xfer *x);
	/* Process events for up to timeout_ms (0: without blocking); used
	 * only for the few synchronous steps (probe, tool resets). */
	int (*events)(void *layer, int timeout_ms);
	/* Optional: whether may_block transfers would run blocking now (the
	 * layer can, and no other device's events would wait behind them). */
	bool (*can_block)(void *layer);
};

static inline void ousb_setup(struct ousb_xfer *x, uint8_t type, uint8_t req,
			      uint16_t value, uint16_t index, uint16_t length)
{
	x->setup[0] = type;
	x->setup[1] = req;
	x->setup[2] = (uint8_t)value;
	x->setup[3] = (uint8_t)(value >> 8);
	x->setup[4] = (uint8_t)index;
	x->setup[5] = (uint8_t)(index >> 8);
	x->setup[6] = (uint8_t)length;
	x->setup[7] = (uint8_t)(length >> 8);
}

const char *ousb_status_name(enum ousb_status s);

#endif
