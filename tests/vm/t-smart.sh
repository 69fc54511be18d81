#!/bin/bash
# The smartctl oracle (issue 12): smartmontools, through the kernel's
# usb-storage, and liborionstor's `orionstor smart`, through its own USB
# BOT engine, read the same simulated disks served over real USB (configfs
# gadgets on dummy_hcd in the guest, FunctionFS functions served by
# tests/vm/ffs-bot-device) and must agree (tests/vm/lib/smartcheck.py):
#   sat, satfail: the sim's ATA disk behind a SAT bridge, healthy and
#     failing (RETURN STATUS F4h/2Ch, attribute 5 below its threshold):
#     smartctl -d sat -a vs orionstor smart: model, serial, firmware, the
#     verdict (and smartctl's exit bit 3 vs our exit 8), temperature, every
#     attribute's id, value, worst, threshold and raw value, the self-test
#     log (type, status, lifetime hours);
#   scsi, scsifail: the plain sim disk, its native log pages (healthy, and
#     with informational exception 5Dh/00h): smartctl -d scsi -a vs
#     orionstor smart: vendor, product, revision, verdict, temperature and
#     trip temperature, the self-test results (code, result, hours);
#   jm: the ATA disk behind the JMicron bridge model (USB id 152d:2338,
#     vendor command DFh, no SAT): smartctl -d usbjmicron -a vs orionstor
#     smart (which picks the JMicron protocol from its quirk table), as
#     for sat.
# A short self-test runs on every disk first, so no log is empty: started
# by orionstor smart -t short on satfail and scsifail before usb-storage
# is loaded, by smartctl -t short on sat, scsi and jm through usb-storage.
# Power, both ways: orionstor power --state standby on sat and scsi
# (START STOP UNIT) before usb-storage is loaded, and smartctl -n standby
# must find them in standby; smartctl -s standby,now on satfail (ATA
# STANDBY IMMEDIATE through SAT), scsi and scsifail (START STOP UNIT), and
# orionstor power must report what smartctl -n reports.  smartctl works on /dev/sgN: sd is
# not loaded, as its probe (a read) and removal (SYNCHRONIZE CACHE) would
# wake the disks.
. "$(dirname "$0")/lib/vm.sh"
vm_init smart
VM_MEM=768

vm_guest <<'GUEST'
B=$ORIONSTOR_BUILDDIR/tools
DEV=${ORIONSTOR_T_FFS_BOT_DEVICE:-$ORIONSTOR_BUILDDIR/tests/vm/ffs-bot-device}
CHECK="python3 $ORIONSTOR_SRCDIR/tests/vm/lib/smartcheck.py"
export ORIONSTOR_CONF=/dev/null
command -v smartctl >/dev/null || fail "smartctl not installed (tests/vm/install-deps.sh)"
declare -A FFS_PID SPEC LU_SERIAL
trap 'for p in "${FFS_PID[@]}"; do kill $p 2>/dev/null; done' EXIT
udcs=($(ffs_setup 5))
# name product-id iSerial LU-serial device-options
i=0
while read -r name vid pid serial lu_serial opts; do
	truncate -s 16M /run/$name.img
	# shellcheck disable=SC2086
	FFS_VID=$vid ffs_gadget $name $pid $serial ${udcs[$i]} "$DEV" /run/$name.img -s $lu_serial $opts
	LU_SERIAL[$name]=$lu_serial
	i=$((i + 1))
