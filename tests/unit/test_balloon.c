/*
 * guest_mem_discard and virtio-balloon's requests: only whole pages of guest
 * RAM are given back, they read as zeros afterwards and leave the RSS, and a
 * bad range fails its request without touching anything else.
 */
#include <endian.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "virtio/balloon.h"

#define MIB (1ULL << 20)
#define PG  GUEST_PAGE_SIZE

struct desc {
	uint64_t addr;
	uint32_t len;
	uint16_t flags, next;
};

/* kiln's resident memory in KiB (VmRSS counts the memfd pages we have mapped). */
static long rss_kb(void)
{
	char line[256];
	long kb = -1;
	FILE *f = fopen("/proc/self/status", "r");

	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "VmRSS: %ld kB", &kb) == 1)
			break;
	fclose(f);
	return kb;
}

static bool all_bytes(const uint8_t *p, uint64_t len, uint8_t v)
{
	for (uint64_t i = 0; i < len; i++)
		if (p[i] != v)
			return false;
	return true;
}

static void test_discard_memfd(void)
{
	struct guest_mem gm;
	uint8_t *ram;
	long before, after;

	CHECK(guest_mem_create(&gm, 16 * MIB) == 0, "guest_mem_create");
	ram = gm.regions[0].host;
	memset(ram, 0xa5, 16 * MIB);
	before = rss_kb();
	CHECK(guest_mem_discard(&gm, 4 * MIB, 8 * MIB) == 0, "discard 8 MiB");
	after = rss_kb();
	CHECK(before - after >= 7 * 1024, "RSS drops by the 8 MiB: %ld kB -> %ld kB", before,
	      after);
	CHECK(all_bytes(ram + 4 * MIB, 8 * MIB, 0), "discarded pages read as zeros");
	CHECK(all_bytes(ram, 4 * MIB, 0xa5) && all_bytes(ram + 12 * MIB, 4 * MIB, 0xa5),
	      "the pages around keep their contents");
	/* Still RAM: the guest may use the pages again. */
	memset(ram + 4 * MIB, 0x5a, PG);
	CHECK(ram[4 * MIB] == 0x5a, "a discarded page can be written again");

	CHECK(guest_mem_discard(&gm, 0, PG) == 0, "the first page");
	CHECK(guest_mem_discard(&gm, 16 * MIB - PG, PG) == 0, "the last page");
	CHECK(guest_mem_discard(&gm, 0, 0) == -EINVAL, "zero length");
	CHECK(guest_mem_discard(&gm, 100, PG) == -EINVAL, "unaligned address");
	CHECK(guest_mem_discard(&gm, PG, PG + 1) == -EINVAL, "unaligned length");
	CHECK(guest_mem_discard(&gm, 16 * MIB - PG, 2 * PG) == -EFAULT, "past the end of RAM");
	CHECK(guest_mem_discard(&gm, 16 * MIB, PG) == -EFAULT, "at the end of RAM");
	CHECK(guest_mem_discard(&gm, UINT64_MAX - PG + 1, PG) == -EFAULT,
	      "at the top of the space");
	CHECK(guest_mem_discard(&gm, PG, UINT64_MAX - PG + 1) == -EFAULT, "a wrapping length");

	CHECK(guest_mem_discard_host(&gm, ram - PG, PG) == -EFAULT, "host: below RAM");
	CHECK(guest_mem_discard_host(&gm, ram + 16 * MIB, PG) == -EFAULT, "host: above RAM");
	CHECK(guest_mem_discard_host(&gm, ram + 16 * MIB - PG, 2 * PG) == -EFAULT,
	      "host: across the end");
	CHECK(guest_mem_discard_host(&gm, &gm, PG) == -EFAULT, "host: not guest memory at all");
	CHECK(guest_mem_discard_host(&gm, ram + 8, PG) == -EINVAL, "host: unaligned");
	guest_mem_destroy(&gm);
}

