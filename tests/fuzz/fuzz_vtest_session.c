/*
 * A whole gpu-serve client session (src/gpu/vtest_session.c) on a byte
 * stream, with virglrenderer replaced by a stub: the ids, sync objects,
 * waits and per-ring fences a hostile client drives, past the parser.
 *
 * The input goes into one end of a socketpair, which is then shut for
 * writing; the session serves the other end until the stream ends or it
 * drops the client. Fences the session creates are retired by the stub's
 * context_poll (one per poll), so pending batches and waits are exercised.
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "gpu/virgl_lib.h"
#include "gpu/vtest_session.h"
#include "util/log.h"

#define MAX_FENCES 256

static struct virgl_callbacks *cbs;
static void *cookie;
static struct {
	uint32_t ring;
	uint64_t id;
} fences[MAX_FENCES];
static unsigned nfences;
static int shm_fd = -1;

static int stub_init(void *c, int flags, struct virgl_callbacks *cb)
{
	(void)flags;
	cookie = c;
	cbs = cb;
	nfences = 0;
	return 0;
}

static void stub_cleanup(void *c)
{
	(void)c;
	cbs = NULL;
}

static void stub_get_cap_set(uint32_t set, uint32_t *max_version, uint32_t *max_size)
{
	*max_version = set == 4 ? 1 : 0;
	*max_size = set == 4 ? 160 : 0;
}

static void stub_fill_caps(uint32_t set, uint32_t version, void *caps)
{
	memset(caps, (int)(set + version), 160);
}

static int stub_ctx_create(uint32_t ctx_id, uint32_t flags, uint32_t nlen, const char *name)
{
	(void)flags;
	/* the name must be readable for nlen bytes */
	for (uint32_t i = 0; i < nlen; i++)
		if (name[i] == 0x7f)
			return -1;
	return ctx_id == 1 ? 0 : -1;
}

static void stub_ctx_destroy(uint32_t ctx_id)
{
	(void)ctx_id;
}

static int stub_submit(void *buf, int ctx_id, int ndw)
{
	const uint32_t *w = buf;
	uint32_t sum = 0;

	for (int i = 0; i < ndw; i++)
		sum += w[i];
	return ctx_id == 1 && sum != 0xdeadbeef ? 0 : -1;
}

static int stub_create_blob(const struct virgl_blob_args *a)
{
	return a->size & 1 ? -1 : 0; /* odd sizes fail, as a driver might */
}

static int stub_export_blob(uint32_t res_id, uint32_t *fd_type, int *fd)
{
	*fd_type = res_id % 5 ? VIRGL_BLOB_FD_SHM : VIRGL_BLOB_FD_OPAQUE;
	*fd = dup(shm_fd);
	return *fd < 0 ? -1 : 0;
}

static void stub_unref(uint32_t res_id)
{
	(void)res_id;
}

static void stub_attach(int ctx_id, int res_id)
{
	(void)ctx_id;
	(void)res_id;
}

static int stub_create_fence(uint32_t ctx_id, uint32_t flags, uint32_t ring, uint64_t id)
{
	(void)ctx_id;
	(void)flags;
	if (nfences == MAX_FENCES)
		return -1;
	fences[nfences].ring = ring;
	fences[nfences++].id = id;
	return 0;
}

/* Retire the oldest fence, as the render server would, one per poll. */
static void stub_poll(uint32_t ctx_id)
{
	if (!nfences || !cbs)
		return;
	cbs->write_context_fence(cookie, ctx_id, fences[0].ring, fences[0].id);
	memmove(fences, fences + 1, --nfences * sizeof(fences[0]));
}

static int stub_poll_fd(uint32_t ctx_id)
{
	(void)ctx_id;
	return -1;
}

static void stub_set_log(void (*cb)(enum virgl_log_level, const char *, void *), void *data,
			 void (*free_data)(void *))
{
	(void)cb;
	(void)data;
	(void)free_data;
}

static const struct virgl_lib lib = {
	.init = stub_init,
	.cleanup = stub_cleanup,
	.get_cap_set = stub_get_cap_set,
	.fill_caps = stub_fill_caps,
	.context_create_with_flags = stub_ctx_create,
	.context_destroy = stub_ctx_destroy,
	.submit_cmd = stub_submit,
	.resource_create_blob = stub_create_blob,
	.resource_export_blob = stub_export_blob,
	.resource_unref = stub_unref,
	.ctx_attach_resource = stub_attach,
	.context_create_fence = stub_create_fence,
	.context_poll = stub_poll,
	.context_get_poll_fd = stub_poll_fd,
	.set_log_callback = stub_set_log,
};

/* The client's side reads every reply and closes every fd passed to it. */
static void *drain(void *arg)
{
	int fd = *(int *)arg;

	for (;;) {
		char buf[4096];
		union {
			struct cmsghdr align;
			char b[CMSG_SPACE(16 * sizeof(int))];
		} ctl;
		struct iovec iov = { buf, sizeof(buf) };
		struct msghdr m = { .msg_iov = &iov,
				    .msg_iovlen = 1,
				    .msg_control = ctl.b,
				    .msg_controllen = sizeof(ctl.b) };
		ssize_t n = recvmsg(fd, &m, MSG_CMSG_CLOEXEC);

		if (n <= 0)
			return NULL;
		for (struct cmsghdr *c = CMSG_FIRSTHDR(&m); c; c = CMSG_NXTHDR(&m, c)) {
			if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS)
				continue;
			for (size_t i = 0; i < (c->cmsg_len - CMSG_LEN(0)) / sizeof(int); i++) {
				int got;

				memcpy(&got, CMSG_DATA(c) + i * sizeof(int), sizeof(int));
				close(got);
			}
		}
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	pthread_t reader;
	int sv[2];

	if (shm_fd < 0) {
		log_set_level(LOG_OFF);
		shm_fd = open("/dev/null", O_RDWR | O_CLOEXEC);
		if (shm_fd < 0)
			abort();
	}
	/* Written whole before the session reads: stay within the socket's buffer. */
	if (size > 64 * 1024 || socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv))
		return 0;
	if (pthread_create(&reader, NULL, drain, &sv[0])) {
		close(sv[0]);
		close(sv[1]);
		return 0;
	}
	for (size_t done = 0; done < size;) {
		ssize_t n = send(sv[0], data + done, size - done, MSG_NOSIGNAL);

		if (n <= 0)
			break;
		done += n;
	}
	shutdown(sv[0], SHUT_WR);
	vtest_session_run(&lib, sv[1], 1);
	close(sv[1]);
	pthread_join(reader, NULL);
	close(sv[0]);
	return 0;
}
