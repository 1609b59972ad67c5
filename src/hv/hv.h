/*
 * Hypervisor backend interface (KVM on Linux). Everything above this layer
 * talks to the hypervisor through these calls; arch code may use the vCPU fd
 * for register state.
 */
#ifndef KILN_HV_HV_H
#define KILN_HV_HV_H

#include <stdbool.h>
#include <stdint.h>

struct kvm_run;

struct hv_vm {
	int kvm_fd;
	int vm_fd;
	int run_size;
	int max_vcpus;
	int max_slots; /* KVM memory slots (KVM_CAP_NR_MEMSLOTS) */
	/* No hypervisor behind it: unit tests and fuzzers drive device models
	 * directly, and interrupt/notification wiring is skipped. */
	bool detached;
};

struct hv_vcpu {
	int fd;
	unsigned id;
	struct kvm_run *run;
};

enum hv_exit_kind {
	HV_EXIT_IO,	  /* port I/O, handled and resumed by the caller */
	HV_EXIT_MMIO,	  /* MMIO, likewise */
	HV_EXIT_INTR,	  /* interrupted by a signal: check for stop requests */
	HV_EXIT_SHUTDOWN, /* triple fault or reset request */
	HV_EXIT_POWEROFF, /* the hypervisor reported an orderly power-off */
	HV_EXIT_HLT,
	HV_EXIT_ERROR,
};

struct hv_exit {
	enum hv_exit_kind kind;
	/* IO/MMIO */
	bool is_write;
	uint64_t addr;
	unsigned size;	 /* bytes per access */
	unsigned count;	 /* number of accesses (string I/O) */
	uint8_t *data;	 /* points into the shared run structure */
	uint32_t reason; /* raw reason for errors */
};

/* Opens /dev/kvm and creates a VM with the in-kernel irqchip and PIT. */
int hv_open(struct hv_vm *vm);
void hv_close(struct hv_vm *vm);
int hv_map_memory(struct hv_vm *vm, unsigned slot, uint64_t gpa, uint64_t size, void *host);
/* Delete a slot: its guest range is no longer backed, from now on. */
int hv_unmap_memory(struct hv_vm *vm, unsigned slot);
/* datamatch < 0: any value written triggers the eventfd. */
int hv_ioeventfd(struct hv_vm *vm, uint64_t addr, unsigned len, int64_t datamatch, int fd,
		 bool pio);
int hv_irqfd(struct hv_vm *vm, unsigned gsi, int fd);
int hv_irq_line(struct hv_vm *vm, unsigned irq, int level);

int hv_vcpu_create(struct hv_vm *vm, unsigned id, struct hv_vcpu *vcpu);
void hv_vcpu_destroy(struct hv_vm *vm, struct hv_vcpu *vcpu);
int hv_vcpu_run(struct hv_vcpu *vcpu, struct hv_exit *exit);
/* Make the next (or current) hv_vcpu_run return HV_EXIT_INTR. */
void hv_vcpu_kick_prepare(struct hv_vcpu *vcpu);

#endif
