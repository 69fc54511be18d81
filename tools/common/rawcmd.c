/*
 * tools/common/rawcmd.c - "orionstor cmd": one raw CDB, like sg_raw.
 *
 * Builds a task from hex bytes, executes it synchronously and shows what
 * came back: status, decoded sense, residual and the data-in bytes.  The
 * exit status follows the outcome's category (orionstor(1), EXIT STATUS).
 */
#include "toolcommon.h"
#include "subcommands.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Upper bound for --request and --send: a raw command is for poking at a
 * device, not for bulk transfers (use read/write for those). */
#define RAW_MAX_DATA (64u * 1024u * 1024u)

enum {
	KEY_CDB = 0x100,
	KEY_REQUEST,
	KEY_SEND,
	KEY_TIMEOUT,
};

struct raw_args {
	uint8_t cdb[OSTOR_CDB_MAX];
	size_t cdb_len;
	size_t request;
	const char *send;
	const char *output;
	unsigned int timeout_ms;
};

static error_t raw_parser(int key, char *arg, struct argp_state *state)
{
	struct raw_args *a = state->input;
	char why[160];
	int n;

	switch (key) {
	case KEY_CDB:
		n = tc_parse_hex_bytes(arg, a->cdb, sizeof(a->cdb), why, sizeof(why));
		if (n < 0)
			argp_error(state, "invalid --cdb '%s': %s", arg, why);
		a->cdb_len = (size_t)n;
		return 0;
	case KEY_REQUEST:
		a->request = (size_t)tc_argp_size(state, "--request", arg, RAW_MAX_DATA);
		return 0;
	case KEY_SEND:
		if (!*arg)
			argp_error(state, "--send needs a file name");
		a->send = arg;
		return 0;
	case 'o':
		if (!*arg)
			argp_error(state, "-o needs a file name");
		a->output = arg;
		return 0;
	case KEY_TIMEOUT:
		a->timeout_ms = (unsigned int)tc_argp_u64(state, "--timeout", arg, UINT32_MAX);
		return 0;
	case ARGP_KEY_END:
		if (!a->cdb_len)
			argp_error(state, "--cdb \"HEX BYTES\" is required");
		if (a->send && a->request)
			argp_error(state, "--request and --send exclude each other "
				   "(bidirectional commands are not supported)");
		return 0;
	default:
		return ARGP_ERR_UNKNOWN;
	}
}

static const struct argp_option raw_options[] = {
	{ "cdb", KEY_CDB, "HEX", 0,
	  "The command bytes, e.g. \"28 00 00 00 00 00 00 00 01 00\" (1..32 bytes)", 1 },
	{ "request", KEY_REQUEST, "SIZE", 0, "Expect up to SIZE bytes of data-in (4096, 4k, 1M)", 1 },
	{ "send", KEY_SEND, "FILE", 0, "Send the contents of FILE as data-out", 1 },
	{ "output", 'o', "FILE", 0, "Write the data-in to FILE ('-': standard output)", 1 },
	{ "timeout", KEY_TIMEOUT, "MS", 0, "Command timeout in milliseconds "
	  "(default: the configured one)", 1 },
	{ NULL }
};

static const struct argp raw_argp = {
	raw_options, raw_parser, NULL,
	"Send one SCSI command and show the status, the sense and the data.\v"
	"The data-in is hex-dumped unless -o is given (-H dumps it as well).  "
	"The exit status is the outcome's category (see orionstor(1))."
};

