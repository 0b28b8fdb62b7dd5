/* The $JS.API (ne_js_int.h): requests handled at the end of the loop turn,
 * answered with nats-server 2.9.10's response types, fields and errors
 * (inventory JS-01..JS-15). */
#include "js/ne_js_int.h"

#if NE_FEATURE_JETSTREAM

#include <string.h>

#include "core/ne_assert.h"
#include "core/ne_error.h"
#include "core/ne_fmt.h"
#include "core/ne_subject.h"
#include "core/ne_time.h"

/* nats-server's page sizes (JSApiNamesLimit, JSApiListLimit,
 * JSMaxSubjectDetails). */
#define NAMES_LIMIT 1024u
#define LIST_LIMIT 256u
#define SUBJECT_DETAILS_LIMIT 100000u

/* One API call: what the handler found, and how its answer is written. */
typedef struct api_call {
    ne_js *js;
    ne_js_account *a;
    ne_slice reply;
    ne_slice body;
    const char *type; /* the response type's last part: "stream_info" */
    bool paged;       /* total/offset/limit written with an error too */
    const char *list; /* names/list: the list's key (null with an error) */
    ne_js_error err;
    void (*fields)(struct api_call *c, ne_json_out *o); /* the answer's fields */
    ne_js_stream *st;
    ne_js_consumer *con;
    bool did_create;
    uint64_t offset;
    uint64_t purged;
    ne_slice filter; /* names: streams with a subject colliding with it */
    ne_slice subjects_filter;
    uint64_t total;
    const ne_js_msg_info *info; /* STREAM.MSG.GET: the message found */
    bool deleted_details;
    bool cut; /* the body was larger than NE_JS_API_REQUEST_BYTES: not kept */
} api_call;

static void write_response(ne_js *js, ne_json_out *o, const void *arg)
{
    api_call *c = (api_call *)arg;
    char type[80];
    ne_fmt(type, sizeof(type), "io.nats.jetstream.api.v1.%s_response", c->type);
    ne_json_begin_object(o);
    ne_json_kv_string(o, "type", type);
    if (c->err.err != NE_JS_OK) {
        ne_js_write_error(o, &c->err);
        if (c->paged) {
            ne_json_kv_u64(o, "total", 0);
            ne_json_kv_u64(o, "offset", 0);
            ne_json_kv_u64(o, "limit", 0);
        }
        if (c->list != NULL) {
            /* nats-server starts each list empty but the stream names. */
            ne_json_kv_raw(o, c->list, strcmp(c->type, "stream_names") == 0 ? "null" : "[]");
        }
    } else if (c->fields != NULL) {
        c->fields(c, o);
    }
    ne_json_end_object(o);
}

/* Sends the answer (when the request had a reply), then counts it. */
static void respond(api_call *c)
{
    if (c->reply.len > 0) {
        (void)ne_js_send_json(c->js, c->a, c->reply, write_response, c);
    }
    c->a->api_total++;
    c->js->stats.api_total++;
    if (c->err.err != NE_JS_OK) {
        c->a->api_errors++;
        c->js->stats.api_errors++;
    }
}

static void fail(api_call *c, ne_js_err err)
{
    ne_js_error_set(&c->err, err, "%s", "");
    respond(c);
}

/* The n-th dot-separated token of s (0 first), len 0 when absent. */
static ne_slice token(ne_slice s, uint32_t n)
{
    uint32_t start = 0;
    for (uint32_t i = 0; i <= s.len; i++) {
        if (i == s.len || s.ptr[i] == '.') {
            if (n == 0) {
                return (ne_slice){s.ptr + start, i - start};
            }
            n--;
            start = i + 1;
        }
    }
    return (ne_slice){"", 0};
}

/* The rest of s after its first n tokens. */
static ne_slice after_tokens(ne_slice s, uint32_t n)
{
    uint32_t i = 0;
    for (; i < s.len && n > 0; i++) {
        if (s.ptr[i] == '.') {
            n--;
        }
    }
    return n == 0 ? (ne_slice){s.ptr + i, s.len - i} : (ne_slice){"", 0};
}

static uint32_t token_count(ne_slice s)
{
    return (uint32_t)ne_subject_token_count(s.ptr, s.len);
}

/* nats-server's isEmptyRequest: nothing, {}, or an empty object. */
static bool empty_request(api_call *c)
{
    ne_js *js = c->js;
    ne_slice body = c->body;
    if (c->cut) {
        return false;
    }
    uint32_t i = 0;
    while (i < body.len && (body.ptr[i] == ' ' || body.ptr[i] == '\t' || body.ptr[i] == '\r' ||
                            body.ptr[i] == '\n')) {
        i++;
    }
    if (i == body.len) {
        return body.len == 0;
    }
    if (ne_json_parse(&js->doc, body.ptr, body.len) != NE_OK) {
        return false;
    }
    return js->doc.tokens[0].type == JSMN_OBJECT && js->doc.tokens[0].size == 0;
}

/* body without the white space around it is `null`: Go decodes it into a
 * request's struct as nothing, so it reads as {} (it is not an empty
 * request, though: isEmptyRequest wants an object). */
static bool is_null(ne_slice body)
{
    uint32_t s = 0, e = body.len;
    while (s < e && (body.ptr[s] == ' ' || body.ptr[s] == '\t' || body.ptr[s] == '\r' ||
                     body.ptr[s] == '\n')) {
        s++;
    }
    while (e > s && (body.ptr[e - 1] == ' ' || body.ptr[e - 1] == '\t' || body.ptr[e - 1] == '\r' ||
                     body.ptr[e - 1] == '\n')) {
        e--;
    }
    return e - s == 4 && memcmp(body.ptr + s, "null", 4) == 0;
}

/* Parses the body into js->doc: false (and the error answered) when it is
 * not one JSON value, or was larger than NE_JS_API_REQUEST_BYTES (cut). */
