#!/bin/bash
# The kernel's uas driver against liborionstor's UAS engine on QEMU's
# usb-uas behind qemu-xhci (SuperSpeed, bulk streams), in one guest, with
# the same parameters on both sides:
#
#   4 KiB random read, queue depth 1 (per-command latency) and 32 (commands
#     in flight at once: QEMU's usb-uas has 16 streams, so 14 on the device
#     for ours, the rest waiting in the engine)
#   128 KiB sequential read and write, queue depth 8 (MB/s)
#
# Ours is `orionstor bench` on usb:BUS.DEVNUM (one thread owning the
# device's queue and polling it); the kernel's side is fio (O_DIRECT,
# libaio, one job, --norandommap) on the sd block device of uas.  Every
# run uses the first 16 MiB of its disk (written, not sparse), for
# BENCH_SECONDS after a 1 s ramp.  At the end ours runs once more (4 KiB,
# QD1) to show that nothing drifted while the kernel ran.  The host prints
# one table (IOPS, MB/s, latency mean/p50/p99 from submission to
# completion, ratio ours/kernel) and keeps it, machine-readable, in the
# work dir: tests/vm/work/bench-uas/summary.json (and summary.txt, the raw
# JSON in share/); the work dir stays after a pass, the next run replaces
# it.
#
# Fails (FAIL, exit 1, no PASS) when any run measured nothing, reported
# an error, or its program (fio, orionstor bench) exited non-zero.  A low
# ratio is not a failure: a measurement, not a test (check-vm does not run
# it, the name does not start with t-).
#
#   bash tests/vm/bench-uas.sh               # 5 s per run (9 runs)
#   BENCH_SECONDS=10 bash tests/vm/bench-uas.sh
#
# Needs fio on the host (tests/vm/install-deps.sh).  Under TCG every
# number is dominated by emulation; compare them with each other, not with
# hardware.
. "$(dirname "$0")/lib/vm.sh"
vm_init bench-uas
SECS=${BENCH_SECONDS:-5}
case $SECS in ''|*[!0-9]*|0) vm_fail "BENCH_SECONDS=$SECS: expected whole seconds, at least 1" ;; esac
# PATTERN:BS:QD, spelled as both fio and orionstor bench take them.
WORKLOADS="randread:4k:1 randread:4k:32 read:128k:8 write:128k:8"
export ORIONSTOR_T_SECS=$SECS ORIONSTOR_T_WORKLOADS=$WORKLOADS
command -v fio >/dev/null || vm_fail "fio is not installed on the host (tests/vm/install-deps.sh)"
# 9 runs; each: ramp + run time + a few seconds to start a program
# through 9p under TCG.
ORIONSTOR_VM_TIMEOUT=${ORIONSTOR_VM_TIMEOUT:-$((150 + 11 * (SECS + 12)))}
VM_TIMEOUT=$ORIONSTOR_VM_TIMEOUT

vm_usb_ctrl xhci xhci
# Written, not sparse: every read goes to page-cached data, not to a hole.
vm_image bx 32M; head -c 32M /dev/urandom >"$VM_IMAGE"; vm_drive bx "$VM_IMAGE"
vm_usb_uas xhci uas0
vm_scsi_hd uas0 0 0 bx serial=bench-uas

vm_guest <<'GUEST'
S=/run/vm
B=$ORIONSTOR_BUILDDIR/tools/orionstor
secs=$ORIONSTOR_T_SECS
export ORIONSTOR_CONF=/dev/null
load_modules xhci-pci
wait_usb 1 60
command -v fio >/dev/null || fail "fio is not installed on the host (tests/vm/install-deps.sh)"
spec_of() { "$B" list 2>/dev/null | awk '/^usb:/ && /super speed/ {print $1; exit}'; }
# run NAME CMD...: NAME.json, NAME.json.err, NAME.json.rc in the share;
# the host judges them (a failed run does not stop the others).
run() {
    local out=$S/$1.json; shift
    "$@" >"$out" 2>"$out.err"
    echo $? >"$out.rc"
}
ours() { # NAME SPEC RW BS QD
    log "$1"
    run "$1" "$B" bench -d "$2" --rw "$3" --bs "$4" --qd "$5" --threads 1 --span 16M --runtime "$secs" \
        --ramp 1 --json
}
spec=$(spec_of); [ -n "$spec" ] || fail "no SuperSpeed UAS device"
"$B" info -d "$spec" | tee $S/info
grep -q "scsi/uas, super speed" $S/info || fail "not driven as UAS at SuperSpeed"
for w in $ORIONSTOR_T_WORKLOADS; do
    IFS=: read -r rw bs qd <<<"$w"
    ours "ours-$rw-$bs-qd$qd" "$spec" "$rw" "$bs" "$qd"
