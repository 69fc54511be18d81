/*
 * lib/core/device.c - opening and closing devices, LUN scanning.
 *
 * Live device handles are kept in a process-wide registry so that a
 * double close (or a stale handle) is reported instead of touching freed
 * memory.
 */
#include "core/backend.h"
#include "core/control.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

#define DEVICE_MAGIC 0x4f535444u /* "OSTD" */

static pthread_mutex_t registry_lock = PTHREAD_MUTEX_INITIALIZER;
static ostor_device **registry;
static size_t registry_count, registry_cap;

static int registry_add(ostor_device *dev)
{
	int r = 0;

	pthread_mutex_lock(&registry_lock);
	if (registry_count == registry_cap) {
		size_t cap = registry_cap ? registry_cap * 2 : 16;
		ostor_device **n = realloc(registry, cap * sizeof(*n));

		if (!n) {
			r = OSTOR_ERROR_NO_MEM;
			goto out;
		}
		registry = n;
		registry_cap = cap;
	}
	registry[registry_count++] = dev;
out:
	pthread_mutex_unlock(&registry_lock);
	return r;
}

/* Remove dev; false if it was not a live handle. */
static bool registry_remove(ostor_device *dev)
{
	bool found = false;

	pthread_mutex_lock(&registry_lock);
	for (size_t i = 0; i < registry_count; i++) {
		if (registry[i] == dev) {
			registry[i] = registry[--registry_count];
			found = true;
			break;
		}
	}
	if (registry_count == 0) {
		free(registry);
		registry = NULL;
		registry_cap = 0;
	}
	pthread_mutex_unlock(&registry_lock);
	return found;
}

bool ostori_device_is_live(const ostor_device *dev)
{
	bool found = false;

	pthread_mutex_lock(&registry_lock);
	for (size_t i = 0; i < registry_count; i++)
		if (registry[i] == dev)
			found = true;
	pthread_mutex_unlock(&registry_lock);
	return found;
}

/* The control socket's methods walk the open devices this way; see
 * core/control.h for why that is safe against ostor_close. */
int ostori_control_hold_device(const char *spec, ostor_device **out)
{
	*out = NULL;
	pthread_mutex_lock(&registry_lock);
	for (size_t i = 0; i < registry_count; i++)
		if (!strcmp(registry[i]->spec, spec)) {
			*out = registry[i];
			atomic_fetch_add(&(*out)->control_refs, 1);
			break;
		}
	pthread_mutex_unlock(&registry_lock);
	if (!*out)
		return ostori_error(OSTOR_ERROR_NOT_FOUND, "no device '%s' is open in this process; the "
				    "\"devices\" method lists those that are", spec);
	return 0;
}

void ostori_control_release_device(ostor_device *dev)
{
	atomic_fetch_sub(&dev->control_refs, 1);
}

int ostori_device_foreach(int (*fn)(ostor_device *dev, void *arg), void *arg)
{
	int r = 0;

	pthread_mutex_lock(&registry_lock);
	for (size_t i = 0; i < registry_count && !r; i++)
		r = fn(registry[i], arg);
	pthread_mutex_unlock(&registry_lock);
	return r;
}

static const struct ostor_backend *backend_by_name(const char *name)
{
	for (int i = 0; ostori_backends[i]; i++)
		if (!strcmp(ostori_backends[i]->name, name))
			return ostori_backends[i];
	return NULL;
}

/* Open devices of a class (ctx->lock held). */
static unsigned int count_of_class(ostor_context *ctx, const char *cls)
{
	unsigned int n = 0;

	for (ostor_device *d = ctx->devices; d; d = d->next)
		n += d->count_class && !strcmp(d->count_class, cls);
	return n;
}

