/* Connections: the object every peer of the broker is, and the layer that
 * moves its bytes (floor 3, docs/architecture.md).
 *
 * A connection is three pieces:
 *   - the header (ne_conn, this file): its kind and the kind's state, its
 *     identity (cid), statistics, the outbound queue, keepalive, and the
 *     fields the router owns (account, permissions, subscriptions);
 *   - the I/O part (ne_conn_io), from its own pool, for connections with a
 *     socket: the socket, TLS, the read buffer, a large payload being
 *     assembled; internal clients have none;
 *   - the kind's own state (conn->state), from the kind's pool.
 *
 * What a connection speaks is its kind: one ops table (ne_conn_ops) per kind,
 * registered with the layer (ne_conns_kind). This layer calls input, timer
 * and closed; the router (floor 4) calls deliver, deliver_batch,
 * may_publish and may_forward; monitoring calls describe. Nothing here or in
 * the router tests what a connection is.
 *
 * One thread: everything runs in the port's loop (port.h ne_loop). Output is
 * queued (ne_conn_send and friends) and written once per turn, gathered (a
 * connection whose queue was empty before a read writes right after it);
 * closes are deferred to the end of the turn, so a connection and its
 * subscriptions stay valid for the whole turn that closed it. */
#ifndef NE_CONN_H
#define NE_CONN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "conf/ne_options.h"
#include "core/ne_chunk.h"
#include "core/ne_ip.h"
#include "core/ne_log.h"
#include "core/ne_pool.h"
#include "ne_config.h"
#include "port.h"

#if NE_CONN_READ_BUFFER_BYTES < NE_MAX_CONTROL_LINE_BYTES + 64
#error "NE_CONN_READ_BUFFER_BYTES must hold a whole control line"
#endif
#if NE_SHARED_READ_BUFFER_BYTES != 0 && NE_SHARED_READ_BUFFER_BYTES < NE_CONN_READ_BUFFER_BYTES
#error "NE_SHARED_READ_BUFFER_BYTES must be 0 or at least NE_CONN_READ_BUFFER_BYTES"
#endif
#if NE_SHARED_READ_BUFFER_BYTES != 0 && NE_FANOUT_READ_BYTES > NE_SHARED_READ_BUFFER_BYTES
#error "NE_FANOUT_READ_BYTES must be at most NE_SHARED_READ_BUFFER_BYTES"
#endif
#if NE_PARTIAL_INPUTS < 1 || NE_PARTIAL_INPUTS > NE_CONN_POOL_SIZE
#error "NE_PARTIAL_INPUTS must be within 1..NE_CONN_POOL_SIZE"
#endif
#if NE_CONN_PEER_NAMES < 1
#error "NE_CONN_PEER_NAMES must be at least 1"
#endif
#if NE_CONN_PARKING && !NE_CONN_PEER_BINARY
#error "NE_CONN_PARKING needs NE_CONN_PEER_BINARY (a parked record keeps the address in binary)"
#endif
#if NE_TLS_MAX_SESSIONS < 1
#error "NE_TLS_MAX_SESSIONS must be at least 1"
#endif
#if NE_CONN_READ_BUFFERS < 1 || NE_CONN_READ_BUFFERS > NE_CONN_POOL_SIZE
#error "NE_CONN_READ_BUFFERS must be within 1..NE_CONN_POOL_SIZE"
#endif
#if NE_CHUNK_BYTES < NE_MAX_CONTROL_LINE_BYTES
#error "NE_CHUNK_BYTES must hold a whole control line (a spilled message keeps its subject there)"
#endif
#if (NE_MAX_PAYLOAD_BYTES / NE_CHUNK_BYTES + 2) > NE_CHUNK_COUNT
#error "NE_CHUNK_COUNT must hold at least one maximum payload"
#endif

struct ne_conn;
struct ne_conns;
struct ne_parked;
/* The router's types (floor 4): the kinds' delivery ops take them. */
struct ne_msg;
struct ne_sub;
struct ne_account;
struct ne_batch;

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
    NE_CLOSE_SLOW_PRODUCER_DEADLINE, /* natsedge: an incomplete message took too long */
    NE_CLOSE_SLOW_PRODUCER_STALLED,  /* natsedge: a stalled message cut to make room */
    NE_CLOSE_DUPLICATE_CLIENT_ID,    /* an MQTT client id connected again (takeover) */
    NE_CLOSE_WRONG_PORT,
    NE_CLOSE_MAX_SUBSCRIPTIONS,
    NE_CLOSE_DUPLICATE_ROUTE,
    NE_CLOSE_CLUSTER_NAME_CONFLICT,
} ne_close_reason;

/* Where a peer connection sits (ne_conn.peer_role), set by its kind once its
 * handshake is done and read by the other peer kinds, which decide from it
 * whether interest and messages that arrived on it go on to their own peers
 * (nothing below the kinds reads it):
 *   NONE        clients and internal clients: everything goes everywhere;
 *   DOWNSTREAM  a leaf we are the hub of: like a client of ours;
 *   UPSTREAM    a hub we are a leaf (spoke) of: its interest and messages
 *               stay with this node's clients and its own leafs;
 *   CLUSTER     another node of our cluster (a route): its interest and
 *               messages reach this node's clients and the leafs it is the
 *               hub of, never another node of the cluster (a full mesh). */
