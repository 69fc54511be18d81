#!/bin/sh
# tests/tools/test-orionstor.sh - orionstor(1) end to end on sim: devices.
#
# Run by "make check" from the top build directory.  Override the binary
# with ORIONSTOR=/path/to/orionstor (e.g. to run it under valgrind).
# Exits 0 when every check passed, 1 on the first failure, 77 (skip)
# when python3 is missing.

top_builddir=${top_builddir:-.}
ORIONSTOR=${ORIONSTOR:-$top_builddir/tools/orionstor}
PYTHON=${PYTHON:-python3}

# Exit codes from orionstor(1), EXIT STATUS.
EXIT_SYNTAX=1
EXIT_ILLEGAL_REQUEST=5
EXIT_LBA_OUT_OF_RANGE=22
EXIT_DATA_PROTECT=7
EXIT_NOT_FOUND=39

if ! command -v "$PYTHON" >/dev/null 2>&1; then
	echo "SKIP: $PYTHON not found (needed to check the JSON output)"
	exit 77
fi
if [ ! -x "$ORIONSTOR" ]; then
	echo "FAIL: $ORIONSTOR is not built"
	exit 1
fi

tmp=$(mktemp -d "${TMPDIR:-/tmp}/test-orionstor.XXXXXX") || exit 1
trap 'rm -rf "$tmp"' EXIT INT TERM

checks=0
fail() {
	echo "FAIL: $*"
	for f in "$tmp/out" "$tmp/err"; do
		[ -s "$f" ] && { echo "--- ${f##*/}:"; head -c 2000 "$f"; echo; }
	done
	exit 1
}
pass() {
	checks=$((checks + 1))
	echo "ok $checks - $*"
}

# run EXPECTED_STATUS ARGS...: stdout in $tmp/out, stderr in $tmp/err.
run() {
	expect=$1
	shift
	"$ORIONSTOR" "$@" >"$tmp/out" 2>"$tmp/err"
	status=$?
	[ "$status" -eq "$expect" ] ||
		fail "orionstor $* exited with $status, expected $expect"
}

# pyjson 'PYTHON EXPR over d' : evaluate against the JSON in $tmp/out.
pyjson() {
	"$PYTHON" -c '
import json, sys
d = json.load(open(sys.argv[1]))
ok = eval(sys.argv[2])
sys.exit(0 if ok else 1)
' "$tmp/out" "$1" 2>>"$tmp/err"
}

# ---- usage errors ----------------------------------------------------------
run $EXIT_SYNTAX
pass "no command: exit $EXIT_SYNTAX"
run $EXIT_SYNTAX frobnicate
grep -q "unknown command" "$tmp/err" || fail "no message for an unknown command"
pass "unknown command: exit $EXIT_SYNTAX"
run 0 --help
grep -q "info" "$tmp/out" || fail "--help does not list the commands"
pass "--help"
run 0 --version
grep -q "liborionstor" "$tmp/out" || fail "--version does not name the library"
pass "--version"
run 0 read --help
grep -q -- "--lba" "$tmp/out" || fail "read --help lacks --lba"
grep -q -- "--device" "$tmp/out" || fail "read --help lacks --device"
pass "read --help"
run $EXIT_SYNTAX info
pass "info without -d: exit $EXIT_SYNTAX"
run $EXIT_SYNTAX read -d sim: --count 1
pass "read without --lba: exit $EXIT_SYNTAX"
for bad in -1 12x "" 0x 99999999999999999999999 " 5"; do
	run $EXIT_SYNTAX read -d sim: --lba "$bad" --count 1
	grep -q -- "--lba" "$tmp/err" || fail "no clear message for --lba '$bad'"
done
pass "bad numbers rejected"
run $EXIT_SYNTAX info -d sim: --lun 4294967296
pass "--lun overflow rejected"
run $EXIT_SYNTAX cmd -d sim: --cdb "28 0g"
grep -q "hex" "$tmp/err" || fail "no clear message for bad hex"
run $EXIT_SYNTAX cmd -d sim: --cdb "$(printf '00 %.0s' $(seq 33))"
grep -q "32" "$tmp/err" || fail "no clear message for a 33-byte CDB"
run $EXIT_SYNTAX cmd -d sim: --cdb 123
pass "bad CDBs rejected"

# ---- bad specs -------------------------------------------------------------
run $EXIT_SYNTAX info -d bogus:thing
[ -s "$tmp/err" ] || fail "no message for a bad spec"
run $EXIT_SYNTAX info -d sim:no-such-option=1
pass "bad spec: exit $EXIT_SYNTAX"

