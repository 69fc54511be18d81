# bash completion for orionstor and the usb_storage_* and virtio-scsi-*
# tools of liborionstor.  Installed as "orionstor", with a link named after
# each tool (bash-completion loads a file by the command's name).
#
# Options come from the tool's own --help, so they never go stale; device
# specs from "orionstor list" and the spec forms the tool takes.

# The long and short options of "TOOL [COMMAND] --help".
_orionstor_options()
{
	"$@" --help 2>/dev/null |
		sed -n 's/^ \{1,6\}\(-[A-Za-z?]\)\{0,1\}\(, \)\{0,1\}\(--[a-z][a-z0-9-]*\)\{0,1\}.*/\1 \3/p' |
		tr ' ' '\n' | grep -v -e '^$' -e '^--usage$' -e '^-?$'
}

# Device specs for -d: what is attached, then the forms this tool takes.
_orionstor_specs()
{
	local tool=$1 listed
	listed=$(orionstor list 2>/dev/null | awk 'NR > 1 && $1 ~ /:/ { print $1 }')
	case $tool in
	usb_storage_*)
		printf '%s\n' $listed | grep '^usb:'
		printf '%s\n' usb: sim:transport=usb-bot sim:transport=usb-cbi sim:transport=usb-cb ;;
	virtio-scsi-device-bind | virtio-scsi-device-remove)
		printf '%s\n' $listed | grep '^virtio:'
		printf '%s\n' virtio: ;;
	virtio-scsi-*)
		printf '%s\n' $listed | grep '^virtio:'
		printf '%s\n' virtio: sim:transport=virtio ;;
	*)
		printf '%s\n' $listed
		printf '%s\n' sim: sim:size= sim:luns= sim:image= sim:transport=usb-bot sim:transport=usb-cbi \
			sim:transport=usb-cb sim:transport=virtio usb: virtio: ;;
	esac
}

_orionstor()
{
	local cur prev tool cmd=
	local -a words
	cur=${COMP_WORDS[COMP_CWORD]}
	prev=${COMP_CWORD:+${COMP_WORDS[COMP_CWORD - 1]}}
	tool=${COMP_WORDS[0]##*/}
	COMPREPLY=()

	# orionstor COMMAND ...: the first word after the program.
	if [ "$tool" = orionstor ]; then
		if [ "$COMP_CWORD" -eq 1 ]; then
			words=($(orionstor help 2>/dev/null | sed -n '/^Commands:/,/^$/s/^  \([a-z][a-z-]*\) .*/\1/p'))
			COMPREPLY=($(compgen -W "${words[*]}" -- "$cur"))
			return 0
		fi
		cmd=${COMP_WORDS[1]}
		if [ "$cmd" = help ] && [ "$COMP_CWORD" -eq 2 ]; then
			words=($(orionstor help 2>/dev/null | sed -n '/^Commands:/,/^$/s/^  \([a-z][a-z-]*\) .*/\1/p'))
			COMPREPLY=($(compgen -W "${words[*]}" -- "$cur"))
			return 0
		fi
	fi

	case $prev in
	-d | --device)
		COMPREPLY=($(compgen -W "$(_orionstor_specs "$tool")" -- "$cur"))
		compopt -o nospace 2>/dev/null
		return 0 ;;
	-c | --config | -o | --output | -i | --input | --send | --socket)
		COMPREPLY=($(compgen -f -- "$cur"))
		return 0 ;;
	esac
	case $cur in
	--device=*)
		COMPREPLY=($(compgen -W "$(_orionstor_specs "$tool")" -- "${cur#--device=}"))
		compopt -o nospace 2>/dev/null
		return 0 ;;
	-*)
		words=($(_orionstor_options "${COMP_WORDS[0]}" $cmd))
		COMPREPLY=($(compgen -W "${words[*]}" -- "$cur"))
		return 0 ;;
	esac
	return 0
}

complete -F _orionstor orionstor \
	usb_storage_cache_flush usb_storage_cache_info usb_storage_cache_reset \
	usb_storage_device_info usb_storage_device_remove usb_storage_device_reset \
	usb_storage_optimization_info usb_storage_performance_stats usb_storage_power_info \
	usb_storage_power_set usb_storage_scsi_command usb_storage_scsi_info usb_storage_scsi_reset \
	virtio-scsi-command-abort virtio-scsi-command-info virtio-scsi-device-bind \
	virtio-scsi-device-info virtio-scsi-device-remove virtio-scsi-device-reset \
	virtio-scsi-performance-stats virtio-scsi-queue-flush virtio-scsi-queue-info \
	virtio-scsi-queue-reset virtio-scsi-queue-stats virtio-scsi-target-add \
	virtio-scsi-target-info virtio-scsi-target-remove
