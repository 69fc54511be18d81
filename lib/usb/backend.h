/*
 * lib/usb/backend.h - what the usb: backend (libusb) shares with the
 * public USB helpers in api.c.
 */
#ifndef OSTOR_USB_BACKEND_H
#define OSTOR_USB_BACKEND_H

#include "usb/engine.h"
#include "usb/suspend.h"

#ifdef OSTOR_HAVE_USB
extern const struct ostor_backend ostori_usb_backend;
/* The engines of an open usb: device, one per mass-storage interface in
 * target order (at most max); 0 for other devices. */
int ousb_backend_engines(ostor_device *dev, struct ousb_engine **v, int max);
/* Descriptor-level details (ids, strings, bus, speed, packet sizes). */
void ousb_backend_details(ostor_device *dev, struct ostor_usb_details *d);
/* Selective suspend: the device's switch, its sysfs view (the power
 * fields ostor_usb_power_get reads there, plus bMaxPower and speed), and
 * writing power/control and power/autosuspend_delay_ms (-1: unchanged). */
struct ousb_suspend *ousb_backend_suspend(ostor_device *dev);
void ousb_backend_power(ostor_device *dev, struct ostor_usb_power *p);
int ousb_backend_power_set(ostor_device *dev, int autosuspend, int delay_ms);
#endif

#endif
