# tools/usb.mk: the usb_storage_* tools (USB mass-storage device and SCSI
# commands) and their man pages.
USB_TOOLS_SOURCES_COMMON =
bin_PROGRAMS += tools/usb_storage_device_info tools/usb_storage_device_reset \
	tools/usb_storage_device_remove tools/usb_storage_scsi_info \
	tools/usb_storage_scsi_command tools/usb_storage_scsi_reset

tools_usb_storage_device_info_SOURCES = tools/usb_storage_device_info.c $(USB_TOOLS_SOURCES_COMMON)
tools_usb_storage_device_info_CPPFLAGS = $(TOOLS_CPPFLAGS)
tools_usb_storage_device_info_CFLAGS = $(TOOLS_CFLAGS)
tools_usb_storage_device_info_LDADD = $(TOOLS_LDADD)

tools_usb_storage_device_reset_SOURCES = tools/usb_storage_device_reset.c $(USB_TOOLS_SOURCES_COMMON)
tools_usb_storage_device_reset_CPPFLAGS = $(TOOLS_CPPFLAGS)
tools_usb_storage_device_reset_CFLAGS = $(TOOLS_CFLAGS)
tools_usb_storage_device_reset_LDADD = $(TOOLS_LDADD)

tools_usb_storage_device_remove_SOURCES = tools/usb_storage_device_remove.c $(USB_TOOLS_SOURCES_COMMON)
tools_usb_storage_device_remove_CPPFLAGS = $(TOOLS_CPPFLAGS)
tools_usb_storage_device_remove_CFLAGS = $(TOOLS_CFLAGS)
tools_usb_storage_device_remove_LDADD = $(TOOLS_LDADD)

tools_usb_storage_scsi_info_SOURCES = tools/usb_storage_scsi_info.c $(USB_TOOLS_SOURCES_COMMON)
tools_usb_storage_scsi_info_CPPFLAGS = $(TOOLS_CPPFLAGS)
tools_usb_storage_scsi_info_CFLAGS = $(TOOLS_CFLAGS)
tools_usb_storage_scsi_info_LDADD = $(TOOLS_LDADD)

# Same engine as "orionstor cmd".
tools_usb_storage_scsi_command_SOURCES = tools/usb_storage_scsi_command.c
tools_usb_storage_scsi_command_CPPFLAGS = $(TOOLS_CPPFLAGS)
tools_usb_storage_scsi_command_CFLAGS = $(TOOLS_CFLAGS)
tools_usb_storage_scsi_command_LDADD = $(TOOLS_LDADD)

tools_usb_storage_scsi_reset_SOURCES = tools/usb_storage_scsi_reset.c $(USB_TOOLS_SOURCES_COMMON)
tools_usb_storage_scsi_reset_CPPFLAGS = $(TOOLS_CPPFLAGS)
tools_usb_storage_scsi_reset_CFLAGS = $(TOOLS_CFLAGS)
tools_usb_storage_scsi_reset_LDADD = $(TOOLS_LDADD)

dist_man_MANS += man/usb_storage_device_info.1 man/usb_storage_device_reset.1 \
	man/usb_storage_device_remove.1 man/usb_storage_scsi_info.1 \
	man/usb_storage_scsi_command.1 man/usb_storage_scsi_reset.1

# The tools against the simulated USB devices.
TESTS += tests/tools/test-usb-storage.sh
EXTRA_DIST += tests/tools/test-usb-storage.sh

# Per-command latency of QD1 reads, waiting in ostor_handle_events()
# (tests/vm/bench-usb.sh uses orionstor bench): public API only, not
# installed.
noinst_PROGRAMS += tests/bench/usb-qd1-latency
tests_bench_usb_qd1_latency_SOURCES = tests/bench/usb-qd1-latency.c
tests_bench_usb_qd1_latency_CPPFLAGS = $(TOOLS_CPPFLAGS)
tests_bench_usb_qd1_latency_CFLAGS = $(TOOLS_CFLAGS)
tests_bench_usb_qd1_latency_LDADD = $(TOOLS_LDADD)
EXTRA_DIST += tests/vm/bench-usb.sh tests/vm/bench-uas.sh

