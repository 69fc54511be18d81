#!/bin/bash
# USB mass storage on three host controllers in one guest:
#   qemu-xhci (USB 3): usb-storage, and usb-uas with one LUN (kernel uas)
#   usb-ehci  (USB 2): usb-storage with removable media, and usb-bot with
#                      two LUNs (4096-byte blocks; read-only)
#   pci-ohci  (USB 1.1): usb-storage
# Checked with the kernel's usb-storage/uas + sg3_utils oracle; data written
# through BOT lands at the right offsets of the host images.
. "$(dirname "$0")/lib/vm.sh"
vm_init usb-storage

vm_usb_ctrl xhci xhci
vm_usb_ctrl ehci ehci
vm_usb_ctrl ohci ohci

vm_image ux 32M;   vm_drive ux "$VM_IMAGE"; IMG_UX=$VM_IMAGE
vm_image uas 16M;  vm_drive uas "$VM_IMAGE"
vm_image ue 24M;   vm_drive ue "$VM_IMAGE"
vm_image b4k 16M;  vm_drive b4k "$VM_IMAGE"; IMG_B4K=$VM_IMAGE
vm_image bro 8M;   vm_drive bro "$VM_IMAGE" readonly=on
vm_image uo 8M;    vm_drive uo "$VM_IMAGE"

vm_usb_storage xhci ux serial=usb-x
vm_usb_uas xhci uas0
vm_scsi_hd uas0 0 0 uas serial=uas-0
vm_usb_storage ehci ue serial=usb-e removable=on
vm_usb_bot ehci bot0
vm_scsi_hd bot0 0 0 b4k serial=bot-4k logical_block_size=4096 physical_block_size=4096
vm_scsi_hd bot0 0 1 bro serial=bot-ro
vm_usb_storage ohci uo serial=usb-o

vm_guest <<'GUEST'
lsmod | grep -q '^usb_storage ' && fail "usb-storage loaded before it was asked for"
load_modules xhci-pci ehci-pci ohci-pci 'usb-storage delay_use=0' uas sg sd_mod
wait_usb 5 60
wait_scsi_devices 6 60
oracle_scsi >/run/vm/oracle
oracle_luns >/run/vm/luns
cat /run/vm/oracle /run/vm/luns

ux=$(dev_by_serial usb-x)
pattern_gen usb-x 131072 | dd of="$ux" bs=4096 seek=100 oflag=direct status=none ||
    fail "write $ux"
b4k=$(dev_by_serial bot-4k)
pattern_gen bot-4k 16384 | dd of="$b4k" bs=4096 seek=7 oflag=direct status=none ||
    fail "write $b4k"
bro=$(dev_by_serial bot-ro)
if dd if=/dev/zero of="$bro" bs=512 count=1 oflag=direct status=none 2>/dev/null; then
    fail "write to read-only $bro succeeded"
fi
uas=$(dev_by_serial uas-0)
dd if="$uas" of=/dev/null bs=64k count=16 iflag=direct status=none || fail "read $uas"
log "I/O checks done"
GUEST

vm_boot || vm_fail "guest script failed"

# 32M/512 = 65536, 16M/512 = 32768, 24M/512 = 49152, 16M/4096 = 4096,
# 8M/512 = 16384
vm_expect "$VM_SHARE/oracle" "SCSI devices" <<'EXPECTED'
usb-storage usb=xhci_hcd/5000 tgt=0 lun=0 type=0 QEMU/QEMU_HARDDISK serial=usb-x rmb=0 wp=0 bs=512 blocks=65536
uas usb=xhci_hcd/5000 tgt=0 lun=0 type=0 QEMU/QEMU_HARDDISK serial=uas-0 rmb=0 wp=0 bs=512 blocks=32768
usb-storage usb=ehci-pci/480 tgt=0 lun=0 type=0 QEMU/QEMU_HARDDISK serial=usb-e rmb=1 wp=0 bs=512 blocks=49152
usb-storage usb=ehci-pci/480 tgt=0 lun=0 type=0 QEMU/QEMU_HARDDISK serial=bot-4k rmb=0 wp=0 bs=4096 blocks=4096
usb-storage usb=ehci-pci/480 tgt=0 lun=1 type=0 QEMU/QEMU_HARDDISK serial=bot-ro rmb=0 wp=1 bs=512 blocks=16384
usb-storage usb=ohci-pci/12 tgt=0 lun=0 type=0 QEMU/QEMU_HARDDISK serial=usb-o rmb=0 wp=0 bs=512 blocks=16384
EXPECTED
vm_expect "$VM_SHARE/luns" "REPORT LUNS" <<'EXPECTED'
usb-storage usb=xhci_hcd/5000 tgt=0 luns=0
uas usb=xhci_hcd/5000 tgt=0 luns=0
usb-storage usb=ehci-pci/480 tgt=0 luns=0
usb-storage usb=ehci-pci/480 tgt=0 luns=0,1
usb-storage usb=ohci-pci/12 tgt=0 luns=0
EXPECTED
vm_check_pattern "$IMG_UX" $((100 * 4096)) 131072 usb-x
vm_check_pattern "$IMG_B4K" $((7 * 4096)) 16384 bot-4k
vm_pass
