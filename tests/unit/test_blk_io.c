/* The raw disk backend on a temporary file: data path, flush, discard, write zeroes, read-only. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "check.h"
#include "disk/disk.h"

#define SIZE (1024 * 1024 + 100) /* not a multiple of 512 on purpose */

static char path[64];

static void fill(uint8_t *p, size_t n, uint8_t seed)
{
	for (size_t i = 0; i < n; i++)
		p[i] = (uint8_t)(seed + i * 7);
}

static bool all_zero(const uint8_t *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (p[i])
			return false;
	return true;
}

static int read_back(struct disk *dk, uint8_t *buf, size_t len, uint64_t off)
{
	struct iovec v = { buf, len };

	memset(buf, 0xcc, len);
	return disk_read(dk, &v, 1, off);
}

static void test_rw(struct disk *dk)
{
	static uint8_t a[8192], b[8192];
	/* Odd segment boundaries, an empty segment, and a segment list longer than IOV_MAX. */
	struct iovec w[3] = { { a, 100 }, { a + 100, 0 }, { a + 100, 8092 } };
	struct iovec *many = calloc(2048, sizeof(*many));

	fill(a, sizeof(a), 1);
	CHECK(disk_write(dk, w, 3, 4096) == 0, "write");
	CHECK(read_back(dk, b, sizeof(b), 4096) == 0 && !memcmp(a, b, sizeof(a)), "read back");
	printf("ok - write and read back\n");

	for (unsigned i = 0; i < 2048; i++)
		many[i] = (struct iovec){ b + 2 * i, 2 };
	memset(b, 0, sizeof(b));
	CHECK(disk_read(dk, many, 2048, 4096) == 0 && !memcmp(a, b, 4096), "2048-segment read");
	printf("ok - more segments than IOV_MAX\n");
	free(many);

	CHECK(disk_flush(dk) == 0, "flush");
	printf("ok - flush\n");

	/* Reading past the end of the file is an error, not silent zeros. */
	CHECK(read_back(dk, b, 512, SIZE - 100 + 512) == -EIO, "read past EOF");
	printf("ok - read past EOF fails\n");
}

static void test_zeroing(struct disk *dk)
{
	static uint8_t a[65536], b[65536];
	struct iovec v = { a, sizeof(a) };

	fill(a, sizeof(a), 3);
	CHECK(disk_write(dk, &v, 1, 65536) == 0, "write");
	CHECK(disk_discard(dk, 65536, 8192) == 0, "discard");
	CHECK(disk_discard(dk, 65536, 0) == 0, "empty discard");
	printf("ok - discard\n");

	CHECK(disk_write_zeroes(dk, 65536 + 8192, 4096, false) == 0, "write zeroes");
	CHECK(read_back(dk, b, 4096, 65536 + 8192) == 0 && all_zero(b, 4096), "zeroes read back");
	CHECK(disk_write_zeroes(dk, 65536 + 16384, 1536, true) == 0, "write zeroes, may unmap");
	CHECK(read_back(dk, b, 1536, 65536 + 16384) == 0 && all_zero(b, 1536), "unmapped zeroes");
	/* Only the ranges asked for are touched. */
	CHECK(read_back(dk, b, 512, 65536 + 16384 + 1536) == 0 && !memcmp(b, a + 16384 + 1536, 512),
	      "bytes after the range kept");
	CHECK(disk_write_zeroes(dk, 65536, 0, false) == 0, "empty write zeroes");
	printf("ok - write zeroes\n");
}

static void test_read_only(void)
{
	struct disk *dk = NULL;
	uint8_t buf[512] = { 1 };
	struct iovec v = { buf, sizeof(buf) };

	CHECK(raw_open(path, true, &dk) == 0, "read-only open");
	if (!dk)
		return;
	CHECK(dk->read_only, "read_only flag");
	CHECK(disk_write(dk, &v, 1, 0) == -EROFS, "write refused");
	CHECK(disk_discard(dk, 0, 512) == -EROFS, "discard refused");
	CHECK(disk_write_zeroes(dk, 0, 512, true) == -EROFS, "write zeroes refused");
	CHECK(disk_read(dk, &v, 1, 0) == 0, "read allowed");
	CHECK(disk_flush(dk) == 0, "flush allowed");
	disk_close(dk);
	printf("ok - read-only disk\n");
}

static void test_open_errors(void)
{
	struct disk *dk = NULL, *dk2 = NULL;

	CHECK(raw_open("/nonexistent/kiln.img", false, &dk) == -ENOENT, "missing file");
	CHECK(raw_open("/tmp", true, &dk) == -EINVAL || raw_open("/tmp", true, &dk) == -EISDIR,
	      "directory");
	CHECK(raw_open("/dev/null", true, &dk) == -EINVAL, "character device");
	/* Two writers of one image corrupt it; the second is turned away. */
	CHECK(raw_open(path, false, &dk) == 0, "first writer");
	CHECK(raw_open(path, false, &dk2) == -EBUSY, "second writer");
	CHECK(raw_open(path, true, &dk2) == -EBUSY, "reader beside a writer");
	disk_close(dk);
	printf("ok - open errors\n");
}

int main(void)
{
	struct disk *dk = NULL, *dk2 = NULL;
	const char *tmp = getenv("TMPDIR");
	int fd;

	snprintf(path, sizeof(path), "%s/kiln-blk-XXXXXX", tmp && strlen(tmp) < 40 ? tmp : "/tmp");
	fd = mkstemp(path);
	if (fd < 0 || ftruncate(fd, SIZE) < 0) {
		perror("temp file");
		return 1;
	}
	close(fd);
	CHECK(raw_open(path, false, &dk) == 0, "open");
	if (dk) {
		CHECK(dk->size == SIZE && !dk->read_only, "size %llu",
		      (unsigned long long)dk->size);
		CHECK(strlen(dk->id) == DISK_ID_LEN, "id '%s'", dk->id);
		test_rw(dk);
		test_zeroing(dk);
		disk_close(dk);
	}
	test_read_only();
	/* Readers share an image. */
	CHECK(raw_open(path, true, &dk) == 0 && raw_open(path, true, &dk2) == 0, "two readers");
	disk_close(dk);
	disk_close(dk2);
	test_open_errors();
	unlink(path);
	return check_summary();
}
