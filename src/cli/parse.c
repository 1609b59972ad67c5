#define _GNU_SOURCE
#include <ctype.h>
#include <errno.h>
#include <kiln.h>
#include <libkrun.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"

enum opt_id {
	OPT_CPUS,
	OPT_MEMORY,
	OPT_KERNEL,
	OPT_INITRD,
	OPT_CMDLINE,
	OPT_DEVICE,
	OPT_LOG_LEVEL,
	OPT_PIDFILE,
	OPT_LOG_FILE,
	OPT_BOOTLOADER,
	OPT_RESTFUL_URI,
	OPT_NESTED,
	OPT_NO_BALLOON,
	OPT_GUI,
	OPT_OEM_STRING,
	OPT_TIMESYNC,
	OPT_GPU_VRAM,
	OPT_VIRGLRENDERER,
	OPT_HELP,
};

static const struct {
	const char *name;
	enum opt_id id;
	bool has_arg;
} options[] = {
	{ "cpus", OPT_CPUS, true },
	{ "memory", OPT_MEMORY, true },
	{ "kernel", OPT_KERNEL, true },
	{ "initrd", OPT_INITRD, true },
	{ "kernel-cmdline", OPT_CMDLINE, true },
	{ "device", OPT_DEVICE, true },
	{ "krun-log-level", OPT_LOG_LEVEL, true },
	{ "pidfile", OPT_PIDFILE, true },
	{ "log-file", OPT_LOG_FILE, true },
	{ "bootloader", OPT_BOOTLOADER, true },
	{ "restful-uri", OPT_RESTFUL_URI, true },
	{ "nested", OPT_NESTED, false },
	{ "no-balloon", OPT_NO_BALLOON, false },
	{ "gui", OPT_GUI, false },
	{ "oem-string", OPT_OEM_STRING, true },
	{ "timesync", OPT_TIMESYNC, true },
	{ "gpu-vram", OPT_GPU_VRAM, true },
	{ "virglrenderer", OPT_VIRGLRENDERER, true },
	{ "help", OPT_HELP, false },
	{ "h", OPT_HELP, false },
};

static int fail(struct cli_opts *o, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(o->error, sizeof(o->error), fmt, ap);
	va_end(ap);
	return -EINVAL;
}

int cli_parse_uint(const char *s, uint64_t max, uint64_t *out)
{
	char *end;
	unsigned long long v;

	if (!*s || *s == '-' || *s == '+')
		return -EINVAL;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno || *end || v > max)
		return -EINVAL;
	*out = v;
	return 0;
}

/* krunkit's --memory: MiB, or a number with an M/MiB or G/GiB suffix. */
int cli_parse_memory(const char *s, uint64_t *mib)
{
	char num[32];
	size_t n = strspn(s, "0123456789");
	const char *suf = s + n;
	uint64_t v, mult;

	if (n == 0 || n >= sizeof(num))
		return -EINVAL;
	memcpy(num, s, n);
	num[n] = 0;
	if (!*suf || !strcasecmp(suf, "M") || !strcasecmp(suf, "MiB") || !strcasecmp(suf, "MB"))
		mult = 1;
	else if (!strcasecmp(suf, "G") || !strcasecmp(suf, "GiB") || !strcasecmp(suf, "GB"))
		mult = 1024;
	else
		return -EINVAL;
	if (cli_parse_uint(num, UINT32_MAX / mult, &v) || v == 0)
		return -EINVAL;
	*mib = v * mult;
	return 0;
}

static void warn(struct cli_opts *o, const char *msg)
{
	if (o->nwarnings < sizeof(o->warnings) / sizeof(o->warnings[0]))
		o->warnings[o->nwarnings++] = msg;
}

static unsigned hex_digit(char c)
{
	return isdigit((unsigned char)c) ? (unsigned)(c - '0') : (unsigned)(tolower(c) - 'a' + 10);
}

