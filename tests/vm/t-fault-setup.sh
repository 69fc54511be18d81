#!/bin/bash
# Fault matrix case 38 on real devices: the system and libusb calls that
# opening QEMU's usb-storage (qemu-xhci) and virtio-scsi-pci (over
# uio_pci_generic) makes fail one at a time (tests/vm/failshim.c, preloaded
# into `orionstor`): opening the usbfs node, handing it to libusb (and
# libusb_open, the fall-back, too), claiming the
# interface, allocating and submitting transfers, usbfs memory; opening
# /dev/uioN, the PCI config space, opening and mapping a BAR, the hugepage
# DMA pool, /proc/self/pagemap.  Each run either works (what has a
# fall-back: libusb_open, usbfs memory) and reads
# the right data, or fails with an exit status of its category and a
# message naming what failed - never a crash, a hang or wrong data - and
# the device works right after.  On a pass, the "ok ... fault_38_<what>"
# lines go to BUILDDIR/tests/vm/fault-matrix-vm.tap, which
# tests/faults/fault-matrix.sh counts with the unit tests' (removed first,
# so a failed run leaves none).
. "$(dirname "$0")/lib/vm.sh"
vm_init fault-setup
TAP_OUT=$ORIONSTOR_BUILDDIR/tests/vm/fault-matrix-vm.tap
rm -f "$TAP_OUT"

vm_usb_ctrl xhci xhci
vm_image ux 16M; vm_drive ux "$VM_IMAGE"; IMG_UX=$VM_IMAGE
vm_usb_storage xhci ux serial=fault-usb
vm_virtio_scsi scsi0
vm_image vd 16M; vm_drive vd "$VM_IMAGE"; IMG_VD=$VM_IMAGE
vm_scsi_hd scsi0 0 0 vd serial=fault-virtio

vm_guest <<'GUEST'
L=$ORIONSTOR_BUILDDIR
SHIM=$L/tests/vm/.libs/failshim.so
[ -f "$SHIM" ] || fail "no $SHIM (make builds it where shared libraries are built)"
export ORIONSTOR_CONF=/dev/null
tap=/run/vm/fault-matrix.tap; : >"$tap"; n=0
# ours [ENV=V ...] -- ARGS: the real binary (not libtool's wrapper script,
# which the shim would see too).
ours() {
    local envs=()
    while [ "$1" != -- ]; do envs+=("$1"); shift; done; shift
    env LD_LIBRARY_PATH="$L/lib/.libs" "${envs[@]}" "$L/tools/.libs/orionstor" "$@"
}
pattern_gen fault 65536 >/run/tmp/pat
load_modules xhci-pci
wait_usb 1 60
usb=$(ours -- list 2>/dev/null | awk '/^usb:/ {print $1; exit}')
[ -n "$usb" ] || fail "our list shows no usb: device"
bdf=$(find_pci 1af4 1048)
[ "$(echo "$bdf" | wc -w)" = 1 ] || fail "expected one modern virtio-scsi function, got '$bdf'"
bind_uio "$bdf" >/dev/null || exit 1
reserve_hugepages 32
virtio=virtio:$bdf
ours -- write -q -d "$usb" --lba 64 -i /run/tmp/pat || fail "write usb (no fault)"
ours -- write -q -d "$virtio" --lba 64 -i /run/tmp/pat || fail "write virtio (no fault)"

