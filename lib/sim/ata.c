/*
 * lib/sim/ata.c - an ATA disk behind a USB bridge, as the simulated
 * target's health model: a SCSI/ATA Translation bridge (SAT-3: ATA
 * PASS-THROUGH(16) 85h and (12) A1h, VPD 89h) or a JMicron bridge (its
 * vendor command DFh, no SAT).  The disk answers IDENTIFY DEVICE, SMART
 * (READ DATA, READ THRESHOLDS, READ LOG 00h/06h, EXECUTE OFFLINE
 * IMMEDIATE, RETURN STATUS, ENABLE/DISABLE OPERATIONS), CHECK POWER MODE,
 * IDLE IMMEDIATE and STANDBY IMMEDIATE; anything else is aborted (ERR,
 * ABRT) as a drive does.
 *
 * The bridge checks the pass-through CDB against the command the way a
 * SAT bridge does: PIO data-in commands want protocol 4, T_DIR from the
 * device and a transfer length (count or features register, in 512-byte
 * blocks, logical sectors or bytes) equal to what the command moves;
 * non-data commands want protocol 3 and T_LENGTH 0.  A mismatch is
 * ILLEGAL REQUEST, INVALID FIELD IN CDB pointing at the field.
 *
 * Self-tests complete at once ("completed without error" in the SMART
 * self-test log at the current power-on hours); abort (7Fh) logs "aborted
 * by host".  SMART commands that need the medium (READ DATA, THRESHOLDS,
 * LOG, OFFLINE IMMEDIATE) bring an idle or standby LU back to active;
 * CHECK POWER MODE, RETURN STATUS and IDENTIFY do not (smartctl -n relies
 * on that).
 *
 * Copyright (C) 2026 The liborionstor authors.  LGPL-2.1-or-later.
 */
#include "sim/target_priv.h"

#include <stdio.h>
#include <string.h>

#define ATA_MODEL "ORIONSTOR SIM ATA DISK"
#define ATA_SECTOR 512u

#define ST_OK 0x50                  /* DRDY, DSC */
#define ST_ERR 0x51                 /* ... and ERR */
#define ER_ABRT 0x04

#define CMD_IDENTIFY 0xec
#define CMD_SMART 0xb0
#define CMD_CHECK_POWER_MODE 0xe5
#define CMD_IDLE_IMMEDIATE 0xe1
#define CMD_STANDBY_IMMEDIATE 0xe0
#define SMART_READ_DATA 0xd0
#define SMART_READ_THRESHOLDS 0xd1
#define SMART_ENABLE_AUTOSAVE 0xd2
#define SMART_OFFLINE_IMMEDIATE 0xd4
#define SMART_READ_LOG 0xd5
#define SMART_ENABLE 0xd8
#define SMART_DISABLE 0xd9
#define SMART_RETURN_STATUS 0xda

/* JMicron: the register read "command" and the addresses the model has. */
#define JM_REGISTER_READ 0xfd
#define JM_REG_PORTS 0x720f
#define JM_REG_PORT0 0x8000         /* 16 bytes: the last command's registers */
#define JM_MAX_REGISTER_READ 512u

struct ata_in {
	uint8_t features, count, lba_low, lba_mid, lba_high, device, command;
};

/* ---- the disk's data ------------------------------------------------------ */

static void put_string(uint8_t *id, unsigned int word, unsigned int nwords, const char *s)
{
	size_t l = strlen(s);

	/* Two characters a word, the first in the high byte. */
	for (size_t i = 0; i < 2u * nwords; i++)
		id[2u * word + (i ^ 1u)] = (uint8_t)(i < l ? s[i] : ' ');
}

static void put_word(uint8_t *id, unsigned int word, uint16_t v)
{
	ostori_put_le16(id + 2u * word, v);
}

/* Byte 511: the sum of all 512 bytes is 0. */
static void checksum(uint8_t *sector)
{
	uint8_t sum = 0;

	for (size_t i = 0; i < 511; i++)
		sum = (uint8_t)(sum + sector[i]);
	sector[511] = (uint8_t)-sum;
}

