#!/bin/bash
# Our userspace virtio-scsi driver on QEMU's virtio-scsi-pci
# (disable-legacy=on, split rings, num_queues=4) with a LUN over 2 TiB, a
# scsi-cd, a read-only LUN, a 4096-byte-block LUN on a sparse LUN number
# and a disk used as swap:
#  - the kernel's view (virtio_scsi loaded for the oracle only) is the
#    reference for LUNs, identities, capacities, block sizes and the
#    negotiated features;
#  - virtio-scsi-device-bind refuses while a disk is swap, binds without
#    --force once it is not;
#  - all nine virtio-scsi-* tools run; device-info, target-info and
#    queue-info JSON match the oracle; queue-reset works (QEMU 7.2 offers
#    VIRTIO_F_RING_RESET; t-virtio-ours-hotplug.sh turns it off and gets
#    the "not offered" error);
#  - READ/WRITE(16) beyond 2 TiB, DATA PROTECT on the read-only LUN (image
#    unchanged), the CD read back;
#  - 4 threads on 4 queues concurrently (owners: lock-free path), 4 threads
#    sharing 1 queue, and 4 threads in interrupt mode (UIO INTx), each
#    region found byte for byte in the host image;
#  - device-remove gives the function back to virtio-pci and the kernel
#    finds its disks again.
. "$(dirname "$0")/lib/vm.sh"
vm_init virtio-ours-devices
# Many programs in one guest: on a loaded machine (a TCG guest runs 2-3x
# slower) it needs more than the default 300 s.
VM_TIMEOUT=${ORIONSTOR_VM_TIMEOUT:-600}
VM_SMP=2,maxcpus=4
VM_MEM=768

vm_virtio_scsi scsi0 num_queues=4
vm_image d0 64M;  vm_drive d0 "$VM_IMAGE"; IMG_D0=$VM_IMAGE
vm_image big 3T;  vm_drive big "$VM_IMAGE"; IMG_BIG=$VM_IMAGE
vm_image cd 4M;   IMG_CD=$VM_IMAGE
pattern_gen cdrom 8192 | dd of="$IMG_CD" bs=2048 seek=10 conv=notrunc status=none
vm_drive cd "$IMG_CD" readonly=on
vm_image ro 8M;   IMG_RO=$VM_IMAGE
pattern_gen rolun 65536 | dd of="$IMG_RO" conv=notrunc status=none
RO_SUM=$(md5sum <"$IMG_RO")
vm_drive ro "$IMG_RO" readonly=on
vm_image d4k 16M; vm_drive d4k "$VM_IMAGE"; IMG_4K=$VM_IMAGE
vm_image sw 16M;  vm_drive sw "$VM_IMAGE"
vm_scsi_hd scsi0 0 0 d0 serial=dev-d0
vm_scsi_hd scsi0 1 0 big serial=dev-big
vm_scsi_cd scsi0 2 0 cd serial=dev-cd
vm_scsi_hd scsi0 2 3 d4k serial=dev-4k logical_block_size=4096 physical_block_size=4096
vm_scsi_hd scsi0 3 0 ro serial=dev-ro
vm_scsi_hd scsi0 4 0 sw serial=dev-swap

vm_guest <<'GUEST'
B=$ORIONSTOR_BUILDDIR
T=$B/tools
S=/run/vm
bdf=$(find_pci 1af4 1048)
[ "$(echo "$bdf" | wc -w)" = 1 ] || fail "expected one modern virtio-scsi function, got '$bdf'"
D=virtio:$bdf
load_modules virtio_scsi sg sd_mod uio_pci_generic
wait_scsi_devices 6 60 virtio_scsi
oracle_scsi virtio_scsi >$S/oracle
oracle_luns virtio_scsi >$S/oracle_luns
cat $S/oracle $S/oracle_luns
cat /sys/bus/pci/devices/$bdf/virtio*/features >$S/kernel_features
echo "bdf=$bdf" >$S/facts
echo "kernel_request_queues=$(ls /sys/block/$(basename "$(dev_by_serial dev-d0)")/mq | wc -l)" >>$S/facts

# The in-use check: a disk used as swap keeps the function with the kernel.
sw=$(dev_by_serial dev-swap)
mkswap "$sw" >/dev/null && swapon "$sw" || fail "swapon $sw"
rc=0; $T/virtio-scsi-device-bind -d "$bdf" >$S/bind-refused 2>&1 || rc=$?
echo "bind_in_use_exit=$rc" >>$S/facts
echo "driver=$(pci_driver "$bdf")" >>$S/facts
swapoff "$sw" || fail "swapoff"
$T/virtio-scsi-device-bind -d "$bdf" >$S/bind-ok 2>&1 || { cat $S/bind-ok; fail "device-bind"; }
echo "bound_driver=$(pci_driver "$bdf")" >>$S/facts
unload_modules sd_mod virtio_scsi
reserve_hugepages 96

