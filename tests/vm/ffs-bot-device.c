/*
 * tests/vm/ffs-bot-device.c - a USB mass-storage Bulk-Only Transport
 * device model on Linux FunctionFS, for the QEMU guest tests
 * (t-usb-ffs-bot.sh, t-smart.sh).
 *
 * Like ffs-cbi-device.c (same gadget set-up in the guest, same FunctionFS
 * plumbing in ffs-common.c), but one interface of class 08h, subclass 06h
 * (SCSI transparent), protocol 50h (Bulk-Only): bulk-in and bulk-out.
 * The host sends a 31-byte CBW on bulk-out, the data phase follows on the
 * endpoint the CBW's direction names, and the device answers with a
 * 13-byte CSW on bulk-in.  ep0 serves Get Max LUN (FEh) and Bulk-Only
 * Mass Storage Reset (FFh) on a thread of its own, since the bulk
 * endpoints block.  Each CDB runs on a struct sim_target (one disk LU on
 * an image file; -a adds the sim's ATA disk behind a SAT or JMicron
 * bridge, so smartctl -d sat and orionstor smart have something to read).
 *
 *   ffs-bot-device [-a sat|jmicron] [-f FAULT[+FAULT...]] [-i] [-s SERIAL]
 *                  [-t CELSIUS] [-v] [-w OPCODE] FFS_MOUNTPOINT IMAGE
 *
 *   -a   ATA model (sim_lu_config.ata); INQUIRY is then the bridge's
 *   -f   ATA faults: failing, prefail, no-registers, no-pt16, no-pt12
 *   -i   informational exception 5Dh/00h pending (SCSI health failing)
 *   -s   the LU's serial number (VPD 80h; with -a also the ATA disk's);
 *        default FFSBOT0001
 *   -t   temperature the sim reports
 *   -w   a command with this operation code (hex) never gets its CSW: the
 *        host's timeout and reset recovery are all that end it
 *
 * The thirteen cases of BOT 1.0 section 6.7, as this model meets them
 * (Hx: what the CBW expects, Dx: what the command moves):
 *   Hn=Dn, Hi=Di, Ho=Do: the transfer, CSW with residue 0.
 *   Hi>Di, Hi>Dn (4, 5): the data the command has (ending in a short
 *     packet), then bulk-in is halted; CSW with residue Hi-Di.
 *   Ho>Do, Ho>Dn (9, 11): all of the host's data is accepted (the spec's
 *     other choice); CSW with residue Ho-Do.
 *   Hn<Di, Hi<Di (2, 7): Hi bytes at most, CSW phase error (02h).
 *   Hn<Do, Ho<Do, Hi<>Do, Ho<>Di (3, 8, 10, 13): the target refuses a
 *     command whose buffer or direction disagrees with the CDB before
 *     touching the medium: CHECK CONDITION, ILLEGAL REQUEST (a failed CSW,
 *     bulk-in halted if the host expected data), not a phase error.
 * A CBW that is not valid (length, signature) or not meaningful (LUN,
 * CDB length, a data phase larger than the model's 16 MiB buffer) halts
 * both bulk endpoints until the host's reset recovery (Bulk-Only reset,
 * then CLEAR_FEATURE(HALT) on both, which dummy_hcd's UDC does itself).
 * A Bulk-Only reset aborts nothing the model is in (the host only sends
 * one between commands or after a phase that a 10-second endpoint limit
 * ends anyway) and leaves the target's state alone, as f_mass_storage
 * and QEMU's usb-storage do.  Counters go to stderr at exit (SIGTERM).
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
#include <pthread.h>

#define BUF_SIZE (16u << 20)    /* largest data phase served */
#define CBW_SIG 0x43425355u     /* "USBC" */
#define CSW_SIG 0x53425355u     /* "USBS" */
#define CBW_LEN 31
#define CSW_LEN 13
#define CBW_FLAG_IN 0x80
#define REQ_GET_MAX_LUN 0xfe
#define REQ_BOT_RESET 0xff

enum { CSW_GOOD = 0, CSW_FAILED = 1, CSW_PHASE_ERROR = 2 };

struct dev {
	int ep0, ep_in, ep_out;
	struct sim_target *t;
	size_t mps;             /* bulk max packet size at the current speed */
	uint8_t *buf;
	/* ep0 thread */
	unsigned long max_lun_requests, resets, ep0_stalls, enables;
	/* bulk (main) thread */
	unsigned long cbws, bad_cbws, failed, phase_errors, stalls, short_in, timeouts, withheld;
	int withhold;           /* -w: opcode whose CSW is never sent, or -1 */
};

