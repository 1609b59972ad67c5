/* The split-virtqueue walker on hostile rings: bad chains are refused, nothing escapes RAM. */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "virtio/queue.h"

#define MEM_SIZE (1u << 20)
#define QSZ	 16
#define DESC	 0x1000ULL
#define AVAIL	 0x2000ULL
#define USED	 0x3000ULL
#define TABLE	 0x8000ULL /* an indirect table */
#define DATA	 0x10000ULL

struct desc {
	uint64_t addr;
	uint32_t len;
	uint16_t flags, next;
};

static uint8_t *mem;
static struct guest_mem gm;
static struct virtq q;
static struct virtq_chain c;

static void setup(bool indirect, bool event_idx)
{
	memset(mem, 0, MEM_SIZE);
	virtq_reset(&q, &gm, QSZ);
	q.desc_gpa = DESC;
	q.avail_gpa = AVAIL;
	q.used_gpa = USED;
	q.indirect = indirect;
	q.event_idx = event_idx;
	if (virtq_enable(&q))
		CHECK(0, "virtq_enable refused a good ring");
}

static void set_desc(uint64_t table, unsigned i, uint64_t addr, uint32_t len, uint16_t flags,
		     uint16_t next)
{
	struct desc d = { addr, len, flags, next };

	memcpy(mem + table + 16 * i, &d, sizeof(d));
}

static uint16_t *u16_at(uint64_t gpa)
{
	return (uint16_t *)(mem + gpa);
}

static void publish(uint16_t head)
{
	uint16_t idx = *u16_at(AVAIL + 2);

	*u16_at(AVAIL + 4 + 2 * (idx % QSZ)) = head;
	*u16_at(AVAIL + 2) = idx + 1;
}

/* Publish head, pop it, and expect a malformed chain. */
static void expect_bad(uint16_t head, const char *what)
{
	int ret;

	publish(head);
	ret = virtq_pop(&q, &c);
	CHECK(ret == 1 && !c.ok, "%s: accepted (ret %d ok %d)", what, ret, c.ok);
	printf("ok - refused %s (%s)\n", what, c.why ? c.why : "?");
}

static void test_good_direct(void)
{
	setup(false, false);
	set_desc(DESC, 0, DATA, 16, VIRTQ_DESC_F_NEXT, 3);
	set_desc(DESC, 3, DATA + 0x100, 512, VIRTQ_DESC_F_NEXT, 7);
	set_desc(DESC, 7, DATA + 0x1000, 1, VIRTQ_DESC_F_WRITE, 0);
	publish(0);
	CHECK(virtq_pop(&q, &c) == 1, "pop");
	CHECK(c.ok, "good chain refused: %s", c.why);
	CHECK(c.head == 0 && c.nout == 2 && c.nin == 1, "shape %u/%u", c.nout, c.nin);
	CHECK(c.out[0].iov_base == mem + DATA && c.out[0].iov_len == 16, "out[0]");
	CHECK(c.out[1].iov_base == mem + DATA + 0x100 && c.out[1].iov_len == 512, "out[1]");
	CHECK(c.in[0].iov_base == mem + DATA + 0x1000 && c.in[0].iov_len == 1, "in[0]");
	CHECK(c.out_len == 528 && c.in_len == 1, "lengths");
	CHECK(virtq_pop(&q, &c) == 0, "empty ring pops nothing");
	printf("ok - direct chain\n");
}

static void test_good_indirect(void)
{
	setup(true, false);
	set_desc(TABLE, 0, DATA, 16, VIRTQ_DESC_F_NEXT, 2);
	set_desc(TABLE, 2, DATA + 0x200, 4096, VIRTQ_DESC_F_NEXT | VIRTQ_DESC_F_WRITE, 1);
	set_desc(TABLE, 1, DATA + 0x2000, 1, VIRTQ_DESC_F_WRITE, 0);
	set_desc(DESC, 5, TABLE, 3 * 16, VIRTQ_DESC_F_INDIRECT, 0);
	publish(5);
	CHECK(virtq_pop(&q, &c) == 1 && c.ok, "indirect chain refused: %s", c.why);
	CHECK(c.head == 5 && c.nout == 1 && c.nin == 2, "shape %u/%u", c.nout, c.nin);
	CHECK(c.in[0].iov_base == mem + DATA + 0x200 && c.in[0].iov_len == 4096, "in[0]");
	CHECK(c.in[1].iov_base == mem + DATA + 0x2000, "in[1]");
	/* A direct prefix followed by an indirect table is legal too. */
	set_desc(DESC, 1, DATA, 16, VIRTQ_DESC_F_NEXT, 2);
	set_desc(DESC, 2, TABLE + 16, 16, VIRTQ_DESC_F_INDIRECT, 0);
	publish(1);
	CHECK(virtq_pop(&q, &c) == 1 && c.ok && c.nout == 1 && c.nin == 1, "prefix + indirect");
	printf("ok - indirect chains\n");
}

