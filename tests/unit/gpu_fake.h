/*
 * A fake renderer and window for gpu_cmd.c (unit test and fuzzer). It keeps
 * its own books and aborts when gpu_cmd asks for something the real
 * virglrenderer or KVM would be hurt by: an operation on a context or
 * resource it never created, a mapping outside the window or over another
 * one, a double unmap, a buffer of the wrong size.
 */
#ifndef KILN_TESTS_GPU_FAKE_H
#define KILN_TESTS_GPU_FAKE_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "virtio/gpu_cmd.h"
#include "virtio/gpu_proto.h"

#define FAKE_MAX 256

struct fake_gpu {
	uint32_t ctx[FAKE_MAX];
	unsigned nctx;
	struct {
		uint32_t id;
		uint64_t size;
		void *map;
	} res[FAKE_MAX];
	unsigned nres;
	struct {
		uint64_t off, size;
		int used;
	} slot[FAKE_MAX];
	uint64_t window_size;
	unsigned submits, fences, nmapped;
	uint32_t last_submit_len;
	int fail_next_map;
};

#define FAKE_ASSERT(c)                                                                             \
	do {                                                                                       \
		if (!(c)) {                                                                        \
			fprintf(stderr, "fake gpu: %s:%d: %s\n", __FILE__, __LINE__, #c);          \
			abort();                                                                   \
		}                                                                                  \
	} while (0)

static int fake_find_ctx(struct fake_gpu *f, uint32_t id)
{
	for (unsigned i = 0; i < f->nctx; i++)
		if (f->ctx[i] == id)
			return (int)i;
	return -1;
}

static int fake_find_res(struct fake_gpu *f, uint32_t id)
{
	for (unsigned i = 0; i < f->nres; i++)
		if (f->res[i].id == id)
			return (int)i;
	return -1;
}

static int fake_ctx_create(void *b, uint32_t id, uint32_t capset, const char *name)
{
	struct fake_gpu *f = b;

	FAKE_ASSERT(id && fake_find_ctx(f, id) < 0 && strlen(name) <= 64);
	FAKE_ASSERT(capset == GPU_CAPSET_VENUS);
	if (f->nctx == FAKE_MAX)
		return -1;
	f->ctx[f->nctx++] = id;
	return 0;
}

static void fake_ctx_destroy(void *b, uint32_t id)
{
	struct fake_gpu *f = b;
	int i = fake_find_ctx(f, id);

	FAKE_ASSERT(i >= 0);
	f->ctx[i] = f->ctx[--f->nctx];
}

static void fake_ctx_attach(void *b, uint32_t ctx, uint32_t res)
{
	struct fake_gpu *f = b;

	FAKE_ASSERT(fake_find_ctx(f, ctx) >= 0 && fake_find_res(f, res) >= 0);
}

static int fake_submit(void *b, uint32_t ctx, void *cmds, uint32_t len)
{
	struct fake_gpu *f = b;
	volatile uint8_t sum = 0;

	FAKE_ASSERT(fake_find_ctx(f, ctx) >= 0 && len % 4 == 0 && len);
	for (uint32_t i = 0; i < len; i++) /* ASan sees a short buffer */
		sum += ((uint8_t *)cmds)[i];
	(void)sum;
	f->submits++;
	f->last_submit_len = len;
	return 0;
}

static int fake_blob_create(void *b, const struct gpu_blob *blob)
{
	struct fake_gpu *f = b;
	uint64_t total = 0;

	FAKE_ASSERT(blob->res_id && fake_find_res(f, blob->res_id) < 0 && blob->size);
	if (blob->blob_mem != GPU_BLOB_MEM_GUEST)
		FAKE_ASSERT(fake_find_ctx(f, blob->ctx_id) >= 0);
	for (unsigned i = 0; i < blob->niov; i++) {
		volatile uint8_t *p = blob->iov[i].iov_base;

		FAKE_ASSERT(blob->iov[i].iov_len);
		(void)p[0];
		(void)p[blob->iov[i].iov_len - 1];
		total += blob->iov[i].iov_len;
	}
	if (blob->niov)
		FAKE_ASSERT(total >= blob->size);
	if (f->nres == FAKE_MAX || blob->size > (64ULL << 20))
		return -1; /* the renderer may refuse, too */
	f->res[f->nres].id = blob->res_id;
	f->res[f->nres].size = blob->size;
	f->res[f->nres].map = NULL;
	f->nres++;
	return 0;
}

static void fake_resource_unref(void *b, uint32_t id)
{
	struct fake_gpu *f = b;
	int i = fake_find_res(f, id);

	FAKE_ASSERT(i >= 0 && !f->res[i].map);
	f->res[i] = f->res[--f->nres];
}

static int fake_blob_map(void *b, uint32_t id, void **host, uint64_t *size, uint32_t *info)
{
	struct fake_gpu *f = b;
	int i = fake_find_res(f, id);
	uint64_t len;

	FAKE_ASSERT(i >= 0 && !f->res[i].map);
	if (f->fail_next_map) {
		f->fail_next_map = 0;
		return -1;
	}
	len = (f->res[i].size + 4095) & ~4095ULL;
	f->res[i].map = aligned_alloc(4096, len);
	if (!f->res[i].map)
		return -1;
	memset(f->res[i].map, 0, len);
	*host = f->res[i].map;
	*size = len;
	*info = GPU_MAP_CACHE_CACHED;
	return 0;
}

static void fake_blob_unmap(void *b, uint32_t id)
{
	struct fake_gpu *f = b;
	int i = fake_find_res(f, id);

	FAKE_ASSERT(i >= 0 && f->res[i].map);
	free(f->res[i].map);
	f->res[i].map = NULL;
}

static int fake_fence(void *b, uint32_t ctx, uint32_t ring, uint64_t id)
{
	struct fake_gpu *f = b;

	(void)id;
	FAKE_ASSERT(fake_find_ctx(f, ctx) >= 0 && ring < 64);
	f->fences++;
	return 0;
}

static int fake_fill_capset(void *b, uint32_t id, uint32_t version, void *buf, uint32_t size)
{
	(void)b, (void)version;
	FAKE_ASSERT(id == GPU_CAPSET_VENUS);
	memset(buf, 0xcc, size);
	return 0;
}

static const struct gpu_backend_ops fake_ops = {
	.ctx_create = fake_ctx_create,
	.ctx_destroy = fake_ctx_destroy,
	.ctx_attach = fake_ctx_attach,
	.ctx_detach = fake_ctx_attach,
	.submit = fake_submit,
	.blob_create = fake_blob_create,
	.resource_unref = fake_resource_unref,
	.blob_map = fake_blob_map,
	.blob_unmap = fake_blob_unmap,
	.fence = fake_fence,
	.fill_capset = fake_fill_capset,
};

static int fake_win_map(void *w, uint64_t off, void *host, uint64_t size, int *slot)
{
	struct fake_gpu *f = w;
	volatile uint8_t *p = host;

	FAKE_ASSERT(off % 4096 == 0 && size % 4096 == 0 && size && off + size <= f->window_size);
	(void)p[0];
	(void)p[size - 1];
	for (int i = 0; i < FAKE_MAX; i++)
		if (f->slot[i].used)
			FAKE_ASSERT(off >= f->slot[i].off + f->slot[i].size ||
				    f->slot[i].off >= off + size);
	for (int i = 0; i < FAKE_MAX; i++)
		if (!f->slot[i].used) {
			f->slot[i].used = 1;
			f->slot[i].off = off;
			f->slot[i].size = size;
			*slot = i;
			f->nmapped++;
			return 0;
		}
	return -1;
}

static void fake_win_unmap(void *w, int slot)
{
	struct fake_gpu *f = w;

	FAKE_ASSERT(slot >= 0 && slot < FAKE_MAX && f->slot[slot].used);
	f->slot[slot].used = 0;
	f->nmapped--;
}

static const struct gpu_window_ops fake_window = { .map = fake_win_map, .unmap = fake_win_unmap };

static const struct gpu_capset fake_capsets[] = { { GPU_CAPSET_VENUS, 0, 160 } };

#endif
