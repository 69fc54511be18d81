#!/bin/bash
# Hot-plug and media changes through QMP while the guest runs I/O:
#  1. device_del of a virtio-scsi scsi-hd (being read) and of a usb-storage
#     on xhci, device_add of a new scsi-hd, eject of a removable usb-storage
#     medium and of a scsi-cd medium: the guest's kernel sees the devices go
#     and come, and "no medium"; I/O on the remaining disk keeps working.
#  2. blockdev-change-medium inserts smaller media: the new capacities are
#     seen.
. "$(dirname "$0")/lib/vm.sh"
vm_init hotplug

vm_virtio_scsi scsi0
vm_usb_ctrl xhci xhci
vm_image keep 16M;  vm_drive keep "$VM_IMAGE"; IMG_KEEP=$VM_IMAGE
vm_image gone 16M;  vm_drive gone "$VM_IMAGE"
vm_image new 4M;    vm_drive new "$VM_IMAGE"     # attached later by device_add
vm_image cd 4M;     vm_drive cd "$VM_IMAGE" readonly=on
vm_image cd2 2M;    IMG_CD2=$VM_IMAGE             # inserted later
vm_image ukeep 8M;  vm_drive ukeep "$VM_IMAGE"
vm_image ugone 8M;  vm_drive ugone "$VM_IMAGE"
vm_image urem 8M;   vm_drive urem "$VM_IMAGE"
vm_image urem2 4M;  IMG_UREM2=$VM_IMAGE           # inserted later
vm_scsi_hd scsi0 0 0 keep serial=hp-keep
vm_scsi_hd scsi0 1 0 gone serial=hp-gone
vm_scsi_cd scsi0 2 0 cd serial=hp-cd
vm_usb_storage xhci ukeep serial=hpu-keep
vm_usb_storage xhci ugone serial=hpu-gone
vm_usb_storage xhci urem serial=hpu-rem removable=on

vm_guest <<'GUEST'
load_modules virtio_scsi xhci-pci 'usb-storage delay_use=0' sg sd_mod
wait_usb 3 60
wait_scsi_devices 6 60
oracle_scsi >/run/vm/before
cat /run/vm/before
gone=$(hctl_by_serial hp-gone) || fail "hp-gone not found"
ugone=$(hctl_by_serial hpu-gone) || fail "hpu-gone not found"
urem=$(hctl_by_serial hpu-rem) || fail "hpu-rem not found"
cd=$(hctl_by_serial hp-cd) || fail "hp-cd not found"
gdev=$(dev_by_serial hp-gone)
kdev=$(dev_by_serial hp-keep)

# I/O while the host unplugs: reads from the disk that goes away, writes
# to the one that stays.  The reader stops with its disk (H:C:T:L gone):
# the disk hot-added later may get the same /dev name, and reading that
# one would look like a reader stuck on the removed disk.
( while [ -e "/sys/class/scsi_device/$gone" ] &&
        dd if="$gdev" of=/dev/null bs=64k count=256 iflag=direct status=none 2>/dev/null; do
      : >/run/vm/reader-going
  done ) &
reader=$!
( i=0
  while [ ! -e /run/vm/sync/unplugged.host ]; do
      pattern_gen hotplug 65536 | dd of="$kdev" bs=64k seek=$i oflag=direct status=none ||
          { echo "write to $kdev failed" >/run/vm/writer-failed; exit 1; }
      : >/run/vm/writer-going
      i=$(( (i + 1) % 64 ))
  done ) &
writer=$!
# The host unplugs once both have done I/O (not after a guessed delay).
wait_for 120 test -e /run/vm/reader-going -a -e /run/vm/writer-going ||
    fail "no I/O started on $gdev and $kdev"
guest_signal_host ready
guest_wait_host unplugged 600

wait_scsi_gone "$gone" 120
wait_scsi_gone "$ugone" 120
log "unplugged devices gone from sysfs"
wait_for 120 hctl_by_serial hp-new >/dev/null || fail "hot-added hp-new not seen"
wait_scsi_devices 5 120
# A read in flight on the removed disk may wait out the kernel's 30 s
# command timeout and its error handling first.
wait_for 120 eval '! kill -0 $reader 2>/dev/null' || fail "reader of the removed disk is stuck"
wait "$writer" || fail "writer failed: $(cat /run/vm/writer-failed 2>/dev/null)"
oracle_scsi >/run/vm/after
cat /run/vm/after

guest_signal_host ejected-seen
guest_wait_host changed 600
wait_medium "$urem"
wait_medium "$cd"
oracle_scsi >/run/vm/changed
cat /run/vm/changed
GUEST

vm_start
vm_wait_guest ready 600
vm_log "guest is running I/O; unplugging gone-dev and ugone-dev"
vm_qmp --timeout 30 \
    --wait-event DEVICE_DELETED:gone-dev --wait-event DEVICE_DELETED:ugone-dev \
    'device_del id=gone-dev' 'device_del id=ugone-dev' ||
    vm_fail "QMP device_del failed"
