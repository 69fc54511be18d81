/*
 * virtio-scsi-device-bind: hand a virtio-scsi PCI function to vfio-pci or
 * uio_pci_generic.
 */
#include "virtiotool.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>


struct args {
	const char *addr;
	const char *driver;
	int force;
};

/* The driver the function is bound to now ("0000:" may be left out). */
static bool driver_of(const char *addr, char *out, size_t len)
{
	char path[128], link[256];
	ssize_t n = -1;

	for (int full = 0; full < 2 && n < 0; full++) {
		snprintf(path, sizeof(path), "/sys/bus/pci/devices/%s%s/driver", full ? "0000:" : "", addr);
		n = readlink(path, link, sizeof(link) - 1);
	}
	if (n < 0)
		return false;
	const char *base;

	link[n] = '\0';
	base = strrchr(link, '/') ? strrchr(link, '/') + 1 : link;
	if (strlen(base) >= len)
		return false;
	memcpy(out, base, strlen(base) + 1);
	return true;
}

static error_t parser(int key, char *arg, struct argp_state *state)
{
	struct args *a = state->input;

	switch (key) {
	case 0x100:
		a->force = 1;
		return 0;
	case 0x101:
		if (strcmp(arg, "vfio-pci") && strcmp(arg, "uio_pci_generic"))
			argp_error(state, "--driver: '%s' is not vfio-pci or uio_pci_generic", arg);
		a->driver = arg;
		return 0;
	case ARGP_KEY_END:
		return 0;
	}
	return ARGP_ERR_UNKNOWN;
}

static const struct argp_option options[] = {
	{ "force", 0x100, NULL, 0, "Take the device even if its disks are in use", 0 },
	{ "driver", 0x101, "DRIVER", 0, "vfio-pci or uio_pci_generic (default: vfio-pci when the "
	  "function has an IOMMU group, else uio_pci_generic)", 0 },
	{ 0 }
};

static const struct argp tool_argp = {
	options, parser, NULL,
	"Hand the virtio-scsi PCI function -d [virtio:]DDDD:BB:DD.F to vfio-pci or "
	"uio_pci_generic.\v"
	"Refused while one of its disks is mounted, used as swap or held by another block "
	"device, unless --force; for vfio-pci also while another device of its IOMMU group "
	"is bound to a host driver.  Under vfio-pci a user given /dev/vfio/GROUP (chown) "
	"and enough locked memory (ulimit -l) drives the disk without root."
};

int main(int argc, char **argv)
{
	struct tc_common c;
	struct tc_report r;
	struct args a = { NULL, NULL, 0 };
	char bound[64];
	ostor_context *ctx;
	const char *addr;
	int rc, err;

	tc_set_progname("virtio-scsi-device-bind");
	tc_parse(&tool_argp, argc, argv, TC_OPT_DEVICE_REQUIRED | TC_OPT_PCI | TC_OPT_JSON, &c, &a);
	tc_report_begin(&r, &c, "bind");
	if ((rc = tc_open_context(&c, &ctx)))
		return tc_report_end(&r, rc);
	if (!(addr = tc_pci_address(c.device))) {
		ostor_exit(ctx);
		return tc_report_end(&r, TC_EXIT_SYNTAX);
	}
	err = ostor_virtio_pci_bind_driver(ctx, addr, a.driver, a.force);
	ostor_exit(ctx);
	if (err < 0) {
		tc_lib_error(err, "cannot bind %s", addr);
		return tc_report_end(&r, tc_exit_from_error(err));
	}
	if (!driver_of(addr, bound, sizeof(bound)))
		snprintf(bound, sizeof(bound), "%s", a.driver ? a.driver : "its userspace driver");
	tc_report_step(&r, "bind", "%s is bound to %s: use -d virtio:%s", addr, bound, addr);
	return tc_report_end(&r, 0);
}
