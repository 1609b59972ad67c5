/*
 * virtio-vsock (virtio 1.2, 5.10): receive, transmit and event queues; the
 * streams themselves are vsock_mux.c's. This file is the glue: the queues,
 * the unix sockets, and one epoll set holding every host socket, which the
 * device thread waits on as one more fd (virtio_dev_watch_fd), so queue
 * kicks and socket events are served on the same thread under the device
 * lock. The event queue carries only transport resets (after migration),
 * which never happen here: its buffers stay with us.
 */
#define _GNU_SOURCE
#include "virtio/vsock.h"

#include <endian.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "util/log.h"
#include "virtio/mmio.h"

#define RXQ 0
#define TXQ 1

/* epoll tokens of listening sockets; streams use vsock_mux tokens (index < 2^32). */
#define LISTENER_TOKEN (1ULL << 63)

struct vsock_dev {
	struct vsock_mux mux;
	struct vsock_rule rules[VSOCK_MAX_RULES];
	int listen_fd[VSOCK_MAX_RULES];
	bool listen_paused[VSOCK_MAX_RULES]; /* accept failed (out of fds): retried on the next kick
					      */
	unsigned nrules;
	int epfd;
	uint64_t guest_cid; /* config space, little-endian */
	struct virtq_chain chain;
};

/* ---- host sockets (struct vsock_host_ops) ---- */

static int unix_addr(const char *path, struct sockaddr_un *sa)
{
	if (strlen(path) >= sizeof(sa->sun_path))
		return -ENAMETOOLONG;
	memset(sa, 0, sizeof(*sa));
	sa->sun_family = AF_UNIX;
	strcpy(sa->sun_path, path);
	return 0;
}

static int host_connect(void *opaque, const char *path)
{
	struct sockaddr_un sa;
	int fd, ret = unix_addr(path, &sa);

	(void)opaque;
	if (ret)
		return ret;
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	/* A unix connect completes at once, or fails (EAGAIN: the listener's backlog is full). */
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		ret = -errno;
		pr_debug("vsock: cannot connect to %s: %s", path, strerror(errno));
		close(fd);
		return ret;
	}
	return fd;
}

static ssize_t host_send(void *opaque, int fd, const struct iovec *iov, unsigned n)
{
	struct msghdr msg = { .msg_iov = (struct iovec *)iov, .msg_iovlen = n };
	ssize_t r;

	(void)opaque;
	do
		r = sendmsg(fd, &msg, MSG_NOSIGNAL | MSG_DONTWAIT);
	while (r < 0 && errno == EINTR);
	return r < 0 ? (errno == EWOULDBLOCK ? -EAGAIN : -errno) : r;
}

static ssize_t host_recv(void *opaque, int fd, const struct iovec *iov, unsigned n)
{
	ssize_t r;

	(void)opaque;
	do
		r = readv(fd, iov, n);
	while (r < 0 && errno == EINTR);
	return r < 0 ? (errno == EWOULDBLOCK ? -EAGAIN : -errno) : r;
}

static void host_shutdown_write(void *opaque, int fd)
{
	(void)opaque;
	shutdown(fd, SHUT_WR);
}

static void host_close(void *opaque, int fd)
{
	(void)opaque;
	close(fd);
}

static void host_watch(void *opaque, int fd, uint64_t token, unsigned old, unsigned events)
{
	struct vsock_dev *v = opaque;
	struct epoll_event ev = { .data.u64 = token };
	int op = !events ? EPOLL_CTL_DEL : old ? EPOLL_CTL_MOD : EPOLL_CTL_ADD;

	if (events & VSOCK_EV_IN)
		ev.events |= EPOLLIN;
	if (events & VSOCK_EV_OUT)
		ev.events |= EPOLLOUT;
	/* Not waited on at all when nothing is wanted: a hang-up would report itself forever. */
	if (epoll_ctl(v->epfd, op, fd, &ev) < 0)
		pr_warn("vsock: cannot watch a host socket: %s", strerror(errno));
}

static const struct vsock_host_ops host_ops = {
	.connect = host_connect,
	.send = host_send,
	.recv = host_recv,
	.shutdown_write = host_shutdown_write,
	.close = host_close,
	.watch = host_watch,
};

/* ---- queues ---- */

