#define _GNU_SOURCE
#include "virtio/mmio.h"

#include <errno.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "util/log.h"
#include "vmm/vm.h"

#define REG_MAGIC	   0x000
#define REG_VERSION	   0x004
#define REG_DEVICE_ID	   0x008
#define REG_VENDOR_ID	   0x00c
#define REG_DEV_FEATURES   0x010
#define REG_DEV_FEAT_SEL   0x014
#define REG_DRV_FEATURES   0x020
#define REG_DRV_FEAT_SEL   0x024
#define REG_QUEUE_SEL	   0x030
#define REG_QUEUE_NUM_MAX  0x034
#define REG_QUEUE_NUM	   0x038
#define REG_QUEUE_READY	   0x044
#define REG_QUEUE_NOTIFY   0x050
#define REG_INT_STATUS	   0x060
#define REG_INT_ACK	   0x064
#define REG_STATUS	   0x070
#define REG_QUEUE_DESC_LO  0x080
#define REG_QUEUE_DESC_HI  0x084
#define REG_QUEUE_AVAIL_LO 0x090
#define REG_QUEUE_AVAIL_HI 0x094
#define REG_QUEUE_USED_LO  0x0a0
#define REG_QUEUE_USED_HI  0x0a4
#define REG_SHM_SEL	   0x0ac
#define REG_SHM_LEN_LO	   0x0b0
#define REG_SHM_LEN_HI	   0x0b4
#define REG_SHM_BASE_LO	   0x0b8
#define REG_SHM_BASE_HI	   0x0bc
#define REG_QUEUE_RESET	   0x0c0
#define REG_CONFIG_GEN	   0x0fc
#define REG_CONFIG	   0x100

#define VIRTIO_VENDOR_KILN 0x4e4c494b /* "KILN" */

bool virtio_dev_has_feature(const struct virtio_dev *d, unsigned bit)
{
	return (d->guest_features >> bit) & 1;
}

static struct virtq *sel_queue(struct virtio_dev *d)
{
	return d->queue_sel < d->ops->nqueues ? &d->vq[d->queue_sel] : NULL;
}

static void raise_irq(struct virtio_dev *d, uint32_t bits)
{
	uint64_t one = 1;

	atomic_fetch_or((_Atomic uint32_t *)&d->isr, bits);
	if (write(d->irqfd, &one, sizeof(one)) < 0)
		pr_warn("%s: cannot signal interrupt: %m", d->ops->name);
}

void virtio_dev_notify_queue(struct virtio_dev *d, struct virtq *q)
{
	if (virtq_should_notify(q))
		raise_irq(d, VIRTIO_INT_VRING);
}

void virtio_dev_config_changed(struct virtio_dev *d)
{
	d->config_generation++;
	if (d->status & VIRTIO_STATUS_DRIVER_OK)
		raise_irq(d, VIRTIO_INT_CONFIG);
}

static void reset_queues(struct virtio_dev *d)
{
	for (unsigned i = 0; i < d->ops->nqueues; i++)
		virtq_reset(&d->vq[i], d->mem, d->ops->queue_max);
}

static void device_reset(struct virtio_dev *d)
{
	if (d->ops->reset)
		d->ops->reset(d);
	d->active = false;
	d->status = 0;
	d->guest_features = 0;
	d->dev_feat_sel = d->drv_feat_sel = d->queue_sel = d->shm_sel = 0;
	atomic_store((_Atomic uint32_t *)&d->isr, 0);
	reset_queues(d);
}

static void device_activate(struct virtio_dev *d)
{
	bool event_idx = virtio_dev_has_feature(d, VIRTIO_F_EVENT_IDX);
	bool indirect = virtio_dev_has_feature(d, VIRTIO_F_INDIRECT_DESC);

	for (unsigned i = 0; i < d->ops->nqueues; i++) {
		d->vq[i].event_idx = event_idx;
		d->vq[i].indirect = indirect;
	}
	if (d->ops->activate && d->ops->activate(d)) {
		d->status |= VIRTIO_STATUS_FAILED;
		return;
	}
	d->active = true;
	/* Buffers may have been queued before DRIVER_OK: look once. */
	for (unsigned i = 0; i < d->ops->nqueues; i++) {
		uint64_t one = 1;

		if (d->vq[i].ready && write(d->kick_fd[i], &one, sizeof(one)) < 0)
			break;
	}
}

