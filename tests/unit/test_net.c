/* virtio-net's pure parts: stream framing, the transmit header check, checksum completion. */
#include <endian.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "virtio/net_proto.h"

static struct net_stream_rx rx;

/* Three frames (one oversized, one empty in between) fed in pieces of every size. */
static void test_stream(void)
{
	static uint8_t stream[3 * 4 + 60 + 1514 + 70000 + 4];
	static const uint32_t lens[] = { 60, 0, 70000, 1514 };
	size_t n = 0;

	for (unsigned f = 0; f < 4; f++) {
		net_stream_prefix(lens[f], stream + n);
		n += 4;
		for (uint32_t i = 0; i < lens[f]; i++)
			stream[n + i] = (uint8_t)(f * 31 + i);
		n += lens[f];
	}
	CHECK(stream[0] == 0 && stream[1] == 0 && stream[2] == 0 && stream[3] == 60,
	      "prefix is big-endian");
	for (size_t piece = 1; piece <= 9000; piece = piece < 8 ? piece + 1 : piece * 3) {
		size_t off = 0;
		unsigned got = 0;
		bool ok = true;

		net_stream_rx_reset(&rx);
		while (off < n) {
			size_t len = n - off < piece ? n - off : piece;
			size_t used = net_stream_rx_feed(&rx, stream + off, len);

			off += used;
			if (rx.ready) {
				uint32_t want = got == 0 ? 60 : 1514;
				unsigned f = got == 0 ? 0 : 3;

				ok &= rx.frame_len == want;
				for (uint32_t i = 0; ok && i < want; i++)
					ok &= rx.frame[i] == (uint8_t)(f * 31 + i);
				got++;
				/* While a frame waits, nothing more is taken. */
				ok &= net_stream_rx_feed(&rx, stream + off, n - off) == 0;
				net_stream_rx_next(&rx);
			} else {
				ok &= used == len;
			}
		}
		CHECK(ok && got == 2, "pieces of %zu: %u frames, contents %s", piece, got,
		      ok ? "ok" : "wrong");
	}
}

/* Ethernet + IPv4 + UDP with 8 payload bytes, checksum left to the device. */
static size_t udp_packet(uint8_t *pkt, struct virtio_net_hdr_v1 *h)
{
	uint8_t *f = pkt + NET_HDR_LEN, *ip = f + 14, *udp = ip + 20;
	uint8_t pseudo[12];
	uint16_t ps;

	memset(pkt, 0, NET_HDR_LEN + 14 + 20 + 16);
	f[12] = 0x08;
	ip[0] = 0x45;
	ip[3] = 36;
	ip[8] = 64;
	ip[9] = 17;
	memcpy(ip + 12, (uint8_t[]){ 10, 0, 2, 15, 10, 0, 2, 2 }, 8);
	udp[0] = 0x30, udp[1] = 0x39, udp[2] = 0x00, udp[3] = 0x35, udp[5] = 16;
	memcpy(udp + 8, "kilnkiln", 8);
	/* What a guest stores: the pseudo-header sum, not inverted. */
	memcpy(pseudo, ip + 12, 8);
	pseudo[8] = 0, pseudo[9] = 17, pseudo[10] = 0, pseudo[11] = 16;
	ps = net_csum_fold(pseudo, 12);
	udp[6] = ps >> 8, udp[7] = ps & 0xff;
	*h = (struct virtio_net_hdr_v1){ .flags = VIRTIO_NET_HDR_F_NEEDS_CSUM,
					 .csum_start = htole16(34),
					 .csum_offset = htole16(6) };
	memcpy(pkt, h, sizeof(*h));
	return NET_HDR_LEN + 14 + 20 + 16;
}