/* ---- descriptors ----------------------------------------------------- */

static void put_intf_set(struct ffs_dbuf *db, bool hs)
{
	struct usb_interface_descriptor intf = {
		.bLength = sizeof(intf),
		.bDescriptorType = USB_DT_INTERFACE,
		.bNumEndpoints = 2,
		.bInterfaceClass = USB_CLASS_MASS_STORAGE,
		.bInterfaceSubClass = 0x06,     /* SCSI transparent */
		.bInterfaceProtocol = 0x50,     /* Bulk-Only */
		.iInterface = 1,
	};

	ffs_put(db, &intf, sizeof(intf));
	ffs_put_bulk_pair(db, hs);
}

/* ---- ep0 (its own thread) --------------------------------------------- */

static void setup(struct dev *d, const struct usb_ctrlrequest *s)
{
	uint16_t len = le16toh(s->wLength), val = le16toh(s->wValue);

	ffs_log("setup %02x %02x %04x %04x %u", s->bRequestType, s->bRequest, val,
		le16toh(s->wIndex), len);
	if (s->bRequestType == (USB_DIR_IN | USB_TYPE_CLASS | USB_RECIP_INTERFACE) &&
	    s->bRequest == REQ_GET_MAX_LUN && val == 0 && len == 1) {
		uint8_t max_lun = 0;

		d->max_lun_requests++;
		if (write(d->ep0, &max_lun, 1) != 1)
			ffs_log("Get Max LUN: %s", strerror(errno));
		return;
	}
	if (s->bRequestType == (USB_DIR_OUT | USB_TYPE_CLASS | USB_RECIP_INTERFACE) &&
	    s->bRequest == REQ_BOT_RESET && val == 0 && len == 0) {
		d->resets++;
		ffs_ack_setup(d->ep0);
		ffs_log("Bulk-Only Mass Storage Reset");
		return;
	}
	d->ep0_stalls++;
	ffs_stall_setup(d->ep0, s);
}

static void *serve_ep0(void *arg)
{
	struct dev *d = arg;
	struct usb_functionfs_event ev[4];

	for (;;) {
		ssize_t r = read(d->ep0, ev, sizeof(ev));

		if (r < 0) {
			if (errno == EINTR)
				continue;
			perror("ffs-bot-device: reading ep0 events");
			return NULL;
		}
		for (size_t i = 0; i < (size_t)r / sizeof(ev[0]); i++) {
			switch (ev[i].type) {
			case FUNCTIONFS_ENABLE:
				d->enables++;
				ffs_log("enabled");
				break;
			case FUNCTIONFS_SETUP:
				setup(d, &ev[i].u.setup);
				break;
			default:
				ffs_log("event %u", ev[i].type);
				break;
			}
		}
	}
}

/* ---- bulk: CBW, data, CSW --------------------------------------------- */

static void send_csw(struct dev *d, uint32_t tag, uint32_t residue, uint8_t status)
{
	uint8_t csw[CSW_LEN];
	uint32_t le;

	le = htole32(CSW_SIG);
	memcpy(csw, &le, 4);
	le = htole32(tag);
	memcpy(csw + 4, &le, 4);
	le = htole32(residue);
	memcpy(csw + 8, &le, 4);
	csw[12] = status;
	if (ffs_io(d->ep_in, false, csw, CSW_LEN, FFS_EP_TIMEOUT_S, &d->timeouts) != CSW_LEN)
		ffs_log("CSW not taken: %s", strerror(errno));
}

static void stall_in(struct dev *d)
{
	d->stalls++;
	ffs_halt(d->ep_in, true);
}

