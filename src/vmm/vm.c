#define _GNU_SOURCE
#include "vmm/vm.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/kvm.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <poll.h>
#include <unistd.h>

#include "arch/x86/acpi.h"
#include "arch/x86/boot.h"
#include "arch/x86/cpu.h"
#include "legacy/power.h"
#include "legacy/serial.h"
#include "util/log.h"
#include "virtio/balloon.h"
#include "virtio/blk.h"
#include "virtio/console.h"
#include "virtio/fs.h"
#include "virtio/gpu.h"
#include "virtio/mmio.h"
#include "virtio/net.h"
#include "virtio/rng.h"
#include "virtio/vsock.h"
#include "vmm/config.h"

#define KICK_SIGNAL SIGUSR1
#define MIN_MEM_MIB 32

void vm_request_exit(struct vm *vm, enum vm_exit_reason why)
{
	int expected = VM_RUNNING;
	uint64_t one = 1;

	if (!__atomic_compare_exchange_n(&vm->exit_reason, &expected, why, false, __ATOMIC_SEQ_CST,
					 __ATOMIC_SEQ_CST))
		return;
	if (write(vm->exit_efd, &one, sizeof(one)) < 0)
		abort(); /* cannot happen with a valid eventfd; nothing sane to do */
}

enum vm_exit_reason vm_exit_reason(const struct vm *vm)
{
	return __atomic_load_n(&vm->exit_reason, __ATOMIC_SEQ_CST);
}

int vm_alloc_irq(struct vm *vm, unsigned *irq)
{
	if (vm->next_irq > VM_IRQ_MAX)
		return -ENOSPC;
	*irq = vm->next_irq++;
	return 0;
}

int vm_alloc_mmio(struct vm *vm, uint64_t size, uint64_t *base, unsigned *irq)
{
	int ret = vm_alloc_irq(vm, irq);

	if (ret)
		return ret;
	*base = vm->next_mmio;
	vm->next_mmio += size;
	return 0;
}

int vm_alloc_high(struct vm *vm, uint64_t size, uint64_t *gpa)
{
	const uint64_t align = 1ULL << 30;
	uint64_t base = vm->next_high;

	if (!base) {
		const struct guest_region *top = &vm->mem.regions[vm->mem.nregions - 1];

		base = top->gpa + top->size;
		if (base < GUEST_HIGH_RAM_START)
			base = GUEST_HIGH_RAM_START;
	}
	base = (base + align - 1) & ~(align - 1);
	if (!size || size % 4096 || size > (1ULL << 46) - base)
		return -EINVAL;
	*gpa = base;
	vm->next_high = base + size;
	return 0;
}

int vm_map_host(struct vm *vm, uint64_t gpa, void *host, uint64_t size, int *slot)
{
	unsigned first = vm->mem.nregions, n;
	int ret = -ENOSPC;

	if (vm->hv.detached)
		return -ENODEV;
	n = vm->hv.max_slots > (int)first ? (unsigned)vm->hv.max_slots - first : 0;
	pthread_mutex_lock(&vm->slot_lock);
	if (!vm->slots_used && n)
		vm->slots_used = calloc(n, 1);
	for (unsigned i = 0; vm->slots_used && i < n; i++) {
		if (vm->slots_used[i])
			continue;
		ret = hv_map_memory(&vm->hv, first + i, gpa, size, host);
		if (!ret) {
			vm->slots_used[i] = 1;
			*slot = (int)(first + i);
		}
		break;
	}
	pthread_mutex_unlock(&vm->slot_lock);
	return ret;
}

void vm_unmap_host(struct vm *vm, int slot)
{
	unsigned i = (unsigned)slot - vm->mem.nregions;
	int ret;

	pthread_mutex_lock(&vm->slot_lock);
	ret = hv_unmap_memory(&vm->hv, (unsigned)slot);
	if (ret)
		pr_err("cannot remove KVM memory slot %d: %s", slot, strerror(-ret));
	else if (vm->slots_used)
		vm->slots_used[i] = 0;
	pthread_mutex_unlock(&vm->slot_lock);
}

