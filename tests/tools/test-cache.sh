#!/bin/sh
# tests/tools/test-cache.sh - orionstor cache info|flush|reset and the
# usb_storage_cache_* tools.  A holder (tests/tools/live-holder) writes
# with a write-back cache and never flushes, so its cache holds the data
# dirty: the tools must show what the holder itself counted (its own
# statistics' "cache" object), refuse a reset while data is dirty (26),
# flush it (0, nothing dirty after), drop it; --discard must warn, the
# holder must be told of the loss and its close fail; a flush after it
# fails with the sticky error (3: OSTOR_ERROR_IO).  Without a holder the
# tools open the device themselves.  The same on the simulated Bulk-Only
# device through the usb_storage_cache_* tools.
#
# Run by "make check" from the top build directory.  Exits 0 when every
# check passed, 1 on the first failure, 77 (skip) when python3 is missing.

test_name=test-cache
. "${srcdir:-.}/tests/tools/lib.sh"
usbtool() {
	echo "$top_builddir/tools/$1"
}
# check PYTHON-EXPRESSIONS: run with d = the JSON of $tmp/out (and own =
# the holder's own statistics, when there are some); the script exits
# non-zero with a message when an assertion fails.
check() {
	"$PYTHON" - "$tmp/out" "$tmp/own.json" "$1" <<'EOF' || fail "$2"
import json, os, sys
d = json.load(open(sys.argv[1]))
own = json.load(open(sys.argv[2])) if os.path.exists(sys.argv[2]) and os.path.getsize(sys.argv[2]) else None
try:
    exec(sys.argv[3])
except AssertionError as e:
    sys.exit(f"assertion failed: {e}")
EOF
}

ORIONSTOR_CONF=$tmp/orionstor.conf
export ORIONSTOR_CONF

# start_holder SPEC WRITES READS: until it printed "ready".
start_holder() {
	rm -f "$tmp/in" "$tmp/holder.out" "$tmp/own.json"
	mkfifo "$tmp/in" || fail "mkfifo"
	"$HOLDER" "$@" <"$tmp/in" >"$tmp/holder.out" 2>"$tmp/holder.err" &
	holder=$!
	exec 9>"$tmp/in"
	i=0
	until grep -q '^ready$' "$tmp/holder.out" 2>/dev/null; do
		kill -0 "$holder" 2>/dev/null || fail "the holder of $1 died"
		i=$((i + 1))
		[ $i -lt 6000 ] || fail "the holder of $1 never got ready"
		sleep 0.01
	done
	head -1 "$tmp/holder.out" >"$tmp/own.json"
}
stop_holder() {
	exec 9>&-
	wait "$holder" || fail "the holder exited with $?"
	holder=
	rm -f "$tmp/own.json"
}

# 10 writes of 8 blocks of 512 bytes: 40 KiB dirty in the holder's cache.
DIRTY=40960

# ---- orionstor cache on a write-back sim device ------------------------------------
spec=sim:size=4M,cache=wb
start_holder "$spec" 10 20
"$PYTHON" -c "
import json,sys
c=json.load(open('$tmp/own.json'))['cache']
sys.exit(0 if c['mode']=='write-back' and c['dirty_bytes']==$DIRTY and c['read_hits']+c['read_misses']==20 else c)" ||
	fail "the holder's own statistics: no write-back cache holding $DIRTY bytes dirty"
pass "a holder with $DIRTY bytes dirty in a write-back cache"

run 0 "$ORIONSTOR" cache info -d "$spec" --json
cp "$tmp/out" "$tmp/live-info.json"
check "
assert d['held_by']['pid'] == $holder, d['held_by']
assert d['held_by']['program'] == 'live-holder', d['held_by']
t = d['total']
assert t['mode'] == 'write-back' and t['policy'] == 'lru', t
assert t['dirty_bytes'] == $DIRTY, t['dirty_bytes']
assert t['used_bytes'] >= $DIRTY and t['capacity_bytes'] > 0, t
# Exactly what the holder counted itself.
assert t == own['cache'], {k: (t[k], own['cache'].get(k)) for k in t if t[k] != own['cache'].get(k)}
assert t['hit_rate'] == t['read_hits'] / 20, t
assert len(d['luns']) == 1, d['luns']
l = d['luns'][0]
assert (l['target'], l['lun'], l['dirty_bytes']) == (0, 0, $DIRTY), l
" "cache info --json: the holder's cache"
pass "cache info --json: mode, dirty bytes and every count equal the holder's own"

