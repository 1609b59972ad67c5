/*
 * Stage 1: PID 1 in the module initramfs that lets a stock distribution kernel, which builds
 * virtio-fs as a module, boot from a virtio-fs root. Load the modules, mount the root, switch to
 * it and become its /init.krun.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "init/abi.h"
#include "init/sys.h"

#ifndef MODULE_INIT_COMPRESSED_FILE
#define MODULE_INIT_COMPRESSED_FILE 4 /* linux/module.h, 6.4 */
#endif

#define NEWROOT	      "/newroot"
#define ROOT_WAIT_MS  2000
#define ROOT_RETRY_MS 20

static const char *root_mounted; /* where to report the status when we must give up */

static void __attribute__((noreturn)) die(const char *what, int err)
{
	init_msg("%s: %s", what, strerror(err));
	power_off(KILN_EXIT_SETUP, root_mounted);
}

static void trim(char *s)
{
	size_t n = strlen(s);

	while (n && (s[n - 1] == '\n' || s[n - 1] == '\r' || s[n - 1] == ' ' || s[n - 1] == '\t'))
		s[--n] = 0;
}

/* Names in modules.order may come with or without ".ko"; compressed ones the kernel unpacks. */
static void load_module(const char *name)
{
	char path[512];
	const char *ko = strstr(name, ".ko");
	int flags = 0, fd;

	if (ko && ko[3] == '.')
		flags = MODULE_INIT_COMPRESSED_FILE;
	if (snprintf(path, sizeof(path), "/lib/modules/%s%s", name, ko ? "" : ".ko") >=
	    (int)sizeof(path)) {
		init_msg("module name too long: %.64s...", name);
		return;
	}
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		init_msg("%s: %s", path, strerror(errno));
		return;
	}
	if (syscall(SYS_finit_module, fd, "", flags) && errno != EEXIST)
		init_msg("load %s: %s", path, strerror(errno));
	close(fd);
	/* The initramfs stays in RAM for the life of the VM: give the module's pages back. */
	unlink(path);
}

static void load_modules(void)
{
	FILE *f = fopen(KILN_MODULES_ORDER, "re");
	char line[256];

	if (!f)
		die(KILN_MODULES_ORDER, errno);
	while (fgets(line, sizeof(line), f)) {
		char *name = line + strspn(line, " \t");

		trim(name);
		if (*name && *name != '#')
			load_module(name);
	}
	fclose(f);
}

/* The virtio-fs device may still be probing when the module has loaded: retry for a while. */
static void mount_root(void)
{
	const char *tag = getenv("KRUN_ROOT_TAG"), *ro = getenv("KRUN_ROOT_RO");
	unsigned long flags = ro && !strcmp(ro, "1") ? MS_RDONLY : 0;
	const struct timespec pause = { 0, ROOT_RETRY_MS * 1000000L };

	if (!tag || !*tag)
		tag = KILN_ROOT_TAG_DEFAULT;
	mkdir(NEWROOT, 0755);
	for (int waited = 0; mount(tag, NEWROOT, "virtiofs", flags, NULL);
	     waited += ROOT_RETRY_MS) {
		if (waited >= ROOT_WAIT_MS) {
			int err = errno;
			char what[160];

			snprintf(what, sizeof(what), "mount virtiofs %s on " NEWROOT, tag);
			die(what, err);
		}
		nanosleep(&pause, NULL);
	}
	root_mounted = NEWROOT;
}

static void switch_root(void)
{
	struct stat st;

	if (!stat(NEWROOT "/dev", &st) && S_ISDIR(st.st_mode)) {
		if (mount("/dev", NEWROOT "/dev", NULL, MS_MOVE, NULL))
			die("move /dev to the new root", errno);
	} else {
		umount2("/dev", MNT_DETACH);
	}
	umount2("/proc", MNT_DETACH);
	if (chdir(NEWROOT))
		die("chdir " NEWROOT, errno);
	if (mount(".", "/", NULL, MS_MOVE, NULL))
		die("move the new root to /", errno);
	root_mounted = "/";
	if (chroot("."))
		die("chroot", errno);
	if (chdir("/"))
		die("chdir /", errno);
}

void initramfs_main(char **argv, char **envp)
{
	mkdir("/dev", 0755);
	if (mount("devtmpfs", "/dev", "devtmpfs", MS_NOSUID, NULL) && errno != EBUSY)
		die("mount devtmpfs on /dev", errno);
	console_fds();
	mkdir("/proc", 0755);
	if (mount("proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL) &&
	    errno != EBUSY)
		die("mount proc on /proc", errno);
	load_modules();
	mount_root();
	switch_root();
	execve(KILN_INIT_PATH, argv, envp);
	die(KILN_INIT_PATH, errno);
}
