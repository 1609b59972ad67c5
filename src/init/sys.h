/* The guest init's system-call side: messages, mounts, the workload, power-off. */
#ifndef KILN_INIT_SYS_H
#define KILN_INIT_SYS_H

#include <signal.h>
#include <stdbool.h>
#include <sys/types.h>

#include "init/config.h"

/* "kiln-init: <message>\n" on fd 2, or on /dev/console when fd 2 is not open. */
void init_msg(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Open /dev/console on whichever of fds 0-2 the kernel could not open. */
void console_fds(void);

/* mkdir -p; errors are left to whoever uses the directory. */
void mkdir_p(const char *path);

/* Mount type on target unless something is mounted there already. 0 or a negative errno. */
int mount_once(const char *type, const char *source, const char *target, unsigned long flags,
	       const char *data);

/*
 * Send status to the host through the virtio-fs root at root (NULL: no root to tell), sync and
 * power off.
 */
void power_off(int status, const char *root) __attribute__((noreturn));

/* Stage 1: PID 1 in the module initramfs. Ends in the new root's /init.krun or in power-off. */
void initramfs_main(char **argv, char **envp) __attribute__((noreturn));

/*
 * Start the workload with the signal mask mask, as a new session with the console as its
 * controlling terminal when session is set. Its pid, or a negative errno.
 */
pid_t workload_start(const struct init_config *c, const sigset_t *mask, bool session);

/*
 * Reap children until pid ends, forwarding SIGTERM and SIGINT to it; waits for the signals in
 * set, which the caller blocks. A power-button press read from one of the ninputs event devices
 * (input.h), which this takes and closes, asks the workload to stop: SIGTERM, then SIGKILL
 * INPUT_STOP_GRACE seconds later. Its exit status, or 128 + the signal that killed it.
 */
int workload_wait(pid_t pid, const sigset_t *set, int *inputs, size_t ninputs);

#endif
