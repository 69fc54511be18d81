#!/bin/bash
# nbdkit-orionstor-plugin against nbdkit's file plugin on one QEMU
# virtio-scsi disk, in one guest, both measured by fio's nbd engine with
# the same parameters (4 KiB random read, queue depth 32, one job,
# --norandommap):
#
#   kernel:  virtio_scsi + sd (/dev/sdX) exported by `nbdkit file`
#            (cache=none fadvise=random: no page-cache hits)
#   ours:    the function bound to uio_pci_generic, driven by liborionstor's
#            virtio backend inside nbdkit (device=virtio:BDF)
#
# Both nbdkit servers listen on a Unix socket with their default thread
# count.  The host prints one table (IOPS, MB/s, latency mean/p99 as fio
# sees it through NBD, ratio ours/kernel) and keeps it in the work dir:
# tests/vm/work/bench-nbdkit/summary.{json,txt}, raw fio JSON in share/.
# Fails when a run measured nothing, reported an error or fio exited
# non-zero; a low ratio is not a failure (not a test: the name does not
# start with t-).  TCG only: the numbers compare the two stacks on one
# emulated device, nothing about hardware.
#
#   bash tests/vm/bench-nbdkit.sh            # 10 s per run after a 1 s ramp
#   BENCH_SECONDS=20 bash tests/vm/bench-nbdkit.sh
. "$(dirname "$0")/lib/vm.sh"
vm_init bench-nbdkit
VM_MEM=1024
SECS=${BENCH_SECONDS:-10}
case $SECS in ''|*[!0-9]*|0) vm_fail "BENCH_SECONDS=$SECS: expected whole seconds, at least 1" ;; esac
WORKLOADS="randread:4k:32"
export ORIONSTOR_T_SECS=$SECS ORIONSTOR_T_WORKLOADS=$WORKLOADS
command -v fio >/dev/null || vm_fail "fio is not installed on the host (tests/vm/install-deps.sh)"
fio --enghelp 2>/dev/null | grep -qw nbd || vm_fail "this fio has no nbd engine"
ORIONSTOR_VM_TIMEOUT=${ORIONSTOR_VM_TIMEOUT:-$((200 + 2 * (SECS + 20)))}
VM_TIMEOUT=$ORIONSTOR_VM_TIMEOUT

vm_virtio_scsi scsi0 num_queues=1
vm_image b0 1G
# Data everywhere, so that neither side reads holes.
dd if=/dev/urandom of="$VM_IMAGE" bs=1M count=1024 conv=notrunc status=none
vm_drive b0 "$VM_IMAGE"
vm_scsi_hd scsi0 0 0 b0 serial=bench

vm_guest <<'GUEST'
S=/run/vm
secs=$ORIONSTOR_T_SECS
bdf=$(find_pci 1af4 1048)
[ -n "$bdf" ] || fail "no virtio-scsi PCI function"
load_modules virtio_scsi sg sd_mod uio_pci_generic
wait_scsi_devices 1 30 virtio_scsi
dev=$(dev_by_serial bench)
[ -b "$dev" ] || fail "no block device for serial bench: $dev"
# run NAME CMD...: NAME.json, NAME.json.err, NAME.json.rc in the share.
run() {
    local out=$S/$1.json; shift
    "$@" >"$out" 2>"$out.err"
    echo $? >"$out.rc"
}
fio_nbd() {
    local name=$1 rw=$2 bs=$3 qd=$4
    run "$name-$rw-$bs-qd$qd" fio --name="$name" --ioengine=nbd --uri="$NBD_URI" \
        --rw="$rw" --bs="$bs" --iodepth="$qd" --numjobs=1 --norandommap \
        --runtime="$secs" --ramp_time=1 --time_based --lat_percentiles=1 --output-format=json
}
rm -f "$NBD_SOCK"
nbdkit -U "$NBD_SOCK" -P "$NBD_PIDFILE" file file="$dev" cache=none fadvise=random 2>"$S/nbdkit-file.err" ||
    fail "nbdkit file did not start: $(cat "$S/nbdkit-file.err")"
