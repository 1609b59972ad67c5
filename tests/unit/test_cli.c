/* kiln's command-line grammar: what is accepted, and one clear error for what is not. */
#include <string.h>

#include "check.h"
#include "cli/cli.h"

static int parse(struct cli_opts *o, const char *const *args)
{
	char *argv[32];
	int argc = 0;

	argv[argc++] = "kiln";
	while (*args)
		argv[argc++] = (char *)*args++;
	argv[argc] = NULL;
	return cli_parse(argc, argv, o);
}

static void test_good(void)
{
	struct cli_opts o;
	const char *a[] = { "--cpus",
			    "2",
			    "--memory=1G",
			    "-kernel",
			    "vmlinuz",
			    "--initrd",
			    "i.cpio",
			    "--kernel-cmdline",
			    "console=hvc0",
			    "--device",
			    "virtio-blk,path=a.img,readonly",
			    "--device",
			    "virtio-rng",
			    "--device",
			    "virtio-serial,stdio",
			    "--pidfile",
			    "/run/k.pid",
			    "--log-file=k.log",
			    NULL };

	CHECK(parse(&o, a) == 0, "good command line rejected: %s", o.error);
	CHECK(o.cpus == 2, "cpus %u", o.cpus);
	CHECK(o.memory_mib == 1024, "memory %llu", (unsigned long long)o.memory_mib);
	CHECK(o.kernel && !strcmp(o.kernel, "vmlinuz"), "kernel");
	CHECK(o.ndev == 3, "ndev %u", o.ndev);
	CHECK(o.pidfile && !strcmp(o.pidfile, "/run/k.pid"), "pidfile");
	CHECK(o.log_file && !strcmp(o.log_file, "k.log"), "log file");
	CHECK(o.dev[0].type == CLI_DEV_BLK && o.dev[0].read_only && !strcmp(o.dev[0].path, "a.img"),
	      "blk device");
	CHECK(o.dev[1].type == CLI_DEV_RNG, "rng device");
	CHECK(o.dev[2].type == CLI_DEV_SERIAL && !o.dev[2].path, "serial stdio");
	cli_free(&o);
}

static void test_blk_format(void)
{
	struct cli_opts o;
	const char *a[] = { "--kernel", "k",
			    "--device", "virtio-blk,path=a.qcow2,format=qcow2",
			    "--device", "virtio-blk,path=b.img,format=raw",
			    NULL };

	CHECK(parse(&o, a) == 0, "format= rejected: %s", o.error);
	CHECK(o.ndev == 2 && o.dev[0].qcow2 && !o.dev[1].qcow2, "format=qcow2 / raw");
	cli_free(&o);
}

static void expect_error(const char *const *args, const char *needle)
{
	struct cli_opts o;
	int ret = parse(&o, args);

	CHECK(ret < 0, "accepted a bad command line (expected '%s')", needle);
	CHECK(strstr(o.error, needle) != NULL, "error '%s' does not name '%s'", o.error, needle);
	cli_free(&o);
}

static void test_bad(void)
{
	const char *unknown_flag[] = { "--kernel", "k", "--frobnicate", NULL };
	const char *unknown_dev[] = { "--kernel", "k", "--device", "virtio-foo", NULL };
	const char *unknown_key[] = { "--kernel", "k", "--device", "virtio-blk,path=x,colour=red",
				      NULL };
	const char *no_path[] = { "--kernel", "k", "--device", "virtio-blk,readonly", NULL };
	const char *bad_format[] = { "--kernel", "k", "--device", "virtio-blk,path=x,format=vmdk",
				     NULL };
	const char *bad_cpus[] = { "--kernel", "k", "--cpus", "0", NULL };
	const char *big_cpus[] = { "--kernel", "k", "--cpus", "256", NULL };
	const char *bad_mem[] = { "--kernel", "k", "--memory", "12T", NULL };
	const char *neg_mem[] = { "--kernel", "k", "--memory", "-5", NULL };
	const char *no_kernel[] = { "--cpus", "1", NULL };
	const char *missing_value[] = { "--kernel", NULL };
	const char *stray[] = { "--kernel", "k", "extra", NULL };

	expect_error(unknown_flag, "--frobnicate");
	expect_error(unknown_dev, "virtio-foo");
	expect_error(unknown_key, "colour");
	expect_error(no_path, "path");
	expect_error(bad_format, "vmdk");
	expect_error(bad_cpus, "--cpus");
	expect_error(big_cpus, "256");
	expect_error(bad_mem, "12T");
	expect_error(neg_mem, "--memory");
	expect_error(no_kernel, "--kernel");
	expect_error(missing_value, "needs a value");
	expect_error(stray, "extra");
}

