/*
 * lib/core/spec.c - device spec parsing.
 */
#include "core/internal.h"

#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define SPEC_FORMS "accepted forms: 'sim:[key=value,...]', 'usb:VVVV:PPPP', " \
	"'usb:VVVV:PPPP:SERIAL', 'usb:BUS.DEVNUM', 'virtio:BB:DD.F', 'virtio:DDDD:BB:DD.F'"

int ostori_parse_u64(const char *text, uint64_t max, uint64_t *out)
{
	unsigned long long v;
	char *end;

	if (!text || !*text || isspace((unsigned char)*text) || *text == '-' || *text == '+')
		return OSTOR_ERROR_INVALID_PARAM;
	errno = 0;
	v = strtoull(text, &end, 0);
	if (errno || *end || v > max)
		return OSTOR_ERROR_INVALID_PARAM;
	*out = v;
	return 0;
}

int ostori_parse_size(const char *text, uint64_t *out)
{
	unsigned long long v;
	unsigned shift = 0;
	char *end;

	if (!text || !isdigit((unsigned char)*text))
		return OSTOR_ERROR_INVALID_PARAM;
	errno = 0;
	v = strtoull(text, &end, 10);
	if (errno)
		return OSTOR_ERROR_INVALID_PARAM;
	switch (toupper((unsigned char)*end)) {
	case 'K': shift = 10; end++; break;
	case 'M': shift = 20; end++; break;
	case 'G': shift = 30; end++; break;
	case 'T': shift = 40; end++; break;
	default: break;
	}
	if (shift && (end[0] == 'i' || end[0] == 'I') && toupper((unsigned char)end[1]) == 'B')
		end += 2;
	else if (toupper((unsigned char)end[0]) == 'B')
		end++;
	if (*end)
		return OSTOR_ERROR_INVALID_PARAM;
	if (shift && v > (UINT64_MAX >> shift))
		return OSTOR_ERROR_INVALID_PARAM;
	*out = (uint64_t)v << shift;
	return 0;
}

static int parse_hex4(const char *s, size_t len, uint16_t *out)
{
	unsigned v = 0;

	if (len != 4)
		return -1;
	for (size_t i = 0; i < len; i++) {
		if (!isxdigit((unsigned char)s[i]))
			return -1;
		v = v * 16 + (unsigned)(isdigit((unsigned char)s[i]) ? s[i] - '0'
					 : tolower((unsigned char)s[i]) - 'a' + 10);
	}
	*out = (uint16_t)v;
	return 0;
}

static int parse_hex_field(const char *s, size_t len, unsigned max, unsigned *out)
{
	unsigned v = 0;

	if (len == 0 || len > 4)
		return -1;
	for (size_t i = 0; i < len; i++) {
		if (!isxdigit((unsigned char)s[i]))
			return -1;
		v = v * 16 + (unsigned)(isdigit((unsigned char)s[i]) ? s[i] - '0'
					 : tolower((unsigned char)s[i]) - 'a' + 10);
	}
	if (v > max)
		return -1;
	*out = v;
	return 0;
}

static int parse_sim(const char *text, const char *body, struct ostor_spec *spec)
{
	char *p;

	spec->kind = OSTOR_SPEC_SIM;
	spec->backend = "sim";
	if (strlen(body) >= sizeof(spec->buf))
		return ostori_error(OSTOR_ERROR_BAD_SPEC, "device spec '%.40s...' is too long (at most %d characters)",
				    text, OSTOR_SPEC_MAX_LEN - 1);
	strcpy(spec->buf, body);
	p = spec->buf;
	while (*p) {
		char *comma = strchr(p, ',');
		char *eq;

		if (comma)
			*comma = '\0';
		if (!*p)
			return ostori_error(OSTOR_ERROR_BAD_SPEC,
					    "device spec '%s': empty option (stray comma); options are key=value joined by commas",
					    text);
		if (spec->noptions >= OSTOR_SPEC_MAX_OPTIONS)
			return ostori_error(OSTOR_ERROR_BAD_SPEC, "device spec '%s': more than %d options",
					    text, OSTOR_SPEC_MAX_OPTIONS);
		eq = strchr(p, '=');
		if (eq) {
			*eq = '\0';
			if (!*p || !eq[1])
				return ostori_error(OSTOR_ERROR_BAD_SPEC,
						    "device spec '%s': option '%s=%s' needs both a key and a value",
						    text, p, eq + 1);
		}
		for (int i = 0; i < spec->noptions; i++)
			if (!strcmp(spec->options[i].key, p))
				return ostori_error(OSTOR_ERROR_BAD_SPEC,
						    "device spec '%s': option '%s' given twice", text, p);
		spec->options[spec->noptions].key = p;
		spec->options[spec->noptions].value = eq ? eq + 1 : NULL;
		spec->noptions++;
		if (!comma)
			break;
		p = comma + 1;
		if (!*p)
			return ostori_error(OSTOR_ERROR_BAD_SPEC,
					    "device spec '%s': trailing comma", text);
	}
	return 0;
}

