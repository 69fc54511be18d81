/*
 * tools/usb_storage_scsi_reset.c - the transport's SCSI-level reset (BOT
 * Reset Recovery or CB/CBI Command Block Reset, no port reset), then
 * clear the unit attentions it raised on every LUN.
 */
#include "usbtool.h"

#include <stdlib.h>

static const struct argp sreset_argp = {
	NULL, NULL, NULL,
	"Reset the SCSI transport of a USB mass-storage device (Bulk-Only Reset Recovery or "
	"Command Block Reset), then clear the resulting unit attentions on every LUN."
};

int main(int argc, char **argv)
{
	struct tc_common c;
	ostor_context *ctx;
	ostor_device *dev;
	struct ostor_usb_details d;
	uint8_t tur[6] = { 0 };
	int rc, err;

	tc_set_progname("usb_storage_scsi_reset");
	tc_parse(&sreset_argp, argc, argv, TC_OPT_DEVICE_REQUIRED, &c, NULL);
	rc = tc_open_device(&c, &ctx, &dev);
	if (rc)
		return rc;
	rc = us_details(dev, c.device, &d);
	if (rc) {
		tc_close(ctx, dev);
		return rc;
	}
	err = ostor_usb_reset(dev, OSTOR_USB_RESET_TRANSPORT);
	if (err < 0) {
		tc_lib_error(err, "the transport reset failed on '%s'", c.device);
		tc_close(ctx, dev);
		return tc_exit_from_error(err);
	}
	printf("%s: %s done\n", c.device, d.protocol == 0x50 ? "Bulk-Only Reset Recovery" : "Command Block Reset");
	for (uint32_t lun = 0; lun <= d.max_lun; lun++) {
		int cleared = 0;

		/* Each TEST UNIT READY reports (and clears) one attention. */
		for (int i = 0; i < 8; i++) {
			ostor_task *t;
			const uint8_t *s;
			size_t n;
			int res;

			if ((err = us_exec(dev, lun, tur, 6, OSTOR_DIR_NONE, NULL, 0, &t)) < 0) {
				tc_lib_error(err, "LUN %u", lun);
				rc = tc_exit_from_error(err);
				break;
			}
			res = ostor_task_result(t);
			s = ostor_task_sense(t, &n);
			if (res == OSTOR_RESULT_CHECK_CONDITION && s && n >= 3 && (s[2] & 0x0f) == 6) {
				cleared++;
				ostor_task_free(t);
				continue;
			}
			printf("LUN %u: %d unit attention%s cleared, now %s\n", lun, cleared,
			       cleared == 1 ? "" : "s", ostor_result_name(res));
			ostor_task_free(t);
			break;
		}
	}
	err = tc_close(ctx, dev);
	return rc ? rc : err;
}
