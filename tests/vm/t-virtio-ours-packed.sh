#!/bin/bash
# Our userspace virtio-scsi driver with packed rings and 4 request queues:
# the same checks as t-virtio-ours-split.sh.
T_RING=packed T_QUEUES=4 exec bash "$(dirname "$0")/t-virtio-ours-split.sh"
