/*
 * lib/virtio/pci_bind.c - handing a virtio-scsi PCI function to
 * vfio-pci or uio_pci_generic and back to virtio-pci, with the in-use
 * checks (mounts, swap, holders) and, for VFIO, the IOMMU group's.
 */
#include "virtio/pci.h"
#include "virtio/spec.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#define VIRTIO_VENDOR 0x1af4
#define VIRTIO_SCSI_MODERN 0x1048
#define VIRTIO_SCSI_TRANSITIONAL 0x1004

extern char **environ;

/* ---- sysfs helpers ----------------------------------------------------------------------------- */

static int sysfs_write(const char *path, const char *text)
{
	int fd = open(path, O_WRONLY | O_CLOEXEC);
	ssize_t n;

	if (fd < 0)
		return -errno;
	n = write(fd, text, strlen(text));
	n = n < 0 ? -errno : 0;
	close(fd);
	return (int)n;
}

void pci_binding_of(const char *sysfs, char *out, size_t len)
{
	char path[160], link[PATH_MAX];
	ssize_t n;
	const char *base;

	snprintf(path, sizeof(path), "%s/driver", sysfs);
	n = readlink(path, link, sizeof(link) - 1);
	if (n < 0) {
		snprintf(out, len, "none");
		return;
	}
	link[n] = '\0';
	base = strrchr(link, '/') ? strrchr(link, '/') + 1 : link;
	snprintf(out, len, "%s", base);
}

/* Find the block devices (sdX) below a PCI function in sysfs. */
void pci_find_disks(const char *dir, int depth, char names[][32], int *n, int max)
{
	DIR *d;
	struct dirent *e;

	if (depth > 8 || !(d = opendir(dir)))
		return;
	while ((e = readdir(d)) && *n < max) {
		char sub[PATH_MAX];

		if (e->d_name[0] == '.' || e->d_type == DT_LNK)
			continue;
		if (snprintf(sub, sizeof(sub), "%s/%s", dir, e->d_name) >= (int)sizeof(sub))
			continue;
		if (!strcmp(e->d_name, "block")) {
			DIR *b = opendir(sub);
			struct dirent *be;

			while (b && (be = readdir(b)) && *n < max)
				if (be->d_name[0] != '.' && strlen(be->d_name) < 32)
					memcpy(names[(*n)++], be->d_name, strlen(be->d_name) + 1);
			if (b)
				closedir(b);
			continue;
		}
		if (e->d_type == DT_DIR)
			pci_find_disks(sub, depth + 1, names, n, max);
	}
	closedir(d);
}

static bool file_mentions(const char *path, const char *dev)
{
	FILE *f = fopen(path, "re");
	char line[512];
	size_t l = strlen(dev);
	bool hit = false;

	if (!f)
		return false;
	while (!hit && fgets(line, sizeof(line), f))
		/* "/dev/sda" or "/dev/sda1" at the start of a line */
		hit = !strncmp(line, dev, l) && (line[l] == ' ' || line[l] == '\t' ||
						  (line[l] >= '0' && line[l] <= '9') || line[l] == 'p');
	fclose(f);
	return hit;
}

static bool has_holders(const char *disk)
{
	char path[PATH_MAX];
	DIR *d;
	struct dirent *e;
	bool any = false;

	snprintf(path, sizeof(path), "/sys/block/%s/holders", disk);
	if ((d = opendir(path))) {
		while ((e = readdir(d)))
			any |= e->d_name[0] != '.';
		closedir(d);
	}
	/* partitions: /sys/block/sdX/sdXN/holders */
	snprintf(path, sizeof(path), "/sys/block/%s", disk);
	if (!any && (d = opendir(path))) {
		while (!any && (e = readdir(d))) {
			char hp[PATH_MAX];
			DIR *h;
			struct dirent *he;

			if (strncmp(e->d_name, disk, strlen(disk)))
				continue;
			snprintf(hp, sizeof(hp), "/sys/block/%s/%s/holders", disk, e->d_name);
			if ((h = opendir(hp))) {
				while ((he = readdir(h)))
					any |= he->d_name[0] != '.';
				closedir(h);
			}
		}
		closedir(d);
	}
	return any;
}

