#!/bin/bash
# Our userspace virtio-scsi driver on QEMU's virtio-scsi-pci
# (disable-legacy=on), split rings (ORIONSTOR_VIRTIO_RING=split, or packed
# with T_RING=packed), num_queues ${T_QUEUES:-1}: the LUN list and
# capacities match the kernel's view (virtio_scsi loaded for the oracle
# only), a pattern written through our driver is in the host image, and
# power conditions and health answer as QEMU's disk can.
. "$(dirname "$0")/lib/vm.sh"
RING=${T_RING:-split}
QUEUES=${T_QUEUES:-1}
vm_init virtio-ours-$RING-q$QUEUES
VM_SMP=1,maxcpus=4

props=(num_queues=$QUEUES)
[ "$RING" = packed ] && props+=(packed=on)
vm_virtio_scsi scsi0 "${props[@]}"
vm_image d0 32M; vm_drive d0 "$VM_IMAGE"; IMG_D0=$VM_IMAGE
vm_image d1 16M; vm_drive d1 "$VM_IMAGE"; IMG_D1=$VM_IMAGE
vm_image d2 8M;  vm_drive d2 "$VM_IMAGE"
vm_scsi_hd scsi0 0 0 d0 serial=ours-0
vm_scsi_hd scsi0 2 0 d1 serial=ours-1 logical_block_size=4096 physical_block_size=4096
vm_scsi_hd scsi0 2 3 d2 serial=ours-2
export ORIONSTOR_T_RING=$RING

vm_guest <<'GUEST'
bdf=$(find_pci 1af4 1048)
[ "$(echo "$bdf" | wc -w)" = 1 ] || fail "expected one modern virtio-scsi function, got '$bdf'"
tool=$ORIONSTOR_BUILDDIR/tools/orionstor
load_modules virtio_scsi sg sd_mod
wait_scsi_devices 3 30 virtio_scsi
oracle_scsi virtio_scsi >/run/vm/oracle
unload_modules sd_mod virtio_scsi
bind_uio "$bdf" >/dev/null || exit 1
reserve_hugepages 64
export ORIONSTOR_VIRTIO_RING=$ORIONSTOR_T_RING ORIONSTOR_CONF=/dev/null
$tool info -d "virtio:$bdf" >/run/vm/ours 2>&1 || { cat /run/vm/ours; fail "orionstor info"; }
cat /run/vm/ours
pattern_gen ours 1048576 >/run/vm/pat
$tool write -q -d "virtio:$bdf" --target 0 --lun 0 --lba 2048 -i /run/vm/pat || fail "write t0"
pattern_gen ours4k 65536 >/run/vm/pat4k
$tool write -q -d "virtio:$bdf" --target 2 --lun 0 --lba 100 -i /run/vm/pat4k || fail "write t2"
$tool read -q -d "virtio:$bdf" --target 0 --lun 0 --lba 2048 --count 2048 -o /run/vm/back || fail "read"
cmp /run/vm/back /run/vm/pat || fail "read back differs"
# Power over virtio-scsi: QEMU's scsi-hd takes START STOP UNIT power
# conditions (and ignores them) and has no page 1Ah; smart says plainly
# that it reports no informational exceptions (exit 4, unknown).
$tool power -d "virtio:$bdf" --target 2 --lun 3 --state idle || fail "power --state idle"
$tool power -d "virtio:$bdf" --target 2 --lun 3 --json >/run/vm/power.json || fail "orionstor power"
python3 -c "import json; d = json.load(open('/run/vm/power.json'))
assert d['power_condition_page']['present'] is False, d
assert d['device']['target'] == 2 and d['device']['lun'] == 3, d" || fail "power report: $(cat /run/vm/power.json)"
$tool smart -d "virtio:$bdf" --target 2 --lun 3 >/run/vm/smart.out 2>&1; rc=$?
cat /run/vm/smart.out
[ $rc = 4 ] || fail "smart on scsi-hd: exit $rc, expected 4 (unknown)"
echo "ours=ok" >/run/vm/facts
GUEST

vm_boot || vm_fail "guest script failed"
grep -q "0:0 *disk *QEMU *QEMU HARDDISK .* 512 *65536" "$VM_SHARE/ours" || vm_fail "LUN 0:0 not as the kernel sees it"
grep -q "2:0 *disk *QEMU *QEMU HARDDISK .* 4096 *4096" "$VM_SHARE/ours" || vm_fail "LUN 2:0 not as the kernel sees it"
grep -q "2:3 *disk *QEMU *QEMU HARDDISK .* 512 *16384" "$VM_SHARE/ours" || vm_fail "LUN 2:3 not as the kernel sees it"
vm_check_pattern "$IMG_D0" $((2048 * 512)) 1048576 ours
vm_check_pattern "$IMG_D1" $((100 * 4096)) 65536 ours4k
vm_pass
