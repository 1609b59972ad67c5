/*
 * What the guest init runs, and how: merged from the configuration file (OCI runtime config,
 * Docker image config, or kiln's flat form), the variables and arguments the kernel hands to
 * init, and defaults. Pure functions: no system calls, so the host tests and fuzzes them.
 */
#ifndef KILN_INIT_CONFIG_H
#define KILN_INIT_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "init/rlimit.h"

#define CONFIG_MAX_ARGS	    4096
#define CONFIG_MAX_ENV	    4096
#define CONFIG_DEFAULT_PATH "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
#define CONFIG_MAX_NICS	    8

struct config_input {
	const char *json; /* the configuration file's text, or NULL when there is none */
	size_t json_len;
	const char *json_name; /* for messages */
	char *const *kenv;     /* init's environment, from the kernel command line; may be NULL */
	char *const *kargs;    /* init's arguments after argv[0]; may be NULL */
	bool console;	       /* the workload's stdout is the console: it gets TERM=xterm */
};

struct init_config {
	char **argv; /* NULL-terminated, at least one element */
	size_t argc;
	char **envp; /* NULL-terminated NAME=VALUE, one per name */
	size_t envc;
	char *cwd;				       /* never NULL after config_build() */
	char *hostname;				       /* never NULL after config_build() */
	struct init_rlimit rlimits[INIT_RLIMIT_COUNT]; /* one per resource */
	size_t nrlimits;
	char error[160];
};

/* A NIC as the VMM describes it in its own file: the guest finds it by its MAC. */
struct init_nic {
	uint8_t mac[6];
	bool dhcp; /* configure it by DHCP (NET_FLAG_DHCP_CLIENT) */
};

struct init_net {
	struct init_nic nics[CONFIG_MAX_NICS];
	size_t nnics;
	char error[160];
};

/*
 * Fill c from in. 0, or a negative errno with c->error set (bad JSON, a value of the wrong type,
 * a bad rlimit, a limit exceeded). c needs config_free() in every case.
 */
int config_build(struct init_config *c, const struct config_input *in);
void config_free(struct init_config *c);

/*
 * The NICs of kiln's file, {"net":[{"mac":"5a:94:ef:e4:0c:ee","dhcp":true},...],...}; none
 * when it has no "net". 0, or a negative errno with n->error set.
 */
int config_net(struct init_net *n, const char *json, size_t len);

/* The value of NAME in c->envp, or NULL. */
const char *config_getenv(const struct init_config *c, const char *name);

#endif
