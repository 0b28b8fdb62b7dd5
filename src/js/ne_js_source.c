/* Mirrors and sources (ne_js_source.h, docs/store-and-forward.md,
 * docs/jetstream.md).
 *
 * An origin on this server (no external api) takes the same path as one
 * across a leaf link, through the API: the create request is queued on the
 * account's client as if it had been routed there, and the link's deliver
 * and reply subscriptions take the client's own messages (ne_sub.echo), so
 * the origin's consumer delivers to them through the router like any push
 * consumer. Its flow control replies are queued the same way. */
#include "js/ne_js_int.h"

#if NE_FEATURE_JETSTREAM

#include <string.h>

#include "core/ne_assert.h"
#include "core/ne_error.h"
#include "core/ne_fmt.h"
#include "core/ne_time.h"
#include "js/ne_js_source.h"

#define SID_DELIVER 'M'
#define SID_REPLY 'R'
#define SID_PUBLISH 'P'
/* The account client's own records (ne_js.c's SID_API and SID_FC): a local
 * origin's create request and flow control replies, queued directly. */
#define SID_CLIENT_API 'A'
#define SID_CLIENT_FC 'F'

static const char token_alphabet[] =
    "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

static ne_js_sources *sources_of(ne_js *js)
{
    return &js->sources;
}

static const ne_js_source_cfg *cfg_of(const ne_js_source_link *link)
{
    NE_ASSERT(link->stream != NULL && link->index < link->stream->cfg.source_count);
    return &link->stream->cfg.sources[link->index];
}

/* The origin is a stream of this server (no external api). */
static bool is_local(const ne_js_source_link *link)
{
    return cfg_of(link)->api == NE_JS_NO_TEXT;
}

static uint32_t link_index(ne_js *js, const ne_js_source_link *link)
{
    return (uint32_t)(link - sources_of(js)->links);
}

/* echo: the subscription takes the account client's own messages (a
 * local origin's consumer and API answer are published by it). */
static ne_sub *subscribe(ne_js *js, ne_conn *c, const char *subject, char kind, uint32_t idx,
                         bool echo)
{
    char sid[16];
    size_t n = ne_fmt(sid, sizeof(sid), "%c%u", kind, (unsigned)idx);
    ne_sub_spec spec = {.subject = {subject, (uint32_t)strlen(subject)},
                        .queue = {"", 0},
                        .sid = {sid, (uint32_t)n}};
    ne_sub *out = NULL;
    if (ne_router_subscribe(js->router, c, &spec, &out) != NE_OK) {
        return NULL;
    }
    out->echo = echo;
    return out;
}

/* A local origin's consumer for this link goes with the link's
 * subscriptions (nats-server stops its internal consumer as well), rather
 * than lingering until its inactive threshold. Not at shutdown: ephemeral
 * consumers are let go with their streams then. */
static void delete_local_consumer(ne_js *js, ne_js_source_link *link)
{
    if (!is_local(link) || link->deliver[0] == '\0' || js->file.closing) {
        return;
    }
    ne_js_stream *o = ne_js_stream_find(link->stream->acc, ne_js_text_get(js, cfg_of(link)->name));
    if (o == NULL) {
        return;
    }
    uint32_t guard = 0;
    for (ne_js_consumer *c = o->consumers; c != NULL && guard++ < NE_JS_MAX_CONSUMERS;
         c = c->next) {
        ne_slice ds = ne_js_text_get(js, c->cfg.deliver_subject);
        if (ne_slice_eq(ds, link->deliver, strlen(link->deliver))) {
            ne_js_consumer_delete(js, c, true);
            return;
        }
    }
}

static void unsubscribe(ne_js *js, ne_js_source_link *link)
{
    delete_local_consumer(js, link);
    if (link->deliver_sub != NULL) {
        ne_router_unsubscribe(js->router, link->deliver_sub);
        link->deliver_sub = NULL;
    }
    if (link->reply_sub != NULL) {
        ne_router_unsubscribe(js->router, link->reply_sub);
        link->reply_sub = NULL;
    }
}

/* The value of the last `Nats-Stream-Source` line of a header block (a
 * sourced message keeps its origin's own headers and gets ours last). */
