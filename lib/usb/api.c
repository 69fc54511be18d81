/*
 * lib/usb/api.c - the public USB helpers (ostor_usb_*), for usb: devices
 * and the simulated USB models alike.
 */
#include "usb/backend.h"
#include "usb/sim_device.h"
#include "usb/suspend.h"
#include "util/sized.h"

#include <string.h>

/* The engines of dev, one per mass-storage interface in target order
 * (a simulated model has one); 0 when dev is not USB mass storage. */
static int engines_of(ostor_device *dev, struct sim_usb **model, struct ousb_engine **v)
{
	struct sim_usb *m = sim_usb_of(dev);

	*model = m;
	if (m) {
		v[0] = sim_usb_engine(m);
		return v[0] ? 1 : 0;
	}
#ifdef OSTOR_HAVE_USB
	return ousb_backend_engines(dev, v, OUSB_MAX_TARGETS);
#else
	return 0;
#endif
}

/* struct ostor_usb_details grows (lib/util/sized.h): add a version when
 * appending fields. */
static const struct ostori_sized details_sized =
	OSTORI_SIZED(struct ostor_usb_details, OSTOR_USB_DETAILS_INIT,
		     OSTORI_FIELD_END(struct ostor_usb_details, target_max_lun));
OSTORI_SIZED_CHECK(struct ostor_usb_details, target_max_lun);

OSTOR_API int ostor_usb_get_details(ostor_device *dev, struct ostor_usb_details *caller)
{
	struct ousb_engine *v[OUSB_MAX_TARGETS];
	struct ostor_usb_details full, *d = &full;
	struct sim_usb *m;
	int n, r;

	if (!dev || !caller)
		return ostori_error(OSTOR_ERROR_INVALID_PARAM, "ostor_usb_get_details: NULL argument");
	if ((r = ostori_sized_check(&details_sized, caller, __func__, "details")))
		return r;
	memset(d, 0, sizeof(*d));
	n = engines_of(dev, &m, v);
	if (n <= 0)
		return ostori_error(OSTOR_ERROR_NOT_SUPPORTED,
				    "%s is not a USB mass-storage device (usb: or sim:transport=usb-*)",
				    dev->spec);
	if (m)
		sim_usb_details(m, d);
#ifdef OSTOR_HAVE_USB
	else
		ousb_backend_details(dev, d);
#endif
	for (int k = n - 1; k >= 0; k--) {
		int dead = d->dead;

		/* Target 0 last: the single-interface fields describe it. */
		ousb_engine_details(v[k], d);
		d->target_interface[k] = d->interface_number;
		d->target_subclass[k] = d->subclass;
		d->target_protocol[k] = d->protocol;
		d->target_max_lun[k] = d->max_lun;
		d->dead |= dead;
	}
	d->interfaces = (uint8_t)n;
	ostori_sized_put(&details_sized, caller, d);
	return 0;
}

OSTOR_API int ostor_usb_reset(ostor_device *dev, enum ostor_usb_reset_kind kind)
{
	struct ousb_engine *v[OUSB_MAX_TARGETS];
	struct sim_usb *m;
	int n, r = 0;

	if (!dev || (kind != OSTOR_USB_RESET_TRANSPORT && kind != OSTOR_USB_RESET_PORT))
		return ostori_error(OSTOR_ERROR_INVALID_PARAM, "ostor_usb_reset: bad argument");
	n = engines_of(dev, &m, v);
	if (n <= 0)
		return ostori_error(OSTOR_ERROR_NOT_SUPPORTED,
				    "%s is not a USB mass-storage device (usb: or sim:transport=usb-*)",
				    dev->spec);
	/* A port reset re-enumerates the whole device: once, through the
	 * first interface's engine.  Every interface must be idle first. */
	for (int k = 1; k < n; k++)
		if (!ousb_engine_is_idle(v[k]))
			return ostori_error(OSTOR_ERROR_BUSY, "%s: commands are in flight on target %d; "
					    "reset when idle", dev->spec, k);
	if (kind == OSTOR_USB_RESET_PORT)
		return ousb_engine_reset(v[0], true);
	for (int k = 0; k < n && r >= 0; k++)
		r = ousb_engine_reset(v[k], false);
	return r;
}

/* ostor_reset for USB devices (real and simulated): UAS resets through
 * its task management (lib/usb/uas.c).  Bulk-Only and CB/CBI
 * have no finer reset than the class-specific one, so every level ends
 * what is in flight (cancel: the engine's reset recovery), then resets
 * every interface's transport. */
int ousb_device_reset(ostor_device *dev, enum ostor_reset_level level, uint32_t target, uint32_t lun)
{
	struct ousb_engine *v[OUSB_MAX_TARGETS];
	struct sim_usb *m;
	uint64_t deadline;
	int n = engines_of(dev, &m, v), r = 0;
	bool idle;

	if (n <= 0)
		return ostori_error(OSTOR_ERROR_NOT_SUPPORTED, "%s is not a USB mass-storage device", dev->spec);
	/* UAS has task management: a LUN or I_T nexus reset of that
	 * interface while the others go on; the device level is a port
	 * reset, which takes every interface with it. */
	if (target < (uint32_t)n && ousb_engine_is_uas(v[target]))
		return ousb_uas_reset(v[target], level, lun);
	ostori_device_cancel_all(dev);
	deadline = ostori_now_ms() + 120000;
	do {
		idle = true;
		for (int k = 0; k < n; k++)
			idle &= ousb_engine_is_idle(v[k]);
		if (!idle)
			ostor_handle_events(dev->ctx, 10);
	} while (!idle && ostori_now_ms() < deadline);
	if (!idle)
		return ostori_error(OSTOR_ERROR_TIMEOUT, "%s: the commands in flight did not end; unplug and "
				    "replug the device", dev->spec);
	for (int k = 0; k < n && r >= 0; k++)
		r = ousb_engine_reset(v[k], false);
	if (r < 0)
		return r;
	return level == OSTOR_RESET_DEVICE ? 0 : 1;
}

