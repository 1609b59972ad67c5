#include "gpu/vtest_proto.h"

#include <errno.h>
#include <stdbool.h>
#include <string.h>

enum len_kind {
	LEN_FIXED,    /* exactly .words payload words */
	LEN_BYTES,    /* 1..VTEST_MAX_NAME payload bytes */
	LEN_WAIT,     /* 2 + 3 * count words */
	LEN_VARIABLE, /* at least .words words */
};

static const struct {
	uint32_t cmd;
	enum len_kind kind;
	uint32_t words;
} commands[] = {
	{ VTEST_CMD_RESOURCE_UNREF, LEN_FIXED, 1 },
	{ VTEST_CMD_RESOURCE_BUSY_WAIT, LEN_FIXED, 2 },
	{ VTEST_CMD_CREATE_RENDERER, LEN_BYTES, 0 },
	{ VTEST_CMD_PING_PROTOCOL_VERSION, LEN_FIXED, 0 },
	{ VTEST_CMD_PROTOCOL_VERSION, LEN_FIXED, 1 },
	{ VTEST_CMD_GET_PARAM, LEN_FIXED, 1 },
	{ VTEST_CMD_GET_CAPSET, LEN_FIXED, 2 },
	{ VTEST_CMD_CONTEXT_INIT, LEN_FIXED, 1 },
	{ VTEST_CMD_RESOURCE_CREATE_BLOB, LEN_FIXED, 6 },
	{ VTEST_CMD_SYNC_CREATE, LEN_FIXED, 2 },
	{ VTEST_CMD_SYNC_UNREF, LEN_FIXED, 1 },
	{ VTEST_CMD_SYNC_READ, LEN_FIXED, 1 },
	{ VTEST_CMD_SYNC_WRITE, LEN_FIXED, 3 },
	{ VTEST_CMD_SYNC_WAIT, LEN_WAIT, 2 },
	{ VTEST_CMD_SUBMIT_CMD2, LEN_VARIABLE, 1 },
};

int64_t vtest_payload_bytes(uint32_t cmd, uint32_t len)
{
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++) {
		if (commands[i].cmd != cmd)
			continue;
		switch (commands[i].kind) {
		case LEN_FIXED:
			return len == commands[i].words ? (int64_t)len * 4 : -EMSGSIZE;
		case LEN_BYTES:
			return len >= 1 && len <= VTEST_MAX_NAME ? (int64_t)len : -EMSGSIZE;
		case LEN_WAIT:
			if (len < commands[i].words || (len - commands[i].words) % 3)
				return -EMSGSIZE;
			/* fall through */
		case LEN_VARIABLE:
			if (len < commands[i].words || len > VTEST_MAX_PAYLOAD / 4)
				return -EMSGSIZE;
			return (int64_t)len * 4;
		}
	}
	return -EPROTO;
}

static uint32_t word(const uint8_t *p, uint64_t i)
{
	uint32_t w;

	memcpy(&w, p + 4 * i, 4);
	return w;
}

static uint64_t dword(const uint8_t *p, uint64_t i)
{
	return word(p, i) | (uint64_t)word(p, i + 1) << 32;
}

struct vtest_sync_point vtest_sync_point(const uint8_t *points, uint32_t i)
{
	uint64_t w = (uint64_t)i * VTEST_SYNC_POINT_WORDS;

	return (struct vtest_sync_point){ .id = word(points, w), .value = dword(points, w + 1) };
}

/* [off, off + count * unit) within [first, total) words, without overflow. */
static bool range_ok(uint32_t off, uint32_t count, uint32_t unit, uint64_t first, uint64_t total)
{
	return off >= first && off <= total && (uint64_t)count * unit <= total - off;
}

static int bad(const char **why, const char *what)
{
	*why = what;
	return -EINVAL;
}

static void read_batch(const uint8_t *p, uint32_t i, uint32_t w[VTEST_BATCH_WORDS])
{
	for (uint32_t k = 0; k < VTEST_BATCH_WORDS; k++)
		w[k] = word(p, 1 + (uint64_t)i * VTEST_BATCH_WORDS + k);
}

static int parse_submit(const uint8_t *p, uint64_t words, struct vtest_req *req, const char **why)
{
	uint32_t count = word(p, 0);
	uint64_t hdr_words = 1 + (uint64_t)count * VTEST_BATCH_WORDS;

	if (hdr_words > words)
		return bad(why, "SUBMIT_CMD2: more batches than the payload holds");
	for (uint32_t i = 0; i < count; i++) {
		uint32_t w[VTEST_BATCH_WORDS];

		read_batch(p, i, w);
		if (w[0] & ~VTEST_SUBMIT_RING_IDX)
			return bad(why,
				   "SUBMIT_CMD2: unknown batch flags (fence fds are not served)");
		if (w[6] || w[7])
			return bad(why, "SUBMIT_CMD2: DRM syncobjs are not served");
		if (!range_ok(w[1], w[2], 1, hdr_words, words))
			return bad(why, "SUBMIT_CMD2: commands outside the payload");
		if (!range_ok(w[3], w[4], VTEST_SYNC_POINT_WORDS, hdr_words, words))
			return bad(why, "SUBMIT_CMD2: sync points outside the payload");
		if ((w[0] & VTEST_SUBMIT_RING_IDX) && w[5] >= VTEST_MAX_TIMELINES)
			return bad(why, "SUBMIT_CMD2: ring index out of range");
	}
	req->submit.batch_count = count;
	req->submit.words = p;
	return 0;
}

