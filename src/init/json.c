#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "init/json.h"

struct parser {
	const char *start, *p, *end;
	char *out, *out_end; /* decoded strings and number texts go here */
	struct json_doc *doc;
};

static int fail(struct parser *ps, const char *what)
{
	if (ps->p >= ps->end)
		snprintf(ps->doc->error, sizeof(ps->doc->error), "%s at end of input", what);
	else
		snprintf(ps->doc->error, sizeof(ps->doc->error), "%s at byte %zu", what,
			 (size_t)(ps->p - ps->start));
	return -EINVAL;
}

static void skip_space(struct parser *ps)
{
	while (ps->p < ps->end &&
	       (*ps->p == ' ' || *ps->p == '\t' || *ps->p == '\n' || *ps->p == '\r'))
		ps->p++;
}

static int peek(const struct parser *ps)
{
	return ps->p < ps->end ? (unsigned char)*ps->p : -1;
}

/* Append a value; returns its index, or a negative errno. Indices stay valid across growth. */
static long new_value(struct parser *ps, enum json_type type)
{
	struct json_doc *doc = ps->doc;

	if (doc->n == doc->cap) {
		uint32_t cap = doc->cap ? doc->cap * 2 : 16;
		struct json_value *v;

		if (doc->cap >= JSON_MAX_VALUES) {
			snprintf(doc->error, sizeof(doc->error), "more than %u values",
				 JSON_MAX_VALUES);
			return -E2BIG;
		}
		if (cap > JSON_MAX_VALUES)
			cap = JSON_MAX_VALUES;
		v = realloc(doc->v, cap * sizeof(*v));
		if (!v)
			return -ENOMEM;
		doc->v = v;
		doc->cap = cap;
	}
	memset(&doc->v[doc->n], 0, sizeof(doc->v[0]));
	doc->v[doc->n].type = type;
	doc->v[doc->n].span = 1;
	return doc->n++;
}

/* The string buffer is sized so that it cannot overflow (see json_parse); checked anyway. */
static int put(struct parser *ps, const char *s, size_t n)
{
	if ((size_t)(ps->out_end - ps->out) < n)
		return fail(ps, "internal: string buffer full");
	memcpy(ps->out, s, n);
	ps->out += n;
	return 0;
}

static int hex4(struct parser *ps, unsigned *out)
{
	unsigned v = 0;

	if (ps->end - ps->p < 4)
		return fail(ps, "truncated \\u escape");
	for (int i = 0; i < 4; i++) {
		char c = ps->p[i];

		v <<= 4;
		if (c >= '0' && c <= '9')
			v |= c - '0';
		else if (c >= 'a' && c <= 'f')
			v |= c - 'a' + 10;
		else if (c >= 'A' && c <= 'F')
			v |= c - 'A' + 10;
		else
			return fail(ps, "bad hex digit in \\u escape");
	}
	ps->p += 4;
	*out = v;
	return 0;
}

/* After "\u": one code point, a surrogate pair taken together; written as UTF-8. */
static int unicode_escape(struct parser *ps)
{
	unsigned cp = 0, lo = 0;
	char u[4];
	size_t n;
	int ret = hex4(ps, &cp);

	if (ret)
		return ret;
	if (cp >= 0xdc00 && cp <= 0xdfff)
		return fail(ps, "unpaired low surrogate");
	if (cp >= 0xd800 && cp <= 0xdbff) {
		if (ps->end - ps->p < 2 || ps->p[0] != '\\' || ps->p[1] != 'u')
			return fail(ps, "unpaired high surrogate");
		ps->p += 2;
		ret = hex4(ps, &lo);
		if (ret)
			return ret;
		if (lo < 0xdc00 || lo > 0xdfff)
			return fail(ps, "unpaired high surrogate");
		cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
	}
	if (cp == 0)
		return fail(ps, "\\u0000 in string");
	if (cp < 0x80) {
		u[0] = cp;
		n = 1;
	} else if (cp < 0x800) {
		u[0] = 0xc0 | cp >> 6;
		u[1] = 0x80 | (cp & 0x3f);
		n = 2;
	} else if (cp < 0x10000) {
		u[0] = 0xe0 | cp >> 12;
		u[1] = 0x80 | ((cp >> 6) & 0x3f);
		u[2] = 0x80 | (cp & 0x3f);
		n = 3;
	} else {
		u[0] = 0xf0 | cp >> 18;
		u[1] = 0x80 | ((cp >> 12) & 0x3f);
		u[2] = 0x80 | ((cp >> 6) & 0x3f);
		u[3] = 0x80 | (cp & 0x3f);
		n = 4;
	}
	return put(ps, u, n);
}

