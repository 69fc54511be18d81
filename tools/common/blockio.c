/*
 * tools/common/blockio.c - "orionstor read" and "orionstor write".
 *
 * Both move data in bounded chunks through the block helpers, so a huge
 * count never needs a huge buffer, and both refuse to call anything a
 * success that the device did not confirm.
 */
#include "toolcommon.h"
#include "subcommands.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdatomic.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* Bytes moved per library call: big enough to stream, small enough to
 * never matter for memory. */
#define CHUNK_BYTES (1024u * 1024u)

enum {
	KEY_LBA = 0x100,
	KEY_COUNT,
};

struct io_args {
	bool is_write;
	uint64_t lba;
	bool lba_set;
	uint64_t count;
	bool count_set;
	const char *path;       /* -o for read, -i for write */
	bool quiet;
};

static error_t io_parser(int key, char *arg, struct argp_state *state)
{
	struct io_args *a = state->input;

	switch (key) {
	case KEY_LBA:
		a->lba = tc_argp_u64(state, "--lba", arg, UINT64_MAX);
		a->lba_set = true;
		return 0;
	case KEY_COUNT:
		a->count = tc_argp_u64(state, "--count", arg, UINT64_MAX);
		if (a->count == 0)
			argp_error(state, "--count must be at least 1");
		a->count_set = true;
		return 0;
	case 'o':
	case 'i':
		if (!*arg)
			argp_error(state, "-%c needs a file name", key);
		a->path = arg;
		return 0;
	case 'q':
		a->quiet = true;
		return 0;
	case ARGP_KEY_END:
		if (!a->lba_set)
			argp_error(state, "--lba N is required");
		if (!a->is_write && !a->count_set)
			argp_error(state, "--count N is required");
		if (a->is_write && !a->path)
			argp_error(state, "-i FILE is required");
		return 0;
	default:
		return ARGP_ERR_UNKNOWN;
	}
}

static const struct argp_option read_options[] = {
	{ "lba", KEY_LBA, "N", 0, "First logical block to read", 1 },
	{ "count", KEY_COUNT, "N", 0, "Number of blocks to read", 1 },
	{ "output", 'o', "FILE", 0,
	  "Write the data to FILE (default: standard output, '-' too)", 1 },
	{ "quiet", 'q', NULL, 0, "No progress bar", 1 },
	{ NULL }
};

static const struct argp_option write_options[] = {
	{ "lba", KEY_LBA, "N", 0, "First logical block to write", 1 },
	{ "input", 'i', "FILE", 0,
	  "Regular file to write, its length a multiple of the block size; '-': standard "
	  "input until it ends", 1 },
	{ "quiet", 'q', NULL, 0, "No progress bar and no summary", 1 },
	{ NULL }
};

static const struct argp read_argp = {
	read_options, io_parser, NULL,
	"Read COUNT blocks from LBA on and write them raw (or, with -H, as a hex "
	"dump) to FILE or standard output."
};

static const struct argp write_argp = {
	write_options, io_parser, NULL,
	"Write FILE to the blocks from LBA on, then SYNCHRONIZE CACHE.\v"
	"The number of blocks is the file length divided by the block size.  "
	"Success is reported only after the device confirmed the flush."
};

/* SIGINT (unless ignored) and SIGTERM stop a transfer between chunks:
 * the command in flight completes, and what was done is reported. */
/* Atomic, not volatile sig_atomic_t: the signal may be taken on another
 * thread (libusb's event thread), and lock-free atomics are
 * async-signal-safe. */
static atomic_int interrupted;

static void on_interrupt(int sig)
{
	(void)sig;
	atomic_store_explicit(&interrupted, 1, memory_order_relaxed);
}

static void stop_between_chunks(void)
{
	struct sigaction sa, old;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_interrupt;
	sigemptyset(&sa.sa_mask);
	if (sigaction(SIGINT, NULL, &old) == 0 && old.sa_handler != SIG_IGN)
		sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
}

