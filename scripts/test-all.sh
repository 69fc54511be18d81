#!/bin/sh
# The whole test suite, from a fresh clone on a fresh Debian 12 machine:
# unit and tool tests, the same under ASan+UBSan and under ThreadSanitizer
# (any report fails), the fault matrix count, the randomized fault campaign
# (make check-chaos), the unit tests on big-endian s390x under qemu-user
# and an arm64 build (scripts/cross-check.sh), the libFuzzer targets (make
# fuzz), valgrind over the core tests, make distcheck, and the QEMU guest
# tests (make check-vm).
# Ends with one line "summary: N passed, N failed".
set -e
cd "$(dirname "$0")/.."
top=$(pwd)
t_start=$(date +%s)
sh scripts/install-deps.sh --vm --cross
bash tests/vm/install-deps.sh
autoreconf -fi >/dev/null 2>&1
jobs=$(nproc)
passed=0
failed=0
times=""
t_last=$t_start
timed() { # the phase that just ended: record its duration
	now=$(date +%s)
	times="$times$(printf '%6d s  %s' $((now - t_last)) "$1")
"
	t_last=$now
}
timed "dependencies and autoreconf"

# CI ends a run at 90 minutes without a word of what was running.  Every
# phase below runs under what is left of ORIONSTOR_CI_BUDGET (seconds from
# the start, default 5100), so a hang or a slow machine still ends with the
# phase times and a summary that names what did not finish.
budget=${ORIONSTOR_CI_BUDGET:-5100}
left() { # seconds left of the budget, at least 1 (timeout 0 means none)
	l=$((t_start + budget - $(date +%s)))
	[ "$l" -ge 1 ] || l=1
	echo "$l"
}
# (stdin from /dev/null: timeout runs the command in a process group of
# its own, which must not read from or set up a terminal CI may give us)
bounded() { timeout -k 30 "$(left)" "$@" </dev/null; }

count() { # add the PASS/FAIL counts of an automake test-suite.log
	p=$(sed -n 's/^# PASS: *//p' "$1" | head -1)
	f=$(sed -n 's/^# FAIL: *//p' "$1" | head -1)
	e=$(sed -n 's/^# ERROR: *//p' "$1" | head -1)
	passed=$((passed + ${p:-0}))
	failed=$((failed + ${f:-0} + ${e:-0}))
}

test_logs() { # the logs of make check's tests in build dir $1
	find "$1" \( -path '*/tests/vm/work' -o -path '*/tests/fuzz/work' \) -prune -o \
		-name '*.log' ! -name config.log ! -name test-suite.log -print
}

phase() { # name, build dir, configure flags...
	name=$1; dir=$2; shift 2
	echo "=== $name"
	rm -rf "$dir"; mkdir -p "$dir"
	(cd "$dir" && "$top/configure" -q "$@" && bounded make -s -j"$jobs" >/dev/null)
	rc=0; (cd "$dir" && bounded make -s -j"$jobs" check >check.out 2>&1) || rc=$?
	if [ "$rc" = 0 ]; then check_ok=1; else
		check_ok=0
		if [ "$rc" = 124 ] || [ "$rc" = 137 ]; then
			echo "FAIL: $name: the time budget ran out; tests without a result:"
			for l in $(test_logs "$dir"); do
				[ -f "${l%.log}.trs" ] || echo "    ${l#"$dir"/}"
			done
		fi
		cat "$dir/check.out"
		for l in "$dir"/tests/*/*.log "$dir"/tests/*.log; do
			[ -f "$l" ] && grep -q -E '^(FAIL|ERROR)' "$l" 2>/dev/null && cat "$l"
		done
	fi
	grep -E '^(PASS|FAIL|ERROR|SKIP|XFAIL|XPASS)' "$dir/check.out" || true
	# The slowest tests (tests/watchdog.sh times each): where CI's time goes.
	echo "slowest: $(test_logs "$dir" | xargs -r sed -n 's/^watchdog: \(.*\) took \([0-9]*\) s.*/\2 s \1/p' |
		sort -rn | head -6 | paste -sd, - | sed 's/,/, /g')"
	f_before=$failed
	[ -f "$dir/test-suite.log" ] && count "$dir/test-suite.log"
	# make check failed and no test said so (a test program that did not
	# compile, say): the phase failed all the same.
	if [ "$check_ok" = 0 ] && [ "$failed" -eq "$f_before" ]; then
		failed=$((failed + 1)); echo "FAIL: $name: make check failed before any test did (above)"
	fi
	timed "$name"
}