static bool parse_body(api_call *c)
{
    if (c->cut) {
        fail(c, NE_JS_ERR_BAD_REQUEST);
        return false;
    }
    if (is_null(c->body)) {
        c->body = (ne_slice){"{}", 2};
    }
    int rc = ne_json_parse(&c->js->doc, c->body.ptr, c->body.len);
    if (rc != NE_OK) {
        fail(c, rc == NE_ERR_TOO_BIG ? NE_JS_ERR_BAD_REQUEST : NE_JS_ERR_INVALID_JSON);
        return false;
    }
    return true;
}

/* Reads an optional integer key of the body's object (Go's decoding:
 * another type refuses the document). */
static bool body_u64(api_call *c, int obj, const char *key, uint64_t *out)
{
    const ne_json_doc *doc = &c->js->doc;
    int i = ne_json_find(doc, obj, key);
    if (i < 0 || (doc->tokens[i].type == JSMN_PRIMITIVE && ne_json_token_eq(doc, i, "null"))) {
        return true;
    }
    int64_t v = 0;
    if (!ne_json_token_i64(doc, i, &v) || v < 0) {
        return false;
    }
    *out = (uint64_t)v;
    return true;
}

/* An optional key nats-server decodes into a uint64 (a sequence, keep). */
static bool body_seq(api_call *c, int obj, const char *key, uint64_t *out)
{
    const ne_json_doc *doc = &c->js->doc;
    int i = ne_json_find(doc, obj, key);
    if (i < 0 || (doc->tokens[i].type == JSMN_PRIMITIVE && ne_json_token_eq(doc, i, "null"))) {
        return true;
    }
    return ne_json_token_u64(doc, i, out);
}

static bool body_bool(api_call *c, int obj, const char *key, bool *out)
{
    return ne_json_check(&c->js->doc, obj, key, NE_JSON_BOOL) == NE_OK &&
           (ne_json_get_bool(&c->js->doc, obj, key, out), true);
}

/* An optional string key into buf: false for a wrong type or one too long. */
static bool body_string(api_call *c, int obj, const char *key, char *buf, size_t cap, size_t *len)
{
    const ne_json_doc *doc = &c->js->doc;
    *len = 0;
    buf[0] = '\0';
    if (ne_json_check(doc, obj, key, NE_JSON_STRING) != NE_OK) {
        return false;
    }
    int i = ne_json_find(doc, obj, key);
    if (i < 0 || doc->tokens[i].type != JSMN_STRING) {
        return true;
    }
    return ne_json_token_string(doc, i, buf, cap, len);
}

/* ---- INFO ------------------------------------------------------------------------------- */

static void write_limits(ne_json_out *o, const ne_js_account_limits *l)
{
    ne_json_key(o, "limits");
    ne_json_begin_object(o);
    ne_json_kv_i64(o, "max_memory", l->max_memory);
    ne_json_kv_i64(o, "max_storage", l->max_store);
    ne_json_kv_i64(o, "max_streams", l->max_streams);
    ne_json_kv_i64(o, "max_consumers", l->max_consumers);
    ne_json_kv_i64(o, "max_ack_pending", l->max_ack_pending);
    ne_json_kv_i64(o, "memory_max_stream_bytes", l->memory_max_stream_bytes);
    ne_json_kv_i64(o, "storage_max_stream_bytes", l->store_max_stream_bytes);
    ne_json_kv_bool(o, "max_bytes_required", l->max_bytes_required);
    ne_json_end_object(o);
}

static void info_fields(api_call *c, ne_json_out *o)
{
    ne_js_account *a = c->a;
    ne_json_kv_u64(o, "memory", a->memory_bytes);
    ne_json_kv_u64(o, "storage", a->store_bytes);
    ne_json_kv_u64(o, "streams", a->stream_count);
    ne_json_kv_u64(o, "consumers", a->consumer_count);
    write_limits(o, &a->limits);
    if (c->js->opts->js.domain[0] != '\0') {
        ne_json_kv_string(o, "domain", c->js->opts->js.domain);
    }
    ne_json_key(o, "api");
    ne_json_begin_object(o);
    ne_json_kv_u64(o, "total", a->api_total);
    ne_json_kv_u64(o, "errors", a->api_errors);
    ne_json_end_object(o);
}

/* Counted once answered, as nats-server counts: the answer shows the
 * requests before it. */
static void api_info(api_call *c)
{
    c->type = "account_info";
    c->fields = info_fields;
    respond(c);
}

/* ---- Streams ------------------------------------------------------------------------------- */

typedef struct subject_count {
    uint64_t n;
} subject_count;

static bool count_subject(void *ctx, ne_slice subject, const ne_js_subject_state *ss)
{
    ((subject_count *)ctx)->n++;
    return true;
}

/* StreamInfo: config, created, state (with the subjects map and the
 * deleted sequences when asked). */
static void write_stream_info(api_call *c, ne_json_out *o, ne_js_stream *st, bool with_details)
{
    ne_js *js = c->js;
    ne_json_key(o, "config");
    ne_js_stream_cfg_write(js, o, &st->cfg);
    ne_js_write_time(o, "created", st->created_ns);
    ne_js_state_options opt = {{"", 0}, 0, 0, false};
    if (with_details) {
        opt.subjects_filter = c->subjects_filter;
        opt.offset = c->offset;
        opt.limit = c->total > c->offset ? SUBJECT_DETAILS_LIMIT : 0;
        opt.deleted_details = c->deleted_details;
    }
    ne_js_stream_write_state_with(js, o, st, &opt);
    if (js->opts->js.domain[0] != '\0') {
        ne_json_kv_string(o, "domain", js->opts->js.domain);
    }
    ne_js_source_write_info(js, o, st);
}

static void stream_info_fields(api_call *c, ne_json_out *o)
{
    write_stream_info(c, o, c->st, false);
}

