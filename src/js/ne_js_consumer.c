/* Consumers (ne_js_int.h): configuration rules, start position, delivery to
 * push subscribers and pull requests, acknowledgements, redelivery,
 * heartbeats, flow control, and the exact count of what is pending
 * (inventory JS-28..JS-41). */
#include "js/ne_js_int.h"

#if NE_FEATURE_JETSTREAM

#include <string.h>

#include "core/ne_assert.h"
#include "core/ne_error.h"
#include "core/ne_fmt.h"
#include "core/ne_rng.h"
#include "core/ne_subject.h"
#include "core/ne_time.h"

/* Flow control window of a push consumer: a request goes out past half of
 * it, delivery waits past all of it until the subscriber answers. */
#define FC_WINDOW_BYTES (2u * NE_JS_FC_BYTES)

/* ---- Lookup and small helpers -------------------------------------------------------- */

uint32_t ne_js_public_consumers(const ne_js_stream *st)
{
    uint32_t n = 0, guard = 0;
    for (const ne_js_consumer *c = st->consumers; c != NULL && guard++ < NE_JS_MAX_CONSUMERS;
         c = c->next) {
        n += c->cfg.direct ? 0u : 1u;
    }
    return n;
}

ne_js_consumer *ne_js_consumer_find(ne_js_stream *st, ne_slice name)
{
    uint32_t guard = 0;
    for (ne_js_consumer *c = st->consumers; c != NULL && guard++ < NE_JS_MAX_CONSUMERS;
         c = c->next) {
        if (strlen(c->name) == name.len && memcmp(c->name, name.ptr, name.len) == 0) {
            return c;
        }
    }
    return NULL;
}

static bool is_push(const ne_js_consumer *c)
{
    return c->cfg.deliver_subject != NE_JS_NO_TEXT;
}

static bool is_durable(const ne_js_consumer *c)
{
    return c->cfg.durable;
}

static bool filter_matches(const ne_js *js, const ne_js_consumer *c, ne_slice subject)
{
    ne_slice f = ne_js_text_get(js, c->cfg.filter);
    return f.len == 0 || ne_subject_matches(f.ptr, f.len, subject.ptr, subject.len);
}

static ne_slice filter_of(const ne_js *js, const ne_js_consumer *c)
{
    return ne_js_text_get(js, c->cfg.filter);
}

/* ---- Pending acknowledgements ---------------------------------------------------------- */

static ne_js_pending *pending_at(const ne_js *js, uint32_t i)
{
    return (ne_js_pending *)(void *)(js->pending_pool.storage +
                                     (size_t)i * js->pending_pool.object_bytes);
}

static uint32_t *pending_bucket(ne_js *js, uint16_t consumer, uint64_t sseq)
{
    uint64_t h = (sseq ^ ((uint64_t)consumer << 40)) * 0x9e3779b97f4a7c15ull;
    return &js->pending_buckets[(h >> 32) & (NE_JS_PENDING_BUCKETS - 1u)];
}

static uint32_t pending_find(ne_js *js, const ne_js_consumer *c, uint64_t sseq)
{
    uint32_t b = *pending_bucket(js, c->slot, sseq);
    uint32_t i = b == 0 ? NE_JS_NONE : b - 1u;
    for (uint32_t guard = 0; i != NE_JS_NONE && guard < NE_JS_MAX_PENDING; guard++) {
        const ne_js_pending *p = pending_at(js, i);
        if (p->sseq == sseq && p->consumer == c->slot) {
            return i;
        }
        i = p->hash_next;
    }
    return NE_JS_NONE;
}

static void due_unlink(ne_js *js, ne_js_consumer *c, uint32_t i)
{
    ne_js_pending *p = pending_at(js, i);
    if (!p->due) {
        return;
    }
    if (p->due_prev != NE_JS_NONE) {
        pending_at(js, p->due_prev)->due_next = p->due_next;
    } else {
        c->due_head = p->due_next;
    }
    if (p->due_next != NE_JS_NONE) {
        pending_at(js, p->due_next)->due_prev = p->due_prev;
    } else {
        c->due_tail = p->due_prev;
    }
    p->due = false;
}

static void due_append(ne_js *js, ne_js_consumer *c, uint32_t i)
{
    ne_js_pending *p = pending_at(js, i);
    if (p->due) {
        return;
    }
    p->due = true;
    p->due_next = NE_JS_NONE;
    p->due_prev = c->due_tail;
    if (c->due_tail != NE_JS_NONE) {
        pending_at(js, c->due_tail)->due_next = i;
    } else {
        c->due_head = i;
    }
    c->due_tail = i;
}

/* A new pending entry at the tail (deliveries come in stream order);
 * NE_JS_NONE when the pool is exhausted. */
static uint32_t pending_add(ne_js *js, ne_js_consumer *c, uint64_t sseq)
{
    ne_js_pending *p = ne_pool_alloc(&js->pending_pool);
    if (p == NULL) {
        return NE_JS_NONE;
    }
    uint32_t i = ne_pool_index(&js->pending_pool, p);
    p->sseq = sseq;
    p->consumer = c->slot;
    p->due = false;
    p->due_prev = p->due_next = NE_JS_NONE;
    uint32_t *b = pending_bucket(js, c->slot, sseq);
    p->hash_next = *b == 0 ? NE_JS_NONE : *b - 1u;
    *b = i + 1u;
    /* Stream order: almost always the tail. */
    uint32_t after = c->pending_tail;
    for (uint32_t guard = 0;
         after != NE_JS_NONE && pending_at(js, after)->sseq > sseq && guard < NE_JS_MAX_PENDING;
         guard++) {
        after = pending_at(js, after)->prev;
    }
    p->prev = after;
    p->next = after != NE_JS_NONE ? pending_at(js, after)->next : c->pending_head;
    if (after != NE_JS_NONE) {
        pending_at(js, after)->next = i;
    } else {
        c->pending_head = i;
    }
    if (p->next != NE_JS_NONE) {
        pending_at(js, p->next)->prev = i;
    } else {
        c->pending_tail = i;
    }
    c->pending_count++;
    return i;
}

static void pending_remove(ne_js *js, ne_js_consumer *c, uint32_t i)
{
    ne_js_pending *p = pending_at(js, i);
    due_unlink(js, c, i);
    uint32_t *b = pending_bucket(js, c->slot, p->sseq);
    uint32_t at = *b == 0 ? NE_JS_NONE : *b - 1u;
    if (at == i) {
        *b = p->hash_next == NE_JS_NONE ? 0 : p->hash_next + 1u;
    } else {
        for (uint32_t guard = 0; at != NE_JS_NONE && guard < NE_JS_MAX_PENDING; guard++) {
            ne_js_pending *q = pending_at(js, at);
            if (q->hash_next == i) {
                q->hash_next = p->hash_next;
                break;
            }
            at = q->hash_next;
        }
    }
    if (p->prev != NE_JS_NONE) {
        pending_at(js, p->prev)->next = p->next;
    } else {
        c->pending_head = p->next;
    }
    if (p->next != NE_JS_NONE) {
        pending_at(js, p->next)->prev = p->prev;
    } else {
        c->pending_tail = p->prev;
    }
    if (p->dc > 1 && c->redelivered > 0) {
        c->redelivered--;
    }
    NE_ASSERT(c->pending_count > 0);
    c->pending_count--;
    ne_pool_free(&js->pending_pool, p);
}

/* How long until the entry is due again: backoff[redeliveries] or ack_wait. */
static uint64_t wait_ns(const ne_js_consumer *c, uint32_t dc)
{
    if (c->cfg.backoff_count > 0) {
        uint32_t k = dc > 0 ? dc - 1 : 0;
        if (k >= c->cfg.backoff_count) {
            k = c->cfg.backoff_count - 1u;
        }
        return (uint64_t)c->cfg.backoff_ns[k];
    }
    return c->cfg.ack_wait_ns > 0 ? (uint64_t)c->cfg.ack_wait_ns : NE_JS_DEFAULT_ACK_WAIT_NS;
}

static void note_deadline(ne_js_consumer *c, uint64_t deadline)
{
    if (c->next_deadline_ns == 0 || deadline < c->next_deadline_ns) {
        c->next_deadline_ns = deadline;
    }
}

/* ---- num_pending ------------------------------------------------------------------------ */

typedef struct lps_count {
    uint64_t from;
    uint64_t end;
    uint64_t n;
} lps_count;

static bool count_lps(void *ctx, ne_slice subject, const ne_js_subject_state *ss)
{
    lps_count *c = ctx;
    if (ss->last_seq >= c->from && ss->last_seq <= c->end) {
        c->n++;
    }
    return true;
}

/* The exact count: matching messages from sseq on; while the consumer
 * delivers the last message per subject, only subjects whose last lies in
 * [sseq, lps_end] count below lps_end. */
static uint64_t recount(ne_js *js, ne_js_consumer *c)
{
    ne_js_store *store = &c->stream->store;
    ne_slice f = filter_of(js, c);
    if (c->lps_end == 0 || c->sseq > c->lps_end) {
        ne_js_subject_state fs;
        store->ops->filtered(store, f, c->sseq, &fs);
        return fs.msgs;
    }
    lps_count lc = {c->sseq, c->lps_end, 0};
    store->ops->each_subject(store, f, count_lps, &lc);
    ne_js_subject_state fs;
    store->ops->filtered(store, f, c->lps_end + 1, &fs);
    return lc.n + fs.msgs;
}

void ne_js_consumer_appended(ne_js *js, ne_js_consumer *c, uint64_t seq, ne_slice subject,
                             uint64_t prev_last)
{
    if (!filter_matches(js, c, subject)) {
        return;
    }
    if (seq >= c->sseq) {
        c->num_pending++;
    }
    if (c->lps_end != 0 && prev_last >= c->sseq && prev_last <= c->lps_end && prev_last > 0 &&
        c->num_pending > 0) {
        c->num_pending--; /* its subject's last is now beyond the window */
    }
}

void ne_js_consumer_removed(ne_js *js, ne_js_consumer *c, uint64_t seq, ne_slice subject)
{
    if (seq < c->sseq || !filter_matches(js, c, subject)) {
        return;
    }
    if (c->lps_end == 0 || seq > c->lps_end) {
        if (c->num_pending > 0) {
            c->num_pending--;
        }
        return;
    }
    ne_js_store *store = &c->stream->store;
    ne_js_subject_state ss;
    bool exists = store->ops->subject_state(store, subject, &ss) == NE_OK;
    if ((!exists || ss.last_seq < seq) && c->num_pending > 0) {
        c->num_pending--; /* it was its subject's last */
        if (exists && ss.last_seq >= c->sseq) {
            c->num_pending++; /* the one before it is the last now */
        }
    }
}

