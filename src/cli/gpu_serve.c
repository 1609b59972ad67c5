/* kiln gpu-serve: the command line of the Venus socket server (src/gpu/gpu_serve.h). */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/cli.h"
#include "gpu/gpu_serve.h"
#include "gpu/virgl_lib.h"
#include "util/log.h"

static void usage(FILE *f)
{
	fprintf(f, "usage: kiln gpu-serve --socket PATH [options]\n"
		   "Serve the host GPU through Mesa's Venus driver to clients on this host\n"
		   "(VN_DEBUG=vtest VTEST_SOCKET_NAME=PATH), one server process per client.\n"
		   "  --socket PATH            the unix socket to create; its mode (0777 less the\n"
		   "                           umask) decides who may use the GPU\n"
		   "  --virglrenderer LIB      virglrenderer (>= 1.0) to load "
		   "(default " VIRGL_LIB_DEFAULT ")\n"
		   "  --no-bridge              leave the host-memory bridge layer out\n"
		   "  --log-file PATH          kiln's own messages go to PATH (appended)\n"
		   "  --log-level N            0 (off) .. 5 (trace); default 2 (warnings)\n"
		   "  -h, --help               this text\n"
		   "virglrenderer starts virgl_render_server from its built-in path, or from\n"
		   "RENDER_SERVER_EXEC_PATH when that is set.\n");
}

struct gpu_cli {
	struct gpu_serve_opts serve;
	const char *log_file;
	int log_level;
};

static int parse(int argc, char **argv, struct gpu_cli *c)
{
	for (int i = 1; i < argc; i++) {
		const char *arg = argv[i], *name, *value;
		size_t len;

		if (arg[0] != '-' || !arg[1]) {
			fprintf(stderr, "kiln gpu-serve: unexpected argument '%s'\n", arg);
			return -EINVAL;
		}
		name = arg + 1 + (arg[1] == '-');
		value = strchr(name, '=');
		len = value ? (size_t)(value - name) : strlen(name);
		if (value)
			value++;
#define IS(opt) (len == strlen(opt) && !strncmp(name, opt, len))
		if (IS("h") || IS("help"))
			return CLI_HELP;
		if (IS("no-bridge")) {
			if (value) {
				fprintf(stderr, "kiln gpu-serve: --no-bridge takes no value\n");
				return -EINVAL;
			}
			c->serve.no_bridge = true;
			continue;
		}
		if (!IS("socket") && !IS("virglrenderer") && !IS("log-file") && !IS("log-level")) {
			fprintf(stderr, "kiln gpu-serve: unknown option '%s'\n", arg);
			return -EINVAL;
		}
		if (!value && i + 1 == argc) {
			fprintf(stderr, "kiln gpu-serve: %s needs a value\n", arg);
			return -EINVAL;
		}
		if (!value)
			value = argv[++i];
		if (IS("socket")) {
			c->serve.socket_path = value;
		} else if (IS("virglrenderer")) {
			c->serve.virgl_lib = value;
		} else if (IS("log-file")) {
			c->log_file = value;
		} else {
			char *end;
			long n = strtol(value, &end, 10);

			if (!*value || *end || n < 0 || n > 5) {
				fprintf(stderr,
					"kiln gpu-serve: --log-level: '%s' is not a level from 0 "
					"to 5\n",
					value);
				return -EINVAL;
			}
			c->log_level = (int)n;
		}
#undef IS
	}
	if (!c->serve.socket_path || !*c->serve.socket_path) {
		fprintf(stderr, "kiln gpu-serve: --socket PATH is required\n");
		return -EINVAL;
	}
	return 0;
}

int cli_gpu_serve(int argc, char **argv)
{
	struct gpu_cli c = { .log_level = LOG_WARN };
	int ret, fd;

	ret = parse(argc, argv, &c);
	if (ret == CLI_HELP) {
		usage(stdout);
		return 0;
	}
	if (ret) {
		fprintf(stderr, "Try 'kiln gpu-serve --help'.\n");
		return 1;
	}
	log_set_level(c.log_level);
	if (c.log_file) {
		fd = open(c.log_file, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
		if (fd < 0) {
			fprintf(stderr, "kiln gpu-serve: --log-file %s: %s\n", c.log_file,
				strerror(errno));
			return 1;
		}
		log_set_fd(fd);
	}
	ret = gpu_serve(&c.serve);
	if (ret) {
		/* On stderr even when messages go to a file: the server did not start. */
		fprintf(stderr, "kiln gpu-serve: %s\n", c.serve.error);
		if (c.log_file)
			pr_err("gpu-serve: %s", c.serve.error);
		return 1;
	}
	return 0;
}
