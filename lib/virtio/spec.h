/*
 * lib/virtio/spec.h - what a virtio: device spec says (a PCI address).
 */
#ifndef OSTOR_VIRTIO_SPEC_H
#define OSTOR_VIRTIO_SPEC_H

#include "core/spec.h"

struct ovirtio_spec {
	uint16_t domain;
	uint8_t bus, dev, func;
};

#define OVIRTIO_SPEC_FORMS "'virtio:BB:DD.F', 'virtio:DDDD:BB:DD.F'"

int ovirtio_spec_parse(const char *text, const char *body, struct ostor_spec *spec);

static inline const struct ovirtio_spec *ovirtio_spec(const struct ostor_spec *spec)
{
	return (const struct ovirtio_spec *)spec->parsed;
}

#endif
