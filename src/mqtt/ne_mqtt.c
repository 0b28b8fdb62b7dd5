/* MQTT connections (ne_mqtt.h): framing, CONNECT and authentication,
 * PUBLISH in both sizes (in place, or assembled in chunks), the
 * acknowledgements, SUBSCRIBE and UNSUBSCRIBE, keep-alive, the kind's
 * listener and its place in monitoring. Sessions are ne_mqtt_session.c. */
#include "mqtt/ne_mqtt.h"

#include <string.h>

#include "core/ne_assert.h"
#include "core/ne_error.h"
#include "core/ne_fmt.h"
#include "core/ne_subject.h"
#include "mqtt/ne_mqtt_internal.h"
#include "mqtt/ne_mqtt_topic.h"
#include "router/ne_authn.h"
#include "router/ne_perm.h"

/* A large PUBLISH keeps its subject, reply, topic, properties and NATS
 * header in the first chunk of its chain. */
#define NE_MQTT_SPILL_HEAD_BYTES                                                                   \
    (NE_MQTT_SUBJECT_BYTES + 2 * NE_MQTT_MAX_PROPS_BYTES + 2 + NE_MQTT_MAX_TOPIC_BYTES +           \
     NE_MQTT_MAX_PROPS_BYTES + NE_MQTT_MAX_PROPS_BYTES + 64)
#if NE_FEATURE_MQTT && NE_MQTT_SPILL_HEAD_BYTES > NE_CHUNK_BYTES
#error                                                                                             \
    "NE_CHUNK_BYTES must hold a large PUBLISH's head: lower NE_MQTT_MAX_TOPIC_BYTES or NE_MQTT_MAX_PROPS_BYTES"
#endif

/* Filters of one SUBSCRIBE whose retained messages are sent after SUBACK. */
#define NE_MQTT_REPLAYS NE_MQTT_MAX_SUBS_PER_SESSION

static ne_mqtt_client *client_of(const ne_conn *conn)
{
    return conn->state;
}

ne_conn *ne_mqtt_client_conn(const ne_mqtt_client *c)
{
    return c->conn;
}

bool ne_mqtt_send(ne_conn *conn, const uint8_t *bytes, size_t len)
{
    return ne_conn_send(conn, bytes, len) == NE_OK;
}

void ne_mqtt_close_with(ne_conn *conn, uint8_t reason, ne_close_reason why)
{
    ne_mqtt_client *c = client_of(conn);
    /* No DISCONNECT before a successful CONNACK (M5-04), none to 3.1.1. */
    if (c != NULL && c->connected && c->version == NE_MQTT_V5) {
        uint8_t pkt[4];
        size_t n = ne_mqtt_encode_disconnect(pkt, sizeof(pkt), NE_MQTT_V5, reason, NULL);
        NE_ASSERT(n > 0);
        ne_conn_close_after(conn, why, pkt, n);
        return;
    }
    ne_conn_close_after(conn, why, NULL, 0);
}

/* A malformed packet or a protocol error after CONNECT (M5-16, M3-29). */
static void fault(ne_conn *conn, uint8_t reason)
{
    ne_conn_logf(conn, NE_LOG_DEBUG, "MQTT protocol error (reason 0x%02x)", reason);
    ne_mqtt_close_with(conn, reason, NE_CLOSE_PROTOCOL_VIOLATION);
}

/* The largest packet accepted: max_payload, told to 5.0 clients. */
static uint32_t max_packet(const ne_mqtt *m)
{
    return m->opts->max_payload;
}

/* ---- CONNECT -------------------------------------------------------------------- */

/* The 3.1.1 return code for a 5.0 reason (MQ-06); 0 when 3.1.1 has none
 * (then the connection is closed without CONNACK). */
static uint8_t v3_code(uint8_t reason)
{
    switch (reason) {
    case NE_MQTT_RC_UNSUPPORTED_VERSION:
        return NE_MQTT_V3_BAD_VERSION;
    case NE_MQTT_RC_CLIENT_ID_NOT_VALID:
        return NE_MQTT_V3_ID_REJECTED;
    case NE_MQTT_RC_BAD_USER_OR_PASSWORD:
        return NE_MQTT_V3_BAD_USER_OR_PASSWORD;
    case NE_MQTT_RC_NOT_AUTHORIZED:
        return NE_MQTT_V3_NOT_AUTHORIZED;
    case NE_MQTT_RC_SERVER_UNAVAILABLE:
    case NE_MQTT_RC_SERVER_BUSY:
    case NE_MQTT_RC_QUOTA_EXCEEDED:
        return NE_MQTT_V3_SERVER_UNAVAILABLE;
    default:
        return 0;
    }
}

/* A refused CONNECT: CONNACK with the reason (3.1.1's code), then close
 * (M3-26, M5-04). */
static void refuse(ne_conn *conn, uint8_t version, uint8_t reason, ne_close_reason why)
{
    uint8_t pkt[8];
    uint8_t code = version == NE_MQTT_V5 ? reason : v3_code(reason);
    ne_conn_logf(conn, NE_LOG_DEBUG, "MQTT CONNECT refused (0x%02x)", code);
    if (code == 0) {
        ne_conn_close(conn, why, NULL);
        return;
    }
    size_t n = ne_mqtt_encode_connack(pkt, sizeof(pkt), version, false, code, NULL);
    NE_ASSERT(n > 0);
    ne_conn_close_after(conn, why, pkt, n);
}

/* Is MQTT's own authorization block in force (nats-server's authOverride)? */
static bool auth_override(const ne_server_options *o)
{
    const ne_mqtt_options *mo = &o->mqtt;
    return mo->auth_user[0] != '\0' || mo->auth_token[0] != '\0' || mo->no_auth_user[0] != '\0';
}

static int find_user(const ne_server_options *o, const char *name)
{
    for (uint32_t i = 0; i < o->user_count; i++) {
        if (strcmp(o->users[i].user, name) == 0) {
            return (int)i;
        }
    }
    return -1;
}

/* Copies a CONNECT field into a credential; false when it is too long. */
static bool credential(char *dst, size_t cap, ne_mqtt_bytes b)
{
    if (b.len >= cap) {
        return false;
    }
    if (b.len > 0) {
        memcpy(dst, b.ptr, b.len);
    }
    dst[b.len] = '\0';
    return true;
}

/* nats-server's MQTT authentication: the user name and password of
 * CONNECT, the password doubling as a token (MQ-07, MQ-25); mqtt's
 * authorization block, when it names someone, instead of the server's.
 * Binds the connection to its user's account and permissions. */
static uint8_t authenticate(ne_conn *conn, const ne_mqtt_connect *cp)
{
    ne_mqtt *m = ne_mqtt_of(conn);
    const ne_server_options *o = m->opts;
    const ne_mqtt_options *mo = &o->mqtt;
    if (cp->has_user && cp->user.len == 0) {
        return NE_MQTT_RC_BAD_USER_OR_PASSWORD; /* nats-server: empty user name */
    }
    bool override = auth_override(o);
    if (!override && !ne_authn_required(o)) {
        return NE_MQTT_RC_SUCCESS;
    }
    ne_credentials cred;
    memset(&cred, 0, sizeof(cred));
    cred.none = !cp->has_user && !cp->has_password;
    if (!credential(cred.user, sizeof(cred.user), cp->user) ||
        !credential(cred.pass, sizeof(cred.pass), cp->password) ||
        !credential(cred.token, sizeof(cred.token), cp->password)) {
        return NE_MQTT_RC_NOT_AUTHORIZED;
    }
    int user_index = -1;
    bool ok;
    if (override && mo->auth_token[0] != '\0') {
        ok = ne_authn_secret_matches(&m->router->bcrypt, mo->auth_token, cred.token);
    } else if (override && mo->auth_user[0] != '\0') {
        ok = strcmp(cred.user, mo->auth_user) == 0 &&
             ne_authn_secret_matches(&m->router->bcrypt, mo->auth_pass, cred.pass);
    } else if (override && cred.none) {
        user_index = find_user(o, mo->no_auth_user);
        ok = user_index >= 0;
    } else {
        ok = ne_authn_check(o, &m->router->bcrypt, &cred, "", &user_index);
    }
    if (!ok) {
        ne_conn_logf(conn, NE_LOG_WARN, "authentication error");
        return NE_MQTT_RC_NOT_AUTHORIZED;
    }
    uint8_t acc;
    uint16_t perms;
    ne_authn_identity(o, user_index, &acc, &perms);
    conn->user_index = (int16_t)user_index;
    conn->acc = &m->router->accounts[acc];
    conn->perms = perms;
    conn->publish_checks = perms == NE_PERM_NONE ? NE_PUBLISH_CHECK_NEVER : NE_PUBLISH_CHECK_ALWAYS;
    return NE_MQTT_RC_SUCCESS;
}

/* The will of a CONNECT, kept as a message (M3-21, M5-12); NULL with
 * *reason when it cannot be. */
static ne_mqtt_msg *make_will(ne_mqtt *m, const ne_mqtt_connect *cp, uint8_t *reason)
{
    uint8_t props[NE_MQTT_MAX_PROPS_BYTES];
    char subject[NE_MQTT_SUBJECT_BYTES];
    size_t subject_len;
    if (cp->will_topic.len > NE_MQTT_MAX_TOPIC_BYTES ||
        ne_mqtt_topic_to_subject(cp->will_topic.ptr, cp->will_topic.len, false, subject,
                                 sizeof(subject), &subject_len) != NE_OK) {
        *reason = NE_MQTT_RC_TOPIC_NAME_INVALID;
        return NULL;
    }
    int32_t props_len = ne_mqtt_props_message(&cp->will_props, props, sizeof(props));
    if (props_len < 0) {
        *reason = NE_MQTT_RC_IMPLEMENTATION_ERROR;
        return NULL;
    }
    ne_mqtt_payload payload = {cp->will_payload.ptr, NULL, 0, cp->will_payload.len};
    ne_mqtt_msg *w = ne_mqtt_msg_new(&m->store, cp->will_topic,
                                     (ne_mqtt_bytes){props, (uint32_t)props_len}, &payload);
    if (w == NULL) {
        *reason = NE_MQTT_RC_QUOTA_EXCEEDED;
        return NULL;
    }
    w->qos = cp->will_qos;
    w->retain = cp->will_retain;
    if ((cp->will_props.present & NE_MQTT_HAS(NE_MQTT_PROP_MESSAGE_EXPIRY)) != 0) {
        /* Counted from its publication (M3-35): expires_ms is set then. */
        w->has_expiry = true;
        w->expiry_s = cp->will_props.message_expiry;
    }
    return w;
}

