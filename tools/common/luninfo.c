/*
 * tools/common/luninfo.c - one LUN, the same way in every tool: the JSON
 * object (orionstor-json(7)) and the row of the text table.
 */
#include "toolcommon.h"

#include <inttypes.h>

static bool mul_u64(uint64_t a, uint64_t b, uint64_t *out)
{
	return !__builtin_mul_overflow(a, b, out);
}

struct json_object *tc_lun_info_json(const struct ostor_lun_info *li)
{
	struct json_object *o = tc_lun_json(li->target, li->lun);
	uint64_t bytes, max_bytes;

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
		mul_u64(li->blocks, li->block_size, &bytes) ? tc_json_u64(bytes) : NULL);
	json_object_object_add(o, "write_protected", json_object_new_boolean(li->write_protected != 0));
	json_object_object_add(o, "removable", json_object_new_boolean(li->removable != 0));
	json_object_object_add(o, "medium_present", json_object_new_boolean(li->medium_present != 0));
	json_object_object_add(o, "max_transfer_blocks", json_object_new_int64(li->max_transfer_blocks));
	json_object_object_add(o, "max_transfer_bytes",
		mul_u64(li->max_transfer_blocks, li->block_size, &max_bytes) ? tc_json_u64(max_bytes) : NULL);
	json_object_object_add(o, "thin_provisioned", json_object_new_boolean(li->thin_provisioned != 0));
	return o;
}

void tc_lun_text_header(void)
{
	printf("%-7s %-7s %-8s %-16s %-4s %6s %14s %10s  %s\n", "T:L", "TYPE",
	       "VENDOR", "PRODUCT", "REV", "BLOCK", "BLOCKS", "CAPACITY", "FLAGS");
}

const char *tc_max_transfer_text(const struct ostor_lun_info *li, char *buf, size_t len)
{
	char size[32];
	uint64_t bytes;

	if (li->block_size && mul_u64(li->max_transfer_blocks, li->block_size, &bytes))
		snprintf(buf, len, "%" PRIu32 " blocks (%s)", li->max_transfer_blocks,
			 tc_human_size(bytes, size, sizeof(size)));
	else
		snprintf(buf, len, "%" PRIu32 " blocks", li->max_transfer_blocks);
	return buf;
}

void tc_lun_text(const struct ostor_lun_info *li)
{
	char tl[24], cap[32] = "-", mt[64];
	uint64_t bytes;

	snprintf(tl, sizeof(tl), "%" PRIu32 ":%" PRIu32, li->target, li->lun);
	if (li->medium_present && mul_u64(li->blocks, li->block_size, &bytes))
		tc_human_size(bytes, cap, sizeof(cap));
	printf("%-7s %-7s %-8s %-16s %-4s %6" PRIu32 " %14" PRIu64 " %10s  %s%s%s%s\n",
	       tl, ostor_peripheral_type_name(li->peripheral_type), li->vendor,
	       li->product, li->revision, li->block_size, li->blocks, cap,
	       li->write_protected ? "ro" : "rw",
	       li->removable ? ",removable" : "",
	       li->medium_present ? "" : ",no-medium",
	       li->thin_provisioned ? ",thin" : "");
	tc_max_transfer_text(li, mt, sizeof(mt));
	if (li->serial[0])
		printf("        serial %s, max transfer %s\n", li->serial, mt);
	else
		printf("        max transfer %s\n", mt);
}

int tc_inquiry(ostor_device *dev, uint32_t target, uint32_t lun, int evpd, uint8_t page,
	       uint8_t *buf, size_t len, size_t *got)
{
	struct ostor_cdb cdb;
	ostor_task *t = NULL;
	int err;

	*got = 0;
	if ((err = ostor_scsi_cdb_inquiry(&cdb, evpd, page, (uint16_t)(len > 0xffff ? 0xffff : len))) < 0 ||
	    (err = ostor_task_new(dev, &t)) < 0)
		return err;
	if ((err = ostor_task_set_lun(t, target, lun)) == 0 &&
	    (err = ostor_task_set_cdb(t, cdb.bytes, cdb.len)) == 0 &&
	    (err = ostor_task_set_buffer(t, OSTOR_DIR_FROM_DEVICE, buf, len)) == 0 &&
	    (err = ostor_task_execute(t)) == 0) {
		err = ostor_task_error(t);
		*got = ostor_task_transferred(t);
	}
	ostor_task_free(t);
	return err;
}

void tc_lun_hex(ostor_device *dev, uint32_t target, uint32_t lun, struct json_object *json)
{
	uint8_t buf[255], pages[255];
	size_t got = 0, npages = 0;
	char name[16];

	if (tc_inquiry(dev, target, lun, 0, 0, buf, 96, &got) < 0)
		return;
	if (json) {
		struct json_object *raw = json_object_new_object();

		json_object_object_add(json, "raw", raw);
		json = raw;
		json_object_object_add(json, "inquiry", tc_json_hex(buf, got));
	} else {
		printf("        standard INQUIRY (%zu bytes):\n", got);
		tc_hexdump(stdout, buf, got, 0);
	}
	if (tc_inquiry(dev, target, lun, 1, 0, pages, sizeof(pages), &npages) < 0 || npages < 4)
		return;
	npages = (npages < 4u + pages[3] ? npages : 4u + pages[3]);
	for (size_t i = 4; i < npages; i++) {
		if (tc_inquiry(dev, target, lun, 1, pages[i], buf, sizeof(buf), &got) < 0)
			continue;
		snprintf(name, sizeof(name), "vpd_%02x", pages[i]);
		if (json) {
			json_object_object_add(json, name, tc_json_hex(buf, got));
		} else {
			printf("        VPD page %02xh (%zu bytes):\n", pages[i], got);
			tc_hexdump(stdout, buf, got, 0);
		}
	}
}
