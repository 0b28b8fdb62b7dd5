/* JetStream: the service, its internal clients and what the other files
 * share (ne_js.h, ne_js_int.h). */
#include "js/ne_js_int.h"

#if NE_FEATURE_JETSTREAM

#include <stdarg.h>
#include <string.h>

#include "core/ne_assert.h"
#include "core/ne_error.h"
#include "core/ne_fmt.h"
#include "core/ne_subject.h"

/* Records handled per account per turn; the rest wait for the next one. */
#define NE_JS_RECORDS_PER_TURN 64u
/* Bytes of JSON gathered before they go into the response's chunks. */
#define NE_JS_PIECE_BYTES 256

/* How a record waits in a client's queue: this head, then the subject,
 * the reply and the body. */
typedef struct record_head {
    uint8_t type;
    uint8_t sid;
    uint16_t subject_len;
    uint16_t reply_len;
    uint16_t pad;
    uint32_t body_len;
} record_head;

/* Subscription ids of an account's client: the first character says what
 * a subscription is for; a stream's are "S<slot>". */
#define SID_API 'A'
#define SID_DOMAIN_API 'D'
#define SID_ACK 'K'
#define SID_FC 'F'
#define SID_STREAM 'S'
#define SID_SOURCE_DELIVER 'M' /* ne_js_source.c: "M<link>", "R<link>", records 'P' */
#define SID_SOURCE_REPLY 'R'
#define SID_SOURCE_PUBLISH 'P'
#define SID_FORWARD_REPLY 'W' /* ne_js_forward.c: "W<link>" */

static ne_js *js_of(const ne_conn *conn)
{
    return ne_conn_kind_of(conn)->ctx;
}

void ne_js_error_set(ne_js_error *e, ne_js_err err, const char *fmt, ...)
{
    e->err = err;
    va_list ap;
    va_start(ap, fmt);
    ne_strbuf sb;
    ne_strbuf_init(&sb, e->arg, sizeof(e->arg));
    ne_strbuf_vprintf(&sb, fmt, ap);
    va_end(ap);
}

uint64_t ne_js_now_ns(void)
{
    return ne_port_wall_ns();
}

uint64_t ne_js_mono_ns(const ne_js *js)
{
    return js->conns->now_ms * 1000000ull;
}

ne_js_account *ne_js_account_of(ne_js *js, const ne_conn *client)
{
    for (uint32_t i = 0; i < js->account_count; i++) {
        if (js->accounts[i].client == client) {
            return &js->accounts[i];
        }
    }
    return NULL;
}

static ne_js_account *account_by_index(ne_js *js, uint8_t index)
{
    for (uint32_t i = 0; i < js->account_count; i++) {
        if (js->accounts[i].index == index) {
            return &js->accounts[i];
        }
    }
    return NULL;
}

/* ---- Text slots -------------------------------------------------------------------- */

/* Slots are numbered short slots first, then text slots, then long name
 * slots (ne_js_types.h). */
#define SHORT_TEXT_LEN (NE_JS_SHORT_TEXT_BYTES - 2)
#define TEXT_FIRST NE_JS_SHORT_TEXT_SLOTS
#define LONG_NAME_FIRST (NE_JS_SHORT_TEXT_SLOTS + NE_JS_TEXT_SLOTS)

static void *slot_at(const ne_pool *pool, uint32_t index)
{
    NE_ASSERT(index < pool->capacity);
    return pool->storage + (size_t)index * pool->object_bytes;
}

/* A text of len bytes (at most max_len: NE_JS_MAX_TEXT_LEN, or
 * NE_JS_MAX_NAME_LEN for a name) into the smallest free slot that holds
 * it. */
static uint16_t text_put(ne_js *js, const char *text, size_t len, size_t max_len)
{
    NE_ASSERT(max_len <= NE_JS_MAX_NAME_LEN || max_len == NE_JS_MAX_TEXT_LEN);
    if (len > max_len) {
        return NE_JS_NO_TEXT;
    }
    if (len <= SHORT_TEXT_LEN) {
        ne_js_short_text *t = ne_pool_alloc_uninit(&js->short_text_pool);
        if (t != NULL) {
            t->len = (uint8_t)len;
            memcpy(t->text, text, len);
            t->text[len] = '\0';
            return (uint16_t)ne_pool_index(&js->short_text_pool, t);
        }
    }
    if (len <= NE_JS_MAX_TEXT_LEN) {
        ne_js_text *t = ne_pool_alloc_uninit(&js->text_pool);
        if (t != NULL) {
            t->len = (uint16_t)len;
            memcpy(t->text, text, len);
            t->text[len] = '\0';
            return (uint16_t)(TEXT_FIRST + ne_pool_index(&js->text_pool, t));
        }
    }
    if (max_len > NE_JS_MAX_TEXT_LEN) {
        ne_js_long_name *n = ne_pool_alloc_uninit(&js->long_name_pool);
        if (n != NULL) {
            n->len = (uint16_t)len;
            memcpy(n->text, text, len);
            n->text[len] = '\0';
            return (uint16_t)(LONG_NAME_FIRST + ne_pool_index(&js->long_name_pool, n));
        }
    }
    if (len > NE_JS_MAX_TEXT_LEN) {
        ne_log_warn(js->conns->log,
                    "JetStream long name slots exhausted (%u): raise NE_JS_LONG_NAME_SLOTS",
                    (unsigned)NE_JS_LONG_NAME_SLOTS);
    } else if (len > SHORT_TEXT_LEN) {
        ne_log_warn(js->conns->log, "JetStream text slots exhausted (%u): raise NE_JS_TEXT_SLOTS",
                    (unsigned)NE_JS_TEXT_SLOTS);
    } else {
        ne_log_warn(js->conns->log,
                    "JetStream text slots exhausted (%u short, %u): raise NE_JS_SHORT_TEXT_SLOTS "
                    "or NE_JS_TEXT_SLOTS",
                    (unsigned)NE_JS_SHORT_TEXT_SLOTS, (unsigned)NE_JS_TEXT_SLOTS);
    }
    return NE_JS_NO_TEXT;
}

