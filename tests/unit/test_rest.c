/* krunkit's REST API, the pure part: --restful-uri, the request parser, the JSON body, answers. */
#include <errno.h>
#include <kiln.h>
#include <string.h>

#include "check.h"
#include "cli/rest_req.h"

static void test_uri(void)
{
	struct rest_uri u;
	const char *bad[] = {
		"",
		"none",
		"none://x",
		"tcp://",
		"tcp://127.0.0.1",
		"tcp://127.0.0.1:",
		"tcp://127.0.0.1:0",
		"tcp://127.0.0.1:65536",
		"tcp://127.0.0.1:80x",
		"tcp://256.0.0.1:80",
		"tcp://1.2.3:80",
		"tcp://1.2.3.4.5:80",
		"tcp://01.2.3.4:80",
		"tcp://example.com:80",
		"tcp://:80",
		"unix://",
		"http://127.0.0.1:80",
		"unix://0123456789012345678901234567890123456789012345678901234567890123456789"
		"0123456789012345678901234567890123456789",
		NULL
	};

	CHECK(!rest_parse_uri("none://", &u) && u.scheme == REST_NONE, "none://");
	CHECK(!rest_parse_uri("tcp://localhost:8081", &u) && u.scheme == REST_TCP &&
		      u.port == 8081 && u.addr[0] == 127 && u.addr[3] == 1,
	      "tcp://localhost:8081");
	CHECK(!rest_parse_uri("tcp://10.0.2.255:1", &u) && u.addr[0] == 10 && u.addr[2] == 2 &&
		      u.addr[3] == 255 && u.port == 1,
	      "tcp://10.0.2.255:1");
	CHECK(!rest_parse_uri("unix:///run/k.sock", &u) && u.scheme == REST_UNIX &&
		      !strcmp(u.path, "/run/k.sock"),
	      "unix:///run/k.sock");
	for (int i = 0; bad[i]; i++)
		CHECK(rest_parse_uri(bad[i], &u) == -EINVAL, "accepted URI '%s'", bad[i]);
}

static int parse(const char *s, struct rest_request *r)
{
	return rest_parse_request(s, strlen(s), r);
}

static void expect(const char *s, int status, enum rest_action action)
{
	struct rest_request r;
	int ret = parse(s, &r);

	CHECK(ret == 0 && r.status == status && r.action == action,
	      "'%s': ret %d status %d action %d, expected %d/%d", s, ret, r.status, r.action,
	      status, action);
}

