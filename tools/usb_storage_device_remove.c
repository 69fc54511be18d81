/*
 * tools/usb_storage_device_remove.c - safe removal: flush every LUN,
 * stop (and eject removable media), then release the interface so the
 * kernel driver gets the device back.
 */
#include "usbtool.h"

#include <stdlib.h>

static const struct argp remove_argp = {
	NULL, NULL, NULL,
	"Prepare a USB mass-storage device for unplugging: SYNCHRONIZE CACHE on every LUN, "
	"START STOP UNIT (eject where removable), release the interface and give the device "
	"back to the kernel driver.\v"
	"A flush failure is reported loudly and sets the exit status: data may be lost."
};

int main(int argc, char **argv)
{
	struct tc_common c;
	struct tc_report r;
	ostor_context *ctx;
	ostor_device *dev;
	struct ostor_usb_details d = OSTOR_USB_DETAILS_INIT;
	struct ostor_lun_addr *luns = NULL;
	size_t n = 0;
	int rc, err;

	tc_set_progname("usb_storage_device_remove");
	tc_parse(&remove_argp, argc, argv, TC_OPT_DEVICE_REQUIRED | TC_OPT_USB | TC_OPT_JSON | TC_OPT_NO_LUN | TC_OPT_NO_TARGET, &c, NULL);
	tc_report_begin(&r, &c, "remove");
	rc = tc_open_device(&c, &ctx, &dev);
	if (rc)
		return tc_report_end(&r, rc);
	rc = us_details(dev, c.device, &d);
	if (rc) {
		tc_close(ctx, dev);
		return tc_report_end(&r, rc);
	}
	err = ostor_device_luns(dev, &luns, &n);
	if (err < 0) {
		tc_lib_error(err, "cannot list the LUNs of '%s'", c.device);
		rc = tc_exit_from_error(err);
	}
	for (size_t i = 0; i < n; i++) {
		struct ostor_lun_info li = OSTOR_LUN_INFO_INIT;
		struct ostor_cdb cdb;
		ostor_task *t;
		bool removable = false;

		if (ostor_lun_info(dev, luns[i].target, luns[i].lun, &li) == 0)
			removable = li.removable;
		err = ostor_flush(dev, luns[i].target, luns[i].lun);
		if (err < 0) {
			tc_lib_error(err, "FLUSH FAILED on LUN %u: data written to it may be lost",
				     luns[i].lun);
			rc = tc_exit_from_error(err);
		} else {
			tc_report_step(&r, "flush", "LUN %u: cache flushed", luns[i].lun);
		}
		ostor_scsi_cdb_start_stop_unit(&cdb, 0, 0, 0, removable, 0);
		err = us_exec(dev, luns[i].target, luns[i].lun, cdb.bytes, cdb.len, OSTOR_DIR_NONE, NULL, 0, &t);
		if (err < 0) {
			tc_lib_error(err, "START STOP UNIT on LUN %u", luns[i].lun);
		} else {
			tc_report_step(&r, "stop", "LUN %u: %s: %s", luns[i].lun, removable ? "stopped and ejected" : "stopped",
			       ostor_result_name(ostor_task_result(t)));
			ostor_task_free(t);
		}
	}
	free(luns);
	err = tc_close(ctx, dev);
	if (!err)
		tc_report_step(&r, "release", "%s: interface released; the kernel driver has the device again", c.device);
	return tc_report_end(&r, rc ? rc : err);
}
