/*
 * The qcow2 backend against qemu-img: images that kiln writes pass `qemu-img
 * check` and convert to the expected bytes; images that qemu writes read back
 * through kiln; unsupported and malformed images are refused.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "check.h"
#include "disk/disk.h"

#define SIZE (8u << 20)

static char dir[] = "/tmp/kiln-qcow2-XXXXXX";
static char img[128], raw[128];
static uint8_t *model, *buf;
static uint64_t rng_state = 88172645463325252ULL;

static uint64_t rnd(void)
{
	rng_state ^= rng_state << 13;
	rng_state ^= rng_state >> 7;
	rng_state ^= rng_state << 17;
	return rng_state;
}

/* Run a shell command; its exit status. */
static int sh(const char *fmt, ...)
{
	char cmd[1024];
	va_list ap;
	int st;

	va_start(ap, fmt);
	vsnprintf(cmd, sizeof(cmd), fmt, ap);
	va_end(ap);
	st = system(cmd);
	return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static int create(const char *opts)
{
	return sh("qemu-img create -q -f qcow2 -o %s %s %u", opts, img, SIZE);
}

static int open_img(bool ro, struct disk **dk, const char **why)
{
	*why = NULL;
	return disk_open(img, DISK_FORMAT_QCOW2, ro, dk, why);
}

static int wr(struct disk *dk, uint64_t off, size_t len)
{
	/* Two segments, split at an odd place, to exercise the cursor. */
	size_t cut = len / 3;
	struct iovec v[2] = { { model + off, cut }, { model + off + cut, len - cut } };

	return disk_write(dk, v, 2, off);
}

static int rd(struct disk *dk, uint64_t off, size_t len)
{
	struct iovec v = { buf + off, len };

	memset(buf + off, 0xee, len);
	return disk_read(dk, &v, 1, off);
}

static bool same_as_model(void)
{
	int fd = open(raw, O_RDONLY);
	ssize_t got = fd < 0 ? -1 : pread(fd, buf, SIZE, 0);

	if (fd >= 0)
		close(fd);
	return got == SIZE && !memcmp(buf, model, SIZE);
}

/* qemu-img check passes and the image converts to the model's bytes. */
static void verify_with_qemu(const char *what)
{
	CHECK(sh("qemu-img check -q %s", img) == 0, "%s: qemu-img check", what);
	CHECK(sh("qemu-img convert -O raw %s %s", img, raw) == 0, "%s: convert", what);
	CHECK(same_as_model(), "%s: qemu reads what kiln wrote", what);
}

static uint32_t rt_clusters(void)
{
	uint32_t v = 0;
	int fd = open(img, O_RDONLY);

	if (fd >= 0 && pread(fd, &v, 4, 56) != 4)
		v = 0;
	if (fd >= 0)
		close(fd);
	return be32toh(v);
}

static void random_writes(struct disk *dk, unsigned n, size_t maxlen)
{
	for (unsigned i = 0; i < n; i++) {
		size_t len = 1 + rnd() % maxlen;
		uint64_t off = rnd() % (SIZE - len);

		for (size_t j = 0; j < len; j++)
			model[off + j] = (uint8_t)rnd();
		CHECK(wr(dk, off, len) == 0, "write %zu at %llu", len, (unsigned long long)off);
	}
}

/* Kiln fills a fresh image, qemu checks it. */
static void test_write(const char *opts)
{
	struct disk *dk = NULL;
	const char *why;

	memset(model, 0, SIZE);
	CHECK(create(opts) == 0, "%s: qemu-img create", opts);
	CHECK(open_img(false, &dk, &why) == 0, "%s: open (%s)", opts, why ? why : "");
	if (!dk)
		return;
	CHECK(dk->size == SIZE, "%s: virtual size", opts);
	random_writes(dk, 100, 70000);
	CHECK(rd(dk, 0, SIZE) == 0 && !memcmp(buf, model, SIZE), "%s: read back", opts);
	CHECK(disk_flush(dk) == 0, "%s: flush", opts);
	/* What a crash right after the flush would leave: everything, consistent. */
	CHECK(sh("cp %s %s.copy && qemu-img check -q %s.copy && qemu-img convert -O raw %s.copy %s",
		 img, img, img, img, raw) == 0,
	      "%s: image after a flush passes qemu-img check", opts);
	CHECK(same_as_model(), "%s: image after a flush holds the data", opts);
	/* Every cluster: fills the image past what its first refcount table covers. */
	for (uint64_t off = 0; off < SIZE; off += 65536) {
		for (size_t j = 0; j < 65536; j += 4096)
			model[off + j] = (uint8_t)(off >> 16);
		CHECK(wr(dk, off, 65536) == 0, "%s: sequential write at %llu", opts,
		      (unsigned long long)off);
	}
	random_writes(dk, 100, 9000);
	/* Between flushes, only leaks (status 3) are allowed, never corruption. */
	CHECK(sh("cp %s %s.copy && qemu-img check -q %s.copy >/dev/null 2>&1; [ $? = 0 -o $? = 3 ]",
		 img, img, img) == 0,
	      "%s: image between flushes is consistent", opts);
	CHECK(disk_write_zeroes(dk, 100000, 300000, true) == 0, "%s: write zeroes", opts);
	CHECK(disk_write_zeroes(dk, 1 << 20, 4096, false) == 0, "%s: write zeroes keep", opts);
	memset(model + 100000, 0, 300000);
	memset(model + (1 << 20), 0, 4096);
	CHECK(rd(dk, 0, SIZE) == 0 && !memcmp(buf, model, SIZE), "%s: read back again", opts);
	disk_close(dk);
	verify_with_qemu(opts);
	if (strstr(opts, "=512"))
		CHECK(rt_clusters() > 1, "%s: the refcount table grew", opts);
	printf("ok - kiln writes, qemu reads: %s\n", opts);
}

/* Qemu writes (data, zero clusters, discards), kiln reads, writes more, qemu checks. */
static void test_read(void)
{
	struct disk *dk = NULL;
	const char *why;

	CHECK(create("cluster_size=65536") == 0, "create");
	CHECK(sh("qemu-io -f qcow2 -c 'write -P 0xab 0 1M' -c 'write -P 0xcd 3M 512k' "
		 "-c 'write -z 512k 128k' -c 'discard 3200k 64k' -c 'write -P 0x11 7M 4k' %s "
		 ">/dev/null",
		 img) == 0,
	      "qemu-io");
	memset(model, 0, SIZE);
	memset(model, 0xab, 1 << 20);
	memset(model + (3 << 20), 0xcd, 512 << 10);
	memset(model + (512 << 10), 0, 128 << 10);
	memset(model + (3200 << 10), 0, 64 << 10);
	memset(model + (7 << 20), 0x11, 4096);
	CHECK(open_img(false, &dk, &why) == 0, "open (%s)", why ? why : "");
	if (!dk)
		return;
	CHECK(rd(dk, 0, SIZE) == 0 && !memcmp(buf, model, SIZE), "kiln reads what qemu wrote");
	/* Into the zero clusters (preallocated or not) and next to qemu's data. */
	memset(model + (540 << 10), 0x5a, 8192);
	CHECK(wr(dk, 540 << 10, 8192) == 0, "write into a zero cluster");
	memset(model + (7 << 20) + 4096, 0x77, 4096);
	CHECK(wr(dk, (7 << 20) + 4096, 4096) == 0, "write next to qemu's data");
	disk_close(dk);
	verify_with_qemu("qemu-written image");
	printf("ok - qemu writes, kiln reads and writes on\n");
}

struct thr {
	struct disk *dk;
	unsigned id;
	int ret;
};

static void *writer(void *arg)
{
	struct thr *t = arg;

	/* Each thread its own 4 KiB blocks, interleaved inside the same fresh clusters. */
	for (uint64_t off = t->id * 4096; off < SIZE && !t->ret; off += 4 * 4096) {
		struct iovec v = { model + off, 4096 };

		memset(model + off, (int)(t->id + 1 + off / 65536), 4096);
		t->ret = disk_write(t->dk, &v, 1, off);
	}
	return NULL;
}

static void test_threads(void)
{
	struct disk *dk = NULL;
	struct thr t[4];
	pthread_t th[4];
	const char *why;

	CHECK(create("cluster_size=65536") == 0, "create");
	CHECK(open_img(false, &dk, &why) == 0, "open");
	if (!dk)
		return;
	for (unsigned i = 0; i < 4; i++) {
		t[i] = (struct thr){ dk, i, 0 };
		pthread_create(&th[i], NULL, writer, &t[i]);
	}
	for (unsigned i = 0; i < 4; i++) {
		pthread_join(th[i], NULL);
		CHECK(t[i].ret == 0, "thread %u", i);
	}
	disk_close(dk);
	verify_with_qemu("concurrent writers");
	printf("ok - concurrent writers in shared clusters\n");
}

/* Patch bytes of the image file. */
static void patch(uint64_t off, const void *p, size_t len)
{
	int fd = open(img, O_WRONLY);

	CHECK(fd >= 0 && pwrite(fd, p, len, off) == (ssize_t)len, "patch");
	if (fd >= 0)
		close(fd);
}

static void patch_be32(uint64_t off, uint32_t v)
{
	v = htobe32(v);
	patch(off, &v, 4);
}

static void patch_be64(uint64_t off, uint64_t v)
{
	v = htobe64(v);
	patch(off, &v, 8);
}

static void expect_refusal(const char *what, bool ro, int err, const char *word)
{
	struct disk *dk = NULL;
	const char *why;
	int ret = open_img(ro, &dk, &why);

	CHECK(ret == err && why && strstr(why, word), "%s: got %d '%s'", what, ret, why ? why : "");
	if (!ret)
		disk_close(dk);
}

static void test_refusals(void)
{
	struct disk *dk = NULL;
	const char *why;

	CHECK(sh("qemu-img create -q -f qcow2 %s.base 1M && qemu-img create -q -f qcow2 -b %s.base "
		 "-F qcow2 %s",
		 img, img, img) == 0,
	      "backing image");
	expect_refusal("backing file", true, -ENOTSUP, "backing file");
	CHECK(sh("qemu-img create -q -f qcow2 --object secret,id=s0,data=pw -o "
		 "encrypt.format=luks,encrypt.key-secret=s0 %s 1M",
		 img) == 0,
	      "encrypted image");
	expect_refusal("encryption", true, -ENOTSUP, "encrypted");
	CHECK(sh("qemu-img create -q -f qcow2 -o refcount_bits=8 %s 1M", img) == 0, "refcount 8");
	expect_refusal("refcount width", false, -ENOTSUP, "16 bits");

	CHECK(create("cluster_size=65536") == 0, "create");
	patch_be64(72, 1);
	expect_refusal("dirty bit", false, -ENOTSUP, "qemu-img check -r all");
	patch_be64(72, 1 << 10);
	expect_refusal("unknown feature", false, -ENOTSUP, "unknown");
	patch_be64(72, 1 << 4);
	expect_refusal("extended L2", false, -ENOTSUP, "subclusters");
	patch_be64(72, 0);
	patch_be32(20, 30);
	expect_refusal("cluster bits", true, -EINVAL, "cluster size");
	patch_be32(20, 16);
	patch_be32(36, 0x40000000);
	expect_refusal("huge L1", true, -EINVAL, "L1");
	patch_be32(36, 0);
	expect_refusal("L1 smaller than the disk", true, -EINVAL, "L1");
	patch_be32(36, 1);
	patch_be64(24, 1ULL << 62);
	expect_refusal("huge virtual size", true, -EINVAL, "size");
	patch_be64(24, SIZE);
	patch_be64(48, 12345);
	expect_refusal("unaligned refcount table", true, -EINVAL, "refcount table");
	patch_be64(48, 1ULL << 40);
	expect_refusal("refcount table past the end", true, -EINVAL, "refcount table");
	patch_be64(48, 65536);
	patch_be32(0, 0x12345678);
	expect_refusal("bad magic", true, -EINVAL, "not a qcow2");
	printf("ok - unsupported and malformed images refused with a reason\n");

	/* Asked for raw, a qcow2 file is raw bytes: the format is never guessed. */
	CHECK(disk_open(img, DISK_FORMAT_RAW, true, &dk, &why) == 0 && dk->size < SIZE,
	      "raw stays raw");
	disk_close(dk);
	dk = NULL;

	CHECK(sh("qemu-img create -q -f qcow2 %s 1M && qemu-io -f qcow2 -c 'write -P 1 0 64k' %s "
		 ">/dev/null && qemu-img snapshot -c s1 %s",
		 img, img, img) == 0,
	      "snapshot image");
	expect_refusal("snapshots, writable", false, -ENOTSUP, "snapshot");
	CHECK(open_img(true, &dk, &why) == 0, "snapshots, read-only");
	disk_close(dk);
	dk = NULL;

	CHECK(sh("qemu-img create -q -f qcow2 %s.src 1M && qemu-io -f qcow2 -c 'write -P 7 0 64k' "
		 "%s.src >/dev/null && qemu-img convert -c -O qcow2 %s.src %s",
		 img, img, img, img) == 0,
	      "compressed image");
	CHECK(open_img(true, &dk, &why) == 0, "compressed image opens");
	if (dk) {
		CHECK(rd(dk, 0, 4096) == -EIO, "compressed cluster read refused");
		CHECK(rd(dk, 65536, 4096) == 0, "other clusters read");
		disk_close(dk);
	}
	printf("ok - snapshots read-only, compressed clusters refused\n");
}

/* An L2 entry that points at metadata: guest writes must not land there. */
static void test_hostile_l2(void)
{
	uint8_t h[64], before[65536], after[65536];
	uint64_t l1_off, l2_off;
	struct disk *dk = NULL;
	const char *why;
	int fd;

	CHECK(create("cluster_size=65536") == 0, "create");
	CHECK(sh("qemu-io -f qcow2 -c 'write -P 1 0 64k' %s >/dev/null", img) == 0, "write");
	fd = open(img, O_RDONLY);
	CHECK(fd >= 0 && pread(fd, h, 64, 0) == 64, "header");
	memcpy(&l1_off, h + 40, 8);
	l1_off = be64toh(l1_off);
	CHECK(pread(fd, &l2_off, 8, l1_off) == 8, "L1");
	l2_off = be64toh(l2_off) & 0x00fffffffffffe00ULL;
	CHECK(pread(fd, before, sizeof(before), l1_off) == sizeof(before), "L1 cluster");
	close(fd);
	patch_be64(l2_off + 8, l1_off | 1ULL << 63);
	CHECK(open_img(false, &dk, &why) == 0, "open");
	if (!dk)
		return;
	memset(model + 65536, 0x66, 4096);
	CHECK(wr(dk, 65536, 4096) == -EIO, "write onto the L1 table refused");
	disk_close(dk);
	fd = open(img, O_RDONLY);
	CHECK(fd >= 0 && pread(fd, after, sizeof(after), l1_off) == sizeof(after) &&
		      !memcmp(before, after, sizeof(after)),
	      "L1 table intact");
	close(fd);
	printf("ok - guest writes never reach metadata\n");
}

int main(void)
{
	if (sh("qemu-img --version >/dev/null 2>&1 && qemu-io --version >/dev/null 2>&1")) {
		printf("skip - qemu-img or qemu-io not installed (qemu-utils)\n");
		return 77;
	}
	if (!mkdtemp(dir))
		return 1;
	snprintf(img, sizeof(img), "%s/t.qcow2", dir);
	snprintf(raw, sizeof(raw), "%s/t.raw", dir);
	model = malloc(SIZE);
	buf = malloc(SIZE);
	if (!model || !buf)
		return 1;
	test_write("cluster_size=65536");
	test_write("cluster_size=512");
	test_write("cluster_size=4096,compat=0.10");
	test_write("cluster_size=2097152");
	test_read();
	test_threads();
	test_refusals();
	test_hostile_l2();
	sh("rm -rf %s", dir);
	free(model);
	free(buf);
	return check_summary();
}