# Addressing errors: their own message, on every transport, before the wire.
for t in "" ",transport=virtio" ",transport=usb-bot" ",transport=usb-cbi" ",transport=usb-cb"; do
	run $EXIT_NOT_FOUND info -d "sim:size=1M$t" --target 99999
	grep -q "no target 99999: its targets are 0 to 0" "$tmp/err" || fail "info --target 99999 on sim:$t: $(cat "$tmp/err")"
	run $EXIT_NOT_FOUND cmd -d "sim:size=1M$t" --target 7 --cdb "00 00 00 00 00 00"
	grep -q "no target 7" "$tmp/err" || fail "cmd --target 7 on sim:$t"
done
run $EXIT_NOT_FOUND info -d sim:size=1M,transport=usb-cbi --lun 2
grep -q "no LUN 2: the cbi transport addresses LUN 0 only" "$tmp/err" || fail "CBI --lun 2: $(cat "$tmp/err")"
run $EXIT_SYNTAX info -d sim:size=1M,transport=usb-cb,luns=3
grep -q "the usb-cb transport addresses LUN 0 only" "$tmp/err" || fail "CB luns=3 accepted"
run $EXIT_NOT_FOUND info -d sim:size=1M,transport=usb-bot,luns=2 --lun 5
grep -q "its LUNs are 0 to 1" "$tmp/err" || fail "BOT --lun 5: $(cat "$tmp/err")"
pass "addressing errors: no such target / LUN, named, exit $EXIT_NOT_FOUND"

# The shared vocabulary: -h, -c '' (no file), sizes with suffixes.
for cmd in info read write cmd bench stats ps; do
	run 0 $cmd -h
	grep -q "^Usage: orionstor $cmd" "$tmp/out" || fail "$cmd -h: no usage"
done
run 0 -h
grep -q "Commands:" "$tmp/out" || fail "orionstor -h: no command list"
run 0 info -d sim: -c ''
run 0 cmd -d sim: --cdb "12 00 00 00 24 00" --request 1k
grep -q "transferred: 36" "$tmp/out" || fail "--request 1k: not 36 bytes of INQUIRY"
run $EXIT_SYNTAX cmd -d sim: --cdb "12 00 00 00 24 00" --request 1q
pass "-h, -c '', --request 1k"

# write -i -: standard input, whole blocks; a partial last block refused.
img=$tmp/stdin.img
head -c 5120 /dev/urandom >"$tmp/in.bin"
"$ORIONSTOR" write -d "sim:image=$img,size=1M" -i - --lba 3 <"$tmp/in.bin" >"$tmp/out" 2>"$tmp/err" ||
	fail "write -i - from a file: $(cat "$tmp/err")"
grep -q "wrote 10 blocks (5120 bytes) at LBA 3 from standard input, flushed" "$tmp/err" || fail "write -i -: no summary"
run 0 read -d "sim:image=$img,size=1M" --lba 3 --count 10 -o "$tmp/back.bin"
cmp -s "$tmp/in.bin" "$tmp/back.bin" || fail "write -i -: the data read back differs"
head -c 1000 /dev/zero | "$ORIONSTOR" write -d "sim:image=$img,size=1M" -i - --lba 0 >"$tmp/out" 2>"$tmp/err"
[ $? -eq $EXIT_SYNTAX ] || fail "write -i - of 1000 bytes: not a syntax error"
grep -q "488 bytes past the last whole 512-byte block; they were not written (1 blocks were)" "$tmp/err" ||
	fail "write -i -: partial block not reported"
"$ORIONSTOR" write -d "sim:image=$img,size=1M" -i - --lba 0 </dev/null >"$tmp/out" 2>"$tmp/err"
[ $? -eq $EXIT_SYNTAX ] && grep -q "standard input is empty" "$tmp/err" || fail "write -i - of nothing"
pass "write -i -: standard input, whole blocks, a partial one refused"

# read/write --json: a summary of what moved; -j without -o refused.
run 0 read -d "sim:image=$img,size=1M" --lba 3 --count 10 -o "$tmp/back.bin" -j
pyjson 'd["blocks"] == 10 and d["bytes"] == 5120 and d["output"].endswith("back.bin")' || fail "read -j"
run $EXIT_SYNTAX read -d "sim:image=$img,size=1M" --lba 3 --count 10 -j
run 0 write -d "sim:image=$img,size=1M" -i "$tmp/in.bin" --lba 3 -j
pyjson 'd["blocks"] == 10 and d["flushed"] is True' || fail "write -j"
pass "read and write --json: a summary"

