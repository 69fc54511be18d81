#!/bin/sh
# tests/man/check-manpages.sh - lint every man page with mandoc.
#
# "mandoc -T lint -W warning" exits non-zero on any warning or error, and
# so does this script.  Pages are found in $srcdir/man (set by the
# automake test harness; "." otherwise).  Exit 77 (skip) without mandoc.

srcdir=${srcdir:-.}
MANDOC=${MANDOC:-mandoc}

if ! command -v "$MANDOC" >/dev/null 2>&1; then
	echo "SKIP: $MANDOC not found"
	exit 77
fi

status=0
found=0
for page in "$srcdir"/man/*.[1-8]; do
	[ -f "$page" ] || continue
	found=$((found + 1))
	if "$MANDOC" -T lint -W warning "$page"; then
		echo "ok: $page"
	else
		echo "FAIL: $page has mandoc warnings or errors (see above)"
		status=1
	fi
done
if [ "$found" -eq 0 ]; then
	echo "FAIL: no man pages found under $srcdir/man"
	exit 1
fi
exit $status
