/* Small helpers for scatter-gather lists. */
#ifndef KILN_UTIL_IOV_H
#define KILN_UTIL_IOV_H

#include <stdint.h>
#include <sys/uio.h>

/* The total length of n segments. */
static inline uint64_t iov_len(const struct iovec *iov, unsigned n)
{
	uint64_t len = 0;

	for (unsigned i = 0; i < n; i++)
		len += iov[i].iov_len;
	return len;
}

#endif
