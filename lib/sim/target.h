/*
 * lib/sim/target.h - a simulated SCSI target (SPC-4 / SBC-3 subset).
 *
 * Transport device models (USB BOT/CBI/CB, virtio-scsi) put themselves in
 * front of a struct sim_target: they hand it a CDB plus data buffers and
 * get status, sense and residual back.  Every entry point is thread-safe
 * (one mutex per target), so a device model may call it from its own
 * thread while a test injects faults from another.
 *
 * Semantics worth knowing (the rest follows SPC-4/SBC-3):
 * - Data-in: the command moves min(its transfer/allocation length, buffer)
 *   bytes.  A buffer shorter than what the command wanted: the bytes that
 *   fit are transferred, overrun = true, residual = 0.  A longer buffer:
 *   residual = the difference.
 * - Data-out: a buffer shorter than the transfer length, or a command that
 *   moves data in the other direction than cmd->dir, is refused before
 *   anything touches the medium: CHECK CONDITION, ILLEGAL REQUEST, INVALID
 *   FIELD IN CDB (24h/00h) with the field pointer on the CDB's length
 *   field.  Why this sense: the length in the CDB disagrees with the buffer
 *   the initiator set up, which is an initiator bug, not retryable, and
 *   ILLEGAL REQUEST tells it the medium was not changed (Linux LIO rejects
 *   WRITE underflow/overflow the same way).  A command without data phase
 *   that is given a buffer just reports it all as residual.
 * - The sense of the last CHECK CONDITION is held per LU until the next
 *   command on it: REQUEST SENSE returns it (transports without autosense,
 *   e.g. USB BOT, need that), then pending unit attentions, else NO SENSE.
 * - Unit attentions (reset 29h/00h, medium change 28h/00h, capacity change
 *   2Ah/09h) are reported once each to the next command other than
 *   INQUIRY, REPORT LUNS and REQUEST SENSE.  A new LU starts without one;
 *   a medium ejected and loaded again by START STOP UNIT (LOEJ) raises none.
 * - A CDB shorter than its operation code's group length: INVALID FIELD IN
 *   CDB pointing at byte 0 (the opcode implies the missing length).  Longer
 *   CDBs (e.g. 12-byte UFI packets) are fine.  cdb NULL/empty: INVALID
 *   COMMAND OPERATION CODE.
 * - Sense data is fixed format (D_SENSE = 0); REQUEST SENSE with DESC = 1
 *   returns descriptor format.
 * - RAM LUs are anonymous MAP_NORESERVE mappings, so huge capacities are
 *   sparse; deallocated (UNMAP, WRITE SAME with zero data) blocks read as
 *   zero (LBPRZ).  File LUs read zeros past the end of the file.
 * - Disks are thin provisioned (LBPME, VPD B2h) unless config.thick
 *   (fully provisioned: LBPME 0, no UNMAP, WRITE SAME's UNMAP bit
 *   ignored, GET LBA STATUS reports all mapped).  GET LBA STATUS
 *   (SERVICE ACTION IN(16) 12h) reports mapped/deallocated runs: RAM
 *   disks from an allocation bitmap (written = mapped; never written,
 *   UNMAP and WRITE SAME with UNMAP = deallocated; WRITE SAME of zeros
 *   without UNMAP = mapped), file LUs from the file's holes (SEEK_DATA),
 *   null LUs all mapped.  Whole descriptors only: an allocation length
 *   below 24 returns the header alone, its PARAMETER DATA LENGTH counting
 *   the descriptors built (at least one).
 * - COMPARE AND WRITE compares and writes under the target lock, so no
 *   other command comes between the two; on a miscompare nothing is
 *   written.  Null LUs (nothing stored) compare against zeros.
 * - Mode pages have saved values (MODE SELECT SP, MODE SENSE PC 3), kept
 *   in memory for the life of the target; a reset makes them current.
 * - Health (logpages.c, ata.c): every disk has log pages 00h, 0Dh, 10h,
 *   15h, 2Fh and self-tests that complete at once; an ATA model adds the
 *   SAT or JMicron pass-through (struct sim_lu_config.ata).
 * - Power (power.c): START STOP UNIT power conditions and mode page 1Ah;
 *   REQUEST SENSE reports idle/standby (5Eh), a media access makes the LU
 *   active again; page 1Ah timers take effect at the next command.
 */