/* Another connection of the same client id (M3-34, M5-22): the old one is
 * told 0x8E (5.0) and closed; its will goes now when its delay is 0 or the
 * session ends with it, and is dropped when the session goes on. */
static void take_over(ne_mqtt *m, ne_mqtt_session *s, bool clean_start)
{
    ne_mqtt_client *old = s->client;
    old->session = NULL;
    s->client = NULL;
    ne_conn_logf(old->conn, NE_LOG_INFO, "MQTT client id \"%.*s\" connected again: replaced",
                 (int)s->client_id_len, s->client_id);
    ne_mqtt_close_with(old->conn, NE_MQTT_RC_SESSION_TAKEN_OVER, NE_CLOSE_DUPLICATE_CLIENT_ID);
    if (s->will != NULL) {
        if (s->will_delay_s == 0 || !s->persistent || clean_start) {
            ne_mqtt_session_publish_will(m, s);
        } else {
            ne_mqtt_msg_release(&m->store, s->will);
            s->will = NULL;
        }
    }
}

/* The session for a CONNECT: resumed (*present), or new; NULL when none
 * can be had. */
static ne_mqtt_session *attach_session(ne_conn *conn, const uint8_t *id, uint16_t id_len,
                                       bool clean_start, bool *present)
{
    ne_mqtt *m = ne_mqtt_of(conn);
    ne_mqtt_session *s = ne_mqtt_session_find(m, id, id_len);
    if (s != NULL && s->client != NULL) {
        take_over(m, s, clean_start);
    }
    /* One of another account ends; a clean start, or one that ends with
     * its connection, starts again in place: its pending will goes
     * (M5-23). */
    *present = false;
    if (s != NULL && s->conn->acc != conn->acc) {
        ne_mqtt_session_end(m, s);
        s = NULL;
    }
    if (s == NULL) {
        return ne_mqtt_session_new(m, id, id_len, conn);
    }
    if (clean_start || !s->persistent) {
        ne_mqtt_session_reset(m, s);
    } else {
        *present = true;
    }
    /* Reconnected before the will delay passed: no will (M5-23). */
    if (s->will != NULL) {
        ne_mqtt_msg_release(&m->store, s->will);
        s->will = NULL;
    }
    s->will_at_ms = 0;
    s->conn->perms = conn->perms;
    s->conn->user_index = conn->user_index;
    s->conn->publish_checks = conn->publish_checks;
    return s;
}

/* A 5.0 client's claim on an alias table, made with its CONNACK (the
 * table itself is taken with the first alias either way, so that a client
 * that uses none holds none): with every table claimed it is told no Topic
 * Alias Maximum (0, M5: absent means 0) and is sent no aliases; false
 * then, and when aliases are off (NE_MQTT_TOPIC_ALIAS_MAX 0). */
static bool take_aliases(ne_mqtt *m, ne_mqtt_client *c)
{
    if (NE_MQTT_TOPIC_ALIAS_MAX == 0) {
        c->alias_max_out = 0;
        return false;
    }
    if (!c->alias_claim && m->alias_claims < NE_MQTT_ALIAS_TABLES) {
        c->alias_claim = true;
        m->alias_claims++;
    }
    if (!c->alias_claim) {
        m->alias_table_pool.exhausted++;
        ne_conn_logf(c->conn, NE_LOG_WARN,
                     "MQTT client gets no topic aliases: every alias table is claimed "
                     "(NE_MQTT_ALIAS_TABLES %u)",
                     (unsigned)NE_MQTT_ALIAS_TABLES);
        c->alias_max_in = 0;
        c->alias_max_out = 0;
        return false;
    }
    c->alias_max_in = NE_MQTT_TOPIC_ALIAS_MAX;
    return true;
}

static void send_connack(ne_conn *conn, bool present, const uint8_t *assigned,
                         uint16_t assigned_len)
{
    ne_mqtt *m = ne_mqtt_of(conn);
    ne_mqtt_client *c = client_of(conn);
    uint8_t pkt[64 + NE_MQTT_CLIENT_ID_BYTES];
    size_t n;
    if (c->version == NE_MQTT_V5) {
        ne_mqtt_props p;
        memset(&p, 0, sizeof(p));
        p.present = NE_MQTT_HAS(NE_MQTT_PROP_RECEIVE_MAXIMUM) |
                    NE_MQTT_HAS(NE_MQTT_PROP_MAXIMUM_PACKET_SIZE);
        p.receive_maximum = (uint16_t)NE_MIN(NE_MQTT_MAX_INBOUND_QOS2, 65535);
        p.maximum_packet_size = max_packet(m);
        if (take_aliases(m, c)) {
            p.present |= NE_MQTT_HAS(NE_MQTT_PROP_TOPIC_ALIAS_MAXIMUM);
            p.topic_alias_maximum = c->alias_max_in;
        }
        if (assigned_len > 0) {
            p.present |= NE_MQTT_HAS(NE_MQTT_PROP_ASSIGNED_CLIENT_ID); /* M5-44 */
            p.assigned_client_id = (ne_mqtt_bytes){assigned, assigned_len};
        }
        ne_mqtt_props_out po = {&p, {NULL, 0}, NULL, 0};
        n = ne_mqtt_encode_connack(pkt, sizeof(pkt), NE_MQTT_V5, present, 0, &po);
    } else {
        n = ne_mqtt_encode_connack(pkt, sizeof(pkt), NE_MQTT_V311, present, 0, NULL);
    }
    NE_ASSERT(n > 0);
    (void)ne_mqtt_send(conn, pkt, n);
}

/* The client's limits of a 5.0 CONNECT (M5-21): Receive Maximum, Maximum
 * Packet Size, Topic Alias Maximum, Request Problem Information. */
static void take_limits(ne_mqtt_client *c, const ne_mqtt_connect *cp)
{
    const ne_mqtt_props *p = &cp->props;
    c->receive_maximum = 65535;
    c->problem_info = true;
    if (cp->level != NE_MQTT_V5) {
        return;
    }
    if ((p->present & NE_MQTT_HAS(NE_MQTT_PROP_RECEIVE_MAXIMUM)) != 0) {
        c->receive_maximum = p->receive_maximum;
    }
    if ((p->present & NE_MQTT_HAS(NE_MQTT_PROP_MAXIMUM_PACKET_SIZE)) != 0) {
        c->maximum_packet_size = p->maximum_packet_size;
    }
    if ((p->present & NE_MQTT_HAS(NE_MQTT_PROP_TOPIC_ALIAS_MAXIMUM)) != 0) {
        c->alias_max_out = p->topic_alias_maximum;
    }
    if ((p->present & NE_MQTT_HAS(NE_MQTT_PROP_REQUEST_PROBLEM_INFO)) != 0) {
        c->problem_info = p->request_problem_info != 0;
    }
    if ((p->present & NE_MQTT_HAS(NE_MQTT_PROP_SESSION_EXPIRY)) != 0) {
        c->sei_at_connect = p->session_expiry;
    }
}

static void handle_connect(ne_conn *conn, const uint8_t *body, uint32_t len)
{
    ne_mqtt *m = ne_mqtt_of(conn);
    ne_mqtt_client *c = client_of(conn);
    ne_mqtt_connect cp;
    uint8_t reason = 0;
    switch (ne_mqtt_decode_connect(body, len, &cp, &reason)) {
    case NE_MQTT_CONNECT_OK:
        break;
    case NE_MQTT_CONNECT_CLOSE:
        ne_conn_logf(conn, NE_LOG_DEBUG, "MQTT CONNECT malformed");
        ne_conn_close(conn, NE_CLOSE_PROTOCOL_VIOLATION, NULL);
        return;
    case NE_MQTT_CONNECT_BAD_VERSION:
        /* 3.1.1's CONNACK form whatever the level asked (MQ-01, MB-04). */
        refuse(conn, NE_MQTT_V311, reason, NE_CLOSE_BAD_PROTOCOL_VERSION);
        return;
    case NE_MQTT_CONNECT_REFUSE:
        refuse(conn, cp.level, reason, NE_CLOSE_PROTOCOL_VIOLATION);
        return;
    }
    c->version = cp.level;
    bool v5 = cp.level == NE_MQTT_V5;
    if (v5 && (cp.props.present & NE_MQTT_HAS(NE_MQTT_PROP_AUTH_METHOD)) != 0) {
        /* No enhanced authentication method is supported (M5-46, MB-08). */
        refuse(conn, cp.level, NE_MQTT_RC_BAD_AUTH_METHOD, NE_CLOSE_AUTH_VIOLATION);
        return;
    }
    reason = authenticate(conn, &cp);
    if (reason != NE_MQTT_RC_SUCCESS) {
        refuse(conn, cp.level, reason, NE_CLOSE_AUTH_VIOLATION);
        return;
    }
    /* The client id (M3-23, MQ-07): an empty one is assigned unless a
     * 3.1.1 client wants its session kept. */
    uint8_t assigned[22];
    const uint8_t *id = cp.client_id.ptr;
    uint16_t id_len = (uint16_t)cp.client_id.len;
    if (cp.client_id.len == 0) {
        if (!v5 && !cp.clean_start) {
            refuse(conn, cp.level, NE_MQTT_RC_CLIENT_ID_NOT_VALID, NE_CLOSE_PROTOCOL_VIOLATION);
            return;
        }
        ne_rng_text(m->rng, (char *)assigned, sizeof(assigned), NE_RNG_BASE62);
        id = assigned;
        id_len = sizeof(assigned);
    } else if (cp.client_id.len > NE_MQTT_CLIENT_ID_BYTES) {
        refuse(conn, cp.level, NE_MQTT_RC_CLIENT_ID_NOT_VALID, NE_CLOSE_PROTOCOL_VIOLATION);
        return;
    }
    ne_mqtt_msg *will = NULL;
    if (cp.will && (will = make_will(m, &cp, &reason)) == NULL) {
        refuse(conn, cp.level, reason, NE_CLOSE_PROTOCOL_VIOLATION);
        return;
    }
    take_limits(c, &cp);
    bool present = false;
    ne_mqtt_session *s = attach_session(conn, id, id_len, cp.clean_start, &present);
    if (s == NULL) {
        if (will != NULL) {
            ne_mqtt_msg_release(&m->store, will);
        }
        refuse(conn, cp.level, NE_MQTT_RC_QUOTA_EXCEEDED, NE_CLOSE_MAX_CONNECTIONS);
        return;
    }
    s->version = cp.level;
    if (v5) {
        s->persistent = c->sei_at_connect > 0;
        s->expiry_s = c->sei_at_connect; /* 0xFFFFFFFF: never (M5-19) */
    } else {
        s->persistent = !cp.clean_start;
        s->expiry_s = UINT32_MAX; /* 3.1.1 sessions never expire (M3-30) */
    }
    s->will = will;
    s->will_delay_s = will != NULL ? cp.will_props.will_delay : 0; /* 0 when absent */
    s->client = c;
    s->offline_since_ms = 0;
    c->session = s;
    c->connected = true;
    c->keep_alive_s = cp.keep_alive_s;
    ne_router_join(m->router, conn, conn->acc);
    c->joined = true;
    ne_mqtt_dirty(m, s);
    ne_mqtt_persist_flush(m); /* a persistent session is on the device before CONNACK */
    send_connack(conn, present, cp.client_id.len == 0 ? assigned : NULL,
                 cp.client_id.len == 0 ? (uint16_t)sizeof(assigned) : 0);
    ne_conn_logf(conn, NE_LOG_DEBUG, "MQTT client \"%.*s\" connected (%s, session %s)", (int)id_len,
                 (const char *)id, v5 ? "5.0" : "3.1.1", present ? "resumed" : "new");
    if (present) {
        ne_mqtt_session_resume(m, s);
    }
}

