/*
 * tests/vm/ffs-common.h - Linux FunctionFS plumbing shared by the USB
 * mass-storage device models of the QEMU guest tests (ffs-cbi-device.c:
 * CB/CBI, ffs-bot-device.c: Bulk-Only): descriptor and string blocks for
 * ep0, endpoint transfers with a time limit, endpoint halts, and the sim
 * target's disk LU over an image file.
 *
 * Only built where <linux/usb/functionfs.h> exists (FFS_HAVE_FUNCTIONFS).
 */
#ifndef ORIONSTOR_TESTS_VM_FFS_COMMON_H
#define ORIONSTOR_TESTS_VM_FFS_COMMON_H

#if defined(__linux__) && defined(__has_include)
#if __has_include(<linux/usb/functionfs.h>)
#define FFS_HAVE_FUNCTIONFS 1
#endif
#endif

#ifdef FFS_HAVE_FUNCTIONFS
#include "sim/target.h"

#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <linux/usb/ch9.h>
#include <linux/usb/functionfs.h>

#define FFS_EP_TIMEOUT_S 10     /* per endpoint transfer */
#define FFS_CHUNK (64u << 10)   /* bytes per endpoint read/write */

/* Set by SIGTERM/SIGINT (ffs_signals); blocking I/O then returns EINTR. */
extern volatile sig_atomic_t ffs_stop;
/* The program's name for messages; ffs_verbose enables ffs_log(). */
extern const char *ffs_prog;
extern bool ffs_verbose;

void ffs_log(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* SIGTERM/SIGINT set ffs_stop, SIGALRM only interrupts (no SA_RESTART). */
void ffs_signals(void);

/* A growing descriptor block. */
struct ffs_dbuf {
	uint8_t b[512];
	size_t n;
};
void ffs_put(struct ffs_dbuf *db, const void *p, size_t n);

/* Bulk endpoint descriptor: ep 1 IN, ep 2 OUT (the models' layout). */
void ffs_put_bulk_pair(struct ffs_dbuf *db, bool hs);

/* Writes the descriptors (full and high speed interface blocks of
 * `count` descriptors each) and the one string (iInterface 1) to ep0. */
int ffs_write_descriptors(int ep0, const struct ffs_dbuf *fs, const struct ffs_dbuf *hs,
			  uint32_t count, const char *name);

int ffs_open_ep(const char *dir, const char *name);

/* One transfer limited to FFS_EP_TIMEOUT_S (the signal makes FunctionFS
 * dequeue the request, so nothing stays queued behind the host's back);
 * *timeouts counts the expired ones.  timeout_s 0: no limit. */
ssize_t ffs_io(int fd, bool rd, void *p, size_t n, unsigned int timeout_s, unsigned long *timeouts);
/* All n bytes to an IN endpoint in FFS_CHUNK pieces (n 0: a zero-length
 * packet); 0 or -1. */
int ffs_send(int fd, const uint8_t *p, size_t n, unsigned long *timeouts);
/* Up to n bytes from an OUT endpoint, ending early on a short packet;
 * bytes read or -1. */
ssize_t ffs_recv(int fd, uint8_t *p, size_t n, unsigned long *timeouts);

/* Halt an endpoint: FunctionFS stalls it on I/O in the wrong direction. */
void ffs_halt(int fd, bool in_ep);
/* Stall a control request on ep0. */
void ffs_stall_setup(int ep0, const struct usb_ctrlrequest *s);
/* Completes an OUT control request without data stage (status stage). */
void ffs_ack_setup(int ep0);

/* wMaxPacketSize of an enabled endpoint, else `dflt`. */
size_t ffs_ep_mps(int fd, size_t dflt);

/* A target with one disk LU 0 on the image file (cfg prepared by the
 * caller apart from type, block size, blocks and fd); NULL on error
 * (message printed).  *img receives the fd to close. */
struct sim_target *ffs_sim_disk(const char *image, uint32_t block_size, struct sim_lu_config *cfg,
				int *img);

static inline uint32_t ffs_be16(const uint8_t *p)
{
	return (uint32_t)p[0] << 8 | p[1];
}

static inline uint32_t ffs_be32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

#endif /* FFS_HAVE_FUNCTIONFS */
#endif
