#!/bin/sh
# tests/tools/test-health.sh - orionstor smart and power, and the
# usb_storage_power_* tools, against simulated devices: the verdict and
# its exit status (0 passed, 8 failing, 4 unknown), the attribute table,
# protocols, self-tests; the power condition, START STOP UNIT refused
# (9, with the device's reason), page 1Ah and its timers (milliseconds
# rounded up to 100 ms); a device another process holds; bad options (1).
#
# The simulated ATA disk (sim:ata, bridge=jmicron, ata-fault=..., page 1Ah
# on sim:) is lib/sim's health model.  The usb_storage_power_* tools are
# not built without USB (--disable-usb): their checks are skipped then.
#
# Run by "make check" from the top build directory.  Exits 0 when every
# check passed, 1 on the first failure, 77 (skip) when python3 is missing.

test_name=test-health
. "${srcdir:-.}/tests/tools/lib.sh"
# check PYTHON-STATEMENTS MESSAGE: run with d = the JSON of $tmp/out.
check() {
	"$PYTHON" - "$tmp/out" "$1" <<'EOF' || fail "$2"
import json, sys
d = json.load(open(sys.argv[1]))
try:
    exec(sys.argv[2])
except AssertionError as e:
    sys.exit(f"assertion failed: {e}")
EOF
}

ORIONSTOR_CONF=$tmp/orionstor.conf
export ORIONSTOR_CONF

# ---- the simulated SCSI disk -------------------------------------------------------------
run 0 "$ORIONSTOR" smart -d sim: --json
check "
assert d['protocol'] == 'scsi', d['protocol']
assert d['verdict'] == 'passed', d
assert d['reason'], d
assert d['device'] == {'spec': 'sim:', 'target': 0, 'lun': 0}, d['device']
assert d['inquiry']['vendor'] == 'ORIONSTR', d['inquiry']
ie = d['scsi']['informational_exception']
assert ie['source'] in ('REQUEST SENSE', 'log page 2Fh') and not ie['failure_predicted'], ie
assert d['held_by'] is None, d['held_by']
assert 'self_test_started' not in d, d
" "smart --json on sim:"
run 0 "$ORIONSTOR" smart -d sim:
out "^=== identity ===$"
out "^Vendor: +ORIONSTR$"
out "^SMART overall-health: PASSED$"
out "^Reason: +(REQUEST SENSE|log page 2Fh): no failure predicted$"
out "^Informational exceptions: none"
out "^Self-test results: "
pass "smart on sim: PASSED from the informational exceptions, exit status 0"

run 0 "$ORIONSTOR" smart -d sim: -H
out "^SMART overall-health: PASSED$"
grep -q "identity\|Informational" "$tmp/out" && fail "smart -H printed more than the verdict"
run 0 "$ORIONSTOR" smart -d sim: --protocol scsi -A
out "^Log pages supported: 00h"
grep -q "overall-health" "$tmp/out" && fail "smart -A printed the verdict"
run 0 "$ORIONSTOR" smart -d sim: -l selftest
out "^Self-test results: "
pass "smart -H, -A, -l selftest print their part only"

# A SCSI disk refuses the ATA protocols when they are asked for by name.
run 9 "$ORIONSTOR" smart -d sim: --protocol sat
err "refuses ATA PASS-THROUGH\(16\)"
run 9 "$ORIONSTOR" smart -d sim: -P sunplus
err "Sunplus"
pass "--protocol sat on a SCSI disk, sunplus: not supported (9), with the reason"

# A CD-ROM has no page 1Ah and refuses power conditions, then as now.
run 0 "$ORIONSTOR" power -d sim:type=cdrom
out "^Power condition: +active \(REQUEST SENSE\)$"
out "this device has no Power Condition mode page \(1Ah\)"
run 0 "$ORIONSTOR" power -d sim:type=cdrom --json
check "
assert d['condition'] == 'active' and d['condition_source'] == 'request-sense', d
pg = d['power_condition_page']
assert pg == {'present': False, 'saveable': False, 'timers': None}, pg
assert 'changed' not in d and d['held_by'] is None, d
" "power --json on a CD-ROM"
run 9 "$ORIONSTOR" power -d sim:type=cdrom --state standby
err "power condition standby not supported by this device"
err "NOT_SUPPORTED"
run 9 "$ORIONSTOR" power -d sim:type=cdrom --idle-timer 5000
err "has no Power Condition mode page \(1Ah\)"
pass "power: no page 1Ah said plainly; standby and timers refused with exit status 9"

