/* Leaf node options and state, as the server embeds them. The functions are
 * in leaf/ne_leaf.h; this header only holds the types, so that
 * server/ne_server.h can include it without a cycle. */
#ifndef NE_LEAF_TYPES_H
#define NE_LEAF_TYPES_H

#include <stdbool.h>
#include <stdint.h>

#include "core/ne_pool.h"
#include "ne_config.h"
#include "port.h"

struct ne_conn;
struct ne_sub;

/* A set of leaf connections by their index in the leaf connection pool:
 * the links a subscription's interest was counted on (ne_sub.leaf_links). */
#if NE_MAX_LEAF_CONNECTIONS <= 8
typedef uint8_t ne_leaf_linkset;
#elif NE_MAX_LEAF_CONNECTIONS <= 16
typedef uint16_t ne_leaf_linkset;
#elif NE_MAX_LEAF_CONNECTIONS <= 32
typedef uint32_t ne_leaf_linkset;
#else
#error "NE_MAX_LEAF_CONNECTIONS must be at most 32 (ne_leaf_linkset)"
#endif

#if NE_LEAF_INTEREST_PER_CONNECTION < 1 ||                                                         \
    NE_LEAF_INTEREST_PER_CONNECTION > NE_LEAF_INTEREST_ENTRIES
#error "NE_LEAF_INTEREST_PER_CONNECTION must be 1 to NE_LEAF_INTEREST_ENTRIES"
#endif

/* A "host:port" learned from a hub's leafnode_urls. */
#define NE_LEAF_HOSTPORT_BYTES 72

/* The subject of the message being routed. */
typedef struct ne_slice_text {
    const char *ptr;
    uint32_t len;
} ne_slice_text;

/* One entry of leafnodes { remotes [ ... ] }, as nats-server 2.9 reads it. */
typedef struct ne_leaf_remote_options {
    char urls[NE_LEAF_MAX_URLS][NE_LEAF_URL_BYTES];
    uint32_t url_count;
    char account[64]; /* local account bound to this remote ("$G") */
    /* From a credentials file: the user JWT and the seed that signs the
     * hub's nonce. Empty when the remote has no credentials. */
    char jwt[NE_LEAF_JWT_BYTES];
    char seed[64];
    char deny_imports[NE_LEAF_MAX_DENY][NE_SUB_TEXT_BYTES];
    uint32_t deny_import_count;
    char deny_exports[NE_LEAF_MAX_DENY][NE_SUB_TEXT_BYTES];
    uint32_t deny_export_count;
    bool no_randomize;
    bool hub;
    /* A tls { } block (or a tls:// URL): the link is TLS after the hub's
     * INFO, the hub's certificate checked against ca_file and the URL's
     * host; cert_file/key_file: our certificate if the hub asks for one. */
    bool tls;
    char tls_ca_file[NE_TLS_PATH_BYTES];
    char tls_cert_file[NE_TLS_PATH_BYTES];
    char tls_key_file[NE_TLS_PATH_BYTES];
} ne_leaf_remote_options;

/* leafnodes { authorization { users [ { user, password, account } ] } } */
typedef struct ne_leaf_user {
    char user[64];
    char pass[128];
    char account[64]; /* "": $G */
} ne_leaf_user;

typedef struct ne_leaf_options {
    ne_leaf_remote_options remotes[NE_MAX_LEAF_REMOTES];
    uint32_t remote_count;
    uint32_t reconnect_ms;
    /* Hub role: leafnodes { listen } and its authorization. */
    bool listen_enabled;
    char listen_host[64];
    uint16_t listen_port; /* 0 with listen_enabled: any free port */
    char auth_user[64];
    char auth_pass[128];
    char auth_account[64]; /* account the single user binds ("": $G) */
    ne_leaf_user users[NE_MAX_USERS];
    uint32_t user_count;
    uint32_t auth_timeout_ms;
} ne_leaf_options;

/* Where a leaf connection is in its life. */
typedef enum ne_leaf_link_state {
    NE_LEAF_CONNECTING = 1,    /* solicited: TCP connect under way, waiting for INFO */
    NE_LEAF_WAIT_CONNECT_INFO, /* solicited: CONNECT sent, waiting for the hub's INFO */
    NE_LEAF_WAIT_CONNECT,      /* accepted: INFO sent, waiting for CONNECT */
    NE_LEAF_ESTABLISHED,
} ne_leaf_link_state;

/* One leaf connection (either role), from the leaf connection pool. */
typedef struct ne_leaf_link {
    struct ne_conn *conn;
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
    char remote_id[57];
    char remote_name[64];
    char remote_account[64];
    char url[NE_LEAF_URL_BYTES]; /* solicited: the URL in use (no user info) */
} ne_leaf_link;

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
    uint32_t failures_logged;
} ne_leaf_remote_state;

/* Leaf targets of one message being routed (a leaf connection gets one LMSG
 * naming every queue group it was picked for). */
typedef struct ne_leaf_target {
    struct ne_conn *conn;
    bool plain;
    uint32_t queue_count;
    const char *queue[NE_MAX_MATCH_QUEUE_GROUPS];
    uint16_t queue_len[NE_MAX_MATCH_QUEUE_GROUPS];
} ne_leaf_target;

typedef struct ne_leaf_stats {
    uint64_t interest_refused; /* SUBs refused: interest table full */
    uint64_t links_refused;    /* leaf connection pool empty */
    uint64_t hub_subs_dropped; /* LS+ from a peer that found no subscription */
    uint64_t loops_detected;
} ne_leaf_stats;

typedef struct ne_leaf_state {
    bool active;   /* leafnodes configured: hooks do work */
    bool stopping; /* shutting down: no more connection attempts */
    ne_slice_text route_subject;
    char lds[40]; /* this server's loop-detection subject "$LDS.<id>" */
    ne_leaf_remote_state remotes[NE_MAX_LEAF_REMOTES];
    ne_leaf_stats stats;
    uint32_t target_count;
    ne_leaf_target targets[NE_MAX_LEAF_CONNECTIONS];
    ne_leaf_link *links[NE_MAX_LEAF_CONNECTIONS]; /* by pool index, NULL when free */
    ne_pool link_pool;
    ne_pool interest_pool;
    uint32_t buckets[NE_LEAF_BUCKETS]; /* index + 1 of a chain's first entry */
    NE_POOL_STORAGE(ne_leaf_link, NE_MAX_LEAF_CONNECTIONS) link_storage;
    NE_POOL_STORAGE(ne_leaf_interest, NE_LEAF_INTEREST_ENTRIES) interest_storage;
} ne_leaf_state;

#endif
