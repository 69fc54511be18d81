#!/bin/sh
# Quick start: install build dependencies, build, and use the embedded
# simulated disk (sim:) - list it, describe it, write blocks and read them
# back through the library.
set -e
cd "$(dirname "$0")/.."
sh scripts/install-deps.sh
[ -x configure ] || autoreconf -fi >/dev/null 2>&1
[ -f Makefile ] || ./configure -q
make -s -j"$(nproc)" >/dev/null
# Each command is shown as a user would type it, then run.
run() {
	echo "\$ $*"
	"$@"
}
img=$(mktemp /tmp/orionstor-quickstart.XXXXXX)
rm -f "$img"
head -c 8192 /dev/urandom > "$img.in"
run tools/orionstor list
run tools/orionstor info -d sim:
run tools/orionstor write -d "sim:image=$img,size=16M" --lba 100 -i "$img.in"
run tools/orionstor read -d "sim:image=$img" --lba 100 --count 16 -o "$img.out"
cmp "$img.in" "$img.out"
echo "quickstart: 16 blocks written at LBA 100 of $img and read back identical"
rm -f "$img" "$img.in" "$img.out"
