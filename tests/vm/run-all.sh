#!/bin/bash
# Run the QEMU guest tests (t-*.sh, or the ones named on the command line)
# and print a summary whose last line is "N passed, N failed[, N skipped]".
# Exit status: 1 if any test failed, 77 if all were skipped (QEMU cannot
# start), else 0. A skip never counts as a pass.
#
#   bash tests/vm/run-all.sh [t-NAME.sh ...]
#   ORIONSTOR_VM_JOBS=1 bash tests/vm/run-all.sh      # one guest at a time
#
# Environment: ORIONSTOR_SRCDIR, ORIONSTOR_BUILDDIR (default: this tree),
# ORIONSTOR_VM_JOBS (guests at a time; default nproc, at most 4),
# ORIONSTOR_VM_TEST_TIMEOUT (per test, 900 s), and everything lib/vm.sh reads.
set -u
here=$(cd "$(dirname "$0")" && pwd)
: "${ORIONSTOR_SRCDIR:=$(cd "$here/../.." && pwd)}"
: "${ORIONSTOR_BUILDDIR:=$ORIONSTOR_SRCDIR}"
export ORIONSTOR_SRCDIR ORIONSTOR_BUILDDIR
jobs=${ORIONSTOR_VM_JOBS:-$(nproc 2>/dev/null || echo 1)}
[ "$jobs" -ge 1 ] 2>/dev/null || jobs=1
[ "$jobs" -le 4 ] || jobs=4   # each TCG guest keeps about one core busy
ttimeout=${ORIONSTOR_VM_TEST_TIMEOUT:-900}
logdir=${ORIONSTOR_VM_WORKDIR:-$ORIONSTOR_BUILDDIR/tests/vm/work}/logs
mkdir -p "$logdir" || exit 1

tests=()
if [ $# -gt 0 ]; then
    for t in "$@"; do
        [ -e "$t" ] || t=$here/${t##*/}
        tests+=("$t")
    done
else
    # The longest guests first, so that two at a time finish together
    # (durations on a loaded 2-core machine; the rest in name order).
    slow="t-live-tools t-usb-uas t-smart t-virtio-vfio t-usb-ours-bot t-hotplug t-usb-ours-ffs"
    for n in $slow; do [ -e "$here/$n.sh" ] && tests+=("$here/$n.sh"); done
    for t in "$here"/t-*.sh; do
        [ -e "$t" ] || continue
        case " $slow " in *" $(basename "$t" .sh) "*) continue ;; esac
        tests+=("$t")
    done
fi
[ ${#tests[@]} -gt 0 ] || { echo "run-all: no tests"; echo "0 passed, 0 failed"; exit 1; }

# A test missing from local.mk would be left out of `make dist`.
for t in "$here"/t-*.sh; do
    [ -e "$t" ] || continue
    grep -q "tests/vm/${t##*/}" "$here/local.mk" 2>/dev/null ||
        echo "run-all: warning: ${t##*/} is not listed in tests/vm/local.mk (VM_TEST_LIST)"
done

t0=$SECONDS
# Build the guest once up front (tests reuse the cache). A failure here is
# reported by every test again, so only show it.
if ! bash "$here/lib/build-guest.sh" >"$logdir/build-guest.log" 2>&1; then
    echo "run-all: building the guest failed:"
    sed 's/^/    /' "$logdir/build-guest.log"
fi
echo "run-all: guest ready after $((SECONDS - t0)) s; running ${#tests[@]} test(s), $jobs at a time"

pass=0 fail=0 skip=0
results=()
declare -A pids=()

# reap: wait for any running test and record its result (bash >= 5.1).
reap() {
    local pid='' rc=0 t name
    wait -n -p pid || rc=$?
    [ -n "$pid" ] || return 0
    t=${pids[$pid]}
    unset "pids[$pid]"
    name=$(basename "$t" .sh)
    case $rc in
        0)  pass=$((pass + 1)); results+=("PASS: $name") ;;
        77) skip=$((skip + 1)); results+=("SKIP: $name") ;;
        124|137) fail=$((fail + 1)); results+=("FAIL: $name (killed after ${ttimeout}s)") ;;
        *)  fail=$((fail + 1)); results+=("FAIL: $name (exit $rc)") ;;
    esac
    echo "==== ${results[-1]} ($(tail -n 1 "$logdir/$name.time") s)"
    sed 's/^/    /' "$logdir/$name.log"
}

for t in "${tests[@]}"; do
    while [ ${#pids[@]} -ge "$jobs" ]; do reap; done
    name=$(basename "$t" .sh)
    ( s=$SECONDS
      rc=0
      timeout -k 10 "$ttimeout" bash "$t" >"$logdir/$name.log" 2>&1 || rc=$?
      echo $((SECONDS - s)) >"$logdir/$name.time"
      exit $rc ) &
    pids[$!]=$t
done
while [ ${#pids[@]} -gt 0 ]; do reap; done

echo "==== summary ($((SECONDS - t0)) s total)"
printf '%s\n' "${results[@]}"
summary="$pass passed, $fail failed"
[ "$skip" -gt 0 ] && summary="$summary, $skip skipped"
echo "$summary"
[ "$fail" -gt 0 ] && exit 1
[ "$pass" -eq 0 ] && [ "$skip" -gt 0 ] && exit 77
exit 0
