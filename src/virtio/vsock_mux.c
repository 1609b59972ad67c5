#include "virtio/vsock_mux.h"

#include <endian.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "virtio/queue.h"

/* Send a credit update once this much guest data went to the host since the last one. */
#define CREDIT_UPDATE_STEP (VSOCK_BUF_ALLOC / 4)
/* Control packets one stream may have queued at once: one per kind. */
#define CTRL_PER_CONN 5
/* Host ports of host-initiated streams start here (as Linux's ephemeral ports). */
#define HOST_PORT_FIRST 49152u

static uint64_t token_of(const struct vsock_mux *m, const struct vsock_conn *c)
{
	return (uint64_t)c->gen << 32 | (uint32_t)(c - m->conns);
}

uint32_t vsock_conn_peer_credit(const struct vsock_conn *c)
{
	uint32_t in_flight = c->tx_cnt - c->peer_fwd_cnt;

	return in_flight < c->peer_buf_alloc ? c->peer_buf_alloc - in_flight : 0;
}

/* ---- control queue ---- */

/*
 * Room for `extra` more entries, with every live stream still able to queue
 * one packet of each kind it has not queued yet? Holding this before adding
 * a stream or a stray reset keeps the queue bounded without ever dropping a
 * stream's own packets.
 */
static bool ctrl_room(const struct vsock_mux *m, unsigned extra)
{
	unsigned reserved = 0;

	for (unsigned i = 0; i < VSOCK_MAX_CONNS; i++)
		if (m->conns[i].state != VSOCK_FREE)
			reserved += CTRL_PER_CONN - __builtin_popcount(m->conns[i].queued);
	return m->ctrl_len + reserved + extra <= VSOCK_CTRL_MAX;
}

static void ctrl_add(struct vsock_mux *m, const struct vsock_ctrl *e)
{
	if (m->ctrl_len == VSOCK_CTRL_MAX) {
		m->dropped++; /* cannot happen while ctrl_room is honoured */
		return;
	}
	m->ctrl[(m->ctrl_head + m->ctrl_len++) % VSOCK_CTRL_MAX] = *e;
}

/* Queue a control packet for stream c, at most one of each kind. */
static void ctrl_conn(struct vsock_mux *m, struct vsock_conn *c, uint16_t op, uint32_t flags)
{
	struct vsock_ctrl e = { .gport = c->gport,
				.hport = c->hport,
				.op = op,
				.idx = (uint16_t)(c - m->conns),
				.flags = flags,
				.gen = c->gen,
				.of_conn = true };

	if (c->queued & (1u << op))
		return;
	c->queued |= 1u << op;
	ctrl_add(m, &e);
}

/* A reset for a packet that belongs to no stream. */
static void ctrl_stray_rst(struct vsock_mux *m, uint32_t gport, uint32_t hport)
{
	struct vsock_ctrl e = { .gport = gport, .hport = hport, .op = VSOCK_OP_RST };

	if (ctrl_room(m, 1))
		ctrl_add(m, &e);
	else
		m->dropped++;
}

/* ---- streams ---- */

static struct vsock_conn *find_conn(struct vsock_mux *m, uint32_t gport, uint32_t hport)
{
	for (unsigned i = 0; i < VSOCK_MAX_CONNS; i++) {
		struct vsock_conn *c = &m->conns[i];

		if (c->state != VSOCK_FREE && c->gport == gport && c->hport == hport)
			return c;
	}
	return NULL;
}

static struct vsock_conn *new_conn(struct vsock_mux *m, uint32_t gport, uint32_t hport, int fd)
{
	for (unsigned i = 0; i < VSOCK_MAX_CONNS; i++) {
		struct vsock_conn *c = &m->conns[i];
		uint32_t gen = c->gen;

		if (c->state != VSOCK_FREE)
			continue;
		memset(c, 0, sizeof(*c));
		c->gen = gen;
		c->gport = gport;
		c->hport = hport;
		c->fd = fd;
		m->nconns++;
		return c;
	}
	return NULL;
}

/* Host events c needs: input while it may go to the guest, output while data waits. */
static unsigned wanted_events(const struct vsock_conn *c)
{
	unsigned ev = 0;

	if (c->state == VSOCK_ESTABLISHED && !c->readable && !c->host_eof && !c->guest_no_rcv &&
	    vsock_conn_peer_credit(c))
		ev |= VSOCK_EV_IN;
	if (c->buf_len)
		ev |= VSOCK_EV_OUT;
	return ev;
}