static void command(struct dev *d, const uint8_t *cbw)
{
	uint32_t tag, len;
	const uint8_t *cdb = cbw + 15;
	bool in = cbw[12] & CBW_FLAG_IN;
	struct iovec iov;
	struct sim_cmd c;
	uint8_t status;

	memcpy(&tag, cbw + 4, 4);
	memcpy(&len, cbw + 8, 4);
	tag = le32toh(tag);
	len = le32toh(len);
	memset(&c, 0, sizeof(c));
	c.lun = cbw[13] & 0x0f;
	c.cdb = cdb;
	c.cdb_len = cbw[14] & 0x1f;
	c.dir = len ? (in ? OSTOR_DIR_FROM_DEVICE : OSTOR_DIR_TO_DEVICE) : OSTOR_DIR_NONE;
	iov.iov_base = d->buf;
	iov.iov_len = len;
	c.iov = len ? &iov : NULL;
	c.iovcnt = len ? 1 : 0;

	if (len && !in) {
		/* Ho: take everything the host sends (cases 9, 11). */
		ssize_t got = ffs_recv(d->ep_out, d->buf, len, &d->timeouts);

		if (got < 0)
			return;         /* the host's reset recovery follows */
		if ((uint32_t)got != len) {
			/* The host ended its data early: not a BOT host. */
			ffs_log("opcode %02xh: got %zd of %u data-out bytes", cdb[0], got, len);
			iov.iov_len = (size_t)got;
		}
	}
	sim_target_execute(d->t, &c);
	if (c.status)
		d->failed++;
	status = c.status ? CSW_FAILED : CSW_GOOD;
	if (c.overrun) {
		/* The command has more than the host asked for (Hn<Di,
		 * Hi<Di): what fits, then a phase error. */
		d->phase_errors++;
		status = CSW_PHASE_ERROR;
	}
	if (len && in) {
		size_t n = c.status ? 0 : c.transferred;

		if (n && ffs_send(d->ep_in, d->buf, n, &d->timeouts))
			return;
		if (n < len) {
			/* Hi>Di: the short packet (if any) ends the data, the
			 * halt tells the host no more comes. */
			d->short_in++;
			stall_in(d);
		}
	}
	ffs_log("CBW %u: opcode %02xh %s %u: status %02xh, %zu bytes, CSW %u", tag, cdb[0],
		len ? (in ? "in" : "out") : "none", len, c.status, c.transferred, status);
	if (cdb[0] == d->withhold) {
		d->withheld++;
		ffs_log("CBW %u: CSW withheld (-w)", tag);
		return;
	}
	send_csw(d, tag, c.transferred < len ? len - (uint32_t)c.transferred : 0, status);
}

static bool cbw_ok(const uint8_t *cbw, ssize_t n)
{
	uint32_t sig, len;

	if (n != CBW_LEN)
		return false;
	memcpy(&sig, cbw, 4);
	memcpy(&len, cbw + 8, 4);
	return le32toh(sig) == CBW_SIG && (cbw[13] & 0x0f) == 0 && (cbw[14] & 0x1f) >= 1 &&
	       (cbw[14] & 0x1f) <= 16 && le32toh(len) <= BUF_SIZE;
}

static void serve_bulk(struct dev *d)
{
	uint8_t cbw[1024];

	while (!ffs_stop) {
		/* Any size up to a packet: the CBW is a short packet. */
		ssize_t r = ffs_io(d->ep_out, true, cbw, sizeof(cbw), 0, NULL);

		if (r < 0) {
			if (errno != EINTR)
				ffs_log("waiting for a CBW: %s", strerror(errno));
			continue;       /* disabled, reset: wait for the next one */
		}
		if (!cbw_ok(cbw, r)) {
			d->bad_cbws++;
			ffs_log("invalid CBW (%zd bytes): both endpoints halted", r);
			d->stalls += 2;
			ffs_halt(d->ep_in, true);
			ffs_halt(d->ep_out, false);
			continue;
		}
		d->cbws++;
		command(d, cbw);
	}
}

/* ---- main ----------------------------------------------------------------- */

static const struct {
	const char *name;
	unsigned int bit;
} faults[] = {
	{ "failing", SIM_ATA_FAULT_FAILING },
	{ "prefail", SIM_ATA_FAULT_PREFAIL },
	{ "no-registers", SIM_ATA_FAULT_NO_REGISTERS },
	{ "no-pt16", SIM_ATA_FAULT_NO_PT16 },
	{ "no-pt12", SIM_ATA_FAULT_NO_PT12 },
};

static void usage(void)
{
	fprintf(stderr, "usage: ffs-bot-device [-a sat|jmicron] [-f FAULT[+FAULT...]] [-i] [-s SERIAL] [-t CELSIUS] [-v] "
		"[-w OPCODE] FFS_MOUNTPOINT IMAGE\n");
	exit(2);
}

static unsigned int parse_faults(char *s)
{
	unsigned int bits = 0;

	for (char *tok = strtok(s, "+"); tok; tok = strtok(NULL, "+")) {
		size_t i;

		for (i = 0; i < sizeof(faults) / sizeof(faults[0]); i++)
			if (!strcmp(tok, faults[i].name))
				break;
		if (i == sizeof(faults) / sizeof(faults[0]))
			usage();
		bits |= faults[i].bit;
	}
	return bits;
}

