#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/reboot.h>
#include <sys/stat.h>
#include <unistd.h>

#include "init/abi.h"
#include "init/sys.h"

void init_msg(const char *fmt, ...)
{
	char buf[512];
	static const char prefix[] = "kiln-init: ";
	int n = sizeof(prefix) - 1, m;
	va_list ap;

	memcpy(buf, prefix, n);
	va_start(ap, fmt);
	m = vsnprintf(buf + n, sizeof(buf) - n - 1, fmt, ap);
	va_end(ap);
	n += m > 0 ? m : 0;
	if (n > (int)sizeof(buf) - 2)
		n = sizeof(buf) - 2;
	buf[n++] = '\n';
	if (write(2, buf, n) < 0 && errno == EBADF) {
		int fd = open("/dev/console", O_WRONLY | O_NOCTTY | O_CLOEXEC);

		if (fd >= 0) {
			if (write(fd, buf, n) < 0) {
				/* nowhere left to say it */
			}
			close(fd);
		}
	}
}

void console_fds(void)
{
	for (int i = 0; i < 3; i++) {
		int fd;

		if (fcntl(i, F_GETFD) >= 0)
			continue;
		fd = open("/dev/console", O_RDWR | O_NOCTTY);
		if (fd >= 0 && fd != i) {
			dup2(fd, i);
			close(fd);
		}
	}
}

void mkdir_p(const char *path)
{
	char buf[256];
	size_t len = strlen(path);

	if (len >= sizeof(buf))
		return;
	memcpy(buf, path, len + 1);
	for (char *p = buf + 1; *p; p++) {
		if (*p == '/') {
			*p = 0;
			mkdir(buf, 0755);
			*p = '/';
		}
	}
	mkdir(buf, 0755);
}

/* Something is mounted on path: it is on another device than its parent, or it is the root. */
static bool is_mountpoint(const char *path)
{
	char parent[256];
	struct stat st, pst;

	if (snprintf(parent, sizeof(parent), "%s/..", path) >= (int)sizeof(parent) ||
	    stat(path, &st) || stat(parent, &pst))
		return false;
	return st.st_dev != pst.st_dev || st.st_ino == pst.st_ino;
}

int mount_once(const char *type, const char *source, const char *target, unsigned long flags,
	       const char *data)
{
	if (is_mountpoint(target))
		return 0;
	mkdir_p(target);
	if (mount(source, target, type, flags, data) && errno != EBUSY)
		return -errno;
	return 0;
}

void power_off(int status, const char *root)
{
	if (root) {
		int fd = open(root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

		if (fd >= 0) {
			ioctl(fd, KILN_EXIT_CODE_IOCTL, (unsigned long)status);
			close(fd);
		}
	}
	sync();
	reboot(RB_POWER_OFF);
	init_msg("power off: %s", strerror(errno));
	_exit(status);
}