printf '[virtio_scsi]\nqueue_count = 4\n' >$S/ours.conf
export ORIONSTOR_CONF=$S/ours.conf
run() { # run NAME CMD...: output in $S/NAME, exit status in $S/NAME.rc
    local name=$1; shift
    local rc=0
    "$@" >$S/$name 2>&1 || rc=$?
    echo $rc >$S/$name.rc
    log "$name -> $rc"
}
run devinfo $T/virtio-scsi-device-info -d $D --json
run devlist $T/virtio-scsi-device-info --json
run devtext $T/virtio-scsi-device-info -d $D
run tinfo1 $T/virtio-scsi-target-info -d $D --target 1 --json
run tinfo2 $T/virtio-scsi-target-info -d $D --target 2 --json
run qinfo $T/virtio-scsi-queue-info -d $D --json
run qreset $T/virtio-scsi-queue-reset -d $D --queue 2
run dreset $T/virtio-scsi-device-reset -d $D
run tremove $T/virtio-scsi-target-remove -d $D --target 3
run tadd $T/virtio-scsi-target-add -d $D --target 3

# Beyond 2 TiB: LBA 2^32 + 1000 of 512-byte blocks (READ/WRITE(16)).
pattern_gen bigpat 65536 >$S/bigpat
run bigwrite $T/orionstor write -q -d $D --target 1 --lun 0 --lba 4294968296 -i $S/bigpat
run bigread $T/orionstor read -q -d $D --target 1 --lun 0 --lba 4294968296 --count 128 -o $S/bigback
cmp $S/bigback $S/bigpat && echo "big_readback=same" >>$S/facts
# The read-only LUN refuses; the CD reads back what the host put there.
head -c 4096 /dev/urandom >$S/junk
run rowrite $T/orionstor write -q -d $D --target 3 --lun 0 --lba 0 -i $S/junk
run cdread $T/orionstor read -q -d $D --target 2 --lun 0 --lba 10 --count 4 -o $S/cdback
pattern_gen cdrom 8192 | cmp - $S/cdback && echo "cd_readback=same" >>$S/facts
pattern_gen lun4k 65536 >$S/pat4k
run w4k $T/orionstor write -q -d $D --target 2 --lun 3 --lba 7 -i $S/pat4k

# Several threads, all queues at once: owners (lock-free), then shared.
H=$B/tests/vm/virtio-ours-helper
run mq-own $H mq -d $D --threads 4 --acquire --lba 2048 --blocks 1024 --io-blocks 8 --qd 8 --seed own
ORIONSTOR_VIRTIO_QUEUES=1 run mq-one $H mq -d $D --threads 4 --lba 8192 --blocks 512 --io-blocks 16 --qd 4 --seed one
# Interrupt mode (UIO INTx), the same I/O test.
ORIONSTOR_VIRTIO_INTERRUPTS=1 run mq-intr $H mq -d $D --threads 4 --lba 16384 --blocks 512 --io-blocks 8 --qd 8 --seed irq
ORIONSTOR_VIRTIO_INTERRUPTS=1 run mq-intr-own $H mq -d $D --threads 4 --acquire --lba 20480 --blocks 256 --io-blocks 8 --qd 4 --seed iro
ORIONSTOR_VIRTIO_INTERRUPTS=1 run intr-info $T/virtio-scsi-device-info -d $D --json

