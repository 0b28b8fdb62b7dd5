/* MQTT messages and NATS messages (ne_mqtt_internal.h): an MQTT publish
 * becomes a NATS message with nats-server's header and its user
 * properties as headers; a routed message becomes what MQTT subscribers
 * see (the view), once per message; retained messages are kept or
 * cleared after routing; a kept message (a will) is published. */
#include <string.h>

#include "core/ne_assert.h"
#include "core/ne_error.h"
#include "core/ne_subject.h"
#include "mqtt/ne_mqtt_internal.h"
#include "mqtt/ne_mqtt_topic.h"

/* ---- MQTT to NATS ------------------------------------------------------------- */

/* A user property that can be a NATS header: a key of printable bytes
 * without ':' or blanks, a value without CR or LF (MQ-20, issue 17: user
 * properties <-> headers). Others are not carried to NATS subscribers. */
static bool header_pair_ok(ne_mqtt_bytes key, ne_mqtt_bytes value)
{
    if (key.len == 0) {
        return false;
    }
    for (uint32_t i = 0; i < key.len; i++) {
        uint8_t c = key.ptr[i];
        if (c <= ' ' || c == ':' || c == 0x7f) {
            return false;
        }
    }
    for (uint32_t i = 0; i < value.len; i++) {
        if (value.ptr[i] == '\r' || value.ptr[i] == '\n') {
            return false;
        }
    }
    /* nats-server's own headers are not a client's to set. */
    return !(key.len >= 6 && memcmp(key.ptr, "Nmqtt-", 6) == 0);
}

typedef struct hdr_writer {
    uint8_t *p;
    size_t cap;
    size_t len;
    bool full;
} hdr_writer;

static void hdr_put(hdr_writer *w, const void *bytes, size_t n)
{
    if (w->full || n > w->cap - w->len) {
        w->full = true;
        return;
    }
    memcpy(w->p + w->len, bytes, n);
    w->len += n;
}

size_t ne_mqtt_nats_header(uint8_t *out, size_t cap, uint8_t qos, ne_mqtt_bytes props)
{
    NE_ASSERT(qos <= 2);
    hdr_writer w = {out, cap, 0, false};
    /* nats-server 2.9's form exactly: "Nmqtt-Pub:<qos>", no blank. */
    char pubq[] = "NATS/1.0\r\nNmqtt-Pub:0\r\n";
    pubq[sizeof(pubq) - 4] = (char)('0' + qos);
    hdr_put(&w, pubq, sizeof(pubq) - 1);
    if (props.len > 0) {
        ne_mqtt_props p;
        uint8_t reason;
        if (ne_mqtt_props_decode(props.ptr, props.len, NE_MQTT_CTX_PUBLISH, false, &p, &reason) ==
            NE_OK) {
            uint32_t pos = 0;
            ne_mqtt_bytes k, v;
            while (ne_mqtt_props_next_user(&p, &pos, &k, &v)) {
                if (header_pair_ok(k, v)) {
                    hdr_put(&w, k.ptr, k.len);
                    hdr_put(&w, ": ", 2);
                    hdr_put(&w, v.ptr, v.len);
                    hdr_put(&w, "\r\n", 2);
                }
            }
        }
    }
    hdr_put(&w, "\r\n", 2);
    return w.full ? 0 : w.len;
}

ne_mqtt_payload ne_mqtt_msg_payload(const ne_msg *msg)
{
    ne_mqtt_payload p;
    p.len = msg->total_len - msg->hdr_len;
    p.chain = msg->chain;
    p.offset = msg->chain_offset + msg->hdr_len;
    p.bytes = msg->chain == NULL ? msg->data + msg->hdr_len : NULL;
    return p;
}

/* ---- NATS to MQTT: the view ------------------------------------------------------ */

