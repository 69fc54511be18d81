/*
 * lib/usb/quirks.c - per-device workarounds keyed on VID:PID, in the
 * spirit of the kernel's unusual_devs.h, overridable from the
 * configuration file (usb_storage.quirks) and, above that, from
 * $ORIONSTOR_USB_QUIRKS: "VVVV:PPPP:flag+flag,VVVV:PPPP:none".
 */
#include "usb/engine.h"

#include <stdlib.h>
#include <string.h>

struct quirk_entry {
	uint16_t vid, pid;
	uint32_t flags;
	uint32_t max_transfer;
	uint8_t bridge;
};

/* A few well-known offenders (sources: Linux unusual_devs.h; the bridges:
 * smartmontools' drivedb.h, which names the same VID:PID with -d
 * usbjmicron, usbsunplus and usbcypress). */
static const struct quirk_entry builtin[] = {
	{ 0x0781, 0x5406, OUSB_Q_IGNORE_RESIDUE, 0 },            /* SanDisk Cruzer Micro U3 */
	{ 0x090c, 0x1000, OUSB_Q_IGNORE_RESIDUE, 0 },            /* Silicon Motion flash */
	{ 0x0525, 0xa4a5, OUSB_Q_SINGLE_LUN, 0 },                /* Linux file-backed gadget (old) */
	{ 0x0bda, 0x0109, OUSB_Q_SINGLE_LUN | OUSB_Q_NO_SYNC_CACHE, 0 }, /* Realtek card reader */
	{ 0x054c, 0x0010, OUSB_Q_FIX_CAPACITY | OUSB_Q_SINGLE_LUN, 0 }, /* Sony DSC */
	{ 0x04e8, 0x5136, OUSB_Q_MAX_TRANSFER, 65536 },          /* Samsung YP-Z3 */
	{ 0x0930, 0x6545, OUSB_Q_GO_SLOW, 0 },                   /* Toshiba TransMemory */
	{ 0x04b4, 0x6830, 0, 0, OUSB_BRIDGE_CYPRESS },            /* Cypress CY7C68300 (AT2, AT2LP) */
	{ 0x04fc, 0x0c15, 0, 0, OUSB_BRIDGE_SUNPLUS },            /* SunPlus SPDIF215 */
	{ 0x04fc, 0x0c25, 0, 0, OUSB_BRIDGE_SUNPLUS },            /* SunPlus SPDIF225 */
	{ 0x059b, 0x0370, 0, 0, OUSB_BRIDGE_SUNPLUS },            /* Iomega LDHD-UP (Sunplus) */
	{ 0x152d, 0x2329, 0, 0, OUSB_BRIDGE_JMICRON },            /* JMicron JM20329 */
	{ 0x152d, 0x2336, 0, 0, OUSB_BRIDGE_JMICRON },            /* JMicron JM20336 */
	{ 0x152d, 0x2338, 0, 0, OUSB_BRIDGE_JMICRON },            /* JMicron JM20337/8 */
};

/* Indexed by enum ousb_bridge. */
static const char *const bridge_names[] = { "", "jmicron", "sunplus", "cypress" };

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
	{ "sat-12", OUSB_Q_SAT12 },
	{ "no-uas", OUSB_Q_NO_UAS },
	{ "queue-cbw", OUSB_Q_QUEUE_CBW },
	{ "no-merge", OUSB_Q_NO_MERGE },
};

#define QUIRK_NAMES "ignore-residue, fix-capacity, single-lun, no-sync-cache, " \
	"read-capacity-16, ignore-tag, go-slow, sat-12, no-uas, queue-cbw, no-merge, " \
	"max-transfer=BYTES, " \
	"bridge=jmicron|sunplus|cypress, none"

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
			q->bridge = OUSB_BRIDGE_NONE;
			continue;
		}
		if (!strncmp(tok, "bridge=", 7)) {
			size_t i = 1;

			while (i < OSTOR_ARRAY_SIZE(bridge_names) && strcmp(tok + 7, bridge_names[i]))
				i++;
			if (i < OSTOR_ARRAY_SIZE(bridge_names))
				q->bridge = (uint8_t)i;
			else
				return ostori_error(OSTOR_ERROR_CONFIG,
						    "USB quirk %s: expected bridge=jmicron, bridge=sunplus or "
						    "bridge=cypress", tok);
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
		n += (size_t)snprintf(buf + n, len - n, "%smax-transfer=%u", n ? "," : "", q->max_transfer);
	if (q->bridge && q->bridge < OSTOR_ARRAY_SIZE(bridge_names) && n < len)
		snprintf(buf + n, len - n, "%sbridge=%s", n ? "," : "", bridge_names[q->bridge]);
}

