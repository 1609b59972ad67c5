#include "virtio/gpu_cmd.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "util/log.h"
#include "virtio/gpu_proto.h"

#define BUCKETS	  256
#define PAGE_SIZE 4096ULL

enum res_kind { RES_2D, RES_BLOB };

struct gpu_res {
	struct gpu_res *next;
	uint32_t id;
	enum res_kind kind;
	/* 2D */
	uint32_t width, height;
	bool backed;
	/* blob */
	uint32_t blob_mem, blob_flags;
	uint64_t size;
	struct iovec *iov; /* guest pages handed to the renderer */
	unsigned niov;
	bool mapped;
	int slot;
	uint64_t map_off, map_len;
};

struct gpu_ctx {
	struct gpu_ctx *next;
	uint32_t id;
	uint32_t capset;
};

static unsigned bucket(uint32_t id)
{
	return (id * 2654435761u) >> 24;
}

static struct gpu_res *res_find(struct gpu_state *g, uint32_t id)
{
	for (struct gpu_res *r = g->res_buckets[bucket(id)]; r; r = r->next)
		if (r->id == id)
			return r;
	return NULL;
}

static void res_insert(struct gpu_state *g, struct gpu_res *r)
{
	unsigned b = bucket(r->id);

	r->next = g->res_buckets[b];
	g->res_buckets[b] = r;
	g->nres++;
}

static void res_remove(struct gpu_state *g, struct gpu_res *r)
{
	for (struct gpu_res **p = &g->res_buckets[bucket(r->id)]; *p; p = &(*p)->next)
		if (*p == r) {
			*p = r->next;
			g->nres--;
			return;
		}
}

static struct gpu_ctx *ctx_find(struct gpu_state *g, uint32_t id)
{
	for (struct gpu_ctx *c = g->ctx_buckets[bucket(id)]; c; c = c->next)
		if (c->id == id)
			return c;
	return NULL;
}

bool gpu_ctx_exists(struct gpu_state *g, uint32_t ctx_id)
{
	return ctx_find(g, ctx_id) != NULL;
}

int gpu_state_init(struct gpu_state *g, const struct guest_mem *mem,
		   const struct gpu_backend_ops *ops, void *backend,
		   const struct gpu_window_ops *wops, void *window, uint64_t window_size,
		   const struct gpu_capset *capsets, unsigned ncapsets)
{
	memset(g, 0, sizeof(*g));
	if (ncapsets > GPU_MAX_CAPSETS)
		return -EINVAL;
	g->mem = mem;
	g->ops = ops;
	g->backend = backend;
	g->wops = wops;
	g->window = window;
	g->window_size = window_size;
	memcpy(g->capsets, capsets, ncapsets * sizeof(*capsets));
	g->ncapsets = ncapsets;
	g->res_buckets = calloc(BUCKETS, sizeof(*g->res_buckets));
	g->ctx_buckets = calloc(BUCKETS, sizeof(*g->ctx_buckets));
	if (!g->res_buckets || !g->ctx_buckets) {
		gpu_state_destroy(g);
		return -ENOMEM;
	}
	return 0;
}

static void blob_unmap(struct gpu_state *g, struct gpu_res *r)
{
	if (!r->mapped)
		return;
	/* The guest loses the range before the renderer frees the memory behind it. */
	g->wops->unmap(g->window, r->slot);
	g->ops->blob_unmap(g->backend, r->id);
	r->mapped = false;
	g->nmapped--;
}

static void res_free(struct gpu_state *g, struct gpu_res *r)
{
	blob_unmap(g, r);
	if (r->kind == RES_BLOB)
		g->ops->resource_unref(g->backend, r->id);
	res_remove(g, r);
	if (g->scanout_res == r->id)
		g->scanout_res = 0;
	free(r->iov);
	free(r);
}

void gpu_state_reset(struct gpu_state *g)
{
	if (!g->res_buckets)
		return;
	/* Mappings and resources first: contexts own nothing the renderer still needs. */
	for (unsigned b = 0; b < BUCKETS; b++)
		while (g->res_buckets[b])
			res_free(g, g->res_buckets[b]);
	for (unsigned b = 0; b < BUCKETS; b++)
		while (g->ctx_buckets[b]) {
			struct gpu_ctx *c = g->ctx_buckets[b];

			g->ctx_buckets[b] = c->next;
			g->ops->ctx_destroy(g->backend, c->id);
			free(c);
		}
	g->nctx = 0;
}

