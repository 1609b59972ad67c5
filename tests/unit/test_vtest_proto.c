/* The vtest request parser on requests as Mesa's Venus driver sends them, and on hostile ones. */
#include <errno.h>
#include <stdint.h>
#include <string.h>

#include "check.h"
#include "gpu/vtest_proto.h"

static struct vtest_req r;
static const char *why;

static int parse_words(uint32_t cmd, const uint32_t *w, size_t n)
{
	return vtest_parse(cmd, w, n * 4, &r, &why);
}

static void test_lengths(void)
{
	CHECK(vtest_payload_bytes(VTEST_CMD_RESOURCE_UNREF, 1) == 4, "unref");
	CHECK(vtest_payload_bytes(VTEST_CMD_RESOURCE_UNREF, 2) == -EMSGSIZE, "unref, 2 words");
	CHECK(vtest_payload_bytes(VTEST_CMD_PING_PROTOCOL_VERSION, 0) == 0, "ping");
	CHECK(vtest_payload_bytes(VTEST_CMD_PING_PROTOCOL_VERSION, 1) == -EMSGSIZE, "ping, 1");
	CHECK(vtest_payload_bytes(VTEST_CMD_RESOURCE_CREATE_BLOB, 6) == 24, "blob");
	CHECK(vtest_payload_bytes(VTEST_CMD_RESOURCE_CREATE_BLOB, 5) == -EMSGSIZE, "blob, 5");
	CHECK(vtest_payload_bytes(VTEST_CMD_SYNC_WRITE, 3) == 12, "sync write");
	/* CREATE_RENDERER counts bytes */
	CHECK(vtest_payload_bytes(VTEST_CMD_CREATE_RENDERER, 13) == 13, "renderer name");
	CHECK(vtest_payload_bytes(VTEST_CMD_CREATE_RENDERER, 0) == -EMSGSIZE, "empty name");
	CHECK(vtest_payload_bytes(VTEST_CMD_CREATE_RENDERER, VTEST_MAX_NAME + 1) == -EMSGSIZE,
	      "long name");
	CHECK(vtest_payload_bytes(VTEST_CMD_SYNC_WAIT, 2) == 8, "wait for nothing");
	CHECK(vtest_payload_bytes(VTEST_CMD_SYNC_WAIT, 5) == 20, "wait for one");
	CHECK(vtest_payload_bytes(VTEST_CMD_SYNC_WAIT, 4) == -EMSGSIZE, "wait, partial point");
	CHECK(vtest_payload_bytes(VTEST_CMD_SYNC_WAIT, 1) == -EMSGSIZE, "wait, 1 word");
	CHECK(vtest_payload_bytes(VTEST_CMD_SYNC_WAIT, UINT32_MAX - 1) == -EMSGSIZE, "wait, huge");
	CHECK(vtest_payload_bytes(VTEST_CMD_SUBMIT_CMD2, 0) == -EMSGSIZE, "empty submit");
	CHECK(vtest_payload_bytes(VTEST_CMD_SUBMIT_CMD2, VTEST_MAX_PAYLOAD / 4) ==
		      VTEST_MAX_PAYLOAD,
	      "largest submit");
	CHECK(vtest_payload_bytes(VTEST_CMD_SUBMIT_CMD2, VTEST_MAX_PAYLOAD / 4 + 1) == -EMSGSIZE,
	      "submit too large");
	CHECK(vtest_payload_bytes(VTEST_CMD_SUBMIT_CMD2, UINT32_MAX) == -EMSGSIZE, "submit 4G");
	/* virgl (GL) and DRM native-context commands are not served */
	static const uint32_t refused[] = { 0, 1, 2, 4, 5, 6, 9, 12, 13, 14, 25, 38, 0xffffffff };
	for (unsigned i = 0; i < sizeof(refused) / sizeof(refused[0]); i++)
		CHECK(vtest_payload_bytes(refused[i], 1) == -EPROTO, "command %u", refused[i]);
}

