/* The workload: started as libkrun starts it, waited for as PID 1 must wait. */
#define _GNU_SOURCE
#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "init/abi.h"
#include "init/input.h"
#include "init/sys.h"

extern char **environ;

/* In the child: everything here either succeeds or ends it with libkrun's status. */
static void __attribute__((noreturn))
exec_workload(const struct init_config *c, const sigset_t *mask, bool session)
{
	int err;

	sigprocmask(SIG_SETMASK, mask, NULL);
	if (session) {
		setsid();
		/* The console as controlling terminal, so that Ctrl-C reaches the workload. */
		if (isatty(0))
			ioctl(0, TIOCSCTTY, 1);
	}
	for (size_t i = 0; i < c->nrlimits; i++) {
		const struct init_rlimit *r = &c->rlimits[i];
		struct rlimit rl = { .rlim_cur = r->cur, .rlim_max = r->max };

		if (setrlimit(r->resource, &rl)) {
			init_msg("setrlimit RLIMIT_%s: %s", rlimit_name(r->resource),
				 strerror(errno));
			_exit(KILN_EXIT_SETUP);
		}
	}
	if (chdir(c->cwd)) {
		init_msg("chdir %s: %s", c->cwd, strerror(errno));
		_exit(KILN_EXIT_SETUP);
	}
	/* execvp searches the PATH of environ: make it the workload's. */
	environ = c->envp;
	execvp(c->argv[0], c->argv);
	err = errno;
	init_msg("%s: %s", c->argv[0], strerror(err));
	_exit(err == ENOENT || err == ENOTDIR ? KILN_EXIT_NOT_FOUND : KILN_EXIT_NOEXEC);
}

pid_t workload_start(const struct init_config *c, const sigset_t *mask, bool session)
{
	pid_t pid = fork();

	if (pid < 0)
		return -errno;
	if (!pid)
		exec_workload(c, mask, session);
	return pid;
}

static int exit_status(int st)
{
	return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

static long long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000LL + ts.tv_nsec / 1000000;
}

/* Forward SIGTERM and SIGINT to the workload; SIGCHLD only wakes the reaper. */
static void forward(pid_t pid, int sig)
{
	if (sig == SIGTERM || sig == SIGINT)
		kill(pid, sig);
}

/* Take the pending signals of set: from the signalfd, or (without one) straight off the queue. */
static void take_signals(int sfd, pid_t pid, const sigset_t *set)
{
	struct signalfd_siginfo si;
	siginfo_t info;
	int sig;

	if (sfd >= 0) {
		while (read(sfd, &si, sizeof(si)) == sizeof(si))
			forward(pid, si.ssi_signo);
		return;
	}
	while ((sig = sigtimedwait(set, &info, &(struct timespec){ 0, 0 })) > 0)
		forward(pid, sig);
}

/* Whether fd has a power-button press to read; a device that went away is closed and dropped. */
static bool take_input(struct pollfd *p)
{
	char buf[64 * sizeof(struct input_event)];
	bool pressed = false;
	ssize_t n;

	if (!(p->revents & (POLLIN | POLLHUP | POLLERR)))
		return false;
	while ((n = read(p->fd, buf, sizeof(buf))) > 0)
		pressed |= input_power_pressed(buf, n);
	if (n == 0 || (errno != EAGAIN && errno != EINTR)) {
		close(p->fd);
		p->fd = -1;
	}
	return pressed;
}

int workload_wait(pid_t pid, const sigset_t *set, int *inputs, size_t ninputs)
{
	struct pollfd p[1 + INPUT_MAX_FDS];
	long long kill_at = -1; /* when a workload asked to stop gets SIGKILL */
	bool stopping = false;
	size_t np = 1;
	int sfd = signalfd(-1, set, SFD_NONBLOCK | SFD_CLOEXEC), status = -1;

	p[0] = (struct pollfd){ .fd = sfd, .events = POLLIN };
	for (size_t i = 0; i < ninputs; i++) {
		if (np < 1 + INPUT_MAX_FDS)
			p[np++] = (struct pollfd){ .fd = inputs[i], .events = POLLIN };
		else
			close(inputs[i]);
	}
	while (status < 0) {
		int timeout = sfd < 0 ? 100 : -1; /* without a signalfd, look for signals often */
		pid_t w;
		int st;

		/* Orphans are ours too: reap everyone, stop at the workload. */
		while ((w = waitpid(-1, &st, WNOHANG)) > 0)
			if (w == pid)
				status = exit_status(st);
		if (status >= 0)
			break;
		if (w < 0 && errno == ECHILD) {
			init_msg("the workload vanished");
			status = KILN_EXIT_SETUP;
			break;
		}
		if (kill_at >= 0) {
			long long left = kill_at - now_ms();

			if (left <= 0) {
				init_msg("the workload did not stop within %d s: killing it",
					 INPUT_STOP_GRACE);
				kill(pid, SIGKILL);
				kill_at = -1;
			} else if (timeout < 0 || left < timeout) {
				timeout = (int)left;
			}
		}
		if (poll(p, np, timeout) < 0 && errno != EINTR) {
			init_msg("poll: %s", strerror(errno));
			poll(NULL, 0, 100); /* not a busy loop, whatever went wrong */
			continue;
		}
		take_signals(sfd, pid, set);
		for (size_t i = 1; i < np; i++) {
			if (!take_input(&p[i]) || stopping)
				continue;
			/* As container engines stop a container: quietly, and firmly if need be. */
			kill(pid, SIGTERM);
			kill_at = now_ms() + INPUT_STOP_GRACE * 1000LL;
			stopping = true;
		}
	}
	for (size_t i = 0; i < np; i++)
		if (p[i].fd >= 0)
			close(p[i].fd);
	return status;
}
