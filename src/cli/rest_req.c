/* krunkit's REST API: the URI, the HTTP request parser and the JSON body parser (pure). */
#define _GNU_SOURCE
#include "cli/rest_req.h"

#include <errno.h>
#include <kiln.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#define STATE_PATH     "/vm/state"
#define JSON_MAX_DEPTH 16

/* ---- --restful-uri ---- */

static int parse_port(const char *s, uint16_t *port)
{
	unsigned v = 0;

	if (!*s || strlen(s) > 5)
		return -EINVAL;
	for (; *s; s++) {
		if (*s < '0' || *s > '9')
			return -EINVAL;
		v = v * 10 + (unsigned)(*s - '0');
	}
	if (v == 0 || v > 65535)
		return -EINVAL;
	*port = v;
	return 0;
}

/* Dotted-quad IPv4, four decimal parts 0..255 without leading zeros. */
static int parse_ipv4(const char *s, size_t len, uint8_t addr[4])
{
	size_t i = 0;

	for (int part = 0; part < 4; part++) {
		unsigned v = 0, digits = 0;

		if (part && (i >= len || s[i++] != '.'))
			return -EINVAL;
		while (i < len && s[i] >= '0' && s[i] <= '9' && digits < 4) {
			if (digits && v == 0)
				return -EINVAL;
			v = v * 10 + (unsigned)(s[i++] - '0');
			digits++;
		}
		if (!digits || v > 255)
			return -EINVAL;
		addr[part] = v;
	}
	return i == len ? 0 : -EINVAL;
}

int rest_parse_uri(const char *s, struct rest_uri *u)
{
	memset(u, 0, sizeof(*u));
	if (!strcmp(s, "none://")) {
		u->scheme = REST_NONE;
		return 0;
	}
	if (!strncmp(s, "unix://", 7)) {
		s += 7;
		if (!*s || strlen(s) >= sizeof(u->path))
			return -EINVAL;
		u->scheme = REST_UNIX;
		strcpy(u->path, s);
		return 0;
	}
	if (!strncmp(s, "tcp://", 6)) {
		const char *colon;

		s += 6;
		colon = strrchr(s, ':');
		if (!colon || parse_port(colon + 1, &u->port))
			return -EINVAL;
		if ((size_t)(colon - s) == 9 && !strncmp(s, "localhost", 9))
			memcpy(u->addr, (uint8_t[4]){ 127, 0, 0, 1 }, 4);
		else if (parse_ipv4(s, (size_t)(colon - s), u->addr))
			return -EINVAL;
		u->scheme = REST_TCP;
		return 0;
	}
	return -EINVAL;
}

/* ---- HTTP/1.x request ---- */

static bool is_tchar(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       (c && strchr("!#$%&'*+-.^_`|~", c));
}

/* A header value's bytes: visible ASCII, space, tab, and anything above 0x7f. */
static bool is_field_char(unsigned char c)
{
	return c == ' ' || c == '\t' || (c > 0x20 && c != 0x7f);
}

/* Answer with an error; -1, which the parser's helpers return to say "decided". */
static int reject(struct rest_request *req, int status, const char *why)
{
	req->action = REST_ACT_NONE;
	req->status = status;
	req->error = why;
	return -1;
}

/* The end of the line starting at p (the index of its LF), or -1 if none before end. */
static long line_end(const char *buf, size_t p, size_t end)
{
	const char *lf = memchr(buf + p, '\n', end - p);

	return lf ? lf - buf : -1;
}

/* Line [p, lf) without its CR; a CR anywhere else is malformed. -1 for a bad line. */
static long content_end(const char *buf, size_t p, size_t lf)
{
	size_t e = lf;

	if (e > p && buf[e - 1] == '\r')
		e--;
	return memchr(buf + p, '\r', e - p) ? -1 : (long)e;
}

struct head {
	const char *method, *target;
	size_t method_len, target_len;
	long content_length; /* -1: none */
	bool chunked;
};

static int parse_request_line(const char *l, size_t n, struct head *h, struct rest_request *req)
{
	const char *sp1 = memchr(l, ' ', n), *sp2, *ver;
	size_t vlen;

	if (!sp1 || sp1 == l)
		return reject(req, 400, "malformed request line");
	h->method = l;
	h->method_len = (size_t)(sp1 - l);
	for (size_t i = 0; i < h->method_len; i++)
		if (!is_tchar((unsigned char)l[i]))
			return reject(req, 400, "malformed method");
	h->target = sp1 + 1;
	sp2 = memchr(h->target, ' ', n - (size_t)(h->target - l));
	if (!sp2 || sp2 == h->target)
		return reject(req, 400, "malformed request line");
	h->target_len = (size_t)(sp2 - h->target);
	for (size_t i = 0; i < h->target_len; i++)
		if ((unsigned char)h->target[i] <= 0x20 || (unsigned char)h->target[i] >= 0x7f)
			return reject(req, 400, "malformed request target");
	if (h->target[0] != '/')
		return reject(req, 400, "the request target must be a path");
	ver = sp2 + 1;
	vlen = n - (size_t)(ver - l);
	if (vlen == 8 && (!memcmp(ver, "HTTP/1.1", 8) || !memcmp(ver, "HTTP/1.0", 8)))
		return 0;
	if (vlen >= 5 && !memcmp(ver, "HTTP/", 5))
		return reject(req, 505, "only HTTP/1.0 and HTTP/1.1 are served");
	return reject(req, 400, "malformed HTTP version");
}