static void update_watch(struct vsock_mux *m, struct vsock_conn *c)
{
	unsigned ev = c->state == VSOCK_FREE ? 0 : wanted_events(c);

	if (ev != c->watched) {
		m->ops->watch(m->opaque, c->fd, token_of(m, c), c->watched, ev);
		c->watched = ev;
	}
}

/* End stream c on the host side; with rst, tell the guest too. */
static void conn_close(struct vsock_mux *m, struct vsock_conn *c, bool rst)
{
	if (rst)
		ctrl_conn(m, c, VSOCK_OP_RST, 0);
	if (c->watched)
		m->ops->watch(m->opaque, c->fd, token_of(m, c), c->watched, 0);
	m->ops->close(m->opaque, c->fd);
	free(c->buf);
	c->buf = NULL;
	c->state = VSOCK_FREE;
	c->gen++;
	m->nconns--;
}

static void conn_reset(struct vsock_mux *m, struct vsock_conn *c)
{
	m->resets++;
	conn_close(m, c, true);
}

/*
 * Both directions over (the guest sends no more and either the guest
 * receives no more or the host sent all it had), and every guest byte
 * handed to the host: the stream is done; RST tells the guest, as Linux
 * expects after a SHUTDOWN of both directions.
 */
static bool maybe_finish(struct vsock_mux *m, struct vsock_conn *c)
{
	if (c->state != VSOCK_ESTABLISHED || !c->guest_no_send || c->buf_len)
		return false;
	if (!c->host_write_closed) {
		m->ops->shutdown_write(m->opaque, c->fd);
		c->host_write_closed = true;
	}
	if (!c->guest_no_rcv && !c->host_eof)
		return false;
	conn_close(m, c, true);
	return true;
}

static void maybe_credit_update(struct vsock_mux *m, struct vsock_conn *c)
{
	if (c->fwd_cnt - c->fwd_cnt_told >= CREDIT_UPDATE_STEP)
		ctrl_conn(m, c, VSOCK_OP_CREDIT_UPDATE, 0);
}

/* Hand buffered guest data to the host socket; false if the stream broke. */
static bool flush_buf(struct vsock_mux *m, struct vsock_conn *c)
{
	while (c->buf_len) {
		struct iovec iov = { c->buf + c->buf_off, c->buf_len };
		ssize_t n = m->ops->send(m->opaque, c->fd, &iov, 1);

		if (n == -EAGAIN)
			break;
		if (n <= 0 || (size_t)n > c->buf_len) {
			conn_reset(m, c);
			return false;
		}
		c->buf_off += n;
		c->buf_len -= n;
		c->fwd_cnt += n;
	}
	if (!c->buf_len) {
		free(c->buf);
		c->buf = NULL;
		c->buf_off = 0;
	}
	maybe_credit_update(m, c);
	return true;
}

/* Keep bytes [skip, skip + len) of the payload for later; credit guarantees they fit. */
static bool buffer_payload(struct vsock_conn *c, const struct iovec *iov, unsigned n, uint64_t skip,
			   uint32_t len)
{
	if (!c->buf && !(c->buf = malloc(VSOCK_BUF_ALLOC)))
		return false;
	if (c->buf_off + c->buf_len + len > VSOCK_BUF_ALLOC) {
		memmove(c->buf, c->buf + c->buf_off, c->buf_len);
		c->buf_off = 0;
	}
	iov_to_buf(iov, n, skip, c->buf + c->buf_off + c->buf_len, len);
	c->buf_len += len;
	return true;
}

/* ---- packets from the guest ---- */

static void guest_rw(struct vsock_mux *m, struct vsock_conn *c, const struct iovec *payload,
		     unsigned n, uint32_t len)
{
	uint32_t used = c->rx_cnt - c->fwd_cnt;
	ssize_t sent = 0;

	if (c->state != VSOCK_ESTABLISHED || c->guest_no_send || len > VSOCK_BUF_ALLOC - used) {
		conn_reset(m, c); /* data out of turn, or beyond the credit we gave */
		return;
	}
	c->rx_cnt += len;
	if (!len)
		return;
	if (!c->buf_len) {
		sent = m->ops->send(m->opaque, c->fd, payload, n);
		if (sent == -EAGAIN)
			sent = 0;
		if (sent < 0 || (uint64_t)sent > len) {
			conn_reset(m, c);
			return;
		}
		c->fwd_cnt += sent;
	}
	if ((uint32_t)sent < len && !buffer_payload(c, payload, n, sent, len - sent)) {
		conn_reset(m, c);
		return;
	}
	maybe_credit_update(m, c);
}

