/* What the MQTT kind's own files share (not for other modules). */
#ifndef NE_MQTT_INTERNAL_H
#define NE_MQTT_INTERNAL_H

#include "mqtt/ne_mqtt.h"

/* A subject of the longest topic: each byte of a topic may become two. */
#define NE_MQTT_SUBJECT_BYTES (2 * NE_MQTT_MAX_TOPIC_BYTES + 2)

/* The head of a PUBLISH the server writes: fixed header, topic, packet id,
 * the forwarded properties, a Message Expiry, a Topic Alias and one
 * Subscription Identifier per subscription of the session. */
#define NE_MQTT_HEAD_BYTES                                                                         \
    (5 + 2 + NE_MQTT_MAX_TOPIC_BYTES + 2 + 4 + NE_MQTT_MAX_PROPS_BYTES + 5 + 3 +                   \
     5 * NE_MQTT_MAX_SUBS_PER_SESSION)

static inline ne_mqtt *ne_mqtt_of(const ne_conn *conn)
{
    return ne_conn_kind_of(conn)->ctx;
}

/* ---- Writing to a client (ne_mqtt.c) ---------------------------------------- */

/* The connection of a client state. */
ne_conn *ne_mqtt_client_conn(const ne_mqtt_client *c);
/* Queues a packet for the client; false when its connection cannot take
 * it (it is closed then). */
bool ne_mqtt_send(ne_conn *conn, const uint8_t *bytes, size_t len);
/* A v5 client is told why with DISCONNECT first; a v3 one is just closed. */
void ne_mqtt_close_with(ne_conn *conn, uint8_t reason, ne_close_reason why);
/* The client's alias table, taken now if it has none yet; NULL without a
 * claim (c->alias_claim). Never short: a claim holds one. */
ne_mqtt_alias_table *ne_mqtt_alias_table_of(ne_mqtt *m, ne_mqtt_client *c);

/* ---- Sessions (ne_mqtt_session.c) --------------------------------------------- */

/* The filter slots a session has now: NE_MQTT_MAX_SUBS_PER_SESSION while
 * it holds its table, 0 otherwise (a loop bound read at every step: the
 * table goes when its last filter does). */
static inline uint32_t ne_mqtt_sub_slots(const ne_mqtt_session *s)
{
    return s->subs != NULL ? NE_MQTT_MAX_SUBS_PER_SESSION : 0;
}

extern const ne_conn_ops ne_mqtt_session_ops;

/* The session of a client id that is not ending, or NULL. A parked
 * connection's (NE_CONN_PARKING) is brought back for it. */
ne_mqtt_session *ne_mqtt_session_find(ne_mqtt *m, const uint8_t *id, uint16_t len);
#if NE_CONN_PARKING
/* Parking (ne_mqtt.c): a session that ends with its connection and holds
 * nothing (no filter, nothing queued or in flight, no QoS 2 id, no will
 * waiting, nothing on the device) can go with its connection parked. */
bool ne_mqtt_session_parkable(const ne_mqtt_session *s);
/* Lets go of the session's slot and its internal client, both kept
 * reserved (ne_mqtt.parked_sessions, ne_conn_internal_park); its client
 * id's long slot, if any, and its will stay with the parked connection. */
void ne_mqtt_session_park(ne_mqtt *m, ne_mqtt_session *s);
/* The session of a parked connection back, for client_conn's client: its
 * id (NUL-terminated, len bytes) inline or in the long slot `slot` it kept
 * (NULL: inline), its will, its protocol level. */
ne_mqtt_session *ne_mqtt_session_unpark(ne_mqtt *m, const ne_conn *client_conn, const char *id,
                                        uint16_t len, char *slot, ne_mqtt_msg *will,
                                        uint8_t version);
/* A parked connection's session with this client id, brought back with its
 * connection; NULL when none (ne_mqtt.c). */
ne_mqtt_session *ne_mqtt_parked_find(ne_mqtt *m, const uint8_t *id, uint16_t len);
#endif
/* A new session for a client of account acc (and its user), with its
 * internal client; NULL when none can be had (an offline one is ended
 * for room first, counted). */
ne_mqtt_session *ne_mqtt_session_new(ne_mqtt *m, const uint8_t *id, uint16_t len,
                                     const ne_conn *client_conn);
