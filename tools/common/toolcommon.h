/*
 * tools/common/toolcommon.h - the small library every orionstor tool links.
 *
 * Shared option vocabulary (argp), context and device opening, exit codes
 * by result category, json-c output, hex dumps, number parsing and a
 * progress bar.  Tools use only the public liborionstor API; nothing here
 * reaches into the library's internals.
 *
 * Copyright (C) 2026 The liborionstor authors.  LGPL-2.1-or-later.
 */
#ifndef ORIONSTOR_TOOLCOMMON_H
#define ORIONSTOR_TOOLCOMMON_H

/* asprintf, program_invocation_short_name: every tool includes this first. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE 1
#endif

#include <argp.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <json-c/json.h>

#include <orionstor.h>

#if defined(__GNUC__)
#define TC_PRINTF(f, a) __attribute__((format(printf, f, a)))
#define TC_NORETURN __attribute__((noreturn))
#else
#define TC_PRINTF(f, a)
#define TC_NORETURN
#endif

#define TC_ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

/* ---- exit codes (sg3_utils's numbers; the table is in orionstor(1)) ---- */
enum tc_exit {
	TC_EXIT_OK = 0,
	TC_EXIT_SYNTAX = 1,               /* usage / syntax error, malformed spec */
	TC_EXIT_NOT_READY = 2,
	TC_EXIT_MEDIUM_HARDWARE = 3,      /* MEDIUM or HARDWARE ERROR, I/O error */
	TC_EXIT_HEALTH_UNKNOWN = 4,       /* smart: no verdict (smartctl's bit 2); not sg3 */
	TC_EXIT_ILLEGAL_REQUEST = 5,
	TC_EXIT_UNIT_ATTENTION = 6,
	TC_EXIT_DATA_PROTECT = 7,
	TC_EXIT_HEALTH_FAILING = 8,       /* smart: failure predicted (smartctl's bit 3); not sg3 */
	TC_EXIT_INVALID_OPCODE = 9,
	TC_EXIT_COPY_ABORTED = 10,
	TC_EXIT_ABORTED_COMMAND = 11,
	TC_EXIT_MISCOMPARE = 14,
	TC_EXIT_FILE_ERROR = 15,          /* a device or file that cannot be opened, read or written */
	TC_EXIT_NO_SENSE = 20,
	TC_EXIT_RECOVERED_ERROR = 21,
	TC_EXIT_LBA_OUT_OF_RANGE = 22,
	TC_EXIT_RESERVATION_CONFLICT = 24,
	TC_EXIT_BUSY = 26,
	TC_EXIT_TASK_SET_FULL = 27,
	TC_EXIT_ACA_ACTIVE = 28,
	TC_EXIT_TASK_ABORTED = 29,
	TC_EXIT_TIMEOUT = 33,
	TC_EXIT_DEVICE_GONE = 35,         /* not sg3 */
	TC_EXIT_TRANSPORT = 37,           /* not sg3 (which says 99) */
	TC_EXIT_NOT_HELD = 38,            /* no process holds the device (live tools); not sg3 */
	TC_EXIT_NOT_FOUND = 39,           /* no such target, LUN, process or command; not sg3 */
	TC_EXIT_OVERRUN = 49,             /* more data than the buffer (sg3: wild residual) */
	TC_EXIT_SENSE_OTHER = 98,         /* another sense key, or sense we cannot decode */
	TC_EXIT_OTHER = 99,               /* another SCSI status, any other error */
	TC_EXIT_INTERRUPTED = 130         /* SIGINT/SIGTERM: stopped, what was done reported */
};

/* Exit code for a negative enum ostor_error (0 for OSTOR_SUCCESS). */
int tc_exit_from_error(int error);
/* The same for ostor_open's error: a device that is not there or cannot
 * be opened is TC_EXIT_FILE_ERROR (sg3_utils: the device node). */
int tc_exit_from_open_error(int error);
/* Exit code of a health verdict (enum ostor_health_verdict): 0 passed,
 * TC_EXIT_HEALTH_FAILING, TC_EXIT_HEALTH_UNKNOWN. */
