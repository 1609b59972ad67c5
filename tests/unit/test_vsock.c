/* The vsock stream engine: connection states, credit, backpressure, hostile packets. */
#include <endian.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "vsock_fake.h"

static struct fake_host host;
static struct vsock_mux mux;
static const struct vsock_rule rules[] = {
	{ 1025, "/run/ready.sock", false }, /* guest -> host (podman's ready port) */
	{ 5000, "/run/echo.sock", true },   /* host -> guest */
};

static void setup(void)
{
	memset(&host, 0, sizeof(host));
	host.fill = 0xab;
	vsock_mux_init(&mux, rules, 2, &fake_ops, &host);
}

static struct vsock_hdr hdr(uint32_t gport, uint32_t hport, uint16_t op, uint32_t len)
{
	return (struct vsock_hdr){
		.src_cid = htole64(VSOCK_GUEST_CID),
		.dst_cid = htole64(VSOCK_HOST_CID),
		.src_port = htole32(gport),
		.dst_port = htole32(hport),
		.len = htole32(len),
		.type = htole16(VSOCK_TYPE_STREAM),
		.op = htole16(op),
		.buf_alloc = htole32(65536),
	};
}

/* Send a packet as Linux does: the header and the payload in their own segments. */
static void tx(struct vsock_hdr h, const void *payload, uint32_t len)
{
	struct iovec iov[2] = { { &h, sizeof(h) }, { (void *)payload, len } };

	vsock_mux_tx(&mux, iov, len ? 2 : 1, sizeof(h) + len);
}

static void tx_op(uint32_t gport, uint32_t hport, uint16_t op, uint32_t flags)
{
	struct vsock_hdr h = hdr(gport, hport, op, 0);

	h.flags = htole32(flags);
	tx(h, NULL, 0);
}

/* The next packet for the guest, through a 44 + room byte buffer in two segments; false if none. */
static uint8_t rx_data[VSOCK_MAX_PKT];
static bool rx(struct vsock_hdr *h, uint32_t room, uint32_t *len)
{
	struct vsock_hdr raw;
	struct iovec iov[2] = { { &raw, sizeof(raw) }, { rx_data, room } };
	uint32_t n = vsock_mux_rx(&mux, iov, 2, sizeof(raw) + room);

	if (!n)
		return false;
	*h = raw;
	if (len)
		*len = n - sizeof(raw);
	return true;
}

static bool rx_op(uint16_t op, uint32_t gport, uint32_t hport)
{
	struct vsock_hdr h;

	return rx(&h, 4096, NULL) && le16toh(h.op) == op && le32toh(h.dst_port) == gport &&
	       le32toh(h.src_port) == hport && le64toh(h.src_cid) == VSOCK_HOST_CID &&
	       le64toh(h.dst_cid) == VSOCK_GUEST_CID;
}

static struct vsock_conn *conn_of(uint32_t gport, uint32_t hport)
{
	for (unsigned i = 0; i < VSOCK_MAX_CONNS; i++)
		if (mux.conns[i].state && mux.conns[i].gport == gport &&
		    mux.conns[i].hport == hport)
			return &mux.conns[i];
	return NULL;
}

static uint64_t token(const struct vsock_conn *c)
{
	return (uint64_t)c->gen << 32 | (uint32_t)(c - mux.conns);
}

/* A guest-initiated stream to port 1025, established; returns its host socket. */
static struct fake_sock *open_guest_stream(uint32_t gport)
{
	tx_op(gport, 1025, VSOCK_OP_REQUEST, 0);
	if (!rx_op(VSOCK_OP_RESPONSE, gport, 1025))
		return NULL;
	return fake_sock(&host, conn_of(gport, 1025)->fd);
}

static void test_connect_and_refuse(void)
{
	struct vsock_hdr h;

	setup();
	CHECK(open_guest_stream(40000) != NULL, "REQUEST to a mapped port gets RESPONSE");
	CHECK(host.connects == 1 && !strcmp(host.last_path, "/run/ready.sock"),
	      "connected to the rule's socket");
	tx_op(40001, 7777, VSOCK_OP_REQUEST, 0);
	CHECK(rx_op(VSOCK_OP_RST, 40001, 7777), "unmapped port: RST");
	tx_op(40002, 5000, VSOCK_OP_REQUEST, 0);
	CHECK(rx_op(VSOCK_OP_RST, 40002, 5000), "a host-listening port is not for guest requests");
	host.connect_error = ECONNREFUSED;
	tx_op(40003, 1025, VSOCK_OP_REQUEST, 0);
	CHECK(rx_op(VSOCK_OP_RST, 40003, 1025), "nobody listening on the host: RST");
	CHECK(!rx(&h, 4096, NULL), "nothing more");
	CHECK(mux.nconns == 1, "one stream open");
	tx_op(40000, 1025, VSOCK_OP_RST, 0);
	CHECK(mux.nconns == 0 && !rx(&h, 4096, NULL), "guest RST closes silently");
	tx_op(40000, 1025, VSOCK_OP_RST, 0);
	CHECK(!rx(&h, 4096, NULL), "RST for no stream: no answer (no RST loops)");
}

