/*
 * lib/usb/spec.c - usb: device specs (usb:VVVV:PPPP[:SERIAL], usb:BUS.DEVNUM).
 * Built in every configuration, so a well-formed spec is told apart from
 * a malformed one even where the USB backend is left out.
 */
#include "orionstor.h"
#include "usb/spec.h"
#include "util/error.h"

#include <string.h>

_Static_assert(sizeof(struct ousb_spec) <= OSTORI_SPEC_PARSED_MAX, "struct ousb_spec is too large");

/* Exactly four hex digits, as lsusb prints an ID. */
static int parse_hex4(const char *s, size_t len, uint16_t *out)
{
	unsigned v;

	if (len != 4 || ostori_parse_hex(s, len, 0xffff, &v))
		return -1;
	*out = (uint16_t)v;
	return 0;
}

int ousb_spec_parse(const char *text, const char *body, struct ostor_spec *spec)
{
	struct ousb_spec *u = (struct ousb_spec *)spec->parsed;
	const char *c1 = strchr(body, ':');

	if (!c1) {
		/* usb:BUS.DEVNUM, decimal as lsusb prints it */
		uint64_t bus, dev;
		char tmp[32];
		char *dot;

		if (strlen(body) >= sizeof(tmp))
			goto bad;
		strcpy(tmp, body);
		dot = strchr(tmp, '.');
		if (!dot)
			goto bad;
		*dot = '\0';
		if (ostori_parse_u64(tmp, 255, &bus) || ostori_parse_u64(dot + 1, 255, &dev) ||
		    (tmp[0] == '0' && tmp[1] == 'x') || (dot[1] == '0' && dot[2] == 'x') ||
		    dev == 0)
			goto bad;
		u->kind = OUSB_SPEC_BUSDEV;
		u->bus = (uint8_t)bus;
		u->devnum = (uint8_t)dev;
		return 0;
	}
	u->kind = OUSB_SPEC_ID;
	if (parse_hex4(body, (size_t)(c1 - body), &u->vendor_id))
		goto bad;
	{
		const char *c2 = strchr(c1 + 1, ':');
		size_t plen = c2 ? (size_t)(c2 - c1 - 1) : strlen(c1 + 1);

		if (parse_hex4(c1 + 1, plen, &u->product_id))
			goto bad;
		if (c2) {
			if (!c2[1] || strlen(c2 + 1) >= sizeof(u->serial))
				goto bad;
			strcpy(u->serial, c2 + 1);
		}
	}
	return 0;
bad:
	return ostori_error(OSTOR_ERROR_BAD_SPEC,
			    "malformed USB device spec '%s': use usb:VVVV:PPPP or usb:VVVV:PPPP:SERIAL "
			    "(4 hex digits each, as lsusb prints ID), or usb:BUS.DEVNUM (decimal, e.g. usb:1.4)",
			    text);
}

