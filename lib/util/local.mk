# lib/util: the bottom of the library - error messages, byte order,
# compiler macros.  Every other folder may include it; it includes none.
lib_libostor_private_la_SOURCES += lib/util/error.c
noinst_HEADERS += lib/util/compiler.h lib/util/error.h lib/util/byteorder.h
