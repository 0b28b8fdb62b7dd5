/* Streams (ne_js_int.h): life cycle, the publish path (headers, duplicate
 * detection, limits, retention, rollups, republish, acknowledgements) and
 * every removal, which the stream's consumers hear of. */
#include "js/ne_js_int.h"

#if NE_FEATURE_JETSTREAM

#include <string.h>

#include "core/ne_assert.h"
#include "core/ne_error.h"
#include "core/ne_fmt.h"
#include "core/ne_subject.h"
#include "router/ne_account.h"

/* Headers of an inbound message copied out of a chunk chain, at most. */
#define NE_JS_INBOUND_HDR_BYTES 4096

ne_js_stream *ne_js_stream_find(ne_js_account *a, ne_slice name)
{
    uint32_t guard = 0;
    for (ne_js_stream *st = a->streams; st != NULL && guard++ < NE_JS_MAX_STREAMS; st = st->next) {
        ne_slice n = ne_js_text_get(a->js, st->cfg.name);
        if (n.len == name.len && memcmp(n.ptr, name.ptr, name.len) == 0) {
            return st;
        }
    }
    return NULL;
}

/* ---- Usage ---------------------------------------------------------------------------- */

uint64_t ne_js_account_usage(const ne_js_account *a, uint8_t storage)
{
    return storage == NE_JS_STORAGE_MEMORY ? a->memory_bytes : a->store_bytes;
}

/* A change of the stream's bytes, for the account's and the server's use. */
static void usage_delta(ne_js_stream *st, uint64_t before)
{
    uint64_t after = st->store.state.bytes;
    uint64_t *acc =
        st->cfg.storage == NE_JS_STORAGE_MEMORY ? &st->acc->memory_bytes : &st->acc->store_bytes;
    if (after >= before) {
        *acc += after - before;
    } else {
        *acc -= NE_MIN(*acc, before - after);
    }
}

/* ---- Message ids (duplicate detection) -------------------------------------------------- */

static ne_js_msgid *msgid_at(const ne_js *js, uint32_t i)
{
    return (ne_js_msgid *)(void *)(js->msgid_pool.storage +
                                   (size_t)i * js->msgid_pool.object_bytes);
}

static uint64_t id_hash(uint16_t stream, ne_slice id)
{
    uint64_t h = 0xcbf29ce484222325ull ^ stream;
    for (uint32_t i = 0; i < id.len; i++) {
        h ^= (uint8_t)id.ptr[i];
        h *= 0x100000001b3ull;
    }
    return h;
}

static uint32_t *id_bucket(ne_js *js, uint64_t hash)
{
    return &js->msgid_buckets[hash & (NE_JS_MSGID_BUCKETS - 1u)];
}

static ne_js_msgid *msgid_find(ne_js *js, const ne_js_stream *st, ne_slice id)
{
    uint64_t h = id_hash(st->slot, id);
    uint32_t b = *id_bucket(js, h);
    uint32_t i = b == 0 ? NE_JS_NONE : b - 1u;
    for (uint32_t guard = 0; i != NE_JS_NONE && guard < NE_JS_MAX_MSG_IDS; guard++) {
        ne_js_msgid *m = msgid_at(js, i);
        if (m->hash == h && m->stream == st->slot && m->len == id.len &&
            memcmp(m->id, id.ptr, id.len) == 0) {
            return m;
        }
        i = m->hash_next;
    }
    return NULL;
}

static void msgid_unlink_bucket(ne_js *js, uint32_t i)
{
    ne_js_msgid *m = msgid_at(js, i);
    uint32_t *bucket = id_bucket(js, m->hash);
    uint32_t at = *bucket == 0 ? NE_JS_NONE : *bucket - 1u;
    if (at == i) {
        *bucket = m->hash_next == NE_JS_NONE ? 0 : m->hash_next + 1u;
        return;
    }
    for (uint32_t guard = 0; at != NE_JS_NONE && guard < NE_JS_MAX_MSG_IDS; guard++) {
        ne_js_msgid *p = msgid_at(js, at);
        if (p->hash_next == i) {
            p->hash_next = m->hash_next;
            return;
        }
        at = p->hash_next;
    }
    NE_ASSERT(false);
}

/* Forgets the stream's oldest id. */
static void msgid_drop_oldest(ne_js *js, ne_js_stream *st)
{
    uint32_t i = st->ids_head;
    NE_ASSERT(i != NE_JS_NONE);
    ne_js_msgid *m = msgid_at(js, i);
    st->ids_head = m->next;
    if (st->ids_head == NE_JS_NONE) {
        st->ids_tail = NE_JS_NONE;
    }
    st->id_count--;
    msgid_unlink_bucket(js, i);
    ne_pool_free(&js->msgid_pool, m);
}

static void msgids_expire(ne_js *js, ne_js_stream *st, uint64_t now_ns)
{
    uint64_t window = (uint64_t)st->cfg.duplicate_window_ns;
    uint32_t guard = 0;
    while (st->ids_head != NE_JS_NONE && guard++ < NE_JS_MAX_MSG_IDS) {
        const ne_js_msgid *m = msgid_at(js, st->ids_head);
        if (m->ts_ns + window > now_ns) {
            break;
        }
        msgid_drop_oldest(js, st);
    }
}

/* Takes an entry for an id: a free one, or one of any stream past its
 * window. NULL when every entry is within its window. */
static ne_js_msgid *msgid_take(ne_js *js, ne_js_stream *st, uint64_t now_ns)
{
    ne_js_msgid *m = ne_pool_alloc(&js->msgid_pool);
    if (m != NULL) {
        return m;
    }
    msgids_expire(js, st, now_ns);
    uint32_t guard = 0;
    for (uint32_t i = 0; i < js->account_count && m == NULL; i++) {
        for (ne_js_stream *s = js->accounts[i].streams; s != NULL && guard++ < NE_JS_MAX_STREAMS;
             s = s->next) {
            msgids_expire(js, s, now_ns);
        }
    }
    return ne_pool_alloc(&js->msgid_pool);
}

static bool msgid_store(ne_js *js, ne_js_stream *st, ne_slice id, uint64_t seq, uint64_t now_ns)
{
    ne_js_msgid *m = msgid_take(js, st, now_ns);
    if (m == NULL) {
        return false;
    }
    uint32_t i = ne_pool_index(&js->msgid_pool, m);
    m->hash = id_hash(st->slot, id);
    m->seq = seq;
    m->ts_ns = now_ns;
    m->stream = st->slot;
    m->len = (uint8_t)id.len;
    memcpy(m->id, id.ptr, id.len);
    m->next = NE_JS_NONE;
    uint32_t *bucket = id_bucket(js, m->hash);
    m->hash_next = *bucket == 0 ? NE_JS_NONE : *bucket - 1u;
    *bucket = i + 1u;
    if (st->ids_tail != NE_JS_NONE) {
        msgid_at(js, st->ids_tail)->next = i;
    } else {
        st->ids_head = i;
    }
    st->ids_tail = i;
    st->id_count++;
    return true;
}

/* The stream's last message id (Nats-Expected-Last-Msg-Id), in a text
 * slot while it has one: an empty id gives the slot back. The caller made
 * sure a slot was free (ne_js_text_room); without one the id is forgotten
 * (logged by ne_js_text_put). */
static void set_last_msg_id(ne_js *js, ne_js_stream *st, ne_slice id)
{
    if (st->last_msg_id != NE_JS_NO_TEXT) {
        ne_slice old = ne_js_text_get(js, st->last_msg_id);
        if (old.len == id.len && memcmp(old.ptr, id.ptr, id.len) == 0) {
            return;
        }
        ne_js_text_free(js, &st->last_msg_id);
    }
    if (id.len > 0) {
        st->last_msg_id = ne_js_text_put(js, id.ptr, id.len);
    }
}