static bool last_source_header(const char *h, uint32_t len, ne_slice *out)
{
    static const char name[] = "\r\nNats-Stream-Source:";
    const uint32_t n = sizeof(name) - 1u;
    bool found = false;
    for (uint32_t i = 0; i + n <= len; i++) {
        if (h[i] != '\r' || memcmp(h + i, name, n) != 0) {
            continue;
        }
        uint32_t v = i + n;
        while (v < len && h[v] == ' ') {
            v++;
        }
        uint32_t end = v;
        while (end + 1 < len && !(h[end] == '\r' && h[end + 1] == '\n')) {
            end++;
        }
        *out = (ne_slice){h + v, end - v};
        found = true;
        i = end;
    }
    return found;
}

/* A restored stream's sources resume after the last origin sequence each
 * of them stored. As nats-server does, the position is read back from the
 * Nats-Stream-Source headers of the stream's newest messages: the position
 * and the message it stands for are one record of the stream's store, so a
 * restart or a kill -9 neither asks for a message again nor skips one. The
 * walk goes from the newest message down and stops once every source of the
 * stream is found (for one source, at the newest message); it is bounded by
 * the stream's sequences. */
static void recover_positions(ne_js *js, ne_js_stream *st)
{
    ne_js_sources *s = sources_of(js);
    const ne_js_store_state *state = &st->store.state;
    if (st->cfg.mirror || state->msgs == 0) {
        return; /* a mirror's position is its own last sequence */
    }
    uint32_t missing = st->cfg.source_count;
    uint64_t first = state->first_seq > 0 ? state->first_seq : 1;
    for (uint64_t seq = state->last_seq; seq >= first && missing > 0; seq--) {
        ne_js_msg_info info;
        memset(&info, 0, sizeof(info));
        if (st->store.ops->info(&st->store, seq, &info) != NE_OK || info.hdr_len == 0 ||
            info.hdr_len > sizeof(s->header) ||
            st->store.ops->read(&st->store, seq, 0, s->header, info.hdr_len) != NE_OK) {
            continue;
        }
        ne_slice v = {"", 0};
        if (!last_source_header(s->header, info.hdr_len, &v)) {
            continue;
        }
        uint32_t space = v.len;
        while (space > 0 && v.ptr[space - 1] != ' ') {
            space--;
        }
        uint64_t sseq = 0;
        if (space < 2 || !ne_parse_u64(v.ptr + space, v.len - space, UINT64_MAX, &sseq)) {
            continue;
        }
        for (uint32_t i = 0; i < NE_JS_MAX_SOURCE_LINKS; i++) {
            ne_js_source_link *link = &s->links[i];
            if (link->state == NE_JS_SOURCE_FREE || link->stream != st || link->last_sseq > 0 ||
                !ne_slice_eq(ne_js_text_get(js, cfg_of(link)->name), v.ptr, space - 1u)) {
                continue;
            }
            link->last_sseq = sseq;
            missing--;
            break;
        }
        if (seq == 1) {
            break;
        }
    }
}

int ne_js_source_stream_started(ne_js *js, ne_js_stream *st)
{
    ne_js_sources *s = sources_of(js);
    uint32_t free_links = 0;
    for (uint32_t i = 0; i < NE_JS_MAX_SOURCE_LINKS; i++) {
        free_links += s->links[i].state == NE_JS_SOURCE_FREE ? 1u : 0u;
    }
    if (free_links < st->cfg.source_count) {
        ne_log_warn(js->conns->log,
                    "JetStream stream \"%s\": no room for its %u mirror/sources: raise "
                    "NE_JS_MAX_SOURCE_LINKS",
                    ne_js_stream_name(js, st), (unsigned)st->cfg.source_count);
        return NE_ERR_NOMEM;
    }
    uint8_t next = 0;
    for (uint32_t i = 0; i < NE_JS_MAX_SOURCE_LINKS && next < st->cfg.source_count; i++) {
        ne_js_source_link *link = &s->links[i];
        if (link->state != NE_JS_SOURCE_FREE) {
            continue;
        }
        memset(link, 0, sizeof(*link));
        link->stream = st;
        link->index = next++;
        link->state = NE_JS_SOURCE_WAIT;
        link->retry_ms = js->conns->now_ms;
    }
    recover_positions(js, st);
    ne_js_wake(js, st->acc);
    return NE_OK;
}