/* ---- PUBLISH --------------------------------------------------------------------------- */

/* What a PUBLISH's head says, checked, with its subject and reply. */
typedef struct pub_head {
    ne_mqtt_pub pub;
    uint8_t dup;
    uint16_t packet_id;
    uint32_t payload_len;
    uint32_t head_len;
    char subject[NE_MQTT_SUBJECT_BYTES];
    char reply[2 * NE_MQTT_MAX_PROPS_BYTES + 2];
    uint8_t props[NE_MQTT_MAX_PROPS_BYTES];
    uint8_t nats_hdr[2 * NE_MQTT_MAX_PROPS_BYTES + 64];
    size_t nats_hdr_len;
} pub_head;

typedef enum pub_check {
    PUB_GO,       /* route it */
    PUB_ANSWERED, /* answered without routing: its payload is skipped */
    PUB_CLOSED,   /* the connection is closing */
} pub_check;

static void send_ack(ne_conn *conn, ne_mqtt_type type, uint16_t id, uint8_t reason)
{
    ne_mqtt_client *c = client_of(conn);
    uint8_t pkt[8];
    size_t n = ne_mqtt_encode_ack(pkt, sizeof(pkt), c->version, type, id,
                                  c->version == NE_MQTT_V5 ? reason : 0, NULL);
    NE_ASSERT(n > 0);
    (void)ne_mqtt_send(conn, pkt, n);
}

/* A message the server does not take (M5-50): a 5.0 client's QoS 1/2 is
 * acknowledged with the reason, its QoS 0 dropped; a 3.1.1 client, which
 * has no such answer, is closed as nats-server closes it. */
static pub_check refuse_message(ne_conn *conn, const ne_mqtt_publish *p, uint8_t reason)
{
    ne_mqtt_client *c = client_of(conn);
    ne_conn_logf(conn, NE_LOG_DEBUG, "MQTT PUBLISH not taken (reason 0x%02x)", reason);
    if (c->version != NE_MQTT_V5) {
        ne_conn_close(conn, NE_CLOSE_PROTOCOL_VIOLATION, NULL);
        return PUB_CLOSED;
    }
    if (p->qos > 0) {
        send_ack(conn, p->qos == 1 ? NE_MQTT_PUBACK : NE_MQTT_PUBREC, p->packet_id, reason);
    }
    return PUB_ANSWERED;
}

/* The topic of a PUBLISH after its Topic Alias (M5-28, M5-29). */
ne_mqtt_alias_table *ne_mqtt_alias_table_of(ne_mqtt *m, ne_mqtt_client *c)
{
    if (c->aliases == NULL && c->alias_claim) {
        c->aliases = ne_pool_alloc(&m->alias_table_pool);
        NE_ASSERT(c->aliases != NULL); /* claimed: alias_claims <= NE_MQTT_ALIAS_TABLES */
    }
    return c->aliases;
}

static bool resolve_alias(ne_conn *conn, ne_mqtt_publish *p)
{
    ne_mqtt_client *c = client_of(conn);
    if ((p->props.present & NE_MQTT_HAS(NE_MQTT_PROP_TOPIC_ALIAS)) == 0) {
        if (p->topic.len == 0) {
            fault(conn,
                  c->version == NE_MQTT_V5 ? NE_MQTT_RC_PROTOCOL_ERROR : NE_MQTT_RC_MALFORMED);
            return false;
        }
        return true;
    }
    uint16_t alias = p->props.topic_alias;
    if (alias == 0 || alias > c->alias_max_in ||
        ne_mqtt_alias_table_of(ne_mqtt_of(conn), c) == NULL) {
        fault(conn, NE_MQTT_RC_TOPIC_ALIAS_INVALID);
        return false;
    }
    ne_mqtt_alias *a = &c->aliases->in[alias - 1];
    if (p->topic.len == 0) {
        if (a->len == 0) {
            fault(conn, NE_MQTT_RC_PROTOCOL_ERROR); /* an alias never bound */
            return false;
        }
        p->topic = (ne_mqtt_bytes){a->topic, a->len};
        return true;
    }
    if (p->topic.len > NE_MQTT_ALIAS_TOPIC_BYTES) {
        ne_conn_logf(conn, NE_LOG_WARN,
                     "MQTT topic alias for a topic of %u bytes: above NE_MQTT_ALIAS_TOPIC_BYTES",
                     (unsigned)p->topic.len);
        fault(conn, NE_MQTT_RC_IMPLEMENTATION_ERROR);
        return false;
    }
    memcpy(a->topic, p->topic.ptr, p->topic.len);
    a->len = (uint16_t)p->topic.len;
    return true;
}

static bool inbound_held(const ne_mqtt_session *s, uint16_t id)
{
    for (uint32_t i = 0; i < s->inbound_count; i++) {
        if (s->inbound[i] == id) {
            return true;
        }
    }
    return false;
}

/* Checks a PUBLISH's head and works out its subject, reply and NATS
 * header. */
static pub_check check_publish(ne_conn *conn, ne_mqtt_publish *p, pub_head *h)
{
    ne_mqtt_client *c = client_of(conn);
    ne_mqtt_session *s = c->session;
    NE_ASSERT(s != NULL);
    if (!resolve_alias(conn, p)) {
        return PUB_CLOSED;
    }
    if (!ne_mqtt_topic_name_valid(p->topic.ptr, p->topic.len)) {
        fault(conn, NE_MQTT_RC_TOPIC_NAME_INVALID); /* wildcards: MQ-15 */
        return PUB_CLOSED;
    }
    memset(&h->pub, 0, sizeof(h->pub));
    size_t subject_len = 0;
    if (p->topic.len > NE_MQTT_MAX_TOPIC_BYTES || p->props.raw.len > NE_MQTT_MAX_PROPS_BYTES ||
        ne_mqtt_topic_to_subject(p->topic.ptr, p->topic.len, false, h->subject, sizeof(h->subject),
                                 &subject_len) != NE_OK) {
        return refuse_message(conn, p, NE_MQTT_RC_TOPIC_NAME_INVALID); /* MQ-16 */
    }
    h->pub.subject = (ne_slice){h->subject, (uint32_t)subject_len};
    const ne_mqtt_props *pp = &p->props;
    if ((pp->present & NE_MQTT_HAS(NE_MQTT_PROP_RESPONSE_TOPIC)) != 0) {
        if (!ne_mqtt_topic_name_valid(pp->response_topic.ptr, pp->response_topic.len)) {
            fault(conn, NE_MQTT_RC_PROTOCOL_ERROR); /* [MQTT-3.3.2-14] */
            return PUB_CLOSED;
        }
        size_t n = 0;
        if (ne_mqtt_topic_to_subject(pp->response_topic.ptr, pp->response_topic.len, false,
                                     h->reply, sizeof(h->reply), &n) == NE_OK) {
            h->pub.reply = (ne_slice){h->reply, (uint32_t)n};
        }
    }
    if (p->qos == 2 && inbound_held(s, p->packet_id)) {
        send_ack(conn, NE_MQTT_PUBREC, p->packet_id, 0); /* sent again: once only (M3-39) */
        return PUB_ANSWERED;
    }
    if (p->qos == 2 && s->inbound_count == NE_MQTT_MAX_INBOUND_QOS2) {
        ne_conn_logf(conn, NE_LOG_WARN,
                     "MQTT client has %u QoS 2 messages unreleased: NE_MQTT_MAX_INBOUND_QOS2",
                     (unsigned)NE_MQTT_MAX_INBOUND_QOS2);
        fault(conn, NE_MQTT_RC_RECEIVE_MAXIMUM_EXCEEDED); /* M5-26 */
        return PUB_CLOSED;
    }
    if (p->qos == 2 && !ne_mqtt_session_inbound_take(ne_mqtt_of(conn), s)) {
        /* Not routed: without a table its id could not be remembered, and
         * a resent copy would be delivered twice. */
        return refuse_message(conn, p, NE_MQTT_RC_QUOTA_EXCEEDED);
    }
    int32_t props_len = ne_mqtt_props_message(pp, h->props, sizeof(h->props));
    NE_ASSERT(props_len >= 0);
    h->pub.props = (ne_mqtt_bytes){h->props, (uint32_t)props_len};
    h->pub.qos = p->qos;
    h->pub.retain = p->retain;
    h->pub.publisher = s;
    h->pub.topic = p->topic;
    h->pub.has_expiry = (pp->present & NE_MQTT_HAS(NE_MQTT_PROP_MESSAGE_EXPIRY)) != 0;
    h->pub.expiry_s = pp->message_expiry;
    h->dup = p->dup;
    h->packet_id = p->packet_id;
    h->payload_len = p->payload_len;
    h->head_len = p->head_len;
    h->nats_hdr_len = ne_mqtt_nats_header(h->nats_hdr, sizeof(h->nats_hdr), p->qos, h->pub.props);
    NE_ASSERT(h->nats_hdr_len > 0);
    return PUB_GO;
}