static void write_status(struct virtio_dev *d, uint32_t v)
{
	if (v == 0) {
		device_reset(d);
		return;
	}
	if ((v & VIRTIO_STATUS_FEATURES_OK) && !(d->status & VIRTIO_STATUS_FEATURES_OK)) {
		/* Only modern drivers; refuse a feature set without VERSION_1. */
		if (!virtio_dev_has_feature(d, VIRTIO_F_VERSION_1))
			v &= ~VIRTIO_STATUS_FEATURES_OK;
	}
	d->status = v;
	if ((v & VIRTIO_STATUS_DRIVER_OK) && (v & VIRTIO_STATUS_FEATURES_OK) && !d->active)
		device_activate(d);
}

static void set_half(uint64_t *v, bool high, uint32_t val)
{
	if (high)
		*v = (*v & 0xffffffffULL) | ((uint64_t)val << 32);
	else
		*v = (*v & ~0xffffffffULL) | val;
}

static void write_queue_reg(struct virtio_dev *d, uint64_t off, uint32_t v)
{
	struct virtq *q = sel_queue(d);

	/* Ring addresses and size are frozen once the queue is ready. */
	if (!q || (q->ready && off != REG_QUEUE_READY))
		return;
	switch (off) {
	case REG_QUEUE_NUM:
		q->size = v <= 0xffff ? v : 0;
		break;
	case REG_QUEUE_READY:
		if (!v) {
			q->ready = false;
		} else if (!q->ready && virtq_enable(q)) {
			pr_warn("%s: guest enabled queue %u with a bad ring layout", d->ops->name,
				d->queue_sel);
			d->status |= VIRTIO_STATUS_NEEDS_RESET;
		}
		break;
	case REG_QUEUE_DESC_LO:
	case REG_QUEUE_DESC_HI:
		set_half(&q->desc_gpa, off == REG_QUEUE_DESC_HI, v);
		break;
	case REG_QUEUE_AVAIL_LO:
	case REG_QUEUE_AVAIL_HI:
		set_half(&q->avail_gpa, off == REG_QUEUE_AVAIL_HI, v);
		break;
	case REG_QUEUE_USED_LO:
	case REG_QUEUE_USED_HI:
		set_half(&q->used_gpa, off == REG_QUEUE_USED_HI, v);
		break;
	}
}

static uint32_t read_reg(struct virtio_dev *d, uint64_t off)
{
	struct virtq *q = sel_queue(d);

	switch (off) {
	case REG_MAGIC:
		return 0x74726976; /* "virt" */
	case REG_VERSION:
		return 2;
	case REG_DEVICE_ID:
		return d->ops->device_id;
	case REG_VENDOR_ID:
		return VIRTIO_VENDOR_KILN;
	case REG_DEV_FEATURES:
		return d->dev_feat_sel < 2 ? (uint32_t)(d->host_features >> (32 * d->dev_feat_sel))
					   : 0;
	case REG_QUEUE_NUM_MAX:
		return q ? q->max_size : 0;
	case REG_QUEUE_READY:
		return q ? q->ready : 0;
	case REG_INT_STATUS:
		return atomic_load((_Atomic uint32_t *)&d->isr);
	case REG_STATUS:
		return d->status;
	case REG_SHM_LEN_LO:
	case REG_SHM_LEN_HI:
	case REG_SHM_BASE_LO:
	case REG_SHM_BASE_HI: {
		uint64_t base, len;

		/* A region that does not exist reads as all ones. */
		if (!d->ops->shm_region || !d->ops->shm_region(d, d->shm_sel, &base, &len))
			return 0xffffffff;
		if (off == REG_SHM_LEN_LO || off == REG_SHM_LEN_HI)
			return (uint32_t)(len >> (off == REG_SHM_LEN_HI ? 32 : 0));
		return (uint32_t)(base >> (off == REG_SHM_BASE_HI ? 32 : 0));
	}
	case REG_CONFIG_GEN:
		return d->config_generation;
	}
	return 0;
}

