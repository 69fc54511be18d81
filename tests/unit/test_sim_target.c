/*
 * tests/unit/test_sim_target.c - conformance of the simulated SCSI target.
 *
 * Every CDB is built by hand here (no dependency on lib/scsi) and every
 * answer is checked byte by byte against SPC-4 / SBC-3.
 */
#include "core/internal.h"
#include "sim/target.h"
#include "sim/target_priv.h" /* white-box: the lock-free way of null LUs */

#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define GOOD 0x00
#define CHECK 0x02
#define ILLEGAL 0x5
#define NOT_READY 0x2
#define MEDIUM 0x3
#define UNIT_ATT 0x6
#define PROTECT 0x7
#define MISCOMPARE_KEY 0xe

#define CDB(...) ((const uint8_t[]){ __VA_ARGS__ }), sizeof((const uint8_t[]){ __VA_ARGS__ })

static uint16_t be16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

static uint32_t be32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static uint64_t be64(const uint8_t *p)
{
	return (uint64_t)be32(p) << 32 | be32(p + 4);
}

static void wbe16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

static void wbe32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

static void wbe64(uint8_t *p, uint64_t v)
{
	wbe32(p, (uint32_t)(v >> 32));
	wbe32(p + 4, (uint32_t)v);
}

/* Run one command with a single buffer. */
static struct sim_cmd run(struct sim_target *t, uint32_t lun, const uint8_t *cdb,
			  size_t cdb_len, int dir, void *buf, size_t len)
{
	struct sim_cmd c;
	struct iovec iov = { .iov_base = buf, .iov_len = len };

	memset(&c, 0, sizeof(c));
	c.lun = lun;
	c.cdb = cdb;
	c.cdb_len = cdb_len;
	c.dir = dir;
	c.iov = buf ? &iov : NULL;
	c.iovcnt = buf ? 1 : 0;
	/* poison the results: execute must set them all */
	c.status = 0xee;
	c.sense_len = 999;
	c.transferred = 12345;
	c.residual = 54321;
	c.overrun = true;
	sim_target_execute(t, &c);
	c.iov = NULL;
	ck_assert_uint_le(c.transferred, buf ? len : 0);
	ck_assert_uint_eq(c.transferred + c.residual, buf ? len : 0);
	ck_assert(c.sense_len == 0 || c.sense_len == 18);
	return c;
}

#define IN OSTOR_DIR_FROM_DEVICE
#define OUT OSTOR_DIR_TO_DEVICE
#define NONE OSTOR_DIR_NONE

static void ck_good_(const struct sim_cmd *c, int line)
{
	ck_assert_msg(c->status == GOOD,
		      "line %d: status %#x sense %x/%02x/%02x", line, c->status,
		      c->sense_len ? c->sense[2] & 0xf : 0,
		      c->sense_len ? c->sense[12] : 0, c->sense_len ? c->sense[13] : 0);
	ck_assert_uint_eq(c->sense_len, 0);
}
#define ck_good(c) ck_good_(&(c), __LINE__)

static void ck_sense_(const struct sim_cmd *c, int key, int asc, int ascq, int line)
{
	ck_assert_msg(c->status == CHECK, "line %d: status %#x, want CHECK CONDITION",
		      line, c->status);
	ck_assert_uint_eq(c->sense_len, 18);
	ck_assert_uint_eq(c->sense[0] & 0x7f, 0x70);
	ck_assert_uint_eq(c->sense[7], 10);
	ck_assert_msg((c->sense[2] & 0xf) == key && c->sense[12] == asc && c->sense[13] == ascq,
		      "line %d: sense %x/%02x/%02x, want %x/%02x/%02x", line,
		      c->sense[2] & 0xf, c->sense[12], c->sense[13], key, asc, ascq);
}
#define ck_sense(c, k, a, q) ck_sense_(&(c), k, a, q, __LINE__)

/* INVALID FIELD IN CDB (cd) / PARAMETER LIST with its field pointer. */
static void ck_field_(const struct sim_cmd *c, bool cd, unsigned int byte, int bit, int line)
{
	ck_sense_(c, ILLEGAL, cd ? 0x24 : 0x26, 0, line);
	ck_assert_msg(c->sense[15] & 0x80, "line %d: SKSV not set", line);
	ck_assert_uint_eq(!!(c->sense[15] & 0x40), cd);
	ck_assert_msg(be16(c->sense + 16) == byte, "line %d: field pointer %u, want %u",
		      line, be16(c->sense + 16), byte);
	if (bit >= 0) {
		ck_assert_uint_eq(c->sense[15] & 0x08, 0x08);
		ck_assert_uint_eq(c->sense[15] & 7, (unsigned int)bit);
	} else {
		ck_assert_uint_eq(c->sense[15] & 0x08, 0);
	}
}
#define ck_cdb_field(c, byte, bit) ck_field_(&(c), true, byte, bit, __LINE__)
#define ck_param_field(c, byte, bit) ck_field_(&(c), false, byte, bit, __LINE__)

static uint32_t sense_info(const struct sim_cmd *c)
{
	ck_assert_msg(c->sense[0] & 0x80, "VALID bit not set");
	return be32(c->sense + 3);
}

/* ---- fixtures ----------------------------------------------------------- */

static struct sim_target *new_target(void)
{
	struct sim_target *t = sim_target_new();

	ck_assert_ptr_nonnull(t);
	return t;
}

static void add_lu(struct sim_target *t, uint32_t lun, int type, uint32_t bs,
		   uint64_t blocks, bool ro, bool removable)
{
	struct sim_lu_config cfg;

	sim_lu_config_init(&cfg);
	cfg.type = type;
	cfg.block_size = bs;
	cfg.blocks = blocks;
	cfg.readonly = ro;
	cfg.removable = removable;
	ck_assert_int_eq(sim_target_add_lu(t, lun, &cfg), 0);
}

static struct sim_target *disk_target(uint64_t blocks)
{
	struct sim_target *t = new_target();

	add_lu(t, 0, OSTOR_TYPE_DISK, 512, blocks, false, false);
	return t;
}

static struct sim_cmd rw(struct sim_target *t, uint32_t lun, uint8_t op, uint64_t lba,
			 uint32_t count, int dir, void *buf, size_t len)
{
	uint8_t cdb[16];

	memset(cdb, 0, sizeof(cdb));
	cdb[0] = op;
	switch (op) {
	case 0x08: case 0x0a:
		cdb[1] = (uint8_t)((lba >> 16) & 0x1f);
		cdb[2] = (uint8_t)(lba >> 8);
		cdb[3] = (uint8_t)lba;
		cdb[4] = (uint8_t)count;
		return run(t, lun, cdb, 6, dir, buf, len);
	case 0xa8: case 0xaa:
		wbe32(cdb + 2, (uint32_t)lba);
		wbe32(cdb + 6, count);
		return run(t, lun, cdb, 12, dir, buf, len);
	case 0x88: case 0x8a: case 0x8f: case 0x91: case 0x93:
		wbe64(cdb + 2, lba);
		wbe32(cdb + 10, count);
		return run(t, lun, cdb, 16, dir, buf, len);
	default:
		wbe32(cdb + 2, (uint32_t)lba);
		wbe16(cdb + 7, (uint16_t)count);
		return run(t, lun, cdb, 10, dir, buf, len);
	}
}

static struct sim_cmd rd10(struct sim_target *t, uint64_t lba, uint32_t n, void *buf, size_t len)
{
	return rw(t, 0, 0x28, lba, n, IN, buf, len);
}

static struct sim_cmd wr10(struct sim_target *t, uint64_t lba, uint32_t n, void *buf, size_t len)
{
	return rw(t, 0, 0x2a, lba, n, OUT, buf, len);
}

static void fill(uint8_t *p, size_t n, unsigned int seed)
{
	for (size_t i = 0; i < n; i++)
		p[i] = (uint8_t)(seed * 131 + i * 7 + (i >> 9));
}

static bool is_zero(const uint8_t *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (p[i])
			return false;
	return true;
}

static struct sim_cmd tur(struct sim_target *t, uint32_t lun)
{
	return run(t, lun, CDB(0x00, 0, 0, 0, 0, 0), NONE, NULL, 0);
}

static struct sim_cmd req_sense(struct sim_target *t, uint32_t lun, uint8_t *buf, bool desc)
{
	return run(t, lun, CDB(0x03, desc ? 1 : 0, 0, 0, 252, 0), IN, buf, 252);
}

/* ---- INQUIRY ------------------------------------------------------------ */

START_TEST(test_inquiry_standard)
{
	struct sim_target *t = new_target();
	uint8_t buf[512];
	struct sim_cmd c;

	add_lu(t, 0, OSTOR_TYPE_DISK, 512, 100, false, false);
	add_lu(t, 1, OSTOR_TYPE_DISK, 512, 100, false, true);

	c = run(t, 0, CDB(0x12, 0, 0, 0x02, 0x00, 0), IN, buf, sizeof(buf));
	ck_good(c);
	ck_assert_uint_ge(c.transferred, 36);
	ck_assert_uint_eq(c.transferred, (size_t)buf[4] + 5);
	ck_assert_uint_eq(c.residual, sizeof(buf) - c.transferred);
	ck_assert(!c.overrun);
	ck_assert_uint_eq(buf[0], 0x00);
	ck_assert_uint_eq(buf[1] & 0x80, 0);
	ck_assert_uint_eq(buf[2], 0x06);          /* SPC-4 */
	ck_assert_uint_eq(buf[3] & 0x0f, 2);
	ck_assert_uint_eq(buf[7] & 0x02, 0x02);   /* CMDQUE */
	ck_assert(!memcmp(buf + 8, "ORIONSTR", 8));
	ck_assert(!memcmp(buf + 16, "SIM DISK        ", 16));
	ck_assert(!memcmp(buf + 32, "0001", 4));

	c = run(t, 1, CDB(0x12, 0, 0, 0, 36, 0), IN, buf, sizeof(buf));
	ck_good(c);
	ck_assert_uint_eq(c.transferred, 36);      /* allocation length */
	ck_assert_uint_eq(buf[1] & 0x80, 0x80);    /* RMB */

	/* allocation length 5 truncates; 0 transfers nothing */
	memset(buf, 0xaa, sizeof(buf));
	c = run(t, 0, CDB(0x12, 0, 0, 0, 5, 0), IN, buf, sizeof(buf));
	ck_good(c);
	ck_assert_uint_eq(c.transferred, 5);
	ck_assert_uint_eq(buf[5], 0xaa);
	c = run(t, 0, CDB(0x12, 0, 0, 0, 0, 0), IN, buf, sizeof(buf));
	ck_good(c);
	ck_assert_uint_eq(c.transferred, 0);

	/* buffer shorter than the allocation length: overrun */
	c = run(t, 0, CDB(0x12, 0, 0, 0, 96, 0), IN, buf, 20);
	ck_good(c);
	ck_assert_uint_eq(c.transferred, 20);
	ck_assert_uint_eq(c.residual, 0);
	ck_assert(c.overrun);

	/* page code without EVPD; CMDDT */
	c = run(t, 0, CDB(0x12, 0, 0x80, 0, 96, 0), IN, buf, sizeof(buf));
	ck_cdb_field(c, 2, -1);
	c = run(t, 0, CDB(0x12, 0x02, 0, 0, 96, 0), IN, buf, sizeof(buf));
	ck_cdb_field(c, 1, 1);

	/* LUN that does not exist: PQ 3, type 1Fh, still GOOD */
	c = run(t, 9, CDB(0x12, 0, 0, 0, 96, 0), IN, buf, sizeof(buf));
	ck_good(c);
	ck_assert_uint_eq(buf[0], 0x7f);
	c = run(t, 9, CDB(0x12, 1, 0x00, 0, 96, 0), IN, buf, sizeof(buf));
	ck_sense(c, ILLEGAL, 0x25, 0);
	sim_target_free(t);
}
END_TEST

START_TEST(test_inquiry_custom_strings)
{
	struct sim_target *t = new_target();
	struct sim_lu_config cfg;
	uint8_t buf[256];
	struct sim_cmd c;

	sim_lu_config_init(&cfg);
	cfg.blocks = 10;
	cfg.vendor = "ACME";
	cfg.product = "Widget";
	cfg.revision = "9.1";
	cfg.serial = "SER-123";
	ck_assert_int_eq(sim_target_add_lu(t, 0, &cfg), 0);
	c = run(t, 0, CDB(0x12, 0, 0, 0, 96, 0), IN, buf, sizeof(buf));
	ck_good(c);
	ck_assert(!memcmp(buf + 8, "ACME    Widget          9.1 ", 28));
	c = run(t, 0, CDB(0x12, 1, 0x80, 0, 96, 0), IN, buf, sizeof(buf));
	ck_good(c);
	ck_assert_uint_eq(be16(buf + 2), 7);
	ck_assert(!memcmp(buf + 4, "SER-123", 7));
	sim_target_free(t);
}
END_TEST

START_TEST(test_inquiry_vpd)
{
	struct sim_target *t = new_target();
	uint8_t buf[512], list[64], naa0[8];
	struct sim_cmd c;
	size_t n;
	struct sim_lu_config cfg;

	sim_lu_config_init(&cfg);
	cfg.blocks = 1000;
	cfg.max_transfer = 128;
	ck_assert_int_eq(sim_target_add_lu(t, 0, &cfg), 0);
	add_lu(t, 1, OSTOR_TYPE_CDROM, 0, 50, false, false);
	add_lu(t, 2, OSTOR_TYPE_DISK, 512, 50, false, false);

	c = run(t, 0, CDB(0x12, 1, 0x00, 0, 255, 0), IN, buf, sizeof(buf));
	ck_good(c);
	ck_assert_uint_eq(buf[1], 0x00);
	n = be16(buf + 2);
	ck_assert_uint_eq(c.transferred, 4 + n);
	ck_assert_uint_eq(n, 6);
	ck_assert(!memcmp(buf + 4, "\x00\x80\x83\xb0\xb1\xb2", 6));
	memcpy(list, buf + 4, n);
	/* every listed page answers with its own code; ascending order */
	for (size_t i = 0; i < n; i++) {
		c = run(t, 0, CDB(0x12, 1, list[i], 0, 255, 0), IN, buf, sizeof(buf));
		ck_good(c);
		ck_assert_uint_eq(buf[1], list[i]);
		ck_assert_uint_eq(c.transferred, 4u + be16(buf + 2));
		if (i)
			ck_assert_uint_gt(list[i], list[i - 1]);
	}
	/* 80h: generated serial, printable */
	c = run(t, 0, CDB(0x12, 1, 0x80, 0, 255, 0), IN, buf, sizeof(buf));
	ck_assert_uint_gt(be16(buf + 2), 0);
	for (size_t i = 0; i < be16(buf + 2); i++)
		ck_assert(buf[4 + i] > 0x20 && buf[4 + i] < 0x7f);
	/* 83h: NAA (locally assigned) then T10 vendor id */
	c = run(t, 0, CDB(0x12, 1, 0x83, 0, 255, 0), IN, buf, sizeof(buf));
	ck_good(c);
	ck_assert_uint_eq(buf[4] & 0x0f, 1);       /* binary */
	ck_assert_uint_eq(buf[5] & 0x0f, 3);       /* NAA */
	ck_assert_uint_eq(buf[5] & 0x30, 0);       /* associated with the LU */
	ck_assert_uint_eq(buf[7], 8);
	ck_assert_uint_eq(buf[8] >> 4, 3);
	memcpy(naa0, buf + 8, 8);
	ck_assert_uint_eq(buf[16] & 0x0f, 2);      /* ASCII */
	ck_assert_uint_eq(buf[17] & 0x0f, 1);      /* T10 vendor id */
	ck_assert(!memcmp(buf + 20, "ORIONSTR", 8));
	ck_assert_uint_eq(be16(buf + 2), 12 + 4 + buf[19]);
	/* another LU has another NAA */
	c = run(t, 2, CDB(0x12, 1, 0x83, 0, 255, 0), IN, buf, sizeof(buf));
	ck_good(c);
	ck_assert(memcmp(naa0, buf + 8, 8) != 0);
	/* B0h block limits */
	c = run(t, 0, CDB(0x12, 1, 0xb0, 0, 255, 0), IN, buf, sizeof(buf));
	ck_good(c);
	ck_assert_uint_eq(be16(buf + 2), 0x3c);
	ck_assert_uint_eq(buf[4] & 1, 1);          /* WSNZ */
	ck_assert_uint_eq(buf[5], 128);            /* MAXIMUM COMPARE AND WRITE LENGTH <= transfer limit */
	ck_assert_uint_eq(be32(buf + 8), 128);
	ck_assert_uint_eq(be32(buf + 20), SIM_MAX_UNMAP_LBA_COUNT);
	ck_assert_uint_eq(be32(buf + 24), SIM_MAX_UNMAP_DESCRIPTORS);
	ck_assert_uint_eq(be64(buf + 36), SIM_MAX_WRITE_SAME_LEN);
	/* B1h non-rotating */
	c = run(t, 0, CDB(0x12, 1, 0xb1, 0, 255, 0), IN, buf, sizeof(buf));
	ck_good(c);
	ck_assert_uint_eq(be16(buf + 4), 1);
	/* B2h LBPU LBPWS LBPWS10 */
	c = run(t, 0, CDB(0x12, 1, 0xb2, 0, 255, 0), IN, buf, sizeof(buf));
	ck_good(c);
	ck_assert_uint_eq(buf[5] & 0xe0, 0xe0);
	/* unsupported pages, page list of a cdrom */
	c = run(t, 0, CDB(0x12, 1, 0x89, 0, 255, 0), IN, buf, sizeof(buf));
	ck_cdb_field(c, 2, -1);
	c = run(t, 0, CDB(0x12, 1, 0xb3, 0, 255, 0), IN, buf, sizeof(buf));
	ck_cdb_field(c, 2, -1);
	c = run(t, 1, CDB(0x12, 1, 0x00, 0, 255, 0), IN, buf, sizeof(buf));
	ck_good(c);
	ck_assert_uint_eq(buf[0], 0x05);
	ck_assert_uint_eq(be16(buf + 2), 3);
	ck_assert(!memcmp(buf + 4, "\x00\x80\x83", 3));
	c = run(t, 1, CDB(0x12, 1, 0xb0, 0, 255, 0), IN, buf, sizeof(buf));
	ck_cdb_field(c, 2, -1);
	/* allocation length 2 on a VPD page */
	c = run(t, 0, CDB(0x12, 1, 0x00, 0, 2, 0), IN, buf, sizeof(buf));
	ck_good(c);
	ck_assert_uint_eq(c.transferred, 2);
	sim_target_free(t);
}
END_TEST

/* ---- REPORT LUNS -------------------------------------------------------- */

