/*
 * virtio-console. Port 0 is the console (the guest's hvc0). With extra
 * ports the device is multiport: each extra port is a named byte stream
 * (krun-stdin, krun-stdout, krun-stderr) that the guest init wires to the
 * workload, so the workload's streams stay separate and binary-safe.
 *
 * Queues: port 0 receive/transmit (0, 1), control receive/transmit (2, 3),
 * then receive/transmit for port n at 2n+2, 2n+3. Host input for a port is
 * read only while the guest has the port open (the driver drops data for
 * closed ports), and the end of the input is told to the guest by closing
 * the port from the host side, which the guest reads as end of file.
 */
#include "virtio/console.h"

#include <endian.h>
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <termios.h>
#include <unistd.h>

#include "util/log.h"
#include "virtio/mmio.h"

#define CONSOLE_F_MULTIPORT 1
#define CTRL_RXQ	    2
#define CTRL_TXQ	    3

enum {
	CTRL_DEVICE_READY = 0,
	CTRL_DEVICE_ADD = 1,
	CTRL_PORT_READY = 3,
	CTRL_CONSOLE_PORT = 4,
	CTRL_PORT_OPEN = 6,
	CTRL_PORT_NAME = 7,
};

struct ctrl_msg {
	uint32_t id;
	uint16_t event;
	uint16_t value;
} __attribute__((packed));

#define MAX_PENDING 32

struct port {
	int in_fd, out_fd;
	const char *name; /* NULL for the console port */
	bool in_eof;
	bool in_file; /* a regular file: always readable, so never waited on */
	bool in_watched;
	bool guest_open;
	bool eof_told; /* the host side was closed for the guest */
	int watch_idx;
};

