# lib/usb: USB mass storage over libusb-1.0.
if ENABLE_USB
lib_libostor_private_la_SOURCES += lib/usb/backend.c
endif
