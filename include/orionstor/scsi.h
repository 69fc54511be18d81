/*
 * orionstor/scsi.h - pure SCSI: CDB builders, response and sense decoders.
 *
 * Nothing here touches a transport.  Builders fill a struct ostor_cdb and
 * return 0 or a negative enum ostor_error (a field that does not fit the
 * command is OSTOR_ERROR_INVALID_PARAM, never silently truncated).
 * Decoders take the bytes actually transferred and never trust a length
 * field written by the device beyond them.
 *
 * Decoder results that decode only part of a response later SCSI
 * revisions extend (INQUIRY, READ CAPACITY, the Block Limits, Block Device
 * Characteristics and Logical Block Provisioning VPD pages, the caching
 * mode page, sense data) grow as the structs of <orionstor.h> do: they
 * start with uint32_t size, set by the caller (their _INIT initializer),
 * and the decoder fills only what fits (liborionstor(3), "Structures that
 * grow"; .size 0 is OSTOR_ERROR_INVALID_PARAM).  The other structs here
 * never change: each is a complete, fixed T10 layout, an array element or
 * an argument; what a later revision adds comes as new functions.
 *
 * Included by <orionstor.h>; do not include directly.
 */
#ifndef ORIONSTOR_SCSI_H
#define ORIONSTOR_SCSI_H

#include <stddef.h>
#include <stdint.h>

#ifndef OSTOR_API
#define OSTOR_API
#endif

