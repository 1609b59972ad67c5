#include "arch/x86/boot.h"

#include <asm/bootparam.h>
#include <elf.h>
#include <errno.h>
#include <string.h>

#define E820_RAM      1
#define E820_RESERVED 2

#define PAGE_2M 0x200000ULL

static void add_e820(struct boot_params *bp, uint64_t addr, uint64_t size, uint32_t type)
{
	if (bp->e820_entries >= E820_MAX_ENTRIES_ZEROPAGE || size == 0)
		return;
	bp->e820_table[bp->e820_entries++] = (struct boot_e820_entry){ addr, size, type };
}

static void build_e820(const struct guest_mem *mem, struct boot_params *bp)
{
	add_e820(bp, 0, BOOT_EBDA_START, E820_RAM);
	add_e820(bp, BOOT_EBDA_START, 0xa0000 - BOOT_EBDA_START, E820_RESERVED);
	add_e820(bp, BOOT_BIOS_START, BOOT_HIMEM_START - BOOT_BIOS_START, E820_RESERVED);
	add_e820(bp, BOOT_HIMEM_START, guest_mem_low_end(mem) - BOOT_HIMEM_START, E820_RAM);
	for (unsigned i = 1; i < mem->nregions; i++)
		add_e820(bp, mem->regions[i].gpa, mem->regions[i].size, E820_RAM);
}

static void write_page_tables(struct guest_mem *mem)
{
	uint64_t *pml4 = guest_mem_ptr(mem, BOOT_PML4_ADDR, 4096);
	uint64_t *pdpt = guest_mem_ptr(mem, BOOT_PDPT_ADDR, 4096);
	uint64_t *pd = guest_mem_ptr(mem, BOOT_PD_ADDR, 4 * 4096);

	memset(pml4, 0, 4096);
	memset(pdpt, 0, 4096);
	pml4[0] = BOOT_PDPT_ADDR | 3; /* present, writable */
	for (unsigned i = 0; i < 4; i++)
		pdpt[i] = (BOOT_PD_ADDR + i * 4096ULL) | 3;
	for (unsigned i = 0; i < 4 * 512; i++)
		pd[i] = (i * PAGE_2M) | 0x83; /* present, writable, 2 MiB page */
}

static void write_gdt(struct guest_mem *mem)
{
	/* Selectors 0x10 (code) and 0x18 (data) as the 64-bit boot protocol asks. */
	const uint64_t gdt[] = {
		0,
		0,
		0x00af9b000000ffffULL, /* 0x10: 64-bit code */
		0x00cf93000000ffffULL, /* 0x18: data */
		0x008f8b000000ffffULL, /* 0x20: TSS */
	};

	guest_mem_write(mem, BOOT_GDT_ADDR, gdt, sizeof(gdt));
	guest_mem_write(mem, BOOT_IDT_ADDR, &(uint64_t){ 0 }, 8);
}

/*
 * There is no BIOS: a guest that restarts through the real-mode reset vector
 * (Linux's BOOT_BIOS method) finds a stub that pulls the keyboard controller's
 * reset line, which the VMM turns into a reboot.
 */
static void write_reset_vector(struct guest_mem *mem)
{
	static const uint8_t stub[] = {
		0xb0, 0xfe, /* mov al, 0xfe */
		0xe6, 0x64, /* out 0x64, al */
		0xf4,	    /* hlt */
		0xeb, 0xfd, /* jmp hlt */
	};

	guest_mem_write(mem, BOOT_RESET_VECTOR, stub, sizeof(stub));
}

static int load_initrd(struct guest_mem *mem, const struct boot_params_in *in,
		       struct boot_params *bp, uint64_t kernel_end, uint64_t max_addr)
{
	uint64_t top = guest_mem_low_end(mem), addr;

	if (!in->initrd)
		return 0;
	if (top > max_addr + 1)
		top = max_addr + 1;
	if (in->initrd_size > top)
		return -ENOMEM;
	addr = (top - in->initrd_size) & ~0xfffULL;
	if (addr < kernel_end)
		return -ENOMEM;
	if (guest_mem_write(mem, addr, in->initrd, in->initrd_size))
		return -ENOMEM;
	bp->hdr.ramdisk_image = (uint32_t)addr;
	bp->hdr.ramdisk_size = (uint32_t)in->initrd_size;
	bp->ext_ramdisk_image = addr >> 32;
	bp->ext_ramdisk_size = (uint64_t)in->initrd_size >> 32;
	return 0;
}

static int load_bzimage(struct guest_mem *mem, const struct boot_params_in *in,
			struct boot_params *bp, struct boot_info *out)
{
	const uint8_t *k = in->kernel;
	unsigned setup_sects, hdr_len;
	uint64_t off, size, need;

