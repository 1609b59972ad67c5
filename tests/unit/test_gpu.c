/* virtio-gpu command processing (gpu_cmd.c) against a fake renderer and window. */
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "gpu_fake.h"

#define GUEST_SIZE (1 << 20)
#define WINDOW	   (16ULL << 20)

static struct fake_gpu fake;
static struct gpu_state st;
static struct guest_mem mem;
static uint8_t *guest;
static uint8_t resp[sizeof(struct gpu_hdr) + GPU_MAX_CAPSET_SIZE];
static struct gpu_reply reply;

/* Send a command: header fields, then body bytes; returns the response type. */
static uint32_t send(uint32_t type, uint32_t ctx, uint32_t flags, uint8_t ring, uint64_t fence,
		     const void *body, size_t blen)
{
	uint8_t *req = malloc(sizeof(struct gpu_hdr) + blen);
	struct gpu_hdr h = {
		.type = type, .flags = flags, .fence_id = fence, .ctx_id = ctx, .ring_idx = ring
	};
	uint32_t t;

	memcpy(req, &h, sizeof(h));
	if (blen)
		memcpy(req + sizeof(h), body, blen);
	gpu_cmd_process(&st, req, sizeof(h) + blen, resp, sizeof(resp), &reply);
	free(req);
	memcpy(&t, resp, 4);
	return t;
}

#define SEND(type, ctx, body) send(type, ctx, 0, 0, 0, &(body), sizeof(body))

static uint32_t ctx_create(uint32_t id, uint32_t init, uint32_t nlen)
{
	struct gpu_ctx_create c = { .nlen = nlen, .context_init = init };

	memcpy(c.debug_name, "test", 4);
	return SEND(GPU_CMD_CTX_CREATE, id, c);
}

static uint32_t blob(uint32_t id, uint32_t ctx, uint32_t mem_kind, uint32_t flags, uint64_t size)
{
	struct gpu_resource_create_blob b = {
		.resource_id = id, .blob_mem = mem_kind, .blob_flags = flags, .size = size
	};

	return SEND(GPU_CMD_RESOURCE_CREATE_BLOB, ctx, b);
}

static uint32_t map(uint32_t id, uint64_t off)
{
	struct gpu_map_blob m = { .resource_id = id, .offset = off };

	return SEND(GPU_CMD_RESOURCE_MAP_BLOB, 0, m);
}

static uint32_t res_cmd(uint32_t type, uint32_t ctx, uint32_t id)
{
	struct gpu_resource_id r = { .resource_id = id };

	return SEND(type, ctx, r);
}

static void test_basics(void)
{
	struct gpu_get_capset_info ci = { .capset_index = 0 };
	struct gpu_get_capset gc = { .capset_id = GPU_CAPSET_VENUS };
	struct gpu_resp_capset_info *info = (void *)resp;
	uint8_t tiny[8] = { 0 };

	CHECK(send(GPU_CMD_GET_DISPLAY_INFO, 0, 0, 0, 0, NULL, 0) == GPU_RESP_OK_DISPLAY_INFO &&
		      reply.len == sizeof(struct gpu_resp_display_info),
	      "display info");
	CHECK(SEND(GPU_CMD_GET_CAPSET_INFO, 0, ci) == GPU_RESP_OK_CAPSET_INFO &&
		      info->capset_id == GPU_CAPSET_VENUS && info->capset_max_size == 160,
	      "capset info");
	ci.capset_index = 1;
	CHECK(SEND(GPU_CMD_GET_CAPSET_INFO, 0, ci) == GPU_RESP_ERR_INVALID_PARAMETER,
	      "capset index out of range");
	CHECK(SEND(GPU_CMD_GET_CAPSET, 0, gc) == GPU_RESP_OK_CAPSET &&
		      reply.len == sizeof(struct gpu_hdr) + 160 &&
		      resp[sizeof(struct gpu_hdr)] == 0xcc,
	      "capset");
	gc.capset_version = 1;
	CHECK(SEND(GPU_CMD_GET_CAPSET, 0, gc) == GPU_RESP_ERR_INVALID_PARAMETER, "capset version");
	gc = (struct gpu_get_capset){ .capset_id = GPU_CAPSET_VIRGL };
	CHECK(SEND(GPU_CMD_GET_CAPSET, 0, gc) == GPU_RESP_ERR_INVALID_PARAMETER,
	      "capset not offered");
	/* A header alone, or less, for commands that need a body. */
	CHECK(send(GPU_CMD_GET_CAPSET, 0, 0, 0, 0, NULL, 0) == GPU_RESP_ERR_INVALID_PARAMETER,
	      "missing body");
	gpu_cmd_process(&st, tiny, sizeof(tiny), resp, sizeof(resp), &reply);
	CHECK(((struct gpu_hdr *)resp)->type == GPU_RESP_ERR_INVALID_PARAMETER &&
		      reply.len == sizeof(struct gpu_hdr),
	      "short header");
	CHECK(send(0xdead, 0, 0, 0, 0, NULL, 0) == GPU_RESP_ERR_UNSPEC, "unknown command");
	CHECK(send(GPU_CMD_RESOURCE_CREATE_3D, 1, 0, 0, 0, tiny, sizeof(tiny)) ==
		      GPU_RESP_ERR_UNSPEC,
	      "virgl 3D resources are not offered");
}

