/*
 * tests/vm/ffs-cbi-device.c - a USB mass-storage CBI or CB device model on
 * Linux FunctionFS, for the QEMU guest tests (t-usb-ours-ffs.sh).
 *
 * Inside the guest, a configfs gadget with an "ffs" function runs on
 * dummy_hcd; this program is that function's userspace half.  It writes
 * the descriptors of one interface of class 08h (subclass UFI or SCSI
 * transparent; protocol 00h CBI: bulk-in, bulk-out, interrupt-in, or 01h
 * CB: no interrupt endpoint), then serves the class requests that reach
 * ep0 (ADSC carries the command block), executes each CDB on a struct
 * sim_target backed by an image file, moves the data on the bulk
 * endpoints and, for CBI, sends the 2-byte interrupt status.  The host
 * side (liborionstor over libusb/usbfs, or the kernel's usb-storage) sees
 * a real USB device on the guest's own bus, so CB/CBI travel through real
 * control, bulk and interrupt transfers.
 *
 *   ffs-cbi-device [-p cbi|cb] [-s ufi|scsi] [-v] FFS_MOUNTPOINT IMAGE
 *
 * The data phase direction and length are derived from the CDB, as a real
 * CB/CBI device must (the protocol carries no transfer length).  With
 * subclass UFI, operation codes outside the UFI command set (MODE SENSE(6),
 * SYNCHRONIZE CACHE, REPORT LUNS, ...) fail with INVALID COMMAND OPERATION
 * CODE, as on a real UFI drive.  A
 * data-in command that fails stalls bulk-in (the host then reads no
 * interrupt status and asks REQUEST SENSE); a short data-in ending on a
 * packet boundary is ended with a zero-length packet.  Command Block Reset
 * (SEND DIAGNOSTIC 1D 04 FF..) resets the target (unit attention 29h/00h
 * follows, which for UFI the interrupt status reports as ASC/ASCQ).  Every
 * endpoint transfer has a 10-second limit, so a host that gives up on a
 * phase never wedges the model.  Counters go to stderr at exit (SIGTERM).
 * The FunctionFS plumbing is ffs-common.c, shared with ffs-bot-device.c.
 */
#include "ffs-common.h"

#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#ifdef FFS_HAVE_FUNCTIONFS
#include <endian.h>

#define BUF_SIZE (16u << 20)    /* largest data phase served */
#define REQ_ADSC 0x00

enum { PR_CBI = 0x00, PR_CB = 0x01 };
enum { SC_UFI = 0x04, SC_SCSI = 0x06 };

struct dev {
	int ep0, ep_in, ep_out, ep_intr;
	int protocol, subclass;
	struct sim_target *t;
	uint32_t block_size;
	size_t mps;             /* bulk-in max packet size at the current speed */
	uint8_t *buf;
	unsigned long commands, rejected, adscs, resets, stalls, intr_sent, zlps, timeouts, failed;
};

/* ---- descriptors ----------------------------------------------------- */

static void put_intf_set(struct ffs_dbuf *db, const struct dev *d, bool hs)
{
	struct usb_interface_descriptor intf = {
		.bLength = sizeof(intf),
		.bDescriptorType = USB_DT_INTERFACE,
		.bNumEndpoints = d->protocol == PR_CBI ? 3 : 2,
		.bInterfaceClass = USB_CLASS_MASS_STORAGE,
		.bInterfaceSubClass = (uint8_t)d->subclass,
		.bInterfaceProtocol = (uint8_t)d->protocol,
		.iInterface = 1,
	};
	struct usb_endpoint_descriptor_no_audio ep = {
		.bLength = sizeof(ep),
		.bDescriptorType = USB_DT_ENDPOINT,
	};

	ffs_put(db, &intf, sizeof(intf));
	ffs_put_bulk_pair(db, hs);
	if (d->protocol == PR_CBI) {
		ep.bEndpointAddress = 3 | USB_DIR_IN;
		ep.bmAttributes = USB_ENDPOINT_XFER_INT;
		ep.wMaxPacketSize = htole16(2);
		ep.bInterval = hs ? 4 : 1;      /* 1 ms at either speed */
		ffs_put(db, &ep, sizeof(ep));
	}
}

static int write_descriptors(const struct dev *d)
{
	struct ffs_dbuf fs = { .n = 0 }, hs = { .n = 0 };

	put_intf_set(&fs, d, false);
	put_intf_set(&hs, d, true);
	return ffs_write_descriptors(d->ep0, &fs, &hs, d->protocol == PR_CBI ? 4 : 3,
				     d->protocol == PR_CBI ? "orionstor FunctionFS CBI" : "orionstor FunctionFS CB");
}

