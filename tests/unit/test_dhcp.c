/* The guest init's DHCP client: requests as built, replies as parsed (hostile ones too), the NIC
 * list from the VMM's file. */
#include <arpa/inet.h>
#include <errno.h>
#include <string.h>

#include "check.h"
#include "init/config.h"
#include "init/dhcp.h"

static const uint8_t mac[6] = { 0x5a, 0x94, 0xef, 0xe4, 0x0c, 0x10 };
static const uint32_t xid = 0x12345678;

static uint16_t get16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

/* The Internet checksum over p[0..n) plus sum: 0 when the data carries a right one. */
static uint16_t csum(const uint8_t *p, size_t n, uint32_t sum)
{
	for (size_t i = 0; i + 1 < n; i += 2)
		sum += get16(p + i);
	if (n & 1)
		sum += p[n - 1] << 8;
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return (uint16_t)~sum;
}

static uint32_t addr(const char *s)
{
	return inet_addr(s);
}

/* A reply from a server: IPv4, UDP 67 -> 68, BOOTP with yiaddr, then opts[0..olen). */
static size_t reply(uint8_t *buf, const char *yiaddr, const uint8_t *opts, size_t olen)
{
	uint8_t *udp = buf + 20, *m = udp + 8;
	size_t mlen = 240 + olen, total = 20 + 8 + mlen;
	uint32_t a = addr(yiaddr), x = xid;

	memset(buf, 0, total);
	buf[0] = 0x45;
	buf[2] = total >> 8, buf[3] = total & 0xff;
	buf[8] = 64, buf[9] = 17;
	udp[0] = 0, udp[1] = 67, udp[2] = 0, udp[3] = 68;
	udp[4] = (8 + mlen) >> 8, udp[5] = (8 + mlen) & 0xff;
	m[0] = 2, m[1] = 1, m[2] = 6;
	memcpy(m + 4, &x, 4);
	memcpy(m + 16, &a, 4);
	memcpy(m + 28, mac, 6);
	m[236] = 99, m[237] = 130, m[238] = 83, m[239] = 99;
	memcpy(m + 240, opts, olen);
	return total;
}

static int parse_opts(const uint8_t *opts, size_t olen, struct dhcp_reply *r)
{
	uint8_t buf[1024];
	size_t len = reply(buf, "10.0.2.15", opts, olen);

	return dhcp_parse(buf, len, xid, mac, r);
}

static void test_build(void)
{
	struct dhcp_request req = { .type = DHCP_DISCOVER, .xid = xid };
	uint8_t buf[400], small[100], *udp = buf + 20, *m = buf + 28;
	uint32_t pseudo;
	size_t len;

	memcpy(req.mac, mac, 6);
	CHECK(dhcp_build(small, sizeof(small), &req) == 0, "no room: 0");
	len = dhcp_build(buf, sizeof(buf), &req);
	CHECK(len == DHCP_REQUEST_LEN && get16(buf + 2) == len, "DISCOVER: %zu bytes", len);
	CHECK(buf[0] == 0x45 && buf[9] == 17 && csum(buf, 20, 0) == 0, "IPv4 header, checksum");
	CHECK(!memcmp(buf + 12, "\0\0\0\0", 4) && !memcmp(buf + 16, "\xff\xff\xff\xff", 4),
	      "0.0.0.0 -> 255.255.255.255");
	CHECK(get16(udp) == 68 && get16(udp + 2) == 67 && get16(udp + 4) == len - 20, "UDP ports");
	pseudo = 0xffff + 0xffff + 17 + get16(udp + 4);
	CHECK(csum(udp, len - 20, pseudo) == 0, "UDP checksum");
	CHECK(m[0] == 1 && m[1] == 1 && m[2] == 6 && !memcmp(m + 4, &req.xid, 4) &&
		      !memcmp(m + 28, mac, 6),
	      "BOOTREQUEST with xid and chaddr");
	CHECK(!memcmp(m + 236, "\x63\x82\x53\x63", 4), "magic cookie");
	CHECK(!memcmp(m + 240, "\x35\x01\x01\x50\x00\x37\x04\x01\x03\x06\x1a\xff", 12),
	      "type DISCOVER, rapid commit, parameters, end");

	req.type = DHCP_REQUEST;
	req.addr = addr("10.0.2.15");
	req.server = addr("10.0.2.2");
	len = dhcp_build(buf, sizeof(buf), &req);
	CHECK(len == DHCP_REQUEST_LEN && csum(buf, 20, 0) == 0, "REQUEST built");
	CHECK(!memcmp(m + 240, "\x35\x01\x03\x32\x04\x0a\x00\x02\x0f\x36\x04\x0a\x00\x02\x02", 15),
	      "type REQUEST, requested address, server");
}

