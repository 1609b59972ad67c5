/*
 * The gpu-serve listener: loads virglrenderer once, listens on the unix
 * socket and forks one process per client (vtest_session.c), so that
 * virglrenderer's per-process state and render server belong to one client,
 * and a client that crashes or misbehaves takes only its own process down.
 * The listener itself never reads a byte from a client.
 *
 * Who may use the GPU is decided by the socket file's permissions: bind()
 * creates it with mode 0777 & ~umask, so the umask kiln runs with (077,
 * 007, ...) picks the owner, group or everyone.
 */
#define _GNU_SOURCE
#include "gpu/gpu_serve.h"

#include <dlfcn.h>
#include <errno.h>
#include <libgen.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "gpu/virgl_lib.h"
#include "gpu/vtest_session.h"
#include "util/log.h"

#define MAX_CLIENTS 64
#define LAYER_NAME  "VK_LAYER_KILN_hostmem"
#define LAYER_JSON  "kiln_hostmem_layer.json"

#ifndef KILN_LIBDIR
#define KILN_LIBDIR "lib"
#endif

struct server {
	struct gpu_serve_opts *o;
	struct virgl_lib lib;
	int listen_fd, sig_fd;
	struct stat sock_st; /* to remove only the socket this server made */
	struct {
		pid_t pid;
		unsigned id;
	} child[MAX_CLIENTS];
	unsigned nchild, next_id;
};