/* Releases a session and everything it holds without publishing or
 * storing anything (shutdown, its internal client closed). */
void ne_mqtt_session_release(ne_mqtt *m, ne_mqtt_session *s);
/* An inbound QoS 2 table for the session unless it has one; false when
 * the pool (NE_MQTT_INBOUND_TABLES) is empty: counted and logged with the
 * knob's name. */
bool ne_mqtt_session_inbound_take(ne_mqtt *m, ne_mqtt_session *s);
/* Gives the session's inbound table back once it holds no id. */
void ne_mqtt_session_inbound_release(ne_mqtt *m, ne_mqtt_session *s);
/* A clean start over a session of the same client: everything it held
 * goes (its pending will is published), its slot and internal client stay
 * for the new one. */
void ne_mqtt_session_reset(ne_mqtt *m, ne_mqtt_session *s);
/* Ends a session now: its pending will is published, its subscriptions
 * removed, its messages released, its internal client closed. */
void ne_mqtt_session_end(ne_mqtt *m, ne_mqtt_session *s);
/* Its client connected (after CONNACK): what was in flight is sent again
 * (DUP), then what is queued. */
void ne_mqtt_session_resume(ne_mqtt *m, ne_mqtt_session *s);
/* Its client went away: the session is offline, or ends. */
void ne_mqtt_session_detach(ne_mqtt *m, ne_mqtt_session *s, bool publish_will);
/* Queued messages sent while the client's Receive Maximum allows. */
void ne_mqtt_session_pump(ne_mqtt *m, ne_mqtt_session *s);
/* The end of a QoS 2 publish's transaction (ne_mqtt_txn): the sessions
 * it queued messages for send them now. */
void ne_mqtt_session_txn_end(ne_mqtt *m);
/* The session's will: published now, or at will_at_ms. */
void ne_mqtt_session_publish_will(ne_mqtt *m, ne_mqtt_session *s);

/* PUBACK, PUBREC, PUBCOMP from the client for the session's messages. */
void ne_mqtt_session_puback(ne_mqtt *m, ne_mqtt_session *s, uint16_t id);
void ne_mqtt_session_pubrec(ne_mqtt *m, ne_mqtt_session *s, uint16_t id, uint8_t reason);
void ne_mqtt_session_pubcomp(ne_mqtt *m, ne_mqtt_session *s, uint16_t id);
/* 3.1.1: messages unacknowledged for ack_wait are sent again (DUP). */
void ne_mqtt_session_redeliver(ne_mqtt *m, ne_mqtt_session *s, uint64_t now_ms);

/* SUBSCRIBE of one filter: the SUBACK code (granted QoS or a failure);
 * *replay says whether its retained messages go out (Retain Handling). */
uint8_t ne_mqtt_session_subscribe(ne_mqtt *m, ne_mqtt_session *s, ne_mqtt_bytes filter,
                                  const ne_mqtt_sub_options *opts, uint32_t sub_id, bool *replay,
                                  ne_mqtt_sub **entry);
/* The retained messages matching a filter, to the session. */
void ne_mqtt_session_replay(ne_mqtt *m, ne_mqtt_session *s, ne_mqtt_bytes filter,
                            const ne_mqtt_sub *entry);
/* UNSUBSCRIBE of one filter: 0x00, or 0x11 when there was none. */
uint8_t ne_mqtt_session_unsubscribe(ne_mqtt *m, ne_mqtt_session *s, ne_mqtt_bytes filter);

/* Publishes a kept message (a will) as the session's client would. */
void ne_mqtt_publish_stored(ne_mqtt *m, ne_conn *pub, const ne_mqtt_session *publisher,
                            ne_mqtt_msg *msg);

/* ---- Persistence (ne_mqtt_persist.c) ------------------------------------------------------- */

/* The session's record must be written again (at the next flush). */
static inline void ne_mqtt_dirty(ne_mqtt *m, ne_mqtt_session *s)
{
    if (s->persistent || s->on_disk) {
        s->dirty = true;
        m->dirty_any = true;
    }
}
/* Writes the dirty sessions and syncs the device: what was acknowledged
 * so far survives a power cut. Nothing without a store. false when the
 * device failed to sync (an I/O error, the power going): what changed is
 * not durable and must not be acknowledged. A record the store refused
 * (too large, keys full) is counted and kept in RAM only: not a failure. */
