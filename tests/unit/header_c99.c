/* The public header must compile as strict C99 on its own. */
#include <orionstor.h>

int main(void)
{
	struct ostor_cdb cdb;
	struct ostor_lun_info info;

	(void)info;
	return ostor_scsi_cdb_test_unit_ready(&cdb) == 0 && cdb.len == 6 ? 0 : 1;
}