/* Up to cap bytes of a message's header block, wherever its payload is. */
static uint32_t header_bytes(const ne_msg *msg, uint8_t *tmp, uint32_t cap, const uint8_t **out)
{
    uint32_t n = NE_MIN(msg->hdr_len, cap);
    if (msg->chain == NULL) {
        *out = msg->data;
        return msg->hdr_len;
    }
    const ne_chunk *c = msg->chain;
    uint32_t off = msg->chain_offset;
    while (c != NULL && off >= c->used) {
        off -= c->used;
        c = c->next;
    }
    uint32_t done = 0;
    while (done < n && c != NULL) {
        uint32_t k = NE_MIN(n - done, c->used - off);
        memcpy(tmp + done, c->data + off, k);
        done += k;
        off = 0;
        c = c->next;
    }
    *out = tmp;
    return done;
}

static void trim(const uint8_t **p, uint32_t *len)
{
    while (*len > 0 && ((*p)[0] == ' ' || (*p)[0] == '\t')) {
        (*p)++;
        (*len)--;
    }
    while (*len > 0 && ((*p)[*len - 1] == ' ' || (*p)[*len - 1] == '\t')) {
        (*len)--;
    }
}

/* Appends a property to the view's properties; false when it does not fit. */
static bool view_prop_pair(ne_mqtt_view *v, const uint8_t *k, uint32_t kl, const uint8_t *val,
                           uint32_t vl)
{
    size_t n =
        ne_mqtt_prop_put_pair(v->props_buf + v->props.len, sizeof(v->props_buf) - v->props.len,
                              (ne_mqtt_bytes){k, kl}, (ne_mqtt_bytes){val, vl});
    v->props.len += (uint32_t)n;
    return n > 0;
}

/* A NATS message's headers: "Nmqtt-Pub" gives the QoS (a message that
 * came from MQTT on another server), the rest become user properties. */
static void view_from_headers(ne_mqtt_view *v, const ne_msg *msg)
{
    uint8_t tmp[NE_MQTT_MAX_PROPS_BYTES + 64];
    const uint8_t *h;
    uint32_t len = header_bytes(msg, tmp, sizeof(tmp), &h);
    uint32_t pos = 0;
    /* The status line first; then one header per line, up to the empty one. */
    bool first = true;
    while (pos < len) {
        const uint8_t *line = h + pos;
        const uint8_t *nl = memchr(line, '\n', len - pos);
        if (nl == NULL) {
            break;
        }
        uint32_t line_len = (uint32_t)(nl - line);
        pos += line_len + 1;
        if (line_len > 0 && line[line_len - 1] == '\r') {
            line_len--;
        }
        if (first || line_len == 0) {
            first = false;
            continue;
        }
        const uint8_t *colon = memchr(line, ':', line_len);
        if (colon == NULL) {
            continue;
        }
        const uint8_t *k = line;
        uint32_t kl = (uint32_t)(colon - line);
        const uint8_t *val = colon + 1;
        uint32_t vl = line_len - kl - 1;
        trim(&k, &kl);
        trim(&val, &vl);
        if (kl == 9 && memcmp(k, "Nmqtt-Pub", 9) == 0) {
            if (vl >= 1 && val[0] >= '0' && val[0] <= '2') {
                v->qos = (uint8_t)(val[0] - '0');
            }
            continue;
        }
        if (kl >= 6 && memcmp(k, "Nmqtt-", 6) == 0) {
            continue;
        }
        if (kl > 0 && ne_mqtt_utf8_valid(k, kl) && ne_mqtt_utf8_valid(val, vl)) {
            (void)view_prop_pair(v, k, kl, val, vl);
        }
    }
}

/* A NATS reply becomes the Response Topic (request/reply with NATS). */
static void view_reply(ne_mqtt_view *v, ne_slice reply)
{
    uint8_t topic[NE_MQTT_MAX_TOPIC_BYTES];
    size_t n = 0;
    if (ne_mqtt_subject_to_topic(reply.ptr, reply.len, topic, sizeof(topic), &n) != NE_OK ||
        n == 0) {
        return;
    }
    size_t w =
        ne_mqtt_prop_put_bytes(v->props_buf + v->props.len, sizeof(v->props_buf) - v->props.len,
                               NE_MQTT_PROP_RESPONSE_TOPIC, (ne_mqtt_bytes){topic, (uint32_t)n});
    v->props.len += (uint32_t)w;
}

