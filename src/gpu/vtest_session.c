/*
 * A vtest client session: requests are read ahead into a buffer (as much
 * as the socket holds: Mesa writes each request in pieces, and several
 * requests before it waits for a reply), served once whole, checked by
 * vtest_proto and carried out through virglrenderer; any request the
 * protocol checks or virglrenderer refuse ends the session, since vtest has
 * no error replies and a client cannot recover from a lost answer anyway.
 *
 * Sync objects are timelines kept here: a SUBMIT_CMD2 batch on ring r with
 * sync points gets a per-context fence on r, and when virglrenderer reports
 * that fence (from virgl_renderer_context_poll, called in this loop and
 * before every sync query) the points are signalled in submission order. A
 * SYNC_WAIT answers with an eventfd that becomes readable once its points
 * are reached.
 */
#define _GNU_SOURCE
#include "gpu/vtest_session.h"

#include <errno.h>
#include <poll.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "gpu/vtest_proto.h"
#include "util/log.h"

#define CTX_ID	    1
#define MAX_OBJECTS (1u << 20) /* live resources, and live syncs, per client */
#define MAX_WAITS   4096
#define MAX_CAPSET  (64u << 10)
#define IN_BUF	    (64u << 10) /* requests read ahead; larger ones are read apart */
#define HDR_BYTES   (VTEST_HDR_WORDS * 4)

struct sync_obj {
	uint64_t value;
	uint32_t refs; /* the client's id, pending batches, pending waits */
};

struct point {
	struct sync_obj *sync; /* NULL once reached (waits) */
	uint64_t value;
};

/* A batch's sync points, signalled when fence seq of its ring retires. */
struct pending {
	struct pending *next;
	uint64_t seq;
	uint32_t count;
	struct point pts[];
};

struct timeline {
	struct pending *head, **tail;
	uint64_t seq;
};

struct wait {
	struct wait *next;
	int fd;		   /* eventfd; the client has its own copy */
	uint64_t deadline; /* CLOCK_MONOTONIC ns */
	bool any;
	uint32_t count, left;
	struct point pts[];
};

/* Client-visible ids, from 1; freed ids are reused first. */
struct id_table {
	void **slot; /* slot[id - 1] */
	uint32_t *free_ids;
	uint32_t len, cap, nfree;
};

struct session {
	const struct virgl_lib *lib;
	int fd;
	unsigned id;
	char name[64]; /* printable copy of the client's name, for messages */
	char *ctx_name;
	uint32_t ctx_name_len;
	bool have_renderer, have_context;
	uint32_t capset_id;
	int poll_fd;
	struct id_table resources, syncs;
	struct timeline timelines[VTEST_MAX_TIMELINES];
	uint32_t npending; /* batches whose fence has not retired yet */
	struct wait *waits;
	unsigned nwaits;
	uint8_t *in; /* requests read but not yet served: in[in_off, in_len) */
	size_t in_off, in_len;
	const char *why; /* reason for dropping the client */
};

static int fail(struct session *s, int err, const char *why)
{
	s->why = why;
	return err;
}

/* --- ids --- */

static int id_alloc(struct id_table *t, void *obj, uint32_t *id)
{
	if (t->nfree) {
		*id = t->free_ids[--t->nfree];
	} else {
		if (t->len == MAX_OBJECTS)
			return -ENOSPC;
		if (t->len == t->cap) {
			uint32_t cap = t->cap ? 2 * t->cap : 64;
			void **slot = realloc(t->slot, cap * sizeof(*slot));
			uint32_t *f;

			if (!slot)
				return -ENOMEM;
			t->slot = slot;
			f = realloc(t->free_ids, cap * sizeof(*f));
			if (!f)
				return -ENOMEM;
			t->free_ids = f;
			t->cap = cap;
		}
		*id = ++t->len;
	}
	t->slot[*id - 1] = obj;
	return 0;
}

