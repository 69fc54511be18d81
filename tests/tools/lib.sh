# tests/tools/lib.sh - what the tool tests share, sourced after setting
# test_name: the programs under test, a scratch directory removed at exit
# (with the holder process, if one was started as $holder), a private
# socket directory so no other test run's holder answers, and the checks:
#   fail MESSAGE      print the outputs that explain it, exit 1
#   pass MESSAGE      count a check that passed ("ok N - MESSAGE")
#   run STATUS CMD... run CMD, its outputs to $tmp/out and $tmp/err; fail
#                     unless it exited with STATUS
#   out REGEX / err REGEX   a line of the output (error output) matches
# Exits 77 (skip) when python3, which reads the JSON, is missing.

top_builddir=${top_builddir:-.}
ORIONSTOR=${ORIONSTOR:-$top_builddir/tools/orionstor}
HOLDER=${HOLDER:-$top_builddir/tests/tools/live-holder}
PYTHON=${PYTHON:-python3}

if ! command -v "$PYTHON" >/dev/null 2>&1; then
	echo "SKIP: $PYTHON not found (needed to check the JSON output)"
	exit 77
fi

tmp=$(mktemp -d "${TMPDIR:-/tmp}/$test_name.XXXXXX") || exit 1
holder=
cleanup() {
	[ -n "$holder" ] && kill "$holder" 2>/dev/null
	exec 9>&- 2>/dev/null
	rm -rf "$tmp"
}
trap cleanup EXIT INT TERM

checks=0
fail() {
	echo "FAIL: $*"
	for f in "$tmp/out" "$tmp/err" "$tmp/holder.out" "$tmp/holder.err"; do
		[ -s "$f" ] && { echo "--- ${f##*/}:"; head -c 3000 "$f"; echo; }
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
	"$@" >"$tmp/out" 2>"$tmp/err"
	status=$?
	[ "$status" -eq "$expect" ] || fail "$* exited with $status, expected $expect"
}
out() {
	grep -Eq -- "$1" "$tmp/out" || fail "no line matching '$1' in the output"
}
err() {
	grep -Eq -- "$1" "$tmp/err" || fail "no line matching '$1' on standard error"
}

printf '[control]\nsocket_dir = "%s"\n' "$tmp/sockets" >"$tmp/orionstor.conf"
