/*
 * lib/usb/engine_priv.h - what the parts of the USB mass-storage engine
 * share (engine.c, bot.c, cbi.c, recovery.c, protocol.c): the engine, the
 * command on the wire, its stages and outcomes, and the helpers one part
 * calls in another.  Only lib/usb includes it; the rest of the library
 * goes through engine.h.  The functions declared here run with e->lock
 * held.
 */
#ifndef OSTOR_USB_ENGINE_PRIV_H
#define OSTOR_USB_ENGINE_PRIV_H

#include "usb/engine.h"
#include "usb/suspend.h"

/* The largest data phase a blocking command has: the kernel copies a
 * blocking transfer through a buffer it allocates, and larger reads do
 * better pipelined into usbfs memory anyway. */
#define OUSB_BLOCK_MAX 16384u

/* X_MERGE: any data transfer of a merged command's later members. */
enum { X_OUT = 1, X_IN = 2, X_CSW = 4, X_CTRL = 8, X_INTR = 16, X_OP = 32, X_TMR = 64, X_MERGE = 128 };

/* Adjacent READs or WRITEs queued for one LUN, sent as one Bulk-Only
 * command (merge.c). */
#define OUSB_MERGE_MAX 32
#define OUSB_MAX_LUNS 16
#define OUSB_HANDED_MAX (2 * OUSB_MERGE_MAX)

struct ousb_merge {
	/* What the core found at discovery (ousb_engine_lun_limits): the
	 * block size and the largest command in bytes; 0: not known, no
	 * merging on that LUN. */
	uint32_t block_size[OUSB_MAX_LUNS];
	uint32_t max_bytes[OUSB_MAX_LUNS];
	bool off;                    /* quirk no-merge, ORIONSTOR_USB_MERGE=off */
	const char *source;          /* what decided (tuning) */
	/* The command on the wire: its members in LBA order (member[0] is
	 * e->task, its data goes through x_in / x_out) and the data
	 * transfers of the others. */
	ostor_task *member[OUSB_MERGE_MAX];
	unsigned int n;              /* members; below 2: not merged */
	uint32_t cancelled;          /* members cancelled on the wire (bits) */
	struct ousb_xfer x[OUSB_MERGE_MAX - 1];
	uint32_t busy;               /* x[] in flight (bits) */
	bool stopping;               /* its data phase ended early: the rest cancelled */
	/* Members of a merged command that did not end whole, sent again
	 * one by one ahead of the queue (each gets its own status). */
	ostor_task *replay[OUSB_MERGE_MAX];
	unsigned int replay_head, replay_len;
};

/* The rescue of a pipelined CSW read (see bot_arm_rescue in bot.c). */
enum rescue { RESCUE_NONE, RESCUE_ARMED, RESCUE_CANCEL };
/* A data-in read queued with its CBW that came back empty (a stall, or a
 * zero-length packet before the CBW went through): clear the halt if
 * there was one, then read the data again (bot.c). */
enum reread { RR_NONE, RR_CLEAR, RR_READ, RR_DONE, RR_CSW };

enum stage {
	S_IDLE = 0,
	/* Bulk-Only */
	S_BOT_CBW, S_BOT_DIN, S_BOT_DOUT, S_BOT_CLEAR, S_BOT_CSW,
	S_BOT_CSW_FROM_DATA,
	/* CB / CBI */
	S_CB_ADSC, S_CB_DATA, S_CB_DRAIN, S_CB_CLEAR, S_CB_INTR,
	/* common */
	S_DRAIN,             /* wait for the wire to empty, then e->after */
	S_REC_RESET, S_REC_CLR_IN, S_REC_CLR_OUT, S_REC_PORT,
	S_MAXLUN,
};

/* What to do once a failed command's transfers have drained. */
enum after { AFTER_DONE, AFTER_RECOVER };

struct outcome {
	enum ostor_result res;
	int status;
	size_t transferred;
	bool recover;        /* device state unknown: reset it */
	bool sense;          /* CHECK CONDITION: fetch the sense */
	bool short_data;     /* the data phase stalled early: maybe less data, not an error */
};

/* The command on the wire: the caller's task or our REQUEST SENSE. */
struct wire_cmd {
	uint8_t cdb[16];
	uint8_t cdb_len;
	int dir;
	uint8_t *buf;
	size_t len;
	uint8_t lun;
	unsigned int timeout_ms;
	bool is_sense;
};

