/*
 * plugins/nbdkit/errors.c - library errors as the errno NBD clients
 * understand, logged with what the device said.
 *
 * NBD carries only a few error codes (EPERM, EIO, ENOMEM, EINVAL, ENOSPC,
 * EOVERFLOW, ENOTSUP, ESHUTDOWN); nbdkit turns any other errno into
 * EINVAL, which would tell a client its request was malformed when the
 * device failed.  So every library error maps onto one of those, and the
 * detail (the SCSI status and decoded sense the library keeps in
 * ostor_last_error()) goes to nbdkit's log instead.
 *
 * Copyright (C) 2026 The liborionstor authors.  LGPL-2.1-or-later.
 */
#include "plugin.h"

#include <errno.h>
#include <stdio.h>

#define NBDKIT_API_VERSION 2
#include <nbdkit-plugin.h>

int onbd_errno(int err, bool write)
{
	switch (err) {
	case OSTOR_SUCCESS:
		return 0;
	case OSTOR_ERROR_WRITE_PROTECTED:
		/* nbdkit sends EROFS as NBD_EPERM. */
		return EROFS;
	case OSTOR_ERROR_ACCESS:
		return EPERM;
	case OSTOR_ERROR_NO_DEVICE:
		return ESHUTDOWN;
	case OSTOR_ERROR_OUT_OF_RANGE:
		/* Past the end: no room for a write, a bad request otherwise. */
		return write ? ENOSPC : EINVAL;
	case OSTOR_ERROR_INVALID_PARAM:
		return EINVAL;
	case OSTOR_ERROR_NO_MEM:
		return ENOMEM;
	case OSTOR_ERROR_NOT_SUPPORTED:
		return ENOTSUP;
	case OSTOR_ERROR_OVERFLOW:
		return EOVERFLOW;
	case OSTOR_ERROR_IO:              /* medium and hardware errors */
	case OSTOR_ERROR_SCSI:
	case OSTOR_ERROR_NO_MEDIUM:
	case OSTOR_ERROR_TIMEOUT:
	case OSTOR_ERROR_BUSY:
	case OSTOR_ERROR_ABORTED:
	case OSTOR_ERROR_INTERRUPTED:
	case OSTOR_ERROR_PROTOCOL:
	case OSTOR_ERROR_MISCOMPARE:
	case OSTOR_ERROR_STATE:
	default:
		return EIO;
	}
}

int onbd_fail(int err, bool write, const char *fmt, ...)
{
	char what[256];
	va_list ap;
	int e = onbd_errno(err, write);

	va_start(ap, fmt);
	vsnprintf(what, sizeof(what), fmt, ap);
	va_end(ap);
	if (err == OSTOR_ERROR_NO_DEVICE && !atomic_exchange(&onbd.gone, true))
		nbdkit_error("%s: the device is gone (unplugged or removed): every request fails from "
			     "now on; restart nbdkit once it is back", ostor_device_spec(onbd.dev));
	nbdkit_error("%s: %s (%s)", what, ostor_last_error(), ostor_error_name(err));
	errno = e ? e : EIO;
	return -1;
}

int onbd_gone(void)
{
	nbdkit_error("%s is gone (unplugged or removed): restart nbdkit once it is back",
		     onbd.dev ? ostor_device_spec(onbd.dev) : "the device");
	errno = ESHUTDOWN;
	return -1;
}
