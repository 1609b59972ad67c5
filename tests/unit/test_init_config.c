/* The guest init's configuration: JSON parser, rlimit grammar, the three file shapes, precedence.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include "check.h"
#include "init/config.h"
#include "init/json.h"
#include "init/rlimit.h"

static int parse(struct json_doc *doc, const char *text)
{
	return json_parse(doc, text, strlen(text));
}

static void expect_json_error(const char *text, int err, const char *needle)
{
	struct json_doc doc;
	int ret = parse(&doc, text);

	CHECK(ret == err, "'%s': got %d, want %d", text, ret, err);
	CHECK(strstr(doc.error, needle), "'%s': error '%s' lacks '%s'", text, doc.error, needle);
	json_free(&doc);
}

static void test_json(void)
{
	struct json_doc doc;
	const struct json_value *root, *v, *e;
	uint64_t n;

	CHECK(parse(&doc,
		    " {\"a\": [1, -2.5e3, \"x\", true, false, null, {}], \"b\": {\"c\": \"d\"},"
		    " \"a\": 0} ") == 0,
	      "valid document: %s", doc.error);
	root = json_root(&doc);
	CHECK(root && root->type == JSON_OBJECT && root->count == 3, "root object of 3 members");
	CHECK(root->span == doc.n, "root spans every value");
	v = json_get(root, "a");
	CHECK(v && v->type == JSON_ARRAY && v->count == 7, "a is an array of 7");
	e = json_first(v);
	CHECK(e->type == JSON_NUMBER && !strcmp(e->str, "1") && !json_u64(e, &n) && n == 1, "a[0]");
	e = json_next(e);
	CHECK(e->type == JSON_NUMBER && !strcmp(e->str, "-2.5e3") && json_u64(e, &n) == -EINVAL,
	      "a[1] is a number but not an unsigned integer");
	e = json_next(e);
	CHECK(e->type == JSON_STRING && !strcmp(e->str, "x") && e->len == 1, "a[2]");
	e = json_next(e);
	CHECK(e->type == JSON_BOOL && e->count == 1, "a[3]");
	e = json_next(json_next(e));
	CHECK(e->type == JSON_NULL, "a[5]");
	e = json_next(e);
	CHECK(e->type == JSON_OBJECT && e->count == 0 && !json_first(e), "a[6] empty object");
	v = json_get(json_get(root, "b"), "c");
	CHECK(v && !strcmp(v->str, "d"), "b.c");
	CHECK(!json_get(root, "c") && !json_get(json_get(root, "a"), "x"), "missing members");
	json_free(&doc);

	CHECK(parse(&doc, "\"q\\\"b\\\\s\\/n\\nt\\tu\\u00e9\\u20ac\\ud83d\\ude00\"") == 0,
	      "escapes: %s", doc.error);
	v = json_root(&doc);
	CHECK(v && !strcmp(v->str, "q\"b\\s/n\nt\tu\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80"),
	      "escapes decode to UTF-8");
	json_free(&doc);

	CHECK(parse(&doc, "18446744073709551615") == 0 && !json_u64(json_root(&doc), &n) &&
		      n == UINT64_MAX,
	      "u64 max");
	json_free(&doc);
	CHECK(parse(&doc, "18446744073709551616") == 0 && json_u64(json_root(&doc), &n) == -ERANGE,
	      "u64 overflow");
	json_free(&doc);

	expect_json_error("", -EINVAL, "end of input");
	expect_json_error("{\"a\" 1}", -EINVAL, "expected ':' at byte 5");
	expect_json_error("{\"a\":1,}", -EINVAL, "expected a string key");
	expect_json_error("[1,]", -EINVAL, "unexpected character");
	expect_json_error("[1 2]", -EINVAL, "expected ',' or ']'");
	expect_json_error("{} x", -EINVAL, "trailing characters");
	expect_json_error("\"abc", -EINVAL, "unterminated string");
	expect_json_error("\"a\tb\"", -EINVAL, "control character");
	expect_json_error("\"\\x\"", -EINVAL, "bad escape");
	expect_json_error("\"\\u12zz\"", -EINVAL, "bad hex digit");
	expect_json_error("\"\\u12\"", -EINVAL, "truncated");
	expect_json_error("\"\\u0000\"", -EINVAL, "\\u0000");
	expect_json_error("\"\\ud800\"", -EINVAL, "unpaired high surrogate");
	expect_json_error("\"\\ude00\"", -EINVAL, "unpaired low surrogate");
	expect_json_error("01", -EINVAL, "trailing characters");
	expect_json_error("-", -EINVAL, "bad number");
	expect_json_error("1.", -EINVAL, "bad number");
	expect_json_error("1e+", -EINVAL, "bad number");
	expect_json_error("tru", -EINVAL, "unexpected character");
	expect_json_error("[nul]", -EINVAL, "unexpected character");
	CHECK(json_parse(&doc, "{}\0", 3) == -EINVAL && strstr(doc.error, "trailing"),
	      "NUL after the document");
	json_free(&doc);
	CHECK(json_parse(&doc, "\"a\0b\"", 5) == -EINVAL && strstr(doc.error, "control"),
	      "NUL in a string");
	json_free(&doc);
}

static void test_json_limits(void)
{
	char deep[2 * JSON_MAX_DEPTH + 4];
	struct json_doc doc;
	char *big;
	int i;

	for (i = 0; i < JSON_MAX_DEPTH; i++) {
		deep[i] = '[';
		deep[JSON_MAX_DEPTH + i] = ']';
	}
	deep[2 * JSON_MAX_DEPTH] = 0;
	CHECK(parse(&doc, deep) == 0, "%d levels accepted: %s", JSON_MAX_DEPTH, doc.error);
	json_free(&doc);
	memmove(deep + 1, deep, 2 * JSON_MAX_DEPTH + 1);
	deep[0] = '[';
	strcat(deep, "]");
	expect_json_error(deep, -E2BIG, "nested deeper");

	big = malloc(JSON_MAX_SIZE + 2);
	memset(big, ' ', JSON_MAX_SIZE + 1);
	big[0] = '0';
	CHECK(json_parse(&doc, big, JSON_MAX_SIZE) == 0, "limit-sized input: %s", doc.error);
	json_free(&doc);
	CHECK(json_parse(&doc, big, JSON_MAX_SIZE + 1) == -E2BIG && strstr(doc.error, "larger"),
	      "oversized input");
	json_free(&doc);
	/* An array of 2^19 zeros: more values than allowed. */
	big[0] = '[';
	for (i = 1; i < (1 << 20); i += 2) {
		big[i] = '0';
		big[i + 1] = ',';
	}
	big[(1 << 20) - 1] = ']';
	CHECK(json_parse(&doc, big, 1 << 20) == -E2BIG && strstr(doc.error, "values"),
	      "too many values: %s", doc.error);
	json_free(&doc);
	free(big);
}

