/*
 * lib/virtio/config.c - the [virtio_scsi] table of orionstor.conf(5).
 */
#include "virtio/config.h"
#include "core/backend.h"

#define T "virtio_scsi"
#define S struct ostori_virtio_config

/* Indexed by enum ostori_queue_ring / ostori_queue_completion /
 * ostori_io_scheduler. */
static const char *const queue_rings[] = { "auto", "split", "packed", NULL };
static const char *const queue_completions[] = { "polled", "interrupt", NULL };
static const char *const io_schedulers[] = { "none", "fifo", "deadline", NULL };
static const char *const vfio_irq_kinds[] = { "msix", "intx", NULL };

static const struct ostori_config_key keys[] = {
	OSTORI_K_INT(T, S, device_max_count, 8, 1, 64, ""),
	OSTORI_K_INT(T, S, device_max_targets, 256, 1, 256, ""),
	OSTORI_K_INT(T, S, device_max_luns, 256, 1, 16384, ""),
	OSTORI_K_INT(T, S, device_max_queues, 4, 1, 64, ""),
	OSTORI_K_INT(T, S, queue_count, 1, 1, 64, ""),
	OSTORI_K_POW2(T, S, queue_depth, 128, 2, 32768, "descriptors"),
	OSTORI_K_CHOICE(T, S, queue_ring, OSTORI_QUEUE_RING_AUTO, queue_rings),
	OSTORI_K_CHOICE(T, S, queue_completion, OSTORI_QUEUE_COMPLETION_POLLED, queue_completions),
	OSTORI_K_BOOL(T, S, queue_interrupt_coalescing, false),
	OSTORI_K_INT(T, S, queue_interrupt_coalescing_time, 50, 0, 100000, "microseconds"),
	OSTORI_K_INT(T, S, queue_interrupt_coalescing_threshold, 16, 1, 32768, "completions"),
	OSTORI_K_INT(T, S, scsi_max_commands, 256, 1, 65536, "commands"),
	OSTORI_K_INT(T, S, scsi_command_timeout, 30000, 100, 3600000, "milliseconds"),
	OSTORI_K_INT(T, S, scsi_retry_count, 3, 0, 16, ""),
	OSTORI_K_BOOL(T, S, scsi_abort_enabled, true),
	OSTORI_K_SIZE(T, S, read_ahead_size, 0, 0, 64 * OSTORI_MiB),
	OSTORI_K_BOOL(T, S, write_back_cache, false),
	OSTORI_K_SIZE(T, S, write_back_cache_size, 16 * OSTORI_MiB, 64 * OSTORI_KiB, 16 * OSTORI_GiB),
	OSTORI_K_CHOICE(T, S, io_scheduler, OSTORI_IO_SCHED_NONE, io_schedulers),
	OSTORI_K_BOOL(T, S, direct_io, true),
	OSTORI_K_SIZE(T, S, shared_memory_size, 8 * OSTORI_MiB, 64 * OSTORI_KiB, 4 * OSTORI_GiB),
	OSTORI_K_BOOL(T, S, dma_enabled, true),
	OSTORI_K_BOOL(T, S, zero_copy_enabled, true),
	OSTORI_K_BOOL(T, S, batch_processing, true),
	OSTORI_K_BOOL(T, S, performance_monitoring_enabled, false),
	OSTORI_K_BOOL(T, S, vfio_noiommu, false),
	OSTORI_K_CHOICE(T, S, vfio_interrupts, OSTORI_VFIO_IRQ_MSIX, vfio_irq_kinds),
};


static const struct ostori_config_limit limits[] = {
	{ "queue_count", "device_max_queues" },
	{ "queue_interrupt_coalescing_threshold", "queue_depth" },
};

const struct ostori_config_table ostori_virtio_config_table = {
	.name = T,
	.size = sizeof(S),
	.keys = keys,
	.nkeys = sizeof(keys) / sizeof(keys[0]),
	.limits = limits,
	.nlimits = sizeof(limits) / sizeof(limits[0]),
};

void ostori_virtio_cache_params(const struct ostori_virtio_config *vc, ostor_device *dev)
{
	struct ostori_bcache_params *p = &dev->bcache_params;

	/* direct_io: every command goes to the device, nothing is cached. */
	p->mode = vc->direct_io ? OSTOR_CACHE_OFF
		  : vc->write_back_cache ? OSTOR_CACHE_WRITE_BACK : OSTOR_CACHE_WRITE_THROUGH;
	p->policy = OSTORI_BCACHE_LRU;
	p->size = vc->write_back_cache_size;
	p->read_ahead = vc->read_ahead_size;
	p->source = "[virtio_scsi] direct_io, write_back_cache, write_back_cache_size, read_ahead_size";
	if (vc->direct_io && (vc->write_back_cache || vc->read_ahead_size))
		ostor_warn(dev->ctx, "%s: [virtio_scsi] direct_io = true bypasses the block cache: "
			   "write_back_cache and read_ahead_size have no effect (set direct_io = false)", dev->spec);
}
