/* Parsing kiln's command line (vfkit grammar) into options, and applying them via the API. */
#ifndef KILN_CLI_CLI_H
#define KILN_CLI_CLI_H

#include <stdbool.h>
#include <stdint.h>

#include "cli/rest_req.h"

#define CLI_MAX_DEVICES 32
#define CLI_HELP	1

enum cli_dev_type {
	CLI_DEV_BLK,
	CLI_DEV_RNG,
	CLI_DEV_SERIAL,
	CLI_DEV_FS,
	CLI_DEV_INPUT, /* krunkit ignores virtio-input; so does kiln, with a warning */
	CLI_DEV_VSOCK,
	CLI_DEV_NET,
	CLI_DEV_GPU, /* virtio-gpu with Venus; width/height accepted, no display */
};

/* virtio-net: type=unixstream|unixgram (or unixSocketPath=, vfkit's gvproxy form). */
struct cli_net {
	bool gram;
	int fd; /* -1: path */
	bool has_mac, offloading, vfkit_magic;
	bool type_given, socket_path_given;
	uint8_t mac[6];
};

struct cli_device {
	enum cli_dev_type type;
	const char *path; /* blk: image; serial: log file (NULL = stdio); fs: shared dir; vsock:
			     socketURL */
	const char *tag;  /* fs: mountTag; blk: serial/id (NULL: disk<N>) */
	bool qcow2;	  /* blk: format=qcow2 (else raw) */
	bool read_only;
	bool has_port, vsock_connect; /* vsock: port= seen; connect (the host connects in) */
	uint32_t port;
	struct cli_net net;
};

struct cli_opts {
	unsigned cpus;
	uint64_t memory_mib;
	const char *kernel, *initrd, *cmdline;
	const char *pidfile, *log_file;
	bool efi;		/* --bootloader efi was given */
	bool nested;		/* --nested: offer SVM/VMX to the guest */
	bool no_balloon;	/* --no-balloon: no virtio-balloon (free page reporting) */
	uint64_t gpu_vram_mib;	/* --gpu-vram: the GPU's host-visible window (0: default) */
	const char *virgl_path; /* --virglrenderer: the library the GPU loads */
	unsigned log_level;
	struct rest_uri rest; /* --restful-uri; REST_NONE by default */
	struct cli_device dev[CLI_MAX_DEVICES];
	unsigned ndev;
	char *owned[CLI_MAX_DEVICES + 1]; /* spec copies that dev[] and the bootloader point into */
	/* Accepted for krunkit compatibility but without effect: told to the user. */
	const char *warnings[8];
	unsigned nwarnings;
	char error[256];
};

/* 0 on success, CLI_HELP for --help, -EINVAL with o->error set otherwise. */
int cli_parse(int argc, char **argv, struct cli_opts *o);
/* Configure libkrun context ctx from o; -errno with o->error set on failure. */
int cli_apply(int ctx, struct cli_opts *o);
void cli_free(struct cli_opts *o);

/* Helpers shared by the parsers: a decimal <= max; krunkit's --memory (MiB, M/G suffixes). */
int cli_parse_uint(const char *s, uint64_t max, uint64_t *out);
int cli_parse_memory(const char *s, uint64_t *mib);
/* A unicast MAC address, six pairs of hex digits separated by ':' or '-'. */
int cli_parse_mac(const char *s, uint8_t mac[6]);

/* ---- kiln run: one command in a microVM on a root directory ---- */

#define RUN_MAX_ENV	256
#define RUN_MAX_VOLS	7
#define RUN_MAX_RLIMITS 16

struct run_volume {
	const char *path, *tag;
	bool read_only;
};

struct run_opts {
	const char *rootfs;
	unsigned cpus;
	uint64_t memory_mib;
	const char *kernel, *initrd, *cmdline;
	const char *env[RUN_MAX_ENV + 1];
	unsigned nenv;
	const char *workdir;
	const char *rlimits[RUN_MAX_RLIMITS + 1];
	unsigned nrlimits;
	struct run_volume vols[RUN_MAX_VOLS];
	unsigned nvols;
	bool root_ro;
	bool net;	 /* --net: a NIC on passt, configured by DHCP in the guest */
	bool no_balloon; /* --no-balloon: no virtio-balloon (free page reporting) */
	int passt_pid;	 /* the passt that --net started (0: none), stopped by run_free */
	bool gpu;	 /* --gpu: virtio-gpu with Venus */
	uint64_t gpu_vram_mib;
	const char *virgl_path;
	unsigned log_level;
	const char *log_file;
	char **cmd; /* NULL-terminated, at least one word */
	char *owned[RUN_MAX_VOLS];
	char error[256];
};

/* argv[0] is "run". 0, CLI_HELP, or -EINVAL with o->error set. */
int run_parse(int argc, char **argv, struct run_opts *o);
/* Configure ctx from o, starting passt for --net; -errno with o->error set on failure. */
int run_apply(int ctx, struct run_opts *o);
/* Stop the passt that run_apply started, and free what o holds. */
void run_free(struct run_opts *o);

/* kiln gpu-serve ARGS... (argv[0] is "gpu-serve"): the exit status. */
int cli_gpu_serve(int argc, char **argv);

#endif