int tc_exit_from_verdict(int verdict);
/* Exit code for a completed task: its result and, for CHECK CONDITION,
 * the sense key (and ASC 20h: invalid opcode). */
int tc_exit_from_task(const ostor_task *task);
/* The same decision from the raw pieces (used by tc_exit_from_task);
 * status is the SCSI status byte (it tells TASK SET FULL from BUSY, ACA
 * ACTIVE and TASK ABORTED from other statuses). */
int tc_exit_from_result(int result, int status, const uint8_t *sense, size_t sense_len);

/* ---- program name and messages ----------------------------------------- */

/* "orionstor read" etc.; used as the prefix of every message. */
void tc_set_progname(const char *name);
const char *tc_progname(void);
/* "prog: message\n" on stderr. */
void tc_msg(const char *fmt, ...) TC_PRINTF(1, 2);
/* "prog: SPEC: message: <ostor_last_error() or ostor_strerror(error)>\n",
 * the device spec (tc_set_device) named once, not in every part. */
void tc_lib_error(int error, const char *fmt, ...) TC_PRINTF(2, 3);
/* The device the messages are about (tc_parse sets it from -d). */
void tc_set_device(const char *spec);
/* --json given: when the program exits non-zero having printed no JSON,
 * its last message goes to stdout as {"device", "error": {"message",
 * "code", "exit_status"}} (orionstor-json(7)).  tc_parse calls it. */
void tc_json_errors(bool on);
/* Note that a JSON document went to stdout (tc_json_print does). */
void tc_json_printed(void);
/* The example spec for "-d SPEC" hints, by the TC_OPT_* groups. */
const char *tc_spec_example(unsigned int groups);
/* The PCI address in a -d of a TC_OPT_PCI tool ("virtio:" dropped), or
 * NULL after saying that it is not one. */
const char *tc_pci_address(const char *device);
/* Print a usage error plus the --help hint and exit TC_EXIT_SYNTAX. */
TC_NORETURN void tc_usage_error(const char *fmt, ...) TC_PRINTF(1, 2);

/* ---- number parsing ------------------------------------------------------ */

/* Decimal or 0x hex, the whole string, 0..max.  No sign, no spaces, no
 * octal surprise ("010" is ten).  Returns 0, or -1 with *why set to a
 * static reason ("not a number", "out of range (max N)" ...). */
int tc_parse_u64(const char *text, uint64_t max, uint64_t *out, const char **why);

/* A byte count: a number as tc_parse_u64 takes it, optionally followed by
 * k, M, G or T (powers of 1024, either case).  0 or -1 with *why. */
int tc_parse_size(const char *text, uint64_t max, uint64_t *out, const char **why);

/* ---- argp: the shared option vocabulary ----------------------------------- */

/* Option groups a tool asks for (TC_OPT_BASE is always on). */
#define TC_OPT_BASE    0x00u  /* -v/--verbose, -c/--config, -V/--version */
#define TC_OPT_DEVICE  0x01u  /* -d/--device, --target, --lun */
#define TC_OPT_DEVICE_REQUIRED 0x02u /* ...and -d is mandatory */
#define TC_OPT_JSON    0x04u  /* -j/--json */
#define TC_OPT_HEX     0x08u  /* -H/--hex */
#define TC_OPT_LIVE    0x10u  /* --pid, --socket: which process (live tools) */
#define TC_OPT_USB     0x20u  /* -d takes USB specs only (help and hints say so) */
#define TC_OPT_VIRTIO  0x40u  /* -d takes virtio-scsi specs only */
#define TC_OPT_PCI     0x80u  /* -d takes a PCI address only (virtio:BB:DD.F) */
#define TC_OPT_NO_LUN  0x100u /* the tool acts on a device or target: no --lun */
#define TC_OPT_NO_TARGET 0x200u /* ...and no --target */

