// The public header must compile and link from C++.
#include <orionstor.h>

int main()
{
	ostor_cdb cdb;
	ostor_context *ctx = nullptr;

	if (ostor_init(&ctx, nullptr) != 0)
		return 1;
	ostor_exit(ctx);
	return ostor_scsi_cdb_test_unit_ready(&cdb) == 0 && cdb.len == 6 ? 0 : 1;
}