/* After routing: PUBACK or PUBREC (M3-37, M3-39, MB-16); a refused
 * publish gets 0x87 (5.0), or is acknowledged as 3.1.1 requires (M3-29). */
static void answer_publish(ne_conn *conn, uint8_t qos, uint16_t id, int rc, uint32_t delivered)
{
    ne_mqtt_client *c = client_of(conn);
    ne_mqtt *m = ne_mqtt_of(conn);
    if (qos == 0) {
        return;
    }
    uint8_t reason = rc == NE_ERR_PERMISSION ? NE_MQTT_RC_NOT_AUTHORIZED
                     : delivered == 0        ? NE_MQTT_RC_NO_MATCHING_SUBSCRIBERS
                                             : NE_MQTT_RC_SUCCESS;
    bool held = true;
    if (qos == 2 && c->session != NULL) {
        /* A routed message's id is held even when its client is closing:
         * sent again, it is answered without being routed twice. */
        ne_mqtt_session *s = c->session;
        if (reason < 0x80 && s->inbound != NULL && s->inbound_count < NE_MQTT_MAX_INBOUND_QOS2) {
            held = ne_mqtt_persist_commit(m);
            if (held) {
                s->inbound[s->inbound_count++] = id;
                ne_mqtt_dirty(m, s);
            }
        }
        ne_mqtt_session_inbound_release(m, s); /* refused: none held */
    }
    if (conn->closing) {
        return;
    }
    /* What the message left in persistent sessions (and the retained
     * table) is durable before the publisher hears it was received; when
     * the device fails, the publisher is closed unacknowledged and sends
     * it again (M3-37). */
    if (!held || !ne_mqtt_persist_flush(m)) {
        ne_mqtt_close_with(conn, NE_MQTT_RC_UNSPECIFIED, NE_CLOSE_WRITE_ERROR);
        return;
    }
    send_ack(conn, qos == 1 ? NE_MQTT_PUBACK : NE_MQTT_PUBREC, id, reason);
}

/* Routes a PUBLISH and answers it; a persistent session's QoS 2 as one
 * transaction (ne_mqtt_txn). */
static void route_and_answer(ne_conn *conn, const ne_mqtt_pub *pub, ne_msg *msg, uint16_t id)
{
    ne_mqtt *m = ne_mqtt_of(conn);
    ne_mqtt_session *s = client_of(conn)->session;
    uint32_t delivered = 0;
    int rc = NE_OK;
    if (s != NULL) {
        ne_mqtt_persist_txn_begin(m, s, pub->qos);
        rc = ne_mqtt_route(m, conn, pub, msg, &delivered);
    }
    answer_publish(conn, pub->qos, id, rc, delivered);
    ne_mqtt_session_txn_end(m);
}

/* A PUBLISH whole in the buffer whose NATS form fits the scratch. */
static void publish_in_place(ne_conn *conn, pub_head *h, const uint8_t *payload)
{
    ne_mqtt *m = ne_mqtt_of(conn);
    uint8_t *w = m->nats_scratch;
    memcpy(w, h->nats_hdr, h->nats_hdr_len);
    memcpy(w + h->nats_hdr_len, payload, h->payload_len);
    memcpy(w + h->nats_hdr_len + h->payload_len, "\r\n", 2);
    ne_msg msg;
    NE_MSG_CLEAR(&msg);
    msg.subject = h->pub.subject;
    msg.reply = h->pub.reply;
    msg.hdr_len = (uint32_t)h->nats_hdr_len;
    msg.total_len = (uint32_t)h->nats_hdr_len + h->payload_len;
    msg.has_headers = true;
    msg.data = w;
    route_and_answer(conn, &h->pub, &msg, h->packet_id);
}

/* Copies n bytes (src may be NULL when n is 0); returns the end. */
static uint8_t *put(uint8_t *w, const void *src, size_t n)
{
    if (n > 0) {
        memcpy(w, src, n);
    }
    return w + n;
}

/* A large PUBLISH: its head is kept in the first chunk of a chain promised
 * whole before its first byte (as router/ne_frame.c does for NATS), then
 * its payload follows as it arrives. False when no promise can be had now:
 * the caller pauses its reads and tries again. */
static bool spill_start(ne_conn *conn, const pub_head *h)
{
    ne_mqtt_client *c = client_of(conn);
    size_t head = h->pub.subject.len + h->pub.reply.len + h->pub.topic.len + h->pub.props.len +
                  h->nats_hdr_len;
    NE_ASSERT(head <= NE_CHUNK_BYTES);
    size_t total = head + h->payload_len + 2;
    uint32_t need = (uint32_t)((total + NE_CHUNK_BYTES - 1) / NE_CHUNK_BYTES);
    if (!ne_conns_partial_admit(conn, need)) {
        return false;
    }
    ne_chunk *first = ne_chunk_alloc_promised(&conn->set->chunks);
    uint8_t *w = first->data;
    w = put(w, h->pub.subject.ptr, h->pub.subject.len);
    w = put(w, h->pub.reply.ptr, h->pub.reply.len);
    w = put(w, h->pub.topic.ptr, h->pub.topic.len);
    w = put(w, h->pub.props.ptr, h->pub.props.len);
    (void)put(w, h->nats_hdr, h->nats_hdr_len);
    first->used = (uint32_t)head;
    ne_spill *sp = conn->io->spill;
    sp->head = first;
    sp->tail = first;
    sp->chunks = need;
    sp->promised = need - 1;
    sp->start_ms = conn->set->now_ms;
    sp->last_ms = conn->set->now_ms;
    sp->remaining = h->payload_len + 2;
    sp->total_len = h->payload_len;
    sp->subject_len = h->pub.subject.len;
    sp->reply_len = h->pub.reply.len;
    sp->hdr_len = (uint32_t)h->nats_hdr_len;
    sp->queue_len = 0;
    ne_mqtt_spill *ms = &c->spill;
    ms->qos = h->pub.qos;
    ms->retain = h->pub.retain;
    ms->packet_id = h->packet_id;
    ms->topic_len = (uint16_t)h->pub.topic.len;
    ms->props_len = (uint16_t)h->pub.props.len;
    ms->subject_len = h->pub.subject.len;
    ms->reply_len = h->pub.reply.len;
    ms->nats_hdr_len = (uint32_t)h->nats_hdr_len;
    ms->has_expiry = h->pub.has_expiry;
    ms->expiry_s = h->pub.expiry_s;
    return true;
}

static void spill_finish(ne_conn *conn)
{
    ne_mqtt_client *c = client_of(conn);
    const ne_spill *sp = conn->io->spill;
    NE_ASSERT(sp->promised == 0);
    ne_chunk *chain = sp->head;
    uint32_t payload_len = sp->total_len;
    const ne_mqtt_spill *ms = &c->spill;
    ne_conn_spill_end(conn); /* sp is gone */
    const uint8_t *d = chain->data;
    ne_mqtt_pub pub;
    memset(&pub, 0, sizeof(pub));
    pub.subject = (ne_slice){(const char *)d, ms->subject_len};
    pub.reply = (ne_slice){(const char *)d + ms->subject_len, ms->reply_len};
    uint32_t at = ms->subject_len + ms->reply_len;
    pub.topic = (ne_mqtt_bytes){d + at, ms->topic_len};
    pub.props = (ne_mqtt_bytes){d + at + ms->topic_len, ms->props_len};
    pub.qos = ms->qos;
    pub.retain = ms->retain;
    pub.publisher = c->session;
    pub.has_expiry = ms->has_expiry;
    pub.expiry_s = ms->expiry_s;
    ne_msg msg;
    NE_MSG_CLEAR(&msg);
    msg.subject = pub.subject;
    msg.reply = pub.reply;
    msg.hdr_len = ms->nats_hdr_len;
    msg.total_len = ms->nats_hdr_len + payload_len;
    msg.has_headers = true;
    msg.chain = chain;
    msg.chain_offset = at + ms->topic_len + ms->props_len;
    route_and_answer(conn, &pub, &msg, ms->packet_id);
    ne_chunk_chain_release(&conn->set->chunks, chain);
}

/* Appends bytes to the chain of a large PUBLISH, taking promised chunks. */
static void spill_append(ne_conn *conn, const uint8_t *bytes, uint32_t len)
{
    ne_spill *sp = conn->io->spill;
    uint32_t done = 0;
    /* Each pass fills the tail chunk or takes the next promised one. */
    while (done < len) {
        ne_chunk *c = sp->tail;
        if (c->used == NE_CHUNK_BYTES) {
            NE_ASSERT(sp->promised > 0);
            c->next = ne_chunk_alloc_promised(&conn->set->chunks);
            sp->promised--;
            c = c->next;
            sp->tail = c;
        }
        uint32_t n = NE_MIN(len - done, (uint32_t)NE_CHUNK_BYTES - c->used);
        memcpy(c->data + c->used, bytes + done, n);
        c->used += n;
        done += n;
    }
}

/* Payload bytes of a large PUBLISH into its chain; the CRLF a NATS
 * payload ends with is added after the last one. */
static uint32_t spill_feed(ne_conn *conn, const uint8_t *bytes, uint32_t len)
{
    ne_spill *sp = conn->io->spill;
    NE_ASSERT(sp->remaining >= 2);
    uint32_t take = NE_MIN(len, sp->remaining - 2);
    spill_append(conn, bytes, take);
    sp->remaining -= take;
    if (take > 0) {
        sp->last_ms = conn->set->now_ms;
    }
    if (sp->remaining == 2) {
        spill_append(conn, (const uint8_t *)"\r\n", 2);
        sp->remaining = 0;
        spill_finish(conn);
    }
    return take;
}

/* A PUBLISH of `total` body bytes of which `avail` are here. Returns the
 * body bytes consumed, 0 to wait for more (or paused, or closed). */
