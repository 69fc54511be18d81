#!/bin/bash
# Our UAS engine (lib/usb/uas.c) over libusb/usbfs against QEMU's usb-uas,
# with the kernel's uas driver as the oracle, in one guest:
#   qemu-xhci (SuperSpeed, bulk streams): usb-uas with three LUNs (512-byte
#     blocks; 4096-byte blocks; a disk throttled to 2 IOPS for task
#     management), and a second usb-uas whose throttled disk is unplugged
#     (device_del) while we write to it;
#   usb-ehci (high speed, no streams): usb-uas with one LUN.
# First the kernel (uas + sd + sg) describes every LUN (identity, LUN list,
# capacity); then uas is unloaded and ours must say the same.  Then, all
# through liborionstor: data written and read back (and checked in the host
# images after the guest exits), commands in flight at once (orionstor
# bench at QD32, its transport counters read live from another process),
# ABORT TASK, LOGICAL UNIT RESET, the target and device resets on the
# throttled LUN (every read back exactly once), a read there with a short
# timeout behind the others (it times out: its stream transfers cancelled at
# their deadline, then ABORT TASK), and the unplug: the write
# fails as "device gone", never reported done, and every block it reported
# accepted is in the host's image.  The unplugged device is written 128 KiB
# a command: QEMU's usb-uas aborts (assertion in usb_uas_cancel_io) when
# device_del cancels a request that still holds a partly consumed data
# packet, which scsi-disk leaves on any write above its 128 KiB buffer.
. "$(dirname "$0")/lib/vm.sh"
vm_init usb-uas
# ~3 min on an idle machine; generous for a loaded one.
VM_TIMEOUT=${ORIONSTOR_VM_TIMEOUT:-600}

vm_usb_ctrl xhci xhci
vm_usb_ctrl ehci ehci
vm_image ua0 32M; vm_drive ua0 "$VM_IMAGE"; IMG_UA0=$VM_IMAGE
vm_image ua1 16M; vm_drive ua1 "$VM_IMAGE"; IMG_UA1=$VM_IMAGE
vm_image ut 16M;  vm_drive ut "$VM_IMAGE" throttling.iops-total=2
vm_image ug 64M;  vm_drive ug "$VM_IMAGE" throttling.bps-write=2097152; IMG_UG=$VM_IMAGE
vm_image uh 16M;  vm_drive uh "$VM_IMAGE"; IMG_UH=$VM_IMAGE
vm_usb_uas xhci uas0
vm_scsi_hd uas0 0 0 ua0 serial=uas-l0
vm_scsi_hd uas0 0 1 ua1 serial=uas-l1 logical_block_size=4096 physical_block_size=4096
vm_scsi_hd uas0 0 2 ut serial=uas-tmf
vm_usb_uas xhci uas1
vm_scsi_hd uas1 0 0 ug serial=uas-gone
vm_usb_uas ehci uas2
vm_scsi_hd uas2 0 0 uh serial=uas-hs

vm_guest <<'GUEST'
B=$ORIONSTOR_BUILDDIR/tools
S=/run/vm
export ORIONSTOR_CONF=/dev/null
# --- the kernel's view first
load_modules xhci-pci ehci-pci uas sd_mod sg
wait_usb 3 60
wait_scsi_devices 5 90
oracle_scsi uas >$S/kernel
oracle_luns uas >$S/kernel-luns
cat $S/kernel $S/kernel-luns
# --- then ours: the kernel lets go of the devices
unload_modules uas
lsmod | grep -q '^uas ' && fail "uas is still loaded"
"$B/usb_storage_device_info" --json >$S/ours.json || fail "usb_storage_device_info"
python3 - <<'PY' || fail "normalising"
import json, re
speed = {"super": "5000", "high": "480", "full": "12"}
with open("/run/vm/ours.norm", "w") as out, open("/run/vm/ours-luns", "w") as ol, \
     open("/run/vm/specs", "w") as sp:
    for d in json.load(open("/run/vm/ours.json"))["devices"]:
        ol.write(f'{speed[d["speed"]]} {d["transport"]} luns={",".join(str(l["lun"]) for l in d["luns"])}\n')
        for l in d["luns"]:
            out.write(f'{speed[d["speed"]]} lun={l["lun"]} type={l["peripheral_type_code"]} '
                      f'{l["vendor"].replace(" ", "_")}/{l["product"].replace(" ", "_")} '
                      f'serial={l["serial"] or "none"} rmb={int(l["removable"])} '
                      f'wp={int(l["write_protected"])} bs={l["block_size"]} blocks={l["blocks"]}\n')
            sp.write(f'{l["serial"]} {d["device"]} {l["lun"]}\n')
with open("/run/vm/kernel.norm", "w") as out:
    for line in open("/run/vm/kernel"):
        m = re.search(r"usb=\S+/(\d+) tgt=0 (lun=.*)$", line.strip())
        out.write(f"{m.group(1)} {m.group(2)}\n")
