/* Cluster routes: the connections between the nodes of a cluster, natsedge
 * and nats-server 2.9 nodes alike (docs/cluster.md; inventory CP-59,
 * PR-03, MON-04, CFG-05).
 *
 * A route is a connection kind (floor 5, docs/architecture.md) whose state
 * is an ne_route_link. The peer's interest (RS+/RS-, with an account, and a
 * queue weight) becomes subscriptions of that connection marked as a peer's
 * (ne_sub.peer) in the account it names, with the weight as member_weight,
 * so that the router counts them in its queue pick and batches one RMSG
 * per route (deliver_batch) naming the queue groups it was picked for. The
 * local interest is announced to every route by the interest observer this
 * kind registers with the router, without a table of its own: the
 * subscriptions behind one (account, subject, queue) are the entries of
 * one sublist node (ne_sublist_each_same), counted when one comes or goes.
 *
 * What arrives on a route never goes to another route (the cluster is a
 * full mesh) nor to a hub this node is a leaf of: the connection says
 * NE_PEER_CLUSTER (ne_conn.peer_role), which the kinds' filters read.
 *
 * Routes are solicited to the configured URLs (for ever, with backoff) and
 * to the URLs other nodes gossip (connect_retries more times), and
 * accepted on the cluster listener. A second route to the same server is
 * closed ("Duplicate Route"); a route to a server of another cluster name
 * is refused ("Cluster Name Conflict"). The client URLs of every node go to
 * clients in INFO connect_urls (ne_connect_urls, which the server shares
 * with the client kind). */
#ifndef NE_ROUTE_H
#define NE_ROUTE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "conf/ne_options.h"
#include "conn/ne_conn.h"
#include "core/ne_pool.h"
#include "core/ne_rng.h"
#include "json/ne_json.h"
#include "json/ne_json_out.h"
#include "ne_config.h"
#include "proto/ne_proto.h"
#include "proto/ne_proto_info.h"
#include "router/ne_router.h"

#if NE_FEATURE_ROUTES

/* "host:port" of a node (a route URL's, a client URL's). */
#define NE_ROUTE_HOSTPORT_BYTES 72

/* Parsing of route input that needs no server state: for the kind, tests
 * and fuzzing. */

/* Parses a control line read on a route (RS+, RS-, RMSG, HMSG in their
 * route forms with op->account; every other verb as ne_proto_parse_line). */
ne_proto_status ne_route_parse_line(const char *line, size_t len, ne_op *op);

/* A route URL split: nats-route://[user[:pass]@]host[:port][/...] (the
 * schemes nats-route, nats and tls; port 6222 when none). */
typedef struct ne_route_url {
    char host[64];
    uint16_t port;
    char user[64];
    char pass[128];
} ne_route_url;
/* NE_ERR_INVALID for a malformed URL, NE_ERR_UNSUPPORTED for another
 * scheme, NE_ERR_TOO_BIG when a part does not fit. */
int ne_route_parse_url(const char *url, size_t len, ne_route_url *out);

/* What the INFO of a route's peer says. */
typedef struct ne_route_info {
    char server_id[57];
    char server_name[64];
    char cluster[64];
    bool cluster_dynamic;
    char host[64];
    uint16_t port;
    char ip[NE_ROUTE_URL_BYTES]; /* "nats-route://host:port/": gossip, advertise */
    bool headers;
    bool auth_required;
    bool tls_required;
    bool ldm;
    bool gateway; /* a gateway's INFO (gateways are not supported) */
    uint32_t url_count;
    uint32_t urls_len;
    char urls[NE_ROUTE_PEER_URLS_BYTES]; /* connect_urls as JSON array items */
    uint32_t urls_dropped;               /* connect_urls that did not fit */
} ne_route_info;

/* NE_ERR_PARSE on malformed JSON. doc is the caller's work area. */
int ne_route_parse_info(const char *json, size_t len, ne_route_info *info, ne_json_doc *doc);

/* Writes the RS+ (plus) or RS- line of an interest: "RS+ <account>
 * <subject>[ <queue> <weight>]\r\n"; returns its length, 0 when it does not
 * fit in cap. */
size_t ne_route_interest_line(char *out, size_t cap, bool plus, const char *account,
                              const char *subject, size_t subject_len, const char *queue,
                              size_t queue_len, uint32_t weight);

/* Writes the RMSG (or HMSG) line of a message for a route's batch; 0 when
 * it does not fit in cap. A JetStream delivery's shown subject (len 0:
 * none) travels after the reply as "reply@shown", as nats-server sends it;
 * it needs a reply. */
size_t ne_route_msg_line(char *out, size_t cap, const char *account, const ne_batch *b,
                         ne_slice subject, ne_slice shown, ne_slice reply, bool as_hmsg,
                         uint32_t hdr_len, uint32_t total_len);

/* Where a route connection is in its life. */
typedef enum ne_route_link_state {
    NE_ROUTE_CONNECTING = 1, /* solicited: CONNECT and INFO sent, waiting for the peer's INFO */
    NE_ROUTE_WAIT_CONNECT,   /* accepted: INFO sent, waiting for CONNECT */
    NE_ROUTE_WAIT_INFO,      /* accepted: CONNECT taken, waiting for the peer's INFO */
    NE_ROUTE_ESTABLISHED,
} ne_route_link_state;