static void test_requests(void)
{
	struct rest_request r;
	char big[REST_MAX_HEAD + 64];

	expect("GET /vm/state HTTP/1.1\r\nHost: x\r\n\r\n", 200, REST_ACT_GET_STATE);
	expect("GET /vm/state HTTP/1.0\n\n", 200, REST_ACT_GET_STATE);
	expect("GET /vm/state/ HTTP/1.1\r\n\r\n", 200, REST_ACT_GET_STATE);
	expect("GET /vm/state?x=1 HTTP/1.1\r\n\r\n", 200, REST_ACT_GET_STATE);
	expect("POST /vm/state HTTP/1.1\r\nContent-Length: 16\r\n\r\n{\"state\":\"Stop\"}", 200,
	       REST_ACT_STOP);
	expect("POST /vm/state HTTP/1.1\r\ncontent-length:  40 \r\n\r\n"
	       " { \"x\": [1, {}], \"state\" : \"HardStop\" } ",
	       200, REST_ACT_HARD_STOP);
	/* Errors: the status is the answer. */
	expect("GET /vm/inspect HTTP/1.1\r\n\r\n", 404, REST_ACT_NONE);
	expect("GET /vm/statex HTTP/1.1\r\n\r\n", 404, REST_ACT_NONE);
	expect("GET / HTTP/1.1\r\n\r\n", 404, REST_ACT_NONE);
	expect("DELETE /vm/state HTTP/1.1\r\n\r\n", 405, REST_ACT_NONE);
	expect("get /vm/state HTTP/1.1\r\n\r\n", 405, REST_ACT_NONE);
	expect("PUT /nope HTTP/1.1\r\n\r\n", 404, REST_ACT_NONE);
	expect("POST /vm/state HTTP/1.1\r\n\r\n", 400, REST_ACT_NONE);
	expect("POST /vm/state HTTP/1.1\r\nContent-Length: 17\r\n\r\n{\"state\":\"Pause\"}", 400,
	       REST_ACT_NONE);
	expect("POST /vm/state HTTP/1.1\r\nContent-Length: 8\r\n\r\nnot json", 400, REST_ACT_NONE);
	expect("POST /vm/state HTTP/1.1\r\nContent-Length: 33\r\n\r\n"
	       "{\"state\":\"Stop\",\"state\":\"Stop\"}  ",
	       400, REST_ACT_NONE);
	expect("POST /vm/state HTTP/1.1\r\nContent-Length: 10\r\n\r\n{\"state\":1}", 400,
	       REST_ACT_NONE);
	expect("POST /vm/state HTTP/1.1\r\nContent-Length: 5000\r\n\r\n", 413, REST_ACT_NONE);
	expect("POST /vm/state HTTP/1.1\r\nContent-Length: 99999999999\r\n\r\n", 413,
	       REST_ACT_NONE);
	expect("POST /vm/state HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nab", 400,
	       REST_ACT_NONE);
	expect("POST /vm/state HTTP/1.1\r\nContent-Length: -1\r\n\r\n", 400, REST_ACT_NONE);
	expect("POST /vm/state HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n", 501, REST_ACT_NONE);
	expect("garbage\r\n", 400, REST_ACT_NONE);
	expect("GET  /vm/state HTTP/1.1\r\n\r\n", 400, REST_ACT_NONE);
	expect("GET vm/state HTTP/1.1\r\n\r\n", 400, REST_ACT_NONE);
	expect("GET /vm/state HTTP/2.0\r\n\r\n", 505, REST_ACT_NONE);
	expect("GET /vm/state FTP/1.1\r\n\r\n", 400, REST_ACT_NONE);
	expect("GET /vm/state HTTP/1.1\r\nBad Header\r\n\r\n", 400, REST_ACT_NONE);
	expect("GET /vm/state HTTP/1.1\r\nX: a\r\n folded\r\n\r\n", 400, REST_ACT_NONE);
	expect("GET /vm/state HTTP/1.1\r\nX: a\rb\r\n\r\n", 400, REST_ACT_NONE);
	expect("GET /vm/st\x01te HTTP/1.1\r\n\r\n", 400, REST_ACT_NONE);
	/* Incomplete: read more. */
	CHECK(parse("", &r) == -EAGAIN, "empty");
	CHECK(parse("GET /vm/state HTTP/1.1\r\nHost: x\r\n", &r) == -EAGAIN, "head without end");
	CHECK(parse("POST /vm/state HTTP/1.1\r\nContent-Length: 16\r\n\r\n{\"state\"", &r) ==
		      -EAGAIN,
	      "body not complete");
	/* A head over the limit, with or without line ends. */
	memset(big, 'a', sizeof(big));
	CHECK(rest_parse_request(big, sizeof(big), &r) == 0 && r.status == 431,
	      "a long first line is refused (%d)", r.status);
	memcpy(big, "GET /", 5);
	CHECK(rest_parse_request(big, sizeof(big), &r) == 0 && r.status == 431, "long target %d",
	      r.status);
	CHECK(rest_parse_request(big, REST_MAX_HEAD - 1, &r) == -EAGAIN, "just under the limit");
}