void gpu_state_destroy(struct gpu_state *g)
{
	gpu_state_reset(g);
	free(g->res_buckets);
	free(g->ctx_buckets);
	g->res_buckets = NULL;
	g->ctx_buckets = NULL;
}

const char *gpu_cmd_name(uint32_t type)
{
	static const char *const names_2d[] = {
		"GET_DISPLAY_INFO", "RESOURCE_CREATE_2D",  "RESOURCE_UNREF", "SET_SCANOUT",
		"RESOURCE_FLUSH",   "TRANSFER_TO_HOST_2D", "ATTACH_BACKING", "DETACH_BACKING",
		"GET_CAPSET_INFO",  "GET_CAPSET",	   "GET_EDID",	     "RESOURCE_ASSIGN_UUID",
		"CREATE_BLOB",	    "SET_SCANOUT_BLOB",
	};
	static const char *const names_3d[] = {
		"CTX_CREATE",
		"CTX_DESTROY",
		"CTX_ATTACH_RESOURCE",
		"CTX_DETACH_RESOURCE",
		"RESOURCE_CREATE_3D",
		"TRANSFER_TO_HOST_3D",
		"TRANSFER_FROM_HOST_3D",
		"SUBMIT_3D",
		"MAP_BLOB",
		"UNMAP_BLOB",
	};

	if (type >= 0x100 && type - 0x100 < sizeof(names_2d) / sizeof(*names_2d))
		return names_2d[type - 0x100];
	if (type >= 0x200 && type - 0x200 < sizeof(names_3d) / sizeof(*names_3d))
		return names_3d[type - 0x200];
	if (type == GPU_CMD_UPDATE_CURSOR || type == GPU_CMD_MOVE_CURSOR)
		return "CURSOR";
	return "unknown";
}

/* ---- helpers for handlers ---- */

struct cmd {
	struct gpu_state *g;
	const struct gpu_hdr *hdr;
	uint8_t *body; /* after the header */
	size_t body_len;
	uint8_t *resp;
	size_t resp_max;
	struct gpu_reply *r;
};

static uint32_t ok_nodata(struct cmd *c)
{
	(void)c;
	return GPU_RESP_OK_NODATA;
}

/* The body must hold at least a struct of this size. */
#define BODY(c, type) ((c)->body_len >= sizeof(type) ? (type *)(c)->body : NULL)

/*
 * Translate guest entries (after a fixed part of the body) into host iovecs:
 * every range lies wholly in guest RAM, lengths are non-zero, totals bounded.
 */
static uint32_t parse_entries(struct cmd *c, size_t fixed, uint32_t n, struct iovec **out,
			      uint64_t *total)
{
	const struct gpu_mem_entry *e = (const void *)(c->body + fixed);
	struct iovec *iov;

	*out = NULL;
	*total = 0;
	if (n == 0)
		return GPU_RESP_OK_NODATA;
	if (n > GPU_MAX_ENTRIES || (c->body_len - fixed) / sizeof(*e) < n)
		return GPU_RESP_ERR_INVALID_PARAMETER;
	iov = calloc(n, sizeof(*iov));
	if (!iov)
		return GPU_RESP_ERR_OUT_OF_MEMORY;
	for (uint32_t i = 0; i < n; i++) {
		struct gpu_mem_entry ent;
		void *p;

		memcpy(&ent, &e[i], sizeof(ent));
		p = ent.length ? guest_mem_ptr(c->g->mem, ent.addr, ent.length) : NULL;
		if (!p) {
			free(iov);
			return GPU_RESP_ERR_INVALID_PARAMETER;
		}
		iov[i].iov_base = p;
		iov[i].iov_len = ent.length;
		*total += ent.length;
	}
	*out = iov;
	return GPU_RESP_OK_NODATA;
}

static bool rect_inside(const struct gpu_rect *rc, uint32_t w, uint32_t h)
{
	return rc->x <= w && rc->width <= w - rc->x && rc->y <= h && rc->height <= h - rc->y;
}

/* ---- 2D: resources with no display behind them ---- */

static uint32_t get_display_info(struct cmd *c)
{
	struct gpu_resp_display_info *d = (void *)c->resp;

	/* One scanout (Linux before 6.3 needs one), no monitor connected. */
	memset(d->pmodes, 0, sizeof(d->pmodes));
	c->r->len = sizeof(*d);
	return GPU_RESP_OK_DISPLAY_INFO;
}

