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
		"usage: kiln [options]\n"
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
		"      virtio-serial,stdio | virtio-serial,logFilePath=FILE\n"
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

static int open_log(const struct cli_opts *o)
{
	int fd;

	if (!o->log_file)
		return krun_set_log_level(o->log_level);
	fd = open(o->log_file, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
	if (fd < 0) {
		fprintf(stderr, "kiln: --log-file %s: %s\n", o->log_file, strerror(errno));
		return -errno;
	}
	return krun_init_log(fd, o->log_level, KRUN_LOG_STYLE_NEVER, 0);
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
	if (open_log(&o))
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