static void test_hostile_headers(void)
{
	struct vsock_hdr h = hdr(40000, 1025, VSOCK_OP_REQUEST, 0), g;
	struct iovec iov = { &h, 20 };

	setup();
	h.src_cid = htole64(7); /* spoofed source */
	tx(h, NULL, 0);
	h.src_cid = htole64(VSOCK_GUEST_CID | (1ULL << 32));
	tx(h, NULL, 0);
	h = hdr(40000, 1025, VSOCK_OP_REQUEST, 0);
	h.dst_cid = htole64(5); /* not for the host */
	tx(h, NULL, 0);
	CHECK(!rx(&g, 4096, NULL) && host.connects == 0, "other CIDs: dropped");
	vsock_mux_tx(&mux, &iov, 1, 20);
	CHECK(!rx(&g, 4096, NULL), "short header: dropped");
	h = hdr(40000, 1025, VSOCK_OP_RW, 100); /* claims a payload it does not have */
	tx(h, "xyz", 3);
	CHECK(!rx(&g, 4096, NULL) && mux.dropped == 5, "len beyond the chain: dropped");
	h = hdr(40000, 1025, VSOCK_OP_REQUEST, 0);
	h.type = htole16(2); /* SEQPACKET, not negotiated */
	tx(h, NULL, 0);
	CHECK(rx_op(VSOCK_OP_RST, 40000, 1025) && host.connects == 0, "other socket types: RST");
	tx_op(40000, 1025, 99, 0);
	CHECK(rx_op(VSOCK_OP_RST, 40000, 1025), "unknown op on no stream: RST");
	CHECK(open_guest_stream(40000) != NULL, "then a good REQUEST works");
	tx_op(40000, 1025, 99, 0);
	CHECK(rx_op(VSOCK_OP_RST, 40000, 1025) && mux.nconns == 0, "unknown op: stream reset");
	CHECK(open_guest_stream(40000) != NULL, "reopen");
	tx_op(40000, 1025, VSOCK_OP_REQUEST, 0);
	CHECK(rx_op(VSOCK_OP_RST, 40000, 1025) && mux.nconns == 0, "REQUEST on an open stream");
	CHECK(open_guest_stream(40000) != NULL, "reopen");
	tx_op(40000, 1025, VSOCK_OP_RESPONSE, 0);
	CHECK(rx_op(VSOCK_OP_RST, 40000, 1025) && mux.nconns == 0, "RESPONSE out of turn");
}

static void test_guest_to_host_credit(void)
{
	static uint8_t big[VSOCK_BUF_ALLOC];
	struct fake_sock *s;
	struct vsock_conn *c;
	struct vsock_hdr h;

	setup();
	s = open_guest_stream(40000);
	c = conn_of(40000, 1025);
	tx(hdr(40000, 1025, VSOCK_OP_RW, 5), "Ready", 5);
	CHECK(s->got == 5 && !memcmp(s->store, "Ready", 5), "data reaches the host socket");
	CHECK(!rx(&h, 4096, NULL), "no credit update for a few bytes");

	/* The host socket is full: the data waits, bounded by the credit we gave. */
	s->room = 1000;
	memset(big, 'x', sizeof(big));
	tx(hdr(40000, 1025, VSOCK_OP_RW, 60000), big, 60000);
	CHECK(s->got == 1005 && c->buf_len == 59000, "partial write buffers the rest");
	CHECK(s->events & VSOCK_EV_OUT, "waits for the socket to take more");
	tx(hdr(40000, 1025, VSOCK_OP_RW, 60000), big, 60000);
	CHECK(c->buf_len == 119000 && s->got == 1005, "later data queues behind it, in order");
	tx(hdr(40000, 1025, VSOCK_OP_RW, VSOCK_BUF_ALLOC - 119000 + 1), big,
	   VSOCK_BUF_ALLOC - 119000 + 1);
	CHECK(rx_op(VSOCK_OP_RST, 40000, 1025) && mux.nconns == 0 && !s->open,
	      "beyond the credit: the stream is reset");

	s = open_guest_stream(40001);
	c = conn_of(40001, 1025);
	s->room = 0;
	tx(hdr(40001, 1025, VSOCK_OP_RW, 50000), big, 50000);
	CHECK(c->buf_len == 50000 && !rx(&h, 4096, NULL), "all buffered, no credit update yet");
	s->room = UINT32_MAX;
	vsock_mux_host_event(&mux, token(c), VSOCK_EV_OUT);
	CHECK(c->buf_len == 0 && s->got == 50000 && !(s->events & VSOCK_EV_OUT),
	      "flushed when the socket takes data");
	CHECK(rx(&h, 4096, NULL) && le16toh(h.op) == VSOCK_OP_CREDIT_UPDATE &&
		      le32toh(h.fwd_cnt) == 50000 && le32toh(h.buf_alloc) == VSOCK_BUF_ALLOC,
	      "credit update tells fwd_cnt");
	tx_op(40001, 1025, VSOCK_OP_CREDIT_REQUEST, 0);
	CHECK(rx_op(VSOCK_OP_CREDIT_UPDATE, 40001, 1025), "CREDIT_REQUEST answered");
	vsock_mux_host_event(&mux, token(c) + (1ULL << 32), VSOCK_EV_ERR);
	CHECK(mux.nconns == 1, "stale event token ignored");
	s->broken = true;
	tx(hdr(40001, 1025, VSOCK_OP_RW, 10), big, 10);
	CHECK(rx_op(VSOCK_OP_RST, 40001, 1025) && mux.nconns == 0, "broken host socket: RST");
}

