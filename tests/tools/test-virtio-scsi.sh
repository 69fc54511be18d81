#!/bin/sh
# tests/tools/test-virtio-scsi.sh - the nine virtio-scsi-* tools and the
# multi-queue helper of the VM tests on the simulated virtio-scsi device
# (sim:transport=virtio).  The PCI side (bind, remove) runs in
# tests/vm/t-virtio-ours-devices.sh; here those two must refuse a sim spec
# cleanly.
#
# Run by "make check" from the top build directory.  Exits 0 when every
# check passed, 1 on the first failure, 77 (skip) without python3.

top_builddir=${top_builddir:-.}
tools=$top_builddir/tools
PYTHON=${PYTHON:-python3}
SIM=sim:transport=virtio,queues=4,ring-reset,size=32M

if ! command -v "$PYTHON" >/dev/null 2>&1; then
	echo "SKIP: $PYTHON not found (needed to check the JSON output)"
	exit 77
fi
tmp=$(mktemp -d "${TMPDIR:-/tmp}/test-virtio-scsi.XXXXXX") || exit 1
trap 'rm -rf "$tmp"' EXIT INT TERM

checks=0
fail() {
	echo "FAIL: $*"
	for f in "$tmp/out" "$tmp/err"; do
		[ -s "$f" ] && { echo "--- ${f##*/}:"; head -c 3000 "$f"; echo; }
	done
	exit 1
}
pass() {
	checks=$((checks + 1))
	echo "ok $checks - $*"
}
# run EXPECTED_STATUS PROGRAM ARGS...: stdout in $tmp/out, stderr in $tmp/err.
run() {
	expect=$1
	prog=$2
	shift 2
	"$prog" "$@" >"$tmp/out" 2>"$tmp/err"
	status=$?
	[ "$status" -eq "$expect" ] || fail "${prog##*/} $* exited with $status, expected $expect"
}
# pyjson 'EXPR over d': evaluate against the JSON in $tmp/out.
pyjson() {
	"$PYTHON" -c '
import json, sys
d = json.load(open(sys.argv[1]))
sys.exit(0 if eval(sys.argv[2]) else 1)
' "$tmp/out" "$1" || fail "JSON check failed: $1"
}

for t in device-info device-bind device-remove device-reset target-info target-add \
	 target-remove queue-info queue-reset; do
	[ -x "$tools/virtio-scsi-$t" ] || fail "$tools/virtio-scsi-$t is not built"
	run 0 "$tools/virtio-scsi-$t" --help
	grep -q "Usage: virtio-scsi-$t" "$tmp/out" || fail "virtio-scsi-$t --help has no usage line"
done
pass "all nine tools answer --help"

run 0 "$tools/virtio-scsi-device-info" -d "$SIM" --json
pyjson 'd["pci_address"] == "sim" and d["ring"] == "split" and d["num_queues"] == 4'
pyjson 'int(d["device_features"], 16) >> 32 & 1 and int(d["driver_features"], 16) & int(d["device_features"], 16) == int(d["driver_features"], 16)'
pyjson '[q["index"] for q in d["queues"]] == list(range(6)) and all(q["size"] > 0 for q in d["queues"])'
pyjson 'd["max_target"] == 0 and len(d["luns"]) == 1 and d["luns"][0]["blocks"] == 65536 and d["luns"][0]["block_size"] == 512'
pass "device-info --json: features, queues, LUNs"

run 0 "$tools/virtio-scsi-device-info" -d "sim:transport=virtio,packed" --json
pyjson 'd["ring"] == "packed" and int(d["driver_features"], 16) >> 34 & 1'
pass "device-info: packed rings"

run 0 "$tools/virtio-scsi-target-info" -d "$SIM" --target 0 --json
pyjson 'd["target"] == 0 and d["luns"][0]["product"] == "SIM DISK" and d["luns"][0]["blocks"] == 65536'
pyjson 'd["luns"][0]["vpd_pages"][:3] == [0, 0x80, 0x83] and d["luns"][0]["max_transfer_blocks"] > 0'
run 0 "$tools/virtio-scsi-target-info" -d "$SIM" --target 0
grep -q "SIM DISK" "$tmp/out" || fail "target-info text lacks the product"
pass "target-info"

run 0 "$tools/virtio-scsi-queue-info" -d "$SIM" --json
pyjson 'len(d["queues"]) == 6 and [q["type"] for q in d["queues"][:3]] == ["control", "event", "request"]'
pyjson 'd["queues"][1]["inflight"] > 0 and all("avail_idx" in q and "event_idx" in q for q in d["queues"])'
pass "queue-info --json"