static void stream_create_fields(api_call *c, ne_json_out *o)
{
    write_stream_info(c, o, c->st, false);
    ne_json_kv_bool(o, "did_create", c->did_create);
}

static void stream_info_paged_fields(api_call *c, ne_json_out *o)
{
    bool subjects = c->subjects_filter.len > 0 && c->total > 0;
    ne_json_kv_u64(o, "total", subjects ? c->total : 0);
    ne_json_kv_u64(o, "offset", subjects ? NE_MIN(c->offset, c->total) : 0);
    ne_json_kv_u64(o, "limit", subjects ? SUBJECT_DETAILS_LIMIT : 0);
    write_stream_info(c, o, c->st, true);
}

/* STREAM.CREATE.<name> and STREAM.UPDATE.<name>. */
static void api_stream_create(api_call *c, ne_slice name, bool update)
{
    ne_js *js = c->js;
    c->type = update ? "stream_update" : "stream_create";
    if (!parse_body(c)) {
        return;
    }
    ne_js_stream_cfg *cfg = &js->stream_cfg;
    if (!ne_js_stream_cfg_parse(js, &js->doc, 0, cfg, &c->err)) {
        respond(c);
        return;
    }
    /* An update checks the configuration before its name (nats-server's
     * jsStreamUpdateRequest), a create the name first. */
    if (update && !ne_js_stream_cfg_check(js, c->a, cfg, &c->err)) {
        ne_js_stream_cfg_release(js, cfg);
        respond(c);
        return;
    }
    ne_slice cfg_name = ne_js_text_get(js, cfg->name);
    if (!ne_slice_eq(name, cfg_name.ptr, cfg_name.len)) {
        ne_js_stream_cfg_release(js, cfg);
        fail(c, NE_JS_ERR_STREAM_MISMATCH);
        return;
    }
    if (ne_js_has_path_separator(name.ptr, name.len)) {
        ne_js_stream_cfg_release(js, cfg);
        fail(c, NE_JS_ERR_STREAM_NAME_PATH_SEPARATORS);
        return;
    }
    if (!update && cfg->sealed) {
        ne_js_stream_cfg_release(js, cfg);
        ne_js_error_set(&c->err, NE_JS_ERR_STREAM_INVALID_CONFIG, "%s",
                        "stream configuration for create can not be sealed");
        respond(c);
        return;
    }
    if (cfg->mirror_direct && !cfg->mirror) {
        ne_js_stream_cfg_release(js, cfg);
        ne_js_error_set(&c->err, NE_JS_ERR_STREAM_INVALID_CONFIG, "%s",
                        "stream has no mirror but does have mirror direct");
        respond(c);
        return;
    }
    ne_js_stream *st = ne_js_stream_find(c->a, name);
    if (update && st == NULL) {
        ne_js_stream_cfg_release(js, cfg);
        fail(c, NE_JS_ERR_STREAM_NOT_FOUND);
        return;
    }
    if (!update && !ne_js_stream_cfg_check(js, c->a, cfg, &c->err)) {
        ne_js_stream_cfg_release(js, cfg);
        respond(c);
        return;
    }
    if (!update && st == NULL && !ne_js_stream_origins_check(js, c->a, cfg, &c->err)) {
        ne_js_stream_cfg_release(js, cfg);
        respond(c);
        return;
    }
    if (update) {
        bool ok = ne_js_stream_update(js, st, cfg, &c->err);
        ne_js_stream_cfg_release(js, cfg);
        if (!ok) {
            respond(c);
            return;
        }
        c->st = st;
        c->fields = stream_info_fields;
        respond(c);
        return;
    }
    if (st != NULL) {
        bool same = ne_js_stream_cfg_equal(js, &st->cfg, cfg);
        ne_js_stream_cfg_release(js, cfg);
        if (!same) {
            fail(c, NE_JS_ERR_STREAM_NAME_EXIST);
            return;
        }
    } else if (!ne_js_stream_create(js, c->a, cfg, &st, &c->err)) {
        ne_js_stream_cfg_release(js, cfg);
        respond(c);
        return;
    }
    c->st = st;
    c->did_create = true;
    c->fields = stream_create_fields;
    respond(c);
}

static void success_fields(api_call *c, ne_json_out *o)
{
    ne_json_kv_bool(o, "success", true);
}

static void api_stream_delete(api_call *c, ne_slice name)
{
    c->type = "stream_delete";
    if (!empty_request(c)) {
        fail(c, NE_JS_ERR_NOT_EMPTY_REQUEST);
        return;
    }
    ne_js_stream *st = ne_js_stream_find(c->a, name);
    if (st == NULL) {
        fail(c, NE_JS_ERR_STREAM_NOT_FOUND);
        return;
    }
    ne_js_stream_delete(c->js, st, true);
    c->fields = success_fields;
    respond(c);
}

static void api_stream_info(api_call *c, ne_slice name)
{
    ne_js *js = c->js;
    c->type = "stream_info";
    c->paged = true;
    char filter[NE_MAX_CONTROL_LINE_BYTES + 1];
    if (!empty_request(c)) {
        if (!parse_body(c)) {
            return;
        }
        size_t len = 0;
        uint64_t offset = 0;
        bool details = false;
        if (js->doc.tokens[0].type != JSMN_OBJECT ||
            !body_string(c, 0, "subjects_filter", filter, sizeof(filter), &len) ||
            !body_u64(c, 0, "offset", &offset) || !body_bool(c, 0, "deleted_details", &details)) {
            fail(c, NE_JS_ERR_INVALID_JSON);
            return;
        }
        c->subjects_filter = (ne_slice){filter, (uint32_t)len};
        c->offset = offset;
        c->deleted_details = details;
    }
    ne_js_stream *st = ne_js_stream_find(c->a, name);
    if (st == NULL) {
        fail(c, NE_JS_ERR_STREAM_NOT_FOUND);
        return;
    }
    c->st = st;
    if (c->subjects_filter.len > 0) {
        subject_count n = {0};
        st->store.ops->each_subject(&st->store, c->subjects_filter, count_subject, &n);
        c->total = n.n;
    }
    c->fields = stream_info_paged_fields;
    respond(c);
}