struct console {
	struct port ports[CONSOLE_MAX_PORTS];
	unsigned nports;
	bool multiport;
	struct termios saved;
	struct virtq_chain chain;
	/* Control messages waiting for a buffer on the control receive queue. */
	struct {
		struct ctrl_msg m;
		const char *name;
	} pending[MAX_PENDING];
	unsigned npending;
	struct {
		uint16_t cols, rows;
		uint32_t max_nr_ports;
		uint32_t emerg_wr;
	} __attribute__((packed)) cfg;
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

static void make_raw(struct console *c, int fd)
{
	struct termios t;

	if (tty_to_restore || !isatty(fd) || tcgetattr(fd, &c->saved) < 0)
		return;
	t = c->saved;
	cfmakeraw(&t);
	if (tcsetattr(fd, TCSAFLUSH, &t) < 0)
		return;
	tty_fd = fd;
	tty_to_restore = &c->saved;
	atexit(restore_tty);
}

static unsigned rxq(unsigned port)
{
	return port ? 2 * port + 2 : 0;
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

/* ---- control queue ---- */

static void ctrl_flush(struct virtio_dev *d, struct console *c)
{
	struct virtq *q = &d->vq[CTRL_RXQ];
	unsigned done = 0;

	while (done < c->npending) {
		const char *name = c->pending[done].name;
		uint64_t len = sizeof(struct ctrl_msg) + (name ? strlen(name) : 0);
		int ret = virtq_pop(q, &c->chain);

		if (ret <= 0)
			break;
		if (!c->chain.ok || c->chain.in_len < len) {
			virtq_push(q, c->chain.head, 0);
		} else {
			buf_to_iov(c->chain.in, c->chain.nin, 0, &c->pending[done].m,
				   sizeof(struct ctrl_msg));
			if (name)
				buf_to_iov(c->chain.in, c->chain.nin, sizeof(struct ctrl_msg), name,
					   strlen(name));
			virtq_push(q, c->chain.head, len);
			done++;
		}
		virtio_dev_notify_queue(d, q);
	}
	memmove(c->pending, c->pending + done, (c->npending - done) * sizeof(c->pending[0]));
	c->npending -= done;
}

static void ctrl_send(struct virtio_dev *d, struct console *c, unsigned id, uint16_t event,
		      uint16_t value, const char *name)
{
	if (c->npending == MAX_PENDING) {
		pr_warn("console: the guest is not reading control messages; dropping one");
		return;
	}
	c->pending[c->npending].m =
		(struct ctrl_msg){ htole32(id), htole16(event), htole16(value) };
	c->pending[c->npending++].name = name;
	ctrl_flush(d, c);
}

static void watch_input(struct virtio_dev *d, struct port *p, bool on);
static void feed_port(struct virtio_dev *d, struct console *c, unsigned id);

static void ctrl_recv(struct virtio_dev *d, struct console *c, const struct ctrl_msg *m)
{
	unsigned id = le32toh(m->id);
	uint16_t value = le16toh(m->value);
	struct port *p = id < c->nports ? &c->ports[id] : NULL;

	switch (le16toh(m->event)) {
	case CTRL_DEVICE_READY:
		if (value != 1)
			break;
		for (unsigned i = 0; i < c->nports; i++)
			ctrl_send(d, c, i, CTRL_DEVICE_ADD, 1, NULL);
		break;
	case CTRL_PORT_READY:
		if (!p || value != 1)
			break;
		if (p->name)
			ctrl_send(d, c, id, CTRL_PORT_NAME, 1, p->name);
		else
			ctrl_send(d, c, id, CTRL_CONSOLE_PORT, 1, NULL);
		/* The host end is open unless its input is already over. */
		ctrl_send(d, c, id, CTRL_PORT_OPEN, !(p->in_eof && p->out_fd < 0), NULL);
		break;
	case CTRL_PORT_OPEN:
		if (!p)
			break;
		p->guest_open = value == 1;
		if (p->guest_open)
			feed_port(d, c, id);
		else
			watch_input(d, p, false);
		break;
	}
}

static void ctrl_drain(struct virtio_dev *d, struct console *c)
{
	struct virtq *q = &d->vq[CTRL_TXQ];

	do {
		int ret;

		while ((ret = virtq_pop(q, &c->chain)) > 0) {
			struct ctrl_msg m;

			virtq_push(q, c->chain.head, 0);
			virtio_dev_notify_queue(d, q);
			if (c->chain.ok &&
			    iov_to_buf(c->chain.out, c->chain.nout, 0, &m, sizeof(m)) == sizeof(m))
				ctrl_recv(d, c, &m);
		}
		if (ret < 0)
			return;
	} while (virtq_enable_notify(q));
}

/* ---- data ---- */

static void drain_tx(struct virtio_dev *d, struct console *c, unsigned id)
{
	struct virtq *q = &d->vq[rxq(id) + 1];
	struct port *p = &c->ports[id];

	do {
		int ret;

		while ((ret = virtq_pop(q, &c->chain)) > 0) {
			if (c->chain.ok && p->out_fd >= 0 &&
			    !write_all(p->out_fd, c->chain.out, c->chain.nout))
				p->out_fd = -1; /* output closed: keep consuming, drop data */
			virtq_push(q, c->chain.head, 0);
			virtio_dev_notify_queue(d, q);
		}
		if (ret < 0)
			return;
	} while (virtq_enable_notify(q));
}

static void watch_input(struct virtio_dev *d, struct port *p, bool on)
{
	if (p->in_watched != on && !p->in_eof && !p->in_file && p->watch_idx >= 0) {
		virtio_dev_watch_enable(d, p->in_fd, on);
		p->in_watched = on;
	}
}

/* The host input ended: once everything read was delivered, close the port for the guest. */
static void input_over(struct virtio_dev *d, struct console *c, unsigned id)
{
	struct port *p = &c->ports[id];

	watch_input(d, p, false);
	p->in_eof = true;
	if (c->multiport && p->name && !p->eof_told) {
		p->eof_told = true;
		ctrl_send(d, c, id, CTRL_PORT_OPEN, 0, NULL);
	}
}

/* Move one read of input into the port's next receive buffer; false when there is nothing to do. */
static bool feed_rx(struct virtio_dev *d, struct console *c, unsigned id)
{
	struct port *p = &c->ports[id];
	struct virtq *q = &d->vq[rxq(id)];
	ssize_t n;
	int ret;

	if (p->in_eof || !p->guest_open)
		return false;
	ret = virtq_pop(q, &c->chain);
	if (ret <= 0) {
		/* Nowhere to put input: sleep on it until the guest posts buffers. */
		watch_input(d, p, false);
		if (ret == 0 && virtq_enable_notify(q)) {
			/* Buffers arrived meanwhile, and the guest may not kick for them. */
			if (p->in_file)
				return true;
			watch_input(d, p, true);
		}
		return false;
	}
	if (!c->chain.ok || !c->chain.nin) {
		virtq_push(q, c->chain.head, 0);
		virtio_dev_notify_queue(d, q);
		return true;
	}
	n = readv(p->in_fd, c->chain.in, c->chain.nin);
	if (n <= 0) {
		virtq_unpop(q);
		if (n == 0 || (errno != EINTR && errno != EAGAIN))
			input_over(d, c, id);
		return false;
	}
	virtq_push(q, c->chain.head, n);
	virtio_dev_notify_queue(d, q);
	return true;
}

static void feed_port(struct virtio_dev *d, struct console *c, unsigned id)
{
	struct port *p = &c->ports[id];

	if (p->in_file) {
		while (feed_rx(d, c, id))
			;
	} else if (p->guest_open) {
		watch_input(d, p, true);
	}
}

static void console_notify(struct virtio_dev *d, int qi)
{
	struct console *c = d->priv;

	if (qi < 0) {
		for (unsigned i = 0; i < c->nports; i++)
			if (c->ports[i].watch_idx == -1 - qi)
				feed_rx(d, c, i);
		return;
	}
	if (c->multiport && qi == CTRL_RXQ) {
		ctrl_flush(d, c);
		return;
	}
	if (c->multiport && qi == CTRL_TXQ) {
		ctrl_drain(d, c);
		return;
	}
	for (unsigned i = 0; i < c->nports; i++) {
		if (qi == (int)rxq(i) + 1)
			drain_tx(d, c, i);
		else if (qi == (int)rxq(i))
			feed_port(d, c, i);
	}
}

static uint64_t console_features(struct virtio_dev *d)
{
	struct console *c = d->priv;

	return c->nports > 1 ? 1ULL << CONSOLE_F_MULTIPORT : 0;
}

static void console_config_read(struct virtio_dev *d, uint64_t off, void *data, unsigned len)
{
	struct console *c = d->priv;

	if (off >= sizeof(c->cfg))
		return;
	if (len > sizeof(c->cfg) - off)
		len = sizeof(c->cfg) - off;
	memcpy(data, (const uint8_t *)&c->cfg + off, len);
}

static int console_activate(struct virtio_dev *d)
{
	struct console *c = d->priv;

	c->multiport = virtio_dev_has_feature(d, CONSOLE_F_MULTIPORT);
	if (!c->multiport) {
		if (c->nports > 1)
			pr_warn("console: the guest driver has no multiport support; "
				"stdin/stdout/stderr ports are not available");
		/* Without multiport there is only the console port, open from the start. */
		c->nports = 1;
		c->ports[0].guest_open = true;
		feed_port(d, c, 0);
	}
	return 0;
}

static void console_reset(struct virtio_dev *d)
{
	struct console *c = d->priv;

	for (unsigned i = 0; i < c->nports; i++) {
		watch_input(d, &c->ports[i], false);
		c->ports[i].guest_open = false;
		c->ports[i].eof_told = false;
	}
	c->npending = 0;
}

static void console_destroy(struct virtio_dev *d)
{
	restore_tty();
	free(d->priv);
}

static const struct virtio_dev_ops console_ops = {
	.name = "console",
	.device_id = VIRTIO_ID_CONSOLE,
	.nqueues = 2 + 2 * CONSOLE_MAX_PORTS,
	.queue_max = 256,
	.features = console_features,
	.config_read = console_config_read,
	.activate = console_activate,
	.reset = console_reset,
	.notify = console_notify,
	.destroy = console_destroy,
};

static void port_init(struct virtio_dev *d, struct console *c, struct port *p, int in, int out,
		      const char *name)
{
	struct stat st;
	int ret;

	p->in_fd = in;
	p->out_fd = out;
	p->name = name;
	p->in_eof = in < 0;
	p->watch_idx = -1;
	if (p->in_eof)
		return;
	if (fstat(in, &st) == 0 && S_ISREG(st.st_mode)) {
		p->in_file = true; /* epoll refuses regular files; they are always readable */
		return;
	}
	ret = virtio_dev_watch_fd(d, in);
	if (ret) {
		pr_info("console input cannot be watched (%s): the guest gets no input",
			strerror(-ret));
		p->in_eof = true;
		return;
	}
	p->watch_idx = d->nwatch - 1;
	virtio_dev_watch_enable(d, in, false);
	if (!name)
		make_raw(c, in);
}

int virtio_console_create(struct vm *vm, const struct console_config *cfg)
{
	static const char *const names[] = { "krun-stdin", "krun-stdout", "krun-stderr" };
	const int fds[3][2] = { { cfg->stdin_fd, -1 },
				{ -1, cfg->stdout_fd },
				{ -1, cfg->stderr_fd } };
	struct console *c = calloc(1, sizeof(*c));
	struct virtio_dev *d;
	int ret;

	if (!c)
		return -ENOMEM;
	ret = virtio_dev_create(vm, &console_ops, c, &d);
	if (ret) {
		free(c);
		return ret;
	}
	port_init(d, c, &c->ports[0], cfg->in_fd, cfg->out_fd, NULL);
	c->nports = 1;
	for (unsigned i = 0; i < 3; i++)
		if (fds[i][0] >= 0 || fds[i][1] >= 0)
			port_init(d, c, &c->ports[c->nports++], fds[i][0], fds[i][1], names[i]);
	c->cfg.max_nr_ports = htole32(CONSOLE_MAX_PORTS);
	/* Multiport is offered only with extra ports; activate() learns what the driver took. */
	d->host_features |= console_features(d);
	return 0;
}
