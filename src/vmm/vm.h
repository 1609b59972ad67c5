/* The VM: memory, vCPUs, buses, devices, and how it ends. */
#ifndef KILN_VMM_VM_H
#define KILN_VMM_VM_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "hv/bus.h"
#include "hv/hv.h"
#include "mem/guest_mem.h"

#define VM_MAX_VCPUS   255
#define VM_MAX_DEVICES 32

/* First virtio-mmio window and first GSI handed to virtio devices. */
#define VM_MMIO_BASE 0xd0000000ULL
#define VM_IRQ_BASE  5
#define VM_IRQ_MAX   23

enum vm_exit_reason {
	VM_RUNNING = 0,
	VM_EXIT_POWEROFF, /* guest powered off: exit 0 */
	VM_EXIT_REBOOT,	  /* guest rebooted: exit 0 (we do not restart it) */
	VM_EXIT_PANIC,	  /* guest kernel panicked */
	VM_EXIT_SIGNAL,	  /* SIGINT/SIGTERM on the host */
	VM_EXIT_STOPPED,  /* a hard stop asked for through the API (kiln_stop) */
	VM_EXIT_ERROR,	  /* VMM or KVM error */
};

struct virtio_dev;
struct kvm_cpuid2;
struct serial;

struct vm {
	struct hv_vm hv;
	struct guest_mem mem;
	struct bus pio, mmio;
	unsigned ncpus;
	struct hv_vcpu vcpus[VM_MAX_VCPUS];
	pthread_t vcpu_threads[VM_MAX_VCPUS];
	struct kvm_cpuid2 *cpuid;

	struct virtio_dev *devs[VM_MAX_DEVICES];
	unsigned ndevs;
	uint64_t next_mmio;
	unsigned next_irq;
	uint64_t next_high; /* next free guest-physical address above RAM (device windows) */
	pthread_mutex_t slot_lock;
	uint8_t *slots_used; /* KVM memory slots beyond RAM's, 1 = taken */

	struct serial *serial;
	unsigned ged_gsi; /* the power button's interrupt (legacy/power.c) */

	/* How the VM ended; the first reason wins. */
	int exit_reason;
	int exit_efd; /* signalled when exit_reason is set */
};

/* Record why the VM stops and make every vCPU leave the guest. First caller wins. */
void vm_request_exit(struct vm *vm, enum vm_exit_reason why);
enum vm_exit_reason vm_exit_reason(const struct vm *vm);

/* Allocate an MMIO window and an IRQ line for a device. */
int vm_alloc_mmio(struct vm *vm, uint64_t size, uint64_t *base, unsigned *irq);
/* Allocate an IRQ line (a GSI, edge-triggered, active high) from the same pool. */
int vm_alloc_irq(struct vm *vm, unsigned *irq);
/* Reserve size bytes of guest-physical space above RAM (aligned to 1 GiB) for a device window. */
int vm_alloc_high(struct vm *vm, uint64_t size, uint64_t *gpa);
/*
 * Back [gpa, gpa + size) with host memory through a KVM memory slot of its own
 * (page aligned); vm_unmap_host() takes it away again, effective at once.
 * Callable while vCPUs run.
 */
int vm_map_host(struct vm *vm, uint64_t gpa, void *host, uint64_t size, int *slot);
void vm_unmap_host(struct vm *vm, int slot);

#endif
