# tests/unit: Check unit tests of the core, and the header compile tests.
check_PROGRAMS += tests/unit/test_core tests/unit/header_c99 tests/unit/header_cxx
TESTS += tests/unit/test_core tests/unit/header_c99 tests/unit/header_cxx
tests_unit_test_core_SOURCES = tests/unit/test_core.c
tests_unit_test_core_CFLAGS = $(AM_CFLAGS) $(CHECK_CFLAGS)
tests_unit_test_core_LDADD = lib/libostor_private.la $(CHECK_LIBS)

check_PROGRAMS += tests/unit/test_queue
TESTS += tests/unit/test_queue
tests_unit_test_queue_SOURCES = tests/unit/test_queue.c
tests_unit_test_queue_CFLAGS = $(AM_CFLAGS) $(CHECK_CFLAGS)
tests_unit_test_queue_LDADD = lib/libostor_private.la $(CHECK_LIBS)

# The control socket (lib/core/control.c), white-box.
check_PROGRAMS += tests/unit/test_control
TESTS += tests/unit/test_control
tests_unit_test_control_SOURCES = tests/unit/test_control.c
tests_unit_test_control_CFLAGS = $(AM_CFLAGS) $(CHECK_CFLAGS) $(JSONC_CFLAGS)
tests_unit_test_control_LDADD = lib/libostor_private.la $(CHECK_LIBS) $(JSONC_LIBS)

# Against the installed library and the public header only, as users see it.
tests_unit_header_c99_SOURCES = tests/unit/header_c99.c
tests_unit_header_c99_CPPFLAGS = -I$(top_srcdir)/include
tests_unit_header_c99_CFLAGS = -std=c99 -pedantic-errors -Wall -Wextra -Werror $(SANITIZER_FLAGS)
tests_unit_header_c99_LDADD = lib/liborionstor.la
tests_unit_header_cxx_SOURCES = tests/unit/header_cxx.cpp
tests_unit_header_cxx_CPPFLAGS = -I$(top_srcdir)/include
tests_unit_header_cxx_CXXFLAGS = -std=c++11 -pedantic-errors -Wall -Wextra -Werror $(SANITIZER_FLAGS)
tests_unit_header_cxx_LDADD = lib/liborionstor.la

# Tests read $ORIONSTOR_CONF; keep the host's /etc/orionstor.conf out.
AM_TESTS_ENVIRONMENT += ORIONSTOR_CONF=/dev/null; export ORIONSTOR_CONF; \
	top_builddir='$(top_builddir)'; top_srcdir='$(top_srcdir)'; export top_builddir top_srcdir;

check_PROGRAMS += tests/unit/test_config
TESTS += tests/unit/test_config
tests_unit_test_config_SOURCES = tests/unit/test_config.c
tests_unit_test_config_CFLAGS = $(AM_CFLAGS) $(CHECK_CFLAGS)
tests_unit_test_config_LDADD = lib/libostor_private.la $(CHECK_LIBS)

# Structures that grow: .size, the initializers, old and new callers.
check_PROGRAMS += tests/unit/test_abi
TESTS += tests/unit/test_abi
tests_unit_test_abi_SOURCES = tests/unit/test_abi.c
tests_unit_test_abi_CFLAGS = $(AM_CFLAGS) $(CHECK_CFLAGS)
tests_unit_test_abi_LDADD = lib/libostor_private.la $(CHECK_LIBS)

check_PROGRAMS += tests/unit/test_stats
TESTS += tests/unit/test_stats
tests_unit_test_stats_SOURCES = tests/unit/test_stats.c
tests_unit_test_stats_CFLAGS = $(AM_CFLAGS) $(CHECK_CFLAGS) $(JSONC_CFLAGS)
tests_unit_test_stats_LDADD = lib/libostor_private.la $(CHECK_LIBS) $(JSONC_LIBS)

check_PROGRAMS += tests/unit/test_manage
TESTS += tests/unit/test_manage
tests_unit_test_manage_SOURCES = tests/unit/test_manage.c
tests_unit_test_manage_CFLAGS = $(AM_CFLAGS) $(CHECK_CFLAGS)
tests_unit_test_manage_LDADD = lib/libostor_private.la $(CHECK_LIBS)

check_PROGRAMS += tests/unit/test_bcache
TESTS += tests/unit/test_bcache
tests_unit_test_bcache_SOURCES = tests/unit/test_bcache.c
tests_unit_test_bcache_CFLAGS = $(AM_CFLAGS) $(CHECK_CFLAGS)
tests_unit_test_bcache_LDADD = lib/libostor_private.la $(CHECK_LIBS)

check_PROGRAMS += tests/unit/test_health
TESTS += tests/unit/test_health
tests_unit_test_health_SOURCES = tests/unit/test_health.c
tests_unit_test_health_CFLAGS = $(AM_CFLAGS) $(CHECK_CFLAGS) $(JSONC_CFLAGS)
tests_unit_test_health_LDADD = lib/libostor_private.la $(CHECK_LIBS) $(JSONC_LIBS)

# Fault matrix case 38 (issue 14): the library's allocations and mmaps,
# wrapped at link time, fail one at a time.
check_PROGRAMS += tests/unit/test_alloc_fail
TESTS += tests/unit/test_alloc_fail
tests_unit_test_alloc_fail_SOURCES = tests/unit/test_alloc_fail.c
tests_unit_test_alloc_fail_CFLAGS = $(AM_CFLAGS) $(CHECK_CFLAGS)
tests_unit_test_alloc_fail_LDFLAGS = $(AM_LDFLAGS) -Wl,--wrap=malloc -Wl,--wrap=calloc -Wl,--wrap=realloc \
	-Wl,--wrap=strdup -Wl,--wrap=strndup -Wl,--wrap=aligned_alloc -Wl,--wrap=posix_memalign \
	-Wl,--wrap=mmap
tests_unit_test_alloc_fail_LDADD = lib/libostor_private.la $(CHECK_LIBS)
if ENABLE_USB
tests_unit_test_alloc_fail_CFLAGS += $(LIBUSB_CFLAGS)
tests_unit_test_alloc_fail_LDFLAGS += -Wl,--wrap=libusb_init -Wl,--wrap=libusb_get_device_list
endif

# UAS: the engine (lib/usb/uas.c) against the simulated UAS device.
check_PROGRAMS += tests/unit/test_usb_uas
TESTS += tests/unit/test_usb_uas
tests_unit_test_usb_uas_SOURCES = tests/unit/test_usb_uas.c tests/unit/usb_test_util.h
tests_unit_test_usb_uas_CFLAGS = $(AM_CFLAGS) $(CHECK_CFLAGS)
tests_unit_test_usb_uas_LDADD = lib/libostor_private.la $(CHECK_LIBS)
