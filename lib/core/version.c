/* The library version, from configure.ac. */
#include "core/internal.h"

OSTOR_API const char *ostor_version(void)
{
	return PACKAGE_VERSION;
}
