/*
 * vsock-guest: the guest end of the vsock checks (busybox has no vsock tool).
 * Built static by tests/e2e/prepare.sh and put into the test initramfs.
 *
 *   vsock-guest connect CID PORT   stdin -> the stream, the stream -> stdout;
 *                                  end of stdin shuts the stream's write side
 *   vsock-guest listen PORT        echo server, one process per connection
 *   vsock-guest greet PORT TEXT    every connection gets TEXT, then the guest closes
 *
 * The servers report each connection's end on stderr as
 * "KILN-VSOCK <mode> <how> bytes=N" (how: eof, or the error).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <linux/vm_sockets.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

static int write_all(int fd, const char *p, size_t n)
{
	while (n) {
		ssize_t w = write(fd, p, n);

		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return -1;
		p += w;
		n -= w;
	}
	return 0;
}

static struct sockaddr_vm vm_addr(unsigned cid, unsigned port)
{
	return (struct sockaddr_vm){ .svm_family = AF_VSOCK, .svm_cid = cid, .svm_port = port };
}

static int do_connect(unsigned cid, unsigned port)
{
	struct sockaddr_vm a = vm_addr(cid, port);
	struct pollfd p[2];
	char buf[65536];
	bool in_open = true;
	int s = socket(AF_VSOCK, SOCK_STREAM, 0);

	if (s < 0 || connect(s, (struct sockaddr *)&a, sizeof(a)) < 0) {
		fprintf(stderr, "vsock-guest: connect %u:%u: %s\n", cid, port, strerror(errno));
		return 1;
	}
	p[0] = (struct pollfd){ .fd = 0, .events = POLLIN };
	p[1] = (struct pollfd){ .fd = s, .events = POLLIN };
	for (;;) {
		ssize_t n;

		if (poll(p, 2, -1) < 0 && errno != EINTR)
			return 1;
		if (in_open && p[0].revents) {
			n = read(0, buf, sizeof(buf));
			if (n <= 0) {
				shutdown(s, SHUT_WR);
				in_open = false;
				p[0].fd = -1;
			} else if (write_all(s, buf, n)) {
				perror("vsock-guest: send");
				return 1;
			}
		}
		if (p[1].revents) {
			n = read(s, buf, sizeof(buf));
			if (n == 0)
				return 0;
			if (n < 0 || write_all(1, buf, n)) {
				perror("vsock-guest: receive");
				return 1;
			}
		}
	}
}

static void echo(int c)
{
	char buf[65536];
	unsigned long long total = 0;
	const char *how = "eof";

	for (;;) {
		ssize_t n = read(c, buf, sizeof(buf));

		if (n == 0)
			break;
		if (n < 0 || write_all(c, buf, n)) {
			how = strerror(errno);
			break;
		}
		total += n;
	}
	fprintf(stderr, "KILN-VSOCK echo %s bytes=%llu\n", how, total);
}

static void greet(int c, const char *text)
{
	const char *how = write_all(c, text, strlen(text)) ? strerror(errno) : "eof";

	fprintf(stderr, "KILN-VSOCK greet %s bytes=%zu\n", how, strlen(text));
}

static int serve(unsigned port, const char *text)
{
	struct sockaddr_vm a = vm_addr(VMADDR_CID_ANY, port);
	int s = socket(AF_VSOCK, SOCK_STREAM, 0);

	signal(SIGCHLD, SIG_IGN); /* no zombies */
	if (s < 0 || bind(s, (struct sockaddr *)&a, sizeof(a)) < 0 || listen(s, 16) < 0) {
		fprintf(stderr, "vsock-guest: listen on port %u: %s\n", port, strerror(errno));
		return 1;
	}
	for (;;) {
		int c = accept(s, NULL, NULL);

		if (c < 0) {
			if (errno == EINTR)
				continue;
			perror("vsock-guest: accept");
			return 1;
		}
		if (fork() == 0) {
			close(s);
			if (text)
				greet(c, text);
			else
				echo(c);
			close(c);
			_exit(0);
		}
		close(c);
	}
}

int main(int argc, char **argv)
{
	signal(SIGPIPE, SIG_IGN);
	if (argc == 4 && !strcmp(argv[1], "connect"))
		return do_connect(strtoul(argv[2], NULL, 0), strtoul(argv[3], NULL, 0));
	if (argc == 3 && !strcmp(argv[1], "listen"))
		return serve(strtoul(argv[2], NULL, 0), NULL);
	if (argc == 4 && !strcmp(argv[1], "greet"))
		return serve(strtoul(argv[2], NULL, 0), argv[3]);
	fprintf(stderr, "usage: vsock-guest connect CID PORT | listen PORT | greet PORT TEXT\n");
	return 2;
}
