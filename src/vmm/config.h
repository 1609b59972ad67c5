/* What a VM is made of: filled in by the API layer, consumed by vm_run(). */
#ifndef KILN_VMM_CONFIG_H
#define KILN_VMM_CONFIG_H

#include <stdbool.h>
#include <stdint.h>

#include <kiln.h>

#define VM_MAX_DISKS 16

struct vm_disk {
	char *id;
	char *path;
	bool read_only;
};

struct vm_config {
	unsigned ncpus;
	uint64_t mem_mib;
	char *kernel;
	char *initrd;
	char *cmdline; /* NULL: the default command line */
	struct vm_disk disks[VM_MAX_DISKS];
	unsigned ndisks;
	bool rng;
	bool console; /* virtio-console on console_in/console_out */
	int console_in, console_out;
	int serial_out; /* 8250 output, -1 to discard */
};

#define VM_DEFAULT_CMDLINE KILN_DEFAULT_CMDLINE

/* Exit status of a kiln process for a guest that ended each way. */
#define VM_STATUS_OK	0
#define VM_STATUS_ERROR 1
#define VM_STATUS_PANIC 2

/* Build, boot and run the VM until it ends; returns a process exit status. */
int vm_run(const struct vm_config *cfg);

#endif