/* ---- vCPUs ---- */

struct vcpu_arg {
	struct vm *vm;
	unsigned idx;
};

static void kick_handler(int sig)
{
	(void)sig;
}

static void handle_io(struct vm *vm, const struct hv_exit *e)
{
	const struct bus *b = e->kind == HV_EXIT_IO ? &vm->pio : &vm->mmio;

	for (unsigned i = 0; i < e->count; i++) {
		uint8_t *p = e->data + i * e->size;

		int ret = e->is_write ? bus_write(b, e->addr, p, e->size)
				      : bus_read(b, e->addr, p, e->size);

		if (ret && log_get_level() >= LOG_TRACE)
			log_msg(LOG_TRACE, "unhandled %s %s 0x%llx size %u",
				e->kind == HV_EXIT_IO ? "port" : "mmio",
				e->is_write ? "write" : "read", (unsigned long long)e->addr,
				e->size);
	}
}

static void *vcpu_thread(void *arg)
{
	struct vcpu_arg *va = arg;
	struct vm *vm = va->vm;
	struct hv_vcpu *vcpu = &vm->vcpus[va->idx];
	sigset_t set;
	char name[16];

	free(va);
	snprintf(name, sizeof(name), "vcpu%u", vcpu->id);
	pthread_setname_np(pthread_self(), name);
	sigemptyset(&set);
	sigaddset(&set, KICK_SIGNAL);
	pthread_sigmask(SIG_UNBLOCK, &set, NULL);

	while (vm_exit_reason(vm) == VM_RUNNING) {
		struct hv_exit e;
		int ret = hv_vcpu_run(vcpu, &e);

		if (ret) {
			pr_err("vcpu%u: KVM_RUN failed: %s", vcpu->id, strerror(-ret));
			vm_request_exit(vm, VM_EXIT_ERROR);
			break;
		}
		switch (e.kind) {
		case HV_EXIT_IO:
		case HV_EXIT_MMIO:
			handle_io(vm, &e);
			break;
		case HV_EXIT_INTR:
		case HV_EXIT_HLT:
			break;
		case HV_EXIT_SHUTDOWN:
			vm_request_exit(vm, VM_EXIT_REBOOT);
			break;
		case HV_EXIT_POWEROFF:
			vm_request_exit(vm, VM_EXIT_POWEROFF);
			break;
		case HV_EXIT_ERROR:
			pr_err("vcpu%u: unexpected KVM exit 0x%x", vcpu->id, e.reason);
			vm_request_exit(vm, VM_EXIT_ERROR);
			break;
		}
	}
	return NULL;
}

static void kick_vcpus(struct vm *vm, unsigned started)
{
	for (unsigned i = 0; i < started; i++) {
		hv_vcpu_kick_prepare(&vm->vcpus[i]);
		pthread_kill(vm->vcpu_threads[i], KICK_SIGNAL);
	}
}

/* ---- setup ---- */

static uint64_t host_mem_mib(void)
{
	long pages = sysconf(_SC_PHYS_PAGES), psz = sysconf(_SC_PAGESIZE);

	return pages > 0 && psz > 0 ? (uint64_t)pages * psz >> 20 : 0;
}

static int read_file(const char *what, const char *path, void **data, size_t *size)
{
	struct stat st;
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd < 0) {
		pr_err("%s %s: %s", what, path, errno == ENOENT ? "not found" : strerror(errno));
		return -errno;
	}
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || st.st_size == 0) {
		pr_err("%s %s: not a regular, non-empty file", what, path);
		close(fd);
		return -EINVAL;
	}
	/*
	 * Read, not mapped: on network and 9p file systems a mapping is read a
	 * page per request as the loader touches it (a 50 MB vmlinux took over a
	 * minute in the nested test host); read() asks for large pieces.
	 */
	*data = mmap(NULL, st.st_size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (*data == MAP_FAILED) {
		pr_err("%s %s: %s", what, path, strerror(errno));
		close(fd);
		return -errno;
	}
	for (size_t got = 0; got < (size_t)st.st_size;) {
		ssize_t n = read(fd, (char *)*data + got, st.st_size - got);

		if (n <= 0) {
			int err = n < 0 ? errno : EIO;

			pr_err("%s %s: %s", what, path,
			       n < 0 ? strerror(err) : "shorter than its size");
			munmap(*data, st.st_size);
			close(fd);
			return -err;
		}
		got += n;
	}
	close(fd);
	*size = st.st_size;
	return 0;
}

