/*
 * lib/usb/sim_priv.h - what the simulated USB mass-storage devices share
 * (sim_device.c: Bulk-Only, CB, CBI and the transfer layer; sim_uas.c:
 * the UAS device side).  Only those two include it.
 */
#ifndef OSTOR_USB_SIM_PRIV_H
#define OSTOR_USB_SIM_PRIV_H

#include "core/backend.h"
#include "sim/target.h"
#include "usb/engine.h"
#include "usb/sim_device.h"
#include "usb/suspend.h"

#define SIM_USB_MAX_TRANSFER (1u << 20)
#define SIM_USB_MPS 512
#define SIM_USB_LUNS 16

/* A transfer the device does not answer yet. */
enum { PENDING = -1 };

struct fault_arm {
	bool armed;
	unsigned int count;   /* 0: forever */
	unsigned int after;
};

enum dev_state { D_IDLE, D_DATA_IN, D_DATA_OUT, D_STATUS };
enum ep { EP_CTRL, EP_IN, EP_OUT, EP_INTR, EP_TMR };

struct sim_usb {
	pthread_mutex_t lock;
	struct sim_usb *next_live;
	ostor_device *dev;
	struct sim_target *target;
	struct ousb_engine *engine;
	uint8_t protocol, subclass;
	uint8_t nluns;
	uint32_t block_size[SIM_USB_LUNS];

	/* transfers waiting for the device, in submission order */
	struct ousb_xfer *head, *tail;
	bool work;               /* something may be ready: poll now */
	bool unplugged, held;

	/* device state */
	enum dev_state state;
	bool in_halted, out_halted, need_reset, hung_bulk, hung_all;
	bool early_answered;         /* an IN before this CBW was answered (early-in-*) */
	bool feed_at_cancel;         /* early-in-stall-once: the next read cancelled gets data */
	uint8_t *data;           /* staged data-in / received data-out */
	size_t data_len, data_pos;
	bool stall_after_data;   /* data phase ends in a stall */
	bool babble_data;
	size_t expect_out;       /* BOT data-out: Ho */
	size_t out_stall_at;     /* BOT data-out (data-stall): bytes taken before the stall; 0: none */
	uint8_t cbw[OUSB_CBW_LEN];
	uint8_t csw[SIM_USB_MPS];
	size_t csw_len;
	bool zlp_pending, csw_stall_pending;
	/* CB/CBI */
	uint8_t cdb[16];
	uint8_t intr[2];
	size_t intr_len;
	bool intr_never;
	bool stall_in_next;      /* CB/CBI: a data-in read now would stall */
	uint8_t last_status;     /* SCSI status of the command */
	uint8_t bad_status;      /* bCSWStatus of csw-bad-status (0: 3) */
	uint8_t asc, ascq;

	uint64_t cmd_faults;     /* bit per fault, for the command on hand */
	struct fault_arm faults[SIM_USB_FAULT_COUNT];
	struct sim_usb_stats stats;

	/* Selective suspend: the engines' switch, what it last said (a
	 * transfer while allowed fails, as URBs to a suspended device do),
	 * and the stand-ins for sysfs power/control and
	 * power/autosuspend_delay_ms. */
	struct ousb_suspend suspend;
	bool suspend_allowed;
	bool pm_auto;
	int pm_delay_ms;

	/* UAS (sim_uas.c): the device side, NULL for the other protocols. */
	struct sim_uas *uas;
};

/* Consume one hit of fault f if it is due now. */
bool sim_usb_fault_hit(struct sim_usb *m, enum sim_usb_fault f);
/* Decide which per-command faults strike the command on hand (m->cmd_faults). */
void sim_usb_arm_command_faults(struct sim_usb *m);
/* Run a command on the target (m->last_status, asc, ascq follow). */
void sim_usb_run_target(struct sim_usb *m, uint8_t lun, const uint8_t *cdb, size_t cdb_len,
			int dir, uint8_t *buf, size_t len, struct sim_cmd *c);
/* 'i', 'o', 'n', or '?' for an opcode the model does not know. */
char sim_usb_dev_dir(const uint8_t *cdb);
/* Bytes a data-out command needs (SIZE_MAX: unknown). */
size_t sim_usb_out_len(struct sim_usb *m, const uint8_t *cdb, uint8_t lun);

/* ---- sim_uas.c --------------------------------------------------------------- */

struct sim_uas;
/* streams: the bulk streams the model offers (0: high speed, none). */
struct sim_uas *sim_uas_new(unsigned int streams);
void sim_uas_free(struct sim_uas *u);
/* Try to finish x now (m->lock held): a status, or PENDING. */
int sim_uas_process(struct sim_usb *m, struct ousb_xfer *x);
/* Port reset: power-on state. */
void sim_uas_reset(struct sim_usb *m);
unsigned int sim_uas_streams(const struct sim_uas *u);

#endif