static void test_rlimit(void)
{
	struct init_rlimit r;

#define RL(s) rlimit_parse(s, strlen(s), &r)
	CHECK(RL("7=1024:2048") == 0 && r.resource == RLIMIT_NOFILE && r.cur == 1024 &&
		      r.max == 2048,
	      "numeric resource");
	CHECK(RL("NPROC=1:2") == 0 && r.resource == RLIMIT_NPROC, "short name");
	CHECK(RL("rlimit_nofile=5:6") == 0 && r.resource == RLIMIT_NOFILE, "long name, lower case");
	CHECK(RL("RLIMIT_CORE=unlimited:-1") == 0 && r.resource == RLIMIT_CORE &&
		      r.cur == INIT_RLIM_INFINITY && r.max == INIT_RLIM_INFINITY,
	      "unlimited and -1");
	CHECK(RL("AS=0:infinity") == 0 && r.cur == 0 && r.max == INIT_RLIM_INFINITY, "infinity");
	CHECK(RL("15=1:1") == 0 && r.resource == RLIMIT_RTTIME, "last resource");
	CHECK(RL("16=1:1") == -EINVAL, "resource out of range");
	CHECK(RL("FOO=1:1") == -EINVAL, "unknown name");
	CHECK(RL("RLIMIT_=1:1") == -EINVAL, "empty name");
	CHECK(RL("7=2:1") == -EINVAL, "soft above hard");
	CHECK(RL("7=1") == -EINVAL, "no hard limit");
	CHECK(RL("7=:1") == -EINVAL, "empty soft limit");
	CHECK(RL("7=1:") == -EINVAL, "empty hard limit");
	CHECK(RL("7=-2:1") == -EINVAL, "negative limit");
	CHECK(RL("7=1:18446744073709551616") == -EINVAL, "limit overflow");
	CHECK(RL("=1:1") == -EINVAL, "no resource");
#undef RL
	CHECK(!strcmp(rlimit_name(RLIMIT_NOFILE), "NOFILE") && !strcmp(rlimit_name(99), "?"),
	      "names");
}

