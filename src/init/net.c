/*
 * The guest's network: lo, and DHCP on the NICs that the VMM marked (NET_FLAG_DHCP_CLIENT),
 * found by their MACs. The exchange runs over an AF_PACKET datagram socket, so it needs no
 * address on the interface; the lease is set with the classic ioctls. No lease is a warning,
 * not a failure: the workload runs either way. Leases are not renewed: the VMM's network
 * (passt) gives the same address for the life of the VM.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/if_ether.h>
#include <linux/if_packet.h>
#include <net/if.h>
#include <net/route.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "init/dhcp.h"
#include "init/net.h"
#include "init/sys.h"

#define DHCP_TRIES     3
#define DHCP_WAIT_MS   1000 /* for the first answer; each try waits this much longer */
#define SEND_RETRY_MS  50
#define RESOLV_CONF    "/etc/resolv.conf"
#define RESOLV_TMPFILE "/dev/.kiln-resolv.conf" /* devtmpfs: writable on any root */

struct nic {
	char name[IF_NAMESIZE];
	int index;
	int ctl; /* AF_INET socket for the ioctls */
	int pkt; /* AF_PACKET socket bound to the NIC */
	uint8_t mac[6];
};

static int set_flags_up(int s, const char *name)
{
	struct ifreq ifr = { 0 };

	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", name);
	if (ioctl(s, SIOCGIFFLAGS, &ifr))
		return -errno;
	ifr.ifr_flags |= IFF_UP;
	return ioctl(s, SIOCSIFFLAGS, &ifr) ? -errno : 0;
}

/* The interface whose hardware address is mac: its name and index into n. */
static int find_nic(int s, const uint8_t mac[6], struct nic *n)
{
	DIR *d = opendir("/sys/class/net");
	struct dirent *e;
	int ret = -ENODEV;

	if (!d)
		return -errno;
	while (ret && (e = readdir(d))) {
		struct ifreq ifr = { 0 };

		if (e->d_name[0] == '.' || strlen(e->d_name) >= sizeof(ifr.ifr_name))
			continue;
		memcpy(ifr.ifr_name, e->d_name, strlen(e->d_name));
		if (ioctl(s, SIOCGIFHWADDR, &ifr) || memcmp(ifr.ifr_hwaddr.sa_data, mac, 6))
			continue;
		memcpy(n->name, ifr.ifr_name, sizeof(n->name));
		if (!ioctl(s, SIOCGIFINDEX, &ifr)) {
			n->index = ifr.ifr_ifindex;
			ret = 0;
		}
	}
	closedir(d);
	return ret;
}

static long long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000LL + ts.tv_nsec / 1000000;
}

/*
 * Send req, then wait for a reply of type want or DHCP_ACK/DHCP_NAK; wait_ms in all. A NIC just
 * brought up may refuse to send for a moment (no qdisc until the link watcher runs): retry.
 */
static int exchange(const struct nic *n, const struct dhcp_request *req, uint8_t want, int wait_ms,
		    struct dhcp_reply *r)
{
	struct sockaddr_ll to = {
		.sll_family = AF_PACKET,
		.sll_protocol = htons(ETH_P_IP),
		.sll_ifindex = n->index,
		.sll_halen = 6,
		.sll_addr = { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff },
	};
	uint8_t buf[2048];
	size_t len = dhcp_build(buf, sizeof(buf), req);
	long long end = now_ms() + wait_ms;
	int ret = -ETIMEDOUT;
	bool sent = false;

	for (long long left; (left = end - now_ms()) > 0;) {
		struct pollfd p = { .fd = n->pkt, .events = POLLIN };
		ssize_t got;

		if (!sent && sendto(n->pkt, buf, len, 0, (struct sockaddr *)&to, sizeof(to)) < 0) {
			ret = -errno;
			poll(NULL, 0, left < SEND_RETRY_MS ? (int)left : SEND_RETRY_MS);
			continue;
		}
		sent = true;
		ret = -ETIMEDOUT;
		if (poll(&p, 1, (int)left) <= 0)
			continue;
		got = recv(n->pkt, buf, sizeof(buf), MSG_DONTWAIT);
		if (got <= 0 || dhcp_parse(buf, got, req->xid, req->mac, r))
			continue;
		if (r->type == want || r->type == DHCP_ACK || r->type == DHCP_NAK)
			return 0;
	}
	return ret;
}

/* DISCOVER (rapid commit: passt answers with the ACK), else OFFER, REQUEST, ACK. */
static int lease(const struct nic *n, struct dhcp_reply *r)
{
	struct dhcp_request req = { .type = DHCP_DISCOVER };
	int ret = -ETIMEDOUT;

	memcpy(req.mac, n->mac, 6);
	if (getrandom(&req.xid, sizeof(req.xid), GRND_NONBLOCK) != sizeof(req.xid))
		req.xid = (uint32_t)now_ms() ^ (uint32_t)n->mac[5] << 24;
	for (int try = 0; try < DHCP_TRIES; try++) {
		int wait = DHCP_WAIT_MS * (try + 1);

		req.type = DHCP_DISCOVER;
		ret = exchange(n, &req, DHCP_OFFER, wait, r);
		if (ret)
			continue;
		if (r->type == DHCP_OFFER) {
			req.type = DHCP_REQUEST;
			req.addr = r->addr;
			req.server = r->server;
			ret = exchange(n, &req, DHCP_ACK, wait, r);
			if (ret)
				continue;
		}
		if (r->type == DHCP_ACK)
			return 0;
		ret = -ETIMEDOUT; /* a NAK: start over */
	}
	return ret;
}

