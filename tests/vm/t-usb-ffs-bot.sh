#!/bin/bash
# Bulk-Only Transport over real USB: a configfs gadget on dummy_hcd inside
# the guest whose FunctionFS function is tests/vm/ffs-bot-device (a sim
# disk behind bulk-in/bulk-out, CBW/CSW, Get Max LUN, Bulk-Only reset).
# The kernel's usb-storage binds it as /dev/sdX: its view (oracle), a
# write with dd read back with dd (O_DIRECT both), a command that fails
# with a data-in phase (READ past the end: bulk-in halted, CSW failed,
# REQUEST SENSE), a short data-in (MODE SENSE with a large allocation: a
# short packet, then a halt) and a phase error (INQUIRY allocating 36
# bytes in an 8-byte transfer: the kernel's error handling resets the
# port), after which the disk still reads back.  Then usb-storage lets the
# interface go and liborionstor's BOT engine over libusb does the same:
# identity and capacity equal the kernel's, a write read back, a failing
# read with its sense, a Bulk-Only reset recovery.  The device program's
# counters prove what crossed the wire; the image file (copied to the
# host) holds both writes.
. "$(dirname "$0")/lib/vm.sh"
vm_init usb-ffs-bot

vm_guest <<'GUEST'
B=$ORIONSTOR_BUILDDIR/tools
DEV=${ORIONSTOR_T_FFS_BOT_DEVICE:-$ORIONSTOR_BUILDDIR/tests/vm/ffs-bot-device}
export ORIONSTOR_CONF=/dev/null
declare -A FFS_PID
trap 'for p in "${FFS_PID[@]}"; do kill $p 2>/dev/null; done' EXIT
udc=$(ffs_setup 1 | head -n 1)
truncate -s 8M /run/bot.img
ffs_gadget bot 0x0107 FFSBOT "$udc" "$DEV" /run/bot.img -v -w c5
load_modules 'usb-storage delay_use=0' sd_mod sg
wait_scsi_devices 1 30 usb-storage
oracle_scsi usb-storage | tee /run/vm/kernel
sd=$(dev_by_serial FFSBOT0001)
sg=$(sg_of "$(hctl_by_serial FFSBOT0001)")

# the kernel: dd through sd, 256 KiB at block 100, read back
pattern_gen ffs-bot-k 262144 >/run/tmp/pk
dd if=/run/tmp/pk of=$sd bs=64k seek=$((100 * 512)) oflag=direct,seek_bytes status=none || fail "dd write"
dd if=$sd of=/run/tmp/rk bs=64k skip=$((100 * 512)) count=4 iflag=direct,skip_bytes status=none || fail "dd read"
cmp /run/tmp/pk /run/tmp/rk || fail "kernel: read-back differs"
# a failing data-in command: READ(10) past the end
out=$(sg_raw -r 512 $sg 28 00 00 ff ff 00 00 00 01 00 2>&1)
echo "$out"
[[ $out == *"Logical block address out of range"* ]] || fail "kernel: read past the end: no LBA out of range"
# short data-in: MODE SENSE(10) allocating 4 KiB
sg_raw -r 4096 $sg 5a 00 3f 00 00 00 00 10 00 00 >/dev/null 2>&1 || fail "kernel: MODE SENSE 4 KiB"
# Hi<Di: INQUIRY wants 36 bytes, the transfer is 8: phase error, reset
sg_raw -r 8 $sg 12 00 00 00 24 00 >/dev/null 2>&1 && fail "kernel: INQUIRY 36 in 8 bytes succeeded"
dd if=$sd of=/run/tmp/rk2 bs=4k skip=$((100 * 512)) count=1 iflag=direct,skip_bytes status=none ||
	fail "dd read after the phase error"
cmp /run/tmp/rk2 <(head -c 4096 /run/tmp/pk) || fail "kernel: read after the phase error differs"

# liborionstor's BOT engine: usb-storage lets go of the interface first
intf=$(usb_intf_of_serial FFSBOT) || fail "no USB device FFSBOT"
echo "$intf" >/sys/bus/usb/drivers/usb-storage/unbind || fail "unbind $intf"
"$B/usb_storage_device_info" --json >/run/vm/ours.json || fail "usb_storage_device_info"
python3 - >/run/vm/ours <<'PY' || fail "info parse"
import json
for d in json.load(open("/run/vm/ours.json"))["devices"]:
    for l in d["luns"]:
        print(f'{d["serial"]} {d["vendor_id"]}:{d["product_id"]} {d["speed"]} '
              f'sc={d["subclass"]} pr={d["protocol"]} {d["transport"]} max_lun={d["max_lun"]} '
              f'lun={l["lun"]} {l["vendor"]}/{l["product"]} serial={l["serial"]} '
              f'bs={l["block_size"]} blocks={l["blocks"]} wp={int(l["write_protected"])} '
              f'rmb={int(l["removable"])}')