static int check_config(const struct vm_config *cfg, int max_vcpus)
{
	uint64_t host = host_mem_mib();
	int limit = max_vcpus < VM_MAX_VCPUS ? max_vcpus : VM_MAX_VCPUS;

	if (cfg->ncpus < 1 || (int)cfg->ncpus > limit) {
		pr_err("--cpus %u: this host allows 1 to %d vCPUs", cfg->ncpus, limit);
		return -EINVAL;
	}
	if (cfg->mem_mib < MIN_MEM_MIB) {
		pr_err("--memory %llu MiB is too small: at least %d MiB are needed",
		       (unsigned long long)cfg->mem_mib, MIN_MEM_MIB);
		return -EINVAL;
	}
	if (host && cfg->mem_mib > host) {
		pr_err("--memory %llu MiB is more than this host has (%llu MiB)",
		       (unsigned long long)cfg->mem_mib, (unsigned long long)host);
		return -ENOMEM;
	}
	return 0;
}

static int open_kvm(struct vm *vm)
{
	int ret = hv_open(&vm->hv);

	if (ret == -ENOENT)
		pr_err("no /dev/kvm: this host has no KVM (enable virtualisation and load "
		       "kvm_intel or kvm_amd), or boot through the nested test host: make demo");
	else if (ret == -EACCES || ret == -EPERM)
		pr_err("cannot open /dev/kvm: permission denied (join the 'kvm' group)");
	else if (ret)
		pr_err("cannot create a KVM virtual machine: %s", strerror(-ret));
	return ret;
}

static int setup_memory(struct vm *vm, const struct vm_config *cfg)
{
	int ret = guest_mem_create(&vm->mem, cfg->mem_mib << 20);

	if (ret) {
		pr_err("cannot allocate %llu MiB of guest memory: %s",
		       (unsigned long long)cfg->mem_mib, strerror(-ret));
		return ret;
	}
	for (unsigned i = 0; i < vm->mem.nregions && !ret; i++) {
		const struct guest_region *r = &vm->mem.regions[i];

		ret = hv_map_memory(&vm->hv, i, r->gpa, r->size, r->host);
	}
	if (ret)
		pr_err("cannot map guest memory into KVM: %s", strerror(-ret));
	return ret;
}

/* Stock kernels find virtio-mmio devices through ACPI (LNRO0005), so tables come after devices. */
static int setup_acpi(struct vm *vm)
{
	struct acpi_config acfg = {
		.ncpus = vm->ncpus,
		.sleep_ctl_port = POWER_SLEEP_CTL_PORT,
		.sleep_sts_port = POWER_SLEEP_STS_PORT,
		.reset_port = POWER_RESET_PORT,
		.reset_value = POWER_RESET_VALUE,
		.pvpanic_port = POWER_PVPANIC_PORT,
		/* Listed so that ttyS0 gets its IRQ: HW-reduced ACPI maps no legacy IRQs. */
		.serial_port = SERIAL_COM1_BASE,
		.serial_irq = SERIAL_COM1_IRQ,
		.power_button = true,
		.ged_gsi = vm->ged_gsi,
	};
	void *p = guest_mem_ptr(&vm->mem, BOOT_BIOS_START, BOOT_BIOS_SIZE);
	int ret;

	for (unsigned i = 0; i < vm->ndevs && i < ACPI_MAX_MMIO_DEVS; i++) {
		acfg.mmio[i] = (struct acpi_mmio_dev){ vm->devs[i]->base, VIRTIO_MMIO_SIZE,
						       vm->devs[i]->irq };
		acfg.nmmio++;
	}
	ret = acpi_build(p, BOOT_BIOS_START, BOOT_BIOS_SIZE, &acfg);
	if (ret < 0)
		pr_err("cannot build ACPI tables: %s", strerror(-ret));
	return ret < 0 ? ret : 0;
}

