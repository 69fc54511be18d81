#!/bin/bash
# The block cache in write-back mode on QEMU's usb-storage (xHCI) and
# virtio-scsi disks, driven by liborionstor (the kernel's usb-storage and
# virtio_scsi not loaded): tests/vm/cache-writer writes at random through
# the cache with a flush every so often and exits - the host image then
# holds exactly the last version of every block - or kills itself with
# SIGKILL before its last flush - every block then holds a version that
# could be there (the one of the last good flush or a later one, never an
# older one, never a torn block).  tests/vm/lib/cachecheck.py replays the
# writer on the host.  Also: sequential reads through read-ahead on the
# usb-storage disk return what the device holds.
. "$(dirname "$0")/lib/vm.sh"
vm_init cache
VM_TIMEOUT=${ORIONSTOR_VM_TIMEOUT:-600}

vm_usb_ctrl xhci xhci
vm_image ua 8M;  vm_drive ua "$VM_IMAGE"; IMG_UA=$VM_IMAGE
vm_image ub 8M;  vm_drive ub "$VM_IMAGE"; IMG_UB=$VM_IMAGE
vm_usb_storage xhci ua serial=cache-a
vm_usb_storage xhci ub serial=cache-b
vm_virtio_scsi scsi0
vm_image va 16M; vm_drive va "$VM_IMAGE"; IMG_VA=$VM_IMAGE
vm_image vb 16M; vm_drive vb "$VM_IMAGE"; IMG_VB=$VM_IMAGE
vm_scsi_hd scsi0 0 0 va serial=vcache-a
vm_scsi_hd scsi0 1 0 vb serial=vcache-b

# seed writes max_blocks region flush_every kill_after
UA="101 1500 16 8192 100 0"
UB="102 1500 16 8192 100 1234"
VA="103 3000 32 16384 250 0"
VB="104 3000 32 16384 250 2222"
export ORIONSTOR_T_UA=$UA ORIONSTOR_T_UB=$UB ORIONSTOR_T_VA=$VA ORIONSTOR_T_VB=$VB

vm_guest <<'GUEST'
W=$ORIONSTOR_BUILDDIR/tests/vm/cache-writer
T=$ORIONSTOR_BUILDDIR/tools
export ORIONSTOR_CONF=/dev/null
load_modules xhci-pci
wait_usb 2 60
lsmod | grep -q '^usb_storage ' && fail "usb-storage must not be loaded"
"$T/usb_storage_device_info" --json >/run/vm/info.json || fail "usb_storage_device_info"
spec_of() { python3 -c "import json
for d in json.load(open('/run/vm/info.json'))['devices']:
    if any(l['serial']=='$1' for l in d['luns']) or d['serial']=='$1': print(d['device'])"; }
ua=$(spec_of cache-a); ub=$(spec_of cache-b)
[ -n "$ua" ] && [ -n "$ub" ] || fail "specs not found: '$ua' '$ub'"
# writer NAME SPEC ARGS...: exit 0 without a kill, 137 (SIGKILL) with one.
writer() {
    local name=$1 spec=$2 kill; shift 2
    kill=$(echo "$@" | awk '{print $6}')
    log "$name: cache-writer $spec $*"
    timeout 400 "$W" "$spec" "$@" >/run/vm/$name.out 2>&1
    rc=$?
    cat /run/vm/$name.out
    if [ "$kill" = 0 ]; then
        [ $rc = 0 ] || fail "$name: exit $rc"
        grep -q "mode=write-back" /run/vm/$name.out || fail "$name: not through a write-back cache"
    else
        [ $rc = 137 ] || fail "$name: exit $rc, expected 137 (SIGKILL)"
    fi
    echo "$name=ok" >>/run/vm/facts
}
writer usb-flush "$ua,cache=wb,cache_size=2M" $ORIONSTOR_T_UA
# Read-ahead on the real device (its windows in usbfs memory): 1 MiB
# sequential reads give the same bytes through it as without a cache.
"$T/orionstor" read -q -d "$ua" --lba 0 --count 16384 -o /run/vm/ra-plain.bin || fail "read without the cache"
"$T/orionstor" read -q -d "$ua,cache=wt,cache_size=32M,read_ahead=2M" --lba 0 --count 16384 \
    -o /run/vm/ra-cached.bin || fail "read through read-ahead"
cmp /run/vm/ra-plain.bin /run/vm/ra-cached.bin || fail "read-ahead gave other bytes than the device"
echo "usb-read-ahead=ok" >>/run/vm/facts
writer usb-killed "$ub,cache=wb,cache_size=2M" $ORIONSTOR_T_UB
bdf=$(find_pci 1af4 1048)
[ "$(echo "$bdf" | wc -w)" = 1 ] || fail "expected one modern virtio-scsi function, got '$bdf'"
bind_uio "$bdf" >/dev/null || exit 1
reserve_hugepages 64
writer virtio-flush "virtio:$bdf,cache=wb,cache_size=4M" $ORIONSTOR_T_VA 0 0
writer virtio-killed "virtio:$bdf,cache=wb,cache_size=4M" $ORIONSTOR_T_VB 1 0
GUEST

vm_boot || vm_fail "guest script failed"
for w in usb-flush usb-read-ahead usb-killed virtio-flush virtio-killed; do
    grep -qx "$w=ok" "$VM_SHARE/facts" || vm_fail "$w did not run"
done
check() { # IMAGE ARGS...
    local img=$1; shift
    python3 "$VM_LIBDIR/cachecheck.py" "$img" 512 "$@" || vm_fail "$(basename "$img"): not what was written"
}
check "$IMG_UA" $UA
check "$IMG_UB" $UB
check "$IMG_VA" $VA
check "$IMG_VB" $VB
vm_pass