static void test_parse_good(void)
{
	static const uint8_t ack[] = {
		53,  1,	 5,				   /* ACK */
		0,					   /* a pad */
		1,   4,	 255,  255,  255, 0,		   /* mask */
		3,   8,	 10,   0,    2,	  2, 10,  0, 2, 3, /* two routers: the first counts */
		6,   16, 10,   0,    2,	  3, 224, 0, 0, 1,
		8,   8,	 8,    8,    1,	  1, 1,	  1, /* multicast dropped */
		26,  2,	 0xff, 0xf0,		     /* MTU 65520 */
		54,  4,	 10,   0,    2,	  2, 99,  0, /* an unknown option of length 0 */
		255, 1,	 2,    3,		     /* anything after the end */
	};
	static const uint8_t offer_bare[] = { 53, 1, 2, 255 };
	static const uint8_t nak[] = { 53, 1, 6, 255 };
	struct dhcp_reply r;
	char text[128];

	CHECK(parse_opts(ack, sizeof(ack), &r) == 0, "a full ACK parses");
	CHECK(r.type == DHCP_ACK && r.addr == addr("10.0.2.15") && r.mask == addr("255.255.255.0"),
	      "type, address, mask");
	CHECK(r.router == addr("10.0.2.2") && r.server == addr("10.0.2.2") && r.mtu == 65520,
	      "router, server, MTU");
	CHECK(r.ndns == 3 && r.dns[0] == addr("10.0.2.3") && r.dns[1] == addr("8.8.8.8") &&
		      r.dns[2] == addr("1.1.1.1"),
	      "DNS servers: %u", r.ndns);
	CHECK(dhcp_resolv_conf(&r, text, sizeof(text)) > 0 &&
		      !strcmp(text,
			      "nameserver 10.0.2.3\nnameserver 8.8.8.8\nnameserver 1.1.1.1\n"),
	      "resolv.conf: %s", text);
	CHECK(dhcp_resolv_conf(&r, text, 30) == 0, "resolv.conf without room: 0");

	CHECK(parse_opts(offer_bare, sizeof(offer_bare), &r) == 0 && r.type == DHCP_OFFER &&
		      r.mask == addr("255.0.0.0") && !r.router && !r.ndns && !r.mtu,
	      "a bare OFFER: class A default mask, nothing else");
	CHECK(dhcp_resolv_conf(&r, text, sizeof(text)) == 0, "no DNS: no resolv.conf");
	CHECK(parse_opts(nak, sizeof(nak), &r) == 0 && r.type == DHCP_NAK, "NAK");
}

static void expect(const char *what, const uint8_t *opts, size_t olen, int want)
{
	struct dhcp_reply r;
	int ret = parse_opts(opts, olen, &r);

	CHECK(ret == want, "%s: got %d, want %d", what, ret, want);
}

#define EXPECT(what, want, ...)                                                                    \
	do {                                                                                       \
		static const uint8_t o[] = { __VA_ARGS__ };                                        \
		expect(what, o, sizeof(o), want);                                                  \
	} while (0)

