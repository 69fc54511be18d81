/* The installed library's own object: the version string.  Everything
 * else comes from the private convenience library. */
#include "build-config.h"
#include "orionstor.h"

OSTOR_API const char *ostor_version(void)
{
	return PACKAGE_VERSION;
}
