/* Leaf nodes: natsedge as a leaf of a nats-server hub (solicited remotes) and
 * as a hub for leafs (accepted leaf connections).
 *
 * A leaf connection is a connection kind (floor 5, docs/architecture.md)
 * whose state is an ne_leaf_link. The peer's interest (LS+/LS-) becomes
 * subscriptions of that connection marked as a peer's, so the router
 * batches one LMSG per peer (deliver_batch) naming the queue groups it was
 * picked for; local interest is sent to each peer through the leaf interest
 * table (one LS+ per subject and queue, with the queue weight), kept by the
 * interest observer this kind registers with the router. */
#ifndef NE_LEAF_H
#define NE_LEAF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "auth/ne_nkey.h"
#include "conf/ne_options.h"
#include "conn/ne_conn.h"
#include "core/ne_pool.h"
#include "core/ne_rng.h"
#include "json/ne_json.h"
#include "json/ne_json_out.h"
#include "ne_config.h"
#include "proto/ne_proto.h"
#include "router/ne_router.h"

/* A subscription records the links it was announced on in ne_sub.announced
 * (one bit per link), and its connection counts them in ne_conn.announced. */
#if NE_MAX_LEAF_CONNECTIONS > 32
#error "NE_MAX_LEAF_CONNECTIONS must be at most 32 (ne_sub.announced)"
#endif
#if NE_LEAF_INTEREST_PER_CONNECTION < 1 ||                                                         \
    NE_LEAF_INTEREST_PER_CONNECTION > NE_LEAF_INTEREST_ENTRIES
#error "NE_LEAF_INTEREST_PER_CONNECTION must be 1 to NE_LEAF_INTEREST_ENTRIES"
#endif

/* A "host:port" learned from a hub's leafnode_urls. */
#define NE_LEAF_HOSTPORT_BYTES 72

/* Where a leaf connection is in its life. */
typedef enum ne_leaf_link_state {
    NE_LEAF_CONNECTING = 1,    /* solicited: TCP connect under way, waiting for INFO */
    NE_LEAF_WAIT_CONNECT_INFO, /* solicited: CONNECT sent, waiting for the hub's INFO */
    NE_LEAF_WAIT_CONNECT,      /* accepted: INFO sent, waiting for CONNECT */
    NE_LEAF_ESTABLISHED,
} ne_leaf_link_state;

/* One leaf connection (either role), from the leaf connection pool. */
typedef struct ne_leaf_link {
    ne_conn *conn;
    int32_t remote;    /* index in options' remotes, -1 when accepted */
    uint8_t state;     /* ne_leaf_link_state */
    uint8_t url_index; /* solicited: position in the remote's rotation */
    bool headers;
    /* We are the spoke on this link: solicited without `hub: true`, or
     * accepted from a leaf whose CONNECT said is_hub (LN-01). */
    bool spoke;
    uint64_t deadline_ms; /* handshake must be done by then */
    uint64_t established_wall_ns;
    uint32_t interest_count; /* entries of the interest table sent to this peer */
    uint64_t auth_fp;        /* accepted: the server credential it logged in with; 0: none */
    char remote_id[57];
    char remote_name[64];
    char remote_account[64];
    char url[NE_LEAF_URL_BYTES];       /* solicited: the URL in use (no user info) */
    char nonce[NE_NKEY_NONCE_LEN + 1]; /* accepted: sent in our INFO */
    /* JetStream on the link (ne_leaf_js.c), set as it is established: the
     * peer's domain (its INFO or CONNECT), which API subjects cross in
     * neither direction (LN-33) and whether our own domain's API may not
     * leave through it (LN-35). */
    char remote_domain[NE_JS_DOMAIN_BYTES];
    uint8_t js_deny; /* ne_leaf_js_deny */
    bool js_deny_own_domain;
} ne_leaf_link;

/* The JetStream subjects a link denies both ways (LN-33): none before it
 * is established, the client API's for an account's link, and the system
 * account's, which also carry clustering and RAFT, for the system
 * account's link. */
typedef enum ne_leaf_js_deny {
    NE_LEAF_JS_DENY_NONE = 0,
    NE_LEAF_JS_DENY_CLIENT, /* $JS.API.> $KV.> $OBJ.> */
    NE_LEAF_JS_DENY_SYSTEM, /* $JSC.> $NRG.> $JS.API.> $KV.> $OBJ.> */
} ne_leaf_js_deny;

