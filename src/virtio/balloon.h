/*
 * virtio-balloon, for free page reporting: the guest tells us which of its
 * pages are free and we give the host memory behind them back (punched out of
 * the guest RAM memfd), so an idle guest's footprint follows what it uses.
 */
#ifndef KILN_VIRTIO_BALLOON_H
#define KILN_VIRTIO_BALLOON_H

#include <stdint.h>

#include "mem/guest_mem.h"
#include "virtio/queue.h"

struct vm;

/* Feature bits (virtio 1.2, 5.5.3). */
#define VIRTIO_BALLOON_F_PAGE_POISON	4
#define VIRTIO_BALLOON_F_PAGE_REPORTING 5

/*
 * Queues. Linux numbers the queues it uses consecutively, skipping those of
 * features not negotiated (vm_find_vqs); with neither STATS_VQ nor
 * FREE_PAGE_HINT offered, the reporting queue is the third one.
 */
enum balloon_queue {
	BALLOON_Q_INFLATE = 0,
	BALLOON_Q_DEFLATE = 1,
	BALLOON_Q_REPORTING = 2,
	BALLOON_NQUEUES = 3,
};

/* The balloon's page: PFNs on the inflate queue count 4 KiB pages whatever the guest's size. */
#define BALLOON_PFN_SHIFT 12
/* Most PFNs one inflate request may carry (Linux sends 256 at most). */
#define BALLOON_MAX_PFNS 4096

/* Config space, little-endian (virtio 1.x). */
struct balloon_config {
	uint32_t num_pages; /* target size of the balloon in 4 KiB pages: ours is always 0 */
	uint32_t actual;    /* written by the driver: pages it holds in the balloon */
	uint32_t free_page_hint_cmd_id;
	uint32_t poison_val; /* written by the driver with PAGE_POISON: what free pages hold */
};

/*
 * A free page report: every segment of the chain, device-writable, is a range
 * of free guest pages (page-aligned, as Linux reports them: 2 MiB and more).
 * Discards them in order; 0, or the first failure (-EINVAL: a malformed chain,
 * a readable segment, an empty or unaligned range; -EFAULT). Segments before a
 * bad one stay discarded: the guest called them free either way.
 */
int balloon_report(const struct guest_mem *mem, const struct virtq_chain *c);

/*
 * An inflate request: a readable array of le32 PFNs (4 KiB pages) the guest
 * hands over, at most BALLOON_MAX_PFNS; each run of consecutive pages is
 * discarded at once. 0 or the first failure, as balloon_report.
 */
int balloon_inflate(const struct guest_mem *mem, const struct virtq_chain *c);

/* Add the balloon device (free page reporting; the balloon itself is never asked to grow). */
int virtio_balloon_create(struct vm *vm);

#endif