with open("/run/vm/kernel-luns.norm", "w") as out:
    for line in open("/run/vm/kernel-luns"):
        m = re.search(r"usb=\S+/(\d+) tgt=0 (luns=\S+)", line)
        out.write(f"{m.group(1)} uas {m.group(2)}\n")
PY
cat $S/ours.norm $S/ours-luns
spec_of() { awk -v s="$1" '$1 == s { print $2 }' $S/specs; }
# Every step bounded (a hang is a clear FAIL with the library's debug log).
os() {
    local r
    : >$S/debug.log
    ORIONSTOR_DEBUG=3 timeout 120 "$B/orionstor" "$@" 2>$S/debug.log; r=$?
    [ $r = 0 ] || { echo "orionstor $* exited $r:"; tail -n 60 $S/debug.log; }
    return $r
}
x=$(spec_of uas-l0); g=$(spec_of uas-gone); h=$(spec_of uas-hs)
[ -n "$x" ] && [ -n "$g" ] && [ -n "$h" ] || fail "specs not found: '$x' '$g' '$h'"
"$B/orionstor" info -d "$x" >$S/info.out 2>&1 || fail "orionstor info"
cat $S/info.out
grep -q "scsi/uas, super speed, 3 LUNs" $S/info.out || fail "orionstor info does not say uas, super speed, 3 LUNs"
# --- data, both speeds
pattern_gen uas-l0 262144 >/run/tmp/p0; pattern_gen uas-l1 16384 >/run/tmp/p1; pattern_gen uas-hs 65536 >/run/tmp/ph
os write -d "$x" --lun 0 --lba 800 -i /run/tmp/p0 || fail "write LUN 0"
os write -d "$x" --lun 1 --lba 7 -i /run/tmp/p1 || fail "write LUN 1"
os write -d "$h" --lba 1024 -i /run/tmp/ph || fail "write (high speed)"
os read -d "$x" --lun 0 --lba 800 --count 512 -o /run/tmp/r0 || fail "read LUN 0"
cmp /run/tmp/p0 /run/tmp/r0 || fail "read-back LUN 0"
os read -d "$h" --lba 1024 --count 128 -o /run/tmp/rh || fail "read (high speed)"
cmp /run/tmp/ph /run/tmp/rh || fail "read-back (high speed)"
# --- commands in flight at once: bench at QD32 (reads and verified writes
# below the patterns), its counters read live by another process
log "data checked (${SECONDS} s)"
for spec in "$x" "$h"; do
    ORIONSTOR_DEBUG=2 timeout 120 "$B/orionstor" bench -d "$spec" --rw randrw --verify --qd 32 --span 256k \
        --runtime 10 --ramp 0 -q >$S/bench.out 2>$S/bench.err &
    pid=$!
    # (read live, once 50 commands went through; each try bounded)
    wait_for 60 eval "timeout 20 \"$B/orionstor\" stats -d '$spec' --json >$S/stats.json 2>$S/stats.err &&
        grep -qE '\"usb_commands\": ([5-9][0-9]|[0-9]{3,})' $S/stats.json" ||
        { tail -5 $S/stats.err; fail "no live counters of the bench on $spec: $(cat $S/stats.json)"; }
    wait $pid || { cat $S/bench.out; tail -40 $S/bench.err; fail "bench --verify on $spec"; }
    cat $S/bench.out
    python3 -c "import json,re,sys
t = open('$S/stats.json').read()
m = re.search(r'\"usb_uas_inflight_max\": (\d+)', t)
print('$spec inflight_max', m.group(1) if m else None)" | tee -a $S/inflight
done
# --- task management on the throttled LUN
log "benches done (${SECONDS} s)"
tl=$(spec_of uas-tmf)
timeout 300 "$ORIONSTOR_BUILDDIR/tests/vm/virtio-ours-helper" tmf -d "$tl" -l 2 --timeout-step >$S/tmf 2>&1 ||
    { cat $S/tmf; fail "tmf helper"; }
cat $S/tmf
os read -d "$x" --lun 0 --lba 800 --count 8 -o /run/tmp/r0b || fail "read after the resets"
cmp <(head -c 4096 /run/tmp/p0) /run/tmp/r0b || fail "read-back after the resets"
# --- unplug while writing (the host wrote the data: its pattern)
log "task management done (${SECONDS} s)"
cp $S/big /run/tmp/big || fail "copying the data to write"
ORIONSTOR_USB_QUIRKS=46f4:0003:max-transfer=131072 "$B/orionstor" write -d "$g" --lba 0 -i /run/tmp/big \
    >$S/write.out 2>&1 &
pid=$!
guest_signal_host writing
timeout 90 tail --pid=$pid -f /dev/null || fail "the write did not end within 90 s"
wait $pid; rc=$?
cat $S/write.out
echo "write exit status $rc" | tee $S/unplug
[ $rc = 35 ] || fail "write exit status $rc, expected 35 (device gone)"
grep -q "blocks before it were accepted" $S/write.out || fail "no partial-write report"
grep -q "^wrote " $S/write.out && fail "a success line was printed"
# the other devices still work
os read -d "$h" --lba 1024 --count 128 -o /run/tmp/rh2 || fail "read after the unplug"
cmp /run/tmp/ph /run/tmp/rh2 || fail "read-back after the unplug"
log "uas checks done"
GUEST

