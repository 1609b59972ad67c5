/*
 * The guest init's configuration: JSON parser and config merge on arbitrary input. The input is
 * the config file's text up to the first NUL; after it, NUL-separated kernel environment entries,
 * then "--" and the kernel's arguments for the workload. Seeds are plain config files.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "init/config.h"
#include "init/json.h"

#define MAX_KERNEL 64

/* Every container's children lie inside its span; a document's root spans every value. */
static uint32_t walk(const struct json_value *v, const struct json_value *end)
{
	const struct json_value *e = v + 1;

	if (v + v->span > end)
		__builtin_trap();
	if (v->type == JSON_STRING && strlen(v->str) != v->len)
		__builtin_trap();
	if (v->type != JSON_ARRAY && v->type != JSON_OBJECT)
		return v->span == 1 ? 1 : (__builtin_trap(), 0);
	for (uint32_t i = 0; i < v->count * (v->type == JSON_OBJECT ? 2 : 1); i++)
		e += walk(e, v + v->span);
	if (e != v + v->span)
		__builtin_trap();
	return v->span;
}

static void check_json(const char *text, size_t len)
{
	struct json_doc doc;

	if (!json_parse(&doc, text, len) && walk(json_root(&doc), doc.v + doc.n) != doc.n)
		__builtin_trap();
	json_free(&doc);
}

static void check_config(const struct init_config *c)
{
	if (!c->argc || !c->argv[0] || c->argv[c->argc] || !c->cwd || !c->hostname ||
	    c->envp[c->envc] || !config_getenv(c, "PATH") || c->nrlimits > INIT_RLIMIT_COUNT)
		__builtin_trap();
	for (size_t i = 0; i < c->envc; i++) {
		size_t n = strcspn(c->envp[i], "=");

		if (!n || !c->envp[i][n])
			__builtin_trap();
		for (size_t j = 0; j < i; j++)
			if (!strncmp(c->envp[i], c->envp[j], n + 1))
				__builtin_trap();
	}
	for (size_t i = 0; i < c->nrlimits; i++)
		if (c->rlimits[i].cur > c->rlimits[i].max)
			__builtin_trap();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *buf = malloc(size + 1), *kenv[MAX_KERNEL + 1], *kargs[MAX_KERNEL + 1];
	size_t json_len, nenv = 0, nargs = 0;
	struct config_input in = { .json_name = "fuzz", .kenv = kenv, .kargs = kargs };
	struct init_config c;
	int args = 0;

	if (!buf)
		return 0;
	memcpy(buf, data, size);
	buf[size] = 0;
	json_len = strnlen(buf, size);
	check_json(buf, json_len);
	for (char *p = buf + json_len + 1; p < buf + size; p += strlen(p) + 1) {
		if (!args && !strcmp(p, "--"))
			args = 1;
		else if (args && nargs < MAX_KERNEL)
			kargs[nargs++] = p;
		else if (!args && nenv < MAX_KERNEL)
			kenv[nenv++] = p;
	}
	kenv[nenv] = kargs[nargs] = NULL;
	in.json = buf;
	in.json_len = json_len;
	in.console = size & 1;
	if (!config_build(&c, &in))
		check_config(&c);
	config_free(&c);
	free(buf);
	return 0;
}
