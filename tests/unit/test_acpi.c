/*
 * ACPI tables as a guest would walk them: RSDP -> XSDT -> FADT/MADT -> DSDT, checksums first,
 * then the DSDT's AML parsed whole and its devices looked up by path.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
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

static void put32le(uint8_t *p, uint32_t v)
{
	memcpy(p, &v, 4);
}

static uint8_t sum(const uint8_t *p, size_t len)
{
	uint8_t s = 0;

	while (len--)
		s += *p++;
	return s;
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
		.power_button = true,
		.ged_gsi = 5,
		.nmmio = 2,
		.mmio = { { 0xd0000000, 0x200, 6 }, { 0xd0000200, 0x200, 7 } },
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

/* ---- an AML walker for what acpi.c writes: every length exact, every name declared once ---- */

struct aml_node {
	char path[48];	     /* absolute, e.g. \_SB_.GED0._HID */
	char kind;	     /* 'S' scope, 'D' device, 'N' name, 'M' method */
	const uint8_t *data; /* N: the data object; M: the flags byte, then the body */
	size_t len;
};

struct aml_walk {
	const uint8_t *base; /* the DSDT */
	struct aml_node nodes[256];
	unsigned n;
	char error[120];
};

static bool aml_fail(struct aml_walk *w, const char *what, const uint8_t *at)
{
	if (!w->error[0])
		snprintf(w->error, sizeof(w->error), "%s at DSDT offset %td", what, at - w->base);
	return false;
}

/* PkgLength (ACPI 6, 20.2.4): *p moves past the encoding, *pkg_end is where the package ends. */
static bool aml_pkg(const uint8_t **p, const uint8_t *end, const uint8_t **pkg_end)
{
	const uint8_t *start = *p;
	size_t nb, len;

	if (start >= end)
		return false;
	nb = start[0] >> 6;
	if (nb && (start[0] & 0x30))
		return false; /* bits 4-5 are reserved in multi-byte encodings */
	len = nb ? start[0] & 0x0f : start[0] & 0x3f;
	if ((size_t)(end - start) < 1 + nb)
		return false;
	for (size_t i = 1; i <= nb; i++)
		len |= (size_t)start[i] << (4 + 8 * (i - 1));
	if (len < 1 + nb || len > (size_t)(end - start))
		return false;
	*p = start + 1 + nb;
	*pkg_end = start + len;
	return true;
}

static bool aml_seg(const uint8_t *s)
{
	for (int i = 0; i < 4; i++)
		if (!(s[i] == '_' || (s[i] >= 'A' && s[i] <= 'Z') ||
		      (i && s[i] >= '0' && s[i] <= '9')))
			return false;
	return true;
}

/* NameString (20.2.2) as an absolute path; one without the root prefix is in scope. */
static bool aml_namestring(const uint8_t **p, const uint8_t *end, const char *scope, char *out,
			   size_t size)
{
	const uint8_t *q = *p;
	size_t nsegs = 1, n;

	if (q < end && *q == '\\') {
		snprintf(out, size, "\\");
		q++;
	} else {
		snprintf(out, size, "%s", scope);
	}
	if (q < end && *q == 0x2e) { /* DualNamePrefix */
		nsegs = 2;
		q++;
	} else if (q < end && *q == 0x2f) { /* MultiNamePrefix, SegCount */
		if (++q >= end)
			return false;
		nsegs = *q++;
	} else if (q < end && *q == 0x00) { /* NullName */
		nsegs = 0;
		q++;
	}
	if ((size_t)(end - q) < 4 * nsegs)
		return false;
	for (size_t i = 0; i < nsegs; i++, q += 4) {
		n = strlen(out);
		if (!aml_seg(q) || n + 6 > size)
			return false;
		snprintf(out + n, size - n, "%s%.4s", out[n - 1] == '\\' ? "" : ".",
			 (const char *)q);
	}
	*p = q;
	return true;
}