static void test_contexts(void)
{
	CHECK(ctx_create(1, GPU_CAPSET_VENUS, 4) == GPU_RESP_OK_NODATA && fake.nctx == 1,
	      "venus context");
	CHECK(ctx_create(1, GPU_CAPSET_VENUS, 4) == GPU_RESP_ERR_INVALID_CONTEXT_ID,
	      "same id twice");
	CHECK(ctx_create(0, GPU_CAPSET_VENUS, 4) == GPU_RESP_ERR_INVALID_CONTEXT_ID, "context 0");
	CHECK(ctx_create(2, 0, 4) == GPU_RESP_ERR_INVALID_PARAMETER, "virgl capset (not offered)");
	CHECK(ctx_create(2, GPU_CAPSET_DRM, 4) == GPU_RESP_ERR_INVALID_PARAMETER,
	      "drm not offered");
	CHECK(ctx_create(2, GPU_CAPSET_VENUS | 0x100, 4) == GPU_RESP_ERR_INVALID_PARAMETER,
	      "unknown context_init bits");
	CHECK(ctx_create(2, GPU_CAPSET_VENUS, 65) == GPU_RESP_ERR_INVALID_PARAMETER,
	      "name too long");
	CHECK(ctx_create(2, GPU_CAPSET_VENUS, 64) == GPU_RESP_OK_NODATA, "name of 64 bytes");
	CHECK(send(GPU_CMD_CTX_DESTROY, 2, 0, 0, 0, NULL, 0) == GPU_RESP_OK_NODATA &&
		      fake.nctx == 1,
	      "destroy");
	CHECK(send(GPU_CMD_CTX_DESTROY, 2, 0, 0, 0, NULL, 0) == GPU_RESP_ERR_INVALID_CONTEXT_ID,
	      "destroy twice");
}

static void test_submit(void)
{
	uint8_t buf[8 + 64] = { 0 };
	struct gpu_submit_3d *s = (void *)buf;

	s->size = 64;
	CHECK(send(GPU_CMD_SUBMIT_3D, 1, 0, 0, 0, buf, sizeof(buf)) == GPU_RESP_OK_NODATA &&
		      fake.last_submit_len == 64,
	      "submit");
	CHECK(send(GPU_CMD_SUBMIT_3D, 9, 0, 0, 0, buf, sizeof(buf)) ==
		      GPU_RESP_ERR_INVALID_CONTEXT_ID,
	      "submit to an unknown context");
	s->size = 65;
	CHECK(send(GPU_CMD_SUBMIT_3D, 1, 0, 0, 0, buf, sizeof(buf)) ==
		      GPU_RESP_ERR_INVALID_PARAMETER,
	      "size not a multiple of 4");
	s->size = 68;
	CHECK(send(GPU_CMD_SUBMIT_3D, 1, 0, 0, 0, buf, sizeof(buf)) ==
		      GPU_RESP_ERR_INVALID_PARAMETER,
	      "size beyond the request");
	s->size = 0xfffffffc;
	CHECK(send(GPU_CMD_SUBMIT_3D, 1, 0, 0, 0, buf, sizeof(buf)) ==
		      GPU_RESP_ERR_INVALID_PARAMETER,
	      "huge size");
	/* Fences: a ring fence waits for the renderer; others are answered at once. */
	s->size = 4;
	send(GPU_CMD_SUBMIT_3D, 1, GPU_FLAG_FENCE | GPU_FLAG_INFO_RING_IDX, 3, 77, buf,
	     sizeof(buf));
	CHECK(reply.defer && reply.ctx_id == 1 && reply.ring == 3 && reply.fence_id == 77 &&
		      fake.fences == 1,
	      "ring fence deferred");
	CHECK(((struct gpu_hdr *)resp)->fence_id == 77 &&
		      (((struct gpu_hdr *)resp)->flags & GPU_FLAG_FENCE),
	      "fence echoed");
	send(GPU_CMD_SUBMIT_3D, 1, GPU_FLAG_FENCE, 0, 78, buf, sizeof(buf));
	CHECK(!reply.defer && ((struct gpu_hdr *)resp)->fence_id == 78, "global fence at once");
	send(GPU_CMD_SUBMIT_3D, 9, GPU_FLAG_FENCE | GPU_FLAG_INFO_RING_IDX, 0, 79, buf,
	     sizeof(buf));
	CHECK(!reply.defer, "fence of an unknown context at once");
	send(GPU_CMD_SUBMIT_3D, 1, GPU_FLAG_FENCE | GPU_FLAG_INFO_RING_IDX, 200, 80, buf,
	     sizeof(buf));
	CHECK(!reply.defer, "ring index out of range: at once");
}

