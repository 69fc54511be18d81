/*
 * lib/usb/quirks.c - per-device workarounds keyed on VID:PID, in the
 * spirit of the kernel's unusual_devs.h, overridable with
 * $ORIONSTOR_USB_QUIRKS ("VVVV:PPPP:flag,flag;VVVV:PPPP:none").
 */
#include "usb/engine.h"

#include <stdlib.h>
#include <string.h>

struct quirk_entry {
	uint16_t vid, pid;
	uint32_t flags;
	uint32_t max_transfer;
};

/* A few well-known offenders (sources: Linux unusual_devs.h). */
static const struct quirk_entry builtin[] = {
	{ 0x0781, 0x5406, OUSB_Q_IGNORE_RESIDUE, 0 },            /* SanDisk Cruzer Micro U3 */
	{ 0x090c, 0x1000, OUSB_Q_IGNORE_RESIDUE, 0 },            /* Silicon Motion flash */
	{ 0x0525, 0xa4a5, OUSB_Q_SINGLE_LUN, 0 },                /* Linux file-backed gadget (old) */
	{ 0x0bda, 0x0109, OUSB_Q_SINGLE_LUN | OUSB_Q_NO_SYNC_CACHE, 0 }, /* Realtek card reader */
	{ 0x054c, 0x0010, OUSB_Q_FIX_CAPACITY | OUSB_Q_SINGLE_LUN, 0 }, /* Sony DSC */
	{ 0x04e8, 0x5136, OUSB_Q_MAX_TRANSFER, 65536 },          /* Samsung YP-Z3 */
	{ 0x0930, 0x6545, OUSB_Q_GO_SLOW, 0 },                   /* Toshiba TransMemory */
};

static const struct {
	const char *name;
	uint32_t flag;
} names[] = {
	{ "ignore-residue", OUSB_Q_IGNORE_RESIDUE },
	{ "fix-capacity", OUSB_Q_FIX_CAPACITY },
	{ "single-lun", OUSB_Q_SINGLE_LUN },
	{ "no-sync-cache", OUSB_Q_NO_SYNC_CACHE },
	{ "read-capacity-16", OUSB_Q_READ_CAP_16 },
	{ "ignore-tag", OUSB_Q_IGNORE_TAG },
	{ "go-slow", OUSB_Q_GO_SLOW },
};

#define QUIRK_NAMES "ignore-residue, fix-capacity, single-lun, no-sync-cache, " \
	"read-capacity-16, ignore-tag, go-slow, max-transfer=BYTES, none"

int ousb_quirks_parse(const char *text, struct ousb_quirks *q)
{
	char buf[256], *save = NULL, *tok;

	if (strlen(text) >= sizeof(buf))
		return ostori_error(OSTOR_ERROR_CONFIG, "USB quirk list too long: %s", text);
	strcpy(buf, text);
	for (tok = strtok_r(buf, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
		bool found = false;

		while (*tok == ' ')
			tok++;
		if (!strcmp(tok, "none")) {
			q->flags = 0;
			q->max_transfer = 0;
			continue;
		}
		if (!strncmp(tok, "max-transfer=", 13)) {
			uint64_t v;

			if (ostori_parse_size(tok + 13, &v) < 0 || v < 512 || v > (64u << 20))
				return ostori_error(OSTOR_ERROR_CONFIG,
						    "USB quirk %s: expected max-transfer=BYTES from 512 to 64M", tok);
			q->flags |= OUSB_Q_MAX_TRANSFER;
			q->max_transfer = (uint32_t)v;
			continue;
		}
		for (size_t i = 0; i < OSTOR_ARRAY_SIZE(names); i++) {
			if (!strcmp(tok, names[i].name)) {
				q->flags |= names[i].flag;
				found = true;
			}
		}
		if (!found)
			return ostori_error(OSTOR_ERROR_CONFIG, "unknown USB quirk '%s'; known: %s",
					    tok, QUIRK_NAMES);
	}
	return 0;
}

void ousb_quirks_text(const struct ousb_quirks *q, char *buf, size_t len)
{
	size_t n = 0;

	if (!len)
		return;
	buf[0] = '\0';
	for (size_t i = 0; i < OSTOR_ARRAY_SIZE(names) && n < len; i++)
		if (q->flags & names[i].flag)
			n += (size_t)snprintf(buf + n, len - n, "%s%s", n ? "," : "", names[i].name);
	if ((q->flags & OUSB_Q_MAX_TRANSFER) && n < len)
		snprintf(buf + n, len - n, "%smax-transfer=%u", n ? "," : "", q->max_transfer);
}

int ousb_quirks_lookup(uint16_t vid, uint16_t pid, const char *env, struct ousb_quirks *q)
{
	char *copy, *save = NULL, *item;
	int r = 0;

	memset(q, 0, sizeof(*q));
	for (size_t i = 0; i < OSTOR_ARRAY_SIZE(builtin); i++) {
		if (builtin[i].vid == vid && builtin[i].pid == pid) {
			q->flags = builtin[i].flags;
			q->max_transfer = builtin[i].max_transfer;
		}
	}
	if (!env || !*env)
		return 0;
	copy = strdup(env);
	if (!copy)
		return ostori_error(OSTOR_ERROR_NO_MEM, "out of memory");
	for (item = strtok_r(copy, ";", &save); item && r == 0; item = strtok_r(NULL, ";", &save)) {
		unsigned int v, p;
		int used = 0;

		if (sscanf(item, " %4x:%4x:%n", &v, &p, &used) != 2 || !used) {
			r = ostori_error(OSTOR_ERROR_CONFIG,
					 "USB quirk entry '%s': expected VVVV:PPPP:flag[,flag...] (flags: %s)",
					 item, QUIRK_NAMES);
			break;
		}
		if (v == vid && p == pid) {
			struct ousb_quirks nq = { 0 };

			/* An override replaces the built-in entry. */
			r = ousb_quirks_parse(item + used, &nq);
			if (r == 0)
				*q = nq;
		} else {
			struct ousb_quirks scratch = { 0 };

			r = ousb_quirks_parse(item + used, &scratch); /* validate all */
		}
	}
	free(copy);
	return r;
}
