/*
 * The power button, as the guest init watches it: Linux's ACPI button driver reports a press of
 * the VMM's power button as KEY_POWER on an input device ("Power Button"), which evdev exposes
 * as /dev/input/eventN.
 */
#ifndef KILN_INIT_INPUT_H
#define KILN_INIT_INPUT_H

#include <linux/input.h>
#include <stdbool.h>
#include <stddef.h>
#include <string.h>

#define INPUT_DIR	 "/dev/input"
#define INPUT_MAX_FDS	 8
#define INPUT_STOP_GRACE 10 /* seconds between SIGTERM and SIGKILL */

/*
 * Whether len bytes of events, as read() returns them from an event device, hold a press of
 * KEY_POWER (a key-down; not its release or autorepeat). A partial event at the end is ignored.
 */
static inline bool input_power_pressed(const void *buf, size_t len)
{
	for (size_t off = 0; len - off >= sizeof(struct input_event);
	     off += sizeof(struct input_event)) {
		struct input_event ev;

		memcpy(&ev, (const char *)buf + off, sizeof(ev));
		if (ev.type == EV_KEY && ev.code == KEY_POWER && ev.value == 1)
			return true;
	}
	return false;
}

/*
 * Open, non-blocking and close-on-exec, up to max event devices named event* in dir that can
 * report KEY_POWER (or whose capabilities cannot be asked: the host tests use FIFOs). Returns how
 * many; a missing dir is none.
 */
size_t input_open_power_keys(const char *dir, int *fds, size_t max);

#endif