void ne_js_consumer_purged(ne_js *js, ne_js_consumer *c, uint64_t first_seq)
{
    if (c->sseq < first_seq) {
        c->sseq = first_seq;
    }
    if (c->asflr < first_seq) {
        c->asflr = first_seq - 1;
        uint32_t i = c->pending_head;
        for (uint32_t guard = 0; i != NE_JS_NONE && guard < NE_JS_MAX_PENDING; guard++) {
            ne_js_pending *p = pending_at(js, i);
            uint32_t next = p->next;
            if (p->sseq > c->asflr) {
                break;
            }
            if (p->dseq > c->adflr) {
                c->adflr = p->dseq;
                if (c->adflr > c->dseq) {
                    c->dseq = c->adflr;
                }
            }
            pending_remove(js, c, i);
            i = next;
        }
    }
    if (c->lps_end != 0 && c->sseq > c->lps_end) {
        c->lps_end = 0;
    }
    c->num_pending = recount(js, c);
}

/* ---- Advisories ------------------------------------------------------------------------- */

void ne_js_advisory_head(ne_js *js, ne_json_out *o, const char *type)
{
    char full[96];
    ne_fmt(full, sizeof(full), "io.nats.jetstream.advisory.v1.%s", type);
    char id[23];
    ne_rng_text(js->rng, id, 22, NE_RNG_BASE62);
    id[22] = '\0';
    ne_json_kv_string(o, "type", full);
    ne_json_kv_string(o, "id", id);
    ne_json_kv_time(o, "timestamp", ne_js_now_ns());
}

void ne_js_advise(ne_js *js, ne_js_account *a, const char *subject, ne_js_doc_fn write,
                  const void *arg)
{
    (void)ne_js_send_json(js, a, (ne_slice){subject, (uint32_t)strlen(subject)}, write, arg);
}

typedef struct delivery_event {
    const ne_js_consumer *c;
    const char *type;
    uint64_t sseq;
    uint64_t dseq;
    uint64_t deliveries;
    bool with_dseq;
} delivery_event;

static void write_delivery_event(ne_js *js, ne_json_out *o, const void *arg)
{
    const delivery_event *e = arg;
    ne_json_begin_object(o);
    ne_js_advisory_head(js, o, e->type);
    ne_json_kv_string(o, "stream", ne_js_stream_name(js, e->c->stream));
    ne_json_kv_string(o, "consumer", e->c->name);
    if (e->with_dseq) {
        ne_json_kv_u64(o, "consumer_seq", e->dseq);
    }
    ne_json_kv_u64(o, "stream_seq", e->sseq);
    ne_json_kv_u64(o, "deliveries", e->deliveries);
    if (js->opts->js.domain[0] != '\0') {
        ne_json_kv_string(o, "domain", js->opts->js.domain);
    }
    ne_json_end_object(o);
}

static void advise_delivery(ne_js *js, ne_js_consumer *c, const char *what, const char *type,
                            uint64_t sseq, uint64_t dseq, uint64_t deliveries, bool with_dseq)
{
    char subject[2 * NE_JS_NAME_BYTES + 64];
    if (ne_fmt(subject, sizeof(subject), "$JS.EVENT.ADVISORY.CONSUMER.%s.%s.%s", what,
               ne_js_stream_name(js, c->stream), c->name) == 0) {
        return;
    }
    delivery_event e = {c, type, sseq, dseq, deliveries, with_dseq};
    ne_js_advise(js, c->stream->acc, subject, write_delivery_event, &e);
}

typedef struct action_event {
    const ne_js_consumer *c;
    const char *action;
} action_event;

static void write_action(ne_js *js, ne_json_out *o, const void *arg)
{
    const action_event *e = arg;
    ne_json_begin_object(o);
    ne_js_advisory_head(js, o, "consumer_action");
    ne_json_kv_string(o, "stream", ne_js_stream_name(js, e->c->stream));
    ne_json_kv_string(o, "consumer", e->c->name);
    ne_json_kv_string(o, "action", e->action);
    if (js->opts->js.domain[0] != '\0') {
        ne_json_kv_string(o, "domain", js->opts->js.domain);
    }
    ne_json_end_object(o);
}

static void advise_action(ne_js *js, ne_js_consumer *c, const char *what, const char *action)
{
    char subject[2 * NE_JS_NAME_BYTES + 64];
    if (ne_fmt(subject, sizeof(subject), "$JS.EVENT.ADVISORY.CONSUMER.%s.%s.%s", what,
               ne_js_stream_name(js, c->stream), c->name) == 0) {
        return;
    }
    action_event e = {c, action};
    ne_js_advise(js, c->stream->acc, subject, write_action, &e);
}

/* ---- Configuration --------------------------------------------------------------------- */

/* nats-server's setConsumerConfigDefaults. */
static void apply_defaults(ne_js *js, const ne_js_account *a, ne_js_consumer_cfg *cfg)
{
    bool pull = cfg->deliver_subject == NE_JS_NO_TEXT;
    bool acks = cfg->ack_policy == NE_JS_ACK_EXPLICIT || cfg->ack_policy == NE_JS_ACK_ALL;
    if (pull && cfg->max_waiting == 0) {
        cfg->max_waiting = NE_JS_DEFAULT_MAX_WAITING;
    }
    if (cfg->ack_wait_ns == 0 && acks) {
        cfg->ack_wait_ns = NE_JS_DEFAULT_ACK_WAIT_NS;
    }
    if (cfg->max_deliver == 0) {
        cfg->max_deliver = -1;
    }
    if (cfg->backoff_count > 0) {
        cfg->ack_wait_ns = cfg->backoff_ns[0];
    }
    if (acks && cfg->max_ack_pending == 0) {
        int64_t m = NE_JS_DEFAULT_MAX_ACK_PENDING;
        if (js->opts->js.max_ack_pending > 0 && js->opts->js.max_ack_pending < m) {
            m = js->opts->js.max_ack_pending;
        }
        if (a->limits.max_ack_pending > 0 && a->limits.max_ack_pending < m) {
            m = a->limits.max_ack_pending;
        }
        if (m > NE_JS_MAX_PENDING) {
            m = NE_JS_MAX_PENDING;
        }
        cfg->max_ack_pending = m;
    }
    if (pull && cfg->max_batch == 0 && js->opts->js.max_request_batch > 0) {
        cfg->max_batch = js->opts->js.max_request_batch;
    }
}

static bool set_err(ne_js_error *e, ne_js_err err)
{
    ne_js_error_set(e, err, "%s", "");
    return false;
}

static bool policy_err(ne_js_error *e, const char *dp, const char *what, bool start_set)
{
    if (start_set) {
        ne_js_error_set(e, NE_JS_ERR_CONSUMER_INVALID_POLICY,
                        "consumer delivery policy is deliver %s, but optional start %s is also set",
                        dp, what);
    } else {
        ne_js_error_set(e, NE_JS_ERR_CONSUMER_INVALID_POLICY,
                        "consumer delivery policy is deliver %s, but optional %s is not set", dp,
                        what);
    }
    return false;
}

/* A subject the stream can hold: the filter must collide with one of its
 * subjects (nats-server's validFilteredSubject). */
static bool filter_valid(const ne_js *js, const ne_js_stream *st, ne_slice f)
{
    if (!ne_subject_valid(f.ptr, f.len)) {
        return false;
    }
    for (uint8_t i = 0; i < st->cfg.subject_count; i++) {
        ne_slice s = ne_js_text_get(js, st->cfg.subjects[i]);
        if (ne_subject_is_subset(f.ptr, f.len, s.ptr, s.len) || ne_js_subjects_collide(f, s)) {
            return true;
        }
    }
    return false;
}