void ne_js_stream_remember_id(ne_js *js, ne_js_stream *st, ne_slice id, uint64_t seq,
                              uint64_t ts_ns)
{
    uint64_t wall = ne_js_now_ns();
    uint64_t mono = ne_js_mono_ns(js);
    uint64_t age = wall > ts_ns ? wall - ts_ns : 0;
    if (msgid_find(js, st, id) == NULL) {
        (void)msgid_store(js, st, id, seq, mono > age ? mono - age : 0);
    }
    set_last_msg_id(js, st, id);
}

/* ---- Subscriptions ------------------------------------------------------------------------ */

static void stream_sid(const ne_js_stream *st, char *sid, size_t cap)
{
    size_t n = ne_fmt(sid, cap, "S%u", (unsigned)st->slot);
    NE_ASSERT(n > 0);
}

static void unsubscribe_stream(ne_js *js, ne_js_stream *st)
{
    ne_conn *c = st->acc->client;
    if (c == NULL) {
        return;
    }
    char sid[16];
    stream_sid(st, sid, sizeof(sid));
    size_t sid_len = strlen(sid);
    uint32_t guard = 0;
    ne_sub *next = NULL;
    for (ne_sub *s = c->subs; s != NULL && guard++ <= NE_MAX_SUBSCRIPTIONS; s = next) {
        next = s->conn_next;
        if (s->sid_len == sid_len && memcmp(ne_sub_sid(s), sid, sid_len) == 0) {
            ne_router_unsubscribe(js->router, s);
        }
    }
}

static int subscribe_stream(ne_js *js, ne_js_stream *st)
{
    ne_conn *c = st->acc->client;
    if (c == NULL) {
        return NE_ERR_CLOSED;
    }
    char sid[16];
    stream_sid(st, sid, sizeof(sid));
    for (uint8_t i = 0; i < st->cfg.subject_count; i++) {
        ne_slice s = ne_js_text_get(js, st->cfg.subjects[i]);
        ne_sub_spec spec = {.subject = s, .queue = {"", 0}, .sid = {sid, (uint32_t)strlen(sid)}};
        int rc = ne_router_subscribe(js->router, c, &spec, NULL);
        if (rc != NE_OK) {
            unsubscribe_stream(js, st);
            return rc;
        }
    }
    return NE_OK;
}

/* ---- Create, update, delete ------------------------------------------------------------------ */

typedef struct stream_action {
    const char *name;
    const char *action;
} stream_action;

static void write_stream_action(ne_js *js, ne_json_out *o, const void *arg)
{
    const stream_action *a = arg;
    ne_json_begin_object(o);
    ne_js_advisory_head(js, o, "stream_action");
    ne_json_kv_string(o, "stream", a->name);
    ne_json_kv_string(o, "action", a->action);
    if (js->opts->js.domain[0] != '\0') {
        ne_json_kv_string(o, "domain", js->opts->js.domain);
    }
    ne_json_end_object(o);
}

/* $JS.EVENT.ADVISORY.STREAM.<CREATED|DELETED|UPDATED>.<stream> (JS-16). */
static void advise_stream(ne_js *js, ne_js_account *a, const char *name, const char *what,
                          const char *action)
{
    char subject[NE_JS_NAME_BYTES + 48];
    if (ne_fmt(subject, sizeof(subject), "$JS.EVENT.ADVISORY.STREAM.%s.%s", what, name) == 0) {
        return;
    }
    stream_action sa = {name, action};
    ne_js_advise(js, a, subject, write_stream_action, &sa);
}

/* Another stream of the account has a subject that collides with cfg's. */
static bool overlaps_other(ne_js *js, ne_js_account *a, const ne_js_stream *self,
                           const ne_js_stream_cfg *cfg)
{
    uint32_t guard = 0;
    for (ne_js_stream *st = a->streams; st != NULL && guard++ < NE_JS_MAX_STREAMS; st = st->next) {
        if (st == self) {
            continue;
        }
        for (uint8_t i = 0; i < cfg->subject_count; i++) {
            for (uint8_t k = 0; k < st->cfg.subject_count; k++) {
                if (ne_js_subjects_collide(ne_js_text_get(js, cfg->subjects[i]),
                                           ne_js_text_get(js, st->cfg.subjects[k]))) {
                    return true;
                }
            }
        }
    }
    return false;
}

/* Bytes the account's streams of a storage type reserve (their max_bytes). */
static uint64_t reserved(const ne_js_account *a, uint8_t storage, const ne_js_stream *except)
{
    uint64_t total = 0;
    uint32_t guard = 0;
    for (const ne_js_stream *st = a->streams; st != NULL && guard++ < NE_JS_MAX_STREAMS;
         st = st->next) {
        if (st != except && st->cfg.storage == storage && st->cfg.max_bytes > 0) {
            total += (uint64_t)st->cfg.max_bytes;
        }
    }
    return total;
}

static uint64_t server_reserved(const ne_js *js, uint8_t storage, const ne_js_stream *except)
{
    uint64_t total = 0;
    for (uint32_t i = 0; i < js->account_count; i++) {
        total += reserved(&js->accounts[i], storage, except);
    }
    return total;
}

/* nats-server's checkBytesLimits: the stream's max_bytes (1 when none)
 * within the account's and the server's limits. */
static bool bytes_fit(ne_js *js, ne_js_account *a, const ne_js_stream_cfg *cfg,
                      const ne_js_stream *except, ne_js_error *e)
{
    int64_t add = cfg->max_bytes < 0 ? 1 : cfg->max_bytes;
    bool memory = cfg->storage == NE_JS_STORAGE_MEMORY;
    int64_t account_max = memory ? a->limits.max_memory : a->limits.max_store;
    uint64_t server_max = memory ? js->max_memory : js->max_store;
    ne_js_err err =
        memory ? NE_JS_ERR_MEMORY_RESOURCES_EXCEEDED : NE_JS_ERR_STORAGE_RESOURCES_EXCEEDED;
    if (account_max >= 0 && (int64_t)reserved(a, cfg->storage, except) + add > account_max) {
        ne_js_error_set(e, err, "%s", "");
        return false;
    }
    if (server_reserved(js, cfg->storage, except) + (uint64_t)add > server_max) {
        ne_js_error_set(e, err, "%s", "");
        return false;
    }
    return true;
}