static uint32_t handle_publish(ne_conn *conn, uint8_t first, const uint8_t *body, uint32_t avail,
                               uint32_t total)
{
    ne_mqtt_client *c = client_of(conn);
    ne_mqtt_publish p;
    uint8_t reason = 0;
    int rc = ne_mqtt_decode_publish(first, body, avail, total, c->version, true, &p, &reason);
    if (rc == NE_ERR_WOULD_BLOCK) {
        if (avail >= NE_MQTT_MAX_TOPIC_BYTES + NE_MQTT_MAX_PROPS_BYTES + 16) {
            /* A head longer than any taken, for a packet larger than the
             * read buffer: it cannot even be read. */
            fault(conn, NE_MQTT_RC_TOPIC_NAME_INVALID);
        }
        return 0;
    }
    if (rc != NE_OK) {
        fault(conn, reason);
        return 0;
    }
    pub_head h;
    switch (check_publish(conn, &p, &h)) {
    case PUB_CLOSED:
        return 0;
    case PUB_ANSWERED:
        if (total <= avail) {
            return total;
        }
        c->skip_bytes = total - avail; /* its payload is skipped as it arrives */
        return avail;
    case PUB_GO:
        break;
    }
    size_t nats_len = h.nats_hdr_len + h.payload_len + 2;
    ne_mqtt *m = ne_mqtt_of(conn);
    if (total <= avail && nats_len <= sizeof(m->nats_scratch)) {
        publish_in_place(conn, &h, p.payload);
        return total;
    }
    if (!spill_start(conn, &h)) {
        ne_conn_pause_reads(conn);
        return 0;
    }
    return h.head_len + spill_feed(conn, body + h.head_len, avail - h.head_len);
}

/* ---- SUBSCRIBE, UNSUBSCRIBE ------------------------------------------------------------- */

typedef struct replay {
    ne_mqtt_bytes filter; /* the filter part (no "$share/...") */
    ne_mqtt_sub *entry;
} replay;

/* The codes of a SUBACK or UNSUBACK, queued after its head as they are
 * known (a packet may name more filters than a buffer holds). */
typedef struct code_writer {
    ne_conn *conn;
    uint8_t buf[64];
    uint32_t len;
} code_writer;

static void code_put(code_writer *w, uint8_t code)
{
    w->buf[w->len++] = code;
    if (w->len == sizeof(w->buf)) {
        (void)ne_mqtt_send(w->conn, w->buf, w->len);
        w->len = 0;
    }
}

static void code_flush(code_writer *w)
{
    if (w->len > 0) {
        (void)ne_mqtt_send(w->conn, w->buf, w->len);
        w->len = 0;
    }
}

/* SUBACK/UNSUBACK's fixed header, packet id and (5.0) empty properties,
 * for `count` codes. */
static bool ack_head(ne_conn *conn, ne_mqtt_type type, uint16_t id, uint32_t count)
{
    ne_mqtt_client *c = client_of(conn);
    bool v5 = c->version == NE_MQTT_V5;
    bool codes = type == NE_MQTT_SUBACK || v5;
    uint32_t rl = 2 + (v5 ? 1u : 0u) + (codes ? count : 0u);
    uint8_t head[8];
    head[0] = (uint8_t)(type << 4);
    uint32_t n = ne_mqtt_vbi_encode(head + 1, sizeof(head) - 1, rl);
    NE_ASSERT(n > 0);
    head[1 + n] = (uint8_t)(id >> 8);
    head[2 + n] = (uint8_t)id;
    uint32_t len = 3 + n;
    if (v5) {
        head[len++] = 0;
    }
    return ne_mqtt_send(conn, head, len);
}

static void handle_subscribe(ne_conn *conn, uint8_t first, const uint8_t *body, uint32_t len)
{
    ne_mqtt *m = ne_mqtt_of(conn);
    ne_mqtt_client *c = client_of(conn);
    ne_mqtt_session *s = c->session;
    ne_mqtt_subscribe sub;
    uint8_t reason = 0;
    if (ne_mqtt_decode_subscribe(first, body, len, c->version, &sub, &reason) != NE_OK) {
        fault(conn, reason);
        return;
    }
    bool v5 = c->version == NE_MQTT_V5;
    uint32_t sub_id = sub.props.sub_id_count > 0 ? sub.props.sub_ids[0] : 0;
    /* Syntax first: a 5.0 filter that breaks it is a malformed packet
     * (M3-44); No Local on a shared one a protocol error (M5-32). */
    uint32_t pos = 0;
    ne_mqtt_bytes f;
    ne_mqtt_sub_options o;
    for (uint32_t i = 0; i < sub.count && ne_mqtt_next_filter(&sub, &pos, &f, &o); i++) {
        const uint8_t *g, *rest;
        size_t gl, rl;
        int shared = ne_mqtt_shared_split(f.ptr, f.len, &g, &gl, &rest, &rl);
        bool valid = shared == 1   ? ne_mqtt_filter_valid(rest, rl)
                     : shared == 0 ? ne_mqtt_filter_valid(f.ptr, f.len)
                                   : true; /* an invalid share gets its SUBACK code */
        if (v5 && !valid) {
            fault(conn, NE_MQTT_RC_MALFORMED);
            return;
        }
        if (v5 && shared == 1 && o.no_local) {
            fault(conn, NE_MQTT_RC_PROTOCOL_ERROR);
            return;
        }
    }
    if (!ack_head(conn, NE_MQTT_SUBACK, sub.packet_id, sub.count)) {
        return;
    }
    code_writer w = {conn, {0}, 0};
    replay replays[NE_MQTT_REPLAYS];
    uint32_t replay_count = 0;
    pos = 0;
    for (uint32_t i = 0; i < sub.count && ne_mqtt_next_filter(&sub, &pos, &f, &o); i++) {
        const uint8_t *g, *rest;
        size_t gl, rl;
        int shared = ne_mqtt_shared_split(f.ptr, f.len, &g, &gl, &rest, &rl);
        bool valid = shared == 1 ? ne_mqtt_filter_valid(rest, rl)
                                 : shared == 0 && ne_mqtt_filter_valid(f.ptr, f.len);
        if (!valid || f.len > NE_MQTT_MAX_TOPIC_BYTES) {
            /* 3.1.1: nats-server's SUBACK 0x80 for a bad filter (MQ-10). */
            code_put(&w, v5 ? NE_MQTT_RC_TOPIC_FILTER_INVALID : NE_MQTT_RC_UNSPECIFIED);
            continue;
        }
        bool want_replay = false;
        ne_mqtt_sub *entry = NULL;
        code_put(&w, ne_mqtt_session_subscribe(m, s, f, &o, v5 ? sub_id : 0, &want_replay, &entry));
        if (want_replay && replay_count < NE_MQTT_REPLAYS) {
            replays[replay_count].filter = shared == 1 ? (ne_mqtt_bytes){rest, (uint32_t)rl} : f;
            replays[replay_count].entry = entry;
            replay_count++;
        }
    }
    ne_mqtt_persist_flush(m); /* the filters are durable before the SUBACK is whole */
    code_flush(&w);
    /* Retained messages after the SUBACK (MQ-23). */
    for (uint32_t i = 0; i < replay_count && !conn->closing && c->session == s; i++) {
        if (replays[i].entry->sub != NULL) {
            ne_mqtt_session_replay(m, s, replays[i].filter, replays[i].entry);
        }
    }
}

static void handle_unsubscribe(ne_conn *conn, uint8_t first, const uint8_t *body, uint32_t len)
{
    ne_mqtt *m = ne_mqtt_of(conn);
    ne_mqtt_client *c = client_of(conn);
    ne_mqtt_subscribe sub;
    uint8_t reason = 0;
    if (ne_mqtt_decode_subscribe(first, body, len, c->version, &sub, &reason) != NE_OK) {
        fault(conn, reason);
        return;
    }
    /* 5.0's UNSUBACK carries a code per filter, written as they go; a
     * 3.1.1 one is its head alone, written once the filters are gone. */
    bool v5 = c->version == NE_MQTT_V5;
    if (v5 && !ack_head(conn, NE_MQTT_UNSUBACK, sub.packet_id, sub.count)) {
        return;
    }
    code_writer w = {conn, {0}, 0};
    uint32_t pos = 0;
    ne_mqtt_bytes f;
    ne_mqtt_sub_options o;
    for (uint32_t i = 0; i < sub.count && ne_mqtt_next_filter(&sub, &pos, &f, &o); i++) {
        uint8_t code = ne_mqtt_session_unsubscribe(m, c->session, f);
        if (v5) {
            code_put(&w, code);
        }
    }
    ne_mqtt_persist_flush(m);
    if (!v5) {
        (void)ack_head(conn, NE_MQTT_UNSUBACK, sub.packet_id, sub.count);
    }
    code_flush(&w);
}

/* ---- The other packets ---------------------------------------------------------------------- */

static void handle_ack(ne_conn *conn, ne_mqtt_type type, const uint8_t *body, uint32_t len)
{
    ne_mqtt *m = ne_mqtt_of(conn);
    ne_mqtt_client *c = client_of(conn);
    ne_mqtt_ack a;
    uint8_t reason = 0;
    if (ne_mqtt_decode_ack(body, len, c->version, &a, &reason) != NE_OK) {
        fault(conn, reason);
        return;
    }
    ne_mqtt_session *s = c->session;
    switch (type) {
    case NE_MQTT_PUBACK:
        ne_mqtt_session_puback(m, s, a.packet_id);
        break;
    case NE_MQTT_PUBREC:
        ne_mqtt_session_pubrec(m, s, a.packet_id, a.reason);
        break;
    case NE_MQTT_PUBCOMP:
        ne_mqtt_session_pubcomp(m, s, a.packet_id);
        break;
    default: {
        /* PUBREL: the QoS 2 id is released (M3-39); an unknown one is
         * completed all the same, with 0x92 for 5.0. */
        NE_ASSERT(type == NE_MQTT_PUBREL);
        bool found = false;
        for (uint32_t i = 0; i < s->inbound_count; i++) {
            if (s->inbound[i] == a.packet_id) {
                s->inbound[i] = s->inbound[--s->inbound_count];
                ne_mqtt_dirty(m, s);
                found = true;
                break;
            }
        }
        ne_mqtt_session_inbound_release(m, s);
        send_ack(conn, NE_MQTT_PUBCOMP, a.packet_id,
                 found ? NE_MQTT_RC_SUCCESS : NE_MQTT_RC_PACKET_ID_NOT_FOUND);
        break;
    }
    }
}

