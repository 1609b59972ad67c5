/*
 * Disk images: what virtio-blk reads and writes through.
 *
 * A format (raw today; qcow2 later) supplies struct disk_ops. All offsets and
 * lengths are in bytes and have already been checked against disk->size by
 * the caller; the functions are called from several I/O threads at once, so a
 * format must be safe for concurrent use. Every call returns 0 or -errno and
 * transfers all bytes or fails.
 */
#ifndef KILN_DISK_DISK_H
#define KILN_DISK_DISK_H

#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/uio.h>

/* Length of a disk's identity string (matches virtio-blk's GET_ID). */
#define DISK_ID_LEN 20

struct disk;

struct disk_ops {
	const char *name;
	int (*read)(struct disk *dk, const struct iovec *iov, unsigned n, uint64_t off);
	int (*write)(struct disk *dk, const struct iovec *iov, unsigned n, uint64_t off);
	/* Make every completed write durable. */
	int (*flush)(struct disk *dk);
	/* A hint: the range's contents become unspecified. */
	int (*discard)(struct disk *dk, uint64_t off, uint64_t len);
	/* The range reads back as zeros; may_unmap lets the format deallocate it. */
	int (*write_zeroes)(struct disk *dk, uint64_t off, uint64_t len, bool may_unmap);
	void (*close)(struct disk *dk);
};

struct disk {
	const struct disk_ops *ops;
	uint64_t size; /* bytes the guest sees */
	bool read_only;
	char id[DISK_ID_LEN + 1]; /* stable identity of the backing file, NUL-terminated */
};

/*
 * Open a raw image (regular file or block device). Errors: -ENOENT, -EACCES,
 * -EINVAL (neither a file nor a block device), -EBUSY (another process holds it).
 */
int raw_open(const char *path, bool read_only, struct disk **out);

/* The one entry point for opening images; picks the format once there is more than raw. */
static inline int disk_open(const char *path, bool read_only, struct disk **out)
{
	return raw_open(path, read_only, out);
}

/* The read-only check lives here so that no format can forget it. */
static inline int disk_read(struct disk *dk, const struct iovec *iov, unsigned n, uint64_t off)
{
	return dk->ops->read(dk, iov, n, off);
}

static inline int disk_write(struct disk *dk, const struct iovec *iov, unsigned n, uint64_t off)
{
	return dk->read_only ? -EROFS : dk->ops->write(dk, iov, n, off);
}

static inline int disk_flush(struct disk *dk)
{
	return dk->ops->flush(dk);
}

static inline int disk_discard(struct disk *dk, uint64_t off, uint64_t len)
{
	return dk->read_only ? -EROFS : dk->ops->discard(dk, off, len);
}

static inline int disk_write_zeroes(struct disk *dk, uint64_t off, uint64_t len, bool may_unmap)
{
	return dk->read_only ? -EROFS : dk->ops->write_zeroes(dk, off, len, may_unmap);
}

static inline void disk_close(struct disk *dk)
{
	if (dk)
		dk->ops->close(dk);
}

#endif
