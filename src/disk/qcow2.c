/*
 * qcow2 images (versions 2 and 3, as `qemu-img create -f qcow2` makes them).
 *
 * Every field of the image is treated as hostile: a malformed image fails to
 * open or fails the request, and no guest write ever lands on a metadata
 * cluster. Not supported, refused at open with a message naming the feature:
 * backing files, encryption, external data files, extended L2 entries, refcount
 * widths other than 16 bits, dirty or corrupt images, unknown incompatible
 * features, and internal snapshots on a writable open (a read-only open reads
 * the active L1 table and ignores them). Compressed clusters fail the request.
 *
 * Allocation only appends: a new cluster is past every byte the file had, so it
 * reads as zeros without being written, and no cluster ever changes from data to
 * metadata. So data I/O to allocated clusters runs outside the lock; lookups and
 * allocating writes run under it. Discard and write-zeroes keep the image's
 * clusters allocated and only punch holes in the host file.
 *
 * Metadata is written back in an order that keeps the image consistent after a
 * crash (at worst, leaked clusters): L2 tables and refcount blocks are cached;
 * a flush writes refcount blocks, syncs (this also makes data durable), then
 * writes L2 tables and the L1 table, and syncs again. A new refcount block is
 * synced before the refcount table points at it; a new L2 table is written
 * before L1 can point at it.
 */
#define _GNU_SOURCE
#include "disk/disk.h"

#include <endian.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "util/log.h"
#include "util/iov.h"

#define QCOW2_MAGIC   0x514649fbU
#define HDR_V2_LEN    72
#define HDR_V3_LEN    104
#define MIN_CLUSTER   9
#define MAX_CLUSTER   21
#define MAX_L1_BYTES  (32u << 20) /* QEMU's limits, so its images always fit */
#define MAX_RT_BYTES  (8u << 20)
#define MAX_VIRT_SIZE (1ULL << 56)

#define OFF_MASK      0x00fffffffffffe00ULL /* bits 9-55: a host offset */
#define FLAG_COPIED   (1ULL << 63)	    /* refcount is exactly 1: writable in place */
#define FLAG_COMPRESS (1ULL << 62)
#define FLAG_ZERO     1ULL /* v3: the cluster reads as zeros */
#define L1_RESERVED   0x7f000000000001ffULL
#define L2_RESERVED   0x3f000000000001feULL
#define RT_RESERVED   0x1ffULL

/* Incompatible feature bits. */
#define INCOMPAT_DIRTY	   (1ULL << 0)
#define INCOMPAT_CORRUPT   (1ULL << 1)
#define INCOMPAT_DATA_FILE (1ULL << 2)
#define INCOMPAT_COMPRESSION                                                                       \
	(1ULL << 3) /* compression type: compressed clusters are refused anyway */
#define INCOMPAT_EXTL2 (1ULL << 4)

#define EXT_END	      0
#define EXT_CRYPTO    0x0537be77U
#define EXT_DATA_FILE 0x44415441U

/* Header field offsets that kiln writes. */
#define HDR_RT_OFFSET 48
#define HDR_AUTOCLEAR 88

struct cslot {
	uint64_t off; /* host offset of the cached cluster; 0: slot empty */
	uint64_t used;
	bool dirty;
	uint8_t *buf; /* the cluster as on disk (big endian) */
};

/* A small LRU cache of metadata clusters (L2 tables or refcount blocks). */
struct cache {
	struct cslot *s;
	unsigned n;
	uint64_t tick;
};

struct qcow2 {
	struct disk dk;
	int fd;
	char *path;
	pthread_mutex_t lock;
	unsigned cbits;
	uint64_t cs;  /* cluster size */
	unsigned l2n; /* entries per L2 table */
	unsigned rbn; /* entries per refcount block */
	uint64_t *l1; /* host byte order */
	uint32_t l1_size;
	uint64_t l1_off;
	uint32_t l1_dirty_lo, l1_dirty_hi; /* entries to write back */
	uint64_t *rt;			   /* refcount table, host byte order */
	uint64_t rt_off, rt_entries;
	uint32_t rt_clusters;
	bool rt_growing;    /* a new table is being built in memory */
	uint64_t next_free; /* where the next cluster is appended */
	uint64_t *meta;	    /* sorted cluster numbers of all metadata: never guest-writable */
	size_t nmeta, meta_cap;
	struct cache l2c, rbc;
	uint64_t autoclear; /* feature bits that a writer unaware of them must clear */
	bool v3, warned;
};

static struct qcow2 *to_q(struct disk *dk)
{
	return (struct qcow2 *)dk;
}

/* One message per image for what goes wrong at run time; the request fails with -EIO. */
static int corrupt(struct qcow2 *q, const char *what)
{
	if (!q->warned) {
		q->warned = true;
		pr_err("qcow2 image %s: %s", q->path, what);
	}
	return -EIO;
}

/* ---- file I/O ---- */

/* Whole-buffer pread; a short read (end of file) is -EIO. */
static int pread_all(int fd, void *buf, size_t len, uint64_t off)
{
	while (len) {
		ssize_t r = pread(fd, buf, len, off);

		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			return r < 0 ? -errno : -EIO;
		buf = (char *)buf + r;
		len -= r;
		off += r;
	}
	return 0;
}