bool ne_js_stream_create(ne_js *js, ne_js_account *a, ne_js_stream_cfg *cfg, ne_js_stream **out,
                         ne_js_error *e)
{
    if (cfg->storage != NE_JS_STORAGE_MEMORY && cfg->storage != NE_JS_STORAGE_FILE) {
        ne_js_error_set(e, NE_JS_ERR_STREAM_CREATE, "%s", "storage type not supported");
        return false;
    }
    if (cfg->replicas > 1) {
        ne_js_error_set(e, NE_JS_ERR_STREAM_REPLICAS_NOT_SUPPORTED, "%s", "");
        return false;
    }
    if (a->limits.max_consumers > 0 && cfg->max_consumers > a->limits.max_consumers) {
        ne_js_error_set(e, NE_JS_ERR_MAX_CONSUMERS, "%s", "");
        return false;
    }
    if (!bytes_fit(js, a, cfg, NULL, e)) {
        return false;
    }
    if (a->limits.max_streams > 0 && (int64_t)a->stream_count >= a->limits.max_streams) {
        ne_js_error_set(e, NE_JS_ERR_MAX_STREAMS, "%s", "");
        return false;
    }
    if (overlaps_other(js, a, NULL, cfg)) {
        ne_js_error_set(e, NE_JS_ERR_STREAM_SUBJECT_OVERLAP, "%s", "");
        return false;
    }
    ne_js_stream *st = ne_pool_alloc(&js->stream_pool);
    if (st == NULL) {
        ne_log_warn(js->conns->log, "JetStream stream pool exhausted (%u): raise NE_JS_MAX_STREAMS",
                    (unsigned)NE_JS_MAX_STREAMS);
        ne_js_error_set(e, NE_JS_ERR_MAX_STREAMS, "%s", "");
        return false;
    }
    st->slot = (uint16_t)ne_pool_index(&js->stream_pool, st);
    st->acc = a;
    st->cfg = *cfg;
    st->created_ns = ne_js_now_ns();
    st->ids_head = NE_JS_NONE;
    st->ids_tail = NE_JS_NONE;
    st->last_msg_id = NE_JS_NO_TEXT;
    if (cfg->storage == NE_JS_STORAGE_FILE) {
        if (!ne_js_file_stream_open(js, st, e)) {
            ne_pool_free(&js->stream_pool, st);
            return false;
        }
        usage_delta(st, 0); /* what a restored stream holds */
    } else {
        ne_js_mem_open(&js->mem, &st->store, st->slot);
    }
    int rc = subscribe_stream(js, st);
    if (rc != NE_OK) {
        uint64_t before = st->store.state.bytes;
        st->store.ops->drop(&st->store);
        usage_delta(st, before);
        ne_pool_free(&js->stream_pool, st);
        ne_js_error_set(e, NE_JS_ERR_STREAM_CREATE, "subscribe to the stream's subjects failed: %s",
                        rc == NE_ERR_TOO_BIG
                            ? "subject longer than NE_SUB_TEXT_BYTES"
                            : "subscription pool exhausted (NE_MAX_SUBSCRIPTIONS)");
        return false;
    }
    /* The configuration's text slots now belong to the stream. */
    ne_js_stream_cfg_init(cfg);
    st->next = a->streams;
    a->streams = st;
    a->stream_count++;
    if ((st->cfg.source_count > 0 && ne_js_source_stream_started(js, st) != NE_OK) ||
        (st->cfg.forward && ne_js_forward_stream_started(js, st) != NE_OK)) {
        ne_js_stream_delete(js, st, false);
        ne_js_error_set(e, NE_JS_ERR_INSUFFICIENT_RESOURCES, "%s", "");
        return false;
    }
    *out = st;
    advise_stream(js, a, ne_js_stream_name(js, st), "CREATED", "create");
    return true;
}

/* nats-server's checkStreamUpdate rules for one server. */
static bool update_allowed(ne_js *js, const ne_js_stream *st, ne_js_stream_cfg *cfg, ne_js_error *e)
{
    const ne_js_stream_cfg *old = &st->cfg;
    const char *why = NULL;
    if (cfg->storage != old->storage) {
        why = "stream configuration update can not change storage type";
    } else if (cfg->retention != old->retention) {
        why = "stream configuration update can not change retention policy";
    } else if (!cfg->sealed && old->sealed) {
        why = "stream configuration update can not unseal a sealed stream";
    } else if (!cfg->deny_delete && old->deny_delete) {
        why = "stream configuration update can not cancel deny message deletes";
    } else if (!cfg->deny_purge && old->deny_purge) {
        why = "stream configuration update can not cancel deny purge";
    } else if (!ne_js_text_eq(js, cfg->republish_src, old->republish_src) ||
               !ne_js_text_eq(js, cfg->republish_dest, old->republish_dest) ||
               cfg->republish_headers_only != old->republish_headers_only) {
        why = "stream configuration update can not change RePublish";
    } else if (cfg->forward != old->forward || cfg->forward_window != old->forward_window ||
               !ne_js_text_eq(js, cfg->forward_prefix, old->forward_prefix)) {
        why = "stream configuration update can not change forward in natsedge yet";
    }
    if (old->mirror && !ne_js_stream_sources_equal(js, cfg, old)) {
        ne_js_error_set(e, NE_JS_ERR_MIRROR_NOT_UPDATABLE, "%s", "");
        return false;
    }
    if (why != NULL) {
        ne_js_error_set(e, NE_JS_ERR_STREAM_INVALID_CONFIG, "%s", why);
        return false;
    }
    if (cfg->replicas != old->replicas) {
        ne_js_error_set(e, NE_JS_ERR_STREAM_REPLICAS_NOT_UPDATABLE, "%s", "");
        return false;
    }
    if (cfg->sealed) {
        cfg->max_age_ns = 0;
        cfg->discard = NE_JS_DISCARD_NEW;
        cfg->deny_delete = true;
        cfg->deny_purge = true;
        cfg->allow_rollup = false;
    }
    return true;
}

static void enforce_limits(ne_js *js, ne_js_stream *st);

bool ne_js_stream_update(ne_js *js, ne_js_stream *st, ne_js_stream_cfg *cfg, ne_js_error *e)
{
    ne_js_account *a = st->acc;
    if (!update_allowed(js, st, cfg, e)) {
        return false;
    }
    if (overlaps_other(js, a, st, cfg)) {
        ne_js_error_set(e, NE_JS_ERR_STREAM_SUBJECT_OVERLAP, "%s", "");
        return false;
    }
    if (cfg->max_bytes > 0 && cfg->max_bytes != st->cfg.max_bytes &&
        !bytes_fit(js, a, cfg, st, e)) {
        return false;
    }
    /* Sources added or removed (a mirror's cannot change: update_allowed):
     * the links start again from the new list, each source that stays
     * where its newest Nats-Stream-Source says (ne_js_source.c). */
    bool relink = !ne_js_stream_sources_equal(js, cfg, &st->cfg);
    if (relink && !ne_js_stream_origins_check(js, a, cfg, e)) {
        return false;
    }
    if (relink && !ne_js_source_room(js, st, cfg->source_count)) {
        ne_log_warn(js->conns->log,
                    "JetStream stream \"%s\": no room for its %u sources: raise "
                    "NE_JS_MAX_SOURCE_LINKS",
                    ne_js_stream_name(js, st), (unsigned)cfg->source_count);
        ne_js_error_set(e, NE_JS_ERR_INSUFFICIENT_RESOURCES, "%s", "");
        return false;
    }
    if (relink) {
        ne_js_source_stream_stopped(js, st);
    }
    /* New subjects: subscribe with the new list, the old one on failure. */
    ne_js_stream_cfg old = st->cfg;
    unsubscribe_stream(js, st);
    st->cfg = *cfg;
    if (subscribe_stream(js, st) != NE_OK) {
        st->cfg = old;
        (void)subscribe_stream(js, st);
        if (relink && st->cfg.source_count > 0) {
            (void)ne_js_source_stream_started(js, st);
        }
        ne_js_error_set(e, NE_JS_ERR_INSUFFICIENT_RESOURCES, "%s", "");
        return false;
    }
    if (relink && st->cfg.source_count > 0) {
        int rc = ne_js_source_stream_started(js, st);
        NE_ASSERT(rc == NE_OK); /* the room was counted above */
        (void)rc;
    }
    ne_js_stream_cfg_release(js, &old);
    ne_js_stream_cfg_init(cfg);
    ne_js_file_stream_updated(js, st);
    enforce_limits(js, st);
    ne_js_wake(js, a);
    advise_stream(js, a, ne_js_stream_name(js, st), "UPDATED", "modify");
    return true;
}