bool ne_js_source_room(const ne_js *js, const ne_js_stream *st, uint32_t count)
{
    uint32_t free_links = 0;
    for (uint32_t i = 0; i < NE_JS_MAX_SOURCE_LINKS; i++) {
        const ne_js_source_link *link = &js->sources.links[i];
        free_links += link->state == NE_JS_SOURCE_FREE || link->stream == st ? 1u : 0u;
    }
    return free_links >= count;
}

void ne_js_source_stream_stopped(ne_js *js, ne_js_stream *st)
{
    ne_js_sources *s = sources_of(js);
    for (uint32_t i = 0; i < NE_JS_MAX_SOURCE_LINKS; i++) {
        ne_js_source_link *link = &s->links[i];
        if (link->state != NE_JS_SOURCE_FREE && link->stream == st) {
            unsubscribe(js, link);
            memset(link, 0, sizeof(*link));
        }
    }
}

/* Where the next consumer starts: after the last origin sequence stored
 * (a mirror's own last sequence is the origin's), else where configured. */
static uint64_t start_seq(const ne_js_source_link *link)
{
    const ne_js_stream *st = link->stream;
    uint64_t last = st->cfg.mirror ? st->store.state.last_seq : link->last_sseq;
    if (last > 0) {
        return last + 1;
    }
    return cfg_of(link)->opt_start_seq;
}

/* The CreateConsumerRequest for the origin's ephemeral push consumer,
 * as nats-server's setupMirrorConsumer/setSourceConsumer ask for it. */
static size_t write_request(ne_js *js, const ne_js_source_link *link, char *out, size_t cap)
{
    const ne_js_source_cfg *src = cfg_of(link);
    ne_slice name = ne_js_text_get(js, src->name);
    ne_slice filter = ne_js_text_get(js, src->filter);
    uint64_t seq = start_seq(link);
    ne_strbuf sb;
    ne_strbuf_init(&sb, out, cap);
    ne_strbuf_puts(&sb, "{\"stream_name\":");
    ne_strbuf_json_string(&sb, name.ptr, name.len);
    ne_strbuf_puts(&sb, ",\"config\":{\"deliver_subject\":");
    ne_strbuf_json_string(&sb, link->deliver, strlen(link->deliver));
    if (seq > 0) {
        ne_strbuf_printf(&sb, ",\"deliver_policy\":\"by_start_sequence\",\"opt_start_seq\":%llu",
                         (unsigned long long)seq);
    } else if (src->opt_start_time_ns > 0) {
        ne_strbuf_puts(&sb, ",\"deliver_policy\":\"by_start_time\",\"opt_start_time\":\"");
        ne_time_rfc3339(&sb, src->opt_start_time_ns);
        ne_strbuf_puts(&sb, "\"");
    } else {
        ne_strbuf_puts(&sb, ",\"deliver_policy\":\"all\"");
    }
    ne_strbuf_printf(&sb,
                     ",\"ack_policy\":\"none\",\"ack_wait\":79200000000000,\"max_deliver\":1,"
                     "\"replay_policy\":\"instant\",\"idle_heartbeat\":%llu,"
                     "\"flow_control\":true,\"direct\":true",
                     (unsigned long long)NE_JS_SOURCE_HEARTBEAT_NS);
    if (filter.len > 0) {
        ne_strbuf_puts(&sb, ",\"filter_subject\":");
        ne_strbuf_json_string(&sb, filter.ptr, filter.len);
    }
    ne_strbuf_puts(&sb, "}}");
    return sb.truncated ? 0 : sb.len;
}

/* The wait before a create request is asked again: doubled for each one
 * in a row left unanswered (NE_JS_SOURCE_RETRY_MAX_MS at most). */
static uint64_t retry_delay(ne_js_source_link *link)
{
    uint64_t ms = NE_JS_SOURCE_RETRY_MS;
    for (uint8_t k = 0; k < link->unanswered && ms < NE_JS_SOURCE_RETRY_MAX_MS; k++) {
        ms *= 2;
    }
    if (link->unanswered < UINT8_MAX) {
        link->unanswered++;
    }
    return NE_MIN(ms, (uint64_t)NE_JS_SOURCE_RETRY_MAX_MS);
}

