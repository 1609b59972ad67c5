/*
 * The virtio-vsock connection engine: the guest's packets in, the packets for
 * the guest out, and the host sockets behind each stream, reached only
 * through struct vsock_host_ops (unix sockets in the device, fakes in the
 * tests and the fuzzer). It does no virtqueue work and keeps no global state,
 * so the code the device runs is the code that is fuzzed.
 *
 * Streams only (no SEQPACKET). The guest is CID 3, the host CID 2. Each
 * stream is (guest port, host port). Guest data that the host socket cannot
 * take at once waits in a per-stream buffer that the credit we give the guest
 * (VSOCK_BUF_ALLOC) bounds; host data is read straight into the guest's
 * receive buffers, and only while the guest has credit for it.
 */
#ifndef KILN_VIRTIO_VSOCK_MUX_H
#define KILN_VIRTIO_VSOCK_MUX_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>
#include <sys/uio.h>

#define VSOCK_HOST_CID	2
#define VSOCK_GUEST_CID 3

#define VSOCK_TYPE_STREAM 1

enum vsock_op {
	VSOCK_OP_REQUEST = 1,
	VSOCK_OP_RESPONSE = 2,
	VSOCK_OP_RST = 3,
	VSOCK_OP_SHUTDOWN = 4,
	VSOCK_OP_RW = 5,
	VSOCK_OP_CREDIT_UPDATE = 6,
	VSOCK_OP_CREDIT_REQUEST = 7,
};

/* SHUTDOWN flags: the sender will receive no more / send no more. */
#define VSOCK_SHUTDOWN_RCV  1
#define VSOCK_SHUTDOWN_SEND 2

/* Every field little-endian, as on the wire. */
struct vsock_hdr {
	uint64_t src_cid, dst_cid;
	uint32_t src_port, dst_port;
	uint32_t len;
	uint16_t type, op;
	uint32_t flags, buf_alloc, fwd_cnt;
} __attribute__((packed));

#define VSOCK_HDR_SIZE sizeof(struct vsock_hdr) /* 44 */

#define VSOCK_MAX_CONNS 256
#define VSOCK_MAX_RULES 32
/* Bytes of guest data we accept per stream before the host socket takes them. */
#define VSOCK_BUF_ALLOC (128u * 1024)
/* Largest payload of one packet we put on the receive queue. */
#define VSOCK_MAX_PKT (64u * 1024)
/* Control packets waiting for receive buffers: five kinds per stream, plus stray resets. */
#define VSOCK_CTRL_MAX (5 * VSOCK_MAX_CONNS + 64)

/* Host socket events (the device maps them to epoll's). */
#define VSOCK_EV_IN  1u
#define VSOCK_EV_OUT 2u
#define VSOCK_EV_ERR 4u

/*
 * A guest port mapped to a host unix socket. host_listens = false (libkrun's
 * krun_add_vsock_port, vfkit's "listen"): the guest connects to CID 2 port
 * `port` and the VMM connects to `path`, where a host program listens.
 * host_listens = true (libkrun's listen = true, vfkit's "connect"): the VMM
 * listens on `path`, and every client that connects there gets a stream to
 * the guest's port `port`, where a guest program listens.
 */
struct vsock_rule {
	uint32_t port;
	const char *path;
	bool host_listens;
};

struct vsock_host_ops {
	/* Connect to a listening unix socket without blocking: an fd, or -errno. */
	int (*connect)(void *opaque, const char *path);
	/* Non-blocking gather write / scatter read: bytes, -EAGAIN, or another -errno (broken). */
	ssize_t (*send)(void *opaque, int fd, const struct iovec *iov, unsigned n);
	ssize_t (*recv)(void *opaque, int fd, const struct iovec *iov, unsigned n); /* 0: EOF */
	void (*shutdown_write)(void *opaque, int fd);
	void (*close)(void *opaque, int fd);
	/*
	 * Wait for `events` (VSOCK_EV_IN/OUT) on fd instead of `old` (0: not
	 * waited on); report them with vsock_mux_host_event(token).
	 */
	void (*watch)(void *opaque, int fd, uint64_t token, unsigned old, unsigned events);
};