static void write_reg(struct virtio_dev *d, uint64_t off, uint32_t v)
{
	switch (off) {
	case REG_DEV_FEAT_SEL:
		d->dev_feat_sel = v;
		break;
	case REG_DRV_FEATURES:
		/* Features are negotiated only before FEATURES_OK. */
		if (d->drv_feat_sel < 2 && !(d->status & VIRTIO_STATUS_FEATURES_OK)) {
			set_half(&d->guest_features, d->drv_feat_sel == 1, v);
			d->guest_features &= d->host_features;
		}
		break;
	case REG_DRV_FEAT_SEL:
		d->drv_feat_sel = v;
		break;
	case REG_QUEUE_SEL:
		d->queue_sel = v;
		break;
	case REG_SHM_SEL:
		d->shm_sel = v;
		break;
	case REG_INT_ACK:
		atomic_fetch_and((_Atomic uint32_t *)&d->isr, ~v);
		break;
	case REG_STATUS:
		write_status(d, v);
		break;
	case REG_QUEUE_NOTIFY:
		/* Normally caught by the ioeventfd; this path covers odd access sizes. */
		if (v < d->ops->nqueues) {
			uint64_t one = 1;

			if (write(d->kick_fd[v], &one, sizeof(one)) < 0)
				pr_warn("%s: kick lost", d->ops->name);
		}
		break;
	default:
		write_queue_reg(d, off, v);
		break;
	}
}

static void mmio_read(void *priv, uint64_t off, void *data, unsigned len)
{
	struct virtio_dev *d = priv;
	uint32_t v;

	memset(data, 0, len);
	pthread_mutex_lock(&d->lock);
	if (off >= REG_CONFIG) {
		if (d->ops->config_read)
			d->ops->config_read(d, off - REG_CONFIG, data, len);
	} else if (len == 4 && !(off & 3)) {
		v = read_reg(d, off);
		memcpy(data, &v, 4);
	}
	pthread_mutex_unlock(&d->lock);
}

static void mmio_write(void *priv, uint64_t off, const void *data, unsigned len)
{
	struct virtio_dev *d = priv;
	uint32_t v;

	pthread_mutex_lock(&d->lock);
	if (off >= REG_CONFIG) {
		if (d->ops->config_write)
			d->ops->config_write(d, off - REG_CONFIG, data, len);
	} else if (len == 4 && !(off & 3)) {
		memcpy(&v, data, 4);
		write_reg(d, off, v);
	}
	pthread_mutex_unlock(&d->lock);
}

static const struct bus_ops mmio_ops = { .read = mmio_read, .write = mmio_write };

static void *dev_thread(void *arg)
{
	struct virtio_dev *d = arg;
	char name[16];

	snprintf(name, sizeof(name), "v-%s", d->ops->name);
	pthread_setname_np(pthread_self(), name);
	for (;;) {
		struct epoll_event ev[8];
		int n = epoll_wait(d->epfd, ev, 8, -1);

		for (int i = 0; i < n; i++) {
			int tag = (int)ev[i].data.u32;
			uint64_t cnt;

			if (tag == 0xffff)
				return NULL;
			if (tag >= 0 && tag < VIRTIO_MAX_QUEUES &&
			    read(d->kick_fd[tag], &cnt, sizeof(cnt)) < 0)
				continue;
			pthread_mutex_lock(&d->lock);
			if (d->active && d->ops->notify)
				d->ops->notify(d, tag >= 0x100 ? -1 - (tag - 0x100) : tag);
			pthread_mutex_unlock(&d->lock);
		}
	}
}

static int epoll_add(int epfd, int fd, uint32_t tag)
{
	struct epoll_event ev = { .events = EPOLLIN, .data.u32 = tag };

	return epoll_ctl(epfd, EPOLL_CTL_ADD, fd, &ev) < 0 ? -errno : 0;
}

int virtio_dev_watch_fd(struct virtio_dev *d, int fd)
{
	int ret;

	if (d->nwatch == VIRTIO_MAX_FDS)
		return -ENOSPC;
	ret = epoll_add(d->epfd, fd, 0x100 + d->nwatch);
	if (!ret)
		d->watch_fd[d->nwatch++] = fd;
	return ret;
}

void virtio_dev_watch_enable(struct virtio_dev *d, int fd, bool on)
{
	for (unsigned i = 0; i < d->nwatch; i++) {
		struct epoll_event ev = { .events = EPOLLIN, .data.u32 = 0x100 + i };

		/* Removed rather than masked: a hung-up fd reports EPOLLHUP whatever the mask. */
		if (d->watch_fd[i] == fd)
			epoll_ctl(d->epfd, on ? EPOLL_CTL_ADD : EPOLL_CTL_DEL, fd, on ? &ev : NULL);
	}
}