#ifdef __cplusplus
extern "C" {
#endif

/* ---- operation codes (SPC-4, SBC-3, MMC, UFI) ---------------------- */
enum ostor_scsi_opcode {
	OSTOR_SCSI_OP_TEST_UNIT_READY = 0x00,
	OSTOR_SCSI_OP_REQUEST_SENSE = 0x03,
	OSTOR_SCSI_OP_FORMAT_UNIT = 0x04,
	OSTOR_SCSI_OP_READ6 = 0x08,
	OSTOR_SCSI_OP_WRITE6 = 0x0a,
	OSTOR_SCSI_OP_INQUIRY = 0x12,
	OSTOR_SCSI_OP_MODE_SELECT6 = 0x15,
	OSTOR_SCSI_OP_MODE_SENSE6 = 0x1a,
	OSTOR_SCSI_OP_START_STOP_UNIT = 0x1b,
	OSTOR_SCSI_OP_SEND_DIAGNOSTIC = 0x1d,
	OSTOR_SCSI_OP_PREVENT_ALLOW_MEDIUM_REMOVAL = 0x1e,
	OSTOR_SCSI_OP_READ_FORMAT_CAPACITIES = 0x23,
	OSTOR_SCSI_OP_READ_CAPACITY10 = 0x25,
	OSTOR_SCSI_OP_READ10 = 0x28,
	OSTOR_SCSI_OP_WRITE10 = 0x2a,
	OSTOR_SCSI_OP_VERIFY10 = 0x2f,
	OSTOR_SCSI_OP_SYNCHRONIZE_CACHE10 = 0x35,
	OSTOR_SCSI_OP_WRITE_SAME10 = 0x41,
	OSTOR_SCSI_OP_UNMAP = 0x42,
	OSTOR_SCSI_OP_LOG_SENSE = 0x4d,
	OSTOR_SCSI_OP_MODE_SELECT10 = 0x55,
	OSTOR_SCSI_OP_MODE_SENSE10 = 0x5a,
	OSTOR_SCSI_OP_ATA_PASS_THROUGH16 = 0x85,
	OSTOR_SCSI_OP_READ16 = 0x88,
	OSTOR_SCSI_OP_WRITE16 = 0x8a,
	OSTOR_SCSI_OP_VERIFY16 = 0x8f,
	OSTOR_SCSI_OP_SYNCHRONIZE_CACHE16 = 0x91,
	OSTOR_SCSI_OP_WRITE_SAME16 = 0x93,
	OSTOR_SCSI_OP_SERVICE_ACTION_IN16 = 0x9e,
	OSTOR_SCSI_OP_REPORT_LUNS = 0xa0,
	OSTOR_SCSI_OP_ATA_PASS_THROUGH12 = 0xa1,
	OSTOR_SCSI_OP_READ12 = 0xa8,
	OSTOR_SCSI_OP_WRITE12 = 0xaa
};
#define OSTOR_SCSI_SAI_READ_CAPACITY16 0x10

/* ---- status ----------------------------------------------------------- */
enum ostor_scsi_status {
	OSTOR_SCSI_STATUS_GOOD = 0x00,
	OSTOR_SCSI_STATUS_CHECK_CONDITION = 0x02,
	OSTOR_SCSI_STATUS_CONDITION_MET = 0x04,
	OSTOR_SCSI_STATUS_BUSY = 0x08,
	OSTOR_SCSI_STATUS_RESERVATION_CONFLICT = 0x18,
	OSTOR_SCSI_STATUS_TASK_SET_FULL = 0x28,
	OSTOR_SCSI_STATUS_ACA_ACTIVE = 0x30,
	OSTOR_SCSI_STATUS_TASK_ABORTED = 0x40
};
OSTOR_API const char *ostor_scsi_status_name(int status);

/* ---- sense keys -------------------------------------------------------- */
enum ostor_scsi_sense_key {
	OSTOR_SCSI_SENSE_NO_SENSE = 0x0,
	OSTOR_SCSI_SENSE_RECOVERED_ERROR = 0x1,
	OSTOR_SCSI_SENSE_NOT_READY = 0x2,
	OSTOR_SCSI_SENSE_MEDIUM_ERROR = 0x3,
	OSTOR_SCSI_SENSE_HARDWARE_ERROR = 0x4,
	OSTOR_SCSI_SENSE_ILLEGAL_REQUEST = 0x5,
	OSTOR_SCSI_SENSE_UNIT_ATTENTION = 0x6,
	OSTOR_SCSI_SENSE_DATA_PROTECT = 0x7,
	OSTOR_SCSI_SENSE_BLANK_CHECK = 0x8,
	OSTOR_SCSI_SENSE_VENDOR_SPECIFIC = 0x9,
	OSTOR_SCSI_SENSE_COPY_ABORTED = 0xa,
	OSTOR_SCSI_SENSE_ABORTED_COMMAND = 0xb,
	OSTOR_SCSI_SENSE_VOLUME_OVERFLOW = 0xd,
	OSTOR_SCSI_SENSE_MISCOMPARE = 0xe,
	OSTOR_SCSI_SENSE_COMPLETED = 0xf
};
OSTOR_API const char *ostor_scsi_sense_key_name(int key);
/* Full T10 ASC/ASCQ table; handles the ranges (e.g. 40h/NNh diagnostic
 * failure on component NN) and vendor-specific values.  buf gets the text,
 * returns buf. */
OSTOR_API const char *ostor_scsi_asc_ascq_text(uint8_t asc, uint8_t ascq,
					       char *buf, size_t buflen);

/* ---- CDBs ------------------------------------------------------------ */
/* Never grows: a fixed buffer (OSTOR_CDB_MAX bytes). */
struct ostor_cdb {
	uint8_t bytes[32];
	uint8_t len;
};

OSTOR_API int ostor_scsi_cdb_test_unit_ready(struct ostor_cdb *cdb);
OSTOR_API int ostor_scsi_cdb_request_sense(struct ostor_cdb *cdb, uint8_t alloc_len, int descriptor_format);
/* evpd=0: page must be 0 (standard INQUIRY). */
OSTOR_API int ostor_scsi_cdb_inquiry(struct ostor_cdb *cdb, int evpd, uint8_t page, uint16_t alloc_len);
OSTOR_API int ostor_scsi_cdb_read_capacity10(struct ostor_cdb *cdb);
OSTOR_API int ostor_scsi_cdb_read_capacity16(struct ostor_cdb *cdb, uint32_t alloc_len);
/* flags: OSTOR_SCSI_FUA, OSTOR_SCSI_DPO (ignored by 6-byte commands, which
 * also reject them). READ(6)/WRITE(6): lba <= 0x1fffff, blocks 1..256. */
#define OSTOR_SCSI_FUA 0x08
#define OSTOR_SCSI_DPO 0x10
OSTOR_API int ostor_scsi_cdb_read6(struct ostor_cdb *cdb, uint32_t lba, uint16_t blocks);
OSTOR_API int ostor_scsi_cdb_write6(struct ostor_cdb *cdb, uint32_t lba, uint16_t blocks);
OSTOR_API int ostor_scsi_cdb_read10(struct ostor_cdb *cdb, uint32_t lba, uint16_t blocks, uint8_t flags);
OSTOR_API int ostor_scsi_cdb_write10(struct ostor_cdb *cdb, uint32_t lba, uint16_t blocks, uint8_t flags);
OSTOR_API int ostor_scsi_cdb_read12(struct ostor_cdb *cdb, uint32_t lba, uint32_t blocks, uint8_t flags);
OSTOR_API int ostor_scsi_cdb_write12(struct ostor_cdb *cdb, uint32_t lba, uint32_t blocks, uint8_t flags);
OSTOR_API int ostor_scsi_cdb_read16(struct ostor_cdb *cdb, uint64_t lba, uint32_t blocks, uint8_t flags);
OSTOR_API int ostor_scsi_cdb_write16(struct ostor_cdb *cdb, uint64_t lba, uint32_t blocks, uint8_t flags);
OSTOR_API int ostor_scsi_cdb_synchronize_cache10(struct ostor_cdb *cdb, uint32_t lba, uint16_t blocks);
OSTOR_API int ostor_scsi_cdb_synchronize_cache16(struct ostor_cdb *cdb, uint64_t lba, uint32_t blocks);
OSTOR_API int ostor_scsi_cdb_mode_sense6(struct ostor_cdb *cdb, int dbd, uint8_t pc, uint8_t page, uint8_t subpage, uint8_t alloc_len);
OSTOR_API int ostor_scsi_cdb_mode_sense10(struct ostor_cdb *cdb, int dbd, int llbaa, uint8_t pc, uint8_t page, uint8_t subpage, uint16_t alloc_len);
OSTOR_API int ostor_scsi_cdb_report_luns(struct ostor_cdb *cdb, uint8_t select_report, uint32_t alloc_len);
/* The remaining builders (VERIFY, MODE SELECT, START STOP UNIT, PREVENT
 * ALLOW, LOG SENSE, WRITE SAME, COMPARE AND WRITE, UNMAP, ATA PASS-THROUGH,
 * SEND DIAGNOSTIC, READ FORMAT CAPACITIES) are at the end of this file. */

/* ---- decoded responses ----------------------------------------------- */
/* Grows (INQUIRY has bits this does not decode yet: TPGS, 3PC, ...). */
struct ostor_scsi_inquiry {
	uint32_t size;                 /* in: sizeof; out: bytes filled */
	uint8_t peripheral_qualifier;  /* 0 connected, 1 not connected, 3 no LU */
	uint8_t peripheral_type;
	int removable;
	uint8_t version;
	uint8_t response_format;
	uint8_t additional_length;     /* as reported by the device */
	int protect, cmdque, hisup, normaca;
	char vendor[9];                /* NUL-terminated, trailing blanks trimmed */
	char product[17];
	char revision[5];
	size_t valid_len;              /* bytes that were really decoded */
};
#define OSTOR_SCSI_INQUIRY_INIT OSTOR_SIZED_INIT_(struct ostor_scsi_inquiry)
/* Needs at least 5 bytes; shorter fields get "" when not transferred (a
 * partly transferred one gets the bytes that arrived).  The first 36 bytes
 * are used when they arrived even if ADDITIONAL LENGTH understates them
 * (common on USB bridges); never more than len.  Strings are trimmed and
 * non-printable bytes replaced by '?'. */
OSTOR_API int ostor_scsi_parse_inquiry(const uint8_t *buf, size_t len, struct ostor_scsi_inquiry *out);

/* Grows (READ CAPACITY(16) gains fields: RC BASIS, ...). */
struct ostor_scsi_read_capacity {
	uint32_t size;                 /* in: sizeof; out: bytes filled */
	uint64_t last_lba;
	uint32_t block_size;
	uint64_t blocks;               /* last_lba + 1, 0 if it would overflow */
	/* (16) only: */
	int prot_en;
	uint8_t p_type;
	uint8_t lbppbe;                /* logical blocks per physical block exponent */
	int lbpme, lbprz;
	uint16_t lowest_aligned_lba;
	uint8_t p_i_exponent;          /* (16) only */
	int rc16_needed;               /* (10): capacity saturated, use (16) */
	size_t valid_len;              /* bytes that were really decoded */
};
#define OSTOR_SCSI_READ_CAPACITY_INIT OSTOR_SIZED_INIT_(struct ostor_scsi_read_capacity)
/* (10) needs 8 bytes, (16) needs 12; later (16) fields are decoded only
 * when transferred. */
OSTOR_API int ostor_scsi_parse_read_capacity10(const uint8_t *buf, size_t len, struct ostor_scsi_read_capacity *out);
OSTOR_API int ostor_scsi_parse_read_capacity16(const uint8_t *buf, size_t len, struct ostor_scsi_read_capacity *out);

/* VPD B0h Block Limits (0 = not reported).  Grows (SBC-4 added the
 * atomic-write limits, not decoded yet). */
struct ostor_scsi_vpd_block_limits {
	uint32_t size;                 /* in: sizeof; out: bytes filled */
	int wsnz;
	uint8_t max_compare_write_len;
	uint16_t optimal_transfer_granularity;
	uint32_t max_transfer_len;
	uint32_t optimal_transfer_len;
	uint32_t max_prefetch_len;
	uint32_t max_unmap_lba_count;
	uint32_t max_unmap_descriptor_count;
	uint32_t optimal_unmap_granularity;
	int ugavalid;
	uint32_t unmap_granularity_alignment;
	uint64_t max_write_same_len;
	size_t valid_len;              /* bytes of the page really decoded */
};
#define OSTOR_SCSI_VPD_BLOCK_LIMITS_INIT OSTOR_SIZED_INIT_(struct ostor_scsi_vpd_block_limits)
OSTOR_API int ostor_scsi_parse_vpd_block_limits(const uint8_t *buf, size_t len, struct ostor_scsi_vpd_block_limits *out);

/* VPD 80h: serial copied trimmed into out (always NUL-terminated).
 * Returns the length of the whole trimmed serial (more than outlen - 1
 * when it was truncated), or a negative error. */
OSTOR_API int ostor_scsi_parse_vpd_serial(const uint8_t *buf, size_t len, char *out, size_t outlen);

/* MODE SENSE header: write protect bit and block descriptor info.  Never
 * grows: the mode parameter header is fixed and decoded whole. */
struct ostor_scsi_mode_header {
	uint16_t mode_data_length;
	uint8_t medium_type;
	uint8_t device_specific;
	int write_protected;           /* device_specific bit 7 (direct access) */
	int dpofua;
	uint16_t block_descriptor_length;
	size_t pages_offset;           /* offset of the first mode page in buf */
	size_t pages_len;              /* bytes of mode pages actually present */
	int longlba;                   /* (10): 16-byte block descriptors */
	size_t header_len;             /* 4 (6) or 8 (10) */
	size_t data_len;               /* min(transferred, mode data length + hdr) */
	size_t block_descriptors_len;  /* bytes of block descriptors present */
};
OSTOR_API int ostor_scsi_parse_mode_sense6(const uint8_t *buf, size_t len, struct ostor_scsi_mode_header *out);
OSTOR_API int ostor_scsi_parse_mode_sense10(const uint8_t *buf, size_t len, struct ostor_scsi_mode_header *out);

/* REPORT LUNS: flat LUN numbers decoded from each 8-byte entry (peripheral
 * and flat addressing; other methods reported as raw 64-bit values).
 * Returns the number of LUNs stored (<= max); *total gets the number the
 * device announced that were actually transferred. */
OSTOR_API int ostor_scsi_parse_report_luns(const uint8_t *buf, size_t len, uint64_t *luns, size_t max, size_t *total);
/* Decode an 8-byte SAM LUN to a flat number (peripheral/flat), -1 if other. */
OSTOR_API int64_t ostor_scsi_lun_decode(const uint8_t lun[8]);
OSTOR_API void ostor_scsi_lun_encode(uint32_t lun, uint8_t out[8]);

/* ---- sense -------------------------------------------------------------- */
/* Grows (more sense descriptor types may be decoded). */
struct ostor_scsi_sense {
	uint32_t size;                 /* in: sizeof; out: bytes filled */
	int valid;                     /* a recognised response code */
	uint8_t response_code;         /* 70h, 71h, 72h, 73h */
	int descriptor_format;
	int deferred;                  /* 71h/73h: error of an earlier command */
	uint8_t key;
	uint8_t asc;
	uint8_t ascq;
	int info_valid;
	uint64_t information;
	int cmd_info_valid;
	uint64_t command_specific;
	int sksv;                      /* sense-key specific valid */
	uint8_t sks[3];
	int filemark, eom, ili;
	size_t used_len;               /* bytes of the sense buffer decoded */
	int fru_valid;
	uint8_t fru;                   /* field replaceable unit code */
	int ata_return_present;        /* descriptor 09h seen (descriptor fmt) */
};
#define OSTOR_SCSI_SENSE_INIT OSTOR_SIZED_INIT_(struct ostor_scsi_sense)
/* Decodes fixed and descriptor format, bounded by len and the device's
 * additional length, whichever is smaller.  Returns 0 when a sense key
 * could be read, OSTOR_ERROR_PROTOCOL for garbage/too short. */
OSTOR_API int ostor_scsi_parse_sense(const uint8_t *buf, size_t len, struct ostor_scsi_sense *out);
/* "ILLEGAL REQUEST: Logical block address out of range (21h/00h)".
 * sense (as for ostor_scsi_sense_progress) is read only as far as its
 * .size says; a .size below the first version reads as invalid sense. */
OSTOR_API const char *ostor_scsi_sense_text(const struct ostor_scsi_sense *sense, char *buf, size_t buflen);
/* Build fixed-format sense (18 bytes) for targets/simulators; returns len. */
OSTOR_API size_t ostor_scsi_build_sense_fixed(uint8_t *buf, size_t buflen, uint8_t key, uint8_t asc, uint8_t ascq);

/* ======================================================================
 * Additions: remaining builders, decoders and helpers.
 * ==================================================================== */

/* More operation codes (SPC-4, SBC-3, MMC-6). */
#define OSTOR_SCSI_OP_REZERO_UNIT 0x01
#define OSTOR_SCSI_OP_READ_BLOCK_LIMITS 0x05
#define OSTOR_SCSI_OP_REASSIGN_BLOCKS 0x07
#define OSTOR_SCSI_OP_SEEK6 0x0b
#define OSTOR_SCSI_OP_RECEIVE_DIAGNOSTIC 0x1c
#define OSTOR_SCSI_OP_WRITE_VERIFY10 0x2e
#define OSTOR_SCSI_OP_PRE_FETCH10 0x34
#define OSTOR_SCSI_OP_READ_DEFECT_DATA10 0x37
#define OSTOR_SCSI_OP_WRITE_BUFFER 0x3b
#define OSTOR_SCSI_OP_READ_BUFFER 0x3c
#define OSTOR_SCSI_OP_READ_TOC 0x43
#define OSTOR_SCSI_OP_GET_CONFIGURATION 0x46
#define OSTOR_SCSI_OP_GET_EVENT_STATUS_NOTIFICATION 0x4a
#define OSTOR_SCSI_OP_LOG_SELECT 0x4c
#define OSTOR_SCSI_OP_READ_DISC_INFORMATION 0x51
#define OSTOR_SCSI_OP_PERSISTENT_RESERVE_IN 0x5e
#define OSTOR_SCSI_OP_PERSISTENT_RESERVE_OUT 0x5f
#define OSTOR_SCSI_OP_VARIABLE_LENGTH 0x7f
#define OSTOR_SCSI_OP_EXTENDED_CDB 0x7e
#define OSTOR_SCSI_OP_COMPARE_AND_WRITE 0x89
#define OSTOR_SCSI_OP_WRITE_VERIFY16 0x8e
#define OSTOR_SCSI_OP_SERVICE_ACTION_OUT16 0x9f
#define OSTOR_SCSI_OP_MAINTENANCE_IN 0xa3
#define OSTOR_SCSI_OP_MAINTENANCE_OUT 0xa4
#define OSTOR_SCSI_OP_VERIFY12 0xaf
#define OSTOR_SCSI_OP_READ_CD 0xbe
#define OSTOR_SCSI_SAI_GET_LBA_STATUS 0x12

/* Length of the CDB an operation code implies: 6, 10, 12 or 16;
 * OSTOR_SCSI_CDB_LEN_VARIABLE (0) for 7Eh/7Fh (length in the CDB);
 * OSTOR_ERROR_NOT_SUPPORTED for reserved group 3 opcodes and the
 * vendor-specific groups 6 and 7 (C0h-FFh), whose length is unknown. */
#define OSTOR_SCSI_CDB_LEN_VARIABLE 0
OSTOR_API int ostor_scsi_cdb_length(uint8_t opcode);
/* "READ(10)", ...; "VENDOR SPECIFIC" for C0h-FFh, "UNKNOWN" otherwise.
 * Never NULL. */
OSTOR_API const char *ostor_scsi_opcode_name(uint8_t opcode);
/* Check that len matches what the opcode implies (variable-length 7Fh:
 * 8 + ADDITIONAL CDB LENGTH, at most 260).  Vendor-specific opcodes are
 * accepted with any length 6..OSTOR_CDB_MAX.  Returns 0 or
 * OSTOR_ERROR_INVALID_PARAM with a message.  Check before padding a CDB
 * for UFI (ostor_scsi_cdb_pad). */
OSTOR_API int ostor_scsi_cdb_check(const uint8_t *cdb, size_t len);
/* Zero-pad a CDB to len bytes (UFI and ATAPI want 12); refuses to shrink
 * and len > OSTOR_CDB_MAX. */
OSTOR_API int ostor_scsi_cdb_pad(struct ostor_cdb *cdb, uint8_t len);

/* SYNCHRONIZE CACHE with the IMMED bit. */
OSTOR_API int ostor_scsi_cdb_synchronize_cache10_ex(struct ostor_cdb *cdb, uint32_t lba, uint16_t blocks, int immed);
OSTOR_API int ostor_scsi_cdb_synchronize_cache16_ex(struct ostor_cdb *cdb, uint64_t lba, uint32_t blocks, int immed);

/* VERIFY(10/16): bytchk 0 (medium only), 1 (compare data-out), 3 (compare
 * one block against every block); 2 is reserved and rejected.  flags:
 * OSTOR_SCSI_DPO only. */
OSTOR_API int ostor_scsi_cdb_verify10(struct ostor_cdb *cdb, uint32_t lba, uint16_t blocks, uint8_t bytchk, uint8_t flags);
OSTOR_API int ostor_scsi_cdb_verify16(struct ostor_cdb *cdb, uint64_t lba, uint32_t blocks, uint8_t bytchk, uint8_t flags);

OSTOR_API int ostor_scsi_cdb_mode_select6(struct ostor_cdb *cdb, int pf, int sp, uint8_t param_len);
OSTOR_API int ostor_scsi_cdb_mode_select10(struct ostor_cdb *cdb, int pf, int sp, uint16_t param_len);

/* Power conditions for START STOP UNIT (0 = use start/loej). */
#define OSTOR_SCSI_PC_START_VALID 0x0
#define OSTOR_SCSI_PC_ACTIVE 0x1
#define OSTOR_SCSI_PC_IDLE 0x2
#define OSTOR_SCSI_PC_STANDBY 0x3
#define OSTOR_SCSI_PC_LU_CONTROL 0x7
#define OSTOR_SCSI_PC_FORCE_IDLE_0 0xa
#define OSTOR_SCSI_PC_FORCE_STANDBY_0 0xb
/* power_condition 0..15, pc_modifier 0..15. */
OSTOR_API int ostor_scsi_cdb_start_stop_unit(struct ostor_cdb *cdb, int immed, uint8_t power_condition, uint8_t pc_modifier, int loej, int start);
/* prevent: 0 allow, 1 prevent (2, 3: MMC persistent prevent). */
OSTOR_API int ostor_scsi_cdb_prevent_allow(struct ostor_cdb *cdb, uint8_t prevent);
/* pc 0..3 (0 threshold, 1 cumulative, 2 default threshold, 3 default
 * cumulative), page 0..3Fh. */
OSTOR_API int ostor_scsi_cdb_log_sense(struct ostor_cdb *cdb, int sp, uint8_t pc, uint8_t page, uint8_t subpage, uint16_t param_ptr, uint16_t alloc_len);

/* WRITE SAME flags, at their CDB bit positions.  NDOB: (16) only. */
#define OSTOR_SCSI_WS_NDOB 0x01
#define OSTOR_SCSI_WS_UNMAP 0x08
#define OSTOR_SCSI_WS_ANCHOR 0x10
OSTOR_API int ostor_scsi_cdb_write_same10(struct ostor_cdb *cdb, uint32_t lba, uint16_t blocks, uint8_t flags);
OSTOR_API int ostor_scsi_cdb_write_same16(struct ostor_cdb *cdb, uint64_t lba, uint32_t blocks, uint8_t flags);

/* COMPARE AND WRITE (SBC-3): the data-out buffer is 2 x blocks blocks,
 * the verify data then the write data.  flags: OSTOR_SCSI_FUA,
 * OSTOR_SCSI_DPO; WRPROTECT is 0 (no protection information).  blocks 0
 * is valid (nothing compared or written). */
OSTOR_API int ostor_scsi_cdb_compare_and_write(struct ostor_cdb *cdb, uint64_t lba, uint8_t blocks, uint8_t flags);

/* UNMAP: param_len is the size of the parameter list built below. */
OSTOR_API int ostor_scsi_cdb_unmap(struct ostor_cdb *cdb, int anchor, uint16_t param_len);
/* Never grows: an array element (the UNMAP block descriptor). */
struct ostor_scsi_unmap_desc {
	uint64_t lba;
	uint32_t blocks;
};
/* Build the UNMAP parameter list (8-byte header + 16 bytes per
 * descriptor) into buf.  Returns its length, OSTOR_ERROR_OVERFLOW when buf
 * is too small, OSTOR_ERROR_INVALID_PARAM when the list would not fit the
 * 16-bit length fields (more than 4095 descriptors). */
OSTOR_API int ostor_scsi_build_unmap_params(uint8_t *buf, size_t buflen, const struct ostor_scsi_unmap_desc *descs, size_t count);

/* ATA PASS-THROUGH (SAT-3).  Protocols: */
#define OSTOR_ATA_PROTO_HARD_RESET 0
#define OSTOR_ATA_PROTO_SRST 1
#define OSTOR_ATA_PROTO_NON_DATA 3
#define OSTOR_ATA_PROTO_PIO_IN 4
#define OSTOR_ATA_PROTO_PIO_OUT 5
#define OSTOR_ATA_PROTO_DMA 6
#define OSTOR_ATA_PROTO_DEVICE_DIAG 8
#define OSTOR_ATA_PROTO_DEVICE_RESET 9
#define OSTOR_ATA_PROTO_UDMA_IN 10
#define OSTOR_ATA_PROTO_UDMA_OUT 11
#define OSTOR_ATA_PROTO_FPDMA 12
#define OSTOR_ATA_PROTO_RETURN_RESPONSE 15
/* t_length: where the transfer length is */
#define OSTOR_ATA_TLEN_NONE 0
#define OSTOR_ATA_TLEN_FEATURES 1
#define OSTOR_ATA_TLEN_COUNT 2
#define OSTOR_ATA_TLEN_STPSIU 3
/* Never grows: every field of the ATA PASS-THROUGH(12) and (16) CDBs (the
 * 32-byte form would come with its own struct). */
struct ostor_scsi_ata_pt {
	uint8_t protocol;              /* 0..15 */
	uint8_t multiple_count;        /* 0..7 */
	int extend;                    /* 48-bit registers ((16) only) */
	uint8_t off_line;              /* 0..3 */
	int ck_cond;                   /* return the ATA registers always */
	int t_type;                    /* SAT-3: length in logical sectors */
	int t_dir;                     /* 1: from device */
	int byt_blok;                  /* 1: length in blocks, 0: in bytes */
	uint8_t t_length;              /* OSTOR_ATA_TLEN_* */
	uint16_t features;             /* > 0xff needs extend */
	uint16_t count;                /* > 0xff needs extend */
	uint64_t lba;                  /* 24 bits, 48 with extend */
	uint8_t device;
	uint8_t command;
};
OSTOR_API int ostor_scsi_cdb_ata_pass_through12(struct ostor_cdb *cdb, const struct ostor_scsi_ata_pt *pt);
OSTOR_API int ostor_scsi_cdb_ata_pass_through16(struct ostor_cdb *cdb, const struct ostor_scsi_ata_pt *pt);

/* SEND DIAGNOSTIC: self_test_code 0..7 (1 background short, 2 background
 * extended, 4 abort background, 5 foreground short, 6 foreground
 * extended), which needs selftest = 0. */
OSTOR_API int ostor_scsi_cdb_send_diagnostic(struct ostor_cdb *cdb, uint8_t self_test_code, int pf, int selftest, int devoffl, int unitoffl, uint16_t param_len);
/* READ FORMAT CAPACITIES (MMC, UFI): a 10-byte CDB; UFI transports pad it
 * to 12 with ostor_scsi_cdb_pad. */
OSTOR_API int ostor_scsi_cdb_read_format_capacities(struct ostor_cdb *cdb, uint16_t alloc_len);

/* ---- more decoders ------------------------------------------------------
 * All of them read only the bytes transferred (len), further bounded by
 * the length fields of the response; what was not transferred is left 0
 * or "" and never guessed.  Pointers in results point into buf. */

/* VPD header (every page): PAGE LENGTH (bytes 2-3) bounded by len.
 * OSTOR_ERROR_PROTOCOL when shorter than 4 bytes or the page code is not
 * the expected one.  Never grows (the 4-byte header, decoded whole). */
struct ostor_scsi_vpd_header {
	uint8_t peripheral_qualifier;
	uint8_t peripheral_type;
	uint8_t page_code;
	uint16_t page_length;          /* as reported */
	size_t data_len;               /* page bytes present after the header */
};
OSTOR_API int ostor_scsi_parse_vpd_header(const uint8_t *buf, size_t len, uint8_t expected_page, struct ostor_scsi_vpd_header *out);

/* VPD 00h: up to max page codes into pages; returns how many were stored,
 * *total (may be NULL) gets how many were transferred. */
OSTOR_API int ostor_scsi_parse_vpd_supported(const uint8_t *buf, size_t len, uint8_t *pages, size_t max, size_t *total);
/* Whether page appears in a VPD 00h response. */
OSTOR_API int ostor_scsi_vpd_supports(const uint8_t *buf, size_t len, uint8_t page);

/* Iterator over a list of variable-length items (designators, mode
 * pages, log parameters).  next() returns 1 with an item, 0 at the end;
 * truncated is set when the end cut an item short (that item is not
 * returned).  Never grows (the caller's storage for the iterator). */
struct ostor_scsi_iter {
	const uint8_t *buf;
	size_t pos;
	size_t end;
	int truncated;
};

/* VPD 83h designators. */
#define OSTOR_SCSI_CODESET_BINARY 1
#define OSTOR_SCSI_CODESET_ASCII 2
#define OSTOR_SCSI_CODESET_UTF8 3
#define OSTOR_SCSI_ASSOC_LU 0
#define OSTOR_SCSI_ASSOC_TARGET_PORT 1
#define OSTOR_SCSI_ASSOC_TARGET_DEVICE 2
#define OSTOR_SCSI_DESIG_VENDOR 0x0
#define OSTOR_SCSI_DESIG_T10 0x1
#define OSTOR_SCSI_DESIG_EUI64 0x2
#define OSTOR_SCSI_DESIG_NAA 0x3
#define OSTOR_SCSI_DESIG_REL_TGT_PORT 0x4
#define OSTOR_SCSI_DESIG_TPG 0x5
#define OSTOR_SCSI_DESIG_LU_GROUP 0x6
#define OSTOR_SCSI_DESIG_MD5 0x7
#define OSTOR_SCSI_DESIG_SCSI_NAME 0x8
#define OSTOR_SCSI_DESIG_PROTOCOL_PORT 0x9
#define OSTOR_SCSI_DESIG_UUID 0xa
/* Never grows: the designator header decoded whole; an array element. */
struct ostor_scsi_designator {
	uint8_t protocol_id;           /* meaningful when piv */
	uint8_t code_set;
	int piv;
	uint8_t association;
	uint8_t type;
	uint8_t len;
	const uint8_t *data;           /* len bytes inside buf */
};
OSTOR_API int ostor_scsi_vpd_devid_iter_init(struct ostor_scsi_iter *it, const uint8_t *buf, size_t len);
OSTOR_API int ostor_scsi_vpd_devid_next(struct ostor_scsi_iter *it, struct ostor_scsi_designator *d);
/* Convenience: fill up to max designators; returns how many were stored,
 * *total (may be NULL) the number of complete designators present. */
OSTOR_API int ostor_scsi_parse_vpd_devid(const uint8_t *buf, size_t len, struct ostor_scsi_designator *d, size_t max, size_t *total);
/* "NAA", "T10 vendor ID", ...; never NULL. */
OSTOR_API const char *ostor_scsi_designator_type_name(uint8_t type);

/* VPD 89h ATA Information (SAT).  Never grows: every field of the page. */
struct ostor_scsi_vpd_ata_info {
	char sat_vendor[9];
	char sat_product[17];
	char sat_revision[5];
	int signature_valid;
	uint8_t signature[20];         /* ATA device signature */
	uint8_t command_code;          /* ECh IDENTIFY DEVICE, A1h PACKET */
	int identify_valid;            /* all 512 bytes were transferred */
	uint8_t identify[512];
	size_t valid_len;
};
OSTOR_API int ostor_scsi_parse_vpd_ata_info(const uint8_t *buf, size_t len, struct ostor_scsi_vpd_ata_info *out);

/* VPD B1h Block Device Characteristics.  Grows (SBC-4 and later add
 * fields). */
struct ostor_scsi_vpd_block_characteristics {
	uint32_t size;                 /* in: sizeof; out: bytes filled */
	uint16_t rotation_rate;        /* 0 not reported, 1 non-rotating, rpm */
	int non_rotating;
	uint8_t product_type;
	uint8_t wabereq, wacereq;
	uint8_t form_factor;           /* 0 n/r, 1 5.25", 2 3.5", 3 2.5", 4 1.8", 5 <1.8" */
	uint8_t zoned;
	int fuab, vbuls;
	size_t valid_len;
};
#define OSTOR_SCSI_VPD_BLOCK_CHARACTERISTICS_INIT \
	OSTOR_SIZED_INIT_(struct ostor_scsi_vpd_block_characteristics)
OSTOR_API int ostor_scsi_parse_vpd_block_characteristics(const uint8_t *buf, size_t len, struct ostor_scsi_vpd_block_characteristics *out);
/* "2.5 inch", ...; never NULL. */
OSTOR_API const char *ostor_scsi_form_factor_name(uint8_t form_factor);

/* VPD B2h Logical Block Provisioning. */
#define OSTOR_SCSI_PROV_NONE 0         /* full or not reported */
#define OSTOR_SCSI_PROV_RESOURCE 1
#define OSTOR_SCSI_PROV_THIN 2
/* Grows (the provisioning group descriptor is not decoded yet). */
struct ostor_scsi_vpd_lbp {
	uint32_t size;                 /* in: sizeof; out: bytes filled */
	uint8_t threshold_exponent;
	int lbpu;                      /* UNMAP supported */
	int lbpws;                     /* WRITE SAME(16) with UNMAP */
	int lbpws10;                   /* WRITE SAME(10) with UNMAP */
	uint8_t lbprz;                 /* 3 bits (SBC-4) */
	int anc_sup;                   /* ANCHOR supported */
	int dp;                        /* provisioning group descriptor */
	uint8_t minimum_percentage;
	uint8_t provisioning_type;
	uint8_t threshold_percentage;
	size_t valid_len;
};
#define OSTOR_SCSI_VPD_LBP_INIT OSTOR_SIZED_INIT_(struct ostor_scsi_vpd_lbp)
OSTOR_API int ostor_scsi_parse_vpd_lbp(const uint8_t *buf, size_t len, struct ostor_scsi_vpd_lbp *out);

/* MODE SENSE block descriptor number index (after parse_mode_sense6/10).
 * Short descriptors follow SBC (blocks = bytes 0-3, density_code = byte
 * 0 for devices using the general format); long (LONGLBA) ones have 64-bit
 * block counts.  OSTOR_ERROR_NOT_FOUND when it was not transferred.
 * Never grows (fixed layouts, decoded whole). */
struct ostor_scsi_block_descriptor {
	uint8_t density_code;
	uint64_t blocks;
	uint32_t block_length;
};
OSTOR_API int ostor_scsi_mode_block_descriptor(const uint8_t *buf, size_t len, const struct ostor_scsi_mode_header *h, size_t index, struct ostor_scsi_block_descriptor *out);

/* Never grows: the mode page header decoded whole, and the page's bytes. */
struct ostor_scsi_mode_page {
	uint8_t page;
	uint8_t subpage;
	int ps, spf;
	uint16_t page_length;          /* bytes after the page header */
	const uint8_t *data;           /* the page, header included */
	size_t len;                    /* header + page_length, all present */
};
/* h must come from parsing the same buf/len. */
OSTOR_API int ostor_scsi_mode_page_iter_init(struct ostor_scsi_iter *it, const uint8_t *buf, size_t len, const struct ostor_scsi_mode_header *h);
/* 1 with the next complete page in *p, 0 at the end (it->truncated set
 * when a page ran past the data). */
OSTOR_API int ostor_scsi_mode_page_next(struct ostor_scsi_iter *it, struct ostor_scsi_mode_page *p);

/* Caching mode page 08h.  Grows (the pre-fetch and cache segment fields
 * are not decoded yet). */
struct ostor_scsi_caching_page {
	uint32_t size;                 /* in: sizeof; out: bytes filled */
	int ic, abpf, cap, disc;
	int size_enable;               /* the SIZE bit */
	int wce, mf, rcd;
	uint8_t demand_read_retention, write_retention;
	int fsw, lbcss, dra, nv_dis;   /* valid when byte12_valid */
	int byte12_valid;
};
#define OSTOR_SCSI_CACHING_PAGE_INIT OSTOR_SIZED_INIT_(struct ostor_scsi_caching_page)
/* OSTOR_ERROR_INVALID_PARAM if p is not page 08h/00h,
 * OSTOR_ERROR_PROTOCOL if it is too short for WCE/RCD. */
OSTOR_API int ostor_scsi_parse_caching_page(const struct ostor_scsi_mode_page *p, struct ostor_scsi_caching_page *out);

/* LOG SENSE.  The header and parameter structs never grow (fixed layouts,
 * decoded whole). */
struct ostor_scsi_log_header {
	uint8_t page;
	uint8_t subpage;
	int ds, spf;
	uint16_t page_length;          /* as reported */
	size_t params_len;             /* parameter bytes present */
};
OSTOR_API int ostor_scsi_parse_log_sense(const uint8_t *buf, size_t len, struct ostor_scsi_log_header *out);
struct ostor_scsi_log_param {
	uint16_t code;
	uint8_t control;
	int du, tsd, etc;
	uint8_t tmc;
	uint8_t format_linking;
	uint8_t len;
	const uint8_t *value;          /* len bytes, all present */
};
OSTOR_API int ostor_scsi_log_param_iter_init(struct ostor_scsi_iter *it, const uint8_t *buf, size_t len);
OSTOR_API int ostor_scsi_log_param_next(struct ostor_scsi_iter *it, struct ostor_scsi_log_param *p);
/* A counter parameter as an integer (big-endian, up to 8 bytes);
 * OSTOR_ERROR_OVERFLOW when longer. */
OSTOR_API int ostor_scsi_log_param_value(const struct ostor_scsi_log_param *p, uint64_t *value);

/* READ FORMAT CAPACITIES.  Entry 0 is the current/maximum capacity
 * descriptor (descriptor_type 1 unformatted, 2 formatted, 3 no medium);
 * the others are formattable capacity descriptors (format_type).  Never
 * grows: an array element. */
struct ostor_scsi_format_capacity {
	uint32_t blocks;
	uint8_t descriptor_type;
	uint8_t format_type;
	uint32_t block_length;         /* 24 bits (type dependent in MMC) */
};
OSTOR_API int ostor_scsi_parse_read_format_capacities(const uint8_t *buf, size_t len, struct ostor_scsi_format_capacity *descs, size_t max, size_t *total);

/* ATA PASS-THROUGH status return: sense descriptor 09h in descriptor
 * format sense, or the SAT fixed-format layout.  Never grows: every
 * register of the descriptor. */
struct ostor_scsi_ata_return {
	int descriptor_format;
	int extend;
	uint8_t error;
	uint8_t status;
	uint8_t device;
	uint16_t count;
	uint64_t lba;
	int count_upper_nonzero;       /* fixed format: upper bytes lost */
	int lba_upper_nonzero;
};
/* OSTOR_ERROR_NOT_FOUND when the sense carries no ATA return. */
OSTOR_API int ostor_scsi_parse_ata_return(const uint8_t *sense, size_t len, struct ostor_scsi_ata_return *out);

/* Sense-key-specific progress indication (NOT READY / NO SENSE):
 * 0..65535 (of 65536), or -1 when the sense has none. */
OSTOR_API int ostor_scsi_sense_progress(const struct ostor_scsi_sense *sense);
/* Fixed format with the INFORMATION field set (VALID bit). */
OSTOR_API size_t ostor_scsi_build_sense_fixed_info(uint8_t *buf, size_t buflen, uint8_t key, uint8_t asc, uint8_t ascq, uint32_t information);
/* Descriptor format (72h); with info_valid, an information descriptor
 * (00h) carrying information.  Returns the length written (8 or 20), 0
 * when buf is too small or key > 0Fh. */
OSTOR_API size_t ostor_scsi_build_sense_descriptor(uint8_t *buf, size_t buflen, uint8_t key, uint8_t asc, uint8_t ascq, int info_valid, uint64_t information);

/* LUN encoding that reports errors: lun >= 16384 is
 * OSTOR_ERROR_INVALID_PARAM.  ostor_scsi_lun_encode() writes all FFh
 * (an address no device accepts) for such values instead. */
OSTOR_API int ostor_scsi_lun_encode_checked(uint32_t lun, uint8_t out[8]);

/* ======================================================================
 * Health: ATA commands through SCSI/ATA Translation (SAT-3, ACS-3)
 * ====================================================================
 * Builders for the ATA commands a health check sends through ATA
 * PASS-THROUGH, and decoders of what they return.  cdb_len picks the
 * pass-through: 16 for ATA PASS-THROUGH(16), 12 for (12) (for bridges
 * that lack (16)); anything else is OSTOR_ERROR_INVALID_PARAM.  Every one
 * of these commands uses 28-bit registers, so both forms carry it whole.
 * Data-in commands transfer one 512-byte sector per count (PIO data-in,
 * T_LENGTH in the count register, BYT_BLOK); the non-data commands whose
 * answer is in the registers set CK_COND, so the device returns them in
 * sense data (read them with ostor_scsi_parse_ata_return or the decoders
 * below). */

/* ATA command codes and SMART subcommands (FEATURES) used here. */
#define OSTOR_ATA_CMD_IDENTIFY_DEVICE 0xec
#define OSTOR_ATA_CMD_IDENTIFY_PACKET_DEVICE 0xa1
#define OSTOR_ATA_CMD_SMART 0xb0
#define OSTOR_ATA_CMD_CHECK_POWER_MODE 0xe5
#define OSTOR_ATA_SMART_READ_DATA 0xd0
#define OSTOR_ATA_SMART_READ_THRESHOLDS 0xd1
#define OSTOR_ATA_SMART_EXECUTE_OFFLINE_IMMEDIATE 0xd4
#define OSTOR_ATA_SMART_READ_LOG 0xd5
#define OSTOR_ATA_SMART_RETURN_STATUS 0xda
/* SMART logs read with SMART READ LOG. */
#define OSTOR_ATA_LOG_SUMMARY_ERROR 0x01
#define OSTOR_ATA_LOG_COMPREHENSIVE_ERROR 0x02
#define OSTOR_ATA_LOG_SELF_TEST 0x06
/* EXECUTE OFFLINE IMMEDIATE subcommands (LBA low); also the test type of
 * a self-test log entry. */
#define OSTOR_ATA_TEST_OFFLINE 0x00
#define OSTOR_ATA_TEST_SHORT 0x01
#define OSTOR_ATA_TEST_EXTENDED 0x02
#define OSTOR_ATA_TEST_CONVEYANCE 0x03
#define OSTOR_ATA_TEST_SELECTIVE 0x04
#define OSTOR_ATA_TEST_ABORT 0x7f
#define OSTOR_ATA_TEST_SHORT_CAPTIVE 0x81
#define OSTOR_ATA_TEST_EXTENDED_CAPTIVE 0x82
#define OSTOR_ATA_TEST_CONVEYANCE_CAPTIVE 0x83
#define OSTOR_ATA_TEST_SELECTIVE_CAPTIVE 0x84

/* IDENTIFY DEVICE (ECh): 512 bytes in. */
OSTOR_API int ostor_scsi_cdb_ata_identify(struct ostor_cdb *cdb, uint8_t cdb_len);
/* SMART RETURN STATUS (B0h/DAh): non-data, CK_COND; the verdict is in
 * LBA mid/high (ostor_scsi_parse_ata_smart_status). */
OSTOR_API int ostor_scsi_cdb_ata_smart_return_status(struct ostor_cdb *cdb, uint8_t cdb_len);
/* SMART READ DATA (B0h/D0h) and READ THRESHOLDS (B0h/D1h): 512 bytes in
 * each.  READ THRESHOLDS carries LBA low 1, as smartctl sends it. */
OSTOR_API int ostor_scsi_cdb_ata_smart_read_data(struct ostor_cdb *cdb, uint8_t cdb_len);
OSTOR_API int ostor_scsi_cdb_ata_smart_read_thresholds(struct ostor_cdb *cdb, uint8_t cdb_len);
/* SMART READ LOG (B0h/D5h): sectors (1..255) x 512 bytes of the log at
 * log_address (OSTOR_ATA_LOG_SELF_TEST, ...); sectors 0 is refused. */
OSTOR_API int ostor_scsi_cdb_ata_smart_read_log(struct ostor_cdb *cdb, uint8_t cdb_len, uint8_t log_address, uint8_t sectors);
/* SMART EXECUTE OFFLINE IMMEDIATE (B0h/D4h): non-data; test is the
 * subcommand, sent as given (OSTOR_ATA_TEST_SHORT, _EXTENDED, _ABORT, ...,
 * and the vendor-specific 40h-7Eh and 90h-FFh).  A captive
 * test (81h-84h) keeps the command busy until the test ends: give it a
 * timeout that long. */
OSTOR_API int ostor_scsi_cdb_ata_smart_offline_immediate(struct ostor_cdb *cdb, uint8_t cdb_len, uint8_t test);
/* CHECK POWER MODE (E5h): non-data, CK_COND; the mode is in the count
 * register (ostor_scsi_parse_ata_power_mode). */
OSTOR_API int ostor_scsi_cdb_ata_check_power_mode(struct ostor_cdb *cdb, uint8_t cdb_len);

/* SAT detection.  Evidence that a LUN is an ATA device behind SAT: the
 * INQUIRY vendor "ATA" (SAT-3 requires it of a translating device; many
 * USB bridges report the drive maker or their own name instead) and VPD
 * page 89h in the supported VPD pages.  Neither is proof and their absence
 * proves nothing: the test that settles it is an ATA PASS-THROUGH
 * IDENTIFY DEVICE that succeeds. */
#define OSTOR_SCSI_SAT_VENDOR_ATA 0x01
#define OSTOR_SCSI_SAT_VPD_89 0x02
/* inquiry (may be NULL) from ostor_scsi_parse_inquiry; vpd00/vpd00_len a
 * VPD 00h response (NULL/0 when not read).  Returns the OSTOR_SCSI_SAT_*
 * bits found, 0 when none. */
OSTOR_API int ostor_scsi_sat_evidence(const struct ostor_scsi_inquiry *inquiry, const uint8_t *vpd00, size_t vpd00_len);
/* The device behind the bridge, from the signature of VPD 89h (LBA
 * mid/high of the device's reset signature). */
#define OSTOR_ATA_SIG_UNKNOWN 0        /* not transferred or not recognised */
#define OSTOR_ATA_SIG_ATA 1            /* 00h/00h: ATA device (a disk) */
#define OSTOR_ATA_SIG_ATAPI 2          /* 14h/EBh: ATAPI (packet) device */
#define OSTOR_ATA_SIG_ZAC 3            /* CDh/ABh: host managed zoned */
#define OSTOR_ATA_SIG_SEMB 4           /* 3Ch/C3h: enclosure bridge */
#define OSTOR_ATA_SIG_PORT_MULTIPLIER 5 /* 69h/96h */
OSTOR_API int ostor_scsi_ata_signature_type(const struct ostor_scsi_vpd_ata_info *info);

/* IDENTIFY DEVICE data (ACS-3 7.12.7), the fields a health report and a
 * smartctl -i user look for.  Grows (ACS adds words with every revision).
 * Feature fields are 1 supported/enabled, 0 not, and -1 when the device
 * did not say: the words carrying them are marked not valid (words 82-84
 * by word 83 or 84 bits 15:14 != 01b, words 85-87 by word 87) or were not
 * transferred. */
struct ostor_scsi_ata_identify {
	uint32_t size;                 /* in: sizeof; out: bytes filled */
	char model[41];                /* words 27-46, byte-swapped, trimmed */
	char serial[21];               /* words 10-19 */
	char firmware[9];              /* words 23-26 */
	int packet_device;             /* word 0 bit 15: ATAPI data, not ATA */
	uint16_t major_version;        /* word 80 (0 when 0000h/FFFFh) */
	uint16_t minor_version;        /* word 81 */
	uint64_t sectors;              /* user addressable logical sectors */
	uint64_t sectors_28;           /* words 60-61 */
	uint64_t sectors_48;           /* words 100-103 (230-233 when larger) */
	uint32_t logical_sector_size;  /* bytes (0 without LBA) */
	uint32_t physical_sector_size;
	uint32_t logical_sector_offset; /* word 209: first LBA's offset in its
					 * physical sector, in logical sectors */
	uint64_t capacity_bytes;       /* sectors x logical_sector_size */
	uint16_t rotation_rate;        /* word 217: 0 n/r, 1 non-rotating, rpm */
	uint8_t form_factor;           /* word 168: 0 n/r, 1 5.25", 2 3.5", 3 2.5", 4 1.8", 5 <1.8" */
	int lba_supported;             /* word 49 bit 9 */
	int dma_supported;             /* word 49 bit 8 */
	int lba48_supported;           /* word 83 bit 10 (tri-state) */
	int smart_supported;           /* word 82 bit 0 (tri-state) */
	int smart_enabled;             /* word 85 bit 0 (tri-state) */
	int self_test_supported;       /* word 84/87 bit 1 (tri-state) */
	int error_log_supported;       /* word 84/87 bit 0 (tri-state) */
	int gp_logging_supported;      /* word 84/87 bit 5 (tri-state) */
	int write_cache_supported;     /* word 82 bit 5 (tri-state) */
	int write_cache_enabled;       /* word 85 bit 5 (tri-state) */
	int read_look_ahead_supported; /* word 82 bit 6 (tri-state) */
	int read_look_ahead_enabled;   /* word 85 bit 6 (tri-state) */
	int apm_supported;             /* word 83 bit 3 (tri-state) */
	int apm_enabled;               /* word 86 bit 3 (tri-state) */
	uint8_t apm_level;             /* word 91 (valid when apm_enabled) */
	int puis_supported;            /* word 83 bit 5 (tri-state) */
	int puis_enabled;              /* word 86 bit 5 (tri-state) */
	int security_supported;        /* word 128 bit 0 */
	int security_enabled;          /* word 128 bit 1 */
	int security_locked;           /* word 128 bit 2 */
	int security_frozen;           /* word 128 bit 3 */
	int trim_supported;            /* word 169 bit 0 (DSM TRIM) */
	int trim_deterministic;        /* word 69 bit 14 */
	int trim_zeroes;               /* word 69 bit 5 */
	int ncq_supported;             /* word 76 bit 8 */
	uint8_t queue_depth;           /* word 75 bits 4:0 + 1 (with NCQ) */
	uint8_t sata_gen_max;          /* word 76: 1 1.5, 2 3.0, 3 6.0 Gb/s; 0 n/r */
	uint8_t sata_gen_current;      /* word 77 bits 3:1, same coding */
	int sct_supported;             /* word 206 bit 0 */
	int sct_erc_supported;         /* word 206 bit 3 (error recovery control) */
	int wwn_valid;                 /* word 84/87 bit 8 */
	uint64_t wwn;                  /* words 108-111, NAA first */
	int checksum_present;          /* word 255 low byte A5h */
	int checksum_ok;               /* present and the 512 bytes sum to 0 */
	size_t valid_len;              /* bytes really decoded (whole words) */
};
#define OSTOR_SCSI_ATA_IDENTIFY_INIT OSTOR_SIZED_INIT_(struct ostor_scsi_ata_identify)
/* IDENTIFY DEVICE data (512 bytes; IDENTIFY PACKET DEVICE data decodes
 * too, packet_device set).  Needs 2 bytes; a shorter transfer decodes the
 * whole words that arrived, the rest 0, "" or -1 (valid_len says how far).
 * The capacity follows ACS (and smartctl): 0 without LBA; the 48-bit count
 * when the 48-bit feature set is supported and it is not smaller than the
 * 28-bit one (or the logical sectors are long).  A bad checksum is reported
 * (checksum_ok 0), not refused: the fields are decoded anyway. */
OSTOR_API int ostor_scsi_parse_ata_identify(const uint8_t *buf, size_t len, struct ostor_scsi_ata_identify *out);
/* "ACS-3", "ATA8-ACS", ... for the highest standard word 80 claims;
 * "not reported" for 0; never NULL. */
OSTOR_API const char *ostor_scsi_ata_major_version_name(uint16_t major_version);

/* Whether a 512-byte structure ATA protects with a checksum (SMART data,
 * thresholds, log sectors, IDENTIFY with A5h) is intact: len >= 512 and
 * its first 512 bytes sum to 0 modulo 256.  0 otherwise (shorter too). */
OSTOR_API int ostor_scsi_ata_checksum_ok(const uint8_t *sector, size_t len);

/* SMART RETURN STATUS verdict. */
#define OSTOR_ATA_HEALTH_UNKNOWN 0     /* said plainly in .text: why */
#define OSTOR_ATA_HEALTH_PASSED 1      /* LBA mid/high 4Fh/C2h */
#define OSTOR_ATA_HEALTH_FAILING 2     /* LBA mid/high F4h/2Ch: threshold exceeded */
/* Never grows: the verdict and the registers it was read from, whole. */
struct ostor_scsi_ata_smart_status {
	int verdict;                   /* OSTOR_ATA_HEALTH_* */
	int registers_present;         /* the sense carried the ATA registers */
	struct ostor_scsi_ata_return regs; /* when registers_present */
	uint8_t lba_mid, lba_high;     /* from regs */
	/* Only LBA mid matched 4Fh or F4h (high did not): a bridge that
	 * truncates the registers; smartctl reads this as that verdict. Here
	 * the verdict stays UNKNOWN and this says what mid alone meant. */
	int mid_only_verdict;
	const char *text;              /* static, never NULL */
};
/* From the sense data of SMART RETURN STATUS (CK_COND): the ATA return
 * descriptor (09h) of descriptor-format sense, or the SAT fixed format
 * (00h/1Dh).  No sense at all (len 0: the bridge ignored CK_COND), sense
 * without registers, an aborted command (status ERR: SMART disabled or
 * unsupported) and unexpected LBA mid/high values give UNKNOWN with the
 * reason in .text (F4h/2Ch is FAILING even with ERR: only a drive that
 * checked its thresholds writes it).  Returns 0 (OSTOR_ERROR_INVALID_PARAM
 * for out NULL). */
OSTOR_API int ostor_scsi_parse_ata_smart_status(const uint8_t *sense, size_t len, struct ostor_scsi_ata_smart_status *out);
/* "PASSED", "FAILING", "UNKNOWN"; never NULL. */
OSTOR_API const char *ostor_scsi_ata_health_name(int verdict);

/* SMART attribute flags (bits of the attribute's flags word). */
#define OSTOR_ATA_ATTR_PREFAIL 0x0001  /* pre-failure (else old age) */
#define OSTOR_ATA_ATTR_ONLINE 0x0002   /* updated during normal operation */
#define OSTOR_ATA_ATTR_PERFORMANCE 0x0004
#define OSTOR_ATA_ATTR_ERROR_RATE 0x0008
#define OSTOR_ATA_ATTR_EVENT_COUNT 0x0010
#define OSTOR_ATA_ATTR_SELF_PRESERVING 0x0020
/* Never grows: an array element (one attribute of SMART READ DATA with its
 * threshold). */
struct ostor_scsi_ata_smart_attr {
	uint8_t id;
	uint16_t flags;                /* OSTOR_ATA_ATTR_* */
	int prefail;                   /* flags & OSTOR_ATA_ATTR_PREFAIL */
	uint8_t value;                 /* normalized current value */
	uint8_t worst;
	int threshold_valid;           /* a threshold entry with this id came */
	uint8_t threshold;
	uint8_t raw[6];                /* as sent, least significant first */
	uint64_t raw_value;            /* the 48 bits as one number */
	/* With threshold != 0 (0 means "always passing"): */
	int below_threshold;           /* value <= threshold (smartctl FAILING_NOW) */
	int failing_now;               /* below_threshold and prefail: the drive
					* predicts its own failure */
	int failed_past;               /* worst <= threshold (smartctl In_the_past
					* when not below now) */
	const char *name;              /* ostor_scsi_ata_attr_name(id) */
};
#define OSTOR_ATA_SMART_ATTRS_MAX 30
/* SMART READ DATA (with READ THRESHOLDS).  Grows (more of the vendor
 * specific sector may be decoded). */
struct ostor_scsi_ata_smart_data {
	uint32_t size;                 /* in: sizeof; out: bytes filled */
	uint16_t revision;             /* bytes 0-1 */
	int checksum_ok;               /* of the data sector (byte 511) */
	int thresholds_present;        /* a thresholds sector was given */
	int thresholds_checksum_ok;
	size_t count;                  /* attributes in attrs (id != 0) */
	struct ostor_scsi_ata_smart_attr attrs[OSTOR_ATA_SMART_ATTRS_MAX];
	int any_failing_now;           /* some attribute has failing_now */
	int any_below_threshold;
	int any_failed_past;
	uint8_t offline_status;        /* byte 362 */
	uint8_t self_test_status;      /* byte 363 bits 7:4 (as a log entry's) */
	uint8_t self_test_remaining;   /* percent left, byte 363 bits 3:0 x 10 */
	uint16_t offline_seconds;      /* bytes 364-365 */
	uint8_t offline_capability;    /* byte 367 */
	uint16_t smart_capability;     /* bytes 368-369 */
	int error_logging_supported;   /* byte 370 bit 0 */
	int self_test_supported;       /* byte 367 bit 4 */
	int conveyance_test_supported; /* byte 367 bit 5 */
	int selective_test_supported;  /* byte 367 bit 6 */
	uint8_t short_test_minutes;    /* byte 372 */
	uint16_t extended_test_minutes; /* byte 373, or 375-376 when FFh */
	uint8_t conveyance_test_minutes; /* byte 374 */
	int temperature;               /* Celsius from attribute 194, else 190
					* (raw byte 0, 1..127); 0 none */
	uint8_t temperature_id;        /* the attribute it came from, 0 none */
	size_t valid_len;              /* bytes of the data sector decoded */
};
#define OSTOR_SCSI_ATA_SMART_DATA_INIT OSTOR_SIZED_INIT_(struct ostor_scsi_ata_smart_data)
/* data/data_len: SMART READ DATA; thresholds/thr_len: SMART READ
 * THRESHOLDS (NULL/0 without).  Attributes are decoded from the entries
 * whose 12 bytes arrived (an entry with id 0 is unused), thresholds
 * matched by id; the fields after them only when transferred.  Needs 2
 * bytes of data.  Bad checksums are reported (checksum_ok 0), not refused:
 * many bridges and some drives get them wrong. */
OSTOR_API int ostor_scsi_parse_ata_smart_data(const uint8_t *data, size_t data_len, const uint8_t *thresholds, size_t thr_len, struct ostor_scsi_ata_smart_data *out);
/* smartctl's default attribute name ("Reallocated_Sector_Ct",
 * "Temperature_Celsius", ...); "Unknown_Attribute" for the others.  Never
 * NULL. */
OSTOR_API const char *ostor_scsi_ata_attr_name(uint8_t id);
/* The raw value as smartctl prints it by default for this id (raw48,
 * raw16(raw16), raw16(avg16), raw24(raw8), tempminmax: "35 (Min/Max
 * 18/47)").  Returns buf (always NUL-terminated), "" when buflen is 0. */
OSTOR_API const char *ostor_scsi_ata_attr_raw_text(const struct ostor_scsi_ata_smart_attr *attr, char *buf, size_t buflen);

/* Self-test execution status (bits 7:4): "Completed without error",
 * "Aborted by host", ..., "Self-test routine in progress". Never NULL. */
OSTOR_API const char *ostor_scsi_ata_self_test_status_name(uint8_t status);
/* Test type (the subcommand): "Short offline", "Extended captive", ...,
 * "Vendor specific", "Reserved".  Never NULL. */
OSTOR_API const char *ostor_scsi_ata_self_test_type_name(uint8_t test);

/* Never grows: an array element, one self-test log descriptor whole. */
struct ostor_scsi_ata_self_test_entry {
	uint8_t number;                /* descriptor 1..21 in the sector */
	uint8_t test;                  /* LBA low: OSTOR_ATA_TEST_* */
	uint8_t status;                /* bits 7:4 of the status byte */
	uint8_t remaining;             /* percent left (bits 3:0 x 10) */
	uint16_t lifetime_hours;       /* power-on hours at the test */
	uint8_t checkpoint;            /* failure checkpoint */
	uint32_t failing_lba;          /* bytes 5-8 as sent */
	int failed;                    /* status 3..8: the test found an error */
	int failing_lba_valid;         /* failed and failing_lba != FFFFFFFFh */
};
#define OSTOR_ATA_SELF_TEST_LOG_ENTRIES 21
/* SMART self-test log (log 06h).  Grows (the vendor bytes may be
 * decoded). */
struct ostor_scsi_ata_self_test_log {
	uint32_t size;                 /* in: sizeof; out: bytes filled */
	uint16_t revision;             /* 0001h */
	int checksum_ok;
	uint8_t index;                 /* byte 508: newest descriptor, 0 none */
	size_t count;                  /* entries, newest first */
	struct ostor_scsi_ata_self_test_entry entries[OSTOR_ATA_SELF_TEST_LOG_ENTRIES];
	size_t failed_count;           /* entries with failed set */
};
#define OSTOR_SCSI_ATA_SELF_TEST_LOG_INIT OSTOR_SIZED_INIT_(struct ostor_scsi_ata_self_test_log)
/* Needs the whole 512-byte sector (the index, byte 508, says which entry
 * is newest): shorter is OSTOR_ERROR_PROTOCOL.  Entries go newest first
 * around the circular list, all-zero (unused) descriptors skipped, as
 * smartctl lists them; index 0 means an empty log (count 0).  A bad
 * checksum is reported, not refused. */
OSTOR_API int ostor_scsi_parse_ata_self_test_log(const uint8_t *buf, size_t len, struct ostor_scsi_ata_self_test_log *out);

/* CHECK POWER MODE: the count register. */
#define OSTOR_ATA_POWER_UNKNOWN 0      /* registers missing or a reserved value */
#define OSTOR_ATA_POWER_ACTIVE 1       /* FFh: active or idle; 41h (NV cache, spun up) */
#define OSTOR_ATA_POWER_IDLE 2         /* 80h-83h: idle (EPC idle_a/b/c) */
#define OSTOR_ATA_POWER_STANDBY 3      /* 00h, 01h (standby_y), 40h (NV cache, spun down) */
/* Never grows: the mode, the register and its reading. */
struct ostor_scsi_ata_power_mode {
	int mode;                      /* OSTOR_ATA_POWER_* */
	int registers_present;
	uint8_t count;                 /* the count register, when present */
	const char *text;              /* static, never NULL: "standby",
					* "idle_b", "active or idle", or why
					* unknown */
};
/* From the sense data of CHECK POWER MODE (CK_COND), as for
 * ostor_scsi_parse_ata_smart_status.  Returns 0. */
OSTOR_API int ostor_scsi_parse_ata_power_mode(const uint8_t *sense, size_t len, struct ostor_scsi_ata_power_mode *out);
/* The same from a count register value read another way. */
OSTOR_API int ostor_scsi_ata_power_mode_from_count(uint8_t count);
/* "active", "idle", "standby", "unknown"; never NULL. */
OSTOR_API const char *ostor_scsi_ata_power_mode_name(int mode);

/* ======================================================================
 * Health: native SCSI log pages (SPC-4, SBC-3) and informational
 * exceptions.  Each decoder takes a whole LOG SENSE response (header
 * included), checks the page code and reads its parameters through the
 * log parameter iterator, so a parameter cut short by the transfer or by
 * PAGE LENGTH is never decoded.
 * ==================================================================== */

#define OSTOR_SCSI_LOG_SUPPORTED_PAGES 0x00
#define OSTOR_SCSI_LOG_TEMPERATURE 0x0d
#define OSTOR_SCSI_LOG_SELF_TEST 0x10
#define OSTOR_SCSI_LOG_BACKGROUND_SCAN 0x15
#define OSTOR_SCSI_LOG_INFORMATIONAL_EXCEPTIONS 0x2f

/* Never grows: an array element. */
struct ostor_scsi_log_page_id {
	uint8_t page;
	uint8_t subpage;
};
/* Page 00h: the supported pages (subpage 00h: a byte per page, subpage
 * 0), or with subpage FFh (00h/FFh, or NNh/FFh for the subpages of one
 * page) the supported page/subpage pairs.  Stores up to max; returns how
 * many were stored, *total (may be NULL) how many arrived. */
OSTOR_API int ostor_scsi_parse_log_supported(const uint8_t *buf, size_t len, struct ostor_scsi_log_page_id *ids, size_t max, size_t *total);
/* Whether page/subpage appears in such a response (0 or 1). */
OSTOR_API int ostor_scsi_log_supports(const uint8_t *buf, size_t len, uint8_t page, uint8_t subpage);

/* Page 0Dh Temperature.  Never grows: the page's two parameters whole.
 * A value of FFh ("not available") is reported as not valid. */
struct ostor_scsi_log_temperature {
	int current_valid;
	uint8_t current;               /* parameter 0000h, Celsius */
	int reference_valid;
	uint8_t reference;             /* parameter 0001h: the maximum reliable
					* operating temperature */
};
OSTOR_API int ostor_scsi_parse_log_temperature(const uint8_t *buf, size_t len, struct ostor_scsi_log_temperature *out);

/* Informational exceptions (SPC-4 ASC 0Bh warnings, 5Dh failure
 * prediction).  From an ASC/ASCQ pair (sense data, page 2Fh, REQUEST
 * SENSE after an IE with MRIE 6). */
#define OSTOR_SCSI_IE_NONE 0
#define OSTOR_SCSI_IE_FAILURE_PREDICTED 1 /* 5Dh/00h-FEh: the device predicts
					   * its own failure */
#define OSTOR_SCSI_IE_FALSE 2          /* 5Dh/FFh: the test (TEST bit), not real */
#define OSTOR_SCSI_IE_WARNING 3        /* 0Bh/NNh: warning (temperature, ...) */
OSTOR_API int ostor_scsi_informational_exception(uint8_t asc, uint8_t ascq);

/* Page 2Fh Informational Exceptions, parameter 0000h.  Never grows: the
 * general parameter's fields whole. */
struct ostor_scsi_log_ie {
	int present;                   /* parameter 0000h with ASC/ASCQ came */
	uint8_t asc, ascq;             /* 00h/00h: nothing to report */
	int exception;                 /* ostor_scsi_informational_exception() */
	int temperature_valid;
	uint8_t temperature;           /* most recent reading, Celsius */
	int trip_temperature_valid;    /* the vendor byte after it (IBM and
					* Seagate use it for the trip point) */
	uint8_t trip_temperature;
};
OSTOR_API int ostor_scsi_parse_log_ie(const uint8_t *buf, size_t len, struct ostor_scsi_log_ie *out);

/* Page 10h Self-Test Results.  Never grows: an array element, one
 * parameter (0001h newest .. 0014h) whole. */
struct ostor_scsi_log_self_test {
	uint16_t param_code;           /* 1 = most recent */
	uint8_t code;                  /* self-test code (SEND DIAGNOSTIC) */
	uint8_t result;                /* 0 passed .. 7, 15 in progress */
	uint8_t number;                /* self-test number (failed segment) */
	uint16_t power_on_hours;       /* 0 with result 15: running now */
	int lba_valid;                 /* result 1..14 and not all FFh */
	uint64_t first_failure_lba;
	uint8_t sense_key, asc, ascq;
	uint8_t vendor;
};
/* Stores up to max entries in page order (newest first) and stops at the
 * first unused one (power-on hours 0 and code/result byte 0, the way
 * smartctl reads the page); parameters other than 0001h-0014h or shorter
 * than 16 bytes are skipped.  Returns how many were stored; *total (may be
 * NULL) how many were present. */
OSTOR_API int ostor_scsi_parse_log_self_test(const uint8_t *buf, size_t len, struct ostor_scsi_log_self_test *out, size_t max, size_t *total);
/* "Completed", "Aborted (by user command)", ...; never NULL. */
OSTOR_API const char *ostor_scsi_self_test_result_name(uint8_t result);
/* A failed result (3..7): the test found an error. */
OSTOR_API int ostor_scsi_self_test_result_failed(uint8_t result);
/* The self-test code (0..7): "Default", "Background short",
 * "Foreground long", ...; never NULL. */
OSTOR_API const char *ostor_scsi_self_test_code_name(uint8_t code);

/* Page 15h Background Scan Results (SBC-3).  Never grow: parameter 0000h
 * and one medium scan parameter (0001h-0800h) whole. */
struct ostor_scsi_log_bg_scan_status {
	int present;
	uint32_t power_on_minutes;
	uint8_t status;                /* 0 none active, 1 scanning, ... */
	uint16_t scans_performed;
	uint16_t progress;             /* of 65536 */
	uint16_t medium_scans_performed;
};
struct ostor_scsi_log_bg_scan_entry {
	uint16_t param_code;
	uint32_t power_on_minutes;
	uint8_t reassign_status;
	uint8_t sense_key, asc, ascq;
	uint64_t lba;
};
/* status may be NULL; entries up to max.  Returns how many entries were
 * stored, *total (may be NULL) how many were present. */
OSTOR_API int ostor_scsi_parse_log_bg_scan(const uint8_t *buf, size_t len, struct ostor_scsi_log_bg_scan_status *status, struct ostor_scsi_log_bg_scan_entry *entries, size_t max, size_t *total);
/* "no scans active", "scan is active", ...; never NULL. */
OSTOR_API const char *ostor_scsi_bg_scan_status_name(uint8_t status);
/* "Successfully reassigned", ...; never NULL. */
OSTOR_API const char *ostor_scsi_bg_scan_reassign_name(uint8_t reassign_status);

#ifdef __cplusplus
}
#endif

#endif /* ORIONSTOR_SCSI_H */