struct ousb_engine {
	pthread_mutex_t lock;
	ostor_device *dev;
	const struct ousb_ops *ops;
	void *layer;
	struct ousb_engine_config cfg;
	struct ousb_suspend *suspend;  /* cfg.suspend: checked before a command goes out */
	uint8_t max_lun;
	uint32_t tag;
	bool dead, gone, pipeline, pipeline_cbw;
	bool adapt;                 /* scsi_processing_enabled: fit commands to the subclass */
	bool one_at_a_time;         /* async_io_enabled / storage_device_async_enabled false */
	/* The device lost a CSW read queued behind a data-in: from then on
	 * such reads wait for the data (unless pipelining is forced). */
	bool csw_after_data, keep_pipelining;
	const char *pipeline_source;  /* what decided e->pipeline (tuning) */
	/* Small Bulk-Only commands (data up to OUSB_BLOCK_MAX) alone on the
	 * wire run their three phases as blocking transfers
	 * (ops->can_block): three system calls, no poll, no reap, no
	 * pipelining.  blocking: the command on the wire does. */
	bool block_ok, blocking;
	const char *block_source;

	/* tasks waiting for the wire (ring) */
	ostor_task **q;
	size_t qcap, qhead, qlen;

	ostor_task *task;            /* task being executed, or NULL */
	bool task_cancelled;
	struct wire_cmd cmd;
	enum stage stage;
	unsigned int busy;           /* X_* bits of transfers in flight */
	unsigned int submitted;      /* X_* bits submitted for this command */
	struct ousb_xfer x_out, x_in, x_csw, x_ctrl, x_intr, x_op, x_tmr;

	uint8_t cbw[OUSB_CBW_LEN];
	uint8_t csw[OUSB_CSW_LEN];
	uint8_t adsc[16];
	uint8_t intr[4];
	uint8_t ctrl_buf[4];
	uint8_t sense_buf[18];
	uint8_t rc16[32];            /* READ CAPACITY(16) for the quirk */

	/* per wire command */
	size_t data_actual;
	bool babble, data_stalled, csw_from_data, after_clear_csw;
	bool in_with_cbw;            /* the data-in read went out with the CBW */
	bool csw_with_cbw;           /* the CSW read did (a command without data) */
	bool in_answered_early;      /* ... and came back before the CBW did */
	size_t in_prefix;            /* data bytes the status read queued behind it got */
	enum reread reread;
	int csw_stall_tries, zlp_tries;
	enum rescue rescue;
	bool rescue_logged;
	enum after after;

	struct outcome out;          /* the task's outcome so far */
	struct outcome pending;      /* outcome to apply after a drain */
	uint8_t sense[OSTOR_SENSE_MAX];
	size_t sense_len;
	bool rc16_translate;

	/* synchronous operations (probe, tool reset) */
	bool sync_busy, sync_done;
	int sync_result;
	bool rec_port_only;
	bool recovering;

	uint8_t *bounce;
	size_t bounce_len;
	/* CB/CBI: a data-in the buffer could not hold is read on into here,
	 * so the device gets to its status (the command is an overrun). */
	uint8_t *drain;
	size_t drain_len;
	bool overrun;
	struct ousb_engine_stats stats;
	struct ousb_merge mg;
	/* Tasks finished under the lock, handed to the core once it is
	 * released (ousb_unlock): the next command goes on the wire before
	 * their completion work (a block cache copies their data). */
	ostor_task *handed[OUSB_HANDED_MAX];
	unsigned int nhanded;
	/* UAS (uas.c): its commands, tags and task management; NULL for
	 * the other protocols. */
	struct ousb_uas *uas;
};

/* UFI and SFF-8070i: fixed 12-byte command packets. */
static inline bool is_ufi_like(const struct ousb_engine *e)
{
	return e->cfg.subclass == OUSB_SC_UFI || e->cfg.subclass == OUSB_SC_SFF;
}

/* The command on the wire carries more than one task (not its REQUEST
 * SENSE). */
static inline bool ousb_cmd_merged(const struct ousb_engine *e)
{
	return e->mg.n > 1 && !e->cmd.is_sense;
}

/* Tasks waiting for the wire: the queue and the members sent again. */
static inline size_t ousb_waiting(const struct ousb_engine *e)
{
	return e->qlen + e->mg.replay_len;
}

/* ---- engine.c: transfers, completion, dispatch -------------------------- */

void ousb_submit(struct ousb_engine *e, struct ousb_xfer *x, enum ousb_kind kind,
		 uint8_t *buf, size_t len, unsigned int timeout_ms);
enum ostor_result ousb_result_of(enum ousb_status s);
void ousb_fail(struct ousb_engine *e, enum ostor_result res, bool recover, const char *why);
size_t ousb_copy_out(ostor_task *t, const uint8_t *src, size_t n);
/* Complete t (its results set) once e->lock is released (at once when
 * too many wait). */
