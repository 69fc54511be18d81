#!/bin/sh
# tests/tools/test-live.sh - the live tools against another process: a
# holder (tests/tools/live-holder) that did a known number of commands and
# printed its own statistics, then keeps its device open.  The tools'
# numbers must equal the holder's (commands and bytes exactly, latency
# percentiles within one histogram bucket); a command held by the sim
# device (hold=LBA) is listed, aborted, and the holder sees it aborted; a
# queue flush reports; interval, top, reset and histogram switching work;
# the same on the simulated virtio-scsi and Bulk-Only devices.
#
# Run by "make check" from the top build directory.  Exits 0 when every
# check passed, 1 on the first failure, 77 (skip) when python3 is missing.

test_name=test-live
. "${srcdir:-.}/tests/tools/lib.sh"
tool() {
	case $1 in
	orionstor) echo "$ORIONSTOR" ;;
	*) echo "$top_builddir/tools/$1" ;;
	esac
}

ORIONSTOR_CONF=$tmp/orionstor.conf
export ORIONSTOR_CONF

# start_holder SPEC WRITES READS [HELD_LBA]: until it printed "ready".
start_holder() {
	# The last holder's output must not answer for this one.
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
}

# compare OWN.json TOOL.json: the tool's totals equal the holder's own.
compare() {
	"$PYTHON" - "$1" "$2" <<'EOF' || fail "$3: the numbers differ from the holder's own (see above)"
import json, sys
own = json.load(open(sys.argv[1]))["total"]
got = json.load(open(sys.argv[2]))
got = got.get("total", got)
for part in ("commands", "bytes"):
    for kind in ("read", "write", "flush", "unmap"):
        if own[part][kind] != got[part][kind]:
            sys.exit(f"{part}.{kind}: holder {own[part][kind]}, tool {got[part][kind]}")
if own["results"] != got["results"]:
    sys.exit(f"results: holder {own['results']}, tool {got['results']}")
# Percentiles: the same histogram; within one bucket (6.25%, and the
# tick rate is measured anew for each answer).
for kind in ("read", "write"):
    a, b = own["latency"][kind], got["latency"][kind]
    if a["count"] != b["count"]:
        sys.exit(f"latency.{kind}.count: holder {a['count']}, tool {b['count']}")
    for p in ("p50_us", "p99_us", "max_us"):
        if abs(a[p] - b[p]) > 0.0625 * max(a[p], b[p]) + 0.001:
            sys.exit(f"latency.{kind}.{p}: holder {a[p]}, tool {b[p]}")
EOF
}

# ---- plain sim, with a held command -------------------------------------------
spec=sim:size=4M,hold=1000
start_holder "$spec" 40 100 1000
pass "a holder with 40 writes and 100 reads"

run 0 "$ORIONSTOR" stats -d "$spec" --json
cp "$tmp/out" "$tmp/stats.json"
compare "$tmp/own.json" "$tmp/stats.json" "orionstor stats"
pass "orionstor stats --json: the holder's counts and percentiles"

for t in virtio-scsi-performance-stats usb_storage_performance_stats; do
	run 0 "$(tool $t)" -d "$spec" --json
	compare "$tmp/own.json" "$tmp/out" "$t"
	pass "$t --json: the same"
done

run 0 "$ORIONSTOR" stats -d "$spec"
grep -q "held by pid $holder" "$tmp/out" || fail "stats: no holder pid"
grep -Eq "^  read +100 " "$tmp/out" || fail "stats: the read line is not 100 commands"
grep -Eq "^  write +40 " "$tmp/out" || fail "stats: the write line is not 40 commands"
grep -q "latency histograms on" "$tmp/out" || fail "stats: histograms not reported on"
pass "orionstor stats: the table"

run 0 "$ORIONSTOR" stats --pid "$holder" --json
compare "$tmp/own.json" "$tmp/out" "stats --pid"
pass "stats --pid: the process's only device"

run 0 "$ORIONSTOR" stats -d "$spec" --target 0 --lun 0
grep -q "target 0, LUN 0:" "$tmp/out" || fail "stats --lun: no LUN section"
pass "stats --target --lun"

run 0 "$ORIONSTOR" stats -d "$spec" --interval 0.05 --count 3
[ "$(grep -Ec '^[0-9]{2}:[0-9]{2}:[0-9]{2} ' "$tmp/out")" -eq 3 ] || fail "stats --interval --count 3: not 3 lines"
pass "stats --interval: one line per interval"

run 0 "$ORIONSTOR" top
grep -q "$spec" "$tmp/out" || fail "top: the device is missing"
run 0 "$ORIONSTOR" top --json
"$PYTHON" -c "
import json,sys
d=json.load(open('$tmp/out'))['devices']
m=[x for x in d if x['device']=='$spec' and x['pid']==$holder]
sys.exit(0 if len(m)==1 and m[0]['stats']['commands']['read']==100 else 'top --json: no such device')" ||
	fail "top --json"
pass "top: the device, its pid and counts"

run 0 "$ORIONSTOR" queues -d "$spec" --json
"$PYTHON" -c "
import json,sys
q=json.load(open('$tmp/out'))['queues']
shared=[x for x in q if x['queue']==-1][0]
sys.exit(0 if shared['commands']['read']==100 and len(q)>=2 else 'queues: shared path wrong')" ||
	fail "queues --json"
