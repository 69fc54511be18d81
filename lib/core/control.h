/*
 * lib/core/control.h - the control socket: a live management plane.
 *
 * A process with devices open listens on <dir>/<pid>.sock (JSON-RPC 2.0,
 * one request or reply per line) so that tools in other processes can see
 * what it holds (orionstor ps).  One library thread serves it with poll();
 * it starts with the first device of the process and stops with the last.
 * The [control] table of orionstor.conf(5) turns it off or moves it.
 *
 * Adding a method: write an ostori_control_fn in control_methods.c (or a
 * file of your own, declared here) and add a line to the method table
 * there.  A method that looks at devices goes through
 * ostori_control_with_device() or ostori_device_foreach(), never through
 * a pointer it kept.
 */
#ifndef OSTOR_CORE_CONTROL_H
#define OSTOR_CORE_CONTROL_H

#include "core/backend.h"

struct json_object;

/* ---- [control] of orionstor.conf (control_config.c) ----------------------- */

struct ostori_control_config {
	bool socket;                             /* serve a control socket */
	char socket_dir[OSTORI_CONFIG_TEXT_MAX]; /* "": automatic */
};

extern const struct ostori_config_table ostori_control_config_table;

static inline const struct ostori_control_config *ostori_control_config(const struct ostor_config *cfg)
{
	return (const struct ostori_control_config *)ostori_config_data(cfg, &ostori_control_config_table);
}

/* Longest socket_dir that leaves room for "/<pid>.sock" in sun_path. */
#define OSTORI_CONTROL_DIR_MAX 80

/* The directory cfg names: socket_dir, else /run/orionstor for root, else
 * $XDG_RUNTIME_DIR/orionstor.  OSTOR_ERROR_NOT_SUPPORTED when socket is
 * false, OSTOR_ERROR_NOT_FOUND when there is no safe automatic one (both
 * with the message set). */
int ostori_control_dir(const struct ostor_config *cfg, char *buf, size_t len);

/* ---- the server (control.c) ------------------------------------------------ */

/* ostor_open, after the device is registered: start the server if this
 * is the first device of the process and ctx's configuration asks for it.
 * Failures are logged (on ctx) and never fail the open. */
void ostori_control_on_open(ostor_context *ctx);
/* ostor_close after the device is unregistered, and ostor_exit: stop the
 * server (thread joined, socket and lock file removed) when no device is
 * left open in the process.  No lock may be held by the caller. */
void ostori_control_on_close(void);

/* ostor_open, when the backend found text's device busy (err): if a
 * process with a control socket holds it, say which in the message
 * ("... is held by pid N (prog) ...").  Returns err (control_lookup.c). */
int ostori_control_explain_busy(ostor_context *ctx, const char *text, int err);

/* Tests: the server's socket path ("" when none), and the time a client
 * may stay idle or slow (default 5000 ms; 0 restores it). */
void ostori_control_socket_path(char *buf, size_t len);
void ostori_control_set_timeout_ms(unsigned int ms);
/* Tests: server threads running (0 or 1; the thread is named
 * "ostor-control"). */
unsigned int ostori_control_threads(void);

/* Tests and fuzzing only: handle one request line (len bytes, no '\n')
 * as the server would; returns the reply lines (malloc'ed, each ending in
 * '\n', *reply_len bytes; the caller frees them), NULL when there is
 * nothing to send. */
char *ostori_control_handle_line(const char *line, size_t len, size_t *reply_len);

/* Limits of the protocol. */
#define OSTORI_CONTROL_REQUEST_MAX 65536 /* bytes of a request, without its '\n' */
#define OSTORI_CONTROL_MAX_CLIENTS 16
#define OSTORI_CONTROL_TIMEOUT_MS 5000

/* ---- methods (control_methods.c) ------------------------------------------- */

/*
 * A method: params is the request's "params" (an object or array, NULL
 * when absent; borrowed).  On success store a new json-c value in *result
 * (NULL means JSON null) and return 0; on failure return a negative
 * OSTOR_ERROR_* with ostori_error() set: the client gets error code
 * -32000 + error (e.g. -32005 for OSTOR_ERROR_NOT_FOUND), the message and
 * {"error": "OSTOR_ERROR_NOT_FOUND"} as data; OSTOR_ERROR_INVALID_PARAM
 * is sent as JSON-RPC's -32602 (invalid params).  Methods run on the
 * server thread: they must not block for long, open or close devices.
 */
