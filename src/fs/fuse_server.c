/* FUSE passthrough for virtio-fs: see fuse_server.h for the safety model. */
#define _GNU_SOURCE
#include "fs/fuse_server.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/fuse.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/syscall.h>
#include <sys/xattr.h>
#include <time.h>
#include <unistd.h>

#include "util/log.h"
#include "virtio/queue.h"

/* Oldest protocol we speak: 7.27 (Linux 4.19); what the guest gets is min(its, ours). */
#define MIN_MINOR 27
#define OUR_MINOR 36

#define HASH_BUCKETS 16384
/* Largest request arguments we copy (names, xattr values); WRITE data is never copied. */
#define MAX_ARGS  (2 * (PATH_MAX + 1) + 65536 + 64)
#define MAX_READ  FUSE_SERVER_MAX_WRITE
#define TIMEOUT_S 1

/* Node ids of overlay files, and file handles of opened overlays. */
#define OVERLAY_BASE (1ULL << 62)
#define OVERLAY_FH   (1ULL << 62)

#include "init/abi.h" /* KILN_EXIT_CODE_IOCTL: the init reports the workload's status */
#include "util/iov.h"

struct node {
	uint64_t id;
	int fd; /* O_PATH, never a path */
	dev_t dev;
	ino_t ino;
	mode_t type;
	uint64_t nlookup; /* references the guest holds */
	unsigned refs;	  /* requests using it now */
	struct node *next_id, *next_ino;
};

struct handle {
	uint64_t id;
	int fd;
	bool dir;
	unsigned refs;
	bool released;
	pthread_mutex_t lock; /* serialises readdir's seek+read */
	struct handle *next;
};

struct fuse_server {
	struct fuse_server_config cfg;
	bool overlay_gone[FUSE_SERVER_MAX_OVERLAYS]; /* one-shot overlays already found */
	int proc_fd;				     /* /proc/self/fd */
	bool as_root;
	struct timespec start;

	pthread_mutex_t lock; /* nodes, handles, ids */
	struct node *by_id[HASH_BUCKETS], *by_ino[HASH_BUCKETS];
	struct handle *handles[HASH_BUCKETS];
	uint64_t next_node, next_handle;
	struct node *root;
	uint32_t minor;
	bool writeback;
	bool killpriv; /* FUSE_HANDLE_KILLPRIV_V2: we drop set-ID bits on the guest's word */
	/* fds held for the guest (nodes and handles), and the most it may make us hold. */
	unsigned long nfds, max_fds;
};

/* ---- tables ---- */

static unsigned hash64(uint64_t v)
{
	v ^= v >> 33;
	v *= 0xff51afd7ed558ccdULL;
	v ^= v >> 33;
	return v % HASH_BUCKETS;
}

static unsigned hash_ino(dev_t dev, ino_t ino)
{
	return hash64(ino * 31 + dev);
}

/* Lock held. */
static struct node *node_find(struct fuse_server *s, uint64_t id)
{
	for (struct node *n = s->by_id[hash64(id)]; n; n = n->next_id)
		if (n->id == id)
			return n;
	return NULL;
}

static void node_unlink(struct fuse_server *s, struct node *n)
{
	struct node **p;

	for (p = &s->by_id[hash64(n->id)]; *p != n; p = &(*p)->next_id)
		;
	*p = n->next_id;
	for (p = &s->by_ino[hash_ino(n->dev, n->ino)]; *p != n; p = &(*p)->next_ino)
		;
	*p = n->next_ino;
}

/* Lock held: free n if neither the guest nor a request uses it. */
static void node_maybe_free(struct fuse_server *s, struct node *n)
{
	if (n->nlookup || n->refs || n == s->root)
		return;
	node_unlink(s, n);
	close(n->fd);
	free(n);
	s->nfds--;
}

/* Take a reference for the duration of a request; NULL if the guest named no such node. */
static struct node *node_get(struct fuse_server *s, uint64_t id)
{
	struct node *n;

	pthread_mutex_lock(&s->lock);
	n = node_find(s, id);
	if (n)
		n->refs++;
	pthread_mutex_unlock(&s->lock);
	return n;
}

static void node_put(struct fuse_server *s, struct node *n)
{
	if (!n)
		return;
	pthread_mutex_lock(&s->lock);
	n->refs--;
	node_maybe_free(s, n);
	pthread_mutex_unlock(&s->lock);
}

/*
 * The id of the node for an inode just opened as fd (O_PATH, stat in st),
 * with one more guest reference; 0 when out of memory or over the limit.
 * Consumes fd. The id, not the node: a FORGET may free the node at once.
 */
static uint64_t node_add(struct fuse_server *s, int fd, const struct stat *st)
{
	unsigned h = hash_ino(st->st_dev, st->st_ino);
	struct node *n;
	uint64_t id;

	pthread_mutex_lock(&s->lock);
	for (n = s->by_ino[h]; n; n = n->next_ino)
		if (n->dev == st->st_dev && n->ino == st->st_ino)
			break;
	if (n) {
		n->nlookup++;
		id = n->id;
		pthread_mutex_unlock(&s->lock);
		close(fd);
		return id;
	}
	n = s->nfds < s->max_fds ? calloc(1, sizeof(*n)) : NULL;
	if (!n) {
		pthread_mutex_unlock(&s->lock);
		close(fd);
		return 0;
	}
	s->nfds++;
	n->id = s->next_node++;
	n->fd = fd;
	n->dev = st->st_dev;
	n->ino = st->st_ino;
	n->type = st->st_mode & S_IFMT;
	n->nlookup = 1;
	n->next_id = s->by_id[hash64(n->id)];
	s->by_id[hash64(n->id)] = n;
	n->next_ino = s->by_ino[h];
	s->by_ino[h] = n;
	id = n->id;
	pthread_mutex_unlock(&s->lock);
	return id;
}

static void node_forget(struct fuse_server *s, uint64_t id, uint64_t count)
{
	struct node *n;

	pthread_mutex_lock(&s->lock);
	n = node_find(s, id);
	if (n && n != s->root) {
		n->nlookup = count < n->nlookup ? n->nlookup - count : 0;
		node_maybe_free(s, n);
	}
	pthread_mutex_unlock(&s->lock);
}

static struct handle *handle_get(struct fuse_server *s, uint64_t id)
{
	struct handle *h;

	pthread_mutex_lock(&s->lock);
	for (h = s->handles[hash64(id)]; h; h = h->next)
		if (h->id == id && !h->released)
			break;
	if (h)
		h->refs++;
	pthread_mutex_unlock(&s->lock);
	return h;
}

static void handle_unlink_free(struct fuse_server *s, struct handle *h)
{
	struct handle **p;

	for (p = &s->handles[hash64(h->id)]; *p != h; p = &(*p)->next)
		;
	*p = h->next;
	close(h->fd);
	pthread_mutex_destroy(&h->lock);
	free(h);
	s->nfds--;
}

static void handle_put(struct fuse_server *s, struct handle *h)
{
	if (!h)
		return;
	pthread_mutex_lock(&s->lock);
	if (--h->refs == 0 && h->released)
		handle_unlink_free(s, h);
	pthread_mutex_unlock(&s->lock);
}

/* A new handle for fd (consumed); its id, or 0 when out of memory. */
static uint64_t handle_add(struct fuse_server *s, int fd, bool dir)
{
	struct handle *h = calloc(1, sizeof(*h));

	if (!h) {
		close(fd);
		return 0;
	}
	h->fd = fd;
	h->dir = dir;
	pthread_mutex_init(&h->lock, NULL);
	pthread_mutex_lock(&s->lock);
	if (s->nfds >= s->max_fds) {
		pthread_mutex_unlock(&s->lock);
		pthread_mutex_destroy(&h->lock);
		free(h);
		close(fd);
		return 0;
	}
	s->nfds++;
	h->id = s->next_handle++;
	h->next = s->handles[hash64(h->id)];
	s->handles[hash64(h->id)] = h;
	pthread_mutex_unlock(&s->lock);
	return h->id;
}