vm_qmp 'device_add driver=scsi-hd bus=scsi0.0 scsi-id:=4 lun:=0 drive=new id=new-dev serial=hp-new' ||
    vm_fail "QMP device_add failed"
# usb-storage's inner SCSI device has no qdev id: address it by drive name
vm_qmp 'eject device=urem force:=true' 'eject id=cd-dev force:=true' ||
    vm_fail "QMP eject failed"
vm_signal_guest unplugged
vm_wait_guest ejected-seen 600
vm_qmp "blockdev-change-medium device=urem filename=$IMG_UREM2 format=raw" \
       "blockdev-change-medium id=cd-dev filename=$IMG_CD2 format=raw" ||
    vm_fail "QMP blockdev-change-medium failed"
vm_signal_guest changed
vm_wait || vm_fail "guest script failed"

vm_expect "$VM_SHARE/before" "SCSI devices before unplug" <<'EXPECTED'
virtio_scsi tgt=0 lun=0 type=0 QEMU/QEMU_HARDDISK serial=hp-keep rmb=0 wp=0 bs=512 blocks=32768
virtio_scsi tgt=1 lun=0 type=0 QEMU/QEMU_HARDDISK serial=hp-gone rmb=0 wp=0 bs=512 blocks=32768
virtio_scsi tgt=2 lun=0 type=5 QEMU/QEMU_CD-ROM serial=hp-cd rmb=1 wp=- bs=2048 blocks=2048
usb-storage usb=xhci_hcd/5000 tgt=0 lun=0 type=0 QEMU/QEMU_HARDDISK serial=hpu-keep rmb=0 wp=0 bs=512 blocks=16384
usb-storage usb=xhci_hcd/5000 tgt=0 lun=0 type=0 QEMU/QEMU_HARDDISK serial=hpu-gone rmb=0 wp=0 bs=512 blocks=16384
usb-storage usb=xhci_hcd/5000 tgt=0 lun=0 type=0 QEMU/QEMU_HARDDISK serial=hpu-rem rmb=1 wp=0 bs=512 blocks=16384
EXPECTED
vm_expect "$VM_SHARE/after" "SCSI devices after unplug/plug/eject" <<'EXPECTED'
virtio_scsi tgt=0 lun=0 type=0 QEMU/QEMU_HARDDISK serial=hp-keep rmb=0 wp=0 bs=512 blocks=32768
virtio_scsi tgt=2 lun=0 type=5 QEMU/QEMU_CD-ROM serial=hp-cd rmb=1 wp=- bs=nomedium blocks=nomedium
virtio_scsi tgt=4 lun=0 type=0 QEMU/QEMU_HARDDISK serial=hp-new rmb=0 wp=0 bs=512 blocks=8192
usb-storage usb=xhci_hcd/5000 tgt=0 lun=0 type=0 QEMU/QEMU_HARDDISK serial=hpu-keep rmb=0 wp=0 bs=512 blocks=16384
usb-storage usb=xhci_hcd/5000 tgt=0 lun=0 type=0 QEMU/QEMU_HARDDISK serial=hpu-rem rmb=1 wp=0 bs=nomedium blocks=nomedium
EXPECTED
vm_expect "$VM_SHARE/changed" "SCSI devices after media change" <<'EXPECTED'
virtio_scsi tgt=0 lun=0 type=0 QEMU/QEMU_HARDDISK serial=hp-keep rmb=0 wp=0 bs=512 blocks=32768
virtio_scsi tgt=2 lun=0 type=5 QEMU/QEMU_CD-ROM serial=hp-cd rmb=1 wp=- bs=2048 blocks=1024
virtio_scsi tgt=4 lun=0 type=0 QEMU/QEMU_HARDDISK serial=hp-new rmb=0 wp=0 bs=512 blocks=8192
usb-storage usb=xhci_hcd/5000 tgt=0 lun=0 type=0 QEMU/QEMU_HARDDISK serial=hpu-keep rmb=0 wp=0 bs=512 blocks=16384
usb-storage usb=xhci_hcd/5000 tgt=0 lun=0 type=0 QEMU/QEMU_HARDDISK serial=hpu-rem rmb=1 wp=0 bs=512 blocks=8192
EXPECTED

# the writer wrote 64 KiB chunks round-robin over the first 4 MiB: each
# chunk is either the pattern or untouched, and chunk 0 was written.
pattern_gen hotplug 65536 >"$VM_WORK/chunk"
n=0
for i in $(seq 0 63); do
    dd if="$IMG_KEEP" of="$VM_WORK/got" bs=64k skip="$i" count=1 status=none
    if cmp -s "$VM_WORK/chunk" "$VM_WORK/got"; then
        n=$((n + 1))
    elif ! cmp -s -n 65536 /dev/zero "$VM_WORK/got"; then
        vm_fail "keep.img chunk $i holds neither the pattern nor zeroes"
    elif [ "$i" = 0 ]; then
        vm_fail "keep.img chunk 0 was not written"
    fi
done
vm_log "keep.img: $n chunks written during the hot-plug verified"
vm_pass
