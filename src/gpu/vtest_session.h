/*
 * One vtest client, served in its own process: virglrenderer is initialised
 * here, its state (and the render server it spawns) belongs to this client
 * alone, and the process ends when the client goes away or breaks the
 * protocol.
 */
#ifndef KILN_GPU_VTEST_SESSION_H
#define KILN_GPU_VTEST_SESSION_H

#include "gpu/virgl_lib.h"

/*
 * Serve the connected socket fd until the client disconnects (0) or is
 * dropped (-errno, with the reason logged). id names the client in log
 * messages.
 */
int vtest_session_run(const struct virgl_lib *lib, int fd, unsigned id);

#endif