/* What was sent to one peer: an LS+ for (subject, queue) with a count of
 * local subscriptions behind it (the queue weight). */
typedef struct ne_leaf_interest {
    uint32_t next; /* hash chain (index + 1, 0 ends) */
    uint32_t hash;
    uint16_t link; /* index of the link in the link pool */
    uint16_t subject_len;
    uint16_t queue_len;
    uint32_t count;
    char text[NE_SUB_TEXT_BYTES]; /* subject then queue */
} ne_leaf_interest;

#define NE_LEAF_P2_(x)                                                                             \
    ((((x) | ((x) >> 1) | ((x) >> 2) | ((x) >> 4) | ((x) >> 8) | ((x) >> 16)) + 1u))
#define NE_LEAF_BUCKETS NE_LEAF_P2_((uint32_t)NE_LEAF_INTEREST_ENTRIES - 1u)

/* A solicited remote's connection attempts. */
typedef struct ne_leaf_remote_state {
    ne_leaf_link *link;              /* NULL while down */
    const ne_tls_config *tls_config; /* the board's client configuration (tls { }) */
    uint8_t url_order[NE_LEAF_MAX_URLS];
    uint32_t url_next; /* position in the rotation of the next URL to try */
    /* Leaf URLs of the hub's cluster from its INFO (leafnode_urls), tried
     * after the configured ones with the first URL's credentials (LN-28). */
    char learned[NE_LEAF_MAX_URLS][NE_LEAF_HOSTPORT_BYTES];
    uint32_t learned_count;
    uint64_t next_attempt_ms;
    uint64_t attempts;
    uint64_t connects;
    uint64_t failed_in_a_row; /* attempts that failed since it was last up */
} ne_leaf_remote_state;

typedef struct ne_leaf_stats {
    uint64_t interest_refused; /* SUBs refused: interest table full */
    uint64_t links_refused;    /* leaf connection pool empty */
    uint64_t hub_subs_dropped; /* LS+ from a peer that found no subscription */
    uint64_t loops_detected;
} ne_leaf_stats;

typedef struct ne_leaf_state {
    const ne_server_options *opts;
    ne_conns *conns;
    ne_router *router;
    ne_rng *rng;
    uint8_t kind;
    ne_listener listener; /* hub role: leafnodes { listen } */
    bool active;          /* leafnodes configured: hooks do work */
    bool stopping;        /* shutting down: no more connection attempts */
    char lds[40];         /* this server's loop-detection subject "$LDS.<id>" */
    ne_leaf_remote_state remotes[NE_MAX_LEAF_REMOTES];
    ne_leaf_stats stats;
    ne_leaf_link *links[NE_MAX_LEAF_CONNECTIONS]; /* by pool index, NULL when free */
    /* Work areas of one call at a time: a CONNECT line with a JWT, a peer's
     * INFO or CONNECT tokenized. */
    char scratch[NE_LEAF_JWT_BYTES + 1024];
    ne_json_doc doc;
    ne_pool link_pool;
    ne_pool interest_pool;
    uint32_t buckets[NE_LEAF_BUCKETS]; /* index + 1 of a chain's first entry */
    NE_POOL_STORAGE(ne_leaf_link, NE_MAX_LEAF_CONNECTIONS) link_storage;
    NE_POOL_STORAGE(ne_leaf_interest, NE_LEAF_INTEREST_ENTRIES) interest_storage;
} ne_leaf_state;

void ne_leaf_options_default(ne_leaf_options *opts);
/* Checks the leaf options; writes a message into err on failure. */
int ne_leaf_options_check(const ne_leaf_options *opts, char *err, size_t err_cap);

/* Registers the leaf kind and its interest observer. st must be all zero
 * (a server's, from ne_server_init or ne_server_init_zeroed). */
void ne_leaf_init(ne_leaf_state *st, const ne_server_options *opts, ne_conns *conns,
                  ne_router *router, ne_rng *rng);
/* Opens the leaf listener (hub role) and schedules the remotes' first
 * connection attempts. */
int ne_leaf_start(ne_leaf_state *st);
/* Gives remote `remote` the TLS client configuration the board made from
 * its tls { } block (between ne_server_init and ne_server_start). */