struct built {
	struct init_config c;
	int ret;
};

static void build(struct built *b, const char *json, char *const *kenv, char *const *kargs,
		  bool console)
{
	struct config_input in = { .json = json,
				   .json_len = json ? strlen(json) : 0,
				   .json_name = "/.krun_config.json",
				   .kenv = kenv,
				   .kargs = kargs,
				   .console = console };

	b->ret = config_build(&b->c, &in);
}

static bool argv_is(const struct init_config *c, const char *const *want)
{
	size_t i;

	for (i = 0; want[i]; i++)
		if (i >= c->argc || strcmp(c->argv[i], want[i]))
			return false;
	return i == c->argc && !c->argv[i];
}

static bool env_is(const struct init_config *c, const char *name, const char *value)
{
	const char *v = config_getenv(c, name);

	return value ? v && !strcmp(v, value) : !v;
}

static const struct init_rlimit *find_rlimit(const struct init_config *c, int resource)
{
	for (size_t i = 0; i < c->nrlimits; i++)
		if (c->rlimits[i].resource == resource)
			return &c->rlimits[i];
	return NULL;
}

static void test_oci(void)
{
	struct built b;
	const struct init_rlimit *r;

	build(&b,
	      "{\"ociVersion\":\"1.0.2\",\"process\":{\"terminal\":false,\"user\":{\"uid\":0},"
	      "\"args\":[\"/usr/bin/app\",\"--flag\"],\"env\":[\"PATH=/usr/bin\",\"FOO=1\"],"
	      "\"cwd\":\"/srv\",\"rlimits\":[{\"type\":\"RLIMIT_NOFILE\",\"hard\":4096,"
	      "\"soft\":1024},{\"type\":\"RLIMIT_CORE\",\"hard\":18446744073709551615,"
	      "\"soft\":-1}]},\"root\":{\"path\":\"rootfs\"},\"hostname\":\"box\","
	      "\"mounts\":[{\"destination\":\"/proc\"}]}",
	      NULL, NULL, false);
	CHECK(b.ret == 0, "OCI config rejected: %s", b.c.error);
	CHECK(argv_is(&b.c, (const char *[]){ "/usr/bin/app", "--flag", NULL }), "OCI args");
	CHECK(env_is(&b.c, "PATH", "/usr/bin") && env_is(&b.c, "FOO", "1"), "OCI env");
	CHECK(!strcmp(b.c.cwd, "/srv"), "OCI cwd %s", b.c.cwd);
	CHECK(!strcmp(b.c.hostname, "box") && env_is(&b.c, "HOSTNAME", "box"), "OCI hostname");
	CHECK(b.c.nrlimits == 2, "OCI rlimits %zu", b.c.nrlimits);
	r = find_rlimit(&b.c, RLIMIT_NOFILE);
	CHECK(r && r->cur == 1024 && r->max == 4096, "OCI NOFILE");
	r = find_rlimit(&b.c, RLIMIT_CORE);
	CHECK(r && r->cur == INIT_RLIM_INFINITY && r->max == INIT_RLIM_INFINITY, "OCI CORE");
	config_free(&b.c);
}