/* --json of read and write: what was moved. */
static int print_summary(const struct tc_common *c, const struct io_args *a, const struct ostor_lun_info *li,
			 uint64_t blocks, const char *file, int flushed)
{
	struct json_object *o = json_object_new_object();
	int rc;

	json_object_object_add(o, "device", json_object_new_string(c->device));
	json_object_object_add(o, "target", json_object_new_int64(c->target));
	json_object_object_add(o, "lun", json_object_new_int64(c->lun));
	json_object_object_add(o, "lba", tc_json_u64(a->lba));
	json_object_object_add(o, "blocks", tc_json_u64(blocks));
	json_object_object_add(o, "block_size", json_object_new_int64(li->block_size));
	json_object_object_add(o, "bytes", tc_json_u64(blocks * li->block_size));
	json_object_object_add(o, a->is_write ? "input" : "output", json_object_new_string(file));
	if (flushed >= 0)
		json_object_object_add(o, "flushed", json_object_new_boolean(flushed));
	rc = tc_json_print(o);
	json_object_put(o);
	return rc;
}

/* Identity and capacity, with the checks both directions need. */
static int lun_geometry(const struct tc_common *c, ostor_device *dev,
			struct ostor_lun_info *li)
{
	int err;

	*li = (struct ostor_lun_info)OSTOR_LUN_INFO_INIT;
	err = ostor_lun_info(dev, c->target, c->lun, li);
	if (err < 0) {
		tc_lib_error(err, "cannot query LUN %" PRIu32 ":%" PRIu32 " of '%s'",
			     c->target, c->lun, c->device);
		return tc_exit_from_error(err);
	}
	if (!li->medium_present || li->block_size == 0) {
		tc_msg("LUN %" PRIu32 ":%" PRIu32 " of '%s' has no medium (block size 0)",
		       c->target, c->lun, c->device);
		return TC_EXIT_NOT_READY;
	}
	return 0;
}

static int check_range(const struct tc_common *c, const struct ostor_lun_info *li,
		       uint64_t lba, uint64_t count)
{
	if (lba >= li->blocks || count > li->blocks - lba) {
		tc_msg("blocks %" PRIu64 "..+%" PRIu64 " are past the end of LUN %"
		       PRIu32 ":%" PRIu32 ", which has %" PRIu64 " blocks of %" PRIu32 " bytes",
		       lba, count, c->target, c->lun, li->blocks, li->block_size);
		return tc_exit_from_error(OSTOR_ERROR_OUT_OF_RANGE);
	}
	return 0;
}

static uint32_t chunk_blocks(uint32_t block_size)
{
	uint32_t n = CHUNK_BYTES / block_size;

	return n ? n : 1;
}