static uint32_t create_2d(struct cmd *c)
{
	struct gpu_resource_create_2d *a = BODY(c, struct gpu_resource_create_2d);
	struct gpu_res *r;

	if (!a)
		return GPU_RESP_ERR_INVALID_PARAMETER;
	if (!a->resource_id || res_find(c->g, a->resource_id))
		return GPU_RESP_ERR_INVALID_RESOURCE_ID;
	if (!a->width || !a->height || a->width > GPU_MAX_2D_DIMENSION ||
	    a->height > GPU_MAX_2D_DIMENSION)
		return GPU_RESP_ERR_INVALID_PARAMETER;
	if (c->g->nres >= GPU_MAX_RESOURCES)
		return GPU_RESP_ERR_OUT_OF_MEMORY;
	r = calloc(1, sizeof(*r));
	if (!r)
		return GPU_RESP_ERR_OUT_OF_MEMORY;
	r->id = a->resource_id;
	r->kind = RES_2D;
	r->width = a->width;
	r->height = a->height;
	res_insert(c->g, r);
	return GPU_RESP_OK_NODATA;
}

static struct gpu_res *res_arg(struct cmd *c, uint32_t id, enum res_kind kind)
{
	struct gpu_res *r = res_find(c->g, id);

	return r && r->kind == kind ? r : NULL;
}

static uint32_t resource_unref(struct cmd *c)
{
	struct gpu_resource_id *a = BODY(c, struct gpu_resource_id);
	struct gpu_res *r = a ? res_find(c->g, a->resource_id) : NULL;

	if (!a)
		return GPU_RESP_ERR_INVALID_PARAMETER;
	if (!r)
		return GPU_RESP_ERR_INVALID_RESOURCE_ID;
	res_free(c->g, r);
	return GPU_RESP_OK_NODATA;
}

static uint32_t set_scanout(struct cmd *c)
{
	struct gpu_set_scanout *a = BODY(c, struct gpu_set_scanout);
	struct gpu_res *r;

	if (!a)
		return GPU_RESP_ERR_INVALID_PARAMETER;
	if (a->scanout_id != 0)
		return GPU_RESP_ERR_INVALID_SCANOUT_ID;
	if (!a->resource_id) {
		c->g->scanout_res = 0;
		return GPU_RESP_OK_NODATA;
	}
	r = res_arg(c, a->resource_id, RES_2D);
	if (!r)
		return GPU_RESP_ERR_INVALID_RESOURCE_ID;
	if (!rect_inside(&a->r, r->width, r->height))
		return GPU_RESP_ERR_INVALID_PARAMETER;
	c->g->scanout_res = r->id;
	return GPU_RESP_OK_NODATA;
}

static uint32_t resource_flush(struct cmd *c)
{
	struct gpu_resource_flush *a = BODY(c, struct gpu_resource_flush);
	struct gpu_res *r = a ? res_arg(c, a->resource_id, RES_2D) : NULL;

	if (!a)
		return GPU_RESP_ERR_INVALID_PARAMETER;
	if (!r)
		return GPU_RESP_ERR_INVALID_RESOURCE_ID;
	return rect_inside(&a->r, r->width, r->height) ? GPU_RESP_OK_NODATA
						       : GPU_RESP_ERR_INVALID_PARAMETER;
}

static uint32_t transfer_2d(struct cmd *c)
{
	struct gpu_transfer_to_host_2d *a = BODY(c, struct gpu_transfer_to_host_2d);
	struct gpu_res *r = a ? res_arg(c, a->resource_id, RES_2D) : NULL;

	if (!a)
		return GPU_RESP_ERR_INVALID_PARAMETER;
	if (!r)
		return GPU_RESP_ERR_INVALID_RESOURCE_ID;
	if (!r->backed || !rect_inside(&a->r, r->width, r->height))
		return GPU_RESP_ERR_INVALID_PARAMETER;
	/* No display: there is nowhere to copy the pixels to. */
	return GPU_RESP_OK_NODATA;
}

