#!/bin/sh
# tests/tools/test-exit-codes.sh - every exit code of orionstor(1)'s EXIT
# STATUS table happens, with the meaning the page gives it.
#
# The codes are read from the page and from tools/common/toolcommon.h:
# the two sets must be the same, and each code needs a case below.  Most
# cases run a tool against a simulated device (sim:scsi-fault= makes a
# command end with a given sense or status); the device that vanishes
# (35) has no simulation, so its case asks tests/tools/exit-map, which
# prints what tools/common maps the outcome to.
test_name=test-exit-codes
. "${srcdir:-.}/tests/tools/lib.sh"

srcdir=${srcdir:-.}
page=$srcdir/man/orionstor.1
header=$srcdir/tools/common/toolcommon.h
EXIT_MAP=${EXIT_MAP:-$top_builddir/tests/tools/exit-map}
ORIONSTOR_CONF=$tmp/orionstor.conf
export ORIONSTOR_CONF

documented=$(sed -n '/^\.Sh EXIT STATUS/,/^\.Sh /p' "$page" | sed -n 's/^\.It Sy \([0-9][0-9]*\)$/\1/p' | sort -n | tr '\n' ' ')
defined=$(sed -n 's/^[[:space:]]*TC_EXIT_[A-Z_]* = \([0-9][0-9]*\),*.*/\1/p' "$header" | sort -n | uniq | tr '\n' ' ')
[ -n "$documented" ] || fail "no codes found in the EXIT STATUS section of $page"
[ "$documented" = "$defined" ] ||
	fail "orionstor(1) documents exit codes '$documented' but toolcommon.h defines '$defined'"
pass "orionstor(1) and toolcommon.h list the same codes: $documented"

# The whole run of one case, bounded: a hang is a failure, not a stall.
bounded() {
	timeout 60 "$@"
}
# cmd TEST UNIT READY on a sim whose TEST UNIT READY ends with FAULT.
tur_fault() {
	bounded "$ORIONSTOR" cmd -d "sim:size=1M,scsi-fault=00/$1" --cdb "00 00 00 00 00 00"
}
map() {
	code=$("$EXIT_MAP" "$@") || fail "exit-map $*"
	return "$code"
}

img=$tmp/disk.img
head -c 4096 /dev/zero >"$tmp/4k"
produce() {
	case $1 in
	0) bounded "$ORIONSTOR" info -d sim:size=1M ;;
	1) bounded "$ORIONSTOR" info -d sim:size=1M --no-such-option ;;
	2) tur_fault 02/04/00 ;;
	3) bounded "$ORIONSTOR" read -d sim:size=1M,scsi-fault=28/03/11/00 --lba 0 --count 1 -o "$tmp/x" ;;
	4) bounded "$ORIONSTOR" smart -d sim:size=1M,scsi-fault=4d/05/20/00+03/05/20/00 -H ;;
	5) bounded "$ORIONSTOR" cmd -d sim:size=1M --cdb "12 01 ee 00 24 00" --request 36 ;;
	6) tur_fault 06/29/00 ;;
	7) bounded "$ORIONSTOR" write -d sim:size=1M,readonly --lba 0 -i "$tmp/4k" ;;
	8) bounded "$ORIONSTOR" smart -d sim:ata,ata-fault=failing -H ;;
	9) bounded "$ORIONSTOR" cmd -d sim:size=1M --cdb "ff 00 00 00 00 00" ;;
	10) tur_fault 0a/00/00 ;;
	11) tur_fault 0b/00/00 ;;
	14) tur_fault 0e/1d/00 ;;
	15) bounded "$ORIONSTOR" info -d "sim:image=$tmp/no/such/dir/disk.img" ;;
	20) tur_fault 00/00/00 ;;
	21) tur_fault 01/17/00 ;;
	22) bounded "$ORIONSTOR" read -d sim:size=1M --lba 2047 --count 2 -o "$tmp/x" ;;
	24) tur_fault 18 ;;
	26) tur_fault 08 ;;
	27) tur_fault 28 ;;
	28) tur_fault 30 ;;
	29) tur_fault 40 ;;
	33) bounded "$ORIONSTOR" cmd -d sim:size=1M,transport=usb-bot,fault=hang,fault-count=1000,usb-timeout=300 \
		--cdb "00 00 00 00 00 00" ;;
	35) map result 7 0 ;;
	37) bounded "$ORIONSTOR" cmd -d sim:size=1M,transport=usb-bot,fault=phase-error,fault-count=1000 \
		--cdb "00 00 00 00 00 00" ;;
	38) bounded "$ORIONSTOR" ps -d sim:null ;;
	39) bounded "$ORIONSTOR" info -d sim:size=1M --target 99999 ;;
	49) bounded "$ORIONSTOR" cmd -d sim:size=1M --cdb "28 00 00 00 00 00 00 00 01 00" --request 100 ;;
	98) tur_fault 09/00/00 ;;
	99) tur_fault 22 ;;
	130) interrupted_read ;;
	*) echo "no case for exit code $1" >&2; return 255 ;;
	esac
}

