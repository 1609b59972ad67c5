/*
 * The ways a guest asks to stop: the ACPI sleep-control and reset registers
 * (HW-reduced ACPI), the keyboard controller's reset line (reboot=k), and the
 * pvpanic port (a kernel panic).
 */
#ifndef KILN_LEGACY_POWER_H
#define KILN_LEGACY_POWER_H

struct vm;

#define POWER_SLEEP_CTL_PORT 0x600
#define POWER_SLEEP_STS_PORT 0x601
#define POWER_RESET_PORT     0x602
#define POWER_RESET_VALUE    0x0f
#define POWER_PVPANIC_PORT   0x505
#define POWER_I8042_PORT     0x64

int power_create(struct vm *vm);

#endif
