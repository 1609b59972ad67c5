#include "arch/x86/cpu.h"

#include <errno.h>
#include <linux/kvm.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>

#include "arch/x86/boot.h"
#include "util/log.h"

#define CPUID_MAX_ENTRIES 256

#define MSR_IA32_TSC	      0x10
#define MSR_IA32_SYSENTER_CS  0x174
#define MSR_IA32_SYSENTER_ESP 0x175
#define MSR_IA32_SYSENTER_EIP 0x176
#define MSR_IA32_MISC_ENABLE  0x1a0
#define MSR_MTRR_DEF_TYPE     0x2ff
#define MSR_STAR	      0xc0000081
#define MSR_LSTAR	      0xc0000082
#define MSR_CSTAR	      0xc0000083
#define MSR_SYSCALL_MASK      0xc0000084
#define MSR_KERNEL_GS_BASE    0xc0000102

#define APIC_LVT0	 0x350
#define APIC_LVT1	 0x360
#define APIC_MODE_NMI	 0x4
#define APIC_MODE_EXTINT 0x7

int x86_cpuid_get(struct hv_vm *vm, struct kvm_cpuid2 **out)
{
	size_t sz = sizeof(struct kvm_cpuid2) + CPUID_MAX_ENTRIES * sizeof(struct kvm_cpuid_entry2);
	struct kvm_cpuid2 *c = calloc(1, sz);

	if (!c)
		return -ENOMEM;
	c->nent = CPUID_MAX_ENTRIES;
	if (ioctl(vm->kvm_fd, KVM_GET_SUPPORTED_CPUID, c) < 0) {
		int err = -errno;

		free(c);
		return err;
	}
	*out = c;
	return 0;
}

void x86_cpuid_hide_virt(struct kvm_cpuid2 *c)
{
	for (unsigned i = 0; i < c->nent; i++) {
		struct kvm_cpuid_entry2 *e = &c->entries[i];

		if (e->function == 1)
			e->ecx &= ~(1u << 5); /* VMX */
		else if (e->function == 0x80000001)
			e->ecx &= ~(1u << 2); /* SVM */
		else if (e->function == 0x8000000a)
			e->eax = e->ebx = e->ecx = e->edx = 0; /* SVM features */
	}
}

void x86_cpuid_free(struct kvm_cpuid2 *c)
{
	free(c);
}

static unsigned order_base2(unsigned n)
{
	unsigned s = 0;

	while ((1u << s) < n)
		s++;
	return s;
}

static bool vendor_is_amd(const struct kvm_cpuid2 *c)
{
	for (unsigned i = 0; i < c->nent; i++)
		if (c->entries[i].function == 0)
			return c->entries[i].ebx == 0x68747541; /* "Auth" */
	return false;
}

/* One socket with ncpus cores of one thread each; APIC id = vCPU index. */
static void patch_entry(struct kvm_cpuid_entry2 *e, unsigned id, unsigned ncpus, bool amd)
{
	unsigned shift = order_base2(ncpus);

	switch (e->function) {
	case 1:
		e->ebx = (e->ebx & 0x0000ffff) | (id << 24) | ((ncpus & 0xff) << 16);
		e->ecx |= 1u << 31; /* running under a hypervisor */
		if (ncpus > 1)
			e->edx |= 1u << 28; /* HTT: the logical count in EBX is valid */
		break;
	case 4:
		/* Deterministic cache parameters: cores per package. */
		e->eax = (e->eax & 0x03ffffff) | ((ncpus - 1) << 26);
		break;
	case 6:
		e->ecx &= ~(1u << 3); /* no energy-performance bias MSR */
		break;
	case 0xa:
		/* No architectural PMU: nested hosts rarely virtualise it well. */
		e->eax = e->ebx = e->ecx = e->edx = 0;
		break;
	case 0xb:
	case 0x1f:
		e->edx = id;
		if (e->index == 0) {
			e->eax = 0;
			e->ebx = 1;
			e->ecx = 1 << 8; /* SMT level */
		} else if (e->index == 1) {
			e->eax = shift;
			e->ebx = ncpus;
			e->ecx = (2 << 8) | 1; /* core level */
		} else {
			e->eax = e->ebx = 0;
			e->ecx = e->index;
		}
		break;
	case 0x80000001:
		if (amd && ncpus > 1)
			e->ecx |= 1u << 1; /* CmpLegacy: cores, not threads */
		break;
	case 0x80000008:
		if (amd)
			e->ecx = (shift << 12) | (ncpus - 1);
		break;
	case 0x8000001e:
		e->eax = id;
		e->ebx = id & 0xff; /* core id, one thread per core */
		e->ecx = 0;
		break;
	}
}

