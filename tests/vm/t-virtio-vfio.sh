#!/bin/bash
# Our userspace virtio-scsi driver over VFIO: QEMU's q35 with an emulated
# Intel IOMMU (interrupt remapping on, intel_iommu=on in the guest), a
# virtio-scsi-pci with iommu_platform=on (VIRTIO_F_ACCESS_PLATFORM:
# addresses are IOVAs) and packed=on, num_queues=2.
#  - virtio-scsi-device-bind picks vfio-pci (the function has an IOMMU
#    group) and the library reports transport vfio, IOMMU type1, ACCESS_PLATFORM.
#  - identity and capacities match the kernel's view; data written through
#    us beyond 2 TiB and on a 4 KiB-sector LUN is in the host images;
#  - polled, MSI-X (one vector per request queue: two threads on their own
#    queues, each waiting only for its own eventfd) and INTx through VFIO;
#    split and packed rings;
#  - registers by pread/pwrite on the VFIO device (ORIONSTOR_VIRTIO_BAR_ACCESS=rw);
#  - an ordinary buffer is bounced (the device is never given memory
#    outside the IOMMU-mapped pool), a DMA buffer is not;
#  - as an unprivileged user (nobody) given /dev/vfio/N and a locked-memory
#    limit: works; without the group's permission or with a tiny limit:
#    an error naming the fix;
#  - device-remove gives the function back to virtio-pci.
. "$(dirname "$0")/lib/vm.sh"
vm_init virtio-vfio
VM_TIMEOUT=${ORIONSTOR_VM_TIMEOUT:-900}
VM_MACHINE=q35
VM_MEM=768
# iommu=pt: the kernel's own devices (the 9p shares) keep identity
# mappings, which the emulated IOMMU translates much faster; VFIO still
# gives our function a translated domain of its own.
VM_APPEND="intel_iommu=on iommu=pt"
vm_device intel-iommu,intremap=on
vm_virtio_scsi scsi0 iommu_platform=on packed=on num_queues=2
vm_image big 3T; vm_drive big "$VM_IMAGE"; IMG_BIG=$VM_IMAGE
vm_image d1 16M; vm_drive d1 "$VM_IMAGE"; IMG_D1=$VM_IMAGE
vm_scsi_hd scsi0 0 0 big serial=vfio-0
vm_scsi_hd scsi0 1 0 d1 serial=vfio-1 logical_block_size=4096 physical_block_size=4096

vm_guest <<'GUEST'
bdf=$(find_pci 1af4 1048)
[ "$(echo "$bdf" | wc -w)" = 1 ] || fail "expected one modern virtio-scsi function, got '$bdf'"
B=$ORIONSTOR_BUILDDIR
step() { echo "[$SECONDS s] $*"; }
tool=$B/tools/orionstor
helper=$B/tests/vm/virtio-ours-helper
group=$(basename "$(readlink /sys/bus/pci/devices/$bdf/iommu_group)")
[ -n "$group" ] || fail "no IOMMU group for $bdf (intel_iommu=on not in effect?)"
load_modules virtio_scsi sg sd_mod
wait_scsi_devices 2 60 virtio_scsi
oracle_scsi virtio_scsi >/run/vm/oracle
unload_modules sd_mod virtio_scsi
step "load_modules vfio-pci"
load_modules vfio-pci
step "reserve_hugepages 64"
reserve_hugepages 64
export ORIONSTOR_CONF=/dev/null ORIONSTOR_VIRTIO_QUEUES=2
# default driver with an IOMMU group: vfio-pci
$B/tools/virtio-scsi-device-bind -d "$bdf" >/run/vm/bind.out 2>&1 || { cat /run/vm/bind.out; fail "bind"; }
cat /run/vm/bind.out
[ "$(pci_driver "$bdf")" = vfio-pci ] || fail "bound to $(pci_driver "$bdf"), not vfio-pci"
[ -c /dev/vfio/$group ] || fail "/dev/vfio/$group missing"
step "confine, polled"
$helper confine -d "virtio:$bdf" --lba 0 >/run/vm/confine-polled 2>&1 || { cat /run/vm/confine-polled; fail "confine (polled)"; }
cat /run/vm/confine-polled
grep -q "transport=vfio iommu=type1 group=$group interrupts=none vectors=0 access_platform=1" /run/vm/confine-polled ||
    fail "not vfio / type1 / polled / ACCESS_PLATFORM: $(head -n 1 /run/vm/confine-polled)"
step "info"
# one LUN at a time: a scan of all 256 targets takes minutes under TCG on q35
for tl in "0 0" "1 0"; do
    set -- $tl
    $tool info -d "virtio:$bdf" --target $1 --lun $2 >>/run/vm/ours 2>&1 || { cat /run/vm/ours; fail "orionstor info $1:$2"; }
done
cat /run/vm/ours
step "beyond 2 TiB"
# beyond 2 TiB (LBA 2^32 + 1000) and on the 4 KiB LUN, split ring, polled
pattern_gen vfiobig 1048576 >/run/vm/pat
ORIONSTOR_VIRTIO_RING=split $tool write -q -d "virtio:$bdf" --target 0 --lun 0 --lba 4294968296 \
    -i /run/vm/pat || fail "write beyond 2 TiB"