static uint16_t power_on_hours(const struct sim_lu *lu)
{
	return (uint16_t)OSTOR_MIN(sim_power_on_minutes(lu) / 60u, 0xffffu);
}

void sim_ata_identify(const struct sim_lu *lu, uint8_t *id)
{
	uint64_t n48 = lu->blocks, wwn;
	char fw[9];
	uint16_t w;

	memset(id, 0, ATA_SECTOR);
	put_word(id, 0, 0x0040);                /* fixed device */
	put_word(id, 1, 16383);
	put_word(id, 3, 16);
	put_word(id, 6, 63);
	put_string(id, 10, 10, lu->serial);     /* the sim serial, 20 characters */
	snprintf(fw, sizeof(fw), "OSIM%s", lu->revision);
	put_string(id, 23, 4, fw);
	put_string(id, 27, 20, ATA_MODEL);
	put_word(id, 47, 0x8010);
	put_word(id, 49, 0x0300);               /* LBA, DMA */
	put_word(id, 53, 0x0006);
	put_word(id, 60, (uint16_t)OSTOR_MIN(n48, 0x0fffffffu));
	put_word(id, 61, (uint16_t)(OSTOR_MIN(n48, 0x0fffffffu) >> 16));
	put_word(id, 63, 0x0007);
	put_word(id, 64, 0x0003);
	for (unsigned int i = 65; i <= 68; i++)
		put_word(id, i, 120);
	put_word(id, 75, 31);                   /* queue depth 32 */
	put_word(id, 76, 0x010e);               /* SATA 1.5/3.0/6.0 Gb/s, NCQ */
	put_word(id, 77, 0x0006);               /* running at 6.0 Gb/s */
	put_word(id, 80, 0x07e0);               /* ATA/ATAPI-5 .. ACS-3 */
	put_word(id, 81, 0x011b);
	/* SMART, power management, write cache, look-ahead, write/read
	 * buffer, NOP; 48-bit, FLUSH CACHE (EXT); self-test, WWN. */
	put_word(id, 82, 0x7069);
	put_word(id, 83, 0x7400);
	put_word(id, 84, 0x4102);
	w = 0x7069;
	if (!lu->smart_enabled)
		w &= (uint16_t)~1u;
	if (!lu->wce)
		w &= (uint16_t)~0x20u;
	put_word(id, 85, w);
	put_word(id, 86, 0x3400);
	put_word(id, 87, 0x4102);
	put_word(id, 88, 0x407f);               /* UDMA 0-6, 6 selected */
	for (unsigned int i = 0; i < 4; i++)
		put_word(id, 100 + i, (uint16_t)(n48 >> (16 * i)));
	if (lu->block_size != ATA_SECTOR) {
		/* Long logical sectors: the size in words (117-118). */
		put_word(id, 106, 0x5000);
		put_word(id, 117, (uint16_t)(lu->block_size / 2));
		put_word(id, 118, (uint16_t)(lu->block_size / 2 >> 16));
	} else {
		put_word(id, 106, 0x4000);
	}
	wwn = (5ull << 60) | (lu->naa & 0x0fffffffffffffffull);
	for (unsigned int i = 0; i < 4; i++)
		put_word(id, 108 + i, (uint16_t)(wwn >> (48 - 16 * i)));
	put_word(id, 168, 0x0002);              /* 3.5" */
	put_word(id, 217, 7200);                /* rpm */
	id[510] = 0xa5;
	checksum(id);
}

/* The attribute table: SMART READ DATA and READ THRESHOLDS. */
struct attr {
	uint8_t id;
	uint16_t flags;
	uint8_t value, worst, threshold;
};

