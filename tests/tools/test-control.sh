#!/bin/sh
# tests/tools/test-control.sh - orionstor ps and ping against another
# process: a background "orionstor bench" holding sim:null, seen through
# its control socket in a private directory.
#
# Run by "make check" from the top build directory.  Exits 0 when every
# check passed, 1 on the first failure, 77 (skip) when python3 is missing.

top_builddir=${top_builddir:-.}
ORIONSTOR=${ORIONSTOR:-$top_builddir/tools/orionstor}
PYTHON=${PYTHON:-python3}
EXIT_NOT_FOUND=39
EXIT_NOT_HELD=38

if ! command -v "$PYTHON" >/dev/null 2>&1; then
	echo "SKIP: $PYTHON not found (needed to check the JSON output)"
	exit 77
fi

tmp=$(mktemp -d "${TMPDIR:-/tmp}/test-control.XXXXXX") || exit 1
bench=
bench2=
cleanup() {
	[ -n "$bench" ] && kill "$bench" 2>/dev/null
	[ -n "$bench2" ] && kill "$bench2" 2>/dev/null
	rm -rf "$tmp"
}
trap cleanup EXIT INT TERM

checks=0
fail() {
	echo "FAIL: $*"
	for f in "$tmp/out" "$tmp/err" "$tmp/bench.err"; do
		[ -s "$f" ] && { echo "--- ${f##*/}:"; head -c 2000 "$f"; echo; }
	done
	exit 1
}
pass() {
	checks=$((checks + 1))
	echo "ok $checks - $*"
}
run() {
	expect=$1
	shift
	"$ORIONSTOR" "$@" >"$tmp/out" 2>"$tmp/err"
	status=$?
	[ "$status" -eq "$expect" ] || fail "orionstor $* exited with $status, expected $expect"
}

sockdir=$tmp/sockets
printf '[control]\nsocket_dir = "%s"\n' "$sockdir" >"$tmp/orionstor.conf"
ORIONSTOR_CONF=$tmp/orionstor.conf
export ORIONSTOR_CONF

run 0 ps
grep -q "No process has a control socket in $sockdir" "$tmp/out" || fail "ps with nobody: no message"
pass "ps with no process"
run $EXIT_NOT_HELD ps -d sim:null
grep -q "no process holds sim:null; start one, e.g. orionstor bench -d sim:null" "$tmp/err" ||
	fail "ps -d: no hint when nobody holds the device"
pass "ps -d SPEC nobody holds: exit $EXIT_NOT_HELD with a hint"

"$ORIONSTOR" bench -d sim:null --runtime 30 -q >/dev/null 2>"$tmp/bench.err" &
bench=$!
# Wait for its socket, a bounded number of times (not for a fixed time).
i=0
while [ ! -S "$sockdir/$bench.sock" ]; do
	i=$((i + 1))
	[ $i -le 300 ] || fail "no socket $sockdir/$bench.sock after 300 looks"
	kill -0 "$bench" 2>/dev/null || fail "the bench exited early"
	sleep 0.1
done
[ -f "$sockdir/$bench.lock" ] || fail "no lock file next to the socket"
pass "bench serves $sockdir/$bench.sock"

run 0 ps
grep -Eq "^$bench +orionstor +sim:null +simulated disk" "$tmp/out" || fail "ps does not list the bench's sim:null"
pass "ps lists pid, program, spec and description"

run 0 ps --json
"$PYTHON" -c '
import json, sys
d = json.load(open(sys.argv[1]))
p = [p for p in d["processes"] if p["pid"] == int(sys.argv[2])]
assert len(p) == 1, d
assert p[0]["program"] == "orionstor", p
assert [x["spec"] for x in p[0]["devices"]] == ["sim:null"], p
assert p[0]["devices"][0]["backend"] == "sim", p
' "$tmp/out" "$bench" 2>>"$tmp/err" || fail "ps --json does not parse or lacks the bench"
pass "ps --json"

run 0 ps -d sim:null
grep -Eq "^$bench +orionstor +sim:null" "$tmp/out" || fail "ps -d sim:null does not find the bench"
pass "ps -d finds the holder"

run 0 ping --pid "$bench"
grep -q "^pid $bench (orionstor, liborionstor" "$tmp/out" || fail "ping --pid: unexpected output"
pass "ping --pid"
run 0 ping --json --socket "$sockdir/$bench.sock"
"$PYTHON" -c '
import json, sys
d = json.load(open(sys.argv[1]))
assert d["pid"] == int(sys.argv[2]) and d["rtt_ms"] >= 0, d
' "$tmp/out" "$bench" 2>>"$tmp/err" || fail "ping --json: bad output"
pass "ping --socket --json"
run 0 ping -d sim:null
pass "ping -d SPEC"
run $EXIT_NOT_FOUND ping --pid 1
pass "ping --pid of a process without a socket: exit $EXIT_NOT_FOUND"

# A second process wanting the image a first one holds is told who.
"$ORIONSTOR" bench -d "sim:image=$tmp/disk.img,size=1M" --runtime 30 -q >/dev/null 2>"$tmp/bench2.err" &
bench2=$!
i=0
while [ ! -S "$sockdir/$bench2.sock" ]; do
	i=$((i + 1))
	[ $i -le 300 ] || fail "no socket for the image bench after 300 looks"
	kill -0 "$bench2" 2>/dev/null || fail "the image bench exited early"
	sleep 0.1
done
run 26 info -d "sim:image=$tmp/disk.img,size=1M"
grep -q "is held by pid $bench2 (orionstor); inspect it with orionstor stats" "$tmp/err" ||
	fail "a busy image does not name its holder"
pass "opening a held image: exit 26 naming the holder"
run 0 ps -d "sim:image=$tmp/../${tmp##*/}/disk.img"
grep -Eq "^$bench2 +orionstor +sim:image=" "$tmp/out" || fail "ps -d does not find the image by its file"
pass "ps -d finds the holder of the same image under another spelling"
kill "$bench2"
wait "$bench2" 2>/dev/null

# Killed: no chance to clean up.  The socket is gone or reported stale.
kill -KILL "$bench"
wait "$bench" 2>/dev/null
pid=$bench
bench=
run 0 ps
if [ -e "$sockdir/$pid.sock" ]; then
	grep -q "^$pid .*stale socket" "$tmp/out" || fail "ps does not report the dead bench's socket as stale"
else
	! grep -q "^$pid " "$tmp/out" || fail "ps still lists the dead bench"
fi
pass "a killed process is not listed as alive"
run $EXIT_NOT_FOUND ping --pid "$pid"
grep -q "the process is gone" "$tmp/err" || fail "ping of the dead bench: no message"
pass "ping of a killed process: exit $EXIT_NOT_FOUND"

# A clean end removes both files (the killed ones' stay, stale).
before=$(ls "$sockdir")
"$ORIONSTOR" bench -d sim:null --runtime 1 --ramp 0 -q >/dev/null 2>"$tmp/bench.err" || fail "short bench failed"
[ "$(ls "$sockdir")" = "$before" ] || fail "a finished bench left files: $(ls "$sockdir")"
pass "a process that ends cleanly leaves nothing behind"

echo "all $checks checks passed"
exit 0
