# tests/vm/usb-gadget.mk -- the USB gadget tests of the QEMU harness
# (tracker issue 3): the mass-storage gadget and a FunctionFS CBI/CB
# device model on dummy_hcd inside the guest.  Included from the top-level
# Makefile.am; the tests themselves are listed in tests/vm/local.mk.

# The userspace halves of the FunctionFS mass-storage devices: a struct
# sim_target behind CBI/CB endpoints (t-usb-ours-ffs.sh) or Bulk-Only ones
# (t-usb-ffs-bot.sh, t-smart.sh), sharing tests/vm/ffs-common.c.  Built
# everywhere; without <linux/usb/functionfs.h> they only say so and exit 77.
noinst_PROGRAMS += tests/vm/ffs-cbi-device tests/vm/ffs-bot-device
tests_vm_ffs_cbi_device_SOURCES = tests/vm/ffs-cbi-device.c tests/vm/ffs-common.c tests/vm/ffs-common.h
tests_vm_ffs_cbi_device_LDADD = lib/libostor_private.la
tests_vm_ffs_bot_device_SOURCES = tests/vm/ffs-bot-device.c tests/vm/ffs-common.c tests/vm/ffs-common.h
tests_vm_ffs_bot_device_LDADD = lib/libostor_private.la

EXTRA_DIST += tests/vm/usb-gadget.mk
