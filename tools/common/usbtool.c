/*
 * tools/common/usbtool.c - helpers of the usb_storage_* tools.
 */
#include "usbtool.h"

#include <inttypes.h>
#include <string.h>

int us_details(ostor_device *dev, const char *spec, struct ostor_usb_details *d)
{
	int err = ostor_usb_get_details(dev, d);

	if (err < 0) {
		tc_lib_error(err, "'%s'", spec);
		return tc_exit_from_error(err);
	}
	return 0;
}

static const char *protocol_text(uint8_t p)
{
	switch (p) {
	case 0x00: return "CBI (control/bulk/interrupt)";
	case 0x01: return "CB (control/bulk)";
	case 0x50: return "Bulk-Only";
	default: return "unknown";
	}
}

static const char *subclass_text(uint8_t s)
{
	switch (s) {
	case 0x01: return "RBC";
	case 0x02: return "MMC-5 (ATAPI)";
	case 0x03: return "QIC-157";
	case 0x04: return "UFI";
	case 0x05: return "SFF-8070i";
	case 0x06: return "SCSI transparent";
	default: return "unknown";
	}
}

struct json_object *us_details_json(const struct ostor_usb_details *d)
{
	struct json_object *o = json_object_new_object();
	char hex[8];

	snprintf(hex, sizeof(hex), "%04x", d->vendor_id);
	json_object_object_add(o, "vendor_id", json_object_new_string(hex));
	snprintf(hex, sizeof(hex), "%04x", d->product_id);
	json_object_object_add(o, "product_id", json_object_new_string(hex));
	json_object_object_add(o, "manufacturer", json_object_new_string(d->manufacturer));
	json_object_object_add(o, "product", json_object_new_string(d->product));
	json_object_object_add(o, "serial", json_object_new_string(d->serial));
	json_object_object_add(o, "bus", json_object_new_int(d->bus));
	json_object_object_add(o, "port", json_object_new_int(d->port));
	json_object_object_add(o, "device_number", json_object_new_int(d->devnum));
	json_object_object_add(o, "speed", json_object_new_string(d->speed));
	json_object_object_add(o, "interface", json_object_new_int(d->interface_number));
	snprintf(hex, sizeof(hex), "%02x", d->subclass);
	json_object_object_add(o, "subclass", json_object_new_string(hex));
	json_object_object_add(o, "subclass_name", json_object_new_string(subclass_text(d->subclass)));
	snprintf(hex, sizeof(hex), "%02x", d->protocol);
	json_object_object_add(o, "protocol", json_object_new_string(hex));
	json_object_object_add(o, "transport", json_object_new_string(d->transport));
	json_object_object_add(o, "max_lun", json_object_new_int(d->max_lun));
	json_object_object_add(o, "max_packet_in", json_object_new_int(d->max_packet_in));
	json_object_object_add(o, "max_packet_out", json_object_new_int(d->max_packet_out));
	json_object_object_add(o, "quirks", json_object_new_string(d->quirks));
	json_object_object_add(o, "simulated", json_object_new_boolean(d->simulated));
	json_object_object_add(o, "dead", json_object_new_boolean(d->dead));
	if (d->interfaces) {
		struct json_object *arr = json_object_new_array();

		/* Every mass-storage interface: target k of the LUN list. */
		json_object_object_add(o, "interfaces", json_object_new_int(d->interfaces));
		for (int k = 0; k < d->interfaces && k < (int)sizeof(d->target_interface); k++) {
			struct json_object *t = json_object_new_object();

			json_object_object_add(t, "target", json_object_new_int(k));
			json_object_object_add(t, "interface", json_object_new_int(d->target_interface[k]));
			snprintf(hex, sizeof(hex), "%02x", d->target_subclass[k]);
			json_object_object_add(t, "subclass", json_object_new_string(hex));
			snprintf(hex, sizeof(hex), "%02x", d->target_protocol[k]);
			json_object_object_add(t, "protocol", json_object_new_string(hex));
			json_object_object_add(t, "transport",
					       json_object_new_string(d->target_protocol[k] == 0x50 ? "bot" :
								      d->target_protocol[k] == 0x01 ? "cb" :
								      d->target_protocol[k] == 0x00 ? "cbi" : "unknown"));
			json_object_object_add(t, "max_lun", json_object_new_int(d->target_max_lun[k]));
			json_object_array_add(arr, t);
		}
		json_object_object_add(o, "targets", arr);
	}
	return o;
}