static int pwrite_all(struct qcow2 *q, const void *buf, size_t len, uint64_t off)
{
	while (len) {
		ssize_t r = pwrite(q->fd, buf, len, off);

		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			return r < 0 ? -errno : -EIO;
		buf = (const char *)buf + r;
		len -= r;
		off += r;
	}
	return 0;
}

static int sync_file(struct qcow2 *q)
{
	return fdatasync(q->fd) < 0 ? -errno : 0;
}

static int write_zeros(struct qcow2 *q, uint64_t off, uint64_t len)
{
	static const uint8_t zeros[64 * 1024];

	while (len) {
		size_t l = len < sizeof(zeros) ? len : sizeof(zeros);
		int ret = pwrite_all(q, zeros, l, off);

		if (ret)
			return ret;
		off += l;
		len -= l;
	}
	return 0;
}

/* ---- the guest's buffers: a cursor over an iovec array ---- */

struct cur {
	const struct iovec *iov;
	unsigned n;
	size_t skip;
};

static void cur_advance(struct cur *c, size_t len)
{
	c->skip += len;
	while (c->n && c->skip >= c->iov->iov_len) {
		c->skip -= c->iov->iov_len;
		c->iov++;
		c->n--;
	}
}

/* Up to vmax segments covering at most len bytes from the cursor; returns the count. */
static unsigned cur_take(const struct cur *c, uint64_t len, struct iovec *v, unsigned vmax)
{
	const struct iovec *s = c->iov;
	size_t skip = c->skip;
	unsigned k = 0;

	for (unsigned i = 0; i < c->n && k < vmax && len; i++, s++, skip = 0) {
		size_t l = s[0].iov_len - skip;

		if (!l)
			continue;
		if (l > len)
			l = len;
		v[k++] = (struct iovec){ (char *)s->iov_base + skip, l };
		len -= l;
	}
	return k;
}

static void cur_zero(struct cur *c, uint64_t len)
{
	while (len && c->n) {
		size_t l = c->iov->iov_len - c->skip;

		if (l > len)
			l = len;
		memset((char *)c->iov->iov_base + c->skip, 0, l);
		cur_advance(c, l);
		len -= l;
	}
}

/* Move len bytes between the cursor and the file at pos. Reads past the end of file are zeros. */
static int cur_io(struct qcow2 *q, struct cur *c, uint64_t len, uint64_t pos, bool wr)
{
	while (len) {
		struct iovec v[64];
		unsigned k = cur_take(c, len, v, 64);
		ssize_t r;

		if (!k)
			return -EIO;
		r = wr ? pwritev(q->fd, v, k, pos) : preadv(q->fd, v, k, pos);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return -errno;
		if (r == 0 && wr)
			return -EIO;
		if (r == 0) {
			/* An allocated cluster the file does not reach yet: never written, zeros.
			 */
			cur_zero(c, len);
			return 0;
		}
		cur_advance(c, r);
		len -= r;
		pos += r;
	}
	return 0;
}

/* ---- metadata clusters that guest writes must never reach ---- */

static int meta_push(struct qcow2 *q, uint64_t cluster)
{
	if (q->nmeta == q->meta_cap) {
		size_t cap = q->meta_cap ? q->meta_cap * 2 : 64;
		uint64_t *m = realloc(q->meta, cap * sizeof(*m));

		if (!m)
			return -ENOMEM;
		q->meta = m;
		q->meta_cap = cap;
	}
	q->meta[q->nmeta++] = cluster;
	return 0;
}

/* Keeps meta sorted; cheap, since new clusters are mostly the highest. */
static int meta_add(struct qcow2 *q, uint64_t cluster)
{
	int ret = meta_push(q, cluster);
	size_t i = q->nmeta - 1;

	for (; !ret && i && q->meta[i - 1] > cluster; i--)
		q->meta[i] = q->meta[i - 1];
	if (!ret)
		q->meta[i] = cluster;
	return ret;
}

static int meta_add_range(struct qcow2 *q, uint64_t off, uint64_t len)
{
	for (uint64_t c = off >> q->cbits; c < (off + len + q->cs - 1) >> q->cbits; c++) {
		int ret = meta_push(q, c);

		if (ret)
			return ret;
	}
	return 0;
}

static bool is_meta(const struct qcow2 *q, uint64_t cluster)
{
	size_t lo = 0, hi = q->nmeta;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (q->meta[mid] == cluster)
			return true;
		if (q->meta[mid] < cluster)
			lo = mid + 1;
		else
			hi = mid;
	}
	return false;
}

/* ---- the metadata cache ---- */

static int cache_init(struct cache *c, unsigned n, uint64_t cs)
{
	c->s = calloc(n, sizeof(*c->s));
	if (!c->s)
		return -ENOMEM;
	c->n = n;
	for (unsigned i = 0; i < n; i++)
		if (!(c->s[i].buf = malloc(cs)))
			return -ENOMEM;
	return 0;
}

static void cache_free(struct cache *c)
{
	for (unsigned i = 0; c->s && i < c->n; i++)
		free(c->s[i].buf);
	free(c->s);
}