OSTOR_API int ostor_open(ostor_context *ctx, const char *text, ostor_device **out)
{
	struct ostor_spec *spec;
	struct ostori_bcache_spec cache_opts;
	unsigned int health_interval_ms = 0;
	const struct ostor_backend *be;
	ostor_device *dev;
	int r;

	if (out)
		*out = NULL;
	if (!ctx || !text || !out)
		return ostori_error(OSTOR_ERROR_INVALID_PARAM, "ostor_open: NULL argument");
	spec = malloc(sizeof(*spec));
	if (!spec)
		return ostori_error(OSTOR_ERROR_NO_MEM, "out of memory");
	r = ostori_spec_parse(text, spec);
	if (r < 0)
		goto out_spec;
	be = backend_by_name(spec->backend);
	if (!be) {
		r = ostori_error(OSTOR_ERROR_NOT_SUPPORTED,
				 "device spec '%s' needs the %s backend, which this build of liborionstor "
				 "does not include (it was configured with --disable-%s)",
				 text, spec->backend, spec->backend);
		goto out_spec;
	}
	dev = calloc(1, sizeof(*dev) + be->device_priv_size);
	if (!dev) {
		r = ostori_error(OSTOR_ERROR_NO_MEM, "out of memory");
		goto out_spec;
	}
	dev->magic = DEVICE_MAGIC;
	/* Latency histograms: off unless the backend's configuration
	 * (performance_monitoring_enabled) turns them on at open. */
	atomic_init(&dev->hist_on, false);
	ostori_stats_init(dev);
	ostori_manage_init(dev);
	dev->ctx = ctx;
	dev->backend = be;
	dev->priv = be->device_priv_size ? (void *)(dev + 1) : NULL;
	dev->spec = strdup(text);
	pthread_mutex_init(&dev->lock, NULL);
	if (!dev->spec) {
		r = ostori_error(OSTOR_ERROR_NO_MEM, "out of memory");
		goto out_dev;
	}
	r = ostori_bcache_spec(text, spec, &cache_opts);
	if (r == 0)
		r = ostori_health_spec(text, spec, &health_interval_ms);
	if (r < 0)
		goto out_dev;
	r = be->open(dev, spec);
	if (r == OSTOR_ERROR_BUSY)
		r = ostori_control_explain_busy(ctx, text, r);
	if (r < 0)
		goto out_dev;
	/* The sim backend checks its options itself; the others take the
	 * cache options only. */
	if (strcmp(be->name, "sim"))
		r = ostori_spec_check_unused(spec, OSTORI_BCACHE_SPEC_OPTIONS ", " OSTORI_HEALTH_SPEC_OPTIONS);
	ostori_bcache_spec_apply(dev, &cache_opts);
	if (health_interval_ms)
		dev->health_interval_ms = health_interval_ms;
	if (r == 0)
		r = ostori_channels_init(dev);
	if (r == 0 && (r = ostori_cmdcache_init(dev, dev->cmd_cache_entries)) < 0)
		ostori_channels_free(dev);
	if (r == 0 && (r = ostori_bcache_open(dev)) < 0) {
		ostori_cmdcache_free(dev);
		ostori_channels_free(dev);
	}
	if (r < 0) {
		be->close(dev);
		goto out_dev;
	}
	r = registry_add(dev);
	if (r < 0) {
		ostori_bcache_close(dev);
		ostori_channels_free(dev);
		ostori_cmdcache_free(dev);
		be->close(dev);
		r = ostori_error(OSTOR_ERROR_NO_MEM, "out of memory");
		goto out_dev;
	}
	pthread_mutex_lock(&ctx->lock);
	if (dev->count_class && count_of_class(ctx, dev->count_class) >= dev->count_limit) {
		unsigned int limit = dev->count_limit;

		pthread_mutex_unlock(&ctx->lock);
		registry_remove(dev);
		ostori_bcache_close(dev);
		ostori_channels_free(dev);
		ostori_cmdcache_free(dev);
		be->close(dev);
		r = ostori_error(OSTOR_ERROR_BUSY, "%s: %u %s device%s already open in this context, the "
				 "limit (%s in orionstor.conf); close one first or raise the limit",
				 text, limit, dev->count_class, limit == 1 ? " is" : "s are", dev->count_key);
		goto out_dev;
	}
	dev->next = ctx->devices;
	ctx->devices = dev;
	pthread_mutex_unlock(&ctx->lock);
	ostor_info(ctx, "opened %s: %s", dev->spec, dev->description);
	free(spec);
	*out = dev;
	/* Monitoring is a convenience: a device that opened stays open. */
	if (ostori_health_monitor_start(dev) < 0)
		ostor_warn(ctx, "%s: %s", dev->spec, ostor_last_error());
	ostori_control_on_open(ctx);
	return 0;
out_dev:
	ostori_stats_free(dev);
	ostori_manage_free(dev);
	pthread_mutex_destroy(&dev->lock);
	free(dev->spec);
	free(dev);
out_spec:
	free(spec);
	return r;
}

int ostori_flush_all(ostor_device *dev);

