/*
 * The virtio-mmio transport and the queue walker behind it, driven the way a
 * hostile guest would: arbitrary register reads and writes (feature
 * negotiation, queue setup, status changes, resets) interleaved with queue
 * kicks, against guest memory whose contents also come from the input. The
 * device is virtio-rng, which writes into whatever buffers it is given.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "virtio/mmio.h"
#include "virtio/rng.h"
#include "vmm/vm.h"

#define MEM_SIZE 0x10000

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static uint8_t ram[MEM_SIZE];
	struct vm *vm = calloc(1, sizeof(*vm));
	struct virtio_dev *d;
	size_t i;

	if (!vm)
		return 0;
	/* Guest memory: the input repeated, so ring contents are under its control. */
	for (i = 0; i < MEM_SIZE; i++)
		ram[i] = size ? data[i % size] : 0;
	guest_mem_init_flat(&vm->mem, ram, MEM_SIZE);
	vm->hv.detached = true;
	vm->hv.kvm_fd = vm->hv.vm_fd = -1;
	vm->next_mmio = VM_MMIO_BASE;
	vm->next_irq = VM_IRQ_BASE;
	if (virtio_rng_create(vm)) {
		free(vm);
		return 0;
	}
	d = vm->devs[0];
	/* Records of 7 bytes: op (direction, size, kick), 16-bit offset, 32-bit value. */
	for (i = 0; i + 7 <= size; i += 7) {
		static const unsigned sizes[] = { 1, 2, 4, 8 };
		uint8_t op = data[i];
		unsigned len = sizes[(op >> 1) & 3];
		uint64_t val = 0;
		uint16_t off;

		memcpy(&off, data + i + 1, 2);
		memcpy(&val, data + i + 3, 4);
		off %= 0x140;
		if (op & 1)
			bus_write(&vm->mmio, d->base + off, &val, len);
		else
			bus_read(&vm->mmio, d->base + off, &val, len);
		if (op & 0x80) {
			pthread_mutex_lock(&d->lock);
			if (d->active)
				d->ops->notify(d, 0);
			pthread_mutex_unlock(&d->lock);
		}
	}
	virtio_dev_destroy(d);
	free(vm);
	return 0;
}
