#!/bin/bash
# nbdkit-orionstor-plugin in the guest: QEMU's usb-storage disk, driven by
# liborionstor over usbfs (the kernel's usb-storage NOT loaded), exported
# by nbdkit with the plugin of the build tree, attached by the kernel's
# NBD client (nbd-client, module nbd) as /dev/nbd0: mkfs.ext4, mount, copy
# a tree, unmount, e2fsck -fn clean, nbdkit stopped (its unload flushes).
# On the host: e2fsck -fn of the image, and the files debugfs extracts
# equal the originals.
. "$(dirname "$0")/lib/vm.sh"
vm_init nbdkit-usb

vm_usb_ctrl xhci xhci
vm_image disk 64M; vm_drive disk "$VM_IMAGE"; IMG=$VM_IMAGE
vm_usb_storage xhci disk serial=nbd-usb

vm_guest <<'GUEST'
export ORIONSTOR_CONF=/dev/null
load_modules xhci-pci nbd ext4
wait_usb 1 60
lsmod | grep -q '^usb_storage ' && fail "usb-storage must not be loaded"
# QEMU's usb-storage is 46f4:0001.
nbdkit_start usb:46f4:0001
nbd_ext4_tree
nbdkit_stop
log "nbd checks done"
GUEST

vm_boot || vm_fail "guest script failed"
vm_check_ext4_tree "$IMG"
vm_pass
