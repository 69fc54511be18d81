#!/bin/sh
# scripts/check-layering.sh - the include direction between lib/ folders
# (make check).  Dependencies run one way:
#
#   core -> scsi;  usb, virtio -> core, scsi, sim;  sim -> core, scsi;
#   every folder -> util (the bottom: errors, byte order); util -> none
#
# (backends include core/backend.h, the seam the core calls them
# through; sim is the simulated SCSI target under the simulated devices,
# which live with the backend whose seam they plug into).  lib/backends.c,
# outside every folder, is the composition root that names them all.
# KNOWN lists includes that break the direction and are being removed
# ("FILE INCLUDE" lines; empty now).  The check fails on any other
# crossing, and on a KNOWN line that no longer occurs (shrink the list).
srcdir=${srcdir:-.}
cd "$srcdir" || exit 1

allowed() { # from to
	case "$1:$2" in
	util:*) return 1 ;;
	*:util) return 0 ;;
	core:scsi | usb:core | usb:scsi | usb:sim | virtio:core | virtio:scsi | virtio:sim | \
	sim:core | sim:scsi) return 0 ;;
	esac
	return 1
}

KNOWN=""

status=0
seen=""
for f in lib/*/*.c lib/*/*.h; do
	[ -f "$f" ] || continue
	from=${f#lib/}
	from=${from%%/*}
	for inc in $(sed -n 's/^[[:space:]]*#[[:space:]]*include[[:space:]]*"\([a-z_]*\/[A-Za-z0-9_.]*\)".*/\1/p' "$f"); do
		to=${inc%%/*}
		[ "$to" = "$from" ] && continue
		allowed "$from" "$to" && continue
		if printf '%s\n' "$KNOWN" | grep -qx "$f $inc"; then
			seen="$seen
$f $inc"
			continue
		fi
		echo "FAIL: $f includes $inc: $from must not depend on $to"
		status=1
	done
done
printf '%s\n' "$KNOWN" | while read -r f inc; do
	[ -n "$f" ] || continue
	if ! printf '%s\n' "$seen" | grep -qx "$f $inc"; then
		echo "FAIL: '$f $inc' is gone: remove it from KNOWN in $0"
		exit 1
	fi
done || status=1
n=$(printf '%s\n' "$KNOWN" | grep -c .)
[ $status -eq 0 ] && echo "ok: include direction holds ($n known crossings left to remove)"
exit $status
