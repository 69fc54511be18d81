/*
 * tests/unit/test_config.c - orionstor.conf(5): parsing, validation,
 * all-or-nothing loading, path resolution, the getter, and agreement
 * between the key table and the man page.
 */
#include "core/backend.h"
#include "usb/config.h"
#include "virtio/config.h"

#include <check.h>
#include <dirent.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static char tmpdir[256];
static unsigned int file_counter;

/* ---- helpers ------------------------------------------------------------ */

struct capture {
	unsigned int count;
	char last[1024];
};

static void capture_log(ostor_context *ctx, enum ostor_log_level level,
			const char *function, const char *message, void *user_data)
{
	struct capture *cap = user_data;

	(void)ctx;
	(void)function;
	if (level != OSTOR_LOG_WARNING)
		return;
	cap->count++;
	snprintf(cap->last, sizeof(cap->last), "%s", message);
}

/* A bare context whose logger records warnings; only the log fields are
 * used by the configuration code. */
static ostor_context *capture_ctx(struct capture *cap)
{
	static ostor_context ctx;

	memset(&ctx, 0, sizeof(ctx));
	memset(cap, 0, sizeof(*cap));
	ctx.log_level = OSTOR_LOG_WARNING;
	ctx.log_fn = capture_log;
	ctx.log_user_data = cap;
	return &ctx;
}

/* Write len bytes to a fresh file in tmpdir; returns its path (static). */
static const char *write_bytes(const char *data, size_t len)
{
	static char path[512];
	FILE *fp;

	snprintf(path, sizeof(path), "%s/t%u-%ld.conf", tmpdir, ++file_counter,
		 (long)getpid());
	fp = fopen(path, "w");
	ck_assert_msg(fp != NULL, "cannot create %s: %s", path, strerror(errno));
	ck_assert_uint_eq(fwrite(data, 1, len, fp), len);
	ck_assert_int_eq(fclose(fp), 0);
	return path;
}

static const char *write_text(const char *text)
{
	return write_bytes(text, strlen(text));
}

/* A configuration filled with a pattern no load would produce, to prove
 * a failed load does not touch it. */
static void poison(struct ostor_config *cfg)
{
	memset(cfg, 0xA5, sizeof(*cfg));
	cfg->path[sizeof(cfg->path) - 1] = '\0';
}

/* Load text that must fail: *cfg stays untouched and the message names
 * file:line and holds every needle. */
static void expect_error(const char *text, unsigned int line, const char *needle1,
			 const char *needle2)
{
	struct ostor_config cfg, before;
	char where[600];
	const char *path = write_text(text);
	const char *msg;
	int rc;

	poison(&cfg);
	before = cfg;
	rc = ostori_config_load_file(&cfg, path, NULL);
	msg = ostor_last_error();
	ck_assert_msg(rc == OSTOR_ERROR_CONFIG, "expected a config error for <<%s>>, got %d", text, rc);
	ck_assert_msg(memcmp(&cfg, &before, sizeof(cfg)) == 0,
		      "failed load modified the configuration for <<%s>>", text);
	snprintf(where, sizeof(where), "%s:%u: ", path, line);
	ck_assert_msg(strncmp(msg, where, strlen(where)) == 0,
		      "message '%s' does not start with '%s'", msg, where);
	if (needle1)
		ck_assert_msg(strstr(msg, needle1), "message '%s' lacks '%s'", msg, needle1);
	if (needle2)
		ck_assert_msg(strstr(msg, needle2), "message '%s' lacks '%s'", msg, needle2);
}

static int load_ok(const char *text, struct ostor_config *cfg, struct capture *cap)
{
	const char *path = write_text(text);
	int rc = ostori_config_load_file(cfg, path, capture_ctx(cap));

	ck_assert_msg(rc == 0, "load of <<%s>> failed: %d %s", text, rc, ostor_last_error());
	ck_assert_str_eq(cfg->path, path);
	return rc;
}

static void get(const struct ostor_config *cfg, const char *table, const char *key,
		const char *expected)
{
	char buf[64];
	int rc = ostori_config_get_text(cfg, table, key, buf, sizeof(buf));

	ck_assert_msg(rc == 0, "get %s.%s: %d %s", table, key, rc, ostor_last_error());
	ck_assert_msg(strcmp(buf, expected) == 0, "%s.%s = '%s', expected '%s'", table, key,
		      buf, expected);
}

/* ---- defaults and a complete file ---------------------------------------- */

START_TEST(test_defaults)
{
	struct ostor_config cfg;

	poison(&cfg);
	ostori_config_defaults(&cfg);
	ck_assert_str_eq(cfg.path, "");
	ck_assert_uint_eq(cfg.warnings, 0);
	ck_assert_uint_eq(ostori_virtio_config(&cfg)->queue_depth, 128);
	ck_assert_uint_eq(ostori_virtio_config(&cfg)->scsi_command_timeout, 30000);
	ck_assert(ostori_virtio_config(&cfg)->scsi_abort_enabled);
	ck_assert(!ostori_virtio_config(&cfg)->write_back_cache);
	ck_assert_int_eq(ostori_virtio_config(&cfg)->io_scheduler, OSTORI_IO_SCHED_NONE);
	ck_assert_uint_eq(ostori_virtio_config(&cfg)->shared_memory_size, 8u << 20);
	ck_assert_uint_eq(ostori_usb_config(&cfg)->storage_device_max_luns, 16);
	ck_assert_uint_eq(ostori_usb_config(&cfg)->cache_size, 16u << 20);
	ck_assert_int_eq(ostori_usb_config(&cfg)->cache_policy, OSTORI_CACHE_LRU);
	ck_assert(!ostori_usb_config(&cfg)->cache_enabled);
	get(&cfg, "usb_storage", "cache_size", "16777216");
	get(&cfg, "virtio_scsi", "io_scheduler", "none");
	get(&cfg, "virtio_scsi", "direct_io", "true");
}
END_TEST

/* Every key's documented default, written into a file, loads back to the
 * built-in default: the descriptions and the defaults agree. */
START_TEST(test_default_text_round_trips)
{
	struct ostor_config defaults, cfg;
	struct ostori_config_keyinfo info;
	struct capture cap;
	char text[256];

	ostori_config_defaults(&defaults);
	for (size_t i = 0; i < ostori_config_key_count(); i++) {
		ck_assert_int_eq(ostori_config_key_info(i, &info), 0);
		snprintf(text, sizeof(text), "[%s]\n%s = %s\n", info.table, info.key, info.def);
		load_ok(text, &cfg, &cap);
		ck_assert_uint_eq(cap.count, 0);
		memset(cfg.path, 0, sizeof(cfg.path));
		ck_assert_msg(memcmp(&cfg, &defaults, sizeof(cfg)) == 0,
			      "%s.%s = %s does not load as the default", info.table,
			      info.key, info.def);
	}
	ck_assert_int_eq(ostori_config_key_info(ostori_config_key_count(), &info),
			 OSTOR_ERROR_NOT_FOUND);
}
END_TEST

