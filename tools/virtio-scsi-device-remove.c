/*
 * virtio-scsi-device-remove: reset a device and give it back to virtio-pci.
 */
#include "virtiotool.h"

#include <stdlib.h>
#include <string.h>


static const struct argp tool_argp = {
	NULL, NULL, NULL,
	"Flush and reset the virtio-scsi device -d virtio:ADDRESS, then give it back to the "
	"kernel (virtio-pci)."
};

int main(int argc, char **argv)
{
	struct tc_common c;
	struct tc_report r;
	ostor_context *ctx;
	ostor_device *dev;
	const char *addr;
	int rc, err;

	tc_set_progname("virtio-scsi-device-remove");
	tc_parse(&tool_argp, argc, argv, TC_OPT_DEVICE_REQUIRED | TC_OPT_PCI | TC_OPT_JSON, &c, NULL);
	tc_report_begin(&r, &c, "remove");
	if (!(addr = tc_pci_address(c.device)))
		return tc_report_end(&r, TC_EXIT_SYNTAX);
	if ((rc = vst_open(&c, &ctx, &dev)))
		return tc_report_end(&r, rc);
	rc = tc_close(NULL, dev); /* flushes written LUNs, resets the device */
	if (rc) {
		ostor_exit(ctx);
		return tc_report_end(&r, rc);
	}
	err = ostor_virtio_pci_unbind(ctx, addr);
	ostor_exit(ctx);
	if (err < 0) {
		tc_lib_error(err, "cannot give %s back to virtio-pci", addr);
		return tc_report_end(&r, tc_exit_from_error(err));
	}
	tc_report_step(&r, "unbind", "%s is back with virtio-pci", addr);
	return tc_report_end(&r, 0);
}