# SIGTERM during a long read: stops between chunks, says what the file holds, 130.
big=$tmp/big.img
: >"$big"
truncate -s 1T "$big" 2>/dev/null || fail "cannot make a sparse 1 TiB file in $tmp"
"$ORIONSTOR" read -d "sim:image=$big,size=1T" --lba 0 --count 2147483648 -o /dev/null -q 2>"$tmp/err" &
rpid=$!
# The handler is set before the device (the image) is opened.
i=0
until ls -l /proc/$rpid/fd 2>/dev/null | grep -q "$big"; do
	kill -0 $rpid 2>/dev/null || fail "the long read ended before it was interrupted"
	i=$((i + 1)); [ $i -lt 3000 ] || fail "the long read never opened its image"
	sleep 0.01
done
kill -TERM $rpid
wait $rpid
st=$?
[ $st -eq 130 ] || fail "read interrupted by SIGTERM exited $st, expected 130"
grep -q "interrupted: /dev/null holds the first [0-9]* of 2147483648 blocks" "$tmp/err" || fail "no interrupt message"
rm -f "$big"
pass "SIGTERM during read: 130 and what was read"

# ---- list ------------------------------------------------------------------
"$ORIONSTOR" list --json >"$tmp/out" 2>"$tmp/err"
status=$?
if [ $status -eq 0 ]; then
	pyjson 'isinstance(d["devices"], list) and all(set(x) >= {"device", "backend", "description"} for x in d["devices"])' ||
		fail "list --json is not {\"devices\": [...]}"
	pass "list --json"
else
	# Enumerating real hardware may be impossible in a sandbox; the
	# failure must still be explained.
	[ -s "$tmp/err" ] || fail "list failed ($status) without a message"
	pass "list failed with a message (status $status; no hardware access)"
fi

# ---- info ------------------------------------------------------------------
run 0 info -d sim:luns=2,block-size=4096 --json
pyjson 'len(d["luns"]) == 2 and all(l["block_size"] == 4096 for l in d["luns"])' ||
	fail "info --json does not describe two 4096-byte-block LUNs"
pyjson 'sorted(l["lun"] for l in d["luns"]) == [0, 1] and all(l["target"] == 0 for l in d["luns"])' ||
	fail "info --json LUN addresses are not 0:0 and 0:1"
pyjson 'all(isinstance(l["write_protected"], bool) and isinstance(l["removable"], bool) and l["peripheral_type"] == "disk" and l["blocks"] > 0 and l["capacity_bytes"] == l["blocks"] * 4096 for l in d["luns"])' ||
	fail "info --json fields have the wrong types or values"
pyjson 'all(l[k] == l[k].strip() and l[k] for l in d["luns"] for k in ("vendor", "product", "revision"))' ||
	fail "info --json identity strings are empty or padded"
pyjson 'd["device"] == "sim:luns=2,block-size=4096"' || fail "info --json lacks the device spec"
pass "info --json: two 4096-byte-block LUNs"

run 0 info -d sim:size=1M
grep -q "disk" "$tmp/out" || fail "info text output lacks the type"
pass "info text output"

run 0 info -d sim:size=2M,block-size=512 --lun 0 --json
pyjson 'len(d["luns"]) == 1 and d["luns"][0]["blocks"] == 4096 and d["luns"][0]["write_protected"] is False' ||
	fail "info of a 2 MiB/512 disk is wrong"
pass "info --lun: capacity"

run 0 info -d sim:size=1M,readonly --json
pyjson 'd["luns"][0]["write_protected"] is True' || fail "readonly sim: not reported write protected"
run 0 info -d sim:type=cdrom,block-size=2048,size=2M --json
pyjson 'd["luns"][0]["peripheral_type"] == "cdrom"' || fail "type=cdrom not reported as cdrom"
pass "info: readonly and cdrom"

# ---- write + read through an image file ----------------------------------
img="$tmp/disk.img"
spec="sim:image=$img,size=1M,block-size=512"
"$PYTHON" -c '
import os, sys
sys.stdout.buffer.write(os.urandom(512 * 37))' >"$tmp/data" || fail "cannot make test data"

run 0 write -d "$spec" --lba 100 -i "$tmp/data"
[ -f "$img" ] || fail "image file was not created"
dd if="$img" of="$tmp/slice" bs=512 skip=100 count=37 2>/dev/null || fail "dd failed"
cmp "$tmp/data" "$tmp/slice" || fail "image file does not hold the data at byte 100*512"
pass "write lands at the right offset of the image"

