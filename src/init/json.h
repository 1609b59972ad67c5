/*
 * A small strict JSON parser for the guest init's configuration file, which comes from outside
 * the VM. Input size, nesting depth and value count are bounded; memory is linear in the input:
 * one array of values and one buffer that holds every decoded string.
 */
#ifndef KILN_INIT_JSON_H
#define KILN_INIT_JSON_H

#include <stddef.h>
#include <stdint.h>

#define JSON_MAX_SIZE	(1u << 20)
#define JSON_MAX_DEPTH	64
#define JSON_MAX_VALUES (1u << 18)

enum json_type {
	JSON_NULL,
	JSON_BOOL,
	JSON_NUMBER,
	JSON_STRING,
	JSON_ARRAY,
	JSON_OBJECT,
};

/*
 * Values are stored in document order: a container is followed by its children; an object's
 * children alternate key (a string) and value.
 */
struct json_value {
	enum json_type type;
	uint32_t span;	 /* this value and all its descendants, counted in values */
	uint32_t count;	 /* arrays: elements; objects: members; booleans: 0 or 1 */
	uint32_t len;	 /* strings: decoded length; numbers: length of the text */
	const char *str; /* strings: decoded, NUL-terminated; numbers: their text, NUL-terminated */
};

struct json_doc {
	struct json_value *v;
	uint32_t n, cap;
	char *strings;
	char error[96];
};

/*
 * Parse text[0..len) into doc. 0 on success; -EINVAL (syntax, with doc->error saying what and
 * at which byte), -E2BIG (over a limit) or -ENOMEM. doc needs json_free() in every case.
 */
int json_parse(struct json_doc *doc, const char *text, size_t len);
void json_free(struct json_doc *doc);

static inline const struct json_value *json_root(const struct json_doc *doc)
{
	return doc->n ? &doc->v[0] : NULL;
}

/* First child of an array, or first key of an object; NULL when empty. */
static inline const struct json_value *json_first(const struct json_value *v)
{
	return (v->type == JSON_ARRAY || v->type == JSON_OBJECT) && v->count ? v + 1 : NULL;
}

/* The value after v and its descendants: its next sibling, when it has one. */
static inline const struct json_value *json_next(const struct json_value *v)
{
	return v + v->span;
}

/* The value of the first member named key, or NULL (also when obj is not an object). */
const struct json_value *json_get(const struct json_value *obj, const char *key);

/* A non-negative integer (no fraction or exponent) that fits in 64 bits: 0, -EINVAL or -ERANGE. */
int json_u64(const struct json_value *v, uint64_t *out);

#endif