run 0 "$ORIONSTOR" cache info -d "$spec"
grep -q "held by pid $holder (live-holder): asked through its control socket" "$tmp/out" ||
	fail "cache info: does not say it asked the holder"
grep -Eq "^  mode +write-back, policy lru" "$tmp/out" || fail "cache info: mode"
grep -Eq "^  dirty +40.0 KiB not yet written" "$tmp/out" || fail "cache info: dirty"
grep -Eq "^  hit rate +[0-9.]+% \([0-9]+ of 20 reads" "$tmp/out" || fail "cache info: hit rate"
grep -Eq "^  write-out +0 B in flight" "$tmp/out" || fail "cache info: write-out backlog"
grep -Eq "^  lost data +none" "$tmp/out" || fail "cache info: lost data"
grep -Eq "^  sticky error +none" "$tmp/out" || fail "cache info: sticky error"
run 0 "$ORIONSTOR" cache info --pid "$holder" --lun 0
grep -q "^target 0, LUN 0:" "$tmp/out" && grep -Eq "^  dirty +40.0 KiB" "$tmp/out" || fail "cache info --pid --lun"
pass "cache info: the table, by -d and by --pid"

run 0 "$ORIONSTOR" stats -d "$spec"
grep -Eq "^  cache: write-back lru, 16.0 MiB; [0-9.]+ KiB used, 40.0 KiB dirty" "$tmp/out" ||
	fail "stats: no cache line"
run 0 "$ORIONSTOR" stats -d "$spec" --json
check "assert d['cache']['dirty_bytes'] == $DIRTY and d['cache']['sticky_error'] is None, d['cache']" "stats --json: cache"
run 0 "$ORIONSTOR" tuning -d "$spec" --json
check "
s = {x['name']: x for x in d['settings']}
assert s['block_cache']['value'].startswith('write-back, lru, 16777216 bytes'), s['block_cache']
assert 'spec' in s['block_cache']['source'], s['block_cache']
" "tuning: block_cache"
pass "stats and tuning show the cache"

run 26 "$ORIONSTOR" cache reset -d "$spec"
grep -q "holds $DIRTY bytes not yet written to the device" "$tmp/err" &&
	grep -q -- "--flush" "$tmp/err" && grep -q -- "--discard" "$tmp/err" ||
	fail "cache reset while dirty: the message does not say how much or what to do"
run 0 "$ORIONSTOR" cache info -d "$spec" --json
check "assert d['total']['dirty_bytes'] == $DIRTY and d['total']['lost_bytes'] == 0, d['total']" \
	"the refused reset dropped something"
run 1 "$ORIONSTOR" cache reset -d "$spec" --flush --discard
pass "cache reset while dirty: refused (26) with what to do, nothing dropped; --flush --discard: usage"

run 0 "$ORIONSTOR" cache flush -d "$spec" --json
cp "$tmp/out" "$tmp/live-flush.json"
check "
assert d['confirmed'] is True and d['held_by']['pid'] == $holder, d
assert len(d['luns']) == 1, d['luns']
l = d['luns'][0]
assert l['confirmed'] and (l['target'], l['lun']) == (0, 0), l
assert l['unwritten_bytes_before'] == $DIRTY and l['unwritten_bytes_after'] == 0, l
assert l['sticky_error'] is None and 'error' not in l, l
" "cache flush --json"
run 0 "$ORIONSTOR" cache info -d "$spec" --json
check "
t = d['total']
assert t['dirty_bytes'] == 0 and t['writeout_inflight_bytes'] == 0, t
assert t['writeouts'] >= 1 and t['writeout_bytes'] == $DIRTY and t['writeout_errors'] == 0, t
" "after the flush: still dirty"
run 0 "$ORIONSTOR" cache flush -d "$spec"
grep -q "^  LUN 0:0: confirmed by the device$" "$tmp/out" || fail "cache flush: not confirmed in the text"
pass "cache flush: confirmed (0), nothing dirty afterwards, $DIRTY bytes written out"