static const struct attr attrs[] = {
	{ 1, 0x000f, 100, 100, 6 },             /* Raw_Read_Error_Rate */
	{ 3, 0x0003, 97, 97, 0 },               /* Spin_Up_Time */
	{ 4, 0x0032, 100, 100, 20 },            /* Start_Stop_Count */
	{ 5, 0x0033, 100, 100, 10 },            /* Reallocated_Sector_Ct (faults) */
	{ 9, 0x0032, 99, 99, 0 },               /* Power_On_Hours */
	{ 10, 0x0013, 100, 100, 97 },           /* Spin_Retry_Count */
	{ 12, 0x0032, 100, 100, 20 },           /* Power_Cycle_Count */
	{ 194, 0x0022, 0, 0, 0 },               /* Temperature_Celsius (from the LU) */
	{ 196, 0x0032, 100, 100, 0 },           /* Reallocated_Event_Count */
	{ 197, 0x0012, 100, 100, 0 },           /* Current_Pending_Sector */
	{ 198, 0x0010, 100, 100, 0 },           /* Offline_Uncorrectable */
	{ 199, 0x003e, 200, 200, 0 },           /* UDMA_CRC_Error_Count */
};

#define TEMP_MIN 18
#define TEMP_MAX 47

static void smart_data(const struct sim_lu *lu, uint8_t *d)
{
	memset(d, 0, ATA_SECTOR);
	ostori_put_le16(d, 0x0010);             /* revision */
	for (size_t i = 0; i < OSTOR_ARRAY_SIZE(attrs); i++) {
		const struct attr *a = &attrs[i];
		uint8_t *e = d + 2 + 12 * i, *raw = e + 5;

		e[0] = a->id;
		ostori_put_le16(e + 1, a->flags);
		e[3] = a->value;
		e[4] = a->worst;
		switch (a->id) {
		case 4:
			raw[0] = 42;
			break;
		case 5:
			/* failing: below the threshold; prefail: at it (both
			 * "failing now" for a prefail attribute). */
			if (lu->ata_faults & SIM_ATA_FAULT_FAILING) {
				e[3] = e[4] = 5;
				ostori_put_le16(raw, 1800);
			} else if (lu->ata_faults & SIM_ATA_FAULT_PREFAIL) {
				e[3] = e[4] = a->threshold;
				ostori_put_le16(raw, 1200);
			}
			break;
		case 9:
			ostori_put_le16(raw, power_on_hours(lu));
			break;
		case 12:
			raw[0] = 57;
			break;
		case 194:
			/* value 100 - T, raw: T, min, max (the tempminmax
			 * layout TT 00 LL 00 HH 00). */
			e[3] = (uint8_t)(100 - OSTOR_MIN(lu->temperature, 99));
			e[4] = (uint8_t)(100 - OSTOR_MIN(OSTOR_MAX(lu->temperature, TEMP_MAX), 99));
			raw[0] = lu->temperature;
			raw[2] = (uint8_t)OSTOR_MIN(lu->temperature, TEMP_MIN);
			raw[4] = (uint8_t)OSTOR_MAX(lu->temperature, TEMP_MAX);
			break;
		}
	}
	d[362] = 0x82;                          /* offline collection completed, auto on */
	d[363] = lu->ata_test_status;
	ostori_put_le16(d + 364, 600);          /* offline collection seconds */
	d[367] = 0x1b;                          /* offline immediate, auto, scan, self-test */
	ostori_put_le16(d + 368, 0x0003);
	d[370] = 0x00;                          /* no error logging */
	d[372] = 2;                             /* short test minutes */
	d[373] = 0xff;                          /* extended: in 375-376 */
	ostori_put_le16(d + 375, 200);
	checksum(d);
}

static void smart_thresholds(uint8_t *d)
{
	memset(d, 0, ATA_SECTOR);
	ostori_put_le16(d, 0x0010);
	for (size_t i = 0; i < OSTOR_ARRAY_SIZE(attrs); i++) {
		d[2 + 12 * i] = attrs[i].id;
		d[2 + 12 * i + 1] = attrs[i].threshold;
	}
	checksum(d);
}

static void self_test_log(const struct sim_lu *lu, uint8_t *d)
{
	memset(d, 0, ATA_SECTOR);
	ostori_put_le16(d, 0x0001);
	for (unsigned int i = 0; i < SIM_ATA_TESTS; i++) {
		const struct sim_self_test *t = &lu->ata_tests[i];
		uint8_t *e = d + 2 + 24 * i;

		if (!t->hours && !t->code && !t->result)
			continue;
		e[0] = t->code;
		e[1] = (uint8_t)(t->result << 4);
		ostori_put_le16(e + 2, t->hours);
	}
	d[508] = lu->ata_test_index;
	checksum(d);
}