uint16_t ne_js_text_put(ne_js *js, const char *text, size_t len)
{
    return text_put(js, text, len, NE_JS_MAX_TEXT_LEN);
}

uint16_t ne_js_name_put(ne_js *js, const char *name, size_t len)
{
    return text_put(js, name, len, NE_JS_MAX_NAME_LEN);
}

bool ne_js_text_room(const ne_js *js, size_t len, uint16_t freed)
{
    bool short_free = ne_pool_available(&js->short_text_pool) > 0 || freed < TEXT_FIRST;
    bool text_free =
        ne_pool_available(&js->text_pool) > 0 || (freed >= TEXT_FIRST && freed < LONG_NAME_FIRST);
    return (len <= SHORT_TEXT_LEN && short_free) || (len <= NE_JS_MAX_TEXT_LEN && text_free);
}

ne_slice ne_js_text_get(const ne_js *js, uint16_t slot)
{
    if (slot < TEXT_FIRST) {
        const ne_js_short_text *t = slot_at(&js->short_text_pool, slot);
        return (ne_slice){t->text, t->len};
    }
    if (slot < LONG_NAME_FIRST) {
        const ne_js_text *t = slot_at(&js->text_pool, slot - TEXT_FIRST);
        return (ne_slice){t->text, t->len};
    }
    if (slot == NE_JS_NO_TEXT) {
        return (ne_slice){"", 0};
    }
    const ne_js_long_name *n = slot_at(&js->long_name_pool, slot - LONG_NAME_FIRST);
    return (ne_slice){n->text, n->len};
}

void ne_js_text_free(ne_js *js, uint16_t *slot)
{
    uint16_t s = *slot;
    if (s == NE_JS_NO_TEXT) {
        return;
    }
    if (s < TEXT_FIRST) {
        ne_pool_free(&js->short_text_pool, slot_at(&js->short_text_pool, s));
    } else if (s < LONG_NAME_FIRST) {
        ne_pool_free(&js->text_pool, slot_at(&js->text_pool, s - TEXT_FIRST));
    } else {
        ne_pool_free(&js->long_name_pool, slot_at(&js->long_name_pool, s - LONG_NAME_FIRST));
    }
    *slot = NE_JS_NO_TEXT;
}

bool ne_js_text_eq(const ne_js *js, uint16_t a, uint16_t b)
{
    ne_slice x = ne_js_text_get(js, a), y = ne_js_text_get(js, b);
    return x.len == y.len && memcmp(x.ptr, y.ptr, x.len) == 0;
}

/* ---- Writing JSON ---------------------------------------------------------------------- */

void ne_js_write_error(ne_json_out *o, const ne_js_error *e)
{
    const ne_js_err_def *d = ne_js_err_get(e->err);
    char text[256];
    const char *hole = strchr(d->description, '{');
    if (hole != NULL) {
        const char *close = strchr(hole, '}');
        NE_ASSERT(close != NULL);
        size_t n = ne_fmt(text, sizeof(text), "%.*s%s%s", (int)(hole - d->description),
                          d->description, e->arg, close + 1);
        if (n == 0) {
            ne_fmt(text, sizeof(text), "%s", d->description);
        }
    } else {
        ne_fmt(text, sizeof(text), "%s", d->description);
    }
    ne_json_key(o, "error");
    ne_json_begin_object(o);
    ne_json_kv_u64(o, "code", d->code);
    ne_json_kv_u64(o, "err_code", d->err_code);
    ne_json_kv_string(o, "description", text);
    ne_json_end_object(o);
}

void ne_js_write_time(ne_json_out *o, const char *key, uint64_t unix_ns)
{
    if (unix_ns == 0) {
        ne_json_kv_string(o, key, "0001-01-01T00:00:00Z");
    } else {
        ne_json_kv_time(o, key, unix_ns);
    }
}

/* ---- Publishing -------------------------------------------------------------------------- */

/* Bytes written into pool chunks, so a message is bounded by the pool. */
typedef struct chain_sink {
    ne_chunk_pools *pools;
    ne_chunk *head;
    ne_chunk *tail;
    size_t len;
} chain_sink;

/* Room at the end of the chain: at most want bytes; NULL when the pool is
 * empty. */