#define NE_PEER_NONE 0
#define NE_PEER_DOWNSTREAM 1
#define NE_PEER_UPSTREAM 2
#define NE_PEER_CLUSTER 3

const char *ne_close_reason_text(ne_close_reason reason);

/* What monitoring and system events show of a connection (its kind fills
 * it: describe op). Strings are never NULL; "" when unknown. */
typedef struct ne_conn_desc {
    const char *kind;        /* "Client", "Leafnode" (/connz kind, events) */
    const char *type;        /* "nats", "mqtt", "" */
    const char *name;        /* CONNECT name, the leaf's server name */
    const char *lang;        /* CONNECT lang */
    const char *version;     /* CONNECT version */
    const char *user;        /* the user it authenticated as, "" */
    const char *account;     /* the account it is bound to */
    const char *mqtt_client; /* an MQTT client's identifier, "" otherwise */
    /* The connection whose subscriptions monitoring shows for this one
     * (an MQTT client's session holds them); NULL: its own. */
    const struct ne_conn *subs_of;
    bool counted; /* counted in /connz and /varz connections */
} ne_conn_desc;

/* One ops table per kind. A NULL entry means "not this kind's business":
 * deliver NULL never matches (no subscriptions), may_publish NULL allows,
 * may_forward NULL refuses, timer/closed NULL do nothing. */
typedef struct ne_conn_ops {
    /* Parses and handles input in buf[0, len); returns the bytes consumed.
     * What is left is kept for the next read (it must fit the connection's
     * own buffer unless the connection closed or paused its reads). */
    uint32_t (*input)(struct ne_conn *conn, uint8_t *buf, uint32_t len);
    /* The connection's timers (every NE_TICK_INTERVAL_MS): pings,
     * handshake and authentication deadlines. */
    void (*timer)(struct ne_conn *conn, uint64_t now_ms);
    /* The connection is being torn down; its subscriptions are already gone.
     * The kind releases its state here. */
    void (*closed)(struct ne_conn *conn);
    /* Router: one message for one of the connection's subscriptions; false
     * when it was not queued (closing, no room). On success *payload_bytes
     * is the payload queued (headers included only if they were sent), which
     * the router counts. */
    bool (*deliver)(struct ne_conn *conn, struct ne_sub *sub, struct ne_msg *msg,
                    uint32_t *payload_bytes);
    /* Router: one message for a peer (leaf, route) naming the queue groups
     * it was picked for (LMSG/RMSG), for every matching subscription of the
     * peer at once. */
    bool (*deliver_batch)(struct ne_conn *conn, struct ne_msg *msg, const struct ne_batch *batch,
                          uint32_t *payload_bytes);
    /* Router: may this connection publish msg? False refuses it (the kind
     * answers the publisher itself: -ERR, PUBACK refusal...). */
    bool (*may_publish)(struct ne_conn *conn, struct ne_msg *msg);
    /* Router: may a message published by `pub` go to this peer? */
    bool (*may_forward)(struct ne_conn *conn, const struct ne_conn *pub, const struct ne_msg *msg);
    /* Monitoring: what /connz and system events show of it. */
    void (*describe)(const struct ne_conn *conn, ne_conn_desc *out);
    /* An internal client's handler: consumes what its deliveries queued on
     * conn->out. Called at the end of the turn, never inside routing, so it
     * may publish; it leaves what it did not take for the next turn. */
    void (*run)(struct ne_conn *conn);
    /* Parking (NE_CONN_PARKING, ne_parked); NULL: the kind's connections
     * never park. park: the layer finds the connection idle (nothing queued,
     * nothing unparsed, no TLS, no subscriptions of its own); the kind says
     * whether it is idle too and if so writes what it must keep into
     * state[NE_PARKED_STATE_BYTES] and lets go of its own state, keeping
     * what it let go of reserved; false changes nothing. */
    bool (*park)(struct ne_conn *conn, uint8_t *state);
    /* The connection is back (header and I/O part as they were): the kind
     * takes its state back from what park wrote. Cannot fail. */
    void (*unpark)(struct ne_conn *conn, const uint8_t *state);
    /* Whether a parked connection's timer op must run at now_ms (it is
     * unparked for it, and parked again if it stays idle). */
    bool (*parked_due)(const struct ne_parked *p, uint64_t now_ms);
    /* For monitoring: builds in buf[cap] a state for conn (a view of a
     * parked connection, read-only) that describe reads as the kind's. */
    void (*parked_view)(const struct ne_parked *p, struct ne_conn *conn, void *buf, size_t cap);
} ne_conn_ops;

/* A kind as the layer knows it: a name, its ops and its context. */
typedef struct ne_conn_kind {
    const char *name; /* "Client", "Leafnode", "HTTP", "Internal": logs */
    /* The log prefix's id label: "cid" (clients), "lid" (leafs). NULL for
     * a kind whose connections take no id from the server's counter (HTTP
     * monitoring, as in nats-server, where only clients, leafs, routes and
     * internal clients are numbered): their cid is 0. */
    const char *log_id;
    const ne_conn_ops *ops;
    void *ctx;      /* the kind's own context (its options, its state pool) */
    uint32_t count; /* open connections of this kind */
    bool client;    /* its connections are clients: max_connections counts them */
} ne_conn_kind;

