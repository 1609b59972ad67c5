/* Per-vCPU x86 state: CPUID with topology, MSRs, LAPIC LVTs, boot registers. */
#ifndef KILN_ARCH_X86_CPU_H
#define KILN_ARCH_X86_CPU_H

#include <stdint.h>

#include "hv/hv.h"

struct kvm_cpuid2;

/* Fetch KVM_GET_SUPPORTED_CPUID once per VM; free with x86_cpuid_free(). */
int x86_cpuid_get(struct hv_vm *vm, struct kvm_cpuid2 **out);
/* Take SVM/VMX out of the CPUID the guest sees (no nested virtualisation). */
void x86_cpuid_hide_virt(struct kvm_cpuid2 *c);
void x86_cpuid_free(struct kvm_cpuid2 *c);

/* CPUID, MSRs and LAPIC for vCPU `id` of `ncpus`. */
int x86_vcpu_init(struct hv_vm *vm, struct hv_vcpu *vcpu, const struct kvm_cpuid2 *base,
		  unsigned ncpus);

/* 64-bit long mode at `entry` with RSI = zero page (BSP only). */
int x86_vcpu_boot_regs(struct hv_vcpu *vcpu, uint64_t entry, uint64_t zero_page);

#endif