static void *id_get(const struct id_table *t, uint32_t id)
{
	return id && id <= t->len ? t->slot[id - 1] : NULL;
}

static void id_free(struct id_table *t, uint32_t id)
{
	t->slot[id - 1] = NULL;
	t->free_ids[t->nfree++] = id;
}

static void id_table_fini(struct id_table *t)
{
	free(t->slot);
	free(t->free_ids);
}

/* --- syncs and waits --- */

static void sync_put(struct sync_obj *sync)
{
	if (!--sync->refs)
		free(sync);
}

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + ts.tv_nsec;
}

static void wait_free(struct wait *w)
{
	for (uint32_t i = 0; i < w->count; i++)
		if (w->pts[i].sync)
			sync_put(w->pts[i].sync);
	close(w->fd);
	free(w);
}

static void wait_ready(int fd)
{
	uint64_t one = 1;

	if (write(fd, &one, sizeof(one)) < 0)
		return; /* the counter cannot overflow from one write per wait */
}

/* Let go of waits whose time is up: the client stopped polling them. */
static void waits_expire(struct session *s)
{
	uint64_t now = now_ns();

	for (struct wait **p = &s->waits; *p;) {
		struct wait *w = *p;

		if (w->deadline < now) {
			*p = w->next;
			wait_free(w);
			s->nwaits--;
		} else {
			p = &w->next;
		}
	}
}

/*
 * A sync's value moves to value. Like virglrenderer's vtest, a lower value
 * (a reset) is taken as is and wakes nobody.
 */
static void sync_signal(struct session *s, struct sync_obj *sync, uint64_t value)
{
	bool raised = value > sync->value;

	sync->value = value;
	if (!raised)
		return;
	for (struct wait **p = &s->waits; *p;) {
		struct wait *w = *p;
		bool ready = false;

		for (uint32_t i = 0; i < w->count && !ready; i++) {
			if (w->pts[i].sync != sync || w->pts[i].value > value)
				continue;
			sync_put(sync);
			w->pts[i].sync = NULL;
			ready = !--w->left || w->any;
		}
		if (ready) {
			*p = w->next;
			wait_ready(w->fd);
			wait_free(w);
			s->nwaits--;
		} else {
			p = &w->next;
		}
	}
}

static void pending_free(struct pending *b)
{
	for (uint32_t i = 0; i < b->count; i++)
		sync_put(b->pts[i].sync);
	free(b);
}

/* virglrenderer's write_context_fence: fences of a ring retire in order,
 * and a mergeable fence may stand for the ones before it. */
static void fence_retired(void *cookie, uint32_t ctx_id, uint32_t ring, uint64_t seq)
{
	struct session *s = cookie;
	struct timeline *t;

	if (ctx_id != CTX_ID || ring >= VTEST_MAX_TIMELINES)
		return;
	t = &s->timelines[ring];
	while (t->head && t->head->seq <= seq) {
		struct pending *b = t->head;

		t->head = b->next;
		if (!t->head)
			t->tail = &t->head;
		s->npending--;
		for (uint32_t i = 0; i < b->count; i++)
			sync_signal(s, b->pts[i].sync, b->pts[i].value);
		pending_free(b);
	}
}

/*
 * Collect the fences the render server has retired since the last look, so
 * that a sync query sees them without waiting for the next turn of the loop
 * (a wait found reached is answered with a ready eventfd: the client need
 * not sleep on it).
 */
static void retire_fences(struct session *s)
{
	if (s->have_context && s->npending)
		s->lib->context_poll(CTX_ID);
}

/* --- socket I/O --- */

static int read_full(int fd, void *buf, size_t n)
{
	uint8_t *p = buf;
	size_t done = 0;

	while (done < n) {
		ssize_t r = read(fd, p + done, n - done);

		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return -errno;
		if (r == 0)
			return -EPIPE;
		done += r;
	}
	return 0;
}

