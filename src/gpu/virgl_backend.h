/*
 * The virtio-gpu device's renderer: virglrenderer (loaded with dlopen) with
 * its Venus render server. virglrenderer keeps global state, so there is one
 * per process.
 */
#ifndef KILN_GPU_VIRGL_BACKEND_H
#define KILN_GPU_VIRGL_BACKEND_H

#include <stddef.h>
#include <stdint.h>

#include "gpu/virgl_lib.h"
#include "virtio/gpu_cmd.h"

/* Called on a virglrenderer thread when fence_id of (ctx_id, ring) has retired. */
typedef void (*virgl_fence_cb)(void *opaque, uint32_t ctx_id, uint32_t ring, uint64_t fence_id);

struct virgl_backend {
	struct virgl_lib lib;
	virgl_fence_cb retired;
	void *opaque;
	struct gpu_capset capsets[GPU_MAX_CAPSETS];
	unsigned ncapsets;
};

/*
 * Load virglrenderer from path (NULL: the default soname), start it with
 * Venus in its render server (and DRM native contexts if drm), and list
 * the capsets it offers. On failure err says what is missing.
 */
int virgl_backend_open(struct virgl_backend *vb, const char *path, int drm, virgl_fence_cb retired,
		       void *opaque, char *err, size_t errlen);
void virgl_backend_close(struct virgl_backend *vb);

extern const struct gpu_backend_ops virgl_backend_ops;

#endif
