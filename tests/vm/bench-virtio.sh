#!/bin/bash
# The kernel's virtio_scsi against liborionstor on one QEMU virtio-scsi
# disk, in one guest, with the same parameters on both sides:
#
#   4 KiB random read, queue depth 1
#   4 KiB random read, queue depth 32
#   128 KiB sequential read, queue depth 8
#
# The kernel's side is fio (O_DIRECT, libaio, one job, --norandommap) on
# the sd block device; then the function is bound to uio_pci_generic and
# ours is `orionstor bench` (one thread owning request queue 0 and polling
# it, zero-copy DMA buffers) with the same pattern, block size, depth,
# ramp and run time.  Both write fio-style JSON; the host prints one table
# (IOPS, MB/s, latency mean/p99 from submission to completion, ratio
# ours/kernel) and keeps it, machine-readable, in the work dir:
# tests/vm/work/bench-virtio/summary.json (and summary.txt, the raw JSON
# in share/).  The work dir stays after a pass (without the disk image
# unless ORIONSTOR_VM_KEEP=1); the next run replaces it.
#
# Fails (FAIL, exit 1, no PASS) when any run measured nothing, reported
# an error, or its program (fio, orionstor bench) exited non-zero.  A low
# ratio is not a failure: a measurement, not a test (check-vm does not run
# it, the name does not start with t-).
#
#   bash tests/vm/bench-virtio.sh            # 10 s per run (after 1 s ramp)
#   BENCH_SECONDS=20 BENCH_RING=packed bash tests/vm/bench-virtio.sh
#   BENCH_INTR=1 ...                         # ours in interrupt mode too
#                                            # (ORIONSTOR_VIRTIO_INTERRUPTS=1)
#   BENCH_DRIVER=vfio-pci ...                # ours over VFIO (q35 with an
#                                            # Intel IOMMU; interrupts: MSI-X)
#
# Needs fio on the host (tests/vm/install-deps.sh installs it; the guest
# runs the host's binaries).  QEMU runs with TCG, so the numbers compare
# the two drivers on the same emulated device; they say nothing about
# hardware speed.
. "$(dirname "$0")/lib/vm.sh"
vm_init bench-virtio
VM_MEM=1024
SECS=${BENCH_SECONDS:-10}
RING=${BENCH_RING:-split}
INTR=${BENCH_INTR:-0}
DRIVER=${BENCH_DRIVER:-uio_pci_generic}
case $DRIVER in uio_pci_generic) ;; vfio-pci)
    VM_MACHINE=q35; VM_APPEND="intel_iommu=on iommu=pt"; vm_device intel-iommu,intremap=on ;;
    *) vm_fail "BENCH_DRIVER=$DRIVER: expected uio_pci_generic or vfio-pci" ;; esac
case $RING in split|packed) ;; *) vm_fail "BENCH_RING=$RING: expected split or packed" ;; esac
case $SECS in ''|*[!0-9]*|0) vm_fail "BENCH_SECONDS=$SECS: expected whole seconds, at least 1" ;; esac
# PATTERN:BS:QD, spelled as both fio and orionstor bench take them
WORKLOADS="randread:4k:1 randread:4k:32 read:128k:8"
export ORIONSTOR_T_SECS=$SECS ORIONSTOR_T_INTR=$INTR ORIONSTOR_T_WORKLOADS=$WORKLOADS ORIONSTOR_T_DRIVER=$DRIVER
command -v fio >/dev/null || vm_fail "fio is not installed on the host (tests/vm/install-deps.sh)"
# 3 workloads x (kernel, ours[, interrupts]); each run: ramp + run time +
# a few seconds to start a program through 9p under TCG.
ORIONSTOR_VM_TIMEOUT=${ORIONSTOR_VM_TIMEOUT:-$((150 + 3 * (2 + (INTR == 1)) * (SECS + 10)))}
VM_TIMEOUT=$ORIONSTOR_VM_TIMEOUT

props=(num_queues=1)
[ "$DRIVER" = vfio-pci ] && props+=(iommu_platform=on)
[ "$RING" = packed ] && props+=(packed=on)
vm_virtio_scsi scsi0 "${props[@]}"
vm_image b0 1G
# Data everywhere, so that neither side reads holes.
dd if=/dev/urandom of="$VM_IMAGE" bs=1M count=1024 conv=notrunc status=none
vm_drive b0 "$VM_IMAGE"
vm_scsi_hd scsi0 0 0 b0 serial=bench

vm_guest <<'GUEST'
S=/run/vm
B=$ORIONSTOR_BUILDDIR
secs=$ORIONSTOR_T_SECS
bdf=$(find_pci 1af4 1048)
[ -n "$bdf" ] || fail "no virtio-scsi PCI function"
load_modules virtio_scsi sg sd_mod uio_pci_generic vfio-pci
wait_scsi_devices 1 30 virtio_scsi
dev=$(dev_by_serial bench)
[ -b "$dev" ] || fail "no block device for serial bench: $dev"
# run NAME CMD...: NAME.json, NAME.json.err, NAME.json.rc in the share;
# the host judges them (a failed run does not stop the others).
run() {
    local out=$S/$1.json; shift
    "$@" >"$out" 2>"$out.err"
    echo $? >"$out.rc"
}
for w in $ORIONSTOR_T_WORKLOADS; do
    IFS=: read -r rw bs qd <<<"$w"
    log "kernel $rw $bs qd $qd"
    run "kernel-$rw-$bs-qd$qd" fio --name=kernel --filename="$dev" --direct=1 --ioengine=libaio \
        --rw="$rw" --bs="$bs" --iodepth="$qd" --numjobs=1 --norandommap \
        --runtime="$secs" --ramp_time=1 --time_based --lat_percentiles=1 --output-format=json
