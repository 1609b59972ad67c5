/*
 * The FUSE server driven with hand-made requests, as a hostile guest kernel
 * could send them: normal operations on a temporary directory, and attempts
 * to leave it (.., names with '/', symlinks, device nodes, bad ids and
 * lengths), which must fail without touching anything outside.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/fuse.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "check.h"
#include "fs/fuse_server.h"

static struct fuse_server *srv;
static uint8_t reply_buf[1 << 21];
static uint64_t unique;
static int exit_seen = -1;

struct res {
	int error;
	uint32_t len; /* bytes of payload after the out header */
	const uint8_t *data;
};

/* Send opcode on nodeid with args (a, alen) followed by (b, blen); the reply has cap bytes. */
static struct res send_req(uint32_t op, uint64_t nodeid, const void *a, size_t alen, const void *b,
			   size_t blen, size_t cap)
{
	struct fuse_in_header h = {
		.len = sizeof(h) + alen + blen, .opcode = op, .unique = ++unique, .nodeid = nodeid
	};
	struct iovec in[3] = { { &h, sizeof(h) }, { (void *)a, alen }, { (void *)b, blen } };
	struct iovec out = { reply_buf, cap };
	struct fuse_out_header *oh = (void *)reply_buf;
	struct res r = { 0 };
	uint32_t n;

	memset(reply_buf, 0xa5, sizeof(*oh));
	n = fuse_server_handle(srv, in, 3, &out, 1);
	if (n < sizeof(*oh))
		return (struct res){ .error = n ? -EPROTO : 0, .len = 0 };
	CHECK(oh->unique == h.unique && oh->len == n, "reply header for op %u", op);
	r.error = oh->error;
	r.len = n - sizeof(*oh);
	r.data = reply_buf + sizeof(*oh);
	return r;
}

static struct res req(uint32_t op, uint64_t nodeid, const void *a, size_t alen)
{
	return send_req(op, nodeid, a, alen, NULL, 0, sizeof(reply_buf));
}

static struct res req_name(uint32_t op, uint64_t nodeid, const void *a, size_t alen,
			   const char *name)
{
	return send_req(op, nodeid, a, alen, name, strlen(name) + 1, sizeof(reply_buf));
}

static uint64_t lookup(uint64_t parent, const char *name, int *err)
{
	struct res r = req_name(FUSE_LOOKUP, parent, NULL, 0, name);

	*err = r.error;
	return r.error ? 0 : ((const struct fuse_entry_out *)r.data)->nodeid;
}

static uint64_t open_node(uint64_t node, uint32_t flags, uint32_t op, int *err)
{
	struct fuse_open_in in = { .flags = flags };
	struct res r = req(op, node, &in, sizeof(in));

	*err = r.error;
	return r.error ? 0 : ((const struct fuse_open_out *)r.data)->fh;
}

static void on_exit_status(void *opaque, int status)
{
	(void)opaque;
	exit_seen = status;
}