run 0 "$tools/virtio-scsi-queue-reset" -d "$SIM" --queue 3
run 1 "$tools/virtio-scsi-queue-reset" -d "$SIM" --queue 0
grep -q "not a request queue" "$tmp/err" || fail "queue-reset of the control queue: wrong message"
run 9 "$tools/virtio-scsi-queue-reset" -d "sim:transport=virtio" --queue 2
grep -q "not offered by this device" "$tmp/err" || fail "queue-reset without RING_RESET: no clear message"
pass "queue-reset: done with RING_RESET, refused without"

run 0 "$tools/virtio-scsi-device-reset" -d "$SIM"
grep -q "reset and re-initialised" "$tmp/out" || fail "device-reset output"
pass "device-reset"

run 0 "$tools/virtio-scsi-target-add" -d "$SIM" --target 0
grep -q "^0:0" "$tmp/out" || fail "target-add does not list 0:0"
run 0 "$tools/virtio-scsi-target-remove" -d "$SIM" --target 0
grep -q "detached" "$tmp/out" || fail "target-remove output"
run 39 "$tools/virtio-scsi-target-add" -d "$SIM" --target 5
grep -q "no target 5: its targets are 0 to 0" "$tmp/err" || fail "target-add beyond max_target: $(cat "$tmp/err")"
run 39 "$tools/virtio-scsi-target-remove" -d "$SIM" --target 5
run 39 "$tools/virtio-scsi-target-info" -d "$SIM" --target 5
pass "target-add, target-remove, and a target beyond max_target refused"

# 1 (a spec that is no PCI address), or 9 (not supported) in a build
# without the virtio backend.
for t in device-bind device-remove; do
	"$tools/virtio-scsi-$t" -d "$SIM" >"$tmp/out" 2>"$tmp/err"
	status=$?
	case $status in
	1) grep -Eq "bad PCI address|is not a PCI address" "$tmp/err" || fail "$t of a sim spec: wrong message" ;;
	9) grep -q "without the virtio backend" "$tmp/err" || fail "$t: wrong message" ;;
	*) fail "virtio-scsi-$t of a sim spec exited with $status" ;;
	esac
done
pass "device-bind and device-remove refuse a non-PCI spec"

helper=$top_builddir/tests/vm/virtio-ours-helper
run 0 "$helper" mq -d "$SIM" --threads 4 --acquire --blocks 256 --io-blocks 8 --qd 8
grep -q "max_busy_queues=" "$tmp/out" || fail "helper output"
[ "$(grep -c 'written and verified$' "$tmp/out")" = 4 ] || fail "helper: not every thread verified"
run 0 "$helper" mq -d "sim:transport=virtio,packed,intr,queues=2" --threads 3 --blocks 128 --qd 4
[ "$(grep -c 'written and verified$' "$tmp/out")" = 3 ] || fail "helper (shared queues): not every thread verified"
run 1 "$helper" mq -d "sim:transport=virtio,queues=2" --threads 3 --acquire --blocks 64
pass "multi-queue helper: owners and shared queues"

bench=$top_builddir/tests/bench/virtio-randread
run 0 "$bench" -d "$SIM" --qd 4 --seconds 0.2 --warmup 0
grep -q "^randread mode=owner threads=1 qd=4 bs=4096 .* iops=[0-9]* .*errors=0 max_gap_ms=[0-9.]* renotifies=[0-9]*$" \
	"$tmp/out" || fail "bench output"
run 0 "$bench" -d "$SIM" --qd 16 --threads 4 --ios 500
grep -q "^randread mode=owner threads=4 qd=16 .* ios=2000 .*errors=0 " "$tmp/out" || fail "bench, 4 owners"
run 0 "$bench" -d "sim:transport=virtio,packed,intr" --qd 32 --shared --ios 1000
grep -q "^randread mode=shared threads=1 qd=32 .* ios=1000 .*errors=0 " "$tmp/out" || fail "bench, shared"
run 1 "$bench" -d "sim:transport=virtio,queues=2" --qd 4 --threads 3 --ios 100
grep -q "not a valid measurement" "$tmp/err" || fail "bench: an incomplete run must say it is not valid"
pass "random-read benchmark: owners, shared queues, counts; an incomplete run fails (no timing checked)"

echo "all $checks checks passed"
exit 0