/* nats-server's checkConsumerCfg. */
static bool check_cfg(ne_js *js, const ne_js_stream *st, const ne_js_consumer_cfg *cfg,
                      ne_js_error *e)
{
    const ne_js_account *a = st->acc;
    if (cfg->replicas > 0 && cfg->replicas > st->cfg.replicas) {
        return set_err(e, NE_JS_ERR_CONSUMER_REPLICAS_EXCEEDS_STREAM);
    }
    if (cfg->replicas < 0) {
        return set_err(e, NE_JS_ERR_REPLICAS_NEGATIVE);
    }
    if (cfg->backoff_count > 0 && cfg->max_deliver <= cfg->backoff_count) {
        return set_err(e, NE_JS_ERR_CONSUMER_MAX_DELIVER_BACKOFF);
    }
    if (cfg->deliver_subject != NE_JS_NO_TEXT) {
        ne_slice ds = ne_js_text_get(js, cfg->deliver_subject);
        if (!ne_js_subject_is_literal(ds)) {
            return set_err(e, NE_JS_ERR_CONSUMER_DELIVER_TO_WILDCARDS);
        }
        if (!ne_subject_valid(ds.ptr, ds.len)) {
            return set_err(e, NE_JS_ERR_CONSUMER_INVALID_DELIVER_SUBJECT);
        }
        for (uint8_t i = 0; i < st->cfg.subject_count; i++) {
            ne_slice s = ne_js_text_get(js, st->cfg.subjects[i]);
            if (ne_subject_matches(s.ptr, s.len, ds.ptr, ds.len)) {
                return set_err(e, NE_JS_ERR_CONSUMER_DELIVER_CYCLE);
            }
        }
        if (cfg->max_waiting != 0) {
            return set_err(e, NE_JS_ERR_CONSUMER_PUSH_MAX_WAITING);
        }
        if (cfg->max_ack_pending > 0 && cfg->ack_policy == NE_JS_ACK_NONE) {
            return set_err(e, NE_JS_ERR_CONSUMER_MAX_PENDING_ACK_POLICY_REQUIRED);
        }
        if (cfg->idle_heartbeat_ns > 0 && cfg->idle_heartbeat_ns < 100000000) {
            return set_err(e, NE_JS_ERR_CONSUMER_SMALL_HEARTBEAT);
        }
    } else {
        if (cfg->ack_policy == NE_JS_ACK_NONE && st->cfg.retention == NE_JS_RETENTION_WORKQUEUE) {
            return set_err(e, NE_JS_ERR_CONSUMER_PULL_REQUIRES_ACK);
        }
        if (cfg->rate_limit_bps > 0) {
            return set_err(e, NE_JS_ERR_CONSUMER_PULL_WITH_RATE_LIMIT);
        }
        if (cfg->max_waiting < 0) {
            return set_err(e, NE_JS_ERR_CONSUMER_MAX_WAITING_NEGATIVE);
        }
        if (cfg->idle_heartbeat_ns > 0) {
            return set_err(e, NE_JS_ERR_CONSUMER_HB_REQUIRES_PUSH);
        }
        if (cfg->flow_control) {
            return set_err(e, NE_JS_ERR_CONSUMER_FC_REQUIRES_PUSH);
        }
        if (cfg->max_batch < 0) {
            return set_err(e, NE_JS_ERR_CONSUMER_MAX_REQUEST_BATCH_NEGATIVE);
        }
        if (cfg->max_expires_ns != 0 && cfg->max_expires_ns < 1000000) {
            return set_err(e, NE_JS_ERR_CONSUMER_MAX_REQUEST_EXPIRES_TOO_SMALL);
        }
        if (js->opts->js.max_request_batch > 0 && cfg->max_batch > js->opts->js.max_request_batch) {
            ne_js_error_set(e, NE_JS_ERR_CONSUMER_MAX_REQUEST_BATCH_EXCEEDED, "%lld",
                            (long long)js->opts->js.max_request_batch);
            return false;
        }
    }
    int64_t limits[] = {js->opts->js.max_ack_pending, a->limits.max_ack_pending, NE_JS_MAX_PENDING};
    for (size_t i = 0; i < NE_ARRAY_LEN(limits); i++) {
        if (limits[i] > 0 && cfg->max_ack_pending > limits[i]) {
            ne_js_error_set(e, NE_JS_ERR_CONSUMER_MAX_PENDING_ACK_EXCESS, "%lld",
                            (long long)limits[i]);
            return false;
        }
    }
    if (cfg->direct) {
        if (cfg->deliver_subject == NE_JS_NO_TEXT) {
            return set_err(e, NE_JS_ERR_CONSUMER_DIRECT_REQUIRES_PUSH);
        }
        if (cfg->durable) {
            return set_err(e, NE_JS_ERR_CONSUMER_DIRECT_REQUIRES_EPHEMERAL);
        }
    }
    if (cfg->filter != NE_JS_NO_TEXT && !filter_valid(js, st, ne_js_text_get(js, cfg->filter))) {
        return set_err(e, NE_JS_ERR_CONSUMER_FILTER_NOT_SUBSET);
    }
    bool seq = cfg->opt_start_seq > 0, time = cfg->has_start_time;
    switch (cfg->deliver_policy) {
    case NE_JS_DELIVER_ALL:
    case NE_JS_DELIVER_LAST:
    case NE_JS_DELIVER_NEW:
    case NE_JS_DELIVER_LAST_PER_SUBJECT: {
        static const char *const names[] = {"all", "last", "new", "", "", "last per subject"};
        const char *dp = names[cfg->deliver_policy];
        if (seq) {
            return policy_err(e, dp, "sequence", true);
        }
        if (time) {
            return policy_err(e, dp, "time", true);
        }
        if (cfg->deliver_policy == NE_JS_DELIVER_LAST_PER_SUBJECT && cfg->filter == NE_JS_NO_TEXT) {
            return policy_err(e, dp, "filter subject", false);
        }
        break;
    }
    case NE_JS_DELIVER_BY_START_SEQUENCE:
        if (!seq) {
            return policy_err(e, "by start sequence", "start sequence", false);
        }
        if (time) {
            return policy_err(e, "by start sequence", "time", true);
        }
        break;
    case NE_JS_DELIVER_BY_START_TIME:
        if (!time) {
            return policy_err(e, "by start time", "start time", false);
        }
        if (seq) {
            return policy_err(e, "by start time", "start sequence", true);
        }
        break;
    default:
        break;
    }
    if (cfg->sample_freq[0] != '\0') {
        size_t n = strlen(cfg->sample_freq);
        if (n > 0 && cfg->sample_freq[n - 1] == '%') {
            n--;
        }
        uint64_t v = 0;
        if (!ne_parse_u64(cfg->sample_freq, n, INT32_MAX, &v)) {
            ne_js_error_set(e, NE_JS_ERR_CONSUMER_INVALID_SAMPLING,
                            "strconv.Atoi: parsing %c%s%c: "
                            "invalid syntax",
                            '"', cfg->sample_freq, '"');
            return false;
        }
    }
    if (cfg->flow_control && cfg->idle_heartbeat_ns == 0) {
        return set_err(e, NE_JS_ERR_CONSUMER_FC_NEEDS_HEARTBEATS);
    }
    if (cfg->name_mismatch) {
        return set_err(e, NE_JS_ERR_CONSUMER_DURABLE_NAME_MISMATCH);
    }
    return true;
}

/* Workqueue streams: explicit acks, deliver all, one consumer per subject. */
static bool check_workqueue(ne_js *js, const ne_js_stream *st, const ne_js_consumer_cfg *cfg,
                            ne_js_error *e)
{
    if (st->cfg.retention != NE_JS_RETENTION_WORKQUEUE || cfg->direct) {
        return true;
    }
    if (cfg->ack_policy != NE_JS_ACK_EXPLICIT) {
        return set_err(e, NE_JS_ERR_CONSUMER_WQ_REQUIRES_EXPLICIT_ACK);
    }
    if (st->consumers != NULL) {
        if (cfg->filter == NE_JS_NO_TEXT) {
            return set_err(e, NE_JS_ERR_CONSUMER_WQ_MULTIPLE_UNFILTERED);
        }
        ne_slice f = ne_js_text_get(js, cfg->filter);
        uint32_t guard = 0;
        for (const ne_js_consumer *o = st->consumers; o != NULL && guard++ < NE_JS_MAX_CONSUMERS;
             o = o->next) {
            ne_slice of = ne_js_text_get(js, o->cfg.filter);
            if (of.len == 0 || ne_js_subjects_collide(f, of)) {
                return set_err(e, NE_JS_ERR_CONSUMER_WQ_NOT_UNIQUE);
            }
        }
    }
    if (cfg->deliver_policy != NE_JS_DELIVER_ALL) {
        return set_err(e, NE_JS_ERR_CONSUMER_WQ_NOT_DELIVER_ALL);
    }
    return true;
}

/* ---- Start position ---------------------------------------------------------------------- */

typedef struct lps_min {
    uint64_t min;
} lps_min;

static bool min_last(void *ctx, ne_slice subject, const ne_js_subject_state *ss)
{
    lps_min *m = ctx;
    if (m->min == 0 || ss->last_seq < m->min) {
        m->min = ss->last_seq;
    }
    return true;
}

/* nats-server's selectStartingSeqNo. */
static void select_start(ne_js *js, ne_js_consumer *c)
{
    ne_js_store *store = &c->stream->store;
    const ne_js_store_state *s = &store->state;
    const ne_js_consumer_cfg *cfg = &c->cfg;
    ne_slice f = filter_of(js, c);
    uint64_t first = s->msgs > 0 ? s->first_seq : s->last_seq + 1;
    c->lps_end = 0;
    if (cfg->opt_start_seq == 0) {
        switch (cfg->deliver_policy) {
        case NE_JS_DELIVER_ALL:
            c->sseq = first;
            break;
        case NE_JS_DELIVER_LAST:
            c->sseq = s->last_seq;
            if (f.len > 0) {
                ne_js_subject_state fs;
                store->ops->filtered(store, f, 1, &fs);
                c->sseq = fs.last_seq;
            }
            break;
        case NE_JS_DELIVER_LAST_PER_SUBJECT: {
            lps_min m = {0};
            store->ops->each_subject(store, f, min_last, &m);
            if (m.min > 0) {
                c->sseq = m.min;
                c->lps_end = s->last_seq;
            } else {
                c->sseq = s->last_seq;
            }
            break;
        }
        case NE_JS_DELIVER_BY_START_TIME:
            c->sseq = store->ops->seq_at_time(store, cfg->opt_start_time_ns);
            break;
        default:
            c->sseq = s->last_seq + 1;
            break;
        }
    } else {
        c->sseq = cfg->opt_start_seq;
    }
    if (s->last_seq == 0 && s->msgs == 0 && first <= 1) {
        c->sseq = 1;
    } else if (c->sseq < first) {
        c->sseq = first;
    } else if (c->sseq > s->last_seq) {
        c->sseq = s->last_seq + 1;
    }
    c->dseq = 0;
    c->adflr = 0;
    c->asflr = c->sseq - 1;
    c->num_pending = recount(js, c);
}

void ne_js_consumer_restore(ne_js *js, ne_js_consumer *c, uint64_t dseq, uint64_t delivered_sseq,
                            uint64_t adflr, uint64_t asflr, const ne_store_pending *pending,
                            uint32_t count)
{
    c->lps_end = 0;
    c->dseq = dseq;
    c->sseq = delivered_sseq + 1u;
    c->adflr = adflr;
    c->asflr = asflr;
    uint64_t wall = ne_js_now_ns();
    uint64_t mono = ne_js_mono_ns(js);
    for (uint32_t k = 0; k < count; k++) {
        uint32_t i = pending_add(js, c, pending[k].stream_seq);
        if (i == NE_JS_NONE) {
            ne_log_warn(js->conns->log,
                        "JetStream consumer \"%s\": pending acknowledgements exhausted at "
                        "restart: raise NE_JS_MAX_PENDING",
                        c->name);
            break;
        }
        ne_js_pending *p = pending_at(js, i);
        p->dseq = pending[k].consumer_seq;
        p->dc = pending[k].deliveries > 0 ? pending[k].deliveries : 1u;
        /* The log holds when it is due, by the wall clock. */
        uint64_t due = pending[k].timestamp_ns;
        p->deadline_ns = due > wall ? mono + (due - wall) : mono;
        if (p->dc > 1) {
            c->redelivered++;
        }
        note_deadline(c, p->deadline_ns);
    }
    c->num_pending = recount(js, c);
}

/* ---- Create, update, delete ----------------------------------------------------------------- */

typedef struct interest_scan {
    ne_js *js;
    ne_js_consumer *c;
    uint8_t account;
} interest_scan;

static bool interest_matches(const ne_js *js, const ne_js_consumer *c, ne_slice subject,
                             ne_slice queue)
{
    ne_slice ds = ne_js_text_get(js, c->cfg.deliver_subject);
    ne_slice dg = ne_js_text_get(js, c->cfg.deliver_group);
    return ds.len == subject.len && memcmp(ds.ptr, subject.ptr, subject.len) == 0 &&
           dg.len == queue.len && (queue.len == 0 || memcmp(dg.ptr, queue.ptr, queue.len) == 0);
}

