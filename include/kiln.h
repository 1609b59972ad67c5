/*
 * Kiln's own additions to the libkrun API (<libkrun.h>), for what libkrun
 * does not express. Same conventions: negative errno on failure.
 */
#ifndef _KILN_H
#define _KILN_H

#include <libkrun.h>

#ifdef __cplusplus
extern "C" {
#endif

/* The kernel command line used when none is configured. */
#define KILN_DEFAULT_CMDLINE "console=hvc0 reboot=k panic=-1"

/* The longest virtio-fs tag (the device's config field). */
#define KILN_FS_TAG_MAX 36

/*
 * A single-port virtio-console (hvc0) on these fds, as vfkit's
 * virtio-serial,stdio: all of the guest's console, no krun-std* ports.
 */
int32_t kiln_add_console(uint32_t ctx_id, int input_fd, int output_fd);

/* Add a virtio-rng device (libkrun always has one; kiln adds it on request). */
int32_t kiln_add_rng(uint32_t ctx_id);

/* Where the 8250 UART (ttyS0) writes; -1 discards. Default: stdout. */
int32_t kiln_set_serial_output(uint32_t ctx_id, int fd);

/*
 * What SIGINT and SIGTERM to the process do while kiln_run runs. Off (the
 * default, as krun_start_enter has it): the VM stops at once. On: the first
 * one asks the guest to shut down in order, as a write to
 * krun_get_shutdown_eventfd's eventfd does (the ACPI power button: Kiln's
 * guest init then stops the workload with SIGTERM, and SIGKILL 10 s later);
 * a second one stops the VM at once, and kiln_run returns 128 + that signal
 * unless the guest init had reported the workload's status already.
 */
int32_t kiln_set_signal_shutdown(uint32_t ctx_id, bool enabled);

/*
 * Run the configured VM and return the exit status instead of exiting
 * (krun_start_enter exits the process): the workload's status when the
 * guest init reported one; else 0: the guest powered off or rebooted,
 * 1: error, 2: the guest kernel panicked. Negative errno: not started.
 */
int32_t kiln_run(uint32_t ctx_id);

#ifdef __cplusplus
}
#endif

#endif