ORIONSTOR_VIRTIO_RING=split $tool read -q -d "virtio:$bdf" --target 0 --lun 0 --lba 4294968296 \
    --count 2048 -o /run/vm/back || fail "read beyond 2 TiB"
cmp /run/vm/back /run/vm/pat || fail "read back beyond 2 TiB differs"
pattern_gen vfio4k 262144 >/run/vm/pat4k
$tool write -q -d "virtio:$bdf" --target 1 --lun 0 --lba 100 -i /run/vm/pat4k || fail "write 4K LUN"
step "MSI-X, packed"
# MSI-X, packed: two threads on their own request queues
ORIONSTOR_VIRTIO_INTERRUPTS=1 $helper confine -d "virtio:$bdf" --lba 4294968296 >/run/vm/confine 2>&1 ||
    { cat /run/vm/confine; fail "confine (MSI-X)"; }
cat /run/vm/confine
grep -q "transport=vfio iommu=type1 group=$group interrupts=msix vectors=[1-9] access_platform=1" /run/vm/confine ||
    fail "not MSI-X over VFIO: $(head -n 1 /run/vm/confine)"
before=$(grep -c vfio-msix /proc/interrupts)
ORIONSTOR_VIRTIO_INTERRUPTS=1 ORIONSTOR_VIRTIO_RING=packed $helper mq -d "virtio:$bdf" --threads 2 \
    --acquire --lba 100000 --blocks 1024 --io-blocks 8 --qd 8 --seed vfiomsi >/run/vm/mq-msix 2>&1 ||
    { cat /run/vm/mq-msix; fail "mq over MSI-X"; }
cat /run/vm/mq-msix
step "the kernel counted"
# the kernel counted interrupts on the vectors of both request queues
ORIONSTOR_VIRTIO_INTERRUPTS=1 HELPER_INTERRUPTS_TO=/run/vm/irqs $helper mq -d "virtio:$bdf" --threads 2 \
    --acquire --lba 100000 --blocks 1024 --io-blocks 8 --qd 8 --seed vfiomsi >/run/vm/mq-msix2 2>&1 ||
    { cat /run/vm/mq-msix2; fail "mq over MSI-X (second run)"; }
cat /run/vm/irqs
# vector 2 and 3: request queues 0 and 1 (vfio-msix[N](ADDR))
for v in 2 3; do
    awk -v v="vfio-msix[$v]" 'index($0, v) { s = 0; for (i = 2; i < NF; i++) if ($i ~ /^[0-9]+$/) s += $i; print s }' \
        /run/vm/irqs | awk '{ t += $1 } END { exit !(t > 0) }' || fail "no interrupts on MSI-X vector $v"
done
# virtio-scsi-queue-info shows the vector of each request queue (2 + i)
ORIONSTOR_VIRTIO_INTERRUPTS=1 $B/tools/virtio-scsi-queue-info -d "virtio:$bdf" >/run/vm/qinfo-msix 2>&1 ||
    { cat /run/vm/qinfo-msix; fail "virtio-scsi-queue-info (MSI-X)"; }
cat /run/vm/qinfo-msix
awk '$2 == "request" { n++; if ($NF != $1) bad = 1 } END { exit !(n == 2 && !bad) }' /run/vm/qinfo-msix ||
    fail "virtio-scsi-queue-info: request queue i is not on MSI-X vector 2 + i"
step "INTx through VFIO"
# INTx through VFIO
ORIONSTOR_VIRTIO_INTERRUPTS=1 ORIONSTOR_VIRTIO_IRQ=intx $helper confine -d "virtio:$bdf" --lba 4294968296 \
    >/run/vm/confine-intx 2>&1 || { cat /run/vm/confine-intx; fail "confine (INTx)"; }
grep -q "interrupts=intx" /run/vm/confine-intx || fail "not INTx: $(cat /run/vm/confine-intx)"
ORIONSTOR_VIRTIO_INTERRUPTS=1 ORIONSTOR_VIRTIO_IRQ=intx $helper mq -d "virtio:$bdf" --threads 2 \
    --lba 20480 --blocks 512 --io-blocks 8 --qd 4 --seed vfiointx >/run/vm/mq-intx 2>&1 ||
    { cat /run/vm/mq-intx; fail "mq over INTx"; }
step "registers by read/write"
# BARs through pread/pwrite on the VFIO device instead of mmap (what a
# BAR VFIO will not map gets): MSI-X and polled, data on the host image
pattern_gen vfiorw 262144 >/run/vm/patrw
ORIONSTOR_DEBUG=3 ORIONSTOR_VIRTIO_BAR_ACCESS=rw ORIONSTOR_VIRTIO_INTERRUPTS=1 $tool write -q -d "virtio:$bdf" \
    --target 0 --lun 0 --lba 40000 -i /run/vm/patrw >/run/vm/rw-write 2>&1 || { cat /run/vm/rw-write; fail "write, registers by read/write"; }
