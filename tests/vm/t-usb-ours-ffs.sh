#!/bin/bash
# Our CB and CBI engines over real usbfs control, bulk and interrupt
# transfers: two configfs gadgets on dummy_hcd (num=2, two UDCs) inside the
# guest, each with a FunctionFS function served by tests/vm/ffs-cbi-device
# (a sim target behind CB/CBI endpoints):
#   CBI: subclass 04h UFI, protocol 00h (bulk-in, bulk-out, interrupt-in)
#   CB:  subclass 06h SCSI transparent, protocol 01h (no interrupt)
# For each, with the kernel's usb-storage not loaded: usb_storage_device_info
# --json (transport, subclass, protocol, identity, capacity), orionstor
# info, a write read back and found in the device's image file at the right
# offset (in the guest after the device program ends, and on the host in a
# copy), a failing read (bulk-in stall, CLEAR_FEATURE(HALT), REQUEST SENSE)
# and a failing write (CBI: interrupt status; CB: automatic REQUEST SENSE)
# with the right sense, and usb_storage_scsi_reset (Command Block Reset:
# the model resets its target, so one power-on unit attention, reported
# for UFI through the interrupt status ASC/ASCQ, is cleared).  The device
# programs' counters prove what went over the wire.  Then the kernel's
# usb-storage (CB/CBI transport) takes both devices and its view of LUN 0
# must match ours (it also scans LUNs 1-7, see below).
. "$(dirname "$0")/lib/vm.sh"
vm_init usb-ours-ffs

vm_guest <<'GUEST'
B=$ORIONSTOR_BUILDDIR/tools
# ORIONSTOR_T_FFS_DEVICE: another build of the model (e.g. with sanitizers)
DEV=${ORIONSTOR_T_FFS_DEVICE:-$ORIONSTOR_BUILDDIR/tests/vm/ffs-cbi-device}
export ORIONSTOR_CONF=/dev/null
[ -x "$DEV" ] || fail "$DEV not built"
load_modules configfs libcomposite usb_f_fs 'dummy_hcd num=2'
mountpoint -q /sys/kernel/config || mount -t configfs none /sys/kernel/config ||
	fail "mount configfs"