static void drain_tx(struct virtio_dev *d, struct vsock_dev *v)
{
	struct virtq *q = &d->vq[TXQ];

	do {
		int ret;

		while ((ret = virtq_pop(q, &v->chain)) > 0) {
			if (v->chain.ok)
				vsock_mux_tx(&v->mux, v->chain.out, v->chain.nout,
					     v->chain.out_len);
			virtq_push(q, v->chain.head, 0);
			virtio_dev_notify_queue(d, q);
		}
		if (ret < 0) {
			pr_warn("vsock: the guest corrupted its transmit queue; ignoring it until "
				"reset");
			return;
		}
	} while (virtq_enable_notify(q));
}

/* Move control packets and host data into receive buffers while there are both. */
static void fill_rx(struct virtio_dev *d, struct vsock_dev *v)
{
	struct virtq *q = &d->vq[RXQ];

	while (vsock_mux_rx_pending(&v->mux)) {
		int ret = virtq_pop(q, &v->chain);
		uint32_t n;

		if (ret < 0)
			return;
		if (ret == 0) {
			/* Out of buffers: the guest kicks when it posts more. */
			if (!virtq_enable_notify(q))
				return;
			continue;
		}
		if (!v->chain.ok || v->chain.nout || v->chain.in_len < VSOCK_HDR_SIZE) {
			virtq_push(q, v->chain.head, 0);
			virtio_dev_notify_queue(d, q);
			continue;
		}
		n = vsock_mux_rx(&v->mux, v->chain.in, v->chain.nin, v->chain.in_len);
		if (!n) {
			virtq_unpop(q);
			return;
		}
		virtq_push(q, v->chain.head, n);
		virtio_dev_notify_queue(d, q);
	}
}

static void accept_clients(struct vsock_dev *v, unsigned rule)
{
	for (;;) {
		int fd = accept4(v->listen_fd[rule], NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);

		if (fd < 0) {
			if (errno == EINTR || errno == ECONNABORTED)
				continue;
			if (errno != EAGAIN) {
				/* Still readable: waiting on it now would spin the thread. */
				pr_warn("vsock: accept on %s: %s", v->rules[rule].path,
					strerror(errno));
				epoll_ctl(v->epfd, EPOLL_CTL_DEL, v->listen_fd[rule], NULL);
				v->listen_paused[rule] = true;
			}
			return;
		}
		if (vsock_mux_host_connect(&v->mux, rule, fd)) {
			pr_warn("vsock: too many streams; refusing a client of %s",
				v->rules[rule].path);
			close(fd);
		}
	}
}

static void host_events(struct vsock_dev *v)
{
	struct epoll_event ev[64];
	int n = epoll_wait(v->epfd, ev, 64, 0);

	for (int i = 0; i < n; i++) {
		uint64_t t = ev[i].data.u64;
		unsigned e = 0;

		if (t & LISTENER_TOKEN) {
			accept_clients(v, (unsigned)(t & ~LISTENER_TOKEN));
			continue;
		}
		if (ev[i].events & EPOLLIN)
			e |= VSOCK_EV_IN;
		if (ev[i].events & EPOLLOUT)
			e |= VSOCK_EV_OUT;
		if (ev[i].events & (EPOLLERR | EPOLLHUP))
			e |= VSOCK_EV_ERR;
		vsock_mux_host_event(&v->mux, t, e);
	}
}

static void resume_listeners(struct vsock_dev *v)
{
	for (unsigned r = 0; r < v->nrules; r++) {
		struct epoll_event ev = { .events = EPOLLIN, .data.u64 = LISTENER_TOKEN | r };

		if (v->listen_paused[r] && !epoll_ctl(v->epfd, EPOLL_CTL_ADD, v->listen_fd[r], &ev))
			v->listen_paused[r] = false;
	}
}

static void vsock_notify(struct virtio_dev *d, int qi)
{
	struct vsock_dev *v = d->priv;

	if (qi >= 0)
		resume_listeners(v);
	if (qi < 0)
		host_events(v);
	else if (qi == TXQ)
		drain_tx(d, v);
	else if (qi != RXQ)
		return; /* the event queue: nothing to send on it */
	fill_rx(d, v);
}

static void vsock_config_read(struct virtio_dev *d, uint64_t off, void *data, unsigned len)
{
	struct vsock_dev *v = d->priv;

	if (off >= sizeof(v->guest_cid))
		return;
	if (len > sizeof(v->guest_cid) - off)
		len = sizeof(v->guest_cid) - off;
	memcpy(data, (const uint8_t *)&v->guest_cid + off, len);
}

