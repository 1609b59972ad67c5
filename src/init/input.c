/* The guest init's side of the power button: finding the event devices that report it. */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "init/input.h"

#define BITS_PER_LONG (8 * sizeof(unsigned long))

/* Whether the device can report KEY_POWER; true when it cannot be asked (not an event device). */
static bool has_power_key(int fd)
{
	unsigned long keys[KEY_MAX / BITS_PER_LONG + 1] = { 0 };

	if (ioctl(fd, EVIOCGBIT(EV_KEY, sizeof(keys)), keys) < 0)
		return errno == ENOTTY || errno == EINVAL;
	return keys[KEY_POWER / BITS_PER_LONG] >> (KEY_POWER % BITS_PER_LONG) & 1;
}

size_t input_open_power_keys(const char *dir, int *fds, size_t max)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	size_t n = 0;

	if (!d)
		return 0;
	while (n < max && (e = readdir(d))) {
		char path[300];
		int fd;

		if (strncmp(e->d_name, "event", 5) ||
		    snprintf(path, sizeof(path), "%s/%s", dir, e->d_name) >= (int)sizeof(path))
			continue;
		fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC | O_NOCTTY);
		if (fd < 0)
			continue;
		if (has_power_key(fd))
			fds[n++] = fd;
		else
			close(fd);
	}
	closedir(d);
	return n;
}