bool ne_mqtt_persist_flush(ne_mqtt *m);
/* Exactly once for a persistent session's QoS 2 PUBLISH across a power
 * cut (M3-39): begin before it is routed, commit before its packet id is
 * held, and ne_mqtt_session_txn_end after its answer. The commit makes
 * what the routing left in sessions durable (its message's record names
 * the publisher and the transaction), then counts it committed, so the
 * publisher's next record (the one that holds the id) proves it: at a
 * restart, a message whose publisher's record is older is taken back
 * from every session, and the publisher sends it again. false when the
 * device failed (nothing may be acknowledged). */
void ne_mqtt_persist_txn_begin(ne_mqtt *m, const ne_mqtt_session *publisher, uint8_t qos);
bool ne_mqtt_persist_commit(ne_mqtt *m);
/* The session ends: its record goes. */
void ne_mqtt_persist_session_gone(ne_mqtt *m, ne_mqtt_session *s);
/* Shutdown: a last flush, then nothing is written or removed any more. */
void ne_mqtt_persist_freeze(ne_mqtt *m);
/* The message store's hooks. */
void ne_mqtt_persist_init(ne_mqtt *m);

/* The k-th entry of the session's outbound ring (0: the oldest). */
ne_mqtt_out *ne_mqtt_session_out(ne_mqtt_session *s, uint32_t k);
/* A session read back from the store (offline, persistent) as user
 * user_index (-1: the authorization defaults); NULL when none can be had. */
ne_mqtt_session *ne_mqtt_session_restore(ne_mqtt *m, const uint8_t *id, uint16_t len,
                                         int user_index);
/* One of its filters (its subject and queue group, and its options);
 * false when the router cannot take it. */
bool ne_mqtt_session_restore_sub(ne_mqtt *m, ne_mqtt_session *s, const char *subject,
                                 size_t subject_len, ne_slice group, const ne_mqtt_sub *opts);
/* One of its messages, in the state it had; false when there is no room. */
bool ne_mqtt_session_restore_out(ne_mqtt *m, ne_mqtt_session *s, ne_mqtt_msg *msg,
                                 const ne_mqtt_out *e);

/* ---- The publish being routed (ne_mqtt_route.c) -------------------------------------- */

/* Everything a publish needs once its head is read. */
typedef struct ne_mqtt_pub {
    uint8_t qos;
    bool retain;
    const ne_mqtt_session *publisher;
    ne_mqtt_bytes topic;
    ne_mqtt_bytes props; /* the message's properties (forwarded) */
    ne_slice subject;
    ne_slice reply;
    bool has_expiry;
    uint32_t expiry_s;
} ne_mqtt_pub;

/* The NATS header of an MQTT message ("Nmqtt-Pub:<qos>" and the user
 * properties) into out; its length, or 0 when it does not fit. */
size_t ne_mqtt_nats_header(uint8_t *out, size_t cap, uint8_t qos, ne_mqtt_bytes props);
/* Routes msg (the NATS form of pub) from conn, then keeps or clears its
 * retained message. NE_OK with the deliveries, or NE_ERR_PERMISSION. */
int ne_mqtt_route(ne_mqtt *m, ne_conn *conn, const ne_mqtt_pub *pub, ne_msg *msg,
                  uint32_t *delivered);
/* The routed message as MQTT sees it (ne_mqtt_view), worked out once per
 * routed message. */
ne_mqtt_view *ne_mqtt_view_of(ne_mqtt *m, const ne_msg *msg);
/* Forgets the view (between routings): its kept copy's reference goes. */
void ne_mqtt_view_release(ne_mqtt *m);
/* The view's message kept in the store (once); NULL when it cannot be. */
ne_mqtt_msg *ne_mqtt_view_store(ne_mqtt *m, ne_mqtt_view *v, const ne_msg *msg);
/* The payload of a routed message: its bytes after any NATS headers. */
ne_mqtt_payload ne_mqtt_msg_payload(const ne_msg *msg);

#endif