static int parse_usb(const char *text, const char *body, struct ostor_spec *spec)
{
	const char *c1 = strchr(body, ':');

	spec->backend = "usb";
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
		spec->kind = OSTOR_SPEC_USB_BUSDEV;
		spec->bus = (uint8_t)bus;
		spec->devnum = (uint8_t)dev;
		return 0;
	}
	spec->kind = OSTOR_SPEC_USB_ID;
	if (parse_hex4(body, (size_t)(c1 - body), &spec->vendor_id))
		goto bad;
	{
		const char *c2 = strchr(c1 + 1, ':');
		size_t plen = c2 ? (size_t)(c2 - c1 - 1) : strlen(c1 + 1);

		if (parse_hex4(c1 + 1, plen, &spec->product_id))
			goto bad;
		if (c2) {
			if (!c2[1] || strlen(c2 + 1) >= sizeof(spec->serial))
				goto bad;
			strcpy(spec->serial, c2 + 1);
		}
	}
	return 0;
bad:
	return ostori_error(OSTOR_ERROR_BAD_SPEC,
			    "malformed USB device spec '%s': use usb:VVVV:PPPP or usb:VVVV:PPPP:SERIAL "
			    "(4 hex digits each, as lsusb prints ID), or usb:BUS.DEVNUM (decimal, e.g. usb:1.4)",
			    text);
}

static int parse_virtio(const char *text, const char *body, struct ostor_spec *spec)
{
	/* [DDDD:]BB:DD.F */
	const char *parts[3];
	size_t lens[3];
	int n = 0;
	const char *p = body, *dot;
	unsigned dom = 0, bus, dev, fn;

	spec->kind = OSTOR_SPEC_VIRTIO;
	spec->backend = "virtio";
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
		if (parse_hex_field(parts[0], lens[0], 0xffff, &dom) || lens[0] != 4)
			goto bad;
		parts[0] = parts[1]; lens[0] = lens[1];
		parts[1] = parts[2]; lens[1] = lens[2];
	} else if (n != 2) {
		goto bad;
	}
	if (parse_hex_field(parts[0], lens[0], 0xff, &bus) || lens[0] != 2 ||
	    parse_hex_field(parts[1], lens[1], 0x1f, &dev) || lens[1] != 2 ||
	    parse_hex_field(dot + 1, 1, 7, &fn))
		goto bad;
	spec->pci_domain = (uint16_t)dom;
	spec->pci_bus = (uint8_t)bus;
	spec->pci_dev = (uint8_t)dev;
	spec->pci_func = (uint8_t)fn;
	return 0;
bad:
	return ostori_error(OSTOR_ERROR_BAD_SPEC,
			    "malformed virtio device spec '%s': use virtio:BB:DD.F or virtio:DDDD:BB:DD.F "
			    "(the PCI address as lspci -D prints it, e.g. virtio:0000:00:04.0)", text);
}

int ostori_spec_parse(const char *text, struct ostor_spec *spec)
{
	if (!spec)
		return ostori_error(OSTOR_ERROR_INVALID_PARAM, "no spec structure given");
	memset(spec, 0, sizeof(*spec));
	if (!text || !*text)
		return ostori_error(OSTOR_ERROR_BAD_SPEC, "empty device spec; %s", SPEC_FORMS);
	if (!strncmp(text, "sim:", 4))
		return parse_sim(text, text + 4, spec);
	if (!strcmp(text, "sim"))
		return parse_sim(text, "", spec);
	if (!strncmp(text, "usb:", 4))
		return parse_usb(text, text + 4, spec);
	if (!strncmp(text, "virtio:", 7))
		return parse_virtio(text, text + 7, spec);
	return ostori_error(OSTOR_ERROR_BAD_SPEC, "unknown device spec '%s'; %s", text, SPEC_FORMS);
}

const struct ostor_spec_option *ostori_spec_get(struct ostor_spec *spec, const char *key)
{
	for (int i = 0; i < spec->noptions; i++) {
		if (!strcmp(spec->options[i].key, key)) {
			spec->options[i].used = true;
			return &spec->options[i];
		}
	}
	return NULL;
}

int ostori_spec_check_unused(const struct ostor_spec *spec, const char *accepted)
{
	for (int i = 0; i < spec->noptions; i++)
		if (!spec->options[i].used)
			return ostori_error(OSTOR_ERROR_BAD_SPEC,
					    "unknown %s option '%s'; accepted options: %s",
					    spec->backend, spec->options[i].key, accepted);
	return 0;
}