static const char good_file[] =
	"\xEF\xBB\xBF# every key, none at its default\n"
	"[virtio_scsi]\n"
	"device_max_count = 4\n"
	"device_max_targets = 0x10          # hex\n"
	"device_max_luns = 1024\n"
	"device_max_queues = 16\n"
	"queue_count = 8\n"
	"queue_depth = 1024\n"
	"queue_ring = \"split\"\n"
	"queue_completion = \"interrupt\"\n"
	"queue_interrupt_coalescing = true\n"
	"queue_interrupt_coalescing_time = 200\n"
	"queue_interrupt_coalescing_threshold = 32\n"
	"scsi_max_commands = 512\n"
	"scsi_command_timeout = 60000\n"
	"scsi_retry_count = 5\n"
	"scsi_abort_enabled = false\n"
	"read_ahead_size = \"128KiB\"\n"
	"write_back_cache = true\n"
	"write_back_cache_size = \"256MB\"\n"
	"io_scheduler = \"deadline\"   # a \"quoted\" comment\n"
	"direct_io = false\n"
	"shared_memory_size = 1048576\n"
	"dma_enabled = false\n"
	"zero_copy_enabled = false\n"
	"batch_processing = false\n"
	"performance_monitoring_enabled = true\n"
	"vfio_noiommu = true\n"
	"vfio_interrupts = \"intx\"\n"
	"\n"
	"  [ usb_storage ]   # indented, spaced header\n"
	"storage_device_max_count = 2\n"
	"storage_device_max_luns = 1\n"
	"storage_device_timeout = 5000\r\n"
	"storage_device_async_enabled = false\n"
	"scsi_processing_enabled = false\n"
	"scsi_command_cache_size = 0\n"
	"scsi_validation_enabled = false\n"
	"multi_lun_support = false\n"
	"cache_enabled = true\n"
	"write_back_cache = true\n"
	"read_ahead_cache = true\n"
	"\tcache_size=\"1 GiB\"\n"
	"cache_policy = \"fifo\"\n"
	"async_io_enabled = false\n"
	"performance_monitoring_enabled = true\n"
	"smart_monitoring_enabled = true\n"
	"smart_check_interval = 600\n"
	"power_management_enabled = true\n"
	"power_idle_ms = 500\n"
	"uas_enabled = false\n"
	"quirks = \"0781:5406:none,1234:abcd:go-slow+max-transfer=64K\"\n"
	"[control]\n"
	"socket = false\n"
	"socket_dir = \"/run/user/1000/orionstor\"\n";

static unsigned int pending_count(void)
{
	struct ostori_config_keyinfo info;
	unsigned int n = 0;

	for (size_t i = 0; i < ostori_config_key_count(); i++) {
		ck_assert_int_eq(ostori_config_key_info(i, &info), 0);
		n += info.pending != NULL;
	}
	return n;
}

START_TEST(test_good_file_every_key)
{
	struct ostor_config cfg, defaults;
	struct capture cap;
	size_t nlines = 0;

	ostori_config_defaults(&defaults);
	poison(&cfg);
	load_ok(good_file, &cfg, &cap);
	/* One warning per key whose capability is not there yet. */
	ck_assert_uint_eq(cap.count, pending_count());
	ck_assert_uint_eq(cfg.warnings, pending_count());

	ck_assert_uint_eq(ostori_virtio_config(&cfg)->device_max_count, 4);
	ck_assert_uint_eq(ostori_virtio_config(&cfg)->device_max_targets, 16);
	ck_assert_uint_eq(ostori_virtio_config(&cfg)->device_max_luns, 1024);
	ck_assert_uint_eq(ostori_virtio_config(&cfg)->device_max_queues, 16);
	ck_assert_uint_eq(ostori_virtio_config(&cfg)->queue_count, 8);
	ck_assert_uint_eq(ostori_virtio_config(&cfg)->queue_depth, 1024);
	ck_assert_int_eq(ostori_virtio_config(&cfg)->queue_ring, OSTORI_QUEUE_RING_SPLIT);
	ck_assert_int_eq(ostori_virtio_config(&cfg)->queue_completion, OSTORI_QUEUE_COMPLETION_INTERRUPT);
	ck_assert(ostori_virtio_config(&cfg)->queue_interrupt_coalescing);
	ck_assert_uint_eq(ostori_virtio_config(&cfg)->queue_interrupt_coalescing_time, 200);
	ck_assert_uint_eq(ostori_virtio_config(&cfg)->queue_interrupt_coalescing_threshold, 32);
	ck_assert_uint_eq(ostori_virtio_config(&cfg)->scsi_max_commands, 512);
	ck_assert_uint_eq(ostori_virtio_config(&cfg)->scsi_command_timeout, 60000);
	ck_assert_uint_eq(ostori_virtio_config(&cfg)->scsi_retry_count, 5);
	ck_assert(!ostori_virtio_config(&cfg)->scsi_abort_enabled);
	ck_assert_uint_eq(ostori_virtio_config(&cfg)->read_ahead_size, 128u << 10);
	ck_assert(ostori_virtio_config(&cfg)->write_back_cache);
	ck_assert_uint_eq(ostori_virtio_config(&cfg)->write_back_cache_size, 256u << 20);
	ck_assert_int_eq(ostori_virtio_config(&cfg)->io_scheduler, OSTORI_IO_SCHED_DEADLINE);
	ck_assert(!ostori_virtio_config(&cfg)->direct_io);
	ck_assert_uint_eq(ostori_virtio_config(&cfg)->shared_memory_size, 1048576);
	ck_assert(!ostori_virtio_config(&cfg)->dma_enabled);
	ck_assert(!ostori_virtio_config(&cfg)->zero_copy_enabled);
	ck_assert(!ostori_virtio_config(&cfg)->batch_processing);
	ck_assert(ostori_virtio_config(&cfg)->performance_monitoring_enabled);
	ck_assert(ostori_virtio_config(&cfg)->vfio_noiommu);
	ck_assert_int_eq(ostori_virtio_config(&cfg)->vfio_interrupts, OSTORI_VFIO_IRQ_INTX);

	ck_assert_uint_eq(ostori_usb_config(&cfg)->storage_device_max_count, 2);
	ck_assert_uint_eq(ostori_usb_config(&cfg)->storage_device_max_luns, 1);
	ck_assert_uint_eq(ostori_usb_config(&cfg)->storage_device_timeout, 5000);
	ck_assert(!ostori_usb_config(&cfg)->storage_device_async_enabled);
	ck_assert(!ostori_usb_config(&cfg)->scsi_processing_enabled);
	ck_assert_uint_eq(ostori_usb_config(&cfg)->scsi_command_cache_size, 0);
	ck_assert(!ostori_usb_config(&cfg)->scsi_validation_enabled);
	ck_assert(!ostori_usb_config(&cfg)->multi_lun_support);
	ck_assert(ostori_usb_config(&cfg)->cache_enabled);
	ck_assert(ostori_usb_config(&cfg)->write_back_cache);
	ck_assert(ostori_usb_config(&cfg)->read_ahead_cache);
	ck_assert_uint_eq(ostori_usb_config(&cfg)->cache_size, UINT64_C(1) << 30);
	ck_assert_int_eq(ostori_usb_config(&cfg)->cache_policy, OSTORI_CACHE_FIFO);
	ck_assert(!ostori_usb_config(&cfg)->async_io_enabled);
	ck_assert(ostori_usb_config(&cfg)->performance_monitoring_enabled);
	ck_assert(ostori_usb_config(&cfg)->smart_monitoring_enabled);
	ck_assert(ostori_usb_config(&cfg)->power_management_enabled);
	ck_assert(!ostori_usb_config(&cfg)->uas_enabled);

	/* The file sets every key of the table, each to a non-default. */
	for (size_t i = 0; i < ostori_config_key_count(); i++) {
		struct ostori_config_keyinfo info;
		char a[64], b[64];

		ck_assert_int_eq(ostori_config_key_info(i, &info), 0);
		ck_assert_int_eq(ostori_config_get_text(&cfg, info.table, info.key, a, sizeof(a)), 0);
		ck_assert_int_eq(ostori_config_get_text(&defaults, info.table, info.key, b, sizeof(b)), 0);
		ck_assert_msg(strcmp(a, b) != 0, "%s.%s is still at its default", info.table, info.key);
		nlines++;
	}
	ck_assert_uint_eq(nlines, 27 + 20 + 2 + 1);

	get(&cfg, "virtio_scsi", "write_back_cache_size", "268435456");
	get(&cfg, "virtio_scsi", "io_scheduler", "deadline");
	get(&cfg, "virtio_scsi", "scsi_abort_enabled", "false");
	get(&cfg, "usb_storage", "cache_policy", "fifo");
	get(&cfg, "usb_storage", "smart_monitoring_enabled", "true");
	get(&cfg, "usb_storage", "storage_device_timeout", "5000");
	get(&cfg, "usb_storage", "power_idle_ms", "500");
	get(&cfg, "usb_storage", "quirks", "0781:5406:none,1234:abcd:go-slow+max-transfer=64K");
}
END_TEST