static void scan_sub(void *ctx, ne_sub *sub)
{
    interest_scan *s = ctx;
    if (sub->conn == NULL || sub->conn->acc == NULL || sub->conn->acc->index != s->account ||
        (ne_js_account_of(s->js, sub->conn) != NULL && !sub->echo)) {
        return;
    }
    ne_slice subject = {sub->entry.subject, sub->entry.subject_len};
    ne_slice queue = {sub->entry.queue != NULL ? sub->entry.queue : "", sub->entry.queue_len};
    if (interest_matches(s->js, s->c, subject, queue)) {
        s->c->interest++;
    }
}

void ne_js_consumer_interest(ne_js *js, ne_js_account *a, ne_slice subject, ne_slice queue,
                             int delta)
{
    uint32_t guard = 0;
    for (ne_js_stream *st = a->streams; st != NULL && guard++ < NE_JS_MAX_STREAMS; st = st->next) {
        uint32_t cguard = 0;
        for (ne_js_consumer *c = st->consumers; c != NULL && cguard++ < NE_JS_MAX_CONSUMERS;
             c = c->next) {
            if (!is_push(c) || !interest_matches(js, c, subject, queue)) {
                continue;
            }
            if (delta > 0) {
                c->interest++;
                c->inactive_since_ns = 0;
                ne_js_wake(js, a);
            } else if (c->interest > 0) {
                c->interest--;
                if (c->interest == 0) {
                    c->inactive_since_ns = ne_js_mono_ns(js);
                }
            }
        }
    }
}

/* nats-server's createConsumerName: 8 characters. */
static void random_name(ne_js *js, ne_js_stream *st, char *name)
{
    for (uint32_t attempt = 0; attempt < 16; attempt++) {
        ne_rng_text(js->rng, name, 8, NE_RNG_BASE62);
        name[8] = '\0';
        if (ne_js_consumer_find(st, (ne_slice){name, 8}) == NULL) {
            return;
        }
    }
}

/* An existing consumer asked again: the same configuration (what may
 * change for an existing durable aside) returns it. */
static bool update_existing(ne_js *js, ne_js_consumer *c, ne_js_consumer_cfg *cfg, ne_js_error *e)
{
    const ne_js_consumer_cfg *old = &c->cfg;
    bool same_kind = is_push(c) == (cfg->deliver_subject != NE_JS_NO_TEXT);
    bool same = same_kind && old->deliver_policy == cfg->deliver_policy &&
                old->ack_policy == cfg->ack_policy && old->replay_policy == cfg->replay_policy &&
                old->opt_start_seq == cfg->opt_start_seq &&
                old->has_start_time == cfg->has_start_time &&
                old->opt_start_time_ns == cfg->opt_start_time_ns &&
                ne_js_text_eq(js, old->filter, cfg->filter) &&
                ne_js_text_eq(js, old->deliver_group, cfg->deliver_group) &&
                old->headers_only == cfg->headers_only && old->flow_control == cfg->flow_control;
    if (!same) {
        ne_js_error_set(e, NE_JS_ERR_CONSUMER_CREATE, "%s",
                        same_kind ? "consumer already exists" : "consumer already exists");
        if (!same_kind || old->deliver_policy != cfg->deliver_policy ||
            old->ack_policy != cfg->ack_policy || !ne_js_text_eq(js, old->filter, cfg->filter)) {
            ne_js_error_set(e, NE_JS_ERR_CONSUMER_NAME_EXIST, "%s", "");
        }
        return false;
    }
    /* What an update may change: ack_wait, max_deliver, backoff,
     * max_waiting, max_ack_pending, heartbeats, the batch limits, the
     * description, the deliver subject, the threshold. */
    c->cfg.ack_wait_ns = cfg->ack_wait_ns;
    c->cfg.max_deliver = cfg->max_deliver;
    c->cfg.backoff_count = cfg->backoff_count;
    memcpy(c->cfg.backoff_ns, cfg->backoff_ns, sizeof(cfg->backoff_ns));
    c->cfg.max_waiting = cfg->max_waiting;
    c->cfg.max_ack_pending = cfg->max_ack_pending;
    c->cfg.idle_heartbeat_ns = cfg->idle_heartbeat_ns;
    c->cfg.max_batch = cfg->max_batch;
    c->cfg.max_expires_ns = cfg->max_expires_ns;
    c->cfg.max_bytes = cfg->max_bytes;
    c->cfg.inactive_threshold_ns = cfg->inactive_threshold_ns;
    uint16_t t = c->cfg.description;
    c->cfg.description = cfg->description;
    cfg->description = t;
    if (!ne_js_text_eq(js, c->cfg.deliver_subject, cfg->deliver_subject)) {
        t = c->cfg.deliver_subject;
        c->cfg.deliver_subject = cfg->deliver_subject;
        cfg->deliver_subject = t;
        c->interest = 0;
        interest_scan s = {js, c, c->stream->acc->index};
        ne_router_each_sub(js->router, scan_sub, &s);
    }
    return true;
}

bool ne_js_consumer_create(ne_js *js, ne_js_stream *st, ne_js_consumer_cfg *cfg,
                           ne_js_consumer **out, bool *created, ne_js_error *e)
{
    ne_js_account *a = st->acc;
    *created = false;
    apply_defaults(js, a, cfg);
    if (!check_cfg(js, st, cfg, e)) {
        return false;
    }
    const char *name = cfg->name;
    ne_js_consumer *existing =
        name[0] != '\0' ? ne_js_consumer_find(st, (ne_slice){name, (uint32_t)strlen(name)}) : NULL;
    if (existing != NULL) {
        if (!update_existing(js, existing, cfg, e)) {
            return false;
        }
        ne_js_file_consumer_updated(js, existing);
        *out = existing;
        return true;
    }
    int64_t maxc = st->cfg.max_consumers;
    if (maxc <= 0 || (a->limits.max_consumers > 0 && a->limits.max_consumers < maxc)) {
        maxc = a->limits.max_consumers;
    }
    if (maxc > 0 && (int64_t)ne_js_public_consumers(st) >= maxc) {
        return set_err(e, NE_JS_ERR_MAX_CONSUMERS);
    }
    if (!check_workqueue(js, st, cfg, e)) {
        return false;
    }
    if (name[0] != '\0' && !ne_js_name_valid(name, strlen(name))) {
        return set_err(e, NE_JS_ERR_CONSUMER_BAD_DURABLE_NAME);
    }
    ne_js_consumer *c = ne_pool_alloc(&js->consumer_pool);
    if (c == NULL) {
        ne_log_warn(js->conns->log,
                    "JetStream consumer pool exhausted (%u): raise NE_JS_MAX_CONSUMERS",
                    (unsigned)NE_JS_MAX_CONSUMERS);
        return set_err(e, NE_JS_ERR_MAX_CONSUMERS);
    }
    c->slot = (uint16_t)ne_pool_index(&js->consumer_pool, c);
    c->stream = st;
    c->cfg = *cfg;
    ne_js_consumer_cfg_init(cfg); /* the text slots are the consumer's now */
    if (c->cfg.name[0] == '\0') {
        random_name(js, st, c->cfg.name);
    }
    c->name = c->cfg.name;
    if (!is_durable(c) && c->cfg.inactive_threshold_ns <= 0) {
        c->cfg.inactive_threshold_ns = NE_JS_DEFAULT_INACTIVE_THRESHOLD_NS;
    }
    c->created_ns = ne_js_now_ns();
    c->pending_head = c->pending_tail = NE_JS_NONE;
    c->due_head = c->due_tail = NE_JS_NONE;
    c->pull_head = c->pull_tail = NE_JS_NONE;
    select_start(js, c);
    uint64_t now = ne_js_mono_ns(js);
    if (is_push(c)) {
        interest_scan s = {js, c, a->index};
        ne_router_each_sub(js->router, scan_sub, &s);
        c->inactive_since_ns = c->interest == 0 ? now : 0;
        c->last_msg_ns = now;
    } else {
        c->inactive_since_ns = now;
    }
    c->next = st->consumers;
    st->consumers = c;
    st->consumer_count++;
    a->consumer_count++;
    if (!ne_js_file_consumer_created(js, c, e)) {
        ne_js_consumer_delete(js, c, false);
        return false;
    }
    *created = true;
    *out = c;
    advise_action(js, c, "CREATED", "create");
    return true;
}

static ne_js_pull *pull_at(const ne_js *js, uint32_t i)
{
    return (ne_js_pull *)(void *)(js->pull_pool.storage + (size_t)i * js->pull_pool.object_bytes);
}

static void pull_status(ne_js *js, ne_js_consumer *c, const ne_js_pull *r, const char *status,
                        bool pending_counts)
{
    char hdr[160];
    size_t n;
    if (pending_counts) {
        n = ne_fmt(hdr, sizeof(hdr),
                   "NATS/1.0 %s\r\nNats-Pending-Messages: %lld\r\nNats-Pending-Bytes: %lld\r\n\r\n",
                   status, (long long)r->batch, (long long)r->max_bytes);
    } else {
        n = ne_fmt(hdr, sizeof(hdr), "NATS/1.0 %s\r\n\r\n", status);
    }
    (void)ne_js_send(js, c->stream->acc, (ne_slice){r->reply, r->reply_len}, (ne_slice){"", 0}, hdr,
                     (uint32_t)n, NULL, 0);
}

/* Takes the oldest waiting request off the queue (the caller frees it). */
static uint32_t pull_pop(ne_js *js, ne_js_consumer *c)
{
    uint32_t i = c->pull_head;
    if (i != NE_JS_NONE) {
        c->pull_head = pull_at(js, i)->next;
        if (c->pull_head == NE_JS_NONE) {
            c->pull_tail = NE_JS_NONE;
        }
        c->pull_count--;
    }
    return i;
}

/* Removes request i, whose predecessor in the queue is prev. */
static void pull_unlink(ne_js *js, ne_js_consumer *c, uint32_t prev, uint32_t i)
{
    ne_js_pull *r = pull_at(js, i);
    if (prev == NE_JS_NONE) {
        c->pull_head = r->next;
    } else {
        pull_at(js, prev)->next = r->next;
    }
    if (c->pull_tail == i) {
        c->pull_tail = prev;
    }
    c->pull_count--;
    ne_pool_free(&js->pull_pool, r);
}

