#!/bin/sh
# tests/tools/test-usb-storage.sh - the usb_storage_* tools end to end on
# the simulated USB mass-storage devices (sim:transport=usb-bot|cbi|cb).
# Exits 0 when every check passed, 1 on the first failure, 77 (skip) when
# python3 is missing.

top_builddir=${top_builddir:-.}
T=$top_builddir/tools
PYTHON=${PYTHON:-python3}
export ORIONSTOR_CONF=/dev/null

command -v "$PYTHON" >/dev/null 2>&1 || { echo "SKIP: $PYTHON not found"; exit 77; }
tmp=$(mktemp -d "${TMPDIR:-/tmp}/test-usb-storage.XXXXXX") || exit 1
trap 'rm -rf "$tmp"' EXIT INT TERM

checks=0
fail() {
	echo "FAIL: $*"
	for f in "$tmp/out" "$tmp/err"; do
		[ -s "$f" ] && { echo "--- ${f##*/}:"; head -c 2000 "$f"; echo; }
	done
	exit 1
}
pass() { checks=$((checks + 1)); }
run() { "$@" >"$tmp/out" 2>"$tmp/err"; }
json() { "$PYTHON" -c "import json,sys; d=json.load(open('$tmp/out')); sys.exit(0 if ($1) else 1)" || fail "JSON check: $1"; }

BOT="sim:transport=usb-bot,luns=2,size=1M"
CBI="sim:transport=usb-cbi,subclass=ufi,size=1M"

run "$T/usb_storage_device_info" -d "$BOT" --json || fail "device_info bot"
json "d['vendor_id']=='1209' and d['product_id']=='0b07' and d['transport']=='bot' and d['max_lun']==1 and len(d['luns'])==2 and d['luns'][1]['blocks']==2048 and d['luns'][0]['block_size']==512 and d['speed']=='high' and d['subclass']=='06' and d['protocol']=='50' and 'serial' in d"
pass
run "$T/usb_storage_device_info" -d "$CBI" --json || fail "device_info cbi"
json "d['transport']=='cbi' and d['subclass']=='04' and d['max_lun']==0 and len(d['luns'])==1"
pass
run "$T/usb_storage_device_info" -d "$BOT" || fail "device_info text"
grep -q "transport    bot, max LUN 1" "$tmp/out" || fail "device_info text: transport line"
pass
run "$T/usb_storage_device_info" -d "sim:transport=usb-bot,quirks=ignore-residue+go-slow" --json || fail "quirks"
json "d['quirks']=='ignore-residue,go-slow'"
pass
run "$T/usb_storage_device_info" -d "sim:" && fail "device_info on a non-USB device must fail"
pass
run "$T/usb_storage_device_reset" -d "$BOT" || fail "device_reset"
grep -q "Reset Recovery" "$tmp/out" || fail "device_reset: what was done"
grep -q "state: responding" "$tmp/out" || fail "device_reset: state"
pass
run "$T/usb_storage_device_reset" -d "$CBI" --port || fail "device_reset --port"
grep -q "USB port reset done" "$tmp/out" || fail "port reset message"
pass
run "$T/usb_storage_device_reset" -d "sim:transport=usb-bot,fault=port-reset-fail" --port && fail "failed port reset must fail"
grep -q "state: dead" "$tmp/out" || fail "dead state not reported"
pass
run "$T/usb_storage_scsi_reset" -d "$BOT" || fail "scsi_reset"
grep -q "LUN 1:" "$tmp/out" || fail "scsi_reset: LUN 1 not visited"
pass
run "$T/usb_storage_device_remove" -d "$BOT" || fail "device_remove"
grep -q "LUN 1: cache flushed" "$tmp/out" || fail "device_remove: flush"
grep -q "interface released" "$tmp/out" || fail "device_remove: release"
pass
run "$T/usb_storage_scsi_info" -d "$BOT" --lun 1 --json || fail "scsi_info"
json "d['vendor']=='ORIONSTR' and d['capacity10_blocks']==2048 and d['capacity16_blocks']==2048 and 0x80 in d['vpd_pages'] and d['write_protected']==False and 'unit_serial_number' in d"
pass
json "d['write_cache_enabled']==True and d['read_cache_disabled']==False and 'format_capacity_blocks' not in d"
pass
run "$T/usb_storage_scsi_info" -d "$CBI" --json || fail "scsi_info ufi"
json "d['format_capacity_blocks']==2048 and d['format_capacity_block_length']==512 and d['format_capacity_media']=='formatted'"
pass
run "$T/usb_storage_scsi_info" -d "sim:transport=usb-cb,readonly,size=1M" --json || fail "scsi_info cb"
json "d['write_protected']==True"
pass
run "$T/usb_storage_scsi_command" -d "$BOT" --lun 1 --cdb "12 00 00 00 24 00" --request 36 --json || fail "scsi_command"
json "d['status']==0 or d.get('result')=='good'"
pass
run "$T/usb_storage_scsi_command" -d "sim:transport=usb-bot,readonly" --cdb "2a 00 00 00 00 00 00 00 01 00" --send /dev/null
[ $? -ne 0 ] || true
pass
echo "PASS: $checks checks"
exit 0
