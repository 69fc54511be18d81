# tests/fuzz: libFuzzer targets, one per parser family (configure
# --enable-fuzzing, CC=clang).  Built only by that configuration; `make
# fuzz` runs each for FUZZ_SECONDS with its seed corpus (tests/fuzz/README).
FUZZ_TARGETS = fuzz_sense fuzz_inquiry fuzz_vpd fuzz_read_capacity fuzz_mode_sense \
	fuzz_report_luns fuzz_log_sense fuzz_read_format_capacities fuzz_cdb_check \
	fuzz_config fuzz_spec fuzz_control fuzz_ata fuzz_log_pages fuzz_virtio_ring fuzz_virtio_scsi fuzz_usb_engine
if ENABLE_USB
FUZZ_TARGETS += fuzz_usb_descriptors
endif
FUZZ_SECONDS = 20
FUZZ_JOBS = 1
FUZZ_COMPILE_FLAGS = $(AM_CFLAGS) $(FUZZ_TARGET_FLAGS)
FUZZ_LINK_FLAGS = $(AM_LDFLAGS) $(FUZZ_TARGET_FLAGS)
FUZZ_LIBS = lib/libostor_private.la

EXTRA_DIST += tests/fuzz/README tests/fuzz/run-fuzz.sh tests/fuzz/gen-corpus.py \
	tests/fuzz/corpus tests/fuzz/dict

if ENABLE_FUZZING
noinst_PROGRAMS += tests/fuzz/fuzz_sense tests/fuzz/fuzz_inquiry tests/fuzz/fuzz_vpd \
	tests/fuzz/fuzz_read_capacity tests/fuzz/fuzz_mode_sense tests/fuzz/fuzz_report_luns \
	tests/fuzz/fuzz_log_sense tests/fuzz/fuzz_read_format_capacities \
	tests/fuzz/fuzz_cdb_check tests/fuzz/fuzz_config tests/fuzz/fuzz_spec \
	tests/fuzz/fuzz_control tests/fuzz/fuzz_ata tests/fuzz/fuzz_log_pages \
	tests/fuzz/fuzz_virtio_ring tests/fuzz/fuzz_virtio_scsi \
	tests/fuzz/fuzz_usb_engine
if ENABLE_USB
noinst_PROGRAMS += tests/fuzz/fuzz_usb_descriptors
endif

fuzz: $(FUZZ_TARGETS:%=tests/fuzz/%)
	@FUZZ_SECONDS='$(FUZZ_SECONDS)' FUZZ_JOBS='$(FUZZ_JOBS)' $(SHELL) $(top_srcdir)/tests/fuzz/run-fuzz.sh \
		'$(top_srcdir)/tests/fuzz' '$(top_builddir)/tests/fuzz' $(FUZZ_TARGETS)
else
fuzz:
	@echo "make fuzz: configure with CC=clang --enable-fuzzing first" >&2; exit 1
endif
.PHONY: fuzz
clean-local: clean-fuzz
clean-fuzz:
	-rm -rf tests/fuzz/work
