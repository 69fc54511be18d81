/*
 * tools/common/control_client.h - talking to the control sockets of other
 * processes (liborionstor's JSON-RPC 2.0 server, one line per message):
 * for orionstor ps, ping and the live tools to come.
 *
 * Copyright (C) 2026 The liborionstor authors.  LGPL-2.1-or-later.
 */
#ifndef ORIONSTOR_CONTROL_CLIENT_H
#define ORIONSTOR_CONTROL_CLIENT_H

#include "toolcommon.h"

/* How long one call may take, connect to reply. */
#define TC_CTL_TIMEOUT_MS 5000
/* The longest reply read (a device list of a busy process fits). */
#define TC_CTL_REPLY_MAX (16u << 20)

/* Outcomes of tc_ctl_call besides 0. */
enum tc_ctl_status {
	TC_CTL_STALE = 1,   /* nobody listens there: the process is gone */
	TC_CTL_ERROR = 2,   /* anything else; *why says what */
};

/* The socket directory ctx's configuration names.  0, or an exit code
 * (message printed). */
int tc_ctl_dir(ostor_context *ctx, char *buf, size_t len);

/* The sockets (<pid>.sock) in dir, sorted by pid: a malloc'ed array of
 * malloc'ed paths.  A missing dir is an empty list.  0 or -1 (errno). */
int tc_ctl_list(const char *dir, char ***paths, size_t *count);
void tc_ctl_list_free(char **paths, size_t count);
/* The pid a socket path is named after, 0 if it is not <pid>.sock. */
long tc_ctl_pid_of(const char *path);

/* Call method (params: borrowed, NULL for none) on the socket at path and
 * wait at most timeout_ms.  0 with *result (the reply's "result", a new
 * reference, may be NULL for JSON null); TC_CTL_STALE; or TC_CTL_ERROR
 * with why set (a server error reads "message (OSTOR_ERROR_...)", and
 * *code gets its JSON-RPC code, else 0). */
int tc_ctl_call(const char *path, const char *method, struct json_object *params, int timeout_ms,
		struct json_object **result, int *code, char *why, size_t whylen);

/* The exit code of a JSON-RPC error code: a library error's category
 * (tc_exit_from_error), 1 for invalid params, else 99. */
int tc_ctl_exit_from_code(int code);

/* The process that has spec open. */
struct tc_ctl_holder {
	long pid;
	char program[64];
	char socket[512];
	struct json_object *device;   /* its entry of "devices" (owned) */
};
/* Ask every socket of dir for its devices and find spec: the same spec,
 * or a device whose physical identity spec names (usb:BUS.DEVNUM,
 * virtio:[DDDD:]BB:DD.F, the image file of sim:image=PATH).  1 found
 * (free h->device with json_object_put), 0 none. */
int tc_ctl_find_holder(const char *dir, const char *spec, struct tc_ctl_holder *h);

/* The socket --pid or --socket chose, in path.  0, or an exit code
 * (message printed). */
int tc_ctl_selected(const struct tc_common *c, const char *dir, char *path, size_t len);

/* The socket directory of the configuration (-c or the default one); ""
 * with --socket, which needs none.  0, or an exit code (message printed). */
int tc_ctl_live_dir(const struct tc_common *c, char *dir, size_t len);

/* The message for a device nobody holds, and its exit code. */
int tc_ctl_not_held(const char *spec);

/* ---- the live tools (live.c) ---------------------------------------------------- */

/* The process holding a device, and the device as it opened it. */
struct tc_live {
	char socket[512];
	long pid;
	char program[64];
	char spec[512];
};
/* The process and device to ask: --pid/--socket (and -d, or its only
 * device), or the holder of -d.  0 or an exit code (message printed;
 * TC_EXIT_NOT_HELD when nobody holds -d). */
int tc_live_resolve(const struct tc_common *c, struct tc_live *lv);
/* Call method on lv's process with params (taken; "device" is added) and
 * wait at most timeout_ms.  0 with *res, or an exit code (message
 * printed: a library error by its category, see tc_exit_from_error). */
int tc_live_call(const struct tc_live *lv, const char *method, struct json_object *params, int timeout_ms,
		 struct json_object **res);

/* ---- one device, held or opened here (holder.c) ----------------------------------- */

/* Where a command on one device runs: through the control socket of the
 * process that holds -d, or on the device opened here. */
struct tc_where {
	bool live;
	struct tc_live lv;          /* live: the holder */
	ostor_context *ctx;         /* else: the device opened here */
	ostor_device *dev;
};
/* The holder of c->device, else the device opened here.  0 or an exit
 * code (message printed). */
int tc_where_locate(const struct tc_common *c, struct tc_where *w);
/* Call method on the holder (params taken; "device" is added).  A holder
 * whose library has no such method is refused with a message saying so
 * and TC_EXIT_BUSY: the device cannot be opened here while it holds it.
 * what names the job for that message ("read the health").  0 with *res,
 * or an exit code (message printed). */
int tc_where_call(const struct tc_where *w, const char *method, struct json_object *params, int timeout_ms,
		  const char *what, struct json_object **res);
/* Close what tc_where_locate opened: rc, or the close's exit code when rc
 * is 0. */
int tc_where_release(struct tc_where *w, int rc);
/* The spec as the holder opened it, or -d. */
const char *tc_where_spec(const struct tc_common *c, const struct tc_where *w);
/* "held_by": {pid, program}, or null when opened here. */
void tc_where_add_holder(struct json_object *doc, const struct tc_where *w);

#endif
