#include "virtio/queue.h"

#include <errno.h>
#include <stdatomic.h>
#include <string.h>

struct vring_desc {
	uint64_t addr;
	uint32_t len;
	uint16_t flags;
	uint16_t next;
};

/* Ring fields are shared with a running guest: access them once, atomically. */
static inline uint16_t ld16(const void *p)
{
	return atomic_load_explicit((const _Atomic uint16_t *)p, memory_order_acquire);
}

static inline void st16(void *p, uint16_t v)
{
	atomic_store_explicit((_Atomic uint16_t *)p, v, memory_order_release);
}

static inline uint16_t *avail_idx_p(const struct virtq *q)
{
	return (uint16_t *)q->avail + 1;
}

static inline uint16_t *avail_ring_p(const struct virtq *q, uint16_t i)
{
	return (uint16_t *)q->avail + 2 + i;
}

static inline uint16_t *used_event_p(const struct virtq *q)
{
	return (uint16_t *)q->avail + 2 + q->size;
}

static inline uint16_t *used_idx_p(const struct virtq *q)
{
	return (uint16_t *)q->used + 1;
}

static inline uint16_t *avail_event_p(const struct virtq *q)
{
	return (uint16_t *)((uint8_t *)q->used + 4 + 8 * (uint64_t)q->size);
}

void virtq_reset(struct virtq *q, const struct guest_mem *mem, uint16_t max_size)
{
	memset(q, 0, sizeof(*q));
	q->mem = mem;
	q->max_size = max_size;
	q->size = max_size;
}

int virtq_enable(struct virtq *q)
{
	uint64_t n = q->size;

	if (n == 0 || n > q->max_size || (n & (n - 1)))
		return -EINVAL;
	if ((q->desc_gpa & 15) || (q->avail_gpa & 1) || (q->used_gpa & 3))
		return -EINVAL;
	q->desc = guest_mem_ptr(q->mem, q->desc_gpa, 16 * n);
	q->avail = guest_mem_ptr(q->mem, q->avail_gpa, 6 + 2 * n);
	q->used = guest_mem_ptr(q->mem, q->used_gpa, 6 + 8 * n);
	if (!q->desc || !q->avail || !q->used)
		return -EINVAL;
	q->last_avail = 0;
	q->used_idx = 0;
	q->signalled_used_valid = false;
	q->broken = false;
	q->ready = true;
	return 0;
}

static void read_desc(const void *table, uint16_t i, struct vring_desc *d)
{
	/* Copy once: the guest may rewrite the table while we look at it. */
	memcpy(d, (const uint8_t *)table + 16 * (uint64_t)i, sizeof(*d));
}

static bool chain_fail(struct virtq_chain *c, const char *why)
{
	c->ok = false;
	c->why = why;
	return false;
}

static bool add_seg(const struct virtq *q, struct virtq_chain *c, const struct vring_desc *d)
{
	void *p;

	if (d->flags & VIRTQ_DESC_F_WRITE) {
		if (c->nin >= VIRTQ_MAX_SEGS)
			return chain_fail(c, "too many segments");
	} else {
		if (c->nin)
			return chain_fail(c, "readable segment after a writable one");
		if (c->nout >= VIRTQ_MAX_SEGS)
			return chain_fail(c, "too many segments");
	}
	p = guest_mem_ptr(q->mem, d->addr, d->len);
	if (!p)
		return chain_fail(c, "segment outside guest RAM");
	if (d->flags & VIRTQ_DESC_F_WRITE) {
		c->in[c->nin++] = (struct iovec){ p, d->len };
		c->in_len += d->len;
	} else {
		c->out[c->nout++] = (struct iovec){ p, d->len };
		c->out_len += d->len;
	}
	return true;
}

/* Walk an indirect table; nested indirection is forbidden by the spec. */
static bool walk_indirect(const struct virtq *q, struct virtq_chain *c, const struct vring_desc *d)
{
	const void *table;
	uint32_t n;
	uint16_t i = 0;

	if (!q->indirect)
		return chain_fail(c, "indirect descriptor not negotiated");
	if (d->flags & VIRTQ_DESC_F_NEXT)
		return chain_fail(c, "indirect descriptor with NEXT");
	if (d->len == 0 || d->len % 16 || d->len / 16 > VIRTQ_MAX_SEGS)
		return chain_fail(c, "bad indirect table length");
	n = d->len / 16;
	table = guest_mem_ptr(q->mem, d->addr, d->len);
	if (!table)
		return chain_fail(c, "indirect table outside guest RAM");
	for (uint32_t seen = 0;; seen++) {
		struct vring_desc e;

		if (seen >= n)
			return chain_fail(c, "loop in indirect table");
		read_desc(table, i, &e);
		if (e.flags & VIRTQ_DESC_F_INDIRECT)
			return chain_fail(c, "nested indirect table");
		if (!add_seg(q, c, &e))
			return false;
		if (!(e.flags & VIRTQ_DESC_F_NEXT))
			return true;
		if (e.next >= n)
			return chain_fail(c, "indirect next out of range");
		i = e.next;
	}
}

