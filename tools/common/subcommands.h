/*
 * tools/common/subcommands.h - the subcommands of orionstor(1).
 *
 * Each takes the argument vector from the subcommand name on (argv[0] is
 * "orionstor NAME"), parses its own options and returns the exit status.
 */
#ifndef ORIONSTOR_TOOL_CMDS_H
#define ORIONSTOR_TOOL_CMDS_H

int orionstor_cmd_list(int argc, char **argv);
int orionstor_cmd_info(int argc, char **argv);
int orionstor_cmd_read(int argc, char **argv);
int orionstor_cmd_write(int argc, char **argv);
int orionstor_cmd_raw(int argc, char **argv);
int orionstor_cmd_bench(int argc, char **argv);
int orionstor_cmd_ps(int argc, char **argv);       /* ps.c */
int orionstor_cmd_ping(int argc, char **argv);
int orionstor_cmd_stats(int argc, char **argv);    /* live.c */
int orionstor_cmd_top(int argc, char **argv);
int orionstor_cmd_queues(int argc, char **argv);
int orionstor_cmd_commands(int argc, char **argv);
int orionstor_cmd_abort(int argc, char **argv);
int orionstor_cmd_queue_flush(int argc, char **argv);
int orionstor_cmd_tuning(int argc, char **argv);
int orionstor_cmd_rpc(int argc, char **argv);
int orionstor_cmd_cache(int argc, char **argv);       /* cache.c: cache info|flush|reset */
int orionstor_cmd_cache_info(int argc, char **argv);
int orionstor_cmd_cache_flush(int argc, char **argv);
int orionstor_cmd_cache_reset(int argc, char **argv);
int orionstor_cmd_smart(int argc, char **argv);       /* smart.c */
int orionstor_cmd_power(int argc, char **argv);       /* power.c */
/* usbpower.c: the usb_storage_power_* tools (ostor_usb_power_*). */
int orionstor_cmd_usb_power_info(int argc, char **argv);
int orionstor_cmd_usb_power_set(int argc, char **argv);

#endif
