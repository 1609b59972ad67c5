/* kiln's command-line grammar: what is accepted, and one clear error for what is not. */
#include <stdint.h>
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

/* Both of krunkit's virtio-net forms, and one clear error for each misuse. */
static void test_net(void)
{
	struct cli_opts o;
	const char *gv[] = { "--kernel", "k", "--device",
			     "virtio-net,unixSocketPath=/s,mac=5a:94:ef:e4:0c:ee", NULL };
	const char *passt[] = {
		"--kernel", "k",
		"--device", "virtio-net,type=unixstream,fd=7,mac=5A-94-EF-E4-0C-01",
		"--device", "virtio-net,type=unixgram,path=/g,offloading=on,vfkitMagic=on",
		NULL
	};
	static const struct {
		const char *spec, *error;
	} bad[] = {
		{ "virtio-net,type=unixstream,path=/p,bogus=1",
		  "unknown or incomplete option 'bogus'" },
		{ "virtio-net,type=tcp,path=/p", "type must be unixgram or unixstream" },
		{ "virtio-net,type=unixstream", "exactly one of path=PATH and fd=N" },
		{ "virtio-net,type=unixstream,path=/p,fd=3", "exactly one of path=PATH and fd=N" },
		{ "virtio-net,path=/p", "needs unixSocketPath=PATH or type=" },
		{ "virtio-net,unixSocketPath=/s,type=unixgram", "cannot be used together" },
		{ "virtio-net,type=unixstream,path=/p,vfkitMagic=on", "for type=unixgram only" },
		{ "virtio-net,type=unixgram,path=/p,mac=01:00:5e:00:00:01", "not a unicast MAC" },
		{ "virtio-net,type=unixgram,path=/p,mac=5a:94:ef:e4:0c", "not a unicast MAC" },
		{ "virtio-net,type=unixgram,path=/p,offloading=maybe", "offloading takes on/off" },
		{ "virtio-net,type=unixgram,fd=-1", "not '-1'" },
		{ "virtio-net,nat", "nat is macOS" },
	};
	uint8_t mac[6];

	CHECK(parse(&o, gv) == 0, "vfkit's gvproxy form: %s", o.error);
	CHECK(o.ndev == 1 && o.dev[0].type == CLI_DEV_NET && o.dev[0].net.gram &&
		      o.dev[0].net.vfkit_magic && o.dev[0].net.offloading &&
		      !strcmp(o.dev[0].path, "/s") && o.dev[0].net.has_mac &&
		      o.dev[0].net.mac[5] == 0xee,
	      "unixSocketPath= is unixgram with offloading and the VFKT magic");
	cli_free(&o);
	CHECK(parse(&o, passt) == 0, "type= forms: %s", o.error);
	CHECK(o.ndev == 2 && !o.dev[0].net.gram && o.dev[0].net.fd == 7 && !o.dev[0].path &&
		      !o.dev[0].net.offloading && o.dev[0].net.mac[0] == 0x5a &&
		      o.dev[0].net.mac[5] == 1,
	      "unixstream on an fd, with a MAC in capitals and dashes");
	CHECK(o.dev[1].net.gram && o.dev[1].net.vfkit_magic && o.dev[1].net.offloading &&
		      o.dev[1].net.fd == -1 && !o.dev[1].net.has_mac,
	      "unixgram with offloading and the magic");
	cli_free(&o);
	for (unsigned i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		const char *a[] = { "--kernel", "k", "--device", bad[i].spec, NULL };

		expect_error(a, bad[i].error);
	}
	CHECK(cli_parse_mac("02:00:00:00:00:ff", mac) == 0 && mac[0] == 2 && mac[5] == 0xff,
	      "plain MAC");
	CHECK(cli_parse_mac("02:00:00:00:00:ff:", mac) < 0, "trailing separator");
	CHECK(cli_parse_mac("02:00-00:00:00:ff", mac) < 0, "mixed separators");
	CHECK(cli_parse_mac("2:0:0:0:0:ff", mac) < 0, "single digits");
	CHECK(cli_parse_mac("", mac) < 0, "empty");
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
	test_bad();
	test_krunkit();
	test_net();
	test_help();
	return check_summary();
}
