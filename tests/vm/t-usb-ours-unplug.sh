#!/bin/bash
# Hot-unplug under our Bulk-Only path: "orionstor write" of 64 MiB to QEMU's
# usb-storage on qemu-xhci, and QMP device_del while it runs.  The write
# must fail as "device gone" (exit 35) saying how much was accepted - never
# report success - and the process must exit by itself, without a crash
# (no signal, no hang).  A second device on the same controller is not
# disturbed.
. "$(dirname "$0")/lib/vm.sh"
vm_init usb-ours-unplug

vm_usb_ctrl xhci xhci
# throttled (4 MiB/s of writes) so that the write is surely still running
vm_image ug 128M; vm_drive ug "$VM_IMAGE" throttling.bps-write=4194304
vm_image uk 8M;  vm_drive uk "$VM_IMAGE"
vm_usb_storage xhci ug serial=un-gone
vm_usb_storage xhci uk serial=un-keep

vm_guest <<'GUEST'
B=$ORIONSTOR_BUILDDIR/tools
export ORIONSTOR_CONF=/dev/null
load_modules xhci-pci
wait_usb 2 60
"$B/usb_storage_device_info" --json >/run/vm/info.json || fail "usb_storage_device_info"
spec_of() { python3 -c "import json
for d in json.load(open('/run/vm/info.json'))['devices']:
    if any(l['serial'] == '$1' for l in d['luns']): print(d['device'])"; }
gone=$(spec_of un-gone); keep=$(spec_of un-keep)
[ -n "$gone" ] && [ -n "$keep" ] || fail "specs not found: '$gone' '$keep'"
head -c 67108864 /dev/urandom >/run/tmp/big
"$B/orionstor" write -d "$gone" --lba 0 -i /run/tmp/big >/run/vm/write.out 2>&1 &
pid=$!
# Well into the write: it read 2 MiB of its input, so the device is open
# and writes are going out (progress, not a guessed time: on a loaded
# machine opening the device alone took more than 2 s).
input_pos() { # PID FILE: the file offset of PID's descriptor of FILE
    local fd
    for fd in /proc/$1/fd/*; do
        [ "$(readlink "$fd" 2>/dev/null)" = "$2" ] || continue
        sed -n 's/^pos:[[:space:]]*//p' "/proc/$1/fdinfo/${fd##*/}" 2>/dev/null
        return
    done
}
i=0
while :; do
    kill -0 $pid 2>/dev/null || fail "the write ended before the unplug: $(cat /run/vm/write.out)"
    pos=$(input_pos $pid /run/tmp/big)
    [ "${pos:-0}" -ge 2097152 ] && break
    i=$((i + 1)); [ $i -lt 3000 ] || fail "the write read no 2 MiB of its input in 3000 looks (pos ${pos:-none})"
    sleep 0.1
done
guest_signal_host writing
timeout 60 tail --pid=$pid -f /dev/null || fail "the write did not end within 60 s of the unplug"
wait $pid; rc=$?
cat /run/vm/write.out
echo "write exit status $rc"
[ $rc = 35 ] || fail "write exit status $rc, expected 35 (device gone)"
grep -q "blocks before it were accepted" /run/vm/write.out || fail "no partial-write report"
grep -q "wrote " /run/vm/write.out && fail "a success line was printed"
# the device is gone for good; the other one works
"$B/orionstor" info -d "$gone" >/dev/null 2>&1 && fail "the unplugged device still opens"
pattern_gen un-keep 65536 >/run/tmp/pk
"$B/orionstor" write -d "$keep" --lba 10 -i /run/tmp/pk || fail "write to the other device"
log "unplug checks done"
GUEST

vm_start
vm_wait_guest writing 600
vm_qmp --wait-event DEVICE_DELETED:ug-dev 'device_del id=ug-dev' >/dev/null ||
    vm_fail "device_del failed"
vm_wait || vm_fail "guest script failed"
vm_check_pattern "$VM_WORK/uk.img" $((10 * 512)) 65536 un-keep
vm_pass
