/*
 * virtio-fs device. Queue 0 (hiprio) carries FORGETs and INTERRUPTs, handled
 * on the device thread; queue 1 carries every other request, popped on the
 * device thread and handed to I/O threads that run the FUSE server without
 * holding the device lock, as virtio-blk does. Fixed slots bound the
 * requests in flight; a reset waits until none is left.
 */
#define _GNU_SOURCE
#include "virtio/fs.h"

#include <endian.h>
#include <errno.h>
#include <linux/fuse.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <kiln.h>

#include "util/log.h"
#include "virtio/mmio.h"

#define FS_HIPRIO_Q   0
#define FS_REQUEST_Q  1
#define FS_QUEUE_SIZE 1024
#define FS_SLOTS      64
#define FS_WORKERS    8

struct fs_config_space {
	uint8_t tag[KILN_FS_TAG_MAX];
	uint32_t num_request_queues;
} __attribute__((packed));

struct fs_io {
	struct fs_io *next;
	struct virtq_chain chain;
	uint64_t popped_ns;
};

struct fs {
	struct virtio_dev *dev;
	struct fuse_server *srv;
	struct fs_config_space cfg;

	/* Under dev->lock. */
	bool quiesce, starved, warned;
	unsigned inflight;
	pthread_cond_t idle;
	struct fs_io *free;
	struct virtq_chain hp_chain;

	/* Request statistics (under dev->lock), logged at debug level when the device goes. */
	uint64_t nreq, queued_ns, served_ns;

	pthread_mutex_t wq_lock; /* nests inside dev->lock */
	pthread_cond_t wq_cond;
	struct fs_io *wq_head, *wq_tail;
	bool stop;
	pthread_t workers[FS_WORKERS];
	unsigned nworkers;

	struct fs_io slots[FS_SLOTS];
};

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static void wq_put(struct fs *f, struct fs_io *io)
{
	io->next = NULL;
	pthread_mutex_lock(&f->wq_lock);
	if (f->wq_tail)
		f->wq_tail->next = io;
	else
		f->wq_head = io;
	f->wq_tail = io;
	pthread_cond_signal(&f->wq_cond);
	pthread_mutex_unlock(&f->wq_lock);
}

static struct fs_io *wq_get(struct fs *f)
{
	struct fs_io *io;

	pthread_mutex_lock(&f->wq_lock);
	while (!f->wq_head && !f->stop)
		pthread_cond_wait(&f->wq_cond, &f->wq_lock);
	io = f->wq_head;
	if (io) {
		f->wq_head = io->next;
		if (!f->wq_head)
			f->wq_tail = NULL;
	}
	pthread_mutex_unlock(&f->wq_lock);
	return io;
}

/* Lock held. */
static void fs_complete(struct fs *f, struct fs_io *io, uint32_t len)
{
	struct virtq *q = &f->dev->vq[FS_REQUEST_Q];

	virtq_push(q, io->chain.head, len);
	virtio_dev_notify_queue(f->dev, q);
	io->next = f->free;
	f->free = io;
	f->inflight--;
}

static void warn_ring(struct fs *f)
{
	if (!f->warned)
		pr_warn("fs: the guest corrupted a queue; ignoring it until the device is reset");
	f->warned = true;
}

/* Lock held. Pop requests until the ring is empty or every slot is busy. */
static void fs_process(struct fs *f)
{
	struct virtq *q = &f->dev->vq[FS_REQUEST_Q];
	int ret;

	f->starved = false;
	do {
		for (;;) {
			struct fs_io *io = f->free;

			if (!io) {
				f->starved = true;
				return;
			}
			ret = virtq_pop(q, &io->chain);
			if (ret <= 0)
				break;
			f->free = io->next;
			f->inflight++;
			if (!io->chain.ok) {
				pr_debug("fs: malformed descriptor chain: %s", io->chain.why);
				fs_complete(f, io, 0);
				continue;
			}
			io->popped_ns = now_ns();
			wq_put(f, io);
		}
		if (ret < 0) {
			warn_ring(f);
			return;
		}
	} while (virtq_enable_notify(q));
}

/* FORGET and INTERRUPT need no reply and no thread. */
static void fs_hiprio(struct fs *f)
{
	struct virtq *q = &f->dev->vq[FS_HIPRIO_Q];
	struct virtq_chain *c = &f->hp_chain;
	int ret;

	do {
		while ((ret = virtq_pop(q, c)) > 0) {
			uint32_t len =
				c->ok ? fuse_server_handle(f->srv, c->out, c->nout, c->in, c->nin)
				      : 0;

			virtq_push(q, c->head, len);
			virtio_dev_notify_queue(f->dev, q);
		}
		if (ret < 0) {
			warn_ring(f);
			return;
		}
	} while (virtq_enable_notify(q));
}