int cli_parse_mac(const char *s, uint8_t mac[6])
{
	char sep = 0;

	for (unsigned i = 0; i < 6; i++) {
		if (!isxdigit((unsigned char)s[0]) || !isxdigit((unsigned char)s[1]))
			return -EINVAL;
		mac[i] = hex_digit(s[0]) << 4 | hex_digit(s[1]);
		s += 2;
		if (i == 5)
			break;
		if ((*s != ':' && *s != '-') || (sep && *s != sep))
			return -EINVAL;
		sep = *s++;
	}
	/* Multicast addresses cannot be a NIC's own. */
	return *s || (mac[0] & 1) ? -EINVAL : 0;
}

static int parse_bool(const char *v, bool *out)
{
	if (!v || !strcmp(v, "on") || !strcmp(v, "true")) {
		*out = true;
		return 0;
	}
	if (!strcmp(v, "off") || !strcmp(v, "false")) {
		*out = false;
		return 0;
	}
	return -EINVAL;
}

/* The id a virtio-blk disk reports to the guest (VIRTIO_BLK_T_GET_ID) is 20 bytes at most. */
#define BLK_ID_MAX 20

static int blk_key(struct cli_opts *o, struct cli_device *d, const char *k, const char *val)
{
	if (!strcmp(k, "path") && val && *val) {
		d->path = val;
	} else if (!strcmp(k, "readonly")) {
		if (parse_bool(val, &d->read_only))
			return fail(o, "virtio-blk: readonly takes on/off, not '%s'", val);
	} else if (!strcmp(k, "format") && val) {
		if (strcasecmp(val, "raw") && strcasecmp(val, "qcow2"))
			return fail(o, "virtio-blk: unknown format '%s' (raw or qcow2)", val);
		d->qcow2 = !strcasecmp(val, "qcow2");
	} else if ((!strcmp(k, "serial") || !strcmp(k, "id")) && val && *val) {
		if (strlen(val) > BLK_ID_MAX)
			return fail(o, "virtio-blk: %s is longer than %d characters", k,
				    BLK_ID_MAX);
		d->tag = val;
	} else {
		return fail(o, "virtio-blk: unknown or incomplete option '%s'", k);
	}
	return 0;
}

static int fs_key(struct cli_opts *o, struct cli_device *d, const char *k, const char *val)
{
	if (!strcmp(k, "sharedDir") && val && *val) {
		d->path = val;
	} else if (!strcmp(k, "mountTag") && val && *val) {
		if (strlen(val) > KILN_FS_TAG_MAX)
			return fail(o, "virtio-fs: mountTag is longer than %d characters",
				    KILN_FS_TAG_MAX);
		d->tag = val;
	} else if (!strcmp(k, "readonly")) {
		if (parse_bool(val, &d->read_only))
			return fail(o, "virtio-fs: readonly takes on/off, not '%s'", val);
	} else if (!strcmp(k, "permissionSemantics") && val) {
		/* kiln's share passes owners and modes through: krunkit's "complete". */
		if (!strcasecmp(val, "simplified"))
			warn(o, "virtio-fs: permissionSemantics=simplified is not supported; "
				"owners and modes pass through as with complete");
		else if (strcasecmp(val, "complete"))
			return fail(o,
				    "virtio-fs: permissionSemantics is complete or simplified, "
				    "not '%s'",
				    val);
	} else {
		return fail(o, "virtio-fs: unknown or incomplete option '%s'", k);
	}
	return 0;
}

/*
 * virtio-vsock,port=N,socketURL=PATH[,listen|connect], as vfkit: listen (the
 * default), the guest connects to the host's port N and kiln connects it to
 * the unix socket PATH, where a host program listens (podman's ready and
 * ignition ports); connect, kiln listens on PATH and host clients that
 * connect there reach the guest's port N.
 */
