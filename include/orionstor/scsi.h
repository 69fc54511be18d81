/*
 * orionstor/scsi.h - pure SCSI: CDB builders, response and sense decoders.
 *
 * Nothing here touches a transport.  Builders fill a struct ostor_cdb and
 * return 0 or a negative enum ostor_error (a field that does not fit the
 * command is OSTOR_ERROR_INVALID_PARAM, never silently truncated).
 * Decoders take the bytes actually transferred and never trust a length
 * field written by the device beyond them.
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
/* The scsi helper adds the remaining builders (VERIFY, MODE SELECT, START
 * STOP UNIT, PREVENT ALLOW, LOG SENSE, WRITE SAME, UNMAP, ATA PASS-THROUGH,
 * SEND DIAGNOSTIC, READ FORMAT CAPACITIES) below. */

/* ---- decoded responses ----------------------------------------------- */
struct ostor_scsi_inquiry {
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
/* Needs at least 5 bytes; shorter fields get "" when not transferred. */
OSTOR_API int ostor_scsi_parse_inquiry(const uint8_t *buf, size_t len, struct ostor_scsi_inquiry *out);

struct ostor_scsi_read_capacity {
	uint64_t last_lba;
	uint32_t block_size;
	uint64_t blocks;               /* last_lba + 1, 0 if it would overflow */
	/* (16) only: */
	int prot_en;
	uint8_t p_type;
	uint8_t lbppbe;                /* logical blocks per physical block exponent */
	int lbpme, lbprz;
	uint16_t lowest_aligned_lba;
};
OSTOR_API int ostor_scsi_parse_read_capacity10(const uint8_t *buf, size_t len, struct ostor_scsi_read_capacity *out);
OSTOR_API int ostor_scsi_parse_read_capacity16(const uint8_t *buf, size_t len, struct ostor_scsi_read_capacity *out);

/* VPD B0h Block Limits (0 = not reported). */
struct ostor_scsi_vpd_block_limits {
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
};
OSTOR_API int ostor_scsi_parse_vpd_block_limits(const uint8_t *buf, size_t len, struct ostor_scsi_vpd_block_limits *out);

/* VPD 80h: serial copied trimmed into out (always NUL-terminated). */
OSTOR_API int ostor_scsi_parse_vpd_serial(const uint8_t *buf, size_t len, char *out, size_t outlen);

/* MODE SENSE header: write protect bit and block descriptor info. */
struct ostor_scsi_mode_header {
	uint16_t mode_data_length;
	uint8_t medium_type;
	uint8_t device_specific;
	int write_protected;           /* device_specific bit 7 (direct access) */
	int dpofua;
	uint16_t block_descriptor_length;
	size_t pages_offset;           /* offset of the first mode page in buf */
	size_t pages_len;              /* bytes of mode pages actually present */
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
struct ostor_scsi_sense {
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
};
/* Decodes fixed and descriptor format, bounded by len and the device's
 * additional length, whichever is smaller.  Returns 0 when a sense key
 * could be read, OSTOR_ERROR_PROTOCOL for garbage/too short. */
OSTOR_API int ostor_scsi_parse_sense(const uint8_t *buf, size_t len, struct ostor_scsi_sense *out);
/* "ILLEGAL REQUEST: Logical block address out of range (21h/00h)" */
OSTOR_API const char *ostor_scsi_sense_text(const struct ostor_scsi_sense *sense, char *buf, size_t buflen);
/* Build fixed-format sense (18 bytes) for targets/simulators; returns len. */
OSTOR_API size_t ostor_scsi_build_sense_fixed(uint8_t *buf, size_t buflen, uint8_t key, uint8_t asc, uint8_t ascq);

#ifdef __cplusplus
}
#endif

#endif /* ORIONSTOR_SCSI_H */