/* A payload larger than the read buffer, assembled in pool chunks taken as
 * its bytes arrive (router/ne_frame.c, mqtt/ne_mqtt.c). The first chunk
 * starts with the subject, the reply and any queue names, then the payload
 * and its CRLF. Only a connection receiving such a message holds one, from
 * the layer's pool (NE_PARTIAL_INPUTS), from ne_conns_partial_admit to
 * ne_conn_spill_end. Fields widest first. */
typedef struct ne_spill {
    ne_chunk *head;
    ne_chunk *tail;
    uint64_t start_ms;  /* its control line was read */
    uint64_t last_ms;   /* its last bytes were read */
    uint32_t chunks;    /* the whole chain, counted in ne_conns.partial_chunks */
    uint32_t promised;  /* chunks of the chain not taken yet */
    uint32_t remaining; /* bytes still to receive, CRLF included */
    uint32_t subject_len;
    uint32_t reply_len;
    uint32_t queue_len; /* leaf messages: the queue names after the reply */
    uint32_t hdr_len;
    uint32_t total_len;
} ne_spill;

/* TLS on a connection (ne_conn_tls.c): the engine's session, whether its
 * handshake is done, bytes at the head of the queue still to go in clear
 * (INFO), the handshake deadline, and the link in the list of connections
 * whose engine holds decrypted bytes the socket will not announce. Only TLS
 * connections hold one, from the layer's pool (NE_TLS_MAX_SESSIONS, the
 * engine's sessions). Fields widest first. */
typedef struct ne_conn_tls {
    ne_tls_session *session;
    struct ne_conn *retry_next;
    uint64_t deadline_ms;
    uint32_t plain_bytes;
    bool done;
    bool retry;
    bool send_blocked;  /* the socket did not take a whole record */
    uint8_t first_byte; /* first byte the peer sent in the handshake */
} ne_conn_tls;

/* The host name an outbound connection was made to (a leaf remote's or a
 * route's URL names a host, not an address), kept as given for monitoring
 * and logs: from the layer's pool (NE_CONN_PEER_NAMES); accepted
 * connections always have a numeric address and hold none. */
#define NE_CONN_PEER_NAME_BYTES 128
typedef struct ne_conn_peer_name {
    char text[NE_CONN_PEER_NAME_BYTES];
} ne_conn_peer_name;

/* The I/O part: only connections with a socket have one. What only some
 * connections need lives behind a pointer, from a pool of its own: the read
 * buffer (input left unparsed), the incomplete message (a payload larger
 * than the read buffer), the TLS state. Fields widest first. */
typedef struct ne_conn_io {
    ne_sock sock;
#if NE_CONN_PARKING
    struct ne_parked *parked; /* its parked record (a kind that parks), NULL otherwise */
#endif
    uint64_t last_in_ms;
    uint64_t last_write_ms;
    struct ne_conn *paused_next;
    ne_conn_tls *tls; /* NULL: a plain connection */
    ne_spill *spill;  /* NULL: no incomplete message being assembled */
    /* Input the kind left unparsed (an incomplete packet or line), kept in
     * a read buffer (NE_CONN_READ_BUFFER_BYTES) from the layer's pool while
     * there is any: an idle connection holds none. rbuf is NULL when rlen
     * is 0 and no read is under way. */
    uint8_t *rbuf;
#if NE_CONN_PEER_BINARY
    ne_conn_peer_name *peer_name; /* NULL: the peer's address is `peer` */
#endif
    uint32_t rlen;  /* valid bytes in rbuf */
    int last_error; /* the port's error that ended a read or write, NE_OK if none */
    uint16_t port;
#if NE_CONN_PEER_BINARY
    ne_ip_addr peer; /* the peer's address in binary (ne_conn_peer_text shows it) */
#else
    char peer_text[NE_IP_TEXT_BYTES]; /* the peer's address or host name as given */
#endif
    bool want_write;
    bool read_paused;
    /* Its input filled a congested service's queue: held with its reads
     * paused until no service is congested at a turn's end. */
    bool held;
    bool fans_out;    /* its last read produced more payload out than bytes in (or none yet) */
    bool quiet_close; /* its kind logs its closing itself: no "connection closed" line */
} ne_conn_io;

/* One read buffer of the pool (ne_conns.rbuf_pool). */
typedef struct ne_conn_rbuf {
    uint8_t bytes[NE_CONN_READ_BUFFER_BYTES];
} ne_conn_rbuf;

typedef enum ne_handle_tag {
    NE_HANDLE_LISTENER = 1,
    NE_HANDLE_CONN = 2,
    NE_HANDLE_PARKED = 3,
} ne_handle_tag;

/* A connection of a kind that parks (ops park), from its accept to its
 * close: the socket's handle on the loop, and while the connection is idle
 * and parked (conn NULL) all there is of it. Its header, I/O part and
 * kind's state go back to their pools then, and stay reserved for it
 * (ne_conns.parked): input, a due timer (ops parked_due), a close or the
 * kind itself (ne_conns_unpark) bring them back. Parked connections stay
 * counted in their kind (ne_conn_kind.count) and in /connz (a view built
 * from the record, ne_conns_parked_view). 152 B on a 64-bit host; fields
 * placed so that none pads. */