static int vsock_key(struct cli_opts *o, struct cli_device *d, const char *kv, const char *val)
{
	uint64_t port;

	if (!strcmp(kv, "port") && val) {
		if (cli_parse_uint(val, UINT32_MAX - 1, &port))
			return fail(o, "virtio-vsock: port '%s' is not a vsock port number", val);
		d->port = port;
		d->has_port = true;
	} else if (!strcmp(kv, "socketURL") && val && *val) {
		d->path = val;
	} else if ((!strcmp(kv, "listen") || !strcmp(kv, "connect")) && !val) {
		d->vsock_connect = !strcmp(kv, "connect");
	} else {
		return fail(o, "virtio-vsock: unknown or incomplete option '%s'", kv);
	}
	return 0;
}

static int dev_key(struct cli_opts *o, struct cli_device *d, const char *type, char *kv)
{
	char *val = strchr(kv, '=');

	if (val)
		*val++ = 0;
	switch (d->type) {
	case CLI_DEV_BLK:
		return blk_key(o, d, kv, val);
	case CLI_DEV_FS:
		return fs_key(o, d, kv, val);
	case CLI_DEV_SERIAL:
		if (!strcmp(kv, "stdio") && !val) {
			d->path = NULL;
			return 0;
		}
		if (!strcmp(kv, "logFilePath") && val && *val) {
			d->path = val;
			return 0;
		}
		break;
	case CLI_DEV_INPUT:
		/* One of keyboard or pointing, as krunkit. */
		if ((!strcmp(kv, "keyboard") || !strcmp(kv, "pointing")) && !val && !d->tag) {
			d->tag = kv;
			return 0;
		}
		break;
	case CLI_DEV_VSOCK:
		return vsock_key(o, d, kv, val);
	case CLI_DEV_GPU: {
		uint64_t n;

		/* vfkit's display size: krunkit takes and ignores it, and so does kiln. */
		if ((!strcmp(kv, "width") || !strcmp(kv, "height")) && val &&
		    !cli_parse_uint(val, 65535, &n) && n)
			return 0;
		break;
	}
	case CLI_DEV_RNG:
	case CLI_DEV_NET: /* net_key, called by parse_device_in */
		break;
	}
	return fail(o, "%s: unknown or incomplete option '%s'", type, kv);
}

/* virtio-net's keys (vfkit/krunkit): one call per key=value. */
static int net_key(struct cli_opts *o, struct cli_net *n, const char **path, const char *key,
		   const char *val)
{
	uint64_t fd;

	if (!strcmp(key, "unixSocketPath") && val && *val) {
		*path = val;
		n->gram = n->vfkit_magic = n->offloading = n->socket_path_given = true;
	} else if (!strcmp(key, "type") && val && !strcmp(val, "unixgram")) {
		n->gram = n->type_given = true;
	} else if (!strcmp(key, "type") && val && !strcmp(val, "unixstream")) {
		n->type_given = true;
	} else if (!strcmp(key, "type")) {
		return fail(o, "virtio-net: type must be unixgram or unixstream, not '%s'",
			    val ? val : "");
	} else if (!strcmp(key, "path") && val && *val) {
		*path = val;
	} else if (!strcmp(key, "fd") && val) {
		if (cli_parse_uint(val, INT32_MAX, &fd))
			return fail(o, "virtio-net: fd must be a file descriptor number, not '%s'",
				    val);
		n->fd = fd;
	} else if (!strcmp(key, "mac") && val) {
		if (cli_parse_mac(val, n->mac))
			return fail(o,
				    "virtio-net: mac '%s' is not a unicast MAC address "
				    "(like 5a:94:ef:e4:0c:ee)",
				    val);
		n->has_mac = true;
	} else if (!strcmp(key, "offloading")) {
		if (parse_bool(val, &n->offloading))
			return fail(o, "virtio-net: offloading takes on/off, not '%s'", val);
	} else if (!strcmp(key, "vfkitMagic")) {
		if (parse_bool(val, &n->vfkit_magic))
			return fail(o, "virtio-net: vfkitMagic takes on/off, not '%s'", val);
	} else if (!strcmp(key, "nat")) {
		return fail(o,
			    "virtio-net: nat is macOS's own network; use passt (type=unixstream) "
			    "or gvproxy (type=unixgram)");
	} else {
		return fail(o, "virtio-net: unknown or incomplete option '%s'", key);
	}
	return 0;
}

