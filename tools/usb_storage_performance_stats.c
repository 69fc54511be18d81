/*
 * usb_storage_performance_stats: show the live statistics of a USB mass-storage device held by another process (the
 * code of "orionstor stats", tools/common/live.c).
 */
#include "subcommands.h"
#include "toolcommon.h"

int main(int argc, char **argv)
{
	tc_set_progname("usb_storage_performance_stats");
	return orionstor_cmd_stats(argc, argv);
}
