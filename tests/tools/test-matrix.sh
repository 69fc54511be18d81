#!/bin/sh
# tests/tools/test-matrix.sh - every tool on every simulated transport, in
# text and with --json, with good input and with the bad inputs of issue 9.
#
# Transports: sim:, sim:transport=virtio, usb-bot, usb-cbi, usb-cb.  Each
# run is bounded (a hang fails it), its exit code is the one the tool's
# family gives on that transport (a USB tool on a virtio device: 9, not
# supported; a live tool without a holder: 38 ...), stderr says why when
# it is not 0, stdout is empty in text mode when the input was refused (1,
# 39), and with --json stdout is exactly one JSON document, which
# carries the error (an "error" member, or "exit_status") when it failed.
test_name=test-matrix
. "${srcdir:-.}/tests/tools/lib.sh"

TOOLS=$top_builddir/tools
ORIONSTOR_CONF=$tmp/orionstor.conf
export ORIONSTOR_CONF
RUN_TIMEOUT=${RUN_TIMEOUT:-40}
TRANSPORTS="sim virtio usb-bot usb-cbi usb-cb"
head -c 512 /dev/zero >"$tmp/block"

spec_of() { # transport -> a 1 MiB device of 2048 blocks
	case $1 in
	sim) echo "sim:size=1M" ;;
	virtio) echo "sim:size=1M,transport=virtio,ring-reset" ;;
	*) echo "sim:size=1M,transport=$1" ;;
	esac
}

runs=0
# check EXPECTED MODE TOOL ARGS...: MODE text or json.
check() {
	expect=$1 mode=$2
	shift 2
	if [ "$mode" = json ]; then
		set -- "$@" --json
	fi
	start=$(date +%s)
	timeout "$RUN_TIMEOUT" "$@" >"$tmp/out" 2>"$tmp/err"
	got=$?
	runs=$((runs + 1))
	[ "$got" -ne 124 ] || fail "$* took longer than $RUN_TIMEOUT s ($(($(date +%s) - start)) s)"
	[ "$got" -eq "$expect" ] || fail "$* exited with $got, expected $expect"
	if [ "$got" -ne 0 ] && ! [ -s "$tmp/err" ]; then
		fail "$* exited with $got and said nothing on standard error"
	fi
	# A bad option or address is refused before anything is described:
	# no heading on standard output for nothing.
	if [ "$mode" = text ] && { [ "$got" -eq 1 ] || [ "$got" -eq 39 ]; } && [ -s "$tmp/out" ]; then
		fail "$* exited with $got but printed on standard output: $(head -c 200 "$tmp/out")"
	fi
	if [ "$mode" = json ]; then
		# checked all at once at the end: one Python, not one per run
		cp "$tmp/out" "$tmp/json/$runs.out"
		printf '%s\n' "$got $*" >"$tmp/json/$runs.cmd"
	fi
}
mkdir "$tmp/json"

# family TOOL -> any, usb, virtio, pci or live
family() {
	case $1 in
	usb_storage_device_* | usb_storage_scsi_reset | usb_storage_power_*) echo usb ;;
	usb_storage_optimization_info | usb_storage_performance_stats) echo live ;;
	virtio-scsi-device-bind | virtio-scsi-device-remove) echo pci ;;
	virtio-scsi-command-* | virtio-scsi-queue-flush | virtio-scsi-queue-stats | virtio-scsi-performance-stats)
		echo live ;;
	virtio-scsi-*) echo virtio ;;
	*) echo any ;;
	esac
}
good_exit() { # family transport
	case $1:$2 in
	any:* | usb:usb-* | virtio:virtio) echo 0 ;;
	usb:* | virtio:*) echo 9 ;;
	pci:*) echo 1 ;;
	live:*) echo 38 ;;
	esac
}
good_args() { # tool: the arguments of a run that works
	case $1 in
	usb_storage_scsi_command) echo '--cdb=120000002400 --request=36' ;;
	usb_storage_power_set) echo '--state active' ;;
	virtio-scsi-queue-reset | virtio-scsi-queue-flush) echo '--queue 2' ;;
	virtio-scsi-target-*) echo '--target 0' ;;
	virtio-scsi-command-abort) echo '--tag 1' ;;
	esac
}