enum vsock_state {
	VSOCK_FREE = 0,
	VSOCK_CONNECTING,  /* host-initiated: REQUEST sent, RESPONSE awaited */
	VSOCK_ESTABLISHED, /* data flows (each way until its shutdown) */
};

struct vsock_conn {
	uint8_t state;
	uint8_t queued; /* control ops in the queue for this stream (bit 1 << op) */
	bool readable;	/* the host socket has data or EOF for us */
	bool host_eof;	/* the host socket ended; the guest was told SHUTDOWN(SEND) */
	bool guest_no_send, guest_no_rcv; /* the guest's SHUTDOWN flags */
	bool host_write_closed;		  /* shutdown(SHUT_WR) done on the host socket */
	uint32_t gen;			  /* bumped on free: tells stale tokens and entries */
	uint32_t gport, hport;
	int fd;
	unsigned watched;
	/* Host -> guest: what we sent and what the guest has room for. */
	uint32_t tx_cnt, peer_buf_alloc, peer_fwd_cnt;
	/* Guest -> host: bytes received, bytes given to the socket, and fwd_cnt last told. */
	uint32_t rx_cnt, fwd_cnt, fwd_cnt_told;
	uint8_t *buf; /* guest data not yet taken by the socket: VSOCK_BUF_ALLOC bytes */
	uint32_t buf_off, buf_len;
};

struct vsock_ctrl {
	uint32_t gport, hport;
	uint16_t op;
	uint16_t idx; /* the stream, with of_conn */
	uint32_t flags, gen;
	bool of_conn; /* false: a reset for a packet that matched no stream */
};

struct vsock_mux {
	const struct vsock_rule *rules;
	unsigned nrules;
	const struct vsock_host_ops *ops;
	void *opaque;
	struct vsock_conn conns[VSOCK_MAX_CONNS];
	unsigned nconns; /* streams not FREE */
	unsigned rr;	 /* round-robin position for host data */
	uint32_t next_hport;
	struct vsock_ctrl ctrl[VSOCK_CTRL_MAX];
	unsigned ctrl_head, ctrl_len;
	/* Counters for logs and tests. */
	uint64_t dropped, resets;
};

void vsock_mux_init(struct vsock_mux *m, const struct vsock_rule *rules, unsigned nrules,
		    const struct vsock_host_ops *ops, void *opaque);
/* Close every stream (driver reset, VM end); rules stay. */
void vsock_mux_reset(struct vsock_mux *m);

/*
 * One packet from the transmit queue: the device-readable segments of a
 * chain (header, then payload). Anything malformed is dropped or answered
 * with RST; nothing the guest sends can make the engine misbehave.
 */
void vsock_mux_tx(struct vsock_mux *m, const struct iovec *out, unsigned nout, uint64_t len);

/* A host client connected to rule `rule`'s socket: ask the guest for a stream. */
int vsock_mux_host_connect(struct vsock_mux *m, unsigned rule, int fd);

/* Events on a host socket, token as given to ops->watch. */
void vsock_mux_host_event(struct vsock_mux *m, uint64_t token, unsigned events);

/* Is there a control packet, or host data the guest has credit for? */
bool vsock_mux_rx_pending(const struct vsock_mux *m);

/*
 * Fill one receive buffer (device-writable segments, len bytes in all, at
 * least VSOCK_HDR_SIZE): the packet's length, or 0 when there was nothing.
 */
uint32_t vsock_mux_rx(struct vsock_mux *m, const struct iovec *in, unsigned nin, uint64_t len);

/* Credit the guest has left for host data on c. */
uint32_t vsock_conn_peer_credit(const struct vsock_conn *c);

#endif
