#!/bin/bash
# The live management plane in the guest (issue 10): "orionstor bench" on
# QEMU's virtio-scsi disk and on QEMU's usb-storage disk, inspected from a
# second process by every live tool through the control socket; then a
# read held by a throttled drive (throttling.iops-total=1) is listed with
# virtio-scsi-command-info and aborted with virtio-scsi-command-abort.
. "$(dirname "$0")/lib/vm.sh"
vm_init live-tools
# Many programs in one guest: on a loaded machine (a TCG guest runs 2-3x
# slower) it needs more than the default 300 s.
VM_TIMEOUT=${ORIONSTOR_VM_TIMEOUT:-600}
VM_MEM=768

vm_virtio_scsi scsi0 num_queues=2
vm_image d0 32M; vm_drive d0 "$VM_IMAGE"
vm_scsi_hd scsi0 0 0 d0 serial=live-d0
vm_image d1 16M; vm_drive d1 "$VM_IMAGE" throttling.iops-total=1
vm_scsi_hd scsi0 0 1 d1 serial=live-slow
vm_usb_ctrl xhci xhci
vm_image u0 16M; vm_drive u0 "$VM_IMAGE"
vm_usb_storage xhci u0 serial=live-u0

vm_guest <<'GUEST'
B=$ORIONSTOR_BUILDDIR/tools
S=/run/vm
mkdir -p /run/tmp/sockets
chmod 700 /run/tmp/sockets
cat >/run/tmp/orionstor.conf <<EOF
[control]
socket_dir = "/run/tmp/sockets"
[virtio_scsi]
performance_monitoring_enabled = true
[usb_storage]
performance_monitoring_enabled = true
EOF
export ORIONSTOR_CONF=/run/tmp/orionstor.conf
bdf=$(find_pci 1af4 1048)
bind_uio "$bdf" >/dev/null
reserve_hugepages 64
load_modules xhci-pci
wait_usb 1 60
"$B/usb_storage_device_info" --json >$S/usb.json || fail "usb_storage_device_info"
usb=$(python3 -c "import json; print(json.load(open('$S/usb.json'))['devices'][0]['device'])")
[ -n "$usb" ] || fail "no USB device"

# wait_socket PID: until the process's control socket answers.
wait_socket() {
	for i in $(seq 600); do
		"$B/orionstor" ping --pid "$1" >/dev/null 2>&1 && return 0
		kill -0 "$1" 2>/dev/null || return 1
		sleep 0.1
	done
	return 1
}
# wait_reads SPEC N: until the holder of SPEC counted more than N reads.
wait_reads() {
	for i in $(seq 600); do
		n=$("$B/orionstor" stats -d "$1" --json 2>/dev/null |
			python3 -c "import json,sys; print(json.load(sys.stdin)['total']['commands']['read'])" 2>/dev/null)
		[ -n "$n" ] && [ "$n" -gt "$2" ] && return 0
		sleep 0.1
	done
	return 1
}
# live SPEC NAME: every live tool against the holder of SPEC.
live() {
	spec=$1; name=$2
	"$B/orionstor" stats -d "$spec" >$S/$name.stats 2>&1 || { cat $S/$name.stats; fail "$name: stats"; }
	"$B/orionstor" stats -d "$spec" --json >$S/$name.stats.json || fail "$name: stats --json"
	"$B/orionstor" stats -d "$spec" --interval 0.5 --count 2 >$S/$name.interval || fail "$name: stats --interval"
	"$B/orionstor" queues -d "$spec" >$S/$name.queues || fail "$name: queues"
	"$B/orionstor" commands -d "$spec" >$S/$name.commands || fail "$name: commands"
	"$B/orionstor" top >$S/$name.top || fail "$name: top"
	"$B/orionstor" ps >$S/$name.ps || fail "$name: ps"
	cat $S/$name.stats $S/$name.interval $S/$name.queues $S/$name.top
	head -5 $S/$name.commands
}

# ---- virtio-scsi: a bench on LUN 0 ----------------------------------------
"$B/orionstor" bench -d "virtio:$bdf" --lun 0 --qd 8 --runtime 120 --ramp 0 -q >$S/vbench 2>&1 &
vb=$!
wait_socket $vb || { cat $S/vbench; fail "the virtio bench has no control socket"; }
wait_reads "virtio:$bdf" 1000 || fail "the virtio bench does not read"
live "virtio:$bdf" virtio
"$B/virtio-scsi-performance-stats" -d "virtio:$bdf" --json >$S/virtio.vsps.json || fail "virtio-scsi-performance-stats"
"$B/virtio-scsi-queue-stats" -d "virtio:$bdf" --json >$S/virtio.vsqs.json || fail "virtio-scsi-queue-stats"
"$B/virtio-scsi-command-info" -d "virtio:$bdf" --json >$S/virtio.vsci.json || fail "virtio-scsi-command-info"
"$B/virtio-scsi-queue-flush" -d "virtio:$bdf" --queue 0 --json >$S/virtio.flush.json || fail "virtio-scsi-queue-flush"
cat $S/virtio.flush.json
kill $vb; wait $vb
echo "virtio bench exit $?"

