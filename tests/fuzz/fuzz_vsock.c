/*
 * The vsock stream engine (src/virtio/vsock_mux.c), the code the device runs,
 * driven by fuzzer bytes: guest packets (any header, any split into
 * segments), receive buffers of any size, host clients arriving, host
 * sockets that fill up, run dry, end or break, and events for any stream.
 * Each segment is its own exact-size allocation, so ASan sees any access past
 * it; the engine's bookkeeping is checked after every step, and at the end
 * every host socket it opened must be closed.
 */
#include <endian.h>
#include <stdlib.h>
#include <string.h>

#include "../unit/vsock_fake.h"

static struct fake_host host;
static struct vsock_mux mux;
static const struct vsock_rule rules[] = {
	{ 1025, "/run/ready.sock", false },
	{ 1024, "/run/ignition.sock", false },
	{ 5000, "/run/echo.sock", true },
};

struct input {
	const uint8_t *p;
	size_t n;
};

static uint8_t u8(struct input *in)
{
	uint8_t v = 0;

	if (in->n) {
		v = *in->p++;
		in->n--;
	}
	return v;
}

static uint16_t u16(struct input *in)
{
	return u8(in) | (uint16_t)u8(in) << 8;
}

static void take(struct input *in, void *dst, size_t len)
{
	size_t k = len < in->n ? len : in->n;

	memset(dst, 0, len);
	memcpy(dst, in->p, k);
	in->p += k;
	in->n -= k;
}

static void check_invariants(void)
{
	unsigned live = 0;

	for (unsigned i = 0; i < VSOCK_MAX_CONNS; i++) {
		const struct vsock_conn *c = &mux.conns[i];

		if (c->state == VSOCK_FREE)
			continue;
		live++;
		if (c->buf_len > VSOCK_BUF_ALLOC || c->rx_cnt - c->fwd_cnt != c->buf_len ||
		    (c->buf_len && !c->buf) || fake_sock(&host, c->fd)->events != c->watched)
			abort();
	}
	if (live != mux.nconns || mux.ctrl_len > VSOCK_CTRL_MAX)
		abort();
}

/* A guest packet: header (mostly well-addressed, so the fuzzer reaches the streams), payload. */
static void do_tx(struct input *in)
{
	uint8_t mode = u8(in);
	uint16_t plen = u16(in) % 8192, split = u8(in);
	struct vsock_hdr h;
	struct iovec iov[3];
	uint8_t *a, *b, *payload;
	unsigned n = 0;
	size_t hl = sizeof(h);

	take(in, &h, sizeof(h));
	if (!(mode & 1)) {
		h.src_cid = htole64(VSOCK_GUEST_CID);
		h.dst_cid = htole64(VSOCK_HOST_CID);
		h.type = htole16(VSOCK_TYPE_STREAM);
		h.op = htole16(1 + le16toh(h.op) % 7);
		h.dst_port = htole32(mode & 2 ? 1025 : le32toh(h.dst_port));
		h.src_port = htole32(le32toh(h.src_port) % 4);
		if (le16toh(h.op) == VSOCK_OP_RESPONSE || le16toh(h.op) == VSOCK_OP_RW)
			h.len = htole32(mode & 4 ? plen : le32toh(h.len));
	}
	if (mode & 8)
		hl = split % sizeof(h); /* a short chain */
	/* The header split over two segments at `split`, then the payload. */
	split = hl ? split % hl : 0;
	a = malloc(split ? split : 1);
	b = malloc(hl - split ? hl - split : 1);
	payload = malloc(plen ? plen : 1);
	memcpy(a, &h, split);
	memcpy(b, (uint8_t *)&h + split, hl - split);
	take(in, payload, plen);
	if (split)
		iov[n++] = (struct iovec){ a, split };
	if (hl - split)
		iov[n++] = (struct iovec){ b, hl - split };
	if (plen)
		iov[n++] = (struct iovec){ payload, plen };
	vsock_mux_tx(&mux, iov, n, hl + plen);
	free(a);
	free(b);
	free(payload);
}

static void do_rx(struct input *in)
{
	uint32_t size = VSOCK_HDR_SIZE + u16(in) % 70000, cut = u16(in) % size, n;
	uint8_t *a = malloc(cut ? cut : 1), *b = malloc(size - cut);
	struct iovec iov[2];
	unsigned k = 0;
	struct vsock_hdr h;

	if (cut)
		iov[k++] = (struct iovec){ a, cut };
	iov[k++] = (struct iovec){ b, size - cut };
	n = vsock_mux_rx(&mux, iov, k, size);
	if (n) {
		iov_to_buf(iov, k, 0, &h, sizeof(h));
		if (n < VSOCK_HDR_SIZE || n > size || le32toh(h.len) != n - VSOCK_HDR_SIZE ||
		    le32toh(h.len) > VSOCK_MAX_PKT || le64toh(h.src_cid) != VSOCK_HOST_CID ||
		    le64toh(h.dst_cid) != VSOCK_GUEST_CID)
			abort();
	}
	free(a);
	free(b);
}

static void do_host_event(struct input *in)
{
	unsigned i = u8(in) % VSOCK_MAX_CONNS;
	uint8_t ev = u8(in);
	uint64_t token = (uint64_t)(mux.conns[i].gen - (ev >> 7)) << 32 | i;

	vsock_mux_host_event(&mux, token, ev & 7);
}

static void do_host_connect(struct input *in)
{
	int fd = fake_new_fd(&host);

	if (fd >= 0 && vsock_mux_host_connect(&mux, u8(in) % 4, fd))
		fake_close(&host, fd);
}

/* Change what a host socket has for the guest, or takes from it. */
static void do_host_state(struct input *in)
{
	struct fake_sock *s = &host.s[u8(in) % FAKE_FDS];
	uint8_t what = u8(in);
	uint16_t v = u16(in);

	if (!s->open)
		return;
	if (what & 1)
		s->avail += v;
	if (what & 2)
		s->eof = true;
	if (what & 4)
		s->room = what & 8 ? UINT32_MAX : v;
	if (what & 16)
		s->broken = true;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct input in = { data, size };

	memset(&host, 0, sizeof(host));
	host.fill = 0x5a;
	vsock_mux_init(&mux, rules, 3, &fake_ops, &host);
	while (in.n) {
		switch (u8(&in) % 7) {
		case 0:
		case 1:
			do_tx(&in);
			break;
		case 2:
			do_rx(&in);
			break;
		case 3:
			do_host_event(&in);
			break;
		case 4:
			do_host_connect(&in);
			break;
		case 5:
			do_host_state(&in);
			break;
		case 6:
			host.connect_error = u8(&in) & 1 ? ECONNREFUSED : 0;
			break;
		}
		check_invariants();
	}
	vsock_mux_reset(&mux);
	for (unsigned i = 0; i < FAKE_FDS; i++)
		if (host.s[i].open)
			abort(); /* a host socket leaked */
	return 0;
}