static void test_bad_direct(void)
{
	setup(true, false);
	set_desc(DESC, 0, DATA, 16, VIRTQ_DESC_F_NEXT, 1);
	set_desc(DESC, 1, DATA, 16, VIRTQ_DESC_F_NEXT, 0);
	expect_bad(0, "descriptor loop");

	set_desc(DESC, 0, DATA, 16, VIRTQ_DESC_F_NEXT, 0);
	expect_bad(0, "self loop");

	set_desc(DESC, 0, DATA, 16, VIRTQ_DESC_F_NEXT, QSZ);
	expect_bad(0, "next index out of range");

	set_desc(DESC, 0, MEM_SIZE - 8, 16, 0, 0);
	expect_bad(0, "segment running past RAM");

	set_desc(DESC, 0, MEM_SIZE, 1, 0, 0);
	expect_bad(0, "segment just past RAM");

	set_desc(DESC, 0, UINT64_MAX - 4, 16, 0, 0);
	expect_bad(0, "address + length overflow");

	set_desc(DESC, 0, UINT64_MAX, 0, 0, 0);
	expect_bad(0, "empty segment at UINT64_MAX");

	set_desc(DESC, 0, DATA, 0xffffffff, 0, 0);
	expect_bad(0, "4 GiB segment");

	set_desc(DESC, 0, DATA, 1, VIRTQ_DESC_F_WRITE | VIRTQ_DESC_F_NEXT, 1);
	set_desc(DESC, 1, DATA, 16, 0, 0);
	expect_bad(0, "readable after writable");

	/* A good segment before the bad one must not hide it. */
	set_desc(DESC, 0, DATA, 16, VIRTQ_DESC_F_NEXT, 1);
	set_desc(DESC, 1, UINT64_MAX - 100, 200, VIRTQ_DESC_F_WRITE, 0);
	expect_bad(0, "bad second segment");
}

static void test_bad_indirect(void)
{
	setup(true, false);
	set_desc(TABLE, 0, DATA, 16, 0, 0);

	set_desc(DESC, 0, TABLE, 0, VIRTQ_DESC_F_INDIRECT, 0);
	expect_bad(0, "empty indirect table");

	set_desc(DESC, 0, TABLE, 17, VIRTQ_DESC_F_INDIRECT, 0);
	expect_bad(0, "indirect length not a multiple of 16");

	set_desc(DESC, 0, TABLE, 16 * (VIRTQ_MAX_SEGS + 1), VIRTQ_DESC_F_INDIRECT, 0);
	expect_bad(0, "oversized indirect table");

	set_desc(DESC, 0, MEM_SIZE - 16, 32, VIRTQ_DESC_F_INDIRECT, 0);
	expect_bad(0, "indirect table past RAM");

	set_desc(DESC, 0, UINT64_MAX - 15, 32, VIRTQ_DESC_F_INDIRECT, 0);
	expect_bad(0, "indirect table address overflow");

	set_desc(DESC, 0, TABLE, 16, VIRTQ_DESC_F_INDIRECT | VIRTQ_DESC_F_NEXT, 1);
	set_desc(DESC, 1, DATA, 1, VIRTQ_DESC_F_WRITE, 0);
	expect_bad(0, "indirect with NEXT");

	set_desc(TABLE, 0, TABLE + 64, 16, VIRTQ_DESC_F_INDIRECT, 0);
	set_desc(DESC, 0, TABLE, 16, VIRTQ_DESC_F_INDIRECT, 0);
	expect_bad(0, "nested indirect");

	set_desc(TABLE, 0, DATA, 16, VIRTQ_DESC_F_NEXT, 1);
	set_desc(TABLE, 1, DATA, 16, VIRTQ_DESC_F_NEXT, 0);
	set_desc(DESC, 0, TABLE, 32, VIRTQ_DESC_F_INDIRECT, 0);
	expect_bad(0, "loop in indirect table");

	set_desc(TABLE, 1, DATA, 16, VIRTQ_DESC_F_NEXT, 2);
	expect_bad(0, "indirect next out of range");

	set_desc(TABLE, 0, DATA, 1, VIRTQ_DESC_F_WRITE | VIRTQ_DESC_F_NEXT, 1);
	set_desc(TABLE, 1, DATA, 16, 0, 0);
	expect_bad(0, "indirect readable after writable");

	q.indirect = false;
	set_desc(TABLE, 0, DATA, 16, 0, 0);
	set_desc(DESC, 0, TABLE, 16, VIRTQ_DESC_F_INDIRECT, 0);
	expect_bad(0, "indirect not negotiated");
}

