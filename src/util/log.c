#include "util/log.h"

#include <stdio.h>
#include <string.h>
#include <unistd.h>

static int log_level = LOG_WARN;
static int log_fd = STDERR_FILENO;

void log_set_level(int level)
{
	if (level < LOG_OFF)
		level = LOG_OFF;
	if (level > LOG_TRACE)
		level = LOG_TRACE;
	log_level = level;
}

int log_get_level(void)
{
	return log_level;
}

void log_set_fd(int fd)
{
	log_fd = fd;
}

void log_msg(enum log_level lvl, const char *fmt, ...)
{
	char buf[1024];
	va_list ap;
	int n;

	if ((int)lvl > log_level)
		return;
	n = snprintf(buf, sizeof(buf), "kiln: ");
	va_start(ap, fmt);
	n += vsnprintf(buf + n, sizeof(buf) - n - 1, fmt, ap);
	va_end(ap);
	if (n > (int)sizeof(buf) - 2)
		n = sizeof(buf) - 2;
	if (buf[n - 1] != '\n')
		buf[n++] = '\n';
	/* One write per message so lines from several threads do not interleave. */
	if (write(log_fd, buf, n) < 0)
		return;
}
