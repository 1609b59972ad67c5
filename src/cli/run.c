/*
 * kiln run [options] [--] CMD ARGS...: run one command in a microVM whose
 * root is a host directory, and exit with its status. Options follow the
 * usual container-tool spellings (-e, -w, -v) with long forms.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <kiln.h>
#include <libkrun.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cli/cli.h"

static int fail(struct run_opts *o, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(o->error, sizeof(o->error), fmt, ap);
	va_end(ap);
	return -EINVAL;
}

/* HOSTDIR:TAG[:ro] */
static int parse_volume(struct run_opts *o, const char *v)
{
	struct run_volume *vol;
	char *copy, *tag;

	if (o->nvols == RUN_MAX_VOLS)
		return fail(o, "-v %s: at most %d shares", v, RUN_MAX_VOLS);
	if (!(copy = strdup(v)))
		return fail(o, "out of memory");
	o->owned[o->nvols] = copy;
	vol = &o->vols[o->nvols++];
	tag = strrchr(copy, ':');
	if (tag && (!strcmp(tag, ":ro") || !strcmp(tag, ":rw"))) {
		vol->read_only = !strcmp(tag, ":ro");
		*tag = 0;
		tag = strrchr(copy, ':');
	}
	if (!tag || tag == copy || !tag[1])
		return fail(o, "-v %s: expected HOSTDIR:TAG[:ro]", v);
	*tag++ = 0;
	if (strlen(tag) > KILN_FS_TAG_MAX || !strcmp(tag, KRUN_FS_ROOT_TAG))
		return fail(o, "-v %s: the tag must be 1 to %d characters and not %s", v,
			    KILN_FS_TAG_MAX, KRUN_FS_ROOT_TAG);
	for (unsigned i = 0; i + 1 < o->nvols; i++)
		if (!strcmp(o->vols[i].tag, tag))
			return fail(o, "-v %s: tag %s is used twice", v, tag);
	vol->path = copy;
	vol->tag = tag;
	return 0;
}

/* The value of an option: "--opt=V", or the next word. */
static const char *value(struct run_opts *o, int argc, char **argv, int *i, const char *eq)
{
	if (eq)
		return eq + 1;
	if (*i + 1 >= argc) {
		fail(o, "%s needs a value", argv[*i]);
		return NULL;
	}
	return argv[++*i];
}

static int parse_one(struct run_opts *o, const char *name, const char *v)
{
	uint64_t n;

	if (!strcmp(name, "--rootfs")) {
		o->rootfs = v;
	} else if (!strcmp(name, "--cpus") || !strcmp(name, "-c")) {
		if (cli_parse_uint(v, 255, &n) || n == 0)
			return fail(o, "%s %s: expected 1 to 255", name, v);
		o->cpus = n;
	} else if (!strcmp(name, "--memory") || !strcmp(name, "-m")) {
		if (cli_parse_memory(v, &o->memory_mib))
			return fail(o, "%s %s: expected MiB, or a size with M or G", name, v);
	} else if (!strcmp(name, "--env") || !strcmp(name, "-e")) {
		if (!strchr(v, '=') || v[0] == '=')
			return fail(o, "%s %s: expected NAME=VALUE", name, v);
		if (o->nenv == RUN_MAX_ENV)
			return fail(o, "%s: at most %d variables", name, RUN_MAX_ENV);
		o->env[o->nenv++] = v;
	} else if (!strcmp(name, "--workdir") || !strcmp(name, "-w")) {
		if (v[0] != '/')
			return fail(o, "%s %s: the working directory must be absolute", name, v);
		o->workdir = v;
	} else if (!strcmp(name, "--volume") || !strcmp(name, "-v")) {
		return parse_volume(o, v);
	} else if (!strcmp(name, "--rlimit")) {
		if (o->nrlimits == RUN_MAX_RLIMITS)
			return fail(o, "%s: at most %d limits", name, RUN_MAX_RLIMITS);
		if (!strchr(v, '=') || !strchr(strchr(v, '='), ':'))
			return fail(o, "%s %s: expected RESOURCE=SOFT:HARD (e.g. NOFILE=1024:4096)",
				    name, v);
		o->rlimits[o->nrlimits++] = v;
	} else if (!strcmp(name, "--kernel")) {
		o->kernel = v;
	} else if (!strcmp(name, "--initrd")) {
		o->initrd = v;
	} else if (!strcmp(name, "--kernel-cmdline")) {
		o->cmdline = v;
	} else if (!strcmp(name, "--krun-log-level")) {
		if (cli_parse_uint(v, 5, &n))
			return fail(o, "%s %s: expected 0 to 5", name, v);
		o->log_level = n;
	} else if (!strcmp(name, "--log-file")) {
		o->log_file = v;
	} else if (!strcmp(name, "--gpu-vram")) {
		if (cli_parse_memory(v, &o->gpu_vram_mib) || !o->gpu_vram_mib ||
		    o->gpu_vram_mib > (KILN_GPU_SHM_MAX >> 20))
			return fail(o, "%s %s: expected a size such as 8G or 4096M (at most 1T)",
				    name, v);
	} else if (!strcmp(name, "--virglrenderer")) {
		if (!*v)
			return fail(o, "%s needs a library name or path", name);
		o->virgl_path = v;
	} else {
		return fail(o, "unknown option %s", name);
	}
	return 0;
}

