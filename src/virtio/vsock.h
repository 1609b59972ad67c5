#ifndef KILN_VIRTIO_VSOCK_H
#define KILN_VIRTIO_VSOCK_H

#include "virtio/vsock_mux.h"

struct vm;

/*
 * virtio-vsock, guest CID 3, with guest ports mapped to host unix sockets
 * (see struct vsock_rule). The sockets the VMM listens on are created here,
 * replacing a stale socket file, and removed when the VM ends.
 */
int virtio_vsock_create(struct vm *vm, const struct vsock_rule *rules, unsigned nrules);

#endif