static bool name_is(const char *name, size_t len, const char *want)
{
	return strlen(want) == len && !strncasecmp(name, want, len);
}

static int parse_header(const char *l, size_t n, struct head *h, struct rest_request *req)
{
	const char *colon = memchr(l, ':', n), *v;
	size_t nlen, vlen;

	if (!colon || colon == l)
		return reject(req, 400, "malformed header");
	nlen = (size_t)(colon - l);
	for (size_t i = 0; i < nlen; i++)
		if (!is_tchar((unsigned char)l[i]))
			return reject(req, 400, "malformed header name");
	v = colon + 1;
	vlen = n - nlen - 1;
	for (size_t i = 0; i < vlen; i++)
		if (!is_field_char((unsigned char)v[i]))
			return reject(req, 400, "malformed header value");
	while (vlen && (*v == ' ' || *v == '\t'))
		v++, vlen--;
	while (vlen && (v[vlen - 1] == ' ' || v[vlen - 1] == '\t'))
		vlen--;
	if (name_is(l, nlen, "Transfer-Encoding")) {
		h->chunked = true;
	} else if (name_is(l, nlen, "Content-Length")) {
		long cl = 0;

		if (!vlen || vlen > 9)
			return reject(req, vlen > 9 ? 413 : 400, "bad Content-Length");
		for (size_t i = 0; i < vlen; i++) {
			if (v[i] < '0' || v[i] > '9')
				return reject(req, 400, "bad Content-Length");
			cl = cl * 10 + (v[i] - '0');
		}
		if (h->content_length >= 0 && h->content_length != cl)
			return reject(req, 400, "conflicting Content-Length headers");
		h->content_length = cl;
	}
	return 0;
}

/* The target's path without its query and one trailing slash, as krunkit compares it. */
static bool target_is_state(const char *t, size_t len)
{
	size_t n = 0;

	while (n < len && t[n] != '?' && t[n] != '#')
		n++;
	if (n > 1 && t[n - 1] == '/')
		n--;
	return n == strlen(STATE_PATH) && !memcmp(t, STATE_PATH, n);
}

static bool method_is(const struct head *h, const char *m)
{
	return h->method_len == strlen(m) && !memcmp(h->method, m, h->method_len);
}

static int decide(const struct head *h, const char *body, size_t blen, struct rest_request *req)
{
	char state[16];

	if (!target_is_state(h->target, h->target_len))
		return reject(req, 404, "no such resource (only /vm/state)");
	if (method_is(h, "GET")) {
		req->action = REST_ACT_GET_STATE;
	} else if (!method_is(h, "POST")) {
		return reject(req, 405, "only GET and POST are allowed on /vm/state");
	} else if (rest_json_state(body, blen, state, sizeof(state))) {
		return reject(req, 400, "missing or invalid 'state' field");
	} else if (!strcmp(state, "Stop")) {
		req->action = REST_ACT_STOP;
	} else if (!strcmp(state, "HardStop")) {
		req->action = REST_ACT_HARD_STOP;
	} else {
		return reject(req, 400, "unsupported state change (only Stop and HardStop)");
	}
	req->status = 200;
	return 0;
}

/* 0: a request to act on; -1: an error to answer (both in req); -EAGAIN: read more. */
static int parse(const char *buf, size_t len, struct rest_request *req)
{
	struct head h = { .content_length = -1 };
	size_t p = 0, limit = len < REST_MAX_HEAD ? len : REST_MAX_HEAD;
	bool first = true;

	for (;;) {
		long lf = line_end(buf, p, limit), e;

		if (lf < 0)
			return len < REST_MAX_HEAD ? -EAGAIN
						   : reject(req, 431, "request head too large");
		e = content_end(buf, p, (size_t)lf);
		if (e < 0)
			return reject(req, 400, "stray CR in the request head");
		if (first) {
			if (parse_request_line(buf + p, (size_t)e - p, &h, req))
				return -1;
			first = false;
		} else if ((size_t)e == p) {
			p = (size_t)lf + 1;
			break;
		} else if (buf[p] == ' ' || buf[p] == '\t') {
			return reject(req, 400, "folded header lines are not allowed");
		} else if (parse_header(buf + p, (size_t)e - p, &h, req)) {
			return -1;
		}
		p = (size_t)lf + 1;
	}
	if (h.chunked)
		return reject(req, 501, "Transfer-Encoding is not supported");
	if (h.content_length > REST_MAX_BODY)
		return reject(req, 413, "request body too large");
	if (h.content_length < 0)
		h.content_length = 0;
	if (len - p < (size_t)h.content_length)
		return -EAGAIN;
	return decide(&h, buf + p, (size_t)h.content_length, req);
}

