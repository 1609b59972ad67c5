/* What a VM is made of: filled in by the API layer, consumed by vm_run(). */
#ifndef KILN_VMM_CONFIG_H
#define KILN_VMM_CONFIG_H

#include <stdbool.h>
#include <stdint.h>

#include <kiln.h>

#define VM_MAX_DISKS	16
#define VM_MAX_FS	8
#define VM_MAX_OVERLAYS 8
#define VM_MAX_VSOCK	32
#define VM_MAX_NETS	8

/* The virtio-fs tag of the root share and the init file the library puts into it. */
#define VM_ROOT_TAG  "/dev/root"
#define VM_INIT_NAME "init.krun"
#define VM_EXEC_NAME ".kiln-exec.json"

struct vm_disk {
	char *id;
	char *path;
	bool qcow2; /* else raw: the format is the caller's word, never probed */
	bool read_only;
};

/* A host directory shared over virtio-fs. */
struct vm_fs {
	char *tag;
	char *path;
	bool read_only;
};

/* A guest vsock port mapped to a host unix socket (see struct vsock_rule). */
struct vm_vsock_port {
	uint32_t port;
	char *path;
	bool host_listens;
};

/* A virtio-net device and its backend (krun_add_net_*). */
enum vm_net_backend {
	VM_NET_UNIXSTREAM, /* passt, socket_vmnet: frames with a 4-byte length prefix */
	VM_NET_UNIXGRAM,   /* gvproxy, vmnet-helper: one frame per datagram */
	VM_NET_TAP,	   /* a tap device, with the virtio-net header */
};

struct vm_net {
	enum vm_net_backend backend;
	char *path; /* socket path or tap name (NULL: fd) */
	int fd;	    /* a connected socket (-1: path) */
	uint8_t mac[6];
	uint32_t features; /* NET_FEATURE_* asked for; the device offers what it can honour */
	uint32_t flags;	   /* NET_FLAG_* */
};

/* A file that exists only in a share's top directory, served from memory. */
struct vm_overlay {
	char *tag;
	char *name;
	const uint8_t *data;
	size_t len;
	uint32_t mode;
	bool one_shot;
};

struct vm_config {
	unsigned ncpus;
	uint64_t mem_mib;
	char *kernel;
	char *initrd;
	char *cmdline; /* NULL: the default command line */
	struct vm_disk disks[VM_MAX_DISKS];
	unsigned ndisks;
	bool rng;
	bool balloon; /* virtio-balloon with free page reporting */
	bool console; /* virtio-console on console_in/console_out */
	int console_in, console_out;
	int serial_out; /* 8250 output, -1 to discard */
	/* Extra console ports for the workload's stdio (-1: none): krun-stdin/out/err. */
	int port_in, port_out, port_err;
	struct vm_fs fs[VM_MAX_FS];
	unsigned nfs;
	struct vm_overlay overlays[VM_MAX_OVERLAYS];
	unsigned noverlays;
	bool vsock; /* a virtio-vsock device (also without ports) */
	struct vm_vsock_port vsock_ports[VM_MAX_VSOCK];
	unsigned nvsock_ports;
	struct vm_net nets[VM_MAX_NETS];
	unsigned nnets;
	bool gpu;	   /* virtio-gpu with Venus */
	char *gpu_virgl;   /* virglrenderer library (NULL: the default soname) */
	uint64_t gpu_shm;  /* host-visible window in bytes (0: the default) */
	bool gpu_drm;	   /* also DRM native contexts */
	int64_t setuid, setgid; /* switched to once devices are open (-1: stay) */
	bool nested;		/* offer SVM/VMX to the guest */
	int shutdown_efd;	/* readable: press the power button (-1: none) */
	/*
	 * SIGINT/SIGTERM: false, the VM stops at once; true, the first presses the power button and
	 * a second stops the VM at once, with 128 + that signal as the workload's status.
	 */
	bool signal_shutdown;
	int hard_stop_efd; /* readable: stop the VM at once (-1: none) */
	/* Where the VM keeps its enum kiln_vm_state (atomic; NULL: nowhere). */
	int *vm_state;
	/* Set by the VM: the workload's exit status as the guest init reported it (-1: none). */
	int *workload_status;
};

#define VM_DEFAULT_CMDLINE KILN_DEFAULT_CMDLINE

/* Exit status of a kiln process for a guest that ended each way. */
#define VM_STATUS_OK	0
#define VM_STATUS_ERROR 1
#define VM_STATUS_PANIC 2

/* Build, boot and run the VM until it ends; returns a process exit status. */
int vm_run(const struct vm_config *cfg);

#endif
