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

/* The largest host-visible window krun_set_gpu_options2 accepts (1 TiB). */
#define KILN_GPU_SHM_MAX (1ULL << 40)

/*
 * The virglrenderer library the virtio-gpu device loads (a soname or a path;
 * NULL: libvirglrenderer.so.1). Venus needs virglrenderer >= 1.0 (>= 1.2 on
 * NVIDIA) and its virgl_render_server (RENDER_SERVER_EXEC_PATH overrides
 * where virglrenderer looks for it).
 */
int32_t kiln_set_gpu_library(uint32_t ctx_id, const char *path);

/* Add a virtio-rng device (libkrun always has one; kiln adds it on request). */
int32_t kiln_add_rng(uint32_t ctx_id);

/*
 * The virtio-balloon device with free page reporting, on by default as in
 * libkrun: memory the guest frees (in 2 MiB blocks and up, reported a couple
 * of seconds later by its virtio_balloon driver) is given back to the host,
 * so the process's RSS follows what the guest uses. Off: guest RAM once
 * touched stays resident until the VM ends.
 */
int32_t kiln_set_balloon(uint32_t ctx_id, bool enabled);

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

/* Where a context's VM is in its life (kiln_get_vm_state). */
enum kiln_vm_state {
	KILN_VM_CREATED = 0,  /* configured; kiln_run not called yet */
	KILN_VM_STARTING = 1, /* kiln_run is building the VM */
	KILN_VM_RUNNING = 2,  /* the vCPUs run */
	KILN_VM_STOPPING = 3, /* asked to stop (power button or kiln_stop), still running */
	KILN_VM_STOPPED = 4,  /* kiln_run has ended the VM */
};

/*
 * The VM's state (enum kiln_vm_state), or a negative errno. Safe to call from
 * any thread, also while another one is in kiln_run.
 */
int32_t kiln_get_vm_state(uint32_t ctx_id);

/* How kiln_stop stops the VM. */
#define KILN_STOP_ORDERLY 0 /* press the ACPI power button, as krun_get_shutdown_eventfd */
#define KILN_STOP_HARD	  1 /* end the VM at once; kiln_run then returns 0 */

/*
 * Ask the VM to stop, from any thread while kiln_run runs (before it, the VM
 * is told as soon as it starts). An orderly stop is a request the guest may
 * ignore; a hard stop always ends the VM. -ESRCH: the VM has stopped already;
 * -EINVAL: no such context or mode.
 */
int32_t kiln_stop(uint32_t ctx_id, uint32_t how);

#ifdef __cplusplus
}
#endif

#endif
