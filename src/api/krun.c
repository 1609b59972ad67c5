/* The libkrun C API: configuration contexts and krun_start_enter. */
#define _GNU_SOURCE
#include <libkrun.h>
#include <kiln.h>

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "hv/hv.h"
#include "util/log.h"
#include "vmm/config.h"

#define MAX_CTX 64

#define KILN_EXPORT __attribute__((visibility("default")))

struct ctx {
	bool used;
	bool implicit_console;
	bool vm_config_set;
	struct vm_config cfg;
};

static struct ctx ctxs[MAX_CTX];
static pthread_mutex_t ctx_lock = PTHREAD_MUTEX_INITIALIZER;

/* Look up a context; the caller holds ctx_lock. */
static struct ctx *get_ctx(uint32_t id)
{
	return id < MAX_CTX && ctxs[id].used ? &ctxs[id] : NULL;
}

#define WITH_CTX(id, c)                                                                            \
	struct ctx *c;                                                                             \
	pthread_mutex_lock(&ctx_lock);                                                             \
	c = get_ctx(id);                                                                           \
	if (!c) {                                                                                  \
		pthread_mutex_unlock(&ctx_lock);                                                   \
		return -EINVAL;                                                                    \
	}

#define END_CTX(ret)                                                                               \
	do {                                                                                       \
		pthread_mutex_unlock(&ctx_lock);                                                   \
		return (ret);                                                                      \
	} while (0)

static void free_cfg(struct vm_config *cfg)
{
	free(cfg->kernel);
	free(cfg->initrd);
	free(cfg->cmdline);
	for (unsigned i = 0; i < cfg->ndisks; i++) {
		free(cfg->disks[i].id);
		free(cfg->disks[i].path);
	}
	if (cfg->console_out > STDERR_FILENO)
		close(cfg->console_out);
	memset(cfg, 0, sizeof(*cfg));
}

/* Replace *dst with a copy of src (NULL allowed); -ENOMEM leaves *dst as it was. */
static int set_str(char **dst, const char *src)
{
	char *copy = NULL;

	if (src && !(copy = strdup(src)))
		return -ENOMEM;
	free(*dst);
	*dst = copy;
	return 0;
}

KILN_EXPORT int32_t krun_set_log_level(uint32_t level)
{
	if (level > KRUN_LOG_LEVEL_TRACE)
		return -EINVAL;
	log_set_level(level);
	return 0;
}

KILN_EXPORT int32_t krun_init_log(int target_fd, uint32_t level, uint32_t style, uint32_t options)
{
	(void)style;
	(void)options;
	if (level > KRUN_LOG_LEVEL_TRACE || target_fd < KRUN_LOG_TARGET_DEFAULT)
		return -EINVAL;
	if (target_fd != KRUN_LOG_TARGET_DEFAULT && fcntl(target_fd, F_GETFD) < 0)
		return -EBADF;
	log_set_fd(target_fd == KRUN_LOG_TARGET_DEFAULT ? STDERR_FILENO : target_fd);
	log_set_level(level);
	return 0;
}

KILN_EXPORT int32_t krun_create_ctx(void)
{
	int32_t id = -ENOSPC;

	pthread_mutex_lock(&ctx_lock);
	for (int i = 0; i < MAX_CTX; i++) {
		struct ctx *c = &ctxs[i];

		if (c->used)
			continue;
		memset(c, 0, sizeof(*c));
		c->used = true;
		c->implicit_console = true;
		c->cfg.ncpus = 1;
		c->cfg.mem_mib = 512;
		c->cfg.console_in = STDIN_FILENO;
		c->cfg.console_out = STDOUT_FILENO;
		c->cfg.serial_out = STDOUT_FILENO;
		id = i;
		break;
	}
	pthread_mutex_unlock(&ctx_lock);
	return id;
}

KILN_EXPORT int32_t krun_free_ctx(uint32_t ctx_id)
{
	WITH_CTX(ctx_id, c);
	free_cfg(&c->cfg);
	c->used = false;
	END_CTX(0);
}

KILN_EXPORT int32_t krun_set_vm_config(uint32_t ctx_id, uint8_t num_vcpus, uint32_t ram_mib)
{
	if (num_vcpus == 0 || ram_mib == 0)
		return -EINVAL;
	WITH_CTX(ctx_id, c);
	c->cfg.ncpus = num_vcpus;
	c->cfg.mem_mib = ram_mib;
	c->vm_config_set = true;
	END_CTX(0);
}

KILN_EXPORT int32_t krun_get_max_vcpus(void)
{
	struct hv_vm vm;
	int n;

	if (hv_open(&vm))
		return -ENODEV;
	n = vm.max_vcpus;
	hv_close(&vm);
	return n < 255 ? n : 255;
}

KILN_EXPORT int32_t krun_set_kernel(uint32_t ctx_id, const char *kernel_path,
				    uint32_t kernel_format, const char *initramfs,
				    const char *cmdline)
{
	char *k = NULL, *i = NULL, *cl = NULL;
	int ret;

	if (!kernel_path)
		return -EINVAL;
	/* Compressed raw images (PE_GZ, IMAGE_*) are arm64 formats. */
	if (kernel_format != KRUN_KERNEL_FORMAT_RAW && kernel_format != KRUN_KERNEL_FORMAT_ELF)
		return -ENOTSUP;
	ret = set_str(&k, kernel_path) ?: set_str(&i, initramfs) ?: set_str(&cl, cmdline);
	if (ret) {
		free(k);
		free(i);
		return ret;
	}
	WITH_CTX(ctx_id, c);
	free(c->cfg.kernel);
	free(c->cfg.initrd);
	free(c->cfg.cmdline);
	c->cfg.kernel = k;
	c->cfg.initrd = i;
	c->cfg.cmdline = cl;
	END_CTX(0);
}

