# shellcheck shell=bash
# Helpers for guest scripts (bash). Sourced automatically before guest.sh
# runs inside the guest; also sourced on the host by vm.sh (pattern_gen).
#
# Environment in the guest (from /run/vm/env.sh):
#   VM_KROOT          extracted kernel package (modules under lib/modules)
#   ORIONSTOR_SRCDIR  source tree (visible read-only at the same path)
#   ORIONSTOR_BUILDDIR build tree (built binaries, same path as on the host)
#   VM_SHARE=/run/vm  writable share; files written here reach the host

VM_SHARE=${VM_SHARE:-/run/vm}
# ORIONSTOR_T_PIPELINE (on the host): the guest's ORIONSTOR_USB_PIPELINE,
# e.g. cbw to run a USB test with the command block queued with the reads,
# 0 for one phase at a time.
if [ -n "${ORIONSTOR_T_PIPELINE:-}" ]; then export ORIONSTOR_USB_PIPELINE=$ORIONSTOR_T_PIPELINE; fi

log() { echo "guest: $*"; }
fail() { echo "guest: FAIL: $*"; exit 1; }

# wait_for TIMEOUT_SECONDS COMMAND...: poll COMMAND every 0.1 s.
wait_for() {
    local t=$1 i=0; shift
    while ! "$@"; do
        i=$((i + 1))
        [ "$i" -ge $((t * 10)) ] && return 1
        sleep 0.1
    done
}

# ---------------------------------------------------------------- modules
# load_modules 'MOD [param=val...]' ...   e.g. load_modules virtio_scsi sg \
#     'usb-storage delay_use=0'. Only what is asked for (plus dependencies) is
# loaded: the kernel's virtio_scsi / usb-storage stay out unless requested.
load_modules() {
    local spec
    for spec in "$@"; do
        # shellcheck disable=SC2086
        modprobe -C /dev/null -d "$VM_KROOT" $spec ||
            fail "modprobe $spec"
    done
}

unload_modules() {
    modprobe -C /dev/null -d "$VM_KROOT" -r "$@" || fail "modprobe -r $*"
}

# -------------------------------------------------------------------- USB
_usb_dev_count() {
    local d n=0
    for d in /sys/bus/usb/devices/*; do
        case ${d##*/} in usb*|*:*) continue ;; esac
        [ -e "$d/idVendor" ] && n=$((n + 1))
    done
    echo "$n"
}
# wait_usb N [TIMEOUT]: wait until N USB devices (root hubs not counted) are
# enumerated.
wait_usb() {
    local n=$1 t=${2:-30}
    wait_for "$t" eval '[ "$(_usb_dev_count)" -ge "$n" ]' ||
        fail "only $(_usb_dev_count) of $n USB devices enumerated after ${t}s"
}

# ------------------------------------------------------------------- SCSI
# _hba_name HOSTNUM: the SCSI host's proc_name (virtio_scsi, usb-storage),
# or the name of the driver of its parent device when proc_name is unset
# (uas).
_hba_name() {
    local n
    n=$(<"/sys/class/scsi_host/host$1/proc_name")
    if [ -z "$n" ] || [ "$n" = "(null)" ]; then
        n=$(readlink "/sys/class/scsi_host/host$1/device/../driver")
        n=${n##*/}
    fi
    echo "${n:-unknown}"
}
_scsi_count() {
    local d n=0 h
    for d in /sys/class/scsi_device/*; do
        [ -e "$d" ] || continue
        if [ -n "$1" ]; then
            h=${d##*/}; h=${h%%:*}
            [ "$(_hba_name "$h")" = "$1" ] || continue
        fi
        n=$((n + 1))
    done
    echo "$n"
}
# wait_scsi_devices N [TIMEOUT] [HBA_PROC_NAME]: wait for N SCSI devices
# (of that HBA, see _hba_name: virtio_scsi, usb-storage, uas) and their sg
# nodes.
wait_scsi_devices() {
    local n=$1 t=${2:-30} hba=${3:-}
    wait_for "$t" eval '[ "$(_scsi_count "$hba")" -ge "$n" ]' ||
        fail "only $(_scsi_count "$hba") of $n SCSI devices ${hba:+($hba) }after ${t}s"
    local d
    for d in /sys/class/scsi_device/*; do
        [ -e "$d/device/scsi_generic" ] || continue
        wait_for 10 eval "[ -c /dev/\$(ls $d/device/scsi_generic) ]" ||
            fail "no /dev node for sg of ${d##*/}"
    done
}
# wait_scsi_gone HCTL [TIMEOUT]
wait_scsi_gone() {
    wait_for "${2:-30}" eval "[ ! -e /sys/class/scsi_device/$1 ]" ||
        fail "SCSI device $1 still present after ${2:-30}s"
}

