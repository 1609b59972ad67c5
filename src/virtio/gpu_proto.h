/*
 * virtio-gpu wire format (virtio 1.2, section 5.7): the control-queue
 * commands a Venus guest sends, and their responses. Little-endian on the
 * wire; kiln runs on x86 only, so the structs are read in place after a copy.
 */
#ifndef KILN_VIRTIO_GPU_PROTO_H
#define KILN_VIRTIO_GPU_PROTO_H

#include <stdint.h>

/* Feature bits */
#define VIRTIO_GPU_F_VIRGL	   0
#define VIRTIO_GPU_F_EDID	   1
#define VIRTIO_GPU_F_RESOURCE_UUID 2
#define VIRTIO_GPU_F_RESOURCE_BLOB 3
#define VIRTIO_GPU_F_CONTEXT_INIT  4

/* Shared-memory region ids */
#define VIRTIO_GPU_SHM_ID_HOST_VISIBLE 1

enum virtio_gpu_ctrl_type {
	/* 2D */
	GPU_CMD_GET_DISPLAY_INFO = 0x0100,
	GPU_CMD_RESOURCE_CREATE_2D,
	GPU_CMD_RESOURCE_UNREF,
	GPU_CMD_SET_SCANOUT,
	GPU_CMD_RESOURCE_FLUSH,
	GPU_CMD_TRANSFER_TO_HOST_2D,
	GPU_CMD_RESOURCE_ATTACH_BACKING,
	GPU_CMD_RESOURCE_DETACH_BACKING,
	GPU_CMD_GET_CAPSET_INFO,
	GPU_CMD_GET_CAPSET,
	GPU_CMD_GET_EDID,
	GPU_CMD_RESOURCE_ASSIGN_UUID,
	GPU_CMD_RESOURCE_CREATE_BLOB,
	GPU_CMD_SET_SCANOUT_BLOB,
	/* 3D */
	GPU_CMD_CTX_CREATE = 0x0200,
	GPU_CMD_CTX_DESTROY,
	GPU_CMD_CTX_ATTACH_RESOURCE,
	GPU_CMD_CTX_DETACH_RESOURCE,
	GPU_CMD_RESOURCE_CREATE_3D,
	GPU_CMD_TRANSFER_TO_HOST_3D,
	GPU_CMD_TRANSFER_FROM_HOST_3D,
	GPU_CMD_SUBMIT_3D,
	GPU_CMD_RESOURCE_MAP_BLOB,
	GPU_CMD_RESOURCE_UNMAP_BLOB,
	/* cursor queue */
	GPU_CMD_UPDATE_CURSOR = 0x0300,
	GPU_CMD_MOVE_CURSOR,
	/* responses */
	GPU_RESP_OK_NODATA = 0x1100,
	GPU_RESP_OK_DISPLAY_INFO,
	GPU_RESP_OK_CAPSET_INFO,
	GPU_RESP_OK_CAPSET,
	GPU_RESP_OK_EDID,
	GPU_RESP_OK_RESOURCE_UUID,
	GPU_RESP_OK_MAP_INFO,
	GPU_RESP_ERR_UNSPEC = 0x1200,
	GPU_RESP_ERR_OUT_OF_MEMORY,
	GPU_RESP_ERR_INVALID_SCANOUT_ID,
	GPU_RESP_ERR_INVALID_RESOURCE_ID,
	GPU_RESP_ERR_INVALID_CONTEXT_ID,
	GPU_RESP_ERR_INVALID_PARAMETER,
};

#define GPU_FLAG_FENCE	       (1u << 0)
#define GPU_FLAG_INFO_RING_IDX (1u << 1)

#define GPU_MAX_SCANOUTS 16

/* Capsets */
#define GPU_CAPSET_VIRGL  1
#define GPU_CAPSET_VIRGL2 2
#define GPU_CAPSET_VENUS  4
#define GPU_CAPSET_DRM	  6

/* Blob memory kinds and flags */
#define GPU_BLOB_MEM_GUEST	   1
#define GPU_BLOB_MEM_HOST3D	   2
#define GPU_BLOB_MEM_HOST3D_GUEST  3
#define GPU_BLOB_FLAG_MAPPABLE	   (1u << 0)
#define GPU_BLOB_FLAG_SHAREABLE	   (1u << 1)
#define GPU_BLOB_FLAG_CROSS_DEVICE (1u << 2)

