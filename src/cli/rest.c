/*
 * The REST server: one thread, poll() over the listening socket and at most
 * REST_MAX_CLIENTS connections, each with a fixed buffer and a deadline. One
 * request per connection: read it, act, answer, close.
 */
#define _GNU_SOURCE
#include "cli/rest.h"

#include <arpa/inet.h>
#include <errno.h>
#include <kiln.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#define LINGER_MAX_BYTES (1 << 20) /* discarded after the answer, at most */
#define ACCEPT_PAUSE_MS	 100	   /* out of fds: wait before accepting again */

enum conn_phase { CONN_READ, CONN_WRITE, CONN_LINGER };

struct conn {
	int fd;
	enum conn_phase phase;
	int64_t opened, deadline; /* ms, CLOCK_MONOTONIC */
	size_t len;		  /* CONN_READ: bytes in buf; CONN_LINGER: bytes discarded */
	size_t out_len, out_off;
	char buf[REST_MAX_REQUEST];
	char out[REST_MAX_RESPONSE];
};

struct rest_server {
	uint32_t ctx;
	int listen_fd, wake_fd;
	char unix_path[REST_PATH_MAX]; /* removed at the end; empty for tcp */
	pthread_t thread;
	struct conn *conns[REST_MAX_CLIENTS];
};

static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void conn_close(struct rest_server *s, unsigned i)
{
	close(s->conns[i]->fd);
	free(s->conns[i]);
	s->conns[i] = NULL;
}

static void start_answer(struct conn *c, size_t len)
{
	c->out_len = len;
	c->out_off = 0;
	c->phase = CONN_WRITE;
}

/* A whole request is in: act on it through the API, then answer. */
static void serve(struct rest_server *s, struct conn *c, const struct rest_request *req)
{
	int stop_ret = 0, state;

	if (req->action == REST_ACT_STOP)
		stop_ret = kiln_stop(s->ctx, KILN_STOP_ORDERLY);
	else if (req->action == REST_ACT_HARD_STOP)
		stop_ret = kiln_stop(s->ctx, KILN_STOP_HARD);
	state = kiln_get_vm_state(s->ctx);
	start_answer(c, rest_response(req, state, stop_ret, c->out));
}

static void answer_error(struct conn *c, int status, const char *why)
{
	struct rest_request req = { .status = status, .error = why };

	start_answer(c, rest_response(&req, 0, 0, c->out));
}

/* Returns false when the connection is done with. */
static bool on_readable(struct rest_server *s, struct conn *c)
{
	struct rest_request req;
	ssize_t n;

	if (c->phase == CONN_LINGER) {
		char sink[4096];

		n = read(c->fd, sink, sizeof(sink));
		if (n < 0 && (errno == EAGAIN || errno == EINTR))
			return true;
		c->len += n > 0 ? (size_t)n : 0;
		return n > 0 && c->len < LINGER_MAX_BYTES;
	}
	n = read(c->fd, c->buf + c->len, sizeof(c->buf) - c->len);
	if (n < 0)
		return errno == EAGAIN || errno == EINTR;
	if (n == 0) {
		/* The client has said all it will: answer what is there, if anything. */
		if (!c->len)
			return false;
		answer_error(c, 400, "incomplete request");
		return true;
	}
	c->len += (size_t)n;
	if (!rest_parse_request(c->buf, c->len, &req))
		serve(s, c, &req);
	else if (c->len == sizeof(c->buf)) /* the parser's limits make this unreachable */
		answer_error(c, 431, "request too large");
	return true;
}

/* Returns false when the connection is done with. */
static bool on_writable(struct conn *c)
{
	ssize_t n = send(c->fd, c->out + c->out_off, c->out_len - c->out_off, MSG_NOSIGNAL);

	if (n < 0)
		return errno == EAGAIN || errno == EINTR;
	c->out_off += (size_t)n;
	if (c->out_off < c->out_len)
		return true;
	/*
	 * Answered. Closing with unread input would reset the connection and could
	 * destroy the answer before the client reads it: read on for a while.
	 */
	shutdown(c->fd, SHUT_WR);
	c->phase = CONN_LINGER;
	c->len = 0;
	if (c->deadline > now_ms() + REST_LINGER_MS)
		c->deadline = now_ms() + REST_LINGER_MS;
	return true;
}

/* Past its deadline: a request never completed gets 408; anything else is dropped. */
static bool on_deadline(struct conn *c)
{
	if (c->phase != CONN_READ)
		return false;
	answer_error(c, 408, "request not complete in time");
	c->deadline = now_ms() + REST_LINGER_MS;
	return true;
}

static void accept_one(struct rest_server *s, int64_t now, int64_t *pause_until)
{
	unsigned slot = REST_MAX_CLIENTS, oldest = 0;
	struct conn *c;
	int fd = accept4(s->listen_fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);

	if (fd < 0) {
		if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM)
			*pause_until = now + ACCEPT_PAUSE_MS;
		return;
	}
	c = calloc(1, sizeof(*c));
	if (!c) {
		close(fd);
		return;
	}
	for (unsigned i = 0; i < REST_MAX_CLIENTS; i++) {
		if (!s->conns[i]) {
			slot = i;
			break;
		}
		if (s->conns[i]->opened < s->conns[oldest]->opened)
			oldest = i;
	}
	/* Full: a new client is more likely to be a live one than the oldest. */
	if (slot == REST_MAX_CLIENTS) {
		conn_close(s, oldest);
		slot = oldest;
	}
	c->fd = fd;
	c->opened = now;
	c->deadline = now + REST_TIMEOUT_MS;
	s->conns[slot] = c;
}