static void guest_shutdown(struct vsock_mux *m, struct vsock_conn *c, uint32_t flags)
{
	if (c->state != VSOCK_ESTABLISHED) {
		conn_reset(m, c);
		return;
	}
	if (flags & VSOCK_SHUTDOWN_RCV)
		c->guest_no_rcv = true;
	if (flags & VSOCK_SHUTDOWN_SEND)
		c->guest_no_send = true;
	maybe_finish(m, c);
}

/* REQUEST from the guest to host port `hport`: connect to the host program behind it. */
static void guest_request(struct vsock_mux *m, const struct vsock_hdr *h, uint32_t gport,
			  uint32_t hport)
{
	const struct vsock_rule *r = NULL;
	struct vsock_conn *c;
	int fd;

	for (unsigned i = 0; i < m->nrules && !r; i++)
		if (!m->rules[i].host_listens && m->rules[i].port == hport)
			r = &m->rules[i];
	if (!r || !ctrl_room(m, CTRL_PER_CONN) || m->nconns == VSOCK_MAX_CONNS) {
		ctrl_stray_rst(m, gport, hport);
		return;
	}
	fd = m->ops->connect(m->opaque, r->path);
	if (fd < 0) {
		ctrl_stray_rst(m, gport, hport);
		return;
	}
	c = new_conn(m, gport, hport, fd);
	c->state = VSOCK_ESTABLISHED;
	c->peer_buf_alloc = le32toh(h->buf_alloc);
	c->peer_fwd_cnt = le32toh(h->fwd_cnt);
	ctrl_conn(m, c, VSOCK_OP_RESPONSE, 0);
	update_watch(m, c);
}

static void guest_packet(struct vsock_mux *m, const struct vsock_hdr *h, const struct iovec *out,
			 unsigned nout)
{
	uint32_t gport = le32toh(h->src_port), hport = le32toh(h->dst_port);
	uint16_t op = le16toh(h->op);
	struct vsock_conn *c = find_conn(m, gport, hport);

	if (!c) {
		if (op == VSOCK_OP_REQUEST)
			guest_request(m, h, gport, hport);
		else if (op != VSOCK_OP_RST)
			ctrl_stray_rst(m, gport, hport);
		return;
	}
	c->peer_buf_alloc = le32toh(h->buf_alloc);
	c->peer_fwd_cnt = le32toh(h->fwd_cnt);
	switch (op) {
	case VSOCK_OP_RESPONSE:
		if (c->state != VSOCK_CONNECTING) {
			conn_reset(m, c);
			return;
		}
		c->state = VSOCK_ESTABLISHED;
		break;
	case VSOCK_OP_RST:
		conn_close(m, c, false);
		return;
	case VSOCK_OP_SHUTDOWN:
		guest_shutdown(m, c, le32toh(h->flags));
		break;
	case VSOCK_OP_RW:
		guest_rw(m, c, out, nout, le32toh(h->len));
		break;
	case VSOCK_OP_CREDIT_UPDATE:
		break;
	case VSOCK_OP_CREDIT_REQUEST:
		ctrl_conn(m, c, VSOCK_OP_CREDIT_UPDATE, 0);
		break;
	default: /* REQUEST on an open stream, or an unknown op */
		conn_reset(m, c);
		return;
	}
	if (c->state != VSOCK_FREE)
		update_watch(m, c);
}