run 0 "$ORIONSTOR" cache reset -d "$spec" --json
check "
assert d['dropped_bytes'] > 0 and d['discarded_bytes'] == 0 and d['used_bytes_after'] == 0, d
assert d['flushed'] is False and d['held_by']['pid'] == $holder, d
" "cache reset of a clean cache"
[ -s "$tmp/err" ] && fail "cache reset of a clean cache: said something on stderr"
run 0 "$ORIONSTOR" cache info -d "$spec" --json
check "assert d['total']['used_bytes'] == 0, d['total']" "the reset left lines"
pass "cache reset when clean: everything dropped, nothing lost"

stop_holder
grep -q "^lost: 0$" "$tmp/holder.out" && grep -q "^close: ok$" "$tmp/holder.out" ||
	fail "the holder lost data or could not close"
pass "the holder lost nothing and closed cleanly"

# ---- the usb_storage_cache_* tools on the simulated Bulk-Only device ----------------
spec=sim:size=4M,cache=wb,transport=usb-bot
start_holder "$spec" 10 0

run 0 "$(usbtool usb_storage_cache_info)" -d "$spec" --json
check "
t = d['total']
assert d['held_by']['pid'] == $holder, d
assert t['mode'] == 'write-back' and t['dirty_bytes'] == $DIRTY, t
assert t == own['cache'], {k: (t[k], own['cache'].get(k)) for k in t if t[k] != own['cache'].get(k)}
assert t['hit_rate'] is None and t['read_ahead_efficiency'] is None, t
" "usb_storage_cache_info --json"
run 0 "$(usbtool usb_storage_cache_info)" -d "$spec"
grep -q "^$spec, held by pid $holder" "$tmp/out" && grep -Eq "^  dirty +40.0 KiB" "$tmp/out" &&
	grep -Eq "^  hit rate +- \(no reads yet\)" "$tmp/out" || fail "usb_storage_cache_info: the table"
pass "usb_storage_cache_info: the holder's cache of a Bulk-Only device"

run 26 "$(usbtool usb_storage_cache_reset)" -d "$spec"
grep -q "^usb_storage_cache_reset: .*holds $DIRTY bytes not yet written" "$tmp/err" || fail "usb_storage_cache_reset: message"
pass "usb_storage_cache_reset while dirty: refused (26)"

run 0 "$(usbtool usb_storage_cache_reset)" -d "$spec" --discard --json
check "
assert d['discarded_bytes'] == $DIRTY and d['used_bytes_after'] == 0, d
assert d['sticky_error'] == 'OSTOR_ERROR_IO', d
" "usb_storage_cache_reset --discard --json"
grep -q "WARNING: discarding 40.0 KiB ($DIRTY bytes) of data written to $spec that NEVER REACHED THE DEVICE" \
	"$tmp/err" || fail "--discard: no warning on stderr"
grep -q "WARNING: pid $holder (live-holder) is told" "$tmp/err" || fail "--discard: the holder is not named"
run 0 "$(usbtool usb_storage_cache_info)" -d "$spec" --json
check "
t = d['total']
assert t['dirty_bytes'] == 0 and t['used_bytes'] == 0, t
assert t['lost_bytes'] == $DIRTY and t['lost_ranges'] == 1, t
assert t['sticky_error'] == 'OSTOR_ERROR_IO' and 'never reached the device' in t['sticky_message'], t
" "after --discard: the loss"
run 0 "$(usbtool usb_storage_cache_info)" -d "$spec"
grep -Eq "^  lost data +40.0 KiB in 1 range" "$tmp/out" && grep -Eq "^  sticky error +OSTOR_ERROR_IO: " "$tmp/out" ||
	fail "usb_storage_cache_info after --discard: lost data and sticky error not shown"
pass "usb_storage_cache_reset --discard: a loud warning, the loss counted, the sticky error set"

# The sticky error: every flush fails until the holder acknowledges it.
run 3 "$(usbtool usb_storage_cache_flush)" -d "$spec" --json
check "
assert d['confirmed'] is False, d
l = d['luns'][0]
assert not l['confirmed'] and l['error'] == 'OSTOR_ERROR_IO' and l['error_code'] == -1, l
assert 'never reached the device' in l['message'] and l['sticky_error'] == 'OSTOR_ERROR_IO', l
" "usb_storage_cache_flush after the loss"
run 3 "$(usbtool usb_storage_cache_flush)" -d "$spec"
grep -q "^  LUN 0:0: NOT confirmed: OSTOR_ERROR_IO: " "$tmp/out" &&
	grep -q "sticky error OSTOR_ERROR_IO: every flush reports it until the holder acknowledges it" "$tmp/out" ||
	fail "usb_storage_cache_flush: the failure is not explained"