static int write_full(struct session *s, const void *buf, size_t n)
{
	const uint8_t *p = buf;

	while (n) {
		ssize_t r = send(s->fd, p, n, MSG_NOSIGNAL);

		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return fail(s, -errno, "cannot write to the client");
		p += r;
		n -= r;
	}
	return 0;
}

static int reply(struct session *s, uint32_t cmd, const uint32_t *data, uint32_t words)
{
	uint32_t msg[VTEST_HDR_WORDS + 2] = { words, cmd };
	int ret;

	if (words <= 2) {
		if (words)
			memcpy(msg + VTEST_HDR_WORDS, data, words * 4);
		return write_full(s, msg, (VTEST_HDR_WORDS + words) * 4);
	}
	ret = write_full(s, msg, sizeof(uint32_t) * VTEST_HDR_WORDS);
	return ret ? ret : write_full(s, data, (size_t)words * 4);
}

/* An fd travels as ancillary data on a one-byte message. */
static int send_fd(struct session *s, int fd)
{
	char byte = 0;
	union {
		struct cmsghdr align;
		char buf[CMSG_SPACE(sizeof(int))];
	} ctl;
	struct iovec iov = { .iov_base = &byte, .iov_len = 1 };
	struct msghdr msg = {
		.msg_iov = &iov,
		.msg_iovlen = 1,
		.msg_control = ctl.buf,
		.msg_controllen = sizeof(ctl.buf),
	};
	struct cmsghdr *c = CMSG_FIRSTHDR(&msg);

	memset(&ctl, 0, sizeof(ctl));
	c->cmsg_level = SOL_SOCKET;
	c->cmsg_type = SCM_RIGHTS;
	c->cmsg_len = CMSG_LEN(sizeof(int));
	memcpy(CMSG_DATA(c), &fd, sizeof(int));
	while (sendmsg(s->fd, &msg, MSG_NOSIGNAL) < 0) {
		if (errno != EINTR)
			return fail(s, -errno, "cannot pass a file descriptor to the client");
	}
	return 0;
}

/* --- commands --- */

/*
 * virglrenderer, and with it the render server, starts only for a client
 * that has introduced itself: a stray connection costs no GPU process.
 */
static int renderer_init(struct session *s)
{
	static struct virgl_callbacks cbs = {
		.version = VIRGL_CALLBACKS_VERSION,
		.write_context_fence = fence_retired,
	};
	int ret;

	virgl_lib_route_log(s->lib);
	ret = s->lib->init(s,
			   VIRGL_INIT_VENUS | VIRGL_INIT_NO_VIRGL | VIRGL_INIT_RENDER_SERVER |
				   VIRGL_INIT_THREAD_SYNC | VIRGL_INIT_USE_EXTERNAL_BLOB,
			   &cbs);
	if (ret) {
		pr_err("gpu-serve: client %u: virglrenderer did not start its Venus render server "
		       "(%d); is virgl_render_server installed, or RENDER_SERVER_EXEC_PATH set?",
		       s->id, ret);
		return fail(s, -EIO, "no render server");
	}
	s->have_renderer = true;
	return 0;
}

static int do_create_renderer(struct session *s, const struct vtest_req *r)
{
	uint32_t n = 0;

	s->ctx_name = malloc(r->renderer.len + 1);
	if (!s->ctx_name)
		return fail(s, -ENOMEM, "out of memory");
	memcpy(s->ctx_name, r->renderer.name, r->renderer.len);
	s->ctx_name[r->renderer.len] = 0;
	s->ctx_name_len = r->renderer.len;
	for (uint32_t i = 0; i < r->renderer.len && n < sizeof(s->name) - 1; i++) {
		char c = r->renderer.name[i];

		s->name[n++] = c >= 0x20 && c < 0x7f ? c : '?';
	}
	s->name[n] = 0;
	pr_info("gpu-serve: client %u is '%s'", s->id, s->name);
	return renderer_init(s);
}

