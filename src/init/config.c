#define _GNU_SOURCE
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "init/config.h"
#include "init/json.h"

static int fail(struct init_config *c, int err, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(c->error, sizeof(c->error), fmt, ap);
	va_end(ap);
	return err;
}

static int net_fail(struct init_net *n, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(n->error, sizeof(n->error), fmt, ap);
	va_end(ap);
	return -EINVAL;
}

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if ((c | 0x20) >= 'a' && (c | 0x20) <= 'f')
		return (c | 0x20) - 'a' + 10;
	return -1;
}

/* Append a copy of s[0..len) to the NULL-terminated vector *v of *n strings. */
static int vec_push(char ***v, size_t *n, const char *s, size_t len)
{
	char *copy = strndup(s, len);
	char **nv;

	if (!copy)
		return -ENOMEM;
	nv = realloc(*v, (*n + 2) * sizeof(*nv));
	if (!nv) {
		free(copy);
		return -ENOMEM;
	}
	nv[(*n)++] = copy;
	nv[*n] = NULL;
	*v = nv;
	return 0;
}

static void vec_free(char ***v, size_t *n)
{
	for (size_t i = 0; i < *n; i++)
		free((*v)[i]);
	free(*v);
	*v = NULL;
	*n = 0;
}

static int set_string(char **dst, const char *s)
{
	char *copy = strdup(s);

	if (!copy)
		return -ENOMEM;
	free(*dst);
	*dst = copy;
	return 0;
}

static int arg_push(struct init_config *c, const char *arg)
{
	if (c->argc >= CONFIG_MAX_ARGS)
		return fail(c, -E2BIG, "more than %d arguments", CONFIG_MAX_ARGS);
	return vec_push(&c->argv, &c->argc, arg, strlen(arg));
}

/* Set NAME=VALUE, replacing an earlier value of NAME. Entries without a name are not variables. */
static int env_set(struct init_config *c, const char *entry)
{
	const char *eq = strchr(entry, '=');
	size_t n = eq ? (size_t)(eq - entry) : 0;

	if (!n)
		return 0;
	for (size_t i = 0; i < c->envc; i++)
		if (!strncmp(c->envp[i], entry, n + 1))
			return set_string(&c->envp[i], entry);
	if (c->envc >= CONFIG_MAX_ENV)
		return fail(c, -E2BIG, "more than %d environment variables", CONFIG_MAX_ENV);
	return vec_push(&c->envp, &c->envc, entry, strlen(entry));
}

const char *config_getenv(const struct init_config *c, const char *name)
{
	size_t n = strlen(name);

	for (size_t i = 0; i < c->envc; i++)
		if (!strncmp(c->envp[i], name, n) && c->envp[i][n] == '=')
			return c->envp[i] + n + 1;
	return NULL;
}

static int env_default(struct init_config *c, const char *name, const char *value)
{
	char *entry;
	int ret;

	if (config_getenv(c, name))
		return 0;
	if (asprintf(&entry, "%s=%s", name, value) < 0)
		return -ENOMEM;
	ret = env_set(c, entry);
	free(entry);
	return ret;
}

/* A later limit for the same resource replaces the earlier one. */
static void rlimit_set(struct init_config *c, const struct init_rlimit *r)
{
	for (size_t i = 0; i < c->nrlimits; i++) {
		if (c->rlimits[i].resource == r->resource) {
			c->rlimits[i] = *r;
			return;
		}
	}
	/* resources are < INIT_RLIMIT_COUNT, so there is always room */
	c->rlimits[c->nrlimits++] = *r;
}

/* --- the configuration file --- */

/* Absent and null members are the same: nothing to take. */
static const struct json_value *member(const struct json_value *obj, const char *key)
{
	const struct json_value *v = json_get(obj, key);

	return v && v->type != JSON_NULL ? v : NULL;
}

