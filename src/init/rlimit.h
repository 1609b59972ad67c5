/*
 * Resource limits as libkrun passes them ("RES=cur:max", RES a number or a name) and as OCI
 * writes them (a name, soft and hard numbers). Pure parsing; the init calls setrlimit().
 */
#ifndef KILN_INIT_RLIMIT_H
#define KILN_INIT_RLIMIT_H

#include <stddef.h>
#include <stdint.h>

#define INIT_RLIM_INFINITY UINT64_MAX
#define INIT_RLIMIT_COUNT  16 /* RLIM_NLIMITS on Linux */

struct init_rlimit {
	int resource; /* RLIMIT_* */
	uint64_t cur, max;
};

/* "7", "NOFILE", "RLIMIT_NOFILE" (case-insensitive) -> RLIMIT_NOFILE; -EINVAL if unknown. */
int rlimit_resource(const char *s, size_t len);

/* "NOFILE" for RLIMIT_NOFILE; "?" when unknown. */
const char *rlimit_name(int resource);

/* A decimal number, or "unlimited", "infinity" or "-1" (RLIM_INFINITY). 0 or -EINVAL. */
int rlimit_value(const char *s, size_t len, uint64_t *out);

/* One "RES=cur:max" entry of len bytes. 0 or -EINVAL (also when cur > max). */
int rlimit_parse(const char *s, size_t len, struct init_rlimit *out);

#endif
