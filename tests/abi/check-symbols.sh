#!/bin/sh
# tests/abi/check-symbols.sh - the ABI is what the headers declare: the
# OSTOR_API declarations of include/, the symbol list of
# lib/liborionstor.sym and the functions the built library exports must
# be the same three sets (make check).
srcdir=${srcdir:-.}
top_builddir=${top_builddir:-.}
lib=$top_builddir/lib/.libs/liborionstor.so
tmp=$(mktemp -d) || exit 1
trap 'rm -rf "$tmp"' EXIT

if [ ! -f "$lib" ]; then
	echo "SKIP: no shared library at $lib (built with --disable-shared?)"
	exit 77
fi
python3 - "$srcdir/include/orionstor.h" "$srcdir/include/orionstor/scsi.h" >"$tmp/declared" <<'PY' || exit 1
import re, sys
names = set()
for path in sys.argv[1:]:
    names.update(re.findall(r'OSTOR_API[^(;]*?\b(ostor_\w+)\s*\(', open(path).read()))
print("\n".join(sorted(names)))
PY
sed -n 's/^[[:space:]]*\(ostor_[A-Za-z0-9_]*\);[[:space:]]*$/\1/p' "$srcdir/lib/liborionstor.sym" | sort -u >"$tmp/listed"
nm -D --defined-only "$lib" | awk '$2 == "T" || $2 == "D" || $2 == "B" { sub(/@.*/, "", $3); print $3 }' |
	grep -v '^_' | sort -u >"$tmp/exported"
status=0
for pair in "declared listed" "declared exported"; do
	set -- $pair
	if ! diff "$tmp/$1" "$tmp/$2" >"$tmp/diff"; then
		echo "FAIL: $1 and $2 symbols differ (< only $1, > only $2):"
		grep '^[<>]' "$tmp/diff"
		status=1
	fi
done
if nm -D --defined-only "$lib" | awk '$2 == "T" { print $3 }' | grep -v '@@LIBORIONSTOR_' | grep -q .; then
	echo "FAIL: exported functions without a version node:"
	nm -D --defined-only "$lib" | awk '$2 == "T" { print $3 }' | grep -v '@@LIBORIONSTOR_'
	status=1
fi
[ $status -eq 0 ] && echo "ok: $(wc -l <"$tmp/declared") functions declared, listed and exported, all versioned"
exit $status