START_TEST(test_report_luns)
{
	struct sim_target *t = new_target();
	uint8_t buf[256];
	struct sim_cmd c;
	uint32_t luns[8];

	add_lu(t, 16383, OSTOR_TYPE_DISK, 512, 8, false, false);
	add_lu(t, 300, OSTOR_TYPE_DISK, 512, 8, false, false);
	add_lu(t, 5, OSTOR_TYPE_DISK, 512, 8, false, false);
	add_lu(t, 0, OSTOR_TYPE_DISK, 512, 8, false, false);
	ck_assert_uint_eq(sim_target_lu_count(t), 4);
	ck_assert_uint_eq(sim_target_luns(t, luns, 8), 4);
	ck_assert_uint_eq(luns[0], 0);
	ck_assert_uint_eq(luns[1], 5);
	ck_assert_uint_eq(luns[2], 300);
	ck_assert_uint_eq(luns[3], 16383);

	/* served even through a LUN that does not exist */
	memset(buf, 0xee, sizeof(buf));
	c = run(t, 77, CDB(0xa0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0), IN, buf, sizeof(buf));
	ck_good(c);
	ck_assert_uint_eq(c.transferred, 40);
	ck_assert_uint_eq(be32(buf), 32);
	ck_assert_uint_eq(be32(buf + 4), 0);
	ck_assert(!memcmp(buf + 8, "\x00\x00\x00\x00\x00\x00\x00\x00", 8));
	ck_assert(!memcmp(buf + 16, "\x00\x05\x00\x00\x00\x00\x00\x00", 8));
	ck_assert(!memcmp(buf + 24, "\x41\x2c\x00\x00\x00\x00\x00\x00", 8));
	ck_assert(!memcmp(buf + 32, "\x7f\xff\x00\x00\x00\x00\x00\x00", 8));

	/* truncated by the allocation length: list length stays full */
	memset(buf, 0xee, sizeof(buf));
	c = run(t, 0, CDB(0xa0, 0, 0, 0, 0, 0, 0, 0, 0, 20, 0, 0), IN, buf, sizeof(buf));
	ck_good(c);
	ck_assert_uint_eq(c.transferred, 20);
	ck_assert_uint_eq(be32(buf), 32);
	ck_assert_uint_eq(buf[17], 0x05);
	ck_assert_uint_eq(buf[20], 0xee);
	/* absurd allocation length into a small buffer */
	c = run(t, 0, CDB(0xa0, 0, 2, 0, 0, 0, 0xff, 0xff, 0xff, 0xff, 0, 0), IN, buf, 12);
	ck_good(c);
	ck_assert_uint_eq(c.transferred, 12);
	ck_assert(c.overrun);
	/* select report 01h: well-known LUs only (none) */
	c = run(t, 0, CDB(0xa0, 0, 1, 0, 0, 0, 0, 0, 1, 0, 0, 0), IN, buf, sizeof(buf));
	ck_good(c);
	ck_assert_uint_eq(c.transferred, 8);
	ck_assert_uint_eq(be32(buf), 0);
	c = run(t, 0, CDB(0xa0, 0, 3, 0, 0, 0, 0, 0, 1, 0, 0, 0), IN, buf, sizeof(buf));
	ck_cdb_field(c, 2, -1);
	sim_target_free(t);
}
END_TEST

START_TEST(test_multi_lun_sparse)
{
	struct sim_target *t = new_target();
	static const uint32_t luns[] = { 1000, 0, 16383, 255, 256, 1 };
	uint8_t w[512], r[512], *big;
	struct sim_cmd c;
	struct sim_lu_config cfg;
	size_t n;

	for (size_t i = 0; i < OSTOR_ARRAY_SIZE(luns); i++)
		add_lu(t, luns[i], OSTOR_TYPE_DISK, 512, 16, false, false);
	/* each LU has its own medium */
	for (size_t i = 0; i < OSTOR_ARRAY_SIZE(luns); i++) {
		fill(w, sizeof(w), luns[i]);
		c = rw(t, luns[i], 0x2a, 3, 1, OUT, w, sizeof(w));
		ck_good(c);
	}
	for (size_t i = 0; i < OSTOR_ARRAY_SIZE(luns); i++) {
		fill(w, sizeof(w), luns[i]);
		c = rw(t, luns[i], 0x28, 3, 1, IN, r, sizeof(r));
		ck_good(c);
		ck_assert(!memcmp(w, r, sizeof(r)));
	}
	/* holes answer LOGICAL UNIT NOT SUPPORTED, out-of-range LUN too */
	c = tur(t, 2);
	ck_sense(c, ILLEGAL, 0x25, 0);
	c = rw(t, 257, 0x28, 0, 1, IN, r, sizeof(r));
	ck_sense(c, ILLEGAL, 0x25, 0);
	c = tur(t, 16384);
	ck_sense(c, ILLEGAL, 0x25, 0);
	c = tur(t, UINT32_MAX);
	ck_sense(c, ILLEGAL, 0x25, 0);
	/* no duplicates, nothing past 16383 */
	sim_lu_config_init(&cfg);
	cfg.blocks = 1;
	ck_assert_int_eq(sim_target_add_lu(t, 255, &cfg), OSTOR_ERROR_INVALID_PARAM);
	ck_assert_int_eq(sim_target_add_lu(t, 16384, &cfg), OSTOR_ERROR_INVALID_PARAM);
	ck_assert_uint_eq(sim_target_lu_count(t), OSTOR_ARRAY_SIZE(luns));

	/* a few thousand LUs: REPORT LUNS streams them all in order */
	for (uint32_t l = 2000; l < 6000; l++)
		ck_assert_int_eq(sim_target_add_lu(t, l, &cfg), 0);
	n = 8 + 8 * (OSTOR_ARRAY_SIZE(luns) + 4000);
	big = malloc(n + 100);
	ck_assert_ptr_nonnull(big);
	c = run(t, 0, CDB(0xa0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0), IN, big, n + 100);
	ck_good(c);
	ck_assert_uint_eq(c.transferred, n);
	ck_assert_uint_eq(c.residual, 100);
	ck_assert_uint_eq(be32(big), n - 8);
	for (size_t i = 1; i < (n - 8) / 8; i++) {
		uint32_t a = (uint32_t)(big[8 + 8 * (i - 1)] & 0x3f) << 8 | big[9 + 8 * (i - 1)];
		uint32_t b = (uint32_t)(big[8 + 8 * i] & 0x3f) << 8 | big[9 + 8 * i];

		ck_assert_uint_lt(a, b);
	}
	free(big);
	sim_target_free(t);
}
END_TEST

/* ---- unit attention and REQUEST SENSE ----------------------------------- */

START_TEST(test_ua_lifecycle)
{
	struct sim_target *t = new_target();
	uint8_t buf[512];
	struct sim_cmd c;
	struct sim_stats st;

	add_lu(t, 0, OSTOR_TYPE_DISK, 512, 100, false, false);
	add_lu(t, 1, OSTOR_TYPE_DISK, 512, 100, false, true);
	c = tur(t, 0);
	ck_good(c);

	sim_target_reset(t);
	/* INQUIRY and REPORT LUNS neither report nor clear it */
	c = run(t, 0, CDB(0x12, 0, 0, 0, 36, 0), IN, buf, sizeof(buf));
	ck_good(c);
	c = run(t, 0, CDB(0xa0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0), IN, buf, sizeof(buf));
	ck_good(c);
	/* reported once, to the next other command, on every LU */
	c = rd10(t, 0, 1, buf, 512);
	ck_sense(c, UNIT_ATT, 0x29, 0x00);
	ck_assert_uint_eq(c.transferred, 0);
	c = rd10(t, 0, 1, buf, 512);
	ck_good(c);
	c = tur(t, 1);
	ck_sense(c, UNIT_ATT, 0x29, 0x00);
	c = tur(t, 1);
	ck_good(c);

	/* REQUEST SENSE returns it with GOOD status and clears it */
	sim_target_reset(t);
	c = req_sense(t, 0, buf, false);
	ck_good(c);
	ck_assert_uint_eq(c.transferred, 18);
	ck_assert_uint_eq(buf[0], 0x70);
	ck_assert_uint_eq(buf[2] & 0xf, UNIT_ATT);
	ck_assert_uint_eq(buf[12], 0x29);
	c = tur(t, 0);
	ck_good(c);

	/* capacity change, then a reset: the reset comes first, each once */
	ck_assert_int_eq(sim_target_set_capacity(t, 0, 200), 0);
	c = tur(t, 1);
	ck_sense(c, UNIT_ATT, 0x29, 0x00);   /* LU 1 still had the reset UA */
	sim_target_reset(t);
	ck_assert_int_eq(sim_target_set_capacity(t, 0, 300), 0);
	c = tur(t, 0);
	ck_sense(c, UNIT_ATT, 0x29, 0x00);
	c = tur(t, 0);
	ck_sense(c, UNIT_ATT, 0x2a, 0x09);
	c = tur(t, 0);
	ck_good(c);
	c = run(t, 0, CDB(0x25, 0, 0, 0, 0, 0, 0, 0, 0, 0), IN, buf, 8);
	ck_good(c);
	ck_assert_uint_eq(be32(buf), 299);

	/* medium change on a removable LU */
	c = tur(t, 1);
	ck_sense(c, UNIT_ATT, 0x29, 0x00);
	ck_assert_int_eq(sim_target_set_medium(t, 1, false), 0);
	c = tur(t, 1);
	ck_sense(c, NOT_READY, 0x3a, 0x00);
	ck_assert_int_eq(sim_target_set_medium(t, 1, true), 0);
	c = rd10(t, 0, 1, buf, 512);  /* other LU unaffected */
	ck_good(c);
	c = run(t, 1, CDB(0x28, 0, 0, 0, 0, 0, 0, 0, 1, 0), IN, buf, 512);
	ck_sense(c, UNIT_ATT, 0x28, 0x00);
	c = run(t, 1, CDB(0x28, 0, 0, 0, 0, 0, 0, 0, 1, 0), IN, buf, 512);
	ck_good(c);
	/* inserting again when present is no change */
	ck_assert_int_eq(sim_target_set_medium(t, 1, true), 0);
	c = tur(t, 1);
	ck_good(c);

	sim_target_get_stats(t, &st);
	ck_assert_uint_eq(st.unit_attentions, 8);
	sim_target_free(t);
}
END_TEST

START_TEST(test_request_sense)
{
	struct sim_target *t = disk_target(100);
	uint8_t buf[256], w[1024];
	struct sim_cmd c;

	/* the sense of the last CHECK CONDITION is held for REQUEST SENSE */
	c = rd10(t, 100, 1, buf, 512);
	ck_sense(c, ILLEGAL, 0x21, 0x00);
	c = req_sense(t, 0, buf, false);
	ck_good(c);
	ck_assert_uint_eq(c.transferred, 18);
	ck_assert_uint_eq(buf[0] & 0x7f, 0x70);
	ck_assert_uint_eq(buf[2] & 0xf, ILLEGAL);
	ck_assert_uint_eq(buf[12], 0x21);
	/* ...once */
	c = req_sense(t, 0, buf, false);
	ck_good(c);
	ck_assert_uint_eq(buf[2] & 0xf, 0);
	ck_assert_uint_eq(buf[12], 0);
	ck_assert_uint_eq(buf[13], 0);
	/* ...and only until the next command */
	c = rd10(t, 100, 1, buf, 512);
	ck_sense(c, ILLEGAL, 0x21, 0x00);
	c = tur(t, 0);
	ck_good(c);
	c = req_sense(t, 0, buf, false);
	ck_assert_uint_eq(buf[2] & 0xf, 0);

	/* descriptor format: VERIFY miscompare carries the offset */
	memset(w, 0x11, sizeof(w));
	c = wr10(t, 4, 2, w, sizeof(w));
	ck_good(c);
	w[700] = 0x12;
	c = run(t, 0, CDB(0x2f, 0x02, 0, 0, 0, 4, 0, 0, 2, 0), OUT, w, sizeof(w));
	ck_sense(c, MISCOMPARE_KEY, 0x1d, 0x00);
	ck_assert_uint_eq(sense_info(&c), 700);
	c = req_sense(t, 0, buf, true);
	ck_good(c);
	ck_assert_uint_eq(buf[0], 0x72);
	ck_assert_uint_eq(buf[1] & 0xf, MISCOMPARE_KEY);
	ck_assert_uint_eq(buf[2], 0x1d);
	ck_assert_uint_eq(buf[7], 12);
	ck_assert_uint_eq(c.transferred, 20);
	ck_assert_uint_eq(buf[8], 0x00);       /* information descriptor */
	ck_assert_uint_eq(buf[9], 0x0a);
	ck_assert_uint_eq(buf[10] & 0x80, 0x80);
	ck_assert_uint_eq(be64(buf + 12), 700);

	/* descriptor format with a field pointer */
	c = run(t, 0, CDB(0x12, 0, 1, 0, 36, 0), IN, buf, sizeof(buf));
	ck_cdb_field(c, 2, -1);
	c = req_sense(t, 0, buf, true);
	ck_good(c);
	ck_assert_uint_eq(buf[0], 0x72);
	ck_assert_uint_eq(buf[7], 8);
	ck_assert_uint_eq(buf[8], 0x02);
	ck_assert_uint_eq(buf[12] & 0xc0, 0xc0);
	ck_assert_uint_eq(be16(buf + 13), 2);

	/* allocation length truncates */
	c = rd10(t, 100, 1, buf, 512);
	c = run(t, 0, CDB(0x03, 0, 0, 0, 8, 0), IN, buf, sizeof(buf));
	ck_good(c);
	ck_assert_uint_eq(c.transferred, 8);
	ck_assert_uint_eq(buf[2] & 0xf, ILLEGAL);
	/* a REQUEST SENSE that cannot deliver does not consume it */
	c = rd10(t, 100, 1, buf, 512);
	c = run(t, 0, CDB(0x03, 0, 0, 0, 18, 0), NONE, NULL, 0);
	ck_cdb_field(c, 4, -1);
	/* ...but its own failure replaced the held sense */
	c = req_sense(t, 0, buf, false);
	ck_assert_uint_eq(buf[12], 0x24);

	/* a LUN that does not exist: GOOD with LOGICAL UNIT NOT SUPPORTED */
	c = req_sense(t, 42, buf, false);
	ck_good(c);
	ck_assert_uint_eq(buf[2] & 0xf, ILLEGAL);
	ck_assert_uint_eq(buf[12], 0x25);
	sim_target_free(t);
}
END_TEST

/* ---- capacity ----------------------------------------------------------- */

START_TEST(test_read_capacity)
{
	struct sim_target *t = new_target();
	uint8_t buf[64];
	struct sim_cmd c;

	add_lu(t, 0, OSTOR_TYPE_DISK, 4096, 12345, false, false);
	c = run(t, 0, CDB(0x25, 0, 0, 0, 0, 0, 0, 0, 0, 0), IN, buf, sizeof(buf));
	ck_good(c);
	ck_assert_uint_eq(c.transferred, 8);
	ck_assert_uint_eq(c.residual, sizeof(buf) - 8);
	ck_assert_uint_eq(be32(buf), 12344);
	ck_assert_uint_eq(be32(buf + 4), 4096);
	/* PMI = 0 with an LBA */
	c = run(t, 0, CDB(0x25, 0, 0, 0, 0, 1, 0, 0, 0, 0), IN, buf, sizeof(buf));
	ck_cdb_field(c, 2, -1);
	c = run(t, 0, CDB(0x25, 0, 0, 0, 0, 1, 0, 0, 1, 0), IN, buf, sizeof(buf));
	ck_good(c);

	memset(buf, 0xee, sizeof(buf));
	c = run(t, 0, CDB(0x9e, 0x10, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 32, 0, 0),
		IN, buf, sizeof(buf));
	ck_good(c);
	ck_assert_uint_eq(c.transferred, 32);
	ck_assert_uint_eq(be64(buf), 12344);
	ck_assert_uint_eq(be32(buf + 8), 4096);
	ck_assert_uint_eq(buf[14] & 0x80, 0x80);   /* LBPME */
	ck_assert_uint_eq(buf[14] & 0x40, 0x40);   /* LBPRZ */
	ck_assert_uint_eq(buf[12] & 1, 0);         /* no protection */
	/* allocation length truncates; absurd one is bounded by 32 */
	c = run(t, 0, CDB(0x9e, 0x10, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 12, 0, 0),
		IN, buf, sizeof(buf));
	ck_good(c);
	ck_assert_uint_eq(c.transferred, 12);
	c = run(t, 0, CDB(0x9e, 0x10, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 0xff, 0xff, 0, 0),
		IN, buf, sizeof(buf));
	ck_good(c);
	ck_assert_uint_eq(c.transferred, 32);
	ck_assert(!c.overrun);
	/* other service actions */
	c = run(t, 0, CDB(0x9e, 0x11, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 32, 0, 0),
		IN, buf, sizeof(buf));
	ck_cdb_field(c, 1, 4);
	sim_target_free(t);
}
END_TEST

/* A bit over 2 TiB (2^32 + 16 blocks of 512 bytes): READ CAPACITY(10)
 * saturates, everything past the 32-bit LBA space works. */
#define LARGE_BLOCKS ((1ull << 32) + 16)

static void large_checks(struct sim_target *t)
{
	const uint64_t blocks = LARGE_BLOCKS;
	uint8_t buf[64], w[1024], r[1024], p[24];
	struct sim_cmd c;

	c = run(t, 0, CDB(0x25, 0, 0, 0, 0, 0, 0, 0, 0, 0), IN, buf, 8);
	ck_good(c);
	ck_assert_uint_eq(be32(buf), 0xffffffffu);  /* saturated: use (16) */
	ck_assert_uint_eq(be32(buf + 4), 512);
	c = run(t, 0, CDB(0x9e, 0x10, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 32, 0, 0),
		IN, buf, 32);
	ck_good(c);
	ck_assert_uint_eq(be64(buf), blocks - 1);
	ck_assert_uint_eq(be32(buf + 8), 512);

	/* past the 32-bit LBA space */
	fill(w, sizeof(w), 5);
	c = rw(t, 0, 0x8a, blocks - 2, 2, OUT, w, sizeof(w));
	ck_good(c);
	c = rw(t, 0, 0x88, blocks - 2, 2, IN, r, sizeof(r));
	ck_good(c);
	ck_assert(!memcmp(w, r, sizeof(r)));
	c = rw(t, 0, 0x88, blocks - 1, 2, IN, r, sizeof(r));
	ck_sense(c, ILLEGAL, 0x21, 0);
	c = rw(t, 0, 0x8a, blocks, 1, OUT, w, 512);
	ck_sense(c, ILLEGAL, 0x21, 0);
	/* LBA FFFFFFFFh through the 10-byte command */
	fill(w, sizeof(w), 6);
	c = rw(t, 0, 0x2a, 0xffffffffu, 1, OUT, w, 512);
	ck_good(c);
	c = rw(t, 0, 0x88, 0xffffffffu, 1, IN, r, 512);
	ck_good(c);
	ck_assert(!memcmp(w, r, 512));
	/* untouched blocks read as zero */
	c = rw(t, 0, 0x88, 1ull << 31, 2, IN, r, sizeof(r));
	ck_good(c);
	ck_assert(is_zero(r, sizeof(r)));
	/* MODE SENSE(6) short block descriptor saturates, (10) LLBAA doesn't */
	c = run(t, 0, CDB(0x1a, 0, 0x08, 0, 255, 0), IN, buf, sizeof(buf));
	ck_good(c);
	ck_assert_uint_eq(buf[3], 8);
	ck_assert_uint_eq(be32(buf + 4), 0xffffffffu);
	c = run(t, 0, CDB(0x5a, 0x10, 0x08, 0, 0, 0, 0, 0, 64, 0), IN, buf, sizeof(buf));
	ck_good(c);
	ck_assert_uint_eq(buf[4] & 1, 1);
	ck_assert_uint_eq(be16(buf + 6), 16);
	ck_assert_uint_eq(be64(buf + 8), blocks);
	ck_assert_uint_eq(be32(buf + 20), 512);
	/* READ FORMAT CAPACITIES saturates too */
	c = run(t, 0, CDB(0x23, 0, 0, 0, 0, 0, 0, 0, 252, 0), IN, buf, sizeof(buf));
	ck_good(c);
	ck_assert_uint_eq(c.transferred, 12);
	ck_assert_uint_eq(be32(buf + 4), 0xffffffffu);
	/* UNMAP near the end */
	memset(p, 0, sizeof(p));
	wbe16(p, 22);
	wbe16(p + 2, 16);
	wbe64(p + 8, blocks - 2);
	wbe32(p + 16, 2);
	c = run(t, 0, CDB(0x42, 0, 0, 0, 0, 0, 0, 0, 24, 0), OUT, p, sizeof(p));
	ck_good(c);
	c = rw(t, 0, 0x88, blocks - 2, 2, IN, r, sizeof(r));
	ck_good(c);
	ck_assert(is_zero(r, sizeof(r)));
	/* the one at FFFFFFFFh is still there */
	c = rw(t, 0, 0x88, 0xffffffffu, 1, IN, r, 512);
	ck_good(c);
	ck_assert(!memcmp(w, r, 512));
}