static int cache_write_dirty(struct qcow2 *q, struct cache *c)
{
	for (unsigned i = 0; i < c->n; i++) {
		struct cslot *s = &c->s[i];
		int ret;

		if (!s->dirty)
			continue;
		ret = pwrite_all(q, s->buf, q->cs, s->off);
		if (ret)
			return ret;
		s->dirty = false;
	}
	return 0;
}

static bool cache_dirty(const struct cache *c)
{
	for (unsigned i = 0; i < c->n; i++)
		if (c->s[i].dirty)
			return true;
	return false;
}

static int write_l1(struct qcow2 *q)
{
	uint32_t lo = q->l1_dirty_lo, hi = q->l1_dirty_hi;
	uint64_t *be;
	int ret;

	if (lo >= hi)
		return 0;
	be = malloc((size_t)(hi - lo) * 8);
	if (!be)
		return -ENOMEM;
	for (uint32_t i = lo; i < hi; i++)
		be[i - lo] = htobe64(q->l1[i]);
	ret = pwrite_all(q, be, (size_t)(hi - lo) * 8, q->l1_off + (uint64_t)lo * 8);
	free(be);
	if (!ret)
		q->l1_dirty_lo = q->l1_dirty_hi = 0;
	return ret;
}

/*
 * Write back metadata in dependency order. Refcounts first, then a sync that
 * also covers data written so far; only then the tables that point at them.
 */
static int meta_flush(struct qcow2 *q)
{
	int ret = cache_write_dirty(q, &q->rbc);

	if (!ret)
		ret = sync_file(q);
	if (ret || (!cache_dirty(&q->l2c) && q->l1_dirty_lo >= q->l1_dirty_hi))
		return ret;
	ret = cache_write_dirty(q, &q->l2c);
	if (!ret)
		ret = write_l1(q);
	if (!ret)
		ret = sync_file(q);
	return ret;
}

/* The cached cluster at off, read in unless fresh (then zeroed: the caller fills it). */
static int cache_get(struct qcow2 *q, struct cache *c, uint64_t off, bool fresh, struct cslot **out)
{
	struct cslot *victim = NULL;
	int ret;

	for (unsigned i = 0; i < c->n; i++) {
		struct cslot *s = &c->s[i];

		if (s->off == off && off) {
			s->used = ++c->tick;
			*out = s;
			return 0;
		}
		/* Prefer an empty slot, then the least recently used clean one. */
		if (!victim || !s->off ||
		    (victim->off && (victim->dirty > s->dirty ||
				     (victim->dirty == s->dirty && s->used < victim->used))))
			victim = s;
	}
	if (victim->dirty) {
		ret = meta_flush(q);
		if (ret)
			return ret;
	}
	victim->off = 0;
	if (fresh)
		memset(victim->buf, 0, q->cs);
	else if ((ret = pread_all(q->fd, victim->buf, q->cs, off)))
		return ret;
	victim->off = off;
	victim->used = ++c->tick;
	*out = victim;
	return 0;
}

/* ---- refcounts ---- */

static int grow_rt(struct qcow2 *q, uint64_t need);
static int take_cluster(struct qcow2 *q, uint64_t cluster);

static int rb_slot(struct qcow2 *q, uint64_t cluster, struct cslot **s)
{
	uint64_t r = cluster / q->rbn;

	if (r >= q->rt_entries || !q->rt[r])
		return -EIO;
	return cache_get(q, &q->rbc, q->rt[r], false, s);
}

static int set_refcount(struct qcow2 *q, uint64_t cluster, uint16_t from, uint16_t to)
{
	struct cslot *s;
	uint8_t *p;
	int ret = rb_slot(q, cluster, &s);

	if (ret)
		return ret;
	p = s->buf + (cluster % q->rbn) * 2;
	if ((unsigned)(p[0] << 8 | p[1]) != from)
		return corrupt(q, "refcounts do not match the clusters' use; run qemu-img check");
	p[0] = to >> 8;
	p[1] = to & 0xff;
	s->dirty = true;
	return 0;
}

/* Append a refcount block for refcount table entry r (it counts itself when it can). */
static int new_refblock(struct qcow2 *q, uint64_t r)
{
	uint64_t p = q->next_free >> q->cbits, be;
	struct cslot *s;
	int ret;

	q->next_free += q->cs;
	ret = meta_add(q, p);
	if (!ret)
		ret = cache_get(q, &q->rbc, p << q->cbits, true, &s);
	if (ret)
		return ret;
	if (p / q->rbn == r) {
		s->buf[(p % q->rbn) * 2 + 1] = 1;
	}
	ret = pwrite_all(q, s->buf, q->cs, p << q->cbits);
	/* The block must be on disk before the table points at it. */
	if (!ret && !q->rt_growing)
		ret = sync_file(q);
	if (ret) {
		s->off = 0;
		return ret;
	}
	q->rt[r] = p << q->cbits;
	if (!q->rt_growing) {
		be = htobe64(q->rt[r]);
		ret = pwrite_all(q, &be, 8, q->rt_off + r * 8);
		if (ret)
			return ret;
	}
	return p / q->rbn == r ? 0 : take_cluster(q, p);
}