static int take_strings(struct init_config *c, const struct json_value *obj, const char *key,
			const char *where, int (*add)(struct init_config *, const char *))
{
	const struct json_value *v = member(obj, key), *e;

	if (!v)
		return 0;
	if (v->type != JSON_ARRAY)
		return fail(c, -EINVAL, "%s%s: expected an array of strings", where, key);
	e = json_first(v);
	for (uint32_t i = 0; i < v->count; i++, e = json_next(e)) {
		int ret;

		if (e->type != JSON_STRING)
			return fail(c, -EINVAL, "%s%s[%u]: expected a string", where, key, i);
		ret = add(c, e->str);
		if (ret)
			return ret;
	}
	return 0;
}

/* A string member; empty strings count as absent (Docker writes "WorkingDir": ""). */
static int take_string(struct init_config *c, const struct json_value *obj, const char *key,
		       const char *where, char **dst)
{
	const struct json_value *v = member(obj, key);

	if (!v)
		return 0;
	if (v->type != JSON_STRING)
		return fail(c, -EINVAL, "%s%s: expected a string", where, key);
	return v->len ? set_string(dst, v->str) : 0;
}

static int limit_number(const struct json_value *v, uint64_t *out)
{
	if (v && v->type == JSON_NUMBER && !strcmp(v->str, "-1")) {
		*out = INIT_RLIM_INFINITY;
		return 0;
	}
	return json_u64(v, out);
}

/* Each entry either libkrun's "RES=cur:max" string or OCI's {"type", "soft", "hard"}. */
static int take_rlimits(struct init_config *c, const struct json_value *obj, const char *where)
{
	const struct json_value *v = member(obj, "rlimits"), *e;
	struct init_rlimit r;

	if (!v)
		return 0;
	if (v->type != JSON_ARRAY)
		return fail(c, -EINVAL, "%srlimits: expected an array", where);
	e = json_first(v);
	for (uint32_t i = 0; i < v->count; i++, e = json_next(e)) {
		if (e->type == JSON_STRING) {
			if (rlimit_parse(e->str, e->len, &r))
				return fail(c, -EINVAL, "%srlimits[%u]: bad limit '%.40s'", where,
					    i, e->str);
		} else if (e->type == JSON_OBJECT) {
			const struct json_value *type = json_get(e, "type");

			if (!type || type->type != JSON_STRING ||
			    (r.resource = rlimit_resource(type->str, type->len)) < 0)
				return fail(c, -EINVAL, "%srlimits[%u]: unknown type", where, i);
			if (limit_number(json_get(e, "soft"), &r.cur) ||
			    limit_number(json_get(e, "hard"), &r.max) || r.cur > r.max)
				return fail(c, -EINVAL, "%srlimits[%u]: bad soft or hard limit",
					    where, i);
		} else {
			return fail(c, -EINVAL, "%srlimits[%u]: expected a string or an object",
				    where, i);
		}
		rlimit_set(c, &r);
	}
	return 0;
}

/* OCI runtime config: process.{args,env,cwd,rlimits}, hostname. */
static int take_oci(struct init_config *c, const struct json_value *root,
		    const struct json_value *proc)
{
	int ret;

	if (proc->type != JSON_OBJECT)
		return fail(c, -EINVAL, "process: expected an object");
	ret = take_strings(c, proc, "args", "process.", arg_push);
	if (!ret)
		ret = take_strings(c, proc, "env", "process.", env_set);
	if (!ret)
		ret = take_string(c, proc, "cwd", "process.", &c->cwd);
	if (!ret)
		ret = take_rlimits(c, proc, "process.");
	if (!ret)
		ret = take_string(c, root, "hostname", "", &c->hostname);
	return ret;
}

/* Docker image config: argv is Entrypoint then Cmd. */
static int take_docker(struct init_config *c, const struct json_value *cfg, const char *where)
{
	int ret = take_strings(c, cfg, "Entrypoint", where, arg_push);

	if (!ret)
		ret = take_strings(c, cfg, "Cmd", where, arg_push);
	if (!ret)
		ret = take_strings(c, cfg, "Env", where, env_set);
	if (!ret)
		ret = take_string(c, cfg, "WorkingDir", where, &c->cwd);
	if (!ret)
		ret = take_string(c, cfg, "Hostname", where, &c->hostname);
	return ret;
}

