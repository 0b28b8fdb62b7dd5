/* The server: connections, subscriptions, routing, timers.
 *
 * All state lives in one ne_server whose storage the caller provides (a
 * static variable in a board's main, several in a test). The port's event
 * loop drives it:
 *
 *   ne_server_init, ne_server_start
 *   loop: wait at most ne_server_next_timeout_ms(),
 *         ne_server_handle_io(user, readable, writable) for each event,
 *         ne_server_turn_end() once per turn (flushes outbound queues, timers)
 *   ne_server_shutdown
 */
#ifndef NE_SERVER_H
#define NE_SERVER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/ne_chunk.h"
#include "core/ne_log.h"
#include "core/ne_pool.h"
#include "leaf/ne_leaf_types.h"
#include "ne_config.h"
#include "port.h"
#include "proto/ne_proto.h"
#include "server/ne_account.h"
#include "server/ne_perm.h"
#include "server/ne_bcrypt.h"
#include "sublist/ne_sublist.h"

struct ne_json_doc;

#define NE_VERSION "0.1.0"

#if NE_CONN_READ_BUFFER_BYTES < NE_MAX_CONTROL_LINE_BYTES + 64
#error "NE_CONN_READ_BUFFER_BYTES must hold a whole control line"
#endif
#if NE_SHARED_READ_BUFFER_BYTES != 0 && NE_SHARED_READ_BUFFER_BYTES < NE_CONN_READ_BUFFER_BYTES
#error "NE_SHARED_READ_BUFFER_BYTES must be 0 or at least NE_CONN_READ_BUFFER_BYTES"
#endif
#if NE_SHARED_READ_BUFFER_BYTES != 0 && NE_FANOUT_READ_BYTES > NE_SHARED_READ_BUFFER_BYTES
#error "NE_FANOUT_READ_BYTES must be at most NE_SHARED_READ_BUFFER_BYTES"
#endif
#if NE_CHUNK_BYTES < NE_MAX_CONTROL_LINE_BYTES
#error "NE_CHUNK_BYTES must hold a whole control line (a spilled message keeps its subject there)"
#endif
#if (NE_MAX_PAYLOAD_BYTES / NE_CHUNK_BYTES + 2) > NE_CHUNK_COUNT
#error "NE_CHUNK_COUNT must hold at least one maximum payload"
#endif

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
    uint32_t max_subs; /* per connection; 0 = unlimited */
    uint32_t ping_interval_ms;
    uint32_t ping_max;
    uint32_t write_deadline_ms;
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
} ne_server_options;

void ne_server_options_default(ne_server_options *opts);

/* Why a connection was closed: nats-server's wording, shown in /connz. */
typedef enum ne_close_reason {
    NE_CLOSE_NONE = 0,
    NE_CLOSE_CLIENT_CLOSED,
    NE_CLOSE_SERVER_SHUTDOWN,
    NE_CLOSE_PARSE_ERROR,
    NE_CLOSE_PROTOCOL_VIOLATION,
    NE_CLOSE_SLOW_CONSUMER_PENDING,
    NE_CLOSE_SLOW_CONSUMER_DEADLINE,
    NE_CLOSE_STALE,
    NE_CLOSE_MAX_PAYLOAD,
    NE_CLOSE_MAX_CONTROL_LINE,
    NE_CLOSE_READ_ERROR,
    NE_CLOSE_WRITE_ERROR,
    NE_CLOSE_BAD_PROTOCOL_VERSION,
    NE_CLOSE_NO_RESPONDERS_HEADERS,
    NE_CLOSE_MAX_CONNECTIONS,
    NE_CLOSE_AUTH_VIOLATION,
    NE_CLOSE_AUTH_TIMEOUT,
    NE_CLOSE_TLS_HANDSHAKE,
} ne_close_reason;

const char *ne_close_reason_text(ne_close_reason reason);

#define NE_LAME_DUCK_OFF 0
#define NE_LAME_DUCK_GRACE 1   /* listener closed, INFO sent, waiting */
#define NE_LAME_DUCK_CLOSING 2 /* closing clients one by one */
#define NE_LAME_DUCK_DONE 3    /* every client closed */

/* What a connection speaks. */
#define NE_CONN_KIND_CLIENT 0
#define NE_CONN_KIND_HTTP 1
#define NE_CONN_KIND_LEAF 2

/* Monitoring paths counted in /varz http_req_stats. */
#define NE_MON_PATH_COUNT 5