static uint32_t attach_backing(struct cmd *c)
{
	struct gpu_attach_backing *a = BODY(c, struct gpu_attach_backing);
	struct gpu_res *r = a ? res_arg(c, a->resource_id, RES_2D) : NULL;
	struct iovec *iov;
	uint64_t total;
	uint32_t ret;

	if (!a)
		return GPU_RESP_ERR_INVALID_PARAMETER;
	if (!r)
		return GPU_RESP_ERR_INVALID_RESOURCE_ID;
	if (r->backed || !a->nr_entries)
		return GPU_RESP_ERR_INVALID_PARAMETER;
	ret = parse_entries(c, sizeof(*a), a->nr_entries, &iov, &total);
	if (ret != GPU_RESP_OK_NODATA)
		return ret;
	free(r->iov);
	r->iov = iov;
	r->niov = a->nr_entries;
	r->backed = true;
	return GPU_RESP_OK_NODATA;
}

static uint32_t detach_backing(struct cmd *c)
{
	struct gpu_resource_id *a = BODY(c, struct gpu_resource_id);
	struct gpu_res *r = a ? res_arg(c, a->resource_id, RES_2D) : NULL;

	if (!a)
		return GPU_RESP_ERR_INVALID_PARAMETER;
	if (!r)
		return GPU_RESP_ERR_INVALID_RESOURCE_ID;
	if (!r->backed)
		return GPU_RESP_ERR_INVALID_PARAMETER;
	free(r->iov);
	r->iov = NULL;
	r->niov = 0;
	r->backed = false;
	return GPU_RESP_OK_NODATA;
}

/* ---- capsets ---- */

static uint32_t get_capset_info(struct cmd *c)
{
	struct gpu_get_capset_info *a = BODY(c, struct gpu_get_capset_info);
	struct gpu_resp_capset_info *o = (void *)c->resp;

	if (!a || a->capset_index >= c->g->ncapsets)
		return GPU_RESP_ERR_INVALID_PARAMETER;
	o->capset_id = c->g->capsets[a->capset_index].id;
	o->capset_max_version = c->g->capsets[a->capset_index].max_version;
	o->capset_max_size = c->g->capsets[a->capset_index].max_size;
	o->padding = 0;
	c->r->len = sizeof(*o);
	return GPU_RESP_OK_CAPSET_INFO;
}

static uint32_t get_capset(struct cmd *c)
{
	struct gpu_get_capset *a = BODY(c, struct gpu_get_capset);
	const struct gpu_capset *cs = NULL;
	uint32_t size;

	if (!a)
		return GPU_RESP_ERR_INVALID_PARAMETER;
	for (unsigned i = 0; i < c->g->ncapsets; i++)
		if (c->g->capsets[i].id == a->capset_id)
			cs = &c->g->capsets[i];
	if (!cs || a->capset_version > cs->max_version)
		return GPU_RESP_ERR_INVALID_PARAMETER;
	size = cs->max_size;
	if (size > c->resp_max - sizeof(struct gpu_hdr))
		return GPU_RESP_ERR_OUT_OF_MEMORY;
	memset(c->resp + sizeof(struct gpu_hdr), 0, size);
	if (c->g->ops->fill_capset(c->g->backend, cs->id, a->capset_version,
				   c->resp + sizeof(struct gpu_hdr), size))
		return GPU_RESP_ERR_UNSPEC;
	c->r->len = sizeof(struct gpu_hdr) + size;
	return GPU_RESP_OK_CAPSET;
}

/* ---- contexts ---- */

static uint32_t ctx_create(struct cmd *c)
{
	struct gpu_ctx_create *a = BODY(c, struct gpu_ctx_create);
	uint32_t id = c->hdr->ctx_id;
	uint32_t capset;
	struct gpu_ctx *x;
	char name[65];
	bool known = false;

	if (!a)
		return GPU_RESP_ERR_INVALID_PARAMETER;
	if (!id || ctx_find(c->g, id))
		return GPU_RESP_ERR_INVALID_CONTEXT_ID;
	/* context_init: capset id in the low byte; 0 means the legacy virgl capset. */
	capset = a->context_init & 0xff;
	if (!capset)
		capset = GPU_CAPSET_VIRGL;
	for (unsigned i = 0; i < c->g->ncapsets; i++)
		known |= c->g->capsets[i].id == capset;
	if (!known || (a->context_init & ~0xffu) || a->nlen > 64)
		return GPU_RESP_ERR_INVALID_PARAMETER;
	if (c->g->nctx >= GPU_MAX_CONTEXTS)
		return GPU_RESP_ERR_OUT_OF_MEMORY;
	memcpy(name, a->debug_name, a->nlen);
	name[a->nlen] = 0;
	x = calloc(1, sizeof(*x));
	if (!x)
		return GPU_RESP_ERR_OUT_OF_MEMORY;
	if (c->g->ops->ctx_create(c->g->backend, id, capset, name)) {
		free(x);
		return GPU_RESP_ERR_UNSPEC;
	}
	x->id = id;
	x->capset = capset;
	x->next = c->g->ctx_buckets[bucket(id)];
	c->g->ctx_buckets[bucket(id)] = x;
	c->g->nctx++;
	return GPU_RESP_OK_NODATA;
}

