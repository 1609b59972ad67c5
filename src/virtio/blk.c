/*
 * virtio-blk: one request queue served by a small pool of I/O threads.
 *
 * The device thread (ops->notify, d->lock held) pops chains, parses them
 * (blk_req.c) and hands valid requests to the I/O threads, which do the I/O
 * without any lock and complete each request under d->lock. A fixed set of
 * slots bounds the requests in flight, and a reset waits until none is left,
 * so nothing touches guest memory or the ring once the driver has reset us.
 */
#define _GNU_SOURCE
#include "virtio/blk.h"

#include <endian.h>
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "disk/disk.h"
#include "util/log.h"
#include "virtio/blk_req.h"
#include "virtio/mmio.h"

#define BLK_QUEUE_SIZE 256
#define BLK_WORKERS    4
/* Per discard/write-zeroes range: 2 GiB keeps one request from running for minutes. */
#define BLK_MAX_RANGE_SECTORS (1u << 22)
/* A hint for the guest: 4 KiB, the block size of the usual host file systems. */
#define BLK_DISCARD_ALIGN_SECTORS 8

struct blk_io {
	struct blk_io *next;
	uint16_t head;
	bool writethrough;
	struct blk_req req;
};

struct blk {
	struct virtio_dev *dev;
	struct disk *disk;
	char id[VIRTIO_BLK_ID_BYTES]; /* NUL-padded, not NUL-terminated */
	struct blk_config_space cfg;  /* little-endian, as the driver reads it */
	atomic_bool io_error_logged;

	/* Under dev->lock. */
	struct blk_limits lim;
	bool writethrough; /* the driver did not take FLUSH: writes must be durable at once */
	bool quiesce;	   /* a reset or shutdown is waiting for the requests in flight */
	bool starved;	   /* no free slot: pop again when a request completes */
	bool warned;	   /* already said that the guest corrupted its ring */
	unsigned inflight;
	pthread_cond_t idle;
	struct blk_io *free;
	struct virtq_chain chain;

	/* Work for the I/O threads. wq_lock nests inside dev->lock, never around it. */
	pthread_mutex_t wq_lock;
	pthread_cond_t wq_cond;
	struct blk_io *wq_head, *wq_tail;
	bool stop;
	pthread_t workers[BLK_WORKERS];
	unsigned nworkers;

	struct blk_io slots[BLK_QUEUE_SIZE];
};

static void wq_put(struct blk *b, struct blk_io *io)
{
	io->next = NULL;
	pthread_mutex_lock(&b->wq_lock);
	if (b->wq_tail)
		b->wq_tail->next = io;
	else
		b->wq_head = io;
	b->wq_tail = io;
	pthread_cond_signal(&b->wq_cond);
	pthread_mutex_unlock(&b->wq_lock);
}

/* Next request for an I/O thread; NULL when the device is going away. */
static struct blk_io *wq_get(struct blk *b)
{
	struct blk_io *io;

	pthread_mutex_lock(&b->wq_lock);
	while (!b->wq_head && !b->stop)
		pthread_cond_wait(&b->wq_cond, &b->wq_lock);
	io = b->wq_head;
	if (io) {
		b->wq_head = io->next;
		if (!b->wq_head)
			b->wq_tail = NULL;
	}
	pthread_mutex_unlock(&b->wq_lock);
	return io;
}

static int do_ranges(struct blk *b, const struct blk_req *r)
{
	for (unsigned i = 0; i < r->nranges; i++) {
		const struct blk_range *rg = &r->ranges[i];
		uint64_t off = rg->sector << BLK_SECTOR_SHIFT;
		uint64_t len = (uint64_t)rg->num_sectors << BLK_SECTOR_SHIFT;
		int ret = r->type == VIRTIO_BLK_T_DISCARD
				  ? disk_discard(b->disk, off, len)
				  : disk_write_zeroes(b->disk, off, len, rg->unmap);

		if (ret)
			return ret;
	}
	return 0;
}