OSTOR_API int ostor_close(ostor_device *dev)
{
	ostor_context *ctx;
	ostor_device **pp;
	int r, ch_r;

	if (!dev)
		return ostori_error(OSTOR_ERROR_INVALID_PARAM, "ostor_close: NULL device");
	if (!ostori_device_is_live(dev))
		return ostori_error(OSTOR_ERROR_INVALID_PARAM,
				    "ostor_close: not an open device handle (closed twice?)");
	ctx = dev->ctx;
	if ((r = ostori_refuse_in_callback(ctx, "ostor_close")))
		return r;

	/* Flush before refusing new work: the flush itself is I/O. */
	r = ostori_flush_all(dev);

	/* No queue may stay owned (that thread's tasks are its own to reap);
	 * the caller's own is drained and released.  Sets closing. */
	if ((ch_r = ostori_channels_close(dev)) < 0)
		return ch_r;

	/* Cancel what is still in flight and let it finish, so nothing is
	 * left pointing at the device. */
	ostori_device_cancel_all(dev);
	for (;;) {
		unsigned int inflight;

		pthread_mutex_lock(&dev->lock);
		inflight = dev->inflight;
		pthread_mutex_unlock(&dev->lock);
		if (!inflight)
			break;
		ostor_handle_events(ctx, 100);
	}
	/* Run the callbacks of tasks that completed but were not delivered. */
	ostor_handle_events_nonblock(ctx);

	/* Unregister before tearing anything down: the control socket's
	 * methods reach devices only through the registry (core/control.h). */
	registry_remove(dev);
	ostori_health_monitor_stop(dev);
	/* Control methods that wait hold references; none takes a new one
	 * now, and each ends within its timeout. */
	while (atomic_load(&dev->control_refs))
		nanosleep(&(struct timespec){ .tv_nsec = 1000000 }, NULL);
	pthread_mutex_lock(&ctx->lock);
	for (pp = &ctx->devices; *pp; pp = &(*pp)->next) {
		if (*pp == dev) {
			*pp = dev->next;
			break;
		}
	}
	pthread_mutex_unlock(&ctx->lock);

	ostor_task_free(dev->spare_task);
	ostori_block_reqs_free(dev);
	ostori_bcache_release_buffers(dev);
	dev->backend->close(dev);
	ostori_bcache_close(dev);
	ostori_channels_free(dev);
	ostori_cmdcache_free(dev);
	/* After the backend: closing may have posted some. */
	ostori_drop_device_events(dev);
	ostor_info(ctx, "closed %s", dev->spec);
	dev->magic = 0;
	ostori_stats_free(dev);
	ostori_manage_free(dev);
	pthread_mutex_destroy(&dev->lock);
	free(dev->luns);
	free(dev->spec);
	free(dev);
	ostori_control_on_close();
	return r;
}

OSTOR_API ostor_context *ostor_device_context(const ostor_device *dev)
{
	return dev ? dev->ctx : NULL;
}

OSTOR_API const char *ostor_device_spec(const ostor_device *dev)
{
	return dev ? dev->spec : "";
}

OSTOR_API const char *ostor_device_backend(const ostor_device *dev)
{
	return dev ? dev->backend->name : "";
}

OSTOR_API const char *ostor_device_description(const ostor_device *dev)
{
	return dev ? dev->description : "";
}

struct ostori_lun_state *ostori_lun_state(ostor_device *dev, uint32_t target, uint32_t lun)
{
	struct ostori_lun_state *s;

	for (size_t i = 0; i < dev->nluns; i++)
		if (dev->luns[i].target == target && dev->luns[i].lun == lun)
			return &dev->luns[i];
	s = realloc(dev->luns, (dev->nluns + 1) * sizeof(*s));
	if (!s)
		return NULL;
	dev->luns = s;
	s = &dev->luns[dev->nluns++];
	memset(s, 0, sizeof(*s));
	s->target = target;
	s->lun = lun;
	return s;
}

/* ---- device memory ------------------------------------------------------ */

OSTOR_API void *ostor_dma_alloc(ostor_device *dev, size_t size)
{
	if (!dev || !size) {
		ostori_error(OSTOR_ERROR_INVALID_PARAM, "ostor_dma_alloc: %s", dev ? "size 0" : "NULL device");
		return NULL;
	}
	return dev->backend->dma_alloc ? dev->backend->dma_alloc(dev, size) : ostori_page_alloc(size);
}

void *ostori_page_alloc(size_t size)
{
	void *p = aligned_alloc(4096, (size + 4095) & ~(size_t)4095);

	if (!p)
		ostori_error(OSTOR_ERROR_NO_MEM, "out of memory (%zu bytes)", size);
	return p;
}

OSTOR_API void ostor_dma_free(ostor_device *dev, void *p, size_t size)
{
	if (!dev || !p)
		return;
	if (dev->backend->dma_free)
		dev->backend->dma_free(dev, p, size);
	else
		free(p);
}
