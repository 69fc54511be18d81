# lib/core: handles, errors, logging, specs, tasks, events, block helpers.
lib_libostor_private_la_SOURCES += \
	lib/core/backend.h \
	lib/core/bcache.c \
	lib/core/bcache.h \
	lib/core/bcache_io.c \
	lib/core/block.c \
	lib/core/channel.c \
	lib/core/cmdcache.c \
	lib/core/config.c \
	lib/core/config.h \
	lib/core/control.c \
	lib/core/control.h \
	lib/core/control_cache.c \
	lib/core/control_config.c \
	lib/core/control_lookup.c \
	lib/core/control_manage.c \
	lib/core/control_methods.c \
	lib/core/context.c \
	lib/core/device.c \
	lib/core/events.c \
	lib/core/health.c \
	lib/core/health.h \
	lib/core/health_json.c \
	lib/core/internal.h \
	lib/core/log.c \
	lib/core/manage.c \
	lib/core/manage.h \
	lib/core/power.c \
	lib/core/queueing.c \
	lib/core/spec.c \
	lib/core/spec.h \
	lib/core/stats.c \
	lib/core/stats.h \
	lib/core/task.c \
	lib/core/tmf.c \
	lib/core/version.c
