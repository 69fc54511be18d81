#!/bin/bash
# Legacy and transitional virtio-scsi functions on QEMU: a legacy-only
# function (disable-modern=on) is listed but refused with a message that
# says why and what to use instead; a transitional function (1af4:1004
# with the modern capabilities) is driven through its modern interface,
# and the data written through it is in the host image.  On the way,
# virtio-scsi-device-bind refuses the function while one of its disks is
# mounted, and while it is held by a device-mapper device; without a
# hugepage pool, opening says how to reserve one.
. "$(dirname "$0")/lib/vm.sh"
vm_init virtio-ours-legacy

vm_device "virtio-scsi-pci,id=legacy0,disable-legacy=off,disable-modern=on,addr=0x10"
vm_device "virtio-scsi-pci,id=trans0,disable-legacy=off,disable-modern=off,addr=0x11"
vm_image l0 8M; vm_drive l0 "$VM_IMAGE"
vm_image t0 16M; vm_drive t0 "$VM_IMAGE"; IMG_T0=$VM_IMAGE
vm_scsi_hd legacy0 0 0 l0 serial=legacy-0
vm_scsi_hd trans0 0 0 t0 serial=trans-0
vm_image t1 8M; vm_drive t1 "$VM_IMAGE"
vm_scsi_hd trans0 0 1 t1 serial=trans-1

vm_guest <<'GUEST'
tool=$ORIONSTOR_BUILDDIR/tools/orionstor
legacy=0000:00:10.0
trans=0000:00:11.0
[ "$(cat /sys/bus/pci/devices/$legacy/device)" = 0x1004 ] || fail "legacy function not at $legacy"
[ "$(cat /sys/bus/pci/devices/$trans/device)" = 0x1004 ] || fail "transitional function not at $trans"
export ORIONSTOR_CONF=/dev/null
$tool list >/run/vm/list 2>&1 || { cat /run/vm/list; fail "orionstor list"; }
cat /run/vm/list
grep -q "^virtio:$legacy .*legacy-only, not supported" /run/vm/list || fail "legacy-only function not listed as such"
grep -q "^virtio:$trans .*(transitional" /run/vm/list || fail "transitional function not listed as such"
bind_uio "$legacy" >/dev/null || exit 1
# In-use refusals: a mounted disk, then a disk held by dm.
load_modules virtio_scsi sg sd_mod dm-mod ext4
wait_scsi_devices 2 30 virtio_scsi
t1=$(dev_by_serial trans-1)
[ -b "$t1" ] || fail "no kernel disk for trans-1"
bind=$ORIONSTOR_BUILDDIR/tools/virtio-scsi-device-bind
mkfs.ext2 -q "$t1" && mkdir -p /run/ostor-mnt && mount "$t1" /run/ostor-mnt || fail "mount $t1"
rc=0; $bind -d "$trans" >/run/vm/refused-mount 2>&1 || rc=$?
cat /run/vm/refused-mount
[ "$rc" = 26 ] || fail "bind with a mounted disk: exit $rc, expected 26 (busy)"
grep -q "is mounted" /run/vm/refused-mount || fail "the refusal does not say the disk is mounted"
[ "$(pci_driver "$trans")" = virtio-pci ] || fail "the function left virtio-pci although refused"
umount /run/ostor-mnt || fail umount
dmsetup create ostor-holder --table "0 1024 linear $t1 0" || fail "dmsetup create"
rc=0; $bind -d "$trans" >/run/vm/refused-holder 2>&1 || rc=$?
cat /run/vm/refused-holder
[ "$rc" = 26 ] || fail "bind with a dm holder: exit $rc, expected 26 (busy)"
grep -q "held by another block device" /run/vm/refused-holder || fail "the refusal does not name the holder"
dmsetup remove ostor-holder || fail "dmsetup remove"
$bind -d "$trans" >/run/vm/bound 2>&1 || { cat /run/vm/bound; fail "bind once nothing is in use"; }
[ "$(pci_driver "$trans")" = uio_pci_generic ] || fail "not bound to uio_pci_generic"
# No hugepage pool yet: a clear error that says how to reserve one.
[ "$(cat /proc/sys/vm/nr_hugepages)" = 0 ] || fail "hugepages reserved already"
rc=0; $tool info -d "virtio:$trans" >/run/vm/nohuge 2>&1 || rc=$?
cat /run/vm/nohuge
[ "$rc" != 0 ] || fail "opened without a hugepage pool"
grep -q "nr_hugepages" /run/vm/nohuge || fail "the error does not say how to reserve hugepages"
reserve_hugepages 64
# Legacy-only: refused, with the reason and the remedy.
rc=0
$tool info -d "virtio:$legacy" >/run/vm/legacy 2>&1 || rc=$?
cat /run/vm/legacy
[ "$rc" = 9 ] || fail "legacy-only function: exit $rc, expected 9 (not supported)"
grep -qi "legacy" /run/vm/legacy || fail "the refusal does not say the function is legacy-only"
# Transitional: driven through the modern interface.
$tool info -d "virtio:$trans" >/run/vm/trans 2>&1 || { cat /run/vm/trans; fail "info on the transitional function"; }
cat /run/vm/trans
grep -q "0:0 *disk *QEMU *QEMU HARDDISK .* 512 *32768" /run/vm/trans || fail "transitional LUN 0:0 not as configured"
pattern_gen trans 65536 >/run/vm/pat
$tool write -q -d "virtio:$trans" --lba 300 -i /run/vm/pat || fail "write"
$tool read -q -d "virtio:$trans" --lba 300 --count 128 -o /run/vm/back || fail "read"
cmp /run/vm/back /run/vm/pat || fail "read back differs"
GUEST

vm_boot || vm_fail "guest script failed"
vm_check_pattern "$IMG_T0" $((300 * 512)) 65536 trans
vm_pass
