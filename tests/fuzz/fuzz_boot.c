/* The kernel image loader (bzImage and ELF parsing) on arbitrary files. */
#include <stdint.h>
#include <stdlib.h>

#include "arch/x86/boot.h"

#define MEM_SIZE (64ULL << 20)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct guest_mem mem;
	static void *ram;
	struct boot_params_in in = {
		data, size, data, size < 4096 ? size : 4096, "console=hvc0", 0
	};
	struct boot_info bi;

	if (!ram) {
		ram = calloc(1, MEM_SIZE);
		guest_mem_init_flat(&mem, ram, MEM_SIZE);
	}
	x86_boot_load(&mem, &in, &bi);
	return 0;
}