phase "unit and tool tests" "$top/_build/plain" --enable-werror

echo "=== fault matrix (issue 14): make fault-matrix"
# The fault_NN tests that exist and pass; prints "fault matrix: N/38".
if (cd "$top/_build/plain" && bounded make -s fault-matrix >fault-matrix.out 2>&1); then :; else
	failed=$((failed + 1)); echo "FAIL: a fault matrix test failed"
fi
cat "$top/_build/plain/fault-matrix.out"
timed "fault matrix"

echo "=== randomized fault campaign: make check-chaos (60 s)"
if (cd "$top/_build/plain" && bounded make -s check-chaos CHAOS_SECONDS=60 >chaos.out 2>&1); then
	passed=$((passed + 1)); grep '^chaos:' "$top/_build/plain/chaos.out"; echo "PASS: check-chaos"
else
	failed=$((failed + 1)); tail -60 "$top/_build/plain/chaos.out"; echo "FAIL: check-chaos"
fi
timed "chaos"
# Build time is most of CI's time: the plain build is the -O2 one (its
# warnings with -Werror); the sanitizer builds use -O1 (what the
# sanitizers' own documentation advises; gcc compiles ASan+UBSan code at
# -O2 some 1.7 times slower) and the build without backends, distcheck
# and the other CPUs' builds -O1 without debug information.
phase "unit and tool tests under ASan+UBSan" "$top/_build/sanitize" --enable-werror --enable-sanitizers \
	CFLAGS="-g -O1"
phase "unit and tool tests under ThreadSanitizer" "$top/_build/tsan" --enable-werror --enable-sanitizers=thread \
	CFLAGS="-g -O1"
phase "without the USB and virtio backends" "$top/_build/minimal" --enable-werror --disable-usb --disable-virtio \
	CFLAGS="-O1"

echo "=== other CPUs (issue 14): s390x unit tests under qemu-user, arm64 build"
# scripts/cross-check.sh: big-endian s390x (the unit tests run under
# qemu-s390x) and an arm64 build of everything; its test-suite.log holds
# the totals.
if CROSS_CFLAGS="-O1" bounded sh scripts/cross-check.sh >"$top/_build/cross.out" 2>&1; then
	grep -E '^(PASS|FAIL|ERROR|SKIP|XFAIL|XPASS):|^cross-check:' "$top/_build/cross.out" || true
else
	cat "$top/_build/cross.out"
fi
if [ -f "$top/_build/cross/test-suite.log" ]; then
	count "$top/_build/cross/test-suite.log"
else
	failed=$((failed + 1)); echo "FAIL: cross-check wrote no test-suite.log"
fi
timed "other CPUs (s390x under qemu-user, arm64 build)"

echo "=== fuzzing (libFuzzer, clang): make fuzz"
# Each target for FUZZ_SECONDS on its seed corpus; one PASS/FAIL line each.
# Only the library and the targets are built (make fuzz depends on them).
fdir="$top/_build/fuzz"
rm -rf "$fdir"; mkdir -p "$fdir"
if (cd "$fdir" && "$top/configure" -q CC=clang CFLAGS="-g -O1" --enable-fuzzing >configure.out 2>&1 &&
	bounded make -s -j"$jobs" fuzz FUZZ_SECONDS=15 FUZZ_JOBS="$jobs" >fuzz.out 2>&1); then :; else
	tail -50 "$fdir/configure.out" "$fdir/fuzz.out" 2>/dev/null