int orionstor_cmd_read(int argc, char **argv)
{
	struct io_args a = { .is_write = false };
	struct tc_common c;
	struct ostor_lun_info li = OSTOR_LUN_INFO_INIT;
	struct tc_progress prog;
	ostor_context *ctx;
	ostor_device *dev;
	uint8_t *buf = NULL;
	uint64_t done = 0, base;
	uint32_t per;
	FILE *hexout = NULL;
	int fd = -1, rc, err;
	bool to_stdout;

	tc_parse(&read_argp, argc, argv, TC_OPT_DEVICE_REQUIRED | TC_OPT_HEX | TC_OPT_JSON, &c, &a);
	to_stdout = !a.path || strcmp(a.path, "-") == 0;
	if (c.json && to_stdout)
		tc_usage_error("--json prints a summary on standard output; give -o FILE for the data");
	if (to_stdout && !c.hex && isatty(STDOUT_FILENO))
		tc_usage_error("refusing to write binary data to a terminal; use -o FILE or -H");
	stop_between_chunks();

	rc = tc_open_device(&c, &ctx, &dev);
	if (rc)
		return rc;
	rc = lun_geometry(&c, dev, &li);
	if (!rc)
		rc = check_range(&c, &li, a.lba, a.count);
	if (rc)
		goto out;

	per = chunk_blocks(li.block_size);
	buf = malloc((size_t)per * li.block_size);
	if (!buf) {
		tc_msg("out of memory for a %" PRIu32 "-block buffer", per);
		rc = TC_EXIT_OTHER;
		goto out;
	}

	if (to_stdout) {
		fd = STDOUT_FILENO;
	} else {
		fd = open(a.path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0666);
		if (fd < 0) {
			tc_msg("cannot create '%s': %s", a.path, strerror(errno));
			rc = TC_EXIT_FILE_ERROR;
			goto out;
		}
	}
	if (c.hex) {
		hexout = to_stdout ? stdout : fdopen(fd, "w");
		if (!hexout) {
			tc_msg("cannot write to '%s': %s", a.path, strerror(errno));
			rc = TC_EXIT_FILE_ERROR;
			goto out;
		}
	}
	/* Offsets in the hex dump are byte addresses on the LUN. */
	if (__builtin_mul_overflow(a.lba, (uint64_t)li.block_size, &base))
		base = 0;

	tc_progress_begin(&prog, "read", a.count * li.block_size, !a.quiet && !c.json);
	while (done < a.count) {
		uint32_t n = a.count - done < per ? (uint32_t)(a.count - done) : per;
		size_t bytes = (size_t)n * li.block_size;

		if (atomic_load_explicit(&interrupted, memory_order_relaxed)) {
			tc_progress_end(&prog);
			tc_msg("interrupted: %s holds the first %" PRIu64 " of %" PRIu64 " blocks (from LBA %" PRIu64 ")",
			       to_stdout ? "standard output" : a.path, done, a.count, a.lba);
			rc = TC_EXIT_INTERRUPTED;
			goto out;
		}
		err = ostor_read_blocks(dev, c.target, c.lun, a.lba + done, n, buf);
		if (err < 0) {
			tc_progress_end(&prog);
			tc_lib_error(err, "read of %" PRIu32 " blocks at LBA %" PRIu64 " failed",
				     n, a.lba + done);
			rc = tc_exit_from_error(err);
			goto out;
		}
		if (hexout) {
			tc_hexdump(hexout, buf, bytes, base + done * li.block_size);
		} else if (tc_write_all(fd, buf, bytes) < 0) {
			tc_progress_end(&prog);
			tc_msg("error writing %s: %s", to_stdout ? "standard output" : a.path,
			       strerror(errno));
			rc = TC_EXIT_FILE_ERROR;
			goto out;
		}
		done += n;
		tc_progress_update(&prog, done * li.block_size);
	}
	tc_progress_end(&prog);
	if (c.json)
		rc = print_summary(&c, &a, &li, done, a.path, -1);

out:
	free(buf);
	if (hexout && hexout != stdout) {
		if (fclose(hexout) == EOF && !rc) {
			tc_msg("error writing '%s': %s", a.path, strerror(errno));
			rc = TC_EXIT_FILE_ERROR;
		}
		fd = -1;
	}
	if (fd >= 0 && fd != STDOUT_FILENO && close(fd) < 0 && !rc) {
		tc_msg("error closing '%s': %s", a.path, strerror(errno));
		rc = TC_EXIT_FILE_ERROR;
	}
	if (!rc)
		rc = tc_finish_stdout();
	err = tc_close(ctx, dev);
	return rc ? rc : err;
}

/* write -i -: blocks from standard input until it ends; the device is
 * told only whole blocks, and a last partial block is refused (and said). */