static int net_check(struct cli_opts *o, struct cli_device *d)
{
	const struct cli_net *n = &d->net;

	if (n->socket_path_given && (n->type_given || n->fd >= 0))
		return fail(o, "virtio-net: unixSocketPath= and type=/path=/fd= cannot be used "
			       "together");
	if (!n->socket_path_given && !n->type_given)
		return fail(o, "virtio-net needs unixSocketPath=PATH or type=unixgram|unixstream");
	if ((d->path == NULL) == (n->fd < 0))
		return fail(o, "virtio-net needs exactly one of path=PATH and fd=N");
	if (n->vfkit_magic && !n->gram)
		return fail(o, "virtio-net: vfkitMagic is for type=unixgram only");
	return 0;
}

static const struct {
	const char *name;
	enum cli_dev_type type;
} dev_types[] = {
	{ "virtio-blk", CLI_DEV_BLK },	     { "virtio-rng", CLI_DEV_RNG },
	{ "virtio-serial", CLI_DEV_SERIAL }, { "virtio-fs", CLI_DEV_FS },
	{ "virtio-input", CLI_DEV_INPUT },   { "virtio-vsock", CLI_DEV_VSOCK },
	{ "virtio-net", CLI_DEV_NET },	     { "virtio-gpu", CLI_DEV_GPU },
};

static int parse_device_in(struct cli_opts *o, struct cli_device *d, char *copy, const char *spec)
{
	char *save = NULL, *type = strtok_r(copy, ",", &save), *kv;
	size_t i;

	for (i = 0; type && i < sizeof(dev_types) / sizeof(dev_types[0]); i++)
		if (!strcmp(type, dev_types[i].name))
			break;
	if (!type || i == sizeof(dev_types) / sizeof(dev_types[0]))
		return fail(o, "unknown device type '%s' in --device %s", type ? type : "", spec);
	d->type = dev_types[i].type;
	d->net.fd = -1;
	while ((kv = strtok_r(NULL, ",", &save))) {
		char *val = strchr(kv, '=');
		int r;

		if (d->type == CLI_DEV_NET) {
			if (val)
				*val++ = 0;
			r = net_key(o, &d->net, &d->path, kv, val);
		} else {
			r = dev_key(o, d, type, kv);
		}

		if (r)
			return r;
	}
	if (d->type == CLI_DEV_BLK && !d->path)
		return fail(o, "virtio-blk needs path=FILE");
	if (d->type == CLI_DEV_FS && (!d->path || !d->tag))
		return fail(o, "virtio-fs needs sharedDir=DIR and mountTag=TAG");
	if (d->type == CLI_DEV_INPUT && !d->tag)
		return fail(o, "virtio-input needs keyboard or pointing");
	if (d->type == CLI_DEV_INPUT)
		warn(o, "virtio-input: kiln has no display, so no input devices; ignored");
	if (d->type == CLI_DEV_VSOCK && (!d->has_port || !d->path))
		return fail(o, "virtio-vsock needs port=N and socketURL=PATH");
	if (d->type == CLI_DEV_NET)
		return net_check(o, d);
	if (d->type == CLI_DEV_GPU) {
		for (unsigned j = 0; j < o->ndev; j++)
			if (o->dev[j].type == CLI_DEV_GPU)
				return fail(o, "only one virtio-gpu device is supported");
	}
	return 0;
}