/* SMART log directory (log 00h): the number of sectors of each log. */
static void log_directory(uint8_t *d)
{
	memset(d, 0, ATA_SECTOR);
	ostori_put_le16(d, 0x0001);
	ostori_put_le16(d + 2 * OSTOR_ATA_LOG_SELF_TEST, 1);
}

static void add_ata_test(struct sim_lu *lu, uint8_t code, uint8_t status)
{
	unsigned int slot = lu->ata_test_index % SIM_ATA_TESTS;

	lu->ata_tests[slot].code = code;
	lu->ata_tests[slot].result = status;
	lu->ata_tests[slot].hours = power_on_hours(lu);
	lu->ata_test_index = (uint8_t)(slot + 1);
	lu->ata_test_status = (uint8_t)(status << 4);
}

void sim_ata_init(struct sim_lu *lu)
{
	lu->smart_enabled = true;
	lu->ata_test_status = 0;
	lu->ata_test_index = 0;
	memset(lu->ata_tests, 0, sizeof(lu->ata_tests));
	memset(&lu->ata_last, 0, sizeof(lu->ata_last));
}

bool sim_ata_opcode_ok(const struct sim_lu *lu, uint8_t op)
{
	switch (op) {
	case OSTOR_SCSI_OP_ATA_PASS_THROUGH16:
		return lu->ata == SIM_ATA_SAT && !(lu->ata_faults & SIM_ATA_FAULT_NO_PT16);
	case OSTOR_SCSI_OP_ATA_PASS_THROUGH12:
		return lu->ata == SIM_ATA_SAT && !(lu->ata_faults & SIM_ATA_FAULT_NO_PT12);
	default:                                /* DFh */
		return lu->ata == SIM_ATA_JMICRON;
	}
}

/* ---- the ATA command set --------------------------------------------------- */

enum kind { K_UNKNOWN, K_NON_DATA, K_DATA_IN };

/* What the command moves: *bytes for data-in. */
static enum kind classify(const struct ata_in *a, size_t *bytes)
{
	*bytes = 0;
	switch (a->command) {
	case CMD_IDENTIFY:
		*bytes = ATA_SECTOR;
		return K_DATA_IN;
	case CMD_CHECK_POWER_MODE:
	case CMD_IDLE_IMMEDIATE:
	case CMD_STANDBY_IMMEDIATE:
		return K_NON_DATA;
	case CMD_SMART:
		switch (a->features) {
		case SMART_READ_DATA:
		case SMART_READ_THRESHOLDS:
			*bytes = ATA_SECTOR;
			return K_DATA_IN;
		case SMART_READ_LOG:
			*bytes = (size_t)a->count * ATA_SECTOR;
			return K_DATA_IN;
		default:
			return K_NON_DATA;
		}
	default:
		return K_UNKNOWN;
	}
}

static uint8_t power_count(const struct sim_lu *lu)
{
	if (!lu->started)
		return 0x00;
	switch (lu->power) {
	case SIM_POWER_ACTIVE:
		return 0xff;
	case SIM_POWER_IDLE_A:
	case SIM_POWER_IDLE_B:
	case SIM_POWER_IDLE_C:
		return 0x80;
	default:
		return 0x00;
	}
}

static bool smart_sig_ok(const struct ata_in *a)
{
	return a->lba_mid == 0x4f && a->lba_high == 0xc2;
}