/* The whole file, at most RAW_MAX_DATA bytes (pipes work too). */
static int slurp(const char *path, uint8_t **out, size_t *len)
{
	size_t cap = 0, n = 0;
	uint8_t *buf = NULL;
	int fd;

	fd = strcmp(path, "-") == 0 ? STDIN_FILENO : open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		tc_msg("cannot open '%s': %s", path, strerror(errno));
		return TC_EXIT_FILE_ERROR;
	}
	for (;;) {
		ssize_t got;

		if (n == cap) {
			uint8_t *nb;

			if (cap >= RAW_MAX_DATA) {
				tc_msg("'%s' is larger than %u bytes; use 'orionstor write' "
				       "for bulk data", path, RAW_MAX_DATA);
				goto fail;
			}
			cap = cap ? cap * 2 : 65536;
			if (cap > RAW_MAX_DATA)
				cap = RAW_MAX_DATA;
			nb = realloc(buf, cap + 1); /* +1: room to detect oversize */
			if (!nb) {
				tc_msg("out of memory reading '%s'", path);
				goto fail;
			}
			buf = nb;
		}
		got = tc_read_full(fd, buf + n, cap - n);
		if (got < 0) {
			tc_msg("error reading '%s': %s", path, strerror(errno));
			goto fail;
		}
		n += (size_t)got;
		if (n < cap)
			break;
		if (cap == RAW_MAX_DATA) {
			/* Full at the limit: one more byte means too big. */
			got = tc_read_full(fd, buf + n, 1);
			if (got != 0) {
				tc_msg("'%s' is larger than %u bytes; use 'orionstor write' "
				       "for bulk data", path, RAW_MAX_DATA);
				goto fail;
			}
			break;
		}
	}
	if (fd != STDIN_FILENO)
		close(fd);
	*out = buf;
	*len = n;
	return 0;
fail:
	if (fd != STDIN_FILENO)
		close(fd);
	free(buf);
	return TC_EXIT_FILE_ERROR;
}

/* Decode the answers people most often poke at by hand. */
static struct json_object *decode_data(const uint8_t *cdb, size_t cdb_len,
				       const uint8_t *data, size_t len, FILE *text)
{
	struct json_object *o = NULL;

	if (cdb[0] == OSTOR_SCSI_OP_READ_CAPACITY10 ||
	    (cdb[0] == OSTOR_SCSI_OP_SERVICE_ACTION_IN16 && cdb_len >= 2 &&
	     (cdb[1] & 0x1f) == OSTOR_SCSI_SAI_READ_CAPACITY16)) {
		struct ostor_scsi_read_capacity rc = OSTOR_SCSI_READ_CAPACITY_INIT;
		bool ten = cdb[0] == OSTOR_SCSI_OP_READ_CAPACITY10;
		char human[32] = "?";
		uint64_t bytes;

		if ((ten ? ostor_scsi_parse_read_capacity10(data, len, &rc)
			 : ostor_scsi_parse_read_capacity16(data, len, &rc)) < 0)
			return NULL;
		if (!__builtin_mul_overflow(rc.blocks, (uint64_t)rc.block_size, &bytes))
			tc_human_size(bytes, human, sizeof(human));
		o = json_object_new_object();
		json_object_object_add(o, "command", json_object_new_string(
			ten ? "READ CAPACITY(10)" : "READ CAPACITY(16)"));
		json_object_object_add(o, "last_lba", tc_json_u64(rc.last_lba));
		json_object_object_add(o, "block_size", json_object_new_int64(rc.block_size));
		json_object_object_add(o, "blocks", tc_json_u64(rc.blocks));
		if (text)
			fprintf(text, "READ CAPACITY: last LBA %" PRIu64 ", block size %" PRIu32
				", %" PRIu64 " blocks (%s)\n", rc.last_lba, rc.block_size,
				rc.blocks, human);
	} else if (cdb[0] == OSTOR_SCSI_OP_INQUIRY && cdb_len >= 2 && !(cdb[1] & 1)) {
		struct ostor_scsi_inquiry inq = OSTOR_SCSI_INQUIRY_INIT;

		if (ostor_scsi_parse_inquiry(data, len, &inq) < 0)
			return NULL;
		o = json_object_new_object();
		json_object_object_add(o, "command", json_object_new_string("INQUIRY"));
		json_object_object_add(o, "peripheral_qualifier",
				       json_object_new_int(inq.peripheral_qualifier));
		json_object_object_add(o, "peripheral_type", json_object_new_string(
			ostor_peripheral_type_name(inq.peripheral_type)));
		json_object_object_add(o, "removable", json_object_new_boolean(inq.removable));
		json_object_object_add(o, "vendor", json_object_new_string(inq.vendor));
		json_object_object_add(o, "product", json_object_new_string(inq.product));
		json_object_object_add(o, "revision", json_object_new_string(inq.revision));
		if (text)
			fprintf(text, "INQUIRY: %s '%s' '%s' '%s'%s\n",
				ostor_peripheral_type_name(inq.peripheral_type), inq.vendor,
				inq.product, inq.revision, inq.removable ? ", removable" : "");
	}
	return o;
}

