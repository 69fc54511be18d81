/*
 * The usb: backend's choice of mass-storage interfaces and endpoints
 * (pick_interfaces in lib/usb/backend.c: interface and alternate setting
 * selection, Bulk-Only/CB/CBI endpoints, the UAS pipes from the Pipe
 * Usage descriptors and the stream exponents of the SuperSpeed
 * companions among each endpoint's extra descriptors).
 *
 * Byte 0: bit 0 allows UAS.  The rest is a configuration descriptor as a
 * device sends it, turned into libusb's structures the way libusb does:
 * interface descriptors (04h) with the same bInterfaceNumber in a row are
 * the alternate settings of one interface, endpoint descriptors (05h)
 * belong to the alternate setting before them, and every other
 * descriptor after an endpoint is that endpoint's extra (each extra in a
 * buffer of its exact size, so AddressSanitizer sees a read past it).
 *
 * The selection is a static function, so backend.c is included here with
 * its external symbols renamed, as tests/unit/test_usb_descriptors.c does.
 */
#define ostori_usb_backend fuzz_copy_usb_backend
#define ousb_backend_details fuzz_copy_ousb_backend_details
#define ousb_backend_engines fuzz_copy_ousb_backend_engines
#define ousb_backend_suspend fuzz_copy_ousb_backend_suspend
#define ousb_backend_power fuzz_copy_ousb_backend_power
#define ousb_backend_power_set fuzz_copy_ousb_backend_power_set
#include "usb/backend.c"

#include "fuzz.h"

#define MAX_ITFS 40
#define MAX_ALTS 8
#define MAX_EPS 32

static ostor_context *ctx;
static ostor_device fake_dev;
static struct usb_dev ud;

static struct libusb_interface itfs[MAX_ITFS];
static struct libusb_interface_descriptor alts[MAX_ITFS][MAX_ALTS];
static struct libusb_endpoint_descriptor eps[MAX_ITFS][MAX_ALTS][MAX_EPS];

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct libusb_config_descriptor cfg = { .bLength = 9, .bDescriptorType = 2, .interface = itfs };
	struct libusb_endpoint_descriptor *ep = NULL;
	const uint8_t *extra_start = NULL;
	int ni = -1, r;
	size_t off;
	bool allow_uas;

	if (!ctx) {
		setenv("ORIONSTOR_CONF", "/dev/null", 0);
		if (ostor_init(&ctx, "") < 0)
			abort();
		ostor_set_log_level(ctx, OSTOR_LOG_NONE);
		fake_dev.ctx = ctx;
		fake_dev.spec = (char *)"usb:9.9";
		ud.dev = &fake_dev;
	}
	if (size < 1)
		return 0;
	allow_uas = data[0] & 1;
	memset(itfs, 0, sizeof(itfs));
	memset(alts, 0, sizeof(alts));
	memset(eps, 0, sizeof(eps));

	/* Parse the descriptors; an extra runs from after its endpoint to
	 * the next endpoint or interface descriptor. */
#define END_EXTRA(at) do { \
		if (ep && extra_start && (at) > extra_start) { \
			size_t n_ = (size_t)((at) - extra_start); \
			unsigned char *x_ = malloc(n_); \
			if (!x_) \
				abort(); \
			memcpy(x_, extra_start, n_); \
			ep->extra = x_; \
			ep->extra_length = (int)n_; \
		} \
		extra_start = NULL; \
	} while (0)
	for (off = 1; off + 2 <= size;) {
		const uint8_t *d = data + off;
		uint8_t len = d[0], type = d[1];

		if (len < 2 || len > size - off)
			break;
		if (type == LIBUSB_DT_INTERFACE && len >= 9) {
			struct libusb_interface_descriptor *id;

			END_EXTRA(d);
			ep = NULL;
			if (ni < 0 || itfs[ni].num_altsetting == MAX_ALTS ||
			    alts[ni][0].bInterfaceNumber != d[2]) {
				if (ni + 1 == MAX_ITFS)
					break;
				ni++;
				itfs[ni].altsetting = alts[ni];
			}
			id = &alts[ni][itfs[ni].num_altsetting++];
			id->bLength = d[0];
			id->bDescriptorType = d[1];
			id->bInterfaceNumber = d[2];
			id->bAlternateSetting = d[3];
			id->bInterfaceClass = d[5];
			id->bInterfaceSubClass = d[6];
			id->bInterfaceProtocol = d[7];
			id->iInterface = d[8];
			id->endpoint = eps[ni][itfs[ni].num_altsetting - 1];
		} else if (type == LIBUSB_DT_ENDPOINT && len >= 7 && ni >= 0) {
			struct libusb_interface_descriptor *id = &alts[ni][itfs[ni].num_altsetting - 1];

			END_EXTRA(d);
			ep = NULL;
			if (id->bNumEndpoints < MAX_EPS) {
				ep = &eps[ni][itfs[ni].num_altsetting - 1][id->bNumEndpoints++];
				ep->bLength = d[0];
				ep->bDescriptorType = d[1];
				ep->bEndpointAddress = d[2];
				ep->bmAttributes = d[3];
				ep->wMaxPacketSize = (uint16_t)(d[4] | d[5] << 8);
				ep->bInterval = d[6];
				extra_start = d + len;
			}
		}
		off += len;
	}
	END_EXTRA(data + off);
	cfg.bNumInterfaces = (uint8_t)(ni + 1);

	memset(&ud, 0, sizeof(ud));
	ud.dev = &fake_dev;
	r = pick_interfaces(&fake_dev, &ud, &cfg, allow_uas, "fuzzing");
	SINK(r);
	if (r == 0 && (ud.nintf < 1 || ud.nintf > OUSB_MAX_TARGETS))
		__builtin_trap();
	if (r < 0 && ud.nintf)
		__builtin_trap();
	for (int i = 0; i < ud.nintf; i++) {
		const struct usb_intf *ui = &ud.intf[i];

		/* Every interface chosen has its pipes, in the right
		 * directions, and the targets follow interface numbers. */
		if (!(ui->ep_in & 0x80) || (ui->ep_out & 0x80) || !ui->ep_out)
			__builtin_trap();
		if (ui->uas && (!ui->ep_cmd || (ui->ep_cmd & 0x80) || !(ui->ep_status & 0x80) ||
				ui->max_streams_exp > 31 || !allow_uas))
			__builtin_trap();
		if (!ui->uas && ui->id->bInterfaceProtocol == OUSB_PR_CBI && !(ui->ep_intr & 0x80))
			__builtin_trap();
		if (i && ud.intf[i - 1].iface > ui->iface)
			__builtin_trap();
		SINK(ui->iface); SINK(ui->alt); SINK(ui->nalts); SINK(ui->mps_in); SINK(ui->mps_out);
		SINK(ui->ep_intr); SINK(ui->ep_status); SINK(ui->max_streams_exp);
	}
	for (int i = 0; i <= ni; i++)
		for (int k = 0; k < itfs[i].num_altsetting; k++)
			for (int j = 0; j < alts[i][k].bNumEndpoints; j++)
				free((void *)eps[i][k][j].extra);
	return 0;
}