grep -q "did not confirm the flush" "$tmp/err" || fail "usb_storage_cache_flush: nothing on stderr"
pass "usb_storage_cache_flush after the loss: not confirmed, exit 3 (OSTOR_ERROR_IO), the sticky error said"

stop_holder
grep -q "^lost: 1$" "$tmp/holder.out" || fail "the holder was not told of the lost range"
grep -q "^close: OSTOR_ERROR_IO$" "$tmp/holder.out" || fail "the holder's close did not report the loss"
pass "the holder got OSTOR_EVENT_CACHE_DATA_LOST and its close failed"

# ---- nobody holds the device: opened here -----------------------------------------------
run 0 "$ORIONSTOR" cache info -d sim:size=4M,cache=wb --json
check "
live = json.load(open('$tmp/live-info.json'))
assert d['held_by'] is None, d
t = d['total']
assert t['mode'] == 'write-back' and t['used_bytes'] == 0 and t['dirty_bytes'] == 0, t
assert t['capacity_bytes'] == live['total']['capacity_bytes'], t
assert sorted(t) == sorted(live['total']), set(t) ^ set(live['total'])
assert sorted(d) == sorted(live), set(d) ^ set(live)
assert len(d['luns']) == 1 and sorted(d['luns'][0]) == sorted(live['luns'][0]), d['luns']
" "cache info of a device nobody holds"
run 0 "$ORIONSTOR" cache info -d sim:size=4M,cache=wb
grep -q "^sim:size=4M,cache=wb: no process holds it; opened here" "$tmp/out" ||
	fail "cache info opened here: does not say so"
run 0 "$ORIONSTOR" cache info -d sim:size=4M
grep -Eq "^  mode +off: no block cache" "$tmp/out" || fail "cache info without a cache"
run 0 "$(usbtool usb_storage_cache_info)" -d sim:transport=usb-bot,cache=wt,cache_policy=fifo
grep -Eq "^  mode +write-through, policy fifo" "$tmp/out" || fail "usb_storage_cache_info: cache=wt"
pass "cache info opened here: the configured mode, zeros, the same JSON keys as through a holder"

run 0 "$ORIONSTOR" cache flush -d sim:size=4M,luns=2 --json
check "
live = json.load(open('$tmp/live-flush.json'))
assert d['confirmed'] is True and d['held_by'] is None, d
assert [(l['target'], l['lun'], l['confirmed']) for l in d['luns']] == [(0, 0, True), (0, 1, True)], d['luns']
assert sorted(d['luns'][0]) == sorted(live['luns'][0]), set(d['luns'][0]) ^ set(live['luns'][0])
" "cache flush of a device nobody holds"
run 0 "$(usbtool usb_storage_cache_flush)" -d sim:transport=usb-bot --lun 0
grep -q "^  LUN 0:0: confirmed by the device$" "$tmp/out" || fail "usb_storage_cache_flush opened here"
run 0 "$ORIONSTOR" cache reset -d sim:size=4M,cache=wb --discard --json
check "assert d['dropped_bytes'] == 0 and d['discarded_bytes'] == 0 and d['held_by'] is None, d" \
	"cache reset of a device nobody holds"
[ -s "$tmp/err" ] && fail "cache reset --discard with nothing dirty: warned"
pass "cache flush and reset opened here: SYNCHRONIZE CACHE of each LUN, nothing to drop"

run 39 "$ORIONSTOR" cache info -d sim:size=4M --lun 7
run 1 "$ORIONSTOR" cache
run 1 "$ORIONSTOR" cache bogus -d sim:
run 1 "$ORIONSTOR" cache info
run 1 "$(usbtool usb_storage_cache_flush)" --lun x -d sim:
run 0 "$ORIONSTOR" help cache
grep -q "info|flush|reset" "$tmp/out" || fail "help cache: no actions"
run 0 "$ORIONSTOR" cache reset --help
grep -q -- "--discard" "$tmp/out" || fail "cache reset --help: no --discard"
run 39 "$ORIONSTOR" cache info --pid 999999999
pass "errors: a LUN that is not there (39), usage (1), help, --pid of no process (39)"

echo "all $checks checks passed"