static int normalise_addr(const char *in, char *out, size_t len)
{
	struct ostor_spec s;
	char spec[64];

	snprintf(spec, sizeof(spec), "virtio:%s", in ? in : "");
	if (ostori_spec_parse(spec, &s) < 0)
		return OSTOR_ERROR_BAD_SPEC;
	snprintf(out, len, "%04x:%02x:%02x.%x", ovirtio_spec(&s)->domain, ovirtio_spec(&s)->bus,
		 ovirtio_spec(&s)->dev, ovirtio_spec(&s)->func);
	return 0;
}

int pci_check_virtio_scsi(const char *sysfs, const char *addr)
{
	char path[160], buf[16] = "";
	FILE *f;
	unsigned long ven = 0, devid = 0;

	snprintf(path, sizeof(path), "%s/vendor", sysfs);
	if ((f = fopen(path, "re"))) {
		if (fgets(buf, sizeof(buf), f))
			ven = strtoul(buf, NULL, 16);
		fclose(f);
	} else {
		return ostori_error(OSTOR_ERROR_NOT_FOUND, "no PCI function %s (%s missing); lspci -D lists them",
				    addr, sysfs);
	}
	snprintf(path, sizeof(path), "%s/device", sysfs);
	if ((f = fopen(path, "re"))) {
		if (fgets(buf, sizeof(buf), f))
			devid = strtoul(buf, NULL, 16);
		fclose(f);
	}
	if (ven != VIRTIO_VENDOR || (devid != VIRTIO_SCSI_MODERN && devid != VIRTIO_SCSI_TRANSITIONAL))
		return ostori_error(OSTOR_ERROR_NOT_FOUND, "PCI function %s is %04lx:%04lx, not a virtio-scsi "
				    "controller (1af4:1048 or 1af4:1004)", addr, ven, devid);
	return 0;
}

int pci_run_modprobe(const char *module)
{
	char *argv[] = { (char *)"modprobe", (char *)"-q", (char *)module, NULL };
	pid_t pid;
	int st;

	if (posix_spawnp(&pid, "modprobe", NULL, NULL, argv, environ))
		return -1;
	if (waitpid(pid, &st, 0) < 0 || !WIFEXITED(st) || WEXITSTATUS(st))
		return -1;
	return 0;
}

static int rebind(const char *addr, const char *sysfs, const char *driver)
{
	char path[160];
	int r;

	snprintf(path, sizeof(path), "%s/driver_override", sysfs);
	if ((r = sysfs_write(path, driver ? driver : "\n")) < 0)
		return ostori_error(r == -EACCES || r == -EPERM ? OSTOR_ERROR_ACCESS : OSTOR_ERROR_IO,
				    "cannot write %s: %s (root needed)", path, strerror(-r));
	snprintf(path, sizeof(path), "%s/driver/unbind", sysfs);
	r = sysfs_write(path, addr);
	if (r < 0 && r != -ENOENT)
		return ostori_error(OSTOR_ERROR_IO, "cannot unbind %s from its driver: %s", addr, strerror(-r));
	if ((r = sysfs_write("/sys/bus/pci/drivers_probe", addr)) < 0)
		return ostori_error(OSTOR_ERROR_IO, "cannot probe drivers for %s: %s", addr, strerror(-r));
	return 0;
}

int pci_iommu_group(const char *sysfs)
{
	char path[160], link[PATH_MAX];
	ssize_t n;
	const char *base;

	snprintf(path, sizeof(path), "%s/iommu_group", sysfs);
	n = readlink(path, link, sizeof(link) - 1);
	if (n < 0)
		return -1;
	link[n] = '\0';
	base = strrchr(link, '/') ? strrchr(link, '/') + 1 : link;
	return atoi(base);
}

/* VFIO hands out a group only when every device in it is bound to a VFIO
 * driver, pci-stub, a PCIe port, or nothing. */
