/*
 * The FUSE server (virtio-fs) on arbitrary request sequences, as a hostile
 * guest kernel could send them, against a scratch directory. The input is a
 * series of requests: [u16 reply room][u16 length][length bytes], each
 * handed over as one request with the reply space given. Node ids the
 * server handed out are small, so guesses reach real nodes.
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <linux/fuse.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fs/fuse_server.h"

static struct fuse_server *srv;
static uint8_t reply[65536]; /* any u16 reply room fits */

static void exit_status(void *opaque, int status)
{
	(void)opaque;
	(void)status;
}

static void setup(void)
{
	static const uint8_t data[] = "overlay";
	static char dir[] = "/tmp/kiln-fuzz-fuse-XXXXXX";
	struct fuse_server_config cfg = {
		.path = dir,
		.overlays = { { "init.krun", data, sizeof(data), S_IFREG | 0755, true } },
		.noverlays = 1,
		.exit_status = exit_status,
	};
	char p[128];

	/* Guest-sized files (FALLOCATE, WRITE at huge offsets) must not fill the disk here. */
	setrlimit(RLIMIT_FSIZE, &(struct rlimit){ 64 << 20, 64 << 20 });
	signal(SIGXFSZ, SIG_IGN);
	if (!mkdtemp(dir))
		abort();
	snprintf(p, sizeof(p), "%s/sub", dir);
	mkdir(p, 0755);
	snprintf(p, sizeof(p), "%s/sub/file", dir);
	close(open(p, O_CREAT | O_WRONLY, 0644));
	snprintf(p, sizeof(p), "%s/link", dir);
	if (symlink("/etc", p))
		abort();
	fuse_server_thread_init();
	if (fuse_server_new(&cfg, &srv))
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (!srv)
		setup();
	while (size >= 4) {
		uint16_t room, len;
		struct iovec in[2], out;

		memcpy(&room, data, 2);
		memcpy(&len, data + 2, 2);
		data += 4;
		size -= 4;
		if (len > size)
			len = size;
		/* Split the request in two segments, as a guest's descriptor chain may. */
		in[0] = (struct iovec){ (void *)data, len / 2 };
		in[1] = (struct iovec){ (void *)(data + len / 2), len - len / 2 };
		out = (struct iovec){ reply, room };
		fuse_server_handle(srv, in, 2, &out, 1);
		data += len;
		size -= len;
	}
	/* Each input starts from a clean slate of guest references. */
	fuse_server_reset(srv);
	return 0;
}