static bool takes_value(const char *name)
{
	static const char *const flags[] = { "--read-only", "--net",  "--no-balloon",
					     "--gpu",	    "--help", "-h" };

	for (size_t i = 0; i < sizeof(flags) / sizeof(flags[0]); i++)
		if (!strcmp(name, flags[i]))
			return false;
	return true;
}

int run_parse(int argc, char **argv, struct run_opts *o)
{
	int i;

	memset(o, 0, sizeof(*o));
	o->cpus = 1;
	o->memory_mib = 512;
	o->log_level = KRUN_LOG_LEVEL_WARN;
	for (i = 1; i < argc; i++) {
		char *a = argv[i], name[64];
		const char *eq, *v;
		int ret;

		if (!strcmp(a, "--")) {
			i++;
			break;
		}
		if (a[0] != '-' || !a[1])
			break; /* the command */
		if (!strcmp(a, "-h") || !strcmp(a, "--help"))
			return CLI_HELP;
		if (!strcmp(a, "--read-only")) {
			o->root_ro = true;
			continue;
		}
		if (!strcmp(a, "--net")) {
			o->net = true;
			continue;
		}
		if (!strcmp(a, "--no-balloon")) {
			o->no_balloon = true;
			continue;
		}
		if (!strcmp(a, "--gpu")) {
			o->gpu = true;
			continue;
		}
		eq = a[1] == '-' ? strchr(a, '=') : NULL;
		if (snprintf(name, sizeof(name), "%.*s", eq ? (int)(eq - a) : (int)strlen(a), a) >=
		    (int)sizeof(name))
			return fail(o, "unknown option %.40s...", a);
		if (!takes_value(name))
			return fail(o, "unknown option %s", name);
		if (!(v = value(o, argc, argv, &i, eq)))
			return -EINVAL;
		ret = parse_one(o, name, v);
		if (ret)
			return ret;
	}
	if (!o->rootfs)
		return fail(o, "--rootfs DIR is required (the guest's root directory; "
			       "make setup prepares one in build/rootfs)");
	if (i >= argc)
		return fail(o, "no command given: kiln run --rootfs DIR [options] -- CMD ARGS...");
	if ((o->gpu_vram_mib || o->virgl_path) && !o->gpu)
		return fail(o, "%s needs --gpu",
			    o->gpu_vram_mib ? "--gpu-vram" : "--virglrenderer");
	o->cmd = &argv[i];
	o->env[o->nenv] = NULL;
	return 0;
}

static int api_fail(struct run_opts *o, int ret, const char *what)
{
	snprintf(o->error, sizeof(o->error), "%s: %s", what, strerror(-ret));
	return ret;
}

/* $KILN_PASST when set (a wrapper, say), else passt in $PATH: into buf. */
static int find_passt(struct run_opts *o, char *buf, size_t size)
{
	const char *env = getenv("KILN_PASST"), *path = getenv("PATH");

	if (env && *env) {
		if (access(env, X_OK))
			return fail(o, "KILN_PASST=%s: %s", env, strerror(errno));
		snprintf(buf, size, "%s", env);
		return 0;
	}
	for (const char *p = path ? path : "/usr/local/bin:/usr/bin:/bin"; *p;) {
		size_t n = strcspn(p, ":");

		if (n && snprintf(buf, size, "%.*s/passt", (int)n, p) < (int)size &&
		    !access(buf, X_OK))
			return 0;
		p += n;
		p += *p == ':';
	}
	return fail(o, "--net: passt not found: install the passt package (or set KILN_PASST)");
}

/*
 * --net: passt on one end of a socketpair, in its own process group (the terminal's Ctrl-C is
 * for the workload), its stdout kept off the workload's; the VM's NIC on the other end. passt
 * ends when the VM closes its end, and run_free() stops it in any case.
 */
