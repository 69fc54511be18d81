/*
 * lib/usb/suspend.h - USB selective suspend while a device is held idle
 * (ostor_usb_power_manage, [usb_storage] power_management_enabled), for
 * usb: devices (usbfs ALLOW_SUSPEND / FORBID_SUSPEND) and the simulated
 * models alike.
 *
 * One struct ousb_suspend per device, shared by the engines of its
 * interfaces.  The engines' submit checks one atomic flag under the lock
 * it takes anyway; the idle timer runs from the event loop (the layer's
 * next_timeout and handle_events), never on the command path.
 */
#ifndef OSTOR_USB_SUSPEND_H
#define OSTOR_USB_SUSPEND_H

#include "core/backend.h"

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

struct ousb_engine;

/* The layer's switch: allow (true) lets the kernel suspend the idle
 * device; false resumes it, synchronously, and forbids suspending.
 * 0, or a negative errno value. */
typedef int (*ousb_suspend_fn)(void *arg, bool allow);

struct ousb_suspend {
	pthread_mutex_t lock;          /* transitions and settings; before any e->lock */
	ostor_device *dev;
	ousb_suspend_fn set;           /* NULL: the device cannot (unsupported says why) */
	void *arg;
	const char *unsupported;       /* "libusb older than 1.0.23", ... */
	struct ousb_engine *engines[16];
	int nengines;
	/* Suspend is allowed now: the next command resumes the device
	 * first.  Set with every engine's lock held, so a submit that
	 * reads it clear under its engine's lock goes to a device that
	 * stays awake until that command is done. */
	atomic_bool allowed;
	/* When the idle timer looks next (ms, ostori_now_ms), 0: not
	 * watching (off, or allowed already).  Read by next_timeout
	 * without the lock. */
	_Atomic uint64_t deadline;
	bool enabled;
	bool gone;                     /* the kernel said the device is gone */
	unsigned int idle_ms;
	uint64_t seen;                 /* engine commands at the last look */
	uint64_t suspends_allowed, resumes;
};

void ousb_suspend_init(struct ousb_suspend *s, ostor_device *dev, ousb_suspend_fn set, void *arg);
/* Stop (resuming the device if suspend is allowed) and free. */
void ousb_suspend_destroy(struct ousb_suspend *s);
/* Register an engine of the device (at open, before any command). */
void ousb_suspend_add_engine(struct ousb_suspend *s, struct ousb_engine *e);
/* Turn it on (idle_ms > 0) or off; off resumes a device allowed to
 * suspend.  0, or OSTOR_ERROR_NOT_SUPPORTED when the device has no way. */
int ousb_suspend_manage(struct ousb_suspend *s, bool allow, unsigned int idle_ms);
/* Milliseconds until ousb_suspend_tick has work: -1 never. */
int ousb_suspend_next_ms(struct ousb_suspend *s, uint64_t now);
/* The idle timer: allow suspend when every engine has been idle since
 * the last look and idle_ms passed.  From the event loop. */
void ousb_suspend_tick(struct ousb_suspend *s, uint64_t now);
/* A command is about to go out and suspend is allowed: resume first.
 * Called without any engine lock. */
void ousb_suspend_wake(struct ousb_suspend *s);
/* Whether suspend is allowed now (the engine's check). */
static inline bool ousb_suspend_allowed(struct ousb_suspend *s)
{
	return atomic_load_explicit(&s->allowed, memory_order_relaxed);
}

struct ousb_suspend_state {
	bool enabled, allowed;
	unsigned int idle_ms;
	uint64_t suspends_allowed, resumes;
};
void ousb_suspend_get(struct ousb_suspend *s, struct ousb_suspend_state *st);

#endif