static void test_tx(void)
{
	static uint8_t pkt[NET_HDR_LEN + NET_MAX_FRAME + 16];
	struct virtio_net_hdr_v1 h;
	uint8_t pseudo_and_udp[12 + 16], *udp = pkt + NET_HDR_LEN + 34;
	size_t len = udp_packet(pkt, &h);

	CHECK(net_tx_check(pkt, len, VIRTIO_NET_F_CSUM, true) == 0, "partial checksum accepted");
	memcpy(pseudo_and_udp, pkt + NET_HDR_LEN + 26, 8);
	memcpy(pseudo_and_udp + 8, (uint8_t[]){ 0, 17, 0, 16 }, 4);
	memcpy(pseudo_and_udp + 12, udp, 16);
	CHECK(net_csum_fold(pseudo_and_udp, sizeof(pseudo_and_udp)) == 0xffff,
	      "the completed UDP checksum verifies");

	len = udp_packet(pkt, &h);
	CHECK(net_tx_check(pkt, len, 0, true) == -EINVAL, "NEEDS_CSUM without CSUM refused");
	CHECK(net_tx_check(pkt, len, VIRTIO_NET_F_CSUM, false) == 0, "tap: header passes");
	h.csum_offset = htole16(len - NET_HDR_LEN - 34 - 1);
	memcpy(pkt, &h, sizeof(h));
	CHECK(net_tx_check(pkt, len, VIRTIO_NET_F_CSUM, true) == -EINVAL,
	      "checksum field past the frame refused");
	CHECK(net_tx_check(pkt, len, VIRTIO_NET_F_CSUM, false) == -EINVAL,
	      "checksum field past the frame refused (tap)");
	h = (struct virtio_net_hdr_v1){ .csum_start = htole16(0xffff) };
	memcpy(pkt, &h, sizeof(h));
	CHECK(net_tx_check(pkt, len, 0, true) == 0, "no NEEDS_CSUM: offsets ignored");
	h = (struct virtio_net_hdr_v1){ .flags = 0x80 };
	memcpy(pkt, &h, sizeof(h));
	CHECK(net_tx_check(pkt, len, VIRTIO_NET_F_CSUM, true) == -EINVAL, "unknown flag refused");
	h = (struct virtio_net_hdr_v1){ .flags = VIRTIO_NET_HDR_F_NEEDS_CSUM,
					.gso_type = VIRTIO_NET_HDR_GSO_TCPV4,
					.gso_size = htole16(1448),
					.csum_start = htole16(34),
					.csum_offset = htole16(6) };
	memcpy(pkt, &h, sizeof(h));
	CHECK(net_tx_check(pkt, len, ~0ULL, true) == -EINVAL, "GSO never goes to a raw backend");
	CHECK(net_tx_check(pkt, len, VIRTIO_NET_F_CSUM | VIRTIO_NET_F_HOST_TSO4, false) == 0,
	      "TSO4 to tap when negotiated");
	CHECK(net_tx_check(pkt, len, VIRTIO_NET_F_CSUM | VIRTIO_NET_F_HOST_TSO6, false) == -EINVAL,
	      "TSO4 to tap without HOST_TSO4 refused");
	h.gso_type = 2;
	memcpy(pkt, &h, sizeof(h));
	CHECK(net_tx_check(pkt, len, ~0ULL, false) == -EINVAL, "unknown GSO type refused");
	memset(pkt, 0, NET_HDR_LEN);
	CHECK(net_tx_check(pkt, NET_HDR_LEN + 13, 0, true) == -EINVAL, "runt frame refused");
	CHECK(net_tx_check(pkt, NET_HDR_LEN + NET_MAX_FRAME, 0, true) == 0, "largest frame");
	CHECK(net_tx_check(pkt, NET_HDR_LEN + NET_MAX_FRAME + 1, 0, true) == -EINVAL,
	      "oversized frame refused");
	CHECK(net_csum_fold((const uint8_t *)"\xff\xff\x00\x01", 4) == 0x0001, "end-around carry");
	CHECK(net_csum_fold((const uint8_t *)"\x01", 1) == 0x0100, "odd byte padded");
	CHECK(!memcmp(NET_VFKIT_MAGIC, "VFKT", 4) && sizeof(NET_VFKIT_MAGIC) == 5,
	      "the vfkit magic is the 4 bytes VFKT");
}

int main(void)
{
	test_stream();
	test_tx();
	return check_summary();
}