void virtio_dev_watch_events(struct virtio_dev *d, int fd, uint32_t events)
{
	for (unsigned i = 0; i < d->nwatch; i++) {
		struct epoll_event ev = { .events = events, .data.u32 = 0x100 + i };

		if (d->watch_fd[i] != fd)
			continue;
		if (!events)
			epoll_ctl(d->epfd, EPOLL_CTL_DEL, fd, NULL);
		else if (epoll_ctl(d->epfd, EPOLL_CTL_MOD, fd, &ev) < 0 && errno == ENOENT)
			epoll_ctl(d->epfd, EPOLL_CTL_ADD, fd, &ev);
	}
}

static int setup_fds(struct virtio_dev *d)
{
	int ret;

	d->epfd = epoll_create1(EPOLL_CLOEXEC);
	d->stop_fd = eventfd(0, EFD_CLOEXEC);
	d->irqfd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (d->epfd < 0 || d->stop_fd < 0 || d->irqfd < 0)
		return -errno;
	ret = hv_irqfd(&d->vm->hv, d->irq, d->irqfd);
	if (ret)
		return ret;
	ret = epoll_add(d->epfd, d->stop_fd, 0xffff);
	for (unsigned i = 0; !ret && i < d->ops->nqueues; i++) {
		d->kick_fd[i] = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
		if (d->kick_fd[i] < 0)
			return -errno;
		ret = hv_ioeventfd(&d->vm->hv, d->base + REG_QUEUE_NOTIFY, 4, i, d->kick_fd[i],
				   false);
		if (!ret)
			ret = epoll_add(d->epfd, d->kick_fd[i], i);
	}
	return ret;
}

static void dev_free(struct virtio_dev *d)
{
	for (unsigned i = 0; i < VIRTIO_MAX_QUEUES; i++)
		if (d->kick_fd[i] >= 0)
			close(d->kick_fd[i]);
	if (d->epfd >= 0)
		close(d->epfd);
	if (d->stop_fd >= 0)
		close(d->stop_fd);
	if (d->irqfd >= 0)
		close(d->irqfd);
	pthread_mutex_destroy(&d->lock);
	free(d);
}

int virtio_dev_create(struct vm *vm, const struct virtio_dev_ops *ops, void *priv,
		      struct virtio_dev **out)
{
	struct virtio_dev *d;
	int ret;

	if (ops->nqueues > VIRTIO_MAX_QUEUES || vm->ndevs == VM_MAX_DEVICES)
		return -ENOSPC;
	d = calloc(1, sizeof(*d));
	if (!d)
		return -ENOMEM;
	d->ops = ops;
	d->priv = priv;
	d->vm = vm;
	d->mem = &vm->mem;
	d->epfd = d->stop_fd = d->irqfd = -1;
	for (unsigned i = 0; i < VIRTIO_MAX_QUEUES; i++)
		d->kick_fd[i] = -1;
	pthread_mutex_init(&d->lock, NULL);
	reset_queues(d);
	ret = vm_alloc_mmio(vm, VIRTIO_MMIO_SIZE, &d->base, &d->irq);
	if (!ret)
		ret = setup_fds(d);
	if (!ret)
		ret = bus_add(&vm->mmio, d->base, VIRTIO_MMIO_SIZE, &mmio_ops, d);
	if (ret) {
		dev_free(d);
		return ret;
	}
	d->host_features = (1ULL << VIRTIO_F_VERSION_1) | (1ULL << VIRTIO_F_EVENT_IDX) |
			   (1ULL << VIRTIO_F_INDIRECT_DESC);
	if (ops->features)
		d->host_features |= ops->features(d);
	vm->devs[vm->ndevs++] = d;
	*out = d;
	return 0;
}

int virtio_dev_start(struct virtio_dev *d)
{
	int ret = pthread_create(&d->thread, NULL, dev_thread, d);

	if (ret)
		return -ret;
	d->thread_started = true;
	return 0;
}

void virtio_dev_destroy(struct virtio_dev *d)
{
	uint64_t one = 1;

	if (d->thread_started) {
		if (write(d->stop_fd, &one, sizeof(one)) == sizeof(one))
			pthread_join(d->thread, NULL);
	}
	if (d->ops->destroy)
		d->ops->destroy(d);
	dev_free(d);
}