/* SMART: true when done; data (len) for the data-in ones. */
static bool run_smart(struct sim_lu *lu, const struct ata_in *a, uint8_t *data,
		      size_t *len, struct sim_ata_regs *r)
{
	if (!smart_sig_ok(a))
		return false;
	if (!lu->smart_enabled && a->features != SMART_ENABLE)
		return false;
	switch (a->features) {
	case SMART_READ_DATA:
	case SMART_READ_THRESHOLDS:
	case SMART_READ_LOG:
	case SMART_OFFLINE_IMMEDIATE:
		sim_power_access(lu, ostori_now_ms());
		break;
	}
	switch (a->features) {
	case SMART_READ_DATA:
		smart_data(lu, data);
		*len = ATA_SECTOR;
		return true;
	case SMART_READ_THRESHOLDS:
		smart_thresholds(data);
		*len = ATA_SECTOR;
		return true;
	case SMART_READ_LOG:
		/* Log 00h (directory) and 06h (self-test log), one sector. */
		if (a->count != 1 || (a->lba_low != 0x00 && a->lba_low != OSTOR_ATA_LOG_SELF_TEST))
			return false;
		if (a->lba_low == 0x00)
			log_directory(data);
		else
			self_test_log(lu, data);
		*len = ATA_SECTOR;
		return true;
	case SMART_OFFLINE_IMMEDIATE:
		switch (a->lba_low) {
		case OSTOR_ATA_TEST_OFFLINE:
			return true;
		case OSTOR_ATA_TEST_SHORT:
		case OSTOR_ATA_TEST_EXTENDED:
		case OSTOR_ATA_TEST_SHORT_CAPTIVE:
		case OSTOR_ATA_TEST_EXTENDED_CAPTIVE:
			add_ata_test(lu, a->lba_low, 0x0);
			return true;
		case OSTOR_ATA_TEST_ABORT: {
			/* Logged as the last test type run, "aborted by host". */
			uint8_t last = lu->ata_test_index ?
				lu->ata_tests[lu->ata_test_index - 1].code : OSTOR_ATA_TEST_SHORT;

			add_ata_test(lu, last, 0x1);
			return true;
		}
		default:
			return false;
		}
	case SMART_RETURN_STATUS:
		if (lu->ata_faults & SIM_ATA_FAULT_FAILING) {
			r->lba_mid = 0xf4;
			r->lba_high = 0x2c;
		}
		return true;
	case SMART_ENABLE:
		lu->smart_enabled = true;
		return true;
	case SMART_DISABLE:
		lu->smart_enabled = false;
		return true;
	case SMART_ENABLE_AUTOSAVE:
		return true;
	default:
		return false;
	}
}

/* Run one ATA command: true when it completed (data, *len for data-in),
 * false when the drive aborted it.  *r: the registers it returns. */
static bool ata_run(struct sim_lu *lu, const struct ata_in *a, uint8_t *data, size_t *len,
		    struct sim_ata_regs *r)
{
	bool ok;

	*len = 0;
	memset(r, 0, sizeof(*r));
	r->count = a->count;
	r->lba_low = a->lba_low;
	r->lba_mid = a->lba_mid;
	r->lba_high = a->lba_high;
	r->device = a->device;
	switch (a->command) {
	case CMD_IDENTIFY:
		sim_ata_identify(lu, data);
		*len = ATA_SECTOR;
		ok = true;
		break;
	case CMD_CHECK_POWER_MODE:
		r->count = power_count(lu);
		ok = true;
		break;
	case CMD_IDLE_IMMEDIATE:
	case CMD_STANDBY_IMMEDIATE:
		lu->timers_held = true;
		sim_power_set(lu, a->command == CMD_IDLE_IMMEDIATE ? SIM_POWER_IDLE_A :
				  SIM_POWER_STANDBY_Z, false);
		ok = true;
		break;
	case CMD_SMART:
		ok = run_smart(lu, a, data, len, r);
		break;
	default:
		ok = false;
		break;
	}
	if (!ok) {
		*len = 0;
		r->status = ST_ERR;
		r->error = ER_ABRT;
	} else {
		r->status = ST_OK;
	}
	lu->ata_last = *r;
	return ok;
}

/* CHECK CONDITION with the registers (SAT-3: 00h/1Dh ATA PASS THROUGH
 * INFORMATION AVAILABLE), or without them when the bridge drops them. */
static void ata_sense(struct exec *x, uint8_t key, const struct sim_ata_regs *r)
{
	if (x->lu->ata_faults & SIM_ATA_FAULT_NO_REGISTERS) {
		fail(x, key, 0x00, 0x00);
		return;
	}
	fail(x, key, 0x00, 0x1d);
	x->sense.ata = true;
	x->sense.regs = *r;
}

