/* virtio-net on a unix stream socket (passt), a unix datagram socket (gvproxy) or a tap device. */
#ifndef KILN_VIRTIO_NET_H
#define KILN_VIRTIO_NET_H

#include "vmm/config.h"

struct vm;

/* Open the backend and add the device; -errno with the reason logged. */
int virtio_net_create(struct vm *vm, const struct vm_net *cfg, unsigned index);

#endif