static int vsock_activate(struct virtio_dev *d)
{
	struct vsock_dev *v = d->priv;

	virtio_dev_watch_enable(d, v->epfd, true);
	return 0;
}

static void vsock_reset(struct virtio_dev *d)
{
	struct vsock_dev *v = d->priv;

	/* The driver forgot every stream: so do we (their host clients see EOF). */
	virtio_dev_watch_enable(d, v->epfd, false);
	vsock_mux_reset(&v->mux);
}

static void vsock_free(struct vsock_dev *v)
{
	vsock_mux_reset(&v->mux);
	for (unsigned i = 0; i < v->nrules; i++) {
		if (v->listen_fd[i] >= 0) {
			close(v->listen_fd[i]);
			unlink(v->rules[i].path);
		}
		free((char *)v->rules[i].path);
	}
	if (v->epfd >= 0)
		close(v->epfd);
	free(v);
}

static void vsock_destroy(struct virtio_dev *d)
{
	vsock_free(d->priv);
}

static const struct virtio_dev_ops vsock_ops = {
	.name = "vsock",
	.device_id = VIRTIO_ID_VSOCK,
	.nqueues = 3,
	.queue_max = 256,
	.config_read = vsock_config_read,
	.activate = vsock_activate,
	.reset = vsock_reset,
	.notify = vsock_notify,
	.destroy = vsock_destroy,
};

/* Listen on rule r's path; a socket file left by an earlier run is replaced, anything else kept. */
static int listen_on(struct vsock_dev *v, unsigned r)
{
	const char *path = v->rules[r].path;
	struct epoll_event ev = { .events = EPOLLIN, .data.u64 = LISTENER_TOKEN | r };
	struct sockaddr_un sa;
	struct stat st;
	int fd, ret = unix_addr(path, &sa);

	if (ret)
		return ret;
	if (lstat(path, &st) == 0) {
		if (!S_ISSOCK(st.st_mode))
			return -EEXIST;
		unlink(path);
	}
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 || listen(fd, 64) < 0 ||
	    epoll_ctl(v->epfd, EPOLL_CTL_ADD, fd, &ev) < 0) {
		ret = -errno;
		close(fd);
		return ret;
	}
	v->listen_fd[r] = fd;
	return 0;
}

static int vsock_setup(struct vsock_dev *v, const struct vsock_rule *rules, unsigned nrules)
{
	v->epfd = epoll_create1(EPOLL_CLOEXEC);
	if (v->epfd < 0)
		return -errno;
	for (unsigned i = 0; i < nrules; i++) {
		int ret;

		v->rules[i] = rules[i];
		v->listen_fd[i] = -1;
		if (!(v->rules[i].path = strdup(rules[i].path)))
			return -ENOMEM;
		v->nrules++;
		if (!rules[i].host_listens)
			continue;
		ret = listen_on(v, i);
		if (ret) {
			pr_err("vsock port %u: cannot listen on %s: %s", rules[i].port,
			       rules[i].path,
			       ret == -EEXIST ? "it exists and is not a socket" : strerror(-ret));
			return ret;
		}
	}
	return 0;
}

int virtio_vsock_create(struct vm *vm, const struct vsock_rule *rules, unsigned nrules)
{
	struct vsock_dev *v = calloc(1, sizeof(*v));
	struct virtio_dev *d = NULL;
	int ret;

	if (!v)
		return -ENOMEM;
	v->epfd = -1;
	v->guest_cid = htole64(VSOCK_GUEST_CID);
	if (nrules > VSOCK_MAX_RULES) {
		free(v);
		return -E2BIG;
	}
	ret = vsock_setup(v, rules, nrules);
	if (ret) {
		vsock_free(v);
		return ret;
	}
	vsock_mux_init(&v->mux, v->rules, v->nrules, &host_ops, v);
	ret = virtio_dev_create(vm, &vsock_ops, v, &d);
	if (!ret)
		ret = virtio_dev_watch_fd(d, v->epfd);
	if (ret) {
		pr_err("cannot create the vsock device: %s", strerror(-ret));
		if (!d) /* otherwise the VM destroys it with the others */
			vsock_free(v);
		return ret;
	}
	/* Served from activation on (a client that connects earlier waits in the backlog). */
	virtio_dev_watch_enable(d, v->epfd, false);
	return 0;
}