/* An integer constant (20.2.3): Zero, One, Ones, or a prefixed byte/word/dword/qword. */
static bool aml_int(const uint8_t **p, const uint8_t *end, uint64_t *v)
{
	static const uint8_t prefix[4] = { 0x0a, 0x0b, 0x0c, 0x0e };
	const uint8_t *q = *p;

	if (q >= end)
		return false;
	*v = 0;
	if (*q == 0x00 || *q == 0x01 || *q == 0xff) {
		*v = *q == 0xff ? UINT64_MAX : *q;
		*p = q + 1;
		return true;
	}
	for (size_t i = 0; i < 4; i++) {
		size_t len = (size_t)1 << i;

		if (*q != prefix[i])
			continue;
		if ((size_t)(end - q) < 1 + len)
			return false;
		for (size_t b = 0; b < len; b++)
			*v |= (uint64_t)q[1 + b] << (8 * b);
		*p = q + 1 + len;
		return true;
	}
	return false;
}

/* A DataObject that acpi.c writes: an integer, a string, a buffer or a package. */
static bool aml_data(const uint8_t **p, const uint8_t *end)
{
	const uint8_t *q = *p, *pe;
	uint64_t v;

	if (aml_int(p, end, &v))
		return true;
	if (q >= end)
		return false;
	switch (*q++) {
	case 0x0d: /* String: ASCII up to a NUL */
		while (q < end && *q && *q < 0x80)
			q++;
		if (q >= end || *q)
			return false;
		q++;
		break;
	case 0x11: /* Buffer: PkgLength, BufferSize, exactly that many bytes */
		if (!aml_pkg(&q, end, &pe) || !aml_int(&q, pe, &v) || v != (uint64_t)(pe - q))
			return false;
		q = pe;
		break;
	case 0x12: /* Package: PkgLength, NumElements, the elements */
		if (!aml_pkg(&q, end, &pe) || q >= pe)
			return false;
		v = *q++;
		while (q < pe && v--)
			if (!aml_data(&q, pe))
				return false;
		if (q != pe)
			return false;
		break;
	default:
		return false;
	}
	*p = q;
	return true;
}

static const struct aml_node *aml_find(const struct aml_walk *w, const char *path)
{
	for (unsigned i = 0; i < w->n; i++)
		if (!strcmp(w->nodes[i].path, path))
			return &w->nodes[i];
	return NULL;
}

static bool aml_add(struct aml_walk *w, const char *path, char kind, const uint8_t *data,
		    size_t len, const uint8_t *at)
{
	const struct aml_node *old = aml_find(w, path);

	if (old && !(old->kind == 'S' && kind == 'S'))
		return aml_fail(w, "a name declared twice", at);
	if (w->n == sizeof(w->nodes) / sizeof(w->nodes[0]))
		return aml_fail(w, "too many names for the walker", at);
	w->nodes[w->n] = (struct aml_node){ .kind = kind, .data = data, .len = len };
	snprintf(w->nodes[w->n].path, sizeof(w->nodes[0].path), "%s", path);
	w->n++;
	return true;
}

/* A TermList of the declarations acpi.c writes: Name, Scope, Device, Method. */
static bool aml_terms(struct aml_walk *w, const uint8_t *p, const uint8_t *end, const char *scope)
{
	while (p < end) {
		const uint8_t *op = p, *pe, *obj;
		char path[48];

		if (p[0] == 0x08) { /* NameOp NameString DataRefObject */
			p++;
			if (!aml_namestring(&p, end, scope, path, sizeof(path)))
				return aml_fail(w, "bad Name() name", op);
			obj = p;
			if (!aml_data(&p, end))
				return aml_fail(w, "bad Name() data", obj);
			if (!aml_add(w, path, 'N', obj, p - obj, op))
				return false;
		} else if (p[0] == 0x10 || p[0] == 0x14 ||
			   (p[0] == 0x5b && p + 1 < end && p[1] == 0x82)) {
			char kind = p[0] == 0x10 ? 'S' : p[0] == 0x14 ? 'M' : 'D';

			p += kind == 'D' ? 2 : 1;
			if (!aml_pkg(&p, end, &pe))
				return aml_fail(w, "bad PkgLength", op);
			if (!aml_namestring(&p, pe, scope, path, sizeof(path)))
				return aml_fail(w, "bad Scope/Device/Method name", op);
			if (kind == 'M' && p >= pe)
				return aml_fail(w, "Method without flags", op);
			if (!aml_add(w, path, kind, p, pe - p, op))
				return false;
			/* A method's body runs later; only scopes and devices declare names now. */
			if (kind != 'M' && !aml_terms(w, p, pe, path))
				return false;
			p = pe;
		} else {
			return aml_fail(w, "an opcode this walker does not know", op);
		}
	}
	return true;
}

