#!/bin/bash
# vfio-pci where no IOMMU is active (QEMU's pc machine): the function has
# no IOMMU group, and Debian's kernel has no unsafe no-IOMMU VFIO mode
# (CONFIG_VFIO_NOIOMMU is not set), so virtio-scsi-device-bind --driver
# vfio-pci refuses before taking the function from virtio-pci, saying what
# to do; the default driver there is uio_pci_generic, and our driver works
# on it.  (The library's own refusal of a /dev/vfio/noiommu-N group
# without [virtio_scsi] vfio_noiommu needs a kernel with that mode.)
. "$(dirname "$0")/lib/vm.sh"
vm_init virtio-vfio-no-iommu
vm_virtio_scsi scsi0
vm_image d0 16M; vm_drive d0 "$VM_IMAGE"; IMG_D0=$VM_IMAGE
vm_scsi_hd scsi0 0 0 d0 serial=noiommu-0

vm_guest <<'GUEST'
bdf=$(find_pci 1af4 1048)
B=$ORIONSTOR_BUILDDIR
tool=$B/tools/orionstor
[ -e /sys/bus/pci/devices/$bdf/iommu_group ] && fail "$bdf has an IOMMU group: this guest should have none"
[ "$(pci_driver "$bdf")" = virtio-pci ] || fail "not on virtio-pci at start"
load_modules vfio-pci uio_pci_generic
reserve_hugepages 64
export ORIONSTOR_CONF=/dev/null
$B/tools/virtio-scsi-device-bind -d "$bdf" --driver vfio-pci >/run/vm/refused 2>&1; rc=$?
cat /run/vm/refused
[ $rc != 0 ] || fail "vfio-pci bind without an IOMMU succeeded"
grep -q "no IOMMU group" /run/vm/refused && grep -q "intel_iommu=on" /run/vm/refused &&
    grep -q "uio_pci_generic" /run/vm/refused || fail "the refusal does not say what to do"
[ "$(pci_driver "$bdf")" = virtio-pci ] || fail "the refused bind left $bdf on $(pci_driver "$bdf")"
# the default without an IOMMU group: uio_pci_generic
$B/tools/virtio-scsi-device-bind -d "$bdf" >/run/vm/bind.out 2>&1 || { cat /run/vm/bind.out; fail "bind"; }
cat /run/vm/bind.out
[ "$(pci_driver "$bdf")" = uio_pci_generic ] || fail "default bind gave $(pci_driver "$bdf")"
pattern_gen noiommu 262144 >/run/vm/pat
$tool write -q -d "virtio:$bdf" --lba 64 -i /run/vm/pat || fail "write over UIO"
ORIONSTOR_VIRTIO_INTERRUPTS=1 $B/tests/vm/virtio-ours-helper confine -d "virtio:$bdf" --lba 64 \
    >/run/vm/confine 2>&1 || { cat /run/vm/confine; fail "confine over UIO"; }
cat /run/vm/confine
grep -q "transport=uio iommu=none group=-1 interrupts=intx vectors=0" /run/vm/confine || fail "UIO not reported as such"
$B/tools/virtio-scsi-device-remove -d "virtio:$bdf" >/run/vm/remove.out 2>&1 || { cat /run/vm/remove.out; fail "device-remove"; }
[ "$(pci_driver "$bdf")" = virtio-pci ] || fail "not back on virtio-pci"
GUEST

vm_boot || vm_fail "guest script failed"
vm_check_pattern "$IMG_D0" $((64 * 512)) 262144 noiommu
vm_pass
