/* MQTT 3.1.1 and 5.0: a connection kind (floor 5, docs/architecture.md)
 * beside the NATS client kind, on the same subjects (docs/mqtt.md).
 *
 * Two kinds of connection take part:
 *   - an MQTT connection (kind "MQTT"): the client's socket, its
 *     protocol state (ne_mqtt_client, from the kind's pool), CONNECT,
 *     PUBLISH and the acknowledgements, keep-alive, topic aliases;
 *   - a session (kind "MQTT session"): an internal client (no socket) per
 *     MQTT session, from the session pool, which holds the session's
 *     subscriptions in the router whether its client is connected or not,
 *     and its QoS 1 and 2 messages in flight. Messages routed to it are
 *     written to its client's connection when there is one, kept for it
 *     (QoS 1 and 2) when there is none.
 * A client's publish goes to the router as a NATS message on the topic's
 * subject (nats-server 2.10's mapping, ne_mqtt_topic.h) with nats-server's
 * header "Nmqtt-Pub: <qos>"; NATS messages reach MQTT subscribers as QoS
 * 0 unless such a header says otherwise.
 *
 * The kind's context (ne_mqtt) holds the listener, the pools, the message
 * store with the retained messages, and the publish being routed. */
#ifndef NE_MQTT_H
#define NE_MQTT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "conf/ne_options.h"
#include "conn/ne_conn.h"
#include "core/ne_pool.h"
#include "core/ne_rng.h"
#include "json/ne_json_out.h"
#include "mqtt/ne_mqtt_codec.h"
#include "mqtt/ne_mqtt_persist.h"
#include "mqtt/ne_mqtt_store.h"
#include "ne_config.h"
#include "router/ne_router.h"

#if NE_MQTT_MAX_INFLIGHT < 1 || NE_MQTT_MAX_INFLIGHT > 65535
#error "NE_MQTT_MAX_INFLIGHT must be within 1..65535"
#endif
#if NE_MQTT_MAX_INBOUND_QOS2 < 1 || NE_MQTT_MAX_INBOUND_QOS2 > 65535
#error "NE_MQTT_MAX_INBOUND_QOS2 must be within 1..65535"
#endif
#if NE_MQTT_SUB_TABLES < 1 || NE_MQTT_OUT_TABLES < 1 || NE_MQTT_ALIAS_TABLES < 1
#error "NE_MQTT_SUB_TABLES, NE_MQTT_OUT_TABLES and NE_MQTT_ALIAS_TABLES must be at least 1"
#endif
#if NE_MQTT_CLIENT_ID_BYTES < 23
#error "NE_MQTT_CLIENT_ID_BYTES must hold the 23 bytes every client id may have (M3-23)"
#endif
#if NE_MQTT_INLINE_CLIENT_ID_BYTES < 23 || NE_MQTT_INLINE_CLIENT_ID_BYTES > NE_MQTT_CLIENT_ID_BYTES
#error "NE_MQTT_INLINE_CLIENT_ID_BYTES must be within 23..NE_MQTT_CLIENT_ID_BYTES (M3-23)"
#endif
#if NE_MQTT_LONG_CLIENT_IDS < 1 || NE_MQTT_INBOUND_TABLES < 1
#error "NE_MQTT_LONG_CLIENT_IDS and NE_MQTT_INBOUND_TABLES must be at least 1"
#endif
#if NE_FEATURE_MQTT && NE_MAX_INTERNAL_CLIENTS < NE_MQTT_MAX_SESSIONS + 1
#error "NE_MAX_INTERNAL_CLIENTS must leave a connection header for every MQTT session"
#endif
/* The head of a PUBLISH (topic and properties) must fit a read buffer, so
 * that a larger message is known before its payload is assembled. */
#if NE_FEATURE_MQTT &&                                                                             \
    NE_CONN_READ_BUFFER_BYTES < NE_MQTT_MAX_TOPIC_BYTES + NE_MQTT_MAX_PROPS_BYTES + 16
#error "NE_CONN_READ_BUFFER_BYTES must hold a PUBLISH head: topic and properties"
#endif