START_TEST(test_empty_file)
{
	struct ostor_config cfg, defaults;
	struct capture cap;

	ostori_config_defaults(&defaults);
	load_ok("", &cfg, &cap);
	memset(cfg.path, 0, sizeof(cfg.path));
	ck_assert(memcmp(&cfg, &defaults, sizeof(cfg)) == 0);
	load_ok("# only a comment\n\n   \n[virtio_scsi]\n[usb_storage]\n", &cfg, &cap);
	memset(cfg.path, 0, sizeof(cfg.path));
	ck_assert(memcmp(&cfg, &defaults, sizeof(cfg)) == 0);
}
END_TEST

/* Sizes: every unit, case, spacing; a bare integer is bytes. */
START_TEST(test_size_units)
{
	static const struct {
		const char *text;
		uint64_t bytes;
	} cases[] = {
		{ "65536", 65536 },          { "0x10000", 65536 },
		{ "\"65536\"", 65536 },      { "\"65536B\"", 65536 },
		{ "\"64KB\"", 64 << 10 },    { "\"64KiB\"", 64 << 10 },
		{ "\"64 kib\"", 64 << 10 },  { "\"3MB\"", 3 << 20 },
		{ "\"3MiB\"", 3 << 20 },     { "\"2GB\"", UINT64_C(2) << 30 },
		{ "\"2GiB\"", UINT64_C(2) << 30 }, { "\"16gb\"", UINT64_C(16) << 30 },
		{ " \"  5 MiB \"", 5 << 20 },
	};
	struct ostor_config cfg;
	struct capture cap;
	char text[128];

	for (size_t i = 0; i < OSTOR_ARRAY_SIZE(cases); i++) {
		snprintf(text, sizeof(text), "[usb_storage]\ncache_size = %s\n", cases[i].text);
		load_ok(text, &cfg, &cap);
		ck_assert_msg(ostori_usb_config(&cfg)->cache_size == cases[i].bytes,
			      "%s gave %llu", cases[i].text,
			      (unsigned long long)ostori_usb_config(&cfg)->cache_size);
	}
	/* TB and TiB parse; they are out of range for this key. */
	expect_error("[usb_storage]\ncache_size = \"1TB\"\n", 2, "usb_storage.cache_size = \"1TB\"",
		     "from 64KiB to 16GiB");
	expect_error("[usb_storage]\ncache_size = \"1TiB\"\n", 2, "cache_size", "16GiB");
}
END_TEST

/* ---- warnings ------------------------------------------------------------ */

START_TEST(test_unknown_key_warns)
{
	struct ostor_config cfg;
	struct capture cap;
	const char *path;
	char expected[600];

	path = write_text("[virtio_scsi]\nqueue_count = 2\nbogus_key = 7\n");
	poison(&cfg);
	ck_assert_int_eq(ostori_config_load_file(&cfg, path, capture_ctx(&cap)), 0);
	ck_assert_uint_eq(cap.count, 1);
	ck_assert_uint_eq(cfg.warnings, 1);
	snprintf(expected, sizeof(expected), "%s:3: unknown key 'bogus_key' in [virtio_scsi]", path);
	ck_assert_str_eq(cap.last, expected);
	ck_assert_uint_eq(ostori_virtio_config(&cfg)->queue_count, 2);

	/* A key of one table written in the other is unknown there. */
	load_ok("[usb_storage]\nqueue_depth = 64\n", &cfg, &cap);
	ck_assert_uint_eq(cap.count, 1);
	ck_assert(strstr(cap.last, ":2: unknown key 'queue_depth' in [usb_storage]"));
	ck_assert_uint_eq(ostori_virtio_config(&cfg)->queue_depth, 128);

	/* Longer than inih keeps: still reported in full. */
	load_ok("[usb_storage]\n"
		"a_very_long_key_name_that_is_longer_than_inih_keeps_it = 1\n", &cfg, &cap);
	ck_assert_uint_eq(cap.count, 1);
	ck_assert(strstr(cap.last, "'a_very_long_key_name_that_is_longer_than_inih_keeps_it'"));
}
END_TEST

START_TEST(test_unknown_table_warns)
{
	struct ostor_config cfg, defaults;
	struct capture cap;

	ostori_config_defaults(&defaults);
	/* Keys of an unknown table are ignored, whatever their names. */
	load_ok("[future_backend]\nqueue_depth = 3\nanything = \"x # y\"\n"
		"[virtio_scsi]\nqueue_depth = 64\n", &cfg, &cap);
	ck_assert_uint_eq(cap.count, 1);
	ck_assert_uint_eq(cfg.warnings, 1);
	ck_assert(strstr(cap.last, ":1: unknown table [future_backend]"));
	ck_assert_uint_eq(ostori_virtio_config(&cfg)->queue_depth, 64);
	ck_assert_uint_eq(ostori_usb_config(&cfg)->cache_size, ostori_usb_config(&defaults)->cache_size);
}
END_TEST

