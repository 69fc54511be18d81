/*
 * plugins/nbdkit/plugin.h - nbdkit-orionstor-plugin: what its files share.
 *
 * The plugin is a thin layer over the public API (include/orionstor.h
 * only, as the tools are): one device per nbdkit process, opened after
 * nbdkit forked, and one export per LUN ("T:L").  nbdkit's callbacks live
 * in orionstor.c; the rest has no nbdkit state of its own, so the unit
 * test (tests/unit/test_nbdkit_plugin.c) drives it directly.
 *
 * Copyright (C) 2026 The liborionstor authors.  LGPL-2.1-or-later.
 */
#ifndef ORIONSTOR_NBDKIT_PLUGIN_H
#define ORIONSTOR_NBDKIT_PLUGIN_H

/* _GNU_SOURCE and friends (AC_USE_SYSTEM_EXTENSIONS), before any system header. */
#include "build-config.h"

#include <orionstor.h>

#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct nbdkit_extents;

/* One exported LUN, learnt at open. */
struct onbd_lun {
	uint32_t target, lun;
	char name[24];                /* the export name, "T:L" */
	char description[96];         /* for list_exports */
	uint32_t block_size;          /* logical block, bytes */
	uint64_t blocks;
	uint32_t max_transfer_blocks; /* per command, after every limit */
	uint32_t physical_block;      /* bytes (READ CAPACITY(16) LBPPBE) */
	uint32_t granularity;         /* optimal transfer granularity, bytes; 0 unknown */
	uint64_t max_write_same;      /* blocks per WRITE SAME; 0 no limit given */
	bool readonly;                /* write protected, or a CD-ROM */
	bool unmap;                   /* LBPU: UNMAP works */
	bool ws_unmap;                /* LBPWS: WRITE SAME(16) deallocates with UNMAP */
	bool lbprz;                   /* deallocated blocks read back as zeros */
	bool lba_status;              /* GET LBA STATUS answered the probe */
	/* WRITE SAME(16): 1 works, 0 not tried yet, -1 refused (then a fast
	 * zero is refused with ENOTSUP instead of becoming slow writes). */
	atomic_int write_same;
	/* A read-modify-write of a partial block holds it exclusively; every
	 * other write holds it shared, so an RMW never loses a concurrent
	 * write to the same block.  Reads take nothing. */
	pthread_rwlock_t rmw;
};

/* The one device of the process. */
struct onbd_state {
	ostor_context *ctx;
	ostor_device *dev;
	struct onbd_lun *luns;
	size_t nluns;
	size_t default_lun;           /* index into luns */
	uint8_t *zero_block;          /* the largest block size of zeros */
	atomic_bool gone;             /* unplugged or removed: refuse all */
	atomic_int owned;             /* queues held by worker threads */
};
extern struct onbd_state onbd;

/* device.c: open the device (config: orionstor.conf path or NULL),
 * discover its LUNs and what each can do.  want_target/want_lun select
 * the default export (-1: the first LUN).  Errors are reported with
 * nbdkit_error; returns 0 or -1. */
int onbd_device_open(const char *config, const char *spec, int64_t want_target, int64_t want_lun);
/* Flush and close; the caller's own queue and task are released first. */
int onbd_device_close(void);
/* The LUN an export name names ("" the default one), or NULL. */
struct onbd_lun *onbd_find_lun(const char *name);

/* thread.c: the calling thread's own queue and task. */
struct onbd_thread {
	ostor_task *task;             /* for the commands the plugin builds */
	uint8_t *block;               /* one block, for partial blocks */
	size_t block_len;
	int queue;                    /* queue index owned, -1 the shared path */
};
/* The state of the calling thread, made (and a queue acquired) on its
 * first call; NULL with nbdkit_error when out of memory. */
struct onbd_thread *onbd_thread(void);
/* Give the calling thread's queue and task back (before close). */
void onbd_thread_exit_self(void);
/* Run one CDB on t's task against L: 0 or a negative enum ostor_error
 * (message in ostor_last_error()); *transferred gets the bytes moved. */
int onbd_exec(struct onbd_thread *t, const struct onbd_lun *L, const uint8_t *cdb, size_t cdb_len,
	      enum ostor_dir dir, void *buf, size_t len, size_t *transferred);

/* errors.c: the errno an NBD client understands for a library error;
 * write: the request was a write (out of range is then ENOSPC). */
int onbd_errno(int err, bool write);
/* Log what failed with the library's message (status and sense) through
 * nbdkit_error, set errno and return -1.  OSTOR_ERROR_NO_DEVICE marks the
 * device gone. */
int onbd_fail(int err, bool write, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* Fail fast (ESHUTDOWN) once the device is gone. */
int onbd_gone(void);

/* io.c: the data path; offsets and counts in bytes, flags nbdkit's
 * NBDKIT_FLAG_*.  0 or -1 with errno set. */
int onbd_pread(struct onbd_lun *L, void *buf, uint32_t count, uint64_t offset, uint32_t flags);
int onbd_pwrite(struct onbd_lun *L, const void *buf, uint32_t count, uint64_t offset, uint32_t flags);
int onbd_flush(struct onbd_lun *L, uint32_t flags);
int onbd_trim(struct onbd_lun *L, uint32_t count, uint64_t offset, uint32_t flags);
int onbd_zero(struct onbd_lun *L, uint32_t count, uint64_t offset, uint32_t flags);

/* extents.c: GET LBA STATUS. */
struct onbd_lba_status {
	uint64_t lba;
	uint32_t blocks;
	uint8_t status;               /* 0 mapped, 1 deallocated, 2 anchored */
};
/* Decode a GET LBA STATUS parameter list: at most max descriptors into
 * out.  Returns how many, or -1 when the list is malformed. */
int onbd_parse_lba_status(const uint8_t *buf, size_t len, struct onbd_lba_status *out, int max);
/* Build the GET LBA STATUS(16) CDB (16 bytes) for lba. */
void onbd_cdb_get_lba_status(uint8_t cdb[16], uint64_t lba, uint32_t alloc_len);
/* Whether the LUN answers GET LBA STATUS (asked once at open). */
bool onbd_probe_lba_status(struct onbd_thread *t, const struct onbd_lun *L);
int onbd_extents(struct onbd_lun *L, uint32_t count, uint64_t offset, uint32_t flags,
		 struct nbdkit_extents *extents);

#endif /* ORIONSTOR_NBDKIT_PLUGIN_H */