static int write_stream(const struct tc_common *c, const struct io_args *a)
{
	struct ostor_lun_info li = OSTOR_LUN_INFO_INIT;
	ostor_context *ctx = NULL;
	ostor_device *dev = NULL;
	uint8_t *buf = NULL;
	uint64_t done = 0;
	uint32_t per;
	int rc, err;

	if ((rc = tc_open_device(c, &ctx, &dev)))
		return rc;
	if ((rc = lun_geometry(c, dev, &li)))
		goto out;
	per = chunk_blocks(li.block_size);
	buf = malloc((size_t)per * li.block_size);
	if (!buf) {
		tc_msg("out of memory for a %" PRIu32 "-block buffer", per);
		rc = TC_EXIT_OTHER;
		goto out;
	}
	for (;;) {
		ssize_t got;
		uint32_t n;

		if (atomic_load_explicit(&interrupted, memory_order_relaxed)) {
			tc_msg("interrupted after %" PRIu64 " blocks from standard input (from LBA %" PRIu64 "); "
			       "those are flushed now", done, a->lba);
			rc = TC_EXIT_INTERRUPTED;
			break;
		}
		got = tc_read_full(STDIN_FILENO, buf, (size_t)per * li.block_size);

		if (got < 0) {
			tc_msg("error reading standard input: %s", strerror(errno));
			rc = TC_EXIT_FILE_ERROR;
			break;
		}
		if (got == 0) {
			if (!done) {
				tc_msg("standard input is empty: nothing to write");
				rc = TC_EXIT_SYNTAX;
			}
			break;
		}
		n = (uint32_t)((size_t)got / li.block_size);
		if (n && (rc = check_range(c, &li, a->lba + done, n)))
			break;
		if (n && (err = ostor_write_blocks(dev, c->target, c->lun, a->lba + done, n, buf)) < 0) {
			tc_lib_error(err, "write of %" PRIu32 " blocks at LBA %" PRIu64 " failed (%" PRIu64
				     " blocks before it were accepted)", n, a->lba + done, done);
			rc = tc_exit_from_error(err);
			break;
		}
		done += n;
		if ((size_t)got % li.block_size) {
			tc_msg("standard input ended with %zu bytes past the last whole %" PRIu32 "-byte block; "
			       "they were not written (%" PRIu64 " blocks were)", (size_t)got % li.block_size,
			       li.block_size, done);
			rc = TC_EXIT_SYNTAX;
		}
		if (rc || (size_t)got < (size_t)per * li.block_size)
			break;
	}
	/* As for a file: flush what was accepted; success needs the flush. */
	if (done > 0) {
		err = ostor_flush(dev, c->target, c->lun);
		if (err < 0) {
			tc_lib_error(err, "FLUSH FAILED: the device did not confirm that the %" PRIu64
				     " written blocks reached the medium", done);
			if (!rc)
				rc = tc_exit_from_error(err);
		} else if (c->json && !rc) {
			rc = print_summary(c, a, &li, done, "-", 1);
		} else if (!a->quiet) {
			fprintf(stderr, "%s: wrote %" PRIu64 " blocks (%" PRIu64 " bytes) at LBA %" PRIu64
				" from standard input, flushed\n", tc_progname(), done, done * li.block_size, a->lba);
		}
	}
out:
	free(buf);
	err = tc_close(ctx, dev);
	return rc ? rc : err;
}