static uint32_t ctx_destroy(struct cmd *c)
{
	uint32_t id = c->hdr->ctx_id;

	for (struct gpu_ctx **p = &c->g->ctx_buckets[bucket(id)]; *p; p = &(*p)->next) {
		struct gpu_ctx *x = *p;

		if (x->id != id)
			continue;
		*p = x->next;
		c->g->nctx--;
		c->g->ops->ctx_destroy(c->g->backend, id);
		free(x);
		return GPU_RESP_OK_NODATA;
	}
	return GPU_RESP_ERR_INVALID_CONTEXT_ID;
}

static uint32_t ctx_attach(struct cmd *c)
{
	struct gpu_resource_id *a = BODY(c, struct gpu_resource_id);

	if (!a)
		return GPU_RESP_ERR_INVALID_PARAMETER;
	if (!ctx_find(c->g, c->hdr->ctx_id))
		return GPU_RESP_ERR_INVALID_CONTEXT_ID;
	if (!res_arg(c, a->resource_id, RES_BLOB))
		return GPU_RESP_ERR_INVALID_RESOURCE_ID;
	if (c->hdr->type == GPU_CMD_CTX_ATTACH_RESOURCE)
		c->g->ops->ctx_attach(c->g->backend, c->hdr->ctx_id, a->resource_id);
	else
		c->g->ops->ctx_detach(c->g->backend, c->hdr->ctx_id, a->resource_id);
	return GPU_RESP_OK_NODATA;
}

static uint32_t submit_3d(struct cmd *c)
{
	struct gpu_submit_3d *a = BODY(c, struct gpu_submit_3d);

	if (!a)
		return GPU_RESP_ERR_INVALID_PARAMETER;
	if (!ctx_find(c->g, c->hdr->ctx_id))
		return GPU_RESP_ERR_INVALID_CONTEXT_ID;
	if (a->size % 4 || a->size > c->body_len - sizeof(*a))
		return GPU_RESP_ERR_INVALID_PARAMETER;
	if (!a->size)
		return GPU_RESP_OK_NODATA;
	if (c->g->ops->submit(c->g->backend, c->hdr->ctx_id, c->body + sizeof(*a), a->size))
		return GPU_RESP_ERR_INVALID_PARAMETER;
	return GPU_RESP_OK_NODATA;
}

/* ---- blobs ---- */

static uint32_t create_blob(struct cmd *c)
{
	struct gpu_resource_create_blob *a = BODY(c, struct gpu_resource_create_blob);
	struct gpu_blob b;
	struct gpu_res *r;
	struct iovec *iov = NULL;
	uint64_t total = 0;
	uint32_t ret;
	bool guest_pages;

	if (!a)
		return GPU_RESP_ERR_INVALID_PARAMETER;
	if (!a->resource_id || res_find(c->g, a->resource_id))
		return GPU_RESP_ERR_INVALID_RESOURCE_ID;
	if (a->blob_mem < GPU_BLOB_MEM_GUEST || a->blob_mem > GPU_BLOB_MEM_HOST3D_GUEST ||
	    (a->blob_flags & ~7u) || !a->size || a->size > (1ULL << 40))
		return GPU_RESP_ERR_INVALID_PARAMETER;
	/* Host blobs belong to a context; guest blobs may be made outside one. */
	if (a->blob_mem != GPU_BLOB_MEM_GUEST && !ctx_find(c->g, c->hdr->ctx_id))
		return GPU_RESP_ERR_INVALID_CONTEXT_ID;
	guest_pages = a->blob_mem != GPU_BLOB_MEM_HOST3D;
	if (!guest_pages && a->nr_entries)
		return GPU_RESP_ERR_INVALID_PARAMETER;
	if (c->g->nres >= GPU_MAX_RESOURCES)
		return GPU_RESP_ERR_OUT_OF_MEMORY;
	if (guest_pages) {
		ret = parse_entries(c, sizeof(*a), a->nr_entries, &iov, &total);
		if (ret != GPU_RESP_OK_NODATA)
			return ret;
		if (total < a->size) {
			free(iov);
			return GPU_RESP_ERR_INVALID_PARAMETER;
		}
	}
	r = calloc(1, sizeof(*r));
	if (!r) {
		free(iov);
		return GPU_RESP_ERR_OUT_OF_MEMORY;
	}
	b = (struct gpu_blob){ .res_id = a->resource_id,
			       .ctx_id = c->hdr->ctx_id,
			       .blob_mem = a->blob_mem,
			       .blob_flags = a->blob_flags,
			       .blob_id = a->blob_id,
			       .size = a->size,
			       .iov = iov,
			       .niov = guest_pages ? a->nr_entries : 0 };
	if (c->g->ops->blob_create(c->g->backend, &b)) {
		free(iov);
		free(r);
		return GPU_RESP_ERR_INVALID_PARAMETER;
	}
	r->id = a->resource_id;
	r->kind = RES_BLOB;
	r->blob_mem = a->blob_mem;
	r->blob_flags = a->blob_flags;
	r->size = a->size;
	r->iov = iov;
	r->niov = b.niov;
	res_insert(c->g, r);
	return GPU_RESP_OK_NODATA;
}

