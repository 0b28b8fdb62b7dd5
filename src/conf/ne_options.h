/* The run-time options: what nats-server's configuration file and command
 * line set, with nats-server's names and defaults, bounded by config/.
 *
 * Data only. The board fills them (server/ne_server_conf.c from a file,
 * board/linux/cli.c from flags), ne_server_options_check holds them to the
 * compiled-in maxima, and every floor above this one reads the part it
 * needs; nothing below the server writes them. */
#ifndef NE_OPTIONS_H
#define NE_OPTIONS_H

#include <stdbool.h>
#include <stdint.h>

#include "ne_config.h"
#include "ne_config_js.h"

/* ---- Permissions (inventory CP-78..CP-83; checked by ne_perm.c) ----------- */

/* "No permission set" in an index field. */
#define NE_PERM_NONE 0xffffu

/* One subject of a list; subscribe lists may name a queue group too
 * ("foo.> workers", CP-80). */
typedef struct ne_perm_subject {
    uint16_t subject_len;
    uint16_t queue_len;
    char text[NE_PERM_SUBJECT_BYTES]; /* subject, then queue; no terminator */
} ne_perm_subject;

typedef struct ne_perm_list {
    uint16_t first; /* index of the first entry in the subject table */
    uint16_t count;
    bool present;
} ne_perm_list;

typedef struct ne_permissions {
    ne_perm_list pub_allow;
    ne_perm_list pub_deny;
    ne_perm_list sub_allow;
    ne_perm_list sub_deny;
    /* allow_responses: a user may publish to the reply subject of a message
     * it received, `response_max` times within `response_expires_ms`. */
    bool responses;
    uint32_t response_max;
    uint32_t response_expires_ms;
} ne_permissions;

#define NE_PERM_RESPONSE_MAX_DEFAULT 1u
#define NE_PERM_RESPONSE_EXPIRES_MS_DEFAULT (2u * 60u * 1000u)

/* ---- Accounts, exports and imports (inventory CP-84..CP-87) ---------------- */

#if NE_MAX_ACCOUNTS < 2 || NE_MAX_ACCOUNTS > 32
#error "NE_MAX_ACCOUNTS must be within 2..32 ($G and the system account at least)"
/* Whether account i has JetStream: with JetStream on, $G when no accounts
 * are configured (only $G and the system account exist), otherwise the
 * accounts whose block enables it (nats-server's enableJetStreamAccounts). */
static inline bool ne_js_account_enabled(const ne_server_options *o, uint32_t i)
{
    if (!o->js.enabled || i >= o->account_count || i == o->system_account) {
        return false;
    }
    bool accounts_configured = false;
    for (uint32_t k = 0; k < o->account_count; k++) {
        accounts_configured =
            accounts_configured || (k != NE_ACCOUNT_GLOBAL && k != o->system_account);
    }
    return accounts_configured ? o->accounts[i].js.enabled : i == NE_ACCOUNT_GLOBAL;
}

#endif

#define NE_ACCOUNT_NONE 0xffu
#define NE_ACCOUNT_GLOBAL 0u
#define NE_ACCOUNT_NAME_BYTES 64

/* An account's jetstream { } (nats-server's JetStreamAccountLimits): -1
 * means no limit of the account's own (the server's apply). */
typedef struct ne_js_account_limits {
    bool enabled;
    int64_t max_memory;
    int64_t max_store;
    int64_t max_streams;
    int64_t max_consumers;
    int64_t max_ack_pending;
    int64_t memory_max_stream_bytes;
    int64_t store_max_stream_bytes;
    bool max_bytes_required;
} ne_js_account_limits;

typedef struct ne_account_conf {
    char name[NE_ACCOUNT_NAME_BYTES];
    uint16_t default_perms; /* NE_PERM_NONE or an index of the options' perms */
    ne_js_account_limits js;
} ne_account_conf;

/* Service response types (export `response_type`). */
#define NE_RESPONSE_SINGLETON 0
#define NE_RESPONSE_STREAM 1
#define NE_RESPONSE_CHUNKED 2

typedef struct ne_export_conf {
    uint8_t account; /* the exporting account */
    bool service;
    uint8_t response_type;
    uint32_t allowed; /* a bit per account index allowed to import; 0: public */
    char subject[NE_PERM_SUBJECT_BYTES];
} ne_export_conf;

typedef struct ne_import_conf {
    uint8_t account; /* the importing account */
    uint8_t from;    /* the exporting account */
    bool service;
    bool prefix;                         /* stream import: `to` is a prefix */
    uint8_t response_type;               /* service import: copied from the export */
    char subject[NE_PERM_SUBJECT_BYTES]; /* in the exporter's subject space */
    char to[NE_PERM_SUBJECT_BYTES];      /* in the importer's; empty: the same */
} ne_import_conf;

