# lib/virtio: virtio-scsi.  The virtio core and the virtio-scsi driver are
# always built (the simulated device of lib/sim uses them); the PCI/UIO
# transport and the "virtio:" backend need libpciaccess and Linux.
lib_libostor_private_la_SOURCES += lib/virtio/virtqueue.c lib/virtio/device.c \
	lib/virtio/scsi.c lib/virtio/scsi_queue.c lib/virtio/scsi_tmf.c \
	lib/virtio/scsi_events.c lib/virtio/api.c lib/virtio/sim_device.c lib/virtio/config.c \
	lib/virtio/spec.c
noinst_HEADERS += lib/virtio/config.h lib/virtio/spec.h lib/virtio/virtio.h lib/virtio/scsi.h \
	lib/virtio/scsi_priv.h lib/virtio/pci.h lib/virtio/sim_device.h
if ENABLE_VIRTIO
lib_libostor_private_la_SOURCES += lib/virtio/backend.c lib/virtio/dma_pool.c lib/virtio/pci_bind.c \
	lib/virtio/pci_uio.c lib/virtio/pci_vfio.c
endif

# Ring, driver and device-model tests on the simulated virtio-scsi device.
check_PROGRAMS += tests/unit/test_virtio_ring tests/unit/test_virtio_scsi tests/unit/test_queueing
TESTS += tests/unit/test_virtio_ring tests/unit/test_virtio_scsi tests/unit/test_queueing
tests_unit_test_queueing_SOURCES = tests/unit/test_queueing.c tests/unit/virtio_test_util.h
tests_unit_test_queueing_CFLAGS = $(AM_CFLAGS) $(CHECK_CFLAGS)
tests_unit_test_queueing_LDADD = lib/libostor_private.la $(CHECK_LIBS)
# room_freed_while_resubmitting holds a resubmission in its window.
tests_unit_test_queueing_LDFLAGS = $(AM_LDFLAGS) -Wl,--wrap=vscsi_submit
tests_unit_test_virtio_ring_SOURCES = tests/unit/test_virtio_ring.c tests/unit/virtio_test_util.h
tests_unit_test_virtio_ring_CFLAGS = $(AM_CFLAGS) $(CHECK_CFLAGS)
tests_unit_test_virtio_ring_LDADD = lib/libostor_private.la $(CHECK_LIBS)
tests_unit_test_virtio_scsi_SOURCES = tests/unit/test_virtio_scsi.c tests/unit/virtio_test_util.h
tests_unit_test_virtio_scsi_CFLAGS = $(AM_CFLAGS) $(CHECK_CFLAGS)
tests_unit_test_virtio_scsi_LDADD = lib/libostor_private.la $(CHECK_LIBS)