#define NE_PARKED_STATE_BYTES 44
typedef struct ne_parked {
    uint8_t tag; /* NE_HANDLE_PARKED; first member: events carry a pointer to it */
    uint8_t kind;
    uint8_t publish_checks;
    bool fans_out;
    uint16_t perms;
    int16_t user_index;
    /* Offset 8, past the pool's link in a free slot: ne_conns walks the
     * slots ever handed out and takes those in use. */
    bool in_use;
    ne_ip_addr peer;
    uint16_t port;
    uint8_t state[NE_PARKED_STATE_BYTES]; /* the kind's (ops park, unpark) */
    ne_sock sock;
    struct ne_conn *conn; /* NULL while parked */
    uint64_t cid;
    uint64_t start_wall_ns;
    uint64_t last_in_ms;
    uint64_t in_msgs;
    uint64_t in_bytes;
    uint64_t out_msgs;
    uint64_t out_bytes;
    struct ne_account *acc;
} ne_parked;

/* Per-kind refusal of a new connection: NULL accepts; otherwise the text
 * sent before the socket is closed (the kind's own wording). */
typedef struct ne_listener {
    uint8_t tag; /* NE_HANDLE_LISTENER; first member: events carry a pointer to it */
    uint8_t kind;
    ne_sock sock;
    uint16_t port;
    /* Called for each accepted connection (the kind sends its greeting);
     * the connection may be closed by it. */
    void (*accepted)(void *ctx, struct ne_conn *conn);
    /* Called when no connection can be had (pool or limit): the kind may
     * answer on the raw socket before it is closed (INFO and -ERR). */
    void (*refused)(void *ctx, ne_sock sock, const char *ip, uint16_t port);
    /* Whether one more connection is allowed (the kind's own limit). */
    bool (*admit)(void *ctx);
    void *ctx;
} ne_listener;

/* When the router asks a publisher's kind (may_publish) about a message:
 * the kind lowers it while it has nothing to check, so that the common
 * publish costs no call. */
#define NE_PUBLISH_CHECK_ALWAYS 0 /* every message (the default) */
#define NE_PUBLISH_CHECK_REPLY 1  /* messages with a reply subject only */
#define NE_PUBLISH_CHECK_NEVER 2

typedef struct ne_conn {
    uint8_t tag;  /* NE_HANDLE_CONN; first member */
    uint8_t kind; /* index in the layer's kind table */
    bool closing;
    bool flush_before_close;
    bool dirty;
    bool no_echo;           /* router: not delivered its own messages (CONNECT echo:false) */
    uint8_t publish_checks; /* NE_PUBLISH_CHECK_*: which messages its kind's may_publish sees */
    uint8_t peer_role;      /* NE_PEER_* */
    ne_close_reason close_reason;
    struct ne_conns *set;
    ne_conn_io *io; /* NULL: an internal client */
    void *state;    /* the kind's state */
    uint64_t cid;
    uint64_t start_wall_ns;
    /* Keepalive of the NATS-family kinds (ne_conn_ping_timer). */
    uint64_t next_ping_ms;
    uint32_t pings_out;
    bool first_ping_sent;
    uint64_t rtt_start_ns; /* wall clock when the RTT ping went out, 0 if none */
    uint64_t rtt_ns;
    uint64_t in_msgs;
    uint64_t in_bytes;
    uint64_t out_msgs;
    uint64_t out_bytes;
    /* The router's (floor 4): what the connection may do and what it listens to. */
    struct ne_account *acc;
    uint16_t perms;     /* NE_PERM_NONE or an index of opts.perms */
    int16_t user_index; /* of opts.users; -1: no users-list entry */
    uint32_t nsubs;
    uint32_t trie_nodes; /* trie nodes its subscriptions created less those freed */
    uint32_t announced;  /* the interest observers' entries this connection's subscriptions hold */
    struct ne_sub *subs;
    struct ne_conn *next; /* active list */
    struct ne_conn *prev;
    struct ne_conn *dirty_next; /* the dirty list, or the internal list for internal clients */
    struct ne_conn *close_next;
    ne_outq out;
} ne_conn;

/* What /connz?state=closed shows about a connection that is gone. */
typedef struct ne_closed_conn {
    uint64_t cid;
    const char *kind; /* the describe op's texts (string constants) */
    const char *type;
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
#if NE_FEATURE_MQTT
    char mqtt_client[NE_MQTT_CLIENT_ID_BYTES];
#endif
} ne_closed_conn;

typedef struct ne_conn_stats {
    uint64_t total_connections;   /* counted connections ever accepted */
    uint64_t refused_connections; /* connection pool or a kind's limit */
    uint64_t slow_consumers;
    uint64_t chunk_reclaims; /* connections closed to reclaim chunks */
    uint64_t tls_refused;    /* sessions refused: pool or region */
    uint64_t slow_producers; /* closed for an incomplete message (stalled or late) */
} ne_conn_stats;

/* Who this server is: shown in INFO, monitoring and system events. */
typedef struct ne_identity {
    char server_id[57];
    uint64_t start_wall_ns;
    uint64_t config_load_wall_ns; /* start, then the last successful reload */
} ne_identity;

