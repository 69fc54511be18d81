#!/bin/bash
# t-virtio-ours-tmf.sh with our driver over VFIO: q35 with an Intel IOMMU,
# the function bound to vfio-pci, MSI-X in interrupt mode (lib/vm.sh,
# T_VIRTIO_DRIVER).
T_VIRTIO_DRIVER=vfio-pci exec bash "$(dirname "$0")/t-virtio-ours-tmf.sh"