# ---- bad options ----------------------------------------------------------------------------
run 1 "$ORIONSTOR" smart -d sim: --protocol foo
err "unknown health protocol 'foo'"
run 1 "$ORIONSTOR" smart -d sim: --test medium
err "unknown self-test 'medium'; expected short, long or abort"
run 1 "$ORIONSTOR" smart -d sim: -l error
err "unknown log 'error'"
run 1 "$ORIONSTOR" smart
run 1 "$ORIONSTOR" power -d sim: --idle-timer 12abc
err "'12abc' is not a number of milliseconds or off"
run 1 "$ORIONSTOR" power -d sim: --standby-timer -5
run 1 "$ORIONSTOR" power -d sim: --idle-timer 429496729501
run 1 "$ORIONSTOR" power -d sim: --state sleep
err "unknown state 'sleep'"
run 1 "$ORIONSTOR" power -d sim: --immed
err "--immed goes with --state"
run 1 "$ORIONSTOR" power -d sim: --save
err "--save goes with"
run 0 "$ORIONSTOR" help smart
out "--protocol"
run 0 "$ORIONSTOR" power --help
out "--standby-timer"
pass "bad options: usage errors (1) that say what is wrong; help"

# ---- a device another process holds -------------------------------------------------------
spec=sim:size=4M
rm -f "$tmp/in"
mkfifo "$tmp/in" || fail "mkfifo"
"$HOLDER" "$spec" 0 0 <"$tmp/in" >"$tmp/holder.out" 2>"$tmp/holder.err" &
holder=$!
exec 9>"$tmp/in"
i=0
until grep -q '^ready$' "$tmp/holder.out" 2>/dev/null; do
	kill -0 "$holder" 2>/dev/null || fail "the holder died"
	i=$((i + 1))
	[ $i -lt 6000 ] || fail "the holder never got ready"
	sleep 0.01
done
# Asked through its control socket (methods health and power): the
# holder's answer, never the device opened behind its back.
run 0 "$ORIONSTOR" smart -d "$spec" --json
check "
assert d['held_by'] == {'pid': $holder, 'program': 'live-holder'}, d['held_by']
assert d['verdict'] == 'passed' and d['protocol'] == 'scsi', d
assert d['monitoring']['enabled'] is False, d['monitoring']" "smart --json on a held device"
run 0 "$ORIONSTOR" power -d "$spec" --state idle
run 0 "$ORIONSTOR" power -d "$spec" --json
check "
assert d['held_by']['pid'] == $holder, d['held_by']
assert d['condition'] == 'idle' and d['condition_source'] == 'request-sense', d" "power --json on a held device"
run 0 "$ORIONSTOR" smart -d "$spec" -t short
run 0 "$ORIONSTOR" smart -d "$spec" -l selftest --json
check "
assert len(d['scsi']['self_test_results']) >= 1, d['scsi']" "a self-test started through the holder"
exec 9>&-
wait "$holder" || fail "the holder exited with $?"
holder=
pass "a held device: smart, power and a self-test through the holder's control socket"

# ---- the simulated ATA disk ---------------------------------------------------------------
run 0 "$ORIONSTOR" smart -d sim:ata --json
check "
assert d['protocol'] == 'sat16', d['protocol']
assert d['verdict'] == 'passed', d
assert d['reason'].startswith('SMART RETURN STATUS'), d['reason']
a = d['ata']
assert a['identify']['model_name'] and a['identify']['serial_number'], a['identify']
assert a['identify']['user_capacity']['bytes'] == 64 << 20, a['identify']['user_capacity']
assert a['smart_status']['passed'] is True and a['smart_status']['registers'] is True, a['smart_status']
t = a['attributes']['table']
assert len(t) >= 5, t
ids = {e['id']: e for e in t}
assert 5 in ids and ids[5]['name'] == 'Reallocated_Sector_Ct' and ids[5]['flags']['prefailure'], ids.get(5)
assert all(e['when_failed'] == '' and e['raw']['string'] != '' for e in t), t
assert d['temperature']['current'] > 0, d.get('temperature')
assert 'self_test_log' in a, a.keys()
" "smart --json on sim:ata"
run 0 "$ORIONSTOR" smart -d sim:ata
out "^Model: +[^ ]"
out "^Protocol: +sat16 "
out "^SMART overall-health: PASSED$"
out "^ID# ATTRIBUTE_NAME +FLAG +VALUE WORST THRESH TYPE +UPDATED +WHEN_FAILED RAW_VALUE$"
out "^  5 Reallocated_Sector_Ct +0x[0-9a-f]{4} +[0-9]{3} +[0-9]{3} +[0-9]{3} +Pre-fail +(Always|Offline) +- +[0-9]"
out "^Temperature: +[0-9]+ Celsius$"
out "^SMART self-test log"
pass "smart on sim:ata: PASSED over SAT(16), identity, attribute table, self-test log"