/* Count a new cluster as used: refcount 0 -> 1, making room in the refcount structures. */
static int take_cluster(struct qcow2 *q, uint64_t cluster)
{
	uint64_t r = cluster / q->rbn;
	int ret;

	if (r >= q->rt_entries) {
		if (q->rt_growing)
			return -EIO;
		ret = grow_rt(q, r);
		if (ret)
			return ret;
	}
	if (!q->rt[r] && (ret = new_refblock(q, r)))
		return ret;
	return set_refcount(q, cluster, 0, 1);
}

static int alloc_cluster(struct qcow2 *q, uint64_t *off)
{
	uint64_t c = q->next_free >> q->cbits;

	q->next_free += q->cs;
	*off = c << q->cbits;
	return take_cluster(q, c);
}

static int write_rt(struct qcow2 *q, uint64_t off, uint64_t clusters)
{
	size_t len = clusters << q->cbits;
	uint64_t *be = calloc(1, len);
	int ret;

	if (!be)
		return -ENOMEM;
	for (uint64_t i = 0; i < q->rt_entries; i++)
		be[i] = htobe64(q->rt[i]);
	ret = pwrite_all(q, be, len, off);
	free(be);
	return ret;
}

/*
 * A bigger refcount table, appended: built in memory with the refcount blocks
 * for its own clusters, written and synced, then the header switched to it and
 * synced, and only then the old table's clusters freed.
 */
static int grow_rt(struct qcow2 *q, uint64_t need)
{
	uint64_t old_off = q->rt_off, old_entries = q->rt_entries, *old = q->rt;
	uint64_t n = (uint64_t)q->rt_clusters * 2, t0, be;
	uint8_t hdr[12];
	uint32_t be32;
	int ret = 0;

	if (n < (((need + 1) * 8) >> q->cbits) + 1)
		n = (((need + 1) * 8) >> q->cbits) + 1;
	if ((n << q->cbits) > MAX_RT_BYTES)
		return corrupt(q, "the image needs a refcount table over 8 MiB; not supported");
	q->rt = calloc(1, n << q->cbits);
	if (!q->rt) {
		q->rt = old;
		return -ENOMEM;
	}
	memcpy(q->rt, old, old_entries * 8);
	q->rt_entries = (n << q->cbits) / 8;
	q->rt_growing = true;
	t0 = q->next_free >> q->cbits;
	q->next_free += n << q->cbits;
	for (uint64_t i = 0; i < n && !ret; i++) {
		ret = meta_add(q, t0 + i);
		if (!ret)
			ret = take_cluster(q, t0 + i);
	}
	if (!ret)
		ret = cache_write_dirty(q, &q->rbc);
	if (!ret)
		ret = write_rt(q, t0 << q->cbits, n);
	if (!ret)
		ret = sync_file(q);
	q->rt_growing = false;
	if (ret) {
		/* Nothing points at the new structures yet: they are only leaked. */
		free(q->rt);
		q->rt = old;
		q->rt_entries = old_entries;
		return ret;
	}
	be = htobe64(t0 << q->cbits);
	memcpy(hdr, &be, 8);
	be32 = htobe32((uint32_t)n);
	memcpy(hdr + 8, &be32, 4);
	ret = pwrite_all(q, hdr, sizeof(hdr), HDR_RT_OFFSET);
	if (!ret)
		ret = sync_file(q);
	if (ret) {
		free(q->rt);
		q->rt = old;
		q->rt_entries = old_entries;
		return ret;
	}
	free(old);
	q->rt_off = t0 << q->cbits;
	for (uint64_t c = 0; c < q->rt_clusters && !ret; c++)
		ret = set_refcount(q, (old_off >> q->cbits) + c, 1, 0);
	q->rt_clusters = (uint32_t)n;
	return ret;
}

/* ---- mapping guest offsets ---- */

enum kind { K_UNALLOC, K_ZERO, K_DATA };

struct ext {
	enum kind kind;
	uint64_t host; /* K_DATA: host offset of the guest offset asked for */
	uint64_t len;
};

/* A host cluster an entry may point at: aligned, inside what exists, not the header. */
static bool host_ok(const struct qcow2 *q, uint64_t off)
{
	return !(off & (q->cs - 1)) && off >= q->cs && off < q->next_free;
}

static int l2_get(struct qcow2 *q, uint64_t l1i, bool wr, struct cslot **s)
{
	uint64_t e = q->l1[l1i], off = e & OFF_MASK;

	if ((e & L1_RESERVED) || !host_ok(q, off))
		return corrupt(q, "bad L1 table entry; run qemu-img check");
	if (wr && !(e & FLAG_COPIED))
		return corrupt(q, "L2 table shared (refcount > 1); run qemu-img check -r all");
	return cache_get(q, &q->l2c, off, false, s);
}