void ousb_hand_over(struct ousb_engine *e, ostor_task *t);
/* Release e->lock, then complete the tasks that finished meanwhile. */
void ousb_unlock(struct ousb_engine *e);
void ousb_finish_task(struct ousb_engine *e);
void ousb_start_sense(struct ousb_engine *e);
void ousb_wire_done(struct ousb_engine *e, struct outcome o);
void ousb_advance(struct ousb_engine *e);
/* Take t out of the engine's queue (not on the wire yet) and complete it
 * ABORTED; false when it is not queued.  e->lock held. */
bool ousb_dequeue_aborted(struct ousb_engine *e, ostor_task *t);
/* Take e->lock (held on return either way), waking a suspended device
 * first; OSTOR_ERROR_NO_DEVICE when it is gone or dead. */
int ousb_lock_awake(struct ousb_engine *e);

/* ---- bot.c, cbi.c: the transports --------------------------------------- */

void ousb_bot_start(struct ousb_engine *e);
void ousb_bot_advance(struct ousb_engine *e);
void ousb_cb_start(struct ousb_engine *e);
void ousb_cb_advance(struct ousb_engine *e);

/* ---- uas.c: USB Attached SCSI (the entry points of engine.c call these
 * when e->uas is set; they take e->lock themselves) ------------------------ */

int ousb_uas_new(struct ousb_engine *e);
void ousb_uas_free(struct ousb_engine *e);
int ousb_uas_probe(struct ousb_engine *e);
/* ousb_engine_xfers' part: the tags' transfers and task management's. */
size_t ousb_uas_xfers(struct ousb_engine *e, struct ousb_xfer **out, size_t n, size_t max);
int ousb_uas_submit(struct ousb_engine *e, ostor_task *t);
int ousb_uas_cancel(struct ousb_engine *e, ostor_task *t);
bool ousb_uas_is_idle(struct ousb_engine *e);
void ousb_uas_gone(struct ousb_engine *e);
void ousb_uas_tuning(struct ousb_engine *e, struct ostori_setting *out, int max, int *n);

/* ---- merge.c: adjacent READs / WRITEs as one command --------------------- */

void ousb_merge_init(struct ousb_engine *e);
/* After ousb_prepare put t on e->cmd: take the tasks queued right behind
 * it that continue it (same LUN, opcode and flags, the next LBA, one
 * buffer) up to the LUN's limit, and make e->cmd their one command. */
void ousb_merge_gather(struct ousb_engine *e, ostor_task *t);
/* Submit the data transfers of members 1.. (member 0's is the caller's). */
void ousb_merge_submit_rest(struct ousb_engine *e, enum ousb_kind kind);
/* The data phase of a merged command: first is member 0's transfer. */
enum ousb_merge_data { MD_WAIT, MD_WHOLE, MD_BROKEN };
enum ousb_merge_data ousb_merge_data(struct ousb_engine *e, struct ousb_xfer *first, unsigned int first_bit,
				     enum ousb_status *why);
/* The merged command ended (e->out, e->sense): complete its members when
 * it was whole, else queue them to be sent again one by one. */
void ousb_merge_finish(struct ousb_engine *e);
/* The next member to send again, or NULL. */
ostor_task *ousb_merge_next_replay(struct ousb_engine *e);
/* t is a member of the command on the wire: its index, else -1. */
int ousb_merge_member(const struct ousb_engine *e, const ostor_task *t);
/* Take t out of the members waiting to be sent again (true if it was). */
bool ousb_merge_unreplay(struct ousb_engine *e, const ostor_task *t);
void ousb_merge_tuning(struct ousb_engine *e, struct ostori_setting *out, int max, int *n);

/* ---- recovery.c --------------------------------------------------------- */

void ousb_start_recovery(struct ousb_engine *e);
void ousb_rec_advance(struct ousb_engine *e);

/* ---- protocol.c: subclass rules and quirks ------------------------------ */

bool ousb_prepare(struct ousb_engine *e, ostor_task *t);
size_t ousb_rc16_to_rc10(struct ousb_engine *e, ostor_task *t, size_t xfer);
void ousb_fix_capacity_data(struct ousb_engine *e, ostor_task *t);


/* The data-in length a command's own CDB allows (its allocation length;
 * for READ a lower bound, 512-byte blocks), 0 when unknown. */
size_t ousb_cdb_alloc_len(const uint8_t *cdb, size_t len);

#endif /* OSTOR_USB_ENGINE_PRIV_H */
