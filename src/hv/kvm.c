#define _GNU_SOURCE
#include "hv/hv.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/kvm.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#include "util/log.h"

/* Addresses KVM needs for Intel's real-mode emulation, just below 4 GiB. */
#define KVM_TSS_ADDR	   0xfffbd000ULL
#define KVM_IDENT_MAP_ADDR 0xfffbc000ULL

static const struct {
	int cap;
	const char *name;
} required_caps[] = {
	{ KVM_CAP_IRQCHIP, "in-kernel irqchip" },
	{ KVM_CAP_USER_MEMORY, "user memory" },
	{ KVM_CAP_IOEVENTFD, "ioeventfd" },
	{ KVM_CAP_IRQFD, "irqfd" },
	{ KVM_CAP_PIT2, "PIT2" },
	{ KVM_CAP_EXT_CPUID, "extended CPUID" },
	{ KVM_CAP_MP_STATE, "MP state" },
	{ KVM_CAP_IMMEDIATE_EXIT, "immediate exit" },
};

static int check_caps(int kvm_fd)
{
	for (size_t i = 0; i < sizeof(required_caps) / sizeof(required_caps[0]); i++) {
		if (ioctl(kvm_fd, KVM_CHECK_EXTENSION, required_caps[i].cap) <= 0) {
			pr_err("KVM lacks %s support; a newer host kernel is needed",
			       required_caps[i].name);
			return -ENOTSUP;
		}
	}
	return 0;
}

int hv_open(struct hv_vm *vm)
{
	struct kvm_pit_config pit = { .flags = KVM_PIT_SPEAKER_DUMMY };
	uint64_t ident = KVM_IDENT_MAP_ADDR;
	int ret;

	vm->vm_fd = -1;
	vm->kvm_fd = open("/dev/kvm", O_RDWR | O_CLOEXEC);
	if (vm->kvm_fd < 0)
		return -errno;
	if (ioctl(vm->kvm_fd, KVM_GET_API_VERSION, 0) != KVM_API_VERSION) {
		ret = -ENOTSUP;
		goto fail;
	}
	ret = check_caps(vm->kvm_fd);
	if (ret)
		goto fail;
	vm->run_size = ioctl(vm->kvm_fd, KVM_GET_VCPU_MMAP_SIZE, 0);
	vm->max_vcpus = ioctl(vm->kvm_fd, KVM_CHECK_EXTENSION, KVM_CAP_MAX_VCPUS);
	if (vm->max_vcpus <= 0)
		vm->max_vcpus = ioctl(vm->kvm_fd, KVM_CHECK_EXTENSION, KVM_CAP_NR_VCPUS);
	if (vm->max_vcpus <= 0)
		vm->max_vcpus = 4;
	vm->max_slots = ioctl(vm->kvm_fd, KVM_CHECK_EXTENSION, KVM_CAP_NR_MEMSLOTS);
	if (vm->max_slots <= 0)
		vm->max_slots = 32;
	vm->vm_fd = ioctl(vm->kvm_fd, KVM_CREATE_VM, 0);
	if (vm->vm_fd < 0 || vm->run_size <= 0) {
		ret = -errno;
		goto fail;
	}
	if (ioctl(vm->vm_fd, KVM_SET_TSS_ADDR, KVM_TSS_ADDR) < 0 ||
	    ioctl(vm->vm_fd, KVM_SET_IDENTITY_MAP_ADDR, &ident) < 0 ||
	    ioctl(vm->vm_fd, KVM_CREATE_IRQCHIP, 0) < 0 ||
	    ioctl(vm->vm_fd, KVM_CREATE_PIT2, &pit) < 0) {
		ret = -errno;
		goto fail;
	}
	return 0;
fail:
	hv_close(vm);
	return ret;
}

void hv_close(struct hv_vm *vm)
{
	if (vm->vm_fd >= 0)
		close(vm->vm_fd);
	if (vm->kvm_fd >= 0)
		close(vm->kvm_fd);
	vm->vm_fd = vm->kvm_fd = -1;
}

int hv_map_memory(struct hv_vm *vm, unsigned slot, uint64_t gpa, uint64_t size, void *host)
{
	struct kvm_userspace_memory_region r = {
		.slot = slot,
		.guest_phys_addr = gpa,
		.memory_size = size,
		.userspace_addr = (uintptr_t)host,
	};

	return ioctl(vm->vm_fd, KVM_SET_USER_MEMORY_REGION, &r) < 0 ? -errno : 0;
}

int hv_unmap_memory(struct hv_vm *vm, unsigned slot)
{
	struct kvm_userspace_memory_region r = { .slot = slot };

	return ioctl(vm->vm_fd, KVM_SET_USER_MEMORY_REGION, &r) < 0 ? -errno : 0;
}