udcs=($(ls /sys/class/udc))
[ ${#udcs[@]} -ge 2 ] || fail "dummy_hcd num=2 gave ${#udcs[@]} UDCs"
declare -A PID
# never leave a device program behind, even when a check fails
trap 'for p in "${PID[@]}"; do kill $p 2>/dev/null; done' EXIT

# gadget NAME PRODUCT_ID SERIAL UDC DEVICE_ARGS...
gadget() {
	local name=$1 pid=$2 serial=$3 udc=$4; shift 4
	local G=/sys/kernel/config/usb_gadget/$name M=/run/ffs/$name
	mkdir $G || fail "mkdir $G"
	echo 0x1d6b >$G/idVendor
	echo $pid >$G/idProduct
	mkdir $G/strings/0x409
	echo orionstor >$G/strings/0x409/manufacturer
	echo "FunctionFS $name" >$G/strings/0x409/product
	echo $serial >$G/strings/0x409/serialnumber
	mkdir $G/configs/c.1 $G/functions/ffs.$name || fail "ffs function $name"
	mkdir -p $M
	mount -t functionfs $name $M || fail "mount functionfs $name"
	truncate -s 4M /run/$name.img
	# (stdout too: a program holding the guest log open would keep the
	# guest from finishing)
	"$DEV" -v "$@" $M /run/$name.img >/dev/null 2>/run/vm/dev-$name.log &
	PID[$name]=$!
	wait_for 10 test -e $M/ep2 ||
		fail "$name: FunctionFS endpoints missing: $(cat /run/vm/dev-$name.log)"
	ln -s $G/functions/ffs.$name $G/configs/c.1/ || fail "link $name"
	echo $udc >$G/UDC || fail "bind $name to $udc"
}
gadget cbi 0x0105 FFSCBI ${udcs[0]} -p cbi -s ufi
gadget cb 0x0106 FFSCB ${udcs[1]} -p cb -s scsi
wait_usb 2 30
lsmod | grep -q '^usb_storage ' && fail "usb-storage must not be loaded"

"$B/usb_storage_device_info" --json >/run/vm/ours.json || fail "usb_storage_device_info"
cat /run/vm/ours.json
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
spec_of() { python3 -c "import json
for d in json.load(open('/run/vm/ours.json'))['devices']:
    if d['serial'] == '$1': print(d['device'])"; }

# check NAME SPEC SEED LBA
check() {
	local name=$1 dev=$2 seed=$3 lba=$4 out rc
	[ -n "$dev" ] || fail "$name: device not found"
	"$B/orionstor" info -d "$dev" || fail "$name: orionstor info"
	pattern_gen $seed 98304 >/run/tmp/p-$name
	"$B/orionstor" write -d "$dev" --lba $lba -i /run/tmp/p-$name || fail "$name: write"
	"$B/orionstor" read -d "$dev" --lba $lba --count 192 -o /run/tmp/r-$name || fail "$name: read"
	cmp /run/tmp/p-$name /run/tmp/r-$name || fail "$name: read-back differs"
	# a read past the end: the model stalls bulk-in; we clear the halt
	# and ask REQUEST SENSE
	out=$("$B/usb_storage_scsi_command" -d "$dev" --cdb "28 00 00 ff ff 00 00 00 01 00" --request 512 2>&1)
	rc=$?
	echo "$out"
	[ $rc = 22 ] && [[ $out == *"out of range (21h/00h)"* ]] ||
		fail "$name: read past the end: exit $rc, expected 22 and LBA out of range"
	# a write past the end: CBI says so in the interrupt status, CB in the
	# automatic REQUEST SENSE
	head -c 512 /run/tmp/p-$name >/run/tmp/w-$name
	out=$("$B/usb_storage_scsi_command" -d "$dev" --cdb "2a 00 00 ff ff 00 00 00 01 00" --send /run/tmp/w-$name 2>&1)
	rc=$?
	echo "$out"
	[ $rc = 22 ] && [[ $out == *"out of range (21h/00h)"* ]] ||
		fail "$name: write past the end: exit $rc, expected 22 and LBA out of range"
	out=$("$B/usb_storage_scsi_reset" -d "$dev" 2>&1) || fail "$name: usb_storage_scsi_reset: $out"
	echo "$out"
	[[ $out == *"Command Block Reset done"* ]] || fail "$name: no Command Block Reset reported"
	[[ $out == *"LUN 0: 1 unit attention cleared, now good"* ]] ||
		fail "$name: the reset's unit attention was not cleared as expected"
	"$B/orionstor" read -d "$dev" --lba $lba --count 8 -o /run/tmp/r2-$name || fail "$name: read after reset"
	cmp /run/tmp/r2-$name <(head -c 4096 /run/tmp/p-$name) || fail "$name: read after reset differs"
}
check cbi "$(spec_of FFSCBI)" ffs-cbi 300
# the UFI drive over real CBI transfers: usb_storage_scsi_info reads its
# READ FORMAT CAPACITIES and falls back to MODE SENSE(10)
"$B/usb_storage_scsi_info" -d "$(spec_of FFSCBI)" --json >/run/vm/ufi-info.json ||
	fail "usb_storage_scsi_info on the UFI device"
python3 -c "import json; d=json.load(open('/run/vm/ufi-info.json'))
assert d['format_capacity_media'] == 'formatted', d
assert d['format_capacity_blocks'] == d['capacity10_blocks'], d
assert d['format_capacity_block_length'] == d['capacity10_block_size'], d
assert 'write_protected' in d, d" || fail "UFI scsi_info: $(cat /run/vm/ufi-info.json)"
check cb "$(spec_of FFSCB)" ffs-cb 1000

# the kernel's view of the same two devices (its CB/CBI transport)
load_modules 'usb-storage delay_use=0' sd_mod sg
wait_scsi_devices 2 30 usb-storage
oracle_scsi usb-storage >/run/vm/kernel
cat /run/vm/kernel
python3 - <<'PY' || fail "normalising"
import json, re
speed = {"super": "5000", "high": "480", "full": "12"}
with open("/run/vm/ours.norm", "w") as out:
    for d in json.load(open("/run/vm/ours.json"))["devices"]:
        for l in d["luns"]:
            out.write(f'{speed[d["speed"]]} lun={l["lun"]} type={l["peripheral_type_code"]} '
                      f'{l["vendor"].replace(" ", "_")}/{l["product"].replace(" ", "_")} '
                      f'serial={l["serial"] or "none"} rmb={int(l["removable"])} '
                      f'wp={int(l["write_protected"])} bs={l["block_size"]} blocks={l["blocks"]}\n')
# The kernel gives CB/CBI devices max_lun 7 and, the device being SPC-4,
# does not put the LUN into the CDB: a single-LUN device then answers for
# LUNs 1-7 too (what US_FL_SINGLE_LUN is for).  We address LUN 0 only;
# compare LUN 0 and count the kernel's copies.
ghosts = {}
with open("/run/vm/kernel.norm", "w") as out:
    for line in open("/run/vm/kernel"):
        m = re.search(r"usb=\S+/(\d+) tgt=0 lun=(\d+) (.*)$", line.strip())
        ghosts[m.group(3)] = ghosts.get(m.group(3), 0) + 1
        if m.group(2) == "0":
            out.write(f"{m.group(1)} lun=0 {m.group(3)}\n")
with open("/run/vm/kernel-luns", "w") as out:
    for k, n in ghosts.items():
        out.write(f"{k.split()[1]} {n}\n")
PY

# stop the device programs; their counters say what crossed the wire
for n in cbi cb; do
	kill ${PID[$n]}
	wait ${PID[$n]} || fail "$n: device program exit status $?"
	tail -n 1 /run/vm/dev-$n.log | tee /run/vm/counters-$n
	grep -q "endpoint timeouts" /run/vm/counters-$n || fail "$n: no counters: $(tail /run/vm/dev-$n.log)"
done
cmp /run/tmp/p-cbi <(tail -c +$((300 * 512 + 1)) /run/cbi.img | head -c 98304) || fail "cbi: image"
cmp /run/tmp/p-cb <(tail -c +$((1000 * 512 + 1)) /run/cb.img | head -c 98304) || fail "cb: image"
cp --sparse=always /run/cbi.img /run/cb.img /run/vm/ || fail "copy images"
log "ffs checks done"
GUEST

vm_boot || vm_fail "guest script failed"
vm_expect "$VM_SHARE/ours" "devices through liborionstor" <<'EXPECTED'
FFSCBI 1d6b:0105 high sc=04 pr=00 cbi max_lun=0 lun=0 ORIONSTR/FFS CBI DISK serial=FFSCBI0001 bs=512 blocks=8192 wp=0 rmb=1
FFSCB 1d6b:0106 high sc=06 pr=01 cb max_lun=0 lun=0 ORIONSTR/FFS CB DISK serial=FFSCB0001 bs=512 blocks=8192 wp=0 rmb=0
EXPECTED
# every CBI command ends with an interrupt report, CB never sends one; one
# Command Block Reset each; the failed read stalled bulk-in
for n in cbi cb; do
    c=$(cat "$VM_SHARE/counters-$n")
    re='([0-9]+) Command Block Resets, ([0-9]+) stalls, ([0-9]+) interrupt reports.* ([0-9]+) endpoint timeouts'
    [[ $c =~ $re ]] || vm_fail "$n: counters unreadable: $c"
    [ "${BASH_REMATCH[1]}" = 1 ] || vm_fail "$n: ${BASH_REMATCH[1]} Command Block Resets, expected 1"
    [ "${BASH_REMATCH[2]}" -ge 1 ] || vm_fail "$n: no stall"
    [ "${BASH_REMATCH[4]}" = 0 ] || vm_fail "$n: ${BASH_REMATCH[4]} endpoint timeouts (a phase the host never took)"
    if [ $n = cbi ]; then
        [ "${BASH_REMATCH[3]}" -ge 10 ] || vm_fail "cbi: only ${BASH_REMATCH[3]} interrupt reports"
    else
        [ "${BASH_REMATCH[3]}" = 0 ] || vm_fail "cb: ${BASH_REMATCH[3]} interrupt reports"
    fi
    vm_log "$n: $c"
done
vm_expect "$VM_SHARE/kernel.norm" "kernel view" <<'EXPECTED'
480 lun=0 type=0 ORIONSTR/FFS_CBI_DISK serial=FFSCBI0001 rmb=1 wp=0 bs=512 blocks=8192
480 lun=0 type=0 ORIONSTR/FFS_CB_DISK serial=FFSCB0001 rmb=0 wp=0 bs=512 blocks=8192
EXPECTED
vm_expect "$VM_SHARE/ours.norm" "liborionstor vs kernel" <"$VM_SHARE/kernel.norm"
vm_expect "$VM_SHARE/kernel-luns" "kernel LUN count" <<'EXPECTED'
ORIONSTR/FFS_CBI_DISK 8
ORIONSTR/FFS_CB_DISK 8
EXPECTED
vm_check_pattern "$VM_SHARE/cbi.img" $((300 * 512)) 98304 ffs-cbi
vm_check_pattern "$VM_SHARE/cb.img" $((1000 * 512)) 98304 ffs-cb
vm_pass
