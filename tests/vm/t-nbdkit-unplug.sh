#!/bin/bash
# Hot-unplug under nbdkit-orionstor-plugin: QEMU's usb-storage on qemu-xhci
# (throttled so that the writes are surely still running), exported by
# nbdkit with our plugin; a libnbd writer (python nbd) writes numbered
# 64 KiB blocks (FUA when the export offers it) and records each block only
# after its write was acknowledged. Once enough are acknowledged the guest
# tells the host, which unplugs the disk with QMP device_del. Then: the
# write in flight fails with an error (no hang), later requests on the same
# connection fail too (ESHUTDOWN/EIO), nbdkit is still running, and a new
# client (nbdinfo --list) gets an answer or a clean error within a limit.
# On the host: every acknowledged block is in the image.
. "$(dirname "$0")/lib/vm.sh"
vm_init nbdkit-unplug

vm_usb_ctrl xhci xhci
# 2 MiB/s of writes: 128 MiB of blocks cannot finish before the unplug
vm_image disk 128M; vm_drive disk "$VM_IMAGE" throttling.bps-write=2097152; IMG=$VM_IMAGE
vm_usb_storage xhci disk serial=nbd-unplug

vm_guest <<'GUEST'
export ORIONSTOR_CONF=/dev/null
load_modules xhci-pci
wait_usb 1 60
nbdkit_start usb:46f4:0001
pid=$(nbdkit_pid)
# /usr/bin/python3: the nbd module is the distribution's (python3-libnbd).
timeout 120 /usr/bin/python3 - "$NBD_URI" <<'PY' >/run/vm/writer.out 2>&1
import errno, os, sys, nbd
def ename(e):  # python nbd gives the errno's name or number
    return e if isinstance(e, str) or e is None else errno.errorcode.get(e, e)
BLK, TOTAL, SIGNAL_AT = 65536, 2048, 24
h = nbd.NBD()
h.connect_uri(sys.argv[1])
fua = nbd.CMD_FLAG_FUA if h.can_fua() else 0
print("size", h.get_size(), "fua", bool(fua), flush=True)
acked = open("/run/vm/acked", "w")
def block(i):
    return (b"nbd-unplug block %014d\n" % i) * (BLK // 32)
first_err = None
for i in range(TOTAL):
    try:
        h.pwrite(block(i), i * BLK, fua)
    except nbd.Error as e:
        first_err = e
        break
    acked.write("%d\n" % i); acked.flush()
    if i + 1 == SIGNAL_AT:
        os.makedirs("/run/vm/sync", exist_ok=True)
        open("/run/vm/sync/acked.guest", "w").close()
        os.sync()
acked.close()
if first_err is None:
    print("FAIL: all %d writes succeeded: the unplug came too late" % TOTAL); sys.exit(1)
en = first_err.errno
print("write of block %d failed: %s (errno %s)" % (i, first_err.string.strip(), ename(en)), flush=True)
# later requests on the same connection fail too, they do not hang
for what, call in (("pwrite", lambda: h.pwrite(block(0), 0, fua)),
                   ("pread", lambda: h.pread(BLK, 0)),
                   ("flush", lambda: h.flush() if h.can_flush() else h.pread(512, 0))):
    try:
        call()
    except nbd.Error as e:
        print("later %s failed: errno %s" % (what, ename(e.errno)), flush=True)
        if ename(e.errno) not in ("ESHUTDOWN", "EIO"):
            print("FAIL: later %s: errno %s, expected ESHUTDOWN or EIO" % (what, ename(e.errno))); sys.exit(1)
        continue
    print("FAIL: later %s succeeded after the unplug" % what); sys.exit(1)
try:
    h.shutdown()
except nbd.Error as e:
    print("shutdown:", e.string.strip())
print("writer done")
PY
rc=$?
cat /run/vm/writer.out
[ $rc = 124 ] && fail "the writer hung after the unplug"
[ $rc = 0 ] || fail "writer: exit $rc"
log "acknowledged blocks: $(wc -l </run/vm/acked)"
kill -0 "$pid" 2>/dev/null || { cat "$VM_SHARE/nbdkit.err"; fail "nbdkit exited after the unplug"; }
# A new client: an answer or a clean error, not a hang.
timeout 30 nbdinfo --list "$NBD_URI" >/run/vm/nbdinfo.after 2>&1; rc=$?
cat /run/vm/nbdinfo.after
[ $rc = 124 ] && fail "nbdinfo --list hung after the unplug"
log "nbdinfo --list after the unplug: exit $rc"
kill -0 "$pid" 2>/dev/null || { cat "$VM_SHARE/nbdkit.err"; fail "nbdkit exited after nbdinfo"; }
grep -q "the device is gone" "$VM_SHARE/nbdkit.err" || { cat "$VM_SHARE/nbdkit.err"; fail "nbdkit did not log the device as gone"; }
nbdkit_stop
log "unplug checks done"
GUEST

vm_start
vm_wait_guest acked 600
vm_qmp --wait-event DEVICE_DELETED:disk-dev 'device_del id=disk-dev' >/dev/null ||
    vm_fail "device_del failed"
vm_log "unplugged after the guest's signal"
vm_wait || vm_fail "guest script failed"
n=$(wc -l <"$VM_SHARE/acked")
[ "$n" -ge 24 ] || vm_fail "only $n blocks acknowledged"
python3 - "$IMG" "$VM_SHARE/acked" <<'PY' || vm_fail "acknowledged blocks missing from the image"
import sys
BLK = 65536
img = open(sys.argv[1], "rb")
bad = 0
acked = [int(l) for l in open(sys.argv[2])]
for i in acked:
    img.seek(i * BLK)
    if img.read(BLK) != (b"nbd-unplug block %014d\n" % i) * (BLK // 32):
        print("block %d acknowledged but not in the image" % i); bad += 1
print("%d acknowledged blocks checked, %d missing" % (len(acked), bad))
sys.exit(1 if bad else 0)
PY
vm_pass
