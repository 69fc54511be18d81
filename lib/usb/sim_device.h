/*
 * lib/usb/sim_device.h - white-box control of the simulated USB
 * mass-storage devices behind sim:transport=usb-bot|usb-cbi|usb-cb|usb-uas, for
 * the unit tests: fault injection, unplug, statistics.
 *
 * The same faults are selectable from the spec:
 *   fault=NAME[+NAME...]  fault-count=N (default 1; 0: forever)
 *   fault-after=N (good commands first)  usb-timeout=MS  pipeline=on|off|cbw
 *   csw-grace=MS (rescue of a queued CSW read, default 5)
 *   blocking=on (the engine runs small commands as on a layer that blocks)
 *   subclass=scsi|ufi|sff8070i|rbc|mmc  quirks=FLAG[+FLAG...]
 *   streams=N (usb-uas: bulk streams, 0 for a high-speed device without)
 */
#ifndef OSTOR_SIM_USB_MODELS_H
#define OSTOR_SIM_USB_MODELS_H

#include <stdbool.h>
#include <stdint.h>

#include "orionstor.h"

enum sim_usb_fault {
	SIM_USB_FAULT_NONE = 0,
	/* Bulk-Only, per command */
	SIM_USB_CSW_BAD_SIGNATURE,
	SIM_USB_CSW_STALE_TAG,
	SIM_USB_CSW_SHORT,          /* 12 bytes */
	SIM_USB_CSW_LONG,           /* 14 bytes */
	SIM_USB_CSW_512,            /* a full 512-byte packet */
	SIM_USB_CSW_BAD_STATUS,     /* bCSWStatus 3 */
	SIM_USB_CSW_RESIDUE_BIG,    /* residue > transfer length */
	SIM_USB_PHASE_ERROR,        /* bCSWStatus 2 */
	SIM_USB_DATA_STALL,         /* stall half-way through the data phase */
	SIM_USB_CBW_STALL,          /* bulk-out stalls the CBW */
	SIM_USB_BABBLE,             /* more data than the host asked for */
	SIM_USB_SKIP_DATA,          /* CSW sent in place of the data */
	SIM_USB_CSW_NAK,            /* no CSW until Reset Recovery */
	SIM_USB_HANG,               /* bulk and control NAK until a port reset */
	SIM_USB_ZLP_BEFORE_CSW,
	SIM_USB_CSW_STALL,          /* the first CSW read stalls */
	/* device requests */
	SIM_USB_MAXLUN_STALL,
	SIM_USB_MAXLUN_EMPTY,
	SIM_USB_MAXLUN_TIMEOUT,
	SIM_USB_MAXLUN_BIG,         /* 16 */
	SIM_USB_RESET_STALL,        /* BOT reset / Command Block Reset stalls */
	SIM_USB_PORT_RESET_FAIL,
	/* CB / CBI */
	SIM_USB_ADSC_STALL,
	SIM_USB_INTR_BTYPE,         /* bType 1 */
	SIM_USB_INTR_PHASE,         /* bValue 2 */
	SIM_USB_INTR_PERSISTENT,    /* bValue 3, sense held */
	SIM_USB_INTR_SHORT,         /* 1 byte */
	SIM_USB_INTR_MISSING,       /* never sent */
	SIM_USB_INTR_ASC,           /* UFI: ASC/ASCQ 28h/00h whatever happened */
	/* Bulk-Only again */
	SIM_USB_CSW_LOST_QUEUED,    /* a CSW read queued before the data ended is
				     * never answered (QEMU usb-storage) */
	SIM_USB_CSW_AT_CANCEL,      /* a cancelled CSW read still gets the CSW */
	/* UAS, per command */
	SIM_USB_UAS_BAD_IU_ID,      /* the Sense IU comes with IU ID 7Fh */
	SIM_USB_UAS_SHORT_IU,       /* a 3-byte status IU */
	SIM_USB_UAS_UNKNOWN_TAG,    /* an IU for a tag nobody used comes first */
	SIM_USB_UAS_SENSE_OVERFLOW, /* CHECK CONDITION, sense length 250, 18 bytes sent */
	SIM_USB_UAS_OVERRUN,        /* data-in runs 512 bytes past the command */
	SIM_USB_UAS_NO_STATUS,      /* the command never ends (until aborted or reset) */
	SIM_USB_UAS_DATA_STALL,     /* the data pipe stalls, then CHECK CONDITION */
	SIM_USB_UAS_REJECT,         /* the Command IU gets a Response IU (02h, invalid IU) */
	SIM_USB_UAS_LATE_STATUS,    /* held until ABORT TASK, then its Sense IU (GOOD) is queued
				     * before the Response IU (QEMU, a command that ended as the
				     * abort came): the tag's next status read gets it */
	/* UAS, task management */
	SIM_USB_UAS_TMF_IGNORED,    /* no answer to task management */
	SIM_USB_UAS_TMF_FAILED,     /* answered with 05h, function failed */
	SIM_USB_UAS_TMF_UNSUPPORTED,/* answered with 04h, not supported (QEMU's I_T NEXUS RESET) */
	/* UAS, the device */
	SIM_USB_UAS_IN_ORDER,       /* streams: a status read already waiting gets its IU only when
				     * every IU queued before it has a read waiting too (QEMU's
				     * usb-uas: an IU for a stream nobody reads holds back the rest) */
	/* the transfer layer */
	SIM_USB_PORT_RESET_REFUSED, /* the layer refuses to queue a port reset (submit fails) */
	/* Bulk-Only: a data-in read that reaches the device before its CBW
	 * is answered at once, ahead of the CBW: */
	SIM_USB_EARLY_IN_STALL,     /* with a stall (QEMU's usb-storage) */
	SIM_USB_EARLY_IN_ZLP,       /* with a zero-length packet */
	SIM_USB_EARLY_IN_STALL_ONCE, /* with a stall of that read alone, the pipe going on
				     * (QEMU's usb-storage behind EHCI, as Linux sees it) */
	SIM_USB_FAULT_COUNT
};