static int set_cpuid(struct hv_vcpu *vcpu, const struct kvm_cpuid2 *base, unsigned ncpus)
{
	size_t sz = sizeof(*base) + base->nent * sizeof(base->entries[0]);
	struct kvm_cpuid2 *c = malloc(sz);
	bool amd = vendor_is_amd(base);
	int ret = 0;

	if (!c)
		return -ENOMEM;
	memcpy(c, base, sz);
	for (unsigned i = 0; i < c->nent; i++)
		patch_entry(&c->entries[i], vcpu->id, ncpus, amd);
	if (ioctl(vcpu->fd, KVM_SET_CPUID2, c) < 0)
		ret = -errno;
	free(c);
	return ret;
}

static int set_msrs(struct hv_vcpu *vcpu)
{
	static const struct {
		uint32_t index;
		uint64_t value;
	} init[] = {
		{ MSR_IA32_SYSENTER_CS, 0 },
		{ MSR_IA32_SYSENTER_ESP, 0 },
		{ MSR_IA32_SYSENTER_EIP, 0 },
		{ MSR_STAR, 0 },
		{ MSR_LSTAR, 0 },
		{ MSR_CSTAR, 0 },
		{ MSR_SYSCALL_MASK, 0 },
		{ MSR_KERNEL_GS_BASE, 0 },
		{ MSR_IA32_TSC, 0 },
		{ MSR_IA32_MISC_ENABLE, 1 },	      /* fast strings */
		{ MSR_MTRR_DEF_TYPE, (1 << 11) | 6 }, /* MTRRs on, default write-back */
	};
	/* One at a time: a host that refuses one MSR still gets the others set. */
	for (size_t i = 0; i < sizeof(init) / sizeof(init[0]); i++) {
		uint8_t buf[sizeof(struct kvm_msrs) + sizeof(struct kvm_msr_entry)] = { 0 };
		struct kvm_msrs *m = (struct kvm_msrs *)buf;

		m->nmsrs = 1;
		m->entries[0].index = init[i].index;
		m->entries[0].data = init[i].value;
		if (ioctl(vcpu->fd, KVM_SET_MSRS, m) != 1)
			pr_debug("vcpu%u: host refused MSR 0x%x", vcpu->id, init[i].index);
	}
	return 0;
}

static void set_lvt(struct kvm_lapic_state *l, unsigned reg, uint32_t mode)
{
	uint32_t v;

	memcpy(&v, &l->regs[reg], 4);
	v = (v & ~0x700u) | (mode << 8);
	memcpy(&l->regs[reg], &v, 4);
}

static int set_lapic(struct hv_vcpu *vcpu)
{
	struct kvm_lapic_state l;

	if (ioctl(vcpu->fd, KVM_GET_LAPIC, &l) < 0)
		return -errno;
	/* As a PC BIOS leaves it: LINT0 takes the 8259's ExtINT, LINT1 the NMI. */
	set_lvt(&l, APIC_LVT0, APIC_MODE_EXTINT);
	set_lvt(&l, APIC_LVT1, APIC_MODE_NMI);
	return ioctl(vcpu->fd, KVM_SET_LAPIC, &l) < 0 ? -errno : 0;
}

/*
 * Start with XCR0 holding every user state component the guest may use (the
 * architectural reset value is x87 only). Linux sets XCR0 itself and then
 * checks the XSAVE size CPUID reports against its own sum; KVM recomputes
 * that size when it sees XCR0 change, but under a nested hypervisor that
 * does not intercept XSETBV (QEMU's TCG, our test host) it never sees the
 * guest's write, the sizes disagree and Linux turns XSAVE, so AVX, off.
 * Set here, KVM's size is already right for the XCR0 Linux will write.
 */
