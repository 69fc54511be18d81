#!/bin/bash
# Our Bulk-Only engine over libusb/usbfs against QEMU's usb-storage on
# qemu-xhci, usb-ehci and pci-ohci, and usb-bot with two LUNs (4096-byte
# blocks; read-only) - with the kernel's usb-storage NOT loaded, so every
# command goes through liborionstor.  Data written with "orionstor write"
# is checked byte for byte in the host images; a write to the read-only
# LUN fails with DATA PROTECT (exit 7) and changes nothing.
. "$(dirname "$0")/lib/vm.sh"
vm_init usb-ours-bot

vm_usb_ctrl xhci xhci
vm_usb_ctrl ehci ehci
vm_usb_ctrl ohci ohci
vm_image ux 16M;  vm_drive ux "$VM_IMAGE"; IMG_UX=$VM_IMAGE
vm_image uo 8M;   vm_drive uo "$VM_IMAGE"; IMG_UO=$VM_IMAGE
vm_image b4k 16M; vm_drive b4k "$VM_IMAGE"; IMG_B4K=$VM_IMAGE
vm_image bro 8M;  vm_drive bro "$VM_IMAGE" readonly=on; IMG_BRO=$VM_IMAGE
vm_usb_storage xhci ux serial=usb-x
vm_usb_storage ohci uo serial=usb-o
vm_usb_bot ehci bot0
vm_scsi_hd bot0 0 0 b4k serial=bot-4k logical_block_size=4096 physical_block_size=4096
vm_scsi_hd bot0 0 1 bro serial=bot-ro

vm_guest <<'GUEST'
B=$ORIONSTOR_BUILDDIR/tools
export ORIONSTOR_CONF=/dev/null
load_modules xhci-pci ehci-pci ohci-pci
wait_usb 3 60
lsmod | grep -q '^usb_storage ' && fail "usb-storage must not be loaded"
"$B/usb_storage_device_info" --json >/run/vm/info.json || fail "usb_storage_device_info"
cat /run/vm/info.json
python3 - /run/vm/info.json >/run/vm/ours <<'PY' || fail "info parse"
import json, sys
for d in json.load(open(sys.argv[1]))["devices"]:
    for l in d["luns"]:
        print(f'{d["transport"]} speed={d["speed"]} max_lun={d["max_lun"]} lun={l["lun"]} '
              f'{l["vendor"]}/{l["product"]} bs={l["block_size"]} blocks={l["blocks"]} wp={int(l["write_protected"])}')
PY
spec_of() { python3 -c "import json,sys
for d in json.load(open('/run/vm/info.json'))['devices']:
    if any(l['serial']=='$1' for l in d['luns']) or d['serial']=='$1': print(d['device'])"; }
ux=$(spec_of usb-x); bot=$(spec_of bot-4k); uo=$(spec_of usb-o)
[ -n "$ux" ] && [ -n "$bot" ] && [ -n "$uo" ] || fail "specs not found: '$ux' '$bot' '$uo'"
# The largest command by link speed (Bulk-Only): 1 MiB at SuperSpeed,
# 256 KiB at high speed, 64 KiB at full speed (QEMU's scsi-hd sets no
# lower Block Limits).
for d in "$ux:1048576" "$bot:262144" "$uo:65536"; do
    "$B/orionstor" info -d "${d%:*}" --json >/run/vm/mt.json || fail "info ${d%:*}"
    mt=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["luns"][0]["max_transfer_bytes"])' /run/vm/mt.json)
    [ "$mt" = "${d##*:}" ] || fail "${d%:*}: max_transfer_bytes $mt, expected ${d##*:}"
