#include "gpu/virgl_backend.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "util/log.h"
#include "virtio/gpu_proto.h"

/* virglrenderer calls back with the cookie given to init: the one backend. */
static struct virgl_backend *the_backend;

static void write_context_fence(void *cookie, uint32_t ctx_id, uint32_t ring, uint64_t fence_id)
{
	struct virgl_backend *vb = cookie;

	vb->retired(vb->opaque, ctx_id, ring, fence_id);
}

static void write_fence(void *cookie, uint32_t fence)
{
	(void)cookie;
	(void)fence; /* ctx-0 fences: never created (no virgl GL) */
}

int virgl_backend_open(struct virgl_backend *vb, const char *path, int drm, virgl_fence_cb retired,
		       void *opaque, char *err, size_t errlen)
{
	static struct virgl_callbacks cbs = {
		.version = VIRGL_CALLBACKS_VERSION,
		.write_fence = write_fence,
		.write_context_fence = write_context_fence,
	};
	static const uint32_t wanted[] = { GPU_CAPSET_VENUS, GPU_CAPSET_DRM };
	int flags = VIRGL_INIT_VENUS | VIRGL_INIT_NO_VIRGL | VIRGL_INIT_RENDER_SERVER |
		    VIRGL_INIT_THREAD_SYNC | VIRGL_INIT_ASYNC_FENCE_CB;
	int ret;

	if (the_backend) {
		snprintf(err, errlen, "only one virtio-gpu device per process");
		return -EBUSY;
	}
	memset(vb, 0, sizeof(*vb));
	ret = virgl_lib_open(&vb->lib, path ? path : VIRGL_LIB_DEFAULT, err, errlen);
	if (ret)
		return ret;
	vb->retired = retired;
	vb->opaque = opaque;
	virgl_lib_route_log(&vb->lib);
	if (drm)
		flags |= VIRGL_INIT_DRM;
	ret = vb->lib.init(vb, flags, &cbs);
	if (ret) {
		snprintf(err, errlen,
			 "virglrenderer did not start its Venus render server (%d); is "
			 "virgl_render_server installed, or RENDER_SERVER_EXEC_PATH set?",
			 ret);
		virgl_lib_close(&vb->lib);
		return -EIO;
	}
	for (unsigned i = 0; i < sizeof(wanted) / sizeof(*wanted); i++) {
		uint32_t version = 0, size = 0;

		if (wanted[i] == GPU_CAPSET_DRM && !drm)
			continue;
		vb->lib.get_cap_set(wanted[i], &version, &size);
		if (size && size <= GPU_MAX_CAPSET_SIZE)
			vb->capsets[vb->ncapsets++] =
				(struct gpu_capset){ wanted[i], version, size };
	}
	if (!vb->ncapsets || vb->capsets[0].id != GPU_CAPSET_VENUS) {
		snprintf(err, errlen,
			 "this virglrenderer offers no Venus capset (built without Venus?)");
		vb->lib.cleanup(vb);
		virgl_lib_close(&vb->lib);
		return -ENOTSUP;
	}
	the_backend = vb;
	return 0;
}

void virgl_backend_close(struct virgl_backend *vb)
{
	if (the_backend != vb)
		return;
	vb->lib.cleanup(vb);
	/* The library stays loaded: its render-server threads may still be winding down. */
	the_backend = NULL;
}

static int ctx_create(void *b, uint32_t ctx_id, uint32_t capset, const char *name)
{
	struct virgl_backend *vb = b;

	return vb->lib.context_create_with_flags(ctx_id, capset & VIRGL_CTX_FLAG_CAPSET_MASK,
						 strlen(name), name);
}

static void ctx_destroy(void *b, uint32_t ctx_id)
{
	((struct virgl_backend *)b)->lib.context_destroy(ctx_id);
}

static void ctx_attach(void *b, uint32_t ctx_id, uint32_t res_id)
{
	((struct virgl_backend *)b)->lib.ctx_attach_resource((int)ctx_id, (int)res_id);
}

static void ctx_detach(void *b, uint32_t ctx_id, uint32_t res_id)
{
	((struct virgl_backend *)b)->lib.ctx_detach_resource((int)ctx_id, (int)res_id);
}

static int submit(void *b, uint32_t ctx_id, void *cmds, uint32_t len)
{
	return ((struct virgl_backend *)b)->lib.submit_cmd(cmds, (int)ctx_id, (int)(len / 4));
}

static int blob_create(void *b, const struct gpu_blob *blob)
{
	struct virgl_blob_args a = {
		.res_handle = blob->res_id,
		.ctx_id = blob->ctx_id,
		.blob_mem = blob->blob_mem,
		.blob_flags = blob->blob_flags,
		.blob_id = blob->blob_id,
		.size = blob->size,
		.iovecs = blob->iov,
		.num_iovs = blob->niov,
	};

	return ((struct virgl_backend *)b)->lib.resource_create_blob(&a);
}

static void resource_unref(void *b, uint32_t res_id)
{
	((struct virgl_backend *)b)->lib.resource_unref(res_id);
}

static int blob_map(void *b, uint32_t res_id, void **host, uint64_t *size, uint32_t *map_info)
{
	struct virgl_backend *vb = b;
	int ret = vb->lib.resource_map(res_id, host, size);

	if (ret)
		return ret < 0 ? ret : -ret;
	if (vb->lib.resource_get_map_info(res_id, map_info))
		*map_info = GPU_MAP_CACHE_CACHED;
	return 0;
}

static void blob_unmap(void *b, uint32_t res_id)
{
	((struct virgl_backend *)b)->lib.resource_unmap(res_id);
}

static int fence(void *b, uint32_t ctx_id, uint32_t ring, uint64_t fence_id)
{
	return ((struct virgl_backend *)b)
		->lib.context_create_fence(ctx_id, VIRGL_FENCE_FLAG_MERGEABLE, ring, fence_id);
}

static int fill_capset(void *b, uint32_t id, uint32_t version, void *buf, uint32_t size)
{
	struct virgl_backend *vb = b;

	(void)size; /* the buffer holds the capset's max_size, what fill_caps writes */
	vb->lib.fill_caps(id, version, buf);
	return 0;
}

const struct gpu_backend_ops virgl_backend_ops = {
	.ctx_create = ctx_create,
	.ctx_destroy = ctx_destroy,
	.ctx_attach = ctx_attach,
	.ctx_detach = ctx_detach,
	.submit = submit,
	.blob_create = blob_create,
	.resource_unref = resource_unref,
	.blob_map = blob_map,
	.blob_unmap = blob_unmap,
	.fence = fence,
	.fill_capset = fill_capset,
};