grep -q "through read/write on the VFIO device" /run/vm/rw-write ||
    fail "ORIONSTOR_VIRTIO_BAR_ACCESS=rw: the BARs were not accessed by read/write: $(cat /run/vm/rw-write)"
ORIONSTOR_VIRTIO_BAR_ACCESS=rw $tool read -q -d "virtio:$bdf" --target 0 --lun 0 --lba 40000 --count 512 \
    -o /run/vm/rw-back || fail "read, registers by read/write"
cmp /run/vm/rw-back /run/vm/patrw || fail "read back through read/write registers differs"
ORIONSTOR_VIRTIO_BAR_ACCESS=bogus $tool info -d "virtio:$bdf" --target 1 >/run/vm/rw-bogus 2>&1 &&
    fail "ORIONSTOR_VIRTIO_BAR_ACCESS=bogus was accepted"
grep -q "expected mmap or rw" /run/vm/rw-bogus || fail "no clear refusal of a bad ORIONSTOR_VIRTIO_BAR_ACCESS: $(cat /run/vm/rw-bogus)"
step "unprivileged"
# unprivileged: nobody, without the group first, then with it
ulimit -l unlimited
mkdir -p /tmp/nobody-run && chown 65534 /tmp/nobody-run && chmod 700 /tmp/nobody-run
run_nobody() { XDG_RUNTIME_DIR=/tmp/nobody-run setpriv --reuid=65534 --regid=65534 --clear-groups -- "$@"; }
run_nobody $tool info -d "virtio:$bdf" --target 1 >/run/vm/nobody-denied 2>&1 && fail "nobody opened the group without permission"
cat /run/vm/nobody-denied
grep -q "chown" /run/vm/nobody-denied || fail "the refusal does not say how to give the group: $(cat /run/vm/nobody-denied)"
step "chown 65534 /dev/vfio"
chown 65534 /dev/vfio/$group
run_nobody $tool info -d "virtio:$bdf" --target 1 --lun 0 >/run/vm/nobody 2>&1 || { cat /run/vm/nobody; fail "info as nobody"; }
cat /run/vm/nobody
grep -q "^1:0 .*4096 *4096" /run/vm/nobody || fail "nobody sees another LUN 1:0"
step "pattern_gen vfionobody"
pattern_gen vfionobody 524288 >/run/vm/patn
run_nobody $tool write -q -d "virtio:$bdf" --target 0 --lun 0 --lba 8192 -i /run/vm/patn || fail "write as nobody"
step "ORIONSTOR_VIRTIO_INTERRUPTS=1 "
ORIONSTOR_VIRTIO_INTERRUPTS=1 run_nobody $helper mq -d "virtio:$bdf" --threads 2 --acquire --lba 30000 \
    --blocks 512 --io-blocks 8 --qd 8 --seed vfionob >/run/vm/mq-nobody 2>&1 ||
    { cat /run/vm/mq-nobody; fail "MSI-X as nobody"; }
step "(ulimit -l 64;"
(ulimit -l 64; run_nobody $tool info -d "virtio:$bdf" --target 1) >/run/vm/nobody-memlock 2>&1 && fail "a 64 KiB locked-memory limit was enough"
cat /run/vm/nobody-memlock
grep -q "ulimit -l" /run/vm/nobody-memlock || fail "the memlock refusal does not name ulimit -l: $(cat /run/vm/nobody-memlock)"
step "back to the kernel"
# back to the kernel
$B/tools/virtio-scsi-device-remove -d "virtio:$bdf" >/run/vm/remove.out 2>&1 || { cat /run/vm/remove.out; fail "device-remove"; }
[ "$(pci_driver "$bdf")" = virtio-pci ] || fail "not back on virtio-pci: $(pci_driver "$bdf")"
echo "vfio=ok" >/run/vm/facts
GUEST

vm_boot || vm_fail "guest script failed"
grep -q "0:0 *disk *QEMU *QEMU HARDDISK .* 512 *6442450944" "$VM_SHARE/ours" || vm_fail "LUN 0:0 not as the kernel sees it"
grep -q "1:0 *disk *QEMU *QEMU HARDDISK .* 4096 *4096" "$VM_SHARE/ours" || vm_fail "LUN 1:0 not as the kernel sees it"
vm_check_pattern "$IMG_BIG" $((4294968296 * 512)) 1048576 vfiobig
vm_check_pattern "$IMG_D1" $((100 * 4096)) 262144 vfio4k
vm_check_pattern "$IMG_BIG" $((8192 * 512)) 524288 vfionobody
vm_check_pattern "$IMG_BIG" $((40000 * 512)) 262144 vfiorw
# the two threads' regions, back to back
cmp <(pattern_gen vfiomsi0 524288; pattern_gen vfiomsi1 524288) \
    <(dd if="$IMG_BIG" bs=1M iflag=skip_bytes,count_bytes skip=$((100000 * 512)) count=1048576 status=none) ||
    vm_fail "the MSI-X threads' data is not in the image"
vm_pass
