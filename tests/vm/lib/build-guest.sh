#!/bin/bash
# Build (or reuse) the QEMU guest: a Debian kernel and a small busybox
# initramfs, cached outside the source tree.
#
#   bash tests/vm/lib/build-guest.sh          # build if needed, print the env
#   . tests/vm/lib/build-guest.sh             # same, and export VM_* vars
#
# Cache dir: ${ORIONSTOR_VM_CACHE:-/var/tmp/orionstor-vm-cache}
#   kernel/<pkg>_<version>/      dpkg -x of the kernel package + depmod
#   initramfs-<hash>.cpio        busybox-static + /init + 9p/virtio modules
# The kernel is re-extracted only when the archive's linux-image-amd64 points
# at a new package/version; the initramfs only when its inputs change.
#
# Override the kernel with ORIONSTOR_VM_KERNEL_PKG=linux-image-X.Y.Z-N-amd64.
# Exports: VM_CACHE VM_KERNEL VM_INITRD VM_KROOT VM_KVER

vm_build_guest() {
    local cache=${ORIONSTOR_VM_CACHE:-/var/tmp/orionstor-vm-cache}
    local libdir
    libdir=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd) || return 1
    mkdir -p "$cache/kernel" || return 1

    # Serialise concurrent builders (tests may run in parallel).
    local lockfd
    exec {lockfd}>"$cache/.lock" || return 1
    flock "$lockfd" || return 1
    _vm_build_guest_locked "$cache" "$libdir"
    local rc=$?
    exec {lockfd}>&-
    return $rc
}

_vm_die() { echo "build-guest: $*" >&2; return 1; }