struct tc_common {
	const char *device;      /* -d SPEC */
	uint32_t target;         /* --target, default 0 */
	uint32_t lun;            /* --lun, default 0 */
	bool target_set;
	bool lun_set;
	bool json;               /* -j */
	bool hex;                /* -H */
	int verbose;             /* -v count */
	const char *config;      /* -c FILE */
	long pid;                /* --pid N, 0 when not given */
	const char *socket;      /* --socket PATH */
	unsigned int groups;     /* which TC_OPT_* were offered */
};

/* Keys of the shared options that have no short letter (tools must keep
 * their own long-only keys below TC_KEY_BASE). */
#define TC_KEY_BASE 0x1000

/*
 * Parse argv with the tool's own argp (its parser gets tool_input as
 * state->input) plus the shared groups (filled into *common).  Usage errors
 * exit with TC_EXIT_SYNTAX, --help and --version exit 0.  Returns only on
 * success.
 */
void tc_parse(const struct argp *tool, int argc, char **argv,
	      unsigned int groups, struct tc_common *common, void *tool_input);

/* For a tool's parser: a byte count with an optional k/M/G/T suffix, or
 * argp_error() out. */
uint64_t tc_argp_size(struct argp_state *state, const char *option, const char *arg, uint64_t max);
/* For a tool's parser: convert an option argument or argp_error() out. */
uint64_t tc_argp_u64(struct argp_state *state, const char *option,
		     const char *arg, uint64_t max);

/* Install the -V/--version hook and argp's exit status (done by tc_parse;
 * call it directly when a tool runs argp_parse itself). */
void tc_argp_setup(void);

/* ---- context and device ----------------------------------------------- */

/* ostor_init with -c, then raise the log level by -v.  Returns 0 or an
 * exit code (message printed). */
int tc_open_context(const struct tc_common *common, ostor_context **ctx);
/* tc_open_context + ostor_open(common->device).  Returns 0 or an exit
 * code (message printed, nothing left open). */
int tc_open_device(const struct tc_common *common, ostor_context **ctx,
		   ostor_device **dev);
/* ostor_close + ostor_exit; returns 0 or the exit code of a close (flush)
 * failure, printed loudly.  Either pointer may be NULL. */
int tc_close(ostor_context *ctx, ostor_device *dev);

/* ---- output ------------------------------------------------------------ */

/* Hex dump in the style of sg3_utils' dStrHex / hexdump -C:
 * "00000010  28 00 00 00 00 00 00 00  01 00 00 00 00 00 00 00  (...............".
 * base is added to the printed offsets. */
void tc_hexdump(FILE *out, const void *data, size_t len, uint64_t base);
/* Lower-case hex string without separators, malloc'ed (NULL: no memory). */
char *tc_hex_string(const void *data, size_t len);
/* Parse "28 00 00" / "280000" / "0x28 0 0" into bytes.  Returns the
 * number of bytes, or -1 with a message in why (buf of whylen). */
int tc_parse_hex_bytes(const char *text, uint8_t *out, size_t max,
		       char *why, size_t whylen);

/* Print a json-c object (pretty) with a newline to stdout; returns 0 or
 * TC_EXIT_FILE_ERROR.  Does not free obj. */
int tc_json_print(struct json_object *obj);
/* json_object_new_int64 for uint64_t values beyond INT64_MAX as well
 * (json-c >= 0.14 has uint64; older ones clamp, which never happens for
 * real block counts). */
struct json_object *tc_json_u64(uint64_t v);
/* A LUN as every tool shows it (luninfo.c): the JSON object, and a row
 * of the text table under tc_lun_text_header(). */
struct json_object *tc_lun_info_json(const struct ostor_lun_info *li);
void tc_lun_text_header(void);
void tc_lun_text(const struct ostor_lun_info *li);
/* "2048 blocks (1.0 MiB)": the per-command limit, in every tool's words. */
const char *tc_max_transfer_text(const struct ostor_lun_info *li, char *buf, size_t len);
/* INQUIRY (evpd 0: standard; 1: VPD page) into buf: 0 or an ostor error,
 * *got the bytes that came. */
