/*
 * virtio-net: one receive and one transmit queue, the virtio_net_hdr_v1
 * header, mergeable receive buffers, the MAC address and link status in
 * config space. The backend carries Ethernet frames:
 *
 *  - unixstream (passt, socket_vmnet): each frame after a 4-byte big-endian
 *    length, reassembled from reads of any size (net_proto.c);
 *  - unixgram (gvproxy, vmnet-helper): one frame per datagram, from a socket
 *    bound to a path of our own so that the peer can answer, and, with
 *    NET_FLAG_VFKIT, the datagram "VFKT" first (what gvproxy's vfkit mode waits for);
 *  - tap: a named tap device opened with IFF_VNET_HDR, so the header (and with
 *    it checksum and segmentation offload) crosses as it is.
 *
 * Offloads: socket backends carry bare frames, so the device offers only
 * what it can finish itself: CSUM (the device completes the checksum the
 * guest left open) and GUEST_CSUM (frames from the backend arrive complete).
 * TSO/UFO are offered on tap only, where the host kernel segments.
 *
 * Backpressure: a frame the guest has no receive buffers for waits (one
 * frame) and the backend is not read until the guest posts buffers; a frame
 * the backend cannot take now waits (one frame) and the transmit queue is not
 * read until the backend is writable. Nothing else is buffered.
 */
#define _GNU_SOURCE
#include "virtio/net.h"

#include <endian.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/if_tun.h>
#include <net/if.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "util/log.h"
#include "virtio/mmio.h"
#include "virtio/net_proto.h"

#define RXQ 0
#define TXQ 1

/* Frames moved per wakeup before the thread looks at its other work. */
#define RX_BUDGET 256

#define VIRTIO_NET_S_LINK_UP 1

struct net_config_space {
	uint8_t mac[6];
	uint16_t status;
	uint16_t max_virtqueue_pairs;
} __attribute__((packed));

struct net_dev {
	char name[16];
	enum vm_net_backend backend;
	int fd;
	char local_path[sizeof(((struct sockaddr_un *)0)->sun_path)]; /* unixgram: ours */
	bool active, dead;
	uint32_t watching; /* epoll events we wait for on fd */
	struct net_config_space cfg;
	uint64_t dropped_tx, dropped_rx;

	/* Receive: one frame waiting for guest buffers. */
	bool rx_ready;	 /* unixgram/tap: rx_buf holds a frame */
	bool rx_blocked; /* the guest had no buffers for it */
	size_t rx_len;	 /* frame bytes after the header */
	uint8_t rx_buf[NET_HDR_LEN + NET_MAX_FRAME];
	struct net_stream_rx *srx; /* unixstream: reassembly */
	uint8_t *rbuf;		   /* unixstream: bytes read, not yet reassembled */
	size_t rpos, rend;

	/* Transmit: room for a length prefix before the header, then the frame. */
	size_t tx_off, tx_end; /* tx_off < tx_end: a frame still to send */
	uint8_t tx_buf[4 + NET_HDR_LEN + NET_MAX_FRAME];

	struct virtq_chain chain;
	uint16_t heads[VIRTQ_MAX_SIZE];
	uint32_t lens[VIRTQ_MAX_SIZE];
};

#define RBUF_SIZE (64 * 1024)

static const uint8_t zero_hdr[NET_HDR_LEN];

/* ---- backend ---- */

static void update_watch(struct virtio_dev *d, struct net_dev *n)
{
	uint32_t ev = 0;

	if (n->active && !n->dead) {
		if (!n->rx_blocked)
			ev |= EPOLLIN;
		if (n->tx_off < n->tx_end)
			ev |= EPOLLOUT;
	}
	if (ev != n->watching) {
		virtio_dev_watch_events(d, n->fd, ev);
		n->watching = ev;
	}
}

static void backend_failed(struct virtio_dev *d, struct net_dev *n, int err)
{
	if (n->dead)
		return;
	n->dead = true;
	pr_warn("%s: the network backend %s (%s); the link is down", n->name,
		err ? "failed" : "closed the connection", err ? strerror(err) : "it exited?");
	n->cfg.status = htole16(0);
	n->tx_off = n->tx_end = 0;
	update_watch(d, n);
	virtio_dev_config_changed(d);
}