# wait_medium H:C:T:L [TIMEOUT]: wait until TEST UNIT READY succeeds
# (medium present; unit attentions consumed).
wait_medium() {
    local sg
    sg=$(sg_of "$1")
    wait_for "${2:-30}" sg_turs "$sg" >/dev/null 2>&1 ||
        fail "no medium in $1 ($sg) after ${2:-30}s"
}

# hctl_by_serial SERIAL: H:C:T:L of the device whose unit serial is SERIAL.
hctl_by_serial() {
    local d s f
    for d in /sys/class/scsi_device/*; do
        s=
        if [ -r "$d/device/vpd_pg80" ]; then
            # 4-byte VPD header, then the serial
            s=$(tail -c +5 "$d/device/vpd_pg80" | tr -d '\0')
            s=$(_trim_us "$s")
        else
            for f in "$d"/device/scsi_generic/sg*; do
                [ -e "$f" ] && s=$(_trim_us "$(_unit_serial "/dev/${f##*/}")")
            done
        fi
        [ "$s" = "$1" ] && { echo "${d##*/}"; return 0; }
    done
    return 1
}
# sg_of HCTL -> /dev/sgN ; blk_of HCTL -> /dev/sdX (waits up to 10 s)
sg_of() { echo "/dev/$(ls "/sys/class/scsi_device/$1/device/scsi_generic")"; }
blk_of() {
    wait_for 10 eval "[ -d /sys/class/scsi_device/$1/device/block ]" || return 1
    local b
    b=$(ls "/sys/class/scsi_device/$1/device/block")
    wait_for 10 eval "[ -b /dev/$b ]" || return 1
    echo "/dev/$b"
}
# dev_by_serial SERIAL -> /dev/sdX
dev_by_serial() {
    local h
    h=$(hctl_by_serial "$1") || fail "no SCSI device with serial $1"
    blk_of "$h" || fail "no block device for serial $1 ($h)"
}

# _sg_retry CMD...: retry an sg3_utils command (clears unit attentions such
# as power-on/reset that the first command after attach sees without sd).
_sg_retry() {
    local i out
    for i in 1 2 3 4 5; do
        out=$("$@" 2>/dev/null) && { echo "$out"; return 0; }
    done
    return 1
}

# _readcap SG: "0xBLOCKS 0xBLOCK_SIZE" (sg_readcap switches to READ
# CAPACITY(16) by itself when the capacity needs it); empty on failure.
_readcap() {
    local i cap rc
    for i in 1 2 3 4 5; do
        rc=0
        cap=$(sg_readcap -b "$1" 2>/dev/null) || rc=$?
        cap=${cap##*$'\n'}
        case $rc:$cap in
            0:0x*" "0x*) [ "${cap##* }" != 0x0 ] && { echo "$cap"; return 0; } ;;
            2:*) return 1 ;;    # NOT READY (no medium): no point retrying
        esac
        sleep 0.2
    done
    return 1
}

_unit_serial() {
    sg_inq -p 0x80 "$1" 2>/dev/null |
        sed -n 's/^ *Unit serial number: *//p' | head -n 1
}