static void test_basic(const char *dir)
{
	struct fuse_init_in init = { .major = 7,
				     .minor = 36,
				     .max_readahead = 65536,
				     .flags = FUSE_ASYNC_READ | FUSE_DO_READDIRPLUS |
					      FUSE_WRITEBACK_CACHE | FUSE_HANDLE_KILLPRIV_V2 };
	struct fuse_create_in cin = { .flags = O_RDWR, .mode = 0640 };
	struct fuse_write_in win = { 0 };
	struct fuse_read_in rin = { 0 };
	char path[4096], buf[64];
	uint64_t node, fh;
	struct res r;
	int err, fd;

	r = req(FUSE_GETATTR, FUSE_ROOT_ID, &(struct fuse_getattr_in){ 0 },
		sizeof(struct fuse_getattr_in));
	CHECK(r.error == -EIO, "requests before INIT fail (%d)", r.error);
	r = req(FUSE_INIT, 0, &init, sizeof(init));
	CHECK(r.error == 0 && ((const struct fuse_init_out *)r.data)->minor == 36, "INIT (%d)",
	      r.error);
	CHECK(((const struct fuse_init_out *)r.data)->flags & FUSE_WRITEBACK_CACHE,
	      "write-back cache");
	CHECK(((const struct fuse_init_out *)r.data)->flags & FUSE_HANDLE_KILLPRIV_V2,
	      "the server drops set-ID bits itself (KILLPRIV_V2)");

	/* CREATE, WRITE, READ, and the host sees the data. */
	r = req_name(FUSE_CREATE, FUSE_ROOT_ID, &cin, sizeof(cin), "f");
	CHECK(r.error == 0, "CREATE f (%d)", r.error);
	node = ((const struct fuse_entry_out *)r.data)->nodeid;
	fh = ((const struct fuse_open_out *)(r.data + sizeof(struct fuse_entry_out)))->fh;
	win.fh = fh;
	win.size = 5;
	r = send_req(FUSE_WRITE, node, &win, sizeof(win), "hello", 5, sizeof(reply_buf));
	CHECK(r.error == 0 && ((const struct fuse_write_out *)r.data)->size == 5, "WRITE (%d)",
	      r.error);
	snprintf(path, sizeof(path), "%s/f", dir);
	fd = open(path, O_RDONLY);
	CHECK(fd >= 0 && read(fd, buf, sizeof(buf)) == 5 && !memcmp(buf, "hello", 5),
	      "the host reads what the guest wrote");
	close(fd);
	rin.fh = fh;
	rin.size = 3;
	rin.offset = 1;
	r = req(FUSE_READ, node, &rin, sizeof(rin));
	CHECK(r.error == 0 && r.len == 3 && !memcmp(r.data, "ell", 3), "READ at an offset");
	/* A read larger than the reply buffer is cut to it. */
	rin.size = 1 << 20;
	rin.offset = 0;
	r = send_req(FUSE_READ, node, &rin, sizeof(rin), NULL, 0,
		     sizeof(struct fuse_out_header) + 2);
	CHECK(r.error == 0 && r.len == 2, "READ bounded by the reply space (%u)", r.len);

	/* FLUSH has nothing to do: ENOSYS, so that the guest stops sending it. */
	r = req(FUSE_FLUSH, node, &(struct fuse_flush_in){ .fh = fh },
		sizeof(struct fuse_flush_in));
	CHECK(r.error == -ENOSYS, "FLUSH (%d)", r.error);

	/* WRITE claiming more data than the request has. */
	win.size = 100;
	r = send_req(FUSE_WRITE, node, &win, sizeof(win), "hello", 5, sizeof(reply_buf));
	CHECK(r.error == -EINVAL, "WRITE longer than its data (%d)", r.error);

	/* Unknown handles and nodes. */
	rin.fh = 12345;
	r = req(FUSE_READ, node, &rin, sizeof(rin));
	CHECK(r.error == -EBADF, "READ on an unknown handle (%d)", r.error);
	r = req(FUSE_GETATTR, 987654, &(struct fuse_getattr_in){ 0 },
		sizeof(struct fuse_getattr_in));
	CHECK(r.error == -ENOENT, "GETATTR on an unknown node (%d)", r.error);
	r = req(FUSE_RELEASE, node, &(struct fuse_release_in){ .fh = fh },
		sizeof(struct fuse_release_in));
	CHECK(r.error == 0, "RELEASE");
	r = req(FUSE_RELEASE, node, &(struct fuse_release_in){ .fh = fh },
		sizeof(struct fuse_release_in));
	CHECK(r.error == -EBADF, "RELEASE twice (%d)", r.error);

	/* Truncated and oversized headers. */
	{
		struct fuse_in_header h = {
			.len = 4096, .opcode = FUSE_GETATTR, .unique = 7, .nodeid = 1
		};
		struct iovec in = { &h, sizeof(h) }, out = { reply_buf, sizeof(reply_buf) };
		uint32_t n = fuse_server_handle(srv, &in, 1, &out, 1);

		CHECK(n == sizeof(struct fuse_out_header) &&
			      ((struct fuse_out_header *)reply_buf)->error == -EINVAL,
		      "header longer than the request");
		in.iov_len = 8;
		CHECK(fuse_server_handle(srv, &in, 1, &out, 1) == 0, "short header: no reply");
	}

	/* xattrs */
	{
		struct fuse_setxattr_in sx = { .size = 3 };
		char xa[64] = "user.kiln";

		memcpy(xa + strlen(xa) + 1, "abc", 3);
		r = send_req(FUSE_SETXATTR, node, &sx, 8, xa, strlen(xa) + 4, sizeof(reply_buf));
		if (r.error == -EOPNOTSUPP || r.error == -ENOTSUP) {
			printf("skip: no user xattrs on this file system\n");
		} else {
			struct fuse_getxattr_in gx = { .size = 64 };

			CHECK(r.error == 0, "SETXATTR (%d)", r.error);
			CHECK(getxattr(path, "user.kiln", buf, sizeof(buf)) == 3 &&
				      !memcmp(buf, "abc", 3),
			      "the host sees the xattr");
			r = req_name(FUSE_GETXATTR, node, &gx, sizeof(gx), "user.kiln");
			CHECK(r.error == 0 && r.len == 3 && !memcmp(r.data, "abc", 3), "GETXATTR");
			sx.size = 1000; /* more than the request carries */
			r = send_req(FUSE_SETXATTR, node, &sx, 8, xa, strlen(xa) + 4,
				     sizeof(reply_buf));
			CHECK(r.error == -EINVAL, "SETXATTR value past the request (%d)", r.error);
		}
	}
	(void)err;
}