static int handle_release(struct fuse_server *s, uint64_t id)
{
	struct handle *h;

	pthread_mutex_lock(&s->lock);
	for (h = s->handles[hash64(id)]; h; h = h->next)
		if (h->id == id && !h->released)
			break;
	if (h) {
		h->released = true;
		if (h->refs == 0)
			handle_unlink_free(s, h);
	}
	pthread_mutex_unlock(&s->lock);
	return h ? 0 : -EBADF;
}

/* ---- requests ---- */

struct req {
	struct fuse_server *s;
	struct fuse_in_header h;
	const uint8_t *arg; /* the op's arguments, copied */
	size_t arglen;
	const struct iovec *in; /* the whole request, for WRITE data */
	unsigned nin;
	const struct iovec *out; /* reply space */
	unsigned nout;
	uint64_t out_cap;
};

static uint32_t reply(struct req *r, int err, const void *data, size_t len)
{
	struct fuse_out_header oh = { .unique = r->h.unique, .error = err };

	if (err)
		len = 0;
	oh.len = sizeof(oh) + len;
	if (r->out_cap < oh.len) {
		/* The guest gave too little room: an error fits in any reply buffer it sends. */
		if (r->out_cap < sizeof(oh))
			return 0;
		oh.error = -EOVERFLOW;
		oh.len = sizeof(oh);
		len = 0;
	}
	buf_to_iov(r->out, r->nout, 0, &oh, sizeof(oh));
	if (len)
		buf_to_iov(r->out, r->nout, sizeof(oh), data, len);
	return oh.len;
}

static uint32_t reply_err(struct req *r, int err)
{
	return reply(r, err < 0 ? err : -err, NULL, 0);
}

/* A single path component from the guest: NUL-terminated inside the arguments, no '/'. */
static const char *take_name(const uint8_t **p, size_t *left)
{
	const char *name = (const char *)*p;
	size_t n = strnlen(name, *left);

	if (n == *left || n == 0 || n > NAME_MAX || memchr(name, '/', n) || !strcmp(name, ".") ||
	    !strcmp(name, ".."))
		return NULL;
	*p += n + 1;
	*left -= n + 1;
	return name;
}

static bool is_root_id(uint64_t id)
{
	return id == FUSE_ROOT_ID;
}

static void fill_attr(struct fuse_attr *a, const struct stat *st)
{
	a->ino = st->st_ino;
	a->size = st->st_size;
	a->blocks = st->st_blocks;
	a->atime = st->st_atim.tv_sec;
	a->mtime = st->st_mtim.tv_sec;
	a->ctime = st->st_ctim.tv_sec;
	a->atimensec = st->st_atim.tv_nsec;
	a->mtimensec = st->st_mtim.tv_nsec;
	a->ctimensec = st->st_ctim.tv_nsec;
	a->mode = st->st_mode;
	a->nlink = st->st_nlink;
	a->uid = st->st_uid;
	a->gid = st->st_gid;
	a->rdev = st->st_rdev;
	a->blksize = st->st_blksize;
}

static int stat_fd(int fd, struct stat *st)
{
	return fstatat(fd, "", st, AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW) ? -errno : 0;
}

/* Overlays: files in the top directory that live in memory. */
static int overlay_find(struct fuse_server *s, const char *name)
{
	for (unsigned i = 0; i < s->cfg.noverlays; i++)
		if (!s->overlay_gone[i] && !strcmp(s->cfg.overlays[i].name, name))
			return i;
	return -1;
}

static bool is_overlay(uint64_t id)
{
	return id >= OVERLAY_BASE && id < OVERLAY_BASE + FUSE_SERVER_MAX_OVERLAYS;
}

static void overlay_stat(struct fuse_server *s, unsigned i, struct stat *st)
{
	const struct fuse_overlay *o = &s->cfg.overlays[i];

	memset(st, 0, sizeof(*st));
	st->st_ino = OVERLAY_BASE + i;
	st->st_mode = o->mode;
	st->st_nlink = 1;
	st->st_size = o->len;
	st->st_blocks = (o->len + 511) / 512;
	st->st_blksize = 4096;
	st->st_atim = st->st_mtim = st->st_ctim = s->start;
}

static void fill_entry(struct fuse_entry_out *e, uint64_t id, const struct stat *st)
{
	memset(e, 0, sizeof(*e));
	e->nodeid = id;
	e->entry_valid = TIMEOUT_S;
	e->attr_valid = TIMEOUT_S;
	fill_attr(&e->attr, st);
}

/* Look name up in parent and fill *e (taking a guest reference). */
/* A lookup of an overlay name: its index, used up if it is one-shot; -1 if none. */
static int overlay_take(struct fuse_server *s, const char *name)
{
	int i;

	pthread_mutex_lock(&s->lock);
	i = overlay_find(s, name);
	if (i >= 0 && s->cfg.overlays[i].one_shot)
		s->overlay_gone[i] = true;
	pthread_mutex_unlock(&s->lock);
	return i;
}

/* Look name up in parent and fill *e (taking a guest reference); overlays too if asked. */
static int lookup_in(struct fuse_server *s, struct node *parent, const char *name,
		     struct fuse_entry_out *e, bool overlays)
{
	struct stat st;
	uint64_t id;
	int fd, ret;