static void workload_exited(void *opaque, int status)
{
	int *out = opaque;

	pr_debug("the guest init reports exit status %d", status);
	if (out)
		__atomic_store_n(out, status, __ATOMIC_SEQ_CST);
}

static int setup_fs(struct vm *vm, const struct vm_config *cfg)
{
	for (unsigned i = 0; i < cfg->nfs; i++) {
		const struct vm_fs *fs = &cfg->fs[i];
		struct fuse_server_config fc = {
			.path = fs->path,
			.read_only = fs->read_only,
			.exit_status = workload_exited,
			.opaque = cfg->workload_status,
		};
		int ret;

		for (unsigned j = 0; j < cfg->noverlays && fc.noverlays < FUSE_SERVER_MAX_OVERLAYS;
		     j++) {
			const struct vm_overlay *o = &cfg->overlays[j];

			if (strcmp(o->tag, fs->tag))
				continue;
			fc.overlays[fc.noverlays++] = (struct fuse_overlay){
				.name = o->name,
				.data = o->data,
				.len = o->len,
				.mode = o->mode,
				.one_shot = o->one_shot,
			};
		}
		ret = virtio_fs_create(vm, fs->tag, &fc);
		if (ret)
			return ret;
	}
	return 0;
}

static int setup_vsock(struct vm *vm, const struct vm_config *cfg)
{
	struct vsock_rule rules[VM_MAX_VSOCK];

	for (unsigned i = 0; i < cfg->nvsock_ports; i++)
		rules[i] = (struct vsock_rule){ cfg->vsock_ports[i].port, cfg->vsock_ports[i].path,
						cfg->vsock_ports[i].host_listens };
	return cfg->vsock ? virtio_vsock_create(vm, rules, cfg->nvsock_ports) : 0;
}

static int setup_devices(struct vm *vm, const struct vm_config *cfg)
{
	int ret;

	ret = power_create(vm);
	if (!ret)
		ret = serial_create(vm, cfg->serial_out, &vm->serial);
	if (ret) {
		pr_err("cannot set up legacy devices: %s", strerror(-ret));
		return ret;
	}
	if (cfg->console) {
		const struct console_config cc = {
			.in_fd = cfg->console_in,
			.out_fd = cfg->console_out,
			.stdin_fd = cfg->port_in,
			.stdout_fd = cfg->port_out,
			.stderr_fd = cfg->port_err,
		};

		ret = virtio_console_create(vm, &cc);
		if (ret) {
			pr_err("cannot create the console: %s", strerror(-ret));
			return ret;
		}
	}
	for (unsigned i = 0; i < cfg->ndisks; i++) {
		const struct blk_config bc = {
			.path = cfg->disks[i].path,
			.format = cfg->disks[i].qcow2 ? DISK_FORMAT_QCOW2 : DISK_FORMAT_RAW,
			.read_only = cfg->disks[i].read_only,
			.serial = cfg->disks[i].id,
		};

		ret = virtio_blk_create(vm, &bc, NULL);
		if (ret)
			return ret;
	}
	ret = setup_fs(vm, cfg);
	if (!ret)
		ret = setup_vsock(vm, cfg);
	if (ret)
		return ret;
	for (unsigned i = 0; i < cfg->nnets; i++)
		if ((ret = virtio_net_create(vm, &cfg->nets[i], i)))
			return ret;
	if (cfg->gpu) {
		struct virtio_gpu_config gc = { .virgl_path = cfg->gpu_virgl,
						.window_size = cfg->gpu_shm,
						.drm = cfg->gpu_drm };

		if ((ret = virtio_gpu_create(vm, &gc)))
			return ret;
	}
	if (cfg->rng) {
		ret = virtio_rng_create(vm);
		if (ret) {
			pr_err("cannot create the rng device: %s", strerror(-ret));
			return ret;
		}
	}
	if (cfg->balloon) {
		/* Implicit, so it gives way to the devices asked for when they take every slot. */
		ret = virtio_balloon_create(vm);
		if (ret == -ENOSPC)
			pr_warn("no IRQ line or device slot left for the balloon device: the "
				"guest runs without free page reporting");
		else if (ret) {
			pr_err("cannot create the balloon device: %s", strerror(-ret));
			return ret;
		}
	}
	return 0;
}