# _usb_info HOSTNUM: "hcd-driver/speed" of the USB device behind a SCSI host
_usb_info() {
    local p drv='' speed='?' sub
    p=$(readlink -f "/sys/class/scsi_host/host$1")
    while [ -n "$p" ] && [ "$p" != / ]; do
        if [ "$speed" = "?" ] && [ -e "$p/speed" ] && [ -e "$p/idVendor" ]; then
            speed=$(<"$p/speed")
        fi
        if [ -e "$p/subsystem" ]; then
            sub=$(readlink "$p/subsystem")
            if [ "${sub##*/}" = pci ]; then
                drv=$(readlink "$p/driver"); drv=${drv##*/}
                break
            fi
        fi
        p=${p%/*}
    done
    echo "${drv:-?}/$speed"
}

# oracle_scsi [HBA_PROC_NAME]: the kernel's view of every SCSI device, one
# line each, sorted:
#   HBA [usb=HCD/SPEED] tgt=T lun=L type=PDT VENDOR/PRODUCT serial=S rmb=R
#       wp=W bs=BLOCK_SIZE blocks=N
# from sysfs (host driver, USB topology, H:C:T:L, type) and sg3_utils over
# /dev/sg* (sg_inq, sg_readcap, sg_modes). blocks=nomedium when READ
# CAPACITY fails, wp=- when the MODE SENSE header has no WP bit (e.g. MMC),
# serial=none without a unit serial number. When sd_mod has a block device,
# its sysfs size / logical_block_size / ro must agree, else the line gets
# "MISMATCH(...)". Needs the sg module. (Kept to few execs: every program
# start goes through 9p under TCG.)
oracle_scsi() {
    local filter=${1:-} d hctl h c t l proc dev sg line f re
    local inq vendor product rmb serial cap blocks bs wp
    for d in /sys/class/scsi_device/*; do
        [ -e "$d" ] || continue
        hctl=${d##*/}
        IFS=: read -r h c t l <<<"$hctl"
        proc=$(_hba_name "$h")
        [ -n "$filter" ] && [ "$proc" != "$filter" ] && continue
        dev=$d/device
        line=$proc
        case $proc in usb-storage|uas) line="$line usb=$(_usb_info "$h")" ;; esac
        line="$line tgt=$t lun=$l type=$(<"$dev/type")"
        sg=
        for f in "$dev"/scsi_generic/sg*; do [ -e "$f" ] && sg=/dev/${f##*/}; done
        if [ -z "$sg" ]; then
            echo "$line sg=none"; continue
        fi
        inq=$(sg_inq "$sg" 2>&1)
        vendor=; product=; rmb=; serial=
        re='Vendor identification: ([^'$'\n'']*)'; [[ $inq =~ $re ]] && vendor=${BASH_REMATCH[1]}
        re='Product identification: ([^'$'\n'']*)'; [[ $inq =~ $re ]] && product=${BASH_REMATCH[1]}
        re='Unit serial number: ([^'$'\n'']*)'; [[ $inq =~ $re ]] && serial=${BASH_REMATCH[1]}
        re='RMB=([01])'; [[ $inq =~ $re ]] && rmb=${BASH_REMATCH[1]}
        vendor=$(_trim_us "$vendor"); product=$(_trim_us "$product")
        serial=$(_trim_us "$serial")
        # Clear pending unit attentions (power-on/reset) first; sd does
        # this too, but sd may not be loaded.
        sg_turs -n 3 "$sg" >/dev/null 2>&1
        if cap=$(_readcap "$sg"); then
            blocks=$(( ${cap%% *} )); bs=$(( ${cap##* } ))
        else
            blocks=nomedium; bs=nomedium
        fi
        wp=
        re='WP=([01])'; [[ $(_sg_retry sg_modes "$sg") =~ $re ]] && wp=${BASH_REMATCH[1]}
        line="$line $vendor/$product serial=${serial:-none} rmb=${rmb:-?} wp=${wp:--} bs=$bs blocks=$blocks"
        for f in "$dev"/block/*; do
            [ -e "$f" ] || continue
            local b=${f##*/} kbs kblocks kro
            # sd revalidates removable media on open only
            [ "$rmb" = 1 ] && blockdev --getsize64 "/dev/$b" >/dev/null 2>&1
            kbs=$(<"/sys/block/$b/queue/logical_block_size")
            kblocks=$(( $(<"/sys/block/$b/size") * 512 / kbs ))
            kro=$(<"/sys/block/$b/ro")
            if [ "$blocks" = nomedium ]; then
                [ "$kblocks" = 0 ] ||
                    line="$line MISMATCH(sysfs:$b:blocks=$kblocks)"
            elif [ "$kbs" != "$bs" ] || [ "$kblocks" != "$blocks" ] || [ "$kro" != "${wp:-1}" ]; then
                line="$line MISMATCH(sysfs:$b:bs=$kbs,blocks=$kblocks,ro=$kro)"
            fi
        done
        echo "$line"
    done | LC_ALL=C sort
}

# _trim_us STRING: strip surrounding blanks, inner blanks -> '_'
_trim_us() {
    local x=$1
    x=${x#"${x%%[![:space:]]*}"}; x=${x%"${x##*[![:space:]]}"}
    echo "${x// /_}"
}

# oracle_luns [HBA_PROC_NAME]: REPORT LUNS (sg_luns) per target, one line
# each: "HBA [usb=..] tgt=T luns=L1,L2,..." (sorted).
oracle_luns() {
    local filter=${1:-} d hctl h c t l proc key seen=" " luns line
    for d in /sys/class/scsi_device/*; do
        [ -e "$d/device/scsi_generic" ] || continue
        hctl=${d##*/}
        IFS=: read -r h c t l <<<"$hctl"
        key="$h:$c:$t"
        case $seen in *" $key "*) continue ;; esac
        seen="$seen$key "
        proc=$(_hba_name "$h")
        [ -n "$filter" ] && [ "$proc" != "$filter" ] && continue
        luns=$(sg_luns -q "$(sg_of "$hctl")" 2>/dev/null |
               while read -r x; do echo $(( 0x${x:0:4} & 0x3fff )); done |
               sort -n | paste -sd, -)
        line=$proc
        case $proc in usb-storage|uas) line="$line usb=$(_usb_info "$h")" ;; esac
        echo "$line tgt=$t luns=${luns:-error}"
    done | LC_ALL=C sort
}

# ------------------------------------------------------ FunctionFS gadgets
# ffs_setup N: configfs, FunctionFS and dummy_hcd with N UDCs; prints the
# UDC names, one a line.
ffs_setup() {
    load_modules configfs libcomposite usb_f_fs "dummy_hcd num=$1"
    mountpoint -q /sys/kernel/config || mount -t configfs none /sys/kernel/config ||
        fail "mount configfs"
    [ "$(ls /sys/class/udc | wc -l)" -ge "$1" ] || fail "dummy_hcd num=$1: too few UDCs"
    ls /sys/class/udc
}
# ffs_gadget NAME PRODUCT_ID SERIAL UDC PROGRAM IMAGE [PROGRAM_ARGS...]: a
# configfs gadget VID:PRODUCT_ID (VID: $FFS_VID, default 1d6b, the Linux
# Foundation) with one FunctionFS function served by
# PROGRAM (tests/vm/ffs-*-device) on IMAGE, bound to UDC.  The program's
# stderr goes to /run/vm/dev-NAME.log, its pid to FFS_PID[NAME] (declare
# -A FFS_PID first; ffs_stop NAME ends it).
ffs_gadget() {
    local name=$1 pid=$2 serial=$3 udc=$4 prog=$5 img=$6; shift 6
    local G=/sys/kernel/config/usb_gadget/$name M=/run/ffs/$name
    [ -x "$prog" ] || fail "$prog not built"
    mkdir $G || fail "mkdir $G"
    echo "${FFS_VID:-0x1d6b}" >$G/idVendor
    echo "$pid" >$G/idProduct
    mkdir $G/strings/0x409
    echo orionstor >$G/strings/0x409/manufacturer
    echo "FunctionFS $name" >$G/strings/0x409/product
    echo "$serial" >$G/strings/0x409/serialnumber
    mkdir $G/configs/c.1 $G/functions/ffs.$name || fail "ffs function $name"
    mkdir -p $M
    mount -t functionfs "$name" $M || fail "mount functionfs $name"
    # (stdout too: a program holding the guest log open would keep the
    # guest from finishing)
    "$prog" "$@" $M "$img" >/dev/null 2>/run/vm/dev-$name.log &
    FFS_PID[$name]=$!
    wait_for 10 test -e $M/ep2 ||
        fail "$name: FunctionFS endpoints missing: $(cat /run/vm/dev-$name.log)"
    ln -s $G/functions/ffs.$name $G/configs/c.1/ || fail "link $name"
    echo "$udc" >$G/UDC || fail "bind $name to $udc"
}
# ffs_stop NAME: SIGTERM the device program, check its exit status, print
# its last line (the counters) and keep it in /run/vm/counters-NAME.
ffs_stop() {
    kill "${FFS_PID[$1]}"
    wait "${FFS_PID[$1]}" || fail "$1: device program exit status $?"
    tail -n 1 /run/vm/dev-$1.log | tee /run/vm/counters-$1
    grep -q "endpoint timeouts" /run/vm/counters-$1 || fail "$1: no counters: $(tail /run/vm/dev-$1.log)"
}
# usb_intf_of_serial SERIAL: the first interface (e.g. 1-1:1.0) of the USB
# device with that iSerial
usb_intf_of_serial() {
    local d
    for d in /sys/bus/usb/devices/*; do
        [ "$(cat "$d/serial" 2>/dev/null)" = "$1" ] || continue
        echo "${d##*/}:1.0"
        return 0
    done
    return 1
}