static int classify(struct qcow2 *q, uint64_t e, bool wr, enum kind *k, uint64_t *host)
{
	*host = e & OFF_MASK;
	if (e & FLAG_COMPRESS)
		return corrupt(q,
			       "compressed clusters are not supported (qemu-img convert -O qcow2 "
			       "without -c decompresses the image)");
	if ((e & L2_RESERVED) || ((e & FLAG_ZERO) && !q->v3))
		return corrupt(q, "bad L2 table entry; run qemu-img check");
	if (e & FLAG_ZERO)
		*k = K_ZERO;
	else
		*k = *host ? K_DATA : K_UNALLOC;
	if (*host && !host_ok(q, *host))
		return corrupt(q, "L2 entry points outside the image; run qemu-img check");
	if (*k == K_DATA && wr && (!(e & FLAG_COPIED) || is_meta(q, *host >> q->cbits)))
		return corrupt(q,
			       "data cluster shared or overlapping metadata; run qemu-img check");
	return 0;
}

/*
 * Under the lock: what guest bytes [off, off+len) start with, and how far that
 * continues (same kind; for data, contiguous on the host) within one L2 table.
 */
static int map(struct qcow2 *q, uint64_t off, uint64_t len, bool wr, struct ext *x)
{
	uint64_t l2span = (uint64_t)q->l2n << q->cbits, in = off & (q->cs - 1);
	uint64_t l1i = off / l2span, i = (off >> q->cbits) & (q->l2n - 1), host;
	uint64_t room = l2span - (off & (l2span - 1));
	const uint64_t *t;
	struct cslot *s;
	enum kind k;
	int ret;

	if (len > room)
		len = room;
	x->len = len;
	if (!(q->l1[l1i] & OFF_MASK)) {
		x->kind = K_UNALLOC;
		return 0;
	}
	if ((ret = l2_get(q, l1i, wr, &s)))
		return ret;
	t = (const uint64_t *)s->buf;
	if ((ret = classify(q, be64toh(t[i]), wr, &x->kind, &x->host)))
		return ret;
	x->host += in;
	for (uint64_t done = q->cs - in; done < len; done += q->cs) {
		if ((ret = classify(q, be64toh(t[++i]), wr, &k, &host)))
			return ret;
		if (k != x->kind || (k == K_DATA && host != x->host + done)) {
			x->len = done;
			break;
		}
	}
	return 0;
}

/* ---- requests ---- */

static int q_read(struct disk *dk, const struct iovec *iov, unsigned n, uint64_t off)
{
	struct qcow2 *q = to_q(dk);
	struct cur c = { iov, n, 0 };
	uint64_t len = iov_len(iov, n);

	cur_advance(&c, 0);
	while (len) {
		struct ext x;
		int ret;

		pthread_mutex_lock(&q->lock);
		ret = map(q, off, len, false, &x);
		pthread_mutex_unlock(&q->lock);
		if (!ret && x.kind == K_DATA)
			ret = cur_io(q, &c, x.len, x.host, false);
		else if (!ret)
			cur_zero(&c, x.len);
		if (ret)
			return ret;
		off += x.len;
		len -= x.len;
	}
	return 0;
}

/* A new L2 table, written (empty) before the L1 entry can reach the disk. */
static int new_l2(struct qcow2 *q, uint64_t l1i)
{
	struct cslot *s;
	uint64_t off;
	int ret = alloc_cluster(q, &off);

	if (!ret)
		ret = meta_add(q, off >> q->cbits);
	if (!ret)
		ret = cache_get(q, &q->l2c, off, true, &s);
	if (ret)
		return ret;
	ret = pwrite_all(q, s->buf, q->cs, off);
	if (ret) {
		s->off = 0;
		return ret;
	}
	q->l1[l1i] = off | FLAG_COPIED;
	if (q->l1_dirty_lo >= q->l1_dirty_hi) {
		q->l1_dirty_lo = (uint32_t)l1i;
		q->l1_dirty_hi = (uint32_t)l1i + 1;
	} else {
		if (l1i < q->l1_dirty_lo)
			q->l1_dirty_lo = (uint32_t)l1i;
		if (l1i >= q->l1_dirty_hi)
			q->l1_dirty_hi = (uint32_t)l1i + 1;
	}
	return 0;
}

/*
 * Under the lock: write [off, off+len), inside one cluster that has no data
 * yet. The data goes to disk before the L2 entry that points at it.
 */
static int alloc_write(struct qcow2 *q, struct cur *c, uint64_t off, uint64_t len)
{
	uint64_t l2span = (uint64_t)q->l2n << q->cbits, l1i = off / l2span;
	uint64_t i = (off >> q->cbits) & (q->l2n - 1), in = off & (q->cs - 1), host, e;
	struct cslot *s;
	enum kind k;
	int ret = 0;

	if (!(q->l1[l1i] & OFF_MASK))
		ret = new_l2(q, l1i);
	if (!ret)
		ret = l2_get(q, l1i, true, &s);
	if (ret)
		return ret;
	e = be64toh(((uint64_t *)s->buf)[i]);
	if ((ret = classify(q, e, true, &k, &host)))
		return ret;
	if (k == K_DATA)
		return -EIO; /* map said otherwise under the same lock */
	if (host) {
		/* A preallocated zero cluster: zero the rest of it and use it in place. */
		if (!(e & FLAG_COPIED) || is_meta(q, host >> q->cbits))
			return corrupt(
				q,
				"zero cluster shared or overlapping metadata; run qemu-img check");
		ret = write_zeros(q, host, in);
		if (!ret)
			ret = write_zeros(q, host + in + len, q->cs - in - len);
	} else {
		ret = alloc_cluster(q, &host);
		/* Let the file reach the cluster's end, so that every allocated byte exists. */
		if (!ret && in + len < q->cs)
			ret = write_zeros(q, host + q->cs - 1, 1);
	}
	if (!ret)
		ret = cur_io(q, c, len, host + in, true);
	if (ret)
		return ret;
	/* The metadata writes above may have flushed the cache, never evicted this L2 table. */
	((uint64_t *)s->buf)[i] = htobe64(host | FLAG_COPIED);
	s->dirty = true;
	return 0;
}

