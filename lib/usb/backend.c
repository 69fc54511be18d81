/*
 * lib/usb/backend.c - the "usb:" backend: USB mass storage over libusb-1.0.
 *
 * This file is the libusb transfer layer under the protocol engines
 * (engine.c) plus enumeration, claiming and hot-plug.  Bulk, interrupt
 * and control transfers use libusb's async API; CLEAR_FEATURE(HALT) and
 * port resets are synchronous in libusb, so they are deferred and run
 * from our event handling, outside libusb's callbacks.
 */
#include "usb/backend.h"
#include "usb/spec.h"

#include <errno.h>
#include <fcntl.h>
#include <libusb.h>
#include <linux/usbdevice_fs.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

/* libusb_wrap_sys_device: 1.0.23 and later. */
#if defined(LIBUSB_API_VERSION) && LIBUSB_API_VERSION >= 0x01000107
#define HAVE_WRAP_SYS_DEVICE 1
#endif
#ifndef USBDEVFS_CAP_SUSPEND
#define USBDEVFS_CAP_SUSPEND 0x100
#define USBDEVFS_FORBID_SUSPEND _IO('U', 33)
#define USBDEVFS_ALLOW_SUSPEND _IO('U', 34)
#endif

/* The largest command by link speed, as the kernel's usb-storage has it
 * (2048 sectors at SuperSpeed): a low or full speed link moves 64 KiB in
 * tens of milliseconds already, a SuperSpeed one 1 MiB in a few.  UAS
 * stays at 256 KiB: its commands queue, and 32 of 1 MiB in flight would
 * pass the kernel's usbfs memory limit (usbfs_memory_mb, 16 MiB). */
static size_t default_max_transfer(int speed, bool uas)
{
	if (speed >= LIBUSB_SPEED_SUPER && !uas)
		return 1u << 20;
	if (speed >= LIBUSB_SPEED_HIGH || speed == LIBUSB_SPEED_UNKNOWN)
		return 256u << 10;
	return 64u << 10;
}

struct usb_dev;
struct usb_intf;

struct usb_context {
	libusb_context *lctx;
	int init_error;
	bool hotplug;
	libusb_hotplug_callback_handle hotplug_handle;
	pthread_mutex_t lock;          /* devices, deferred */
	/* Held by walkers of the device list that take engine locks (the
	 * idle timers of lib/usb/suspend.c, the hot-plug callback) and by
	 * open and close around changes of the list: engine locks must
	 * never nest inside lock, which submit takes under an engine's. */
	pthread_mutex_t suspend_lock;
	struct usb_dev *devices;
	/* Every device with transfers to expire: the open ones, and those
	 * being opened (whose probe's transfers time out too) or closed. */
	struct usb_dev *xfer_devs;
	struct ousb_xfer *deferred, *deferred_tail;
	/* libusb's descriptors, kept current by its notifiers so the event
	 * loop does not allocate a list per command. */
	pthread_mutex_t pollfd_lock;
	struct pollfd pollfds[16];
	int npollfds;
	bool pollfds_overflow;         /* more than fit: ask libusb each time */
	/* Transfer timeouts are ours, not libusb's: libusb arms and disarms
	 * a timerfd (two syscalls) for every transfer that has one.  The
	 * earliest deadline of a transfer in flight, or later (UINT64_MAX:
	 * none); expire_transfers() looks only once it has passed. */
	_Atomic uint64_t xfer_deadline;
	_Atomic uint64_t libusb_pass_ms;   /* when usb_handle_events last ran libusb's */
	/* libusb's event passes, numbered: a device whose transfers came
	 * back in one is charged its poll and its last (empty) reap. */
	_Atomic uint64_t pass_seq;
	/* ctx->event_polls already charged (under lock). */
	unsigned long event_polls_seen;
};

/* Per transfer of the engine: the libusb transfer and control buffer. */
struct usb_xfer_impl {
	struct libusb_transfer *lt;
	struct usb_intf *ui;
	/* ud->xfer_lock: when it times out (0: not in flight, or no
	 * timeout), and whether expire_transfers() cancelled it for that */
	uint64_t deadline;
	bool timed_out;
	bool inflight;                 /* submitted to libusb, not yet called back */
	uint8_t ctrl[LIBUSB_CONTROL_SETUP_SIZE + 64];
};

/* One mass-storage interface: target k of the device, with its own
 * endpoints and protocol engine (its own Get Max LUN and recovery). */
struct usb_intf {
	struct usb_dev *ud;
	const struct libusb_interface_descriptor *id;  /* valid during open only */
	uint8_t iface, alt, ep_in, ep_out, ep_intr;
	uint16_t mps_in, mps_out;
	uint8_t nalts;                 /* alternate settings of the interface */
	/* UAS: the command and status pipes (ep_in, ep_out: data-in and
	 * data-out), found by their Pipe Usage descriptors; the exponent of
	 * the bulk streams the SuperSpeed companions offer on the status
	 * and data pipes (0: none), and the streams allocated. */
	bool uas;
	uint8_t ep_cmd, ep_status;
	uint8_t max_streams_exp;
	unsigned int streams;
	bool claimed;
	struct ousb_engine *engine;
	/* One per transfer of the engine, made on first use (UAS keeps
	 * three per tag in flight). */
	struct usb_xfer_impl **impls;
	int nimpls, cap_impls;
};

struct usb_dev {
	ostor_device *dev;
	struct usb_context *uc;
	libusb_device *ldev;
	libusb_device_handle *h;
	struct usb_dev *next;
	struct usb_dev *xfer_next;     /* uc->xfer_devs */
	bool xfer_listed;
	/* The interfaces' transfer tables (impls, nimpls) and deadlines; a
	 * leaf lock, under uc->lock or an engine's, held around
	 * libusb_submit_transfer and libusb_cancel_transfer only. */
	pthread_mutex_t xfer_lock;
	struct usb_intf intf[OUSB_MAX_TARGETS];   /* in interface-number order */
	int nintf;
	struct ostor_usb_details details;
	struct dev_mem *dev_mem;       /* usbfs buffers handed out (uc->lock) */
	/* Our usbfs descriptor under the libusb handle (-1: libusb's own),
	 * for the selective-suspend ioctls. */
	int fd;
	struct ousb_suspend suspend;
	char sysfs[128];               /* /sys/bus/usb/devices/B-P.P */
	unsigned int max_power_ma;     /* bMaxPower of the active configuration */
	bool xhci;                     /* behind an xHCI host controller */
	/* System calls made for this device's I/O (counter
	 * usb_system_calls): URB submissions, reaps and cancellations,
	 * blocking transfers, halts cleared, resets, and the polls of the
	 * event passes that reaped its transfers (or found nothing). */
	_Atomic uint64_t syscalls;
	_Atomic uint64_t pass_seen;    /* the event pass last charged to it */
};

static inline void count_syscalls(struct usb_dev *ud, unsigned int n)
{
	atomic_fetch_add_explicit(&ud->syscalls, n, memory_order_relaxed);
}

/* A buffer from libusb_dev_mem_alloc (usbfs: the kernel uses it in place
 * of a copy). */
struct dev_mem {
	void *p;
	size_t size;
	struct dev_mem *next;
};

static struct usb_context *usb_ctx(ostor_context *ctx)
{
	return ctx->backend_data[ostori_backend_index(&ostori_usb_backend)];
}

static bool any_uas(const struct usb_dev *ud)
{
	for (int k = 0; k < ud->nintf; k++)
		if (ud->intf[k].uas)
			return true;
	return false;
}

static const char *speed_name(int speed)
{
	switch (speed) {
	case LIBUSB_SPEED_LOW: return "low";
	case LIBUSB_SPEED_FULL: return "full";
	case LIBUSB_SPEED_HIGH: return "high";
	case LIBUSB_SPEED_SUPER: return "super";
#if defined(LIBUSB_API_VERSION) && LIBUSB_API_VERSION >= 0x01000106
	case LIBUSB_SPEED_SUPER_PLUS: return "super+";
#endif
	default: return "unknown";
	}
}

/* ---- hot-plug -------------------------------------------------------------- */

static int LIBUSB_CALL hotplug_cb(libusb_context *lctx, libusb_device *ldev,
				  libusb_hotplug_event event, void *user)
{
	ostor_context *ctx = user;
	struct usb_context *uc = usb_ctx(ctx);

	if (event == LIBUSB_HOTPLUG_EVENT_DEVICE_ARRIVED) {
		ostor_info(ctx, "USB device %u.%u arrived", libusb_get_bus_number(ldev),
			   libusb_get_device_address(ldev));
		return 0;
	}
	/* Not under uc->lock: marking an engine gone takes its lock, and a
	 * submit holding that lock may be waiting for uc->lock. */
	pthread_mutex_lock(&uc->suspend_lock);
	for (struct usb_dev *ud = uc->devices; ud; ud = ud->next) {
		if (ud->ldev == ldev) {
			ostor_warn(ctx, "%s: unplugged", ud->dev->spec);
			for (int i = 0; i < ud->nintf; i++)
				if (ud->intf[i].engine)
					ousb_engine_gone(ud->intf[i].engine);
		}
	}
	pthread_mutex_unlock(&uc->suspend_lock);
	return 0;
}

static void pollfd_added(int fd, short events, void *user_data)
{
	struct usb_context *uc = user_data;

	pthread_mutex_lock(&uc->pollfd_lock);
	if (uc->npollfds < (int)OSTOR_ARRAY_SIZE(uc->pollfds)) {
		uc->pollfds[uc->npollfds].fd = fd;
		uc->pollfds[uc->npollfds].events = events;
		uc->pollfds[uc->npollfds].revents = 0;
		uc->npollfds++;
	} else {
		uc->pollfds_overflow = true;
	}
	pthread_mutex_unlock(&uc->pollfd_lock);
}

static void pollfd_removed(int fd, void *user_data)
{
	struct usb_context *uc = user_data;

	pthread_mutex_lock(&uc->pollfd_lock);
	for (int i = 0; i < uc->npollfds; i++) {
		if (uc->pollfds[i].fd == fd) {
			uc->pollfds[i] = uc->pollfds[--uc->npollfds];
			break;
		}
	}
	pthread_mutex_unlock(&uc->pollfd_lock);
}

static void pollfds_track(struct usb_context *uc)
{
	const struct libusb_pollfd **lp;

	libusb_set_pollfd_notifiers(uc->lctx, pollfd_added, pollfd_removed, uc);
	lp = libusb_get_pollfds(uc->lctx);
	if (!lp) {
		uc->pollfds_overflow = true;
		return;
	}
	for (int i = 0; lp[i]; i++)
		pollfd_added(lp[i]->fd, lp[i]->events, uc);
	libusb_free_pollfds(lp);
}

