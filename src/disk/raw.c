/* Raw images: the guest's sectors are the file's (or block device's) bytes, one to one. */
#define _GNU_SOURCE
#include "disk/disk.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/fs.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/file.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

struct raw {
	struct disk dk;
	int fd;
	/* The backing store cannot do these; learnt once, then not asked again. */
	atomic_bool no_punch, no_zero_range;
};

static struct raw *to_raw(struct disk *dk)
{
	return (struct raw *)dk;
}

/* Move past `done` transferred bytes: whole segments advance iov, the rest is *skip. */
static void advance(const struct iovec **iov, unsigned *n, size_t *skip, size_t done)
{
	*skip += done;
	while (*n && *skip >= (*iov)->iov_len) {
		*skip -= (*iov)->iov_len;
		(*iov)++;
		(*n)--;
	}
}

static ssize_t xfer(int fd, const struct iovec *iov, unsigned n, size_t skip, uint64_t off, bool wr)
{
	if (skip) {
		/* Finish the segment that the previous call transferred only in part. */
		void *p = (char *)iov->iov_base + skip;
		size_t len = iov->iov_len - skip;

		return wr ? pwrite(fd, p, len, off) : pread(fd, p, len, off);
	}
	if (n > IOV_MAX)
		n = IOV_MAX;
	return wr ? pwritev(fd, iov, n, off) : preadv(fd, iov, n, off);
}

/* Short transfers are legal (signals, huge requests), so loop until all is done. */
static int raw_rw(struct raw *r, const struct iovec *iov, unsigned n, uint64_t off, bool wr)
{
	size_t skip = 0;

	advance(&iov, &n, &skip, 0);
	while (n) {
		ssize_t got = xfer(r->fd, iov, n, skip, off, wr);

		if (got < 0 && errno == EINTR)
			continue;
		if (got < 0)
			return -errno;
		/* End of file inside the disk: the image shrank under us. */
		if (got == 0)
			return -EIO;
		off += got;
		advance(&iov, &n, &skip, got);
	}
	return 0;
}

static int raw_read(struct disk *dk, const struct iovec *iov, unsigned n, uint64_t off)
{
	return raw_rw(to_raw(dk), iov, n, off, false);
}

static int raw_write(struct disk *dk, const struct iovec *iov, unsigned n, uint64_t off)
{
	return raw_rw(to_raw(dk), iov, n, off, true);
}

static int raw_flush(struct disk *dk)
{
	return fdatasync(to_raw(dk)->fd) < 0 ? -errno : 0;
}

static int raw_fallocate(struct raw *r, int mode, uint64_t off, uint64_t len)
{
	int ret;

	do
		ret = fallocate(r->fd, mode, off, len);
	while (ret < 0 && errno == EINTR);
	return ret < 0 ? -errno : 0;
}

static bool unsupported(int err)
{
	return err == -EOPNOTSUPP || err == -ENOSYS || err == -ENOTTY;
}

/* Punch a hole; -EOPNOTSUPP (remembered) when the file system cannot. */
static int raw_punch(struct raw *r, uint64_t off, uint64_t len)
{
	int ret;

	if (atomic_load(&r->no_punch))
		return -EOPNOTSUPP;
	ret = raw_fallocate(r, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, off, len);
	if (unsupported(ret)) {
		atomic_store(&r->no_punch, true);
		return -EOPNOTSUPP;
	}
	return ret;
}

static int raw_discard(struct disk *dk, uint64_t off, uint64_t len)
{
	int ret;

	if (!len)
		return 0;
	ret = raw_punch(to_raw(dk), off, len);
	/* Discard is only a hint: a store that cannot deallocate has done its part. */
	return ret == -EOPNOTSUPP ? 0 : ret;
}