/* Outbound message states of a session. */
#define NE_MQTT_OUT_FREE 0
#define NE_MQTT_OUT_QUEUED 1   /* waiting to be sent */
#define NE_MQTT_OUT_SENT 2     /* PUBLISH sent; PUBACK or PUBREC awaited */
#define NE_MQTT_OUT_RELEASED 3 /* PUBREL sent; PUBCOMP awaited */

/* One QoS 1 or 2 message on its way to a session's client. */
typedef struct ne_mqtt_out {
    ne_mqtt_msg *msg;
    uint64_t sent_ms; /* last sent (3.1.1 redelivery after ack_wait) */
    uint16_t packet_id;
    uint8_t state;
    uint8_t qos;     /* delivery QoS: min(published, granted) */
    bool retain;     /* the RETAIN bit it goes with */
    bool fixed_id;   /* goes with sub_id only (a shared subscription's, a replay's) */
    uint32_t sub_id; /* with fixed_id: its Subscription Identifier, 0 for none */
    uint8_t shared;  /* from a shared subscription: its filter's index + 1; 0: not */
} ne_mqtt_out;

/* One topic filter of a session. */
typedef struct ne_mqtt_sub {
    ne_sub *sub;     /* the router's subscription; NULL: the slot is free */
    ne_sub *levelup; /* "a/#" also matches "a": a second one on the parent */
    uint32_t sub_id; /* 5.0 Subscription Identifier, 0 for none */
    uint8_t qos;     /* granted */
    bool no_local;
    bool retain_as_published;
    uint8_t retain_handling;
} ne_mqtt_sub;

/* A session's filters, from the kind's pool (NE_MQTT_SUB_TABLES) while it
 * holds at least one. */
typedef struct ne_mqtt_sub_table {
    ne_mqtt_sub e[NE_MQTT_MAX_SUBS_PER_SESSION];
} ne_mqtt_sub_table;

/* A session's outbound ring, from the kind's pool (NE_MQTT_OUT_TABLES)
 * while a QoS 1 or 2 message is queued or in flight for it. */
typedef struct ne_mqtt_out_table {
    ne_mqtt_out e[NE_MQTT_MAX_INFLIGHT];
} ne_mqtt_out_table;

/* A client id longer than NE_MQTT_INLINE_CLIENT_ID_BYTES, from the kind's
 * pool (NE_MQTT_LONG_CLIENT_IDS) for its session's life. */
typedef struct ne_mqtt_long_id {
    char text[NE_MQTT_CLIENT_ID_BYTES + 1]; /* NUL-terminated */
} ne_mqtt_long_id;

/* A session's inbound QoS 2 packet ids, from the kind's pool
 * (NE_MQTT_INBOUND_TABLES) while one is held (at least 4 slots: the pool
 * threads its free list through them). */
typedef struct ne_mqtt_inbound_table {
    uint16_t ids[NE_MQTT_MAX_INBOUND_QOS2 > 4 ? NE_MQTT_MAX_INBOUND_QOS2 : 4];
} ne_mqtt_inbound_table;

struct ne_mqtt_client;

/* A session (M3-32): it lives from the client's first CONNECT to its end
 * (clean start, a disconnect without a session to keep, its expiry, or an
 * eviction when the pool is full). `conn` is its internal client. */
