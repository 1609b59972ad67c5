/*
 * A FUSE passthrough server for virtio-fs: guest requests become operations
 * on one host directory.
 *
 * Every inode the guest knows is held by an O_PATH file descriptor, never by
 * a path: names from the guest are single components (no '/', never "." or
 * ".."), resolved with *at() calls relative to their parent's fd and without
 * following symlinks, so neither "..", nor symlinks, nor renames racing with
 * lookups lead outside the shared directory. Only regular files and
 * directories are ever opened on the host (device nodes made by the guest
 * stay inert). Every id, handle, length and name in a request is checked; a
 * bad request gets an error reply and nothing else happens.
 *
 * Requests may be handled concurrently from several threads.
 */
#ifndef KILN_FS_FUSE_SERVER_H
#define KILN_FS_FUSE_SERVER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

/* A file in the top directory served from memory (the init, the workload's config). */
struct fuse_overlay {
	const char *name;
	const uint8_t *data;
	size_t len;
	uint32_t mode; /* S_IFREG | permissions */
	bool one_shot; /* found by one lookup only */
};

#define FUSE_SERVER_MAX_OVERLAYS 8

struct fuse_server_config {
	const char *path; /* the shared directory */
	bool read_only;
	struct fuse_overlay overlays[FUSE_SERVER_MAX_OVERLAYS];
	unsigned noverlays;
	/* Called when the guest init reports the workload's exit status (may be NULL). */
	void (*exit_status)(void *opaque, int status);
	void *opaque;
};

/* The largest WRITE the server accepts, and so the guest's max_write. */
#define FUSE_SERVER_MAX_WRITE (1u << 20)

struct fuse_server;

/* Open the shared directory; -errno (ENOTDIR, ENOENT, EACCES...) on failure. */
int fuse_server_new(const struct fuse_server_config *cfg, struct fuse_server **out);
void fuse_server_free(struct fuse_server *s);

/*
 * Handle one request: req are the device-readable segments (the request),
 * rep the device-writable ones (the reply). Returns the number of bytes
 * written to rep (0 for requests without a reply, such as FORGET).
 */
uint32_t fuse_server_handle(struct fuse_server *s, const struct iovec *req, unsigned nreq,
			    const struct iovec *rep, unsigned nrep);

/*
 * Call once on each thread that handles requests: it gets its own umask of 0
 * (the guest applied its umask already), leaving the process's alone.
 */
void fuse_server_thread_init(void);

/* Forget every inode and handle (the guest reset the device or unmounted). */
void fuse_server_reset(struct fuse_server *s);

#endif
