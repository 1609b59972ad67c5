#include "hv/bus.h"

#include <errno.h>
#include <string.h>

int bus_add(struct bus *b, uint64_t base, uint64_t len, const struct bus_ops *ops, void *priv)
{
	if (b->n == BUS_MAX_RANGES || len == 0)
		return -ENOSPC;
	for (unsigned i = 0; i < b->n; i++) {
		const struct bus_range *r = &b->r[i];

		if (base < r->base + r->len && r->base < base + len)
			return -EBUSY;
	}
	b->r[b->n++] = (struct bus_range){ base, len, ops, priv };
	return 0;
}

static const struct bus_range *find(const struct bus *b, uint64_t addr, unsigned len)
{
	for (unsigned i = 0; i < b->n; i++) {
		const struct bus_range *r = &b->r[i];

		if (addr >= r->base && addr - r->base < r->len && len <= r->len - (addr - r->base))
			return r;
	}
	return NULL;
}

int bus_read(const struct bus *b, uint64_t addr, void *data, unsigned len)
{
	const struct bus_range *r = find(b, addr, len);

	if (!r || !r->ops->read) {
		memset(data, 0xff, len);
		return -ENOENT;
	}
	r->ops->read(r->priv, addr - r->base, data, len);
	return 0;
}

int bus_write(const struct bus *b, uint64_t addr, const void *data, unsigned len)
{
	const struct bus_range *r = find(b, addr, len);

	if (!r || !r->ops->write)
		return -ENOENT;
	r->ops->write(r->priv, addr - r->base, data, len);
	return 0;
}