tools=
for t in "$TOOLS"/usb_storage_* "$TOOLS"/virtio-scsi-*; do
	[ -x "$t" ] && case $t in *.o | *.c) ;; *) tools="$tools ${t##*/}" ;; esac
done

for tr in $TRANSPORTS; do
	spec=$(spec_of "$tr")
	for mode in text json; do
		# orionstor's commands: the good case and the findings of issue 9.
		check 0 $mode "$TOOLS/orionstor" info -d "$spec"
		check 0 $mode "$TOOLS/orionstor" info -d "$spec" -H
		check 0 $mode "$TOOLS/orionstor" read -d "$spec" --lba 0 --count 1 -o "$tmp/x"
		check 0 $mode "$TOOLS/orionstor" write -d "$spec" --lba 0 -i "$tmp/block"
		check 0 $mode "$TOOLS/orionstor" cmd -d "$spec" --cdb "12 00 00 00 24 00" --request 36
		check 0 $mode "$TOOLS/orionstor" smart -d "$spec" -H
		check 0 $mode "$TOOLS/orionstor" power -d "$spec"
		check 0 $mode "$TOOLS/orionstor" cache info -d "$spec"
		check 38 $mode "$TOOLS/orionstor" stats -d "$spec"
		# more data than the buffer: overrun, on every transport, no hang
		check 49 $mode "$TOOLS/orionstor" cmd -d "$spec" --cdb "28 00 00 00 00 00 00 00 01 00" --request 100
		# less: GOOD with a residual
		check 0 $mode "$TOOLS/orionstor" cmd -d "$spec" --cdb "28 00 00 00 00 00 00 00 01 00" --request 4096
		check 39 $mode "$TOOLS/orionstor" info -d "$spec" --target 99999
		check 39 $mode "$TOOLS/orionstor" info -d "$spec" --lun 2
		check 22 $mode "$TOOLS/orionstor" read -d "$spec" --lba 2047 --count 2 -o "$tmp/x"
		check 1 $mode "$TOOLS/orionstor" info -d "$spec,luns=300"
		check 1 $mode "$TOOLS/orionstor" cmd -d "$spec" --cdb "28 0g"
		for t in $tools; do
			f=$(family "$t")
			# shellcheck disable=SC2046
			check "$(good_exit "$f" "$tr")" $mode "$TOOLS/$t" -d "$spec" $(good_args "$t")
		done
		if [ -x "$TOOLS/usb_storage_scsi_info" ]; then
			check 39 $mode "$TOOLS/usb_storage_scsi_info" -d "$spec" --lun 3
			check 1 $mode "$TOOLS/usb_storage_device_reset"
		fi
		if [ -x "$TOOLS/virtio-scsi-target-info" ] && [ "$tr" = virtio ]; then
			check 39 $mode "$TOOLS/virtio-scsi-target-info" -d "$spec" --target 3
		fi
	done
	pass "$tr: every tool, text and JSON, good and bad input"
done
"$PYTHON" - "$tmp/json" <<'EOF' || fail "the JSON output is wrong (see above)"
import json, os, sys
d = sys.argv[1]
bad = 0
def has_error(o):
    if isinstance(o, dict):
        return "error" in o or any(has_error(v) for v in o.values())
    if isinstance(o, list):
        return any(has_error(v) for v in o)
    return False
for name in sorted(os.listdir(d)):
    if not name.endswith(".out"):
        continue
    n = name[:-4]
    rc, cmd = open(os.path.join(d, n + ".cmd")).read().rstrip("\n").split(" ", 1)
    rc = int(rc)
    text = open(os.path.join(d, name)).read()
    msg = None
    try:
        doc = json.loads(text)
        if rc and not (has_error(doc) or (isinstance(doc, dict) and doc.get("exit_status") == rc)):
            msg = "exit status %d but no error in the JSON: %r" % (rc, text[:300])
        elif isinstance(doc, dict) and "spec" in doc:
            msg = "the device key is 'device', not 'spec'"
    except ValueError as e:
        msg = "not one JSON document (%s): %r" % (e, text[:300])
    if msg:
        bad += 1
        print("%s: %s" % (cmd, msg))
sys.exit(1 if bad else 0)
EOF
pass "every --json run printed one JSON document that carries its error"
echo "# $runs runs"
echo "1..$checks"