void ne_js_stream_delete(ne_js *js, ne_js_stream *st, bool advise)
{
    ne_js_account *a = st->acc;
    uint32_t guard = 0;
    while (st->consumers != NULL && guard++ <= NE_JS_MAX_CONSUMERS) {
        ne_js_consumer_delete(js, st->consumers, advise);
    }
    if (advise) {
        advise_stream(js, a, ne_js_stream_name(js, st), "DELETED", "delete");
    }
    ne_js_source_stream_stopped(js, st);
    ne_js_forward_stream_stopped(js, st);
    unsubscribe_stream(js, st);
    uint64_t before = st->store.state.bytes;
    st->store.ops->drop(&st->store);
    usage_delta(st, before);
    guard = 0;
    while (st->ids_head != NE_JS_NONE && guard++ <= NE_JS_MAX_MSG_IDS) {
        msgid_drop_oldest(js, st);
    }
    ne_js_stream_cfg_release(js, &st->cfg);
    ne_js_text_free(js, &st->last_msg_id);
    ne_js_stream **pp = &a->streams;
    guard = 0;
    while (*pp != NULL && *pp != st && guard++ < NE_JS_MAX_STREAMS) {
        pp = &(*pp)->next;
    }
    NE_ASSERT(*pp == st);
    *pp = st->next;
    a->stream_count--;
    ne_pool_free(&js->stream_pool, st);
}

/* ---- Removal ------------------------------------------------------------------------------------
 */

int ne_js_stream_remove(ne_js *js, ne_js_stream *st, uint64_t seq, bool erase)
{
    ne_js_msg_info info;
    memset(&info, 0, sizeof(info));
    char subject[NE_MAX_CONTROL_LINE_BYTES + 1];
    info.subject = subject;
    info.subject_cap = sizeof(subject);
    int rc = st->store.ops->info(&st->store, seq, &info);
    if (rc != NE_OK) {
        return rc;
    }
    uint64_t before = st->store.state.bytes;
    rc = st->store.ops->remove(&st->store, seq, erase);
    if (rc != NE_OK) {
        return rc;
    }
    usage_delta(st, before);
    ne_slice subj = {subject, info.subject_len};
    uint32_t guard = 0;
    for (ne_js_consumer *c = st->consumers; c != NULL && guard++ < NE_JS_MAX_CONSUMERS;
         c = c->next) {
        ne_js_consumer_removed(js, c, seq, subj);
    }
    return NE_OK;
}

static void remove_first(ne_js *js, ne_js_stream *st)
{
    (void)ne_js_stream_remove(js, st, st->store.state.first_seq, false);
}

/* The oldest messages of a subject beyond max_msgs_per_subject go. */
static void enforce_per_subject(ne_js *js, ne_js_stream *st, ne_slice subject)
{
    if (st->cfg.max_msgs_per_subject <= 0) {
        return;
    }
    ne_js_subject_state ss;
    uint32_t guard = 0;
    while (st->store.ops->subject_state(&st->store, subject, &ss) == NE_OK &&
           ss.msgs > (uint64_t)st->cfg.max_msgs_per_subject && guard++ < NE_JS_MEM_BLOCKS) {
        (void)ne_js_stream_remove(js, st, ss.first_seq, false);
    }
}

/* max_msgs and max_bytes, oldest first. */
static void enforce_limits(ne_js *js, ne_js_stream *st)
{
    const ne_js_store_state *s = &st->store.state;
    uint64_t guard = 0;
    while (st->cfg.max_msgs > 0 && s->msgs > (uint64_t)st->cfg.max_msgs &&
           guard++ <= NE_JS_MEM_BLOCKS) {
        remove_first(js, st);
    }
    guard = 0;
    while (st->cfg.max_bytes > 0 && s->bytes > (uint64_t)st->cfg.max_bytes && s->msgs > 0 &&
           guard++ <= NE_JS_MEM_BLOCKS) {
        remove_first(js, st);
    }
}

/* ---- Publishing
 * ---------------------------------------------------------------------------------- */

/* The acknowledgement of a stored publish, as queued for the end of the
 * turn: this head, then the stream's name and the error's text. */
typedef struct puback {
    uint64_t seq;
    uint64_t last_of_subject; /* republish: the subject's previous last */
    uint16_t err;             /* ne_js_err, NE_JS_OK on success */
    uint16_t name_len;
    uint16_t arg_len;
    uint8_t duplicate;
    uint8_t respond;
    uint8_t republish;
    uint8_t pad[7];
} puback;

static void queue_puback(ne_js *js, ne_js_stream *st, ne_slice reply, const puback *p,
                         const char *arg)
{
    uint8_t body[sizeof(puback) + NE_JS_NAME_BYTES + 160];
    puback h = *p;
    ne_slice name = ne_js_text_get(js, st->cfg.name);
    NE_ASSERT(name.len < NE_JS_NAME_BYTES);
    h.name_len = (uint16_t)name.len;
    h.arg_len = (uint16_t)(arg != NULL ? NE_MIN(strlen(arg), (size_t)159) : 0);
    memcpy(body, &h, sizeof(h));
    memcpy(body + sizeof(h), name.ptr, h.name_len);
    if (h.arg_len > 0) {
        memcpy(body + sizeof(h) + h.name_len, arg, h.arg_len);
    }
    if (!ne_js_queue_record(js, st->acc, NE_JS_REC_PUBACK, 0, (ne_slice){"", 0}, reply, body,
                            (uint32_t)(sizeof(h) + h.name_len + h.arg_len))) {
        ne_log_warn(js->conns->log,
                    "JetStream acknowledgement for \"%s\" not queued: raise NE_JS_QUEUE_BYTES or "
                    "NE_CHUNK_COUNT",
                    ne_js_stream_name(js, st));
    }
}

static void reply_error(ne_js *js, ne_js_stream *st, ne_slice reply, bool can_respond,
                        ne_js_err err, const char *arg)
{
    if (!can_respond) {
        return;
    }
    puback p;
    memset(&p, 0, sizeof(p));
    p.err = (uint16_t)err;
    p.respond = 1;
    queue_puback(js, st, reply, &p, arg);
}

/* Reads a payload in a chunk chain (ne_js_msg_in.read_at). */
typedef struct chain_reader {
    const ne_msg *msg;
} chain_reader;

static void read_chain(const void *ctx, uint32_t offset, void *dst, uint32_t len)
{
    const ne_msg *msg = ((const chain_reader *)ctx)->msg;
    const ne_chunk *c = msg->chain;
    uint32_t at = msg->chain_offset + msg->hdr_len + offset;
    while (c != NULL && at >= c->used) {
        at -= c->used;
        c = c->next;
    }
    uint8_t *out = dst;
    uint32_t done = 0;
    while (c != NULL && done < len) {
        uint32_t n = NE_MIN(len - done, c->used - at);
        memcpy(out + done, c->data + at, n);
        done += n;
        at = 0;
        c = c->next;
    }
}

/* The message's header block, contiguous: in place, or copied into buf. */
static bool inbound_headers(const ne_msg *msg, uint8_t *buf, size_t cap, const uint8_t **hdr)
{
    *hdr = NULL;
    if (msg->hdr_len == 0) {
        return true;
    }
    if (msg->chain == NULL) {
        *hdr = msg->data;
        return true;
    }
    const ne_chunk *c = msg->chain;
    if (msg->chain_offset + msg->hdr_len <= c->used) {
        *hdr = c->data + msg->chain_offset;
        return true;
    }
    if (msg->hdr_len > cap) {
        return false;
    }
    uint32_t at = msg->chain_offset;
    uint32_t done = 0;
    while (c != NULL && done < msg->hdr_len) {
        if (at >= c->used) {
            at -= c->used;
            c = c->next;
            continue;
        }
        uint32_t n = NE_MIN(msg->hdr_len - done, c->used - at);
        memcpy(buf + done, c->data + at, n);
        done += n;
        at = 0;
        c = c->next;
    }
    *hdr = buf;
    return true;
}