/* Connection headers: sockets (clients, and the reserved slots of
 * monitoring and leafs: NE_CONN_POOL_SIZE) and internal clients. Every
 * walk of the active list is bounded by it. */
#define NE_MAX_CONN_HEADERS ((uint32_t)NE_CONN_POOL_SIZE + NE_MAX_INTERNAL_CLIENTS)

#if NE_PARTIAL_INPUT_CHUNKS < NE_MAX_MESSAGE_CHUNKS || NE_PARTIAL_INPUT_CHUNKS > NE_CHUNK_COUNT
#error "NE_PARTIAL_INPUT_CHUNKS must hold one largest message and fit in NE_CHUNK_COUNT"
#endif

#define NE_CONN_MAX_KINDS 8
#define NE_CONN_MAX_LISTENERS 8

/* The connection layer of one server. The storage is the caller's (the
 * server embeds it); ne_conns_init sets it up. */
typedef struct ne_conns {
    ne_identity id;
    const ne_server_options *opts;
    const ne_log *log;
    ne_net net;
    uint64_t now_ms; /* the clock at the start of the current loop turn */
    uint64_t next_cid;
    ne_conn_stats stats;
    /* Another layer's counter of payload bytes delivered (the router's),
     * read to tell a fan-out read from a plain one; may be NULL. */
    const uint64_t *out_bytes_counter;

    ne_conn_kind kinds[NE_CONN_MAX_KINDS];
    uint32_t kind_count;
    ne_listener *listeners[NE_CONN_MAX_LISTENERS];
    uint32_t listener_count;

    ne_conn *active; /* every open connection */
    uint32_t active_count;
    uint32_t internal_count; /* internal clients, at most NE_MAX_INTERNAL_CLIENTS */
    ne_conn *dirty_head;     /* connections with output to flush this turn */
    ne_conn *close_head;     /* connections to tear down at the end of the turn */
    ne_conn *paused_head;    /* reads paused until chunks are available */
    /* A service's request queue is above its high-water mark. The
     * connections whose input fed it while it was (ne_conn_io.held) stop
     * having their input parsed (the bytes stay in their read buffer and
     * the socket) until a turn ends with no service congested; the others
     * go on. Cleared before the internal clients run; a service still
     * above its mark afterwards raises it again. */
    bool congested;
    /* The connection whose input is being parsed (NULL between inputs):
     * what a congested service holds back. */
    struct ne_conn *reading;
    ne_conn *tls_retry_head; /* TLS engine holds input to read (ne_conn_tls.c) */
    ne_conn *internal_head;  /* internal clients with deliveries to handle this turn */
    /* The subscriptions the connection being torn down held, counted before
     * the teardown hook removed them (ne_conns_record_closed reads it). */
    uint32_t teardown_subs;
    /* Called with each connection torn down, after the kind's closed op
     * (the router removes its subscriptions there). */
    void (*teardown)(void *ctx, ne_conn *conn);
    void *teardown_ctx;

    /* TLS engine and configurations (ops NULL: none). */
    ne_tls tls;
    const ne_tls_config *tls_server_config; /* clients and HTTPS monitoring */
    const ne_tls_config *tls_client_config; /* outbound (leaf remotes), may be NULL */

    ne_closed_conn closed[NE_CLOSED_CONN_RING];
    uint32_t closed_next;
    uint64_t closed_total;

    ne_pool conn_pool;
    ne_pool io_pool;
    ne_pool rbuf_pool;  /* read buffers (NE_CONN_READ_BUFFERS), held while input is unparsed */
    ne_pool spill_pool; /* incomplete messages (NE_PARTIAL_INPUTS) */
#if NE_CONN_PARKING
    ne_pool parked_pool; /* parked records, one per connection of a kind that parks */
    uint32_t parked;     /* connections parked now: each holds an I/O part and a header reserved */
    /* Internal clients that kinds let go of with their parked connections
     * (ne_conn_internal_park), reserved within NE_MAX_INTERNAL_CLIENTS. */
    uint32_t internal_reserved;
#endif
    ne_pool tls_pool; /* TLS states (NE_TLS_MAX_SESSIONS) */
#if NE_CONN_PEER_BINARY
    ne_pool name_pool; /* host names of outbound connections (NE_CONN_PEER_NAMES) */
#endif
    ne_chunk_pools chunks;
    uint32_t partial_chunks; /* promised to or held by incomplete messages */
#if NE_SHARED_READ_BUFFER_BYTES > 0
    /* The shared read buffer (ne_conn.c conn_read_shared). Between turns
     * it holds nothing, except while the connection rshared_owner has its
     * reads paused with more unparsed input than its own buffer holds: then
     * bytes [rshared_pos, rshared_len) are that input, and the others read
     * into their own buffers until it is released. */
    ne_conn *rshared_owner;
    uint32_t rshared_pos;
    uint32_t rshared_len;
    uint8_t *rshared; /* NE_SHARED_READ_BUFFER_BYTES, in the storage */
#endif
} ne_conns;

/* Storage of the layer's pools, kept apart so that the server can place it
 * last (it is large and stays out of the resident set until used). */
