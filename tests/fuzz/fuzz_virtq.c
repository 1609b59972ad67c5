/*
 * The virtqueue walker over guest memory made of fuzzer bytes.
 *
 * Input: a small header (queue size, features, ring offsets, starting index),
 * then the guest memory itself, holding whatever rings, descriptor tables and
 * indirect tables the fuzzer builds. The memory is a malloc'd copy of exactly
 * that size, so ASan catches any access outside it; every segment handed out
 * is also checked and touched at both ends.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "virtio/queue.h"

struct params {
	uint8_t size_log2;
	uint8_t flags; /* bit 0: INDIRECT_DESC, bit 1: EVENT_IDX, bit 2: walk every head directly */
	uint16_t desc, avail, used;
	uint16_t last_avail;
};

static struct virtq_chain chain;

static void check_segs(const struct iovec *iov, unsigned n, uint64_t total, const uint8_t *mem,
		       size_t size)
{
	uint64_t sum = 0;

	if (n > VIRTQ_MAX_SEGS)
		abort();
	for (unsigned i = 0; i < n; i++) {
		const uint8_t *p = iov[i].iov_base;
		size_t len = iov[i].iov_len;

		if (p < mem || len > size || (size_t)(p - mem) > size - len)
			abort();
		if (len) {
			/* Touch both ends so ASan sees any escape the check above missed. */
			volatile uint8_t x = p[0];

			x = p[len - 1];
			(void)x;
		}
		sum += len;
	}
	if (sum != total)
		abort();
}

static void check_chain(const struct virtq *q, const uint8_t *mem, size_t size)
{
	if (chain.head >= q->size)
		abort();
	check_segs(chain.out, chain.nout, chain.out_len, mem, size);
	check_segs(chain.in, chain.nin, chain.in_len, mem, size);
}

static void run_queue(struct virtq *q, const uint8_t *mem, size_t size)
{
	for (unsigned i = 0; i <= 2u * q->size; i++) {
		int ret = virtq_pop(q, &chain);

		if (ret < 0)
			return;
		if (ret == 0) {
			if (!virtq_enable_notify(q))
				return;
			continue;
		}
		check_chain(q, mem, size);
		virtq_push(q, chain.head, chain.ok ? (uint32_t)chain.in_len : 0);
		virtq_should_notify(q);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct guest_mem gm;
	struct params p;
	struct virtq q;
	uint8_t *mem;
	size_t msize;

	if (size < sizeof(p))
		return 0;
	memcpy(&p, data, sizeof(p));
	msize = size - sizeof(p);
	mem = malloc(msize ? msize : 1);
	if (!mem)
		return 0;
	memcpy(mem, data + sizeof(p), msize);
	guest_mem_init_flat(&gm, mem, msize);
	virtq_reset(&q, &gm, VIRTQ_MAX_SIZE);
	q.size = 1u << (p.size_log2 % 11);
	/* Aligned offsets, so that most inputs get past virtq_enable into the walker. */
	q.desc_gpa = p.desc & ~15u;
	q.avail_gpa = p.avail & ~1u;
	q.used_gpa = p.used & ~3u;
	q.indirect = p.flags & 1;
	q.event_idx = p.flags & 2;
	if (virtq_enable(&q) == 0) {
		if (p.flags & 4) {
			for (unsigned h = 0; h < q.size; h++) {
				virtq_walk(&q, h, &chain);
				check_chain(&q, mem, msize);
			}
		}
		q.last_avail = p.last_avail;
		q.used_idx = p.last_avail;
		run_queue(&q, mem, msize);
	}
	free(mem);
	return 0;
}
