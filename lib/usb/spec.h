/*
 * lib/usb/spec.h - what a usb: device spec says.
 */
#ifndef OSTOR_USB_SPEC_H
#define OSTOR_USB_SPEC_H

#include "core/spec.h"

enum ousb_spec_kind {
	OUSB_SPEC_ID,       /* usb:VVVV:PPPP[:SERIAL] */
	OUSB_SPEC_BUSDEV,   /* usb:BUS.DEVNUM */
};

struct ousb_spec {
	enum ousb_spec_kind kind;
	uint16_t vendor_id, product_id;
	char serial[256];        /* "" when not given */
	uint8_t bus, devnum;
};

#define OUSB_SPEC_FORMS "'usb:VVVV:PPPP', 'usb:VVVV:PPPP:SERIAL', 'usb:BUS.DEVNUM'"

int ousb_spec_parse(const char *text, const char *body, struct ostor_spec *spec);

static inline const struct ousb_spec *ousb_spec(const struct ostor_spec *spec)
{
	return (const struct ousb_spec *)spec->parsed;
}

#endif
