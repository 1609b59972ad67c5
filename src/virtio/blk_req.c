#define _DEFAULT_SOURCE
#include "virtio/blk_req.h"

#include <endian.h>
#include <stddef.h>
#include <string.h>

/* The spec puts the status in the chain's last device-writable byte. */
static uint8_t *last_writable_byte(const struct virtq_chain *c)
{
	for (unsigned i = c->nin; i-- > 0;) {
		if (c->in[i].iov_len)
			return (uint8_t *)c->in[i].iov_base + c->in[i].iov_len - 1;
	}
	return NULL;
}

static bool range_ok(const struct blk_limits *lim, uint64_t sector, uint64_t nsectors)
{
	/* Written so that nothing can overflow. */
	return sector <= lim->capacity && nsectors <= lim->capacity - sector;
}

/* Requests that carry no data beyond the header and the status byte. */
static bool bare(const struct virtq_chain *c)
{
	return c->out_len == BLK_HDR_SIZE && c->in_len == 1;
}

static uint8_t parse_rw(const struct virtq_chain *c, const struct blk_limits *lim,
			struct blk_req *r)
{
	if (r->type == VIRTIO_BLK_T_IN) {
		/* Data the device writes must sit in device-writable buffers, and vice versa. */
		if (c->out_len != BLK_HDR_SIZE)
			return VIRTIO_BLK_S_IOERR;
		r->len = c->in_len - 1;
		r->niov = iov_slice(c->in, c->nin, 0, r->len, r->iov, VIRTQ_MAX_SEGS);
	} else {
		if (lim->read_only || c->in_len != 1)
			return VIRTIO_BLK_S_IOERR;
		r->len = c->out_len - BLK_HDR_SIZE;
		r->niov = iov_slice(c->out, c->nout, BLK_HDR_SIZE, r->len, r->iov, VIRTQ_MAX_SEGS);
	}
	if (r->len % BLK_SECTOR_SIZE || !range_ok(lim, r->sector, r->len >> BLK_SECTOR_SHIFT))
		return VIRTIO_BLK_S_IOERR;
	return VIRTIO_BLK_S_OK;
}

static uint8_t parse_get_id(const struct virtq_chain *c, struct blk_req *r)
{
	if (c->out_len != BLK_HDR_SIZE)
		return VIRTIO_BLK_S_IOERR;
	r->len = c->in_len - 1;
	r->niov = iov_slice(c->in, c->nin, 0, r->len, r->iov, VIRTQ_MAX_SEGS);
	return VIRTIO_BLK_S_OK;
}

/* Check one discard/write-zeroes range, copied out of guest memory first. */
static uint8_t parse_range(const struct virtq_chain *c, const struct blk_limits *lim, bool wz,
			   unsigned i, struct blk_range *out)
{
	uint32_t max = wz ? lim->max_write_zeroes_sectors : lim->max_discard_sectors;
	struct blk_range_wire e;
	uint32_t flags;

	iov_to_buf(c->out, c->nout, BLK_HDR_SIZE + (uint64_t)i * BLK_RANGE_SIZE, &e, sizeof(e));
	out->sector = le64toh(e.sector);
	out->num_sectors = le32toh(e.num_sectors);
	flags = le32toh(e.flags);
	out->unmap = flags & VIRTIO_BLK_WRITE_ZEROES_FLAG_UNMAP;
	/* The spec answers unknown flags, and unmap on a discard, with UNSUPP. */
	if ((flags & ~VIRTIO_BLK_WRITE_ZEROES_FLAG_UNMAP) || (!wz && out->unmap))
		return VIRTIO_BLK_S_UNSUPP;
	if (out->num_sectors > max || !range_ok(lim, out->sector, out->num_sectors))
		return VIRTIO_BLK_S_IOERR;
	return VIRTIO_BLK_S_OK;
}

static uint8_t parse_ranges(const struct virtq_chain *c, const struct blk_limits *lim,
			    struct blk_req *r)
{
	bool wz = r->type == VIRTIO_BLK_T_WRITE_ZEROES;
	uint64_t max = wz ? lim->max_write_zeroes_seg : lim->max_discard_seg;
	uint64_t n;

	if (lim->read_only)
		return VIRTIO_BLK_S_IOERR;
	/* Zero segments allowed: the feature was not offered or not negotiated. */
	if (!max)
		return VIRTIO_BLK_S_UNSUPP;
	if (max > BLK_MAX_RANGES)
		max = BLK_MAX_RANGES;
	n = (c->out_len - BLK_HDR_SIZE) / BLK_RANGE_SIZE;
	if (c->in_len != 1 || (c->out_len - BLK_HDR_SIZE) % BLK_RANGE_SIZE || n == 0 || n > max)
		return VIRTIO_BLK_S_IOERR;
	r->nranges = n;
	for (unsigned i = 0; i < r->nranges; i++) {
		uint8_t st = parse_range(c, lim, wz, i, &r->ranges[i]);

		if (st != VIRTIO_BLK_S_OK)
			return st;
	}
	return VIRTIO_BLK_S_OK;
}

uint8_t blk_req_parse(const struct virtq_chain *c, const struct blk_limits *lim, struct blk_req *r)
{
	struct blk_outhdr h;

	memset(r, 0, offsetof(struct blk_req, iov));
	r->nranges = 0;
	r->status = last_writable_byte(c);
	if (!c->ok || !r->status || c->out_len < BLK_HDR_SIZE)
		return VIRTIO_BLK_S_IOERR;
	iov_to_buf(c->out, c->nout, 0, &h, sizeof(h));
	r->type = le32toh(h.type);
	r->sector = le64toh(h.sector);
	switch (r->type) {
	case VIRTIO_BLK_T_IN:
	case VIRTIO_BLK_T_OUT:
		return parse_rw(c, lim, r);
	case VIRTIO_BLK_T_FLUSH:
		return bare(c) ? VIRTIO_BLK_S_OK : VIRTIO_BLK_S_IOERR;
	case VIRTIO_BLK_T_GET_ID:
		return parse_get_id(c, r);
	case VIRTIO_BLK_T_DISCARD:
	case VIRTIO_BLK_T_WRITE_ZEROES:
		return parse_ranges(c, lim, r);
	}
	return VIRTIO_BLK_S_UNSUPP;
}

uint32_t blk_req_get_id(const struct blk_req *r, const char id[VIRTIO_BLK_ID_BYTES])
{
	uint64_t n = r->len < VIRTIO_BLK_ID_BYTES ? r->len : VIRTIO_BLK_ID_BYTES;

	return buf_to_iov(r->iov, r->niov, 0, id, n);
}
