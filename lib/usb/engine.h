/*
 * lib/usb/engine.h - the USB mass-storage protocol engines (Bulk-Only,
 * CB and CBI), written once over the transfer seam of xfer.h, plus the
 * quirks table.  Used by the usb: backend (libusb underneath) and by the
 * sim: device models (sim:transport=usb-bot|usb-cbi|usb-cb).
 */
#ifndef OSTOR_USB_ENGINE_H
#define OSTOR_USB_ENGINE_H

#include "core/backend.h"
#include "usb/config.h"
#include "usb/xfer.h"

/* bInterfaceSubClass */
#define OUSB_SC_RBC 0x01
#define OUSB_SC_MMC 0x02
#define OUSB_SC_QIC 0x03
#define OUSB_SC_UFI 0x04
#define OUSB_SC_SFF 0x05
#define OUSB_SC_SCSI 0x06
/* bInterfaceProtocol */
#define OUSB_PR_CBI 0x00
#define OUSB_PR_CB 0x01
#define OUSB_PR_BOT 0x50
#define OUSB_PR_UAS 0x62

/* Mass-storage class requests */
#define OUSB_REQ_ADSC 0x00
#define OUSB_REQ_GET_MAX_LUN 0xfe
#define OUSB_REQ_BOMS_RESET 0xff

#define OUSB_CBW_LEN 31
#define OUSB_CSW_LEN 13
#define OUSB_CBW_SIG 0x43425355u  /* "USBC" */
#define OUSB_CSW_SIG 0x53425355u  /* "USBS" */

/* Quirk flags, in the spirit of the kernel's unusual_devs.h. */
#define OUSB_Q_IGNORE_RESIDUE  (1u << 0)
#define OUSB_Q_FIX_CAPACITY    (1u << 1)  /* READ CAPACITY reports last LBA + 1 */
#define OUSB_Q_SINGLE_LUN      (1u << 2)  /* do not ask Get Max LUN */
#define OUSB_Q_MAX_TRANSFER    (1u << 3)  /* max_transfer bytes per command */
#define OUSB_Q_NO_SYNC_CACHE   (1u << 4)  /* complete SYNCHRONIZE CACHE locally */
#define OUSB_Q_READ_CAP_16     (1u << 5)  /* answer READ CAPACITY(10) from (16) */
#define OUSB_Q_IGNORE_TAG      (1u << 6)  /* CSW tag mismatches are tolerated */
#define OUSB_Q_GO_SLOW         (1u << 7)  /* no pipelining, one phase at a time */
#define OUSB_Q_SAT12           (1u << 8)  /* ATA PASS-THROUGH(12) only: the bridge refuses (16) */
#define OUSB_Q_NO_UAS          (1u << 9)  /* never UAS: the Bulk-Only alternate setting */
#define OUSB_Q_QUEUE_CBW       (1u << 10) /* Bulk-Only reads queued with the CBW */
#define OUSB_Q_NO_MERGE        (1u << 11) /* never merge adjacent READs / WRITEs */

/* The vendor protocol of a USB-ATA bridge (quirk bridge=NAME), for health. */
enum ousb_bridge {
	OUSB_BRIDGE_NONE = 0,
	OUSB_BRIDGE_JMICRON,
	OUSB_BRIDGE_SUNPLUS,
	OUSB_BRIDGE_CYPRESS,
};

struct ousb_quirks {
	uint32_t flags;
	uint32_t max_transfer;     /* bytes, with OUSB_Q_MAX_TRANSFER */
	uint8_t bridge;            /* enum ousb_bridge */
};

/* The quirks of vid:pid: the built-in table, then the configuration
 * file's list (usb_storage.quirks), then $ORIONSTOR_USB_QUIRKS (either
 * may be NULL); an entry for the device replaces what came before.
 * Lists are "VVVV:PPPP:flag+flag,VVVV:PPPP:none" (the older
 * "VVVV:PPPP:flag,flag;..." reads the same).  A malformed entry anywhere
 * is an error (OSTOR_ERROR_CONFIG) naming the accepted flags. */
int ousb_quirks_resolve(uint16_t vid, uint16_t pid, const char *config, const char *env,
			struct ousb_quirks *q);
