/*
 * lib/sim/backend.h - the sim backend, and white-box access to a sim:
 * device's target, so tests and the device models can inject faults.
 */
#ifndef OSTOR_SIM_BACKEND_H
#define OSTOR_SIM_BACKEND_H

#include "core/backend.h"

extern const struct ostor_backend ostori_sim_backend;

struct sim_target;
/* The simulated target behind an open sim: device, NULL for others. */
struct sim_target *ostori_sim_device_target(ostor_device *dev);

#endif