int ousb_quirks_health_protocol(const struct ousb_quirks *q)
{
	/* The bridge's own protocol first: those bridges' SAT support, where
	 * they have any, is what the vendor command works around. */
	switch (q->bridge) {
	case OUSB_BRIDGE_JMICRON: return OSTOR_HEALTH_PROTO_JMICRON;
	case OUSB_BRIDGE_SUNPLUS: return OSTOR_HEALTH_PROTO_SUNPLUS;
	case OUSB_BRIDGE_CYPRESS: return OSTOR_HEALTH_PROTO_CYPRESS;
	default: break;
	}
	return q->flags & OUSB_Q_SAT12 ? OSTOR_HEALTH_PROTO_SAT12 : OSTOR_HEALTH_PROTO_AUTO;
}

/* One quirk list: entries "VVVV:PPPP:flag+flag" separated by ',' or ';'.
 * A piece without the VVVV:PPPP: prefix adds flags to the entry before
 * it, so the older "VVVV:PPPP:flag,flag;..." form reads the same.  Every
 * entry is validated; the last one for vid:pid replaces *q. */
static int apply_list(uint16_t vid, uint16_t pid, const char *list, const char *origin,
		      struct ousb_quirks *q)
{
	char *copy, *save = NULL, *item;
	struct ousb_quirks cur = { 0 };
	bool have = false, match = false;
	int r = 0;

	if (!list || !*list)
		return 0;
	copy = strdup(list);
	if (!copy)
		return ostori_error(OSTOR_ERROR_NO_MEM, "out of memory");
	for (item = strtok_r(copy, ",;", &save); item && r == 0; item = strtok_r(NULL, ",;", &save)) {
		unsigned int v, p;
		int used = 0;

		while (*item == ' ' || *item == '\t')
			item++;
		if (!*item)
			continue;
		if (sscanf(item, "%4x:%4x:%n", &v, &p, &used) == 2 && used) {
			if (have && match)
				*q = cur;
			cur = (struct ousb_quirks){ 0 };
			have = true;
			match = v == vid && p == pid;
			item += used;
		} else if (!have || strchr(item, ':')) {
			r = ostori_error(OSTOR_ERROR_CONFIG,
					 "USB quirk entry '%s'%s: expected VVVV:PPPP:FLAG[+FLAG...] (hex ids; "
					 "entries separated by ','; flags: %s)", item, origin, QUIRK_NAMES);
			break;
		}
		for (char *f = item; *f; f++)
			if (*f == '+')
				*f = ',';
		r = ousb_quirks_parse(item, &cur);
		if (r < 0)
			r = ostori_error_wrap(OSTOR_ERROR_CONFIG, "USB quirks%s", origin);
	}
	if (r == 0 && have && match)
		*q = cur;
	free(copy);
	return r;
}

int ousb_quirks_resolve(uint16_t vid, uint16_t pid, const char *config, const char *env,
			struct ousb_quirks *q)
{
	int r;

	memset(q, 0, sizeof(*q));
	for (size_t i = 0; i < OSTOR_ARRAY_SIZE(builtin); i++) {
		if (builtin[i].vid == vid && builtin[i].pid == pid) {
			q->flags = builtin[i].flags;
			q->max_transfer = builtin[i].max_transfer;
			q->bridge = builtin[i].bridge;
		}
	}
	r = apply_list(vid, pid, config, " (usb_storage.quirks in the configuration file)", q);
	if (r == 0)
		r = apply_list(vid, pid, env, " (in $ORIONSTOR_USB_QUIRKS)", q);
	return r;
}

int ousb_quirks_check(const char *list)
{
	struct ousb_quirks q;

	return apply_list(0, 0, list, "", &q);
}

int ousb_quirks_lookup(uint16_t vid, uint16_t pid, const char *env, struct ousb_quirks *q)
{
	return ousb_quirks_resolve(vid, pid, NULL, env, q);
}
