#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "init/dhcp.h"

#define IP_HLEN	    20
#define UDP_HLEN    8
#define BOOTP_LEN   236 /* the fixed part, up to and without the magic cookie */
#define BOOTP_MIN   300 /* what BOOTP relays and old servers expect at least */
#define OPTS_OFF    (BOOTP_LEN + 4)
#define PORT_SERVER 67
#define PORT_CLIENT 68

/* Options (RFC 2132). */
enum {
	OPT_PAD = 0,
	OPT_MASK = 1,
	OPT_ROUTER = 3,
	OPT_DNS = 6,
	OPT_MTU = 26,
	OPT_REQUESTED = 50,
	OPT_TYPE = 53,
	OPT_SERVER = 54,
	OPT_PARAMS = 55,
	OPT_RAPID_COMMIT = 80, /* RFC 4039: an ACK straight away, which passt gives */
	OPT_END = 255,
};

static const uint8_t cookie[4] = { 99, 130, 83, 99 };

static uint16_t get16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

static void put16(uint8_t *p, uint16_t v)
{
	p[0] = v >> 8;
	p[1] = v & 0xff;
}

/* Addresses stay in network byte order: copied, never converted. */
static uint32_t get_addr(const uint8_t *p)
{
	uint32_t a;

	memcpy(&a, p, 4);
	return a;
}

/* The Internet checksum's running sum of p[0..n), to be folded by csum_fold(). */
static uint32_t csum_add(uint32_t sum, const uint8_t *p, size_t n)
{
	for (size_t i = 0; i + 1 < n; i += 2)
		sum += get16(p + i);
	if (n & 1)
		sum += p[n - 1] << 8;
	return sum;
}

static uint16_t csum_fold(uint32_t sum)
{
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return (uint16_t)~sum;
}

static uint8_t *put_opt(uint8_t *p, uint8_t code, const void *data, uint8_t len)
{
	*p++ = code;
	*p++ = len;
	if (len)
		memcpy(p, data, len);
	return p + len;
}

size_t dhcp_build(uint8_t *buf, size_t size, const struct dhcp_request *r)
{
	static const uint8_t params[] = { OPT_MASK, OPT_ROUTER, OPT_DNS, OPT_MTU };
	uint8_t *ip = buf, *udp = buf + IP_HLEN, *bootp = udp + UDP_HLEN, *p;
	uint32_t xid = r->xid, sum;

	if (size < DHCP_REQUEST_LEN)
		return 0;
	memset(buf, 0, DHCP_REQUEST_LEN);
	bootp[0] = 1; /* BOOTREQUEST */
	bootp[1] = 1; /* Ethernet */
	bootp[2] = 6;
	memcpy(bootp + 4, &xid, 4); /* the client's own number: any byte order will do */
	memcpy(bootp + 28, r->mac, 6);
	memcpy(bootp + BOOTP_LEN, cookie, 4);
	p = put_opt(bootp + OPTS_OFF, OPT_TYPE, &r->type, 1);
	if (r->type == DHCP_DISCOVER) {
		p = put_opt(p, OPT_RAPID_COMMIT, NULL, 0);
	} else {
		p = put_opt(p, OPT_REQUESTED, &r->addr, 4);
		if (r->server)
			p = put_opt(p, OPT_SERVER, &r->server, 4);
	}
	p = put_opt(p, OPT_PARAMS, params, sizeof(params));
	*p = OPT_END; /* the rest of the 300 bytes stays padding */

	put16(udp, PORT_CLIENT);
	put16(udp + 2, PORT_SERVER);
	put16(udp + 4, UDP_HLEN + BOOTP_MIN);
	/* The pseudo-header: 0.0.0.0 -> 255.255.255.255, UDP, its length. */
	sum = 0xffff + 0xffff + 17 + UDP_HLEN + BOOTP_MIN;
	sum = csum_fold(csum_add(sum, udp, UDP_HLEN + BOOTP_MIN));
	put16(udp + 6, sum ? sum : 0xffff);

	ip[0] = 0x45;
	put16(ip + 2, DHCP_REQUEST_LEN);
	ip[8] = 64;
	ip[9] = 17;
	memset(ip + 16, 0xff, 4);
	put16(ip + 10, csum_fold(csum_add(0, ip, IP_HLEN)));
	return DHCP_REQUEST_LEN;
}

int dhcp_prefix(uint32_t mask)
{
	uint32_t m =
		(uint32_t)get16((const uint8_t *)&mask) << 16 | get16((const uint8_t *)&mask + 2);
	int n = 0;

	while (n < 32 && (m & (0x80000000u >> n)))
		n++;
	return n < 32 && (m << n) ? -1 : n;
}

/* The class default (RFC 2131 says a client without option 1 uses it). */
static uint32_t class_mask(uint32_t addr)
{
	uint8_t first = ((const uint8_t *)&addr)[0];
	uint8_t m[4] = { 255, first >= 128 ? 255 : 0, first >= 192 ? 255 : 0, 0 };

	return get_addr(m);
}