wait_for 10 test -S "$NBD_SOCK" || fail "no socket (nbdkit file)"
wait_for 10 test -s "$NBD_PIDFILE" || fail "no pid file (nbdkit file)"
sync; echo 3 >/proc/sys/vm/drop_caches
for w in $ORIONSTOR_T_WORKLOADS; do
    IFS=: read -r rw bs qd <<<"$w"
    log "kernel (nbdkit file $dev) $rw $bs qd $qd"
    fio_nbd kernel "$rw" "$bs" "$qd"
done
kill "$(nbdkit_pid)" || fail "kill nbdkit file"
wait_for 10 eval "! kill -0 $(nbdkit_pid) 2>/dev/null" || fail "nbdkit file did not exit"
unload_modules sd_mod virtio_scsi
bind_uio "$bdf" >/dev/null
reserve_hugepages 64
export ORIONSTOR_CONF=/dev/null
nbdkit_start "virtio:$bdf" >/dev/null
for w in $ORIONSTOR_T_WORKLOADS; do
    IFS=: read -r rw bs qd <<<"$w"
    log "ours (nbdkit orionstor virtio:$bdf) $rw $bs qd $qd"
    fio_nbd ours "$rw" "$bs" "$qd"
done
nbdkit_stop
GUEST

vm_boot || vm_fail "guest script failed"
python3 - "$VM_LIBDIR" "$VM_WORK" "$SECS" "$WORKLOADS" <<'PY' || vm_fail "not a valid measurement (see above); raw results in $VM_SHARE"
import sys
sys.path.insert(0, sys.argv[1])
import benchreport as br
work, secs, workloads = sys.argv[2], int(sys.argv[3]), sys.argv[4]
share = work + "/share"
sides = [("kernel", "nbdkit file on virtio_scsi /dev/sdX"), ("ours", "nbdkit orionstor on virtio:BDF")]
problems, results = [], []
for w in workloads.split():
    rw, bs, qd = w.split(":")
    name = "%s-%s-qd%s" % (rw, bs, qd)
    res = {"workload": name, "rw": rw, "bs": bs, "qd": int(qd)}
    for side, label in sides:
        try:
            res[side] = br.load("fio", "%s/%s-%s.json" % (share, side, name), "%s, %s" % (label, name))
        except br.Invalid as e:
            res[side] = None
            problems.append(str(e))
    res["ours_vs_kernel"] = br.ratio(res["ours"], res["kernel"])
    results.append(res)

title = ("QEMU TCG guest, virtio-scsi-pci (1 queue, 1 GiB disk), fio nbd engine over a Unix socket: "
         "%d s per run after a 1 s ramp; latency in us as fio sees it" % secs)
hdr = "%9s %8s %9s %9s" % ("IOPS", "MB/s", "lat mean", "lat p99")
out = [title,
       "%-20s | %-38s | %-38s | %s" % ("", "nbdkit file, kernel virtio_scsi", "nbdkit orionstor, our virtio", "ours/"),
       "%-20s | %s | %s | %s" % ("workload", hdr, hdr, "kernel"),
       "-" * 111]
for r in results:
    rat = r["ours_vs_kernel"]
    out.append("%-20s | %s | %s | %s" % ("%s %s qd%d" % (r["rw"], r["bs"], r["qd"]), br.cells(r["kernel"]),
                                         br.cells(r["ours"]), "%5.2fx" % rat if rat else "  -"))
table = "\n".join(out) + "\n"
br.write_summary(work, {"bench": "nbdkit", "queues": 1, "seconds": secs, "ramp_seconds": 1,
                        "valid": not problems, "problems": problems, "results": results}, table)
print(table, end="")
print("summary: %s/summary.json" % work)
if problems:
    print("NOT A VALID MEASUREMENT:")
    for p in problems:
        print("  " + p)
    sys.exit(1)
PY
[ "${ORIONSTOR_VM_KEEP:-0}" = 1 ] || rm -f "$VM_WORK/b0.img"
ORIONSTOR_VM_KEEP=1 vm_pass
