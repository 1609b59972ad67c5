/* Parsing kiln's command line (vfkit grammar) into options, and applying them via the API. */
#ifndef KILN_CLI_CLI_H
#define KILN_CLI_CLI_H

#include <stdbool.h>
#include <stdint.h>

#define CLI_MAX_DEVICES 32
#define CLI_HELP	1

enum cli_dev_type {
	CLI_DEV_BLK,
	CLI_DEV_RNG,
	CLI_DEV_SERIAL,
};

struct cli_device {
	enum cli_dev_type type;
	const char *path; /* blk: image; serial: log file (NULL = stdio) */
	bool read_only;
};

struct cli_opts {
	unsigned cpus;
	uint64_t memory_mib;
	const char *kernel, *initrd, *cmdline;
	const char *pidfile, *log_file;
	bool efi; /* --bootloader efi was given */
	unsigned log_level;
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

/* kiln gpu-serve ARGS... (argv[0] is "gpu-serve"): the exit status. */
int cli_gpu_serve(int argc, char **argv);

#endif
