/* ACPI tables as a guest would walk them: RSDP -> XSDT -> FADT/MADT -> DSDT, checksums first. */
#include <errno.h>
#include <stdbool.h>
#include <string.h>

#include "arch/x86/acpi.h"
#include "check.h"

#define AREA_GPA  0xe0000u
#define AREA_SIZE 0x20000u

static uint8_t area[AREA_SIZE];

static uint32_t get32(const uint8_t *p)
{
	uint32_t v;

	memcpy(&v, p, 4);
	return v;
}

static uint64_t get64(const uint8_t *p)
{
	uint64_t v;

	memcpy(&v, p, 8);
	return v;
}

static uint8_t sum(const uint8_t *p, size_t len)
{
	uint8_t s = 0;

	while (len--)
		s += *p++;
	return s;
}

static bool contains(const uint8_t *p, size_t len, const char *s)
{
	size_t n = strlen(s);

	for (size_t i = 0; i + n <= len; i++)
		if (!memcmp(p + i, s, n))
			return true;
	return false;
}

static struct acpi_config config(unsigned ncpus)
{
	return (struct acpi_config){
		.ncpus = ncpus,
		.sleep_ctl_port = 0x600,
		.sleep_sts_port = 0x601,
		.reset_port = 0x602,
		.reset_value = 0x0f,
		.pvpanic_port = 0x505,
		.serial_port = 0x3f8,
		.serial_irq = 4,
		.nmmio = 2,
		.mmio = { { 0xd0000000, 0x200, 5 }, { 0xd0000200, 0x200, 6 } },
	};
}

/* The table at a guest address, or NULL unless it lies whole in the area with a good checksum. */
static const uint8_t *table_at(uint64_t gpa, int used, const char *sig)
{
	const uint8_t *t;
	uint32_t len;

	CHECK(gpa >= AREA_GPA && gpa + 36 <= AREA_GPA + (uint64_t)used, "%s header inside", sig);
	if (gpa < AREA_GPA || gpa + 36 > AREA_GPA + (uint64_t)used)
		return NULL;
	t = area + (gpa - AREA_GPA);
	len = get32(t + 4);
	CHECK(gpa % 8 == 0, "%s 8-byte aligned", sig);
	CHECK(!memcmp(t, sig, 4), "%s signature: %.4s", sig, (const char *)t);
	CHECK(len >= 36 && gpa + len <= AREA_GPA + (uint64_t)used, "%s length %u", sig, len);
	if (len < 36 || gpa + len > AREA_GPA + (uint64_t)used)
		return NULL;
	CHECK(sum(t, len) == 0, "%s checksum", sig);
	CHECK(!memcmp(t + 10, "KILN  ", 6) && !memcmp(t + 16, "KILNVMM ", 8), "%s OEM ids", sig);
	return t;
}

static const uint8_t *find_in_xsdt(const uint8_t *xsdt, int used, const char *sig)
{
	unsigned n = (get32(xsdt + 4) - 36) / 8;

	for (unsigned i = 0; i < n; i++) {
		uint64_t gpa = get64(xsdt + 36 + 8 * i);

		if (gpa >= AREA_GPA && gpa + 4 <= AREA_GPA + (uint64_t)used &&
		    !memcmp(area + (gpa - AREA_GPA), sig, 4))
			return table_at(gpa, used, sig);
	}
	CHECK(0, "%s listed in the XSDT", sig);
	return NULL;
}

static void check_fadt(const uint8_t *f, int used, bool pvpanic)
{
	const uint8_t *dsdt;
	uint32_t dsdt_len;

	CHECK(f[8] == 6 && get32(f + 4) == 276, "FADT revision 6, length 276");
	CHECK(get32(f + 112) & (1u << 20), "HW_REDUCED_ACPI");
	CHECK(get32(f + 112) & (1u << 10), "RESET_REG_SUP");
	CHECK(!(f[109] & 2) && (f[109] & 4), "IAPC_BOOT_ARCH: no 8042, no VGA");
	CHECK(f[116] == 1 && f[117] == 8 && get64(f + 120) == 0x602 && f[128] == 0x0f,
	      "RESET_REG: 8-bit I/O at 0x602, value 0x0f");
	CHECK(f[244] == 1 && f[245] == 8 && get64(f + 248) == 0x600, "SLEEP_CONTROL_REG");
	CHECK(f[256] == 1 && f[257] == 8 && get64(f + 260) == 0x601, "SLEEP_STATUS_REG");
	dsdt = table_at(get64(f + 140), used, "DSDT");
	if (!dsdt)
		return;
	dsdt_len = get32(dsdt + 4);
	CHECK(contains(dsdt, dsdt_len, "_S5_"), "DSDT has _S5_");
	CHECK(contains(dsdt, dsdt_len, "\x0a\x05\x0a\x05"), "_S5_ holds SLP_TYP 5, 5");
	CHECK(contains(dsdt, dsdt_len, "LNRO0005"), "DSDT has the virtio-mmio devices");
	CHECK(contains(dsdt, dsdt_len, "PNP0501"), "DSDT has COM1");
	CHECK(contains(dsdt, dsdt_len, "QEMU0001") == pvpanic,
	      "DSDT pvpanic device iff configured");
}

