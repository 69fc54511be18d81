# plugins/nbdkit: nbdkit-orionstor-plugin, every LUN of a device as an NBD
# export.  Built when nbdkit's plugin header is found (configure
# --with-nbdkit / --without-nbdkit); installed into nbdkit's plugindir.
# Like the tools it sees only the public API (include/); its data path is
# a convenience library so that tests/unit/test_nbdkit_plugin drives the
# same code against a simulated device with injected faults.
EXTRA_DIST += plugins/nbdkit/plugin.h man/nbdkit-orionstor-plugin.1 \
	tests/tools/test-nbdkit.sh
if HAVE_NBDKIT
ONBD_CPPFLAGS = -I$(top_srcdir)/include -I$(top_builddir) -DONBD_VERSION='"$(PACKAGE_VERSION)"'
ONBD_CFLAGS = $(AM_CFLAGS) $(NBDKIT_CFLAGS)

noinst_LTLIBRARIES += plugins/nbdkit/libonbd.la
plugins_nbdkit_libonbd_la_SOURCES = \
	plugins/nbdkit/plugin.h \
	plugins/nbdkit/device.c \
	plugins/nbdkit/errors.c \
	plugins/nbdkit/extents.c \
	plugins/nbdkit/io.c \
	plugins/nbdkit/thread.c
plugins_nbdkit_libonbd_la_CPPFLAGS = $(ONBD_CPPFLAGS)
plugins_nbdkit_libonbd_la_CFLAGS = $(ONBD_CFLAGS)

nbdkitplugindir = $(NBDKIT_PLUGINDIR)
nbdkitplugin_LTLIBRARIES = plugins/nbdkit/nbdkit-orionstor-plugin.la
plugins_nbdkit_nbdkit_orionstor_plugin_la_SOURCES = plugins/nbdkit/orionstor.c
plugins_nbdkit_nbdkit_orionstor_plugin_la_CPPFLAGS = $(ONBD_CPPFLAGS)
plugins_nbdkit_nbdkit_orionstor_plugin_la_CFLAGS = $(ONBD_CFLAGS)
plugins_nbdkit_nbdkit_orionstor_plugin_la_LIBADD = plugins/nbdkit/libonbd.la lib/liborionstor.la -lpthread
# nbdkit resolves nbdkit_* itself when it loads the plugin.
plugins_nbdkit_nbdkit_orionstor_plugin_la_LDFLAGS = $(AM_LDFLAGS) -module -avoid-version -shared \
	-export-symbols-regex '^plugin_init$$'

man_MANS += man/nbdkit-orionstor-plugin.1

# The plugin's data path against the simulated device, with faults.
check_PROGRAMS += tests/unit/test_nbdkit_plugin
TESTS += tests/unit/test_nbdkit_plugin
tests_unit_test_nbdkit_plugin_SOURCES = tests/unit/test_nbdkit_plugin.c
tests_unit_test_nbdkit_plugin_CFLAGS = $(AM_CFLAGS) $(CHECK_CFLAGS) $(NBDKIT_CFLAGS)
tests_unit_test_nbdkit_plugin_LDADD = plugins/nbdkit/libonbd.la lib/libostor_private.la $(CHECK_LIBS) -lpthread

# nbdkit with the built plugin, and NBD clients against it.
TESTS += tests/tools/test-nbdkit.sh
endif