/* map_info of OK_MAP_INFO */
#define GPU_MAP_CACHE_MASK     0x0f
#define GPU_MAP_CACHE_NONE     0x00
#define GPU_MAP_CACHE_CACHED   0x01
#define GPU_MAP_CACHE_UNCACHED 0x02
#define GPU_MAP_CACHE_WC       0x03

struct gpu_hdr {
	uint32_t type;
	uint32_t flags;
	uint64_t fence_id;
	uint32_t ctx_id;
	uint8_t ring_idx;
	uint8_t padding[3];
};

struct gpu_rect {
	uint32_t x, y, width, height;
};

struct gpu_config {
	uint32_t events_read;
	uint32_t events_clear;
	uint32_t num_scanouts;
	uint32_t num_capsets;
};

struct gpu_resp_display_info {
	struct gpu_hdr hdr;
	struct {
		struct gpu_rect r;
		uint32_t enabled;
		uint32_t flags;
	} pmodes[GPU_MAX_SCANOUTS];
};

struct gpu_resource_create_2d {
	uint32_t resource_id, format, width, height;
};

struct gpu_resource_id {
	uint32_t resource_id, padding;
};

struct gpu_set_scanout {
	struct gpu_rect r;
	uint32_t scanout_id, resource_id;
};

struct gpu_resource_flush {
	struct gpu_rect r;
	uint32_t resource_id, padding;
};

struct gpu_transfer_to_host_2d {
	struct gpu_rect r;
	uint64_t offset;
	uint32_t resource_id, padding;
};

struct gpu_mem_entry {
	uint64_t addr;
	uint32_t length, padding;
};

struct gpu_attach_backing {
	uint32_t resource_id, nr_entries;
	/* struct gpu_mem_entry[nr_entries] follow */
};

struct gpu_get_capset_info {
	uint32_t capset_index, padding;
};

struct gpu_resp_capset_info {
	struct gpu_hdr hdr;
	uint32_t capset_id, capset_max_version, capset_max_size, padding;
};

struct gpu_get_capset {
	uint32_t capset_id, capset_version;
};

struct gpu_ctx_create {
	uint32_t nlen, context_init;
	char debug_name[64];
};

struct gpu_resource_create_3d {
	uint32_t resource_id, target, format, bind, width, height, depth, array_size, last_level,
		nr_samples, flags, padding;
};

struct gpu_transfer_host_3d {
	uint32_t x, y, z, w, h, d;
	uint64_t offset;
	uint32_t resource_id, level, stride, layer_stride;
};

struct gpu_submit_3d {
	uint32_t size, padding;
	/* size bytes of commands follow */
};

struct gpu_resource_create_blob {
	uint32_t resource_id, blob_mem, blob_flags, nr_entries;
	uint64_t blob_id, size;
	/* struct gpu_mem_entry[nr_entries] follow */
};

struct gpu_map_blob {
	uint32_t resource_id, padding;
	uint64_t offset;
};

struct gpu_resp_map_info {
	struct gpu_hdr hdr;
	uint32_t map_info, padding;
};

struct gpu_cursor_pos {
	uint32_t scanout_id, x, y, padding;
};

struct gpu_update_cursor {
	struct gpu_cursor_pos pos;
	uint32_t resource_id, hot_x, hot_y, padding;
};

_Static_assert(sizeof(struct gpu_hdr) == 24, "virtio_gpu_ctrl_hdr is 24 bytes");
_Static_assert(sizeof(struct gpu_resp_display_info) == 24 + 16 * 24, "display info");
_Static_assert(sizeof(struct gpu_ctx_create) == 72, "ctx_create");
_Static_assert(sizeof(struct gpu_resource_create_3d) == 48, "create_3d");
_Static_assert(sizeof(struct gpu_transfer_host_3d) == 48, "transfer_3d");
_Static_assert(sizeof(struct gpu_resource_create_blob) == 32, "create_blob");
_Static_assert(sizeof(struct gpu_mem_entry) == 16, "mem_entry");

#endif