static int check_group_viable(const char *addr, int group)
{
	char path[96], why[512] = "";
	size_t w = 0;
	struct dirent *e;
	DIR *d;

	snprintf(path, sizeof(path), "/sys/kernel/iommu_groups/%d/devices", group);
	if (!(d = opendir(path)))
		return 0;
	while ((e = readdir(d))) {
		char sys[320], bound[64];

		if (e->d_name[0] == '.' || !strcmp(e->d_name, addr))
			continue;
		snprintf(sys, sizeof(sys), "/sys/bus/pci/devices/%s", e->d_name);
		pci_binding_of(sys, bound, sizeof(bound));
		if (strcmp(bound, "none") && strcmp(bound, "vfio-pci") && strcmp(bound, "pci-stub") &&
		    strcmp(bound, "pcieport") && w < sizeof(why))
			w += (size_t)snprintf(why + w, sizeof(why) - w, "%s%s (%s)", w ? ", " : "", e->d_name,
					      bound);
	}
	closedir(d);
	if (w)
		return ostori_error(OSTOR_ERROR_BUSY,
				    "%s shares IOMMU group %d with devices that are bound to other drivers: %s; "
				    "VFIO gives a group only when all its devices are free: bind them to vfio-pci "
				    "too or unbind them (echo ADDR > /sys/bus/pci/devices/ADDR/driver/unbind), "
				    "or use --driver uio_pci_generic", addr, group, why);
	return 0;
}

static const char *default_driver(const char *sysfs)
{
	return pci_iommu_group(sysfs) >= 0 ? "vfio-pci" : "uio_pci_generic";
}