static void test_escapes(const char *dir, const char *outside)
{
	struct fuse_mknod_in mk = { .mode = S_IFIFO | 0644 };
	char path[4096];
	uint64_t n, fh;
	struct res r;
	int err;

	/* ".." and names with '/' never resolve. */
	lookup(FUSE_ROOT_ID, "..", &err);
	CHECK(err != 0, "LOOKUP .. in the root fails");
	lookup(FUSE_ROOT_ID, "../outside", &err);
	CHECK(err == -EINVAL, "LOOKUP with '/' fails (%d)", err);
	lookup(FUSE_ROOT_ID, ".", &err);
	CHECK(err == -EINVAL, "LOOKUP . fails (%d)", err);
	{
		char noterm[4] = { 'a', 'b', 'c', 'd' };
		struct res r2 = req(FUSE_LOOKUP, FUSE_ROOT_ID, noterm, sizeof(noterm));

		CHECK(r2.error == -EINVAL, "LOOKUP name without NUL (%d)", r2.error);
	}

	/* A symlink to a directory outside: the server never follows it. */
	snprintf(path, sizeof(path), "%s/esc", dir);
	CHECK(symlink(outside, path) == 0, "symlink");
	n = lookup(FUSE_ROOT_ID, "esc", &err);
	CHECK(err == 0, "LOOKUP of the symlink itself");
	lookup(n, "secret", &err);
	CHECK(err == -ENOTDIR, "LOOKUP through a symlink fails (%d)", err);
	open_node(n, O_RDONLY, FUSE_OPEN, &err);
	CHECK(err != 0, "OPEN of a symlink fails (%d)", err);
	open_node(n, O_RDONLY, FUSE_OPENDIR, &err);
	CHECK(err == -ENOTDIR, "OPENDIR of a symlink fails (%d)", err);
	{
		struct fuse_getxattr_in gx = { .size = 64 };

		r = req(FUSE_LISTXATTR, n, &gx, sizeof(gx));
		CHECK(r.error != 0, "xattrs of a symlink are not followed (%d)", r.error);
	}
	{
		struct fuse_setattr_in sa = { .valid = FATTR_MODE, .mode = 0777 };
		struct stat st;

		r = req(FUSE_SETATTR, n, &sa, sizeof(sa));
		CHECK(r.error != 0, "chmod of a symlink fails (%d)", r.error);
		CHECK(stat(outside, &st) == 0 && (st.st_mode & 0777) == 0700,
		      "the target outside is untouched");
	}
	/* A symlink created by the guest is only data. */
	r = send_req(FUSE_SYMLINK, FUSE_ROOT_ID, "esc2", 5, "/", 2, sizeof(reply_buf));
	CHECK(r.error == 0, "SYMLINK (%d)", r.error);
	n = lookup(FUSE_ROOT_ID, "esc2", &err);
	lookup(n, "etc", &err);
	CHECK(err == -ENOTDIR, "a guest symlink to / does not lead to the host's / (%d)", err);

	/* Device nodes and FIFOs made by the guest are never opened on the host. */
	r = req_name(FUSE_MKNOD, FUSE_ROOT_ID, &mk, sizeof(mk), "fifo");
	CHECK(r.error == 0, "MKNOD fifo (%d)", r.error);
	n = ((const struct fuse_entry_out *)r.data)->nodeid;
	open_node(n, O_RDONLY, FUSE_OPEN, &err);
	CHECK(err == -ENXIO, "OPEN of a FIFO is refused (%d)", err);
	{
		struct fuse_create_in cin = { .flags = O_RDONLY, .mode = 0644 };

		/* Would block forever (or open a device) if CREATE opened what exists. */
		r = req_name(FUSE_CREATE, FUSE_ROOT_ID, &cin, sizeof(cin), "fifo");
		CHECK(r.error == -ENXIO, "CREATE over a FIFO is refused (%d)", r.error);
		cin.flags = O_RDWR | O_EXCL;
		r = req_name(FUSE_CREATE, FUSE_ROOT_ID, &cin, sizeof(cin), "f");
		CHECK(r.error == -EEXIST, "CREATE with O_EXCL on an existing file (%d)", r.error);
		cin.flags = O_RDWR;
		r = req_name(FUSE_CREATE, FUSE_ROOT_ID, &cin, sizeof(cin), "f");
		CHECK(r.error == 0, "CREATE without O_EXCL opens an existing file (%d)", r.error);
	}
	if (geteuid() == 0) {
		mk.mode = S_IFCHR | 0666;
		mk.rdev = makedev(1, 3); /* /dev/null's numbers; any device would do */
		r = req_name(FUSE_MKNOD, FUSE_ROOT_ID, &mk, sizeof(mk), "dev");
		CHECK(r.error == 0, "MKNOD char device (%d)", r.error);
		n = ((const struct fuse_entry_out *)r.data)->nodeid;
		open_node(n, O_RDWR, FUSE_OPEN, &err);
		CHECK(err == -ENXIO, "OPEN of a device node is refused (%d)", err);
	}

	/* Renaming a directory keeps lookups through its node inside the share. */
	snprintf(path, sizeof(path), "%s/d", dir);
	mkdir(path, 0755);
	snprintf(path, sizeof(path), "%s/d/inner", dir);
	close(open(path, O_CREAT | O_WRONLY, 0644));
	n = lookup(FUSE_ROOT_ID, "d", &err);
	r = send_req(FUSE_RENAME, FUSE_ROOT_ID, &(struct fuse_rename_in){ .newdir = FUSE_ROOT_ID },
		     sizeof(struct fuse_rename_in), "d\0d2", 5, sizeof(reply_buf));
	CHECK(r.error == 0, "RENAME d d2 (%d)", r.error);
	lookup(n, "inner", &err);
	CHECK(err == 0, "the renamed directory's node still finds its entries");
	r = send_req(FUSE_RENAME, FUSE_ROOT_ID, &(struct fuse_rename_in){ .newdir = 424242 },
		     sizeof(struct fuse_rename_in), "d2\0x", 5, sizeof(reply_buf));
	CHECK(r.error == -ENOENT, "RENAME into an unknown directory (%d)", r.error);
	r = send_req(FUSE_RENAME, FUSE_ROOT_ID, &(struct fuse_rename_in){ .newdir = FUSE_ROOT_ID },
		     sizeof(struct fuse_rename_in), "d2\0../x", 8, sizeof(reply_buf));
	CHECK(r.error == -EINVAL, "RENAME to a name with '/' (%d)", r.error);

	/* A hard link made through the server stays inside. */
	n = lookup(FUSE_ROOT_ID, "f", &err);
	r = req_name(FUSE_LINK, FUSE_ROOT_ID, &(struct fuse_link_in){ .oldnodeid = n },
		     sizeof(struct fuse_link_in), "f2");
	CHECK(r.error == 0 && ((const struct fuse_entry_out *)r.data)->nodeid == n,
	      "LINK gives the same node (%d)", r.error);
	fh = open_node(FUSE_ROOT_ID, O_RDONLY, FUSE_OPENDIR, &err);
	CHECK(err == 0, "OPENDIR root");
	{
		struct fuse_read_in rin = { .fh = fh, .size = 4096 };
		int names = 0;

		r = req(FUSE_READDIRPLUS, FUSE_ROOT_ID, &rin, sizeof(rin));
		CHECK(r.error == 0 && r.len > 0, "READDIRPLUS (%d)", r.error);
		for (uint32_t off = 0; off + FUSE_NAME_OFFSET_DIRENTPLUS <= r.len;) {
			const struct fuse_direntplus *d = (const void *)(r.data + off);

			names++;
			off += FUSE_DIRENTPLUS_SIZE(d);
		}
		CHECK(names >= 7, "READDIRPLUS lists the entries (%d)", names);
		/* A tiny buffer gets as many entries as fit, not an overrun. */
		rin.size = 8;
		r = req(FUSE_READDIR, FUSE_ROOT_ID, &rin, sizeof(rin));
		CHECK(r.error == 0 && r.len == 0, "READDIR into 8 bytes (%d, %u)", r.error, r.len);
	}
}

