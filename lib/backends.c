/*
 * lib/backends.c - the composition root: the one place that names every
 * backend and every simulated device model.  The core reaches backends
 * only through this list (struct ostor_backend), and the sim backend
 * reaches the models of lib/usb and lib/virtio only through theirs
 * (struct sim_transport_ops), so no folder under lib/ depends on one
 * above it.
 */
#include "core/backend.h"
#include "core/control.h"
#include "sim/backend.h"
#include "sim/transport.h"
#include "usb/config.h"
#include "usb/sim_device.h"
#include "usb/spec.h"
#include "virtio/config.h"
#include "virtio/sim_device.h"
#include "virtio/spec.h"
#ifdef OSTOR_HAVE_USB
#include "usb/backend.h"
#endif
#ifdef OSTOR_HAVE_VIRTIO
#include "virtio/pci.h"
#endif

const struct ostor_backend *const ostori_backends[] = {
	&ostori_sim_backend,
#ifdef OSTOR_HAVE_USB
	&ostori_usb_backend,
#endif
#ifdef OSTOR_HAVE_VIRTIO
	&ostori_virtio_backend,
#endif
	NULL
};

const char *const ostori_backend_names[] = {
	"sim",
#ifdef OSTOR_HAVE_USB
	"usb",
#endif
#ifdef OSTOR_HAVE_VIRTIO
	"virtio",
#endif
	NULL
};

/* sim:transport=NAME: our real USB engine and virtio-scsi driver over a
 * simulated lower layer, built on the sim target. */
const struct sim_transport_ops *const *const ostori_sim_transport_tables[] = {
	ostori_sim_usb_transports,
	ostori_sim_virtio_transports,
	NULL
};

/* orionstor.conf(5), one table per component, in man-page order. */
const struct ostori_config_table *const ostori_config_tables[] = {
	&ostori_virtio_config_table,
	&ostori_usb_config_table,
	&ostori_control_config_table,
	NULL
};

/* Device specs: every form, also of backends this build leaves out. */
const struct ostori_spec_parser ostori_spec_parsers[] = {
	{ "sim", "'sim:[key=value,...]'", true, ostori_spec_parse_options },
	{ "usb", OUSB_SPEC_FORMS, false, ousb_spec_parse },
	{ "virtio", OVIRTIO_SPEC_FORMS, false, ovirtio_spec_parse },
	{ NULL, NULL, false, NULL }
};