/* The account's streams in name order from offset, with a filter: the
 * one after `prev` (NULL: the first). */
static ne_js_stream *next_by_name(api_call *c, const ne_js_stream *prev)
{
    ne_js_stream *best = NULL;
    uint32_t guard = 0;
    for (ne_js_stream *st = c->a->streams; st != NULL && guard++ < NE_JS_MAX_STREAMS;
         st = st->next) {
        if (prev != NULL &&
            strcmp(ne_js_stream_name(c->js, st), ne_js_stream_name(c->js, prev)) <= 0) {
            continue;
        }
        if (c->filter.len > 0) {
            bool hit = false;
            for (uint8_t i = 0; i < st->cfg.subject_count && !hit; i++) {
                hit = ne_js_subjects_collide(c->filter, ne_js_text_get(c->js, st->cfg.subjects[i]));
            }
            if (!hit) {
                continue;
            }
        }
        if (best == NULL ||
            strcmp(ne_js_stream_name(c->js, st), ne_js_stream_name(c->js, best)) < 0) {
            best = st;
        }
    }
    return best;
}

static void stream_names_fields(api_call *c, ne_json_out *o)
{
    bool list = strcmp(c->type, "stream_list") == 0;
    uint64_t limit = list ? LIST_LIMIT : NAMES_LIMIT;
    ne_json_kv_u64(o, "total", c->total);
    ne_json_kv_u64(o, "offset", c->offset);
    ne_json_kv_u64(o, "limit", limit);
    if (!list && c->offset >= c->total) {
        ne_json_kv_raw(o, "streams", "null"); /* none appended: Go's nil slice */
        return;
    }
    ne_json_key(o, "streams");
    ne_json_begin_array(o);
    const ne_js_stream *st = NULL;
    uint64_t i = 0, written = 0;
    for (uint32_t guard = 0; guard < NE_JS_MAX_STREAMS; guard++) {
        st = next_by_name(c, st);
        if (st == NULL || written >= limit) {
            break;
        }
        if (i++ < c->offset) {
            continue;
        }
        written++;
        if (list) {
            ne_json_begin_object(o);
            write_stream_info(c, o, (ne_js_stream *)st, false);
            ne_json_end_object(o);
        } else {
            ne_json_cstring(o, ne_js_stream_name(c->js, st));
        }
    }
    ne_json_end_array(o);
}

/* STREAM.NAMES and STREAM.LIST: {"offset", "subject"}. */
static void api_stream_names(api_call *c, bool list)
{
    ne_js *js = c->js;
    c->type = list ? "stream_list" : "stream_names";
    c->paged = true;
    c->list = "streams";
    char filter[NE_MAX_CONTROL_LINE_BYTES + 1];
    if (!empty_request(c)) {
        if (!parse_body(c)) {
            return;
        }
        size_t len = 0;
        if (js->doc.tokens[0].type != JSMN_OBJECT || !body_u64(c, 0, "offset", &c->offset) ||
            !body_string(c, 0, "subject", filter, sizeof(filter), &len)) {
            fail(c, NE_JS_ERR_INVALID_JSON);
            return;
        }
        c->filter = (ne_slice){filter, (uint32_t)len};
    }
    const ne_js_stream *st = NULL;
    for (uint32_t guard = 0; guard < NE_JS_MAX_STREAMS; guard++) {
        st = next_by_name(c, st);
        if (st == NULL) {
            break;
        }
        c->total++;
    }
    if (c->offset > c->total) {
        c->offset = c->total;
    }
    c->fields = stream_names_fields;
    respond(c);
}

static void purge_fields(api_call *c, ne_json_out *o)
{
    ne_json_kv_bool(o, "success", true);
    ne_json_kv_u64(o, "purged", c->purged);
}

/* STREAM.PURGE.<name>: {"filter", "seq", "keep"}. */
static void api_stream_purge(api_call *c, ne_slice name)
{
    ne_js *js = c->js;
    c->type = "stream_purge";
    char filter[NE_MAX_CONTROL_LINE_BYTES + 1];
    size_t flen = 0;
    uint64_t seq = 0, keep = 0;
    if (!empty_request(c)) {
        if (!parse_body(c)) {
            return;
        }
        if (js->doc.tokens[0].type != JSMN_OBJECT ||
            !body_string(c, 0, "filter", filter, sizeof(filter), &flen) ||
            !body_seq(c, 0, "seq", &seq) || !body_seq(c, 0, "keep", &keep)) {
            fail(c, NE_JS_ERR_INVALID_JSON);
            return;
        }
        if (seq > 0 && keep > 0) {
            fail(c, NE_JS_ERR_BAD_REQUEST);
            return;
        }
    }
    ne_js_stream *st = ne_js_stream_find(c->a, name);
    if (st == NULL) {
        fail(c, NE_JS_ERR_STREAM_NOT_FOUND);
        return;
    }
    if (st->cfg.sealed) {
        fail(c, NE_JS_ERR_STREAM_SEALED);
        return;
    }
    if (st->cfg.deny_purge) {
        ne_js_error_set(&c->err, NE_JS_ERR_STREAM_PURGE_FAILED, "%s", "stream purge not permitted");
        respond(c);
        return;
    }
    if (!ne_js_stream_purge(js, st, (ne_slice){filter, (uint32_t)flen}, seq, keep, &c->purged,
                            &c->err)) {
        c->err.err = NE_JS_ERR_STREAM_GENERAL;
        respond(c);
        return;
    }
    ne_js_wake(js, c->a);
    c->fields = purge_fields;
    respond(c);
}