static void test_simple(void)
{
	char name[] = "kiln-vkbench\0trailing";
	uint32_t w[6];

	CHECK(vtest_parse(VTEST_CMD_CREATE_RENDERER, name, 13, &r, &why) == 0, "name");
	CHECK(r.renderer.len == 12 && !memcmp(r.renderer.name, "kiln-vkbench", 12), "name len");
	CHECK(vtest_parse(VTEST_CMD_CREATE_RENDERER, "abc", 3, &r, &why) == 0 &&
		      r.renderer.len == 3,
	      "name without NUL");
	CHECK(vtest_parse(VTEST_CMD_CREATE_RENDERER, name, 0, &r, &why) == -EMSGSIZE, "empty name");

	w[0] = 4;
	CHECK(parse_words(VTEST_CMD_PROTOCOL_VERSION, w, 1) == 0 && r.protocol.version == 4,
	      "version");
	CHECK(parse_words(VTEST_CMD_PROTOCOL_VERSION, w, 2) == -EMSGSIZE, "version, 2 words");
	CHECK(vtest_parse(VTEST_CMD_PROTOCOL_VERSION, w, 3, &r, &why) == -EMSGSIZE,
	      "version, 3 bytes");
	w[0] = VTEST_CAPSET_VENUS;
	w[1] = 0;
	CHECK(parse_words(VTEST_CMD_GET_CAPSET, w, 2) == 0 && r.capset.id == 4 &&
		      r.capset.version == 0,
	      "get capset");
	CHECK(parse_words(VTEST_CMD_CONTEXT_INIT, w, 1) == 0 && r.context_init.capset_id == 4,
	      "context init");
	w[0] = 0;
	CHECK(parse_words(VTEST_CMD_CONTEXT_INIT, w, 1) == -EINVAL && why, "capset 0");
	CHECK(parse_words(VTEST_CMD_RESOURCE_UNREF, w, 1) == -EINVAL, "unref 0");
	CHECK(parse_words(VTEST_CMD_SYNC_READ, w, 1) == -EINVAL, "read sync 0");
	w[0] = 7;
	CHECK(parse_words(VTEST_CMD_SYNC_UNREF, w, 1) == 0 && r.obj.id == 7, "sync unref");

	/* sync write: id, value lo, value hi */
	w[0] = 3;
	w[1] = 0x89abcdef;
	w[2] = 0x01234567;
	CHECK(parse_words(VTEST_CMD_SYNC_WRITE, w, 3) == 0 && r.sync.id == 3 &&
		      r.sync.value == 0x0123456789abcdefull,
	      "sync write");
	CHECK(parse_words(VTEST_CMD_SYNC_CREATE, w + 1, 2) == 0 &&
		      r.sync_create.value == 0x0123456789abcdefull,
	      "sync create");
}

static void test_blob(void)
{
	/* HOST3D, MAPPABLE, a size and a blob id that use both words */
	uint32_t w[6] = { VTEST_BLOB_HOST3D, VTEST_BLOB_FLAG_MAPPABLE, 0xc4000, 1, 0x1234, 2 };

	CHECK(parse_words(VTEST_CMD_RESOURCE_CREATE_BLOB, w, 6) == 0, "blob");
	CHECK(r.blob.type == 2 && r.blob.flags == 1 && r.blob.size == 0x1000c4000ull &&
		      r.blob.blob_id == 0x200001234ull,
	      "blob fields");
	w[0] = 4;
	CHECK(parse_words(VTEST_CMD_RESOURCE_CREATE_BLOB, w, 6) == -EINVAL, "blob type 4");
	w[0] = 0;
	CHECK(parse_words(VTEST_CMD_RESOURCE_CREATE_BLOB, w, 6) == -EINVAL, "blob type 0");
	w[0] = VTEST_BLOB_HOST3D;
	w[1] = 8;
	CHECK(parse_words(VTEST_CMD_RESOURCE_CREATE_BLOB, w, 6) == -EINVAL, "blob flag 8");
	w[1] = VTEST_BLOB_FLAGS;
	w[2] = w[3] = 0;
	CHECK(parse_words(VTEST_CMD_RESOURCE_CREATE_BLOB, w, 6) == -EINVAL, "blob size 0");
}

static void test_wait(void)
{
	uint32_t w[8] = { 0, UINT32_MAX, 1, 5, 0, 2, 0xffffffff, 0xffffffff };
	struct vtest_sync_point p;

	CHECK(parse_words(VTEST_CMD_SYNC_WAIT, w, 8) == 0, "wait");
	CHECK(r.wait.count == 2 && r.wait.timeout_ms == UINT32_MAX && r.wait.flags == 0,
	      "wait fields");
	p = vtest_sync_point(r.wait.points, 1);
	CHECK(p.id == 2 && p.value == UINT64_MAX, "second point");
	CHECK(parse_words(VTEST_CMD_SYNC_WAIT, w, 2) == 0 && r.wait.count == 0, "empty wait");
	CHECK(parse_words(VTEST_CMD_SYNC_WAIT, w, 7) == -EMSGSIZE, "partial point");
	w[0] = VTEST_SYNC_WAIT_ANY;
	CHECK(parse_words(VTEST_CMD_SYNC_WAIT, w, 5) == 0 && r.wait.flags == 1, "wait any");
	w[0] = 2;
	CHECK(parse_words(VTEST_CMD_SYNC_WAIT, w, 5) == -EINVAL, "unknown wait flag");
}

/* A SUBMIT_CMD2 as Mesa 26 sends it: one batch on ring 1, 6 command words,
 * one sync point (captured from kiln-vkbench). */
static uint32_t sub[18];

static void mesa_submit(void)
{
	static const uint32_t hdr[9] = { 1, VTEST_SUBMIT_RING_IDX, 9, 6, 15, 1, 1, 0, 0 };

	memset(sub, 0, sizeof(sub));
	memcpy(sub, hdr, sizeof(hdr));
	for (unsigned i = 9; i < 15; i++)
		sub[i] = 0xc0de0000 + i;
	sub[15] = 4; /* sync id */
	sub[16] = 10;
	sub[17] = 1;
}

