#!/bin/bash
# nbdkit-orionstor-plugin in the guest on virtio-scsi: QEMU's
# virtio-scsi-pci (modern, disable-legacy=on) bound to uio_pci_generic and
# driven by our userspace virtio backend (device=virtio:BDF; the kernel's
# virtio_scsi NOT loaded), exported by nbdkit with the plugin of the build
# tree, attached by the kernel's NBD client as /dev/nbd0: mkfs.ext4, mount,
# copy a tree, unmount, e2fsck -fn clean, nbdkit stopped. On the host:
# e2fsck -fn of the image, and the files debugfs extracts equal the
# originals.
. "$(dirname "$0")/lib/vm.sh"
vm_init nbdkit-virtio

vm_virtio_scsi scsi0
vm_image disk 64M; vm_drive disk "$VM_IMAGE"; IMG=$VM_IMAGE
vm_scsi_hd scsi0 0 0 disk serial=nbd-virtio

vm_guest <<'GUEST'
export ORIONSTOR_CONF=/dev/null
bdf=$(find_pci 1af4 1048)
[ "$(echo "$bdf" | wc -w)" = 1 ] || fail "expected one modern virtio-scsi function, got '$bdf'"
load_modules nbd ext4
lsmod | grep -q '^virtio_scsi ' && fail "virtio_scsi must not be loaded"
bind_uio "$bdf" >/dev/null || exit 1
reserve_hugepages 64
nbdkit_start "virtio:$bdf"
nbd_ext4_tree
nbdkit_stop
log "nbd checks done"
GUEST

vm_boot || vm_fail "guest script failed"
vm_check_ext4_tree "$IMG"
vm_pass
