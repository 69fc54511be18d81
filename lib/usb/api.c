/*
 * lib/usb/api.c - the public USB helpers (ostor_usb_*), for usb: devices
 * and the simulated USB models alike.
 */
#include "usb/backend.h"
#include "usb/sim_device.h"

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

/* ostor_reset for USB devices (real and simulated): Bulk-Only and CB/CBI
 * have no finer reset than the class-specific one, so every level ends
 * what is in flight (cancel: the engine's reset recovery), then resets
 * every interface's transport. */
int ousb_device_reset(ostor_device *dev, enum ostor_reset_level level)
{
	struct ousb_engine *v[OUSB_MAX_TARGETS];
	struct sim_usb *m;
	uint64_t deadline;
	int n = engines_of(dev, &m, v), r = 0;
	bool idle;

	if (n <= 0)
		return ostori_error(OSTOR_ERROR_NOT_SUPPORTED, "%s is not a USB mass-storage device", dev->spec);
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
