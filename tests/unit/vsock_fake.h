/*
 * A fake host for the vsock engine (unit tests and the fuzzer): sockets are
 * slots in a table, with data waiting for the guest, room for the guest's
 * data, and what the engine did to them.
 */
#ifndef KILN_TESTS_VSOCK_FAKE_H
#define KILN_TESTS_VSOCK_FAKE_H

#include <errno.h>
#include <string.h>

#include "virtio/queue.h"
#include "virtio/vsock_mux.h"

#define FAKE_FDS   (VSOCK_MAX_CONNS + 8)
#define FAKE_FD0   100
#define FAKE_STORE 4096

struct fake_sock {
	bool open, write_shut, broken;
	unsigned events; /* what the engine waits for */
	/* Host -> guest: bytes ready to read, then EOF if eof. */
	uint32_t avail;
	bool eof;
	/* Guest -> host: how many more bytes the socket takes; what it got (first FAKE_STORE kept).
	 */
	uint32_t room;
	uint64_t got;
	uint8_t store[FAKE_STORE];
};

struct fake_host {
	struct fake_sock s[FAKE_FDS];
	int connect_error; /* non-zero: connect fails with it */
	unsigned connects;
	const char *last_path;
	uint8_t fill; /* byte value the fake's reads produce */
};

static inline struct fake_sock *fake_sock(struct fake_host *h, int fd)
{
	unsigned i = (unsigned)(fd - FAKE_FD0);

	if (i >= FAKE_FDS || !h->s[i].open)
		abort(); /* the engine used an fd it does not own */
	return &h->s[i];
}

static inline int fake_new_fd(struct fake_host *h)
{
	for (unsigned i = 0; i < FAKE_FDS; i++) {
		if (!h->s[i].open) {
			memset(&h->s[i], 0, sizeof(h->s[i]));
			h->s[i].open = true;
			h->s[i].room = UINT32_MAX;
			return FAKE_FD0 + (int)i;
		}
	}
	return -EMFILE;
}

static inline int fake_connect(void *opaque, const char *path)
{
	struct fake_host *h = opaque;

	h->connects++;
	h->last_path = path;
	return h->connect_error ? -h->connect_error : fake_new_fd(h);
}

static inline ssize_t fake_send(void *opaque, int fd, const struct iovec *iov, unsigned n)
{
	struct fake_sock *s = fake_sock(opaque, fd);
	uint64_t len = 0, take;
	uint8_t tmp[FAKE_STORE];

	for (unsigned i = 0; i < n; i++)
		len += iov[i].iov_len;
	if (s->broken || s->write_shut)
		return -EPIPE;
	if (!s->room)
		return -EAGAIN;
	take = len < s->room ? len : s->room;
	if (s->got < FAKE_STORE) {
		uint64_t k = FAKE_STORE - s->got < take ? FAKE_STORE - s->got : take;

		iov_to_buf(iov, n, 0, tmp, k);
		memcpy(s->store + s->got, tmp, k);
	} else {
		iov_to_buf(iov, n, 0, tmp, take < sizeof(tmp) ? take : sizeof(tmp));
	}
	s->got += take;
	if (s->room != UINT32_MAX)
		s->room -= take;
	return take;
}

static inline ssize_t fake_recv(void *opaque, int fd, const struct iovec *iov, unsigned n)
{
	struct fake_host *h = opaque;
	struct fake_sock *s = fake_sock(h, fd);
	uint64_t len = 0, done = 0;

	for (unsigned i = 0; i < n; i++)
		len += iov[i].iov_len;
	if (s->broken)
		return -ECONNRESET;
	if (!s->avail)
		return s->eof ? 0 : -EAGAIN;
	if (len > s->avail)
		len = s->avail;
	for (unsigned i = 0; i < n && done < len; i++) {
		uint64_t k = iov[i].iov_len < len - done ? iov[i].iov_len : len - done;

		memset(iov[i].iov_base, h->fill, k);
		done += k;
	}
	s->avail -= len;
	return len;
}

static inline void fake_shutdown_write(void *opaque, int fd)
{
	fake_sock(opaque, fd)->write_shut = true;
}

static inline void fake_close(void *opaque, int fd)
{
	fake_sock(opaque, fd)->open = false;
}

static inline void fake_watch(void *opaque, int fd, uint64_t token, unsigned old, unsigned events)
{
	struct fake_sock *s = fake_sock(opaque, fd);

	(void)token;
	if (s->events != old)
		abort(); /* the engine lost track of what it waits for */
	s->events = events;
}

static const struct vsock_host_ops fake_ops = {
	.connect = fake_connect,
	.send = fake_send,
	.recv = fake_recv,
	.shutdown_write = fake_shutdown_write,
	.close = fake_close,
	.watch = fake_watch,
};

#endif
