/* The public header must compile as strict C99 on its own, its
 * initializers and OSTOR_HAS_FIELD included. */
#include <orionstor.h>

int main(void)
{
	struct ostor_cdb cdb;
	struct ostor_lun_info info = OSTOR_LUN_INFO_INIT;
	struct ostor_usb_details usb = OSTOR_USB_DETAILS_INIT;
	struct ostor_power_info pwr = OSTOR_POWER_INFO_INIT;
	struct ostor_usb_power upw = OSTOR_USB_POWER_INIT;
	struct ostor_virtio_device_info vdev = OSTOR_VIRTIO_DEVICE_INFO_INIT;
	struct ostor_virtio_queue_info vq = OSTOR_VIRTIO_QUEUE_INFO_INIT;
	struct ostor_scsi_inquiry inq = OSTOR_SCSI_INQUIRY_INIT;
	struct ostor_scsi_read_capacity cap = OSTOR_SCSI_READ_CAPACITY_INIT;
	struct ostor_scsi_vpd_block_limits bl = OSTOR_SCSI_VPD_BLOCK_LIMITS_INIT;
	struct ostor_scsi_vpd_block_characteristics bc = OSTOR_SCSI_VPD_BLOCK_CHARACTERISTICS_INIT;
	struct ostor_scsi_vpd_lbp lbp = OSTOR_SCSI_VPD_LBP_INIT;
	struct ostor_scsi_caching_page cp = OSTOR_SCSI_CACHING_PAGE_INIT;
	struct ostor_scsi_sense sense = OSTOR_SCSI_SENSE_INIT;
	struct ostor_scsi_ata_identify id = OSTOR_SCSI_ATA_IDENTIFY_INIT;
	struct ostor_scsi_ata_smart_data sd = OSTOR_SCSI_ATA_SMART_DATA_INIT;
	struct ostor_scsi_ata_self_test_log stl = OSTOR_SCSI_ATA_SELF_TEST_LOG_INIT;

	if (info.size != sizeof(info) || !OSTOR_HAS_FIELD(&info, thin_provisioned) ||
	    !OSTOR_HAS_FIELD(&usb, target_max_lun) || !OSTOR_HAS_FIELD(&pwr, standby_z) ||
	    !OSTOR_HAS_FIELD(&upw, sysfs_path) || !OSTOR_HAS_FIELD(&vdev, topology_generation) ||
	    !OSTOR_HAS_FIELD(&vq, renotifies) || !OSTOR_HAS_FIELD(&inq, valid_len) ||
	    !OSTOR_HAS_FIELD(&cap, valid_len) || !OSTOR_HAS_FIELD(&bl, valid_len) ||
	    !OSTOR_HAS_FIELD(&bc, valid_len) || !OSTOR_HAS_FIELD(&lbp, valid_len) ||
	    !OSTOR_HAS_FIELD(&cp, byte12_valid) || !OSTOR_HAS_FIELD(&sense, ata_return_present) ||
	    !OSTOR_HAS_FIELD(&id, valid_len) || !OSTOR_HAS_FIELD(&sd, valid_len) ||
	    !OSTOR_HAS_FIELD(&stl, failed_count))
		return 1;
	return ostor_scsi_cdb_test_unit_ready(&cdb) == 0 && cdb.len == 6 ? 0 : 1;
}
