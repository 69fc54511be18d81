/*
 * lib/core/manage.h - live management of a device from another thread
 * (the control socket's): the commands in flight, aborting one by tag,
 * flushing a queue.
 *
 * A queue's in-flight list belongs to its owner, so requests about it are
 * posted to the owner (one pointer per channel, looked at in every poll)
 * and answered there; the shared path's list is read under dev->lock.  An
 * owner that does not poll within the timeout does not answer: that is
 * reported, never waited for forever.
 */
#ifndef OSTOR_CORE_MANAGE_H
#define OSTOR_CORE_MANAGE_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "core/internal.h"

/* One command in flight, as listed. */
struct ostori_cmd_info {
	int queue;                 /* -1: the shared path */
	uint64_t tag;              /* stable while it is in flight */
	uint32_t target, lun;
	uint8_t cdb[16];
	uint8_t cdb_len;
	bool waiting;              /* not sent yet: waits for room (or a flush) */
	bool cancelling;           /* a cancel or abort was asked for */
	int64_t age_ns;            /* since submission, with histograms on; else -1 */
	int64_t listed_ns;         /* since it was first listed (0 the first time) */
};

struct ostori_cmd_list {
	struct ostori_cmd_info *cmds;
	size_t n, cap;             /* cap: the most listed; more are counted in n */
	unsigned int queues_silent; /* owned queues whose owner did not answer */
};

/* Fill list (cmds allocated here, cap entries; free(list->cmds)). */
int ostori_manage_commands(ostor_device *dev, struct ostori_cmd_list *list, size_t cap, int timeout_ms);
/* Abort the command with this tag and wait up to timeout_ms for its fate:
 * an OSTOR_TMF_* outcome, or OSTOR_ERROR_NOT_FOUND (no such command in
 * flight), OSTOR_ERROR_TIMEOUT (its queue's owner did not answer). */
int ostori_manage_abort(ostor_device *dev, uint64_t tag, int timeout_ms);

struct ostori_flush_report {
	unsigned int inflight_before;  /* at the device when the flush began */
	unsigned int held_back;        /* submissions kept waiting meanwhile */
	unsigned int remaining;        /* still at the device when it ended */
	uint64_t waited_ns;
	bool timed_out;
};
/* Stop sending new commands of queue (-1: the shared path) to the device,
 * wait until those at the device complete (at most timeout_ms), then let
 * the held-back ones go. */
int ostori_manage_flush(ostor_device *dev, int queue, int timeout_ms, struct ostori_flush_report *rep);

/* Set-up and tear-down of dev's management state (device.c). */
void ostori_manage_init(ostor_device *dev);
void ostori_manage_free(ostor_device *dev);

/* ---- the owner's side (channel.c) ---------------------------------------- */

enum ostori_chan_req_kind {
	OSTORI_REQ_LIST,
	OSTORI_REQ_ABORT,
	OSTORI_REQ_COUNT,
};

struct ostori_chan_req {
	enum ostori_chan_req_kind kind;
	uint64_t tag;                  /* ABORT */
	struct ostori_cmd_list *list;  /* LIST: appended to */
	struct ostori_abort_watch *watch; /* ABORT: its completion, for the requester */
	int result;                    /* ABORT: 0, or OSTOR_ERROR_NOT_FOUND */
	unsigned int inflight, waiting; /* COUNT: at the device, waiting */
	atomic_int done;
};

/* Hold submissions of channel i back (a flush), or let them go. */
void ostori_channel_pause(ostor_device *dev, unsigned int i, bool pause);
/* Describe t (in flight on its queue or the shared path) into c. */
struct ostor_task;
void ostori_manage_describe(const struct ostor_task *t, struct ostori_cmd_info *c, uint64_t now_tick);

/* Post req to channel i and wait for its owner (dev->manage_lock held by
 * the caller): 0, or OSTOR_ERROR_TIMEOUT when the owner did not take it
 * in time (it then never will). */
int ostori_channel_request(ostor_device *dev, unsigned int i, struct ostori_chan_req *req, int timeout_ms);

#endif /* OSTOR_CORE_MANAGE_H */
