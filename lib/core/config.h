/*
 * lib/core/config.h - the configuration file (orionstor.conf(5)).
 *
 * A TOML subset: tables of key = value lines.  Each component declares
 * its own table (struct ostori_config_table: its keys, their types,
 * defaults and ranges, and the struct they fill), listed once in
 * lib/backends.c; the parser, the validator, the defaults,
 * ostori_config_get_text() and the consistency test against the man page
 * all work from those tables and know no key by name.
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

/* [virtio_scsi] io_scheduler (also read by the core's software queueing). */
enum ostori_io_scheduler {
	OSTORI_IO_SCHED_NONE = 0,
	OSTORI_IO_SCHED_FIFO,
	OSTORI_IO_SCHED_DEADLINE,
};

/* ---- tables, declared by their components -------------------------------- */

enum ostori_config_key_type {
	OSTORI_KEY_INT,    /* uint32_t */
	OSTORI_KEY_BOOL,   /* bool */
	OSTORI_KEY_SIZE,   /* uint64_t bytes */
	OSTORI_KEY_CHOICE, /* int: index into choices */
	OSTORI_KEY_TEXT,   /* char[OSTORI_CONFIG_TEXT_MAX]: a quoted string, checked by check() */
};

struct ostori_config_key {
	const char *table;
	const char *name;
	enum ostori_config_key_type type;
	bool pow2;
	size_t offset;              /* in the table's struct */
	uint64_t def, min, max;
	const char *const *choices; /* CHOICE, NULL-terminated */
	const char *unit;           /* for messages and the man page */
	int (*check)(const char *); /* TEXT: 0, or <0 with the error set */
};

/* A key the specification names whose capability does not exist yet: it
 * is accepted (files stay valid when it lands), documented as such, and
 * setting it logs a warning that it changes nothing. */
struct ostori_config_pending {
	const char *key, *what;
};

/* Two integer keys of a table where the first may not exceed the second. */
struct ostori_config_limit {
	const char *small, *big;
};

struct ostori_config_table {
	const char *name;           /* [name] */
	size_t size;                /* of the struct its keys fill */
	const struct ostori_config_key *keys;
	size_t nkeys;
	const struct ostori_config_pending *pending;
	size_t npending;
	const struct ostori_config_limit *limits;
	size_t nlimits;
};

/* Every table (lib/backends.c), NULL-terminated. */
extern const struct ostori_config_table *const ostori_config_tables[];

/* offsetof, refusing to compile when the field is not of type T. */
#define OSTORI_CONFIG_FIELD(S, key, T) _Generic(((S *)0)->key, T: offsetof(S, key))

#define OSTORI_K_INT(tbl, S, key, d, lo, hi, u)                                  \
	{ tbl, #key, OSTORI_KEY_INT, false, OSTORI_CONFIG_FIELD(S, key, uint32_t), d, lo, hi, NULL, u }
#define OSTORI_K_POW2(tbl, S, key, d, lo, hi, u)                                 \
	{ tbl, #key, OSTORI_KEY_INT, true, OSTORI_CONFIG_FIELD(S, key, uint32_t), d, lo, hi, NULL, u }
#define OSTORI_K_BOOL(tbl, S, key, d)                                            \
	{ tbl, #key, OSTORI_KEY_BOOL, false, OSTORI_CONFIG_FIELD(S, key, bool), d, 0, 1, NULL, "" }
#define OSTORI_K_SIZE(tbl, S, key, d, lo, hi)                                    \
	{ tbl, #key, OSTORI_KEY_SIZE, false, OSTORI_CONFIG_FIELD(S, key, uint64_t), d, lo, hi, NULL, \
	  "bytes" }
/* list: NULL-terminated; the field holds the index. */
#define OSTORI_K_CHOICE(tbl, S, key, d, list)                                    \
	{ tbl, #key, OSTORI_KEY_CHOICE, false, OSTORI_CONFIG_FIELD(S, key, int), d, 0,           \
	  sizeof(list) / sizeof((list)[0]) - 2, list, "" }
/* Default "", at most OSTORI_CONFIG_TEXT_MAX - 1 characters. */
#define OSTORI_K_TEXT(tbl, S, key, chk)                                          \
	{ tbl, #key, OSTORI_KEY_TEXT, false,                                      \
	  _Generic(&((S *)0)->key, char (*)[OSTORI_CONFIG_TEXT_MAX]: offsetof(S, key)), \
	  0, 0, OSTORI_CONFIG_TEXT_MAX - 1, NULL, "", chk }

#define OSTORI_KiB (UINT64_C(1) << 10)
#define OSTORI_MiB (UINT64_C(1) << 20)
#define OSTORI_GiB (UINT64_C(1) << 30)
#define OSTORI_TiB (UINT64_C(1) << 40)

/* Room for the structs of every table (checked when the tables load). */
#define OSTORI_CONFIG_DATA_MAX 4096

struct ostor_config {
	/* The tables' structs, one after the other in ostori_config_tables
	 * order (16-byte aligned): a plain value, copied as a whole. */
	_Alignas(16) unsigned char data[OSTORI_CONFIG_DATA_MAX];
	/* Warnings (unknown tables and keys) issued while loading. */
	unsigned int warnings;
	/* The file these values came from; "" for built-in defaults. */
	char path[OSTORI_CONFIG_PATH_MAX];
};

/* The struct of table t in cfg (its component casts it). */
const void *ostori_config_data(const struct ostor_config *cfg, const struct ostori_config_table *t);

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
