#ifndef KILN_VIRTIO_RNG_H
#define KILN_VIRTIO_RNG_H

struct vm;

/* virtio-rng fed from the host's getrandom(). */
int virtio_rng_create(struct vm *vm);

#endif
