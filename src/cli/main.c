/*
 * kiln: the command-line VMM, a client of the libkrun API. The grammar is
 * vfkit's/krunkit's: --flag value or --flag=value (one or two dashes), and
 * repeatable --device TYPE,key=value,... specs.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <kiln.h>
#include <libkrun.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/cli.h"
#include "cli/rest.h"

static void usage(FILE *f)
{
	fprintf(f,
		"usage: kiln [options]          a VM, with krunkit's/vfkit's options\n"
		"       kiln run --help         one command in a microVM on a root directory\n"
		"       kiln gpu-serve --socket PATH [options]   serve the GPU (Venus) to local "
		"clients\n"
		"  --cpus N                 number of vCPUs (default 1)\n"
		"  --memory SIZE            guest RAM in MiB, or with an M/G suffix (default 512)\n"
		"  --kernel PATH            Linux kernel (bzImage or ELF vmlinux), required\n"
		"  --initrd PATH            initramfs\n"
		"  --kernel-cmdline STR     kernel command line (default \"%s\")\n"
		"  --device SPEC            add a device (repeatable):\n"
		"      virtio-blk,path=FILE[,format=raw][,serial=ID][,readonly]\n"
		"      virtio-rng\n"
		"      virtio-fs,sharedDir=DIR,mountTag=TAG[,readonly]\n"
		"      virtio-serial,stdio | virtio-serial,logFilePath=FILE\n"
		"      virtio-input,keyboard|pointing (ignored, as krunkit does)\n"
		"      virtio-vsock,port=N,socketURL=PATH[,listen|connect]\n"
		"                           listen (default): the guest connects to port N and\n"
		"                           reaches the host program listening on PATH; connect:\n"
		"                           kiln listens on PATH, clients reach guest port N\n"
		"      virtio-net,type=unixstream|unixgram,path=SOCKET|fd=N[,mac=MAC]\n"
		"                [,offloading=on|off][,vfkitMagic=on|off]   (passt, gvproxy)\n"
		"      virtio-net,unixSocketPath=SOCKET[,mac=MAC]         (gvproxy, vfkit mode)\n"
		"      virtio-gpu[,width=N,height=N]   Vulkan on the host GPU through Venus\n"
		"                           (virglrenderer >= 1.0; no display: size ignored)\n"
		"  --gpu-vram SIZE          the GPU's host-visible window (default 8G)\n"
		"  --virglrenderer LIB      the virglrenderer library to load\n"
		"  --krun-log-level N       0 (off) .. 5 (trace); default 2 (warnings)\n"
		"  --log-file PATH          kiln's own messages go to PATH (appended)\n"
		"  --pidfile PATH           written while the VM runs, removed when it ends\n"
		"  --bootloader linux,kernel=PATH[,initrd=PATH][,cmdline=STR]\n"
		"                           vfkit's form of --kernel/--initrd/--kernel-cmdline\n"
		"  --bootloader efi,...     accepted with --kernel (no EFI firmware yet)\n"
		"  --restful-uri URI        krunkit's REST API (GET/POST /vm/state) on\n"
		"                           tcp://IPV4:PORT or unix://PATH; none:// (default): "
		"off\n"
		"  --nested                 offer the CPU's virtualization to the guest\n"
		"  --no-balloon             no virtio-balloon: memory the guest frees is not\n"
		"                           given back to the host (free page reporting)\n"
		"  --gui, --oem-string S, --timesync vsockPort=N\n"
		"                           accepted for krunkit compatibility, ignored with a "
		"warning\n"
		"  -h, --help               this text\n",
		KILN_DEFAULT_CMDLINE);
}

static void run_usage(FILE *f)
{
	fprintf(f,
		"usage: kiln run --rootfs DIR [options] [--] CMD [ARGS...]\n"
		"Run CMD in a microVM whose root file system is DIR (shared over virtio-fs),\n"
		"with this terminal or these pipes as its stdin/stdout/stderr; exit with its "
		"status\n"
		"(125: the guest could not set up, 126: CMD cannot be run, 127: CMD not found).\n"
		"  --rootfs DIR             the guest's root directory (required)\n"
		"  --read-only              share DIR read-only\n"
		"  -c, --cpus N             vCPUs (default 1)\n"
		"  -m, --memory SIZE        guest RAM in MiB, or with an M/G suffix (default 512)\n"
		"  -e, --env NAME=VALUE     set a variable for CMD (repeatable)\n"
		"  -w, --workdir DIR        CMD's working directory inside the guest\n"
		"  --rlimit RES=SOFT:HARD   a resource limit for CMD, e.g. NOFILE=1024:4096\n"
		"  -v, --volume HOST:TAG[:ro]  share HOST with the guest as virtio-fs tag TAG\n"
		"                           (mount it there with: mount -t virtiofs TAG /mnt)\n"
		"  --net                    a network: kiln starts passt (from PATH, or the "
		"program\n"
		"                           in $KILN_PASST) and the guest's eth0 gets its "
		"address,\n"
		"                           route and DNS by DHCP; the host is the gateway "
		"address\n"
		"  --no-balloon             keep guest memory resident once touched (no free\n"
		"                           page reporting through virtio-balloon)\n"
		"  --gpu                    a GPU: Vulkan in the guest on the host's GPU through\n"
		"                           Venus (virglrenderer >= 1.0, Mesa >= 24.2 in DIR)\n"
		"  --gpu-vram SIZE, --virglrenderer LIB   its window (default 8G), its library\n"
		"  --kernel PATH, --initrd PATH, --kernel-cmdline STR\n"
		"                           another guest kernel (default: the one make setup "
		"prepared)\n"
		"  --krun-log-level N, --log-file PATH   kiln's own messages\n"
		"SIGTERM/SIGINT to kiln: the first stops CMD in order (SIGTERM in the guest,\n"
		"SIGKILL 10 s later), a second stops the VM at once (exit 128 + the signal).\n");
}

static int open_log(const char *log_file, unsigned level)
{
	int fd;

	if (!log_file)
		return krun_set_log_level(level);
	fd = open(log_file, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
	if (fd < 0) {
		fprintf(stderr, "kiln: --log-file %s: %s\n", log_file, strerror(errno));
		return -errno;
	}
	return krun_init_log(fd, level, KRUN_LOG_STYLE_NEVER, 0);
}

/* kiln run: the container-style front end. Its own failures exit 125, as container tools do. */
static int run_main(int argc, char **argv)
{
	struct run_opts o;
	int ctx, ret;

	ret = run_parse(argc, argv, &o);
	if (ret == CLI_HELP) {
		run_usage(stdout);
		return 0;
	}
	if (ret) {
		fprintf(stderr, "kiln run: %s\nTry 'kiln run --help'.\n", o.error);
		run_free(&o);
		return 125;
	}
	if (open_log(o.log_file, o.log_level)) {
		run_free(&o);
		return 125;
	}
	ctx = krun_create_ctx();
	if (ctx < 0 || (ret = run_apply(ctx, &o))) {
		fprintf(stderr, "kiln run: %s\n", ctx < 0 ? strerror(-ctx) : o.error);
		run_free(&o);
		return 125;
	}
	ret = kiln_run(ctx);
	krun_free_ctx(ctx);
	run_free(&o);
	return ret < 0 ? 125 : ret;
}

