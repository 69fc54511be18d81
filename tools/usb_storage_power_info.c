/*
 * usb_storage_power_info: show the power of a USB mass-storage device -
 * the power condition and timers of its LUN (as "orionstor power") and
 * USB selective suspend (tools/common/usbpower.c).
 */
#include "subcommands.h"
#include "toolcommon.h"

int main(int argc, char **argv)
{
	tc_set_progname("usb_storage_power_info");
	return orionstor_cmd_usb_power_info(argc, argv);
}