static int load_kernel(struct vm *vm, const struct vm_config *cfg, struct boot_info *bi)
{
	struct boot_params_in in = { .rsdp_addr = BOOT_BIOS_START };
	void *kernel = NULL, *initrd = NULL;
	size_t ksize = 0, isize = 0;
	char *cmdline = NULL;
	int ret;

	ret = read_file("kernel", cfg->kernel, &kernel, &ksize);
	if (!ret && cfg->initrd)
		ret = read_file("initrd", cfg->initrd, &initrd, &isize);
	if (!ret && !(cmdline = strdup(cfg->cmdline ? cfg->cmdline : VM_DEFAULT_CMDLINE)))
		ret = -ENOMEM;
	if (!ret) {
		in.kernel = kernel;
		in.kernel_size = ksize;
		in.initrd = initrd;
		in.initrd_size = isize;
		in.cmdline = cmdline;
		ret = x86_boot_load(&vm->mem, &in, bi);
		if (ret == -ENOEXEC)
			pr_err("kernel %s: not a 64-bit bzImage or ELF vmlinux", cfg->kernel);
		else if (ret == -E2BIG)
			pr_err("kernel command line too long (%zu bytes)", strlen(cmdline));
		else if (ret == -ENOMEM)
			pr_err("kernel and initrd do not fit in %llu MiB of guest memory",
			       (unsigned long long)cfg->mem_mib);
		else if (ret)
			pr_err("cannot load kernel %s: %s", cfg->kernel, strerror(-ret));
	}
	pr_debug("kernel command line: %s", cmdline ? cmdline : "");
	free(cmdline);
	if (kernel)
		munmap(kernel, ksize);
	if (initrd)
		munmap(initrd, isize);
	return ret;
}

static int setup_vcpus(struct vm *vm, const struct vm_config *cfg, const struct boot_info *bi)
{
	int ret = x86_cpuid_get(&vm->hv, &vm->cpuid);

	if (!ret && !cfg->nested)
		x86_cpuid_hide_virt(vm->cpuid);
	for (unsigned i = 0; !ret && i < vm->ncpus; i++) {
		ret = hv_vcpu_create(&vm->hv, i, &vm->vcpus[i]);
		if (!ret)
			ret = x86_vcpu_init(&vm->hv, &vm->vcpus[i], vm->cpuid, vm->ncpus);
	}
	/* Only the boot CPU starts in long mode; the others wait for INIT/SIPI. */
	if (!ret)
		ret = x86_vcpu_boot_regs(&vm->vcpus[0], bi->entry, bi->zero_page);
	if (ret)
		pr_err("cannot set up vCPUs: %s", strerror(-ret));
	return ret;
}

static int start_threads(struct vm *vm, unsigned *started)
{
	struct sigaction sa = { .sa_handler = kick_handler };
	int ret = 0;

	sigaction(KICK_SIGNAL, &sa, NULL);
	for (unsigned i = 0; i < vm->ndevs && !ret; i++)
		ret = virtio_dev_start(vm->devs[i]);
	for (*started = 0; !ret && *started < vm->ncpus; (*started)++) {
		struct vcpu_arg *va = malloc(sizeof(*va));

		if (!va)
			return -ENOMEM;
		*va = (struct vcpu_arg){ vm, *started };
		ret = -pthread_create(&vm->vcpu_threads[*started], NULL, vcpu_thread, va);
		if (ret) {
			free(va);
			break;
		}
	}
	return ret;
}

