#!/bin/bash
# virtio-scsi (modern) with packed=on and num_queues=4: the kernel driver
# negotiates the packed ring (feature bit 34) and creates 4 request queues;
# after virtio_scsi is unloaded the function binds to uio_pci_generic
# (/dev/uio0 appears), hugepages can be reserved, and the function can be
# handed back to virtio-pci.
. "$(dirname "$0")/lib/vm.sh"
vm_init virtio-scsi-packed-uio
# 4 possible CPUs so that virtio_scsi uses all 4 queues (1 online is enough)
VM_SMP=1,maxcpus=4

vm_virtio_scsi scsi0 packed=on num_queues=4
vm_image p0 16M; vm_drive p0 "$VM_IMAGE"; IMG_P0=$VM_IMAGE
vm_image p1 8M;  vm_drive p1 "$VM_IMAGE"
vm_scsi_hd scsi0 0 0 p0 serial=pk-0
vm_scsi_hd scsi0 3 1 p1 serial=pk-1 logical_block_size=4096 physical_block_size=4096

vm_guest <<'GUEST'
out=/run/vm/facts
bdf=$(find_pci 1af4 1048)
[ "$(echo "$bdf" | wc -w)" = 1 ] || fail "expected one modern virtio-scsi function, got '$bdf'"
lsmod | grep -q '^virtio_scsi ' && fail "virtio_scsi loaded before it was asked for"
echo "initial_driver=$(pci_driver "$bdf")" >>$out

load_modules virtio_scsi sg sd_mod
wait_scsi_devices 2 30 virtio_scsi
oracle_scsi virtio_scsi >/run/vm/oracle
cat /run/vm/oracle
f=$(cat /sys/bus/pci/devices/$bdf/virtio*/features)
echo "packed_ring=${f:34:1} version_1=${f:32:1}" >>$out
p0=$(dev_by_serial pk-0)
echo "request_queues=$(ls /sys/block/${p0#/dev/}/mq | wc -l)" >>$out
pattern_gen packed 1048576 | dd of="$p0" bs=64k seek=16 oflag=direct status=none ||
    fail "write $p0"

unload_modules sd_mod virtio_scsi
lsmod | grep -q '^virtio_scsi ' && fail "virtio_scsi still loaded"
uio=$(bind_uio "$bdf") || exit 1
echo "uio_dev=$uio uio_name=$(cat /sys/class/uio/${uio#/dev/}/name) driver=$(pci_driver "$bdf")" >>$out
[ -c "$uio" ] || fail "$uio is not a character device"

reserve_hugepages 16
echo "hugepages_total=$(awk '/^HugePages_Total/ {print $2}' /proc/meminfo) hugetlbfs=$(awk '$3 == "hugetlbfs" {print $2}' /proc/mounts)" >>$out

unbind_uio "$bdf" 1
echo "driver_after_unbind=$(pci_driver "$bdf")" >>$out
[ -e "$uio" ] && fail "$uio still exists after unbind"
cat $out
GUEST

vm_boot || vm_fail "guest script failed"

vm_expect "$VM_SHARE/oracle" "SCSI devices" <<'EXPECTED'
virtio_scsi tgt=0 lun=0 type=0 QEMU/QEMU_HARDDISK serial=pk-0 rmb=0 wp=0 bs=512 blocks=32768
virtio_scsi tgt=3 lun=1 type=0 QEMU/QEMU_HARDDISK serial=pk-1 rmb=0 wp=0 bs=4096 blocks=2048
EXPECTED
vm_expect "$VM_SHARE/facts" "virtio/uio facts" <<'EXPECTED'
initial_driver=virtio-pci
packed_ring=1 version_1=1
request_queues=4
uio_dev=/dev/uio0 uio_name=uio_pci_generic driver=uio_pci_generic
hugepages_total=16 hugetlbfs=/dev/hugepages
driver_after_unbind=virtio-pci
EXPECTED
vm_check_pattern "$IMG_P0" $((16 * 65536)) 1048576 packed
vm_pass