/* Gives up the link's consumer (if any) and asks the origin for a new one
 * on fresh subjects, so that what the old one still sends is not taken. */
static void ask(ne_js *js, ne_js_account *a, ne_js_source_link *link, uint64_t now_ms)
{
    ne_js_sources *s = sources_of(js);
    const ne_js_source_cfg *src = cfg_of(link);
    uint32_t idx = link_index(js, link);
    unsubscribe(js, link);
    link->state = NE_JS_SOURCE_WAIT;
    link->retry_ms = now_ms + retry_delay(link);
    link->restart = false;
    if (a->client == NULL) {
        return;
    }
    char token[NE_JS_SOURCE_TOKEN_LEN + 1];
    ne_rng_text(js->rng, token, NE_JS_SOURCE_TOKEN_LEN, token_alphabet);
    token[NE_JS_SOURCE_TOKEN_LEN] = '\0';
    ne_slice deliver = ne_js_text_get(js, src->deliver);
    const char *kind = link->stream->cfg.mirror ? "M" : "S";
    size_t n = deliver.len > 0
                   ? ne_fmt(link->deliver, sizeof(link->deliver), "%.*s.%s.%s", (int)deliver.len,
                            deliver.ptr, kind, token)
                   : ne_fmt(link->deliver, sizeof(link->deliver), "$JS.%s.%s", kind, token);
    ne_fmt(link->reply, sizeof(link->reply), "$JS.SR.%s.%u", token, (unsigned)idx);
    if (n == 0) {
        return; /* the deliver prefix was checked to fit when the stream was made */
    }
    bool local = is_local(link);
    link->deliver_sub = subscribe(js, a->client, link->deliver, SID_DELIVER, idx, local);
    link->reply_sub = subscribe(js, a->client, link->reply, SID_REPLY, idx, local);
    if (link->deliver_sub == NULL || link->reply_sub == NULL) {
        unsubscribe(js, link);
        ne_log_warn(js->conns->log,
                    "JetStream stream \"%s\": cannot subscribe for its mirror/source (the "
                    "subscription pool): trying again",
                    ne_js_stream_name(js, link->stream));
        return;
    }
    ne_slice api = local ? (ne_slice){"$JS.API", 7} : ne_js_text_get(js, src->api);
    ne_slice name = ne_js_text_get(js, src->name);
    char subject[NE_JS_SOURCE_SUBJECT_BYTES * 2];
    size_t subject_len = ne_fmt(subject, sizeof(subject), "%.*s.CONSUMER.CREATE.%.*s", (int)api.len,
                                api.ptr, (int)name.len, name.ptr);
    size_t body_len = write_request(js, link, s->request, sizeof(s->request));
    if (subject_len == 0 || body_len == 0) {
        unsubscribe(js, link);
        return;
    }
    link->dseq = 0;
    link->state = NE_JS_SOURCE_CREATING;
    link->last_active_ms = now_ms;
    ne_slice reply = {link->reply, (uint32_t)strlen(link->reply)};
    if (local) {
        /* The account's client would not get its own request: it is
         * queued as the router would have queued it. */
        (void)ne_js_queue_record(js, a, NE_JS_REC_REQUEST, SID_CLIENT_API,
                                 (ne_slice){subject, (uint32_t)subject_len}, reply, s->request,
                                 (uint32_t)body_len);
        return;
    }
    (void)ne_js_send(js, a, (ne_slice){subject, (uint32_t)subject_len}, reply, NULL, 0,
                     (const uint8_t *)s->request, (uint32_t)body_len);
}

/* A flow control reply (or a stalled consumer's): published toward a
 * remote origin, queued for a local one (the account's client does not
 * get its own messages on $JS.FC.>). */