_vm_build_guest_locked() {
    local cache=$1 libdir=$2
    local pkg ver kdir

    pkg=${ORIONSTOR_VM_KERNEL_PKG:-}
    if [ -z "$pkg" ]; then
        pkg=$(apt-cache depends linux-image-amd64 2>/dev/null |
              awk '/Depends: linux-image-[0-9]/ {print $2; exit}')
    fi
    if [ -n "$pkg" ]; then
        ver=$(apt-cache show --no-all-versions "$pkg" 2>/dev/null |
              awk '/^Version:/ {print $2; exit}')
    fi
    if [ -n "$pkg" ] && [ -n "$ver" ]; then
        kdir=$cache/kernel/${pkg}_${ver}
    else
        # No package lists (offline?): fall back to the newest cached kernel.
        kdir=$(ls -d "$cache"/kernel/*/ 2>/dev/null | sort -V | tail -n 1)
        kdir=${kdir%/}
        [ -n "$kdir" ] && [ -e "$kdir/.done" ] ||
            _vm_die "cannot resolve the guest kernel package (apt-cache depends linux-image-amd64 failed) and no cached kernel in $cache/kernel; run tests/vm/install-deps.sh" || return 1
        echo "build-guest: apt metadata unavailable, using cached $kdir" >&2
    fi

    if [ ! -e "$kdir/.done" ]; then
        echo "build-guest: fetching $pkg $ver into $kdir" >&2
        command -v depmod >/dev/null || _vm_die "depmod not found (install kmod)" || return 1
        local dl
        dl=$(mktemp -d "$cache/dl.XXXXXX") || return 1
        chmod 755 "$dl"
        ( cd "$dl" && apt-get download -q "$pkg=$ver" ) >"$dl/log" 2>&1 ||
            { cat "$dl/log" >&2; rm -rf "$dl"; _vm_die "apt-get download $pkg=$ver failed"; return 1; }
        rm -rf "$kdir.tmp"
        mkdir -p "$kdir.tmp"
        dpkg -x "$dl"/*.deb "$kdir.tmp" ||
            { rm -rf "$dl" "$kdir.tmp"; _vm_die "dpkg -x failed"; return 1; }
        rm -rf "$dl"
        # Debian 12 ships lib/modules; later releases usr/lib/modules.
        if [ ! -d "$kdir.tmp/lib/modules" ] && [ -d "$kdir.tmp/usr/lib/modules" ]; then
            ln -s usr/lib "$kdir.tmp/lib"
        fi
        local kv
        kv=$(ls "$kdir.tmp/lib/modules" | head -n 1)
        [ -n "$kv" ] && [ -e "$kdir.tmp/boot/vmlinuz-$kv" ] ||
            { rm -rf "$kdir.tmp"; _vm_die "unexpected kernel package layout"; return 1; }
        depmod -b "$kdir.tmp" "$kv" ||
            { rm -rf "$kdir.tmp"; _vm_die "depmod failed"; return 1; }
        touch "$kdir.tmp/.done"
        rm -rf "$kdir"
        mv "$kdir.tmp" "$kdir"
    fi

    local kver
    kver=$(ls "$kdir/lib/modules" | head -n 1)
    VM_CACHE=$cache
    VM_KROOT=$kdir
    VM_KVER=$kver
    VM_KERNEL=$kdir/boot/vmlinuz-$kver

    # ---- initramfs ----
    local busybox=/bin/busybox
    [ -x "$busybox" ] || _vm_die "$busybox not found (install busybox-static)" || return 1
    if ldd "$busybox" >/dev/null 2>&1; then
        _vm_die "$busybox is dynamically linked (install busybox-static)"; return 1
    fi
    # Modules needed to reach the host root over 9p. Everything else is
    # loaded later from $VM_KROOT (visible in the guest through 9p).
    local mods="virtio_pci 9pnet_virtio 9p"
    local deps m
    deps=$(for m in $mods; do
               modprobe -C /dev/null -d "$kdir" -S "$kver" --show-depends "$m" ||
                   exit 1
           done | awk '$1 == "insmod" {print $2}' | awk '!seen[$0]++') ||
        _vm_die "modprobe --show-depends failed" || return 1

    local key
    key=$( { echo "$kver $kdir"; echo "$deps"; cat "$libdir/init";
             sha256sum "$busybox"; } | sha256sum | cut -c1-16)
    VM_INITRD=$cache/initramfs-$key.cpio
    if [ ! -e "$VM_INITRD" ]; then
        echo "build-guest: building $VM_INITRD" >&2
        local root
        root=$(mktemp -d "$cache/initramfs.XXXXXX") || return 1
        mkdir -p "$root"/{bin,dev,proc,sys,newroot,mods}
        cp "$busybox" "$root/bin/busybox"
        cp "$libdir/init" "$root/init"
        chmod 755 "$root/init"
        local f base n=0
        : >"$root/mods/order"
        for f in $deps; do
            n=$((n + 1))
            base=$(printf '%02d-%s' "$n" "$(basename "$f")")
            case $f in
                *.ko.xz)  xz -dc "$f" >"$root/mods/${base%.xz}"; base=${base%.xz} ;;
                *.ko.zst) zstd -qdc "$f" >"$root/mods/${base%.zst}"; base=${base%.zst} ;;
                *.ko.gz)  gzip -dc "$f" >"$root/mods/${base%.gz}"; base=${base%.gz} ;;
                *)        cp "$f" "$root/mods/$base" ;;
            esac || { rm -rf "$root"; _vm_die "cannot unpack $f"; return 1; }
            echo "$base" >>"$root/mods/order"
        done
        ( cd "$root" && find . | LC_ALL=C sort | busybox cpio -o -H newc 2>/dev/null ) \
            >"$VM_INITRD.tmp" ||
            { rm -rf "$root" "$VM_INITRD.tmp"; _vm_die "cpio failed"; return 1; }
        rm -rf "$root"
        mv "$VM_INITRD.tmp" "$VM_INITRD"
        # drop initramfs images built from older inputs
        find "$cache" -maxdepth 1 -name 'initramfs-*.cpio' ! -name "${VM_INITRD##*/}" \
            -mmin +60 -delete 2>/dev/null
    fi
    export VM_CACHE VM_KERNEL VM_INITRD VM_KROOT VM_KVER
}

if [ "${BASH_SOURCE[0]}" = "$0" ]; then
    vm_build_guest || exit 1
    echo "VM_KERNEL=$VM_KERNEL"
    echo "VM_INITRD=$VM_INITRD"
    echo "VM_KROOT=$VM_KROOT"
    echo "VM_KVER=$VM_KVER"
fi