	if (overlays && parent == s->root) {
		int i = overlay_take(s, name);

		if (i >= 0) {
			overlay_stat(s, i, &st);
			fill_entry(e, OVERLAY_BASE + i, &st);
			return 0;
		}
	}
	fd = openat(parent->fd, name, O_PATH | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	ret = stat_fd(fd, &st);
	if (ret) {
		close(fd);
		return ret;
	}
	id = node_add(s, fd, &st);
	if (!id)
		return -ENFILE;
	fill_entry(e, id, &st);
	return 0;
}

static int do_lookup(struct fuse_server *s, struct node *parent, const char *name,
		     struct fuse_entry_out *e)
{
	return lookup_in(s, parent, name, e, true);
}

/* Give a new file to the caller (we create as ourselves: root can, others keep theirs). */
static void set_owner(struct req *r, int dirfd, const char *name, const struct stat *dir)
{
	gid_t gid = dir && (dir->st_mode & S_ISGID) ? dir->st_gid : r->h.gid;

	if (r->s->as_root)
		fchownat(dirfd, name, r->h.uid, gid, AT_SYMLINK_NOFOLLOW);
}

/* Reopen an O_PATH node for I/O through /proc/self/fd (no path lookup involved). */
static int reopen(struct fuse_server *s, struct node *n, int flags)
{
	char name[16];
	int fd;

	snprintf(name, sizeof(name), "%d", n->fd);
	fd = openat(s->proc_fd, name, (flags & ~O_CREAT & ~O_NOFOLLOW) | O_CLOEXEC);
	return fd < 0 ? -errno : fd;
}

/*
 * With FUSE_HANDLE_KILLPRIV_V2 the guest no longer checks security.capability
 * before every write (a round trip each), and asks us instead to drop the
 * set-user-ID bit, and set-group-ID where the group may execute, when a writer
 * without CAP_FSETID writes to or truncates a file, as its VFS would. The host
 * kernel drops security.capability itself when we write or truncate.
 */
static int kill_suidgid(struct fuse_server *s, int fd)
{
	struct stat st;
	char name[16];
	mode_t kill;
	int ret = stat_fd(fd, &st);

	if (ret || !S_ISREG(st.st_mode))
		return ret;
	kill = S_ISUID | (st.st_mode & S_IXGRP ? S_ISGID : 0);
	if (!(st.st_mode & kill))
		return 0;
	snprintf(name, sizeof(name), "%d", fd);
	return fchmodat(s->proc_fd, name, st.st_mode & 07777 & ~kill, 0) ? -errno : 0;
}

/* ---- operations ---- */

static uint32_t op_init(struct req *r)
{
	const struct fuse_init_in *in = (const void *)r->arg;
	struct fuse_init_out out = { 0 };
	uint32_t want;

	if (r->arglen < 16)
		return reply_err(r, EINVAL);
	if (in->major != FUSE_KERNEL_VERSION || in->minor < MIN_MINOR)
		return reply_err(r, EPROTO);
	r->s->minor = in->minor < OUR_MINOR ? in->minor : OUR_MINOR;
	want = FUSE_ASYNC_READ | FUSE_ATOMIC_O_TRUNC | FUSE_BIG_WRITES | FUSE_DO_READDIRPLUS |
	       FUSE_READDIRPLUS_AUTO | FUSE_PARALLEL_DIROPS | FUSE_MAX_PAGES | FUSE_CACHE_SYMLINKS |
	       FUSE_WRITEBACK_CACHE | FUSE_ASYNC_DIO | FUSE_HANDLE_KILLPRIV_V2;
	/*
	 * The write-back cache stays although it costs a SETATTR (times) when a
	 * written file is closed: without it every write() is a round trip, and
	 * programs that write in small pieces (8 KiB for head -c, or a log) crawl.
	 */
	if (r->s->cfg.read_only)
		want &= ~FUSE_WRITEBACK_CACHE;
	out.major = FUSE_KERNEL_VERSION;
	out.minor = r->s->minor;
	out.max_readahead = in->max_readahead;
	out.flags = in->flags & want;
	r->s->writeback = out.flags & FUSE_WRITEBACK_CACHE;
	r->s->killpriv = out.flags & FUSE_HANDLE_KILLPRIV_V2;
	out.max_background = 64;
	out.congestion_threshold = 48;
	out.max_write = FUSE_SERVER_MAX_WRITE;
	out.time_gran = 1;
	out.max_pages = FUSE_SERVER_MAX_WRITE / 4096;
	return reply(r, 0, &out, sizeof(out));
}

static uint32_t op_lookup(struct req *r, struct node *parent)
{
	const uint8_t *p = r->arg;
	size_t left = r->arglen;
	const char *name = take_name(&p, &left);
	struct fuse_entry_out e;
	int ret;

	if (!name)
		return reply_err(r, r->arglen && !strcmp((const char *)r->arg, "..") ? ENOENT
										     : EINVAL);
	if (parent->type != S_IFDIR)
		return reply_err(r, ENOTDIR);
	ret = do_lookup(r->s, parent, name, &e);
	return ret ? reply_err(r, ret) : reply(r, 0, &e, sizeof(e));
}

static uint32_t op_getattr(struct req *r, struct node *n)
{
	struct fuse_attr_out out = { .attr_valid = TIMEOUT_S };
	struct stat st;
	int ret;

	if (is_overlay(r->h.nodeid)) {
		overlay_stat(r->s, r->h.nodeid - OVERLAY_BASE, &st);
	} else if ((ret = stat_fd(n->fd, &st))) {
		return reply_err(r, ret);
	}
	fill_attr(&out.attr, &st);
	return reply(r, 0, &out, sizeof(out));
}

static int set_times(struct fuse_server *s, struct node *n, const struct fuse_setattr_in *in)
{
	struct timespec ts[2] = { { .tv_nsec = UTIME_OMIT }, { .tv_nsec = UTIME_OMIT } };
	char name[16];

	if (in->valid & FATTR_ATIME_NOW)
		ts[0].tv_nsec = UTIME_NOW;
	else if (in->valid & FATTR_ATIME)
		ts[0] = (struct timespec){ in->atime, in->atimensec };
	if (in->valid & FATTR_MTIME_NOW)
		ts[1].tv_nsec = UTIME_NOW;
	else if (in->valid & FATTR_MTIME)
		ts[1] = (struct timespec){ in->mtime, in->mtimensec };
	if (ts[0].tv_nsec != UTIME_OMIT && ts[0].tv_nsec != UTIME_NOW &&
	    ts[0].tv_nsec >= 1000000000)
		return -EINVAL;
	if (ts[1].tv_nsec != UTIME_OMIT && ts[1].tv_nsec != UTIME_NOW &&
	    ts[1].tv_nsec >= 1000000000)
		return -EINVAL;
	if (n->type == S_IFLNK)
		return -EPERM; /* would need a path; symlink times are not worth one */
	snprintf(name, sizeof(name), "%d", n->fd);
	return utimensat(s->proc_fd, name, ts, 0) ? -errno : 0;
}

static uint32_t op_setattr(struct req *r, struct node *n)
{
	const struct fuse_setattr_in *in = (const void *)r->arg;
	struct fuse_server *s = r->s;
	int ret = 0;

	if (r->arglen < sizeof(*in))
		return reply_err(r, EINVAL);
	if (is_overlay(r->h.nodeid))
		return reply_err(r, EPERM);
	if (s->cfg.read_only)
		return reply_err(r, EROFS);
	if (in->valid & FATTR_MODE) {
		char name[16];

		snprintf(name, sizeof(name), "%d", n->fd);
		if (n->type == S_IFLNK)
			ret = -EOPNOTSUPP;
		else if (fchmodat(s->proc_fd, name, in->mode & 07777, 0))
			ret = -errno;
	}
	if (!ret && (in->valid & (FATTR_UID | FATTR_GID))) {
		uid_t uid = in->valid & FATTR_UID ? in->uid : (uid_t)-1;
		gid_t gid = in->valid & FATTR_GID ? in->gid : (gid_t)-1;

		if (fchownat(n->fd, "", uid, gid, AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW))
			ret = -errno;
	}
	if (!ret && (in->valid & FATTR_SIZE)) {
		struct handle *h = in->valid & FATTR_FH ? handle_get(s, in->fh) : NULL;

		if (n->type != S_IFREG) {
			ret = n->type == S_IFDIR ? -EISDIR : -EINVAL;
		} else if (h && !h->dir) {
			ret = ftruncate(h->fd, in->size) ? -errno : 0;
		} else {
			int fd = reopen(s, n, O_WRONLY);

			ret = fd < 0 ? fd : ftruncate(fd, in->size) ? -errno : 0;
			if (fd >= 0)
				close(fd);
		}
		handle_put(s, h);
	}
	if (!ret && (in->valid & FATTR_KILL_SUIDGID) && s->killpriv)
		ret = kill_suidgid(s, n->fd);
	if (!ret && (in->valid & (FATTR_ATIME | FATTR_MTIME | FATTR_ATIME_NOW | FATTR_MTIME_NOW)))
		ret = set_times(s, n, in);
	if (ret)
		return reply_err(r, ret);
	return op_getattr(r, n);
}

static uint32_t op_readlink(struct req *r, struct node *n)
{
	char buf[PATH_MAX];
	ssize_t len;

	if (n->type != S_IFLNK)
		return reply_err(r, EINVAL);
	len = readlinkat(n->fd, "", buf, sizeof(buf));
	if (len < 0)
		return reply_err(r, errno);
	return reply(r, 0, buf, len);
}

/* Reply with an entry for name just created in parent. */
static uint32_t reply_new_entry(struct req *r, struct node *parent, const char *name)
{
	struct fuse_entry_out e;
	int ret = do_lookup(r->s, parent, name, &e);

	return ret ? reply_err(r, ret) : reply(r, 0, &e, sizeof(e));
}

static int check_dir_write(struct req *r, struct node *parent)
{
	if (r->s->cfg.read_only)
		return -EROFS;
	if (parent->type != S_IFDIR)
		return -ENOTDIR;
	return 0;
}

static uint32_t op_mknod(struct req *r, struct node *parent)
{
	const struct fuse_mknod_in *in = (const void *)r->arg;
	const uint8_t *p = r->arg + sizeof(*in);
	size_t left = r->arglen - sizeof(*in);
	const char *name;
	struct stat dst;
	int ret;

	if (r->arglen < sizeof(*in) || !(name = take_name(&p, &left)))
		return reply_err(r, EINVAL);
	if ((ret = check_dir_write(r, parent)))
		return reply_err(r, ret);
	if (is_root_id(r->h.nodeid) && overlay_find(r->s, name) >= 0)
		return reply_err(r, EEXIST);
	if (mknodat(parent->fd, name, in->mode, in->rdev))
		return reply_err(r, errno);
	set_owner(r, parent->fd, name, stat_fd(parent->fd, &dst) ? NULL : &dst);
	return reply_new_entry(r, parent, name);
}

static uint32_t op_mkdir(struct req *r, struct node *parent)
{
	const struct fuse_mkdir_in *in = (const void *)r->arg;
	const uint8_t *p = r->arg + sizeof(*in);
	size_t left = r->arglen - sizeof(*in);
	const char *name;
	struct stat dst;
	int ret;

	if (r->arglen < sizeof(*in) || !(name = take_name(&p, &left)))
		return reply_err(r, EINVAL);
	if ((ret = check_dir_write(r, parent)))
		return reply_err(r, ret);
	if (is_root_id(r->h.nodeid) && overlay_find(r->s, name) >= 0)
		return reply_err(r, EEXIST);
	if (mkdirat(parent->fd, name, in->mode & 07777))
		return reply_err(r, errno);
	set_owner(r, parent->fd, name, stat_fd(parent->fd, &dst) ? NULL : &dst);
	return reply_new_entry(r, parent, name);
}

static uint32_t op_symlink(struct req *r, struct node *parent)
{
	const uint8_t *p = r->arg;
	size_t left = r->arglen, tlen;
	const char *name = take_name(&p, &left), *target = (const char *)p;
	struct stat dst;
	int ret;

	if (!name || (tlen = strnlen(target, left)) == left || tlen == 0 || tlen >= PATH_MAX)
		return reply_err(r, EINVAL);
	if ((ret = check_dir_write(r, parent)))
		return reply_err(r, ret);
	if (is_root_id(r->h.nodeid) && overlay_find(r->s, name) >= 0)
		return reply_err(r, EEXIST);
	/* The target is only data: the server never follows it. */
	if (symlinkat(target, parent->fd, name))
		return reply_err(r, errno);
	set_owner(r, parent->fd, name, stat_fd(parent->fd, &dst) ? NULL : &dst);
	return reply_new_entry(r, parent, name);
}

static uint32_t op_unlink(struct req *r, struct node *parent, bool dir)
{
	const uint8_t *p = r->arg;
	size_t left = r->arglen;
	const char *name = take_name(&p, &left);
	int ret;

	if (!name)
		return reply_err(r, EINVAL);
	if ((ret = check_dir_write(r, parent)))
		return reply_err(r, ret);
	if (is_root_id(r->h.nodeid) && overlay_find(r->s, name) >= 0)
		return reply_err(r, EPERM);
	return reply_err(r, unlinkat(parent->fd, name, dir ? AT_REMOVEDIR : 0) ? errno : 0);
}

static uint32_t do_rename(struct req *r, struct node *parent, uint64_t newdir, uint32_t flags,
			  size_t skip)
{
	const uint8_t *p = r->arg + skip;
	size_t left = r->arglen - skip;
	const char *old = take_name(&p, &left), *new = old ? take_name(&p, &left) : NULL;
	struct node *np;
	int ret;

	if (!old || !new)
		return reply_err(r, EINVAL);
	if ((ret = check_dir_write(r, parent)))
		return reply_err(r, ret);
	if (flags & ~(RENAME_NOREPLACE | RENAME_EXCHANGE | RENAME_WHITEOUT))
		return reply_err(r, EINVAL);
	if ((is_root_id(r->h.nodeid) && overlay_find(r->s, old) >= 0) ||
	    (is_root_id(newdir) && overlay_find(r->s, new) >= 0))
		return reply_err(r, EPERM);
	np = node_get(r->s, newdir);
	if (!np)
		return reply_err(r, ENOENT);
	ret = np->type != S_IFDIR			       ? -ENOTDIR
	      : renameat2(parent->fd, old, np->fd, new, flags) ? -errno
							       : 0;
	node_put(r->s, np);
	return reply_err(r, ret);
}

static uint32_t op_link(struct req *r, struct node *newparent)
{
	const struct fuse_link_in *in = (const void *)r->arg;
	const uint8_t *p = r->arg + sizeof(*in);
	size_t left = r->arglen - sizeof(*in);
	const char *name;
	struct node *n;
	char old[16];
	int ret;

	if (r->arglen < sizeof(*in) || !(name = take_name(&p, &left)))
		return reply_err(r, EINVAL);
	if ((ret = check_dir_write(r, newparent)))
		return reply_err(r, ret);
	if (is_root_id(r->h.nodeid) && overlay_find(r->s, name) >= 0)
		return reply_err(r, EEXIST);
	n = node_get(r->s, in->oldnodeid);
	if (!n)
		return reply_err(r, ENOENT);
	if (n->type == S_IFDIR) {
		node_put(r->s, n);
		return reply_err(r, EPERM);
	}
	snprintf(old, sizeof(old), "%d", n->fd);
	ret = linkat(r->s->proc_fd, old, newparent->fd, name, AT_SYMLINK_FOLLOW) ? -errno : 0;
	node_put(r->s, n);
	return ret ? reply_err(r, ret) : reply_new_entry(r, newparent, name);
}

/* Host open flags for a guest open: no creation, no controlling tty, never follow. */
static int open_flags(struct fuse_server *s, uint32_t flags)
{
	/* O_DIRECT would make the host demand aligned guest buffers; the guest's cache decides. */
	int f = (flags & ~(O_CREAT | O_EXCL | O_TRUNC | O_PATH | O_DIRECT)) | O_NOCTTY;

	/* With the guest's write-back cache, it may read pages of a file opened write-only. */
	if (s->writeback) {
		if ((f & O_ACCMODE) == O_WRONLY)
			f = (f & ~O_ACCMODE) | O_RDWR;
		f &= ~O_APPEND;
	}
	return f | (flags & O_TRUNC);
}

static uint32_t op_open(struct req *r, struct node *n, bool dir)
{
	const struct fuse_open_in *in = (const void *)r->arg;
	struct fuse_open_out out = { 0 };
	int fd, ret;

	if (r->arglen < sizeof(*in))
		return reply_err(r, EINVAL);
	if (is_overlay(r->h.nodeid)) {
		if (dir)
			return reply_err(r, ENOTDIR);
		if ((in->flags & O_ACCMODE) != O_RDONLY || (in->flags & O_TRUNC))
			return reply_err(r, EACCES);
		out.fh = OVERLAY_FH | (r->h.nodeid - OVERLAY_BASE);
		out.open_flags = FOPEN_KEEP_CACHE;
		return reply(r, 0, &out, sizeof(out));
	}
	if (dir && n->type != S_IFDIR)
		return reply_err(r, ENOTDIR);
	/* Only files and directories are opened on the host: a guest's device node stays inert. */
	if (!dir && n->type != S_IFREG)
		return reply_err(r, n->type == S_IFDIR ? EISDIR : ENXIO);
	if (r->s->cfg.read_only && !dir &&
	    ((in->flags & O_ACCMODE) != O_RDONLY || (in->flags & O_TRUNC)))
		return reply_err(r, EROFS);
	fd = dir ? reopen(r->s, n, O_RDONLY | O_DIRECTORY)
		 : reopen(r->s, n, open_flags(r->s, in->flags));
	if (fd < 0)
		return reply_err(r, fd);
	if (!dir && (in->open_flags & FUSE_OPEN_KILL_SUIDGID) && r->s->killpriv &&
	    (ret = kill_suidgid(r->s, fd))) {
		close(fd);
		return reply_err(r, ret);
	}
	out.fh = handle_add(r->s, fd, dir);
	if (!out.fh)
		return reply_err(r, ENFILE);
	/* Keep the guest's page cache across opens (executables, libraries): it is
	 * dropped when the file's size or mtime changes (FUSE_AUTO_INVAL_DATA). */
	if (!dir)
		out.open_flags = FOPEN_KEEP_CACHE;
	return reply(r, 0, &out, sizeof(out));
}

/*
 * CREATE's open: a new file (given to the caller), or, without O_EXCL, an
 * existing one, which must be a regular file: a device node or FIFO the guest
 * made is never opened on the host, whatever the race. An fd or -errno.
 */
static int open_or_create(struct req *r, struct node *parent, const char *name, uint32_t gflags,
			  uint32_t mode)
{
	int flags = open_flags(r->s, gflags) | O_NOFOLLOW | O_CLOEXEC;
	struct stat st, dst;
	int fd, pfd;

	fd = openat(parent->fd, name, flags | O_CREAT | O_EXCL, mode & 07777);
	if (fd >= 0) {
		gid_t gid = stat_fd(parent->fd, &dst) == 0 && (dst.st_mode & S_ISGID) ? dst.st_gid
										      : r->h.gid;

		/* On failure the file stays ours: it exists, which is what matters. */
		if (r->s->as_root && fchown(fd, r->h.uid, gid) < 0)
			pr_debug("fs: cannot give a new file to %u:%u", r->h.uid, gid);
		return fd;
	}
	if (errno != EEXIST || (gflags & O_EXCL))
		return -errno;
	pfd = openat(parent->fd, name, O_PATH | O_NOFOLLOW | O_CLOEXEC);
	if (pfd < 0)
		return -errno;
	if (stat_fd(pfd, &st)) {
		close(pfd);
		return -ENOENT;
	}
	if (!S_ISREG(st.st_mode)) {
		close(pfd);
		return S_ISDIR(st.st_mode) ? -EISDIR : -ENXIO;
	}
	{
		struct node tmp = { .fd = pfd };

		fd = reopen(r->s, &tmp, flags);
	}
	close(pfd);
	return fd;
}

static uint32_t op_create(struct req *r, struct node *parent)
{
	const struct fuse_create_in *in = (const void *)r->arg;
	const uint8_t *p = r->arg + sizeof(*in);
	size_t left = r->arglen - sizeof(*in);
	struct {
		struct fuse_entry_out e;
		struct fuse_open_out o;
	} out;
	const char *name;
	int fd, ret;

	if (r->arglen < sizeof(*in) || !(name = take_name(&p, &left)))
		return reply_err(r, EINVAL);
	if ((ret = check_dir_write(r, parent)))
		return reply_err(r, ret);
	if (is_root_id(r->h.nodeid) && overlay_find(r->s, name) >= 0)
		return reply_err(r, EEXIST);
	fd = open_or_create(r, parent, name, in->flags, in->mode);
	if (fd < 0)
		return reply_err(r, fd);
	if ((in->open_flags & FUSE_OPEN_KILL_SUIDGID) && r->s->killpriv &&
	    (ret = kill_suidgid(r->s, fd))) {
		close(fd);
		return reply_err(r, ret);
	}
	memset(&out, 0, sizeof(out));
	ret = do_lookup(r->s, parent, name, &out.e);
	if (ret) {
		close(fd);
		return reply_err(r, ret);
	}
	out.o.fh = handle_add(r->s, fd, false);
	if (!out.o.fh) {
		node_forget(r->s, out.e.nodeid, 1);
		return reply_err(r, ENFILE);
	}
	out.o.open_flags = FOPEN_KEEP_CACHE;
	return reply(r, 0, &out, sizeof(out));
}

static uint32_t op_read(struct req *r)
{
	const struct fuse_read_in *in = (const void *)r->arg;
	struct fuse_out_header oh = { .unique = r->h.unique };
	struct iovec iov[VIRTQ_MAX_SEGS];
	struct handle *h;
	unsigned n;
	ssize_t got;
	uint64_t size;

	if (r->arglen < sizeof(*in))
		return reply_err(r, EINVAL);
	size = in->size;
	if (size > MAX_READ)
		size = MAX_READ;
	if (r->out_cap < sizeof(oh))
		return 0;
	if (size > r->out_cap - sizeof(oh))
		size = r->out_cap - sizeof(oh);
	if ((in->fh & OVERLAY_FH) && is_overlay(r->h.nodeid) &&
	    r->h.nodeid - OVERLAY_BASE < r->s->cfg.noverlays &&
	    (in->fh & ~OVERLAY_FH) == r->h.nodeid - OVERLAY_BASE) {
		const struct fuse_overlay *o = &r->s->cfg.overlays[r->h.nodeid - OVERLAY_BASE];
		uint64_t off = in->offset < o->len ? in->offset : o->len;

		if (size > o->len - off)
			size = o->len - off;
		buf_to_iov(r->out, r->nout, sizeof(oh), o->data + off, size);
		oh.len = sizeof(oh) + size;
		buf_to_iov(r->out, r->nout, 0, &oh, sizeof(oh));
		return oh.len;
	}
	h = handle_get(r->s, in->fh);
	if (!h || h->dir) {
		handle_put(r->s, h);
		return reply_err(r, EBADF);
	}
	n = iov_slice(r->out, r->nout, sizeof(oh), size, iov, VIRTQ_MAX_SEGS);
	got = n ? preadv(h->fd, iov, n, in->offset) : 0;
	handle_put(r->s, h);
	if (got < 0)
		return reply_err(r, errno);
	oh.len = sizeof(oh) + got;
	buf_to_iov(r->out, r->nout, 0, &oh, sizeof(oh));
	return oh.len;
}

static uint32_t op_write(struct req *r)
{
	const struct fuse_write_in *in = (const void *)r->arg;
	const uint64_t data_off = sizeof(struct fuse_in_header) + sizeof(*in);
	struct iovec iov[VIRTQ_MAX_SEGS];
	struct fuse_write_out out = { 0 };
	struct handle *h;
	unsigned n;
	ssize_t done;
	int ret;

	if (r->arglen < sizeof(*in) || in->size > FUSE_SERVER_MAX_WRITE ||
	    in->size > r->h.len - data_off)
		return reply_err(r, EINVAL);
	if (r->s->cfg.read_only)
		return reply_err(r, EROFS);
	h = handle_get(r->s, in->fh);
	if (!h || h->dir) {
		handle_put(r->s, h);
		return reply_err(r, EBADF);
	}
	if ((in->write_flags & FUSE_WRITE_KILL_SUIDGID) && r->s->killpriv &&
	    (ret = kill_suidgid(r->s, h->fd))) {
		handle_put(r->s, h);
		return reply_err(r, ret);
	}
	n = iov_slice(r->in, r->nin, data_off, in->size, iov, VIRTQ_MAX_SEGS);
	done = n ? pwritev(h->fd, iov, n, in->offset) : 0;
	handle_put(r->s, h);
	if (done < 0)
		return reply_err(r, errno);
	out.size = done;
	return reply(r, 0, &out, sizeof(out));
}

static uint32_t op_statfs(struct req *r, struct node *n)
{
	struct fuse_statfs_out out = { 0 };
	struct statfs sf;

	if (fstatfs(n ? n->fd : r->s->root->fd, &sf))
		return reply_err(r, errno);
	out.st.blocks = sf.f_blocks;
	out.st.bfree = sf.f_bfree;
	out.st.bavail = sf.f_bavail;
	out.st.files = sf.f_files;
	out.st.ffree = sf.f_ffree;
	out.st.bsize = sf.f_bsize;
	out.st.namelen = sf.f_namelen;
	out.st.frsize = sf.f_frsize;
	return reply(r, 0, &out, sizeof(out));
}

static uint32_t op_release(struct req *r)
{
	const struct fuse_release_in *in = (const void *)r->arg;

	if (r->arglen < sizeof(*in))
		return reply_err(r, EINVAL);
	if (in->fh & OVERLAY_FH)
		return reply_err(r, 0);
	return reply_err(r, handle_release(r->s, in->fh));
}

/* The file handle fh (a directory only if dir_ok), referenced; NULL if none. */
static struct handle *file_handle(struct req *r, uint64_t fh, bool dir_ok)
{
	struct handle *h = handle_get(r->s, fh);