static int usb_init(ostor_context *ctx)
{
	struct usb_context *uc = calloc(1, sizeof(*uc));
	int r;

	if (!uc)
		return ostori_error(OSTOR_ERROR_NO_MEM, "out of memory");
	{
		/* Recursive: the hot-plug callback marks engines gone under
		 * the lock, and their cancels queue through it again. */
		pthread_mutexattr_t a;

		pthread_mutexattr_init(&a);
		pthread_mutexattr_settype(&a, PTHREAD_MUTEX_RECURSIVE);
		pthread_mutex_init(&uc->lock, &a);
		pthread_mutexattr_destroy(&a);
	}
	pthread_mutex_init(&uc->pollfd_lock, NULL);
	pthread_mutex_init(&uc->suspend_lock, NULL);
	atomic_init(&uc->xfer_deadline, UINT64_MAX);
	ctx->backend_data[ostori_backend_index(&ostori_usb_backend)] = uc;
	/* No USB on this machine is not an error for the context: the
	 * other backends still work; listing USB says why it cannot. */
	r = libusb_init(&uc->lctx);
	if (r < 0) {
		uc->lctx = NULL;
		uc->init_error = r;
		ostor_dbg(ctx, "libusb_init failed: %s", libusb_error_name(r));
		return 0;
	}
	pollfds_track(uc);
	if (libusb_has_capability(LIBUSB_CAP_HAS_HOTPLUG)) {
		r = libusb_hotplug_register_callback(uc->lctx,
						     LIBUSB_HOTPLUG_EVENT_DEVICE_ARRIVED |
						     LIBUSB_HOTPLUG_EVENT_DEVICE_LEFT, 0,
						     LIBUSB_HOTPLUG_MATCH_ANY, LIBUSB_HOTPLUG_MATCH_ANY,
						     LIBUSB_HOTPLUG_MATCH_ANY, hotplug_cb, ctx,
						     &uc->hotplug_handle);
		uc->hotplug = r == LIBUSB_SUCCESS;
	}
	return 0;
}

static void usb_exit(ostor_context *ctx)
{
	int idx = ostori_backend_index(&ostori_usb_backend);
	struct usb_context *uc = ctx->backend_data[idx];

	if (!uc)
		return;
	if (uc->lctx) {
		if (uc->hotplug)
			libusb_hotplug_deregister_callback(uc->lctx, uc->hotplug_handle);
		libusb_set_pollfd_notifiers(uc->lctx, NULL, NULL, NULL);
		libusb_exit(uc->lctx);
	}
	pthread_mutex_destroy(&uc->pollfd_lock);
	pthread_mutex_destroy(&uc->suspend_lock);
	pthread_mutex_destroy(&uc->lock);
	free(uc);
	ctx->backend_data[idx] = NULL;
}

/* ---- enumeration ----------------------------------------------------------- */

static int usb_enumerate(ostor_context *ctx, struct ostori_devlist *list)
{
	struct usb_context *uc = usb_ctx(ctx);
	libusb_device **devs;
	ssize_t n;
	int r = 0;

	if (!uc || !uc->lctx)
		return ostori_error(OSTOR_ERROR_NOT_SUPPORTED, "libusb could not be initialised (%s)",
				    uc ? libusb_error_name(uc->init_error) : "no context");
	n = libusb_get_device_list(uc->lctx, &devs);
	if (n < 0)
		return ostori_error(OSTOR_ERROR_IO, "libusb_get_device_list: %s", libusb_error_name((int)n));
	for (ssize_t i = 0; i < n && r == 0; i++) {
		struct libusb_device_descriptor dd;
		struct libusb_config_descriptor *cfg;

		if (libusb_get_device_descriptor(devs[i], &dd) < 0)
			continue;
		if (libusb_get_active_config_descriptor(devs[i], &cfg) < 0 &&
		    libusb_get_config_descriptor(devs[i], 0, &cfg) < 0)
			continue;
		/* Composite devices: the mass-storage interface may be any
		 * number.  A device with several is listed once (they are
		 * its targets), described by the first. */
		const struct libusb_interface_descriptor *first = NULL;
		int count = 0;

		for (int j = 0; j < cfg->bNumInterfaces; j++) {
			const struct libusb_interface *itf = &cfg->interface[j];

			for (int k = 0; k < itf->num_altsetting; k++) {
				const struct libusb_interface_descriptor *id = &itf->altsetting[k];

				if (id->bInterfaceClass != LIBUSB_CLASS_MASS_STORAGE)
					continue;
				if (!first || id->bInterfaceNumber < first->bInterfaceNumber)
					first = id;
				count++;
				break;
			}
		}
		if (first) {
			char spec[32], more[48] = "";

			snprintf(spec, sizeof(spec), "usb:%u.%u",
				 libusb_get_bus_number(devs[i]), libusb_get_device_address(devs[i]));
			if (count > 1)
				snprintf(more, sizeof(more), ", %d mass-storage interfaces", count);
			r = ostori_devlist_add(list, "usb", spec,
					       "USB mass storage %04x:%04x, interface %u, subclass %02xh (%s), "
					       "protocol %02xh (%s), %s speed%s",
					       dd.idVendor, dd.idProduct, first->bInterfaceNumber,
					       first->bInterfaceSubClass, ousb_subclass_name(first->bInterfaceSubClass),
					       first->bInterfaceProtocol, ousb_transport_name(first->bInterfaceProtocol),
					       speed_name(libusb_get_device_speed(devs[i])), more);
		}
		libusb_free_config_descriptor(cfg);
	}
	libusb_free_device_list(devs, 1);
	return r;
}

/* ---- transfer layer -------------------------------------------------------- */

static enum ousb_status map_status(enum libusb_transfer_status s)
{
	switch (s) {
	case LIBUSB_TRANSFER_COMPLETED: return OUSB_OK;
	case LIBUSB_TRANSFER_STALL: return OUSB_STALL;
	case LIBUSB_TRANSFER_TIMED_OUT: return OUSB_TIMEOUT;
	case LIBUSB_TRANSFER_OVERFLOW: return OUSB_BABBLE;
	case LIBUSB_TRANSFER_CANCELLED: return OUSB_CANCELLED;
	case LIBUSB_TRANSFER_NO_DEVICE: return OUSB_NO_DEVICE;
	default: return OUSB_ERROR;
	}
}

static enum ousb_status map_error(int r)
{
	switch (r) {
	case 0: return OUSB_OK;
	case LIBUSB_ERROR_PIPE: return OUSB_STALL;
	case LIBUSB_ERROR_TIMEOUT: return OUSB_TIMEOUT;
	case LIBUSB_ERROR_OVERFLOW: return OUSB_BABBLE;
	case LIBUSB_ERROR_NO_DEVICE: return OUSB_NO_DEVICE;
	default: return OUSB_ERROR;
	}
}

static void LIBUSB_CALL transfer_cb(struct libusb_transfer *lt)
{
	struct ousb_xfer *x = lt->user_data;
	struct usb_xfer_impl *im = x->impl;
	struct usb_dev *ud = im->ui->ud;
	uint64_t pass = atomic_load_explicit(&ud->uc->pass_seq, memory_order_relaxed);
	bool timed_out;

	/* Its reap; the first of the pass also its poll and the empty reap
	 * that ends libusb's reaping. */
	count_syscalls(ud, atomic_load_explicit(&ud->pass_seen, memory_order_relaxed) == pass ? 1 : 3);
	atomic_store_explicit(&ud->pass_seen, pass, memory_order_relaxed);
	pthread_mutex_lock(&ud->xfer_lock);
	timed_out = im->timed_out;
	im->timed_out = false;
	im->deadline = 0;
	im->inflight = false;
	pthread_mutex_unlock(&ud->xfer_lock);
	x->status = map_status(lt->status);
	if (timed_out && x->status == OUSB_CANCELLED)
		x->status = OUSB_TIMEOUT;
	x->actual = lt->actual_length > 0 ? (size_t)lt->actual_length : 0;
	if (x->kind == OUSB_CONTROL) {
		if (x->actual > x->len)
			x->actual = x->len;
		if ((x->setup[0] & 0x80) && x->actual)
			memcpy(x->buf, im->ctrl + LIBUSB_CONTROL_SETUP_SIZE, x->actual);
	} else if (x->actual > x->len) {
		x->actual = x->len;
	}
	x->done(x);
}

static struct usb_xfer_impl *impl_of(struct usb_intf *ui, struct ousb_xfer *x)
{
	struct usb_xfer_impl *im = x->impl;

	if (im)
		return im;
	if (ui->nimpls == ui->cap_impls) {
		int cap = ui->cap_impls ? 2 * ui->cap_impls : 8;
		struct usb_xfer_impl **v = realloc(ui->impls, (size_t)cap * sizeof(*v));

		if (!v || cap > 4096) {
			if (v)
				ui->impls = v;
			return NULL;
		}
		ui->impls = v;
		ui->cap_impls = cap;
	}
	im = calloc(1, sizeof(*im));
	if (!im)
		return NULL;
	im->lt = libusb_alloc_transfer(0);
	if (!im->lt) {
		free(im);
		return NULL;
	}
	im->ui = ui;
	ui->impls[ui->nimpls++] = im;
	x->impl = im;
	return im;
}

/* A libusb transfer for each of the engine's, now: out of memory fails
 * the open with that said, not a command later (which recovery would
 * take for a device that stopped answering). */
static int impls_prepare(ostor_device *dev, struct usb_intf *ui)
{
	size_t n = ousb_engine_xfers(ui->engine, NULL, 0);
	struct ousb_xfer **xs = calloc(n ? n : 1, sizeof(*xs));
	int r = 0;

	if (!xs)
		return ostori_error(OSTOR_ERROR_NO_MEM, "%s: out of memory for USB transfers", dev->spec);
	ousb_engine_xfers(ui->engine, xs, n);
	pthread_mutex_lock(&ui->ud->xfer_lock);
	for (size_t i = 0; i < n && !r; i++)
		if (!impl_of(ui, xs[i]))
			r = ostori_error(OSTOR_ERROR_NO_MEM, "%s: out of memory for USB transfers (libusb_alloc_transfer "
					 "failed for %zu of %zu)", dev->spec, i + 1, n);
	pthread_mutex_unlock(&ui->ud->xfer_lock);
	free(xs);
	return r;
}

/* The endpoint of a bulk transfer or a halt to clear. */
static uint8_t endpoint_of(const struct usb_intf *ui, const struct ousb_xfer *x)
{
	bool in = x->kind == OUSB_BULK_IN || x->kind == OUSB_CLEAR_HALT_IN;

	if (x->pipe == OUSB_PIPE_COMMAND)
		return ui->ep_cmd;
	if (x->pipe == OUSB_PIPE_STATUS)
		return ui->ep_status;
	return in ? ui->ep_in : ui->ep_out;
}