/* Do a parsed request; runs on an I/O thread without locks. Sets *written for the used ring. */
static int blk_execute(struct blk *b, const struct blk_io *io, uint64_t *written)
{
	const struct blk_req *r = &io->req;
	uint64_t off = r->sector << BLK_SECTOR_SHIFT;
	int ret = 0;

	*written = 0;
	switch (r->type) {
	case VIRTIO_BLK_T_IN:
		ret = disk_read(b->disk, r->iov, r->niov, off);
		if (!ret)
			*written = r->len;
		return ret;
	case VIRTIO_BLK_T_FLUSH:
		return disk_flush(b->disk);
	case VIRTIO_BLK_T_GET_ID:
		*written = blk_req_get_id(r, b->id);
		return 0;
	case VIRTIO_BLK_T_OUT:
		ret = disk_write(b->disk, r->iov, r->niov, off);
		break;
	default: /* DISCARD, WRITE_ZEROES: the parser lets nothing else through */
		ret = do_ranges(b, r);
		break;
	}
	if (!ret && io->writethrough)
		ret = disk_flush(b->disk);
	return ret;
}

/* Lock held. Write the status, give the chain back and interrupt the guest if it wants. */
static void blk_complete(struct blk *b, struct blk_io *io, uint8_t status, uint32_t len)
{
	struct virtq *q = &b->dev->vq[0];

	if (io->req.status)
		*io->req.status = status;
	virtq_push(q, io->head, len);
	virtio_dev_notify_queue(b->dev, q);
	io->next = b->free;
	b->free = io;
	b->inflight--;
}

/* Take one chain off the ring. 1: taken, 0: ring empty or no free slot, -EIO: ring corrupt. */
static int blk_take(struct blk *b, struct virtq *q)
{
	struct blk_io *io = b->free;
	uint8_t st;
	int ret;

	if (!io) {
		b->starved = true;
		return 0;
	}
	ret = virtq_pop(q, &b->chain);
	if (ret <= 0)
		return ret;
	b->free = io->next;
	b->inflight++;
	io->head = b->chain.head;
	io->writethrough = b->writethrough;
	st = blk_req_parse(&b->chain, &b->lim, &io->req);
	if (st == VIRTIO_BLK_S_OK) {
		wq_put(b, io);
		return 1;
	}
	/* A malformed chain gets len 0: nothing in it can be trusted to have been written. */
	if (!b->chain.ok)
		pr_debug("blk: malformed descriptor chain: %s", b->chain.why);
	blk_complete(b, io, st, b->chain.ok && io->req.status ? 1 : 0);
	return 1;
}

/* Lock held. Pop until the ring is empty or every slot is busy. */
static void blk_process(struct blk *b)
{
	struct virtq *q = &b->dev->vq[0];
	int ret;

	b->starved = false;
	do {
		while ((ret = blk_take(b, q)) > 0)
			;
		if (ret < 0) {
			if (!b->warned)
				pr_warn("blk: the guest corrupted its request queue; "
					"ignoring it until the device is reset");
			b->warned = true;
			return;
		}
		/* A completion resumes us; asking for kicks now would only add exits. */
		if (b->starved)
			return;
	} while (virtq_enable_notify(q));
}

static void blk_finish(struct blk *b, struct blk_io *io, int err, uint64_t written)
{
	struct virtio_dev *d = b->dev;

	if (err && !atomic_exchange(&b->io_error_logged, true))
		pr_warn("blk: I/O error on the disk image: %s (reported to the guest)",
			strerror(-err));
	/* Used lengths are 32 bits; the byte count only has to be a lower bound. */
	if (written > UINT32_MAX - 1)
		written = UINT32_MAX - 1;
	pthread_mutex_lock(&d->lock);
	blk_complete(b, io, err ? VIRTIO_BLK_S_IOERR : VIRTIO_BLK_S_OK, written + 1);
	if (b->starved && !b->quiesce && d->active)
		blk_process(b);
	if (!b->inflight)
		pthread_cond_broadcast(&b->idle);
	pthread_mutex_unlock(&d->lock);
}