static void test_json(void)
{
	char out[16];
	const char *good[] = { "{\"state\":\"Stop\"}",
			       "{\"a\":null,\"b\":true,\"c\":-1.5e3,"
			       "\"state\":\"St\\u006fp\",\"d\":[[]]}",
			       NULL };
	const char *bad[] = {
		"",
		"{}",
		"[]",
		"{\"state\":\"Stop\"",
		"{\"state\":\"Stop\"}x",
		"{\"state\":\"Stop\",}",
		"{\"state\":Stop}",
		"{\"state\":\"Stop\",\"x\":01}",
		"{\"state\":\"Stop\",\"x\":tru}",
		"{\"state\":\"Stop\",\"x\":\"\\q\"}",
		"{\"state\":\"Stop\",\"x\":\"\\u12\"}",
		"{\"state\":\"a very long state name\"}",
		"{\"state\":\"Stop\",\"x\":[[[[[[[[[[[[[[[[[[[[[[]]]]]]]]]]]]]]]]]]]]]}",
		"{'state':'Stop'}",
		NULL
	};

	for (int i = 0; good[i]; i++)
		CHECK(!rest_json_state(good[i], strlen(good[i]), out, sizeof(out)) &&
			      !strcmp(out, "Stop"),
		      "good JSON '%s'", good[i]);
	for (int i = 0; bad[i]; i++)
		CHECK(rest_json_state(bad[i], strlen(bad[i]), out, sizeof(out)) == -EINVAL,
		      "bad JSON accepted: '%s'", bad[i]);
	CHECK(rest_json_state("{\"state\":\"a\\u0000b\"}", 20, out, sizeof(out)) == 0 &&
		      !strcmp(out, "a?b"),
	      "a NUL escape does not cut the state short");
}

static void test_response(void)
{
	struct rest_request get = { .action = REST_ACT_GET_STATE, .status = 200 };
	struct rest_request stop = { .action = REST_ACT_STOP, .status = 200 };
	struct rest_request nf = { .status = 404, .error = "no" };
	struct rest_request na = { .status = 405, .error = "no" };
	char out[REST_MAX_RESPONSE];
	size_t n;

	n = rest_response(&get, KILN_VM_RUNNING, 0, out);
	CHECK(n > 0 && n < sizeof(out) && !strncmp(out, "HTTP/1.1 200 OK\r\n", 17), "200 line");
	CHECK(strstr(out, "\r\n\r\n{\"state\":\"VirtualMachineStateRunning\",\"canStart\":false,"
			  "\"canPause\":false,\"canResume\":false,\"canStop\":true,"
			  "\"canHardStop\":true}"),
	      "running body: %s", out);
	CHECK(strstr(out, "Content-Length: 124\r\n"), "content length: %s", out);
	rest_response(&stop, KILN_VM_STOPPING, 0, out);
	CHECK(strstr(out, "\"state\":\"VirtualMachineStateStopping\"") &&
		      strstr(out, "\"canStop\":false,\"canHardStop\":true"),
	      "stopping body: %s", out);
	rest_response(&get, KILN_VM_CREATED, 0, out);
	CHECK(strstr(out, "\"state\":\"VirtualMachineStateStarting\"") &&
		      strstr(out, "\"canStop\":false,\"canHardStop\":true"),
	      "not started yet: %s", out);
	rest_response(&get, KILN_VM_STOPPED, 0, out);
	CHECK(strstr(out, "\"state\":\"VirtualMachineStateStopped\"") &&
		      strstr(out, "\"canStop\":false,\"canHardStop\":false"),
	      "stopped: %s", out);
	rest_response(&stop, KILN_VM_STOPPED, -ESRCH, out);
	CHECK(!strncmp(out, "HTTP/1.1 409 ", 13), "stop when stopped: %s", out);
	rest_response(&nf, 0, 0, out);
	CHECK(!strncmp(out, "HTTP/1.1 404 Not Found\r\n", 24) && strstr(out, "{\"error\":\"no\"}"),
	      "404: %s", out);
	rest_response(&na, 0, 0, out);
	CHECK(!strncmp(out, "HTTP/1.1 405 ", 13) && strstr(out, "Allow: GET, POST\r\n"), "405: %s",
	      out);
}

int main(void)
{
	test_uri();
	test_requests();
	test_json();
	test_response();
	return check_summary();
}