/* Lower uc->xfer_deadline to deadline. */
static void xfer_deadline_min(struct usb_context *uc, uint64_t deadline)
{
	uint64_t cur = atomic_load_explicit(&uc->xfer_deadline, memory_order_relaxed);

	while (deadline < cur &&
	       !atomic_compare_exchange_weak_explicit(&uc->xfer_deadline, &cur, deadline, memory_order_relaxed,
						      memory_order_relaxed))
		;
}

/* In or out of uc->xfer_devs: from before the first transfer of the
 * open to after the last one of the close. */
static void xfer_devs_add(struct usb_dev *ud)
{
	struct usb_context *uc = ud->uc;

	pthread_mutex_lock(&uc->lock);
	ud->xfer_next = uc->xfer_devs;
	uc->xfer_devs = ud;
	ud->xfer_listed = true;
	pthread_mutex_unlock(&uc->lock);
}

static void xfer_devs_remove(struct usb_dev *ud)
{
	struct usb_context *uc = ud->uc;

	if (!ud->xfer_listed)
		return;
	pthread_mutex_lock(&uc->lock);
	for (struct usb_dev **pp = &uc->xfer_devs; *pp; pp = &(*pp)->xfer_next) {
		if (*pp == ud) {
			*pp = ud->xfer_next;
			break;
		}
	}
	ud->xfer_listed = false;
	pthread_mutex_unlock(&uc->lock);
}

/* Cancel the transfers whose deadline has passed (they complete with
 * OUSB_TIMEOUT); recompute the earliest deadline.  From event handling. */
static void expire_transfers(struct usb_context *uc)
{
	uint64_t now;

	if (OSTOR_LIKELY(ostori_now_ms() < atomic_load_explicit(&uc->xfer_deadline, memory_order_relaxed)))
		return;
	now = ostori_now_ms();
	/* Submissions from here on lower it again themselves. */
	atomic_store_explicit(&uc->xfer_deadline, UINT64_MAX, memory_order_relaxed);
	pthread_mutex_lock(&uc->lock);
	for (struct usb_dev *ud = uc->xfer_devs; ud; ud = ud->xfer_next) {
		pthread_mutex_lock(&ud->xfer_lock);
		for (int k = 0; k < ud->nintf; k++) {
			struct usb_intf *ui = &ud->intf[k];

			for (int i = 0; i < ui->nimpls; i++) {
				struct usb_xfer_impl *im = ui->impls[i];

				if (!im->deadline)
					continue;
				if (now < im->deadline) {
					xfer_deadline_min(uc, im->deadline);
					continue;
				}
				im->deadline = 0;
				im->timed_out = true;
				libusb_cancel_transfer(im->lt);
				count_syscalls(ud, 1);
			}
		}
		pthread_mutex_unlock(&ud->xfer_lock);
	}
	pthread_mutex_unlock(&uc->lock);
}

/* Queue a step for run_deferred (impl_state: 0 a synchronous libusb step
 * or the timer, 2 cancelled, 3 the device is gone, 4 a blocking bulk
 * transfer). */
static void deferred_add(struct usb_context *uc, struct ousb_xfer *x)
{
	pthread_mutex_lock(&uc->lock);
	x->impl_next = NULL;
	if (uc->deferred_tail)
		uc->deferred_tail->impl_next = x;
	else
		uc->deferred = x;
	uc->deferred_tail = x;
	pthread_mutex_unlock(&uc->lock);
}

/* A bulk transfer this layer carries out as one blocking call (the engine
 * sets may_block under its lock, where it also cancels: no race). */
static bool blocking_xfer(const struct usb_dev *ud, const struct ousb_xfer *x)
{
	return x->may_block && !x->stream && ud->fd >= 0 &&
	       (x->kind == OUSB_BULK_IN || x->kind == OUSB_BULK_OUT);
}

/* A may_block bulk transfer as one USBDEVFS_BULK call: the kernel waits
 * for the URB and copies through a buffer of its own (why the engine
 * marks only small transfers).  Out of memory for it is an error like
 * any other (the engine's recovery, the command not done). */
static void bulk_blocking(struct usb_intf *ui, struct ousb_xfer *x)
{
	struct usbdevfs_bulktransfer bt = {
		.ep = endpoint_of(ui, x),
		.len = (unsigned int)x->len,
		.timeout = x->timeout_ms,
		.data = x->buf,
	};
	int r = ioctl(ui->ud->fd, USBDEVFS_BULK, &bt);

	if (r >= 0) {
		x->status = OUSB_OK;
		x->actual = OSTOR_MIN((size_t)r, x->len);
		return;
	}
	switch (errno) {
	case EPIPE: x->status = OUSB_STALL; break;
	case ETIMEDOUT: x->status = OUSB_TIMEOUT; break;
	case EOVERFLOW: x->status = OUSB_BABBLE; break;
	case ENODEV: case ESHUTDOWN: x->status = OUSB_NO_DEVICE; break;
	default: x->status = OUSB_ERROR; break;
	}
}

static int layer_submit(void *layer, struct ousb_xfer *x)
{
	struct usb_intf *ui = layer;
	struct usb_dev *ud = ui->ud;
	struct usb_xfer_impl *im;
	struct libusb_transfer *lt;
	uint64_t deadline = 0;
	int r;

	pthread_mutex_lock(&ud->xfer_lock);
	im = impl_of(ui, x);
	if (!im) {
		pthread_mutex_unlock(&ud->xfer_lock);
		return OSTOR_ERROR_NO_MEM;
	}
	lt = im->lt;
	x->impl_state = 0;
	switch (x->kind) {
	case OUSB_CLEAR_HALT_IN:
	case OUSB_CLEAR_HALT_OUT:
	case OUSB_PORT_RESET:
	case OUSB_WAIT:
		pthread_mutex_unlock(&ud->xfer_lock);
		/* Synchronous in libusb (or no libusb at all, for the
		 * timer): run from our event handling. */
		x->impl_deadline = ostori_now_ms() + x->timeout_ms;
		deferred_add(ud->uc, x);
		return 0;
	case OUSB_CONTROL:
		if (x->len > sizeof(im->ctrl) - LIBUSB_CONTROL_SETUP_SIZE) {
			pthread_mutex_unlock(&ud->xfer_lock);
			return OSTOR_ERROR_INVALID_PARAM;
		}
		memcpy(im->ctrl, x->setup, 8);
		if (!(x->setup[0] & 0x80) && x->len)
			memcpy(im->ctrl + LIBUSB_CONTROL_SETUP_SIZE, x->buf, x->len);
		libusb_fill_control_transfer(lt, ud->h, im->ctrl, transfer_cb, x, 0);
		break;
	case OUSB_BULK_IN:
	case OUSB_BULK_OUT:
		if (x->len > INT32_MAX) {
			pthread_mutex_unlock(&ud->xfer_lock);
			return OSTOR_ERROR_INVALID_PARAM;
		}
		if (blocking_xfer(ud, x)) {
			/* One blocking usbfs call from our event handling
			 * (run_deferred): no URB to reap, no poll. */
			pthread_mutex_unlock(&ud->xfer_lock);
			x->impl_state = 4;
			deferred_add(ud->uc, x);
			return 0;
		}
		if (x->stream)
			libusb_fill_bulk_stream_transfer(lt, ud->h, endpoint_of(ui, x), x->stream, x->buf, (int)x->len,
							 transfer_cb, x, 0);
		else
			libusb_fill_bulk_transfer(lt, ud->h, endpoint_of(ui, x), x->buf, (int)x->len, transfer_cb, x, 0);
		break;
	case OUSB_INTR_IN:
		if (!ui->ep_intr) {
			pthread_mutex_unlock(&ud->xfer_lock);
			return OSTOR_ERROR_NOT_SUPPORTED;
		}
		libusb_fill_interrupt_transfer(lt, ud->h, ui->ep_intr, x->buf, (int)x->len, transfer_cb, x, 0);
		break;
	}
	/* libusb is given no timeout (see uc->xfer_deadline); the deadline
	 * is set before the submission so that a completion, which clears
	 * it, always comes after. */
	if (x->timeout_ms)
		deadline = ostori_now_ms() + x->timeout_ms;
	im->deadline = deadline;
	im->timed_out = false;
	r = libusb_submit_transfer(lt);
	count_syscalls(ud, 1);
	if (r < 0)
		im->deadline = 0;
	else
		im->inflight = true;
	pthread_mutex_unlock(&ud->xfer_lock);
	if (r == 0 && deadline)
		xfer_deadline_min(ud->uc, deadline);
	if (r == LIBUSB_ERROR_NO_DEVICE) {
		/* Complete it as "gone" from the event loop. */
		x->status = OUSB_NO_DEVICE;
		x->impl_state = 3;
		deferred_add(ud->uc, x);
		return 0;
	}
	return r < 0 ? OSTOR_ERROR_IO : 0;
}

static void layer_cancel(void *layer, struct ousb_xfer *x)
{
	struct usb_dev *ud = ((struct usb_intf *)layer)->ud;
	struct usb_xfer_impl *im = x->impl;

	if (blocking_xfer(ud, x)) {
		/* Still queued: complete as cancelled.  (Running: it ends
		 * with the device's answer or its timeout.) */
		pthread_mutex_lock(&ud->uc->lock);
		for (struct ousb_xfer *q = ud->uc->deferred; q; q = q->impl_next)
			if (q == x) {
				x->impl_state = 2;
				break;
			}
		pthread_mutex_unlock(&ud->uc->lock);
		return;
	}
	if (x->kind == OUSB_CLEAR_HALT_IN || x->kind == OUSB_CLEAR_HALT_OUT ||
	    x->kind == OUSB_PORT_RESET || x->kind == OUSB_WAIT || x->impl_state == 3) {
		pthread_mutex_lock(&ud->uc->lock);
		if (x->impl_state != 3)
			x->impl_state = 2;  /* still queued: complete as cancelled */
		pthread_mutex_unlock(&ud->uc->lock);
		return;
	}
	if (im) {
		libusb_cancel_transfer(im->lt);
		count_syscalls(ud, 1);
	}
}

/* Bulk streams on the status and data pipes of a UAS interface: one per
 * tag, the task-management tag included (at most 65); returns how many
 * the host gave, or a libusb error. */
static int uas_alloc_streams(struct usb_intf *ui)
{
	unsigned char eps[3] = { ui->ep_status, ui->ep_in, ui->ep_out };
	uint32_t want = OSTOR_MIN(1u << ui->max_streams_exp, 65u);

	return libusb_alloc_streams(ui->ud->h, want, eps, 3);
}

/* A deferred entry that can complete now (a timer only when due). */
static bool deferred_ready(const struct ousb_xfer *x, uint64_t now)
{
	return x->kind != OUSB_WAIT || x->impl_state != 0 || now >= x->impl_deadline;
}

/* Milliseconds until a deferred entry is ready: 0 now, -1 never.  Called
 * with uc->lock held. */