typedef struct ne_mqtt_session {
    /* Pointers, then wider fields before narrower (no padding between). */
    ne_conn *conn;
    struct ne_mqtt_client *client; /* connected: its client's state; NULL offline */
    struct ne_mqtt_session *next;  /* the context's list */
    struct ne_mqtt_session *prev;
    /* NUL-terminated, at its length: id_inline when it fits, else the text
     * of an ne_mqtt_long_id. */
    char *client_id;
    /* The will of its last connection, published when the will delay
     * passes or the session ends (will_at_ms, 0: none pending). */
    ne_mqtt_msg *will;
    /* Its filters: NE_MQTT_MAX_SUBS_PER_SESSION slots while it holds any
     * (sub_count > 0), NULL otherwise (ne_mqtt_sub_table). */
    ne_mqtt_sub *subs;
    /* Outbound QoS 1/2, in the order they were queued: out[out_head] is
     * the oldest, out_count of them from there (a ring of
     * NE_MQTT_MAX_INFLIGHT while out_count > 0, NULL otherwise:
     * ne_mqtt_out_table). */
    ne_mqtt_out *out;
    /* Inbound QoS 2 packet ids received and not yet released: inbound_count
     * of them in a table of NE_MQTT_MAX_INBOUND_QOS2 taken with the first
     * QoS 2 PUBLISH and given back when the count is 0 again
     * (ne_mqtt_inbound_table), NULL otherwise. */
    uint16_t *inbound;
    uint64_t offline_since_ms; /* 0 while connected */
    uint64_t delivered_seq;    /* the last routed message given a copy (one per message) */
    uint64_t will_at_ms;
    uint32_t expiry_s; /* 5.0 Session Expiry Interval; UINT32_MAX: never */
    uint32_t will_delay_s;
    uint32_t sub_count;
    uint16_t next_packet_id;
    uint16_t client_id_len;
    uint16_t out_head;
    uint16_t out_count;
    uint16_t inbound_count;
    uint8_t version;
    bool persistent;  /* kept after its client goes (clean 0, or a Session Expiry) */
    bool ending;      /* its internal client is closing */
    bool warned_full; /* its in-flight slots ran out (logged once until one frees) */
    bool dirty;       /* changed since its record was last written */
    bool on_disk;     /* its record is in the persistent store */
    bool pump_due;    /* queued during a held QoS 2 publish (ne_mqtt_txn) */
    char id_inline[NE_MQTT_INLINE_CLIENT_ID_BYTES + 1];
} ne_mqtt_session;

typedef struct ne_mqtt_alias {
    uint16_t len; /* 0: unbound */
    uint8_t topic[NE_MQTT_ALIAS_TOPIC_BYTES];
} ne_mqtt_alias;

/* A 5.0 connection's topic aliases both ways, from the kind's pool
 * (NE_MQTT_ALIAS_TABLES) from its CONNACK to its close. */
typedef struct ne_mqtt_alias_table {
    ne_mqtt_alias in[NE_MQTT_TOPIC_ALIAS_MAX > 0 ? NE_MQTT_TOPIC_ALIAS_MAX : 1];
    ne_mqtt_alias out[NE_MQTT_TOPIC_ALIAS_MAX > 0 ? NE_MQTT_TOPIC_ALIAS_MAX : 1];
} ne_mqtt_alias_table;

/* A large PUBLISH being assembled in chunks (the connection's spill): what
 * its head said. */
typedef struct ne_mqtt_spill {
    uint8_t qos;
    bool retain;
    bool dup;
    uint16_t packet_id;
    uint16_t topic_len;
    uint16_t props_len;
    uint32_t subject_len;
    uint32_t reply_len;
    uint32_t nats_hdr_len;
    bool has_expiry;
    uint32_t expiry_s;
} ne_mqtt_spill;

/* An MQTT connection's own state. */
typedef struct ne_mqtt_client {
    ne_conn *conn;
    ne_mqtt_session *session; /* NULL before CONNECT, and after takeover */
    bool connected;           /* CONNECT accepted */
    bool clean_disconnect;    /* DISCONNECT without the will (3.1.1, 5.0 0x00) */
    bool joined;              /* counted in its account (ne_router_join) */
    uint8_t version;
    uint16_t keep_alive_s;
    uint64_t connect_deadline_ms; /* CONNECT must arrive by then */
    uint16_t receive_maximum;     /* the client's (5.0), 65535 otherwise */
    uint16_t sent_unacked;        /* QoS 1/2 PUBLISH out and not acknowledged */
    uint32_t maximum_packet_size; /* the client's (5.0), 0: the protocol's */
    uint16_t alias_max_out;       /* the client's Topic Alias Maximum (0 without a table) */
    uint16_t alias_next_out;
    uint16_t alias_max_in;   /* told in CONNACK: NE_MQTT_TOPIC_ALIAS_MAX with a claim, else 0 */
    bool alias_claim;        /* counted in ne_mqtt.alias_claims: a table is its when needed */
    bool problem_info;       /* 5.0 Request Problem Information */
    uint32_t sei_at_connect; /* 5.0: the Session Expiry it connected with */
    ne_mqtt_spill spill;
    uint32_t skip_bytes; /* of a refused large PUBLISH, still to arrive */
    /* 5.0 with a claim (alias_claim): taken at the first alias either
     * way, then kept to the close; NULL before and otherwise. */
    ne_mqtt_alias_table *aliases;
} ne_mqtt_client;

