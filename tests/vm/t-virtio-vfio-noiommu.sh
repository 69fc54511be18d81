#!/bin/bash
# VFIO without an IOMMU (the kernel's enable_unsafe_noiommu_mode): the
# device can write anywhere in memory, so our driver refuses it unless
# [virtio_scsi] vfio_noiommu = true, and then warns; with it, data written
# through us (physical addresses, root) is in the host image.
. "$(dirname "$0")/lib/vm.sh"
vm_init virtio-vfio-noiommu
vm_virtio_scsi scsi0
vm_image d0 16M; vm_drive d0 "$VM_IMAGE"; IMG_D0=$VM_IMAGE
vm_scsi_hd scsi0 0 0 d0 serial=noiommu-0

vm_guest <<'GUEST'
bdf=$(find_pci 1af4 1048)
B=$ORIONSTOR_BUILDDIR
tool=$B/tools/orionstor
[ -e /sys/bus/pci/devices/$bdf/iommu_group ] && fail "$bdf has an IOMMU group: this guest should have none"
load_modules 'vfio enable_unsafe_noiommu_mode=1' vfio-pci
reserve_hugepages 64
export ORIONSTOR_CONF=/dev/null
$B/tools/virtio-scsi-device-bind -d "$bdf" --driver vfio-pci >/run/vm/bind.out 2>&1 || { cat /run/vm/bind.out; fail "bind"; }
cat /run/vm/bind.out
grep -q "no IOMMU group" /run/vm/bind.out || fail "bind did not warn that there is no IOMMU"
[ "$(pci_driver "$bdf")" = vfio-pci ] || fail "bound to $(pci_driver "$bdf"), not vfio-pci"
ls /dev/vfio/ | grep -q noiommu- || fail "no /dev/vfio/noiommu-N"
$tool info -d "virtio:$bdf" >/run/vm/refused 2>&1 && fail "no-IOMMU VFIO was accepted without vfio_noiommu"
cat /run/vm/refused
grep -q "vfio_noiommu = true" /run/vm/refused || fail "the refusal does not name vfio_noiommu"
printf '[virtio_scsi]\nvfio_noiommu = true\n' >/run/vm/noiommu.conf
pattern_gen noiommu 262144 >/run/vm/pat
ORIONSTOR_CONF=/run/vm/noiommu.conf $tool write -d "virtio:$bdf" --lba 64 -i /run/vm/pat >/run/vm/write.out 2>&1 ||
    { cat /run/vm/write.out; fail "write with vfio_noiommu = true"; }
cat /run/vm/write.out
grep -q "not confined" /run/vm/write.out || fail "no warning that the device is not confined"
ORIONSTOR_CONF=/run/vm/noiommu.conf ORIONSTOR_VIRTIO_INTERRUPTS=1 $tool read -q -d "virtio:$bdf" --lba 64 \
    --count 512 -o /run/vm/back || fail "read (MSI-X, no IOMMU)"
cmp /run/vm/back /run/vm/pat || fail "read back differs"
$B/tools/virtio-scsi-device-remove -d "virtio:$bdf" >/run/vm/remove.out 2>&1 || { cat /run/vm/remove.out; fail "device-remove"; }
[ "$(pci_driver "$bdf")" = virtio-pci ] || fail "not back on virtio-pci"
GUEST

vm_boot || vm_fail "guest script failed"
vm_check_pattern "$IMG_D0" $((64 * 512)) 262144 noiommu
vm_pass
