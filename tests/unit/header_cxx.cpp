// The public header must compile and link from C++, its initializers
// and OSTOR_HAS_FIELD included.
#include <orionstor.h>

int main()
{
	ostor_cdb cdb;
	ostor_context *ctx = nullptr;
	// struct: ostor_lun_info also names a function.
	struct ostor_lun_info info = OSTOR_LUN_INFO_INIT;
	struct ostor_virtio_queue_info vq = OSTOR_VIRTIO_QUEUE_INFO_INIT;
	ostor_usb_details usb = OSTOR_USB_DETAILS_INIT;
	ostor_power_info pwr = OSTOR_POWER_INFO_INIT;
	ostor_usb_power upw = OSTOR_USB_POWER_INIT;
	ostor_scsi_sense sense = OSTOR_SCSI_SENSE_INIT;
	ostor_scsi_ata_smart_data sd = OSTOR_SCSI_ATA_SMART_DATA_INIT;

	if (info.size != sizeof(info) || !OSTOR_HAS_FIELD(&info, thin_provisioned) ||
	    !OSTOR_HAS_FIELD(&vq, renotifies) || !OSTOR_HAS_FIELD(&usb, target_max_lun) ||
	    !OSTOR_HAS_FIELD(&pwr, standby_z) || !OSTOR_HAS_FIELD(&upw, sysfs_path) ||
	    !OSTOR_HAS_FIELD(&sense, ata_return_present) || !OSTOR_HAS_FIELD(&sd, valid_len) ||
	    sd.attrs[0].id != 0)
		return 1;
	if (ostor_init(&ctx, nullptr) != 0)
		return 1;
	ostor_exit(ctx);
	return ostor_scsi_cdb_test_unit_ready(&cdb) == 0 && cdb.len == 6 ? 0 : 1;
}