/* ---- commands ----------------------------------------------------------- */

/* Direction of the data phase, from the operation code: 'i', 'o', 'n'.
 * Unknown commands have none (the target then rejects them). */
static char cdb_dir(const uint8_t *cdb)
{
	switch (cdb[0]) {
	case 0x03: case 0x12: case 0x1a: case 0x5a: case 0x25: case 0x9e: case 0x28:
	case 0xa8: case 0x88: case 0x08: case 0xa0: case 0x23: case 0x3c: case 0x4d:
	case 0x37: case 0x43: case 0x46: case 0x4a: case 0x51: case 0xa3:
		return 'i';
	case 0x0a: case 0x2a: case 0xaa: case 0x8a: case 0x2e: case 0xae: case 0x8e:
	case 0x15: case 0x55: case 0x42: case 0x41: case 0x93: case 0x3b:
		return 'o';
	case 0x1d:
		return ffs_be16(cdb + 3) ? 'o' : 'n';
	default:
		return 'n';
	}
}

/* Bytes the command moves (allocation or transfer length). */
static size_t cdb_len_bytes(const uint8_t *cdb, size_t bs)
{
	switch (cdb[0]) {
	case 0x03: case 0x12: return cdb[0] == 0x12 ? ffs_be16(cdb + 3) : cdb[4];
	case 0x1a: case 0x15: return cdb[4];
	case 0x5a: case 0x55: case 0x42: case 0x23: case 0x4d: case 0x46: case 0x4a:
	case 0x51: case 0x43: case 0x3c: case 0x37:
		return ffs_be16(cdb + 7);
	case 0x25: return 8;
	case 0x9e: case 0x8a: case 0x8e: case 0x88:
		if (cdb[0] == 0x9e)
			return ffs_be32(cdb + 10);
		return (size_t)ffs_be32(cdb + 10) * bs;
	case 0xa0: case 0xa3: return ffs_be32(cdb + 6);
	case 0x08: case 0x0a: return (cdb[4] ? cdb[4] : 256) * bs;
	case 0x28: case 0x2a: case 0x2e: return ffs_be16(cdb + 7) * bs;
	case 0xa8: case 0xaa: case 0xae: return (size_t)ffs_be32(cdb + 6) * bs;
	case 0x41: case 0x93: return bs;
	case 0x1d: return ffs_be16(cdb + 3);
	case 0x3b: return (size_t)cdb[6] << 16 | ffs_be16(cdb + 7);
	default: return 0;
	}
}

/* The UFI command set (UFI 1.0, section 4); a UFI device knows no other. */
static bool ufi_opcode(uint8_t op)
{
	static const uint8_t ops[] = {
		0x00, 0x01, 0x03, 0x04, 0x12, 0x1b, 0x1d, 0x1e, 0x23, 0x25, 0x28, 0x2a,
		0x2b, 0x2e, 0x2f, 0x55, 0x5a, 0xa8, 0xaa,
	};

	for (size_t i = 0; i < sizeof(ops); i++)
		if (ops[i] == op)
			return true;
	return false;
}

static void run(struct dev *d, const uint8_t *cdb, size_t cdb_len, int dir, size_t len,
		struct sim_cmd *c)
{
	struct iovec iov = { .iov_base = d->buf, .iov_len = len };

	memset(c, 0, sizeof(*c));
	/* The LUN field of SCSI-2 and UFI command blocks (CB/CBI have no
	 * other): the kernel scans LUNs 1-7 of CB/CBI devices this way, and
	 * the target answers for an absent LUN as SPC says. */
	c->lun = cdb[1] >> 5;
	c->cdb = cdb;
	c->cdb_len = cdb_len;
	c->dir = len ? dir : OSTOR_DIR_NONE;
	c->iov = len ? &iov : NULL;
	c->iovcnt = len ? 1 : 0;
	sim_target_execute(d->t, c);
	if (c->status)
		d->failed++;
}

static void send_status(struct dev *d, const struct sim_cmd *c)
{
	uint8_t st[2] = { 0, 0 };

	if (d->protocol != PR_CBI)
		return;
	if (d->subclass == SC_UFI) {
		/* UFI: the interrupt data is ASC/ASCQ. */
		if (c->status) {
			st[0] = c->sense_len >= 14 && c->sense[12] ? c->sense[12] : 0x44;
			st[1] = c->sense_len >= 14 ? c->sense[13] : 0;
		}
	} else {
		st[1] = c->status ? 1 : 0;      /* bType 0, value: pass/fail */
	}
	if (ffs_io(d->ep_intr, false, st, 2, FFS_EP_TIMEOUT_S, &d->timeouts) != 2)
		ffs_log("interrupt status not taken: %s", strerror(errno));
	else
		d->intr_sent++;
}

