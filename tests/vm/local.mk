# tests/vm/local.mk -- QEMU guest harness (tracker issue 5), included from
# the top-level Makefile.am. `make check-vm` boots TCG guests; it is not
# part of `make check` / distcheck. See tests/vm/README.md.

# Every tests/vm/t-*.sh must be listed here (run-all.sh runs them all;
# this list only matters for `make dist`).
VM_TEST_LIST = \
	tests/vm/t-cache.sh \
	tests/vm/t-fault-setup.sh \
	tests/vm/t-hotplug.sh \
	tests/vm/t-live-tools.sh \
	tests/vm/t-nbdkit-unplug.sh \
	tests/vm/t-nbdkit-usb.sh \
	tests/vm/t-nbdkit-virtio.sh \
	tests/vm/t-smart.sh \
	tests/vm/t-usb-ffs-bot.sh \
	tests/vm/t-usb-ours-bot.sh \
	tests/vm/t-usb-ours-composite.sh \
	tests/vm/t-usb-ours-ffs.sh \
	tests/vm/t-usb-ours-gadget.sh \
	tests/vm/t-usb-ours-multi-if.sh \
	tests/vm/t-usb-ours-oracle.sh \
	tests/vm/t-usb-ours-unplug.sh \
	tests/vm/t-usb-power.sh \
	tests/vm/t-usb-storage.sh \
	tests/vm/t-usb-uas.sh \
	tests/vm/t-virtio-ours-devices.sh \
	tests/vm/t-virtio-ours-hotplug.sh \
	tests/vm/t-virtio-ours-legacy.sh \
	tests/vm/t-virtio-ours-packed.sh \
	tests/vm/t-virtio-ours-split.sh \
	tests/vm/t-virtio-ours-tmf.sh \
	tests/vm/t-virtio-scsi-packed-uio.sh \
	tests/vm/t-virtio-scsi-split.sh \
	tests/vm/t-virtio-stall.sh \
	tests/vm/t-virtio-vfio-hotplug.sh \
	tests/vm/t-virtio-vfio-no-iommu.sh \
	tests/vm/t-virtio-vfio-tmf.sh \
	tests/vm/t-virtio-vfio.sh

EXTRA_DIST += \
	tests/vm/README.md \
	tests/vm/install-deps.sh \
	tests/vm/run-all.sh \
	tests/vm/lib/benchreport.py \
	tests/vm/lib/build-guest.sh \
	tests/vm/lib/cachecheck.py \
	tests/vm/lib/guest-lib.sh \
	tests/vm/lib/guest-run.sh \
	tests/vm/lib/init \
	tests/vm/lib/qmp.py \
	tests/vm/lib/smartcheck.py \
	tests/vm/lib/vm.sh \
	$(VM_TEST_LIST)

# Builds the tree first (later backend tests run built binaries in the
# guest), then runs every tests/vm/t-*.sh. Work dirs (images, logs, guest
# output) go to <builddir>/tests/vm/work; the guest kernel cache to
# ORIONSTOR_VM_CACHE (default /var/tmp/orionstor-vm-cache).
# Run a subset with: make check-vm VM_TESTS='t-hotplug.sh ...'
.PHONY: check-vm clean-vm
check-vm: all
	ORIONSTOR_SRCDIR='$(abs_top_srcdir)' ORIONSTOR_BUILDDIR='$(abs_top_builddir)' \
	  bash '$(abs_top_srcdir)/tests/vm/run-all.sh' $(VM_TESTS)

clean-vm:
	-rm -rf '$(abs_top_builddir)/tests/vm/work'

# Guest side of t-cache.sh (random writes through the block cache, then a
# flush or a SIGKILL), checked on the host by lib/cachecheck.py; also run
# against the simulated device by tests/tools/test-cache-writer.sh.
noinst_PROGRAMS += tests/vm/cache-writer
tests_vm_cache_writer_SOURCES = tests/vm/cache-writer.c
tests_vm_cache_writer_CPPFLAGS = -I$(top_srcdir)/include
tests_vm_cache_writer_LDADD = lib/liborionstor.la

# Guest side of t-usb-power.sh: holds a USB device idle with selective
# suspend on (or off) and runs reads on request.
noinst_PROGRAMS += tests/vm/usb-power-holder
tests_vm_usb_power_holder_SOURCES = tests/vm/usb-power-holder.c
tests_vm_usb_power_holder_CPPFLAGS = -I$(top_srcdir)/include
tests_vm_usb_power_holder_LDADD = lib/liborionstor.la
TESTS += tests/tools/test-cache-writer.sh
EXTRA_DIST += tests/tools/test-cache-writer.sh

# t-fault-setup.sh: an LD_PRELOAD library that fails, on request, the
# system and libusb calls opening a real device makes (fault matrix case
# 38).  A libtool module, not installed; only where shared libraries are
# built (the guest tests use such a build).
if ENABLE_SHARED
noinst_LTLIBRARIES += tests/vm/failshim.la
tests_vm_failshim_la_SOURCES = tests/vm/failshim.c
tests_vm_failshim_la_LDFLAGS = -module -avoid-version -shared -rpath /nowhere
tests_vm_failshim_la_LIBADD = -ldl
else
EXTRA_DIST += tests/vm/failshim.c
endif
# What t-fault-setup.sh leaves for tests/faults/fault-matrix.sh.
CLEANFILES += tests/vm/fault-matrix-vm.tap