/* One route connection (either role), from the route link pool. */
typedef struct ne_route_link {
    ne_conn *conn;
    int16_t target; /* index in targets of the URL it was solicited for; -1: accepted */
    uint8_t state;  /* ne_route_link_state */
    bool headers;
    bool auth_required; /* the peer's INFO said so (gossiped on) */
    bool tls_required;
    bool configured;   /* it reaches a configured route (/routez is_configured) */
    bool urls_counted; /* its client URLs are in the cluster's list */
    /* The message being read (RMSG/HMSG): the account it names, when this
     * node has it. */
    bool msg_account_known;
    uint8_t msg_account;
    uint64_t deadline_ms; /* the handshake must be done by then */
    char remote_id[57];
    char remote_name[64];
    char route_url[NE_ROUTE_HOSTPORT_BYTES]; /* where the peer takes routes */
    uint32_t urls_len;
    char urls[NE_ROUTE_PEER_URLS_BYTES]; /* its client URLs, JSON array items */
} ne_route_link;

/* A URL this node solicits: a configured route (tried for ever) or one a
 * peer gossiped (tried connect_retries more times). */
typedef struct ne_route_target {
    bool in_use;
    bool configured;
    bool self;           /* it led back to this server: never tried again */
    ne_route_link *link; /* the route that reaches its server, NULL while none */
    ne_route_url url;
    char remote_id[57]; /* the server it leads to, once known */
    uint64_t next_attempt_ms;
    uint32_t failures;      /* since the last route up: the backoff */
    uint32_t attempts_left; /* learned ones: attempts before it is given up */
    uint64_t attempts;
    uint64_t connects;
} ne_route_target;

#define NE_ROUTE_MAX_TARGETS (2 * NE_ROUTE_MAX_URLS)

typedef struct ne_route_stats {
    uint64_t links_refused;      /* route link pool or connection pool empty */
    uint64_t interest_exhausted; /* routes closed: their peer's interest did not fit */
    uint64_t interest_dropped;   /* RS+ not held: a subject the trie cannot hold */
    uint64_t unknown_account;    /* RS+ or RMSG naming an account this node does not have */
    uint64_t duplicates;         /* routes closed as a second route to one server */
    uint64_t name_conflicts;     /* routes refused for another cluster name */
    uint64_t urls_dropped;       /* gossiped routes or client URLs without room */
} ne_route_stats;

typedef struct ne_route_state {
    const ne_server_options *opts;
    ne_conns *conns;
    ne_router *router;
    ne_rng *rng;
    uint8_t kind;
    bool active;     /* a cluster is configured: hooks do work */
    bool stopping;   /* shutting down: no more connection attempts */
    bool dynamic;    /* the cluster name was made up here */
    bool urls_shown; /* a route brought client URLs: clients hear the list from now on */
    ne_listener listener;
    char cluster_name[64];
    char client_url[NE_ROUTE_HOSTPORT_BYTES]; /* this node's, "" when it has none to give */
    /* The cluster's client URLs, written here for the client kind (the
     * server's), and who to tell when they change. */
    ne_connect_urls *urls;
    void (*urls_changed)(void *ctx);
    void *urls_ctx;
    const ne_tls_config *tls_server; /* cluster tls { }: accepted routes */
    const ne_tls_config *tls_client; /* solicited routes */
    /* The name a learned route's certificate is checked against: the first
     * configured route's host that is a name, as nats-server does (gossip
     * gives addresses); "": the route's own host. */
    char tls_name[64];
    ne_route_target targets[NE_ROUTE_MAX_TARGETS];
    ne_route_stats stats;
    ne_route_link *links[NE_MAX_ROUTES]; /* by pool index, NULL when free */
    /* Work areas of one call at a time: an INFO or CONNECT line being
     * written, a peer's INFO or CONNECT tokenized. */
    char scratch[2048];
    ne_json_doc doc;
    ne_pool link_pool;
    NE_POOL_STORAGE(ne_route_link, NE_MAX_ROUTES) link_storage;
} ne_route_state;

/* Fills in what a cluster block leaves at zero. */
void ne_route_options_default(ne_cluster_options *opts);
/* Checks the cluster options; writes a message into err on failure. */
int ne_route_options_check(const ne_cluster_options *opts, char *err, size_t err_cap);

/* Registers the route kind and its interest observer; urls is the
 * cluster's client URL list the client kind reads (the server's). st must
 * be all zero (a server's, from ne_server_init or ne_server_init_zeroed). */
void ne_route_init(ne_route_state *st, const ne_server_options *opts, ne_conns *conns,
                   ne_router *router, ne_rng *rng, ne_connect_urls *urls);
/* Who to tell when the cluster's client URLs change (the client kind's
 * async INFO, through the server). */
void ne_route_on_urls_changed(ne_route_state *st, void (*fn)(void *ctx), void *ctx);
/* Cluster TLS configurations the board made from cluster { tls { } }
 * (between ne_server_init and ne_server_start). */
void ne_route_set_tls(ne_route_state *st, const ne_tls_config *server_cfg,
                      const ne_tls_config *client_cfg);
/* Opens the cluster listener and schedules the configured routes; the
 * client listener's port is known by then (this node's client URL). */
int ne_route_start(ne_route_state *st, uint16_t client_port);
/* Timers: connection attempts, handshake deadlines. */
void ne_route_tick(ne_route_state *st, uint64_t now_ms);
void ne_route_shutdown(ne_route_state *st);
void ne_route_log_memory(const ne_route_state *st);
/* Established routes (/varz routes), and the servers they reach (remotes). */
uint32_t ne_route_count(const ne_route_state *st);
uint16_t ne_route_port(const ne_route_state *st);
/* The cluster's name ("" without a cluster). */
const char *ne_route_cluster_name(const ne_route_state *st);

/* /routez (ne_route_mon.c): subs adds each route's subscriptions_list
 * (?subs=1), subs_detail its subscriptions_list_detail. */
void ne_route_write_routez(const ne_route_state *st, ne_json_out *o, bool subs, bool subs_detail);
/* /varz's cluster object. */
void ne_route_write_varz_cluster(const ne_route_state *st, ne_json_out *o);

#endif /* NE_FEATURE_ROUTES */

#endif