static int deferred_next_ms(struct usb_context *uc)
{
	uint64_t now = ostori_now_ms(), best = UINT64_MAX;

	for (struct ousb_xfer *x = uc->deferred; x; x = x->impl_next) {
		if (deferred_ready(x, now))
			return 0;
		best = OSTOR_MIN(best, x->impl_deadline);
	}
	return best == UINT64_MAX ? -1 : (int)OSTOR_MIN(best - now, 60000u);
}

/* Take the first entry that is ready off the deferred list. */
static struct ousb_xfer *deferred_take(struct usb_context *uc)
{
	uint64_t now = ostori_now_ms();
	struct ousb_xfer *x, *prev = NULL;

	pthread_mutex_lock(&uc->lock);
	for (x = uc->deferred; x; prev = x, x = x->impl_next) {
		if (!deferred_ready(x, now))
			continue;
		if (prev)
			prev->impl_next = x->impl_next;
		else
			uc->deferred = x->impl_next;
		if (uc->deferred_tail == x)
			uc->deferred_tail = prev;
		x->impl_next = NULL;
		break;
	}
	pthread_mutex_unlock(&uc->lock);
	return x;
}

/* Run the deferred synchronous steps, outside libusb's callbacks. */
static int run_deferred(struct usb_context *uc)
{
	int n = 0;

	for (;;) {
		struct ousb_xfer *x = deferred_take(uc);
		struct usb_intf *ui;
		struct usb_dev *ud;
		int r = 0;

		if (!x)
			return n;
		ui = ((struct usb_xfer_impl *)x->impl)->ui;
		ud = ui->ud;
		x->actual = 0;
		if (x->impl_state == 4) {
			bulk_blocking(ui, x);
			count_syscalls(ud, 1);
		} else if (x->impl_state == 3) {
			x->status = OUSB_NO_DEVICE;
		} else if (x->impl_state == 2) {
			x->status = OUSB_CANCELLED;
		} else if (x->kind == OUSB_WAIT) {
			x->status = OUSB_TIMEOUT;
		} else if (x->kind == OUSB_PORT_RESET) {
			r = libusb_reset_device(ud->h);
			count_syscalls(ud, 1);
			if (r == LIBUSB_ERROR_NOT_FOUND)
				ostor_err(ud->dev->ctx, "%s: after the port reset the device came back as a "
					  "different device; reopen it", ud->dev->spec);
			x->status = map_error(r);
			if (r == LIBUSB_ERROR_NOT_FOUND)
				x->status = OUSB_ERROR;
			/* A reset frees the bulk streams: UAS needs them back,
			 * as many as before. */
			if (r == 0 && ui->streams && uas_alloc_streams(ui) != (int)ui->streams)
				x->status = OUSB_ERROR;
		} else {
			r = libusb_clear_halt(ud->h, endpoint_of(ui, x));
			count_syscalls(ud, 1);
			x->status = map_error(r);
		}
		x->impl_state = 0;
		x->done(x);
		n++;
	}
}

/* Milliseconds until the earliest transfer deadline: 0 now, -1 none. */
static int xfer_next_ms(struct usb_context *uc)
{
	uint64_t d = atomic_load_explicit(&uc->xfer_deadline, memory_order_relaxed), now;

	if (d == UINT64_MAX)
		return -1;
	now = ostori_now_ms();
	return now >= d ? 0 : (int)OSTOR_MIN(d - now, 60000u);
}

/* One pass of libusb's events: a poll, then a reap for each transfer
 * that came back and one more that finds none (charged to the devices in
 * transfer_cb).  The polls ostor_handle_events made since the last pass
 * (waiting for these transfers) go to the devices that reaped, and a
 * pass that reaped nothing costs its poll to every open device: exact
 * with one device open, an over-count with several. */
static void libusb_pass(ostor_context *ctx, struct usb_context *uc, struct timeval *tv)
{
	uint64_t pass = atomic_fetch_add_explicit(&uc->pass_seq, 1, memory_order_relaxed) + 1;
	unsigned long polls = atomic_load_explicit(&ctx->event_polls, memory_order_relaxed), waits;
	bool reaped = false;

	libusb_handle_events_timeout_completed(uc->lctx, tv, NULL);
	pthread_mutex_lock(&uc->lock);
	waits = polls - uc->event_polls_seen;
	uc->event_polls_seen = polls;
	for (struct usb_dev *ud = uc->devices; ud; ud = ud->next)
		if (atomic_load_explicit(&ud->pass_seen, memory_order_relaxed) == pass) {
			reaped = true;
			count_syscalls(ud, (unsigned int)waits);
		}
	if (!reaped)
		for (struct usb_dev *ud = uc->devices; ud; ud = ud->next)
			count_syscalls(ud, 1 + (unsigned int)waits);
	pthread_mutex_unlock(&uc->lock);
}

static int layer_events(void *layer, int timeout_ms)
{
	struct usb_dev *ud = ((struct usb_intf *)layer)->ud;
	struct timeval tv;
	int n = run_deferred(ud->uc), next;

	pthread_mutex_lock(&ud->uc->lock);
	next = deferred_next_ms(ud->uc);
	pthread_mutex_unlock(&ud->uc->lock);
	if (n)
		timeout_ms = 0;
	else if (next >= 0 && next < timeout_ms)
		timeout_ms = next;
	next = xfer_next_ms(ud->uc);
	if (next >= 0 && next < timeout_ms)
		timeout_ms = next;
	tv.tv_sec = timeout_ms / 1000;
	tv.tv_usec = (timeout_ms % 1000) * 1000;
	libusb_pass(ud->dev->ctx, ud->uc, &tv);
	expire_transfers(ud->uc);
	return n + run_deferred(ud->uc);
}

/* Blocking transfers hold up the thread running the events: only for
 * the one device open, through one interface, on our own descriptor, and
 * behind xHCI (where a transfer starts at its doorbell; on QEMU's EHCI
 * three phases one after the other took longer than two queued). */
static bool layer_can_block(void *layer)
{
	struct usb_intf *ui = layer;
	struct usb_dev *ud = ui->ud;
	bool alone;

	if (ud->fd < 0 || ud->nintf != 1 || !ud->xhci)
		return false;
	pthread_mutex_lock(&ud->uc->lock);
	alone = ud->uc->devices == ud && !ud->next;
	pthread_mutex_unlock(&ud->uc->lock);
	return alone;
}

static const struct ousb_ops libusb_layer_ops = {
	.submit = layer_submit,
	.cancel = layer_cancel,
	.events = layer_events,
	.can_block = layer_can_block,
};

/* ---- open / close ------------------------------------------------------------ */

static bool supported_subclass(uint8_t sc)
{
	return sc == OUSB_SC_RBC || sc == OUSB_SC_MMC || sc == OUSB_SC_QIC || sc == OUSB_SC_UFI ||
	       sc == OUSB_SC_SFF || sc == OUSB_SC_SCSI;
}

static bool supported_protocol(uint8_t pr)
{
	return pr == OUSB_PR_BOT || pr == OUSB_PR_CB || pr == OUSB_PR_CBI;
}

/* Take the endpoints of a chosen interface; false when its protocol's
 * endpoints are missing. */
static bool intf_endpoints(struct usb_intf *ui)
{
	const struct libusb_interface_descriptor *id = ui->id;

	for (int i = 0; i < id->bNumEndpoints; i++) {
		const struct libusb_endpoint_descriptor *ep = &id->endpoint[i];
		uint8_t type = ep->bmAttributes & LIBUSB_TRANSFER_TYPE_MASK;
		bool in = ep->bEndpointAddress & LIBUSB_ENDPOINT_IN;

		if (type == LIBUSB_TRANSFER_TYPE_BULK && in && !ui->ep_in) {
			ui->ep_in = ep->bEndpointAddress;
			ui->mps_in = ep->wMaxPacketSize;
		} else if (type == LIBUSB_TRANSFER_TYPE_BULK && !in && !ui->ep_out) {
			ui->ep_out = ep->bEndpointAddress;
			ui->mps_out = ep->wMaxPacketSize;
		} else if (type == LIBUSB_TRANSFER_TYPE_INTERRUPT && in && !ui->ep_intr) {
			ui->ep_intr = ep->bEndpointAddress;
		}
	}
	return ui->ep_in && ui->ep_out && (id->bInterfaceProtocol != OUSB_PR_CBI || ui->ep_intr);
}

/* The UAS pipes of an interface, by the Pipe Usage descriptors (24h:
 * 1 command, 2 status, 3 data-in, 4 data-out) among each endpoint's extra
 * descriptors, and the bulk streams of the SuperSpeed companions (30h).
 * The descriptors are the device's: lengths are checked before use.
 * false when a pipe is missing or a direction is wrong. */
static bool uas_endpoints(struct usb_intf *ui)
{
	const struct libusb_interface_descriptor *id = ui->id;
	uint8_t streams_exp = 0xff;

	for (int i = 0; i < id->bNumEndpoints; i++) {
		const struct libusb_endpoint_descriptor *ep = &id->endpoint[i];
		const unsigned char *x = ep->extra;
		int left = ep->extra ? ep->extra_length : 0;
		bool in = ep->bEndpointAddress & LIBUSB_ENDPOINT_IN;
		int pipe = 0, exp = -1;

		if ((ep->bmAttributes & LIBUSB_TRANSFER_TYPE_MASK) != LIBUSB_TRANSFER_TYPE_BULK)
			continue;
		while (left >= 2 && x[0] >= 2 && x[0] <= left) {
			if (x[1] == 0x24 && x[0] >= 4 && !pipe)
				pipe = x[2];
			else if (x[1] == 0x30 && x[0] >= 6)
				exp = x[3] & 0x1f;
			left -= x[0];
			x += x[0];
		}
		switch (pipe) {
		case 1:
			if (in || ui->ep_cmd)
				return false;
			ui->ep_cmd = ep->bEndpointAddress;
			break;
		case 2:
		case 3:
			if (!in || (pipe == 2 ? ui->ep_status : ui->ep_in))
				return false;
			if (pipe == 2) {
				ui->ep_status = ep->bEndpointAddress;
			} else {
				ui->ep_in = ep->bEndpointAddress;
				ui->mps_in = ep->wMaxPacketSize;
			}
			break;
		case 4:
			if (in || ui->ep_out)
				return false;
			ui->ep_out = ep->bEndpointAddress;
			ui->mps_out = ep->wMaxPacketSize;
			break;
		default:
			continue;
		}
		if (pipe != 1)
			streams_exp = (uint8_t)OSTOR_MIN(streams_exp, exp < 0 ? 0 : exp);
	}
	ui->max_streams_exp = streams_exp == 0xff ? 0 : streams_exp;
	return ui->ep_cmd && ui->ep_status && ui->ep_in && ui->ep_out;
}