/* ---- ATA PASS-THROUGH(12/16) (SAT-3) --------------------------------------- */

void sim_cmd_ata_pass_through(struct exec *x)
{
	const uint8_t *c = x->cdb;
	struct sim_lu *lu = x->lu;
	bool pt16 = x->op == OSTOR_SCSI_OP_ATA_PASS_THROUGH16;
	uint8_t proto = (c[1] >> 1) & 0x0f, b2 = c[2], t_length = b2 & 0x03;
	bool ck_cond = b2 & 0x20, t_type = b2 & 0x10, t_dir = b2 & 0x08, byt_blok = b2 & 0x04;
	unsigned int feat_byte = pt16 ? 4 : 3, count_byte = pt16 ? 6 : 4;
	uint8_t data[ATA_SECTOR];
	struct sim_ata_regs r;
	struct ata_in a;
	size_t want, len;
	enum kind k;

	if (pt16)
		a = (struct ata_in){ c[4], c[6], c[8], c[10], c[12], c[13], c[14] };
	else
		a = (struct ata_in){ c[3], c[4], c[5], c[6], c[7], c[8], c[9] };
	x->len_byte = (uint8_t)count_byte;
	k = classify(&a, &want);
	/* Protocols a bridge passes: non-data, PIO, DMA, UDMA. */
	if (proto != OSTOR_ATA_PROTO_NON_DATA && proto != OSTOR_ATA_PROTO_PIO_IN &&
	    proto != OSTOR_ATA_PROTO_PIO_OUT && proto != OSTOR_ATA_PROTO_DMA &&
	    proto != OSTOR_ATA_PROTO_UDMA_IN && proto != OSTOR_ATA_PROTO_UDMA_OUT) {
		bad_cdb(x, 1, 4);
		return;
	}
	if (k == K_NON_DATA) {
		if (proto != OSTOR_ATA_PROTO_NON_DATA) {
			bad_cdb(x, 1, 4);
			return;
		}
		if (t_length) {
			bad_cdb(x, 2, 1);
			return;
		}
	} else if (k == K_DATA_IN) {
		uint64_t n, unit;

		if (proto != OSTOR_ATA_PROTO_PIO_IN) {
			bad_cdb(x, 1, 4);
			return;
		}
		if (!t_dir) {
			bad_cdb(x, 2, 3);
			return;
		}
		if (t_length != OSTOR_ATA_TLEN_FEATURES && t_length != OSTOR_ATA_TLEN_COUNT) {
			bad_cdb(x, 2, 1);
			return;
		}
		n = t_length == OSTOR_ATA_TLEN_COUNT ? a.count : a.features;
		unit = !byt_blok ? 1 : t_type ? lu->block_size : ATA_SECTOR;
		if (n * unit != want || want == 0) {
			bad_cdb(x, t_length == OSTOR_ATA_TLEN_COUNT ? count_byte : feat_byte, -1);
			return;
		}
		if (!sim_data_in_ok(x, want))
			return;
	}
	if (!ata_run(lu, &a, data, &len, &r)) {
		ata_sense(x, OSTOR_SCSI_SENSE_ABORTED_COMMAND, &r);
		return;
	}
	if (len)
		sim_data_in(x, data, len, len);
	if (ck_cond && !(lu->ata_faults & SIM_ATA_FAULT_NO_REGISTERS))
		ata_sense(x, OSTOR_SCSI_SENSE_RECOVERED_ERROR, &r);
}

/* ---- VPD 89h ATA Information (SAT-3) ------------------------------------- */

size_t sim_vpd_ata_info(struct exec *x, uint8_t *buf)
{
	const struct sim_lu *lu = x->lu;
	uint8_t *sig = buf + 36;

	memset(buf, 0, SIM_VPD89_LEN);
	buf[0] = (uint8_t)lu->type;
	buf[1] = 0x89;
	ostori_put_be16(buf + 2, SIM_VPD89_LEN - 4);
	memcpy(buf + 8, "ORIONSTR", 8);
	memcpy(buf + 16, "SIM SAT BRIDGE  ", 16);
	memcpy(buf + 32, "0001", 4);
	/* The device signature: a register D2H FIS after reset of an ATA
	 * device (status 50h, error 01h, LBA 000001h, count 01h). */
	sig[0] = 0x34;
	sig[2] = ST_OK;
	sig[3] = 0x01;
	sig[4] = 0x01;
	sig[12] = 0x01;
	buf[56] = CMD_IDENTIFY;
	sim_ata_identify(lu, buf + 60);
	return SIM_VPD89_LEN;
}