static int q_write(struct disk *dk, const struct iovec *iov, unsigned n, uint64_t off)
{
	struct qcow2 *q = to_q(dk);
	struct cur c = { iov, n, 0 };
	uint64_t len = iov_len(iov, n);

	cur_advance(&c, 0);
	while (len) {
		struct ext x;
		int ret;

		pthread_mutex_lock(&q->lock);
		ret = map(q, off, len, true, &x);
		if (!ret && x.kind != K_DATA) {
			if (x.len > q->cs - (off & (q->cs - 1)))
				x.len = q->cs - (off & (q->cs - 1));
			ret = alloc_write(q, &c, off, x.len);
		}
		pthread_mutex_unlock(&q->lock);
		if (!ret && x.kind == K_DATA)
			ret = cur_io(q, &c, x.len, x.host, true);
		if (ret)
			return ret;
		off += x.len;
		len -= x.len;
	}
	return 0;
}

static int q_flush(struct disk *dk)
{
	struct qcow2 *q = to_q(dk);
	int ret;

	pthread_mutex_lock(&q->lock);
	ret = meta_flush(q);
	pthread_mutex_unlock(&q->lock);
	return ret;
}

static int host_zero(struct qcow2 *q, uint64_t host, uint64_t len, bool discard, bool may_unmap)
{
	int mode = discard || may_unmap ? FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE
					: FALLOC_FL_ZERO_RANGE | FALLOC_FL_KEEP_SIZE;
	int ret;

	do
		ret = fallocate(q->fd, mode, host, len);
	while (ret < 0 && errno == EINTR);
	if (!ret || discard) /* discard is a hint */
		return 0;
	if (errno != EOPNOTSUPP && errno != ENOSYS)
		return -errno;
	return write_zeros(q, host, len);
}

/*
 * Unallocated and zero clusters already read as zeros; allocated ones stay
 * allocated in the image, and the host file gets a hole (or zeros).
 */
static int zero_range(struct qcow2 *q, uint64_t off, uint64_t len, bool discard, bool may_unmap)
{
	while (len) {
		struct ext x;
		int ret;

		pthread_mutex_lock(&q->lock);
		ret = map(q, off, len, true, &x);
		pthread_mutex_unlock(&q->lock);
		if (!ret && x.kind == K_DATA)
			ret = host_zero(q, x.host, x.len, discard, may_unmap);
		if (ret)
			return ret;
		off += x.len;
		len -= x.len;
	}
	return 0;
}

static int q_discard(struct disk *dk, uint64_t off, uint64_t len)
{
	return zero_range(to_q(dk), off, len, true, true);
}

static int q_write_zeroes(struct disk *dk, uint64_t off, uint64_t len, bool may_unmap)
{
	return zero_range(to_q(dk), off, len, false, may_unmap);
}

static void q_free(struct qcow2 *q)
{
	cache_free(&q->l2c);
	cache_free(&q->rbc);
	free(q->l1);
	free(q->rt);
	free(q->meta);
	pthread_mutex_destroy(&q->lock);
	close(q->fd);
	free(q->path);
	free(q);
}

static void q_close(struct disk *dk)
{
	struct qcow2 *q = to_q(dk);

	if (!q->dk.read_only && meta_flush(q))
		pr_err("qcow2 image %s: writing metadata back failed; run qemu-img check", q->path);
	q_free(q);
}

static const struct disk_ops qcow2_ops = {
	.name = "qcow2",
	.read = q_read,
	.write = q_write,
	.flush = q_flush,
	.discard = q_discard,
	.write_zeroes = q_write_zeroes,
	.close = q_close,
};

/* ---- opening: every header field is checked before use ---- */

static uint32_t get32(const uint8_t *p)
{
	uint32_t v;

	memcpy(&v, p, 4);
	return be32toh(v);
}

static uint64_t get64(const uint8_t *p)
{
	uint64_t v;

	memcpy(&v, p, 8);
	return be64toh(v);
}

/* off + len lies inside the file, cluster-aligned start, past the header. */
static bool region_ok(const struct qcow2 *q, uint64_t off, uint64_t len, uint64_t fsize)
{
	return !(off & (q->cs - 1)) && off >= q->cs && off <= fsize && len <= fsize - off;
}

static int refuse(const char **why, const char *what, int err)
{
	*why = what;
	return err;
}

