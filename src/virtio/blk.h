#ifndef KILN_VIRTIO_BLK_H
#define KILN_VIRTIO_BLK_H

#include <stdbool.h>

#include "disk/disk.h"

struct vm;

struct blk_config {
	const char *path; /* raw: regular file or block device; qcow2: regular file */
	enum disk_format format;
	bool read_only;
	/* GET_ID answer (first 20 bytes); NULL: derived from the file's identity. */
	const char *serial;
	/* Room for: sync mode (what FLUSH does). */
};

/*
 * virtio-blk over a disk image. Returns 0 or -errno (-ENOENT: no such file,
 * -EBUSY: image locked by another process, ...); the reason is also logged and,
 * when errmsg is not NULL, stored there as a static string.
 */
int virtio_blk_create(struct vm *vm, const struct blk_config *cfg, const char **errmsg);

#endif
