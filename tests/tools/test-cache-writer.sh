#!/bin/sh
# tests/vm/cache-writer and tests/vm/lib/cachecheck.py on the simulated
# device: random writes through the write-back cache, then a flush (the
# image holds exactly the last versions) or a SIGKILL (every block one
# version that could be there: never older than the last flush, never
# torn) - the same pair t-cache.sh runs in the guest on QEMU's disks.
set -u
B=${top_builddir:-.}
S=${top_srcdir:-.}
W=$B/tests/vm/cache-writer
CHECK="python3 $S/tests/vm/lib/cachecheck.py"
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
export ORIONSTOR_CONF=/dev/null
fail() { echo "FAIL: $*"; exit 1; }

img=$T/disk.img
# seed writes max_blocks region flush_every kill_after
for args in "11 3000 16 4096 0 0" "12 2000 64 2048 100 0" "13 3000 16 4096 200 1234" \
            "14 500 8 512 0 333" "15 3000 32 8192 50 2999"; do
    set -- $args
    rm -f "$img"
    truncate -s 4M "$img"
    "$W" "sim:image=$img,cache=wb,cache_size=256K" "$@" >$T/out 2>&1
    rc=$?
    if [ "$6" = 0 ]; then
        [ $rc = 0 ] || { cat $T/out; fail "writer $args: exit $rc"; }
        grep -q "mode=write-back" $T/out || { cat $T/out; fail "writer $args: no write-back cache"; }
        grep -q "absorbed=0 " $T/out && fail "writer $args: nothing absorbed"
    else
        [ $rc = 137 ] || { cat $T/out; fail "writer $args: exit $rc, expected SIGKILL (137)"; }
    fi
    $CHECK "$img" 512 "$@" >$T/check 2>&1 || { cat $T/check; fail "image after writer $args"; }
    cat $T/check
done
# Three threads, each on a queue of its own, random reads and writes
# through a small cache (writes wait for room, reads for read-ahead), every
# block read checked against what the run wrote; then in write-through.
for spec in "sim:size=64M,cache=wb,cache_size=256K,read_ahead=64K" \
            "sim:size=64M,cache=wt,cache_size=512K,cache_policy=lfu,read_ahead=32K"; do
    timeout -k 10 300 "$B/tools/orionstor" bench -d "$spec" --rw randrw --verify --qd 16 --threads 3 --span 8M \
        --bs 8k --runtime 2 --ramp 0 -q >$T/bench 2>&1 || { cat $T/bench; fail "bench --verify on $spec"; }
done
# The checker sees a wrong image: one block changed after a clean run.
rm -f "$img"; truncate -s 4M "$img"
"$W" "sim:image=$img,cache=wb" 21 500 8 512 0 0 >/dev/null || fail "writer 21"
printf 'x' | dd of="$img" bs=1 seek=$((100 * 512 + 7)) conv=notrunc 2>/dev/null
$CHECK "$img" 512 21 500 8 512 0 0 >$T/check 2>&1 && fail "cachecheck missed a changed block"
echo "PASS"