static void view_release(ne_mqtt *m, ne_mqtt_view *v)
{
    if (v->stored != NULL) {
        ne_mqtt_msg_release(&m->store, v->stored);
        v->stored = NULL;
    }
}

void ne_mqtt_view_release(ne_mqtt *m)
{
    NE_ASSERT(!m->router->routing);
    view_release(m, &m->view);
    m->view.seq = 0;
}

ne_mqtt_view *ne_mqtt_view_of(ne_mqtt *m, const ne_msg *msg)
{
    ne_mqtt_view *v = &m->view;
    if (v->seq == msg->seq && msg->seq != 0) {
        return v;
    }
    view_release(m, v);
    v->seq = msg->seq;
    v->usable = true;
    v->props.ptr = v->props_buf;
    v->props.len = 0;
    const ne_mqtt_inbound *in = &m->inbound;
    bool same_subject =
        in->active && msg->subject.ptr == in->subject.ptr && msg->subject.len == in->subject.len;
    if (same_subject) {
        v->topic = in->topic;
    } else {
        size_t n = 0;
        if (ne_mqtt_subject_to_topic(msg->subject.ptr, msg->subject.len, v->topic_buf,
                                     sizeof(v->topic_buf), &n) != NE_OK ||
            n == 0) {
            m->stats.not_routable++;
            v->usable = false;
            return v;
        }
        v->topic.ptr = v->topic_buf;
        v->topic.len = (uint32_t)n;
    }
    if (in->active) {
        v->qos = in->qos;
        v->retain = in->retain;
        v->publisher = in->publisher;
        v->props = in->props;
        v->has_expiry = in->has_expiry;
        v->expires_ms = m->conns->now_ms + (uint64_t)in->expiry_s * 1000u;
        return v;
    }
    v->qos = 0;
    v->retain = false;
    v->publisher = NULL;
    v->has_expiry = false;
    v->expires_ms = 0;
    if (msg->has_headers && msg->hdr_len > 0) {
        view_from_headers(v, msg);
    }
    if (msg->reply.len > 0) {
        view_reply(v, msg->reply);
    }
    return v;
}

ne_mqtt_msg *ne_mqtt_view_store(ne_mqtt *m, ne_mqtt_view *v, const ne_msg *msg)
{
    if (v->stored != NULL) {
        return v->stored;
    }
    ne_mqtt_payload payload = ne_mqtt_msg_payload(msg);
    ne_mqtt_msg *s = ne_mqtt_msg_new(&m->store, v->topic, v->props, &payload);
    if (s == NULL) {
        ne_log_warn(m->conns->log,
                    "MQTT message store full (%u messages, %u bytes): message not kept; raise "
                    "NE_MQTT_MAX_MESSAGES or NE_MQTT_STORE_BYTES",
                    (unsigned)NE_MQTT_MAX_MESSAGES, (unsigned)NE_MQTT_STORE_BYTES);
        return NULL;
    }
    s->qos = v->qos;
    s->retain = v->retain;
    s->has_expiry = v->has_expiry;
    s->expires_ms = v->expires_ms;
    s->expiry_s = (uint32_t)((v->expires_ms - NE_MIN(v->expires_ms, m->conns->now_ms)) / 1000u);
    v->stored = s;
    if (m->txn.active && v->publisher == m->txn.publisher) {
        m->txn.msg = s; /* its record names the transaction */
    }
    return s;
}

/* ---- Routing and retained messages --------------------------------------------------- */

