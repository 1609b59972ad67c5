/* virtio-console, single port: receiveq (0) carries host input, transmitq (1) guest output. */
#include "virtio/console.h"

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <termios.h>
#include <unistd.h>

#include "util/log.h"
#include "virtio/mmio.h"

#define RXQ 0
#define TXQ 1

struct console {
	int in_fd, out_fd;
	bool in_eof;
	bool in_file; /* a regular file: always readable, so never waited on */
	bool in_watched;
	bool raw;
	struct termios saved;
	struct virtq_chain chain;
};

/* Restored at exit too, so an error path never leaves the terminal raw. */
static struct termios *tty_to_restore;
static int tty_fd = -1;

static void restore_tty(void)
{
	if (tty_to_restore)
		tcsetattr(tty_fd, TCSAFLUSH, tty_to_restore);
	tty_to_restore = NULL;
}

static void make_raw(struct console *c)
{
	struct termios t;

	if (!isatty(c->in_fd) || tcgetattr(c->in_fd, &c->saved) < 0)
		return;
	t = c->saved;
	cfmakeraw(&t);
	if (tcsetattr(c->in_fd, TCSAFLUSH, &t) < 0)
		return;
	c->raw = true;
	tty_fd = c->in_fd;
	tty_to_restore = &c->saved;
	atexit(restore_tty);
}

static bool write_all(int fd, const struct iovec *iov, unsigned n)
{
	for (unsigned i = 0; i < n; i++) {
		const char *p = iov[i].iov_base;
		size_t left = iov[i].iov_len;

		while (left) {
			ssize_t w = write(fd, p, left);

			if (w < 0 && errno == EINTR)
				continue;
			if (w <= 0)
				return false;
			p += w;
			left -= w;
		}
	}
	return true;
}

static void drain_tx(struct virtio_dev *d, struct console *c)
{
	struct virtq *q = &d->vq[TXQ];

	do {
		int ret;

		while ((ret = virtq_pop(q, &c->chain)) > 0) {
			if (c->chain.ok && c->out_fd >= 0 &&
			    !write_all(c->out_fd, c->chain.out, c->chain.nout))
				c->out_fd = -1; /* output closed: keep consuming, drop data */
			virtq_push(q, c->chain.head, 0);
			virtio_dev_notify_queue(d, q);
		}
		if (ret < 0)
			return;
	} while (virtq_enable_notify(q));
}

static void watch_input(struct virtio_dev *d, struct console *c, bool on)
{
	if (c->in_watched != on && !c->in_eof) {
		virtio_dev_watch_enable(d, c->in_fd, on);
		c->in_watched = on;
	}
}

/* Move one read of input into the next receive buffer; false when there is nothing to do. */
static bool feed_rx(struct virtio_dev *d, struct console *c)
{
	struct virtq *q = &d->vq[RXQ];
	ssize_t n;
	int ret;

	if (c->in_eof)
		return false;
	ret = virtq_pop(q, &c->chain);
	if (ret <= 0) {
		/* Nowhere to put input: sleep on it until the guest posts buffers. */
		watch_input(d, c, false);
		if (ret == 0 && virtq_enable_notify(q)) {
			/* Buffers arrived meanwhile, and the guest may not kick for them. */
			if (c->in_file)
				return true;
			watch_input(d, c, true);
		}
		return false;
	}
	if (!c->chain.ok || !c->chain.nin) {
		virtq_push(q, c->chain.head, 0);
		virtio_dev_notify_queue(d, q);
		return true;
	}
	n = readv(c->in_fd, c->chain.in, c->chain.nin);
	if (n <= 0) {
		virtq_unpop(q);
		if (n == 0 || (errno != EINTR && errno != EAGAIN)) {
			watch_input(d, c, false);
			c->in_eof = true;
		}
		return false;
	}
	virtq_push(q, c->chain.head, n);
	virtio_dev_notify_queue(d, q);
	return true;
}

static void feed_file(struct virtio_dev *d, struct console *c)
{
	while (c->in_file && feed_rx(d, c))
		;
}

static void console_notify(struct virtio_dev *d, int qi)
{
	struct console *c = d->priv;

	if (qi == TXQ)
		drain_tx(d, c);
	else if (qi == RXQ && c->in_file)
		feed_file(d, c);
	else if (qi == RXQ)
		watch_input(d, c, true);
	else
		feed_rx(d, c);
}

static int console_activate(struct virtio_dev *d)
{
	struct console *c = d->priv;

	if (c->in_file)
		feed_file(d, c);
	else
		watch_input(d, c, true);
	return 0;
}

static void console_reset(struct virtio_dev *d)
{
	watch_input(d, d->priv, false);
}

static void console_destroy(struct virtio_dev *d)
{
	restore_tty();
	free(d->priv);
}

static const struct virtio_dev_ops console_ops = {
	.name = "console",
	.device_id = VIRTIO_ID_CONSOLE,
	.nqueues = 2,
	.queue_max = 256,
	.activate = console_activate,
	.reset = console_reset,
	.notify = console_notify,
	.destroy = console_destroy,
};

int virtio_console_create(struct vm *vm, int in_fd, int out_fd)
{
	struct console *c = calloc(1, sizeof(*c));
	struct virtio_dev *d;
	struct stat st;
	int ret;

	if (!c)
		return -ENOMEM;
	c->in_fd = in_fd;
	c->out_fd = out_fd;
	c->in_eof = in_fd < 0;
	ret = virtio_dev_create(vm, &console_ops, c, &d);
	if (ret) {
		free(c);
		return ret;
	}
	if (!c->in_eof && fstat(in_fd, &st) == 0 && S_ISREG(st.st_mode)) {
		c->in_file = true; /* epoll refuses regular files; they are always readable */
	} else if (!c->in_eof) {
		ret = virtio_dev_watch_fd(d, in_fd);
		if (ret) {
			pr_info("console input cannot be watched (%s): the guest gets no input",
				strerror(-ret));
			c->in_eof = true;
		} else {
			virtio_dev_watch_enable(d, in_fd, false);
			make_raw(c);
		}
	}
	return 0;
}
