/*
 * lib/sim/target_priv.h - what the parts of the simulated SCSI target
 * share: the target, LU and command structures, the sense helpers every
 * command fails with, and the entry points of target.c (the command's
 * data buffer), spc.c and sbc.c (the commands) and store.c (the medium).
 * Only lib/sim includes it.
 */
#ifndef OSTOR_SIM_TARGET_PRIV_H
#define OSTOR_SIM_TARGET_PRIV_H

#include "core/internal.h"
#include "sim/target.h"
#include "util/byteorder.h"

#include <pthread.h>
#include <stdatomic.h>
#include <string.h>

/* Bounce buffer size: holds any 16-bit parameter list and is a multiple
 * of every block size. */
#define SCRATCH_SIZE 65536u

/* Pending unit attentions, reported in this order. */
#define UA_RESET 0x1u     /* 29h/00h POWER ON, RESET, OR BUS DEVICE RESET */
#define UA_MEDIUM 0x2u    /* 28h/00h NOT READY TO READY CHANGE, MEDIUM MAY HAVE CHANGED */
#define UA_CAPACITY 0x4u  /* 2Ah/09h CAPACITY DATA HAS CHANGED */

/* Additional sense codes used here. */
#define ASC_NOT_READY 0x04
#define ASC_WRITE_ERROR 0x0c
#define ASC_UNRECOVERED_READ 0x11
#define ASC_PARAM_LIST_LENGTH 0x1a
#define ASC_MISCOMPARE 0x1d
#define ASC_INVALID_OPCODE 0x20
#define ASC_LBA_OUT_OF_RANGE 0x21
#define ASC_INVALID_FIELD_CDB 0x24
#define ASC_LUN_NOT_SUPPORTED 0x25
#define ASC_INVALID_FIELD_PARAM 0x26
#define ASC_WRITE_PROTECTED 0x27
#define ASC_MEDIUM_CHANGED 0x28
#define ASC_RESET 0x29
#define ASC_PARAMS_CHANGED 0x2a
#define ASC_SAVING_NOT_SUPPORTED 0x39
#define ASC_MEDIUM_NOT_PRESENT 0x3a
#define ASC_REMOVAL_PREVENTED 0x53
#define ASC_FAILURE_PREDICTION 0x5d
#define ASC_LOW_POWER 0x5e
#define ASC_INTERNAL_TARGET_FAILURE 0x44

/* The ATA registers a SAT bridge returns (28-bit: every command the
 * model knows uses them). */
struct sim_ata_regs {
	uint8_t error, count, lba_low, lba_mid, lba_high, device, status;
};

struct sim_sense {
	uint8_t key, asc, ascq;
	bool info_valid;
	uint64_t info;
	bool sksv;
	uint8_t sks[3];
	/* ATA PASS-THROUGH status return: descriptor 09h, or the SAT
	 * fixed-format layout (registers in INFORMATION/COMMAND-SPECIFIC). */
	bool ata;
	struct sim_ata_regs regs;
};

/* Power conditions (SPC-4 5.12, SBC-3 4.20), deepest last. */
enum sim_power {
	SIM_POWER_ACTIVE,
	SIM_POWER_IDLE_A,
	SIM_POWER_IDLE_B,
	SIM_POWER_IDLE_C,
	SIM_POWER_STANDBY_Y,
	SIM_POWER_STANDBY_Z,
};

/* Mode page 1Ah Power Condition: the fields that can change. */
struct sim_power_page {
	uint8_t b2;                 /* PM_BG_PRECEDENCE (7:6), STANDBY_Y (0) */
	uint8_t b3;                 /* IDLE_C, IDLE_B, IDLE_A, STANDBY_Z (3:0) */
	uint32_t timer[5];          /* idle_a, standby_z, idle_b, idle_c, standby_y (100 ms) */
};

/* One self-test result (log page 10h or the SMART self-test log). */
struct sim_self_test {
	uint8_t code;               /* SCSI: self-test code; ATA: the subcommand */
	uint8_t result;             /* SCSI result / ATA status (bits 7:4 of the byte) */
	uint16_t hours;             /* power-on hours when it ran */
};