/* ---- Messages -------------------------------------------------------------------------- */

/* A message request: {"seq"} | {"last_by_subj"} | {"next_by_subj", "seq"}. */
typedef struct msg_request {
    uint64_t seq;
    char last_for[NE_MAX_CONTROL_LINE_BYTES + 1];
    size_t last_len;
    char next_for[NE_MAX_CONTROL_LINE_BYTES + 1];
    size_t next_len;
} msg_request;

static bool read_msg_request(api_call *c, msg_request *r)
{
    if (c->js->doc.tokens[0].type != JSMN_OBJECT) {
        return false;
    }
    return body_seq(c, 0, "seq", &r->seq) &&
           body_string(c, 0, "last_by_subj", r->last_for, sizeof(r->last_for), &r->last_len) &&
           body_string(c, 0, "next_by_subj", r->next_for, sizeof(r->next_for), &r->next_len);
}

static int find_msg(ne_js *js, ne_js_stream *st, const msg_request *r, ne_js_msg_info *info)
{
    memset(info, 0, sizeof(*info));
    info->subject = js->subject;
    info->subject_cap = sizeof(js->subject);
    ne_js_store *store = &st->store;
    if (r->seq > 0 && r->next_len == 0) {
        return store->ops->info(store, r->seq, info);
    }
    if (r->next_len > 0) {
        return store->ops->next(store, r->seq, (ne_slice){r->next_for, (uint32_t)r->next_len},
                                info);
    }
    return store->ops->last(store, (ne_slice){r->last_for, (uint32_t)r->last_len}, info);
}

typedef struct stored_reader {
    ne_js_store *store;
    uint64_t seq;
    uint32_t base;
} stored_reader;

static void read_stored(void *ctx, size_t offset, void *dst, size_t len)
{
    stored_reader *r = ctx;
    if (r->store->ops->read(r->store, r->seq, r->base + (uint32_t)offset, dst, (uint32_t)len) !=
        NE_OK) {
        memset(dst, 0, len);
    }
}

static void msg_get_fields(api_call *c, ne_json_out *o)
{
    ne_js_stream *st = c->st;
    const ne_js_msg_info *info = c->info;
    ne_json_key(o, "message");
    ne_json_begin_object(o);
    ne_json_key(o, "subject");
    ne_json_string(o, info->subject, info->subject_len);
    ne_json_kv_u64(o, "seq", info->seq);
    if (info->hdr_len > 0) {
        stored_reader r = {&st->store, info->seq, 0};
        ne_json_key(o, "hdrs");
        ne_json_base64(o, read_stored, &r, info->hdr_len);
    }
    if (info->data_len > 0) {
        stored_reader r = {&st->store, info->seq, info->hdr_len};
        ne_json_key(o, "data");
        ne_json_base64(o, read_stored, &r, info->data_len);
    }
    ne_js_write_time(o, "time", info->ts_ns);
    ne_json_end_object(o);
}

static void api_msg_get(api_call *c, ne_slice name)
{
    ne_js *js = c->js;
    c->type = "stream_msg_get";
    if (empty_request(c)) {
        fail(c, NE_JS_ERR_BAD_REQUEST);
        return;
    }
    if (!parse_body(c)) {
        return;
    }
    _Static_assert(sizeof(msg_request) < sizeof(js->inbound), "request scratch");
    msg_request *r = (msg_request *)(void *)js->inbound;
    memset(r, 0, sizeof(*r));
    if (!read_msg_request(c, r)) {
        fail(c, NE_JS_ERR_INVALID_JSON);
        return;
    }
    if ((r->seq > 0 && r->last_len > 0) || (r->seq == 0 && r->last_len == 0 && r->next_len == 0)) {
        fail(c, NE_JS_ERR_BAD_REQUEST);
        return;
    }
    ne_js_stream *st = ne_js_stream_find(c->a, name);
    if (st == NULL) {
        fail(c, NE_JS_ERR_STREAM_NOT_FOUND);
        return;
    }
    ne_js_msg_info info;
    if (find_msg(js, st, r, &info) != NE_OK) {
        fail(c, NE_JS_ERR_NO_MESSAGE_FOUND);
        return;
    }
    c->st = st;
    c->info = &info;
    c->fields = msg_get_fields;
    respond(c);
}

/* STREAM.MSG.DELETE.<name>: {"seq", "no_erase"}. */
static void api_msg_delete(api_call *c, ne_slice name)
{
    ne_js *js = c->js;
    c->type = "stream_msg_delete";
    if (empty_request(c)) {
        fail(c, NE_JS_ERR_BAD_REQUEST);
        return;
    }
    if (!parse_body(c)) {
        return;
    }
    uint64_t seq = 0;
    bool no_erase = false;
    if (js->doc.tokens[0].type != JSMN_OBJECT || !body_seq(c, 0, "seq", &seq) ||
        !body_bool(c, 0, "no_erase", &no_erase)) {
        fail(c, NE_JS_ERR_INVALID_JSON);
        return;
    }
    ne_js_stream *st = ne_js_stream_find(c->a, name);
    if (st == NULL) {
        fail(c, NE_JS_ERR_STREAM_NOT_FOUND);
        return;
    }
    if (st->cfg.sealed) {
        fail(c, NE_JS_ERR_STREAM_SEALED);
        return;
    }
    if (st->cfg.deny_delete) {
        ne_js_error_set(&c->err, NE_JS_ERR_STREAM_MSG_DELETE_FAILED, "%s",
                        "message delete not permitted");
        respond(c);
        return;
    }
    if (ne_js_stream_remove(js, st, seq, !no_erase) != NE_OK) {
        ne_js_error_set(&c->err, NE_JS_ERR_SEQUENCE_NOT_FOUND, "%llu", (unsigned long long)seq);
        respond(c);
        return;
    }
    ne_js_wake(js, c->a);
    c->fields = success_fields;
    respond(c);
}

