#ifndef KILN_VIRTIO_CONSOLE_H
#define KILN_VIRTIO_CONSOLE_H

struct vm;

/* The console port and up to three named ports: 4 ports, 10 queues. */
#define CONSOLE_MAX_PORTS 4

struct console_config {
	int in_fd, out_fd; /* the console port (hvc0); -1: none */
	/* Named ports krun-stdin/-stdout/-stderr on these fds; -1: no such port. */
	int stdin_fd, stdout_fd, stderr_fd;
};

/*
 * virtio-console: guest hvc0 on in_fd/out_fd, plus a named port per stdio
 * fd given. When in_fd is a terminal it is put in raw mode until the VM ends.
 */
int virtio_console_create(struct vm *vm, const struct console_config *cfg);

#endif