static void command(struct dev *d, const uint8_t *cdb, size_t cdb_len)
{
	struct sim_cmd c;
	char dir = cdb_dir(cdb);
	size_t want = cdb_len_bytes(cdb, d->block_size);

	d->commands++;
	if (want == 0)
		dir = 'n';
	if (d->subclass == SC_UFI && !ufi_opcode(cdb[0])) {
		/* Like a real UFI device: INVALID COMMAND OPERATION CODE
		 * (the target holds the sense for REQUEST SENSE). */
		d->rejected++;
		sim_target_inject_check(d->t, 0, cdb[0], 1, 0x05, 0x20, 0x00);
	}
	if (want > BUF_SIZE) {
		/* Never happens with our tools; refuse loudly. */
		fprintf(stderr, "ffs-cbi-device: %zu-byte data phase for opcode %02xh is too big\n",
			want, cdb[0]);
		d->stalls++;
		ffs_halt(dir == 'i' ? d->ep_in : d->ep_out, dir == 'i');
		return;
	}
	if (dir == 'o') {
		ssize_t got = ffs_recv(d->ep_out, d->buf, want, &d->timeouts);

		if (got != (ssize_t)want) {
			ffs_log("opcode %02xh: got %zd of %zu data-out bytes", cdb[0], got, want);
			if (got < 0)
				return;
		}
		run(d, cdb, cdb_len, OSTOR_DIR_TO_DEVICE, (size_t)got, &c);
	} else if (dir == 'i') {
		run(d, cdb, cdb_len, OSTOR_DIR_FROM_DEVICE, want, &c);
		if (c.status) {
			/* The host's data phase ends with a stall; it reads no
			 * interrupt status and asks REQUEST SENSE. */
			ffs_halt(d->ep_in, true);
			d->stalls++;
			ffs_log("opcode %02xh failed (status %02xh): bulk-in stalled", cdb[0], c.status);
			return;
		}
		if (ffs_send(d->ep_in, d->buf, c.transferred, &d->timeouts))
			return;
		if (c.transferred < want && c.transferred % d->mps == 0) {
			d->zlps++;
			if (ffs_send(d->ep_in, d->buf, 0, &d->timeouts))
				return;
		}
	} else {
		run(d, cdb, cdb_len, OSTOR_DIR_NONE, 0, &c);
	}
	ffs_log("opcode %02xh: status %02xh, %zu bytes", cdb[0], c.status, c.transferred);
	send_status(d, &c);
}

static bool is_cb_reset(const uint8_t *p, size_t n)
{
	if (n < 12 || p[0] != 0x1d || p[1] != 0x04)
		return false;
	for (size_t i = 2; i < 12; i++)
		if (p[i] != 0xff)
			return false;
	return true;
}

/* ---- ep0 ---------------------------------------------------------------- */

static void setup(struct dev *d, const struct usb_ctrlrequest *s)
{
	uint16_t len = le16toh(s->wLength);
	uint8_t cdb[16] = { 0 };   /* zero past the ADSC: lengths may be read up to byte 13 */
	ssize_t r;

	ffs_log("setup %02x %02x %04x %04x %u", s->bRequestType, s->bRequest,
	     le16toh(s->wValue), le16toh(s->wIndex), len);
	if (s->bRequestType != (USB_DIR_OUT | USB_TYPE_CLASS | USB_RECIP_INTERFACE) ||
	    s->bRequest != REQ_ADSC || len == 0 || len > sizeof(cdb)) {
		/* Get Max LUN, Bulk-Only reset, ...: not ours. */
		d->stalls++;
		ffs_stall_setup(d->ep0, s);
		return;
	}
	/* Reading the data stage also completes the status stage. */
	r = read(d->ep0, cdb, len);
	if (r != len) {
		ffs_log("ADSC data stage: %zd (%s)", r, r < 0 ? strerror(errno) : "short");
		return;
	}
	d->adscs++;
	if (is_cb_reset(cdb, len)) {
		d->resets++;
		sim_target_reset(d->t);
		ffs_log("Command Block Reset");
		return;
	}
	command(d, cdb, len);
}