pattern_gen uas-gone 16777216 >"$VM_SHARE/big"
vm_start
vm_wait_guest writing 500
# Once the throttled disk has taken 4 MiB of the write, pull the device.
for _ in $(seq 600); do
    [ "$(stat -c %b "$IMG_UG")" -ge 8192 ] && break
    kill -0 "$VM_PID" 2>/dev/null || break
    sleep 0.1
done
[ "$(stat -c %b "$IMG_UG")" -ge 8192 ] || vm_fail "the write to the device to unplug never reached its disk"
vm_qmp --wait-event DEVICE_DELETED:uas1 'device_del id=uas1' >/dev/null || vm_fail "device_del failed"
vm_wait || vm_fail "guest script failed"
vm_expect "$VM_SHARE/kernel.norm" "kernel view" <<'EXPECTED'
5000 lun=0 type=0 QEMU/QEMU_HARDDISK serial=uas-l0 rmb=0 wp=0 bs=512 blocks=65536
5000 lun=1 type=0 QEMU/QEMU_HARDDISK serial=uas-l1 rmb=0 wp=0 bs=4096 blocks=4096
5000 lun=2 type=0 QEMU/QEMU_HARDDISK serial=uas-tmf rmb=0 wp=0 bs=512 blocks=32768
5000 lun=0 type=0 QEMU/QEMU_HARDDISK serial=uas-gone rmb=0 wp=0 bs=512 blocks=131072
480 lun=0 type=0 QEMU/QEMU_HARDDISK serial=uas-hs rmb=0 wp=0 bs=512 blocks=32768
EXPECTED
vm_expect "$VM_SHARE/ours.norm" "liborionstor vs kernel" <"$VM_SHARE/kernel.norm"
vm_expect "$VM_SHARE/ours-luns" "LUN lists, liborionstor vs kernel" <"$VM_SHARE/kernel-luns.norm"
python3 - "$VM_SHARE" <<'PY' || vm_fail "unexpected results (see above)"
import re, sys
share = sys.argv[1]
bad = []
def check(ok, what):
    print(("ok   " if ok else "FAIL ") + what)
    if not ok:
        bad.append(what)
inflight = open(share + "/inflight").read().split("\n")
n = [int(m.group(1)) for m in re.finditer(r"inflight_max (\d+)", "\n".join(inflight))]
check(len(n) == 2 and n[0] >= 8, "SuperSpeed: at least 8 commands on the device at once (streams): %s" % n)
check(len(n) == 2 and n[1] == 1, "high speed: one command at a time (no streams): %s" % n)
t = open(share + "/tmf").read()
check("abort: outcome=done result=aborted" in t, "the throttled read in flight was aborted (ABORT TASK)")
check("lun-reset: outcome=done" in t, "LOGICAL UNIT RESET done at its level")
check(re.search(r"target-reset: outcome=(done|escalated)", t) is not None,
      "target reset: I_T NEXUS RESET, or the port reset QEMU's refusal leads to")
check("device-reset: outcome=done" in t, "device reset (the port) done")
for what in ("abort", "lun-reset", "target-reset", "device-reset"):
    m = re.search(r"after %s: good=(\d+) aborted=(\d+) unit-attention=(\d+) other=0" % what, t)
    check(m is not None and sum(int(x) for x in m.groups()) == 6 and int(m.group(2)) >= 1,
          what + ": every read back once, the ones in flight as aborted")
m = re.search(r"timeout: result=timeout after (\d+) ms", t)
check(m is not None and int(m.group(1)) < 20000,
      "a read behind the others with an 800 ms timeout ended as a timeout within 20 s: %s" % (m and m.group(1)))
check(re.search(r"after timeout: good=6 aborted=0 unit-attention=0 other=0", t) is not None,
      "the others ended good")
check("tmf: read after the resets ok" in t, "I/O works after all of it")
check("write exit status 35" in open(share + "/unplug").read(), "the write cut by the unplug: device gone")
sys.exit(1 if bad else 0)
PY
# What the write reported accepted before the unplug is on the disk.
acc=$(sed -n 's/.*(\([0-9]*\) blocks before it were accepted).*/\1/p' "$VM_SHARE/write.out")
[ -n "$acc" ] && [ "$acc" -gt 0 ] || vm_fail "no accepted blocks in the write's report: '$acc'"
cmp -n $((acc * 512)) "$VM_SHARE/big" "$IMG_UG" || vm_fail "ug.img: blocks reported accepted are not on the disk"
vm_log "ug.img: the $acc blocks the write reported accepted before the unplug are on the disk"
rm -f "$VM_SHARE/big"
vm_check_pattern "$IMG_UA0" $((800 * 512)) 262144 uas-l0
vm_check_pattern "$IMG_UA1" $((7 * 4096)) 16384 uas-l1
vm_check_pattern "$IMG_UH" $((1024 * 512)) 65536 uas-hs
vm_pass