/*
 * The next frame from the backend: 1 with hdr, frame and flen set, 0 when none
 * is there now, -errno when the backend is gone.
 */
static int backend_recv(struct net_dev *n, const uint8_t **hdr, const uint8_t **frame, size_t *flen)
{
	ssize_t r;

	for (;;) {
		if (n->backend == VM_NET_UNIXSTREAM) {
			if (n->srx->ready) {
				*hdr = zero_hdr;
				*frame = n->srx->frame;
				*flen = n->srx->frame_len;
				return 1;
			}
			if (n->rpos == n->rend) {
				r = recv(n->fd, n->rbuf, RBUF_SIZE, MSG_DONTWAIT);
				if (r == 0)
					return -EPIPE;
				if (r < 0)
					return errno == EAGAIN || errno == EINTR ? 0 : -errno;
				n->rpos = 0;
				n->rend = r;
			}
			n->rpos += net_stream_rx_feed(n->srx, n->rbuf + n->rpos, n->rend - n->rpos);
			continue;
		}
		if (n->rx_ready) {
			*hdr = n->rx_buf;
			*frame = n->rx_buf + NET_HDR_LEN;
			*flen = n->rx_len;
			return 1;
		}
		if (n->backend == VM_NET_UNIXGRAM) {
			r = recv(n->fd, n->rx_buf + NET_HDR_LEN, NET_MAX_FRAME,
				 MSG_DONTWAIT | MSG_TRUNC);
			if (r >= 0 && r <= NET_MAX_FRAME) {
				memset(n->rx_buf, 0, NET_HDR_LEN);
				n->rx_len = r;
			}
		} else {
			r = read(n->fd, n->rx_buf, sizeof(n->rx_buf));
			if (r >= NET_HDR_LEN)
				n->rx_len = r - NET_HDR_LEN;
		}
		if (r < 0)
			return errno == EAGAIN || errno == EINTR ? 0 : -errno;
		if (r > NET_MAX_FRAME || r < NET_HDR_LEN) {
			n->dropped_rx++; /* truncated datagram, or nothing usable */
			continue;
		}
		n->rx_ready = true;
	}
}

static void backend_consumed(struct net_dev *n)
{
	if (n->backend == VM_NET_UNIXSTREAM)
		net_stream_rx_next(n->srx);
	else
		n->rx_ready = false;
}

/* Send what is left of the pending frame: 0 when sent (or dropped), -EAGAIN to wait. */
static int tx_flush(struct virtio_dev *d, struct net_dev *n)
{
	while (n->tx_off < n->tx_end) {
		size_t len = n->tx_end - n->tx_off;
		ssize_t r = n->backend == VM_NET_TAP ? write(n->fd, n->tx_buf + n->tx_off, len)
						     : send(n->fd, n->tx_buf + n->tx_off, len,
							    MSG_DONTWAIT | MSG_NOSIGNAL);

		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0 && (errno == EAGAIN || errno == ENOBUFS))
			return -EAGAIN;
		if (r < 0) {
			n->dropped_tx++;
			n->tx_off = n->tx_end = 0;
			/* A stream cannot resume mid-frame; datagrams and tap just lose this one.
			 */
			if (n->backend == VM_NET_UNIXSTREAM)
				backend_failed(d, n, errno);
			return 0;
		}
		/* Datagrams and tap writes are whole or not at all. */
		n->tx_off = n->backend == VM_NET_UNIXSTREAM ? n->tx_off + r : n->tx_end;
	}
	n->tx_off = n->tx_end = 0;
	return 0;
}

/* ---- receive: backend -> guest ---- */

/* Guest-bound header from tap: only the offloads the guest took. */
static bool rx_hdr_ok(const struct virtio_dev *d, const uint8_t *hdr)
{
	uint8_t flags = hdr[0], gso = hdr[1] & ~VIRTIO_NET_HDR_GSO_ECN;
	uint64_t f = d->guest_features;

	if ((flags & VIRTIO_NET_HDR_F_NEEDS_CSUM) && !(f & VIRTIO_NET_F_GUEST_CSUM))
		return false;
	return gso == VIRTIO_NET_HDR_GSO_NONE ||
	       (gso == VIRTIO_NET_HDR_GSO_TCPV4 && (f & VIRTIO_NET_F_GUEST_TSO4)) ||
	       (gso == VIRTIO_NET_HDR_GSO_TCPV6 && (f & VIRTIO_NET_F_GUEST_TSO6));
}

