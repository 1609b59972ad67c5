/*
 * virtio-net's parsers on fuzzer bytes: the transmit header check (with
 * checksum completion) on a packet that is exactly its own malloc'd length,
 * and the stream reassembly fed in pieces whose sizes the input chooses.
 *
 * Input: a flags byte (bit 0: raw backend; the rest pick the negotiated
 * features), then a packet length (2 bytes), the packet, and the rest is the
 * stream: [piece length byte, piece bytes]...
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "virtio/net_proto.h"

static struct net_stream_rx rx;

static void fuzz_tx(const uint8_t *data, size_t len, uint8_t flags)
{
	uint64_t features = (flags & 2 ? VIRTIO_NET_F_CSUM : 0) |
			    (flags & 4 ? VIRTIO_NET_F_HOST_TSO4 | VIRTIO_NET_F_HOST_TSO6 : 0) |
			    (flags & 8 ? VIRTIO_NET_F_HOST_UFO : 0);
	uint8_t *pkt = malloc(len ? len : 1);

	if (!pkt)
		return;
	memcpy(pkt, data, len);
	if (net_tx_check(pkt, len, features, flags & 1) == 0) {
		/* Accepted: a sane length, and nothing beyond it was touched (ASan). */
		if (len < NET_HDR_LEN + NET_ETH_HLEN || len > NET_HDR_LEN + NET_MAX_FRAME)
			abort();
		if ((flags & 1) && pkt[1] != VIRTIO_NET_HDR_GSO_NONE)
			abort();
	}
	free(pkt);
}

static void fuzz_stream(const uint8_t *data, size_t len)
{
	net_stream_rx_reset(&rx);
	while (len) {
		size_t piece = data[0], used = 0;

		data++, len--;
		if (piece > len)
			piece = len;
		while (used < piece) {
			size_t n = net_stream_rx_feed(&rx, data + used, piece - used);

			if (n > piece - used)
				abort();
			used += n;
			if (rx.ready) {
				if (rx.frame_len == 0 || rx.frame_len > NET_MAX_FRAME)
					abort();
				net_stream_rx_next(&rx);
			} else if (n == 0) {
				abort(); /* no frame waiting, yet nothing taken */
			}
		}
		data += piece, len -= piece;
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	size_t plen;

	if (size < 3)
		return 0;
	plen = data[1] | (size_t)data[2] << 8;
	if (plen > size - 3)
		plen = size - 3;
	fuzz_tx(data + 3, plen, data[0]);
	fuzz_stream(data + 3 + plen, size - 3 - plen);
	return 0;
}