static void test_parse_hostile_options(void)
{
	EXPECT("no end option", -EBADMSG, 53, 1, 5);
	EXPECT("only pads", -EBADMSG, 0, 0, 0);
	EXPECT("no options at all, no end", -EBADMSG, );
	EXPECT("an option overruns the packet", -EBADMSG, 53, 1, 5, 6, 200, 1, 2, 3, 4);
	EXPECT("a code without its length byte", -EBADMSG, 53, 1, 5, 6);
	EXPECT("zero-length message type", -EBADMSG, 53, 0, 255);
	EXPECT("zero-length router", -EBADMSG, 53, 1, 5, 3, 0, 255);
	EXPECT("zero-length DNS", -EBADMSG, 53, 1, 5, 6, 0, 255);
	EXPECT("DNS not a multiple of 4", -EBADMSG, 53, 1, 5, 6, 5, 1, 1, 1, 1, 1, 255);
	EXPECT("mask of 3 bytes", -EBADMSG, 53, 1, 5, 1, 3, 255, 255, 0, 255);
	EXPECT("mask with holes", -EBADMSG, 53, 1, 5, 1, 4, 255, 0, 255, 0, 255);
	EXPECT("MTU of 1 byte", -EBADMSG, 53, 1, 5, 26, 1, 5, 255);
	EXPECT("MTU below 68", -EBADMSG, 53, 1, 5, 26, 2, 0, 67, 255);
	EXPECT("server of 2 bytes", -EBADMSG, 53, 1, 5, 54, 2, 1, 2, 255);
	EXPECT("no message type", -EBADMSG, 1, 4, 255, 255, 255, 0, 255);
	EXPECT("a client's message type", -ENOMSG, 53, 1, 3, 255);
}

static void test_parse_hostile_packets(void)
{
	static const uint8_t ack[] = { 53, 1, 5, 255 };
	uint8_t buf[1024], copy[1024];
	struct dhcp_reply r;
	size_t len = reply(buf, "10.0.2.15", ack, sizeof(ack));
	uint8_t other[6];

#define MUTATE(what, want, stmt, plen)                                                             \
	do {                                                                                       \
		memcpy(copy, buf, len);                                                            \
		stmt;                                                                              \
		int ret_ = dhcp_parse(copy, plen, xid, mac, &r);                                   \
		CHECK(ret_ == want, "%s: got %d, want %d", what, ret_, want);                      \
	} while (0)

	MUTATE("the reply as built", 0, (void)0, len);
	for (size_t n = 0; n < len; n++) {
		int ret = dhcp_parse(buf, n, xid, mac, &r);

		CHECK(ret == -ENOMSG || ret == -EBADMSG, "cut to %zu bytes: %d", n, ret);
	}
	MUTATE("IP total length beyond the packet", -EBADMSG, copy[3] += 1, len);
	MUTATE("IP header length beyond the packet", -EBADMSG, copy[0] = 0x4f, 40);
	MUTATE("IP header length below 20", -EBADMSG, copy[0] = 0x44, len);
	MUTATE("IPv6", -ENOMSG, copy[0] = 0x65, len);
	MUTATE("TCP", -ENOMSG, copy[9] = 6, len);
	MUTATE("a fragment", -ENOMSG, copy[6] = 0x20, len);
	MUTATE("UDP length beyond the IP packet", -EBADMSG, copy[25] += 1, len);
	MUTATE("UDP length below its header", -EBADMSG, (copy[24] = 0, copy[25] = 7), len);
	MUTATE("UDP too short for BOOTP", -ENOMSG, (copy[24] = 0, copy[25] = 100), len);
	MUTATE("to another port", -ENOMSG, copy[23] = 69, len);
	MUTATE("from another port", -ENOMSG, copy[21] = 53, len);
	MUTATE("a BOOTREQUEST", -ENOMSG, copy[28] = 1, len);
	MUTATE("another transaction", -ENOMSG, copy[32] ^= 1, len);
	MUTATE("another client", -ENOMSG, copy[56] ^= 1, len);
	MUTATE("no magic cookie", -EBADMSG, copy[264] = 0, len);
	MUTATE("address 0.0.0.0", -EBADMSG, memset(copy + 44, 0, 4), len);
	MUTATE("a broadcast address", -EBADMSG, memset(copy + 44, 0xff, 4), len);
	MUTATE("a loopback address", -EBADMSG, copy[44] = 127, len);
	memcpy(other, mac, 6);
	other[0] ^= 2;
	CHECK(dhcp_parse(buf, len, xid, other, &r) == -ENOMSG, "for another MAC");
	CHECK(dhcp_parse(buf, len, xid + 1, mac, &r) == -ENOMSG, "for another xid");
}