/* Bytes [off, off + len) of header + frame into a chain's writable segments. */
static void rx_copy(const struct virtq_chain *c, const uint8_t *hdr, const uint8_t *frame,
		    size_t off, size_t len)
{
	size_t h = 0;

	if (off < NET_HDR_LEN) {
		h = NET_HDR_LEN - off < len ? NET_HDR_LEN - off : len;
		buf_to_iov(c->in, c->nin, 0, hdr + off, h);
	}
	if (len > h)
		buf_to_iov(c->in, c->nin, h, frame + (off + h - NET_HDR_LEN), len - h);
}

/*
 * Put one frame into the guest's receive buffers (several with MRG_RXBUF).
 * 1: delivered or dropped; 0: not enough buffers now (nothing consumed).
 */
static int rx_deliver(struct virtio_dev *d, struct net_dev *n, const uint8_t *hdr,
		      const uint8_t *frame, size_t flen)
{
	struct virtq *q = &d->vq[RXQ];
	bool mrg = d->guest_features & VIRTIO_NET_F_MRG_RXBUF;
	size_t total = NET_HDR_LEN + flen, done = 0;
	struct iovec nb_iov[2];
	unsigned nbufs = 0, nnb = 0;
	uint16_t nb;
	bool bad = false;

	if (flen < NET_ETH_HLEN || (n->backend == VM_NET_TAP && !rx_hdr_ok(d, hdr))) {
		n->dropped_rx++;
		return 1;
	}
	while (done < total) {
		int r = virtq_pop(q, &n->chain);
		size_t take;

		if (r <= 0) {
			/* Give the buffers back untouched; the frame waits for more. */
			while (nbufs--)
				virtq_unpop(q);
			return r < 0 ? 1 : 0;
		}
		n->heads[nbufs] = n->chain.head;
		n->lens[nbufs++] = 0;
		if (!n->chain.ok || n->chain.in_len < (nbufs == 1 ? NET_HDR_LEN : 1) ||
		    (!mrg && n->chain.in_len < total) || nbufs == VIRTQ_MAX_SIZE) {
			bad = true;
			break;
		}
		take = total - done < n->chain.in_len ? total - done : n->chain.in_len;
		rx_copy(&n->chain, hdr, frame, done, take);
		if (nbufs == 1)
			nnb = iov_slice(n->chain.in, n->chain.nin, 10, 2, nb_iov, 2);
		n->lens[nbufs - 1] = take;
		done += take;
	}
	if (bad) {
		/* Buffers taken for a frame that cannot be delivered go back empty. */
		n->dropped_rx++;
		for (unsigned i = 0; i < nbufs; i++)
			virtq_push(q, n->heads[i], 0);
		return 1;
	}
	nb = htole16(nbufs);
	buf_to_iov(nb_iov, nnb, 0, &nb, sizeof(nb));
	for (unsigned i = 0; i < nbufs; i++)
		virtq_push(q, n->heads[i], n->lens[i]);
	return 1;
}

/* The guest hears about used buffers once per batch. */
static void kick_guest(struct virtio_dev *d, struct virtq *q, uint16_t used_before)
{
	if (q->used_idx != used_before)
		virtio_dev_notify_queue(d, q);
}

static void rx_process(struct virtio_dev *d, struct net_dev *n)
{
	struct virtq *q = &d->vq[RXQ];
	unsigned budget = RX_BUDGET;
	uint16_t used = q->used_idx;

	while (!n->dead && budget) {
		const uint8_t *hdr = NULL, *frame = NULL;
		size_t flen = 0;
		int r = backend_recv(n, &hdr, &frame, &flen);

		if (r < 0)
			backend_failed(d, n, r == -EPIPE ? 0 : -r);
		if (r <= 0)
			break;
		if (!rx_deliver(d, n, hdr, frame, flen)) {
			/* Sleep until the guest posts buffers; unless some came meanwhile. */
			if (virtq_enable_notify(q))
				continue;
			n->rx_blocked = true;
			break;
		}
		n->rx_blocked = false;
		backend_consumed(n);
		budget--;
	}
	kick_guest(d, q, used);
	if (!budget) {
		/* More may wait in our own buffer, where epoll cannot see it: come back. */
		uint64_t one = 1;

		if (write(d->kick_fd[RXQ], &one, sizeof(one)) < 0)
			pr_debug("%s: cannot requeue receive work", n->name);
	}
}