static void test_blobs(void)
{
	struct gpu_resp_map_info *mi = (void *)resp;

	CHECK(blob(10, 1, GPU_BLOB_MEM_HOST3D, GPU_BLOB_FLAG_MAPPABLE, 8192) == GPU_RESP_OK_NODATA,
	      "host blob");
	CHECK(blob(10, 1, GPU_BLOB_MEM_HOST3D, GPU_BLOB_FLAG_MAPPABLE, 8192) ==
		      GPU_RESP_ERR_INVALID_RESOURCE_ID,
	      "same resource id twice");
	CHECK(blob(11, 9, GPU_BLOB_MEM_HOST3D, 0, 8192) == GPU_RESP_ERR_INVALID_CONTEXT_ID,
	      "host blob without a context");
	CHECK(blob(11, 1, 7, 0, 8192) == GPU_RESP_ERR_INVALID_PARAMETER, "unknown blob_mem");
	CHECK(blob(11, 1, GPU_BLOB_MEM_HOST3D, 8, 8192) == GPU_RESP_ERR_INVALID_PARAMETER,
	      "unknown blob flag");
	CHECK(blob(11, 1, GPU_BLOB_MEM_HOST3D, 0, 0) == GPU_RESP_ERR_INVALID_PARAMETER, "size 0");
	CHECK(blob(11, 1, GPU_BLOB_MEM_HOST3D, 0, 1ULL << 41) == GPU_RESP_ERR_INVALID_PARAMETER,
	      "huge size");
	CHECK(blob(12, 1, GPU_BLOB_MEM_HOST3D, 0, 4096) == GPU_RESP_OK_NODATA, "unmappable blob");

	CHECK(map(10, 0) == GPU_RESP_OK_MAP_INFO && mi->map_info == GPU_MAP_CACHE_CACHED &&
		      fake.nmapped == 1,
	      "map");
	CHECK(map(10, 16384) == GPU_RESP_ERR_INVALID_PARAMETER, "map twice");
	CHECK(blob(13, 1, GPU_BLOB_MEM_HOST3D, GPU_BLOB_FLAG_MAPPABLE, 4096) == GPU_RESP_OK_NODATA,
	      "second blob");
	CHECK(map(13, 4096) == GPU_RESP_ERR_INVALID_PARAMETER, "overlapping mapping");
	CHECK(map(13, 100) == GPU_RESP_ERR_INVALID_PARAMETER, "unaligned offset");
	CHECK(map(13, WINDOW) == GPU_RESP_ERR_INVALID_PARAMETER, "offset at the window's end");
	CHECK(map(13, UINT64_MAX & ~4095ULL) == GPU_RESP_ERR_INVALID_PARAMETER, "offset wraps");
	CHECK(map(12, 65536) == GPU_RESP_ERR_INVALID_PARAMETER, "not mappable");
	CHECK(map(99, 65536) == GPU_RESP_ERR_INVALID_RESOURCE_ID, "unknown resource");
	fake.fail_next_map = 1;
	CHECK(map(13, 8192) == GPU_RESP_ERR_UNSPEC && fake.nmapped == 1, "renderer cannot map");
	CHECK(map(13, WINDOW - 4096) == GPU_RESP_OK_MAP_INFO && fake.nmapped == 2,
	      "map at the window's last page");
	CHECK(res_cmd(GPU_CMD_RESOURCE_UNMAP_BLOB, 0, 13) == GPU_RESP_OK_NODATA &&
		      fake.nmapped == 1,
	      "unmap");
	CHECK(res_cmd(GPU_CMD_RESOURCE_UNMAP_BLOB, 0, 13) == GPU_RESP_ERR_INVALID_PARAMETER,
	      "unmap twice");
	CHECK(res_cmd(GPU_CMD_CTX_ATTACH_RESOURCE, 1, 13) == GPU_RESP_OK_NODATA, "attach");
	CHECK(res_cmd(GPU_CMD_CTX_ATTACH_RESOURCE, 9, 13) == GPU_RESP_ERR_INVALID_CONTEXT_ID,
	      "attach to an unknown context");
	CHECK(res_cmd(GPU_CMD_CTX_DETACH_RESOURCE, 1, 77) == GPU_RESP_ERR_INVALID_RESOURCE_ID,
	      "detach an unknown resource");
	/* Unref of a mapped blob unmaps it first (the fake aborts otherwise). */
	CHECK(res_cmd(GPU_CMD_RESOURCE_UNREF, 0, 10) == GPU_RESP_OK_NODATA && fake.nmapped == 0,
	      "unref a mapped blob");
	CHECK(res_cmd(GPU_CMD_RESOURCE_UNREF, 0, 10) == GPU_RESP_ERR_INVALID_RESOURCE_ID,
	      "unref twice");
}