void us_details_text(const struct ostor_usb_details *d)
{
	printf("  USB id       %04x:%04x  %s / %s%s%s\n", d->vendor_id, d->product_id,
	       d->manufacturer[0] ? d->manufacturer : "-", d->product[0] ? d->product : "-",
	       d->simulated ? "  (simulated)" : "", d->dead ? "  DEAD" : "");
	printf("  serial       %s\n", d->serial[0] ? d->serial : "-");
	printf("  bus/port     bus %u, port %u, device %u, %s speed\n", d->bus, d->port, d->devnum,
	       d->speed);
	printf("  interface    %u, subclass %02xh (%s), protocol %02xh (%s)\n", d->interface_number,
	       d->subclass, subclass_text(d->subclass), d->protocol, protocol_text(d->protocol));
	printf("  transport    %s, max LUN %u, max packet %u in / %u out\n", d->transport, d->max_lun,
	       d->max_packet_in, d->max_packet_out);
	printf("  quirks       %s\n", d->quirks[0] ? d->quirks : "none");
	/* Several mass-storage interfaces: each is a target of its own. */
	for (int k = 0; d->interfaces > 1 && k < d->interfaces && k < (int)sizeof(d->target_interface); k++)
		printf("  target %-2d    interface %u, subclass %02xh (%s), protocol %02xh (%s), max LUN %u\n",
		       k, d->target_interface[k], d->target_subclass[k], subclass_text(d->target_subclass[k]),
		       d->target_protocol[k], protocol_text(d->target_protocol[k]), d->target_max_lun[k]);
}

struct json_object *us_lun_json(const struct ostor_lun_info *li)
{
	struct json_object *o = json_object_new_object();
	uint64_t bytes = li->blocks * li->block_size;

	json_object_object_add(o, "target", json_object_new_int64(li->target));
	json_object_object_add(o, "lun", json_object_new_int64(li->lun));
	json_object_object_add(o, "peripheral_type",
			       json_object_new_string(ostor_peripheral_type_name(li->peripheral_type)));
	json_object_object_add(o, "peripheral_type_code", json_object_new_int(li->peripheral_type));
	json_object_object_add(o, "vendor", json_object_new_string(li->vendor));
	json_object_object_add(o, "product", json_object_new_string(li->product));
	json_object_object_add(o, "revision", json_object_new_string(li->revision));
	json_object_object_add(o, "serial", json_object_new_string(li->serial));
	json_object_object_add(o, "block_size", json_object_new_int64(li->block_size));
	json_object_object_add(o, "blocks", tc_json_u64(li->blocks));
	json_object_object_add(o, "capacity_bytes",
			       li->block_size && bytes / li->block_size == li->blocks ? tc_json_u64(bytes) : NULL);
	json_object_object_add(o, "write_protected", json_object_new_boolean(li->write_protected != 0));
	json_object_object_add(o, "removable", json_object_new_boolean(li->removable != 0));
	json_object_object_add(o, "medium_present", json_object_new_boolean(li->medium_present != 0));
	json_object_object_add(o, "max_transfer_blocks", json_object_new_int64(li->max_transfer_blocks));
	json_object_object_add(o, "thin_provisioned", json_object_new_boolean(li->thin_provisioned != 0));
	return o;
}

