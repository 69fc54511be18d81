/*
 * virtio-scsi-queue-stats: show the queues of a virtio-scsi device in use held by another process (the
 * code of "orionstor queues", tools/common/live.c).
 */
#include "subcommands.h"
#include "toolcommon.h"

int main(int argc, char **argv)
{
	tc_set_progname("virtio-scsi-queue-stats");
	return orionstor_cmd_queues(argc, argv);
}