typedef enum ne_handle_tag {
    NE_HANDLE_LISTENER = 1,
    NE_HANDLE_CONN = 2,
} ne_handle_tag;

typedef struct ne_listener {
    uint8_t tag;  /* NE_HANDLE_LISTENER; first member: events carry a pointer to it */
    uint8_t kind; /* NE_CONN_KIND_* of the connections it accepts */
    ne_sock sock;
    uint16_t port;
} ne_listener;

struct ne_conn;

/* A subscription: the sublist entry plus what the server keeps about it. */
typedef struct ne_sub {
    ne_sub_entry entry; /* first member */
    struct ne_conn *conn;
    struct ne_sub *conn_next;
    struct ne_sub *conn_prev;
    uint64_t delivered;
    uint64_t max_msgs; /* 0: no auto-unsubscribe */
    bool withhold;     /* wildcard over a subscribe deny entry (CP-81) */
    uint16_t sid_len;
    char text[NE_SUB_TEXT_BYTES]; /* subject, then queue, then sid */
} ne_sub;

/* A payload larger than the read buffer, assembled in pool chunks. The first
 * chunk starts with the subject and reply, then the payload and its CRLF. */
typedef struct ne_spill {
    ne_chunk *head;
    ne_chunk *tail;
    uint32_t remaining; /* bytes still to receive, CRLF included */
    uint32_t subject_len;
    uint32_t reply_len;
    uint32_t queue_len; /* leaf messages: the queue names after the reply */
    uint32_t hdr_len;
    uint32_t total_len;
    bool active;
} ne_spill;

typedef struct ne_conn {
    uint8_t tag;  /* NE_HANDLE_CONN; first member */
    uint8_t kind; /* NE_CONN_KIND_* */
    bool closing;
    bool flush_before_close;
    bool dirty;
    bool want_write;
    bool read_paused;
    bool connect_received;
    bool verbose;
    bool pedantic;
    bool echo;
    bool headers;
    bool no_responders;
    bool rtt_ping_sent;
    bool first_ping_sent;
    bool first_pong_sent; /* a PING after CONNECT was answered: async INFO may follow */
    int8_t protocol;
    ne_close_reason close_reason;
    struct ne_server *srv;
    ne_sock sock;
    uint64_t cid;
    char ip[46];
    uint16_t port;
    char name[64];
    char lang[16];
    char version[16];
    uint64_t start_wall_ns;
    uint64_t last_in_ms;
    uint64_t last_write_ms;
    uint64_t next_ping_ms;
    uint64_t auth_deadline_ms; /* 0: no deadline (no auth, or authenticated) */
    uint64_t auth_fp;          /* the configured credential it authenticated with; 0: none */
    char nonce[16];            /* sent in INFO when nkey users exist */
    uint32_t pings_out;
    uint64_t rtt_start_ns; /* wall clock when the RTT ping went out, 0 if none */
    uint64_t rtt_ns;
    uint64_t in_msgs;
    uint64_t in_bytes;
    uint64_t out_msgs;
    uint64_t out_bytes;
    uint32_t nsubs;
    ne_sub *subs;
    struct ne_account *acc;    /* the account it is bound to */
    uint16_t perms;            /* NE_PERM_NONE or an index of opts.perms */
    int16_t user_index;        /* of opts.users; -1: no users-list entry */
    struct ne_leaf_link *leaf; /* NE_CONN_KIND_LEAF: the leaf link */
    struct ne_conn *next;      /* active list */
    struct ne_conn *prev;
    struct ne_conn *dirty_next;
    struct ne_conn *close_next;
    struct ne_conn *paused_next;
    /* TLS (ne_server_tls.c): the session, whether its handshake is done,
     * bytes at the head of `out` still to go in clear (INFO), the handshake
     * deadline, and the list of connections whose engine holds decrypted
     * bytes the socket will not announce. */
    ne_tls_session *tls;
    bool tls_done;
    bool tls_retry;
    uint8_t tls_first_byte; /* first byte the peer sent in the handshake */
    bool tls_send_blocked;  /* the socket did not take a whole record */
    uint32_t tls_plain_bytes;
    uint64_t tls_deadline_ms;
    struct ne_conn *tls_retry_next;
    ne_outq out;
    ne_spill spill;
    bool fans_out; /* its last read produced more payload out than bytes in (or none yet) */
    uint32_t rlen; /* valid bytes in rbuf */
    uint8_t rbuf[NE_CONN_READ_BUFFER_BYTES];
} ne_conn;

