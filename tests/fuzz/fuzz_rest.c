/*
 * The REST API's parsers on arbitrary client bytes: the request parser on
 * every prefix a slow client could have sent so far (it must never read past
 * it, and a decided request stays decided), the JSON body parser, the
 * response, and --restful-uri.
 */
#include <errno.h>
#include <kiln.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "cli/rest_req.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct rest_request req;
	char out[REST_MAX_RESPONSE], state[16], *copy;
	size_t step = size / 64 + 1, decided = 0;

	if (size > REST_MAX_REQUEST)
		size = REST_MAX_REQUEST;
	/* An exact-size copy: ASan sees any read past what the client sent. */
	copy = malloc(size ? size : 1);
	if (!copy)
		return 0;
	memcpy(copy, data, size);
	for (size_t n = 0; n <= size; n += step) {
		int ret = rest_parse_request(copy, n, &req);

		if (ret == -EAGAIN) {
			if (decided || n >= REST_MAX_REQUEST)
				abort();
			continue;
		}
		if (ret || !req.status || (req.status != 200 && req.action != REST_ACT_NONE))
			abort();
		decided = decided ? decided : n ? n : 1;
		rest_response(&req, KILN_VM_RUNNING, 0, out);
	}
	if (rest_parse_request(copy, size, &req) == -EAGAIN && size == REST_MAX_REQUEST)
		abort();
	rest_json_state(copy, size, state, sizeof(state));
	if (size < 256) {
		char uri[256];
		struct rest_uri u;

		memcpy(uri, copy, size);
		uri[size] = 0;
		rest_parse_uri(uri, &u);
	}
	free(copy);
	return 0;
}
