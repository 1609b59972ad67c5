/*
 * The vtest wire protocol, server side: decoding and checking requests.
 * Pure: no I/O, no allocation, no global state (fuzzed by
 * tests/fuzz/fuzz_vtest.c).
 *
 * A request is a header of two 32-bit words, {length, command}, followed by
 * the payload. The length counts payload words, except for CREATE_RENDERER,
 * whose length counts bytes. Words are in host byte order: client and server
 * share the host. vtest_payload_bytes() turns a header into the number of
 * payload bytes to read, refusing unknown commands and impossible lengths
 * before anything is read or allocated; vtest_parse() then checks every
 * field, offset and count of the payload, so that the server acts only on
 * requests whose every part lies inside the payload.
 *
 * Only what Mesa's Venus driver (VN_DEBUG=vtest) sends is accepted: protocol
 * version 3, blob resources, sync objects and SUBMIT_CMD2. The virgl (GL)
 * commands and the DRM native-context commands of version 4 are refused.
 */
#ifndef KILN_GPU_VTEST_PROTO_H
#define KILN_GPU_VTEST_PROTO_H

#include <stddef.h>
#include <stdint.h>

#define VTEST_HDR_WORDS	       2
#define VTEST_PROTOCOL_VERSION 3 /* the highest version this server speaks */

enum vtest_cmd {
	VTEST_CMD_RESOURCE_UNREF = 3,
	VTEST_CMD_RESOURCE_BUSY_WAIT = 7,
	VTEST_CMD_CREATE_RENDERER = 8,
	VTEST_CMD_PING_PROTOCOL_VERSION = 10,
	VTEST_CMD_PROTOCOL_VERSION = 11,
	VTEST_CMD_GET_PARAM = 15,
	VTEST_CMD_GET_CAPSET = 16,
	VTEST_CMD_CONTEXT_INIT = 17,
	VTEST_CMD_RESOURCE_CREATE_BLOB = 18,
	VTEST_CMD_SYNC_CREATE = 19,
	VTEST_CMD_SYNC_UNREF = 20,
	VTEST_CMD_SYNC_READ = 21,
	VTEST_CMD_SYNC_WRITE = 22,
	VTEST_CMD_SYNC_WAIT = 23,
	VTEST_CMD_SUBMIT_CMD2 = 24,
};

#define VTEST_PARAM_MAX_TIMELINE_COUNT 1
#define VTEST_MAX_TIMELINES	       64 /* rings per context, as virglrenderer's vtest */

#define VTEST_CAPSET_VENUS 4

enum vtest_blob_type {
	VTEST_BLOB_GUEST = 1,
	VTEST_BLOB_HOST3D = 2,
	VTEST_BLOB_HOST3D_GUEST = 3,
};

#define VTEST_BLOB_FLAG_MAPPABLE     (1u << 0)
#define VTEST_BLOB_FLAG_SHAREABLE    (1u << 1)
#define VTEST_BLOB_FLAG_CROSS_DEVICE (1u << 2)
#define VTEST_BLOB_FLAGS                                                                           \
	(VTEST_BLOB_FLAG_MAPPABLE | VTEST_BLOB_FLAG_SHAREABLE | VTEST_BLOB_FLAG_CROSS_DEVICE)

#define VTEST_SYNC_WAIT_ANY   (1u << 0)
#define VTEST_SUBMIT_RING_IDX (1u << 0)

/* One SUBMIT_CMD2 batch header on the wire: flags, cmd_offset, cmd_size,
 * sync_offset, sync_count, ring_idx, and two syncobj counts that only
 * protocol version 4 uses (they must be 0). Offsets count words from the
 * start of the payload. */
#define VTEST_BATCH_WORDS 8
/* A sync point on the wire: id, value low word, value high word. */
#define VTEST_SYNC_POINT_WORDS 3

/* Bounds on what one request may ask the server to read or hold. */
#define VTEST_MAX_NAME	  4096u
#define VTEST_MAX_PAYLOAD (64u << 20)

struct vtest_sync_point {
	uint32_t id;
	uint64_t value;
};

struct vtest_batch {
	uint32_t flags;
	uint32_t ring_idx; /* < VTEST_MAX_TIMELINES; 0 unless VTEST_SUBMIT_RING_IDX */
	const uint8_t *cmds;
	uint32_t cmd_words;
	const uint8_t *syncs; /* sync_count points; decode with vtest_sync_point() */
	uint32_t sync_count;
};

struct vtest_req {
	uint32_t cmd;
	union {
		struct {
			const char *name; /* not NUL-terminated */
			uint32_t len;
		} renderer;
		struct {
			uint32_t version;
		} protocol;
		struct {
			uint32_t handle, flags;
		} busy_wait;
		struct {
			uint32_t param;
		} param;
		struct {
			uint32_t id, version;
		} capset;
		struct {
			uint32_t capset_id; /* != 0 */
		} context_init;
		struct {
			uint32_t type; /* enum vtest_blob_type */
			uint32_t flags;
			uint64_t size; /* != 0 */
			uint64_t blob_id;
		} blob;
		struct {
			uint32_t id; /* != 0: resources and syncs are numbered from 1 */
		} obj;		     /* RESOURCE_UNREF, SYNC_UNREF, SYNC_READ */
		struct {
			uint64_t value;
		} sync_create;
		struct vtest_sync_point sync; /* SYNC_WRITE */
		struct {
			uint32_t flags;
			uint32_t timeout_ms; /* above INT32_MAX: forever */
			uint32_t count;
			const uint8_t *points;
		} wait;
		struct {
			uint32_t batch_count;
			const uint8_t *words; /* the payload: batch headers first */
		} submit;
	};
};

/*
 * Payload size in bytes of a request with header {len, cmd}: -EPROTO for a
 * command this server does not serve, -EMSGSIZE for a length the command
 * cannot have or one above VTEST_MAX_PAYLOAD.
 */
int64_t vtest_payload_bytes(uint32_t cmd, uint32_t len);

/*
 * Decode and check the payload (exactly vtest_payload_bytes() bytes, any
 * alignment) of a request. 0, or -EMSGSIZE / -EINVAL with *why saying what
 * is wrong. req points into payload afterwards.
 */
int vtest_parse(uint32_t cmd, const void *payload, size_t size, struct vtest_req *req,
		const char **why);

/* Batch i (< req->submit.batch_count) of a parsed SUBMIT_CMD2. */
void vtest_submit_batch(const struct vtest_req *req, uint32_t i, struct vtest_batch *b);

/* Sync point i of a wait or batch whose checked array starts at points. */
struct vtest_sync_point vtest_sync_point(const uint8_t *points, uint32_t i);

#endif