static uint8_t *chain_room(chain_sink *s, size_t want, size_t *room)
{
    if (s->tail == NULL || s->tail->used == NE_CHUNK_BYTES) {
        ne_chunk *c = ne_chunk_alloc(s->pools);
        if (c == NULL) {
            return NULL;
        }
        if (s->tail != NULL) {
            s->tail->next = c;
        } else {
            s->head = c;
        }
        s->tail = c;
    }
    *room = NE_MIN(want, (size_t)NE_CHUNK_BYTES - s->tail->used);
    return s->tail->data + s->tail->used;
}

static void chain_advance(chain_sink *s, size_t n)
{
    s->tail->used += (uint32_t)n;
    s->len += n;
}

static int chain_write(void *ctx, const char *bytes, size_t len)
{
    chain_sink *s = ctx;
    size_t done = 0;
    /* Bounded: each pass fills one chunk. */
    while (done < len) {
        size_t n = 0;
        uint8_t *dst = chain_room(s, len - done, &n);
        if (dst == NULL) {
            return NE_ERR_NOMEM;
        }
        memcpy(dst, bytes + done, n);
        chain_advance(s, n);
        done += n;
    }
    return NE_OK;
}

/* Copies len stored body bytes from offset into the chain. */
static int chain_write_stored(chain_sink *s, ne_js_store *st, uint64_t seq, uint32_t offset,
                              uint32_t len)
{
    uint32_t done = 0;
    while (done < len) {
        size_t n = 0;
        uint8_t *dst = chain_room(s, len - done, &n);
        if (dst == NULL) {
            return NE_ERR_NOMEM;
        }
        int rc = st->ops->read(st, seq, offset + done, dst, (uint32_t)n);
        if (rc != NE_OK) {
            return rc;
        }
        chain_advance(s, n);
        done += (uint32_t)n;
    }
    return NE_OK;
}

/* Routes msg from the account's client: the receivers it reached. */
static uint32_t publish(ne_js *js, ne_js_account *a, ne_msg *msg)
{
    uint32_t delivered = 0;
    NE_ASSERT(!js->router->routing);
    if (a->client != NULL) {
        (void)ne_router_publish(js->router, a->client, msg, &delivered);
    }
    return delivered;
}

bool ne_js_send_json(ne_js *js, ne_js_account *a, ne_slice subject, ne_js_doc_fn write,
                     const void *arg)
{
    chain_sink sink = {&js->conns->chunks, NULL, NULL, 0};
    char piece[NE_JS_PIECE_BYTES];
    ne_json_out o;
    ne_json_out_init(&o, piece, sizeof(piece), chain_write, &sink);
    write(js, &o, arg);
    int rc = ne_json_out_finish(&o);
    if (rc == NE_OK) {
        rc = chain_write(&sink, "\r\n", 2);
    }
    if (rc != NE_OK) {
        ne_chunk_chain_release(&js->conns->chunks, sink.head);
        js->stats.responses_failed++;
        ne_log_warn(js->conns->log,
                    "JetStream response on \"%.*s\" not sent: chunk pool exhausted "
                    "(NE_CHUNK_COUNT)",
                    (int)subject.len, subject.ptr);
        return false;
    }
    ne_msg msg;
    NE_MSG_CLEAR(&msg);
    msg.subject = subject;
    msg.reply = (ne_slice){"", 0};
    msg.total_len = (uint32_t)(sink.len - 2);
    msg.chain = sink.head;
    (void)publish(js, a, &msg);
    ne_chunk_chain_release(&js->conns->chunks, sink.head);
    return true;
}

bool ne_js_send(ne_js *js, ne_js_account *a, ne_slice subject, ne_slice reply, const char *hdr,
                uint32_t hdr_len, const uint8_t *data, uint32_t data_len)
{
    size_t total = (size_t)hdr_len + data_len;
    ne_msg msg;
    NE_MSG_CLEAR(&msg);
    msg.subject = subject;
    msg.reply = reply;
    msg.hdr_len = hdr_len;
    msg.has_headers = hdr_len > 0;
    msg.total_len = (uint32_t)total;
    chain_sink sink = {&js->conns->chunks, NULL, NULL, 0};
    if (total + 2 <= sizeof(js->scratch)) {
        if (hdr_len > 0) {
            memcpy(js->scratch, hdr, hdr_len);
        }
        if (data_len > 0) {
            memcpy(js->scratch + hdr_len, data, data_len);
        }
        memcpy(js->scratch + total, "\r\n", 2);
        msg.data = js->scratch;
    } else {
        int rc = chain_write(&sink, hdr, hdr_len);
        rc = rc == NE_OK ? chain_write(&sink, (const char *)data, data_len) : rc;
        rc = rc == NE_OK ? chain_write(&sink, "\r\n", 2) : rc;
        if (rc != NE_OK) {
            ne_chunk_chain_release(&js->conns->chunks, sink.head);
            js->stats.responses_failed++;
            return false;
        }
        msg.chain = sink.head;
    }
    (void)publish(js, a, &msg);
    ne_chunk_chain_release(&js->conns->chunks, sink.head);
    return true;
}

/* The length of a stored header block's status line with its CRLF
 * ("NATS/1.0\r\n"), 0 when it is not within the first bytes read. */