# -------------------------------------------------------------------- PCI
# find_pci VENDOR DEVICE: BDFs of matching PCI functions (hex, no 0x)
find_pci() {
    local d
    for d in /sys/bus/pci/devices/*; do
        [ "$(cat "$d/vendor")" = "0x$1" ] && [ "$(cat "$d/device")" = "0x$2" ] &&
            echo "${d##*/}"
    done
}
# pci_driver BDF: name of the bound driver (empty if none)
pci_driver() {
    [ -e "/sys/bus/pci/devices/$1/driver" ] &&
        basename "$(readlink "/sys/bus/pci/devices/$1/driver")"
    return 0
}
# bind_uio BDF: unbind the current driver, bind uio_pci_generic; prints
# /dev/uioN.
bind_uio() {
    local bdf=$1 d=/sys/bus/pci/devices/$1 u
    [ -e "$d" ] || fail "no PCI device $bdf"
    [ -d /sys/bus/pci/drivers/uio_pci_generic ] || load_modules uio_pci_generic
    [ -e "$d/driver" ] && { echo "$bdf" >"$d/driver/unbind" || fail "unbind $bdf"; }
    echo uio_pci_generic >"$d/driver_override" || fail "driver_override $bdf"
    echo "$bdf" >/sys/bus/pci/drivers_probe
    [ "$(pci_driver "$bdf")" = uio_pci_generic ] || fail "uio_pci_generic did not bind $bdf"
    wait_for 10 eval "ls $d/uio 2>/dev/null | grep -q uio" || fail "no uio node for $bdf"
    u=$(ls "$d/uio" | head -n 1)
    wait_for 10 eval "[ -c /dev/$u ]" || fail "/dev/$u missing"
    echo "/dev/$u"
}
# bind_ours BDF: hand a virtio-scsi function to our driver's kernel side:
# vfio-pci when the test runs with T_VIRTIO_DRIVER=vfio-pci (see vm.sh),
# else uio_pci_generic (bind_uio).
bind_ours() {
    local bdf=$1 d=/sys/bus/pci/devices/$1
    if [ "${ORIONSTOR_T_VIRTIO_DRIVER:-}" != vfio-pci ]; then
        bind_uio "$bdf"
        return
    fi
    [ -d /sys/bus/pci/drivers/vfio-pci ] || load_modules vfio-pci
    [ -e "$d/driver" ] && { echo "$bdf" >"$d/driver/unbind" || fail "unbind $bdf"; }
    echo vfio-pci >"$d/driver_override" || fail "driver_override $bdf"
    echo "$bdf" >/sys/bus/pci/drivers_probe
    [ "$(pci_driver "$bdf")" = vfio-pci ] || fail "vfio-pci did not bind $bdf"
    echo "/dev/vfio/$(basename "$(readlink "$d/iommu_group")")"
}
# unbind_uio BDF [REBIND]: release from uio_pci_generic; with REBIND=1 let
# the default driver (e.g. virtio-pci) probe it again.
unbind_uio() {
    local bdf=$1 d=/sys/bus/pci/devices/$1
    [ "$(pci_driver "$bdf")" = uio_pci_generic ] &&
        { echo "$bdf" >/sys/bus/pci/drivers/uio_pci_generic/unbind || fail "unbind $bdf"; }
    echo >"$d/driver_override"
    [ "${2:-0}" = 1 ] && echo "$bdf" >/sys/bus/pci/drivers_probe
    return 0
}

