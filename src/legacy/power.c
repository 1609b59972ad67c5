#include "legacy/power.h"

#include <string.h>

#include "arch/x86/acpi.h"
#include "util/log.h"
#include "vmm/vm.h"

#define I8042_CMD_RESET	     0xfe
#define PVPANIC_PANICKED     1
#define PVPANIC_CRASH_LOADED 2

static uint8_t byte0(const void *data)
{
	return *(const uint8_t *)data;
}

static void sleep_write(void *priv, uint64_t off, const void *data, unsigned len)
{
	struct vm *vm = priv;
	uint8_t v = byte0(data);

	(void)len;
	if (off == 0 && (v & ACPI_SLP_EN) && ((v >> ACPI_SLP_TYP_SHIFT) & 7) == ACPI_S5_TYPE)
		vm_request_exit(vm, VM_EXIT_POWEROFF);
	else if (off == POWER_RESET_PORT - POWER_SLEEP_CTL_PORT && v == POWER_RESET_VALUE)
		vm_request_exit(vm, VM_EXIT_REBOOT);
}

static void zero_read(void *priv, uint64_t off, void *data, unsigned len)
{
	(void)priv;
	(void)off;
	memset(data, 0, len);
}

static void i8042_write(void *priv, uint64_t off, const void *data, unsigned len)
{
	(void)off;
	(void)len;
	if (byte0(data) == I8042_CMD_RESET)
		vm_request_exit(priv, VM_EXIT_REBOOT);
}

static void pvpanic_read(void *priv, uint64_t off, void *data, unsigned len)
{
	(void)priv;
	(void)off;
	memset(data, 0, len);
	*(uint8_t *)data = PVPANIC_PANICKED | PVPANIC_CRASH_LOADED;
}

static void pvpanic_write(void *priv, uint64_t off, const void *data, unsigned len)
{
	(void)off;
	(void)len;
	if (byte0(data) & PVPANIC_PANICKED)
		vm_request_exit(priv, VM_EXIT_PANIC);
}

static const struct bus_ops sleep_ops = { .read = zero_read, .write = sleep_write };
static const struct bus_ops i8042_ops = { .read = zero_read, .write = i8042_write };
static const struct bus_ops pvpanic_ops = { .read = pvpanic_read, .write = pvpanic_write };

int power_create(struct vm *vm)
{
	int ret;

	ret = bus_add(&vm->pio, POWER_SLEEP_CTL_PORT, 3, &sleep_ops, vm);
	if (!ret)
		ret = bus_add(&vm->pio, POWER_I8042_PORT, 1, &i8042_ops, vm);
	if (!ret)
		ret = bus_add(&vm->pio, POWER_PVPANIC_PORT, 1, &pvpanic_ops, vm);
	if (!ret)
		ret = vm_alloc_irq(vm, &vm->ged_gsi);
	return ret;
}

/* The GED's interrupt is edge-triggered: one rising edge is one press. */
int power_button_press(struct vm *vm)
{
	int ret = hv_irq_line(&vm->hv, vm->ged_gsi, 1);

	if (!ret)
		ret = hv_irq_line(&vm->hv, vm->ged_gsi, 0);
	return ret;
}