typedef int (*ostori_control_fn)(struct json_object *params, struct json_object **result);

struct ostori_control_method {
	const char *name;
	ostori_control_fn fn;
};

/* The table, ending with a NULL name. */
extern const struct ostori_control_method ostori_control_methods[];

/*
 * Devices of the process, safe against ostor_close: fn runs with the
 * process-wide registry of open devices locked, and ostor_close takes a
 * device out of the registry before it tears anything down, so dev stays
 * open while fn runs.  In return fn must be short: no I/O, no waiting, no
 * ostor_open/ostor_close (they take the same lock).  A non-zero return
 * from fn stops the walk and is returned (device.c).
 */
int ostori_device_foreach(int (*fn)(ostor_device *dev, void *arg), void *arg);
/* The same for the device opened with exactly this spec: fn's return, or
 * OSTOR_ERROR_NOT_FOUND (message set) when no such device is open. */
int ostori_control_with_device(const char *spec, int (*fn)(ostor_device *dev, void *arg), void *arg);

/* Methods that wait (for a queue's owner, a command's fate) cannot hold
 * the registry: they take a reference to the device opened with spec,
 * which ostor_close waits for after unregistering it (device.c). */
int ostori_control_hold_device(const char *spec, ostor_device **dev);
void ostori_control_release_device(ostor_device *dev);

/* Parameters of a method (control_manage.c): 0, or OSTOR_ERROR_INVALID_PARAM
 * with the message set.  A string (NULL when absent and not required); an
 * integer (or a string of one) in [min, max], def when absent; a boolean,
 * -1 when absent. */
int ostori_param_string(struct json_object *params, const char *key, bool required, const char **out);
int ostori_param_int(struct json_object *params, const char *key, int64_t min, int64_t max, int64_t def,
		     int64_t *out);
int ostori_param_bool(struct json_object *params, const char *key, int *out);
/* "target" and "lun": either given, that LUN (the other 0); *one false
 * when neither is. */
int ostori_param_lun(struct json_object *params, bool *one, uint32_t *target, uint32_t *lun);

/* Statistics and live management (control_manage.c). */
int ostori_method_stats(struct json_object *params, struct json_object **result);
int ostori_method_queues(struct json_object *params, struct json_object **result);
int ostori_method_commands(struct json_object *params, struct json_object **result);
int ostori_method_abort(struct json_object *params, struct json_object **result);
int ostori_method_queue_flush(struct json_object *params, struct json_object **result);
int ostori_method_tuning(struct json_object *params, struct json_object **result);
int ostori_method_reset(struct json_object *params, struct json_object **result);
/* The block cache (control_cache.c). */
int ostori_method_cache(struct json_object *params, struct json_object **result);
int ostori_method_cache_flush(struct json_object *params, struct json_object **result);
int ostori_method_cache_reset(struct json_object *params, struct json_object **result);
/* Health and power (control_health.c). */
int ostori_method_health(struct json_object *params, struct json_object **result);
int ostori_method_power(struct json_object *params, struct json_object **result);
int ostori_method_power_set(struct json_object *params, struct json_object **result);
int ostori_method_health_self_test(struct json_object *params, struct json_object **result);
int ostori_method_power_timer(struct json_object *params, struct json_object **result);
int ostori_method_usb_power(struct json_object *params, struct json_object **result);
int ostori_method_usb_power_set(struct json_object *params, struct json_object **result);

/* JSON-RPC error codes (https://www.jsonrpc.org/specification). */
#define OSTORI_RPC_PARSE_ERROR -32700
#define OSTORI_RPC_INVALID_REQUEST -32600
#define OSTORI_RPC_METHOD_NOT_FOUND -32601
#define OSTORI_RPC_INVALID_PARAMS -32602
/* Library errors: -32000 + enum ostor_error (OSTOR_ERROR_OTHER: -32099). */
#define OSTORI_RPC_LIBRARY_BASE -32000

#endif /* OSTOR_CORE_CONTROL_H */
