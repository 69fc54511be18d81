/*
 * lib/virtio/pci_uio.c - a PCI function bound to uio_pci_generic: config
 * space through sysfs, INTx through /dev/uioN (read = wait, write 1 =
 * unmask), and the config-space helpers both access kinds share.
 */
#include "virtio/pci.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int pci_cfg_read(struct pci_dev *p, void *buf, size_t len, off_t off)
{
	return pread(p->cfg_fd, buf, len, p->cfg_off + off) == (ssize_t)len ? 0 : OSTOR_ERROR_IO;
}

int pci_cfg_write(struct pci_dev *p, const void *buf, size_t len, off_t off)
{
	return pwrite(p->cfg_fd, buf, len, p->cfg_off + off) == (ssize_t)len ? 0 : OSTOR_ERROR_IO;
}

int pci_enable_master(struct pci_dev *p)
{
	uint8_t cmd[2];

	if (pci_cfg_read(p, cmd, 2, 4) == 0) {
		cmd[0] |= 0x06;
		cmd[1] &= (uint8_t)~0x04;
		if (pci_cfg_write(p, cmd, 2, 4) < 0)
			return ostori_error(OSTOR_ERROR_IO, "%s: cannot enable bus mastering", p->addr);
	}
	return 0;
}

int pci_uio_open(struct pci_dev *p)
{
	char path[160];
	DIR *d;
	struct dirent *e;
	int n = -1;

	p->access = PCI_ACCESS_UIO;
	snprintf(path, sizeof(path), "%s/config", p->sysfs);
	p->cfg_fd = open(path, O_RDWR | O_CLOEXEC);
	if (p->cfg_fd < 0)
		return ostori_error(errno == EACCES ? OSTOR_ERROR_ACCESS : OSTOR_ERROR_IO,
				    "%s: cannot open %s: %s (root needed with uio_pci_generic; without root, "
				    "bind it to vfio-pci)", p->addr, path, strerror(errno));
	snprintf(path, sizeof(path), "%s/uio", p->sysfs);
	if ((d = opendir(path))) {
		while ((e = readdir(d)))
			if (!strncmp(e->d_name, "uio", 3))
				n = atoi(e->d_name + 3);
		closedir(d);
	}
	if (n < 0) {
		char bound[64];

		pci_binding_of(p->sysfs, bound, sizeof(bound));
		return ostori_error(OSTOR_ERROR_BUSY,
				    "%s is bound to %s, not vfio-pci or uio_pci_generic; hand it over first: "
				    "virtio-scsi-device-bind -d %s", p->addr, bound, p->addr);
	}
	snprintf(path, sizeof(path), "/dev/uio%d", n);
	p->uio_fd = open(path, O_RDWR | O_CLOEXEC | O_NONBLOCK);
	if (p->uio_fd < 0)
		return ostori_error(errno == EACCES ? OSTOR_ERROR_ACCESS : OSTOR_ERROR_IO,
				    "%s: cannot open %s: %s", p->addr, path, strerror(errno));
	p->irq = PCI_IRQ_INTX;
	p->nvec = 1;
	return pci_enable_master(p);
}
