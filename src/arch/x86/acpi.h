/*
 * ACPI tables for a firmware-less x86 guest (HW-reduced ACPI 6): RSDP, XSDT,
 * FADT, MADT and a DSDT describing the virtio-mmio devices, \_S5, COM1,
 * pvpanic, and a power button behind a Generic Event Device.
 */
#ifndef KILN_ARCH_X86_ACPI_H
#define KILN_ARCH_X86_ACPI_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Sleep-control register layout (ACPI 6, 4.8.3.7). */
#define ACPI_SLP_EN	   (1u << 5)
#define ACPI_SLP_TYP_SHIFT 2
#define ACPI_S5_TYPE	   5

/* Notify() value for a button device: pressed (ACPI 6, 5.6.6). */
#define ACPI_NOTIFY_BUTTON 0x80

#define ACPI_MAX_MMIO_DEVS 32

struct acpi_mmio_dev {
	uint64_t base;
	uint32_t size;
	uint32_t gsi; /* edge-triggered, active high */
};

struct acpi_config {
	unsigned ncpus;		 /* 1..255 */
	uint16_t sleep_ctl_port; /* FADT SLEEP_CONTROL_REG */
	uint16_t sleep_sts_port; /* FADT SLEEP_STATUS_REG */
	uint16_t reset_port;	 /* FADT RESET_REG */
	uint8_t reset_value;
	uint16_t pvpanic_port; /* 0 = no pvpanic device */
	uint16_t serial_port;  /* 0 = no COM1 device; else its base, 8 ports */
	uint8_t serial_irq;    /* ISA IRQ of that port, 0..15 */
	/*
	 * A power button (PNP0C0C, \_SB.PWRB) and a Generic Event Device (ACPI0013) whose
	 * edge-triggered, active-high interrupt ged_gsi means "the button was pressed".
	 */
	bool power_button;
	uint32_t ged_gsi;
	unsigned nmmio; /* virtio-mmio devices, as LNRO0005 */
	struct acpi_mmio_dev mmio[ACPI_MAX_MMIO_DEVS];
};

/*
 * Write all tables into buf, which the guest sees at guest-physical gpa; the
 * RSDP comes first. Returns the bytes used, -ENOSPC if size is too small, or
 * -EINVAL for a bad config.
 */
int acpi_build(void *buf, uint64_t gpa, size_t size, const struct acpi_config *cfg);

#endif
