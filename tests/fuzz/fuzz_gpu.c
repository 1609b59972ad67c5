/*
 * virtio-gpu command processing on sequences of fuzzer-made commands.
 *
 * Input: a series of [u16 length][length bytes] records, each one control
 * command (header and body) sent to the same device state, against the fake
 * renderer and window of tests/unit/gpu_fake.h, which abort on anything the
 * real virglrenderer or KVM would be hurt by. Guest memory is a small flat
 * buffer; the window is 1 MiB. After the series, a reset must give back
 * every context, resource and mapping.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../unit/gpu_fake.h"

#define GUEST_SIZE (256 << 10)

static uint8_t resp[sizeof(struct gpu_hdr) + GPU_MAX_CAPSET_SIZE];

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static uint8_t *guest;
	static struct guest_mem mem;
	struct fake_gpu *fake = calloc(1, sizeof(*fake));
	struct gpu_state st;
	struct gpu_reply r;

	if (!guest) {
		guest = calloc(1, GUEST_SIZE);
		guest_mem_init_flat(&mem, guest, GUEST_SIZE);
	}
	fake->window_size = 1 << 20;
	if (gpu_state_init(&st, &mem, &fake_ops, fake, &fake_window, fake, fake->window_size,
			   fake_capsets, 1))
		abort();
	while (size >= 2) {
		size_t len = data[0] | (size_t)data[1] << 8;
		uint8_t *req;

		data += 2;
		size -= 2;
		if (len > size)
			len = size;
		/* Exactly len bytes, so ASan sees any read past the command. */
		req = malloc(len ? len : 1);
		memcpy(req, data, len);
		gpu_cmd_process(&st, req, len, resp, sizeof(resp), &r);
		if (r.len > sizeof(resp) || r.len < sizeof(struct gpu_hdr))
			abort();
		free(req);
		data += len;
		size -= len;
	}
	gpu_state_destroy(&st);
	if (fake->nctx || fake->nres || fake->nmapped)
		abort();
	free(fake);
	return 0;
}