static void direct_status(api_call *c, const char *status)
{
    char hdr[64];
    size_t n = ne_fmt(hdr, sizeof(hdr), "NATS/1.0 %s\r\n\r\n", status);
    (void)ne_js_send(c->js, c->a, c->reply, (ne_slice){"", 0}, hdr, (uint32_t)n, NULL, 0);
}

/* DIRECT.GET.<name> with a request, or DIRECT.GET.<name>.<subject> for the
 * subject's last message: the message itself with Nats-Stream,
 * Nats-Subject, Nats-Sequence and Nats-Time-Stamp headers (JS-11). */
static void api_direct_get(api_call *c, ne_slice name, ne_slice last_subject)
{
    ne_js *js = c->js;
    if (c->reply.len == 0) {
        return;
    }
    ne_js_stream *st = ne_js_stream_find(c->a, name);
    if (st == NULL || !st->cfg.allow_direct) {
        return; /* not subscribed in nats-server: the requester times out */
    }
    msg_request *r = (msg_request *)(void *)js->inbound;
    memset(r, 0, sizeof(*r));
    if (last_subject.len > 0) {
        if (c->body.len != 0) {
            direct_status(c, "408 Bad Request");
            return;
        }
        if (last_subject.len >= sizeof(r->last_for)) {
            direct_status(c, "404 Message Not Found");
            return;
        }
        memcpy(r->last_for, last_subject.ptr, last_subject.len);
        r->last_len = last_subject.len;
    } else {
        if (c->body.len == 0) {
            direct_status(c, "408 Empty Request");
            return;
        }
        if (c->cut) {
            direct_status(c, "408 Bad Request"); /* larger than NE_JS_API_REQUEST_BYTES */
            return;
        }
        ne_slice body = is_null(c->body) ? (ne_slice){"{}", 2} : c->body;
        if (ne_json_parse(&js->doc, body.ptr, body.len) != NE_OK || !read_msg_request(c, r)) {
            direct_status(c, "408 Malformed Request");
            return;
        }
        if (r->seq == 0 && r->last_len == 0 && r->next_len == 0) {
            direct_status(c, "408 Empty Request");
            return;
        }
        if ((r->seq > 0 && r->last_len > 0) || (r->last_len > 0 && r->next_len > 0)) {
            direct_status(c, "408 Bad Request");
            return;
        }
    }
    ne_js_msg_info info;
    if (find_msg(js, st, r, &info) != NE_OK) {
        direct_status(c, "404 Message Not Found");
        return;
    }
    char extra[NE_JS_NAME_BYTES + NE_MAX_CONTROL_LINE_BYTES + 128];
    ne_strbuf sb;
    ne_strbuf_init(&sb, extra, sizeof(extra));
    ne_strbuf_printf(&sb, "Nats-Stream: %s\r\nNats-Subject: %.*s\r\nNats-Sequence: %llu\r\n",
                     ne_js_stream_name(js, st), (int)info.subject_len, info.subject,
                     (unsigned long long)info.seq);
    ne_strbuf_puts(&sb, "Nats-Time-Stamp: ");
    ne_time_rfc3339(&sb, info.ts_ns);
    ne_strbuf_puts(&sb, "\r\n");
    if (sb.truncated) {
        return;
    }
    uint32_t bytes = 0;
    (void)ne_js_send_stored(js, c->a, st, &info, c->reply, (ne_slice){"", 0}, (ne_slice){"", 0},
                            extra, (uint32_t)sb.len, false, &bytes);
}

/* ---- Clustering requests (one server: nats-server's answer without a cluster) ---- */

static void api_cluster_only(api_call *c, const char *type)
{
    c->type = type;
    fail(c, NE_JS_ERR_CLUSTER_REQUIRED);
}

/* ---- Dispatch ---------------------------------------------------------------------------- */

static void api_consumer(api_call *c, ne_slice rest);

void ne_js_api_request(ne_js *js, ne_js_account *a, ne_slice rest, ne_slice reply, ne_slice body,
                       bool cut)
{
    api_call c;
    memset(&c, 0, sizeof(c));
    c.js = js;
    c.a = a;
    c.reply = reply;
    c.body = body;
    c.cut = cut;
    ne_js_error_clear(&c.err);
    uint32_t n = token_count(rest);
    ne_slice t0 = token(rest, 0), t1 = token(rest, 1);
    if (ne_slice_eq(rest, "INFO", 4)) {
        api_info(&c);
    } else if (ne_slice_eq(t0, "STREAM", 6)) {
        ne_slice name = token(rest, 2);
        if (ne_slice_eq(t1, "CREATE", 6) && n == 3) {
            api_stream_create(&c, name, false);
        } else if (ne_slice_eq(t1, "UPDATE", 6) && n == 3) {
            api_stream_create(&c, name, true);
        } else if (ne_slice_eq(t1, "DELETE", 6) && n == 3) {
            api_stream_delete(&c, name);
        } else if (ne_slice_eq(t1, "INFO", 4) && n == 3) {
            api_stream_info(&c, name);
        } else if (ne_slice_eq(t1, "NAMES", 5) && n == 2) {
            api_stream_names(&c, false);
        } else if (ne_slice_eq(t1, "LIST", 4) && n == 2) {
            api_stream_names(&c, true);
        } else if (ne_slice_eq(t1, "PURGE", 5) && n == 3) {
            api_stream_purge(&c, name);
        } else if (ne_slice_eq(t1, "MSG", 3) && n == 4 && ne_slice_eq(name, "GET", 3)) {
            api_msg_get(&c, token(rest, 3));
        } else if (ne_slice_eq(t1, "MSG", 3) && n == 4 && ne_slice_eq(name, "DELETE", 6)) {
            api_msg_delete(&c, token(rest, 3));
        } else if (ne_slice_eq(t1, "LEADER", 6) && n == 4) {
            api_cluster_only(&c, "stream_leader_stepdown");
        } else if (ne_slice_eq(t1, "PEER", 4) && n == 4) {
            api_cluster_only(&c, "stream_remove_peer");
        }
    } else if (ne_slice_eq(t0, "DIRECT", 6) && ne_slice_eq(t1, "GET", 3) && n >= 3) {
        api_direct_get(&c, token(rest, 2), n > 3 ? after_tokens(rest, 3) : (ne_slice){"", 0});
    } else if (ne_slice_eq(t0, "CONSUMER", 8)) {
        api_consumer(&c, rest);
    } else if (ne_slice_eq(rest, "META.LEADER.STEPDOWN", 20)) {
        api_cluster_only(&c, "meta_leader_stepdown");
    } else if (ne_slice_eq(rest, "SERVER.REMOVE", 13)) {
        api_cluster_only(&c, "meta_server_remove");
    }
}

