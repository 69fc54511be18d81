/*
 * lib/sim/target_fast.h - the simulated target's lock-free way for READ
 * and WRITE of null LUs (see struct sim_fast_lu), inline: the sim backend
 * calls it straight from its submit, so a sim:null command costs the
 * library, not the model.  Only lib/sim includes it.
 */
#ifndef OSTOR_SIM_TARGET_FAST_H
#define OSTOR_SIM_TARGET_FAST_H

#include "sim/target_priv.h"

/* READ(10/16) or WRITE(10/16) of a null LU that succeeds: the same answer
 * the locked way gives (see sim_cmd_read/sim_cmd_write), without the lock.
 * Anything else, or any doubt, returns false for the locked way. */
static inline bool sim_target_execute_fast(struct sim_target *t, uint32_t lun, const uint8_t *c, size_t cdb_len,
					   int dir, size_t total, size_t *transferred)
{
	const struct sim_fast_lu *f;
	uint64_t lba, blocks, bytes;
	uint32_t count;
	unsigned int slot;

	if (lun >= SIM_FAST_LUNS || !c)
		return false;
	switch (c[0]) {
	case OSTOR_SCSI_OP_READ10:
	case OSTOR_SCSI_OP_WRITE10:
		if (cdb_len < 10 || (c[9] & 0x05))
			return false;
		lba = ostori_get_be32(c + 2);
		count = ostori_get_be16(c + 7);
		slot = c[0] == OSTOR_SCSI_OP_WRITE10;
		break;
	case OSTOR_SCSI_OP_READ16:
	case OSTOR_SCSI_OP_WRITE16:
		if (cdb_len < 16 || (c[15] & 0x05))
			return false;
		lba = ostori_get_be64(c + 2);
		count = ostori_get_be32(c + 10);
		slot = 2u + (c[0] == OSTOR_SCSI_OP_WRITE16);
		break;
	default:
		return false;
	}
	f = &t->fast[lun];
	blocks = atomic_load_explicit(&f->blocks, memory_order_acquire);
	/* No protection information, in range, within the transfer limit. */
	if ((c[1] & 0xe0) || !count || lba >= blocks || count > blocks - lba ||
	    count > atomic_load_explicit(&f->max_transfer, memory_order_relaxed) ||
	    __atomic_load_n(&t->has_hook, __ATOMIC_ACQUIRE))
		return false;
	bytes = (uint64_t)count * atomic_load_explicit(&f->block_size, memory_order_relaxed);
	/* The buffer holds it all (an overrun is counted the locked way). */
	if (total < bytes)
		return false;
	if (slot & 1) {
		if (dir != OSTOR_DIR_TO_DEVICE || !atomic_load_explicit(&f->writable, memory_order_relaxed))
			return false;
		atomic_fetch_add_explicit(&t->fast_bytes_out, bytes, memory_order_relaxed);
	} else {
		if (dir != OSTOR_DIR_FROM_DEVICE)
			return false;
		atomic_fetch_add_explicit(&t->fast_bytes_in, bytes, memory_order_relaxed);
	}
	atomic_fetch_add_explicit(&t->fast_ops[slot], 1, memory_order_relaxed);
	*transferred = (size_t)bytes;
	return true;
}

#endif /* OSTOR_SIM_TARGET_FAST_H */