void vsock_mux_tx(struct vsock_mux *m, const struct iovec *out, unsigned nout, uint64_t len)
{
	struct iovec payload[VIRTQ_MAX_SEGS];
	struct vsock_hdr h;
	uint32_t plen;
	unsigned n;

	if (len < VSOCK_HDR_SIZE || iov_to_buf(out, nout, 0, &h, sizeof(h)) != sizeof(h)) {
		m->dropped++;
		return;
	}
	plen = le32toh(h.len);
	/* The guest may not speak for another CID; packets not for the host go nowhere. */
	if (le64toh(h.src_cid) != VSOCK_GUEST_CID || le64toh(h.dst_cid) != VSOCK_HOST_CID ||
	    plen > len - VSOCK_HDR_SIZE) {
		m->dropped++;
		return;
	}
	if (le16toh(h.type) != VSOCK_TYPE_STREAM) {
		if (le16toh(h.op) != VSOCK_OP_RST)
			ctrl_stray_rst(m, le32toh(h.src_port), le32toh(h.dst_port));
		return;
	}
	if (le16toh(h.op) != VSOCK_OP_RW)
		plen = 0;
	n = iov_slice(out, nout, VSOCK_HDR_SIZE, plen, payload, VIRTQ_MAX_SEGS);
	guest_packet(m, &h, payload, n);
}

/* ---- host side ---- */

static uint32_t alloc_hport(struct vsock_mux *m, uint32_t gport)
{
	for (;;) {
		uint32_t p = m->next_hport++;

		if (m->next_hport == UINT32_MAX || m->next_hport < HOST_PORT_FIRST)
			m->next_hport = HOST_PORT_FIRST;
		if (!find_conn(m, gport, p))
			return p;
	}
}

int vsock_mux_host_connect(struct vsock_mux *m, unsigned rule, int fd)
{
	struct vsock_conn *c;

	if (rule >= m->nrules || !m->rules[rule].host_listens)
		return -EINVAL;
	if (m->nconns == VSOCK_MAX_CONNS || !ctrl_room(m, CTRL_PER_CONN))
		return -ENOSPC;
	c = new_conn(m, m->rules[rule].port, alloc_hport(m, m->rules[rule].port), fd);
	c->state = VSOCK_CONNECTING;
	ctrl_conn(m, c, VSOCK_OP_REQUEST, 0);
	return 0;
}

void vsock_mux_host_event(struct vsock_mux *m, uint64_t token, unsigned events)
{
	uint32_t idx = (uint32_t)token;
	struct vsock_conn *c;

	if (idx >= VSOCK_MAX_CONNS)
		return;
	c = &m->conns[idx];
	if (c->state == VSOCK_FREE || c->gen != (uint32_t)(token >> 32))
		return; /* an event for a stream that has ended since */
	if ((events & (VSOCK_EV_OUT | VSOCK_EV_ERR)) && c->buf_len) {
		if (!flush_buf(m, c) || maybe_finish(m, c))
			return;
	}
	/* Errors and hang-ups surface through the next read or write. */
	if (events & (VSOCK_EV_IN | VSOCK_EV_ERR))
		c->readable = true;
	update_watch(m, c);
}

void vsock_mux_reset(struct vsock_mux *m)
{
	for (unsigned i = 0; i < VSOCK_MAX_CONNS; i++)
		if (m->conns[i].state != VSOCK_FREE)
			conn_close(m, &m->conns[i], false);
	m->ctrl_head = m->ctrl_len = 0;
}

void vsock_mux_init(struct vsock_mux *m, const struct vsock_rule *rules, unsigned nrules,
		    const struct vsock_host_ops *ops, void *opaque)
{
	memset(m, 0, sizeof(*m));
	m->rules = rules;
	m->nrules = nrules;
	m->ops = ops;
	m->opaque = opaque;
	m->next_hport = HOST_PORT_FIRST;
}

/* ---- packets for the guest ---- */

static bool may_send_data(const struct vsock_conn *c)
{
	return c->state == VSOCK_ESTABLISHED && c->readable && !c->host_eof && !c->guest_no_rcv &&
	       !(c->queued & (1u << VSOCK_OP_RESPONSE)) && vsock_conn_peer_credit(c);
}

bool vsock_mux_rx_pending(const struct vsock_mux *m)
{
	if (m->ctrl_len)
		return true;
	for (unsigned i = 0; i < VSOCK_MAX_CONNS; i++)
		if (may_send_data(&m->conns[i]))
			return true;
	return false;
}

static void fill_hdr(struct vsock_hdr *h, uint32_t gport, uint32_t hport, uint16_t op,
		     uint32_t flags, uint32_t len, uint32_t fwd_cnt)
{
	*h = (struct vsock_hdr){
		.src_cid = htole64(VSOCK_HOST_CID),
		.dst_cid = htole64(VSOCK_GUEST_CID),
		.src_port = htole32(hport),
		.dst_port = htole32(gport),
		.len = htole32(len),
		.type = htole16(VSOCK_TYPE_STREAM),
		.op = htole16(op),
		.flags = htole32(flags),
		.buf_alloc = htole32(VSOCK_BUF_ALLOC),
		.fwd_cnt = htole32(fwd_cnt),
	};
}