static uint32_t status_line_len(ne_js_store *store, uint64_t seq, uint32_t hdr_len)
{
    char head[64];
    uint32_t n = NE_MIN(hdr_len, (uint32_t)sizeof(head));
    if (store->ops->read(store, seq, 0, head, n) != NE_OK) {
        return 0;
    }
    for (uint32_t i = 0; i + 1 < n; i++) {
        if (head[i] == '\r' && head[i + 1] == '\n') {
            return i + 2;
        }
    }
    return 0;
}

/* ne_js_send_stored, the extra lines after the stored block's status line
 * when extra_first, else before its end. */
static int send_stored(ne_js *js, ne_js_account *a, ne_js_stream *st, const ne_js_msg_info *info,
                       ne_slice subject, ne_slice shown, ne_slice reply, const char *extra,
                       uint32_t extra_len, bool extra_first, bool headers_only, uint32_t *bytes,
                       uint32_t *delivered)
{
    ne_js_store *store = &st->store;
    uint32_t stored_hdr = info->hdr_len;
    /* The stored block ends with an empty line: extra lines go before it. */
    bool headers = stored_hdr > 0 || extra_len > 0;
    uint32_t keep = stored_hdr >= 4 ? stored_hdr - 2 : 0;
    uint32_t hdr_len = headers ? (stored_hdr >= 4 ? keep : 10u) + extra_len + 2u : 0;
    uint32_t data_len = headers_only ? 0 : info->data_len;
    chain_sink sink = {&js->conns->chunks, NULL, NULL, 0};
    int rc = NE_OK;
    if (headers) {
        uint32_t first = 0;
        if (stored_hdr >= 4) {
            first = extra_first && extra_len > 0 ? status_line_len(store, info->seq, keep) : keep;
            first = first > 0 ? first : keep;
            rc = chain_write_stored(&sink, store, info->seq, 0, first);
        } else {
            rc = chain_write(&sink, "NATS/1.0\r\n", 10);
        }
        rc = rc == NE_OK && extra_len > 0 ? chain_write(&sink, extra, extra_len) : rc;
        if (rc == NE_OK && stored_hdr >= 4 && first < keep) {
            rc = chain_write_stored(&sink, store, info->seq, first, keep - first);
        }
        rc = rc == NE_OK ? chain_write(&sink, "\r\n", 2) : rc;
    }
    if (rc == NE_OK && data_len > 0) {
        rc = chain_write_stored(&sink, store, info->seq, stored_hdr, data_len);
    }
    rc = rc == NE_OK ? chain_write(&sink, "\r\n", 2) : rc;
    if (rc != NE_OK) {
        ne_chunk_chain_release(&js->conns->chunks, sink.head);
        if (rc == NE_ERR_NOMEM) {
            js->stats.deliveries_waited++;
        }
        return rc;
    }
    ne_msg msg;
    NE_MSG_CLEAR(&msg);
    msg.subject = subject;
    msg.shown = shown;
    msg.reply = reply;
    msg.hdr_len = hdr_len;
    msg.has_headers = headers;
    msg.total_len = hdr_len + data_len;
    msg.chain = sink.head;
    uint32_t reached = publish(js, a, &msg);
    ne_chunk_chain_release(&js->conns->chunks, sink.head);
    *bytes = hdr_len + data_len;
    if (delivered != NULL) {
        *delivered = reached;
    }
    return NE_OK;
}

int ne_js_send_stored(ne_js *js, ne_js_account *a, ne_js_stream *st, const ne_js_msg_info *info,
                      ne_slice subject, ne_slice shown, ne_slice reply, const char *extra,
                      uint32_t extra_len, bool headers_only, uint32_t *bytes)
{
    return send_stored(js, a, st, info, subject, shown, reply, extra, extra_len, false,
                       headers_only, bytes, NULL);
}

int ne_js_send_stored_first(ne_js *js, ne_js_account *a, ne_js_stream *st,
                            const ne_js_msg_info *info, ne_slice subject, ne_slice reply,
                            const char *extra, uint32_t extra_len, uint32_t *bytes,
                            uint32_t *delivered)
{
    return send_stored(js, a, st, info, subject, (ne_slice){"", 0}, reply, extra, extra_len, true,
                       false, bytes, delivered);
}

void ne_js_wake(ne_js *js, ne_js_account *a)
{
    a->work = true;
    if (a->client != NULL) {
        ne_conn_mark_dirty(a->client);
    }
}

/* ---- Records ------------------------------------------------------------------------------ */

bool ne_js_queue_record(ne_js *js, ne_js_account *a, uint8_t type, uint8_t sid, ne_slice subject,
                        ne_slice reply, const void *body, uint32_t body_len)
{
    ne_conn *c = a->client;
    size_t need = sizeof(record_head) + subject.len + reply.len + body_len;
    if (c == NULL || need > sizeof(js->inbound) || c->out.bytes + need > NE_JS_QUEUE_BYTES) {
        js->stats.requests_dropped++;
        a->requests_dropped++;
        return false;
    }
    record_head h = {type, sid, (uint16_t)subject.len, (uint16_t)reply.len, 0, body_len};
    uint8_t *p = js->inbound;
    memcpy(p, &h, sizeof(h));
    p += sizeof(h);
    if (subject.len > 0) {
        memcpy(p, subject.ptr, subject.len);
        p += subject.len;
    }
    if (reply.len > 0) {
        memcpy(p, reply.ptr, reply.len);
        p += reply.len;
    }
    if (body_len > 0 && body != js->inbound + (p - js->inbound)) {
        memmove(p, body, body_len);
    }
    if (ne_outq_append(&c->out, &js->conns->chunks, js->inbound, need) != NE_OK) {
        js->stats.requests_dropped++;
        a->requests_dropped++;
        return false;
    }
    if (c->out.bytes > NE_JS_QUEUE_HIGH_WATER_BYTES) {
        ne_conns_congest(js->conns);
    }
    ne_conn_mark_dirty(c);
    return true;
}