static void set_xcr0(struct hv_vcpu *vcpu, const struct kvm_cpuid2 *c)
{
	struct kvm_xcrs xcrs = { .nr_xcrs = 1 };
	bool xsave = false;
	uint64_t mask = 0;

	for (unsigned i = 0; i < c->nent; i++) {
		const struct kvm_cpuid_entry2 *e = &c->entries[i];

		if (e->function == 1)
			xsave = e->ecx & (1u << 26);
		else if (e->function == 0xd && e->index == 0)
			mask = e->eax | (uint64_t)e->edx << 32;
	}
	/* x87, SSE, AVX, AVX-512 (5-7), PKRU (9): user states without their own enabling. */
	mask &= 0x2e7;
	if (!xsave || (mask & 3) != 3)
		return;
	xcrs.xcrs[0].xcr = 0;
	xcrs.xcrs[0].value = mask;
	if (ioctl(vcpu->fd, KVM_SET_XCRS, &xcrs) < 0)
		pr_debug("vcpu%u: host refused XCR0 0x%llx: %m", vcpu->id,
			 (unsigned long long)mask);
}

int x86_vcpu_init(struct hv_vm *vm, struct hv_vcpu *vcpu, const struct kvm_cpuid2 *base,
		  unsigned ncpus)
{
	int ret;

	(void)vm;
	ret = set_cpuid(vcpu, base, ncpus);
	if (!ret)
		set_xcr0(vcpu, base);
	if (!ret)
		ret = set_msrs(vcpu);
	if (!ret)
		ret = set_lapic(vcpu);
	return ret;
}

static void seg(struct kvm_segment *s, uint16_t sel, uint8_t type, bool code)
{
	memset(s, 0, sizeof(*s));
	s->base = 0;
	s->limit = 0xffffffff;
	s->selector = sel;
	s->type = type;
	s->present = 1;
	s->s = 1;
	s->g = 1;
	s->l = code;
	s->db = !code;
}

int x86_vcpu_boot_regs(struct hv_vcpu *vcpu, uint64_t entry, uint64_t zero_page)
{
	struct kvm_sregs sr;
	struct kvm_regs r;
	struct kvm_fpu fpu;

	if (ioctl(vcpu->fd, KVM_GET_SREGS, &sr) < 0)
		return -errno;
	seg(&sr.cs, 0x10, 0xb, true);
	seg(&sr.ds, 0x18, 0x3, false);
	sr.es = sr.fs = sr.gs = sr.ss = sr.ds;
	memset(&sr.tr, 0, sizeof(sr.tr));
	sr.tr.selector = 0x20;
	sr.tr.limit = 0xfffff;
	sr.tr.type = 0xb;
	sr.tr.present = 1;
	sr.gdt.base = BOOT_GDT_ADDR;
	sr.gdt.limit = 5 * 8 - 1;
	sr.idt.base = BOOT_IDT_ADDR;
	sr.idt.limit = 7;
	sr.cr0 = 0x80000033; /* PG | NE | ET | MP | PE; caches enabled */
	sr.cr3 = BOOT_PML4_ADDR;
	sr.cr4 = 0x20;	 /* PAE */
	sr.efer = 0x500; /* LME | LMA */
	if (ioctl(vcpu->fd, KVM_SET_SREGS, &sr) < 0)
		return -errno;

	memset(&r, 0, sizeof(r));
	r.rflags = 2;
	r.rip = entry;
	r.rsi = zero_page;
	r.rsp = r.rbp = BOOT_STACK_ADDR;
	if (ioctl(vcpu->fd, KVM_SET_REGS, &r) < 0)
		return -errno;

	memset(&fpu, 0, sizeof(fpu));
	fpu.fcw = 0x37f;
	fpu.mxcsr = 0x1f80;
	return ioctl(vcpu->fd, KVM_SET_FPU, &fpu) < 0 ? -errno : 0;
}
