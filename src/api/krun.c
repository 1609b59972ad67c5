/* The libkrun C API: configuration contexts and krun_start_enter. */
#define _GNU_SOURCE
#include <libkrun.h>
#include <kiln.h>

#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <sys/eventfd.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "api/workload.h"
#include "hv/hv.h"
#include "util/log.h"
#include "vmm/config.h"

#define MAX_CTX 64

#define KILN_EXPORT __attribute__((visibility("default")))

struct ctx {
	bool used;
	bool implicit_console;
	bool implicit_init;
	bool vm_config_set;
	bool console_to_file; /* krun_set_console_output was called */
	struct vm_config cfg;
	/* The workload, handed to the built-in init as a JSON file in the root share. */
	char *exec_path;
	char **argv, **envp, **rlimits;
	bool env_set;
	char *workdir;
	char *kernel_console;
	char *exec_json; /* built when the VM starts */
	int workload_status;
	int vm_state; /* enum kiln_vm_state; atomic: the VM moves it while it runs */
	/* krun_set_passt_fd/krun_set_gvproxy_path's NIC (-1: none) and krun_set_net_mac's MAC. */
	int legacy_net;
	uint8_t legacy_mac[6];
};

static struct ctx ctxs[MAX_CTX];

/*
 * libkrun's MAC for the deprecated network calls; Kiln's default for NIC n is
 * this with n added to the last byte (locally administered, unicast, stable).
 */
static const uint8_t net_default_mac[6] = { 0x5a, 0x94, 0xef, 0xe4, 0x0c, 0xee };
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

static void strv_free(char **v)
{
	for (char **p = v; p && *p; p++)
		free(*p);
	free(v);
}

/* A copy of a NULL-terminated string array (NULL stays NULL); -ENOMEM on failure. */
static int strv_dup(const char *const *src, char ***out)
{
	size_t n = 0;
	char **v;

	*out = NULL;
	if (!src)
		return 0;
	while (src[n])
		n++;
	v = calloc(n + 1, sizeof(*v));
	if (!v)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++) {
		if (!(v[i] = strdup(src[i]))) {
			strv_free(v);
			return -ENOMEM;
		}
	}
	*out = v;
	return 0;
}

