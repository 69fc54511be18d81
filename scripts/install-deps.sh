#!/bin/sh
# Install what liborionstor needs to build and test on Debian 12 (as root).
# Idempotent and quiet; prints what it installs.  With --vm it also
# installs the QEMU guest kit used by `make check-vm`.  nbdkit and its
# plugin header build nbdkit-orionstor-plugin; libnbd-bin (nbdinfo,
# nbdcopy), python3-libnbd (nbdsh), qemu-utils and fio are the NBD
# clients tests/tools/test-nbdkit.sh drives it with.
set -e
pkgs="build-essential autoconf automake libtool pkg-config libusb-1.0-0-dev
libpciaccess-dev libinih-dev libjson-c-dev check mandoc valgrind python3 xz-utils
clang libclang-rt-14-dev
nbdkit nbdkit-plugin-dev libnbd-bin python3-libnbd qemu-utils fio"
if [ "$1" = "--vm" ]; then
	pkgs="$pkgs qemu-system-x86 busybox-static kmod sg3-utils smartmontools cpio socat dmsetup e2fsprogs nbd-client"
fi
missing=""
for p in $pkgs; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
done
if [ -n "$missing" ]; then
	if [ "$(id -u)" != 0 ]; then
		echo "install-deps: missing packages:$missing (run as root, or install them)" >&2
		exit 1
	fi
	echo "install-deps: installing$missing"
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -qq
	# shellcheck disable=SC2086
	apt-get install -y -qq --no-install-recommends $missing >/dev/null
fi