typedef struct ne_conns_storage {
    NE_POOL_STORAGE(ne_conn, NE_MAX_CONN_HEADERS) conn;
    NE_POOL_STORAGE(ne_conn_io, NE_CONN_POOL_SIZE) io;
    NE_POOL_STORAGE(ne_conn_rbuf, NE_CONN_READ_BUFFERS) rbuf;
    NE_POOL_STORAGE(ne_spill, NE_PARTIAL_INPUTS) spill;
#if NE_CONN_PARKING
    NE_POOL_STORAGE(ne_parked, NE_CONN_POOL_SIZE) parked;
#endif
    NE_POOL_STORAGE(ne_conn_tls, NE_TLS_MAX_SESSIONS) tls;
#if NE_CONN_PEER_BINARY
    NE_POOL_STORAGE(ne_conn_peer_name, NE_CONN_PEER_NAMES) name;
#endif
    NE_POOL_STORAGE(ne_chunk, NE_CHUNK_COUNT) chunk;
    NE_POOL_STORAGE(ne_outref, NE_OUT_REF_COUNT) ref;
#if NE_SHARED_READ_BUFFER_BYTES > 0
    uint8_t rshared[NE_SHARED_READ_BUFFER_BYTES];
#endif
} ne_conns_storage;

/* How often the connection timers (pings, write deadline) are examined. */
#define NE_TICK_INTERVAL_MS 100u

void ne_conns_init(ne_conns *set, ne_conns_storage *storage, const ne_server_options *opts,
                   const ne_net *net, const ne_log *log);
/* Registers a kind; returns its index (the kind field of its connections).
 * log_id NULL: the kind's connections are not numbered (cid 0). */
uint8_t ne_conns_kind(ne_conns *set, const char *name, const char *log_id, const ne_conn_ops *ops,
                      void *ctx);
/* Marks a kind's connections as clients (NATS, MQTT): max_connections
 * counts them together (ne_conns_client_count). */
void ne_conns_kind_is_client(ne_conns *set, uint8_t kind);
/* Open connections of every client kind. */
uint32_t ne_conns_client_count(const ne_conns *set);
/* Opens a listener on host:port for a kind and attaches it to the loop. */
int ne_conns_listen(ne_conns *set, ne_listener *listener, const char *host, uint16_t port);
void ne_conns_unlisten(ne_conns *set, ne_listener *listener);

/* Takes a connection of `kind` for a socket (accepted or connected): the
 * header and the I/O part, linked in and attached to the loop. `ip` is the
 * peer's numeric address as text (kept in binary) or, for an outbound
 * connection, the host name it was made to (kept in a slot of
 * NE_CONN_PEER_NAMES; with NE_CONN_PEER_BINARY 0 both are kept as text in
 * the I/O part, at most NE_IP_TEXT_BYTES - 1 bytes). NULL when a pool is
 * empty or the name is longer than that (the socket is left to the caller). */
ne_conn *ne_conn_new(ne_conns *set, uint8_t kind, ne_sock sock, const char *ip, uint16_t port);
/* The peer's address (or the host name an outbound connection was made
 * to) as text: written into buf[cap] (NE_IP_TEXT_BYTES holds any address)
 * or the connection's own copy of the text, valid while the connection
 * lasts; "" for an internal client, or an address that does not fit. */
#if NE_CONN_PEER_BINARY
const char *ne_conn_peer_text(const ne_conn *conn, char *buf, size_t cap);
#else
static inline const char *ne_conn_peer_text(const ne_conn *conn, char *buf, size_t cap)
{
    (void)buf;
    (void)cap;
    return conn->io != NULL ? conn->io->peer_text : "";
}
#endif
/* An internal client: a header without a socket, whose deliveries queue for
 * its kind's handler. NULL when NE_MAX_INTERNAL_CLIENTS are open. */
ne_conn *ne_conn_new_internal(ne_conns *set, uint8_t kind);

#if NE_CONN_PARKING
/* Brings a parked connection back (its header, I/O part and kind's state,
 * as they were); it is p->conn from then on, and parks again when it is
 * idle after its next events. Never fails (what it needs is reserved). */
ne_conn *ne_conns_unpark(ne_conns *set, ne_parked *p);
/* The next parked connection of `kind`: *cursor is 0 to start. NULL at the
 * end. Parking or unparking others during the walk is allowed. */
ne_parked *ne_conns_parked_next(ne_conns *set, uint8_t kind, uint32_t *cursor);
/* A parked connection as monitoring reads an ordinary one: a header and an
 * I/O part built from the record, and the kind's state built by its
 * parked_view op, in the caller's storage. Read-only, and only while the
 * record stays parked. */
#define NE_CONN_VIEW_STATE_BYTES 320
typedef struct ne_conn_view {
    ne_conn conn;
    ne_conn_io io;
    union {
        void *align;
        uint8_t bytes[NE_CONN_VIEW_STATE_BYTES];
    } state;
} ne_conn_view;
const ne_conn *ne_conns_parked_view(ne_conns *set, const ne_parked *p, ne_conn_view *v);
/* An idle internal client (nothing queued, no subscriptions, not closing)
 * goes back to the pool at once, its place kept among
 * NE_MAX_INTERNAL_CLIENTS for ne_conn_internal_unpark: for a kind that
 * lets go of one with a connection it parks. */
