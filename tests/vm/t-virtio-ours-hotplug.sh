#!/bin/bash
# Our userspace virtio-scsi driver on QEMU's virtio-scsi-pci with packed
# rings and num_queues=1, in interrupt mode (UIO INTx), both chosen in
# orionstor.conf (queue_ring, queue_completion, with interrupt coalescing):
#  - 4 threads share the one request queue; every region is found in the
#    host image;
#  - queue_reset=off: virtio-scsi-queue-reset fails with "not offered";
#  - a scsi-hd hot-plugged through QMP (device_add) while I/O runs is
#    picked up through the event queue (TRANSPORT_RESET/RESCAN) and used;
#    hot-unplugged (device_del) it is dropped (REMOVED): I/O to it fails
#    as "device gone" while target 0 keeps working; the application's event
#    handler (ostor_set_event_handler) hears of both.
. "$(dirname "$0")/lib/vm.sh"
vm_init virtio-ours-hotplug
VM_MEM=640

vm_virtio_scsi scsi0 num_queues=1 packed=on queue_reset=off
vm_image d0 32M; vm_drive d0 "$VM_IMAGE"; IMG_D0=$VM_IMAGE
vm_image hp 8M;  vm_drive hp "$VM_IMAGE"; IMG_HP=$VM_IMAGE   # plugged later
vm_scsi_hd scsi0 0 0 d0 serial=hp-d0

vm_guest <<'GUEST'
B=$ORIONSTOR_BUILDDIR
S=/run/vm
bdf=$(find_pci 1af4 1048)
[ "$(echo "$bdf" | wc -w)" = 1 ] || fail "expected one modern virtio-scsi function, got '$bdf'"
load_modules uio_pci_generic vfio-pci
$B/tools/virtio-scsi-device-bind -d "$bdf" || fail "device-bind"
reserve_hugepages 64
cat >$S/ours.conf <<EOF
[virtio_scsi]
queue_ring = "packed"
queue_completion = "interrupt"
queue_interrupt_coalescing = true
queue_interrupt_coalescing_threshold = 4
queue_interrupt_coalescing_time = 1000
EOF
export ORIONSTOR_CONF=$S/ours.conf
H=$B/tests/vm/virtio-ours-helper
$H mq -d virtio:$bdf --threads 4 --lba 1024 --blocks 512 --io-blocks 8 --qd 8 --seed hq >$S/mq 2>&1 ||
    { cat $S/mq; fail "multi-thread I/O"; }
cat $S/mq
$B/tools/virtio-scsi-device-info -d virtio:$bdf --json >$S/devinfo || fail "device-info"
rc=0; $B/tools/virtio-scsi-queue-reset -d virtio:$bdf --queue 2 >$S/qreset 2>&1 || rc=$?
echo "exit=$rc" >>$S/qreset
$H hotplug -d virtio:$bdf -t 5 --sync $S/sync >$S/hotplug 2>&1 ||
    { cat $S/hotplug; fail "hot-plug"; }
cat $S/hotplug
GUEST

vm_start
vm_wait_guest hp-ready 600
vm_log "guest runs I/O; plugging target 5"
vm_qmp 'device_add driver=scsi-hd bus=scsi0.0 scsi-id:=5 lun:=0 drive=hp id=hp-dev serial=hp-new' ||
    vm_fail "QMP device_add failed"
vm_wait_guest hp-plugged 600
vm_log "guest used the new LUN; unplugging it"
vm_qmp --timeout 30 --wait-event DEVICE_DELETED:hp-dev 'device_del id=hp-dev' ||
    vm_fail "QMP device_del failed"
vm_wait || vm_fail "guest script failed"

python3 - "$VM_SHARE" <<'PY' || vm_fail "unexpected results (see above)"
import json, re, sys
S = sys.argv[1]
bad = []
def check(ok, what):
    print(("ok   " if ok else "FAIL ") + what)
    if not ok:
        bad.append(what)
d = json.load(open(S + "/devinfo"))
check(d["ring"] == "packed" and d["mode"] == "interrupt" and d["num_queues"] == 1,
      "orionstor.conf chose packed rings, interrupt mode; one request queue")
mq = open(S + "/mq").read()
check(mq.count("written and verified\n") == 4, "4 threads on one queue verified")
check("packed rings, interrupt mode, 1 request queue(s)" in mq, "helper saw the same mode")
check(not int(d["device_features"], 16) >> 40 & 1, "queue_reset=off: no VIRTIO_F_RING_RESET")
qr = open(S + "/qreset").read()
check("not offered by this device" in qr and "exit=9" in qr, "queue-reset: clear 'not offered' error: " + qr.strip())
hp = open(S + "/hotplug").read()
check("with hot-plug" in hp, "VIRTIO_SCSI_F_HOTPLUG negotiated")
m = re.search(r"plugged: event seen .* 5:0 QEMU QEMU HARDDISK serial=hp-new bs=512 blocks=16384", hp)
check(m is not None, "the plugged LUN was found through the event queue, with its identity")
check(re.search(r"unplugged: event seen .*-> OSTOR_ERROR_NO_DEVICE; listed=0", hp) is not None,
      "the unplugged LUN is gone: I/O fails as device gone, no longer listed")
check("public event lun-added 5:0" in hp and "public event lun-removed 5:0" in hp,
      "the application's event handler was told: LUN 5:0 added, then removed")
sys.exit(1 if bad else 0)
PY
for i in 0 1 2 3; do
    cmp <(pattern_gen hq$i $((512 * 512))) \
        <(dd if="$IMG_D0" bs=64k iflag=skip_bytes,count_bytes skip=$(((1024 + i * 512) * 512)) \
             count=$((512 * 512)) status=none) || vm_fail "d0.img: region of thread $i"
done
vm_log "d0.img: the 4 thread regions verified"
vm_check_pattern "$IMG_HP" 512 512 hotplug
vm_pass
