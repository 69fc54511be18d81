#!/bin/bash
# Task management through our userspace virtio-scsi driver on QEMU's
# virtio-scsi-pci (issue 8): the disk's drive is throttled to 2 IOPS, so
# reads stay in flight; ostor_task_abort() of the last one, then
# ostor_reset() of the LUN, the target (I_T nexus) and the device, each
# with six reads in flight.  Every read completes exactly once (aborted,
# good, or with the reset's unit attention); the aborted one as aborted;
# after each reset nothing is left hanging and I/O works.
. "$(dirname "$0")/lib/vm.sh"
vm_init virtio-ours-tmf
VM_MEM=640

vm_virtio_scsi scsi0 num_queues=1
vm_image d0 16M; vm_drive d0 "$VM_IMAGE" throttling.iops-total=2
vm_scsi_hd scsi0 0 0 d0 serial=tmf-d0

vm_guest <<'GUEST'
B=$ORIONSTOR_BUILDDIR
S=/run/vm
bdf=$(find_pci 1af4 1048)
bind_ours "$bdf" >/dev/null
reserve_hugepages 64
export ORIONSTOR_CONF=/dev/null
timeout 600 $B/tests/vm/virtio-ours-helper tmf -d virtio:$bdf >$S/tmf 2>&1 || { cat $S/tmf; fail "tmf helper"; }
cat $S/tmf
GUEST

vm_boot || vm_fail "guest script failed"
python3 - "$VM_SHARE/tmf" <<'PY' || vm_fail "unexpected results (see above)"
import re, sys
t = open(sys.argv[1]).read()
bad = []
def check(ok, what):
    print(("ok   " if ok else "FAIL ") + what)
    if not ok:
        bad.append(what)
check("abort: outcome=done result=aborted" in t, "the throttled read in flight was aborted (ABORT TASK)")
for what in ("lun-reset", "target-reset", "device-reset"):
    check("%s: outcome=done" % what in t, what + " done at its level")
    m = re.search(r"after %s: good=(\d+) aborted=(\d+) unit-attention=(\d+) other=0" % what, t)
    check(m is not None and sum(int(x) for x in m.groups()) == 6 and int(m.group(2)) >= 1,
          what + ": every read back once, the ones in flight as aborted")
# When QEMU is slow to give the read back (its cancel waits for the
# throttled I/O), the driver escalates to LOGICAL UNIT RESET, which aborts
# the other reads of the LUN too.
m = re.search(r"after abort: good=(\d+) aborted=(\d+) unit-attention=(\d+) other=0", t)
check(m is not None and sum(int(x) for x in m.groups()) == 6 and int(m.group(2)) >= 1,
      "abort: every read back once, the aborted one as aborted")
check("tmf: read after the resets ok" in t, "I/O works after all of it")
sys.exit(1 if bad else 0)
PY
vm_pass