static void *serve_thread(void *arg)
{
	struct rest_server *s = arg;
	struct pollfd p[2 + REST_MAX_CLIENTS];
	int idx[REST_MAX_CLIENTS];
	int64_t pause_until = 0;

	for (;;) {
		int64_t now = now_ms(), next = now + REST_TIMEOUT_MS;
		nfds_t n = 2;

		p[0] = (struct pollfd){ .fd = s->wake_fd, .events = POLLIN };
		p[1] = (struct pollfd){ .fd = now >= pause_until ? s->listen_fd : -1,
					.events = POLLIN };
		if (now < pause_until && pause_until < next)
			next = pause_until;
		for (unsigned i = 0; i < REST_MAX_CLIENTS; i++) {
			struct conn *c = s->conns[i];

			idx[i] = -1;
			if (!c)
				continue;
			if (c->deadline < next)
				next = c->deadline;
			idx[i] = (int)n;
			p[n++] = (struct pollfd){ .fd = c->fd,
						  .events = c->phase == CONN_WRITE ? POLLOUT
										   : POLLIN };
		}
		if (poll(p, n, (int)(next > now ? next - now : 0)) < 0 && errno != EINTR)
			break;
		if (p[0].revents)
			break;
		now = now_ms();
		for (unsigned i = 0; i < REST_MAX_CLIENTS; i++) {
			struct conn *c = s->conns[i];
			short ev = idx[i] >= 0 ? p[idx[i]].revents : 0;
			bool keep = true;

			if (!c)
				continue;
			if (ev & (POLLIN | POLLHUP | POLLERR))
				keep = c->phase == CONN_WRITE ? on_writable(c) : on_readable(s, c);
			else if (ev & POLLOUT)
				keep = on_writable(c);
			/* An answer ready now goes out at once, not after another poll. */
			if (keep && c->phase == CONN_WRITE)
				keep = on_writable(c);
			if (keep && now >= c->deadline)
				keep = on_deadline(c);
			if (!keep)
				conn_close(s, i);
		}
		if (p[1].revents & POLLIN)
			accept_one(s, now, &pause_until);
	}
	return NULL;
}

static int listen_tcp(const struct rest_uri *u)
{
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons(u->port) };
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0), one = 1;

	if (fd < 0)
		return -errno;
	memcpy(&sa.sin_addr, u->addr, 4);
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) || listen(fd, 64)) {
		int ret = -errno;

		close(fd);
		return ret;
	}
	return fd;
}

/* A socket left by an earlier run is replaced (as krunkit does); any other file is not. */
static int listen_unix(const struct rest_uri *u)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct stat st;
	int fd, ret;

	if (!lstat(u->path, &st)) {
		if (!S_ISSOCK(st.st_mode))
			return -EEXIST;
		if (unlink(u->path))
			return -errno;
	}
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	memcpy(sa.sun_path, u->path, strlen(u->path) + 1);
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) || listen(fd, 64)) {
		ret = -errno;
		close(fd);
		return ret;
	}
	return fd;
}

int rest_server_start(const struct rest_uri *u, uint32_t ctx, struct rest_server **out)
{
	struct rest_server *s = calloc(1, sizeof(*s));
	int ret;

	if (!s)
		return -ENOMEM;
	s->ctx = ctx;
	s->wake_fd = eventfd(0, EFD_CLOEXEC);
	if (s->wake_fd < 0) {
		ret = -errno;
		free(s);
		return ret;
	}
	s->listen_fd = u->scheme == REST_UNIX ? listen_unix(u) : listen_tcp(u);
	if (s->listen_fd < 0) {
		ret = s->listen_fd;
		close(s->wake_fd);
		free(s);
		return ret;
	}
	if (u->scheme == REST_UNIX)
		memcpy(s->unix_path, u->path, sizeof(s->unix_path));
	ret = -pthread_create(&s->thread, NULL, serve_thread, s);
	if (ret) {
		s->thread = 0;
		rest_server_stop(s);
		return ret;
	}
	pthread_setname_np(s->thread, "kiln-rest");
	*out = s;
	return 0;
}

void rest_server_stop(struct rest_server *s)
{
	const uint64_t one = 1;

	if (!s)
		return;
	if (s->thread) {
		/* An eventfd write cannot fail here: the counter holds 0 or 1. */
		ssize_t n = write(s->wake_fd, &one, sizeof(one));

		(void)n;
		pthread_join(s->thread, NULL);
	}
	for (unsigned i = 0; i < REST_MAX_CLIENTS; i++)
		if (s->conns[i])
			conn_close(s, i);
	close(s->listen_fd);
	close(s->wake_fd);
	if (s->unix_path[0])
		unlink(s->unix_path);
	free(s);
}