static int fail(struct gpu_serve_opts *o, int err, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static int fail(struct gpu_serve_opts *o, int err, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(o->error, sizeof(o->error), fmt, ap);
	va_end(ap);
	return err;
}

/* --- the host-memory bridge --- */

/* dir/sub, made absolute, if it holds the layer manifest. */
static bool layer_dir_at(const char *dir, const char *sub, char *out)
{
	char path[PATH_MAX * 2], json[PATH_MAX + sizeof(LAYER_JSON) + 1];

	snprintf(path, sizeof(path), "%s/%s", dir, sub);
	if (!realpath(path, out))
		return false;
	snprintf(json, sizeof(json), "%s/%s", out, LAYER_JSON);
	return access(json, R_OK) == 0;
}

/*
 * The manifest lies beside the executable's build tree (build/src/gpu) or
 * in the installed library folder. The executable is found by
 * /proc/self/exe, or, when it was started by naming it to a dynamic loader
 * (build/gpu-root/run does), by the path the loader mapped it from.
 */
static bool find_layer_dir(char *out)
{
	static const char *const subs[] = { "src/gpu", "../" KILN_LIBDIR "/kiln" };
	char exe[2][PATH_MAX] = { { 0 } };
	Dl_info info;
	ssize_t n;

	n = readlink("/proc/self/exe", exe[0], sizeof(exe[0]) - 1);
	if (n > 0)
		exe[0][n] = 0;
	if (dladdr((void *)find_layer_dir, &info) && info.dli_fname &&
	    !realpath(info.dli_fname, exe[1]))
		exe[1][0] = 0;
	for (unsigned i = 0; i < 2; i++) {
		const char *dir;

		if (!exe[i][0])
			continue;
		dir = dirname(exe[i]);
		for (unsigned k = 0; k < sizeof(subs) / sizeof(subs[0]); k++)
			if (layer_dir_at(dir, subs[k], out))
				return true;
	}
	return false;
}

/* name=value, or value joined to what name holds already. */
static int env_join(const char *name, const char *value, bool first)
{
	const char *old = getenv(name);
	char *v;
	int ret;

	if (!old || !*old)
		return setenv(name, value, 1) ? -errno : 0;
	if (asprintf(&v, "%s:%s", first ? value : old, first ? old : value) < 0)
		return -ENOMEM;
	ret = setenv(name, v, 1) ? -errno : 0;
	free(v);
	return ret;
}

/* The render server, spawned by each client's virglrenderer, inherits this. */
static int enable_bridge(struct gpu_serve_opts *o)
{
	char dir[PATH_MAX];
	const char *layers = getenv("VK_INSTANCE_LAYERS");

	if (!find_layer_dir(dir))
		return fail(o, -ENOENT,
			    "the host-memory bridge (%s) was not found beside the kiln "
			    "executable; build it (make), or serve without it (--no-bridge)",
			    LAYER_JSON);
	if (env_join("VK_LAYER_PATH", dir, true) ||
	    (!(layers && strstr(layers, LAYER_NAME)) &&
	     env_join("VK_INSTANCE_LAYERS", LAYER_NAME, false)))
		return fail(o, -ENOMEM, "cannot set the Vulkan layer environment");
	pr_info("gpu-serve: host-memory bridge %s from %s", LAYER_NAME, dir);
	return 0;
}

/* --- the socket --- */

/* A socket file left by a server that is gone is replaced; a live one is not. */
static int clear_stale(struct gpu_serve_opts *o, const struct sockaddr_un *addr)
{
	struct stat st;
	int fd, ret;

	if (lstat(addr->sun_path, &st))
		return 0;
	if (!S_ISSOCK(st.st_mode))
		return fail(o, -EEXIST, "--socket %s exists and is not a socket", addr->sun_path);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return fail(o, -errno, "socket: %s", strerror(errno));
	ret = connect(fd, (const struct sockaddr *)addr, sizeof(*addr));
	close(fd);
	if (!ret)
		return fail(o, -EADDRINUSE, "--socket %s: another server is listening there",
			    addr->sun_path);
	if (unlink(addr->sun_path) && errno != ENOENT)
		return fail(o, -errno, "--socket %s: cannot remove the stale socket: %s",
			    addr->sun_path, strerror(errno));
	return 0;
}

static int listen_on(struct server *sv)
{
	struct gpu_serve_opts *o = sv->o;
	struct sockaddr_un addr = { .sun_family = AF_UNIX };
	int ret;

	if (strlen(o->socket_path) >= sizeof(addr.sun_path))
		return fail(o, -ENAMETOOLONG, "--socket %s: the path is longer than %zu bytes",
			    o->socket_path, sizeof(addr.sun_path) - 1);
	strcpy(addr.sun_path, o->socket_path);
	ret = clear_stale(o, &addr);
	if (ret)
		return ret;
	sv->listen_fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (sv->listen_fd < 0)
		return fail(o, -errno, "socket: %s", strerror(errno));
	if (bind(sv->listen_fd, (struct sockaddr *)&addr, sizeof(addr)))
		return fail(o, -errno, "--socket %s: %s", o->socket_path, strerror(errno));
	if (lstat(o->socket_path, &sv->sock_st) || listen(sv->listen_fd, 16)) {
		ret = fail(o, -errno, "--socket %s: %s", o->socket_path, strerror(errno));
		unlink(o->socket_path);
		return ret;
	}
	return 0;
}

static void remove_socket(struct server *sv)
{
	struct stat st;

	if (!lstat(sv->o->socket_path, &st) && st.st_dev == sv->sock_st.st_dev &&
	    st.st_ino == sv->sock_st.st_ino)
		unlink(sv->o->socket_path);
}

/* --- clients --- */

static void serve_client(struct server *sv, int fd, unsigned id)
{
	sigset_t none;

	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	signal(SIGINT, SIG_DFL);
	signal(SIGTERM, SIG_DFL);
	close(sv->listen_fd);
	close(sv->sig_fd);
	_exit(vtest_session_run(&sv->lib, fd, id) ? 1 : 0);
}

static void accept_client(struct server *sv)
{
	int fd = accept4(sv->listen_fd, NULL, NULL, SOCK_CLOEXEC);
	unsigned id;
	pid_t pid;

	if (fd < 0) {
		if (errno != EINTR && errno != EAGAIN && errno != ECONNABORTED)
			pr_warn("gpu-serve: accept: %s", strerror(errno));
		return;
	}
	if (sv->nchild == MAX_CLIENTS) {
		pr_warn("gpu-serve: %d clients already; refusing another", MAX_CLIENTS);
		close(fd);
		return;
	}
	id = ++sv->next_id;
	pid = fork();
	if (pid == 0)
		serve_client(sv, fd, id);
	close(fd);
	if (pid < 0) {
		pr_warn("gpu-serve: cannot fork for client %u: %s", id, strerror(errno));
		return;
	}
	sv->child[sv->nchild].pid = pid;
	sv->child[sv->nchild++].id = id;
	pr_info("gpu-serve: client %u connected (process %d)", id, (int)pid);
}

static void child_gone(struct server *sv, pid_t pid, int status)
{
	for (unsigned i = 0; i < sv->nchild; i++) {
		if (sv->child[i].pid != pid)
			continue;
		if (WIFSIGNALED(status) && WTERMSIG(status) != SIGTERM)
			pr_warn("gpu-serve: client %u: its server process died of signal %d",
				sv->child[i].id, WTERMSIG(status));
		sv->child[i] = sv->child[--sv->nchild];
		return;
	}
}

static void reap(struct server *sv, int flags)
{
	int status;
	pid_t pid;

	while ((pid = waitpid(-1, &status, flags)) > 0)
		child_gone(sv, pid, status);
}

/* Returns when SIGINT or SIGTERM arrives. */
static void serve_loop(struct server *sv)
{
	for (;;) {
		struct pollfd pfd[2] = { { .fd = sv->sig_fd, .events = POLLIN },
					 { .fd = sv->listen_fd, .events = POLLIN } };
		struct signalfd_siginfo si;

		if (poll(pfd, 2, -1) < 0) {
			if (errno == EINTR)
				continue;
			pr_err("gpu-serve: poll: %s", strerror(errno));
			return;
		}
		if (pfd[0].revents && read(sv->sig_fd, &si, sizeof(si)) == sizeof(si)) {
			if (si.ssi_signo != SIGCHLD) {
				pr_info("gpu-serve: signal %u, stopping", si.ssi_signo);
				return;
			}
			reap(sv, WNOHANG);
		}
		if (pfd[1].revents)
			accept_client(sv);
	}
}

static void stop_clients(struct server *sv)
{
	for (unsigned i = 0; i < sv->nchild; i++)
		kill(sv->child[i].pid, SIGTERM);
	while (sv->nchild) {
		int status;
		pid_t pid = waitpid(-1, &status, 0);

		if (pid < 0)
			break;
		child_gone(sv, pid, status);
	}
}

int gpu_serve(struct gpu_serve_opts *o)
{
	struct server sv = { .o = o, .listen_fd = -1, .sig_fd = -1 };
	const char *lib = o->virgl_lib ? o->virgl_lib : VIRGL_LIB_DEFAULT;
	char why[384];
	sigset_t mask, old;
	int ret;

	o->error[0] = 0;
	ret = virgl_lib_open(&sv.lib, lib, why, sizeof(why));
	if (ret)
		return fail(o, ret, "virglrenderer >= 1.0 not found: %s", why);
	if (!o->no_bridge) {
		ret = enable_bridge(o);
		if (ret)
			goto out;
	}
	sigemptyset(&mask);
	sigaddset(&mask, SIGINT);
	sigaddset(&mask, SIGTERM);
	sigaddset(&mask, SIGCHLD);
	sigprocmask(SIG_BLOCK, &mask, &old);
	signal(SIGPIPE, SIG_IGN);
	sv.sig_fd = signalfd(-1, &mask, SFD_CLOEXEC);
	if (sv.sig_fd < 0) {
		ret = fail(o, -errno, "signalfd: %s", strerror(errno));
		goto out_mask;
	}
	ret = listen_on(&sv);
	if (ret)
		goto out_mask;
	pr_info("gpu-serve: serving Venus on %s with %s", o->socket_path, lib);
	serve_loop(&sv);
	close(sv.listen_fd);
	sv.listen_fd = -1;
	remove_socket(&sv);
	stop_clients(&sv);
out_mask:
	if (sv.listen_fd >= 0)
		close(sv.listen_fd);
	if (sv.sig_fd >= 0)
		close(sv.sig_fd);
	sigprocmask(SIG_SETMASK, &old, NULL);
out:
	virgl_lib_close(&sv.lib);
	return ret;
}
