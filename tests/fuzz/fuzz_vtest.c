/*
 * The vtest request parser on a byte stream as a client would send it:
 * header, payload, header, payload... until the stream ends or a request is
 * refused (where the server drops the client).
 *
 * Each payload is copied into its own malloc'd buffer of exactly its size,
 * so ASan catches a parser or an accepted request that reaches beyond it;
 * every accepted request is walked the way the server uses it (each command
 * word and sync point read) and checked against its payload.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "gpu/vtest_proto.h"

static volatile uint32_t sink;

static void within(const uint8_t *p, uint64_t len, const uint8_t *buf, size_t size)
{
	if (p < buf || p > buf + size || len > (uint64_t)(buf + size - p))
		abort();
	for (uint64_t i = 0; i < len; i++)
		sink += p[i];
}

static void walk_points(const uint8_t *points, uint32_t count, const uint8_t *buf, size_t size)
{
	within(points, (uint64_t)count * VTEST_SYNC_POINT_WORDS * 4, buf, size);
	for (uint32_t i = 0; i < count; i++) {
		struct vtest_sync_point p = vtest_sync_point(points, i);

		sink += p.id + (uint32_t)p.value;
	}
}

static void check(const struct vtest_req *r, const uint8_t *buf, size_t size)
{
	struct vtest_batch b;

	switch (r->cmd) {
	case VTEST_CMD_CREATE_RENDERER:
		within((const uint8_t *)r->renderer.name, r->renderer.len, buf, size);
		if (memchr(r->renderer.name, 0, r->renderer.len))
			abort();
		break;
	case VTEST_CMD_SYNC_WAIT:
		if (8 + (uint64_t)r->wait.count * 12 != size || (r->wait.flags & ~1u))
			abort();
		walk_points(r->wait.points, r->wait.count, buf, size);
		break;
	case VTEST_CMD_SUBMIT_CMD2:
		for (uint32_t i = 0; i < r->submit.batch_count; i++) {
			vtest_submit_batch(r, i, &b);
			if (b.ring_idx >= VTEST_MAX_TIMELINES || (b.flags & ~VTEST_SUBMIT_RING_IDX))
				abort();
			within(b.cmds, (uint64_t)b.cmd_words * 4, buf, size);
			walk_points(b.syncs, b.sync_count, buf, size);
		}
		break;
	case VTEST_CMD_RESOURCE_CREATE_BLOB:
		if (!r->blob.size || (r->blob.flags & ~VTEST_BLOB_FLAGS))
			abort();
		break;
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	while (size >= VTEST_HDR_WORDS * 4) {
		uint32_t hdr[VTEST_HDR_WORDS];
		struct vtest_req req;
		const char *why;
		int64_t n;
		uint8_t *payload;
		int ret;

		memcpy(hdr, data, sizeof(hdr));
		data += sizeof(hdr);
		size -= sizeof(hdr);
		n = vtest_payload_bytes(hdr[1], hdr[0]);
		if (n < 0 || (uint64_t)n > size)
			return 0;
		payload = malloc(n ? n : 1);
		if (!payload)
			return 0;
		memcpy(payload, data, n);
		data += n;
		size -= n;
		ret = vtest_parse(hdr[1], payload, n, &req, &why);
		if (ret == 0)
			check(&req, payload, n);
		else if (!why)
			abort(); /* every refusal says why */
		free(payload);
		if (ret)
			return 0;
	}
	return 0;
}
