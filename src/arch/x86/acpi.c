#include "arch/x86/acpi.h"

#include <errno.h>
#include <stdbool.h>
#include <string.h>

#define IOAPIC_ADDR 0xfec00000u
#define LAPIC_ADDR  0xfee00000u

/* A bump allocator over the table area; overflow is remembered, not written. */
struct area {
	uint8_t *buf;
	uint64_t gpa;
	size_t size, used;
	bool full;
};

static uint8_t *area_alloc(struct area *a, size_t len)
{
	size_t start = (a->used + 7) & ~(size_t)7;

	if (start > a->size || len > a->size - start) {
		a->full = true;
		return NULL;
	}
	a->used = start + len;
	memset(a->buf + start, 0, len);
	return a->buf + start;
}

static uint64_t area_gpa(const struct area *a, const uint8_t *p)
{
	return a->gpa + (uint64_t)(p - a->buf);
}

static uint8_t checksum(const uint8_t *p, size_t len)
{
	uint8_t sum = 0;

	while (len--)
		sum += *p++;
	return (uint8_t)-sum;
}

static void put16(uint8_t *p, uint16_t v)
{
	memcpy(p, &v, 2);
}

static void put32(uint8_t *p, uint32_t v)
{
	memcpy(p, &v, 4);
}

static void put64(uint8_t *p, uint64_t v)
{
	memcpy(p, &v, 8);
}

/* The common 36-byte header; the checksum is filled in by finish_table(). */
static void header(uint8_t *t, const char *sig, uint32_t len, uint8_t rev)
{
	memcpy(t, sig, 4);
	put32(t + 4, len);
	t[8] = rev;
	memcpy(t + 10, "KILN  ", 6);
	memcpy(t + 16, "KILNVMM ", 8);
	put32(t + 24, 1);
	memcpy(t + 28, "KILN", 4);
	put32(t + 32, 1);
}

static void finish_table(uint8_t *t)
{
	uint32_t len;

	memcpy(&len, t + 4, 4);
	t[9] = 0;
	t[9] = checksum(t, len);
}

/* Generic Address Structure for an 8-bit System I/O register. */
static void gas_io8(uint8_t *p, uint16_t port)
{
	p[0] = 1; /* system I/O */
	p[1] = 8; /* bit width */
	p[2] = 0;
	p[3] = 1; /* byte access */
	put64(p + 4, port);
}

/* ---- AML ---- */

struct aml {
	uint8_t b[4096];
	size_t n;
	bool overflow;
};

static void emit(struct aml *a, const void *p, size_t len)
{
	if (len > sizeof(a->b) - a->n) {
		a->overflow = true;
		return;
	}
	memcpy(a->b + a->n, p, len);
	a->n += len;
}

static void emit8(struct aml *a, uint8_t v)
{
	emit(a, &v, 1);
}

/* Insert a PkgLength at `at` covering everything emitted since then. */
static void pkg_close(struct aml *a, size_t at)
{
	size_t body = a->n - at, total;
	uint8_t enc[4];
	unsigned nb;

	/* The length counts its own encoding bytes. */
	if (body + 1 < 0x40)
		nb = 1;
	else if (body + 2 < 0x1000)
		nb = 2;
	else
		nb = 3;
	total = body + nb;
	if (nb == 1) {
		enc[0] = total;
	} else {
		enc[0] = ((nb - 1) << 6) | (total & 0xf);
		enc[1] = total >> 4;
		if (nb == 3)
			enc[2] = total >> 12;
	}
	if (nb > sizeof(a->b) - a->n) {
		a->overflow = true;
		return;
	}
	memmove(a->b + at + nb, a->b + at, body);
	memcpy(a->b + at, enc, nb);
	a->n += nb;
}

static void name_seg(struct aml *a, const char *seg)
{
	emit(a, seg, 4);
}

static void aml_integer(struct aml *a, uint32_t v)
{
	if (v == 0) {
		emit8(a, 0x00); /* ZeroOp */
	} else if (v == 1) {
		emit8(a, 0x01); /* OneOp */
	} else if (v <= 0xff) {
		emit8(a, 0x0a);
		emit8(a, v);
	} else if (v <= 0xffff) {
		emit8(a, 0x0b);
		emit(a, &(uint16_t){v}, 2);
	} else {
		emit8(a, 0x0c);
		emit(a, &v, 4);
	}
}

static void aml_name_int(struct aml *a, const char *seg, uint32_t v)
{
	emit8(a, 0x08); /* NameOp */
	name_seg(a, seg);
	aml_integer(a, v);
}

