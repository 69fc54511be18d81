/*
 * usb_storage_cache_info: show the block cache of a USB mass-storage
 * device - mode, size, what is cached and dirty, hit rate, read-ahead,
 * write-out and losses (the code of "orionstor cache info",
 * tools/common/cache.c).
 */
#include "subcommands.h"
#include "toolcommon.h"

int main(int argc, char **argv)
{
	tc_set_progname("usb_storage_cache_info");
	return orionstor_cmd_cache_info(argc, argv);
}
