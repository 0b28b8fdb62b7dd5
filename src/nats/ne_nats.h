/* The NATS client protocol: a connection kind (floor 5,
 * docs/architecture.md). INFO/CONNECT with authentication, PUB/HPUB,
 * SUB/UNSUB, PING/PONG, verbose +OK, MSG/HMSG delivery, no-responders, and
 * nats-server's exact -ERR texts and close behaviour (inventory CP-xx).
 *
 * Each client connection has an ne_nats_client from the kind's own pool;
 * the kind's context (ne_nats) holds the client listener, the pool and the
 * scratch a message's MSG line is laid out in once for all its subscribers. */
#ifndef NE_NATS_H
#define NE_NATS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "auth/ne_nkey.h"
#include "conf/ne_options.h"
#include "conn/ne_conn.h"
#include "core/ne_pool.h"
#include "proto/ne_proto_info.h"
#include "router/ne_router.h"

#if NE_MAX_OUT_LINE_BYTES < 128
#error "NE_MAX_OUT_LINE_BYTES must hold the server's own -ERR lines and a short MSG line"
#endif

/* An INFO line: its fields are held to NE_INFO_FIXED_BYTES (room for a
 * server_name and host with some bytes escaped), the cluster's client URLs
 * to NE_CLUSTER_URLS_BYTES (their writer bounds them) and the array
 * around them. */
#define NE_INFO_FIXED_BYTES 768
#define NE_INFO_LINE_BYTES (NE_INFO_FIXED_BYTES + NE_CLUSTER_URLS_BYTES + 24)

typedef struct ne_nats_client {
    bool connected; /* CONNECT accepted: joined its account */
    bool verbose;
    bool pedantic;
    bool headers;
    bool no_responders;
    bool rtt_ping_sent;
    bool first_pong_sent; /* a PING after CONNECT was answered: async INFO may follow */
    int8_t protocol;
    uint64_t auth_deadline_ms; /* 0: no deadline (no auth, or authenticated) */
    uint64_t auth_fp;          /* the configured credential it authenticated with; 0: none */
    uint32_t urls_generation;  /* of the cluster's client URLs its INFO carried */
    char nonce[NE_NKEY_NONCE_LEN + 1]; /* sent in INFO when nkey users exist */
    char name[64];
    char lang[16];
    char version[16];
} ne_nats_client;

typedef struct ne_nats {
    const ne_server_options *opts;
    ne_conns *conns;
    ne_router *router;
    uint8_t kind;
    bool info_ldm; /* INFO lines being written carry "ldm":true */
    /* In a cluster: its name and client URLs for INFO (the route kind
     * writes them, the server wires them); NULL otherwise. */
    const char *cluster_name;
    const ne_connect_urls *cluster_urls;
    ne_listener listener;
    ne_pool client_pool;
    /* One message's MSG line parts and payload, laid out once for all its
     * subscribers (prepare_fast); owner: the message's id. */
    uint64_t scratch_seq;
    uint64_t scratch_owner;
    char deliver_scratch[NE_CHUNK_BYTES];
} ne_nats;

typedef NE_POOL_STORAGE(ne_nats_client, NE_MAX_CONNECTIONS) ne_nats_storage;

void ne_nats_init(ne_nats *n, ne_nats_storage *storage, const ne_server_options *opts,
                  ne_conns *conns, ne_router *router);
/* Opens the client listener on opts host:port. */
int ne_nats_start(ne_nats *n);
/* Closes the client listener (lame duck mode, shutdown). */
void ne_nats_stop_listening(ne_nats *n);
uint16_t ne_nats_port(const ne_nats *n);
/* Open client connections (max_connections counts these). */
uint32_t ne_nats_client_count(const ne_nats *n);

/* Writes the INFO line for a client (conn may be NULL for a refused one);
 * 0 when it does not fit in cap. */
size_t ne_nats_info(ne_nats *n, const ne_conn *conn, const char *client_ip, char *out, size_t cap);

/* Lame duck mode: an INFO with "ldm":true to the clients that said
 * protocol 1 and whose first PING was answered (nats-server's async INFO). */
void ne_nats_lame_duck_info(ne_nats *n);
/* In a cluster: INFO carries its name and its client URLs (connect_urls,
 * CP-11); both stay the caller's. */
void ne_nats_set_cluster(ne_nats *n, const char *cluster_name, const ne_connect_urls *urls);
/* The cluster's client URLs changed: an INFO with them to the clients that
 * take async INFO (CP-13). */
void ne_nats_cluster_changed(ne_nats *n);
/* Closes up to `count` clients (lame duck steps); returns how many. */
uint32_t ne_nats_close_clients(ne_nats *n, uint32_t count, ne_close_reason reason);

/* After a configuration reload: clients whose credential is gone are closed
 * with Authorization Violation, the others rebound to their user's new
 * permissions (subscriptions they no longer may have are removed with
 * nats-server's -ERR, CP-38); clients beyond a lower max_connections are
 * closed. */
void ne_nats_reloaded(ne_nats *n, bool auth_changed);

#endif
