# shellcheck shell=bash
# Host-side harness for QEMU guest tests (bash). Source it from a test:
#
#   . "$(dirname "$0")/lib/vm.sh"
#   vm_init my-test                       # fresh work dir, empty config
#   vm_image d0 64M                       # sparse raw image $VM_WORK/d0.img
#   vm_drive d0 "$VM_IMAGE"               # -drive if=none,id=d0,...
#   vm_virtio_scsi scsi0 num_queues=1     # modern (disable-legacy=on)
#   vm_scsi_hd scsi0 0 0 d0 serial=d0     # bus target lun drive [props]
#   vm_guest <<'EOF' ... EOF              # the script the guest runs as root
#   vm_boot || vm_fail "guest failed"     # run it; output in $VM_SHARE
#   vm_expect "$VM_SHARE/oracle" <<'EOF' ... EOF   # exact comparison
#   vm_pass
#
# Environment:
#   ORIONSTOR_SRCDIR / ORIONSTOR_BUILDDIR  source / build tree (default: the
#                         tree this file is in); visible in the guest
#   ORIONSTOR_VM_CACHE    guest kernel/initramfs cache (/var/tmp/orionstor-vm-cache)
#   ORIONSTOR_VM_WORKDIR  per-test work dirs ($BUILDDIR/tests/vm/work)
#   ORIONSTOR_VM_TIMEOUT  seconds before QEMU is killed (default 300; the
#                         guest script itself is stopped 30 s earlier)
#   ORIONSTOR_VM_KEEP=1   keep work dirs of passing tests too
#   ORIONSTOR_VM_INTERACTIVE=1  boot the test's configuration and give an
#                         interactive root shell on the terminal instead
#   ORIONSTOR_VM_VERBOSE=1  copy the guest console to stderr while running
#   QEMU                  QEMU binary (qemu-system-x86_64)
# QEMU always runs with -accel tcg.

VM_LIBDIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
VM_TESTDIR=$(dirname "$VM_LIBDIR")
: "${ORIONSTOR_SRCDIR:=$(cd "$VM_TESTDIR/../.." && pwd)}"
: "${ORIONSTOR_BUILDDIR:=$ORIONSTOR_SRCDIR}"
export ORIONSTOR_SRCDIR ORIONSTOR_BUILDDIR
QEMU=${QEMU:-qemu-system-x86_64}

. "$VM_LIBDIR/build-guest.sh"
. "$VM_LIBDIR/guest-lib.sh"   # pattern_gen

vm_log() { echo "[$VM_NAME] $*"; }