/* More segments than VIRTQ_MAX_SEGS, built from a full direct chain plus a full indirect table. */
static void test_oversized(void)
{
	setup(true, false);
	for (unsigned i = 0; i < QSZ - 1; i++)
		set_desc(DESC, i, DATA, 8, VIRTQ_DESC_F_NEXT, i + 1);
	set_desc(DESC, QSZ - 1, TABLE, 16 * VIRTQ_MAX_SEGS, VIRTQ_DESC_F_INDIRECT, 0);
	for (unsigned i = 0; i < VIRTQ_MAX_SEGS; i++)
		set_desc(TABLE, i, DATA, 8, i + 1 < VIRTQ_MAX_SEGS ? VIRTQ_DESC_F_NEXT : 0, i + 1);
	expect_bad(0, "more than VIRTQ_MAX_SEGS segments");
	CHECK(c.nout <= VIRTQ_MAX_SEGS, "segment array overrun: %u", c.nout);

	/* Exactly VIRTQ_MAX_SEGS in one table is fine. */
	set_desc(DESC, 0, TABLE, 16 * VIRTQ_MAX_SEGS, VIRTQ_DESC_F_INDIRECT, 0);
	publish(0);
	CHECK(virtq_pop(&q, &c) == 1 && c.ok && c.nout == VIRTQ_MAX_SEGS, "full table: %s", c.why);
	printf("ok - segment limit\n");
}

static void test_ring_corruption(void)
{
	setup(false, false);
	set_desc(DESC, 0, DATA, 16, 0, 0);
	*u16_at(AVAIL + 2) = QSZ + 1;
	CHECK(virtq_pop(&q, &c) == -EIO, "avail idx jumping past the ring size");
	CHECK(q.broken, "queue not marked broken");
	CHECK(virtq_pop(&q, &c) == 0, "broken queue still pops");
	CHECK(!virtq_enable_notify(&q), "broken queue asks to be polled");

	setup(false, false);
	*u16_at(AVAIL + 4) = QSZ;
	*u16_at(AVAIL + 2) = 1;
	CHECK(virtq_pop(&q, &c) == -EIO, "head out of range");
	CHECK(virtq_pop(&q, &c) == 0, "broken queue still pops");

	/* Exactly a full ring is legal, and avail idx wraps at 16 bits. */
	setup(false, false);
	set_desc(DESC, 0, DATA, 16, 0, 0);
	q.last_avail = 0xfff8;
	*u16_at(AVAIL + 2) = (uint16_t)(0xfff8 + QSZ);
	for (int i = 0; i < QSZ; i++)
		CHECK(virtq_pop(&q, &c) == 1 && c.ok, "wrapped pop %d", i);
	CHECK(virtq_pop(&q, &c) == 0, "ring drained");
	printf("ok - ring corruption and wrap\n");
}

static void test_enable(void)
{
	virtq_reset(&q, &gm, QSZ);
	q.desc_gpa = DESC;
	q.avail_gpa = AVAIL;
	q.used_gpa = USED;
	q.size = 3;
	CHECK(virtq_enable(&q) == -EINVAL, "size not a power of two");
	q.size = 0;
	CHECK(virtq_enable(&q) == -EINVAL, "size 0");
	q.size = QSZ * 2;
	CHECK(virtq_enable(&q) == -EINVAL, "size above max");
	q.size = QSZ;
	q.desc_gpa = DESC + 8;
	CHECK(virtq_enable(&q) == -EINVAL, "misaligned descriptor table");
	q.desc_gpa = MEM_SIZE - 16;
	CHECK(virtq_enable(&q) == -EINVAL, "descriptor table past RAM");
	q.desc_gpa = DESC;
	q.used_gpa = UINT64_MAX - 3;
	CHECK(virtq_enable(&q) == -EINVAL, "used ring address overflow");
	q.used_gpa = USED;
	CHECK(virtq_enable(&q) == 0 && q.ready, "good layout");
	printf("ok - ring layout checks\n");
}

