#!/bin/bash
# The kernel's usb-storage against liborionstor on QEMU's usb-storage
# (Bulk-Only), behind xHCI and behind EHCI, in one guest, with the same
# parameters on both sides:
#
#   4 KiB random read, queue depth 1 (per-command latency); ours by
#     default (on: a small command alone on the wire runs its phases as
#     blocking usbfs calls, the others have their data-in and CSW reads
#     queued together), and with every transfer queued
#     (ORIONSTOR_USB_BLOCKING=off): with the data-in and CSW reads queued
#     together (queued: stops queuing the CSW on a device that lost one,
#     as QEMU's does), without pipelining (off), queued whatever happens
#     (force: every lost CSW costs the 5 ms grace), and with the CBW
#     queued too (cbw, xHCI only: QEMU's EHCI stalls an IN before the
#     CBW; the engine then reads again and stops queuing the CBW)
#   128 KiB sequential read, queue depth 1 and 8 (ours: the default),
#     also through the block cache without read-ahead and with it (the
#     table adds read-ahead's gain over each)
#   128 KiB sequential write, queue depth 1 and 8 (the first 16 MiB of
#     the bench's own disk images)
#
# Ours is `orionstor bench` on usb:BUS.DEVNUM (one thread owning the
# device's queue and polling it); the kernel's side is fio (O_DIRECT,
# libaio, one job, --norandommap) on the sd block device of usb-storage.
# Every run reads the first 16 MiB of its disk (written, not sparse), for
# BENCH_SECONDS after a 1 s ramp.  At the end ours runs once more (xHCI,
# 4 KiB, on) to show that nothing drifted while the kernel ran.  The host
# prints one table (IOPS, MB/s, latency mean/p50/p99 from submission to
# completion, ratio ours/kernel) and keeps it, machine-readable, in the
# work dir: tests/vm/work/bench-usb/summary.json (and summary.txt, the raw
# JSON in share/); the work dir stays after a pass, the next run replaces
# it.
#
# Fails (FAIL, exit 1, no PASS) when any run measured nothing, reported
# an error, or its program (fio, orionstor bench) exited non-zero.  A low
# ratio is not a failure: a measurement, not a test (check-vm does not run
# it, the name does not start with t-).
#
#   bash tests/vm/bench-usb.sh               # 5 s per run (about 30 runs)
#   BENCH_SECONDS=10 bash tests/vm/bench-usb.sh
#   BENCH_WORKLOADS="read:128k:1" bash tests/vm/bench-usb.sh   # some only
#   BENCH_RA_PAIRS=5 bash tests/vm/bench-usb.sh   # read-ahead's gain: the
#       median of 5 back-to-back pairs (a TCG guest's speed drifts by 2x
#       and more between runs a minute apart; a pair sees the same drift)
#
# Needs fio on the host (tests/vm/install-deps.sh).  Under TCG every
# number is dominated by emulation; compare them with each other, not with
# hardware.
. "$(dirname "$0")/lib/vm.sh"
vm_init bench-usb
SECS=${BENCH_SECONDS:-5}
case $SECS in ''|*[!0-9]*|0) vm_fail "BENCH_SECONDS=$SECS: expected whole seconds, at least 1" ;; esac
[ -z "${BENCH_COUNT:-}" ] ||
    vm_log "warning: BENCH_COUNT is no longer used: runs are timed (BENCH_SECONDS=$SECS)"
# PATTERN:BS:QD, spelled as both fio and orionstor bench take them; the
# first one is run in every pipelining mode.
WORKLOADS=${BENCH_WORKLOADS:-randread:4k:1 read:128k:1 read:128k:8 write:128k:1 write:128k:8}
for w in $WORKLOADS; do
    case $w in
    read:*:[0-9]* | randread:*:[0-9]* | write:*:[0-9]* | randwrite:*:[0-9]*) ;;
    *) vm_fail "BENCH_WORKLOADS: '$w' is not PATTERN:BS:QD (read, randread, write or randwrite; e.g. read:128k:1)" ;;
    esac
