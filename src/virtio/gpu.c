/*
 * virtio-gpu: the virtqueues and the host-visible window around gpu_cmd.c.
 *
 * Control commands are processed in order on the device thread. A command
 * fenced on a context's ring is answered when the renderer retires that fence
 * (virglrenderer calls back on its own thread; the retirement is queued and
 * the device thread woken through an eventfd); every other command is
 * answered at once. Blobs the guest maps appear in the window through KVM
 * memory slots of their own, removed again on unmap.
 */
#define _GNU_SOURCE
#include "virtio/gpu.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "gpu/virgl_backend.h"
#include "util/log.h"
#include "virtio/gpu_cmd.h"
#include "virtio/gpu_proto.h"
#include "virtio/mmio.h"
#include "vmm/vm.h"

#define CTRLQ	    0
#define CURSORQ	    1
#define MAX_RETIRED 4096

struct pending {
	struct pending *next;
	uint16_t head;
	uint32_t ctx_id, ring;
	uint64_t fence_id;
	unsigned nin;
	struct iovec *in;
	uint32_t len;
	uint8_t resp[];
};

struct retired {
	uint32_t ctx_id, ring;
	uint64_t fence_id;
};

struct gpu {
	struct virtio_dev *dev;
	struct vm *vm;
	struct virgl_backend vb;
	struct gpu_state st;
	uint64_t window_gpa, window_size;
	uint32_t num_capsets;

	struct virtq_chain chain;
	uint8_t *req;
	size_t req_cap;
	uint8_t resp[sizeof(struct gpu_hdr) + GPU_MAX_CAPSET_SIZE];
	struct pending *pending;
	unsigned npending;

	/* Fences retired by the renderer, handed to the device thread. */
	int fence_efd;
	pthread_mutex_t rlock;
	struct retired retired[MAX_RETIRED];
	unsigned nretired;
	bool overflow;
};

/* ---- the window ---- */

static int window_map(void *w, uint64_t off, void *host, uint64_t size, int *slot)
{
	struct gpu *g = w;

	return vm_map_host(g->vm, g->window_gpa + off, host, size, slot);
}

static void window_unmap(void *w, int slot)
{
	vm_unmap_host(((struct gpu *)w)->vm, slot);
}

static const struct gpu_window_ops window_ops = { .map = window_map, .unmap = window_unmap };

/* ---- fences ---- */

static void fence_retired(void *opaque, uint32_t ctx_id, uint32_t ring, uint64_t fence_id)
{
	struct gpu *g = opaque;
	uint64_t one = 1;

	pthread_mutex_lock(&g->rlock);
	if (g->nretired < MAX_RETIRED)
		g->retired[g->nretired++] = (struct retired){ ctx_id, ring, fence_id };
	else
		g->overflow = true;
	pthread_mutex_unlock(&g->rlock);
	if (write(g->fence_efd, &one, sizeof(one)) < 0)
		pr_warn("gpu: cannot wake the device thread: %m");
}

static void complete(struct gpu *g, uint16_t head, const struct iovec *in, unsigned nin,
		     const void *resp, uint32_t len)
{
	struct virtq *q = &g->dev->vq[CTRLQ];
	uint64_t n = buf_to_iov(in, nin, 0, resp, len);

	virtq_push(q, head, (uint32_t)n);
	virtio_dev_notify_queue(g->dev, q);
}

/* Answer the held commands that match (all of them when match is NULL). */
static void complete_pending(struct gpu *g,
			     bool (*match)(struct gpu *, const struct pending *, const void *),
			     const void *arg)
{
	for (struct pending **pp = &g->pending; *pp;) {
		struct pending *p = *pp;

		if (match && !match(g, p, arg)) {
			pp = &p->next;
			continue;
		}
		*pp = p->next;
		g->npending--;
		complete(g, p->head, p->in, p->nin, p->resp, p->len);
		free(p->in);
		free(p);
	}
}

static bool fence_done(struct gpu *g, const struct pending *p, const void *arg)
{
	const struct retired *r = arg;

	(void)g;
	return p->ctx_id == r->ctx_id && p->ring == r->ring && p->fence_id <= r->fence_id;
}

static bool ctx_gone(struct gpu *g, const struct pending *p, const void *arg)
{
	(void)arg;
	return !gpu_ctx_exists(&g->st, p->ctx_id);
}

