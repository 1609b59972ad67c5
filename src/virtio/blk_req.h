/*
 * virtio-blk request parsing: pure, no I/O, no locks (fuzzed by tests/fuzz/fuzz_blk_req.c).
 *
 * blk_req_parse() turns a popped descriptor chain into a request whose every
 * guest-supplied field has been checked against the device limits: the header
 * and the discard/write-zeroes ranges are copied out of guest memory once, so
 * a guest rewriting them while the request runs changes nothing.
 */
#ifndef KILN_VIRTIO_BLK_REQ_H
#define KILN_VIRTIO_BLK_REQ_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

#include "virtio/queue.h"

/*
 * Wire format from the virtio 1.2 spec (5.2), as in Linux's uapi virtio_blk.h.
 * That header is not included: it drags in virtio_ids.h, whose macros clash
 * with enum virtio_id in mmio.h. All fields are little-endian.
 */
#define VIRTIO_BLK_F_SEG_MAX	  2
#define VIRTIO_BLK_F_RO		  5
#define VIRTIO_BLK_F_BLK_SIZE	  6
#define VIRTIO_BLK_F_FLUSH	  9
#define VIRTIO_BLK_F_DISCARD	  13
#define VIRTIO_BLK_F_WRITE_ZEROES 14

#define VIRTIO_BLK_T_IN		  0
#define VIRTIO_BLK_T_OUT	  1
#define VIRTIO_BLK_T_FLUSH	  4
#define VIRTIO_BLK_T_GET_ID	  8
#define VIRTIO_BLK_T_DISCARD	  11
#define VIRTIO_BLK_T_WRITE_ZEROES 13

#define VIRTIO_BLK_S_OK	    0
#define VIRTIO_BLK_S_IOERR  1
#define VIRTIO_BLK_S_UNSUPP 2

#define VIRTIO_BLK_ID_BYTES		   20
#define VIRTIO_BLK_WRITE_ZEROES_FLAG_UNMAP 1

struct blk_outhdr {
	uint32_t type;
	uint32_t ioprio;
	uint64_t sector;
};

struct blk_range_wire {
	uint64_t sector;
	uint32_t num_sectors;
	uint32_t flags;
};

struct blk_config_space {
	uint64_t capacity; /* 512-byte sectors */
	uint32_t size_max;
	uint32_t seg_max;
	uint16_t cylinders;
	uint8_t heads, sectors;
	uint32_t blk_size;
	uint8_t physical_block_exp, alignment_offset;
	uint16_t min_io_size;
	uint32_t opt_io_size;
	uint8_t wce, unused;
	uint16_t num_queues;
	uint32_t max_discard_sectors, max_discard_seg, discard_sector_alignment;
	uint32_t max_write_zeroes_sectors, max_write_zeroes_seg;
	uint8_t write_zeroes_may_unmap;
	uint8_t unused1[3];
} __attribute__((packed));

_Static_assert(sizeof(struct blk_outhdr) == 16, "virtio-blk header layout");
_Static_assert(sizeof(struct blk_range_wire) == 16, "virtio-blk range layout");
_Static_assert(offsetof(struct blk_config_space, blk_size) == 20 &&
		       offsetof(struct blk_config_space, max_discard_sectors) == 36 &&
		       offsetof(struct blk_config_space, write_zeroes_may_unmap) == 56,
	       "virtio-blk config layout");

#define BLK_SECTOR_SHIFT 9
#define BLK_SECTOR_SIZE	 (1u << BLK_SECTOR_SHIFT)
#define BLK_HDR_SIZE	 sizeof(struct blk_outhdr)
#define BLK_RANGE_SIZE	 sizeof(struct blk_range_wire)

/* Most ranges one discard or write-zeroes request may carry (what the device advertises). */
#define BLK_MAX_RANGES 16

/* What the device promised the driver; the parser holds requests to it. */
struct blk_limits {
	uint64_t capacity; /* sectors */
	bool read_only;
	uint32_t max_discard_sectors, max_discard_seg;
	uint32_t max_write_zeroes_sectors, max_write_zeroes_seg;
};

struct blk_range {
	uint64_t sector;
	uint32_t num_sectors;
	bool unmap;
};

struct blk_req {
	uint32_t type; /* VIRTIO_BLK_T_* */
	uint64_t sector;
	/* IN and GET_ID: device-writable data; OUT: device-readable data. */
	unsigned niov;
	uint64_t len;
	struct iovec iov[VIRTQ_MAX_SEGS];
	/* DISCARD and WRITE_ZEROES. */
	unsigned nranges;
	struct blk_range ranges[BLK_MAX_RANGES];
	/* The last device-writable byte of the chain, or NULL when it has none. */
	uint8_t *status;
};

/*
 * Returns VIRTIO_BLK_S_OK when r is a valid request to carry out, otherwise the
 * status to complete it with (VIRTIO_BLK_S_IOERR or VIRTIO_BLK_S_UNSUPP). In
 * every case r->status is set, so the caller can report the outcome.
 */
uint8_t blk_req_parse(const struct virtq_chain *c, const struct blk_limits *lim, struct blk_req *r);

/* Answer GET_ID: copy the (NUL-padded) id into the request's buffer; returns bytes written. */
uint32_t blk_req_get_id(const struct blk_req *r, const char id[VIRTIO_BLK_ID_BYTES]);

#endif
