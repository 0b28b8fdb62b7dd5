/* The forwarder (ne_js_forward.h, docs/store-and-forward.md). */
#include "js/ne_js_int.h"

#if NE_FEATURE_JETSTREAM

#include <string.h>

#include "core/ne_assert.h"
#include "core/ne_error.h"
#include "core/ne_fmt.h"
#include "js/ne_js_forward.h"

#define SID_FORWARD_REPLY 'W'

static const char token_alphabet[] =
    "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

static ne_js_forwards *forwards_of(ne_js *js)
{
    return &js->forwards;
}

static bool bit_get(const ne_js_forward_link *f, uint64_t seq)
{
    NE_ASSERT(seq >= f->floor && seq - f->floor < NE_JS_FORWARD_MAX_WINDOW);
    uint64_t i = seq - f->floor;
    return (f->acked[i / 64] >> (i % 64)) & 1u;
}

static void bit_set(ne_js_forward_link *f, uint64_t seq)
{
    NE_ASSERT(seq >= f->floor && seq - f->floor < NE_JS_FORWARD_MAX_WINDOW);
    uint64_t i = seq - f->floor;
    f->acked[i / 64] |= 1ull << (i % 64);
}

/* The floor moves past what is acknowledged or gone: the bitmap shifts. */
static void advance_floor(ne_js_forward_link *f)
{
    const uint32_t words = NE_JS_FORWARD_MAX_WINDOW / 64;
    for (uint32_t guard = 0;
         guard < NE_JS_FORWARD_MAX_WINDOW && f->floor < f->next && (f->acked[0] & 1u) != 0;
         guard++) {
        for (uint32_t w = 0; w < words; w++) {
            uint64_t carry = w + 1 < words ? f->acked[w + 1] << 63 : 0;
            f->acked[w] = (f->acked[w] >> 1) | carry;
        }
        f->floor++;
    }
}

int ne_js_forward_stream_started(ne_js *js, ne_js_stream *st)
{
    ne_js_forwards *fw = forwards_of(js);
    for (uint32_t i = 0; i < NE_JS_MAX_FORWARDS; i++) {
        ne_js_forward_link *f = &fw->links[i];
        if (f->stream != NULL) {
            continue;
        }
        memset(f, 0, sizeof(*f));
        char token[9];
        ne_rng_text(js->rng, token, 8, token_alphabet);
        token[8] = '\0';
        char subject[40], sid[16];
        ne_fmt(f->reply_prefix, sizeof(f->reply_prefix), "$JS.FW.%s.", token);
        ne_fmt(subject, sizeof(subject), "%s*", f->reply_prefix);
        size_t sid_len = ne_fmt(sid, sizeof(sid), "%c%u", SID_FORWARD_REPLY, (unsigned)i);
        ne_sub_spec spec = {.subject = {subject, (uint32_t)strlen(subject)},
                            .queue = {"", 0},
                            .sid = {sid, (uint32_t)sid_len}};
        if (st->acc->client == NULL ||
            ne_router_subscribe(js->router, st->acc->client, &spec, &f->reply_sub) != NE_OK) {
            f->reply_sub = NULL;
            return NE_ERR_NOMEM;
        }
        if (st->cfg.storage == NE_JS_STORAGE_FILE &&
            strcmp(js->opts->server_name, js->conns->id.server_id) == 0) {
            /* The ids are <server_name>:<stream>:<seq>, and a server
             * without a name is named by its id, new at every start. */
            ne_log_warn(js->conns->log,
                        "JetStream stream \"%s\": forwarded without a server_name: the "
                        "message ids change at a restart and the cloud cannot drop what is "
                        "published again after one; set server_name",
                        ne_js_stream_name(js, st));
        }
        f->stream = st;
        f->floor = st->store.state.first_seq > 0 ? st->store.state.first_seq : 1;
        f->next = f->floor;
        f->progress_ms = js->conns->now_ms;
        f->probing = true;
        return NE_OK;
    }
    ne_log_warn(js->conns->log,
                "JetStream stream \"%s\": no room to forward it: raise "
                "NE_JS_MAX_FORWARDS",
                ne_js_stream_name(js, st));
    return NE_ERR_NOMEM;
}