static void test_host_to_guest_credit(void)
{
	struct fake_sock *s;
	struct vsock_conn *c;
	struct vsock_hdr h = hdr(40000, 1025, VSOCK_OP_REQUEST, 0);
	uint32_t len;

	setup();
	h.buf_alloc = htole32(10000);
	tx(h, NULL, 0);
	CHECK(rx_op(VSOCK_OP_RESPONSE, 40000, 1025), "established");
	c = conn_of(40000, 1025);
	s = fake_sock(&host, c->fd);
	CHECK(s->events == VSOCK_EV_IN, "reads the host socket while the guest has credit");
	s->avail = 30000;
	vsock_mux_host_event(&mux, token(c), VSOCK_EV_IN);
	CHECK(vsock_mux_rx_pending(&mux), "data pending");
	CHECK(rx(&h, 4096, &len) && le16toh(h.op) == VSOCK_OP_RW && len == 4096 &&
		      le32toh(h.len) == 4096 && rx_data[0] == 0xab && rx_data[4095] == 0xab,
	      "one buffer's worth");
	CHECK(rx(&h, 8192, &len) && len == 10000 - 4096, "then up to the guest's credit");
	CHECK(rx(&h, 4096, NULL) && le16toh(h.op) == VSOCK_OP_CREDIT_REQUEST,
	      "out of credit: ask for an update");
	CHECK(!vsock_mux_rx_pending(&mux) && !rx(&h, 4096, NULL) && s->events == 0,
	      "and stop reading the host socket");
	h = hdr(40000, 1025, VSOCK_OP_CREDIT_UPDATE, 0);
	h.buf_alloc = htole32(10000);
	h.fwd_cnt = htole32(10000);
	tx(h, NULL, 0);
	CHECK(rx(&h, 65536, &len) && len == 10000 && s->avail == 10000, "resumes with new credit");

	/* Host EOF: SHUTDOWN(SEND) once the data is delivered; the guest's close finishes. */
	setup();
	s = open_guest_stream(40000);
	c = conn_of(40000, 1025);
	s->avail = 10;
	s->eof = true;
	vsock_mux_host_event(&mux, token(c), VSOCK_EV_IN);
	CHECK(rx(&h, 4096, &len) && len == 10, "data first");
	CHECK(rx(&h, 4096, NULL) && le16toh(h.op) == VSOCK_OP_SHUTDOWN &&
		      le32toh(h.flags) == VSOCK_SHUTDOWN_SEND,
	      "then SHUTDOWN(SEND)");
	tx(hdr(40000, 1025, VSOCK_OP_RW, 3), "bye", 3);
	CHECK(s->got == 3, "the guest may still send");
	tx_op(40000, 1025, VSOCK_OP_SHUTDOWN, VSOCK_SHUTDOWN_SEND | VSOCK_SHUTDOWN_RCV);
	CHECK(rx_op(VSOCK_OP_RST, 40000, 1025) && mux.nconns == 0 && !s->open,
	      "guest close after host EOF: RST, socket closed");
}