static int do_get_capset(struct session *s, const struct vtest_req *r)
{
	uint32_t max_version = 0, size = 0, invalid = 0;
	uint32_t *caps;
	int ret;

	s->lib->get_cap_set(r->capset.id, &max_version, &size);
	if ((!max_version && !size) || r->capset.version > max_version)
		return reply(s, VTEST_CMD_GET_CAPSET, &invalid, 1);
	if (size % 4 || size > MAX_CAPSET)
		return fail(s, -EINVAL, "virglrenderer reported an odd capset size");
	caps = calloc(1 + size / 4, 4);
	if (!caps)
		return fail(s, -ENOMEM, "out of memory");
	caps[0] = 1; /* valid */
	s->lib->fill_caps(r->capset.id, r->capset.version, caps + 1);
	ret = reply(s, VTEST_CMD_GET_CAPSET, caps, 1 + size / 4);
	free(caps);
	return ret;
}

static int do_context_init(struct session *s, const struct vtest_req *r)
{
	uint32_t capset = r->context_init.capset_id;

	if (s->have_context)
		return capset == s->capset_id ? 0 : fail(s, -EINVAL, "second CONTEXT_INIT");
	if (capset != VTEST_CAPSET_VENUS)
		return fail(s, -EINVAL, "CONTEXT_INIT: only Venus contexts (capset 4) are served");
	if (s->lib->context_create_with_flags(CTX_ID, capset & VIRGL_CTX_FLAG_CAPSET_MASK,
					      s->ctx_name_len, s->ctx_name))
		return fail(s, -EIO, "virglrenderer could not create the Venus context");
	s->have_context = true;
	s->capset_id = capset;
	s->poll_fd = s->lib->context_get_poll_fd(CTX_ID);
	return 0;
}

static int do_create_blob(struct session *s, const struct vtest_req *r)
{
	struct virgl_blob_args args = {
		.ctx_id = CTX_ID,
		.blob_mem = r->blob.type,
		.blob_flags = r->blob.flags,
		.blob_id = r->blob.blob_id,
		.size = r->blob.size,
	};
	uint32_t id, fd_type;
	int fd = -1, ret;

	/* Guest-memory blobs are the virgl driver's; Venus asks for host ones. */
	if (r->blob.type != VTEST_BLOB_HOST3D)
		return fail(s, -EINVAL,
			    "RESOURCE_CREATE_BLOB: only host (HOST3D) blobs are served");
	ret = id_alloc(&s->resources, s, &id);
	if (ret)
		return fail(s, ret, "too many resources");
	args.res_handle = id;
	if (s->lib->resource_create_blob(&args)) {
		id_free(&s->resources, id);
		return fail(s, -EIO, "virglrenderer could not create a blob resource");
	}
	ret = s->lib->resource_export_blob(id, &fd_type, &fd);
	if (ret || (fd_type != VIRGL_BLOB_FD_DMABUF && fd_type != VIRGL_BLOB_FD_SHM)) {
		if (!ret)
			close(fd);
		s->lib->resource_unref(id);
		id_free(&s->resources, id);
		return fail(s, -EIO,
			    ret ? "virglrenderer could not export a blob resource (a host driver "
				  "without dma-buf export needs the host-memory bridge)"
				: "the host driver exported a blob as an opaque fd, which a "
				  "client cannot map: serve with the host-memory bridge (no "
				  "--no-bridge)");
	}
	s->lib->ctx_attach_resource(CTX_ID, id);
	ret = reply(s, VTEST_CMD_RESOURCE_CREATE_BLOB, &id, 1);
	if (!ret)
		ret = send_fd(s, fd);
	close(fd);
	return ret;
}