#define SIM_SCSI_TESTS 20           /* log page 10h parameters */
#define SIM_ATA_TESTS 21            /* SMART self-test log descriptors */

struct sim_lu {
	uint32_t lun;
	int type;
	uint32_t block_size;
	uint64_t blocks;
	uint32_t max_transfer;
	bool readonly, removable;
	int fd;
	uint64_t fd_offset;
	bool null;                  /* no backing: data is neither stored nor read */
	bool thick;                 /* fully provisioned disk (no LBPME, no UNMAP) */
	uint8_t *ram;               /* RAM backing (fd < 0, !null) */
	size_t ram_len;             /* mapping length, page-rounded */
	/* RAM disks: the allocation bitmap behind GET LBA STATUS, one bit
	 * per block, set = mapped (written), clear = deallocated (never
	 * written, UNMAP, WRITE SAME with UNMAP).  Sparse like the RAM. */
	uint64_t *map;
	size_t map_len;             /* mapping length, page-rounded */
	char vendor[9], product[17], revision[5], serial[33];
	uint64_t naa;
	/* state */
	bool present;               /* a medium is in the device */
	bool loaded;                /* ...and not ejected by START STOP UNIT */
	bool started;
	bool prevent;
	bool wce;
	unsigned int ua;            /* UA_* bits */
	bool held;                  /* sense of the last CHECK CONDITION */
	struct sim_sense held_sense;
	bool wce_saved;             /* caching page, saved value */
	/* health (ata.c, logpages.c) */
	int ata;                    /* SIM_ATA_* */
	unsigned int ata_faults;
	bool ie_failing;
	uint8_t temperature;
	uint64_t born_ms;           /* power-on hours count from here */
	bool smart_enabled;
	uint8_t ata_test_status;    /* SMART READ DATA byte 363 */
	struct sim_self_test ata_tests[SIM_ATA_TESTS];
	uint8_t ata_test_index;     /* newest descriptor 1..21, 0: none */
	struct sim_ata_regs ata_last; /* JMicron: registers of the last command */
	struct sim_self_test scsi_tests[SIM_SCSI_TESTS]; /* newest first */
	/* power (power.c) */
	bool power_page;            /* mode page 1Ah exists */
	enum sim_power power;
	bool power_by_timer;        /* the condition was entered by a timer */
	bool timers_held;           /* a START STOP UNIT power condition took over */
	uint64_t active_ms;         /* when the LU last was active (timers) */
	struct sim_power_page pcp, pcp_saved;
};

struct sim_fault {
	uint32_t lun;
	int opcode;
	unsigned int count;
	bool check;
	uint8_t status, key, asc, ascq;
};

/* Reads and writes of null LUs skip the lock (sim:null measures the
 * library, not the model).  What they need, readable without the lock;
 * blocks 0 sends commands the locked way.  Written under the lock: set
 * after a locked command leaves the LU with nothing pending (no unit
 * attention, no held sense, no fault rule), cleared by whatever could
 * change that.  A command past the check when it is cleared counts as
 * issued before the change, as on a real device. */
#define SIM_FAST_LUNS 64
#define SIM_FAST_OPS 4              /* READ(10), WRITE(10), READ(16), WRITE(16) */

struct sim_fast_lu {
	_Atomic uint64_t blocks;
	_Atomic uint32_t block_size;
	_Atomic uint32_t max_transfer;
	_Atomic bool writable;
};

struct sim_target {
	pthread_mutex_t lock;
	struct sim_fast_lu fast[SIM_FAST_LUNS];
	/* Statistics of the commands that took the fast way. */
	_Atomic uint64_t fast_ops[SIM_FAST_OPS];
	_Atomic uint64_t fast_bytes_in, fast_bytes_out;
	struct sim_lu **lus;        /* sorted by lun: REPORT LUNS order */
	size_t nlus, lus_cap;
	struct sim_fault *faults;
	size_t nfaults, faults_cap;
	sim_fault_fn hook;
	void *hook_ud;
	bool has_hook;              /* atomic: look under the lock only when set */
	struct sim_stats stats;
	uint16_t usb_vid, usb_pid;  /* sim_target_set_usb_ids() */
	uint8_t *scratch;           /* SCRATCH_SIZE, used under the lock */
	uint8_t *zeros;             /* SCRATCH_SIZE of zeros, never written */
	unsigned int id;
};