int main(int argc, char **argv)
{
	struct dev d = { .ep0 = -1, .ep_in = -1, .ep_out = -1, .mps = 512, .withhold = -1 };
	struct sim_lu_config cfg;
	pthread_t ep0_thread;
	sigset_t block, old;
	int opt, img, err;

	ffs_prog = "ffs-bot-device";
	sim_lu_config_init(&cfg);
	cfg.max_transfer = 256;
	cfg.vendor = "ORIONSTR";
	cfg.product = "FFS BOT DISK";
	cfg.serial = "FFSBOT0001";
	while ((opt = getopt(argc, argv, "a:f:is:t:vw:")) != -1) {
		switch (opt) {
		case 'a':
			if (!strcmp(optarg, "sat"))
				cfg.ata = SIM_ATA_SAT;
			else if (!strcmp(optarg, "jmicron"))
				cfg.ata = SIM_ATA_JMICRON;
			else
				usage();
			/* the bridge's INQUIRY strings, the disk's serial */
			cfg.vendor = cfg.product = NULL;
			break;
		case 'f':
			cfg.ata_faults = parse_faults(optarg);
			break;
		case 'i':
			cfg.ie_failing = true;
			break;
		case 's':
			cfg.serial = optarg;
			break;
		case 't':
			cfg.temperature = (uint8_t)atoi(optarg);
			break;
		case 'v':
			ffs_verbose = true;
			break;
		case 'w':
			d.withhold = (int)strtol(optarg, NULL, 16) & 0xff;
			break;
		default:
			usage();
		}
	}
	if (argc - optind != 2 || (cfg.ata_faults && !cfg.ata))
		usage();

	d.t = ffs_sim_disk(argv[optind + 1], 512, &cfg, &img);
	if (!d.t)
		return 1;
	d.buf = malloc(BUF_SIZE);
	if (!d.buf) {
		fprintf(stderr, "ffs-bot-device: out of memory\n");
		return 1;
	}
	ffs_signals();

	d.ep0 = ffs_open_ep(argv[optind], "ep0");
	{
		struct ffs_dbuf fs = { .n = 0 }, hs = { .n = 0 };

		put_intf_set(&fs, false);
		put_intf_set(&hs, true);
		if (d.ep0 < 0 || ffs_write_descriptors(d.ep0, &fs, &hs, 3, "orionstor FunctionFS BOT"))
			return 1;
	}
	d.ep_in = ffs_open_ep(argv[optind], "ep1");
	d.ep_out = ffs_open_ep(argv[optind], "ep2");
	if (d.ep_in < 0 || d.ep_out < 0)
		return 1;
	/* The ep0 thread takes no signals: SIGTERM and the endpoint time
	 * limit's SIGALRM must interrupt the bulk thread. */
	sigemptyset(&block);
	sigaddset(&block, SIGTERM);
	sigaddset(&block, SIGINT);
	sigaddset(&block, SIGALRM);
	pthread_sigmask(SIG_BLOCK, &block, &old);
	err = pthread_create(&ep0_thread, NULL, serve_ep0, &d);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (err) {
		fprintf(stderr, "ffs-bot-device: pthread_create: %s\n", strerror(err));
		return 1;
	}
	fprintf(stderr, "ffs-bot-device: %s, %s, %llu blocks: ready\n", argv[optind],
		cfg.ata == SIM_ATA_SAT ? "ATA disk behind SAT" :
		cfg.ata == SIM_ATA_JMICRON ? "ATA disk behind JMicron" : "SCSI disk",
		(unsigned long long)cfg.blocks);
	serve_bulk(&d);
	/* The ep0 thread stays blocked in read(); exit ends it. */
	fprintf(stderr, "ffs-bot-device: %lu CBWs (%lu failed, %lu phase errors, %lu invalid), %lu short data-in, "
		"%lu stalls, %lu Get Max LUN, %lu Bulk-Only resets, %lu ep0 stalls, %lu enables, %lu endpoint timeouts, %lu CSWs withheld\n",
		d.cbws, d.failed, d.phase_errors, d.bad_cbws, d.short_in, d.stalls, d.max_lun_requests,
		d.resets, d.ep0_stalls, d.enables, d.timeouts, d.withheld);
	fflush(stderr);
	_exit(0);
}

#else /* !FFS_HAVE_FUNCTIONFS */

int main(void)
{
	fprintf(stderr, "ffs-bot-device: needs Linux FunctionFS (<linux/usb/functionfs.h>)\n");
	return 77;
}

#endif