static void drain_retired(struct gpu *g)
{
	struct retired batch[64];
	unsigned n;
	bool overflow;
	uint64_t cnt;

	if (read(g->fence_efd, &cnt, sizeof(cnt)) < 0 && errno != EAGAIN)
		pr_warn("gpu: fence eventfd: %m");
	do {
		pthread_mutex_lock(&g->rlock);
		n = g->nretired < 64 ? g->nretired : 64;
		memcpy(batch, g->retired, n * sizeof(*batch));
		memmove(g->retired, g->retired + n, (g->nretired - n) * sizeof(*batch));
		g->nretired -= n;
		overflow = g->overflow;
		g->overflow = false;
		pthread_mutex_unlock(&g->rlock);
		for (unsigned i = 0; i < n; i++)
			complete_pending(g, fence_done, &batch[i]);
		/* Lost retirements: answer everything rather than hang the guest. */
		if (overflow)
			complete_pending(g, NULL, NULL);
	} while (n);
}

/* ---- queues ---- */

static void hold(struct gpu *g, const struct virtq_chain *c, const struct gpu_reply *r)
{
	struct pending *p = malloc(sizeof(*p) + r->len);

	if (p)
		p->in = malloc(c->nin * sizeof(*c->in));
	if (!p || !p->in) {
		/* No memory to wait with: answer now; the fence signals early. */
		free(p);
		complete(g, c->head, c->in, c->nin, r->buf, r->len);
		return;
	}
	p->head = c->head;
	p->ctx_id = r->ctx_id;
	p->ring = r->ring;
	p->fence_id = r->fence_id;
	p->nin = c->nin;
	memcpy(p->in, c->in, c->nin * sizeof(*c->in));
	p->len = r->len;
	memcpy(p->resp, r->buf, r->len);
	p->next = g->pending;
	g->pending = p;
	g->npending++;
}

static void process(struct gpu *g, struct virtq_chain *c)
{
	struct gpu_reply r;
	struct gpu_hdr err = { .type = GPU_RESP_ERR_UNSPEC };

	if (!c->ok || c->out_len < sizeof(struct gpu_hdr) || c->out_len > GPU_MAX_REQUEST) {
		if (!c->ok)
			pr_warn("gpu: bad descriptor chain: %s", c->why);
		complete(g, c->head, c->in, c->ok ? c->nin : 0, &err, sizeof(err));
		return;
	}
	if (c->out_len > g->req_cap) {
		uint8_t *p = realloc(g->req, c->out_len);

		if (!p) {
			err.type = GPU_RESP_ERR_OUT_OF_MEMORY;
			complete(g, c->head, c->in, c->nin, &err, sizeof(err));
			return;
		}
		g->req = p;
		g->req_cap = c->out_len;
	}
	iov_to_buf(c->out, c->nout, 0, g->req, c->out_len);
	gpu_cmd_process(&g->st, g->req, c->out_len, g->resp, sizeof(g->resp), &r);
	if (r.defer)
		hold(g, c, &r);
	else
		complete(g, c->head, c->in, c->nin, r.buf, r.len);
	/* Fences of a context that is gone will never retire. */
	if (g->npending)
		complete_pending(g, ctx_gone, NULL);
}

static void serve(struct gpu *g, unsigned qi)
{
	struct virtq *q = &g->dev->vq[qi];
	int ret;

	do {
		while ((ret = virtq_pop(q, &g->chain)) > 0) {
			if (qi == CTRLQ) {
				process(g, &g->chain);
			} else {
				/* Cursor commands: no display, nothing to answer but the buffer. */
				virtq_push(q, g->chain.head, 0);
				virtio_dev_notify_queue(g->dev, q);
			}
		}
		if (ret < 0) {
			pr_warn("gpu: the guest corrupted queue %u; ignoring it until reset", qi);
			return;
		}
	} while (virtq_enable_notify(q));
}

static void gpu_notify(struct virtio_dev *d, int q)
{
	struct gpu *g = d->priv;

	if (q == CTRLQ || q == CURSORQ)
		serve(g, (unsigned)q);
	else if (q == -1)
		drain_retired(g);
}

static uint64_t gpu_features(struct virtio_dev *d)
{
	(void)d;
	return (1ULL << VIRTIO_GPU_F_VIRGL) | (1ULL << VIRTIO_GPU_F_RESOURCE_BLOB) |
	       (1ULL << VIRTIO_GPU_F_CONTEXT_INIT);
}