static uint32_t map_blob(struct cmd *c)
{
	struct gpu_map_blob *a = BODY(c, struct gpu_map_blob);
	struct gpu_resp_map_info *o = (void *)c->resp;
	struct gpu_res *r = a ? res_arg(c, a->resource_id, RES_BLOB) : NULL;
	uint64_t len, size;
	uint32_t info;
	void *host;
	int slot;

	if (!a)
		return GPU_RESP_ERR_INVALID_PARAMETER;
	if (!r)
		return GPU_RESP_ERR_INVALID_RESOURCE_ID;
	if (r->mapped || !(r->blob_flags & GPU_BLOB_FLAG_MAPPABLE) ||
	    r->blob_mem == GPU_BLOB_MEM_GUEST)
		return GPU_RESP_ERR_INVALID_PARAMETER;
	len = (r->size + PAGE_SIZE - 1) & ~(PAGE_SIZE - 1);
	if (a->offset % PAGE_SIZE || a->offset > c->g->window_size ||
	    len > c->g->window_size - a->offset)
		return GPU_RESP_ERR_INVALID_PARAMETER;
	/* No two mappings share a page of the window. */
	for (unsigned b = 0; b < BUCKETS; b++)
		for (struct gpu_res *o2 = c->g->res_buckets[b]; o2; o2 = o2->next)
			if (o2->mapped && a->offset < o2->map_off + o2->map_len &&
			    o2->map_off < a->offset + len)
				return GPU_RESP_ERR_INVALID_PARAMETER;
	if (c->g->nmapped >= GPU_MAX_MAPPINGS)
		return GPU_RESP_ERR_OUT_OF_MEMORY;
	if (c->g->ops->blob_map(c->g->backend, r->id, &host, &size, &info))
		return GPU_RESP_ERR_UNSPEC;
	if (size < len || ((uintptr_t)host & (PAGE_SIZE - 1)) ||
	    c->g->wops->map(c->g->window, a->offset, host, len, &slot)) {
		c->g->ops->blob_unmap(c->g->backend, r->id);
		return GPU_RESP_ERR_UNSPEC;
	}
	r->mapped = true;
	r->slot = slot;
	r->map_off = a->offset;
	r->map_len = len;
	c->g->nmapped++;
	o->map_info = info & GPU_MAP_CACHE_MASK;
	o->padding = 0;
	c->r->len = sizeof(*o);
	return GPU_RESP_OK_MAP_INFO;
}

static uint32_t unmap_blob(struct cmd *c)
{
	struct gpu_resource_id *a = BODY(c, struct gpu_resource_id);
	struct gpu_res *r = a ? res_arg(c, a->resource_id, RES_BLOB) : NULL;

	if (!a)
		return GPU_RESP_ERR_INVALID_PARAMETER;
	if (!r)
		return GPU_RESP_ERR_INVALID_RESOURCE_ID;
	if (!r->mapped)
		return GPU_RESP_ERR_INVALID_PARAMETER;
	blob_unmap(c->g, r);
	return GPU_RESP_OK_NODATA;
}