/* The whole DSDT body: false with w->error set unless every byte belongs to a declaration. */
static bool aml_walk(struct aml_walk *w, const uint8_t *dsdt)
{
	memset(w, 0, sizeof(*w));
	w->base = dsdt;
	return aml_terms(w, dsdt + 36, dsdt + get32(dsdt + 4), "\\");
}

/* The string a Name() holds, or "". */
static const char *aml_str(const struct aml_walk *w, const char *path)
{
	const struct aml_node *n = aml_find(w, path);

	return n && n->kind == 'N' && n->data[0] == 0x0d ? (const char *)n->data + 1 : "";
}

/* Resource descriptors (6.4) of a Name(_CRS, Buffer): the Extended Interrupt one, if any. */
struct crs {
	bool ok;
	unsigned nirq, nmem, nio, nisairq;
	uint8_t irq_flags;
	uint32_t gsi;
};

static struct crs aml_crs(const struct aml_walk *w, const char *dev)
{
	char path[48];
	const struct aml_node *n;
	const uint8_t *p, *end, *pe;
	struct crs c = { 0 };
	uint64_t size;

	snprintf(path, sizeof(path), "%s._CRS", dev);
	n = aml_find(w, path);
	if (!n || n->kind != 'N' || n->data[0] != 0x11)
		return c;
	p = n->data + 1;
	end = n->data + n->len;
	if (!aml_pkg(&p, end, &pe) || !aml_int(&p, pe, &size))
		return c;
	while (p < pe) {
		size_t len, hdr;
		uint8_t tag;

		if (p[0] & 0x80) { /* large item: tag, 16-bit length */
			if (pe - p < 3)
				return c;
			tag = p[0];
			len = p[1] | (size_t)p[2] << 8;
			hdr = 3;
		} else {
			tag = p[0] >> 3 & 0x0f;
			len = p[0] & 7;
			hdr = 1;
		}
		if ((size_t)(pe - p) < hdr + len)
			return c;
		if (tag == 0x0f) { /* End Tag: the last descriptor */
			c.ok = p + hdr + len == pe && len == 1;
			return c;
		}
		if (tag == 0x89 && len >= 6 && p[4] >= 1) {
			c.nirq++;
			c.irq_flags = p[3];
			c.gsi = get32(p + 5);
		}
		c.nmem += tag == 0x86;
		c.nio += tag == 0x08;
		c.nisairq += tag == 0x04;
		p += hdr + len;
	}
	return c;
}

/* Method(_EVT): one argument, and a body that is exactly Notify(target, value). */
static bool aml_notify_only(const struct aml_walk *w, const char *method, char *target, size_t size,
			    uint64_t *value)
{
	const struct aml_node *m = aml_find(w, method);
	const uint8_t *p, *end;
	char scope[48];

	if (!m || m->kind != 'M' || m->len < 2 || (m->data[0] & 7) != 1)
		return false;
	snprintf(scope, sizeof(scope), "%.*s", (int)(strrchr(method, '.') - method), method);
	p = m->data + 1;
	end = m->data + m->len;
	if (*p++ != 0x86) /* NotifyOp SuperName NotifyValue */
		return false;
	return aml_namestring(&p, end, scope, target, size) && aml_int(&p, end, value) && p == end;
}