static void test_docker(void)
{
	struct built b;

	build(&b,
	      "{\"architecture\":\"amd64\",\"config\":{\"Env\":[\"PATH=/x\",\"LANG=C\"],"
	      "\"Entrypoint\":[\"/entry.sh\"],\"Cmd\":[\"serve\",\"-v\"],\"WorkingDir\":\"/app\","
	      "\"Labels\":null},\"rootfs\":{\"type\":\"layers\"}}",
	      NULL, NULL, false);
	CHECK(b.ret == 0, "Docker config rejected: %s", b.c.error);
	CHECK(argv_is(&b.c, (const char *[]){ "/entry.sh", "serve", "-v", NULL }),
	      "Docker argv is Entrypoint + Cmd");
	CHECK(env_is(&b.c, "PATH", "/x") && env_is(&b.c, "LANG", "C"), "Docker env");
	CHECK(!strcmp(b.c.cwd, "/app"), "Docker cwd");
	config_free(&b.c);

	build(&b,
	      "{\"Entrypoint\":null,\"Cmd\":[\"/bin/bash\"],\"WorkingDir\":\"\",\"Hostname\":\"\"}",
	      NULL, NULL, false);
	CHECK(b.ret == 0, "top-level Docker config rejected: %s", b.c.error);
	CHECK(argv_is(&b.c, (const char *[]){ "/bin/bash", NULL }), "null Entrypoint");
	CHECK(!strcmp(b.c.cwd, "/") && !strcmp(b.c.hostname, "localhost"),
	      "empty WorkingDir and Hostname are defaults");
	config_free(&b.c);
}

static void test_flat(void)
{
	struct built b;
	const struct init_rlimit *r;

	build(&b,
	      "{\"args\":[\"/bin/echo\",\"hi\"],\"env\":[\"A=1\",\"A=2\",\"NOEQUALS\",\"=x\"],"
	      "\"cwd\":\"/tmp\",\"rlimits\":[\"7=10:20\",\"NPROC=unlimited:unlimited\","
	      "\"RLIMIT_NOFILE=30:40\"],\"hostname\":\"flat\"}",
	      NULL, NULL, false);
	CHECK(b.ret == 0, "flat config rejected: %s", b.c.error);
	CHECK(argv_is(&b.c, (const char *[]){ "/bin/echo", "hi", NULL }), "flat args");
	CHECK(env_is(&b.c, "A", "2"), "later env entry wins");
	CHECK(env_is(&b.c, "NOEQUALS", NULL) && b.c.envc == 4,
	      "entries without a name are skipped (A, PATH, HOME, HOSTNAME): %zu", b.c.envc);
	CHECK(!strcmp(b.c.cwd, "/tmp") && !strcmp(b.c.hostname, "flat"), "flat cwd, hostname");
	r = find_rlimit(&b.c, RLIMIT_NOFILE);
	CHECK(b.c.nrlimits == 2 && r && r->cur == 30 && r->max == 40,
	      "later limit of a resource wins");
	r = find_rlimit(&b.c, RLIMIT_NPROC);
	CHECK(r && r->cur == INIT_RLIM_INFINITY, "flat unlimited");
	config_free(&b.c);
}

