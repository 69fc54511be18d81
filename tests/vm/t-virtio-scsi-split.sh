#!/bin/bash
# virtio-scsi (modern, split ring, 1 request queue) with three targets:
# sparse LUNs (target 2 has LUN 0 and 3), a 4096-byte-block LUN, a CD-ROM,
# a read-only drive, a 3 TiB null-co disk and a 3 TiB sparse raw file. The kernel's view (sysfs,
# sg_inq, sg_readcap, sg_modes, sg_luns) must equal the configuration; data
# written in the guest must land at the right offsets of the host images.
. "$(dirname "$0")/lib/vm.sh"
vm_init virtio-scsi-split

vm_virtio_scsi scsi0 num_queues=1
vm_image d0 64M;   vm_drive d0 "$VM_IMAGE"; IMG_D0=$VM_IMAGE
vm_image d4k 32M;  vm_drive d4k "$VM_IMAGE"; IMG_D4K=$VM_IMAGE
vm_image cd 4M;    vm_drive cd "$VM_IMAGE" readonly=on
vm_image ro 16M;   vm_drive ro "$VM_IMAGE" readonly=on; IMG_RO=$VM_IMAGE
vm_drive big null:3T
vm_image huge 3T;  vm_drive huge "$VM_IMAGE"; IMG_HUGE=$VM_IMAGE
vm_image s0 8M;    vm_drive s0 "$VM_IMAGE"
vm_image s3 12M;   vm_drive s3 "$VM_IMAGE"

vm_scsi_hd scsi0 0 0 d0  serial=vs-d0
vm_scsi_hd scsi0 0 1 d4k serial=vs-4k logical_block_size=4096 physical_block_size=4096
vm_scsi_cd scsi0 0 2 cd  serial=vs-cd
vm_scsi_hd scsi0 1 0 ro  serial=vs-ro
vm_scsi_hd scsi0 1 5 big serial=vs-big
vm_scsi_hd scsi0 1 6 huge serial=vs-huge
vm_scsi_hd scsi0 2 0 s0  serial=vs-t2l0
vm_scsi_hd scsi0 2 3 s3  serial=vs-t2l3

vm_guest <<'GUEST'
lsmod | grep -q '^virtio_scsi ' && fail "virtio_scsi loaded before it was asked for"
load_modules virtio_scsi sg sd_mod
wait_scsi_devices 8 30 virtio_scsi
oracle_scsi virtio_scsi >/run/vm/oracle
oracle_luns virtio_scsi >/run/vm/luns
cat /run/vm/oracle /run/vm/luns

# 64 KiB at byte 1 MiB + 512 of the 512-byte disk (direct I/O)
d0=$(dev_by_serial vs-d0)
pattern_gen split-d0 65536 | dd of="$d0" bs=512 seek=2049 oflag=direct status=none ||
    fail "write $d0"
cmp <(pattern_gen split-d0 65536) \
    <(dd if="$d0" bs=512 skip=2049 count=128 iflag=direct status=none) ||
    fail "read-back $d0"
# 8 KiB at LBA 3 of the 4096-byte-block disk
d4k=$(dev_by_serial vs-4k)
pattern_gen split-4k 8192 | dd of="$d4k" bs=4096 seek=3 oflag=direct status=none ||
    fail "write $d4k"
# 512-byte direct I/O must be refused on the 4096-byte-block disk
if dd if=/dev/zero of="$d4k" bs=512 count=1 oflag=direct status=none 2>/dev/null; then
    fail "512-byte direct write to a 4096-byte-block disk succeeded"
fi
# writes to the read-only LUN fail
ro=$(dev_by_serial vs-ro)
if dd if=/dev/zero of="$ro" bs=512 count=1 oflag=direct status=none 2>/dev/null; then
    fail "write to read-only $ro succeeded"
fi
# last block of the 3 TiB disk is readable (and zero)
big=$(dev_by_serial vs-big)
cmp -n 512 /dev/zero <(dd if="$big" bs=512 skip=$((6442450944 - 1)) count=1 iflag=direct status=none) ||
    fail "read of the last LBA of $big"
# 64 KiB at 2 TiB + 1 MiB of the sparse 3 TiB file (LBA > 2^32)
huge=$(dev_by_serial vs-huge)
pattern_gen split-huge 65536 |
    dd of="$huge" bs=512 seek=$(( (2 * 1024 * 1024 * 1024 * 1024 + 1048576) / 512 )) oflag=direct status=none ||
    fail "write beyond 2 TiB on $huge"
log "I/O checks done"
GUEST

vm_boot || vm_fail "guest script failed"

# 64M/512 = 131072, 32M/4096 = 8192, 4M/2048 = 2048, 16M/512 = 32768,
# 3T/512 = 6442450944, 8M/512 = 16384, 12M/512 = 24576
vm_expect "$VM_SHARE/oracle" "SCSI devices" <<'EXPECTED'
virtio_scsi tgt=0 lun=0 type=0 QEMU/QEMU_HARDDISK serial=vs-d0 rmb=0 wp=0 bs=512 blocks=131072
virtio_scsi tgt=0 lun=1 type=0 QEMU/QEMU_HARDDISK serial=vs-4k rmb=0 wp=0 bs=4096 blocks=8192
virtio_scsi tgt=0 lun=2 type=5 QEMU/QEMU_CD-ROM serial=vs-cd rmb=1 wp=- bs=2048 blocks=2048
virtio_scsi tgt=1 lun=0 type=0 QEMU/QEMU_HARDDISK serial=vs-ro rmb=0 wp=1 bs=512 blocks=32768
virtio_scsi tgt=1 lun=5 type=0 QEMU/QEMU_HARDDISK serial=vs-big rmb=0 wp=0 bs=512 blocks=6442450944
virtio_scsi tgt=1 lun=6 type=0 QEMU/QEMU_HARDDISK serial=vs-huge rmb=0 wp=0 bs=512 blocks=6442450944
virtio_scsi tgt=2 lun=0 type=0 QEMU/QEMU_HARDDISK serial=vs-t2l0 rmb=0 wp=0 bs=512 blocks=16384
virtio_scsi tgt=2 lun=3 type=0 QEMU/QEMU_HARDDISK serial=vs-t2l3 rmb=0 wp=0 bs=512 blocks=24576
EXPECTED
vm_expect "$VM_SHARE/luns" "REPORT LUNS" <<'EXPECTED'
virtio_scsi tgt=0 luns=0,1,2
virtio_scsi tgt=1 luns=0,5,6
virtio_scsi tgt=2 luns=0,3
EXPECTED

vm_check_pattern "$IMG_D0" $((1048576 + 512)) 65536 split-d0
vm_check_pattern "$IMG_D4K" $((3 * 4096)) 8192 split-4k
vm_check_pattern "$IMG_HUGE" $((2 * 1024 * 1024 * 1024 * 1024 + 1048576)) 65536 split-huge
cmp -n 16777216 /dev/zero "$IMG_RO" || vm_fail "read-only image was modified"
vm_pass
