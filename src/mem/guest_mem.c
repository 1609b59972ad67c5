#define _GNU_SOURCE
#include "mem/guest_mem.h"

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

static void add_region(struct guest_mem *mem, uint64_t gpa, uint64_t size, uint64_t off)
{
	struct guest_region *r = &mem->regions[mem->nregions++];

	r->gpa = gpa;
	r->size = size;
	r->host = mem->base + off;
	r->fd_offset = off;
}

int guest_mem_create(struct guest_mem *mem, uint64_t size)
{
	uint64_t low;

	memset(mem, 0, sizeof(*mem));
	mem->fd = memfd_create("kiln-guest-ram", MFD_CLOEXEC);
	if (mem->fd < 0)
		return -errno;
	if (ftruncate(mem->fd, size) < 0)
		goto fail;
	mem->base =
		mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_NORESERVE, mem->fd, 0);
	if (mem->base == MAP_FAILED) {
		mem->base = NULL;
		goto fail;
	}
	/* Guest RAM is never worth a core dump, and is not shared with children. */
	madvise(mem->base, size, MADV_DONTDUMP);
	madvise(mem->base, size, MADV_DONTFORK);
	/*
	 * Huge pages cut the guest's nested page faults by 512x. For a memfd
	 * this takes effect where the host allows shmem THP (shmem_enabled =
	 * advise or always); elsewhere it is a harmless no-op.
	 */
	madvise(mem->base, size, MADV_HUGEPAGE);
	mem->total = size;
	low = size < GUEST_MMIO_HOLE_START ? size : GUEST_MMIO_HOLE_START;
	add_region(mem, 0, low, 0);
	if (size > low)
		add_region(mem, GUEST_HIGH_RAM_START, size - low, low);
	return 0;
fail : {
	int err = -errno;

	close(mem->fd);
	mem->fd = -1;
	return err;
}
}

void guest_mem_destroy(struct guest_mem *mem)
{
	if (mem->base)
		munmap(mem->base, mem->total);
	if (mem->fd >= 0)
		close(mem->fd);
	memset(mem, 0, sizeof(*mem));
	mem->fd = -1;
}

void guest_mem_init_flat(struct guest_mem *mem, void *host, uint64_t size)
{
	memset(mem, 0, sizeof(*mem));
	mem->fd = -1;
	mem->base = host;
	mem->total = size;
	add_region(mem, 0, size, 0);
}

void *guest_mem_ptr(const struct guest_mem *mem, uint64_t gpa, uint64_t len)
{
	for (unsigned i = 0; i < mem->nregions; i++) {
		const struct guest_region *r = &mem->regions[i];

		/* Written so that no addition can overflow. */
		if (gpa >= r->gpa && gpa - r->gpa <= r->size && len <= r->size - (gpa - r->gpa))
			return r->host + (gpa - r->gpa);
	}
	return NULL;
}

bool guest_mem_range_ok(const struct guest_mem *mem, uint64_t gpa, uint64_t len)
{
	return guest_mem_ptr(mem, gpa, len) != NULL;
}

int guest_mem_read(const struct guest_mem *mem, uint64_t gpa, void *dst, uint64_t len)
{
	void *p = guest_mem_ptr(mem, gpa, len);

	if (!p)
		return -EFAULT;
	memcpy(dst, p, len);
	return 0;
}

int guest_mem_write(const struct guest_mem *mem, uint64_t gpa, const void *src, uint64_t len)
{
	void *p = guest_mem_ptr(mem, gpa, len);

	if (!p)
		return -EFAULT;
	memcpy(p, src, len);
	return 0;
}

int guest_mem_discard_host(const struct guest_mem *mem, void *host, uint64_t len)
{
	uintptr_t base = (uintptr_t)mem->base, p = (uintptr_t)host;
	uint64_t off;

	/* The regions tile the memfd, so a range inside the mapping is inside RAM. */
	if (!mem->base || p < base || p - base > mem->total || len > mem->total - (p - base))
		return -EFAULT;
	off = p - base;
	if (!len || off % GUEST_PAGE_SIZE || len % GUEST_PAGE_SIZE)
		return -EINVAL;
	if (mem->fd < 0) {
		memset(host, 0, len);
		return 0;
	}
	/*
	 * Punching the hole frees the pages (whole huge pages where the range
	 * covers them) and unmaps them from every mapping, ours and KVM's: the
	 * next access faults in a zero page.
	 */
	if (fallocate(mem->fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, (off_t)off, (off_t)len))
		return -errno;
	return 0;
}

int guest_mem_discard(const struct guest_mem *mem, uint64_t gpa, uint64_t len)
{
	void *p = guest_mem_ptr(mem, gpa, len);

	if (!p)
		return -EFAULT;
	return guest_mem_discard_host(mem, p, len);
}

uint64_t guest_mem_low_end(const struct guest_mem *mem)
{
	return mem->nregions ? mem->regions[0].size : 0;
}