/* A key whose capability does not exist yet: accepted, stored, and the
 * warning says it changes nothing.  Once every key of the specification
 * is implemented there is none, and the keys that were load quietly. */
START_TEST(test_pending_key_warns)
{
	struct ostori_config_keyinfo info;
	struct ostor_config cfg;
	struct capture cap;
	char text[256], want[256];

	for (size_t i = 0; i < ostori_config_key_count(); i++) {
		ck_assert_int_eq(ostori_config_key_info(i, &info), 0);
		if (!info.pending || strcmp(info.type, "boolean"))
			continue;
		snprintf(text, sizeof(text), "[%s]\n# comment\n%s = %s\n", info.table, info.key,
			 strcmp(info.def, "true") ? "true" : "false");
		load_ok(text, &cfg, &cap);
		ck_assert_uint_eq(cap.count, 1);
		ck_assert_uint_eq(cfg.warnings, 1);
		snprintf(want, sizeof(want), ":3: [%s] %s has no effect yet: ", info.table, info.key);
		ck_assert_msg(strstr(cap.last, want), "%s", cap.last);
		return;
	}
	ck_assert_uint_eq(pending_count(), 0);
	load_ok("[usb_storage]\nsmart_monitoring_enabled = true\nsmart_check_interval = 60\n"
		"power_management_enabled = true\n", &cfg, &cap);
	ck_assert_uint_eq(cap.count, 0);
	ck_assert_uint_eq(cfg.warnings, 0);
	ck_assert(ostori_usb_config(&cfg)->smart_monitoring_enabled);
	ck_assert_uint_eq(ostori_usb_config(&cfg)->smart_check_interval, 60);
}
END_TEST

/* Warnings reach the default logger too (ctx NULL): no crash, success. */
START_TEST(test_warning_without_context)
{
	struct ostor_config cfg;
	const char *path = write_text("[virtio_scsi]\nnot_a_key = 1\n");

	ck_assert_int_eq(ostori_config_load_file(&cfg, path, NULL), 0);
	ck_assert_uint_eq(cfg.warnings, 1);
}
END_TEST

/* ---- errors -------------------------------------------------------------- */

START_TEST(test_wrong_types)
{
	expect_error("[virtio_scsi]\nqueue_count = \"2\"\n", 2,
		     "virtio_scsi.queue_count = \"2\"", "expected an integer from 1 to 64");
	expect_error("[virtio_scsi]\nqueue_count = two\n", 2, "queue_count = two", "from 1 to 64");
	expect_error("[virtio_scsi]\nqueue_count = 2.5\n", 2, "queue_count = 2.5", "integer");
	expect_error("[virtio_scsi]\nqueue_count = true\n", 2, "queue_count = true", "integer");
	expect_error("[virtio_scsi]\nscsi_command_timeout = 1s\n", 2,
		     "scsi_command_timeout = 1s", "from 100 to 3600000 (milliseconds)");
	expect_error("[virtio_scsi]\ndirect_io = yes\n", 2, "virtio_scsi.direct_io = yes",
		     "expected true or false");
	expect_error("[virtio_scsi]\ndirect_io = 1\n", 2, "direct_io = 1", "true or false");
	expect_error("[virtio_scsi]\ndirect_io = \"true\"\n", 2, "direct_io = \"true\"",
		     "true or false");
	expect_error("[virtio_scsi]\ndirect_io = True\n", 2, "direct_io = True", "true or false");
	expect_error("[virtio_scsi]\nio_scheduler = fifo\n", 2, "io_scheduler = fifo",
		     "expected one of \"none\", \"fifo\" or \"deadline\"");
	expect_error("[virtio_scsi]\nio_scheduler = \"cfq\"\n", 2, "io_scheduler = \"cfq\"",
		     "\"none\", \"fifo\" or \"deadline\"");
	expect_error("[usb_storage]\ncache_policy = 1\n", 2, "usb_storage.cache_policy = 1",
		     "\"lru\", \"lfu\" or \"fifo\"");
	expect_error("[usb_storage]\ncache_size = true\n", 2, "usb_storage.cache_size = true",
		     "expected a size from 64KiB to 16GiB");
	expect_error("[usb_storage]\ncache_size = \"lots\"\n", 2, "cache_size = \"lots\"", "size");
	expect_error("[usb_storage]\ncache_size = \"1.5GB\"\n", 2, "cache_size = \"1.5GB\"", "size");
	expect_error("[usb_storage]\ncache_size = 16MB\n", 2, "cache_size = 16MB", "\"256MB\"");
}
END_TEST

START_TEST(test_bad_size_unit)
{
	expect_error("[usb_storage]\ncache_size = \"16XB\"\n", 2, "usb_storage.cache_size = \"16XB\"",
		     "units B, KB, MB, GB, TB or KiB, MiB, GiB, TiB");
	expect_error("[usb_storage]\ncache_size = \"16 M\"\n", 2, "cache_size = \"16 M\"", "units");
	expect_error("[usb_storage]\ncache_size = \"16 MB MB\"\n", 2, "cache_size", "units");
	expect_error("[usb_storage]\ncache_size = \"MB\"\n", 2, "cache_size = \"MB\"", "units");
	expect_error("[usb_storage]\ncache_size = \"\"\n", 2, "cache_size = \"\"", "units");
	expect_error("[virtio_scsi]\nread_ahead_size = \"-1MB\"\n", 2, "read_ahead_size", "units");
}
END_TEST

START_TEST(test_out_of_range)
{
	expect_error("[virtio_scsi]\nqueue_count = 0\n", 2, "queue_count = 0", "from 1 to 64");
	expect_error("[virtio_scsi]\nqueue_count = 65\n", 2, "queue_count = 65", "from 1 to 64");
	expect_error("[virtio_scsi]\nqueue_count = -1\n", 2, "queue_count = -1", "from 1 to 64");
	expect_error("[virtio_scsi]\nqueue_count = 99999999999999999999999\n", 2,
		     "queue_count = 99999999999999999999999", "from 1 to 64");
	expect_error("[virtio_scsi]\nqueue_count = 4294967297\n", 2, "queue_count = 4294967297",
		     "from 1 to 64");
	expect_error("[usb_storage]\nstorage_device_max_luns = 17\n", 2,
		     "usb_storage.storage_device_max_luns = 17", "from 1 to 16");
	expect_error("[usb_storage]\nstorage_device_max_luns = 0\n", 2,
		     "storage_device_max_luns = 0", "from 1 to 16");
	expect_error("[virtio_scsi]\nqueue_depth = 100\n", 2, "queue_depth = 100",
		     "expected a power of two from 2 to 32768");
	expect_error("[virtio_scsi]\nqueue_depth = 65536\n", 2, "queue_depth = 65536",
		     "power of two");
	expect_error("[usb_storage]\ncache_size = \"32KiB\"\n", 2, "cache_size = \"32KiB\"",
		     "from 64KiB to 16GiB");
	expect_error("[usb_storage]\ncache_size = 65535\n", 2, "cache_size = 65535", "64KiB");
	expect_error("[usb_storage]\ncache_size = \"17GiB\"\n", 2, "cache_size = \"17GiB\"",
		     "16GiB");
	expect_error("[usb_storage]\ncache_size = \"99999999999TB\"\n", 2,
		     "cache_size = \"99999999999TB\"", "16GiB");
	expect_error("[usb_storage]\ncache_size = \"999999999999999999999999\"\n", 2,
		     "cache_size", "16GiB");
}
END_TEST

