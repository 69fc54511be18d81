/*
 * virtio-scsi-queue-flush: wait for the commands of a virtio-scsi queue held by another process (the
 * code of "orionstor queue-flush", tools/common/live.c).
 */
#include "subcommands.h"
#include "toolcommon.h"

int main(int argc, char **argv)
{
	tc_set_progname("virtio-scsi-queue-flush");
	return orionstor_cmd_queue_flush(argc, argv);
}
