/*
 * Kiln's implementation of the libkrun C API: the same names, signatures and
 * semantics as libkrun's <libkrun.h>, so programs written for libkrun
 * (crun's krun handler, krunvm, krunkit) run on Kiln unchanged.
 *
 * Model: ctx = krun_create_ctx(); setters; krun_start_enter(ctx), which turns
 * the calling process into the VMM and does not return on success: the
 * process exits with the guest's status. Every call returns zero or a
 * non-negative value on success and a negative errno on failure.
 */
#ifndef _LIBKRUN_H
#define _LIBKRUN_H

#ifdef __cplusplus
extern "C" {
#endif

#include <inttypes.h>
#include <stdbool.h>
#include <stddef.h>

#define KRUN_LOG_TARGET_DEFAULT -1

#define KRUN_LOG_LEVEL_OFF   0
#define KRUN_LOG_LEVEL_ERROR 1
#define KRUN_LOG_LEVEL_WARN  2
#define KRUN_LOG_LEVEL_INFO  3
#define KRUN_LOG_LEVEL_DEBUG 4
#define KRUN_LOG_LEVEL_TRACE 5

#define KRUN_LOG_STYLE_AUTO   0
#define KRUN_LOG_STYLE_ALWAYS 1
#define KRUN_LOG_STYLE_NEVER  2

#define KRUN_LOG_OPTION_NO_ENV 1

int32_t krun_set_log_level(uint32_t level);
int32_t krun_init_log(int target_fd, uint32_t level, uint32_t style, uint32_t options);

int32_t krun_create_ctx(void);
int32_t krun_free_ctx(uint32_t ctx_id);
int32_t krun_set_vm_config(uint32_t ctx_id, uint8_t num_vcpus, uint32_t ram_mib);
/* The largest vCPU count this host's hypervisor allows. */
int32_t krun_get_max_vcpus(void);

/* Kernel formats. RAW accepts what the host architecture boots directly:
 * on x86_64 a bzImage or an ELF vmlinux, told apart by their headers. */
#define KRUN_KERNEL_FORMAT_RAW	      0
#define KRUN_KERNEL_FORMAT_ELF	      1
#define KRUN_KERNEL_FORMAT_PE_GZ      2
#define KRUN_KERNEL_FORMAT_IMAGE_BZ2  3
#define KRUN_KERNEL_FORMAT_IMAGE_GZ   4
#define KRUN_KERNEL_FORMAT_IMAGE_ZSTD 5

int32_t krun_set_kernel(uint32_t ctx_id, const char *kernel_path, uint32_t kernel_format,
			const char *initramfs, const char *cmdline);

#define KRUN_DISK_FORMAT_RAW   0
#define KRUN_DISK_FORMAT_QCOW2 1
#define KRUN_DISK_FORMAT_VMDK  2

#define KRUN_SYNC_NONE	  0
#define KRUN_SYNC_RELAXED 1
#define KRUN_SYNC_FULL	  2

int32_t krun_add_disk(uint32_t ctx_id, const char *block_id, const char *disk_path, bool read_only);
int32_t krun_add_disk2(uint32_t ctx_id, const char *block_id, const char *disk_path,
		       uint32_t disk_format, bool read_only);
int32_t krun_add_disk3(uint32_t ctx_id, const char *block_id, const char *disk_path,
		       uint32_t disk_format, bool read_only, bool direct_io, uint32_t sync_mode);

/* Console: by default the guest's hvc0 is on the process's stdin/stdout. */
int32_t krun_disable_implicit_console(uint32_t ctx_id);
int32_t krun_add_virtio_console_default(uint32_t ctx_id, int input_fd, int output_fd, int err_fd);
/* Send the guest console to a file instead (created or truncated). */
int32_t krun_set_console_output(uint32_t ctx_id, const char *c_filepath);

/* Has the host what a feature needs? KRUN_FEATURE_* below. */
#define KRUN_FEATURE_NET		 0
#define KRUN_FEATURE_BLK		 1
#define KRUN_FEATURE_GPU		 2
#define KRUN_FEATURE_SND		 3
#define KRUN_FEATURE_INPUT		 4
#define KRUN_FEATURE_EFI		 5
#define KRUN_FEATURE_TEE		 6
#define KRUN_FEATURE_AMD_SEV		 7
#define KRUN_FEATURE_INTEL_TDX		 8
#define KRUN_FEATURE_AWS_NITRO		 9
#define KRUN_FEATURE_VIRGL_RESOURCE_MAP2 10
int32_t krun_has_feature(uint64_t feature);

int32_t krun_start_enter(uint32_t ctx_id);

#ifdef __cplusplus
}
#endif

#endif /* _LIBKRUN_H */
