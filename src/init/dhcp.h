/*
 * DHCPv4 for the guest init: the client's requests and the server's replies as whole IPv4/UDP
 * packets, which an AF_PACKET datagram socket sends and receives with no address on the
 * interface yet. Pure functions: the host tests and fuzzes them. A reply is hostile input.
 * Addresses are in network byte order, as in struct in_addr.
 */
#ifndef KILN_INIT_DHCP_H
#define KILN_INIT_DHCP_H

#include <stddef.h>
#include <stdint.h>

/* Message types (option 53). */
#define DHCP_DISCOVER 1
#define DHCP_OFFER    2
#define DHCP_REQUEST  3
#define DHCP_ACK      5
#define DHCP_NAK      6

#define DHCP_MAX_DNS	 3   /* what resolv.conf takes (MAXNS) */
#define DHCP_REQUEST_LEN 328 /* IPv4 + UDP + a 300-byte BOOTP message */

struct dhcp_request {
	uint8_t type; /* DHCP_DISCOVER (with rapid commit) or DHCP_REQUEST */
	uint32_t xid;
	uint8_t mac[6];
	uint32_t addr, server; /* DHCP_REQUEST: the offer's address and server identifier */
};

struct dhcp_reply {
	uint8_t type;		    /* DHCP_OFFER, DHCP_ACK or DHCP_NAK */
	uint32_t addr;		    /* yiaddr: a unicast address (OFFER, ACK) */
	uint32_t mask;		    /* option 1, else the address's class default */
	uint32_t router;	    /* option 3's first router (0: none) */
	uint32_t server;	    /* option 54 (0: none) */
	uint32_t dns[DHCP_MAX_DNS]; /* option 6, in order */
	unsigned ndns;
	uint16_t mtu; /* option 26 (0: none) */
};

/* The request r into buf (size bytes): its length, DHCP_REQUEST_LEN, or 0 when it does not fit. */
size_t dhcp_build(uint8_t *buf, size_t size, const struct dhcp_request *r);

/*
 * An IPv4 packet from the wire: 0 with *r filled when it is a DHCP reply to transaction xid of
 * the client with mac; -ENOMSG when it is something else (another protocol, port, client or
 * transaction: skip it); -EBADMSG when it claims to be that reply but is malformed (lengths
 * beyond the packet, bad option lengths, no end option, a mask with holes, no usable address).
 */
int dhcp_parse(const uint8_t *pkt, size_t len, uint32_t xid, const uint8_t mac[6],
	       struct dhcp_reply *r);

/* The prefix length of a contiguous mask, or -1. */
int dhcp_prefix(uint32_t mask);

/* "nameserver A.B.C.D\n" per server of r into buf: the length, or 0 when none or no room. */
size_t dhcp_resolv_conf(const struct dhcp_reply *r, char *buf, size_t size);

#endif
