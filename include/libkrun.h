/*
 * Kiln's implementation of the libkrun C API: the same names, signatures,
 * constants and semantics as libkrun's <libkrun.h>, so programs written for
 * libkrun (crun's krun handler, krunvm, krunkit, muvm) run on Kiln unchanged.
 *
 * Model: ctx = krun_create_ctx(); setters; krun_start_enter(ctx), which turns
 * the calling process into the VMM and does not return on success: the
 * process exits with the workload's exit status (125: the guest init could
 * not set up, 126: the command cannot be executed, 127: it was not found).
 * Every call returns zero or a non-negative value on success and a negative
 * errno on failure. Calls that Kiln does not implement yet return -ENOTSUP
 * and change nothing; "Kiln:" notes below say where Kiln differs.
 */
#ifndef _LIBKRUN_H
#define _LIBKRUN_H

#ifdef __cplusplus
extern "C" {
#endif

#include <inttypes.h>
#include <stdbool.h>
#include <stddef.h>
#include <unistd.h>

/* ---- Logging ---- */

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

/* Verbosity 0 (off) .. 5 (trace) of the library's messages (stderr). */
int32_t krun_set_log_level(uint32_t level);
/* Messages go to target_fd (KRUN_LOG_TARGET_DEFAULT: stderr) at the given level. */
int32_t krun_init_log(int target_fd, uint32_t level, uint32_t style, uint32_t options);

/* ---- Contexts ---- */

/* A new configuration context; its id, or a negative errno. */
int32_t krun_create_ctx();
int32_t krun_free_ctx(uint32_t ctx_id);
/* vCPUs and guest RAM in MiB (defaults: 1 vCPU, 512 MiB). */
int32_t krun_set_vm_config(uint32_t ctx_id, uint8_t num_vcpus, uint32_t ram_mib);

/* ---- Root file system and shares ---- */

/* The virtio-fs tag of the root file system. */
#define KRUN_FS_ROOT_TAG "/dev/root"

/*
 * Run the guest on the host directory root_path, shared over virtio-fs with
 * the tag KRUN_FS_ROOT_TAG; the built-in init appears in it as /init.krun.
 */
int32_t krun_set_root(uint32_t ctx_id, const char *root_path);
/* Deprecated in libkrun (use krun_add_disk): a raw image as root / data disk. */
int32_t krun_set_root_disk(uint32_t ctx_id, const char *disk_path);
int32_t krun_set_data_disk(uint32_t ctx_id, const char *disk_path);

#define KRUN_DISK_FORMAT_RAW   0
#define KRUN_DISK_FORMAT_QCOW2 1
#define KRUN_DISK_FORMAT_VMDK  2

/* FLUSH handling: ignored, honoured (same as FULL on Linux), honoured. */
#define KRUN_SYNC_NONE	  0
#define KRUN_SYNC_RELAXED 1
#define KRUN_SYNC_FULL	  2

/*
 * A virtio-blk disk (vda, vdb, ... in the order added). block_id becomes the
 * disk's serial. Kiln: raw and qcow2 (never guessed from the contents; backing
 * files, compression and encryption refused by name); vmdk: -ENOTSUP.
 */
int32_t krun_add_disk(uint32_t ctx_id, const char *block_id, const char *disk_path, bool read_only);
int32_t krun_add_disk2(uint32_t ctx_id, const char *block_id, const char *disk_path,
		       uint32_t disk_format, bool read_only);
int32_t krun_add_disk3(uint32_t ctx_id, const char *block_id, const char *disk_path,
		       uint32_t disk_format, bool read_only, bool direct_io, uint32_t sync_mode);

/* No longer supported by libkrun either: -ENOTSUP. */
int32_t krun_set_mapped_volumes(uint32_t ctx_id, const char *const mapped_volumes[]);

/*
 * Share a host directory with the guest over virtio-fs; the guest mounts it
 * with `mount -t virtiofs TAG DIR`. shm_size is the DAX window (Kiln: no DAX
 * window yet; the size is accepted and ignored). read_only refuses writes.
 */
int32_t krun_add_virtiofs(uint32_t ctx_id, const char *c_tag, const char *c_path);
int32_t krun_add_virtiofs2(uint32_t ctx_id, const char *c_tag, const char *c_path,
			   uint64_t shm_size);
int32_t krun_add_virtiofs3(uint32_t ctx_id, const char *c_tag, const char *c_path,
			   uint64_t shm_size, bool read_only);

/* ---- Network ---- */

/* Send "VFKT" after connecting (gvproxy in vfkit mode). */
#define NET_FLAG_VFKIT (1 << 0)
/* The guest init configures the interface by DHCP. */
#define NET_FLAG_DHCP_CLIENT (1 << 1)

#define KRUN_TSI_HIJACK_INET (1 << 0)
#define KRUN_TSI_HIJACK_UNIX (1 << 1)

/* virtio-net feature bits (uapi/linux/virtio_net.h). */
#define NET_FEATURE_CSUM       1 << 0
#define NET_FEATURE_GUEST_CSUM 1 << 1
#define NET_FEATURE_GUEST_TSO4 1 << 7
#define NET_FEATURE_GUEST_TSO6 1 << 8
#define NET_FEATURE_GUEST_UFO  1 << 10
#define NET_FEATURE_HOST_TSO4  1 << 11
#define NET_FEATURE_HOST_TSO6  1 << 12
#define NET_FEATURE_HOST_UFO   1 << 14

#define COMPAT_NET_FEATURES                                                                        \
	NET_FEATURE_CSUM | NET_FEATURE_GUEST_CSUM | NET_FEATURE_GUEST_TSO4 |                       \
		NET_FEATURE_GUEST_UFO | NET_FEATURE_HOST_TSO4 | NET_FEATURE_HOST_UFO

/*
 * virtio-net devices (eth0, eth1, ... in the order added) on a unix stream
 * socket (passt: 4-byte length-prefixed frames), a unix datagram socket
 * (gvproxy) or a tap device. Give c_path or fd (the other NULL / -1); a
 * given fd is the device's from then on. c_mac NULL: a stable default
 * (5a:94:ef:e4:0c:ee plus the NIC's index). features: NET_FEATURE_* the guest
 * may use; Kiln offers of these only what the backend can honour (unix
 * sockets: CSUM, GUEST_CSUM; tap: also the TSO ones). NET_FLAG_DHCP_CLIENT:
 * Kiln's init (krun_set_root) finds the NIC by its MAC and configures it by
 * DHCPv4 before the workload starts (address, route, MTU, resolv.conf).
 */
int32_t krun_add_net_unixstream(uint32_t ctx_id, const char *c_path, int fd, uint8_t *const c_mac,
				uint32_t features, uint32_t flags);
int32_t krun_add_net_unixgram(uint32_t ctx_id, const char *c_path, int fd, uint8_t *const c_mac,
			      uint32_t features, uint32_t flags);
int32_t krun_add_net_tap(uint32_t ctx_id, char *c_tap_name, uint8_t *const c_mac, uint32_t features,
			 uint32_t flags);
/* Deprecated forms of the above. */
int32_t krun_set_passt_fd(uint32_t ctx_id, int fd);
int32_t krun_set_gvproxy_path(uint32_t ctx_id, char *c_path);
int32_t krun_set_net_mac(uint32_t ctx_id, uint8_t *const c_mac);
/* TSI port map, "host_port:guest_port" (Kiln has no TSI: -ENOTSUP). */
int32_t krun_set_port_map(uint32_t ctx_id, const char *const port_map[]);

/* ---- GPU ---- */

/* virglrenderer's flags. */
#define VIRGLRENDERER_USE_EGL		 1 << 0
#define VIRGLRENDERER_THREAD_SYNC	 1 << 1
#define VIRGLRENDERER_USE_GLX		 1 << 2
#define VIRGLRENDERER_USE_SURFACELESS	 1 << 3
#define VIRGLRENDERER_USE_GLES		 1 << 4
#define VIRGLRENDERER_USE_EXTERNAL_BLOB	 1 << 5
#define VIRGLRENDERER_VENUS		 1 << 6
#define VIRGLRENDERER_NO_VIRGL		 1 << 7
#define VIRGLRENDERER_USE_ASYNC_FENCE_CB 1 << 8
#define VIRGLRENDERER_RENDER_SERVER	 1 << 9
#define VIRGLRENDERER_DRM		 1 << 10

/*
 * A virtio-gpu device with Venus; shm_size is the host-visible window (krun_set_gpu_options:
 * 8 GiB). Kiln: virgl_flags must include VIRGLRENDERER_VENUS (virgl/OpenGL: -ENOTSUP);
 * VIRGLRENDERER_DRM also offers DRM native contexts; the other flags are accepted and
 * the device picks its own (render server, async fences).
 */
int32_t krun_set_gpu_options(uint32_t ctx_id, uint32_t virgl_flags);
int32_t krun_set_gpu_options2(uint32_t ctx_id, uint32_t virgl_flags, uint64_t shm_size);

#define KRUN_MAX_DISPLAYS 16

/* Displays and input devices. Kiln: not implemented (-ENOTSUP). */
int32_t krun_add_display(uint32_t ctx_id, uint32_t width, uint32_t height);
int32_t krun_display_set_edid(uint32_t ctx_id, uint32_t display_id, const uint8_t *edid_blob,
			      size_t blob_size);
int32_t krun_display_set_dpi(uint32_t ctx_id, uint32_t display_id, uint32_t dpi);
int32_t krun_display_set_physical_size(uint32_t ctx_id, uint32_t display_id, uint16_t width_mm,
				       uint16_t height_mm);
int32_t krun_display_set_refresh_rate(uint32_t ctx_id, uint32_t display_id, uint32_t refresh_rate);
int32_t krun_set_display_backend(uint32_t ctx_id, const void *display_backend, size_t backend_size);
int krun_add_input_device(uint32_t ctx_id, const void *config_backend, size_t config_backend_size,
			  const void *events_backend, size_t events_backend_size);
int krun_add_input_device_fd(uint32_t ctx_id, int input_fd);

/* ---- vhost-user devices (Kiln: not implemented, -ENOTSUP) ---- */

#define KRUN_VIRTIO_DEVICE_CONSOLE 3
#define KRUN_VIRTIO_DEVICE_RNG	   4
#define KRUN_VIRTIO_DEVICE_GPU	   16
#define KRUN_VIRTIO_DEVICE_RTC	   17
#define KRUN_VIRTIO_DEVICE_INPUT   18
#define KRUN_VIRTIO_DEVICE_VSOCK   19
#define KRUN_VIRTIO_DEVICE_SND	   25
#define KRUN_VIRTIO_DEVICE_CAN	   36

#define KRUN_VHOST_USER_CONSOLE_NUM_QUEUES  4
#define KRUN_VHOST_USER_CONSOLE_QUEUE_SIZES ((uint16_t[]){ 128, 128, 64, 64 })
#define KRUN_VHOST_USER_RNG_NUM_QUEUES	    1
#define KRUN_VHOST_USER_RNG_QUEUE_SIZES	    ((uint16_t[]){ 256 })
#define KRUN_VHOST_USER_RTC_NUM_QUEUES	    2
#define KRUN_VHOST_USER_RTC_QUEUE_SIZES	    ((uint16_t[]){ 1024, 1024 })
#define KRUN_VHOST_USER_INPUT_NUM_QUEUES    2
#define KRUN_VHOST_USER_INPUT_QUEUE_SIZES   ((uint16_t[]){ 1024, 1024 })
#define KRUN_VHOST_USER_SND_NUM_QUEUES	    4
#define KRUN_VHOST_USER_SND_QUEUE_SIZES	    ((uint16_t[]){ 64, 64, 64, 64 })
#define KRUN_VHOST_USER_VSOCK_NUM_QUEUES    3
#define KRUN_VHOST_USER_VSOCK_QUEUE_SIZES   ((uint16_t[]){ 128, 128, 128 })
#define KRUN_VHOST_USER_CAN_NUM_QUEUES	    3
#define KRUN_VHOST_USER_CAN_QUEUE_SIZES	    ((uint16_t[]){ 64, 64, 64 })
#define KRUN_VHOST_USER_GPU_NUM_QUEUES	    2
#define KRUN_VHOST_USER_GPU_QUEUE_SIZES	    ((uint16_t[]){ 1024, 1024 })

int32_t krun_add_vhost_user_device(uint32_t ctx_id, uint32_t device_type, const char *socket_path,
				   const char *name, uint16_t num_queues,
				   const uint16_t *queue_sizes);

/* ---- The workload ---- */

/* Limits set in the guest before the command starts: "RESOURCE=CUR:MAX" (RESOURCE numeric). */
int32_t krun_set_rlimits(uint32_t ctx_id, const char *const rlimits[]);
/* SMBIOS OEM strings (NULL-terminated). Kiln: no SMBIOS tables yet (-ENOTSUP). */
int32_t krun_set_smbios_oem_strings(uint32_t ctx_id, const char *const oem_strings[]);
/* The command's working directory, inside the guest's root. */
int32_t krun_set_workdir(uint32_t ctx_id, const char *workdir_path);
/*
 * The command the guest init runs (exec_path inside the guest's root, found
 * through PATH when it has no '/'), its arguments (NULL-terminated, without
 * argv[0]) and environment (NULL-terminated "NAME=VALUE"; NULL: a copy of
 * this process's environment when the VM starts).
 */
int32_t krun_set_exec(uint32_t ctx_id, const char *exec_path, const char *const argv[],
		      const char *const envp[]);
/* Firmware to boot (Kiln: no firmware boot yet, -ENOTSUP). */
int32_t krun_set_firmware(uint32_t ctx_id, const char *firmware_path);

/* Kernel formats. RAW accepts what the host architecture boots directly:
 * on x86_64 a bzImage or an ELF vmlinux, told apart by their headers. */
#define KRUN_KERNEL_FORMAT_RAW	      0
#define KRUN_KERNEL_FORMAT_ELF	      1
#define KRUN_KERNEL_FORMAT_PE_GZ      2
#define KRUN_KERNEL_FORMAT_IMAGE_BZ2  3
#define KRUN_KERNEL_FORMAT_IMAGE_GZ   4
#define KRUN_KERNEL_FORMAT_IMAGE_ZSTD 5

/*
 * The guest kernel, initramfs (may be NULL) and command line (NULL: Kiln's
 * default). Without this call Kiln boots its default kernel, found next to
 * the library (see README).
 */
int32_t krun_set_kernel(uint32_t ctx_id, const char *kernel_path, uint32_t kernel_format,
			const char *initramfs, const char *cmdline);
/* The command's environment, as in krun_set_exec. */
int32_t krun_set_env(uint32_t ctx_id, const char *const envp[]);
/* Confidential computing only (-ENOTSUP). */
int32_t krun_set_tee_config_file(uint32_t ctx_id, const char *filepath);

/* ---- vsock (guest CID 3, host CID 2; streams only, no TSI) ---- */

/*
 * Map a guest vsock port to a host unix socket. krun_add_vsock_port and
 * listen = false: the guest connects to CID 2 port `port`, and each such
 * stream is connected to the unix socket at c_filepath, where a host program
 * listens. listen = true: Kiln listens at c_filepath (replacing a stale
 * socket file, removed at exit) and each client that connects gets a stream
 * to the guest's port `port`, where a guest program listens. Either adds the
 * vsock device. -EEXIST: that port is mapped that way already.
 */
int32_t krun_add_vsock_port(uint32_t ctx_id, uint32_t port, const char *c_filepath);
int32_t krun_add_vsock_port2(uint32_t ctx_id, uint32_t port, const char *c_filepath, bool listen);
/* A vsock device; tsi_features must be 0 (Kiln has no TSI: -ENOTSUP). */
int32_t krun_add_vsock(uint32_t ctx_id, uint32_t tsi_features);

/*
 * An eventfd; writing to it asks the guest to shut down in order. Call it
 * before krun_start_enter.
 */
int32_t krun_get_shutdown_eventfd(uint32_t ctx_id);

/* The implicit console writes to this file (created or truncated) and reads nothing. */
int32_t krun_set_console_output(uint32_t ctx_id, const char *c_filepath);

/* Switch to this uid/gid just before the VM starts. */
int32_t krun_setuid(uint32_t ctx_id, uid_t uid);
int32_t krun_setgid(uint32_t ctx_id, gid_t gid);

/* Offer the host's virtualisation extensions to the guest. */
int32_t krun_set_nested_virt(uint32_t ctx_id, bool enabled);
/* 1: this host can offer nested virtualisation, 0: it cannot, <0: error. */
int32_t krun_check_nested_virt(void);

/* krun_has_feature(): does this build have the feature? */
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
#define KRUN_FEATURE_INIT_BLOB		 11
/* 1 if present, 0 if not, -EINVAL for an unknown feature. */
int32_t krun_has_feature(uint64_t feature);

/* The largest vCPU count this host's hypervisor allows. */
int32_t krun_get_max_vcpus(void);

/* Split irqchip (Kiln uses the in-kernel irqchip; enable: -ENOTSUP). */
int32_t krun_split_irqchip(uint32_t ctx_id, bool enable);

/* ---- Implicit devices, the built-in init and overlay files ---- */

/* No implicit console: only consoles added explicitly. */
int32_t krun_disable_implicit_console(uint32_t ctx_id);
/* Do not put /init.krun into the root share (call before krun_set_root). */
int32_t krun_disable_implicit_init(uint32_t ctx_id);
/* The built-in init binary (static data, valid for the life of the process). */
int32_t krun_get_default_init(const uint8_t **data_out, size_t *len_out);
/*
 * A file that exists only in the share fs_tag, backed by data (not copied:
 * keep it valid while the VM runs). Kiln: files at the top of the share
 * only ("name", not "dir/name": -ENOTSUP); one_shot is honoured.
 */
int32_t krun_fs_add_overlay_file(uint32_t ctx_id, const char *fs_tag, const char *path,
				 const uint8_t *data, size_t data_len, uint32_t mode,
				 bool one_shot);
/* A virtual directory in a share (Kiln: -ENOTSUP). */
int32_t krun_fs_add_overlay_dir(uint32_t ctx_id, const char *fs_tag, const char *path,
				uint32_t mode);
/* No implicit vsock device (Kiln creates none; accepted). */
int32_t krun_disable_implicit_vsock(uint32_t ctx_id);
/* The console= value on the kernel command line. */
int32_t krun_set_kernel_console(uint32_t ctx_id, const char *console_id);

/*
 * A virtio-console. A tty gets one console port (hvc0); each of input,
 * output, error that is not a tty gets its own port named krun-stdin,
 * krun-stdout, krun-stderr, which the built-in init wires to the command.
 */
int32_t krun_add_virtio_console_default(uint32_t ctx_id, int input_fd, int output_fd, int err_fd);
/* A legacy 8250 serial port (ttyS0) on these fds. */
int32_t krun_add_serial_console_default(uint32_t ctx_id, int input_fd, int output_fd);
/* Multiport consoles with explicit ports (Kiln: -ENOTSUP). */
int32_t krun_add_virtio_console_multiport(uint32_t ctx_id);
int32_t krun_add_console_port_tty(uint32_t ctx_id, uint32_t console_id, const char *name,
				  int tty_fd);
int32_t krun_add_console_port_inout(uint32_t ctx_id, uint32_t console_id, const char *name,
				    int input_fd, int output_fd);

/* Root on a block device, mounted by the built-in init (Kiln: -ENOTSUP). */
int32_t krun_set_root_disk_remount(uint32_t ctx_id, const char *device, const char *fstype,
				   const char *options);

/*
 * Start the VM and become its VMM. Returns only on a configuration error
 * (negative errno); otherwise the process exits with the workload's status.
 */
int32_t krun_start_enter(uint32_t ctx_id);

#ifdef __cplusplus
}
#endif

#endif /* _LIBKRUN_H */