static int check_features(const uint8_t *h, const char **why)
{
	uint64_t incompat = get64(h + 72);
	const uint64_t known = INCOMPAT_DIRTY | INCOMPAT_CORRUPT | INCOMPAT_DATA_FILE |
			       INCOMPAT_COMPRESSION | INCOMPAT_EXTL2;

	if (incompat & INCOMPAT_DIRTY)
		return refuse(why,
			      "the qcow2 image is dirty (lazy refcounts); repair it with "
			      "qemu-img check -r all",
			      -ENOTSUP);
	if (incompat & INCOMPAT_CORRUPT)
		return refuse(why,
			      "the qcow2 image is marked corrupt; repair it with "
			      "qemu-img check -r all",
			      -ENOTSUP);
	if (incompat & INCOMPAT_DATA_FILE)
		return refuse(why, "qcow2 external data files are not supported", -ENOTSUP);
	if (incompat & INCOMPAT_EXTL2)
		return refuse(why, "qcow2 extended L2 entries (subclusters) are not supported",
			      -ENOTSUP);
	if (incompat & ~known)
		return refuse(why, "the qcow2 image uses incompatible features unknown to kiln",
			      -ENOTSUP);
	if (get32(h + 96) != 4)
		return refuse(why, "qcow2 refcounts other than 16 bits wide are not supported",
			      -ENOTSUP);
	return 0;
}

/* Header extensions: only the ones that change the meaning of the image matter. */
static int check_extensions(const uint8_t *h, uint32_t start, uint32_t end, const char **why)
{
	for (uint32_t p = start; p + 8 <= end;) {
		uint32_t type = get32(h + p), len = get32(h + p + 4);

		if (type == EXT_END)
			return 0;
		if (type == EXT_CRYPTO)
			return refuse(why, "encrypted qcow2 images are not supported", -ENOTSUP);
		if (type == EXT_DATA_FILE)
			return refuse(why, "qcow2 external data files are not supported", -ENOTSUP);
		if (len > end - p - 8)
			break;
		p += 8 + ((len + 7) & ~7u);
	}
	return refuse(why, "malformed qcow2 header extensions", -EINVAL);
}

static int parse_header(struct qcow2 *q, uint64_t fsize, const char **why)
{
	uint8_t h0[HDR_V3_LEN], *h;
	uint32_t version, hlen;
	uint64_t size, l2span, need;
	int ret;

	if (fsize < HDR_V2_LEN ||
	    pread_all(q->fd, h0, fsize < HDR_V3_LEN ? HDR_V2_LEN : HDR_V3_LEN, 0))
		return refuse(why, "not a qcow2 image (too short)", -EINVAL);
	if (get32(h0) != QCOW2_MAGIC)
		return refuse(why, "not a qcow2 image (no QFI magic)", -EINVAL);
	version = get32(h0 + 4);
	if (version != 2 && version != 3)
		return refuse(why, "qcow2 versions other than 2 and 3 are not supported", -ENOTSUP);
	q->v3 = version == 3;
	q->cbits = get32(h0 + 20);
	if (q->cbits < MIN_CLUSTER || q->cbits > MAX_CLUSTER)
		return refuse(why, "qcow2 cluster size out of range (512 B to 2 MiB)", -EINVAL);
	q->cs = 1ULL << q->cbits;
	q->l2n = q->cs / 8;
	q->rbn = q->cs / 2;
	if (fsize < q->cs)
		return refuse(why, "malformed qcow2 image (shorter than one cluster)", -EINVAL);
	h = malloc(q->cs);
	if (!h)
		return -ENOMEM;
	ret = pread_all(q->fd, h, q->cs, 0);
	if (ret) {
		free(h);
		return ret;
	}
	hlen = q->v3 ? get32(h + 100) : HDR_V2_LEN;
	if (q->v3 && (fsize < HDR_V3_LEN || hlen < HDR_V3_LEN || hlen % 8 || hlen > q->cs))
		ret = refuse(why, "malformed qcow2 header (bad header length)", -EINVAL);
	else if (get64(h + 8))
		ret = refuse(why,
			     "qcow2 backing files are not supported; flatten the image with "
			     "qemu-img convert -O qcow2",
			     -ENOTSUP);
	else if (get32(h + 32))
		ret = refuse(why, "encrypted qcow2 images are not supported", -ENOTSUP);
	else if (q->v3)
		ret = check_features(h, why);
	if (!ret)
		ret = check_extensions(h, hlen, q->cs, why);
	if (!ret && get32(h + 60) && !q->dk.read_only)
		ret = refuse(why,
			     "qcow2 internal snapshots: open the image read-only, or delete "
			     "them with qemu-img snapshot -d",
			     -ENOTSUP);
	q->autoclear = q->v3 ? get64(h + 88) : 0;
	size = get64(h + 24);
	q->l1_size = get32(h + 36);
	q->l1_off = get64(h + 40);
	q->rt_off = get64(h + 48);
	q->rt_clusters = get32(h + 56);
	free(h);
	if (ret)
		return ret;

	l2span = (uint64_t)q->l2n << q->cbits;
	if (size > MAX_VIRT_SIZE)
		return refuse(why, "qcow2 virtual size too large", -EINVAL);
	need = (size + l2span - 1) / l2span;
	if (q->l1_size < need || (uint64_t)q->l1_size * 8 > MAX_L1_BYTES ||
	    (q->l1_size && !region_ok(q, q->l1_off, (uint64_t)q->l1_size * 8, fsize)))
		return refuse(why, "malformed qcow2 image (bad L1 table)", -EINVAL);
	if (!q->rt_clusters || ((uint64_t)q->rt_clusters << q->cbits) > MAX_RT_BYTES ||
	    !region_ok(q, q->rt_off, (uint64_t)q->rt_clusters << q->cbits, fsize))
		return refuse(why, "malformed qcow2 image (bad refcount table)", -EINVAL);
	q->dk.size = size;
	q->rt_entries = ((uint64_t)q->rt_clusters << q->cbits) / 8;
	return 0;
}