static uint32_t guest_blob(uint32_t id, uint64_t size, const struct gpu_mem_entry *e, uint32_t n)
{
	uint8_t buf[sizeof(struct gpu_resource_create_blob) + 4 * sizeof(*e)];
	struct gpu_resource_create_blob b = {
		.resource_id = id, .blob_mem = GPU_BLOB_MEM_GUEST, .nr_entries = n, .size = size
	};

	memcpy(buf, &b, sizeof(b));
	memcpy(buf + sizeof(b), e, (n < 4 ? n : 4) * sizeof(*e));
	return send(GPU_CMD_RESOURCE_CREATE_BLOB, 0, 0, 0, 0, buf,
		    sizeof(b) + (n < 4 ? n : 4) * 16);
}

static void test_guest_memory(void)
{
	struct gpu_mem_entry e[4] = { { .addr = 0x1000, .length = 0x1000 },
				      { .addr = 0x3000, .length = 0x1000 } };

	CHECK(guest_blob(20, 8192, e, 2) == GPU_RESP_OK_NODATA, "guest blob");
	CHECK(guest_blob(21, 8193, e, 2) == GPU_RESP_ERR_INVALID_PARAMETER,
	      "entries shorter than the blob");
	CHECK(guest_blob(21, 4096, e, 9) == GPU_RESP_ERR_INVALID_PARAMETER,
	      "more entries than the request holds");
	e[1].addr = GUEST_SIZE - 0x800;
	CHECK(guest_blob(21, 4096, e, 2) == GPU_RESP_ERR_INVALID_PARAMETER,
	      "entry past guest memory");
	e[1].addr = UINT64_MAX - 0x10;
	CHECK(guest_blob(21, 4096, e, 2) == GPU_RESP_ERR_INVALID_PARAMETER, "entry wraps");
	e[1] = (struct gpu_mem_entry){ .addr = 0x3000, .length = 0 };
	CHECK(guest_blob(21, 4096, e, 2) == GPU_RESP_ERR_INVALID_PARAMETER, "empty entry");
	CHECK(map(20, 0) == GPU_RESP_ERR_INVALID_PARAMETER, "guest blobs are not mapped");
}

