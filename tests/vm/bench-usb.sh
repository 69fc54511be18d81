#!/bin/bash
# Per-command latency of 4 KiB reads at queue depth 1 on QEMU's usb-storage
# (xHCI and EHCI), in one guest: liborionstor without pipelining (off), with
# the data-in and CSW reads queued together (on: the default, which stops
# queuing the CSW on a device that lost one, as QEMU's does), queued
# whatever happens (force: every lost CSW costs the 5 ms grace), with the
# CBW queued too (cbw, xHCI only), and the kernel's usb-storage + sd (fio,
# O_DIRECT, psync) on the same devices.  Not a t-*.sh: `make check-vm` does
# not run it.
#
#   bash tests/vm/bench-usb.sh            # BENCH_COUNT=N reads per run (2000)
#
# Prints one line per run:
#   HCD PATH: ios=N mean_us=.. median_us=.. p99_us=..
# Under TCG every number is dominated by emulation; compare them with each
# other, not with hardware.
. "$(dirname "$0")/lib/vm.sh"
vm_init bench-usb

export ORIONSTOR_T_COUNT=${BENCH_COUNT:-2000}
vm_usb_ctrl xhci xhci
vm_usb_ctrl ehci ehci
# Written, not sparse: every read goes to page-cached data, not to a hole.
vm_image bx 32M; head -c 32M /dev/urandom >"$VM_IMAGE"; vm_drive bx "$VM_IMAGE"
vm_image be 32M; head -c 32M /dev/urandom >"$VM_IMAGE"; vm_drive be "$VM_IMAGE"
vm_usb_storage xhci bx serial=bench-x
vm_usb_storage ehci be serial=bench-e

vm_guest <<'GUEST'
B=$ORIONSTOR_BUILDDIR/tests/bench/usb-qd1-latency
N=$ORIONSTOR_T_COUNT
export ORIONSTOR_CONF=/dev/null
load_modules xhci-pci ehci-pci
wait_usb 2 60
command -v fio >/dev/null || fail "fio is not installed on the host (tests/vm/install-deps.sh)"
spec_of() { # x|e -> usb:BUS.DEV of the device on that controller
    "$ORIONSTOR_BUILDDIR/tools/orionstor" list 2>/dev/null |
        awk -v s="$([ "$1" = x ] && echo super || echo high)" '/^usb:/ && $0 ~ s " speed" {print $1; exit}'
}
ours() { # HCD SPEC MODE
    local out
    out=$(ORIONSTOR_USB_PIPELINE=$3 "$B" -d "$2" --count "$N" --span-mb 16) || fail "bench $1 $3: $out"
    echo "$1 ours-pipeline=$3: ${out#qd1-read bs=4096 }" | tee -a /run/vm/results
}
run_ours() {
    for hcd in x e; do
        spec=$(spec_of $hcd); [ -n "$spec" ] || fail "no device for $hcd"
        name=$([ $hcd = x ] && echo xhci || echo ehci)
        for mode in off on force; do ours $name "$spec" $mode; done
        # QEMU's EHCI stalls an IN before the CBW: CBW pipelining only on xHCI
        [ $hcd = x ] && ours $name "$spec" cbw
    done
}
: >/run/vm/results
run_ours
load_modules 'usb-storage delay_use=0' sd_mod
wait_scsi_devices 2 60
for serial in bench-x bench-e; do
    dev=$(dev_by_serial $serial); [ -n "$dev" ] || fail "no block device for $serial"
    name=$([ $serial = bench-x ] && echo xhci || echo ehci)
    fio --name=qd1 --filename="$dev" --direct=1 --rw=randread --bs=4k --iodepth=1 \
        --ioengine=psync --size=16M --number_ios="$N" --ramp_time=0 --norandommap \
        --output-format=json >/run/tmp/fio.json 2>/run/tmp/fio.err || { cat /run/tmp/fio.err; fail "fio $dev"; }
    python3 - "$name" /run/tmp/fio.json "$N" >>/run/vm/results <<'PY' || fail "fio: not a valid measurement"
import json, sys
job = json.load(open(sys.argv[2]))["jobs"][0]
j = job["read"]
if job.get("error", 0) or j["total_ios"] < int(sys.argv[3]):
    sys.exit("fio: error %s, %d of %s reads" % (job.get("error", 0), j["total_ios"], sys.argv[3]))
c = j["clat_ns"]; lat = j.get("lat_ns", c)
p = c.get("percentile", {})
print(f'{sys.argv[1]} kernel-usb-storage: ios={j["total_ios"]} failed=0 mean_us={lat["mean"]/1000:.1f} '
      f'median_us={p.get("50.000000", 0)/1000:.1f} p99_us={p.get("99.000000", 0)/1000:.1f} '
      f'min_us={lat["min"]/1000:.1f} max_us={lat["max"]/1000:.1f}')
PY
    tail -n 1 /run/vm/results
done
# Back to ours, to see that nothing drifted while the kernel ran.
unload_modules uas usb-storage 2>/dev/null || unload_modules usb-storage
sleep 1
spec=$(spec_of x); ours xhci "$spec" on
GUEST

vm_boot || vm_fail "benchmark failed in the guest"
echo "--- 4 KiB reads at QD1, $ORIONSTOR_T_COUNT per run (TCG guest) ---"
cat "$VM_SHARE/results"
vm_pass
