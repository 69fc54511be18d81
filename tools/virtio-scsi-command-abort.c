/*
 * virtio-scsi-command-abort: abort one command in flight on a virtio-scsi device held by another process (the
 * code of "orionstor abort", tools/common/live.c).
 */
#include "subcommands.h"
#include "toolcommon.h"

int main(int argc, char **argv)
{
	tc_set_progname("virtio-scsi-command-abort");
	return orionstor_cmd_abort(argc, argv);
}
