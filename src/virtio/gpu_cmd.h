/*
 * virtio-gpu command processing, apart from the virtqueues: the guest's
 * contexts and resources, the host-visible window's mappings, and every check
 * on what the guest sends. A renderer (struct gpu_backend: virglrenderer in
 * kiln, a fake in tests and the fuzzer) does the GPU work; a window (struct
 * gpu_window: KVM memory slots in kiln) makes host memory appear at an offset
 * of the guest's host-visible region.
 *
 * A bad command fails with an error response; nothing the guest sends can
 * make these functions fail otherwise.
 */
#ifndef KILN_VIRTIO_GPU_CMD_H
#define KILN_VIRTIO_GPU_CMD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

#include "mem/guest_mem.h"

struct gpu_capset {
	uint32_t id, max_version, max_size;
};

struct gpu_blob {
	uint32_t res_id, ctx_id;
	uint32_t blob_mem, blob_flags;
	uint64_t blob_id, size;
	const struct iovec *iov; /* guest pages (GUEST / HOST3D_GUEST), valid until unref */
	unsigned niov;
};

struct gpu_backend_ops {
	int (*ctx_create)(void *b, uint32_t ctx_id, uint32_t capset, const char *name);
	void (*ctx_destroy)(void *b, uint32_t ctx_id);
	void (*ctx_attach)(void *b, uint32_t ctx_id, uint32_t res_id);
	void (*ctx_detach)(void *b, uint32_t ctx_id, uint32_t res_id);
	/* len is a multiple of 4; cmds may be modified. */
	int (*submit)(void *b, uint32_t ctx_id, void *cmds, uint32_t len);
	int (*blob_create)(void *b, const struct gpu_blob *blob);
	void (*resource_unref)(void *b, uint32_t res_id);
	/* A host mapping of the whole blob (page aligned), its size and GPU_MAP_CACHE_*. */
	int (*blob_map)(void *b, uint32_t res_id, void **host, uint64_t *size, uint32_t *map_info);
	void (*blob_unmap)(void *b, uint32_t res_id);
	/* Retire fence_id on (ctx, ring) once the work before it is done: gpu_fence_retired(). */
	int (*fence)(void *b, uint32_t ctx_id, uint32_t ring, uint64_t fence_id);
	/* Fill a capset; 0 or negative errno. */
	int (*fill_capset)(void *b, uint32_t id, uint32_t version, void *buf, uint32_t size);
};

struct gpu_window_ops {
	/* Make [off, off + size) of the window show host..host+size; *slot identifies it. */
	int (*map)(void *w, uint64_t off, void *host, uint64_t size, int *slot);
	/* Make it inaccessible again, at once. */
	void (*unmap)(void *w, int slot);
};

#define GPU_MAX_CAPSETS	     4
#define GPU_MAX_CONTEXTS     1024
#define GPU_MAX_RESOURCES    65536
#define GPU_MAX_MAPPINGS     1024
#define GPU_MAX_ENTRIES	     16384 /* backing pages of one resource */
#define GPU_MAX_CAPSET_SIZE  65536
#define GPU_MAX_REQUEST	     (64u << 20) /* one command, SUBMIT_3D included */
#define GPU_MAX_2D_DIMENSION 16384

struct gpu_res;
struct gpu_ctx;

struct gpu_state {
	const struct guest_mem *mem;
	const struct gpu_backend_ops *ops;
	void *backend;
	const struct gpu_window_ops *wops;
	void *window;
	uint64_t window_size; /* 0: no host-visible region */
	struct gpu_capset capsets[GPU_MAX_CAPSETS];
	unsigned ncapsets;

	struct gpu_res **res_buckets; /* hash of resources by id */
	unsigned nres, nmapped;
	struct gpu_ctx **ctx_buckets;
	unsigned nctx;
	uint32_t scanout_res; /* resource shown on scanout 0 (nothing displays it) */
};

/* What to do with a processed command's response. */
struct gpu_reply {
	uint8_t *buf; /* the response (points into gpu_state scratch or heap: see len) */
	uint32_t len;
	bool defer; /* hold it until (ctx_id, ring) retires fence_id */
	uint32_t ctx_id, ring;
	uint64_t fence_id;
};

int gpu_state_init(struct gpu_state *g, const struct guest_mem *mem,
		   const struct gpu_backend_ops *ops, void *backend,
		   const struct gpu_window_ops *wops, void *window, uint64_t window_size,
		   const struct gpu_capset *capsets, unsigned ncapsets);
/* Drop every context, mapping and resource (device reset, shutdown). */
void gpu_state_reset(struct gpu_state *g);
void gpu_state_destroy(struct gpu_state *g);

/*
 * Process one control- or cursor-queue command of len bytes. The response is
 * written to resp (at most resp_max bytes; GPU_RESP_MAX is always enough for
 * anything but GET_CAPSET, which is clipped) and described by *r.
 */
#define GPU_RESP_MAX 512
void gpu_cmd_process(struct gpu_state *g, void *req, size_t len, uint8_t *resp, size_t resp_max,
		     struct gpu_reply *r);

/* Does the context exist (fences of a destroyed context complete at once)? */
bool gpu_ctx_exists(struct gpu_state *g, uint32_t ctx_id);

const char *gpu_cmd_name(uint32_t type);

#endif
