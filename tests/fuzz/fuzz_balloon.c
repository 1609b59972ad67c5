/*
 * virtio-balloon's requests on chains the walker builds from fuzzer bytes,
 * over real memfd-backed guest RAM (so discards really punch holes).
 *
 * Input: a small header (inflate or report, queue size, head, where the
 * descriptor table lies, indirect allowed), then bytes copied into guest RAM
 * at address 0, over a fixed pattern: descriptor tables, indirect tables and
 * PFN arrays. Afterwards every byte of RAM that changed must lie in a page
 * the request named: a segment of the report, or a PFN of the inflate array
 * (or PFN 0, which is what an array reads once its own page was discarded).
 */
#include <endian.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "virtio/balloon.h"

#define RAM_SIZE (1u << 20)
#define PAGES	 (RAM_SIZE / GUEST_PAGE_SIZE)

struct params {
	uint8_t flags; /* bit 0: inflate (else report), bit 1: INDIRECT_DESC */
	uint8_t size_log2;
	uint16_t head;
	uint16_t desc;
};

static struct guest_mem gm;
static uint8_t *ram, *before;
static struct virtq_chain chain;
static bool named[PAGES];

static void name_host_range(const uint8_t *p, size_t len)
{
	uint64_t off = (uint64_t)(p - ram);

	/* The walker only hands out ranges inside RAM. */
	if (p < ram || len > RAM_SIZE || off > RAM_SIZE - len)
		abort();
	for (uint64_t pg = off / GUEST_PAGE_SIZE; len && pg <= (off + len - 1) / GUEST_PAGE_SIZE;
	     pg++)
		named[pg] = true;
}

/* The PFNs as they are before the request runs (it may discard its own array). */
static void name_pfns(void)
{
	uint64_t n = chain.out_len / 4;

	named[0] = true;
	if (n > BALLOON_MAX_PFNS)
		return;
	for (uint64_t i = 0; i < n; i++) {
		uint32_t pfn;

		iov_to_buf(chain.out, chain.nout, i * 4, &pfn, 4);
		if (le32toh(pfn) < PAGES)
			named[le32toh(pfn)] = true;
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct params p;
	struct virtq q;
	bool inflate;

	if (!ram) {
		if (guest_mem_create(&gm, RAM_SIZE))
			abort();
		ram = gm.regions[0].host;
		before = malloc(RAM_SIZE);
		if (!before)
			abort();
	}
	if (size < sizeof(p))
		return 0;
	memcpy(&p, data, sizeof(p));
	data += sizeof(p);
	size -= sizeof(p);
	if (size > RAM_SIZE)
		size = RAM_SIZE;
	memset(ram, 0xab, RAM_SIZE);
	memcpy(ram, data, size);
	memcpy(before, ram, RAM_SIZE);
	memset(named, 0, sizeof(named));

	virtq_reset(&q, &gm, VIRTQ_MAX_SIZE);
	q.size = 1u << (p.size_log2 % 11);
	q.desc_gpa = p.desc & ~15u;
	q.avail_gpa = q.used_gpa = 0;
	q.indirect = p.flags & 2;
	if (virtq_enable(&q))
		return 0;
	virtq_walk(&q, p.head % q.size, &chain);
	inflate = p.flags & 1;
	if (inflate) {
		if (chain.ok)
			name_pfns();
		balloon_inflate(&gm, &chain);
	} else {
		for (unsigned i = 0; chain.ok && i < chain.nin; i++)
			name_host_range(chain.in[i].iov_base, chain.in[i].iov_len);
		balloon_report(&gm, &chain);
	}
	for (uint64_t pg = 0; pg < PAGES; pg++) {
		const uint64_t off = pg * GUEST_PAGE_SIZE;

		if (!named[pg] && memcmp(ram + off, before + off, GUEST_PAGE_SIZE))
			abort();
	}
	return 0;
}