static void test_krunkit(void)
{
	struct cli_opts o;
	const char *linux_bl[] = { "--bootloader",
				   "linux,kernel=k,initrd=i,cmdline=\"console=hvc0 a=b,c\"", NULL };
	const char *podman[] = { "--cpus",
				 "2",
				 "--memory",
				 "2048",
				 "--bootloader",
				 "efi,variable-store=/x/efi-bl,create",
				 "--kernel",
				 "k",
				 "--nested",
				 "--gui",
				 "--oem-string",
				 "x=y",
				 "--restful-uri",
				 "none://",
				 NULL };
	const char *efi_only[] = { "--bootloader", "efi,variable-store=/x,create", NULL };
	const char *net[] = { "--kernel", "k", "--device",
			      "virtio-net,unixSocketPath=/s,mac=5a:94:ef:e4:0c:ee", NULL };
	const char *rest[] = { "--kernel", "k", "--restful-uri", "tcp://localhost:8081", NULL };
	const char *bad_bl[] = { "--bootloader", "grub,foo", NULL };
	const char *fs[] = { "--kernel", "k", "--device",
			     "virtio-fs,sharedDir=/srv/x,mountTag=data,readonly", NULL };
	const char *fs_notag[] = { "--kernel", "k", "--device", "virtio-fs,sharedDir=/srv/x",
				   NULL };
	const char *fs_longtag[] = {
		"--kernel", "k", "--device",
		"virtio-fs,sharedDir=/x,mountTag=0123456789012345678901234567890123456", NULL
	};

	CHECK(parse(&o, linux_bl) == 0, "linux bootloader: %s", o.error);
	CHECK(o.kernel && !strcmp(o.kernel, "k"), "bootloader kernel");
	CHECK(o.initrd && !strcmp(o.initrd, "i"), "bootloader initrd");
	CHECK(o.cmdline && !strcmp(o.cmdline, "console=hvc0 a=b,c"), "bootloader cmdline '%s'",
	      o.cmdline ? o.cmdline : "");
	cli_free(&o);
	CHECK(parse(&o, podman) == 0, "podman's line with --kernel: %s", o.error);
	CHECK(o.efi && o.nwarnings == 3, "EFI, --gui and --oem-string are warned about (%u)",
	      o.nwarnings);
	cli_free(&o);
	expect_error(efi_only, "EFI");
	expect_error(net, "virtio-net is not supported");
	expect_error(rest, "REST API");
	expect_error(bad_bl, "linux or efi");
	CHECK(parse(&o, fs) == 0 && o.ndev == 1 && o.dev[0].type == CLI_DEV_FS &&
		      !strcmp(o.dev[0].path, "/srv/x") && !strcmp(o.dev[0].tag, "data") &&
		      o.dev[0].read_only,
	      "virtio-fs device: %s", o.error);
	cli_free(&o);
	expect_error(fs_notag, "virtio-fs needs sharedDir=DIR and mountTag=TAG");
	expect_error(fs_longtag, "longer than 36");
}

static void test_help(void)
{
	struct cli_opts o;
	const char *a[] = { "--help", NULL };

	CHECK(parse(&o, a) == CLI_HELP, "--help");
}

int main(void)
{
	test_good();
	test_blk_format();
	test_bad();
	test_krunkit();
	test_help();
	return check_summary();
}