static void handle_disconnect(ne_conn *conn, const uint8_t *body, uint32_t len)
{
    ne_mqtt_client *c = client_of(conn);
    ne_mqtt_disconnect d;
    uint8_t reason = 0;
    if (ne_mqtt_decode_disconnect(body, len, c->version, &d, &reason) != NE_OK) {
        fault(conn, reason);
        return;
    }
    ne_mqtt_session *s = c->session;
    if ((d.props.present & NE_MQTT_HAS(NE_MQTT_PROP_SESSION_EXPIRY)) != 0) {
        if (c->sei_at_connect == 0 && d.props.session_expiry != 0) {
            fault(conn, NE_MQTT_RC_PROTOCOL_ERROR); /* M5-20 */
            return;
        }
        if (s != NULL) {
            ne_mqtt_dirty(ne_mqtt_of(conn), s); /* while it may still be on the device */
            s->expiry_s = d.props.session_expiry;
            s->persistent = d.props.session_expiry > 0;
        }
    }
    /* The will goes unless the client said so (M5-18). */
    c->clean_disconnect = d.reason == NE_MQTT_RC_SUCCESS;
    ne_conn_close(conn, NE_CLOSE_CLIENT_CLOSED, NULL);
}

static void handle_packet(ne_conn *conn, uint8_t first, const uint8_t *body, uint32_t len)
{
    uint8_t type = first >> 4;
    switch (type) {
    case NE_MQTT_CONNECT:
        handle_connect(conn, body, len);
        break;
    case NE_MQTT_PUBACK:
    case NE_MQTT_PUBREC:
    case NE_MQTT_PUBREL:
    case NE_MQTT_PUBCOMP:
        handle_ack(conn, (ne_mqtt_type)type, body, len);
        break;
    case NE_MQTT_SUBSCRIBE:
        handle_subscribe(conn, first, body, len);
        break;
    case NE_MQTT_UNSUBSCRIBE:
        handle_unsubscribe(conn, first, body, len);
        break;
    case NE_MQTT_PINGREQ: {
        if (len != 0) {
            fault(conn, NE_MQTT_RC_MALFORMED); /* M3-06 */
            break;
        }
        uint8_t resp[2];
        (void)ne_mqtt_send(conn, resp, ne_mqtt_encode_empty(resp, sizeof(resp), NE_MQTT_PINGRESP));
        break;
    }
    case NE_MQTT_DISCONNECT:
        handle_disconnect(conn, body, len);
        break;
    case NE_MQTT_AUTH:
        /* No enhanced authentication was begun: AUTH is a protocol error
         * (M5-46, [MQTT-4.12.0-7]); 3.1.1 has no such packet (M3-04). */
        fault(conn, client_of(conn)->version == NE_MQTT_V5 ? NE_MQTT_RC_PROTOCOL_ERROR
                                                           : NE_MQTT_RC_MALFORMED);
        break;
    default:
        /* Type 0 and the server's own packets (M3-04). */
        fault(conn, NE_MQTT_RC_PROTOCOL_ERROR);
        break;
    }
}

/* The checks of a fixed header before the body is read (M3-02, M3-05,
 * M3-08); false when the connection closes. */
static bool header_allowed(ne_conn *conn, uint8_t first, uint64_t total)
{
    ne_mqtt *m = ne_mqtt_of(conn);
    ne_mqtt_client *c = client_of(conn);
    uint8_t type = first >> 4;
    if (!c->connected) {
        /* The first packet is CONNECT (M3-05), and it must fit a buffer. */
        if (type != NE_MQTT_CONNECT || !ne_mqtt_flags_valid(first) ||
            total > (size_t)NE_CONN_READ_BUFFER_BYTES || total > max_packet(m)) {
            ne_conn_logf(conn, NE_LOG_DEBUG, "MQTT: the first packet is not a CONNECT");
            ne_conn_close(conn, NE_CLOSE_PROTOCOL_VIOLATION, NULL);
            return false;
        }
        return true;
    }
    if (type == NE_MQTT_CONNECT) {
        fault(conn, NE_MQTT_RC_PROTOCOL_ERROR); /* a second CONNECT */
        return false;
    }
    if (!ne_mqtt_flags_valid(first)) {
        fault(conn, NE_MQTT_RC_MALFORMED);
        return false;
    }
    if (total > max_packet(m) ||
        (type != NE_MQTT_PUBLISH && total > (size_t)NE_CONN_READ_BUFFER_BYTES)) {
        ne_conn_logf(conn, NE_LOG_DEBUG, "MQTT packet of %llu bytes: above max_payload",
                     (unsigned long long)total);
        fault(conn, NE_MQTT_RC_PACKET_TOO_LARGE); /* M5-27 */
        return false;
    }
    return true;
}

static uint32_t mqtt_input(ne_conn *conn, uint8_t *buf, uint32_t len)
{
    ne_mqtt_client *c = client_of(conn);
    ne_conn_io *io = conn->io;
    uint32_t pos = 0;
    /* Each pass consumes at least one byte, or leaves. */
    while (pos < len && !conn->closing && !io->read_paused) {
        uint32_t avail = len - pos;
        if (c->skip_bytes > 0) {
            uint32_t take = NE_MIN(avail, c->skip_bytes);
            c->skip_bytes -= take;
            pos += take;
            continue;
        }
        if (io->spill != NULL) {
            pos += spill_feed(conn, buf + pos, avail);
            continue;
        }
        uint8_t first;
        uint32_t rl, hl;
        int rc = ne_mqtt_fixed_header(buf + pos, avail, &first, &rl, &hl);
        if (rc == NE_ERR_WOULD_BLOCK) {
            break;
        }
        if (rc != NE_OK) {
            fault(conn, NE_MQTT_RC_MALFORMED); /* a fifth length byte (M3-07) */
            break;
        }
        uint64_t total = (uint64_t)hl + rl;
        if (!header_allowed(conn, first, total)) {
            break;
        }
        if ((first >> 4) == NE_MQTT_PUBLISH) {
            uint32_t body_avail = (uint32_t)NE_MIN((uint64_t)avail - hl, (uint64_t)rl);
            uint32_t used = handle_publish(conn, first, buf + pos + hl, body_avail, rl);
            if (used == 0) {
                break;
            }
            pos += hl + used;
            continue;
        }
        if (total > avail) {
            break; /* the rest fits the read buffer: wait for it */
        }
        handle_packet(conn, first, buf + pos + hl, rl);
        pos += (uint32_t)total;
    }
    return pos;
}

/* ---- The connection's life ------------------------------------------------------------------ */

static void mqtt_timer(ne_conn *conn, uint64_t now)
{
    ne_mqtt_client *c = client_of(conn);
    if (!c->connected) {
        if (now >= c->connect_deadline_ms) {
            ne_conn_logf(conn, NE_LOG_DEBUG, "MQTT CONNECT not received in time");
            ne_conn_close(conn, NE_CLOSE_AUTH_TIMEOUT, NULL);
        }
        return;
    }
    /* One and a half times the keep-alive without a packet (M3-24, MQ-08). */
    uint64_t limit_ms = (uint64_t)c->keep_alive_s * 1500u;
    if (limit_ms > 0 && now - conn->io->last_in_ms >= limit_ms) {
        ne_conn_logf(conn, NE_LOG_DEBUG, "MQTT keep-alive of %us exceeded",
                     (unsigned)c->keep_alive_s);
        ne_mqtt_close_with(conn, NE_MQTT_RC_KEEP_ALIVE_TIMEOUT, NE_CLOSE_STALE);
    }
}

static void mqtt_describe(const ne_conn *conn, ne_conn_desc *out)
{
    ne_mqtt *m = ne_mqtt_of(conn);
    const ne_mqtt_client *c = client_of(conn);
    out->kind = "Client";
    out->type = "mqtt";
    out->counted = true;
    out->account = ne_router_account_name(m->router, conn->acc);
    if (c == NULL) {
        return;
    }
    out->user = c->connected ? ne_authn_user_name(m->opts, conn->user_index) : "";
    if (c->session != NULL) {
        out->mqtt_client = c->session->client_id;
        out->subs_of = c->session->conn;
    }
}

static void mqtt_closed(ne_conn *conn)
{
    ne_mqtt *m = ne_mqtt_of(conn);
    ne_mqtt_client *c = client_of(conn);
    if (c->joined) {
        ne_router_leave(m->router, conn);
    }
    ne_conn_desc desc;
    ne_conn_describe(conn, &desc);
    ne_conns_record_closed(m->conns, conn, &desc);
    ne_mqtt_session *s = c->session;
    if (s != NULL && s->client == c) {
        c->session = NULL;
        /* Abnormal closes publish the will (M3-35); at shutdown nobody is
         * left to receive it. */
        bool will = !c->clean_disconnect && conn->close_reason != NE_CLOSE_SERVER_SHUTDOWN;
        ne_mqtt_session_detach(m, s, will);
    }
    if (c->aliases != NULL) {
        ne_pool_free(&m->alias_table_pool, c->aliases);
        c->aliases = NULL;
    }
    if (c->alias_claim) {
        NE_ASSERT(m->alias_claims > 0);
        m->alias_claims--;
    }
    ne_pool_free(&m->client_pool, c);
    conn->state = NULL;
}

/* Publish permissions apply to the topic's subject (MQ-12c). */
static bool mqtt_may_publish(ne_conn *conn, ne_msg *msg)
{
    ne_mqtt *m = ne_mqtt_of(conn);
    const ne_permissions *p = ne_router_perms(conn);
    if (p == NULL ||
        ne_perm_can_publish(p, m->opts->perm_subjects, msg->subject.ptr, msg->subject.len)) {
        return true;
    }
    m->router->stats.perm_violations++;
    m->inbound.refused = true;
    ne_conn_logf(conn, NE_LOG_ERROR, "Publish Violation - User \"%s\", Subject \"%.*s\"",
                 ne_authn_user_name(m->opts, conn->user_index), (int)msg->subject.len,
                 msg->subject.ptr);
    return false;
}

/* ---- Parking (NE_CONN_PARKING) ----------------------------------------------------------- */

#if NE_CONN_PARKING
/* What a parked MQTT connection keeps (ne_parked.state): a connection that
 * has not sent its CONNECT keeps its deadline; a connected one its client's
 * limits, its client id (up to NE_MQTT_PARKED_ID_BYTES inline, a longer one
 * as its long id slot) and its will. Byte arrays hold the deadline and the
 * pointers, so that the record has no padding. */
