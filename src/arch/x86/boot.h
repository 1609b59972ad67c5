/* x86_64 Linux boot protocol: kernel/initrd loading, zero page, e820, page tables. */
#ifndef KILN_ARCH_X86_BOOT_H
#define KILN_ARCH_X86_BOOT_H

#include <stddef.h>
#include <stdint.h>

#include "mem/guest_mem.h"

/* Fixed low-memory layout used at boot. */
#define BOOT_GDT_ADDR	    0x500ULL
#define BOOT_IDT_ADDR	    0x520ULL
#define BOOT_ZERO_PAGE_ADDR 0x7000ULL
#define BOOT_STACK_ADDR	    0x8ff0ULL
#define BOOT_PML4_ADDR	    0x9000ULL
#define BOOT_PDPT_ADDR	    0xa000ULL
#define BOOT_PD_ADDR	    0xb000ULL /* four pages: identity map of 4 GiB */
#define BOOT_CMDLINE_ADDR   0x20000ULL
#define BOOT_CMDLINE_MAX    0x10000ULL
#define BOOT_EBDA_START	    0x9fc00ULL
#define BOOT_BIOS_START	    0xe0000ULL /* ACPI tables live here */
#define BOOT_BIOS_SIZE	    0x1f000ULL /* up to the reset vector's page */
#define BOOT_RESET_VECTOR   0xffff0ULL /* real-mode F000:FFF0 */
#define BOOT_HIMEM_START    0x100000ULL

struct boot_info {
	uint64_t entry;	     /* 64-bit entry point (guest physical) */
	uint64_t zero_page;  /* boot_params address, passed in RSI */
	uint64_t kernel_end; /* first byte after the loaded kernel image */
};

struct boot_params_in {
	const void *kernel; /* whole kernel file */
	size_t kernel_size;
	const void *initrd; /* may be NULL */
	size_t initrd_size;
	const char *cmdline;
	uint64_t rsdp_addr; /* 0: none */
};

/*
 * Load a bzImage or ELF vmlinux with its initrd and command line, write the
 * zero page, e820 map, GDT and page tables. -ENOEXEC: unrecognised kernel,
 * -E2BIG: command line too long, -ENOMEM: does not fit in guest RAM.
 */
int x86_boot_load(struct guest_mem *mem, const struct boot_params_in *in, struct boot_info *out);

#endif