static int cmp_intf(const void *a, const void *b)
{
	const struct usb_intf *x = a, *y = b;

	return (int)x->iface - (int)y->iface;
}

/* Pick every mass-storage interface we can drive, in interface-number
 * order: target k is the k-th.  Of an interface's alternate settings, UAS
 * (when allowed and its pipes are all there) before Bulk-Only or CB/CBI.
 * An interface lacking its endpoints is skipped when others work. */
static int pick_interfaces(ostor_device *dev, struct usb_dev *ud,
			   const struct libusb_config_descriptor *cfg, bool allow_uas, const char *why_not_uas)
{
	const struct libusb_interface_descriptor *uas_bad = NULL, *odd = NULL, *noep = NULL;
	bool uas_refused = false;

	ud->nintf = 0;
	for (int j = 0; j < cfg->bNumInterfaces; j++) {
		const struct libusb_interface *itf = &cfg->interface[j];
		const struct libusb_interface_descriptor *bot = NULL, *uas = NULL;
		struct usb_intf *ui;

		for (int k = 0; k < itf->num_altsetting; k++) {
			const struct libusb_interface_descriptor *id = &itf->altsetting[k];

			if (id->bInterfaceClass != LIBUSB_CLASS_MASS_STORAGE)
				continue;
			if (id->bInterfaceProtocol == OUSB_PR_UAS) {
				if (!uas)
					uas = id;
			} else if (supported_protocol(id->bInterfaceProtocol) &&
				   supported_subclass(id->bInterfaceSubClass)) {
				if (!bot)
					bot = id;
			} else if (!odd) {
				odd = id;
			}
		}
		if (!bot && !uas)
			continue;
		if (ud->nintf == OUSB_MAX_TARGETS) {
			ostor_warn(dev->ctx, "%s: more than %d mass-storage interfaces; interface %u "
				   "and later ones are ignored", dev->spec, OUSB_MAX_TARGETS,
				   (bot ? bot : uas)->bInterfaceNumber);
			break;
		}
		ui = &ud->intf[ud->nintf];
		memset(ui, 0, sizeof(*ui));
		ui->ud = ud;
		ui->nalts = (uint8_t)itf->num_altsetting;
		if (uas && allow_uas) {
			ui->id = uas;
			ui->iface = uas->bInterfaceNumber;
			ui->alt = uas->bAlternateSetting;
			ui->uas = true;
			if (uas_endpoints(ui)) {
				ud->nintf++;
				continue;
			}
			ostor_info(dev->ctx, "%s: UAS alternate setting %u of interface %u lacks its four pipes "
				   "(Pipe Usage descriptors)%s", dev->spec, uas->bAlternateSetting,
				   uas->bInterfaceNumber, bot ? "; using its Bulk-Only alternate setting" : "");
			if (!uas_bad)
				uas_bad = uas;
			memset(ui, 0, sizeof(*ui));
			ui->ud = ud;
			ui->nalts = (uint8_t)itf->num_altsetting;
		} else if (uas) {
			uas_refused = true;
			if (bot)
				ostor_info(dev->ctx, "%s: UAS not used (%s); using Bulk-Only alternate setting %u",
					   dev->spec, why_not_uas, bot->bAlternateSetting);
		}
		if (!bot)
			continue;
		ui->id = bot;
		ui->iface = bot->bInterfaceNumber;
		ui->alt = bot->bAlternateSetting;
		if (!intf_endpoints(ui)) {
			if (!noep)
				noep = bot;
			ostor_dbg(dev->ctx, "%s: interface %u lacks the endpoints of its protocol; skipped",
				  dev->spec, ui->iface);
			continue;
		}
		ud->nintf++;
	}
	if (ud->nintf) {
		qsort(ud->intf, (size_t)ud->nintf, sizeof(ud->intf[0]), cmp_intf);
		return 0;
	}
	if (noep)
		return ostori_error(OSTOR_ERROR_PROTOCOL,
				    "%s: interface %u lacks the bulk%s endpoints its protocol needs",
				    dev->spec, noep->bInterfaceNumber,
				    noep->bInterfaceProtocol == OUSB_PR_CBI ? " and interrupt" : "");
	if (uas_bad)
		return ostori_error(OSTOR_ERROR_PROTOCOL,
				    "%s: the device speaks only UAS, and interface %u lacks the command, status, "
				    "data-in and data-out pipes (Pipe Usage descriptors) UAS needs",
				    dev->spec, uas_bad->bInterfaceNumber);
	if (uas_refused)
		return ostori_error(OSTOR_ERROR_NOT_SUPPORTED,
				    "%s: the device speaks only UAS, and UAS is turned off (%s); it offers no "
				    "Bulk-Only alternate setting", dev->spec, why_not_uas);
	if (odd)
		return ostori_error(OSTOR_ERROR_NOT_SUPPORTED,
				    "%s: mass-storage interface %u has subclass %02xh and protocol %02xh; "
				    "supported are subclasses 01h, 02h, 03h, 04h, 05h, 06h with protocols "
				    "00h (CBI), 01h (CB), 50h (Bulk-Only) and 62h (UAS)", dev->spec,
				    odd->bInterfaceNumber, odd->bInterfaceSubClass, odd->bInterfaceProtocol);
	return ostori_error(OSTOR_ERROR_NOT_FOUND, "%s has no mass-storage interface", dev->spec);
}

static int access_error(ostor_device *dev, libusb_device *ldev, uint16_t vid, uint16_t pid)
{
	return ostori_error(OSTOR_ERROR_ACCESS,
			    "%s: permission denied opening /dev/bus/usb/%03u/%03u; run as root, or add a "
			    "udev rule such as SUBSYSTEM==\"usb\", ATTR{idVendor}==\"%04x\", "
			    "ATTR{idProduct}==\"%04x\", MODE=\"0660\", GROUP=\"plugdev\" in "
			    "/etc/udev/rules.d/70-orionstor.rules and join the plugdev group",
			    dev->spec, libusb_get_bus_number(ldev), libusb_get_device_address(ldev), vid, pid);
}

static void read_string(libusb_device_handle *h, uint8_t index, char *buf, size_t len)
{
	buf[0] = '\0';
	if (!index)
		return;
	if (libusb_get_string_descriptor_ascii(h, index, (unsigned char *)buf, (int)len) < 0)
		buf[0] = '\0';
	for (char *p = buf; *p; p++)
		if ((unsigned char)*p < 0x20 || (unsigned char)*p > 0x7e)
			*p = '?';
}

static int find_device(ostor_device *dev, struct usb_context *uc, const struct ostor_spec *ospec,
		       libusb_device **out)
{
	const struct ousb_spec *spec = ousb_spec(ospec);
	libusb_device **devs;
	ssize_t n = libusb_get_device_list(uc->lctx, &devs);
	int r = ostori_error(OSTOR_ERROR_NOT_FOUND,
			     "%s: no such USB device; 'orionstor list' shows the mass-storage devices",
			     dev->spec);

	if (n < 0)
		return ostori_error(OSTOR_ERROR_IO, "libusb_get_device_list: %s", libusb_error_name((int)n));
	*out = NULL;
	for (ssize_t i = 0; i < n && !*out; i++) {
		struct libusb_device_descriptor dd;

		if (libusb_get_device_descriptor(devs[i], &dd) < 0)
			continue;
		if (spec->kind == OUSB_SPEC_BUSDEV) {
			if (libusb_get_bus_number(devs[i]) == spec->bus &&
			    libusb_get_device_address(devs[i]) == spec->devnum)
				*out = libusb_ref_device(devs[i]);
			continue;
		}
		if (dd.idVendor != spec->vendor_id || dd.idProduct != spec->product_id)
			continue;
		if (spec->serial[0]) {
			libusb_device_handle *h;
			char serial[256];
			int e = libusb_open(devs[i], &h);

			if (e == LIBUSB_ERROR_ACCESS) {
				r = access_error(dev, devs[i], dd.idVendor, dd.idProduct);
				continue;
			}
			if (e < 0)
				continue;
			read_string(h, dd.iSerialNumber, serial, sizeof(serial));
			libusb_close(h);
			if (strcmp(serial, spec->serial))
				continue;
		}
		*out = libusb_ref_device(devs[i]);
	}
	libusb_free_device_list(devs, 1);
	return *out ? 0 : r;
}

static void release(struct usb_dev *ud)
{
	for (int k = 0; k < ud->nintf; k++) {
		struct usb_intf *ui = &ud->intf[k];

		if (ui->claimed && ui->streams) {
			unsigned char eps[3] = { ui->ep_status, ui->ep_in, ui->ep_out };

			libusb_free_streams(ud->h, eps, 3);
			ui->streams = 0;
		}
		if (ui->claimed) {
			/* With auto-detach, releasing gives the kernel driver back. */
			libusb_release_interface(ud->h, ui->iface);
			ui->claimed = false;
		}
		for (int i = 0; i < ui->nimpls; i++) {
			/* Never free what libusb still holds (an engine that
			 * gave up waiting for it): libusb_close forgets it. */
			if (ui->impls[i]->inflight) {
				ostor_warn(ud->dev->ctx, "%s: a USB transfer did not come back before the close",
					   ud->dev->spec);
				libusb_cancel_transfer(ui->impls[i]->lt);
				continue;
			}
			libusb_free_transfer(ui->impls[i]->lt);
			free(ui->impls[i]);
		}
		free(ui->impls);
		ui->impls = NULL;
		ui->nimpls = ui->cap_impls = 0;
	}
	ud->nintf = 0;
	if (ud->h)
		libusb_close(ud->h);
	ud->h = NULL;
	/* libusb_close leaves a wrapped descriptor open. */
	if (ud->fd >= 0)
		close(ud->fd);
	ud->fd = -1;
	if (ud->ldev)
		libusb_unref_device(ud->ldev);
	ud->ldev = NULL;
}

static void free_engines(struct usb_dev *ud)
{
	for (int k = 0; k < ud->nintf; k++) {
		ousb_engine_free(ud->intf[k].engine);
		ud->intf[k].engine = NULL;
	}
}

static int claim(ostor_device *dev, struct usb_dev *ud, struct usb_intf *ui)
{
	int r = libusb_claim_interface(ud->h, ui->iface);

	if (r < 0) {
		if (r == LIBUSB_ERROR_ACCESS)
			/* The node is open: not a file permission, a refusal of
			 * this interface (usbfs interface authorization, a
			 * security module). */
			return ostori_error(OSTOR_ERROR_ACCESS, "%s: cannot claim interface %u: permission denied "
					    "(LIBUSB_ERROR_ACCESS) although the device node is open; check that "
					    "the interface is authorized (its sysfs 'authorized' is 1) and what "
					    "security policy refuses it", dev->spec, ui->iface);
		return ostori_error(r == LIBUSB_ERROR_BUSY ? OSTOR_ERROR_BUSY : OSTOR_ERROR_IO,
				    "%s: cannot claim interface %u: %s%s", dev->spec, ui->iface,
				    libusb_error_name(r),
				    r == LIBUSB_ERROR_BUSY ? " (another program holds it, or the kernel "
				    "driver could not be detached)" : "");
	}
	ui->claimed = true;
	/* Always when there is a choice: the kernel's driver may have left
	 * another setting selected (usb-storage Bulk-Only, uas UAS). */
	if ((ui->alt || ui->nalts > 1) && (r = libusb_set_interface_alt_setting(ud->h, ui->iface, ui->alt)) < 0)
		return ostori_error(OSTOR_ERROR_IO, "%s: cannot select alternate setting %u of interface %u: %s",
				    dev->spec, ui->alt, ui->iface, libusb_error_name(r));
	return 0;
}