static int do_resource_unref(struct session *s, const struct vtest_req *r)
{
	if (!id_get(&s->resources, r->obj.id))
		return fail(s, -ENOENT, "RESOURCE_UNREF: no such resource");
	s->lib->resource_unref(r->obj.id);
	id_free(&s->resources, r->obj.id);
	return 0;
}

static int do_sync_create(struct session *s, const struct vtest_req *r)
{
	struct sync_obj *sync = calloc(1, sizeof(*sync));
	uint32_t id;
	int ret;

	if (!sync)
		return fail(s, -ENOMEM, "out of memory");
	sync->value = r->sync_create.value;
	sync->refs = 1;
	ret = id_alloc(&s->syncs, sync, &id);
	if (ret) {
		free(sync);
		return fail(s, ret, "too many sync objects");
	}
	return reply(s, VTEST_CMD_SYNC_CREATE, &id, 1);
}

static struct sync_obj *sync_lookup(struct session *s, uint32_t id)
{
	struct sync_obj *sync = id_get(&s->syncs, id);

	if (!sync)
		fail(s, -ENOENT, "no such sync object");
	return sync;
}

static int do_sync_unref(struct session *s, const struct vtest_req *r)
{
	struct sync_obj *sync = sync_lookup(s, r->obj.id);

	if (!sync)
		return -ENOENT;
	id_free(&s->syncs, r->obj.id);
	sync_put(sync);
	return 0;
}

static int do_sync_read(struct session *s, const struct vtest_req *r)
{
	struct sync_obj *sync = sync_lookup(s, r->obj.id);
	uint32_t v[2];

	if (!sync)
		return -ENOENT;
	retire_fences(s);
	v[0] = (uint32_t)sync->value;
	v[1] = (uint32_t)(sync->value >> 32);
	return reply(s, VTEST_CMD_SYNC_READ, v, 2);
}

static int do_sync_write(struct session *s, const struct vtest_req *r)
{
	struct sync_obj *sync = sync_lookup(s, r->sync.id);

	if (!sync)
		return -ENOENT;
	sync_signal(s, sync, r->sync.value);
	return 0;
}

static int do_sync_wait(struct session *s, const struct vtest_req *r)
{
	struct wait *w;
	bool ready;
	int ret;

	waits_expire(s);
	retire_fences(s);
	if (s->nwaits >= MAX_WAITS)
		return fail(s, -ENOSPC, "too many sync waits pending");
	w = calloc(1, sizeof(*w) + (size_t)r->wait.count * sizeof(w->pts[0]));
	if (!w)
		return fail(s, -ENOMEM, "out of memory");
	w->fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (w->fd < 0) {
		free(w);
		return fail(s, -errno, "cannot create an eventfd");
	}
	w->any = r->wait.flags & VTEST_SYNC_WAIT_ANY;
	w->deadline = r->wait.timeout_ms > INT32_MAX
			      ? UINT64_MAX
			      : now_ns() + (uint64_t)r->wait.timeout_ms * 1000000u;
	for (uint32_t i = 0; i < r->wait.count; i++) {
		struct vtest_sync_point p = vtest_sync_point(r->wait.points, i);
		struct sync_obj *sync = sync_lookup(s, p.id);

		if (!sync) {
			wait_free(w);
			return -ENOENT;
		}
		if (sync->value >= p.value)
			continue; /* reached already */
		sync->refs++;
		w->pts[w->count++] = (struct point){ sync, p.value };
	}
	w->left = w->count;
	ready = !w->count || (w->any && w->count < r->wait.count);
	if (ready)
		wait_ready(w->fd);
	ret = reply(s, VTEST_CMD_SYNC_WAIT, NULL, 0);
	if (!ret)
		ret = send_fd(s, w->fd);
	if (ret || ready || !r->wait.timeout_ms) {
		wait_free(w);
		return ret;
	}
	w->next = s->waits;
	s->waits = w;
	s->nwaits++;
	return 0;
}

