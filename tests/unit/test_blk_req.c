/* The virtio-blk request parser on good and hostile chains. */
#define _DEFAULT_SOURCE
#include <endian.h>
#include <stdint.h>
#include <string.h>

#include "check.h"
#include "virtio/blk_req.h"

#define CAP 1000 /* sectors */

static struct virtq_chain c;
static struct blk_req r;
static struct blk_limits lim;
static uint8_t hdr[16], data[8192], status, status2, rng[16 * 8];

static void reset(void)
{
	c.ok = true;
	c.why = NULL;
	c.nin = c.nout = 0;
	c.in_len = c.out_len = 0;
	lim = (struct blk_limits){ .capacity = CAP,
				   .max_discard_sectors = 64,
				   .max_discard_seg = 4,
				   .max_write_zeroes_sectors = 64,
				   .max_write_zeroes_seg = 1 };
	status = status2 = 0xee;
}

static void out(void *p, size_t len)
{
	c.out[c.nout++] = (struct iovec){ p, len };
	c.out_len += len;
}

static void in(void *p, size_t len)
{
	c.in[c.nin++] = (struct iovec){ p, len };
	c.in_len += len;
}

static void set_hdr(uint8_t *h, uint32_t type, uint64_t sector)
{
	struct blk_outhdr o = { htole32(type), 0, htole64(sector) };

	memcpy(h, &o, sizeof(o));
}

static void set_range(unsigned i, uint64_t sector, uint32_t n, uint32_t flags)
{
	struct blk_range_wire w = { htole64(sector), htole32(n), htole32(flags) };

	memcpy(rng + 16 * i, &w, sizeof(w));
}

/* A request laid out the way Linux does: header, data, status. */
static uint8_t req(uint32_t type, uint64_t sector, size_t len, bool data_writable)
{
	reset();
	set_hdr(hdr, type, sector);
	out(hdr, 16);
	if (len && !data_writable)
		out(data, len);
	if (len && data_writable)
		in(data, len);
	in(&status, 1);
	return blk_req_parse(&c, &lim, &r);
}

static uint8_t parse(void)
{
	return blk_req_parse(&c, &lim, &r);
}

#define EXPECT(expr, want, what)                                                                   \
	do {                                                                                       \
		uint8_t got_ = (expr);                                                             \
		CHECK(got_ == (want), "%s: status %u, want %u", what, got_, want);                 \
		printf("%s - %s\n", got_ == (want) ? "ok" : "not ok", what);                       \
	} while (0)

static void test_rw(void)
{
	EXPECT(req(VIRTIO_BLK_T_IN, 7, 1024, true), VIRTIO_BLK_S_OK, "read");
	CHECK(r.type == VIRTIO_BLK_T_IN && r.sector == 7 && r.len == 1024 && r.niov == 1 &&
		      r.iov[0].iov_base == data && r.status == &status,
	      "read fields");
	EXPECT(req(VIRTIO_BLK_T_OUT, 0, 512, false), VIRTIO_BLK_S_OK, "write");
	CHECK(r.len == 512 && r.niov == 1 && r.iov[0].iov_base == data, "write fields");
	EXPECT(req(VIRTIO_BLK_T_IN, CAP - 2, 1024, true), VIRTIO_BLK_S_OK,
	       "read of the last sectors");
	EXPECT(req(VIRTIO_BLK_T_IN, 0, 0, true), VIRTIO_BLK_S_OK, "empty read");

	/* Status in the same segment as the data, as any driver may lay it out. */
	reset();
	set_hdr(hdr, VIRTIO_BLK_T_IN, 1);
	out(hdr, 16);
	in(data, 513);
	EXPECT(parse(), VIRTIO_BLK_S_OK, "status sharing the data segment");
	CHECK(r.status == data + 512 && r.len == 512 && r.iov[0].iov_len == 512, "shared status");

	/* Header split over three segments, the data following in the last one. */
	reset();
	set_hdr(data, VIRTIO_BLK_T_OUT, 42);
	out(data, 5);
	out(data + 5, 0);
	out(data + 5, 11 + 1024);
	in(&status, 1);
	EXPECT(parse(), VIRTIO_BLK_S_OK, "header split across segments");
	CHECK(r.sector == 42 && r.niov == 1 && r.iov[0].iov_base == data + 16 &&
		      r.iov[0].iov_len == 1024,
	      "split header fields");

	/* Trailing empty writable segments do not hide the status byte. */
	reset();
	set_hdr(hdr, VIRTIO_BLK_T_FLUSH, 0);
	out(hdr, 16);
	in(&status, 1);
	in(&status2, 0);
	EXPECT(parse(), VIRTIO_BLK_S_OK, "empty segment after the status");
	CHECK(r.status == &status, "status byte located");
}