/* The same with no configuration list. */
int ousb_quirks_lookup(uint16_t vid, uint16_t pid, const char *env, struct ousb_quirks *q);
/* Validate a list (the configuration loader); 0 or OSTOR_ERROR_CONFIG. */
int ousb_quirks_check(const char *list);
/* Parse "flag,flag,max-transfer=N" onto q (flags are added; "none" clears). */
int ousb_quirks_parse(const char *text, struct ousb_quirks *q);
/* "ignore-residue,max-transfer=65536" or "" */
void ousb_quirks_text(const struct ousb_quirks *q, char *buf, size_t len);
/* What the quirks say about reading health (enum ostor_health_protocol,
 * for dev->health_protocol): the bridge's vendor protocol, else SAT12
 * for sat-12, else 0 (detect). */
int ousb_quirks_health_protocol(const struct ousb_quirks *q);

const char *ousb_transport_name(uint8_t protocol);   /* "bot", "cbi", "cb", "uas", "unknown" */
const char *ousb_subclass_name(uint8_t subclass);    /* "scsi", "ufi", ... */

/* Mass-storage interfaces of one device driven at once: targets 0..15. */
#define OUSB_MAX_TARGETS 16

struct ousb_engine_config {
	uint8_t protocol;          /* OUSB_PR_BOT, _CBI, _CB or _UAS */
	uint8_t subclass;
	uint8_t interface;         /* bInterfaceNumber: wIndex of class requests */
	uint8_t target;            /* the tasks' target this engine serves (its interface's index) */
	struct ousb_quirks quirks;
	unsigned int timeout_ms;   /* transport steps and commands by default */
	bool pipeline;             /* queue data-in and CSW reads together */
	bool pipeline_cbw;         /* ...even before the CBW completed */
	/* A pipelined CSW read still pending this long after its data-in
	 * completed is cancelled and issued again (0: the default, 5 ms). */
	unsigned int csw_grace_ms;
	/* The device's selective suspend (lib/usb/suspend.c), shared by its
	 * engines; NULL: none. */
	struct ousb_suspend *suspend;
	/* UAS: bulk streams the layer allocated on the status and data
	 * pipes (0: none, high speed and below: one command at a time, the
	 * device's READ READY / WRITE READY IUs pace the data). */
	unsigned int streams;
};

struct ousb_engine_stats {
	uint64_t commands;         /* commands put on the wire, sense included */
	uint64_t auto_sense;
	uint64_t reset_recoveries; /* BOT Reset Recovery / CB(I) Command Block Reset */
	uint64_t port_resets;
	uint64_t clear_halts;
	uint64_t csw_invalid;      /* not valid or not meaningful */
	uint64_t phase_errors;
	uint64_t csw_in_data;      /* CSW found in the data phase */
	uint64_t zlp_retries, csw_stall_retries;
	uint64_t timeouts;
	uint64_t csw_rescues;      /* queued CSW reads re-issued after the grace */
	uint64_t queued_max;       /* most commands waiting in the engine at once */
	uint64_t transfers;        /* USB transfers (URBs) submitted, control ones included */
	uint64_t pipelined_csws;   /* CSW reads queued before their data or CBW completed */
	uint64_t early_in_answers; /* data-in reads queued with the CBW the device answered before it */
	uint64_t early_data_in_status_read; /* ... whose first data bytes the status read behind got */
	uint64_t blocking_commands; /* commands whose transfers ran as blocking calls */
	uint64_t babble;           /* transfers that ended in babble (more data than asked) */
	uint64_t merged_commands;  /* Bulk-Only commands that carried adjacent tasks */
	uint64_t merged_tasks;     /* ... the tasks they carried */
	uint64_t merge_replays;    /* ... tasks sent again alone after one did not end whole */
	/* UAS */
	uint64_t uas_inflight_max; /* most commands on the device at once */
	uint64_t uas_bad_ius;      /* status IUs too short, of an unknown kind or out of place */
	uint64_t uas_bad_tags;     /* IUs whose tag matched no outstanding command */
	uint64_t uas_sense_clamped;/* Sense IUs claiming more sense than they carried */
	uint64_t uas_ready_ius;    /* READ READY / WRITE READY IUs */
	uint64_t uas_rejected;     /* commands the device answered with a Response IU */
	uint64_t uas_overruns;     /* data phases that ran past the buffer */
	uint64_t uas_aborts;       /* ABORT TASK sent */
	uint64_t uas_lun_resets;   /* LOGICAL UNIT RESET sent */
	uint64_t uas_nexus_resets; /* I_T NEXUS RESET sent */
	uint64_t uas_tmf_failed;   /* task management that failed or went unanswered */
	uint64_t uas_stale_ius;    /* IUs of ended commands dropped by the sweep of their tag */
};

