#!/bin/bash
# Interface selection: the mass-storage interface of a composite device is
# found wherever it is (never assumed to be interface 0), and a device
# offering UAS is driven as UAS (lib/usb/uas.c).
#  - a composite gadget on dummy_hcd (configfs): a serial (ACM) function
#    first, so mass storage is interface 2; I/O through us lands in the
#    backing file at the right offset;
#  - QEMU's usb-uas on qemu-xhci: opened as scsi/uas with its LUN, within
#    60 s (never a hang).
. "$(dirname "$0")/lib/vm.sh"
vm_init usb-ours-composite
vm_usb_ctrl xhci xhci
vm_image uas 16M; vm_drive uas "$VM_IMAGE"
vm_usb_uas xhci uas0
vm_scsi_hd uas0 0 0 uas serial=uas-0

vm_guest <<'GUEST'
B=$ORIONSTOR_BUILDDIR/tools
export ORIONSTOR_CONF=/dev/null
G=/sys/kernel/config/usb_gadget/comp
D=/run/gadget
mkdir -p $D
truncate -s 8M $D/disk.img
load_modules xhci-pci configfs libcomposite usb_f_acm usb_f_mass_storage dummy_hcd
mountpoint -q /sys/kernel/config || mount -t configfs none /sys/kernel/config || fail "mount configfs"
mkdir $G || fail "mkdir $G"
echo 0x1d6b >$G/idVendor
echo 0x0104 >$G/idProduct
mkdir $G/strings/0x409
echo COMPOSITE01 >$G/strings/0x409/serialnumber
mkdir $G/configs/c.1 $G/functions/acm.0 $G/functions/mass_storage.0
echo 0 >$G/functions/mass_storage.0/lun.0/removable
echo $D/disk.img >$G/functions/mass_storage.0/lun.0/file
# ACM first: its two interfaces take numbers 0 and 1.
ln -s $G/functions/acm.0 $G/configs/c.1/ || fail "link acm"
ln -s $G/functions/mass_storage.0 $G/configs/c.1/ || fail "link mass storage"
echo "$(ls /sys/class/udc | head -n 1)" >$G/UDC || fail "bind the gadget"
wait_usb 2 30

"$B/usb_storage_device_info" --json >/run/vm/all.json || fail "usb_storage_device_info"
python3 - <<'PY' >/run/vm/devs || fail "device JSON"
import json
for d in json.load(open("/run/vm/all.json"))["devices"]:
    if "error" in d:
        print(d["device"], "error", d["error"], d["message"])
    else:
        print(d["device"], d["vendor_id"], d["product_id"], d["serial"], "interface=%s" % d.get("interface"),
              d["transport"], "luns=%d" % len(d["luns"]))
PY
cat /run/vm/devs
comp=$(awk '$4 == "COMPOSITE01" {print $1}' /run/vm/devs)
[ -n "$comp" ] || fail "composite gadget not listed"
grep -q "COMPOSITE01 interface=2 bot luns=1" /run/vm/devs || fail "mass storage of the composite gadget is not interface 2"
pattern_gen composite 65536 >/run/tmp/p
"$B/orionstor" write -q -d "$comp" --lba 77 -i /run/tmp/p || fail "write to the composite gadget"
"$B/orionstor" read -q -d "$comp" --lba 77 --count 128 -o /run/tmp/r || fail "read from the composite gadget"
cmp /run/tmp/p /run/tmp/r || fail "composite read-back differs"
cmp <(dd if=$D/disk.img bs=512 skip=77 count=128 status=none) /run/tmp/p || fail "not in the backing file at LBA 77"

# QEMU usb-uas: the one device that is not the gadget (xhci has only it).
uasdev=$(awk '$4 != "COMPOSITE01" {print $1}' /run/vm/devs | head -n 1)
[ -n "$uasdev" ] || fail "QEMU usb-uas missing from the listing"
echo "uas device: $uasdev"
uasdev=${uasdev#usb:}
rc=0
timeout 60 "$B/orionstor" info -v -d "usb:$uasdev" >/run/vm/uas.out 2>&1 || rc=$?
cat /run/vm/uas.out
[ "$rc" != 124 ] || fail "opening the UAS device hung"
# UAS is driven now (t-usb-uas.sh tests it through): the device opens
# as scsi/uas and shows its LUN.
[ "$rc" = 0 ] || fail "the UAS device did not open (exit $rc)"
grep -q "scsi/uas" /run/vm/uas.out || fail "the UAS device was not driven as UAS"
grep -q "^0:0 .*disk" /run/vm/uas.out || fail "the UAS device's LUN 0:0 missing"
echo "uas=driven" >/run/vm/uas.result
GUEST

vm_boot || vm_fail "guest script failed"
vm_log "$(cat "$VM_SHARE/uas.result")"
vm_pass