/* The next control packet into h; false when the queue is empty. */
static bool next_ctrl(struct vsock_mux *m, struct vsock_hdr *h)
{
	while (m->ctrl_len) {
		struct vsock_ctrl e = m->ctrl[m->ctrl_head];
		struct vsock_conn *c = NULL;

		m->ctrl_head = (m->ctrl_head + 1) % VSOCK_CTRL_MAX;
		m->ctrl_len--;
		if (e.of_conn) {
			c = &m->conns[e.idx];
			if (c->gen == e.gen && c->state != VSOCK_FREE)
				c->queued &= ~(1u << e.op);
			else if (e.op != VSOCK_OP_RST)
				continue; /* the stream ended before its packet left */
			else
				c = NULL; /* its reset, sent after it was freed */
		}
		fill_hdr(h, e.gport, e.hport, e.op, e.flags, 0, c ? c->fwd_cnt : 0);
		if (c) {
			c->fwd_cnt_told = c->fwd_cnt;
			if (e.op == VSOCK_OP_CREDIT_REQUEST || e.op == VSOCK_OP_RESPONSE)
				update_watch(m, c);
		}
		return true;
	}
	return false;
}

/*
 * Read host data for stream c into the payload area of a receive buffer:
 * the payload length, 0 if there was none (EOF and errors handled here).
 */
static uint32_t read_host(struct vsock_mux *m, struct vsock_conn *c, const struct iovec *in,
			  unsigned nin, uint64_t room)
{
	struct iovec dst[VIRTQ_MAX_SEGS];
	uint32_t credit = vsock_conn_peer_credit(c);
	uint64_t want = room < credit ? room : credit;
	unsigned n;
	ssize_t got;

	if (want > VSOCK_MAX_PKT)
		want = VSOCK_MAX_PKT;
	n = iov_slice(in, nin, VSOCK_HDR_SIZE, want, dst, VIRTQ_MAX_SEGS);
	got = m->ops->recv(m->opaque, c->fd, dst, n);
	if (got > 0 && (uint64_t)got <= want) {
		c->tx_cnt += got;
		if (!vsock_conn_peer_credit(c))
			ctrl_conn(m, c, VSOCK_OP_CREDIT_REQUEST, 0);
		return got;
	}
	c->readable = false;
	if (got == 0) {
		c->host_eof = true;
		ctrl_conn(m, c, VSOCK_OP_SHUTDOWN, VSOCK_SHUTDOWN_SEND);
		if (maybe_finish(m, c))
			return 0;
	} else if (got != -EAGAIN) {
		conn_reset(m, c);
		return 0;
	}
	update_watch(m, c);
	return 0;
}

uint32_t vsock_mux_rx(struct vsock_mux *m, const struct iovec *in, unsigned nin, uint64_t len)
{
	struct vsock_hdr h;

	if (len < VSOCK_HDR_SIZE)
		return 0;
	for (;;) {
		struct vsock_conn *c = NULL;
		uint32_t got;

		if (next_ctrl(m, &h)) {
			buf_to_iov(in, nin, 0, &h, sizeof(h));
			return VSOCK_HDR_SIZE;
		}
		if (len == VSOCK_HDR_SIZE)
			return 0; /* no room for data */
		for (unsigned i = 0; i < VSOCK_MAX_CONNS && !c; i++) {
			struct vsock_conn *t = &m->conns[(m->rr + i) % VSOCK_MAX_CONNS];

			if (may_send_data(t))
				c = t;
		}
		if (!c)
			return 0;
		m->rr = (unsigned)(c - m->conns) + 1;
		got = read_host(m, c, in, nin, len - VSOCK_HDR_SIZE);
		if (!got)
			continue; /* c is no longer readable: it cannot be picked again */
		fill_hdr(&h, c->gport, c->hport, VSOCK_OP_RW, 0, got, c->fwd_cnt);
		c->fwd_cnt_told = c->fwd_cnt;
		buf_to_iov(in, nin, 0, &h, sizeof(h));
		return VSOCK_HDR_SIZE + got;
	}
}
