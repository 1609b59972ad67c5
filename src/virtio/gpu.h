#ifndef KILN_VIRTIO_GPU_H
#define KILN_VIRTIO_GPU_H

#include <stdbool.h>
#include <stdint.h>

struct vm;

/* libkrun's default host-visible window (krun_set_gpu_options). */
#define VIRTIO_GPU_DEFAULT_WINDOW (8ULL << 30)

struct virtio_gpu_config {
	const char *virgl_path; /* NULL: libvirglrenderer.so.1 */
	uint64_t window_size;	/* 0: the default */
	bool drm;		/* also offer DRM native contexts where virglrenderer has them */
};

/* virtio-gpu with Venus (3D, blobs, context init, host-visible window) over virglrenderer. */
int virtio_gpu_create(struct vm *vm, const struct virtio_gpu_config *cfg);

#endif
