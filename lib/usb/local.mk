# lib/usb: USB mass storage.  The protocol engines (Bulk-Only, CB/CBI) and
# the quirks table are built always: the sim: device models drive them
# too.  The libusb transfer layer and the usb: backend need libusb.
lib_libostor_private_la_SOURCES += lib/usb/engine.c lib/usb/bot.c lib/usb/merge.c lib/usb/cbi.c \
	lib/usb/recovery.c lib/usb/protocol.c lib/usb/quirks.c lib/usb/api.c lib/usb/sim_device.c \
	lib/usb/config.c lib/usb/spec.c lib/usb/suspend.c lib/usb/uas.c lib/usb/sim_uas.c
noinst_HEADERS += lib/usb/config.h lib/usb/spec.h lib/usb/engine.h lib/usb/engine_priv.h \
	lib/usb/xfer.h lib/usb/backend.h lib/usb/suspend.h
if ENABLE_USB
lib_libostor_private_la_SOURCES += lib/usb/backend.c
endif

# Protocol tests against the simulated devices (white-box).
check_PROGRAMS += tests/unit/test_usb_bot tests/unit/test_usb_cbi tests/unit/test_usb_merge
TESTS += tests/unit/test_usb_bot tests/unit/test_usb_cbi tests/unit/test_usb_merge
tests_unit_test_usb_bot_SOURCES = tests/unit/test_usb_bot.c tests/unit/usb_test_util.h
tests_unit_test_usb_bot_CFLAGS = $(AM_CFLAGS) $(CHECK_CFLAGS)
tests_unit_test_usb_bot_LDADD = lib/libostor_private.la $(CHECK_LIBS)
tests_unit_test_usb_merge_SOURCES = tests/unit/test_usb_merge.c tests/unit/usb_test_util.h
tests_unit_test_usb_merge_CFLAGS = $(AM_CFLAGS) $(CHECK_CFLAGS)
tests_unit_test_usb_merge_LDADD = lib/libostor_private.la $(CHECK_LIBS)
tests_unit_test_usb_cbi_SOURCES = tests/unit/test_usb_cbi.c tests/unit/usb_test_util.h
tests_unit_test_usb_cbi_CFLAGS = $(AM_CFLAGS) $(CHECK_CFLAGS)
tests_unit_test_usb_cbi_LDADD = lib/libostor_private.la $(CHECK_LIBS)
noinst_HEADERS += lib/usb/sim_device.h lib/usb/sim_priv.h

if ENABLE_USB
# Interface selection from synthetic descriptors (includes backend.c).
check_PROGRAMS += tests/unit/test_usb_descriptors
TESTS += tests/unit/test_usb_descriptors
tests_unit_test_usb_descriptors_SOURCES = tests/unit/test_usb_descriptors.c
tests_unit_test_usb_descriptors_CFLAGS = $(AM_CFLAGS) $(CHECK_CFLAGS) $(LIBUSB_CFLAGS)
tests_unit_test_usb_descriptors_LDADD = lib/libostor_private.la $(LIBUSB_LIBS) $(CHECK_LIBS)
endif

# Selective suspend on the simulated devices (white-box).
check_PROGRAMS += tests/unit/test_usb_power
TESTS += tests/unit/test_usb_power
tests_unit_test_usb_power_SOURCES = tests/unit/test_usb_power.c tests/unit/usb_test_util.h
tests_unit_test_usb_power_CFLAGS = $(AM_CFLAGS) $(CHECK_CFLAGS)
tests_unit_test_usb_power_LDADD = lib/libostor_private.la $(CHECK_LIBS)