void ne_js_forward_stream_stopped(ne_js *js, ne_js_stream *st)
{
    ne_js_forwards *fw = forwards_of(js);
    for (uint32_t i = 0; i < NE_JS_MAX_FORWARDS; i++) {
        ne_js_forward_link *f = &fw->links[i];
        if (f->stream == st) {
            if (f->reply_sub != NULL) {
                ne_router_unsubscribe(js->router, f->reply_sub);
            }
            memset(f, 0, sizeof(*f));
        }
    }
}

/* Publishes the message at seq with its id and our reply; *delivered: the
 * receivers it reached. */
static bool publish_one(ne_js *js, ne_js_account *a, ne_js_forward_link *f,
                        const ne_js_msg_info *info, uint32_t *delivered)
{
    ne_js_forwards *fw = forwards_of(js);
    ne_js_stream *st = f->stream;
    ne_slice prefix = ne_js_text_get(js, st->cfg.forward_prefix);
    size_t n = prefix.len > 0
                   ? ne_fmt(fw->publish, sizeof(fw->publish), "%.*s.%.*s", (int)prefix.len,
                            prefix.ptr, (int)info->subject_len, info->subject)
                   : ne_fmt(fw->publish, sizeof(fw->publish), "%.*s", (int)info->subject_len,
                            info->subject);
    char reply[48];
    size_t reply_len =
        ne_fmt(reply, sizeof(reply), "%s%llu", f->reply_prefix, (unsigned long long)info->seq);
    char extra[NE_JS_NAME_BYTES + 160];
    size_t extra_len =
        ne_fmt(extra, sizeof(extra), "Nats-Msg-Id: %s:%s:%llu\r\n", js->opts->server_name,
               ne_js_stream_name(js, st), (unsigned long long)info->seq);
    if (n == 0 || reply_len == 0 || extra_len == 0) {
        return false;
    }
    uint32_t bytes = 0;
    /* Our id first: the cloud deduplicates on the first Nats-Msg-Id, and
     * one the publisher gave (for the edge's own duplicate window) need not
     * be unique beyond this stream and its window. */
    int rc = ne_js_send_stored_first(js, a, st, info, (ne_slice){fw->publish, (uint32_t)n},
                                     (ne_slice){reply, (uint32_t)reply_len}, extra,
                                     (uint32_t)extra_len, &bytes, delivered);
    return rc == NE_OK;
}

/* Publishes what the window allows, from f->next on. */
static void publish_window(ne_js *js, ne_js_account *a, ne_js_forward_link *f, uint64_t now_ms)
{
    ne_js_forwards *fw = forwards_of(js);
    ne_js_stream *st = f->stream;
    uint64_t window = f->probing ? 1u : st->cfg.forward_window;
    for (uint32_t budget = 0; budget < NE_JS_FORWARD_PER_TURN; budget++) {
        if (f->next > st->store.state.last_seq || f->next >= f->floor + window) {
            break;
        }
        if (bit_get(f, f->next)) {
            f->next++; /* acknowledged before a republish reached it */
            continue;
        }
        ne_js_msg_info info;
        memset(&info, 0, sizeof(info));
        info.subject = fw->subject;
        info.subject_cap = sizeof(fw->subject);
        int rc = st->store.ops->next(&st->store, f->next, (ne_slice){"", 0}, &info);
        if (f->next == f->floor && (rc != NE_OK || info.seq > f->next)) {
            /* Nothing outstanding: the floor jumps over what is gone
             * (a purge of a million messages is one step, not a million). */
            uint64_t to = rc == NE_OK ? info.seq : st->store.state.last_seq + 1;
            f->skipped += to - f->next;
            f->floor = f->next = to;
            memset(f->acked, 0, sizeof(f->acked));
            continue;
        }
        if (rc != NE_OK || info.seq > st->store.state.last_seq) {
            /* Everything from next on is gone. */
            for (uint64_t s = f->next; s < f->floor + window && s <= st->store.state.last_seq;
                 s++) {
                bit_set(f, s);
                f->skipped++;
            }
            f->next = NE_MIN(f->floor + window, st->store.state.last_seq + 1);
            continue;
        }
        if (info.seq > f->next) {
            /* Removed before it was forwarded (limits, a delete). */
            uint64_t end = NE_MIN(info.seq, f->floor + window);
            for (uint64_t s = f->next; s < end; s++) {
                bit_set(f, s);
                f->skipped++;
            }
            f->next = end;
            continue;
        }
        if (f->next == f->floor && f->published == f->acknowledged) {
            f->progress_ms = now_ms; /* nothing was outstanding: the wait starts now */
        }
        uint32_t delivered = 0;
        if (!publish_one(js, a, f, &info, &delivered)) {
            break; /* the chunk pool: the next turn */
        }
        f->next++;
        if (f->probing && delivered == 0) {
            f->unheard = true;
            f->unheard_ms = now_ms;
            break;
        }
        f->published++;
    }
    advance_floor(f);
}

