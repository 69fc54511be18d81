/*
 * usb_storage_power_set: change the power of a USB mass-storage device -
 * START STOP UNIT, the timers of page 1Ah, USB autosuspend - and show the
 * result (tools/common/usbpower.c).
 */
#include "subcommands.h"
#include "toolcommon.h"

int main(int argc, char **argv)
{
	tc_set_progname("usb_storage_power_set");
	return orionstor_cmd_usb_power_set(argc, argv);
}