static void keep_retained(ne_mqtt *m, const ne_mqtt_pub *pub, const ne_msg *msg)
{
    uint32_t payload_len = msg->total_len - msg->hdr_len;
    if (payload_len == 0) {
        ne_mqtt_retained_clear(&m->store, pub->topic); /* M3-52 */
        return;
    }
    ne_mqtt_view *v = ne_mqtt_view_of(m, msg);
    ne_mqtt_msg *s = v->usable ? ne_mqtt_view_store(m, v, msg) : NULL;
    if (s == NULL || ne_mqtt_retained_set(&m->store, s) != NE_OK) {
        m->store.stats.retained_refused += s == NULL ? 1u : 0u;
        ne_log_warn(m->conns->log,
                    "Retained message on \"%.*s\" not kept: %u retained, %u bytes; raise "
                    "NE_MQTT_MAX_RETAINED or NE_MQTT_RETAINED_BYTES",
                    (int)pub->subject.len, pub->subject.ptr, (unsigned)m->store.retained_count,
                    (unsigned)m->store.retained_bytes);
    }
}

int ne_mqtt_route(ne_mqtt *m, ne_conn *conn, const ne_mqtt_pub *pub, ne_msg *msg,
                  uint32_t *delivered)
{
    ne_mqtt_inbound *in = &m->inbound;
    NE_ASSERT(!in->active);
    in->active = true;
    in->refused = false;
    in->qos = pub->qos;
    in->retain = pub->retain;
    in->publisher = pub->publisher;
    in->subject = msg->subject;
    in->topic = pub->topic;
    in->props = pub->props;
    in->has_expiry = pub->has_expiry;
    in->expiry_s = pub->expiry_s;
    int rc = ne_router_publish(m->router, conn, msg, delivered);
    if (rc == NE_OK && pub->retain) {
        keep_retained(m, pub, msg);
    }
    in->active = false;
    /* The view pointed into this publish: it is done with it. */
    ne_mqtt_view_release(m);
    return rc;
}

/* ---- Publishing a kept message (wills) -------------------------------------------------- */

/* A chain of chunks holding head then the message's payload and CRLF. */
static ne_chunk *chain_of(ne_chunk_pools *pools, const uint8_t *head, size_t head_len,
                          const ne_mqtt_msg *msg)
{
    size_t total = head_len + msg->payload_len + 2;
    uint32_t need = (uint32_t)((total + NE_CHUNK_BYTES - 1) / NE_CHUNK_BYTES);
    if (ne_chunk_available(pools) < need) {
        return NULL;
    }
    ne_chunk *first = NULL, *tail = NULL;
    for (uint32_t i = 0; i < need; i++) {
        ne_chunk *c = ne_chunk_alloc(pools);
        NE_ASSERT(c != NULL);
        c->used = 0;
        if (tail == NULL) {
            first = c;
        } else {
            tail->next = c;
        }
        tail = c;
    }
    /* Fill: head, payload runs, CRLF, moving to the next chunk as each fills. */
    ne_chunk *c = first;
    const uint8_t *run = head;
    size_t run_len = head_len;
    const ne_mqtt_block *cursor = NULL;
    uint32_t pos = msg->topic_len + msg->props_len;
    uint32_t end = ne_mqtt_msg_bytes(msg);
    int stage = 0;
    while (stage < 3) {
        while (run_len > 0) {
            if (c->used == NE_CHUNK_BYTES) {
                c = c->next;
            }
            size_t n = NE_MIN(run_len, (size_t)NE_CHUNK_BYTES - c->used);
            memcpy(c->data + c->used, run, n);
            c->used += (uint32_t)n;
            run += n;
            run_len -= n;
        }
        if (stage == 1) {
            const uint8_t *r;
            uint32_t n = ne_mqtt_msg_next_run(msg, &cursor, &pos, end, &r);
            if (n > 0) {
                run = r;
                run_len = n;
                continue;
            }
            run = (const uint8_t *)"\r\n";
            run_len = 2;
        }
        stage++;
    }
    return first;
}