/* Copies len payload bytes from offset `from` of a message. */
static void copy_payload(const ne_msg *msg, uint32_t from, uint8_t *dst, uint32_t len)
{
    if (len == 0) {
        return;
    }
    if (msg->chain == NULL) {
        memcpy(dst, msg->data + from, len);
        return;
    }
    const ne_chunk *c = msg->chain;
    uint32_t at = msg->chain_offset + from;
    while (c != NULL && at >= c->used) {
        at -= c->used;
        c = c->next;
    }
    uint32_t done = 0;
    while (c != NULL && done < len) {
        uint32_t n = NE_MIN(len - done, c->used - at);
        memcpy(dst + done, c->data + at, n);
        done += n;
        at = 0;
        c = c->next;
    }
}

/* nats-server maps $JS.<domain>.API.$KV.> and .$OBJ.> onto $KV.> and
 * $OBJ.> (inventory LN-34): a KV or object put made through the domain's
 * prefix (nats.js's kv with { domain }) is stored in the stream that
 * captures the mapped subject, as if published there, its reply getting
 * the publish ack. True when the subject is one of these. */
static bool deliver_mapped(ne_js *js, ne_js_account *a, ne_msg *msg, uint32_t *payload_bytes)
{
    size_t skip = 4 + strlen(js->opts->js.domain) + 5; /* "$JS." domain ".API." */
    if (msg->subject.len <= skip) {
        return false;
    }
    ne_slice rest = {msg->subject.ptr + skip, msg->subject.len - skip};
    if (!(rest.len > 4 && memcmp(rest.ptr, "$KV.", 4) == 0) &&
        !(rest.len > 5 && memcmp(rest.ptr, "$OBJ.", 5) == 0)) {
        return false;
    }
    uint32_t guard = 0;
    for (ne_js_stream *st = a->streams; st != NULL && guard++ < NE_JS_MAX_STREAMS; st = st->next) {
        for (uint8_t i = 0; i < st->cfg.subject_count; i++) {
            ne_slice f = ne_js_text_get(js, st->cfg.subjects[i]);
            if (ne_subject_matches(f.ptr, f.len, rest.ptr, rest.len)) {
                ne_msg mapped = *msg;
                mapped.subject = rest;
                mapped.shown = (ne_slice){"", 0};
                ne_js_stream_inbound(js, st, &mapped);
                *payload_bytes = msg->total_len - msg->hdr_len;
                return true;
            }
        }
    }
    return true; /* no stream takes it: nothing to answer, as without one */
}

/* The deliver op: a stream's message is stored now; a request, an ack or
 * a flow control reply is queued for the end of the turn. */
static bool js_deliver(ne_conn *conn, ne_sub *sub, ne_msg *msg, uint32_t *payload_bytes)
{
    ne_js *js = js_of(conn);
    ne_js_account *a = ne_js_account_of(js, conn);
    const char *sid = ne_sub_sid(sub);
    if (a == NULL || sub->sid_len == 0) {
        return false;
    }
    uint32_t body = msg->total_len - msg->hdr_len;
    if (sid[0] == SID_STREAM) {
        uint64_t slot = 0;
        if (!ne_parse_u64(sid + 1, sub->sid_len - 1u, NE_JS_MAX_STREAMS - 1u, &slot)) {
            return false;
        }
        ne_js_stream *st = (ne_js_stream *)(void *)(js->stream_pool.storage +
                                                    (size_t)slot * js->stream_pool.object_bytes);
        ne_js_stream_inbound(js, st, msg);
        *payload_bytes = body;
        return true;
    }
    if (sid[0] == SID_DOMAIN_API && deliver_mapped(js, a, msg, payload_bytes)) {
        return true;
    }
    if (sid[0] == SID_SOURCE_DELIVER) {
        *payload_bytes = body;
        return ne_js_source_deliver(js, a, sub, msg);
    }
    if (sid[0] == SID_ACK && !ne_js_consumer_ack_known(a, msg->subject)) {
        return false;
    }
    /* Requests carry no headers worth keeping; of a body larger than the
     * record bound only the first bytes are queued (an ack's verb), the
     * record marked as cut. */
    bool cut = body > NE_JS_API_REQUEST_BYTES;
    uint32_t keep = cut ? NE_JS_CUT_PREFIX_BYTES : body;
    uint8_t *dst = js->inbound + sizeof(record_head) + msg->subject.len + msg->reply.len;
    if (sizeof(record_head) + msg->subject.len + msg->reply.len + keep > sizeof(js->inbound)) {
        js->stats.requests_dropped++;
        return false;
    }
    copy_payload(msg, msg->hdr_len, dst, keep);
    if (!ne_js_queue_record(js, a, cut ? NE_JS_REC_CUT : NE_JS_REC_REQUEST, (uint8_t)sid[0],
                            msg->subject, msg->reply, dst, keep)) {
        return false;
    }
    *payload_bytes = body;
    return true;
}

