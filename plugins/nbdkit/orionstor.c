/*
 * plugins/nbdkit/orionstor.c - nbdkit-orionstor-plugin: any device
 * liborionstor opens (USB mass storage, virtio-scsi over UIO, simulated)
 * as an NBD export, one export per LUN.
 *
 *   nbdkit orionstor device=SPEC [target=T] [lun=L] [cache=MODE] [config=FILE]
 *
 * This file is nbdkit's side only: parameters, the callback table and
 * what each export advertises.  The device is in device.c, the data path
 * in io.c, per-thread queues in thread.c (see nbdkit-orionstor-plugin(1)).
 *
 * Copyright (C) 2026 The liborionstor authors.  LGPL-2.1-or-later.
 */
#include "plugin.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define NBDKIT_API_VERSION 2
#include <nbdkit-plugin.h>

#define THREAD_MODEL NBDKIT_THREAD_MODEL_PARALLEL

static char *device_arg;              /* device= as given */
static char *cache_arg;               /* cache= */
static char *config_arg;              /* config= */
static char *spec;                    /* device= with cache= appended */
static int64_t want_target = -1, want_lun = -1;

static void orionstor_unload(void)
{
	onbd_device_close();
	free(device_arg);
	free(cache_arg);
	free(config_arg);
	free(spec);
}

static int set_string(char **slot, const char *key, const char *value)
{
	if (*slot) {
		nbdkit_error("%s= given twice", key);
		return -1;
	}
	if (!(*slot = strdup(value))) {
		nbdkit_error("out of memory");
		return -1;
	}
	return 0;
}

static int orionstor_config(const char *key, const char *value)
{
	if (!strcmp(key, "device"))
		return set_string(&device_arg, key, value);
	if (!strcmp(key, "config"))
		return set_string(&config_arg, key, value);
	if (!strcmp(key, "cache")) {
		static const char *const modes[] = { "off", "wt", "wb", "write-through", "write-back" };

		for (size_t i = 0; i < sizeof(modes) / sizeof(modes[0]); i++)
			if (!strcmp(value, modes[i]))
				return set_string(&cache_arg, key, value);
		nbdkit_error("cache=%s: the cache modes are off, wt (write-through) and wb (write-back)", value);
		return -1;
	}
	if (!strcmp(key, "target") || !strcmp(key, "lun")) {
		int64_t *slot = key[0] == 't' ? &want_target : &want_lun;
		uint32_t v;

		if (nbdkit_parse_uint32_t(key, value, &v) < 0)
			return -1;
		*slot = v;
		return 0;
	}
	nbdkit_error("unknown parameter '%s': the parameters are device=SPEC, target=N, lun=N, "
		     "cache=off|wt|wb and config=FILE (nbdkit orionstor --help)", key);
	return -1;
}

static int orionstor_config_complete(void)
{
	const char *sep;

	if (!device_arg) {
		nbdkit_error("no device given: add device=SPEC, e.g. device=sim: or device=usb:0781:5567 "
			     "(orionstor list shows the devices)");
		return -1;
	}
	if (!cache_arg) {
		spec = strdup(device_arg);
	} else {
		/* The cache is a device spec option: cache=MODE appends it. */
		if (strstr(device_arg, "cache=")) {
			nbdkit_error("cache=%s and a device spec with its own cache= option: give the mode once",
				     cache_arg);
			return -1;
		}
		sep = device_arg[strlen(device_arg) - 1] == ':' ? "" : ",";
		if (asprintf(&spec, "%s%scache=%s", device_arg, sep, cache_arg) < 0)
			spec = NULL;
	}
	if (!spec) {
		nbdkit_error("out of memory");
		return -1;
	}
	return 0;
}

#define orionstor_config_help \
	"device=<SPEC>     (required) The device: sim:[...], usb:VVVV:PPPP[:SERIAL],\n" \
	"                  usb:BUS.DEV or virtio:[DDDD:]BB:DD.F.\n" \
	"target=<N>        Target of the default export (default 0).\n" \
	"lun=<N>           LUN of the default export (default: the first LUN).\n" \
	"cache=off|wt|wb   The library's block cache (appended to the spec).\n" \
	"config=<FILE>     orionstor.conf to read (\"\" for built-in defaults)."

/* After the fork: the library's threads must be born in the server. */
static int orionstor_after_fork(void)
{
	return onbd_device_open(config_arg, spec, want_target, want_lun);
}

static int orionstor_list_exports(int readonly, int is_tls, struct nbdkit_exports *exports)
{
	(void)readonly;
	(void)is_tls;
	for (size_t i = 0; i < onbd.nluns; i++)
		if (nbdkit_add_export(exports, onbd.luns[i].name, onbd.luns[i].description) < 0)
			return -1;
	return 0;
}

static const char *orionstor_default_export(int readonly, int is_tls)
{
	(void)readonly;
	(void)is_tls;
	return onbd.nluns ? onbd.luns[onbd.default_lun].name : "";
}