void ne_js_consumer_delete(ne_js *js, ne_js_consumer *c, bool advise)
{
    ne_js_stream *st = c->stream;
    ne_js_account *a = st->acc;
    if (advise) {
        advise_action(js, c, "DELETED", "delete");
    }
    ne_js_file_consumer_deleted(js, c);
    uint32_t guard = 0;
    while (c->pull_head != NE_JS_NONE && guard++ <= NE_JS_MAX_WAITING) {
        uint32_t i = pull_pop(js, c);
        ne_js_pull *r = pull_at(js, i);
        if (advise) {
            pull_status(js, c, r, "409 Consumer Deleted", false);
        }
        ne_pool_free(&js->pull_pool, r);
    }
    guard = 0;
    while (c->pending_head != NE_JS_NONE && guard++ <= NE_JS_MAX_PENDING) {
        pending_remove(js, c, c->pending_head);
    }
    ne_js_consumer **pp = &st->consumers;
    guard = 0;
    while (*pp != NULL && *pp != c && guard++ < NE_JS_MAX_CONSUMERS) {
        pp = &(*pp)->next;
    }
    NE_ASSERT(*pp == c);
    *pp = c->next;
    st->consumer_count--;
    a->consumer_count--;
    uint64_t floor = c->asflr;
    bool interest = advise && st->cfg.retention == NE_JS_RETENTION_INTEREST;
    ne_js_consumer_cfg_release(js, &c->cfg);
    ne_pool_free(&js->consumer_pool, c);
    if (interest) {
        /* What only this consumer still needed goes (nats-server does the
         * same from the consumer's ack floor). */
        (void)floor;
        ne_js_stream_check_all_interest(js, st);
    }
}

/* ---- Info -------------------------------------------------------------------------------- */

static void write_seq_info(ne_json_out *o, const char *key, uint64_t cseq, uint64_t sseq,
                           uint64_t last_ns)
{
    ne_json_key(o, key);
    ne_json_begin_object(o);
    ne_json_kv_u64(o, "consumer_seq", cseq);
    ne_json_kv_u64(o, "stream_seq", sseq);
    if (last_ns != 0) {
        ne_js_write_time(o, "last_active", last_ns);
    }
    ne_json_end_object(o);
}

void ne_js_consumer_write_info(ne_js *js, ne_json_out *o, ne_js_consumer *c)
{
    ne_json_kv_string(o, "stream_name", ne_js_stream_name(js, c->stream));
    ne_json_kv_string(o, "name", c->name);
    ne_js_write_time(o, "created", c->created_ns);
    ne_json_key(o, "config");
    ne_js_consumer_cfg_write(js, o, &c->cfg);
    write_seq_info(o, "delivered", c->dseq, c->sseq > 0 ? c->sseq - 1 : 0, c->last_delivered_ns);
    write_seq_info(o, "ack_floor", c->adflr, c->asflr, c->last_ack_ns);
    ne_json_kv_u64(o, "num_ack_pending", c->pending_count);
    ne_json_kv_u64(o, "num_redelivered", c->redelivered);
    ne_json_kv_u64(o, "num_waiting", c->pull_count);
    ne_json_kv_u64(o, "num_pending", c->num_pending);
    if (is_push(c) && c->interest > 0) {
        ne_json_kv_bool(o, "push_bound", true);
    }
}

/* ---- Delivery ------------------------------------------------------------------------------- */

/* Whether the reply of a pull request still has a subscriber. */
static bool has_interest(ne_js *js, ne_js_account *a, ne_slice subject)
{
    ne_match_result *res = &js->router->match;
    ne_sublist_match(&js->router->accounts[a->index].sublist, subject.ptr, subject.len, res);
    return res->plain_count + res->group_count > 0;
}

/* The next new message for the consumer at or after sseq, respecting the
 * last-per-subject window. NE_ERR_NOT_FOUND when none. */
static int next_new(ne_js *js, ne_js_consumer *c, ne_js_msg_info *info)
{
    ne_js_store *store = &c->stream->store;
    ne_slice f = filter_of(js, c);
    uint64_t from = c->sseq;
    uint64_t guard = 0;
    uint64_t msgs = store->state.msgs;
    while (guard++ <= msgs) {
        int rc = store->ops->next(store, from, f, info);
        if (rc != NE_OK) {
            return rc;
        }
        if (c->lps_end == 0 || info->seq > c->lps_end) {
            return NE_OK;
        }
        ne_js_subject_state ss;
        ne_slice subject = {info->subject, info->subject_len};
        if (store->ops->subject_state(store, subject, &ss) == NE_OK && ss.last_seq == info->seq) {
            return NE_OK;
        }
        from = info->seq + 1;
    }
    return NE_ERR_NOT_FOUND;
}

/* Where the next delivery goes. */
typedef struct target {
    ne_slice subject;
    uint32_t request; /* the pull request, NE_JS_NONE for push */
} target;

static bool push_ready(const ne_js_consumer *c)
{
    return c->interest > 0 && c->fc_bytes <= FC_WINDOW_BYTES;
}

/* The oldest pull request able to take sz bytes: requests whose reply lost
 * its subscriber go, one that the message does not fit ends with 409. */
static bool pull_target(ne_js *js, ne_js_consumer *c, uint32_t sz, target *t)
{
    ne_js_account *a = c->stream->acc;
    uint32_t guard = 0;
    while (c->pull_head != NE_JS_NONE && guard++ <= NE_JS_MAX_WAITING) {
        uint32_t i = c->pull_head;
        ne_js_pull *r = pull_at(js, i);
        if (r->max_bytes > 0 && (int64_t)sz > r->max_bytes) {
            pull_status(js, c, r, "409 Message Size Exceeds MaxBytes", true);
            pull_unlink(js, c, NE_JS_NONE, i);
            continue;
        }
        if (!has_interest(js, a, (ne_slice){r->reply, r->reply_len})) {
            pull_unlink(js, c, NE_JS_NONE, i);
            continue;
        }
        t->subject = (ne_slice){r->reply, r->reply_len};
        t->request = i;
        return true;
    }
    return false;
}

/* Decimal digits of value (1 to 20). */
static uint32_t digits_u64(uint64_t value)
{
    uint64_t power = 10;
    uint32_t n = 1;
    for (; n < 20 && value >= power; n++) {
        power *= 10;
    }
    return n;
}

/* The length ack_reply would give for these numbers, without writing it:
 * what a pull request's max_bytes counts for a delivery before the
 * delivery is made. */
static uint32_t ack_reply_len(const ne_js_consumer *c, uint32_t dc, uint64_t sseq, uint64_t dseq,
                              uint64_t ts, uint64_t pending)
{
    ne_slice stream = ne_js_text_get(c->stream->acc->js, c->stream->cfg.name);
    return (uint32_t)(sizeof("$JS.ACK.") - 1 + stream.len + 1 + strlen(c->name)) + 5 +
           digits_u64(dc) + digits_u64(sseq) + digits_u64(dseq) + digits_u64(ts) +
           digits_u64(pending);
}

/* The ack reply subject of a delivery,
 * $JS.ACK.<stream>.<consumer>.<dc>.<sseq>.<dseq>.<ts>.<pending> (JS-33),
 * written piece by piece: it is built for every message delivered, and a
 * format string costs several times as much. An empty slice when it does
 * not fit cap (every caller gives room for two names and five numbers). */
static ne_slice ack_reply(ne_js_consumer *c, char *buf, size_t cap, uint32_t dc, uint64_t sseq,
                          uint64_t dseq, uint64_t ts, uint64_t pending)
{
    ne_strbuf sb;
    ne_strbuf_init(&sb, buf, cap);
    ne_strbuf_append(&sb, "$JS.ACK.", sizeof("$JS.ACK.") - 1);
    ne_slice stream = ne_js_text_get(c->stream->acc->js, c->stream->cfg.name);
    ne_strbuf_append(&sb, stream.ptr, stream.len);
    ne_strbuf_putc(&sb, '.');
    ne_strbuf_puts(&sb, c->name);
    const uint64_t numbers[] = {dc, sseq, dseq, ts, pending};
    for (size_t i = 0; i < sizeof(numbers) / sizeof(numbers[0]); i++) {
        ne_strbuf_putc(&sb, '.');
        ne_strbuf_u64(&sb, numbers[i]);
    }
    NE_ASSERT(!sb.truncated);
    NE_ASSERT(sb.len == ack_reply_len(c, dc, sseq, dseq, ts, pending));
    return (ne_slice){buf, sb.truncated ? 0u : (uint32_t)sb.len};
}

/* A request's batch took one more message: it ends when its batch or its
 * bytes are used up. */
static void pull_took(ne_js *js, ne_js_consumer *c, uint32_t i, uint32_t sz)
{
    ne_js_pull *r = pull_at(js, i);
    r->sent++;
    r->sent_bytes += sz;
    r->batch--;
    if (r->max_bytes > 0) {
        r->max_bytes -= sz;
        if (r->max_bytes <= 0) {
            r->batch = 0;
        }
    }
    if (r->hb_ns > 0) {
        r->next_hb_ns = ne_js_mono_ns(js) + r->hb_ns;
    }
    if (r->batch <= 0) {
        pull_unlink(js, c, NE_JS_NONE, i);
    }
}

static void send_flow_control(ne_js *js, ne_js_consumer *c)
{
    char reply[2 * NE_JS_NAME_BYTES + 32];
    char id[5];
    ne_rng_text(js->rng, id, 4, NE_RNG_BASE62);
    id[4] = '\0';
    size_t n = ne_fmt(reply, sizeof(reply), "$JS.FC.%s.%s.%s", ne_js_stream_name(js, c->stream),
                      c->name, id);
    if (n == 0) {
        return;
    }
    c->fc_seq = (uint64_t)(id[0]) << 24 | (uint64_t)(id[1]) << 16 | (uint64_t)(id[2]) << 8 |
                (uint64_t)(id[3]);
    c->fc_waiting = true;
    c->fc_msgs = (uint32_t)c->fc_bytes; /* bytes the answer will release */
    const char hdr[] = "NATS/1.0 100 FlowControl Request\r\n\r\n";
    ne_slice ds = ne_js_text_get(js, c->cfg.deliver_subject);
    (void)ne_js_send(js, c->stream->acc, ds, (ne_slice){reply, (uint32_t)n}, hdr,
                     (uint32_t)(sizeof(hdr) - 1), NULL, 0);
    c->last_msg_ns = ne_js_mono_ns(js);
}

/* Delivers one message (new when p is NE_JS_NONE, else the pending entry's
 * redelivery) to the target. NE_OK, or NE_ERR_NOMEM (nothing changed). */
