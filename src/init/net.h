/* The guest's network, set up by init before the workload starts. */
#ifndef KILN_INIT_NET_H
#define KILN_INIT_NET_H

#include "init/config.h"

/*
 * Bring up lo, and configure each NIC of net marked dhcp by DHCPv4 (net may be NULL: lo only).
 * Problems are told, never fatal: the workload runs without the network it lacks.
 */
void net_setup(const struct init_net *net);

#endif
