/*
 * krunkit's REST API (--restful-uri): GET/POST /vm/state, served on a thread
 * of its own so that no client, however slow or malformed, holds up the VM.
 * A client of the public API: kiln_get_vm_state and kiln_stop.
 */
#ifndef KILN_CLI_REST_H
#define KILN_CLI_REST_H

#include <stdint.h>

#include "cli/rest_req.h"

/* Limits per server and per connection. */
#define REST_MAX_CLIENTS 32   /* more: the oldest connection is dropped */
#define REST_TIMEOUT_MS	 5000 /* to send a whole request and read the answer */
#define REST_LINGER_MS	 1000 /* reading what a client still sends after the answer */

struct rest_server;

/*
 * Listen on u (not REST_NONE) and serve VM context ctx. Call with SIGINT and
 * SIGTERM blocked: the thread inherits the mask. 0 or a negative errno.
 */
int rest_server_start(const struct rest_uri *u, uint32_t ctx, struct rest_server **out);

/* Stop serving, close every connection, remove the unix socket. NULL is fine. */
void rest_server_stop(struct rest_server *s);

#endif
