#!/bin/bash
# Issue 16: no stall under queued random reads.  On QEMU's virtio-scsi-pci
# (one guest vCPU: QEMU before 8.1 under TCG then drops the guest's memory
# fences, which loses notifications), split and packed rings with four
# request queues each, our driver runs random 4 KiB reads to completion:
# QD32 and QD128 as the owner of one queue, QD32 on four queues from four
# threads, QD32 and QD128 through the shared queues with polled and with
# interrupt completion.  Every run must complete every read with no
# error and no 2-second window without a completion while reads are in
# flight (tests/bench/virtio-randread fails on any of those); the total
# of notifications our watch had to repeat is reported.
#   ORIONSTOR_T_STALL_IOS=N   reads per run and queue (default 20000)
. "$(dirname "$0")/lib/vm.sh"
vm_init virtio-stall
VM_MEM=1024
export ORIONSTOR_T_IOS=${ORIONSTOR_T_STALL_IOS:-20000}

vm_virtio_scsi scsi0 num_queues=4
vm_virtio_scsi scsi1 num_queues=4 packed=on
vm_image s0 64M; vm_drive s0 "$VM_IMAGE"
vm_image p0 64M; vm_drive p0 "$VM_IMAGE"
vm_scsi_hd scsi0 0 0 s0 serial=split0
vm_scsi_hd scsi1 0 0 p0 serial=packed0

vm_guest <<'GUEST'
S=/run/vm
B=$ORIONSTOR_BUILDDIR/tests/bench/virtio-randread
n=$ORIONSTOR_T_IOS
set -- $(find_pci 1af4 1048)
[ $# = 2 ] || fail "expected two modern virtio-scsi functions, got '$*'"
for bdf; do bind_uio "$bdf" >/dev/null; done
reserve_hugepages 128
export ORIONSTOR_CONF=/dev/null ORIONSTOR_VIRTIO_QUEUES=4
: >$S/runs
for bdf; do
    for run in "--qd 32" "--qd 128" "--qd 32 --threads 4" "--qd 32 --shared" "--qd 128 --shared" \
               "intr --qd 32 --shared" "intr --qd 128 --shared"; do
        args=${run#intr }
        if [ "$args" != "$run" ]; then mode=1; else mode=0; fi
        out=$(ORIONSTOR_VIRTIO_INTERRUPTS=$mode timeout 300 $B -d virtio:$bdf $args --ios $n \
              --stall-ms 2000 2>&1) || fail "virtio:$bdf ($run): $out"
        echo "$bdf interrupts=$mode $out" | tee -a $S/runs
    done
done
GUEST

vm_boot || vm_fail "guest script failed"
[ "$(grep -c 'randread ' "$VM_SHARE/runs")" = 14 ] || vm_fail "expected 14 runs: $(cat "$VM_SHARE/runs")"
grep -v 'errors=0 ' "$VM_SHARE/runs" | grep -q . && vm_fail "errors reported"
total=$(sed -n 's/.*renotifies=\([0-9]*\).*/\1/p' "$VM_SHARE/runs" | awk '{ t += $1 } END { print t + 0 }')
vm_log "notifications repeated by the watch over 14 runs: $total"
vm_pass
