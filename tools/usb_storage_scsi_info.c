/*
 * tools/usb_storage_scsi_info.c - the SCSI view of one LUN of a USB
 * mass-storage device: standard INQUIRY, every supported VPD page
 * decoded, capacity (10 and 16), the caching mode page, write protect.
 */
#include "usbtool.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

static const struct argp sinfo_argp = {
	NULL, NULL, NULL,
	"Show the SCSI identity and capabilities of one logical unit (--lun, default 0): "
	"standard INQUIRY, every supported VPD page, READ CAPACITY (10) and (16), the caching "
	"mode page and the write-protect bit."
};

struct ctx_out {
	bool json, hex;
	struct json_object *root, *raw;
};

/* -H: the bytes behind what was just decoded (JSON: "raw": {name: hex}). */
static void out_raw(struct ctx_out *o, const char *name, const uint8_t *p, size_t n)
{
	if (!o->hex)
		return;
	if (o->json) {
		if (!o->raw) {
			o->raw = json_object_new_object();
			json_object_object_add(o->root, "raw", o->raw);
		}
		json_object_object_add(o->raw, name, tc_json_hex(p, n));
	} else {
		printf("%s (%zu bytes):\n", name, n);
		tc_hexdump(stdout, p, n, 0);
	}
}

static const char *version_name(unsigned int v)
{
	static const char *const names[] = { "none claimed", "SCSI-1", "SCSI-2", "SPC", "SPC-2",
					     "SPC-3", "SPC-4", "SPC-5" };

	return v < TC_ARRAY_SIZE(names) ? names[v] : "unknown";
}

static const char *designator_type_name(unsigned int t)
{
	static const char *const names[] = {
		"vendor specific", "T10 vendor ID", "EUI-64", "NAA", "relative target port",
		"target port group", "logical unit group", "MD5 logical unit", "SCSI name string",
		"protocol specific port", "UUID",
	};

	return t < TC_ARRAY_SIZE(names) ? names[t] : "reserved";
}

static const char *code_set_name(unsigned int c)
{
	return c == 1 ? "binary" : c == 2 ? "ASCII" : c == 3 ? "UTF-8" : "reserved";
}

static const char *association_name(unsigned int a)
{
	return a == 0 ? "logical unit" : a == 1 ? "target port" : a == 2 ? "target device" : "reserved";
}

static void out_str(struct ctx_out *o, const char *key, const char *label, const char *v)
{
	if (o->json)
		json_object_object_add(o->root, key, json_object_new_string(v));
	else
		printf("%-24s %s\n", label, v);
}

static void out_u64(struct ctx_out *o, const char *key, const char *label, uint64_t v)
{
	if (o->json)
		json_object_object_add(o->root, key, tc_json_u64(v));
	else
		printf("%-24s %" PRIu64 "\n", label, v);
}

/* "N blocks", or "not reported" for 0 (the Block Limits VPD's "no limit"). */
static void blocks_text(char *buf, size_t len, uint64_t blocks)
{
	if (blocks)
		snprintf(buf, len, "%" PRIu64 " blocks", blocks);
	else
		snprintf(buf, len, "not reported");
}

static void out_bool(struct ctx_out *o, const char *key, const char *label, bool v)
{
	if (o->json)
		json_object_object_add(o->root, key, json_object_new_boolean(v));
	else
		printf("%-24s %s\n", label, v ? "yes" : "no");
}

static int cmd_in(ostor_device *dev, uint32_t target, uint32_t lun, const struct ostor_cdb *cdb,
		  uint8_t *buf, size_t len, size_t *got)
{
	ostor_task *t;
	int err = us_exec(dev, target, lun, cdb->bytes, cdb->len, OSTOR_DIR_FROM_DEVICE, buf, len, &t);

	*got = 0;
	if (err < 0)
		return err;
	err = ostor_task_result(t) == OSTOR_RESULT_GOOD ? 0 : ostor_task_error(t);
	*got = ostor_task_transferred(t);
	ostor_task_free(t);
	return err;
}

static void text_field(char *dst, size_t dstlen, const uint8_t *src, size_t n)
{
	size_t k = 0;

	for (size_t i = 0; i < n && k + 1 < dstlen; i++)
		dst[k++] = src[i] >= 0x20 && src[i] < 0x7f ? (char)src[i] : '.';
	while (k && dst[k - 1] == ' ')
		k--;
	dst[k] = '\0';
}