/* valgrind cannot map 2 TiB of address space; nothing else may fail. */
/* Valgrind and ThreadSanitizer cannot reserve the address space of a
 * multi-terabyte sparse mapping; plain and ASan builds check it. */
static bool under_valgrind(void)
{
	const char *p = getenv("LD_PRELOAD");

#ifdef __SANITIZE_THREAD__
	return true;
#endif
	return p && strstr(p, "vgpreload");
}

START_TEST(test_large_sparse_ram)
{
	struct sim_target *t = new_target();
	struct sim_lu_config cfg;
	int r;

	sim_lu_config_init(&cfg);
	cfg.blocks = LARGE_BLOCKS;
	r = sim_target_add_lu(t, 0, &cfg);
	if (r == OSTOR_ERROR_NO_MEM && under_valgrind()) {
		sim_target_free(t);
		return;
	}
	ck_assert_int_eq(r, 0);
	large_checks(t);
	sim_target_free(t);
}
END_TEST

static int tmpfile_fd(char *path);

START_TEST(test_large_sparse_file)
{
	char path[64];
	int fd = tmpfile_fd(path);
	struct sim_target *t = new_target();
	struct sim_lu_config cfg;
	uint8_t r[512];

	sim_lu_config_init(&cfg);
	cfg.blocks = LARGE_BLOCKS;
	cfg.fd = fd;
	cfg.fd_offset = 1024;
	ck_assert_int_eq(sim_target_add_lu(t, 0, &cfg), 0);
	large_checks(t);
	/* the block at LBA FFFFFFFFh is in the file where it belongs */
	ck_assert_int_eq(pread(fd, r, 512, (off_t)(1024 + 0xffffffffull * 512)), 512);
	ck_assert(!is_zero(r, 512));
	sim_target_free(t);
	close(fd);
	unlink(path);
}
END_TEST

START_TEST(test_set_capacity)
{
	struct sim_target *t = disk_target(64);
	uint8_t w[512], r[512];
	struct sim_cmd c;

	fill(w, sizeof(w), 1);
	c = wr10(t, 10, 1, w, 512);
	ck_good(c);
	c = wr10(t, 60, 1, w, 512);
	ck_good(c);
	ck_assert_int_eq(sim_target_set_capacity(t, 0, 20), 0);
	c = rd10(t, 10, 1, r, 512);
	ck_sense(c, UNIT_ATT, 0x2a, 0x09);
	c = rd10(t, 10, 1, r, 512);
	ck_good(c);
	ck_assert(!memcmp(w, r, 512));
	c = rd10(t, 60, 1, r, 512);
	ck_sense(c, ILLEGAL, 0x21, 0);
	/* grown again: the cut-off blocks do not come back */
	ck_assert_int_eq(sim_target_set_capacity(t, 0, 100000), 0);
	c = rd10(t, 60, 1, r, 512);
	ck_sense(c, UNIT_ATT, 0x2a, 0x09);
	c = rd10(t, 60, 1, r, 512);
	ck_good(c);
	ck_assert(is_zero(r, 512));
	c = wr10(t, 99999, 1, w, 512);
	ck_good(c);
	ck_assert_int_eq(sim_target_set_capacity(t, 0, 0), OSTOR_ERROR_INVALID_PARAM);
	ck_assert_int_eq(sim_target_set_capacity(t, 3, 10), OSTOR_ERROR_NOT_FOUND);
	ck_assert_int_eq(sim_target_set_capacity(t, 0, UINT64_MAX / 256), OSTOR_ERROR_INVALID_PARAM);
	ck_assert_str_ne(ostor_last_error(), "");
	sim_target_free(t);
}
END_TEST

/* ---- READ / WRITE ------------------------------------------------------- */

START_TEST(test_read_write_variants)
{
	static const uint8_t wops[] = { 0x0a, 0x2a, 0xaa, 0x8a };
	static const uint8_t rops[] = { 0x08, 0x28, 0xa8, 0x88 };
	struct sim_target *t = disk_target(2048);
	uint8_t *w = malloc(256 * 512), *r = malloc(256 * 512 + 100);
	struct sim_cmd c;
	struct sim_stats st;

	ck_assert_ptr_nonnull(w);
	ck_assert_ptr_nonnull(r);
	for (size_t i = 0; i < 4; i++) {
		fill(w, 4 * 512, (unsigned int)i + 10);
		c = rw(t, 0, wops[i], 100 + 8 * i, 4, OUT, w, 4 * 512);
		ck_good(c);
		ck_assert_uint_eq(c.transferred, 2048);
		for (size_t j = 0; j < 4; j++) {
			memset(r, 0, 2048);
			c = rw(t, 0, rops[j], 100 + 8 * i, 4, IN, r, 2048);
			ck_good(c);
			ck_assert_uint_eq(c.transferred, 2048);
			ck_assert(!memcmp(w, r, 2048));
		}
	}
	/* 6-byte: transfer length 0 means 256 blocks */
	fill(w, 256 * 512, 77);
	c = rw(t, 0, 0x0a, 1000, 0, OUT, w, 256 * 512);
	ck_good(c);
	ck_assert_uint_eq(c.transferred, 256 * 512);
	c = rw(t, 0, 0x28, 1000, 256, IN, r, 256 * 512 + 100);
	ck_good(c);
	ck_assert_uint_eq(c.residual, 100);
	ck_assert(!memcmp(w, r, 256 * 512));
	c = rw(t, 0, 0x08, 1000, 0, IN, r, 256 * 512);
	ck_good(c);
	ck_assert_uint_eq(c.transferred, 256 * 512);
	/* others: transfer length 0 is no transfer, GOOD */
	for (size_t j = 1; j < 4; j++) {
		c = rw(t, 0, rops[j], 5, 0, IN, r, 512);
		ck_good(c);
		ck_assert_uint_eq(c.transferred, 0);
		ck_assert_uint_eq(c.residual, 512);
		c = rw(t, 0, wops[j], 5, 0, OUT, r, 512);
		ck_good(c);
		ck_assert_uint_eq(c.transferred, 0);
	}
	/* FUA/DPO accepted, RDPROTECT/WRPROTECT refused */
	c = run(t, 0, CDB(0x28, 0x18, 0, 0, 0, 1, 0, 0, 1, 0), IN, r, 512);
	ck_good(c);
	c = run(t, 0, CDB(0x2a, 0x08, 0, 0, 0, 1, 0, 0, 1, 0), OUT, w, 512);
	ck_good(c);
	c = run(t, 0, CDB(0x28, 0x20, 0, 0, 0, 1, 0, 0, 1, 0), IN, r, 512);
	ck_cdb_field(c, 1, 7);
	c = run(t, 0, CDB(0x8a, 0x60, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 1, 0, 0), OUT, w, 512);
	ck_cdb_field(c, 1, 7);

	sim_target_get_stats(t, &st);
	ck_assert_uint_eq(st.per_opcode[0x0a], 2);
	ck_assert_uint_eq(st.per_opcode[0x08], 5);
	ck_assert_uint_eq(st.per_opcode[0x28], 8);
	ck_assert_uint_ge(st.bytes_in, 4 * 4 * 2048 + 2 * 256 * 512);
	ck_assert_uint_eq(st.commands, st.good + st.check_condition + st.other_status);
	sim_target_reset_stats(t);
	sim_target_get_stats(t, &st);
	ck_assert_uint_eq(st.commands, 0);
	free(w);
	free(r);
	sim_target_free(t);
}
END_TEST

START_TEST(test_lba_range)
{
	struct sim_target *t = disk_target(100);
	uint8_t w[1024], r[1024];
	struct sim_cmd c;

	memset(w, 0x5a, sizeof(w));
	c = wr10(t, 99, 1, w, 512);
	ck_good(c);
	c = wr10(t, 99, 2, w, 1024);
	ck_sense(c, ILLEGAL, 0x21, 0);
	c = rd10(t, 99, 2, r, 1024);
	ck_sense(c, ILLEGAL, 0x21, 0);
	ck_assert_uint_eq(c.transferred, 0);
	c = rd10(t, 100, 0, r, 512);
	ck_sense(c, ILLEGAL, 0x21, 0);
	c = rd10(t, 0xffffffffu, 1, r, 512);
	ck_sense(c, ILLEGAL, 0x21, 0);
	/* lba + count wraps past 2^64 */
	c = rw(t, 0, 0x88, UINT64_MAX, 2, IN, r, 1024);
	ck_sense(c, ILLEGAL, 0x21, 0);
	c = rw(t, 0, 0x8a, UINT64_MAX - 1, 2, OUT, w, 1024);
	ck_sense(c, ILLEGAL, 0x21, 0);
	c = rw(t, 0, 0x88, UINT64_MAX, 0, IN, r, 1024);
	ck_sense(c, ILLEGAL, 0x21, 0);
	c = rw(t, 0, 0x88, 1, 0xffffffffu, IN, r, 1024);
	ck_cdb_field(c, 10, -1);    /* beyond the maximum transfer length */
	/* 6-byte LBA is 21 bits */
	c = rw(t, 0, 0x08, 0x1fffff, 1, IN, r, 512);
	ck_sense(c, ILLEGAL, 0x21, 0);
	/* nothing was written by the refused write */
	c = rd10(t, 98, 1, r, 512);
	ck_good(c);
	ck_assert(is_zero(r, 512));
	sim_target_free(t);
}
END_TEST

START_TEST(test_max_transfer)
{
	struct sim_target *t = new_target();
	struct sim_lu_config cfg;
	uint8_t buf[8 * 512 + 512];
	struct sim_cmd c;

	sim_lu_config_init(&cfg);
	cfg.blocks = 100;
	cfg.max_transfer = 8;
	ck_assert_int_eq(sim_target_add_lu(t, 0, &cfg), 0);
	c = rd10(t, 0, 8, buf, sizeof(buf));
	ck_good(c);
	c = rd10(t, 0, 9, buf, sizeof(buf));
	ck_cdb_field(c, 7, -1);
	c = rw(t, 0, 0xaa, 0, 9, OUT, buf, sizeof(buf));
	ck_cdb_field(c, 6, -1);
	c = rw(t, 0, 0x0a, 0, 0, OUT, buf, sizeof(buf));   /* 256 blocks */
	ck_cdb_field(c, 4, -1);
	sim_target_free(t);
}
END_TEST

START_TEST(test_buffer_semantics)
{
	struct sim_target *t = disk_target(100);
	static const uint8_t rd_cdb[10] = { 0x28, 0, 0, 0, 0, 10, 0, 0, 2, 0 };
	static const uint8_t wr_cdb[10] = { 0x2a, 0, 0, 0, 0, 20, 0, 0, 2, 0 };
	uint8_t w[2048], r[2048], a[100], b[300], d[1000];
	struct iovec iov[3];
	struct sim_cmd c;

	fill(w, sizeof(w), 3);
	c = wr10(t, 10, 4, w, sizeof(w));
	ck_good(c);

	/* data-in buffer shorter: what fits, overrun, residual 0 */
	memset(r, 0, sizeof(r));
	c = rd10(t, 10, 2, r, 700);
	ck_good(c);
	ck_assert_uint_eq(c.transferred, 700);
	ck_assert_uint_eq(c.residual, 0);
	ck_assert(c.overrun);
	ck_assert(!memcmp(r, w, 700));
	/* data-in buffer longer: residual */
	c = rd10(t, 10, 2, r, sizeof(r));
	ck_good(c);
	ck_assert_uint_eq(c.transferred, 1024);
	ck_assert_uint_eq(c.residual, 1024);
	ck_assert(!c.overrun);

	/* scatter list of odd sizes */
	memset(a, 0, sizeof(a));
	memset(b, 0, sizeof(b));
	memset(d, 0, sizeof(d));
	iov[0] = (struct iovec){ a, sizeof(a) };
	iov[1] = (struct iovec){ b, sizeof(b) };
	iov[2] = (struct iovec){ d, sizeof(d) };
	memset(&c, 0, sizeof(c));
	c.cdb = rd_cdb;
	c.cdb_len = 10;
	c.dir = IN;
	c.iov = iov;
	c.iovcnt = 3;
	sim_target_execute(t, &c);
	ck_good(c);
	ck_assert_uint_eq(c.transferred, 1024);
	ck_assert_uint_eq(c.residual, 1400 - 1024);
	ck_assert(!memcmp(a, w, 100));
	ck_assert(!memcmp(b, w + 100, 300));
	ck_assert(!memcmp(d, w + 400, 624));
	ck_assert(is_zero(d + 624, 1000 - 624));
	/* and gathered writes */
	fill(a, sizeof(a), 9);
	fill(b, sizeof(b), 10);
	fill(d, sizeof(d), 11);
	c.cdb = wr_cdb;
	c.dir = OUT;
	sim_target_execute(t, &c);
	ck_good(c);
	ck_assert_uint_eq(c.transferred, 1024);
	ck_assert_uint_eq(c.residual, 376);
	c = rd10(t, 20, 2, r, 1024);
	ck_assert(!memcmp(r, a, 100) && !memcmp(r + 100, b, 300) && !memcmp(r + 400, d, 624));

	/* data-out shorter than the transfer length: nothing written */
	c = wr10(t, 30, 2, w, 1000);
	ck_cdb_field(c, 7, -1);
	ck_assert_uint_eq(c.transferred, 0);
	c = rd10(t, 30, 2, r, 1024);
	ck_assert(is_zero(r, 1024));
	/* direction mismatches */
	c = rw(t, 0, 0x2a, 30, 2, IN, w, 1024);
	ck_cdb_field(c, 7, -1);
	c = rd10(t, 30, 2, r, 1024);
	ck_assert(is_zero(r, 1024));
	c = rw(t, 0, 0x28, 10, 1, NONE, r, 512);
	ck_cdb_field(c, 7, -1);
	c = rw(t, 0, 0x28, 10, 1, OUT, r, 512);
	ck_cdb_field(c, 7, -1);
	c = rw(t, 0, 0x28, 10, 1, 7, r, 512);     /* garbage direction */
	ck_cdb_field(c, 7, -1);
	c = run(t, 0, CDB(0x12, 0, 0, 0, 36, 0), OUT, r, 36);
	ck_cdb_field(c, 3, -1);
	/* data-in command with no buffer at all: overrun */
	c = rd10(t, 10, 1, NULL, 0);
	ck_good(c);
	ck_assert(c.overrun);
	/* data-out longer than the transfer length: residual */
	c = wr10(t, 30, 1, w, 2048);
	ck_good(c);
	ck_assert_uint_eq(c.transferred, 512);
	ck_assert_uint_eq(c.residual, 1536);
	/* no-data command with a buffer: all residual */
	c = run(t, 0, CDB(0x00, 0, 0, 0, 0, 0), IN, r, 100);
	ck_good(c);
	ck_assert_uint_eq(c.residual, 100);
	sim_target_free(t);
}
END_TEST

/* ---- VERIFY, SYNCHRONIZE CACHE ------------------------------------------ */

START_TEST(test_verify)
{
	struct sim_target *t = disk_target(100);
	uint8_t w[2048];
	struct sim_cmd c;

	fill(w, sizeof(w), 4);
	c = wr10(t, 50, 4, w, sizeof(w));
	ck_good(c);
	/* BYTCHK 0: medium verification, range checked */
	c = run(t, 0, CDB(0x2f, 0, 0, 0, 0, 50, 0, 0, 50, 0), NONE, NULL, 0);
	ck_good(c);
	c = run(t, 0, CDB(0x2f, 0, 0, 0, 0, 50, 0, 0, 51, 0), NONE, NULL, 0);
	ck_sense(c, ILLEGAL, 0x21, 0);
	/* BYTCHK 1: compare */
	c = run(t, 0, CDB(0x2f, 0x02, 0, 0, 0, 50, 0, 0, 4, 0), OUT, w, sizeof(w));
	ck_good(c);
	ck_assert_uint_eq(c.transferred, 2048);
	w[1500] ^= 1;
	c = run(t, 0, CDB(0x2f, 0x02, 0, 0, 0, 50, 0, 0, 4, 0), OUT, w, sizeof(w));
	ck_sense(c, MISCOMPARE_KEY, 0x1d, 0);
	ck_assert_uint_eq(sense_info(&c), 1500);
	c = rw(t, 0, 0x8f, 50, 4, OUT, w, sizeof(w));  /* VERIFY(16) BYTCHK 0 */
	ck_good(c);
	c = run(t, 0, CDB(0x8f, 0x02, 0, 0, 0, 0, 0, 0, 0, 50, 0, 0, 0, 4, 0, 0), OUT, w, sizeof(w));
	ck_sense(c, MISCOMPARE_KEY, 0x1d, 0);
	ck_assert_uint_eq(sense_info(&c), 1500);
	w[1500] ^= 1;
	c = run(t, 0, CDB(0x8f, 0x02, 0, 0, 0, 0, 0, 0, 0, 50, 0, 0, 0, 4, 0, 0), OUT, w, sizeof(w));
	ck_good(c);
	/* short data-out, reserved BYTCHK, VRPROTECT */
	c = run(t, 0, CDB(0x2f, 0x02, 0, 0, 0, 50, 0, 0, 4, 0), OUT, w, 2000);
	ck_cdb_field(c, 7, -1);
	c = run(t, 0, CDB(0x2f, 0x04, 0, 0, 0, 50, 0, 0, 4, 0), OUT, w, sizeof(w));
	ck_cdb_field(c, 1, 2);
	c = run(t, 0, CDB(0x2f, 0x20, 0, 0, 0, 50, 0, 0, 4, 0), OUT, w, sizeof(w));
	ck_cdb_field(c, 1, 7);
	sim_target_free(t);
}
END_TEST

/* COMPARE AND WRITE: LBA in bytes 2-9, NUMBER OF LOGICAL BLOCKS in 13. */
static struct sim_cmd caw(struct sim_target *t, uint32_t lun, uint8_t b1, uint64_t lba, uint8_t n,
			  int dir, void *buf, size_t len)
{
	uint8_t cdb[16];

	memset(cdb, 0, sizeof(cdb));
	cdb[0] = 0x89;
	cdb[1] = b1;
	wbe64(cdb + 2, lba);
	cdb[13] = n;
	return run(t, lun, cdb, sizeof(cdb), dir, buf, len);
}

