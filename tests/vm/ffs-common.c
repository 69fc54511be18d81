/*
 * tests/vm/ffs-common.c - Linux FunctionFS plumbing shared by the USB
 * mass-storage device models of the QEMU guest tests (see ffs-common.h).
 */
#include "ffs-common.h"

#ifdef FFS_HAVE_FUNCTIONFS
#include <endian.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

volatile sig_atomic_t ffs_stop;
const char *ffs_prog = "ffs-device";
bool ffs_verbose;

void ffs_log(const char *fmt, ...)
{
	va_list ap;

	if (!ffs_verbose)
		return;
	va_start(ap, fmt);
	fprintf(stderr, "%s: ", ffs_prog);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
}

static void on_term(int sig)
{
	(void)sig;
	ffs_stop = 1;
}

static void on_alarm(int sig)
{
	(void)sig;
}

void ffs_signals(void)
{
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_term;        /* no SA_RESTART: blocking I/O returns */
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	sa.sa_handler = on_alarm;
	sigaction(SIGALRM, &sa, NULL);
}

/* ---- descriptors ----------------------------------------------------- */

void ffs_put(struct ffs_dbuf *db, const void *p, size_t n)
{
	if (db->n + n > sizeof(db->b)) {
		fprintf(stderr, "%s: descriptor buffer too small\n", ffs_prog);
		exit(1);
	}
	memcpy(db->b + db->n, p, n);
	db->n += n;
}

static void put_le32(struct ffs_dbuf *db, uint32_t v)
{
	uint32_t le = htole32(v);

	ffs_put(db, &le, 4);
}

static void patch_len(struct ffs_dbuf *db)
{
	uint32_t le = htole32((uint32_t)db->n);

	memcpy(db->b + 4, &le, 4);
}

void ffs_put_bulk_pair(struct ffs_dbuf *db, bool hs)
{
	struct usb_endpoint_descriptor_no_audio ep = {
		.bLength = sizeof(ep),
		.bDescriptorType = USB_DT_ENDPOINT,
		.bmAttributes = USB_ENDPOINT_XFER_BULK,
		.wMaxPacketSize = htole16(hs ? 512 : 64),
	};

	ep.bEndpointAddress = 1 | USB_DIR_IN;
	ffs_put(db, &ep, sizeof(ep));
	ep.bEndpointAddress = 2 | USB_DIR_OUT;
	ffs_put(db, &ep, sizeof(ep));
}

int ffs_write_descriptors(int ep0, const struct ffs_dbuf *fs, const struct ffs_dbuf *hs,
			  uint32_t count, const char *name)
{
	struct ffs_dbuf db = { .n = 0 }, sb = { .n = 0 };
	uint16_t lang = htole16(0x0409);

	put_le32(&db, FUNCTIONFS_DESCRIPTORS_MAGIC_V2);
	put_le32(&db, 0);       /* length, patched below */
	put_le32(&db, FUNCTIONFS_HAS_FS_DESC | FUNCTIONFS_HAS_HS_DESC);
	put_le32(&db, count);
	put_le32(&db, count);
	ffs_put(&db, fs->b, fs->n);
	ffs_put(&db, hs->b, hs->n);
	patch_len(&db);
	if (write(ep0, db.b, db.n) != (ssize_t)db.n) {
		fprintf(stderr, "%s: writing the descriptors to ep0: %s\n", ffs_prog, strerror(errno));
		return -1;
	}
	put_le32(&sb, FUNCTIONFS_STRINGS_MAGIC);
	put_le32(&sb, 0);
	put_le32(&sb, 1);       /* strings */
	put_le32(&sb, 1);       /* languages */
	ffs_put(&sb, &lang, 2);
	ffs_put(&sb, name, strlen(name) + 1);
	patch_len(&sb);
	if (write(ep0, sb.b, sb.n) != (ssize_t)sb.n) {
		fprintf(stderr, "%s: writing the strings to ep0: %s\n", ffs_prog, strerror(errno));
		return -1;
	}
	return 0;
}

