/*
 * lib/core/config.h - the configuration file (orionstor.conf(5)).
 *
 * A TOML subset: [virtio_scsi] and [usb_storage] tables of key = value
 * lines.  Every key is described once, in the key table of config.c; the
 * parser, the validator, the defaults, ostori_config_get_text() and the
 * consistency test against the man page all work from that table.
 *
 * Self-contained on purpose: core/internal.h includes this header, so it
 * must not include internal.h back.
 */
#ifndef OSTOR_CORE_CONFIG_H
#define OSTOR_CORE_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <orionstor.h>

/* The system-wide file, used when neither an explicit path nor
 * $ORIONSTOR_CONF names one and it exists. */
#define OSTORI_CONFIG_SYSTEM_PATH "/etc/orionstor.conf"
#define OSTORI_CONFIG_ENV "ORIONSTOR_CONF"
#define OSTORI_CONFIG_PATH_MAX 4096
/* Longest text value (usb_storage.quirks), terminator included. */
#define OSTORI_CONFIG_TEXT_MAX 256

/* [virtio_scsi] io_scheduler */
enum ostori_io_scheduler {
	OSTORI_IO_SCHED_NONE = 0,
	OSTORI_IO_SCHED_FIFO,
	OSTORI_IO_SCHED_DEADLINE,
};

/* [virtio_scsi] queue_ring */
enum ostori_queue_ring {
	OSTORI_QUEUE_RING_AUTO = 0,     /* packed when the device offers it */
	OSTORI_QUEUE_RING_SPLIT,
	OSTORI_QUEUE_RING_PACKED,
};

/* [virtio_scsi] queue_completion */
enum ostori_queue_completion {
	OSTORI_QUEUE_COMPLETION_POLLED = 0,
	OSTORI_QUEUE_COMPLETION_INTERRUPT,
};

/* [usb_storage] cache_policy */
enum ostori_cache_policy {
	OSTORI_CACHE_LRU = 0,
	OSTORI_CACHE_LFU,
	OSTORI_CACHE_FIFO,
};

/*
 * Field types follow the key types: integer keys are uint32_t, boolean
 * keys bool, size keys uint64_t (bytes), string keys an enum (int).
 * config.c checks each field's type at compile time.
 */
struct ostor_config {
	struct {
		uint32_t device_max_count;
		uint32_t device_max_targets;
		uint32_t device_max_luns;
		uint32_t device_max_queues;
		uint32_t queue_count;
		uint32_t queue_depth;
		int queue_ring;                                /* enum ostori_queue_ring */
		int queue_completion;                          /* enum ostori_queue_completion */
		bool queue_interrupt_coalescing;
		uint32_t queue_interrupt_coalescing_time;      /* µs */
		uint32_t queue_interrupt_coalescing_threshold; /* completions */
		uint32_t scsi_max_commands;
		uint32_t scsi_command_timeout;                 /* ms */
		uint32_t scsi_retry_count;
		bool scsi_abort_enabled;
		uint64_t read_ahead_size;                      /* bytes */
		bool write_back_cache;
		uint64_t write_back_cache_size;                /* bytes */
		int io_scheduler;                              /* enum ostori_io_scheduler */
		bool direct_io;
		uint64_t shared_memory_size;                   /* bytes */
		bool dma_enabled;
		bool zero_copy_enabled;
		bool batch_processing;
	} virtio_scsi;
	struct {
		uint32_t storage_device_max_count;
		uint32_t storage_device_max_luns;
		uint32_t storage_device_timeout;               /* ms */
		bool storage_device_async_enabled;
		bool scsi_processing_enabled;
		uint32_t scsi_command_cache_size;              /* entries */
		bool scsi_validation_enabled;
		bool multi_lun_support;
		bool cache_enabled;
		bool write_back_cache;
		bool read_ahead_cache;
		uint64_t cache_size;                           /* bytes */
		int cache_policy;                              /* enum ostori_cache_policy */
		bool async_io_enabled;
		bool performance_monitoring_enabled;
		bool smart_monitoring_enabled;
		bool power_management_enabled;
		/* "VVVV:PPPP:flag+flag,...", see ousb_quirks_resolve() */
		char quirks[OSTORI_CONFIG_TEXT_MAX];
	} usb_storage;
	/* Warnings (unknown tables and keys) issued while loading. */
	unsigned int warnings;
	/* The file these values came from; "" for built-in defaults. */
	char path[OSTORI_CONFIG_PATH_MAX];
};

/* Fill every key with its built-in default, warnings 0, path "". */
void ostori_config_defaults(struct ostor_config *cfg);

/*
 * Resolve the file and load it: explicit_path if not NULL, else
 * $ORIONSTOR_CONF if set and non-empty (it must exist), else
 * /etc/orionstor.conf if present, else built-in defaults (path "").
 * On error returns OSTOR_ERROR_CONFIG with the message set (file:line, key
 * and what is accepted) and leaves *cfg untouched.  ctx is used only for
 * warnings and may be NULL.
 */
int ostori_config_load(struct ostor_config *cfg, const char *explicit_path,
		       ostor_context *ctx);

/* Load exactly this file: defaults, then the file's keys.  All or nothing,
 * as above. */
int ostori_config_load_file(struct ostor_config *cfg, const char *path,
			    ostor_context *ctx);

/*
 * A value as text: integers in decimal, sizes in bytes ("256MB" reads
 * "268435456"), booleans "true"/"false", strings unquoted.
 * OSTOR_ERROR_NOT_FOUND for an unknown table or key, OSTOR_ERROR_OVERFLOW
 * when buf is too small (buf then holds "" if buflen > 0).
 */
int ostori_config_get_text(const struct ostor_config *cfg, const char *table,
			   const char *key, char *buf, size_t buflen);

/* Description of one key of the table, for tools and the man-page test. */
struct ostori_config_keyinfo {
	const char *table;
	const char *key;
	const char *type;      /* "integer", "boolean", "string", "size", "text" */
	const char *unit;      /* "milliseconds", "bytes", ... or "" */
	bool pow2;             /* integers: powers of two only */
	char def[32];          /* the default, as it would be written in a file */
	char range[96];        /* "1 to 64", "true or false", "\"lru\", ..." */
	const char *pending;   /* the missing capability when the key has no effect yet, or NULL */
};

/* Number of keys in the table. */
size_t ostori_config_key_count(void);
/* Describe key number index (0 .. count-1); OSTOR_ERROR_NOT_FOUND past
 * the end. */
int ostori_config_key_info(size_t index, struct ostori_config_keyinfo *info);

/* Tests only: replace OSTORI_CONFIG_SYSTEM_PATH (NULL restores it).  Not
 * thread-safe; call before any load. */
void ostori_config_set_system_path(const char *path);

#endif /* OSTOR_CORE_CONFIG_H */