static void test_bad_rw(void)
{
	reset();
	set_hdr(hdr, VIRTIO_BLK_T_IN, 0);
	out(hdr, 15);
	in(&status, 1);
	EXPECT(parse(), VIRTIO_BLK_S_IOERR, "short header");
	CHECK(r.status == &status, "short header: status located");

	reset();
	set_hdr(hdr, VIRTIO_BLK_T_IN, 0);
	out(hdr, 16);
	out(data, 512);
	EXPECT(parse(), VIRTIO_BLK_S_IOERR, "no status byte");
	CHECK(r.status == NULL, "no status byte: status pointer set");

	reset();
	set_hdr(hdr, VIRTIO_BLK_T_IN, 0);
	out(hdr, 16);
	in(&status, 0);
	EXPECT(parse(), VIRTIO_BLK_S_IOERR, "empty status segment");
	CHECK(r.status == NULL, "empty status segment: status pointer set");

	EXPECT(req(VIRTIO_BLK_T_IN, 0, 512, false), VIRTIO_BLK_S_IOERR,
	       "read into readable buffer");
	EXPECT(req(VIRTIO_BLK_T_OUT, 0, 512, true), VIRTIO_BLK_S_IOERR,
	       "write from writable buffer");
	EXPECT(req(VIRTIO_BLK_T_IN, 0, 100, true), VIRTIO_BLK_S_IOERR, "read of 100 bytes");
	EXPECT(req(VIRTIO_BLK_T_OUT, 0, 513, false), VIRTIO_BLK_S_IOERR, "write of 513 bytes");
	EXPECT(req(VIRTIO_BLK_T_IN, CAP, 512, true), VIRTIO_BLK_S_IOERR, "read at capacity");
	EXPECT(req(VIRTIO_BLK_T_IN, CAP - 1, 1024, true), VIRTIO_BLK_S_IOERR,
	       "read across the end");
	EXPECT(req(VIRTIO_BLK_T_OUT, UINT64_MAX, 512, false), VIRTIO_BLK_S_IOERR,
	       "sector UINT64_MAX");
	EXPECT(req(VIRTIO_BLK_T_OUT, CAP + 1, 0, false), VIRTIO_BLK_S_IOERR,
	       "empty write past the end");

	/* A capacity so large that sector * 512 would overflow 64 bits. */
	reset();
	lim.capacity = UINT64_MAX >> 9;
	set_hdr(hdr, VIRTIO_BLK_T_IN, (UINT64_MAX >> 9) - 1);
	out(hdr, 16);
	in(data, 1024);
	in(&status, 1);
	EXPECT(parse(), VIRTIO_BLK_S_IOERR, "sector + length overflow");

	reset();
	set_hdr(hdr, VIRTIO_BLK_T_OUT, 0);
	out(hdr, 16);
	out(data, 512);
	in(&status, 1);
	c.ok = false;
	c.why = "test";
	EXPECT(parse(), VIRTIO_BLK_S_IOERR, "malformed chain");
	CHECK(r.status == &status, "malformed chain: status located");

	EXPECT(req(2, 0, 0, true), VIRTIO_BLK_S_UNSUPP, "SCSI command");
	CHECK(r.status == &status, "unsupported: status located");
	EXPECT(req(0x80000000u, 0, 0, true), VIRTIO_BLK_S_UNSUPP, "legacy barrier");
	EXPECT(req(VIRTIO_BLK_T_IN | 0x100, 0, 0, true), VIRTIO_BLK_S_UNSUPP, "unknown type");

	EXPECT(req(VIRTIO_BLK_T_FLUSH, 0, 0, true), VIRTIO_BLK_S_OK, "flush");
	EXPECT(req(VIRTIO_BLK_T_FLUSH, 0, 512, false), VIRTIO_BLK_S_IOERR, "flush with data");
}

static void test_read_only(void)
{
	reset();
	lim.read_only = true;
	set_hdr(hdr, VIRTIO_BLK_T_OUT, 0);
	out(hdr, 16);
	out(data, 512);
	in(&status, 1);
	EXPECT(parse(), VIRTIO_BLK_S_IOERR, "write to a read-only disk");

	reset();
	lim.read_only = true;
	set_hdr(hdr, VIRTIO_BLK_T_DISCARD, 0);
	set_range(0, 0, 8, 0);
	out(hdr, 16);
	out(rng, 16);
	in(&status, 1);
	EXPECT(parse(), VIRTIO_BLK_S_IOERR, "discard on a read-only disk");

	reset();
	lim.read_only = true;
	set_hdr(hdr, VIRTIO_BLK_T_IN, 0);
	out(hdr, 16);
	in(data, 512);
	in(&status, 1);
	EXPECT(parse(), VIRTIO_BLK_S_OK, "read from a read-only disk");

	/* OVMF flushes read-only disks; refusing that breaks its boot. */
	reset();
	lim.read_only = true;
	set_hdr(hdr, VIRTIO_BLK_T_FLUSH, 0);
	out(hdr, 16);
	in(&status, 1);
	EXPECT(parse(), VIRTIO_BLK_S_OK, "flush of a read-only disk");
}