# SIGTERM during a long read, once the read has opened its image.
interrupted_read() {
	big=$tmp/big.img
	: >"$big"
	truncate -s 1T "$big" || return 255
	"$ORIONSTOR" read -d "sim:image=$big,size=1T" --lba 0 --count 2147483648 -o /dev/null -q &
	rpid=$!
	i=0
	until ls -l /proc/$rpid/fd 2>/dev/null | grep -q "$big"; do
		kill -0 $rpid 2>/dev/null || break
		i=$((i + 1)); [ $i -lt 3000 ] || break
		sleep 0.01
	done
	kill -TERM $rpid
	wait $rpid
	st=$?
	rm -f "$big"
	return $st
}

# What each case must say on standard error (or, for cmd, standard
# output), so the code comes with its reason.
reason() {
	case $1 in
	1) echo "no-such-option" ;;
	2) echo "NOT READY" ;;
	3) echo "MEDIUM ERROR" ;;
	4) echo "UNKNOWN" ;;
	7) echo "DATA PROTECT|write.protected" ;;
	9) echo "INVALID COMMAND OPERATION CODE|invalid command operation code" ;;
	15) echo "No such file or directory" ;;
	22) echo "past the end" ;;
	33) echo "timeout" ;;
	37) echo "transport-error" ;;
	38) echo "no process" ;;
	39) echo "no target 99999" ;;
	49) echo "overrun|more data" ;;
	130) echo "interrupted" ;;
	esac
}

for code in $documented; do
	produce "$code" >"$tmp/out" 2>"$tmp/err"
	got=$?
	[ "$got" -eq "$code" ] || fail "the case for exit code $code exited with $got"
	want=$(reason "$code")
	if [ -n "$want" ]; then
		cat "$tmp/out" "$tmp/err" | grep -Eiq -- "$want" ||
			fail "exit code $code came without its reason ('$want')"
	fi
	pass "exit code $code"
done

# Block I/O tells a broken link from a bad block: a transport error that
# persists is 37 (not 3, a medium error); a passing one is retried after
# the transport's recovery (orionstor-sim(7)'s example), and the read works.
bounded "$ORIONSTOR" read -d sim:size=1M,transport=usb-bot,fault=phase-error,fault-count=1000,fault-after=5 \
	--lba 0 --count 8 -o "$tmp/x" >"$tmp/out" 2>"$tmp/err"
got=$?
[ "$got" -eq 37 ] || fail "read with a phase error on every command exited $got, not 37"
grep -q "READ of 8 blocks at LBA 0.*transport error" "$tmp/err" ||
	fail "read with a phase error on every command: the READ's transport error not said: $(cat "$tmp/err")"
pass "block I/O: a persistent transport error is exit 37"
bounded "$ORIONSTOR" read -d sim:transport=usb-bot,fault=phase-error,fault-count=3 --lba 0 --count 8 \
	-o "$tmp/x" 2>"$tmp/err" || fail "read through three phase errors failed: $(cat "$tmp/err")"
[ "$(wc -c <"$tmp/x")" -eq 4096 ] || fail "read through three phase errors: not 4096 bytes"
pass "block I/O: three phase errors are recovered and retried"

# The library's error codes that no case above goes through.
map error -4; [ $? -eq 35 ] || fail "OSTOR_ERROR_NO_DEVICE is not 35"
map open-error -5; [ $? -eq 15 ] || fail "ostor_open's OSTOR_ERROR_NOT_FOUND is not 15"
map error -5; [ $? -eq 39 ] || fail "OSTOR_ERROR_NOT_FOUND is not 39"
map error -13; [ $? -eq 1 ] || fail "OSTOR_ERROR_BAD_SPEC is not 1"
map error -9; [ $? -eq 37 ] || fail "OSTOR_ERROR_PROTOCOL is not 37"
map error -8; [ $? -eq 49 ] || fail "OSTOR_ERROR_OVERFLOW is not 49"
map result 1 2 "70 00 05 00 00 00 00 0a 00 00 00 00 21 00 00 00 00 00"; [ $? -eq 22 ] ||
	fail "ILLEGAL REQUEST 21h/00h is not 22"
pass "library error codes without a simulated case map as documented"
echo "1..$checks"