static void answer_flow_control(ne_js *js, ne_js_account *a, const ne_js_source_link *link,
                                ne_slice subject)
{
    if (is_local(link)) {
        (void)ne_js_queue_record(js, a, NE_JS_REC_REQUEST, SID_CLIENT_FC, subject,
                                 (ne_slice){"", 0}, NULL, 0);
    } else {
        (void)ne_js_queue_record(js, a, NE_JS_REC_REQUEST, SID_PUBLISH, subject, (ne_slice){"", 0},
                                 NULL, 0);
    }
}

void ne_js_source_tick(ne_js *js, ne_js_account *a, uint64_t now_ms)
{
    ne_js_sources *s = sources_of(js);
    for (uint32_t i = 0; i < NE_JS_MAX_SOURCE_LINKS; i++) {
        ne_js_source_link *link = &s->links[i];
        if (link->state == NE_JS_SOURCE_FREE || link->stream->acc != a) {
            continue;
        }
        bool due = false;
        switch (link->state) {
        case NE_JS_SOURCE_WAIT:
        case NE_JS_SOURCE_CREATING:
            due = now_ms >= link->retry_ms;
            break;
        default:
            due = now_ms >= link->last_active_ms + NE_JS_SOURCE_STALL_MS;
            break;
        }
        if (link->restart || due) {
            if (link->state != NE_JS_SOURCE_WAIT) {
                link->restarts++;
            }
            ask(js, a, link, now_ms);
        }
    }
}

/* ---- Deliveries ------------------------------------------------------------------------- */

static ne_js_source_link *link_of_sub(ne_js *js, const ne_sub *sub)
{
    const char *sid = ne_sub_sid(sub);
    uint64_t idx = 0;
    if (sub->sid_len < 2 ||
        !ne_parse_u64(sid + 1, sub->sid_len - 1u, NE_JS_MAX_SOURCE_LINKS - 1u, &idx)) {
        return NULL;
    }
    ne_js_source_link *link = &sources_of(js)->links[idx];
    return link->state == NE_JS_SOURCE_FREE ? NULL : link;
}