static int write_output(const char *path, const uint8_t *data, size_t len)
{
	bool to_stdout = strcmp(path, "-") == 0;
	int fd;

	if (to_stdout) {
		fflush(stdout);
		fd = STDOUT_FILENO;
	} else {
		fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0666);
		if (fd < 0) {
			tc_msg("cannot create '%s': %s", path, strerror(errno));
			return TC_EXIT_FILE_ERROR;
		}
	}
	if (tc_write_all(fd, data, len) < 0) {
		tc_msg("error writing '%s': %s", path, strerror(errno));
		if (!to_stdout)
			close(fd);
		return TC_EXIT_FILE_ERROR;
	}
	if (!to_stdout && close(fd) < 0) {
		tc_msg("error closing '%s': %s", path, strerror(errno));
		return TC_EXIT_FILE_ERROR;
	}
	return 0;
}

int orionstor_cmd_raw(int argc, char **argv)
{
	struct raw_args a = { .cdb_len = 0 };
	struct tc_common c;
	ostor_context *ctx = NULL;
	ostor_device *dev = NULL;
	ostor_task *task = NULL;
	uint8_t *data = NULL;
	size_t data_len = 0, sense_len = 0, transferred, residual;
	const uint8_t *sense;
	enum ostor_dir dir = OSTOR_DIR_NONE;
	struct ostor_scsi_sense sd = OSTOR_SCSI_SENSE_INIT;
	bool sense_ok = false;
	char sense_text[256] = "";
	FILE *text;
	int rc, err, status, result;

	tc_parse(&raw_argp, argc, argv,
		 TC_OPT_DEVICE_REQUIRED | TC_OPT_JSON | TC_OPT_HEX, &c, &a);
	if (a.output && strcmp(a.output, "-") == 0 && c.json)
		tc_usage_error("-o - and --json would both use standard output");
	if (a.output && strcmp(a.output, "-") == 0 && isatty(STDOUT_FILENO))
		tc_usage_error("refusing to write binary data to a terminal; use -o FILE or -H");

	if (a.send) {
		rc = slurp(a.send, &data, &data_len);
		if (rc)
			return rc;
		dir = data_len ? OSTOR_DIR_TO_DEVICE : OSTOR_DIR_NONE;
	} else if (a.request) {
		data = calloc(1, a.request);
		if (!data) {
			tc_msg("out of memory for %zu bytes of data-in", a.request);
			return TC_EXIT_OTHER;
		}
		data_len = a.request;
		dir = OSTOR_DIR_FROM_DEVICE;
	}

	rc = tc_open_device(&c, &ctx, &dev);
	if (rc)
		goto out;
	err = ostor_task_new(dev, &task);
	if (err >= 0)
		err = ostor_task_set_lun(task, c.target, c.lun);
	if (err >= 0)
		err = ostor_task_set_cdb(task, a.cdb, a.cdb_len);
	if (err >= 0)
		err = ostor_task_set_buffer(task, dir, dir == OSTOR_DIR_NONE ? NULL : data,
					    dir == OSTOR_DIR_NONE ? 0 : data_len);
	if (err >= 0 && a.timeout_ms)
		err = ostor_task_set_timeout(task, a.timeout_ms);
	if (err < 0) {
		tc_lib_error(err, "cannot prepare the command");
		rc = tc_exit_from_error(err);
		goto out;
	}
	err = ostor_task_execute(task);
	if (err < 0) {
		tc_lib_error(err, "cannot execute the command");
		rc = tc_exit_from_error(err);
		goto out;
	}

	result = ostor_task_result(task);
	status = ostor_task_status(task);
	sense = ostor_task_sense(task, &sense_len);
	if (!sense)
		sense_len = 0;
	if (sense_len > OSTOR_SENSE_MAX)
		sense_len = OSTOR_SENSE_MAX;
	if (sense_len && ostor_scsi_parse_sense(sense, sense_len, &sd) == 0) {
		sense_ok = true;
		ostor_scsi_sense_text(&sd, sense_text, sizeof(sense_text));
	}
	transferred = ostor_task_transferred(task);
	residual = ostor_task_residual(task);
	/* Never show more than the buffer we handed over. */
	if (transferred > data_len)
		transferred = data_len;
	rc = tc_exit_from_task(task);

	if (c.json) {
		struct json_object *root = json_object_new_object();
		struct json_object *so = NULL, *dec;
		bool have_in = dir == OSTOR_DIR_FROM_DEVICE;

		json_object_object_add(root, "device", json_object_new_string(c.device));
		json_object_object_add(root, "target", json_object_new_int64(c.target));
		json_object_object_add(root, "lun", json_object_new_int64(c.lun));
		json_object_object_add(root, "cdb", tc_json_hex(a.cdb, a.cdb_len));
		json_object_object_add(root, "status",
			status >= 0 ? json_object_new_int(status) : NULL);
		json_object_object_add(root, "status_name", status >= 0 ?
			json_object_new_string(ostor_scsi_status_name(status)) : NULL);
		json_object_object_add(root, "result",
			json_object_new_string(ostor_result_name(result)));
		if (sense_len) {
			so = json_object_new_object();
			if (sense_ok) {
				json_object_object_add(so, "key", json_object_new_int(sd.key));
				json_object_object_add(so, "key_name",
					json_object_new_string(ostor_scsi_sense_key_name(sd.key)));
				json_object_object_add(so, "asc", json_object_new_int(sd.asc));
				json_object_object_add(so, "ascq", json_object_new_int(sd.ascq));
				json_object_object_add(so, "text", json_object_new_string(sense_text));
			}
			json_object_object_add(so, "raw", tc_json_hex(sense, sense_len));
		}
		json_object_object_add(root, "sense", so);
		json_object_object_add(root, "residual", tc_json_u64(residual));
		json_object_object_add(root, "transferred", tc_json_u64(transferred));
		json_object_object_add(root, "data", have_in ?
			tc_json_hex(data, transferred) : NULL);
		dec = have_in && result == OSTOR_RESULT_GOOD ?
		      decode_data(a.cdb, a.cdb_len, data, transferred, NULL) : NULL;
		if (dec)
			json_object_object_add(root, "decoded", dec);
		json_object_object_add(root, "exit_status", json_object_new_int(rc));
		err = tc_json_print(root);
		json_object_put(root);
		if (err)
			rc = err;
	} else {
		/* With the data on standard output, the report goes to stderr. */
		text = a.output && strcmp(a.output, "-") == 0 ? stderr : stdout;
		if (status >= 0)
			fprintf(text, "status: %s (0x%02x)\n", ostor_scsi_status_name(status),
				(unsigned int)status);
		else
			fprintf(text, "status: none (the transport delivered no SCSI status)\n");
		fprintf(text, "result: %s\n", ostor_result_name(result));
		if (sense_len) {
			fprintf(text, "sense: %s\n", sense_ok ? sense_text :
				"(not decodable)");
			tc_hexdump(text, sense, sense_len, 0);
		}
		fprintf(text, "transferred: %zu\nresidual: %zu\n", transferred, residual);
		if (dir == OSTOR_DIR_FROM_DEVICE && (!a.output || c.hex)) {
			fprintf(text, "data-in (%zu bytes):\n", transferred);
			tc_hexdump(text, data, transferred, 0);
		}
		if (dir == OSTOR_DIR_FROM_DEVICE && result == OSTOR_RESULT_GOOD)
			json_object_put(decode_data(a.cdb, a.cdb_len, data,
						    transferred, text));
	}
	if (a.output && dir == OSTOR_DIR_FROM_DEVICE) {
		err = write_output(a.output, data, transferred);
		if (err && !rc)
			rc = err;
	}
	err = tc_finish_stdout();
	if (err && !rc)
		rc = err;
	/* The report is the output; standard error says why the status is not 0. */
	if (rc == TC_EXIT_OVERRUN)
		tc_msg("the device had more data than the %zu-byte buffer: give --request with the "
		       "command's transfer length", data_len);
	else if (rc && !err)
		tc_msg("the command did not complete GOOD: %s%s%s (exit status %d)", ostor_result_name(result),
		       sense_ok ? ", " : "", sense_ok ? sense_text : "", rc);

out:
	if (task)
		ostor_task_free(task);
	free(data);
	err = tc_close(ctx, dev);
	return rc ? rc : err;
}