# vm_fail MESSAGE: report failure (keeps the work dir) and exit 1.
vm_fail() {
    echo "[$VM_NAME] FAIL: $*" >&2
    [ -n "${VM_WORK:-}" ] && echo "[$VM_NAME] work dir kept: $VM_WORK" >&2
    vm_stop 2>/dev/null
    exit 1
}
# vm_skip MESSAGE: exit 77 (only when QEMU cannot start at all).
vm_skip() { echo "[$VM_NAME] SKIP: $*" >&2; exit 77; }
vm_pass() {
    [ ${#VM_MISMATCHES[@]} -eq 0 ] ||
        vm_fail "mismatch in: $(IFS=,; echo "${VM_MISMATCHES[*]}" | sed 's/,/, /g')"
    vm_log "PASS ($((SECONDS - VM_T0)) s)"
    [ "${ORIONSTOR_VM_KEEP:-0}" = 1 ] || rm -rf "$VM_WORK"
    exit 0
}

# vm_init NAME: start a new guest configuration with an empty work dir.
vm_init() {
    VM_NAME=$1${T_VIRTIO_DRIVER:+-$T_VIRTIO_DRIVER}
    VM_T0=$SECONDS
    local root=${ORIONSTOR_VM_WORKDIR:-$ORIONSTOR_BUILDDIR/tests/vm/work}
    VM_WORK=$root/$VM_NAME
    VM_SHARE=$VM_WORK/share
    VM_QMP=$VM_WORK/qmp.sock
    VM_CONSOLE=$VM_WORK/console.log
    # two runs of the same test (e.g. two people in one tree) take turns
    mkdir -p "$root" || vm_fail "cannot create $root"
    exec {VM_LOCKFD}>"$root/.$VM_NAME.lock" && flock "$VM_LOCKFD"
    rm -rf "$VM_WORK"
    mkdir -p "$VM_SHARE/sync" || vm_fail "cannot create $VM_SHARE"
    VM_WORK=$(cd "$VM_WORK" && pwd); VM_SHARE=$VM_WORK/share
    VM_QMP=$VM_WORK/qmp.sock; VM_CONSOLE=$VM_WORK/console.log
    # unix socket paths are limited to 107 bytes (deep build trees)
    if [ ${#VM_QMP} -gt 100 ]; then
        VM_QMP=$(mktemp -u "${TMPDIR:-/tmp}/orionstor-qmp.XXXXXX") || vm_fail "mktemp"
        ln -sf "$VM_QMP" "$VM_WORK/qmp.sock"
    fi
    VM_ARGS=()
    VM_MISMATCHES=()
    # T_VIRTIO_DRIVER=vfio-pci: the same test with our virtio driver over
    # VFIO (q35, an Intel IOMMU with interrupt remapping; iommu=pt keeps
    # the kernel's own devices on fast identity mappings).
    if [ "${T_VIRTIO_DRIVER:-}" = vfio-pci ]; then
        VM_MACHINE=q35
        VM_APPEND="intel_iommu=on iommu=pt ${VM_APPEND:-}"
        VM_ARGS+=(-device intel-iommu,intremap=on)
        export ORIONSTOR_T_VIRTIO_DRIVER=vfio-pci
    fi
    VM_MEM=${VM_MEM:-512}
    VM_SMP=${VM_SMP:-1}
    VM_MACHINE=${VM_MACHINE:-pc}
    VM_TIMEOUT=${ORIONSTOR_VM_TIMEOUT:-300}
    VM_PID=
    trap 'vm_stop' EXIT
}

# vm_arg ARG...: raw QEMU arguments.
vm_arg() { VM_ARGS+=("$@"); }

# Join "key=val" properties with commas (empty ones dropped).
_vm_props() { local IFS=,; local a=("$@"); echo "${a[*]}"; }

# vm_image NAME SIZE [FORMAT]: sparse image $VM_WORK/NAME.img (raw; or
# qcow2 -> NAME.qcow2). Its path is left in $VM_IMAGE.
vm_image() {
    local name=$1 size=$2 fmt=${3:-raw} f
    if [ "$fmt" = qcow2 ]; then
        f=$VM_WORK/$name.qcow2
        qemu-img create -q -f qcow2 "$f" "$size" || vm_fail "qemu-img $f"
    else
        f=$VM_WORK/$name.img
        truncate -s "$size" "$f" || vm_fail "truncate $f"
    fi
    VM_IMAGE=$f
}

# vm_drive ID SOURCE [OPTS...]: a backend without a device.
#   SOURCE: path of an image (.qcow2 -> qcow2, else raw), or null:SIZE
#   (null-co, reads zeroes, writes discarded). OPTS e.g. readonly=on.
vm_drive() {
    local id=$1 src=$2; shift 2
    case $src in
        null:*)
            VM_ARGS+=(-drive "$(_vm_props "if=none" "id=$id" "driver=null-co" \
                "size=${src#null:}" "read-zeroes=on" "$@")") ;;
        *.qcow2)
            VM_ARGS+=(-drive "$(_vm_props "if=none" "id=$id" "file=$src" \
                "format=qcow2" "cache=writeback" "$@")") ;;
        *)
            VM_ARGS+=(-drive "$(_vm_props "if=none" "id=$id" "file=$src" \
                "format=raw" "cache=writeback" "$@")") ;;
    esac
}

# vm_device SPEC: raw -device.
vm_device() { VM_ARGS+=(-device "$1"); }

# vm_virtio_scsi ID [PROPS...]: modern virtio-scsi-pci (disable-legacy=on),
# e.g. num_queues=4 packed=on.
vm_virtio_scsi() {
    local id=$1; shift
    [ "${T_VIRTIO_DRIVER:-}" = vfio-pci ] && set -- iommu_platform=on "$@"
    vm_device "$(_vm_props virtio-scsi-pci "id=$id" disable-legacy=on "$@")"
}

# vm_scsi_hd BUS TARGET LUN DRIVE [PROPS...]: scsi-hd on BUS (a virtio-scsi,
# usb-bot or usb-uas id). Device id defaults to DRIVE-dev; e.g.
# logical_block_size=4096 physical_block_size=4096 serial=S removable=on.
vm_scsi_hd() { _vm_scsi_dev scsi-hd "$@"; }
# vm_scsi_cd BUS TARGET LUN DRIVE [PROPS...]
vm_scsi_cd() { _vm_scsi_dev scsi-cd "$@"; }
_vm_scsi_dev() {
    local type=$1 bus=$2 tgt=$3 lun=$4 drv=$5; shift 5
    local id="id=$drv-dev"
    case " $* " in *" id="*) id= ;; esac
    vm_device "$(_vm_props "$type" "bus=$bus.0" "scsi-id=$tgt" "lun=$lun" \
        "drive=$drv" $id "$@")"
}

# vm_usb_ctrl KIND ID: xhci (qemu-xhci, USB 3), ehci (usb-ehci, USB 2),
# ohci (pci-ohci, USB 1.1), uhci (piix3-usb-uhci).
vm_usb_ctrl() {
    local dev
    case $1 in
        xhci) dev=qemu-xhci ;;
        ehci) dev=usb-ehci ;;
        ohci) dev=pci-ohci ;;
        uhci) dev=piix3-usb-uhci ;;
        *) vm_fail "unknown USB controller kind $1" ;;
    esac
    vm_device "$dev,id=$2"
}
# vm_usb_storage CTRL DRIVE [PROPS...]: usb-storage (BOT, one LUN), device
# id defaults to DRIVE-dev; e.g. serial=S removable=on.
vm_usb_storage() {
    local ctrl=$1 drv=$2; shift 2
    local id="id=$drv-dev"
    case " $* " in *" id="*) id= ;; esac
    vm_device "$(_vm_props usb-storage "bus=$ctrl.0" "drive=$drv" $id "$@")"
}
# vm_usb_bot CTRL ID [PROPS...]: usb-bot without LUNs; add them with
# vm_scsi_hd ID 0 LUN DRIVE ... (LUN 0..15).
vm_usb_bot() {
    local ctrl=$1 id=$2; shift 2
    vm_device "$(_vm_props usb-bot "bus=$ctrl.0" "id=$id" "$@")"
}
# vm_usb_uas CTRL ID [PROPS...]: usb-uas; add LUNs with vm_scsi_hd ID 0 LUN ..
vm_usb_uas() {
    local ctrl=$1 id=$2; shift 2
    vm_device "$(_vm_props usb-uas "bus=$ctrl.0" "id=$id" "$@")"
}

