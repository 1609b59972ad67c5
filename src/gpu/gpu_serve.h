/*
 * kiln gpu-serve: Venus over the vtest protocol on a unix socket, for
 * clients on this host (containers get the socket as a bind mount). Each
 * client is served by its own process; see docs/gpu-socket.md.
 */
#ifndef KILN_GPU_GPU_SERVE_H
#define KILN_GPU_GPU_SERVE_H

#include <stdbool.h>

struct gpu_serve_opts {
	const char *socket_path;
	const char *virgl_lib; /* NULL: libvirglrenderer.so.1 */
	bool no_bridge;	       /* leave VK_LAYER_KILN_hostmem out of the render server */
	char error[512];       /* why gpu_serve failed */
};

/*
 * Serve until SIGINT or SIGTERM, then stop the clients' processes and remove
 * the socket: 0. Before serving, -errno with o->error set.
 */
int gpu_serve(struct gpu_serve_opts *o);

#endif
