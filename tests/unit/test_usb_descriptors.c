/*
 * tests/unit/test_usb_descriptors.c - which interfaces the usb: backend
 * drives, from synthetic libusb configuration descriptors: composite
 * devices, several mass-storage interfaces, UAS with its Pipe Usage
 * descriptors and stream companions, a BOT alternate setting beside UAS
 * (taken when UAS lacks its pipes or is turned off), UAS only, missing
 * endpoints and unsupported subclass/protocol pairs.
 *
 * The selection is a static function of lib/usb/backend.c, so the file is
 * included here with its external symbols renamed (the private
 * library linked beside it has the originals).
 */
#define ostori_usb_backend test_copy_usb_backend
#define ousb_backend_details test_copy_ousb_backend_details
#define ousb_backend_engines test_copy_ousb_backend_engines
#define ousb_backend_suspend test_copy_ousb_backend_suspend
#define ousb_backend_power test_copy_ousb_backend_power
#define ousb_backend_power_set test_copy_ousb_backend_power_set
#include "usb/backend.c"

#include <check.h>

#define EP_BULK_IN(n) { .bLength = 7, .bDescriptorType = 5, .bEndpointAddress = 0x80 | (n), \
			.bmAttributes = LIBUSB_TRANSFER_TYPE_BULK, .wMaxPacketSize = 512 }
#define EP_BULK_OUT(n) { .bLength = 7, .bDescriptorType = 5, .bEndpointAddress = (n), \
			 .bmAttributes = LIBUSB_TRANSFER_TYPE_BULK, .wMaxPacketSize = 512 }
#define EP_INTR_IN(n) { .bLength = 7, .bDescriptorType = 5, .bEndpointAddress = 0x80 | (n), \
			.bmAttributes = LIBUSB_TRANSFER_TYPE_INTERRUPT, .wMaxPacketSize = 2 }

static const struct libusb_endpoint_descriptor bot_eps[] = { EP_BULK_IN(1), EP_BULK_OUT(2) };
static const struct libusb_endpoint_descriptor bot_eps2[] = { EP_BULK_IN(3), EP_BULK_OUT(4) };
static const struct libusb_endpoint_descriptor cbi_eps[] = { EP_BULK_IN(5), EP_BULK_OUT(6), EP_INTR_IN(7) };
static const struct libusb_endpoint_descriptor uas_eps[] = { EP_BULK_IN(1), EP_BULK_OUT(2), EP_BULK_IN(3),
							      EP_BULK_OUT(4) };
static const struct libusb_endpoint_descriptor only_in[] = { EP_BULK_IN(1) };
/* UAS as QEMU's usb-uas at SuperSpeed: each pipe's Pipe Usage descriptor,
 * the status and data pipes with a companion offering 2^4 streams. */
static const unsigned char pu_cmd[] = { 4, 0x24, 1, 0 };
static const unsigned char pu_status[] = { 6, 0x30, 15, 4, 0, 0, 4, 0x24, 2, 0 };
static const unsigned char pu_din[] = { 6, 0x30, 15, 4, 0, 0, 4, 0x24, 3, 0 };
static const unsigned char pu_dout[] = { 6, 0x30, 15, 2, 0, 0, 4, 0x24, 4, 0 };
/* a Pipe Usage descriptor claiming more bytes than there are */
static const unsigned char pu_broken[] = { 9, 0x24, 3, 0 };
#define EP_UAS(addr, pu) { .bLength = 7, .bDescriptorType = 5, .bEndpointAddress = (addr), \
			   .bmAttributes = LIBUSB_TRANSFER_TYPE_BULK, .wMaxPacketSize = 1024, \
			   .extra = (pu), .extra_length = (int)sizeof(pu) }
static const struct libusb_endpoint_descriptor uas_piped[] = {
	EP_UAS(0x01, pu_cmd), EP_UAS(0x82, pu_status), EP_UAS(0x83, pu_din), EP_UAS(0x04, pu_dout) };
static const struct libusb_endpoint_descriptor uas_broken[] = {
	EP_UAS(0x01, pu_cmd), EP_UAS(0x82, pu_status), EP_UAS(0x83, pu_broken), EP_UAS(0x04, pu_dout) };

#define IFACE(num, alt, cls, sub, proto, eps) { \
	.bLength = 9, .bDescriptorType = 4, .bInterfaceNumber = (num), .bAlternateSetting = (alt), \
	.bNumEndpoints = (uint8_t)(sizeof(eps) / sizeof((eps)[0])), .bInterfaceClass = (cls), \
	.bInterfaceSubClass = (sub), .bInterfaceProtocol = (proto), .endpoint = (eps) }

static ostor_context *ctx;
static ostor_device fake_dev;
static struct usb_dev *ud;
static char logged[2048];

static void capture(ostor_context *c, enum ostor_log_level level, const char *fn, const char *msg, void *u)
{
	size_t n = strlen(logged);

	snprintf(logged + n, sizeof(logged) - n, "%s\n", msg);
}

