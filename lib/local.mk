# The private convenience library holds everything; the installed library
# wraps it with the version script.  Unit tests link the private one
# white-box.
noinst_LTLIBRARIES += lib/libostor_private.la
lib_libostor_private_la_SOURCES = lib/backends.c
lib_libostor_private_la_CFLAGS = $(AM_CFLAGS) $(VISIBILITY_CFLAGS) $(LIB_TLS_CFLAGS) \
	$(LIBUSB_CFLAGS) $(PCIACCESS_CFLAGS) $(INIH_CFLAGS) $(JSONC_CFLAGS)
lib_libostor_private_la_LIBADD = $(LIBUSB_LIBS) $(PCIACCESS_LIBS) $(INIH_LIBS) $(JSONC_LIBS) -lm

lib_LTLIBRARIES += lib/liborionstor.la
lib_liborionstor_la_SOURCES =
lib_liborionstor_la_CFLAGS = $(AM_CFLAGS) $(VISIBILITY_CFLAGS) $(LIB_TLS_CFLAGS)
lib_liborionstor_la_LIBADD = lib/libostor_private.la
lib_liborionstor_la_LDFLAGS = $(AM_LDFLAGS) \
	-version-info $(LT_CURRENT):$(LT_REVISION):$(LT_AGE) \
	-Wl,--version-script=$(top_srcdir)/lib/liborionstor.sym -no-undefined $(LIB_NO_UNDEFINED)
EXTRA_lib_liborionstor_la_DEPENDENCIES = $(top_srcdir)/lib/liborionstor.sym
EXTRA_DIST += lib/liborionstor.sym
EXTRA_DIST += liborionstor.pc.in
