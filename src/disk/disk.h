/*
 * Disk images: what virtio-blk reads and writes through.
 *
 * A format (raw, qcow2) supplies struct disk_ops. All offsets and
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
#include <sys/stat.h>
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

/* The format is what the user asked for, never what the file's contents suggest. */
enum disk_format {
	DISK_FORMAT_RAW,
	DISK_FORMAT_QCOW2,
};

/*
 * Open a raw image (regular file or block device). Errors: -ENOENT, -EACCES,
 * -EINVAL (neither a file nor a block device), -EBUSY (another process holds it).
 */
int raw_open(const char *path, bool read_only, struct disk **out);

/*
 * Open a qcow2 image (regular file). Besides raw_open's errors: -EINVAL (not
 * qcow2, or malformed), -ENOTSUP (a feature kiln does not implement); *why then
 * names the problem (a static string).
 */
int qcow2_open(const char *path, bool read_only, struct disk **out, const char **why);

/*
 * The one entry point for opening images. The format comes from the caller:
 * probing a raw image's contents would let a guest that writes a qcow2 header
 * into its raw disk make the host open it as qcow2 next time (and so read any
 * host file named as a backing file). *why may be set to a static reason.
 */
static inline int disk_open(const char *path, enum disk_format fmt, bool read_only,
			    struct disk **out, const char **why)
{
	if (fmt == DISK_FORMAT_QCOW2)
		return qcow2_open(path, read_only, out, why);
	return raw_open(path, read_only, out);
}

/* Shared by the formats: an advisory lock like QEMU's, and a stable identity. */
int disk_lock(int fd, bool read_only);
void disk_make_id(const struct stat *st, char *id);

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
