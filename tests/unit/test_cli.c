/* kiln's command-line grammar: what is accepted, and one clear error for what is not. */
#include <errno.h>
#include <kiln.h>
#include <libkrun.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

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
	const char *rest[] = { "--kernel", "k", "--restful-uri", "tcp://localhost:8081", NULL };
	const char *rest_unix[] = { "--kernel", "k", "--restful-uri=unix:///run/k.sock", NULL };
	const char *rest_bad[] = { "--kernel", "k", "--restful-uri", "http://x:1", NULL };
	const char *rest_noport[] = { "--kernel", "k", "--restful-uri", "tcp://127.0.0.1", NULL };
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
	CHECK(parse(&o, rest) == 0 && o.rest.scheme == REST_TCP && o.rest.port == 8081 &&
		      o.rest.addr[0] == 127,
	      "--restful-uri tcp://localhost:8081: %s", o.error);
	cli_free(&o);
	CHECK(parse(&o, rest_unix) == 0 && o.rest.scheme == REST_UNIX &&
		      !strcmp(o.rest.path, "/run/k.sock"),
	      "--restful-uri unix://: %s", o.error);
	cli_free(&o);
	CHECK(parse(&o, linux_bl) == 0 && o.rest.scheme == REST_NONE, "REST off by default");
	cli_free(&o);
	expect_error(rest_bad, "--restful-uri http://x:1");
	expect_error(rest_noport, "tcp://IPV4:PORT");
	expect_error(bad_bl, "linux or efi");
	CHECK(parse(&o, fs) == 0 && o.ndev == 1 && o.dev[0].type == CLI_DEV_FS &&
		      !strcmp(o.dev[0].path, "/srv/x") && !strcmp(o.dev[0].tag, "data") &&
		      o.dev[0].read_only,
	      "virtio-fs device: %s", o.error);
	cli_free(&o);
	expect_error(fs_notag, "virtio-fs needs sharedDir=DIR and mountTag=TAG");
	expect_error(fs_longtag, "longer than 36");
}

/* Every key krunkit gives each device, and the flags it warns about or refuses. */
static void test_grammar(void)
{
	struct cli_opts o;
	const char *blk[] = { "--kernel", "k",
			      "--device", "virtio-blk,path=a.raw,format=RAW,serial=vol-1",
			      "--device", "virtio-blk,path=b.raw,id=b",
			      NULL };
	const char *fs_perm[] = { "--kernel", "k", "--device",
				  "virtio-fs,sharedDir=/d,mountTag=t,permissionSemantics=complete",
				  NULL };
	const char *fs_simple[] = {
		"--kernel", "k", "--device",
		"virtio-fs,sharedDir=/d,mountTag=t,permissionSemantics=simplified", NULL
	};
	const char *input[] = { "--kernel", "k",
				"--device", "virtio-input,keyboard",
				"--device", "virtio-input,pointing",
				NULL };
	const char *timesync[] = { "--kernel", "k", "--timesync", "vsockPort=1234", NULL };
	const char *efi_keys[] = { "--kernel", "k", "--bootloader", "efi,variable-store=/v,create",
				   NULL };
	const char *serial_log[] = { "--kernel", "k", "--device", "virtio-serial,logFilePath=/l",
				     NULL };
	const char *mem_m[] = { "--kernel", "k", "--memory", "768M", "--cpus=4", NULL };

	CHECK(parse(&o, blk) == 0 && o.ndev == 2 && !strcmp(o.dev[0].tag, "vol-1") &&
		      !strcmp(o.dev[1].tag, "b"),
	      "virtio-blk format/serial/id: %s", o.error);
	cli_free(&o);
	CHECK(parse(&o, fs_perm) == 0 && o.nwarnings == 0, "permissionSemantics=complete: %s",
	      o.error);
	cli_free(&o);
	CHECK(parse(&o, fs_simple) == 0 && o.nwarnings == 1 &&
		      strstr(o.warnings[0], "permissionSemantics"),
	      "permissionSemantics=simplified is warned about: %s", o.error);
	cli_free(&o);
	CHECK(parse(&o, input) == 0 && o.ndev == 2 && o.dev[0].type == CLI_DEV_INPUT &&
		      o.nwarnings == 2 && strstr(o.warnings[0], "ignored"),
	      "virtio-input is accepted and ignored with a warning: %s", o.error);
	cli_free(&o);
	CHECK(parse(&o, timesync) == 0 && o.nwarnings == 1 && strstr(o.warnings[0], "--timesync"),
	      "--timesync vsockPort=N is warned about: %s", o.error);
	cli_free(&o);
	CHECK(parse(&o, efi_keys) == 0 && o.efi && o.nwarnings == 1 &&
		      strstr(o.warnings[0], "booting --kernel directly"),
	      "EFI with --kernel: a warning that the kernel boots directly: %s", o.error);
	cli_free(&o);
	CHECK(parse(&o, serial_log) == 0 && o.dev[0].type == CLI_DEV_SERIAL &&
		      !strcmp(o.dev[0].path, "/l"),
	      "virtio-serial,logFilePath: %s", o.error);
	cli_free(&o);
	CHECK(parse(&o, mem_m) == 0 && o.memory_mib == 768 && o.cpus == 4, "--memory 768M: %s",
	      o.error);
	cli_free(&o);
}