/* The handle is the LUN itself: a connection has no state of its own. */
static void *orionstor_open(int readonly)
{
	const char *name = nbdkit_export_name();
	struct onbd_lun *L = onbd_find_lun(name);

	(void)readonly;
	if (!L) {
		nbdkit_error("no export '%s' on %s: the exports are target:lun, e.g. '%s' (nbdinfo --list)",
			     name ? name : "", spec, onbd.nluns ? onbd.luns[0].name : "0:0");
		errno = ENOENT;
		return NULL;
	}
	return L;
}

static int64_t orionstor_get_size(void *h)
{
	struct onbd_lun *L = h;

	return (int64_t)(L->blocks * L->block_size);
}

/* minimum: the logical block (clients that ask then align, and nothing
 * needs a read-modify-write); preferred: the physical block or the
 * optimal transfer granularity; maximum: what one command carries. */
static int orionstor_block_size(void *h, uint32_t *minimum, uint32_t *preferred, uint32_t *maximum)
{
	struct onbd_lun *L = h;
	uint32_t bs = L->block_size, pref = bs;
	uint64_t max = (uint64_t)L->max_transfer_blocks * bs;

	*minimum = *preferred = *maximum = 0;
	if ((bs & (bs - 1)) || bs > 65536)
		return 0;             /* nbdkit wants powers of two: say nothing */
	if (L->physical_block > pref)
		pref = L->physical_block;
	if (L->granularity > pref)
		pref = L->granularity;
	if (pref < 512)
		pref = 512;
	if (pref > (32u << 20))
		pref = 32u << 20;
	if (!max || max >= 0xffffffffu) {
		max = 0xffffffffu;
	} else {
		while (pref > max && pref > bs && pref > 512)
			pref /= 2;
		if (pref > max)
			return 0;
	}
	*minimum = bs;
	*preferred = pref;
	*maximum = (uint32_t)max;
	return 0;
}

static int orionstor_can_write(void *h)
{
	return !((struct onbd_lun *)h)->readonly;
}

static int orionstor_can_flush(void *h)
{
	(void)h;
	return 1;
}

static int orionstor_can_fua(void *h)
{
	(void)h;
	return NBDKIT_FUA_NATIVE;
}

/* One process, one device, one coherent cache: every connection sees
 * every other's writes, and a flush on one covers all. */
static int orionstor_can_multi_conn(void *h)
{
	(void)h;
	return 1;
}

static int orionstor_can_trim(void *h)
{
	return ((struct onbd_lun *)h)->unmap;
}

static int orionstor_can_zero(void *h)
{
	(void)h;
	return 1;
}

/* Refused later (ENOTSUP) if the LUN turns out to have no WRITE SAME. */
static int orionstor_can_fast_zero(void *h)
{
	return atomic_load(&((struct onbd_lun *)h)->write_same) >= 0;
}

static int orionstor_can_extents(void *h)
{
	return ((struct onbd_lun *)h)->lba_status;
}

static int orionstor_pread(void *h, void *buf, uint32_t count, uint64_t offset, uint32_t flags)
{
	return onbd_pread(h, buf, count, offset, flags);
}

static int orionstor_pwrite(void *h, const void *buf, uint32_t count, uint64_t offset, uint32_t flags)
{
	return onbd_pwrite(h, buf, count, offset, flags);
}

static int orionstor_flush(void *h, uint32_t flags)
{
	return onbd_flush(h, flags);
}

static int orionstor_trim(void *h, uint32_t count, uint64_t offset, uint32_t flags)
{
	return onbd_trim(h, count, offset, flags);
}

static int orionstor_zero(void *h, uint32_t count, uint64_t offset, uint32_t flags)
{
	return onbd_zero(h, count, offset, flags);
}

static int orionstor_extents(void *h, uint32_t count, uint64_t offset, uint32_t flags,
			     struct nbdkit_extents *extents)
{
	return onbd_extents(h, count, offset, flags, extents);
}

static struct nbdkit_plugin plugin = {
	.name = "orionstor",
	.longname = "liborionstor: USB mass storage, virtio-scsi and simulated SCSI devices",
	.version = ONBD_VERSION,
	.unload = orionstor_unload,
	.config = orionstor_config,
	.config_complete = orionstor_config_complete,
	.config_help = orionstor_config_help,
	.magic_config_key = "device",
	.after_fork = orionstor_after_fork,
	.list_exports = orionstor_list_exports,
	.default_export = orionstor_default_export,
	.open = orionstor_open,
	.get_size = orionstor_get_size,
	.block_size = orionstor_block_size,
	.can_write = orionstor_can_write,
	.can_flush = orionstor_can_flush,
	.can_fua = orionstor_can_fua,
	.can_multi_conn = orionstor_can_multi_conn,
	.can_trim = orionstor_can_trim,
	.can_zero = orionstor_can_zero,
	.can_fast_zero = orionstor_can_fast_zero,
	.can_extents = orionstor_can_extents,
	.pread = orionstor_pread,
	.pwrite = orionstor_pwrite,
	.flush = orionstor_flush,
	.trim = orionstor_trim,
	.zero = orionstor_zero,
	.extents = orionstor_extents,
	/* Errors come back in errno (onbd_errno picks one NBD knows). */
	.errno_is_preserved = 1,
};

NBDKIT_REGISTER_PLUGIN(plugin)
