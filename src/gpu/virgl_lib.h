/*
 * libvirglrenderer, loaded at run time. kiln neither builds against
 * virglrenderer's headers nor links it: the few types and flags used here are
 * declared below as the library's ABI (virglrenderer.h, stable since 1.0),
 * and every entry point is resolved with dlsym.
 */
#ifndef KILN_GPU_VIRGL_LIB_H
#define KILN_GPU_VIRGL_LIB_H

#include <stddef.h>
#include <stdint.h>

#define VIRGL_LIB_DEFAULT "libvirglrenderer.so.1"

/* virgl_renderer_init flags */
#define VIRGL_INIT_THREAD_SYNC	     (1 << 1)
#define VIRGL_INIT_USE_EXTERNAL_BLOB (1 << 5)
#define VIRGL_INIT_VENUS	     (1 << 6)
#define VIRGL_INIT_NO_VIRGL	     (1 << 7)
#define VIRGL_INIT_ASYNC_FENCE_CB    (1 << 8)
#define VIRGL_INIT_RENDER_SERVER     (1 << 9)
#define VIRGL_INIT_DRM		     (1 << 10)

#define VIRGL_CTX_FLAG_CAPSET_MASK 0xff
#define VIRGL_FENCE_FLAG_MERGEABLE (1u << 0)

#define VIRGL_BLOB_FD_DMABUF 1
#define VIRGL_BLOB_FD_OPAQUE 2
#define VIRGL_BLOB_FD_SHM    3

/* struct virgl_renderer_callbacks, version 3: what a per-context-fence
 * user needs. Later fields (version 4) are left out and unused. */
#define VIRGL_CALLBACKS_VERSION 3
struct virgl_callbacks {
	int version;
	void (*write_fence)(void *cookie, uint32_t fence);
	void *(*create_gl_context)(void *cookie, int scanout, void *param);
	void (*destroy_gl_context)(void *cookie, void *ctx);
	int (*make_current)(void *cookie, int scanout, void *ctx);
	int (*get_drm_fd)(void *cookie);
	void (*write_context_fence)(void *cookie, uint32_t ctx_id, uint32_t ring_idx,
				    uint64_t fence_id);
	int (*get_server_fd)(void *cookie, uint32_t version);
};

/* struct virgl_renderer_resource_create_blob_args */
struct virgl_blob_args {
	uint32_t res_handle;
	uint32_t ctx_id;
	uint32_t blob_mem;
	uint32_t blob_flags;
	uint64_t blob_id;
	uint64_t size;
	const void *iovecs;
	uint32_t num_iovs;
};

enum virgl_log_level { VIRGL_LOG_DEBUG, VIRGL_LOG_INFO, VIRGL_LOG_WARNING, VIRGL_LOG_ERROR };

struct virgl_lib {
	void *handle;
	int (*init)(void *cookie, int flags, struct virgl_callbacks *cb);
	void (*cleanup)(void *cookie);
	void (*get_cap_set)(uint32_t set, uint32_t *max_version, uint32_t *max_size);
	void (*fill_caps)(uint32_t set, uint32_t version, void *caps);
	int (*context_create_with_flags)(uint32_t ctx_id, uint32_t flags, uint32_t nlen,
					 const char *name);
	void (*context_destroy)(uint32_t ctx_id);
	int (*submit_cmd)(void *buf, int ctx_id, int ndw);
	int (*resource_create_blob)(const struct virgl_blob_args *args);
	int (*resource_export_blob)(uint32_t res_id, uint32_t *fd_type, int *fd);
	void (*resource_unref)(uint32_t res_id);
	void (*ctx_attach_resource)(int ctx_id, int res_id);
	void (*ctx_detach_resource)(int ctx_id, int res_id);
	int (*resource_map)(uint32_t res_id, void **map, uint64_t *size);
	int (*resource_unmap)(uint32_t res_id);
	int (*resource_get_map_info)(uint32_t res_id, uint32_t *map_info);
	int (*context_create_fence)(uint32_t ctx_id, uint32_t flags, uint32_t ring_idx,
				    uint64_t fence_id);
	void (*context_poll)(uint32_t ctx_id);
	int (*context_get_poll_fd)(uint32_t ctx_id);
	void (*set_log_callback)(void (*cb)(enum virgl_log_level, const char *, void *), void *data,
				 void (*free_data)(void *));
};

/*
 * dlopen path (a soname or a file) and resolve every entry point. 0, or
 * -ENOENT (not loadable) / -ENOSYS (an entry point is missing: older than
 * 1.0) with err saying which.
 */
int virgl_lib_open(struct virgl_lib *lib, const char *path, char *err, size_t errlen);
void virgl_lib_close(struct virgl_lib *lib);

/* Send virglrenderer's log messages to kiln's log. */
void virgl_lib_route_log(const struct virgl_lib *lib);

#endif