void us_lun_text(const struct ostor_lun_info *li)
{
	char cap[32] = "-";

	if (li->medium_present)
		tc_human_size(li->blocks * li->block_size, cap, sizeof(cap));
	printf("  LUN %" PRIu32 "        %-7s %-8s %-16s %-4s %u x %" PRIu64 " bytes (%s) %s%s%s\n",
	       li->lun, ostor_peripheral_type_name(li->peripheral_type), li->vendor, li->product,
	       li->revision, li->block_size, li->blocks, cap, li->write_protected ? "ro" : "rw",
	       li->removable ? ",removable" : "", li->medium_present ? "" : ",no-medium");
}

int us_exec(ostor_device *dev, uint32_t target, uint32_t lun, const uint8_t *cdb, size_t cdb_len,
	    enum ostor_dir dir, void *buf, size_t len, ostor_task **task)
{
	ostor_task *t;
	int err = ostor_task_new(dev, &t);

	*task = NULL;
	if (err < 0)
		return err;
	if ((err = ostor_task_set_lun(t, target, lun)) < 0 ||
	    (err = ostor_task_set_cdb(t, cdb, cdb_len)) < 0 ||
	    (err = ostor_task_set_buffer(t, len ? dir : OSTOR_DIR_NONE, len ? buf : NULL, len)) < 0 ||
	    (err = ostor_task_execute(t)) < 0) {
		ostor_task_free(t);
		return err;
	}
	*task = t;
	return 0;
}

/* Copy an INQUIRY string field, trimmed, printable only. */
static void inq_field(char *dst, size_t dstlen, const uint8_t *src, size_t n)
{
	size_t k = 0;

	for (size_t i = 0; i < n && k + 1 < dstlen; i++)
		dst[k++] = src[i] >= 0x20 && src[i] < 0x7f ? (char)src[i] : '?';
	while (k && dst[k - 1] == ' ')
		k--;
	dst[k] = '\0';
}

int us_lun_info_removable_fallback(ostor_device *dev, uint32_t target, uint32_t lun,
				   struct ostor_lun_info *li)
{
	uint8_t cdb[6] = { 0x12, 0, 0, 0, 36, 0 }, inq[36] = { 0 }, vpd[255];
	ostor_task *t;
	size_t n;
	int err;

	err = us_exec(dev, target, lun, cdb, sizeof(cdb), OSTOR_DIR_FROM_DEVICE, inq, sizeof(inq), &t);
	if (err < 0)
		return err;
	n = ostor_task_result(t) == OSTOR_RESULT_GOOD ? ostor_task_transferred(t) : 0;
	ostor_task_free(t);
	/* Only a unit that is there (qualifier 0) with a removable medium. */
	if (n < 36 || (inq[0] >> 5) != 0 || !(inq[1] & 0x80))
		return -1;
	*li = (struct ostor_lun_info)OSTOR_LUN_INFO_INIT;
	li->target = target;
	li->lun = lun;
	li->peripheral_type = inq[0] & 0x1f;
	li->removable = 1;
	inq_field(li->vendor, sizeof(li->vendor), inq + 8, 8);
	inq_field(li->product, sizeof(li->product), inq + 16, 16);
	inq_field(li->revision, sizeof(li->revision), inq + 32, 4);
	cdb[1] = 1;
	cdb[2] = 0x80;
	cdb[4] = sizeof(vpd);
	if (us_exec(dev, target, lun, cdb, sizeof(cdb), OSTOR_DIR_FROM_DEVICE, vpd, sizeof(vpd), &t) == 0) {
		n = ostor_task_result(t) == OSTOR_RESULT_GOOD ? ostor_task_transferred(t) : 0;
		if (n >= 4 && vpd[1] == 0x80) {
			size_t len = (size_t)vpd[3] < n - 4 ? (size_t)vpd[3] : n - 4;
			size_t b = 0;

			while (b < len && vpd[4 + b] == ' ')
				b++;
			inq_field(li->serial, sizeof(li->serial), vpd + 4 + b, len - b);
		}
		ostor_task_free(t);
	}
	return 0;
}