void ne_js_forward_write(ne_js *js, ne_json_out *o, const ne_js_stream *st)
{
    ne_js_forwards *fw = forwards_of(js);
    for (uint32_t i = 0; i < NE_JS_MAX_FORWARDS; i++) {
        const ne_js_forward_link *f = &fw->links[i];
        if (f->stream != st) {
            continue;
        }
        const ne_js_store_state *s = &st->store.state;
        uint64_t now = ne_js_now_ns();
        ne_json_key(o, "forward");
        ne_json_begin_object(o);
        ne_json_kv_u64(o, "published", f->published);
        ne_json_kv_u64(o, "acknowledged", f->acknowledged);
        ne_json_kv_u64(o, "republished", f->republished);
        ne_json_kv_u64(o, "skipped", f->skipped);
        ne_json_kv_u64(o, "refused", f->refused);
        ne_json_kv_u64(o, "advisories", f->advisories);
        ne_json_kv_u64(o, "outstanding", f->next - f->floor);
        ne_json_kv_u64(o, "backlog_msgs", s->msgs);
        ne_json_kv_u64(o, "backlog_bytes", s->bytes);
        ne_json_kv_u64(o, "backlog_age_ns",
                       s->msgs > 0 && now > s->first_ts_ns ? now - s->first_ts_ns : 0);
        ne_json_end_object(o);
        return;
    }
}

void ne_js_forward_refused(ne_js *js, const ne_js_stream *st)
{
    ne_js_forwards *fw = forwards_of(js);
    for (uint32_t i = 0; i < NE_JS_MAX_FORWARDS; i++) {
        if (fw->links[i].stream == st) {
            fw->links[i].refused++;
            return;
        }
    }
}

/* The backlog as a percent of the stream's limits: the fuller of its
 * messages and its bytes (0 without limits). */
static uint64_t backlog_percent(const ne_js_stream *st)
{
    const ne_js_store_state *s = &st->store.state;
    uint64_t pct = 0;
    if (st->cfg.max_msgs > 0) {
        pct = NE_MAX(pct, s->msgs * 100u / (uint64_t)st->cfg.max_msgs);
    }
    if (st->cfg.max_bytes > 0) {
        pct = NE_MAX(pct, s->bytes * 100u / (uint64_t)st->cfg.max_bytes);
    }
    return pct;
}

typedef struct backlog_event {
    const ne_js_forward_link *f;
    uint64_t percent;
} backlog_event;

/* natsedge's advisory (its own type: nats-server has no forwarder). */
static void write_backlog_event(ne_js *js, ne_json_out *o, const void *arg)
{
    const backlog_event *ev = arg;
    const ne_js_stream *st = ev->f->stream;
    const ne_js_store_state *s = &st->store.state;
    char id[23];
    ne_rng_text(js->rng, id, 22, NE_RNG_BASE62);
    id[22] = '\0';
    ne_json_begin_object(o);
    ne_json_kv_string(o, "type", "io.natsedge.jetstream.advisory.v1.stream_forward_backlog");
    ne_json_kv_string(o, "id", id);
    ne_json_kv_time(o, "timestamp", ne_js_now_ns());
    ne_json_kv_string(o, "stream", ne_js_stream_name(js, st));
    ne_json_kv_u64(o, "backlog_msgs", s->msgs);
    ne_json_kv_u64(o, "backlog_bytes", s->bytes);
    ne_json_kv_u64(o, "backlog_percent", ev->percent);
    ne_json_kv_u64(o, "threshold_percent", st->cfg.forward_backlog_advisory);
    ne_json_kv_i64(o, "max_msgs", st->cfg.max_msgs);
    ne_json_kv_i64(o, "max_bytes", st->cfg.max_bytes);
    ne_json_kv_u64(o, "skipped", ev->f->skipped);
    ne_json_kv_u64(o, "refused", ev->f->refused);
    if (js->opts->js.domain[0] != '\0') {
        ne_json_kv_string(o, "domain", js->opts->js.domain);
    }
    ne_json_end_object(o);
}

