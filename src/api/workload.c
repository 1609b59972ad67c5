/* The workload's description for the guest init, and the kernel command line that names it. */
#define _GNU_SOURCE
#include "api/workload.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <kiln.h>

#include "vmm/config.h"

static void put_str(FILE *f, const char *s)
{
	fputc('"', f);
	for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
		if (*p == '"' || *p == '\\')
			fprintf(f, "\\%c", *p);
		else if (*p < 0x20 || *p == 0x7f)
			fprintf(f, "\\u%04x", *p);
		else
			fputc(*p, f);
	}
	fputc('"', f);
}

static void put_strv(FILE *f, const char *key, const char *first, char *const *v)
{
	bool comma = false;

	fprintf(f, ",\"%s\":[", key);
	if (first) {
		put_str(f, first);
		comma = true;
	}
	for (; v && *v; v++, comma = true) {
		if (comma)
			fputc(',', f);
		put_str(f, *v);
	}
	fputc(']', f);
}

static void put_nics(FILE *f, const struct workload_nic *nics, unsigned n)
{
	fputs(",\"net\":[", f);
	for (unsigned i = 0; i < n; i++) {
		const uint8_t *m = nics[i].mac;

		fprintf(f, "%s{\"mac\":\"%02x:%02x:%02x:%02x:%02x:%02x\",\"dhcp\":%s}",
			i ? "," : "", m[0], m[1], m[2], m[3], m[4], m[5],
			nics[i].dhcp ? "true" : "false");
	}
	fputc(']', f);
}

char *workload_json(const struct workload *w)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	if (!f)
		return NULL;
	fputs("{\"kiln\":1", f);
	if (w->has_exec && w->exec_path)
		put_strv(f, "args", w->exec_path, w->argv);
	if (w->has_exec && w->envp)
		put_strv(f, "env", NULL, w->envp);
	if (w->has_exec && w->workdir) {
		fputs(",\"cwd\":", f);
		put_str(f, w->workdir);
	}
	if (w->has_exec && w->rlimits)
		put_strv(f, "rlimits", NULL, w->rlimits);
	if (w->nnics)
		put_nics(f, w->nics, w->nnics);
	fputs("}\n", f);
	if (fclose(f)) {
		free(buf);
		return NULL;
	}
	return buf;
}

/* Append " word" unless base already has that parameter (the same text up to '=', or the word). */
static void put_param(FILE *f, const char *base, const char *word)
{
	const char *eq = strchr(word, '=');
	size_t klen = eq ? (size_t)(eq - word) + 1 : strlen(word);

	for (const char *p = base; *p;) {
		size_t n = strcspn(p, " ");

		if (n >= klen && !strncmp(p, word, klen) && (eq || n == klen))
			return;
		p += n;
		p += strspn(p, " ");
	}
	fprintf(f, " %s", word);
}

char *workload_cmdline(const char *base, const char *console, bool root_ro, bool exec_json)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	if (!f)
		return NULL;
	if (!base)
		base = KILN_DEFAULT_CMDLINE " quiet";
	/* Copy base word by word, replacing console= when asked. */
	for (const char *p = base; *p;) {
		size_t n;

		while (*p == ' ')
			p++;
		n = strcspn(p, " ");
		if (!n)
			break;
		if (console && !strncmp(p, "console=", 8))
			fprintf(f, "%sconsole=%s", ftell(f) ? " " : "", console);
		else
			fprintf(f, "%s%.*s", ftell(f) ? " " : "", (int)n, p);
		p += n;
	}
	if (console && !strstr(base, "console="))
		fprintf(f, " console=%s", console);
	/* Kernels with virtio-fs built in mount the root themselves; Kiln's initramfs does it. */
	put_param(f, base, "rootfstype=virtiofs");
	put_param(f, base, "root=" VM_ROOT_TAG);
	put_param(f, base, "init=/" VM_INIT_NAME);
	put_param(f, base, root_ro ? "ro" : "rw");
	if (root_ro)
		put_param(f, base, "KRUN_ROOT_RO=1");
	if (exec_json)
		put_param(f, base, "KRUN_CONFIG=/" VM_EXEC_NAME);
	if (fclose(f)) {
		free(buf);
		return NULL;
	}
	return buf;
}