static void gpu_config_read(struct virtio_dev *d, uint64_t off, void *data, unsigned len)
{
	struct gpu *g = d->priv;
	struct gpu_config cfg = { .num_scanouts = 1, .num_capsets = g->num_capsets };

	if (off < sizeof(cfg) && len <= sizeof(cfg) - off)
		memcpy(data, (uint8_t *)&cfg + off, len);
}

static bool gpu_shm_region(struct virtio_dev *d, uint32_t id, uint64_t *base, uint64_t *len)
{
	struct gpu *g = d->priv;

	if (id != VIRTIO_GPU_SHM_ID_HOST_VISIBLE)
		return false;
	*base = g->window_gpa;
	*len = g->window_size;
	return true;
}

/* A reset (or a guest that reboots) frees everything the guest made on the host GPU. */
static void gpu_reset(struct virtio_dev *d)
{
	struct gpu *g = d->priv;

	gpu_state_reset(&g->st);
	while (g->pending) {
		struct pending *p = g->pending;

		g->pending = p->next;
		free(p->in);
		free(p);
	}
	g->npending = 0;
}

static void gpu_destroy(struct virtio_dev *d)
{
	struct gpu *g = d->priv;

	gpu_reset(d);
	gpu_state_destroy(&g->st);
	virgl_backend_close(&g->vb);
	close(g->fence_efd);
	pthread_mutex_destroy(&g->rlock);
	free(g->req);
	free(g);
}

static const struct virtio_dev_ops gpu_ops = {
	.name = "gpu",
	.device_id = VIRTIO_ID_GPU,
	.nqueues = 2,
	.queue_max = 256,
	.features = gpu_features,
	.config_read = gpu_config_read,
	.reset = gpu_reset,
	.notify = gpu_notify,
	.destroy = gpu_destroy,
	.shm_region = gpu_shm_region,
};

int virtio_gpu_create(struct vm *vm, const struct virtio_gpu_config *cfg)
{
	struct gpu *g = calloc(1, sizeof(*g));
	char err[512];
	uint64_t size = cfg->window_size ? cfg->window_size : VIRTIO_GPU_DEFAULT_WINDOW;
	int ret;

	if (!g)
		return -ENOMEM;
	pthread_mutex_init(&g->rlock, NULL);
	g->vm = vm;
	g->fence_efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (g->fence_efd < 0) {
		ret = -errno;
		goto fail_efd;
	}
	size = (size + 4095) & ~4095ULL;
	ret = vm_alloc_high(vm, size, &g->window_gpa);
	if (ret) {
		pr_err("virtio-gpu: a host-visible window of %llu MiB does not fit the guest's "
		       "address space",
		       (unsigned long long)(size >> 20));
		goto fail;
	}
	g->window_size = size;
	ret = virgl_backend_open(&g->vb, cfg->virgl_path, cfg->drm, fence_retired, g, err,
				 sizeof(err));
	if (ret) {
		if (ret == -ENOENT)
			pr_err("virtio-gpu: virglrenderer >= 1.0 not found (%s); install "
			       "libvirglrenderer1 >= 1.0 (>= 1.2 for NVIDIA) or name the library "
			       "with --virglrenderer",
			       err);
		else if (ret == -ENOSYS)
			pr_err("virtio-gpu: virglrenderer is older than 1.0 (%s); Venus needs "
			       ">= 1.0 (>= 1.2 for NVIDIA)",
			       err);
		else
			pr_err("virtio-gpu: %s", err);
		goto fail;
	}
	ret = gpu_state_init(&g->st, &vm->mem, &virgl_backend_ops, &g->vb, &window_ops, g, size,
			     g->vb.capsets, g->vb.ncapsets);
	if (ret)
		goto fail_backend;
	g->num_capsets = g->vb.ncapsets;
	ret = virtio_dev_create(vm, &gpu_ops, g, &g->dev);
	if (ret)
		goto fail_state;
	ret = virtio_dev_watch_fd(g->dev, g->fence_efd);
	if (ret)
		return ret; /* the device is registered; vm teardown frees it */
	pr_info("virtio-gpu: Venus through virglrenderer, host-visible window %llu MiB at 0x%llx",
		(unsigned long long)(size >> 20), (unsigned long long)g->window_gpa);
	return 0;

fail_state:
	gpu_state_destroy(&g->st);
fail_backend:
	virgl_backend_close(&g->vb);
fail:
	close(g->fence_efd);
fail_efd:
	pthread_mutex_destroy(&g->rlock);
	free(g);
	return ret;
}