PY
cat /run/vm/ours
spec=$(python3 -c "import json
for d in json.load(open('/run/vm/ours.json'))['devices']:
    if d['serial'] == 'FFSBOT': print(d['device'])")
[ -n "$spec" ] || fail "liborionstor does not see FFSBOT"
pattern_gen ffs-bot-o 98304 >/run/tmp/po
"$B/orionstor" write -d "$spec" --lba 2000 -i /run/tmp/po || fail "ours: write"
"$B/orionstor" read -d "$spec" --lba 2000 --count 192 -o /run/tmp/ro || fail "ours: read"
cmp /run/tmp/po /run/tmp/ro || fail "ours: read-back differs"
"$B/orionstor" read -d "$spec" --lba 100 --count 512 -o /run/tmp/rko || fail "ours: read of the kernel's data"
cmp /run/tmp/pk /run/tmp/rko || fail "ours: the kernel's data differs"
out=$("$B/usb_storage_scsi_command" -d "$spec" --cdb "28 00 00 ff ff 00 00 00 01 00" --request 512 2>&1)
rc=$?
echo "$out"
[ $rc = 22 ] && [[ $out == *"out of range (21h/00h)"* ]] ||
	fail "ours: read past the end: exit $rc, expected 22 and LBA out of range"
out=$("$B/usb_storage_scsi_command" -d "$spec" --cdb "5a 00 3f 00 00 00 00 10 00 00" --request 4096 2>&1) ||
	fail "ours: MODE SENSE 4 KiB: $out"
# Bulk-Only reset recovery (class request FFh, then CLEAR_FEATURE(HALT))
out=$("$B/usb_storage_scsi_reset" -d "$spec" 2>&1) || fail "ours: usb_storage_scsi_reset: $out"
echo "$out"
[[ $out == *"Bulk-Only Reset Recovery done"* ]] || fail "ours: no Bulk-Only reset reported"
"$B/orionstor" read -d "$spec" --lba 2000 --count 8 -o /run/tmp/ro2 || fail "ours: read after the reset"
cmp /run/tmp/ro2 <(head -c 4096 /run/tmp/po) || fail "ours: read after the reset differs"
# a command whose CSW never comes (-w c5): the transfer timeout is ours
# (libusb is given none), then reset recovery; the device works after it
s=$SECONDS
out=$("$B/usb_storage_scsi_command" -d "$spec" --cdb "c5 00 00 00 00 00" --timeout 2000 2>&1)
rc=$?
echo "$out"
[ $rc = 33 ] || fail "ours: a CSW that never comes: exit $rc, expected 33 (timeout)"
[ $((SECONDS - s)) -le 20 ] || fail "ours: a 2 s timeout took $((SECONDS - s)) s"
"$B/orionstor" read -d "$spec" --lba 2000 --count 8 -o /run/tmp/ro3 || fail "ours: read after the timeout"
cmp /run/tmp/ro3 <(head -c 4096 /run/tmp/po) || fail "ours: read after the timeout differs"

ffs_stop bot
cmp /run/tmp/pk <(tail -c +$((100 * 512 + 1)) /run/bot.img | head -c 262144) || fail "image: the kernel's write"
cmp /run/tmp/po <(tail -c +$((2000 * 512 + 1)) /run/bot.img | head -c 98304) || fail "image: our write"
cp --sparse=always /run/bot.img /run/vm/ || fail "copy image"
log "BOT checks done"
GUEST

vm_boot || vm_fail "guest script failed"
vm_expect "$VM_SHARE/kernel" "kernel view" <<'EXPECTED'
usb-storage usb=?/480 tgt=0 lun=0 type=0 ORIONSTR/FFS_BOT_DISK serial=FFSBOT0001 rmb=0 wp=0 bs=512 blocks=16384
EXPECTED
vm_expect "$VM_SHARE/ours" "liborionstor" <<'EXPECTED'
FFSBOT 1d6b:0107 high sc=06 pr=50 bot max_lun=0 lun=0 ORIONSTR/FFS BOT DISK serial=FFSBOT0001 bs=512 blocks=16384 wp=0 rmb=0
EXPECTED
c=$(cat "$VM_SHARE/counters-bot")
re='([0-9]+) CBWs \(([0-9]+) failed, ([0-9]+) phase errors, ([0-9]+) invalid\), ([0-9]+) short data-in, ([0-9]+) stalls, ([0-9]+) Get Max LUN, ([0-9]+) Bulk-Only resets, ([0-9]+) ep0 stalls, ([0-9]+) enables, ([0-9]+) endpoint timeouts'
[[ $c =~ $re ]] || vm_fail "counters unreadable: $c"
vm_log "bot: $c"
[ "${BASH_REMATCH[3]}" -ge 1 ] || vm_fail "no phase error"
[ "${BASH_REMATCH[4]}" = 0 ] || vm_fail "invalid CBWs"
[ "${BASH_REMATCH[5]}" -ge 2 ] || vm_fail "fewer than 2 short data-in phases"
[ "${BASH_REMATCH[7]}" -ge 2 ] || vm_fail "Get Max LUN: ${BASH_REMATCH[7]}, expected the kernel's and ours"
[ "${BASH_REMATCH[8]}" = 2 ] || vm_fail "${BASH_REMATCH[8]} Bulk-Only resets, expected ours and the timeout's"
[[ $c == *", 1 CSWs withheld"* ]] || vm_fail "the CSW-less command did not reach the device"
# the kernel answers a phase error with a port reset: disabled, enabled
[ "${BASH_REMATCH[10]}" -ge 2 ] || vm_fail "enabled ${BASH_REMATCH[10]} times, expected a port reset"
[ "${BASH_REMATCH[11]}" = 0 ] || vm_fail "${BASH_REMATCH[11]} endpoint timeouts (a phase the host never took)"
vm_check_pattern "$VM_SHARE/bot.img" $((100 * 512)) 262144 ffs-bot-k
vm_check_pattern "$VM_SHARE/bot.img" $((2000 * 512)) 98304 ffs-bot-o
vm_pass