/* What /connz?state=closed shows about a connection that is gone. */
typedef struct ne_closed_conn {
    uint64_t cid;
    char ip[46];
    uint16_t port;
    char name[64];
    char lang[16];
    char version[16];
    uint64_t start_wall_ns;
    uint64_t stop_wall_ns;
    uint64_t in_msgs, in_bytes, out_msgs, out_bytes;
    uint64_t rtt_ns;
    uint32_t subscriptions; /* held when it closed, as nats-server shows them */
    ne_close_reason reason;
} ne_closed_conn;

typedef struct ne_server_stats {
    uint64_t in_msgs, in_bytes, out_msgs, out_bytes;
    uint64_t slow_consumers;
    uint64_t total_connections;
    uint64_t refused_connections; /* connection pool or max_connections */
    uint64_t subs_refused;        /* subscription or trie pool exhausted */
    uint64_t chunk_reclaims;      /* connections closed to reclaim chunks */
    uint64_t fanout_overflows;    /* matches beyond NE_MAX_FANOUT */
    uint64_t fanout_total;        /* deliveries, for /subsz avg_fanout */
    uint64_t fanout_max;
    uint64_t perm_violations;    /* publish and subscribe refusals */
    uint64_t reply_maps_refused; /* service requests forwarded without a reply */
    uint64_t resp_perms_evicted; /* response permissions forgotten when full */
    uint64_t system_events;      /* $SYS events published */
} ne_server_stats;

typedef struct ne_server {
    ne_server_options opts;
    ne_log log;
    ne_net net;
    char server_id[57];
    uint64_t start_wall_ns;
    uint64_t config_load_wall_ns; /* start, then the last successful reload */
    uint64_t start_ms;
    uint64_t next_cid;
    uint64_t rng;
    uint64_t now_ms; /* the clock at the start of the current loop turn */
    uint64_t next_tick_ms;
    bool started;
    /* Lame duck mode: no new clients, the others closed one by one. */
    uint8_t lame_duck;             /* NE_LAME_DUCK_* */
    bool info_ldm;                 /* INFO lines being written carry "ldm":true */
    uint64_t lame_duck_next_ms;    /* the next step is due */
    uint64_t lame_duck_spacing_ms; /* the longest wait between two closes */
    uint32_t lame_duck_batch;      /* clients closed per step */
    ne_listener client_listener;
    ne_listener http_listener;
    ne_listener leaf_listener;
    ne_server_stats stats;
    uint32_t client_count; /* open client connections (max_connections counts these) */
    uint32_t http_count;   /* open monitoring connections */
    uint32_t leaf_count;   /* open leaf connections */
    uint64_t http_req_stats[NE_MON_PATH_COUNT];

    ne_conn *active; /* every open connection */
    uint32_t active_count;
    ne_conn *dirty_head;     /* connections with output to flush this turn */
    ne_conn *close_head;     /* connections to tear down at the end of the turn */
    ne_conn *paused_head;    /* reads paused until chunks are available */
    ne_conn *tls_retry_head; /* TLS engine holds input to read (ne_server_tls.c) */

    /* TLS engine and configurations (ne_server_set_tls); ops NULL: none. */
    ne_tls tls;
    const ne_tls_config *tls_server_config; /* clients and HTTPS monitoring */
    const ne_tls_config *tls_client_config; /* outbound (leaf remotes), may be NULL */
    uint64_t tls_refused;                   /* sessions refused: pool or region */

    ne_pool conn_pool;
    ne_pool sub_pool;
    ne_chunk_pools chunks;
    ne_trie trie;
    ne_account accounts[NE_MAX_ACCOUNTS]; /* as opts.accounts; [0] is $G */
    uint32_t account_count;
    ne_reply_map reply_maps[NE_MAX_SERVICE_REPLIES];
    ne_resp_perm resp_perms[NE_MAX_RESPONSE_PERMS];
    uint64_t system_event_seq;
    /* One message's MSG line parts and payload, laid out once for all its
     * subscribers (ne_client.c prepare_fast); owner: the message's id. */
    uint64_t scratch_seq;
    uint64_t scratch_owner;
    char deliver_scratch[NE_CHUNK_BYTES];
#if NE_SHARED_READ_BUFFER_BYTES > 0
    /* The shared read buffer (ne_server.c conn_read_shared). Between turns
     * it holds nothing, except while the connection rshared_owner has its
     * reads paused with more unparsed input than its own buffer holds: then
     * bytes [rshared_pos, rshared_len) are that input, and the others read
     * into their own buffers until it is released. */
    ne_conn *rshared_owner;
    uint32_t rshared_pos;
    uint32_t rshared_len;
    uint8_t rshared[NE_SHARED_READ_BUFFER_BYTES];
#endif
    ne_match_result match;
    ne_leaf_state leaf;
    ne_bcrypt_state bcrypt_state; /* Blowfish work area of a password check */

    ne_conn *mon_scratch[NE_MAX_CONNECTIONS]; /* /connz sorting */
    ne_closed_conn closed[NE_CLOSED_CONN_RING];
    uint32_t closed_next;
    uint64_t closed_total;

    NE_POOL_STORAGE(ne_conn, NE_MAX_CONNECTIONS) conn_storage;
    NE_POOL_STORAGE(ne_sub, NE_MAX_SUBSCRIPTIONS) sub_storage;
    NE_POOL_STORAGE(ne_chunk, NE_CHUNK_COUNT) chunk_storage;
    NE_POOL_STORAGE(ne_outref, NE_OUT_REF_COUNT) ref_storage;
} ne_server;

