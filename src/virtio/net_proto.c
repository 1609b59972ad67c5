#include "virtio/net_proto.h"

#include <endian.h>
#include <errno.h>
#include <string.h>

uint16_t net_csum_fold(const uint8_t *data, size_t len)
{
	uint64_t sum = 0;
	size_t i;

	for (i = 0; i + 1 < len; i += 2)
		sum += (uint32_t)data[i] << 8 | data[i + 1];
	if (i < len)
		sum += (uint32_t)data[i] << 8;
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return (uint16_t)sum;
}

/* NEEDS_CSUM: the guest put the pseudo-header sum at csum_start + csum_offset; finish it. */
static int complete_csum(uint8_t *frame, size_t flen, const struct virtio_net_hdr_v1 *h)
{
	uint32_t start = le16toh(h->csum_start), off = le16toh(h->csum_offset);
	uint16_t c;

	if (start >= flen || (uint64_t)start + off + 2 > flen)
		return -EINVAL;
	c = ~net_csum_fold(frame + start, flen - start);
	frame[start + off] = c >> 8;
	frame[start + off + 1] = c & 0xff;
	return 0;
}

static uint64_t gso_feature(uint8_t gso)
{
	switch (gso) {
	case VIRTIO_NET_HDR_GSO_TCPV4:
		return VIRTIO_NET_F_HOST_TSO4;
	case VIRTIO_NET_HDR_GSO_TCPV6:
		return VIRTIO_NET_F_HOST_TSO6;
	case VIRTIO_NET_HDR_GSO_UDP:
		return VIRTIO_NET_F_HOST_UFO;
	}
	return 0;
}

int net_tx_check(uint8_t *pkt, size_t len, uint64_t features, bool raw)
{
	struct virtio_net_hdr_v1 h;
	uint8_t *frame = pkt + NET_HDR_LEN;
	size_t flen;

	if (len < NET_HDR_LEN + NET_ETH_HLEN || len - NET_HDR_LEN > NET_MAX_FRAME)
		return -EINVAL;
	flen = len - NET_HDR_LEN;
	memcpy(&h, pkt, sizeof(h));
	if (h.flags & ~(VIRTIO_NET_HDR_F_NEEDS_CSUM | VIRTIO_NET_HDR_F_DATA_VALID))
		return -EINVAL;
	if (h.gso_type != VIRTIO_NET_HDR_GSO_NONE) {
		/* Segmentation offload reaches only backends that segment (tap), as negotiated. */
		if (raw || !(features & gso_feature(h.gso_type)) || !h.gso_size ||
		    !(h.flags & VIRTIO_NET_HDR_F_NEEDS_CSUM))
			return -EINVAL;
	}
	if (!(h.flags & VIRTIO_NET_HDR_F_NEEDS_CSUM))
		return 0;
	if (!(features & VIRTIO_NET_F_CSUM))
		return -EINVAL;
	if (raw)
		return complete_csum(frame, flen, &h);
	/* The tap device completes it; the offsets must still lie inside the frame. */
	if (le16toh(h.csum_start) >= flen ||
	    (uint64_t)le16toh(h.csum_start) + le16toh(h.csum_offset) + 2 > flen)
		return -EINVAL;
	return 0;
}

void net_stream_rx_reset(struct net_stream_rx *s)
{
	s->len_got = 0;
	s->frame_len = s->got = 0;
	s->skip = 0;
	s->ready = false;
}

void net_stream_rx_next(struct net_stream_rx *s)
{
	s->ready = false;
	s->len_got = 0;
	s->frame_len = s->got = 0;
}

size_t net_stream_rx_feed(struct net_stream_rx *s, const uint8_t *data, size_t n)
{
	size_t used = 0;

	while (used < n && !s->ready) {
		size_t left = n - used, take;

		if (s->skip) {
			take = left < s->skip ? left : s->skip;
			s->skip -= take;
			used += take;
			continue;
		}
		if (s->len_got < 4) {
			s->len_buf[s->len_got++] = data[used++];
			if (s->len_got < 4)
				continue;
			s->frame_len = (uint32_t)s->len_buf[0] << 24 |
				       (uint32_t)s->len_buf[1] << 16 |
				       (uint32_t)s->len_buf[2] << 8 | s->len_buf[3];
			s->got = 0;
			if (s->frame_len > NET_MAX_FRAME) {
				s->skip = s->frame_len;
				s->len_got = 0;
			} else if (s->frame_len == 0) {
				s->len_got = 0;
			}
			continue;
		}
		take = s->frame_len - s->got;
		if (take > left)
			take = left;
		memcpy(s->frame + s->got, data + used, take);
		s->got += take;
		used += take;
		if (s->got == s->frame_len)
			s->ready = true;
	}
	return used;
}

void net_stream_prefix(uint32_t len, uint8_t out[4])
{
	out[0] = len >> 24;
	out[1] = len >> 16;
	out[2] = len >> 8;
	out[3] = len;
}