static void vpd_device_id(struct ctx_out *o, const uint8_t *p, size_t n)
{
	struct json_object *arr = o->json ? json_object_new_array() : NULL;

	for (size_t off = 4; off + 4 <= n;) {
		size_t len = p[off + 3];
		char *hex;

		if (off + 4 + len > n)
			break;
		unsigned int code_set = p[off] & 0x0f, assoc = (p[off + 1] >> 4) & 3, type = p[off + 1] & 0x0f;
		char text[256];
		bool is_text = code_set == 2 || code_set == 3;

		hex = tc_hex_string(p + off + 4, len);
		text_field(text, sizeof(text), p + off + 4, len);
		if (arr) {
			struct json_object *d = json_object_new_object();

			json_object_object_add(d, "code_set", json_object_new_int((int)code_set));
			json_object_object_add(d, "code_set_name", json_object_new_string(code_set_name(code_set)));
			json_object_object_add(d, "association", json_object_new_int((int)assoc));
			json_object_object_add(d, "association_name", json_object_new_string(association_name(assoc)));
			json_object_object_add(d, "type", json_object_new_int((int)type));
			json_object_object_add(d, "type_name", json_object_new_string(designator_type_name(type)));
			json_object_object_add(d, "hex", json_object_new_string(hex ? hex : ""));
			if (is_text)
				json_object_object_add(d, "text", json_object_new_string(text));
			json_object_array_add(arr, d);
		} else {
			printf("  %s (%s, %s): %s\n", designator_type_name(type), code_set_name(code_set),
			       association_name(assoc), is_text ? text : hex ? hex : "");
		}
		free(hex);
		off += 4 + len;
	}
	if (arr)
		json_object_object_add(o->root, "device_identification", arr);
}

