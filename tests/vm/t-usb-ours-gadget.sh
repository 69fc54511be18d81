#!/bin/bash
# Our Bulk-Only engine against a second, independent BOT device: the Linux
# mass-storage gadget (usb_f_mass_storage) on dummy_hcd, configured through
# configfs inside the guest, so the device side is the kernel's
# f_mass_storage and the host side is libusb/usbfs on the dummy HCD.
# Three LUNs backed by files on a guest tmpfs: a read-write disk, a
# read-only disk and a CD-ROM.  With the kernel's usb-storage NOT loaded:
# usb_storage_device_info --json, orionstor list/info/read/write; a pattern
# written through us is found in the backing file at the right offset
# (checked in the guest after we close, and on the host in a copy); a write
# to the read-only LUN fails with DATA PROTECT (exit 7) and changes nothing;
# the CD's data reads back; usb_storage_scsi_reset (Reset Recovery) works.
# Then usb-storage takes the gadget and the kernel's view (sg3_utils) must
# agree with ours LUN for LUN (identity, type, removable, write protect,
# block size, capacity, LUN list).
. "$(dirname "$0")/lib/vm.sh"
vm_init usb-ours-gadget

vm_guest <<'GUEST'
B=$ORIONSTOR_BUILDDIR/tools
export ORIONSTOR_CONF=/dev/null
G=/sys/kernel/config/usb_gadget/ostor
D=/run/gadget
mkdir -p $D
truncate -s 8M $D/disk.img
pattern_gen gadget-ro 4194304 >$D/ro.img
pattern_gen gadget-cd 2097152 >$D/cd.img
# configfs + the gadget core; dummy_hcd is both the UDC and a host
# controller, so its "device" shows up on the guest's own USB bus
load_modules configfs libcomposite usb_f_mass_storage dummy_hcd
mountpoint -q /sys/kernel/config || mount -t configfs none /sys/kernel/config ||
	fail "mount configfs"
mkdir $G || fail "mkdir $G"
echo 0x1d6b >$G/idVendor        # Linux Foundation
echo 0x0104 >$G/idProduct       # Multifunction Composite Gadget
mkdir $G/strings/0x409
echo orionstor >$G/strings/0x409/manufacturer
echo "gadget mass storage" >$G/strings/0x409/product
echo GADGET0001 >$G/strings/0x409/serialnumber
mkdir $G/configs/c.1 $G/functions/mass_storage.0
F=$G/functions/mass_storage.0
mkdir $F/lun.1 $F/lun.2
echo 0 >$F/lun.0/removable
echo $D/disk.img >$F/lun.0/file
echo 1 >$F/lun.1/ro
echo 0 >$F/lun.1/removable
echo $D/ro.img >$F/lun.1/file
echo 1 >$F/lun.2/cdrom
echo 1 >$F/lun.2/ro
echo 1 >$F/lun.2/removable
echo $D/cd.img >$F/lun.2/file
ln -s $F $G/configs/c.1/ || fail "link the function"
udc=$(ls /sys/class/udc | head -n 1)
[ -n "$udc" ] || fail "no UDC (dummy_hcd)"
echo "$udc" >$G/UDC || fail "bind to $udc"
wait_usb 1 30
lsmod | grep -q '^usb_storage ' && fail "usb-storage must not be loaded yet"

