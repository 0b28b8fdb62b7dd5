/* The system account's service (floor 6, docs/architecture.md): nats-server's
 * advisories on $SYS.ACCOUNT.<account>.CONNECT, .DISCONNECT and
 * .SERVER.CONNS, and the server's answers to requests on
 * $SYS.REQ.SERVER.PING[.<NAME>] and $SYS.REQ.SERVER.<id>.<NAME> (NAME:
 * STATSZ, VARZ, CONNZ, SUBSZ, HEALTHZ, LEAFZ, ACCOUNTZ), in nats-server's
 * envelopes: {"server":{...},"statsz":{...}} for PING and STATSZ,
 * {"server":{...},"data":{...}} otherwise, {"server":{...},"error":{...}}
 * for a refused request (inventory PR-01, MON-08).
 *
 * Advisories follow the router's client events. Requests reach the service
 * through an internal client subscribed in the system account: a delivery
 * is queued on that connection as one record, and the service answers it at
 * the end of the loop turn (its run op), publishing the response as that
 * internal client. A system user, or the cloud over a leaf link bound to
 * the system account, can query an edge box this way. */
#ifndef NE_SYS_H
#define NE_SYS_H

#include <stdbool.h>
#include <stdint.h>

#include "conf/ne_options.h"
#include "conn/ne_conn.h"
#include "mon/ne_mon.h"
#include "router/ne_router.h"

typedef struct ne_sys_stats {
    uint64_t events;           /* advisories published */
    uint64_t events_dropped;   /* advisories the chunk pool could not hold */
    uint64_t requests;         /* requests answered */
    uint64_t requests_dropped; /* requests too large, or beyond the queue */
    uint64_t responses_failed; /* answers the chunk pool could not hold */
} ne_sys_stats;

typedef struct ne_sys {
    const ne_server_options *opts;
    ne_conns *conns;
    ne_router *router;
    ne_mon *mon;
    uint8_t kind;
    ne_conn *client; /* the internal client; NULL without a system account */
    uint64_t seq;    /* the "seq" of the server object in advisories and responses */
    ne_sys_stats stats;
} ne_sys;

void ne_sys_init(ne_sys *sys, const ne_server_options *opts, ne_conns *conns, ne_router *router,
                 ne_mon *mon);
/* Takes the internal client and subscribes to the request subjects. */
int ne_sys_start(ne_sys *sys);

#endif