/* Every integer key: its bounds load, one past them fails with the range
 * in the message. */
START_TEST(test_integer_bounds_table)
{
	struct ostor_config cfg;
	struct capture cap;
	char text[256], needle[128];

	for (size_t i = 0; i < ostori_config_key_count(); i++) {
		struct ostori_config_keyinfo info;
		unsigned long long lo, hi;

		ck_assert_int_eq(ostori_config_key_info(i, &info), 0);
		if (strcmp(info.type, "integer"))
			continue;
		ck_assert_int_eq(sscanf(info.range, "%llu to %llu", &lo, &hi), 2);
		for (int j = 0; j < 2; j++) {
			snprintf(text, sizeof(text), "[%s]\n%s = %llu\n", info.table, info.key,
				 j ? hi : lo);
			/* queue_count and the coalescing threshold are bounded
			 * by other keys as well: lift those. */
			if (!strcmp(info.key, "queue_count"))
				strcat(text, "device_max_queues = 64\n");
			if (!strcmp(info.key, "queue_interrupt_coalescing_threshold"))
				strcat(text, "queue_depth = 32768\n");
			if (!strcmp(info.key, "queue_depth"))
				strcat(text, "queue_interrupt_coalescing_threshold = 1\n");
			load_ok(text, &cfg, &cap);
		}
		snprintf(needle, sizeof(needle), "from %s", info.range);
		snprintf(text, sizeof(text), "[%s]\n%s = %llu\n", info.table, info.key, hi + 1);
		expect_error(text, 2, info.key, needle);
		if (lo > 0) {
			snprintf(text, sizeof(text), "[%s]\n%s = %llu\n", info.table, info.key, lo - 1);
			expect_error(text, 2, info.key, needle);
		}
	}
}
END_TEST

START_TEST(test_unterminated_string)
{
	expect_error("[virtio_scsi]\nio_scheduler = \"fifo\n", 2, "unterminated string",
		     "io_scheduler");
	expect_error("[virtio_scsi]\nio_scheduler = \"fifo\\\"\n", 2, "unterminated string", NULL);
	expect_error("[virtio_scsi]\nio_scheduler = \"fi\\fo\"\n", 2, "unsupported escape '\\f'",
		     "io_scheduler");
}
END_TEST

/* '#' inside a string is text; after it, a comment. */
START_TEST(test_hash_in_string)
{
	struct ostor_config cfg;
	struct capture cap;

	expect_error("[virtio_scsi]\nio_scheduler = \"fi#fo\"\n", 2, "io_scheduler = \"fi#fo\"",
		     "expected one of");
	expect_error("[virtio_scsi]\nio_scheduler = \"fifo # deadline\" # c\n", 2,
		     "\"fifo # deadline\"", NULL);
	load_ok("[virtio_scsi]\nio_scheduler = \"fifo\"#deadline\n", &cfg, &cap);
	ck_assert_int_eq(ostori_virtio_config(&cfg)->io_scheduler, OSTORI_IO_SCHED_FIFO);
	/* Escapes are decoded: the value compared is fi\fo. */
	expect_error("[virtio_scsi]\nio_scheduler = \"fi\\\\fo\" # x\n", 2,
		     "io_scheduler = \"fi\\fo\"", NULL);
}
END_TEST

START_TEST(test_duplicates)
{
	expect_error("[virtio_scsi]\nqueue_count = 2\nqueue_count = 3\n", 3,
		     "duplicate key 'queue_count' in [virtio_scsi]", "first set on line 2");
	/* Same value does not make it less of a duplicate. */
	expect_error("[usb_storage]\ncache_enabled = true\n\n# c\ncache_enabled = true\n", 5,
		     "duplicate key 'cache_enabled'", "line 2");
	expect_error("[virtio_scsi]\nqueue_count = 2\n[usb_storage]\n[virtio_scsi]\n", 4,
		     "table [virtio_scsi] appears twice", "first on line 1");
}
END_TEST

/* The same key name in both tables is two different keys. */
START_TEST(test_same_name_two_tables)
{
	struct ostor_config cfg;
	struct capture cap;

	load_ok("[virtio_scsi]\nwrite_back_cache = true\n[usb_storage]\nwrite_back_cache = false\n",
		&cfg, &cap);
	ck_assert(ostori_virtio_config(&cfg)->write_back_cache);
	ck_assert(!ostori_usb_config(&cfg)->write_back_cache);
}
END_TEST

START_TEST(test_malformed_lines)
{
	expect_error("[virtio_scsi]\nqueue_count 4\n", 2, "missing '=' after 'queue_count'", NULL);
	expect_error("[virtio_scsi]\nqueue_count\n", 2, "missing '='", NULL);
	expect_error("[virtio_scsi]\nqueue_count: 4\n", 2, "unexpected ':' in key 'queue_count'",
		     NULL);
	expect_error("queue_count = 4\n[virtio_scsi]\n", 1, "'queue_count' is outside any table",
		     NULL);
	expect_error("# comment\n\nqueue_count = 4\n", 3, "outside any table", NULL);
	expect_error("[virtio_scsi]\n!!!\n", 2, "expected 'key = value' or '[table]'", "!!!");
	expect_error("[virtio_scsi]\n= 4\n", 2, "expected 'key = value'", NULL);
	expect_error("[virtio_scsi]\n\"queue_count\" = 4\n", 2, "expected 'key = value'", NULL);
	expect_error("[virtio_scsi]\nqueue_count =\n", 2, "missing value for 'queue_count'", NULL);
	expect_error("[virtio_scsi]\nqueue_count = # none\n", 2, "missing value", NULL);
	expect_error("[virtio_scsi]\nqueue_count = 4 5\n", 2, "unexpected text '5'",
		     "'queue_count'");
	expect_error("[virtio_scsi]\nio_scheduler = \"fifo\" x\n", 2, "unexpected text 'x'", NULL);
	expect_error("[virtio_scsi]\nqueue_count = [1, 2]\n", 2, "malformed value", "queue_count");
	expect_error("[virtio_scsi]\nqueue_count = 'fifo'\n", 2, "malformed value", NULL);
	expect_error("[virtio_scsi\nqueue_count = 4\n", 1, "malformed table header", NULL);
	expect_error("[virtio_scsi] x\n", 1, "malformed table header", NULL);
	expect_error("[]\n", 1, "malformed table header", NULL);
	expect_error("[virtio.scsi]\n", 1, "malformed table header", NULL);
	expect_error("[[virtio_scsi]]\n", 1, "arrays of tables", NULL);
	expect_error("\x01\x02garbage\n", 1, "expected 'key = value'", NULL);
	/* Errors in unknown tables are errors too: the file is malformed. */
	expect_error("[later]\nkey value\n", 2, "missing '='", NULL);
}
END_TEST