# --- ours
"$B/usb_storage_device_info" --json >/run/vm/ours.json || fail "usb_storage_device_info"
cat /run/vm/ours.json
dev=$(python3 -c "import json
for d in json.load(open('/run/vm/ours.json'))['devices']:
    if d['serial'] == 'GADGET0001': print(d['device'])")
[ -n "$dev" ] || fail "gadget not found by usb_storage_device_info"
python3 - <<'PY' >/run/vm/ours-dev || fail "device JSON"
import json
d = [d for d in json.load(open("/run/vm/ours.json"))["devices"] if d["serial"] == "GADGET0001"][0]
print(d["vendor_id"], d["product_id"], d["speed"], d["subclass"], d["protocol"],
      d["transport"], "max_lun=%d" % d["max_lun"], "luns=%d" % len(d["luns"]))
PY
"$B/orionstor" list >/run/vm/list.out || fail "orionstor list"
grep -qF "$dev" /run/vm/list.out || fail "orionstor list does not show $dev: $(cat /run/vm/list.out)"
"$B/orionstor" info -d "$dev" >/run/vm/info.out || fail "orionstor info"
cat /run/vm/info.out
pattern_gen gadget-rw 196608 >/run/tmp/prw
"$B/orionstor" write -d "$dev" --lun 0 --lba 1000 -i /run/tmp/prw || fail "write LUN 0"
"$B/orionstor" read -d "$dev" --lun 0 --lba 1000 --count 384 -o /run/tmp/rrw || fail "read LUN 0"
cmp /run/tmp/prw /run/tmp/rrw || fail "LUN 0 read-back differs"
"$B/orionstor" read -d "$dev" --lun 1 --lba 20 --count 8 -o /run/tmp/rro || fail "read LUN 1"
cmp /run/tmp/rro <(tail -c +$((20 * 512 + 1)) $D/ro.img | head -c 4096) || fail "LUN 1 data differs"
"$B/orionstor" read -d "$dev" --lun 2 --lba 100 --count 4 -o /run/tmp/rcd || fail "read the CD-ROM LUN"
cmp /run/tmp/rcd <(tail -c +$((100 * 2048 + 1)) $D/cd.img | head -c 8192) || fail "CD-ROM data differs"
"$B/orionstor" write -d "$dev" --lun 1 --lba 0 -i /run/tmp/prw >/run/vm/ro.err 2>&1; rc=$?
cat /run/vm/ro.err
[ $rc = 7 ] || fail "write to the read-only LUN: exit $rc, expected 7 (DATA PROTECT)"
cmp $D/ro.img <(pattern_gen gadget-ro 4194304) || fail "the read-only backing file changed"
"$B/usb_storage_scsi_reset" -d "$dev" >/run/vm/reset.out 2>&1 || fail "usb_storage_scsi_reset: $(cat /run/vm/reset.out)"
"$B/orionstor" read -d "$dev" --lun 0 --lba 1000 --count 8 -o /run/tmp/rrw2 || fail "read after reset"
cmp /run/tmp/rrw2 <(head -c 4096 /run/tmp/prw) || fail "read after reset differs"
# The Linux mass-storage gadget refuses START STOP UNIT power
# conditions: the tool says the device does not support it (exit 9).
"$B/orionstor" power -d "$dev" --lun 0 --state standby >/run/vm/power.out 2>&1; rc=$?
cat /run/vm/power.out
[ $rc = 9 ] || fail "standby on the gadget: exit $rc, expected 9 (not supported)"
grep -q "power condition standby not supported by this device" /run/vm/power.out ||
	fail "the refusal is not said plainly"
"$B/orionstor" power -d "$dev" --lun 0 >/run/vm/power-info.out 2>&1 || fail "orionstor power on the gadget"
grep -q "no Power Condition mode page (1Ah)" /run/vm/power-info.out || fail "the missing page 1Ah not said"
# The backing file, now that we have closed the device: the pattern at
# byte 1000*512, zeroes around it.
cmp /run/tmp/prw <(tail -c +$((1000 * 512 + 1)) $D/disk.img | head -c 196608) ||
	fail "pattern not in the backing file at offset $((1000 * 512))"
cmp -n $((1000 * 512)) /dev/zero $D/disk.img || fail "backing file changed before the pattern"
cp --sparse=always $D/disk.img /run/vm/disk.img || fail "copy the backing file"

# --- the kernel's view of the same gadget
load_modules 'usb-storage delay_use=0' sd_mod sg
wait_scsi_devices 3 30 usb-storage
oracle_scsi usb-storage >/run/vm/kernel
oracle_luns usb-storage >/run/vm/kernel-luns
cat /run/vm/kernel /run/vm/kernel-luns
python3 - <<'PY' || fail "normalising"
import json, re
speed = {"super": "5000", "high": "480", "full": "12"}
with open("/run/vm/ours.norm", "w") as out, open("/run/vm/ours-luns", "w") as ol:
    for d in json.load(open("/run/vm/ours.json"))["devices"]:
        if d["serial"] != "GADGET0001":
            continue
        ol.write(f'{speed[d["speed"]]} luns={",".join(str(l["lun"]) for l in d["luns"])}\n')
        for l in d["luns"]:
            cd = l["peripheral_type_code"] == 5
            med = l["medium_present"]
            out.write(f'{speed[d["speed"]]} lun={l["lun"]} type={l["peripheral_type_code"]} '
                      f'{l["vendor"].replace(" ", "_")}/{l["product"].replace(" ", "_")} '
                      f'serial={l["serial"] or "none"} rmb={int(l["removable"])} '
                      f'wp={"-" if cd else int(l["write_protected"])} '
                      f'bs={l["block_size"] if med else "nomedium"} '
                      f'blocks={l["blocks"] if med else "nomedium"}\n')
with open("/run/vm/kernel.norm", "w") as out:
    for line in open("/run/vm/kernel"):
        m = re.search(r"usb=\S+/(\d+) tgt=0 (lun=.*)$", line.strip())
        out.write(f"{m.group(1)} {m.group(2)}\n")
# f_mass_storage has no REPORT LUNS (oracle_luns says luns=error): the
# kernel's LUN list is what its scan up to Get Max LUN found.
luns = {}
for line in open("/run/vm/kernel"):
    m = re.search(r"usb=\S+/(\d+) tgt=0 lun=(\d+) ", line)
    luns.setdefault(m.group(1), []).append(int(m.group(2)))
with open("/run/vm/kernel-luns.norm", "w") as out:
    for sp, ls in luns.items():
        out.write(f"{sp} luns={','.join(str(x) for x in sorted(ls))}\n")
PY
cat /run/vm/ours.norm
log "gadget checks done"
GUEST

vm_boot || vm_fail "guest script failed"
vm_expect "$VM_SHARE/ours-dev" "device through liborionstor" <<'EXPECTED'
1d6b 0104 high 06 50 bot max_lun=2 luns=3
EXPECTED
vm_expect "$VM_SHARE/kernel.norm" "kernel view" <<'EXPECTED'
480 lun=0 type=0 Linux/File-Stor_Gadget serial=none rmb=0 wp=0 bs=512 blocks=16384
480 lun=1 type=0 Linux/File-Stor_Gadget serial=none rmb=0 wp=1 bs=512 blocks=8192
480 lun=2 type=5 Linux/File-Stor_Gadget serial=none rmb=1 wp=- bs=2048 blocks=1024
EXPECTED
vm_expect "$VM_SHARE/ours.norm" "liborionstor vs kernel" <"$VM_SHARE/kernel.norm"
vm_expect "$VM_SHARE/ours-luns" "LUN lists, liborionstor vs kernel" <"$VM_SHARE/kernel-luns.norm"
vm_check_pattern "$VM_SHARE/disk.img" $((1000 * 512)) 196608 gadget-rw
vm_pass