done
unload_modules sd_mod virtio_scsi
reserve_hugepages 64
export ORIONSTOR_CONF=/dev/null
if [ "$ORIONSTOR_T_DRIVER" = vfio-pci ]; then
    $B/tools/virtio-scsi-device-bind -d "$bdf" --driver vfio-pci || fail "bind to vfio-pci"
else
    bind_uio "$bdf" >/dev/null
fi
for w in $ORIONSTOR_T_WORKLOADS; do
    IFS=: read -r rw bs qd <<<"$w"
    args=(bench -d "virtio:$bdf" --rw "$rw" --bs "$bs" --qd "$qd" --threads 1
          --runtime "$secs" --ramp 1 --json)
    log "ours $rw $bs qd $qd"
    run "ours-$rw-$bs-qd$qd" "$B/tools/orionstor" "${args[@]}"
    if [ "$ORIONSTOR_T_INTR" = 1 ]; then
        log "ours (interrupts) $rw $bs qd $qd"
        run "intr-$rw-$bs-qd$qd" env ORIONSTOR_VIRTIO_INTERRUPTS=1 "$B/tools/orionstor" "${args[@]}"
    fi
done
GUEST

vm_boot || vm_fail "guest script failed"
python3 - "$VM_LIBDIR" "$VM_WORK" "$SECS" "$RING" "$INTR" "$WORKLOADS" "$DRIVER" <<'PY' || vm_fail "not a valid measurement (see above); raw results in $VM_SHARE"
import sys
sys.path.insert(0, sys.argv[1])
import benchreport as br
work, secs, ring, intr, workloads, driver = (sys.argv[2], int(sys.argv[3]), sys.argv[4], sys.argv[5] == "1",
                                             sys.argv[6], sys.argv[7])
share = work + "/share"
sides = [("kernel", "fio", "kernel virtio_scsi (fio)"), ("ours", "ours", "liborionstor polled")]
if intr:
    sides.append(("intr", "ours", "liborionstor interrupts"))
problems, results = [], []
for w in workloads.split():
    rw, bs, qd = w.split(":")
    name = "%s-%s-qd%s" % (rw, bs, qd)
    res = {"workload": name, "rw": rw, "bs": bs, "qd": int(qd)}
    for side, kind, label in sides:
        try:
            res[side] = br.load(kind, "%s/%s-%s.json" % (share, side, name), "%s, %s" % (label, name))
        except br.Invalid as e:
            res[side] = None
            problems.append(str(e))
    for side in ("ours", "intr"):
        if side in res:
            res[side + "_vs_kernel"] = br.ratio(res[side], res["kernel"])
    results.append(res)

title = ("QEMU TCG guest, virtio-scsi-pci (%s rings, 1 queue, 1 GiB disk), ours over %s: %d s per run after "
         "a 1 s ramp; latency in us, submission to completion"
         % (ring, "VFIO (Intel IOMMU, MSI-X)" if driver == "vfio-pci" else "UIO (INTx)", secs))
hdr = "%9s %8s %9s %9s" % ("IOPS", "MB/s", "lat mean", "lat p99")
out = [title,
       "%-20s | %-38s | %-38s | %s" % ("", "kernel virtio_scsi (fio, libaio)", "liborionstor (orionstor bench, polled)", "ours/"),
       "%-20s | %s | %s | %s" % ("workload", hdr, hdr, "kernel"),
       "-" * 111]
for r in results:
    rat = r["ours_vs_kernel"]
    out.append("%-20s | %s | %s | %s" % ("%s %s qd%d" % (r["rw"], r["bs"], r["qd"]), br.cells(r["kernel"]),
                                         br.cells(r["ours"]), "%5.2fx" % rat if rat else "  -"))
    if intr:
        rat = r["intr_vs_kernel"]
        out.append("%-20s | %38s | %s | %s" % ("  ours, interrupts", "", br.cells(r["intr"]),
                                               "%5.2fx" % rat if rat else "  -"))
table = "\n".join(out) + "\n"
br.write_summary(work, {"bench": "virtio", "ring": ring, "queues": 1, "seconds": secs, "ramp_seconds": 1,
                        "interrupts": intr, "valid": not problems, "problems": problems,
                        "results": results}, table)
print(table, end="")
print("summary: %s/summary.json" % work)
if problems:
    print("NOT A VALID MEASUREMENT:")
    for p in problems:
        print("  " + p)
    sys.exit(1)
PY
# Keep the results; the 1 GiB image only with ORIONSTOR_VM_KEEP=1.
[ "${ORIONSTOR_VM_KEEP:-0}" = 1 ] || rm -f "$VM_WORK/b0.img"
ORIONSTOR_VM_KEEP=1 vm_pass