/* A host may have it: not 0.0.0.0/8, loopback, multicast, reserved or broadcast. */
static bool unicast(uint32_t addr)
{
	uint8_t first = ((const uint8_t *)&addr)[0];

	return first != 0 && first != 127 && first < 224;
}

/* One option of a reply: -EBADMSG when its length does not fit its kind. */
static int take_opt(struct dhcp_reply *r, uint8_t code, const uint8_t *v, uint8_t len)
{
	switch (code) {
	case OPT_TYPE:
		if (len != 1)
			return -EBADMSG;
		r->type = v[0];
		break;
	case OPT_MASK:
		if (len != 4 || dhcp_prefix(get_addr(v)) < 0)
			return -EBADMSG;
		r->mask = get_addr(v);
		break;
	case OPT_SERVER:
		if (len != 4)
			return -EBADMSG;
		r->server = get_addr(v);
		break;
	case OPT_ROUTER:
		if (!len || len % 4)
			return -EBADMSG;
		r->router = get_addr(v);
		break;
	case OPT_DNS:
		if (!len || len % 4)
			return -EBADMSG;
		r->ndns = 0;
		for (unsigned i = 0; i < len / 4u && r->ndns < DHCP_MAX_DNS; i++)
			if (unicast(get_addr(v + 4 * i)))
				r->dns[r->ndns++] = get_addr(v + 4 * i);
		break;
	case OPT_MTU:
		if (len != 2 || get16(v) < 68)
			return -EBADMSG;
		r->mtu = get16(v);
		break;
	}
	return 0;
}

/* The options from p to end: every one whole, and the end option among them. */
static int take_opts(struct dhcp_reply *r, const uint8_t *p, const uint8_t *end)
{
	while (p < end) {
		uint8_t code = *p++, len;
		int ret;

		if (code == OPT_PAD)
			continue;
		if (code == OPT_END)
			return 0;
		if (p == end)
			return -EBADMSG;
		len = *p++;
		if (len > end - p)
			return -EBADMSG;
		ret = take_opt(r, code, p, len);
		if (ret)
			return ret;
		p += len;
	}
	return -EBADMSG;
}

/* The BOOTP message of an IPv4/UDP packet to the client port: its start and length. */
static int udp_payload(const uint8_t *ip, size_t len, const uint8_t **msg, size_t *mlen)
{
	size_t ihl, total, ulen;
	const uint8_t *udp;

	if (len < IP_HLEN || ip[0] >> 4 != 4 || ip[9] != 17)
		return -ENOMSG;
	/* Fragments are not reassembled here: a DHCP reply fits one packet. */
	if (get16(ip + 6) & 0x3fff)
		return -ENOMSG;
	ihl = (ip[0] & 15) * 4u;
	total = get16(ip + 2);
	if (ihl < IP_HLEN || total < ihl + UDP_HLEN || total > len)
		return -EBADMSG;
	udp = ip + ihl;
	if (get16(udp) != PORT_SERVER || get16(udp + 2) != PORT_CLIENT)
		return -ENOMSG;
	ulen = get16(udp + 4);
	if (ulen < UDP_HLEN || ulen > total - ihl)
		return -EBADMSG;
	*msg = udp + UDP_HLEN;
	*mlen = ulen - UDP_HLEN;
	return 0;
}

int dhcp_parse(const uint8_t *pkt, size_t len, uint32_t xid, const uint8_t mac[6],
	       struct dhcp_reply *r)
{
	const uint8_t *m;
	size_t mlen;
	int ret = udp_payload(pkt, len, &m, &mlen);

	memset(r, 0, sizeof(*r));
	if (ret)
		return ret;
	if (mlen < BOOTP_LEN || m[0] != 2 || m[1] != 1 || m[2] != 6 || memcmp(m + 4, &xid, 4) ||
	    memcmp(m + 28, mac, 6))
		return -ENOMSG;
	/* Options in sname/file (option 52) are not looked for: no server in a VMM needs them. */
	if (mlen < OPTS_OFF || memcmp(m + BOOTP_LEN, cookie, 4))
		return -EBADMSG;
	ret = take_opts(r, m + OPTS_OFF, m + mlen);
	if (ret)
		return ret;
	if (r->type != DHCP_OFFER && r->type != DHCP_ACK && r->type != DHCP_NAK)
		return r->type ? -ENOMSG : -EBADMSG;
	if (r->type == DHCP_NAK)
		return 0;
	r->addr = get_addr(m + 16);
	if (!unicast(r->addr))
		return -EBADMSG;
	if (!r->mask)
		r->mask = class_mask(r->addr);
	if (r->router && !unicast(r->router))
		r->router = 0;
	return 0;
}

size_t dhcp_resolv_conf(const struct dhcp_reply *r, char *buf, size_t size)
{
	size_t n = 0;

	for (unsigned i = 0; i < r->ndns && i < DHCP_MAX_DNS; i++) {
		const uint8_t *a = (const uint8_t *)&r->dns[i];
		int w = snprintf(buf + n, size - n, "nameserver %u.%u.%u.%u\n", a[0], a[1], a[2],
				 a[3]);

		if (w < 0 || (size_t)w >= size - n)
			return 0;
		n += w;
	}
	return n;
}