done <<'DEVICES'
sat 0x1d6b 0x0110 FFSSAT SATDISK0001 -a sat
satfail 0x1d6b 0x0111 FFSSATFAIL SATFAIL0001 -a sat -f failing
scsi 0x1d6b 0x0112 FFSSCSI SCSIDISK0001 -t 41
scsifail 0x1d6b 0x0113 FFSSCSIFAIL SCSIFAIL0001 -i
jm 0x152d 0x2338 FFSJM JMDISK0001 -a jmicron
DEVICES
ALL="sat satfail scsi scsifail jm"
wait_usb 5 60
"$B/usb_storage_device_info" --json >/run/vm/devices.json || fail "usb_storage_device_info"
for name in $ALL; do
	SPEC[$name]=$(python3 -c "import json
for d in json.load(open('/run/vm/devices.json'))['devices']:
    if d['serial'] == 'FFS${name^^}': print(d['device'])")
	[ -n "${SPEC[$name]}" ] || fail "liborionstor does not see FFS${name^^}"
done

# ours: the self-tests of the failing disks, standby for the others
for name in satfail scsifail; do
	"$B/orionstor" smart -d "${SPEC[$name]}" -t short --json >/run/vm/ours-test-$name.json
	echo "$name: orionstor smart -t short: exit $?"
done
for name in sat scsi; do
	"$B/orionstor" power -d "${SPEC[$name]}" --state standby >/dev/null || fail "$name: orionstor power --state standby"
done

# the kernel's side: usb-storage and sg, not sd (whose probe reads the
# disk and whose removal syncs its cache: both would wake it up)
load_modules 'usb-storage delay_use=0' sg
wait_scsi_devices 5 60 usb-storage
oracle_scsi usb-storage | tee /run/vm/kernel
declare -A SG
for name in $ALL; do
	h=$(hctl_by_serial ${LU_SERIAL[$name]}) || fail "no SCSI device with serial ${LU_SERIAL[$name]}"
	SG[$name]=$(sg_of $h)
done
# smartctl -n standby sees the standby orionstor power set (exit 2: it
# did not wake the disk), then wakes them with a self-test
standby_check() { # NAME TYPE: smartctl says standby
	smartctl -d $2 -n standby -i "${SG[$1]}" >/run/vm/smartctl-n-$1.txt
	local rc=$?
	echo "$1: smartctl -d $2 -n standby -i: exit $rc"
	[ $rc = 2 ] || fail "$1: smartctl -n standby: exit $rc, expected 2 (in standby): $(cat /run/vm/smartctl-n-$1.txt)"
}
standby_check sat sat
standby_check scsi scsi
smartctl -d sat -t short "${SG[sat]}" >/run/vm/smartctl-test-sat.txt
echo "sat: smartctl -t short: exit $?"
smartctl -d scsi -t short "${SG[scsi]}" >/run/vm/smartctl-test-scsi.txt
echo "scsi: smartctl -t short: exit $?"
smartctl -d usbjmicron -t short "${SG[jm]}" >/run/vm/smartctl-test-jm.txt
echo "jm: smartctl -d usbjmicron -t short: exit $?"
for name in $ALL; do
	type=sat; [[ $name == scsi* ]] && type=scsi; [ $name = jm ] && type=usbjmicron
	smartctl -d $type -a --json "${SG[$name]}" >/run/vm/smartctl-$name.json
	echo $? >/run/vm/smartctl-$name.rc
	echo "$name: smartctl -d $type -a --json ${SG[$name]}: exit $(cat /run/vm/smartctl-$name.rc)"
done
smartctl -d sat -l selftest --json "${SG[sat]}" >/run/vm/smartctl-sat-selftest.json
# smartctl puts satfail (ATA STANDBY IMMEDIATE through SAT), scsi and
# scsifail (START STOP UNIT) into standby; orionstor power must see what
# smartctl -n sees.  (scsifail: REQUEST SENSE reports the informational
# exception 5Dh/00h, not the low power condition 5Eh, so neither sees
# standby there; they must still agree.)
for name in satfail scsi scsifail; do
	type=sat; [[ $name == scsi* ]] && type=scsi
	smartctl -d $type -s standby,now "${SG[$name]}" >/dev/null
	echo "$name: smartctl -s standby,now: exit $?"
done
standby_check satfail sat
standby_check scsi scsi
smartctl -d scsi -n standby -i "${SG[scsifail]}" >/run/vm/smartctl-n-scsifail.txt
echo "scsifail: smartctl -d scsi -n standby -i: exit $?"
sed -n 's/^Power mode is: *//p' /run/vm/smartctl-n-scsifail.txt >/run/vm/smartctl-mode-scsifail
echo "scsifail: smartctl: power mode $(cat /run/vm/smartctl-mode-scsifail)"

# our side: usb-storage lets go of each interface, then orionstor
for name in $ALL; do
	intf=$(usb_intf_of_serial FFS${name^^}) || fail "no USB device FFS${name^^}"
	echo "$intf" >/sys/bus/usb/drivers/usb-storage/unbind || fail "unbind $intf"
done
for name in satfail scsi scsifail; do
	"$B/orionstor" power -d "${SPEC[$name]}" --json >/run/vm/ours-power-$name.json ||
		fail "$name: orionstor power"
	python3 -c "import json; d = json.load(open('/run/vm/ours-power-$name.json'))
print('$name: orionstor power:', d['condition'], 'from', d['condition_source'] + ', ATA mode', d.get('ata_mode'))
want = 'standby'
if '$name' == 'scsifail':
    want = open('/run/vm/smartctl-mode-scsifail').read().strip().lower()
assert d['condition'] == want and d.get('ata_mode') in (None, want), (want, d)" ||
		fail "$name: orionstor power does not see what smartctl -n sees"
done
for name in $ALL; do
	"$B/orionstor" smart -d "${SPEC[$name]}" --json >/run/vm/ours-$name.json
	echo $? >/run/vm/ours-$name.rc
	echo "$name: orionstor smart -d ${SPEC[$name]} --json: exit $(cat /run/vm/ours-$name.rc)"
done
"$B/orionstor" smart -d "${SPEC[sat]}" -l selftest --json >/run/vm/ours-sat-selftest.json

rc=0
exec 3>&1 >/run/vm/smartcheck.txt
for name in $ALL; do
	type=ata; [[ $name == scsi* ]] && type=scsi
	verdict=passed; [[ $name == *fail ]] && verdict=failing
	proto=sat16; [ $type = scsi ] && proto=scsi; [ $name = jm ] && proto=jmicron
	$CHECK $type --name $name --verdict $verdict --protocol $proto --min-self-tests 1 \
		--smartctl-exit "$(cat /run/vm/smartctl-$name.rc)" --ours-exit "$(cat /run/vm/ours-$name.rc)" \
		/run/vm/smartctl-$name.json /run/vm/ours-$name.json || rc=1
done
$CHECK ata-selftest --name sat-selftest /run/vm/smartctl-sat-selftest.json /run/vm/ours-sat-selftest.json || rc=1
exec >&3 3>&-
grep -v ' ok$' /run/vm/smartcheck.txt
for name in $ALL; do
	ffs_stop $name
done
[ $rc = 0 ] || fail "smartctl and orionstor smart disagree"
log "smart checks done"
GUEST

vm_boot || vm_fail "guest script failed"
grep -E ': (agree|[0-9]+ disagreements)$' "$VM_SHARE/smartcheck.txt" | while read -r l; do vm_log "$l"; done
for n in sat satfail scsi scsifail jm; do
    c=$(cat "$VM_SHARE/counters-$n")
    vm_log "$n: $c"
    [[ $c == *" 0 endpoint timeouts"* ]] || vm_fail "$n: endpoint timeouts (a phase the host never took)"
done
vm_pass