int hv_ioeventfd(struct hv_vm *vm, uint64_t addr, unsigned len, int64_t datamatch, int fd, bool pio)
{
	struct kvm_ioeventfd ev = { .addr = addr, .len = len, .fd = fd };

	if (vm->detached)
		return 0;
	if (datamatch >= 0) {
		ev.flags |= KVM_IOEVENTFD_FLAG_DATAMATCH;
		ev.datamatch = datamatch;
	}
	if (pio)
		ev.flags |= KVM_IOEVENTFD_FLAG_PIO;
	return ioctl(vm->vm_fd, KVM_IOEVENTFD, &ev) < 0 ? -errno : 0;
}

int hv_irqfd(struct hv_vm *vm, unsigned gsi, int fd)
{
	struct kvm_irqfd irq = { .fd = fd, .gsi = gsi };

	if (vm->detached)
		return 0;
	return ioctl(vm->vm_fd, KVM_IRQFD, &irq) < 0 ? -errno : 0;
}

int hv_irq_line(struct hv_vm *vm, unsigned irq, int level)
{
	struct kvm_irq_level l = { .irq = irq, .level = level };

	if (vm->detached)
		return 0;
	return ioctl(vm->vm_fd, KVM_IRQ_LINE, &l) < 0 ? -errno : 0;
}

int hv_vcpu_create(struct hv_vm *vm, unsigned id, struct hv_vcpu *vcpu)
{
	vcpu->id = id;
	vcpu->fd = ioctl(vm->vm_fd, KVM_CREATE_VCPU, id);
	if (vcpu->fd < 0)
		return -errno;
	vcpu->run = mmap(NULL, vm->run_size, PROT_READ | PROT_WRITE, MAP_SHARED, vcpu->fd, 0);
	if (vcpu->run == MAP_FAILED) {
		int err = -errno;

		close(vcpu->fd);
		vcpu->fd = -1;
		return err;
	}
	return 0;
}

void hv_vcpu_destroy(struct hv_vm *vm, struct hv_vcpu *vcpu)
{
	if (vcpu->run && vcpu->run != MAP_FAILED)
		munmap(vcpu->run, vm->run_size);
	if (vcpu->fd >= 0)
		close(vcpu->fd);
	vcpu->fd = -1;
	vcpu->run = NULL;
}

void hv_vcpu_kick_prepare(struct hv_vcpu *vcpu)
{
	__atomic_store_n(&vcpu->run->immediate_exit, 1, __ATOMIC_SEQ_CST);
}

static void fill_exit(struct kvm_run *run, struct hv_exit *e)
{
	switch (run->exit_reason) {
	case KVM_EXIT_IO:
		e->kind = HV_EXIT_IO;
		e->is_write = run->io.direction == KVM_EXIT_IO_OUT;
		e->addr = run->io.port;
		e->size = run->io.size;
		e->count = run->io.count;
		e->data = (uint8_t *)run + run->io.data_offset;
		break;
	case KVM_EXIT_MMIO:
		e->kind = HV_EXIT_MMIO;
		e->is_write = run->mmio.is_write;
		e->addr = run->mmio.phys_addr;
		e->size = run->mmio.len;
		e->count = 1;
		e->data = run->mmio.data;
		break;
	case KVM_EXIT_HLT:
		e->kind = HV_EXIT_HLT;
		break;
	case KVM_EXIT_SHUTDOWN:
		e->kind = HV_EXIT_SHUTDOWN;
		break;
	case KVM_EXIT_INTR:
		e->kind = HV_EXIT_INTR;
		break;
	case KVM_EXIT_SYSTEM_EVENT:
		e->kind = run->system_event.type == KVM_SYSTEM_EVENT_SHUTDOWN ? HV_EXIT_POWEROFF
									      : HV_EXIT_SHUTDOWN;
		break;
	default:
		e->kind = HV_EXIT_ERROR;
		e->reason = run->exit_reason;
		if (run->exit_reason == KVM_EXIT_INTERNAL_ERROR)
			e->reason = 0x10000 | run->internal.suberror;
		else if (run->exit_reason == KVM_EXIT_FAIL_ENTRY)
			e->reason =
				0x20000 | (uint32_t)run->fail_entry.hardware_entry_failure_reason;
		break;
	}
}

int hv_vcpu_run(struct hv_vcpu *vcpu, struct hv_exit *exit)
{
	memset(exit, 0, sizeof(*exit));
	if (ioctl(vcpu->fd, KVM_RUN, 0) < 0) {
		if (errno == EINTR || errno == EAGAIN) {
			__atomic_store_n(&vcpu->run->immediate_exit, 0, __ATOMIC_SEQ_CST);
			exit->kind = HV_EXIT_INTR;
			return 0;
		}
		return -errno;
	}
	fill_exit(vcpu->run, exit);
	return 0;
}