START_TEST(test_nul_byte)
{
	static const char text[] = "[virtio_scsi]\nqueue_count = 4\0 junk\n";
	struct ostor_config cfg, before;
	const char *path = write_bytes(text, sizeof(text) - 1);
	char where[600];

	poison(&cfg);
	before = cfg;
	ck_assert_int_eq(ostori_config_load_file(&cfg, path, NULL), OSTOR_ERROR_CONFIG);
	ck_assert(memcmp(&cfg, &before, sizeof(cfg)) == 0);
	snprintf(where, sizeof(where), "%s:2: NUL byte", path);
	ck_assert(strstr(ostor_last_error(), where));
}
END_TEST

/* Relations between keys are checked on the final values, blaming the
 * later line. */
START_TEST(test_cross_key_limits)
{
	struct ostor_config cfg;
	struct capture cap;

	expect_error("[virtio_scsi]\nqueue_count = 8\n", 2,
		     "virtio_scsi.queue_count = 8 is larger than virtio_scsi.device_max_queues = 4",
		     "lower queue_count or raise device_max_queues");
	expect_error("[virtio_scsi]\nqueue_count = 8\n\ndevice_max_queues = 2\n", 4,
		     "queue_count = 8 is larger", NULL);
	expect_error("[virtio_scsi]\nqueue_depth = 8\n", 2,
		     "queue_interrupt_coalescing_threshold = 16 is larger than virtio_scsi.queue_depth = 8",
		     NULL);
	load_ok("[virtio_scsi]\nqueue_count = 8\ndevice_max_queues = 8\n", &cfg, &cap);
	ck_assert_uint_eq(ostori_virtio_config(&cfg)->queue_count, 8);
}
END_TEST

/* A file whose last line is bad changes nothing, even though every line
 * before it was applied to the temporary copy. */
START_TEST(test_nothing_half_applied)
{
	struct ostor_config cfg, before;
	struct capture cap;
	const char *path;
	char text[4096];

	load_ok(good_file, &cfg, &cap);
	before = cfg;
	snprintf(text, sizeof(text), "%s%s", good_file, "bogus line without equals\n");
	path = write_text(text);
	ck_assert_int_eq(ostori_config_load_file(&cfg, path, NULL), OSTOR_ERROR_CONFIG);
	ck_assert(memcmp(&cfg, &before, sizeof(cfg)) == 0);
	ck_assert(strstr(ostor_last_error(), ":56: missing '=' after 'bogus'"));

	/* Same with a struct holding defaults, and a range error last. */
	ostori_config_defaults(&cfg);
	before = cfg;
	path = write_text("[virtio_scsi]\nqueue_count = 2\ndirect_io = false\n"
			  "[usb_storage]\ncache_size = \"1MB\"\nstorage_device_max_luns = 99\n");
	ck_assert_int_eq(ostori_config_load_file(&cfg, path, NULL), OSTOR_ERROR_CONFIG);
	ck_assert(memcmp(&cfg, &before, sizeof(cfg)) == 0);
	ck_assert(strstr(ostor_last_error(), ":6: usb_storage.storage_device_max_luns = 99"));

	/* And through ostori_config_load with an explicit path. */
	ck_assert_int_eq(ostori_config_load(&cfg, path, NULL), OSTOR_ERROR_CONFIG);
	ck_assert(memcmp(&cfg, &before, sizeof(cfg)) == 0);
}
END_TEST

/* Line numbers stay exact past lines longer than inih's 200-byte buffer,
 * and indented lines are keys, not INI continuation lines. */
START_TEST(test_long_and_indented_lines)
{
	char text[2048];
	struct ostor_config cfg;
	struct capture cap;
	size_t n;

	n = (size_t)snprintf(text, sizeof(text), "# ");
	memset(text + n, 'x', 1000);
	n += 1000;
	snprintf(text + n, sizeof(text) - n,
		 "\n[virtio_scsi]\n    queue_count = 2\n\tdirect_io = false\nqueue_depth = 7\n");
	expect_error(text, 5, "queue_depth = 7", "power of two");
	snprintf(text + n, sizeof(text) - n,
		 "\n[virtio_scsi]\n    queue_count = 2\n\tdirect_io = false\n");
	load_ok(text, &cfg, &cap);
	ck_assert_uint_eq(ostori_virtio_config(&cfg)->queue_count, 2);
	ck_assert(!ostori_virtio_config(&cfg)->direct_io);

	/* A long value is reported shortened, with its line. */
	n = (size_t)snprintf(text, sizeof(text), "[usb_storage]\ncache_policy = \"");
	memset(text + n, 'z', 500);
	n += 500;
	snprintf(text + n, sizeof(text) - n, "\"\n");
	expect_error(text, 2, "cache_policy = \"zzzz", "...");
}
END_TEST

/* ---- files and path resolution ------------------------------------------- */

START_TEST(test_explicit_missing_file)
{
	struct ostor_config cfg, before;
	char path[600];

	snprintf(path, sizeof(path), "%s/does-not-exist.conf", tmpdir);
	poison(&cfg);
	before = cfg;
	ck_assert_int_eq(ostori_config_load(&cfg, path, NULL), OSTOR_ERROR_CONFIG);
	ck_assert(memcmp(&cfg, &before, sizeof(cfg)) == 0);
	ck_assert(strstr(ostor_last_error(), path));
	ck_assert(strstr(ostor_last_error(), strerror(ENOENT)));
	ck_assert_int_eq(ostori_config_load_file(&cfg, path, NULL), OSTOR_ERROR_CONFIG);
	ck_assert(strstr(ostor_last_error(), path));

	/* A directory is not a configuration file. */
	ck_assert_int_eq(ostori_config_load(&cfg, tmpdir, NULL), OSTOR_ERROR_CONFIG);
	ck_assert(strstr(ostor_last_error(), "is a directory"));
	ck_assert(memcmp(&cfg, &before, sizeof(cfg)) == 0);
}
END_TEST

