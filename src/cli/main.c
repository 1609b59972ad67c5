/*
 * kiln: the command-line VMM, a client of the libkrun API. The grammar is
 * vfkit's/krunkit's: --flag value or --flag=value (one or two dashes), and
 * repeatable --device TYPE,key=value,... specs.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <kiln.h>
#include <libkrun.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"

static void usage(FILE *f)
{
	fprintf(f,
		"usage: kiln [options]\n"
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
		"  -h, --help               this text\n",
		"console=hvc0 reboot=k panic=-1");
}

int main(int argc, char **argv)
{
	struct cli_opts o;
	int ctx, ret;

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
	krun_set_log_level(o.log_level);
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
	ret = kiln_run(ctx);
	krun_free_ctx(ctx);
	cli_free(&o);
	return ret < 0 ? 1 : ret;
}