done
pattern_gen usb-x 262144 >/run/tmp/px; pattern_gen bot-4k 16384 >/run/tmp/pb; pattern_gen usb-o 65536 >/run/tmp/po
"$B/orionstor" write -d "$ux" --lba 800 -i /run/tmp/px || fail "write usb-x"
"$B/orionstor" write -d "$bot" --lun 0 --lba 7 -i /run/tmp/pb || fail "write bot-4k"
"$B/orionstor" write -d "$uo" --lba 16 -i /run/tmp/po || fail "write usb-o"
# 256 KiB in one READ: QEMU's usb-storage loses the queued CSW read of
# such a command when the disk data arrives after the data-in request
# (it completes from inside the data phase); the engine then reads it
# again after the grace and stops queuing it for this device.  Whether
# QEMU loses it depends on its disk timing (page cache), so what is
# asserted is the outcome: right data, well before the 30 s command
# timeout a lost CSW used to cost.
t0=$(date +%s%N)
ORIONSTOR_DEBUG=3 "$B/orionstor" read -d "$ux" --lba 800 --count 512 -o /run/tmp/rx 2>/run/vm/rx.err ||
    { cat /run/vm/rx.err; fail "read usb-x"; }
ms=$(( ($(date +%s%N) - t0) / 1000000 ))
cmp /run/tmp/px /run/tmp/rx || fail "read-back usb-x"
[ "$ms" -lt 10000 ] || fail "the 256 KiB read took $ms ms (lost CSW not rescued?)"
if grep -q "reading it again" /run/vm/rx.err; then echo "csw_rescued=yes ms=$ms"; else echo "csw_rescued=no ms=$ms"; fi
"$B/orionstor" write -d "$bot" --lun 1 --lba 0 -i /run/tmp/pb; rc=$?
[ $rc = 7 ] || fail "write to the read-only LUN: exit $rc, expected 7 (DATA PROTECT)"
for t in usb_storage_scsi_info usb_storage_scsi_reset usb_storage_device_reset; do
    "$B/$t" -d "$bot" >/run/vm/$t.out 2>&1 || fail "$t"
done
"$B/usb_storage_scsi_command" -d "$bot" --lun 1 --cdb "12 00 00 00 24 00" --request 36 >/dev/null || fail "scsi_command"
# Power and health on QEMU's scsi-hd: it accepts START STOP UNIT power
# conditions (and ignores them), has no Power Condition mode page, no log
# pages and no informational exceptions: each said plainly.
"$B/orionstor" power -d "$bot" --lun 0 --state standby || fail "power --state standby on scsi-hd"
"$B/orionstor" power -d "$bot" --lun 0 >/run/vm/power.out 2>&1 || { cat /run/vm/power.out; fail "orionstor power"; }
cat /run/vm/power.out
grep -q "no Power Condition mode page (1Ah)" /run/vm/power.out || fail "the missing page 1Ah not said"
"$B/orionstor" power -d "$bot" --lun 0 --idle-timer 5000 >/run/vm/power-t.out 2>&1; rc=$?
cat /run/vm/power-t.out
[ $rc = 9 ] || fail "--idle-timer on scsi-hd: exit $rc, expected 9 (not supported)"
"$B/orionstor" smart -d "$bot" --lun 0 --json >/run/vm/smart.json 2>/run/vm/smart.err; rc=$?
cat /run/vm/smart.json /run/vm/smart.err
[ $rc = 4 ] || fail "smart on scsi-hd: exit $rc, expected 4 (unknown)"
grep -q "reports no informational exceptions" /run/vm/smart.json || fail "the unknown verdict not explained"
# Random reads and writes, every block checked, in usbfs memory
# (ostor_dma_alloc) on the xHCI disk, below the pattern at LBA 800.
"$B/orionstor" bench -d "$ux" --rw randrw --verify --qd 4 --span 256k --runtime 2 --ramp 0 -q \
    >/run/vm/bench.out 2>&1 || { cat /run/vm/bench.out; fail "bench --verify on $ux"; }