static int parse_device(struct cli_opts *o, const char *spec)
{
	struct cli_device *d = &o->dev[o->ndev];
	char *copy;
	int ret;

	if (o->ndev == CLI_MAX_DEVICES)
		return fail(o, "too many devices (at most %d)", CLI_MAX_DEVICES);
	copy = strdup(spec);
	if (!copy)
		return fail(o, "out of memory");
	memset(d, 0, sizeof(*d));
	ret = parse_device_in(o, d, copy, spec);
	if (ret) {
		free(copy);
		return ret;
	}
	/* dev[] points into the copy, which lives until cli_free. */
	o->owned[o->ndev++] = copy;
	return 0;
}

static int find_option(const char *arg, const char **value)
{
	const char *name = arg + 1 + (arg[1] == '-');
	size_t len = strcspn(name, "=");

	*value = name[len] == '=' ? name + len + 1 : NULL;
	for (size_t i = 0; i < sizeof(options) / sizeof(options[0]); i++)
		if (strlen(options[i].name) == len && !strncmp(options[i].name, name, len))
			return (int)i;
	return -1;
}

/* Strip one pair of surrounding double quotes, as vfkit allows around values. */
static char *unquote(char *v)
{
	size_t n = strlen(v);

	if (n >= 2 && v[0] == '"' && v[n - 1] == '"') {
		v[n - 1] = 0;
		return v + 1;
	}
	return v;
}

/*
 * vfkit's --bootloader: "linux,kernel=P,initrd=P,cmdline=S" boots a kernel;
 * "efi,variable-store=P[,create]" (what podman sends) needs firmware, which
 * kiln does not have: accepted only together with --kernel.
 */
static int parse_bootloader(struct cli_opts *o, const char *spec)
{
	char *copy = strdup(spec), *save = NULL, *kind, *kv;

	if (!copy)
		return fail(o, "out of memory");
	free(o->owned[CLI_MAX_DEVICES]);
	o->owned[CLI_MAX_DEVICES] = copy;
	kind = strtok_r(copy, ",", &save);
	if (kind && !strcmp(kind, "efi")) {
		/* krunkit's keys, checked though unused: kiln has no firmware (cli_parse says so).
		 */
		while ((kv = strtok_r(NULL, ",", &save)))
			if (strcmp(kv, "create") && strncmp(kv, "variable-store=", 15))
				return fail(o,
					    "--bootloader efi: unknown option '%s' "
					    "(variable-store=PATH, create)",
					    kv);
		o->efi = true;
		return 0;
	}
	if (!kind || strcmp(kind, "linux"))
		return fail(o, "--bootloader %s: the type must be linux or efi", spec);
	/* The command line may hold commas: it runs to the end of the spec. */
	while ((kv = strtok_r(NULL, ",", &save))) {
		char *val = strchr(kv, '=');

		if (!val)
			return fail(o, "--bootloader: '%s' needs a value", kv);
		*val++ = 0;
		if (!strcmp(kv, "kernel"))
			o->kernel = unquote(val);
		else if (!strcmp(kv, "initrd"))
			o->initrd = unquote(val);
		else if (!strcmp(kv, "cmdline")) {
			if (*save)
				val[strlen(val)] = ',';
			o->cmdline = unquote(val);
			break;
		} else
			return fail(o, "--bootloader linux: unknown option '%s'", kv);
	}
	return 0;
}

