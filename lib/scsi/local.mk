# lib/scsi