START_TEST(test_compare_and_write)
{
	struct sim_target *t = disk_target(100);
	struct sim_lu_config cfg;
	uint8_t old[4 * 512], new[4 * 512], buf[8 * 512], r[4 * 512], vpd[64], sense[252];
	struct iovec iov[3];
	struct sim_cmd c;

	/* LU 1: a small transfer limit, so a smaller MAXIMUM COMPARE AND
	 * WRITE LENGTH; LU 2: read-only; LU 3: null (nothing stored); LU 4:
	 * a cdrom, which has no COMPARE AND WRITE. */
	sim_lu_config_init(&cfg);
	cfg.blocks = 100;
	cfg.max_transfer = 8;
	ck_assert_int_eq(sim_target_add_lu(t, 1, &cfg), 0);
	add_lu(t, 2, OSTOR_TYPE_DISK, 512, 100, true, false);
	sim_lu_config_init(&cfg);
	cfg.blocks = 100;
	cfg.null = true;
	ck_assert_int_eq(sim_target_add_lu(t, 3, &cfg), 0);
	add_lu(t, 4, OSTOR_TYPE_CDROM, 0, 50, false, false);

	/* the limit the Block Limits page reports (byte 5) */
	c = run(t, 0, CDB(0x12, 1, 0xb0, 0, sizeof(vpd), 0), IN, vpd, sizeof(vpd));
	ck_good(c);
	ck_assert_uint_eq(vpd[5], SIM_MAX_COMPARE_WRITE_LEN);
	c = run(t, 1, CDB(0x12, 1, 0xb0, 0, sizeof(vpd), 0), IN, vpd, sizeof(vpd));
	ck_good(c);
	ck_assert_uint_eq(vpd[5], 8);

	fill(old, sizeof(old), 60);
	fill(new, sizeof(new), 61);
	c = wr10(t, 10, 4, old, sizeof(old));
	ck_good(c);

	/* match: the second half is written */
	memcpy(buf, old, sizeof(old));
	memcpy(buf + sizeof(old), new, sizeof(new));
	c = caw(t, 0, 0, 10, 4, OUT, buf, sizeof(buf));
	ck_good(c);
	ck_assert_uint_eq(c.transferred, sizeof(buf));
	c = rd10(t, 10, 4, r, sizeof(r));
	ck_good(c);
	ck_assert(!memcmp(r, new, sizeof(r)));

	/* miscompare (the blocks hold new now, not old): 0Eh 1Dh/00h, the
	 * INFORMATION field is the offset of the first differing byte, and
	 * nothing is written */
	memcpy(buf, new, sizeof(new));
	buf[1500] ^= 0x40;
	memset(buf + sizeof(new), 0x5a, sizeof(new));
	c = caw(t, 0, 0, 10, 4, OUT, buf, sizeof(buf));
	ck_sense(c, MISCOMPARE_KEY, 0x1d, 0x00);
	ck_assert_uint_eq(sense_info(&c), 1500);
	c = rd10(t, 10, 4, r, sizeof(r));
	ck_assert(!memcmp(r, new, sizeof(r)));
	/* the sense (with its INFORMATION) is held for REQUEST SENSE */
	c = caw(t, 0, 0, 10, 4, OUT, buf, sizeof(buf));
	ck_sense(c, MISCOMPARE_KEY, 0x1d, 0x00);
	c = req_sense(t, 0, sense, false);
	ck_good(c);
	ck_assert_uint_eq(sense[0], 0xf0);             /* VALID, fixed format */
	ck_assert_uint_eq(sense[2] & 0xf, MISCOMPARE_KEY);
	ck_assert_uint_eq(be32(sense + 3), 1500);
	/* a difference in the first byte: offset 0, VALID still set */
	memcpy(buf, new, sizeof(new));
	buf[0] ^= 1;
	c = caw(t, 0, 0, 10, 4, OUT, buf, sizeof(buf));
	ck_sense(c, MISCOMPARE_KEY, 0x1d, 0x00);
	ck_assert_uint_eq(sense_info(&c), 0);

	/* scattered buffer, the halves split across segments: the offset
	 * still counts from the start of the data-out buffer */
	memcpy(buf, new, sizeof(new));
	memcpy(buf + sizeof(new), old, sizeof(old));
	iov[0] = (struct iovec){ buf, 700 };
	iov[1] = (struct iovec){ buf + 700, 3000 };
	iov[2] = (struct iovec){ buf + 3700, sizeof(buf) - 3700 };
	buf[1900] ^= 2;
	memset(&c, 0, sizeof(c));
	c.cdb = (const uint8_t[]){ 0x89, 0, 0, 0, 0, 0, 0, 0, 0, 10, 0, 0, 0, 4, 0, 0 };
	c.cdb_len = 16;
	c.dir = OUT;
	c.iov = iov;
	c.iovcnt = 3;
	sim_target_execute(t, &c);
	ck_sense(c, MISCOMPARE_KEY, 0x1d, 0x00);
	ck_assert_uint_eq(sense_info(&c), 1900);
	buf[1900] ^= 2;
	sim_target_execute(t, &c);
	ck_good(c);
	ck_assert_uint_eq(c.transferred, sizeof(buf));
	c = rd10(t, 10, 4, r, sizeof(r));
	ck_assert(!memcmp(r, old, sizeof(r)));

	/* FUA is accepted; one block */
	memcpy(buf, old, 512);
	memcpy(buf + 512, new, 512);
	c = caw(t, 0, 0x08, 10, 1, OUT, buf, 1024);
	ck_good(c);
	c = rd10(t, 10, 2, r, 1024);
	ck_assert(!memcmp(r, new, 512) && !memcmp(r + 512, old + 512, 512));

	/* zero blocks: nothing compared or written, GOOD; the LBA is still
	 * checked */
	c = caw(t, 0, 0, 10, 0, NONE, NULL, 0);
	ck_good(c);
	c = caw(t, 0, 0, 99, 0, NONE, NULL, 0);
	ck_good(c);
	c = caw(t, 0, 0, 100, 0, NONE, NULL, 0);
	ck_sense(c, ILLEGAL, 0x21, 0);

	/* out of range, and wrapping past 2^64: nothing written */
	memset(buf, 0, sizeof(buf));
	c = caw(t, 0, 0, 98, 4, OUT, buf, sizeof(buf));
	ck_sense(c, ILLEGAL, 0x21, 0);
	c = caw(t, 0, 0, UINT64_MAX, 1, OUT, buf, 1024);
	ck_sense(c, ILLEGAL, 0x21, 0);
	c = rd10(t, 96, 4, r, sizeof(r));
	ck_assert(is_zero(r, sizeof(r)));

	/* more blocks than MAXIMUM COMPARE AND WRITE LENGTH */
	c = caw(t, 1, 0, 0, 9, OUT, buf, sizeof(buf));
	ck_cdb_field(c, 13, -1);
	c = caw(t, 1, 0, 0, 4, OUT, buf, sizeof(buf));
	ck_good(c);

	/* short data-out (both halves are needed), wrong direction,
	 * WRPROTECT: refused before the medium is touched */
	memcpy(buf, new, 512);
	memset(buf + 512, 0x33, 512);
	c = caw(t, 0, 0, 10, 1, OUT, buf, 1023);
	ck_cdb_field(c, 13, -1);
	c = caw(t, 0, 0, 10, 1, IN, buf, 1024);
	ck_cdb_field(c, 13, -1);
	c = caw(t, 0, 0x20, 10, 1, OUT, buf, 1024);
	ck_cdb_field(c, 1, 7);
	c = rd10(t, 10, 1, r, 512);
	ck_assert(!memcmp(r, new, 512));

	/* read-only LU: DATA PROTECT, even when the data would match */
	memset(buf, 0, sizeof(buf));
	c = caw(t, 2, 0, 0, 1, OUT, buf, 1024);
	ck_sense(c, PROTECT, 0x27, 0x00);

	/* null LU: compares against zeros, stores nothing */
	memset(buf, 0, 512);
	memset(buf + 512, 0x77, 512);
	c = caw(t, 3, 0, 0, 1, OUT, buf, 1024);
	ck_good(c);
	c = caw(t, 3, 0, 0, 1, OUT, buf, 1024);    /* the write stored nothing */
	ck_good(c);
	buf[300] = 1;
	c = caw(t, 3, 0, 0, 1, OUT, buf, 1024);
	ck_sense(c, MISCOMPARE_KEY, 0x1d, 0x00);
	ck_assert_uint_eq(sense_info(&c), 300);

	/* not a direct-access device */
	c = caw(t, 4, 0, 0, 1, OUT, buf, 4096);
	ck_sense(c, ILLEGAL, 0x20, 0);
	sim_target_free(t);
}
END_TEST

START_TEST(test_sync_cache)
{
	struct sim_target *t = disk_target(100);
	struct sim_cmd c;

	c = run(t, 0, CDB(0x35, 0, 0, 0, 0, 0, 0, 0, 0, 0), NONE, NULL, 0);
	ck_good(c);
	c = run(t, 0, CDB(0x35, 0x02, 0, 0, 0, 90, 0, 0, 10, 0), NONE, NULL, 0);
	ck_good(c);
	c = run(t, 0, CDB(0x35, 0, 0, 0, 0, 90, 0, 0, 11, 0), NONE, NULL, 0);
	ck_sense(c, ILLEGAL, 0x21, 0);
	c = run(t, 0, CDB(0x35, 0, 0, 0, 0, 100, 0, 0, 0, 0), NONE, NULL, 0);
	ck_sense(c, ILLEGAL, 0x21, 0);
	c = run(t, 0, CDB(0x91, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0), NONE, NULL, 0);
	ck_good(c);
	c = run(t, 0, CDB(0x91, 0, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0, 0, 0, 2, 0, 0),
		NONE, NULL, 0);
	ck_sense(c, ILLEGAL, 0x21, 0);
	sim_target_free(t);
}
END_TEST

/* ---- file backing ------------------------------------------------------- */

static int tmpfile_fd(char *path)
{
	int fd;

	strcpy(path, "/tmp/test_sim_target.XXXXXX");
	fd = mkstemp(path);
	ck_assert_int_ge(fd, 0);
	return fd;
}

static void add_file_lu(struct sim_target *t, uint32_t lun, int fd, uint64_t off,
			uint32_t bs, uint64_t blocks)
{
	struct sim_lu_config cfg;

	sim_lu_config_init(&cfg);
	cfg.fd = fd;
	cfg.fd_offset = off;
	cfg.block_size = bs;
	cfg.blocks = blocks;
	ck_assert_int_eq(sim_target_add_lu(t, lun, &cfg), 0);
}

START_TEST(test_file_backing)
{
	char path[64];
	int fd = tmpfile_fd(path);
	struct sim_target *t = new_target();
	const uint64_t off = 12345;
	uint8_t w[4096], r[4096], p[24];
	struct sim_cmd c;

	add_file_lu(t, 0, fd, off, 512, 64);
	/* written through the target, found in the file at the right place */
	fill(w, sizeof(w), 21);
	c = wr10(t, 3, 2, w, 1024);
	ck_good(c);
	ck_assert_int_eq(pread(fd, r, 1024, (off_t)(off + 3 * 512)), 1024);
	ck_assert(!memcmp(w, r, 1024));
	ck_assert_int_eq(pread(fd, r, 512, (off_t)off), 512);
	ck_assert(is_zero(r, 512));
	/* written to the file, read through the target */
	fill(w, 512, 22);
	ck_assert_int_eq(pwrite(fd, w, 512, (off_t)(off + 7 * 512)), 512);
	c = rd10(t, 7, 1, r, 512);
	ck_good(c);
	ck_assert(!memcmp(w, r, 512));
	/* past the end of the file: zeros */
	memset(r, 0xff, sizeof(r));
	c = rd10(t, 60, 4, r, 2048);
	ck_good(c);
	ck_assert(is_zero(r, 2048));
	/* FUA write and SYNCHRONIZE CACHE on a file */
	c = run(t, 0, CDB(0x2a, 0x08, 0, 0, 0, 9, 0, 0, 1, 0), OUT, w, 512);
	ck_good(c);
	c = run(t, 0, CDB(0x35, 0, 0, 0, 0, 0, 0, 0, 0, 0), NONE, NULL, 0);
	ck_good(c);
	/* WRITE SAME pattern lands in every block */
	fill(w, 512, 23);
	c = run(t, 0, CDB(0x41, 0, 0, 0, 0, 20, 0, 0, 5, 0), OUT, w, 512);
	ck_good(c);
	for (int i = 0; i < 5; i++) {
		ck_assert_int_eq(pread(fd, r, 512, (off_t)(off + (20 + i) * 512)), 512);
		ck_assert(!memcmp(w, r, 512));
	}
	/* UNMAP: zeros in the file (punched or written) */
	memset(p, 0, sizeof(p));
	wbe16(p, 22);
	wbe16(p + 2, 16);
	wbe64(p + 8, 21);
	wbe32(p + 16, 3);
	c = run(t, 0, CDB(0x42, 0, 0, 0, 0, 0, 0, 0, 24, 0), OUT, p, sizeof(p));
	ck_good(c);
	ck_assert_int_eq(pread(fd, r, 5 * 512, (off_t)(off + 20 * 512)), 5 * 512);
	ck_assert(!memcmp(w, r, 512));
	ck_assert(is_zero(r + 512, 3 * 512));
	ck_assert(!memcmp(w, r + 4 * 512, 512));
	/* WRITE SAME zeros without UNMAP on a file */
	c = run(t, 0, CDB(0x93, 0x01, 0, 0, 0, 0, 0, 0, 0, 24, 0, 0, 0, 1, 0, 0), NONE, NULL, 0);
	ck_good(c);
	ck_assert_int_eq(pread(fd, r, 512, (off_t)(off + 24 * 512)), 512);
	ck_assert(is_zero(r, 512));
	/* VERIFY reads the file back */
	c = run(t, 0, CDB(0x2f, 0, 0, 0, 0, 0, 0, 0, 64, 0), NONE, NULL, 0);
	ck_good(c);
	sim_target_free(t);
	/* the fd is borrowed: still open */
	ck_assert_int_eq(pread(fd, r, 1, 0), 1);
	close(fd);
	unlink(path);
}
END_TEST

START_TEST(test_file_io_errors)
{
	char path[64];
	int fd = tmpfile_fd(path), rfd, wfd, nfd, pfd[2];
	struct sim_target *t = new_target();
	uint8_t w[4096], r[4096];
	struct sim_cmd c;

	fill(w, sizeof(w), 30);
	ck_assert_int_eq(ftruncate(fd, 1 << 20), 0);
	rfd = open(path, O_RDONLY);
	wfd = open(path, O_WRONLY);
	ck_assert_int_ge(rfd, 0);
	ck_assert_int_ge(wfd, 0);
	ck_assert_int_eq(pipe(pfd), 0);
	add_file_lu(t, 0, wfd, 0, 512, 256);   /* reads fail */
	add_file_lu(t, 1, rfd, 0, 512, 256);   /* writes fail */
	add_file_lu(t, 2, pfd[0], 0, 512, 256);  /* everything fails */

	c = rw(t, 0, 0x28, 17, 2, IN, r, 1024);
	ck_sense(c, MEDIUM, 0x11, 0x00);
	ck_assert_uint_eq(sense_info(&c), 17);
	ck_assert_uint_eq(c.transferred, 0);
	c = rw(t, 0, 0x2a, 17, 2, OUT, w, 1024);
	ck_good(c);
	c = run(t, 0, CDB(0x2f, 0, 0, 0, 0, 30, 0, 0, 4, 0), NONE, NULL, 0);
	ck_sense(c, MEDIUM, 0x11, 0x00);
	ck_assert_uint_eq(sense_info(&c), 30);

	c = rw(t, 1, 0x2a, 33, 2, OUT, w, 1024);
	ck_sense(c, MEDIUM, 0x0c, 0x00);
	ck_assert_uint_eq(sense_info(&c), 33);
	c = rw(t, 1, 0x28, 33, 2, IN, r, 1024);
	ck_good(c);
	c = run(t, 1, CDB(0x41, 0, 0, 0, 0, 40, 0, 0, 3, 0), OUT, w, 512);
	ck_sense(c, MEDIUM, 0x0c, 0x00);
	ck_assert_uint_eq(sense_info(&c), 40);
	/* REQUEST SENSE still has the failing LBA */
	c = req_sense(t, 1, r, false);
	ck_good(c);
	ck_assert_uint_eq(r[0], 0xf0);
	ck_assert_uint_eq(be32(r + 3), 40);

	c = run(t, 2, CDB(0x35, 0, 0, 0, 0, 0, 0, 0, 0, 0), NONE, NULL, 0);
	ck_sense(c, MEDIUM, 0x0c, 0x00);
	c = rw(t, 2, 0x28, 5, 1, IN, r, 512);
	ck_sense(c, MEDIUM, 0x11, 0x00);
	ck_assert_uint_eq(sense_info(&c), 5);
	/* /dev/null: writes succeed, the flush fails */
	nfd = open("/dev/null", O_RDWR);
	ck_assert_int_ge(nfd, 0);
	add_file_lu(t, 3, nfd, 0, 512, 256);
	c = rw(t, 3, 0x2a, 5, 1, OUT, w, 512);
	ck_good(c);
	c = run(t, 3, CDB(0x35, 0, 0, 0, 0, 0, 0, 0, 0, 0), NONE, NULL, 0);
	ck_sense(c, MEDIUM, 0x0c, 0x00);
	c = run(t, 3, CDB(0x2a, 0x08, 0, 0, 0, 5, 0, 0, 1, 0), OUT, w, 512);  /* FUA */
	ck_sense(c, MEDIUM, 0x0c, 0x00);
	/* write-through (WCE 0) turns the failing flush into a write error */
	{
		uint8_t ms[4 + 20];

		memset(ms, 0, sizeof(ms));
		ms[4] = 0x08;
		ms[5] = 0x12;
		c = run(t, 3, CDB(0x15, 0x10, 0, 0, sizeof(ms), 0), OUT, ms, sizeof(ms));
		ck_good(c);
	}
	c = rw(t, 3, 0x2a, 5, 1, OUT, w, 512);
	ck_sense(c, MEDIUM, 0x0c, 0x00);
	sim_target_free(t);
	close(nfd);
	close(fd);
	close(rfd);
	close(wfd);
	close(pfd[0]);
	close(pfd[1]);
	unlink(path);
}
END_TEST

/* ---- MODE SENSE / MODE SELECT ------------------------------------------- */

/* Offset of the page with this code in a MODE SENSE answer, or -1. */
static int find_page(const uint8_t *buf, size_t len, size_t start, uint8_t code)
{
	for (size_t off = start; off + 2 <= len; off += 2 + buf[off + 1])
		if ((buf[off] & 0x3f) == code)
			return (int)off;
	return -1;
}

