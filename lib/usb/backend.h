/*
 * lib/usb/backend.h - what the usb: backend (libusb) shares with the
 * public USB helpers in api.c.
 */
#ifndef OSTOR_USB_BACKEND_H
#define OSTOR_USB_BACKEND_H

#include "usb/engine.h"

#ifdef OSTOR_HAVE_USB
/* The engine of an open usb: device, NULL for other devices. */
struct ousb_engine *ousb_backend_engine(ostor_device *dev);
/* Descriptor-level details (ids, strings, bus, speed, packet sizes). */
void ousb_backend_details(ostor_device *dev, struct ostor_usb_details *d);
#endif

#endif