/* "interface 2, scsi/bot, high speed, 1 LUN" for one interface (as
 * before); for several, each interface with its target and LUN count. */
static void describe(ostor_device *dev, struct usb_dev *ud, const struct libusb_device_descriptor *dd)
{
	size_t len = sizeof(dev->description), off;
	struct usb_intf *ui = &ud->intf[0];

	if (ud->nintf == 1) {
		snprintf(dev->description, len,
			 "USB %04x:%04x %.60s %.60s, interface %u, %s/%s, %s speed, %u LUN%s",
			 dd->idVendor, dd->idProduct, ud->details.manufacturer, ud->details.product,
			 ui->iface, ousb_subclass_name(ui->id->bInterfaceSubClass),
			 ousb_transport_name(ui->id->bInterfaceProtocol), ud->details.speed,
			 dev->max_lun + 1u, dev->max_lun ? "s" : "");
		return;
	}
	off = (size_t)snprintf(dev->description, len, "USB %04x:%04x %.50s %.50s, %s speed, %d interfaces:",
			       dd->idVendor, dd->idProduct, ud->details.manufacturer, ud->details.product,
			       ud->details.speed, ud->nintf);
	for (int k = 0; k < ud->nintf && off < len; k++) {
		unsigned int luns = ousb_engine_max_lun(ud->intf[k].engine) + 1u;

		ui = &ud->intf[k];
		off += (size_t)snprintf(dev->description + off, len - off, "%s target %d = interface %u %s/%s %u LUN%s",
					k ? "," : "", k, ui->iface, ousb_subclass_name(ui->id->bInterfaceSubClass),
					ousb_transport_name(ui->id->bInterfaceProtocol), luns, luns > 1 ? "s" : "");
	}
}

/* The selective-suspend switch of a usb: device: usbfs ALLOW_SUSPEND
 * drops the hold our open descriptor has on the device, FORBID_SUSPEND
 * takes it back and resumes the device before it returns. */
static int usbfs_set_suspend(void *arg, bool allow)
{
	struct usb_dev *ud = arg;

	if (ioctl(ud->fd, allow ? USBDEVFS_ALLOW_SUSPEND : USBDEVFS_FORBID_SUSPEND) < 0)
		return -errno;
	return 0;
}

/* Open the device on a usbfs descriptor of ours, wrapped by libusb, so
 * that the selective-suspend ioctls reach the very file libusb works
 * through: every open descriptor keeps the device awake on its own, so
 * a second one of ours could never let it suspend.  Without the wrap
 * (old libusb, no /dev/bus/usb) libusb opens it and power management
 * is unavailable. */
static int open_handle(ostor_device *dev, struct usb_dev *ud, const struct libusb_device_descriptor *dd)
{
	int r;

	ud->fd = -1;
#ifdef HAVE_WRAP_SYS_DEVICE
	{
		char path[64];
		int fd;

		snprintf(path, sizeof(path), "/dev/bus/usb/%03u/%03u", libusb_get_bus_number(ud->ldev),
			 libusb_get_device_address(ud->ldev));
		fd = open(path, O_RDWR | O_CLOEXEC);
		if (fd < 0 && (errno == EACCES || errno == EPERM))
			return access_error(dev, ud->ldev, dd->idVendor, dd->idProduct);
		if (fd >= 0) {
			r = libusb_wrap_sys_device(ud->uc->lctx, (intptr_t)fd, &ud->h);
			if (r == 0) {
				unsigned int caps = 0;

				ud->fd = fd;
				if (ioctl(fd, USBDEVFS_GET_CAPABILITIES, &caps) == 0 && (caps & USBDEVFS_CAP_SUSPEND))
					ud->suspend.set = usbfs_set_suspend;
				else
					ud->suspend.unsupported = "the kernel's usbfs has no runtime power "
								  "management (Linux 5.4 or later, CONFIG_PM)";
				return 0;
			}
			close(fd);
			ostor_dbg(dev->ctx, "%s: libusb_wrap_sys_device: %s; opening through libusb",
				  dev->spec, libusb_error_name(r));
		}
	}
	ud->suspend.unsupported = "libusb opened it on a descriptor of its own (no /dev/bus/usb node)";
#else
	ud->suspend.unsupported = "libusb older than 1.0.23 (no libusb_wrap_sys_device)";
#endif
	r = libusb_open(ud->ldev, &ud->h);
	if (r == LIBUSB_ERROR_ACCESS)
		return access_error(dev, ud->ldev, dd->idVendor, dd->idProduct);
	if (r < 0)
		return ostori_error(r == LIBUSB_ERROR_NO_DEVICE ? OSTOR_ERROR_NO_DEVICE : OSTOR_ERROR_IO,
				    "%s: libusb_open: %s", dev->spec, libusb_error_name(r));
	return 0;
}

/* /sys/bus/usb/devices/BUS-PORT.PORT...: the kernel's name of the device. */
static void sysfs_dir(struct usb_dev *ud)
{
	uint8_t ports[8];
	int n = libusb_get_port_numbers(ud->ldev, ports, (int)sizeof(ports));
	size_t off;

	ud->sysfs[0] = '\0';
	if (n <= 0)
		return;
	off = (size_t)snprintf(ud->sysfs, sizeof(ud->sysfs), "/sys/bus/usb/devices/%u-%u",
			       libusb_get_bus_number(ud->ldev), ports[0]);
	for (int i = 1; i < n && off < sizeof(ud->sysfs); i++)
		off += (size_t)snprintf(ud->sysfs + off, sizeof(ud->sysfs) - off, ".%u", ports[i]);
}

/* Whether the bus's host controller is an xHCI: the driver of the root
 * hub's parent (xhci_hcd, xhci-plat-hcd; ehci-pci, ohci-pci, ...). */
static bool host_is_xhci(unsigned int bus)
{
	char path[64], link[256];
	const char *base;
	ssize_t n;

	snprintf(path, sizeof(path), "/sys/bus/usb/devices/usb%u/../driver", bus);
	n = readlink(path, link, sizeof(link) - 1);
	if (n <= 0)
		return false;
	link[n] = '\0';
	base = strrchr(link, '/');
	return strstr(base ? base + 1 : link, "xhci") != NULL;
}