int ffs_open_ep(const char *dir, const char *name)
{
	char path[4096];
	int fd;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	fd = open(path, O_RDWR);
	if (fd < 0)
		fprintf(stderr, "%s: open %s: %s\n", ffs_prog, path, strerror(errno));
	return fd;
}

/* ---- endpoint I/O ----------------------------------------------------- */

ssize_t ffs_io(int fd, bool rd, void *p, size_t n, unsigned int timeout_s, unsigned long *timeouts)
{
	ssize_t r;

	alarm(timeout_s);
	r = rd ? read(fd, p, n) : write(fd, p, n);
	alarm(0);
	if (r < 0 && errno == EINTR && !ffs_stop && timeout_s && timeouts)
		(*timeouts)++;
	return r;
}

int ffs_send(int fd, const uint8_t *p, size_t n, unsigned long *timeouts)
{
	size_t off = 0;

	do {
		size_t k = n - off < FFS_CHUNK ? n - off : FFS_CHUNK;
		ssize_t r = ffs_io(fd, false, (void *)(p + off), k, FFS_EP_TIMEOUT_S, timeouts);

		if (r != (ssize_t)k) {
			ffs_log("bulk-in write of %zu bytes: %zd (%s)", k, r, r < 0 ? strerror(errno) : "short");
			return -1;
		}
		off += k;
	} while (off < n);
	return 0;
}

ssize_t ffs_recv(int fd, uint8_t *p, size_t n, unsigned long *timeouts)
{
	size_t off = 0;

	while (off < n) {
		size_t k = n - off < FFS_CHUNK ? n - off : FFS_CHUNK;
		ssize_t r = ffs_io(fd, true, p + off, k, FFS_EP_TIMEOUT_S, timeouts);

		if (r < 0) {
			ffs_log("bulk-out read: %s", strerror(errno));
			return -1;
		}
		off += (size_t)r;
		if ((size_t)r < k)
			break;  /* short packet: the host sent less */
	}
	return (ssize_t)off;
}

void ffs_halt(int fd, bool in_ep)
{
	uint8_t x = 0;

	if (in_ep)
		(void)!read(fd, &x, 1);
	else
		(void)!write(fd, &x, 1);
}

void ffs_stall_setup(int ep0, const struct usb_ctrlrequest *s)
{
	uint8_t x = 0;

	if (s->bRequestType & USB_DIR_IN)
		(void)!read(ep0, &x, 0);
	else
		(void)!write(ep0, &x, 0);
}

void ffs_ack_setup(int ep0)
{
	uint8_t x = 0;

	(void)!read(ep0, &x, 0);
}

size_t ffs_ep_mps(int fd, size_t dflt)
{
	struct usb_endpoint_descriptor desc;

	memset(&desc, 0, sizeof(desc));
	if (ioctl(fd, FUNCTIONFS_ENDPOINT_DESC, &desc) == 0 && le16toh(desc.wMaxPacketSize))
		return le16toh(desc.wMaxPacketSize) & 0x7ff;
	return dflt;
}

/* ---- the sim disk --------------------------------------------------------- */

struct sim_target *ffs_sim_disk(const char *image, uint32_t block_size, struct sim_lu_config *cfg,
				int *img)
{
	struct sim_target *t;
	struct stat st;

	*img = open(image, O_RDWR);
	if (*img < 0 || fstat(*img, &st) || st.st_size < (off_t)block_size) {
		fprintf(stderr, "%s: image %s: %s\n", ffs_prog, image, *img < 0 ? strerror(errno) : "too small");
		return NULL;
	}
	t = sim_target_new();
	if (!t) {
		fprintf(stderr, "%s: %s\n", ffs_prog, ostor_last_error());
		return NULL;
	}
	cfg->type = OSTOR_TYPE_DISK;
	cfg->block_size = block_size;
	cfg->blocks = (uint64_t)st.st_size / block_size;
	cfg->fd = *img;
	if (sim_target_add_lu(t, 0, cfg)) {
		fprintf(stderr, "%s: %s\n", ffs_prog, ostor_last_error());
		sim_target_free(t);
		return NULL;
	}
	return t;
}

#endif /* FFS_HAVE_FUNCTIONFS */