run 8 "$ORIONSTOR" smart -d sim:ata,ata-fault=failing
out "^SMART overall-health: FAILING$"
run 8 "$ORIONSTOR" smart -d sim:ata,ata-fault=failing --json
check "
assert d['verdict'] == 'failing' and d['ata']['smart_status']['passed'] is False, d['ata']['smart_status']
" "smart --json on a failing disk"
pass "ata-fault=failing: FAILING, exit status 8"

run 8 "$ORIONSTOR" smart -d sim:ata,ata-fault=prefail --json
check "
assert d['verdict'] == 'failing', d
assert 'prefail attribute' in d['reason'], d['reason']
now = [e for e in d['ata']['attributes']['table'] if e['when_failed'] == 'now']
assert now and all(e['flags']['prefailure'] and e['value'] <= e['thresh'] for e in now), now
" "smart --json with a prefail attribute at its threshold"
run 8 "$ORIONSTOR" smart -d sim:ata,ata-fault=prefail -A
out " FAILING_NOW "
pass "ata-fault=prefail: FAILING from the attribute (8), FAILING_NOW in the table"

run 0 "$ORIONSTOR" smart -d sim:ata,ata-fault=no-registers --json
check "
assert d['verdict'] == 'passed', d
assert d['ata']['smart_status']['registers'] is False, d['ata']['smart_status']
assert 'from the attributes' in d['reason'], d['reason']
" "smart --json without ATA registers"
pass "ata-fault=no-registers: the verdict comes from the attributes"

run 0 "$ORIONSTOR" smart -d sim:ata,ata-fault=no-pt16 --json
check "assert d['protocol'] == 'sat12' and d['verdict'] == 'passed', (d['protocol'], d['verdict'])" \
	"smart --json when ATA PASS-THROUGH(16) is refused"
pass "ata-fault=no-pt16: read with ATA PASS-THROUGH(12)"

run 0 "$ORIONSTOR" smart -d sim:bridge=jmicron,transport=usb-bot -P jmicron --json
check "assert d['protocol'] == 'jmicron' and d['verdict'] == 'passed', (d['protocol'], d['verdict'])
assert d['ata']['identify']['model_name'], d['ata']" "smart --json through a JMicron bridge"
pass "bridge=jmicron over usb-bot: --protocol jmicron"

run 0 "$ORIONSTOR" smart -d sim:ata -t short --json
check "
assert d['self_test_started'] == 'short', d.get('self_test_started')
assert d['verdict'] == 'passed', d
" "smart -t short --json"
run 0 "$ORIONSTOR" smart -d sim:ata -t short
out "^A short self-test was started on sim:ata 0:0"
out "^See its result with: .* -d sim:ata -l selftest$"
pass "smart -t short: started, says where to see the result"

run 8 "$ORIONSTOR" smart -d sim:ie=failing --json
check "
assert d['protocol'] == 'scsi' and d['verdict'] == 'failing', d
assert d['scsi']['informational_exception']['failure_predicted'] is True, d['scsi']
" "smart --json on a SCSI disk predicting failure"
pass "ie=failing: FAILING from log page 2Fh (8)"

run 0 "$ORIONSTOR" power -d sim:ata --state standby --json
check "
assert d['changed'] == [{'state': 'standby', 'immed': False}], d['changed']
assert d['condition'] == 'standby' and d['by_timer'] is False, d
assert d['ata_mode'] == 'standby', d['ata_mode']
" "power --state standby --json"
run 0 "$ORIONSTOR" power -d sim:ata --state standby
out "^Done: START STOP UNIT standby$"
out "^Power condition: +standby \(REQUEST SENSE\), entered by a command$"
pass "power --state standby, then the condition is standby (by a command)"

