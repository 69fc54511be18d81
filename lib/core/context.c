/*
 * lib/core/context.c - context life cycle, configuration, backends and
 * device enumeration.
 */
#include "core/backend.h"
#include "core/control.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

enum ostor_log_level ostori_env_log_level(enum ostor_log_level fallback);

OSTOR_API const char *const *ostor_backends(void)
{
	return ostori_backend_names;
}

int ostori_backend_index(const struct ostor_backend *backend)
{
	for (int i = 0; ostori_backends[i]; i++)
		if (ostori_backends[i] == backend)
			return i;
	return -1;
}

OSTOR_API int ostor_init(ostor_context **out, const char *config_path)
{
	ostor_context *ctx;
	int r;

	if (!out)
		return ostori_error(OSTOR_ERROR_INVALID_PARAM, "ostor_init: the context pointer is NULL");
	*out = NULL;
	ctx = calloc(1, sizeof(*ctx));
	if (!ctx)
		return ostori_error(OSTOR_ERROR_NO_MEM, "out of memory allocating a context");
	ctx->log_level = ostori_env_log_level(OSTOR_LOG_WARNING);
	ctx->wake_fd = -1;
	pthread_mutex_init(&ctx->lock, NULL);
	pthread_mutex_init(&ctx->event_lock, NULL);
	pthread_mutex_init(&ctx->event_wait_lock, NULL);
	pthread_cond_init(&ctx->event_cond, NULL);

	ostori_config_defaults(&ctx->config);
	r = ostori_config_load(&ctx->config, config_path, ctx);
	if (r < 0)
		goto fail;
	ctx->default_timeout_ms = 30000;

	ctx->wake_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (ctx->wake_fd < 0) {
		r = ostori_error(OSTOR_ERROR_IO, "cannot create an eventfd: %s", strerror(errno));
		goto fail;
	}

	for (int i = 0; ostori_backends[i]; i++) {
		if (!ostori_backends[i]->init)
			continue;
		r = ostori_backends[i]->init(ctx);
		if (r < 0) {
			for (int j = i - 1; j >= 0; j--)
				if (ostori_backends[j]->exit)
					ostori_backends[j]->exit(ctx);
			goto fail;
		}
	}
	ostor_dbg(ctx, "context ready (config '%s')", ctx->config.path);
	*out = ctx;
	return 0;
fail:
	if (ctx->wake_fd >= 0)
		close(ctx->wake_fd);
	pthread_cond_destroy(&ctx->event_cond);
	pthread_mutex_destroy(&ctx->event_wait_lock);
	pthread_mutex_destroy(&ctx->event_lock);
	pthread_mutex_destroy(&ctx->lock);
	free(ctx);
	return r;
}

OSTOR_API void ostor_exit(ostor_context *ctx)
{
	if (!ctx)
		return;
	if (ostori_refuse_in_callback(ctx, "ostor_exit")) {
		/* Nothing is freed: the handler that runs us still uses it. */
		ostor_err(ctx, "%s", ostor_last_error());
		return;
	}
	while (ctx->devices) {
		ostor_device *dev = ctx->devices;

		ostor_warn(ctx, "device %s still open at ostor_exit: closing it", dev->spec);
		if (ostor_close(dev) < 0 && ctx->devices == dev) {
			/* Another thread still holds a queue of it: freeing the
			 * context under that thread would be worse than a leak. */
			ostor_err(ctx, "ostor_exit: %s; the context is left allocated", ostor_last_error());
			return;
		}
	}
	ostori_control_on_close();
	for (int i = 0; ostori_backends[i]; i++)
		if (ostori_backends[i]->exit)
			ostori_backends[i]->exit(ctx);
	ostori_events_free(ctx);
	free(ctx->abort_watch);
	if (ctx->log_free)
		ctx->log_free(ctx->log_user_data);
	close(ctx->wake_fd);
	pthread_cond_destroy(&ctx->event_cond);
	pthread_mutex_destroy(&ctx->event_wait_lock);
	pthread_mutex_destroy(&ctx->event_lock);
	pthread_mutex_destroy(&ctx->lock);
	free(ctx);
}

OSTOR_API const char *ostor_config_path(const ostor_context *ctx)
{
	return ctx ? ctx->config.path : "";
}

OSTOR_API int ostor_config_get(const ostor_context *ctx, const char *table,
			       const char *key, char *buf, size_t buflen)
{
	if (!ctx || !table || !key || !buf || !buflen)
		return ostori_error(OSTOR_ERROR_INVALID_PARAM, "ostor_config_get: NULL argument");
	return ostori_config_get_text(&ctx->config, table, key, buf, buflen);
}

/* ---- enumeration ------------------------------------------------------ */

int ostori_devlist_add(struct ostori_devlist *list, const char *backend,
		       const char *spec, const char *fmt, ...)
{
	ostor_device_info *info;
	char desc[512];
	va_list ap;

	if (list->count + 1 >= list->cap) {
		size_t cap = list->cap ? list->cap * 2 : 8;
		ostor_device_info **items = realloc(list->items, cap * sizeof(*items));

		if (!items)
			return ostori_error(OSTOR_ERROR_NO_MEM, "out of memory listing devices");
		list->items = items;
		list->cap = cap;
	}
	va_start(ap, fmt);
	vsnprintf(desc, sizeof(desc), fmt, ap);
	va_end(ap);
	info = calloc(1, sizeof(*info));
	if (!info || !(info->spec = strdup(spec)) || !(info->description = strdup(desc))) {
		if (info)
			free(info->spec);
		free(info);
		return ostori_error(OSTOR_ERROR_NO_MEM, "out of memory listing devices");
	}
	info->backend = backend;
	list->items[list->count++] = info;
	list->items[list->count] = NULL;
	return 0;
}

OSTOR_API void ostor_free_device_list(ostor_device_info **list)
{
	if (!list)
		return;
	for (size_t i = 0; list[i]; i++) {
		free(list[i]->spec);
		free(list[i]->description);
		free(list[i]);
	}
	free(list);
}

OSTOR_API ssize_t ostor_get_device_list(ostor_context *ctx, ostor_device_info ***out)
{
	struct ostori_devlist list = { 0 };

	if (!ctx || !out)
		return ostori_error(OSTOR_ERROR_INVALID_PARAM, "ostor_get_device_list: NULL argument");
	*out = NULL;
	for (int i = 0; ostori_backends[i]; i++) {
		const struct ostor_backend *be = ostori_backends[i];
		int r;

		if (!be->enumerate)
			continue;
		r = be->enumerate(ctx, &list);
		if (r == OSTOR_ERROR_NO_MEM) {
			ostor_free_device_list(list.items);
			return r;
		}
		/* One backend failing (no USB permissions, no PCI access)
		 * must not hide the others: log and go on. */
		if (r < 0)
			ostor_warn(ctx, "%s devices not listed: %s", be->name, ostor_last_error());
	}
	if (!list.items) {
		list.items = calloc(1, sizeof(*list.items));
		if (!list.items)
			return ostori_error(OSTOR_ERROR_NO_MEM, "out of memory listing devices");
	}
	*out = list.items;
	return (ssize_t)list.count;
}

OSTOR_API const char *ostor_device_info_spec(const ostor_device_info *info)
{
	return info ? info->spec : "";
}

OSTOR_API const char *ostor_device_info_backend(const ostor_device_info *info)
{
	return info ? info->backend : "";
}

OSTOR_API const char *ostor_device_info_description(const ostor_device_info *info)
{
	return info ? info->description : "";
}