/* ---- transmit: guest -> backend ---- */

static void tx_one(struct virtio_dev *d, struct net_dev *n)
{
	const struct virtq_chain *c = &n->chain;
	uint8_t *pkt = n->tx_buf + 4;
	size_t len = c->out_len, flen;

	if (!c->ok || len < NET_HDR_LEN + NET_ETH_HLEN || len > NET_HDR_LEN + NET_MAX_FRAME ||
	    n->dead) {
		n->dropped_tx++;
		return;
	}
	iov_to_buf(c->out, c->nout, 0, pkt, len);
	if (net_tx_check(pkt, len, d->guest_features, n->backend != VM_NET_TAP)) {
		n->dropped_tx++;
		return;
	}
	flen = len - NET_HDR_LEN;
	switch (n->backend) {
	case VM_NET_TAP:
		n->tx_off = 4;
		break;
	case VM_NET_UNIXSTREAM:
		/* The prefix goes where the header was: one contiguous send. */
		n->tx_off = NET_HDR_LEN;
		net_stream_prefix(flen, n->tx_buf + n->tx_off);
		break;
	case VM_NET_UNIXGRAM:
		n->tx_off = 4 + NET_HDR_LEN;
		break;
	}
	n->tx_end = 4 + len;
	tx_flush(d, n);
}

static void tx_process(struct virtio_dev *d, struct net_dev *n)
{
	struct virtq *q = &d->vq[TXQ];
	uint16_t used = q->used_idx;

	if (tx_flush(d, n))
		return; /* the backend is full: wait for it to be writable */
	do {
		int r;

		while ((r = virtq_pop(q, &n->chain)) > 0) {
			tx_one(d, n);
			virtq_push(q, n->chain.head, 0);
			if (n->tx_off < n->tx_end)
				break;
		}
		if (r < 0 || n->tx_off < n->tx_end)
			break;
	} while (virtq_enable_notify(q));
	kick_guest(d, q, used);
}

/* ---- device ops ---- */

static void net_notify(struct virtio_dev *d, int qi)
{
	struct net_dev *n = d->priv;

	if (qi == TXQ || qi < 0)
		tx_process(d, n);
	if (qi == RXQ || qi < 0) {
		n->rx_blocked = false;
		rx_process(d, n);
	}
	update_watch(d, n);
}

static uint64_t tap_offloads(uint64_t guest)
{
	uint64_t f = 0;

	if (guest & VIRTIO_NET_F_GUEST_CSUM)
		f |= TUN_F_CSUM;
	if (guest & VIRTIO_NET_F_GUEST_TSO4)
		f |= TUN_F_TSO4;
	if (guest & VIRTIO_NET_F_GUEST_TSO6)
		f |= TUN_F_TSO6;
	return f;
}

static int net_activate(struct virtio_dev *d)
{
	struct net_dev *n = d->priv;

	/* The host kernel hands us only what the guest's driver accepts. */
	if (n->backend == VM_NET_TAP &&
	    ioctl(n->fd, TUNSETOFFLOAD, (unsigned long)tap_offloads(d->guest_features)) < 0)
		pr_warn("%s: cannot set the tap device's offloads: %m", n->name);
	n->active = true;
	n->rx_blocked = false;
	update_watch(d, n);
	return 0;
}

static void net_reset(struct virtio_dev *d)
{
	struct net_dev *n = d->priv;

	n->active = false;
	n->rx_blocked = false;
	n->tx_off = n->tx_end = 0;
	update_watch(d, n);
}

static void net_config_read(struct virtio_dev *d, uint64_t off, void *data, unsigned len)
{
	struct net_dev *n = d->priv;

	if (off >= sizeof(n->cfg))
		return;
	if (len > sizeof(n->cfg) - off)
		len = sizeof(n->cfg) - off;
	memcpy(data, (const uint8_t *)&n->cfg + off, len);
}