static bool parse_seq(ne_slice v, uint64_t *out)
{
    return v.len > 0 && ne_parse_u64(v.ptr, v.len, UINT64_MAX, out);
}

/* Interest retention: no consumer wants a message on this subject. */
static bool no_interest(ne_js *js, const ne_js_stream *st, ne_slice subject)
{
    if (st->cfg.retention != NE_JS_RETENTION_INTEREST) {
        return false;
    }
    uint32_t guard = 0;
    for (const ne_js_consumer *c = st->consumers; c != NULL && guard++ < NE_JS_MAX_CONSUMERS;
         c = c->next) {
        ne_slice f = ne_js_text_get(js, c->cfg.filter);
        if (f.len == 0 || ne_subject_matches(f.ptr, f.len, subject.ptr, subject.len)) {
            return false;
        }
    }
    return true;
}

/* Discard new: would this message go over a limit? Returns the store's
 * error text, NULL when it fits (nats-server's memory store checks). */
/* Whether an append must know its subject's previous last sequence:
 * republish sends it, and a consumer still in its last-per-subject window
 * (lps_end) counts it out of num_pending (ne_js_consumer_appended). */
static bool needs_prev_last(const ne_js_stream *st)
{
    if (st->cfg.republish_dest != NE_JS_NO_TEXT) {
        return true;
    }
    uint32_t guard = 0;
    for (const ne_js_consumer *c = st->consumers; c != NULL && guard++ < NE_JS_MAX_CONSUMERS;
         c = c->next) {
        if (c->lps_end != 0) {
            return true;
        }
    }
    return false;
}

static const char *discard_new_refusal(const ne_js_stream *st, ne_slice subject, uint64_t body_len)
{
    const ne_js_stream_cfg *cfg = &st->cfg;
    if (cfg->discard != NE_JS_DISCARD_NEW) {
        return NULL;
    }
    ne_js_store *store = (ne_js_store *)&st->store;
    ne_js_subject_state ss;
    bool at_subject_limit = cfg->max_msgs_per_subject > 0 &&
                            store->ops->subject_state(store, subject, &ss) == NE_OK &&
                            ss.msgs >= (uint64_t)cfg->max_msgs_per_subject;
    if (at_subject_limit && cfg->discard_new_per_subject) {
        return "maximum messages per subject exceeded";
    }
    const ne_js_store_state *s = &store->state;
    if (cfg->max_msgs > 0 && s->msgs >= (uint64_t)cfg->max_msgs && !at_subject_limit) {
        return "maximum messages exceeded";
    }
    if (cfg->max_bytes > 0 && s->bytes + body_len >= (uint64_t)cfg->max_bytes) {
        if (!at_subject_limit) {
            return "maximum bytes exceeded";
        }
        /* Dropping the subject's oldest must make room. */
        ne_js_msg_info first;
        memset(&first, 0, sizeof(first));
        if (store->ops->info(store, ss.first_seq, &first) != NE_OK ||
            ne_js_store_msg_bytes(first.subject_len, first.hdr_len, first.data_len) < body_len) {
            return "maximum bytes exceeded";
        }
    }
    return NULL;
}

/* A publish refused for want of room (the stream's limits with discard
 * new, the server's or the account's storage, the device): a forwarding
 * stream counts it (/jsz). */
static void refused_for_room(ne_js *js, const ne_js_stream *st)
{
    if (st->cfg.forward) {
        ne_js_forward_refused(js, st);
    }
}

/* copy: a mirror's or source's copy of a message its origin stored, whose
 * Nats-Expected-* headers the origin checked (they name the origin's
 * state, not this stream's); ts_ns: its time (0: now). */