int orionstor_cmd_write(int argc, char **argv)
{
	struct io_args a = { .is_write = true };
	struct tc_common c;
	struct ostor_lun_info li = OSTOR_LUN_INFO_INIT;
	struct tc_progress prog;
	struct stat st;
	ostor_context *ctx = NULL;
	ostor_device *dev = NULL;
	uint8_t *buf = NULL;
	uint64_t count, done = 0;
	uint32_t per;
	int fd, rc, err;
	bool flush_ok = false;

	tc_parse(&write_argp, argc, argv, TC_OPT_DEVICE_REQUIRED | TC_OPT_JSON, &c, &a);
	stop_between_chunks();

	/* "-": standard input, as long as it lasts (a pipe has no length). */
	if (!strcmp(a.path, "-")) {
		if (isatty(STDIN_FILENO)) {
			tc_msg("standard input is a terminal: pipe the data in, or give -i FILE");
			return TC_EXIT_SYNTAX;
		}
		return write_stream(&c, &a);
	}
	/* Check the input before touching the device. */
	fd = open(a.path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		tc_msg("cannot open '%s': %s", a.path, strerror(errno));
		return TC_EXIT_FILE_ERROR;
	}
	if (fstat(fd, &st) < 0) {
		tc_msg("cannot stat '%s': %s", a.path, strerror(errno));
		close(fd);
		return TC_EXIT_FILE_ERROR;
	}
	if (!S_ISREG(st.st_mode)) {
		tc_msg("'%s' is not a regular file: its length decides the block count", a.path);
		close(fd);
		return TC_EXIT_SYNTAX;
	}
	if (st.st_size == 0) {
		tc_msg("'%s' is empty: nothing to write", a.path);
		close(fd);
		return TC_EXIT_SYNTAX;
	}

	rc = tc_open_device(&c, &ctx, &dev);
	if (rc) {
		close(fd);
		return rc;
	}
	rc = lun_geometry(&c, dev, &li);
	if (rc)
		goto out;
	if ((uint64_t)st.st_size % li.block_size) {
		tc_msg("'%s' is %" PRIu64 " bytes, not a multiple of the %" PRIu32
		       "-byte block size of LUN %" PRIu32 ":%" PRIu32 " (pad it, e.g. "
		       "with truncate -s)", a.path, (uint64_t)st.st_size, li.block_size,
		       c.target, c.lun);
		rc = TC_EXIT_SYNTAX;
		goto out;
	}
	count = (uint64_t)st.st_size / li.block_size;
	rc = check_range(&c, &li, a.lba, count);
	if (rc)
		goto out;

	per = chunk_blocks(li.block_size);
	buf = malloc((size_t)per * li.block_size);
	if (!buf) {
		tc_msg("out of memory for a %" PRIu32 "-block buffer", per);
		rc = TC_EXIT_OTHER;
		goto out;
	}

	tc_progress_begin(&prog, "write", (uint64_t)st.st_size, !a.quiet && !c.json);
	while (done < count) {
		uint32_t n = count - done < per ? (uint32_t)(count - done) : per;
		size_t bytes = (size_t)n * li.block_size;
		ssize_t got;

		if (atomic_load_explicit(&interrupted, memory_order_relaxed)) {
			tc_progress_end(&prog);
			tc_msg("interrupted after %" PRIu64 " of %" PRIu64 " blocks (from LBA %" PRIu64 "); "
			       "those are flushed now", done, count, a.lba);
			rc = TC_EXIT_INTERRUPTED;
			break;
		}
		got = tc_read_full(fd, buf, bytes);

		if (got < 0 || (size_t)got != bytes) {
			tc_progress_end(&prog);
			if (got < 0)
				tc_msg("error reading '%s': %s", a.path, strerror(errno));
			else
				tc_msg("'%s' shrank while being written", a.path);
			rc = TC_EXIT_FILE_ERROR;
			break;
		}
		err = ostor_write_blocks(dev, c.target, c.lun, a.lba + done, n, buf);
		if (err < 0) {
			tc_progress_end(&prog);
			tc_lib_error(err, "write of %" PRIu32 " blocks at LBA %" PRIu64
				     " failed (%" PRIu64 " blocks before it were accepted)",
				     n, a.lba + done, done);
			rc = tc_exit_from_error(err);
			break;
		}
		done += n;
		tc_progress_update(&prog, done * li.block_size);
	}
	tc_progress_end(&prog);

	/* Flush even after a failure so the blocks that were accepted are
	 * committed; only a full run with a confirmed flush is a success. */
	if (done > 0) {
		err = ostor_flush(dev, c.target, c.lun);
		if (err < 0) {
			tc_lib_error(err, "FLUSH FAILED: the device did not confirm that the "
				     "%" PRIu64 " written blocks reached the medium", done);
			if (!rc)
				rc = tc_exit_from_error(err);
		} else {
			flush_ok = true;
		}
	}

out:
	free(buf);
	close(fd);
	err = tc_close(ctx, dev);
	if (!rc)
		rc = err;
	if (!rc && flush_ok && c.json)
		rc = print_summary(&c, &a, &li, done, a.path, 1);
	else if (!rc && flush_ok && !a.quiet)
		fprintf(stderr, "%s: wrote %" PRIu64 " blocks of %" PRIu32
			" bytes at LBA %" PRIu64 " of %s LUN %" PRIu32 ":%" PRIu32
			" (flushed)\n", tc_progname(), done, li.block_size, a.lba,
			c.device, c.target, c.lun);
	return rc;
}
