/*
 * lib/core/health.h - the health report (lib/core/health.c reads it,
 * health_json.c writes it out, health_monitor.c watches it).
 */
#ifndef OSTOR_CORE_HEALTH_H
#define OSTOR_CORE_HEALTH_H

#include "core/backend.h"

#define ATA_SECTOR 512
#define SCSI_SELF_TESTS 20
#define LOG_PAGES_MAX 64
#define LOG_BUF 1024

struct ostor_health {
	int verdict;
	int protocol;
	char reason[256];
	int temperature;                  /* Celsius, valid with have_temperature */
	bool have_temperature;
	char spec[128];
	uint32_t target, lun;
	struct ostor_scsi_inquiry inquiry;
	char serial[64];                  /* VPD 80h, "" when none */
	/* ATA */
	bool have_identify, have_status, have_smart, have_self_tests;
	struct ostor_scsi_ata_identify identify;
	struct ostor_scsi_ata_smart_status status;
	struct ostor_scsi_ata_smart_data smart;
	struct ostor_scsi_ata_self_test_log self_tests;
	/* SCSI */
	bool have_ie;
	const char *ie_source;            /* "log page 2Fh", "REQUEST SENSE" */
	struct ostor_scsi_log_ie ie;
	bool have_temp_page;
	struct ostor_scsi_log_temperature temp_page;
	struct ostor_scsi_log_self_test scsi_tests[SCSI_SELF_TESTS];
	size_t nscsi_tests;
	struct ostor_scsi_log_page_id pages[LOG_PAGES_MAX];
	size_t npages;
	bool have_bg;
	struct ostor_scsi_log_bg_scan_status bg;
};

/* The report as a json-c object (health_json.c); NULL: no memory. */
struct json_object *ostori_health_json_object(const struct ostor_health *hr);

#endif /* OSTOR_CORE_HEALTH_H */