/* ---- selective suspend (USB runtime power management) --------------------- */

/* struct ostor_usb_power grows (lib/util/sized.h). */
static const struct ostori_sized power_sized =
	OSTORI_SIZED(struct ostor_usb_power, OSTOR_USB_POWER_INIT,
		     OSTORI_FIELD_END(struct ostor_usb_power, sysfs_path));
OSTORI_SIZED_CHECK(struct ostor_usb_power, sysfs_path);

/* The suspend state of dev and its simulated model (or NULL);
 * OSTOR_ERROR_NOT_SUPPORTED when dev is not USB. */
static int suspend_of(ostor_device *dev, struct sim_usb **model, struct ousb_suspend **out)
{
	struct ousb_engine *v[OUSB_MAX_TARGETS];

	*out = NULL;
	if (engines_of(dev, model, v) > 0) {
		if (*model)
			*out = sim_usb_suspend(*model);
#ifdef OSTOR_HAVE_USB
		else
			*out = ousb_backend_suspend(dev);
#endif
	}
	if (!*out)
		return ostori_error(OSTOR_ERROR_NOT_SUPPORTED, "%s is not a USB device (usb: or "
				    "sim:transport=usb-*)", dev->spec);
	return 0;
}

OSTOR_API int ostor_usb_power_get(ostor_device *dev, struct ostor_usb_power *caller)
{
	struct ostor_usb_power full, *p = &full;
	struct ousb_suspend_state st;
	struct ousb_suspend *s;
	struct sim_usb *m;
	int r;

	if (!dev || !caller)
		return ostori_error(OSTOR_ERROR_INVALID_PARAM, "ostor_usb_power_get: NULL argument");
	if ((r = ostori_sized_check(&power_sized, caller, __func__, "power")))
		return r;
	if ((r = suspend_of(dev, &m, &s)))
		return r;
	memset(p, 0, sizeof(*p));
	p->autosuspend_delay_ms = -1;
	if (m) {
		/* No kernel behind a model: the in-memory attributes, and the
		 * counters of the same logic as on real devices. */
		struct sim_usb_power_attrs a;
		struct ostor_usb_details d;

		memset(&d, 0, sizeof(d));
		sim_usb_details(m, &d);
		sim_usb_power_attrs(m, &a);
		snprintf(p->control, sizeof(p->control), "%s", a.autosuspend ? "auto" : "on");
		p->autosuspend_delay_ms = a.delay_ms;
		snprintf(p->runtime_status, sizeof(p->runtime_status), "unsupported");
		p->max_power_ma = a.max_power_ma;
		snprintf(p->speed, sizeof(p->speed), "%s", d.speed);
	}
#ifdef OSTOR_HAVE_USB
	else {
		ousb_backend_power(dev, p);
	}
#endif
	ousb_suspend_get(s, &st);
	p->suspend_allowed = st.enabled;
	p->idle_ms = st.enabled ? st.idle_ms : 0;
	p->suspends_allowed = st.suspends_allowed;
	p->resumes = st.resumes;
	ostori_sized_put(&power_sized, caller, p);
	return 0;
}

OSTOR_API int ostor_usb_power_set(ostor_device *dev, int autosuspend, int delay_ms)
{
	struct ousb_suspend *s;
	struct sim_usb *m;
	int r;

	if (!dev || autosuspend < -1 || autosuspend > 1 || delay_ms < -1)
		return ostori_error(OSTOR_ERROR_INVALID_PARAM, "ostor_usb_power_set: autosuspend is 1 (auto), "
				    "0 (on) or -1 (unchanged); delay_ms is 0 or more, or -1 (unchanged)");
	if ((r = suspend_of(dev, &m, &s)))
		return r;
	if (m) {
		sim_usb_power_set_attrs(m, autosuspend, delay_ms);
		return 0;
	}
#ifdef OSTOR_HAVE_USB
	return ousb_backend_power_set(dev, autosuspend, delay_ms);
#else
	return ostori_error(OSTOR_ERROR_NOT_SUPPORTED, "%s: built without libusb", dev->spec);
#endif
}

OSTOR_API int ostor_usb_power_manage(ostor_device *dev, int allow, unsigned int idle_ms)
{
	struct ousb_suspend *s;
	struct sim_usb *m;
	int r;

	if (!dev || (allow != 0 && allow != 1))
		return ostori_error(OSTOR_ERROR_INVALID_PARAM, "ostor_usb_power_manage: allow is 1 or 0");
	if ((r = suspend_of(dev, &m, &s)))
		return r;
	if (!idle_ms)
		idle_ms = ostori_usb_config(&dev->ctx->config)->power_idle_ms;
	r = ousb_suspend_manage(s, allow, idle_ms);
#ifdef OSTOR_HAVE_USB
	if (r == 0 && allow && !m) {
		struct ostor_usb_power p;

		memset(&p, 0, sizeof(p));
		ousb_backend_power(dev, &p);
		if (!strcmp(p.control, "on"))
			ostor_warn(dev->ctx, "%s: %s/power/control is \"on\": the kernel keeps the device "
				   "awake anyway; set it to \"auto\" (ostor_usb_power_set, or as root: "
				   "echo auto > %s/power/control)", dev->spec, p.sysfs_path, p.sysfs_path);
	}
#endif
	return r;
}