static void free_cfg(struct vm_config *cfg)
{
	for (unsigned i = 0; i < cfg->nfs; i++) {
		free(cfg->fs[i].tag);
		free(cfg->fs[i].path);
	}
	for (unsigned i = 0; i < cfg->noverlays; i++) {
		free(cfg->overlays[i].tag);
		free(cfg->overlays[i].name);
	}
	for (unsigned i = 0; i < cfg->nvsock_ports; i++)
		free(cfg->vsock_ports[i].path);
	for (unsigned i = 0; i < cfg->nnets; i++)
		free(cfg->nets[i].path);
	if (cfg->shutdown_efd >= 0)
		close(cfg->shutdown_efd);
	if (cfg->hard_stop_efd >= 0)
		close(cfg->hard_stop_efd);
	free(cfg->kernel);
	free(cfg->initrd);
	free(cfg->cmdline);
	free(cfg->gpu_virgl);
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
		c->implicit_init = true;
		c->cfg.ncpus = 1;
		c->cfg.port_in = c->cfg.port_out = c->cfg.port_err = -1;
		c->cfg.shutdown_efd = c->cfg.hard_stop_efd = -1;
		c->cfg.setuid = c->cfg.setgid = -1;
		c->cfg.mem_mib = 512;
		c->cfg.balloon = true;
		c->cfg.console_in = STDIN_FILENO;
		c->cfg.console_out = STDOUT_FILENO;
		c->cfg.serial_out = STDOUT_FILENO;
		c->legacy_net = -1;
		memcpy(c->legacy_mac, net_default_mac, 6);
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
	free(c->exec_path);
	strv_free(c->argv);
	strv_free(c->envp);
	strv_free(c->rlimits);
	free(c->workdir);
	free(c->kernel_console);
	free(c->exec_json);
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
	struct vm_disk d = { .qcow2 = disk_format == KRUN_DISK_FORMAT_QCOW2,
			     .read_only = read_only };

	(void)direct_io;
	if (!block_id || !disk_path || sync_mode > KRUN_SYNC_FULL)
		return -EINVAL;
	if (disk_format != KRUN_DISK_FORMAT_RAW && disk_format != KRUN_DISK_FORMAT_QCOW2)
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

/* ---- Consoles ---- */

KILN_EXPORT int32_t krun_disable_implicit_console(uint32_t ctx_id)
{
	WITH_CTX(ctx_id, c);
	c->implicit_console = false;
	END_CTX(0);
}

/* hvc0 on the ttys among the fds; each fd that is not a tty gets its own named port. */
static void console_default(struct vm_config *cfg, int in, int out, int err)
{
	bool in_tty = in >= 0 && isatty(in), out_tty = out >= 0 && isatty(out);

	cfg->console = true;
	cfg->console_in = in_tty ? in : -1;
	cfg->port_in = in_tty ? -1 : in;
	/* With stdout redirected, kernel messages on hvc0 go to stderr, never into the data. */
	cfg->console_out = out_tty ? out : err;
	cfg->port_out = out_tty ? -1 : out;
	cfg->port_err = err >= 0 && !isatty(err) ? err : -1;
}

KILN_EXPORT int32_t krun_add_virtio_console_default(uint32_t ctx_id, int input_fd, int output_fd,
						    int err_fd)
{
	if (input_fd < -1 || output_fd < -1 || err_fd < -1)
		return -EINVAL;
	WITH_CTX(ctx_id, c);
	if (c->cfg.console && !c->implicit_console)
		END_CTX(-EBUSY); /* Kiln has one virtio-console device */
	console_default(&c->cfg, input_fd, output_fd, err_fd);
	c->implicit_console = false;
	END_CTX(0);
}

KILN_EXPORT int32_t kiln_add_console(uint32_t ctx_id, int input_fd, int output_fd)
{
	if (input_fd < -1 || output_fd < -1)
		return -EINVAL;
	WITH_CTX(ctx_id, c);
	c->cfg.console = true;
	c->cfg.console_in = input_fd;
	c->cfg.console_out = output_fd;
	c->cfg.port_in = c->cfg.port_out = c->cfg.port_err = -1;
	c->implicit_console = false;
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
	c->console_to_file = true;
	END_CTX(0);
}

KILN_EXPORT int32_t krun_add_serial_console_default(uint32_t ctx_id, int input_fd, int output_fd)
{
	if (input_fd < -1 || output_fd < -1)
		return -EINVAL;
	if (input_fd >= 0)
		pr_warn("serial console: input is not wired to ttyS0 yet; output only");
	return kiln_set_serial_output(ctx_id, output_fd);
}

KILN_EXPORT int32_t krun_add_virtio_console_multiport(uint32_t ctx_id)
{
	(void)ctx_id;
	return -ENOTSUP;
}

KILN_EXPORT int32_t krun_add_console_port_tty(uint32_t ctx_id, uint32_t console_id,
					      const char *name, int tty_fd)
{
	(void)ctx_id, (void)console_id, (void)name, (void)tty_fd;
	return -ENOTSUP;
}

KILN_EXPORT int32_t krun_add_console_port_inout(uint32_t ctx_id, uint32_t console_id,
						const char *name, int input_fd, int output_fd)
{
	(void)ctx_id, (void)console_id, (void)name, (void)input_fd, (void)output_fd;
	return -ENOTSUP;
}

KILN_EXPORT int32_t krun_set_kernel_console(uint32_t ctx_id, const char *console_id)
{
	char *copy;

	if (!console_id || !*console_id || strpbrk(console_id, " \t\n\""))
		return -EINVAL;
	if (!(copy = strdup(console_id)))
		return -ENOMEM;
	WITH_CTX(ctx_id, c);
	free(c->kernel_console);
	c->kernel_console = copy;
	END_CTX(0);
}

/* ---- Shares and the root file system ---- */

static bool valid_tag(const char *tag)
{
	size_t n = tag ? strlen(tag) : 0;

	return n > 0 && n <= KILN_FS_TAG_MAX;
}

static int add_fs(uint32_t ctx_id, const char *tag, const char *path, bool read_only)
{
	struct vm_fs f = { .read_only = read_only };
	struct stat st;

	if (!valid_tag(tag) || !path)
		return -EINVAL;
	if (stat(path, &st) < 0)
		return -errno;
	if (!S_ISDIR(st.st_mode))
		return -ENOTDIR;
	if (set_str(&f.tag, tag) || set_str(&f.path, path)) {
		free(f.tag);
		return -ENOMEM;
	}
	WITH_CTX(ctx_id, c);
	for (unsigned i = 0; i < c->cfg.nfs; i++) {
		if (!strcmp(c->cfg.fs[i].tag, tag)) {
			free(f.tag);
			free(f.path);
			END_CTX(-EEXIST);
		}
	}
	if (c->cfg.nfs == VM_MAX_FS) {
		free(f.tag);
		free(f.path);
		END_CTX(-ENOSPC);
	}
	c->cfg.fs[c->cfg.nfs++] = f;
	END_CTX(0);
}

KILN_EXPORT int32_t krun_add_virtiofs3(uint32_t ctx_id, const char *c_tag, const char *c_path,
				       uint64_t shm_size, bool read_only)
{
	(void)shm_size; /* no DAX window: the guest uses the page cache */
	return add_fs(ctx_id, c_tag, c_path, read_only);
}

KILN_EXPORT int32_t krun_add_virtiofs2(uint32_t ctx_id, const char *c_tag, const char *c_path,
				       uint64_t shm_size)
{
	return krun_add_virtiofs3(ctx_id, c_tag, c_path, shm_size, false);
}

KILN_EXPORT int32_t krun_add_virtiofs(uint32_t ctx_id, const char *c_tag, const char *c_path)
{
	return krun_add_virtiofs3(ctx_id, c_tag, c_path, 0, false);
}

KILN_EXPORT int32_t krun_set_root(uint32_t ctx_id, const char *root_path)
{
	return add_fs(ctx_id, KRUN_FS_ROOT_TAG, root_path, false);
}

KILN_EXPORT int32_t krun_disable_implicit_init(uint32_t ctx_id)
{
	WITH_CTX(ctx_id, c);
	c->implicit_init = false;
	END_CTX(0);
}

/* The init binary, linked in from the build of src/init (weak: absent in some test builds). */
extern const unsigned char kiln_init_blob[] __attribute__((weak));
extern const size_t kiln_init_blob_len __attribute__((weak));

KILN_EXPORT int32_t krun_get_default_init(const uint8_t **data_out, size_t *len_out)
{
	if (!data_out || !len_out)
		return -EINVAL;
	if (!kiln_init_blob || !&kiln_init_blob_len)
		return -ENOTSUP;
	*data_out = kiln_init_blob;
	*len_out = kiln_init_blob_len;
	return 0;
}

static bool valid_name(const char *name)
{
	return name && *name && strlen(name) < 256 && !strchr(name, '/') && strcmp(name, ".") &&
	       strcmp(name, "..");
}

/* Add (or replace) an overlay file; the caller holds ctx_lock. */
static int put_overlay(struct ctx *c, const char *tag, const char *name, const uint8_t *data,
		       size_t len, uint32_t mode, bool one_shot)
{
	struct vm_overlay o = { .data = data, .len = len, .mode = mode, .one_shot = one_shot };
	unsigned i;

	for (i = 0; i < c->cfg.noverlays; i++)
		if (!strcmp(c->cfg.overlays[i].tag, tag) && !strcmp(c->cfg.overlays[i].name, name))
			break;
	if (i == VM_MAX_OVERLAYS)
		return -ENOSPC;
	if (set_str(&o.tag, tag) || set_str(&o.name, name)) {
		free(o.tag);
		return -ENOMEM;
	}
	if (i < c->cfg.noverlays) {
		free(c->cfg.overlays[i].tag);
		free(c->cfg.overlays[i].name);
	} else {
		c->cfg.noverlays++;
	}
	c->cfg.overlays[i] = o;
	return 0;
}

KILN_EXPORT int32_t krun_fs_add_overlay_file(uint32_t ctx_id, const char *fs_tag, const char *path,
					     const uint8_t *data, size_t data_len, uint32_t mode,
					     bool one_shot)
{
	int ret;

	if (!valid_tag(fs_tag) || !path || (!data && data_len))
		return -EINVAL;
	if (strchr(path, '/'))
		return -ENOTSUP; /* no overlay directories yet */
	if (!valid_name(path))
		return -EINVAL;
	WITH_CTX(ctx_id, c);
	ret = put_overlay(c, fs_tag, path, data, data_len, (mode & 07777) | S_IFREG, one_shot);
	END_CTX(ret);
}

KILN_EXPORT int32_t krun_fs_add_overlay_dir(uint32_t ctx_id, const char *fs_tag, const char *path,
					    uint32_t mode)
{
	(void)ctx_id, (void)fs_tag, (void)path, (void)mode;
	return -ENOTSUP;
}

KILN_EXPORT int32_t krun_set_root_disk_remount(uint32_t ctx_id, const char *device,
					       const char *fstype, const char *options)
{
	(void)ctx_id, (void)device, (void)fstype, (void)options;
	return -ENOTSUP;
}

KILN_EXPORT int32_t krun_set_root_disk(uint32_t ctx_id, const char *disk_path)
{
	return krun_add_disk(ctx_id, "root", disk_path, false);
}

KILN_EXPORT int32_t krun_set_data_disk(uint32_t ctx_id, const char *disk_path)
{
	return krun_add_disk(ctx_id, "data", disk_path, false);
}

KILN_EXPORT int32_t krun_set_mapped_volumes(uint32_t ctx_id, const char *const mapped_volumes[])
{
	(void)ctx_id, (void)mapped_volumes;
	return -ENOTSUP;
}

/* ---- The workload ---- */

KILN_EXPORT int32_t krun_set_exec(uint32_t ctx_id, const char *exec_path, const char *const argv[],
				  const char *const envp[])
{
	char *path = NULL, **args = NULL, **env = NULL;
	int ret;

	if (!exec_path || !*exec_path)
		return -EINVAL;
	ret = set_str(&path, exec_path) ?: strv_dup(argv, &args) ?: strv_dup(envp, &env);
	if (ret) {
		free(path);
		strv_free(args);
		return ret;
	}
	WITH_CTX(ctx_id, c);
	free(c->exec_path);
	strv_free(c->argv);
	strv_free(c->envp);
	c->exec_path = path;
	c->argv = args;
	c->envp = env;
	c->env_set = true;
	END_CTX(0);
}

KILN_EXPORT int32_t krun_set_env(uint32_t ctx_id, const char *const envp[])
{
	char **env;
	int ret = strv_dup(envp, &env);

	if (ret)
		return ret;
	WITH_CTX(ctx_id, c);
	strv_free(c->envp);
	c->envp = env;
	c->env_set = true;
	END_CTX(0);
}

KILN_EXPORT int32_t krun_set_workdir(uint32_t ctx_id, const char *workdir_path)
{
	char *w = NULL;

	if (!workdir_path || !*workdir_path)
		return -EINVAL;
	if (set_str(&w, workdir_path))
		return -ENOMEM;
	WITH_CTX(ctx_id, c);
	free(c->workdir);
	c->workdir = w;
	END_CTX(0);
}

/* "RESOURCE=CUR:MAX": RESOURCE a number or a name, CUR/MAX numbers (or "unlimited"/-1). */
static bool valid_rlimit(const char *s)
{
	const char *eq = strchr(s, '='), *colon = eq ? strchr(eq, ':') : NULL;

	return eq && eq > s && colon && colon > eq + 1 && colon[1];
}

KILN_EXPORT int32_t krun_set_rlimits(uint32_t ctx_id, const char *const rlimits[])
{
	char **v;
	int ret;

	if (!rlimits)
		return -EINVAL;
	for (size_t i = 0; rlimits[i]; i++)
		if (!valid_rlimit(rlimits[i]))
			return -EINVAL;
	ret = strv_dup(rlimits, &v);
	if (ret)
		return ret;
	WITH_CTX(ctx_id, c);
	strv_free(c->rlimits);
	c->rlimits = v;
	END_CTX(0);
}

KILN_EXPORT int32_t krun_set_smbios_oem_strings(uint32_t ctx_id, const char *const oem_strings[])
{
	(void)ctx_id, (void)oem_strings;
	return -ENOTSUP;
}

KILN_EXPORT int32_t krun_set_firmware(uint32_t ctx_id, const char *firmware_path)
{
	(void)ctx_id, (void)firmware_path;
	return -ENOTSUP;
}

KILN_EXPORT int32_t krun_set_tee_config_file(uint32_t ctx_id, const char *filepath)
{
	(void)ctx_id, (void)filepath;
	return -ENOTSUP;
}

/* ---- Process, CPU and lifecycle ---- */

/* The eventfd in *efd, made on first use; the caller holds ctx_lock. The fd or -errno. */
static int get_efd(int *efd)
{
	if (*efd < 0)
		*efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	return *efd < 0 ? -errno : *efd;
}

KILN_EXPORT int32_t krun_get_shutdown_eventfd(uint32_t ctx_id)
{
	int fd;

	WITH_CTX(ctx_id, c);
	fd = get_efd(&c->cfg.shutdown_efd);
	END_CTX(fd);
}

KILN_EXPORT int32_t kiln_get_vm_state(uint32_t ctx_id)
{
	int state;

	WITH_CTX(ctx_id, c);
	state = __atomic_load_n(&c->vm_state, __ATOMIC_SEQ_CST);
	END_CTX(state);
}

/* The state moves to STOPPING from STARTING or RUNNING, never back from STOPPED. */
static void mark_stopping(struct ctx *c)
{
	int cur = __atomic_load_n(&c->vm_state, __ATOMIC_SEQ_CST);

	while ((cur == KILN_VM_STARTING || cur == KILN_VM_RUNNING) &&
	       !__atomic_compare_exchange_n(&c->vm_state, &cur, KILN_VM_STOPPING, false,
					    __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST))
		;
}

KILN_EXPORT int32_t kiln_stop(uint32_t ctx_id, uint32_t how)
{
	const uint64_t one = 1;
	int fd;

	WITH_CTX(ctx_id, c);
	if (how != KILN_STOP_ORDERLY && how != KILN_STOP_HARD)
		END_CTX(-EINVAL);
	if (__atomic_load_n(&c->vm_state, __ATOMIC_SEQ_CST) == KILN_VM_STOPPED)
		END_CTX(-ESRCH);
	fd = get_efd(how == KILN_STOP_HARD ? &c->cfg.hard_stop_efd : &c->cfg.shutdown_efd);
	if (fd < 0)
		END_CTX(fd);
	/* A full counter (EAGAIN) still has the VM asked. */
	if (write(fd, &one, sizeof(one)) < 0 && errno != EAGAIN)
		END_CTX(-errno);
	if (how == KILN_STOP_HARD ||
	    __atomic_load_n(&c->vm_state, __ATOMIC_SEQ_CST) == KILN_VM_RUNNING)
		mark_stopping(c);
	END_CTX(0);
}

KILN_EXPORT int32_t kiln_set_signal_shutdown(uint32_t ctx_id, bool enabled)
{
	WITH_CTX(ctx_id, c);
	c->cfg.signal_shutdown = enabled;
	END_CTX(0);
}

KILN_EXPORT int32_t krun_setuid(uint32_t ctx_id, uid_t uid)
{
	WITH_CTX(ctx_id, c);
	c->cfg.setuid = uid;
	END_CTX(0);
}

KILN_EXPORT int32_t krun_setgid(uint32_t ctx_id, gid_t gid)
{
	WITH_CTX(ctx_id, c);
	c->cfg.setgid = gid;
	END_CTX(0);
}

KILN_EXPORT int32_t krun_set_nested_virt(uint32_t ctx_id, bool enabled)
{
	WITH_CTX(ctx_id, c);
	c->cfg.nested = enabled;
	END_CTX(0);
}

/* Is the module parameter file set to "1" or "Y"? */
static int param_on(const char *path)
{
	char v = 0;
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return 0;
	if (read(fd, &v, 1) != 1)
		v = 0;
	close(fd);
	return v == '1' || v == 'Y' || v == 'y';
}

KILN_EXPORT int32_t krun_check_nested_virt(void)
{
	return param_on("/sys/module/kvm_amd/parameters/nested") ||
	       param_on("/sys/module/kvm_intel/parameters/nested");
}

KILN_EXPORT int32_t krun_split_irqchip(uint32_t ctx_id, bool enable)
{
	WITH_CTX(ctx_id, c);
	(void)c;
	END_CTX(enable ? -ENOTSUP : 0);
}

/* ---- Network ---- */

/*
 * Add a NIC: exactly one of path and fd, a unicast MAC (NULL: the default).
 * legacy: the deprecated calls' single NIC, replaced by a second such call and
 * given krun_set_net_mac's MAC whenever that is called.
 */
static int add_net(uint32_t ctx_id, enum vm_net_backend backend, const char *path, int fd,
		   const uint8_t *mac, uint32_t features, uint32_t flags, bool legacy)
{
	struct vm_net n = { .backend = backend, .fd = fd, .features = features, .flags = flags };
	int idx;

	if ((path == NULL) == (fd < 0) || (path && !*path) || fd < -1)
		return -EINVAL;
	if ((flags & ~(NET_FLAG_VFKIT | NET_FLAG_DHCP_CLIENT)) ||
	    ((flags & NET_FLAG_VFKIT) && backend != VM_NET_UNIXGRAM) || (mac && (mac[0] & 1)))
		return -EINVAL;
	if (set_str(&n.path, path))
		return -ENOMEM;
	WITH_CTX(ctx_id, c);
	idx = legacy && c->legacy_net >= 0 ? c->legacy_net : (int)c->cfg.nnets;
	if (idx == VM_MAX_NETS) {
		free(n.path);
		END_CTX(-ENOSPC);
	}
	memcpy(n.mac, legacy ? c->legacy_mac : mac ? mac : net_default_mac, 6);
	if (!mac && !legacy)
		n.mac[5] += idx;
	if (idx < (int)c->cfg.nnets)
		free(c->cfg.nets[idx].path);
	else
		c->cfg.nnets++;
	c->cfg.nets[idx] = n;
	if (legacy)
		c->legacy_net = idx;
	END_CTX(0);
}

KILN_EXPORT int32_t krun_add_net_unixstream(uint32_t ctx_id, const char *c_path, int fd,
					    uint8_t *const c_mac, uint32_t features, uint32_t flags)
{
	return add_net(ctx_id, VM_NET_UNIXSTREAM, c_path, fd, c_mac, features, flags, false);
}

KILN_EXPORT int32_t krun_add_net_unixgram(uint32_t ctx_id, const char *c_path, int fd,
					  uint8_t *const c_mac, uint32_t features, uint32_t flags)
{
	return add_net(ctx_id, VM_NET_UNIXGRAM, c_path, fd, c_mac, features, flags, false);
}

KILN_EXPORT int32_t krun_add_net_tap(uint32_t ctx_id, char *c_tap_name, uint8_t *const c_mac,
				     uint32_t features, uint32_t flags)
{
	if (!c_tap_name || (flags & NET_FLAG_VFKIT))
		return -EINVAL;
	return add_net(ctx_id, VM_NET_TAP, c_tap_name, -1, c_mac, features, flags, false);
}

KILN_EXPORT int32_t krun_set_passt_fd(uint32_t ctx_id, int fd)
{
	if (fd < 0)
		return -EINVAL;
	return add_net(ctx_id, VM_NET_UNIXSTREAM, NULL, fd, NULL, COMPAT_NET_FEATURES, 0, true);
}

KILN_EXPORT int32_t krun_set_gvproxy_path(uint32_t ctx_id, char *c_path)
{
	if (!c_path)
		return -EINVAL;
	return add_net(ctx_id, VM_NET_UNIXGRAM, c_path, -1, NULL, COMPAT_NET_FEATURES,
		       NET_FLAG_VFKIT, true);
}

KILN_EXPORT int32_t krun_set_net_mac(uint32_t ctx_id, uint8_t *const c_mac)
{
	if (!c_mac || (c_mac[0] & 1))
		return -EINVAL;
	WITH_CTX(ctx_id, c);
	memcpy(c->legacy_mac, c_mac, 6);
	if (c->legacy_net >= 0)
		memcpy(c->cfg.nets[c->legacy_net].mac, c_mac, 6);
	END_CTX(0);
}

/* ---- GPU; not implemented yet: port maps, displays, input, vhost-user ---- */

KILN_EXPORT int32_t krun_set_port_map(uint32_t ctx_id, const char *const port_map[])
{
	(void)ctx_id, (void)port_map;
	return -ENOTSUP;
}

/* virglrenderer flags a Venus device can honour; virgl (OpenGL) needs a display stack Kiln lacks.
 */
#define GPU_FLAGS_KNOWN                                                                            \
	(VIRGLRENDERER_USE_EGL | VIRGLRENDERER_THREAD_SYNC | VIRGLRENDERER_USE_GLX |               \
	 VIRGLRENDERER_USE_SURFACELESS | VIRGLRENDERER_USE_GLES |                                  \
	 VIRGLRENDERER_USE_EXTERNAL_BLOB | VIRGLRENDERER_VENUS | VIRGLRENDERER_NO_VIRGL |          \
	 VIRGLRENDERER_USE_ASYNC_FENCE_CB | VIRGLRENDERER_RENDER_SERVER | VIRGLRENDERER_DRM)

KILN_EXPORT int32_t krun_set_gpu_options2(uint32_t ctx_id, uint32_t virgl_flags, uint64_t shm_size)
{
	if (virgl_flags & ~(uint32_t)(GPU_FLAGS_KNOWN))
		return -EINVAL;
	if (!(virgl_flags & VIRGLRENDERER_VENUS))
		return -ENOTSUP;
	if (!shm_size || shm_size > KILN_GPU_SHM_MAX)
		return -EINVAL;
	WITH_CTX(ctx_id, c);
	c->cfg.gpu = true;
	c->cfg.gpu_drm = virgl_flags & VIRGLRENDERER_DRM;
	c->cfg.gpu_shm = (shm_size + 4095) & ~4095ULL;
	END_CTX(0);
}

KILN_EXPORT int32_t krun_set_gpu_options(uint32_t ctx_id, uint32_t virgl_flags)
{
	return krun_set_gpu_options2(ctx_id, virgl_flags, 8ULL << 30);
}

KILN_EXPORT int32_t kiln_set_gpu_library(uint32_t ctx_id, const char *path)
{
	char *copy = NULL;
	int ret;

	if (path && !*path)
		return -EINVAL;
	if ((ret = set_str(&copy, path)))
		return ret;
	WITH_CTX(ctx_id, c);
	free(c->cfg.gpu_virgl);
	c->cfg.gpu_virgl = copy;
	END_CTX(0);
}

KILN_EXPORT int32_t krun_add_display(uint32_t ctx_id, uint32_t width, uint32_t height)
{
	(void)ctx_id, (void)width, (void)height;
	return -ENOTSUP;
}

KILN_EXPORT int32_t krun_display_set_edid(uint32_t ctx_id, uint32_t display_id,
					  const uint8_t *edid_blob, size_t blob_size)
{
	(void)ctx_id, (void)display_id, (void)edid_blob, (void)blob_size;
	return -ENOTSUP;
}

KILN_EXPORT int32_t krun_display_set_dpi(uint32_t ctx_id, uint32_t display_id, uint32_t dpi)
{
	(void)ctx_id, (void)display_id, (void)dpi;
	return -ENOTSUP;
}

KILN_EXPORT int32_t krun_display_set_physical_size(uint32_t ctx_id, uint32_t display_id,
						   uint16_t width_mm, uint16_t height_mm)
{
	(void)ctx_id, (void)display_id, (void)width_mm, (void)height_mm;
	return -ENOTSUP;
}

KILN_EXPORT int32_t krun_display_set_refresh_rate(uint32_t ctx_id, uint32_t display_id,
						  uint32_t refresh_rate)
{
	(void)ctx_id, (void)display_id, (void)refresh_rate;
	return -ENOTSUP;
}

KILN_EXPORT int32_t krun_set_display_backend(uint32_t ctx_id, const void *display_backend,
					     size_t backend_size)
{
	(void)ctx_id, (void)display_backend, (void)backend_size;
	return -ENOTSUP;
}

KILN_EXPORT int krun_add_input_device(uint32_t ctx_id, const void *config_backend,
				      size_t config_backend_size, const void *events_backend,
				      size_t events_backend_size)
{
	(void)ctx_id, (void)config_backend, (void)config_backend_size, (void)events_backend,
		(void)events_backend_size;
	return -ENOTSUP;
}

KILN_EXPORT int krun_add_input_device_fd(uint32_t ctx_id, int input_fd)
{
	(void)ctx_id, (void)input_fd;
	return -ENOTSUP;
}

KILN_EXPORT int32_t krun_add_vhost_user_device(uint32_t ctx_id, uint32_t device_type,
					       const char *socket_path, const char *name,
					       uint16_t num_queues, const uint16_t *queue_sizes)
{
	(void)ctx_id, (void)device_type, (void)socket_path, (void)name, (void)num_queues,
		(void)queue_sizes;
	return -ENOTSUP;
}

/*
 * libkrun's semantics: listen = false, the guest connects to host port `port`
 * and the VMM connects to the unix socket at the path (a host program
 * listens there); listen = true, the VMM listens at the path and each client
 * gets a stream to the guest's port `port`.
 */
KILN_EXPORT int32_t krun_add_vsock_port2(uint32_t ctx_id, uint32_t port, const char *c_filepath,
					 bool listen)
{
	struct vm_vsock_port *p;

	if (!c_filepath || !*c_filepath || port == UINT32_MAX)
		return -EINVAL;
	if (strlen(c_filepath) >= sizeof(((struct sockaddr_un *)0)->sun_path))
		return -ENAMETOOLONG;
	WITH_CTX(ctx_id, c);
	for (unsigned i = 0; i < c->cfg.nvsock_ports; i++)
		if (c->cfg.vsock_ports[i].port == port &&
		    c->cfg.vsock_ports[i].host_listens == listen)
			END_CTX(-EEXIST);
	if (c->cfg.nvsock_ports == VM_MAX_VSOCK)
		END_CTX(-ENOSPC);
	p = &c->cfg.vsock_ports[c->cfg.nvsock_ports];
	*p = (struct vm_vsock_port){ .port = port, .host_listens = listen };
	if (set_str(&p->path, c_filepath))
		END_CTX(-ENOMEM);
	c->cfg.nvsock_ports++;
	c->cfg.vsock = true;
	END_CTX(0);
}

KILN_EXPORT int32_t krun_add_vsock_port(uint32_t ctx_id, uint32_t port, const char *c_filepath)
{
	return krun_add_vsock_port2(ctx_id, port, c_filepath, false);
}

/* A vsock device without TSI (tsi_features 0); Kiln has no TSI (-ENOTSUP otherwise). */
KILN_EXPORT int32_t krun_add_vsock(uint32_t ctx_id, uint32_t tsi_features)
{
	if (tsi_features)
		return -ENOTSUP;
	WITH_CTX(ctx_id, c);
	c->cfg.vsock = true;
	END_CTX(0);
}

KILN_EXPORT int32_t krun_disable_implicit_vsock(uint32_t ctx_id)
{
	WITH_CTX(ctx_id, c);
	(void)c; /* Kiln never adds an implicit vsock device */
	END_CTX(0);
}

KILN_EXPORT int32_t krun_has_feature(uint64_t feature)
{
	switch (feature) {
	case KRUN_FEATURE_BLK:
	case KRUN_FEATURE_NET:
		return 1;
	case KRUN_FEATURE_INIT_BLOB:
		return kiln_init_blob ? 1 : 0;
	case KRUN_FEATURE_GPU:
		return 1;
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

KILN_EXPORT int32_t kiln_set_balloon(uint32_t ctx_id, bool enabled)
{
	WITH_CTX(ctx_id, c);
	c->cfg.balloon = enabled;
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

/* ---- Starting the VM ---- */

/*
 * The default guest kernel and initramfs, found relative to this library so
 * that a copied build or install tree works: <libdir>/guest (the build tree),
 * <libdir>/../share/kiln and <libdir>/../../share/kiln (installs, multiarch).
 */
static int default_kernel(char **kernel, char **initrd)
{
	static const char *const rel[] = { "guest", "../share/kiln/guest",
					   "../../share/kiln/guest" };
	Dl_info info;
	char dir[PATH_MAX], k[PATH_MAX + 64], i[PATH_MAX + 64];

	if (!dladdr((void *)default_kernel, &info) || !info.dli_fname)
		return -ENOENT;
	snprintf(dir, sizeof(dir), "%s", info.dli_fname);
	if (strrchr(dir, '/'))
		*strrchr(dir, '/') = 0;
	else
		snprintf(dir, sizeof(dir), ".");
	for (size_t n = 0; n < sizeof(rel) / sizeof(rel[0]); n++) {
		snprintf(k, sizeof(k), "%s/%s/vmlinuz", dir, rel[n]);
		snprintf(i, sizeof(i), "%s/%s/initrd.img", dir, rel[n]);
		if (access(k, R_OK) == 0 && access(i, R_OK) == 0) {
			*kernel = strdup(k);
			*initrd = strdup(i);
			if (*kernel && *initrd)
				return 0;
			free(*kernel);
			free(*initrd);
			return -ENOMEM;
		}
	}
	pr_err("no guest kernel: none was set (krun_set_kernel) and the default one is not in "
	       "%s/guest; run 'make setup' (it prepares build/guest from Debian's kernel)",
	       dir);
	return -ENOENT;
}

static const struct vm_fs *find_fs(const struct vm_config *cfg, const char *tag)
{
	for (unsigned i = 0; i < cfg->nfs; i++)
		if (!strcmp(cfg->fs[i].tag, tag))
			return &cfg->fs[i];
	return NULL;
}

extern char **environ;

/* Complete the configuration for a VM that runs a workload on a virtio-fs root. */
static int prepare_workload(struct ctx *c)
{
	const struct vm_fs *root = find_fs(&c->cfg, VM_ROOT_TAG);
	struct workload_nic nics[VM_MAX_NETS];
	struct workload w = {
		.exec_path = c->exec_path,
		.argv = c->argv,
		.envp = c->env_set && c->envp ? c->envp : environ,
		.workdir = c->workdir,
		.rlimits = c->rlimits,
		.has_exec = c->exec_path || c->workdir || c->rlimits || c->env_set,
		.nics = nics,
	};
	bool dhcp = false;
	char *cl;
	int ret;

	if (!root)
		return 0;
	if (c->implicit_init && kiln_init_blob) {
		ret = put_overlay(c, VM_ROOT_TAG, VM_INIT_NAME, kiln_init_blob, kiln_init_blob_len,
				  S_IFREG | 0755, false);
		if (ret)
			return ret;
	}
	for (unsigned i = 0; i < c->cfg.nnets; i++, w.nnics++) {
		memcpy(nics[i].mac, c->cfg.nets[i].mac, 6);
		nics[i].dhcp = c->cfg.nets[i].flags & NET_FLAG_DHCP_CLIENT;
		dhcp |= nics[i].dhcp;
	}
	/* Without a workload it holds the NICs alone; the init finds its config as usual. */
	if (w.has_exec || dhcp) {
		free(c->exec_json);
		if (!(c->exec_json = workload_json(&w)))
			return -ENOMEM;
		ret = put_overlay(c, VM_ROOT_TAG, VM_EXEC_NAME, (const uint8_t *)c->exec_json,
				  strlen(c->exec_json), S_IFREG | 0444, false);
		if (ret)
			return ret;
	}
	cl = workload_cmdline(c->cfg.cmdline, c->kernel_console, root->read_only, w.has_exec);
	if (!cl)
		return -ENOMEM;
	free(c->cfg.cmdline);
	c->cfg.cmdline = cl;
	return 0;
}

KILN_EXPORT int32_t kiln_run(uint32_t ctx_id)
{
	struct vm_config cfg;
	int ret, status;

	WITH_CTX(ctx_id, c);
	if (!c->cfg.kernel && (ret = default_kernel(&c->cfg.kernel, &c->cfg.initrd)))
		END_CTX(ret);
	ret = prepare_workload(c);
	if (ret) {
		pr_err("cannot prepare the workload: %s", strerror(-ret));
		END_CTX(ret);
	}
	if (c->implicit_console && c->console_to_file)
		c->cfg.console = true; /* hvc0 to the file, no input */
	else if (c->implicit_console)
		console_default(&c->cfg, STDIN_FILENO, STDOUT_FILENO, STDERR_FILENO);
	c->workload_status = -1;
	c->cfg.workload_status = &c->workload_status;
	/* kiln_stop may come from another thread once the VM runs: it needs both eventfds now. */
	if ((ret = get_efd(&c->cfg.shutdown_efd)) < 0 || (ret = get_efd(&c->cfg.hard_stop_efd)) < 0)
		END_CTX(ret);
	c->cfg.vm_state = &c->vm_state;
	__atomic_store_n(&c->vm_state, KILN_VM_STARTING, __ATOMIC_SEQ_CST);
	/* The VM runs on a snapshot, so the context lock is not held while it runs. */
	cfg = c->cfg;
	pthread_mutex_unlock(&ctx_lock);
	status = vm_run(&cfg);
	__atomic_store_n(&c->vm_state, KILN_VM_STOPPED, __ATOMIC_SEQ_CST);
	/* The workload's status is the process's, when the init reported one. */
	return status == VM_STATUS_OK && c->workload_status >= 0 ? c->workload_status : status;
}

KILN_EXPORT int32_t krun_start_enter(uint32_t ctx_id)
{
	int32_t ret = kiln_run(ctx_id);

	if (ret < 0)
		return ret;
	exit(ret);
}