/* Written whole under a temporary name, then renamed: a reader never sees it half done. */
static int write_pidfile(const char *path)
{
	char buf[32], *tmp;
	int fd, n, ret = 0;

	if (asprintf(&tmp, "%s.tmp%d", path, (int)getpid()) < 0)
		return -ENOMEM;
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0) {
		ret = -errno;
	} else {
		n = snprintf(buf, sizeof(buf), "%d\n", (int)getpid());
		if (write(fd, buf, n) != n)
			ret = errno ? -errno : -EIO;
		if (close(fd) && !ret)
			ret = -errno;
		if (!ret && rename(tmp, path))
			ret = -errno;
		if (ret)
			unlink(tmp);
	}
	if (ret)
		fprintf(stderr, "kiln: --pidfile %s: %s\n", path, strerror(-ret));
	free(tmp);
	return ret;
}

static void rest_uri_text(const struct rest_uri *u, char *out, size_t size)
{
	if (u->scheme == REST_UNIX)
		snprintf(out, size, "unix://%s", u->path);
	else
		snprintf(out, size, "tcp://%u.%u.%u.%u:%u", u->addr[0], u->addr[1], u->addr[2],
			 u->addr[3], u->port);
}

/* The VM with its REST server and pidfile around it: the exit status. */
static int run_vm(int ctx, struct cli_opts *o)
{
	struct rest_server *rest = NULL;
	sigset_t set;
	int ret;

	/*
	 * The VM takes SIGINT/SIGTERM through a signalfd. Block them before any
	 * thread starts (the REST server's inherits the mask), so that neither a
	 * signal to that thread nor one before the VM runs kills kiln half-way.
	 */
	sigemptyset(&set);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGTERM);
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	if (o->rest.scheme != REST_NONE) {
		ret = rest_server_start(&o->rest, ctx, &rest);
		if (ret) {
			char uri[sizeof(o->rest.path) + 8];

			rest_uri_text(&o->rest, uri, sizeof(uri));
			fprintf(stderr, "kiln: --restful-uri %s: cannot listen: %s\n", uri,
				ret == -EEXIST ? "the path exists and is not a socket"
					       : strerror(-ret));
			return 1;
		}
	}
	if (o->pidfile && write_pidfile(o->pidfile)) {
		rest_server_stop(rest);
		return 1;
	}
	ret = kiln_run(ctx);
	if (o->pidfile)
		unlink(o->pidfile);
	rest_server_stop(rest);
	return ret < 0 ? 1 : ret;
}

int main(int argc, char **argv)
{
	struct cli_opts o;
	int ctx, ret;

	if (argc > 1 && !strcmp(argv[1], "run"))
		return run_main(argc - 1, argv + 1);
	if (argc > 1 && !strcmp(argv[1], "gpu-serve"))
		return cli_gpu_serve(argc - 1, argv + 1);
	ret = cli_parse(argc, argv, &o);
	if (ret == CLI_HELP) {
		usage(stdout);
		cli_free(&o);
		return 0;
	}
	if (ret) {
		fprintf(stderr, "kiln: %s\n", o.error);
		fprintf(stderr, "Try 'kiln --help'.\n");
		cli_free(&o);
		return 1;
	}
	if (open_log(o.log_file, o.log_level)) {
		cli_free(&o);
		return 1;
	}
	for (unsigned i = 0; i < o.nwarnings; i++)
		fprintf(stderr, "kiln: warning: %s\n", o.warnings[i]);
	ctx = krun_create_ctx();
	if (ctx < 0) {
		fprintf(stderr, "kiln: cannot create a VM context: %s\n", strerror(-ctx));
		cli_free(&o);
		return 1;
	}
	if (cli_apply(ctx, &o)) {
		fprintf(stderr, "kiln: %s\n", o.error);
		ret = 1;
	} else {
		ret = run_vm(ctx, &o);
	}
	krun_free_ctx(ctx);
	cli_free(&o);
	return ret;
}