/* One command being executed. */
struct exec {
	struct sim_target *t;
	struct sim_lu *lu;          /* NULL: the LUN is not configured */
	struct sim_cmd *cmd;
	const uint8_t *cdb;
	uint8_t op;
	uint8_t len_byte;           /* CDB offset of the transfer/allocation length */
	size_t total;               /* bytes in the data buffer */
	uint8_t status;
	struct sim_sense sense;
};

static inline uint32_t sat32(uint64_t v)
{
	return v > 0xffffffffu ? 0xffffffffu : (uint32_t)v;
}

static inline bool fits_size(uint64_t v)
{
	return v == (uint64_t)(size_t)v;
}

/* MAXIMUM COMPARE AND WRITE LENGTH (VPD B0h byte 5): SBC-3 wants it no
 * larger than the MAXIMUM TRANSFER LENGTH. */
static inline uint32_t caw_limit(const struct sim_lu *lu)
{
	return OSTOR_MIN(SIM_MAX_COMPARE_WRITE_LEN, lu->max_transfer);
}

/* ---- failing a command ------------------------------------------------- */

static inline void fail(struct exec *x, uint8_t key, uint8_t asc, uint8_t ascq)
{
	x->status = OSTOR_SCSI_STATUS_CHECK_CONDITION;
	memset(&x->sense, 0, sizeof(x->sense));
	x->sense.key = key;
	x->sense.asc = asc;
	x->sense.ascq = ascq;
}

static inline void fail_info(struct exec *x, uint8_t key, uint8_t asc, uint8_t ascq,
				     uint64_t info)
{
	fail(x, key, asc, ascq);
	x->sense.info_valid = true;
	x->sense.info = info;
}

/* INVALID FIELD IN CDB / PARAMETER LIST with the sense-key specific field
 * pointer (SKSV, C/D, BPV + bit pointer, byte). */
static inline void fail_field(struct exec *x, bool in_cdb, unsigned int byte, int bit)
{
	fail(x, OSTOR_SCSI_SENSE_ILLEGAL_REQUEST,
	     in_cdb ? ASC_INVALID_FIELD_CDB : ASC_INVALID_FIELD_PARAM, 0);
	x->sense.sksv = true;
	x->sense.sks[0] = (uint8_t)(0x80 | (in_cdb ? 0x40 : 0) |
				    (bit >= 0 ? 0x08 | (bit & 7) : 0));
	ostori_put_be16(&x->sense.sks[1], (uint16_t)byte);
}

static inline void bad_cdb(struct exec *x, unsigned int byte, int bit)
{
	fail_field(x, true, byte, bit);
}

static inline void bad_param(struct exec *x, unsigned int byte, int bit)
{
	fail_field(x, false, byte, bit);
}

static inline void bad_param_len(struct exec *x)
{
	fail(x, OSTOR_SCSI_SENSE_ILLEGAL_REQUEST, ASC_PARAM_LIST_LENGTH, 0);
}

/* ---- the command's data buffer (target.c) ------------------------------- */

typedef int (*seg_fn)(void *ctx, uint8_t *p, size_t n, size_t done);

int sim_iov_walk(const struct sim_cmd *cmd, size_t off, size_t len,
		 seg_fn fn, void *ctx);
void sim_copy_to_iov(struct exec *x, size_t off, const void *src, size_t len);
void sim_copy_from_iov(struct exec *x, void *dst, size_t len);
bool sim_data_in_ok(struct exec *x, size_t n);
bool sim_data_out_ok(struct exec *x, size_t n);
void sim_data_in(struct exec *x, const void *buf, size_t resp_len, size_t alloc);

/* ---- SPC commands and sense data (spc.c) -------------------------------- */