static void test_submit(void)
{
	struct vtest_batch b;
	struct vtest_sync_point p;
	uint32_t cmd0;

	mesa_submit();
	CHECK(parse_words(VTEST_CMD_SUBMIT_CMD2, sub, 18) == 0, "mesa submit: %s", why);
	CHECK(r.submit.batch_count == 1, "one batch");
	vtest_submit_batch(&r, 0, &b);
	memcpy(&cmd0, b.cmds, 4);
	CHECK(b.cmd_words == 6 && cmd0 == 0xc0de0009 && b.ring_idx == 1 && b.sync_count == 1,
	      "batch fields");
	p = vtest_sync_point(b.syncs, 0);
	CHECK(p.id == 4 && p.value == 0x10000000aull, "batch sync point");

	/* without RING_IDX the ring is ignored */
	sub[1] = 0;
	sub[6] = 1000;
	CHECK(parse_words(VTEST_CMD_SUBMIT_CMD2, sub, 18) == 0, "no ring");
	vtest_submit_batch(&r, 0, &b);
	CHECK(b.ring_idx == 0, "ring ignored");

	mesa_submit();
	sub[6] = VTEST_MAX_TIMELINES;
	CHECK(parse_words(VTEST_CMD_SUBMIT_CMD2, sub, 18) == -EINVAL, "ring 64");
	mesa_submit();
	sub[1] = 2; /* IN_FENCE_FD of version 4 */
	CHECK(parse_words(VTEST_CMD_SUBMIT_CMD2, sub, 18) == -EINVAL, "fence flag");
	mesa_submit();
	sub[8] = 1;
	CHECK(parse_words(VTEST_CMD_SUBMIT_CMD2, sub, 18) == -EINVAL, "out syncobj");
	mesa_submit();
	sub[3] = 10;
	CHECK(parse_words(VTEST_CMD_SUBMIT_CMD2, sub, 18) == -EINVAL, "commands past the end");
	mesa_submit();
	sub[2] = 4;
	sub[3] = 2;
	CHECK(parse_words(VTEST_CMD_SUBMIT_CMD2, sub, 18) == -EINVAL, "commands in the header");
	mesa_submit();
	sub[2] = UINT32_MAX;
	sub[3] = 2;
	CHECK(parse_words(VTEST_CMD_SUBMIT_CMD2, sub, 18) == -EINVAL, "offset + size wraps");
	mesa_submit();
	sub[5] = 0x55555556; /* 3 * count wraps 32 bits to 2 */
	sub[4] = 16;
	CHECK(parse_words(VTEST_CMD_SUBMIT_CMD2, sub, 18) == -EINVAL, "sync count wraps");
	mesa_submit();
	sub[4] = 16;
	CHECK(parse_words(VTEST_CMD_SUBMIT_CMD2, sub, 18) == -EINVAL, "sync point past the end");
	mesa_submit();
	sub[0] = 2;
	CHECK(parse_words(VTEST_CMD_SUBMIT_CMD2, sub, 18) == -EINVAL, "batch 2 is commands");
	mesa_submit();
	sub[0] = 3;
	CHECK(parse_words(VTEST_CMD_SUBMIT_CMD2, sub, 18) == -EINVAL, "3 batches in 18 words");
	sub[0] = UINT32_MAX;
	CHECK(parse_words(VTEST_CMD_SUBMIT_CMD2, sub, 18) == -EINVAL, "4G batches");
	sub[0] = 0;
	CHECK(parse_words(VTEST_CMD_SUBMIT_CMD2, sub, 1) == 0 && r.submit.batch_count == 0,
	      "no batch");

	/* two batches back to back, the second with an empty command stream */
	static const uint32_t two[] = { 2, 1,  17, 1, 18, 0, 0,	    0, 0, 0, 18,
					0, 18, 1,  3, 0,  0, 0xabc, 9, 1, 0 };
	CHECK(parse_words(VTEST_CMD_SUBMIT_CMD2, two, sizeof(two) / 4) == 0, "two batches");
	vtest_submit_batch(&r, 1, &b);
	CHECK(b.cmd_words == 0 && b.sync_count == 1 && b.ring_idx == 0 && b.flags == 0,
	      "second batch");
	CHECK(vtest_sync_point(b.syncs, 0).id == 9, "second batch's point");
}

/* Payloads need no alignment: the fuzzer and a byte stream hand out any. */
static void test_unaligned(void)
{
	uint8_t buf[18 * 4 + 1];

	mesa_submit();
	memcpy(buf + 1, sub, sizeof(sub));
	CHECK(vtest_parse(VTEST_CMD_SUBMIT_CMD2, buf + 1, sizeof(sub), &r, &why) == 0,
	      "unaligned submit");
	CHECK(vtest_parse(VTEST_CMD_SUBMIT_CMD2, buf + 1, sizeof(sub) - 2, &r, &why) == -EMSGSIZE,
	      "submit, odd size");
}

int main(void)
{
	test_lengths();
	test_simple();
	test_blob();
	test_wait();
	test_submit();
	test_unaligned();
	return check_summary();
}