static void net_free(struct net_dev *n)
{
	if (n->fd >= 0)
		close(n->fd);
	if (n->local_path[0])
		unlink(n->local_path);
	free(n->srx);
	free(n->rbuf);
	free(n);
}

static void net_destroy(struct virtio_dev *d)
{
	struct net_dev *n = d->priv;

	if (n->dropped_rx || n->dropped_tx)
		pr_debug("%s: dropped %llu received and %llu sent frames", n->name,
			 (unsigned long long)n->dropped_rx, (unsigned long long)n->dropped_tx);
	net_free(n);
}

static const struct virtio_dev_ops net_ops = {
	.name = "net",
	.device_id = VIRTIO_ID_NET,
	.nqueues = 2,
	.queue_max = 256,
	.config_read = net_config_read,
	.activate = net_activate,
	.reset = net_reset,
	.notify = net_notify,
	.destroy = net_destroy,
};

/* ---- opening backends ---- */

static int unix_addr(const char *path, struct sockaddr_un *sa)
{
	memset(sa, 0, sizeof(*sa));
	sa->sun_family = AF_UNIX;
	if (strlen(path) >= sizeof(sa->sun_path))
		return -ENAMETOOLONG;
	strcpy(sa->sun_path, path);
	return 0;
}

static int open_socket(struct net_dev *n, const struct vm_net *c, unsigned index)
{
	int type = c->backend == VM_NET_UNIXGRAM ? SOCK_DGRAM : SOCK_STREAM;
	struct sockaddr_un peer, local;
	const char *tmp = getenv("TMPDIR");
	char lpath[sizeof(local.sun_path)];
	int fd, ret;

	ret = unix_addr(c->path, &peer);
	if (ret)
		return ret;
	fd = socket(AF_UNIX, type | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	n->fd = fd;
	if (type == SOCK_DGRAM) {
		/* A datagram peer answers to an address: bind one of our own. */
		if (snprintf(lpath, sizeof(lpath), "%s/kiln-net-%d-%u.sock",
			     tmp && *tmp ? tmp : "/tmp", (int)getpid(),
			     index) >= (int)sizeof(lpath))
			return -ENAMETOOLONG;
		ret = unix_addr(lpath, &local);
		if (ret)
			return ret;
		unlink(lpath);
		if (bind(fd, (struct sockaddr *)&local, sizeof(local)) < 0)
			return -errno;
		strcpy(n->local_path, lpath);
	}
	if (connect(fd, (struct sockaddr *)&peer, sizeof(peer)) < 0)
		return -errno;
	if (type == SOCK_DGRAM && (c->flags & NET_FLAG_VFKIT) &&
	    send(fd, NET_VFKIT_MAGIC, 4, MSG_NOSIGNAL) != 4)
		return -errno;
	return 0;
}

static int open_tap(struct net_dev *n, const char *name)
{
	struct ifreq ifr = { .ifr_flags = IFF_TAP | IFF_NO_PI | IFF_VNET_HDR };
	int hdr = NET_HDR_LEN;

	if (strlen(name) >= IFNAMSIZ)
		return -ENAMETOOLONG;
	strcpy(ifr.ifr_name, name);
	n->fd = open("/dev/net/tun", O_RDWR | O_CLOEXEC);
	if (n->fd < 0)
		return -errno;
	if (ioctl(n->fd, TUNSETIFF, &ifr) < 0 || ioctl(n->fd, TUNSETVNETHDRSZ, &hdr) < 0 ||
	    ioctl(n->fd, TUNSETOFFLOAD, 0UL) < 0)
		return -errno;
	return 0;
}

/* A descriptor handed to us: it must be the kind of socket the backend speaks. */
static int adopt_fd(struct net_dev *n, const struct vm_net *c)
{
	int type = 0;
	socklen_t len = sizeof(type);

	if (getsockopt(c->fd, SOL_SOCKET, SO_TYPE, &type, &len) < 0)
		return errno == ENOTSOCK ? -ENOTSOCK : -EBADF;
	if (type != (c->backend == VM_NET_UNIXGRAM ? SOCK_DGRAM : SOCK_STREAM))
		return -EPROTOTYPE;
	n->fd = c->fd;
	return 0;
}

static const char *backend_name(enum vm_net_backend b)
{
	return b == VM_NET_TAP ? "tap" : b == VM_NET_UNIXGRAM ? "unixgram" : "unixstream";
}

static int open_backend(struct net_dev *n, const struct vm_net *c, unsigned index)
{
	int ret;

	if (c->backend == VM_NET_TAP)
		ret = open_tap(n, c->path);
	else if (c->path)
		ret = open_socket(n, c, index);
	else
		ret = adopt_fd(n, c);
	if (!ret && fcntl(n->fd, F_SETFL, fcntl(n->fd, F_GETFL) | O_NONBLOCK) < 0)
		ret = -errno;
	if (!ret)
		return 0;
	if (c->backend == VM_NET_TAP)
		pr_err("%s: cannot open tap device %s: %s%s", n->name, c->path, strerror(-ret),
		       ret == -EPERM || ret == -EACCES ? " (needs CAP_NET_ADMIN, or a tap device "
							 "created for this user: ip tuntap add)"
						       : "");
	else if (c->path)
		pr_err("%s: cannot connect to %s socket %s: %s (is %s running and listening "
		       "there?)",
		       n->name, backend_name(c->backend), c->path, strerror(-ret),
		       c->backend == VM_NET_UNIXGRAM ? "gvproxy" : "passt");
	else
		pr_err("%s: fd %d is not a connected %s socket: %s", n->name, c->fd,
		       backend_name(c->backend), strerror(-ret));
	return ret;
}

static uint64_t offered_features(const struct vm_net *c)
{
	uint64_t can = VIRTIO_NET_F_CSUM | VIRTIO_NET_F_GUEST_CSUM;
	uint64_t f;

	if (c->backend == VM_NET_TAP)
		can |= VIRTIO_NET_F_GUEST_TSO4 | VIRTIO_NET_F_GUEST_TSO6 | VIRTIO_NET_F_HOST_TSO4 |
		       VIRTIO_NET_F_HOST_TSO6;
	/* NET_FEATURE_* are the virtio bit positions. */
	f = c->features & can;
	if (!(f & VIRTIO_NET_F_CSUM))
		f &= ~(VIRTIO_NET_F_HOST_TSO4 | VIRTIO_NET_F_HOST_TSO6);
	if (!(f & VIRTIO_NET_F_GUEST_CSUM))
		f &= ~(VIRTIO_NET_F_GUEST_TSO4 | VIRTIO_NET_F_GUEST_TSO6);
	return f | VIRTIO_NET_F_MAC | VIRTIO_NET_F_MRG_RXBUF | VIRTIO_NET_F_STATUS;
}

int virtio_net_create(struct vm *vm, const struct vm_net *c, unsigned index)
{
	struct net_dev *n = calloc(1, sizeof(*n));
	struct virtio_dev *d;
	int ret;

	if (!n)
		return -ENOMEM;
	n->fd = -1;
	n->backend = c->backend;
	snprintf(n->name, sizeof(n->name), "net%u", index);
	if (c->backend == VM_NET_UNIXSTREAM) {
		n->srx = malloc(sizeof(*n->srx));
		n->rbuf = malloc(RBUF_SIZE);
		if (!n->srx || !n->rbuf) {
			net_free(n);
			return -ENOMEM;
		}
		net_stream_rx_reset(n->srx);
	}
	ret = open_backend(n, c, index);
	if (ret) {
		net_free(n);
		return ret;
	}
	memcpy(n->cfg.mac, c->mac, 6);
	n->cfg.status = htole16(VIRTIO_NET_S_LINK_UP);
	n->cfg.max_virtqueue_pairs = htole16(1);
	ret = virtio_dev_create(vm, &net_ops, n, &d);
	if (ret) {
		pr_err("%s: cannot create the device: %s", n->name, strerror(-ret));
		net_free(n);
		return ret;
	}
	/* From here the device owns n: the VM's teardown frees it. */
	ret = virtio_dev_watch_fd(d, n->fd);
	if (ret) {
		pr_err("%s: cannot watch the backend: %s", n->name, strerror(-ret));
		return ret;
	}
	/* Not read until the driver is ready: until then the backend holds its frames. */
	virtio_dev_watch_events(d, n->fd, 0);
	/* Per device (the backend decides), so not through ops->features. */
	d->host_features |= offered_features(c);
	return 0;
}
