/*
 * Split virtqueue (virtio 1.x): the descriptor-chain walker and the used ring.
 *
 * The walker is pure with respect to the outside world: it reads guest memory
 * only through guest_mem and validates every index, address, length, flag and
 * the chain's shape before a device sees it. A chain that fails validation is
 * still handed out (with ok == false) so that the device can complete it with
 * an error and the guest's request does not leak.
 */
#ifndef KILN_VIRTIO_QUEUE_H
#define KILN_VIRTIO_QUEUE_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/uio.h>

#include "mem/guest_mem.h"

#define VIRTQ_MAX_SIZE 1024

#define VIRTQ_DESC_F_NEXT     1
#define VIRTQ_DESC_F_WRITE    2
#define VIRTQ_DESC_F_INDIRECT 4

#define VIRTQ_AVAIL_F_NO_INTERRUPT 1
#define VIRTQ_USED_F_NO_NOTIFY	   1

/* Largest number of segments one chain may have, direct and indirect together. */
#define VIRTQ_MAX_SEGS 1024

struct virtq {
	const struct guest_mem *mem;
	uint16_t size; /* set by the driver; power of two <= max_size */
	uint16_t max_size;
	bool ready;
	bool event_idx;
	bool indirect;
	uint64_t desc_gpa, avail_gpa, used_gpa;
	/* Host pointers of the rings, valid while ready. */
	void *desc, *avail, *used;
	uint16_t last_avail;
	uint16_t used_idx;
	uint16_t signalled_used;
	bool signalled_used_valid;
	bool broken; /* the driver violated the ring protocol; stop using it */
};

struct virtq_chain {
	uint16_t head;
	bool ok;	    /* false: the chain is malformed; complete it with len 0 */
	const char *why;    /* reason when !ok (for logs) */
	unsigned nin, nout; /* device-readable ("out") and device-writable ("in") segments */
	uint64_t out_len, in_len;
	struct iovec out[VIRTQ_MAX_SEGS];
	struct iovec in[VIRTQ_MAX_SEGS];
};

void virtq_reset(struct virtq *q, const struct guest_mem *mem, uint16_t max_size);

/* Validate the ring addresses and size and mark the queue ready; -EINVAL if bad. */
int virtq_enable(struct virtq *q);

/*
 * Take the next available chain. Returns 1 with *c filled, 0 when the ring is
 * empty, -EIO when the ring itself is corrupt (the queue is then broken).
 */
int virtq_pop(struct virtq *q, struct virtq_chain *c);

/* Walk the chain starting at head (exposed for tests and fuzzing). */
void virtq_walk(const struct virtq *q, uint16_t head, struct virtq_chain *c);

/* Give back the chain just popped (the device could not use it yet). */
void virtq_unpop(struct virtq *q);

/* Put a completed chain into the used ring. */
void virtq_push(struct virtq *q, uint16_t head, uint32_t len);

/* After pushing: does the driver want an interrupt now? */
bool virtq_should_notify(struct virtq *q);

/*
 * With EVENT_IDX: publish how far we have consumed, then tell whether more
 * arrived meanwhile (true = pop again before sleeping).
 */
bool virtq_enable_notify(struct virtq *q);

/* Point dst at bytes [skip, skip + len) of a segment list (at most dmax pieces); returns how many.
 */
unsigned iov_slice(const struct iovec *src, unsigned n, uint64_t skip, uint64_t len,
		   struct iovec *dst, unsigned dmax);

/* Copy helpers over a chain's segments; return bytes copied. */
uint64_t iov_to_buf(const struct iovec *iov, unsigned n, uint64_t skip, void *buf, uint64_t len);
uint64_t buf_to_iov(const struct iovec *iov, unsigned n, uint64_t skip, const void *buf,
		    uint64_t len);

#endif