static void inbound(ne_js *js, ne_js_stream *st, const ne_msg *msg, bool copy, uint64_t ts_ns)
{
    ne_slice reply = msg->reply;
    ne_slice subject = msg->subject;
    bool can_respond = !st->cfg.no_ack && reply.len > 0;
    uint32_t data_len = msg->total_len - msg->hdr_len;
    if (st->cfg.sealed) {
        reply_error(js, st, reply, reply.len > 0, NE_JS_ERR_STREAM_SEALED, NULL);
        return;
    }
    _Static_assert(NE_JS_INBOUND_HDR_BYTES <= sizeof(((ne_js *)0)->scratch), "header copy room");
    const uint8_t *hdr = NULL;
    if (!inbound_headers(msg, js->scratch, NE_JS_INBOUND_HDR_BYTES, &hdr)) {
        reply_error(js, st, reply, can_respond, NE_JS_ERR_STREAM_HEADER_EXCEEDS_MAX, NULL);
        return;
    }
    uint32_t hdr_len = msg->hdr_len;
    ne_slice msg_id = {"", 0};
    bool rollup_sub = false, rollup_all = false;
    char arg[160];
    if (hdr_len > 0) {
        ne_slice v;
        if (!copy && ne_js_hdr_get(hdr, hdr_len, "Nats-Expected-Stream", &v) && v.len > 0 &&
            !ne_slice_eq(v, ne_js_text_get(js, st->cfg.name).ptr,
                         ne_js_text_get(js, st->cfg.name).len)) {
            reply_error(js, st, reply, can_respond, NE_JS_ERR_STREAM_NOT_MATCH, NULL);
            return;
        }
        if (ne_js_hdr_get(hdr, hdr_len, "Nats-Msg-Id", &msg_id) && msg_id.len > 0) {
            if (msg_id.len >= NE_JS_MSG_ID_BYTES) {
                reply_error(js, st, reply, can_respond, NE_JS_ERR_BAD_REQUEST, NULL);
                return;
            }
            ne_js_msgid *dup = msgid_find(js, st, msg_id);
            if (dup != NULL) {
                if (can_respond) {
                    puback p;
                    memset(&p, 0, sizeof(p));
                    p.seq = dup->seq;
                    p.duplicate = 1;
                    p.respond = 1;
                    queue_puback(js, st, reply, &p, NULL);
                }
                return;
            }
        }
        uint64_t want = 0;
        if (!copy && ne_js_hdr_get(hdr, hdr_len, "Nats-Expected-Last-Subject-Sequence", &v) &&
            parse_seq(v, &want)) {
            ne_js_subject_state ss;
            uint64_t last =
                st->store.ops->subject_state(&st->store, subject, &ss) == NE_OK ? ss.last_seq : 0;
            if (last != want) {
                ne_fmt(arg, sizeof(arg), "%llu", (unsigned long long)last);
                reply_error(js, st, reply, can_respond, NE_JS_ERR_STREAM_WRONG_LAST_SEQUENCE, arg);
                return;
            }
        }
        if (!copy && ne_js_hdr_get(hdr, hdr_len, "Nats-Expected-Last-Sequence", &v) &&
            parse_seq(v, &want) && want != st->store.state.last_seq) {
            ne_fmt(arg, sizeof(arg), "%llu", (unsigned long long)st->store.state.last_seq);
            reply_error(js, st, reply, can_respond, NE_JS_ERR_STREAM_WRONG_LAST_SEQUENCE, arg);
            return;
        }
        if (!copy && ne_js_hdr_get(hdr, hdr_len, "Nats-Expected-Last-Msg-Id", &v) && v.len > 0 &&
            !ne_slice_eq(v, ne_js_text_get(js, st->last_msg_id).ptr,
                         ne_js_text_get(js, st->last_msg_id).len)) {
            ne_slice last = ne_js_text_get(js, st->last_msg_id);
            ne_fmt(arg, sizeof(arg), "%.*s", (int)NE_MIN(last.len, (size_t)150), last.ptr);
            reply_error(js, st, reply, can_respond, NE_JS_ERR_STREAM_WRONG_LAST_MSG_ID, arg);
            return;
        }
        if (ne_js_hdr_get(hdr, hdr_len, "Nats-Rollup", &v) && v.len > 0) {
            if (!st->cfg.allow_rollup || st->cfg.deny_purge) {
                reply_error(js, st, reply, can_respond, NE_JS_ERR_STREAM_ROLLUP_FAILED,
                            "rollup not permitted");
                return;
            }
            if (ne_slice_eq(v, "sub", 3)) {
                rollup_sub = true;
            } else if (ne_slice_eq(v, "all", 3)) {
                rollup_all = true;
            } else {
                return; /* nats-server drops it without an answer */
            }
        }
    }
    if (st->cfg.max_msg_size >= 0 &&
        (uint64_t)hdr_len + data_len > (uint64_t)st->cfg.max_msg_size) {
        reply_error(js, st, reply, can_respond, NE_JS_ERR_STREAM_MESSAGE_EXCEEDS_MAX, NULL);
        return;
    }
    if (hdr_len > UINT16_MAX) {
        reply_error(js, st, reply, can_respond, NE_JS_ERR_STREAM_HEADER_EXCEEDS_MAX, NULL);
        return;
    }
    ne_js_account *a = st->acc;
    bool memory = st->cfg.storage == NE_JS_STORAGE_MEMORY;
    uint64_t server_used = 0;
    for (uint32_t i = 0; i < js->account_count; i++) {
        server_used += ne_js_account_usage(&js->accounts[i], st->cfg.storage);
    }
    if (server_used > (memory ? js->max_memory : js->max_store)) {
        js->stats.stores_refused++;
        refused_for_room(js, st);
        reply_error(js, st, reply, can_respond, NE_JS_ERR_INSUFFICIENT_RESOURCES, NULL);
        return;
    }
    if (msg_id.len > 0 && !ne_js_text_room(js, msg_id.len, st->last_msg_id)) {
        js->stats.stores_refused++;
        ne_log_warn(js->conns->log,
                    "JetStream stream \"%s\": no text slot for its last message id: raise "
                    "NE_JS_SHORT_TEXT_SLOTS or NE_JS_TEXT_SLOTS",
                    ne_js_stream_name(js, st));
        reply_error(js, st, reply, can_respond, NE_JS_ERR_INSUFFICIENT_RESOURCES, NULL);
        return;
    }
    uint64_t now = copy && ts_ns > 0 ? ts_ns : ne_js_now_ns();
    uint64_t mono = ne_js_mono_ns(js);
    if (no_interest(js, st, subject)) {
        uint64_t seq = st->store.state.last_seq + 1;
        (void)st->store.ops->skip_to(&st->store, seq + 1);
        set_last_msg_id(js, st, msg_id);
        if (msg_id.len > 0) {
            (void)msgid_store(js, st, msg_id, seq, mono);
        }
        if (can_respond) {
            puback p;
            memset(&p, 0, sizeof(p));
            p.seq = seq;
            p.respond = 1;
            queue_puback(js, st, reply, &p, NULL);
        }
        return;
    }
    const char *refusal = discard_new_refusal(st, subject, (uint64_t)hdr_len + data_len);
    if (refusal != NULL) {
        refused_for_room(js, st);
        reply_error(js, st, reply, can_respond, NE_JS_ERR_STREAM_STORE_FAILED, refusal);
        return;
    }
    /* The subject's last message before this one: republish's
     * Nats-Last-Sequence, and last-per-subject consumers; looked up (a
     * filtered query of the store) only when one of them is there. */
    ne_js_subject_state prev;
    uint64_t prev_last = 0;
    if (needs_prev_last(st) && st->store.ops->subject_state(&st->store, subject, &prev) == NE_OK) {
        prev_last = prev.last_seq;
    }
    ne_js_msg_in in;
    memset(&in, 0, sizeof(in));
    in.subject = subject;
    in.hdr = hdr;
    in.hdr_len = hdr_len;
    in.data_len = data_len;
    chain_reader cr = {msg};
    if (msg->chain == NULL) {
        in.data = msg->data + hdr_len;
    } else {
        in.read_at = read_chain;
        in.read_ctx = &cr;
    }
    if (msg_id.len > 0 && ne_pool_available(&js->msgid_pool) == 0 &&
        msgid_take(js, st, mono) == NULL) {
        js->stats.stores_refused++;
        ne_log_warn(js->conns->log,
                    "JetStream message ids exhausted (%u within their windows): raise "
                    "NE_JS_MAX_MSG_IDS",
                    (unsigned)NE_JS_MAX_MSG_IDS);
        reply_error(js, st, reply, can_respond, NE_JS_ERR_INSUFFICIENT_RESOURCES, NULL);
        return;
    }
    uint64_t before = st->store.state.bytes;
    uint64_t seq = 0;
    int rc = st->store.ops->append(&st->store, &in, now, &seq);
    if (rc != NE_OK) {
        js->stats.stores_refused++;
        if (rc == NE_ERR_NOMEM) {
            refused_for_room(js, st);
        }
        ne_log_warn(js->conns->log,
                    "JetStream stream \"%s\" cannot store a message: %s (NE_JS_MEM_BLOCKS, "
                    "NE_JS_MAX_SUBJECTS)",
                    ne_js_stream_name(js, st), ne_err_name(rc));
        reply_error(js, st, reply, can_respond,
                    rc == NE_ERR_NOMEM ? NE_JS_ERR_INSUFFICIENT_RESOURCES
                                       : NE_JS_ERR_STREAM_STORE_FAILED,
                    rc == NE_ERR_NOMEM ? NULL : "message to large");
        return;
    }
    usage_delta(st, before);
    /* The account's own limit, checked after the store as nats-server does. */
    int64_t account_max = memory ? a->limits.max_memory : a->limits.max_store;
    if (account_max >= 0 && (int64_t)ne_js_account_usage(a, st->cfg.storage) > account_max) {
        before = st->store.state.bytes;
        (void)st->store.ops->remove(&st->store, seq, false);
        usage_delta(st, before);
        refused_for_room(js, st);
        reply_error(js, st, reply, can_respond, NE_JS_ERR_ACCOUNT_RESOURCES_EXCEEDED, NULL);
        return;
    }
    set_last_msg_id(js, st, msg_id);
    if (msg_id.len > 0 && st->cfg.duplicate_window_ns > 0) {
        (void)msgid_store(js, st, msg_id, seq, mono);
    }
    /* Consumers hear of it before the limits make room. */
    uint32_t guard = 0;
    for (ne_js_consumer *c = st->consumers; c != NULL && guard++ < NE_JS_MAX_CONSUMERS;
         c = c->next) {
        ne_js_consumer_appended(js, c, seq, subject, prev_last);
    }
    enforce_per_subject(js, st, subject);
    enforce_limits(js, st);
    if (rollup_sub || rollup_all) {
        uint64_t purged = 0;
        ne_js_error ignored;
        (void)ne_js_stream_purge(js, st, rollup_sub ? subject : (ne_slice){"", 0}, 0, 1, &purged,
                                 &ignored);
    }
    bool republish = st->cfg.republish_dest != NE_JS_NO_TEXT;
    if (republish) {
        ne_slice src = ne_js_text_get(js, st->cfg.republish_src);
        republish = ne_subject_matches(src.ptr, src.len, subject.ptr, subject.len);
    }
    if (can_respond || republish) {
        puback p;
        memset(&p, 0, sizeof(p));
        p.seq = seq;
        p.respond = can_respond ? 1 : 0;
        p.republish = republish ? 1 : 0;
        p.last_of_subject = prev_last;
        queue_puback(js, st, can_respond ? reply : (ne_slice){"", 0}, &p, NULL);
    }
    st->has_new = true;
    if (st->consumers != NULL) {
        ne_js_wake(js, a);
    }
}