int main(int argc, char **argv)
{
	struct tc_common c;
	ostor_context *ctx;
	ostor_device *dev;
	struct ctx_out o = { 0 };
	struct ostor_cdb cdb;
	struct ostor_usb_details details = OSTOR_USB_DETAILS_INIT;
	uint8_t buf[512], pages[256];
	size_t got, npages = 0;
	char text[128], rawname[16];
	uint8_t subclass;
	int rc, err;

	tc_set_progname("usb_storage_scsi_info");
	tc_parse(&sinfo_argp, argc, argv, TC_OPT_DEVICE_REQUIRED | TC_OPT_USB | TC_OPT_JSON | TC_OPT_HEX, &c, NULL);
	rc = tc_open_device(&c, &ctx, &dev);
	if (rc)
		return rc;
	/* sim: devices without a USB model have no details: subclass 0 */
	if (ostor_usb_get_details(dev, &details) < 0)
		memset(&details, 0, sizeof(details));
	/* --target picks the mass-storage interface (its own subclass). */
	subclass = details.subclass;
	if (c.target && c.target < details.interfaces && c.target < sizeof(details.target_subclass))
		subclass = details.target_subclass[c.target];
	o.json = c.json;
	o.hex = c.hex;
	o.root = c.json ? json_object_new_object() : NULL;
	if (o.json) {
		json_object_object_add(o.root, "device", json_object_new_string(c.device));
		if (c.target)
			json_object_object_add(o.root, "target", json_object_new_int64(c.target));
		json_object_object_add(o.root, "lun", json_object_new_int64(c.lun));
	}

	/* standard INQUIRY */
	ostor_scsi_cdb_inquiry(&cdb, 0, 0, 96);
	err = cmd_in(dev, c.target, c.lun, &cdb, buf, 96, &got);
	if (err < 0 || got < 36) {
		tc_lib_error(err < 0 ? err : OSTOR_ERROR_PROTOCOL, "INQUIRY on LUN %u", c.lun);
		rc = tc_exit_from_error(err < 0 ? err : OSTOR_ERROR_PROTOCOL);
		goto out;
	}
	/* Peripheral qualifier 3 (or type 1Fh): no logical unit there. */
	if ((buf[0] >> 5) == 3 || (buf[0] & 0x1f) == 0x1f) {
		tc_msg("%s has no logical unit %u at target %u (peripheral qualifier %u)", c.device, c.lun,
		       c.target, buf[0] >> 5);
		rc = TC_EXIT_NOT_FOUND;
		goto out;
	}
	/* The heading once there is a LUN to describe: nothing on standard
	 * output for an error. */
	if (!o.json && c.target)
		printf("%s LUN %u:%u\n", c.device, c.target, c.lun);
	else if (!o.json)
		printf("%s LUN %u\n", c.device, c.lun);
	text_field(text, sizeof(text), buf + 8, 8);
	out_str(&o, "vendor", "vendor", text);
	text_field(text, sizeof(text), buf + 16, 16);
	out_str(&o, "product", "product", text);
	text_field(text, sizeof(text), buf + 32, 4);
	out_str(&o, "revision", "revision", text);
	out_str(&o, "peripheral_type", "peripheral type", ostor_peripheral_type_name(buf[0] & 0x1f));
	out_bool(&o, "removable", "removable", buf[1] & 0x80);
	if (o.json) {
		json_object_object_add(o.root, "scsi_version", json_object_new_int(buf[2]));
		json_object_object_add(o.root, "scsi_version_name", json_object_new_string(version_name(buf[2])));
	} else {
		printf("%-24s %s (%u)\n", "version", version_name(buf[2]), buf[2]);
	}
	out_raw(&o, "inquiry", buf, got);

	/* supported VPD pages, each decoded */
	ostor_scsi_cdb_inquiry(&cdb, 1, 0x00, 255);
	if (cmd_in(dev, c.target, c.lun, &cdb, pages, 255, &got) == 0 && got >= 4) {
		struct json_object *arr = o.json ? json_object_new_array() : NULL;

		npages = (size_t)pages[3] < got - 4 ? (size_t)pages[3] : got - 4;
		if (!o.json)
			printf("%-24s", "supported VPD pages");
		for (size_t i = 0; i < npages; i++) {
			if (arr)
				json_object_array_add(arr, json_object_new_int(pages[4 + i]));
			else
				printf(" %02xh", pages[4 + i]);
		}
		if (arr)
			json_object_object_add(o.root, "vpd_pages", arr);
		else
			printf("\n");
		out_raw(&o, "vpd_00", pages, 4 + npages);
	} else {
		out_str(&o, "vpd_pages_error", "supported VPD pages", "none (VPD not supported)");
	}
	for (size_t i = 0; i < npages; i++) {
		uint8_t pg = pages[4 + i];

		if (pg == 0)
			continue;
		ostor_scsi_cdb_inquiry(&cdb, 1, pg, sizeof(buf));
		if (cmd_in(dev, c.target, c.lun, &cdb, buf, sizeof(buf), &got) != 0 || got < 4)
			continue;
		if (got > 4u + ((size_t)buf[2] << 8 | buf[3]))
			got = 4u + ((size_t)buf[2] << 8 | buf[3]);
		snprintf(rawname, sizeof(rawname), "vpd_%02x", pg);
		if (pg == 0x80) {
			char serial[129];

			if (ostor_scsi_parse_vpd_serial(buf, got, serial, sizeof(serial)) >= 0)
				out_str(&o, "unit_serial_number", "unit serial number", serial);
		} else if (pg == 0x83) {
			if (!o.json)
				printf("device identification:\n");
			vpd_device_id(&o, buf, got);
		} else if (pg == 0xb0) {
			struct ostor_scsi_vpd_block_limits bl = OSTOR_SCSI_VPD_BLOCK_LIMITS_INIT;

			if (ostor_scsi_parse_vpd_block_limits(buf, got, &bl) == 0) {
				/* Both in blocks, as orionstor info says it. */
				if (o.json) {
					out_u64(&o, "max_transfer_length", NULL, bl.max_transfer_len);
					out_u64(&o, "optimal_transfer_length", NULL, bl.optimal_transfer_len);
				} else {
					blocks_text(text, sizeof(text), bl.max_transfer_len);
					printf("%-24s %s (the device's Block Limits)\n", "max transfer length", text);
					blocks_text(text, sizeof(text), bl.optimal_transfer_len);
					printf("%-24s %s\n", "optimal transfer length", text);
				}
			}
		} else if (pg == 0xb1 && got >= 6) {
			unsigned int rate = (unsigned int)buf[4] << 8 | buf[5];

			if (rate == 0)
				snprintf(text, sizeof(text), "not reported");
			else if (rate == 1)
				snprintf(text, sizeof(text), "non-rotating (solid state)");
			else
				snprintf(text, sizeof(text), "%u rpm", rate);
			if (o.json) {
				json_object_object_add(o.root, "rotation_rate", json_object_new_int((int)rate));
				json_object_object_add(o.root, "rotation", json_object_new_string(text));
			} else {
				printf("%-24s %s\n", "rotation", text);
			}
		} else if (pg == 0xb2 && got >= 6) {
			out_bool(&o, "lbpu", "UNMAP supported", buf[5] & 0x80);
			out_bool(&o, "lbpws", "WRITE SAME unmap", buf[5] & 0x40);
		} else {
			char *hex = tc_hex_string(buf, got);
			char key[16], label[32];

			snprintf(key, sizeof(key), "vpd_%02x", pg);
			snprintf(label, sizeof(label), "VPD page %02xh", pg);
			out_str(&o, key, label, hex ? hex : "");
			free(hex);
		}
		out_raw(&o, rawname, buf, got);
	}
	/* What the library sends per command, as every tool shows it. */
	{
		struct ostor_lun_info li = OSTOR_LUN_INFO_INIT;

		if (ostor_lun_info(dev, c.target, c.lun, &li) == 0) {
			if (o.json)
				json_object_object_add(o.root, "max_transfer_blocks",
						       json_object_new_int64(li.max_transfer_blocks));
			else
				printf("%-24s %s\n", "max transfer (used)",
				       tc_max_transfer_text(&li, text, sizeof(text)));
		}
	}

	/* capacity */
	{
		struct ostor_scsi_read_capacity cap = OSTOR_SCSI_READ_CAPACITY_INIT;

		ostor_scsi_cdb_read_capacity10(&cdb);
		if (cmd_in(dev, c.target, c.lun, &cdb, buf, 8, &got) == 0 &&
		    ostor_scsi_parse_read_capacity10(buf, got, &cap) == 0) {
			out_u64(&o, "capacity10_blocks", "capacity (10) blocks", cap.blocks);
			out_u64(&o, "capacity10_block_size", "capacity (10) block size", cap.block_size);
		} else {
			out_str(&o, "capacity10_error", "capacity (10)", ostor_last_error());
		}
		ostor_scsi_cdb_read_capacity16(&cdb, 32);
		if (cmd_in(dev, c.target, c.lun, &cdb, buf, 32, &got) == 0 &&
		    ostor_scsi_parse_read_capacity16(buf, got, &cap) == 0) {
			out_u64(&o, "capacity16_blocks", "capacity (16) blocks", cap.blocks);
			out_u64(&o, "capacity16_block_size", "capacity (16) block size", cap.block_size);
		} else {
			out_str(&o, "capacity16_error", "capacity (16)", "not supported");
		}
	}

	/* caching mode page and write protect, through the shared decoders;
	 * MODE SENSE(10) for devices without the 6-byte form (UFI) */
	{
		struct ostor_scsi_mode_header mh;
		struct ostor_scsi_iter it;
		struct ostor_scsi_mode_page mp;
		bool ok;

		ostor_scsi_cdb_mode_sense6(&cdb, 1, 0, 0x08, 0, 255);
		ok = cmd_in(dev, c.target, c.lun, &cdb, buf, 255, &got) == 0 &&
		     ostor_scsi_parse_mode_sense6(buf, got, &mh) == 0;
		if (!ok) {
			ostor_scsi_cdb_mode_sense10(&cdb, 1, 0, 0, 0x08, 0, 255);
			ok = cmd_in(dev, c.target, c.lun, &cdb, buf, 255, &got) == 0 &&
			     ostor_scsi_parse_mode_sense10(buf, got, &mh) == 0;
		}
		if (ok) {
			out_bool(&o, "write_protected", "write protected", mh.write_protected);
			if (ostor_scsi_mode_page_iter_init(&it, buf, got, &mh) == 0) {
				while (ostor_scsi_mode_page_next(&it, &mp) > 0) {
					struct ostor_scsi_caching_page cp = OSTOR_SCSI_CACHING_PAGE_INIT;

					if (ostor_scsi_parse_caching_page(&mp, &cp) < 0)
						continue;
					out_bool(&o, "write_cache_enabled", "write cache (WCE)", cp.wce);
					out_bool(&o, "read_cache_disabled", "read cache disabled (RCD)", cp.rcd);
					break;
				}
			}
		} else {
			out_str(&o, "mode_sense_error", "mode sense", "not supported");
		}
	}

	/* UFI and SFF-8070i drives describe their media with READ FORMAT
	 * CAPACITIES (they may have no READ CAPACITY answer without one). */
	if (subclass == 0x04 || subclass == 0x05) {
		struct ostor_scsi_format_capacity fc[8];
		size_t total = 0;
		int nfc;

		ostor_scsi_cdb_read_format_capacities(&cdb, 252);
		if (cmd_in(dev, c.target, c.lun, &cdb, buf, 252, &got) == 0 &&
		    (nfc = ostor_scsi_parse_read_format_capacities(buf, got, fc, 8, &total)) > 0) {
			static const char *const kinds[] = { "reserved", "unformatted", "formatted", "no medium" };

			out_u64(&o, "format_capacity_blocks", "format capacity blocks", fc[0].blocks);
			out_u64(&o, "format_capacity_block_length", "format capacity block length",
				fc[0].block_length);
			out_str(&o, "format_capacity_media", "media", kinds[fc[0].descriptor_type & 3]);
			out_u64(&o, "formattable_capacities", "formattable capacities", (uint64_t)(nfc - 1));
		} else {
			out_str(&o, "format_capacity_error", "format capacities", "not supported");
		}
	}
out:
	if (o.root) {
		int prc;

		tc_json_add_error(o.root, rc);
		prc = tc_json_print(o.root);

		json_object_put(o.root);
		if (!rc)
			rc = prc;
	}
	err = tc_close(ctx, dev);
	if (!rc)
		rc = tc_finish_stdout();
	return rc ? rc : err;
}