static int deliver_one(ne_js *js, ne_js_consumer *c, const ne_js_msg_info *info, uint32_t p,
                       const target *t)
{
    ne_js_stream *st = c->stream;
    uint64_t now = ne_js_mono_ns(js);
    bool acks = c->cfg.ack_policy != NE_JS_ACK_NONE;
    uint32_t dc = p != NE_JS_NONE ? pending_at(js, p)->dc + 1 : 1;
    uint64_t dseq = c->dseq + 1;
    uint64_t pending_after = c->num_pending;
    if (p == NE_JS_NONE && pending_after > 0) {
        pending_after--;
    }
    char reply_buf[2 * NE_JS_NAME_BYTES + 128];
    ne_slice reply =
        ack_reply(c, reply_buf, sizeof(reply_buf), dc, info->seq, dseq, info->ts_ns, pending_after);
    char extra[40];
    uint32_t extra_len = 0;
    if (c->cfg.headers_only) {
        extra_len = (uint32_t)ne_fmt(extra, sizeof(extra), "Nats-Msg-Size: %u\r\n",
                                     (unsigned)info->data_len);
    }
    uint32_t new_entry = NE_JS_NONE;
    if (acks && p == NE_JS_NONE) {
        new_entry = pending_add(js, c, info->seq);
        if (new_entry == NE_JS_NONE) {
            ne_log_warn(js->conns->log,
                        "JetStream pending acks exhausted (%u): consumer \"%s\" waits; raise "
                        "NE_JS_MAX_PENDING",
                        (unsigned)NE_JS_MAX_PENDING, c->name);
            return NE_ERR_NOMEM;
        }
    }
    uint32_t bytes = 0;
    ne_slice shown = {info->subject, info->subject_len};
    int rc = ne_js_send_stored(js, st->acc, st, info, t->subject, shown, reply, extra, extra_len,
                               c->cfg.headers_only, &bytes);
    if (rc != NE_OK) {
        if (new_entry != NE_JS_NONE) {
            pending_remove(js, c, new_entry);
        }
        return rc;
    }
    c->dseq = dseq;
    c->last_delivered_ns = ne_js_now_ns();
    c->last_msg_ns = now;
    uint32_t entry = p != NE_JS_NONE ? p : new_entry;
    if (entry != NE_JS_NONE) {
        ne_js_pending *e = pending_at(js, entry);
        if (e->dc == 1 && dc == 2) {
            c->redelivered++;
        }
        e->dc = dc;
        if (p == NE_JS_NONE) {
            e->dseq = dseq; /* the first delivery's: the ack floor moves by it */
        }
        e->deadline_ns = now + wait_ns(c, dc);
        note_deadline(c, e->deadline_ns);
        due_unlink(js, c, entry);
    }
    if (p == NE_JS_NONE) {
        c->sseq = info->seq + 1;
        c->num_pending = pending_after;
        if (c->lps_end != 0 && c->sseq > c->lps_end) {
            c->lps_end = 0;
        }
        if (!acks) {
            c->adflr = dseq;
            c->asflr = info->seq;
        }
    }
    uint32_t sz =
        info->subject_len + reply.len + info->hdr_len + (c->cfg.headers_only ? 0 : info->data_len);
    if (t->request != NE_JS_NONE) {
        pull_took(js, c, t->request, sz);
    } else if (c->cfg.flow_control) {
        c->fc_bytes += bytes;
        if (!c->fc_waiting && c->fc_bytes > FC_WINDOW_BYTES / 2) {
            send_flow_control(js, c);
        }
    }
    if (!acks && st->cfg.retention != NE_JS_RETENTION_LIMITS) {
        ne_js_stream_check_interest(js, st, info->seq);
    }
    return NE_OK;
}

/* The next pending entry due for redelivery whose message is still there
 * (entries of removed messages go) or a max_deliver that ends it. */
static uint32_t next_due(ne_js *js, ne_js_consumer *c, ne_js_msg_info *info)
{
    ne_js_store *store = &c->stream->store;
    uint32_t guard = 0;
    while (c->due_head != NE_JS_NONE && guard++ <= NE_JS_MAX_PENDING) {
        uint32_t i = c->due_head;
        ne_js_pending *p = pending_at(js, i);
        if (c->cfg.max_deliver > 0 && (int64_t)p->dc >= c->cfg.max_deliver) {
            /* Delivered max_deliver times: no more, and the advisory once. */
            uint64_t sseq = p->sseq;
            uint32_t dc = p->dc;
            pending_remove(js, c, i);
            advise_delivery(js, c, "MAX_DELIVERIES", "max_deliver", sseq, 0, dc, false);
            continue;
        }
        if (store->ops->info(store, p->sseq, info) != NE_OK) {
            pending_remove(js, c, i);
            continue;
        }
        return i;
    }
    return NE_JS_NONE;
}

static void end_no_wait(ne_js *js, ne_js_consumer *c);

bool ne_js_consumer_deliver(ne_js *js, ne_js_consumer *c, uint32_t budget)
{
    ne_js_msg_info info;
    memset(&info, 0, sizeof(info));
    info.subject = js->subject;
    info.subject_cap = sizeof(js->subject);
    bool acks = c->cfg.ack_policy != NE_JS_ACK_NONE;
    for (uint32_t n = 0; n < budget; n++) {
        if (is_push(c) ? !push_ready(c) : c->pull_head == NE_JS_NONE) {
            return false;
        }
        uint32_t p = next_due(js, c, &info);
        if (p == NE_JS_NONE) {
            if (acks && c->cfg.max_ack_pending > 0 &&
                (int64_t)c->pending_count >= c->cfg.max_ack_pending) {
                return false;
            }
            if (next_new(js, c, &info) != NE_OK) {
                if (!is_push(c)) {
                    end_no_wait(js, c); /* nothing more for no-wait requests */
                }
                return false;
            }
            if (c->cfg.replay_policy == NE_JS_REPLAY_ORIGINAL && c->replay_last_ts_ns != 0) {
                uint64_t gap =
                    info.ts_ns > c->replay_last_ts_ns ? info.ts_ns - c->replay_last_ts_ns : 0;
                uint64_t now = ne_js_mono_ns(js);
                if (gap > 1000000 && now < c->replay_next_ns + gap) {
                    return false; /* the tick comes back for it */
                }
            }
        }
        target t = {{"", 0}, NE_JS_NONE};
        if (is_push(c)) {
            t.subject = ne_js_text_get(js, c->cfg.deliver_subject);
        } else {
            uint32_t reply_len =
                ack_reply_len(c, 1, info.seq, c->dseq + 1, info.ts_ns, c->num_pending);
            uint32_t sz = info.subject_len + reply_len + info.hdr_len +
                          (c->cfg.headers_only ? 0 : info.data_len);
            if (!pull_target(js, c, sz, &t)) {
                return false;
            }
        }
        if (deliver_one(js, c, &info, p, &t) != NE_OK) {
            return false; /* the chunk pool: the next turn tries again */
        }
        if (p == NE_JS_NONE && c->cfg.replay_policy == NE_JS_REPLAY_ORIGINAL) {
            c->replay_last_ts_ns = info.ts_ns;
            c->replay_next_ns = ne_js_mono_ns(js);
        }
    }
    return true;
}

/* ---- Pull requests -------------------------------------------------------------------------- */

typedef struct next_request {
    int64_t batch;
    int64_t max_bytes;
    int64_t expires_ns;
    int64_t hb_ns;
    bool no_wait;
} next_request;

/* nats-server's nextReqFromMsg: empty (batch 1), a number, or JSON. */
static bool parse_next_request(ne_js *js, ne_slice body, next_request *r, const char **why)
{
    memset(r, 0, sizeof(*r));
    r->batch = 1;
    uint32_t s = 0, e = body.len;
    while (s < e && (body.ptr[s] == ' ' || body.ptr[s] == '\t' || body.ptr[s] == '\r' ||
                     body.ptr[s] == '\n')) {
        s++;
    }
    while (e > s && (body.ptr[e - 1] == ' ' || body.ptr[e - 1] == '\t' || body.ptr[e - 1] == '\r' ||
                     body.ptr[e - 1] == '\n')) {
        e--;
    }
    if (s == e) {
        return true;
    }
    if (body.ptr[s] != '{') {
        uint64_t n = 0;
        bool negative = body.ptr[s] == '-';
        if (ne_parse_u64(body.ptr + s + (negative ? 1 : 0), e - s - (negative ? 1u : 0u), INT32_MAX,
                         &n)) {
            r->batch = negative ? -(int64_t)n : (int64_t)n;
        }
        return true;
    }
    *why = "invalid JSON";
    if (ne_json_parse(&js->doc, body.ptr + s, e - s) != NE_OK ||
        js->doc.tokens[0].type != JSMN_OBJECT) {
        return false;
    }
    const ne_json_doc *d = &js->doc;
    if (ne_json_check(d, 0, "batch", NE_JSON_INT) != NE_OK ||
        ne_json_check(d, 0, "max_bytes", NE_JSON_INT) != NE_OK ||
        ne_json_check(d, 0, "expires", NE_JSON_INT) != NE_OK ||
        ne_json_check(d, 0, "idle_heartbeat", NE_JSON_INT) != NE_OK ||
        ne_json_check(d, 0, "no_wait", NE_JSON_BOOL) != NE_OK) {
        return false;
    }
    r->batch = 0;
    (void)ne_json_get_i64(d, 0, "batch", &r->batch);
    (void)ne_json_get_i64(d, 0, "max_bytes", &r->max_bytes);
    (void)ne_json_get_i64(d, 0, "expires", &r->expires_ns);
    (void)ne_json_get_i64(d, 0, "idle_heartbeat", &r->hb_ns);
    (void)ne_json_get_bool(d, 0, "no_wait", &r->no_wait);
    if (r->hb_ns > 0 && r->hb_ns > r->expires_ns / 2) { /* hb * 2 > expires, without overflow */
        *why = "heartbeat value too large";
        return false;
    }
    /* natsedge: heartbeats faster than 100 ms are clamped (inventory
     * JS-37e: nats-server 2.9 floods at 5 ms). */
    if (r->hb_ns > 0 && r->hb_ns < 100000000) {
        r->hb_ns = 100000000;
    }
    return true;
}

static void direct_status(ne_js *js, ne_js_consumer *c, ne_slice reply, const char *status)
{
    char hdr[160];
    size_t n = ne_fmt(hdr, sizeof(hdr), "NATS/1.0 %s\r\n\r\n", status);
    (void)ne_js_send(js, c->stream->acc, reply, (ne_slice){"", 0}, hdr, (uint32_t)n, NULL, 0);
}

