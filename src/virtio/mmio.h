/*
 * virtio-mmio transport (virtio 1.x "modern", version 2 registers).
 *
 * A device plugs in through struct virtio_dev_ops. Register accesses arrive on
 * vCPU threads; queue notifications arrive through ioeventfds on the device's
 * own thread, which calls ops->notify with the device lock held. Interrupts go
 * out through an irqfd.
 */
#ifndef KILN_VIRTIO_MMIO_H
#define KILN_VIRTIO_MMIO_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "virtio/queue.h"

#define VIRTIO_MMIO_SIZE  0x1000
#define VIRTIO_MAX_QUEUES 16
#define VIRTIO_MAX_FDS	  4

#define VIRTIO_F_INDIRECT_DESC 28
#define VIRTIO_F_EVENT_IDX     29
#define VIRTIO_F_VERSION_1     32

#define VIRTIO_STATUS_ACKNOWLEDGE 1
#define VIRTIO_STATUS_DRIVER	  2
#define VIRTIO_STATUS_DRIVER_OK	  4
#define VIRTIO_STATUS_FEATURES_OK 8
#define VIRTIO_STATUS_NEEDS_RESET 64
#define VIRTIO_STATUS_FAILED	  128

#define VIRTIO_INT_VRING  1
#define VIRTIO_INT_CONFIG 2

enum virtio_id {
	VIRTIO_ID_NET = 1,
	VIRTIO_ID_BLOCK = 2,
	VIRTIO_ID_CONSOLE = 3,
	VIRTIO_ID_RNG = 4,
	VIRTIO_ID_BALLOON = 5,
	VIRTIO_ID_GPU = 16,
	VIRTIO_ID_VSOCK = 19,
	VIRTIO_ID_FS = 26,
};

struct virtio_dev;
struct vm;

struct virtio_dev_ops {
	const char *name;
	uint32_t device_id;
	unsigned nqueues;
	uint16_t queue_max;
	/* Device-specific feature bits (transport bits are added by the core). */
	uint64_t (*features)(struct virtio_dev *d);
	/* Config space; out-of-range reads return zeros, writes are ignored. */
	void (*config_read)(struct virtio_dev *d, uint64_t off, void *data, unsigned len);
	void (*config_write)(struct virtio_dev *d, uint64_t off, const void *data, unsigned len);
	/* DRIVER_OK was set: start serving. Non-zero marks the device FAILED. */
	int (*activate)(struct virtio_dev *d);
	/* The driver reset the device: drop in-flight work (lock held). */
	void (*reset)(struct virtio_dev *d);
	/* Queue q was kicked, or an fd added with virtio_dev_watch_fd is readable (q < 0). */
	void (*notify)(struct virtio_dev *d, int q);
	/* The VMM is shutting down. */
	void (*destroy)(struct virtio_dev *d);
	/* Shared-memory region id: its guest-physical base and length; false if none. */
	bool (*shm_region)(struct virtio_dev *d, uint32_t id, uint64_t *base, uint64_t *len);
};

struct virtio_dev {
	const struct virtio_dev_ops *ops;
	void *priv;
	struct vm *vm;
	const struct guest_mem *mem;
	uint64_t base;
	unsigned irq;
	pthread_mutex_t lock;

	/* Transport state, under lock. */
	uint32_t status;
	uint32_t dev_feat_sel, drv_feat_sel;
	uint64_t host_features, guest_features;
	uint32_t queue_sel;
	uint32_t shm_sel;
	uint32_t config_generation;
	bool active;
	struct virtq vq[VIRTIO_MAX_QUEUES];
	uint32_t isr; /* atomically updated */

	int irqfd;
	int kick_fd[VIRTIO_MAX_QUEUES];
	int stop_fd;
	int epfd;
	int watch_fd[VIRTIO_MAX_FDS];
	unsigned nwatch;
	pthread_t thread;
	bool thread_started;
};

/* Create the device, allocate its MMIO window and IRQ, register it with the VM. */
int virtio_dev_create(struct vm *vm, const struct virtio_dev_ops *ops, void *priv,
		      struct virtio_dev **out);
/* Start its service thread (after all devices exist, before vCPUs run). */
int virtio_dev_start(struct virtio_dev *d);
void virtio_dev_destroy(struct virtio_dev *d);

/* Let the device thread also wait on fd; ops->notify(d, -1 - index) when readable. */
int virtio_dev_watch_fd(struct virtio_dev *d, int fd);
/* Stop/resume waiting on a watched fd (e.g. while there is nowhere to put its data). */
void virtio_dev_watch_enable(struct virtio_dev *d, int fd, bool on);
/* Wait on a watched fd for these epoll events (EPOLLIN, EPOLLOUT, both; 0: none). */
void virtio_dev_watch_events(struct virtio_dev *d, int fd, uint32_t events);

/* Interrupt the guest for queue q if its suppression state asks for it. */
void virtio_dev_notify_queue(struct virtio_dev *d, struct virtq *q);
void virtio_dev_config_changed(struct virtio_dev *d);

bool virtio_dev_has_feature(const struct virtio_dev *d, unsigned bit);

#endif