/* Copies len bytes of a message's payload from `from` (data or chain). */
static void read_payload(const ne_msg *msg, uint32_t from, uint8_t *dst, uint32_t len)
{
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

/* Token `i` of "$JS.ACK.<stream>.<consumer>.<dc>.<sseq>.<dseq>.<ts>.<pending>"
 * counted from the end (0: pending), as a number. */
static bool ack_number(ne_slice reply, uint32_t from_end, uint64_t *out)
{
    uint32_t end = reply.len;
    for (uint32_t k = 0; k < from_end; k++) {
        while (end > 0 && reply.ptr[end - 1] != '.') {
            end--;
        }
        if (end == 0) {
            return false;
        }
        end--;
    }
    uint32_t start = end;
    while (start > 0 && reply.ptr[start - 1] != '.') {
        start--;
    }
    return end > start && ne_parse_u64(reply.ptr + start, end - start, UINT64_MAX, out);
}

static bool header_value(const ne_js_sources *s, uint32_t hdr_len, const char *name, uint64_t *out)
{
    ne_slice v;
    return ne_js_hdr_get((const uint8_t *)s->header, hdr_len, name, &v) &&
           ne_parse_u64(v.ptr, v.len, UINT64_MAX, out);
}

/* A heartbeat or a flow control request of the origin's consumer. */
static void handle_status(ne_js *js, ne_js_account *a, ne_js_source_link *link, const ne_msg *msg,
                          uint32_t hdr_len)
{
    ne_js_sources *s = sources_of(js);
    if (msg->reply.len > 0) {
        answer_flow_control(js, a, link, msg->reply);
        return;
    }
    ne_slice stalled;
    if (ne_js_hdr_get((const uint8_t *)s->header, hdr_len, "Nats-Consumer-Stalled", &stalled) &&
        stalled.len > 0) {
        answer_flow_control(js, a, link, stalled);
    }
    uint64_t last = 0;
    if (header_value(s, hdr_len, "Nats-Last-Consumer", &last) && last > link->dseq) {
        link->restart = true; /* deliveries were missed */
        ne_js_wake(js, a);
    }
}

/* A source's message gets the Nats-Stream-Source header: its header block
 * is rebuilt with the line added, and the payload follows in a chain. */
static void store_sourced(ne_js *js, ne_js_source_link *link, const ne_msg *msg, uint32_t hdr_len,
                          uint64_t sseq)
{
    ne_js_sources *s = sources_of(js);
    ne_slice name = ne_js_text_get(js, cfg_of(link)->name);
    char line[NE_JS_TEXT_BYTES + 48];
    size_t line_len = ne_fmt(line, sizeof(line), "Nats-Stream-Source: %.*s %llu\r\n\r\n",
                             (int)name.len, name.ptr, (unsigned long long)sseq);
    uint32_t keep = hdr_len >= 4 ? hdr_len - 2 : 0;
    size_t new_hdr = (hdr_len >= 4 ? keep : 10u) + line_len;
    if (line_len == 0 || new_hdr > sizeof(s->header)) {
        s->dropped++;
        return;
    }
    if (hdr_len < 4) {
        memcpy(s->header, "NATS/1.0\r\n", 10);
        keep = 10;
    }
    memcpy(s->header + keep, line, line_len);
    uint32_t data_len = msg->total_len - msg->hdr_len;
    /* The new header, the payload and "\r\n" into chunks. */
    ne_chunk_pools *pools = &js->conns->chunks;
    ne_chunk *head = NULL, *tail = NULL;
    uint32_t total = (uint32_t)new_hdr + data_len + 2;
    uint32_t done = 0;
    bool ok = true;
    while (done < total && ok) {
        ne_chunk *c = ne_chunk_alloc(pools);
        if (c == NULL) {
            ok = false;
            break;
        }
        if (tail != NULL) {
            tail->next = c;
        } else {
            head = c;
        }
        tail = c;
        uint32_t n = NE_MIN(total - done, (uint32_t)NE_CHUNK_BYTES);
        for (uint32_t k = 0; k < n;) {
            uint32_t at = done + k;
            uint32_t take = 0;
            if (at < new_hdr) {
                take = NE_MIN(n - k, (uint32_t)new_hdr - at);
                memcpy(c->data + k, s->header + at, take);
            } else if (at < new_hdr + data_len) {
                take = NE_MIN(n - k, (uint32_t)new_hdr + data_len - at);
                read_payload(msg, msg->hdr_len + (at - (uint32_t)new_hdr), c->data + k, take);
            } else {
                take = NE_MIN(n - k, total - at);
                static const char crlf[] = "\r\n";
                memcpy(c->data + k, crlf + (at - (uint32_t)new_hdr - data_len), take);
            }
            k += take;
        }
        c->used = n;
        done += n;
    }
    if (!ok) {
        ne_chunk_chain_release(pools, head);
        s->dropped++;
        return;
    }
    ne_msg m;
    NE_MSG_CLEAR(&m);
    m.subject = ne_msg_shown(msg);
    m.reply = (ne_slice){"", 0};
    m.hdr_len = (uint32_t)new_hdr;
    m.has_headers = true;
    m.total_len = (uint32_t)new_hdr + data_len;
    m.chain = head;
    ne_js_stream_copy_in(js, link->stream, &m, 0);
    ne_chunk_chain_release(pools, head);
}

/* A mirror keeps the origin's sequence (a gap is skipped over) and its
 * time (the delivery's ack reply carries it, in ns). */
static void store_mirrored(ne_js *js, ne_js_source_link *link, const ne_msg *msg, uint64_t sseq)
{
    uint64_t ts_ns = 0;
    if (!ack_number(msg->reply, 1, &ts_ns)) {
        ts_ns = 0;
    }
    ne_js_stream *st = link->stream;
    if (sseq > st->store.state.last_seq + 1) {
        (void)st->store.ops->skip_to(&st->store, sseq);
    }
    ne_msg m;
    NE_MSG_CLEAR(&m);
    m.subject = ne_msg_shown(msg);
    m.reply = (ne_slice){"", 0};
    m.hdr_len = msg->hdr_len;
    m.has_headers = msg->has_headers;
    m.total_len = msg->total_len;
    m.data = msg->data;
    m.chain = msg->chain;
    m.chain_offset = msg->chain_offset;
    ne_js_stream_copy_in(js, st, &m, ts_ns);
}

bool ne_js_source_deliver(ne_js *js, ne_js_account *a, const ne_sub *sub, ne_msg *msg)
{
    ne_js_sources *s = sources_of(js);
    ne_js_source_link *link = link_of_sub(js, sub);
    if (link == NULL || link->deliver_sub != sub || link->stream->acc != a) {
        return false;
    }
    link->last_active_ms = js->conns->now_ms;
    link->last_seen_ms = js->conns->now_ms;
    uint32_t hdr_len = msg->hdr_len;
    if (hdr_len > sizeof(s->header)) {
        s->dropped++;
        return true;
    }
    read_payload(msg, 0, (uint8_t *)s->header, hdr_len);
    if (hdr_len >= 12 && memcmp(s->header, "NATS/1.0 100", 12) == 0) {
        handle_status(js, a, link, msg, hdr_len);
        return true;
    }
    uint64_t dc = 0, sseq = 0, dseq = 0;
    if (!ack_number(msg->reply, 4, &dc) || !ack_number(msg->reply, 3, &sseq) ||
        !ack_number(msg->reply, 2, &dseq) || dc != 1) {
        return true; /* not a first delivery of this consumer */
    }
    if (dseq != link->dseq + 1) {
        if (dseq > link->dseq + 1) {
            link->restart = true; /* a gap: ask again from the last stored */
            ne_js_wake(js, a);
        }
        return true;
    }
    link->dseq = dseq;
    link->state = NE_JS_SOURCE_RUNNING;
    link->error = NE_JS_OK;
    link->unanswered = 0;
    uint64_t pending = 0;
    if (ack_number(msg->reply, 0, &pending)) {
        link->lag = pending;
    }
    bool mirror = link->stream->cfg.mirror;
    uint64_t last = mirror ? link->stream->store.state.last_seq : link->last_sseq;
    if (sseq <= last) {
        return true; /* already stored */
    }
    link->last_sseq = sseq;
    link->stored++;
    if (mirror) {
        store_mirrored(js, link, msg, sseq);
    } else {
        store_sourced(js, link, msg, hdr_len, sseq);
    }
    return true;
}

/* ---- Records ---------------------------------------------------------------------------- */

/* The refusal of a create request: the error of ours with its err_code
 * ("stream not found" for a missing origin), or the generic 10052 for one
 * we do not know. */
static ne_js_err refusal_of(ne_slice body)
{
    static const char key[] = "\"err_code\":";
    const uint32_t n = sizeof(key) - 1u;
    uint64_t code = 0;
    for (uint32_t k = 0; k + n <= body.len; k++) {
        if (memcmp(body.ptr + k, key, n) != 0) {
            continue;
        }
        uint32_t end = k + n;
        while (end < body.len && body.ptr[end] >= '0' && body.ptr[end] <= '9') {
            end++;
        }
        if (!ne_parse_u64(body.ptr + k + n, end - (k + n), UINT16_MAX, &code)) {
            code = 0;
        }
        break;
    }
    for (uint32_t e = NE_JS_OK + 1u; e < NE_JS_ERR_COUNT && code != 0; e++) {
        const ne_js_err_def *d = ne_js_err_get((ne_js_err)e);
        if (d->err_code == code && strchr(d->description, '{') == NULL) {
            return (ne_js_err)e;
        }
    }
    return NE_JS_ERR_STREAM_INVALID_CONFIG; /* written with a text of its own */
}

/* The origin's answer to a create request: an error waits for the retry;
 * a consumer's info means deliveries come (they may have come first). */
static void handle_created(ne_js *js, ne_js_account *a, ne_slice subject, ne_slice body)
{
    ne_js_sources *s = sources_of(js);
    for (uint32_t i = 0; i < NE_JS_MAX_SOURCE_LINKS; i++) {
        ne_js_source_link *link = &s->links[i];
        if (link->state == NE_JS_SOURCE_FREE || link->stream->acc != a ||
            !ne_slice_eq(subject, link->reply, strlen(link->reply))) {
            continue;
        }
        bool error = false;
        for (uint32_t k = 0; k + 8 <= body.len && !error; k++) {
            error = memcmp(body.ptr + k, "\"error\":", 8) == 0;
        }
        if (error) {
            uint8_t was = link->error;
            link->error = (uint8_t)refusal_of(body);
            if (was != link->error) {
                ne_log_warn(
                    js->conns->log, "JetStream stream \"%s\": its mirror/source was refused: %.*s",
                    ne_js_stream_name(js, link->stream), (int)NE_MIN(body.len, 200u), body.ptr);
            }
            link->state = NE_JS_SOURCE_WAIT;
            link->retry_ms = js->conns->now_ms + NE_JS_SOURCE_RETRY_MS;
            link->unanswered = 0; /* answered: asked again at the first interval */
        } else if (link->state == NE_JS_SOURCE_CREATING) {
            link->state = NE_JS_SOURCE_RUNNING;
            link->last_active_ms = js->conns->now_ms;
            link->last_seen_ms = js->conns->now_ms;
            link->error = NE_JS_OK;
            link->unanswered = 0;
        }
        return;
    }
}

/* One StreamSourceInfo. */
static void write_link_info(const ne_js *js, ne_json_out *o, const ne_js_stream *st, uint8_t index,
                            const ne_js_source_link *link)
{
    const ne_js_source_cfg *src = &st->cfg.sources[index];
    ne_json_begin_object(o);
    ne_slice name = ne_js_text_get(js, src->name);
    ne_json_key(o, "name");
    ne_json_string(o, name.ptr, name.len);
    if (src->api != NE_JS_NO_TEXT) {
        ne_slice api = ne_js_text_get(js, src->api);
        ne_slice deliver = ne_js_text_get(js, src->deliver);
        ne_json_key(o, "external");
        ne_json_begin_object(o);
        ne_json_key(o, "api");
        ne_json_string(o, api.ptr, api.len);
        ne_json_key(o, "deliver");
        ne_json_string(o, deliver.ptr, deliver.len);
        ne_json_end_object(o);
    }
    uint64_t now_ms = js->conns->now_ms;
    bool seen = link != NULL && link->last_seen_ms > 0 && link->error == NE_JS_OK;
    ne_json_kv_u64(o, "lag", link != NULL ? link->lag : 0);
    ne_json_kv_i64(o, "active",
                   seen ? (int64_t)((now_ms - NE_MIN(now_ms, link->last_seen_ms)) * 1000000ull)
                        : -1);
    if (link != NULL && link->error != NE_JS_OK) {
        ne_js_error e;
        ne_js_error_clear(&e);
        ne_js_error_set(&e, (ne_js_err)link->error, "%s",
                        link->stream->cfg.mirror ? "mirror consumer setup failed"
                                                 : "source consumer setup failed");
        ne_js_write_error(o, &e);
    }
    ne_json_end_object(o);
}

void ne_js_source_write_info(const ne_js *js, ne_json_out *o, const ne_js_stream *st)
{
    if (st->cfg.source_count == 0) {
        return;
    }
    const ne_js_sources *s = &js->sources;
    const ne_js_source_link *links[NE_JS_MAX_STREAM_SOURCES] = {NULL};
    for (uint32_t i = 0; i < NE_JS_MAX_SOURCE_LINKS; i++) {
        const ne_js_source_link *link = &s->links[i];
        if (link->state != NE_JS_SOURCE_FREE && link->stream == st &&
            link->index < NE_JS_MAX_STREAM_SOURCES) {
            links[link->index] = link;
        }
    }
    if (st->cfg.mirror) {
        ne_json_key(o, "mirror");
        write_link_info(js, o, st, 0, links[0]);
        return;
    }
    ne_json_key(o, "sources");
    ne_json_begin_array(o);
    for (uint8_t i = 0; i < st->cfg.source_count; i++) {
        write_link_info(js, o, st, i, links[i]);
    }
    ne_json_end_array(o);
}

void ne_js_source_record(ne_js *js, ne_js_account *a, uint8_t sid, ne_slice subject, ne_slice body)
{
    if (sid == SID_PUBLISH) {
        (void)ne_js_send(js, a, subject, (ne_slice){"", 0}, NULL, 0, NULL, 0);
    } else if (sid == SID_REPLY) {
        handle_created(js, a, subject, body);
    }
}

#endif /* NE_FEATURE_JETSTREAM */
