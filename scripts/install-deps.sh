#!/bin/sh
# Install what liborionstor needs to build and test on Debian 12 (as root).
# Idempotent and quiet; prints what it installs.  With --vm it also
# installs the QEMU guest kit used by `make check-vm`.  nbdkit and its
# plugin header build nbdkit-orionstor-plugin; libnbd-bin (nbdinfo,
# nbdcopy), python3-libnbd (nbdsh), qemu-utils and fio are the NBD
# clients tests/tools/test-nbdkit.sh drives it with.  With --cross it also
# installs what scripts/cross-check.sh needs: Debian's cross compilers for
# s390x and arm64, qemu-user-static, and the target libraries through
# multiarch (dpkg --add-architecture).
set -e
vm=no cross=no
for a in "$@"; do
	case "$a" in
	--vm) vm=yes ;;
	--cross) cross=yes ;;
	*) echo "install-deps: unknown option $a (--vm, --cross)" >&2; exit 2 ;;
	esac
done
pkgs="build-essential autoconf automake libtool pkg-config libusb-1.0-0-dev
libpciaccess-dev libinih-dev libjson-c-dev check mandoc valgrind python3 xz-utils
clang libclang-rt-14-dev
nbdkit nbdkit-plugin-dev libnbd-bin python3-libnbd qemu-utils fio"
if [ "$vm" = yes ]; then
	pkgs="$pkgs qemu-system-x86 busybox-static kmod sg3-utils smartmontools cpio socat dmsetup e2fsprogs nbd-client"
fi
if [ "$cross" = yes ]; then
	pkgs="$pkgs crossbuild-essential-s390x crossbuild-essential-arm64 qemu-user-static"
	for arch in s390x arm64; do
		if ! dpkg --print-foreign-architectures | grep -qx "$arch"; then
			[ "$(id -u)" = 0 ] || { echo "install-deps: run as root to add architecture $arch" >&2; exit 1; }
			dpkg --add-architecture "$arch"
		fi
		pkgs="$pkgs check:$arch libinih-dev:$arch libjson-c-dev:$arch libusb-1.0-0-dev:$arch libpciaccess-dev:$arch"
	done
	pkgs="$pkgs nbdkit-plugin-dev:arm64"
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
	# Multi-Arch: same packages must have one version on every
	# architecture.  Debian 12's security archive no longer carries s390x,
	# so libpciaccess0's zlib1g is asked for at the host's own version (else
	# apt would upgrade the host's to a security version s390x lacks).
	pin=""
	case "$missing" in *:s390x* | *:arm64*)
		zv=$(dpkg-query -W -f='${Version}' "zlib1g:$(dpkg --print-architecture)")
		for arch in s390x arm64; do
			dpkg-query -W -f='${Status}' "zlib1g:$arch" 2>/dev/null | grep -q "install ok installed" ||
				pin="$pin zlib1g:$arch=$zv"
		done ;;
	esac
	# shellcheck disable=SC2086
	apt-get install -y -qq --no-install-recommends $missing $pin >/dev/null
fi
