#ifndef KILN_VIRTIO_CONSOLE_H
#define KILN_VIRTIO_CONSOLE_H

struct vm;

/*
 * virtio-console (guest hvc0) on in_fd/out_fd. When in_fd is a terminal it is
 * put in raw mode until the VM ends.
 */
int virtio_console_create(struct vm *vm, int in_fd, int out_fd);

#endif