	if (h && h->dir && !dir_ok) {
		handle_put(r->s, h);
		return NULL;
	}
	return h;
}

static uint32_t op_fsync(struct req *r, bool dir)
{
	const struct fuse_fsync_in *in = (const void *)r->arg;
	struct handle *h;
	int ret;

	if (r->arglen < sizeof(*in))
		return reply_err(r, EINVAL);
	if (in->fh & OVERLAY_FH)
		return reply_err(r, 0);
	h = file_handle(r, in->fh, dir);
	if (!h)
		return reply_err(r, EBADF);
	ret = (in->fsync_flags & FUSE_FSYNC_FDATASYNC ? fdatasync(h->fd) : fsync(h->fd)) ? -errno
											 : 0;
	handle_put(r->s, h);
	return reply_err(r, ret);
}

/* xattrs go through an fd of a file or directory: nothing else is opened on the host. */
static int xattr_fd(struct req *r, struct node *n)
{
	if (is_overlay(r->h.nodeid))
		return -ENOTSUP;
	if (n->type != S_IFREG && n->type != S_IFDIR)
		return -ENOTSUP;
	return reopen(r->s, n, (n->type == S_IFDIR ? O_DIRECTORY : 0) | O_RDONLY | O_NONBLOCK);
}

static uint32_t op_setxattr(struct req *r, struct node *n)
{
	const struct fuse_setxattr_in *in = (const void *)r->arg;
	const uint8_t *p = r->arg + FUSE_COMPAT_SETXATTR_IN_SIZE;
	size_t left = r->arglen - FUSE_COMPAT_SETXATTR_IN_SIZE, nl;
	const char *name = (const char *)p;
	int fd, ret;

	if (r->arglen < FUSE_COMPAT_SETXATTR_IN_SIZE || (nl = strnlen(name, left)) == left ||
	    nl == 0 || in->size > left - nl - 1)
		return reply_err(r, EINVAL);
	if (r->s->cfg.read_only)
		return reply_err(r, EROFS);
	fd = xattr_fd(r, n);
	if (fd < 0)
		return reply_err(r, fd);
	ret = fsetxattr(fd, name, p + nl + 1, in->size, in->flags) ? -errno : 0;
	close(fd);
	return reply_err(r, ret);
}

static uint32_t op_getxattr(struct req *r, struct node *n, bool list)
{
	const struct fuse_getxattr_in *in = (const void *)r->arg;
	const char *name = (const char *)(r->arg + sizeof(*in));
	size_t left = r->arglen - sizeof(*in), nl;
	char *buf = NULL;
	ssize_t len;
	uint32_t ret;
	int fd;

	if (r->arglen < sizeof(*in) || (!list && ((nl = strnlen(name, left)) == left || nl == 0)))
		return reply_err(r, EINVAL);
	fd = xattr_fd(r, n);
	if (fd < 0)
		return reply_err(r, fd);
	if (in->size) {
		uint32_t size = in->size < 65536 ? in->size : 65536;

		buf = malloc(size);
		len = !buf ? -1 : list ? flistxattr(fd, buf, size) : fgetxattr(fd, name, buf, size);
	} else {
		len = list ? flistxattr(fd, NULL, 0) : fgetxattr(fd, name, NULL, 0);
	}
	if (len < 0) {
		ret = reply_err(r, buf || !in->size ? errno : ENOMEM);
	} else if (in->size) {
		ret = reply(r, 0, buf, len);
	} else {
		struct fuse_getxattr_out out = { .size = len };

		ret = reply(r, 0, &out, sizeof(out));
	}
	free(buf);
	close(fd);
	return ret;
}

static uint32_t op_removexattr(struct req *r, struct node *n)
{
	const char *name = (const char *)r->arg;
	size_t nl = strnlen(name, r->arglen);
	int fd, ret;

	if (nl == r->arglen || nl == 0)
		return reply_err(r, EINVAL);
	if (r->s->cfg.read_only)
		return reply_err(r, EROFS);
	fd = xattr_fd(r, n);
	if (fd < 0)
		return reply_err(r, fd);
	ret = fremovexattr(fd, name) ? -errno : 0;
	close(fd);
	return reply_err(r, ret);
}

static uint32_t op_access(struct req *r, struct node *n)
{
	const struct fuse_access_in *in = (const void *)r->arg;
	char name[16];

	if (r->arglen < sizeof(*in))
		return reply_err(r, EINVAL);
	if (is_overlay(r->h.nodeid))
		return reply_err(r, in->mask & W_OK ? EACCES : 0);
	if (r->s->cfg.read_only && (in->mask & W_OK))
		return reply_err(r, EROFS);
	if (n->type == S_IFLNK)
		return reply_err(r, 0);
	snprintf(name, sizeof(name), "%d", n->fd);
	return reply_err(r, faccessat(r->s->proc_fd, name, in->mask, 0) ? errno : 0);
}

struct linux_dirent64 {
	uint64_t d_ino;
	int64_t d_off;
	unsigned short d_reclen;
	unsigned char d_type;
	char d_name[];
};

static uint32_t op_readdir(struct req *r, struct node *dir, bool plus)
{
	const struct fuse_read_in *in = (const void *)r->arg;
	struct fuse_out_header oh = { .unique = r->h.unique };
	uint64_t cap, used = sizeof(oh);
	struct handle *h;
	char buf[32768];
	bool full = false;
	int err = 0;

	if (r->arglen < sizeof(*in))
		return reply_err(r, EINVAL);
	if (r->out_cap < sizeof(oh))
		return 0;
	cap = r->out_cap < (uint64_t)in->size + sizeof(oh) ? r->out_cap : in->size + sizeof(oh);
	h = handle_get(r->s, in->fh);
	if (!h || !h->dir) {
		handle_put(r->s, h);
		return reply_err(r, EBADF);
	}
	pthread_mutex_lock(&h->lock);
	if (lseek(h->fd, in->offset, SEEK_SET) < 0)
		err = -errno;
	while (!err && !full) {
		long nread = syscall(SYS_getdents64, h->fd, buf, sizeof(buf));

		if (nread < 0)
			err = -errno;
		if (nread <= 0)
			break;
		for (long pos = 0; pos < nread;) {
			struct linux_dirent64 *d = (void *)(buf + pos);
			size_t nl = strlen(d->d_name);
			size_t dsize = FUSE_DIRENT_ALIGN(FUSE_NAME_OFFSET + nl);
			size_t esize =
				plus ? FUSE_DIRENT_ALIGN(FUSE_NAME_OFFSET_DIRENTPLUS + nl) : dsize;
			union {
				struct fuse_direntplus p;
				struct fuse_dirent d;
				char raw[FUSE_NAME_OFFSET_DIRENTPLUS + NAME_MAX + 8];
			} e;
			struct fuse_dirent *de = plus ? &e.p.dirent : &e.d;

			pos += d->d_reclen;
			/* Longer names (other host file systems) could not be looked up anyway. */
			if (nl > NAME_MAX)
				continue;
			if (used + esize > cap) {
				full = true;
				break;
			}
			memset(&e, 0, esize);
			de->ino = d->d_ino;
			de->off = d->d_off;
			de->namelen = nl;
			de->type = d->d_type;
			memcpy(de->name, d->d_name, nl);
			if (plus && strcmp(d->d_name, ".") && strcmp(d->d_name, "..") &&
			    lookup_in(r->s, dir, d->d_name, &e.p.entry_out, false))
				memset(&e.p.entry_out, 0, sizeof(e.p.entry_out));
			buf_to_iov(r->out, r->nout, used, &e, esize);
			used += esize;
		}
	}
	pthread_mutex_unlock(&h->lock);
	handle_put(r->s, h);
	if (err && used == sizeof(oh))
		return reply_err(r, err);
	oh.len = used;
	buf_to_iov(r->out, r->nout, 0, &oh, sizeof(oh));
	return oh.len;
}

static uint32_t op_fallocate(struct req *r)
{
	const struct fuse_fallocate_in *in = (const void *)r->arg;
	struct handle *h;
	int ret;

	if (r->arglen < sizeof(*in))
		return reply_err(r, EINVAL);
	if (r->s->cfg.read_only)
		return reply_err(r, EROFS);
	h = file_handle(r, in->fh, false);
	if (!h)
		return reply_err(r, EBADF);
	ret = fallocate(h->fd, in->mode, in->offset, in->length) ? -errno : 0;
	handle_put(r->s, h);
	return reply_err(r, ret);
}

static uint32_t op_lseek(struct req *r)
{
	const struct fuse_lseek_in *in = (const void *)r->arg;
	struct fuse_lseek_out out;
	struct handle *h;
	off_t off;

	if (r->arglen < sizeof(*in))
		return reply_err(r, EINVAL);
	if (in->whence != SEEK_DATA && in->whence != SEEK_HOLE)
		return reply_err(r, EINVAL);
	h = file_handle(r, in->fh, false);
	if (!h)
		return reply_err(r, EBADF);
	off = lseek(h->fd, in->offset, in->whence);
	out.offset = off;
	handle_put(r->s, h);
	return off < 0 ? reply_err(r, errno) : reply(r, 0, &out, sizeof(out));
}

static uint32_t op_copy_file_range(struct req *r)
{
	const struct fuse_copy_file_range_in *in = (const void *)r->arg;
	struct fuse_write_out out = { 0 };
	struct handle *hi, *ho;
	loff_t oi, oo;
	ssize_t n;

	if (r->arglen < sizeof(*in))
		return reply_err(r, EINVAL);
	if (r->s->cfg.read_only)
		return reply_err(r, EROFS);
	hi = file_handle(r, in->fh_in, false);
	ho = file_handle(r, in->fh_out, false);
	if (!hi || !ho) {
		handle_put(r->s, hi);
		handle_put(r->s, ho);
		return reply_err(r, EBADF);
	}
	oi = in->off_in;
	oo = in->off_out;
	n = copy_file_range(hi->fd, &oi, ho->fd, &oo, in->len > MAX_READ ? MAX_READ : in->len, 0);
	handle_put(r->s, hi);
	handle_put(r->s, ho);
	if (n < 0)
		return reply_err(r, errno);
	out.size = n;
	return reply(r, 0, &out, sizeof(out));
}

static uint32_t op_ioctl(struct req *r)
{
	const struct fuse_ioctl_in *in = (const void *)r->arg;
	struct fuse_ioctl_out out = { 0 };

	if (r->arglen < sizeof(*in))
		return reply_err(r, EINVAL);
	if (in->cmd != KILN_EXIT_CODE_IOCTL || !is_root_id(r->h.nodeid))
		return reply_err(r, ENOTTY);
	if (r->s->cfg.exit_status)
		r->s->cfg.exit_status(r->s->cfg.opaque, (int)(in->arg & 0xff));
	return reply(r, 0, &out, sizeof(out));
}

static uint32_t op_syncfs(struct req *r)
{
	int fd = reopen(r->s, r->s->root, O_RDONLY | O_DIRECTORY), ret;

	if (fd < 0)
		return reply_err(r, fd);
	ret = syncfs(fd) ? -errno : 0;
	close(fd);
	return reply_err(r, ret);
}

static uint32_t op_batch_forget(struct req *r)
{
	const struct fuse_batch_forget_in *in = (const void *)r->arg;
	const struct fuse_forget_one *one = (const void *)(in + 1);

	if (r->arglen < sizeof(*in))
		return 0;
	for (uint32_t i = 0; i < in->count && (i + 1) * sizeof(*one) <= r->arglen - sizeof(*in);
	     i++)
		node_forget(r->s, one[i].nodeid, one[i].nlookup);
	return 0;
}

/* Operations that take the node in h.nodeid. */
static uint32_t dispatch_node(struct req *r, struct node *n)
{
	switch (r->h.opcode) {
	case FUSE_LOOKUP:
		return op_lookup(r, n);
	case FUSE_GETATTR:
		return op_getattr(r, n);
	case FUSE_SETATTR:
		return op_setattr(r, n);
	case FUSE_READLINK:
		return op_readlink(r, n);
	case FUSE_SYMLINK:
		return op_symlink(r, n);
	case FUSE_MKNOD:
		return op_mknod(r, n);
	case FUSE_MKDIR:
		return op_mkdir(r, n);
	case FUSE_UNLINK:
		return op_unlink(r, n, false);
	case FUSE_RMDIR:
		return op_unlink(r, n, true);
	case FUSE_RENAME:
		if (r->arglen < sizeof(struct fuse_rename_in))
			return reply_err(r, EINVAL);
		return do_rename(r, n, ((const struct fuse_rename_in *)r->arg)->newdir, 0,
				 sizeof(struct fuse_rename_in));
	case FUSE_RENAME2:
		if (r->arglen < sizeof(struct fuse_rename2_in))
			return reply_err(r, EINVAL);
		return do_rename(r, n, ((const struct fuse_rename2_in *)r->arg)->newdir,
				 ((const struct fuse_rename2_in *)r->arg)->flags,
				 sizeof(struct fuse_rename2_in));
	case FUSE_LINK:
		return op_link(r, n);
	case FUSE_OPEN:
		return op_open(r, n, false);
	case FUSE_OPENDIR:
		return op_open(r, n, true);
	case FUSE_CREATE:
		return op_create(r, n);
	case FUSE_STATFS:
		return op_statfs(r, n);
	case FUSE_SETXATTR:
		return op_setxattr(r, n);
	case FUSE_GETXATTR:
		return op_getxattr(r, n, false);
	case FUSE_LISTXATTR:
		return op_getxattr(r, n, true);
	case FUSE_REMOVEXATTR:
		return op_removexattr(r, n);
	case FUSE_ACCESS:
		return op_access(r, n);
	case FUSE_READDIR:
		return op_readdir(r, n, false);
	case FUSE_READDIRPLUS:
		return op_readdir(r, n, true);
	}
	return reply_err(r, ENOSYS);
}

/* Nodes that name overlay files have no host node: only these operations apply. */
static bool overlay_op(uint32_t op)
{
	return op == FUSE_GETATTR || op == FUSE_SETATTR || op == FUSE_OPEN || op == FUSE_GETXATTR ||
	       op == FUSE_LISTXATTR || op == FUSE_ACCESS || op == FUSE_SETXATTR ||
	       op == FUSE_REMOVEXATTR || op == FUSE_OPENDIR;
}

static uint32_t dispatch(struct req *r)
{
	struct node *n;
	uint32_t len;

	switch (r->h.opcode) {
	case FUSE_INIT:
		return op_init(r);
	case FUSE_DESTROY:
		fuse_server_reset(r->s);
		return reply_err(r, 0);
	case FUSE_FORGET:
		if (r->arglen >= sizeof(struct fuse_forget_in))
			node_forget(r->s, r->h.nodeid,
				    ((const struct fuse_forget_in *)r->arg)->nlookup);
		return 0;
	case FUSE_BATCH_FORGET:
		return op_batch_forget(r);
	case FUSE_INTERRUPT:
		return 0; /* requests are not interruptible; the reply will come */
	}
	if (!r->s->minor)
		return reply_err(r, EIO); /* no INIT yet */
	switch (r->h.opcode) {
	case FUSE_READ:
		return op_read(r);
	case FUSE_WRITE:
		return op_write(r);
	case FUSE_RELEASE:
	case FUSE_RELEASEDIR:
		return op_release(r);
	case FUSE_FLUSH:
		/*
		 * A close() has nothing to settle here: no lock is held on the host
		 * for the guest, and WRITE replies carry any error. ENOSYS makes the
		 * guest stop sending FLUSH, a round trip saved on every close().
		 */
		return reply_err(r, ENOSYS);
	case FUSE_FSYNC:
		return op_fsync(r, false);
	case FUSE_FSYNCDIR:
		return op_fsync(r, true);
	case FUSE_FALLOCATE:
		return op_fallocate(r);
	case FUSE_LSEEK:
		return op_lseek(r);
	case FUSE_COPY_FILE_RANGE:
		return op_copy_file_range(r);
	case FUSE_IOCTL:
		return op_ioctl(r);
	case FUSE_SYNCFS:
		return op_syncfs(r);
	}
	if (is_overlay(r->h.nodeid)) {
		if (!overlay_op(r->h.opcode) || r->h.nodeid - OVERLAY_BASE >= r->s->cfg.noverlays)
			return reply_err(r, r->h.opcode == FUSE_LOOKUP ? ENOTDIR : ENOSYS);
		return dispatch_node(r, NULL);
	}
	n = node_get(r->s, r->h.nodeid);
	if (!n)
		return reply_err(r, ENOENT);
	len = dispatch_node(r, n);
	node_put(r->s, n);
	return len;
}

uint32_t fuse_server_handle(struct fuse_server *s, const struct iovec *in, unsigned nin,
			    const struct iovec *out, unsigned nout)
{
	static __thread uint8_t args[MAX_ARGS];
	struct req r = { .s = s, .in = in, .nin = nin, .out = out, .nout = nout };
	uint64_t in_len = iov_len(in, nin), want;

	r.out_cap = iov_len(out, nout);
	if (in_len < sizeof(r.h))
		return 0;
	iov_to_buf(in, nin, 0, &r.h, sizeof(r.h));
	if (r.h.len < sizeof(r.h) || r.h.len > in_len)
		return reply_err(&r, EINVAL);
	want = r.h.len - sizeof(r.h);
	/* WRITE data stays in guest memory; everything else is small and copied once. */
	if (r.h.opcode == FUSE_WRITE && want > sizeof(struct fuse_write_in))
		want = sizeof(struct fuse_write_in);
	if (want > sizeof(args) - 1)
		return reply_err(&r, E2BIG);
	iov_to_buf(in, nin, sizeof(r.h), args, want);
	args[want] = 0; /* names are checked for their own NUL; this bounds any strlen */
	r.arg = args;
	r.arglen = want;
	return dispatch(&r);
}

/* ---- lifetime ---- */

static void free_tables(struct fuse_server *s)
{
	for (unsigned i = 0; i < HASH_BUCKETS; i++) {
		for (struct node *n = s->by_id[i], *next; n; n = next) {
			next = n->next_id;
			close(n->fd);
			free(n);
		}
		for (struct handle *h = s->handles[i], *next; h; h = next) {
			next = h->next;
			close(h->fd);
			pthread_mutex_destroy(&h->lock);
			free(h);
		}
	}
}

/*
 * Drop every guest reference. Requests in flight keep what they use until
 * they finish (a guest may send DESTROY while others run).
 */
void fuse_server_reset(struct fuse_server *s)
{
	pthread_mutex_lock(&s->lock);
	for (unsigned i = 0; i < HASH_BUCKETS; i++) {
		for (struct node *n = s->by_id[i], *next; n; n = next) {
			next = n->next_id;
			if (n != s->root) {
				n->nlookup = 0;
				node_maybe_free(s, n);
			}
		}
		for (struct handle *h = s->handles[i], *next; h; h = next) {
			next = h->next;
			h->released = true;
			if (!h->refs)
				handle_unlink_free(s, h);
		}
	}
	s->minor = 0;
	pthread_mutex_unlock(&s->lock);
}

void fuse_server_thread_init(void)
{
	/* Own umask for this thread: modes from the guest are already masked by the guest. */
	if (unshare(CLONE_FS) == 0)
		umask(0);
}

/* The guest may make us hold this many fds: our limit, less room for the VMM's own. */
static unsigned long max_guest_fds(void)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) || rl.rlim_cur == RLIM_INFINITY)
		return 1 << 20;
	return rl.rlim_cur > 2048 ? rl.rlim_cur - 1024 : rl.rlim_cur / 2;
}

