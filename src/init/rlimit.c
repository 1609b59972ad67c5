#include <errno.h>
#include <stdbool.h>
#include <string.h>
#include <strings.h>
#include <sys/resource.h>

#include "init/rlimit.h"

_Static_assert(RLIM_NLIMITS <= INIT_RLIMIT_COUNT, "room for every resource");

static const struct {
	const char *name;
	int resource;
} resources[] = {
	{ "CPU", RLIMIT_CPU },		 { "FSIZE", RLIMIT_FSIZE },
	{ "DATA", RLIMIT_DATA },	 { "STACK", RLIMIT_STACK },
	{ "CORE", RLIMIT_CORE },	 { "RSS", RLIMIT_RSS },
	{ "NPROC", RLIMIT_NPROC },	 { "NOFILE", RLIMIT_NOFILE },
	{ "MEMLOCK", RLIMIT_MEMLOCK },	 { "AS", RLIMIT_AS },
	{ "LOCKS", RLIMIT_LOCKS },	 { "SIGPENDING", RLIMIT_SIGPENDING },
	{ "MSGQUEUE", RLIMIT_MSGQUEUE }, { "NICE", RLIMIT_NICE },
	{ "RTPRIO", RLIMIT_RTPRIO },	 { "RTTIME", RLIMIT_RTTIME },
};

/* Decimal digits only, no sign, within 64 bits. */
static int parse_u64(const char *s, size_t len, uint64_t *out)
{
	uint64_t n = 0;

	if (!len)
		return -EINVAL;
	for (size_t i = 0; i < len; i++) {
		unsigned d = (unsigned char)s[i] - '0';

		if (d > 9 || n > (UINT64_MAX - d) / 10)
			return -EINVAL;
		n = n * 10 + d;
	}
	*out = n;
	return 0;
}

static bool word_is(const char *s, size_t len, const char *word)
{
	return strlen(word) == len && !strncasecmp(s, word, len);
}

int rlimit_resource(const char *s, size_t len)
{
	uint64_t n;

	if (!parse_u64(s, len, &n))
		return n < RLIM_NLIMITS ? (int)n : -EINVAL;
	if (len > 7 && !strncasecmp(s, "RLIMIT_", 7)) {
		s += 7;
		len -= 7;
	}
	for (size_t i = 0; i < sizeof(resources) / sizeof(resources[0]); i++)
		if (word_is(s, len, resources[i].name))
			return resources[i].resource;
	return -EINVAL;
}

const char *rlimit_name(int resource)
{
	for (size_t i = 0; i < sizeof(resources) / sizeof(resources[0]); i++)
		if (resources[i].resource == resource)
			return resources[i].name;
	return "?";
}

int rlimit_value(const char *s, size_t len, uint64_t *out)
{
	if (word_is(s, len, "unlimited") || word_is(s, len, "infinity") || word_is(s, len, "-1")) {
		*out = INIT_RLIM_INFINITY;
		return 0;
	}
	return parse_u64(s, len, out);
}

int rlimit_parse(const char *s, size_t len, struct init_rlimit *out)
{
	const char *eq = memchr(s, '=', len), *colon;
	int res;

	if (!eq)
		return -EINVAL;
	colon = memchr(eq + 1, ':', s + len - (eq + 1));
	if (!colon)
		return -EINVAL;
	res = rlimit_resource(s, eq - s);
	if (res < 0)
		return res;
	out->resource = res;
	if (rlimit_value(eq + 1, colon - (eq + 1), &out->cur) ||
	    rlimit_value(colon + 1, s + len - (colon + 1), &out->max))
		return -EINVAL;
	return out->cur > out->max ? -EINVAL : 0;
}
