#define _GNU_SOURCE
#include "gpu/virgl_lib.h"

#include <dlfcn.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "util/log.h"

/*
 * Every symbol kiln calls. virgl_set_log_callback arrived in 1.0.0, the
 * release whose Venus wire format current Mesa speaks, and there is no
 * version query: its presence is the version check.
 */
#define SYMBOLS(X)                                                                                 \
	X(init, "virgl_renderer_init")                                                             \
	X(cleanup, "virgl_renderer_cleanup")                                                       \
	X(get_cap_set, "virgl_renderer_get_cap_set")                                               \
	X(fill_caps, "virgl_renderer_fill_caps")                                                   \
	X(context_create_with_flags, "virgl_renderer_context_create_with_flags")                   \
	X(context_destroy, "virgl_renderer_context_destroy")                                       \
	X(submit_cmd, "virgl_renderer_submit_cmd")                                                 \
	X(resource_create_blob, "virgl_renderer_resource_create_blob")                             \
	X(resource_export_blob, "virgl_renderer_resource_export_blob")                             \
	X(resource_unref, "virgl_renderer_resource_unref")                                         \
	X(ctx_attach_resource, "virgl_renderer_ctx_attach_resource")                               \
	X(ctx_detach_resource, "virgl_renderer_ctx_detach_resource")                               \
	X(resource_map, "virgl_renderer_resource_map")                                             \
	X(resource_unmap, "virgl_renderer_resource_unmap")                                         \
	X(resource_get_map_info, "virgl_renderer_resource_get_map_info")                           \
	X(context_create_fence, "virgl_renderer_context_create_fence")                             \
	X(context_poll, "virgl_renderer_context_poll")                                             \
	X(context_get_poll_fd, "virgl_renderer_context_get_poll_fd")                               \
	X(set_log_callback, "virgl_set_log_callback")

int virgl_lib_open(struct virgl_lib *lib, const char *path, char *err, size_t errlen)
{
	const char *dlerr;

	memset(lib, 0, sizeof(*lib));
	lib->handle = dlopen(path, RTLD_NOW | RTLD_LOCAL);
	if (!lib->handle) {
		dlerr = dlerror();
		snprintf(err, errlen, "%s", dlerr ? dlerr : path);
		return -ENOENT;
	}
#define RESOLVE(field, name)                                                                       \
	*(void **)&lib->field = dlsym(lib->handle, name);                                          \
	if (!lib->field) {                                                                         \
		snprintf(err, errlen, "%s has no %s", path, name);                                 \
		virgl_lib_close(lib);                                                              \
		return -ENOSYS;                                                                    \
	}
	SYMBOLS(RESOLVE)
#undef RESOLVE
	return 0;
}

void virgl_lib_close(struct virgl_lib *lib)
{
	if (lib->handle)
		dlclose(lib->handle);
	memset(lib, 0, sizeof(*lib));
}

static void virgl_log(enum virgl_log_level level, const char *msg, void *data)
{
	static const enum log_level map[] = {
		[VIRGL_LOG_DEBUG] = LOG_DEBUG,
		[VIRGL_LOG_INFO] = LOG_INFO,
		[VIRGL_LOG_WARNING] = LOG_WARN,
		[VIRGL_LOG_ERROR] = LOG_ERROR,
	};
	size_t n = strlen(msg);

	(void)data;
	/* virglrenderer ends its messages with a newline; kiln's log adds its own. */
	while (n && msg[n - 1] == '\n')
		n--;
	log_msg((unsigned)level <= VIRGL_LOG_ERROR ? map[level] : LOG_DEBUG, "virglrenderer: %.*s",
		(int)n, msg);
}

void virgl_lib_route_log(const struct virgl_lib *lib)
{
	lib->set_log_callback(virgl_log, NULL, NULL);
}