static void test_grammar_bad(void)
{
	const char *vmdk[] = { "--kernel", "k", "--device", "virtio-blk,path=a,format=vmdk", NULL };
	const char *long_id[] = { "--kernel", "k", "--device",
				  "virtio-blk,path=a,serial=012345678901234567890", NULL };
	const char *perm[] = { "--kernel", "k", "--device",
			       "virtio-fs,sharedDir=/d,mountTag=t,permissionSemantics=odd", NULL };
	const char *input_none[] = { "--kernel", "k", "--device", "virtio-input", NULL };
	const char *input_two[] = { "--kernel", "k", "--device", "virtio-input,keyboard,pointing",
				    NULL };
	const char *input_bad[] = { "--kernel", "k", "--device", "virtio-input,mouse", NULL };
	const char *gpu_key[] = { "--kernel", "k", "--device", "virtio-gpu,depth=24", NULL };
	const char *gpu_width[] = { "--kernel", "k", "--device", "virtio-gpu,width=0", NULL };
	const char *gpu_two[] = { "--kernel", "k",	    "--device", "virtio-gpu",
				  "--device", "virtio-gpu", NULL };
	const char *vram_alone[] = { "--kernel", "k", "--gpu-vram", "4G", NULL };
	const char *vram_bad[] = { "--kernel",	 "k",  "--device", "virtio-gpu",
				   "--gpu-vram", "2T", NULL };
	const char *virgl_alone[] = { "--kernel", "k", "--virglrenderer", "libv.so", NULL };
	const char *timesync[] = { "--kernel", "k", "--timesync", "port=1", NULL };
	const char *efi_key[] = { "--kernel", "k", "--bootloader", "efi,frobnicate", NULL };
	const char *linux_key[] = { "--bootloader", "linux,kernel=k,colour=red", NULL };
	const char *serial_key[] = { "--kernel", "k", "--device", "virtio-serial,pty", NULL };
	const char *rng_key[] = { "--kernel", "k", "--device", "virtio-rng,x=1", NULL };
	const char *gui_value[] = { "--kernel", "k", "--gui=yes", NULL };
	const char *level[] = { "--kernel", "k", "--krun-log-level", "6", NULL };

	expect_error(vmdk, "vmdk");
	expect_error(long_id, "longer than 20");
	expect_error(perm, "odd");
	expect_error(input_none, "keyboard or pointing");
	expect_error(input_two, "pointing");
	expect_error(input_bad, "mouse");
	expect_error(gpu_key, "depth");
	expect_error(gpu_width, "width");
	expect_error(gpu_two, "only one virtio-gpu");
	expect_error(vram_alone, "--gpu-vram needs --device virtio-gpu");
	expect_error(vram_bad, "at most 1T");
	expect_error(virgl_alone, "--virglrenderer needs --device virtio-gpu");
	expect_error(timesync, "vsockPort=N");
	expect_error(efi_key, "frobnicate");
	expect_error(linux_key, "colour");
	expect_error(serial_key, "pty");
	expect_error(rng_key, "x");
	expect_error(gui_value, "takes no value");
	expect_error(level, "--krun-log-level");
}