/* krun_setgid/krun_setuid: switch once everything privileged is open. */
static int drop_privileges(const struct vm_config *cfg)
{
	if (cfg->setgid >= 0 && setgid(cfg->setgid) < 0) {
		pr_err("cannot switch to group %lld: %s", (long long)cfg->setgid, strerror(errno));
		return -errno;
	}
	if (cfg->setuid >= 0 && setuid(cfg->setuid) < 0) {
		pr_err("cannot switch to user %lld: %s", (long long)cfg->setuid, strerror(errno));
		return -errno;
	}
	return 0;
}

/* Move the state the API reads from one value to another; nothing if it is elsewhere. */
static void move_state(const struct vm_config *cfg, int from, int to)
{
	if (cfg->vm_state)
		__atomic_compare_exchange_n(cfg->vm_state, &from, to, false, __ATOMIC_SEQ_CST,
					    __ATOMIC_SEQ_CST);
}

/* why and then (what happens next, or "") are for the log. */
static void press_power_button(struct vm *vm, const struct vm_config *cfg, const char *why,
			       const char *then)
{
	int ret = power_button_press(vm);

	move_state(cfg, KILN_VM_RUNNING, KILN_VM_STOPPING);

	if (ret)
		pr_err("%s: cannot press the power button: %s", why, strerror(-ret));
	else
		pr_info("%s: pressed the power button%s", why, then);
}

/* Stopped at once by a signal where the guest was asked first: 128 + signal, as a shell says. */
static void set_signal_status(const struct vm_config *cfg, unsigned sig)
{
	int none = -1;

	if (cfg->workload_status)
		__atomic_compare_exchange_n(cfg->workload_status, &none, 128 + (int)sig, false,
					    __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST);
}

/*
 * Wait for the guest to end, for SIGINT/SIGTERM, for a shutdown request on
 * cfg->shutdown_efd, which presses the power button (so does the first signal
 * with cfg->signal_shutdown), or for a hard stop on cfg->hard_stop_efd.
 */
static void wait_for_exit(struct vm *vm, const struct vm_config *cfg, int sfd)
{
	struct pollfd p[4] = { { .fd = vm->exit_efd, .events = POLLIN },
			       { .fd = sfd, .events = POLLIN },
			       { .fd = cfg->shutdown_efd, .events = POLLIN },
			       { .fd = cfg->hard_stop_efd, .events = POLLIN } };
	bool asked = false;

	while (vm_exit_reason(vm) == VM_RUNNING) {
		if (poll(p, 4, -1) < 0 && errno != EINTR)
			break;
		if (p[3].revents & POLLIN) {
			pr_info("stopping the VM: a hard stop was requested");
			vm_request_exit(vm, VM_EXIT_STOPPED);
			break;
		}
		if (p[2].revents & POLLIN) {
			uint64_t n;

			if (read(cfg->shutdown_efd, &n, sizeof(n)) == sizeof(n))
				press_power_button(vm, cfg, "shutdown requested", "");
		}
		if (p[1].revents & POLLIN) {
			struct signalfd_siginfo si;

			if (read(sfd, &si, sizeof(si)) != sizeof(si))
				continue;
			if (cfg->signal_shutdown && !asked) {
				char why[32];

				snprintf(why, sizeof(why), "signal %u", si.ssi_signo);
				press_power_button(vm, cfg, why,
						   "; another signal stops the VM at once");
				asked = true;
				continue;
			}
			pr_info("stopping the VM on signal %u", si.ssi_signo);
			if (cfg->signal_shutdown)
				set_signal_status(cfg, si.ssi_signo);
			vm_request_exit(vm, VM_EXIT_SIGNAL);
		}
	}
}

static int exit_status(const struct vm *vm)
{
	switch (vm_exit_reason(vm)) {
	case VM_EXIT_POWEROFF:
	case VM_EXIT_REBOOT:
	case VM_EXIT_SIGNAL:
	case VM_EXIT_STOPPED:
		return VM_STATUS_OK;
	case VM_EXIT_PANIC:
		pr_err("the guest kernel panicked");
		return VM_STATUS_PANIC;
	default:
		return VM_STATUS_ERROR;
	}
}