static void test_overlay_and_exit(void)
{
	struct fuse_ioctl_in io = { .cmd = 0x7602, .arg = 42 };
	struct fuse_read_in rin = { .size = 100 };
	uint64_t n;
	struct res r;
	int err;

	n = lookup(FUSE_ROOT_ID, "init.krun", &err);
	CHECK(err == 0, "LOOKUP of the overlay file (%d)", err);
	rin.fh = open_node(n, O_RDONLY, FUSE_OPEN, &err);
	CHECK(err == 0, "OPEN the overlay file (%d)", err);
	r = req(FUSE_READ, n, &rin, sizeof(rin));
	CHECK(r.error == 0 && r.len == 6 && !memcmp(r.data, "#!init", 6), "READ the overlay file");
	open_node(n, O_WRONLY, FUSE_OPEN, &err);
	CHECK(err == -EACCES, "the overlay file is read-only (%d)", err);
	r = req_name(FUSE_UNLINK, FUSE_ROOT_ID, NULL, 0, "init.krun");
	CHECK(r.error == -EPERM, "UNLINK the overlay file (%d)", r.error);
	lookup(n, "x", &err);
	CHECK(err != 0, "LOOKUP below a file fails (%d)", err);
	r = req(FUSE_IOCTL, FUSE_ROOT_ID, &io, sizeof(io));
	CHECK(r.error == 0 && exit_seen == 42, "the init's exit status arrives (%d, %d)", r.error,
	      exit_seen);
	io.cmd = 0x1234;
	r = req(FUSE_IOCTL, FUSE_ROOT_ID, &io, sizeof(io));
	CHECK(r.error == -ENOTTY, "other ioctls fail (%d)", r.error);
}