void virtq_walk(const struct virtq *q, uint16_t head, struct virtq_chain *c)
{
	uint16_t i = head;

	c->head = head;
	c->ok = true;
	c->why = NULL;
	c->nin = c->nout = 0;
	c->in_len = c->out_len = 0;
	if (head >= q->size) {
		chain_fail(c, "head index out of range");
		return;
	}
	for (unsigned seen = 0;; seen++) {
		struct vring_desc d;

		if (seen >= q->size) {
			chain_fail(c, "descriptor loop");
			return;
		}
		read_desc(q->desc, i, &d);
		if (d.flags & VIRTQ_DESC_F_INDIRECT) {
			walk_indirect(q, c, &d);
			return;
		}
		if (!add_seg(q, c, &d))
			return;
		if (!(d.flags & VIRTQ_DESC_F_NEXT))
			return;
		if (d.next >= q->size) {
			chain_fail(c, "next index out of range");
			return;
		}
		i = d.next;
	}
}

int virtq_pop(struct virtq *q, struct virtq_chain *c)
{
	uint16_t avail, head;

	if (!q->ready || q->broken)
		return 0;
	avail = ld16(avail_idx_p(q));
	if (avail == q->last_avail)
		return 0;
	if ((uint16_t)(avail - q->last_avail) > q->size) {
		/* The driver claims more buffers than the ring holds. */
		q->broken = true;
		return -EIO;
	}
	head = ld16(avail_ring_p(q, q->last_avail % q->size));
	q->last_avail++;
	virtq_walk(q, head, c);
	if (c->head >= q->size) {
		/* No valid descriptor to give back: the ring cannot be trusted. */
		q->broken = true;
		return -EIO;
	}
	return 1;
}

void virtq_unpop(struct virtq *q)
{
	q->last_avail--;
}

void virtq_push(struct virtq *q, uint16_t head, uint32_t len)
{
	uint8_t *e;
	uint32_t v[2] = { head, len };

	if (!q->ready)
		return;
	e = (uint8_t *)q->used + 4 + 8 * (uint64_t)(q->used_idx % q->size);
	memcpy(e, v, sizeof(v));
	q->used_idx++;
	/* Release: the element is visible before the index that publishes it. */
	st16(used_idx_p(q), q->used_idx);
}

static inline bool need_event(uint16_t event, uint16_t new_idx, uint16_t old)
{
	return (uint16_t)(new_idx - event - 1) < (uint16_t)(new_idx - old);
}

bool virtq_should_notify(struct virtq *q)
{
	uint16_t old, event;
	bool valid;

	if (!q->ready)
		return false;
	/* Order our used-index store before reading the driver's suppression state. */
	atomic_thread_fence(memory_order_seq_cst);
	if (!q->event_idx)
		return !(ld16(q->avail) & VIRTQ_AVAIL_F_NO_INTERRUPT);
	old = q->signalled_used;
	valid = q->signalled_used_valid;
	q->signalled_used = q->used_idx;
	q->signalled_used_valid = true;
	if (!valid)
		return true;
	event = ld16(used_event_p(q));
	return need_event(event, q->used_idx, old);
}

bool virtq_enable_notify(struct virtq *q)
{
	if (!q->ready || q->broken)
		return false;
	if (q->event_idx)
		st16(avail_event_p(q), q->last_avail);
	else
		st16(q->used, 0);
	atomic_thread_fence(memory_order_seq_cst);
	return ld16(avail_idx_p(q)) != q->last_avail;
}

/* Copy between a flat buffer and a segment list, starting `skip` bytes into the segments. */
static uint64_t iov_copy(const struct iovec *iov, unsigned n, uint64_t skip, void *buf,
			 uint64_t len, bool to_iov)
{
	uint64_t done = 0;

	for (unsigned i = 0; i < n && done < len; i++) {
		uint64_t l = iov[i].iov_len;
		uint8_t *seg = (uint8_t *)iov[i].iov_base;

		if (skip >= l) {
			skip -= l;
			continue;
		}
		l -= skip;
		if (l > len - done)
			l = len - done;
		if (to_iov)
			memcpy(seg + skip, (uint8_t *)buf + done, l);
		else
			memcpy((uint8_t *)buf + done, seg + skip, l);
		done += l;
		skip = 0;
	}
	return done;
}

uint64_t iov_to_buf(const struct iovec *iov, unsigned n, uint64_t skip, void *buf, uint64_t len)
{
	return iov_copy(iov, n, skip, buf, len, false);
}

uint64_t buf_to_iov(const struct iovec *iov, unsigned n, uint64_t skip, const void *buf,
		    uint64_t len)
{
	return iov_copy(iov, n, skip, (void *)buf, len, true);
}

unsigned iov_slice(const struct iovec *src, unsigned n, uint64_t skip, uint64_t len,
		   struct iovec *dst, unsigned dmax)
{
	unsigned cnt = 0;

	for (unsigned i = 0; i < n && len && cnt < dmax; i++) {
		uint64_t l = src[i].iov_len;

		if (skip >= l) {
			skip -= l;
			continue;
		}
		l -= skip;
		if (l > len)
			l = len;
		dst[cnt++] = (struct iovec){ (uint8_t *)src[i].iov_base + skip, l };
		len -= l;
		skip = 0;
	}
	return cnt;
}