/* Requests past their expiry get 408 with what they did not get. */
static void expire_pulls(ne_js *js, ne_js_consumer *c, uint64_t now)
{
    uint32_t prev = NE_JS_NONE;
    uint32_t i = c->pull_head;
    for (uint32_t guard = 0; i != NE_JS_NONE && guard <= NE_JS_MAX_WAITING; guard++) {
        ne_js_pull *r = pull_at(js, i);
        uint32_t next = r->next;
        if (r->expires_ns != 0 && now >= r->expires_ns) {
            pull_status(js, c, r, "408 Request Timeout", true);
            pull_unlink(js, c, prev, i);
        } else {
            if (r->hb_ns > 0 && now >= r->next_hb_ns) {
                char hdr[128];
                size_t n = ne_fmt(hdr, sizeof(hdr),
                                  "NATS/1.0 100 Idle Heartbeat\r\nNats-Last-Consumer: "
                                  "%llu\r\nNats-Last-Stream: %llu\r\n\r\n",
                                  (unsigned long long)c->dseq,
                                  (unsigned long long)(c->sseq > 0 ? c->sseq - 1 : 0));
                (void)ne_js_send(js, c->stream->acc, (ne_slice){r->reply, r->reply_len},
                                 (ne_slice){"", 0}, hdr, (uint32_t)n, NULL, 0);
                r->next_hb_ns = now + r->hb_ns;
            }
            prev = i;
        }
        i = next;
    }
}

/* No-wait requests end once nothing is left to deliver: 404 when they got
 * nothing, 408 (what they did not get) otherwise. */
static void end_no_wait(ne_js *js, ne_js_consumer *c)
{
    uint32_t prev = NE_JS_NONE;
    uint32_t i = c->pull_head;
    for (uint32_t guard = 0; i != NE_JS_NONE && guard <= NE_JS_MAX_WAITING; guard++) {
        ne_js_pull *r = pull_at(js, i);
        uint32_t next = r->next;
        if (r->no_wait) {
            if (r->sent > 0) {
                pull_status(js, c, r, "408 Request Timeout", true);
            } else if (r->expires_ns == 0) {
                pull_status(js, c, r, "404 No Messages", false);
            } else {
                prev = i;
                i = next;
                continue;
            }
            pull_unlink(js, c, prev, i);
        } else {
            prev = i;
        }
        i = next;
    }
}

void ne_js_consumer_next_request(ne_js *js, ne_js_consumer *c, ne_slice reply, ne_slice body,
                                 bool cut)
{
    if (reply.len == 0) {
        return;
    }
    if (is_push(c)) {
        direct_status(js, c, reply, "409 Consumer is push based");
        return;
    }
    if (cut) {
        direct_status(js, c, reply, "400 Bad Request - request too large");
        return;
    }
    next_request r;
    const char *why = NULL;
    if (!parse_next_request(js, body, &r, &why)) {
        char status[96];
        ne_fmt(status, sizeof(status), "400 Bad Request - %s", why);
        direct_status(js, c, reply, status);
        return;
    }
    char status[96];
    if (c->cfg.max_batch > 0 && r.batch > c->cfg.max_batch) {
        ne_fmt(status, sizeof(status), "409 Exceeded MaxRequestBatch of %lld",
               (long long)c->cfg.max_batch);
        direct_status(js, c, reply, status);
        return;
    }
    if (r.expires_ns > 0 && c->cfg.max_expires_ns > 0 && r.expires_ns > c->cfg.max_expires_ns) {
        char d[32];
        ne_strbuf sb;
        ne_strbuf_init(&sb, d, sizeof(d));
        ne_time_go_duration(&sb, (uint64_t)c->cfg.max_expires_ns);
        ne_fmt(status, sizeof(status), "409 Exceeded MaxRequestExpires of %s", d);
        direct_status(js, c, reply, status);
        return;
    }
    if (r.max_bytes > 0 && c->cfg.max_bytes > 0 && r.max_bytes > c->cfg.max_bytes) {
        ne_fmt(status, sizeof(status), "409 Exceeded MaxRequestMaxBytes of %lld",
               (long long)c->cfg.max_bytes);
        direct_status(js, c, reply, status);
        return;
    }
    if (reply.len > NE_JS_REPLY_BYTES) {
        direct_status(js, c, reply, "400 Bad Request - reply subject too long");
        return;
    }
    uint64_t now = ne_js_mono_ns(js);
    if ((int64_t)c->pull_count >= c->cfg.max_waiting) {
        expire_pulls(js, c, now);
    }
    if (r.no_wait) {
        uint64_t available = c->num_pending + (c->due_head != NE_JS_NONE ? 1u : 0u);
        if (available == 0 && r.expires_ns == 0) {
            direct_status(js, c, reply, "404 No Messages");
            return;
        }
        if (available > 0) {
            int64_t waiting = 0;
            uint32_t i = c->pull_head;
            for (uint32_t guard = 0; i != NE_JS_NONE && guard <= NE_JS_MAX_WAITING; guard++) {
                waiting += pull_at(js, i)->batch;
                i = pull_at(js, i)->next;
            }
            if ((int64_t)available < waiting) {
                direct_status(js, c, reply, "408 Requests Pending");
                return;
            }
        }
    }
    c->inactive_since_ns = now;
    if ((int64_t)c->pull_count >= c->cfg.max_waiting) {
        direct_status(js, c, reply, "409 Exceeded MaxWaiting");
        return;
    }
    if (r.expires_ns < 0) {
        /* Expired before it waits: nats-server answers 408 when its expiry
         * check comes first, else drops it unanswered; 408 here. */
        char hdr[160];
        size_t n = ne_fmt(
            hdr, sizeof(hdr),
            "NATS/1.0 408 Request Timeout\r\nNats-Pending-Messages: %lld\r\nNats-Pending-Bytes: "
            "%lld\r\n\r\n",
            (long long)r.batch, (long long)r.max_bytes);
        (void)ne_js_send(js, c->stream->acc, reply, (ne_slice){"", 0}, hdr, (uint32_t)n, NULL, 0);
        return;
    }
    ne_js_pull *p = ne_pool_alloc(&js->pull_pool);
    if (p == NULL) {
        ne_log_warn(js->conns->log,
                    "JetStream pull requests exhausted (%u): raise NE_JS_MAX_WAITING",
                    (unsigned)NE_JS_MAX_WAITING);
        direct_status(js, c, reply, "409 Exceeded MaxWaiting");
        return;
    }
    uint32_t i = ne_pool_index(&js->pull_pool, p);
    p->next = NE_JS_NONE;
    p->batch = r.batch;
    p->max_bytes = r.max_bytes;
    p->expires_ns = r.expires_ns > 0 ? now + (uint64_t)r.expires_ns : 0;
    p->hb_ns = r.hb_ns > 0 ? (uint64_t)r.hb_ns : 0;
    p->next_hb_ns = now + p->hb_ns;
    p->no_wait = r.no_wait;
    p->reply_len = (uint16_t)reply.len;
    memcpy(p->reply, reply.ptr, reply.len);
    if (c->pull_tail != NE_JS_NONE) {
        pull_at(js, c->pull_tail)->next = i;
    } else {
        c->pull_head = i;
    }
    c->pull_tail = i;
    c->pull_count++;
    if (p->batch <= 0) {
        /* Nothing to deliver into: it waits for its expiry. */
        p->batch = 0;
    }
    (void)ne_js_consumer_deliver(js, c, NE_JS_DELIVERIES_PER_TURN);
    end_no_wait(js, c);
    ne_js_wake(js, c->stream->acc);
}

/* ---- Acknowledgements ------------------------------------------------------------------------ */

/* nats-server's processAckMsg for explicit and all. */
static void ack_msg(ne_js *js, ne_js_consumer *c, uint64_t sseq, uint64_t dseq)
{
    ne_js_stream *st = c->stream;
    c->last_ack_ns = ne_js_now_ns();
    if (c->cfg.ack_policy == NE_JS_ACK_EXPLICIT) {
        uint32_t i = pending_find(js, c, sseq);
        if (i != NE_JS_NONE) {
            dseq = pending_at(js, i)->dseq;
            pending_remove(js, c, i);
        }
        if (c->pending_count == 0) {
            c->adflr = c->dseq;
            c->asflr = c->sseq - 1;
        } else if (dseq == c->adflr + 1) {
            c->adflr = dseq;
            c->asflr = sseq;
            const ne_js_pending *head = pending_at(js, c->pending_head);
            if (head->sseq > sseq && head->sseq < c->sseq) {
                c->adflr = head->dseq - 1;
                c->asflr = head->sseq - 1;
            }
        }
        if (st->cfg.retention == NE_JS_RETENTION_WORKQUEUE) {
            (void)ne_js_stream_remove(js, st, sseq, false);
        } else if (st->cfg.retention == NE_JS_RETENTION_INTEREST) {
            ne_js_stream_check_interest(js, st, sseq);
        }
        return;
    }
    if (c->cfg.ack_policy != NE_JS_ACK_ALL || dseq <= c->adflr || sseq <= c->asflr) {
        return;
    }
    uint64_t old_floor = c->asflr;
    c->adflr = dseq;
    c->asflr = sseq;
    uint32_t guard = 0;
    while (c->pending_head != NE_JS_NONE && pending_at(js, c->pending_head)->sseq <= sseq &&
           guard++ <= NE_JS_MAX_PENDING) {
        pending_remove(js, c, c->pending_head);
    }
    if (st->cfg.retention != NE_JS_RETENTION_LIMITS) {
        for (uint64_t s = sseq; s > old_floor && s >= st->store.state.first_seq; s--) {
            if (st->cfg.retention == NE_JS_RETENTION_WORKQUEUE) {
                (void)ne_js_stream_remove(js, st, s, false);
            } else {
                ne_js_stream_check_interest(js, st, s);
            }
        }
    }
}

static void nak(ne_js *js, ne_js_consumer *c, uint64_t sseq, uint64_t dseq, uint32_t dc,
                ne_slice arg)
{
    if (dseq <= c->adflr || dseq > c->dseq) {
        return;
    }
    uint32_t i = pending_find(js, c, sseq);
    if (i == NE_JS_NONE) {
        return;
    }
    advise_delivery(js, c, "MSG_NAKED", "nak", sseq, dseq, dc, true);
    while (arg.len > 0 && arg.ptr[0] == ' ') {
        arg.ptr++;
        arg.len--;
    }
    while (arg.len > 0 && (arg.ptr[arg.len - 1] == ' ' || arg.ptr[arg.len - 1] == '\n' ||
                           arg.ptr[arg.len - 1] == '\r')) {
        arg.len--;
    }
    int64_t delay = 0;
    bool have_delay = false;
    if (arg.len > 0 && arg.ptr[0] == '{') {
        if (ne_json_parse(&js->doc, arg.ptr, arg.len) == NE_OK &&
            ne_json_check(&js->doc, 0, "delay", NE_JSON_INT) == NE_OK) {
            (void)ne_json_get_i64(&js->doc, 0, "delay", &delay);
            have_delay = true;
        }
    } else if (arg.len > 0) {
        have_delay = ne_js_parse_duration(arg.ptr, arg.len, &delay);
    }
    ne_js_pending *p = pending_at(js, i);
    if (have_delay) {
        uint64_t now = ne_js_mono_ns(js);
        p->deadline_ns = delay > 0 ? now + (uint64_t)delay : now;
        due_unlink(js, c, i);
        note_deadline(c, p->deadline_ns);
        return;
    }
    due_append(js, c, i);
    ne_js_wake(js, c->stream->acc);
}

