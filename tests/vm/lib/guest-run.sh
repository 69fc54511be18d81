#!/bin/bash
# Runs inside the guest, chrooted into the host root (read-only 9p).
# /run/vm is the writable per-test share: guest.sh in, guest.log/status out.
export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
export HOME=/run/tmp LANG=C LC_ALL=C
[ -r /run/vm/boot.env ] && . /run/vm/boot.env
[ "${VM_GUEST_TMPFS:-1}" = 1 ] || export TMPDIR=/run/tmp
[ -r /run/vm/env.sh ] && . /run/vm/env.sh
cd /run/vm || exit 1

if [ "${VM_INTERACTIVE:-0}" = 1 ] && [ -z "${VM_IN_SHELL:-}" ]; then
    cat <<'BANNER'

=== orionstor test guest: interactive shell =====================
 guest helpers are loaded (. /run/vm/guest-lib.sh); the test's
 script is /run/vm/guest.sh  (run it:  bash /run/vm/guest-run.sh)
 'exit' powers the guest off; Ctrl-A x kills QEMU.
==================================================================
BANNER
    export VM_IN_SHELL=1
    setsid -c bash --rcfile /run/vm/guest-lib.sh -i </dev/ttyS0 >/dev/ttyS0 2>&1
    exit 0
fi

rm -f /run/vm/status
echo "orionstor-vm: running guest.sh (kernel $(uname -r))"
set -o pipefail
# In-guest time limit (below the host's QEMU timeout), so that a hanging
# script still leaves its log and a status behind.
timeout -k 5 "${VM_GUEST_TIMEOUT:-600}" \
    bash -c '. /run/vm/guest-lib.sh && . /run/vm/guest.sh' 2>&1 | tee /run/vm/guest.log
rc=${PIPESTATUS[0]}
if [ "$rc" = 124 ] || [ "$rc" = 137 ]; then
    echo "guest: TIMEOUT: guest.sh killed after ${VM_GUEST_TIMEOUT}s" | tee -a /run/vm/guest.log
fi
echo "$rc" >/run/vm/status
echo "orionstor-vm: guest.sh exit status $rc"
sync
exit "$rc"