run 0 "$(tool virtio-scsi-queue-stats)" -d "$spec"
grep -Eq "^ +-1 " "$tmp/out" || fail "virtio-scsi-queue-stats: no shared-path row"
pass "queues and virtio-scsi-queue-stats"

# The held command: listed, aborted, and the holder sees it aborted.
run 0 "$ORIONSTOR" commands -d "$spec" --json
tag=$("$PYTHON" -c "
import json
c=json.load(open('$tmp/out'))['commands']
assert len(c)==1 and c[0]['command'].startswith('READ') and c[0]['state']=='at-device', c
print(c[0]['tag'])") || fail "commands: the held command is not listed"
run 0 "$(tool virtio-scsi-command-info)" -d "$spec" --tag "$tag"
grep -q "$tag" "$tmp/out" || fail "virtio-scsi-command-info --tag: not listed"
run 39 "$ORIONSTOR" commands -d "$spec" --tag 0x12345
pass "commands: the held command, its tag"

run 0 "$(tool virtio-scsi-command-abort)" -d "$spec" --tag "$tag"
grep -q "command $tag: done" "$tmp/out" || fail "abort: not done"
run 0 "$ORIONSTOR" commands -d "$spec"
grep -q "No command is in flight" "$tmp/out" || fail "commands after the abort: still listed"
run 39 "$ORIONSTOR" abort -d "$spec" --tag "$tag"
pass "abort: done, then gone (a second abort: not found)"

run 0 "$(tool virtio-scsi-queue-flush)" -d "$spec" --queue -1 --json
"$PYTHON" -c "
import json,sys
r=json.load(open('$tmp/out'))
sys.exit(0 if r['inflight_before']==0 and not r['timed_out'] else r)" || fail "queue-flush"
run 1 "$ORIONSTOR" queue-flush -d "$spec"
pass "queue-flush: reports; --queue required"

run 0 "$ORIONSTOR" stats -d "$spec" --histograms off --reset
run 0 "$ORIONSTOR" stats -d "$spec" --json
"$PYTHON" -c "
import json,sys
d=json.load(open('$tmp/out'))
t=d['total']
sys.exit(0 if not d['histograms'] and t['commands']['read']==0 and 'latency' not in t else 'reset/histograms')" ||
	fail "stats --reset --histograms off"
pass "stats --histograms off --reset"

run 0 "$ORIONSTOR" rpc -d "$spec" reset '{"level": "lun"}'
grep -q '"done_by"' "$tmp/out" || fail "rpc reset: no answer"
run 0 "$ORIONSTOR" stats -d "$spec" --json
"$PYTHON" -c "
import json,sys
t=json.load(open('$tmp/out'))['total']
sys.exit(0 if t['resets']['lun']==1 else t['resets'])" || fail "the LUN reset was not counted"
run 0 "$ORIONSTOR" rpc --pid "$holder" ping
grep -q "\"pid\": $holder" "$tmp/out" || fail "rpc ping: not the holder"
run 1 "$ORIONSTOR" rpc --pid "$holder" ping '[1'
run 1 "$ORIONSTOR" rpc -d "$spec" reset '{"level": "bogus"}'
pass "rpc: a live LUN reset, counted; ping; bad params refused"

run 38 "$ORIONSTOR" stats -d sim:size=8M
grep -q "no process holds sim:size=8M" "$tmp/err" || fail "stats of a device nobody holds: no hint"
run 1 "$ORIONSTOR" stats
pass "stats of a device nobody holds: exit 38; no device: usage"

stop_holder
grep -q "^held: aborted$" "$tmp/holder.out" || fail "the holder did not see its command aborted"
pass "the holder saw its held command aborted"

# ---- the simulated virtio-scsi and Bulk-Only devices ----------------------------
for spec in sim:size=4M,transport=virtio sim:size=4M,transport=usb-bot; do
	start_holder "$spec" 20 30
	run 0 "$ORIONSTOR" stats -d "$spec" --json
	compare "$tmp/own.json" "$tmp/out" "stats of $spec"
	"$PYTHON" -c "
import json,sys
t=json.load(open('$tmp/out'))['transport']
key='virtio_submitted' if 'virtio' in '$spec' else 'usb_commands'
sys.exit(0 if t.get(key,0)>=50 else f'transport counter {key}: {t.get(key)}')" || fail "transport counters of $spec"
	run 0 "$ORIONSTOR" tuning -d "$spec" --json
	"$PYTHON" -c "
import json,sys
d=json.load(open('$tmp/out'))
s={x['name']:x for x in d['settings']}
need=['transport','pipelining','max_transfer_bytes'] if 'usb' in '$spec' else ['queues']
miss=[n for n in need+['latency_histograms','block_cache'] if n not in s]
sys.exit(f'missing settings {miss}' if miss else 0 if d['advice'] else 'no advice')" || fail "tuning of $spec"
	case $spec in
	*usb*)
		run 0 "$(tool usb_storage_optimization_info)" -d "$spec"
		grep -q "pipelining" "$tmp/out" && grep -q "^advice:" "$tmp/out" ||
			fail "usb_storage_optimization_info: no settings or advice" ;;
	esac
	stop_holder
	pass "$spec: counts, percentiles, transport counters and tuning"
done

echo "all $checks checks passed"
