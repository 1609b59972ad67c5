/*
 * kiln-init: the guest's PID 1, as libkrun's init.krun. Two stages in one static binary:
 *   stage 1, /init of the module initramfs (PID 1 and /modules.order exists): initramfs.c;
 *   stage 2, /init.krun in the virtio-fs root: set the VM up like a container, run the
 *   workload, send its exit status to the host and power off.
 * Not PID 1 (a test on the host), stage 2 leaves the machine alone: no mounts, hostname,
 * network, console or power-off; it just runs the workload and exits with its status.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/reboot.h>
#include <sys/stat.h>
#include <unistd.h>

#include "init/abi.h"
#include "init/input.h"
#include "init/json.h"
#include "init/net.h"
#include "init/sys.h"

extern char **environ;

static const struct {
	const char *type, *target;
	unsigned long flags;
	const char *data;
} mounts[] = {
	{ "devtmpfs", "/dev", MS_NOSUID, NULL },
	{ "proc", "/proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL },
	{ "sysfs", "/sys", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL },
	{ "cgroup2", "/sys/fs/cgroup", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL },
	{ "devpts", "/dev/pts", MS_NOSUID | MS_NOEXEC, "newinstance,ptmxmode=0666,mode=0620" },
	{ "tmpfs", "/dev/shm", MS_NOSUID | MS_NODEV, "mode=1777" },
};

static void mount_all(void)
{
	static const char *const links[][2] = {
		{ "/proc/self/fd", "/dev/fd" },
		{ "/proc/self/fd/0", "/dev/stdin" },
		{ "/proc/self/fd/1", "/dev/stdout" },
		{ "/proc/self/fd/2", "/dev/stderr" },
	};

	for (size_t i = 0; i < sizeof(mounts) / sizeof(mounts[0]); i++) {
		int ret = mount_once(mounts[i].type, mounts[i].type, mounts[i].target,
				     mounts[i].flags, mounts[i].data);

		if (ret)
			init_msg("mount %s on %s: %s", mounts[i].type, mounts[i].target,
				 strerror(-ret));
		if (i == 0)
			console_fds(); /* a virtio-fs root has no /dev/console for the kernel */
	}
	for (size_t i = 0; i < sizeof(links) / sizeof(links[0]); i++)
		if (symlink(links[i][0], links[i][1]) && errno != EEXIST)
			init_msg("symlink %s: %s", links[i][1], strerror(errno));
}

/* The /dev node of the virtio-console port named name, e.g. /dev/vport0p1. */
static bool find_port(const char *name, char *dev, size_t size)
{
	DIR *d = opendir("/sys/class/virtio-ports");
	struct dirent *e;
	bool found = false;

	if (!d)
		return false;
	while (!found && (e = readdir(d))) {
		char path[300], buf[64];
		ssize_t n;
		int fd;

		if (e->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "/sys/class/virtio-ports/%s/name", e->d_name);
		fd = open(path, O_RDONLY | O_CLOEXEC);
		if (fd < 0)
			continue;
		n = read(fd, buf, sizeof(buf) - 1);
		close(fd);
		if (n <= 0)
			continue;
		buf[n] = 0;
		buf[strcspn(buf, "\n")] = 0;
		if (!strcmp(buf, name))
			found = snprintf(dev, size, "/dev/%s", e->d_name) < (int)size;
	}
	closedir(d);
	return found;
}

/*
 * The workload's stdio becomes init's own fds 0-2: the krun-std* ports, or the console. From
 * here on init's messages go where the user reads the workload's.
 */
static void open_stdio(void)
{
	static const char *const names[3] = { "krun-stdin", "krun-stdout", "krun-stderr" };

	for (int i = 0; i < 3; i++) {
		char dev[300];
		int fd = -1;

		if (find_port(names[i], dev, sizeof(dev))) {
			fd = open(dev, (i ? O_WRONLY : O_RDONLY) | O_NOCTTY);
			if (fd < 0)
				init_msg("%s: %s", dev, strerror(errno));
		}
		if (fd < 0)
			fd = open("/dev/console", O_RDWR | O_NOCTTY);
		if (fd < 0) {
			init_msg("/dev/console: %s", strerror(errno));
			continue;
		}
		if (fd != i) {
			dup2(fd, i);
			close(fd);
		}
	}
}