struct ousb_engine;

int ousb_engine_new(ostor_device *dev, const struct ousb_ops *ops, void *layer,
		    const struct ousb_engine_config *cfg, struct ousb_engine **out);
/* Every task has completed; cancels and drains whatever the engine still
 * has on the wire. */
void ousb_engine_free(struct ousb_engine *e);
/* Every transfer the engine may submit, so that a layer can set them all
 * up at open (an allocation that fails then fails the open, not a
 * command, which recovery would take for a dead device).  Fills out[]
 * up to max; returns how many there are. */
size_t ousb_engine_xfers(struct ousb_engine *e, struct ousb_xfer **out, size_t max);
/* Get Max LUN (BOT; CB/CBI and the single-lun quirk: 0).  Synchronous,
 * before any task.  Stall, zero length, timeout or > 15 mean 0. */
int ousb_engine_probe(struct ousb_engine *e);
uint8_t ousb_engine_max_lun(const struct ousb_engine *e);

int ousb_engine_submit(struct ousb_engine *e, ostor_task *t);
int ousb_engine_cancel(struct ousb_engine *e, ostor_task *t);

/* What discovery found for a LUN (the core's lun_limits op): its block
 * size and the largest command in bytes (the Block Limits VPD, the
 * transfer limit).  Bulk-Only merges adjacent queued READs or WRITEs up
 * to that size; without it, not at all. */
void ousb_engine_lun_limits(struct ousb_engine *e, uint32_t lun, uint32_t block_size, uint64_t max_bytes);

/* Synchronous transport reset while idle (OSTOR_ERROR_BUSY otherwise):
 * Reset Recovery / Command Block Reset, or a port reset.  Escalates like
 * the automatic recovery; the device may end up dead (OSTOR_ERROR_IO). */
int ousb_engine_reset(struct ousb_engine *e, bool port);
/* ostor_reset of a USB device (lib/usb/api.c): end what is in flight,
 * reset every interface's transport; 1 for LUN and target levels (there
 * is nothing finer). */
int ousb_device_reset(ostor_device *dev, enum ostor_reset_level level, uint32_t target, uint32_t lun);
/* No task queued or on the wire and no recovery running. */
bool ousb_engine_is_idle(struct ousb_engine *e);
/* The device was unplugged: everything in flight completes DEVICE_GONE
 * and later submissions fail. */
void ousb_engine_gone(struct ousb_engine *e);
bool ousb_engine_is_dead(struct ousb_engine *e);
bool ousb_engine_is_gone(struct ousb_engine *e);
void ousb_engine_get_stats(struct ousb_engine *e, struct ousb_engine_stats *s);
/* The engine's settings in effect and where each came from. */
void ousb_engine_tuning(struct ousb_engine *e, struct ostori_setting *out, int max, int *n);
/* The engine's counters, added to a backend's counters op output. */
void ousb_engine_counters(struct ousb_engine *e, struct ostor_counter *out, int max, int *n);

/* UAS (lib/usb/uas.c): task management below the command level,
 * synchronous, while the other LUNs' commands go on.  level: LUN
 * (LOGICAL UNIT RESET), TARGET (I_T NEXUS RESET) or DEVICE (port reset);
 * returns 0 done at that level, 1 done by a larger reset, or an error. */
int ousb_uas_reset(struct ousb_engine *e, enum ostor_reset_level level, uint32_t lun);
bool ousb_engine_is_uas(const struct ousb_engine *e);

/* Fill the engine part of the public details (transport, max LUN, quirks). */
void ousb_engine_details(struct ousb_engine *e, struct ostor_usb_details *d);

#endif
