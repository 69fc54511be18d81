#!/bin/sh
# The LOG_COMPILER of make check: runs one test under a time limit, so a
# hang fails that test with the backtraces of every thread of it, instead of
# stalling the suite until CI's own limit ends the run without a word.
#
#   ORIONSTOR_TEST_LIMIT   seconds per test (default 900; the longest
#                          test takes about a minute under a sanitizer)
#
# Prints "watchdog: NAME took N s" last, for the slowest-tests list of
# scripts/test-all.sh.  Exit status: the test's, or 124 when it was killed.
limit=${ORIONSTOR_TEST_LIMIT:-900}
name=${1##*/}
start=$(date +%s)

# Every process under $1 (the test and what it started), deepest last.
tree() {
	echo "$1"
	for c in $(ps -o pid= --ppid "$1" 2>/dev/null); do tree "$c"; done
}

"$@" &
pid=$!
(
	trap 'kill "$s" 2>/dev/null; exit 0' TERM
	sleep "$limit" &
	s=$!
	wait "$s"
	echo "watchdog: $name still running after $limit s: backtraces of its processes, then kill" >&2
	procs=$(tree "$pid")
	for p in $procs; do
		exe=$(readlink "/proc/$p/exe" 2>/dev/null) || continue
		echo "watchdog: process $p: $(tr '\0' ' ' <"/proc/$p/cmdline" 2>/dev/null)" >&2
		case $exe in */sh|*/bash|*/dash|*/sleep) continue ;; esac
		if command -v gdb >/dev/null 2>&1; then
			timeout 60 gdb -p "$p" -batch -nx -ex 'info threads' -ex 'thread apply all bt' \
				</dev/null 2>&1 | grep -v '^\[New LWP' | head -400 >&2
		fi
	done
	# shellcheck disable=SC2086
	kill -KILL $procs 2>/dev/null
) &
watcher=$!
wait "$pid"
rc=$?
kill "$watcher" 2>/dev/null
wait "$watcher" 2>/dev/null
if [ "$rc" -eq 137 ] && [ $(($(date +%s) - start)) -ge "$limit" ]; then rc=124; fi
echo "watchdog: $name took $(($(date +%s) - start)) s (exit $rc)" >&2
exit "$rc"