START_TEST(test_path_resolution)
{
	struct ostor_config cfg;
	char explicit_path[600], env_path[600], sys_path[600], missing[600];
	const char *p;

	p = write_text("[virtio_scsi]\nqueue_count = 2\n");
	snprintf(explicit_path, sizeof(explicit_path), "%s", p);
	p = write_text("[virtio_scsi]\nqueue_count = 3\n");
	snprintf(env_path, sizeof(env_path), "%s", p);
	p = write_text("[virtio_scsi]\nqueue_count = 4\n");
	snprintf(sys_path, sizeof(sys_path), "%s", p);
	snprintf(missing, sizeof(missing), "%s/missing.conf", tmpdir);

	/* No env, system file present: it is used. */
	ck_assert_int_eq(unsetenv("ORIONSTOR_CONF"), 0);
	ostori_config_set_system_path(sys_path);
	ck_assert_int_eq(ostori_config_load(&cfg, NULL, NULL), 0);
	ck_assert_uint_eq(ostori_virtio_config(&cfg)->queue_count, 4);
	ck_assert_str_eq(cfg.path, sys_path);

	/* Empty env counts as unset. */
	ck_assert_int_eq(setenv("ORIONSTOR_CONF", "", 1), 0);
	ck_assert_int_eq(ostori_config_load(&cfg, NULL, NULL), 0);
	ck_assert_str_eq(cfg.path, sys_path);

	/* Env beats the system file. */
	ck_assert_int_eq(setenv("ORIONSTOR_CONF", env_path, 1), 0);
	ck_assert_int_eq(ostori_config_load(&cfg, NULL, NULL), 0);
	ck_assert_uint_eq(ostori_virtio_config(&cfg)->queue_count, 3);
	ck_assert_str_eq(cfg.path, env_path);

	/* Explicit beats env. */
	ck_assert_int_eq(ostori_config_load(&cfg, explicit_path, NULL), 0);
	ck_assert_uint_eq(ostori_virtio_config(&cfg)->queue_count, 2);
	ck_assert_str_eq(cfg.path, explicit_path);

	/* Explicit "" means built-in defaults, ignoring env and system. */
	ck_assert_int_eq(ostori_config_load(&cfg, "", NULL), 0);
	ck_assert_uint_eq(ostori_virtio_config(&cfg)->queue_count, 1);
	ck_assert_str_eq(cfg.path, "");

	/* A file named by the env must exist. */
	ck_assert_int_eq(setenv("ORIONSTOR_CONF", missing, 1), 0);
	ck_assert_int_eq(ostori_config_load(&cfg, NULL, NULL), OSTOR_ERROR_CONFIG);
	ck_assert(strstr(ostor_last_error(), missing));
	ck_assert(strstr(ostor_last_error(), "$ORIONSTOR_CONF"));
	ck_assert_str_eq(cfg.path, "");

	/* No env, no system file: built-in defaults, path "". */
	ck_assert_int_eq(unsetenv("ORIONSTOR_CONF"), 0);
	ck_assert_int_eq(ostori_config_load(&cfg, explicit_path, NULL), 0);
	ostori_config_set_system_path(missing);
	ck_assert_int_eq(ostori_config_load(&cfg, NULL, NULL), 0);
	ck_assert_str_eq(cfg.path, "");
	ck_assert_uint_eq(ostori_virtio_config(&cfg)->queue_count, 1);

	/* A system file that exists but is broken is an error. */
	p = write_text("[virtio_scsi]\nqueue_count = 99\n");
	snprintf(sys_path, sizeof(sys_path), "%s", p);
	ostori_config_set_system_path(sys_path);
	ck_assert_int_eq(ostori_config_load(&cfg, NULL, NULL), OSTOR_ERROR_CONFIG);
	ck_assert(strstr(ostor_last_error(), ":2: virtio_scsi.queue_count = 99"));

	ostori_config_set_system_path(NULL);
}
END_TEST

/* ---- the getter ----------------------------------------------------------- */

START_TEST(test_get_text)
{
	struct ostor_config cfg;
	char buf[64];

	ostori_config_defaults(&cfg);
	ck_assert_int_eq(ostori_config_get_text(&cfg, "virtio_scsi", "nope", buf, sizeof(buf)),
			 OSTOR_ERROR_NOT_FOUND);
	ck_assert(strstr(ostor_last_error(), "'nope'"));
	ck_assert_int_eq(ostori_config_get_text(&cfg, "nope", "queue_count", buf, sizeof(buf)),
			 OSTOR_ERROR_NOT_FOUND);
	ck_assert(strstr(ostor_last_error(), "no table [nope]"));
	ck_assert_int_eq(ostori_config_get_text(&cfg, "usb_storage", "queue_count", buf, sizeof(buf)),
			 OSTOR_ERROR_NOT_FOUND);
	/* "16777216" needs 9 bytes. */
	ck_assert_int_eq(ostori_config_get_text(&cfg, "usb_storage", "cache_size", buf, 8),
			 OSTOR_ERROR_OVERFLOW);
	ck_assert_str_eq(buf, "");
	ck_assert_int_eq(ostori_config_get_text(&cfg, "usb_storage", "cache_size", buf, 9), 0);
	ck_assert_str_eq(buf, "16777216");
	ck_assert_int_eq(ostori_config_get_text(&cfg, "usb_storage", "cache_size", NULL, 0),
			 OSTOR_ERROR_OVERFLOW);
	ck_assert_int_eq(ostori_config_get_text(NULL, "usb_storage", "cache_size", buf, 9),
			 OSTOR_ERROR_INVALID_PARAM);
	((struct ostori_virtio_config *)ostori_virtio_config(&cfg))->io_scheduler = OSTORI_IO_SCHED_FIFO;
	get(&cfg, "virtio_scsi", "io_scheduler", "fifo");
	((struct ostori_usb_config *)ostori_usb_config(&cfg))->cache_policy = OSTORI_CACHE_LFU;
	get(&cfg, "usb_storage", "cache_policy", "lfu");
	((struct ostori_virtio_config *)ostori_virtio_config(&cfg))->read_ahead_size = UINT64_C(1) << 40;
	get(&cfg, "virtio_scsi", "read_ahead_size", "1099511627776");
}
END_TEST

/* ---- the man page documents every key as the table describes it --------- */

static const char *man_path(char *buf, size_t len)
{
	const char *srcdir = getenv("srcdir");

	/* automake's harness exports srcdir; the lead's also top_srcdir. */
	if (!srcdir || !*srcdir)
		srcdir = getenv("top_srcdir");
	snprintf(buf, len, "%s/man/orionstor.conf.5", srcdir && *srcdir ? srcdir : ".");
	return buf;
}

/* The summary line that must follow ".B key" in orionstor.conf(5). */
static void man_summary(const struct ostori_config_keyinfo *info, char *buf, size_t len)
{
	char unit[64] = "";
	char type[16];

	snprintf(type, sizeof(type), "%s", info->type);
	type[0] = (char)(type[0] - 'a' + 'A');
	if (!strcmp(info->type, "integer") && *info->unit)
		snprintf(unit, sizeof(unit), " (%s)", info->unit);
	if (!strcmp(info->type, "boolean"))
		snprintf(buf, len, "%s, default %s.", type, info->def);
	else if (!strcmp(info->type, "string"))
		snprintf(buf, len, "%s, default %s, one of %s.", type, info->def, info->range);
	else
		snprintf(buf, len, "%s%s%s, default %s, range %s.", type, unit,
			 info->pow2 ? ", a power of two" : "", info->def, info->range);
}

/* The line after the summary of a key that has no effect yet. */
static void man_pending(const struct ostori_config_keyinfo *info, char *buf, size_t len)
{
	char what[128];
	size_t n = 0;

	for (const char *p = info->pending ? info->pending : ""; *p && n + 2 < sizeof(what); p++) {
		if (*p == '-')
			what[n++] = '\\';
		what[n++] = *p;
	}
	what[n] = '\0';
	snprintf(buf, len, "Not available yet (%s): a value other than the default logs a warning and changes nothing.", what);
}