void ne_conn_internal_park(ne_conn *conn);
/* Takes one of the places kept by ne_conn_internal_park back: a new
 * internal client of `kind` (never NULL). */
ne_conn *ne_conn_internal_unpark(ne_conns *set, uint8_t kind);
#endif

/* The kind a connection speaks: its ops table and the kind's context. */
static inline const ne_conn_kind *ne_conn_kind_of(const ne_conn *conn)
{
    return &conn->set->kinds[conn->kind];
}
/* What the connection's kind says of it (describe op), every field set:
 * "" or NULL where the kind says nothing. */
void ne_conn_describe(const ne_conn *conn, ne_conn_desc *out);

static inline bool ne_conn_is_internal(const ne_conn *conn)
{
    return conn->io == NULL;
}

/* Closes at the end of the turn; err_text (may be NULL) goes out first as
 * -ERR '<text>'. */
void ne_conn_close(ne_conn *conn, ne_close_reason reason, const char *err_text);
/* Closes at the end of the turn after queuing len bytes of the kind's own
 * (an MQTT DISCONNECT or CONNACK; len 0: none): everything queued is
 * written first, as far as the socket takes it. */
void ne_conn_close_after(ne_conn *conn, ne_close_reason reason, const void *bytes, size_t len);
/* Puts the connection on the turn's list of output to write. */
void ne_conn_dirty(ne_conn *conn);
static inline void ne_conn_mark_dirty(ne_conn *conn)
{
    if (!conn->dirty) {
        ne_conn_dirty(conn);
    }
}

/* Queues len bytes, whole or not at all. When the shared pools are
 * exhausted the slowest consumer is closed to reclaim chunks and the append
 * is retried; if that does not help, this connection is closed as a slow
 * consumer and NE_ERR_NOMEM returned. */
int ne_conn_send(ne_conn *conn, const void *bytes, size_t len);
/* Drops everything queued and not yet written (a response that could not be
 * queued whole is not sent in part). */
void ne_conn_discard_output(ne_conn *conn);
/* Room for len contiguous bytes (len <= NE_CHUNK_BYTES) at the tail of the
 * queue, reclaiming as ne_conn_send does; NULL (and the connection closed
 * as a slow consumer) when there is none. Commit with ne_conn_commit. */
uint8_t *ne_conn_reserve_slow(ne_conn *conn, size_t len);
static inline uint8_t *ne_conn_reserve(ne_conn *conn, size_t len)
{
    uint8_t *dst = ne_outq_reserve(&conn->out, &conn->set->chunks, len);
    return dst != NULL ? dst : ne_conn_reserve_slow(conn, len);
}
static inline void ne_conn_commit(ne_conn *conn, size_t len)
{
    ne_outq_commit(&conn->out, len);
    ne_conn_mark_dirty(conn);
}
/* Queues a delivery as one unit (ne_outq_append_message): head_len bytes of
 * head, then len bytes copied from `bytes` (chain NULL) or referenced in the
 * chain from offset on. The whole message or none of it, reclaiming as
 * ne_conn_send does; a connection that cannot take it is closed as a slow
 * consumer (nats-server drops the message and closes, CP-66): a prefix left
 * in its queue would corrupt its stream. */
int ne_conn_send_message(ne_conn *conn, const void *head, size_t head_len, const void *bytes,
                         ne_chunk *chain, uint32_t offset, size_t len);
/* The connection's queue holds more than max_pending after writing what the
 * socket takes now: it is closed as a slow consumer (true). */
bool ne_conn_pending_exceeded(ne_conn *conn);
static inline bool ne_conn_check_pending(ne_conn *conn)
{
    return conn->out.bytes > conn->set->opts->max_pending && ne_conn_pending_exceeded(conn);
}
/* A subscriber whose queue cannot take more: counted, closed without -ERR
 * (CP-51), its queued bytes returned to the pools. */
void ne_conn_close_slow_consumer(ne_conn *conn);
/* Writes what the socket takes now, before the end of the turn. */
int ne_conn_flush_now(ne_conn *conn);
/* Stops reading the connection's socket for the rest of the turn. At the
 * turn's end (ne_conns_turn_end) its reads resume and what it holds is
 * parsed again; a connection still short of output chunks or a read buffer,
 * or behind a congested service, pauses again there. */
void ne_conn_pause_reads(ne_conn *conn);
/* A service whose request queue is above its high-water mark says so
 * (ne_conns.congested); the connection whose input is being parsed, which
 * fed it, is held from its next operation on. Connections that send the
 * service nothing are not held back by one that floods it. */
static inline void ne_conns_congest(ne_conns *set)
{
    set->congested = true;
    if (set->reading != NULL && set->reading->io != NULL) {
        set->reading->io->held = true;
    }
}
/* Before parsing a connection's next operation: when it is held by a
 * congested service, its reads pause until the end of the turn and true is
 * returned (the caller stops parsing, leaving the rest unparsed). */
static inline bool ne_conn_hold_input(ne_conn *conn)
{
    if (conn->io == NULL || !conn->io->held) {
        return false;
    }
    if (!conn->set->congested) {
        conn->io->held = false; /* the service drained since */
        return false;
    }
    ne_conn_pause_reads(conn);
    return true;
}
/* Closes the connection holding the most unsent bytes (other than `except`)
 * to return its chunks and references to the pools; false if none holds any. */