/* One record from the queue into js->record. */
static bool read_record(ne_js *js, ne_conn *conn, record_head *h)
{
    if (conn->out.bytes < sizeof(*h)) {
        return false;
    }
    size_t n = ne_outq_read(&conn->out, &js->conns->chunks, h, sizeof(*h));
    size_t len = (size_t)h->subject_len + h->reply_len + h->body_len;
    NE_ASSERT(n == sizeof(*h) && len <= sizeof(js->record) && len <= conn->out.bytes);
    n = ne_outq_read(&conn->out, &js->conns->chunks, js->record, len);
    NE_ASSERT(n == len);
    return true;
}

static void handle_request(ne_js *js, ne_js_account *a, const record_head *h)
{
    bool cut = h->type == NE_JS_REC_CUT;
    ne_slice subject = {(const char *)js->record, h->subject_len};
    ne_slice reply = {(const char *)js->record + h->subject_len, h->reply_len};
    ne_slice body = {(const char *)js->record + h->subject_len + h->reply_len, h->body_len};
    switch (h->sid) {
    case SID_API:
    case SID_DOMAIN_API: {
        /* $JS.API.<rest> or $JS.<domain>.API.<rest> */
        uint32_t skip = h->sid == SID_API ? 8u : (uint32_t)(4 + strlen(js->opts->js.domain) + 5);
        if (subject.len <= skip) {
            return;
        }
        ne_slice rest = {subject.ptr + skip, subject.len - skip};
        ne_js_api_request(js, a, rest, reply, body, cut);
        break;
    }
    case SID_ACK:
        ne_js_consumer_ack(js, a, subject, reply, body, cut);
        break;
    case SID_FC:
        ne_js_consumer_fc_reply(js, a, subject);
        break;
    case SID_SOURCE_REPLY:
    case SID_SOURCE_PUBLISH:
        ne_js_source_record(js, a, h->sid, subject, body);
        break;
    case SID_FORWARD_REPLY:
        ne_js_forward_record(js, a, subject, body);
        break;
    default:
        break;
    }
}

/* Consumers of the account deliver what they can; true when some stopped
 * at their budget with more to deliver. */
static bool deliver_all(ne_js *js, ne_js_account *a)
{
    bool more = false;
    uint32_t guard = 0;
    for (ne_js_stream *st = a->streams; st != NULL && guard++ < NE_JS_MAX_STREAMS; st = st->next) {
        uint32_t cguard = 0;
        for (ne_js_consumer *c = st->consumers; c != NULL && cguard++ < NE_JS_MAX_CONSUMERS;
             c = c->next) {
            more = ne_js_consumer_deliver(js, c, NE_JS_DELIVERIES_PER_TURN) || more;
        }
        st->has_new = false;
    }
    return more;
}

/* The handler: the records of this turn, then the consumers' deliveries. */
static void js_run(ne_conn *conn)
{
    ne_js *js = js_of(conn);
    ne_js_account *a = ne_js_account_of(js, conn);
    if (a == NULL) {
        return;
    }
    for (uint32_t i = 0; i < NE_JS_RECORDS_PER_TURN; i++) {
        record_head h;
        if (!read_record(js, conn, &h)) {
            break;
        }
        if (h.type == NE_JS_REC_PUBACK) {
            ne_slice reply = {(const char *)js->record + h.subject_len, h.reply_len};
            ne_js_stream_puback(js, a, reply, js->record + h.subject_len + h.reply_len, h.body_len);
        } else {
            handle_request(js, a, &h);
        }
    }
    ne_js_source_tick(js, a, js->conns->now_ms);
    ne_js_forward_tick(js, a, js->conns->now_ms);
    if (a->work) {
        a->work = false;
        if (deliver_all(js, a)) {
            ne_js_wake(js, a);
        }
    }
    ne_js_file_turn_end(js, a);
    if (conn->out.bytes > NE_JS_QUEUE_HIGH_WATER_BYTES) {
        ne_conns_congest(js->conns); /* what is left holds the input back again */
    }
}

/* Every tick: the streams' and consumers' timers. */
static void js_timer(ne_conn *conn, uint64_t now_ms)
{
    ne_js *js = js_of(conn);
    ne_js_account *a = ne_js_account_of(js, conn);
    if (a == NULL) {
        return;
    }
    uint64_t wall = ne_js_now_ns();
    uint64_t now = (uint64_t)now_ms * 1000000ull;
    ne_js_source_tick(js, a, now_ms);
    ne_js_forward_tick(js, a, now_ms);
    uint32_t guard = 0;
    ne_js_stream *next = NULL;
    for (ne_js_stream *st = a->streams; st != NULL && guard++ < NE_JS_MAX_STREAMS; st = next) {
        next = st->next;
        ne_js_stream_tick(js, st, wall, now);
        ne_js_consumer *cnext = NULL;
        uint32_t cguard = 0;
        for (ne_js_consumer *c = st->consumers; c != NULL && cguard++ < NE_JS_MAX_CONSUMERS;
             c = cnext) {
            cnext = c->next;
            ne_js_consumer_tick(js, c, now);
        }
    }
    ne_js_file_turn_end(js, a);
}

