#!/bin/bash
# USB selective suspend through liborionstor (ostor_usb_power_*): QEMU's
# usb-storage on qemu-xhci, the kernel's usb-storage not loaded.  A holder
# program (tests/vm/usb-power-holder.c) keeps the device open and runs the
# library's event loop while idle:
#  1. without power management the held device never suspends within 3x
#     its autosuspend delay (our open usbfs descriptor keeps it awake),
#     although power/control is "auto" (set through ostor_usb_power_set);
#     released, it suspends by itself (the guest and QEMU can suspend it);
#  2. with ostor_usb_power_manage the held device goes to runtime_status
#     "suspended" once idle; the next read resumes it first, returns the
#     right data, and counts a resume.
# Every wait polls a condition with a deadline (TCG is slow).
. "$(dirname "$0")/lib/vm.sh"
vm_init usb-power

vm_usb_ctrl xhci xhci
vm_image px 8M; vm_drive px "$VM_IMAGE"
vm_usb_storage xhci px serial=pw-x

vm_guest <<'GUEST'
B=$ORIONSTOR_BUILDDIR
H=$B/tests/vm/usb-power-holder
export ORIONSTOR_CONF=/dev/null
DELAY=1000      # power/autosuspend_delay_ms
IDLE=300        # ostor_usb_power_manage idle time
load_modules xhci-pci
wait_usb 1 60
lsmod | grep -q '^usb_storage ' && fail "usb-storage must not be loaded"
"$B/tools/usb_storage_device_info" --json >/run/vm/info.json || fail "usb_storage_device_info"
spec=$(python3 -c "import json
for d in json.load(open('/run/vm/info.json'))['devices']:
    if d['serial']=='pw-x' or any(l['serial']=='pw-x' for l in d['luns']): print(d['device'])")
[ -n "$spec" ] || fail "device pw-x not found"
pattern_gen pw-x 4096 >/run/tmp/p
"$B/tools/orionstor" write -d "$spec" --lba 100 -i /run/tmp/p || fail "write"

# start_holder NAME ARGS...: the holder reads commands from a fifo (fd 3).
start_holder() {
    local name=$1; shift
    rm -f /run/tmp/cmd; mkfifo /run/tmp/cmd
    "$H" "$spec" "$@" </run/tmp/cmd >/run/vm/$name.out 2>&1 &
    HOLDER=$!
    exec 3>/run/tmp/cmd
    wait_for 60 grep -q '^ok open' /run/vm/$name.out || { cat /run/vm/$name.out; fail "$name: no open"; }
}
stop_holder() {
    echo quit >&3; exec 3>&-
    wait_for 60 eval "! kill -0 $HOLDER 2>/dev/null" || fail "holder did not quit"
    wait $HOLDER || fail "holder failed: $(cat /run/vm/$1.out)"
}
# answers NAME PATTERN: how many answer lines of the holder match.
answers() { grep -c "$2" "/run/vm/$1.out"; }
# holder_read NAME N FILE: the N-th command answer of a read into FILE.
holder_read() {
    echo "read 100 8 $3" >&3
    wait_for 60 eval "[ \$(answers $1 '^ok read\|^error') -ge $2 ]" ||
        fail "$1: read $2 did not answer"
    grep -q '^error' /run/vm/$1.out && { cat /run/vm/$1.out; fail "$1: read failed"; }
    cmp /run/tmp/p "$3" || fail "$1: read $2 returned wrong data"
}
status() { cat "$SYS/power/runtime_status"; }

# ---- 1. held without power management: stays active -----------------------
start_holder plain --set auto $DELAY
cat /run/vm/plain.out
SYS=$(sed -n 's/.* sysfs=\(.*\)$/\1/p' /run/vm/plain.out | head -1)
[ -d "$SYS" ] || fail "sysfs path '$SYS' of the power report does not exist"
[ "$(cat "$SYS/power/control")" = auto ] || fail "ostor_usb_power_set did not set power/control"
[ "$(cat "$SYS/power/autosuspend_delay_ms")" = $DELAY ] || fail "ostor_usb_power_set did not set the delay"
# bMaxPower as the kernel shows it ("NmA", already scaled for the speed;
# QEMU's usb-storage says 0: self-powered).
mp=$(sed -n 's/.* max_power_ma=\([0-9]*\).*/\1/p' /run/vm/plain.out | head -1)
[ "${mp}mA" = "$(cat "$SYS/bMaxPower")" ] || fail "max_power_ma=$mp, the kernel says $(cat "$SYS/bMaxPower")"
holder_read plain 1 /run/tmp/r1
for i in $(seq 1 $((3 * DELAY / 100 + 10))); do     # 3x the delay, and then some
    s=$(status); [ "$s" = suspended ] && fail "suspended while held without power management"
    sleep 0.1
done
echo "held without power management: runtime_status=$(status) after $((3 * DELAY)) ms+"
stop_holder plain
# Released and unbound, the device may suspend on its own: proof that this
# guest and QEMU can suspend it at all.
if wait_for 60 eval '[ "$(status)" = suspended ]'; then
    echo "released: suspended by itself"
else
    echo "released: runtime_status=$(status), parents:"
    d=$SYS; while [ -e "$d/power/runtime_status" ]; do
        echo "  $d control=$(cat $d/power/control) status=$(cat $d/power/runtime_status)"; d=$(dirname "$d"); done
    dmesg | tail -20
    fail "the released device never suspended: QEMU or the guest's host controller does not suspend it"
fi

# ---- 2. held with power management: suspends when idle, a read resumes it ---
start_holder managed --manage $IDLE
cat /run/vm/managed.out
holder_read managed 1 /run/tmp/r2
t0=$(date +%s%N)
wait_for 90 eval '[ "$(status)" = suspended ]' ||
    { echo status >&3; wait_for 30 grep -q '^ok status' /run/vm/managed.out; cat /run/vm/managed.out; dmesg | tail -20;
      fail "held with power management: never suspended (runtime_status=$(status))"; }
echo "managed: suspended after $(( ($(date +%s%N) - t0) / 1000000 )) ms idle" \
     "(idle $IDLE ms + delay $DELAY ms), runtime_suspended_time=$(cat $SYS/power/runtime_suspended_time)"
holder_read managed 2 /run/tmp/r3
after=$(status)
line=$(grep '^power' /run/vm/managed.out | tail -1)
echo "after the read: sysfs runtime_status=$after; holder: $line"
case $line in *" status=active "*) ;; *) fail "the holder did not see the device active after its read" ;; esac
res=$(echo "$line" | sed -n 's/.* resumes=\([0-9]*\).*/\1/p')
sus=$(echo "$line" | sed -n 's/.* suspends_allowed=\([0-9]*\).*/\1/p')
[ "${res:-0}" -ge 1 ] || fail "no resume counted"
[ "${sus:-0}" -ge 1 ] || fail "no suspend allowed counted"
echo "counters: suspends_allowed=$sus resumes=$res"
# It idles and suspends again.
wait_for 90 eval '[ "$(status)" = suspended ]' || fail "did not suspend a second time"
echo status >&3
wait_for 30 eval "[ \$(answers managed '^ok status') -ge 1 ]" || fail "no status"
grep '^power' /run/vm/managed.out | tail -1
stop_holder managed
dmesg | grep -i -e usb -e xhci | tail -15 >/run/vm/dmesg.txt
log "usb power checks done"
GUEST

vm_boot || vm_fail "guest script failed"
vm_pass