# ------------------------------------------------------------- hugepages
# reserve_hugepages N [MOUNTPOINT]: reserve N default-size huge pages and
# mount hugetlbfs (default /dev/hugepages).
reserve_hugepages() {
    local n=$1 mp=${2:-/dev/hugepages} got
    echo "$n" >/proc/sys/vm/nr_hugepages || fail "nr_hugepages"
    got=$(cat /proc/sys/vm/nr_hugepages)
    [ "$got" -ge "$n" ] || fail "only $got of $n hugepages reserved"
    mkdir -p "$mp"
    mountpoint -q "$mp" || mount -t hugetlbfs nodev "$mp" || fail "mount hugetlbfs"
}

# ------------------------------------------------------------ host sync
# guest_signal_host NAME / guest_wait_host NAME [TIMEOUT]: rendezvous with
# vm_wait_guest / vm_signal_guest on the host through the share.
guest_signal_host() { mkdir -p "$VM_SHARE/sync"; : >"$VM_SHARE/sync/$1.guest"; sync; }
guest_wait_host() {
    wait_for "${2:-60}" test -e "$VM_SHARE/sync/$1.host" ||
        fail "host did not signal '$1' within ${2:-60}s"
}

# --------------------------------------------------------- data pattern
# pattern_gen SEED BYTES: deterministic data (32-byte records), same output
# on host and guest; BYTES must be a multiple of 32.
pattern_gen() {
    awk -v s="$1" -v n=$(( $2 / 32 )) \
        'BEGIN { for (i = 0; i < n; i++) printf "orionstor %-10.10s %010d\n", s, i }'
}

