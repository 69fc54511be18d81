/*
 * lib/usb/backend.h - what the usb: backend (libusb) shares with the
 * public USB helpers in api.c.
 */
#ifndef OSTOR_USB_BACKEND_H
#define OSTOR_USB_BACKEND_H

#include "usb/engine.h"

#ifdef OSTOR_HAVE_USB
extern const struct ostor_backend ostori_usb_backend;
/* The engines of an open usb: device, one per mass-storage interface in
 * target order (at most max); 0 for other devices. */
int ousb_backend_engines(ostor_device *dev, struct ousb_engine **v, int max);
/* Descriptor-level details (ids, strings, bus, speed, packet sizes). */
void ousb_backend_details(ostor_device *dev, struct ostor_usb_details *d);
#endif

#endif