static void test_kernel(void)
{
	char *kenv[] = { "HOME=/",
			 "TERM=linux",
			 "KRUN_INIT=/bin/app",
			 "KRUN_WORKDIR=/work",
			 "KRUN_RLIMITS=6=100:200,,NOFILE=50:60",
			 "KRUN_CONFIG=/c.json",
			 "KRUN_SOMETHING_ELSE=1",
			 "HOSTNAME=kernhost",
			 "FOO=kernel",
			 "BAR=baz",
			 NULL };
	char *kargs[] = { "a1", "a 2", NULL };
	const char *json = "{\"args\":[\"/from/config\"],\"env\":[\"FOO=config\",\"KRUN_X=1\"],"
			   "\"cwd\":\"/cfg\",\"rlimits\":[\"NOFILE=1:2\",\"CORE=0:0\"],"
			   "\"hostname\":\"cfghost\"}";
	struct built b;
	const struct init_rlimit *r;

	build(&b, json, kenv, kargs, true);
	CHECK(b.ret == 0, "kernel overrides rejected: %s", b.c.error);
	CHECK(argv_is(&b.c, (const char *[]){ "/bin/app", "a1", "a 2", NULL }),
	      "KRUN_INIT and the kernel's arguments win over the config's args");
	CHECK(!strcmp(b.c.cwd, "/work"), "KRUN_WORKDIR wins");
	CHECK(!strcmp(b.c.hostname, "kernhost") && env_is(&b.c, "HOSTNAME", "kernhost"),
	      "kernel HOSTNAME wins");
	CHECK(env_is(&b.c, "FOO", "kernel") && env_is(&b.c, "BAR", "baz"),
	      "kernel variables are the workload's and win");
	CHECK(env_is(&b.c, "KRUN_X", "1"), "the config's KRUN_ variables are kept");
	CHECK(!config_getenv(&b.c, "KRUN_INIT") && !config_getenv(&b.c, "KRUN_WORKDIR") &&
		      !config_getenv(&b.c, "KRUN_RLIMITS") && !config_getenv(&b.c, "KRUN_CONFIG") &&
		      !config_getenv(&b.c, "KRUN_SOMETHING_ELSE"),
	      "the kernel's KRUN_ variables are not passed on");
	CHECK(env_is(&b.c, "HOME", "/root") && env_is(&b.c, "TERM", "xterm"),
	      "the kernel's HOME=/ and TERM=linux give way to the defaults");
	r = find_rlimit(&b.c, RLIMIT_NOFILE);
	CHECK(r && r->cur == 50 && r->max == 60, "KRUN_RLIMITS wins for NOFILE");
	CHECK(find_rlimit(&b.c, RLIMIT_CORE) && find_rlimit(&b.c, RLIMIT_NPROC) &&
		      b.c.nrlimits == 3,
	      "config and kernel limits merged");
	config_free(&b.c);

	/* Without KRUN_INIT the kernel's arguments are not the workload's. */
	build(&b, json, (char *[]){ "FOO=1", NULL }, kargs, false);
	CHECK(b.ret == 0 && argv_is(&b.c, (const char *[]){ "/from/config", NULL }),
	      "config args without KRUN_INIT");
	config_free(&b.c);
	build(&b, json, (char *[]){ "KRUN_INIT=", NULL }, kargs, false);
	CHECK(b.ret == 0 && argv_is(&b.c, (const char *[]){ "/from/config", NULL }),
	      "empty KRUN_INIT is unset");
	config_free(&b.c);

	build(&b, NULL, (char *[]){ "KRUN_RLIMITS=NOFILE=9", NULL }, NULL, false);
	CHECK(b.ret == -EINVAL && strstr(b.c.error, "KRUN_RLIMITS: bad limit 'NOFILE=9'"),
	      "bad KRUN_RLIMITS: %s", b.c.error);
	config_free(&b.c);
}

