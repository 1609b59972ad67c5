#ifndef KILN_VIRTIO_FS_H
#define KILN_VIRTIO_FS_H

#include "fs/fuse_server.h"

struct vm;

/*
 * virtio-fs: a FUSE server (fs/fuse_server.c) behind a high-priority queue
 * (FORGET, INTERRUPT) and one request queue served by a pool of threads.
 * cfg->path is the shared directory; tag is what the guest mounts.
 */
int virtio_fs_create(struct vm *vm, const char *tag, const struct fuse_server_config *cfg);

#endif
