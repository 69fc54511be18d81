#!/bin/bash
# nbdkit-orionstor-plugin in the guest: QEMU's usb-storage disk, driven by
# liborionstor over usbfs (the kernel's usb-storage NOT loaded), exported
# by nbdkit with the plugin of the build tree, attached by the kernel's
# NBD client (nbd-client, module nbd) as /dev/nbd0: mkfs.ext4, mount, copy
# a tree, unmount, e2fsck -fn clean, nbdkit stopped (its unload flushes).
# On the host: e2fsck -fn of the image, and the files debugfs extracts
# equal the originals.
. "$(dirname "$0")/lib/vm.sh"
vm_init nbdkit-usb

vm_usb_ctrl xhci xhci
vm_image disk 64M; vm_drive disk "$VM_IMAGE"; IMG=$VM_IMAGE
vm_usb_storage xhci disk serial=nbd-usb

vm_guest <<'GUEST'
export ORIONSTOR_CONF=/dev/null
export LD_LIBRARY_PATH=$ORIONSTOR_BUILDDIR/lib/.libs
P=$ORIONSTOR_BUILDDIR/plugins/nbdkit/.libs/nbdkit-orionstor-plugin.so
[ -f "$P" ] || fail "plugin not built: $P"
load_modules xhci-pci nbd ext4
wait_usb 1 60
lsmod | grep -q '^usb_storage ' && fail "usb-storage must not be loaded"
# QEMU's usb-storage is 46f4:0001.
nbdkit -U /run/nbd.sock -P /run/nbdkit.pid "$P" device=usb:46f4:0001 2>/run/vm/nbdkit.err ||
    { cat /run/vm/nbdkit.err; fail "nbdkit did not start"; }
for i in $(seq 50); do [ -S /run/nbd.sock ] && break; sleep 0.2; done
nbdinfo --list "nbd+unix:///?socket=/run/nbd.sock" | tee /run/vm/nbdinfo || fail "nbdinfo"
nbd-client -N 0:0 -u /run/nbd.sock /dev/nbd0 -b 512 || fail "nbd-client attach"
cat /sys/block/nbd0/size
mkfs.ext4 -q -F /dev/nbd0 || fail "mkfs.ext4"
mkdir -p /run/mnt
mount -t ext4 /dev/nbd0 /run/mnt || fail "mount"
cp -a "$ORIONSTOR_SRCDIR/lib" /run/mnt/tree || fail "copy the tree"
du -s /run/mnt/tree
umount /run/mnt || fail "umount"
e2fsck -fn /dev/nbd0 >/run/vm/fsck.out 2>&1; rc=$?
cat /run/vm/fsck.out
[ $rc = 0 ] || fail "e2fsck -fn over NBD: exit $rc"
nbd-client -d /dev/nbd0 || fail "nbd-client -d"
kill "$(cat /run/nbdkit.pid)"
for i in $(seq 100); do kill -0 "$(cat /run/nbdkit.pid)" 2>/dev/null || break; sleep 0.1; done
kill -0 "$(cat /run/nbdkit.pid)" 2>/dev/null && fail "nbdkit did not exit"
cat /run/vm/nbdkit.err
log "nbd checks done"
GUEST

vm_boot || vm_fail "guest script failed"

e2fsck -fn "$IMG" >"$VM_WORK/host-fsck.out" 2>&1 || { cat "$VM_WORK/host-fsck.out"; vm_fail "host e2fsck -fn of the image"; }
rm -rf "$VM_WORK/extract"; mkdir -p "$VM_WORK/extract"
debugfs -R "rdump /tree $VM_WORK/extract" "$IMG" >"$VM_WORK/debugfs.out" 2>&1 ||
    { cat "$VM_WORK/debugfs.out"; vm_fail "debugfs rdump"; }
diff -r "$ORIONSTOR_SRCDIR/lib" "$VM_WORK/extract/tree" >"$VM_WORK/diff.out" 2>&1 ||
    { head -50 "$VM_WORK/diff.out"; vm_fail "the files on the image differ from the originals"; }
vm_pass