run 0 read -d "$spec" --lba 100 --count 37 -o "$tmp/back"
cmp "$tmp/data" "$tmp/back" || fail "read -o does not return the written data"
run 0 read -d "$spec" --lba 100 --count 37
cmp "$tmp/data" "$tmp/out" || fail "read to stdout does not return the written data"
pass "read returns the written data (file and stdout)"

run 0 read -d "$spec" --lba 0x64 --count 1 -H
head -n 1 "$tmp/out" | grep -q '^0000c800 ' ||
	fail "hex dump does not start at byte offset 0xc800"
pass "read -H: hex dump with device offsets"

# LUN 1 of a two-LUN image starts at byte offset 1 x size.
spec2="sim:image=$tmp/two.img,size=64K,luns=2"
head -c 1024 "$tmp/data" >"$tmp/two-blocks"
run 0 write -d "$spec2" --lun 1 --lba 3 -i "$tmp/two-blocks"
dd if="$tmp/two.img" of="$tmp/slice" bs=512 skip=$((65536 / 512 + 3)) count=2 2>/dev/null
cmp "$tmp/two-blocks" "$tmp/slice" || fail "LUN 1 data is not at offset size + 3 blocks"
pass "multi-LUN image layout"

# Range, length and read-only checks.
head -c 1000 "$tmp/data" >"$tmp/odd"
run $EXIT_SYNTAX write -d "$spec" --lba 0 -i "$tmp/odd"
grep -q "multiple" "$tmp/err" || fail "no clear message for a partial block"
pass "write of a partial block refused"
run $EXIT_LBA_OUT_OF_RANGE read -d "$spec" --lba 2047 --count 2 -o "$tmp/x"
run $EXIT_LBA_OUT_OF_RANGE write -d "$spec" --lba 2040 -i "$tmp/data"
pass "past the end: exit $EXIT_LBA_OUT_OF_RANGE"
run $EXIT_DATA_PROTECT write -d sim:size=1M,readonly --lba 0 -i "$tmp/data"
[ -s "$tmp/err" ] || fail "write protect failure without a message"
pass "write to sim:readonly: exit $EXIT_DATA_PROTECT"

# ---- cmd ---------------------------------------------------------------------
run 0 cmd -d sim:size=1M,block-size=512 --cdb "25 00 00 00 00 00 00 00 00 00" --request 8 --json
pyjson 'd["status"] == 0 and d["status_name"] == "GOOD" and d["transferred"] == 8 and d["residual"] == 0' ||
	fail "READ CAPACITY(10) did not complete GOOD with 8 bytes"
pyjson 'int(d["data"][:8], 16) == 2047 and int(d["data"][8:16], 16) == 512' ||
	fail "READ CAPACITY(10) data does not decode to last LBA 2047, 512-byte blocks"
pyjson 'd["decoded"]["last_lba"] == 2047 and d["decoded"]["block_size"] == 512' ||
	fail "READ CAPACITY(10) decoded fields are wrong"
pass "cmd READ CAPACITY(10) --json decodes"

run 0 cmd -d sim:size=1M,block-size=512 --cdb 25000000000000000000 --request 8
grep -q "GOOD" "$tmp/out" || fail "cmd text output lacks the status"
grep -q "block size 512" "$tmp/out" || fail "cmd text output lacks the decoded capacity"
grep -q "^00000000  00 00 07 ff 00 00 02 00" "$tmp/out" || fail "cmd text hex dump is wrong"
pass "cmd READ CAPACITY(10) text"

# READ(10) of LBA 100 through the image written above.
run 0 cmd -d "$spec" --cdb "28 00 00 00 00 64 00 00 01 00" --request 512 -o "$tmp/blk"
head -c 512 "$tmp/data" | cmp - "$tmp/blk" || fail "cmd READ(10) -o data differs"
pass "cmd READ(10) -o"

# An unknown opcode must come back as CHECK CONDITION, ILLEGAL REQUEST.
"$ORIONSTOR" cmd -d sim: --cdb "ff 00 00 00 00 00" --json >"$tmp/out" 2>"$tmp/err"
status=$?
pyjson 'd["status_name"] == "CHECK CONDITION" and d["sense"]["key"] == 5 and d["sense"]["text"]' ||
	fail "invalid opcode did not give CHECK CONDITION / ILLEGAL REQUEST sense"