bool ne_conns_reclaim(ne_conns *set, ne_conn *except);
/* Promises `need` chunks to an incomplete message of conn within the share
 * NE_PARTIAL_INPUT_CHUNKS (counted in partial_chunks) and gives it a state
 * (conn->io->spill, zeroed, from NE_PARTIAL_INPUTS; the caller fills it),
 * closing stalled incomplete messages of other connections to make room;
 * false when there is no room now (the caller pauses its reads and tries
 * again later). */
bool ne_conns_partial_admit(ne_conn *conn, uint32_t need);
/* The incomplete message no longer counts against the share: the chunks it
 * did not take go back, and its state (conn->io->spill, NULL after this).
 * Its chain stays with the caller. */
void ne_conn_spill_end(ne_conn *conn);
/* Drops the connection's incomplete message, if any: its chunks and the
 * rest of its promise go back to the pools. */
void ne_conn_spill_release(ne_conn *conn);

/* The NATS-family keepalive (clients, leafs): PING every ping_interval
 * unless input arrived, Stale Connection after ping_max unanswered; the
 * first one after the handshake always goes out (CP-47, CP-48). */
void ne_conn_ping_timer(ne_conn *conn, uint64_t now_ms);
/* The handshake is done: the first keepalive ping is due soon. */
void ne_conn_ping_start(ne_conn *conn);
/* A PONG arrived: no ping outstanding; the round trip of a timed PING. */
void ne_conn_pong_received(ne_conn *conn);

/* A read (or the port's report) failed with rc: remembered for
 * ne_conn_io_error, then the connection is closed (Client Closed when the
 * peer closed it, Read Error otherwise). */
void ne_conn_close_io_error(ne_conn *conn, int rc);
/* The port's error that ended the connection's reads or writes (e.g.
 * NE_ERR_REFUSED: an outbound connection nobody accepted), NE_OK if none. */
int ne_conn_io_error(const ne_conn *conn);

/* "<ip>:<port> - <cid|lid>:<n> - " in front of a connection's log lines
 * ("<ip>:<port> - " for a kind that is not numbered). */
void ne_conn_logf(const ne_conn *conn, ne_log_level level, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
#define ne_conn_log_enabled(conn, lvl) NE_LOG_ENABLED((conn)->set->log, (lvl))

/* Records a counted connection in the closed ring (/connz?state=closed). */
void ne_conns_record_closed(ne_conns *set, const ne_conn *conn, const ne_conn_desc *desc);

/* The loop (port.h ne_loop through the server). */
void ne_conns_handle_io(ne_conns *set, void *user, bool readable, bool writable);
/* Timers of every connection, internal clients' handlers, flushes, closes,
 * resumed readers, TLS retries. */
void ne_conns_turn_end(ne_conns *set, uint64_t now_ms, bool tick);
/* True when the next turn has work already (output, closes, TLS input,
 * internal deliveries); readers paused for chunks do not count. */
bool ne_conns_busy(const ne_conns *set);
/* Closes every connection (shutdown) and every listener. */
void ne_conns_close_all(ne_conns *set, ne_close_reason reason);

/* TLS (ne_conn_tls.c). */
void ne_conns_set_tls(ne_conns *set, const ne_tls *tls, const ne_tls_config *server_config,
                      const ne_tls_config *client_config);
/* Starts a server-side session on an accepted connection: whatever is
 * queued now (a client's INFO) goes out in clear before the handshake. */
int ne_conn_tls_accept(ne_conn *conn);
/* The same with another server configuration than the layer's (a route
 * listener's, which verifies the peer's certificate). */
int ne_conn_tls_accept_config(ne_conn *conn, const ne_tls_config *cfg);
/* Starts TLS in the client role on an outbound connection (leaf remotes):
 * the peer's certificate is verified against the configuration's CA and
 * must match server_name (also sent as SNI). Bytes queued before this call
 * still go out in clear; everything queued after it is held until the
 * handshake completes, then encrypted. A failed handshake closes the
 * connection with NE_CLOSE_TLS_HANDSHAKE and an error log line saying why.
 * cfg NULL uses the layer's client configuration. NE_OK,
 * NE_ERR_UNSUPPORTED (no engine or configuration) or NE_ERR_NOMEM (session
 * pool or TLS memory region exhausted; the caller closes). */
int ne_conn_tls_start_client(ne_conn *conn, const ne_tls_config *cfg, const char *server_name);
/* Internal to this layer. */
/* A read buffer for the connection unless it holds one (ne_conn_io.rbuf);
 * false when none is free. */
bool ne_conn_rbuf_take(ne_conn *conn);
/* Its read buffer goes back to the pool when it holds no input. */
void ne_conn_rbuf_release(ne_conn *conn);
int ne_conn_tls_flush(ne_conn *conn);
void ne_conn_tls_read(ne_conn *conn);
void ne_conn_tls_release(ne_conn *conn);
bool ne_conn_tls_timer(ne_conn *conn, uint64_t now);
void ne_conns_tls_turn_end(ne_conns *set);
/* Hands bytes read into the connection's buffer to its kind's input op. */
void ne_conn_process_input(ne_conn *conn);

#endif