static int usb_open(ostor_device *dev, const struct ostor_spec *spec)
{
	struct usb_dev *ud = ostori_device_priv(dev);
	struct usb_context *uc = usb_ctx(dev->ctx);
	struct libusb_device_descriptor dd;
	struct libusb_config_descriptor *cfg = NULL;
	/* Data-in and CSW reads are queued together (BOT 1.0 3.3 allows
	 * even more); the engine re-reads a CSW that a device loses (QEMU).
	 * Queuing them with the CBW too stays opt-in (ORIONSTOR_USB_PIPELINE
	 * =cbw, or the queue-cbw quirk for one device): behind QEMU's xHCI,
	 * the one place here that takes such reads, 128 KiB reads ran at
	 * 0.78x (queue depth 1) and 0.84x (8) of the default, 4 KiB ones no
	 * faster; behind EHCI and OHCI QEMU stalls them (found out at the
	 * first, bot.c). */
	struct ousb_engine_config ec = { .pipeline = true };
	int r;

	if (!uc || !uc->lctx)
		return ostori_error(OSTOR_ERROR_NOT_SUPPORTED, "%s: libusb could not be initialised (%s)",
				    dev->spec, uc ? libusb_error_name(uc->init_error) : "no context");
	ud->dev = dev;
	ud->uc = uc;
	ud->fd = -1;
	pthread_mutex_init(&ud->xfer_lock, NULL);
	/* The switch is set by open_handle when the kernel has one. */
	ousb_suspend_init(&ud->suspend, dev, NULL, ud);
	ec.suspend = &ud->suspend;
	r = find_device(dev, uc, spec, &ud->ldev);
	if (r < 0)
		return r;
	if (libusb_get_device_descriptor(ud->ldev, &dd) < 0 ||
	    (libusb_get_active_config_descriptor(ud->ldev, &cfg) < 0 &&
	     libusb_get_config_descriptor(ud->ldev, 0, &cfg) < 0)) {
		r = ostori_error(OSTOR_ERROR_IO, "%s: cannot read the descriptors", dev->spec);
		goto fail;
	}
	r = ousb_quirks_resolve(dd.idVendor, dd.idProduct, ostori_usb_config(&dev->ctx->config)->quirks,
				getenv("ORIONSTOR_USB_QUIRKS"), &ec.quirks);
	if (r < 0)
		goto fail;
	{
		/* UAS unless the quirk, the configuration or the spec
		 * (uas=off) says Bulk-Only. */
		const struct ostor_spec_option *o = ostori_spec_get((struct ostor_spec *)spec, "uas");
		bool allow = true;
		const char *why = "";

		if (o && (!o->value || (strcmp(o->value, "on") && strcmp(o->value, "off")))) {
			r = ostori_error(OSTOR_ERROR_BAD_SPEC, "%s: option uas=%s: expected on or off", dev->spec,
					 o->value ? o->value : "");
			goto fail;
		}
		if (ec.quirks.flags & OUSB_Q_NO_UAS) {
			allow = false;
			why = "quirk no-uas";
		} else if (o && !strcmp(o->value, "off")) {
			allow = false;
			why = "the spec's uas=off";
		} else if (!o && !ostori_usb_config(&dev->ctx->config)->uas_enabled) {
			allow = false;
			why = "[usb_storage] uas_enabled = false";
		}
		r = pick_interfaces(dev, ud, cfg, allow, why);
	}
	if (r < 0)
		goto fail;
	r = open_handle(dev, ud, &dd);
	if (r < 0)
		goto fail;
	/* The kernel driver comes back, per interface, when we release it. */
	libusb_set_auto_detach_kernel_driver(ud->h, 1);
	for (int k = 0; k < ud->nintf; k++) {
		struct usb_intf *ui = &ud->intf[k];

		r = claim(dev, ud, ui);
		if (r < 0)
			goto fail;
		/* UAS at SuperSpeed: bulk streams, one per tag.  Without
		 * them (high speed, or the host would not) one command at a
		 * time. */
		if (ui->uas && ui->max_streams_exp && libusb_get_device_speed(ud->ldev) >= LIBUSB_SPEED_SUPER) {
			int n = uas_alloc_streams(ui);

			if (n >= 2)
				ui->streams = (unsigned int)n;
			else
				ostor_info(dev->ctx, "%s: no bulk streams for UAS (%s); one command at a time",
					   dev->spec, n < 0 ? libusb_error_name(n) : "too few");
		}
	}

	ud->details.vendor_id = dd.idVendor;
	ud->details.product_id = dd.idProduct;
	read_string(ud->h, dd.iManufacturer, ud->details.manufacturer, sizeof(ud->details.manufacturer));
	read_string(ud->h, dd.iProduct, ud->details.product, sizeof(ud->details.product));
	read_string(ud->h, dd.iSerialNumber, ud->details.serial, sizeof(ud->details.serial));
	ud->details.bus = libusb_get_bus_number(ud->ldev);
	ud->details.port = libusb_get_port_number(ud->ldev);
	ud->details.devnum = libusb_get_device_address(ud->ldev);
	snprintf(ud->details.speed, sizeof(ud->details.speed), "%s",
		 speed_name(libusb_get_device_speed(ud->ldev)));
	ud->details.max_packet_in = ud->intf[0].mps_in;
	ud->details.max_packet_out = ud->intf[0].mps_out;
	/* bMaxPower counts 8 mA units at SuperSpeed, 2 mA below (USB 3.2
	 * 9.6.3). */
	ud->max_power_ma = cfg->MaxPower * (libusb_get_device_speed(ud->ldev) >= LIBUSB_SPEED_SUPER ? 8u : 2u);
	sysfs_dir(ud);
	ud->xhci = host_is_xhci(ud->details.bus);
	dev->health_protocol = ousb_quirks_health_protocol(&ec.quirks);

	dev->max_target = (uint32_t)ud->nintf - 1;
	dev->max_transfer_bytes = default_max_transfer(libusb_get_device_speed(ud->ldev), any_uas(ud));
	if (ec.quirks.flags & OUSB_Q_MAX_TRANSFER)
		dev->max_transfer_bytes = ec.quirks.max_transfer;
	dev->max_segments = OSTOR_IOV_MAX;
	dev->max_lun = 0;
	/* The probes' transfers time out like any. */
	xfer_devs_add(ud);
	for (int k = 0; k < ud->nintf; k++) {
		struct usb_intf *ui = &ud->intf[k];

		ec.protocol = ui->uas ? OUSB_PR_UAS : ui->id->bInterfaceProtocol;
		ec.subclass = ui->uas ? OUSB_SC_SCSI : ui->id->bInterfaceSubClass;
		ec.streams = ui->streams;
		ec.interface = ui->iface;
		ec.target = (uint8_t)k;
		r = ousb_engine_new(dev, &libusb_layer_ops, ui, &ec, &ui->engine);
		if (r < 0)
			goto fail;
		if ((r = impls_prepare(dev, ui)) < 0)
			goto fail;
		ousb_suspend_add_engine(&ud->suspend, ui->engine);
		r = ousb_engine_probe(ui->engine);
		if (r < 0)
			goto fail;
		/* The scan asks LUNs up to the largest; a target without
		 * that LUN answers TRANSPORT_ERROR, like a missing one. */
		dev->max_lun = OSTOR_MAX(dev->max_lun, (uint32_t)ousb_engine_max_lun(ui->engine));
	}
	describe(dev, ud, &dd);
	for (int k = 0; k < ud->nintf; k++)
		ud->intf[k].id = NULL;   /* points into cfg */
	libusb_free_config_descriptor(cfg);
	if (ostori_usb_config(&dev->ctx->config)->power_management_enabled &&
	    ousb_suspend_manage(&ud->suspend, true, ostori_usb_config(&dev->ctx->config)->power_idle_ms) < 0)
		ostor_warn(dev->ctx, "[usb_storage] power_management_enabled: %s", ostor_last_error());
	pthread_mutex_lock(&uc->suspend_lock);
	pthread_mutex_lock(&uc->lock);
	ud->next = uc->devices;
	uc->devices = ud;
	pthread_mutex_unlock(&uc->lock);
	pthread_mutex_unlock(&uc->suspend_lock);
	return 0;
fail:
	ousb_suspend_destroy(&ud->suspend);
	free_engines(ud);
	xfer_devs_remove(ud);
	if (cfg)
		libusb_free_config_descriptor(cfg);
	release(ud);
	return r;
}

static void usb_close(ostor_device *dev)
{
	struct usb_dev *ud = ostori_device_priv(dev);
	struct usb_context *uc = ud->uc;

	pthread_mutex_lock(&uc->suspend_lock);
	pthread_mutex_lock(&uc->lock);
	for (struct usb_dev **pp = &uc->devices; *pp; pp = &(*pp)->next) {
		if (*pp == ud) {
			*pp = ud->next;
			break;
		}
	}
	pthread_mutex_unlock(&uc->lock);
	pthread_mutex_unlock(&uc->suspend_lock);
	/* Awake again before the interfaces go back to the kernel. */
	ousb_suspend_destroy(&ud->suspend);
	free_engines(ud);
	xfer_devs_remove(ud);
	/* usbfs memory dies with the handle: the application was told to
	 * free it first; what it did not is reclaimed (and unusable). */
	while (ud->dev_mem) {
		struct dev_mem *m = ud->dev_mem;

		ud->dev_mem = m->next;
		ostor_warn(dev->ctx, "%s: %zu bytes of ostor_dma_alloc memory not freed before close",
			   dev->spec, m->size);
		if (ud->h)
			libusb_dev_mem_free(ud->h, m->p, m->size);
		free(m);
	}
	release(ud);
	pthread_mutex_destroy(&ud->xfer_lock);
}

/* The engine of a task's target, NULL for a target the device lacks. */
static struct ousb_engine *task_engine(ostor_task *t)
{
	struct usb_dev *ud = ostori_device_priv(t->dev);

	return t->target < (uint32_t)ud->nintf ? ud->intf[t->target].engine : NULL;
}

static int usb_submit(ostor_task *t)
{
	struct ousb_engine *e = task_engine(t);

	if (!e) {
		/* Like a target that does not answer: the scan moves on. */
		ostor_dbg(t->dev->ctx, "%s: no target %u", t->dev->spec, t->target);
		ostori_task_finish(t, OSTOR_RESULT_TRANSPORT_ERROR, -1, NULL, 0, 0);
		return 0;
	}
	return ousb_engine_submit(e, t);
}

static int usb_cancel(ostor_task *t)
{
	struct ousb_engine *e = task_engine(t);

	return e ? ousb_engine_cancel(e, t) : 0;
}

static int usb_reset(ostor_device *dev, enum ostor_reset_level level, uint32_t target, uint32_t lun)
{
	return ousb_device_reset(dev, level, target, lun);
}

static void *usb_dma_alloc(ostor_device *dev, size_t size)
{
	struct usb_dev *ud = ostori_device_priv(dev);
	struct dev_mem *m = malloc(sizeof(*m));
	void *p = m && ud->h ? libusb_dev_mem_alloc(ud->h, size) : NULL;

	if (p) {
		m->p = p;
		m->size = size;
		pthread_mutex_lock(&ud->uc->lock);
		m->next = ud->dev_mem;
		ud->dev_mem = m;
		pthread_mutex_unlock(&ud->uc->lock);
		return p;
	}
	/* No usbfs memory (old kernel, or its limit reached): heap memory
	 * works the same, with the kernel's copy. */
	free(m);
	return ostori_page_alloc(size);
}

static void usb_dma_free(ostor_device *dev, void *p, size_t size)
{
	struct usb_dev *ud = ostori_device_priv(dev);
	struct dev_mem **pp, *m = NULL;

	pthread_mutex_lock(&ud->uc->lock);
	for (pp = &ud->dev_mem; *pp; pp = &(*pp)->next)
		if ((*pp)->p == p) {
			m = *pp;
			*pp = m->next;
			break;
		}
	pthread_mutex_unlock(&ud->uc->lock);
	if (m) {
		libusb_dev_mem_free(ud->h, m->p, m->size);
		free(m);
	} else {
		free(p);
	}
}

/* ---- event integration --------------------------------------------------------- */

static int usb_get_pollfds(ostor_context *ctx, struct pollfd *fds, int max)
{
	struct usb_context *uc = usb_ctx(ctx);
	const struct libusb_pollfd **lp;
	int n = 0;

	if (!uc || !uc->lctx)
		return 0;
	/* Only open devices need the event loop (hot-plug included: an
	 * arrival just makes a device listable, which listing sees). */
	pthread_mutex_lock(&uc->lock);
	n = uc->devices ? 0 : -1;
	pthread_mutex_unlock(&uc->lock);
	if (n < 0)
		return 0;
	pthread_mutex_lock(&uc->pollfd_lock);
	if (!uc->pollfds_overflow) {
		n = uc->npollfds;
		if (n <= max)
			memcpy(fds, uc->pollfds, (size_t)n * sizeof(*fds));
		pthread_mutex_unlock(&uc->pollfd_lock);
		return n;
	}
	pthread_mutex_unlock(&uc->pollfd_lock);
	lp = libusb_get_pollfds(uc->lctx);
	if (!lp)
		return 0;
	for (; lp[n]; n++) {
		if (n < max) {
			fds[n].fd = lp[n]->fd;
			fds[n].events = lp[n]->events;
			fds[n].revents = 0;
		}
	}
	libusb_free_pollfds(lp);
	return n;
}

static int usb_next_timeout(ostor_context *ctx)
{
	struct usb_context *uc = usb_ctx(ctx);
	struct timeval tv;
	int r, next;
	bool devices;

	if (!uc || !uc->lctx)
		return -1;
	pthread_mutex_lock(&uc->lock);
	next = deferred_next_ms(uc);
	devices = uc->devices != NULL;
	for (struct usb_dev *ud = uc->devices; ud && next != 0; ud = ud->next) {
		/* The idle timers (only devices that watch have a deadline). */
		if (atomic_load_explicit(&ud->suspend.deadline, memory_order_relaxed)) {
			int t = ousb_suspend_next_ms(&ud->suspend, ostori_now_ms());

			if (t >= 0 && (next < 0 || t < next))
				next = t;
		}
	}
	pthread_mutex_unlock(&uc->lock);
	if (next == 0 || !devices)
		return next;
	r = xfer_next_ms(uc);
	if (r >= 0 && (next < 0 || r < next))
		next = r;
	r = libusb_get_next_timeout(uc->lctx, &tv);
	if (r <= 0)
		return next;  /* none, or libusb's own timerfd is among the fds */
	r = (int)OSTOR_MIN((uint64_t)tv.tv_sec * 1000 + (uint64_t)(tv.tv_usec + 999) / 1000, 60000u);
	return next < 0 ? r : OSTOR_MIN(r, next);
}