static int start_passt(int ctx, struct run_opts *o)
{
	char path[4096], fdarg[16];
	int sv[2], null, ret;
	char *argv[] = { path, "--foreground", "--quiet", "--fd", fdarg, NULL, NULL, NULL };

	ret = find_passt(o, path, sizeof(path));
	if (ret)
		return ret;
	if (geteuid() == 0) {
		/* passt drops root to nobody anyway; asked for, it does so without a notice. */
		argv[5] = "--runas";
		argv[6] = "nobody";
	}
	if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv))
		return api_fail(o, -errno, "--net: socketpair");
	null = open("/dev/null", O_RDONLY | O_CLOEXEC);
	fcntl(sv[0], F_SETFD, FD_CLOEXEC);
	snprintf(fdarg, sizeof(fdarg), "%d", sv[1]);
	o->passt_pid = null < 0 ? -1 : fork();
	if (o->passt_pid == 0) {
		setpgid(0, 0);
		dup2(null, STDIN_FILENO);
		dup2(STDERR_FILENO, STDOUT_FILENO);
		execv(path, argv);
		fprintf(stderr, "kiln run: %s: %s\n", path, strerror(errno));
		_exit(127);
	}
	ret = o->passt_pid < 0 ? -errno : 0;
	if (o->passt_pid < 0)
		o->passt_pid = 0;
	if (null >= 0)
		close(null);
	close(sv[1]);
	if (ret) {
		close(sv[0]);
		return api_fail(o, ret, "--net: cannot start passt");
	}
	ret = krun_add_net_unixstream(ctx, NULL, sv[0], NULL, COMPAT_NET_FEATURES,
				      NET_FLAG_DHCP_CLIENT);
	if (ret) {
		close(sv[0]);
		return api_fail(o, ret, "--net");
	}
	return 0;
}

int run_apply(int ctx, struct run_opts *o)
{
	int ret;

	ret = krun_set_vm_config(ctx, o->cpus, o->memory_mib);
	if (ret)
		return api_fail(o, ret, "--cpus/--memory");
	if (o->kernel) {
		ret = krun_set_kernel(ctx, o->kernel, KRUN_KERNEL_FORMAT_RAW, o->initrd,
				      o->cmdline);
		if (ret)
			return api_fail(o, ret, o->kernel);
	}
	ret = o->root_ro ? krun_add_virtiofs3(ctx, KRUN_FS_ROOT_TAG, o->rootfs, 0, true)
			 : krun_set_root(ctx, o->rootfs);
	if (ret)
		return api_fail(o, ret, o->rootfs);
	for (unsigned i = 0; i < o->nvols; i++) {
		ret = krun_add_virtiofs3(ctx, o->vols[i].tag, o->vols[i].path, 0,
					 o->vols[i].read_only);
		if (ret)
			return api_fail(o, ret, o->vols[i].path);
	}
	/* A clean environment, as container tools give: only what -e sets (the init adds PATH...).
	 */
	ret = krun_set_exec(ctx, o->cmd[0], (const char *const *)o->cmd + 1, o->env);
	if (ret)
		return api_fail(o, ret, o->cmd[0]);
	o->rlimits[o->nrlimits] = NULL;
	if (o->nrlimits && (ret = krun_set_rlimits(ctx, o->rlimits)))
		return api_fail(o, ret, "--rlimit");
	if (o->workdir && (ret = krun_set_workdir(ctx, o->workdir)))
		return api_fail(o, ret, o->workdir);
	if (o->no_balloon && (ret = kiln_set_balloon(ctx, false)))
		return api_fail(o, ret, "--no-balloon");
	if (o->net && (ret = start_passt(ctx, o)))
		return ret;
	if (o->gpu) {
		ret = krun_set_gpu_options2(ctx, VIRGLRENDERER_VENUS | VIRGLRENDERER_NO_VIRGL,
					    o->gpu_vram_mib ? o->gpu_vram_mib << 20 : 8ULL << 30);
		if (!ret)
			ret = kiln_set_gpu_library(ctx, o->virgl_path);
		if (ret)
			return api_fail(o, ret, "--gpu");
	}
	/* SIGTERM/SIGINT stop the workload as container engines do: in order, then at once. */
	ret = kiln_set_signal_shutdown(ctx, true);
	if (ret)
		return api_fail(o, ret, "signal handling");
	return 0;
}

void run_free(struct run_opts *o)
{
	if (o->passt_pid > 0) {
		kill(o->passt_pid, SIGTERM);
		waitpid(o->passt_pid, NULL, 0);
		o->passt_pid = 0;
	}
	for (unsigned i = 0; i < RUN_MAX_VOLS; i++)
		free(o->owned[i]);
}