static int serve(struct dev *d)
{
	struct usb_functionfs_event ev[4];

	while (!ffs_stop) {
		ssize_t r = read(d->ep0, ev, sizeof(ev));

		if (r < 0) {
			if (errno == EINTR)
				continue;
			perror("ffs-cbi-device: reading ep0 events");
			return -1;
		}
		for (size_t i = 0; i < (size_t)r / sizeof(ev[0]); i++) {
			switch (ev[i].type) {
			case FUNCTIONFS_ENABLE:
				d->mps = ffs_ep_mps(d->ep_in, d->mps);
				ffs_log("enabled, bulk max packet %zu", d->mps);
				break;
			case FUNCTIONFS_SETUP:
				setup(d, &ev[i].u.setup);
				break;
			case FUNCTIONFS_BIND:
			case FUNCTIONFS_UNBIND:
			case FUNCTIONFS_DISABLE:
			case FUNCTIONFS_SUSPEND:
			case FUNCTIONFS_RESUME:
				ffs_log("event %u", ev[i].type);
				break;
			default:
				break;
			}
		}
	}
	return 0;
}

static void usage(void)
{
	fprintf(stderr, "usage: ffs-cbi-device [-p cbi|cb] [-s ufi|scsi] [-v] FFS_MOUNTPOINT IMAGE\n");
	exit(2);
}

int main(int argc, char **argv)
{
	struct dev d = { .ep0 = -1, .ep_in = -1, .ep_out = -1, .ep_intr = -1,
			 .protocol = PR_CBI, .subclass = SC_UFI, .mps = 512, .block_size = 512 };
	struct sim_lu_config cfg;
	int opt, img, rc;

	ffs_prog = "ffs-cbi-device";
	while ((opt = getopt(argc, argv, "p:s:v")) != -1) {
		switch (opt) {
		case 'p':
			if (!strcmp(optarg, "cbi"))
				d.protocol = PR_CBI;
			else if (!strcmp(optarg, "cb"))
				d.protocol = PR_CB;
			else
				usage();
			break;
		case 's':
			if (!strcmp(optarg, "ufi"))
				d.subclass = SC_UFI;
			else if (!strcmp(optarg, "scsi"))
				d.subclass = SC_SCSI;
			else
				usage();
			break;
		case 'v':
			ffs_verbose = true;
			break;
		default:
			usage();
		}
	}
	if (argc - optind != 2)
		usage();

	sim_lu_config_init(&cfg);
	cfg.removable = d.subclass == SC_UFI;
	cfg.max_transfer = 256;
	cfg.vendor = "ORIONSTR";
	cfg.product = d.protocol == PR_CBI ? "FFS CBI DISK" : "FFS CB DISK";
	cfg.serial = d.protocol == PR_CBI ? "FFSCBI0001" : "FFSCB0001";
	d.t = ffs_sim_disk(argv[optind + 1], d.block_size, &cfg, &img);
	if (!d.t)
		return 1;
	d.buf = malloc(BUF_SIZE);
	if (!d.buf) {
		fprintf(stderr, "ffs-cbi-device: out of memory\n");
		return 1;
	}
	ffs_signals();

	d.ep0 = ffs_open_ep(argv[optind], "ep0");
	if (d.ep0 < 0 || write_descriptors(&d))
		return 1;
	d.ep_in = ffs_open_ep(argv[optind], "ep1");
	d.ep_out = ffs_open_ep(argv[optind], "ep2");
	if (d.ep_in < 0 || d.ep_out < 0)
		return 1;
	if (d.protocol == PR_CBI) {
		d.ep_intr = ffs_open_ep(argv[optind], "ep3");
		if (d.ep_intr < 0)
			return 1;
	}
	fprintf(stderr, "ffs-cbi-device: %s, subclass %02xh, protocol %02xh, %llu blocks: ready\n",
		argv[optind], d.subclass, d.protocol, (unsigned long long)cfg.blocks);
	rc = serve(&d);
	fprintf(stderr, "ffs-cbi-device: %lu ADSCs, %lu commands (%lu failed, %lu not UFI), %lu Command Block Resets, "
		"%lu stalls, %lu interrupt reports, %lu ZLPs, %lu endpoint timeouts\n",
		d.adscs, d.commands, d.failed, d.rejected, d.resets, d.stalls, d.intr_sent, d.zlps, d.timeouts);
	if (d.ep_intr >= 0)
		close(d.ep_intr);
	close(d.ep_out);
	close(d.ep_in);
	close(d.ep0);
	sim_target_free(d.t);
	free(d.buf);
	close(img);
	return rc ? 1 : 0;
}

#else /* !FFS_HAVE_FUNCTIONFS */

int main(void)
{
	fprintf(stderr, "ffs-cbi-device: needs Linux FunctionFS (<linux/usb/functionfs.h>)\n");
	return 77;
}

#endif