done
load_modules uas sd_mod sg
wait_scsi_devices 1 60
dev=$(dev_by_serial bench-uas)
[ -b "$dev" ] || fail "no block device for serial bench-uas: $dev"
cat /sys/block/${dev#/dev/}/device/queue_depth >$S/kernel-queue-depth 2>/dev/null || true
for w in $ORIONSTOR_T_WORKLOADS; do
    IFS=: read -r rw bs qd <<<"$w"
    log "kernel-$rw-$bs-qd$qd"
    run "kernel-$rw-$bs-qd$qd" fio --name=kernel --filename="$dev" --direct=1 --ioengine=libaio \
        --rw="$rw" --bs="$bs" --iodepth="$qd" --numjobs=1 --norandommap --size=16M \
        --runtime="$secs" --ramp_time=1 --time_based --lat_percentiles=1 --output-format=json
done
# Back to ours, to see that nothing drifted while the kernel ran.
unload_modules uas
wait_for 30 eval "[ -n \"\$(spec_of)\" ]" || fail "no device after the kernel let go"
IFS=: read -r rw bs qd <<<"${ORIONSTOR_T_WORKLOADS%% *}"
ours "again-$rw-$bs-qd$qd" "$(spec_of)" "$rw" "$bs" "$qd"
GUEST

vm_boot || vm_fail "guest script failed"
python3 - "$VM_LIBDIR" "$VM_WORK" "$SECS" "$WORKLOADS" <<'PY' || vm_fail "not a valid measurement (see above); raw results in $VM_SHARE"
import sys
sys.path.insert(0, sys.argv[1])
import benchreport as br
work, secs, workloads = sys.argv[2], int(sys.argv[3]), sys.argv[4].split()
share = work + "/share"
problems, results = [], []
def get(kind, name, what, side):
    try:
        return br.load(kind, "%s/%s.json" % (share, name), what, side)
    except br.Invalid as e:
        problems.append(str(e))
        return None
def row(w, path, kind, name, kernel):
    rw, bs, qd = w.split(":")
    side = "write" if "write" in rw else "read"
    m = get(kind, name, "%s %s qd%s, %s" % (rw, bs, qd, path), side)
    results.append({"workload": "%s-%s-qd%s" % (rw, bs, qd), "rw": rw, "bs": bs, "qd": int(qd), "path": path,
                    "result": m, "vs_kernel": None if kind == "fio" else br.ratio(m, kernel)})
    return m
for w in workloads:
    rw, bs, qd = w.split(":")
    k = row(w, "kernel uas (fio)", "fio", "kernel-%s-%s-qd%s" % (rw, bs, qd), None)
    row(w, "ours", "ours", "ours-%s-%s-qd%s" % (rw, bs, qd), k)
w = workloads[0]
rw, bs, qd = w.split(":")
k0 = results[0]["result"]
row(w, "ours, again", "ours", "again-%s-%s-qd%s" % (rw, bs, qd), k0)
try:
    qdk = open(share + "/kernel-queue-depth").read().strip()
except OSError:
    qdk = "?"
title = ("QEMU TCG guest, usb-uas on qemu-xhci (SuperSpeed, bulk streams), 16 MiB of a 32 MiB disk: %d s per run "
         "after a 1 s ramp; latency in us, submission to completion; the kernel's sd queue depth %s" % (secs, qdk))
fmt = "%-19s %-18s %9s %8s %9s %9s %9s  %s"
out = [title, fmt % ("workload", "path", "IOPS", "MB/s", "lat mean", "lat p50", "lat p99", "ours/kernel"), "-" * 100]
prev = None
for r in results:
    m = r["result"]
    if prev and r["workload"] != prev:
        out.append("")
    prev = r["workload"]
    c = ("%9.0f %8.2f %9.1f %9.1f %9.1f" % (m["iops"], m["mb_s"], m["lat_mean_us"], m["lat_p50_us"], m["lat_p99_us"])
         if m else "%9s %8s %9s %9s %9s" % ("FAILED", "-", "-", "-", "-"))
    rat = r["vs_kernel"]
    out.append(("%-19s %-18s %s  %s" % ("%s %s qd%d" % (r["rw"], r["bs"], r["qd"]), r["path"], c,
                                        "%5.2fx" % rat if rat else "")).rstrip())
table = "\n".join(out) + "\n"
br.write_summary(work, {"bench": "uas", "seconds": secs, "ramp_seconds": 1, "span_bytes": 16 << 20,
                        "valid": not problems, "problems": problems, "results": results,
                        "kernel_queue_depth": qdk}, table)
print(table, end="")
print("summary: %s/summary.json" % work)
if problems:
    print("NOT A VALID MEASUREMENT:")
    for p in problems:
        print("  " + p)
    sys.exit(1)
PY
[ "${ORIONSTOR_VM_KEEP:-0}" = 1 ] || rm -f "$VM_WORK/bx.img"
ORIONSTOR_VM_KEEP=1 vm_pass