START_TEST(test_mode_sense)
{
	struct sim_target *t = new_target();
	uint8_t buf[256];
	struct sim_cmd c;
	int o08, o0a, o1c;

	add_lu(t, 0, OSTOR_TYPE_DISK, 512, 1000, false, false);
	add_lu(t, 1, OSTOR_TYPE_DISK, 512, 1000, true, false);

	/* MODE SENSE(6), all pages, block descriptor */
	c = run(t, 0, CDB(0x1a, 0, 0x3f, 0, 255, 0), IN, buf, sizeof(buf));
	ck_good(c);
	ck_assert_uint_eq(c.transferred, (size_t)buf[0] + 1);
	ck_assert_uint_eq(buf[1], 0);
	ck_assert_uint_eq(buf[2] & 0x80, 0);         /* not WP */
	ck_assert_uint_eq(buf[3], 8);
	ck_assert_uint_eq(be32(buf + 4), 1000);
	ck_assert_uint_eq(be32(buf + 8) & 0xffffff, 512);
	o08 = find_page(buf, c.transferred, 12, 0x08);
	o0a = find_page(buf, c.transferred, 12, 0x0a);
	o1c = find_page(buf, c.transferred, 12, 0x1c);
	ck_assert_int_eq(o08, 12);
	ck_assert_int_gt(o0a, o08);
	ck_assert_int_gt(o1c, o0a);
	ck_assert_uint_eq(c.transferred, (size_t)o1c + 12);
	ck_assert_uint_eq(buf[o08 + 1], 0x12);
	ck_assert_uint_eq(buf[o08 + 2] & 0x04, 0x04); /* WCE */
	ck_assert_uint_eq(buf[o0a + 1], 0x0a);
	ck_assert_uint_eq(buf[o0a + 2] & 0x04, 0);    /* D_SENSE 0 */
	ck_assert_uint_eq(buf[o1c + 1], 0x0a);
	/* DBD */
	c = run(t, 0, CDB(0x1a, 0x08, 0x08, 0, 255, 0), IN, buf, sizeof(buf));
	ck_good(c);
	ck_assert_uint_eq(buf[3], 0);
	ck_assert_uint_eq(buf[4], 0x88);             /* PS: savable */
	ck_assert_uint_eq(c.transferred, 24);
	/* changeable: only WCE */
	c = run(t, 0, CDB(0x1a, 0x08, 0x48, 0, 255, 0), IN, buf, sizeof(buf));
	ck_good(c);
	ck_assert_uint_eq(buf[6], 0x04);
	ck_assert(is_zero(buf + 7, 17));
	c = run(t, 0, CDB(0x1a, 0x08, 0x4a, 0, 255, 0), IN, buf, sizeof(buf));
	ck_good(c);
	ck_assert(is_zero(buf + 6, 10));
	/* default */
	c = run(t, 0, CDB(0x1a, 0x08, 0x88, 0, 255, 0), IN, buf, sizeof(buf));
	ck_good(c);
	ck_assert_uint_eq(buf[6] & 0x04, 0x04);
	/* saved values (kept in memory) */
	c = run(t, 0, CDB(0x1a, 0x08, 0xc8, 0, 255, 0), IN, buf, sizeof(buf));
	ck_good(c);
	ck_assert_uint_eq(buf[6] & 0x04, 0x04);
	/* unsupported page and subpage */
	c = run(t, 0, CDB(0x1a, 0, 0x19, 0, 255, 0), IN, buf, sizeof(buf));
	ck_cdb_field(c, 2, 5);
	c = run(t, 0, CDB(0x1a, 0, 0x08, 0x01, 255, 0), IN, buf, sizeof(buf));
	ck_cdb_field(c, 3, -1);
	c = run(t, 0, CDB(0x1a, 0, 0x3f, 0xff, 255, 0), IN, buf, sizeof(buf));
	ck_good(c);
	/* allocation length: header only, length field still full */
	c = run(t, 0, CDB(0x1a, 0, 0x3f, 0, 4, 0), IN, buf, sizeof(buf));
	ck_good(c);
	ck_assert_uint_eq(c.transferred, 4);
	ck_assert_uint_eq(buf[0], 12 + 20 + 12 + 40 + 12 - 1);  /* 08h 0Ah 1Ah 1Ch */
	/* MODE SENSE(10) */
	c = run(t, 0, CDB(0x5a, 0, 0x08, 0, 0, 0, 0, 1, 0, 0), IN, buf, sizeof(buf));
	ck_good(c);
	ck_assert_uint_eq(be16(buf), 8 + 8 + 20 - 2);
	ck_assert_uint_eq(be16(buf + 6), 8);
	ck_assert_uint_eq(buf[4] & 1, 0);
	ck_assert_uint_eq(buf[16], 0x88);
	c = run(t, 0, CDB(0x5a, 0x10, 0x08, 0, 0, 0, 0, 1, 0, 0), IN, buf, sizeof(buf));
	ck_good(c);
	ck_assert_uint_eq(be16(buf), 8 + 16 + 20 - 2);
	ck_assert_uint_eq(be64(buf + 8), 1000);
	ck_assert_uint_eq(be32(buf + 20), 512);
	/* write-protected LU: WP bit */
	c = run(t, 1, CDB(0x1a, 0, 0x3f, 0, 255, 0), IN, buf, sizeof(buf));
	ck_good(c);
	ck_assert_uint_eq(buf[2] & 0x80, 0x80);
	c = run(t, 1, CDB(0x5a, 0, 0x3f, 0, 0, 0, 0, 1, 0, 0), IN, buf, sizeof(buf));
	ck_good(c);
	ck_assert_uint_eq(buf[3] & 0x80, 0x80);
	sim_target_free(t);
}
END_TEST

static struct sim_cmd mode_select6(struct sim_target *t, const uint8_t *p, size_t len, uint8_t b1)
{
	uint8_t cdb[6] = { 0x15, b1, 0, 0, (uint8_t)len, 0 };

	return run(t, 0, cdb, 6, OUT, (void *)p, len);
}

static int current_wce(struct sim_target *t)
{
	uint8_t buf[64];
	struct sim_cmd c = run(t, 0, CDB(0x1a, 0x08, 0x08, 0, 255, 0), IN, buf, sizeof(buf));

	ck_good(c);
	return !!(buf[6] & 0x04);
}

START_TEST(test_mode_select)
{
	struct sim_target *t = disk_target(1000);
	uint8_t p[64], q[64];
	struct sim_cmd c;

	/* turn the write cache off with the caching page */
	memset(p, 0, sizeof(p));
	p[4] = 0x08;
	p[5] = 0x12;
	c = mode_select6(t, p, 24, 0x10);
	ck_good(c);
	ck_assert_uint_eq(c.transferred, 24);
	ck_assert_int_eq(current_wce(t), 0);
	/* back on with MODE SELECT(10), block descriptor included */
	memset(q, 0, sizeof(q));
	wbe16(q + 6, 8);
	wbe32(q + 8, 1000);
	q[13] = 0x00; q[14] = 0x02; q[15] = 0x00;   /* 512 */
	q[16] = 0x08;
	q[17] = 0x12;
	q[18] = 0x04;
	c = run(t, 0, CDB(0x55, 0x10, 0, 0, 0, 0, 0, 0, 36, 0), OUT, q, 36);
	ck_good(c);
	ck_assert_int_eq(current_wce(t), 1);
	/* a reset brings back the default too */
	c = mode_select6(t, p, 24, 0x10);
	ck_good(c);
	sim_target_reset(t);
	c = tur(t, 0);
	ck_assert_int_eq(current_wce(t), 1);

	/* unchangeable bit (RCD) */
	p[6] = 0x01;
	c = mode_select6(t, p, 24, 0x10);
	ck_param_field(c, 6, 0);
	p[6] = 0;
	/* page length mismatch; unknown page; subpage format */
	p[5] = 0x10;
	c = mode_select6(t, p, 22, 0x10);
	ck_param_field(c, 5, -1);
	p[5] = 0x12;
	p[4] = 0x19;
	c = mode_select6(t, p, 24, 0x10);
	ck_param_field(c, 4, 5);
	p[4] = 0x48;
	c = mode_select6(t, p, 24, 0x10);
	ck_param_field(c, 4, 6);
	p[4] = 0x08;
	/* truncated page, short header */
	c = mode_select6(t, p, 20, 0x10);
	ck_sense(c, ILLEGAL, 0x1a, 0x00);
	c = mode_select6(t, p, 5, 0x10);
	ck_sense(c, ILLEGAL, 0x1a, 0x00);
	c = mode_select6(t, p, 3, 0x10);
	ck_sense(c, ILLEGAL, 0x1a, 0x00);
	/* medium type */
	p[1] = 1;
	c = mode_select6(t, p, 24, 0x10);
	ck_param_field(c, 1, -1);
	p[1] = 0;
	/* SP saves (MODE SENSE saved values, and a reset restores them);
	 * PF = 0 */
	c = mode_select6(t, p, 24, 0x11);
	ck_good(c);
	sim_target_reset(t);
	c = tur(t, 0);
	ck_assert_int_eq(current_wce(t), 0);
	p[6] = 0x04;
	c = mode_select6(t, p, 24, 0x11);
	ck_good(c);
	p[6] = 0;
	ck_assert_int_eq(current_wce(t), 1);
	c = mode_select6(t, p, 24, 0x00);
	ck_cdb_field(c, 1, 4);
	/* data-out buffer shorter than the parameter list */
	c = run(t, 0, CDB(0x15, 0x10, 0, 0, 24, 0), OUT, p, 20);
	ck_cdb_field(c, 4, -1);
	/* block descriptor: wrong block size, wrong capacity, bad length */
	q[14] = 0x04;                              /* 1024 */
	c = run(t, 0, CDB(0x55, 0x10, 0, 0, 0, 0, 0, 0, 36, 0), OUT, q, 36);
	ck_param_field(c, 13, -1);
	q[14] = 0x02;
	wbe32(q + 8, 999);
	c = run(t, 0, CDB(0x55, 0x10, 0, 0, 0, 0, 0, 0, 36, 0), OUT, q, 36);
	ck_param_field(c, 8, -1);
	wbe32(q + 8, 0);                           /* 0: keep */
	c = run(t, 0, CDB(0x55, 0x10, 0, 0, 0, 0, 0, 0, 36, 0), OUT, q, 36);
	ck_good(c);
	wbe16(q + 6, 4);
	c = run(t, 0, CDB(0x55, 0x10, 0, 0, 0, 0, 0, 0, 36, 0), OUT, q, 36);
	ck_param_field(c, 6, -1);
	/* nothing half-applied: the second page is bad, WCE stays */
	memset(p, 0, sizeof(p));
	p[4] = 0x08;
	p[5] = 0x12;
	p[24] = 0x0a;
	p[25] = 0x0a;
	c = mode_select6(t, p, 36, 0x10);
	ck_param_field(c, 26, 1);                  /* GLTSD cannot change */
	ck_assert_int_eq(current_wce(t), 1);
	/* the control page with its current values is accepted */
	p[26] = 0x02;
	p[27] = 0x10;
	c = mode_select6(t, p, 36, 0x10);
	ck_good(c);
	ck_assert_int_eq(current_wce(t), 0);
	/* parameter list length 0: nothing */
	c = run(t, 0, CDB(0x15, 0x10, 0, 0, 0, 0), NONE, NULL, 0);
	ck_good(c);
	/* MODE SENSE output fed back to MODE SELECT is accepted */
	{
		uint8_t ms[128];

		c = run(t, 0, CDB(0x1a, 0, 0x3f, 0, 255, 0), IN, ms, sizeof(ms));
		ck_good(c);
		ms[0] = 0;                          /* reserved in MODE SELECT */
		c = mode_select6(t, ms, c.transferred, 0x10);
		ck_good(c);
	}
	sim_target_free(t);
}
END_TEST

/* ---- START STOP UNIT, PREVENT ALLOW, media ------------------------------ */

START_TEST(test_start_stop)
{
	struct sim_target *t = new_target();
	uint8_t buf[512];
	struct sim_cmd c;

	add_lu(t, 0, OSTOR_TYPE_DISK, 512, 100, false, false);
	add_lu(t, 1, OSTOR_TYPE_DISK, 512, 100, false, true);

	c = run(t, 0, CDB(0x1b, 0, 0, 0, 0x00, 0), NONE, NULL, 0);  /* stop */
	ck_good(c);
	c = tur(t, 0);
	ck_sense(c, NOT_READY, 0x04, 0x02);
	c = rd10(t, 0, 1, buf, 512);
	ck_sense(c, NOT_READY, 0x04, 0x02);
	c = run(t, 0, CDB(0x25, 0, 0, 0, 0, 0, 0, 0, 0, 0), IN, buf, 8);
	ck_sense(c, NOT_READY, 0x04, 0x02);
	c = run(t, 0, CDB(0x12, 0, 0, 0, 36, 0), IN, buf, 36);
	ck_good(c);
	c = run(t, 0, CDB(0x1a, 0, 0x3f, 0, 255, 0), IN, buf, 255);
	ck_good(c);
	c = run(t, 0, CDB(0x1b, 1, 0, 0, 0x01, 0), NONE, NULL, 0);  /* start, IMMED */
	ck_good(c);
	c = tur(t, 0);
	ck_good(c);
	/* LOEJ on a fixed disk; power conditions */
	c = run(t, 0, CDB(0x1b, 0, 0, 0, 0x02, 0), NONE, NULL, 0);
	ck_cdb_field(c, 4, 1);
	c = run(t, 0, CDB(0x1b, 0, 0, 0, 0x41, 0), NONE, NULL, 0);  /* reserved condition */
	ck_cdb_field(c, 4, 7);
	c = run(t, 0, CDB(0x1b, 0, 0, 0x01, 0x01, 0), NONE, NULL, 0); /* modifier without IDLE/STANDBY */
	ck_cdb_field(c, 3, 3);

	/* eject and load a removable medium */
	c = run(t, 1, CDB(0x1b, 0, 0, 0, 0x02, 0), NONE, NULL, 0);
	ck_good(c);
	c = tur(t, 1);
	ck_sense(c, NOT_READY, 0x3a, 0x00);
	c = run(t, 1, CDB(0x1b, 0, 0, 0, 0x03, 0), NONE, NULL, 0);
	ck_good(c);
	c = tur(t, 1);
	ck_good(c);
	/* prevented: eject refused, unit keeps running, operator can't pull */
	c = run(t, 1, CDB(0x1e, 0, 0, 0, 1, 0), NONE, NULL, 0);
	ck_good(c);
	c = run(t, 1, CDB(0x1b, 0, 0, 0, 0x02, 0), NONE, NULL, 0);
	ck_sense(c, ILLEGAL, 0x53, 0x02);
	c = tur(t, 1);
	ck_good(c);
	ck_assert_int_eq(sim_target_set_medium(t, 1, false), OSTOR_ERROR_BUSY);
	/* stop without LOEJ is fine while prevented */
	c = run(t, 1, CDB(0x1b, 0, 0, 0, 0x00, 0), NONE, NULL, 0);
	ck_good(c);
	c = run(t, 1, CDB(0x1b, 0, 0, 0, 0x01, 0), NONE, NULL, 0);
	ck_good(c);
	c = run(t, 1, CDB(0x1e, 0, 0, 0, 2, 0), NONE, NULL, 0);
	ck_cdb_field(c, 4, 1);
	/* allowed again */
	c = run(t, 1, CDB(0x1e, 0, 0, 0, 0, 0), NONE, NULL, 0);
	ck_good(c);
	c = run(t, 1, CDB(0x1b, 0, 0, 0, 0x02, 0), NONE, NULL, 0);
	ck_good(c);
	c = tur(t, 1);
	ck_sense(c, NOT_READY, 0x3a, 0x00);
	/* a reset clears prevention */
	c = run(t, 1, CDB(0x1b, 0, 0, 0, 0x03, 0), NONE, NULL, 0);
	ck_good(c);
	c = run(t, 1, CDB(0x1e, 0, 0, 0, 1, 0), NONE, NULL, 0);
	ck_good(c);
	sim_target_reset(t);
	ck_assert_int_eq(sim_target_set_medium(t, 1, false), 0);
	sim_target_free(t);
}
END_TEST

START_TEST(test_medium_not_present)
{
	struct sim_target *t = new_target();
	uint8_t buf[512];
	struct sim_cmd c;

	add_lu(t, 0, OSTOR_TYPE_DISK, 512, 100, false, false);
	add_lu(t, 1, OSTOR_TYPE_DISK, 1024, 100, false, true);
	ck_assert_int_eq(sim_target_set_medium(t, 0, false), OSTOR_ERROR_INVALID_PARAM);
	ck_assert_int_eq(sim_target_set_medium(t, 5, false), OSTOR_ERROR_NOT_FOUND);
	ck_assert_int_eq(sim_target_set_medium(t, 1, false), 0);

	c = tur(t, 1);
	ck_sense(c, NOT_READY, 0x3a, 0x00);
	c = rw(t, 1, 0x28, 0, 1, IN, buf, 512);
	ck_sense(c, NOT_READY, 0x3a, 0x00);
	c = rw(t, 1, 0x2a, 0, 1, OUT, buf, 512);
	ck_sense(c, NOT_READY, 0x3a, 0x00);
	c = run(t, 1, CDB(0x25, 0, 0, 0, 0, 0, 0, 0, 0, 0), IN, buf, 8);
	ck_sense(c, NOT_READY, 0x3a, 0x00);
	c = run(t, 1, CDB(0x35, 0, 0, 0, 0, 0, 0, 0, 0, 0), NONE, NULL, 0);
	ck_sense(c, NOT_READY, 0x3a, 0x00);
	/* those that don't need the medium */
	c = run(t, 1, CDB(0x12, 0, 0, 0, 36, 0), IN, buf, 36);
	ck_good(c);
	c = run(t, 1, CDB(0x1a, 0, 0x3f, 0, 255, 0), IN, buf, 255);
	ck_good(c);
	ck_assert_uint_eq(be32(buf + 4), 0);        /* no blocks without medium */
	/* READ FORMAT CAPACITIES: "no media present" descriptor */
	c = run(t, 1, CDB(0x23, 0, 0, 0, 0, 0, 0, 0, 12, 0), IN, buf, 12);
	ck_good(c);
	ck_assert_uint_eq(buf[3], 8);
	ck_assert_uint_eq(buf[8] & 3, 3);
	/* REQUEST SENSE after the failure: BOT-style hosts need it */
	c = tur(t, 1);
	c = req_sense(t, 1, buf, false);
	ck_good(c);
	ck_assert_uint_eq(buf[2] & 0xf, NOT_READY);
	ck_assert_uint_eq(buf[12], 0x3a);
	/* inserted: UA 28h, then ready */
	ck_assert_int_eq(sim_target_set_medium(t, 1, true), 0);
	c = tur(t, 1);
	ck_sense(c, UNIT_ATT, 0x28, 0x00);
	c = tur(t, 1);
	ck_good(c);
	c = run(t, 1, CDB(0x23, 0, 0, 0, 0, 0, 0, 0, 12, 0), IN, buf, 12);
	ck_good(c);
	ck_assert_uint_eq(buf[8] & 3, 2);
	ck_assert_uint_eq(be32(buf + 4), 100);
	ck_assert_uint_eq(buf[9] << 16 | buf[10] << 8 | buf[11], 1024);
	sim_target_free(t);
}
END_TEST

/* ---- read-only, cdrom, 4096 --------------------------------------------- */

START_TEST(test_readonly)
{
	struct sim_target *t = new_target();
	uint8_t buf[1024], p[24];
	struct sim_cmd c;

	add_lu(t, 0, OSTOR_TYPE_DISK, 512, 100, true, false);
	memset(buf, 0x77, sizeof(buf));
	c = wr10(t, 0, 1, buf, 512);
	ck_sense(c, PROTECT, 0x27, 0x00);
	c = rw(t, 0, 0x0a, 0, 1, OUT, buf, 512);
	ck_sense(c, PROTECT, 0x27, 0x00);
	c = rw(t, 0, 0x8a, 0, 0, OUT, buf, 512);
	ck_sense(c, PROTECT, 0x27, 0x00);
	c = run(t, 0, CDB(0x41, 0, 0, 0, 0, 0, 0, 0, 1, 0), OUT, buf, 512);
	ck_sense(c, PROTECT, 0x27, 0x00);
	memset(p, 0, sizeof(p));
	wbe16(p + 2, 16);
	wbe32(p + 16, 1);
	c = run(t, 0, CDB(0x42, 0, 0, 0, 0, 0, 0, 0, 24, 0), OUT, p, 24);
	ck_sense(c, PROTECT, 0x27, 0x00);
	c = rd10(t, 0, 1, buf, 512);
	ck_good(c);
	ck_assert(is_zero(buf, 512));
	c = run(t, 0, CDB(0x35, 0, 0, 0, 0, 0, 0, 0, 0, 0), NONE, NULL, 0);
	ck_good(c);
	sim_target_free(t);
}
END_TEST

