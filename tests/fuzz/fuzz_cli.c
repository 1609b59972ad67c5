/* The kiln command-line parser on arbitrary argument vectors (NUL-separated input). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *buf = malloc(size + 1), *argv[64];
	int argc = 0;
	struct cli_opts o;

	if (!buf)
		return 0;
	memcpy(buf, data, size);
	buf[size] = 0;
	argv[argc++] = "kiln";
	for (char *p = buf; p < buf + size && argc < 63; p += strlen(p) + 1)
		argv[argc++] = p;
	argv[argc] = NULL;
	cli_parse(argc, argv, &o);
	cli_free(&o);
	free(buf);
	return 0;
}
