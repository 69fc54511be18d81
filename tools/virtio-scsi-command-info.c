/*
 * virtio-scsi-command-info: list the commands in flight on a virtio-scsi device held by another process (the
 * code of "orionstor commands", tools/common/live.c).
 */
#include "subcommands.h"
#include "toolcommon.h"

int main(int argc, char **argv)
{
	tc_set_progname("virtio-scsi-command-info");
	return orionstor_cmd_commands(argc, argv);
}