/* kiln's own form, written by the VMM: {"args", "env", "cwd", "rlimits", "hostname"}. */
static int take_flat(struct init_config *c, const struct json_value *root)
{
	int ret = take_strings(c, root, "args", "", arg_push);

	if (!ret)
		ret = take_strings(c, root, "env", "", env_set);
	if (!ret)
		ret = take_string(c, root, "cwd", "", &c->cwd);
	if (!ret)
		ret = take_rlimits(c, root, "");
	if (!ret)
		ret = take_string(c, root, "hostname", "", &c->hostname);
	return ret;
}

static int take_json(struct init_config *c, const char *text, size_t len)
{
	struct json_doc doc;
	const struct json_value *root, *v;
	int ret = json_parse(&doc, text, len);

	if (ret) {
		if (ret != -ENOMEM)
			fail(c, ret, "bad JSON: %s", doc.error);
		goto out;
	}
	root = json_root(&doc);
	if (root->type != JSON_OBJECT) {
		ret = fail(c, -EINVAL, "expected a JSON object");
	} else if ((v = member(root, "process"))) {
		ret = take_oci(c, root, v);
	} else if ((v = member(root, "config")) && v->type == JSON_OBJECT) {
		ret = take_docker(c, v, "config.");
	} else if (json_get(root, "Cmd") || json_get(root, "Entrypoint") || json_get(root, "Env") ||
		   json_get(root, "WorkingDir")) {
		ret = take_docker(c, root, "");
	} else {
		ret = take_flat(c, root);
	}
out:
	json_free(&doc);
	return ret;
}

/* --- what the kernel passed to init --- */

static int take_rlimit_list(struct init_config *c, const char *list)
{
	struct init_rlimit r;

	while (*list) {
		size_t len = strcspn(list, ",");

		if (len) {
			if (rlimit_parse(list, len, &r))
				return fail(c, -EINVAL, "KRUN_RLIMITS: bad limit '%.*s'",
					    (int)(len > 40 ? 40 : len), list);
			rlimit_set(c, &r);
		}
		list += len;
		if (*list == ',')
			list++;
	}
	return 0;
}

static const char *after_prefix(const char *s, const char *prefix)
{
	size_t n = strlen(prefix);

	return strncmp(s, prefix, n) ? NULL : s + n;
}

/*
 * KRUN_* variables configure init and stop here; the rest are the workload's (libkrun's
 * krun_set_env without a config file). The kernel always adds HOME=/ and TERM=linux to init's
 * environment: those are its defaults, not the user's, so ours win over them.
 */
static int take_kernel(struct init_config *c, char *const *kenv, char *const *kargs)
{
	const char *init = NULL, *val;
	int ret = 0;

	for (; kenv && *kenv && !ret; kenv++) {
		const char *e = *kenv;

		if ((val = after_prefix(e, "KRUN_INIT=")))
			init = val;
		else if ((val = after_prefix(e, "KRUN_WORKDIR=")))
			ret = *val ? set_string(&c->cwd, val) : 0;
		else if ((val = after_prefix(e, "KRUN_RLIMITS=")))
			ret = take_rlimit_list(c, val);
		else if (after_prefix(e, "KRUN_") || !strcmp(e, "HOME=/") ||
			 !strcmp(e, "TERM=linux"))
			continue;
		else if ((val = after_prefix(e, "HOSTNAME=")) && *val &&
			 set_string(&c->hostname, val))
			ret = -ENOMEM;
		else
			ret = env_set(c, e);
	}
	if (ret || !init || !*init)
		return ret;
	vec_free(&c->argv, &c->argc);
	ret = arg_push(c, init);
	for (; kargs && *kargs && !ret; kargs++)
		ret = arg_push(c, *kargs);
	return ret;
}