static void *fs_worker(void *arg)
{
	struct fs *f = arg;
	struct fs_io *io;

	pthread_setname_np(pthread_self(), "fs-io");
	fuse_server_thread_init();
	while ((io = wq_get(f))) {
		uint64_t start = now_ns();
		uint32_t len = fuse_server_handle(f->srv, io->chain.out, io->chain.nout,
						  io->chain.in, io->chain.nin);
		uint64_t end = now_ns();
		struct virtio_dev *d = f->dev;

		pthread_mutex_lock(&d->lock);
		f->nreq++;
		f->queued_ns += start - io->popped_ns;
		f->served_ns += end - start;
		fs_complete(f, io, len);
		if (f->starved && !f->quiesce && d->active)
			fs_process(f);
		if (!f->inflight)
			pthread_cond_broadcast(&f->idle);
		pthread_mutex_unlock(&d->lock);
	}
	return NULL;
}

static void fs_drain(struct fs *f)
{
	f->quiesce = true;
	while (f->inflight)
		pthread_cond_wait(&f->idle, &f->dev->lock);
}

static void fs_notify(struct virtio_dev *d, int qi)
{
	struct fs *f = d->priv;

	if (qi == FS_HIPRIO_Q)
		fs_hiprio(f);
	else if (qi == FS_REQUEST_Q && !f->quiesce)
		fs_process(f);
}

static void fs_reset(struct virtio_dev *d)
{
	struct fs *f = d->priv;

	fs_drain(f);
	fuse_server_reset(f->srv);
	f->quiesce = f->starved = f->warned = false;
}

static void fs_config_read(struct virtio_dev *d, uint64_t off, void *data, unsigned len)
{
	struct fs *f = d->priv;

	if (off >= sizeof(f->cfg))
		return;
	if (len > sizeof(f->cfg) - off)
		len = sizeof(f->cfg) - off;
	memcpy(data, (const uint8_t *)&f->cfg + off, len);
}

static void stop_workers(struct fs *f)
{
	pthread_mutex_lock(&f->wq_lock);
	f->stop = true;
	pthread_cond_broadcast(&f->wq_cond);
	pthread_mutex_unlock(&f->wq_lock);
	for (unsigned i = 0; i < f->nworkers; i++)
		pthread_join(f->workers[i], NULL);
	f->nworkers = 0;
}

static void fs_free(struct fs *f)
{
	stop_workers(f);
	fuse_server_free(f->srv);
	pthread_cond_destroy(&f->idle);
	pthread_cond_destroy(&f->wq_cond);
	pthread_mutex_destroy(&f->wq_lock);
	free(f);
}

static void fs_destroy(struct virtio_dev *d)
{
	struct fs *f = d->priv;

	pthread_mutex_lock(&d->lock);
	fs_drain(f);
	pthread_mutex_unlock(&d->lock);
	if (f->nreq)
		pr_debug("fs %.36s: %llu requests, on average %llu us waiting for a thread, %llu "
			 "us served",
			 (const char *)f->cfg.tag, (unsigned long long)f->nreq,
			 (unsigned long long)(f->queued_ns / f->nreq / 1000),
			 (unsigned long long)(f->served_ns / f->nreq / 1000));
	fs_free(f);
}

static const struct virtio_dev_ops fs_ops = {
	.name = "fs",
	.device_id = VIRTIO_ID_FS,
	.nqueues = 2,
	.queue_max = FS_QUEUE_SIZE,
	.config_read = fs_config_read,
	.reset = fs_reset,
	.notify = fs_notify,
	.destroy = fs_destroy,
};

static int start_workers(struct fs *f)
{
	sigset_t all, old;
	int ret = 0;

	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	for (; f->nworkers < FS_WORKERS; f->nworkers++) {
		ret = -pthread_create(&f->workers[f->nworkers], NULL, fs_worker, f);
		if (ret)
			break;
	}
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	return ret;
}

int virtio_fs_create(struct vm *vm, const char *tag, const struct fuse_server_config *cfg)
{
	struct fs *f = calloc(1, sizeof(*f));
	const char *why = "out of memory";
	struct virtio_dev *d;
	int ret = -ENOMEM;

	if (!f)
		goto fail;
	pthread_cond_init(&f->idle, NULL);
	pthread_cond_init(&f->wq_cond, NULL);
	pthread_mutex_init(&f->wq_lock, NULL);
	memcpy(f->cfg.tag, tag, strnlen(tag, sizeof(f->cfg.tag)));
	f->cfg.num_request_queues = htole32(1);
	for (unsigned i = 0; i < FS_SLOTS; i++) {
		f->slots[i].next = f->free;
		f->free = &f->slots[i];
	}
	ret = fuse_server_new(cfg, &f->srv);
	why = "cannot open the shared directory";
	if (!ret) {
		ret = start_workers(f);
		why = "cannot start the I/O threads";
	}
	if (!ret) {
		ret = virtio_dev_create(vm, &fs_ops, f, &d);
		why = "cannot create the virtio device";
	}
	if (!ret) {
		f->dev = d;
		return 0;
	}
fail:
	pr_err("virtio-fs %s (%s): %s: %s", tag, cfg->path, why, strerror(-ret));
	if (f)
		fs_free(f);
	return ret;
}