static int submit_syncs(struct session *s, const struct vtest_batch *b)
{
	struct timeline *t = &s->timelines[b->ring_idx];
	struct pending *p;

	if (!(b->flags & VTEST_SUBMIT_RING_IDX)) {
		/* No ring, no fence: the points are reached once submitted. */
		for (uint32_t i = 0; i < b->sync_count; i++) {
			struct vtest_sync_point pt = vtest_sync_point(b->syncs, i);

			sync_signal(s, id_get(&s->syncs, pt.id), pt.value);
		}
		return 0;
	}
	p = malloc(sizeof(*p) + (size_t)b->sync_count * sizeof(p->pts[0]));
	if (!p)
		return fail(s, -ENOMEM, "out of memory");
	p->next = NULL;
	p->count = b->sync_count;
	p->seq = ++t->seq;
	for (uint32_t i = 0; i < b->sync_count; i++) {
		struct vtest_sync_point pt = vtest_sync_point(b->syncs, i);

		p->pts[i] = (struct point){ id_get(&s->syncs, pt.id), pt.value };
		p->pts[i].sync->refs++;
	}
	if (s->lib->context_create_fence(CTX_ID, VIRGL_FENCE_FLAG_MERGEABLE, b->ring_idx, p->seq)) {
		pending_free(p);
		return fail(s, -EIO, "virglrenderer could not create a fence");
	}
	*t->tail = p;
	t->tail = &p->next;
	s->npending++;
	return 0;
}

static int do_submit(struct session *s, const struct vtest_req *r)
{
	struct vtest_batch b;

	/* Every sync id is checked before anything is submitted. */
	for (uint32_t i = 0; i < r->submit.batch_count; i++) {
		vtest_submit_batch(r, i, &b);
		for (uint32_t k = 0; k < b.sync_count; k++)
			if (!sync_lookup(s, vtest_sync_point(b.syncs, k).id))
				return -ENOENT;
	}
	for (uint32_t i = 0; i < r->submit.batch_count; i++) {
		int ret;

		vtest_submit_batch(r, i, &b);
		/* The payload buffer is malloc'd and offsets count words, so
		 * the commands are 4-byte aligned as virglrenderer requires. */
		if (b.cmd_words && s->lib->submit_cmd((void *)b.cmds, CTX_ID, (int)b.cmd_words))
			return fail(s, -EIO, "virglrenderer refused a command stream");
		if (b.sync_count) {
			ret = submit_syncs(s, &b);
			if (ret)
				return ret;
		}
	}
	return 0;
}

static int dispatch(struct session *s, const struct vtest_req *r)
{
	uint32_t v[2];

	if (!s->have_renderer && r->cmd != VTEST_CMD_CREATE_RENDERER)
		return fail(s, -EPROTO, "the first request must be CREATE_RENDERER");
	switch (r->cmd) {
	case VTEST_CMD_CREATE_RENDERER:
		if (s->have_renderer)
			return fail(s, -EPROTO, "second CREATE_RENDERER");
		return do_create_renderer(s, r);
	case VTEST_CMD_PING_PROTOCOL_VERSION:
		return reply(s, VTEST_CMD_PING_PROTOCOL_VERSION, NULL, 0);
	case VTEST_CMD_PROTOCOL_VERSION:
		v[0] = r->protocol.version < VTEST_PROTOCOL_VERSION ? r->protocol.version
								    : VTEST_PROTOCOL_VERSION;
		return reply(s, VTEST_CMD_PROTOCOL_VERSION, v, 1);
	case VTEST_CMD_RESOURCE_BUSY_WAIT:
		/* Only sent to probe for PING_PROTOCOL_VERSION; nothing here
		 * uses the implicit fences it waits for, so nothing is busy. */
		v[0] = 0;
		return reply(s, VTEST_CMD_RESOURCE_BUSY_WAIT, v, 1);
	case VTEST_CMD_GET_PARAM:
		v[0] = r->param.param == VTEST_PARAM_MAX_TIMELINE_COUNT;
		v[1] = v[0] ? VTEST_MAX_TIMELINES : 0;
		return reply(s, VTEST_CMD_GET_PARAM, v, 2);
	case VTEST_CMD_GET_CAPSET:
		return do_get_capset(s, r);
	case VTEST_CMD_CONTEXT_INIT:
		return do_context_init(s, r);
	case VTEST_CMD_SYNC_CREATE:
		return do_sync_create(s, r);
	case VTEST_CMD_SYNC_UNREF:
		return do_sync_unref(s, r);
	case VTEST_CMD_SYNC_READ:
		return do_sync_read(s, r);
	case VTEST_CMD_SYNC_WRITE:
		return do_sync_write(s, r);
	case VTEST_CMD_SYNC_WAIT:
		return do_sync_wait(s, r);
	}
	if (!s->have_context)
		return fail(s, -EPROTO, "resource or submit request before CONTEXT_INIT");
	switch (r->cmd) {
	case VTEST_CMD_RESOURCE_CREATE_BLOB:
		return do_create_blob(s, r);
	case VTEST_CMD_RESOURCE_UNREF:
		return do_resource_unref(s, r);
	case VTEST_CMD_SUBMIT_CMD2:
		return do_submit(s, r);
	}
	return fail(s, -EPROTO, "unknown command");
}