size_t sim_sense_fixed(const struct sim_sense *s, uint8_t *buf);
size_t sim_sense_desc(const struct sim_sense *s, uint8_t *buf);
bool sim_take_ua(struct sim_lu *lu, struct sim_sense *s, bool consume);
void sim_cmd_test_unit_ready(struct exec *x);
void sim_cmd_request_sense(struct exec *x);
void sim_cmd_inquiry(struct exec *x);
void sim_cmd_mode_select(struct exec *x);
void sim_cmd_mode_sense(struct exec *x);
void sim_cmd_report_luns(struct exec *x);
size_t sim_vpd_ata_info(struct exec *x, uint8_t *buf);

/* ---- LOG SENSE and self-tests (logpages.c) ------------------------------ */

#define SIM_POWER_ON_HOURS_BASE 1000u   /* hours of a new LU */

uint32_t sim_power_on_minutes(const struct sim_lu *lu);
void sim_cmd_send_diagnostic(struct exec *x);
void sim_cmd_log_sense(struct exec *x);
bool sim_ie_sense(const struct sim_lu *lu, struct sim_sense *s);

/* ---- the ATA disk behind a bridge (ata.c) -------------------------------- */

/* Buffer for VPD 89h (SAT): header, 56 bytes, IDENTIFY DEVICE data. */
#define SIM_VPD89_LEN 572u

void sim_ata_init(struct sim_lu *lu);
bool sim_ata_opcode_ok(const struct sim_lu *lu, uint8_t op);
void sim_ata_identify(const struct sim_lu *lu, uint8_t *id);
void sim_cmd_ata_pass_through(struct exec *x);
void sim_cmd_jmicron(struct exec *x);

/* ---- power conditions (power.c) ------------------------------------------ */

void sim_power_init(struct sim_lu *lu);
void sim_power_reset(struct sim_lu *lu, uint64_t now_ms);
void sim_power_tick(struct sim_lu *lu);
void sim_power_access(struct sim_lu *lu, uint64_t now_ms);
void sim_power_set(struct sim_lu *lu, enum sim_power p, bool by_timer);
bool sim_power_sense(const struct sim_lu *lu, struct sim_sense *s);
bool sim_power_fast_ok(const struct sim_lu *lu);
size_t sim_power_mode_page(const struct sim_lu *lu, int pc, uint8_t *p);
void sim_power_mode_select(struct sim_lu *lu, const uint8_t *p, bool save);

/* ---- SBC commands (sbc.c) ----------------------------------------------- */

bool sim_lu_ready(struct exec *x);
void sim_cmd_read(struct exec *x);
void sim_cmd_write(struct exec *x);
void sim_cmd_verify(struct exec *x);
void sim_cmd_compare_and_write(struct exec *x);
void sim_cmd_sync(struct exec *x);
void sim_cmd_write_same(struct exec *x);
void sim_cmd_unmap(struct exec *x);
void sim_cmd_read_capacity10(struct exec *x);
void sim_cmd_service_action_in(struct exec *x);
void sim_cmd_read_format_capacities(struct exec *x);
void sim_cmd_prevent_allow(struct exec *x);
void sim_cmd_start_stop(struct exec *x);

/* ---- the medium (store.c) ----------------------------------------------- */

int sim_store_read(struct sim_lu *lu, uint64_t off, uint8_t *buf, size_t len,
		   uint64_t *bad);
int sim_store_write(struct sim_lu *lu, uint64_t off, const uint8_t *buf,
		    size_t len, uint64_t *bad);
int sim_store_zero(struct sim_target *t, struct sim_lu *lu, uint64_t off,
		   uint64_t len, bool punch, uint64_t *bad);
int sim_store_sync(struct sim_lu *lu);
int sim_store_check_size(const struct sim_lu *lu, uint64_t blocks);
int sim_store_map(struct sim_lu *lu);
int sim_store_resize(struct sim_lu *lu, uint64_t blocks);
void sim_store_unmap(struct sim_lu *lu);
/* Provisioning of the blocks from lba (< lu->blocks) on: sets *mapped
 * and returns how many blocks from lba, 1..max, share that state (a
 * shorter run is fine: callers merge).  Untracked LUs are all mapped. */
uint64_t sim_store_lba_status(struct sim_lu *lu, uint64_t lba, uint64_t max, bool *mapped);

#endif /* OSTOR_SIM_TARGET_PRIV_H */