static void setup(void)
{
	ck_assert_int_eq(ostor_init(&ctx, ""), 0);
	ostor_set_log_callback(ctx, capture, NULL, NULL);
	ostor_set_log_level(ctx, OSTOR_LOG_INFO);
	memset(&fake_dev, 0, sizeof(fake_dev));
	fake_dev.ctx = ctx;
	fake_dev.spec = (char *)"usb:9.9";
	ud = calloc(1, sizeof(*ud));
	ud->dev = &fake_dev;
	logged[0] = '\0';
}

static void teardown(void)
{
	free(ud);
	ostor_exit(ctx);
}

static int pick(const struct libusb_interface *itfs, int n)
{
	struct libusb_config_descriptor cfg = { .bNumInterfaces = (uint8_t)n, .interface = itfs };

	return pick_interfaces(&fake_dev, ud, &cfg, true, "");
}

static int pick_no_uas(const struct libusb_interface *itfs, int n)
{
	struct libusb_config_descriptor cfg = { .bNumInterfaces = (uint8_t)n, .interface = itfs };

	return pick_interfaces(&fake_dev, ud, &cfg, false, "quirk no-uas");
}

START_TEST(composite_takes_the_mass_storage_interface)
{
	/* HID at interface 0, mass storage at interface 1 */
	static const struct libusb_interface_descriptor hid[] = { IFACE(0, 0, 3, 1, 1, only_in) };
	static const struct libusb_interface_descriptor msc[] = { IFACE(1, 0, 8, 6, 0x50, bot_eps) };
	const struct libusb_interface itfs[] = { { hid, 1 }, { msc, 1 } };

	ck_assert_int_eq(pick(itfs, 2), 0);
	ck_assert_int_eq(ud->nintf, 1);
	ck_assert_uint_eq(ud->intf[0].iface, 1);
	ck_assert_uint_eq(ud->intf[0].ep_in, 0x81);
	ck_assert_uint_eq(ud->intf[0].ep_out, 0x02);
	ck_assert_uint_eq(ud->intf[0].mps_in, 512);
}
END_TEST

START_TEST(several_interfaces_become_targets_in_order)
{
	/* descriptors list interface 4 before interface 2: targets follow
	 * interface numbers, and a CBI interface keeps its interrupt pipe */
	static const struct libusb_interface_descriptor a[] = { IFACE(4, 0, 8, 4, 0x00, cbi_eps) };
	static const struct libusb_interface_descriptor b[] = { IFACE(2, 0, 8, 6, 0x50, bot_eps2) };
	const struct libusb_interface itfs[] = { { a, 1 }, { b, 1 } };

	ck_assert_int_eq(pick(itfs, 2), 0);
	ck_assert_int_eq(ud->nintf, 2);
	ck_assert_uint_eq(ud->intf[0].iface, 2);
	ck_assert_uint_eq(ud->intf[0].ep_in, 0x83);
	ck_assert_uint_eq(ud->intf[1].iface, 4);
	ck_assert_uint_eq(ud->intf[1].ep_intr, 0x87);
}
END_TEST

START_TEST(uas_with_its_pipes_is_taken)
{
	static const struct libusb_interface_descriptor alts[] = {
		IFACE(0, 0, 8, 6, 0x50, bot_eps),
		IFACE(0, 1, 8, 6, 0x62, uas_piped),
	};
	const struct libusb_interface itfs[] = { { alts, 2 } };

	ck_assert_int_eq(pick(itfs, 1), 0);
	ck_assert_int_eq(ud->nintf, 1);
	ck_assert(ud->intf[0].uas);
	ck_assert_uint_eq(ud->intf[0].alt, 1);
	ck_assert_uint_eq(ud->intf[0].nalts, 2);
	ck_assert_uint_eq(ud->intf[0].ep_cmd, 0x01);
	ck_assert_uint_eq(ud->intf[0].ep_status, 0x82);
	ck_assert_uint_eq(ud->intf[0].ep_in, 0x83);
	ck_assert_uint_eq(ud->intf[0].ep_out, 0x04);
	/* the smallest of the three pipes' stream exponents */
	ck_assert_uint_eq(ud->intf[0].max_streams_exp, 2);
}
END_TEST

