#!/bin/bash
# Install what `make check-vm` needs on a fresh Debian 12 machine, then
# fetch and prepare the guest kernel + initramfs (cached, see
# lib/build-guest.sh). Idempotent and quiet: prints one line on success,
# the log on failure. Needs root (or sudo) for apt-get.
set -u
here=$(cd "$(dirname "$0")" && pwd)
pkgs="qemu-system-x86 qemu-utils busybox-static kmod sg3-utils smartmontools python3 fio
      coreutils util-linux diffutils xz-utils zstd strace
      nbdkit nbdkit-plugin-dev libnbd-bin python3-libnbd nbd-client e2fsprogs"
SUDO=
[ "$(id -u)" = 0 ] || SUDO=sudo
log=$(mktemp)
trap 'rm -f "$log"' EXIT
export DEBIAN_FRONTEND=noninteractive

run() {
    "$@" >>"$log" 2>&1 && return 0
    echo "install-deps: FAILED: $*" >&2
    cat "$log" >&2
    exit 1
}

missing=
for p in $pkgs; do
    dpkg-query -W -f='${Status}\n' "$p" 2>/dev/null | grep -q '^install ok installed' ||
        missing="$missing $p"
done
# Always refresh the lists: the guest kernel is resolved from them
# (apt-cache depends linux-image-amd64).
run $SUDO apt-get update -qq
if [ -n "$missing" ]; then
    # busybox-static replaces (conflicts with) the dynamic busybox package
    run $SUDO apt-get install -qq -y --no-install-recommends $missing
fi
# Guest kernel (apt-get download + dpkg -x into the cache, not installed on
# the host) and initramfs.
run bash "$here/lib/build-guest.sh"
echo "install-deps: ok (installed:${missing:- nothing new}; guest kernel $(sed -n 's/^VM_KVER=//p' "$log" | tail -n 1))"
