/*
 * lib/sim/transport.h - transport device models in front of the sim
 * target, chosen with sim:transport=NAME (usb-bot, usb-cbi, usb-cb,
 * virtio).
 *
 * A model pairs our real driver-side transport code (the BOT/CBI engine,
 * the virtio-scsi driver) with a simulated device behind it, so the host
 * test suite runs the same protocol paths as real hardware, fault
 * injection included.  Without transport= the sim backend hands CDBs to
 * the target directly.
 */
#ifndef OSTOR_SIM_TRANSPORT_H
#define OSTOR_SIM_TRANSPORT_H

#include "core/backend.h"

struct sim_target;

struct sim_transport_ops {
	const char *name;          /* the transport= value */
	const char *options;       /* extra spec options, for error messages */

	/* Take own options from spec with ostori_spec_get() (the sim
	 * backend reports any option nobody took); fill dev limits
	 * (max_target, max_lun, max_transfer_bytes, max_segments) when
	 * they differ from the plain sim's; *priv is the model's state. */
	int (*open)(ostor_device *dev, struct sim_target *target,
		    struct ostor_spec *spec, void **priv);
	/* Every task has completed when close is called. */
	void (*close)(ostor_device *dev, void *priv);
	/* Same contract as struct ostor_backend.submit/cancel. */
	int (*submit)(ostor_task *task, void *priv);
	int (*cancel)(ostor_task *task, void *priv);
	/* Same contracts as struct ostor_backend.dma_alloc/dma_free (optional). */
	void *(*dma_alloc)(ostor_device *dev, void *priv, size_t size);
	void (*dma_free)(ostor_device *dev, void *priv, void *p, size_t size);
	bool (*is_dma)(ostor_device *dev, void *priv, const void *p, size_t len);
	/* Same contract as struct ostor_backend.reset (optional). */
	int (*reset)(ostor_device *dev, void *priv, enum ostor_reset_level level, uint32_t target,
		     uint32_t lun);

	/* Queues threads can own (optional; same contracts as struct
	 * ostor_backend's queue ops).  Without queue_count: one queue, reaped
	 * through poll. */
	unsigned int (*queue_count)(ostor_device *dev, void *priv);
	int (*queue_acquire)(ostor_device *dev, void *priv, unsigned int index);
	void (*queue_release)(ostor_device *dev, void *priv);
	int (*queue_poll)(ostor_device *dev, void *priv);
	/* Same contract as struct ostor_backend.counters (optional). */
	int (*counters)(ostor_device *dev, void *priv, struct ostor_counter *out, int max);
	int (*tuning)(ostor_device *dev, void *priv, struct ostori_setting *out, int max);
	/* Same contract as struct ostor_backend.lun_limits (optional). */
	void (*lun_limits)(ostor_device *dev, void *priv, uint32_t target, uint32_t lun, uint32_t block_size,
			   uint64_t max_bytes);

	/* Event loop integration (optional).  poll: process completions
	 * without blocking; pollfds: the descriptors that become readable
	 * when poll has work for the calling thread (how many, filling at
	 * most max);
	 * next_timeout: ms until poll is needed anyway (-1: never, 0: busy
	 * polling, e.g. virtio polled mode with requests in flight). */
	int (*poll)(ostor_device *dev, void *priv);
	int (*pollfds)(ostor_device *dev, void *priv, struct pollfd *fds, int max);
	int (*next_timeout)(ostor_device *dev, void *priv);
};

/* The models there are: NULL-terminated tables of them (each defined with
 * its model, in the folder of the backend whose seam it plugs into), put
 * together in lib/backends.c.  lib/sim knows none of them by name. */
extern const struct sim_transport_ops *const *const ostori_sim_transport_tables[];

/* The model state of an open sim: device (NULL without transport=). */
void *ostori_sim_transport_priv(ostor_device *dev);

#endif
