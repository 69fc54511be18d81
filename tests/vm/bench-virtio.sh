#!/bin/bash
# 4K random-read IOPS at queue depth 1 and 32 on one QEMU virtio-scsi disk,
# in one guest: the kernel's virtio_scsi (fio, O_DIRECT, libaio) first,
# then liborionstor's polled path (tests/bench/virtio-randread: the thread
# owns request queue 0, zero-copy buffers) on the same function bound to
# uio_pci_generic.  Fails (no PASS) when a run completed nothing, had
# errors, stalled or measured less than asked (virtio-randread exits 1
# then; the kernel's fio results are checked too).
# A measurement, not a test: run it by hand
# (check-vm does not, the name does not start with t-).
#
#   bash tests/vm/bench-virtio.sh            # 10 s per run
#   BENCH_SECONDS=20 BENCH_RING=packed bash tests/vm/bench-virtio.sh
#   BENCH_INTR=1 ...                         # also our interrupt mode
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
export ORIONSTOR_T_SECS=$SECS ORIONSTOR_T_INTR=${BENCH_INTR:-0}
command -v fio >/dev/null || vm_fail "fio is not installed on the host (tests/vm/install-deps.sh)"
ORIONSTOR_VM_TIMEOUT=${ORIONSTOR_VM_TIMEOUT:-$((120 + SECS * 12))}
VM_TIMEOUT=$ORIONSTOR_VM_TIMEOUT

props=(num_queues=1)
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
load_modules virtio_scsi sg sd_mod uio_pci_generic
wait_scsi_devices 1 30 virtio_scsi
dev=$(dev_by_serial bench)
for qd in 1 32; do
    fio --name=k$qd --filename="$dev" --direct=1 --ioengine=libaio --rw=randread --bs=4k \
        --iodepth=$qd --runtime=$secs --ramp_time=1 --time_based --numjobs=1 \
        --output-format=json >$S/fio-qd$qd.json 2>$S/fio-qd$qd.err || fail "fio qd $qd"
done
unload_modules sd_mod virtio_scsi
bind_uio "$bdf" >/dev/null
reserve_hugepages 64
export ORIONSTOR_CONF=/dev/null
for qd in 1 32; do
    $B/tests/bench/virtio-randread -d virtio:$bdf --qd $qd --seconds $secs --warmup 1 >$S/ours-qd$qd ||
        fail "ours qd $qd: $(cat $S/ours-qd$qd)"
    if [ "$ORIONSTOR_T_INTR" = 1 ]; then
        ORIONSTOR_VIRTIO_INTERRUPTS=1 $B/tests/bench/virtio-randread -d virtio:$bdf --qd $qd \
            --seconds $secs --warmup 1 >$S/intr-qd$qd || fail "ours (interrupts) qd $qd"
    fi
done
GUEST

vm_boot || vm_fail "guest script failed"
python3 - "$VM_SHARE" "$SECS" "$RING" <<'PY' || vm_fail "not a valid measurement (see above)"
import json, os, re, sys
S, secs, ring = sys.argv[1], sys.argv[2], sys.argv[3]
def fio(qd):
    j = json.load(open("%s/fio-qd%d.json" % (S, qd)))["jobs"][0]
    r = j["read"]
    if j.get("error", 0) or r["total_ios"] == 0 or r["iops"] <= 0:
        sys.exit("kernel qd %d: not a valid measurement (error %s, %d reads)" % (qd, j.get("error", 0), r["total_ios"]))
    return r["iops"], r["clat_ns"]["mean"] / 1000.0
def ours(name, qd):
    p = "%s/%s-qd%d" % (S, name, qd)
    if not os.path.exists(p):
        return None
    t = open(p).read()
    iops, lat = float(re.search(r"iops=([0-9.]+)", t).group(1)), float(re.search(r"avg_lat_us=([0-9.]+)", t).group(1))
    if iops <= 0 or " errors=0 " not in t:
        sys.exit("%s qd %d: not a valid measurement: %s" % (name, qd, t.strip()))
    return iops, lat
print("4K random read, QEMU TCG guest, virtio-scsi-pci (%s rings, 1 queue), %s s per run" % (ring, secs))
print("%-4s %28s %28s %10s" % ("QD", "kernel virtio_scsi (fio)", "liborionstor polled", "ratio"))
for qd in (1, 32):
    k, o = fio(qd), ours("ours", qd)
    if o is None:
        sys.exit("ours qd %d: no result" % qd)
    print("%-4d %14.0f IOPS %6.0f us %14.0f IOPS %6.0f us %9.2fx" % (qd, k[0], k[1], o[0], o[1], o[0] / k[0]))
    i = ours("intr", qd)
    if i:
        print("%-4s %28s %14.0f IOPS %6.0f us  (liborionstor, interrupt mode)" % ("", "", i[0], i[1]))
for name in ("ours", "intr"):
    for qd in (1, 32):
        p = "%s/%s-qd%d" % (S, name, qd)
        if os.path.exists(p):
            print("  %s: %s" % (name, open(p).read().strip()))
PY
vm_pass
