# lib/virtio: virtio-scsi over UIO and libpciaccess.
if ENABLE_VIRTIO
lib_libostor_private_la_SOURCES += lib/virtio/backend.c
endif