static void test_defaults(void)
{
	struct built b;

	build(&b, NULL, NULL, NULL, false);
	CHECK(b.ret == 0, "nothing at all: %s", b.c.error);
	CHECK(argv_is(&b.c, (const char *[]){ "/bin/sh", NULL }), "default /bin/sh");
	CHECK(!strcmp(b.c.cwd, "/") && !strcmp(b.c.hostname, "localhost"), "default cwd, hostname");
	CHECK(env_is(&b.c, "PATH", CONFIG_DEFAULT_PATH) && env_is(&b.c, "HOME", "/root") &&
		      env_is(&b.c, "HOSTNAME", "localhost"),
	      "default PATH, HOME, HOSTNAME");
	CHECK(env_is(&b.c, "TERM", NULL), "no TERM when stdout is not the console");
	CHECK(b.c.nrlimits == 0, "no limits");
	config_free(&b.c);

	build(&b, "{\"env\":[\"HOME=/home/u\",\"TERM=vt100\"]}", NULL, NULL, true);
	CHECK(b.ret == 0 && env_is(&b.c, "HOME", "/home/u") && env_is(&b.c, "TERM", "vt100"),
	      "the config's HOME and TERM are kept");
	config_free(&b.c);

	build(&b, "{\"args\":[]}", (char *[]){ "KRUN_INIT=/x", NULL }, NULL, false);
	CHECK(b.ret == 0 && argv_is(&b.c, (const char *[]){ "/x", NULL }), "KRUN_INIT alone");
	config_free(&b.c);
}

static void expect_config_error(const char *json, const char *needle)
{
	struct built b;

	build(&b, json, (char *[]){ "KRUN_INIT=/bin/true", NULL }, NULL, false);
	CHECK(b.ret == -EINVAL || b.ret == -E2BIG, "'%s' accepted", json);
	CHECK(strstr(b.c.error, needle), "'%s': error '%s' lacks '%s'", json, b.c.error, needle);
	CHECK(!strncmp(b.c.error, "/.krun_config.json: ", 20), "error names the file: %s",
	      b.c.error);
	config_free(&b.c);
}

static void test_config_errors(void)
{
	expect_config_error("{\"args\":[\"a\",", "bad JSON: unexpected end");
	expect_config_error("[\"args\"]", "expected a JSON object");
	expect_config_error("{\"process\":[]}", "process: expected an object");
	expect_config_error("{\"process\":{\"args\":\"/bin/sh\"}}",
			    "process.args: expected an array of strings");
	expect_config_error("{\"process\":{\"env\":[\"A=1\",2]}}",
			    "process.env[1]: expected a string");
	expect_config_error("{\"process\":{\"cwd\":7}}", "process.cwd: expected a string");
	expect_config_error("{\"config\":{\"Cmd\":{}}}", "config.Cmd: expected an array");
	expect_config_error("{\"Cmd\":[\"x\"],\"WorkingDir\":[]}", "WorkingDir: expected a string");
	expect_config_error("{\"rlimits\":[\"NOFILE=2:1\"]}", "rlimits[0]: bad limit");
	expect_config_error("{\"rlimits\":[{\"type\":\"RLIMIT_BOGUS\",\"soft\":1,\"hard\":1}]}",
			    "rlimits[0]: unknown type");
	expect_config_error("{\"rlimits\":[{\"type\":\"NOFILE\",\"soft\":1.5,\"hard\":2}]}",
			    "rlimits[0]: bad soft or hard limit");
	expect_config_error("{\"rlimits\":[{\"type\":\"NOFILE\",\"soft\":1}]}",
			    "rlimits[0]: bad soft or hard limit");
	expect_config_error("{\"rlimits\":[7]}", "rlimits[0]: expected a string or an object");
	expect_config_error("{\"hostname\":true}", "hostname: expected a string");
}

static void test_config_limits(void)
{
	size_t n = CONFIG_MAX_ARGS + 1, len = 16 + 4 * n;
	char *json = malloc(len), *p = json;
	struct built b;

	p += sprintf(p, "{\"args\":[");
	for (size_t i = 0; i < n; i++)
		p += sprintf(p, "%s\"a\"", i ? "," : "");
	strcpy(p, "]}");
	build(&b, json, NULL, NULL, false);
	CHECK(b.ret == -E2BIG && strstr(b.c.error, "more than"), "too many arguments: %s",
	      b.c.error);
	config_free(&b.c);
	free(json);
}

int main(void)
{
	test_json();
	test_json_limits();
	test_rlimit();
	test_oci();
	test_docker();
	test_flat();
	test_kernel();
	test_defaults();
	test_config_errors();
	test_config_limits();
	return check_summary();
}