static void *blk_worker(void *arg)
{
	struct blk *b = arg;
	struct blk_io *io;

	pthread_setname_np(pthread_self(), "blk-io");
	while ((io = wq_get(b))) {
		uint64_t written;
		int err = blk_execute(b, io, &written);

		blk_finish(b, io, err, written);
	}
	return NULL;
}

/* Lock held (dropped while waiting). Afterwards no request is in flight. */
static void blk_drain(struct blk *b)
{
	b->quiesce = true;
	while (b->inflight)
		pthread_cond_wait(&b->idle, &b->dev->lock);
}

static void blk_notify(struct virtio_dev *d, int qi)
{
	struct blk *b = d->priv;

	if (qi == 0 && !b->quiesce)
		blk_process(b);
}

static void blk_reset(struct virtio_dev *d)
{
	struct blk *b = d->priv;

	blk_drain(b);
	b->quiesce = false;
	b->starved = false;
	b->warned = false;
}

static int blk_activate(struct virtio_dev *d)
{
	struct blk *b = d->priv;

	b->writethrough = !virtio_dev_has_feature(d, VIRTIO_BLK_F_FLUSH);
	/* The parser answers commands the driver did not negotiate with UNSUPP. */
	b->lim.max_discard_seg =
		virtio_dev_has_feature(d, VIRTIO_BLK_F_DISCARD) ? BLK_MAX_RANGES : 0;
	b->lim.max_write_zeroes_seg =
		virtio_dev_has_feature(d, VIRTIO_BLK_F_WRITE_ZEROES) ? BLK_MAX_RANGES : 0;
	return 0;
}

static uint64_t blk_features(struct virtio_dev *d)
{
	struct blk *b = d->priv;
	uint64_t f = (1ULL << VIRTIO_BLK_F_SEG_MAX) | (1ULL << VIRTIO_BLK_F_BLK_SIZE) |
		     (1ULL << VIRTIO_BLK_F_FLUSH);

	if (b->disk->read_only)
		f |= 1ULL << VIRTIO_BLK_F_RO;
	else
		f |= (1ULL << VIRTIO_BLK_F_DISCARD) | (1ULL << VIRTIO_BLK_F_WRITE_ZEROES);
	return f;
}

static void blk_config_read(struct virtio_dev *d, uint64_t off, void *data, unsigned len)
{
	struct blk *b = d->priv;

	if (off >= sizeof(b->cfg))
		return;
	if (len > sizeof(b->cfg) - off)
		len = sizeof(b->cfg) - off;
	memcpy(data, (const uint8_t *)&b->cfg + off, len);
}

static void stop_workers(struct blk *b)
{
	pthread_mutex_lock(&b->wq_lock);
	b->stop = true;
	pthread_cond_broadcast(&b->wq_cond);
	pthread_mutex_unlock(&b->wq_lock);
	for (unsigned i = 0; i < b->nworkers; i++)
		pthread_join(b->workers[i], NULL);
	b->nworkers = 0;
}

static void blk_free(struct blk *b)
{
	stop_workers(b);
	disk_close(b->disk);
	pthread_cond_destroy(&b->idle);
	pthread_cond_destroy(&b->wq_cond);
	pthread_mutex_destroy(&b->wq_lock);
	free(b);
}

static void blk_destroy(struct virtio_dev *d)
{
	struct blk *b = d->priv;

	pthread_mutex_lock(&d->lock);
	blk_drain(b);
	pthread_mutex_unlock(&d->lock);
	blk_free(b);
}

static const struct virtio_dev_ops blk_ops = {
	.name = "blk",
	.device_id = VIRTIO_ID_BLOCK,
	.nqueues = 1,
	.queue_max = BLK_QUEUE_SIZE,
	.features = blk_features,
	.config_read = blk_config_read,
	.activate = blk_activate,
	.reset = blk_reset,
	.notify = blk_notify,
	.destroy = blk_destroy,
};

