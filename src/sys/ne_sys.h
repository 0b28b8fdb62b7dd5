/* The system account's service (floor 6, docs/architecture.md): nats-server's
 * advisories on $SYS.ACCOUNT.<account>.CONNECT, .DISCONNECT and
 * .SERVER.CONNS, and the server's answers to requests on $SYS.REQ.SERVER.PING
 * and $SYS.REQ.SERVER.<id>.<NAME> (inventory CP-84, SYS-xx).
 *
 * Advisories follow the router's client events; requests reach the service
 * through an internal client subscribed in the system account, whose
 * deliveries queue and are answered at the end of the loop turn. */
#ifndef NE_SYS_H
#define NE_SYS_H

#include <stdbool.h>
#include <stdint.h>

#include "conf/ne_options.h"
#include "conn/ne_conn.h"
#include "router/ne_router.h"

typedef struct ne_sys {
    const ne_server_options *opts;
    ne_conns *conns;
    ne_router *router;
    uint64_t seq;    /* advisories and responses sent (the "seq" of their server object) */
    uint64_t events; /* advisories published */
} ne_sys;

void ne_sys_init(ne_sys *sys, const ne_server_options *opts, ne_conns *conns, ne_router *router);

#endif
