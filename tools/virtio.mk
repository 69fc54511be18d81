# tools/virtio.mk: the virtio-scsi-* tools (device, target and queue
# commands) over tools/common and the installed API.
noinst_LTLIBRARIES += tools/libvirtioscsitool.la
tools_libvirtioscsitool_la_SOURCES = tools/common/virtiotool.c tools/common/virtiotool.h
tools_libvirtioscsitool_la_CPPFLAGS = $(TOOLS_CPPFLAGS)
tools_libvirtioscsitool_la_CFLAGS = $(TOOLS_CFLAGS)

bin_PROGRAMS += tools/virtio-scsi-device-info tools/virtio-scsi-device-bind \
	tools/virtio-scsi-device-remove tools/virtio-scsi-device-reset \
	tools/virtio-scsi-target-info tools/virtio-scsi-target-add \
	tools/virtio-scsi-target-remove tools/virtio-scsi-queue-info \
	tools/virtio-scsi-queue-reset
VIRTIO_TOOL_LDADD = tools/libvirtioscsitool.la $(TOOLS_LDADD)

tools_virtio_scsi_device_info_SOURCES = tools/virtio-scsi-device-info.c
tools_virtio_scsi_device_info_CPPFLAGS = $(TOOLS_CPPFLAGS)
tools_virtio_scsi_device_info_CFLAGS = $(TOOLS_CFLAGS)
tools_virtio_scsi_device_info_LDADD = $(VIRTIO_TOOL_LDADD)
tools_virtio_scsi_device_bind_SOURCES = tools/virtio-scsi-device-bind.c
tools_virtio_scsi_device_bind_CPPFLAGS = $(TOOLS_CPPFLAGS)
tools_virtio_scsi_device_bind_CFLAGS = $(TOOLS_CFLAGS)
tools_virtio_scsi_device_bind_LDADD = $(VIRTIO_TOOL_LDADD)
tools_virtio_scsi_device_remove_SOURCES = tools/virtio-scsi-device-remove.c
tools_virtio_scsi_device_remove_CPPFLAGS = $(TOOLS_CPPFLAGS)
tools_virtio_scsi_device_remove_CFLAGS = $(TOOLS_CFLAGS)
tools_virtio_scsi_device_remove_LDADD = $(VIRTIO_TOOL_LDADD)
tools_virtio_scsi_device_reset_SOURCES = tools/virtio-scsi-device-reset.c
tools_virtio_scsi_device_reset_CPPFLAGS = $(TOOLS_CPPFLAGS)
tools_virtio_scsi_device_reset_CFLAGS = $(TOOLS_CFLAGS)
tools_virtio_scsi_device_reset_LDADD = $(VIRTIO_TOOL_LDADD)
tools_virtio_scsi_target_info_SOURCES = tools/virtio-scsi-target-info.c
tools_virtio_scsi_target_info_CPPFLAGS = $(TOOLS_CPPFLAGS)
tools_virtio_scsi_target_info_CFLAGS = $(TOOLS_CFLAGS)
tools_virtio_scsi_target_info_LDADD = $(VIRTIO_TOOL_LDADD)
tools_virtio_scsi_target_add_SOURCES = tools/virtio-scsi-target-add.c
tools_virtio_scsi_target_add_CPPFLAGS = $(TOOLS_CPPFLAGS)
tools_virtio_scsi_target_add_CFLAGS = $(TOOLS_CFLAGS)
tools_virtio_scsi_target_add_LDADD = $(VIRTIO_TOOL_LDADD)
tools_virtio_scsi_target_remove_SOURCES = tools/virtio-scsi-target-remove.c
tools_virtio_scsi_target_remove_CPPFLAGS = $(TOOLS_CPPFLAGS)
tools_virtio_scsi_target_remove_CFLAGS = $(TOOLS_CFLAGS)
tools_virtio_scsi_target_remove_LDADD = $(VIRTIO_TOOL_LDADD)
tools_virtio_scsi_queue_info_SOURCES = tools/virtio-scsi-queue-info.c
tools_virtio_scsi_queue_info_CPPFLAGS = $(TOOLS_CPPFLAGS)
tools_virtio_scsi_queue_info_CFLAGS = $(TOOLS_CFLAGS)
tools_virtio_scsi_queue_info_LDADD = $(VIRTIO_TOOL_LDADD)
tools_virtio_scsi_queue_reset_SOURCES = tools/virtio-scsi-queue-reset.c
tools_virtio_scsi_queue_reset_CPPFLAGS = $(TOOLS_CPPFLAGS)
tools_virtio_scsi_queue_reset_CFLAGS = $(TOOLS_CFLAGS)
tools_virtio_scsi_queue_reset_LDADD = $(VIRTIO_TOOL_LDADD)