void vtest_submit_batch(const struct vtest_req *req, uint32_t i, struct vtest_batch *b)
{
	uint32_t w[VTEST_BATCH_WORDS];

	read_batch(req->submit.words, i, w);
	*b = (struct vtest_batch){
		.flags = w[0],
		.ring_idx = (w[0] & VTEST_SUBMIT_RING_IDX) ? w[5] : 0,
		.cmds = req->submit.words + 4 * (uint64_t)w[1],
		.cmd_words = w[2],
		.syncs = req->submit.words + 4 * (uint64_t)w[3],
		.sync_count = w[4],
	};
}

int vtest_parse(uint32_t cmd, const void *payload, size_t size, struct vtest_req *req,
		const char **why)
{
	const uint8_t *p = payload;
	int64_t want;

	*why = NULL;
	memset(req, 0, sizeof(*req));
	req->cmd = cmd;
	if (size > UINT32_MAX * 4ull)
		return bad(why, "payload too large");
	want = vtest_payload_bytes(cmd, cmd == VTEST_CMD_CREATE_RENDERER ? size : size / 4);
	if (want < 0 || (uint64_t)want != size) {
		*why = "payload length does not fit the command";
		return -EMSGSIZE;
	}
	switch (cmd) {
	case VTEST_CMD_CREATE_RENDERER:
		req->renderer.name = payload;
		req->renderer.len = strnlen(payload, size);
		return 0;
	case VTEST_CMD_PING_PROTOCOL_VERSION:
		return 0;
	case VTEST_CMD_PROTOCOL_VERSION:
		req->protocol.version = word(p, 0);
		return 0;
	case VTEST_CMD_RESOURCE_BUSY_WAIT:
		req->busy_wait.handle = word(p, 0);
		req->busy_wait.flags = word(p, 1);
		return 0;
	case VTEST_CMD_GET_PARAM:
		req->param.param = word(p, 0);
		return 0;
	case VTEST_CMD_GET_CAPSET:
		req->capset.id = word(p, 0);
		req->capset.version = word(p, 1);
		return 0;
	case VTEST_CMD_CONTEXT_INIT:
		req->context_init.capset_id = word(p, 0);
		return req->context_init.capset_id ? 0 : bad(why, "CONTEXT_INIT: capset 0");
	case VTEST_CMD_RESOURCE_CREATE_BLOB:
		req->blob.type = word(p, 0);
		req->blob.flags = word(p, 1);
		req->blob.size = dword(p, 2);
		req->blob.blob_id = dword(p, 4);
		if (req->blob.type < VTEST_BLOB_GUEST || req->blob.type > VTEST_BLOB_HOST3D_GUEST)
			return bad(why, "RESOURCE_CREATE_BLOB: unknown blob type");
		if (req->blob.flags & ~VTEST_BLOB_FLAGS)
			return bad(why, "RESOURCE_CREATE_BLOB: unknown blob flags");
		if (!req->blob.size)
			return bad(why, "RESOURCE_CREATE_BLOB: size 0");
		return 0;
	case VTEST_CMD_RESOURCE_UNREF:
	case VTEST_CMD_SYNC_UNREF:
	case VTEST_CMD_SYNC_READ:
		req->obj.id = word(p, 0);
		return req->obj.id ? 0 : bad(why, "id 0");
	case VTEST_CMD_SYNC_CREATE:
		req->sync_create.value = dword(p, 0);
		return 0;
	case VTEST_CMD_SYNC_WRITE:
		req->sync = vtest_sync_point(p, 0);
		return req->sync.id ? 0 : bad(why, "SYNC_WRITE: id 0");
	case VTEST_CMD_SYNC_WAIT:
		req->wait.flags = word(p, 0);
		req->wait.timeout_ms = word(p, 1);
		req->wait.count = (size / 4 - 2) / VTEST_SYNC_POINT_WORDS;
		req->wait.points = p + 8;
		if (req->wait.flags & ~VTEST_SYNC_WAIT_ANY)
			return bad(why, "SYNC_WAIT: unknown flags");
		return 0;
	case VTEST_CMD_SUBMIT_CMD2:
		return parse_submit(p, size / 4, req, why);
	}
	return bad(why, "unknown command");
}
