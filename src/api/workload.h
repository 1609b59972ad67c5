/*
 * How the workload reaches the built-in guest init: a flat JSON file served
 * from memory in the root share, named on the kernel command line.
 */
#ifndef KILN_API_WORKLOAD_H
#define KILN_API_WORKLOAD_H

#include <stdbool.h>
#include <stdint.h>

/* A NIC as the init finds it: by its MAC. */
struct workload_nic {
	uint8_t mac[6];
	bool dhcp; /* NET_FLAG_DHCP_CLIENT: the init configures it by DHCP */
};

struct workload {
	const char *exec_path; /* NULL: the init's own default (config file, /bin/sh) */
	char *const *argv;     /* arguments after the program, NULL-terminated (may be NULL) */
	char *const *envp;     /* NAME=VALUE, NULL-terminated (may be NULL) */
	const char *workdir;   /* may be NULL */
	char *const *rlimits;  /* "RES=CUR:MAX", NULL-terminated (may be NULL) */
	bool has_exec;	       /* the fields above describe the workload: write them */
	const struct workload_nic *nics;
	unsigned nnics;
};

/*
 * {"args":[exec, argv...],"env":[...],"cwd":"...","rlimits":[...],
 * "net":[{"mac":"xx:..","dhcp":true},...]}, the workload only when
 * w->has_exec: a malloc'd string, or NULL when out of memory. Strings are
 * escaped per JSON.
 */
char *workload_json(const struct workload *w);

/*
 * The kernel command line for a VM whose root is the virtio-fs share:
 * base (Kiln's default when NULL) with console= replaced by console when
 * given, plus what the init needs. A malloc'd string or NULL.
 */
char *workload_cmdline(const char *base, const char *console, bool root_ro, bool exec_json);

#endif