static void test_2d(void)
{
	struct gpu_resource_create_2d c = {
		.resource_id = 30, .format = 1, .width = 64, .height = 32
	};
	struct gpu_transfer_to_host_2d t = { .r = { 0, 0, 64, 32 }, .resource_id = 30 };
	struct gpu_set_scanout so = { .r = { 0, 0, 64, 32 }, .resource_id = 30 };
	uint8_t ab[sizeof(struct gpu_attach_backing) + sizeof(struct gpu_mem_entry)];
	struct gpu_attach_backing a = { .resource_id = 30, .nr_entries = 1 };
	struct gpu_mem_entry e = { .addr = 0x10000, .length = 64 * 32 * 4 };

	CHECK(SEND(GPU_CMD_RESOURCE_CREATE_2D, 0, c) == GPU_RESP_OK_NODATA, "2d resource");
	c.resource_id = 31;
	c.width = 0;
	CHECK(SEND(GPU_CMD_RESOURCE_CREATE_2D, 0, c) == GPU_RESP_ERR_INVALID_PARAMETER, "width 0");
	CHECK(SEND(GPU_CMD_TRANSFER_TO_HOST_2D, 0, t) == GPU_RESP_ERR_INVALID_PARAMETER,
	      "transfer without backing");
	memcpy(ab, &a, sizeof(a));
	memcpy(ab + sizeof(a), &e, sizeof(e));
	CHECK(send(GPU_CMD_RESOURCE_ATTACH_BACKING, 0, 0, 0, 0, ab, sizeof(ab)) ==
		      GPU_RESP_OK_NODATA,
	      "attach backing");
	CHECK(SEND(GPU_CMD_TRANSFER_TO_HOST_2D, 0, t) == GPU_RESP_OK_NODATA, "transfer");
	t.r.x = 1;
	CHECK(SEND(GPU_CMD_TRANSFER_TO_HOST_2D, 0, t) == GPU_RESP_ERR_INVALID_PARAMETER,
	      "transfer outside the resource");
	t.r = (struct gpu_rect){ 0xffffffff, 0, 2, 2 };
	CHECK(SEND(GPU_CMD_TRANSFER_TO_HOST_2D, 0, t) == GPU_RESP_ERR_INVALID_PARAMETER,
	      "rectangle wraps");
	CHECK(SEND(GPU_CMD_SET_SCANOUT, 0, so) == GPU_RESP_OK_NODATA, "scanout");
	so.scanout_id = 1;
	CHECK(SEND(GPU_CMD_SET_SCANOUT, 0, so) == GPU_RESP_ERR_INVALID_SCANOUT_ID, "scanout 1");
	CHECK(res_cmd(GPU_CMD_CTX_ATTACH_RESOURCE, 1, 30) == GPU_RESP_ERR_INVALID_RESOURCE_ID,
	      "2D resources are not attached to contexts");
	CHECK(map(30, 0) == GPU_RESP_ERR_INVALID_RESOURCE_ID, "2D resources are not mapped");
	CHECK(res_cmd(GPU_CMD_RESOURCE_DETACH_BACKING, 0, 30) == GPU_RESP_OK_NODATA, "detach");
	CHECK(res_cmd(GPU_CMD_RESOURCE_DETACH_BACKING, 0, 30) == GPU_RESP_ERR_INVALID_PARAMETER,
	      "detach twice");
	e.addr = GUEST_SIZE;
	memcpy(ab + sizeof(a), &e, sizeof(e));
	CHECK(send(GPU_CMD_RESOURCE_ATTACH_BACKING, 0, 0, 0, 0, ab, sizeof(ab)) ==
		      GPU_RESP_ERR_INVALID_PARAMETER,
	      "backing outside guest memory");
}

int main(void)
{
	guest = calloc(1, GUEST_SIZE);
	guest_mem_init_flat(&mem, guest, GUEST_SIZE);
	fake.window_size = WINDOW;
	if (gpu_state_init(&st, &mem, &fake_ops, &fake, &fake_window, &fake, WINDOW, fake_capsets,
			   1))
		return 1;
	test_basics();
	test_contexts();
	test_submit();
	test_blobs();
	test_guest_memory();
	test_2d();
	/* A reset gives everything back to the renderer (the fake checks the order). */
	map(13, 0);
	gpu_state_reset(&st);
	CHECK(fake.nctx == 0 && fake.nres == 0 && fake.nmapped == 0 && st.nres == 0,
	      "reset frees contexts %u, resources %u, mappings %u", fake.nctx, fake.nres,
	      fake.nmapped);
	gpu_state_destroy(&st);
	free(guest);
	return check_summary();
}