/* Checks opts against the compiled-in maxima; on failure writes a message
 * naming the config/ knob to raise into err and returns NE_ERR_RANGE. */
/* True when clients must authenticate. */
bool ne_server_auth_required(const ne_server *srv);

int ne_server_options_check(const ne_server_options *opts, char *err, size_t err_cap);

int ne_server_init(ne_server *srv, const ne_server_options *opts, const ne_net *net,
                   const ne_log *log);
/* Opens the client listener and logs the start-up lines. */
int ne_server_start(ne_server *srv);
void ne_server_handle_io(ne_server *srv, void *user, bool readable, bool writable);
void ne_server_turn_end(ne_server *srv);
/* Milliseconds until the next timer is due (the loop's wait bound). */
int ne_server_next_timeout_ms(const ne_server *srv);
/* Closes every connection and the listener. */
void ne_server_shutdown(ne_server *srv);

/* Lame duck mode (nats-server's SIGUSR2, inventory CP-70): closes the client
 * listener, sends clients an INFO with "ldm":true, waits the grace period,
 * then closes the clients spread over the rest of lame_duck_duration. Once
 * no client is left, ne_server_finished() is true and the board shuts the
 * server down. Does nothing if already in lame duck mode. */
void ne_server_enter_lame_duck(ne_server *srv);
/* True when lame duck mode has closed every client: time to shut down. */
bool ne_server_finished(const ne_server *srv);

/* Applies new options at run time (a configuration reload, SIGHUP), as
 * nats-server 2.9: authorization (user, password, token, timeout, users,
 * nkeys), max_connections, max_payload, max_control_line, ping_interval,
 * ping_max and write_deadline. Clients whose credential is no longer
 * configured are closed with Authorization Violation; clients beyond a lower
 * max_connections with "maximum connections exceeded". Logs each change
 * ("Reloaded: ..."). A change of any other option refuses the whole reload:
 * NE_ERR_UNSUPPORTED with nats-server's message in err, nothing changed; an
 * invalid set of options: ne_server_options_check's error. */
int ne_server_reload(ne_server *srv, const ne_server_options *opts, char *err, size_t err_cap);
/* The fingerprint of the configured credential a client authenticated with
 * under o: users[user_index], or with -1 the token or single user (0: no
 * authentication). Kept in the connection so that a reload can tell whether
 * it is still configured. */
uint64_t ne_server_auth_fingerprint(const ne_server_options *o, int user_index);
/* After a reload: binds an authenticated client to users[user_index] of the
 * new options (-1: none) and its permissions, and removes the subscriptions
 * these no longer allow, each with nats-server's
 * -ERR 'Permissions Violation for Subscription to "<s>" (sid "<sid>")'. The
 * account stays as it is. */
void ne_client_rebind(ne_conn *conn, int user_index);
/* Logs the static memory reserved, pool by pool. */
void ne_server_log_memory(const ne_server *srv);

/* Gives the server a TLS engine and its configurations (port/mbedtls makes
 * them), before ne_server_start. server_config serves clients when opts.tls
 * and monitoring when opts.https; client_config (may be NULL) is for
 * outbound connections through ne_conn_tls_start_client. */
