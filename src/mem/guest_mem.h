/*
 * Guest physical memory: memfd-backed regions and bounds-checked translation.
 *
 * Every guest-supplied address goes through guest_mem_ptr(), which returns NULL
 * unless [gpa, gpa + len) lies wholly inside one RAM region.
 */
#ifndef KILN_MEM_GUEST_MEM_H
#define KILN_MEM_GUEST_MEM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define GUEST_MEM_MAX_REGIONS 4
/* The granule guest_mem_discard works in: the host's (and the balloon's) 4 KiB page. */
#define GUEST_PAGE_SIZE 4096ULL

struct guest_region {
	uint64_t gpa;
	uint64_t size;
	uint8_t *host;
	uint64_t fd_offset; /* offset of this region inside the memfd */
};

struct guest_mem {
	int fd;	       /* memfd backing all RAM regions, or -1 */
	uint8_t *base; /* host mapping of the whole memfd */
	uint64_t total;
	unsigned nregions;
	struct guest_region regions[GUEST_MEM_MAX_REGIONS];
};

/* x86 layout: RAM below the 32-bit MMIO hole, the rest above 4 GiB. */
#define GUEST_MMIO_HOLE_START 0xc0000000ULL
#define GUEST_HIGH_RAM_START  0x100000000ULL

int guest_mem_create(struct guest_mem *mem, uint64_t size);
void guest_mem_destroy(struct guest_mem *mem);

/* Build a guest_mem over caller-owned memory at gpa 0 (tests and fuzzers). */
void guest_mem_init_flat(struct guest_mem *mem, void *host, uint64_t size);

void *guest_mem_ptr(const struct guest_mem *mem, uint64_t gpa, uint64_t len);
bool guest_mem_range_ok(const struct guest_mem *mem, uint64_t gpa, uint64_t len);

/* Copy to/from guest memory; -EFAULT when the range is not RAM. */
int guest_mem_read(const struct guest_mem *mem, uint64_t gpa, void *dst, uint64_t len);
int guest_mem_write(const struct guest_mem *mem, uint64_t gpa, const void *src, uint64_t len);

/*
 * Give the host memory behind [gpa, gpa + len) back to the host: punched out
 * of the memfd, so it no longer counts in kiln's RSS and reads as zeros the
 * next time anyone touches it. gpa and len must be multiples of
 * GUEST_PAGE_SIZE, len non-zero (-EINVAL) and the range inside one RAM region
 * (-EFAULT). Over caller-owned memory (guest_mem_init_flat) it only zeroes.
 */
int guest_mem_discard(const struct guest_mem *mem, uint64_t gpa, uint64_t len);
/* The same for a host range inside guest RAM, as the virtqueue walker hands them out. */
int guest_mem_discard_host(const struct guest_mem *mem, void *host, uint64_t len);

/* Highest guest physical RAM address + 1 below 4 GiB. */
uint64_t guest_mem_low_end(const struct guest_mem *mem);

#endif
