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
	struct tc_report r;
	ostor_context *ctx;
	ostor_device *dev;
	struct ostor_usb_details d = OSTOR_USB_DETAILS_INIT;
	uint8_t tur[6] = { 0 };
	int rc, err;

	tc_set_progname("usb_storage_scsi_reset");
	tc_parse(&sreset_argp, argc, argv, TC_OPT_DEVICE_REQUIRED | TC_OPT_USB | TC_OPT_JSON | TC_OPT_NO_LUN | TC_OPT_NO_TARGET, &c, NULL);
	tc_report_begin(&r, &c, "scsi-reset");
	rc = tc_open_device(&c, &ctx, &dev);
	if (rc)
		return tc_report_end(&r, rc);
	rc = us_details(dev, c.device, &d);
	if (rc) {
		tc_close(ctx, dev);
		return tc_report_end(&r, rc);
	}
	err = ostor_usb_reset(dev, OSTOR_USB_RESET_TRANSPORT);
	if (err < 0) {
		tc_lib_error(err, "the transport reset failed on '%s'", c.device);
		tc_close(ctx, dev);
		return tc_report_end(&r, tc_exit_from_error(err));
	}
	tc_report_step(&r, "reset", "%s: %s done", c.device, d.protocol == 0x50 ? "Bulk-Only Reset Recovery" : "Command Block Reset");
	/* Every target (mass-storage interface) was reset: clear each one's
	 * LUNs; a single-interface device prints as it always did. */
	for (uint32_t tg = 0; tg < (d.interfaces > 1 ? d.interfaces : 1u) && tg < sizeof(d.target_max_lun); tg++) {
		uint32_t max_lun = d.interfaces > 1 ? d.target_max_lun[tg] : d.max_lun;
		char name[24];

		for (uint32_t lun = 0; lun <= max_lun; lun++) {
			int cleared = 0;

			if (d.interfaces > 1)
				snprintf(name, sizeof(name), "%u:%u", tg, lun);
			else
				snprintf(name, sizeof(name), "%u", lun);
			/* Each TEST UNIT READY reports (and clears) one attention. */
			for (int i = 0; i < 8; i++) {
				ostor_task *t;
				const uint8_t *s;
				size_t n;
				int res;

				if ((err = us_exec(dev, tg, lun, tur, 6, OSTOR_DIR_NONE, NULL, 0, &t)) < 0) {
					tc_lib_error(err, "LUN %s", name);
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
				tc_report_step(&r, "unit-attention", "LUN %s: %d unit attention%s cleared, now %s", name, cleared,
				       cleared == 1 ? "" : "s", ostor_result_name(res));
				ostor_task_free(t);
				break;
			}
		}
	}
	err = tc_close(ctx, dev);
	return tc_report_end(&r, rc ? rc : err);
}
