/*
 * lib/virtio/config.h - the [virtio_scsi] table of orionstor.conf(5): the
 * keys this backend (and the simulated virtio-scsi device) reads.
 */
#ifndef OSTOR_VIRTIO_CONFIG_H
#define OSTOR_VIRTIO_CONFIG_H

#include "core/config.h"

/* queue_ring */
enum ostori_queue_ring {
	OSTORI_QUEUE_RING_AUTO = 0,     /* packed when the device offers it */
	OSTORI_QUEUE_RING_SPLIT,
	OSTORI_QUEUE_RING_PACKED,
};

/* queue_completion */
enum ostori_queue_completion {
	OSTORI_QUEUE_COMPLETION_POLLED = 0,
	OSTORI_QUEUE_COMPLETION_INTERRUPT,
};

/* vfio_interrupts: the kind asked for in interrupt mode */
enum ostori_vfio_irq {
	OSTORI_VFIO_IRQ_MSIX = 0,       /* one vector per request queue; INTx without MSI-X */
	OSTORI_VFIO_IRQ_INTX,
};

/* Field types follow the key types (checked at compile time). */
struct ostori_virtio_config {
	uint32_t device_max_count;
	uint32_t device_max_targets;
	uint32_t device_max_luns;
	uint32_t device_max_queues;
	uint32_t queue_count;
	uint32_t queue_depth;
	int queue_ring;                                /* enum ostori_queue_ring */
	int queue_completion;                          /* enum ostori_queue_completion */
	bool queue_interrupt_coalescing;
	uint32_t queue_interrupt_coalescing_time;      /* µs */
	uint32_t queue_interrupt_coalescing_threshold; /* completions */
	uint32_t scsi_max_commands;
	uint32_t scsi_command_timeout;                 /* ms */
	uint32_t scsi_retry_count;
	bool scsi_abort_enabled;
	uint64_t read_ahead_size;                      /* bytes */
	bool write_back_cache;
	uint64_t write_back_cache_size;                /* bytes */
	int io_scheduler;                              /* enum ostori_io_scheduler */
	bool direct_io;
	uint64_t shared_memory_size;                   /* bytes */
	bool dma_enabled;
	bool zero_copy_enabled;
	bool batch_processing;
	bool performance_monitoring_enabled;
	bool vfio_noiommu;                             /* accept VFIO without an IOMMU */
	int vfio_interrupts;                           /* enum ostori_vfio_irq */
};

extern const struct ostori_config_table ostori_virtio_config_table;

static inline const struct ostori_virtio_config *ostori_virtio_config(const struct ostor_config *cfg)
{
	return (const struct ostori_virtio_config *)ostori_config_data(cfg, &ostori_virtio_config_table);
}

/* The block cache as [virtio_scsi] asks for it (direct_io,
 * write_back_cache, write_back_cache_size, read_ahead_size). */
void ostori_virtio_cache_params(const struct ostori_virtio_config *vc, ostor_device *dev);

#endif /* OSTOR_VIRTIO_CONFIG_H */
