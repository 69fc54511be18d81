/*
 * orionstor.h - the public API of liborionstor.
 *
 * One transport-neutral SCSI API over USB mass storage, virtio-scsi and
 * simulated devices.  All handles are opaque; every function that can fail
 * returns a negative enum ostor_error and leaves a detailed, thread-local
 * message for ostor_last_error().
 *
 * Copyright (C) 2026 The liborionstor authors.  LGPL-2.1-or-later.
 */
#ifndef ORIONSTOR_H
#define ORIONSTOR_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <sys/uio.h>
#include <poll.h>

#if defined(OSTOR_BUILDING_LIBRARY) && defined(__GNUC__)
#define OSTOR_API __attribute__((visibility("default")))
#else
#define OSTOR_API
#endif

#ifdef __cplusplus
extern "C" {
#endif

#define OSTOR_VERSION_MAJOR 0
#define OSTOR_VERSION_MINOR 1
#define OSTOR_VERSION_MICRO 0

/* ------------------------------------------------------------------ */
/* Errors                                                              */
/* ------------------------------------------------------------------ */

enum ostor_error {
	OSTOR_SUCCESS = 0,
	OSTOR_ERROR_IO = -1,              /* input/output error */
	OSTOR_ERROR_INVALID_PARAM = -2,   /* bad argument from the caller */
	OSTOR_ERROR_ACCESS = -3,          /* permission denied */
	OSTOR_ERROR_NO_DEVICE = -4,       /* device is gone (unplugged, removed) */
	OSTOR_ERROR_NOT_FOUND = -5,       /* no such device, target or LUN */
	OSTOR_ERROR_BUSY = -6,            /* resource busy / in use */
	OSTOR_ERROR_TIMEOUT = -7,         /* operation timed out */
	OSTOR_ERROR_OVERFLOW = -8,        /* more data than the buffer holds */
	OSTOR_ERROR_PROTOCOL = -9,        /* the device broke its protocol */
	OSTOR_ERROR_INTERRUPTED = -10,    /* interrupted / cancelled */
	OSTOR_ERROR_NO_MEM = -11,         /* out of memory */
	OSTOR_ERROR_NOT_SUPPORTED = -12,  /* not supported by device or build */
	OSTOR_ERROR_BAD_SPEC = -13,       /* malformed or unknown device spec */
	OSTOR_ERROR_CONFIG = -14,         /* configuration file error */
	OSTOR_ERROR_SCSI = -15,           /* command failed with a SCSI error */
	OSTOR_ERROR_OUT_OF_RANGE = -16,   /* LBA or length past the end */
	OSTOR_ERROR_WRITE_PROTECTED = -17,/* medium is write protected */
	OSTOR_ERROR_NO_MEDIUM = -18,      /* no medium present */
	OSTOR_ERROR_ABORTED = -19,        /* command aborted */
	OSTOR_ERROR_STATE = -20,          /* wrong state (closed, in flight) */
	OSTOR_ERROR_MISCOMPARE = -21,     /* compared data differ (COMPARE AND WRITE) */
	OSTOR_ERROR_OTHER = -99
};

/* "OSTOR_ERROR_IO" etc.; never NULL. */
OSTOR_API const char *ostor_error_name(int error);
/* A short English description; never NULL. */
OSTOR_API const char *ostor_strerror(int error);
/* The detailed message of the last error on this thread: what failed and
 * what to do about it.  Empty string when nothing failed yet. */
OSTOR_API const char *ostor_last_error(void);

/* ------------------------------------------------------------------ */
/* Structures that grow                                                */
/* ------------------------------------------------------------------ */
/*
 * A struct the library fills and that later versions may extend starts
 * with uint32_t size (liborionstor(3), "Structures that grow"):
 *  - Before the call set .size = sizeof(struct ...): each has an
 *    initializer that does it and zeroes the rest (C99 and C++11), e.g.
 *    struct ostor_lun_info info = OSTOR_LUN_INFO_INIT;
 *  - The library writes only fields that end within .size, never a byte
 *    at or past it: a program built against older headers keeps working
 *    with a newer library.
 *  - On return .size holds the bytes the library filled (where the last
 *    field it wrote ends).  A program built against newer headers than
 *    the library it runs with checks OSTOR_HAS_FIELD() before reading a
 *    field that is newer than the library.
 *  - .size 0, or smaller than the struct's first version, fails with
 *    OSTOR_ERROR_INVALID_PARAM (saying to set .size); nothing is written.
 * struct ostor_event, which the library hands to the event handler, has
 * .size set to what the library filled.  Structs without .size never
 * change: a later version adds functions and structs instead.
 */
/* The _INIT initializers: { .size = sizeof(T) } in C, and the same,
 * value-initialized, in C++ (which has designated initializers only
 * from C++20 on). */
#ifdef __cplusplus
extern "C++" {
template <typename T> inline T ostor_sized_init_()
{
	T v{};

	v.size = sizeof(T);
	return v;
}
}
#define OSTOR_SIZED_INIT_(T) (ostor_sized_init_<T>())
#else
#define OSTOR_SIZED_INIT_(T) { .size = sizeof(T) }
#endif
/* Whether the struct at s (with .size) has field: it ends within .size. */
#define OSTOR_HAS_FIELD(s, field)                                               \
	((size_t)((const char *)&(s)->field - (const char *)(s)) + sizeof((s)->field) <= \
	 (size_t)(s)->size)

/* ------------------------------------------------------------------ */
/* Context, logging, configuration                                     */
/* ------------------------------------------------------------------ */

typedef struct ostor_context ostor_context;
typedef struct ostor_device ostor_device;
typedef struct ostor_task ostor_task;
typedef struct ostor_device_info ostor_device_info;

enum ostor_log_level {
	OSTOR_LOG_NONE = 0,
	OSTOR_LOG_ERROR = 1,
	OSTOR_LOG_WARNING = 2,
	OSTOR_LOG_INFO = 3,
	OSTOR_LOG_DEBUG = 4
};

/*
 * Create a context.  config_path selects the configuration file; NULL means
 * $ORIONSTOR_CONF, else /etc/orionstor.conf if it exists, else built-in
 * defaults; "" means built-in defaults without reading any file.  A
 * configuration error fails the call (OSTOR_ERROR_CONFIG) with file:line in
 * ostor_last_error(); nothing is half-applied.
 * The log level starts from $ORIONSTOR_DEBUG (0..4), default WARNING.
 */
OSTOR_API int ostor_init(ostor_context **ctx, const char *config_path);
/* Close every device still open and free the context. */
OSTOR_API void ostor_exit(ostor_context *ctx);

OSTOR_API void ostor_set_log_level(ostor_context *ctx, enum ostor_log_level level);
OSTOR_API enum ostor_log_level ostor_get_log_level(const ostor_context *ctx);
typedef void (*ostor_log_fn)(ostor_context *ctx, enum ostor_log_level level,
			     const char *function, const char *message,
			     void *user_data);
/* Replace the default logger (stderr).  free_fn (may be NULL) is called on
 * user_data when the callback is replaced or the context is freed. */
OSTOR_API void ostor_set_log_callback(ostor_context *ctx, ostor_log_fn fn,
				      void *user_data,
				      void (*free_fn)(void *user_data));

/* The configuration file in effect ("" for built-in defaults). */
OSTOR_API const char *ostor_config_path(const ostor_context *ctx);
/* Read a configuration value as text, e.g. ("usb_storage", "cache_size"). */
OSTOR_API int ostor_config_get(const ostor_context *ctx, const char *table,
			       const char *key, char *buf, size_t buflen);

/* Library version string, e.g. "0.1.0". */
OSTOR_API const char *ostor_version(void);
/* Names of the compiled-in backends, NULL-terminated. */
OSTOR_API const char *const *ostor_backends(void);

/* ------------------------------------------------------------------ */
/* Enumeration and opening                                             */
/* ------------------------------------------------------------------ */

/*
 * Device specs (the same strings the tools take with -d):
 *   sim:[key=value,...]        simulated SCSI target (see liborionstor(3))
 *   usb:VVVV:PPPP[:SERIAL]     USB mass storage by vendor/product id
 *   usb:BUS.DEVNUM             USB mass storage by bus and device number
 *   virtio:[DDDD:]BB:DD.F      virtio-scsi PCI function bound to UIO
 */

/* List every device of every compiled-in backend.  Returns the number of
 * entries (>= 0) and a NULL-terminated array in *list, or an error. */
OSTOR_API ssize_t ostor_get_device_list(ostor_context *ctx, ostor_device_info ***list);
OSTOR_API void ostor_free_device_list(ostor_device_info **list);
OSTOR_API const char *ostor_device_info_spec(const ostor_device_info *info);
OSTOR_API const char *ostor_device_info_backend(const ostor_device_info *info);
OSTOR_API const char *ostor_device_info_description(const ostor_device_info *info);

OSTOR_API int ostor_open(ostor_context *ctx, const char *spec, ostor_device **dev);
/*
 * Flush every LUN that was written, complete in-flight tasks as aborted and
 * free the device.  Returns the first flush error (sticky errors included):
 * the device is closed either way.  Closing a handle twice is detected and
 * returns OSTOR_ERROR_INVALID_PARAM.
 */
OSTOR_API int ostor_close(ostor_device *dev);

OSTOR_API ostor_context *ostor_device_context(const ostor_device *dev);
OSTOR_API const char *ostor_device_spec(const ostor_device *dev);
OSTOR_API const char *ostor_device_backend(const ostor_device *dev);
OSTOR_API const char *ostor_device_description(const ostor_device *dev);

/* Never grows: an array element (its size is the array's stride). */
struct ostor_lun_addr {
	uint32_t target;
	uint32_t lun;
};

/* Scan the device (REPORT LUNS with an INQUIRY fallback on each target)
 * and return the addressable LUNs, sorted.  *luns is malloc'ed: free() it. */
OSTOR_API int ostor_device_luns(ostor_device *dev, struct ostor_lun_addr **luns,
				size_t *count);

/* ------------------------------------------------------------------ */
/* Tasks: transport-neutral SCSI commands                              */
/* ------------------------------------------------------------------ */

#define OSTOR_CDB_MAX 32
#define OSTOR_SENSE_MAX 252

enum ostor_dir {
	OSTOR_DIR_NONE = 0,
	OSTOR_DIR_FROM_DEVICE = 1,  /* data-in (READ) */
	OSTOR_DIR_TO_DEVICE = 2     /* data-out (WRITE) */
};

/* What became of a task, transport-neutral. */
enum ostor_result {
	OSTOR_RESULT_PENDING = -1,          /* not completed yet */
	OSTOR_RESULT_GOOD = 0,              /* SCSI GOOD (or CONDITION MET) */
	OSTOR_RESULT_CHECK_CONDITION = 1,   /* sense data is valid */
	OSTOR_RESULT_BUSY = 2,              /* BUSY or TASK SET FULL */
	OSTOR_RESULT_RESERVATION_CONFLICT = 3,
	OSTOR_RESULT_TRANSPORT_ERROR = 4,   /* the transport failed the command */
	OSTOR_RESULT_TIMEOUT = 5,
	OSTOR_RESULT_ABORTED = 6,           /* aborted, cancelled or reset */
	OSTOR_RESULT_DEVICE_GONE = 7,       /* device or LUN removed */
	OSTOR_RESULT_OTHER_STATUS = 8,      /* another SCSI status (see status) */
	/* The device had more data than the buffer holds: what arrived is
	 * ostor_task_transferred() (0 when the transport refused the command
	 * as a whole, as virtio-scsi does). */
	OSTOR_RESULT_OVERRUN = 9
};
OSTOR_API const char *ostor_result_name(int result);

typedef void (*ostor_task_fn)(ostor_task *task, void *user_data);
/* A completion: callback runs once when the task completes, from inside
 * ostor_handle_events*() on the thread handling events (never from inside
 * ostor_task_submit).  free, if set, is called on user_data when the
 * completion will no longer be used: after the callback, or when submit
 * fails.  Passed by value, it never grows: a new kind of callback comes
 * with new functions (as in libnbd). */
struct ostor_completion {
	ostor_task_fn callback;
	void *user_data;
	void (*free)(void *user_data);
};

/* Tasks are allocated once and reused: submitting one allocates nothing. */
OSTOR_API int ostor_task_new(ostor_device *dev, ostor_task **task);
/* Freeing a task in flight is refused (OSTOR_ERROR_STATE). */
OSTOR_API int ostor_task_free(ostor_task *task);
/* Clear a completed task's results and buffers to reuse it. */
OSTOR_API int ostor_task_reset(ostor_task *task);

OSTOR_API int ostor_task_set_lun(ostor_task *task, uint32_t target, uint32_t lun);
OSTOR_API int ostor_task_set_cdb(ostor_task *task, const uint8_t *cdb, size_t len);
/* One buffer (len may be 0 with dir NONE).  The buffer must stay valid
 * until completion; the library does not copy it (zero-copy). */
OSTOR_API int ostor_task_set_buffer(ostor_task *task, enum ostor_dir dir,
				    void *buf, size_t len);
/* ostor_task_reset, _set_lun, _set_cdb and _set_buffer in one call, for
 * code that submits many commands: the timeout returns to the default. */
OSTOR_API int ostor_task_prepare(ostor_task *task, uint32_t target, uint32_t lun,
				 const uint8_t *cdb, size_t cdb_len, enum ostor_dir dir,
				 void *buf, size_t len);
/* A scatter list; the array itself is copied (at most OSTOR_IOV_MAX). */
#define OSTOR_IOV_MAX 64
OSTOR_API int ostor_task_set_iov(ostor_task *task, enum ostor_dir dir,
				 const struct iovec *iov, int iovcnt);
/* Timeout in milliseconds; 0 means the context default. */
OSTOR_API int ostor_task_set_timeout(ostor_task *task, unsigned int timeout_ms);

OSTOR_API int ostor_task_submit(ostor_task *task, struct ostor_completion completion);
/* Request cancellation; the task still completes (OSTOR_RESULT_ABORTED if
 * the cancel won the race).  Any thread; OSTOR_ERROR_STATE once the task
 * is no longer in flight. */
OSTOR_API int ostor_task_cancel(ostor_task *task);
/*
 * Task management.  ostor_task_abort() stops one command in flight and
 * waits (at most about a minute) for its fate: OSTOR_TMF_DONE (aborted),
 * OSTOR_TMF_ESCALATED (aborted, by a reset of the transport: Bulk-Only
 * and CB/CBI have no per-command abort), OSTOR_TMF_COMMAND_COMPLETED (it
 * had completed, or completed anyway) or OSTOR_TMF_UNKNOWN (the device
 * did not give it back in time; it still completes once, later).  The
 * resets return OSTOR_TMF_DONE, or OSTOR_TMF_ESCALATED when the
 * transport did a larger reset instead (virtio-scsi: LOGICAL UNIT RESET
 * and I_T NEXUS RESET on the control queue, then a device reset; USB: the
 * class-specific reset recovery for any level).  Commands a reset ended
 * complete once each, as aborted.  All are synchronous: not from inside a
 * callback (OSTOR_ERROR_STATE).
 */
enum ostor_tmf_outcome {
	OSTOR_TMF_DONE = 0,
	OSTOR_TMF_ESCALATED = 1,
	OSTOR_TMF_COMMAND_COMPLETED = 2,
	OSTOR_TMF_UNKNOWN = 3,
};
enum ostor_reset_level {
	OSTOR_RESET_LUN = 1,
	OSTOR_RESET_TARGET,
	OSTOR_RESET_DEVICE,
};
OSTOR_API int ostor_task_abort(ostor_task *task);
OSTOR_API int ostor_reset(ostor_device *dev, enum ostor_reset_level level, uint32_t target,
			  uint32_t lun);
OSTOR_API const char *ostor_tmf_outcome_name(int outcome);

/* ------------------------------------------------------------------ */
/* Statistics (always counted; latency histograms when switched on)    */
/* ------------------------------------------------------------------ */

/* Kinds of command, by opcode. */
enum ostor_io_kind {
	OSTOR_IO_OTHER = 0,    /* everything not below */
	OSTOR_IO_READ,         /* READ(6/10/12/16) */
	OSTOR_IO_WRITE,        /* WRITE(6/10/12/16), WRITE SAME, COMPARE AND WRITE, WRITE AND VERIFY */
	OSTOR_IO_FLUSH,        /* SYNCHRONIZE CACHE(10/16) */
	OSTOR_IO_UNMAP,        /* UNMAP */
	OSTOR_IO_KINDS
};
OSTOR_API const char *ostor_io_kind_name(int kind);

/* Latency of one kind of command, from a log-linear histogram: each
 * percentile is the upper bound of the bucket it falls in (buckets are
 * at most 6.25% wide). */
struct ostor_latency {
	uint64_t count;
	uint64_t min_ns, mean_ns, p50_ns, p90_ns, p99_ns, p999_ns, max_ns;
};

enum ostor_stats_scope {
	OSTOR_STATS_DEVICE = 0,  /* everything */
	OSTOR_STATS_TARGET,      /* one target: id */
	OSTOR_STATS_LUN,         /* one LUN: id (target) and lun */
	OSTOR_STATS_QUEUE,       /* one queue: id (see ostor_queue_count); -1 the shared path */
};

/* Counts since ostor_open or the last ostor_stats_reset.  Grows: declare
 * it with OSTOR_STATS_INIT (see "Structures that grow"). */
struct ostor_stats {
	uint32_t size;
	uint32_t queues;                      /* queues summed up */
	uint64_t elapsed_ns;                  /* since open or reset */
	uint64_t commands[OSTOR_IO_KINDS];
	uint64_t bytes[OSTOR_IO_KINDS];       /* transferred */
	uint64_t results[10];                 /* by enum ostor_result, GOOD .. OVERRUN */
	/* Device-wide events (the same in every scope). */
	uint64_t retries, aborts, queue_full_waits;
	uint64_t resets[4];                   /* by enum ostor_reset_level */
	/* Queue depth, summed over the queues of the scope: now, the largest
	 * since reset (each queue's, added up) and, with histograms on, the
	 * time-weighted average; utilisation (0..1) is the share of time the
	 * busiest queue had commands in flight.  Measured at the completion
	 * batches. */
	uint32_t depth, depth_max;
	double depth_avg, utilisation;
	uint64_t batches;                     /* completion batches */
	int histograms;                       /* the latencies below are valid */
	struct ostor_latency latency[OSTOR_IO_KINDS];
};
#define OSTOR_STATS_INIT OSTOR_SIZED_INIT_(struct ostor_stats)

OSTOR_API int ostor_stats_get(ostor_device *dev, enum ostor_stats_scope scope, int id, uint32_t lun,
			      struct ostor_stats *stats);
/* Start counting again from zero (every scope). */
OSTOR_API int ostor_stats_reset(ostor_device *dev);
/* Latency histograms on (1) or off (0); -1 only asks.  Returns the
 * previous state.  Set at open from performance_monitoring_enabled. */
OSTOR_API int ostor_stats_histograms(ostor_device *dev, int enable);
/* Counters of the transport (notifications, URBs, stalls, faults...):
 * fills at most max name/value pairs and returns how many there are. */
struct ostor_counter {
	const char *name;     /* static */
	uint64_t value;
};
OSTOR_API int ostor_transport_counters(ostor_device *dev, struct ostor_counter *counters, int max);
/* Everything above as one JSON document (see liborionstor(3)): free()
 * the string.  NULL with the error set on failure. */
OSTOR_API char *ostor_stats_json(ostor_device *dev);

/* Submit and wait.  Returns 0 when the task completed (whatever its
 * result: look at ostor_task_result), or a negative error when it could
 * not be submitted.  From inside a completion callback of the same
 * context (as every call that waits for events): OSTOR_ERROR_STATE. */
OSTOR_API int ostor_task_execute(ostor_task *task);

OSTOR_API ostor_device *ostor_task_device(const ostor_task *task);
OSTOR_API enum ostor_result ostor_task_result(const ostor_task *task);
/* SCSI status byte (0x00 GOOD, 0x02 CHECK CONDITION, ...), or -1 when the
 * transport never delivered one. */
OSTOR_API int ostor_task_status(const ostor_task *task);
/* Sense bytes actually received (bounded by OSTOR_SENSE_MAX). */
OSTOR_API const uint8_t *ostor_task_sense(const ostor_task *task, size_t *len);
/* Bytes requested but not transferred, and bytes transferred. */
OSTOR_API size_t ostor_task_residual(const ostor_task *task);
OSTOR_API size_t ostor_task_transferred(const ostor_task *task);
/* The error code matching the result (0 for GOOD), with a message for
 * ostor_last_error() describing status and sense. */
OSTOR_API int ostor_task_error(const ostor_task *task);

/* ------------------------------------------------------------------ */
/* Event handling (outside event loops)                                */
/* ------------------------------------------------------------------ */

/* Fill fds with the descriptors to poll; returns how many are needed (it
 * may be more than max: call again with a larger array). */
OSTOR_API int ostor_get_pollfds(ostor_context *ctx, struct pollfd *fds, int max);
/* Milliseconds until the library needs ostor_handle_events_nonblock()
 * even without fd activity: -1 none, 0 now. */
OSTOR_API int ostor_next_timeout(ostor_context *ctx);
/* Process whatever is ready without blocking; runs completion callbacks. */
OSTOR_API int ostor_handle_events_nonblock(ostor_context *ctx);
/* Wait up to timeout_ms (-1: until at least one completion) and process. */
OSTOR_API int ostor_handle_events(ostor_context *ctx, int timeout_ms);
/* Number of tasks in flight on the context. */
OSTOR_API unsigned int ostor_inflight(ostor_context *ctx);

/* ------------------------------------------------------------------ */
/* Queues owned by threads (the fast path; like SPDK's channels)       */
/* ------------------------------------------------------------------ */
/*
 * Every device has one or more queues (virtio-scsi: its request queues;
 * sim: queues=N; USB: one).  A thread that acquires a queue owns it: the
 * tasks it submits to that device go to its queue, it submits and reaps
 * them without any lock, and their callbacks run on this thread, inside
 * ostor_queue_poll() (or ostor_handle_events*() called on it).  Threads
 * that own no queue use the shared path: any thread handling events runs
 * their callbacks.  The rules:
 *  - One owner per queue; acquiring a queue another thread holds fails
 *    with OSTOR_ERROR_BUSY.  A thread holds at most one queue per device
 *    (acquiring another releases the first) and queues of at most 8
 *    devices.
 *  - The owner polls: its tasks complete only in its own ostor_queue_poll
 *    (or its synchronous calls, which poll for it).
 *  - ostor_queue_release() waits until the thread's tasks on the queue
 *    have completed and their callbacks ran.  A thread that exits holding
 *    queues releases them the same way.  ostor_close() refuses
 *    (OSTOR_ERROR_BUSY) while another thread holds a queue of the device,
 *    and releases the caller's own after cancelling its tasks.
 *  - ostor_task_cancel() of a task on another thread's queue only asks:
 *    the owner passes the request on in its next poll.
 */
/* Number of queues of the device. */
OSTOR_API int ostor_queue_count(ostor_device *dev);
/* Bind the calling thread to queue index (-1: the first one no thread
 * holds).  Returns the index. */
OSTOR_API int ostor_queue_acquire(ostor_device *dev, int index);
/* Give the calling thread's queue of dev back (after its tasks). */
OSTOR_API void ostor_queue_release(ostor_device *dev);
/* Owner only: reap the calling thread's queue and run the callbacks of its
 * completed tasks here.  Returns how many completed, OSTOR_ERROR_STATE when
 * the thread holds no queue of dev. */
OSTOR_API int ostor_queue_poll(ostor_device *dev);

/* ------------------------------------------------------------------ */
/* Block helpers                                                       */
/* ------------------------------------------------------------------ */

enum ostor_peripheral_type {
	OSTOR_TYPE_DISK = 0x00,
	OSTOR_TYPE_TAPE = 0x01,
	OSTOR_TYPE_CDROM = 0x05,
	OSTOR_TYPE_OPTICAL = 0x07,
	OSTOR_TYPE_RBC = 0x0e,
	OSTOR_TYPE_UNKNOWN = 0x1f
};
/* "disk", "cdrom", ... */
OSTOR_API const char *ostor_peripheral_type_name(int type);

/* Grows ("Structures that grow" above): declare it with
 * OSTOR_LUN_INFO_INIT, or set .size = sizeof(struct ostor_lun_info). */
struct ostor_lun_info {
	uint32_t size;                /* in: sizeof; out: bytes filled */
	uint32_t target;
	uint32_t lun;
	int peripheral_type;          /* enum ostor_peripheral_type */
	char vendor[9];               /* trimmed of padding */
	char product[17];
	char revision[5];
	char serial[65];              /* VPD 80h, "" if none */
	int removable;
	int medium_present;
	int write_protected;
	uint32_t block_size;          /* 0 when no medium */
	uint64_t blocks;              /* number of logical blocks */
	uint32_t max_transfer_blocks; /* per command, after all limits */
	int thin_provisioned;
};
#define OSTOR_LUN_INFO_INIT OSTOR_SIZED_INIT_(struct ostor_lun_info)

/* Discover identity and capacity (READ CAPACITY(10), then (16) when the
 * answer saturates or the device asks for it), the write-protect bit
 * (MODE SENSE) and the transfer limit (Block Limits VPD and backend).
 * *info is left as it was when the call fails. */
OSTOR_API int ostor_lun_info(ostor_device *dev, uint32_t target, uint32_t lun,
			     struct ostor_lun_info *info);
/* Memory the device reaches without a copy: the hugepage pool of a
 * virtio-scsi function, usbfs memory of a USB device where the kernel
 * offers it (else heap memory), page-aligned heap memory for the others.
 * Commands whose buffers lie there are not bounced.  NULL (error set)
 * when none is left.  Free it with ostor_dma_free on the same device,
 * before ostor_close. */
OSTOR_API void *ostor_dma_alloc(ostor_device *dev, size_t size);
OSTOR_API void ostor_dma_free(ostor_device *dev, void *buf, size_t size);
/* Read/write whole blocks; split at the transfer limit, bounds-checked
 * against the capacity, READ/WRITE(10) or (16) as the LBA needs.  A write
 * returns 0 only when the device confirmed every block. */
OSTOR_API int ostor_read_blocks(ostor_device *dev, uint32_t target, uint32_t lun,
				uint64_t lba, uint32_t count, void *buf);
OSTOR_API int ostor_write_blocks(ostor_device *dev, uint32_t target, uint32_t lun,
				 uint64_t lba, uint32_t count, const void *buf);
/*
 * Asynchronous block I/O, checked and split as the calls above (which are
 * built on these).  Returns 0 when submitted: the callback then runs
 * exactly once, inside ostor_handle_events*(), with 0 when the device
 * confirmed every block or the negative error the synchronous call would
 * return (ostor_last_error() holds its message inside the callback); a
 * negative return means nothing was submitted and the callback will not
 * run (.free still does).  count must not be 0.  The buffers stay the
 * caller's until the callback; the iovec array itself is copied (at most
 * OSTOR_IOV_MAX segments, together exactly count blocks).  The first
 * request on a LUN learns its capacity synchronously; call
 * ostor_lun_info() first where that matters (from a completion callback
 * it must already be known).
 */
struct ostor_block_completion {
	void (*callback)(ostor_device *dev, int result, void *user_data);
	void *user_data;
	void (*free)(void *user_data);  /* after the callback, or a failed submit */
};
/* (Passed by value, struct ostor_block_completion never grows, as struct
 * ostor_completion.) */
OSTOR_API int ostor_read_blocks_async(ostor_device *dev, uint32_t target, uint32_t lun,
				      uint64_t lba, uint32_t count, void *buf,
				      struct ostor_block_completion done);
OSTOR_API int ostor_write_blocks_async(ostor_device *dev, uint32_t target, uint32_t lun,
				       uint64_t lba, uint32_t count, const void *buf,
				       struct ostor_block_completion done);
OSTOR_API int ostor_readv_blocks_async(ostor_device *dev, uint32_t target, uint32_t lun,
				       uint64_t lba, uint32_t count, const struct iovec *iov,
				       int iovcnt, struct ostor_block_completion done);
OSTOR_API int ostor_writev_blocks_async(ostor_device *dev, uint32_t target, uint32_t lun,
					uint64_t lba, uint32_t count, const struct iovec *iov,
					int iovcnt, struct ostor_block_completion done);
/* Deallocate blocks with UNMAP (split at the Block Limits VPD);
 * OSTOR_ERROR_NOT_SUPPORTED when the Logical Block Provisioning VPD says
 * the LUN has no UNMAP (LBPU). */
OSTOR_API int ostor_unmap_blocks(ostor_device *dev, uint32_t target, uint32_t lun,
				 uint64_t lba, uint64_t count);
/* Zero blocks: WRITE SAME(16) of a zero block (with its UNMAP bit when
 * unmap is set and the LUN deallocates that way, LBPWS), split at the
 * Block Limits; plain writes of zeros where WRITE SAME is refused. */
OSTOR_API int ostor_write_zeroes(ostor_device *dev, uint32_t target, uint32_t lun,
				 uint64_t lba, uint64_t count, int unmap);
/* VERIFY(16) without data (BYTCHK 0): the device checks it can read the
 * blocks; a medium error comes back as OSTOR_ERROR_IO. */
OSTOR_API int ostor_verify_blocks(ostor_device *dev, uint32_t target, uint32_t lun,
				  uint64_t lba, uint64_t count);
/* COMPARE AND WRITE, one command (never split: the compare would no
 * longer be atomic with the write): the device compares count blocks at
 * lba with compare and, only when all of them match, writes write there
 * (count blocks each).  OSTOR_ERROR_MISCOMPARE when they differ: nothing
 * was written, and *miscompare_offset (may be NULL) gets the byte offset
 * of the first difference in compare (UINT32_MAX when the device did not
 * say).  count is 1 to the Block Limits VPD's MAXIMUM COMPARE AND WRITE
 * LENGTH (and what the transport moves in one command: twice the blocks),
 * else OSTOR_ERROR_INVALID_PARAM; OSTOR_ERROR_NOT_SUPPORTED when the LUN
 * reports 0 there or has no such page. */
OSTOR_API int ostor_compare_and_write(ostor_device *dev, uint32_t target, uint32_t lun,
				      uint64_t lba, uint32_t count, const void *compare,
				      const void *write, uint32_t *miscompare_offset);
/* Write out what the block cache holds dirty for the LUN, then
 * SYNCHRONIZE CACHE; 0 only when the device confirmed both.  A failure is
 * sticky: every later flush (and ostor_close) reports it again until
 * ostor_flush_acknowledge — so is the loss of cached data that never
 * reached the device (OSTOR_EVENT_CACHE_DATA_LOST). */
OSTOR_API int ostor_flush(ostor_device *dev, uint32_t target, uint32_t lun);
/* The application has dealt with the loss a sticky flush error reported
 * (rewrote the data, or gave it up): clear it, so the next flush reports
 * only what happens from now on.  Cached lines whose write-out failed stay
 * dirty and are written out again by that flush.  target and lun may be
 * OSTOR_EVENT_ALL.  Returns the error cleared (0 when there was none). */
OSTOR_API int ostor_flush_acknowledge(ostor_device *dev, uint32_t target, uint32_t lun);

/*
 * The block cache (liborionstor(3) "Block cache"): per device, under the
 * block helpers and the task API alike.  Configured by each transport's
 * keys in orionstor.conf(5) and the device spec's cache options.
 */
enum ostor_cache_mode {
	OSTOR_CACHE_OFF = 0,
	OSTOR_CACHE_WRITE_THROUGH,
	OSTOR_CACHE_WRITE_BACK,
};
/* "off", "write-through", "write-back". */
OSTOR_API const char *ostor_cache_mode_name(int mode);
/* Grows ("Structures that grow"): declare it with OSTOR_CACHE_INFO_INIT. */
struct ostor_cache_info {
	uint32_t size;                    /* in: sizeof; out: bytes filled */
	int mode;                         /* enum ostor_cache_mode */
	char policy[8];                   /* "lru", "lfu", "fifo" */
	uint32_t line_size;               /* bytes per cache line */
	int sticky_error;                 /* what every flush reports until acknowledged, or 0 */
	uint64_t capacity_bytes;          /* the memory bound (lines, metadata, buffers) */
	uint64_t dirty_limit_bytes;       /* writes wait beyond it */
	uint64_t read_ahead_max_bytes;    /* 0: no read-ahead */
	uint64_t used_bytes, dirty_bytes; /* in lines now */
	uint64_t writeout_inflight_bytes; /* being written out now */
	uint64_t read_hits, read_misses;  /* read commands answered wholly by the cache, or not */
	uint64_t read_ahead_bytes;        /* read ahead from the device */
	uint64_t read_ahead_used_bytes;   /* of those, read by the application */
	uint64_t read_ahead_wasted_bytes; /* evicted or dropped unread */
	uint64_t writes_absorbed;         /* write commands completed from the cache */
	uint64_t writes_through;          /* write commands that went to the device */
	uint64_t writeouts, writeout_bytes, writeout_errors;
	uint64_t evictions;               /* lines */
	uint64_t lost_ranges, lost_bytes; /* dirty data dropped (OSTOR_EVENT_CACHE_DATA_LOST) */
};
#define OSTOR_CACHE_INFO_INIT OSTOR_SIZED_INIT_(struct ostor_cache_info)
/* The cache of one LUN, or of the whole device with target and lun
 * OSTOR_EVENT_ALL (sticky_error: the first LUN's that has one).  A device
 * without a cache reports mode OSTOR_CACHE_OFF and zeros. */
OSTOR_API int ostor_cache_info(ostor_device *dev, uint32_t target, uint32_t lun,
			       struct ostor_cache_info *info);
/* ostor_cache_drop flags */
#define OSTOR_CACHE_DROP_DIRTY 1u  /* drop dirty data too: reported as lost */
/* Drop the cached lines of a LUN (or every LUN, OSTOR_EVENT_ALL).  With
 * dirty data OSTOR_ERROR_BUSY, nothing dropped, unless
 * OSTOR_CACHE_DROP_DIRTY: then it is lost as after an invalidating event
 * (event, error log, statistics, sticky flush error).  Lines being written
 * out or filled are left to finish. */
OSTOR_API int ostor_cache_drop(ostor_device *dev, uint32_t target, uint32_t lun, unsigned int flags);

/*
 * Device events: what changed under an open device, from virtio-scsi
 * events, USB hot-plug and the unit attentions the block helpers see.
 * The handler runs inside ostor_handle_events*() on the thread handling
 * events, as completions do (the same re-entrancy rules).  Without a
 * handler events are not kept.  target or lun OSTOR_EVENT_ALL: every one
 * (OSTOR_EVENT_LUNS_CHANGED for all targets also stands for events that
 * were lost: rescan everything).
 */
enum ostor_event_type {
	OSTOR_EVENT_LUN_ADDED = 1,        /* target, lun appeared */
	OSTOR_EVENT_LUN_REMOVED,          /* target, lun is gone */
	OSTOR_EVENT_CAPACITY_CHANGED,     /* re-read it with ostor_lun_info */
	OSTOR_EVENT_MEDIUM_CHANGED,       /* removable medium inserted or swapped */
	OSTOR_EVENT_LUNS_CHANGED,         /* the LUN inventory of target changed */
	OSTOR_EVENT_DEVICE_RESET,         /* reset: commands in flight were aborted */
	OSTOR_EVENT_DEVICE_GONE,          /* unplugged or removed: close it */
	OSTOR_EVENT_CACHE_DATA_LOST,      /* dirty cached blocks lba..lba+blocks-1 never reached the device */
	OSTOR_EVENT_HEALTH_CHANGED,       /* SMART monitoring: the verdict or a prefail attribute changed
					   * (asc 1: now failing, 0: better again); read ostor_health_get */
};
#define OSTOR_EVENT_ALL UINT32_MAX
/* Grows: .size is what the library filled ("Structures that grow"); a
 * handler built against newer headers checks OSTOR_HAS_FIELD(event, f)
 * before reading a field f its library may not have. */
struct ostor_event {
	uint32_t size;                    /* bytes filled by the library */
	enum ostor_event_type type;
	ostor_device *dev;                /* NULL only for lost events */
	uint32_t target, lun;
	uint8_t asc, ascq;                /* the additional sense code that said so, or 0 */
	uint64_t lba, blocks;             /* OSTOR_EVENT_CACHE_DATA_LOST: the range */
};
/* Passed by value, never grows (as struct ostor_completion). */
struct ostor_event_handler {
	void (*callback)(const struct ostor_event *event, void *user_data);
	void *user_data;
	void (*free)(void *user_data);    /* when replaced, and at ostor_exit */
};
/* Set (or, with a NULL callback, clear) the context's event handler; the
 * old one's .free runs.  Not from inside a callback (OSTOR_ERROR_STATE). */
OSTOR_API int ostor_set_event_handler(ostor_context *ctx, struct ostor_event_handler handler);
OSTOR_API const char *ostor_event_name(int type);

/* ------------------------------------------------------------------ */
/* Health (SMART) and power conditions, on every transport             */
/* ------------------------------------------------------------------ */

/* One health report of a LUN: an ATA disk behind a SCSI-ATA Translation
 * bridge is read with ATA PASS-THROUGH (IDENTIFY, SMART RETURN STATUS,
 * READ DATA, READ THRESHOLDS, the self-test log); a SCSI disk with LOG
 * SENSE (pages 00h, 0Dh, 2Fh, 10h, 15h) and REQUEST SENSE. */
enum ostor_health_verdict {
	OSTOR_HEALTH_UNKNOWN = 0,         /* no verdict: ostor_health_reason says why */
	OSTOR_HEALTH_PASSED = 1,
	OSTOR_HEALTH_FAILING = 2,         /* the device predicts failure */
};
/* "unknown", "passed", "failing" */
OSTOR_API const char *ostor_health_verdict_name(int verdict);

/* How health is read.  AUTO: the bridge protocol the quirks name, else
 * ATA PASS-THROUGH(16) when the LUN is ATA (INQUIRY vendor "ATA" or VPD
 * 89h), falling back to (12) when (16) is refused, else SCSI. */
enum ostor_health_protocol {
	OSTOR_HEALTH_PROTO_AUTO = 0,
	OSTOR_HEALTH_PROTO_SCSI,          /* native log pages */
	OSTOR_HEALTH_PROTO_SAT16,         /* ATA PASS-THROUGH(16) */
	OSTOR_HEALTH_PROTO_SAT12,         /* ATA PASS-THROUGH(12) */
	OSTOR_HEALTH_PROTO_JMICRON,       /* JMicron USB bridges, vendor command DFh */
	OSTOR_HEALTH_PROTO_SUNPLUS,       /* Sunplus F8h: refused, not implemented */
	OSTOR_HEALTH_PROTO_CYPRESS,       /* Cypress ATACB 24h: refused, not implemented */
};
/* "auto", "scsi", "sat16", "sat12", "jmicron", "sunplus", "cypress" */
OSTOR_API const char *ostor_health_protocol_name(int protocol);
/* The enum value of a name above (also "sat" for sat16), or
 * OSTOR_ERROR_INVALID_PARAM. */
OSTOR_API int ostor_health_protocol_parse(const char *name);

typedef struct ostor_health ostor_health;
struct ostor_scsi_ata_identify;        /* <orionstor/scsi.h> */
struct ostor_scsi_ata_smart_data;
struct ostor_scsi_ata_self_test_log;
struct ostor_scsi_log_ie;
struct ostor_scsi_log_self_test;
struct ostor_scsi_log_page_id;
/* ostor_health_get flags */
#define OSTOR_HEALTH_STATUS_ONLY 1u       /* verdict and temperature only */

/* Read the health of a LUN into a new report (free it with
 * ostor_health_free).  A device that answers nothing useful still gets a
 * report (verdict UNKNOWN, with the reason); errors are for the device
 * being gone, the LUN not existing, or a protocol that was asked for by
 * name and that the device refuses (OSTOR_ERROR_NOT_SUPPORTED). */
OSTOR_API int ostor_health_get(ostor_device *dev, uint32_t target, uint32_t lun, int protocol,
			       unsigned int flags, ostor_health **report);
OSTOR_API void ostor_health_free(ostor_health *report);
OSTOR_API int ostor_health_verdict(const ostor_health *report);
/* Why the verdict is what it is, in plain words: "SMART RETURN STATUS:
 * threshold not exceeded", "the bridge returned no ATA registers", ... */
OSTOR_API const char *ostor_health_reason(const ostor_health *report);
/* The protocol that answered (never AUTO). */
OSTOR_API int ostor_health_protocol(const ostor_health *report);
/* Current temperature; OSTOR_ERROR_NOT_FOUND when the device gave none. */
OSTOR_API int ostor_health_temperature(const ostor_health *report, int *celsius);
/* The decoded ATA data (NULL for a SCSI report or when not read). */
OSTOR_API const struct ostor_scsi_ata_identify *ostor_health_ata_identify(const ostor_health *report);
OSTOR_API const struct ostor_scsi_ata_smart_data *ostor_health_ata_smart(const ostor_health *report);
OSTOR_API const struct ostor_scsi_ata_self_test_log *ostor_health_ata_self_tests(const ostor_health *report);
/* The SCSI informational exceptions (page 2Fh or REQUEST SENSE; NULL when
 * neither answered), self-test results (page 10h) and supported log pages. */
OSTOR_API const struct ostor_scsi_log_ie *ostor_health_scsi_ie(const ostor_health *report);
OSTOR_API size_t ostor_health_scsi_self_tests(const ostor_health *report,
					      const struct ostor_scsi_log_self_test **entries);
OSTOR_API size_t ostor_health_log_pages(const ostor_health *report,
					const struct ostor_scsi_log_page_id **ids);
/* The whole report as one JSON object (the schema of orionstor smart
 * --json and the control method "health"); free() it.  NULL: no memory. */
OSTOR_API char *ostor_health_json(const ostor_health *report);

enum ostor_self_test {
	OSTOR_SELF_TEST_SHORT = 1,        /* background short self-test */
	OSTOR_SELF_TEST_LONG,             /* background extended self-test */
	OSTOR_SELF_TEST_ABORT,            /* abort the running background test */
};
/* Start or abort a device self-test: SMART EXECUTE OFFLINE IMMEDIATE over
 * ATA, SEND DIAGNOSTIC on SCSI.  Returns once the device accepted it; the
 * result appears in the self-test log. */
OSTOR_API int ostor_health_self_test(ostor_device *dev, uint32_t target, uint32_t lun, int protocol,
				     int test);

/* Power conditions (SPC-4 / SBC-3). */
enum ostor_power_condition {
	OSTOR_POWER_UNKNOWN = 0,
	OSTOR_POWER_ACTIVE,
	OSTOR_POWER_IDLE,                 /* idle_a */
	OSTOR_POWER_IDLE_B,
	OSTOR_POWER_IDLE_C,
	OSTOR_POWER_STANDBY,              /* standby_z */
	OSTOR_POWER_STANDBY_Y,
	OSTOR_POWER_STOPPED,              /* ATA: sleep */
};
/* "unknown", "active", "idle", "idle_b", "idle_c", "standby", "standby_y", "stopped" */
OSTOR_API const char *ostor_power_condition_name(int condition);

/* A timer of the Power Condition mode page (1Ah). */
struct ostor_power_timer {
	int enabled;                      /* the page's enable bit */
	int changeable;                   /* the device lets it be changed */
	uint32_t timer_100ms;             /* in 100 ms units, as on the page */
};
/* Grows ("Structures that grow"): declare with OSTOR_POWER_INFO_INIT. */
struct ostor_power_info {
	uint32_t size;                    /* in: sizeof; out: bytes filled */
	int condition;                    /* enum ostor_power_condition */
	char condition_source[16];        /* "request-sense", "ata", "" */
	int by_timer;                     /* entered by a timer (1), a command (0), unknown (-1) */
	int ata_mode;                     /* SAT CHECK POWER MODE: OSTOR_ATA_POWER_*, -1 not read */
	int page_present;                 /* mode page 1Ah answered */
	int page_saveable;                /* its PS bit */
	struct ostor_power_timer idle_a, idle_b, idle_c, standby_y, standby_z;
};
#define OSTOR_POWER_INFO_INIT OSTOR_SIZED_INIT_(struct ostor_power_info)
/* The LUN's power condition (REQUEST SENSE, then ATA CHECK POWER MODE when
 * the LUN is ATA behind SAT) and the current values of page 1Ah.  A page
 * the device does not have is page_present 0, not an error. */
OSTOR_API int ostor_power_get(ostor_device *dev, uint32_t target, uint32_t lun,
			      struct ostor_power_info *info);
/* A power report as one JSON object (the schema of orionstor power
 * --json and the control method "power"), spec/target/lun naming the LUN
 * it is of; free() it.  NULL: no memory. */
OSTOR_API char *ostor_power_json(const char *spec, uint32_t target, uint32_t lun,
				 const struct ostor_power_info *info);

/* What START STOP UNIT asks for (ostor_power_set). */
enum ostor_power_action {
	OSTOR_POWER_GO_ACTIVE = 1,        /* power condition ACTIVE */
	OSTOR_POWER_GO_IDLE,              /* IDLE (idle_a) */
	OSTOR_POWER_GO_STANDBY,           /* STANDBY (standby_z) */
	OSTOR_POWER_START,                /* START 1 */
	OSTOR_POWER_STOP,                 /* START 0 */
	OSTOR_POWER_LOAD,                 /* LOEJ 1, START 1 */
	OSTOR_POWER_EJECT,                /* LOEJ 1, START 0 */
	OSTOR_POWER_LU_CONTROL,           /* give control back to the timers */
};
/* "active", "idle", "standby", "start", "stop", "load", "eject", "lu_control" */
OSTOR_API const char *ostor_power_action_name(int action);
/* ostor_power_set flags */
#define OSTOR_POWER_IMMED 1u              /* IMMED: return before the transition ends */
/* START STOP UNIT.  OSTOR_ERROR_NOT_SUPPORTED when the device refuses the
 * power condition (ILLEGAL REQUEST, invalid field in CDB). */
OSTOR_API int ostor_power_set(ostor_device *dev, uint32_t target, uint32_t lun, int action,
			      unsigned int flags);
/* Which timer of page 1Ah ostor_power_set_timer changes. */
enum ostor_power_timer_id {
	OSTOR_POWER_TIMER_IDLE_A = 1,
	OSTOR_POWER_TIMER_IDLE_B,
	OSTOR_POWER_TIMER_IDLE_C,
	OSTOR_POWER_TIMER_STANDBY_Y,
	OSTOR_POWER_TIMER_STANDBY_Z,
};
/* ostor_power_set_timer flags */
#define OSTOR_POWER_SAVE 1u               /* MODE SELECT with SP: keep across power cycles */
/* Enable (with a timer in 100 ms units) or disable one timer of page 1Ah
 * by MODE SENSE, then MODE SELECT of the page with only that changed.
 * OSTOR_ERROR_NOT_SUPPORTED when the device has no page 1Ah or the timer
 * is not changeable (or, with OSTOR_POWER_SAVE, the page not saveable). */
OSTOR_API int ostor_power_set_timer(ostor_device *dev, uint32_t target, uint32_t lun, int timer,
				    int enable, uint32_t timer_100ms, unsigned int flags);

/* ------------------------------------------------------------------ */
/* USB mass storage (usb: devices and sim:transport=usb-*)             */
/* ------------------------------------------------------------------ */

/* What a USB device is and how it is driven, for the usb_storage_*
 * tools.  Strings are "" when the device has none.  Grows ("Structures
 * that grow"): declare it with OSTOR_USB_DETAILS_INIT. */
struct ostor_usb_details {
	uint32_t size;                 /* in: sizeof; out: bytes filled */
	uint16_t vendor_id, product_id;
	char manufacturer[128], product[128], serial[128];
	uint8_t bus, port, devnum;     /* port: number on the parent hub */
	char speed[8];                 /* "low", "full", "high", "super", "super+", "unknown" */
	uint8_t interface_number;      /* bInterfaceNumber of the mass-storage interface */
	uint8_t subclass;              /* 01h RBC, 02h MMC, 04h UFI, 05h SFF-8070i, 06h SCSI */
	uint8_t protocol;              /* 00h CBI, 01h CB, 50h Bulk-Only */
	char transport[4];             /* "bot", "cbi" or "cb" */
	uint8_t max_lun;
	uint16_t max_packet_in, max_packet_out;
	char quirks[256];              /* "ignore-residue,max-transfer=65536", "" for none */
	int simulated;                 /* 1 for a sim:transport=usb-* model */
	int dead;                      /* recovery failed: unplug and replug */
	/* Every mass-storage interface driven: target k of the (target,
	 * LUN) addressing is the k-th in interface-number order.  The
	 * fields above describe target 0 (dead: any target). */
	uint8_t interfaces;            /* how many: targets 0 .. interfaces-1 */
	uint8_t target_interface[16];  /* bInterfaceNumber of target k */
	uint8_t target_subclass[16];
	uint8_t target_protocol[16];
	uint8_t target_max_lun[16];
};
#define OSTOR_USB_DETAILS_INIT OSTOR_SIZED_INIT_(struct ostor_usb_details)
/* OSTOR_ERROR_NOT_SUPPORTED for a device that is not USB mass storage. */
OSTOR_API int ostor_usb_get_details(ostor_device *dev, struct ostor_usb_details *details);

/* USB runtime power management (selective suspend): the kernel's sysfs
 * view of the device and what this process allows.  Grows: declare with
 * OSTOR_USB_POWER_INIT.  Strings are "" when unknown. */
struct ostor_usb_power {
	uint32_t size;                    /* in: sizeof; out: bytes filled */
	char control[8];                  /* power/control: "auto" (may suspend) or "on" */
	int autosuspend_delay_ms;         /* power/autosuspend_delay_ms, -1 unknown */
	char runtime_status[16];          /* "active", "suspended", "suspending", "resuming", "error", "unsupported" */
	uint64_t runtime_suspended_ms;    /* power/runtime_suspended_time */
	uint64_t runtime_active_ms;       /* power/runtime_active_time */
	unsigned int max_power_ma;        /* bMaxPower of the active configuration, in mA */
	char speed[8];                    /* as ostor_usb_details */
	int suspend_allowed;              /* this process lets the idle device suspend (power_management_enabled) */
	unsigned int idle_ms;             /* idle time after which it allows it */
	uint64_t suspends_allowed;        /* times this process allowed suspend while idle */
	uint64_t resumes;                 /* times a command had to wake the device */
	char sysfs_path[128];             /* /sys/bus/usb/devices/B-P.P, "" for a simulated device */
};
#define OSTOR_USB_POWER_INIT OSTOR_SIZED_INIT_(struct ostor_usb_power)
/* OSTOR_ERROR_NOT_SUPPORTED for a device that is not USB. */
OSTOR_API int ostor_usb_power_get(ostor_device *dev, struct ostor_usb_power *power);
/* The same as one JSON object (usb_storage_power_info --json, the control
 * method "usb_power"); free() it.  NULL: no memory. */
OSTOR_API char *ostor_usb_power_json(const struct ostor_usb_power *power);
/* Change power/control (autosuspend 1 "auto", 0 "on", -1 unchanged) and
 * power/autosuspend_delay_ms (delay_ms -1 unchanged) in sysfs;
 * OSTOR_ERROR_ACCESS with what to do when sysfs refuses the write. */
OSTOR_API int ostor_usb_power_set(ostor_device *dev, int autosuspend, int delay_ms);
/* Let the kernel suspend the device while this process holds it idle
 * (usbfs ALLOW_SUSPEND after idle_ms without commands; the next command
 * resumes it first), or stop doing so (allow 0).  The configuration key
 * power_management_enabled turns this on at open. */
OSTOR_API int ostor_usb_power_manage(ostor_device *dev, int allow, unsigned int idle_ms);

enum ostor_usb_reset_kind {
	OSTOR_USB_RESET_TRANSPORT = 0, /* BOT Reset Recovery / CB(I) Command Block Reset */
	OSTOR_USB_RESET_PORT = 1       /* USB port reset (re-enumeration) */
};
/* Reset the transport while no task is in flight (OSTOR_ERROR_BUSY
 * otherwise).  TRANSPORT resets every mass-storage interface (target)
 * of the device in turn; PORT resets the device once.  A failed
 * transport reset escalates to a port reset; a failed port reset marks
 * the device dead (OSTOR_ERROR_IO). */
OSTOR_API int ostor_usb_reset(ostor_device *dev, enum ostor_usb_reset_kind kind);

/* ------------------------------------------------------------------ */
/* virtio-scsi (virtio: devices and sim:transport=virtio)              */
/* ------------------------------------------------------------------ */

/* Every function below returns OSTOR_ERROR_NOT_SUPPORTED for devices of
 * another transport.  Both info structs grow ("Structures that grow"):
 * declare them with their _INIT. */
struct ostor_virtio_device_info {
	uint32_t size;                /* in: sizeof; out: bytes filled */
	char pci_address[16];         /* "0000:00:04.0"; "sim" for the model */
	char binding[32];             /* kernel driver: "uio_pci_generic", ... */
	uint64_t device_features;     /* offered by the device */
	uint64_t driver_features;     /* negotiated */
	int packed;                   /* 1: packed rings, 0: split */
	int interrupts;               /* 1: interrupt mode, 0: polled */
	uint32_t num_queues;          /* request queues in use */
	uint32_t device_num_queues;   /* request queues the device offers */
	/* device configuration (5.6.4) */
	uint32_t seg_max, max_sectors, cmd_per_lun, event_info_size;
	uint32_t sense_size, cdb_size;
	uint32_t max_channel, max_target, max_lun;
	uint64_t resets;              /* device resets since open */
	uint64_t events;              /* event-queue events processed */
	uint64_t topology_generation; /* bumps on hot-plug/removal/rescan */
	/* how the function is reached: "vfio", "uio", "sim" */
	char transport[8];
	int iommu_group;              /* -1: none */
	char iommu[16];               /* "type1", "no-iommu" (unprotected), "none" */
	char interrupt_kind[8];       /* "msix", "intx", "none" (polled) */
	uint32_t interrupt_vectors;   /* MSI-X vectors enabled */
	uint64_t dma_address;         /* IOVA of the DMA pool (VFIO type1), else 0 */
	uint64_t dma_pool_bytes;
};
#define OSTOR_VIRTIO_DEVICE_INFO_INIT OSTOR_SIZED_INIT_(struct ostor_virtio_device_info)
OSTOR_API int ostor_virtio_device_info(ostor_device *dev,
				       struct ostor_virtio_device_info *info);

enum ostor_virtio_queue_type {
	OSTOR_VIRTIO_QUEUE_CONTROL = 0,
	OSTOR_VIRTIO_QUEUE_EVENT = 1,
	OSTOR_VIRTIO_QUEUE_REQUEST = 2
};
struct ostor_virtio_queue_info {
	uint32_t size;                /* in: sizeof; out: bytes filled */
	unsigned int index;           /* virtqueue index (0 control, 1 event, 2.. requests) */
	int type;                     /* enum ostor_virtio_queue_type */
	unsigned int queue_size;      /* entries */
	int packed;
	int event_idx;                /* VIRTIO_F_EVENT_IDX in use */
	int indirect;                 /* indirect descriptors in use */
	int broken;
	unsigned int avail_idx;       /* split: avail.idx; packed: next avail position */
	unsigned int used_idx;        /* split: next used.idx; packed: next used position */
	unsigned int inflight;
	uint64_t submitted, completed, errors, bytes, notifies;
	/* Notifications sent again because the device looked idle with
	 * requests it had not taken (a lost notification, recovered). */
	uint64_t renotifies;
	int interrupt_vector;         /* its MSI-X vector; -1 none (polled, INTx) */
};
#define OSTOR_VIRTIO_QUEUE_INFO_INIT OSTOR_SIZED_INIT_(struct ostor_virtio_queue_info)
/* Number of virtqueues (control, event and request queues). */
OSTOR_API int ostor_virtio_queue_count(ostor_device *dev);
OSTOR_API int ostor_virtio_queue_info(ostor_device *dev, unsigned int index,
				      struct ostor_virtio_queue_info *info);
/*
 * Queues and threads (like SPDK's channels).  A thread that acquires a
 * request queue owns it: the tasks it submits go to that queue, and it
 * submits and polls it without taking any lock; no other thread touches
 * the queue until it is released.  The rules:
 *  - One owner per queue; ostor_virtio_queue_acquire fails with
 *    OSTOR_ERROR_BUSY for a queue another thread holds.  A thread holds
 *    at most one queue per device (acquiring another releases the first).
 *  - The owner must poll its queue: ostor_virtio_queue_poll(), or
 *    ostor_handle_events*() when it is the thread handling events (that
 *    polls the caller's own queue and every unowned one, never a queue of
 *    another thread).  Completion callbacks still run inside
 *    ostor_handle_events*(), on whichever thread handles events: count
 *    completions with atomics, or run the event loop on the owner.
 *  - Threads that hold no queue share the unowned queues (with a lock).
 *    When every queue is owned they cannot submit (OSTOR_ERROR_BUSY):
 *    keep one queue unowned for them, or submit from an owner.
 *  - Release before the thread exits and before ostor_close(); tasks in
 *    flight on a released queue are then polled by the event loop.
 *  - Device resets (ostor_virtio_reset, recovery) briefly stop owners;
 *    nothing else does.
 */
/* Bind the calling thread to request queue index (0-based among request
 * queues; -1: the first one no other thread holds).  Returns the index. */
OSTOR_API int ostor_virtio_queue_acquire(ostor_device *dev, int index);
OSTOR_API void ostor_virtio_queue_release(ostor_device *dev);
/* Owner only: take the completions of the calling thread's queue, without
 * locks, and handle its timeouts.  Returns how many tasks completed (their
 * callbacks run in the next ostor_handle_events*()), OSTOR_ERROR_STATE
 * when the thread holds no queue of dev. */
OSTOR_API int ostor_virtio_queue_poll(ostor_device *dev);
/* VirtIO 1.2 queue reset (virtqueue index as in queue_info); refused
 * with OSTOR_ERROR_NOT_SUPPORTED when VIRTIO_F_RING_RESET is absent. */
OSTOR_API int ostor_virtio_queue_reset(ostor_device *dev, unsigned int index);
/* Device reset and re-initialisation; tasks in flight complete as
 * OSTOR_RESULT_ABORTED (a write among them is indeterminate). */
OSTOR_API int ostor_virtio_reset(ostor_device *dev);
/* Forget cached absence of a target and probe it again (target-add);
 * detach refuses new commands to it (DEVICE_GONE) until the next add. */
OSTOR_API int ostor_virtio_target_add(ostor_device *dev, uint32_t target);
OSTOR_API int ostor_virtio_target_remove(ostor_device *dev, uint32_t target);
/* Device-visible (hugepage, pinned) memory: buffers from here are used
 * zero-copy; others are bounced.  free takes the size given to alloc. */
OSTOR_API void *ostor_virtio_dma_alloc(ostor_device *dev, size_t size);
OSTOR_API void ostor_virtio_dma_free(ostor_device *dev, void *buf, size_t size);

/* PCI binding (root): hand a virtio-scsi function to driver "vfio-pci"
 * or "uio_pci_generic" (NULL: vfio-pci when the function has an IOMMU
 * group, else uio_pci_generic), refused while its disks are mounted, swap
 * or held unless force, and for vfio-pci while another device of its
 * IOMMU group is bound to a host driver; and give it back to virtio-pci.
 * pci_address: "[DDDD:]BB:DD.F".  ostor_virtio_pci_bind: driver NULL. */
OSTOR_API int ostor_virtio_pci_bind_driver(ostor_context *ctx, const char *pci_address,
					   const char *driver, int force);
OSTOR_API int ostor_virtio_pci_bind(ostor_context *ctx, const char *pci_address, int force);
OSTOR_API int ostor_virtio_pci_unbind(ostor_context *ctx, const char *pci_address);

/* ------------------------------------------------------------------ */
/* Control socket                                                      */
/* ------------------------------------------------------------------ */

/* The directory where processes with devices open keep their control
 * sockets (<pid>.sock, JSON-RPC 2.0 over a Unix socket; orionstor ps),
 * as ctx's configuration names it ([control] in orionstor.conf(5)).
 * OSTOR_ERROR_NOT_SUPPORTED when the socket is turned off,
 * OSTOR_ERROR_NOT_FOUND when there is no safe automatic directory
 * (not root and no $XDG_RUNTIME_DIR), OSTOR_ERROR_OVERFLOW when buf is
 * too small (PATH_MAX always fits). */
OSTOR_API int ostor_control_socket_dir(const ostor_context *ctx, char *buf, size_t len);

#ifdef __cplusplus
}
#endif

#include <orionstor/scsi.h>

#endif /* ORIONSTOR_H */
