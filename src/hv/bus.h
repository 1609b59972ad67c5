/* Address-decoded buses for port I/O and MMIO exits. */
#ifndef KILN_HV_BUS_H
#define KILN_HV_BUS_H

#include <stdint.h>

#define BUS_MAX_RANGES 64

struct bus_ops {
	void (*read)(void *priv, uint64_t off, void *data, unsigned len);
	void (*write)(void *priv, uint64_t off, const void *data, unsigned len);
};

struct bus_range {
	uint64_t base, len;
	const struct bus_ops *ops;
	void *priv;
};

struct bus {
	unsigned n;
	struct bus_range r[BUS_MAX_RANGES];
};

/* Ranges are registered before vCPUs start and never change afterwards. */
int bus_add(struct bus *b, uint64_t base, uint64_t len, const struct bus_ops *ops, void *priv);
/* Returns 0 if handled, -ENOENT if nothing is mapped (reads then return all ones). */
int bus_read(const struct bus *b, uint64_t addr, void *data, unsigned len);
int bus_write(const struct bus *b, uint64_t addr, const void *data, unsigned len);

#endif