#ifndef OSTOR_SIM_TARGET_H
#define OSTOR_SIM_TARGET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

#include "orionstor.h"

#define SIM_MAX_LUNS 16384              /* flat addressing: 14 bits */
#define SIM_DEFAULT_MAX_TRANSFER 65535  /* blocks per READ/WRITE (VPD B0h) */
#define SIM_MAX_UNMAP_LBA_COUNT 0x400000u
#define SIM_MAX_UNMAP_DESCRIPTORS 256u
#define SIM_MAX_WRITE_SAME_LEN 0x400000u
#define SIM_MAX_COMPARE_WRITE_LEN 255u   /* blocks per COMPARE AND WRITE (VPD B0h), at most max_transfer */
#define SIM_FAULT_FOREVER 0xffffffffu   /* count for a fault that never expires */

struct sim_lu_config {
	int type;                  /* OSTOR_TYPE_DISK or OSTOR_TYPE_CDROM */
	uint32_t block_size;       /* 512, 1024, 2048, 4096; 0: 512 (cdrom 2048) */
	uint64_t blocks;           /* > 0 */
	bool readonly;             /* write-protected (cdrom always is) */
	bool removable;            /* cdrom always is */
	int fd;                    /* backing file (borrowed, not closed), -1: RAM */
	uint64_t fd_offset;        /* byte offset of block 0 in the file */
	uint32_t max_transfer;     /* blocks per command, 0: SIM_DEFAULT_MAX_TRANSFER */
	bool null;                 /* no storage: reads and writes move no data (benchmarks) */
	bool thick;                /* disks: fully provisioned (LBPME 0, no UNMAP); default thin */
	/* NULL: "ORIONSTR", "SIM DISK"/"SIM CDROM", "0001", generated serial.
	 * Printable ASCII, at most 8/16/4/32 characters. */
	const char *vendor, *product, *revision, *serial;
	/* Health and power models (disks only; see ata.c, logpages.c,
	 * power.c).  ata: SIM_ATA_NONE (a plain SCSI disk), SIM_ATA_SAT
	 * (an ATA disk behind a SAT bridge: ATA PASS-THROUGH(12/16), VPD
	 * 89h, INQUIRY vendor "ATA") or SIM_ATA_JMICRON (an ATA disk behind
	 * a JMicron bridge: vendor command DFh only).  With an ATA model the
	 * INQUIRY strings default to the bridge's (vendor etc. override). */
	int ata;
	unsigned int ata_faults;   /* SIM_ATA_FAULT_* */
	bool ie_failing;           /* informational exception 5Dh/00h (page 2Fh, REQUEST SENSE) */
	uint8_t temperature;       /* Celsius, 0: SIM_DEFAULT_TEMPERATURE */
	bool no_power_page;        /* no mode page 1Ah (like QEMU's scsi-hd) */
};

#define SIM_ATA_NONE 0
#define SIM_ATA_SAT 1
#define SIM_ATA_JMICRON 2
/* ATA model faults (sim:ata-fault=NAME[+NAME...]). */
#define SIM_ATA_FAULT_FAILING 0x01      /* RETURN STATUS F4h/2Ch, attribute 5 below threshold */
#define SIM_ATA_FAULT_PREFAIL 0x02      /* attribute 5 at its threshold, RETURN STATUS healthy */
#define SIM_ATA_FAULT_NO_REGISTERS 0x04 /* CK_COND registers dropped: GOOD, no sense */
#define SIM_ATA_FAULT_NO_PT16 0x08      /* ATA PASS-THROUGH(16) is an invalid opcode */
#define SIM_ATA_FAULT_NO_PT12 0x10      /* ATA PASS-THROUGH(12) is an invalid opcode */
#define SIM_DEFAULT_TEMPERATURE 35
/* USB ids a bridge model has (JMicron JM20337). */
#define SIM_JMICRON_USB_VID 0x152d
#define SIM_JMICRON_USB_PID 0x2338

/* Zeroed config with fd = -1: fill in type, blocks and what you need. */
void sim_lu_config_init(struct sim_lu_config *cfg);

struct sim_target;

/* NULL on allocation failure (ostor_last_error() says why). */
struct sim_target *sim_target_new(void);
/* lun < SIM_MAX_LUNS and not present yet; the config is copied. */
int sim_target_add_lu(struct sim_target *t, uint32_t lun,
		      const struct sim_lu_config *cfg);