int rest_parse_request(const char *buf, size_t len, struct rest_request *req)
{
	memset(req, 0, sizeof(*req));
	return parse(buf, len, req) == -EAGAIN ? -EAGAIN : 0;
}

/* ---- JSON: just enough to read {"state": "..."} strictly ---- */

struct json {
	const char *s;
	size_t len, pos;
};

static void json_ws(struct json *j)
{
	while (j->pos < j->len && strchr(" \t\r\n", j->s[j->pos]) && j->s[j->pos])
		j->pos++;
}

static bool json_lit(struct json *j, const char *lit)
{
	size_t n = strlen(lit);

	if (j->len - j->pos < n || memcmp(j->s + j->pos, lit, n))
		return false;
	j->pos += n;
	return true;
}

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/*
 * A string at j->pos; its text into out (size > 0; NULL: skip it). Escapes are
 * decoded; a \u escape beyond ASCII becomes '?', which no state name holds.
 * -EINVAL if malformed or longer than out.
 */
static int json_string(struct json *j, char *out, size_t size)
{
	size_t n = 0;

	if (j->pos >= j->len || j->s[j->pos] != '"')
		return -EINVAL;
	j->pos++;
	while (j->pos < j->len) {
		unsigned char c = (unsigned char)j->s[j->pos++];

		if (c == '"') {
			if (out)
				out[n] = 0;
			return 0;
		}
		if (c < 0x20)
			return -EINVAL;
		if (c == '\\') {
			const char *esc = "\"\\/bfnrt", *dec = "\"\\/\b\f\n\r\t", *hit;

			if (j->pos >= j->len)
				return -EINVAL;
			c = (unsigned char)j->s[j->pos++];
			if (c == 'u') {
				unsigned v = 0;

				if (j->len - j->pos < 4)
					return -EINVAL;
				for (int i = 0; i < 4; i++) {
					int h = hexval(j->s[j->pos++]);

					if (h < 0)
						return -EINVAL;
					v = v << 4 | (unsigned)h;
				}
				c = v && v < 0x80 ? (unsigned char)v : '?';
			} else if (c && (hit = strchr(esc, c))) {
				c = (unsigned char)dec[hit - esc];
			} else {
				return -EINVAL;
			}
		}
		if (out) {
			if (n + 1 >= size)
				return -EINVAL;
			out[n++] = (char)c;
		}
	}
	return -EINVAL;
}

static bool is_digit(const struct json *j)
{
	return j->pos < j->len && j->s[j->pos] >= '0' && j->s[j->pos] <= '9';
}

static int json_number(struct json *j)
{
	if (j->pos < j->len && j->s[j->pos] == '-')
		j->pos++;
	if (!is_digit(j))
		return -EINVAL;
	if (j->s[j->pos] == '0')
		j->pos++;
	else
		while (is_digit(j))
			j->pos++;
	if (j->pos < j->len && j->s[j->pos] == '.') {
		j->pos++;
		if (!is_digit(j))
			return -EINVAL;
		while (is_digit(j))
			j->pos++;
	}
	if (j->pos < j->len && (j->s[j->pos] == 'e' || j->s[j->pos] == 'E')) {
		j->pos++;
		if (j->pos < j->len && (j->s[j->pos] == '+' || j->s[j->pos] == '-'))
			j->pos++;
		if (!is_digit(j))
			return -EINVAL;
		while (is_digit(j))
			j->pos++;
	}
	return 0;
}

static int json_value(struct json *j, int depth);

/*
 * An object or array at j->pos (its opening bracket). For the top-level
 * object (state != NULL), the member "state" must be there once, a string.
 */
