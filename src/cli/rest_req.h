/*
 * krunkit's REST API, the pure part: --restful-uri, one HTTP/1.x request
 * (bytes in, a decision out) and the response to it. No sockets, no state:
 * the server (rest.c) feeds it whatever a client sent, so a hostile client
 * meets only this code and its limits.
 */
#ifndef KILN_CLI_REST_REQ_H
#define KILN_CLI_REST_REQ_H

#include <stddef.h>
#include <stdint.h>

/* A request's head (request line and headers) and body at most; more is refused. */
#define REST_MAX_HEAD	  8192
#define REST_MAX_BODY	  1024
#define REST_MAX_REQUEST  (REST_MAX_HEAD + REST_MAX_BODY)
#define REST_MAX_RESPONSE 512
#define REST_PATH_MAX	  108 /* sun_path */

enum rest_scheme { REST_NONE, REST_TCP, REST_UNIX };

struct rest_uri {
	enum rest_scheme scheme;
	uint8_t addr[4];	  /* tcp: IPv4 address */
	uint16_t port;		  /* tcp */
	char path[REST_PATH_MAX]; /* unix */
};

/* tcp://IPV4|localhost:PORT, unix://PATH or none://. 0 or -EINVAL. */
int rest_parse_uri(const char *s, struct rest_uri *u);

enum rest_action {
	REST_ACT_NONE,	    /* answer with the error in status */
	REST_ACT_GET_STATE, /* GET /vm/state */
	REST_ACT_STOP,	    /* POST /vm/state {"state":"Stop"} */
	REST_ACT_HARD_STOP, /* POST /vm/state {"state":"HardStop"} */
};

struct rest_request {
	enum rest_action action;
	int status;	   /* 200, or the HTTP error to answer with */
	const char *error; /* status != 200: why, for the response body */
};

/*
 * Parse the request at the start of buf. -EAGAIN: incomplete, read more
 * (then len < REST_MAX_REQUEST); 0: req says what to do or which error to
 * answer with. Never reads past buf + len.
 */
int rest_parse_request(const char *buf, size_t len, struct rest_request *req);

/*
 * The JSON body of POST /vm/state: an object whose member "state" is a
 * string, copied to out (NUL-terminated; -EINVAL if it does not fit).
 * Other members are allowed, nesting up to a small depth. 0 or -EINVAL.
 */
int rest_json_state(const char *body, size_t len, char *out, size_t size);

/*
 * The whole HTTP response to req, into out (REST_MAX_RESPONSE bytes): for
 * status 200, the VM's state (enum kiln_vm_state) as vfkit's JSON; stop_ret
 * is kiln_stop's result for the stop actions. The response's length.
 */
size_t rest_response(const struct rest_request *req, int vm_state, int stop_ret, char *out);

#endif