tests_fuzz_fuzz_sense_SOURCES = tests/fuzz/fuzz_sense.c tests/fuzz/fuzz.h
tests_fuzz_fuzz_sense_CFLAGS = $(FUZZ_COMPILE_FLAGS)
tests_fuzz_fuzz_sense_LDFLAGS = $(FUZZ_LINK_FLAGS)
tests_fuzz_fuzz_sense_LDADD = $(FUZZ_LIBS)
tests_fuzz_fuzz_inquiry_SOURCES = tests/fuzz/fuzz_inquiry.c tests/fuzz/fuzz.h
tests_fuzz_fuzz_inquiry_CFLAGS = $(FUZZ_COMPILE_FLAGS)
tests_fuzz_fuzz_inquiry_LDFLAGS = $(FUZZ_LINK_FLAGS)
tests_fuzz_fuzz_inquiry_LDADD = $(FUZZ_LIBS)
tests_fuzz_fuzz_vpd_SOURCES = tests/fuzz/fuzz_vpd.c tests/fuzz/fuzz.h
tests_fuzz_fuzz_vpd_CFLAGS = $(FUZZ_COMPILE_FLAGS)
tests_fuzz_fuzz_vpd_LDFLAGS = $(FUZZ_LINK_FLAGS)
tests_fuzz_fuzz_vpd_LDADD = $(FUZZ_LIBS)
tests_fuzz_fuzz_read_capacity_SOURCES = tests/fuzz/fuzz_read_capacity.c tests/fuzz/fuzz.h
tests_fuzz_fuzz_read_capacity_CFLAGS = $(FUZZ_COMPILE_FLAGS)
tests_fuzz_fuzz_read_capacity_LDFLAGS = $(FUZZ_LINK_FLAGS)
tests_fuzz_fuzz_read_capacity_LDADD = $(FUZZ_LIBS)
tests_fuzz_fuzz_mode_sense_SOURCES = tests/fuzz/fuzz_mode_sense.c tests/fuzz/fuzz.h
tests_fuzz_fuzz_mode_sense_CFLAGS = $(FUZZ_COMPILE_FLAGS)
tests_fuzz_fuzz_mode_sense_LDFLAGS = $(FUZZ_LINK_FLAGS)
tests_fuzz_fuzz_mode_sense_LDADD = $(FUZZ_LIBS)
tests_fuzz_fuzz_report_luns_SOURCES = tests/fuzz/fuzz_report_luns.c tests/fuzz/fuzz.h
tests_fuzz_fuzz_report_luns_CFLAGS = $(FUZZ_COMPILE_FLAGS)
tests_fuzz_fuzz_report_luns_LDFLAGS = $(FUZZ_LINK_FLAGS)
tests_fuzz_fuzz_report_luns_LDADD = $(FUZZ_LIBS)
tests_fuzz_fuzz_log_sense_SOURCES = tests/fuzz/fuzz_log_sense.c tests/fuzz/fuzz.h
tests_fuzz_fuzz_log_sense_CFLAGS = $(FUZZ_COMPILE_FLAGS)
tests_fuzz_fuzz_log_sense_LDFLAGS = $(FUZZ_LINK_FLAGS)
tests_fuzz_fuzz_log_sense_LDADD = $(FUZZ_LIBS)
tests_fuzz_fuzz_read_format_capacities_SOURCES = tests/fuzz/fuzz_read_format_capacities.c tests/fuzz/fuzz.h
tests_fuzz_fuzz_read_format_capacities_CFLAGS = $(FUZZ_COMPILE_FLAGS)
tests_fuzz_fuzz_read_format_capacities_LDFLAGS = $(FUZZ_LINK_FLAGS)
tests_fuzz_fuzz_read_format_capacities_LDADD = $(FUZZ_LIBS)
tests_fuzz_fuzz_cdb_check_SOURCES = tests/fuzz/fuzz_cdb_check.c tests/fuzz/fuzz.h
tests_fuzz_fuzz_cdb_check_CFLAGS = $(FUZZ_COMPILE_FLAGS)
tests_fuzz_fuzz_cdb_check_LDFLAGS = $(FUZZ_LINK_FLAGS)
tests_fuzz_fuzz_cdb_check_LDADD = $(FUZZ_LIBS)
tests_fuzz_fuzz_config_SOURCES = tests/fuzz/fuzz_config.c tests/fuzz/fuzz.h
tests_fuzz_fuzz_config_CFLAGS = $(FUZZ_COMPILE_FLAGS)
tests_fuzz_fuzz_config_LDFLAGS = $(FUZZ_LINK_FLAGS)
tests_fuzz_fuzz_config_LDADD = $(FUZZ_LIBS)
tests_fuzz_fuzz_spec_SOURCES = tests/fuzz/fuzz_spec.c tests/fuzz/fuzz.h
tests_fuzz_fuzz_spec_CFLAGS = $(FUZZ_COMPILE_FLAGS)
tests_fuzz_fuzz_spec_LDFLAGS = $(FUZZ_LINK_FLAGS)
tests_fuzz_fuzz_spec_LDADD = $(FUZZ_LIBS)
tests_fuzz_fuzz_control_SOURCES = tests/fuzz/fuzz_control.c tests/fuzz/fuzz.h
tests_fuzz_fuzz_control_CFLAGS = $(FUZZ_COMPILE_FLAGS) $(JSONC_CFLAGS)
tests_fuzz_fuzz_control_LDFLAGS = $(FUZZ_LINK_FLAGS)
tests_fuzz_fuzz_control_LDADD = $(FUZZ_LIBS) $(JSONC_LIBS)
tests_fuzz_fuzz_ata_SOURCES = tests/fuzz/fuzz_ata.c tests/fuzz/fuzz.h
tests_fuzz_fuzz_ata_CFLAGS = $(FUZZ_COMPILE_FLAGS)
tests_fuzz_fuzz_ata_LDFLAGS = $(FUZZ_LINK_FLAGS)
tests_fuzz_fuzz_ata_LDADD = $(FUZZ_LIBS)
tests_fuzz_fuzz_log_pages_SOURCES = tests/fuzz/fuzz_log_pages.c tests/fuzz/fuzz.h
tests_fuzz_fuzz_log_pages_CFLAGS = $(FUZZ_COMPILE_FLAGS)
tests_fuzz_fuzz_log_pages_LDFLAGS = $(FUZZ_LINK_FLAGS)
tests_fuzz_fuzz_log_pages_LDADD = $(FUZZ_LIBS)
tests_fuzz_fuzz_virtio_ring_SOURCES = tests/fuzz/fuzz_virtio_ring.c tests/fuzz/fuzz.h
tests_fuzz_fuzz_virtio_ring_CFLAGS = $(FUZZ_COMPILE_FLAGS)
tests_fuzz_fuzz_virtio_ring_LDFLAGS = $(FUZZ_LINK_FLAGS)
tests_fuzz_fuzz_virtio_ring_LDADD = $(FUZZ_LIBS)
tests_fuzz_fuzz_virtio_scsi_SOURCES = tests/fuzz/fuzz_virtio_scsi.c tests/fuzz/fuzz.h
tests_fuzz_fuzz_virtio_scsi_CFLAGS = $(FUZZ_COMPILE_FLAGS)
tests_fuzz_fuzz_virtio_scsi_LDFLAGS = $(FUZZ_LINK_FLAGS)
tests_fuzz_fuzz_virtio_scsi_LDADD = $(FUZZ_LIBS)
# The engine's task completions are caught on their way to the core
# (--wrap): the tasks never went through it.
tests_fuzz_fuzz_usb_engine_SOURCES = tests/fuzz/fuzz_usb_engine.c tests/fuzz/fuzz.h
tests_fuzz_fuzz_usb_engine_CFLAGS = $(FUZZ_COMPILE_FLAGS)
tests_fuzz_fuzz_usb_engine_LDFLAGS = $(FUZZ_LINK_FLAGS) -Wl,--wrap=ostori_task_complete
tests_fuzz_fuzz_usb_engine_LDADD = $(FUZZ_LIBS)
# Includes lib/usb/backend.c (the selection is static there).
tests_fuzz_fuzz_usb_descriptors_SOURCES = tests/fuzz/fuzz_usb_descriptors.c tests/fuzz/fuzz.h
tests_fuzz_fuzz_usb_descriptors_CFLAGS = $(FUZZ_COMPILE_FLAGS) $(LIBUSB_CFLAGS)
tests_fuzz_fuzz_usb_descriptors_LDFLAGS = $(FUZZ_LINK_FLAGS)
tests_fuzz_fuzz_usb_descriptors_LDADD = $(FUZZ_LIBS) $(LIBUSB_LIBS)
