/*
 * virtio-balloon: free page reporting, inflate honoured, deflate acknowledged.
 *
 * The guest's page reporting (Linux: CONFIG_PAGE_REPORTING, 2 MiB blocks and
 * up, a couple of seconds after they were freed) posts chains of writable
 * segments, each a range of free guest RAM; we punch them out of the memfd.
 * The device never asks the balloon to grow (num_pages stays 0), so a
 * well-behaved guest never inflates; a request that does is honoured all the
 * same. Every range is checked by the walker and by guest_mem_discard: a bad
 * request discards nothing past its first bad segment and is still completed.
 */
#include "virtio/balloon.h"

#include <endian.h>
#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "util/log.h"
#include "virtio/mmio.h"

struct balloon {
	struct balloon_config cfg;
	uint64_t discarded; /* bytes given back to the host, for the log */
	struct virtq_chain chain;
};

int balloon_report(const struct guest_mem *mem, const struct virtq_chain *c)
{
	if (!c->ok || c->nout || !c->nin)
		return -EINVAL;
	for (unsigned i = 0; i < c->nin; i++) {
		int ret = guest_mem_discard_host(mem, c->in[i].iov_base, c->in[i].iov_len);

		if (ret)
			return ret;
	}
	return 0;
}

static int discard_pages(const struct guest_mem *mem, uint64_t pfn, uint64_t n)
{
	return guest_mem_discard(mem, pfn << BALLOON_PFN_SHIFT, n << BALLOON_PFN_SHIFT);
}

int balloon_inflate(const struct guest_mem *mem, const struct virtq_chain *c)
{
	uint32_t pfns[256];
	uint64_t n, start = 0, run = 0; /* the run of consecutive pages gathered so far */

	if (!c->ok || c->nin || c->out_len % sizeof(pfns[0]) ||
	    c->out_len / sizeof(pfns[0]) > BALLOON_MAX_PFNS)
		return -EINVAL;
	n = c->out_len / sizeof(pfns[0]);
	for (uint64_t i = 0; i < n;) {
		uint64_t batch = n - i < 256 ? n - i : 256;

		iov_to_buf(c->out, c->nout, i * sizeof(pfns[0]), pfns, batch * sizeof(pfns[0]));
		for (uint64_t j = 0; j < batch; j++) {
			uint64_t pfn = le32toh(pfns[j]);
			int ret;

			if (run && pfn == start + run) {
				run++;
				continue;
			}
			if (run && (ret = discard_pages(mem, start, run)))
				return ret;
			start = pfn;
			run = 1;
		}
		i += batch;
	}
	return run ? discard_pages(mem, start, run) : 0;
}

static uint64_t balloon_features(struct virtio_dev *d)
{
	(void)d;
	/* PAGE_POISON: guests with init_on_free (poison 0) report only if it is offered. */
	return (1ULL << VIRTIO_BALLOON_F_PAGE_REPORTING) | (1ULL << VIRTIO_BALLOON_F_PAGE_POISON);
}

static void balloon_config_read(struct virtio_dev *d, uint64_t off, void *data, unsigned len)
{
	struct balloon *b = d->priv;

	if (off >= sizeof(b->cfg))
		return;
	if (len > sizeof(b->cfg) - off)
		len = sizeof(b->cfg) - off;
	memcpy(data, (const uint8_t *)&b->cfg + off, len);
}

/* The driver owns actual and poison_val (whole le32 writes); the rest is ours. */
static void balloon_config_write(struct virtio_dev *d, uint64_t off, const void *data, unsigned len)
{
	struct balloon *b = d->priv;

	if (len == 4 && (off == offsetof(struct balloon_config, actual) ||
			 off == offsetof(struct balloon_config, poison_val)))
		memcpy((uint8_t *)&b->cfg + off, data, 4);
}

static void balloon_reset(struct virtio_dev *d)
{
	struct balloon *b = d->priv;

	b->cfg.actual = 0;
	b->cfg.poison_val = 0;
}

/* Serve one request; the bytes given back, or a negative errno. */
static int64_t balloon_serve(struct virtio_dev *d, int qi, const struct virtq_chain *c)
{
	struct balloon *b = d->priv;
	int ret;

	switch (qi) {
	case BALLOON_Q_INFLATE:
		ret = balloon_inflate(d->mem, c);
		return ret ? ret : (int64_t)(c->out_len / 4) << BALLOON_PFN_SHIFT;
	case BALLOON_Q_REPORTING:
		/* A discarded page reads back as zeros: wrong where the guest keeps its poison. */
		if (virtio_dev_has_feature(d, VIRTIO_BALLOON_F_PAGE_POISON) && b->cfg.poison_val)
			return 0;
		ret = balloon_report(d->mem, c);
		return ret ? ret : (int64_t)c->in_len;
	}
	return 0; /* deflate: the pages come back as the guest touches them */
}

static void balloon_notify(struct virtio_dev *d, int qi)
{
	struct balloon *b = d->priv;
	struct virtq *q;

	if (qi < 0 || qi >= BALLOON_NQUEUES)
		return;
	q = &d->vq[qi];
	do {
		int ret;

		while ((ret = virtq_pop(q, &b->chain)) > 0) {
			int64_t n = balloon_serve(d, qi, &b->chain);

			if (n < 0)
				pr_debug("balloon: bad request on queue %d: %s", qi,
					 b->chain.ok ? strerror((int)-n) : b->chain.why);
			else
				b->discarded += n;
			/* The driver reads nothing back: every request completes with length 0. */
			virtq_push(q, b->chain.head, 0);
			virtio_dev_notify_queue(d, q);
		}
		if (ret < 0) {
			pr_warn("balloon: the guest corrupted queue %d; ignoring it until reset",
				qi);
			return;
		}
	} while (virtq_enable_notify(q));
}

static void balloon_destroy(struct virtio_dev *d)
{
	struct balloon *b = d->priv;

	pr_debug("balloon: %llu MiB given back to the host",
		 (unsigned long long)(b->discarded >> 20));
	free(b);
}

static const struct virtio_dev_ops balloon_ops = {
	.name = "balloon",
	.device_id = VIRTIO_ID_BALLOON,
	.nqueues = BALLOON_NQUEUES,
	.queue_max = 128,
	.features = balloon_features,
	.config_read = balloon_config_read,
	.config_write = balloon_config_write,
	.reset = balloon_reset,
	.notify = balloon_notify,
	.destroy = balloon_destroy,
};

int virtio_balloon_create(struct vm *vm)
{
	struct balloon *b = calloc(1, sizeof(*b));
	struct virtio_dev *d;
	int ret;

	if (!b)
		return -ENOMEM;
	ret = virtio_dev_create(vm, &balloon_ops, b, &d);
	if (ret)
		free(b);
	return ret;
}
