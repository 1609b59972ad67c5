/*
 * The guest init's DHCP reply parser on arbitrary packets, as an AF_PACKET socket hands them
 * over: IPv4, UDP, BOOTP and options. The client's transaction and MAC are fixed; the seeds are
 * replies to them (and the NIC list of the VMM's file, which the input also feeds).
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "init/config.h"
#include "init/dhcp.h"

static const uint8_t mac[6] = { 0x5a, 0x94, 0xef, 0xe4, 0x0c, 0x10 };

static void check_reply(const struct dhcp_reply *r)
{
	char text[DHCP_MAX_DNS * 32];
	uint8_t first = ((const uint8_t *)&r->addr)[0];

	if (r->type != DHCP_OFFER && r->type != DHCP_ACK && r->type != DHCP_NAK)
		__builtin_trap();
	if (r->type != DHCP_NAK && (!first || first == 127 || first >= 224 ||
				    dhcp_prefix(r->mask) < 0 || (r->mtu && r->mtu < 68)))
		__builtin_trap();
	if (r->ndns > DHCP_MAX_DNS || dhcp_resolv_conf(r, text, sizeof(text)) >= sizeof(text))
		__builtin_trap();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct dhcp_reply r;
	struct init_net n;
	uint8_t *copy = malloc(size ? size : 1);
	int ret;

	if (!copy)
		return 0;
	/* A copy of its exact size, so that ASan sees every read past the end. */
	memcpy(copy, data, size);
	ret = dhcp_parse(copy, size, 0x12345678, mac, &r);
	if (!ret)
		check_reply(&r);
	else if (ret != -ENOMSG && ret != -EBADMSG)
		__builtin_trap();
	if (!config_net(&n, (const char *)copy, size) && n.nnics > CONFIG_MAX_NICS)
		__builtin_trap();
	free(copy);
	return 0;
}