static int set_option(struct cli_opts *o, enum opt_id id, const char *name, const char *v)
{
	uint64_t n;

	switch (id) {
	case OPT_CPUS:
		if (cli_parse_uint(v, 255, &n) || n == 0)
			return fail(o, "--%s: '%s' is not a vCPU count from 1 to 255", name, v);
		o->cpus = n;
		break;
	case OPT_MEMORY:
		if (cli_parse_memory(v, &o->memory_mib))
			return fail(o, "--%s: '%s' is not a size (MiB, or a number with M or G)",
				    name, v);
		break;
	case OPT_KERNEL:
		o->kernel = v;
		break;
	case OPT_INITRD:
		o->initrd = v;
		break;
	case OPT_CMDLINE:
		o->cmdline = v;
		break;
	case OPT_DEVICE:
		return parse_device(o, v);
	case OPT_LOG_LEVEL:
		if (cli_parse_uint(v, 5, &n))
			return fail(o, "--%s: '%s' is not a level from 0 to 5", name, v);
		o->log_level = n;
		break;
	case OPT_PIDFILE:
		o->pidfile = v;
		break;
	case OPT_LOG_FILE:
		o->log_file = v;
		break;
	case OPT_BOOTLOADER:
		return parse_bootloader(o, v);
	case OPT_RESTFUL_URI:
		if (rest_parse_uri(v, &o->rest))
			return fail(o,
				    "--%s %s: not tcp://IPV4:PORT (or localhost:PORT), "
				    "unix://PATH (shorter than %d bytes) or none://",
				    name, v, REST_PATH_MAX);
		break;
	case OPT_NESTED:
		o->nested = true;
		break;
	case OPT_NO_BALLOON:
		o->no_balloon = true;
		break;
	case OPT_GUI:
		warn(o, "--gui: kiln has no display; ignored");
		break;
	case OPT_GPU_VRAM:
		if (cli_parse_memory(v, &o->gpu_vram_mib) || !o->gpu_vram_mib ||
		    o->gpu_vram_mib > (KILN_GPU_SHM_MAX >> 20))
			return fail(o, "--%s %s: expected a size such as 8G or 4096M (at most 1T)",
				    name, v);
		break;
	case OPT_VIRGLRENDERER:
		if (!*v)
			return fail(o, "--%s needs a library name or path", name);
		o->virgl_path = v;
		break;
	case OPT_OEM_STRING:
		warn(o, "--oem-string: kiln has no SMBIOS tables yet; ignored");
		break;
	case OPT_TIMESYNC:
		if (strncmp(v, "vsockPort=", 10) || cli_parse_uint(v + 10, UINT32_MAX, &n))
			return fail(o, "--%s %s: expected vsockPort=N", name, v);
		warn(o, "--timesync: kiln does not sync the guest clock over vsock yet; ignored");
		break;
	case OPT_HELP:
		return CLI_HELP;
	}
	return 0;
}

int cli_parse(int argc, char **argv, struct cli_opts *o)
{
	memset(o, 0, sizeof(*o));
	o->cpus = 1;
	o->memory_mib = 512;
	o->log_level = KRUN_LOG_LEVEL_WARN;
	for (int i = 1; i < argc; i++) {
		const char *arg = argv[i], *value;
		int k, ret;

		if (arg[0] != '-' || !arg[1])
			return fail(o, "unexpected argument '%s'", arg);
		k = find_option(arg, &value);
		if (k < 0)
			return fail(o, "unknown option '%s'", arg);
		if (options[k].has_arg && !value) {
			if (i + 1 >= argc)
				return fail(o, "option '%s' needs a value", arg);
			value = argv[++i];
		} else if (!options[k].has_arg && value) {
			return fail(o, "option '--%s' takes no value", options[k].name);
		}
		ret = set_option(o, options[k].id, options[k].name, value);
		if (ret)
			return ret;
	}
	if (!o->kernel && o->efi)
		return fail(o, "--bootloader efi: kiln cannot boot EFI firmware yet; "
			       "give the kernel with --kernel (and --initrd)");
	if (!o->kernel)
		return fail(o, "--kernel is required (a Linux bzImage or vmlinux)");
	if (o->efi)
		warn(o, "--bootloader efi: no EFI firmware; booting --kernel directly");
	if (o->gpu_vram_mib || o->virgl_path) {
		bool gpu = false;

		for (unsigned j = 0; j < o->ndev; j++)
			gpu |= o->dev[j].type == CLI_DEV_GPU;
		if (!gpu)
			return fail(o, "%s needs --device virtio-gpu",
				    o->gpu_vram_mib ? "--gpu-vram" : "--virglrenderer");
	}
	return 0;
}

