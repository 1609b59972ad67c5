/*
 * The ways a guest asks to stop: the ACPI sleep-control and reset registers
 * (HW-reduced ACPI), the keyboard controller's reset line (reboot=k), and the
 * pvpanic port (a kernel panic). And the way the host asks the guest to stop:
 * the ACPI power button, signalled through a Generic Event Device interrupt.
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

/* The ports above, and the power button's interrupt (vm->ged_gsi). 0 or a negative errno. */
int power_create(struct vm *vm);

/*
 * Press the power button: the guest's ACPI runs the GED's _EVT, which notifies \_SB.PWRB;
 * Linux's button driver reports KEY_POWER on its "Power Button" input device. 0 or a negative
 * errno.
 */
int power_button_press(struct vm *vm);

#endif