/* ---- Leaf nodes (inventory section 2, LN-xx) ------------------------------- */

/* One entry of leafnodes { remotes [ ... ] }, as nats-server 2.9 reads it. */
typedef struct ne_leaf_remote_options {
    char urls[NE_LEAF_MAX_URLS][NE_LEAF_URL_BYTES];
    uint32_t url_count;
    char account[64]; /* local account bound to this remote ("$G") */
    /* From a credentials file: the user JWT and the seed that signs the
     * hub's nonce. Empty when the remote has no credentials. */
    char jwt[NE_LEAF_JWT_BYTES];
    char seed[64];
    /* A credentials file that did not exist when the configuration was
     * read: accepted, as nats-server accepts it (its -t passes), and said at
     * start-up; the remote connects without credentials. */
    bool creds_missing;
    char creds_file[NE_TLS_PATH_BYTES];
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

/* ---- MQTT (inventory MQ-25, CFG-20) --------------------------------------- */

/* mqtt { listen|host|port, authorization { username, password, token,
 * timeout }, no_auth_user, ack_wait, max_ack_pending }, as nats-server
 * 2.9 reads them. The authorization block, when it names a user or a
 * token (or no_auth_user is set), replaces the server's own for MQTT
 * clients. */
typedef struct ne_mqtt_options {
    bool enabled;
    char host[64];
    uint16_t port; /* 0 with enabled: any free port */
    char auth_user[64];
    char auth_pass[128];
    char auth_token[128];
    uint32_t auth_timeout_ms; /* 0: the server's */
    char no_auth_user[64];
    uint32_t ack_wait_ms;     /* 3.1.1: unacknowledged QoS 1/2 sent again after it */
    uint32_t max_ack_pending; /* QoS 1/2 in flight per session, at most NE_MQTT_MAX_INFLIGHT */
    /* tls { cert_file, key_file, ca_file, verify, timeout }: MQTT clients
     * speak TLS from their first byte (mqtts), with a client certificate
     * when verify. */
    bool tls;
    bool tls_verify;
    uint32_t tls_timeout_ms; /* 0: the server's */
    char tls_cert_file[NE_TLS_PATH_BYTES];
    char tls_key_file[NE_TLS_PATH_BYTES];
    char tls_ca_file[NE_TLS_PATH_BYTES];
} ne_mqtt_options;

/* nats-server's defaults: ack_wait 30 s, max_ack_pending 1024. */
#define NE_MQTT_DEFAULT_ACK_WAIT_MS 30000u
#define NE_MQTT_DEFAULT_MAX_ACK_PENDING 1024u
/* ---- Cluster routes (cluster { }, --routes; docs/cluster.md) ---------------- */

#if NE_FEATURE_ROUTES
/* cluster { }, as nats-server 2.9 reads it. */
typedef struct ne_cluster_options {
    bool enabled;         /* a cluster block or --cluster: listen for routes */
    char name[64];        /* "": made up at start and given up for a peer's */
    char listen_host[64]; /* "": the client host */
    uint16_t listen_port; /* 0: any free port */
    char advertise[96];   /* cluster_advertise "host:port" ("": none) */
    bool no_advertise;    /* clients are not told the other nodes' URLs */
    /* routes [ ... ]: nats-route://[user:pass@]host:port */
    char routes[NE_ROUTE_MAX_URLS][NE_ROUTE_URL_BYTES];
    uint32_t route_count;
    /* authorization { user, password, timeout } of accepted routes. */
    char auth_user[64];
    char auth_pass[128];
    uint32_t auth_timeout_ms;
    /* connect_retries: attempts at a route learned from a peer before it is
     * given up (configured routes are tried for ever). */
    uint32_t connect_retries;
    /* tls { }: routes are TLS from their first byte, both certificates
     * verified against ca_file (nats-server's mutual verification). */
    bool tls;
    uint32_t tls_timeout_ms;
    char tls_cert_file[NE_TLS_PATH_BYTES];
    char tls_key_file[NE_TLS_PATH_BYTES];
    char tls_ca_file[NE_TLS_PATH_BYTES];
} ne_cluster_options;
#endif
/* ---- JetStream (inventory section 4, CFG) ------------------------------------ */

/* jetstream { } of the server, -js and -sd. */
typedef struct ne_js_options {
    bool enabled;
    char store_dir[NE_JS_STORE_DIR_BYTES];
    /* max_memory_store and max_file_store in bytes; -1: not set (the
     * compiled-in memory region, and no limit of its own for files). */
    int64_t max_memory;
    int64_t max_store;
    char domain[NE_JS_DOMAIN_BYTES];
    /* limits { }: 0 where not set. */
    int64_t max_ack_pending;
    int64_t max_request_batch;
    int64_t duplicate_window_ns;
    /* sync_interval (alias sync): 0 for "always", the default (the store is
     * synced before each acknowledgement), else the milliseconds between
     * syncs (what is acknowledged is written to the OS first). */
    uint32_t sync_interval_ms;
} ne_js_options;

/* ---- The server ------------------------------------------------------------- */

/* One entry of an authorization users list: user and password, or an nkey. */
typedef struct ne_user_entry {
    char user[64];
    char pass[128];
    char nkey[57];   /* public user key "U..." (56 chars) or empty */
    uint16_t perms;  /* NE_PERM_NONE or an index of the options' perms */
    uint8_t account; /* index of the options' accounts */
} ne_user_entry;

/* Run-time options: nats-server's names and defaults, bounded by config/. */
typedef struct ne_server_options {
    char host[64];
    uint16_t port; /* 0: any free port */
    char server_name[64];
    uint32_t max_connections;
    uint32_t max_payload;
    uint32_t max_control_line;
    uint64_t max_pending;
    uint32_t max_subs; /* per connection; 0: NE_MAX_SUBSCRIPTIONS_PER_CONN */
    uint32_t ping_interval_ms;
    uint32_t ping_max;
    uint32_t write_deadline_ms;
    /* natsedge only (no configuration key): NE_PARTIAL_MSG_TIMEOUT_MS and
     * NE_PARTIAL_MSG_STALL_MS unless a test sets them. */
    uint32_t partial_msg_timeout_ms;
    uint32_t partial_msg_stall_ms;
    bool no_header_support;
    /* Single-user or token authentication (--user/--pass, --auth). Empty:
     * no authentication. */
    char auth_user[64];
    char auth_pass[128];
    char auth_token[128];
    ne_user_entry users[NE_MAX_USERS];
    uint32_t user_count;
    uint32_t auth_timeout_ms;
    /* authorization { permissions }: users without their own (and the
     * single user) get these; NE_PERM_NONE: everything allowed. */
    uint16_t default_perms;
    char no_auth_user[64]; /* clients presenting no credentials are this user */
    /* Accounts: [0] is "$G"; system_account indexes one (NE_ACCOUNT_NONE
     * with no_system_account). */
    ne_account_conf accounts[NE_MAX_ACCOUNTS];
    uint32_t account_count;
    uint8_t system_account;
    ne_export_conf exports[NE_MAX_EXPORTS];
    uint32_t export_count;
    ne_import_conf imports[NE_MAX_IMPORTS];
    uint32_t import_count;
    ne_permissions perms[NE_MAX_PERMISSION_SETS];
    uint32_t perm_count;
    ne_perm_subject perm_subjects[NE_MAX_PERM_SUBJECTS];
    uint32_t perm_subject_count;
    bool http_enabled;
    char http_host[64];
    uint16_t http_port;                 /* 0 with http_enabled: any free port */
    uint32_t lame_duck_duration_ms;     /* lame duck: time to close every client */
    uint32_t lame_duck_grace_period_ms; /* lame duck: wait before the first close */
    /* Monitoring over TLS (https_port, -ms); needs the tls settings. */
    bool https;
    /* Client TLS (tls { } block, --tls*): INFO says tls_required and the
     * handshake follows INFO. The files are loaded by the board. */
    bool tls;
    bool tls_verify; /* demand and verify a client certificate */
    uint32_t tls_timeout_ms;
    char tls_cert_file[NE_TLS_PATH_BYTES];
    char tls_key_file[NE_TLS_PATH_BYTES];
    char tls_ca_file[NE_TLS_PATH_BYTES];
    ne_leaf_options leaf; /* leafnodes { } */
    ne_mqtt_options mqtt; /* mqtt { } */
#if NE_FEATURE_ROUTES
    ne_cluster_options cluster; /* cluster { } */
#endif
    ne_js_options js; /* jetstream { } */
} ne_server_options;

/* Whether account i has JetStream: with JetStream on, $G when no accounts
 * are configured (only $G and the system account exist), otherwise the
 * accounts whose block enables it (nats-server's enableJetStreamAccounts). */
static inline bool ne_js_account_enabled(const ne_server_options *o, uint32_t i)
{
    if (!o->js.enabled || i >= o->account_count || i == o->system_account) {
        return false;
    }
    bool accounts_configured = false;
    for (uint32_t k = 0; k < o->account_count; k++) {
        accounts_configured =
            accounts_configured || (k != NE_ACCOUNT_GLOBAL && k != o->system_account);
    }
    return accounts_configured ? o->accounts[i].js.enabled : i == NE_ACCOUNT_GLOBAL;
}

#endif
