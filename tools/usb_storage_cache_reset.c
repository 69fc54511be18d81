/*
 * usb_storage_cache_reset: empty the block cache of a USB mass-storage
 * device, refused while it holds unwritten data unless --flush or
 * --discard (the code of "orionstor cache reset", tools/common/cache.c).
 */
#include "subcommands.h"
#include "toolcommon.h"

int main(int argc, char **argv)
{
	tc_set_progname("usb_storage_cache_reset");
	return orionstor_cmd_cache_reset(argc, argv);
}