cat /run/vm/bench.out
# Sequential writes 8 deep, every block stamped with its LBA: adjacent
# queued WRITEs go out merged into one command (usb_merged_commands); the
# host checks every block of the span in the image.
"$B/orionstor" bench -d "$ux" --rw write --bs 16k --qd 8 --span 256k --runtime 1 --ramp 0 --verify --json \
    >/run/vm/seqw.json 2>/run/vm/seqw.err || { cat /run/vm/seqw.err; fail "sequential bench --verify on $ux"; }
python3 - /run/vm/seqw.json <<'PY' || fail "sequential writes 8 deep were never merged"
import json, sys
t = json.load(open(sys.argv[1]))["transport"]
print("guest: merged writes: %d commands carried %d of them" % (t["usb_merged_commands"], t["usb_merged_tasks"]))
sys.exit(0 if t["usb_merged_commands"] > 0 else 1)
PY
# The library's count of its own system calls (usb_system_calls) against
# strace's ioctl and poll calls, per 4 KiB read at QD1, with blocking
# transfers (the default here) and with every transfer queued: the
# difference of a 1 s and a 3 s run, so start-up cancels out.
command -v strace >/dev/null || fail "strace is not installed (tests/vm/install-deps.sh)"
for mode in default off; do
    for t in 1 3; do
        env ORIONSTOR_USB_BLOCKING="${mode#default}" strace -f -c -o /run/vm/sc-$mode-$t.txt \
            "$B/orionstor" bench -d "$ux" --rw randread --bs 4k --qd 1 --threads 1 --span 1M --runtime $t \
            --ramp 0 --json >/run/vm/sc-$mode-$t.json || fail "bench under strace (blocking $mode)"
    done
    python3 - "$mode" <<'PY' || fail "usb_system_calls does not match strace (blocking $mode)"
import json, sys
m = sys.argv[1]
def traced(t):
    n = 0
    for line in open("/run/vm/sc-%s-%d.txt" % (m, t)):
        p = line.split()
        if len(p) >= 5 and p[0][0].isdigit() and p[-1] in ("ioctl", "poll"):
            n += int(p[3])
    return n
def counted(t):
    d = json.load(open("/run/vm/sc-%s-%d.json" % (m, t)))
    return d["jobs"][0]["read"]["total_ios"], d["transport"]["usb_system_calls"]
(i1, o1), (i3, o3) = counted(1), counted(3)
reads = i3 - i1
if reads < 50:
    sys.exit("guest: too few reads in the longer run: %d" % reads)
strace, own = (traced(3) - traced(1)) / reads, (o3 - o1) / reads
print("guest: blocking %s: %.2f ioctl+poll a read by strace, %.2f by usb_system_calls (%d reads)"
      % (m, strace, own, reads))
sys.exit(0 if abs(own - strace) <= 0.5 + 0.15 * strace else 1)
PY
done
"$B/usb_storage_device_remove" -d "$ux" || fail "device_remove"
log "our-path checks done"
GUEST

vm_boot || vm_fail "guest script failed"
vm_expect "$VM_SHARE/ours" "LUNs through liborionstor" <<'EXPECTED'
bot speed=super max_lun=0 lun=0 QEMU/QEMU HARDDISK bs=512 blocks=32768 wp=0
bot speed=high max_lun=1 lun=0 QEMU/QEMU HARDDISK bs=4096 blocks=4096 wp=0
bot speed=high max_lun=1 lun=1 QEMU/QEMU HARDDISK bs=512 blocks=16384 wp=1
bot speed=full max_lun=0 lun=0 QEMU/QEMU HARDDISK bs=512 blocks=16384 wp=0
EXPECTED
vm_check_pattern "$IMG_UX" $((800 * 512)) 262144 usb-x
vm_check_stamps "$IMG_UX" 262144 512 "bench --verify (merged sequential writes)"
vm_check_pattern "$IMG_B4K" $((7 * 4096)) 16384 bot-4k
vm_check_pattern "$IMG_UO" $((16 * 512)) 65536 usb-o
cmp -n 16384 /dev/zero "$IMG_BRO" || vm_fail "the read-only image changed"
vm_pass