static int parse_string(struct parser *ps)
{
	long idx = new_value(ps, JSON_STRING);
	char *s = ps->out;
	int ret;

	if (idx < 0)
		return idx;
	ps->p++; /* the opening quote */
	for (;;) {
		int c = peek(ps);

		if (c < 0)
			return fail(ps, "unterminated string");
		if (c == '"')
			break;
		if (c < 0x20)
			return fail(ps, "control character in string");
		if (c != '\\') {
			const char *run = ps->p;

			while (ps->p < ps->end && *ps->p != '"' && *ps->p != '\\' &&
			       (unsigned char)*ps->p >= 0x20)
				ps->p++;
			ret = put(ps, run, ps->p - run);
			if (ret)
				return ret;
			continue;
		}
		ps->p++;
		c = peek(ps);
		if (c < 0)
			return fail(ps, "unterminated string");
		ps->p++;
		switch (c) {
		case '"':
		case '\\':
		case '/':
			ret = put(ps, (char[]){ c }, 1);
			break;
		case 'b':
			ret = put(ps, "\b", 1);
			break;
		case 'f':
			ret = put(ps, "\f", 1);
			break;
		case 'n':
			ret = put(ps, "\n", 1);
			break;
		case 'r':
			ret = put(ps, "\r", 1);
			break;
		case 't':
			ret = put(ps, "\t", 1);
			break;
		case 'u':
			ret = unicode_escape(ps);
			break;
		default:
			ps->p--;
			return fail(ps, "bad escape in string");
		}
		if (ret)
			return ret;
	}
	ps->p++; /* the closing quote */
	ret = put(ps, "", 1);
	if (ret)
		return ret;
	ps->doc->v[idx].str = s;
	ps->doc->v[idx].len = ps->out - s - 1;
	return 0;
}

static bool is_digit(int c)
{
	return c >= '0' && c <= '9';
}

static int parse_number(struct parser *ps)
{
	const char *text = ps->p;
	char *s = ps->out;
	long idx;
	int ret;

	if (peek(ps) == '-')
		ps->p++;
	if (peek(ps) == '0') {
		ps->p++;
	} else if (is_digit(peek(ps))) {
		while (is_digit(peek(ps)))
			ps->p++;
	} else {
		return fail(ps, "bad number");
	}
	if (peek(ps) == '.') {
		ps->p++;
		if (!is_digit(peek(ps)))
			return fail(ps, "bad number");
		while (is_digit(peek(ps)))
			ps->p++;
	}
	if (peek(ps) == 'e' || peek(ps) == 'E') {
		ps->p++;
		if (peek(ps) == '+' || peek(ps) == '-')
			ps->p++;
		if (!is_digit(peek(ps)))
			return fail(ps, "bad number");
		while (is_digit(peek(ps)))
			ps->p++;
	}
	idx = new_value(ps, JSON_NUMBER);
	if (idx < 0)
		return idx;
	ret = put(ps, text, ps->p - text);
	if (!ret)
		ret = put(ps, "", 1);
	if (ret)
		return ret;
	ps->doc->v[idx].str = s;
	ps->doc->v[idx].len = ps->p - text;
	return 0;
}

static int parse_literal(struct parser *ps, const char *word, enum json_type type, uint32_t val)
{
	size_t n = strlen(word);
	long idx;

	if ((size_t)(ps->end - ps->p) < n || memcmp(ps->p, word, n))
		return fail(ps, "unexpected character");
	ps->p += n;
	idx = new_value(ps, type);
	if (idx < 0)
		return idx;
	ps->doc->v[idx].count = val;
	return 0;
}

static int parse_value(struct parser *ps, int depth);