START_TEST(uas_beside_bot_falls_back_to_bot)
{
	static const struct libusb_interface_descriptor alts[] = {
		IFACE(0, 0, 8, 6, 0x62, uas_eps),   /* UAS first, as some bridges do, without Pipe Usage */
		IFACE(0, 1, 8, 6, 0x50, bot_eps),
	};
	static const struct libusb_interface_descriptor good[] = {
		IFACE(0, 0, 8, 6, 0x62, uas_piped),
		IFACE(0, 1, 8, 6, 0x50, bot_eps),
	};
	const struct libusb_interface itfs[] = { { alts, 2 } };
	const struct libusb_interface itfs2[] = { { good, 2 } };

	ck_assert_int_eq(pick(itfs, 1), 0);
	ck_assert_int_eq(ud->nintf, 1);
	ck_assert(!ud->intf[0].uas);
	ck_assert_uint_eq(ud->intf[0].alt, 1);
	ck_assert_ptr_nonnull(strstr(logged, "lacks its four pipes"));
	/* turned off (quirk, configuration, spec): Bulk-Only though UAS works */
	logged[0] = '\0';
	ck_assert_int_eq(pick_no_uas(itfs2, 1), 0);
	ck_assert(!ud->intf[0].uas);
	ck_assert_uint_eq(ud->intf[0].alt, 1);
	ck_assert_ptr_nonnull(strstr(logged, "UAS not used (quirk no-uas); using Bulk-Only alternate setting 1"));
}
END_TEST

START_TEST(uas_only_is_refused_clearly)
{
	static const struct libusb_interface_descriptor alts[] = { IFACE(0, 0, 8, 6, 0x62, uas_eps) };
	static const struct libusb_interface_descriptor broken[] = { IFACE(0, 0, 8, 6, 0x62, uas_broken) };
	static const struct libusb_interface_descriptor good[] = { IFACE(0, 0, 8, 6, 0x62, uas_piped) };
	const struct libusb_interface itfs[] = { { alts, 1 } };
	const struct libusb_interface itfs2[] = { { broken, 1 } };
	const struct libusb_interface itfs3[] = { { good, 1 } };

	ck_assert_int_eq(pick(itfs, 1), OSTOR_ERROR_PROTOCOL);
	ck_assert_ptr_nonnull(strstr(ostor_last_error(), "only UAS"));
	ck_assert_ptr_nonnull(strstr(ostor_last_error(), "Pipe Usage"));
	ck_assert_int_eq(ud->nintf, 0);
	ck_assert_int_eq(pick(itfs2, 1), OSTOR_ERROR_PROTOCOL);
	ck_assert_int_eq(pick_no_uas(itfs3, 1), OSTOR_ERROR_NOT_SUPPORTED);
	ck_assert_ptr_nonnull(strstr(ostor_last_error(), "UAS is turned off (quirk no-uas)"));
}
END_TEST

START_TEST(missing_endpoints)
{
	/* BOT without bulk-out, CBI without its interrupt pipe */
	static const struct libusb_interface_descriptor bot[] = { IFACE(0, 0, 8, 6, 0x50, only_in) };
	static const struct libusb_interface_descriptor cbi[] = { IFACE(1, 0, 8, 4, 0x00, bot_eps) };
	static const struct libusb_interface_descriptor good[] = { IFACE(2, 0, 8, 6, 0x50, bot_eps2) };
	const struct libusb_interface broken[] = { { bot, 1 }, { cbi, 1 } };
	const struct libusb_interface mixed[] = { { bot, 1 }, { cbi, 1 }, { good, 1 } };

	ck_assert_int_eq(pick(broken, 2), OSTOR_ERROR_PROTOCOL);
	ck_assert_ptr_nonnull(strstr(ostor_last_error(), "lacks the bulk"));
	/* when another interface works, the broken ones are skipped */
	ck_assert_int_eq(pick(mixed, 3), 0);
	ck_assert_int_eq(ud->nintf, 1);
	ck_assert_uint_eq(ud->intf[0].iface, 2);
}
END_TEST

START_TEST(unsupported_and_absent)
{
	static const struct libusb_interface_descriptor odd[] = { IFACE(0, 0, 8, 0x42, 0x77, bot_eps) };
	static const struct libusb_interface_descriptor hid[] = { IFACE(0, 0, 3, 1, 1, only_in) };
	const struct libusb_interface a[] = { { odd, 1 } };
	const struct libusb_interface b[] = { { hid, 1 } };

	ck_assert_int_eq(pick(a, 1), OSTOR_ERROR_NOT_SUPPORTED);
	ck_assert_ptr_nonnull(strstr(ostor_last_error(), "subclass 42h and protocol 77h"));
	ck_assert_int_eq(pick(b, 1), OSTOR_ERROR_NOT_FOUND);
	ck_assert_int_eq(pick(b, 0), OSTOR_ERROR_NOT_FOUND);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("usb-descriptors");
	TCase *tc = tcase_create("pick");
	SRunner *sr;
	int failed;

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, composite_takes_the_mass_storage_interface);
	tcase_add_test(tc, several_interfaces_become_targets_in_order);
	tcase_add_test(tc, uas_with_its_pipes_is_taken);
	tcase_add_test(tc, uas_beside_bot_falls_back_to_bot);
	tcase_add_test(tc, uas_only_is_refused_clearly);
	tcase_add_test(tc, missing_endpoints);
	tcase_add_test(tc, unsupported_and_absent);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
