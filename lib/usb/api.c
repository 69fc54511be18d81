/*
 * lib/usb/api.c - the public USB helpers (ostor_usb_*), for usb: devices
 * and the simulated USB models alike.
 */
#include "usb/backend.h"
#include "sim/usb_models.h"

#include <string.h>

static struct ousb_engine *engine_of(ostor_device *dev, struct sim_usb **model)
{
	struct sim_usb *m = sim_usb_of(dev);

	*model = m;
	if (m)
		return sim_usb_engine(m);
#ifdef OSTOR_HAVE_USB
	return ousb_backend_engine(dev);
#else
	return NULL;
#endif
}

OSTOR_API int ostor_usb_get_details(ostor_device *dev, struct ostor_usb_details *d)
{
	struct sim_usb *m;
	struct ousb_engine *e;

	if (!dev || !d)
		return ostori_error(OSTOR_ERROR_INVALID_PARAM, "ostor_usb_get_details: NULL argument");
	memset(d, 0, sizeof(*d));
	e = engine_of(dev, &m);
	if (!e)
		return ostori_error(OSTOR_ERROR_NOT_SUPPORTED,
				    "%s is not a USB mass-storage device (usb: or sim:transport=usb-*)",
				    dev->spec);
	if (m)
		sim_usb_details(m, d);
#ifdef OSTOR_HAVE_USB
	else
		ousb_backend_details(dev, d);
#endif
	ousb_engine_details(e, d);
	return 0;
}

OSTOR_API int ostor_usb_reset(ostor_device *dev, enum ostor_usb_reset_kind kind)
{
	struct sim_usb *m;
	struct ousb_engine *e;

	if (!dev || (kind != OSTOR_USB_RESET_TRANSPORT && kind != OSTOR_USB_RESET_PORT))
		return ostori_error(OSTOR_ERROR_INVALID_PARAM, "ostor_usb_reset: bad argument");
	e = engine_of(dev, &m);
	if (!e)
		return ostori_error(OSTOR_ERROR_NOT_SUPPORTED,
				    "%s is not a USB mass-storage device (usb: or sim:transport=usb-*)",
				    dev->spec);
	return ousb_engine_reset(e, kind == OSTOR_USB_RESET_PORT);
}
