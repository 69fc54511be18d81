/*
 * lib/sim/virtio_model.c - a simulated virtio-scsi device for
 * sim:transport=virtio.  Not implemented yet: the table is empty, so
 * transport=virtio is refused with a clear message.
 */
#include "sim/transport.h"

const struct sim_transport_ops *const ostori_sim_virtio_transports[] = { NULL };
