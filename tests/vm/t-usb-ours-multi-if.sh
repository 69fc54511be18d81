#!/bin/bash
# A USB device with several mass-storage interfaces: each is a target of
# its own ((target, LUN) addressing, target k = the k-th mass-storage
# interface in interface-number order), with its own Bulk-Only engine and
# Get Max LUN.  The device: a configfs gadget on dummy_hcd with an ACM
# function first (interfaces 0 and 1), then mass_storage.0 (interface 2,
# one LUN) and mass_storage.1 (interface 3, two LUNs), each LUN on its own
# backing file of a distinct size.  Checked, with usb-storage NOT loaded:
# usb_storage_device_info --json lists both interfaces and target 0 LUN 0,
# target 1 LUNs 0-1 with the right capacities; a pattern written to target
# 1 LUN 1 reads back and lands in that LUN's backing file at the right
# offset (checked after we closed), the other backing files untouched; a
# target the device lacks fails; usb_storage_scsi_reset resets both
# interfaces (and clears every target's LUNs) and I/O goes on;
# usb_storage_scsi_info --target 1 --lun 1 describes the right LUN.  Then usb-storage binds both interfaces; we
# open the device (detaching the kernel driver from each) and on close
# the kernel gets both back.
. "$(dirname "$0")/lib/vm.sh"
vm_init usb-ours-multi-if

vm_guest <<'GUEST'
B=$ORIONSTOR_BUILDDIR/tools
export ORIONSTOR_CONF=/dev/null
G=/sys/kernel/config/usb_gadget/multi
D=/run/gadget
mkdir -p $D
truncate -s 4M $D/t0l0.img
truncate -s 6M $D/t1l0.img
truncate -s 10M $D/t1l1.img
load_modules configfs libcomposite usb_f_acm usb_f_mass_storage dummy_hcd
mountpoint -q /sys/kernel/config || mount -t configfs none /sys/kernel/config || fail "mount configfs"
mkdir $G || fail "mkdir $G"
echo 0x1d6b >$G/idVendor
echo 0x0104 >$G/idProduct
mkdir $G/strings/0x409
echo MULTIIF01 >$G/strings/0x409/serialnumber
mkdir $G/configs/c.1 $G/functions/acm.0 $G/functions/mass_storage.0 $G/functions/mass_storage.1
F0=$G/functions/mass_storage.0
F1=$G/functions/mass_storage.1
mkdir $F1/lun.1
echo 0 >$F0/lun.0/removable
echo $D/t0l0.img >$F0/lun.0/file
echo 0 >$F1/lun.0/removable
echo $D/t1l0.img >$F1/lun.0/file
echo 0 >$F1/lun.1/removable
echo $D/t1l1.img >$F1/lun.1/file
ln -s $G/functions/acm.0 $G/configs/c.1/ || fail "link acm"
ln -s $F0 $G/configs/c.1/ || fail "link mass_storage.0"
ln -s $F1 $G/configs/c.1/ || fail "link mass_storage.1"
echo "$(ls /sys/class/udc | head -n 1)" >$G/UDC || fail "bind the gadget"
wait_usb 1 30
lsmod | grep -q '^usb_storage ' && fail "usb-storage must not be loaded yet"

"$B/usb_storage_device_info" --json >/run/vm/all.json || fail "usb_storage_device_info"
cat /run/vm/all.json
python3 - <<'PY' >/run/vm/multi || fail "device JSON"
import json
devs = [d for d in json.load(open("/run/vm/all.json"))["devices"] if d.get("serial") == "MULTIIF01"]
assert len(devs) == 1, "the gadget must be listed exactly once, got %d" % len(devs)
d = devs[0]
print(d["device"])
print("interface=%d interfaces=%d transport=%s max_lun=%d" % (d["interface"], d["interfaces"],
      d["transport"], d["max_lun"]))
for t in d["targets"]:
    print("target=%d interface=%d transport=%s max_lun=%d" % (t["target"], t["interface"],
          t["transport"], t["max_lun"]))
for l in d["luns"]:
    print("lun %d:%d bs=%d blocks=%d" % (l["target"], l["lun"], l["block_size"], l["blocks"]))
PY
cat /run/vm/multi
dev=$(head -n 1 /run/vm/multi)
tail -n +2 /run/vm/multi >/run/vm/multi.out
"$B/orionstor" info -d "$dev" >/run/vm/info.out || fail "orionstor info"
cat /run/vm/info.out
grep -q "target 1 = interface 3" /run/vm/info.out || fail "the description does not name target 1 = interface 3"

pattern_gen multi-t1l1 65536 >/run/tmp/p
"$B/orionstor" write -q -d "$dev" --target 1 --lun 1 --lba 333 -i /run/tmp/p || fail "write target 1 LUN 1"
"$B/orionstor" read -q -d "$dev" --target 1 --lun 1 --lba 333 --count 128 -o /run/tmp/r ||
	fail "read target 1 LUN 1"