run dremove $T/virtio-scsi-device-remove -d $D
echo "driver_after_remove=$(pci_driver "$bdf")" >>$S/facts
load_modules virtio_scsi sd_mod
wait_scsi_devices 6 60 virtio_scsi
echo "kernel_disks_after_remove=$(_scsi_count virtio_scsi)" >>$S/facts
cat $S/facts
for f in $S/*.rc; do echo "$(basename $f .rc)=$(cat $f)"; done
exit 0
GUEST

vm_boot || vm_fail "guest script failed"
cd "$VM_SHARE" || vm_fail "no share"
for f in *.rc; do
    [ "$(cat "$f")" = 0 ] || case $f in
        qreset.rc|rowrite.rc) ;;
        *) echo "---- ${f%.rc}:"; cat "${f%.rc}"; vm_fail "${f%.rc} exited with $(cat "$f")" ;;
    esac
done

vm_expect "$VM_SHARE/oracle" "SCSI devices (kernel)" <<'EXPECTED'
virtio_scsi tgt=0 lun=0 type=0 QEMU/QEMU_HARDDISK serial=dev-d0 rmb=0 wp=0 bs=512 blocks=131072
virtio_scsi tgt=1 lun=0 type=0 QEMU/QEMU_HARDDISK serial=dev-big rmb=0 wp=0 bs=512 blocks=6442450944
virtio_scsi tgt=2 lun=0 type=5 QEMU/QEMU_CD-ROM serial=dev-cd rmb=1 wp=- bs=2048 blocks=2048
virtio_scsi tgt=2 lun=3 type=0 QEMU/QEMU_HARDDISK serial=dev-4k rmb=0 wp=0 bs=4096 blocks=4096
virtio_scsi tgt=3 lun=0 type=0 QEMU/QEMU_HARDDISK serial=dev-ro rmb=0 wp=1 bs=512 blocks=16384
virtio_scsi tgt=4 lun=0 type=0 QEMU/QEMU_HARDDISK serial=dev-swap rmb=0 wp=0 bs=512 blocks=32768
EXPECTED

# Our JSON against the kernel's view, the features both negotiated, the
# queues, and what the tools said.
python3 - "$VM_SHARE" <<'PY' || vm_fail "our view differs from the kernel's (see above)"
import json, re, sys
S = sys.argv[1]
bad = []
def check(ok, what):
    print(("ok   " if ok else "FAIL ") + what)
    if not ok:
        bad.append(what)
oracle = {}
for line in open(S + "/oracle"):
    f = dict(kv.split("=", 1) for kv in line.split() if "=" in kv)
    vendor, product = [w for w in line.split() if "/" in w and "=" not in w][0].split("/")
    oracle[(int(f["tgt"]), int(f["lun"]))] = dict(type=int(f["type"]), vendor=vendor, product=product,
        serial=f["serial"], bs=int(f["bs"]), blocks=int(f["blocks"]), wp=f["wp"])
types = {0: "disk", 5: "cdrom"}
def same_lun(l, o):
    return (types[o["type"]] == l["peripheral_type"] and l["vendor"] == o["vendor"] and
            l["product"].replace(" ", "_") == o["product"] and l["serial"] == o["serial"] and
            l["block_size"] == o["bs"] and l["blocks"] == o["blocks"] and
            (o["wp"] == "-" or l["write_protected"] == (o["wp"] == "1")))
d = json.load(open(S + "/devinfo"))
ours = {(l["target"], l["lun"]): l for l in d["luns"]}
check(sorted(ours) == sorted(oracle), "device-info LUN list %s == kernel %s" % (sorted(ours), sorted(oracle)))
for k, o in sorted(oracle.items()):
    check(k in ours and same_lun(ours[k], o), "device-info %d:%d identity/capacity/block size" % k)
drv, devf = int(d["driver_features"], 16), int(d["device_features"], 16)
kf = open(S + "/kernel_features").read().strip()
kbits = {i for i, c in enumerate(kf) if c == "1"}
for bit in (1, 2, 28, 29, 32, 34):
    check(((drv >> bit) & 1) == (bit in kbits), "feature bit %d as the kernel negotiated it" % bit)
check(drv & ~devf == 0, "driver features are a subset of the device's")
check(d["ring"] == "split" and d["num_queues"] == 4 and d["device_num_queues"] == 4, "split, 4 request queues")
facts = dict(l.strip().split("=", 1) for l in open(S + "/facts") if "=" in l)
check(int(facts["kernel_request_queues"]) == d["num_queues"], "as many request queues as the kernel's blk-mq")
check([q["index"] for q in d["queues"]] == list(range(6)) and all(q["size"] > 0 for q in d["queues"]),
      "device-info queues 0..5 with sizes")
check(d["pci_address"] == facts["bdf"] and d["binding"] == "uio_pci_generic", "PCI address and binding")
check(d["max_target"] >= 4 and d["cdb_size"] >= 16 and d["sense_size"] >= 18 and d["seg_max"] > 0, "config fields")
lst = json.load(open(S + "/devlist"))
check(len(lst["devices"]) == 1 and lst["devices"][0]["pci_address"] == d["pci_address"], "device-info without -d lists it")
for t, fname in ((1, "tinfo1"), (2, "tinfo2")):
    ti = json.load(open(S + "/" + fname))
    got = {(t, l["lun"]): l for l in ti["luns"]}
    want = {k: o for k, o in oracle.items() if k[0] == t}
    check(sorted(got) == sorted(want) and all(same_lun(got[k], want[k]) for k in want),
          "target-info --target %d matches the kernel" % t)
    check(all(l["vpd_pages"][:1] == [0] and 0x80 in l["vpd_pages"] for l in ti["luns"]),
          "target-info --target %d: VPD summary" % t)
q = json.load(open(S + "/qinfo"))["queues"]
check([x["type"] for x in q] == ["control", "event"] + ["request"] * 4, "queue-info: control, event, 4 request")
check(all(x["ring"] == "split" and x["event_idx"] == bool(drv >> 29 & 1) for x in q), "queue-info ring and event idx")
check(all(x["size"] == d["queues"][i]["size"] for i, x in enumerate(q)), "queue-info sizes as device-info")
rr = int(open(S + "/qreset.rc").read())
qr = open(S + "/qreset").read()
if devf >> 40 & 1:
    check(rr == 0 and "found 6 LUN(s)" in qr, "queue-reset done, the queue works after it (device offers RING_RESET)")
else:
    check(rr != 0 and "not offered by this device" in qr, "queue-reset: clear 'not offered' error: " + qr.strip())
check("reset and re-initialised" in open(S + "/dreset").read(), "device-reset re-initialised")
check("3:0" in open(S + "/tadd").read() and "detached" in open(S + "/tremove").read(), "target-remove / target-add")
check(int(facts["bind_in_use_exit"]) == 26 and facts["driver"] == "virtio-pci", "device-bind refused while swap is on")
check("used as swap" in open(S + "/bind-refused").read(), "the refusal says why")
check(facts["bound_driver"] == "uio_pci_generic", "device-bind without --force once free")
check(facts.get("big_readback") == "same" and facts.get("cd_readback") == "same", "big LUN and CD read back")
ro = open(S + "/rowrite").read()
check(int(open(S + "/rowrite.rc").read()) == 7 and "protect" in ro.lower(), "read-only LUN: DATA PROTECT: " + ro.strip())
for name, threads, nq, owners in (("mq-own", 4, 4, True), ("mq-one", 4, 1, False),
                                  ("mq-intr", 4, 4, False), ("mq-intr-own", 4, 4, True)):
    out = open(S + "/" + name).read()
    check(out.count("written and verified\n") == threads, name + ": every thread verified")
    comp = [int(x) for x in re.findall(r"^queue \d+: completed=(\d+)", out, re.M)]
    check(len(comp) == nq and all(c >= 16 for c in comp), name + ": every queue carried I/O %s" % comp)
    busy = int(re.search(r"max_busy_queues=(\d+)", out).group(1))
    check(busy >= min(nq, 2), name + ": %d queues busy at the same moment" % busy)
    check(("interrupt mode" in out) == name.startswith("mq-intr"), name + ": completion mode")
ii = json.load(open(S + "/intr-info"))
check(ii["mode"] == "interrupt", "device-info reports interrupt mode")
check(facts["driver_after_remove"] == "virtio-pci" and int(facts["kernel_disks_after_remove"]) == 6,
      "device-remove gave it back to virtio-pci, the kernel sees its 6 LUNs")
sys.exit(1 if bad else 0)
PY

vm_check_pattern "$IMG_BIG" $((4294968296 * 512)) 65536 bigpat
vm_check_pattern "$IMG_4K" $((7 * 4096)) 65536 lun4k
# The threads' regions touch each other: compare the data only.
check_data() { # IMAGE OFFSET BYTES SEED
    cmp <(pattern_gen "$4" "$3") \
        <(dd if="$1" bs=64k iflag=skip_bytes,count_bytes skip="$2" count="$3" status=none) ||
        vm_fail "$(basename "$1"): pattern $4 not found at offset $2"
}
for i in 0 1 2 3; do
    check_data "$IMG_D0" $(((2048 + i * 1024) * 512)) $((1024 * 512)) own$i
    check_data "$IMG_D0" $(((8192 + i * 512) * 512)) $((512 * 512)) one$i
    check_data "$IMG_D0" $(((16384 + i * 512) * 512)) $((512 * 512)) irq$i
    check_data "$IMG_D0" $(((20480 + i * 256) * 512)) $((256 * 512)) iro$i
done
vm_log "d0.img: the 16 thread regions (owners, shared, interrupt mode) verified"
[ "$(md5sum <"$IMG_RO")" = "$RO_SUM" ] || vm_fail "the read-only image changed"
vm_log "read-only image unchanged"
vm_pass
