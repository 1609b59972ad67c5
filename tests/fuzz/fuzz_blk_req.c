/*
 * The virtio-blk request parser on chains made of fuzzer bytes.
 *
 * Input: flags, limits, a segment table (direction and length of each), then
 * the bytes that fill the segments. Each segment is its own malloc'd buffer
 * of exactly its length, so ASan catches a parser that reads or hands out
 * anything beyond a segment; accepted requests are checked against the limits.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "virtio/blk_req.h"

#define MAX_SEGS 24

struct params {
	uint8_t flags; /* bit 0: chain ok, bit 1: read-only */
	uint8_t nsegs;
	uint8_t max_discard_seg, max_write_zeroes_seg;
	uint32_t max_sectors;
	uint64_t capacity;
};

static struct virtq_chain chain;
static struct blk_req req;

static bool inside_a_segment(const uint8_t *p, size_t len)
{
	const struct iovec *lists[2] = { chain.out, chain.in };
	unsigned counts[2] = { chain.nout, chain.nin };

	for (unsigned l = 0; l < 2; l++) {
		for (unsigned i = 0; i < counts[l]; i++) {
			const uint8_t *b = lists[l][i].iov_base;
			size_t n = lists[l][i].iov_len;

			if (p >= b && len <= n && (size_t)(p - b) <= n - len)
				return true;
		}
	}
	return false;
}

static void check_request(const struct blk_limits *lim)
{
	uint64_t sum = 0;

	for (unsigned i = 0; i < req.niov; i++) {
		if (!inside_a_segment(req.iov[i].iov_base, req.iov[i].iov_len))
			abort();
		/* Do what the device would: write what it reads into, read what it writes out. */
		if (req.type == VIRTIO_BLK_T_IN)
			memset(req.iov[i].iov_base, 0x5a, req.iov[i].iov_len);
		sum += req.iov[i].iov_len;
	}
	if (sum != req.len)
		abort();
	if (req.type == VIRTIO_BLK_T_IN || req.type == VIRTIO_BLK_T_OUT) {
		uint64_t n = req.len / BLK_SECTOR_SIZE;

		if (req.len % BLK_SECTOR_SIZE || req.sector > lim->capacity ||
		    n > lim->capacity - req.sector)
			abort();
		if (req.type == VIRTIO_BLK_T_OUT && lim->read_only)
			abort();
	}
	for (unsigned i = 0; i < req.nranges; i++) {
		const struct blk_range *r = &req.ranges[i];

		if (r->sector > lim->capacity || r->num_sectors > lim->capacity - r->sector ||
		    lim->read_only)
			abort();
	}
	if (req.type == VIRTIO_BLK_T_GET_ID) {
		static const char id[VIRTIO_BLK_ID_BYTES] = "fuzz";

		blk_req_get_id(&req, id);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct blk_limits lim;
	struct params p;
	uint8_t *bufs[MAX_SEGS] = { 0 };
	unsigned nsegs;
	const uint8_t *end = data + size;
	uint8_t st;

	if (size < sizeof(p))
		return 0;
	memcpy(&p, data, sizeof(p));
	data += sizeof(p);
	lim = (struct blk_limits){
		.capacity = p.capacity,
		.read_only = p.flags & 2,
		.max_discard_sectors = p.max_sectors,
		.max_write_zeroes_sectors = p.max_sectors,
		.max_discard_seg = p.max_discard_seg,
		.max_write_zeroes_seg = p.max_write_zeroes_seg,
	};
	nsegs = p.nsegs % (MAX_SEGS + 1);
	if ((size_t)(end - data) < 2 * nsegs)
		return 0;
	chain = (struct virtq_chain){ .ok = p.flags & 1 };
	/* Segment table: [bit 15: device-writable | length] per segment. Readable ones come first.
	 */
	for (unsigned pass = 0; pass < 2; pass++) {
		for (unsigned i = 0; i < nsegs; i++) {
			uint16_t d = data[2 * i] | data[2 * i + 1] << 8;
			bool wr = d & 0x8000;
			size_t len = d & 0x7fff;

			if (wr != (pass == 1))
				continue;
			bufs[i] = calloc(1, len ? len : 1);
			if (!bufs[i])
				goto out;
			if (wr) {
				chain.in[chain.nin++] = (struct iovec){ bufs[i], len };
				chain.in_len += len;
			} else {
				chain.out[chain.nout++] = (struct iovec){ bufs[i], len };
				chain.out_len += len;
			}
		}
	}
	data += 2 * nsegs;
	/* The rest of the input fills the segments in order. */
	for (unsigned i = 0; i < chain.nout + chain.nin && data < end; i++) {
		struct iovec *v = i < chain.nout ? &chain.out[i] : &chain.in[i - chain.nout];
		size_t n = (size_t)(end - data) < v->iov_len ? (size_t)(end - data) : v->iov_len;

		memcpy(v->iov_base, data, n);
		data += n;
	}
	st = blk_req_parse(&chain, &lim, &req);
	if (req.status && !inside_a_segment(req.status, 1))
		abort();
	if (st == VIRTIO_BLK_S_OK) {
		if (!chain.ok || !req.status)
			abort();
		check_request(&lim);
	}
	if (req.status)
		*req.status = st;
out:
	for (unsigned i = 0; i < MAX_SEGS; i++)
		free(bufs[i]);
	return 0;
}