static void test_prefix(void)
{
	CHECK(dhcp_prefix(addr("255.255.255.0")) == 24, "/24");
	CHECK(dhcp_prefix(addr("255.255.255.255")) == 32, "/32");
	CHECK(dhcp_prefix(addr("255.255.128.0")) == 17, "/17");
	CHECK(dhcp_prefix(0) == 0, "/0");
	CHECK(dhcp_prefix(addr("255.0.255.0")) == -1, "holes");
	CHECK(dhcp_prefix(addr("0.0.0.255")) == -1, "reversed");
}

static int net(struct init_net *n, const char *json)
{
	return config_net(n, json, strlen(json));
}

static void test_config_net(void)
{
	struct init_net n;

	CHECK(net(&n, "{\"kiln\":1,\"args\":[\"sh\"]}") == 0 && n.nnics == 0, "no net: no NICs");
	CHECK(net(&n, "{\"net\":null}") == 0 && n.nnics == 0, "net null");
	CHECK(net(&n, "{\"net\":[{\"mac\":\"5a:94:ef:e4:0c:10\",\"dhcp\":true},"
		      "{\"mac\":\"02:00:00:00:00:FF\"}]}") == 0,
	      "two NICs: %s", n.error);
	CHECK(n.nnics == 2 && !memcmp(n.nics[0].mac, mac, 6) && n.nics[0].dhcp &&
		      n.nics[1].mac[5] == 0xff && !n.nics[1].dhcp,
	      "MACs and flags");
	CHECK(net(&n, "{\"net\":{}}") == -EINVAL && strstr(n.error, "array"), "net not an array");
	CHECK(net(&n, "{\"net\":[{\"mac\":\"5a:94:ef:e4:0c\"}]}") == -EINVAL && !n.nnics,
	      "short MAC");
	CHECK(net(&n, "{\"net\":[{\"mac\":\"5a-94-ef-e4-0c-10\"}]}") == -EINVAL, "MAC with dashes");
	CHECK(net(&n, "{\"net\":[{\"mac\":\"5a:94:ef:e4:0c:1g\"}]}") == -EINVAL, "MAC not hex");
	CHECK(net(&n, "{\"net\":[{\"mac\":\"5a:94:ef:e4:0c:10\",\"dhcp\":1}]}") == -EINVAL &&
		      strstr(n.error, "net[0].dhcp"),
	      "dhcp not a boolean: %s", n.error);
	CHECK(net(&n, "{\"net\":[1]}") == -EINVAL, "a NIC not an object");
	CHECK(net(&n, "{\"net\":[{},{},{},{},{},{},{},{},{}]}") == -EINVAL &&
		      strstr(n.error, "more than"),
	      "too many NICs: %s", n.error);
	CHECK(net(&n, "{\"net\":[") == -EINVAL && strstr(n.error, "bad JSON"), "bad JSON");
}

int main(void)
{
	test_build();
	test_parse_good();
	test_parse_hostile_options();
	test_parse_hostile_packets();
	test_prefix();
	test_config_net();
	return check_summary();
}
