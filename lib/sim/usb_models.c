/*
 * lib/sim/usb_models.c - simulated USB mass-storage devices (BOT, CBI, CB)
 * for sim:transport=usb-*.  Not implemented yet: the table is empty, so
 * transport=usb-* is refused with a clear message.
 */
#include "sim/transport.h"

const struct sim_transport_ops *const ostori_sim_usb_transports[] = { NULL };