static int start_workers(struct blk *b)
{
	sigset_t all, old;
	int ret = 0;

	/* Signals are for the main and vCPU threads; keep them off the I/O threads. */
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	for (; b->nworkers < BLK_WORKERS; b->nworkers++) {
		ret = -pthread_create(&b->workers[b->nworkers], NULL, blk_worker, b);
		if (ret)
			break;
	}
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	return ret;
}

static void fill_config(struct blk *b)
{
	struct blk_config_space *c = &b->cfg;

	c->capacity = htole64(b->lim.capacity);
	/* Two descriptors of every chain are the header and the status. */
	c->seg_max = htole32(BLK_QUEUE_SIZE - 2);
	c->blk_size = htole32(BLK_SECTOR_SIZE);
	c->max_discard_sectors = htole32(BLK_MAX_RANGE_SECTORS);
	c->max_discard_seg = htole32(BLK_MAX_RANGES);
	c->discard_sector_alignment = htole32(BLK_DISCARD_ALIGN_SECTORS);
	c->max_write_zeroes_sectors = htole32(BLK_MAX_RANGE_SECTORS);
	c->max_write_zeroes_seg = htole32(BLK_MAX_RANGES);
	c->write_zeroes_may_unmap = 1;
}

static void blk_init(struct blk *b, const struct blk_config *cfg)
{
	const char *id = cfg->serial ? cfg->serial : b->disk->id;

	b->lim.capacity = b->disk->size >> BLK_SECTOR_SHIFT;
	b->lim.read_only = b->disk->read_only;
	b->lim.max_discard_sectors = BLK_MAX_RANGE_SECTORS;
	b->lim.max_write_zeroes_sectors = BLK_MAX_RANGE_SECTORS;
	/* GET_ID is 20 bytes, NUL-padded; a 20-byte id has no terminator (b is zeroed). */
	memcpy(b->id, id, strnlen(id, sizeof(b->id)));
	for (unsigned i = 0; i < BLK_QUEUE_SIZE; i++) {
		b->slots[i].next = b->free;
		b->free = &b->slots[i];
	}
	fill_config(b);
}

static const char *open_error(int err)
{
	switch (err) {
	case -EBUSY:
		return "the image is in use by another process";
	case -EINVAL:
		return "not a regular file or block device";
	case -EROFS:
		return "on a read-only file system; open it read-only";
	}
	return "cannot open the image";
}

int virtio_blk_create(struct vm *vm, const struct blk_config *cfg, const char **errmsg)
{
	const char *why = "out of memory";
	struct blk *b = calloc(1, sizeof(*b));
	struct virtio_dev *d;
	int ret = -ENOMEM;

	if (!b)
		goto fail;
	pthread_cond_init(&b->idle, NULL);
	pthread_cond_init(&b->wq_cond, NULL);
	pthread_mutex_init(&b->wq_lock, NULL);
	why = NULL;
	ret = disk_open(cfg->path, cfg->format, cfg->read_only, &b->disk, &why);
	if (ret) {
		why = why ? why : open_error(ret);
		goto fail;
	}
	if (b->disk->size % BLK_SECTOR_SIZE)
		pr_warn("disk %s: size is not a multiple of 512 bytes; the guest does not see the "
			"last %llu bytes",
			cfg->path, (unsigned long long)(b->disk->size % BLK_SECTOR_SIZE));
	blk_init(b, cfg);
	ret = start_workers(b);
	why = "cannot start the I/O threads";
	if (!ret) {
		ret = virtio_dev_create(vm, &blk_ops, b, &d);
		why = "cannot create the virtio device";
	}
	if (!ret) {
		b->dev = d;
		return 0;
	}
fail:
	pr_err("disk %s: %s: %s", cfg->path, why, strerror(-ret));
	if (errmsg)
		*errmsg = why;
	if (b)
		blk_free(b);
	return ret;
}
