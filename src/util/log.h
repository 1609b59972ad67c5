/* Logging: one place that decides where kiln's own messages go. */
#ifndef KILN_UTIL_LOG_H
#define KILN_UTIL_LOG_H

#include <stdarg.h>

enum log_level {
	LOG_OFF = 0,
	LOG_ERROR = 1,
	LOG_WARN = 2,
	LOG_INFO = 3,
	LOG_DEBUG = 4,
	LOG_TRACE = 5,
};

void log_set_level(int level);
int log_get_level(void);
/* Send messages to fd (default: stderr). The fd is not closed. */
void log_set_fd(int fd);
void log_msg(enum log_level lvl, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#define pr_err(...)   log_msg(LOG_ERROR, __VA_ARGS__)
#define pr_warn(...)  log_msg(LOG_WARN, __VA_ARGS__)
#define pr_info(...)  log_msg(LOG_INFO, __VA_ARGS__)
#define pr_debug(...) log_msg(LOG_DEBUG, __VA_ARGS__)

#endif