static mode_t mode_of(const char *path)
{
	struct stat st;

	return stat(path, &st) ? (mode_t)-1 : st.st_mode & 07777;
}

/* KILLPRIV_V2: set-ID bits go when the guest says so, as its VFS would drop them. */
static void test_killpriv(const char *dir)
{
	struct fuse_write_in win = { .size = 1 };
	struct fuse_setattr_in sin = { .valid = FATTR_SIZE | FATTR_KILL_SUIDGID };
	struct fuse_open_in oin = { .flags = O_RDWR | O_TRUNC,
				    .open_flags = FUSE_OPEN_KILL_SUIDGID };
	char path[4096];
	uint64_t node;
	struct res r;
	int err;

	snprintf(path, sizeof(path), "%s/suid", dir);
	close(open(path, O_CREAT | O_WRONLY, 0644));
	chmod(path, 06755);
	node = lookup(FUSE_ROOT_ID, "suid", &err);
	win.fh = open_node(node, O_RDWR, FUSE_OPEN, &err);
	CHECK(err == 0, "OPEN suid (%d)", err);
	r = send_req(FUSE_WRITE, node, &win, sizeof(win), "x", 1, sizeof(reply_buf));
	CHECK(r.error == 0 && mode_of(path) == 06755, "a WRITE keeps set-ID bits (%o)",
	      mode_of(path));
	win.write_flags = FUSE_WRITE_KILL_SUIDGID;
	r = send_req(FUSE_WRITE, node, &win, sizeof(win), "x", 1, sizeof(reply_buf));
	CHECK(r.error == 0 && mode_of(path) == 0755, "WRITE_KILL_SUIDGID drops them (%o)",
	      mode_of(path));
	chmod(path, 02644);
	r = send_req(FUSE_WRITE, node, &win, sizeof(win), "x", 1, sizeof(reply_buf));
	CHECK(r.error == 0 && mode_of(path) == 02644,
	      "set-group-ID without group execute stays (%o)", mode_of(path));
	chmod(path, 04755);
	r = req(FUSE_SETATTR, node, &sin, sizeof(sin));
	CHECK(r.error == 0 && mode_of(path) == 0755, "truncate with KILL_SUIDGID (%o)",
	      mode_of(path));
	chmod(path, 04755);
	open_node(node, 0, FUSE_OPEN, &err);
	CHECK(err == 0 && mode_of(path) == 04755, "a plain OPEN keeps them (%o)", mode_of(path));
	r = req(FUSE_OPEN, node, &oin, sizeof(oin));
	CHECK(r.error == 0 && mode_of(path) == 0755, "OPEN O_TRUNC with KILL_SUIDGID (%o)",
	      mode_of(path));
	unlink(path);
}