void ne_leaf_set_remote_tls(ne_leaf_state *st, uint32_t remote, const ne_tls_config *cfg);
/* Timers: connection attempts, handshake deadlines. */
void ne_leaf_tick(ne_leaf_state *st, uint64_t now_ms);
void ne_leaf_shutdown(ne_leaf_state *st);
void ne_leaf_log_memory(const ne_leaf_state *st);
/* Open leaf connections. */
uint32_t ne_leaf_connection_count(const ne_leaf_state *st);
/* Established leaf connections bound to acc (/accstatz leafnodes). */
uint32_t ne_leaf_account_count(const ne_leaf_state *st, const ne_account *acc);
/* The authorization was reloaded: accepted leafs that logged in with the
 * server's own credentials are closed, to log in again. */
void ne_leaf_auth_reloaded(ne_leaf_state *st);
/* Writes the /leafz document (ne_leaf_mon.c); subs adds each leaf's
 * subscriptions_list (?subs=1). */
void ne_leaf_write_leafz(const ne_leaf_state *st, ne_json_out *o, bool subs);

/* JetStream on the link (ne_leaf_js.c, LN-33..LN-35). */

/* Decides the link's deny rules from our JetStream options and the peer's
 * domain (link->remote_domain) and logs them as nats-server does; called
 * as the link is established, before any interest is sent. */
void ne_leaf_js_setup(ne_leaf_state *st, ne_leaf_link *link);
/* Whether the link denies `subject` in both directions: its messages are
 * neither sent nor taken, interest in it is neither announced nor
 * learned. A wildcard subject is denied when a deny filter covers it. */
bool ne_leaf_js_denied(const ne_leaf_link *link, const char *subject, size_t len);
/* Whether a message on `subject` may not be sent to the peer: denied both
 * ways, or our own domain's API on a link that does not extend it. */
bool ne_leaf_js_denied_out(const ne_leaf_state *st, const ne_leaf_link *link, const char *subject,
                           size_t len);

/* Parses a control line read on a leaf connection (LMSG/HMSG in their leaf
 * forms, with op->queue spanning the queue names). */
ne_proto_status ne_leaf_parse_line(const char *line, size_t len, ne_op *op);
/* Writes the LMSG (or HMSG) line of a message for a peer's batch; returns
 * its length (0 if it does not fit in cap). A JetStream delivery's shown
 * subject (len 0: none) travels after the reply as "reply@shown", as
 * nats-server sends it; it needs a reply. */
size_t ne_leaf_msg_line(char *out, size_t cap, const ne_batch *b, ne_slice subject, ne_slice shown,
                        ne_slice reply, bool as_hmsg, uint32_t hdr_len, uint32_t total_len);

/* Parsing of peer input, exposed for tests and fuzzing. */

/* What the INFO of a leaf peer says. */
typedef struct ne_leaf_info {
    char server_id[57];
    char server_name[64];
    char nonce[64];
    char remote_account[64];
    uint64_t client_id;
    uint32_t max_payload;
    bool headers;
    bool info_on_connect;
    bool connect_info;
    bool has_leafnode_urls;
    uint32_t url_count; /* leafnode_urls kept (the first NE_LEAF_MAX_URLS) */
    char urls[NE_LEAF_MAX_URLS][NE_LEAF_HOSTPORT_BYTES];
    bool auth_required;
    bool tls_required;
    bool jetstream;
    char domain[NE_JS_DOMAIN_BYTES]; /* "" when none (or too long: never equal to ours) */
} ne_leaf_info;

/* NE_ERR_PARSE on malformed JSON. doc is the caller's work area. */
int ne_leaf_parse_info(const char *json, size_t len, ne_leaf_info *info, ne_json_doc *doc);

/* Reads a .creds file: the user JWT and the seed from their dash-fenced
 * blocks. NE_ERR_PARSE when either is missing, NE_ERR_TOO_BIG when one does
 * not fit. */
int ne_leaf_parse_creds(const char *text, size_t len, char *jwt, size_t jwt_cap, char *seed,
                        size_t seed_cap);

/* Signs the nonce with a user seed ("SU..."): writes the base64url
 * signature (86 chars and a NUL) into sig. NE_ERR_PARSE for a bad seed. */
int ne_leaf_sign_nonce(const char *seed, const char *nonce, char sig[90]);

/* A URL split: nats-leaf://user:pass@host:port (scheme optional). */
typedef struct ne_leaf_url {
    char host[128];
    uint16_t port;
    char user[128];
    char pass[128];
    bool tls;
} ne_leaf_url;
int ne_leaf_parse_url(const char *url, ne_leaf_url *out);

#endif
