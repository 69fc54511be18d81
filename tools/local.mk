# tools: a small shared library (tools/common) and thin programs over it.
# Tools see only the installed API (include/), never lib/ internals, and
# link the installed library, so they prove the public interface works.
TOOLS_CPPFLAGS = -I$(top_srcdir)/include -I$(top_srcdir)/tools/common \
	-DTC_TOOLS_VERSION='"$(PACKAGE_VERSION)"'
TOOLS_CFLAGS = $(AM_CFLAGS) $(JSONC_CFLAGS)
TOOLS_LDADD = tools/libtoolcommon.la lib/liborionstor.la $(JSONC_LIBS)

noinst_LTLIBRARIES += tools/libtoolcommon.la
tools_libtoolcommon_la_SOURCES = \
	tools/common/toolcommon.h \
	tools/common/bench.c \
	tools/common/blockio.c \
	tools/common/cache.c \
	tools/common/control_client.c \
	tools/common/control_client.h \
	tools/common/device.c \
	tools/common/exitcode.c \
	tools/common/jsonget.c \
	tools/common/histogram.c \
	tools/common/histogram.h \
	tools/common/holder.c \
	tools/common/live.c \
	tools/common/luninfo.c \
	tools/common/messages.c \
	tools/common/options.c \
	tools/common/output.c \
	tools/common/progress.c \
	tools/common/power.c \
	tools/common/powertool.h \
	tools/common/ps.c \
	tools/common/rawcmd.c \
	tools/common/smart.c \
	tools/common/subcommands.h \
	tools/common/usbpower.c \
	tools/common/usbtool.c \
	tools/common/usbtool.h
tools_libtoolcommon_la_CPPFLAGS = $(TOOLS_CPPFLAGS)
tools_libtoolcommon_la_CFLAGS = $(TOOLS_CFLAGS)
tools_libtoolcommon_la_LIBADD = $(JSONC_LIBS) -lpthread -lm

bin_PROGRAMS += tools/orionstor
tools_orionstor_SOURCES = tools/orionstor.c
tools_orionstor_CPPFLAGS = $(TOOLS_CPPFLAGS)
tools_orionstor_CFLAGS = $(TOOLS_CFLAGS)
tools_orionstor_LDADD = $(TOOLS_LDADD)

# The script finds the programs relative to the build directory the test
# harness runs it from ($top_builddir, or "." by default).
TESTS += tests/tools/test-orionstor.sh
EXTRA_DIST += tests/tools/test-orionstor.sh
# Two processes: orionstor ps and ping against a running bench.
TESTS += tests/tools/test-control.sh
EXTRA_DIST += tests/tools/test-control.sh

# The live tools against a holder process (tests/tools/live-holder).
noinst_PROGRAMS += tests/tools/live-holder
tests_tools_live_holder_SOURCES = tests/tools/live-holder.c
tests_tools_live_holder_CPPFLAGS = -I$(top_srcdir)/include
tests_tools_live_holder_LDADD = lib/liborionstor.la
TESTS += tests/tools/test-live.sh
EXTRA_DIST += tests/tools/test-live.sh
# orionstor cache and the usb_storage_cache_* tools, live and opened here.
TESTS += tests/tools/test-cache.sh
EXTRA_DIST += tests/tools/test-cache.sh tests/tools/lib.sh
# orionstor smart and power, usb_storage_power_* when built.
TESTS += tests/tools/test-health.sh
EXTRA_DIST += tests/tools/test-health.sh
# Every exit code of orionstor(1)'s table, made to happen.
check_PROGRAMS += tests/tools/exit-map
tests_tools_exit_map_SOURCES = tests/tools/exit-map.c
tests_tools_exit_map_CPPFLAGS = $(TOOLS_CPPFLAGS)
tests_tools_exit_map_CFLAGS = $(TOOLS_CFLAGS)
tests_tools_exit_map_LDADD = $(TOOLS_LDADD)
TESTS += tests/tools/test-exit-codes.sh
EXTRA_DIST += tests/tools/test-exit-codes.sh
# Every tool x every simulated transport x text/JSON x good/bad input.
TESTS += tests/tools/test-matrix.sh
EXTRA_DIST += tests/tools/test-matrix.sh