void cli_free(struct cli_opts *o)
{
	for (unsigned i = 0; i < o->ndev; i++)
		free(o->owned[i]);
	free(o->owned[CLI_MAX_DEVICES]);
	o->owned[CLI_MAX_DEVICES] = NULL;
	o->ndev = 0;
}

static int add_net(int ctx, const struct cli_device *d)
{
	struct cli_net n = d->net;
	uint32_t features = n.offloading ? COMPAT_NET_FEATURES : 0;
	uint32_t flags = n.vfkit_magic ? NET_FLAG_VFKIT : 0;
	uint8_t *mac = n.has_mac ? n.mac : NULL;

	return n.gram ? krun_add_net_unixgram(ctx, d->path, n.fd, mac, features, flags)
		      : krun_add_net_unixstream(ctx, d->path, n.fd, mac, features, flags);
}

static int api_fail(struct cli_opts *o, int ret, const char *what)
{
	snprintf(o->error, sizeof(o->error), "%s: %s", what, strerror(-ret));
	return ret;
}

int cli_apply(int ctx, struct cli_opts *o)
{
	bool serial_seen = false;
	int ret;

	ret = krun_set_vm_config(ctx, o->cpus, o->memory_mib);
	if (ret)
		return api_fail(o, ret, "--cpus/--memory");
	ret = krun_set_kernel(ctx, o->kernel, KRUN_KERNEL_FORMAT_RAW, o->initrd, o->cmdline);
	if (ret)
		return api_fail(o, ret, "--kernel");
	ret = krun_set_nested_virt(ctx, o->nested);
	if (ret)
		return api_fail(o, ret, "--nested");
	ret = kiln_set_balloon(ctx, !o->no_balloon);
	if (ret)
		return api_fail(o, ret, "--no-balloon");
	for (unsigned i = 0; i < o->ndev; i++) {
		const struct cli_device *d = &o->dev[i];
		char id[16];

		switch (d->type) {
		case CLI_DEV_BLK:
			snprintf(id, sizeof(id), "disk%u", i);
			ret = krun_add_disk2(ctx, d->tag ? d->tag : id, d->path,
					     d->qcow2 ? KRUN_DISK_FORMAT_QCOW2
						      : KRUN_DISK_FORMAT_RAW,
					     d->read_only);
			break;
		case CLI_DEV_INPUT:
			ret = 0; /* warned about in cli_parse */
			break;
		case CLI_DEV_RNG:
			ret = kiln_add_rng(ctx);
			break;
		case CLI_DEV_GPU:
			ret = krun_set_gpu_options2(
				ctx, VIRGLRENDERER_VENUS | VIRGLRENDERER_NO_VIRGL,
				o->gpu_vram_mib ? o->gpu_vram_mib << 20 : 8ULL << 30);
			if (!ret)
				ret = kiln_set_gpu_library(ctx, o->virgl_path);
			break;
		case CLI_DEV_FS:
			ret = krun_add_virtiofs3(ctx, d->tag, d->path, 0, d->read_only);
			break;
		case CLI_DEV_VSOCK:
			/* vfkit's connect (the host connects in) is libkrun's listen = true. */
			ret = krun_add_vsock_port2(ctx, d->port, d->path, d->vsock_connect);
			break;
		case CLI_DEV_NET:
			ret = add_net(ctx, d);
			break;
		case CLI_DEV_SERIAL:
			if (serial_seen)
				return fail(o, "only one virtio-serial device is supported");
			serial_seen = true;
			ret = d->path ? krun_set_console_output(ctx, d->path)
				      : kiln_add_console(ctx, STDIN_FILENO, STDOUT_FILENO);
			break;
		}
		if (ret)
			return api_fail(o, ret, d->path ? d->path : "--device");
	}
	/* Without virtio-serial the guest still gets hvc0 on stdio, as a VM (not a container). */
	if (!serial_seen && (ret = kiln_add_console(ctx, STDIN_FILENO, STDOUT_FILENO)))
		return api_fail(o, ret, "console");
	return 0;
}
