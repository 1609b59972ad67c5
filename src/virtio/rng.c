/* virtio-rng: one queue; every writable buffer the guest posts is filled with host entropy. */
#include "virtio/rng.h"

#include <errno.h>
#include <stdlib.h>
#include <sys/random.h>

#include "util/log.h"
#include "virtio/mmio.h"

/* Bound one request so a guest cannot make us produce gigabytes at once. */
#define RNG_MAX_PER_REQUEST 65536

struct rng {
	struct virtq_chain chain;
};

static uint32_t fill(const struct virtq_chain *c)
{
	uint32_t done = 0;

	for (unsigned i = 0; i < c->nin && done < RNG_MAX_PER_REQUEST; i++) {
		size_t want = c->in[i].iov_len;
		ssize_t n;

		if (want > RNG_MAX_PER_REQUEST - done)
			want = RNG_MAX_PER_REQUEST - done;
		n = getrandom(c->in[i].iov_base, want, 0);
		if (n <= 0)
			break;
		done += n;
		if ((size_t)n < want)
			break;
	}
	return done;
}

static void rng_notify(struct virtio_dev *d, int qi)
{
	struct rng *r = d->priv;
	struct virtq *q = &d->vq[0];

	if (qi != 0)
		return;
	do {
		int ret;

		while ((ret = virtq_pop(q, &r->chain)) > 0) {
			virtq_push(q, r->chain.head, r->chain.ok ? fill(&r->chain) : 0);
			virtio_dev_notify_queue(d, q);
		}
		if (ret < 0) {
			pr_warn("rng: the guest corrupted its queue; ignoring it until reset");
			return;
		}
	} while (virtq_enable_notify(q));
}

static void rng_destroy(struct virtio_dev *d)
{
	free(d->priv);
}

static const struct virtio_dev_ops rng_ops = {
	.name = "rng",
	.device_id = VIRTIO_ID_RNG,
	.nqueues = 1,
	.queue_max = 256,
	.notify = rng_notify,
	.destroy = rng_destroy,
};

int virtio_rng_create(struct vm *vm)
{
	struct rng *r = calloc(1, sizeof(*r));
	struct virtio_dev *d;
	int ret;

	if (!r)
		return -ENOMEM;
	ret = virtio_dev_create(vm, &rng_ops, r, &d);
	if (ret)
		free(r);
	return ret;
}