static uint32_t unsupported(struct cmd *c)
{
	(void)c;
	return GPU_RESP_ERR_UNSPEC;
}

typedef uint32_t (*handler)(struct cmd *c);

static handler find_handler(uint32_t type)
{
	switch (type) {
	case GPU_CMD_GET_DISPLAY_INFO:
		return get_display_info;
	case GPU_CMD_RESOURCE_CREATE_2D:
		return create_2d;
	case GPU_CMD_RESOURCE_UNREF:
		return resource_unref;
	case GPU_CMD_SET_SCANOUT:
		return set_scanout;
	case GPU_CMD_RESOURCE_FLUSH:
		return resource_flush;
	case GPU_CMD_TRANSFER_TO_HOST_2D:
		return transfer_2d;
	case GPU_CMD_RESOURCE_ATTACH_BACKING:
		return attach_backing;
	case GPU_CMD_RESOURCE_DETACH_BACKING:
		return detach_backing;
	case GPU_CMD_GET_CAPSET_INFO:
		return get_capset_info;
	case GPU_CMD_GET_CAPSET:
		return get_capset;
	case GPU_CMD_RESOURCE_CREATE_BLOB:
		return create_blob;
	case GPU_CMD_CTX_CREATE:
		return ctx_create;
	case GPU_CMD_CTX_DESTROY:
		return ctx_destroy;
	case GPU_CMD_CTX_ATTACH_RESOURCE:
	case GPU_CMD_CTX_DETACH_RESOURCE:
		return ctx_attach;
	case GPU_CMD_SUBMIT_3D:
		return submit_3d;
	case GPU_CMD_RESOURCE_MAP_BLOB:
		return map_blob;
	case GPU_CMD_RESOURCE_UNMAP_BLOB:
		return unmap_blob;
	case GPU_CMD_UPDATE_CURSOR:
	case GPU_CMD_MOVE_CURSOR:
		return ok_nodata; /* no display, no cursor */
	default:
		/* EDID, UUIDs, scan-out blobs, virgl's 3D resources and transfers: not offered. */
		return unsupported;
	}
}

void gpu_cmd_process(struct gpu_state *g, void *req, size_t len, uint8_t *resp, size_t resp_max,
		     struct gpu_reply *r)
{
	struct gpu_hdr hdr, *out = (struct gpu_hdr *)resp;
	struct cmd c;
	uint32_t type;

	memset(r, 0, sizeof(*r));
	r->buf = resp;
	r->len = sizeof(struct gpu_hdr);
	memset(resp, 0, sizeof(*out));
	if (len < sizeof(hdr)) {
		out->type = GPU_RESP_ERR_INVALID_PARAMETER;
		return;
	}
	memcpy(&hdr, req, sizeof(hdr));
	c = (struct cmd){ .g = g,
			  .hdr = &hdr,
			  .body = (uint8_t *)req + sizeof(hdr),
			  .body_len = len - sizeof(hdr),
			  .resp = resp,
			  .resp_max = resp_max,
			  .r = r };
	type = find_handler(hdr.type)(&c);
	if (type >= GPU_RESP_ERR_UNSPEC) {
		r->len = sizeof(struct gpu_hdr);
		pr_debug("gpu: %s (0x%x) ctx %u failed: 0x%x", gpu_cmd_name(hdr.type), hdr.type,
			 hdr.ctx_id, type);
	}
	out->type = type;
	/* A fenced command echoes its fence; ring fences wait for the renderer. */
	if (hdr.flags & GPU_FLAG_FENCE) {
		out->flags = GPU_FLAG_FENCE;
		out->fence_id = hdr.fence_id;
		out->ctx_id = hdr.ctx_id;
		if ((hdr.flags & GPU_FLAG_INFO_RING_IDX) && ctx_find(g, hdr.ctx_id) &&
		    hdr.ring_idx < 64 &&
		    !g->ops->fence(g->backend, hdr.ctx_id, hdr.ring_idx, hdr.fence_id)) {
			out->flags |= GPU_FLAG_INFO_RING_IDX;
			out->ring_idx = hdr.ring_idx;
			r->defer = true;
			r->ctx_id = hdr.ctx_id;
			r->ring = hdr.ring_idx;
			r->fence_id = hdr.fence_id;
		}
	}
}