/* ---- Consumers ------------------------------------------------------------------------------ */

static void consumer_info_fields(api_call *c, ne_json_out *o)
{
    ne_js_consumer_write_info(c->js, o, c->con);
}

/* CONSUMER.CREATE.<stream>[.<consumer>[.<filter>]] and
 * CONSUMER.DURABLE.CREATE.<stream>.<durable> (JS-12). */
static void api_consumer_create(api_call *c, ne_slice rest)
{
    ne_js *js = c->js;
    c->type = "consumer_create";
    uint32_t n = token_count(rest);
    bool legacy_durable = ne_slice_eq(token(rest, 1), "DURABLE", 7);
    ne_slice stream, name = {"", 0}, filter = {"", 0};
    if (legacy_durable) {
        if (n != 5) {
            fail(c, NE_JS_ERR_CONSUMER_DURABLE_NOT_IN_SUBJ);
            return;
        }
        stream = token(rest, 3);
        name = token(rest, 4);
    } else {
        stream = token(rest, 2);
        if (n >= 4) {
            name = token(rest, 3);
        }
        if (n > 4) {
            filter = after_tokens(rest, 4);
        }
    }
    if (!parse_body(c)) {
        return;
    }
    if (js->doc.tokens[0].type != JSMN_OBJECT) {
        fail(c, NE_JS_ERR_INVALID_JSON);
        return;
    }
    char stream_name[NE_JS_NAME_BYTES];
    size_t stream_len = 0;
    if (!body_string(c, 0, "stream_name", stream_name, sizeof(stream_name), &stream_len)) {
        fail(c, ne_json_check(&js->doc, 0, "stream_name", NE_JSON_STRING) == NE_OK
                    ? NE_JS_ERR_STREAM_MISMATCH
                    : NE_JS_ERR_INVALID_JSON);
        return;
    }
    int cfg_tok = ne_json_find(&js->doc, 0, "config");
    ne_js_consumer_cfg *cfg = &js->consumer_cfg;
    if (cfg_tok >= 0 && js->doc.tokens[cfg_tok].type == JSMN_PRIMITIVE &&
        ne_json_token_eq(&js->doc, cfg_tok, "null")) {
        cfg_tok = -1;
    }
    if (cfg_tok < 0) {
        ne_js_consumer_cfg_init(cfg);
    } else if (!ne_js_consumer_cfg_parse(js, &js->doc, cfg_tok, cfg, &c->err)) {
        respond(c);
        return;
    }
    ne_js_err err = NE_JS_OK;
    if (!ne_slice_eq(stream, stream_name, stream_len)) {
        err = NE_JS_ERR_STREAM_MISMATCH;
    } else if (name.len > 0 && ne_js_has_path_separator(name.ptr, name.len)) {
        err = NE_JS_ERR_CONSUMER_NAME_PATH_SEPARATORS;
    } else if (legacy_durable && !cfg->durable) {
        err = NE_JS_ERR_CONSUMER_DURABLE_NOT_SET;
    } else if (legacy_durable && !ne_slice_eq(name, cfg->name, strlen(cfg->name))) {
        err = NE_JS_ERR_CONSUMER_DURABLE_MISMATCH;
    } else if (!legacy_durable && name.len > 0 && cfg->durable &&
               !ne_slice_eq(name, cfg->name, strlen(cfg->name))) {
        err = NE_JS_ERR_CONSUMER_DURABLE_MISMATCH;
    } else if (!legacy_durable && name.len == 0 && cfg->durable) {
        err = NE_JS_ERR_CONSUMER_EPHEMERAL_WITH_DURABLE;
    } else if (filter.len > 0 &&
               !ne_slice_eq(ne_js_text_get(js, cfg->filter), filter.ptr, filter.len)) {
        err = NE_JS_ERR_CONSUMER_CREATE_FILTER_MISMATCH;
    } else if (cfg->replicas > 1) {
        err = NE_JS_ERR_STREAM_REPLICAS_NOT_SUPPORTED;
    } else if (name.len >= sizeof(cfg->name)) {
        ne_js_error_set(&c->err, NE_JS_ERR_CONSUMER_NAME_TOO_LONG, "%u",
                        (unsigned)NE_JS_MAX_NAME_LEN);
        err = NE_JS_ERR_CONSUMER_NAME_TOO_LONG;
    }
    if (err != NE_JS_OK) {
        ne_js_consumer_cfg_release(js, cfg);
        if (c->err.err == NE_JS_OK) {
            ne_js_error_set(&c->err, err, "%s", "");
        }
        respond(c);
        return;
    }
    if (!legacy_durable && name.len > 0) {
        /* The name in the subject is the consumer's (nats-server sets it). */
        memcpy(cfg->name, name.ptr, name.len);
        cfg->name[name.len] = '\0';
        cfg->named = true;
        cfg->name_mismatch = false;
    }
    ne_js_stream *st = ne_js_stream_find(c->a, stream);
    if (st == NULL) {
        ne_js_consumer_cfg_release(js, cfg);
        fail(c, NE_JS_ERR_STREAM_NOT_FOUND);
        return;
    }
    bool created = false;
    ne_js_consumer *con = NULL;
    if (!ne_js_consumer_create(js, st, cfg, &con, &created, &c->err)) {
        ne_js_consumer_cfg_release(js, cfg);
        respond(c);
        return;
    }
    ne_js_consumer_cfg_release(js, cfg);
    c->con = con;
    c->fields = consumer_info_fields;
    respond(c);
    ne_js_wake(js, c->a);
}

