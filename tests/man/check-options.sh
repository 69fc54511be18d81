#!/bin/sh
# tests/man/check-options.sh - every tool's man page and its --help agree.
#
# For each tool page (man/usb_storage_*.1, man/virtio-scsi-*.1) whose
# program was built: the long options and the short letters in the page's
# OPTIONS section (as mandoc renders it) are exactly those of "TOOL
# --help" (--usage and the -h alias aside), and the page has the sections
# NAME, SYNOPSIS, DESCRIPTION, OPTIONS, DEVICE SPECS, EXIT STATUS,
# EXAMPLES and SEE ALSO.  For orionstor(1): each command's options appear
# in the page and each option the OPTIONS section lists belongs to a
# command.  Every page carries the same date.  Exit 77 without mandoc.
srcdir=${srcdir:-.}
top_builddir=${top_builddir:-.}
MANDOC=${MANDOC:-mandoc}
ORIONSTOR_CONF=/dev/null
export ORIONSTOR_CONF

if ! command -v "$MANDOC" >/dev/null 2>&1; then
	echo "SKIP: $MANDOC not found"
	exit 77
fi
tmp=$(mktemp -d "${TMPDIR:-/tmp}/check-options.XXXXXX") || exit 1
trap 'rm -rf "$tmp"' EXIT INT TERM

status=0
checked=0
bad() {
	echo "FAIL: $*"
	status=1
}
render() { # page -> plain text
	"$MANDOC" -T ascii "$1" | sed 's/.\x08//g'
}
section() { # name: that section of the rendered page on stdin
	awk -v s="$1" '/^[A-Z]/ { on = ($0 == s) ; next } on'
}
longs() {
	grep -oE -- '--[a-z][a-z0-9-]*' | grep -vx -- '--usage' | sort -u
}
shorts_help() {
	sed -n 's/^ \{1,6\}-\([A-Za-z?]\)\([, ]\).*/\1/p' | grep -vx h | sort -u
}
shorts_page() { # -h and -? are both the help
	sed -n 's/^ \{5\}-\([A-Za-z?]\)\(,\| \|$\).*/\1/p' | sed 's/^h$/?/' | sort -u
}
compare() { # what tool want-file got-file
	if ! cmp -s "$3" "$4"; then
		bad "$1: the $2 of --help and of the page differ (< help only, > page only): $(diff "$3" "$4" | grep '^[<>]' | tr '\n' ' ')"
	fi
}

for page in "$srcdir"/man/usb_storage_*.1 "$srcdir"/man/virtio-scsi-*.1; do
	tool=$(basename "$page" .1)
	bin=$top_builddir/tools/$tool
	if [ ! -x "$bin" ]; then
		echo "skip: $tool (not built)"
		continue
	fi
	"$bin" --help >"$tmp/help" 2>&1 || bad "$tool --help exited non-zero"
	render "$page" >"$tmp/page"
	section OPTIONS <"$tmp/page" >"$tmp/options"
	longs <"$tmp/help" >"$tmp/h.long"
	longs <"$tmp/options" >"$tmp/p.long"
	compare "$tool" "long options" "$tmp/h.long" "$tmp/p.long"
	shorts_help <"$tmp/help" >"$tmp/h.short"
	shorts_page <"$tmp/options" >"$tmp/p.short"
	compare "$tool" "short options" "$tmp/h.short" "$tmp/p.short"
	for s in NAME SYNOPSIS DESCRIPTION OPTIONS "DEVICE SPECS" "EXIT STATUS" EXAMPLES "SEE ALSO"; do
		grep -qx "$s" "$tmp/page" || bad "$tool: no $s section"
	done
	checked=$((checked + 1))
done

# orionstor(1): one page for every command.
bin=$top_builddir/tools/orionstor
if [ -x "$bin" ]; then
	render "$srcdir/man/orionstor.1" >"$tmp/page"
	for s in NAME SYNOPSIS DESCRIPTION OPTIONS "DEVICE SPECS" "EXIT STATUS" EXAMPLES "SEE ALSO"; do
		grep -qx "$s" "$tmp/page" || bad "orionstor: no $s section"
	done
	longs <"$tmp/page" >"$tmp/p.all"
	section OPTIONS <"$tmp/page" | longs >"$tmp/p.long"
	: >"$tmp/h.all"
	for cmd in $("$bin" help | sed -n '/^Commands:/,/^$/s/^  \([a-z][a-z-]*\) .*/\1/p' | grep -vx help); do
		"$bin" "$cmd" --help >"$tmp/help" 2>&1 || { bad "orionstor $cmd --help exited non-zero"; continue; }
		longs <"$tmp/help" >"$tmp/h.long"
		comm -23 "$tmp/h.long" "$tmp/p.all" >"$tmp/missing"
		[ -s "$tmp/missing" ] && bad "orionstor $cmd: options missing from orionstor(1): $(tr '\n' ' ' <"$tmp/missing")"
		cat "$tmp/h.long" >>"$tmp/h.all"
	done
	sort -u "$tmp/h.all" -o "$tmp/h.all"
	comm -13 "$tmp/h.all" "$tmp/p.long" >"$tmp/extra"
	[ -s "$tmp/extra" ] && bad "orionstor(1) OPTIONS lists options no command takes: $(tr '\n' ' ' <"$tmp/extra")"
	checked=$((checked + 1))
fi

# orionstor-sim(7) documents every option and fault the simulation takes
# (the lists its own error messages give).
bin=$top_builddir/tools/orionstor
if [ -x "$bin" ]; then
	render "$srcdir/man/orionstor-sim.7" >"$tmp/sim"
	{
		"$bin" list | sed -n 's/^sim: .*(options: \(.*\))$/\1/p'
		"$bin" info -d sim:transport=usb-bot,fault=no-such 2>&1 | sed -n 's/.*; faults: \(.*\) (OSTOR.*/\1/p'
		"$bin" info -d sim:transport=usb-bot,no-such=1 2>&1 | sed -n 's/.*accepted options: \(.*\) (OSTOR.*/\1/p'
		"$bin" info -d sim:transport=virtio,no-such=1 2>&1 | sed -n 's/.*accepted options: \(.*\) (OSTOR.*/\1/p'
	} | tr ',' '\n' | sed 's/^ *//; s/[=[ (].*//' | grep . | sort -u >"$tmp/simopts"
	[ "$(wc -l <"$tmp/simopts")" -gt 40 ] || bad "too few sim options found in the messages ($(wc -l <"$tmp/simopts"))"
	while read -r o; do
		grep -Eq "(^| |,)$o(=| |,|$)" "$tmp/sim" || bad "orionstor-sim(7) does not describe the sim option or fault '$o'"
	done <"$tmp/simopts"
fi

# One date on every page.
dates=$(for page in "$srcdir"/man/*.[1-8]; do
	render "$page" | tail -n 1 | sed 's/^[^ ].*  *\([A-Z][a-z]* [0-9][0-9]*, [0-9]*\|[0-9-]\{10\}\)  *[^ ]*$/\1/'
done | sed 's/^2026-12-02$/December 2, 2026/' | sort -u)
[ "$(printf '%s\n' "$dates" | wc -l)" -eq 1 ] || bad "the pages carry different dates: $(printf '%s\n' "$dates" | tr '\n' ';')"

[ "$checked" -gt 0 ] || bad "no tool page was checked"
[ $status -eq 0 ] && echo "ok: $checked tool pages agree with --help; one date ($dates)"
exit $status
