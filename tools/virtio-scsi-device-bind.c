/*
 * virtio-scsi-device-bind: hand a virtio-scsi PCI function to uio_pci_generic.
 */
#include "virtiotool.h"

#include <stdlib.h>
#include <string.h>


struct args {
	const char *addr;
	int force;
};

static error_t parser(int key, char *arg, struct argp_state *state)
{
	struct args *a = state->input;

	switch (key) {
	case 0x100:
		a->force = 1;
		return 0;
	case ARGP_KEY_END:
		return 0;
	}
	return ARGP_ERR_UNKNOWN;
}

static const struct argp_option options[] = {
	{ "force", 0x100, NULL, 0, "Take the device even if its disks are in use", 0 },
	{ 0 }
};

static const struct argp tool_argp = {
	options, parser, NULL,
	"Hand the virtio-scsi PCI function -d [virtio:]DDDD:BB:DD.F to uio_pci_generic.\v"
	"Refused while one of its disks is mounted, used as swap or held by another block "
	"device, unless --force."
};

int main(int argc, char **argv)
{
	struct tc_common c;
	struct tc_report r;
	struct args a = { NULL, 0 };
	ostor_context *ctx;
	const char *addr;
	int rc, err;

	tc_set_progname("virtio-scsi-device-bind");
	tc_parse(&tool_argp, argc, argv, TC_OPT_DEVICE_REQUIRED | TC_OPT_PCI | TC_OPT_JSON, &c, &a);
	tc_report_begin(&r, &c, "bind");
	if ((rc = tc_open_context(&c, &ctx)))
		return tc_report_end(&r, rc);
	addr = strncmp(c.device, "virtio:", 7) ? c.device : c.device + 7;
	err = ostor_virtio_pci_bind(ctx, addr, a.force);
	ostor_exit(ctx);
	if (err < 0) {
		tc_lib_error(err, "cannot bind %s", addr);
		return tc_report_end(&r, tc_exit_from_error(err));
	}
	tc_report_step(&r, "bind", "%s is bound to uio_pci_generic: use -d virtio:%s", addr, addr);
	return tc_report_end(&r, 0);
}