static void vm_teardown(struct vm *vm, unsigned started)
{
	for (unsigned i = 0; i < started; i++)
		pthread_join(vm->vcpu_threads[i], NULL);
	/* Devices finish in-flight I/O before their threads exit. */
	for (unsigned i = 0; i < vm->ndevs; i++)
		virtio_dev_destroy(vm->devs[i]);
	for (unsigned i = 0; i < vm->ncpus; i++)
		if (vm->vcpus[i].run)
			hv_vcpu_destroy(&vm->hv, &vm->vcpus[i]);
	serial_destroy(vm->serial);
	x86_cpuid_free(vm->cpuid);
	guest_mem_destroy(&vm->mem);
	hv_close(&vm->hv);
	close(vm->exit_efd);
	free(vm->slots_used);
	pthread_mutex_destroy(&vm->slot_lock);
}

/*
 * virtio-fs holds an fd for every inode the guest has looked up: allow as many
 * as this process may have (the hard limit, or more where we are privileged).
 */
static void raise_fd_limit(void)
{
	struct rlimit rl;
	unsigned long nr_open = 0;
	FILE *f = fopen("/proc/sys/fs/nr_open", "r");

	if (f) {
		if (fscanf(f, "%lu", &nr_open) != 1)
			nr_open = 0;
		fclose(f);
	}
	if (getrlimit(RLIMIT_NOFILE, &rl))
		return;
	if (nr_open > rl.rlim_max &&
	    !setrlimit(RLIMIT_NOFILE, &(struct rlimit){ nr_open, nr_open }))
		return;
	rl.rlim_cur = rl.rlim_max;
	setrlimit(RLIMIT_NOFILE, &rl);
}

int vm_run(const struct vm_config *cfg)
{
	struct vm *vm = calloc(1, sizeof(*vm));
	struct boot_info bi;
	unsigned started = 0;
	sigset_t set;
	int sfd = -1, ret, status;

	if (!vm)
		return VM_STATUS_ERROR;
	vm->hv.kvm_fd = vm->hv.vm_fd = -1;
	vm->mem.fd = -1;
	vm->next_mmio = VM_MMIO_BASE;
	vm->next_irq = VM_IRQ_BASE;
	pthread_mutex_init(&vm->slot_lock, NULL);
	vm->exit_efd = eventfd(0, EFD_CLOEXEC);
	vm->ncpus = cfg->ncpus;
	for (unsigned i = 0; i < VM_MAX_VCPUS; i++)
		vm->vcpus[i].fd = -1;

	/* Every thread we create inherits this mask; only vCPUs unblock the kick. */
	sigemptyset(&set);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, KICK_SIGNAL);
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	sigdelset(&set, KICK_SIGNAL);
	sfd = signalfd(-1, &set, SFD_CLOEXEC);
	/* A closed console pipe must not kill the VMM; writes then fail with EPIPE. */
	signal(SIGPIPE, SIG_IGN);

	if (cfg->nfs)
		raise_fd_limit();
	ret = open_kvm(vm);
	if (!ret)
		ret = check_config(cfg, vm->hv.max_vcpus);
	if (!ret)
		ret = setup_memory(vm, cfg);
	if (!ret)
		ret = setup_devices(vm, cfg);
	if (!ret)
		ret = setup_acpi(vm);
	if (!ret)
		ret = load_kernel(vm, cfg, &bi);
	if (!ret)
		ret = setup_vcpus(vm, cfg, &bi);
	if (!ret)
		ret = drop_privileges(cfg);
	if (!ret && (ret = start_threads(vm, &started)))
		pr_err("cannot start threads: %s", strerror(-ret));
	if (!ret) {
		move_state(cfg, KILN_VM_STARTING, KILN_VM_RUNNING);
		wait_for_exit(vm, cfg, sfd);
	} else
		vm_request_exit(vm, VM_EXIT_ERROR);
	kick_vcpus(vm, started);
	status = exit_status(vm);
	vm_teardown(vm, started);
	if (sfd >= 0)
		close(sfd);
	free(vm);
	return status;
}