static void check_madt(const uint8_t *m, unsigned ncpus)
{
	uint32_t len = get32(m + 4);
	unsigned lapics = 0, ioapics = 0, irq0_to_2 = 0;

	CHECK(get32(m + 36) == 0xfee00000 && get32(m + 40) == 1, "LAPIC address, PCAT_COMPAT");
	for (uint32_t off = 44; off + 2 <= len && m[off + 1] >= 2; off += m[off + 1]) {
		const uint8_t *e = m + off;

		if (e[0] == 0) {
			CHECK(e[2] == lapics && e[3] == lapics && get32(e + 4) == 1,
			      "LAPIC %u: uid = id = index, enabled", lapics);
			lapics++;
		} else if (e[0] == 1) {
			ioapics++;
			CHECK(get32(e + 4) == 0xfec00000 && get32(e + 8) == 0, "IOAPIC at GSI 0");
		} else if (e[0] == 2) {
			irq0_to_2 += e[3] == 0 && get32(e + 4) == 2;
		}
	}
	CHECK(lapics == ncpus, "%u LAPIC entries for %u CPUs", lapics, ncpus);
	CHECK(ioapics == 1, "one IOAPIC");
	CHECK(irq0_to_2 == 1, "ISA IRQ0 overridden to GSI 2");
}

static void test_tables(const struct acpi_config *cfg)
{
	const uint8_t *xsdt, *fadt, *madt;
	int used;

	memset(area, 0xcc, sizeof(area));
	used = acpi_build(area, AREA_GPA, sizeof(area), cfg);
	CHECK(used > 0 && used <= (int)sizeof(area), "%u CPUs: built %d bytes", cfg->ncpus, used);
	if (used <= 0)
		return;
	CHECK(!memcmp(area, "RSD PTR ", 8), "RSDP signature at the start");
	CHECK(area[15] == 2 && get32(area + 20) == 36, "RSDP revision 2, length 36");
	CHECK(sum(area, 20) == 0, "RSDP checksum");
	CHECK(sum(area, 36) == 0, "RSDP extended checksum");
	xsdt = table_at(get64(area + 24), used, "XSDT");
	if (!xsdt)
		return;
	fadt = find_in_xsdt(xsdt, used, "FACP");
	madt = find_in_xsdt(xsdt, used, "APIC");
	if (fadt)
		check_fadt(fadt, used, cfg->pvpanic_port != 0);
	if (madt)
		check_madt(madt, cfg->ncpus);
}

/* Every size short of what the tables need fails cleanly and writes nothing past it. */
static void test_nospace(void)
{
	struct acpi_config cfg = config(4);
	int need = acpi_build(area, AREA_GPA, sizeof(area), &cfg);
	int bad = 0;

	for (int size = 0; size < need; size++) {
		memset(area, 0xcc, sizeof(area));
		if (acpi_build(area, AREA_GPA, size, &cfg) != -ENOSPC || area[size] != 0xcc)
			bad++;
	}
	CHECK(need > 0 && bad == 0, "-ENOSPC and no overrun below %d bytes (%d bad sizes)", need,
	      bad);
}

static void test_invalid(void)
{
	struct acpi_config cfg = config(0);

	CHECK(acpi_build(area, AREA_GPA, sizeof(area), &cfg) == -EINVAL, "0 CPUs");
	cfg.ncpus = 256;
	CHECK(acpi_build(area, AREA_GPA, sizeof(area), &cfg) == -EINVAL, "256 CPUs");
	cfg = config(1);
	cfg.serial_irq = 16;
	CHECK(acpi_build(area, AREA_GPA, sizeof(area), &cfg) == -EINVAL, "COM1 IRQ 16");
	cfg = config(1);
	cfg.mmio[1].base = 0xfffffe00;
	cfg.mmio[1].size = 0x400;
	CHECK(acpi_build(area, AREA_GPA, sizeof(area), &cfg) == -EINVAL, "device above 4 GiB");
	cfg = config(1);
	cfg.nmmio = ACPI_MAX_MMIO_DEVS + 1;
	CHECK(acpi_build(area, AREA_GPA, sizeof(area), &cfg) == -EINVAL, "too many devices");
}

/* 255 CPUs and every virtio slot: the largest tables, with multi-byte PkgLengths. */
static void test_largest(void)
{
	struct acpi_config cfg = config(255);

	cfg.nmmio = ACPI_MAX_MMIO_DEVS;
	for (unsigned i = 0; i < cfg.nmmio; i++)
		cfg.mmio[i] = (struct acpi_mmio_dev){ 0xd0000000 + 0x200 * i, 0x200, 5 + i };
	test_tables(&cfg);
}

int main(void)
{
	struct acpi_config one = config(1), four = config(4), no_pvpanic = config(4);

	no_pvpanic.pvpanic_port = 0;
	test_tables(&one);
	test_tables(&four);
	test_tables(&no_pvpanic);
	test_nospace();
	test_invalid();
	test_largest();
	return check_summary();
}