static ne_js_consumer *next_consumer_by_name(ne_js_stream *st, const ne_js_consumer *prev)
{
    ne_js_consumer *best = NULL;
    uint32_t guard = 0;
    for (ne_js_consumer *con = st->consumers; con != NULL && guard++ < NE_JS_MAX_CONSUMERS;
         con = con->next) {
        if (prev != NULL && strcmp(con->name, prev->name) <= 0) {
            continue;
        }
        if (best == NULL || strcmp(con->name, best->name) < 0) {
            best = con;
        }
    }
    return best;
}

static void consumer_names_fields(api_call *c, ne_json_out *o)
{
    bool list = strcmp(c->type, "consumer_list") == 0;
    uint64_t limit = list ? LIST_LIMIT : NAMES_LIMIT;
    ne_json_kv_u64(o, "total", c->total);
    ne_json_kv_u64(o, "offset", c->offset);
    ne_json_kv_u64(o, "limit", limit);
    ne_json_key(o, "consumers");
    ne_json_begin_array(o);
    const ne_js_consumer *con = NULL;
    uint64_t i = 0, written = 0;
    for (uint32_t guard = 0; guard < NE_JS_MAX_CONSUMERS; guard++) {
        con = next_consumer_by_name(c->st, con);
        if (con == NULL || written >= limit) {
            break;
        }
        if (con->cfg.direct) {
            continue; /* a mirror's or source's: not listed, as nats-server */
        }
        if (i++ < c->offset) {
            continue;
        }
        written++;
        if (list) {
            ne_json_begin_object(o);
            ne_js_consumer_write_info(c->js, o, (ne_js_consumer *)con);
            ne_json_end_object(o);
        } else {
            ne_json_cstring(o, con->name);
        }
    }
    ne_json_end_array(o);
}

static void api_consumer_names(api_call *c, ne_slice stream, bool list)
{
    ne_js *js = c->js;
    c->type = list ? "consumer_list" : "consumer_names";
    c->paged = true;
    c->list = "consumers";
    if (!empty_request(c)) {
        if (!parse_body(c)) {
            return;
        }
        if (js->doc.tokens[0].type != JSMN_OBJECT || !body_u64(c, 0, "offset", &c->offset)) {
            fail(c, NE_JS_ERR_INVALID_JSON);
            return;
        }
    }
    ne_js_stream *st = ne_js_stream_find(c->a, stream);
    if (st == NULL) {
        fail(c, NE_JS_ERR_STREAM_NOT_FOUND);
        return;
    }
    c->st = st;
    c->total = ne_js_public_consumers(st);
    if (c->offset > c->total) {
        c->offset = c->total;
    }
    c->fields = consumer_names_fields;
    respond(c);
}

static void api_consumer(api_call *c, ne_slice rest)
{
    uint32_t n = token_count(rest);
    ne_slice t1 = token(rest, 1);
    ne_slice stream = token(rest, 2);
    if (ne_slice_eq(t1, "CREATE", 6) && n >= 3) {
        api_consumer_create(c, rest);
        return;
    }
    if (ne_slice_eq(t1, "DURABLE", 7) && ne_slice_eq(token(rest, 2), "CREATE", 6) && n >= 4) {
        api_consumer_create(c, rest);
        return;
    }
    if (ne_slice_eq(t1, "NAMES", 5) && n == 3) {
        api_consumer_names(c, stream, false);
        return;
    }
    if (ne_slice_eq(t1, "LIST", 4) && n == 3) {
        api_consumer_names(c, stream, true);
        return;
    }
    if (ne_slice_eq(t1, "LEADER", 6) && n == 5) {
        api_cluster_only(c, "consumer_leader_stepdown");
        return;
    }
    if (ne_slice_eq(t1, "MSG", 3) && ne_slice_eq(token(rest, 2), "NEXT", 4) && n == 5) {
        ne_js_stream *st = ne_js_stream_find(c->a, token(rest, 3));
        ne_js_consumer *con = st != NULL ? ne_js_consumer_find(st, token(rest, 4)) : NULL;
        if (con != NULL) {
            ne_js_consumer_next_request(c->js, con, c->reply, c->body, c->cut);
        }
        return;
    }
    bool info = ne_slice_eq(t1, "INFO", 4), del = ne_slice_eq(t1, "DELETE", 6);
    if ((!info && !del) || n != 4) {
        return;
    }
    c->type = info ? "consumer_info" : "consumer_delete";
    if (!empty_request(c)) {
        fail(c, NE_JS_ERR_NOT_EMPTY_REQUEST);
        return;
    }
    ne_js_stream *st = ne_js_stream_find(c->a, stream);
    if (st == NULL) {
        fail(c, NE_JS_ERR_STREAM_NOT_FOUND);
        return;
    }
    ne_js_consumer *con = ne_js_consumer_find(st, token(rest, 3));
    if (con == NULL) {
        fail(c, NE_JS_ERR_CONSUMER_NOT_FOUND);
        return;
    }
    if (del) {
        ne_js_consumer_delete(c->js, con, true);
        c->fields = success_fields;
    } else {
        c->con = con;
        c->fields = consumer_info_fields;
    }
    respond(c);
}

#endif /* NE_FEATURE_JETSTREAM */
