/*
 * usb_storage_optimization_info: the tuning in effect for a USB
 * mass-storage device another process holds, where each value came from,
 * and advice from its statistics (the code of "orionstor tuning",
 * tools/common/live.c).
 */
#include "subcommands.h"
#include "toolcommon.h"

int main(int argc, char **argv)
{
	tc_set_progname("usb_storage_optimization_info");
	return orionstor_cmd_tuning(argc, argv);
}