int fuse_server_new(const struct fuse_server_config *cfg, struct fuse_server **out)
{
	struct fuse_server *s;
	struct stat st;
	int fd, ret;

	if (cfg->noverlays > FUSE_SERVER_MAX_OVERLAYS)
		return -EINVAL;
	fd = open(cfg->path, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	if ((ret = stat_fd(fd, &st))) {
		close(fd);
		return ret;
	}
	s = calloc(1, sizeof(*s));
	if (!s || !(s->root = calloc(1, sizeof(*s->root)))) {
		free(s);
		close(fd);
		return -ENOMEM;
	}
	s->proc_fd = open("/proc/self/fd", O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (s->proc_fd < 0) {
		ret = -errno;
		free(s->root);
		free(s);
		close(fd);
		return ret;
	}
	s->cfg = *cfg;
	s->as_root = geteuid() == 0;
	s->max_fds = max_guest_fds();
	clock_gettime(CLOCK_REALTIME, &s->start);
	pthread_mutex_init(&s->lock, NULL);
	s->next_node = FUSE_ROOT_ID + 1;
	s->next_handle = 1;
	*s->root = (struct node){ .id = FUSE_ROOT_ID,
				  .fd = fd,
				  .dev = st.st_dev,
				  .ino = st.st_ino,
				  .type = S_IFDIR,
				  .nlookup = 1 };
	s->by_id[hash64(FUSE_ROOT_ID)] = s->root;
	s->by_ino[hash_ino(st.st_dev, st.st_ino)] = s->root;
	*out = s;
	return 0;
}

void fuse_server_free(struct fuse_server *s)
{
	if (!s)
		return;
	free_tables(s);
	close(s->proc_fd);
	pthread_mutex_destroy(&s->lock);
	free(s);
}
