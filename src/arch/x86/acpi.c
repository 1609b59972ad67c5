#include "arch/x86/acpi.h"

#include <errno.h>
#include <stdbool.h>
#include <string.h>

#define IOAPIC_ADDR 0xfec00000u
#define LAPIC_ADDR  0xfee00000u

/* A bump allocator over the table area; every table starts 8-byte aligned. */
struct area {
	uint8_t *buf;
	uint64_t gpa;
	size_t size, used;
};

static uint8_t *area_alloc(struct area *a, size_t len)
{
	size_t start = (a->used + 7) & ~(size_t)7;

	if (start > a->size || len > a->size - start)
		return NULL;
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

/* An AML writer over the free end of the area; overflow is remembered, not written. */
struct aml {
	uint8_t *b;
	size_t n, cap;
	bool overflow;
};

static void emit(struct aml *a, const void *p, size_t len)
{
	if (a->overflow || len > a->cap - a->n) {
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

/*
 * Insert a PkgLength at `at` covering everything emitted since then. The
 * length is only known once the body is written, and it counts its own
 * encoding bytes: one byte holds 6 bits, each further byte 8 more.
 */
static void pkg_close(struct aml *a, size_t at)
{
	size_t body = a->n - at, total;
	uint8_t enc[4];
	unsigned nb = 1;

	if (a->overflow)
		return;
	while (nb < 4 && body + nb >= ((size_t)1 << (nb == 1 ? 6 : 4 + 8 * (nb - 1))))
		nb++;
	total = body + nb;
	if (total >= (size_t)1 << 28 || nb > a->cap - a->n) {
		a->overflow = true;
		return;
	}
	if (nb == 1) {
		enc[0] = total;
	} else {
		enc[0] = ((nb - 1) << 6) | (total & 0xf);
		for (unsigned i = 1; i < nb; i++)
			enc[i] = total >> (4 + 8 * (i - 1));
	}
	memmove(a->b + at + nb, a->b + at, body);
	memcpy(a->b + at, enc, nb);
	a->n += nb;
}

static void name_seg(struct aml *a, const char *seg)
{
	emit(a, seg, 4);
}

/* The shortest encoding, as iasl would pick it. */
static void aml_integer(struct aml *a, uint32_t v)
{
	uint8_t le[4];

	put32(le, v);
	if (v <= 1) {
		emit8(a, v); /* ZeroOp, OneOp */
	} else if (v <= 0xff) {
		emit8(a, 0x0a); /* BytePrefix */
		emit(a, le, 1);
	} else if (v <= 0xffff) {
		emit8(a, 0x0b); /* WordPrefix */
		emit(a, le, 2);
	} else {
		emit8(a, 0x0c); /* DWordPrefix */
		emit(a, le, 4);
	}
}

static void aml_name(struct aml *a, const char *seg)
{
	emit8(a, 0x08); /* NameOp */
	name_seg(a, seg);
}

static void aml_name_int(struct aml *a, const char *seg, uint32_t v)
{
	aml_name(a, seg);
	aml_integer(a, v);
}

static void aml_name_str(struct aml *a, const char *seg, const char *s)
{
	aml_name(a, seg);
	emit8(a, 0x0d); /* StringPrefix */
	emit(a, s, strlen(s) + 1);
}

/* ResourceTemplate descriptors, written into a caller's small array. */
static size_t res_io(uint8_t *p, uint16_t port, uint8_t len)
{
	p[0] = 0x47; /* IO(Decode16, port, port, 1, len) */
	p[1] = 0x01;
	put16(p + 2, port);
	put16(p + 4, port);
	p[6] = 1;
	p[7] = len;
	return 8;
}

static size_t res_isa_irq(uint8_t *p, uint8_t irq)
{
	p[0] = 0x22; /* IRQNoFlags(){irq}: edge, active high, exclusive */
	put16(p + 1, 1u << irq);
	return 3;
}

static size_t res_mem32(uint8_t *p, uint32_t base, uint32_t size)
{
	p[0] = 0x86; /* Memory32Fixed(ReadWrite, base, size) */
	put16(p + 1, 9);
	p[3] = 1;
	put32(p + 4, base);
	put32(p + 8, size);
	return 12;
}

static size_t res_gsi(uint8_t *p, uint32_t gsi)
{
	p[0] = 0x89; /* Interrupt(ResourceConsumer, Edge, ActiveHigh, Exclusive){gsi} */
	put16(p + 1, 6);
	p[3] = 0x01 | 0x02;
	p[4] = 1;
	put32(p + 5, gsi);
	return 9;
}

/* Name(_CRS, ResourceTemplate(){...}): a Buffer of descriptors and an End Tag. */
static void aml_crs(struct aml *a, const uint8_t *res, size_t len)
{
	const uint8_t end_tag[2] = { 0x79, 0x00 }; /* checksum 0: "treat as correct" */
	size_t at;

	aml_name(a, "_CRS");
	emit8(a, 0x11); /* BufferOp */
	at = a->n;
	aml_integer(a, len + sizeof(end_tag));
	emit(a, res, len);
	emit(a, end_tag, sizeof(end_tag));
	pkg_close(a, at);
}

/* Device(seg){ Name(_HID, hid) ...; the caller adds the rest and closes it. */
static size_t device_open(struct aml *a, const char *seg, const char *hid)
{
	size_t at;

	emit8(a, 0x5b); /* ExtOpPrefix */
	emit8(a, 0x82); /* DeviceOp */
	at = a->n;
	name_seg(a, seg);
	aml_name_str(a, "_HID", hid);
	return at;
}

static void virtio_device(struct aml *a, unsigned idx, const struct acpi_mmio_dev *d)
{
	static const char hex[] = "0123456789ABCDEF";
	char seg[5] = { 'V', 'R', hex[(idx >> 4) & 0xf], hex[idx & 0xf], 0 };
	uint8_t res[12 + 9];
	size_t at = device_open(a, seg, "LNRO0005"), n;

	aml_name_int(a, "_UID", idx);
	n = res_mem32(res, (uint32_t)d->base, d->size);
	n += res_gsi(res + n, d->gsi);
	aml_crs(a, res, n);
	pkg_close(a, at);
}

/*
 * With HW_REDUCED_ACPI Linux swaps the 8259 for a null PIC and so maps no ISA
 * IRQs by default; describing COM1 lets 8250_pnp route its IRQ via the IOAPIC.
 */
static void serial_device(struct aml *a, uint16_t port, uint8_t irq)
{
	uint8_t res[8 + 3];
	size_t at = device_open(a, "COM1", "PNP0501"), n;

	aml_name_int(a, "_UID", 1);
	n = res_io(res, port, 8);
	n += res_isa_irq(res + n, irq);
	aml_crs(a, res, n);
	pkg_close(a, at);
}

/* Linux's pvpanic-mmio driver matches QEMU0001 and takes an I/O resource too. */
static void pvpanic_device(struct aml *a, uint16_t port)
{
	uint8_t res[8];
	size_t at = device_open(a, "PEVT", "QEMU0001");

	aml_crs(a, res, res_io(res, port, 1));
	pkg_close(a, at);
}

/* Device(PWRB): Linux's ACPI button driver makes it the "Power Button" input device. */
static void power_button_device(struct aml *a)
{
	size_t at = device_open(a, "PWRB", "PNP0C0C");

	aml_name_int(a, "_UID", 0);
	pkg_close(a, at);
}

/*
 * Device(GED0): a Generic Event Device (ACPI 6, 5.6.9). The OS runs _EVT with the interrupt's
 * number when that interrupt fires; the only one here is the power button's, so _EVT is
 * Notify(\_SB.PWRB, 0x80): "button pressed" for PNP0C0C.
 */
static void ged_device(struct aml *a, uint32_t gsi)
{
	uint8_t res[9];
	size_t at = device_open(a, "GED0", "ACPI0013"), m;

	aml_name_int(a, "_UID", 0);
	aml_crs(a, res, res_gsi(res, gsi));
	emit8(a, 0x14); /* MethodOp: Method(_EVT, 1, NotSerialized) */
	m = a->n;
	name_seg(a, "_EVT");
	emit8(a, 0x01); /* MethodFlags: 1 argument, not serialized, sync level 0 */
	emit8(a, 0x86); /* NotifyOp */
	emit8(a, 0x5c); /* RootChar */
	emit8(a, 0x2e); /* DualNamePrefix: \_SB_.PWRB */
	name_seg(a, "_SB_");
	name_seg(a, "PWRB");
	aml_integer(a, ACPI_NOTIFY_BUTTON);
	pkg_close(a, m);
	pkg_close(a, at);
}

/* Name(_S5_, Package(){S5, S5, 0, 0}): SLP_TYPa, SLP_TYPb, reserved. */
static void sleep_state_s5(struct aml *a)
{
	size_t at;

	aml_name(a, "_S5_");
	emit8(a, 0x12); /* PackageOp */
	at = a->n;
	emit8(a, 4); /* NumElements */
	aml_integer(a, ACPI_S5_TYPE);
	aml_integer(a, ACPI_S5_TYPE);
	aml_integer(a, 0);
	aml_integer(a, 0);
	pkg_close(a, at);
}

static void build_aml(struct aml *a, const struct acpi_config *cfg)
{
	size_t at;

	sleep_state_s5(a);
	emit8(a, 0x10); /* ScopeOp: Scope(\_SB_) */
	at = a->n;
	emit8(a, 0x5c); /* RootChar */
	name_seg(a, "_SB_");
	for (unsigned i = 0; i < cfg->nmmio; i++)
		virtio_device(a, i, &cfg->mmio[i]);
	if (cfg->serial_port)
		serial_device(a, cfg->serial_port, cfg->serial_irq);
	if (cfg->pvpanic_port)
		pvpanic_device(a, cfg->pvpanic_port);
	if (cfg->power_button) {
		power_button_device(a);
		ged_device(a, cfg->ged_gsi);
	}
	pkg_close(a, at);
}

/* ---- tables ---- */

/* The AML is written in place after the header, so its size needs no guess. */
static uint8_t *build_dsdt(struct area *ar, const struct acpi_config *cfg)
{
	uint8_t *t = area_alloc(ar, 36);
	struct aml aml;

	if (!t)
		return NULL;
	aml = (struct aml){ .b = t + 36, .cap = ar->size - ar->used };
	build_aml(&aml, cfg);
	if (aml.overflow)
		return NULL;
	ar->used += aml.n;
	header(t, "DSDT", 36 + aml.n, 2);
	finish_table(t);
	return t;
}

static uint8_t *build_fadt(struct area *ar, const struct acpi_config *cfg, uint64_t dsdt)
{
	uint8_t *t = area_alloc(ar, 276);

	if (!t)
		return NULL;
	header(t, "FACP", 276, 6);
	put16(t + 109,
	      (1 << 2) | (1 << 5)); /* IAPC_BOOT_ARCH: no VGA, no CMOS RTC; bit 1 clear: no 8042 */
	/* Flags: WBINVD, RESET_REG_SUP, HW_REDUCED_ACPI. */
	put32(t + 112, (1u << 0) | (1u << 10) | (1u << 20));
	gas_io8(t + 116, cfg->reset_port);
	t[128] = cfg->reset_value;
	put16(t + 129, 0);    /* ARM_BOOT_ARCH: none on x86 */
	t[131] = 5;	      /* FADT minor version: 6.5 */
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
		p[2] = i;	 /* ACPI processor id */
		p[3] = i;	 /* APIC id */
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

static bool config_valid(const struct acpi_config *cfg)
{
	if (cfg->ncpus < 1 || cfg->ncpus > 255 || cfg->nmmio > ACPI_MAX_MMIO_DEVS)
		return false;
	if (cfg->serial_port && cfg->serial_irq > 15)
		return false;
	for (unsigned i = 0; i < cfg->nmmio; i++)
		if (cfg->mmio[i].base > UINT32_MAX - cfg->mmio[i].size)
			return false; /* described with Memory32Fixed */
	return true;
}

int acpi_build(void *buf, uint64_t gpa, size_t size, const struct acpi_config *cfg)
{
	struct area ar = { buf, gpa, size, 0 };
	uint8_t *rsdp, *dsdt, *fadt, *madt, *xsdt;
	uint64_t tables[2];

	if (!config_valid(cfg))
		return -EINVAL;
	/* The RSDP goes first: a BIOS-area scan looks on 16-byte boundaries. */
	rsdp = area_alloc(&ar, 36);
	dsdt = rsdp ? build_dsdt(&ar, cfg) : NULL;
	fadt = dsdt ? build_fadt(&ar, cfg, area_gpa(&ar, dsdt)) : NULL;
	madt = fadt ? build_madt(&ar, cfg) : NULL;
	if (!madt)
		return -ENOSPC;
	tables[0] = area_gpa(&ar, fadt);
	tables[1] = area_gpa(&ar, madt);
	xsdt = build_xsdt(&ar, tables, 2);
	if (!xsdt)
		return -ENOSPC;
	build_rsdp(rsdp, area_gpa(&ar, xsdt));
	return (int)ar.used;
}