/* The DSDT as a guest's interpreter would load it: parsed whole, each device where expected. */
static void check_dsdt(const uint8_t *dsdt, const struct acpi_config *cfg)
{
	static const uint8_t s5_pkg[] = { 0x12, 0x08,	      0x04, 0x0a, ACPI_S5_TYPE,
					  0x0a, ACPI_S5_TYPE, 0x00, 0x00 };
	static struct aml_walk w;
	const struct aml_node *s5;
	char path[48], target[48] = "";
	uint64_t value = 0;
	struct crs c;
	bool parsed = aml_walk(&w, dsdt);

	CHECK(parsed, "the DSDT parses: %s", w.error);
	if (!parsed)
		return;
	s5 = aml_find(&w, "\\_S5_");
	CHECK(s5 && s5->kind == 'N' && s5->len == sizeof(s5_pkg) &&
		      !memcmp(s5->data, s5_pkg, sizeof(s5_pkg)),
	      "\\_S5_ is Package(4){5, 5, 0, 0}");
	CHECK(aml_find(&w, "\\_S5_") && aml_find(&w, "\\_SB_"), "\\_S5_ and \\_SB_ at the root");
	for (unsigned i = 0; i < cfg->nmmio; i++) {
		snprintf(path, sizeof(path), "\\_SB_.VR%02X", i);
		c = aml_crs(&w, path);
		CHECK(!strcmp(aml_str(&w, strcat(path, "._HID")), "LNRO0005"), "%s", path);
		path[strlen(path) - 5] = 0;
		CHECK(c.ok && c.nmem == 1 && c.nirq == 1 && c.gsi == cfg->mmio[i].gsi &&
			      c.irq_flags == 0x03,
		      "%s._CRS: Memory32Fixed, edge/high Interrupt {%u}", path, cfg->mmio[i].gsi);
	}
	c = aml_crs(&w, "\\_SB_.COM1");
	CHECK(!strcmp(aml_str(&w, "\\_SB_.COM1._HID"), "PNP0501") && c.ok && c.nio == 1 &&
		      c.nisairq == 1,
	      "\\_SB_.COM1: PNP0501 with IO and IRQNoFlags");
	CHECK(!!aml_find(&w, "\\_SB_.PEVT") == (cfg->pvpanic_port != 0) &&
		      (!cfg->pvpanic_port || !strcmp(aml_str(&w, "\\_SB_.PEVT._HID"), "QEMU0001")),
	      "\\_SB_.PEVT (QEMU0001) iff pvpanic is configured");
	if (!cfg->power_button) {
		CHECK(!aml_find(&w, "\\_SB_.PWRB") && !aml_find(&w, "\\_SB_.GED0"),
		      "no power button unless configured");
		return;
	}
	CHECK(aml_find(&w, "\\_SB_.PWRB") && aml_find(&w, "\\_SB_.PWRB")->kind == 'D' &&
		      !strcmp(aml_str(&w, "\\_SB_.PWRB._HID"), "PNP0C0C"),
	      "\\_SB_.PWRB is a PNP0C0C power button device");
	CHECK(aml_find(&w, "\\_SB_.GED0") && aml_find(&w, "\\_SB_.GED0")->kind == 'D' &&
		      !strcmp(aml_str(&w, "\\_SB_.GED0._HID"), "ACPI0013"),
	      "\\_SB_.GED0 is an ACPI0013 Generic Event Device");
	c = aml_crs(&w, "\\_SB_.GED0");
	/* Flags: consumer (bit 0), edge (bit 1); active high (bit 2 clear), exclusive (bit 3
	 * clear). */
	CHECK(c.ok && c.nirq == 1 && c.nmem == 0 && c.nio == 0 && c.irq_flags == 0x03 &&
		      c.gsi == cfg->ged_gsi,
	      "GED0._CRS: one edge-triggered, active-high Interrupt {%u} (got %u irqs, flags 0x%x, "
	      "gsi %u)",
	      cfg->ged_gsi, c.nirq, c.irq_flags, c.gsi);
	CHECK(aml_notify_only(&w, "\\_SB_.GED0._EVT", target, sizeof(target), &value) &&
		      !strcmp(target, "\\_SB_.PWRB") && value == 0x80,
	      "GED0._EVT(1 arg) is Notify(\\_SB.PWRB, 0x80) (target '%s', value 0x%llx)", target,
	      (unsigned long long)value);
	for (unsigned i = 0; i < cfg->nmmio; i++)
		CHECK(cfg->mmio[i].gsi != cfg->ged_gsi, "the GED's GSI is not virtio device %u's",
		      i);
}