# ------------------------------------------------------------ nbdkit / NBD
# Used by the t-nbdkit-*.sh tests: our plugin (build tree) in nbdkit on a
# Unix socket, the kernel's NBD client on top.
NBD_SOCK=/run/nbd.sock
NBD_PIDFILE=/run/nbdkit.pid
NBD_URI="nbd+unix:///?socket=$NBD_SOCK"
# nbdkit_start SPEC [PARAM=VALUE...]: start nbdkit with the plugin on
# device=SPEC (its log in $VM_SHARE/nbdkit.err), wait for the socket, list
# the exports (in $VM_SHARE/nbdinfo).
nbdkit_start() {
    local p=$ORIONSTOR_BUILDDIR/plugins/nbdkit/.libs/nbdkit-orionstor-plugin.so spec=$1; shift
    [ -f "$p" ] || fail "plugin not built: $p"
    export LD_LIBRARY_PATH=$ORIONSTOR_BUILDDIR/lib/.libs${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}
    rm -f "$NBD_SOCK" "$NBD_PIDFILE"
    # In the foreground of a background job: a daemon's errors would go to
    # syslog, these go to the share.
    nbdkit -f --log=stderr -U "$NBD_SOCK" -P "$NBD_PIDFILE" "$p" device="$spec" "$@" \
        2>"$VM_SHARE/nbdkit.err" &
    wait_for 20 test -S "$NBD_SOCK" || { cat "$VM_SHARE/nbdkit.err"; fail "nbdkit did not start"; }
    wait_for 10 test -s "$NBD_PIDFILE" || fail "no nbdkit pid file"
    nbdinfo --list "$NBD_URI" | tee "$VM_SHARE/nbdinfo" || fail "nbdinfo --list"
}
nbdkit_pid() { cat "$NBD_PIDFILE"; }
# nbdkit_stop: SIGTERM, wait (10 s) until it exited (its unload flushes).
nbdkit_stop() {
    local pid; pid=$(nbdkit_pid)
    kill "$pid" || fail "kill nbdkit"
    wait_for 10 eval "! kill -0 $pid 2>/dev/null" || fail "nbdkit did not exit"
    cat "$VM_SHARE/nbdkit.err"
}
# nbd_ext4_tree [TREE]: attach /dev/nbd0 to the running nbdkit,
# mkfs.ext4, mount, copy TREE (default: the source tree's lib/) to /tree,
# unmount, e2fsck -fn clean, detach. vm_check_ext4_tree checks the image.
nbd_ext4_tree() {
    local tree=${1:-$ORIONSTOR_SRCDIR/lib} rc
    nbd-client -N 0:0 -u "$NBD_SOCK" /dev/nbd0 -b 512 || fail "nbd-client attach"
    cat /sys/block/nbd0/size
    mkfs.ext4 -q -F /dev/nbd0 || fail "mkfs.ext4"
    mkdir -p /run/mnt
    mount -t ext4 /dev/nbd0 /run/mnt || fail "mount"
    cp -a "$tree" /run/mnt/tree || fail "copy the tree"
    du -s /run/mnt/tree
    umount /run/mnt || fail "umount"
    e2fsck -fn /dev/nbd0 >"$VM_SHARE/fsck.out" 2>&1; rc=$?
    cat "$VM_SHARE/fsck.out"
    [ $rc = 0 ] || fail "e2fsck -fn over NBD: exit $rc"
    nbd-client -d /dev/nbd0 || fail "nbd-client -d"
}