/* vfkit's virtio-vsock: listen (default) and connect; and the libkrun calls behind it. */
static void test_vsock(void)
{
	struct cli_opts o;
	const char *podman[] = { "--kernel", "k",
				 "--device", "virtio-vsock,port=1025,socketURL=/run/m.sock,listen",
				 "--device", "virtio-vsock,port=6,socketURL=/run/c.sock,connect",
				 "--device", "virtio-vsock,socketURL=/run/d.sock,port=7",
				 NULL };
	const char *bad_key[] = { "--kernel", "k", "--device",
				  "virtio-vsock,port=1,socketURL=/s,colour=red", NULL };
	const char *no_port[] = { "--kernel", "k", "--device", "virtio-vsock,socketURL=/s", NULL };
	const char *bad_port[] = { "--kernel", "k", "--device",
				   "virtio-vsock,port=4294967295,socketURL=/s", NULL };
	char long_path[200];
	int ctx;

	CHECK(parse(&o, podman) == 0 && o.ndev == 3, "podman's vsock devices: %s", o.error);
	CHECK(o.dev[0].type == CLI_DEV_VSOCK && o.dev[0].port == 1025 &&
		      !strcmp(o.dev[0].path, "/run/m.sock") && !o.dev[0].vsock_connect,
	      "listen: the guest connects out");
	CHECK(o.dev[1].port == 6 && o.dev[1].vsock_connect, "connect: the host connects in");
	CHECK(o.dev[2].port == 7 && !o.dev[2].vsock_connect, "listen is the default");
	cli_free(&o);
	expect_error(bad_key, "colour");
	expect_error(no_port, "port=N");
	expect_error(bad_port, "4294967295");

	ctx = krun_create_ctx();
	CHECK(krun_add_vsock_port(ctx, 1025, "/run/ready.sock") == 0, "krun_add_vsock_port");
	CHECK(krun_add_vsock_port(ctx, 1025, "/run/other.sock") == -EEXIST, "same port twice");
	CHECK(krun_add_vsock_port2(ctx, 1025, "/run/in.sock", true) == 0,
	      "the same port the other way");
	CHECK(krun_add_vsock_port2(ctx, 1, NULL, true) == -EINVAL, "no path");
	memset(long_path, 'a', sizeof(long_path) - 1);
	long_path[sizeof(long_path) - 1] = 0;
	CHECK(krun_add_vsock_port(ctx, 2, long_path) == -ENAMETOOLONG,
	      "path too long for a socket");
	CHECK(krun_add_vsock(ctx, 0) == 0, "vsock without TSI");
	CHECK(krun_add_vsock(ctx, KRUN_TSI_HIJACK_INET) == -ENOTSUP, "TSI: not supported");
	CHECK(krun_add_vsock_port(ctx + 1000, 1, "/s") == -EINVAL, "bad context");
	krun_free_ctx(ctx);
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

/* o->cmd points into argv: it outlives the call. */
static int run_args(struct run_opts *o, const char *const *args)
{
	static char *argv[32];
	int argc = 0;

	argv[argc++] = "run";
	while (*args)
		argv[argc++] = (char *)*args++;
	argv[argc] = NULL;
	return run_parse(argc, argv, o);
}

/* --no-balloon: a flag of both grammars; without it the balloon stays on. */
static void test_no_balloon(void)
{
	const char *off[] = { "--kernel", "k", "--no-balloon", NULL };
	const char *on[] = { "--kernel", "k", NULL };
	const char *valued[] = { "--kernel", "k", "--no-balloon=1", NULL };
	const char *run_off[] = { "--rootfs", "/", "--no-balloon", "true", NULL };
	const char *run_on[] = { "--rootfs", "/", "true", NULL };
	struct run_opts r;
	struct cli_opts o;

	CHECK(parse(&o, off) == 0 && o.no_balloon, "--no-balloon: %s", o.error);
	cli_free(&o);
	CHECK(parse(&o, on) == 0 && !o.no_balloon, "balloon by default: %s", o.error);
	cli_free(&o);
	CHECK(parse(&o, valued) == -EINVAL && strstr(o.error, "takes no value"),
	      "--no-balloon=1: %s", o.error);
	cli_free(&o);
	CHECK(run_args(&r, run_off) == 0 && r.no_balloon && !strcmp(r.cmd[0], "true"),
	      "run --no-balloon: %s", r.error);
	run_free(&r);
	CHECK(run_args(&r, run_on) == 0 && !r.no_balloon, "run: balloon by default: %s", r.error);
	run_free(&r);
}

/* kiln run --net: the flag, and passt looked for, started and stopped (true stands in for it). */
static void test_run_net(void)
{
	const char *a[] = { "--rootfs", "/", "--net", "--", "true", NULL };
	const char *path = getenv("PATH");
	struct run_opts o;
	int ctx;

	CHECK(run_args(&o, a) == 0 && o.net && !strcmp(o.cmd[0], "true"), "--net: %s", o.error);
	ctx = krun_create_ctx();
	setenv("PATH", "/nonexistent", 1);
	unsetenv("KILN_PASST");
	CHECK(run_apply(ctx, &o) == -EINVAL &&
		      strstr(o.error, "passt not found: install the passt package"),
	      "no passt: %s", o.error);
	run_free(&o);
	krun_free_ctx(ctx);

	CHECK(run_args(&o, a) == 0, "--net again");
	ctx = krun_create_ctx();
	setenv("KILN_PASST", "/nonexistent/passt", 1);
	CHECK(run_apply(ctx, &o) == -EINVAL && strstr(o.error, "KILN_PASST=/nonexistent/passt"),
	      "KILN_PASST not there: %s", o.error);
	run_free(&o);
	krun_free_ctx(ctx);

	CHECK(run_args(&o, a) == 0, "--net once more");
	ctx = krun_create_ctx();
	setenv("KILN_PASST", "/bin/true", 1);
	CHECK(run_apply(ctx, &o) == 0 && o.passt_pid > 0, "a passt started: %s", o.error);
	run_free(&o);
	CHECK(o.passt_pid == 0 && waitpid(-1, NULL, WNOHANG) < 0 && errno == ECHILD,
	      "and reaped by run_free");
	krun_free_ctx(ctx);
	unsetenv("KILN_PASST");
	if (path)
		setenv("PATH", path, 1);
}

/* virtio-gpu on both command lines: parsed, and applied through krun_set_gpu_options2. */
static void test_gpu(void)
{
	const char *krunkit[] = {
		"--kernel",   "k",  "--device",	       "virtio-gpu,width=800,height=600",
		"--gpu-vram", "2G", "--virglrenderer", "/opt/libv.so",
		NULL
	};
	const char *run[] = { "--rootfs", "/", "--gpu", "--gpu-vram=512M", "--", "true", NULL };
	const char *run_vram[] = { "--rootfs", "/", "--gpu-vram", "1G", "--", "true", NULL };
	struct cli_opts o;
	struct run_opts r;
	int ctx;

	CHECK(parse(&o, krunkit) == 0 && o.ndev == 1 && o.dev[0].type == CLI_DEV_GPU &&
		      o.gpu_vram_mib == 2048 && !strcmp(o.virgl_path, "/opt/libv.so"),
	      "krunkit virtio-gpu: %s", o.error);
	ctx = krun_create_ctx();
	CHECK(cli_apply(ctx, &o) == 0, "applied: %s", o.error);
	krun_free_ctx(ctx);
	cli_free(&o);
	CHECK(run_args(&r, run) == 0 && r.gpu && r.gpu_vram_mib == 512, "kiln run --gpu: %s",
	      r.error);
	run_free(&r);
	CHECK(run_args(&r, run_vram) < 0 && strstr(r.error, "--gpu-vram needs --gpu"),
	      "--gpu-vram without --gpu: %s", r.error);
	run_free(&r);
	ctx = krun_create_ctx();
	CHECK(krun_set_gpu_options(ctx, VIRGLRENDERER_USE_EGL) == -ENOTSUP, "virgl only: refused");
	CHECK(krun_set_gpu_options(ctx, 1u << 20) == -EINVAL, "unknown flag: refused");
	CHECK(krun_set_gpu_options2(ctx, VIRGLRENDERER_VENUS, 0) == -EINVAL, "no window: refused");
	CHECK(krun_set_gpu_options2(ctx, VIRGLRENDERER_VENUS, KILN_GPU_SHM_MAX + 1) == -EINVAL,
	      "huge window: refused");
	CHECK(krun_set_gpu_options(ctx, VIRGLRENDERER_VENUS | VIRGLRENDERER_NO_VIRGL) == 0,
	      "venus");
	CHECK(kiln_set_gpu_library(ctx, "") == -EINVAL, "empty library name: refused");
	CHECK(krun_has_feature(KRUN_FEATURE_GPU) == 1, "KRUN_FEATURE_GPU");
	krun_free_ctx(ctx);
}

int main(void)
{
	test_good();
	test_blk_format();
	test_bad();
	test_krunkit();
	test_grammar();
	test_grammar_bad();
	test_vsock();
	test_net();
	test_help();
	test_run_net();
	test_no_balloon();
	test_gpu();
	return check_summary();
}