void ne_mqtt_publish_stored(ne_mqtt *m, ne_conn *pub_conn, const ne_mqtt_session *publisher,
                            ne_mqtt_msg *msg)
{
    uint8_t topic[NE_MQTT_MAX_TOPIC_BYTES];
    uint8_t props[NE_MQTT_MAX_PROPS_BYTES];
    char subject[NE_MQTT_SUBJECT_BYTES];
    char reply[NE_MQTT_SUBJECT_BYTES];
    uint8_t head[NE_MQTT_MAX_PROPS_BYTES + 64];
    NE_ASSERT(msg->topic_len <= sizeof(topic) && msg->props_len <= sizeof(props));
    ne_mqtt_msg_copy(msg, 0, topic, msg->topic_len);
    ne_mqtt_msg_copy(msg, msg->topic_len, props, msg->props_len);
    size_t subject_len = 0, reply_len = 0;
    if (ne_mqtt_topic_to_subject(topic, msg->topic_len, false, subject, sizeof(subject),
                                 &subject_len) != NE_OK) {
        m->stats.not_routable++;
        return;
    }
    ne_mqtt_props p;
    uint8_t reason;
    if (msg->props_len > 0 &&
        ne_mqtt_props_decode(props, msg->props_len, NE_MQTT_CTX_PUBLISH, false, &p, &reason) ==
            NE_OK &&
        (p.present & NE_MQTT_HAS(NE_MQTT_PROP_RESPONSE_TOPIC)) != 0 &&
        ne_mqtt_topic_to_subject(p.response_topic.ptr, p.response_topic.len, false, reply,
                                 sizeof(reply), &reply_len) != NE_OK) {
        reply_len = 0;
    }
    ne_mqtt_pub pub;
    memset(&pub, 0, sizeof(pub));
    pub.qos = msg->qos;
    pub.retain = msg->retain;
    pub.publisher = publisher;
    pub.topic = (ne_mqtt_bytes){topic, msg->topic_len};
    pub.props = (ne_mqtt_bytes){props, msg->props_len};
    pub.subject = (ne_slice){subject, (uint32_t)subject_len};
    pub.reply = (ne_slice){reply, (uint32_t)reply_len};
    uint64_t now = m->conns->now_ms;
    if (msg->has_expiry) {
        /* A will's expiry starts now; another message's has been running. */
        if (msg->expires_ms != 0 && msg->expires_ms <= now) {
            m->stats.dropped_expired++;
            return;
        }
        pub.has_expiry = true;
        pub.expiry_s =
            msg->expires_ms == 0 ? msg->expiry_s : (uint32_t)((msg->expires_ms - now) / 1000u);
    }
    size_t hdr_len = ne_mqtt_nats_header(head, sizeof(head), msg->qos, pub.props);
    NE_ASSERT(hdr_len > 0); /* a will's properties are bounded: they fit */
    ne_msg nm;
    NE_MSG_CLEAR(&nm);
    nm.subject = pub.subject;
    nm.reply = pub.reply;
    nm.hdr_len = (uint32_t)hdr_len;
    nm.total_len = (uint32_t)hdr_len + msg->payload_len;
    nm.has_headers = true;
    size_t whole = hdr_len + msg->payload_len + 2;
    ne_chunk *chain = NULL;
    if (whole <= sizeof(m->nats_scratch)) {
        memcpy(m->nats_scratch, head, hdr_len);
        ne_mqtt_msg_copy(msg, msg->topic_len + msg->props_len, m->nats_scratch + hdr_len,
                         msg->payload_len);
        memcpy(m->nats_scratch + hdr_len + msg->payload_len, "\r\n", 2);
        nm.data = m->nats_scratch;
    } else {
        chain = chain_of(&m->conns->chunks, head, hdr_len, msg);
        if (chain == NULL) {
            ne_log_warn(m->conns->log, "MQTT will on \"%.*s\" not published: chunk pool exhausted",
                        (int)subject_len, subject);
            return;
        }
        nm.chain = chain;
    }
    uint32_t delivered = 0;
    (void)ne_mqtt_route(m, pub_conn, &pub, &nm, &delivered);
    if (chain != NULL) {
        ne_chunk_chain_release(&m->conns->chunks, chain);
    }
}