static void test_get_id(void)
{
	static const char id[VIRTIO_BLK_ID_BYTES] = "serial-1";

	memset(data, 0xaa, 32);
	EXPECT(req(VIRTIO_BLK_T_GET_ID, 0, 20, true), VIRTIO_BLK_S_OK, "GET_ID");
	CHECK(blk_req_get_id(&r, id) == 20, "GET_ID length");
	CHECK(!memcmp(data, id, 20) && data[20] == 0xaa, "GET_ID contents");

	memset(data, 0xaa, 32);
	EXPECT(req(VIRTIO_BLK_T_GET_ID, 0, 4, true), VIRTIO_BLK_S_OK, "GET_ID short buffer");
	CHECK(blk_req_get_id(&r, id) == 4 && !memcmp(data, "seri", 4) && data[4] == 0xaa,
	      "GET_ID short buffer contents");

	EXPECT(req(VIRTIO_BLK_T_GET_ID, 0, 64, true), VIRTIO_BLK_S_OK, "GET_ID long buffer");
	CHECK(blk_req_get_id(&r, id) == 20, "GET_ID writes at most 20 bytes");

	EXPECT(req(VIRTIO_BLK_T_GET_ID, 0, 20, false), VIRTIO_BLK_S_IOERR,
	       "GET_ID readable buffer");
}

static uint8_t ranges(uint32_t type, unsigned n)
{
	reset();
	set_hdr(hdr, type, 0);
	out(hdr, 16);
	out(rng, 16 * n);
	in(&status, 1);
	return parse();
}

static void test_ranges(void)
{
	set_range(0, 0, 8, 0);
	set_range(1, CAP - 64, 64, 0);
	EXPECT(ranges(VIRTIO_BLK_T_DISCARD, 2), VIRTIO_BLK_S_OK, "discard of two ranges");
	CHECK(r.nranges == 2 && r.ranges[1].sector == CAP - 64 && r.ranges[1].num_sectors == 64 &&
		      !r.ranges[1].unmap,
	      "discard fields");

	/* The range array split across segments, mid-entry. */
	reset();
	set_hdr(hdr, VIRTIO_BLK_T_DISCARD, 0);
	out(hdr, 16);
	out(rng, 20);
	out(rng + 20, 12);
	in(&status, 1);
	EXPECT(parse(), VIRTIO_BLK_S_OK, "discard ranges split across segments");
	CHECK(r.nranges == 2 && r.ranges[1].sector == CAP - 64, "split range fields");

	set_range(0, 0, 8, VIRTIO_BLK_WRITE_ZEROES_FLAG_UNMAP);
	EXPECT(ranges(VIRTIO_BLK_T_DISCARD, 1), VIRTIO_BLK_S_UNSUPP, "discard with unmap");
	EXPECT(ranges(VIRTIO_BLK_T_WRITE_ZEROES, 1), VIRTIO_BLK_S_OK, "write zeroes with unmap");
	CHECK(r.nranges == 1 && r.ranges[0].unmap, "unmap flag");
	set_range(0, 0, 8, 2);
	EXPECT(ranges(VIRTIO_BLK_T_WRITE_ZEROES, 1), VIRTIO_BLK_S_UNSUPP, "reserved range flag");
	set_range(0, 0, 65, 0);
	EXPECT(ranges(VIRTIO_BLK_T_DISCARD, 1), VIRTIO_BLK_S_IOERR, "range above max sectors");
	set_range(0, CAP - 4, 8, 0);
	EXPECT(ranges(VIRTIO_BLK_T_DISCARD, 1), VIRTIO_BLK_S_IOERR, "range across the end");
	set_range(0, UINT64_MAX - 2, 8, 0);
	EXPECT(ranges(VIRTIO_BLK_T_WRITE_ZEROES, 1), VIRTIO_BLK_S_IOERR, "range sector overflow");
	set_range(0, 0, 8, 0);
	set_range(1, 8, 8, 0);
	EXPECT(ranges(VIRTIO_BLK_T_WRITE_ZEROES, 2), VIRTIO_BLK_S_IOERR,
	       "more ranges than max_seg");
	for (unsigned i = 0; i < 8; i++)
		set_range(i, i, 1, 0);
	EXPECT(ranges(VIRTIO_BLK_T_DISCARD, 5), VIRTIO_BLK_S_IOERR, "5 discard ranges, max 4");
	EXPECT(ranges(VIRTIO_BLK_T_DISCARD, 0), VIRTIO_BLK_S_IOERR, "discard without ranges");

	reset();
	set_hdr(hdr, VIRTIO_BLK_T_DISCARD, 0);
	out(hdr, 16);
	out(rng, 24);
	in(&status, 1);
	EXPECT(parse(), VIRTIO_BLK_S_IOERR, "range array not a multiple of 16");

	reset();
	set_hdr(hdr, VIRTIO_BLK_T_DISCARD, 0);
	out(hdr, 16);
	in(rng, 16);
	in(&status, 1);
	EXPECT(parse(), VIRTIO_BLK_S_IOERR, "ranges in a writable buffer");

	reset();
	lim.max_discard_seg = 0;
	set_hdr(hdr, VIRTIO_BLK_T_DISCARD, 0);
	out(hdr, 16);
	out(rng, 16);
	in(&status, 1);
	EXPECT(parse(), VIRTIO_BLK_S_UNSUPP, "discard not negotiated");
}

int main(void)
{
	test_rw();
	test_bad_rw();
	test_read_only();
	test_get_id();
	test_ranges();
	return check_summary();
}