/* "csw-bad-signature", ... and back; -1 for an unknown name. */
const char *sim_usb_fault_name(enum sim_usb_fault f);
int sim_usb_fault_by_name(const char *name);

struct sim_usb;
struct ousb_engine;

/* The model behind an open sim:transport=usb-* device, else NULL. */
struct sim_usb *sim_usb_of(ostor_device *dev);
struct ousb_engine *sim_usb_engine(struct sim_usb *m);

/* Arm a fault: skip `after` commands (or requests), then hit `count`
 * (0: every one from then on). */
int sim_usb_arm_fault(struct sim_usb *m, enum sim_usb_fault f, unsigned int count,
		      unsigned int after);
void sim_usb_clear_faults(struct sim_usb *m);
/* Whether an armed fault has hits left. */
bool sim_usb_fault_pending(struct sim_usb *m);
/* The bCSWStatus csw-bad-status sends (3 to FFh; 0: 3). */
void sim_usb_set_bad_status(struct sim_usb *m, uint8_t status);
/* Unplug: every transfer in flight and every later one ends NO_DEVICE. */
void sim_usb_unplug(struct sim_usb *m);
/* While held, the device answers nothing (transfers stay pending, and
 * still time out), so tests can keep commands in flight.  A UAS device
 * still takes Command IUs (and holds the commands) meanwhile. */
void sim_usb_hold(struct sim_usb *m, bool hold);

struct sim_usb_stats {
	uint64_t cbws, invalid_cbws, adscs, intr_reports;
	/* UAS: Command and Task Management IUs taken, and the most commands
	 * the device held at once */
	uint64_t uas_command_ius, uas_tmf_ius, uas_aborts, uas_lun_resets, uas_nexus_resets;
	uint64_t uas_outstanding_max;
	uint64_t bot_resets, cb_resets, clear_halt_in, clear_halt_out, port_resets;
	uint64_t get_max_lun;
	uint64_t medium_writes;     /* data-out commands that reached the target */
	uint64_t io_while_suspended; /* transfers sent while suspend was allowed (failed) */
};
void sim_usb_get_stats(struct sim_usb *m, struct sim_usb_stats *s);
/* Fill the simulated descriptor part of the details. */
void sim_usb_details(struct sim_usb *m, struct ostor_usb_details *d);

/* Selective suspend (lib/usb/suspend.c): the model's switch, and whether
 * the engine last allowed the device to suspend (transfers sent while it
 * is fail, as URBs to a suspended device do, and are counted). */
struct ousb_suspend;
struct ousb_suspend *sim_usb_suspend(struct sim_usb *m);
bool sim_usb_suspend_allowed(struct sim_usb *m);
/* The in-memory stand-ins for sysfs power/control ("auto": 1) and
 * power/autosuspend_delay_ms, and bMaxPower in mA. */
struct sim_usb_power_attrs {
	int autosuspend;
	int delay_ms;
	unsigned int max_power_ma;
};
void sim_usb_power_attrs(struct sim_usb *m, struct sim_usb_power_attrs *a);
/* -1 leaves either unchanged. */
void sim_usb_power_set_attrs(struct sim_usb *m, int autosuspend, int delay_ms);

/* The models of this folder, for sim:transport= (lib/backends.c). */
struct sim_transport_ops;
extern const struct sim_transport_ops *const ostori_sim_usb_transports[];

#endif