OSTOR_API int ostor_virtio_pci_bind_driver(ostor_context *ctx, const char *pci_address, const char *driver,
					   int force)
{
	char addr[16], sysfs[96], bound[64], disks[64][32], why[512] = "", drvdir[96];
	int n = 0, r, group;
	size_t w = 0;
	bool vfio;

	if (normalise_addr(pci_address, addr, sizeof(addr)) < 0)
		return ostori_error(OSTOR_ERROR_BAD_SPEC, "bad PCI address '%s': use [DDDD:]BB:DD.F as lspci -D "
				    "prints it", pci_address ? pci_address : "");
	snprintf(sysfs, sizeof(sysfs), "/sys/bus/pci/devices/%s", addr);
	if ((r = pci_check_virtio_scsi(sysfs, addr)) < 0)
		return r;
	if (!driver || !*driver)
		driver = default_driver(sysfs);
	if (strcmp(driver, "vfio-pci") && strcmp(driver, "uio_pci_generic"))
		return ostori_error(OSTOR_ERROR_INVALID_PARAM, "unknown driver '%s': use vfio-pci or "
				    "uio_pci_generic", driver);
	vfio = !strcmp(driver, "vfio-pci");
	group = pci_iommu_group(sysfs);
	pci_binding_of(sysfs, bound, sizeof(bound));
	if (!strcmp(bound, driver))
		return vfio && group >= 0 ? check_group_viable(addr, group) : 0;
	pci_find_disks(sysfs, 0, disks, &n, 64);
	for (int i = 0; i < n; i++) {
		char dev[48];

		snprintf(dev, sizeof(dev), "/dev/%.*s", (int)sizeof(disks[i]) - 1, disks[i]);
		if (file_mentions("/proc/mounts", dev) && w < sizeof(why))
			w += (size_t)snprintf(why + w, sizeof(why) - w, "%s%s is mounted", w ? "; " : "", dev);
		if (file_mentions("/proc/swaps", dev) && w < sizeof(why))
			w += (size_t)snprintf(why + w, sizeof(why) - w, "%s%s is used as swap", w ? "; " : "", dev);
		if (has_holders(disks[i]) && w < sizeof(why))
			w += (size_t)snprintf(why + w, sizeof(why) - w, "%s%s is held by another block device "
					      "(RAID, LVM, dm)", w ? "; " : "", dev);
	}
	if (w && !force)
		return ostori_error(OSTOR_ERROR_BUSY, "refusing to take %s from %s: %s; unmount/swapoff/"
				    "deactivate first, or force it (data loss likely)", addr, bound, why);
	if (w)
		ostor_warn(ctx, "taking %s although %s (forced)", addr, why);
	if (vfio && group >= 0 && (r = check_group_viable(addr, group)) < 0)
		return r;
	snprintf(drvdir, sizeof(drvdir), "/sys/bus/pci/drivers/%s", driver);
	if (access(drvdir, F_OK) && pci_run_modprobe(vfio ? "vfio-pci" : "uio_pci_generic") < 0)
		return ostori_error(OSTOR_ERROR_NOT_SUPPORTED,
				    "the %s kernel module is not available: install it (linux-modules-extra on "
				    "some distributions) and run 'modprobe %s'", driver,
				    vfio ? "vfio-pci" : "uio_pci_generic");
	/* Without an IOMMU vfio-pci takes the function only in the unsafe
	 * no-IOMMU mode; find out before taking it from its driver. */
	if (vfio && group < 0) {
		char mode[8] = "";
		FILE *f = fopen("/sys/module/vfio/parameters/enable_unsafe_noiommu_mode", "re");

		if (f) {
			if (!fgets(mode, sizeof(mode), f))
				mode[0] = '\0';
			fclose(f);
		}
		if (mode[0] != 'Y')
			return ostori_error(OSTOR_ERROR_NOT_SUPPORTED,
					    "%s has no IOMMU group (no IOMMU is active), so vfio-pci cannot take it%s; "
					    "turn the IOMMU on (intel_iommu=on or amd_iommu=on on the kernel command "
					    "line) or use --driver uio_pci_generic; %s was left with %s", addr,
					    f ? " unless vfio is loaded with enable_unsafe_noiommu_mode=1 (no DMA "
						"protection)" : " (this kernel's vfio has no no-IOMMU mode)",
					    addr, bound);
		ostor_warn(ctx, "%s has no IOMMU group: vfio-pci offers it in no-IOMMU mode, which gives no "
			   "DMA protection", addr);
	}
	if ((r = rebind(addr, sysfs, driver)) < 0)
		return r;
	pci_binding_of(sysfs, bound, sizeof(bound));
	if (strcmp(bound, driver))
		return ostori_error(OSTOR_ERROR_IO, "%s is bound to %s after the rebind, not %s (see dmesg%s)",
				    addr, bound, driver,
				    vfio ? ": vfio-pci needs an IOMMU group, or no-IOMMU mode enabled" :
				    ": uio_pci_generic refuses devices without INTx");
	return 0;
}

OSTOR_API int ostor_virtio_pci_bind(ostor_context *ctx, const char *pci_address, int force)
{
	return ostor_virtio_pci_bind_driver(ctx, pci_address, NULL, force);
}

OSTOR_API int ostor_virtio_pci_unbind(ostor_context *ctx, const char *pci_address)
{
	char addr[16], sysfs[96], bound[64];
	int r;

	if (normalise_addr(pci_address, addr, sizeof(addr)) < 0)
		return ostori_error(OSTOR_ERROR_BAD_SPEC, "bad PCI address '%s'", pci_address ? pci_address : "");
	snprintf(sysfs, sizeof(sysfs), "/sys/bus/pci/devices/%s", addr);
	if ((r = pci_check_virtio_scsi(sysfs, addr)) < 0)
		return r;
	if (access("/sys/bus/pci/drivers/virtio-pci", F_OK))
		pci_run_modprobe("virtio_pci");
	if ((r = rebind(addr, sysfs, NULL)) < 0)
		return r;
	pci_binding_of(sysfs, bound, sizeof(bound));
	if (strcmp(bound, "virtio-pci"))
		return ostori_error(OSTOR_ERROR_IO, "%s is bound to %s, not virtio-pci, after giving it back",
				    addr, bound);
	return 0;
}