static int take_defaults(struct init_config *c, bool console)
{
	int ret = 0;

	if (!c->argc)
		ret = arg_push(c, "/bin/sh");
	if (!ret && !c->cwd)
		ret = set_string(&c->cwd, "/");
	if (!ret && !c->hostname)
		ret = set_string(&c->hostname, "localhost");
	if (!ret)
		ret = env_default(c, "PATH", CONFIG_DEFAULT_PATH);
	if (!ret)
		ret = env_default(c, "HOME", "/root");
	if (!ret && console)
		ret = env_default(c, "TERM", "xterm");
	if (!ret)
		ret = env_default(c, "HOSTNAME", c->hostname);
	return ret;
}

int config_build(struct init_config *c, const struct config_input *in)
{
	int ret = 0;

	memset(c, 0, sizeof(*c));
	if (in->json) {
		ret = take_json(c, in->json, in->json_len);
		if (ret) {
			char why[sizeof(c->error)];

			memcpy(why, c->error, sizeof(why));
			return fail(c, ret, "%s: %s", in->json_name ? in->json_name : "config",
				    ret == -ENOMEM ? "out of memory" : why);
		}
	}
	ret = take_kernel(c, in->kenv, in->kargs);
	if (!ret)
		ret = take_defaults(c, in->console);
	if (ret == -ENOMEM)
		fail(c, ret, "out of memory");
	return ret;
}

void config_free(struct init_config *c)
{
	vec_free(&c->argv, &c->argc);
	vec_free(&c->envp, &c->envc);
	free(c->cwd);
	free(c->hostname);
	c->cwd = c->hostname = NULL;
}

/* --- kiln's NICs --- */

static int parse_mac(const struct json_value *v, uint8_t mac[6])
{
	if (!v || v->type != JSON_STRING || v->len != 17)
		return -EINVAL;
	for (int i = 0; i < 6; i++) {
		const char *p = v->str + 3 * i;
		int hi = hexval(p[0]), lo = hexval(p[1]);

		if (hi < 0 || lo < 0 || (i < 5 && p[2] != ':'))
			return -EINVAL;
		mac[i] = (uint8_t)(hi << 4 | lo);
	}
	return 0;
}

static int take_nics(struct init_net *n, const struct json_value *net)
{
	const struct json_value *e;

	if (net->type != JSON_ARRAY)
		return net_fail(n, "net: expected an array");
	if (net->count > CONFIG_MAX_NICS)
		return net_fail(n, "net: more than %d NICs", CONFIG_MAX_NICS);
	e = json_first(net);
	for (uint32_t i = 0; i < net->count; i++, e = json_next(e)) {
		struct init_nic *nic = &n->nics[n->nnics];
		const struct json_value *dhcp = json_get(e, "dhcp");

		if (e->type != JSON_OBJECT || parse_mac(json_get(e, "mac"), nic->mac))
			return net_fail(n, "net[%u]: expected {\"mac\": \"xx:xx:xx:xx:xx:xx\"}", i);
		if (dhcp && dhcp->type != JSON_BOOL)
			return net_fail(n, "net[%u].dhcp: expected true or false", i);
		nic->dhcp = dhcp && dhcp->count;
		n->nnics++;
	}
	return 0;
}

int config_net(struct init_net *n, const char *json, size_t len)
{
	struct json_doc doc;
	const struct json_value *root, *net;
	int ret = json_parse(&doc, json, len);

	memset(n, 0, sizeof(*n));
	if (ret) {
		net_fail(n, "bad JSON: %s", ret == -ENOMEM ? "out of memory" : doc.error);
	} else {
		root = json_root(&doc);
		if ((net = json_get(root, "net")) && net->type != JSON_NULL)
			ret = take_nics(n, net);
	}
	if (ret)
		n->nnics = 0;
	json_free(&doc);
	return ret;
}