/* The publish being routed (set around ne_router_publish), so that the
 * sessions it reaches take its QoS, RETAIN, properties and publisher from
 * it rather than from the NATS message. */
typedef struct ne_mqtt_inbound {
    bool active;
    bool refused; /* may_publish said no */
    uint8_t qos;
    bool retain;
    const ne_mqtt_session *publisher;
    ne_slice subject; /* the subject it was routed on */
    ne_mqtt_bytes topic;
    ne_mqtt_bytes props; /* the message's properties (M5-14) */
    bool has_expiry;
    uint32_t expiry_s;
} ne_mqtt_inbound;

/* A persistent session's QoS 2 PUBLISH from its routing to its answer
 * (ne_mqtt_persist_txn_begin, ne_mqtt_persist_commit,
 * ne_mqtt_session_txn_end): the message it left in sessions is durable
 * before the publisher's record holds its packet id, and nothing is sent
 * to those sessions' clients before that. */
typedef struct ne_mqtt_txn {
    const ne_mqtt_session *publisher;
    ne_mqtt_msg *msg; /* the kept copy, once a session or the retained table took it */
    uint64_t seq;     /* its number in the persistent store's order of commits */
    bool active;
    bool pumps_due; /* a session has pump_due */
} ne_mqtt_txn;

/* A routed message as MQTT sees it, worked out once per message (seq)
 * for all the sessions it reaches. */
typedef struct ne_mqtt_view {
    uint64_t seq;
    bool usable; /* false: its topic or properties do not fit (never delivered) */
    uint8_t qos;
    bool retain;
    const ne_mqtt_session *publisher;
    bool has_expiry;
    uint64_t expires_ms;
    ne_mqtt_bytes topic;
    ne_mqtt_bytes props;
    ne_mqtt_msg *stored; /* kept once for the sessions that queue it; NULL until then */
    uint8_t topic_buf[NE_MQTT_MAX_TOPIC_BYTES];
    uint8_t props_buf[NE_MQTT_MAX_PROPS_BYTES];
} ne_mqtt_view;

typedef struct ne_mqtt_stats {
    uint64_t sessions_evicted;  /* offline sessions ended for room (NE_MQTT_MAX_SESSIONS) */
    uint64_t sessions_refused;  /* CONNECTs refused for want of a session (or a long id) */
    uint64_t qos2_refused;      /* QoS 2 PUBLISHes refused for want of an inbound table */
    uint64_t dropped_inflight;  /* QoS 1/2 messages a full session could not queue */
    uint64_t dropped_too_large; /* messages larger than a client's Maximum Packet Size */
    uint64_t dropped_expired;   /* messages whose expiry passed before they were sent */
    uint64_t not_routable;      /* NATS messages whose topic or headers do not fit */
    uint64_t wills_published;
} ne_mqtt_stats;

typedef struct ne_mqtt {
    const ne_server_options *opts;
    ne_conns *conns;
    ne_router *router;
    ne_rng *rng;
    uint8_t kind;         /* MQTT connections */
    uint8_t session_kind; /* sessions' internal clients */
    ne_listener listener;
    ne_pool client_pool;
    ne_pool session_pool;
    ne_pool sub_table_pool;   /* NE_MQTT_SUB_TABLES */
    ne_pool out_table_pool;   /* NE_MQTT_OUT_TABLES */
    ne_pool alias_table_pool; /* NE_MQTT_ALIAS_TABLES */
    /* 5.0 clients told a Topic Alias Maximum (or sent aliases): each is
     * sure of a table (at most NE_MQTT_ALIAS_TABLES), taken only when the
     * first alias is (ne_mqtt_alias_table_of). */
    uint32_t alias_claims;
    ne_pool long_id_pool;      /* NE_MQTT_LONG_CLIENT_IDS */
    ne_pool inbound_pool;      /* NE_MQTT_INBOUND_TABLES */
    ne_mqtt_session *sessions; /* every session, newest first */
    ne_mqtt_store store;
    ne_mqtt_stats stats;
    bool dirty_any; /* a session is dirty (ne_mqtt_persist_flush) */
#if NE_CONN_PARKING
    /* Parked connections (ne_parked): each keeps a client slot reserved,
     * and a connected one a session slot (and its internal client, kept by
     * the connection layer). */
    uint32_t parked_clients;
    uint32_t parked_sessions;
#endif
    const ne_tls_config *tls_server; /* mqtt { tls }: the listener's, NULL: plain */
#if NE_MQTT_PERSIST
    ne_mqtt_persist persist; /* off until ne_mqtt_open_store */
#endif
    ne_mqtt_inbound inbound;
    ne_mqtt_txn txn;
    ne_mqtt_view view;
    /* The NATS form of an inbound publish: headers, payload and CRLF. */
    uint8_t nats_scratch[NE_CHUNK_BYTES];
} ne_mqtt;

