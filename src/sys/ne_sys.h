/* The system account's service (floor 6, docs/architecture.md): nats-server's
 * advisories on $SYS.ACCOUNT.<account>.CONNECT, .DISCONNECT and
 * .SERVER.CONNS, and the server's answers to requests on
 * $SYS.REQ.SERVER.PING[.<NAME>] and $SYS.REQ.SERVER.<id>.<NAME> (NAME:
 * STATSZ, VARZ, CONNZ, SUBSZ, HEALTHZ, LEAFZ, ACCOUNTZ), in nats-server's
 * envelopes: {"server":{...},"statsz":{...}} for PING and STATSZ,
 * {"server":{...},"data":{...}} otherwise, {"server":{...},"error":{...}}
 * for a refused request (inventory PR-01, MON-08).
 *
 * As nats-server 2.9 does, the service also publishes the server's
 * statistics on $SYS.SERVER.<id>.STATSZ, first 250 ms after start and then
 * at intervals that double up to NE_SYS_STATSZ_INTERVAL_MS (30 s), and
 * $SYS.SERVER.<id>.SHUTDOWN when the server shuts down. It listens to the
 * other servers' STATSZ and SHUTDOWN (they arrive over routes, or over a
 * leaf bound to the system account) to know the servers of its cluster:
 * statsz active_servers counts them, and a server heard for the first time
 * gets this one's STATSZ at once. A server not heard of for
 * NE_SYS_SERVER_ORPHAN_MS is forgotten (docs/cluster.md, "System events").
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
#include "ne_config.h"
#include "router/ne_router.h"

/* nats-server 2.9.10's intervals (probed, docs/cluster.md). */
#define NE_SYS_STATSZ_FIRST_MS 250u       /* the first STATSZ after start */
#define NE_SYS_STATSZ_INTERVAL_MS 30000u  /* the interval it doubles up to */
#define NE_SYS_ACCOUNT_CONNS_HB_MS 30000u /* account_connections again while clients stay */
#define NE_SYS_SERVER_ORPHAN_MS 150000u   /* a server not heard of for this long is forgotten */
#define NE_SYS_SERVER_SWEEP_MS 90000u     /* how often forgotten servers are looked for */

/* Another server of the cluster, known by its STATSZ. */
typedef struct ne_sys_server {
    char id[57]; /* "" when the entry is free */
    uint64_t heard_ms;
} ne_sys_server;

typedef struct ne_sys_stats {
    uint64_t events;           /* advisories published */
    uint64_t events_dropped;   /* advisories the chunk pool could not hold */
    uint64_t requests;         /* requests answered */
    uint64_t requests_dropped; /* requests too large, or beyond the queue */
    uint64_t responses_failed; /* answers the chunk pool could not hold */
    uint64_t statsz;           /* $SYS.SERVER.<id>.STATSZ published */
    uint64_t servers_dropped;  /* other servers heard of with the table full (NE_SYS_MAX_SERVERS) */
} ne_sys_stats;

typedef struct ne_sys {
    const ne_server_options *opts;
    ne_conns *conns;
    ne_router *router;
    ne_mon *mon;
    uint8_t kind;
    ne_conn *client; /* the internal client; NULL without a system account */
    uint64_t seq;    /* the "seq" of the server object in advisories and responses */
    /* The cluster's name (the route kind's, which may change), NULL
     * without a cluster: the server object's "cluster". */
    const char *cluster;
    uint64_t next_statsz_ms; /* 0: not started */
    uint32_t statsz_interval_ms;
    uint64_t next_sweep_ms;
    /* Per account (as the router's): when its account_connections is due
     * again, 0 while it has no clients. */
    uint64_t conns_hb_ms[NE_MAX_ACCOUNTS];
    ne_sys_server servers[NE_SYS_MAX_SERVERS];
    uint32_t server_count;
    ne_sys_stats stats;
} ne_sys;

void ne_sys_init(ne_sys *sys, const ne_server_options *opts, ne_conns *conns, ne_router *router,
                 ne_mon *mon);
/* The cluster's name for the server object (a string that outlives the
 * service and may change); NULL or "" for none. */
void ne_sys_set_cluster(ne_sys *sys, const char *cluster);
/* Takes the internal client and subscribes to the request subjects and,
 * with a cluster or leafs configured, the other servers' STATSZ and
 * SHUTDOWN. */
int ne_sys_start(ne_sys *sys);
/* Timers: STATSZ, account_connections heartbeats, forgotten servers. */
void ne_sys_tick(ne_sys *sys, uint64_t now_ms);
/* Publishes $SYS.SERVER.<id>.SHUTDOWN; the server then writes it out
 * before it closes the connections. */
void ne_sys_shutdown(ne_sys *sys);
/* Other servers known (statsz active_servers less this one). */
uint32_t ne_sys_server_count(const ne_sys *sys);

#endif