/* Arrays and objects: the same loop, objects with a key and ':' before each value. */
static int parse_container(struct parser *ps, int depth)
{
	bool object = *ps->p == '{';
	char close = object ? '}' : ']';
	long idx;
	int ret;

	if (depth >= JSON_MAX_DEPTH) {
		snprintf(ps->doc->error, sizeof(ps->doc->error),
			 "nested deeper than %d at byte %zu", JSON_MAX_DEPTH,
			 (size_t)(ps->p - ps->start));
		return -E2BIG;
	}
	idx = new_value(ps, object ? JSON_OBJECT : JSON_ARRAY);
	if (idx < 0)
		return idx;
	ps->p++;
	skip_space(ps);
	if (peek(ps) == close) {
		ps->p++;
		return 0;
	}
	for (;;) {
		skip_space(ps);
		if (object) {
			if (peek(ps) != '"')
				return fail(ps, "expected a string key");
			ret = parse_string(ps);
			if (ret)
				return ret;
			skip_space(ps);
			if (peek(ps) != ':')
				return fail(ps, "expected ':'");
			ps->p++;
		}
		ret = parse_value(ps, depth + 1);
		if (ret)
			return ret;
		ps->doc->v[idx].count++;
		skip_space(ps);
		if (peek(ps) == close)
			break;
		if (peek(ps) != ',')
			return fail(ps, object ? "expected ',' or '}'" : "expected ',' or ']'");
		ps->p++;
	}
	ps->p++;
	ps->doc->v[idx].span = ps->doc->n - idx;
	return 0;
}

static int parse_value(struct parser *ps, int depth)
{
	skip_space(ps);
	switch (peek(ps)) {
	case -1:
		return fail(ps, "unexpected end");
	case '{':
	case '[':
		return parse_container(ps, depth);
	case '"':
		return parse_string(ps);
	case 't':
		return parse_literal(ps, "true", JSON_BOOL, 1);
	case 'f':
		return parse_literal(ps, "false", JSON_BOOL, 0);
	case 'n':
		return parse_literal(ps, "null", JSON_NULL, 0);
	default:
		if (peek(ps) == '-' || is_digit(peek(ps)))
			return parse_number(ps);
		return fail(ps, "unexpected character");
	}
}

int json_parse(struct json_doc *doc, const char *text, size_t len)
{
	struct parser ps = { .start = text, .p = text, .end = text + len, .doc = doc };
	int ret;

	memset(doc, 0, sizeof(*doc));
	if (len > JSON_MAX_SIZE) {
		snprintf(doc->error, sizeof(doc->error), "larger than %u bytes", JSON_MAX_SIZE);
		return -E2BIG;
	}
	/*
	 * Every decoded string plus its NUL fits in the bytes of its source (two quotes, escapes
	 * no shorter than what they decode to); every number's text plus its NUL fits in the
	 * number and the byte after it, or the extra byte at the end of the input.
	 */
	doc->strings = malloc(len + 1);
	if (!doc->strings)
		return -ENOMEM;
	ps.out = doc->strings;
	ps.out_end = doc->strings + len + 1;
	ret = parse_value(&ps, 0);
	if (ret)
		return ret;
	skip_space(&ps);
	if (ps.p != ps.end)
		return fail(&ps, "trailing characters");
	return 0;
}

void json_free(struct json_doc *doc)
{
	free(doc->v);
	free(doc->strings);
	doc->v = NULL;
	doc->strings = NULL;
	doc->n = doc->cap = 0;
}

const struct json_value *json_get(const struct json_value *obj, const char *key)
{
	const struct json_value *k;

	if (!obj || obj->type != JSON_OBJECT)
		return NULL;
	k = json_first(obj);
	for (uint32_t i = 0; i < obj->count; i++) {
		const struct json_value *val = k + 1;

		if (!strcmp(k->str, key))
			return val;
		k = json_next(val);
	}
	return NULL;
}

int json_u64(const struct json_value *v, uint64_t *out)
{
	uint64_t n = 0;

	if (!v || v->type != JSON_NUMBER)
		return -EINVAL;
	for (const char *s = v->str; *s; s++) {
		if (!is_digit(*s))
			return -EINVAL;
		if (n > (UINT64_MAX - (*s - '0')) / 10)
			return -ERANGE;
		n = n * 10 + (*s - '0');
	}
	*out = n;
	return 0;
}