[ $status -eq 9 ] || fail "invalid opcode exited $status, expected 9"
pass "cmd invalid opcode: sense decoded, exit $status"

# READ(10) past the end: LBA out of range.
"$ORIONSTOR" cmd -d sim:size=1M --cdb "28 00 00 00 ff ff 00 00 01 00" --request 512 >"$tmp/out" 2>"$tmp/err"
status=$?
[ $status -eq $EXIT_LBA_OUT_OF_RANGE ] || fail "READ(10) out of range exited $status"
grep -qi "illegal request" "$tmp/out" || fail "READ(10) out of range: sense not shown"
pass "cmd out-of-range READ(10): exit $EXIT_LBA_OUT_OF_RANGE"

# A buffer smaller than the command's transfer: overrun, not GOOD, on the
# plain sim (what fitted arrived) and behind virtio (refused, as QEMU does);
# a larger buffer is GOOD with the residual on every transport.
for t in "" ",transport=virtio"; do
	run 49 cmd -d "sim:size=1M$t" --cdb "28 00 00 00 00 00 00 00 01 00" --request 100 -o "$tmp/ov"
	grep -q "result: overrun" "$tmp/out" || fail "overrun on sim$t not reported: $(cat "$tmp/out")"
done
for t in "" ",transport=virtio" ",transport=usb-bot" ",transport=usb-cbi" ",transport=usb-cb"; do
	run 0 cmd -d "sim:size=1M$t" --cdb "28 00 00 00 00 00 00 00 01 00" --request 4096 -o "$tmp/ov"
	grep -q "residual: 3584" "$tmp/out" || fail "short read on sim$t: $(cat "$tmp/out")"
done
pass "cmd overrun (exit 49) and short reads (good, residual) agree across transports"

# bench: a valid measurement on the null device (no timing checked).
run 0 bench -d sim:null,size=16M --qd 8 --runtime 1 --ramp 0 -q --json
pyjson '(d["jobs"][0]["read"]["total_ios"] > 0 and d["jobs"][0]["error"] == 0 and
	d["jobs"][0]["write"]["total_ios"] == 0 and d["global options"]["rw"] == "randread" and
	d["jobs"][0]["read"]["clat_ns"]["percentile"]["99.000000"] >= d["jobs"][0]["read"]["clat_ns"]["percentile"]["50.000000"] > 0)' ||
	fail "bench --json on sim:null"
pass "bench: randread on sim:null, fio-like JSON"

# Writes and reads checked block by block, two threads, through the virtio
# and USB transport models too.
for spec in sim:size=8M sim:transport=virtio,queues=2,size=8M sim:transport=usb-bot,size=8M; do
	run 0 bench -d "$spec" --rw randrw --mix 60 --verify --threads 2 --qd 4 --runtime 1 --ramp 0 -q --json
	pyjson '(d["jobs"][0]["read"]["total_ios"] > 0 and d["jobs"][0]["write"]["total_ios"] > 0 and
		d["jobs"][0]["verify_errors"] == 0 and d["global options"]["verify"])' ||
		fail "bench --verify on $spec"
done
pass "bench --verify: randrw with every written block checked (sim, virtio, BOT models)"

# --verify catches data that is not what was written: the null device
# stores nothing, so a block read back after a write is wrong.
"$ORIONSTOR" bench -d sim:null,size=1M --rw randrw --verify --qd 2 --runtime 1 --ramp 0 -q >"$tmp/out" 2>"$tmp/err"
status=$?
[ $status -eq 14 ] || fail "bench --verify on sim:null exited $status, expected 14 (miscompare)"
grep -q "read back different" "$tmp/err" || fail "bench --verify: no miscompare message"
pass "bench --verify: a device that loses data fails with exit 14"

# Not a measurement: writes to a write-protected LUN are refused up front.
"$ORIONSTOR" bench -d sim:readonly --rw randwrite --runtime 0.2 -q >"$tmp/out" 2>"$tmp/err"
status=$?
[ $status -eq $EXIT_DATA_PROTECT ] || fail "bench randwrite on a read-only LUN exited $status"
grep -q "write-protected" "$tmp/err" || fail "bench: no write-protect message"
"$ORIONSTOR" bench -d sim: --bs 1000 --runtime 0.2 >"$tmp/out" 2>"$tmp/err"
[ $? -eq 1 ] || fail "bench --bs 1000 on 512-byte blocks must be a usage error"
pass "bench refuses writes to a read-only LUN and a size that is not a block multiple"

echo "all $checks checks passed"
exit 0
