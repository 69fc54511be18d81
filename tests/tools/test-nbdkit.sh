#!/bin/sh
# tests/tools/test-nbdkit.sh - nbdkit-orionstor-plugin loaded by nbdkit
# from the build tree, and NBD clients against it: nbdcopy round trips
# (byte for byte, also through the write-back cache and onto an image
# file the sim keeps), qemu-img convert and compare, nbdinfo's flags
# against what the sim LUN can do, fio's nbd engine (random writes with
# crc32c verification, several jobs), a read-only LUN refusing writes,
# one export per LUN, unaligned requests read-modify-written, and
# nbdinfo --map from the sim's GET LBA STATUS.  The
# plugin's error mapping under injected faults and an unplug is
# tests/unit/test_nbdkit_plugin.
#
# Run by "make check" from the top build directory.  Exits 0 when every
# check passed, 1 on the first failure, 77 (skip) only when nbdkit is not
# installed; the clients it uses are required (scripts/install-deps.sh).

top_builddir=${top_builddir:-.}
PLUGIN=${PLUGIN:-$top_builddir/plugins/nbdkit/.libs/nbdkit-orionstor-plugin.so}

if ! command -v nbdkit >/dev/null 2>&1; then
	echo "SKIP: nbdkit not installed (Debian: apt-get install nbdkit; scripts/install-deps.sh does)"
	exit 77
fi
for tool in nbdinfo nbdcopy nbdsh qemu-img fio; do
	if ! command -v $tool >/dev/null 2>&1; then
		echo "FAIL: $tool not found: run scripts/install-deps.sh (libnbd-bin, python3-libnbd, qemu-utils, fio)"
		exit 1
	fi
done
# nbdsh is "python3 -m nbd": run that with a python3 that has libnbd's
# module (Debian's, not one that a version manager put first on PATH).
NBDSH=
for py in /usr/bin/python3 python3; do
	if "$py" -c 'import nbd' >/dev/null 2>&1; then
		NBDSH="$py -m nbd"  # what nbdsh runs
		break
	fi
done
if [ -z "$NBDSH" ]; then
	echo "FAIL: no python3 with the nbd module: run scripts/install-deps.sh (python3-libnbd)"
	exit 1
fi
export NBDSH
if [ ! -f "$PLUGIN" ]; then
	echo "FAIL: $PLUGIN not built (configure found nbdkit-plugin-dev?)"
	exit 1
fi
case $PLUGIN in /*) ;; *) PLUGIN=$(pwd)/$PLUGIN ;; esac
# The plugin links the library of this build tree, not an installed one.
LD_LIBRARY_PATH=$(cd "$top_builddir/lib/.libs" && pwd)${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}
export LD_LIBRARY_PATH
ORIONSTOR_CONF=${ORIONSTOR_CONF:-/dev/null}
export ORIONSTOR_CONF

# A sanitizer build: nbdkit is not instrumented, so the runtime the
# plugin links must be loaded first (LD_PRELOAD) into nbdkit alone; the
# clients are not instrumented either and run without it.
SAN_PRELOAD=$(ldd "$PLUGIN" 2>/dev/null | sed -n 's/.*=> \(\/[^ ]*lib[at]san\.so[^ ]*\).*/\1/p' | head -1)
if [ -n "$SAN_PRELOAD" ]; then
	echo "# sanitizer build: nbdkit runs with LD_PRELOAD=$SAN_PRELOAD"
	# nbdkit itself leaks a little at exit; the plugin's own leaks are
	# tests/unit/test_nbdkit_plugin's to find.
	ASAN_OPTIONS="detect_leaks=0${ASAN_OPTIONS:+:$ASAN_OPTIONS}"
	export ASAN_OPTIONS
fi

tmp=$(mktemp -d "${TMPDIR:-/tmp}/test-nbdkit.XXXXXX") || exit 1
server=
cleanup() {
	[ -n "$server" ] && kill "$server" 2>/dev/null
	rm -rf "$tmp"
}
trap cleanup EXIT INT TERM
export tmp