static void aml_name_str(struct aml *a, const char *seg, const char *s)
{
	emit8(a, 0x08);
	name_seg(a, seg);
	emit8(a, 0x0d); /* StringPrefix */
	emit(a, s, strlen(s) + 1);
}

/* Name(_CRS, ResourceTemplate(){...}) from raw resource descriptors. */
static void aml_crs(struct aml *a, const uint8_t *res, size_t len)
{
	const uint8_t end_tag[2] = {0x79, 0x00};
	size_t at;

	emit8(a, 0x08);
	name_seg(a, "_CRS");
	emit8(a, 0x11); /* BufferOp */
	at = a->n;
	aml_integer(a, len + sizeof(end_tag));
	emit(a, res, len);
	emit(a, end_tag, sizeof(end_tag));
	pkg_close(a, at);
}

static size_t device_open(struct aml *a, const char *seg)
{
	size_t at;

	emit8(a, 0x5b); /* ExtOpPrefix */
	emit8(a, 0x82); /* DeviceOp */
	at = a->n;
	name_seg(a, seg);
	return at;
}

static void virtio_device(struct aml *a, unsigned idx, const struct acpi_mmio_dev *d)
{
	static const char hex[] = "0123456789ABCDEF";
	char seg[5] = {'V', 'R', hex[(idx >> 4) & 0xf], hex[idx & 0xf], 0};
	uint8_t res[12 + 9];
	size_t at = device_open(a, seg);

	aml_name_str(a, "_HID", "LNRO0005");
	aml_name_int(a, "_UID", idx);
	/* Memory32Fixed(ReadWrite, base, size) */
	res[0] = 0x86;
	put16(res + 1, 9);
	res[3] = 1;
	put32(res + 4, (uint32_t)d->base);
	put32(res + 8, d->size);
	/* Interrupt(ResourceConsumer, Edge, ActiveHigh, Exclusive) {gsi} */
	res[12] = 0x89;
	put16(res + 13, 6);
	res[15] = 0x01 | 0x02; /* consumer, edge-triggered, active high, exclusive */
	res[16] = 1;
	put32(res + 17, d->gsi);
	aml_crs(a, res, sizeof(res));
	pkg_close(a, at);
}

static void pvpanic_device(struct aml *a, uint16_t port)
{
	/* IO(Decode16, port, port, 1, 1) */
	uint8_t res[8] = {0x47, 0x01, 0, 0, 0, 0, 0x01, 0x01};
	size_t at = device_open(a, "PEVT");

	put16(res + 2, port);
	put16(res + 4, port);
	aml_name_str(a, "_HID", "QEMU0001");
	aml_crs(a, res, sizeof(res));
	pkg_close(a, at);
}

static void build_aml(struct aml *a, const struct acpi_config *cfg)
{
	size_t at;

	/* Name(_S5, Package(){S5, S5, 0, 0}) */
	emit8(a, 0x08);
	name_seg(a, "_S5_");
	emit8(a, 0x12); /* PackageOp */
	at = a->n;
	emit8(a, 4);
	aml_integer(a, ACPI_S5_TYPE);
	aml_integer(a, ACPI_S5_TYPE);
	aml_integer(a, 0);
	aml_integer(a, 0);
	pkg_close(a, at);

	/* Scope(\_SB) { devices } */
	emit8(a, 0x10); /* ScopeOp */
	at = a->n;
	emit8(a, 0x5c); /* root prefix */
	name_seg(a, "_SB_");
	for (unsigned i = 0; i < cfg->nmmio; i++)
		virtio_device(a, i, &cfg->mmio[i]);
	if (cfg->pvpanic_port)
		pvpanic_device(a, cfg->pvpanic_port);
	pkg_close(a, at);
}

/* ---- tables ---- */

static uint8_t *build_dsdt(struct area *ar, const struct acpi_config *cfg)
{
	static struct aml aml; /* 4 KiB: too big for some thread stacks */
	uint8_t *t;

	memset(&aml, 0, sizeof(aml));
	build_aml(&aml, cfg);
	if (aml.overflow)
		return NULL;
	t = area_alloc(ar, 36 + aml.n);
	if (!t)
		return NULL;
	header(t, "DSDT", 36 + aml.n, 2);
	memcpy(t + 36, aml.b, aml.n);
	finish_table(t);
	return t;
}