/* $JS.EVENT.ADVISORY.STREAM.FORWARD_BACKLOG.<stream> once each time the
 * backlog rises to backlog_advisory percent of the stream's limits; again
 * only after it fell below. */
static void check_backlog(ne_js *js, ne_js_account *a, ne_js_forward_link *f)
{
    uint8_t threshold = f->stream->cfg.forward_backlog_advisory;
    uint64_t pct = threshold > 0 ? backlog_percent(f->stream) : 0;
    if (threshold == 0 || pct < threshold) {
        f->backlog_high = false;
        return;
    }
    if (f->backlog_high) {
        return;
    }
    f->backlog_high = true;
    f->advisories++;
    char subject[NE_JS_NAME_BYTES + 48];
    if (ne_fmt(subject, sizeof(subject), "$JS.EVENT.ADVISORY.STREAM.FORWARD_BACKLOG.%s",
               ne_js_stream_name(js, f->stream)) == 0) {
        return;
    }
    ne_log_warn(js->conns->log,
                "JetStream stream \"%s\": the forward backlog is at %llu%% of the stream's "
                "limits (%llu messages, %llu bytes)",
                ne_js_stream_name(js, f->stream), (unsigned long long)pct,
                (unsigned long long)f->stream->store.state.msgs,
                (unsigned long long)f->stream->store.state.bytes);
    backlog_event ev = {f, pct};
    ne_js_advise(js, a, subject, write_backlog_event, &ev);
}

void ne_js_forward_tick(ne_js *js, ne_js_account *a, uint64_t now_ms)
{
    ne_js_forwards *fw = forwards_of(js);
    for (uint32_t i = 0; i < NE_JS_MAX_FORWARDS; i++) {
        ne_js_forward_link *f = &fw->links[i];
        if (f->stream == NULL || f->stream->acc != a) {
            continue;
        }
        if (f->unheard) {
            /* The probe went nowhere: again soon (the ack wait is for a
             * probe that went somewhere). */
            if (now_ms >= f->unheard_ms + NE_JS_FORWARD_REPROBE_MS) {
                f->unheard = false;
                f->next = f->floor;
            }
        } else if (f->floor < f->next && now_ms >= f->progress_ms + NE_JS_FORWARD_ACK_WAIT_MS) {
            /* No acknowledgement for a while: the window again, one
             * message at a time until an ack comes. */
            f->republished += f->next - f->floor;
            f->next = f->floor;
            f->progress_ms = now_ms;
            f->probing = true;
        }
        publish_window(js, a, f, now_ms);
        check_backlog(js, a, f);
    }
}

void ne_js_forward_record(ne_js *js, ne_js_account *a, ne_slice subject, ne_slice body)
{
    ne_js_forwards *fw = forwards_of(js);
    for (uint32_t i = 0; i < NE_JS_MAX_FORWARDS; i++) {
        ne_js_forward_link *f = &fw->links[i];
        size_t plen = strlen(f->reply_prefix);
        if (f->stream == NULL || f->stream->acc != a || subject.len <= plen ||
            memcmp(subject.ptr, f->reply_prefix, plen) != 0) {
            continue;
        }
        uint64_t seq = 0;
        if (!ne_parse_u64(subject.ptr + plen, subject.len - plen, UINT64_MAX, &seq)) {
            return;
        }
        /* A publish ack names the stream it stored in; an error, or a
         * no-responders status (empty), is not an acknowledgement. */
        bool stored = false, error = false;
        for (uint32_t k = 0; k + 9 <= body.len; k++) {
            stored = stored || memcmp(body.ptr + k, "\"stream\":", 9) == 0;
            error = error || memcmp(body.ptr + k, "\"error\":", 8) == 0;
        }
        if (!stored || error || seq < f->floor || seq >= f->floor + f->stream->cfg.forward_window ||
            bit_get(f, seq)) {
            return;
        }
        bit_set(f, seq);
        f->acknowledged++;
        f->probing = false;
        f->progress_ms = js->conns->now_ms;
        (void)ne_js_stream_remove(js, f->stream, seq, false);
        advance_floor(f);
        ne_js_wake(js, a);
        return;
    }
}

#endif /* NE_FEATURE_JETSTREAM */