checks=0
fail() {
	echo "FAIL: $*"
	for f in "$tmp/out" "$tmp/err"; do
		[ -s "$f" ] && { echo "--- ${f##*/}:"; tail -c 3000 "$f"; echo; }
	done
	exit 1
}
pass() {
	checks=$((checks + 1))
	echo "ok $checks - $*"
}
# serve 'COMMAND' PLUGIN-ARGS...: nbdkit on a private socket while
# COMMAND runs (with $uri and $unixsocket set, as nbdkit --run sets them),
# then stopped (SIGTERM: its unload closes the device, flushing it).
# COMMAND's status is returned.  Not --run itself: nbdkit would start the
# command with the sanitizer runtime preloaded.
serve() {
	cmd=$1
	shift
	sock=$tmp/nbd.sock
	rm -f "$sock" "$tmp/nbdkit.err"
	LD_PRELOAD=$SAN_PRELOAD${LD_PRELOAD:+ $LD_PRELOAD} nbdkit -f -U "$sock" "$PLUGIN" "$@" \
		2>"$tmp/nbdkit.err" &
	server=$!
	i=0
	while [ ! -S "$sock" ] && kill -0 "$server" 2>/dev/null && [ $i -lt 300 ]; do
		sleep 0.1
		i=$((i + 1))
	done
	if [ ! -S "$sock" ]; then
		kill "$server" 2>/dev/null
		wait "$server"
		cp "$tmp/nbdkit.err" "$tmp/err"
		fail "nbdkit did not start: nbdkit -U $sock $PLUGIN $*"
	fi
	uri="nbd+unix:///?socket=$sock" unixsocket=$sock timeout 600 sh -c "$cmd" >"$tmp/out" 2>"$tmp/err"
	status=$?
	kill "$server"
	wait "$server"
	server_status=$?
	cat "$tmp/nbdkit.err" >>"$tmp/err"
	[ "$server_status" -eq 0 ] || fail "nbdkit exited with $server_status"
	if [ -n "$SAN_PRELOAD" ] && grep -q "Sanitizer" "$tmp/nbdkit.err"; then
		fail "the sanitizer reported an error in nbdkit (see err)"
	fi
	return $status
}

# 1. nbdcopy there and back: multi-conn, several requests in flight.
head -c 8388608 /dev/urandom >"$tmp/in" || fail "cannot make test data"
serve 'nbdcopy "$tmp/in" "$uri" && nbdcopy "$uri" "$tmp/back"' device=sim:size=8M ||
	fail "nbdcopy round trip"
cmp "$tmp/in" "$tmp/back" >"$tmp/out" 2>&1 || fail "nbdcopy round trip: data differ"
pass "nbdcopy round trip, 8 MiB, byte for byte"

# 2. The same through the write-back cache onto an image the sim keeps:
# what reached the device after nbdkit exits must be the data (the close
# flushes the cache).  The magic key: the spec alone names the device.
rm -f "$tmp/back"
serve 'nbdcopy "$tmp/in" "$uri" && nbdcopy "$uri" "$tmp/back"' \
	"sim:size=8M,image=$tmp/img" cache=wb || fail "nbdcopy with cache=wb"
cmp "$tmp/in" "$tmp/back" >"$tmp/out" 2>&1 || fail "nbdcopy with cache=wb: data read back differ"
cmp "$tmp/in" "$tmp/img" >"$tmp/out" 2>&1 || fail "cache=wb: the image file differs after nbdkit exited"
pass "nbdcopy through cache=wb; the image holds the data after exit"

# 3. qemu-img convert and compare, on 4096-byte blocks.
serve 'qemu-img convert -n -f raw -O raw "$tmp/in" "$uri" && qemu-img compare -f raw -F raw "$tmp/in" "$uri"' \
	device=sim:size=8M,block-size=4096 || fail "qemu-img convert + compare"
