#!/bin/sh
# tests/tools/test-completion.sh - completions/orionstor.bash completes
# commands, options (from each tool's --help) and device specs, and is
# registered for every tool that has a man page.  Exit 77 without bash.
test_name=test-completion
. "${srcdir:-.}/tests/tools/lib.sh"

srcdir=${srcdir:-.}
script=$srcdir/completions/orionstor.bash
command -v bash >/dev/null 2>&1 || { echo "SKIP: no bash"; exit 77; }
ORIONSTOR_CONF=$tmp/orionstor.conf
PATH=$(cd "$top_builddir/tools" && pwd):$PATH
export ORIONSTOR_CONF PATH

# complete WORD...: the candidates for the last word, one a line.
complete_words() {
	bash -c '. "$1"; shift; COMP_WORDS=("$@"); COMP_CWORD=$(($# - 1)); _orionstor
		printf "%s\n" "${COMPREPLY[@]}"' complete "$script" "$@" >"$tmp/out" 2>"$tmp/err" ||
		fail "completing '$*' failed"
}
has() {
	grep -qx -- "$1" "$tmp/out" || fail "completing '$2': no '$1' among: $(tr '\n' ' ' <"$tmp/out")"
}
lacks() {
	grep -q -- "$1" "$tmp/out" && fail "completing '$2': '$1' offered: $(tr '\n' ' ' <"$tmp/out")"
	return 0
}

complete_words orionstor in
has info "orionstor in"
complete_words orionstor ""
for c in list info read write cmd bench smart power cache; do has $c "orionstor"; done
pass "orionstor's commands"

complete_words orionstor info --j
has --json "orionstor info --j"
complete_words orionstor read --
has --lba "orionstor read --"; has --output "orionstor read --"; has --hex "orionstor read --"
lacks --usage "orionstor read --"
pass "a command's options, from its --help"

complete_words orionstor info -d sim
has sim: "orionstor info -d sim"; has sim:transport=virtio "orionstor info -d sim"
complete_words orionstor info -d ""
has "sim:" "orionstor info -d"
pass "device specs for -d"

if [ -x "$top_builddir/tools/usb_storage_device_reset" ]; then
	complete_words usb_storage_device_reset -d ""
	has usb: "usb_storage_device_reset -d"; has sim:transport=usb-bot "usb_storage_device_reset -d"
	lacks virtio: "usb_storage_device_reset -d"
	complete_words usb_storage_device_reset --p
	has --port "usb_storage_device_reset --p"
	pass "a USB tool: its options, USB specs only"
fi
if [ -x "$top_builddir/tools/virtio-scsi-queue-reset" ]; then
	complete_words virtio-scsi-queue-reset --q
	has --queue "virtio-scsi-queue-reset --q"
	complete_words virtio-scsi-queue-reset -d ""
	has sim:transport=virtio "virtio-scsi-queue-reset -d"; lacks usb: "virtio-scsi-queue-reset -d"
	pass "a virtio-scsi tool: its options, virtio specs only"
fi

# Registered for every tool with a page (the installed links use the names).
registered=$(bash -c '. "$1"; complete -p' complete "$script" | sed -n 's/.* -F _orionstor //p' | tr ' ' '\n')
for page in "$srcdir"/man/usb_storage_*.1 "$srcdir"/man/virtio-scsi-*.1 "$srcdir"/man/orionstor.1; do
	tool=$(basename "$page" .1)
	printf '%s\n' $registered | grep -qx -- "$tool" || fail "no completion registered for $tool"
done
pass "completion registered for every tool"
echo "1..$checks"
