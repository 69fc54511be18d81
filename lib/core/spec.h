/*
 * lib/core/spec.h - device spec strings ("sim:size=1G", "usb:0781:5567",
 * "usb:1.4", "virtio:0000:00:04.0"), parsed in one place so the tools and
 * the library accept exactly the same forms.
 */
#ifndef OSTOR_CORE_SPEC_H
#define OSTOR_CORE_SPEC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define OSTOR_SPEC_MAX_OPTIONS 32
#define OSTOR_SPEC_MAX_LEN 1024

enum ostor_spec_kind {
	OSTOR_SPEC_SIM,
	OSTOR_SPEC_USB_ID,       /* usb:VVVV:PPPP[:SERIAL] */
	OSTOR_SPEC_USB_BUSDEV,   /* usb:BUS.DEVNUM */
	OSTOR_SPEC_VIRTIO        /* virtio:[DDDD:]BB:DD.F */
};

struct ostor_spec_option {
	const char *key;
	const char *value;       /* NULL for a bare flag ("readonly") */
	bool used;               /* set by ostori_spec_get: unused → error */
};

struct ostor_spec {
	enum ostor_spec_kind kind;
	const char *backend;     /* "sim", "usb", "virtio" */
	/* sim */
	struct ostor_spec_option options[OSTOR_SPEC_MAX_OPTIONS];
	int noptions;
	/* usb */
	uint16_t vendor_id, product_id;
	char serial[256];        /* "" when not given */
	uint8_t bus, devnum;
	/* virtio (PCI address) */
	uint16_t pci_domain;
	uint8_t pci_bus, pci_dev, pci_func;

	char buf[OSTOR_SPEC_MAX_LEN]; /* storage for option strings */
};

/* Parse; on error returns OSTOR_ERROR_BAD_SPEC with a message naming the
 * accepted forms. */
int ostori_spec_parse(const char *text, struct ostor_spec *spec);
/* Look up an option (marks it used); NULL if absent.  *present tells a
 * bare flag apart from an absent option. */
const struct ostor_spec_option *ostori_spec_get(struct ostor_spec *spec, const char *key);
/* Error for the first option nobody asked for, listing the accepted ones. */
int ostori_spec_check_unused(const struct ostor_spec *spec, const char *accepted);

/* "64M", "1G", "4096", "1.5G" is rejected (whole units only).  Suffixes:
 * K, M, G, T (powers of 1024), optional trailing "B"/"iB". */
int ostori_parse_size(const char *text, uint64_t *out);
/* Decimal or 0x hex, full-string, range-checked. */
int ostori_parse_u64(const char *text, uint64_t max, uint64_t *out);

#endif