done
RA_PAIRS=${BENCH_RA_PAIRS:-1}
case $RA_PAIRS in ''|*[!0-9]*|0) vm_fail "BENCH_RA_PAIRS=$RA_PAIRS: expected a count, at least 1" ;; esac
export ORIONSTOR_T_SECS=$SECS ORIONSTOR_T_WORKLOADS=$WORKLOADS ORIONSTOR_T_RA_PAIRS=$RA_PAIRS
command -v fio >/dev/null || vm_fail "fio is not installed on the host (tests/vm/install-deps.sh)"
# About 38 runs (42 at most, and 2 more per extra read-ahead pair and
# sequential workload and controller); each: ramp + run time + a few
# seconds to start a program through 9p under TCG.
ORIONSTOR_VM_TIMEOUT=${ORIONSTOR_VM_TIMEOUT:-$((150 + (42 + 12 * (RA_PAIRS - 1)) * (SECS + 10)))}
VM_TIMEOUT=$ORIONSTOR_VM_TIMEOUT

vm_usb_ctrl xhci xhci
vm_usb_ctrl ehci ehci
# Written, not sparse: every read goes to page-cached data, not to a hole.
vm_image bx 32M; head -c 32M /dev/urandom >"$VM_IMAGE"; vm_drive bx "$VM_IMAGE"
vm_image be 32M; head -c 32M /dev/urandom >"$VM_IMAGE"; vm_drive be "$VM_IMAGE"
vm_usb_storage xhci bx serial=bench-x
vm_usb_storage ehci be serial=bench-e

vm_guest <<'GUEST'
S=/run/vm
B=$ORIONSTOR_BUILDDIR/tools/orionstor
secs=$ORIONSTOR_T_SECS
export ORIONSTOR_CONF=/dev/null
load_modules xhci-pci ehci-pci
wait_usb 2 60
command -v fio >/dev/null || fail "fio is not installed on the host (tests/vm/install-deps.sh)"
spec_of() { # xhci|ehci -> usb:BUS.DEV of the device on that controller
    "$B" list 2>/dev/null |
        awk -v s="$([ "$1" = xhci ] && echo super || echo high)" '/^usb:/ && $0 ~ s " speed" {print $1; exit}'
}
# run NAME CMD...: NAME.json, NAME.json.err, NAME.json.rc in the share;
# the host judges them (a failed run does not stop the others).
run() {
    local out=$S/$1.json; shift
    "$@" >"$out" 2>"$out.err"
    echo $? >"$out.rc"
}
ours() { # NAME SPEC MODE RW BS QD
    local pl=$3 blk=off
    case $3 in on) pl= blk= ;; queued) pl=on ;; esac
    log "$1"
    run "$1" env ORIONSTOR_USB_PIPELINE="$pl" ORIONSTOR_USB_BLOCKING="$blk" "$B" bench -d "$2" --rw "$4" \
        --bs "$5" --qd "$6" --threads 1 --span 16M --runtime "$secs" --ramp 1 --json
}
for hcd in xhci ehci; do
    spec=$(spec_of $hcd); [ -n "$spec" ] || fail "no device for $hcd"
    first=1
    for w in $ORIONSTOR_T_WORKLOADS; do
        IFS=: read -r rw bs qd <<<"$w"
        modes=on
        if [ $first = 1 ]; then
            modes="off queued force on"
            [ $hcd = xhci ] && modes="$modes cbw"
        fi
        for mode in $modes; do ours "ours-$hcd-$mode-$rw-$bs-qd$qd" "$spec" "$mode" "$rw" "$bs" "$qd"; done
        # Sequential reads once more through the block cache, without
        # read-ahead and with it (8 MiB of cache over the 16 MiB span:
        # nothing is read twice), in back-to-back pairs.
        if [ "$rw" = read ]; then
            for pair in $(seq 1 "$ORIONSTOR_T_RA_PAIRS"); do
                sfx=; [ "$pair" = 1 ] || sfx=-$pair
                ours "ours-$hcd-nora-$rw-$bs-qd$qd$sfx" "$spec,cache=wt,cache_size=8M,read_ahead=0" on "$rw" "$bs" "$qd"
                ours "ours-$hcd-ra-$rw-$bs-qd$qd$sfx" "$spec,cache=wt,cache_size=8M,read_ahead=1M" on "$rw" "$bs" "$qd"
            done
        fi
        first=0
    done
