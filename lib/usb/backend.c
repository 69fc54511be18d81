/*
 * lib/usb/backend.c - the "usb:" backend over libusb-1.0.
 *
 * This version enumerates mass-storage interfaces (class 08h); the
 * Bulk-Only and CB/CBI transports arrive with the USB backend work, and
 * until then opening a usb: device says so plainly.
 */
#include "core/backend.h"

#include <libusb.h>
#include <stdlib.h>
#include <string.h>

struct usb_context {
	libusb_context *lctx;
	int init_error;
};

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

static const char *transport_name(uint8_t protocol)
{
	switch (protocol) {
	case 0x00: return "CBI";
	case 0x01: return "CB";
	case 0x50: return "BOT";
	case 0x62: return "UAS";
	default: return "unknown protocol";
	}
}

static int usb_init(ostor_context *ctx)
{
	struct usb_context *uc = calloc(1, sizeof(*uc));
	int r;

	if (!uc)
		return ostori_error(OSTOR_ERROR_NO_MEM, "out of memory");
	/* No USB on this machine is not an error for the context: the
	 * other backends still work; listing USB says why it cannot. */
	r = libusb_init(&uc->lctx);
	if (r < 0) {
		uc->lctx = NULL;
		uc->init_error = r;
		ostor_dbg(ctx, "libusb_init failed: %s", libusb_error_name(r));
	}
	ctx->backend_data[ostori_backend_index(&ostori_usb_backend)] = uc;
	return 0;
}

static void usb_exit(ostor_context *ctx)
{
	int idx = ostori_backend_index(&ostori_usb_backend);
	struct usb_context *uc = ctx->backend_data[idx];

	if (uc && uc->lctx)
		libusb_exit(uc->lctx);
	free(uc);
	ctx->backend_data[idx] = NULL;
}

static int usb_enumerate(ostor_context *ctx, struct ostori_devlist *list)
{
	struct usb_context *uc = ctx->backend_data[ostori_backend_index(&ostori_usb_backend)];
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
		for (int j = 0; j < cfg->bNumInterfaces && r == 0; j++) {
			const struct libusb_interface *itf = &cfg->interface[j];

			for (int k = 0; k < itf->num_altsetting; k++) {
				const struct libusb_interface_descriptor *id = &itf->altsetting[k];
				char spec[32];

				if (id->bInterfaceClass != LIBUSB_CLASS_MASS_STORAGE)
					continue;
				snprintf(spec, sizeof(spec), "usb:%u.%u",
					 libusb_get_bus_number(devs[i]), libusb_get_device_address(devs[i]));
				r = ostori_devlist_add(list, "usb", spec,
						       "USB mass storage %04x:%04x, interface %u, subclass %02xh, %s, %s speed",
						       dd.idVendor, dd.idProduct, id->bInterfaceNumber,
						       id->bInterfaceSubClass, transport_name(id->bInterfaceProtocol),
						       speed_name(libusb_get_device_speed(devs[i])));
				break;
			}
		}
		libusb_free_config_descriptor(cfg);
	}
	libusb_free_device_list(devs, 1);
	return r;
}

static int usb_open(ostor_device *dev, const struct ostor_spec *spec)
{
	return ostori_error(OSTOR_ERROR_NOT_SUPPORTED,
			    "%s: the USB mass-storage transports (Bulk-Only, CB/CBI) are not in this "
			    "version of liborionstor yet; the device can be listed but not opened",
			    dev->spec);
}

static void usb_close(ostor_device *dev)
{
}

static int usb_submit(ostor_task *task)
{
	return ostori_error(OSTOR_ERROR_NOT_SUPPORTED, "USB transport not available");
}

const struct ostor_backend ostori_usb_backend = {
	.name = "usb",
	.spec_forms = "usb:VVVV:PPPP, usb:VVVV:PPPP:SERIAL, usb:BUS.DEVNUM",
	.init = usb_init,
	.exit = usb_exit,
	.enumerate = usb_enumerate,
	.open = usb_open,
	.close = usb_close,
	.submit = usb_submit,
};
