/* The workload: started as libkrun starts it, waited for as PID 1 must wait. */
#define _GNU_SOURCE
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include "init/abi.h"
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

int workload_wait(pid_t pid, const sigset_t *set)
{
	for (;;) {
		siginfo_t info;
		pid_t p;
		int st, sig;

		/* Orphans are ours too: reap everyone, stop at the workload. */
		while ((p = waitpid(-1, &st, WNOHANG)) > 0)
			if (p == pid)
				return exit_status(st);
		if (p < 0 && errno == ECHILD) {
			init_msg("the workload vanished");
			return KILN_EXIT_SETUP;
		}
		sig = sigwaitinfo(set, &info);
		if (sig == SIGTERM || sig == SIGINT)
			kill(pid, sig);
	}
}