static void term(ne_js *js, ne_js_consumer *c, uint64_t sseq, uint64_t dseq, uint32_t dc)
{
    ack_msg(js, c, sseq, dseq);
    advise_delivery(js, c, "MSG_TERMINATED", "terminated", sseq, dseq, dc, true);
}

static void progress(ne_js *js, ne_js_consumer *c, uint64_t sseq)
{
    uint32_t i = pending_find(js, c, sseq);
    if (i == NE_JS_NONE) {
        return;
    }
    ne_js_pending *p = pending_at(js, i);
    p->deadline_ns = ne_js_mono_ns(js) + wait_ns(c, p->dc);
    due_unlink(js, c, i);
    note_deadline(c, p->deadline_ns);
}

static bool body_is(ne_slice b, const char *text)
{
    return ne_slice_eq(b, text, strlen(text));
}

static bool body_starts(ne_slice b, const char *text)
{
    size_t n = strlen(text);
    return b.len >= n && memcmp(b.ptr, text, n) == 0;
}

/* $JS.ACK.<stream>.<consumer>.<dc>.<sseq>.<dseq>.<ts>.<pending> */
bool ne_js_consumer_ack_known(ne_js_account *a, ne_slice subject)
{
    /* $JS.ACK.<stream>.<consumer>.<...> */
    ne_slice tok[4];
    uint32_t count = 0, start = 0;
    for (uint32_t i = 0; i < subject.len && count < NE_ARRAY_LEN(tok); i++) {
        if (subject.ptr[i] == '.') {
            tok[count++] = (ne_slice){subject.ptr + start, i - start};
            start = i + 1;
        }
    }
    if (count < NE_ARRAY_LEN(tok)) {
        return false; /* no token after the consumer's name */
    }
    ne_js_stream *st = ne_js_stream_find(a, tok[2]);
    return st != NULL && ne_js_consumer_find(st, tok[3]) != NULL;
}

void ne_js_consumer_ack(ne_js *js, ne_js_account *a, ne_slice subject, ne_slice reply,
                        ne_slice body, bool cut)
{
    ne_slice tok[9];
    uint32_t count = 0, start = 0;
    for (uint32_t i = 0; i <= subject.len && count < NE_ARRAY_LEN(tok); i++) {
        if (i == subject.len || subject.ptr[i] == '.') {
            tok[count++] = (ne_slice){subject.ptr + start, i - start};
            start = i + 1;
        }
    }
    if (count != 9 || start <= subject.len) {
        return; /* another form of ack subject: not ours */
    }
    uint64_t dc = 0, sseq = 0, dseq = 0;
    if (!ne_parse_u64(tok[4].ptr, tok[4].len, UINT32_MAX, &dc) ||
        !ne_parse_u64(tok[5].ptr, tok[5].len, UINT64_MAX, &sseq) ||
        !ne_parse_u64(tok[6].ptr, tok[6].len, UINT64_MAX, &dseq)) {
        return;
    }
    ne_js_stream *st = ne_js_stream_find(a, tok[2]);
    ne_js_consumer *c = st != NULL ? ne_js_consumer_find(st, tok[3]) : NULL;
    if (c == NULL) {
        return;
    }
    bool skip_reply = sseq == 0;
    /* An ack names a message this consumer delivered: one past its next
     * sequence (or delivery) was never delivered, and taking it would move
     * the ack floor past what is still to deliver (nats-server 2.9.10 does,
     * for ack all; natsedge ignores it, differences.md "JetStream"). */
    bool delivered = sseq < c->sseq && dseq <= c->dseq;
    /* A cut body is longer than any whole verb: only the prefixes count
     * (a cut -NAK's delay is not there: a plain nak, as nats-server does
     * with a delay it cannot read). */
    if (!cut && (body.len == 0 || body_is(body, "+ACK") || body_is(body, "+OK"))) {
        if (delivered) {
            ack_msg(js, c, sseq, dseq);
        }
    } else if (body_starts(body, "+NXT")) {
        if (delivered) {
            ack_msg(js, c, sseq, dseq);
        }
        ne_slice rest = {body.ptr + 4, body.len - 4};
        ne_js_consumer_next_request(js, c, reply, rest, cut);
        skip_reply = true;
    } else if (!delivered) {
        /* nak, progress and term act on pending entries only */
    } else if (body_starts(body, "-NAK")) {
        nak(js, c, sseq, dseq, (uint32_t)dc,
            cut ? (ne_slice){"", 0} : (ne_slice){body.ptr + 4, body.len - 4});
    } else if (!cut && body_is(body, "+WPI")) {
        progress(js, c, sseq);
    } else if ((!cut && body_is(body, "+TERM")) || body_starts(body, "+TERM ")) {
        term(js, c, sseq, dseq, (uint32_t)dc);
    }
    if (reply.len > 0 && !skip_reply && ne_js_file_consumer_sync(js, c)) {
        /* The double ack: an empty answer once the ack is taken (and
         * durable, on a file stream). */
        (void)ne_js_send(js, a, reply, (ne_slice){"", 0}, NULL, 0, NULL, 0);
    }
    ne_js_wake(js, a);
}

/* $JS.FC.<stream>.<consumer>.<id>: the subscriber caught up. */
void ne_js_consumer_fc_reply(ne_js *js, ne_js_account *a, ne_slice subject)
{
    ne_slice tok[5];
    uint32_t count = 0, start = 0;
    for (uint32_t i = 0; i <= subject.len && count < NE_ARRAY_LEN(tok); i++) {
        if (i == subject.len || subject.ptr[i] == '.') {
            tok[count++] = (ne_slice){subject.ptr + start, i - start};
            start = i + 1;
        }
    }
    if (count != 5 || tok[4].len != 4) {
        return;
    }
    ne_js_stream *st = ne_js_stream_find(a, tok[2]);
    ne_js_consumer *c = st != NULL ? ne_js_consumer_find(st, tok[3]) : NULL;
    if (c == NULL || !c->fc_waiting) {
        return;
    }
    const char *id = tok[4].ptr;
    uint64_t seq = (uint64_t)(id[0]) << 24 | (uint64_t)(id[1]) << 16 | (uint64_t)(id[2]) << 8 |
                   (uint64_t)(id[3]);
    if (seq != c->fc_seq) {
        return; /* not the latest request */
    }
    c->fc_waiting = false;
    c->fc_bytes = c->fc_bytes > c->fc_msgs ? c->fc_bytes - c->fc_msgs : 0;
    c->fc_msgs = 0;
    ne_js_wake(js, a);
}

/* ---- Timers ------------------------------------------------------------------------------------
 */

/* Entries past their deadline join the redelivery queue, in stream order. */
static void check_pending(ne_js *js, ne_js_consumer *c, uint64_t now)
{
    if (c->next_deadline_ns == 0 || now < c->next_deadline_ns) {
        return;
    }
    c->next_deadline_ns = 0;
    bool any = false;
    uint32_t i = c->pending_head;
    for (uint32_t guard = 0; i != NE_JS_NONE && guard < NE_JS_MAX_PENDING; guard++) {
        ne_js_pending *p = pending_at(js, i);
        if (!p->due) {
            if (p->deadline_ns <= now) {
                due_append(js, c, i);
                any = true;
            } else {
                note_deadline(c, p->deadline_ns);
            }
        }
        i = p->next;
    }
    if (any) {
        ne_js_wake(js, c->stream->acc);
    }
}

static void idle_heartbeat(ne_js *js, ne_js_consumer *c, uint64_t now)
{
    if (!is_push(c) || c->cfg.idle_heartbeat_ns <= 0 || c->interest == 0 ||
        now < c->last_msg_ns + (uint64_t)c->cfg.idle_heartbeat_ns) {
        return;
    }
    char hdr[2 * NE_JS_NAME_BYTES + 160];
    size_t n =
        ne_fmt(hdr, sizeof(hdr),
               "NATS/1.0 100 Idle Heartbeat\r\nNats-Last-Consumer: %llu\r\n"
               "Nats-Last-Stream: %llu\r\n",
               (unsigned long long)c->dseq, (unsigned long long)(c->sseq > 0 ? c->sseq - 1 : 0));
    if (c->fc_waiting) {
        char id[5] = {(char)(c->fc_seq >> 24), (char)(c->fc_seq >> 16), (char)(c->fc_seq >> 8),
                      (char)c->fc_seq, '\0'};
        n += ne_fmt(hdr + n, sizeof(hdr) - n, "Nats-Consumer-Stalled: $JS.FC.%s.%s.%s\r\n",
                    ne_js_stream_name(js, c->stream), c->name, id);
    }
    n += ne_fmt(hdr + n, sizeof(hdr) - n, "\r\n");
    (void)ne_js_send(js, c->stream->acc, ne_js_text_get(js, c->cfg.deliver_subject),
                     (ne_slice){"", 0}, hdr, (uint32_t)n, NULL, 0);
    c->last_msg_ns = now;
}

void ne_js_consumer_tick(ne_js *js, ne_js_consumer *c, uint64_t now)
{
    int64_t threshold = c->cfg.inactive_threshold_ns;
    if (threshold > 0 && c->inactive_since_ns != 0 &&
        now >= c->inactive_since_ns + (uint64_t)threshold && (!is_push(c) || c->interest == 0)) {
        ne_js_consumer_delete(js, c, true);
        return;
    }
    check_pending(js, c, now);
    if (!is_push(c)) {
        expire_pulls(js, c, now);
    }
    idle_heartbeat(js, c, now);
    if (c->cfg.replay_policy == NE_JS_REPLAY_ORIGINAL) {
        ne_js_wake(js, c->stream->acc);
    }
}

bool ne_js_consumer_needs(const ne_js_consumer *c, uint64_t seq, ne_slice subject, const ne_js *js)
{
    if (!filter_matches(js, c, subject)) {
        return false;
    }
    if (c->cfg.ack_policy != NE_JS_ACK_EXPLICIT) {
        return seq > c->asflr;
    }
    if (seq <= c->asflr) {
        return false;
    }
    if (seq < c->sseq) {
        return pending_find((ne_js *)js, c, seq) != NE_JS_NONE;
    }
    return true;
}

#endif /* NE_FEATURE_JETSTREAM */