/* Above 3 GiB, RAM continues at 4 GiB: ranges must stay inside one region. */
static void test_discard_regions(void)
{
	const uint64_t low = GUEST_MMIO_HOLE_START, high = GUEST_HIGH_RAM_START;
	struct guest_mem gm;
	uint8_t *lo_end, *hi;

	/* The memfd is sparse: only the pages touched here are ever allocated. */
	CHECK(guest_mem_create(&gm, low + 4 * MIB) == 0, "guest_mem_create, 3 GiB + 4 MiB");
	if (gm.nregions != 2) {
		CHECK(0, "two regions, got %u", gm.nregions);
		guest_mem_destroy(&gm);
		return;
	}
	lo_end = guest_mem_ptr(&gm, low - PG, PG);
	hi = guest_mem_ptr(&gm, high, 4 * MIB);
	memset(lo_end, 0x11, PG);
	memset(hi, 0x22, 4 * MIB);
	CHECK(guest_mem_discard(&gm, low - PG, 2 * PG) == -EFAULT, "across the hole's start");
	CHECK(guest_mem_discard(&gm, high - PG, 2 * PG) == -EFAULT, "across the hole's end");
	CHECK(guest_mem_discard(&gm, low, PG) == -EFAULT, "in the hole");
	CHECK(guest_mem_discard(&gm, low - PG, high - low + 2 * PG) == -EFAULT, "over the hole");
	CHECK(lo_end[0] == 0x11 && hi[0] == 0x22, "refused ranges leave memory alone");
	CHECK(guest_mem_discard(&gm, high + MIB, 2 * MIB) == 0, "inside the high region");
	CHECK(all_bytes(hi + MIB, 2 * MIB, 0) && all_bytes(hi, MIB, 0x22) &&
		      all_bytes(hi + 3 * MIB, MIB, 0x22),
	      "the high region's range is zeroed, its neighbours not");
	CHECK(guest_mem_discard(&gm, low - PG, PG) == 0 && lo_end[0] == 0,
	      "the low region's last page");
	CHECK(guest_mem_discard(&gm, high + 4 * MIB, PG) == -EFAULT, "past the high region");
	guest_mem_destroy(&gm);
}

/* Caller-owned memory (tests, fuzzers) is zeroed, not unmapped. */
static void test_discard_flat(void)
{
	static uint8_t buf[8 * PG] __attribute__((aligned(4096)));
	struct guest_mem gm;

	memset(buf, 0x77, sizeof(buf));
	guest_mem_init_flat(&gm, buf, sizeof(buf));
	CHECK(guest_mem_discard(&gm, 2 * PG, 3 * PG) == 0, "flat: discard");
	CHECK(all_bytes(buf + 2 * PG, 3 * PG, 0) && all_bytes(buf, 2 * PG, 0x77) &&
		      all_bytes(buf + 5 * PG, 3 * PG, 0x77),
	      "flat: only the range is zeroed");
	CHECK(guest_mem_discard(&gm, 7 * PG, 2 * PG) == -EFAULT, "flat: past the end");
}

static void seg(struct iovec *iov, void *p, uint64_t len)
{
	*iov = (struct iovec){ p, len };
}

static void test_report(void)
{
	static struct virtq_chain c;
	struct guest_mem gm;
	uint8_t *ram;

	CHECK(guest_mem_create(&gm, 16 * MIB) == 0, "guest_mem_create");
	ram = gm.regions[0].host;
	memset(ram, 0xc3, 16 * MIB);

	memset(&c, 0, sizeof(c));
	c.ok = true;
	c.nin = 2;
	seg(&c.in[0], ram + 2 * MIB, 2 * MIB);
	seg(&c.in[1], ram + 8 * MIB, 4 * MIB);
	CHECK(balloon_report(&gm, &c) == 0, "a report of two ranges");
	CHECK(all_bytes(ram + 2 * MIB, 2 * MIB, 0) && all_bytes(ram + 8 * MIB, 4 * MIB, 0) &&
		      all_bytes(ram, 2 * MIB, 0xc3) && all_bytes(ram + 4 * MIB, 4 * MIB, 0xc3) &&
		      all_bytes(ram + 12 * MIB, 4 * MIB, 0xc3),
	      "exactly the reported ranges are zeroed");

	memset(ram, 0xc3, 16 * MIB);
	c.ok = false;
	CHECK(balloon_report(&gm, &c) == -EINVAL, "a chain the walker refused");
	c.ok = true;
	c.nout = 1;
	seg(&c.out[0], ram, PG);
	CHECK(balloon_report(&gm, &c) == -EINVAL, "a device-readable segment");
	c.nout = 0;
	c.nin = 0;
	CHECK(balloon_report(&gm, &c) == -EINVAL, "no segments");
	CHECK(all_bytes(ram, 16 * MIB, 0xc3), "refused reports discard nothing");

	c.nin = 3;
	seg(&c.in[0], ram, 2 * MIB);
	seg(&c.in[1], ram + 4 * MIB + 512, 2 * MIB);
	seg(&c.in[2], ram + 8 * MIB, 2 * MIB);
	CHECK(balloon_report(&gm, &c) == -EINVAL, "an unaligned range");
	CHECK(all_bytes(ram, 2 * MIB, 0) && all_bytes(ram + 2 * MIB, 14 * MIB, 0xc3),
	      "ranges before the bad one are discarded, the rest not");
	seg(&c.in[1], ram + 4 * MIB, 0);
	CHECK(balloon_report(&gm, &c) == -EINVAL, "an empty range");
	seg(&c.in[1], &c, PG);
	CHECK(balloon_report(&gm, &c) == -EFAULT, "a range outside guest RAM");
	guest_mem_destroy(&gm);
}