/* The whole file, up to one byte more than the parser takes (it then says "too large"). */
static int read_config(const char *path, char **text, size_t *len)
{
	size_t cap = JSON_MAX_SIZE + 1, n = 0;
	char *buf;
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return -errno;
	buf = malloc(cap);
	if (!buf) {
		close(fd);
		return -ENOMEM;
	}
	while (n < cap) {
		ssize_t r = read(fd, buf + n, cap - n);

		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			int err = -errno;

			free(buf);
			close(fd);
			return err;
		}
		if (!r)
			break;
		n += r;
	}
	close(fd);
	*text = buf;
	*len = n;
	return 0;
}

static int load_config(struct init_config *c, char **args, bool console)
{
	const char *path = getenv("KRUN_CONFIG");
	struct config_input in = { .kenv = environ, .kargs = args, .console = console };
	char *text = NULL;
	int ret;

	if (!path && !access(KILN_CONFIG_PATH, F_OK))
		path = KILN_CONFIG_PATH;
	if (path) {
		size_t len = 0;

		ret = read_config(path, &text, &len);
		if (ret) {
			memset(c, 0, sizeof(*c));
			init_msg("%s: %s", path, strerror(-ret));
			return ret;
		}
		in.json = text;
		in.json_len = len;
		in.json_name = path;
	}
	ret = config_build(c, &in);
	if (ret)
		init_msg("%s", c->error);
	free(text);
	return ret;
}

/* The NICs from the VMM's file; none when there is no such file (another VMM, a host test). */
static bool load_net(struct init_net *net)
{
	char *text;
	size_t len;
	int ret = read_config(KILN_VMM_CONFIG_PATH, &text, &len);

	if (ret) {
		if (ret != -ENOENT)
			init_msg("%s: %s", KILN_VMM_CONFIG_PATH, strerror(-ret));
		return false;
	}
	ret = config_net(net, text, len);
	if (ret)
		init_msg("%s: %s: the network stays unconfigured", KILN_VMM_CONFIG_PATH,
			 net->error);
	free(text);
	return !ret;
}

static void set_up_machine(const struct init_config *c)
{
	struct init_net net;

	if (sethostname(c->hostname, strlen(c->hostname)))
		init_msg("sethostname %s: %s", c->hostname, strerror(errno));
	net_setup(load_net(&net) ? &net : NULL);
}

/*
 * The event devices that report the power button: the machine's as PID 1 (the modules are
 * loaded and devtmpfs is mounted by now); on a host only where KRUN_INPUT_DIR says (the tests).
 */
static size_t open_inputs(bool pid1, int *fds)
{
	const char *dir = pid1 ? INPUT_DIR : getenv("KRUN_INPUT_DIR");

	return dir ? input_open_power_keys(dir, fds, INPUT_MAX_FDS) : 0;
}

/* args: init's arguments after argv[0]. */
static int run(bool pid1, char **args)
{
	struct init_config c;
	sigset_t set, old;
	int inputs[INPUT_MAX_FDS];
	size_t ninputs;
	pid_t pid;
	int status;

	if (pid1) {
		mount_all();
		/* Ctrl-Alt-Del (the VMM's orderly shutdown) becomes SIGINT, for the workload. */
		reboot(RB_DISABLE_CAD);
		open_stdio();
	} else {
		prctl(PR_SET_CHILD_SUBREAPER, 1);
	}
	if (load_config(&c, args, isatty(1))) {
		config_free(&c);
		return KILN_EXIT_SETUP;
	}
	if (pid1)
		set_up_machine(&c);
	sigemptyset(&set);
	sigaddset(&set, SIGCHLD);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigprocmask(SIG_BLOCK, &set, &old);
	/* Before the workload starts: a press once it runs is never missed. */
	ninputs = open_inputs(pid1, inputs);
	pid = workload_start(&c, &old, pid1);
	if (pid < 0) {
		init_msg("fork: %s", strerror(-pid));
		status = KILN_EXIT_SETUP;
		while (ninputs)
			close(inputs[--ninputs]);
	} else {
		status = workload_wait(pid, &set, inputs, ninputs);
	}
	config_free(&c);
	return status;
}

int main(int argc, char **argv)
{
	bool pid1 = getpid() == 1;
	int status;

	if (pid1 && !access(KILN_MODULES_ORDER, F_OK))
		initramfs_main(argv, environ);
	status = run(pid1, argc > 0 ? argv + 1 : argv);
	if (pid1)
		power_off(status, "/");
	return status;
}