static void check_fadt(const uint8_t *f, int used, const struct acpi_config *cfg)
{
	const uint8_t *dsdt;

	CHECK(f[8] == 6 && get32(f + 4) == 276, "FADT revision 6, length 276");
	CHECK(get32(f + 112) & (1u << 20), "HW_REDUCED_ACPI");
	CHECK(get32(f + 112) & (1u << 10), "RESET_REG_SUP");
	CHECK(!(f[109] & 2) && (f[109] & 4), "IAPC_BOOT_ARCH: no 8042, no VGA");
	CHECK(f[116] == 1 && f[117] == 8 && get64(f + 120) == 0x602 && f[128] == 0x0f,
	      "RESET_REG: 8-bit I/O at 0x602, value 0x0f");
	CHECK(f[244] == 1 && f[245] == 8 && get64(f + 248) == 0x600, "SLEEP_CONTROL_REG");
	CHECK(f[256] == 1 && f[257] == 8 && get64(f + 260) == 0x601, "SLEEP_STATUS_REG");
	dsdt = table_at(get64(f + 140), used, "DSDT");
	if (dsdt)
		check_dsdt(dsdt, cfg);
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
		check_fadt(fadt, used, cfg);
	if (madt)
		check_madt(madt, cfg->ncpus);
}

/* The walker itself: it must refuse what an interpreter would, or its passes mean nothing. */
static void test_walker(void)
{
	static struct aml_walk w;
	static const uint8_t good[] = { 0x08, '_', 'U', 'I', 'D', 0x0a, 0x07 };
	static const struct {
		const char *what;
		uint8_t aml[16];
		size_t len;
	} bad[] = {
		{ "an unknown opcode", { 0x70, 0x00, 0x60 }, 3 },
		{ "a PkgLength past the end", { 0x10, 0x20, '\\', '_', 'S', 'B', '_' }, 7 },
		{ "a package one byte short", { 0x10, 0x05, '\\', '_', 'S', 'B', '_' }, 7 },
		{ "a bad NameSeg", { 0x08, 'a', 'b', 'c', 'd', 0x00 }, 6 },
		{ "a string without a NUL", { 0x08, '_', 'S', 'T', 'R', 0x0d, 'x' }, 7 },
		{ "a buffer size that disagrees",
		  { 0x08, 'B', 'U', 'F', '_', 0x11, 0x04, 0x0a, 0x05, 0x79, 0x00 },
		  11 },
		{ "a name declared twice",
		  { 0x08, 'A', 'A', 'A', 'A', 0x00, 0x08, 'A', 'A', 'A', 'A', 0x01 },
		  12 },
	};
	uint8_t t[64];

	memset(t, 0, 36);
	memcpy(t + 36, good, sizeof(good));
	put32le(t + 4, 36 + sizeof(good));
	CHECK(aml_walk(&w, t) && aml_find(&w, "\\_UID"), "walker: a good Name() parses: %s",
	      w.error);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		memcpy(t + 36, bad[i].aml, bad[i].len);
		put32le(t + 4, 36 + bad[i].len);
		CHECK(!aml_walk(&w, t), "walker refuses %s", bad[i].what);
	}
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
	cfg.ged_gsi = 4 + ACPI_MAX_MMIO_DEVS; /* above the devices' */
	for (unsigned i = 0; i < cfg.nmmio; i++)
		cfg.mmio[i] = (struct acpi_mmio_dev){ 0xd0000000 + 0x200 * i, 0x200, 4 + i };
	test_tables(&cfg);
}

int main(void)
{
	struct acpi_config one = config(1), four = config(4), no_pvpanic = config(4);
	struct acpi_config no_button = config(2);

	no_pvpanic.pvpanic_port = 0;
	no_button.power_button = false;
	test_tables(&one);
	test_tables(&four);
	test_tables(&no_pvpanic);
	test_tables(&no_button);
	test_walker();
	test_nospace();
	test_invalid();
	test_largest();
	return check_summary();
}