/* Through the walker: descriptors from the guest, as the device gets them. */
static void test_report_walked(void)
{
	static struct virtq_chain c;
	struct guest_mem gm;
	struct virtq q;
	uint8_t *ram;
	const uint64_t desc = 0x1000, avail = 0x2000, used = 0x3000;
	struct desc d[3] = {
		{ 2 * MIB, 2 * MIB, VIRTQ_DESC_F_WRITE | VIRTQ_DESC_F_NEXT, 1 },
		{ 6 * MIB, 2 * MIB, VIRTQ_DESC_F_WRITE, 0 },
		{ 15 * MIB, 2 * MIB, VIRTQ_DESC_F_WRITE, 0 }, /* beyond the end of RAM */
	};

	CHECK(guest_mem_create(&gm, 16 * MIB) == 0, "guest_mem_create");
	ram = gm.regions[0].host;
	memset(ram + MIB, 0x3c, 15 * MIB);
	memcpy(ram + desc, d, sizeof(d));
	virtq_reset(&q, &gm, 16);
	q.desc_gpa = desc;
	q.avail_gpa = avail;
	q.used_gpa = used;
	CHECK(virtq_enable(&q) == 0, "virtq_enable");
	virtq_walk(&q, 0, &c);
	CHECK(c.ok && c.nin == 2 && balloon_report(&gm, &c) == 0, "a walked report");
	CHECK(all_bytes(ram + 2 * MIB, 2 * MIB, 0) && all_bytes(ram + 6 * MIB, 2 * MIB, 0) &&
		      all_bytes(ram + 4 * MIB, 2 * MIB, 0x3c) &&
		      all_bytes(ram + 8 * MIB, 8 * MIB, 0x3c),
	      "walked ranges are zeroed");
	virtq_walk(&q, 2, &c);
	CHECK(!c.ok && balloon_report(&gm, &c) == -EINVAL, "a range past RAM fails the request");
	CHECK(all_bytes(ram + 15 * MIB, MIB, 0x3c), "and discards nothing");
	guest_mem_destroy(&gm);
}

static void pfn_chain(struct virtq_chain *c, uint32_t *pfns, unsigned n)
{
	memset(c, 0, sizeof(*c));
	c->ok = true;
	c->nout = 1;
	c->out_len = 4ULL * n;
	seg(&c->out[0], pfns, 4ULL * n);
}

static void test_inflate(void)
{
	static struct virtq_chain c;
	static uint32_t many[BALLOON_MAX_PFNS + 1];
	struct guest_mem gm;
	uint8_t *ram;
	uint32_t pfns[] = { htole32(0x100), htole32(0x101), htole32(0x102), htole32(0x200) };
	uint32_t bad[] = { htole32(0x300), htole32(0x4000) }; /* the second is past 16 MiB */

	CHECK(guest_mem_create(&gm, 16 * MIB) == 0, "guest_mem_create");
	ram = gm.regions[0].host;
	memset(ram, 0x99, 16 * MIB);
	pfn_chain(&c, pfns, 4);
	CHECK(balloon_inflate(&gm, &c) == 0, "inflate four pages");
	CHECK(all_bytes(ram + 0x100 * PG, 3 * PG, 0) && all_bytes(ram + 0x200 * PG, PG, 0) &&
		      all_bytes(ram + 0x103 * PG, PG, 0x99) && all_bytes(ram + 0xff * PG, PG, 0x99),
	      "exactly the listed pages are zeroed");
	pfn_chain(&c, bad, 2);
	CHECK(balloon_inflate(&gm, &c) == -EFAULT, "a PFN past RAM");
	CHECK(all_bytes(ram + 0x300 * PG, PG, 0), "the good PFN before it is discarded");
	pfn_chain(&c, pfns, 0);
	CHECK(balloon_inflate(&gm, &c) == 0, "an empty array");
	pfn_chain(&c, pfns, 4);
	c.out_len = c.out[0].iov_len = 6;
	CHECK(balloon_inflate(&gm, &c) == -EINVAL, "a partial PFN");
	pfn_chain(&c, pfns, 4);
	c.nin = 1;
	seg(&c.in[0], ram, PG);
	CHECK(balloon_inflate(&gm, &c) == -EINVAL, "a writable segment");
	pfn_chain(&c, pfns, 4);
	c.ok = false;
	CHECK(balloon_inflate(&gm, &c) == -EINVAL, "a chain the walker refused");
	for (unsigned i = 0; i <= BALLOON_MAX_PFNS; i++)
		many[i] = htole32(i);
	memset(ram, 0x99, 16 * MIB);
	pfn_chain(&c, many, BALLOON_MAX_PFNS + 1);
	CHECK(balloon_inflate(&gm, &c) == -EINVAL && all_bytes(ram, 16 * MIB, 0x99),
	      "too many PFNs: nothing discarded");
	pfn_chain(&c, many, BALLOON_MAX_PFNS);
	CHECK(balloon_inflate(&gm, &c) == 0 && all_bytes(ram, 16 * MIB, 0),
	      "the most PFNs a request may carry, in batches");
	guest_mem_destroy(&gm);
}

int main(void)
{
	test_discard_memfd();
	test_discard_regions();
	test_discard_flat();
	test_report();
	test_report_walked();
	test_inflate();
	return check_summary();
}