grep -q "Images are identical" "$tmp/out" || fail "qemu-img compare did not say identical"
pass "qemu-img convert and compare (4096-byte blocks)"

# 4. nbdinfo's flags as the sim LUN has them: writable, flush, native
# FUA, multi-conn, UNMAP (LBPU), zero and fast zero (WRITE SAME).
serve 'for f in flush fua trim zero fast-zero multi-conn write; do
		nbdinfo --can $f "$uri" || { echo "can $f: $?"; exit 1; }
	done
	nbdinfo --is read-only "$uri"; [ $? = 2 ] || { echo "is read-only"; exit 1; }
	nbdinfo --json "$uri"' device=sim:size=8M || fail "nbdinfo --can on a writable sim LUN"
grep -q '"block_size_minimum": 512' "$tmp/out" || fail "block_size_minimum is not the logical block size"
grep -q '"block_size_maximum": 8388608' "$tmp/out" || fail "block_size_maximum is not the sim's transfer limit"
pass "nbdinfo --can flush/fua/trim/zero/fast-zero/multi-conn/write, block sizes"

# 5. A read-only LUN: exported read-only, and a write forced onto the
# wire (libnbd's strict mode off) is refused with EPERM.
serve 'nbdinfo --is read-only "$uri" || exit 1
	nbdinfo --can write "$uri"; [ $? = 2 ] || exit 1
	nbdinfo --can trim "$uri"; [ $? = 2 ] || exit 1
	$NBDSH -u "$uri" -c "