KILN_EXPORT int32_t krun_add_disk3(uint32_t ctx_id, const char *block_id, const char *disk_path,
				   uint32_t disk_format, bool read_only, bool direct_io,
				   uint32_t sync_mode)
{
	struct vm_disk d = { .read_only = read_only };

	(void)direct_io;
	if (!block_id || !disk_path || sync_mode > KRUN_SYNC_FULL)
		return -EINVAL;
	if (disk_format != KRUN_DISK_FORMAT_RAW)
		return -ENOTSUP;
	if (set_str(&d.id, block_id) || set_str(&d.path, disk_path)) {
		free(d.id);
		return -ENOMEM;
	}
	WITH_CTX(ctx_id, c);
	if (c->cfg.ndisks == VM_MAX_DISKS) {
		free(d.id);
		free(d.path);
		END_CTX(-ENOSPC);
	}
	c->cfg.disks[c->cfg.ndisks++] = d;
	END_CTX(0);
}

KILN_EXPORT int32_t krun_add_disk2(uint32_t ctx_id, const char *block_id, const char *disk_path,
				   uint32_t disk_format, bool read_only)
{
	return krun_add_disk3(ctx_id, block_id, disk_path, disk_format, read_only, false,
			      KRUN_SYNC_FULL);
}

KILN_EXPORT int32_t krun_add_disk(uint32_t ctx_id, const char *block_id, const char *disk_path,
				  bool read_only)
{
	return krun_add_disk2(ctx_id, block_id, disk_path, KRUN_DISK_FORMAT_RAW, read_only);
}

KILN_EXPORT int32_t krun_disable_implicit_console(uint32_t ctx_id)
{
	WITH_CTX(ctx_id, c);
	c->implicit_console = false;
	END_CTX(0);
}

KILN_EXPORT int32_t krun_add_virtio_console_default(uint32_t ctx_id, int input_fd, int output_fd,
						    int err_fd)
{
	(void)err_fd;
	if (input_fd < -1 || output_fd < -1)
		return -EINVAL;
	WITH_CTX(ctx_id, c);
	c->cfg.console = true;
	c->cfg.console_in = input_fd;
	c->cfg.console_out = output_fd;
	END_CTX(0);
}

KILN_EXPORT int32_t krun_set_console_output(uint32_t ctx_id, const char *c_filepath)
{
	int fd;

	if (!c_filepath)
		return -EINVAL;
	fd = open(c_filepath, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_APPEND, 0644);
	if (fd < 0)
		return -errno;
	WITH_CTX(ctx_id, c);
	if (c->cfg.console_out > STDERR_FILENO)
		close(c->cfg.console_out);
	c->cfg.console_out = fd;
	c->cfg.serial_out = fd;
	c->cfg.console_in = -1;
	END_CTX(0);
}

KILN_EXPORT int32_t krun_has_feature(uint64_t feature)
{
	switch (feature) {
	case KRUN_FEATURE_BLK:
		return 1;
	case KRUN_FEATURE_NET:
	case KRUN_FEATURE_GPU:
	case KRUN_FEATURE_SND:
	case KRUN_FEATURE_INPUT:
	case KRUN_FEATURE_EFI:
	case KRUN_FEATURE_TEE:
	case KRUN_FEATURE_AMD_SEV:
	case KRUN_FEATURE_INTEL_TDX:
	case KRUN_FEATURE_AWS_NITRO:
	case KRUN_FEATURE_VIRGL_RESOURCE_MAP2:
		return 0;
	}
	return -EINVAL;
}

KILN_EXPORT int32_t kiln_add_rng(uint32_t ctx_id)
{
	WITH_CTX(ctx_id, c);
	c->cfg.rng = true;
	END_CTX(0);
}

KILN_EXPORT int32_t kiln_set_serial_output(uint32_t ctx_id, int fd)
{
	if (fd < -1)
		return -EINVAL;
	WITH_CTX(ctx_id, c);
	c->cfg.serial_out = fd;
	END_CTX(0);
}

KILN_EXPORT int32_t kiln_run(uint32_t ctx_id)
{
	struct vm_config cfg;

	WITH_CTX(ctx_id, c);
	if (!c->cfg.kernel) {
		pr_err("no kernel configured (krun_set_kernel)");
		END_CTX(-EINVAL);
	}
	if (c->implicit_console)
		c->cfg.console = true;
	/* The VM runs on a snapshot, so the context lock is not held while it runs. */
	cfg = c->cfg;
	pthread_mutex_unlock(&ctx_lock);
	return vm_run(&cfg);
}

KILN_EXPORT int32_t krun_start_enter(uint32_t ctx_id)
{
	int32_t ret = kiln_run(ctx_id);

	if (ret < 0)
		return ret;
	exit(ret);
}