/* Check and carry out one request whose payload is in memory. */
static int serve_request(struct session *s, const uint32_t *hdr, const void *payload, size_t size)
{
	struct vtest_req req;
	int ret;

	ret = vtest_parse(hdr[1], payload, size, &req, &s->why);
	return ret ? ret : dispatch(s, &req);
}

/*
 * A request too large for the input buffer: what was buffered of its
 * payload, and the rest read straight from the socket into a buffer of its
 * own. malloc aligns for any type: SUBMIT_CMD2 commands are word-aligned.
 */
static int serve_large(struct session *s, const uint32_t *hdr, size_t size)
{
	size_t have = s->in_len - s->in_off;
	uint8_t *payload = malloc(size);
	int ret;

	if (!payload)
		return fail(s, -ENOMEM, "out of memory for a request");
	memcpy(payload, s->in + s->in_off, have);
	s->in_off = s->in_len = 0;
	ret = read_full(s->fd, payload + have, size - have);
	if (ret)
		ret = fail(s, ret, "connection lost in a request payload");
	else
		ret = serve_request(s, hdr, payload, size);
	free(payload);
	return ret;
}

/*
 * Serve every whole request in the input buffer, in order. A request whose
 * payload has not all arrived waits in the buffer for the next read, unless
 * it cannot fit there.
 */
static int serve_buffered(struct session *s)
{
	while (s->in_len - s->in_off >= HDR_BYTES) {
		size_t avail = s->in_len - s->in_off;
		uint32_t hdr[VTEST_HDR_WORDS];
		const uint8_t *payload;
		int64_t size;
		int ret;

		memcpy(hdr, s->in + s->in_off, sizeof(hdr));
		size = vtest_payload_bytes(hdr[1], hdr[0]);
		if (size == -EPROTO)
			return fail(s, -EPROTO, "unknown or unsupported command");
		if (size < 0)
			return fail(s, -EMSGSIZE, "request length does not fit the command");
		if (HDR_BYTES + (size_t)size > IN_BUF) {
			s->in_off += HDR_BYTES;
			ret = serve_large(s, hdr, size);
			if (ret)
				return ret;
			continue;
		}
		if (avail < HDR_BYTES + (size_t)size)
			break;
		/* Byte-sized payloads (a renderer's name) can leave the next
		 * request unaligned: move it to the buffer's (aligned) start. */
		if (s->in_off % 4) {
			memmove(s->in, s->in + s->in_off, avail);
			s->in_off = 0;
			s->in_len = avail;
		}
		payload = s->in + s->in_off + HDR_BYTES;
		s->in_off += HDR_BYTES + size;
		ret = serve_request(s, hdr, payload, size);
		if (ret)
			return ret;
	}
	if (s->in_off == s->in_len)
		s->in_off = s->in_len = 0;
	return 0;
}