# ---- USB: a bench on QEMU's usb-storage -----------------------------------
"$B/orionstor" bench -d "$usb" --qd 1 --runtime 120 --ramp 0 -q >$S/ubench 2>&1 &
ub=$!
wait_socket $ub || { cat $S/ubench; fail "the USB bench has no control socket"; }
wait_reads "$usb" 200 || fail "the USB bench does not read"
live "$usb" usb
"$B/usb_storage_performance_stats" -d "$usb" --json >$S/usb.usps.json || fail "usb_storage_performance_stats"
"$B/usb_storage_optimization_info" -d "$usb" --json >$S/usb.tuning.json || fail "usb_storage_optimization_info"
"$B/usb_storage_optimization_info" -d "$usb"
kill $ub; wait $ub
echo "usb bench exit $?"

# ---- a read held by the throttled drive, aborted ----------------------------
"$B/orionstor" bench -d "virtio:$bdf" --lun 1 --qd 16 --runtime 400 --ramp 0 -q >$S/sbench 2>&1 &
sb=$!
wait_socket $sb || { cat $S/sbench; fail "the throttled bench has no control socket"; }
# At 1 IOPS each of 16 reads waits about 16 s; the newest (the youngest, and
# of equally young ones the last submitted: the highest tag) has the longest
# to go - in a loaded TCG guest a listing and an abort can take seconds.
# One that completes between the listing and the abort is "not found"
# (39): list again.
aborted=
for try in $(seq 20); do
	"$B/virtio-scsi-command-info" -d "virtio:$bdf" >$S/slow.cmds || fail "command-info (throttled)"
	# QUEUE TAG TARGET LUN COMMAND STATE AGE CDB (awk: python starts slowly here)
	tag=$(awk '$4 == 1 && $6 == "at-device" { print $7, $2 }' $S/slow.cmds | sort -k1,1n -k2,2r | awk 'NR == 1 { print $2 }')
	if [ -z "$tag" ]; then
		sleep 0.1
		continue
	fi
	"$B/virtio-scsi-command-abort" -d "virtio:$bdf" --tag "$tag" --json >$S/slow.abort.json
	rc=$?
	[ $rc -eq 0 ] && { aborted=$tag; break; }
	[ $rc -eq 39 ] || { cat $S/slow.abort.json; fail "virtio-scsi-command-abort exit $rc"; }
done
[ -n "$aborted" ] || fail "no command of the throttled LUN could be aborted"
cat $S/slow.cmds
cat $S/slow.abort.json
"$B/orionstor" stats -d "virtio:$bdf" --json >$S/slow.stats.json || fail "stats after the abort"
kill $sb 2>/dev/null; wait $sb
echo "throttled bench exit $?"
GUEST

vm_boot || vm_fail "guest script failed"
python3 - "$VM_SHARE" <<'PY' || vm_fail "unexpected results (see above)"
import json, os, sys
d = sys.argv[1]
bad = []
def check(ok, what):
    print(("ok   " if ok else "FAIL ") + what)
    if not ok:
        bad.append(what)
def load(name):
    return json.load(open(os.path.join(d, name)))
for name, kind in (("virtio", "virtio"), ("usb", "usb")):
    st = load(name + ".stats.json")
    t = st["total"]
    check(t["commands"]["read"] > 100, f"{name}: the holder counted reads ({t['commands']['read']})")
    check(t["bytes"]["read"] == 4096 * t["commands"]["read"], f"{name}: 4 KiB per read")
    check(st["histograms"] and t["latency"]["read"]["count"] > 0 and
          t["latency"]["read"]["p50_us"] <= t["latency"]["read"]["p99_us"], f"{name}: read latency percentiles")
    key = "virtio_notifications" if kind == "virtio" else "usb_commands"
    check(st["transport"].get(key, 0) > 0, f"{name}: transport counter {key}")
    text = open(os.path.join(d, name + ".stats")).read()
    check("held by pid" in text and "read" in text, f"{name}: stats table")
    check(len([l for l in open(os.path.join(d, name + ".interval")) if l[:2].isdigit()]) == 2,
          f"{name}: stats --interval: 2 lines")
    check("QUEUE" in open(os.path.join(d, name + ".queues")).read(), f"{name}: queues table")
    check("orionstor" in open(os.path.join(d, name + ".top")).read(), f"{name}: top shows the bench")
    check("orionstor" in open(os.path.join(d, name + ".ps")).read(), f"{name}: ps shows the bench")
v = load("virtio.vsps.json")
check(v["total"]["commands"]["read"] >= load("virtio.stats.json")["total"]["commands"]["read"],
      "virtio-scsi-performance-stats: counts go on growing")
q = load("virtio.vsqs.json")["queues"]
check(any(x.get("virtqueue", {}).get("notifications", 0) > 0 for x in q), "virtio-scsi-queue-stats: ring notifications")
f = load("virtio.flush.json")
check(f["remaining"] == 0 and not f["timed_out"], "virtio-scsi-queue-flush: the bench's queue drained")
u = load("usb.usps.json")
check(u["total"]["commands"]["read"] > 0 and u["backend"] == "usb", "usb_storage_performance_stats")
t = load("usb.tuning.json")
names = {x["name"]: x for x in t["settings"]}
check(names.get("transport", {}).get("value") == "bot" and "pipelining" in names and t["advice"],
      "usb_storage_optimization_info: settings with their sources, advice")
a = load("slow.abort.json")
check(a["outcome"] in ("done", "escalated"), f"throttled read aborted ({a['outcome']})")
s = load("slow.stats.json")["total"]
check(s["aborts"] >= 1, "the abort counted")
sys.exit(1 if bad else 0)
PY
vm_pass