START_TEST(test_cdrom)
{
	struct sim_target *t = new_target();
	uint8_t buf[4096];
	struct sim_cmd c;

	add_lu(t, 0, OSTOR_TYPE_CDROM, 0, 300, false, false);
	c = run(t, 0, CDB(0x12, 0, 0, 0, 96, 0), IN, buf, 96);
	ck_good(c);
	ck_assert_uint_eq(buf[0], 0x05);
	ck_assert_uint_eq(buf[1] & 0x80, 0x80);
	ck_assert(!memcmp(buf + 16, "SIM CDROM       ", 16));
	c = run(t, 0, CDB(0x25, 0, 0, 0, 0, 0, 0, 0, 0, 0), IN, buf, 8);
	ck_good(c);
	ck_assert_uint_eq(be32(buf), 299);
	ck_assert_uint_eq(be32(buf + 4), 2048);
	c = run(t, 0, CDB(0x9e, 0x10, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 32, 0, 0), IN, buf, 32);
	ck_good(c);
	ck_assert_uint_eq(buf[14] & 0x80, 0);        /* no LBPME */
	c = rd10(t, 299, 2, buf, 4096);
	ck_sense(c, ILLEGAL, 0x21, 0);
	c = rd10(t, 298, 2, buf, 4096);
	ck_good(c);
	ck_assert_uint_eq(c.transferred, 4096);
	c = wr10(t, 0, 1, buf, 2048);
	ck_sense(c, PROTECT, 0x27, 0);
	c = rw(t, 0, 0xaa, 0, 1, OUT, buf, 2048);
	ck_sense(c, PROTECT, 0x27, 0);
	/* SBC-only commands */
	c = run(t, 0, CDB(0x41, 0, 0, 0, 0, 0, 0, 0, 1, 0), OUT, buf, 2048);
	ck_sense(c, ILLEGAL, 0x20, 0);
	c = run(t, 0, CDB(0x42, 0, 0, 0, 0, 0, 0, 0, 0, 0), NONE, NULL, 0);
	ck_sense(c, ILLEGAL, 0x20, 0);
	/* WP in MODE SENSE; eject works, it is removable */
	c = run(t, 0, CDB(0x1a, 0, 0x3f, 0, 255, 0), IN, buf, 255);
	ck_good(c);
	ck_assert_uint_eq(buf[2] & 0x80, 0x80);
	ck_assert_uint_eq(be32(buf + 8) & 0xffffff, 2048);
	c = run(t, 0, CDB(0x1b, 0, 0, 0, 0x02, 0), NONE, NULL, 0);
	ck_good(c);
	c = tur(t, 0);
	ck_sense(c, NOT_READY, 0x3a, 0);
	sim_target_free(t);
}
END_TEST

START_TEST(test_4096_blocks)
{
	struct sim_target *t = new_target();
	uint8_t *w = malloc(3 * 4096), *r = malloc(3 * 4096), buf[64];
	struct sim_cmd c;

	add_lu(t, 0, OSTOR_TYPE_DISK, 4096, 1000, false, false);
	fill(w, 3 * 4096, 40);
	c = wr10(t, 997, 3, w, 3 * 4096);
	ck_good(c);
	ck_assert_uint_eq(c.transferred, 3 * 4096);
	c = rw(t, 0, 0x88, 997, 3, IN, r, 3 * 4096);
	ck_good(c);
	ck_assert(!memcmp(w, r, 3 * 4096));
	/* one block short of the buffer */
	c = wr10(t, 0, 3, w, 3 * 4096 - 1);
	ck_cdb_field(c, 7, -1);
	c = run(t, 0, CDB(0x25, 0, 0, 0, 0, 0, 0, 0, 0, 0), IN, buf, 8);
	ck_good(c);
	ck_assert_uint_eq(be32(buf + 4), 4096);
	c = run(t, 0, CDB(0x23, 0, 0, 0, 0, 0, 0, 0, 12, 0), IN, buf, 12);
	ck_good(c);
	ck_assert_uint_eq(buf[9] << 16 | buf[10] << 8 | buf[11], 4096);
	/* WRITE SAME with a 4096-byte pattern */
	c = run(t, 0, CDB(0x41, 0, 0, 0, 0, 10, 0, 0, 20, 0), OUT, w, 4096);
	ck_good(c);
	for (int i = 0; i < 20; i++) {
		c = rd10(t, 10 + (uint32_t)i, 1, r, 4096);
		ck_assert(!memcmp(w, r, 4096));
	}
	free(w);
	free(r);
	sim_target_free(t);
}
END_TEST

/* ---- WRITE SAME, UNMAP -------------------------------------------------- */

START_TEST(test_write_same)
{
	struct sim_target *t = disk_target(4096);
	uint8_t *w = malloc(64 * 512), *r = malloc(64 * 512), z[512];
	struct sim_cmd c;

	fill(w, 64 * 512, 50);
	c = wr10(t, 0, 64, w, 64 * 512);
	ck_good(c);
	/* pattern */
	fill(z, 512, 51);
	c = run(t, 0, CDB(0x41, 0, 0, 0, 0, 2, 0, 0, 4, 0), OUT, z, 512);
	ck_good(c);
	ck_assert_uint_eq(c.transferred, 512);
	c = rd10(t, 0, 8, r, 8 * 512);
	ck_assert(!memcmp(r, w, 1024));
	for (int i = 2; i < 6; i++)
		ck_assert(!memcmp(r + 512 * i, z, 512));
	ck_assert(!memcmp(r + 3072, w + 3072, 1024));
	/* UNMAP bit with zeros: deallocated, reads zero (page-aligned range) */
	memset(z, 0, sizeof(z));
	c = run(t, 0, CDB(0x93, 0x08, 0, 0, 0, 0, 0, 0, 0, 8, 0, 0, 0, 48, 0, 0), OUT, z, 512);
	ck_good(c);
	c = rd10(t, 0, 64, r, 64 * 512);
	ck_assert(!memcmp(r, w, 2 * 512));
	ck_assert(is_zero(r + 8 * 512, 48 * 512));
	ck_assert(!memcmp(r + 56 * 512, w + 56 * 512, 8 * 512));
	/* UNMAP bit with non-zero data: written, not deallocated */
	fill(z, 512, 52);
	c = run(t, 0, CDB(0x41, 0x08, 0, 0, 0, 60, 0, 0, 2, 0), OUT, z, 512);
	ck_good(c);
	c = rd10(t, 60, 2, r, 1024);
	ck_assert(!memcmp(r, z, 512) && !memcmp(r + 512, z, 512));
	/* NDOB: no data, zeros */
	c = run(t, 0, CDB(0x93, 0x09, 0, 0, 0, 0, 0, 0, 0, 60, 0, 0, 0, 1, 0, 0), NONE, NULL, 0);
	ck_good(c);
	c = rd10(t, 60, 2, r, 1024);
	ck_assert(is_zero(r, 512));
	ck_assert(!memcmp(r + 512, z, 512));
	/* errors */
	c = run(t, 0, CDB(0x41, 0x01, 0, 0, 0, 0, 0, 0, 1, 0), OUT, z, 512);
	ck_cdb_field(c, 1, 0);       /* NDOB does not exist in (10) */
	c = run(t, 0, CDB(0x41, 0, 0, 0, 0, 0, 0, 0, 0, 0), OUT, z, 512);
	ck_cdb_field(c, 7, -1);      /* WSNZ */
	c = run(t, 0, CDB(0x41, 0x10, 0, 0, 0, 0, 0, 0, 1, 0), OUT, z, 512);
	ck_cdb_field(c, 1, 4);       /* ANCHOR */
	c = run(t, 0, CDB(0x41, 0x02, 0, 0, 0, 0, 0, 0, 1, 0), OUT, z, 512);
	ck_cdb_field(c, 1, 1);       /* LBDATA */
	c = run(t, 0, CDB(0x93, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x40, 0, 1, 0, 0), OUT, z, 512);
	ck_cdb_field(c, 10, -1);     /* beyond MAXIMUM WRITE SAME LENGTH */
	c = run(t, 0, CDB(0x41, 0, 0, 0, 0x0f, 0xff, 0, 0, 2, 0), OUT, z, 512);
	ck_sense(c, ILLEGAL, 0x21, 0);
	c = run(t, 0, CDB(0x41, 0, 0, 0, 0, 0, 0, 0, 2, 0), OUT, z, 511);
	ck_cdb_field(c, 7, -1);
	c = run(t, 0, CDB(0x93, 0, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0, 0, 0, 2, 0, 0),
		OUT, z, 512);
	ck_sense(c, ILLEGAL, 0x21, 0);
	free(w);
	free(r);
	sim_target_free(t);
}
END_TEST

static struct sim_cmd unmap(struct sim_target *t, const uint8_t *p, size_t plen, size_t buflen)
{
	uint8_t cdb[10] = { 0x42, 0, 0, 0, 0, 0, 0, (uint8_t)(plen >> 8), (uint8_t)plen, 0 };

	return run(t, 0, cdb, 10, OUT, (void *)p, buflen);
}

static void unmap_desc(uint8_t *p, size_t i, uint64_t lba, uint32_t n)
{
	wbe64(p + 8 + 16 * i, lba);
	wbe32(p + 8 + 16 * i + 8, n);
}

START_TEST(test_unmap)
{
	struct sim_target *t = disk_target(1024);
	size_t plen = 8 + 16 * 300;
	uint8_t *w = malloc(1024 * 512), *r = malloc(1024 * 512), *p = calloc(1, plen);
	struct sim_cmd c;

	fill(w, 1024 * 512, 60);
	c = wr10(t, 0, 1024, w, 1024 * 512);
	ck_good(c);

	/* two descriptors */
	wbe16(p, 6 + 32);
	wbe16(p + 2, 32);
	unmap_desc(p, 0, 10, 5);
	unmap_desc(p, 1, 100, 300);
	c = unmap(t, p, 40, 40);
	ck_good(c);
	ck_assert_uint_eq(c.transferred, 40);
	c = rd10(t, 0, 1024, r, 1024 * 512);
	ck_good(c);
	ck_assert(!memcmp(r, w, 10 * 512));
	ck_assert(is_zero(r + 10 * 512, 5 * 512));
	ck_assert(!memcmp(r + 15 * 512, w + 15 * 512, 85 * 512));
	ck_assert(is_zero(r + 100 * 512, 300 * 512));
	ck_assert(!memcmp(r + 400 * 512, w + 400 * 512, 624 * 512));

	/* one bad descriptor: LBA OUT OF RANGE, nothing unmapped */
	unmap_desc(p, 0, 500, 5);
	unmap_desc(p, 1, 1020, 5);
	c = unmap(t, p, 40, 40);
	ck_sense(c, ILLEGAL, 0x21, 0);
	c = rd10(t, 500, 5, r, 5 * 512);
	ck_assert(!memcmp(r, w + 500 * 512, 5 * 512));
	unmap_desc(p, 1, UINT64_MAX, 2);
	c = unmap(t, p, 40, 40);
	ck_sense(c, ILLEGAL, 0x21, 0);
	/* count above the maximum */
	unmap_desc(p, 1, 0, SIM_MAX_UNMAP_LBA_COUNT + 1);
	c = unmap(t, p, 40, 40);
	ck_param_field(c, 32, -1);
	/* a partial trailing descriptor is ignored; count 0 is no-op */
	unmap_desc(p, 0, 600, 2);
	unmap_desc(p, 1, 700, 0);
	wbe16(p + 2, 16 + 10);
	c = unmap(t, p, 40, 40);
	ck_good(c);
	c = rd10(t, 600, 2, r, 1024);
	ck_assert(is_zero(r, 1024));
	/* block descriptor data length larger than the list: bounded by it */
	wbe16(p + 2, 0xfff0);
	unmap_desc(p, 0, 610, 1);
	c = unmap(t, p, 24, 24);
	ck_good(c);
	c = rd10(t, 610, 1, r, 512);
	ck_assert(is_zero(r, 512));
	/* too many descriptors */
	wbe16(p + 2, 16 * 300);
	for (size_t i = 0; i < 300; i++)
		unmap_desc(p, i, i, 1);
	c = unmap(t, p, plen, plen);
	ck_param_field(c, 2, -1);
	/* parameter list length 1..7; 0; short buffer; ANCHOR */
	c = unmap(t, p, 7, 7);
	ck_sense(c, ILLEGAL, 0x1a, 0);
	c = run(t, 0, CDB(0x42, 0, 0, 0, 0, 0, 0, 0, 0, 0), NONE, NULL, 0);
	ck_good(c);
	c = unmap(t, p, 40, 39);
	ck_cdb_field(c, 7, -1);
	c = run(t, 0, CDB(0x42, 1, 0, 0, 0, 0, 0, 0, 0, 0), NONE, NULL, 0);
	ck_cdb_field(c, 1, 0);
	free(w);
	free(r);
	free(p);
	sim_target_free(t);
}
END_TEST

/* ---- SEND DIAGNOSTIC, LOG SENSE, READ FORMAT CAPACITIES ----------------- */

START_TEST(test_misc_commands)
{
	struct sim_target *t = disk_target(0x12345);
	uint8_t buf[64];
	struct sim_cmd c;

	c = run(t, 0, CDB(0x1d, 0x04, 0, 0, 0, 0), NONE, NULL, 0);    /* SELFTEST */
	ck_good(c);
	c = run(t, 0, CDB(0x1d, 0xa0, 0, 0, 0, 0), NONE, NULL, 0);    /* foreground short */
	ck_good(c);
	c = run(t, 0, CDB(0x1d, 0x20, 0, 0, 0, 0), NONE, NULL, 0);    /* background short */
	ck_good(c);
	c = run(t, 0, CDB(0x1d, 0x60, 0, 0, 0, 0), NONE, NULL, 0);    /* reserved code */
	ck_cdb_field(c, 1, 7);
	c = run(t, 0, CDB(0x1d, 0x24, 0, 0, 0, 0), NONE, NULL, 0);
	ck_cdb_field(c, 1, 7);
	c = run(t, 0, CDB(0x1d, 0x10, 0, 0, 4, 0), OUT, buf, 4);
	ck_cdb_field(c, 3, -1);

	c = run(t, 0, CDB(0x4d, 0, 0x40, 0, 0, 0, 0, 0, 64, 0), IN, buf, sizeof(buf));
	ck_good(c);
	ck_assert_uint_eq(c.transferred, 9);            /* 00h 0Dh 10h 15h 2Fh */
	ck_assert_uint_eq(buf[0] & 0x3f, 0);
	ck_assert_uint_eq(be16(buf + 2), 5);
	ck_assert_uint_eq(buf[4], 0);
	ck_assert_uint_eq(buf[8], 0x2f);
	c = run(t, 0, CDB(0x4d, 0, 0x40, 0, 0, 0, 0, 0, 3, 0), IN, buf, sizeof(buf));
	ck_good(c);
	ck_assert_uint_eq(c.transferred, 3);
	c = run(t, 0, CDB(0x4d, 0, 0x4e, 0, 0, 0, 0, 0, 64, 0), IN, buf, sizeof(buf));
	ck_cdb_field(c, 2, 5);
	c = run(t, 0, CDB(0x4d, 1, 0x40, 0, 0, 0, 0, 0, 64, 0), IN, buf, sizeof(buf));
	ck_cdb_field(c, 1, 0);
	c = run(t, 0, CDB(0x4d, 0, 0x40, 1, 0, 0, 0, 0, 64, 0), IN, buf, sizeof(buf));
	ck_cdb_field(c, 3, -1);

	/* READ FORMAT CAPACITIES */
	c = run(t, 0, CDB(0x23, 0, 0, 0, 0, 0, 0, 0, 252, 0), IN, buf, sizeof(buf));
	ck_good(c);
	ck_assert_uint_eq(c.transferred, 12);
	ck_assert_uint_eq(be32(buf), 8);
	ck_assert_uint_eq(be32(buf + 4), 0x12345);
	ck_assert_uint_eq(buf[8] & 3, 2);
	ck_assert_uint_eq(buf[9] << 16 | buf[10] << 8 | buf[11], 512);
	sim_target_free(t);
}
END_TEST

/* ---- hostile CDBs ------------------------------------------------------- */

static bool supported_op(uint8_t op)
{
	static const uint8_t ops[] = {
		0x00, 0x03, 0x08, 0x0a, 0x12, 0x15, 0x1a, 0x1b, 0x1d, 0x1e,
		0x23, 0x25, 0x28, 0x2a, 0x2f, 0x35, 0x41, 0x42, 0x4d, 0x55,
		0x5a, 0x88, 0x89, 0x8a, 0x8f, 0x91, 0x93, 0x9e, 0xa0, 0xa8,
		0xaa,
	};

	for (size_t i = 0; i < sizeof(ops); i++)
		if (ops[i] == op)
			return true;
	return false;
}

START_TEST(test_hostile_cdbs)
{
	struct sim_target *t = disk_target(1000);
	uint8_t cdb[32], buf[8192];
	struct sim_cmd c;
	unsigned int seed = 12345;

	/* no CDB at all */
	c = run(t, 0, NULL, 0, NONE, NULL, 0);
	ck_sense(c, ILLEGAL, 0x20, 0);
	c = run(t, 0, buf, 0, NONE, NULL, 0);
	ck_sense(c, ILLEGAL, 0x20, 0);
	/* every unsupported opcode, with a full-size CDB */
	memset(cdb, 0, sizeof(cdb));
	for (int op = 0; op < 256; op++) {
		if (supported_op((uint8_t)op))
			continue;
		cdb[0] = (uint8_t)op;
		c = run(t, 0, cdb, 16, IN, buf, 512);
		ck_sense(c, ILLEGAL, 0x20, 0);
		ck_assert_uint_eq(c.transferred, 0);
	}
	/* CDB shorter than its group: READ(10) as 6 bytes, READ(16) as 10 */
	c = run(t, 0, CDB(0x28, 0, 0, 0, 0, 1), IN, buf, 512);
	ck_cdb_field(c, 0, -1);
	c = run(t, 0, CDB(0x88, 0, 0, 0, 0, 0, 0, 0, 0, 1), IN, buf, 512);
	ck_cdb_field(c, 0, -1);
	c = run(t, 0, CDB(0x12, 0, 0), IN, buf, 512);
	ck_cdb_field(c, 0, -1);
	/* longer CDB (12-byte UFI packet around a 10-byte command) is fine */
	c = run(t, 0, CDB(0x28, 0, 0, 0, 0, 1, 0, 0, 1, 0, 0xff, 0xff), IN, buf, 512);
	ck_good(c);
	/* NACA and LINK in the CONTROL byte */
	c = run(t, 0, CDB(0x00, 0, 0, 0, 0, 0x04), NONE, NULL, 0);
	ck_cdb_field(c, 5, 2);
	c = run(t, 0, CDB(0x28, 0, 0, 0, 0, 1, 0, 0, 1, 0x01), IN, buf, 512);
	ck_cdb_field(c, 9, 0);
	/* absurd allocation lengths */
	c = run(t, 0, CDB(0x12, 0, 0, 0xff, 0xff, 0), IN, buf, 10);
	ck_good(c);
	ck_assert_uint_eq(c.transferred, 10);
	ck_assert(c.overrun);
	c = run(t, 0, CDB(0x5a, 0, 0x3f, 0, 0, 0, 0, 0xff, 0xff, 0), IN, buf, sizeof(buf));
	ck_good(c);
	ck_assert_uint_eq(c.transferred, (size_t)be16(buf) + 2);

	/* random CDBs of random lengths and directions: the results stay
	 * consistent (run() checks transferred/residual/sense_len) */
	for (int i = 0; i < 20000; i++) {
		size_t len = (size_t)(rand_r(&seed) % 20);
		size_t blen = (size_t)(rand_r(&seed) % (int)sizeof(buf));
		int dir = rand_r(&seed) % 3;

		for (size_t j = 0; j < sizeof(cdb); j++)
			cdb[j] = (uint8_t)rand_r(&seed);
		/* bias towards supported opcodes and small numbers */
		if (i & 1) {
			static const uint8_t some[] = { 0x28, 0x2a, 0x88, 0x8a, 0x12, 0x1a, 0x5a,
							0x15, 0x55, 0x42, 0x41, 0x93, 0x2f, 0xa0, 0x03,
							0x89 };
			cdb[0] = some[(size_t)rand_r(&seed) % sizeof(some)];
			for (size_t j = 2; j < 10; j++)
				if (rand_r(&seed) & 1)
					cdb[j] = 0;
		}
		if (dir == OUT)
			for (size_t j = 0; j < blen; j++)
				buf[j] = (uint8_t)rand_r(&seed);
		c = run(t, (uint32_t)(rand_r(&seed) % 2), cdb, len, dir, buf, blen);
		ck_assert(c.status == GOOD || c.status == CHECK);
		if (c.status == CHECK)
			ck_assert_uint_eq(c.sense[0] & 0x7f, 0x70);
	}
	/* the target still works */
	sim_target_reset(t);
	c = tur(t, 0);
	ck_sense(c, UNIT_ATT, 0x29, 0);
	c = run(t, 0, CDB(0x12, 0, 0, 0, 36, 0), IN, buf, 36);
	ck_good(c);
	sim_target_free(t);
}
END_TEST