int tc_inquiry(ostor_device *dev, uint32_t target, uint32_t lun, int evpd, uint8_t page,
	       uint8_t *buf, size_t len, size_t *got);
/* -H: the standard INQUIRY and every VPD page as hex dumps, or as hex
 * strings in json's "raw" member when json is not NULL. */
void tc_lun_hex(ostor_device *dev, uint32_t target, uint32_t lun, struct json_object *json);
/* {"target": T, "lun": L} */
struct json_object *tc_lun_json(uint32_t target, uint32_t lun);
/* A JSON string of the hex of data (never NULL unless out of memory). */
struct json_object *tc_json_hex(const void *data, size_t len);
/* A field of an object (jsonget.c): NULL, "", 0 or false when o is NULL
 * or has no such key. */
struct json_object *tc_jobj(struct json_object *o, const char *key);
const char *tc_jstr(struct json_object *o, const char *key);
int64_t tc_jint(struct json_object *o, const char *key);
uint64_t tc_ju64(struct json_object *o, const char *key);
double tc_jnum(struct json_object *o, const char *key);
bool tc_jbool(struct json_object *o, const char *key);

/* What an action tool (reset, remove, bind ...) did, step by step: a
 * line each in text; with --json one document at the end (orionstor-json(7)):
 * {"device", "action", "steps": [{"step", "message"}], ..., "exit_status",
 * "error" when it failed}. */
struct tc_report {
	bool json;
	struct json_object *root, *steps;
};
void tc_report_begin(struct tc_report *r, const struct tc_common *c, const char *action);
void tc_report_step(struct tc_report *r, const char *step, const char *fmt, ...) TC_PRINTF(3, 4);
/* A JSON-only member (takes the reference). */
void tc_report_set(struct tc_report *r, const char *key, struct json_object *value);
/* Print the JSON, free; returns rc, or tc_finish_stdout()'s when rc is 0. */
int tc_report_end(struct tc_report *r, int rc);
/* A failed run's "error": {"message", "code", "exit_status"} member
 * (the last message printed); nothing when rc is 0. */
void tc_json_add_error(struct json_object *o, int rc);
/* The last message tc_msg/tc_lib_error/tc_usage_error printed ("" if none)
 * and its library error name (NULL if none). */
const char *tc_last_message(const char **code);

/* Write all of buf to fd (EINTR and short writes handled); 0 or -1/errno. */
int tc_write_all(int fd, const void *buf, size_t len);
/* Read up to len bytes (short only at EOF); returns the count or -1/errno. */
ssize_t tc_read_full(int fd, void *buf, size_t len);
/* fflush + ferror on stdout: 0 or TC_EXIT_FILE_ERROR (message printed). */
int tc_finish_stdout(void);

/* "64.0 MiB" style; returns buf. */
const char *tc_human_size(uint64_t bytes, char *buf, size_t buflen);

/* ---- progress bar (stderr, only when it is a terminal) --------------- */

struct tc_progress {
	bool active;
	const char *label;
	uint64_t total;
	uint64_t done;
	uint64_t start_ms;
	uint64_t last_ms;
};

/* enable=false (e.g. --quiet or JSON) keeps it silent; so does a stderr
 * that is not a TTY. */
void tc_progress_begin(struct tc_progress *p, const char *label,
		       uint64_t total_bytes, bool enable);
void tc_progress_update(struct tc_progress *p, uint64_t done_bytes);
/* Erase the bar (the caller reports the outcome). */
void tc_progress_end(struct tc_progress *p);

/* Monotonic milliseconds, nanoseconds. */
uint64_t tc_now_ms(void);
uint64_t tc_now_ns(void);
/* Pseudo-random 64-bit numbers (xorshift64*) from a non-zero *state:
 * fast, for spreading benchmark offsets, not for anything secret. */
uint64_t tc_rand64(uint64_t *state);

#endif /* ORIONSTOR_TOOLCOMMON_H */
