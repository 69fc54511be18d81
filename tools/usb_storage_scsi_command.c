/*
 * tools/usb_storage_scsi_command.c - one raw CDB to a USB mass-storage
 * device, like sg_raw: the same engine as "orionstor cmd" (linked from
 * tools/common/rawcmd.c), under its own name.
 */
#include "toolcommon.h"
#include "subcommands.h"

int main(int argc, char **argv)
{
	tc_set_progname("usb_storage_scsi_command");
	return orionstor_cmd_raw(argc, argv);
}