dist_man_MANS += man/virtio-scsi-device-info.1 man/virtio-scsi-device-bind.1 \
	man/virtio-scsi-device-remove.1 man/virtio-scsi-device-reset.1 \
	man/virtio-scsi-target-info.1 man/virtio-scsi-target-add.1 \
	man/virtio-scsi-target-remove.1 man/virtio-scsi-queue-info.1 \
	man/virtio-scsi-queue-reset.1


# Guest-side helper of the virtio VM tests and the random reader of
# tests/vm/t-virtio-stall.sh: public API only, not installed.
noinst_PROGRAMS += tests/vm/virtio-ours-helper tests/bench/virtio-randread
tests_vm_virtio_ours_helper_SOURCES = tests/vm/virtio-ours-helper.c
tests_vm_virtio_ours_helper_CPPFLAGS = -I$(top_srcdir)/include
tests_vm_virtio_ours_helper_LDADD = lib/liborionstor.la
tests_bench_virtio_randread_SOURCES = tests/bench/virtio-randread.c
tests_bench_virtio_randread_CPPFLAGS = $(TOOLS_CPPFLAGS)
tests_bench_virtio_randread_CFLAGS = $(TOOLS_CFLAGS)
tests_bench_virtio_randread_LDADD = $(TOOLS_LDADD)

# The nine tools and the helpers above on the simulated device.
TESTS += tests/tools/test-virtio-scsi.sh
EXTRA_DIST += tests/tools/test-virtio-scsi.sh tests/vm/bench-virtio.sh

# The live tools: the same code as orionstor stats, queues, commands,
# abort and queue-flush (tools/common/live.c), over the control sockets.
bin_PROGRAMS += tools/virtio-scsi-performance-stats tools/virtio-scsi-queue-stats tools/virtio-scsi-command-info tools/virtio-scsi-command-abort tools/virtio-scsi-queue-flush
tools_virtio_scsi_performance_stats_SOURCES = tools/virtio-scsi-performance-stats.c
tools_virtio_scsi_performance_stats_CPPFLAGS = $(TOOLS_CPPFLAGS)
tools_virtio_scsi_performance_stats_CFLAGS = $(TOOLS_CFLAGS)
tools_virtio_scsi_performance_stats_LDADD = $(TOOLS_LDADD)
tools_virtio_scsi_queue_stats_SOURCES = tools/virtio-scsi-queue-stats.c
tools_virtio_scsi_queue_stats_CPPFLAGS = $(TOOLS_CPPFLAGS)
tools_virtio_scsi_queue_stats_CFLAGS = $(TOOLS_CFLAGS)
tools_virtio_scsi_queue_stats_LDADD = $(TOOLS_LDADD)
tools_virtio_scsi_command_info_SOURCES = tools/virtio-scsi-command-info.c
tools_virtio_scsi_command_info_CPPFLAGS = $(TOOLS_CPPFLAGS)
tools_virtio_scsi_command_info_CFLAGS = $(TOOLS_CFLAGS)
tools_virtio_scsi_command_info_LDADD = $(TOOLS_LDADD)
tools_virtio_scsi_command_abort_SOURCES = tools/virtio-scsi-command-abort.c
tools_virtio_scsi_command_abort_CPPFLAGS = $(TOOLS_CPPFLAGS)
tools_virtio_scsi_command_abort_CFLAGS = $(TOOLS_CFLAGS)
tools_virtio_scsi_command_abort_LDADD = $(TOOLS_LDADD)
tools_virtio_scsi_queue_flush_SOURCES = tools/virtio-scsi-queue-flush.c
tools_virtio_scsi_queue_flush_CPPFLAGS = $(TOOLS_CPPFLAGS)
tools_virtio_scsi_queue_flush_CFLAGS = $(TOOLS_CFLAGS)
tools_virtio_scsi_queue_flush_LDADD = $(TOOLS_LDADD)
dist_man_MANS += man/virtio-scsi-performance-stats.1 man/virtio-scsi-queue-stats.1 man/virtio-scsi-command-info.1 man/virtio-scsi-command-abort.1 man/virtio-scsi-queue-flush.1