done
# System calls per command: strace -c of a 1 s run and a (1 + secs) s run
# of 4 KiB random reads at QD1 on xHCI; the host divides the difference in
# calls by the difference in reads (start-up and probing cancel out).
strace_runs() { # NAME CMD... (with @T@ for the run time)
    local name=$1 t; shift
    for t in 1 $((secs + 1)); do
        run "strace-$name-$t" strace -f -c -o "$S/strace-$name-$t.txt" "${@//@T@/$t}"
    done
}
if command -v strace >/dev/null; then
    spec=$(spec_of xhci); [ -n "$spec" ] || fail "no device for xhci"
    log "strace-ours"
    strace_runs ours "$B" bench -d "$spec" --rw randread --bs 4k --qd 1 --threads 1 --span 16M \
        --runtime @T@ --ramp 0 --json
    log "strace-ours-queued"
    strace_runs ours-queued env ORIONSTOR_USB_BLOCKING=off "$B" bench -d "$spec" --rw randread --bs 4k --qd 1 \
        --threads 1 --span 16M --runtime @T@ --ramp 0 --json
fi
# sg: usb-storage skips VPD pages, so serials are read through /dev/sg*
load_modules 'usb-storage delay_use=0' sd_mod sg
wait_scsi_devices 2 60
for hcd in xhci ehci; do
    # (not "|| fail" alone: dev_by_serial's own FAIL would become the
    # file name, and fio would measure files in the share instead)
    dev=$(dev_by_serial bench-${hcd:0:1})
    [ -b "$dev" ] || fail "no block device for serial bench-${hcd:0:1}: $dev"
    for w in $ORIONSTOR_T_WORKLOADS; do
        IFS=: read -r rw bs qd <<<"$w"
        log "kernel-$hcd-$rw-$bs-qd$qd"
        run "kernel-$hcd-$rw-$bs-qd$qd" fio --name=kernel --filename="$dev" --direct=1 --ioengine=libaio \
            --rw="$rw" --bs="$bs" --iodepth="$qd" --numjobs=1 --norandommap --size=16M \
            --runtime="$secs" --ramp_time=1 --time_based --lat_percentiles=1 --output-format=json
    done
done
if command -v strace >/dev/null; then
    dev=$(dev_by_serial bench-x)
    log "strace-kernel"
    strace_runs kernel fio --name=kernel --filename="$dev" --direct=1 --ioengine=libaio --rw=randread --bs=4k \
        --iodepth=1 --numjobs=1 --norandommap --size=16M --runtime=@T@ --time_based --output-format=json
fi
# Back to ours, to see that nothing drifted while the kernel ran.
unload_modules uas usb-storage 2>/dev/null || unload_modules usb-storage
sleep 1
spec=$(spec_of xhci); [ -n "$spec" ] || fail "no device for xhci after the kernel let go"
IFS=: read -r rw bs qd <<<"${ORIONSTOR_T_WORKLOADS%% *}"
ours "again-xhci-on-$rw-$bs-qd$qd" "$spec" on "$rw" "$bs" "$qd"
GUEST

vm_boot || vm_fail "guest script failed"
python3 - "$VM_LIBDIR" "$VM_WORK" "$SECS" "$WORKLOADS" "$RA_PAIRS" <<'PY' || vm_fail "not a valid measurement (see above); raw results in $VM_SHARE"
import json
import sys
sys.path.insert(0, sys.argv[1])
import benchreport as br
work, secs, workloads, ra_pairs = sys.argv[2], int(sys.argv[3]), sys.argv[4].split(), int(sys.argv[5])
share = work + "/share"
problems, results, gains = [], [], []
def get(kind, name, what, side="read"):
    try:
        return br.load(kind, "%s/%s.json" % (share, name), what, side)
    except br.Invalid as e:
        problems.append(str(e))
        return None
