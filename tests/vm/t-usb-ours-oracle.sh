#!/bin/bash
# Our Bulk-Only path against the kernel's view of the same devices, in one
# guest: first liborionstor (usb-storage not loaded) describes every LUN,
# then the kernel's usb-storage + sd + sg take the devices and the oracle
# (sg3_utils) describes them again; identity, LUN list, type, removable,
# write protect, capacity and block size must agree.
#   qemu-xhci: usb-storage (512-byte blocks)
#   usb-ehci:  usb-bot with a disk (4096-byte blocks), a read-only disk, a
#              CD-ROM without a medium and a CD-ROM with one (2048-byte
#              blocks) - the medium-less LUN is listed as such and does not
#              stop the others; the CD's data is read back through us.
. "$(dirname "$0")/lib/vm.sh"
vm_init usb-ours-oracle

vm_usb_ctrl xhci xhci
vm_usb_ctrl ehci ehci
vm_image ux 16M;  vm_drive ux "$VM_IMAGE"
vm_image b4k 8M;  vm_drive b4k "$VM_IMAGE"
vm_image bro 4M;  vm_drive bro "$VM_IMAGE" readonly=on
vm_image cd 2M;   IMG_CD=$VM_IMAGE
pattern_gen cdrom 2097152 >"$IMG_CD"
vm_drive cd "$IMG_CD" readonly=on media=cdrom
vm_arg -drive if=none,id=cdnone,media=cdrom
vm_usb_storage xhci ux serial=or-x
vm_usb_bot ehci bot0
vm_scsi_hd bot0 0 0 b4k serial=or-4k logical_block_size=4096 physical_block_size=4096
vm_scsi_hd bot0 0 1 bro serial=or-ro
vm_scsi_cd bot0 0 2 cdnone serial=or-cdnone
vm_scsi_cd bot0 0 3 cd serial=or-cd

vm_guest <<'GUEST'
B=$ORIONSTOR_BUILDDIR/tools
export ORIONSTOR_CONF=/dev/null
load_modules xhci-pci ehci-pci
wait_usb 2 60
lsmod | grep -q '^usb_storage ' && fail "usb-storage must not be loaded yet"
# --- ours
"$B/usb_storage_device_info" --json >/run/vm/ours.json || fail "usb_storage_device_info"
bot=$(python3 -c "import json
for d in json.load(open('/run/vm/ours.json'))['devices']:
    if d['max_lun'] == 3: print(d['device'])")
[ -n "$bot" ] || fail "usb-bot device not found"
"$B/orionstor" read -d "$bot" --lun 3 --lba 100 --count 4 -o /run/tmp/cd ||
    fail "read from the CD-ROM LUN"
cmp /run/tmp/cd <(pattern_gen cdrom 2097152 | tail -c +$((100 * 2048 + 1)) | head -c 8192) ||
    fail "CD-ROM data differs"
"$B/orionstor" read -d "$bot" --lun 2 --lba 0 --count 1 -o /run/tmp/none 2>/run/vm/nomedium.err &&
    fail "read from the medium-less LUN succeeded"
# (QEMU answers REQUEST SENSE on LUNs above 0 with "LUN not supported"
# whenever a sense is pending, so "no medium" is not what it says)
grep -qiE "medium|not supported" /run/vm/nomedium.err || fail "unexpected error: $(cat /run/vm/nomedium.err)"
# the disk LUN next to the CDs still works
pattern_gen or-4k 8192 >/run/tmp/p4k
"$B/orionstor" write -d "$bot" --lun 0 --lba 3 -i /run/tmp/p4k || fail "write or-4k"
# --- the kernel's view
load_modules 'usb-storage delay_use=0' sd_mod sg
wait_scsi_devices 5 60
oracle_scsi >/run/vm/kernel
oracle_luns >/run/vm/kernel-luns
cat /run/vm/kernel /run/vm/kernel-luns
# Both sides in one form: SPEED lun=L type=T VENDOR/PRODUCT serial=S rmb=R wp=W bs=B blocks=N
python3 - <<'PY' || fail "normalising"
import json, re
speed = {"super": "5000", "high": "480", "full": "12"}
with open("/run/vm/ours.norm", "w") as out, open("/run/vm/ours-luns", "w") as ol:
    for d in json.load(open("/run/vm/ours.json"))["devices"]:
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
with open("/run/vm/kernel-luns.norm", "w") as out:
    for line in open("/run/vm/kernel-luns"):
        m = re.search(r"usb=\S+/(\d+) tgt=0 (luns=\S+)", line)
        out.write(f"{m.group(1)} {m.group(2)}\n")
PY
cat /run/vm/ours.norm
log "oracle checks done"
GUEST

vm_boot || vm_fail "guest script failed"
# The kernel's view is right for this configuration...
vm_expect "$VM_SHARE/kernel.norm" "kernel view" <<'EXPECTED'
5000 lun=0 type=0 QEMU/QEMU_HARDDISK serial=or-x rmb=0 wp=0 bs=512 blocks=32768
480 lun=0 type=0 QEMU/QEMU_HARDDISK serial=or-4k rmb=0 wp=0 bs=4096 blocks=2048
480 lun=1 type=0 QEMU/QEMU_HARDDISK serial=or-ro rmb=0 wp=1 bs=512 blocks=8192
480 lun=2 type=5 QEMU/QEMU_CD-ROM serial=or-cdnone rmb=1 wp=- bs=nomedium blocks=nomedium
480 lun=3 type=5 QEMU/QEMU_CD-ROM serial=or-cd rmb=1 wp=- bs=2048 blocks=1024
EXPECTED
# ...and ours agrees with it line for line.
vm_expect "$VM_SHARE/ours.norm" "liborionstor vs kernel" <"$VM_SHARE/kernel.norm"
vm_expect "$VM_SHARE/ours-luns" "LUN lists, liborionstor vs kernel" <"$VM_SHARE/kernel-luns.norm"
vm_check_pattern "$VM_WORK/b4k.img" $((3 * 4096)) 8192 or-4k
vm_pass