/* ---- Acknowledgements -------------------------------------------------------------------------
 */

typedef struct ack_doc {
    ne_slice stream;
    const puback *p;
    const char *arg;
} ack_doc;

static void write_ack_error(ne_js *js, ne_json_out *o, const void *arg)
{
    const ack_doc *d = arg;
    ne_js_error e;
    e.err = (ne_js_err)d->p->err;
    ne_fmt(e.arg, sizeof(e.arg), "%.*s", (int)d->p->arg_len, d->arg);
    ne_json_begin_object(o);
    ne_js_write_error(o, &e);
    ne_json_key(o, "stream");
    ne_json_string(o, d->stream.ptr, d->stream.len);
    ne_json_kv_u64(o, "seq", 0);
    ne_json_end_object(o);
}

/* nats-server's ack text, spacing included: {"stream":"S", "seq":N}. */
static void send_ack(ne_js *js, ne_js_account *a, ne_slice reply, ne_slice stream, const puback *p)
{
    char text[NE_JS_NAME_BYTES + NE_JS_DOMAIN_BYTES + 96];
    ne_strbuf sb;
    ne_strbuf_init(&sb, text, sizeof(text));
    ne_strbuf_puts(&sb, "{\"stream\":");
    ne_strbuf_json_string(&sb, stream.ptr, stream.len);
    if (js->opts->js.domain[0] != '\0') {
        ne_strbuf_puts(&sb, ", \"domain\":");
        ne_strbuf_json_string(&sb, js->opts->js.domain, strlen(js->opts->js.domain));
    }
    ne_strbuf_append(&sb, ", \"seq\":", sizeof(", \"seq\":") - 1);
    ne_strbuf_u64(&sb, p->seq);
    if (p->duplicate) {
        ne_strbuf_puts(&sb, ",\"duplicate\": true");
    }
    ne_strbuf_putc(&sb, '}');
    NE_ASSERT(!sb.truncated);
    (void)ne_js_send(js, a, reply, (ne_slice){"", 0}, NULL, 0, (const uint8_t *)text,
                     (uint32_t)sb.len);
}

/* Republishes a stored message to the stream's destination, with
 * nats-server's Nats-Stream, Nats-Subject, Nats-Sequence and
 * Nats-Last-Sequence headers. */
static void republish(ne_js *js, ne_js_stream *st, const puback *p)
{
    ne_js_msg_info info;
    memset(&info, 0, sizeof(info));
    info.subject = js->subject;
    info.subject_cap = sizeof(js->subject);
    if (st->store.ops->info(&st->store, p->seq, &info) != NE_OK) {
        return; /* already gone */
    }
    ne_slice src = ne_js_text_get(js, st->cfg.republish_src);
    ne_slice dest = ne_js_text_get(js, st->cfg.republish_dest);
    char to[NE_MAX_CONTROL_LINE_BYTES + 1];
    size_t n = ne_account_map_subject(src.ptr, src.len, dest.ptr, dest.len, info.subject,
                                      info.subject_len, to, sizeof(to));
    if (n == 0) {
        return;
    }
    char extra[NE_JS_NAME_BYTES + NE_MAX_CONTROL_LINE_BYTES + 128];
    size_t e = ne_fmt(extra, sizeof(extra),
                      "Nats-Stream: %s\r\nNats-Subject: %.*s\r\nNats-Sequence: %llu\r\n"
                      "Nats-Last-Sequence: %llu\r\n",
                      ne_js_stream_name(js, st), (int)info.subject_len, info.subject,
                      (unsigned long long)p->seq, (unsigned long long)p->last_of_subject);
    if (e > 0 && st->cfg.republish_headers_only) {
        e += ne_fmt(extra + e, sizeof(extra) - e, "Nats-Msg-Size: %u\r\n", (unsigned)info.data_len);
    }
    if (e == 0) {
        return;
    }
    uint32_t bytes = 0;
    (void)ne_js_send_stored(js, st->acc, st, &info, (ne_slice){to, (uint32_t)n}, (ne_slice){"", 0},
                            (ne_slice){"", 0}, extra, (uint32_t)e, st->cfg.republish_headers_only,
                            &bytes);
}

void ne_js_stream_inbound(ne_js *js, ne_js_stream *st, const ne_msg *msg)
{
    inbound(js, st, msg, false, 0);
}

void ne_js_stream_copy_in(ne_js *js, ne_js_stream *st, const ne_msg *msg, uint64_t ts_ns)
{
    inbound(js, st, msg, true, ts_ns);
}

void ne_js_stream_puback(ne_js *js, ne_js_account *a, ne_slice reply, const uint8_t *body,
                         uint32_t len)
{
    puback p;
    NE_ASSERT(len >= sizeof(p));
    memcpy(&p, body, sizeof(p));
    NE_ASSERT(len == sizeof(p) + p.name_len + p.arg_len);
    ne_slice name = {(const char *)body + sizeof(p), p.name_len};
    const char *arg = (const char *)body + sizeof(p) + p.name_len;
    if (p.republish) {
        ne_js_stream *st = ne_js_stream_find(a, name);
        if (st != NULL) {
            republish(js, st, &p);
        }
    }
    if (!p.respond || reply.len == 0) {
        return;
    }
    /* What is acknowledged is durable first (one sync for the turn). */
    if (!ne_js_file_sync(js) && p.err == NE_JS_OK) {
        p.err = NE_JS_ERR_INSUFFICIENT_RESOURCES;
    }
    if (p.err != NE_JS_OK) {
        ack_doc d = {name, &p, arg};
        (void)ne_js_send_json(js, a, reply, write_ack_error, &d);
        return;
    }
    send_ack(js, a, reply, name, &p);
}

/* ---- Purge -------------------------------------------------------------------------------------
 */

/* Removes every message below seq (nats-server's Compact); beyond the
 * last one, the next message gets seq. */
static uint64_t compact(ne_js *js, ne_js_stream *st, uint64_t seq)
{
    ne_js_store *store = &st->store;
    uint64_t purged = 0;
    uint64_t guard = 0;
    uint64_t msgs = store->state.msgs;
    while (store->state.msgs > 0 && store->state.first_seq < seq && guard++ <= msgs) {
        if (ne_js_stream_remove(js, st, store->state.first_seq, false) != NE_OK) {
            break;
        }
        purged++;
    }
    if (seq > store->state.last_seq + 1) {
        (void)store->ops->skip_to(store, seq);
    }
    return purged;
}

/* nats-server's PurgeEx: without a filter, everything, below seq, or all
 * but the newest keep (by sequence); with one, the oldest matching
 * messages (below seq) until keep of them remain. */
static bool purge(ne_js *js, ne_js_stream *st, ne_slice filter, uint64_t seq, uint64_t keep,
                  uint64_t *purged, ne_js_error *e);

/* A purge moves the consumers past what it removed (nats-server's
 * consumer purge). */
bool ne_js_stream_purge(ne_js *js, ne_js_stream *st, ne_slice filter, uint64_t seq, uint64_t keep,
                        uint64_t *purged, ne_js_error *e)
{
    if (!purge(js, st, filter, seq, keep, purged, e)) {
        return false;
    }
    uint64_t first =
        st->store.state.msgs > 0 ? st->store.state.first_seq : st->store.state.last_seq + 1;
    uint32_t guard = 0;
    for (ne_js_consumer *c = st->consumers; c != NULL && guard++ < NE_JS_MAX_CONSUMERS;
         c = c->next) {
        ne_js_consumer_purged(js, c, first);
    }
    return true;
}