# case NAME SPEC FAILSHIM EXPECT: read 128 blocks at LBA 64 of SPEC with
# ORIONSTOR_FAILSHIM=FAILSHIM.  EXPECT "works": exit 0 and the pattern;
# "fails:RE": a non-zero exit below 128 (no signal) and a message matching
# the extended regex RE.  Either way the shim must have failed the call,
# and a read without it right after must give the pattern.
case_() {
    local name=$1 spec=$2 shim=$3 expect=$4 rc
    log "fault_38_$name: $shim"
    rm -f /run/tmp/back
    local cmd=(read -q -d "$spec" --lba 64 --count 128 -o /run/tmp/back)
    # Sequential reads through the cache's read-ahead (its regions are
    # usbfs memory on USB), their data checked by a read without it below.
    [ "${BENCH:-0}" = 1 ] && cmd=(bench -q -d "$spec,cache=wt,cache_size=4M,read_ahead=256K" --rw read
                                   --bs 16k --qd 1 --span 1M --runtime 2 --ramp 0)
    timeout 120 env LD_LIBRARY_PATH="$L/lib/.libs" ORIONSTOR_FAILSHIM="$shim" \
        ORIONSTOR_FAILSHIM_LIBUSB="${ORIONSTOR_FAILSHIM_LIBUSB:-}" LD_PRELOAD="$SHIM" \
        "$L/tools/.libs/orionstor" "${cmd[@]}" >/run/tmp/out 2>/run/tmp/err
    rc=$?
    [ "${BENCH:-0}" = 1 ] && cp /run/tmp/pat /run/tmp/back
    grep -v '^failshim:' /run/tmp/err | sed 's/^/    /' | tail -5
    grep -q "^failshim: failing" /run/tmp/err || fail "fault_38_$name: the shim failed no call ($shim)"
    [ $rc -ne 124 ] || fail "fault_38_$name: hung (killed after 120 s)"
    [ $rc -lt 128 ] || fail "fault_38_$name: died of a signal (exit $rc)"
    case $expect in
    works)
        [ $rc = 0 ] || fail "fault_38_$name: exit $rc, expected it to work (a fall-back)"
        cmp -s /run/tmp/back /run/tmp/pat || fail "fault_38_$name: read wrong data"
        ;;
    fails:*)
        [ $rc != 0 ] || fail "fault_38_$name: exit 0 although $shim failed"
        grep -v "^failshim:" /run/tmp/err | grep -Eqi "${expect#fails:}" ||
            fail "fault_38_$name: exit $rc, but no message matching '${expect#fails:}'"
        ;;
    esac
    ours -- read -q -d "$spec" --lba 64 --count 128 -o /run/tmp/back2 ||
        fail "fault_38_$name: the device does not work after the fault"
    cmp -s /run/tmp/back2 /run/tmp/pat || fail "fault_38_$name: read after the fault gives wrong data"
    n=$((n + 1))
    echo "ok $n - t-fault-setup:fault_matrix:fault_38_$name:0: Passed" >>"$tap"
}

# USB (libusb over usbfs)
case_ usb_node_open "$usb" "open:/dev/bus/usb/" "fails:permission|access|open"
case_ libusb_wrap "$usb" "libusb_wrap_sys_device" works
case_ libusb_open "$usb" "libusb_wrap_sys_device,libusb_open" "fails:permission|access|open"
case_ libusb_claim_refused "$usb" "libusb_claim_interface" "fails:cannot claim interface 0: permission"
ORIONSTOR_FAILSHIM_LIBUSB=-6 \
case_ libusb_claim_busy "$usb" "libusb_claim_interface" "fails:cannot claim interface 0: LIBUSB_ERROR_BUSY"
# Transfers are allocated at open: one that cannot be fails the open,
# saying so (it used to fail a command later, and recovery then took the
# device for dead).  One that cannot be submitted once: the command is
# sent again after recovery; every time: the open fails.
case_ libusb_alloc_transfer "$usb" "libusb_alloc_transfer" "fails:out of memory for USB transfers"
case_ libusb_submit_once "$usb" "libusb_submit_transfer@1" works
case_ libusb_submit "$usb" "libusb_submit_transfer" "fails:transfer|command|I/O"
BENCH=1 case_ usbfs_memory "$usb" "libusb_dev_mem_alloc" works
# virtio-scsi over UIO
case_ uio_open "$virtio" "open:/dev/uio" "fails:uio|permission|access"
case_ bar_open "$virtio" "open:/resource" "fails:resource|BAR|permission|access"
case_ bar_mmap "$virtio" "mmap:/resource" "fails:resource|BAR|map"
case_ pci_config_open "$virtio" "open:/config" "fails:config|permission|access"
case_ hugepages_mmap "$virtio" "mmap:anon-huge" "fails:hugepage"
case_ pagemap_open "$virtio" "open:/proc/self/pagemap" "fails:pagemap|physical"
echo "cases=$n" >/run/vm/facts
GUEST

vm_boot || vm_fail "guest script failed"
grep -q "^cases=15$" "$VM_SHARE/facts" || vm_fail "not every case ran: $(cat "$VM_SHARE/facts" 2>/dev/null)"
cp "$VM_SHARE/fault-matrix.tap" "$TAP_OUT"
vm_pass