#define NE_MQTT_PARKED_ID_BYTES 23
#define PARKED_CONNECTED 0x01
#define PARKED_JOINED 0x02
#define PARKED_PROBLEM_INFO 0x04
#define PARKED_ALIAS_CLAIM 0x08
typedef struct mqtt_parked {
    uint8_t when[8]; /* connected: its will (ne_mqtt_msg *), else the CONNECT deadline (ms) */
    uint8_t id[NE_MQTT_PARKED_ID_BYTES + 1]; /* NUL-terminated, or a long id slot's address */
    uint32_t maximum_packet_size;
    uint16_t keep_alive_s;
    uint16_t receive_maximum;
    uint8_t id_len;
    uint8_t alias_max_out; /* the client's Topic Alias Maximum, at most NE_MQTT_TOPIC_ALIAS_MAX */
    uint8_t version;
    uint8_t flags; /* PARKED_* */
} mqtt_parked;
_Static_assert(NE_MQTT_CLIENT_ID_BYTES <= 255, "mqtt_parked.id_len is one byte");
_Static_assert(NE_MQTT_TOPIC_ALIAS_MAX <= 255, "mqtt_parked.alias_max_out is one byte");
_Static_assert(sizeof(mqtt_parked) <= NE_PARKED_STATE_BYTES, "mqtt_parked must fit ne_parked");
_Static_assert(sizeof(void *) <= 8, "a pointer must fit mqtt_parked.when");

/* A parked connection as describe reads one (ne_conns_parked_view). */
typedef struct mqtt_view {
    ne_mqtt_client c;
    ne_mqtt_session s;
} mqtt_view;
_Static_assert(sizeof(mqtt_view) <= NE_CONN_VIEW_STATE_BYTES, "mqtt_view must fit ne_conn_view");

static mqtt_parked parked_state(const uint8_t *state)
{
    mqtt_parked mp;
    memcpy(&mp, state, sizeof(mp));
    return mp;
}

/* Parked when it is idle here too: no CONNECT half-done, nothing being
 * skipped, no topic alias table, no QoS 1/2 message out, nothing routed
 * now, and a session that ends with it and holds nothing. */
static bool mqtt_park(ne_conn *conn, uint8_t *state)
{
    ne_mqtt *m = ne_mqtt_of(conn);
    ne_mqtt_client *c = client_of(conn);
    if (c == NULL || c->clean_disconnect || c->skip_bytes > 0 || c->aliases != NULL ||
        c->sent_unacked > 0 || c->sei_at_connect > 0 || m->inbound.active) {
        return false;
    }
    mqtt_parked mp;
    memset(&mp, 0, sizeof(mp));
    ne_mqtt_session *s = c->session;
    if (!c->connected) {
        if (s != NULL) {
            return false;
        }
        memcpy(mp.when, &c->connect_deadline_ms, sizeof(c->connect_deadline_ms));
    } else {
        if (s == NULL || s->client != c || !ne_mqtt_session_parkable(s)) {
            return false;
        }
        bool is_inline = s->client_id == s->id_inline;
        if (s->client_id_len > NE_MQTT_PARKED_ID_BYTES && is_inline) {
            return false; /* kept inline (NE_MQTT_INLINE_CLIENT_ID_BYTES > 23): no slot */
        }
        if (s->client_id_len <= NE_MQTT_PARKED_ID_BYTES) {
            memcpy(mp.id, s->client_id, (size_t)s->client_id_len + 1);
            if (!is_inline) {
                ne_pool_free(&m->long_id_pool, s->client_id);
            }
        } else {
            memcpy(mp.id, &s->client_id, sizeof(s->client_id));
        }
        memcpy(mp.when, &s->will, sizeof(s->will));
        mp.id_len = (uint8_t)s->client_id_len;
        mp.flags = PARKED_CONNECTED;
        ne_mqtt_session_park(m, s);
    }
    mp.version = c->version;
    mp.flags |=
        (uint8_t)((c->joined ? PARKED_JOINED : 0) | (c->problem_info ? PARKED_PROBLEM_INFO : 0) |
                  (c->alias_claim ? PARKED_ALIAS_CLAIM : 0));
    /* Past NE_MQTT_TOPIC_ALIAS_MAX the server never assigns aliases. */
    mp.alias_max_out =
        (uint8_t)NE_MIN((uint32_t)c->alias_max_out, (uint32_t)NE_MQTT_TOPIC_ALIAS_MAX);
    mp.keep_alive_s = c->keep_alive_s;
    mp.receive_maximum = c->receive_maximum;
    mp.maximum_packet_size = c->maximum_packet_size;
    memcpy(state, &mp, sizeof(mp));
    ne_pool_free(&m->client_pool, c);
    conn->state = NULL;
    m->parked_clients++;
    return true;
}

/* The client's fields a parked record keeps. */
static void client_from(ne_mqtt_client *c, ne_conn *conn, const mqtt_parked *mp)
{
    c->conn = conn;
    c->version = mp->version;
    c->connected = (mp->flags & PARKED_CONNECTED) != 0;
    c->joined = (mp->flags & PARKED_JOINED) != 0;
    c->problem_info = (mp->flags & PARKED_PROBLEM_INFO) != 0;
    c->alias_claim = (mp->flags & PARKED_ALIAS_CLAIM) != 0;
    c->alias_max_in = c->alias_claim ? NE_MQTT_TOPIC_ALIAS_MAX : 0;
    c->alias_max_out = mp->alias_max_out;
    c->keep_alive_s = mp->keep_alive_s;
    c->receive_maximum = mp->receive_maximum;
    c->maximum_packet_size = mp->maximum_packet_size;
    if (!c->connected) {
        memcpy(&c->connect_deadline_ms, mp->when, sizeof(c->connect_deadline_ms));
    }
}

/* Its client id: the text, and the long id slot holding it (NULL: inline). */
static const char *parked_id(const mqtt_parked *mp, char **slot)
{
    *slot = NULL;
    if (mp->id_len > NE_MQTT_PARKED_ID_BYTES) {
        memcpy(slot, mp->id, sizeof(*slot));
        return *slot;
    }
    return (const char *)mp->id;
}

static void mqtt_unpark(ne_conn *conn, const uint8_t *state)
{
    ne_mqtt *m = ne_mqtt_of(conn);
    mqtt_parked mp = parked_state(state);
    NE_ASSERT(m->parked_clients > 0);
    m->parked_clients--;
    ne_mqtt_client *c = ne_pool_alloc(&m->client_pool);
    NE_ASSERT(c != NULL); /* reserved while it was parked */
    conn->state = c;
    client_from(c, conn, &mp);
    if (!c->connected) {
        return;
    }
    char *slot;
    const char *id = parked_id(&mp, &slot);
    ne_mqtt_msg *will;
    memcpy(&will, mp.when, sizeof(will));
    ne_mqtt_session *s = ne_mqtt_session_unpark(m, conn, id, mp.id_len, slot, will, mp.version);
    s->client = c;
    c->session = s;
}

static bool mqtt_parked_due(const ne_parked *p, uint64_t now)
{
    mqtt_parked mp = parked_state(p->state);
    if ((mp.flags & PARKED_CONNECTED) == 0) {
        uint64_t deadline;
        memcpy(&deadline, mp.when, sizeof(deadline));
        return now >= deadline;
    }
    /* As mqtt_timer: one and a half times the keep-alive (M3-24, MQ-08). */
    uint64_t limit_ms = (uint64_t)mp.keep_alive_s * 1500u;
    return limit_ms > 0 && now - p->last_in_ms >= limit_ms;
}

static void mqtt_parked_view(const ne_parked *p, ne_conn *conn, void *buf, size_t cap)
{
    NE_ASSERT(cap >= sizeof(mqtt_view));
    mqtt_view *v = buf;
    mqtt_parked mp = parked_state(p->state);
    memset(v, 0, sizeof(*v));
    client_from(&v->c, conn, &mp);
    conn->state = &v->c;
    if (v->c.connected) {
        char *slot;
        const char *id = parked_id(&mp, &slot);
        if (slot == NULL) {
            memcpy(v->s.id_inline, id, (size_t)mp.id_len + 1);
            v->s.client_id = v->s.id_inline;
        } else {
            v->s.client_id = slot;
        }
        v->s.client_id_len = mp.id_len;
        v->s.version = mp.version;
        v->s.client = &v->c;
        v->c.session = &v->s;
    }
}

/* The parked connection whose session has this client id, brought back. */
ne_mqtt_session *ne_mqtt_parked_find(ne_mqtt *m, const uint8_t *id, uint16_t len)
{
    uint32_t cursor = 0;
    ne_parked *p;
    while ((p = ne_conns_parked_next(m->conns, m->kind, &cursor)) != NULL) {
        /* Every CONNECT looks through all parked clients: the length and
         * the flags first, read in place. */
        uint16_t id_len;
        memcpy(&id_len, p->state + offsetof(mqtt_parked, id_len), sizeof(id_len));
        if (id_len != len || (p->state[offsetof(mqtt_parked, flags)] & PARKED_CONNECTED) == 0) {
            continue;
        }
        mqtt_parked mp = parked_state(p->state);
        char *slot;
        if (memcmp(parked_id(&mp, &slot), id, len) == 0) {
            ne_conn *conn = ne_conns_unpark(m->conns, p);
            return client_of(conn)->session;
        }
    }
    return NULL;
}
#endif

static const ne_conn_ops mqtt_ops = {
    .input = mqtt_input,
    .timer = mqtt_timer,
    .closed = mqtt_closed,
    .may_publish = mqtt_may_publish,
    .describe = mqtt_describe,
#if NE_CONN_PARKING
    .park = mqtt_park,
    .unpark = mqtt_unpark,
    .parked_due = mqtt_parked_due,
    .parked_view = mqtt_parked_view,
#endif
};

/* ---- The listener and the kind ------------------------------------------------------------- */

static void accepted(void *ctx, ne_conn *conn)
{
    ne_mqtt *m = ctx;
    ne_mqtt_client *c = ne_pool_alloc(&m->client_pool);
    NE_ASSERT(c != NULL); /* admit keeps one for every connection */
    conn->state = c;
    conn->acc = &m->router->accounts[NE_ACCOUNT_GLOBAL];
    /* Without permissions there is nothing for may_publish to see. */
    conn->publish_checks = NE_PUBLISH_CHECK_NEVER;
    c->conn = conn;
    uint32_t timeout_ms = m->opts->mqtt.auth_timeout_ms != 0 ? m->opts->mqtt.auth_timeout_ms
                                                             : m->opts->auth_timeout_ms;
    if (m->opts->mqtt.tls) {
        /* The handshake comes first, within its own timeout. */
        uint32_t tls_ms = m->opts->mqtt.tls_timeout_ms != 0 ? m->opts->mqtt.tls_timeout_ms
                                                            : m->opts->tls_timeout_ms;
        timeout_ms += tls_ms;
    }
    c->connect_deadline_ms = m->conns->now_ms + timeout_ms;
    m->conns->stats.total_connections++;
    ne_conn_logf(conn, NE_LOG_DEBUG, "MQTT connection created");
    if (m->opts->mqtt.tls &&
        (m->tls_server == NULL || ne_conn_tls_accept_config(conn, m->tls_server) != NE_OK)) {
        ne_conn_close(conn, NE_CLOSE_TLS_HANDSHAKE, NULL);
    }
}

