/*
 * usb_storage_cache_flush: write out what the block cache of a USB
 * mass-storage device holds dirty, then SYNCHRONIZE CACHE; exit status 0
 * only when the device confirmed (the code of "orionstor cache flush",
 * tools/common/cache.c).
 */
#include "subcommands.h"
#include "toolcommon.h"

int main(int argc, char **argv)
{
	tc_set_progname("usb_storage_cache_flush");
	return orionstor_cmd_cache_flush(argc, argv);
}