run 0 "$ORIONSTOR" power -d sim: --idle-timer 4901 --standby-timer off --json
check "
pg = d['power_condition_page']
assert pg['present'] is True, pg
ia, sz = pg['timers']['idle_a'], pg['timers']['standby_z']
assert ia['enabled'] is True and ia['timer_100ms'] == 50 and ia['timer_ms'] == 5000, ia
assert sz['enabled'] is False, sz
assert d['changed'][0] == {'timer': 'idle_a', 'enabled': True, 'timer_100ms': 50, 'saved': False}, d['changed']
" "power --idle-timer 4901 --json"
run 0 "$ORIONSTOR" power -d sim: --idle-timer 5000
out "^Done: idle_a timer set to 5000 ms and enabled$"
out "^  idle_a +yes +5000 ms +yes$"
pass "page 1Ah: --idle-timer 5000 shown as 5000 ms (4901 rounded up to 50 x 100 ms)"

run 0 "$ORIONSTOR" power -d sim:power-page=no
out "this device has no Power Condition mode page \(1Ah\)"
run 9 "$ORIONSTOR" power -d sim:power-page=no --standby-timer 1000
err "has no Power Condition mode page \(1Ah\)"
pass "power-page=no: said plainly, timers refused (9)"

# ---- usb_storage_power_info and _set ---------------------------------------------------------
info=$top_builddir/tools/usb_storage_power_info
set=$top_builddir/tools/usb_storage_power_set
if [ ! -x "$info" ] || [ ! -x "$set" ]; then
	echo "SKIP: usb_storage_power_info/_set not built (configured without USB)"
else
	run 0 "$info" -d sim:transport=usb-bot --json
	check "
u = d['usb_power']
assert u['control'] in ('on', 'auto') and u['sysfs_path'] == '', u
assert u['max_power_ma'] > 0 and u['speed'], u
assert d['condition'] == 'active', d
" "usb_storage_power_info --json"
	run 0 "$info" -d sim:transport=usb-bot
	out "^USB runtime power management:$"
	out "^Power condition: "
	run 9 "$info" -d sim:
	err "not a USB"
	pass "usb_storage_power_info: the power condition and USB runtime power; not USB: 9"

	run 0 "$set" -d sim:transport=usb-bot --autosuspend 3000 --json
	check "
assert d['changed'] == [{'autosuspend': True, 'delay_ms': 3000}], d['changed']
assert d['usb_power']['control'] == 'auto' and d['usb_power']['autosuspend_delay_ms'] == 3000, d['usb_power']
" "usb_storage_power_set --autosuspend 3000"
	run 0 "$set" -d sim:transport=usb-bot --autosuspend off --json
	check "assert d['usb_power']['control'] == 'on', d['usb_power']" "usb_storage_power_set --autosuspend off"
	run 0 "$set" -d sim:transport=usb-bot --autosuspend on
	out "^Done: USB autosuspend on \(power/control auto\)$"
	out "^  control +auto "
	run 1 "$set" -d sim:transport=usb-bot --autosuspend sometimes
	err "not on, off or a delay in milliseconds"
	run 1 "$set" -d sim:transport=usb-bot
	err "nothing to change"
	pass "usb_storage_power_set --autosuspend on|off|MS; usage errors"

	"$ORIONSTOR" smart -d sim:ata -H >/dev/null 2>&1 && {
		# The bridge quirks name JMicron's protocol: auto finds it.
		run 0 "$ORIONSTOR" smart -d sim:bridge=jmicron,transport=usb-bot --json
		check "assert d['protocol'] == 'jmicron', d['protocol']" "smart --json auto on a JMicron bridge"
		run 0 "$set" -d sim:ata,transport=usb-bot --state standby --idle-timer 1000 --json
		check "
assert d['condition'] == 'standby', d['condition']
assert d['power_condition_page']['timers']['idle_a']['timer_ms'] == 1000, d['power_condition_page']
" "usb_storage_power_set --state standby --idle-timer 1000"
		pass "a JMicron bridge over USB is found by its quirks; usb_storage_power_set --state"
	}
fi

echo "all $checks checks passed"