	if (in->kernel_size < 0x264)
		return -ENOEXEC;
	hdr_len = 0x202 + k[0x201] - 0x1f1;
	if (hdr_len > sizeof(bp->hdr))
		hdr_len = sizeof(bp->hdr);
	if (hdr_len > in->kernel_size - 0x1f1)
		hdr_len = in->kernel_size - 0x1f1;
	memcpy(&bp->hdr, k + 0x1f1, hdr_len);
	if (bp->hdr.version < 0x20c || !(bp->hdr.xloadflags & XLF_KERNEL_64))
		return -ENOEXEC;
	setup_sects = bp->hdr.setup_sects ? bp->hdr.setup_sects : 4;
	off = (setup_sects + 1) * 512ULL;
	if (off >= in->kernel_size)
		return -ENOEXEC;
	size = in->kernel_size - off;
	/* The kernel decompresses itself to pref_address and needs init_size there. */
	need = bp->hdr.pref_address + bp->hdr.init_size;
	if (need < BOOT_HIMEM_START + size)
		need = BOOT_HIMEM_START + size;
	if (need > guest_mem_low_end(mem))
		return -ENOMEM;
	if (guest_mem_write(mem, BOOT_HIMEM_START, k + off, size))
		return -ENOMEM;
	bp->hdr.type_of_loader = 0xff;
	bp->hdr.loadflags |= LOADED_HIGH | CAN_USE_HEAP;
	bp->hdr.heap_end_ptr = 0xfe00;
	bp->hdr.code32_start = BOOT_HIMEM_START;
	out->entry = BOOT_HIMEM_START + 0x200;
	out->kernel_end = need;
	return load_initrd(mem, in, bp, need, bp->hdr.initrd_addr_max);
}

static int load_elf(struct guest_mem *mem, const struct boot_params_in *in, struct boot_params *bp,
		    struct boot_info *out)
{
	const Elf64_Ehdr *eh = in->kernel;
	uint64_t end = 0;

	if (in->kernel_size < sizeof(*eh) || eh->e_ident[EI_CLASS] != ELFCLASS64 ||
	    eh->e_machine != EM_X86_64 || eh->e_phentsize != sizeof(Elf64_Phdr) ||
	    eh->e_phoff > in->kernel_size ||
	    (uint64_t)eh->e_phnum * sizeof(Elf64_Phdr) > in->kernel_size - eh->e_phoff)
		return -ENOEXEC;
	for (unsigned i = 0; i < eh->e_phnum; i++) {
		const Elf64_Phdr *ph =
			(const Elf64_Phdr *)((const uint8_t *)in->kernel + eh->e_phoff) + i;
		uint8_t *dst;

		if (ph->p_type != PT_LOAD)
			continue;
		if (ph->p_filesz > ph->p_memsz || ph->p_offset > in->kernel_size ||
		    ph->p_filesz > in->kernel_size - ph->p_offset)
			return -ENOEXEC;
		dst = guest_mem_ptr(mem, ph->p_paddr, ph->p_memsz);
		if (!dst || ph->p_paddr < BOOT_HIMEM_START)
			return -ENOMEM;
		memcpy(dst, (const uint8_t *)in->kernel + ph->p_offset, ph->p_filesz);
		memset(dst + ph->p_filesz, 0, ph->p_memsz - ph->p_filesz);
		if (ph->p_paddr + ph->p_memsz > end)
			end = ph->p_paddr + ph->p_memsz;
	}
	if (!end)
		return -ENOEXEC;
	bp->hdr.boot_flag = 0xaa55;
	bp->hdr.header = 0x53726448; /* "HdrS" */
	bp->hdr.version = 0x20c;
	bp->hdr.type_of_loader = 0xff;
	bp->hdr.kernel_alignment = 0x1000000;
	bp->hdr.cmdline_size = BOOT_CMDLINE_MAX - 1;
	out->entry = eh->e_entry;
	out->kernel_end = end;
	return load_initrd(mem, in, bp, end, 0xffffffffULL);
}

int x86_boot_load(struct guest_mem *mem, const struct boot_params_in *in, struct boot_info *out)
{
	struct boot_params *bp = guest_mem_ptr(mem, BOOT_ZERO_PAGE_ADDR, sizeof(*bp));
	const uint8_t *k = in->kernel;
	size_t cmdlen = strlen(in->cmdline);
	int ret;

	if (!bp || guest_mem_low_end(mem) < BOOT_HIMEM_START)
		return -ENOMEM;
	memset(bp, 0, sizeof(*bp));
	if (in->kernel_size >= 4 && !memcmp(k, ELFMAG, SELFMAG))
		ret = load_elf(mem, in, bp, out);
	else if (in->kernel_size >= 0x206 && !memcmp(k + 0x202, "HdrS", 4))
		ret = load_bzimage(mem, in, bp, out);
	else
		ret = -ENOEXEC;
	if (ret)
		return ret;
	if (cmdlen >= BOOT_CMDLINE_MAX || (bp->hdr.cmdline_size && cmdlen > bp->hdr.cmdline_size))
		return -E2BIG;
	guest_mem_write(mem, BOOT_CMDLINE_ADDR, in->cmdline, cmdlen + 1);
	bp->hdr.cmd_line_ptr = BOOT_CMDLINE_ADDR;
	bp->acpi_rsdp_addr = in->rsdp_addr;
	build_e820(mem, bp);
	write_page_tables(mem);
	write_gdt(mem);
	write_reset_vector(mem);
	out->zero_page = BOOT_ZERO_PAGE_ADDR;
	return 0;
}