START_TEST(test_null_target)
{
	static const uint8_t cdb[6] = { 0x00, 0, 0, 0, 0, 0 };
	struct sim_cmd c;

	memset(&c, 0, sizeof(c));
	c.cdb = cdb;
	c.cdb_len = 6;
	sim_target_execute(NULL, &c);
	ck_assert_uint_eq(c.status, CHECK);
	ck_assert_uint_eq(c.sense[12], 0x25);
	sim_target_execute(NULL, NULL);
	sim_target_free(NULL);
	ck_assert_uint_eq(sim_target_lu_count(NULL), 0);
}
END_TEST

/* ---- null LUs: the lock-free way ---------------------------------------- */

static void add_null_lu(struct sim_target *t, uint32_t lun, bool ro)
{
	struct sim_lu_config cfg;

	sim_lu_config_init(&cfg);
	cfg.blocks = 1000;
	cfg.null = true;
	cfg.readonly = ro;
	ck_assert_int_eq(sim_target_add_lu(t, lun, &cfg), 0);
}

static bool fast_on(struct sim_target *t, uint32_t lun)
{
	return atomic_load(&t->fast[lun].blocks) != 0;
}

/* Every answer of a null LU is the one the locked way gives, whether the
 * command took the fast way or not; the fast way is on only while nothing
 * is pending, and whatever could change that turns it off first. */
START_TEST(test_null_fast_way)
{
	struct sim_target *t = new_target();
	uint8_t buf[4096];
	uint8_t cdb[16];
	struct sim_cmd c;
	struct sim_stats st;

	add_null_lu(t, 0, false);
	add_null_lu(t, 1, true);
	ck_assert(!fast_on(t, 0));
	c = rd10(t, 0, 8, buf, 4096);        /* locked: turns the fast way on */
	ck_good(c);
	ck_assert(fast_on(t, 0));
	c = rw(t, 0, 0x88, 992, 8, IN, buf, 4096);
	ck_good(c);
	ck_assert_uint_eq(c.transferred, 4096);
	c = rw(t, 0, 0x8a, 0, 8, OUT, buf, 4096);
	ck_good(c);
	c = wr10(t, 10, 1, buf, 4096);       /* a longer buffer: residual */
	ck_good(c);
	ck_assert_uint_eq(c.transferred, 512);
	ck_assert_uint_eq(c.residual, 3584);
	ck_assert(fast_on(t, 0));

	/* Errors: the locked way's answers. */
	c = rw(t, 0, 0x88, 993, 8, IN, buf, 4096);
	ck_sense(c, ILLEGAL, 0x21, 0);
	c = rd10(t, 0, 8, buf, 512);         /* buffer too small: overrun */
	ck_good(c);
	ck_assert(c.overrun);
	ck_assert_uint_eq(c.transferred, 512);
	c = rw(t, 0, 0x28, 0, 1, OUT, buf, 512);
	ck_cdb_field(c, 7, -1);
	memset(cdb, 0, sizeof(cdb));
	cdb[0] = 0x28;
	cdb[1] = 0x20;                       /* RDPROTECT */
	cdb[8] = 1;
	c = run(t, 0, cdb, 10, IN, buf, 512);
	ck_cdb_field(c, 1, 7);
	cdb[1] = 0;
	cdb[9] = 0x04;                       /* NACA */
	c = run(t, 0, cdb, 10, IN, buf, 512);
	ck_cdb_field(c, 9, 2);
	c = run(t, 0, cdb, 9, IN, buf, 512); /* a short CDB */
	ck_sense(c, ILLEGAL, 0x24, 0);
	c = rd10(t, 0, 1, buf, 512);         /* the held sense is gone: on again */
	ck_good(c);
	ck_assert(fast_on(t, 0));

	/* A read-only null LU: reads fast, writes refused. */
	c = rw(t, 1, 0x28, 0, 1, IN, buf, 512);
	ck_good(c);
	ck_assert(fast_on(t, 1));
	c = rw(t, 1, 0x2a, 0, 1, OUT, buf, 512);
	ck_sense(c, PROTECT, 0x27, 0);

	/* A reset: the unit attention is reported, then the fast way again. */
	c = rd10(t, 0, 1, buf, 512);
	ck_good(c);
	sim_target_reset(t);
	ck_assert(!fast_on(t, 0) && !fast_on(t, 1));
	c = rd10(t, 0, 1, buf, 512);
	ck_sense(c, UNIT_ATT, 0x29, 0);
	c = rd10(t, 0, 1, buf, 512);
	ck_good(c);
	c = rd10(t, 0, 1, buf, 512);
	ck_good(c);
	ck_assert(fast_on(t, 0));

	/* A fault rule applies to the next command even on the fast way. */
	ck_assert_int_eq(sim_target_inject_check(t, 0, 0x28, 1, MEDIUM, 0x11, 0), 0);
	ck_assert(!fast_on(t, 0));
	c = rd10(t, 0, 1, buf, 512);
	ck_sense(c, MEDIUM, 0x11, 0);
	c = rd10(t, 0, 1, buf, 512);
	ck_good(c);

	/* A capacity change: its unit attention, then the new size. */
	ck_assert_int_eq(sim_target_set_capacity(t, 0, 100), 0);
	c = rd10(t, 0, 1, buf, 512);
	ck_sense(c, UNIT_ATT, 0x2a, 0x09);
	c = rd10(t, 99, 1, buf, 512);
	ck_good(c);
	c = rd10(t, 0, 1, buf, 512);
	ck_good(c);
	ck_assert(fast_on(t, 0));
	c = rd10(t, 100, 1, buf, 512);
	ck_sense(c, ILLEGAL, 0x21, 0);

	/* Stopped: not ready until started. */
	c = run(t, 0, CDB(0x1b, 0, 0, 0, 0x00, 0), NONE, NULL, 0);
	ck_good(c);
	ck_assert(!fast_on(t, 0));
	c = rd10(t, 0, 1, buf, 512);
	ck_sense(c, NOT_READY, 0x04, 0x02);
	c = run(t, 0, CDB(0x1b, 0, 0, 0, 0x01, 0), NONE, NULL, 0);
	ck_good(c);

	/* Statistics count both ways. */
	sim_target_reset_stats(t);
	for (int i = 0; i < 10; i++) {
		c = rd10(t, 0, 2, buf, 1024);
		ck_good(c);
		c = rw(t, 0, 0x8a, 0, 1, OUT, buf, 512);
		ck_good(c);
	}
	c = rd10(t, 200, 1, buf, 512);
	ck_sense(c, ILLEGAL, 0x21, 0);
	sim_target_get_stats(t, &st);
	ck_assert_uint_eq(st.commands, 21);
	ck_assert_uint_eq(st.good, 20);
	ck_assert_uint_eq(st.check_condition, 1);
	ck_assert_uint_eq(st.per_opcode[0x28], 11);
	ck_assert_uint_eq(st.per_opcode[0x8a], 10);
	ck_assert_uint_eq(st.bytes_in, 10240);
	ck_assert_uint_eq(st.bytes_out, 5120);
	sim_target_reset_stats(t);
	sim_target_get_stats(t, &st);
	ck_assert_uint_eq(st.commands, 0);
	ck_assert_uint_eq(st.bytes_in, 0);
	sim_target_free(t);
}
END_TEST

/* ---- configuration validation ------------------------------------------- */

START_TEST(test_add_lu_validation)
{
	struct sim_target *t = new_target();
	struct sim_lu_config cfg;

	sim_lu_config_init(&cfg);
	ck_assert_int_eq(cfg.fd, -1);
	ck_assert_int_eq(cfg.type, OSTOR_TYPE_DISK);
	ck_assert_int_eq(sim_target_add_lu(t, 0, &cfg), OSTOR_ERROR_INVALID_PARAM); /* 0 blocks */
	ck_assert_str_ne(ostor_last_error(), "");
	cfg.blocks = 10;
	cfg.block_size = 520;
	ck_assert_int_eq(sim_target_add_lu(t, 0, &cfg), OSTOR_ERROR_INVALID_PARAM);
	cfg.block_size = 512;
	cfg.type = OSTOR_TYPE_TAPE;
	ck_assert_int_eq(sim_target_add_lu(t, 0, &cfg), OSTOR_ERROR_INVALID_PARAM);
	cfg.type = OSTOR_TYPE_DISK;
	cfg.vendor = "TOOLONGVENDOR";
	ck_assert_int_eq(sim_target_add_lu(t, 0, &cfg), OSTOR_ERROR_INVALID_PARAM);
	cfg.vendor = "BAD\x01";
	ck_assert_int_eq(sim_target_add_lu(t, 0, &cfg), OSTOR_ERROR_INVALID_PARAM);
	cfg.vendor = NULL;
	cfg.serial = "0123456789012345678901234567890123";
	ck_assert_int_eq(sim_target_add_lu(t, 0, &cfg), OSTOR_ERROR_INVALID_PARAM);
	cfg.serial = NULL;
	cfg.fd_offset = 4096;
	ck_assert_int_eq(sim_target_add_lu(t, 0, &cfg), OSTOR_ERROR_INVALID_PARAM);
	cfg.fd_offset = 0;
	cfg.blocks = UINT64_MAX / 256;
	ck_assert_int_eq(sim_target_add_lu(t, 0, &cfg), OSTOR_ERROR_INVALID_PARAM);
	cfg.blocks = 10;
	ck_assert_int_eq(sim_target_add_lu(NULL, 0, &cfg), OSTOR_ERROR_INVALID_PARAM);
	ck_assert_int_eq(sim_target_add_lu(t, 0, NULL), OSTOR_ERROR_INVALID_PARAM);
	ck_assert_uint_eq(sim_target_lu_count(t), 0);
	ck_assert_int_eq(sim_target_add_lu(t, 0, &cfg), 0);
	ck_assert_uint_eq(sim_target_lu_count(t), 1);
	sim_target_free(t);
}
END_TEST

/* ---- fault injection ---------------------------------------------------- */

START_TEST(test_inject)
{
	struct sim_target *t = new_target();
	uint8_t buf[512];
	struct sim_cmd c;
	struct sim_stats st;

	add_lu(t, 0, OSTOR_TYPE_DISK, 512, 100, false, false);
	add_lu(t, 1, OSTOR_TYPE_DISK, 512, 100, false, false);
	ck_assert_int_eq(sim_target_inject_check(t, 0, 0x28, 2, 0x3, 0x11, 0x05), 0);
	c = rd10(t, 0, 1, buf, 512);
	ck_sense(c, MEDIUM, 0x11, 0x05);
	ck_assert_uint_eq(c.transferred, 0);
	c = wr10(t, 0, 1, buf, 512);        /* other opcode */
	ck_good(c);
	c = rw(t, 1, 0x28, 0, 1, IN, buf, 512);  /* other LUN */
	ck_good(c);
	/* the injected sense is held for REQUEST SENSE */
	c = rd10(t, 0, 1, buf, 512);
	ck_sense(c, MEDIUM, 0x11, 0x05);
	c = req_sense(t, 0, buf, false);
	ck_good(c);
	ck_assert_uint_eq(buf[12], 0x11);
	ck_assert_uint_eq(buf[13], 0x05);
	c = rd10(t, 0, 1, buf, 512);         /* both used up */
	ck_good(c);

	/* bare statuses, any opcode; rules queue in order */
	ck_assert_int_eq(sim_target_inject_status(t, 1, -1, 1, OSTOR_SCSI_STATUS_BUSY), 0);
	ck_assert_int_eq(sim_target_inject_status(t, 1, -1, 1, OSTOR_SCSI_STATUS_TASK_SET_FULL), 0);
	ck_assert_int_eq(sim_target_inject_status(t, 1, 0x00, 1,
						  OSTOR_SCSI_STATUS_RESERVATION_CONFLICT), 0);
	c = run(t, 1, CDB(0x12, 0, 0, 0, 36, 0), IN, buf, 36);
	ck_assert_uint_eq(c.status, OSTOR_SCSI_STATUS_BUSY);
	ck_assert_uint_eq(c.sense_len, 0);
	ck_assert_uint_eq(c.transferred, 0);
	ck_assert_uint_eq(c.residual, 36);
	c = tur(t, 1);
	ck_assert_uint_eq(c.status, OSTOR_SCSI_STATUS_TASK_SET_FULL);
	c = tur(t, 1);
	ck_assert_uint_eq(c.status, OSTOR_SCSI_STATUS_RESERVATION_CONFLICT);
	c = tur(t, 1);
	ck_good(c);

	/* forever, until cleared; also on a LUN that does not exist */
	ck_assert_int_eq(sim_target_inject_check(t, 0, -1, SIM_FAULT_FOREVER, 0x4, 0x44, 0), 0);
	ck_assert_int_eq(sim_target_inject_status(t, 9, -1, 1, OSTOR_SCSI_STATUS_BUSY), 0);
	for (int i = 0; i < 5; i++) {
		c = tur(t, 0);
		ck_sense(c, 0x4, 0x44, 0);
	}
	c = tur(t, 9);
	ck_assert_uint_eq(c.status, OSTOR_SCSI_STATUS_BUSY);
	c = tur(t, 9);
	ck_sense(c, ILLEGAL, 0x25, 0);
	sim_target_clear_faults(t);
	c = tur(t, 0);
	ck_good(c);

	/* bad rules */
	ck_assert_int_eq(sim_target_inject_check(t, 0, 0x28, 0, 3, 0x11, 0), OSTOR_ERROR_INVALID_PARAM);
	ck_assert_int_eq(sim_target_inject_check(t, 0, 256, 1, 3, 0x11, 0), OSTOR_ERROR_INVALID_PARAM);
	ck_assert_int_eq(sim_target_inject_check(t, 0, -2, 1, 3, 0x11, 0), OSTOR_ERROR_INVALID_PARAM);
	ck_assert_int_eq(sim_target_inject_check(t, 0, 0x28, 1, 0x10, 0x11, 0), OSTOR_ERROR_INVALID_PARAM);
	ck_assert_int_eq(sim_target_inject_check(t, SIM_MAX_LUNS, 0x28, 1, 3, 0x11, 0), OSTOR_ERROR_INVALID_PARAM);
	ck_assert_int_eq(sim_target_inject_status(t, 0, 0x28, 1, OSTOR_SCSI_STATUS_GOOD), OSTOR_ERROR_INVALID_PARAM);
	ck_assert_int_eq(sim_target_inject_status(t, 0, 0x28, 1, OSTOR_SCSI_STATUS_CHECK_CONDITION), OSTOR_ERROR_INVALID_PARAM);

	sim_target_get_stats(t, &st);
	ck_assert_uint_eq(st.injected, 2 + 3 + 5 + 1);
	ck_assert_uint_eq(st.other_status, 4);
	sim_target_free(t);
}
END_TEST

struct hook_state {
	struct sim_target *t;
	unsigned int calls;
	bool reset_on_next;
};

static bool hook_fn(void *ud, struct sim_cmd *cmd)
{
	struct hook_state *h = ud;

	h->calls++;
	if (h->reset_on_next) {
		/* the hook runs unlocked: it may drive the target */
		h->reset_on_next = false;
		sim_target_reset(h->t);
		return false;
	}
	if (cmd->cdb_len && cmd->cdb[0] == 0x28 && h->calls % 2 == 0) {
		cmd->status = OSTOR_SCSI_STATUS_CHECK_CONDITION;
		memset(cmd->sense, 0, 18);
		cmd->sense[0] = 0x70;
		cmd->sense[2] = 0x0b;            /* ABORTED COMMAND */
		cmd->sense[7] = 10;
		cmd->sense[12] = 0x47;
		cmd->sense_len = 18;
		cmd->transferred = 99999;        /* clamped by the target */
		return true;
	}
	return false;
}

START_TEST(test_fault_hook)
{
	struct sim_target *t = disk_target(100);
	struct hook_state h = { .t = t };
	uint8_t buf[512];
	struct sim_cmd c;
	struct sim_stats st;

	sim_target_set_fault_hook(t, hook_fn, &h);
	c = rd10(t, 0, 1, buf, 512);         /* call 1: runs */
	ck_good(c);
	c = rd10(t, 0, 1, buf, 512);         /* call 2: hook fails it */
	ck_sense(c, 0x0b, 0x47, 0);
	ck_assert_uint_eq(c.transferred, 512);
	h.reset_on_next = true;
	c = tur(t, 0);                       /* the reset lands before it runs */
	ck_sense(c, UNIT_ATT, 0x29, 0);
	sim_target_set_fault_hook(t, NULL, NULL);
	c = rd10(t, 0, 1, buf, 512);
	ck_good(c);
	c = rd10(t, 0, 1, buf, 512);
	ck_good(c);
	ck_assert_uint_eq(h.calls, 3);
	sim_target_get_stats(t, &st);
	ck_assert_uint_eq(st.commands, 5);
	ck_assert_uint_eq(st.injected, 1);
	ck_assert_uint_eq(st.per_opcode[0x28], 4);
	sim_target_free(t);
}
END_TEST

/* ---- threads ------------------------------------------------------------ */

#define THREAD_ITERS 3000

struct worker {
	struct sim_target *t;
	uint32_t base;
	unsigned int seed;
	int errors;
};

static void *worker_fn(void *arg)
{
	struct worker *wk = arg;
	uint8_t w[4 * 512], r[4 * 512], cdb[10];

	for (int i = 0; i < THREAD_ITERS; i++) {
		uint32_t lba = wk->base + (uint32_t)(rand_r(&wk->seed) % 60);
		struct sim_cmd c;
		struct iovec iov = { w, sizeof(w) };

		for (size_t j = 0; j < sizeof(w); j++)
			w[j] = (uint8_t)(wk->seed + j + (size_t)i);
		memset(cdb, 0, sizeof(cdb));
		cdb[0] = 0x2a;
		cdb[5] = (uint8_t)lba;
		cdb[4] = (uint8_t)(lba >> 8);
		cdb[8] = 4;
		memset(&c, 0, sizeof(c));
		c.cdb = cdb;
		c.cdb_len = 10;
		c.dir = OSTOR_DIR_TO_DEVICE;
		c.iov = &iov;
		c.iovcnt = 1;
		sim_target_execute(wk->t, &c);
		if (c.status != GOOD)
			wk->errors++;
		cdb[0] = 0x28;
		iov.iov_base = r;
		c.dir = OSTOR_DIR_FROM_DEVICE;
		sim_target_execute(wk->t, &c);
		if (c.status != GOOD || c.transferred != sizeof(r) || memcmp(w, r, sizeof(r)))
			wk->errors++;
	}
	return NULL;
}