cmp /run/tmp/p /run/tmp/r || fail "target 1 LUN 1 read-back differs"
# The same LBA on the other two LUNs still reads zeroes.
for tl in "0 0" "1 0"; do
	set -- $tl
	"$B/orionstor" read -q -d "$dev" --target $1 --lun $2 --lba 333 --count 128 -o /run/tmp/z ||
		fail "read target $1 LUN $2"
	cmp -n 65536 /run/tmp/z /dev/zero || fail "target $1 LUN $2 changed by the write to 1:1"
done
rc=0
"$B/orionstor" read -q -d "$dev" --target 2 --lun 0 --lba 0 --count 1 -o /run/tmp/x >/run/vm/t2.err 2>&1 || rc=$?
cat /run/vm/t2.err
[ "$rc" != 0 ] || fail "a read from target 2 (the device has two) succeeded"
"$B/usb_storage_scsi_reset" -d "$dev" >/run/vm/reset.out 2>&1 || fail "usb_storage_scsi_reset: $(cat /run/vm/reset.out)"
cat /run/vm/reset.out
grep -q "^LUN 1:1: " /run/vm/reset.out || fail "usb_storage_scsi_reset did not clear target 1 LUN 1"
"$B/usb_storage_scsi_info" -d "$dev" --target 1 --lun 1 >/run/vm/sinfo.out 2>&1 ||
	fail "usb_storage_scsi_info --target 1 --lun 1: $(cat /run/vm/sinfo.out)"
grep -q "LUN 1:1" /run/vm/sinfo.out || fail "usb_storage_scsi_info does not name LUN 1:1"
grep -q "20480" /run/vm/sinfo.out || fail "usb_storage_scsi_info --target 1 --lun 1: not the 10 MiB LUN"
"$B/orionstor" read -q -d "$dev" --target 1 --lun 1 --lba 333 --count 128 -o /run/tmp/r2 ||
	fail "read target 1 LUN 1 after the reset"
cmp /run/tmp/p /run/tmp/r2 || fail "target 1 LUN 1 read-back after the reset differs"

# The backing files, now that we have closed the device.
cmp /run/tmp/p <(tail -c +$((333 * 512 + 1)) $D/t1l1.img | head -c 65536) ||
	fail "pattern not in t1l1.img at offset $((333 * 512))"
cmp -n $((333 * 512)) /dev/zero $D/t1l1.img || fail "t1l1.img changed before the pattern"
cmp -i $((333 * 512 + 65536)) $D/t1l1.img /dev/zero 2>&1 | grep -q "EOF on $D/t1l1.img" ||
	fail "t1l1.img changed after the pattern"
for f in t0l0 t1l0; do
	cmp $D/$f.img /dev/zero 2>&1 | grep -q "EOF on $D/$f.img" || fail "$f.img was written to"
done
cp --sparse=always $D/t1l1.img /run/vm/t1l1.img || fail "copy the backing file"

# Kernel driver detached and given back per interface.
load_modules 'usb-storage delay_use=0' sd_mod sg
wait_scsi_devices 3 30 usb-storage
udev=
for p in /sys/bus/usb/devices/*; do
	[ "$(cat "$p/serial" 2>/dev/null)" = MULTIIF01 ] && udev=$p
done
[ -n "$udev" ] || fail "gadget not in sysfs"
bound() { [ "$(basename "$(readlink "$udev:1.$1/driver")")" = usb-storage ]; }
bound 2 && bound 3 || fail "usb-storage did not bind interfaces 2 and 3"
"$B/orionstor" read -q -d "$dev" --target 1 --lun 1 --lba 333 --count 128 -o /run/tmp/r3 ||
	fail "read target 1 LUN 1 with usb-storage loaded"
cmp /run/tmp/p /run/tmp/r3 || fail "read-back with usb-storage loaded differs"
wait_for 30 eval 'bound 2 && bound 3' || fail "usb-storage not given back interfaces 2 and 3 after close"
wait_scsi_devices 3 30 usb-storage
echo "reattached" >/run/vm/reattach
log "multi-interface checks done"
GUEST

vm_boot || vm_fail "guest script failed"
vm_expect "$VM_SHARE/multi.out" "two mass-storage interfaces through liborionstor" <<'EXPECTED'
interface=2 interfaces=2 transport=bot max_lun=0
target=0 interface=2 transport=bot max_lun=0
target=1 interface=3 transport=bot max_lun=1
lun 0:0 bs=512 blocks=8192
lun 1:0 bs=512 blocks=12288
lun 1:1 bs=512 blocks=20480
EXPECTED
vm_check_pattern "$VM_SHARE/t1l1.img" $((333 * 512)) 65536 multi-t1l1
vm_pass
