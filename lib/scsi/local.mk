# lib/scsi: the pure SCSI layer (CDB builders, response and sense decoders).
lib_libostor_private_la_SOURCES += \
	lib/scsi/cdb.c \
	lib/scsi/decode.c \
	lib/scsi/sense.c \
	lib/scsi/asc_table.c \
	lib/scsi/ata.c \
	lib/scsi/logpage.c
noinst_HEADERS += lib/scsi/scsi_priv.h

check_PROGRAMS += tests/unit/test_scsi_cdb tests/unit/test_scsi_decode \
	tests/unit/test_scsi_sense tests/unit/test_scsi_ata tests/unit/test_scsi_logpage
TESTS += tests/unit/test_scsi_cdb tests/unit/test_scsi_decode \
	tests/unit/test_scsi_sense tests/unit/test_scsi_ata tests/unit/test_scsi_logpage

tests_unit_test_scsi_cdb_SOURCES = tests/unit/test_scsi_cdb.c
tests_unit_test_scsi_cdb_CFLAGS = $(AM_CFLAGS) $(CHECK_CFLAGS)
tests_unit_test_scsi_cdb_LDADD = lib/libostor_private.la $(CHECK_LIBS)

tests_unit_test_scsi_decode_SOURCES = tests/unit/test_scsi_decode.c
tests_unit_test_scsi_decode_CFLAGS = $(AM_CFLAGS) $(CHECK_CFLAGS)
tests_unit_test_scsi_decode_LDADD = lib/libostor_private.la $(CHECK_LIBS)

tests_unit_test_scsi_sense_SOURCES = tests/unit/test_scsi_sense.c
tests_unit_test_scsi_sense_CFLAGS = $(AM_CFLAGS) $(CHECK_CFLAGS)
tests_unit_test_scsi_sense_LDADD = lib/libostor_private.la $(CHECK_LIBS)

tests_unit_test_scsi_ata_SOURCES = tests/unit/test_scsi_ata.c
tests_unit_test_scsi_ata_CFLAGS = $(AM_CFLAGS) $(CHECK_CFLAGS)
tests_unit_test_scsi_ata_LDADD = lib/libostor_private.la $(CHECK_LIBS)

tests_unit_test_scsi_logpage_SOURCES = tests/unit/test_scsi_logpage.c
tests_unit_test_scsi_logpage_CFLAGS = $(AM_CFLAGS) $(CHECK_CFLAGS)
tests_unit_test_scsi_logpage_LDADD = lib/libostor_private.la $(CHECK_LIBS)
