/*
 * virtio-net, the parts a hostile guest or a misbehaving backend feeds: the
 * transmit header check (with checksum completion), and the reassembly of
 * length-prefixed frames from a stream socket. Pure: no system calls, so unit
 * tests and fuzzers drive them directly.
 */
#ifndef KILN_VIRTIO_NET_PROTO_H
#define KILN_VIRTIO_NET_PROTO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Feature bits (virtio 1.x, section 5.1.3). */
#define VIRTIO_NET_F_CSUM	(1ULL << 0)
#define VIRTIO_NET_F_GUEST_CSUM (1ULL << 1)
#define VIRTIO_NET_F_MAC	(1ULL << 5)
#define VIRTIO_NET_F_GUEST_TSO4 (1ULL << 7)
#define VIRTIO_NET_F_GUEST_TSO6 (1ULL << 8)
#define VIRTIO_NET_F_GUEST_UFO	(1ULL << 10)
#define VIRTIO_NET_F_HOST_TSO4	(1ULL << 11)
#define VIRTIO_NET_F_HOST_TSO6	(1ULL << 12)
#define VIRTIO_NET_F_HOST_UFO	(1ULL << 14)
#define VIRTIO_NET_F_MRG_RXBUF	(1ULL << 15)
#define VIRTIO_NET_F_STATUS	(1ULL << 16)

#define VIRTIO_NET_HDR_F_NEEDS_CSUM 1
#define VIRTIO_NET_HDR_F_DATA_VALID 2

#define VIRTIO_NET_HDR_GSO_NONE	 0
#define VIRTIO_NET_HDR_GSO_TCPV4 1
#define VIRTIO_NET_HDR_GSO_UDP	 3
#define VIRTIO_NET_HDR_GSO_TCPV6 4
#define VIRTIO_NET_HDR_GSO_ECN	 0x80

/* struct virtio_net_hdr_v1: every field little-endian. */
struct virtio_net_hdr_v1 {
	uint8_t flags;
	uint8_t gso_type;
	uint16_t hdr_len;
	uint16_t gso_size;
	uint16_t csum_start;
	uint16_t csum_offset;
	uint16_t num_buffers;
};

#define NET_HDR_LEN  12
#define NET_ETH_HLEN 14
/* The largest frame either way: 64 KiB of IP payload, an Ethernet and a VLAN header. */
#define NET_MAX_FRAME (65535 + NET_ETH_HLEN + 4)

/*
 * Check a transmitted packet (header + frame, len bytes) before it leaves.
 * raw: the backend takes bare frames; a checksum the guest left to the device
 * (NEEDS_CSUM) is completed in place, and segmentation offload is refused.
 * Otherwise (tap) the header travels with the frame and is only checked
 * against the negotiated features. 0, or -EINVAL: drop the packet.
 */
int net_tx_check(uint8_t *pkt, size_t len, uint64_t features, bool raw);

/* The Internet checksum (RFC 1071) of data, folded, not inverted. */
uint16_t net_csum_fold(const uint8_t *data, size_t len);

/*
 * Length-prefixed frames (4 bytes, big-endian; passt, QEMU's stream netdev)
 * taken from a byte stream that arrives in pieces of any size. A frame longer
 * than NET_MAX_FRAME is skipped whole (its length keeps the stream in step);
 * an empty one is ignored.
 */
struct net_stream_rx {
	uint8_t len_buf[4];
	unsigned len_got;
	uint32_t frame_len; /* of the frame being read */
	uint32_t got;	    /* of it so far */
	uint64_t skip;	    /* bytes left of an oversized frame */
	bool ready;	    /* frame[0..frame_len) is complete */
	uint8_t frame[NET_MAX_FRAME];
};

void net_stream_rx_reset(struct net_stream_rx *s);
/*
 * Consume bytes from data until a frame is complete (s->ready) or data is
 * used up; returns how many were consumed. While s->ready, consumes nothing:
 * the caller takes the frame and calls net_stream_rx_next().
 */
size_t net_stream_rx_feed(struct net_stream_rx *s, const uint8_t *data, size_t n);
void net_stream_rx_next(struct net_stream_rx *s);

/* The 4-byte big-endian length prefix of a frame. */
void net_stream_prefix(uint32_t len, uint8_t out[4]);

/* The magic datagram vfkit and libkrun send gvproxy first (NET_FLAG_VFKIT). */
#define NET_VFKIT_MAGIC "VFKT"

#endif