START_TEST(test_man_page_matches_table)
{
	char path[1024], line[512], want[256], section[64] = "";
	size_t n = ostori_config_key_count();
	bool *found = calloc(n, sizeof(*found));
	bool expect_summary = false, expect_pending = false;
	size_t current = 0, documented = 0;
	FILE *fp;

	ck_assert_ptr_nonnull(found);
	fp = fopen(man_path(path, sizeof(path)), "r");
	ck_assert_msg(fp != NULL, "cannot open %s: %s (set $srcdir)", path, strerror(errno));
	while (fgets(line, sizeof(line), fp)) {
		line[strcspn(line, "\n")] = '\0';
		if (!strncmp(line, ".Ss [", 5)) {
			snprintf(section, sizeof(section), "%.*s", (int)strcspn(line + 5, "]"),
				 line + 5);
			continue;
		}
		if (expect_pending) {
			struct ostori_config_keyinfo info;

			/* Exactly the keys without effect say so, first thing. */
			ck_assert_int_eq(ostori_config_key_info(current, &info), 0);
			man_pending(&info, want, sizeof(want));
			if (info.pending)
				ck_assert_msg(!strcmp(line, want), "%s: [%s] %s: '%s', expected '%s'", path,
					      info.table, info.key, line, want);
			else
				ck_assert_msg(strncmp(line, "Not available yet", 17),
					      "%s: [%s] %s works but the page says it does not", path,
					      info.table, info.key);
			expect_pending = false;
		}
		if (expect_summary) {
			struct ostori_config_keyinfo info;

			ck_assert_int_eq(ostori_config_key_info(current, &info), 0);
			man_summary(&info, want, sizeof(want));
			ck_assert_msg(!strcmp(line, want), "%s: [%s] %s: '%s', expected '%s'", path,
				      info.table, info.key, line, want);
			expect_summary = false;
			expect_pending = true;
			continue;
		}
		/* An entry is ".It Sy key", then the summary line (mdoc). */
		if (strncmp(line, ".It Sy ", 7) || !*section)
			continue;
		for (size_t i = 0; i < n; i++) {
			struct ostori_config_keyinfo info;

			ck_assert_int_eq(ostori_config_key_info(i, &info), 0);
			if (strcmp(info.table, section) || strcmp(info.key, line + 7))
				continue;
			ck_assert_msg(!found[i], "%s documented twice", info.key);
			found[i] = true;
			documented++;
			current = i;
			expect_summary = true;
		}
	}
	fclose(fp);
	for (size_t i = 0; i < n; i++) {
		struct ostori_config_keyinfo info;

		ck_assert_int_eq(ostori_config_key_info(i, &info), 0);
		ck_assert_msg(found[i], "%s: [%s] %s is not documented", path, info.table, info.key);
	}
	ck_assert_uint_eq(documented, n);
	free(found);
}
END_TEST

/* The first example of the man page is a valid file without warnings. */
START_TEST(test_man_page_example_loads)
{
	char path[1024], line[512], text[4096] = "";
	bool in_example = false, done = false;
	struct ostor_config cfg;
	struct capture cap;
	FILE *fp;

	fp = fopen(man_path(path, sizeof(path)), "r");
	ck_assert_msg(fp != NULL, "cannot open %s: %s (set $srcdir)", path, strerror(errno));
	while (!done && fgets(line, sizeof(line), fp)) {
		if (!strcmp(line, ".Bd -literal\n")) {
			in_example = true;
		} else if (in_example && !strcmp(line, ".Ed\n")) {
			done = true;
		} else if (in_example) {
			ck_assert_msg(!strchr(line, '\\'), "roff escape in the example: %s", line);
			ck_assert(strlen(text) + strlen(line) < sizeof(text));
			strcat(text, line);
		}
	}
	fclose(fp);
	ck_assert_msg(done, "%s: no .Bd -literal/.Ed example", path);
	ck_assert(strstr(text, "[usb_storage]"));
	load_ok(text, &cfg, &cap);
	ck_assert_uint_eq(cap.count, 0);
	ck_assert_uint_eq(ostori_virtio_config(&cfg)->scsi_retry_count, 5);
	ck_assert_uint_eq(ostori_usb_config(&cfg)->storage_device_max_count, 4);
}
END_TEST

static Suite *config_suite(void)
{
	Suite *s = suite_create("config");
	TCase *tc = tcase_create("parse");

	tcase_add_test(tc, test_defaults);
	tcase_add_test(tc, test_default_text_round_trips);
	tcase_add_test(tc, test_good_file_every_key);
	tcase_add_test(tc, test_empty_file);
	tcase_add_test(tc, test_size_units);
	tcase_add_test(tc, test_unknown_key_warns);
	tcase_add_test(tc, test_unknown_table_warns);
	tcase_add_test(tc, test_warning_without_context);
	tcase_add_test(tc, test_wrong_types);
	tcase_add_test(tc, test_bad_size_unit);
	tcase_add_test(tc, test_out_of_range);
	tcase_add_test(tc, test_integer_bounds_table);
	tcase_add_test(tc, test_unterminated_string);
	tcase_add_test(tc, test_hash_in_string);
	tcase_add_test(tc, test_duplicates);
	tcase_add_test(tc, test_same_name_two_tables);
	tcase_add_test(tc, test_malformed_lines);
	tcase_add_test(tc, test_nul_byte);
	tcase_add_test(tc, test_cross_key_limits);
	tcase_add_test(tc, test_nothing_half_applied);
	tcase_add_test(tc, test_long_and_indented_lines);
	suite_add_tcase(s, tc);

	tc = tcase_create("files");
	tcase_add_test(tc, test_explicit_missing_file);
	tcase_add_test(tc, test_path_resolution);
	tcase_add_test(tc, test_get_text);
	tcase_add_test(tc, test_man_page_matches_table);
	tcase_add_test(tc, test_pending_key_warns);
	tcase_add_test(tc, test_man_page_example_loads);
	suite_add_tcase(s, tc);
	return s;
}

/* Remove the files this run created (a flat directory). */
static void remove_tmpdir(void)
{
	DIR *dir = opendir(tmpdir);
	struct dirent *de;
	char path[600];

	while (dir && (de = readdir(dir))) {
		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		snprintf(path, sizeof(path), "%s/%s", tmpdir, de->d_name);
		unlink(path);
	}
	if (dir)
		closedir(dir);
	if (rmdir(tmpdir) != 0)
		fprintf(stderr, "test_config: could not remove %s: %s\n", tmpdir, strerror(errno));
}

int main(void)
{
	const char *base = getenv("TMPDIR");
	SRunner *sr;
	int failed;

	snprintf(tmpdir, sizeof(tmpdir), "%s/test_config.XXXXXX", base && *base ? base : "/tmp");
	if (!mkdtemp(tmpdir)) {
		perror("mkdtemp");
		return 99;
	}
	/* Keep the library's own logging (ctx NULL) quiet. */
	setenv("ORIONSTOR_DEBUG", "1", 1);
	sr = srunner_create(config_suite());
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	remove_tmpdir();
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