START_TEST(test_threads)
{
	struct sim_target *t = disk_target(1000);
	struct worker wk[2] = {
		{ .t = t, .base = 0, .seed = 1 },
		{ .t = t, .base = 500, .seed = 2 },
	};
	pthread_t th[2];
	struct sim_stats st;

	for (int i = 0; i < 2; i++)
		ck_assert_int_eq(pthread_create(&th[i], NULL, worker_fn, &wk[i]), 0);
	/* meanwhile: stats and fault rules for another LUN from here */
	for (int i = 0; i < 200; i++) {
		sim_target_get_stats(t, &st);
		ck_assert_int_eq(sim_target_inject_status(t, 7, -1, 1, OSTOR_SCSI_STATUS_BUSY), 0);
	}
	for (int i = 0; i < 2; i++)
		ck_assert_int_eq(pthread_join(th[i], NULL), 0);
	ck_assert_int_eq(wk[0].errors, 0);
	ck_assert_int_eq(wk[1].errors, 0);
	sim_target_get_stats(t, &st);
	ck_assert_uint_eq(st.commands, 2 * 2 * THREAD_ITERS);
	ck_assert_uint_eq(st.good, 2 * 2 * THREAD_ITERS);
	ck_assert_uint_eq(st.bytes_in, 2ull * THREAD_ITERS * 2048);
	ck_assert_uint_eq(st.bytes_out, 2ull * THREAD_ITERS * 2048);
	sim_target_free(t);
}
END_TEST

/* ---- GET LBA STATUS ----------------------------------------------------- */

static struct sim_cmd gls(struct sim_target *t, uint32_t lun, uint64_t lba, uint32_t alloc,
			  uint8_t *buf, size_t len)
{
	uint8_t cdb[16] = { 0x9e, 0x12 };

	wbe64(cdb + 2, lba);
	wbe32(cdb + 10, alloc);
	memset(buf, 0xaa, len);
	return run(t, lun, cdb, 16, IN, buf, len);
}

struct run_want {
	uint64_t lba;
	uint32_t n;
	uint8_t status;
};

/* The answer holds exactly these descriptors. */
static void ck_runs_(const struct sim_cmd *c, const uint8_t *buf, const struct run_want *w,
		     size_t n, int line)
{
	ck_good_(c, line);
	ck_assert_msg(c->transferred == 8 + 16 * n, "line %d: transferred %zu, want %zu", line,
		      c->transferred, 8 + 16 * n);
	ck_assert_uint_eq(be32(buf), 4 + 16 * n);
	ck_assert_uint_eq(be32(buf + 4), 0);
	for (size_t i = 0; i < n; i++) {
		const uint8_t *d = buf + 8 + 16 * i;

		ck_assert_msg(be64(d) == w[i].lba && be32(d + 8) == w[i].n && d[12] == w[i].status,
			      "line %d: descriptor %zu is %llu+%u status %u, want %llu+%u status %u",
			      line, i, (unsigned long long)be64(d), be32(d + 8), d[12],
			      (unsigned long long)w[i].lba, w[i].n, w[i].status);
		ck_assert_uint_eq(d[13] | d[14] | d[15], 0);
	}
}
#define ck_runs(c, buf, ...) do { \
	const struct run_want w_[] = { __VA_ARGS__ }; \
	ck_runs_(&(c), buf, w_, sizeof(w_) / sizeof(w_[0]), __LINE__); \
} while (0)

/* Written, deallocated and never written blocks of a RAM disk. */
START_TEST(test_get_lba_status)
{
	struct sim_target *t = disk_target(1000);
	uint8_t buf[8 + 16 * 16], w[16 * 512], z[512], p[8 + 16];
	struct sim_cmd c;

	/* A new thin LU: all deallocated, and READ CAPACITY(16) says LBPME. */
	c = gls(t, 0, 0, sizeof(buf), buf, sizeof(buf));
	ck_runs(c, buf, { 0, 1000, 1 });
	c = run(t, 0, CDB(0x9e, 0x10, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 32, 0, 0), IN, buf, 32);
	ck_good(c);
	ck_assert_uint_eq(buf[14] & 0x80, 0x80);

	fill(w, sizeof(w), 7);
	c = wr10(t, 10, 10, w, 10 * 512);                  /* 10..19 written */
	ck_good(c);
	memset(z, 0, sizeof(z));
	c = run(t, 0, CDB(0x41, 0, 0, 0, 0, 100, 0, 0, 10, 0), OUT, z, 512);
	ck_good(c);                                            /* zeros without UNMAP: mapped */
	memset(p, 0, sizeof(p));
	wbe16(p, 6 + 16);
	wbe16(p + 2, 16);
	unmap_desc(p, 0, 15, 2);
	c = unmap(t, p, sizeof(p), sizeof(p));            /* 15..16 deallocated */
	ck_good(c);
	c = wr10(t, 200, 10, w, 10 * 512);
	ck_good(c);
	c = run(t, 0, CDB(0x41, 0x08, 0, 0, 0, 200, 0, 0, 5, 0), OUT, z, 512);
	ck_good(c);                                            /* 200..204 WRITE SAME with UNMAP */
	c = rw(t, 0, 0x8a, 998, 2, OUT, w, 2 * 512);          /* the last two, WRITE(16) */
	ck_good(c);

	c = gls(t, 0, 0, sizeof(buf), buf, sizeof(buf));
	ck_runs(c, buf, { 0, 10, 1 }, { 10, 5, 0 }, { 15, 2, 1 }, { 17, 3, 0 }, { 20, 80, 1 },
		{ 100, 10, 0 }, { 110, 95, 1 }, { 205, 5, 0 }, { 210, 788, 1 }, { 998, 2, 0 });
	/* Deallocated blocks read as zeros (LBPRZ). */
	c = rd10(t, 15, 2, w, 2 * 512);
	ck_good(c);
	ck_assert(is_zero(w, 2 * 512));

	/* From the middle of a run; from the last block. */
	c = gls(t, 0, 12, sizeof(buf), buf, sizeof(buf));
	ck_runs(c, buf, { 12, 3, 0 }, { 15, 2, 1 }, { 17, 3, 0 }, { 20, 80, 1 }, { 100, 10, 0 },
		{ 110, 95, 1 }, { 205, 5, 0 }, { 210, 788, 1 }, { 998, 2, 0 });
	c = gls(t, 0, 999, sizeof(buf), buf, sizeof(buf));
	ck_runs(c, buf, { 999, 1, 0 });

	/* The allocation length: whole descriptors only, the header says how
	 * many were built. */
	c = gls(t, 0, 0, 8 + 16 * 3, buf, sizeof(buf));
	ck_good(c);
	ck_assert_uint_eq(c.transferred, 8 + 16 * 3);
	ck_assert_uint_eq(be32(buf), 4 + 16 * 3);
	ck_assert_uint_eq(be64(buf + 8 + 32), 15);
	c = gls(t, 0, 0, 8 + 16 * 3 + 15, buf, sizeof(buf));
	ck_good(c);
	ck_assert_uint_eq(c.transferred, 8 + 16 * 3);
	ck_assert_uint_eq(be32(buf), 4 + 16 * 3);
	c = gls(t, 0, 0, 23, buf, sizeof(buf));                /* header only */
	ck_good(c);
	ck_assert_uint_eq(c.transferred, 8);
	ck_assert_uint_eq(be32(buf), 20);
	c = gls(t, 0, 0, 4, buf, sizeof(buf));
	ck_good(c);
	ck_assert_uint_eq(c.transferred, 4);
	ck_assert_uint_eq(be32(buf), 20);
	c = gls(t, 0, 0, 0, buf, sizeof(buf));
	ck_good(c);
	ck_assert_uint_eq(c.transferred, 0);
	/* A buffer shorter than the allocation length: overrun. */
	c = gls(t, 0, 0, sizeof(buf), buf, 24);
	ck_good(c);
	ck_assert(c.overrun);
	ck_assert_uint_eq(be64(buf + 8), 0);
	ck_assert_uint_eq(be32(buf + 16), 10);

	/* Past the end. */
	c = gls(t, 0, 1000, sizeof(buf), buf, sizeof(buf));
	ck_sense(c, ILLEGAL, 0x21, 0);
	c = gls(t, 0, UINT64_MAX, sizeof(buf), buf, sizeof(buf));
	ck_sense(c, ILLEGAL, 0x21, 0);
	/* A CDB too short for the opcode. */
	c = run(t, 0, CDB(0x9e, 0x12, 0, 0, 0, 0, 0, 0, 0, 0), IN, buf, sizeof(buf));
	ck_cdb_field(c, 0, -1);

	/* Shrinking deallocates what is cut off: regrown blocks read as
	 * zeros and are reported deallocated. */
	ck_assert_int_eq(sim_target_set_capacity(t, 0, 105), 0);
	c = tur(t, 0);
	ck_sense(c, 0x6, 0x2a, 0x09);
	c = gls(t, 0, 90, sizeof(buf), buf, sizeof(buf));
	ck_runs(c, buf, { 90, 10, 1 }, { 100, 5, 0 });
	ck_assert_int_eq(sim_target_set_capacity(t, 0, 100000), 0);
	c = tur(t, 0);
	ck_sense(c, 0x6, 0x2a, 0x09);
	c = gls(t, 0, 90, sizeof(buf), buf, sizeof(buf));
	ck_runs(c, buf, { 90, 10, 1 }, { 100, 5, 0 }, { 105, 100000 - 105, 1 });
	sim_target_free(t);
}
END_TEST

/* Many short runs: as many descriptors as fit, over word boundaries of
 * the bitmap; a big LU stays cheap. */
START_TEST(test_get_lba_status_many)
{
	struct sim_target *t = new_target();
	static uint8_t buf[8 + 16 * 300];
	struct sim_lu_config cfg;
	uint8_t w[512];
	struct sim_cmd c;
	int r;

	sim_lu_config_init(&cfg);
	cfg.blocks = (uint64_t)1 << 32;                        /* 2 TiB, sparse */
	r = sim_target_add_lu(t, 0, &cfg);
	if (r == OSTOR_ERROR_NO_MEM && under_valgrind()) {
		sim_target_free(t);
		return;
	}
	ck_assert_int_eq(r, 0);
	fill(w, sizeof(w), 3);
	for (uint64_t lba = 61; lba < 61 + 2 * 200; lba += 2) {
		c = rw(t, 0, 0x8a, lba, 1, OUT, w, 512);
		ck_good(c);
	}
	c = rw(t, 0, 0x8a, ((uint64_t)1 << 32) - 1, 1, OUT, w, 512);
	ck_good(c);
	c = gls(t, 0, 0, sizeof(buf), buf, sizeof(buf));
	ck_good(c);
	ck_assert_uint_eq(c.transferred, sizeof(buf));
	ck_assert_uint_eq(be32(buf), 4 + 16 * 300);
	ck_assert_uint_eq(be64(buf + 8), 0);
	ck_assert_uint_eq(be32(buf + 16), 61);
	ck_assert_uint_eq(buf[20], 1);
	for (size_t i = 1; i < 300; i++) {
		const uint8_t *d = buf + 8 + 16 * i;

		ck_assert_uint_eq(be64(d), 60 + i);
		ck_assert_uint_eq(be32(d + 8), 1);
		ck_assert_uint_eq(d[12], (i & 1) ? 0 : 1);
	}
	/* The tail: one descriptor holds at most 2^32-1 blocks. */
	c = gls(t, 0, 61 + 400, 8 + 16 * 4, buf, sizeof(buf));
	ck_runs(c, buf, { 461, (uint32_t)(((uint64_t)1 << 32) - 1 - 461), 1 },
		{ ((uint64_t)1 << 32) - 1, 1, 0 });
	c = gls(t, 0, 1, 8 + 16 * 4, buf, sizeof(buf));
	ck_runs(c, buf, { 1, 60, 1 }, { 61, 1, 0 }, { 62, 1, 1 }, { 63, 1, 0 });
	sim_target_free(t);
}
END_TEST

/* Null LUs track nothing: all mapped (true to their data); CD-ROMs do not
 * know the command; file LUs report the file's holes. */
START_TEST(test_get_lba_status_other_lus)
{
	struct sim_target *t = new_target();
	uint8_t buf[8 + 16 * 8], w[8 * 512];
	char path[64];
	int fd = tmpfile_fd(path);
	struct sim_cmd c;

	add_null_lu(t, 0, false);
	add_lu(t, 1, OSTOR_TYPE_CDROM, 2048, 100, true, true);
	add_file_lu(t, 2, fd, 0, 512, 1000);
	c = gls(t, 0, 0, sizeof(buf), buf, sizeof(buf));
	ck_runs(c, buf, { 0, 1000, 0 });
	c = rw(t, 0, 0x2a, 5, 1, OUT, w, 512);
	ck_good(c);
	c = gls(t, 0, 3, sizeof(buf), buf, sizeof(buf));
	ck_runs(c, buf, { 3, 997, 0 });
	c = gls(t, 0, 1000, sizeof(buf), buf, sizeof(buf));
	ck_sense(c, ILLEGAL, 0x21, 0);

	c = gls(t, 1, 0, sizeof(buf), buf, sizeof(buf));
	ck_cdb_field(c, 1, 4);

	/* An empty file: all past its end, deallocated. */
	c = gls(t, 2, 0, sizeof(buf), buf, sizeof(buf));
	ck_runs(c, buf, { 0, 1000, 1 });
	fill(w, sizeof(w), 9);
	c = rw(t, 2, 0x2a, 64, 8, OUT, w, sizeof(w));          /* bytes 32 KiB..36 KiB */
	ck_good(c);
	c = gls(t, 2, 0, sizeof(buf), buf, sizeof(buf));
	ck_good(c);
	/* Without SEEK_HOLE support the file system calls all of the file
	 * data: the blocks before the write are then mapped. */
	if (buf[8 + 12] == 1)
		ck_runs(c, buf, { 0, 64, 1 }, { 64, 8, 0 }, { 72, 928, 1 });
	else
		ck_runs(c, buf, { 0, 72, 0 }, { 72, 928, 1 });
	sim_target_free(t);
	close(fd);
	unlink(path);
}
END_TEST

/* A fully provisioned disk (config.thick): no LBPME, no UNMAP, WRITE
 * SAME's UNMAP bit ignored; GET LBA STATUS is still valid and reports
 * every block mapped (a fully provisioned LU maps every block). */
START_TEST(test_get_lba_status_thick)
{
	struct sim_target *t = new_target();
	uint8_t buf[64], w[512], p[8 + 16];
	struct sim_lu_config cfg;
	struct sim_cmd c;

	sim_lu_config_init(&cfg);
	cfg.blocks = 1000;
	cfg.thick = true;
	ck_assert_int_eq(sim_target_add_lu(t, 0, &cfg), 0);
	c = run(t, 0, CDB(0x9e, 0x10, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 32, 0, 0), IN, buf, 32);
	ck_good(c);
	ck_assert_uint_eq(buf[14] & 0xc0, 0);                    /* LBPME, LBPRZ 0 */
	c = run(t, 0, CDB(0x12, 1, 0xb2, 0, 64, 0), IN, buf, 64);
	ck_good(c);
	ck_assert_uint_eq(buf[5], 0);                            /* no LBPU, LBPWS, LBPRZ */
	ck_assert_uint_eq(buf[6] & 0x07, 0);                     /* fully provisioned */
	c = run(t, 0, CDB(0x12, 1, 0xb0, 0, 64, 0), IN, buf, 64);
	ck_good(c);
	ck_assert_uint_eq(be32(buf + 20), 0);                    /* MAXIMUM UNMAP LBA COUNT */
	ck_assert_uint_eq(be32(buf + 24), 0);

	c = gls(t, 0, 0, sizeof(buf), buf, sizeof(buf));
	ck_runs(c, buf, { 0, 1000, 0 });
	fill(w, sizeof(w), 4);
	c = wr10(t, 10, 1, w, 512);
	ck_good(c);
	memset(p, 0, sizeof(p));
	wbe16(p, 6 + 16);
	wbe16(p + 2, 16);
	unmap_desc(p, 0, 10, 1);
	c = unmap(t, p, sizeof(p), sizeof(p));
	ck_sense(c, ILLEGAL, 0x20, 0);
	memset(w, 0, sizeof(w));
	c = run(t, 0, CDB(0x41, 0x08, 0, 0, 0, 20, 0, 0, 5, 0), OUT, w, 512);
	ck_good(c);                                              /* written, not deallocated */
	c = gls(t, 0, 5, sizeof(buf), buf, sizeof(buf));
	ck_runs(c, buf, { 5, 995, 0 });
	c = gls(t, 0, 1000, sizeof(buf), buf, sizeof(buf));
	ck_sense(c, ILLEGAL, 0x21, 0);
	sim_target_free(t);
}
END_TEST

static Suite *sim_target_suite(void)
{
	Suite *s = suite_create("sim_target");
	TCase *tc = tcase_create("conformance");

	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, test_inquiry_standard);
	tcase_add_test(tc, test_inquiry_custom_strings);
	tcase_add_test(tc, test_inquiry_vpd);
	tcase_add_test(tc, test_report_luns);
	tcase_add_test(tc, test_multi_lun_sparse);
	tcase_add_test(tc, test_ua_lifecycle);
	tcase_add_test(tc, test_request_sense);
	tcase_add_test(tc, test_read_capacity);
	tcase_add_test(tc, test_large_sparse_ram);
	tcase_add_test(tc, test_large_sparse_file);
	tcase_add_test(tc, test_set_capacity);
	tcase_add_test(tc, test_read_write_variants);
	tcase_add_test(tc, test_lba_range);
	tcase_add_test(tc, test_max_transfer);
	tcase_add_test(tc, test_buffer_semantics);
	tcase_add_test(tc, test_verify);
	tcase_add_test(tc, test_compare_and_write);
	tcase_add_test(tc, test_sync_cache);
	tcase_add_test(tc, test_file_backing);
	tcase_add_test(tc, test_file_io_errors);
	tcase_add_test(tc, test_mode_sense);
	tcase_add_test(tc, test_mode_select);
	tcase_add_test(tc, test_start_stop);
	tcase_add_test(tc, test_medium_not_present);
	tcase_add_test(tc, test_readonly);
	tcase_add_test(tc, test_cdrom);
	tcase_add_test(tc, test_4096_blocks);
	tcase_add_test(tc, test_write_same);
	tcase_add_test(tc, test_unmap);
	tcase_add_test(tc, test_get_lba_status);
	tcase_add_test(tc, test_get_lba_status_many);
	tcase_add_test(tc, test_get_lba_status_other_lus);
	tcase_add_test(tc, test_get_lba_status_thick);
	tcase_add_test(tc, test_misc_commands);
	tcase_add_test(tc, test_hostile_cdbs);
	tcase_add_test(tc, test_null_target);
	tcase_add_test(tc, test_null_fast_way);
	tcase_add_test(tc, test_add_lu_validation);
	tcase_add_test(tc, test_inject);
	tcase_add_test(tc, test_fault_hook);
	tcase_add_test(tc, test_threads);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(sim_target_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
