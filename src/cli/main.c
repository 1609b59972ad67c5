/*
 * kiln: the command-line VMM, a client of the libkrun API. The grammar is
 * vfkit's/krunkit's: --flag value or --flag=value (one or two dashes), and
 * repeatable --device TYPE,key=value,... specs.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <kiln.h>
#include <libkrun.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/cli.h"

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
		"      virtio-blk,path=FILE[,readonly]\n"
		"      virtio-rng\n"
		"      virtio-fs,sharedDir=DIR,mountTag=TAG[,readonly]\n"
		"      virtio-serial,stdio | virtio-serial,logFilePath=FILE\n"
		"      virtio-net,type=unixstream|unixgram,path=SOCKET|fd=N[,mac=MAC]\n"
		"                [,offloading=on|off][,vfkitMagic=on|off]   (passt, gvproxy)\n"
		"      virtio-net,unixSocketPath=SOCKET[,mac=MAC]         (gvproxy, vfkit mode)\n"
		"  --krun-log-level N       0 (off) .. 5 (trace); default 2 (warnings)\n"
		"  --log-file PATH          kiln's own messages go to PATH (appended)\n"
		"  --pidfile PATH           written while the VM runs, removed when it ends\n"
		"  --bootloader linux,kernel=PATH[,initrd=PATH][,cmdline=STR]\n"
		"                           vfkit's form of --kernel/--initrd/--kernel-cmdline\n"
		"  --bootloader efi,...     accepted with --kernel (no EFI firmware yet)\n"
		"  --nested, --gui, --oem-string S, --timesync vsockPort=N, --restful-uri none://\n"
		"                           accepted for krunkit compatibility (warnings say what "
		"is ignored)\n"
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

static int write_pidfile(const char *path)
{
	char buf[32];
	int fd, n;

	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0) {
		fprintf(stderr, "kiln: --pidfile %s: %s\n", path, strerror(errno));
		return -errno;
	}
	n = snprintf(buf, sizeof(buf), "%d\n", (int)getpid());
	if (write(fd, buf, n) != n) {
		fprintf(stderr, "kiln: --pidfile %s: write failed\n", path);
		close(fd);
		unlink(path);
		return -EIO;
	}
	close(fd);
	return 0;
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
		return 0;
	}
	if (ret) {
		fprintf(stderr, "kiln: %s\n", o.error);
		fprintf(stderr, "Try 'kiln --help'.\n");
		return 1;
	}
	if (open_log(o.log_file, o.log_level))
		return 1;
	for (unsigned i = 0; i < o.nwarnings; i++)
		fprintf(stderr, "kiln: warning: %s\n", o.warnings[i]);
	ctx = krun_create_ctx();
	if (ctx < 0) {
		fprintf(stderr, "kiln: cannot create a VM context: %s\n", strerror(-ctx));
		return 1;
	}
	ret = cli_apply(ctx, &o);
	if (ret) {
		fprintf(stderr, "kiln: %s\n", o.error);
		return 1;
	}
	if (o.pidfile && write_pidfile(o.pidfile))
		return 1;
	ret = kiln_run(ctx);
	if (o.pidfile)
		unlink(o.pidfile);
	krun_free_ctx(ctx);
	cli_free(&o);
	return ret < 0 ? 1 : ret;
}
