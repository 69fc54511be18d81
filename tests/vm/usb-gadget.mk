# tests/vm/usb-gadget.mk -- the USB gadget tests of the QEMU harness
# (tracker issue 3): the mass-storage gadget and a FunctionFS CBI/CB
# device model on dummy_hcd inside the guest.  Included from the top-level
# Makefile.am; the tests themselves are listed in tests/vm/local.mk.

# The userspace half of the FunctionFS CBI/CB device (t-usb-ours-ffs.sh):
# a struct sim_target behind CBI/CB endpoints.  Built everywhere; without
# <linux/usb/functionfs.h> it only says so and exits 77.
noinst_PROGRAMS += tests/vm/ffs-cbi-device
tests_vm_ffs_cbi_device_SOURCES = tests/vm/ffs-cbi-device.c
tests_vm_ffs_cbi_device_LDADD = lib/libostor_private.la

EXTRA_DIST += tests/vm/usb-gadget.mk