static uint8_t *build_fadt(struct area *ar, const struct acpi_config *cfg, uint64_t dsdt)
{
	uint8_t *t = area_alloc(ar, 276);

	if (!t)
		return NULL;
	header(t, "FACP", 276, 6);
	put16(t + 109, (1 << 2) | (1 << 5)); /* IAPC_BOOT_ARCH: no VGA, no CMOS RTC, no 8042 */
	/* Flags: WBINVD, RESET_REG_SUP, HW_REDUCED_ACPI. */
	put32(t + 112, (1u << 0) | (1u << 10) | (1u << 20));
	gas_io8(t + 116, cfg->reset_port);
	t[128] = cfg->reset_value;
	put16(t + 129, 0); /* ARM_BOOT_ARCH: none on x86 */
	t[131] = 5;        /* FADT minor version: 6.5 */
	put64(t + 140, dsdt); /* X_DSDT */
	gas_io8(t + 244, cfg->sleep_ctl_port);
	gas_io8(t + 256, cfg->sleep_sts_port);
	memcpy(t + 268, "KILNVMM ", 8); /* hypervisor vendor identity */
	finish_table(t);
	return t;
}

static uint8_t *build_madt(struct area *ar, const struct acpi_config *cfg)
{
	size_t len = 44 + 8 * cfg->ncpus + 12 + 10 + 6;
	uint8_t *t = area_alloc(ar, len), *p;

	if (!t)
		return NULL;
	header(t, "APIC", len, 5);
	put32(t + 36, LAPIC_ADDR);
	put32(t + 40, 1); /* PCAT_COMPAT: there is an 8259 pair */
	p = t + 44;
	for (unsigned i = 0; i < cfg->ncpus; i++, p += 8) {
		p[0] = 0; /* Processor Local APIC */
		p[1] = 8;
		p[2] = i; /* ACPI processor id */
		p[3] = i; /* APIC id */
		put32(p + 4, 1); /* enabled */
	}
	p[0] = 1; /* I/O APIC */
	p[1] = 12;
	p[2] = 0; /* matches the id register of KVM's IOAPIC */
	put32(p + 4, IOAPIC_ADDR);
	put32(p + 8, 0); /* GSI base */
	p += 12;
	p[0] = 2; /* Interrupt Source Override: ISA IRQ0 (PIT) is GSI 2 */
	p[1] = 10;
	p[2] = 0;
	p[3] = 0;
	put32(p + 4, 2);
	put16(p + 8, 0);
	p += 10;
	p[0] = 4; /* Local APIC NMI on LINT1 of every processor */
	p[1] = 6;
	p[2] = 0xff;
	put16(p + 3, 0);
	p[5] = 1;
	finish_table(t);
	return t;
}

static uint8_t *build_xsdt(struct area *ar, const uint64_t *tables, unsigned n)
{
	uint8_t *t = area_alloc(ar, 36 + 8 * n);

	if (!t)
		return NULL;
	header(t, "XSDT", 36 + 8 * n, 1);
	for (unsigned i = 0; i < n; i++)
		put64(t + 36 + 8 * i, tables[i]);
	finish_table(t);
	return t;
}

static void build_rsdp(uint8_t *r, uint64_t xsdt)
{
	memcpy(r, "RSD PTR ", 8);
	memcpy(r + 9, "KILN  ", 6);
	r[15] = 2; /* revision: ACPI 2.0+ */
	put32(r + 20, 36);
	put64(r + 24, xsdt);
	r[8] = checksum(r, 20);
	r[32] = checksum(r, 36);
}

int acpi_build(void *buf, uint64_t gpa, size_t size, const struct acpi_config *cfg)
{
	struct area ar = {buf, gpa, size, 0, false};
	uint8_t *rsdp, *dsdt, *fadt, *madt, *xsdt;
	uint64_t tables[2];

	if (cfg->ncpus < 1 || cfg->ncpus > 255 || cfg->nmmio > ACPI_MAX_MMIO_DEVS)
		return -EINVAL;
	for (unsigned i = 0; i < cfg->nmmio; i++)
		if (cfg->mmio[i].base > UINT32_MAX - cfg->mmio[i].size)
			return -EINVAL;
	rsdp = area_alloc(&ar, 36);
	dsdt = build_dsdt(&ar, cfg);
	fadt = dsdt ? build_fadt(&ar, cfg, area_gpa(&ar, dsdt)) : NULL;
	madt = build_madt(&ar, cfg);
	if (!rsdp || !fadt || !madt)
		return -ENOSPC;
	tables[0] = area_gpa(&ar, fadt);
	tables[1] = area_gpa(&ar, madt);
	xsdt = build_xsdt(&ar, tables, 2);
	if (!xsdt)
		return -ENOSPC;
	build_rsdp(rsdp, area_gpa(&ar, xsdt));
	return (int)ar.used;
}