static bool purge(ne_js *js, ne_js_stream *st, ne_slice filter, uint64_t seq, uint64_t keep,
                  uint64_t *purged, ne_js_error *e)
{
    *purged = 0;
    if (seq > 1 && keep > 0) {
        ne_js_error_set(e, NE_JS_ERR_STREAM_PURGE_FAILED, "%s",
                        "sequence > 1 && keep > 0 not allowed");
        return false;
    }
    ne_js_store *store = &st->store;
    bool all = filter.len == 0 || (filter.len == 1 && filter.ptr[0] == '>');
    if (all) {
        if (keep == 0 && seq <= 1) {
            *purged = compact(js, st, store->state.last_seq + 1);
        } else if (seq > 1) {
            *purged = compact(js, st, seq);
        } else if (keep < store->state.msgs) {
            *purged = compact(js, st, store->state.last_seq - keep + 1);
        }
        return true;
    }
    ne_js_subject_state fs;
    store->ops->filtered(store, filter, 1, &fs);
    if (fs.msgs == 0 || keep >= fs.msgs) {
        return true;
    }
    uint64_t target = fs.msgs - keep;
    uint64_t last = seq > 0 ? seq - 1 : fs.last_seq;
    ne_js_msg_info info;
    memset(&info, 0, sizeof(info));
    uint64_t from = fs.first_seq;
    uint64_t guard = 0;
    while (*purged < target && guard++ <= fs.msgs &&
           store->ops->next(store, from, filter, &info) == NE_OK && info.seq <= last) {
        from = info.seq + 1;
        if (ne_js_stream_remove(js, st, info.seq, false) == NE_OK) {
            (*purged)++;
        }
    }
    return true;
}

/* ---- Timers and retention ----------------------------------------------------------------------
 */

void ne_js_stream_tick(ne_js *js, ne_js_stream *st, uint64_t wall_ns, uint64_t mono_ns)
{
    uint64_t now_ns = wall_ns;
    msgids_expire(js, st, mono_ns);
    if (st->cfg.max_age_ns <= 0) {
        return;
    }
    uint64_t age = (uint64_t)st->cfg.max_age_ns;
    uint64_t guard = 0;
    uint64_t msgs = st->store.state.msgs;
    while (st->store.state.msgs > 0 && guard++ <= msgs) {
        if (st->store.state.first_ts_ns + age > now_ns) {
            break;
        }
        remove_first(js, st);
    }
}

void ne_js_stream_check_interest(ne_js *js, ne_js_stream *st, uint64_t seq)
{
    if (st->cfg.retention == NE_JS_RETENTION_LIMITS) {
        return;
    }
    ne_js_msg_info info;
    memset(&info, 0, sizeof(info));
    char subject[NE_MAX_CONTROL_LINE_BYTES + 1];
    info.subject = subject;
    info.subject_cap = sizeof(subject);
    if (st->store.ops->info(&st->store, seq, &info) != NE_OK) {
        return;
    }
    ne_slice subj = {subject, info.subject_len};
    uint32_t guard = 0;
    for (const ne_js_consumer *c = st->consumers; c != NULL && guard++ < NE_JS_MAX_CONSUMERS;
         c = c->next) {
        if (ne_js_consumer_needs(c, seq, subj, js)) {
            return;
        }
    }
    (void)ne_js_stream_remove(js, st, seq, false);
}

void ne_js_stream_check_all_interest(ne_js *js, ne_js_stream *st)
{
    if (st->cfg.retention == NE_JS_RETENTION_LIMITS) {
        return;
    }
    uint64_t seq = st->store.state.first_seq;
    uint64_t guard = 0;
    uint64_t msgs = st->store.state.msgs;
    ne_js_msg_info info;
    memset(&info, 0, sizeof(info));
    while (guard++ <= msgs &&
           st->store.ops->next(&st->store, seq, (ne_slice){"", 0}, &info) == NE_OK) {
        seq = info.seq + 1;
        ne_js_stream_check_interest(js, st, info.seq);
    }
}

typedef struct subject_member {
    ne_json_out *o;
    uint64_t index;
    uint64_t offset;
    uint64_t written;
    uint64_t limit;
} subject_member;

static bool write_subject_member(void *ctx, ne_slice subject, const ne_js_subject_state *ss)
{
    subject_member *m = ctx;
    if (m->index++ < m->offset) {
        return true;
    }
    if (m->written >= m->limit) {
        return false;
    }
    char key[NE_MAX_CONTROL_LINE_BYTES + 1];
    if (subject.len >= sizeof(key)) {
        return true;
    }
    memcpy(key, subject.ptr, subject.len);
    key[subject.len] = '\0';
    ne_json_kv_u64(m->o, key, ss->msgs);
    m->written++;
    return true;
}

/* The interior gaps of the stream: sequences between its first and last
 * message that are gone. */
static void write_deleted(ne_json_out *o, ne_js_stream *st)
{
    ne_js_store *store = &st->store;
    ne_js_msg_info info;
    memset(&info, 0, sizeof(info));
    uint64_t expect = store->state.first_seq;
    uint64_t guard = 0;
    uint64_t msgs = store->state.msgs;
    ne_json_key(o, "deleted");
    ne_json_begin_array(o);
    while (guard++ <= msgs && store->ops->next(store, expect, (ne_slice){"", 0}, &info) == NE_OK) {
        for (uint64_t s = expect; s < info.seq; s++) {
            ne_json_u64(o, s);
        }
        expect = info.seq + 1;
    }
    ne_json_end_array(o);
}

void ne_js_stream_write_state(const ne_js *js, ne_json_out *o, const ne_js_stream *st)
{
    ne_js_state_options none = {{"", 0}, 0, 0, false};
    ne_js_stream_write_state_with(js, o, (ne_js_stream *)st, &none);
}

void ne_js_stream_write_state_with(const ne_js *js, ne_json_out *o, ne_js_stream *st,
                                   const ne_js_state_options *opt)
{
    const ne_js_store_state *s = &st->store.state;
    ne_json_key(o, "state");
    ne_json_begin_object(o);
    ne_json_kv_u64(o, "messages", s->msgs);
    ne_json_kv_u64(o, "bytes", s->bytes);
    ne_json_kv_u64(o, "first_seq", s->first_seq);
    ne_js_write_time(o, "first_ts", s->msgs > 0 ? s->first_ts_ns : 0);
    ne_json_kv_u64(o, "last_seq", s->last_seq);
    ne_js_write_time(o, "last_ts", s->last_ts_ns);
    if (s->num_subjects > 0) {
        ne_json_kv_u64(o, "num_subjects", s->num_subjects);
    }
    if (opt->subjects_filter.len > 0 && opt->limit > 0) {
        ne_json_key(o, "subjects");
        ne_json_begin_object(o);
        subject_member m = {o, 0, opt->offset, 0, opt->limit};
        st->store.ops->each_subject(&st->store, opt->subjects_filter, write_subject_member, &m);
        ne_json_end_object(o);
    }
    uint64_t span = s->msgs > 0 ? s->last_seq - s->first_seq + 1 : 0;
    if (span > s->msgs) {
        ne_json_kv_u64(o, "num_deleted", span - s->msgs);
        if (opt->deleted_details) {
            write_deleted(o, st);
        }
    }
    ne_json_kv_u64(o, "consumer_count", ne_js_public_consumers(st));
    ne_json_end_object(o);
}

#endif /* NE_FEATURE_JETSTREAM */
