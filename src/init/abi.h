/*
 * What the guest init and the VMM agree on. The VMM builds the kernel command line and the
 * virtio-fs server with these; the init reads them.
 */
#ifndef KILN_INIT_ABI_H
#define KILN_INIT_ABI_H

/*
 * The workload's exit status, sent by init as ioctl(open("/"), KILN_EXIT_CODE_IOCTL, status):
 * _IO('v', 2), which reaches the virtio-fs server as FUSE_IOCTL on the root with the status in
 * the arg field.
 */
#define KILN_EXIT_CODE_IOCTL 0x7602

/* Where init looks for the workload's configuration (overridden by env KRUN_CONFIG). */
#define KILN_CONFIG_PATH "/.krun_config.json"

/*
 * The VMM's own file for init (its VM_EXEC_NAME): the workload when KRUN_CONFIG names it, and
 * always the NICs ("net"), whatever file holds the workload.
 */
#define KILN_VMM_CONFIG_PATH "/.kiln-exec.json"

/* Stage 1 (module initramfs): present in the initramfs, with /lib/modules/<name>.ko. */
#define KILN_MODULES_ORDER "/modules.order"
/* Stage 1: the virtio-fs tag of the root (env KRUN_ROOT_TAG), read-only with KRUN_ROOT_RO=1. */
#define KILN_ROOT_TAG_DEFAULT "/dev/root"
/* Stage 1 executes this in the new root, with its own argv and environment. */
#define KILN_INIT_PATH "/init.krun"

/* Exit statuses as libkrun's: init could not set up, cannot execute, not found. */
#define KILN_EXIT_SETUP	    125
#define KILN_EXIT_NOEXEC    126
#define KILN_EXIT_NOT_FOUND 127

#endif