def row(hcd, w, path, kind, name, kernel):
    rw, bs, qd = w.split(":")
    m = get(kind, name, "%s %s %s qd%s, %s" % (hcd, rw, bs, qd, path), "write" if "write" in rw else "read")
    results.append({"hcd": hcd, "workload": "%s-%s-qd%s" % (rw, bs, qd), "rw": rw, "bs": bs, "qd": int(qd),
                    "path": path, "result": m, "vs_kernel": None if kind == "fio" else br.ratio(m, kernel)})
    return m
for hcd in ("xhci", "ehci"):
    for i, w in enumerate(workloads):
        rw, bs, qd = w.split(":")
        k = row(hcd, w, "kernel usb-storage (fio)", "fio", "kernel-%s-%s-%s-qd%s" % (hcd, rw, bs, qd), None)
        modes = (["off", "queued", "force"] + (["cbw"] if hcd == "xhci" else []) + ["on"]) if i == 0 else ["on"]
        for mode in modes:
            row(hcd, w, "ours pipeline=%s" % mode, "ours", "ours-%s-%s-%s-%s-qd%s" % (hcd, mode, rw, bs, qd), k)
        if rw == "read":
            plain = next(r["result"] for r in reversed(results) if r["path"] == "ours pipeline=on")
            nora = row(hcd, w, "ours + cache, no read-ahead", "ours", "ours-%s-nora-%s-%s-qd%s" % (hcd, rw, bs, qd), k)
            ra = row(hcd, w, "ours + cache read-ahead", "ours", "ours-%s-ra-%s-%s-qd%s" % (hcd, rw, bs, qd), k)
            pairs = [br.ratio(ra, nora)]
            for p in range(2, ra_pairs + 1):
                name = "ours-%s-%%s-%s-%s-qd%s-%d" % (hcd, rw, bs, qd, p)
                what = "%s %s %s qd%s, pair %d, %%s" % (hcd, rw, bs, qd, p)
                pairs.append(br.ratio(get("ours", name % "ra", what % "read-ahead"),
                                      get("ours", name % "nora", what % "no read-ahead")))
            known = sorted(x for x in pairs if x)
            median = known[len(known) // 2] if len(known) % 2 else (
                (known[len(known) // 2 - 1] + known[len(known) // 2]) / 2 if known else None)
            gains.append((hcd, w, median, br.ratio(ra, plain), pairs))
w = workloads[0]
rw, bs, qd = w.split(":")
k0 = next(r["result"] for r in results if r["hcd"] == "xhci" and r["path"].startswith("kernel"))
row("xhci", w, "ours pipeline=on, again", "ours", "again-xhci-on-%s-%s-qd%s" % (rw, bs, qd), k0)

title = ("QEMU TCG guest, usb-storage (Bulk-Only), 16 MiB of a 32 MiB disk: %d s per run after a 1 s ramp; "
         "latency in us, submission to completion" % secs)
fmt = "%-5s %-17s %-26s %9s %8s %9s %9s %9s  %s"
out = [title, fmt % ("hcd", "workload", "path", "IOPS", "MB/s", "lat mean", "lat p50", "lat p99", "ours/kernel"),
       "-" * 113]
prev = None
for r in results:
    m, key = r["result"], (r["hcd"], r["workload"])
    if prev and key != prev:
        out.append("")
    prev = key
    c = ("%9.0f %8.2f %9.1f %9.1f %9.1f" % (m["iops"], m["mb_s"], m["lat_mean_us"], m["lat_p50_us"], m["lat_p99_us"])
         if m else "%9s %8s %9s %9s %9s" % ("FAILED", "-", "-", "-", "-"))
    rat = r["vs_kernel"]
    out.append(("%-5s %-17s %-26s %s  %s" % (r["hcd"], "%s %s qd%d" % (r["rw"], r["bs"], r["qd"]), r["path"], c,
                                             "%5.2fx" % rat if rat else "")).rstrip())
# System calls per 4 KiB read at QD1 (xHCI): the difference of two runs.
def strace_total(path):
    calls = {}
    with open(path) as f:
        for line in f:
            p = line.split()
            if len(p) >= 5 and p[0][0].isdigit() and not line.startswith("100.00"):
                name = p[-1]
                try:
                    calls[name] = int(p[3])
                except ValueError:
                    pass
    return calls
syscalls = {}
for side, kind in (("ours", "ours"), ("ours-queued", "ours"), ("kernel", "fio")):
    try:
        a = get(kind, "strace-%s-1" % side, "strace, %s, 1 s" % side)
        b = get(kind, "strace-%s-%d" % (side, secs + 1), "strace, %s, %d s" % (side, secs + 1))
        if not a or not b:
            continue
        ca = strace_total("%s/strace-%s-1.txt" % (share, side))
        cb = strace_total("%s/strace-%s-%d.txt" % (share, side, secs + 1))
        dios = b["ios"] - a["ios"]
        if dios <= 0:
            problems.append("strace, %s: the longer run read no more than the shorter" % side)
            continue
        per = {k: (cb.get(k, 0) - ca.get(k, 0)) / dios for k in set(ca) | set(cb)}
        per = {k: v for k, v in per.items() if v >= 0.05}
        syscalls[side] = {"per_command": sum(per.values()), "by_call": per, "reads": dios}
        if kind == "ours":
            # The library's own count (counter usb_system_calls), the
            # same difference: what strace is checked against.
            own = []
            for t in (1, secs + 1):
                with open("%s/strace-%s-%d.json" % (share, side, t)) as f:
                    own.append(json.load(f).get("transport", {}).get("usb_system_calls"))
            if None not in own:
                syscalls[side]["own_count"] = (own[1] - own[0]) / dios
    except OSError as e:
        problems.append("strace, %s: %s" % (side, e))
if gains:
    out.append("")
for hcd, w, vs_nora, vs_plain, pairs in gains:
    rw, bs, qd = w.split(":")
    f = lambda x: "%.2fx" % x if x else "-"
    out.append("%s %s %s qd%s: read-ahead %s the cache without it%s, %s no cache" % (
        hcd, rw, bs, qd, f(vs_nora),
        " (median of %d pairs: %s)" % (len(pairs), " ".join(f(x) for x in pairs)) if len(pairs) > 1 else "",
        f(vs_plain)))
for side, v in syscalls.items():
    out.append("")
    out.append("system calls per 4 KiB read, QD1, xHCI, %s: %.1f (%s; %d reads)%s" % (
        side, v["per_command"], ", ".join("%s %.1f" % kv for kv in sorted(v["by_call"].items(), key=lambda kv: -kv[1])),
        v["reads"], "; the library's own count %.1f" % v["own_count"] if "own_count" in v else ""))
table = "\n".join(out) + "\n"
br.write_summary(work, {"bench": "usb", "seconds": secs, "ramp_seconds": 1, "span_bytes": 16 << 20,
                        "valid": not problems, "problems": problems, "results": results,
                        "syscalls": syscalls,
                        "read_ahead_gain": [{"hcd": h, "workload": w, "vs_cache_without": a, "vs_no_cache": b,
                                             "vs_cache_without_pairs": p}
                                            for h, w, a, b, p in gains]}, table)
print(table, end="")
print("summary: %s/summary.json" % work)
if problems:
    print("NOT A VALID MEASUREMENT:")
    for p in problems:
        print("  " + p)
    sys.exit(1)
PY
[ "${ORIONSTOR_VM_KEEP:-0}" = 1 ] || rm -f "$VM_WORK/bx.img" "$VM_WORK/be.img"
ORIONSTOR_VM_KEEP=1 vm_pass