static bool admit(void *ctx)
{
    ne_mqtt *m = ctx;
    uint32_t reserved = 0;
#if NE_CONN_PARKING
    reserved = m->parked_clients; /* parked connections come back to theirs */
#endif
    return ne_pool_available(&m->client_pool) > reserved &&
           ne_conns_client_count(m->conns) < m->opts->max_connections;
}

static void refused(void *ctx, ne_sock sock, const char *ip, uint16_t port)
{
    ne_mqtt *m = ctx;
    ne_log_warn(m->conns->log, "%s:%u - MQTT connection refused: maximum connections (%u)", ip,
                (unsigned)port, (unsigned)m->opts->max_connections);
}

void ne_mqtt_init(ne_mqtt *m, ne_mqtt_pool_storage *storage, const ne_server_options *opts,
                  ne_conns *conns, ne_router *router, ne_rng *rng)
{
    m->opts = opts;
    m->conns = conns;
    m->router = router;
    m->rng = rng;
    ne_pool_init(&m->client_pool, "mqtt clients", &storage->clients, sizeof(ne_mqtt_client),
                 NE_MQTT_MAX_CONNECTIONS);
    ne_pool_init(&m->sub_table_pool, "mqtt filter tables", &storage->sub_tables,
                 sizeof(ne_mqtt_sub_table), NE_MQTT_SUB_TABLES);
    ne_pool_init(&m->out_table_pool, "mqtt outbound rings", &storage->out_tables,
                 sizeof(ne_mqtt_out_table), NE_MQTT_OUT_TABLES);
    ne_pool_init(&m->alias_table_pool, "mqtt alias tables", &storage->alias_tables,
                 sizeof(ne_mqtt_alias_table), NE_MQTT_ALIAS_TABLES);
    ne_pool_init(&m->session_pool, "mqtt sessions", &storage->sessions, sizeof(ne_mqtt_session),
                 NE_MQTT_MAX_SESSIONS);
    ne_pool_init(&m->long_id_pool, "mqtt long client ids", &storage->long_ids,
                 sizeof(ne_mqtt_long_id), NE_MQTT_LONG_CLIENT_IDS);
    ne_pool_init(&m->inbound_pool, "mqtt inbound qos2 tables", &storage->inbound_tables,
                 sizeof(ne_mqtt_inbound_table), NE_MQTT_INBOUND_TABLES);
    ne_mqtt_store_init(&m->store, &storage->store);
    ne_mqtt_persist_init(m);
    m->kind = ne_conns_kind(conns, "MQTT", "cid", &mqtt_ops, m);
    ne_conns_kind_is_client(conns, m->kind);
    m->session_kind = ne_conns_kind(conns, "MQTT session", "cid", &ne_mqtt_session_ops, m);
    m->listener.kind = m->kind;
    m->listener.sock = NE_SOCK_INVALID;
    m->listener.accepted = accepted;
    m->listener.refused = refused;
    m->listener.admit = admit;
    m->listener.ctx = m;
}

int ne_mqtt_start(ne_mqtt *m)
{
    const ne_mqtt_options *mo = &m->opts->mqtt;
    if (!mo->enabled) {
        return NE_OK;
    }
    const char *host = mo->host[0] != '\0' ? mo->host : m->opts->host;
    int rc = ne_conns_listen(m->conns, &m->listener, host, mo->port);
    if (rc != NE_OK) {
        ne_log_error(m->conns->log, "Error listening on MQTT port: %s:%u, %s", host,
                     (unsigned)mo->port, ne_err_name(rc));
        return rc;
    }
    ne_log_info(m->conns->log, "Listening for MQTT clients on mqtt://%s:%u", host,
                (unsigned)m->listener.port);
    return NE_OK;
}

void ne_mqtt_set_tls(ne_mqtt *m, const ne_tls_config *cfg)
{
    m->tls_server = cfg;
}

void ne_mqtt_stop_listening(ne_mqtt *m)
{
    ne_conns_unlisten(m->conns, &m->listener);
}

uint16_t ne_mqtt_port(const ne_mqtt *m)
{
    return m->listener.sock == NE_SOCK_INVALID ? 0 : m->listener.port;
}

uint32_t ne_mqtt_client_count(const ne_mqtt *m)
{
    return m->conns->kinds[m->kind].count;
}

void ne_mqtt_tick(ne_mqtt *m, uint64_t now_ms)
{
    ne_mqtt_retained_expire(&m->store, now_ms);
    /* Outside routing: the last message's kept copy is no longer the
     * view's to hold (the sessions holding it have their own references). */
    ne_mqtt_view_release(m);
    /* The rest of the changes (deliveries acknowledged by subscribers,
     * messages from NATS) reach the device once a tick. */
    ne_mqtt_persist_flush(m);
}

uint32_t ne_mqtt_close_clients(ne_mqtt *m, uint32_t count)
{
    uint32_t closed = 0;
    uint32_t guard = 0;
    for (ne_conn *c = m->conns->active; c != NULL && closed < count && guard < NE_MAX_CONN_HEADERS;
         c = c->next, guard++) {
        if (c->kind == m->kind && !c->closing) {
            ne_mqtt_close_with(c, NE_MQTT_RC_SERVER_SHUTTING_DOWN, NE_CLOSE_SERVER_SHUTDOWN);
            closed++;
        }
    }
#if NE_CONN_PARKING
    /* Parked ones come back to be told and closed (in front of the list
     * walked above, which is done). */
    uint32_t cursor = 0;
    ne_parked *p;
    while (closed < count && (p = ne_conns_parked_next(m->conns, m->kind, &cursor)) != NULL) {
        ne_conn *c = ne_conns_unpark(m->conns, p);
        ne_mqtt_close_with(c, NE_MQTT_RC_SERVER_SHUTTING_DOWN, NE_CLOSE_SERVER_SHUTDOWN);
        closed++;
    }
#endif
    return closed;
}

void ne_mqtt_shutdown(ne_mqtt *m)
{
    /* What the store holds now is what the next start takes back: the
     * sessions persist as they are, their clients' wills are not theirs. */
    ne_mqtt_persist_freeze(m);
    (void)ne_mqtt_close_clients(m, UINT32_MAX);
    uint32_t guard = 0;
    /* Sessions go without a word to the store: they are found there again
     * at the next start. */
    while (m->sessions != NULL && guard++ <= NE_MQTT_MAX_SESSIONS) {
        ne_mqtt_session_release(m, m->sessions);
    }
    ne_mqtt_view_release(m);
    ne_mqtt_retained_release_all(&m->store);
}

void ne_mqtt_varz(const ne_mqtt *m, ne_json_out *o)
{
    const ne_mqtt_options *mo = &m->opts->mqtt;
    ne_json_begin_object(o);
    if (mo->enabled) {
        ne_json_kv_string(o, "host", mo->host[0] != '\0' ? mo->host : m->opts->host);
        ne_json_kv_u64(o, "port", ne_mqtt_port(m));
        if (mo->no_auth_user[0] != '\0') {
            ne_json_kv_string(o, "no_auth_user", mo->no_auth_user);
        }
        if (mo->auth_timeout_ms != 0) {
            ne_json_key(o, "auth_timeout");
            ne_json_milli(o, mo->auth_timeout_ms);
        }
        ne_json_key(o, "tls_timeout");
        ne_json_milli(o, mo->tls_timeout_ms != 0 ? mo->tls_timeout_ms : m->opts->tls_timeout_ms);
        if (mo->ack_wait_ms != 0) {
            ne_json_kv_u64(o, "ack_wait", (uint64_t)mo->ack_wait_ms * 1000000u);
        }
        if (mo->max_ack_pending != 0) {
            ne_json_kv_u64(o, "max_ack_pending", mo->max_ack_pending);
        }
    }
    ne_json_end_object(o);
}

void ne_mqtt_stats_json(const ne_mqtt *m, ne_json_out *o)
{
    const ne_mqtt_stats *st = &m->stats;
    ne_json_key(o, "natsedge_mqtt");
    ne_json_begin_object(o);
    ne_json_kv_u64(o, "sessions_evicted", st->sessions_evicted);
    ne_json_kv_u64(o, "sessions_refused", st->sessions_refused);
    ne_json_kv_u64(o, "qos2_refused", st->qos2_refused);
    ne_json_kv_u64(o, "dropped_inflight", st->dropped_inflight);
    ne_json_kv_u64(o, "dropped_too_large", st->dropped_too_large);
    ne_json_kv_u64(o, "dropped_expired", st->dropped_expired);
    ne_json_kv_u64(o, "not_routable", st->not_routable);
    ne_json_kv_u64(o, "wills_published", st->wills_published);
    ne_json_kv_u64(o, "store_refused", m->store.stats.refused);
    ne_json_kv_u64(o, "retained", m->store.retained_count);
    ne_json_kv_u64(o, "retained_bytes", m->store.retained_bytes);
    ne_json_kv_u64(o, "retained_refused", m->store.stats.retained_refused);
#if NE_MQTT_PERSIST
    const ne_mqtt_persist_stats *ps = &m->persist.stats;
    ne_json_kv_bool(o, "persist", m->persist.on);
    ne_json_kv_u64(o, "persist_written", ps->records_written);
    ne_json_kv_u64(o, "persist_deleted", ps->records_deleted);
    ne_json_kv_u64(o, "persist_syncs", ps->syncs);
    ne_json_kv_u64(o, "persist_sync_failures", ps->sync_failures);
    ne_json_kv_u64(o, "persist_refused", ps->refused);
    ne_json_kv_u64(o, "persist_sessions_loaded", ps->sessions_loaded);
    ne_json_kv_u64(o, "persist_messages_loaded", ps->messages_loaded);
    ne_json_kv_u64(o, "persist_retained_loaded", ps->retained_loaded);
    ne_json_kv_u64(o, "persist_dropped_at_load", ps->dropped_at_load);
    ne_json_kv_u64(o, "persist_rolled_back", ps->rolled_back);
#endif
    ne_json_end_object(o);
}
