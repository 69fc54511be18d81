# lib/util: the bottom of the library - error messages, byte order,
# the public structs that grow (sized.c),
# compiler macros.  Every other folder may include it; it includes none.
lib_libostor_private_la_SOURCES += lib/util/error.c lib/util/sized.c
noinst_HEADERS += lib/util/compiler.h lib/util/error.h lib/util/byteorder.h lib/util/sized.h
