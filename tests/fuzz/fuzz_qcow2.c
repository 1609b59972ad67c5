/*
 * The qcow2 reader/writer on images made of fuzzer bytes.
 *
 * Input: 32 bytes of operations (4 of 8 bytes: kind, offset, length), then the
 * image file, which lives in a memfd. Open it writable, run the operations,
 * close (metadata written back), and open it again read-only to read. A
 * malformed image must fail to open or fail requests; ASan and UBSan catch the
 * rest.
 */
#define _GNU_SOURCE
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "disk/disk.h"
#include "util/log.h"

#define OPS	4
#define OPS_LEN (OPS * 8)
#define MAX_IO	(128 * 1024)

static uint8_t io[MAX_IO];

static void run_op(struct disk *dk, const uint8_t *op)
{
	uint64_t off = ((uint64_t)op[1] << 16 | op[2] << 8 | op[3]) * 512 + op[4];
	uint64_t len = ((uint64_t)op[5] << 8 | op[6]) * 2 + op[7] % 2;
	struct iovec v[2];

	if (len > MAX_IO)
		len = MAX_IO;
	if (!dk->size)
		return;
	off %= dk->size;
	if (len > dk->size - off)
		len = dk->size - off;
	v[0] = (struct iovec){ io, len / 3 };
	v[1] = (struct iovec){ io + len / 3, len - len / 3 };
	switch (op[0] % 6) {
	case 0:
	case 1:
		disk_read(dk, v, 2, off);
		break;
	case 2:
	case 3:
		memset(io, op[0], len);
		disk_write(dk, v, 2, off);
		break;
	case 4:
		disk_write_zeroes(dk, off, len, op[0] & 8);
		break;
	case 5:
		disk_discard(dk, off, len);
		disk_flush(dk);
		break;
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct disk *dk = NULL;
	const char *why;
	char path[64];
	int fd;

	if (size < OPS_LEN)
		return 0;
	log_set_level(LOG_OFF);
	fd = memfd_create("fuzz-qcow2", MFD_CLOEXEC);
	if (fd < 0)
		abort();
	if (write(fd, data + OPS_LEN, size - OPS_LEN) != (ssize_t)(size - OPS_LEN))
		abort();
	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	if (disk_open(path, DISK_FORMAT_QCOW2, false, &dk, &why) == 0) {
		for (unsigned i = 0; i < OPS; i++)
			run_op(dk, data + i * 8);
		disk_close(dk);
		if (disk_open(path, DISK_FORMAT_QCOW2, true, &dk, &why) == 0) {
			run_op(dk, data);
			disk_close(dk);
		}
	}
	close(fd);
	return 0;
}