# The live tools: the same code as orionstor stats, queues, commands,
# abort and queue-flush (tools/common/live.c), over the control sockets.
bin_PROGRAMS += tools/usb_storage_performance_stats tools/usb_storage_optimization_info
tools_usb_storage_performance_stats_SOURCES = tools/usb_storage_performance_stats.c
tools_usb_storage_performance_stats_CPPFLAGS = $(TOOLS_CPPFLAGS)
tools_usb_storage_performance_stats_CFLAGS = $(TOOLS_CFLAGS)
tools_usb_storage_performance_stats_LDADD = $(TOOLS_LDADD)
tools_usb_storage_optimization_info_SOURCES = tools/usb_storage_optimization_info.c
tools_usb_storage_optimization_info_CPPFLAGS = $(TOOLS_CPPFLAGS)
tools_usb_storage_optimization_info_CFLAGS = $(TOOLS_CFLAGS)
tools_usb_storage_optimization_info_LDADD = $(TOOLS_LDADD)
dist_man_MANS += man/usb_storage_performance_stats.1 man/usb_storage_optimization_info.1

# The block cache: the same code as orionstor cache info, flush and reset
# (tools/common/cache.c), through the holder's control socket or on a
# device opened here.
bin_PROGRAMS += tools/usb_storage_cache_info tools/usb_storage_cache_flush tools/usb_storage_cache_reset
tools_usb_storage_cache_info_SOURCES = tools/usb_storage_cache_info.c
tools_usb_storage_cache_info_CPPFLAGS = $(TOOLS_CPPFLAGS)
tools_usb_storage_cache_info_CFLAGS = $(TOOLS_CFLAGS)
tools_usb_storage_cache_info_LDADD = $(TOOLS_LDADD)
tools_usb_storage_cache_flush_SOURCES = tools/usb_storage_cache_flush.c
tools_usb_storage_cache_flush_CPPFLAGS = $(TOOLS_CPPFLAGS)
tools_usb_storage_cache_flush_CFLAGS = $(TOOLS_CFLAGS)
tools_usb_storage_cache_flush_LDADD = $(TOOLS_LDADD)
tools_usb_storage_cache_reset_SOURCES = tools/usb_storage_cache_reset.c
tools_usb_storage_cache_reset_CPPFLAGS = $(TOOLS_CPPFLAGS)
tools_usb_storage_cache_reset_CFLAGS = $(TOOLS_CFLAGS)
tools_usb_storage_cache_reset_LDADD = $(TOOLS_LDADD)
dist_man_MANS += man/usb_storage_cache_info.1 man/usb_storage_cache_flush.1 man/usb_storage_cache_reset.1

# Power: the code of orionstor power plus USB selective suspend
# (tools/common/usbpower.c).
bin_PROGRAMS += tools/usb_storage_power_info tools/usb_storage_power_set
tools_usb_storage_power_info_SOURCES = tools/usb_storage_power_info.c
tools_usb_storage_power_info_CPPFLAGS = $(TOOLS_CPPFLAGS)
tools_usb_storage_power_info_CFLAGS = $(TOOLS_CFLAGS)
tools_usb_storage_power_info_LDADD = $(TOOLS_LDADD)
tools_usb_storage_power_set_SOURCES = tools/usb_storage_power_set.c
tools_usb_storage_power_set_CPPFLAGS = $(TOOLS_CPPFLAGS)
tools_usb_storage_power_set_CFLAGS = $(TOOLS_CFLAGS)
tools_usb_storage_power_set_LDADD = $(TOOLS_LDADD)
dist_man_MANS += man/usb_storage_power_info.1 man/usb_storage_power_set.1