static int write_zero_bytes(struct raw *r, uint64_t off, uint64_t len)
{
	static const uint8_t zeros[64 * 1024];
	struct iovec iov[16];

	while (len) {
		uint64_t chunk = 0;
		unsigned n = 0;
		int ret;

		for (; n < 16 && chunk < len; n++) {
			size_t l = len - chunk < sizeof(zeros) ? len - chunk : sizeof(zeros);

			iov[n] = (struct iovec){ (void *)zeros, l };
			chunk += l;
		}
		ret = raw_rw(r, iov, n, off, true);
		if (ret)
			return ret;
		off += chunk;
		len -= chunk;
	}
	return 0;
}

static int raw_write_zeroes(struct disk *dk, uint64_t off, uint64_t len, bool may_unmap)
{
	struct raw *r = to_raw(dk);
	int ret;

	if (!len)
		return 0;
	/* A punched hole reads back as zeros, on files and (since Linux 4.9) block devices. */
	if (may_unmap) {
		ret = raw_punch(r, off, len);
		if (ret != -EOPNOTSUPP)
			return ret;
	}
	if (!atomic_load(&r->no_zero_range)) {
		ret = raw_fallocate(r, FALLOC_FL_ZERO_RANGE | FALLOC_FL_KEEP_SIZE, off, len);
		if (!unsupported(ret))
			return ret;
		atomic_store(&r->no_zero_range, true);
	}
	return write_zero_bytes(r, off, len);
}

static void raw_close(struct disk *dk)
{
	struct raw *r = to_raw(dk);

	close(r->fd);
	free(r);
}

static const struct disk_ops raw_ops = {
	.name = "raw",
	.read = raw_read,
	.write = raw_write,
	.flush = raw_flush,
	.discard = raw_discard,
	.write_zeroes = raw_write_zeroes,
	.close = raw_close,
};

static int image_size(int fd, const struct stat *st, uint64_t *size)
{
	if (S_ISREG(st->st_mode)) {
		*size = st->st_size;
		return 0;
	}
	if (S_ISBLK(st->st_mode))
		return ioctl(fd, BLKGETSIZE64, size) < 0 ? -errno : 0;
	return -EINVAL;
}

/* Same file, same id on every run; lets the guest name disks in /dev/disk/by-id. */
void disk_make_id(const struct stat *st, char *id)
{
	uint64_t key[2] = { S_ISBLK(st->st_mode) ? st->st_rdev : st->st_dev, st->st_ino };
	const uint8_t *p = (const uint8_t *)key;
	uint64_t h = 0xcbf29ce484222325ULL; /* FNV-1a */

	for (size_t i = 0; i < sizeof(key); i++)
		h = (h ^ p[i]) * 0x100000001b3ULL;
	snprintf(id, DISK_ID_LEN + 1, "kiln%016llx", (unsigned long long)h);
}

/*
 * Two VMs writing one image corrupt it: take a lock like QEMU does (shared for
 * readers). Locks a file system does not support are not an error.
 */
int disk_lock(int fd, bool read_only)
{
	if (flock(fd, (read_only ? LOCK_SH : LOCK_EX) | LOCK_NB) == 0)
		return 0;
	return errno == EWOULDBLOCK ? -EBUSY : 0;
}

int raw_open(const char *path, bool read_only, struct disk **out)
{
	struct raw *r;
	struct stat st;
	uint64_t size;
	int fd, ret;

	fd = open(path, (read_only ? O_RDONLY : O_RDWR) | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	ret = fstat(fd, &st) < 0 ? -errno : image_size(fd, &st, &size);
	if (!ret)
		ret = disk_lock(fd, read_only);
	if (!ret && !(r = calloc(1, sizeof(*r))))
		ret = -ENOMEM;
	if (ret) {
		close(fd);
		return ret;
	}
	r->dk.ops = &raw_ops;
	r->dk.size = size;
	r->dk.read_only = read_only;
	disk_make_id(&st, r->dk.id);
	r->fd = fd;
	*out = &r->dk;
	return 0;
}