h.set_strict_mode(0)
try:
    h.pwrite(b\"x\" * 512, 0)
    raise SystemExit(\"write to a read-only export succeeded\")
except nbd.Error as e:
    print(\"refused:\", e)
print(len(h.pread(4096, 0)))
"' device=sim:size=1M,readonly || fail "read-only LUN"
grep -q "refused: .*EPERM" "$tmp/out" || fail "read-only LUN: the write was not refused with EPERM"
pass "sim:readonly is exported read-only; a write gets EPERM"

# 6. One export per LUN: list, default, and each LUN its own data.
serve 'nbdinfo --list "$uri" &&
	$NBDSH -c "
import os
sock = os.environ[\"unixsocket\"]
def conn(name):
    h = nbd.NBD()
    h.set_export_name(name)
    h.connect_unix(sock)
    return h
a, b = conn(\"0:1\"), conn(\"0:2\")
b.pwrite(b\"B\" * 4096, 0)
a.pwrite(b\"A\" * 4096, 0)
b.flush()
assert b.pread(4096, 0) == b\"B\" * 4096
assert a.pread(4096, 0) == b\"A\" * 4096
assert conn(\"\").pread(4096, 0) == bytes(4096)
try:
    conn(\"0:3\")
    raise SystemExit(\"export 0:3 should not exist\")
except nbd.Error:
    pass
print(\"luns ok\")
"' device=sim:size=1M,luns=3 || fail "list_exports on sim:luns=3"
for e in 0:0 0:1 0:2; do
	grep -q "export=\"$e\"" "$tmp/out" || fail "export $e is not listed"
done
grep -q "export=\"0:3\"" "$tmp/out" && fail "an export 0:3 is listed"
grep -q "luns ok" "$tmp/out" || fail "exports do not address their own LUNs"
pass "sim:luns=3: exports 0:0, 0:1, 0:2, each its own LUN"

# 7. Unaligned requests (strict mode off: nothing aligns them) are
# read-modify-written; zero, fast zero, trim, FUA; extents answer.
serve '$NBDSH --base-allocation -u "$uri" -c "
import os
h.set_strict_mode(0)
size = h.get_size()
want = bytearray(os.urandom(65536))
h.pwrite(bytes(want), 0)
def w(data, off, flags=0):
    h.pwrite(data, off, flags)
    want[off:off + len(data)] = data
w(b\"x\" * 1000, 100)
w(b\"y\" * 3, 4095)
w(b\"z\" * 9000, 10001, nbd.CMD_FLAG_FUA)
h.zero(700, 20000, nbd.CMD_FLAG_NO_HOLE)
want[20000:20700] = bytes(700)
h.zero(4096, 24576, nbd.CMD_FLAG_FAST_ZERO)
want[24576:28672] = bytes(4096)
h.trim(8192, 32768)
want[32768:40960] = bytes(8192)
h.flush()
assert h.pread(65536, 0) == bytes(want), \"data differ\"
assert h.pread(77, 4000) == bytes(want[4000:4077]), \"unaligned read differs\"
seen = []
h.block_status(65536, 0, lambda ctx, off, ents, err: seen.extend(ents))
assert seen, \"no extents\"
print(\"unaligned ok\")
"' device=sim:size=1M || fail "unaligned requests"
grep -q "unaligned ok" "$tmp/out" || fail "unaligned requests: no result"
pass "unaligned writes, zero, fast zero, trim, FUA; extents answer"

# 8. fio's nbd engine: 4 jobs of random 4 KiB writes on their own 2 MiB
# each, 16 in flight, every block verified with crc32c.
serve 'fio --name=verify --ioengine=nbd --uri="$uri" --rw=randwrite --bs=4k --size=2M \
	--offset_increment=2M --numjobs=4 --iodepth=16 --verify=crc32c --verify_fatal=1 \
	--verify_state_save=0 \
	--group_reporting' device=sim:size=8M || fail "fio random writes with crc32c verify"
grep -q "err= 0" "$tmp/out" || fail "fio reported errors"
pass "fio --ioengine=nbd randwrite, 4 jobs, verify=crc32c"

# 9. Extents from the sim's GET LBA STATUS: never written and trimmed
# ranges are holes that read as zeros, written ones data; also with the
# writes still in the write-back cache (GET LBA STATUS writes them out).
map_cmd='$NBDSH -u "$uri" -c "
h.pwrite(b\"d\" * 8192, 65536)
h.pwrite(b\"e\" * 4096, 131072)
h.trim(4096, 69632)
h.flush()
" && nbdinfo --map "$uri"'
want_map='0 65536 3
65536 4096 0
69632 61440 3
131072 4096 0
135168 913408 3'
for args in device=sim:size=1M "device=sim:transport=usb-bot,size=1M" "device=sim:size=1M cache=wb"; do
	# $args unquoted: it holds one or two plugin arguments
	serve "$map_cmd" $args || fail "nbdinfo --map on $args"
	got=$(awk '{ print $1, $2, $3 }' "$tmp/out")
	[ "$got" = "$want_map" ] || fail "nbdinfo --map on $args: got
$got
want
$want_map"
done
serve '$NBDSH -u "$uri" -c "h.pwrite(b\"w\" * 4096, 8192)" && nbdinfo --map "$uri"' \
	device=sim:size=1M cache=wb || fail "nbdinfo --map after a cached write"
got=$(awk '{ print $1, $2, $3 }' "$tmp/out")
[ "$got" = "0 8192 3
8192 4096 0
12288 1036288 3" ] || fail "nbdinfo --map after a cached write: got
$got"
# A fully provisioned LUN: no extents (all data), no trim.
serve 'nbdinfo --map "$uri" || exit 1
	nbdinfo --can trim "$uri"; [ $? = 2 ]' device=sim:size=1M,thick ||
	fail "nbdinfo on sim:thick (map, no trim)"
got=$(awk '{ print $1, $2, $3 }' "$tmp/out")
[ "$got" = "0 1048576 0" ] || fail "nbdinfo --map on sim:thick: got
$got"
pass "nbdinfo --map: data, trimmed and never written ranges (RAM, usb-bot, cache=wb); sim:thick all data"

echo "$checks passed, 0 failed"
exit 0