static int load_table(int fd, uint64_t off, uint64_t entries, uint64_t **out)
{
	uint64_t *t = malloc(entries ? entries * 8 : 8);
	int ret;

	if (!t)
		return -ENOMEM;
	ret = pread_all(fd, t, entries * 8, off);
	if (ret) {
		free(t);
		return ret;
	}
	for (uint64_t i = 0; i < entries; i++)
		t[i] = be64toh(t[i]);
	*out = t;
	return 0;
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

/*
 * For a writer: every metadata cluster, each in one place only. A guest write
 * is later refused if it would land on one of them.
 */
static int scan_meta(struct qcow2 *q, uint64_t fsize, const char **why)
{
	int ret = meta_push(q, 0);

	if (!ret)
		ret = meta_add_range(q, q->l1_off, (uint64_t)q->l1_size * 8);
	if (!ret)
		ret = meta_add_range(q, q->rt_off, (uint64_t)q->rt_clusters << q->cbits);
	for (uint64_t i = 0; !ret && i < q->rt_entries; i++) {
		if (q->rt[i] & RT_RESERVED || (q->rt[i] && !region_ok(q, q->rt[i], q->cs, fsize)))
			return refuse(why, "malformed qcow2 image (bad refcount table entry)",
				      -EINVAL);
		if (q->rt[i])
			ret = meta_push(q, q->rt[i] >> q->cbits);
	}
	for (uint64_t i = 0; !ret && i < q->l1_size; i++) {
		uint64_t off = q->l1[i] & OFF_MASK;

		if (q->l1[i] & L1_RESERVED || (off && !region_ok(q, off, q->cs, fsize)))
			return refuse(why, "malformed qcow2 image (bad L1 table entry)", -EINVAL);
		if (off)
			ret = meta_push(q, off >> q->cbits);
	}
	if (ret)
		return ret;
	qsort(q->meta, q->nmeta, sizeof(*q->meta), cmp_u64);
	for (size_t i = 1; i < q->nmeta; i++)
		if (q->meta[i] == q->meta[i - 1])
			return refuse(why, "malformed qcow2 image (metadata structures overlap)",
				      -EINVAL);
	return 0;
}

static unsigned clamp_slots(uint64_t budget, uint64_t cs, unsigned lo, unsigned hi)
{
	uint64_t n = budget / cs;

	return n < lo ? lo : n > hi ? hi : (unsigned)n;
}

static int setup(struct qcow2 *q, uint64_t fsize, const char **why)
{
	int ret = parse_header(q, fsize, why);

	if (!ret)
		ret = load_table(q->fd, q->l1_off, q->l1_size, &q->l1);
	if (!ret)
		ret = load_table(q->fd, q->rt_off, q->rt_entries, &q->rt);
	q->next_free = (fsize + q->cs - 1) & ~(q->cs - 1);
	if (!ret && !q->dk.read_only)
		ret = scan_meta(q, fsize, why);
	if (!ret && !q->dk.read_only && q->autoclear) {
		/* Bitmaps and the like: kiln does not keep them up to date, so say they are stale.
		 */
		static const uint64_t zero;

		ret = pwrite_all(q, &zero, 8, HDR_AUTOCLEAR);
	}
	if (!ret)
		ret = cache_init(&q->l2c, clamp_slots(8 << 20, q->cs, 8, 128), q->cs);
	if (!ret)
		ret = cache_init(&q->rbc, clamp_slots(1 << 20, q->cs, 4, 32), q->cs);
	return ret;
}

int qcow2_open(const char *path, bool read_only, struct disk **out, const char **why)
{
	const char *unused;
	struct qcow2 *q;
	struct stat st;
	int fd, ret;

	if (!why)
		why = &unused;
	fd = open(path, (read_only ? O_RDONLY : O_RDWR) | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	if (fstat(fd, &st) < 0)
		ret = -errno;
	else if (!S_ISREG(st.st_mode))
		ret = refuse(why, "a qcow2 image must be a regular file", -EINVAL);
	else
		ret = disk_lock(fd, read_only);
	if (!ret && !(q = calloc(1, sizeof(*q))))
		ret = -ENOMEM;
	if (ret) {
		close(fd);
		return ret;
	}
	q->fd = fd;
	q->path = strdup(path);
	q->dk.ops = &qcow2_ops;
	q->dk.read_only = read_only;
	pthread_mutex_init(&q->lock, NULL);
	ret = q->path ? setup(q, st.st_size, why) : -ENOMEM;
	if (ret) {
		q_free(q);
		return ret;
	}
	disk_make_id(&st, q->dk.id);
	*out = &q->dk;
	return 0;
}