/* Run the idle timers that are due (outside uc->lock: they take engine
 * locks; suspend_lock keeps the devices from closing meanwhile). */
static void suspend_ticks(struct usb_context *uc)
{
	uint64_t now = ostori_now_ms();

	pthread_mutex_lock(&uc->suspend_lock);
	for (struct usb_dev *ud = uc->devices; ud; ud = ud->next)
		ousb_suspend_tick(&ud->suspend, now);
	pthread_mutex_unlock(&uc->suspend_lock);
}

static int usb_handle_events(ostor_context *ctx)
{
	struct usb_context *uc = usb_ctx(ctx);
	struct timeval zero = { 0, 0 };
	bool any, watch = false;
	uint64_t now;
	int n;

	if (!uc || !uc->lctx)
		return 0;
	pthread_mutex_lock(&uc->lock);
	any = uc->devices || uc->deferred;
	for (struct usb_dev *ud = uc->devices; ud && !watch; ud = ud->next)
		watch = atomic_load_explicit(&ud->suspend.deadline, memory_order_relaxed) != 0;
	pthread_mutex_unlock(&uc->lock);
	if (!any)
		return 0;
	/* Blocking transfers first: a command that just ran its phases
	 * here skips libusb's pass (a poll system call), at most for 10 ms,
	 * so that hot-plug and other completions still come in time. */
	n = run_deferred(uc);
	now = ostori_now_ms();
	if (!n || now - atomic_load_explicit(&uc->libusb_pass_ms, memory_order_relaxed) >= 10) {
		atomic_store_explicit(&uc->libusb_pass_ms, now, memory_order_relaxed);
		libusb_pass(ctx, uc, &zero);
		expire_transfers(uc);
		n += run_deferred(uc);
	}
	if (watch)
		suspend_ticks(uc);
	return n;
}

/* One queue per device (Bulk-Only runs one command at a time): its owner
 * reaps by running libusb's events without blocking. */
static int usb_queue_poll(ostor_device *dev)
{
	return usb_handle_events(dev->ctx);
}

/* ---- for api.c -------------------------------------------------------------- */

int ousb_backend_engines(ostor_device *dev, struct ousb_engine **v, int max)
{
	struct usb_dev *ud;
	int n = 0;

	if (!dev || dev->backend != &ostori_usb_backend)
		return 0;
	ud = ostori_device_priv(dev);
	for (int k = 0; k < ud->nintf && n < max; k++)
		v[n++] = ud->intf[k].engine;
	return n;
}

void ousb_backend_details(ostor_device *dev, struct ostor_usb_details *d)
{
	struct usb_dev *ud = ostori_device_priv(dev);

	*d = ud->details;
}

struct ousb_suspend *ousb_backend_suspend(ostor_device *dev)
{
	return &((struct usb_dev *)ostori_device_priv(dev))->suspend;
}

/* One sysfs attribute of the device, trimmed; -errno when unreadable. */
static int read_attr(const struct usb_dev *ud, const char *name, char *buf, size_t len)
{
	char path[192];
	ssize_t n;
	int fd;

	buf[0] = '\0';
	snprintf(path, sizeof(path), "%s/%s", ud->sysfs, name);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	n = read(fd, buf, len - 1);
	close(fd);
	if (n < 0)
		return -errno;
	buf[n] = '\0';
	buf[strcspn(buf, "\n")] = '\0';
	return 0;
}

void ousb_backend_power(ostor_device *dev, struct ostor_usb_power *p)
{
	struct usb_dev *ud = ostori_device_priv(dev);
	char v[64];

	snprintf(p->speed, sizeof(p->speed), "%s", ud->details.speed);
	p->max_power_ma = ud->max_power_ma;
	snprintf(p->sysfs_path, sizeof(p->sysfs_path), "%s", ud->sysfs);
	if (!ud->sysfs[0])
		return;
	/* What the kernel says is untrusted too: copy what fits, parse
	 * numbers strictly, leave the unknown at its default. */
	if (read_attr(ud, "power/control", v, sizeof(v)) == 0)
		snprintf(p->control, sizeof(p->control), "%.7s", v);
	if (read_attr(ud, "power/autosuspend_delay_ms", v, sizeof(v)) == 0) {
		char *end;
		long d = strtol(v, &end, 10);

		if (end != v && !*end && d >= INT32_MIN && d <= INT32_MAX)
			p->autosuspend_delay_ms = (int)d;
	}
	if (read_attr(ud, "power/runtime_status", v, sizeof(v)) == 0)
		snprintf(p->runtime_status, sizeof(p->runtime_status), "%.15s", v);
	if (read_attr(ud, "power/runtime_suspended_time", v, sizeof(v)) == 0)
		ostori_parse_u64(v, UINT64_MAX, &p->runtime_suspended_ms);
	if (read_attr(ud, "power/runtime_active_time", v, sizeof(v)) == 0)
		ostori_parse_u64(v, UINT64_MAX, &p->runtime_active_ms);
}

static int write_attr(ostor_device *dev, const struct usb_dev *ud, const char *name, const char *value)
{
	char path[192];
	ssize_t n;
	int fd, e;

	snprintf(path, sizeof(path), "%s/%s", ud->sysfs, name);
	fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd >= 0) {
		n = write(fd, value, strlen(value));
		e = n < 0 ? errno : 0;
		close(fd);
		if (!e)
			return 0;
	} else {
		e = errno;
	}
	if (e == EACCES || e == EPERM || e == EROFS)
		return ostori_error(OSTOR_ERROR_ACCESS,
				    "%s: permission denied writing %s; run as root, or hand the file to "
				    "your user (sudo chown $USER %s), or set it with a udev rule such as "
				    "ACTION==\"add\", SUBSYSTEM==\"usb\", ATTR{idVendor}==\"%04x\", "
				    "ATTR{idProduct}==\"%04x\", ATTR{%s}=\"%s\" in "
				    "/etc/udev/rules.d/70-orionstor.rules", dev->spec, path, path,
				    ud->details.vendor_id, ud->details.product_id, name, value);
	if (e == ENOENT)
		return ostori_error(OSTOR_ERROR_NOT_SUPPORTED, "%s: %s does not exist: the kernel has no "
				    "runtime power management for USB (CONFIG_PM)", dev->spec, path);
	if (e == ENODEV)
		return ostori_error(OSTOR_ERROR_NO_DEVICE, "%s: the device was unplugged", dev->spec);
	return ostori_error(OSTOR_ERROR_IO, "%s: writing \"%s\" to %s: %s", dev->spec, value, path,
			    strerror(e));
}

int ousb_backend_power_set(ostor_device *dev, int autosuspend, int delay_ms)
{
	struct usb_dev *ud = ostori_device_priv(dev);
	char v[16];
	int r = 0;

	if (!ud->sysfs[0])
		return ostori_error(OSTOR_ERROR_NOT_SUPPORTED, "%s: its sysfs directory is unknown "
				    "(libusb gave no port numbers)", dev->spec);
	/* The delay first: switching to "auto" with an old long delay would
	 * start that one. */
	if (delay_ms >= 0) {
		snprintf(v, sizeof(v), "%d", delay_ms);
		r = write_attr(dev, ud, "power/autosuspend_delay_ms", v);
	}
	if (r == 0 && autosuspend >= 0)
		r = write_attr(dev, ud, "power/control", autosuspend ? "auto" : "on");
	return r;
}

/* The link's signalling rate by the speed name in the details. */
static uint64_t speed_kbps(const char *speed)
{
	static const struct { const char *name; uint64_t kbps; } rates[] = {
		{ "low", 1500 }, { "full", 12000 }, { "high", 480000 }, { "super", 5000000 }, { "super+", 10000000 },
	};

	for (size_t i = 0; i < OSTOR_ARRAY_SIZE(rates); i++)
		if (!strcmp(speed, rates[i].name))
			return rates[i].kbps;
	return 0;
}

static int usb_counters(ostor_device *dev, struct ostor_counter *out, int max)
{
	struct usb_dev *ud = ostori_device_priv(dev);
	int n = 0;

	for (int i = 0; i < ud->nintf; i++)
		if (ud->intf[i].engine)
			ousb_engine_counters(ud->intf[i].engine, out, max, &n);
	ostori_counter_add(out, max, &n, "usb_link_speed_kbps", speed_kbps(ud->details.speed));
	ostori_counter_add(out, max, &n, "usb_system_calls",
			   atomic_load_explicit(&ud->syscalls, memory_order_relaxed));
	{
		struct ousb_suspend_state ss;

		ousb_suspend_get(&ud->suspend, &ss);
		ostori_counter_add(out, max, &n, "usb_power_suspends_allowed", ss.suspends_allowed);
		ostori_counter_add(out, max, &n, "usb_power_resumes", ss.resumes);
	}
	return n;
}

static int usb_tuning(ostor_device *dev, struct ostori_setting *out, int max)
{
	struct usb_dev *ud = ostori_device_priv(dev);
	int n = 0;

	ostori_setting_add(out, max, &n, "max_transfer_bytes",
			   dev->max_transfer_bytes != default_max_transfer(libusb_get_device_speed(ud->ldev),
									   any_uas(ud)) ?
			   "quirk max-transfer" : "default for the link speed and protocol",
			   "%zu", dev->max_transfer_bytes);
	ostori_setting_add(out, max, &n, "link_speed", "the host controller", "%s", ud->details.speed);
	for (int i = 0; i < ud->nintf; i++)
		if (ud->intf[i].engine)
			ousb_engine_tuning(ud->intf[i].engine, out, max, &n);
	return n;
}

static void usb_lun_limits(ostor_device *dev, uint32_t target, uint32_t lun, uint32_t block_size,
			   uint64_t max_bytes)
{
	struct usb_dev *ud = ostori_device_priv(dev);

	if (target < (uint32_t)ud->nintf && ud->intf[target].engine)
		ousb_engine_lun_limits(ud->intf[target].engine, lun, block_size, max_bytes);
}

const struct ostor_backend ostori_usb_backend = {
	.name = "usb",
	.spec_forms = OUSB_SPEC_FORMS,
	.device_priv_size = sizeof(struct usb_dev),
	.init = usb_init,
	.exit = usb_exit,
	.enumerate = usb_enumerate,
	.open = usb_open,
	.close = usb_close,
	.submit = usb_submit,
	.cancel = usb_cancel,
	.reset = usb_reset,
	.dma_alloc = usb_dma_alloc,
	.dma_free = usb_dma_free,
	.get_pollfds = usb_get_pollfds,
	.next_timeout = usb_next_timeout,
	.handle_events = usb_handle_events,
	.queue_poll = usb_queue_poll,
	.counters = usb_counters,
	.tuning = usb_tuning,
	.lun_limits = usb_lun_limits,
};