fi
grep -E '^(PASS|FAIL): fuzz_' "$fdir/fuzz.out" 2>/dev/null || true
fp=$(grep -c '^PASS: fuzz_' "$fdir/fuzz.out" 2>/dev/null || true)
ff=$(grep -c '^FAIL: fuzz_' "$fdir/fuzz.out" 2>/dev/null || true)
passed=$((passed + ${fp:-0})); failed=$((failed + ${ff:-0}))
if [ "${fp:-0}" -eq 0 ] && [ "${ff:-0}" -eq 0 ]; then
	failed=$((failed + 1)); echo "FAIL: fuzzing phase ran no target"
fi
timed "fuzzing"

echo "=== valgrind over the core unit tests"
# Each test in its own process (Check's fork mode, which valgrind follows):
# a failing test cannot leave a thread spinning or a task in flight that
# slows or fails the tests after it, a leak or error is reported against
# the test that made it (its exit status), and Check's per-test timeouts
# (scaled for valgrind) end a hang with the test's name.  Valgrind runs one
# thread at a time; --fair-sched=yes hands the CPU round, or a thread that
# polls (a canceller, the owner of a polled queue) starves the simulated
# device's thread for tens of seconds per command (a timeout, not a bug).
for t in test_core test_stats; do
	if (cd "$top/_build/plain" && CK_FORK=yes CK_TIMEOUT_MULTIPLIER=10 ORIONSTOR_CONF=/dev/null \
		ORIONSTOR_TEST_ITERATIONS=10 timeout "$(l=$(left); [ "$l" -lt 900 ] && echo "$l" || echo 900)" ./libtool --mode=execute \
		valgrind -q --fair-sched=yes --error-exitcode=1 --leak-check=full --errors-for-leak-kinds=definite \
		tests/unit/$t >valgrind-$t.out 2>&1); then
		passed=$((passed + 1)); echo "PASS: valgrind $t"
	else
		failed=$((failed + 1))
		# The verdicts first, then valgrind's reports (long).
		# (grep finds nothing when the timeout killed the run: set -e must
		# not end the script here, without a FAIL line.)
		grep -E '^[^ ]+:[0-9]+:[EF]:|^[0-9]+%: Checks' "$top/_build/plain/valgrind-$t.out" || true
		tail -200 "$top/_build/plain/valgrind-$t.out"; echo "FAIL: valgrind $t"
	fi
done
timed "valgrind"

echo "=== make distcheck"
if (cd "$top/_build/plain" && bounded make -s -j"$jobs" distcheck DISTCHECK_CONFIGURE_FLAGS="CFLAGS=-O1" \
	>distcheck.out 2>&1); then
	passed=$((passed + 1)); echo "PASS: distcheck"
else
	failed=$((failed + 1)); tail -50 "$top/_build/plain/distcheck.out"; echo "FAIL: distcheck"
fi
timed "distcheck"

echo "=== make check-vm (QEMU guests)"
if (cd "$top/_build/plain" && bounded make -s check-vm 2>&1 | tee check-vm.out); then :; fi
line=$(grep -E '^[0-9]+ passed, [0-9]+ failed' "$top/_build/plain/check-vm.out" | tail -1)
if [ -n "$line" ]; then
	p=${line%% passed*}; rest=${line#*passed, }; f=${rest%% failed*}
	passed=$((passed + p)); failed=$((failed + f))
	case "$line" in *skipped*) echo "note: some VM tests were skipped (QEMU could not start); skips are not passes";; esac
else
	failed=$((failed + 1)); echo "FAIL: check-vm printed no summary"
fi
timed "check-vm"

# Case 38 of the fault matrix is complete with the guest's part
# (tests/vm/t-fault-setup.sh leaves it in tests/vm/fault-matrix-vm.tap).
echo "=== fault matrix, with the QEMU guest's fault_38 cases"
(cd "$top/_build/plain" && make -s fault-matrix 2>&1 | grep '^fault matrix:') || true
echo "=== time per phase"
printf '%s' "$times"
echo "$(printf '%6d' $(($(date +%s) - t_start))) s  in all"
echo "summary: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