static void test_guest_half_close(void)
{
	static uint8_t data[2000];
	struct fake_sock *s;
	struct vsock_conn *c;
	struct vsock_hdr h;

	/* podman's ready port: the guest writes, shuts its side, the host reads to EOF. */
	setup();
	s = open_guest_stream(40000);
	c = conn_of(40000, 1025);
	s->room = 500;
	tx(hdr(40000, 1025, VSOCK_OP_RW, sizeof(data)), data, sizeof(data));
	tx_op(40000, 1025, VSOCK_OP_SHUTDOWN, VSOCK_SHUTDOWN_SEND);
	CHECK(!s->write_shut && c->buf_len == 1500, "write side stays open until flushed");
	s->room = UINT32_MAX;
	vsock_mux_host_event(&mux, token(c), VSOCK_EV_OUT);
	CHECK(s->write_shut && s->got == sizeof(data) && mux.nconns == 1,
	      "flushed, then shutdown(SHUT_WR); the host may still answer");
	while (rx(&h, 4096, NULL))
		;
	s->avail = 7;
	vsock_mux_host_event(&mux, token(c), VSOCK_EV_IN);
	CHECK(rx(&h, 4096, NULL) && le16toh(h.op) == VSOCK_OP_RW, "host answer delivered");
	s->eof = true;
	vsock_mux_host_event(&mux, token(c), VSOCK_EV_IN);
	CHECK(rx_op(VSOCK_OP_RST, 40000, 1025) && mux.nconns == 0 && !s->open,
	      "host EOF after the guest's: stream done with RST");
	tx(hdr(40000, 1025, VSOCK_OP_RW, 3), "bye", 3);
	CHECK(rx_op(VSOCK_OP_RST, 40000, 1025), "data for a closed stream: RST");
}

static void test_host_initiated(void)
{
	struct fake_sock *s;
	struct vsock_conn *c;
	struct vsock_hdr h;
	uint32_t hport;
	int fd;

	setup();
	fd = fake_new_fd(&host);
	CHECK(vsock_mux_host_connect(&mux, 1, fd) == 0, "client accepted");
	CHECK(vsock_mux_host_connect(&mux, 0, fd) == -EINVAL, "not on a guest->host rule");
	CHECK(rx(&h, 4096, NULL) && le16toh(h.op) == VSOCK_OP_REQUEST &&
		      le32toh(h.dst_port) == 5000 && le32toh(h.src_port) >= 49152,
	      "REQUEST to the guest's port");
	hport = le32toh(h.src_port);
	c = conn_of(5000, hport);
	s = fake_sock(&host, fd);
	s->avail = 100;
	CHECK(s->events == 0 && !vsock_mux_rx_pending(&mux), "no data before RESPONSE");
	tx_op(5000, hport, VSOCK_OP_RESPONSE, 0);
	CHECK(c->state == VSOCK_ESTABLISHED && s->events == VSOCK_EV_IN, "established");
	vsock_mux_host_event(&mux, token(c), VSOCK_EV_IN);
	CHECK(rx(&h, 4096, NULL) && le32toh(h.len) == 100, "data flows");
	tx_op(5000, hport, VSOCK_OP_RST, 0);
	CHECK(!s->open && mux.nconns == 0, "guest RST closes the client");

	/* The guest has no listener: it answers RST to our REQUEST. */
	fd = fake_new_fd(&host);
	vsock_mux_host_connect(&mux, 1, fd);
	CHECK(rx(&h, 4096, NULL), "REQUEST");
	tx_op(5000, le32toh(h.src_port), VSOCK_OP_RST, 0);
	CHECK(!host.s[fd - FAKE_FD0].open && mux.nconns == 0,
	      "refused by the guest: client closed");
}

static void test_limits(void)
{
	struct vsock_hdr h;
	unsigned n = 0;

	setup();
	for (unsigned i = 0; i < VSOCK_MAX_CONNS; i++)
		tx_op(30000 + i, 1025, VSOCK_OP_REQUEST, 0);
	CHECK(mux.nconns == VSOCK_MAX_CONNS, "table full");
	tx_op(29999, 1025, VSOCK_OP_REQUEST, 0);
	CHECK(mux.nconns == VSOCK_MAX_CONNS, "one more is refused");
	/* The guest posts no receive buffers while it floods us: the queue stays bounded. */
	for (unsigned i = 0; i < 10 * VSOCK_CTRL_MAX; i++)
		tx_op(20000 + i, 7777, VSOCK_OP_REQUEST, 0);
	CHECK(mux.ctrl_len <= VSOCK_CTRL_MAX, "control queue bounded");
	while (rx(&h, 4096, NULL))
		n++;
	/* Each open stream keeps room for its 4 other kinds; stray resets get the rest. */
	CHECK(n == VSOCK_CTRL_MAX - 4 * VSOCK_MAX_CONNS, "responses and the resets that fit (%u)",
	      n);
	vsock_mux_reset(&mux);
	CHECK(mux.nconns == 0 && mux.ctrl_len == 0, "reset closes all");
	for (unsigned i = 0; i < FAKE_FDS; i++)
		CHECK(!host.s[i].open, "fd %u closed", i);
}

int main(void)
{
	test_connect_and_refuse();
	test_hostile_headers();
	test_guest_to_host_credit();
	test_host_to_guest_credit();
	test_guest_half_close();
	test_host_initiated();
	test_limits();
	return check_summary();
}