static void js_describe(const ne_conn *conn, ne_conn_desc *out)
{
    out->kind = "Internal";
    out->type = "";
    out->name = "$JS";
    out->lang = "";
    out->version = "";
    out->user = "";
    out->account = "";
    out->counted = false;
}

static void js_closed(ne_conn *conn)
{
    ne_js *js = js_of(conn);
    ne_js_account *a = ne_js_account_of(js, conn);
    if (a != NULL) {
        a->client = NULL;
    }
}

static const ne_conn_ops js_ops = {
    .deliver = js_deliver,
    .timer = js_timer,
    .closed = js_closed,
    .describe = js_describe,
    .run = js_run,
};

/* ---- Interest of push consumers ----------------------------------------------------------- */

static void interest_change(ne_js *js, ne_sub *sub, int delta)
{
    if (sub->conn == NULL || sub->conn->acc == NULL ||
        (ne_js_account_of(js, sub->conn) != NULL && !sub->echo)) {
        return; /* JetStream's own subscriptions, but a local mirror's or source's */
    }
    ne_js_account *a = account_by_index(js, sub->conn->acc->index);
    if (a == NULL || a->consumer_count == 0) {
        return;
    }
    ne_slice subject = {sub->entry.subject, sub->entry.subject_len};
    ne_slice queue = {sub->entry.queue != NULL ? sub->entry.queue : "", sub->entry.queue_len};
    ne_js_consumer_interest(js, a, subject, queue, delta);
}

static int interest_added(void *ctx, ne_sub *sub)
{
    interest_change(ctx, sub, 1);
    return NE_OK;
}

static void interest_removed(void *ctx, ne_sub *sub)
{
    interest_change(ctx, sub, -1);
}

/* ---- Life cycle -------------------------------------------------------------------------------
 */

void ne_js_init(ne_js *js, ne_js_storage *storage, const ne_server_options *opts, ne_conns *conns,
                ne_router *router, ne_mon *mon, ne_rng *rng)
{
    js->opts = opts;
    js->conns = conns;
    js->router = router;
    js->mon = mon;
    js->rng = rng;
    js->enabled = opts->js.enabled;
    ne_pool_init(&js->stream_pool, "JetStream streams", &storage->streams, sizeof(ne_js_stream),
                 NE_JS_MAX_STREAMS);
    ne_pool_init(&js->consumer_pool, "JetStream consumers", &storage->consumers,
                 sizeof(ne_js_consumer), NE_JS_MAX_CONSUMERS);
    ne_pool_init(&js->short_text_pool, "JetStream short text slots", &storage->short_texts,
                 sizeof(ne_js_short_text), NE_JS_SHORT_TEXT_SLOTS);
    ne_pool_init(&js->text_pool, "JetStream text slots", &storage->texts, sizeof(ne_js_text),
                 NE_JS_TEXT_SLOTS);
    ne_pool_init(&js->long_name_pool, "JetStream long name slots", &storage->long_names,
                 sizeof(ne_js_long_name), NE_JS_LONG_NAME_SLOTS);
    ne_pool_init(&js->source_set_pool, "JetStream source sets", &storage->source_sets,
                 sizeof(ne_js_source_set), NE_JS_SOURCED_STREAMS);
    ne_pool_init(&js->pending_pool, "JetStream pending acks", &storage->pending,
                 sizeof(ne_js_pending), NE_JS_MAX_PENDING);
    ne_pool_init(&js->pull_pool, "JetStream pull requests", &storage->pulls, sizeof(ne_js_pull),
                 NE_JS_MAX_WAITING);
    ne_pool_init(&js->msgid_pool, "JetStream message ids", &storage->msgids, sizeof(ne_js_msgid),
                 NE_JS_MAX_MSG_IDS);
    ne_js_mem_init(&js->mem, &storage->mem);
    const uint64_t region = (uint64_t)NE_JS_MEM_BLOCKS * NE_JS_MEM_BLOCK_BYTES;
    js->max_memory = opts->js.max_memory > 0 ? (uint64_t)opts->js.max_memory : region;
    /* File storage: one device of at most NE_STORE_MAX_BLOCKS blocks. */
    js->max_store = opts->js.max_store > 0 ? (uint64_t)opts->js.max_store : ne_js_file_max_bytes();
    ne_js_file_init(js, &storage->file);
    js->kind = ne_conns_kind(conns, "JetStream", "jid", &js_ops, js);
    js->account_count = 0;
    for (uint32_t i = 0; i < opts->account_count && js->enabled; i++) {
        if (!ne_js_account_enabled(opts, i) || js->account_count >= NE_JS_MAX_ACCOUNTS) {
            continue;
        }
        ne_js_account *a = &js->accounts[js->account_count++];
        memset(a, 0, sizeof(*a));
        a->js = js;
        a->index = (uint8_t)i;
        a->limits = opts->accounts[i].js;
        if (!a->limits.enabled) {
            /* $G without an accounts block: nats-server's dynamic limits. */
            a->limits.max_memory = -1;
            a->limits.max_store = -1;
            a->limits.max_streams = -1;
            a->limits.max_consumers = -1;
            a->limits.max_ack_pending = -1;
            a->limits.memory_max_stream_bytes = -1;
            a->limits.store_max_stream_bytes = -1;
            a->limits.enabled = true;
        }
    }
    if (js->enabled) {
        ne_interest_observer obs = {interest_added, interest_removed, js};
        ne_router_observe(router, &obs);
        ne_js_mon_register(js);
    }
}