static int set_addr(int s, const char *name, unsigned long req, uint32_t addr)
{
	struct ifreq ifr = { 0 };
	struct sockaddr_in sin = { .sin_family = AF_INET, .sin_addr.s_addr = addr };

	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", name);
	memcpy(&ifr.ifr_addr, &sin, sizeof(sin));
	return ioctl(s, req, &ifr) ? -errno : 0;
}

/* A route to dst/mask through gw (0: on the link) on the NIC. */
static int add_route(const struct nic *n, uint32_t dst, uint32_t mask, uint32_t gw)
{
	struct rtentry rt = { .rt_flags = RTF_UP, .rt_dev = (char *)n->name };
	struct sockaddr_in a = { .sin_family = AF_INET };

	a.sin_addr.s_addr = dst;
	memcpy(&rt.rt_dst, &a, sizeof(a));
	a.sin_addr.s_addr = mask;
	memcpy(&rt.rt_genmask, &a, sizeof(a));
	if (gw) {
		a.sin_addr.s_addr = gw;
		memcpy(&rt.rt_gateway, &a, sizeof(a));
		rt.rt_flags |= RTF_GATEWAY;
	}
	if (mask == 0xffffffff)
		rt.rt_flags |= RTF_HOST;
	return ioctl(n->ctl, SIOCADDRT, &rt) && errno != EEXIST ? -errno : 0;
}

static int configure(const struct nic *n, const struct dhcp_reply *r)
{
	int ret = set_addr(n->ctl, n->name, SIOCSIFADDR, r->addr);

	if (!ret)
		ret = set_addr(n->ctl, n->name, SIOCSIFNETMASK, r->mask);
	if (!ret && r->mtu) {
		struct ifreq ifr = { .ifr_mtu = r->mtu };

		snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", n->name);
		if (ioctl(n->ctl, SIOCSIFMTU, &ifr))
			init_msg("%s: MTU %u: %s", n->name, r->mtu, strerror(errno));
	}
	/* A router outside the subnet is still reached on this link. */
	if (!ret && r->router && (r->router ^ r->addr) & r->mask)
		ret = add_route(n, r->router, 0xffffffff, 0);
	if (!ret && r->router)
		ret = add_route(n, 0, 0, r->router);
	return ret;
}

static int write_file(const char *path, const char *text, size_t len)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644), ret = 0;

	if (fd < 0)
		return -errno;
	if (write(fd, text, len) != (ssize_t)len)
		ret = errno ? -errno : -EIO;
	close(fd);
	return ret;
}

/* Into the root when it lets us; else a file on devtmpfs mounted over the root's own. */
static void write_resolv_conf(const struct dhcp_reply *r)
{
	char text[DHCP_MAX_DNS * 32];
	size_t len = dhcp_resolv_conf(r, text, sizeof(text));
	int ret;

	if (!len || !write_file(RESOLV_CONF, text, len))
		return;
	ret = write_file(RESOLV_TMPFILE, text, len);
	if (!ret && mount(RESOLV_TMPFILE, RESOLV_CONF, NULL, MS_BIND, NULL))
		ret = -errno;
	if (ret)
		init_msg("cannot write " RESOLV_CONF " (%s): the DNS servers from DHCP go unused",
			 strerror(-ret));
}

static void dhcp_nic(int ctl, const uint8_t mac[6], bool first)
{
	struct nic n = { .ctl = ctl, .pkt = -1 };
	struct sockaddr_ll me = { .sll_family = AF_PACKET, .sll_protocol = htons(ETH_P_IP) };
	struct dhcp_reply r;
	char ip[INET_ADDRSTRLEN];
	int ret;

	memcpy(n.mac, mac, 6);
	ret = find_nic(ctl, mac, &n);
	if (ret) {
		init_msg("DHCP: no interface with MAC %02x:%02x:%02x:%02x:%02x:%02x: %s "
			 "(does the guest kernel have virtio_net?)",
			 mac[0], mac[1], mac[2], mac[3], mac[4], mac[5], strerror(-ret));
		return;
	}
	me.sll_ifindex = n.index;
	n.pkt = socket(AF_PACKET, SOCK_DGRAM | SOCK_CLOEXEC, htons(ETH_P_IP));
	if (n.pkt < 0 || bind(n.pkt, (struct sockaddr *)&me, sizeof(me)))
		ret = -errno;
	if (!ret)
		ret = set_flags_up(ctl, n.name);
	if (!ret) {
		ret = lease(&n, &r);
		if (ret == -ETIMEDOUT)
			init_msg("%s: no DHCP lease within %d s: continuing without its network",
				 n.name, DHCP_WAIT_MS * DHCP_TRIES * (DHCP_TRIES + 1) / 2000);
	}
	if (n.pkt >= 0)
		close(n.pkt);
	if (ret) {
		if (ret != -ETIMEDOUT)
			init_msg("%s: DHCP: %s", n.name, strerror(-ret));
		return;
	}
	ret = configure(&n, &r);
	if (ret) {
		inet_ntop(AF_INET, &r.addr, ip, sizeof(ip));
		init_msg("%s: cannot set the DHCP lease %s/%d: %s", n.name, ip, dhcp_prefix(r.mask),
			 strerror(-ret));
		return;
	}
	/* The first NIC's servers: later ones would replace them. */
	if (first)
		write_resolv_conf(&r);
}

void net_setup(const struct init_net *net)
{
	int ctl = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	bool first = true;
	int ret;

	if (ctl < 0) {
		init_msg("network: %s", strerror(errno));
		return;
	}
	ret = set_flags_up(ctl, "lo");
	if (ret)
		init_msg("bring up lo: %s", strerror(-ret));
	for (size_t i = 0; net && i < net->nnics; i++) {
		if (!net->nics[i].dhcp)
			continue;
		dhcp_nic(ctl, net->nics[i].mac, first);
		first = false;
	}
	close(ctl);
}