void ne_server_set_tls(ne_server *srv, const ne_tls *tls, const ne_tls_config *server_config,
                       const ne_tls_config *client_config);

/* Starts TLS in the client role on an outbound connection (leaf remotes):
 * the peer's certificate is verified against the configuration's CA and
 * must match server_name (also sent as SNI). Bytes queued before this call
 * still go out in clear; everything queued after it is held until the
 * handshake completes, then encrypted. Reads return decrypted bytes only.
 * A failed handshake closes the connection with NE_CLOSE_TLS_HANDSHAKE and
 * an error log line saying why. cfg NULL uses srv->tls_client_config.
 * NE_OK, NE_ERR_UNSUPPORTED (no engine or configuration) or NE_ERR_NOMEM
 * (session pool or TLS memory region exhausted; the caller closes). */
int ne_conn_tls_start_client(ne_conn *conn, const ne_tls_config *cfg, const char *server_name);

/* Internal to src/server (shared between its files). */
void ne_conn_close(ne_conn *conn, ne_close_reason reason, const char *err_text);
void ne_conn_mark_dirty(ne_conn *conn);
/* A PONG arrived: no ping outstanding; the round trip of a timed PING. */
void ne_conn_pong_received(ne_conn *conn);
/* Writes what the socket takes now, before the end of the turn. */
int ne_conn_flush_now(ne_conn *conn);
int ne_conn_send(ne_conn *conn, const void *bytes, size_t len);
void ne_conn_process_input(ne_conn *conn);
/* Parses and handles the protocol in buf[0, len) for conn, in place; returns
 * the bytes consumed. What is left is an incomplete message that fits the
 * connection's own buffer, unless the connection closed or paused its reads. */
uint32_t ne_conn_process_bytes(ne_conn *conn, uint8_t *buf, uint32_t len);
void ne_client_start(ne_conn *conn);
/* Compares two secrets in time that does not depend on where they differ. */
bool ne_server_secret_equal(const char *a, const char *b);
/* A client's password or token against a configured one: bcrypt when the
 * configured value is a bcrypt hash (nats-server's rule), else in clear. */
bool ne_server_secret_matches(ne_server *srv, const char *configured, const char *given);
/* Reads the CONNECT credential `key` (user, pass, auth_token, nkey, sig)
 * into buf of cap bytes. True when it is absent (buf empty) or read whole;
 * false when it is present but not a string or too long for buf: the caller
 * refuses the connection rather than compare a prefix. */
bool ne_server_read_credential(const struct ne_json_doc *doc, const char *key, char *buf,
                               size_t cap);
/* A configured password or token that looks like bcrypt must be a whole hash
 * of a cost natsedge accepts: NE_OK, or an error with a message in err. */
int ne_server_check_secret(const char *what, const char *secret, char *err, size_t err_cap);
/* A client connection is going away: its account, response permissions and
 * the system account's DISCONNECT event. */
void ne_client_closed(ne_conn *conn);
/* Publishes a message from the server itself into an account (system
 * events): no publisher, no permissions, no imports. */
void ne_server_publish_internal(ne_server *srv, uint8_t account, const char *subject,
                                const char *payload, size_t len);
/* Takes a connection from the pool for a socket (accepted or connected),
 * links it in and attaches it to the event loop; NULL when the pool is
 * empty (the socket is left to the caller) or attaching failed. */
ne_conn *ne_server_conn_new(ne_server *srv, ne_sock sock, uint8_t kind, const char *ip,
                            uint16_t port);
/* Writes the INFO line for a client (conn may be NULL for a refused one). */
size_t ne_client_info(ne_server *srv, const ne_conn *conn, const char *client_ip, char *out,
                      size_t cap);
/* Pauses reads of a connection until chunks are available again. */
void ne_conn_pause_reads(ne_conn *conn);
uint64_t ne_server_random(ne_server *srv);
/* Closes the connection holding the most unsent bytes (other than `except`)
 * to return its chunks and references to the pools; false if none holds any. */
bool ne_server_reclaim(ne_server *srv, ne_conn *except);
/* TLS on the connection path (ne_server_tls.c). */
int ne_conn_tls_accept(ne_conn *conn);
int ne_conn_tls_flush(ne_conn *conn);
void ne_conn_tls_read(ne_conn *conn);
void ne_conn_tls_release(ne_conn *conn);
bool ne_conn_tls_timer(ne_conn *conn, uint64_t now);
void ne_server_tls_turn_end(ne_server *srv);

#endif