/* ---- JMicron DFh ----------------------------------------------------------- */

/* Register reads (FDh): 720Fh says which ports have a disk (04h: port 0
 * only), 8000h-800Fh hold port 0's registers after the last command
 * (the layout smartctl reads), everything else reads 0. */
static void jmicron_registers(struct exec *x, uint16_t addr, size_t len)
{
	const struct sim_ata_regs *r = &x->lu->ata_last;
	uint8_t *buf = x->t->scratch, regs[16];

	memset(buf, 0, len);
	memset(regs, 0, sizeof(regs));
	regs[0] = r->count;
	regs[4] = r->lba_mid;
	regs[6] = r->lba_high;
	regs[8] = r->lba_low;
	regs[9] = r->device;
	regs[10] = r->status;
	regs[13] = r->error;
	for (size_t i = 0; i < len; i++) {
		uint32_t a = (uint32_t)addr + (uint32_t)i;

		if (a == JM_REG_PORTS)
			buf[i] = 0x04;
		else if (a >= JM_REG_PORT0 && a < JM_REG_PORT0 + sizeof(regs))
			buf[i] = regs[a - JM_REG_PORT0];
	}
	sim_data_in(x, buf, len, len);
}

void sim_cmd_jmicron(struct exec *x)
{
	const uint8_t *c = x->cdb;
	struct sim_lu *lu = x->lu;
	bool in = c[1] == 0x10;
	size_t len = ostori_get_be16(c + 3), want, n;
	uint8_t data[ATA_SECTOR];
	struct sim_ata_regs r;
	struct ata_in a = { c[5], c[6], c[7], c[8], c[9], c[10], c[11] };
	enum kind k;

	x->len_byte = 3;
	if (c[1] != 0x10 && c[1] != 0x00) {
		bad_cdb(x, 1, -1);
		return;
	}
	if (a.command == JM_REGISTER_READ) {
		if (!in || len > JM_MAX_REGISTER_READ) {
			bad_cdb(x, in ? 3 : 1, -1);
			return;
		}
		jmicron_registers(x, ostori_get_be16(c + 6), len);
		return;
	}
	/* Port 1 (the DEV bit, as in B0h) has no disk; the LBA bit (40h)
	 * and the obsolete bits may be anything. */
	if (a.device & 0x10) {
		bad_cdb(x, 10, -1);
		return;
	}
	k = classify(&a, &want);
	/* SMART RETURN STATUS may read its verdict as one byte (LBA high). */
	if (a.command == CMD_SMART && a.features == SMART_RETURN_STATUS && len == 1) {
		if (!in) {
			bad_cdb(x, 1, -1);
			return;
		}
		if (!sim_data_in_ok(x, 1))
			return;
		if (!ata_run(lu, &a, data, &n, &r)) {
			fail(x, OSTOR_SCSI_SENSE_ABORTED_COMMAND, 0, 0);
			return;
		}
		sim_data_in(x, &r.lba_high, 1, 1);
		return;
	}
	if (k == K_DATA_IN) {
		if (!in) {
			bad_cdb(x, 1, -1);
			return;
		}
		if (len != want || want == 0) {
			bad_cdb(x, 3, -1);
			return;
		}
		if (!sim_data_in_ok(x, want))
			return;
	} else if (k == K_NON_DATA && len) {
		bad_cdb(x, 3, -1);
		return;
	}
	if (!ata_run(lu, &a, data, &n, &r)) {
		/* No SAT sense: the registers are at 8000h. */
		fail(x, OSTOR_SCSI_SENSE_ABORTED_COMMAND, 0, 0);
		return;
	}
	if (n)
		sim_data_in(x, data, n, n);
}