# vm_guest [FILE]: the guest script (from FILE or stdin). It runs as root
# in bash with guest-lib.sh loaded; its exit status is the guest's.
vm_guest() {
    if [ $# -gt 0 ]; then cp "$1" "$VM_SHARE/guest.sh"; else cat >"$VM_SHARE/guest.sh"; fi
}

# vm_qemu_probe: exit 77 if QEMU cannot start at all.
vm_qemu_probe() {
    command -v "$QEMU" >/dev/null || vm_skip "$QEMU not found (run tests/vm/install-deps.sh)"
    local out rc=0
    out=$(printf '%s\n' '{"execute":"qmp_capabilities"}' '{"execute":"quit"}' |
          timeout 60 "$QEMU" -accel tcg -machine pc -nodefaults -display none \
              -S -qmp stdio 2>&1) || rc=$?
    [ "$rc" = 0 ] ||
        vm_skip "QEMU cannot start at all ($QEMU -accel tcg exited with $rc): $(echo "$out" | tail -n 3)"
}

_vm_prepare() {
    vm_qemu_probe
    vm_build_guest || vm_fail "cannot build the guest kernel/initramfs"
    [ -e "$VM_SHARE/guest.sh" ] || vm_fail "no guest script (vm_guest)"
    cp "$VM_LIBDIR/guest-lib.sh" "$VM_LIBDIR/guest-run.sh" "$VM_SHARE/"
    # A tmpfs on the guest's /tmp would hide trees that live under /tmp.
    local tmpfs=1 p
    for p in "$ORIONSTOR_SRCDIR" "$ORIONSTOR_BUILDDIR" "$VM_WORK" "$VM_CACHE"; do
        case $(cd "$p" && pwd -P)/ in /tmp/*) tmpfs=0 ;; esac
    done
    {
        echo "VM_GUEST_TMPFS=$tmpfs"
        echo "VM_INTERACTIVE=${ORIONSTOR_VM_INTERACTIVE:-0}"
        # the guest stops its script first, leaving log and status behind
        local gt=$((VM_TIMEOUT - 30))
        [ "$gt" -ge $((VM_TIMEOUT * 2 / 3)) ] || gt=$((VM_TIMEOUT * 2 / 3))
        echo "VM_GUEST_TIMEOUT=$gt"
    } >"$VM_SHARE/boot.env"
    {
        printf 'export VM_KROOT=%q VM_KVER=%q VM_SHARE=/run/vm\n' "$VM_KROOT" "$VM_KVER"
        printf 'export ORIONSTOR_SRCDIR=%q ORIONSTOR_BUILDDIR=%q\n' \
            "$ORIONSTOR_SRCDIR" "$ORIONSTOR_BUILDDIR"
        # Pass through extra ORIONSTOR_* settings a test may export.
        local v
        for v in $(compgen -e | grep '^ORIONSTOR_T_' || true); do
            printf 'export %s=%q\n' "$v" "${!v}"
        done
    } >"$VM_SHARE/env.sh"
    rm -f "$VM_SHARE/status" "$VM_SHARE/guest.log" "$VM_QMP"
    rm -rf "$VM_SHARE/sync"; mkdir -p "$VM_SHARE/sync"
    # no_timer_check: on a loaded host a TCG guest can miss the kernel's
    # boot-time timer test ("timer doesn't work through Interrupt-remapped
    # IO-APIC", a panic with the q35 IOMMU); the timer works, it is slow.
    VM_CMD=("$QEMU" -accel tcg -machine "$VM_MACHINE" -m "$VM_MEM" -smp "$VM_SMP"
        -nodefaults -no-user-config -display none -no-reboot
        -kernel "$VM_KERNEL" -initrd "$VM_INITRD"
        -append "console=ttyS0 panic=-1 quiet loglevel=4 mitigations=off no_timer_check ${VM_APPEND:-}"
        -virtfs "local,path=/,mount_tag=hostroot,security_model=none,readonly=on,multidevs=remap"
        -virtfs "local,path=$VM_SHARE,mount_tag=vmshare,security_model=none,multidevs=remap"
        -qmp "unix:$VM_QMP,server=on,wait=off"
        "${VM_ARGS[@]}")
    printf '%q ' "${VM_CMD[@]}" >"$VM_WORK/qemu-cmdline"
    echo >>"$VM_WORK/qemu-cmdline"
}

# vm_start: boot in the background (use vm_wait_guest / vm_qmp / vm_wait).
vm_start() {
    _vm_prepare
    if [ "${ORIONSTOR_VM_INTERACTIVE:-0}" = 1 ]; then
        echo "[$VM_NAME] interactive guest; QEMU command line in $VM_WORK/qemu-cmdline" >&2
        "${VM_CMD[@]}" -serial mon:stdio
        exit 0
    fi
    vm_log "booting guest (timeout ${VM_TIMEOUT}s)"
    VM_START_T=$SECONDS
    : >"$VM_CONSOLE"
    timeout -k 5 "$VM_TIMEOUT" "${VM_CMD[@]}" -serial "file:$VM_CONSOLE" \
        </dev/null >"$VM_WORK/qemu.log" 2>&1 &
    VM_PID=$!
    if [ "${ORIONSTOR_VM_VERBOSE:-0}" = 1 ]; then
        tail -n +1 -f --pid="$VM_PID" "$VM_CONSOLE" >&2 &
    fi
}

# vm_wait: wait for the guest to finish; returns the guest script's exit
# status; fails the test on a timeout or when the guest produced no status.
vm_wait() {
    [ -n "$VM_PID" ] || vm_fail "vm_wait: guest not started"
    local rc=0
    wait "$VM_PID" || rc=$?
    VM_PID=
    vm_log "guest finished after $((SECONDS - VM_START_T)) s"
    if [ "$rc" = 124 ] || [ "$rc" = 137 ]; then
        _vm_dump
        vm_fail "TIMEOUT: guest did not finish within ${VM_TIMEOUT}s (QEMU killed)"
    fi
    if [ "$rc" != 0 ]; then
        _vm_dump
        vm_fail "QEMU exited with status $rc"
    fi
    if [ ! -s "$VM_SHARE/status" ]; then
        _vm_dump
        vm_fail "guest produced no exit status (crashed or init failure?)"
    fi
    VM_STATUS=$(cat "$VM_SHARE/status")
    if [ "$VM_STATUS" = 124 ] || [ "$VM_STATUS" = 137 ]; then
        echo "[$VM_NAME] guest.log:" >&2
        sed 's/^/    | /' "$VM_SHARE/guest.log" >&2
        vm_fail "TIMEOUT: the guest script did not finish within its limit (in-guest timeout, QEMU timeout ${VM_TIMEOUT}s)"
    fi
    if [ "$VM_STATUS" != 0 ]; then
        echo "[$VM_NAME] guest script exit status $VM_STATUS; guest.log:" >&2
        sed 's/^/    | /' "$VM_SHARE/guest.log" >&2
    fi
    return "$VM_STATUS"
}

# vm_boot: vm_start + vm_wait.
vm_boot() { vm_start; vm_wait; }

# vm_stop: kill a running guest (used on exit).
vm_stop() {
    if [ -n "${VM_PID:-}" ]; then
        kill "$VM_PID" 2>/dev/null
        wait "$VM_PID" 2>/dev/null
        VM_PID=
    fi
    case ${VM_QMP:-} in "${VM_WORK:-/nonexistent}"/*) ;; ?*) rm -f "$VM_QMP" ;; esac
}

_vm_dump() {
    echo "[$VM_NAME] --- qemu stderr ---" >&2
    sed 's/^/    | /' "$VM_WORK/qemu.log" >&2
    echo "[$VM_NAME] --- last 40 lines of guest console ($VM_CONSOLE) ---" >&2
    tail -n 40 "$VM_CONSOLE" | sed 's/^/    | /' >&2
}

# vm_qmp [--wait-event EV[:DEV]]... CMD...: run QMP commands (see qmp.py).
vm_qmp() {
    python3 "$VM_LIBDIR/qmp.py" "$VM_QMP" "$@"
}

# vm_wait_guest NAME [TIMEOUT]: wait for the guest's guest_signal_host NAME.
vm_wait_guest() {
    local name=$1 t=${2:-$VM_TIMEOUT} i=0
    while [ ! -e "$VM_SHARE/sync/$name.guest" ]; do
        if ! kill -0 "$VM_PID" 2>/dev/null; then
            vm_wait
            vm_fail "guest exited before signalling '$name'"
        fi
        i=$((i + 1))
        [ "$i" -ge $((t * 10)) ] && { _vm_dump; vm_fail "TIMEOUT waiting for guest signal '$name'"; }
        sleep 0.1
    done
}
# vm_signal_guest NAME: release the guest's guest_wait_host NAME.
vm_signal_guest() { : >"$VM_SHARE/sync/$1.host"; }

# vm_expect ACTUAL_FILE [LABEL] <<EOF: ACTUAL_FILE must equal stdin exactly
# (after sorting both; blank lines and '#' lines in stdin ignored). On a
# mismatch it prints the diff, returns 1 and makes vm_pass fail.
vm_expect() {
    local actual=$1 label=${2:-$(basename "$1")}
    [ -e "$actual" ] || vm_fail "$label: $actual missing"
    grep -v -e '^[[:space:]]*$' -e '^[[:space:]]*#' | LC_ALL=C sort >"$actual.expected"
    LC_ALL=C sort "$actual" >"$actual.sorted"
    if ! diff -u "$actual.expected" "$actual.sorted" >"$actual.diff"; then
        echo "[$VM_NAME] $label differs from the configuration (- expected, + kernel view):" >&2
        sed 's/^/    /' "$actual.diff" >&2
        # keep going so that every mismatch is shown; vm_pass fails
        VM_MISMATCHES+=("$label")
        return 1
    fi
    vm_log "$label matches ($(wc -l <"$actual.sorted") lines)"
}

# vm_check_pattern IMAGE OFFSET BYTES SEED: the image holds pattern_gen SEED
# BYTES at byte OFFSET, and the 4 KiB just before and after are zero.
vm_check_pattern() {
    local img=$1 off=$2 len=$3 seed=$4
    cmp <(pattern_gen "$seed" "$len") \
        <(dd if="$img" bs=1M iflag=skip_bytes,count_bytes skip="$off" count="$len" status=none) ||
        vm_fail "$img: pattern $seed not found at offset $off"
    local before=$((off < 4096 ? off : 4096))
    cmp -n "$before" /dev/zero \
        <(dd if="$img" bs=4096 iflag=skip_bytes,count_bytes skip=$((off - before)) count="$before" status=none) ||
        vm_fail "$img: unexpected data before offset $off"
    cmp -n 4096 /dev/zero \
        <(dd if="$img" bs=4096 iflag=skip_bytes,count_bytes skip=$((off + len)) count=4096 status=none) ||
        vm_fail "$img: unexpected data after offset $((off + len))"
    vm_log "$(basename "$img"): $len bytes of pattern '$seed' at offset $off verified"
}

# vm_check_stamps IMAGE LEN BLOCK_SIZE WHAT: every block of the first LEN
# bytes holds the stamp `orionstor bench --verify` writes (its magic, its
# own LBA, a sequence number, the pattern of both): each write landed
# where it was meant to, whole.
vm_check_stamps() {
    local img=$1 len=$2 bs=$3 what=$4
    python3 - "$img" "$len" "$bs" <<'PY' || vm_fail "$img: $what: blocks without their bench stamp"
import struct, sys
img, length, bs = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
bad = []
with open(img, "rb") as f:
    data = f.read(length)
for lba in range(length // bs):
    b = data[lba * bs:(lba + 1) * bs]
    magic, l, seq = struct.unpack_from("<QQI", b)
    ok = magic == 0x48434e4542524f53 and l == lba and seq != 0 and \
        all(b[i] == (lba * 7 + seq * 13 + i) & 0xff for i in range(20, bs))
    if not ok:
        bad.append(lba)
if bad:
    print("blocks without their stamp: %d, first %s" % (len(bad), bad[:8]))
    sys.exit(1)
PY
    vm_log "$(basename "$img"): $what: $((len / bs)) blocks stamped with their own LBA"
}

# vm_check_ext4_tree IMAGE [TREE]: after nbd_ext4_tree in the guest: e2fsck
# -fn of IMAGE is clean and the /tree debugfs extracts equals TREE
# (default: the source tree's lib/).
vm_check_ext4_tree() {
    local img=$1 tree=${2:-$ORIONSTOR_SRCDIR/lib}
    e2fsck -fn "$img" >"$VM_WORK/host-fsck.out" 2>&1 ||
        { cat "$VM_WORK/host-fsck.out"; vm_fail "host e2fsck -fn of the image"; }
    rm -rf "$VM_WORK/extract"; mkdir -p "$VM_WORK/extract"
    debugfs -R "rdump /tree $VM_WORK/extract" "$img" >"$VM_WORK/debugfs.out" 2>&1 ||
        { cat "$VM_WORK/debugfs.out"; vm_fail "debugfs rdump"; }
    diff -r "$tree" "$VM_WORK/extract/tree" >"$VM_WORK/diff.out" 2>&1 ||
        { head -50 "$VM_WORK/diff.out"; vm_fail "the files on the image differ from the originals"; }
    vm_log "$(basename "$img"): ext4 clean, $(find "$tree" -type f | wc -l) files equal the originals"
}