static void test_read_only(const char *dir)
{
	struct fuse_server_config cfg = { .path = dir, .read_only = true };
	struct fuse_init_in init = { .major = 7, .minor = 31 };
	struct fuse_create_in cin = { .flags = O_RDWR, .mode = 0644 };
	struct fuse_server *rw = srv;
	uint64_t n;
	struct res r;
	int err;

	CHECK(fuse_server_new(&cfg, &srv) == 0, "read-only server");
	req(FUSE_INIT, 0, &init, sizeof(init));
	r = req_name(FUSE_CREATE, FUSE_ROOT_ID, &cin, sizeof(cin), "new");
	CHECK(r.error == -EROFS, "CREATE on a read-only share (%d)", r.error);
	n = lookup(FUSE_ROOT_ID, "f", &err);
	open_node(n, O_WRONLY, FUSE_OPEN, &err);
	CHECK(err == -EROFS, "OPEN for writing on a read-only share (%d)", err);
	open_node(n, O_RDONLY, FUSE_OPEN, &err);
	CHECK(err == 0, "OPEN for reading on a read-only share (%d)", err);
	r = req_name(FUSE_UNLINK, FUSE_ROOT_ID, NULL, 0, "f");
	CHECK(r.error == -EROFS, "UNLINK on a read-only share (%d)", r.error);
	fuse_server_free(srv);
	srv = rw;
}

int main(void)
{
	char dir[] = "/tmp/kiln-fuse-XXXXXX", outside[] = "/tmp/kiln-outside-XXXXXX";
	static const uint8_t init_data[] = "#!init";
	struct fuse_server_config cfg = {
		.overlays = { { "init.krun", init_data, 6, S_IFREG | 0755, false } },
		.noverlays = 1,
		.exit_status = on_exit_status,
	};
	char cmd[256];

	if (!mkdtemp(dir) || !mkdtemp(outside))
		return 2;
	chmod(outside, 0700);
	fuse_server_thread_init();
	cfg.path = dir;
	CHECK(fuse_server_new(&cfg, &srv) == 0, "server on %s", dir);
	test_basic(dir);
	test_killpriv(dir);
	test_escapes(dir, outside);
	test_overlay_and_exit();
	test_read_only(dir);
	fuse_server_free(srv);
	snprintf(cmd, sizeof(cmd), "rm -rf %s %s", dir, outside);
	if (system(cmd))
		return 2;
	return check_summary();
}
