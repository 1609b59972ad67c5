/* The x86 kernel loader on synthetic bzImage and ELF files, good and bad. */
#include <asm/bootparam.h>
#include <elf.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "arch/x86/boot.h"
#include "check.h"

#define MEM_SIZE (64ULL << 20)

static struct guest_mem mem;

static uint8_t *make_bzimage(size_t *size)
{
	size_t sz = 5 * 512 + 4096;
	uint8_t *k = calloc(1, sz);
	struct setup_header *h = (struct setup_header *)(k + 0x1f1);

	h->setup_sects = 4;
	h->boot_flag = 0xaa55;
	k[0x201] = 0x66; /* jump: header ends at 0x202 + 0x66 */
	memcpy(k + 0x202, "HdrS", 4);
	h->version = 0x20f;
	h->xloadflags = XLF_KERNEL_64;
	h->pref_address = 0x1000000;
	h->init_size = 0x800000;
	h->initrd_addr_max = 0x7fffffff;
	h->cmdline_size = 2047;
	memset(k + 5 * 512, 0x90, 4096);
	*size = sz;
	return k;
}

static void test_bzimage(void)
{
	size_t ksz;
	uint8_t *k = make_bzimage(&ksz);
	const char initrd[] = "initrd-bytes";
	struct boot_params_in in = { k, ksz, initrd, sizeof(initrd), "console=hvc0", 0xe0000 };
	struct boot_info bi;
	struct boot_params *bp;
	int ret = x86_boot_load(&mem, &in, &bi);

	CHECK(ret == 0, "bzImage load: %d", ret);
	bp = guest_mem_ptr(&mem, bi.zero_page, sizeof(*bp));
	CHECK(bi.entry == 0x100200, "64-bit entry at load address + 0x200: 0x%llx",
	      (unsigned long long)bi.entry);
	CHECK(bp->hdr.cmd_line_ptr == BOOT_CMDLINE_ADDR, "cmdline pointer");
	CHECK(!strcmp(guest_mem_ptr(&mem, BOOT_CMDLINE_ADDR, 1), "console=hvc0"), "cmdline text");
	CHECK(bp->hdr.ramdisk_size == sizeof(initrd), "initrd size");
	CHECK(!memcmp(guest_mem_ptr(&mem, bp->hdr.ramdisk_image, sizeof(initrd)), initrd,
		      sizeof(initrd)),
	      "initrd copied");
	CHECK(bp->hdr.ramdisk_image + sizeof(initrd) <= MEM_SIZE, "initrd inside RAM");
	CHECK(bp->acpi_rsdp_addr == 0xe0000, "RSDP address passed");
	CHECK(bp->e820_entries >= 3, "e820 has entries");
	CHECK(bp->hdr.type_of_loader == 0xff, "loader type");

	/* A command line longer than the kernel accepts. */
	{
		char *big = malloc(4096);

		memset(big, 'a', 4095);
		big[4095] = 0;
		in.cmdline = big;
		CHECK(x86_boot_load(&mem, &in, &bi) == -E2BIG, "long cmdline refused");
		free(big);
		in.cmdline = "x";
	}
	/* A 32-bit-only kernel. */
	((struct setup_header *)(k + 0x1f1))->xloadflags = 0;
	CHECK(x86_boot_load(&mem, &in, &bi) == -ENOEXEC, "kernel without 64-bit entry refused");
	((struct setup_header *)(k + 0x1f1))->xloadflags = XLF_KERNEL_64;
	/* Setup sectors beyond the file. */
	k[0x1f1] = 200;
	CHECK(x86_boot_load(&mem, &in, &bi) == -ENOEXEC, "truncated kernel refused");
	k[0x1f1] = 4;
	/* Needs more memory than the guest has. */
	((struct setup_header *)(k + 0x1f1))->init_size = 0x7fffffff;
	CHECK(x86_boot_load(&mem, &in, &bi) == -ENOMEM, "oversized kernel refused");
	free(k);
}

static void test_elf(void)
{
	size_t sz = 4096 * 2;
	uint8_t *k = calloc(1, sz);
	Elf64_Ehdr *eh = (Elf64_Ehdr *)k;
	Elf64_Phdr *ph = (Elf64_Phdr *)(k + sizeof(*eh));
	struct boot_params_in in = { k, sz, NULL, 0, "x", 0 };
	struct boot_info bi;

	memcpy(eh->e_ident, ELFMAG, SELFMAG);
	eh->e_ident[EI_CLASS] = ELFCLASS64;
	eh->e_machine = EM_X86_64;
	eh->e_phentsize = sizeof(*ph);
	eh->e_phnum = 1;
	eh->e_phoff = sizeof(*eh);
	eh->e_entry = 0x1000000;
	ph->p_type = PT_LOAD;
	ph->p_offset = 4096;
	ph->p_paddr = 0x1000000;
	ph->p_filesz = 4096;
	ph->p_memsz = 8192;
	memset(k + 4096, 0xcc, 4096);
	CHECK(x86_boot_load(&mem, &in, &bi) == 0, "ELF load");
	CHECK(bi.entry == 0x1000000, "ELF entry");
	CHECK(*(uint8_t *)guest_mem_ptr(&mem, 0x1000000, 1) == 0xcc, "ELF segment copied");
	CHECK(*(uint8_t *)guest_mem_ptr(&mem, 0x1001000, 1) == 0, "ELF bss zeroed");

	ph->p_filesz = 1ULL << 40;
	CHECK(x86_boot_load(&mem, &in, &bi) == -ENOEXEC, "segment past end of file refused");
	ph->p_filesz = 4096;
	ph->p_paddr = MEM_SIZE - 4096;
	CHECK(x86_boot_load(&mem, &in, &bi) == -ENOMEM, "segment past end of RAM refused");
	ph->p_paddr = 0x1000000;
	eh->e_phnum = 60000;
	CHECK(x86_boot_load(&mem, &in, &bi) == -ENOEXEC, "program headers past end refused");
	free(k);
}

static void test_garbage(void)
{
	uint8_t junk[1024] = { 1, 2, 3 };
	struct boot_params_in in = { junk, sizeof(junk), NULL, 0, "", 0 };
	struct boot_info bi;

	CHECK(x86_boot_load(&mem, &in, &bi) == -ENOEXEC, "garbage refused");
	in.kernel_size = 3;
	CHECK(x86_boot_load(&mem, &in, &bi) == -ENOEXEC, "tiny file refused");
}

int main(void)
{
	void *ram = calloc(1, MEM_SIZE);

	guest_mem_init_flat(&mem, ram, MEM_SIZE);
	test_bzimage();
	test_elf();
	test_garbage();
	free(ram);
	return check_summary();
}