static int subscribe(ne_js *js, ne_conn *c, const char *subject, const char *sid)
{
    ne_sub_spec spec = {.subject = {subject, (uint32_t)strlen(subject)},
                        .queue = {"", 0},
                        .sid = {sid, (uint32_t)strlen(sid)}};
    return ne_router_subscribe(js->router, c, &spec, NULL);
}

int ne_js_start(ne_js *js)
{
    if (!js->enabled) {
        return NE_OK;
    }
    ne_log_info(js->conns->log, "Starting JetStream");
    ne_log_info(js->conns->log, "  Max Memory:      %llu B", (unsigned long long)js->max_memory);
    ne_log_info(js->conns->log, "  Max Storage:     %llu B", (unsigned long long)js->max_store);
    if (js->opts->js.store_dir[0] != '\0') {
        ne_log_info(js->conns->log, "  Store Directory: \"%s\"", js->opts->js.store_dir);
    }
    if (js->opts->js.domain[0] != '\0') {
        ne_log_info(js->conns->log, "  Domain:          %s", js->opts->js.domain);
    }
    for (uint32_t i = 0; i < js->account_count; i++) {
        ne_js_account *a = &js->accounts[i];
        ne_conn *c = ne_conn_new_internal(js->conns, js->kind);
        if (c == NULL) {
            ne_log_error(js->conns->log, "No connection for JetStream's account client: raise "
                                         "NE_MAX_INTERNAL_CLIENTS");
            return NE_ERR_NOMEM;
        }
        c->acc = &js->router->accounts[a->index];
        c->no_echo = true;
        a->client = c;
        char domain_api[NE_JS_DOMAIN_BYTES + 16];
        int rc = subscribe(js, c, "$JS.API.>", "A");
        if (rc == NE_OK) {
            rc = subscribe(js, c, "$JS.ACK.>", "K");
        }
        if (rc == NE_OK) {
            rc = subscribe(js, c, "$JS.FC.>", "F");
        }
        if (rc == NE_OK && js->opts->js.domain[0] != '\0' &&
            ne_fmt(domain_api, sizeof(domain_api), "$JS.%s.API.>", js->opts->js.domain) > 0) {
            rc = subscribe(js, c, domain_api, "D");
        }
        if (rc != NE_OK) {
            ne_log_error(js->conns->log, "JetStream cannot subscribe for account %s: %s",
                         js->opts->accounts[a->index].name, ne_err_name(rc));
            return rc;
        }
        ne_log_info(js->conns->log, "  JetStream enabled for account %s",
                    js->opts->accounts[a->index].name);
    }
    js->started = true;
    return ne_js_file_start(js);
}

void ne_js_shutdown(ne_js *js)
{
    /* File streams and consumers are let go, not deleted. */
    js->file.closing = true;
    for (uint32_t i = 0; i < js->account_count; i++) {
        ne_js_account *a = &js->accounts[i];
        uint32_t guard = 0;
        while (a->streams != NULL && guard++ <= NE_JS_MAX_STREAMS) {
            ne_js_stream_delete(js, a->streams, false);
        }
    }
    ne_js_file_close(js);
}

uint32_t ne_js_pools_in_use(const ne_js *js, const char **busy)
{
    const ne_pool *pools[] = {&js->stream_pool,  &js->consumer_pool,  &js->short_text_pool,
                              &js->text_pool,    &js->long_name_pool, &js->source_set_pool,
                              &js->pending_pool, &js->pull_pool,      &js->msgid_pool,
                              &js->mem.blocks,   &js->mem.subjects};
    uint32_t total = 0;
    for (size_t i = 0; i < NE_ARRAY_LEN(pools); i++) {
        if (pools[i]->in_use > 0 && *busy == NULL) {
            *busy = pools[i]->name;
        }
        total += pools[i]->in_use;
    }
    uint32_t files = ne_js_file_in_use(js);
    if (files > 0 && *busy == NULL) {
        *busy = "JetStream file streams";
    }
    return total + files;
}

void ne_js_log_memory(const ne_js *js)
{
    if (!js->enabled) {
        return;
    }
    ne_log_info(js->conns->log, "JetStream reserves %zu KiB (pools below, memory store %zu KiB)",
                sizeof(ne_js_storage) / 1024, sizeof(ne_js_mem_storage) / 1024);
    ne_log_info(js->conns->log, "  streams %u x %zu B, consumers %u x %zu B, pending %u x %zu B",
                (unsigned)NE_JS_MAX_STREAMS, sizeof(ne_js_stream), (unsigned)NE_JS_MAX_CONSUMERS,
                sizeof(ne_js_consumer), (unsigned)NE_JS_MAX_PENDING, sizeof(ne_js_pending));
}

#endif /* NE_FEATURE_JETSTREAM */