/*
 * Read what the socket holds (the client writes a request in several
 * pieces, and often several requests before it reads a reply) and serve the
 * whole requests. 1 when the client hung up cleanly.
 */
static int serve_input(struct session *s)
{
	ssize_t r;

	if (s->in_off) {
		memmove(s->in, s->in + s->in_off, s->in_len - s->in_off);
		s->in_len -= s->in_off;
		s->in_off = 0;
	}
	r = recv(s->fd, s->in + s->in_len, IN_BUF - s->in_len, MSG_DONTWAIT);
	if (r < 0)
		return errno == EINTR || errno == EAGAIN
			       ? 0
			       : fail(s, -errno, "cannot read from the client");
	if (r == 0)
		return s->in_len ? fail(s, -EPIPE, "connection lost in a request") : 1;
	s->in_len += r;
	return serve_buffered(s);
}

static int serve(struct session *s)
{
	for (;;) {
		struct pollfd pfd[2] = { { .fd = s->fd, .events = POLLIN },
					 { .fd = s->poll_fd, .events = POLLIN } };
		/* Without a poll fd from virglrenderer, fences are polled for. */
		int timeout = s->have_context && s->poll_fd < 0 ? 1 : -1;
		int ret;

		ret = poll(pfd, s->poll_fd >= 0 ? 2 : 1, timeout);
		if (ret < 0 && errno == EINTR)
			continue;
		if (ret < 0)
			return fail(s, -errno, "poll failed");
		if (s->have_context && (s->poll_fd < 0 || pfd[1].revents))
			s->lib->context_poll(CTX_ID);
		if (pfd[0].revents) {
			ret = serve_input(s);
			if (ret)
				return ret > 0 ? 0 : ret;
		}
	}
}

static void session_fini(struct session *s)
{
	for (unsigned r = 0; r < VTEST_MAX_TIMELINES; r++) {
		while (s->timelines[r].head) {
			struct pending *p = s->timelines[r].head;

			s->timelines[r].head = p->next;
			pending_free(p);
		}
	}
	while (s->waits) {
		struct wait *w = s->waits;

		s->waits = w->next;
		wait_free(w);
	}
	for (uint32_t id = 1; id <= s->syncs.len; id++)
		if (id_get(&s->syncs, id))
			sync_put(id_get(&s->syncs, id));
	for (uint32_t id = 1; id <= s->resources.len; id++)
		if (id_get(&s->resources, id))
			s->lib->resource_unref(id);
	if (s->have_context)
		s->lib->context_destroy(CTX_ID);
	id_table_fini(&s->syncs);
	id_table_fini(&s->resources);
	free(s->ctx_name);
	free(s->in);
}

int vtest_session_run(const struct virgl_lib *lib, int fd, unsigned id)
{
	struct session s = { .lib = lib, .fd = fd, .id = id, .poll_fd = -1, .name = "?" };
	int ret;

	s.in = malloc(IN_BUF);
	if (!s.in) {
		pr_warn("gpu-serve: client %u dropped: out of memory", id);
		return -ENOMEM;
	}
	for (unsigned r = 0; r < VTEST_MAX_TIMELINES; r++)
		s.timelines[r].tail = &s.timelines[r].head;
	ret = serve(&s);
	if (ret)
		pr_warn("gpu-serve: client %u ('%s') dropped: %s", id, s.name,
			s.why ? s.why : strerror(-ret));
	else
		pr_info("gpu-serve: client %u ('%s') disconnected", id, s.name);
	session_fini(&s);
	if (s.have_renderer)
		lib->cleanup(&s);
	return ret;
}
