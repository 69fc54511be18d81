/*
 * virtio-scsi-performance-stats: show the live statistics of a virtio-scsi device held by another process (the
 * code of "orionstor stats", tools/common/live.c).
 */
#include "subcommands.h"
#include "toolcommon.h"

int main(int argc, char **argv)
{
	tc_set_progname("virtio-scsi-performance-stats");
	return orionstor_cmd_stats(argc, argv);
}