static void test_used_ring(void)
{
	uint32_t e[2];

	setup(false, false);
	for (unsigned i = 0; i < QSZ + 2; i++)
		virtq_push(&q, i % QSZ, 100 + i);
	CHECK(*u16_at(USED + 2) == QSZ + 2, "used idx %u", *u16_at(USED + 2));
	memcpy(e, mem + USED + 4 + 8 * 1, sizeof(e));
	CHECK(e[0] == 1 && e[1] == 101 + QSZ, "wrapped element %u/%u", e[0], e[1]);
	memcpy(e, mem + USED + 4 + 8 * 2, sizeof(e));
	CHECK(e[0] == 2 && e[1] == 102, "element %u/%u", e[0], e[1]);

	/* Without EVENT_IDX only the NO_INTERRUPT flag counts. */
	CHECK(virtq_should_notify(&q), "notify by default");
	*u16_at(AVAIL) = VIRTQ_AVAIL_F_NO_INTERRUPT;
	CHECK(!virtq_should_notify(&q), "NO_INTERRUPT ignored");
	printf("ok - used ring\n");
}

static void test_event_idx(void)
{
	uint16_t *used_event = u16_at(AVAIL + 4 + 2 * QSZ);
	uint16_t *avail_event = u16_at(USED + 4 + 8 * QSZ);

	setup(false, true);
	*u16_at(AVAIL) = VIRTQ_AVAIL_F_NO_INTERRUPT; /* ignored under EVENT_IDX */
	virtq_push(&q, 0, 1);
	CHECK(virtq_should_notify(&q), "first notification always goes out");
	/* The driver wants an interrupt once used idx passes 2 (i.e. entry 2 is used). */
	*used_event = 2;
	virtq_push(&q, 0, 1); /* used idx 2 */
	CHECK(!virtq_should_notify(&q), "notified before used_event was crossed");
	virtq_push(&q, 0, 1); /* used idx 3: crosses event 2 */
	CHECK(virtq_should_notify(&q), "no notification when used_event was crossed");
	virtq_push(&q, 0, 1);
	CHECK(!virtq_should_notify(&q), "notified twice for one event");
	/* Several pushes between checks: crossing inside the batch still notifies. */
	*used_event = 5;
	virtq_push(&q, 0, 1);
	virtq_push(&q, 0, 1);
	virtq_push(&q, 0, 1); /* 4 -> 7 crosses 5 */
	CHECK(virtq_should_notify(&q), "batch crossing used_event");
	/* Wrap-around at 16 bits. */
	q.used_idx = 0xfffe;
	q.signalled_used = 0xfffe;
	*used_event = 0xffff;
	virtq_push(&q, 0, 1);
	virtq_push(&q, 0, 1); /* 0xfffe -> 0x0000 crosses 0xffff */
	CHECK(virtq_should_notify(&q), "wrapped crossing");

	/* enable_notify publishes avail_event and reports buffers that raced in. */
	setup(false, true);
	set_desc(DESC, 0, DATA, 16, 0, 0);
	publish(0);
	CHECK(virtq_pop(&q, &c) == 1, "pop");
	CHECK(!virtq_enable_notify(&q), "nothing new, but asked to pop again");
	CHECK(*avail_event == 1, "avail_event %u, want 1", *avail_event);
	publish(0);
	CHECK(virtq_enable_notify(&q), "missed a buffer that arrived before sleeping");

	/* Without EVENT_IDX, enable_notify clears NO_NOTIFY in the used flags. */
	setup(false, false);
	*u16_at(USED) = VIRTQ_USED_F_NO_NOTIFY;
	CHECK(!virtq_enable_notify(&q), "empty ring");
	CHECK(*u16_at(USED) == 0, "NO_NOTIFY left set");
	printf("ok - EVENT_IDX decisions\n");
}

static void test_iov_copy(void)
{
	uint8_t a[3] = { 1, 2, 3 }, b[5] = { 4, 5, 6, 7, 8 }, out[8];
	struct iovec iov[2] = { { a, 3 }, { b, 5 } };

	CHECK(iov_to_buf(iov, 2, 2, out, 4) == 4 && !memcmp(out, "\3\4\5\6", 4), "iov_to_buf skip");
	CHECK(iov_to_buf(iov, 2, 6, out, 8) == 2, "iov_to_buf stops at the end");
	CHECK(iov_to_buf(iov, 2, 100, out, 8) == 0, "iov_to_buf skip past the end");
	CHECK(buf_to_iov(iov, 2, 1, "xyz", 3) == 3 && a[1] == 'x' && b[0] == 'z', "buf_to_iov");
	printf("ok - iovec copies\n");
}

int main(void)
{
	mem = calloc(1, MEM_SIZE);
	if (!mem)
		return 1;
	guest_mem_init_flat(&gm, mem, MEM_SIZE);
	test_enable();
	test_good_direct();
	test_good_indirect();
	test_bad_direct();
	test_bad_indirect();
	test_oversized();
	test_ring_corruption();
	test_used_ring();
	test_event_idx();
	test_iov_copy();
	free(mem);
	return check_summary();
}