void sim_target_free(struct sim_target *t);

/* USB ids for a transport model to report instead of its own (the bridge
 * the target stands for, e.g. JMicron 152d:2338); vid 0 drops them.
 * sim_target_usb_ids() returns false when none were set. */
void sim_target_set_usb_ids(struct sim_target *t, uint16_t vid, uint16_t pid);
bool sim_target_usb_ids(struct sim_target *t, uint16_t *vid, uint16_t *pid);

/* Number of LUs, and their numbers in ascending order: fills at most max
 * entries of luns (may be NULL with max 0) and returns the total. */
size_t sim_target_lu_count(struct sim_target *t);
size_t sim_target_luns(struct sim_target *t, uint32_t *luns, size_t max);

struct sim_cmd {
	uint32_t lun;
	const uint8_t *cdb;
	size_t cdb_len;
	int dir;                   /* enum ostor_dir */
	const struct iovec *iov;   /* data buffer(s) */
	int iovcnt;
	/* results, all set by sim_target_execute() */
	uint8_t status;
	uint8_t sense[OSTOR_SENSE_MAX];
	size_t sense_len;
	size_t transferred;        /* bytes moved to/from iov */
	size_t residual;           /* iov total - transferred */
	bool overrun;              /* the command wanted more than the buffer */
};

void sim_target_execute(struct sim_target *t, struct sim_cmd *cmd);

/* ---- fault injection -------------------------------------------------- */

/* Called before every command, without the target lock held (so it may
 * call the other sim_target_* functions).  Return true when the hook
 * completed the command itself (it set status, sense/sense_len and, if it
 * moved data, transferred); false runs the command normally. */
typedef bool (*sim_fault_fn)(void *ud, struct sim_cmd *cmd);
void sim_target_set_fault_hook(struct sim_target *t, sim_fault_fn fn, void *ud);

/* The next count commands to lun with this opcode (-1: any) complete with
 * CHECK CONDITION and the given sense, without being executed.  The sense
 * is held for REQUEST SENSE like any other.  Rules queue in order. */
int sim_target_inject_check(struct sim_target *t, uint32_t lun, int opcode,
			    unsigned int count, uint8_t key, uint8_t asc,
			    uint8_t ascq);
/* Same with a bare status (BUSY, RESERVATION CONFLICT, TASK SET FULL,
 * ACA ACTIVE, TASK ABORTED; not GOOD or CHECK CONDITION). */
int sim_target_inject_status(struct sim_target *t, uint32_t lun, int opcode,
			     unsigned int count, uint8_t status);
void sim_target_clear_faults(struct sim_target *t);

/* Target reset: every LU returns to its power-on state (started, cache
 * settings default, removal allowed, held sense dropped) and gets UNIT
 * ATTENTION 29h/00h, which replaces other pending ones. */
void sim_target_reset(struct sim_target *t);
/* Removable LUs only.  Removing is refused (OSTOR_ERROR_BUSY) while the
 * initiator prevents removal; inserting raises UNIT ATTENTION 28h/00h. */
int sim_target_set_medium(struct sim_target *t, uint32_t lun, bool present);
/* Resize (RAM contents are kept up to the smaller size); raises UNIT
 * ATTENTION 2Ah/09h CAPACITY DATA HAS CHANGED. */
int sim_target_set_capacity(struct sim_target *t, uint32_t lun, uint64_t blocks);
/* The health a LU reports from now on (SIM_ATA_FAULT_* of its ATA model,
 * and the informational exception), as a disk that wears out. */
int sim_target_set_health(struct sim_target *t, uint32_t lun, unsigned int ata_faults, bool ie_failing);

/* ---- statistics ------------------------------------------------------- */

struct sim_stats {
	uint64_t commands;         /* every sim_target_execute() call */
	uint64_t per_opcode[256];
	uint64_t good;
	uint64_t check_condition;
	uint64_t other_status;
	uint64_t injected;         /* completed by a fault rule or the hook */
	uint64_t unit_attentions;  /* UAs reported */
	uint64_t overruns;
	uint64_t bytes_in;         /* data-in transferred */
	uint64_t bytes_out;        /* data-out consumed */
};

void sim_target_get_stats(struct sim_target *t, struct sim_stats *out);
void sim_target_reset_stats(struct sim_target *t);

#endif /* OSTOR_SIM_TARGET_H */