static int json_container(struct json *j, int depth, char *state, size_t size)
{
	bool object = j->s[j->pos] == '{', found = false;
	char close = object ? '}' : ']';

	if (depth >= JSON_MAX_DEPTH)
		return -EINVAL;
	j->pos++;
	json_ws(j);
	if (j->pos < j->len && j->s[j->pos] == close) {
		j->pos++;
		return state ? -EINVAL : 0;
	}
	for (;;) {
		bool is_state = false;

		if (object) {
			char key[8];
			size_t at = j->pos;

			/* Keys longer than "state" are skipped, not refused. */
			if (json_string(j, key, sizeof(key))) {
				j->pos = at;
				if (json_string(j, NULL, 0))
					return -EINVAL;
			} else {
				is_state = state && !strcmp(key, "state");
			}
			json_ws(j);
			if (j->pos >= j->len || j->s[j->pos] != ':')
				return -EINVAL;
			j->pos++;
			json_ws(j);
		}
		if (is_state) {
			if (found || json_string(j, state, size))
				return -EINVAL;
			found = true;
		} else if (json_value(j, depth + 1)) {
			return -EINVAL;
		}
		json_ws(j);
		if (j->pos >= j->len)
			return -EINVAL;
		if (j->s[j->pos] == close) {
			j->pos++;
			return state && !found ? -EINVAL : 0;
		}
		if (j->s[j->pos++] != ',')
			return -EINVAL;
		json_ws(j);
	}
}

static int json_value(struct json *j, int depth)
{
	if (j->pos >= j->len)
		return -EINVAL;
	switch (j->s[j->pos]) {
	case '{':
	case '[':
		return json_container(j, depth, NULL, 0);
	case '"':
		return json_string(j, NULL, 0);
	case 't':
		return json_lit(j, "true") ? 0 : -EINVAL;
	case 'f':
		return json_lit(j, "false") ? 0 : -EINVAL;
	case 'n':
		return json_lit(j, "null") ? 0 : -EINVAL;
	default:
		return json_number(j);
	}
}

int rest_json_state(const char *body, size_t len, char *out, size_t size)
{
	struct json j = { body, len, 0 };

	if (!size)
		return -EINVAL;
	json_ws(&j);
	if (j.pos >= j.len || j.s[j.pos] != '{' || json_container(&j, 0, out, size))
		return -EINVAL;
	json_ws(&j);
	return j.pos == j.len ? 0 : -EINVAL;
}

/* ---- The response ---- */

static const char *reason(int status)
{
	switch (status) {
	case 200:
		return "OK";
	case 400:
		return "Bad Request";
	case 404:
		return "Not Found";
	case 405:
		return "Method Not Allowed";
	case 408:
		return "Request Timeout";
	case 409:
		return "Conflict";
	case 413:
		return "Content Too Large";
	case 431:
		return "Request Header Fields Too Large";
	case 501:
		return "Not Implemented";
	case 505:
		return "HTTP Version Not Supported";
	default:
		return "Internal Server Error";
	}
}

static const char *state_name(int vm_state)
{
	switch (vm_state) {
	case KILN_VM_RUNNING:
		return "VirtualMachineStateRunning";
	case KILN_VM_STOPPING:
		return "VirtualMachineStateStopping";
	case KILN_VM_STOPPED:
		return "VirtualMachineStateStopped";
	default:
		return "VirtualMachineStateStarting";
	}
}

static const char *tf(bool b)
{
	return b ? "true" : "false";
}

size_t rest_response(const struct rest_request *req, int vm_state, int stop_ret, char *out)
{
	char body[256];
	int status = req->status, n;
	bool running = vm_state == KILN_VM_RUNNING;
	bool alive = vm_state != KILN_VM_STOPPED; /* a hard stop works until the VM is gone */

	if (status == 200 && req->action != REST_ACT_GET_STATE && stop_ret) {
		status = stop_ret == -ESRCH ? 409 : 500;
		snprintf(body, sizeof(body), "{\"error\":\"%s\"}",
			 stop_ret == -ESRCH ? "the VM is not running" : "cannot stop the VM");
	} else if (status == 200) {
		/* vfkit's shape; kiln can neither start, pause nor resume a VM. */
		snprintf(body, sizeof(body),
			 "{\"state\":\"%s\",\"canStart\":false,\"canPause\":false,"
			 "\"canResume\":false,\"canStop\":%s,\"canHardStop\":%s}",
			 state_name(vm_state), tf(running), tf(alive));
	} else {
		snprintf(body, sizeof(body), "{\"error\":\"%s\"}", req->error ? req->error : "");
	}
	n = snprintf(out, REST_MAX_RESPONSE,
		     "HTTP/1.1 %d %s\r\nContent-Type: application/json\r\nContent-Length: %zu\r\n"
		     "%sConnection: close\r\n\r\n%s",
		     status, reason(status), strlen(body),
		     status == 405 ? "Allow: GET, POST\r\n" : "", body);
	return n < 0 ? 0 : n >= REST_MAX_RESPONSE ? REST_MAX_RESPONSE - 1 : (size_t)n;
}
