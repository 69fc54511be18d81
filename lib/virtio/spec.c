/*
 * lib/virtio/spec.c - virtio: device specs (the PCI address,
 * virtio:[DDDD:]BB:DD.F).  Built in every configuration.
 */
#include "orionstor.h"
#include "virtio/spec.h"
#include "util/error.h"

#include <string.h>

_Static_assert(sizeof(struct ovirtio_spec) <= OSTORI_SPEC_PARSED_MAX, "struct ovirtio_spec is too large");

int ovirtio_spec_parse(const char *text, const char *body, struct ostor_spec *spec)
{
	struct ovirtio_spec *v = (struct ovirtio_spec *)spec->parsed;
	/* [DDDD:]BB:DD.F */
	const char *parts[3];
	size_t lens[3];
	int n = 0;
	const char *p = body, *dot;
	unsigned dom = 0, bus, dev, fn;

	dot = strrchr(body, '.');
	if (!dot || !dot[1] || dot[2])
		goto bad;
	while (n < 3) {
		const char *c = strchr(p, ':');

		if (!c || c > dot) {
			parts[n] = p;
			lens[n] = (size_t)(dot - p);
			n++;
			break;
		}
		parts[n] = p;
		lens[n] = (size_t)(c - p);
		n++;
		p = c + 1;
	}
	if (n == 3) {
		if (ostori_parse_hex(parts[0], lens[0], 0xffff, &dom) || lens[0] != 4)
			goto bad;
		parts[0] = parts[1]; lens[0] = lens[1];
		parts[1] = parts[2]; lens[1] = lens[2];
	} else if (n != 2) {
		goto bad;
	}
	if (ostori_parse_hex(parts[0], lens[0], 0xff, &bus) || lens[0] != 2 ||
	    ostori_parse_hex(parts[1], lens[1], 0x1f, &dev) || lens[1] != 2 ||
	    ostori_parse_hex(dot + 1, 1, 7, &fn))
		goto bad;
	v->domain = (uint16_t)dom;
	v->bus = (uint8_t)bus;
	v->dev = (uint8_t)dev;
	v->func = (uint8_t)fn;
	return 0;
bad:
	return ostori_error(OSTOR_ERROR_BAD_SPEC,
			    "malformed virtio device spec '%s': use virtio:BB:DD.F or virtio:DDDD:BB:DD.F "
			    "(the PCI address as lspci -D prints it, e.g. virtio:0000:00:04.0)", text);
}