typedef struct ne_mqtt_pool_storage {
    NE_POOL_STORAGE(ne_mqtt_client, NE_MQTT_MAX_CONNECTIONS) clients;
    NE_POOL_STORAGE(ne_mqtt_session, NE_MQTT_MAX_SESSIONS) sessions;
    NE_POOL_STORAGE(ne_mqtt_sub_table, NE_MQTT_SUB_TABLES) sub_tables;
    NE_POOL_STORAGE(ne_mqtt_out_table, NE_MQTT_OUT_TABLES) out_tables;
    NE_POOL_STORAGE(ne_mqtt_alias_table, NE_MQTT_ALIAS_TABLES) alias_tables;
    NE_POOL_STORAGE(ne_mqtt_long_id, NE_MQTT_LONG_CLIENT_IDS) long_ids;
    NE_POOL_STORAGE(ne_mqtt_inbound_table, NE_MQTT_INBOUND_TABLES) inbound_tables;
    ne_mqtt_store_storage store;
} ne_mqtt_pool_storage;

void ne_mqtt_init(ne_mqtt *m, ne_mqtt_pool_storage *storage, const ne_server_options *opts,
                  ne_conns *conns, ne_router *router, ne_rng *rng);
/* Opens the MQTT listener when opts.mqtt.enabled. */
int ne_mqtt_start(ne_mqtt *m);
/* Closes the listener (lame duck mode, shutdown). */
void ne_mqtt_stop_listening(ne_mqtt *m);
/* mqtt { tls }: the listener's TLS configuration (the board loads it;
 * before ne_mqtt_start). */
void ne_mqtt_set_tls(ne_mqtt *m, const ne_tls_config *cfg);
uint16_t ne_mqtt_port(const ne_mqtt *m);
/* Open MQTT connections. */
uint32_t ne_mqtt_client_count(const ne_mqtt *m);
/* Timers of the kind as a whole (retained expiry). */
void ne_mqtt_tick(ne_mqtt *m, uint64_t now_ms);
/* Shutdown: every session ends, retained messages are released (what is
 * in the persistent store stays there for the next start). */
void ne_mqtt_shutdown(ne_mqtt *m);

#if NE_MQTT_PERSIST
/* Persistence (ne_mqtt_persist.h): attaches the device's "mqtt" log
 * (created when there is none) and takes back the sessions and retained
 * messages it holds, before the listener opens. What cannot be taken back
 * (pools full, a user no longer configured, a damaged record) is logged,
 * counted and removed. NE_OK, or the store's error (MQTT then runs in RAM
 * only). The device must outlive the kind; ne_mqtt_close_store detaches. */
int ne_mqtt_open_store(ne_mqtt *m, ne_store_dev *dev);
void ne_mqtt_close_store(ne_mqtt *m);
#endif
/* Closes up to `count` MQTT clients (lame duck steps; 5.0 clients get
 * DISCONNECT 0x8B first); returns how many. */
uint32_t ne_mqtt_close_clients(ne_mqtt *m, uint32_t count);

/* /varz?natsedge=1's "natsedge_mqtt" object: what MQTT's bounds turned
 * away (sessions evicted or refused, messages not queued, too large,
 * expired, not routable, retained not kept) and the retained messages. */
void ne_mqtt_stats_json(const ne_mqtt *m, ne_json_out *o);

/* The /varz "mqtt" object (nats-server's MQTTOptsVarz: host, port,
 * no_auth_user, auth_timeout, tls_timeout, ack_wait, max_ack_pending). */
void ne_mqtt_varz(const ne_mqtt *m, ne_json_out *o);

#endif
